/* The IEEE 11073-20601 manager (ieee11073.h): association, configuration, scan reports, the
 * MDS attributes, the PM-store segment transfer, release. Pure. Protocol notes and sources:
 * firmware/doc/ieee11073.md. */
#include "ieee11073.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MMHG_PER_KPA 7.50062

const uint8_t fw_phd_manager_id[8] = {'m', 'o', 'k', 'i', 't', 0x00, 0x00, 0x01};

enum {
    CH_EVENT_REPORT = 0x0100,
    CH_CONFIRMED_EVENT_REPORT = 0x0101,
    CH_GET = 0x0103,
    CH_CONFIRMED_ACTION = 0x0107,
    CH_RORS_CONFIRMED_EVENT_REPORT = 0x0201,
    CH_RORS_GET = 0x0203,
    CH_RORS_CONFIRMED_ACTION = 0x0207,
    CH_ROER = 0x0300,
    CH_RORJ = 0x0400,
};

/* ---- reading and writing MDER ---- */

struct rd {
    const uint8_t *p;
    size_t n, off;
    bool bad;
};

static const uint8_t *rbytes(struct rd *r, size_t k)
{
    if (r->bad || r->n - r->off < k) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += k;
    return p;
}

static uint16_t r16(struct rd *r)
{
    const uint8_t *b = rbytes(r, 2);
    return b ? fw_mder_u16(b) : 0;
}

static uint32_t r32(struct rd *r)
{
    const uint8_t *b = rbytes(r, 4);
    return b ? fw_mder_u32(b) : 0;
}

/* A u16 length followed by that many bytes, as a reader of its own. */
static struct rd rsub(struct rd *r)
{
    size_t len = r16(r);
    const uint8_t *p = rbytes(r, len);
    struct rd s = {.p = p, .n = p ? len : 0, .bad = p == NULL};
    return s;
}

struct wr {
    uint8_t *p;
    size_t cap, n;
    bool bad;
};

static void w16(struct wr *w, unsigned v)
{
    if (w->bad || w->cap - w->n < 2) {
        w->bad = true;
        return;
    }
    w->p[w->n++] = (uint8_t)(v >> 8);
    w->p[w->n++] = (uint8_t)v;
}

static void w32(struct wr *w, uint32_t v)
{
    w16(w, v >> 16);
    w16(w, v & 0xffff);
}

static void wbytes(struct wr *w, const uint8_t *b, size_t k)
{
    if (w->bad || w->cap - w->n < k) {
        w->bad = true;
        return;
    }
    if (k)
        memcpy(w->p + w->n, b, k);
    w->n += k;
}

static void say(struct fw_phd *s, struct fw_decoded *out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct fw_phd *s, struct fw_decoded *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->status, sizeof s->status, fmt, ap);
    va_end(ap);
    out->status = s->status;
}

/* ---- standard configurations ---- */

static void std_obj(struct fw_phd_config *c, uint16_t handle, uint16_t type, uint16_t unit,
                    uint16_t value_attr, uint16_t value_len)
{
    struct fw_phd_obj *o = &c->objs[c->nobjs++];
    memset(o, 0, sizeof *o);
    o->cls = FW_MDC_MOC_VMO_METRIC_NU;
    o->handle = handle;
    o->type = type;
    o->unit = unit;
    o->map_id[0] = value_attr;
    o->map_len[0] = value_len;
    o->map_id[1] = FW_MDC_ATTR_TIME_STAMP_ABS;
    o->map_len[1] = 8;
    o->nmap = 2;
}

bool fw_phd_standard_config(uint16_t id, struct fw_phd_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->id = id;
    switch (id) {
    case 0x02bc: /* blood pressure monitor (10407): sys/dia/mean, pulse; with time stamps */
        std_obj(cfg, 1, FW_MDC_PRESS_BLD_NONINV, FW_MDC_DIM_MMHG, FW_MDC_ATTR_NU_CMPD_VAL_OBS_BASIC,
                10);
        cfg->objs[0].physio[0] = FW_MDC_PRESS_BLD_NONINV_SYS;
        cfg->objs[0].physio[1] = FW_MDC_PRESS_BLD_NONINV_DIA;
        cfg->objs[0].physio[2] = FW_MDC_PRESS_BLD_NONINV_MEAN;
        cfg->objs[0].nphysio = 3;
        std_obj(cfg, 2, FW_MDC_PULS_RATE_NON_INV, FW_MDC_DIM_BEAT_PER_MIN,
                FW_MDC_ATTR_NU_VAL_OBS_BASIC, 2);
        return true;
    case 0x05dc: /* weighing scale (10415): body mass as FLOAT, kg */
        std_obj(cfg, 1, FW_MDC_MASS_BODY_ACTUAL, FW_MDC_DIM_KILO_G, FW_MDC_ATTR_NU_VAL_OBS_SIMP, 4);
        return true;
    case 0x06a4: /* glucose meter (10417): capillary whole blood, mg/dL */
        std_obj(cfg, 1, FW_MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD, FW_MDC_DIM_MILLI_G_PER_DL,
                FW_MDC_ATTR_NU_VAL_OBS_BASIC, 2);
        return true;
    }
    return false;
}

/* ---- association ---- */

int fw_phd_associate(struct fw_phd *s, const uint8_t *body, size_t n, uint8_t *out, size_t cap,
                     size_t *out_len, enum fw_phd_assoc *result, uint16_t *config_id)
{
    struct rd r = {.p = body, .n = n};
    uint32_t assoc_version = r32(&r);
    uint16_t count = r16(&r);
    r16(&r); /* the list's length */
    if (r.bad)
        return FW_EINVAL;
    enum fw_phd_assoc res = FW_PHD_REJECTED_NO_COMMON_PROTOCOL;
    uint32_t version = 0;
    uint16_t cfg_id = 0;
    uint8_t sysid[8] = {0};
    for (unsigned i = 0; i < count && !r.bad; i++) {
        uint16_t proto = r16(&r);
        struct rd info = rsub(&r);
        if (r.bad)
            return FW_EINVAL;
        if (proto != FW_PHD_PROTO_ID)
            continue;
        uint32_t pv = r32(&info);
        uint16_t enc = r16(&info);
        r32(&info); /* nomenclature version */
        r32(&info); /* functional units */
        r32(&info); /* system type */
        struct rd id = rsub(&info);
        cfg_id = r16(&info);
        if (info.bad)
            return FW_EINVAL;
        memcpy(sysid, id.p, id.n < 8 ? id.n : 8);
        /* BITS-32: bit 0 is the most significant; protocol versions 1-3 are bits 0-2. */
        version = pv & 0x20000000 ? 0x20000000 : pv & 0x40000000 ? 0x40000000 : pv & 0x80000000;
        if (!version)
            res = FW_PHD_REJECTED_NO_COMMON_PROTOCOL;
        else if (!(enc & 0x8000)) /* MDER */
            res = FW_PHD_REJECTED_NO_COMMON_PARAMETER;
        else
            res = FW_PHD_ACCEPTED_UNKNOWN_CONFIG;
        break;
    }
    if (!(assoc_version & 0x80000000))
        res = FW_PHD_REJECTED_UNSUPPORTED_ASSOC_VERSION;
    if (res == FW_PHD_ACCEPTED_UNKNOWN_CONFIG) {
        if (fw_phd_standard_config(cfg_id, &s->cfg)) {
            res = FW_PHD_ACCEPTED;
        } else if (s->have_known && s->known.id == cfg_id && memcmp(s->system_id, sysid, 8) == 0) {
            s->cfg = s->known; /* the agent's own configuration, sent before */
            res = FW_PHD_ACCEPTED;
        }
        memcpy(s->system_id, sysid, 8);
    }
    struct wr w = {.p = out, .cap = cap};
    bool ok = res == FW_PHD_ACCEPTED || res == FW_PHD_ACCEPTED_UNKNOWN_CONFIG;
    w16(&w, FW_APDU_AARE);
    w16(&w, ok ? 44 : 6);
    w16(&w, res);
    w16(&w, ok ? FW_PHD_PROTO_ID : 0);
    if (ok) {
        w16(&w, 38);
        w32(&w, version);
        w16(&w, 0x8000);     /* MDER */
        w32(&w, 0x80000000); /* nomenclature version 1 */
        w32(&w, 0);          /* functional units */
        w32(&w, 0x80000000); /* system type: manager */
        w16(&w, 8);
        wbytes(&w, fw_phd_manager_id, 8);
        w16(&w, 0); /* dev-config-id: 0 from a manager */
        w16(&w, 0); /* data-req-mode-capab */
        w16(&w, 0);
        w16(&w, 0); /* option list: empty */
        w16(&w, 0);
    } else {
        w16(&w, 0); /* no data protocol chosen */
    }
    if (w.bad)
        return FW_EINVAL;
    *out_len = w.n;
    *result = res;
    *config_id = cfg_id;
    return FW_OK;
}

