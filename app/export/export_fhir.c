/* FHIR R4 export: DIR/bundle.json (a transaction Bundle of the whole campaign, conditional
 * creates) and DIR/<ResourceType>.ndjson (one resource a line, relative references), written
 * as the store is read. The mapping is app/domain/fhir.c; app/doc/fhir.md describes both. */
#include "fhir.h"

#include "export_int.h"

#include "../common/err.h"
#include "../common/log.h"
#include "../store/store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *const fhir_type_names[FHIR_NTYPES] = {
    "Organization",   "Location",           "Practitioner", "Device",
    "Patient",        "Encounter",          "Observation",  "Condition",
    "ServiceRequest", "MedicationDispense", "Provenance"};

/* ---- opening: the campaign and its identifier systems ------------------------------------- */

static const char *campaign_str(const struct fhir_src *s, const char *key)
{
    const char *v = json_string_value(json_object_get(s->campaign, key));
    return v && v[0] ? v : NULL;
}

int fhir_src_open(struct fhir_src *s, struct store *st, const char *campaign, json_t *opts)
{
    *s = (struct fhir_src){.st = st};
    sqlite3_stmt *q = store_stmt(st, "SELECT id, code, name, province, district, commune, "
                                     "village, hospital, id_systems FROM campaign "
                                     "WHERE code = ?1 OR id = ?1");
    if (!q)
        return MK_EDB;
    sqlite3_bind_text(q, 1, campaign ? campaign : "", -1, SQLITE_TRANSIENT);
    int rc = store_one_row(st, q, &s->campaign);
    if (rc != MK_OK)
        return rc;
    s->campaign_id = campaign_str(s, "id");

    /* Systems: the export's options, else the campaign's, else mokit's defaults. */
    const char *keys[3] = {"cccd", "bhyt", "code"};
    const char *defaults[3] = {FHIR_DEFAULT_SYS_CCCD, FHIR_DEFAULT_SYS_BHYT, FHIR_DEFAULT_SYS_CODE};
    const char *chosen[3] = {NULL, NULL, NULL};
    json_t *camp = NULL;
    const char *camp_text = campaign_str(s, "id_systems");
    if (camp_text) {
        camp = json_loads(camp_text, 0, NULL);
        if (!json_is_object(camp)) {
            LOG(LOG_ERROR, "campaign %s: id_systems is not a JSON object", s->campaign_id);
            rc = MK_EINVAL;
            goto out;
        }
    }
    const char *k;
    json_t *v;
    json_object_foreach(opts, k, v)
    {
        if (strncmp(k, "system_", 7) != 0)
            continue; /* another format's option */
        int i = 0;
        while (i < 3 && strcmp(k + 7, keys[i]) != 0)
            i++;
        if (i == 3 || !json_is_string(v) || !fhir_system_valid(json_string_value(v))) {
            LOG(LOG_ERROR,
                "FHIR export: option %s must be one of system_cccd, system_bhyt, "
                "system_code, with an absolute URI (\"urn:...\", \"https://...\")",
                k);
            rc = MK_EINVAL;
            goto out;
        }
        chosen[i] = json_string_value(v);
    }
    for (int i = 0; i < 3; i++) {
        if (chosen[i])
            continue;
        json_t *cv = json_object_get(camp, keys[i]);
        if (cv && !json_is_null(cv)) {
            if (!json_is_string(cv) || !fhir_system_valid(json_string_value(cv))) {
                LOG(LOG_ERROR, "campaign %s: id_systems.%s is not an absolute URI", s->campaign_id,
                    keys[i]);
                rc = MK_EINVAL;
                goto out;
            }
            chosen[i] = json_string_value(cv);
        } else {
            chosen[i] = defaults[i];
        }
    }
    /* Keep the three strings past the JSON they came from. */
    size_t n0 = strlen(chosen[0]) + 1, n1 = strlen(chosen[1]) + 1, n2 = strlen(chosen[2]) + 1;
    s->systems_json = malloc(n0 + n1 + n2);
    if (!s->systems_json) {
        rc = MK_ENOMEM;
        goto out;
    }
    memcpy(s->systems_json, chosen[0], n0);
    memcpy(s->systems_json + n0, chosen[1], n1);
    memcpy(s->systems_json + n0 + n1, chosen[2], n2);
    s->sys_cccd = s->systems_json;
    s->sys_bhyt = s->systems_json + n0;
    s->sys_code = s->systems_json + n0 + n1;

    const char *hospital = campaign_str(s, "hospital");
    if (hospital)
        fhir_uuid_derive("Organization", hospital, s->organization_id);
    rc = MK_OK;
out:
    json_decref(camp);
    if (rc != MK_OK)
        fhir_src_close(s);
    return rc;
}

