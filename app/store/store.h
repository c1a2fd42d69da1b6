/* The kit's one source of truth: an SQLite database in the data directory.
 *
 * Opening sets WAL mode with synchronous=FULL (the kit runs on batteries: a commit that was
 * answered must survive power loss), foreign keys, a busy timeout, and applies the numbered
 * migrations of app/sql/. Every write runs in one IMMEDIATE transaction together with its
 * audit row, so a change is either wholly there or not at all. Only prepared statements.
 *
 * Functions return 0 or a negative enum mk_err. json_t results are new references the caller
 * owns (json_decref). A store handle is used by one thread at a time. */
#pragma once

#include "../domain/obs.h"
#include "../domain/patient.h"

#include <jansson.h>
#include <stdbool.h>

struct store;

/* Who makes a change, for the audit log. */
struct actor;
/* An audit row alone, for a request that changes no record by itself (a device asked to
 * download its memory: the readings it gives are audited as they are stored). */
int store_audit_request(struct store *st, const struct actor *a, const char *action,
                        const char *entity, const char *entity_id);
struct actor {
    const char *staff_id; /* NULL when not a logged-in staff member */
    const char *label;    /* "staff:<id>", "cli:<user>", "system" */
};

#define STORE_DB_NAME "mokit.db"

/* Opens (creating when missing) DIR/mokit.db. MK_ESCHEMA when the database is newer than
 * this program. */
int store_open(const char *dir, struct store **out);
void store_close(struct store *st);
const char *store_kit_id(const struct store *st);
/* The kit's Ed25519 signing key (made on first run): its public half, and a detached
 * signature of msg by it. The secret half never leaves the store. */
void store_kit_sign_public(const struct store *st, unsigned char pk[32]);
void store_kit_sign(const struct store *st, const unsigned char *msg, size_t len,
                    unsigned char sig[64]);
int store_schema_version(struct store *st);

/* Groups many writes into one transaction (bulk loads): each write inside is a savepoint.
 * store_tx_end() commits (commit = true) or rolls everything back. */
int store_tx_begin(struct store *st);
int store_tx_end(struct store *st, bool commit);

/* Campaigns. */
struct campaign_in {
    const char *code, *name, *province, *district, *commune, *village, *start_date, *end_date,
        *hospital;
};
/* MK_EEXIST when the code is taken; MK_EINVAL for a missing code/name or a bad date. */
int store_campaign_create(struct store *st, const struct actor *a, const struct campaign_in *c,
                          json_t **out);
int store_campaign_list(struct store *st, json_t **out);
/* Changes a campaign's details: NULL leaves a field, "" clears it; the code never changes
 * (MK_EINVAL), nor can the name be cleared. MK_EINVAL also for a start after the end;
 * MK_ENOTFOUND. Audited. */
int store_campaign_update(struct store *st, const struct actor *a, const char *code_or_id,
                          const struct campaign_in *c, json_t **out);
/* By code or id; MK_ENOTFOUND. */
int store_campaign_get(struct store *st, const char *code_or_id, json_t **out);
/* The campaign the kit works for: the latest start date that is today or earlier (none counts
 * as earliest), then the last created. MK_ENOTFOUND when there is none. */
int store_campaign_current(struct store *st, json_t **out);
/* The id of a campaign by code, or of the current campaign when code is NULL, into out[64]
 * (no JSON: every registration asks). MK_ENOTFOUND. */
int store_campaign_id(struct store *st, const char *code, char out[64]);

/* Staff. The PIN (4 to 8 digits) is hashed with argon2id; MK_EEXIST when another active staff
 * member already has that PIN (login is by PIN alone). */
int store_staff_add(struct store *st, const struct actor *a, const char *name, const char *role,
                    const char *specialty, const char *pin, json_t **out);
int store_staff_list(struct store *st, json_t **out);
/* Deactivates (active 0) or reactivates (1; needs a new PIN: MK_EINVAL without) a staff
 * member, and/or sets a new PIN (NULL: unchanged). Their sessions end. MK_EEXIST when another
 * active member has the PIN; MK_ENOTFOUND. Audited without the PIN. */