/* ---- configuration ---- */

int fw_phd_config_parse(const uint8_t *p, size_t n, struct fw_phd_config *cfg, char *why,
                        size_t whylen)
{
    struct rd r = {.p = p, .n = n};
    memset(cfg, 0, sizeof *cfg);
    cfg->id = r16(&r);
    uint16_t count = r16(&r);
    r16(&r);
    for (unsigned i = 0; i < count && !r.bad; i++) {
        uint16_t cls = r16(&r), handle = r16(&r), nattr = r16(&r);
        struct rd attrs = {.p = NULL};
        size_t alen = r16(&r);
        attrs.p = rbytes(&r, alen);
        attrs.n = attrs.p ? alen : 0;
        if (r.bad)
            break;
        if (cls == FW_MDC_MOC_VMO_PMSTORE && cfg->pm_stores < FW_PHD_MAX_PMSTORES)
            cfg->pm_handle[cfg->pm_stores] = handle;
        if (cls == FW_MDC_MOC_VMO_PMSTORE)
            cfg->pm_stores++;
        if (cls != FW_MDC_MOC_VMO_METRIC_NU)
            continue; /* enumerations, real-time arrays, PM-stores: not used */
        if (cfg->nobjs == FW_PHD_MAX_OBJS) {
            snprintf(why, whylen, "more than %d numeric objects", FW_PHD_MAX_OBJS);
            return FW_EINVAL;
        }
        struct fw_phd_obj *o = &cfg->objs[cfg->nobjs];
        memset(o, 0, sizeof *o);
        o->cls = cls;
        o->handle = handle;
        for (unsigned a = 0; a < nattr && !attrs.bad; a++) {
            uint16_t id = r16(&attrs);
            struct rd v = rsub(&attrs);
            if (attrs.bad)
                break;
            if (id == FW_MDC_ATTR_ID_TYPE) {
                r16(&v); /* partition */
                o->type = r16(&v);
            } else if (id == FW_MDC_ATTR_UNIT_CODE) {
                o->unit = r16(&v);
            } else if (id == FW_MDC_ATTR_ID_PHYSIO_LIST) {
                uint16_t k = r16(&v);
                r16(&v);
                for (unsigned j = 0; j < k && j < 3; j++)
                    o->physio[j] = r16(&v);
                o->nphysio = k < 3 ? k : 3;
            } else if (id == FW_MDC_ATTR_ATTRIBUTE_VAL_MAP) {
                uint16_t k = r16(&v);
                r16(&v);
                if (k > FW_PHD_MAX_MAP) {
                    snprintf(why, whylen, "object %u: a value map of %u attributes", handle, k);
                    return FW_EINVAL;
                }
                for (unsigned j = 0; j < k; j++) {
                    o->map_id[j] = r16(&v);
                    o->map_len[j] = r16(&v);
                }
                o->nmap = k;
            }
            if (v.bad) {
                snprintf(why, whylen, "object %u: attribute %u cut short", handle, id);
                return FW_EINVAL;
            }
        }
        if (attrs.bad) {
            snprintf(why, whylen, "object %u: its attribute list is cut short", handle);
            return FW_EINVAL;
        }
        if (!o->type) {
            snprintf(why, whylen, "object %u: no type", handle);
            return FW_EINVAL;
        }
        cfg->nobjs++;
    }
    if (r.bad) {
        snprintf(why, whylen, "the object list is cut short");
        return FW_EINVAL;
    }
    return FW_OK;
}

/* ---- observations ---- */

const char *fw_phd_kind(uint16_t type)
{
    switch (type) {
    case FW_MDC_PRESS_BLD_NONINV:
        return "bp";
    case FW_MDC_PULS_RATE_NON_INV:
    case FW_MDC_PULS_OXIM_PULS_RATE:
        return "pulse";
    case FW_MDC_PULS_OXIM_SAT_O2:
        return "spo2";
    case FW_MDC_MASS_BODY_ACTUAL:
        return "weight";
    case FW_MDC_LEN_BODY_ACTUAL:
        return "height";
    case FW_MDC_TEMP_BODY:
        return "temp";
    case FW_MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD:
    case FW_MDC_CONC_GLU_CAPILLARY_PLASMA:
    case FW_MDC_CONC_GLU_UNDETERMINED_WHOLEBLOOD:
    case FW_MDC_CONC_GLU_UNDETERMINED_PLASMA:
        return "glucose";
    }
    return NULL;
}

struct obs {
    uint16_t type, unit;
    double v[3];
    int nv;
    enum fw_mder_num special; /* a component was a special value */
    bool have_time, bad_time;
    struct fw_mder_time tm;
    uint16_t msmt; /* MeasurementStatus (MDC_ATTR_MSMT_STAT), 0 when not given */
    bool stored;   /* from the device's memory (a PM-segment entry) */
};

/* MeasurementStatus bits (BITS-16, bit 0 the most significant) that make an observation no
 * reading: invalid (0), not-available (2), test-data (4), demo-data (5). Questionable (1) and
 * the rest are kept. IEEE 11073-20601 MeasurementStatus. */
static const struct {
    uint16_t bit;
    const char *name;
} msmt_refused[] = {
    {0x8000, "invalid"},
    {0x2000, "not available"},
    {0x0800, "test data"},
    {0x0400, "demo data"},
};

/* (A function of its own: the value is read after the decoder has set it.) */
static void obs_number_raw(struct obs *o, enum fw_mder_num k, const double *value)
{
    double v = *value;
    if (k != FW_MDER_VALUE) {
        if (!o->special)
            o->special = k;
        v = NAN;
    }
    if (o->nv < 3)
        o->v[o->nv++] = v;
}

/* One attribute of an observation (a fixed report's mapped value or a variable report's AVA). */
static void obs_attr(struct obs *o, uint16_t id, const uint8_t *p, size_t len)
{
    struct rd r = {.p = p, .n = len};
    double v = 0;
    switch (id) {
    case FW_MDC_ATTR_NU_VAL_OBS_BASIC: {
        uint16_t raw = r16(&r);
        if (!r.bad)
            obs_number_raw(o, fw_mder_sfloat(raw, &v), &v);
        break;
    }
    case FW_MDC_ATTR_NU_VAL_OBS_SIMP: {
        uint32_t raw = r32(&r);
        if (!r.bad)
            obs_number_raw(o, fw_mder_float(raw, &v), &v);
        break;
    }
    case FW_MDC_ATTR_NU_CMPD_VAL_OBS_BASIC:
    case FW_MDC_ATTR_NU_CMPD_VAL_OBS_SIMP: {
        uint16_t k = r16(&r);
        r16(&r);
        for (unsigned i = 0; i < k && !r.bad; i++) {
            if (id == FW_MDC_ATTR_NU_CMPD_VAL_OBS_BASIC) {
                uint16_t raw = r16(&r);
                if (!r.bad)
                    obs_number_raw(o, fw_mder_sfloat(raw, &v), &v);
            } else {
                uint32_t raw = r32(&r);
                if (!r.bad)
                    obs_number_raw(o, fw_mder_float(raw, &v), &v);
            }
        }
        break;
    }
    case FW_MDC_ATTR_NU_VAL_OBS: { /* NuObsValue: metric-id, state, unit-code, FLOAT */
        uint16_t metric = r16(&r);
        r16(&r);
        uint16_t unit = r16(&r);
        uint32_t raw = r32(&r);
        if (r.bad)
            break;
        if (metric)
            o->type = metric;
        o->unit = unit;
        obs_number_raw(o, fw_mder_float(raw, &v), &v);
        break;
    }
    case FW_MDC_ATTR_TIME_STAMP_ABS:
        if (len == 8) {
            o->have_time = fw_mder_abs_time(p, &o->tm) == FW_OK;
            o->bad_time = !o->have_time;
        }
        break;
    case FW_MDC_ATTR_UNIT_CODE: {
        uint16_t u = r16(&r);
        if (!r.bad)
            o->unit = u;
        break;
    }
    case FW_MDC_ATTR_MSMT_STAT: {
        uint16_t m = r16(&r);
        if (!r.bad)
            o->msmt = m;
        break;
    }
    case FW_MDC_ATTR_ID_TYPE:
        r16(&r);
        if (!r.bad && (v = r16(&r), !r.bad))
            o->type = (uint16_t)v;
        break;
    default:
        break;
    }
}

