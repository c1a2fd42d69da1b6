/* The hand-off commands: export on the kit; keys, trust and import at the hospital. */
#include "cli.h"

#include "../common/err.h"
#include "../common/log.h"
#include "../domain/keyfile.h"
#include "../export/export.h"
#include "../export/package.h"
#include "../export/records.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- the progress bar ---- */

struct bar {
    const char *label;
    double last;
    int shown;
};
static struct bar bar;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bar_draw(void *ctx, const char *stage, long done, long total)
{
    struct bar *b = ctx;
    double t = now_s();
    bool end = total > 0 && done >= total;
    if (!end && t - b->last < 0.1) /* ten frames a second is plenty */
        return;
    b->last = t;
    b->shown = 1;
    if (total > 0) {
        int width = 30, fill = (int)((double)done / (double)total * width);
        if (fill > width)
            fill = width;
        fprintf(stderr, "\r%s %-12.12s [%.*s%*s] %3d%% ", b->label, stage, fill,
                "##############################", width - fill, "",
                (int)((double)done * 100 / (double)total));
    } else {
        fprintf(stderr, "\r%s %-12.12s %ld ", b->label, stage, done);
    }
    fflush(stderr);
}

void cli_progress_init(struct progress *p, const char *label)
{
    bar = (struct bar){label, 0, 0};
    /* Only on a terminal: a log file or a pipe gets no carriage returns. */
    *p = isatty(STDERR_FILENO) && !json_output ? (struct progress){bar_draw, &bar}
                                               : (struct progress){NULL, NULL};
}

void cli_progress_end(struct progress *p)
{
    if (p->fn && bar.shown)
        fputs("\r\033[K", stderr);
    p->fn = NULL;
}

/* ---- key files ---- */

static int read_key_file(const char *path, struct keyfile *k)
{
    char buf[16385], err[240];
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "mokit: cannot read %s: %s\n", path, strerror(errno));
        return EXIT_INVALID;
    }
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    int rc = n == sizeof buf ? MK_EINVAL : keyfile_parse(buf, n, k, err, sizeof err);
    if (n == sizeof buf)
        snprintf(err, sizeof err, "larger than a key file");
    sodium_memzero(buf, sizeof buf);
    if (rc != MK_OK) {
        fprintf(stderr, "mokit: %s: %s\n", path, err);
        return EXIT_INVALID;
    }
    return 0;
}

/* ---- mokit campaign hospital-key | id-systems ---- */

