/* The campaign package: made on the kit (`mokit export --format package`), checked and
 * imported at the hospital (`mokit import`). Format: app/domain/pkgfmt.h. */
#pragma once

#include "export.h"

#include <jansson.h>

struct keyfile;
struct records_import;

/* Writes the package of r->campaign to the file r->out (never over an existing one), encrypted
 * to the hospital key in r->opts "hospital_key" (a key file's JSON) or else the campaign's.
 * *manifest (may be NULL) = the manifest it carries. Audited. MK_EINVAL (no hospital key, the
 * wrong kind of key: err says), MK_EEXIST, MK_ENOTFOUND, MK_ENOSPC, MK_EIO. */
int package_write(const struct export_req *r, json_t **manifest, char *err, size_t errlen);

/* Reads a package's clear header and checks its signature over the whole file: against the
 * kit key kit_key (32 bytes) when given, else against the kits trusted in the store trust.
 * No hospital key needed: anyone can tell whether a package was altered. *info (may be NULL)
 * {kit, kit_key, kit_fingerprint, hospital_key, created_at, bytes, trust}. MK_EINVAL (not a
 * package, cut short, altered), MK_EAUTH (untrusted kit, another key), MK_EIO. */
int package_check(const char *path, struct store *trust, const unsigned char *kit_key,
                  json_t **info, char *err, size_t errlen);

/* Imports a package through ri (records.h) with the hospital's secret key: checks the kit is
 * trusted in trust and the signature, then decrypts and imports in the importer's one
 * transaction, committed only when the signature, the stream's end and the manifest's hash and
 * counts all hold. MK_EAUTH (untrusted kit, another hospital's key), MK_EINVAL (altered, cut,
 * malformed records), MK_EEXIST (imported before: nothing changed), MK_EIO. err says which. */
int package_import(const char *path, const struct keyfile *hospital, struct store *trust,
                   struct records_import *ri, const char *actor_label,
                   const struct progress *progress, json_t **result, char *err, size_t errlen);
