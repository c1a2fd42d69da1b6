#include "jobs.h"

#include "../common/err.h"
#include "../common/util.h"
#include "../domain/date.h"
#include "../domain/obs.h"
#include "fw_printer.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

bool print_kind_valid(const char *kind)
{
    return kind && (!strcmp(kind, "ticket") || !strcmp(kind, "wristband") ||
                    !strcmp(kind, "slip") || !strcmp(kind, "test"));
}

#define SLIP_TEXT          400 /* a 300-byte label, its code and "(đã biết)" */
#define SLIP_MAX_DIAGNOSES 4

/* The doctor's findings (ICD-10 code and its Vietnamese name, or the doctor's words), first and
 * at most SLIP_MAX_DIAGNOSES of them, so that the readings keep room. Returns the new count. */
static int diagnoses(json_t *list, int n, char text[SLIP_MAX_FINDINGS][SLIP_TEXT],
                     const char *out[SLIP_MAX_FINDINGS])
{
    size_t i;
    json_t *f;
    json_array_foreach(list, i, f)
    {
        if (n >= SLIP_MAX_DIAGNOSES)
            break;
        const char *code = str(f, "code"), *label = str(f, "label");
        const char *vi = json_string_value(json_object_get(json_object_get(f, "name"), "vi"));
        if (!code)
            continue;
        snprintf(text[n], SLIP_TEXT, "%s %s%s", code,
                 vi      ? vi
                 : label ? label
                         : "",
                 json_is_true(json_object_get(f, "known")) ? " (đã biết)" : "");
        out[n] = text[n];
        n++;
    }
    return n;
}

/* The findings of a visit: the last reading of each kind, in the order of obs_kinds. The
 * strings live in text[][]. */
static int findings(json_t *observations, int n, char text[SLIP_MAX_FINDINGS][SLIP_TEXT],
                    const char *out[SLIP_MAX_FINDINGS])
{
    for (size_t k = 0; k < obs_kinds_count && n < SLIP_MAX_FINDINGS; k++) {
        const struct obs_kind *kind = &obs_kinds[k];
        json_t *last = NULL, *o;
        size_t i;
        json_array_foreach(observations, i, o)
        {
            if (!strcmp(str(o, "code"), kind->code))
                last = o;
        }
        if (!last)
            continue;
        double v[OBS_MAX_COMPONENTS] = {0};
        int present[OBS_MAX_COMPONENTS] = {0};
        json_t *values = json_object_get(last, "values");
        for (int c = 0; c < kind->ncomp; c++) {
            json_t *x = json_object_get(values, kind->comp[c]);
            if (json_is_number(x)) {
                v[c] = json_number_value(x);
                present[c] = 1;
            }
        }
        if (obs_describe(kind, v, present, text[n], sizeof text[n]) > 0) {
            out[n] = text[n];
            n++;
        }
    }
    return n;
}

static int layout_err(int rc, const char *kind, const struct fw_profile *p, char *err,
                      size_t errlen)
{
    if (rc == FW_EINVAL)
        return fail(err, errlen, MK_EINVAL, "the %s does not fit printer profile %s", kind,
                    p->name);
    return fail(err, errlen, rc == FW_ENOMEM ? MK_ENOMEM : MK_EIO, "laying out the %s: %s", kind,
                fw_strerror(rc));
}

static int slip_layout(struct store *st, const struct print_req *r, const struct fw_profile *p,
                       struct fw_font *font, struct fw_buf *out, char patient_id[64],
                       char visit_id[64], const char *when, char *err, size_t errlen)
{
    if (p->language != FW_LANG_ESCPOS)
        return fail(err, errlen, MK_EINVAL,
                    "referral slips are for ESC/POS receipt printers: %s is a ZPL band printer",
                    p->name);
    if (!r->visit || !r->destination || !r->destination[0] || !r->reason || !r->reason[0])
        return fail(err, errlen, MK_EINVAL, "a slip needs the visit, where to and why");
    enum slip_urgency urgency = SLIP_ROUTINE;
    if (r->urgency && !strcmp(r->urgency, "soon"))
        urgency = SLIP_SOON;
    else if (r->urgency && !strcmp(r->urgency, "urgent"))
        urgency = SLIP_URGENT;
    else if (r->urgency && strcmp(r->urgency, "routine") != 0)
        return fail(err, errlen, MK_EINVAL, "urgency must be routine, soon or urgent");
    json_t *visit = NULL, *campaign = NULL;
    int rc = store_visit_get(st, r->visit, &visit);
    if (rc == MK_ENOTFOUND)
        return fail(err, errlen, rc, "no such visit");
    if (rc != MK_OK)
        return fail(err, errlen, rc, "reading the visit: %s", mk_strerror(rc));
    if (store_campaign_get(st, str(visit, "campaign"), &campaign) != MK_OK)
        campaign = json_object();
    json_t *pat = json_object_get(visit, "patient");
    char text[SLIP_MAX_FINDINGS][SLIP_TEXT];
    struct slip s = {
        .code = str(pat, "code"),
        .name = str(pat, "name"),
        .female = !strcmp(str(pat, "sex"), "female"),
        .birth_year = (int)json_integer_value(json_object_get(pat, "birth_year")),
        .hospital = str(campaign, "hospital"),
        .campaign = str(campaign, "name"),
        .destination = r->destination,
        .reason = r->reason,
        .urgency = urgency,
        .doctor = r->doctor,
        .when = when,
    };
    s.nfindings = diagnoses(json_object_get(visit, "findings"), 0, text, s.findings);
    s.nfindings = findings(json_object_get(visit, "observations"), s.nfindings, text, s.findings);
    snprintf(patient_id, 64, "%s", str(pat, "id"));
    snprintf(visit_id, 64, "%s", str(visit, "id"));
    int lrc = layout_slip(&s, p, font, out);
    json_decref(visit);
    json_decref(campaign);
    return lrc == FW_OK ? MK_OK : layout_err(lrc, "slip", p, err, errlen);
}

