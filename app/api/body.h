/* Request bodies of the HTTP API: JSON text -> checked plain structs. Pure (no I/O), so the
 * fuzz target drives exactly what the daemon runs on outside input. */
#pragma once

#include "../domain/date.h"
#include "../domain/obs.h"
#include "../domain/patient.h"
#include "../store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define BODY_MAX (64 * 1024)

struct body_err {
    const char *code;  /* API error code: "bad_json", "invalid", "bad_code", "out_of_range" */
    const char *field; /* the field at fault, or NULL */
    char message[200];
};

/* Parses len bytes as one JSON object. NULL with err filled for broken JSON, a non-object or
 * an empty body. The caller json_decref()s the result. */
json_t *body_parse(const char *data, size_t len, struct body_err *err);

/* A registration request. Strings point into owned[] (NFC-cleaned copies). */
struct patient_body {
    struct patient p;
    bool confirm_new;
    const char *campaign; /* code, or NULL for the current campaign; borrowed from the JSON */
    char *owned[12];
};
int body_patient(json_t *obj, const struct date *today, struct patient_body *out,
                 struct body_err *err);
void body_patient_free(struct patient_body *b);

/* A reading: {"code":"bp","values":{"systolic":..,"diastolic":..}} or {"code":..,"value":..}.
 * Checks plausibility (err->code "out_of_range"). note is borrowed from obj.
 * These and the campaign and staff parsers replace text members of obj by their cleaned form
 * (NFC, trimmed, no control characters). */
int body_obs(json_t *obj, const struct obs_kind **kind, struct obs_values *v, const char **note,
             struct body_err *err);

/* Campaign and staff bodies; strings are borrowed from obj. */
int body_campaign(json_t *obj, struct campaign_in *c, struct body_err *err);
struct staff_body {
    const char *name, *role, *pin, *specialty;
};
int body_staff(json_t *obj, struct staff_body *s, struct body_err *err);

/* A text member, cleaned in place (NFC, trimmed, no control characters): *out NULL when
 * absent, null or empty; MK_EINVAL when required and missing, or longer than max bytes. */
int body_text(json_t *obj, const char *key, size_t max, bool required, const char **out,
              struct body_err *err);
/* A whole number member in [min, max]; *given says whether it was there (not null). */
int body_opt_int(json_t *obj, const char *key, long long min, long long max, bool required,
                 long long *out, bool *given, struct body_err *err);
/* A boolean member: *out 1, 0, or -1 when absent or null. */
int body_opt_bool(json_t *obj, const char *key, int *out, struct body_err *err);

/* Optional string member: 0 with *out (NULL when absent or null), or MK_EINVAL (wrong type). */
int body_opt_string(json_t *obj, const char *key, const char **out, struct body_err *err);

/* "print": ["wristband", "ticket"] in a registration: which items to print at once. At most
 * one of each; *n is 0 when absent. */
int body_print_list(json_t *obj, const char *kinds_out[2], int *n, struct body_err *err);

/* A printer: {"name", "profile", "uri", "kinds": ["ticket", ...]}. For an update (update =
 * true) every member is optional and "enabled" (boolean) may be given (*enabled -1 when not).
 * kinds is joined into kinds_buf. Strings borrowed from obj. */
int body_printer(json_t *obj, bool update, struct printer_in *p, int *enabled, char kinds_buf[80],
                 struct body_err *err);