void fhir_src_close(struct fhir_src *s)
{
    json_decref(s->campaign);
    free(s->systems_json);
    fhir_buf_free(&s->nd);
    fhir_buf_free(&s->en);
    s->campaign = NULL;
    s->systems_json = NULL;
}

/* ---- walking ------------------------------------------------------------------------------ */

/* The residents of a campaign: registered in it, or seen at one of its visits. */
#define PATIENT_WHERE                                                                     \
    "(p.campaign_id = ?1 OR EXISTS (SELECT 1 FROM visit v WHERE v.patient_id = p.id AND " \
    "v.campaign_id = ?1)) AND p.id > ?2 AND (?3 IS NULL OR p.id <= ?3)"
/* The campaign's visits of the residents in the range. */
#define VISIT_WHERE \
    "v.campaign_id = ?1 AND v.patient_id > ?2 AND (?3 IS NULL OR v.patient_id <= ?3)"

static sqlite3_stmt *range_stmt(struct fhir_src *s, const char *sql, const char *after,
                                const char *upto)
{
    sqlite3_stmt *q = store_stmt(s->st, sql);
    if (!q)
        return NULL;
    sqlite3_bind_text(q, 1, s->campaign_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, after ? after : "", -1, SQLITE_TRANSIENT);
    if (upto)
        sqlite3_bind_text(q, 3, upto, -1, SQLITE_TRANSIENT);
    return q;
}

static const char *col(sqlite3_stmt *q, int i)
{
    const char *v = (const char *)sqlite3_column_text(q, i);
    return v && v[0] ? v : NULL;
}

static int opt_int(sqlite3_stmt *q, int i, int none)
{
    return sqlite3_column_type(q, i) == SQLITE_NULL ? none : sqlite3_column_int(q, i);
}

typedef void (*write_fn)(struct fhir_buf *b, const struct fhir_ctx *c, const void *arg);

/* Writes one resource in the forms wanted and hands it to the callback. cond_system NULL: the
 * conditional create is on the resource's urn:uuid identifier; put: PUT at its id instead. */
static int emit(struct fhir_src *s, enum fhir_type t, const char *id, write_fn w, const void *arg,
                const char *cond_system, const char *cond_value, int put)
{
    struct fhir_ctx c = {
        .sys_cccd = s->sys_cccd,
        .sys_bhyt = s->sys_bhyt,
        .sys_code = s->sys_code,
        .organization_id = s->organization_id[0] ? s->organization_id : NULL,
        .location_id = s->campaign_id,
    };
    struct fhir_res r = {.type = t, .id = id};
    if (s->want & FHIR_WANT_NDJSON) {
        s->nd.len = 0;
        c.refs = FHIR_REFS_RELATIVE;
        w(&s->nd, &c, arg);
        fhir_buf_put(&s->nd, "\n", 1);
        if (s->nd.failed)
            return MK_ENOMEM;
        r.ndjson = s->nd.p;
        r.ndjson_len = s->nd.len;
    }
    if (s->want & FHIR_WANT_ENTRY) {
        s->en.len = 0;
        c.refs = FHIR_REFS_URN;
        fhir_entry_open(&s->en, id);
        w(&s->en, &c, arg);
        if (put) {
            fhir_entry_close_put(&s->en, fhir_type_names[t], id);
        } else {
            char cond[600], urn[64];
            if (!cond_system) {
                snprintf(urn, sizeof urn, "urn:uuid:%s", id);
                cond_system = FHIR_SYS_URI;
                cond_value = urn;
            }
            if (!fhir_if_none_exist(cond, sizeof cond, cond_system, cond_value))
                return MK_EINVAL; /* systems are at most 255 bytes: cannot happen */
            fhir_entry_close_post(&s->en, fhir_type_names[t], cond);
        }
        if (s->en.failed)
            return MK_ENOMEM;
        r.entry = s->en.p;
        r.entry_len = s->en.len;
    }
    s->counts[t]++;
    if ((s->counts[t] & 4095) == 0)
        progress_note(s->progress, fhir_type_names[t], s->counts[t], 0);
    return s->fn(s->ctx, &r);
}

