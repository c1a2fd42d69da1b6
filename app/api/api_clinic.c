/* The API of the doctor's and the pharmacy's work and of the day's overview: visits with
 * their screening flags, symptoms and advice, findings (ICD-10), referrals, the medicine list
 * and its stock, prescriptions and dispensing, queue calls, the dashboard, and the setup
 * edits of campaigns and staff. app/doc/api.md documents every route. */
#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../domain/icd10.h"
#include "../domain/review.h"
#include "../domain/role.h"
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *arg(struct ctx *c, const char *key)
{
    return MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, key);
}

static void publish(struct ctx *c, const char *type, json_t *data)
{
    if (c->api->events)
        events_publish(c->api->events, type, data);
    else
        json_decref(data);
}

/* The campaign a listing is about: ?campaign=CODE or the current one. */
static int campaign_arg(struct ctx *c, char id[64], enum MHD_Result *ret)
{
    const char *code = arg(c, "campaign");
    return current_campaign_id(c, code && code[0] ? code : NULL, id, ret);
}

/* ---- visits ---- */

/* A visit with its records, age and flags. */
static enum MHD_Result send_visit(struct ctx *c, const char *id, unsigned status)
{
    json_t *v;
    int rc = store_visit_get(c->api->st, id, &v);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no such visit");
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    int age;
    json_t *flags = review_visit_flags(&c->api->rules, v, &age);
    json_object_set_new(v, "age", age >= 0 ? json_integer(age) : json_null());
    json_object_set_new(v, "flags", flags);
    return send_json(c->conn, status, v);
}

/* "today" or YYYY-MM-DD into day[11]; 0 or -1 with 400 queued. */
static int day_arg(struct ctx *c, const char *raw, char day[11], enum MHD_Result *ret)
{
    struct date d;
    if (!raw || !raw[0] || strcmp(raw, "today") == 0) {
        util_today(day);
        return 0;
    }
    if (strlen(raw) != 10 || date_parse(raw, &d) != MK_OK) {
        *ret = send_error_extra(c->conn, 400, "invalid", "day must be today or YYYY-MM-DD", "day",
                                NULL, NULL);
        return -1;
    }
    memcpy(day, raw, 11);
    return 0;
}

static enum MHD_Result visits_list(struct ctx *c)
{
    char campaign[64], day[11];
    enum MHD_Result ret;
    if (day_arg(c, arg(c, "day"), day, &ret) != 0 || campaign_arg(c, campaign, &ret) != 0)
        return ret;
    json_t *rows;
    int rc = store_visit_list(c->api->st, campaign, day, &rows);
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    json_t *out = json_array(), *v;
    size_t i;
    json_array_foreach(rows, i, v)
    {
        int age;
        json_t *flags = review_visit_flags(&c->api->rules, v, &age);
        json_t *top = json_array_get(flags, 0);
        json_t *p = json_object_get(v, "patient");
        json_t *refs = json_object_get(v, "referrals"), *r, *ref = json_null();
        size_t k;
        static const char *const rank[] = {"routine", "soon", "urgent"};
        int best = -1; /* the most urgent referral that stands */
        json_array_foreach(refs, k, r)
        {
            if (!strcmp(json_string_value(json_object_get(r, "status")), "cancelled"))
                continue;
            for (int u = 0; u < 3; u++)
                if (!strcmp(json_string_value(json_object_get(r, "urgency")), rank[u]) &&
                    u > best) {
                    best = u;
                    ref = json_object_get(r, "urgency");
                }
        }
        json_array_append_new(
            out,
            json_pack("{s:O, s:O, s:{s:O, s:O, s:O, s:O}, s:o, s:O, s:I, s:o, s:o, s:I, "
                      "s:O, s:O, s:O}",
                      "id", json_object_get(v, "id"), "queue_number",
                      json_object_get(v, "queue_number"), "patient", "code",
                      json_object_get(p, "code"), "name", json_object_get(p, "name"), "sex",
                      json_object_get(p, "sex"), "birth_year", json_object_get(p, "birth_year"),
                      "age", age >= 0 ? json_integer(age) : json_null(), "created_at",
                      json_object_get(v, "created_at"), "observations",
                      (json_int_t)json_array_size(json_object_get(v, "observations")), "flag",
                      top ? json_incref(json_object_get(top, "level")) : json_null(), "flag_rule",
                      top ? json_incref(json_object_get(top, "rule")) : json_null(), "findings",
                      (json_int_t)json_array_size(json_object_get(v, "findings")), "referral", ref,
                      "prescribed", json_object_get(v, "prescribed"), "dispensed",
                      json_object_get(v, "dispensed")));
        json_decref(flags);
    }
    json_decref(rows);
    return send_json(c->conn, 200, json_pack("{s:s, s:o}", "day", day, "visits", out));
}

