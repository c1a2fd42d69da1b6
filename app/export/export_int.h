/* What the CSV and the report exports share: the screening rules they flag visits with, one
 * file of an export directory, the audit row, a read snapshot.
 *
 * The rules: mokitd passes the ones it runs with (its --rules file), so that an export from
 * the web UI counts exactly what the dashboard shows; export_csv() and export_report() take
 * r->opts "rules" (a rules file's path, `mokit export --rules FILE`) or the built-in rules. */
#pragma once

#include "../domain/screen.h"
#include "export.h"

#include <stdbool.h>

/* r->opts "rules" (a file) or the defaults into out: MK_OK, MK_EINVAL (a file that does not
 * parse, logged), MK_EIO (cannot be read). */
int export_rules_load(const struct export_req *r, struct screen_rules *out);

int export_csv_with(const struct export_req *r, const struct screen_rules *rules);
int export_report_with(const struct export_req *r, const struct screen_rules *rules);

/* Makes name in d and writes it with fn(f, ctx), then closes it checking every write:
 * MK_OK, fn's error, or MK_ENOSPC / MK_EIO from the file system. */
int export_file(struct outdir *d, const char *name, int (*fn)(FILE *f, void *ctx), void *ctx);

/* The campaign by code or id: its id and code; MK_ENOTFOUND. *camp (may be NULL) gets the
 * campaign's JSON. */
int export_campaign(struct store *st, const char *code_or_id, char id[64], char code[64],
                    json_t **camp);

/* A read transaction, so that every file of an export sees the same data while mokitd goes on
 * writing. true when one was begun (the caller was not in a transaction). */
bool export_snapshot_begin(struct store *st);
void export_snapshot_end(struct store *st, bool begun);

/* The audit row of an export of the campaign: action "export", what (borrowed) as "after". */
int export_audit(const struct export_req *r, const char *campaign_id, json_t *what);