int cmd_campaign_handoff(int argc, char **argv)
{
    static const char help[] =
        "usage: mokit campaign hospital-key CODE FILE|--clear\n"
        "       mokit campaign id-systems CODE [--cccd URI] [--bhyt URI] [--code URI] "
        "[--clear]\n"
        "hospital-key: the hospital's public key file (from `mokit keys hospital-new` at the\n"
        "  hospital) that the campaign's package is encrypted to. Read its fingerprint out\n"
        "  to the hospital on the phone before the campaign.\n"
        "id-systems: the FHIR identifier systems (URIs) the receiving hospital uses for CCCD,\n"
        "  BHYT and mokit patient codes; --clear returns to mokit's defaults.\n";
    if (wants_help(argc, argv, 2)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc < 5) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    const char *code = argv[3];
    struct store *st;
    int rc;
    if (strcmp(argv[2], "hospital-key") == 0) {
        if (argc != 5) {
            fputs(help, stderr);
            return EXIT_USAGE;
        }
        struct keyfile k;
        bool clear = strcmp(argv[4], "--clear") == 0;
        if (!clear && (rc = read_key_file(argv[4], &k)) != 0)
            return rc;
        if (!clear && k.kind != KEYFILE_HOSPITAL_BOX) {
            fprintf(stderr,
                    "mokit: %s is a %s key: a campaign takes the hospital's public key "
                    "(hospital-box)%s\n",
                    argv[4], keyfile_kind_name(k.kind),
                    k.kind == KEYFILE_HOSPITAL_SECRET ? "; the secret key stays at the hospital"
                                                      : "");
            sodium_memzero(&k, sizeof k);
            return EXIT_INVALID;
        }
        if ((rc = open_store(&st)) != 0)
            return rc;
        rc = store_campaign_set_hospital_key(st, &cli_actor, code, clear ? NULL : &k);
        store_close(st);
        if (rc == MK_ENOTFOUND) {
            fprintf(stderr, "mokit: no campaign %s\n", code);
            return EXIT_INVALID;
        }
        if (rc != MK_OK)
            return fail_rc(rc, "campaign hospital-key");
        if (clear)
            printf("campaign %s: no hospital key\n", code);
        else
            printf("campaign %s exports to %s, key fingerprint %s\n", code, k.name, k.fingerprint);
        return 0;
    }
    if (strcmp(argv[2], "id-systems") == 0) {
        struct opt o[] = {{"cccd", 1, 0}, {"bhyt", 1, 0}, {"code", 1, 0}, {"clear", 0, 0}};
        const char *pos[1];
        int npos;
        if (parse_opts(argc, argv, 4, o, 4, pos, 0, &npos) != 0) {
            fputs(help, stderr);
            return EXIT_USAGE;
        }
        json_t *sys = json_object();
        bool clear = opt_get(o, 4, "clear") != NULL;
        for (int i = 0; i < 3; i++) {
            if (!o[i].value)
                continue;
            if (clear || !store_id_system_valid(o[i].value)) {
                fprintf(stderr, "mokit: --%s must be an absolute URI (urn:oid:..., https://...)\n",
                        o[i].name);
                json_decref(sys);
                return EXIT_INVALID;
            }
            json_object_set_new(sys, o[i].name, json_string(o[i].value));
        }
        if (!clear && json_object_size(sys) == 0) {
            json_decref(sys);
            fputs(help, stderr);
            return EXIT_USAGE;
        }
        if ((rc = open_store(&st)) != 0) {
            json_decref(sys);
            return rc;
        }
        rc = store_campaign_set_id_systems(st, &cli_actor, code, sys);
        store_close(st);
        json_decref(sys);
        if (rc == MK_ENOTFOUND) {
            fprintf(stderr, "mokit: no campaign %s\n", code);
            return EXIT_INVALID;
        }
        if (rc != MK_OK)
            return fail_rc(rc, "campaign id-systems");
        printf("campaign %s: identifier systems %s\n", code, clear ? "cleared" : "set");
        return 0;
    }
    fputs(help, stderr);
    return EXIT_USAGE;
}

/* ---- mokit keys trust | untrust | trusted ---- */