/* A value in the kind's unit: false for a unit that is not one of the kind's. */
static bool convert(const char *kind, uint16_t unit, double *v)
{
    if (!strcmp(kind, "bp"))
        return unit == FW_MDC_DIM_MMHG || unit == 0 ||
               (unit == FW_MDC_DIM_KILO_PASCAL && (*v *= MMHG_PER_KPA, true));
    if (!strcmp(kind, "pulse"))
        return unit == FW_MDC_DIM_BEAT_PER_MIN || unit == 0;
    if (!strcmp(kind, "spo2"))
        return unit == FW_MDC_DIM_PERCENT || unit == 0;
    if (!strcmp(kind, "weight"))
        return unit == FW_MDC_DIM_KILO_G || (unit == FW_MDC_DIM_LB && (*v *= 0.45359237, true));
    if (!strcmp(kind, "height"))
        return unit == FW_MDC_DIM_CENTI_M || (unit == FW_MDC_DIM_INCH && (*v *= 2.54, true));
    if (!strcmp(kind, "temp"))
        return unit == FW_MDC_DIM_DEGC || (unit == FW_MDC_DIM_FAHR && (*v = (*v - 32) / 1.8, true));
    if (!strcmp(kind, "glucose"))
        return unit == FW_MDC_DIM_MILLI_MOLE_PER_L ||
               (unit == FW_MDC_DIM_MILLI_G_PER_DL && (*v /= FW_GLUCOSE_MGDL_PER_MMOLL, true));
    return false;
}

static const char *kind_unit(const char *kind)
{
    if (!strcmp(kind, "bp"))
        return "mm[Hg]";
    if (!strcmp(kind, "pulse"))
        return "/min";
    if (!strcmp(kind, "spo2"))
        return "%";
    if (!strcmp(kind, "weight"))
        return "kg";
    if (!strcmp(kind, "height"))
        return "cm";
    if (!strcmp(kind, "temp"))
        return "Cel";
    return "mmol/L";
}

static void queue_push(struct fw_phd *s, const struct fw_reading *r, struct fw_decoded *out)
{
    if (s->qn == FW_PHD_QUEUE) {
        say(s, out, "more than %d readings in one report: the rest were dropped", FW_PHD_QUEUE);
        return;
    }
    s->queue[(s->qhead + s->qn++) % FW_PHD_QUEUE] = *r;
}

static void queue_take(struct fw_phd *s, struct fw_decoded *out)
{
    while (s->qn && out->nreadings < FW_MAX_READINGS) {
        out->readings[out->nreadings++] = s->queue[s->qhead];
        s->qhead = (s->qhead + 1) % FW_PHD_QUEUE;
        s->qn--;
    }
    if (!s->qn)
        s->qhead = 0;
}

/* Turns one observation of object o into readings (queued). */
static void observe(struct fw_phd *s, const struct fw_phd_obj *o, struct obs *ob,
                    struct fw_decoded *out)
{
    uint16_t type = ob->type ? ob->type : o->type, unit = ob->unit ? ob->unit : o->unit;
    const char *kind = fw_phd_kind(type);
    if (!kind) {
        s->ignored++;
        for (int i = 0; i < 8; i++) {
            if (s->told[i] == type)
                return;
            if (!s->told[i]) {
                s->told[i] = type;
                say(s, out, "ignored an observation of code %u (not a kind mokit keeps)", type);
                return;
            }
        }
        return;
    }
    for (size_t i = 0; i < sizeof msmt_refused / sizeof msmt_refused[0]; i++) {
        if (ob->msmt & msmt_refused[i].bit) {
            say(s, out, "%s: the device marks it %s: not kept", kind, msmt_refused[i].name);
            return;
        }
    }
    if (ob->special || ob->nv == 0) {
        say(s, out, "%s: no value (%s)", kind,
            ob->nv ? fw_mder_num_name(ob->special) : "none given");
        return;
    }
    if (ob->stored && !ob->have_time) { /* "now" would be wrong for a result from memory */
        say(s, out, "%s: a result from the device's memory without a %s: not kept", kind,
            ob->bad_time ? "valid date" : "date");
        return;
    }
    struct fw_reading r = {
        .kind = kind, .unit = kind_unit(kind), .value2 = NAN, .value3 = NAN, .stored = ob->stored};
    if (!strcmp(kind, "bp")) {
        double sys = NAN, dia = NAN, mean = NAN;
        for (int i = 0; i < ob->nv; i++) {
            uint16_t what =
                o->nphysio > i ? o->physio[i] : (uint16_t)(FW_MDC_PRESS_BLD_NONINV_SYS + i);
            double v = ob->v[i];
            if (!convert(kind, unit, &v))
                goto bad_unit;
            if (what == FW_MDC_PRESS_BLD_NONINV_SYS)
                sys = v;
            else if (what == FW_MDC_PRESS_BLD_NONINV_DIA)
                dia = v;
            else if (what == FW_MDC_PRESS_BLD_NONINV_MEAN)
                mean = v;
        }
        if (isnan(sys) || isnan(dia)) {
            say(s, out, "blood pressure without systolic and diastolic values");
            return;
        }
        r.value = sys;
        r.value2 = dia;
        r.value3 = mean;
    } else {
        r.value = ob->v[0];
        if (!convert(kind, unit, &r.value))
            goto bad_unit;
    }
    if (!isfinite(r.value)) {
        say(s, out, "%s: not a finite value", kind);
        return;
    }
    if (ob->have_time) {
        r.device_time = fw_civil_seconds(ob->tm.year, ob->tm.month, ob->tm.day, ob->tm.hour,
                                         ob->tm.minute, ob->tm.second);
        r.clock_local = true;
    } else if (ob->bad_time) {
        say(s, out, "%s: a time stamp that is not a date (kept as taken now)", kind);
    }
    queue_push(s, &r, out);
    return;
bad_unit:
    say(s, out, "%s in unit code %u: not a unit mokit converts", kind, unit);
}

static const struct fw_phd_obj *find_obj(const struct fw_phd *s, uint16_t handle)
{
    for (int i = 0; i < s->cfg.nobjs; i++)
        if (s->cfg.objs[i].handle == handle)
            return &s->cfg.objs[i];
    return NULL;
}

/* ObservationScanFixed entries (count, length, {handle, octet string}). */
static bool scan_fixed(struct fw_phd *s, struct rd *r, struct fw_decoded *out)
{
    uint16_t count = r16(r);
    r16(r);
    for (unsigned i = 0; i < count && !r->bad; i++) {
        uint16_t handle = r16(r);
        struct rd v = rsub(r);
        if (r->bad)
            break;
        const struct fw_phd_obj *o = find_obj(s, handle);
        if (!o) {
            say(s, out, "a report for object %u, not in the configuration", handle);
            continue;
        }
        struct obs ob = {0};
        for (int m = 0; m < o->nmap && !v.bad; m++) {
            const uint8_t *p = rbytes(&v, o->map_len[m]);
            if (p)
                obs_attr(&ob, o->map_id[m], p, o->map_len[m]);
        }
        if (v.bad) {
            say(s, out, "object %u: a fixed report shorter than its value map", handle);
            continue;
        }
        observe(s, o, &ob, out);
    }
    return !r->bad;
}