/* Adapters from write_fn to the typed mapping functions. */
#define ADAPT(name, fn, type)                                                     \
    static void name(struct fhir_buf *b, const struct fhir_ctx *c, const void *a) \
    {                                                                             \
        fn(b, c, (const type *)a);                                                \
    }
ADAPT(w_org, fhir_organization, struct fhir_organization)
ADAPT(w_loc, fhir_location, struct fhir_location)
ADAPT(w_pract, fhir_practitioner, struct fhir_practitioner)
ADAPT(w_dev, fhir_device, struct fhir_device)
ADAPT(w_pat, fhir_patient, struct fhir_patient)
ADAPT(w_enc, fhir_encounter, struct fhir_encounter)
ADAPT(w_cond, fhir_condition, struct fhir_condition)
ADAPT(w_sr, fhir_service_request, struct fhir_referral)
ADAPT(w_md, fhir_medication_dispense, struct fhir_dispense)
ADAPT(w_prov, fhir_provenance, struct fhir_provenance)
static void w_obs(struct fhir_buf *b, const struct fhir_ctx *c, const void *a)
{
    fhir_observation(b, c, a); /* the caller checked the code */
}

/* The Device id for a "driver/model/serial": a hash, remembered for the few devices a
 * campaign has. */
struct dev_cache {
    char device[8][160];
    char id[8][37];
    char spill[37]; /* for a name too long to remember */
    int next;
};

static const char *device_id(struct dev_cache *dc, const char *device)
{
    if (!device)
        return NULL;
    if (strlen(device) >= sizeof dc->device[0]) {
        fhir_uuid_derive("Device", device, dc->spill);
        return dc->spill;
    }
    for (int i = 0; i < 8; i++)
        if (dc->id[i][0] && strcmp(dc->device[i], device) == 0)
            return dc->id[i];
    int i = dc->next;
    dc->next = (dc->next + 1) % 8;
    fhir_uuid_derive("Device", device, dc->id[i]);
    snprintf(dc->device[i], sizeof dc->device[i], "%s", device);
    return dc->id[i];
}

static int step_done(struct fhir_src *s, sqlite3_stmt *q, int rc, int step)
{
    sqlite3_reset(q);
    if (rc != MK_OK)
        return rc;
    return step == SQLITE_DONE ? MK_OK : store_err(s->st, step, "FHIR export");
}

static int walk_shared(struct fhir_src *s, const char *after, const char *upto)
{
    int rc = MK_OK, step;
    if (s->organization_id[0]) {
        struct fhir_organization o = {s->organization_id, campaign_str(s, "hospital")};
        rc = emit(s, FHIR_ORGANIZATION, o.id, w_org, &o, NULL, NULL, 0);
        if (rc != MK_OK)
            return rc;
    }
    struct fhir_location l = {
        .id = s->campaign_id,
        .code = campaign_str(s, "code"),
        .name = campaign_str(s, "name"),
        .village = campaign_str(s, "village"),
        .commune = campaign_str(s, "commune"),
        .district = campaign_str(s, "district"),
        .province = campaign_str(s, "province"),
    };
    rc = emit(s, FHIR_LOCATION, l.id, w_loc, &l, NULL, NULL, 0);
    if (rc != MK_OK)
        return rc;

    /* The staff that the range's records name. */
    sqlite3_stmt *q = range_stmt(
        s,
        "SELECT id, name, role, active FROM staff WHERE id IN ("
        "SELECT v.created_by FROM visit v WHERE " VISIT_WHERE
        " UNION SELECT o.taken_by FROM visit v JOIN observation o ON o.visit_id = v.id "
        "WHERE " VISIT_WHERE " UNION SELECT f.created_by FROM visit v JOIN finding f ON f.visit_id "
        "= v.id WHERE " VISIT_WHERE " AND f.removed_at IS NULL"
        " UNION SELECT r.created_by FROM visit v JOIN referral r ON r.visit_id = v.id "
        "WHERE " VISIT_WHERE " UNION SELECT x.done_by FROM visit v JOIN prescription x ON "
        "x.visit_id = v.id WHERE " VISIT_WHERE " AND x.state = 'dispensed'"
        " UNION SELECT d.assigned_by FROM visit v JOIN device_reading d ON d.visit_id = v.id "
        "WHERE " VISIT_WHERE " AND d.state = 'attached' AND d.observation_id IS NOT NULL"
        ") ORDER BY id",
        after, upto);
    if (!q)
        return MK_EDB;
    while (rc == MK_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
        struct fhir_practitioner p = {col(q, 0), col(q, 1), col(q, 2), sqlite3_column_int(q, 3)};
        rc = emit(s, FHIR_PRACTITIONER, p.id, w_pract, &p, NULL, NULL, 0);
    }
    rc = step_done(s, q, rc, step);
    if (rc != MK_OK)
        return rc;

    /* The devices that measured the range's observations. */
    q = range_stmt(
        s,
        "SELECT device FROM visit v JOIN observation o ON o.visit_id = v.id WHERE " VISIT_WHERE
        " AND o.device IS NOT NULL AND o.device <> ''"
        " UNION SELECT d.device FROM visit v JOIN device_reading d ON d.visit_id = v.id "
        "WHERE " VISIT_WHERE " AND d.state = 'attached' AND d.observation_id IS NOT NULL "
        "ORDER BY 1",
        after, upto);
    if (!q)
        return MK_EDB;
    while (rc == MK_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
        char id[37];
        struct fhir_device d = {id, col(q, 0)};
        if (!d.device)
            continue;
        fhir_uuid_derive("Device", d.device, id);
        rc = emit(s, FHIR_DEVICE, id, w_dev, &d, NULL, NULL, 0);
    }
    return step_done(s, q, rc, step);
}