int cmd_keys_trust(int argc, char **argv)
{
    struct store *st;
    int rc;
    json_t *out = NULL;
    if (strcmp(argv[2], "trusted") == 0 && argc == 3) {
        if ((rc = open_store(&st)) != 0)
            return rc;
        rc = store_trusted_kit_list(st, &out);
        store_close(st);
        if (rc != MK_OK)
            return fail_rc(rc, "keys trusted");
        if (json_output) {
            print_json(out);
        } else {
            size_t i;
            json_t *k;
            if (json_array_size(out) == 0)
                puts("no kit is trusted yet: `mokit keys trust KIT-KEY-FILE`");
            json_array_foreach(out, i, k)
            {
                const char *label = json_string_value(json_object_get(k, "label"));
                printf("%s  %s  %s%s%s\n", json_string_value(json_object_get(k, "kit_id")),
                       json_string_value(json_object_get(k, "fingerprint")),
                       json_string_value(json_object_get(k, "trusted_at")), label ? "  " : "",
                       label ? label : "");
            }
        }
        json_decref(out);
        return 0;
    }
    if (strcmp(argv[2], "untrust") == 0 && argc == 4) {
        if ((rc = open_store(&st)) != 0)
            return rc;
        rc = store_trusted_kit_remove(st, &cli_actor, argv[3]);
        store_close(st);
        if (rc == MK_ENOTFOUND) {
            fprintf(stderr, "mokit: kit %s is not trusted here\n", argv[3]);
            return EXIT_INVALID;
        }
        if (rc != MK_OK)
            return fail_rc(rc, "keys untrust");
        printf("kit %s is no longer trusted\n", argv[3]);
        return 0;
    }
    if (strcmp(argv[2], "trust") == 0 &&
        (argc == 4 || (argc == 6 && !strcmp(argv[4], "--label")))) {
        struct keyfile k;
        if ((rc = read_key_file(argv[3], &k)) != 0)
            return rc;
        if (k.kind != KEYFILE_KIT_SIGN) {
            fprintf(stderr,
                    "mokit: %s is a %s key, not a kit's signing key (`mokit keys export` "
                    "on the kit makes one)\n",
                    argv[3], keyfile_kind_name(k.kind));
            return EXIT_INVALID;
        }
        if ((rc = open_store(&st)) != 0)
            return rc;
        rc = store_trusted_kit_add(st, &cli_actor, &k, argc == 6 ? argv[5] : NULL, &out);
        store_close(st);
        if (rc == MK_EEXIST) {
            bool same = json_is_true(json_object_get(out, "same"));
            json_t *have = json_object_get(out, "kit");
            if (same) {
                printf("kit %s is trusted already (fingerprint %s)\n", k.name, k.fingerprint);
                json_decref(out);
                return 0;
            }
            fprintf(stderr,
                    "mokit: refused: kit %s is trusted with another key (fingerprint %s), or "
                    "this key belongs to another kit. If the kit really has a new key, `mokit "
                    "keys untrust %s` first.\n",
                    json_string_value(json_object_get(have, "kit_id")),
                    json_string_value(json_object_get(have, "fingerprint")),
                    json_string_value(json_object_get(have, "kit_id")));
            json_decref(out);
            return EXIT_INVALID;
        }
        if (rc == MK_EINVAL) {
            fprintf(stderr, "mokit: --label is at most 120 bytes\n");
            return EXIT_INVALID;
        }
        if (rc != MK_OK)
            return fail_rc(rc, "keys trust");
        json_decref(out);
        printf("kit %s trusted, fingerprint %s\n", k.name, k.fingerprint);
        return 0;
    }
    fputs("usage: mokit keys trust KIT-KEY-FILE [--label TEXT] | untrust KIT | trusted\n", stderr);
    return EXIT_USAGE;
}

/* ---- mokit export ---- */

int cli_id_system_opts(const struct opt *o, int n, json_t *opts)
{
    static const char *sys[] = {"system-cccd", "system-bhyt", "system-code"};
    static const char *key[] = {"system_cccd", "system_bhyt", "system_code"};
    for (int i = 0; i < 3; i++) {
        const char *v = opt_get(o, n, sys[i]);
        if (!v)
            continue;
        if (!store_id_system_valid(v)) {
            fprintf(stderr, "mokit: --%s must be an absolute URI (urn:oid:..., https://...)\n",
                    sys[i]);
            return EXIT_INVALID;
        }
        json_object_set_new(opts, key[i], json_string(v));
    }
    return 0;
}