/* ObservationScan entries (count, length, {handle, attribute list}). */
static bool scan_var(struct fw_phd *s, struct rd *r, struct fw_decoded *out)
{
    uint16_t count = r16(r);
    r16(r);
    for (unsigned i = 0; i < count && !r->bad; i++) {
        uint16_t handle = r16(r), nattr = r16(r);
        struct rd attrs = rsub(r);
        if (r->bad)
            break;
        const struct fw_phd_obj *o = find_obj(s, handle);
        if (!o) {
            say(s, out, "a report for object %u, not in the configuration", handle);
            continue;
        }
        struct obs ob = {0};
        for (unsigned a = 0; a < nattr && !attrs.bad; a++) {
            uint16_t id = r16(&attrs);
            struct rd v = rsub(&attrs);
            if (!attrs.bad)
                obs_attr(&ob, id, v.p, v.n);
        }
        if (attrs.bad) {
            say(s, out, "object %u: a variable report cut short", handle);
            continue;
        }
        observe(s, o, &ob, out);
    }
    return !r->bad;
}

static bool scan_report(struct fw_phd *s, uint16_t type, struct rd *r, struct fw_decoded *out)
{
    r16(r); /* data-req-id */
    r16(r); /* scan-report-no */
    if (type == FW_MDC_NOTI_SCAN_REPORT_FIXED)
        return scan_fixed(s, r, out);
    if (type == FW_MDC_NOTI_SCAN_REPORT_VAR)
        return scan_var(s, r, out);
    uint16_t persons = r16(r); /* multiple-person reports: person-id, then the entries */
    r16(r);
    for (unsigned i = 0; i < persons && !r->bad; i++) {
        r16(r);
        if (!(type == FW_MDC_NOTI_SCAN_REPORT_MP_FIXED ? scan_fixed(s, r, out)
                                                       : scan_var(s, r, out)))
            return false;
    }
    return !r->bad;
}

/* ---- the manager's messages ---- */

/* A PRST APDU around a DataApdu (invoke id, choice, content) into out->reply. */
static void prst(struct fw_decoded *out, uint16_t invoke, uint16_t choice, const uint8_t *content,
                 size_t len)
{
    struct wr w = {.p = out->reply + out->reply_len, .cap = sizeof out->reply - out->reply_len};
    w16(&w, FW_APDU_PRST);
    w16(&w, (unsigned)(len + 8));
    w16(&w, (unsigned)(len + 6));
    w16(&w, invoke);
    w16(&w, choice);
    w16(&w, (unsigned)len);
    wbytes(&w, content, len);
    if (!w.bad)
        out->reply_len += w.n;
}

/* The confirmation of an event report: EventReportResultSimple with reply info. */
static void confirm(struct fw_decoded *out, uint16_t invoke, uint16_t handle, uint16_t type,
                    const uint8_t *info, size_t len)
{
    uint8_t c[32];
    struct wr w = {.p = c, .cap = sizeof c};
    w16(&w, handle);
    w32(&w, 0); /* current time: the manager keeps no relative time */
    w16(&w, type);
    w16(&w, (unsigned)len);
    wbytes(&w, info, len);
    if (!w.bad)
        prst(out, invoke, CH_RORS_CONFIRMED_EVENT_REPORT, c, w.n);
}

static uint16_t next_invoke(struct fw_phd *s)
{
    s->invoke = s->invoke ? s->invoke : 1;
    return s->invoke++;
}

static void mds_get(struct fw_phd *s, struct fw_decoded *out)
{
    static const uint8_t all[6] = {0, 0, 0, 0, 0, 0}; /* object 0 (the MDS), every attribute */
    s->get_invoke = next_invoke(s);
    prst(out, s->get_invoke, CH_GET, all, sizeof all);
}

static const char *spec_name(uint16_t spec)
{
    switch (spec) {
    case 4100:
        return "pulse oximeter";
    case 4103:
        return "blood pressure monitor";
    case 4104:
        return "thermometer";
    case 4111:
        return "weighing scale";
    case 4113:
        return "glucose meter";
    }
    return NULL;
}

/* The MDS attributes: the device's clock, its model, what it is. */
static void mds_attributes(struct fw_phd *s, struct rd *r, struct fw_decoded *out)
{
    r16(r); /* obj-handle 0 */
    uint16_t count = r16(r);
    r16(r);
    char model[96] = "", what[64] = "";
    for (unsigned i = 0; i < count && !r->bad; i++) {
        uint16_t id = r16(r);
        struct rd v = rsub(r);
        if (r->bad)
            break;
        if (id == FW_MDC_ATTR_TIME_ABS && v.n == 8) {
            struct fw_mder_time tm;
            if (fw_mder_abs_time(v.p, &tm) == FW_OK) {
                out->device_clock =
                    fw_civil_seconds(tm.year, tm.month, tm.day, tm.hour, tm.minute, tm.second);
                out->device_clock_local = true;
            }
        } else if (id == FW_MDC_ATTR_ID_MODEL) { /* manufacturer, model number */
            struct rd a = rsub(&v), b = rsub(&v);
            if (!v.bad) {
                int an = (int)a.n, bn = (int)b.n;
                snprintf(model, sizeof model, "%.*s %.*s", an > 40 ? 40 : an, (const char *)a.p,
                         bn > 40 ? 40 : bn, (const char *)b.p);
                for (char *c = model; *c; c++)
                    if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
                        *c = *c ? '?' : *c;
            }
        } else if (id == FW_MDC_ATTR_SYS_TYPE_SPEC_LIST) {
            uint16_t k = r16(&v);
            r16(&v);
            for (unsigned j = 0; j < k && !v.bad; j++) {
                const char *name = spec_name(r16(&v));
                r16(&v); /* version */
                if (name && !what[0])
                    snprintf(what, sizeof what, "%s", name);
            }
        }
    }
    if (r->bad) {
        say(s, out, "the device's attributes were cut short");
        return;
    }
    say(s, out, "ready: %s%s%s; clock %s", model[0] ? model : "model not given",
        what[0] ? ", " : "", what, out->device_clock ? "read" : "not given");
}

/* ---- the PM-stores: the device's memory (IEEE 11073-20601 PM-store and PM-segment) ---- */

/* SegmEvtStatus bits (BITS-16, bit 0 the most significant). */
enum {
    SEVT_FIRST_ENTRY = 0x8000,
    SEVT_LAST_ENTRY = 0x4000,
    SEVT_AGENT_ABORT = 0x0800,
    SEVT_MANAGER_CONFIRM = 0x0080,
};

static uint16_t pm_handle(const struct fw_phd *s)
{
    return s->pm_store < FW_PHD_MAX_PMSTORES ? s->cfg.pm_handle[s->pm_store] : 0;
}

static int pm_count(const struct fw_phd *s)
{
    return s->cfg.pm_stores < FW_PHD_MAX_PMSTORES ? s->cfg.pm_stores : FW_PHD_MAX_PMSTORES;
}

/* Forgets the reading of the memory (a new association, an abort, a release). */
static void pm_reset(struct fw_phd *s)
{
    s->pm = FW_PHD_PM_IDLE;
    s->act_invoke = 0;
    s->nsegs = 0;
    s->seg = 0;
    s->pm_store = 0;
    s->seg_entries = 0;
    s->ev.confirm = false; /* an event still being queued is read, not confirmed */
    s->due = FW_PHD_SEND_NONE;
}

static void due(struct fw_phd *s, enum fw_phd_send what, double t)
{
    s->due = what;
    s->due_at = t;
}