static enum MHD_Result visit_patch(struct ctx *c, const char *id, json_t *obj)
{
    struct body_err err;
    const char *advice = NULL;
    json_t *symptoms = json_object_get(obj, "symptoms");
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        if (strcmp(key, "symptoms") && strcmp(key, "advice"))
            return send_error_extra(c->conn, 400, "invalid",
                                    "only symptoms and advice can be changed here", key, NULL,
                                    NULL);
    }
    if (json_object_get(obj, "advice")) {
        if (!(role_perms(json_string_value(json_object_get(c->staff, "role"))) & PERM_CLINICAL))
            return send_error(c->conn, 403, "forbidden", "advice is the doctor's");
        if (body_text(obj, "advice", 2000, false, &advice, &err) != MK_OK)
            return send_body_error(c->conn, &err);
        if (!advice)
            advice = ""; /* null or "" clears it */
    }
    if (symptoms && !json_is_null(symptoms)) {
        size_t i;
        json_t *k;
        if (!json_is_array(symptoms))
            return send_error_extra(c->conn, 400, "invalid",
                                    "symptoms must be a list of keys, [] for none, or null",
                                    "symptoms", NULL, NULL);
        json_array_foreach(symptoms, i, k)
        {
            if (!json_is_string(k) || !store_symptom_valid(json_string_value(k)))
                return send_error_extra(
                    c->conn, 400, "invalid",
                    "unknown symptom: the keys are chest_pain, breathlessness, severe_headache, "
                    "blurred_vision, confusion, one_sided_weakness, thirst_urination",
                    "symptoms", NULL, NULL);
        }
    }
    if (!symptoms && !json_object_get(obj, "advice"))
        return send_error(c->conn, 400, "invalid", "give symptoms or advice");
    int rc = store_visit_update(c->api->st, &c->actor, id, symptoms, advice, NULL);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no such visit");
    if (rc == MK_EINVAL)
        return send_error(c->conn, 400, "invalid", "too many symptoms");
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    return send_visit(c, id, 200);
}

/* ---- conditions and findings ---- */

static enum MHD_Result conditions_get(struct ctx *c)
{
    const char *q = arg(c, "q"), *lim = arg(c, "limit");
    long limit = lim ? strtol(lim, NULL, 10) : 50;
    if (limit < 1 || limit > 500)
        return send_error_extra(c->conn, 400, "invalid", "limit must be 1-500", "limit", NULL,
                                NULL);
    if (q && strlen(q) > 100)
        return send_error_extra(c->conn, 400, "invalid", "q is longer than 100 bytes", "q", NULL,
                                NULL);
    const struct icd10 *found[500];
    size_t n = icd10_search(q, found, (size_t)limit);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s}", "code", found[i]->code, "vi",
                                              found[i]->vi, "en", found[i]->en, "group",
                                              found[i]->group));
    return send_json(c->conn, 200, json_pack("{s:o}", "conditions", list));
}

static enum MHD_Result finding_post(struct ctx *c, const char *visit, json_t *obj)
{
    struct body_err err;
    const char *code, *label, *note;
    int known;
    if (body_text(obj, "code", 16, true, &code, &err) != MK_OK ||
        body_text(obj, "label", 300, false, &label, &err) != MK_OK ||
        body_text(obj, "note", 1000, false, &note, &err) != MK_OK ||
        body_opt_bool(obj, "known", &known, &err) != MK_OK)
        return send_body_error(c->conn, &err);
    if (!icd10_code_valid(code))
        return send_error_extra(c->conn, 400, "invalid",
                                "code must be an ICD-10 code such as I10 or E11.9", "code", NULL,
                                NULL);
    if (!icd10_find(code) && !label)
        return send_error_extra(c->conn, 400, "invalid",
                                "this code is not on the kit's list: give its name in label",
                                "label", NULL, NULL);
    json_t *f;
    int rc = store_finding_add(c->api->st, &c->actor, visit, code, label, known == 1, note, &f);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no such visit");
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    return send_json(c->conn, 201, f);
}

/* ---- referrals ---- */

static bool urgency_ok(const char *u)
{
    return !strcmp(u, "routine") || !strcmp(u, "soon") || !strcmp(u, "urgent");
}

