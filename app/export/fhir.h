/* A campaign's FHIR resources read from the store, for the export (the whole campaign:
 * export_fhir.c) and the push (transaction bundles of a batch of residents: push.c).
 *
 * Resources come out type by type in fhir_types order, each type ordered by id, through a
 * callback, one at a time: nothing is held in memory but the resource being written. A range of
 * residents (after < patient id <= upto) selects the residents and everything that belongs to
 * them; the shared resources (Organization, Location, the Practitioners and Devices that the
 * range's records name) come with every range, so that each range's bundle resolves all of its
 * references by itself. */
#pragma once

#include "export.h"

#include "../domain/fhir.h"

enum fhir_type {
    FHIR_ORGANIZATION,
    FHIR_LOCATION,
    FHIR_PRACTITIONER,
    FHIR_DEVICE,
    FHIR_PATIENT,
    FHIR_ENCOUNTER,
    FHIR_OBSERVATION,
    FHIR_CONDITION,
    FHIR_SERVICE_REQUEST,
    FHIR_MEDICATION_DISPENSE,
    FHIR_PROVENANCE,
    FHIR_NTYPES
};
extern const char *const fhir_type_names[FHIR_NTYPES]; /* "Organization", ... */

enum {
    FHIR_WANT_NDJSON = 1, /* the resource with relative references */
    FHIR_WANT_ENTRY = 2,  /* the Bundle entry: urn:uuid references and the request */
};

struct fhir_res {
    enum fhir_type type;
    const char *id;
    const char *ndjson; /* not NUL-terminated; NULL unless FHIR_WANT_NDJSON */
    size_t ndjson_len;
    const char *entry; /* not NUL-terminated; NULL unless FHIR_WANT_ENTRY */
    size_t entry_len;
};

struct fhir_src {
    struct store *st;
    json_t *campaign; /* the campaign's row */
    const char *campaign_id;
    char organization_id[37]; /* "" when the campaign names no hospital */
    const char *sys_cccd, *sys_bhyt, *sys_code;
    int want; /* FHIR_WANT_* */
    /* Called for every resource; a non-zero return stops the walk and is returned. */
    int (*fn)(void *ctx, const struct fhir_res *r);
    void *ctx;
    const struct progress *progress; /* may be NULL */
    long counts[FHIR_NTYPES];        /* resources given to fn, by type (never reset) */
    struct fhir_buf nd, en;          /* scratch */
    char *systems_json;              /* holds the systems' strings */
};

/* Finds the campaign (code or id) and settles the identifier systems: opts' "system_cccd",
 * "system_bhyt", "system_code" (strings, absolute URIs), else the campaign's id_systems, else
 * mokit's defaults (FHIR_DEFAULT_SYS_*). MK_ENOTFOUND for no such campaign, MK_EINVAL (logged)
 * for a system that is not a URI or an unknown "system_" option. fhir_src_close frees. */
int fhir_src_open(struct fhir_src *s, struct store *st, const char *campaign, json_t *opts);
void fhir_src_close(struct fhir_src *s);

/* Walks the resources of the residents with after < id <= upto (after "" for the first; upto
 * NULL for no upper bound). Run it inside a read transaction for one consistent snapshot.
 * MK_OK, MK_EDB, MK_ENOMEM, or what fn returned. */
int fhir_src_walk(struct fhir_src *s, const char *after, const char *upto);

/* The id of the n-th resident after `after` (n >= 1) into upto: the end of a batch of n
 * residents. When fewer than n are left, upto is the last one's id; MK_ENOTFOUND when none is
 * left. *count gets the number of residents in the batch. */
int fhir_src_batch(struct fhir_src *s, const char *after, int n, char upto[64], int *count);

/* How many residents the campaign exports (for a progress bar). */
int fhir_src_patients(struct fhir_src *s, long *count);

/* --- push (push.c) ------------------------------------------------------------------------- */

struct push_req {
    struct store *st;
    const struct actor *actor;
    const char *campaign; /* code or id */
    const char *url;      /* the FHIR base URL: http:// or https:// */
    const char *token;    /* bearer token, or NULL */
    const char *data_dir; /* where the resume state file is kept */
    json_t *opts;         /* as for the export (identifier systems), may be NULL */
    int batch;            /* residents per transaction (1-10000) */
    long timeout;         /* seconds per request */
    int max_tries;        /* attempts per batch (>= 1) */
    int restart;          /* forget the saved position and start from the first resident */
    double backoff_base;  /* seconds before the first retry (doubled each time, +-50 % jitter) */
    double backoff_max;   /* cap on one wait */
    const struct progress *progress;
    /* Out: what the push did (*result is set, caller frees): batches sent, residents, skipped
     * batches (done by an earlier run), attempts, and the server's last answer. */
    json_t **result;
};

/* Posts the campaign to the server as transaction bundles, one per batch of residents, each
 * retried with backoff on connection errors, 408, 429 and 5xx (Retry-After honoured); a 4xx
 * stops the push with the server's OperationOutcome text in *result (the log gets the status
 * and issue codes only: servers quote the values they refuse). After each
 * batch the server accepted, DATA/push-<campaign>-<hash of url>.json records how far it got,
 * so that a push run again continues there; conditional creates make a batch sent twice create
 * nothing new. MK_OK; MK_EINVAL for a bad URL or request; MK_EIO when the server could not be
 * reached or refused (see *result); MK_ENOTFOUND for no such campaign. */
int fhir_push(const struct push_req *r);

/* The resume state's file name for a campaign id and URL ("push-<id>-<16 hex>.json"). */
void fhir_push_state_name(const char *campaign_id, const char *url, char out[128]);