/* After the MDS GET (answered or not): the first PM-store's segments, if it has one. */
static void pm_start(struct fw_phd *s, double t)
{
    if (!pm_count(s) || s->pm != FW_PHD_PM_IDLE)
        return;
    s->pm = FW_PHD_PM_INFO;
    s->pm_store = 0;
    s->pm_readings = 0;
    due(s, FW_PHD_SEND_SEG_INFO, t);
}

/* The next PM-store, or the release when all are read. */
static void pm_next_store(struct fw_phd *s, double t)
{
    s->nsegs = 0;
    s->seg = 0;
    if (++s->pm_store < pm_count(s)) {
        s->pm = FW_PHD_PM_INFO;
        due(s, FW_PHD_SEND_SEG_INFO, t);
        return;
    }
    s->pm = FW_PHD_PM_DONE;
    due(s, FW_PHD_SEND_RELEASE, t);
}

/* The segment being read is done (or refused): the next one. */
static void pm_next_segment(struct fw_phd *s, double t)
{
    s->seg_entries = 0;
    s->seg_readings = 0;
    if (++s->seg < s->nsegs) {
        s->pm = FW_PHD_PM_TRIG;
        due(s, FW_PHD_SEND_TRIG, t);
        return;
    }
    pm_next_store(s, t);
}

/* A confirmed action on the PM-store (ActionArgumentSimple): SEG_GET_INFO, SEG_TRIG_XFER. */
static void pm_action(struct fw_phd *s, struct fw_decoded *out, uint16_t type, const uint8_t *arg,
                      size_t len)
{
    uint8_t c[16];
    struct wr w = {.p = c, .cap = sizeof c};
    w16(&w, pm_handle(s));
    w16(&w, type);
    w16(&w, (unsigned)len);
    wbytes(&w, arg, len);
    s->act_invoke = next_invoke(s);
    if (!w.bad)
        prst(out, s->act_invoke, CH_CONFIRMED_ACTION, c, w.n);
}

static void seg_get_info(struct fw_phd *s, struct fw_decoded *out)
{
    /* SegmSelection: all-segments (choice 1, length 2, value 0) */
    static const uint8_t all[6] = {0x00, 0x01, 0x00, 0x02, 0x00, 0x00};
    pm_action(s, out, FW_MDC_ACT_SEG_GET_INFO, all, sizeof all);
    say(s, out, "reading the device's memory (PM-store %u)", pm_handle(s));
}

static void seg_trig_xfer(struct fw_phd *s, struct fw_decoded *out)
{
    uint16_t inst = s->segs[s->seg].inst; /* TrigSegmDataXferReq: the segment's instance */
    uint8_t arg[2] = {(uint8_t)(inst >> 8), (uint8_t)inst};
    pm_action(s, out, FW_MDC_ACT_SEG_TRIG_XFER, arg, sizeof arg);
}

/* A configuration object's unit (the entry map gives none); a glucose object without one is
 * taken as mg/dL, the unit Roche's meters send (Tidepool uploader). */
static void elem_unit(const struct fw_phd *s, struct fw_phd_elem *e)
{
    const struct fw_phd_obj *o = find_obj(s, e->handle);
    e->unit = o ? o->unit : 0;
    const char *kind = fw_phd_kind(e->type);
    if (!e->unit && kind && !strcmp(kind, "glucose"))
        e->unit = FW_MDC_DIM_MILLI_G_PER_DL;
}

/* PmSegmentEntryMap: the entry header bits, then the elements (class, metric type, handle,
 * attribute value map). FW_EINVAL with why for one mokit cannot read. */
static int seg_map(const struct fw_phd *s, struct rd *v, struct fw_phd_seg *sg, char *why,
                   size_t whylen)
{
    sg->header = r16(v);
    uint16_t k = r16(v);
    r16(v);
    if (v->bad)
        goto cut;
    if (sg->header & ~(FW_PHD_SEG_ABS_TIME | FW_PHD_SEG_REL_TIME | FW_PHD_SEG_HIRES_TIME)) {
        snprintf(why, whylen, "an entry header 0x%04x mokit does not know", sg->header);
        return FW_EINVAL;
    }
    if (k > FW_PHD_MAX_ELEMS) {
        snprintf(why, whylen, "%u elements per entry, more than %d", k, FW_PHD_MAX_ELEMS);
        return FW_EINVAL;
    }
    size_t size = (sg->header & FW_PHD_SEG_ABS_TIME ? 8 : 0) +
                  (sg->header & FW_PHD_SEG_REL_TIME ? 4 : 0) +
                  (sg->header & FW_PHD_SEG_HIRES_TIME ? 8 : 0);
    for (unsigned i = 0; i < k; i++) {
        struct fw_phd_elem *e = &sg->elems[i];
        memset(e, 0, sizeof *e);
        e->cls = r16(v);
        uint16_t partition = r16(v), code = r16(v);
        e->type = partition == FW_MDC_PART_SCADA ? code : 0;
        e->handle = r16(v);
        uint16_t n = r16(v);
        r16(v);
        if (v->bad)
            goto cut;
        if (n > FW_PHD_MAX_MAP) {
            snprintf(why, whylen, "a value map of %u attributes", n);
            return FW_EINVAL;
        }
        for (unsigned j = 0; j < n; j++) {
            e->map_id[j] = r16(v);
            e->map_len[j] = r16(v);
            size += e->map_len[j];
        }
        e->nmap = n;
        if (v->bad)
            goto cut;
        elem_unit(s, e);
    }
    sg->nelems = k;
    sg->entry_size = size;
    if (size == 0 || size > FW_PHD_MAX_APDU) {
        snprintf(why, whylen, "entries of %zu bytes", size);
        return FW_EINVAL;
    }
    return FW_OK;
cut:
    snprintf(why, whylen, "its entry map is cut short");
    return FW_EINVAL;
}

/* No entry map: the Accu-Chek's entries as Tidepool uploader reads segment 0: an absolute
 * time, an SFLOAT in mg/dL and a 2-byte status (12 bytes). */
static void seg_fallback(const struct fw_phd *s, struct fw_phd_seg *sg)
{
    struct fw_phd_elem *e = &sg->elems[0];
    memset(e, 0, sizeof *e);
    e->cls = FW_MDC_MOC_VMO_METRIC_NU;
    e->type = FW_MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD;
    for (int i = 0; i < s->cfg.nobjs; i++) { /* the configuration's glucose object, if any */
        const char *kind = fw_phd_kind(s->cfg.objs[i].type);
        if (kind && !strcmp(kind, "glucose")) {
            e->type = s->cfg.objs[i].type;
            e->handle = s->cfg.objs[i].handle;
            break;
        }
    }
    e->map_id[0] = FW_MDC_ATTR_NU_VAL_OBS_BASIC;
    e->map_len[0] = 2;
    e->map_id[1] = FW_MDC_ATTR_MSMT_STAT;
    e->map_len[1] = 2;
    e->nmap = 2;
    elem_unit(s, e);
    sg->header = FW_PHD_SEG_ABS_TIME;
    sg->nelems = 1;
    sg->entry_size = 12;
    sg->fallback = true;
}

/* Whether mokit keeps anything of a segment's entries, and they carry a date. NULL when it
 * does; else why not. */
static const char *seg_unread(const struct fw_phd_seg *sg)
{
    bool keep = false, dated = sg->header & FW_PHD_SEG_ABS_TIME;
    for (int i = 0; i < sg->nelems; i++) {
        keep |= fw_phd_kind(sg->elems[i].type) != NULL;
        for (int j = 0; j < sg->elems[i].nmap; j++)
            dated |= sg->elems[i].map_id[j] == FW_MDC_ATTR_TIME_STAMP_ABS;
    }
    if (!keep)
        return "nothing mokit keeps";
    if (!dated)
        return "entries without a date";
    if (sg->usage == 0)
        return "empty";
    return NULL;
}

/* The answer to SEG_GET_INFO: a SegmentInfoList (count, length, {instance, attribute list}).
 * The segments mokit can read and keeps something of go to s->segs; the whole list is checked
 * before any is used. */