static enum MHD_Result referral_post(struct ctx *c, const char *visit, json_t *obj)
{
    struct body_err err;
    const char *to, *reason, *urgency, *printer;
    int print;
    if (body_text(obj, "to", 300, true, &to, &err) != MK_OK ||
        body_text(obj, "reason", 300, true, &reason, &err) != MK_OK ||
        body_text(obj, "urgency", 16, false, &urgency, &err) != MK_OK ||
        body_text(obj, "printer", 32, false, &printer, &err) != MK_OK ||
        body_opt_bool(obj, "print", &print, &err) != MK_OK)
        return send_body_error(c->conn, &err);
    if (!urgency)
        urgency = "routine";
    if (!urgency_ok(urgency))
        return send_error_extra(c->conn, 400, "invalid", "urgency must be routine, soon or urgent",
                                "urgency", NULL, NULL);
    json_t *ref;
    int rc = store_referral_add(c->api->st, &c->actor, visit, to, reason, urgency, &ref);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no such visit");
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    if (print != 0) { /* the slip is printed unless asked not to; the referral stands anyway */
        struct print_req r = {.kind = "slip",
                              .printer = printer,
                              .visit = visit,
                              .destination = to,
                              .reason = reason,
                              .urgency = urgency,
                              .doctor = json_string_value(json_object_get(c->staff, "name"))};
        json_t *result = print_one(c, &r, &rc);
        json_t *job = json_object_get(result, "job");
        if (rc == MK_OK && job) {
            json_t *updated = NULL;
            if (store_referral_set_job(
                    c->api->st, &c->actor, json_string_value(json_object_get(ref, "id")),
                    json_string_value(json_object_get(job, "id")), &updated) == MK_OK) {
                json_decref(ref);
                ref = updated;
            }
        }
        json_object_del(result, "kind");
        json_object_set_new(ref, "print", result);
    }
    return send_json(c->conn, 201, ref);
}

static enum MHD_Result referral_status_post(struct ctx *c, const char *id, json_t *obj)
{
    struct body_err err;
    const char *status;
    if (body_text(obj, "status", 16, true, &status, &err) != MK_OK)
        return send_body_error(c->conn, &err);
    if (strcmp(status, "referred") && strcmp(status, "arrived") && strcmp(status, "cancelled"))
        return send_error_extra(c->conn, 400, "invalid",
                                "status must be referred, arrived or cancelled", "status", NULL,
                                NULL);
    json_t *ref;
    int rc = store_referral_set_status(c->api->st, &c->actor, id, status, &ref);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no such referral");
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    return send_json(c->conn, 200, ref);
}

static enum MHD_Result referrals_get(struct ctx *c)
{
    const char *status = arg(c, "status"), *code = arg(c, "campaign");
    char campaign[64];
    enum MHD_Result ret;
    if (status && strcmp(status, "referred") && strcmp(status, "arrived") &&
        strcmp(status, "cancelled"))
        return send_error_extra(c->conn, 400, "invalid",
                                "status must be referred, arrived or cancelled", "status", NULL,
                                NULL);
    bool all = code && !strcmp(code, "all");
    if (!all && campaign_arg(c, campaign, &ret) != 0)
        return ret;
    json_t *list;
    int rc = store_referral_list(c->api->st, status, all ? NULL : campaign, &list);
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    return send_json(c->conn, 200, json_pack("{s:o}", "referrals", list));
}

/* ---- medicines and stock ---- */

