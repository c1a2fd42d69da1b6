/* Screening rules (screen.h). */
#include "screen.h"

#include "../common/err.h"
#include "obs.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const measure_names[M_COUNT] = {
    [M_SYSTOLIC] = "systolic",
    [M_DIASTOLIC] = "diastolic",
    [M_PULSE] = "pulse",
    [M_SPO2] = "spo2",
    [M_WEIGHT] = "weight",
    [M_HEIGHT] = "height",
    [M_BMI] = "bmi",
    [M_TEMP] = "temp",
    [M_GLUCOSE] = "glucose",
    [M_GLUCOSE_FASTING] = "glucose_fasting",
    [M_GLUCOSE_RANDOM] = "glucose_random",
    [M_WAIST] = "waist",
    [M_AGE] = "age",
};

static const char *const measure_units[M_COUNT] = {
    [M_SYSTOLIC] = "mmHg",
    [M_DIASTOLIC] = "mmHg",
    [M_PULSE] = "/min",
    [M_SPO2] = "%",
    [M_WEIGHT] = "kg",
    [M_HEIGHT] = "cm",
    [M_BMI] = "kg/m2",
    [M_TEMP] = "Cel",
    [M_GLUCOSE] = "mmol/L",
    [M_GLUCOSE_FASTING] = "mmol/L",
    [M_GLUCOSE_RANDOM] = "mmol/L",
    [M_WAIST] = "cm",
    [M_AGE] = "years",
};

static const char *const level_names[] = {"info", "repeat", "review", "flag", "urgent"};

const char *screen_level_name(enum screen_level l)
{
    return l >= SCREEN_INFO && l <= SCREEN_URGENT ? level_names[l] : "?";
}

/* ---- loading ---- */

static int fail(char *err, size_t errlen, int i, const char *id, const char *what)
{
    snprintf(err, errlen, "rule %d (%s): %s", i + 1, id && id[0] ? id : "no id", what);
    return MK_EINVAL;
}

static int test_parse(json_t *t, struct screen_test *out)
{
    if (!json_is_array(t) || json_array_size(t) != 3 || !json_is_string(json_array_get(t, 0)) ||
        !json_is_string(json_array_get(t, 1)) || !json_is_number(json_array_get(t, 2)))
        return -1;
    const char *m = json_string_value(json_array_get(t, 0)),
               *op = json_string_value(json_array_get(t, 1));
    int k;
    for (k = 0; k < M_COUNT; k++)
        if (strcmp(measure_names[k], m) == 0)
            break;
    if (k == M_COUNT)
        return -2;
    out->m = (enum screen_measure)k;
    out->op = !strcmp(op, "<")    ? '<'
              : !strcmp(op, "<=") ? 'l'
              : !strcmp(op, ">")  ? '>'
              : !strcmp(op, ">=") ? 'g'
                                  : 0;
    out->value = json_number_value(json_array_get(t, 2));
    if (!out->op)
        return -3;
    if (!isfinite(out->value))
        return -1;
    return 0;
}