int store_staff_update(struct store *st, const struct actor *a, const char *id, int active,
                       const char *pin, json_t **out);
/* Checks a PIN (optionally only against one staff id). MK_EAUTH when nobody has it. */
int store_staff_login(struct store *st, const char *pin, const char *staff_id, json_t **staff);
bool store_pin_valid(const char *pin);

/* Sessions: token is 64 hex characters; only its hash is stored. Creating one (a login) and
 * deleting one (a logout) are audited in the same transaction; a->staff_id is the staff
 * member whose session it is. */
int store_session_create(struct store *st, const struct actor *a, int ttl_seconds, char token[65]);
/* MK_EAUTH for an unknown or expired token, or one not used for idle_seconds. A use is noted
 * at most once a minute (idle_seconds / 4 for short idle times), and a session ends only that
 * much after idle_seconds: never early. */
int store_session_get(struct store *st, const char *token, int idle_seconds, json_t **staff);
/* The same check without noting a use (an open event stream is not a use). 0 or MK_EAUTH. */
int store_session_valid(struct store *st, const char *token, int idle_seconds);

/* The answer to a request that carried an Idempotency-Key (a day is kept): {staff_id, method,
 * path, status, body}. MK_ENOTFOUND. Not audited: the request's own change is. */
int store_request_key_get(struct store *st, const char *key, json_t **out);
/* Keeps an answer (the first one for a key stays). */
int store_request_key_put(struct store *st, const char *key, const char *staff_id,
                          const char *method, const char *path, int status, const char *body);
int store_session_delete(struct store *st, const struct actor *a, const char *token);

/* Patients. Registration checks duplicates in the same transaction as the insert:
 *  - same CCCD or BHYT number: MK_EEXIST, *out = the existing patient, nothing created;
 *  - likely duplicate (patient_likely_duplicate) and !confirm_new: MK_ELIKELY,
 *    *out = array of candidates, nothing created;
 *  - otherwise 0, *out = the new patient with its code.
 * An empty commune is taken from the campaign. */
int store_patient_register(struct store *st, const struct actor *a, const struct patient *p,
                           const char *campaign_id, bool confirm_new, json_t **out);
/* By patient code (already parsed) or id. MK_ENOTFOUND. */
int store_patient_get(struct store *st, const char *code, json_t **out);

struct search_query {
    const char *q;       /* free text: name, code, CCCD/BHYT/phone number, a birth year */
    int birth_year;      /* 0: any */
    const char *village; /* NULL: any */
    int limit;           /* 1..100 */
};
/* Ranked: code/CCCD/BHYT/phone matches, then exact folded name, then names starting with the
 * query, then names where every query word starts a word of the name. *out is an array of
 * patient summaries each with "match". */
int store_patient_search(struct store *st, const struct search_query *q, json_t **out);

/* Visits: a patient at a campaign on a day, with the next queue number of that day. */
int store_visit_create(struct store *st, const struct actor *a, const char *patient_code,
                       const char *campaign_id, json_t **out);
/* The visit with its patient summary, observations (oldest first) and records
 * (store_visit_records). MK_ENOTFOUND. */
int store_visit_get(struct store *st, const char *id, json_t **out);

/* Observations (already validated by obs_validate). */
int store_obs_add(struct store *st, const struct actor *a, const char *visit_id,
                  const struct obs_kind *k, const struct obs_values *v, const char *source,
                  const char *device, const char *note, json_t **out);

/* Counts for the status page: patients, visits today, observations, staff. */
int store_stats(struct store *st, json_t **out);

/* A patient's visits, newest first (by patient id). */
int store_patient_visits(struct store *st, const char *patient_id, json_t **out);

/* ---- printers and the print queue (app/sql/002_print.sql) ---- */