static int medicine_body(struct ctx *c, json_t *obj, bool update, struct medicine_in *m,
                         int *active, enum MHD_Result *ret)
{
    struct body_err err;
    long long stock = 0;
    bool given;
    memset(m, 0, sizeof *m);
    *active = -1;
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        static const char *const known[] = {"code", "name",  "strength", "form",
                                            "unit", "stock", "active"};
        size_t i;
        for (i = 0; i < sizeof known / sizeof known[0]; i++)
            if (!strcmp(key, known[i]))
                break;
        if (i == sizeof known / sizeof known[0] || (update && !strcmp(key, "code")) ||
            (update && !strcmp(key, "stock")) || (!update && !strcmp(key, "active"))) {
            *ret = send_error_extra(c->conn, 400, "invalid",
                                    update ? "name, strength, form, unit and active can be changed "
                                             "(stock: POST …/stock; the code never changes)"
                                           : "unknown field",
                                    key, NULL, NULL);
            return -1;
        }
    }
    if (body_text(obj, "code", 20, !update, &m->code, &err) != MK_OK ||
        body_text(obj, "name", 120, !update, &m->name, &err) != MK_OK ||
        body_text(obj, "strength", 60, false, &m->strength, &err) != MK_OK ||
        body_text(obj, "form", 60, false, &m->form, &err) != MK_OK ||
        body_text(obj, "unit", 30, !update, &m->unit, &err) != MK_OK ||
        body_opt_int(obj, "stock", 0, 10000000, false, &stock, &given, &err) != MK_OK ||
        body_opt_bool(obj, "active", active, &err) != MK_OK) {
        *ret = send_body_error(c->conn, &err);
        return -1;
    }
    for (const char *p = m->code; p && *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.')) {
            *ret = send_error_extra(c->conn, 400, "invalid",
                                    "code may hold only letters, digits, - _ and .", "code", NULL,
                                    NULL);
            return -1;
        }
    m->stock = (int)stock;
    if (update) { /* "" or null clears strength and form; name and unit cannot be emptied */
        static const char *const keys[] = {"strength", "form", "name", "unit"};
        for (int i = 0; i < 4; i++) {
            json_t *v = json_object_get(obj, keys[i]);
            if (!v || !(json_is_null(v) || (json_is_string(v) && !json_string_value(v)[0])))
                continue;
            if (i >= 2) {
                *ret = send_error_extra(c->conn, 400, "invalid", "this field cannot be emptied",
                                        keys[i], NULL, NULL);
                return -1;
            }
            *(i == 0 ? &m->strength : &m->form) = "";
        }
    }
    return 0;
}

static enum MHD_Result medicines_post(struct ctx *c, json_t *obj)
{
    struct medicine_in m;
    int active;
    char campaign[64];
    enum MHD_Result ret;
    if (medicine_body(c, obj, false, &m, &active, &ret) != 0 ||
        campaign_arg(c, campaign, &ret) != 0)
        return ret;
    json_t *out;
    int rc = store_medicine_add(c->api->st, &c->actor, campaign, &m, &out);
    if (rc == MK_EEXIST)
        return send_error_extra(c->conn, 409, "exists", "the list has a medicine with this code",
                                "code", NULL, NULL);
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    publish(c, "stock", json_incref(out));
    return send_json(c->conn, 201, out);
}

static enum MHD_Result medicine_patch(struct ctx *c, const char *id, json_t *obj)
{
    struct medicine_in m;
    int active;
    enum MHD_Result ret;
    if (medicine_body(c, obj, true, &m, &active, &ret) != 0)
        return ret;
    json_t *out;
    int rc = store_medicine_update(c->api->st, &c->actor, id, &m, active, &out);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no such medicine");
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    return send_json(c->conn, 200, out);
}

static enum MHD_Result send_out_of_stock(struct ctx *c, json_t *medicine)
{
    char msg[400];
    const char *strength = json_string_value(json_object_get(medicine, "strength"));
    const char *unit = json_string_value(json_object_get(medicine, "unit"));
    json_t *needed = json_object_get(medicine, "needed");
    if (!medicine)
        snprintf(msg, sizeof msg, "not enough stock");
    else if (needed)
        snprintf(msg, sizeof msg, "not enough %s%s%s: %lld %s needed, %lld left",
                 json_string_value(json_object_get(medicine, "name")), strength ? " " : "",
                 strength ? strength : "", (long long)json_integer_value(needed), unit ? unit : "",
                 (long long)json_integer_value(json_object_get(medicine, "stock")));
    else
        snprintf(msg, sizeof msg, "not enough %s%s%s: %lld %s left",
                 json_string_value(json_object_get(medicine, "name")), strength ? " " : "",
                 strength ? strength : "",
                 (long long)json_integer_value(json_object_get(medicine, "stock")),
                 unit ? unit : "");
    return send_error_extra(c->conn, 409, "out_of_stock", msg, NULL, "medicine", medicine);
}

static enum MHD_Result stock_post(struct ctx *c, const char *id, json_t *obj)
{
    struct body_err err;
    long long change = 0;
    bool given;
    const char *reason, *note;
    if (body_opt_int(obj, "change", -10000000, 10000000, true, &change, &given, &err) != MK_OK ||
        body_text(obj, "reason", 16, true, &reason, &err) != MK_OK ||
        body_text(obj, "note", 300, false, &note, &err) != MK_OK)
        return send_body_error(c->conn, &err);
    if (strcmp(reason, "receive") && strcmp(reason, "adjust"))
        return send_error_extra(c->conn, 400, "invalid", "reason must be receive or adjust",
                                "reason", NULL, NULL);
    if (change == 0 || (!strcmp(reason, "receive") && change < 0))
        return send_error_extra(c->conn, 400, "invalid",
                                "change must not be 0, and a receipt adds (change > 0)", "change",
                                NULL, NULL);
    json_t *out = NULL;
    int rc = store_stock_change(c->api->st, &c->actor, id, (int)change, reason, note, &out);
    if (rc == MK_ERANGE)
        return send_out_of_stock(c, out);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no such medicine");
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    publish(c, "stock", json_incref(out));
    return send_json(c->conn, 200, out);
}