static int rule_parse(json_t *r, int i, struct screen_rule *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(r))
        return fail(err, errlen, i, NULL, "not an object");
    const char *id = json_string_value(json_object_get(r, "id"));
    if (!id || !id[0] || strlen(id) >= sizeof out->id)
        return fail(err, errlen, i, NULL, "\"id\" must be a text of 1-39 characters");
    snprintf(out->id, sizeof out->id, "%s", id);
    const char *group = json_string_value(json_object_get(r, "group"));
    if (group && strlen(group) >= sizeof out->group)
        return fail(err, errlen, i, id, "\"group\" is too long");
    snprintf(out->group, sizeof out->group, "%s", group ? group : id);
    const char *level = json_string_value(json_object_get(r, "level"));
    int l;
    for (l = 0; level && l <= SCREEN_URGENT; l++)
        if (strcmp(level_names[l], level) == 0)
            break;
    if (!level || l > SCREEN_URGENT)
        return fail(err, errlen, i, id, "\"level\" must be info, repeat, review, flag or urgent");
    out->level = (enum screen_level)l;
    json_t *ages = json_object_get(r, "ages");
    const char *a = json_string_value(ages);
    if (!ages || (a && !strcmp(a, "any")))
        out->ages = 0;
    else if (a && !strcmp(a, "adult"))
        out->ages = 1;
    else if (a && !strcmp(a, "child"))
        out->ages = 2;
    else
        return fail(err, errlen, i, id, "\"ages\" must be any, adult or child");
    json_t *sex = json_object_get(r, "sex");
    const char *sx = json_string_value(sex);
    if (sex && !(sx && (!strcmp(sx, "F") || !strcmp(sx, "M"))))
        return fail(err, errlen, i, id, "\"sex\" must be F or M");
    out->sex = sx ? sx[0] : 0;
    json_t *rep = json_object_get(r, "repeat"), *sym = json_object_get(r, "symptoms");
    if ((rep && !json_is_boolean(rep)) || (sym && !json_is_boolean(sym)))
        return fail(err, errlen, i, id, "\"repeat\" and \"symptoms\" are true or false");
    out->repeat = json_is_true(rep);
    out->symptoms = json_is_true(sym);
    json_t *one = json_object_get(r, "measure"), *any = json_object_get(r, "any"),
           *all = json_object_get(r, "all");
    if ((one != NULL) + (any != NULL) + (all != NULL) > 1)
        return fail(err, errlen, i, id, "give one of \"measure\", \"any\" and \"all\"");
    json_t *list = any ? any : all;
    out->all = all != NULL;
    if (list && (!json_is_array(list) || json_array_size(list) == 0 ||
                 json_array_size(list) > SCREEN_MAX_TESTS))
        return fail(err, errlen, i, id, "\"any\"/\"all\" must list 1-4 tests");
    size_t n = one ? 1 : list ? json_array_size(list) : 0;
    for (size_t k = 0; k < n; k++) {
        int rc = test_parse(one ? one : json_array_get(list, k), &out->tests[k]);
        if (rc == -2)
            return fail(err, errlen, i, id,
                        "unknown measure (systolic, diastolic, pulse, spo2, weight, height, "
                        "bmi, temp, glucose, glucose_fasting, glucose_random, waist, age)");
        if (rc == -3)
            return fail(err, errlen, i, id, "the operator must be <, <=, > or >=");
        if (rc < 0)
            return fail(err, errlen, i, id, "a test is [\"measure\", \"op\", number]");
    }
    out->ntests = (int)n;
    if (out->repeat) {
        for (int k = 0; k < out->ntests; k++)
            if (out->tests[k].m != M_SYSTOLIC && out->tests[k].m != M_DIASTOLIC)
                return fail(err, errlen, i, id, "\"repeat\" is for blood pressure tests only");
    }
    json_t *msg = json_object_get(r, "message");
    const char *vi = json_string_value(json_object_get(msg, "vi")),
               *en = json_string_value(json_object_get(msg, "en"));
    if (!vi || !en || !vi[0] || !en[0])
        return fail(err, errlen, i, id, "\"message\" needs \"vi\" and \"en\"");
    if (strlen(vi) >= sizeof out->msg_vi || strlen(en) >= sizeof out->msg_en)
        return fail(err, errlen, i, id, "a message is longer than 159 bytes");
    snprintf(out->msg_vi, sizeof out->msg_vi, "%s", vi);
    snprintf(out->msg_en, sizeof out->msg_en, "%s", en);
    return MK_OK;
}

int screen_rules_parse(const char *text, size_t len, struct screen_rules *out, char *err,
                       size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, errlen, "line %d: %s", je.line, je.text);
        return MK_EINVAL;
    }
    int rc = MK_OK;
    json_t *rules = json_object_get(root, "rules"), *age = json_object_get(root, "adult_age");
    struct screen_rules *tmp = calloc(1, sizeof *tmp); /* out changes only when all is well */
    if (!tmp) {
        json_decref(root);
        return MK_ENOMEM;
    }
    if (!json_is_object(root) || !json_is_array(rules)) {
        snprintf(err, errlen, "expected {\"adult_age\": N, \"rules\": [...]}");
        rc = MK_EINVAL;
    } else if (age && (!json_is_integer(age) || json_integer_value(age) < 1 ||
                       json_integer_value(age) > 30)) {
        snprintf(err, errlen, "\"adult_age\" must be a whole number of years, 1-30");
        rc = MK_EINVAL;
    } else if (json_array_size(rules) > SCREEN_MAX_RULES) {
        snprintf(err, errlen, "at most %d rules", SCREEN_MAX_RULES);
        rc = MK_EINVAL;
    } else {
        tmp->adult_age = age ? (int)json_integer_value(age) : 18;
        for (size_t i = 0; i < json_array_size(rules) && rc == MK_OK; i++) {
            rc = rule_parse(json_array_get(rules, i), (int)i, &tmp->rules[i], err, errlen);
            for (size_t k = 0; k < i && rc == MK_OK; k++)
                if (strcmp(tmp->rules[k].id, tmp->rules[i].id) == 0)
                    rc = fail(err, errlen, (int)i, tmp->rules[i].id, "the id is used twice");
        }
        tmp->nrules = (int)json_array_size(rules);
    }
    json_decref(root);
    if (rc == MK_OK)
        *out = *tmp;
    free(tmp);
    return rc;
}