static int walk_patients(struct fhir_src *s, const char *after, const char *upto)
{
    int rc = MK_OK, step;
    sqlite3_stmt *q = range_stmt(s,
                                 "SELECT p.id, p.code, p.name, p.sex, p.birth_date, p.birth_year, "
                                 "p.phone, p.address, p.village, p.commune, p.district, "
                                 "p.province, p.cccd, p.bhyt FROM patient p WHERE " PATIENT_WHERE
                                 " ORDER BY p.id",
                                 after, upto);
    if (!q)
        return MK_EDB;
    while (rc == MK_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
        struct fhir_patient p = {
            .id = col(q, 0),
            .code = col(q, 1),
            .name = col(q, 2),
            .sex = col(q, 3),
            .birth_date = col(q, 4),
            .birth_year = sqlite3_column_int(q, 5),
            .phone = col(q, 6),
            .address = col(q, 7),
            .village = col(q, 8),
            .commune = col(q, 9),
            .district = col(q, 10),
            .province = col(q, 11),
            .cccd = col(q, 12),
            .bhyt = col(q, 13),
        };
        struct fhir_ctx c = {.sys_cccd = s->sys_cccd, .sys_code = s->sys_code};
        const char *sys, *val;
        fhir_patient_key(&c, &p, &sys, &val);
        rc = emit(s, FHIR_PATIENT, p.id, w_pat, &p, sys, val, 0);
    }
    rc = step_done(s, q, rc, step);
    if (rc != MK_OK)
        return rc;

    q = range_stmt(
        s,
        "SELECT v.id, v.patient_id, v.created_at, v.created_by FROM visit v WHERE " VISIT_WHERE
        " ORDER BY v.id",
        after, upto);
    if (!q)
        return MK_EDB;
    while (rc == MK_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
        struct fhir_encounter e = {col(q, 0), col(q, 1), col(q, 2), col(q, 3)};
        rc = emit(s, FHIR_ENCOUNTER, e.id, w_enc, &e, NULL, NULL, 0);
    }
    return step_done(s, q, rc, step);
}

/* The latest weight or height of the visit being walked, for its BMI. */
struct last_obs {
    char id[64], taken_at[40];
    double v;
    int set;
};

static void remember(struct last_obs *l, const char *id, const char *taken_at, double v)
{
    snprintf(l->id, sizeof l->id, "%s", id);
    snprintf(l->taken_at, sizeof l->taken_at, "%s", taken_at ? taken_at : "");
    l->v = v;
    l->set = 1;
}