int cmd_export(int argc, char **argv)
{
    static const char help[] =
        "usage: mokit export --campaign C --format fhir|csv|report|package --out PATH\n"
        "                    [--lang vi|en] [--to HOSPITAL-KEY-FILE] [--rules FILE]\n"
        "                    [--system-cccd URI] [--system-bhyt URI] [--system-code URI]\n"
        "fhir: PATH is a new directory with bundle.json (a FHIR R4 transaction) and one\n"
        "  NDJSON file per resource type. The identifier systems default to the campaign's\n"
        "  (`mokit campaign id-systems`).\n"
        "csv: a new directory with visits.csv (one row per visit) and one file per kind of\n"
        "  observation, UTF-8 with a BOM; headers in Vietnamese, or English with --lang en.\n"
        "report: a new directory with report.html (printable) and report.json.\n"
        "  CSV flags and the report's counts use the built-in screening rules, or --rules FILE\n"
        "  (the file mokitd runs with, so that the report equals the dashboard).\n"
        "package: a new file to carry to the hospital: signed by this kit, encrypted to the\n"
        "  campaign's hospital key (`mokit campaign hospital-key`) or to --to FILE.\n"
        "Nothing is written over: PATH must not exist. An export appears whole or not at all.\n";
    struct opt o[] = {{"campaign", 1, 0},    {"format", 1, 0},      {"out", 1, 0},
                      {"lang", 1, 0},        {"to", 1, 0},          {"system-cccd", 1, 0},
                      {"system-bhyt", 1, 0}, {"system-code", 1, 0}, {"rules", 1, 0}};
    const int n = sizeof o / sizeof o[0];
    const char *pos[1];
    int npos, rc;
    if (wants_help(argc, argv, 2)) {
        fputs(help, stdout);
        return 0;
    }
    if (parse_opts(argc, argv, 2, o, n, pos, 0, &npos) != 0) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    const char *campaign = opt_get(o, n, "campaign"), *format = opt_get(o, n, "format"),
               *out = opt_get(o, n, "out"), *lang = opt_get(o, n, "lang");
    if (!campaign || !format || !out) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    if (lang && strcmp(lang, "vi") != 0 && strcmp(lang, "en") != 0) {
        fprintf(stderr, "mokit: --lang is vi or en\n");
        return EXIT_USAGE;
    }
    int (*fn)(const struct export_req *) = NULL;
    if (strcmp(format, "fhir") == 0)
        fn = export_fhir;
    else if (strcmp(format, "csv") == 0)
        fn = export_csv;
    else if (strcmp(format, "report") == 0)
        fn = export_report;
    else if (strcmp(format, "package") != 0) {
        fprintf(stderr, "mokit: --format is fhir, csv, report or package\n");
        return EXIT_USAGE;
    }
    json_t *opts = json_object();
    if ((rc = cli_id_system_opts(o, n, opts)) != 0) {
        json_decref(opts);
        return rc;
    }
    const char *rules = opt_get(o, n, "rules");
    if (rules)
        json_object_set_new(opts, "rules", json_string(rules));
    const char *to = opt_get(o, n, "to");
    if (to) {
        struct keyfile k;
        if ((rc = read_key_file(to, &k)) != 0) {
            json_decref(opts);
            return rc;
        }
        if (k.kind != KEYFILE_HOSPITAL_BOX) {
            fprintf(stderr, "mokit: --to takes the hospital's public key file, not a %s key\n",
                    keyfile_kind_name(k.kind));
            sodium_memzero(&k, sizeof k);
            json_decref(opts);
            return EXIT_INVALID;
        }
        json_object_set_new(opts, "hospital_key", keyfile_json(&k));
        sodium_memzero(&k, sizeof k);
    }
    struct store *st;
    if ((rc = open_store(&st)) != 0) {
        json_decref(opts);
        return rc;
    }
    char cid[64];
    if (store_campaign_id(st, campaign, cid) != MK_OK) {
        fprintf(stderr, "mokit: no campaign %s\n", campaign);
        store_close(st);
        json_decref(opts);
        return EXIT_INVALID;
    }
    struct progress p;
    cli_progress_init(&p, format);
    struct export_req r = {st, &cli_actor, campaign, out, lang ? lang : "vi", &p, opts};
    char err[400] = "";
    json_t *manifest = NULL;
    if (fn) {
        rc = fn(&r);
    } else {
        rc = package_write(&r, &manifest, err, sizeof err);
    }
    cli_progress_end(&p);
    store_close(st);
    json_decref(opts);
    if (rc == MK_EEXIST) {
        fprintf(stderr, "mokit: %s exists: an export never writes over anything\n", out);
        json_decref(manifest);
        return EXIT_INVALID;
    }
    if (rc != MK_OK) {
        if (err[0])
            fprintf(stderr, "mokit: export: %s\n", err);
        else
            fail_rc(rc, "export");
        json_decref(manifest);
        return rc == MK_EINVAL || rc == MK_ENOTFOUND ? EXIT_INVALID : EXIT_SYSTEM;
    }
    if (manifest && json_output) {
        print_json(manifest);
    } else if (manifest) {
        json_t *c = json_object_get(manifest, "counts");
        printf(
            "package %s of campaign %s written to %s\n  %lld residents, %lld visits, %lld "
            "observations; encrypted to %s (%s)\n",
            json_string_value(json_object_get(manifest, "package")), campaign, out,
            (long long)json_integer_value(json_object_get(c, "patient")),
            (long long)json_integer_value(json_object_get(c, "visit")),
            (long long)json_integer_value(json_object_get(c, "observation")),
            json_string_value(json_object_get(json_object_get(manifest, "hospital_key"), "name")),
            json_string_value(
                json_object_get(json_object_get(manifest, "hospital_key"), "fingerprint")));
    } else {
        printf("%s export of campaign %s written to %s\n", format, campaign, out);
    }
    json_decref(manifest);
    return 0;
}