static void seg_info(struct fw_phd *s, struct rd *r, double t, struct fw_decoded *out)
{
    uint16_t count = r16(r);
    r16(r);
    struct fw_phd_seg segs[FW_PHD_MAX_SEGS];
    int n = 0, unread = 0;
    long entries = 0; /* by the usage counts given */
    bool counted = false;
    bool fallback = false;
    char why[96] = "", first_why[120] = "";
    for (unsigned i = 0; i < count && !r->bad; i++) {
        uint16_t inst = r16(r), nattr = r16(r);
        struct rd attrs = rsub(r);
        if (r->bad)
            break;
        struct fw_phd_seg sg;
        memset(&sg, 0, sizeof sg);
        sg.inst = inst;
        sg.usage = -1;
        bool have_map = false;
        int rc = FW_OK;
        for (unsigned a = 0; a < nattr && !attrs.bad; a++) {
            uint16_t id = r16(&attrs);
            struct rd v = rsub(&attrs);
            if (attrs.bad)
                break;
            if (id == FW_MDC_ATTR_PM_SEG_MAP) {
                have_map = true;
                rc = seg_map(s, &v, &sg, why, sizeof why);
            } else if (id == FW_MDC_ATTR_SEG_USAGE_CNT) {
                uint32_t u = r32(&v);
                if (!v.bad)
                    sg.usage = u > FW_PHD_MAX_SEG_ENTRIES ? FW_PHD_MAX_SEG_ENTRIES + 1L : (long)u;
            } else if (id == FW_MDC_ATTR_PM_SEG_LABEL_STRING) {
                struct rd l = rsub(&v);
                int ln = l.bad ? 0 : (int)(l.n < sizeof sg.label ? l.n : sizeof sg.label - 1);
                for (int j = 0; j < ln; j++)
                    sg.label[j] = l.p[j] >= 0x20 && l.p[j] < 0x7f ? (char)l.p[j] : '?';
                while (ln && sg.label[ln - 1] == ' ')
                    sg.label[--ln] = 0;
            }
        }
        if (attrs.bad) {
            r->bad = true; /* a list cut short inside: none of it is used */
            break;
        }
        const char *no = NULL;
        if (rc != FW_OK)
            no = why;
        else if (!have_map && inst != 0)
            no = "no entry map";
        if (!no && !have_map)
            seg_fallback(s, &sg);
        if (!no)
            no = seg_unread(&sg);
        if (!no && n == FW_PHD_MAX_SEGS)
            no = "more segments than mokit reads";
        if (no) {
            if (!unread++)
                snprintf(first_why, sizeof first_why, "segment %u%s%s%s: %s", inst,
                         sg.label[0] ? " (" : "", sg.label, sg.label[0] ? ")" : "", no);
            continue;
        }
        fallback |= sg.fallback;
        counted |= sg.usage >= 0;
        entries += sg.usage > 0 ? sg.usage : 0;
        segs[n++] = sg;
    }
    if (r->bad) {
        say(s, out, "PM-store %u: its segment list was cut short: its results were not read",
            pm_handle(s));
        pm_next_store(s, t);
        return;
    }
    memcpy(s->segs, segs, (size_t)n * sizeof segs[0]);
    s->nsegs = n;
    s->seg = -1;
    char more[160] = "", total[32] = "";
    if (unread)
        snprintf(more, sizeof more, "; not read: %s%s", first_why, unread > 1 ? " and others" : "");
    if (counted)
        snprintf(total, sizeof total, " (%ld entries)", entries);
    say(s, out, "PM-store %u: %u segment%s, %d to read%s%s%s", pm_handle(s), count,
        count == 1 ? "" : "s", n, total, more,
        fallback ? "; segment 0 has no entry map: read as Accu-Chek entries (time, mg/dL, status)"
                 : "");
    pm_next_segment(s, t);
}

static const char *tsxr_name(uint16_t rsp)
{
    switch (rsp) {
    case 1:
        return "no such segment";
    case 2:
        return "try later (the device is clearing it)";
    case 3:
        return "the segment is empty";
    case 512:
        return "refused, no reason given";
    }
    return "an answer mokit does not know";
}

/* The answer to SEG_TRIG_XFER: TrigSegmDataXferRsp (instance, result). */
static void trig_rsp(struct fw_phd *s, struct rd *r, double t, struct fw_decoded *out)
{
    const struct fw_phd_seg *sg = &s->segs[s->seg];
    uint16_t inst = r16(r), rsp = r16(r);
    if (r->bad || inst != sg->inst) {
        say(s, out, "segment %u: the answer to its transfer is %s: not read", sg->inst,
            r->bad ? "cut short" : "for another segment");
        pm_next_segment(s, t);
        return;
    }
    if (rsp != 0) {
        say(s, out, "segment %u: transfer refused (%u, %s)", inst, rsp, tsxr_name(rsp));
        pm_next_segment(s, t);
        return;
    }
    s->pm = FW_PHD_PM_XFER;
    s->seg_entries = 0;
    s->seg_readings = 0;
    say(s, out, "segment %u%s%s%s: transfer started", inst, sg->label[0] ? " (" : "", sg->label,
        sg->label[0] ? ")" : "");
}

/* One entry of a segment: the header's time, then each element's attributes by its map. */
static void seg_entry(struct fw_phd *s, const struct fw_phd_seg *sg, const uint8_t *p,
                      struct fw_decoded *out)
{
    struct rd r = {.p = p, .n = sg->entry_size};
    struct obs head = {.stored = true};
    if (sg->header & FW_PHD_SEG_ABS_TIME) {
        const uint8_t *a = rbytes(&r, 8);
        head.have_time = a && fw_mder_abs_time(a, &head.tm) == FW_OK;
        head.bad_time = !head.have_time;
    }
    if (sg->header & FW_PHD_SEG_REL_TIME)
        rbytes(&r, 4); /* relative time: the device's tick, not a date */
    if (sg->header & FW_PHD_SEG_HIRES_TIME)
        rbytes(&r, 8);
    for (int i = 0; i < sg->nelems; i++) {
        const struct fw_phd_elem *e = &sg->elems[i];
        struct obs ob = head;
        for (int m = 0; m < e->nmap; m++) {
            const uint8_t *v = rbytes(&r, e->map_len[m]);
            if (v)
                obs_attr(&ob, e->map_id[m], v, e->map_len[m]);
        }
        if (!fw_phd_kind(e->type))
            continue; /* a control solution, an error code, a meal: not a reading */
        struct fw_phd_obj o;
        memset(&o, 0, sizeof o);
        const struct fw_phd_obj *c = find_obj(s, e->handle);
        if (c)
            o = *c;
        o.cls = e->cls;
        o.handle = e->handle;
        o.type = e->type;
        o.unit = e->unit;
        int before = s->qn;
        observe(s, &o, &ob, out);
        s->seg_readings += s->qn - before;
        s->pm_readings += s->qn - before;
    }
}

/* Queues the pending event's entries while the queue has room for one entry's readings; once
 * all are queued, confirms the event (SegmentDataResult: its instance, index and count, status
 * manager-confirm) and after the last one goes on to the next segment. */
static void ev_read(struct fw_phd *s, double t, struct fw_decoded *out)
{
    struct fw_phd_event *ev = &s->ev;
    if (!ev->active)
        return;
    const struct fw_phd_seg *sg = &s->segs[ev->seg];
    while (ev->off < ev->n && FW_PHD_QUEUE - s->qn >= sg->nelems) {
        const uint8_t *p = ev->data + ev->off;
        ev->off += sg->entry_size;
        if (++s->seg_entries > FW_PHD_MAX_SEG_ENTRIES) {
            if (s->seg_entries == FW_PHD_MAX_SEG_ENTRIES + 1)
                say(s, out, "segment %u: more than %d entries: the rest are not read", sg->inst,
                    FW_PHD_MAX_SEG_ENTRIES);
            continue;
        }
        seg_entry(s, sg, p, out);
    }
    if (ev->off < ev->n)
        return; /* the rest when the queue has room (timeout) */
    ev->active = false;
    if (!ev->confirm)
        return; /* released or aborted meanwhile: read, not confirmed */
    uint8_t info[12];
    struct wr w = {.p = info, .cap = sizeof info};
    w16(&w, ev->inst);
    w32(&w, ev->index);
    w32(&w, ev->count);
    w16(&w, SEVT_MANAGER_CONFIRM);
    confirm(out, ev->invoke, ev->handle, FW_MDC_NOTI_SEGMENT_DATA, info, sizeof info);
    if (ev->status & (SEVT_LAST_ENTRY | SEVT_AGENT_ABORT)) {
        if (ev->status & SEVT_AGENT_ABORT)
            say(s, out, "segment %u: the device stopped the transfer", ev->inst);
        else
            say(s, out, "segment %u read: %ld entries gave %ld reading%s", ev->inst, s->seg_entries,
                s->seg_readings, s->seg_readings == 1 ? "" : "s");
        pm_next_segment(s, t);
    }
}