int screen_rules_default(struct screen_rules *out)
{
    const char *j = screen_rules_default_json();
    char err[200];
    return screen_rules_parse(j, strlen(j), out, err, sizeof err);
}

/* ---- evaluating ---- */

struct measures {
    double v[M_COUNT];
    bool have[M_COUNT];
    double mean_sys, mean_dia; /* of the last two BP readings */
    int nbp;
};

static void measures_of(const struct screen_patient *p, const struct screen_obs *obs, size_t n,
                        struct measures *m)
{
    memset(m, 0, sizeof *m);
    double prev_sys = NAN, prev_dia = NAN;
    for (size_t i = 0; i < n; i++) {
        const struct screen_obs *o = &obs[i];
        const struct obs_kind *kind = o->kind ? obs_kind_find(o->kind) : NULL;
        struct obs_values ov;
        memcpy(ov.v, o->v, sizeof ov.v);
        memcpy(ov.present, o->present, sizeof ov.present);
        char msg[160];
        if (!kind || obs_validate(kind, &ov, msg, sizeof msg) != MK_OK)
            continue; /* a typing error is not a finding: the form says so */
        enum screen_measure k = M_COUNT;
        if (!strcmp(o->kind, "bp")) {
            if (!o->present[1] || !isfinite(o->v[1]))
                continue;
            if (m->have[M_SYSTOLIC]) {
                prev_sys = m->v[M_SYSTOLIC];
                prev_dia = m->v[M_DIASTOLIC];
            }
            m->v[M_SYSTOLIC] = o->v[0];
            m->v[M_DIASTOLIC] = o->v[1];
            m->have[M_SYSTOLIC] = m->have[M_DIASTOLIC] = true;
            m->nbp++;
            continue;
        }
        if (!strcmp(o->kind, "glucose")) {
            k = o->fasting == 1 ? M_GLUCOSE_FASTING : M_GLUCOSE_RANDOM;
            m->v[k] = o->v[0];
            m->have[k] = true;
            if (o->fasting == 1) /* a random one taken before does not count against it */
                m->have[M_GLUCOSE_RANDOM] = false;
            else
                m->have[M_GLUCOSE_FASTING] = false;
            k = M_GLUCOSE;
        } else {
            for (int j = 0; j < M_COUNT; j++)
                if (!strcmp(measure_names[j], o->kind))
                    k = (enum screen_measure)j;
        }
        if (k == M_COUNT || k == M_BMI || k == M_AGE || k == M_SYSTOLIC || k == M_DIASTOLIC)
            continue;
        m->v[k] = o->v[0];
        m->have[k] = true;
    }
    if (m->nbp >= 2) {
        m->mean_sys = (m->v[M_SYSTOLIC] + prev_sys) / 2;
        m->mean_dia = (m->v[M_DIASTOLIC] + prev_dia) / 2;
    }
    if (m->have[M_WEIGHT] && m->have[M_HEIGHT] && m->v[M_HEIGHT] > 0) {
        double h = m->v[M_HEIGHT] / 100;
        m->v[M_BMI] = round(m->v[M_WEIGHT] / (h * h) * 10) / 10; /* as it is written: 24.9 */
        m->have[M_BMI] = true;
    }
    if (p && p->age >= 0) {
        m->v[M_AGE] = p->age;
        m->have[M_AGE] = true;
    }
}