/* A printer the kit prints on. name: 1-32 of a-z 0-9 - _; kinds: a comma list of ticket,
 * wristband, slip, test (what it prints when a job names no printer). The caller checks the
 * profile and the URI (app/print). MK_EEXIST when the name is taken, MK_EINVAL. */
struct printer_in {
    const char *name, *profile, *uri, *kinds;
};
int store_printer_add(struct store *st, const struct actor *a, const struct printer_in *p,
                      json_t **out);
/* Changes uri and kinds (NULL: unchanged) and enabled (-1: unchanged). MK_ENOTFOUND. */
int store_printer_update(struct store *st, const struct actor *a, const char *name, const char *uri,
                         const char *kinds, int enabled, json_t **out);
/* A printer with its state and the number of jobs waiting ("queued"). MK_ENOTFOUND. */
int store_printer_get(struct store *st, const char *name, json_t **out);
int store_printer_list(struct store *st, json_t **out);
/* The first enabled printer, by name, whose kinds hold kind, into name[64]. MK_ENOTFOUND. */
int store_printer_for(struct store *st, const char *kind, char name[64]);
/* What the spool saw: "ready", "unknown", "paper_out", "offline", "error". Not audited. */
int store_printer_set_state(struct store *st, const char *name, const char *state,
                            const char *error);
bool store_printer_kinds_valid(const char *kinds);
bool store_printer_name_valid(const char *name);

struct job_in {
    const char *printer, *kind;                     /* ticket, wristband, slip, test, ready */
    const char *patient_id, *visit_id, *reprint_of; /* may be NULL */
    const void *data;
    size_t len;
};
/* Queues a job (audited, without its bytes). MK_ENOTFOUND for an unknown printer. */
int store_job_create(struct store *st, const struct actor *a, const struct job_in *j, json_t **out);
/* A job without its bytes ("bytes" is their number), with its patient's code. MK_ENOTFOUND. */
int store_job_get(struct store *st, const char *id, json_t **out);
/* Newest first; printer and visit_id may be NULL (any); limit 1-500. */
int store_job_list(struct store *st, const char *printer, const char *visit_id, int limit,
                   json_t **out);

/* The job a printer sends next: its oldest queued or sending job. */
struct job {
    char id[40], kind[16], state[16];
    long long seq; /* the queue order: names the simulated printer's page */
    int attempts;
    unsigned char *data; /* the caller frees */
    size_t len;
};
/* MK_ENOTFOUND when the printer has nothing to print. */
int store_job_next(struct store *st, const char *printer, struct job *out);
/* The spool's progress: "sending" (counts an attempt), "done", "queued" (to retry, with the
 * error), "failed" (with the error). Not audited: the job row keeps the record. */
int store_job_mark(struct store *st, const char *id, const char *state, const char *error);
/* Puts a printer's jobs left "sending" (by a mokitd that stopped mid-job) back to "queued"
 * with a note; *count says how many. */
int store_job_requeue_interrupted(struct store *st, const char *printer, int *count);
/* A new job with the same bytes on the same printer (audited). MK_ENOTFOUND. */
int store_job_reprint(struct store *st, const struct actor *a, const char *id, json_t **out);
/* Cancels a queued job. MK_EBUSY while it is being sent, MK_EINVAL when it is finished. */
int store_job_cancel(struct store *st, const struct actor *a, const char *id, json_t **out);

/* ---- stations and device readings (app/sql/003_devices.sql) ---- */

/* Stations with their current patient: "current" {visit, patient, queue_number, since} or
 * null (a visit of another day is not current). */
int store_station_list(struct store *st, json_t **out);
/* MK_ENOTFOUND. */
int store_station_get(struct store *st, const char *name, json_t **out);
/* Changes the devices it takes (NULL: unchanged; a comma list of device ids, driver names or
 * driver:serial) and whether it is the default (1 makes it the default in place of another;
 * -1 unchanged). Audited. MK_ENOTFOUND, MK_EINVAL. */
