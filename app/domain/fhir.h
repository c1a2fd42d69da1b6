/* FHIR R4 resources from mokit's records: the mapping (codes, systems, references), written as
 * compact JSON into a growing buffer. Pure: no I/O, no clock; the same input gives the same
 * bytes, so tests compare whole resources. app/doc/fhir.md documents the mapping; the export
 * (app/export/export_fhir.c) and the push (app/export/push.c) read the store and call these.
 *
 * Every resource is written twice by its callers: once with relative references
 * ("Patient/<id>", for the NDJSON files) and once with "urn:uuid:<id>" references (for the
 * transaction Bundle, where the receiving server resolves them to the ids it assigns). Ids are
 * mokit's UUIDs; the few resources that have no row of their own (Organization, Device, the
 * BMI Observation) get a name-based UUID (fhir_uuid_derive). Strings that are NULL or empty
 * are left out (FHIR forbids empty strings). Text is expected in UTF-8; an invalid byte is
 * written as U+FFFD so that the output is always valid JSON. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A growing output buffer. Zero-initialise it; fhir_buf_free releases it. On an allocation
 * failure, failed is set and later writes are dropped: check it once after writing. */
struct fhir_buf {
    char *p;
    size_t len, cap;
    bool failed;
};
void fhir_buf_free(struct fhir_buf *b);
void fhir_buf_put(struct fhir_buf *b, const char *s, size_t n);
/* s as a JSON string, quotes included. */
void fhir_buf_put_json_string(struct fhir_buf *b, const char *s);

/* The systems of the fixed vocabularies. */
#define FHIR_SYS_LOINC  "http://loinc.org"
#define FHIR_SYS_UCUM   "http://unitsofmeasure.org"
#define FHIR_SYS_SNOMED "http://snomed.info/sct"
#define FHIR_SYS_ICD10  "http://hl7.org/fhir/sid/icd-10"
#define FHIR_SYS_URI    "urn:ietf:rfc:3986" /* an identifier whose value is a URI: urn:uuid:... */
/* mokit's defaults for the identifier systems a hospital may name (campaign.id_systems or the
 * export's options): CCCD and BHYT numbers have no official FHIR naming system yet. */
#define FHIR_DEFAULT_SYS_CCCD "urn:mokit:id:cccd"
#define FHIR_DEFAULT_SYS_BHYT "urn:mokit:id:bhyt"
#define FHIR_DEFAULT_SYS_CODE "urn:mokit:id:patient-code"

enum fhir_refs {
    FHIR_REFS_RELATIVE, /* "Patient/<id>" */
    FHIR_REFS_URN,      /* "urn:uuid:<id>" */
};

/* What every resource of one export shares. */
struct fhir_ctx {
    enum fhir_refs refs;
    const char *sys_cccd, *sys_bhyt, *sys_code; /* identifier systems (URIs) */
    const char *organization_id; /* the campaign's hospital, or NULL when it names none */
    const char *location_id;     /* the campaign's place: its id */
};

/* 1 when s can be an identifier system: an absolute URI ("scheme:rest", scheme a letter then
 * letters, digits, "+-."), printable ASCII without spaces, quotes, '<>\\^`{}|', at most 255
 * bytes. */
int fhir_system_valid(const char *s);

/* A name-based UUID (RFC 9562 version 8: BLAKE2b-128 of "mokit-fhir", kind and name, with the
 * version and variant bits set): the same kind and name give the same id on every kit. out
 * gets 37 bytes. */
void fhir_uuid_derive(const char *kind, const char *name, char out[37]);

/* The conditional-create query "identifier=SYSTEM|VALUE", each part percent-encoded where a
 * URL query needs it. The length written, or 0 when it does not fit in cap. */
size_t fhir_if_none_exist(char *out, size_t cap, const char *system, const char *value);

/* Bundle entries: fhir_entry_open writes '{"fullUrl":"urn:uuid:<id>","resource":', the caller
 * writes the resource, and one of the closes ends the entry with its request: a conditional
 * create (POST with ifNoneExist) or a create-or-update at a known id (PUT type/id). */
void fhir_entry_open(struct fhir_buf *b, const char *id);
void fhir_entry_close_post(struct fhir_buf *b, const char *type, const char *if_none_exist);
void fhir_entry_close_put(struct fhir_buf *b, const char *type, const char *id);

struct fhir_organization {
    const char *id, *name;
};
void fhir_organization(struct fhir_buf *b, const struct fhir_ctx *c,
                       const struct fhir_organization *o);

/* The campaign as the place where its encounters happen. */
struct fhir_location {
    const char *id, *code, *name;
    const char *village, *commune, *district, *province;
};
void fhir_location(struct fhir_buf *b, const struct fhir_ctx *c, const struct fhir_location *l);

struct fhir_practitioner {
    const char *id, *name, *role; /* role: registrar, nurse, doctor, pharmacist, lead */
    int active;
};
void fhir_practitioner(struct fhir_buf *b, const struct fhir_ctx *c,
                       const struct fhir_practitioner *p);