static void local_when(char out[32])
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(out, 32, "%d/%m/%Y %H:%M", &tm);
}

/* The visit of today among a patient's visits, or NULL (borrowed). */
static json_t *visit_today(json_t *visits)
{
    char today[11];
    size_t i;
    json_t *v;
    util_today(today);
    json_array_foreach(visits, i, v)
    {
        if (strcmp(str(v, "day"), today) == 0)
            return v;
    }
    return NULL;
}

/* A "ready" slip: the kit's own page, with no patient and nothing from the store. */
static bool is_ready(const struct print_req *r)
{
    return r->kind && !strcmp(r->kind, "ready") && r->wifi;
}

static int ready_layout(const struct print_req *r, const char *printer, const struct fw_profile *p,
                        struct fw_font *font, struct fw_buf *out, const char *when, char *err,
                        size_t errlen)
{
    if (p->language != FW_LANG_ESCPOS)
        return printer ? fail(err, errlen, MK_EINVAL,
                              "the ready slip is for ESC/POS receipt printers: printer %s is a "
                              "ZPL wristband printer (%s)",
                              printer, p->name)
                       : fail(err, errlen, MK_EINVAL,
                              "the ready slip is for ESC/POS receipt printers: %s is a ZPL "
                              "wristband printer",
                              p->name);
    struct ready_slip s = {.wifi = r->wifi, .when = when};
    int rc = layout_ready(&s, p, font, out);
    return rc == FW_OK ? MK_OK : layout_err(rc, "ready slip", p, err, errlen);
}

int print_layout(struct store *st, const struct print_req *r, const char *printer,
                 const struct fw_profile *p, struct fw_font *font, struct fw_buf *out,
                 char patient_id[64], char visit_id[64], char *err, size_t errlen)
{
    char when[32];
    patient_id[0] = visit_id[0] = '\0';
    if (!print_kind_valid(r->kind) && !is_ready(r))
        return fail(err, errlen, MK_EINVAL, "kind must be ticket, wristband, slip or test");
    local_when(when);
    if (is_ready(r))
        return ready_layout(r, printer, p, font, out, when, err, errlen);
    if (!strcmp(r->kind, "slip"))
        return slip_layout(st, r, p, font, out, patient_id, visit_id, when, err, errlen);
    if (!strcmp(r->kind, "test")) {
        struct test_page t = {.printer = printer ? printer : p->name, .when = when};
        int rc = layout_test_page(&t, p, font, out);
        return rc == FW_OK ? MK_OK : layout_err(rc, r->kind, p, err, errlen);
    }
    bool ticket = !strcmp(r->kind, "ticket");
    if (ticket && p->language != FW_LANG_ESCPOS)
        return fail(err, errlen, MK_EINVAL,
                    "queue tickets are for ESC/POS receipt printers: %s is a ZPL band printer",
                    p->name);
    if (!r->patient)
        return fail(err, errlen, MK_EINVAL, "a %s needs a patient", r->kind);
    json_t *pat = NULL, *visits = NULL;
    int rc = store_patient_get(st, r->patient, &pat);
    if (rc == MK_ENOTFOUND)
        return fail(err, errlen, rc, "no patient has this code");
    if (rc == MK_OK)
        rc = store_patient_visits(st, str(pat, "id"), &visits);
    if (rc != MK_OK) {
        json_decref(pat);
        return fail(err, errlen, rc, "reading the patient: %s", mk_strerror(rc));
    }
    json_t *visit = visit_today(visits);
    snprintf(patient_id, 64, "%s", str(pat, "id"));
    int lrc = FW_OK;
    if (ticket && !visit) {
        rc = fail(err, errlen, MK_ENOTFOUND,
                  "the patient has no visit today: open one (POST /api/v1/visits) first");
    } else if (ticket) {
        snprintf(visit_id, 64, "%s", str(visit, "id"));
        struct ticket t = {
            .queue_number = (int)json_integer_value(json_object_get(visit, "queue_number")),
            .code = r->patient,
            .name = str(pat, "name"),
            .station = r->station,
            .campaign = str(visit, "campaign"),
            .when = when,
        };
        lrc = layout_ticket(&t, p, font, out);
    } else {
        char day[11];
        struct date birth, today;
        util_today(day);
        date_parse(day, &today);
        json_t *bd = json_object_get(pat, "birth_date");
        if (!json_is_string(bd) || date_parse(json_string_value(bd), &birth) != MK_OK)
            birth =
                (struct date){(int)json_integer_value(json_object_get(pat, "birth_year")), 0, 0};
        if (visit)
            snprintf(visit_id, 64, "%s", str(visit, "id"));
        struct wristband w = {
            .code = r->patient,
            .name = str(pat, "name"),
            .female = strcmp(str(pat, "sex"), "female") == 0,
            .age = date_age(&birth, &today),
            .campaign = visit ? str(visit, "campaign") : str(pat, "campaign"),
        };
        lrc = layout_wristband(&w, p, font, out);
    }
    if (rc == MK_OK && lrc != FW_OK)
        rc = layout_err(lrc, r->kind, p, err, errlen);
    json_decref(pat);
    json_decref(visits);
    return rc;
}