int store_station_update(struct store *st, const struct actor *a, const char *name,
                         const char *devices, int is_default, json_t **out);
/* Makes a visit the station's current one (visit_id NULL: none). Audited. MK_ENOTFOUND. */
int store_station_set_current(struct store *st, const struct actor *a, const char *name,
                              const char *visit_id, json_t **out);
/* The station a device feeds: the one naming it (device id, driver:serial, driver, in that
 * order of precedence), else the default station. name[40]; MK_ENOTFOUND when neither. */
int store_station_for_device(struct store *st, const char *device_id, const char *driver,
                             const char *serial, char name[40]);

struct reading_in {
    const char *station;          /* may be NULL: unassigned */
    const char *device_id;        /* "usb-1-1.2" */
    const char *device;           /* "driver/model/serial" */
    const char *code;             /* observation kind */
    double v[OBS_MAX_COMPONENTS]; /* in the kind's unit */
    int present[OBS_MAX_COMPONENTS];
    long long device_time; /* unix seconds by the device's clock; 0: a live reading */
    int stored;            /* from the device's memory (device_time 0: when is not known) */
    const char *raw_hex;   /* the frame, for provenance */
    /* The connection (NULL: none recorded) and, when the device told its clock on it, the
     * device's clock minus the kit's (seconds): a time from its memory is compared with the
     * scan of the current patient on the kit's clock. */
    const char *connection_id;
    double connected_at; /* the connection's start (unix seconds), with connection_id */
    int clock_known;
    double clock_offset;
};
/* Records a device's connection (id as the device manager makes it: device id "@" start) and,
 * once known, its clock offset. Idempotent. store_reading_add() does it for a reading's
 * connection in the reading's own transaction. */
int store_device_connection(struct store *st, const char *id, const char *device_id,
                            const char *device, double connected_at, int clock_known,
                            double clock_offset);
/* Keeps a device reading. It becomes an observation of the station's current visit (source
 * "device", the device in its provenance) when the station has one today and the values are
 * plausible; else it waits as "unassigned" (or "implausible"). *out is the reading with
 * "observation" when one was made. MK_EEXIST (*out the earlier one) for a reading from a
 * device's memory stored before; MK_EINVAL for a kind the kit does not know. Audited. */
int store_reading_add(struct store *st, const struct actor *a, const struct reading_in *r,
                      json_t **out);
/* Newest first. state and station may be NULL (any). limit 1-500. */
int store_reading_list(struct store *st, const char *state, const char *station, int limit,
                       json_t **out);
int store_reading_get(struct store *st, const char *id, json_t **out);
/* Attaches an unassigned reading to a visit: the observation is made then. MK_ENOTFOUND (the
 * reading or the visit); MK_EEXIST when already attached; MK_ERANGE for an implausible one
 * (kept, never observed). Audited. */
int store_reading_assign(struct store *st, const struct actor *a, const char *id,
                         const char *visit_id, json_t **out);

/* ---- the doctor's and the pharmacy's records, queue calls (app/sql/004_clinic.sql) ---- */

/* Symptom keys a nurse asks about (the urgent blood-pressure rule): chest_pain,
 * breathlessness, severe_headache, blurred_vision, confusion, one_sided_weakness,
 * thirst_urination. */
bool store_symptom_valid(const char *key);
/* Sets a visit's symptoms (a JSON array of keys; json null: not asked; NULL: unchanged) and
 * advice (NULL: unchanged; "" clears). *out (may be NULL) is the visit as store_visit_get().
 * MK_EINVAL (an unknown key, advice over 2000 bytes), MK_ENOTFOUND. Audited. */
int store_visit_update(struct store *st, const struct actor *a, const char *id,
                       const json_t *symptoms, const char *advice, json_t **out);
/* Adds the symptoms, advice, findings, referrals and prescriptions of a visit to its JSON. */
int store_visit_records(struct store *st, const char *visit_id, json_t *visit);

