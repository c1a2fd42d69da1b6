/* A campaign's records as they travel in a hand-off package, and their import at the hospital.
 *
 * The records are NDJSON, one row a line: {"t":"<table>","r":{<columns>}}, tables in this
 * order (each row only refers to rows before it or already at the hospital):
 *   campaign, staff, patient, visit, observation, device_reading, finding, referral, medicine,
 *   prescription, stock_move
 * staff carries id, name, role, specialty and created_at only (never PIN hashes); patient
 * leaves out the kit's row number and the folded search columns (the importer folds again);
 * device_reading carries the readings attached to the campaign's visits (provenance of their
 * observations), without the kit's station and de-duplication key; referral leaves out the
 * kit's print job. Kit-local tables (sessions, print jobs, queue calls, audit) stay on the kit.
 *
 * Import merges a package into the hospital's store (app/doc/import.md): a resident whose id,
 * CCCD or BHYT social insurance number is already there is that patient; one who only looks
 * like someone already there (name, birth year, commune) is added and listed for a person to
 * review, never merged. Everything of one package is written in one transaction, or nothing.
 *
 * Functions return 0 or a negative enum mk_err; json_t results are new references the caller
 * owns (json_decref). */
#pragma once

#include "../store/store.h"
#include "export.h"

#include <jansson.h>
#include <stdio.h>

/* Writes the records of a campaign (code or id) to out, streaming. *counts (may be NULL) =
 * {"campaign": 1, "staff": n, "patient": n, ...}, every table named. MK_ENOTFOUND, MK_EIO
 * (a write failed), MK_EDB. */
int records_dump(struct store *st, const char *campaign_code_or_id, FILE *out, json_t **counts,
                 const struct progress *p);

struct records_import;

/* An importer into a mokit store (the hospital's own data directory: same schema as a kit).
 * The store stays the caller's; free the importer before closing it. */
int records_import_sqlite(struct store *st, struct records_import **out);
#ifdef MOKIT_PG
/* An importer into PostgreSQL (libpq conninfo or URL). Creates mokit's tables when missing
 * (app/sql/pg/, a schema_version table). MK_EIO when the server cannot be reached,
 * MK_ESCHEMA when its mokit schema is newer than this program's. */
int records_import_pg(const char *conninfo, struct records_import **out);
#endif

/* Starts importing a package. manifest: {"package": "<uuid>", "kit": "<kit id>",
 * "campaign": {"id", "code", "name", ...}, "counts": {...}, "created_at": ...}. Opens the one
 * transaction. MK_EEXIST when this package was imported before: nothing changes, the caller
 * says "already imported". MK_EINVAL for a manifest without those. actor_label: "cli:<user>". */
int records_import_begin(struct records_import *ri, const json_t *manifest,
                         const char *actor_label);
/* One NDJSON line (without its newline; an empty line is skipped). MK_EINVAL, with
 * records_import_error() naming the line and the reason, for anything that is not a row of a
 * known table, in order, with known columns and values the kit's store would take (types,
 * lengths, enums, dates, codes). After an error the import can only be freed. */
int records_import_line(struct records_import *ri, const char *line, size_t len);
/* Checks that the rows seen equal the manifest's counts, merges patients, writes the import
 * record and commits. *result = {"package", "campaign", "patients_new", "patients_merged",
 * "patients_already", "visit": n inserted, ..., "already": {table: n}, "likely_matches":
 * [{"patient": {...}, "other": {...}, "reason"}]}. Any failure: rolled back, nothing
 * written, records_import_error() says why. */
int records_import_commit(struct records_import *ri, json_t **result);
/* The last error in words ("" when none). Valid until the next call or the free. */
const char *records_import_error(const struct records_import *ri);
/* Rolls back when not committed. NULL is fine. */
void records_import_free(struct records_import *ri);

/* ---- at the hospital: referred residents, likely matches ---- */

/* Referrals still "referred", urgent first, then the oldest; campaign (code or id) may be
 * NULL. Each {id, patient: {code, name, sex, birth_year, commune, village}, to, reason,
 * urgency, campaign, day, days_since}. */
int records_referrals_pending(struct store *st, const char *campaign, json_t **out);
/* A scan from a wristband or a referral slip (both carry the patient code). Marks the
 * patient's open referrals arrived (audited) and gives {patient, arrived: [referrals],
 * visits: [{day, campaign, observations, findings, referrals}]}. MK_ECHECK / MK_EINVAL for a
 * scan that is not a patient code, MK_ENOTFOUND for a code nobody carries, MK_ERANGE when the
 * patient has no open referral (*out still the record), MK_EEXIST when two residents carry
 * the code (two kits drew it: *out lists them, nothing changed). */
int records_arrive(struct store *st, const struct actor *a, const char *scan, json_t **out);
/* Likely matches still open: [{id, reason, import, patient: {...}, other: {...}}]. */
int records_matches(struct store *st, json_t **out);

#ifdef MOKIT_PG
/* The same three against the hospital's PostgreSQL store. */
int records_pg_referrals_pending(const char *conninfo, const char *campaign, json_t **out);
int records_pg_arrive(const char *conninfo, const char *actor_label, const char *scan,
                      json_t **out);
int records_pg_matches(const char *conninfo, json_t **out);
#endif