static enum MHD_Result medicines_get(struct ctx *c)
{
    char campaign[64];
    enum MHD_Result ret;
    if (campaign_arg(c, campaign, &ret) != 0)
        return ret;
    const char *all = arg(c, "all");
    json_t *list;
    int rc = store_medicine_list(c->api->st, campaign, all && !strcmp(all, "1"), &list);
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    return send_json(c->conn, 200, json_pack("{s:o}", "medicines", list));
}

/* ---- prescriptions and dispensing ---- */

static enum MHD_Result prescription_post(struct ctx *c, const char *visit, json_t *obj)
{
    struct body_err err;
    const char *medicine, *dosage;
    long long qty = 0;
    bool given;
    if (body_text(obj, "medicine", 64, true, &medicine, &err) != MK_OK ||
        body_opt_int(obj, "quantity", 1, 10000, true, &qty, &given, &err) != MK_OK ||
        body_text(obj, "dosage", 300, false, &dosage, &err) != MK_OK)
        return send_body_error(c->conn, &err);
    json_t *out;
    int rc = store_prescription_add(c->api->st, &c->actor, visit, medicine, (int)qty, dosage, &out);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no such visit");
    if (rc == MK_ERANGE)
        return send_error_extra(c->conn, 400, "invalid", "no such medicine on this campaign's list",
                                "medicine", NULL, NULL);
    if (rc == MK_EPERM)
        return send_error_extra(c->conn, 400, "invalid",
                                "this medicine was taken off the campaign's list", "medicine", NULL,
                                NULL);
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    return send_json(c->conn, 201, out);
}

static enum MHD_Result prescription_delete(struct ctx *c, const char *id)
{
    json_t *out;
    int rc = store_prescription_cancel(c->api->st, &c->actor, id, &out);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no such prescription");
    if (rc == MK_EEXIST)
        return send_error(c->conn, 409, "conflict",
                          "this prescription was dispensed or cancelled already");
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    return send_json(c->conn, 200, out);
}

static enum MHD_Result dispense_post(struct ctx *c, const char *visit, json_t *obj)
{
    json_t *items = json_object_get(obj, "items");
    const char *ids[64];
    size_t n = 0;
    if (items && !json_is_null(items)) {
        size_t i;
        json_t *x;
        if (!json_is_array(items) || json_array_size(items) == 0 ||
            json_array_size(items) > sizeof ids / sizeof ids[0])
            return send_error_extra(c->conn, 400, "invalid",
                                    "items must be a list of 1-64 prescription ids", "items", NULL,
                                    NULL);
        json_array_foreach(items, i, x)
        {
            if (!json_is_string(x))
                return send_error_extra(c->conn, 400, "invalid",
                                        "items must be a list of prescription ids", "items", NULL,
                                        NULL);
            for (size_t k = 0; k < n; k++)
                if (!strcmp(ids[k], json_string_value(x)))
                    return send_error_extra(c->conn, 400, "invalid", "an item is listed twice",
                                            "items", NULL, NULL);
            ids[n++] = json_string_value(x);
        }
    }
    json_t *out = NULL, *problem = NULL;
    int rc = store_dispense(c->api->st, &c->actor, visit, ids, n, &out, &problem);
    switch (rc) {
    case MK_OK:
        break;
    case MK_ERANGE:
        return send_out_of_stock(c, problem);
    case MK_EEXIST:
        return send_error_extra(c->conn, 409, "conflict",
                                "a medicine of this prescription was dispensed or cancelled "
                                "already: reload the prescription",
                                NULL, "prescription", problem);
    case MK_EINVAL:
        return send_error(c->conn, 400, "invalid", "nothing is waiting to be dispensed");
    case MK_ENOTFOUND:
        return send_error(c->conn, 404, "not_found",
                          n ? "no such visit, or an item is not of this visit" : "no such visit");
    default:
        json_decref(problem);
        return send_store_error(c->conn, rc);
    }
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(out, "medicines"), i, m) publish(c, "stock", json_incref(m));
    return send_json(c->conn, 200, out);
}

/* ---- queue calls ---- */