/* A finding: an ICD-10 code of the kit's list (app/domain/icd10.h), or another valid code
 * with label (the doctor's words). MK_EINVAL, MK_ENOTFOUND (visit). Audited. */
int store_finding_add(struct store *st, const struct actor *a, const char *visit_id,
                      const char *code, const char *label, bool known, const char *note,
                      json_t **out);
/* Marks a finding removed (kept, never deleted). MK_ENOTFOUND; MK_EEXIST when removed before. */
int store_finding_remove(struct store *st, const struct actor *a, const char *id, json_t **out);

/* Referrals: urgency routine, soon or urgent; to and reason 1-300 bytes. Status starts as
 * "referred"; later "arrived" (at the hospital) or "cancelled". Audited. */
int store_referral_add(struct store *st, const struct actor *a, const char *visit_id,
                       const char *to, const char *reason, const char *urgency, json_t **out);
int store_referral_get(struct store *st, const char *id, json_t **out);
/* Notes the slip's print job on the referral. */
int store_referral_set_job(struct store *st, const struct actor *a, const char *id,
                           const char *job_id, json_t **out);
/* MK_EINVAL for a status not referred/arrived/cancelled; MK_ENOTFOUND. */
int store_referral_set_status(struct store *st, const struct actor *a, const char *id,
                              const char *status, json_t **out);
/* Newest first, each with "patient" {code, name, sex, birth_year, commune, village}, "day",
 * "queue_number" and "campaign". status, campaign_id: NULL for any. */
int store_referral_list(struct store *st, const char *status, const char *campaign_id,
                        json_t **out);

/* The campaign's medicine list. code: 1-20 of A-Z a-z 0-9 - _ . (unique in the campaign);
 * name 1-120 bytes; unit 1-30; strength and form up to 60. */
struct medicine_in {
    const char *code, *name, *strength, *form, *unit;
    int stock; /* the first stock (a "receive" in the ledger) */
};
/* MK_EEXIST for a code the campaign has; MK_EINVAL. Audited. */
int store_medicine_add(struct store *st, const struct actor *a, const char *campaign_id,
                       const struct medicine_in *m, json_t **out);
/* Changes name, strength, form, unit (NULL: unchanged; the code never changes: MK_EINVAL) and
 * active (-1 unchanged). MK_ENOTFOUND. Audited. */
int store_medicine_update(struct store *st, const struct actor *a, const char *id,
                          const struct medicine_in *m, int active, json_t **out);
/* By id, or by code within campaign_id (may be NULL). With "dispensed" (units, all time). */
int store_medicine_get(struct store *st, const char *id_or_code, const char *campaign_id,
                       json_t **out);
/* By name; inactive ones too when all. */
int store_medicine_list(struct store *st, const char *campaign_id, bool all, json_t **out);
/* Each medicine of the campaign with "dispensed": the units given at the visits of day (NULL:
 * the whole campaign). */
int store_medicine_given(struct store *st, const char *campaign_id, const char *day, json_t **out);
/* Stock received (change > 0) or corrected after a count (adjust, either sign). MK_ERANGE when
 * it would go below zero: nothing changes and *out is the medicine as it is. Audited. */
int store_stock_change(struct store *st, const struct actor *a, const char *id, int change,
                       const char *reason, const char *note, json_t **out);

/* A prescription of a visit from its campaign's list (medicine: id or code), quantity 1-10000
 * units, dosage up to 300 bytes. MK_ENOTFOUND (visit), MK_ERANGE (no such medicine on the
 * campaign's list), MK_EPERM (taken off the list), MK_EINVAL. Stock is checked when it is
 * dispensed. Audited. */
int store_prescription_add(struct store *st, const struct actor *a, const char *visit_id,
                           const char *medicine, int quantity, const char *dosage, json_t **out);
/* MK_EEXIST when dispensed or cancelled already. */
int store_prescription_cancel(struct store *st, const struct actor *a, const char *id,
                              json_t **out);
