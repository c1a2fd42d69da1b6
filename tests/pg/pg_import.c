/* Drives records_dump and the importers without a package's signing and encryption, for
 * tests/pg/run.py and tests/bench/bench_import_pg.py:
 *   pg_import dump DATA_DIR CAMPAIGN OUT      OUT.ndjson + OUT.manifest.json (a new package id)
 *   pg_import import TARGET MANIFEST NDJSON   TARGET: pg:CONNINFO or a data directory
 * import prints the result as JSON ({"already_imported": true} for a package imported
 * before) and exits 0; 2 for a refused package (the reason on stderr), 3 for a system error. */
#include "../../app/common/err.h"
#include "../../app/common/log.h"
#include "../../app/common/util.h"
#include "../../app/export/records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int dump(const char *dir, const char *campaign, const char *out)
{
    struct store *st;
    char path[4096];
    int rc = store_open(dir, &st);
    if (rc != MK_OK)
        return 3;
    snprintf(path, sizeof path, "%s.ndjson", out);
    FILE *f = fopen(path, "w");
    json_t *counts = NULL, *c = NULL;
    double t0 = util_monotonic();
    rc = f ? records_dump(st, campaign, f, &counts, NULL) : MK_EIO;
    if (f && fclose(f) != 0 && rc == MK_OK)
        rc = MK_EIO;
    double took = util_monotonic() - t0;
    if (rc == MK_OK)
        rc = store_campaign_get(st, campaign, &c);
    if (rc == MK_OK) {
        char pkg[UUID_LEN + 1], now[32];
        util_uuid7(pkg);
        util_now_iso(now);
        json_t *m = json_pack("{s:s,s:s,s:{s:O,s:O,s:O},s:o,s:s}", "package", pkg, "kit",
                              store_kit_id(st), "campaign", "id", json_object_get(c, "id"), "code",
                              json_object_get(c, "code"), "name", json_object_get(c, "name"),
                              "counts", counts, "created_at", now);
        counts = NULL;
        snprintf(path, sizeof path, "%s.manifest.json", out);
        rc = m && json_dump_file(m, path, JSON_INDENT(1)) == 0 ? MK_OK : MK_EIO;
        json_decref(m);
    }
    json_decref(c);
    json_decref(counts);
    store_close(st);
    if (rc != MK_OK) {
        fprintf(stderr, "pg_import: dump: %s\n", mk_strerror(rc));
        return 3;
    }
    fprintf(stderr, "dump: %.2f s\n", took);
    return 0;
}

static int import(const char *target, const char *manifest_path, const char *ndjson)
{
    json_error_t je;
    json_t *m = json_load_file(manifest_path, 0, &je);
    FILE *f = fopen(ndjson, "r");
    if (!m || !f) {
        fprintf(stderr, "pg_import: cannot read the manifest or the records\n");
        return 3;
    }
    struct store *st = NULL;
    struct records_import *ri = NULL;
    int rc;
    if (!strncmp(target, "pg:", 3)) {
#ifdef MOKIT_PG
        rc = records_import_pg(target + 3, &ri);
#else
        rc = MK_EINVAL;
#endif
    } else {
        rc = store_open(target, &st);
        if (rc == MK_OK)
            rc = records_import_sqlite(st, &ri);
    }
    if (rc != MK_OK) {
        fprintf(stderr, "pg_import: cannot open %s: %s\n", target, mk_strerror(rc));
        return 3;
    }
    double t0 = util_monotonic();
    rc = records_import_begin(ri, m, "cli:test");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (rc == MK_OK && (n = getline(&line, &cap, f)) >= 0)
        rc = records_import_line(ri, line, (size_t)n);
    json_t *res = NULL;
    if (rc == MK_OK)
        rc = records_import_commit(ri, &res);
    double took = util_monotonic() - t0;
    int exit_code = 0;
    if (rc == MK_EEXIST) {
        puts("{\"already_imported\": true}");
    } else if (rc != MK_OK) {
        fprintf(stderr, "pg_import: refused: %s\n", records_import_error(ri));
        exit_code = rc == MK_EINVAL ? 2 : 3;
    } else {
        json_dumpf(res, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
        putchar('\n');
        fprintf(stderr, "import: %.2f s\n", took);
    }
    free(line);
    fclose(f);
    json_decref(res);
    json_decref(m);
    records_import_free(ri);
    store_close(st);
    return exit_code;
}

int main(int argc, char **argv)
{
    log_threshold = LOG_WARN;
    if (argc == 5 && !strcmp(argv[1], "dump"))
        return dump(argv[2], argv[3], argv[4]);
    if (argc == 5 && !strcmp(argv[1], "import"))
        return import(argv[2], argv[3], argv[4]);
    fprintf(stderr,
            "usage: pg_import dump DATA_DIR CAMPAIGN OUT | import TARGET MANIFEST NDJSON\n");
    return 1;
}