/* ---- mokit import ---- */

static void print_import(json_t *res)
{
    json_t *lm = json_object_get(res, "likely_matches");
    printf("imported package %s (campaign %s): %lld new residents, %lld matched by CCCD/BHYT, "
           "%lld already here\n",
           json_string_value(json_object_get(res, "package")),
           json_string_value(json_object_get(res, "campaign")),
           (long long)json_integer_value(json_object_get(res, "patients_new")),
           (long long)json_integer_value(json_object_get(res, "patients_merged")),
           (long long)json_integer_value(json_object_get(res, "patients_already")));
    static const char *tables[] = {"visit",    "observation",  "finding",    "referral",
                                   "medicine", "prescription", "stock_move", "device_reading"};
    printf(" ");
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        json_t *v = json_object_get(res, tables[i]);
        if (json_is_integer(v))
            printf(" %s %lld", tables[i], (long long)json_integer_value(v));
    }
    putchar('\n');
    if (json_array_size(lm) > 0) {
        printf("%zu likely matches to review (added as new residents, not merged):\n",
               json_array_size(lm));
        size_t i;
        json_t *m;
        json_array_foreach(lm, i, m)
        {
            json_t *a = json_object_get(m, "patient"), *b = json_object_get(m, "other");
            printf("  %s %s (%lld) ~ %s %s (%lld): %s\n",
                   json_string_value(json_object_get(a, "code")),
                   json_string_value(json_object_get(a, "name")),
                   (long long)json_integer_value(json_object_get(a, "birth_year")),
                   json_string_value(json_object_get(b, "code")),
                   json_string_value(json_object_get(b, "name")),
                   (long long)json_integer_value(json_object_get(b, "birth_year")),
                   json_string_value(json_object_get(m, "reason")));
        }
    }
}