static enum MHD_Result call_post(struct ctx *c, const char *station, json_t *obj)
{
    struct body_err err;
    int next, recall;
    long long number = 0;
    bool given;
    if (body_opt_bool(obj, "next", &next, &err) != MK_OK ||
        body_opt_bool(obj, "recall", &recall, &err) != MK_OK ||
        body_opt_int(obj, "queue_number", 1, 100000, false, &number, &given, &err) != MK_OK)
        return send_body_error(c->conn, &err);
    if ((recall == 1) + given + (next == 1) > 1)
        return send_error(c->conn, 400, "invalid", "give one of next, recall or queue_number");
    enum queue_call_mode mode = recall == 1 ? QUEUE_RECALL : given ? QUEUE_NUMBER : QUEUE_NEXT;
    char campaign[64];
    enum MHD_Result ret;
    if (current_campaign_id(c, NULL, campaign, &ret) != 0)
        return ret;
    json_t *out;
    int rc = store_queue_call(c->api->st, &c->actor, station, mode, (int)number, campaign, &out);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no such station");
    if (rc == MK_ERANGE)
        return send_error(c->conn, 409, "queue_empty",
                          mode == QUEUE_NEXT     ? "nobody is waiting for this station"
                          : mode == QUEUE_RECALL ? "this station has called nobody today"
                                                 : "no visit today has this number");
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    /* the queue screen shows numbers, never names */
    publish(c, "call",
            json_pack("{s:O, s:O, s:O, s:O}", "station", json_object_get(out, "station"),
                      "queue_number", json_object_get(out, "queue_number"), "recall",
                      json_object_get(out, "recall"), "called_at",
                      json_object_get(out, "called_at")));
    return send_json(c->conn, 200, out);
}

static enum MHD_Result queue_get(struct ctx *c)
{
    char campaign[64];
    enum MHD_Result ret;
    if (current_campaign_id(c, NULL, campaign, &ret) != 0)
        return ret;
    json_t *out;
    int rc = store_queue_status(c->api->st, campaign, &out);
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    return send_json(c->conn, 200, out);
}

/* ---- dashboard ---- */

static enum MHD_Result dashboard_get(struct ctx *c)
{
    const char *scope = arg(c, "scope");
    char campaign[64], day[11];
    enum MHD_Result ret;
    if (!scope || !scope[0])
        scope = "today";
    if (strcmp(scope, "today") && strcmp(scope, "campaign") && strcmp(scope, "day"))
        return send_error_extra(c->conn, 400, "invalid", "scope must be today, day or campaign",
                                "scope", NULL, NULL);
    if (day_arg(c, !strcmp(scope, "day") ? arg(c, "day") : NULL, day, &ret) != 0 ||
        campaign_arg(c, campaign, &ret) != 0)
        return ret;
    bool whole = !strcmp(scope, "campaign");
    json_t *visits = NULL, *meds = NULL, *camp = NULL;
    int rc = store_visit_list(c->api->st, campaign, whole ? NULL : day, &visits);
    if (rc == MK_OK)
        rc = store_medicine_given(c->api->st, campaign, whole ? NULL : day, &meds);
    if (rc == MK_OK)
        rc = store_campaign_get(c->api->st, campaign, &camp);
    if (rc != MK_OK) {
        json_decref(visits);
        json_decref(meds);
        return send_store_error(c->conn, rc);
    }
    json_t *out = review_dashboard(&c->api->rules, visits, meds);
    json_decref(visits);
    json_decref(meds);
    json_object_set_new(out, "scope", json_string(whole ? "campaign" : "day"));
    json_object_set_new(out, "day", whole ? json_null() : json_string(day));
    json_object_set_new(out, "campaign", camp);
    return send_json(c->conn, 200, out);
}

/* ---- setup: campaign details, staff ---- */

static enum MHD_Result campaign_patch(struct ctx *c, const char *code, json_t *obj)
{
    struct campaign_in in;
    struct body_err err;
    if (json_object_get(obj, "code"))
        return send_error_extra(c->conn, 400, "invalid", "a campaign's code never changes", "code",
                                NULL, NULL);
    json_object_set_new(obj, "code", json_string("x")); /* body_campaign requires both */
    bool had_name = json_object_get(obj, "name") != NULL;
    if (!had_name)
        json_object_set_new(obj, "name", json_string("x"));
    if (body_campaign(obj, &in, &err) != MK_OK)
        return send_body_error(c->conn, &err);
    in.code = NULL;
    if (!had_name)
        in.name = NULL;
    json_t *out;
    int rc = store_campaign_update(c->api->st, &c->actor, code, &in, &out);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no such campaign");
    if (rc == MK_EINVAL)
        return send_error(c->conn, 400, "invalid", "the start date is after the end date");
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    return send_json(c->conn, 200, out);
}