static bool holds(const struct screen_test *t, double v)
{
    switch (t->op) {
    case '<':
        return v < t->value;
    case 'l':
        return v <= t->value;
    case '>':
        return v > t->value;
    default:
        return v >= t->value;
    }
}

static const char *op_text(int op)
{
    return op == '<' ? "<" : op == 'l' ? "<=" : op == '>' ? ">" : ">=";
}

/* Whether the rule's tests hold; why gets the values that made them. */
static bool rule_holds(const struct screen_rule *r, const struct measures *m, bool mean, char *why,
                       size_t cap)
{
    size_t used = 0;
    int held = 0;
    why[0] = '\0';
    for (int i = 0; i < r->ntests; i++) {
        const struct screen_test *t = &r->tests[i];
        if (!m->have[t->m]) {
            if (r->all)
                return false;
            continue;
        }
        double v = m->v[t->m];
        if (mean && t->m == M_SYSTOLIC)
            v = m->mean_sys;
        if (mean && t->m == M_DIASTOLIC)
            v = m->mean_dia;
        if (!holds(t, v)) {
            if (r->all)
                return false;
            continue;
        }
        held++;
        int w = snprintf(why + used, cap - used, "%s%s %g %s%s %s %g", used ? ", " : "",
                         measure_names[t->m], v, measure_units[t->m],
                         mean && (t->m == M_SYSTOLIC || t->m == M_DIASTOLIC) ? " (mean of 2)" : "",
                         op_text(t->op), t->value);
        if (w > 0)
            used = (size_t)w + used < cap ? used + (size_t)w : cap - 1;
    }
    return held > 0;
}

static void add_note(char *why, size_t cap, const char *note)
{
    size_t n = strlen(why);
    snprintf(why + n, cap - n, "%s%s", n ? "; " : "", note);
}

size_t screen_evaluate(const struct screen_rules *rules, const struct screen_patient *p,
                       const struct screen_obs *obs, size_t nobs, struct screen_flag *out,
                       size_t max)
{
    struct measures m;
    measures_of(p, obs, nobs, &m);
    bool known = p && p->age >= 0;
    bool adult = !known || p->age >= rules->adult_age;
    struct screen_flag got[SCREEN_MAX_RULES];
    size_t n = 0;
    for (int i = 0; i < rules->nrules; i++) {
        const struct screen_rule *r = &rules->rules[i];
        if ((r->ages == 1 && !adult) || (r->ages == 2 && (!known || adult)))
            continue;
        if (r->sex && (!p || p->sex != r->sex))
            continue;
        struct screen_flag f = {.rule = r, .level = r->level};
        bool mean = r->repeat && m.nbp >= 2;
        if (r->ntests > 0 && !rule_holds(r, &m, mean, f.why, sizeof f.why))
            continue;
        if (r->ntests == 0 && known)
            snprintf(f.why, sizeof f.why, "age %d < %d", p->age, rules->adult_age);
        if (r->symptoms) {
            int s = p ? p->symptoms : -1;
            if (s == 0)
                continue;
            if (s < 0) {
                f.level = r->level < SCREEN_FLAG ? r->level : SCREEN_FLAG;
                add_note(f.why, sizeof f.why, "symptoms not asked: urgent if any");
            } else {
                add_note(f.why, sizeof f.why, "with symptoms");
            }
        }
        if (r->repeat && m.nbp == 1 && f.level > SCREEN_REPEAT) {
            f.level = SCREEN_REPEAT;
            add_note(f.why, sizeof f.why, "one reading: repeat after a few minutes");
        }
        if (r->ages == 1 && !known)
            add_note(f.why, sizeof f.why, "age not known: adult rules");
        /* One per group: the highest level (the first rule of it on a tie). */
        size_t k;
        for (k = 0; k < n; k++)
            if (strcmp(got[k].rule->group, r->group) == 0)
                break;
        if (k == n)
            got[n++] = f;
        else if (f.level > got[k].level)
            got[k] = f;
    }
    /* Highest level first; the rules' order among equals. */
    size_t w = 0;
    for (int l = SCREEN_URGENT; l >= SCREEN_INFO; l--)
        for (size_t k = 0; k < n; k++)
            if ((int)got[k].level == l && w < max)
                out[w++] = got[k];
    return w;
}