int cmd_import(int argc, char **argv)
{
    static const char help[] =
        "usage: mokit import PACKAGE --key HOSPITAL-SECRET-FILE [--pg URL]\n"
        "       mokit import --check PACKAGE [--kit-key KIT-KEY-FILE]\n"
        "At the hospital: checks that PACKAGE comes from a trusted kit (`mokit keys trust`)\n"
        "and was not altered, decrypts it with the hospital's secret key and imports it in one\n"
        "transaction into this data directory, or into PostgreSQL with --pg (libpq URL or\n"
        "conninfo). Importing a package again changes nothing. Residents with the same CCCD or\n"
        "BHYT number are one patient; likely matches (name, birth year, commune) are listed\n"
        "for review, never merged. A package that fails any check imports nothing.\n"
        "--check: only checks the signature (no secret key needed): against the trusted kits\n"
        "here, or a kit's key file.\n";
    struct opt o[] = {{"key", 1, 0}, {"pg", 1, 0}, {"check", 0, 0}, {"kit-key", 1, 0}};
    const int n = sizeof o / sizeof o[0];
    const char *pos[1];
    int npos, rc;
    if (wants_help(argc, argv, 2)) {
        fputs(help, stdout);
        return 0;
    }
    if (parse_opts(argc, argv, 2, o, n, pos, 1, &npos) != 0 || npos != 1) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    const char *path = pos[0], *keypath = opt_get(o, n, "key"), *pg = opt_get(o, n, "pg");
    char err[400] = "";
    struct store *st = NULL;
    if (opt_get(o, n, "check")) {
        const char *kk = opt_get(o, n, "kit-key");
        struct keyfile k;
        if (kk) {
            if ((rc = read_key_file(kk, &k)) != 0)
                return rc;
            if (k.kind != KEYFILE_KIT_SIGN) {
                fprintf(stderr, "mokit: %s is not a kit's signing key\n", kk);
                return EXIT_INVALID;
            }
        } else if ((rc = open_store(&st)) != 0) {
            return rc;
        }
        json_t *info = NULL;
        rc = package_check(path, st, kk ? k.public_key : NULL, &info, err, sizeof err);
        if (st)
            store_close(st);
        if (rc != MK_OK) {
            fprintf(stderr, "mokit: %s\n", err);
            return rc == MK_EIO ? EXIT_SYSTEM : EXIT_INVALID;
        }
        if (json_output)
            print_json(info);
        else
            printf("%s: signed by kit %s (fingerprint %s), not altered; encrypted to the "
                   "hospital key %s; made %s\n",
                   path, json_string_value(json_object_get(info, "kit")),
                   json_string_value(json_object_get(info, "kit_fingerprint")),
                   json_string_value(json_object_get(info, "hospital_key")),
                   json_string_value(json_object_get(info, "created_at")));
        json_decref(info);
        return 0;
    }
    if (!keypath) {
        fprintf(stderr, "mokit: import needs the hospital's secret key: --key FILE\n");
        return EXIT_USAGE;
    }
    struct keyfile hk;
    if ((rc = read_key_file(keypath, &hk)) != 0)
        return rc;
    if (hk.kind != KEYFILE_HOSPITAL_SECRET) {
        fprintf(stderr, "mokit: %s is a %s key: import needs the hospital's secret key file\n",
                keypath, keyfile_kind_name(hk.kind));
        sodium_memzero(&hk, sizeof hk);
        return EXIT_INVALID;
    }
    if ((rc = open_store(&st)) != 0) {
        sodium_memzero(&hk, sizeof hk);
        return rc;
    }
    struct records_import *ri = NULL;
    if (pg) {
#ifdef MOKIT_PG
        rc = records_import_pg(pg, &ri);
        if (rc != MK_OK)
            fprintf(stderr, "mokit: PostgreSQL at --pg: %s\n", mk_strerror(rc));
#else
        fprintf(stderr, "mokit: this build has no PostgreSQL support (built with PG=0); import "
                        "on the hospital's computer\n");
        rc = MK_EINVAL;
#endif
    } else {
        rc = records_import_sqlite(st, &ri);
        if (rc != MK_OK)
            fprintf(stderr, "mokit: cannot import here: %s\n", mk_strerror(rc));
    }
    if (rc != MK_OK) {
        store_close(st);
        sodium_memzero(&hk, sizeof hk);
        return rc == MK_EINVAL ? EXIT_INVALID : EXIT_SYSTEM;
    }
    struct progress p;
    json_t *res = NULL;
    cli_progress_init(&p, "import");
    rc = package_import(path, &hk, st, ri, cli_actor.label, &p, &res, err, sizeof err);
    cli_progress_end(&p);
    records_import_free(ri);
    store_close(st);
    sodium_memzero(&hk, sizeof hk);
    if (rc == MK_EEXIST) {
        printf("%s\n", err); /* not a failure: the package is there already */
        return 0;
    }
    if (rc != MK_OK) {
        fprintf(stderr, "mokit: import refused: %s\n", err);
        json_decref(res);
        return rc == MK_EIO || rc == MK_ENOSPC || rc == MK_EDB || rc == MK_ENOMEM ? EXIT_SYSTEM
                                                                                  : EXIT_INVALID;
    }
    if (json_output)
        print_json(res);
    else
        print_import(res);
    json_decref(res);
    return 0;
}
