/* Print jobs: what is printed for a patient, laid out for a printer's profile and queued in
 * the store, where the spool (spool.h) finds it. Used by the API and by `mokit`. */
#pragma once

#include "../store/store.h"
#include "layout.h"

#include <jansson.h>

struct print_req {
    const char *kind;    /* "ticket", "wristband", "slip", "test", or "ready" (with wifi) */
    const char *patient; /* patient code (parsed): ticket and wristband */
    const char *printer; /* NULL: the first enabled printer for kind */
    const char *station; /* ticket: where to go next, may be NULL */
    /* slip: the visit (its patient and readings), where to and why, how urgent ("routine",
     * "soon", "urgent"; NULL is routine), the referring doctor (may be NULL) */
    const char *visit, *destination, *reason, *urgency, *doctor;
    /* ready: the kit's Wi-Fi and addresses (the "ready" slip, layout_ready); it goes to the
     * first enabled printer that prints tickets unless printer names one */
    const struct wifi_conf *wifi;
};

/* The kinds that print_layout() lays out from the store's data alone: ticket, wristband, slip,
 * test (what the API accepts). "ready" is laid out too, when the request carries wifi. */
bool print_kind_valid(const char *kind);

/* Lays out r for profile p into out: reads the patient and, for a ticket, the patient's visit
 * of today (the queue number); for a slip the visit r->visit with its readings (the last of each
 * kind become the findings) and its campaign. printer names the printer on a test page. *patient_id
 * and *visit_id (64 bytes each) get the ids the job is about ("" when none). MK_ENOTFOUND (no such
 * patient, or no visit today for a ticket: err says which), MK_EINVAL (the kind does not suit
 * the profile, or it does not fit: err says), MK_EIO (fonts missing), a store error. */
int print_layout(struct store *st, const struct print_req *r, const char *printer,
                 const struct fw_profile *p, struct fw_font *font, struct fw_buf *out,
                 char patient_id[64], char visit_id[64], char *err, size_t errlen);

/* Lays out r for its printer (r->printer, or the printer for r->kind; for "ready", the
 * printer for tickets) and queues it: *job is the new job (the caller frees it), audited with
 * actor a. MK_ENOTFOUND (no such printer, no printer for the kind, no patient, no visit
 * today), MK_EBUSY (the printer named is disabled), MK_EINVAL, MK_EIO, a store error; err says
 * which in words. */
int print_enqueue(struct store *st, const struct actor *a, struct fw_font *font,
                  const struct print_req *r, json_t **job, char *err, size_t errlen);

/* Checks a printer before it is added: a known profile and a URI the transports understand,
 * not pointing at the kit's database. MK_EINVAL with err. */
int print_printer_check(const char *profile, const char *uri, char *err, size_t errlen);
