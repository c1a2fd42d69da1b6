#include "review.h"

#include "date.h"
#include "icd10.h"
#include "obs.h"
#include "patient.h"

#include <stdio.h>
#include <string.h>

#define MAX_FLAGS 16

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Age at the visit's day from "birth_date" (or "birth_year" alone); -1 when unknown. */
static int visit_age(const json_t *visit, const json_t *patient)
{
    struct date on, birth;
    const char *day = str(visit, "day");
    if (!day || date_parse(day, &on) != 0)
        return -1;
    const char *bd = str(patient, "birth_date");
    if (bd && date_parse(bd, &birth) == 0)
        return date_age(&birth, &on);
    json_t *by = json_object_get(patient, "birth_year");
    if (!json_is_integer(by))
        return -1;
    birth.year = (int)json_integer_value(by);
    birth.month = birth.day = 0;
    if (!date_valid(birth.year, 1, 1))
        return -1;
    return date_age(&birth, &on);
}

json_t *review_visit_flags(const struct screen_rules *rules, const json_t *visit, int *age)
{
    const json_t *patient = json_object_get(visit, "patient");
    struct screen_patient p = {.age = visit_age(visit, patient), .sex = 0, .symptoms = -1};
    const char *sex = str(patient, "sex");
    if (sex)
        p.sex = !strcmp(sex, "female") ? 'F' : !strcmp(sex, "male") ? 'M' : 0;
    const json_t *sym = json_object_get(visit, "symptoms");
    if (json_is_array(sym)) {
        size_t i;
        json_t *k;
        p.symptoms = 0;
        json_array_foreach(sym, i, k)
        {
            const char *key = json_string_value(k);
            if (key && strcmp(key, "thirst_urination") != 0)
                p.symptoms = 1;
        }
    }
    if (age)
        *age = p.age;

    const json_t *list = json_object_get(visit, "observations");
    size_t n = json_array_size(list), used = 0;
    struct screen_obs obs[64];
    if (n > sizeof obs / sizeof obs[0]) /* the latest readings are the ones that count */
        n = sizeof obs / sizeof obs[0];
    size_t first = json_array_size(list) - n;
    for (size_t i = first; i < json_array_size(list); i++) {
        const json_t *o = json_array_get(list, i);
        const char *code = str(o, "code");
        const struct obs_kind *k = code ? obs_kind_find(code) : NULL;
        if (!k)
            continue;
        struct screen_obs *s = &obs[used++];
        memset(s, 0, sizeof *s);
        s->kind = k->code;
        const json_t *values = json_object_get(o, "values");
        for (int c = 0; c < k->ncomp && c < 3; c++) {
            const json_t *v = json_object_get(values, k->comp[c]);
            s->present[c] = json_is_number(v);
            s->v[c] = json_number_value(v);
        }
        const json_t *f = json_object_get(o, "fasting");
        s->fasting = json_is_boolean(f) ? json_is_true(f) : -1;
    }
    struct screen_flag flags[MAX_FLAGS];
    size_t nf = screen_evaluate(rules, &p, obs, used, flags, MAX_FLAGS);
    json_t *out = json_array();
    for (size_t i = 0; i < nf; i++)
        json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "rule",
                                             flags[i].rule->id, "group", flags[i].rule->group,
                                             "level", screen_level_name(flags[i].level), "why",
                                             flags[i].why, "message", "vi", flags[i].rule->msg_vi,
                                             "en", flags[i].rule->msg_en));
    return out;
}

const char *review_age_group(int age)
{
    if (age < 0)
        return "unknown";
    if (age < 5)
        return "0-4";
    if (age < 18)
        return "5-17";
    if (age < 40)
        return "18-39";
    if (age < 60)
        return "40-59";
    return "60+";
}

static void bump(json_t *counts, const char *key)
{
    json_t *c = json_object_get(counts, key);
    json_object_set_new(counts, key, json_integer(json_integer_value(c) + 1));
}

/* {key: count} as [{name_key: key, "count": n}], largest first, then by key. */
static json_t *ranked(json_t *counts, const char *name_key)
{
    json_t *out = json_array();
    const char *key;
    json_t *c;
    json_object_foreach(counts, key, c)
    {
        json_int_t n = json_integer_value(c);
        size_t at = 0;
        while (at < json_array_size(out)) {
            json_t *x = json_array_get(out, at);
            json_int_t xn = json_integer_value(json_object_get(x, "count"));
            if (n > xn || (n == xn && strcmp(key, str(x, name_key)) < 0))
                break;
            at++;
        }
        json_array_insert_new(out, at, json_pack("{s:s, s:I}", name_key, key, "count", n));
    }
    return out;
}

