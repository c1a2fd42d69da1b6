/* The IEEE 11073-20601 manager (ieee11073.h): association, configuration, scan reports, the
 * MDS attributes, release. Pure. Protocol notes and sources: firmware/doc/ieee11073.md. */
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
    CH_RORS_CONFIRMED_EVENT_REPORT = 0x0201,
    CH_RORS_GET = 0x0203,
    CH_ROER = 0x0300,
    CH_RORJ = 0x0400,
};

/* ---- reading and writing MDER ---- */

struct rd {
    const uint8_t *p;
    size_t n, off;
    bool bad;
};

static uint16_t r16(struct rd *r)
{
    if (r->bad || r->n - r->off < 2) {
        r->bad = true;
        return 0;
    }
    uint16_t v = fw_mder_u16(r->p + r->off);
    r->off += 2;
    return v;
}

static uint32_t r32(struct rd *r)
{
    if (r->bad || r->n - r->off < 4) {
        r->bad = true;
        return 0;
    }
    uint32_t v = fw_mder_u32(r->p + r->off);
    r->off += 4;
    return v;
}

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
    if (ob->special || ob->nv == 0) {
        say(s, out, "%s: no value (%s)", kind,
            ob->nv ? fw_mder_num_name(ob->special) : "none given");
        return;
    }
    struct fw_reading r = {.kind = kind, .unit = kind_unit(kind), .value2 = NAN, .value3 = NAN};
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

static void mds_get(struct fw_phd *s, struct fw_decoded *out)
{
    static const uint8_t all[6] = {0, 0, 0, 0, 0, 0}; /* object 0 (the MDS), every attribute */
    s->invoke = s->invoke ? s->invoke : 1;
    s->get_invoke = s->invoke++;
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

static void on_prst(struct fw_phd *s, const uint8_t *body, size_t n, struct fw_decoded *out)
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
            s->get_due = true;
            say(s, out, "configuration 0x%04x accepted: %d numeric objects%s", cfg.id, cfg.nobjs,
                cfg.pm_stores ? "; its stored results are in a PM-store, which mokit cannot "
                                "read yet (firmware/doc/ieee11073.md)"
                              : "");
            return;
        }
        if (type >= FW_MDC_NOTI_SCAN_REPORT_FIXED && type <= FW_MDC_NOTI_SCAN_REPORT_MP_VAR) {
            if (s->state != FW_PHD_OPERATING) {
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
        return;
    }
    if (choice == CH_ROER || choice == CH_RORJ) {
        if (invoke == s->get_invoke)
            s->get_invoke = 0;
        say(s, out, "the device %s the manager's request",
            choice == CH_ROER ? "answered an error to" : "rejected");
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
        if (res == FW_PHD_ACCEPTED) {
            s->state = FW_PHD_OPERATING;
            s->get_due = true;
            s->get_at = t;
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
        s->get_due = false;
        say(s, out, "released by the device");
        return;
    }
    case FW_APDU_ABRT:
        s->state = FW_PHD_UNASSOCIATED;
        s->get_due = false;
        say(s, out, "the device aborted the association (reason %u)",
            n >= 2 ? fw_mder_u16(body) : 0);
        return;
    case FW_APDU_PRST:
        if (s->state == FW_PHD_UNASSOCIATED) {
            say(s, out, "data before an association: dropped");
            return;
        }
        on_prst(s, body, n, out);
        if (s->get_due)
            s->get_at = t; /* the MDS GET goes out at once, in a message of its own */
        return;
    default: /* AARE, RLRE: a manager's messages, not an agent's */
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
    if (s->qn || s->get_due)
        return s->get_at;
    return -1;
}

int fw_phd_timeout(struct fw_phd *s, double now, struct fw_decoded *out)
{
    (void)now;
    queue_take(s, out);
    if (s->get_due && !s->qn) {
        s->get_due = false;
        mds_get(s, out);
    }
    return FW_OK;
}

/* ---- the driver ---- */

static int phd_decode(void *state, const uint8_t *data, size_t n, double t, struct fw_decoded *out)
{
    struct fw_phd *s = state;
    int rc = fw_phd_feed(s, data, n, t, out);
    if (s->qn)
        s->get_at = t; /* the rest of the readings come at once (timeout) */
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