/* A SEGMENT_DATA event (SegmentDataEvent): instance, first entry's index, entry count, status,
 * then the entries. Checked whole before any entry is read; a bad one is dropped, not
 * confirmed (the device times out and retries or aborts), nothing of it queued. */
static void seg_data(struct fw_phd *s, uint16_t invoke, uint16_t handle, bool confirmed,
                     struct rd *info, double t, struct fw_decoded *out)
{
    uint16_t inst = r16(info);
    uint32_t index = r32(info), count = r32(info);
    uint16_t status = r16(info);
    struct rd e = rsub(info);
    if (info->bad) {
        say(s, out, "a segment-data event cut short: dropped (not confirmed)");
        return;
    }
    if (s->pm != FW_PHD_PM_XFER || handle != pm_handle(s) || inst != s->segs[s->seg].inst) {
        say(s, out, "segment data of PM-store %u segment %u, not asked for: dropped", handle, inst);
        return;
    }
    if (s->ev.active) {
        say(s, out, "segment %u: an event before the last one was read: dropped", inst);
        return;
    }
    size_t size = s->segs[s->seg].entry_size;
    if (e.n > sizeof s->ev.data || e.n % size || e.n / size != count) {
        say(s, out,
            "segment %u: an event of %u entries in %zu bytes (entries of %zu bytes): dropped "
            "(not confirmed)",
            inst, count, e.n, size);
        return;
    }
    struct fw_phd_event *ev = &s->ev;
    memcpy(ev->data, e.p, e.n);
    ev->n = e.n;
    ev->off = 0;
    ev->invoke = invoke;
    ev->handle = handle;
    ev->inst = inst;
    ev->index = index;
    ev->count = count;
    ev->status = status;
    ev->seg = s->seg;
    ev->confirm = confirmed;
    ev->active = true;
    ev_read(s, t, out);
}

/* A failed SEG_GET_INFO or SEG_TRIG_XFER: on to the next PM-store or segment. */
static void pm_fail(struct fw_phd *s, double t)
{
    if (s->pm == FW_PHD_PM_INFO)
        pm_next_store(s, t);
    else if (s->pm == FW_PHD_PM_TRIG)
        pm_next_segment(s, t);
}

static void on_prst(struct fw_phd *s, const uint8_t *body, size_t n, double t,
                    struct fw_decoded *out)
{
    struct rd outer = {.p = body, .n = n};
    struct rd r = rsub(&outer);
    uint16_t invoke = r16(&r), choice = r16(&r);
    struct rd c = rsub(&r);
    if (r.bad) {
        say(s, out, "a data message cut short: dropped");
        return;
    }
    if (choice == CH_EVENT_REPORT || choice == CH_CONFIRMED_EVENT_REPORT) {
        uint16_t handle = r16(&c);
        r32(&c); /* event time */
        uint16_t type = r16(&c);
        struct rd info = rsub(&c);
        if (c.bad) {
            say(s, out, "an event report cut short: dropped");
            return;
        }
        bool confirmed = choice == CH_CONFIRMED_EVENT_REPORT;
        if (type == FW_MDC_NOTI_CONFIG) {
            char why[120] = "";
            struct fw_phd_config cfg;
            memset(&cfg, 0, sizeof cfg);
            int rc = s->state == FW_PHD_WAIT_CONFIG
                         ? fw_phd_config_parse(info.p, info.n, &cfg, why, sizeof why)
                         : (snprintf(why, sizeof why, "not waiting for one"), FW_EINVAL);
            uint8_t rsp[4] = {(uint8_t)(cfg.id >> 8), (uint8_t)cfg.id, 0, rc == FW_OK ? 0 : 1};
            if (rc != FW_OK && info.n >= 2)
                rsp[0] = info.p[0], rsp[1] = info.p[1];
            confirm(out, invoke, handle, type, rsp, sizeof rsp);
            if (rc != FW_OK) {
                say(s, out, "configuration refused: %s", why);
                return;
            }
            s->cfg = cfg;
            s->known = cfg;
            s->have_known = true;
            s->state = FW_PHD_OPERATING;
            due(s, FW_PHD_SEND_MDS_GET, t);
            char pm[80] = "";
            if (cfg.pm_stores == 1)
                snprintf(pm, sizeof pm, " and a PM-store (its memory, read after its clock)");
            else if (cfg.pm_stores)
                snprintf(pm, sizeof pm, " and %d PM-stores (its memory, read after its clock)",
                         cfg.pm_stores);
            say(s, out, "configuration 0x%04x accepted: %d numeric objects%s", cfg.id, cfg.nobjs,
                pm);
            return;
        }
        if (type == FW_MDC_NOTI_SEGMENT_DATA) {
            seg_data(s, invoke, handle, confirmed, &info, t, out);
            return;
        }
        if (type >= FW_MDC_NOTI_SCAN_REPORT_FIXED && type <= FW_MDC_NOTI_SCAN_REPORT_MP_VAR) {
            if (s->state == FW_PHD_WAIT_CONFIG) {
                say(s, out, "a report before the configuration was agreed: dropped");
                return;
            }
            if (!scan_report(s, type, &info, out))
                say(s, out, "a scan report cut short: what it held before the cut was kept");
            if (confirmed)
                confirm(out, invoke, handle, type, NULL, 0);
            return;
        }
        say(s, out, "an event report of type %u: not used", type);
        if (confirmed)
            confirm(out, invoke, handle, type, NULL, 0);
        return;
    }
    if (choice == CH_RORS_GET && invoke == s->get_invoke && s->get_invoke) {
        s->get_invoke = 0;
        mds_attributes(s, &c, out);
        pm_start(s, t);
        return;
    }
    if (choice == CH_RORS_CONFIRMED_ACTION && invoke == s->act_invoke && s->act_invoke) {
        s->act_invoke = 0;
        uint16_t h = r16(&c), type = r16(&c);
        struct rd args = rsub(&c);
        if (c.bad || h != pm_handle(s)) {
            say(s, out, "an answer to the manager's action %s: the memory part skipped",
                c.bad ? "cut short" : "on another object");
            pm_fail(s, t);
        } else if (type == FW_MDC_ACT_SEG_GET_INFO && s->pm == FW_PHD_PM_INFO) {
            seg_info(s, &args, t, out);
        } else if (type == FW_MDC_ACT_SEG_TRIG_XFER && s->pm == FW_PHD_PM_TRIG) {
            trig_rsp(s, &args, t, out);
        } else {
            say(s, out, "an answer to action %u, not the one asked for", type);
            pm_fail(s, t);
        }
        return;
    }
    if (choice == CH_ROER || choice == CH_RORJ) {
        bool get = s->get_invoke && invoke == s->get_invoke;
        bool act = s->act_invoke && invoke == s->act_invoke;
        uint16_t code = r16(&c); /* ErrorResult's error-value, RejectResult's problem */
        say(s, out, "the device %s %u to the manager's %s",
            choice == CH_ROER ? "answered error" : "rejected it with problem", c.bad ? 0 : code,
            get   ? "GET of its attributes"
            : act ? (s->pm == FW_PHD_PM_INFO ? "SEG_GET_INFO" : "SEG_TRIG_XFER")
                  : "request");
        if (get) {
            s->get_invoke = 0;
            pm_start(s, t); /* the memory is read without the clock */
        }
        if (act) {
            s->act_invoke = 0;
            pm_fail(s, t);
        }
        return;
    }
    say(s, out, "a data message of choice 0x%04x: not used", choice);
}