/* A BMI Observation when the visit has a weight and a height. */
static int emit_bmi(struct fhir_src *s, const char *visit_id, const char *patient_id,
                    struct last_obs *w, struct last_obs *h)
{
    int rc = MK_OK;
    double bmi = w->set && h->set ? fhir_bmi_value(w->v, h->v) : 0;
    if (bmi > 0) {
        char id[37];
        fhir_uuid_derive("bmi", visit_id, id);
        struct fhir_obs o = {
            .id = id,
            .patient_id = patient_id,
            .encounter_id = visit_id,
            .code = "bmi",
            .unit = "kg/m2",
            .v = {bmi},
            .has = {1},
            .fasting = -1,
            .taken_at = strcmp(w->taken_at, h->taken_at) > 0 ? w->taken_at : h->taken_at,
            .derived_from = {w->id, h->id},
        };
        rc = emit(s, FHIR_OBSERVATION, id, w_obs, &o, NULL, NULL, 0);
    }
    w->set = h->set = 0;
    return rc;
}

static int walk_observations(struct fhir_src *s, const char *after, const char *upto)
{
    int rc = MK_OK, step;
    struct dev_cache dc = {0};
    struct last_obs weight = {0}, height = {0};
    char visit[64] = "", patient[64] = "";
    sqlite3_stmt *q =
        range_stmt(s,
                   "SELECT o.id, o.visit_id, v.patient_id, o.code, o.value, o.value2, o.value3, "
                   "o.unit, o.device, o.taken_at, o.taken_by, o.note, o.fasting "
                   "FROM visit v JOIN observation o ON o.visit_id = v.id WHERE " VISIT_WHERE
                   " ORDER BY o.visit_id, o.taken_at, o.id",
                   after, upto);
    if (!q)
        return MK_EDB;
    while (rc == MK_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
        const char *visit_id = col(q, 1), *code = col(q, 3);
        if (!visit_id || !code)
            continue;
        if (strcmp(visit, visit_id) != 0) {
            if (visit[0] && (rc = emit_bmi(s, visit, patient, &weight, &height)) != MK_OK)
                break;
            snprintf(visit, sizeof visit, "%s", visit_id);
            snprintf(patient, sizeof patient, "%s", col(q, 2) ? col(q, 2) : "");
        }
        if (!fhir_obs_code_known(code)) {
            LOG(LOG_WARN, "observation %s: kind \"%s\" has no FHIR mapping: left out", col(q, 0),
                code);
            continue;
        }
        struct fhir_obs o = {
            .id = col(q, 0),
            .encounter_id = visit_id,
            .patient_id = col(q, 2),
            .code = code,
            .unit = col(q, 7),
            .fasting = opt_int(q, 12, -1),
            .taken_at = col(q, 9),
            .staff_id = col(q, 10),
            .note = col(q, 11),
            .device_id = device_id(&dc, col(q, 8)),
        };
        for (int i = 0; i < 3; i++) {
            o.has[i] = sqlite3_column_type(q, 4 + i) != SQLITE_NULL;
            o.v[i] = sqlite3_column_double(q, 4 + i);
        }
        if (strcmp(code, "weight") == 0)
            remember(&weight, o.id, o.taken_at, o.v[0]);
        else if (strcmp(code, "height") == 0)
            remember(&height, o.id, o.taken_at, o.v[0]);
        rc = emit(s, FHIR_OBSERVATION, o.id, w_obs, &o, NULL, NULL, 0);
    }
    if (rc == MK_OK && step == SQLITE_DONE && visit[0])
        rc = emit_bmi(s, visit, patient, &weight, &height);
    return step_done(s, q, rc, step);
}

