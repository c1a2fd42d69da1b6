/* Hand-off to the hospital: what a campaign's results are exported as, and how.
 *
 *   fhir     DIR: bundle.json (a FHIR R4 transaction Bundle) and one NDJSON file per resource
 *            type (Patient.ndjson, Observation.ndjson, ...)            export_fhir.c
 *   csv      DIR: visits.csv (one row per visit) and one file per observation kind
 *            (observations-bp.csv, ...), UTF-8 with a BOM              export_csv.c
 *   report   DIR: report.html (printable, SVG charts) and report.json  export_report.c
 *   package  FILE: the campaign's records, signed by the kit and encrypted to the hospital's
 *            key, for `mokit import` at the hospital                   package.c
 *
 * An export is written whole or not at all: into a temporary name beside the target, renamed
 * into place at the end (outdir_*). Exports read the store; they change nothing in it except
 * the audit row that says who exported what. */
#pragma once

#include "../store/store.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>

/* Progress of a long export or import, for a bar on a terminal. done counts up to total
 * (total 0: not known); stage names the part ("Patient", "visits", "encrypt"). */
struct progress {
    void (*fn)(void *ctx, const char *stage, long done, long total);
    void *ctx;
};
static inline void progress_note(const struct progress *p, const char *stage, long done, long total)
{
    if (p && p->fn)
        p->fn(p->ctx, stage, done, total);
}

struct export_req {
    struct store *st;
    const struct actor *actor;
    const char *campaign; /* code or id */
    const char *out;      /* the directory (fhir, csv, report) or file (package) to make */
    const char *lang;     /* "vi" (default) or "en": CSV headers, report texts */
    const struct progress *progress;
    json_t *opts; /* format options (may be NULL), e.g. {"system_cccd": "urn:..."} */
};

int export_fhir(const struct export_req *r);
int export_csv(const struct export_req *r);
int export_report(const struct export_req *r);
int export_package(const struct export_req *r);

/* A directory made whole or not at all: files go into "<path>.tmp-XXXXXX" beside it, which
 * outdir_commit renames to path. path must not exist yet (MK_EEXIST). */
struct outdir {
    char path[PATH_MAX];
    char tmp[PATH_MAX];
};
int outdir_open(struct outdir *d, const char *path);
/* Creates name (no slashes) in the directory for writing ("wb"); NULL with errno set. */
FILE *outdir_file(struct outdir *d, const char *name);
/* Closes f, checking that every write reached the file (fflush, ferror, fsync): MK_OK,
 * MK_ENOSPC for a full disk, MK_EIO. */
int outdir_close_file(FILE *f);
int outdir_commit(struct outdir *d);
/* Removes the temporary directory and what is in it. */
void outdir_abort(struct outdir *d);
/* fsync()s the directory that holds path, so that a rename into it survives power loss. */
void outdir_fsync_parent(const char *path);