json_t *review_dashboard(const struct screen_rules *rules, const json_t *visits,
                         const json_t *medicines)
{
    static const char *const groups[] = {"0-4", "5-17", "18-39", "40-59", "60+", "unknown"};
    json_t *seen = json_object(), *by_sex = json_pack("{s:i, s:i}", "male", 0, "female", 0);
    json_t *by_age = json_object(), *by_eth = json_object(), *flags = json_object(),
           *conditions = json_object(), *dest = json_object(),
           *urg = json_pack("{s:i, s:i, s:i}", "routine", 0, "soon", 0, "urgent", 0);
    json_int_t nvisits = 0, referred = 0, arrived = 0, flagged = 0, urgent_visits = 0;
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        json_object_set_new(by_age, groups[g], json_integer(0));
    size_t i;
    json_t *v;
    json_array_foreach(visits, i, v)
    {
        nvisits++;
        int age;
        json_t *fl = review_visit_flags(rules, v, &age);
        const json_t *p = json_object_get(v, "patient");
        const char *code = str(p, "code");
        if (code && !json_object_get(seen, code)) { /* a resident counts once */
            json_object_set_new(seen, code, json_true());
            const char *sex = str(p, "sex");
            if (sex)
                bump(by_sex, sex);
            bump(by_age, review_age_group(age));
            const struct ethnic_group *e =
                str(p, "ethnicity") ? ethnic_find(str(p, "ethnicity")) : NULL;
            bump(by_eth, e ? e->code : "");
        }
        size_t k;
        json_t *f;
        int any = 0, urgent = 0;
        json_array_foreach(fl, k, f)
        {
            const char *level = str(f, "level");
            if (!strcmp(level, "info"))
                continue; /* worth knowing, not a flag raised */
            /* by rule and level: one raised BP (repeat) is not two (flag) */
            char key[80];
            snprintf(key, sizeof key, "%s|%s", str(f, "rule"), level);
            bump(flags, key);
            any = 1;
            urgent |= !strcmp(level, "urgent");
        }
        flagged += any;
        urgent_visits += urgent;
        json_decref(fl);
        json_array_foreach(json_object_get(v, "findings"), k, f)
        {
            if (json_is_string(f))
                bump(conditions, json_string_value(f));
        }
        json_array_foreach(json_object_get(v, "referrals"), k, f)
        {
            const char *status = str(f, "status");
            if (status && !strcmp(status, "cancelled"))
                continue;
            referred++;
            arrived += status && !strcmp(status, "arrived");
            if (str(f, "to"))
                bump(dest, str(f, "to"));
            if (str(f, "urgency"))
                bump(urg, str(f, "urgency"));
        }
    }
    json_t *age_list = json_array();
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        json_array_append_new(age_list, json_pack("{s:s, s:O}", "group", groups[g], "count",
                                                  json_object_get(by_age, groups[g])));
    json_t *eth = ranked(by_eth, "code");
    json_array_foreach(eth, i, v)
    {
        const struct ethnic_group *e = str(v, "code")[0] ? ethnic_find(str(v, "code")) : NULL;
        json_object_set_new(v, "name", e ? json_string(e->name) : json_null());
        if (!e)
            json_object_set_new(v, "code", json_null());
    }
    json_t *fl = ranked(flags, "rule");
    json_array_foreach(fl, i, v)
    {
        char key[80];
        snprintf(key, sizeof key, "%s", str(v, "rule"));
        char *bar = strchr(key, '|');
        if (bar)
            *bar++ = '\0';
        json_object_set_new(v, "level", json_string(bar ? bar : ""));
        json_object_set_new(v, "rule", json_string(key));
    }
    json_t *cond = ranked(conditions, "code");
    json_array_foreach(cond, i, v)
    {
        const struct icd10 *e = icd10_find(str(v, "code"));
        json_object_set_new(v, "vi", e ? json_string(e->vi) : json_null());
        json_object_set_new(v, "en", e ? json_string(e->en) : json_null());
    }
    json_t *meds = json_array();
    json_array_foreach(medicines, i, v)
    {
        json_array_append_new(
            meds,
            json_pack("{s:O, s:O, s:O, s:O, s:O, s:O}", "code", json_object_get(v, "code"), "name",
                      json_object_get(v, "name"), "strength", json_object_get(v, "strength"),
                      "unit", json_object_get(v, "unit"), "dispensed",
                      json_object_get(v, "dispensed"), "stock", json_object_get(v, "stock")));
    }
    json_t *out = json_pack(
        "{s:I, s:I, s:o, s:o, s:o, s:{s:I, s:I}, s:o, s:o, s:{s:I, s:I, s:o, s:o}, s:o}",
        "residents", (json_int_t)json_object_size(seen), "visits", nvisits, "by_sex", by_sex,
        "by_age", age_list, "by_ethnicity", eth, "flagged", "visits", flagged, "urgent",
        urgent_visits, "flags", fl, "conditions", cond, "referrals", "total", referred, "arrived",
        arrived, "by_destination", ranked(dest, "to"), "by_urgency", urg, "medicines", meds);
    json_decref(seen);
    json_decref(by_age);
    json_decref(by_eth);
    json_decref(flags);
    json_decref(conditions);
    json_decref(dest);
    return out;
}