static int walk_records(struct fhir_src *s, const char *after, const char *upto)
{
    int rc = MK_OK, step;
    sqlite3_stmt *q = range_stmt(s,
                                 "SELECT f.id, v.patient_id, f.visit_id, f.icd10, f.label, "
                                 "f.note, f.created_at, f.created_by, f.known FROM visit v "
                                 "JOIN finding f ON f.visit_id = v.id WHERE " VISIT_WHERE
                                 " AND f.removed_at IS NULL ORDER BY f.id",
                                 after, upto);
    if (!q)
        return MK_EDB;
    while (rc == MK_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
        struct fhir_condition f = {col(q, 0), col(q, 1), col(q, 2),
                                   col(q, 3), col(q, 4), col(q, 5),
                                   col(q, 6), col(q, 7), sqlite3_column_int(q, 8)};
        rc = emit(s, FHIR_CONDITION, f.id, w_cond, &f, NULL, NULL, 0);
    }
    if ((rc = step_done(s, q, rc, step)) != MK_OK)
        return rc;

    q = range_stmt(s,
                   "SELECT r.id, v.patient_id, r.visit_id, r.destination, r.reason, r.urgency, "
                   "r.status, r.created_at, r.created_by FROM visit v JOIN referral r ON "
                   "r.visit_id = v.id WHERE " VISIT_WHERE " ORDER BY r.id",
                   after, upto);
    if (!q)
        return MK_EDB;
    while (rc == MK_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
        struct fhir_referral r = {col(q, 0), col(q, 1), col(q, 2), col(q, 3), col(q, 4),
                                  col(q, 5), col(q, 6), col(q, 7), col(q, 8)};
        rc = emit(s, FHIR_SERVICE_REQUEST, r.id, w_sr, &r, NULL, NULL, 0);
    }
    if ((rc = step_done(s, q, rc, step)) != MK_OK)
        return rc;

    q = range_stmt(s,
                   "SELECT x.id, v.patient_id, x.visit_id, m.name, m.strength, m.form, m.unit, "
                   "x.quantity, x.dosage, x.done_at, x.done_by FROM visit v JOIN prescription x "
                   "ON x.visit_id = v.id JOIN medicine m ON m.id = x.medicine_id WHERE " VISIT_WHERE
                   " AND x.state = 'dispensed' ORDER BY x.id",
                   after, upto);
    if (!q)
        return MK_EDB;
    while (rc == MK_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
        struct fhir_dispense d = {
            .id = col(q, 0),
            .patient_id = col(q, 1),
            .encounter_id = col(q, 2),
            .medicine = col(q, 3),
            .strength = col(q, 4),
            .form = col(q, 5),
            .unit = col(q, 6),
            .quantity = (long)sqlite3_column_int64(q, 7),
            .dosage = col(q, 8),
            .handed_over_at = col(q, 9),
            .staff_id = col(q, 10),
        };
        rc = emit(s, FHIR_MEDICATION_DISPENSE, d.id, w_md, &d, NULL, NULL, 0);
    }
    if ((rc = step_done(s, q, rc, step)) != MK_OK)
        return rc;

    struct dev_cache dc = {0};
    q = range_stmt(s,
                   "SELECT d.id, d.observation_id, d.device, d.device_time, d.received_at, "
                   "d.assigned_by FROM visit v JOIN device_reading d ON d.visit_id = v.id "
                   "WHERE " VISIT_WHERE " AND d.state = 'attached' AND d.observation_id IS NOT "
                   "NULL ORDER BY d.id",
                   after, upto);
    if (!q)
        return MK_EDB;
    while (rc == MK_OK && (step = sqlite3_step(q)) == SQLITE_ROW) {
        struct fhir_provenance p = {
            .id = col(q, 0),
            .observation_id = col(q, 1),
            .device_id = device_id(&dc, col(q, 2)),
            .device_time = col(q, 3),
            .received_at = col(q, 4),
            .staff_id = col(q, 5),
        };
        rc = emit(s, FHIR_PROVENANCE, p.id, w_prov, &p, NULL, NULL, 1);
    }
    return step_done(s, q, rc, step);
}

int fhir_src_walk(struct fhir_src *s, const char *after, const char *upto)
{
    int rc = walk_shared(s, after, upto);
    if (rc == MK_OK)
        rc = walk_patients(s, after, upto);
    if (rc == MK_OK)
        rc = walk_observations(s, after, upto);
    if (rc == MK_OK)
        rc = walk_records(s, after, upto);
    return rc;
}

int fhir_src_batch(struct fhir_src *s, const char *after, int n, char upto[64], int *count)
{
    /* The ids of up to n residents after `after`: the last one ends the batch. */
    sqlite3_stmt *q = store_stmt(s->st, "SELECT p.id FROM patient p WHERE " PATIENT_WHERE
                                        " ORDER BY p.id LIMIT ?4");
    if (!q)
        return MK_EDB;
    sqlite3_bind_text(q, 1, s->campaign_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, after ? after : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(q, 4, n);
    int step, k = 0;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        snprintf(upto, 64, "%s", (const char *)sqlite3_column_text(q, 0));
        k++;
    }
    sqlite3_reset(q);
    if (step != SQLITE_DONE)
        return store_err(s->st, step, "FHIR batch");
    *count = k;
    return k ? MK_OK : MK_ENOTFOUND;
}