int print_enqueue(struct store *st, const struct actor *a, struct fw_font *font,
                  const struct print_req *r, json_t **job, char *err, size_t errlen)
{
    char name[64], patient_id[64], visit_id[64];
    if (!print_kind_valid(r->kind) && !is_ready(r))
        return fail(err, errlen, MK_EINVAL, "kind must be ticket, wristband, slip or test");
    if (r->printer) {
        snprintf(name, sizeof name, "%s", r->printer);
    } else if (is_ready(r)) { /* the kit's own slip goes where the tickets go */
        int rc = store_printer_for(st, "ticket", name);
        if (rc == MK_ENOTFOUND)
            return fail(err, errlen, rc,
                        "no printer prints tickets: add one with `mokit printer add NAME "
                        "--profile P --uri URI --kinds ticket` (or enable one), or name one "
                        "with --printer");
        if (rc != MK_OK)
            return fail(err, errlen, rc, "finding a printer: %s", mk_strerror(rc));
    } else {
        int rc = store_printer_for(st, r->kind, name);
        if (rc == MK_ENOTFOUND)
            return fail(err, errlen, rc, "no enabled printer prints %ss: add one, or name one",
                        r->kind);
        if (rc != MK_OK)
            return fail(err, errlen, rc, "finding a printer: %s", mk_strerror(rc));
    }
    json_t *pj;
    int rc = store_printer_get(st, name, &pj);
    if (rc == MK_ENOTFOUND)
        return fail(err, errlen, rc, "no printer is called %s", name);
    if (rc != MK_OK)
        return fail(err, errlen, rc, "reading the printer: %s", mk_strerror(rc));
    const struct fw_profile *p = fw_profile_find(str(pj, "profile"));
    bool enabled = json_is_true(json_object_get(pj, "enabled"));
    json_decref(pj);
    if (!enabled) /* it would wait for ever: say so now */
        return fail(err, errlen, MK_EBUSY, "printer %s is disabled: enable it or choose another",
                    name);
    if (!p)
        return fail(err, errlen, MK_EINVAL, "printer %s has an unknown profile", name);
    struct fw_buf b;
    fw_buf_init(&b);
    rc = print_layout(st, r, name, p, font, &b, patient_id, visit_id, err, errlen);
    if (rc == MK_OK) {
        struct job_in j = {.printer = name,
                           .kind = r->kind,
                           .patient_id = patient_id[0] ? patient_id : NULL,
                           .visit_id = visit_id[0] ? visit_id : NULL,
                           .data = b.data,
                           .len = b.len};
        rc = store_job_create(st, a, &j, job);
        if (rc != MK_OK)
            fail(err, errlen, rc, "queueing the job: %s", mk_strerror(rc));
    }
    fw_buf_free(&b);
    return rc;
}

int print_printer_check(const char *profile, const char *uri, char *err, size_t errlen)
{
    struct fw_uri u;
    if (!profile || !fw_profile_find(profile))
        return fail(err, errlen, MK_EINVAL, "unknown printer profile (see mokit printer profiles)");
    if (fw_uri_parse(uri, &u, err, errlen) != FW_OK)
        return MK_EINVAL;
    /* A file printer appends to its file: never let it be the kit's own data. */
    const char *base = strrchr(u.path, '/') ? strrchr(u.path, '/') + 1 : u.path;
    if ((u.kind == FW_URI_FILE || u.kind == FW_URI_SIM) &&
        (!strncmp(base, STORE_DB_NAME, strlen(STORE_DB_NAME)) || !strcmp(base, "mokitd.lock")))
        return fail(err, errlen, MK_EINVAL, "%s would write into the kit's database", uri);
    return MK_OK;
}