static enum MHD_Result staff_patch(struct ctx *c, const char *id, json_t *obj)
{
    struct body_err err;
    int active;
    const char *pin;
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        if (strcmp(key, "active") && strcmp(key, "pin"))
            return send_error_extra(c->conn, 400, "invalid", "only active and pin can be changed",
                                    key, NULL, NULL);
    }
    if (body_opt_bool(obj, "active", &active, &err) != MK_OK ||
        body_opt_string(obj, "pin", &pin, &err) != MK_OK)
        return send_body_error(c->conn, &err);
    if (pin && !store_pin_valid(pin))
        return send_error_extra(c->conn, 400, "invalid", "a PIN is 4 to 8 digits", "pin", NULL,
                                NULL);
    if (active == -1 && !pin)
        return send_error(c->conn, 400, "invalid", "give active or pin");
    if (active == 0 && !strcmp(id, c->actor.staff_id))
        return send_error_extra(c->conn, 400, "invalid", "you cannot deactivate yourself", "active",
                                NULL, NULL);
    json_t *out;
    int rc = store_staff_update(c->api->st, &c->actor, id, active, pin, &out);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no such staff member");
    if (rc == MK_EEXIST)
        return send_error_extra(c->conn, 409, "pin_taken",
                                "another active staff member has this PIN: choose another", "pin",
                                NULL, NULL);
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    return send_json(c->conn, 200, out);
}

/* ---- routing ---- */

static bool seg_is(const struct ctx *c, int i, const char *s)
{
    return c->nseg > i && strcmp(c->seg[i], s) == 0;
}

#define NEED(perms)                        \
    do {                                   \
        if (require(c, (perms), ret) != 0) \
            return 1;                      \
    } while (0)

#define WITH_BODY(call)                    \
    do {                                   \
        json_t *obj_;                      \
        if (need_body(c, &obj_, ret) != 0) \
            return 1;                      \
        *ret = (call);                     \
        json_decref(obj_);                 \
        return 1;                          \
    } while (0)