int fhir_src_patients(struct fhir_src *s, long *count)
{
    sqlite3_stmt *q =
        range_stmt(s, "SELECT count(*) FROM patient p WHERE " PATIENT_WHERE, "", NULL);
    if (!q)
        return MK_EDB;
    int step = sqlite3_step(q);
    *count = step == SQLITE_ROW ? (long)sqlite3_column_int64(q, 0) : 0;
    sqlite3_reset(q);
    return step == SQLITE_ROW ? MK_OK : store_err(s->st, step, "FHIR count");
}

/* ---- the export --------------------------------------------------------------------------- */

struct export_files {
    struct outdir *dir;
    FILE *bundle;
    FILE *nd[FHIR_NTYPES];
    long entries;
    int err; /* errno of a failed open */
};

static int on_resource(void *ctx, const struct fhir_res *r)
{
    struct export_files *f = ctx;
    if (!f->nd[r->type]) {
        char name[64];
        snprintf(name, sizeof name, "%s.ndjson", fhir_type_names[r->type]);
        f->nd[r->type] = outdir_file(f->dir, name);
        if (!f->nd[r->type]) {
            f->err = errno;
            return MK_EIO;
        }
        setvbuf(f->nd[r->type], NULL, _IOFBF, 1 << 16);
    }
    fwrite(r->ndjson, 1, r->ndjson_len, f->nd[r->type]);
    fputs(f->entries++ ? ",\n" : ",\"entry\":[\n", f->bundle);
    fwrite(r->entry, 1, r->entry_len, f->bundle);
    return MK_OK;
}

int export_fhir(const struct export_req *r)
{
    struct fhir_src s;
    struct outdir dir;
    struct export_files f = {.dir = &dir};
    int rc = fhir_src_open(&s, r->st, r->campaign, r->opts);
    if (rc != MK_OK)
        return rc;
    rc = outdir_open(&dir, r->out);
    if (rc != MK_OK) {
        fhir_src_close(&s);
        return rc;
    }
    f.bundle = outdir_file(&dir, "bundle.json");
    if (!f.bundle) {
        LOG(LOG_ERROR, "cannot write %s/bundle.json: %s", r->out, strerror(errno));
        rc = MK_EIO;
        goto fail;
    }
    setvbuf(f.bundle, NULL, _IOFBF, 1 << 18);
    fputs("{\"resourceType\":\"Bundle\",\"type\":\"transaction\"", f.bundle);

    s.want = FHIR_WANT_NDJSON | FHIR_WANT_ENTRY;
    s.fn = on_resource;
    s.ctx = &f;
    s.progress = r->progress;
    /* One read transaction: every file shows the same moment of a kit that may be working. */
    bool snap = export_snapshot_begin(r->st);
    rc = fhir_src_walk(&s, "", NULL);
    export_snapshot_end(r->st, snap);
    if (rc != MK_OK) {
        if (rc == MK_EIO && f.err)
            LOG(LOG_ERROR, "FHIR export to %s: %s", r->out, strerror(f.err));
        goto fail;
    }
    fputs(f.entries ? "\n]}\n" : "}\n", f.bundle);
    rc = outdir_close_file(f.bundle);
    f.bundle = NULL;
    for (int t = 0; t < FHIR_NTYPES; t++) {
        if (f.nd[t]) {
            int c = outdir_close_file(f.nd[t]);
            f.nd[t] = NULL;
            if (rc == MK_OK)
                rc = c;
        }
        progress_note(r->progress, fhir_type_names[t], s.counts[t], s.counts[t]);
    }
    if (rc != MK_OK)
        goto fail;

    json_t *counts = json_object();
    for (int t = 0; t < FHIR_NTYPES; t++)
        if (s.counts[t])
            json_object_set_new(counts, fhir_type_names[t], json_integer(s.counts[t]));
    json_t *what = json_pack("{s:s, s:o}", "format", "fhir", "resources", counts);
    rc = export_audit(r, s.campaign_id, what);
    json_decref(what);
    if (rc != MK_OK)
        goto fail;
    rc = outdir_commit(&dir);
    fhir_src_close(&s);
    return rc;

fail:
    if (f.bundle)
        fclose(f.bundle);
    for (int t = 0; t < FHIR_NTYPES; t++)
        if (f.nd[t])
            fclose(f.nd[t]);
    outdir_abort(&dir);
    fhir_src_close(&s);
    return rc;
}