static void on_apdu(struct fw_phd *s, uint16_t choice, const uint8_t *body, size_t n, double t,
                    struct fw_decoded *out)
{
    switch (choice) {
    case FW_APDU_AARQ: {
        enum fw_phd_assoc res;
        uint16_t cfg_id;
        size_t len = 0;
        if (fw_phd_associate(s, body, n, out->reply, sizeof out->reply, &len, &res, &cfg_id) !=
            FW_OK) {
            say(s, out, "an association request cut short: dropped");
            return;
        }
        out->reply_len = len;
        s->qn = s->qhead = 0;
        s->get_invoke = 0;
        pm_reset(s);
        s->ev.active = false; /* the new association starts afresh */
        if (res == FW_PHD_ACCEPTED) {
            s->state = FW_PHD_OPERATING;
            due(s, FW_PHD_SEND_MDS_GET, t);
            say(s, out, "associated: configuration 0x%04x known", cfg_id);
        } else if (res == FW_PHD_ACCEPTED_UNKNOWN_CONFIG) {
            s->state = FW_PHD_WAIT_CONFIG;
            say(s, out, "associated: configuration 0x%04x unknown, the device sends it", cfg_id);
        } else {
            s->state = FW_PHD_UNASSOCIATED;
            say(s, out,
                "association refused (result %d): the device does not speak 20601 "
                "version 1-3 with MDER",
                res);
        }
        return;
    }
    case FW_APDU_RLRQ: {
        static const uint8_t rlre[6] = {0xe5, 0x00, 0x00, 0x02, 0x00, 0x00};
        memcpy(out->reply, rlre, sizeof rlre);
        out->reply_len = sizeof rlre;
        s->state = FW_PHD_UNASSOCIATED;
        s->get_invoke = 0;
        pm_reset(s);
        say(s, out, "released by the device");
        return;
    }
    case FW_APDU_ABRT:
        s->state = FW_PHD_UNASSOCIATED;
        s->get_invoke = 0;
        pm_reset(s);
        say(s, out, "the device aborted the association (reason %u)",
            n >= 2 ? fw_mder_u16(body) : 0);
        return;
    case FW_APDU_RLRE:
        if (s->state != FW_PHD_RELEASING) {
            say(s, out, "a release response the manager did not ask for: dropped");
            return;
        }
        s->state = FW_PHD_UNASSOCIATED;
        pm_reset(s);
        say(s, out, "released: %ld result%s read from the device's memory", s->pm_readings,
            s->pm_readings == 1 ? "" : "s");
        return;
    case FW_APDU_PRST:
        if (s->state == FW_PHD_UNASSOCIATED) {
            say(s, out, "data before an association: dropped");
            return;
        }
        on_prst(s, body, n, t, out); /* what it makes due goes out at once, in a message of
                                        its own */
        return;
    default: /* AARE: a manager's message, not an agent's */
        say(s, out, "an APDU 0x%04x that an agent does not send: dropped", choice);
        return;
    }
}

int fw_phd_feed(struct fw_phd *s, const uint8_t *data, size_t n, double t, struct fw_decoded *out)
{
    for (size_t i = 0; i < n; i++) {
        if (s->skip) {
            s->skip--;
            continue;
        }
        s->apdu[s->have++] = data[i];
        if (s->have == 2) {
            uint16_t c = fw_mder_u16(s->apdu);
            if (c != FW_APDU_AARQ && c != FW_APDU_AARE && c != FW_APDU_RLRQ && c != FW_APDU_RLRE &&
                c != FW_APDU_ABRT && c != FW_APDU_PRST) {
                s->apdu[0] = s->apdu[1]; /* not an APDU's start: look one byte on */
                s->have = 1;
                continue;
            }
        }
        if (s->have < 4)
            continue;
        size_t total = 4 + (size_t)fw_mder_u16(s->apdu + 2);
        if (total > FW_PHD_MAX_APDU) {
            s->skip = total - s->have;
            s->have = 0;
            say(s, out, "an APDU of %zu bytes, longer than %d: dropped", total, FW_PHD_MAX_APDU);
            continue;
        }
        if (s->have < total)
            continue;
        s->have = 0;
        on_apdu(s, fw_mder_u16(s->apdu), s->apdu + 4, total - 4, t, out);
        queue_take(s, out);
        if (out->reply_len || out->nreadings || out->device_clock) {
            out->consumed = i + 1 < n ? i + 1 : 0; /* one result per call */
            return FW_OK;
        }
    }
    return FW_OK;
}

double fw_phd_deadline(const struct fw_phd *s)
{
    if (s->qn || s->due || s->ev.active)
        return s->due_at;
    return -1;
}

/* The manager's next message, in a message of its own. */
static void send_due(struct fw_phd *s, struct fw_decoded *out)
{
    static const uint8_t rlrq[6] = {0xe4, 0x00, 0x00, 0x02, 0x00, 0x00}; /* reason: normal */
    enum fw_phd_send what = s->due;
    s->due = FW_PHD_SEND_NONE;
    switch (what) {
    case FW_PHD_SEND_NONE:
        break;
    case FW_PHD_SEND_MDS_GET:
        mds_get(s, out);
        break;
    case FW_PHD_SEND_SEG_INFO:
        seg_get_info(s, out);
        break;
    case FW_PHD_SEND_TRIG:
        seg_trig_xfer(s, out);
        break;
    case FW_PHD_SEND_RELEASE:
        if (s->state != FW_PHD_OPERATING)
            break;
        memcpy(out->reply, rlrq, sizeof rlrq);
        out->reply_len = sizeof rlrq;
        s->state = FW_PHD_RELEASING;
        say(s, out, "the device's memory is read (%ld result%s): releasing the association",
            s->pm_readings, s->pm_readings == 1 ? "" : "s");
        break;
    }
}

int fw_phd_timeout(struct fw_phd *s, double now, struct fw_decoded *out)
{
    queue_take(s, out);
    ev_read(s, now, out); /* the rest of a segment-data event, as the queue has room */
    queue_take(s, out);
    if (s->due && !s->qn && !s->ev.active && !out->reply_len)
        send_due(s, out);
    return FW_OK;
}

/* ---- the driver ---- */

static int phd_decode(void *state, const uint8_t *data, size_t n, double t, struct fw_decoded *out)
{
    struct fw_phd *s = state;
    int rc = fw_phd_feed(s, data, n, t, out);
    if (s->qn || s->ev.active)
        s->due_at = t; /* the rest of the readings come at once (timeout) */
    return rc;
}

static double phd_deadline(const void *state)
{
    return fw_phd_deadline(state);
}

static int phd_timeout(void *state, double now, struct fw_decoded *out)
{
    return fw_phd_timeout(state, now, out);
}

/* Devices that speak 20601 over USB PHDC (interface class 0x0F); any other device with a PHDC
 * interface is taken by its class (the device manager). */
static const struct fw_usb_id phdc_ids[] = {
    {0x173a, 0x21d5}, /* Roche Accu-Chek Guide */
    {0x173a, 0x21d7}, /* Roche Accu-Chek Instant */
    {0x173a, 0x21d6}, /* Roche Accu-Chek (verify the model) */
    {0x173a, 0x21d8}, /* Roche Accu-Chek (verify the model) */
    {0, 0},
};

const struct fw_driver fw_drv_ieee11073 = {
    .name = "ieee11073",
    .description = "IEEE 11073-20601 (Continua) device over USB PHDC: blood pressure, glucose, "
                   "scale, pulse oximeter, thermometer",
    .transport = "usb-phdc",
    .usb_ids = phdc_ids,
    .state_size = sizeof(struct fw_phd),
    .decode = phd_decode,
    .deadline = phd_deadline,
    .timeout = phd_timeout,
};