/* A device by its "driver/model/serial" (observation.device); its id is
 * fhir_uuid_derive("Device", device). */
struct fhir_device {
    const char *id, *device;
};
void fhir_device(struct fhir_buf *b, const struct fhir_ctx *c, const struct fhir_device *d);

struct fhir_patient {
    const char *id, *code, *name, *sex, *birth_date; /* sex "male"/"female" */
    int birth_year;                                  /* used when birth_date is NULL */
    const char *phone, *address, *village, *commune, *district, *province;
    const char *cccd, *bhyt;
};
void fhir_patient(struct fhir_buf *b, const struct fhir_ctx *c, const struct fhir_patient *p);
/* The system and value a Patient is conditionally created on: the CCCD number when there is
 * one (the exact key of a person in Vietnam), else the mokit code. */
void fhir_patient_key(const struct fhir_ctx *c, const struct fhir_patient *p, const char **system,
                      const char **value);

struct fhir_encounter {
    const char *id, *patient_id, *start, *staff_id; /* start: the visit's created_at */
};
void fhir_encounter(struct fhir_buf *b, const struct fhir_ctx *c, const struct fhir_encounter *e);

/* An observation row. code is mokit's kind (bp, pulse, spo2, weight, height, temp, glucose,
 * waist) or "bmi" for the one fhir_bmi_value derives. */
struct fhir_obs {
    const char *id, *patient_id, *encounter_id, *code, *unit;
    double v[3];
    int has[3];  /* which of v are given; bp: systolic, diastolic, mean */
    int fasting; /* glucose: 1 fasting, 0 not, -1 not said */
    const char *taken_at, *staff_id, *note;
    const char *device_id;       /* the Device's id when a device measured it, else NULL */
    const char *derived_from[2]; /* bmi: the weight and height Observations' ids */
};
/* 0, or -1 for a code that has no mapping (nothing written). */
int fhir_observation(struct fhir_buf *b, const struct fhir_ctx *c, const struct fhir_obs *o);
/* 1 when mokit's observation kind has a FHIR mapping. */
int fhir_obs_code_known(const char *code);
/* BMI in kg/m2 from weight (kg) and height (cm), rounded to one decimal; 0 when either is not
 * positive. */
double fhir_bmi_value(double weight_kg, double height_cm);

struct fhir_condition {
    const char *id, *patient_id, *encounter_id, *icd10, *label, *note, *recorded_at, *staff_id;
    int known; /* the resident already knew of it: confirmed, else provisional */
};
void fhir_condition(struct fhir_buf *b, const struct fhir_ctx *c, const struct fhir_condition *f);
/* The SNOMED CT concept for an ICD-10 code of hypertension (I10-I13, I15) or diabetes
 * (E10-E14), with its display; NULL for other codes. */
const char *fhir_snomed_for_icd10(const char *icd10, const char **display);

struct fhir_referral {
    const char *id, *patient_id, *encounter_id, *destination, *reason;
    const char *urgency; /* routine, soon, urgent */
    const char *status;  /* referred, arrived, cancelled */
    const char *authored_at, *staff_id;
};
void fhir_service_request(struct fhir_buf *b, const struct fhir_ctx *c,
                          const struct fhir_referral *r);

struct fhir_dispense {
    const char *id, *patient_id, *encounter_id;
    const char *medicine, *strength, *form, *unit; /* "Amlodipin", "5 mg", "viên nén", "viên" */
    long quantity;
    const char *dosage, *handed_over_at, *staff_id;
};
void fhir_medication_dispense(struct fhir_buf *b, const struct fhir_ctx *c,
                              const struct fhir_dispense *d);

/* A device reading attached to an observation. Provenance has no identifier in R4: it is
 * written at its own id (the reading's) with PUT, which repeats without duplicating. */
struct fhir_provenance {
    const char *id, *observation_id, *device_id;
    const char *device_time, *received_at; /* received_at: an instant (UTC, with seconds) */
    const char *staff_id;                  /* who assigned it to the patient, or NULL */
};
void fhir_provenance(struct fhir_buf *b, const struct fhir_ctx *c, const struct fhir_provenance *p);

/* ---- what a FHIR server answers (outside input: tests/fuzz/fuzz_fhir_response.c) ---------- */

/* The seconds a Retry-After header value asks to wait: delta-seconds ("120") or an HTTP-date
 * ("Sun, 06 Nov 1994 08:49:37 GMT") relative to now (unix seconds), clamped to 0..86400.
 * 0 and *seconds set, or -1 when v is neither. */
int fhir_retry_after(const char *v, long long now, long *seconds);

/* The words of an OperationOutcome in body (n bytes, any bytes): each issue as
 * "severity: diagnostics" (or its details.text, or its code), joined by "; ", control
 * characters made spaces, cut to fit cap (> 0) at a UTF-8 boundary. For a transaction-response
 * Bundle, the outcomes of its entries. The length written (out is NUL-terminated), 0 when body
 * holds no outcome text. */
size_t fhir_outcome_text(const char *body, size_t n, char *out, size_t cap);