/* Dispenses a visit's prescriptions (ids; n = 0: every one still prescribed) in one
 * transaction: all or nothing. *out {"dispensed":[…], "medicines":[… as they are now]}.
 * MK_ERANGE: not enough stock (*problem the medicine); MK_EEXIST: an item is not prescribed
 * any more (*problem the item: dispensed by another phone, or cancelled); MK_ENOTFOUND (visit,
 * or an id not of this visit); MK_EINVAL: nothing to dispense. Audited per item. */
int store_dispense(struct store *st, const struct actor *a, const char *visit_id,
                   const char *const *ids, size_t n, json_t **out, json_t **problem);

/* Queue calls at a station, for today's visits of the campaign. */
enum queue_call_mode { QUEUE_NEXT, QUEUE_RECALL, QUEUE_NUMBER };
/* *out {station, queue_number, visit, patient, recall, called_at, called_by}. MK_ERANGE when
 * there is nobody to call (no next number, nothing called yet, no such number today);
 * MK_ENOTFOUND (station). Audited. */
int store_queue_call(struct store *st, const struct actor *a, const char *station,
                     enum queue_call_mode mode, int number, const char *campaign_id, json_t **out);
/* {day, last_number, stations:[{name, role, serving, called_at, waiting}]}. */
int store_queue_status(struct store *st, const char *campaign_id, json_t **out);

/* The visits of a campaign (on day; NULL: every day), by day and queue number, each with
 * "patient" {code, name, sex, birth_date, birth_year, ethnicity, village}, "symptoms",
 * "observations" [{code, values, fasting}] oldest first, "findings" [codes], "referrals"
 * [{to, urgency, status}], "prescribed" and "dispensed" (counts of items). */
int store_visit_list(struct store *st, const char *campaign_id, const char *day, json_t **out);

/* ---- hand-off to the hospital (app/sql/007_handoff.sql, store_handoff.c) ---- */

struct keyfile;
struct crypto_sign_ed25519ph_state;
/* Signs what was fed to state (crypto_sign_init/update: Ed25519ph, for a file streamed
 * through) with the kit's key. */
void store_kit_sign_final(const struct store *st, struct crypto_sign_ed25519ph_state *state,
                          unsigned char sig[64]);
/* The hospital key (hospital-box, public) a campaign's package is encrypted to; NULL clears
 * it. MK_EINVAL for another kind of key (a secret key is never stored on a kit),
 * MK_ENOTFOUND. Audited. */
int store_campaign_set_hospital_key(struct store *st, const struct actor *a, const char *code_or_id,
                                    const struct keyfile *k);
/* MK_EPERM when the campaign names none yet; MK_ENOTFOUND. */
int store_campaign_hospital_key(struct store *st, const char *code_or_id, struct keyfile *k);
/* The FHIR identifier systems of the receiving hospital: {"cccd","bhyt","code"} each an
 * absolute URI (store_id_system_valid); NULL or {} returns to the defaults. MK_EINVAL for
 * another key or a bad URI. Audited. */
int store_campaign_set_id_systems(struct store *st, const struct actor *a, const char *code_or_id,
                                  const json_t *systems);
bool store_id_system_valid(const char *uri);

/* At the hospital: the kits whose packages are accepted, by their signing key (kit-sign key
 * file; its name is the kit id). MK_EEXIST when the kit or the key is there already: *out
 * (may be NULL) {"kit": row, "same": true when it is this very kit and key}. Audited. */
int store_trusted_kit_add(struct store *st, const struct actor *a, const struct keyfile *k,
                          const char *label, json_t **out);
/* MK_ENOTFOUND. Audited. */
int store_trusted_kit_remove(struct store *st, const struct actor *a, const char *kit_id);
int store_trusted_kit_list(struct store *st, json_t **out);
/* MK_OK when kit_id is trusted with this key; MK_ENOTFOUND when the kit is not trusted;
 * MK_EAUTH when it is, with another key. */
int store_trusted_kit_check(struct store *st, const char *kit_id, const unsigned char pk[32]);
