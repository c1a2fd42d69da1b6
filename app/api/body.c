#include "body.h"

#include "../common/err.h"
#include "../domain/role.h"
#include "../domain/text.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 4, 5))) static int fail(struct body_err *err, const char *code,
                                                      const char *field, const char *fmt, ...)
{
    va_list ap;
    err->code = code;
    err->field = field;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return MK_EINVAL;
}

json_t *body_parse(const char *data, size_t len, struct body_err *err)
{
    json_error_t jerr;
    if (len == 0) {
        fail(err, "bad_json", NULL, "the request body is empty; a JSON object is expected");
        return NULL;
    }
    if (len > BODY_MAX) {
        fail(err, "too_large", NULL, "the request body is larger than %d bytes", BODY_MAX);
        return NULL;
    }
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        fail(err, "bad_json", NULL, "the body is not valid JSON: %s (line %d, column %d)",
             jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        fail(err, "bad_json", NULL, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

int body_opt_string(json_t *obj, const char *key, const char **out, struct body_err *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return MK_OK;
    if (!json_is_string(v))
        return fail(err, "invalid", key, "%s must be a string", key);
    *out = json_string_value(v);
    if (strlen(*out) != json_string_length(v))
        return fail(err, "invalid", key, "%s contains a NUL character", key);
    return MK_OK;
}

/* Replaces an optional text member by its cleaned form (NFC, trimmed, no control characters),
 * so that pointers later taken from obj see clean text. */
static int clean_in_place(json_t *obj, const char *key, struct body_err *err)
{
    const char *raw;
    char *clean;
    if (body_opt_string(obj, key, &raw, err) != MK_OK)
        return MK_EINVAL;
    if (!raw)
        return MK_OK;
    int rc = text_clean(raw, &clean);
    if (rc == MK_ENOMEM)
        return fail(err, "internal", key, "out of memory");
    if (rc != MK_OK)
        return fail(err, "invalid", key, "%s must be text without control characters", key);
    rc = json_object_set_new(obj, key, json_string(clean));
    free(clean);
    return rc == 0 ? MK_OK : fail(err, "internal", key, "out of memory");
}

static int opt_bool(json_t *obj, const char *key, bool *out, struct body_err *err)
{
    json_t *v = json_object_get(obj, key);
    *out = false;
    if (!v || json_is_null(v))
        return MK_OK;
    if (!json_is_boolean(v))
        return fail(err, "invalid", key, "%s must be true or false", key);
    *out = json_is_true(v);
    return MK_OK;
}

/* Cleans (NFC, trimmed) an optional text member into a copy kept in b->owned. */
static int clean_member(json_t *obj, const char *key, struct patient_body *b, int slot,
                        const char **dst, struct body_err *err)
{
    const char *raw;
    if (body_opt_string(obj, key, &raw, err) != MK_OK)
        return MK_EINVAL;
    *dst = NULL;
    if (!raw)
        return MK_OK;
    int rc = text_clean(raw, &b->owned[slot]);
    if (rc == MK_ENOMEM)
        return fail(err, "internal", key, "out of memory");
    if (rc != MK_OK)
        return fail(err, "invalid", key, "%s must be text without control characters", key);
    *dst = b->owned[slot];
    return MK_OK;
}

void body_patient_free(struct patient_body *b)
{
    for (size_t i = 0; i < sizeof b->owned / sizeof b->owned[0]; i++) {
        free(b->owned[i]);
        b->owned[i] = NULL;
    }
}

int body_patient(json_t *obj, const struct date *today, struct patient_body *out,
                 struct body_err *err)
{
    struct patient *p = &out->p;
    memset(out, 0, sizeof *out);

    json_t *name = json_object_get(obj, "name");
    if (!name || json_is_null(name))
        return fail(err, "invalid", "name", "name is required");
    static const struct {
        const char *key;
        size_t offset;
    } texts[] = {
        {"name", offsetof(struct patient, name)},
        {"province", offsetof(struct patient, province)},
        {"district", offsetof(struct patient, district)},
        {"commune", offsetof(struct patient, commune)},
        {"village", offsetof(struct patient, village)},
        {"address", offsetof(struct patient, address)},
        {"cccd", offsetof(struct patient, cccd)},
        {"bhyt", offsetof(struct patient, bhyt)},
        {"phone", offsetof(struct patient, phone)},
        {"ethnicity", offsetof(struct patient, ethnicity)},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        const char **dst = (const char **)((char *)p + texts[i].offset);
        if (clean_member(obj, texts[i].key, out, (int)i, dst, err) != MK_OK)
            goto bad;
    }

    json_t *sex = json_object_get(obj, "sex");
    if (!sex || json_is_null(sex)) {
        fail(err, "invalid", "sex", "sex is required (male or female)");
        goto bad;
    }
    if (!json_is_string(sex) || sex_parse(json_string_value(sex), &p->sex) != MK_OK) {
        fail(err, "invalid", "sex", "sex must be \"male\" or \"female\"");
        goto bad;
    }

    json_t *birth = json_object_get(obj, "birth");
    if (!birth || json_is_null(birth)) {
        fail(err, "invalid", "birth", "birth is required (\"YYYY\" or \"YYYY-MM-DD\")");
        goto bad;
    }
    if (json_is_integer(birth)) {
        json_int_t y = json_integer_value(birth);
        if (y < 1900 || y > 2100) {
            fail(err, "invalid", "birth", "birth year %lld is not plausible", (long long)y);
            goto bad;
        }
        p->birth = (struct date){(int)y, 0, 0};
    } else if (!json_is_string(birth) || date_parse(json_string_value(birth), &p->birth) != MK_OK) {
        fail(err, "invalid", "birth", "birth must be \"YYYY\" or a real date \"YYYY-MM-DD\"");
        goto bad;
    }

    if (opt_bool(obj, "consent", &p->consent, err) != MK_OK ||
        opt_bool(obj, "confirm_new", &out->confirm_new, err) != MK_OK ||
        body_opt_string(obj, "campaign", &out->campaign, err) != MK_OK)
        goto bad;

    /* The ethnicity may come as a name: store its code. */
    if (p->ethnicity && p->ethnicity[0]) {
        const struct ethnic_group *g = ethnic_find(p->ethnicity);
        if (!g) {
            fail(err, "invalid", "ethnicity", "unknown ethnic group \"%.40s\"", p->ethnicity);
            goto bad;
        }
        p->ethnicity = g->code;
    }
    const char *field = NULL;
    char msg[160];
    if (patient_validate(p, today, &field, msg, sizeof msg) != MK_OK) {
        fail(err, "invalid", field, "%s", msg);
        goto bad;
    }
    return MK_OK;
bad:
    body_patient_free(out);
    return MK_EINVAL;
}

static int number(json_t *v, const char *name, double *out, struct body_err *err)
{
    if (!json_is_number(v))
        return fail(err, "invalid", name, "%s must be a number", name);
    *out = json_number_value(v);
    if (!isfinite(*out))
        return fail(err, "invalid", name, "%s must be a finite number", name);
    return MK_OK;
}

int body_obs(json_t *obj, const struct obs_kind **kind, struct obs_values *v, const char **note,
             struct body_err *err)
{
    const char *code;
    memset(v, 0, sizeof *v);
    if (body_opt_string(obj, "code", &code, err) != MK_OK)
        return MK_EINVAL;
    if (!code)
        return fail(err, "invalid", "code", "code is required (bp, pulse, spo2, weight, ...)");
    const struct obs_kind *k = obs_kind_find(code);
    if (!k)
        return fail(err, "invalid", "code", "unknown observation code \"%.40s\"", code);
    json_t *values = json_object_get(obj, "values");
    json_t *single = json_object_get(obj, "value");
    if (values && !json_is_null(values)) {
        if (!json_is_object(values))
            return fail(err, "invalid", "values", "values must be an object");
        const char *key;
        json_t *val;
        json_object_foreach(values, key, val)
        {
            int i;
            for (i = 0; i < k->ncomp; i++)
                if (strcmp(k->comp[i], key) == 0)
                    break;
            if (i == k->ncomp)
                return fail(err, "invalid", "values", "%s has no value named \"%.40s\"", k->code,
                            key);
            if (number(val, k->comp[i], &v->v[i], err) != MK_OK)
                return MK_EINVAL;
            v->present[i] = 1;
        }
    } else if (single && !json_is_null(single)) {
        if (k->ncomp != 1 && strcmp(k->code, "bp") == 0)
            return fail(err, "invalid", "values", "bp needs values.systolic and values.diastolic");
        if (number(single, "value", &v->v[0], err) != MK_OK)
            return MK_EINVAL;
        v->present[0] = 1;
    }
    if (clean_in_place(obj, "note", err) != MK_OK ||
        body_opt_string(obj, "note", note, err) != MK_OK)
        return MK_EINVAL;
    if (*note && strlen(*note) > 500)
        return fail(err, "invalid", "note", "note is longer than 500 bytes");
    json_t *fasting = json_object_get(obj, "fasting");
    if (fasting && !json_is_null(fasting)) {
        if (!json_is_boolean(fasting))
            return fail(err, "invalid", "fasting", "fasting must be true or false");
        if (strcmp(k->code, "glucose") != 0)
            return fail(err, "invalid", "fasting", "fasting is only said of a glucose reading");
        v->fasting = json_is_true(fasting) ? OBS_FASTING_YES : OBS_FASTING_NO;
    }
    char msg[160];
    int rc = obs_validate(k, v, msg, sizeof msg);
    if (rc == MK_ERANGE)
        return fail(err, "out_of_range", "values", "%s", msg);
    if (rc != MK_OK)
        return fail(err, "invalid", "values", "%s", msg);
    *kind = k;
    return MK_OK;
}

int body_campaign(json_t *obj, struct campaign_in *c, struct body_err *err)
{
    static const struct {
        const char *key;
        size_t offset;
    } fields[] = {
        {"code", offsetof(struct campaign_in, code)},
        {"name", offsetof(struct campaign_in, name)},
        {"province", offsetof(struct campaign_in, province)},
        {"district", offsetof(struct campaign_in, district)},
        {"commune", offsetof(struct campaign_in, commune)},
        {"village", offsetof(struct campaign_in, village)},
        {"start_date", offsetof(struct campaign_in, start_date)},
        {"end_date", offsetof(struct campaign_in, end_date)},
        {"hospital", offsetof(struct campaign_in, hospital)},
    };
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (clean_in_place(obj, fields[i].key, err) != MK_OK ||
            body_opt_string(obj, fields[i].key, (const char **)((char *)c + fields[i].offset),
                            err) != MK_OK)
            return MK_EINVAL;
    if (!c->code || !c->code[0])
        return fail(err, "invalid", "code", "code is required");
    for (const char *p = c->code; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return fail(err, "invalid", "code", "code may hold only letters, digits, - and _");
    if (strlen(c->code) > 40)
        return fail(err, "invalid", "code", "code is longer than 40 characters");
    if (!c->name || !c->name[0])
        return fail(err, "invalid", "name", "name is required");
    for (size_t i = 1; i < sizeof fields / sizeof fields[0]; i++) {
        const char *v = *(const char **)((char *)c + fields[i].offset);
        if (v && strlen(v) > 300)
            return fail(err, "invalid", fields[i].key, "%s is longer than 300 bytes",
                        fields[i].key);
    }
    struct date d; /* "" is no date (and clears one in an update) */
    if (c->start_date && c->start_date[0] &&
        (strlen(c->start_date) != 10 || date_parse(c->start_date, &d) != MK_OK))
        return fail(err, "invalid", "start_date", "start_date must be a date YYYY-MM-DD");
    if (c->end_date && c->end_date[0] &&
        (strlen(c->end_date) != 10 || date_parse(c->end_date, &d) != MK_OK))
        return fail(err, "invalid", "end_date", "end_date must be a date YYYY-MM-DD");
    if (c->start_date && c->end_date && c->start_date[0] && c->end_date[0] &&
        strcmp(c->start_date, c->end_date) > 0)
        return fail(err, "invalid", "end_date", "end_date is before start_date");
    return MK_OK;
}

int body_staff(json_t *obj, struct staff_body *s, struct body_err *err)
{
    memset(s, 0, sizeof *s);
    if (clean_in_place(obj, "name", err) != MK_OK ||
        clean_in_place(obj, "specialty", err) != MK_OK ||
        body_opt_string(obj, "name", &s->name, err) != MK_OK ||
        body_opt_string(obj, "role", &s->role, err) != MK_OK ||
        body_opt_string(obj, "pin", &s->pin, err) != MK_OK ||
        body_opt_string(obj, "specialty", &s->specialty, err) != MK_OK)
        return MK_EINVAL;
    if (!s->name || !s->name[0])
        return fail(err, "invalid", "name", "name is required");
    if (strlen(s->name) > 200 || (s->specialty && strlen(s->specialty) > 200))
        return fail(err, "invalid", "name", "name and specialty are at most 200 bytes");
    if (!s->role || !role_valid(s->role))
        return fail(err, "invalid", "role",
                    "role must be registrar, nurse, doctor, pharmacist or lead");
    if (!s->pin || !store_pin_valid(s->pin))
        return fail(err, "invalid", "pin", "pin must be 4 to 8 digits");
    return MK_OK;
}

int body_print_list(json_t *obj, const char *kinds_out[2], int *n, struct body_err *err)
{
    json_t *v = json_object_get(obj, "print"), *it;
    size_t i;
    *n = 0;
    if (!v || json_is_null(v))
        return MK_OK;
    if (!json_is_array(v) || json_array_size(v) > 2)
        return fail(err, "invalid", "print", "print must be a list of \"wristband\", \"ticket\"");
    json_array_foreach(v, i, it)
    {
        const char *k = json_string_value(it);
        if (!k || (strcmp(k, "wristband") != 0 && strcmp(k, "ticket") != 0))
            return fail(err, "invalid", "print",
                        "print must be a list of \"wristband\", \"ticket\"");
        for (int j = 0; j < *n; j++)
            if (!strcmp(kinds_out[j], k))
                return fail(err, "invalid", "print", "print lists %s twice", k);
        kinds_out[(*n)++] = k;
    }
    return MK_OK;
}

int body_printer(json_t *obj, bool update, struct printer_in *p, int *enabled, char kinds_buf[80],
                 struct body_err *err)
{
    memset(p, 0, sizeof *p);
    *enabled = -1;
    if (body_opt_string(obj, "name", &p->name, err) != MK_OK ||
        body_opt_string(obj, "profile", &p->profile, err) != MK_OK ||
        body_opt_string(obj, "uri", &p->uri, err) != MK_OK)
        return MK_EINVAL;
    if (!update) {
        if (!p->name || !store_printer_name_valid(p->name))
            return fail(err, "invalid", "name",
                        "name must be 1-32 lower-case letters, digits, - or _");
        if (!p->profile)
            return fail(err, "invalid", "profile", "profile is required");
        if (!p->uri)
            return fail(err, "invalid", "uri", "uri is required");
    } else if (p->name || p->profile) {
        return fail(err, "invalid", p->name ? "name" : "profile",
                    "a printer's name and profile do not change: add a new printer");
    }
    json_t *e = json_object_get(obj, "enabled");
    if (e && !json_is_null(e)) {
        if (!update)
            return fail(err, "invalid", "enabled",
                        "a new printer is enabled: enabled is for PATCH /printers/NAME");
        if (!json_is_boolean(e))
            return fail(err, "invalid", "enabled", "enabled must be true or false");
        *enabled = json_is_true(e);
    }
    json_t *k = json_object_get(obj, "kinds"), *it;
    size_t i, len = 0;
    if (!k || json_is_null(k)) {
        if (!update)
            return fail(err, "invalid", "kinds", "kinds is required: what the printer prints");
        return MK_OK;
    }
    if (!json_is_array(k) || json_array_size(k) < 1 || json_array_size(k) > 4)
        return fail(err, "invalid", "kinds",
                    "kinds must list 1-4 of \"ticket\", \"wristband\", \"slip\", \"test\"");
    kinds_buf[0] = '\0';
    json_array_foreach(k, i, it)
    {
        const char *s = json_string_value(it);
        if (!s || strlen(s) > 12)
            return fail(err, "invalid", "kinds",
                        "kinds must list 1-4 of \"ticket\", \"wristband\", \"slip\", \"test\"");
        len += (size_t)snprintf(kinds_buf + len, 80 - len, "%s%s", i ? "," : "", s);
    }
    if (!store_printer_kinds_valid(kinds_buf))
        return fail(err, "invalid", "kinds",
                    "kinds must list 1-4 of \"ticket\", \"wristband\", \"slip\", \"test\"");
    p->kinds = kinds_buf;
    return MK_OK;
}

int body_text(json_t *obj, const char *key, size_t max, bool required, const char **out,
              struct body_err *err)
{
    if (clean_in_place(obj, key, err) != MK_OK || body_opt_string(obj, key, out, err) != MK_OK)
        return MK_EINVAL;
    if (*out && !(*out)[0])
        *out = NULL;
    if (!*out && required)
        return fail(err, "invalid", key, "%s is required", key);
    if (*out && strlen(*out) > max)
        return fail(err, "invalid", key, "%s is longer than %zu bytes", key, max);
    return MK_OK;
}

int body_opt_int(json_t *obj, const char *key, long long min, long long max, bool required,
                 long long *out, bool *given, struct body_err *err)
{
    json_t *v = json_object_get(obj, key);
    *given = v && !json_is_null(v);
    if (!*given)
        return required ? fail(err, "invalid", key, "%s is required", key) : MK_OK;
    if (!json_is_integer(v))
        return fail(err, "invalid", key, "%s must be a whole number", key);
    *out = json_integer_value(v);
    if (*out < min || *out > max)
        return fail(err, "invalid", key, "%s must be from %lld to %lld", key, min, max);
    return MK_OK;
}

int body_opt_bool(json_t *obj, const char *key, int *out, struct body_err *err)
{
    json_t *v = json_object_get(obj, key);
    *out = -1;
    if (!v || json_is_null(v))
        return MK_OK;
    if (!json_is_boolean(v))
        return fail(err, "invalid", key, "%s must be true or false", key);
    *out = json_is_true(v);
    return MK_OK;
}