int clinic_route(struct ctx *c, enum MHD_Result *ret)
{
    const char *a = c->seg[0], *id = c->nseg > 1 ? c->seg[1] : NULL;
    if (is(c, "GET")) {
        if (c->nseg == 1 && !strcmp(a, "visits")) {
            NEED(PERM_READ);
            *ret = visits_list(c);
            return 1;
        }
        if (c->nseg == 2 && !strcmp(a, "visits")) {
            NEED(PERM_READ);
            *ret = send_visit(c, id, 200);
            return 1;
        }
        if (c->nseg == 1 && !strcmp(a, "conditions")) {
            NEED(PERM_READ);
            *ret = conditions_get(c);
            return 1;
        }
        if (c->nseg == 1 && !strcmp(a, "referrals")) {
            NEED(PERM_READ);
            *ret = referrals_get(c);
            return 1;
        }
        if (c->nseg == 2 && !strcmp(a, "referrals")) {
            NEED(PERM_READ);
            json_t *r;
            int rc = store_referral_get(c->api->st, id, &r);
            *ret = rc == MK_OK          ? send_json(c->conn, 200, r)
                   : rc == MK_ENOTFOUND ? send_error(c->conn, 404, "not_found", "no such referral")
                                        : send_store_error(c->conn, rc);
            return 1;
        }
        if (c->nseg == 1 && !strcmp(a, "medicines")) {
            NEED(PERM_READ);
            *ret = medicines_get(c);
            return 1;
        }
        if (c->nseg == 2 && !strcmp(a, "medicines")) {
            NEED(PERM_READ);
            json_t *m;
            int rc = store_medicine_get(c->api->st, id, NULL, &m);
            *ret = rc == MK_OK          ? send_json(c->conn, 200, m)
                   : rc == MK_ENOTFOUND ? send_error(c->conn, 404, "not_found", "no such medicine")
                                        : send_store_error(c->conn, rc);
            return 1;
        }
        if (c->nseg == 1 && !strcmp(a, "queue")) { /* no token: numbers only, for a TV */
            *ret = queue_get(c);
            return 1;
        }
        if (c->nseg == 1 && !strcmp(a, "dashboard")) {
            NEED(PERM_READ);
            *ret = dashboard_get(c);
            return 1;
        }
        return 0;
    }
    if (is(c, "PATCH") && c->nseg == 2) {
        if (!strcmp(a, "visits")) {
            NEED(PERM_OBS_WRITE);
            WITH_BODY(visit_patch(c, id, obj_));
        }
        if (!strcmp(a, "medicines")) {
            NEED(PERM_ADMIN);
            WITH_BODY(medicine_patch(c, id, obj_));
        }
        if (!strcmp(a, "campaigns")) {
            NEED(PERM_ADMIN);
            WITH_BODY(campaign_patch(c, id, obj_));
        }
        if (!strcmp(a, "staff")) {
            NEED(PERM_ADMIN);
            WITH_BODY(staff_patch(c, id, obj_));
        }
        return 0;
    }
    if (is(c, "DELETE") && c->nseg == 2) {
        if (!strcmp(a, "findings")) {
            NEED(PERM_CLINICAL);
            json_t *f;
            int rc = store_finding_remove(c->api->st, &c->actor, id, &f);
            *ret = rc == MK_OK          ? send_json(c->conn, 200, f)
                   : rc == MK_ENOTFOUND ? send_error(c->conn, 404, "not_found", "no such finding")
                   : rc == MK_EEXIST
                       ? send_error(c->conn, 409, "conflict", "this finding was removed already")
                       : send_store_error(c->conn, rc);
            return 1;
        }
        if (!strcmp(a, "prescriptions")) {
            NEED(PERM_CLINICAL);
            *ret = prescription_delete(c, id);
            return 1;
        }
        return 0;
    }
    if (!is(c, "POST"))
        return 0;
    if (c->nseg == 3 && !strcmp(a, "visits")) {
        if (seg_is(c, 2, "findings")) {
            NEED(PERM_CLINICAL);
            WITH_BODY(finding_post(c, id, obj_));
        }
        if (seg_is(c, 2, "referrals")) {
            NEED(PERM_CLINICAL);
            WITH_BODY(referral_post(c, id, obj_));
        }
        if (seg_is(c, 2, "prescriptions")) {
            NEED(PERM_CLINICAL);
            WITH_BODY(prescription_post(c, id, obj_));
        }
        if (seg_is(c, 2, "dispense")) {
            NEED(PERM_DISPENSE);
            WITH_BODY(dispense_post(c, id, obj_));
        }
        return 0;
    }
    if (c->nseg == 3 && !strcmp(a, "referrals") && seg_is(c, 2, "status")) {
        NEED(PERM_CLINICAL);
        WITH_BODY(referral_status_post(c, id, obj_));
    }
    if (c->nseg == 1 && !strcmp(a, "medicines")) {
        NEED(PERM_ADMIN);
        WITH_BODY(medicines_post(c, obj_));
    }
    if (c->nseg == 3 && !strcmp(a, "medicines") && seg_is(c, 2, "stock")) {
        NEED(PERM_STOCK);
        WITH_BODY(stock_post(c, id, obj_));
    }
    if (c->nseg == 3 && !strcmp(a, "stations") && seg_is(c, 2, "call")) {
        NEED(PERM_READ);
        WITH_BODY(call_post(c, id, obj_));
    }
    return 0;
}

const char *clinic_allowed(const struct ctx *c)
{
    const char *a = c->seg[0];
    if (c->nseg == 1) {
        if (!strcmp(a, "visits") || !strcmp(a, "medicines"))
            return "GET, POST";
        if (!strcmp(a, "conditions") || !strcmp(a, "referrals") || !strcmp(a, "queue") ||
            !strcmp(a, "dashboard"))
            return "GET";
        return NULL;
    }
    if (c->nseg == 2) {
        if (!strcmp(a, "visits") || !strcmp(a, "medicines"))
            return "GET, PATCH";
        if (!strcmp(a, "referrals"))
            return "GET";
        if (!strcmp(a, "campaigns") || !strcmp(a, "staff"))
            return "PATCH";
        if (!strcmp(a, "findings") || !strcmp(a, "prescriptions"))
            return "DELETE";
        return NULL;
    }
    if (c->nseg == 3) {
        if (!strcmp(a, "visits") && (seg_is(c, 2, "findings") || seg_is(c, 2, "referrals") ||
                                     seg_is(c, 2, "prescriptions") || seg_is(c, 2, "dispense")))
            return "POST";
        if ((!strcmp(a, "referrals") && seg_is(c, 2, "status")) ||
            (!strcmp(a, "medicines") && seg_is(c, 2, "stock")) ||
            (!strcmp(a, "stations") && seg_is(c, 2, "call")))
            return "POST";
    }
    return NULL;
}
