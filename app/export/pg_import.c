/* Import into PostgreSQL: the hospital's province-wide store that many kits and campaigns
 * feed. Rows are checked as for SQLite (records.c), streamed with COPY into temporary staging
 * tables, then merged with set-based SQL, all in one transaction (app/doc/import.md). */
#include "../common/err.h"
#include "../common/log.h"
#include "../domain/code.h"
#include "pg_int.h"
#include "pg_migrations.h"
#include "records_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Imports one at a time: the merge reads what earlier imports wrote. */
#define IMPORT_LOCK "SELECT pg_advisory_xact_lock(7362011)"

int pg_run(PGconn *c, const char *sql, int nparams, const char *const *params, int want,
           PGresult **res, char *err, size_t errlen)
{
    PGresult *r =
        nparams ? PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0) : PQexec(c, sql);
    if (res)
        *res = NULL;
    if (!r)
        return MK_ENOMEM;
    if ((int)PQresultStatus(r) != want) {
        /* The primary message and the constraint only: PostgreSQL's DETAIL quotes the
         * offending values ("Key (cccd)=(...)"), and this text reaches logs and terminals. */
        const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        const char *k = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
        snprintf(err, errlen, "PostgreSQL: %s%s%s%s", m ? m : "error", k ? " (constraint " : "",
                 k ? k : "", k ? ")" : "");
        PQclear(r);
        return MK_EDB;
    }
    if (res)
        *res = r;
    else
        PQclear(r);
    return MK_OK;
}

int pg_connect(const char *conninfo, PGconn **out, char *err, size_t errlen)
{
    *out = NULL;
    PGconn *c = PQconnectdb(conninfo);
    if (!c)
        return MK_ENOMEM;
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect to PostgreSQL: %s", PQerrorMessage(c));
        err[strcspn(err, "\n")] = '\0';
        PQfinish(c);
        return MK_EIO;
    }
    PQsetClientEncoding(c, "UTF8");
    PQsetErrorVerbosity(c, PQERRORS_TERSE); /* no DETAIL lines: they quote row values */
    /* The schema, once: under a lock, so two first imports do not both make it. */
    int rc = pg_run(c, "SET client_min_messages = warning", 0, NULL, PGRES_COMMAND_OK, NULL, err,
                    errlen);
    if (rc == MK_OK)
        rc = pg_run(c, "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL, err, errlen);
    if (rc == MK_OK)
        rc = pg_run(c, "SELECT pg_advisory_xact_lock(7362010)", 0, NULL, PGRES_TUPLES_OK, NULL, err,
                    errlen);
    if (rc == MK_OK)
        rc = pg_run(c,
                    "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
                    "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                    0, NULL, PGRES_COMMAND_OK, NULL, err, errlen);
    PGresult *r = NULL;
    if (rc == MK_OK)
        rc = pg_run(c, "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL,
                    PGRES_TUPLES_OK, &r, err, errlen);
    int have = r ? atoi(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    int newest = pg_migrations_count ? pg_migrations[pg_migrations_count - 1].version : 0;
    if (rc == MK_OK && have > newest) {
        snprintf(err, errlen,
                 "the PostgreSQL store has mokit schema %d, newer than this mokit's %d", have,
                 newest);
        rc = MK_ESCHEMA;
    }
    for (int i = 0; rc == MK_OK && i < pg_migrations_count; i++) {
        const struct migration *m = &pg_migrations[i];
        if (m->version <= have)
            continue;
        char v[16];
        snprintf(v, sizeof v, "%d", m->version);
        const char *p[] = {v, m->name};
        rc = pg_run(c, m->sql, 0, NULL, PGRES_COMMAND_OK, NULL, err, errlen);
        if (rc == MK_OK)
            rc = pg_run(c, "INSERT INTO schema_version(version, name) VALUES ($1, $2)", 2, p,
                        PGRES_COMMAND_OK, NULL, err, errlen);
        if (rc == MK_OK)
            LOG(LOG_NOTICE, "PostgreSQL store migrated to schema %d (%s)", m->version, m->name);
    }
    if (rc == MK_OK)
        rc = pg_run(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL, err, errlen);
    if (rc != MK_OK) {
        PQfinish(c);
        return rc;
    }
    *out = c;
    return MK_OK;
}

/* ---- the importer ---- */

struct pg {
    PGconn *c;
    bool tx;
    int copying; /* the table whose COPY is open, or -1 */
    char *buf;   /* COPY data not yet sent */
    size_t len, cap;
    long ord;
};

#define COPY_FLUSH (256 * 1024)

static int pg_fail(struct records_import *ri, int rc, const char *why)
{
    return records_fail(ri, rc, "%s", why);
}

static int buf_put(struct pg *g, const char *s, size_t n)
{
    if (g->len + n + 1 > g->cap) {
        size_t cap = g->cap ? g->cap : COPY_FLUSH + 4096;
        while (g->len + n + 1 > cap)
            cap *= 2;
        char *b = realloc(g->buf, cap);
        if (!b)
            return MK_ENOMEM;
        g->buf = b;
        g->cap = cap;
    }
    memcpy(g->buf + g->len, s, n);
    g->len += n;
    return MK_OK;
}

/* A value in COPY's text format: \N for NULL, backslash escapes for the rest. */
static int put_text(struct pg *g, const char *s)
{
    if (!s)
        return buf_put(g, "\\N", 2);
    int rc = MK_OK;
    for (const char *p = s; *p && rc == MK_OK; p++) {
        switch (*p) {
        case '\\':
            rc = buf_put(g, "\\\\", 2);
            break;
        case '\t':
            rc = buf_put(g, "\\t", 2);
            break;
        case '\n':
            rc = buf_put(g, "\\n", 2);
            break;
        case '\r':
            rc = buf_put(g, "\\r", 2);
            break;
        default:
            rc = buf_put(g, p, 1);
        }
    }
    return rc;
}

static int put_value(struct pg *g, json_t *v)
{
    char num[40];
    if (!v)
        return buf_put(g, "\\N", 2);
    if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        return buf_put(g, num, strlen(num));
    }
    if (json_is_real(v)) {
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
        return buf_put(g, num, strlen(num));
    }
    return put_text(g, json_string_value(v));
}

static int copy_flush(struct records_import *ri)
{
    struct pg *g = ri->impl;
    if (g->len && PQputCopyData(g->c, g->buf, (int)g->len) != 1)
        return records_fail(ri, MK_EDB, "PostgreSQL: %s", PQerrorMessage(g->c));
    g->len = 0;
    return MK_OK;
}

static int copy_end(struct records_import *ri)
{
    struct pg *g = ri->impl;
    if (g->copying < 0)
        return MK_OK;
    int rc = copy_flush(ri);
    g->copying = -1;
    if (PQputCopyEnd(g->c, rc == MK_OK ? NULL : "import failed") != 1)
        return records_fail(ri, MK_EDB, "PostgreSQL: %s", PQerrorMessage(g->c));
    PGresult *r;
    while ((r = PQgetResult(g->c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == MK_OK) {
            const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
            rc = records_fail(ri, MK_EINVAL, "PostgreSQL refused the rows: %s",
                              m ? m : PQerrorMessage(g->c));
        }
        PQclear(r);
    }
    return rc;
}

/* The table's columns, quoted, comma-separated: false when out[size] is too small (a
 * programmer error: the tables are this program's). */
static bool column_list(enum rtable_id t, char *out, size_t size)
{
    const struct rtable *tb = &records_tables[t];
    size_t n = 0;
    bool fits = size > 0;
    if (fits)
        out[0] = '\0';
    for (int i = 0; fits && i < tb->ncols; i++)
        fits = records_sql_cat(out, size, &n, "%s\"%s\"", i ? ", " : "", tb->cols[i].name);
    return fits;
}

/* A query longer than its buffer: never sent cut short. */
static int too_long(struct records_import *ri, const char *what)
{
    return records_fail(ri, MK_EINVAL, "the %s query is too long for its buffer", what);
}

static int copy_start(struct records_import *ri, enum rtable_id t)
{
    struct pg *g = ri->impl;
    int rc = copy_end(ri);
    if (rc != MK_OK)
        return rc;
    char cols[1024], sql[1200];
    size_t n = 0;
    if (!column_list(t, cols, sizeof cols) ||
        !records_sql_cat(
            sql, sizeof sql, &n, "COPY s_%s (%s%s) FROM STDIN", records_tables[t].name, cols,
            t == RT_PATIENT ? ", name_fold, commune_fold, village_fold, ord, kit_code" : ""))
        return too_long(ri, "COPY");
    PGresult *r = PQexec(g->c, sql);
    int st = PQresultStatus(r);
    PQclear(r);
    if (st != PGRES_COPY_IN)
        return records_fail(ri, MK_EDB, "PostgreSQL: %s", PQerrorMessage(g->c));
    g->copying = (int)t;
    return MK_OK;
}

static int pgi_begin(struct records_import *ri)
{
    struct pg *g = ri->impl;
    char err[400];
    const char *p[] = {ri->package};
    PGresult *r = NULL;
    int rc = pg_run(g->c, "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL, err, sizeof err);
    g->tx = rc == MK_OK;
    if (rc == MK_OK)
        rc = pg_run(g->c, IMPORT_LOCK, 0, NULL, PGRES_TUPLES_OK, NULL, err, sizeof err);
    if (rc == MK_OK)
        rc = pg_run(g->c, "SELECT 1 FROM import WHERE id = $1", 1, p, PGRES_TUPLES_OK, &r, err,
                    sizeof err);
    if (rc == MK_OK && PQntuples(r) > 0) {
        PQclear(r);
        return records_fail(ri, MK_EEXIST, "package %s was imported before", ri->package);
    }
    PQclear(r);
    /* Staging tables shaped like the real ones, without their keys: COPY fills them, the merge
     * empties them into the real tables, the commit drops them. */
    for (int t = 0; rc == MK_OK && t < RT_COUNT; t++) {
        char sql[256];
        size_t n = 0;
        if (!records_sql_cat(sql, sizeof sql, &n,
                             "CREATE TEMP TABLE s_%s (LIKE %s%s) ON COMMIT DROP",
                             records_tables[t].name, records_tables[t].name,
                             t == RT_PATIENT ? ", ord bigint, kit_code text" : ""))
            return too_long(ri, "staging table");
        rc = pg_run(g->c, sql, 0, NULL, PGRES_COMMAND_OK, NULL, err, sizeof err);
    }
    if (rc == MK_OK)
        rc = pg_run(g->c,
                    "CREATE TEMP TABLE pmap (src uuid PRIMARY KEY, dst uuid NOT NULL, "
                    "how text NOT NULL) ON COMMIT DROP",
                    0, NULL, PGRES_COMMAND_OK, NULL, err, sizeof err);
    return rc == MK_OK ? MK_OK : pg_fail(ri, rc, err);
}

static int pgi_row(struct records_import *ri, const struct rrow *row)
{
    struct pg *g = ri->impl;
    int rc = MK_OK;
    if (g->copying != (int)row->t)
        rc = copy_start(ri, row->t);
    const struct rtable *tb = &records_tables[row->t];
    for (int i = 0; rc == MK_OK && i < tb->ncols; i++) {
        if (i)
            rc = buf_put(g, "\t", 1);
        if (rc == MK_OK)
            rc = put_value(g, row->v[i]);
    }
    if (rc == MK_OK && row->t == RT_PATIENT) {
        char *f[3];
        rc = records_patient_folds(row, &f[0], &f[1], &f[2]);
        if (rc != MK_OK)
            return records_fail(ri, rc, "line %ld: patient.name does not fold", ri->line);
        char ord[24];
        snprintf(ord, sizeof ord, "%ld", ++g->ord);
        for (int k = 0; k < 3; k++) {
            if (rc == MK_OK)
                rc = buf_put(g, "\t", 1);
            if (rc == MK_OK)
                rc = put_text(g, f[k] && f[k][0] ? f[k] : NULL);
            free(f[k]);
        }
        if (rc == MK_OK)
            rc = buf_put(g, "\t", 1);
        if (rc == MK_OK)
            rc = put_text(g, ord);
        if (rc == MK_OK)
            rc = buf_put(g, "\t", 1);
        if (rc == MK_OK)
            rc = put_text(g, rrow_str(row, "code"));
    }
    if (rc == MK_OK)
        rc = buf_put(g, "\n", 1);
    if (rc == MK_OK && g->len >= COPY_FLUSH)
        rc = copy_flush(ri);
    return rc;
}

/* ---- the merge, at commit ---- */

#define MERGED_SOURCE                                                                      \
    "(SELECT DISTINCT ON (m.dst) m.dst, s.* FROM pmap m JOIN s_patient s ON s.id = m.src " \
    "WHERE m.how = 'merged' ORDER BY m.dst, s.ord)"

/* Which incoming patient is which here. Every step takes only those no step before placed. */
static const char *const resolve_sql[] = {
    /* the same id: an earlier package of this kit */
    "INSERT INTO pmap SELECT s.id, s.id, 'already' FROM s_patient s JOIN patient p ON p.id = s.id",
    /* an id an earlier import merged */
    "INSERT INTO pmap SELECT s.id, a.patient_id, 'already' FROM s_patient s JOIN patient_alias a "
    "ON a.kind = 'id' AND a.alias = s.id::text ON CONFLICT DO NOTHING",
    /* the same CCCD number, then the same social insurance number */
    "INSERT INTO pmap SELECT s.id, p.id, 'merged' FROM s_patient s JOIN patient p ON p.cccd = "
    "s.cccd ON CONFLICT DO NOTHING",
    "INSERT INTO pmap SELECT s.id, p.id, 'merged' FROM s_patient s JOIN patient p ON p.bhyt_ssn = "
    "s.bhyt_ssn ON CONFLICT DO NOTHING",
    /* twice in this package (a kit cannot make that, but one number is one person) */
    "INSERT INTO pmap SELECT id, first, 'merged' FROM (SELECT s.id, first_value(s.id) OVER "
    "(PARTITION BY s.cccd ORDER BY s.ord) AS first FROM s_patient s WHERE s.cccd IS NOT NULL AND "
    "NOT EXISTS (SELECT 1 FROM pmap m WHERE m.src = s.id)) x WHERE id <> first",
    "INSERT INTO pmap SELECT id, first, 'merged' FROM (SELECT s.id, first_value(s.id) OVER "
    "(PARTITION BY s.bhyt_ssn ORDER BY s.ord) AS first FROM s_patient s WHERE s.bhyt_ssn IS NOT "
    "NULL AND NOT EXISTS (SELECT 1 FROM pmap m WHERE m.src = s.id)) x WHERE id <> first",
    "INSERT INTO pmap SELECT s.id, s.id, 'new' FROM s_patient s WHERE NOT EXISTS (SELECT 1 FROM "
    "pmap m WHERE m.src = s.id)",
};

/* An INSERT ... SELECT from the staging table into the real one, with patient ids mapped.
 * MK_EINVAL (ri's error set) when it does not fit in sql[size]. */
static int insert_sql(struct records_import *ri, enum rtable_id t, char *sql, size_t size)
{
    const struct rtable *tb = &records_tables[t];
    char cols[1024], sel[2048];
    size_t n = 0, m = 0;
    bool fits = column_list(t, cols, sizeof cols);
    for (int i = 0; fits && i < tb->ncols; i++) {
        const char *c = tb->cols[i].name;
        if (t == RT_VISIT && !strcmp(c, "patient_id"))
            fits = records_sql_cat(sel, sizeof sel, &n,
                                   "%scoalesce(m.dst, a.patient_id, s.patient_id)", i ? ", " : "");
        else
            fits = records_sql_cat(sel, sizeof sel, &n, "%ss.\"%s\"", i ? ", " : "", c);
    }
    if (!fits ||
        !records_sql_cat(sql, size, &m,
                         "INSERT INTO %s (%s) SELECT %s FROM s_%s s%s ON CONFLICT (id) DO NOTHING",
                         tb->name, cols, sel, tb->name,
                         t == RT_VISIT ? " LEFT JOIN pmap m ON m.src = s.patient_id LEFT JOIN "
                                         "patient_alias a ON a.kind = 'id' AND a.alias = "
                                         "s.patient_id::text"
                                       : ""))
        return too_long(ri, tb->name);
    return MK_OK;
}

static long tuples(PGresult *r)
{
    return r ? atol(PQcmdTuples(r)) : 0;
}

/* New residents whose code another resident here has: new codes, the kit's kept as alias. */
static int fix_codes(struct records_import *ri, long *changed, char *err, size_t errlen)
{
    struct pg *g = ri->impl;
    PGresult *r = NULL;
    int rc = pg_run(g->c,
                    "SELECT s.id FROM s_patient s JOIN pmap m ON m.src = s.id AND m.how = 'new' "
                    "WHERE EXISTS (SELECT 1 FROM patient p WHERE p.code = s.code)",
                    0, NULL, PGRES_TUPLES_OK, &r, err, errlen);
    *changed = r ? PQntuples(r) : 0;
    for (int i = 0; rc == MK_OK && i < PQntuples(r); i++) {
        char code[CODE_LEN + 1];
        PGresult *u = NULL;
        do {
            PQclear(u);
            records_new_code(code);
            const char *p[] = {PQgetvalue(r, i, 0), code};
            rc = pg_run(g->c,
                        "UPDATE s_patient SET code = $2 WHERE id = $1 AND NOT EXISTS (SELECT 1 "
                        "FROM patient WHERE code = $2)",
                        2, p, PGRES_COMMAND_OK, &u, err, errlen);
        } while (rc == MK_OK && tuples(u) == 0);
        PQclear(u);
    }
    PQclear(r);
    return rc;
}

static json_t *pg_json(PGresult *r, int row, int col)
{
    return r && !PQgetisnull(r, row, col) ? json_loads(PQgetvalue(r, row, col), 0, NULL) : NULL;
}

static int pgi_commit(struct records_import *ri, json_t *res)
{
    struct pg *g = ri->impl;
    char err[600] = "", sql[4096];
    long counts[RT_COUNT] = {0}, merged = 0, codes = 0;
    PGresult *r = NULL;
    const char *camp[] = {ri->campaign_id};
    int rc = copy_end(ri);
    if (rc != MK_OK)
        return rc;

    /* The campaign: here already (an earlier package), or new, under a code of its own. */
    char code[64];
    snprintf(code, sizeof code, "%s", ri->campaign_code);
    rc = pg_run(g->c, "SELECT code FROM campaign WHERE id = $1", 1, camp, PGRES_TUPLES_OK, &r, err,
                sizeof err);
    if (rc == MK_OK && PQntuples(r) == 1) {
        snprintf(code, sizeof code, "%s", PQgetvalue(r, 0, 0));
    } else if (rc == MK_OK) {
        PQclear(r);
        const char *p[] = {code};
        rc = pg_run(g->c, "SELECT 1 FROM campaign WHERE code = $1", 1, p, PGRES_TUPLES_OK, &r, err,
                    sizeof err);
        if (rc == MK_OK && PQntuples(r) > 0) { /* another kit's campaign of the same code */
            records_campaign_code(ri->campaign_code, ri->kit, code, sizeof code);
            PQclear(r);
            rc = pg_run(g->c, "SELECT 1 FROM campaign WHERE code = $1", 1, p, PGRES_TUPLES_OK, &r,
                        err, sizeof err);
            if (rc == MK_OK && PQntuples(r) > 0) { /* not "already imported": MK_EEXIST is that */
                PQclear(r);
                return records_fail(ri, MK_EINVAL,
                                    "campaign %s: its code %s and this kit's form of it, %s, are "
                                    "both taken here by other campaigns",
                                    ri->campaign_id, ri->campaign_code, code);
            }
        }
        const char *q[] = {code};
        if (rc == MK_OK)
            rc = pg_run(g->c, "UPDATE s_campaign SET code = $1", 1, q, PGRES_COMMAND_OK, NULL, err,
                        sizeof err);
        if (rc == MK_OK) {
            PQclear(r);
            r = NULL;
            if ((rc = insert_sql(ri, RT_CAMPAIGN, sql, sizeof sql)) != MK_OK)
                return rc;
            rc = pg_run(g->c, sql, 0, NULL, PGRES_COMMAND_OK, &r, err, sizeof err);
            counts[RT_CAMPAIGN] = tuples(r);
        }
    }
    PQclear(r);
    r = NULL;
    if (rc == MK_OK) {
        if ((rc = insert_sql(ri, RT_STAFF, sql, sizeof sql)) != MK_OK)
            return rc;
        rc = pg_run(g->c, sql, 0, NULL, PGRES_COMMAND_OK, &r, err, sizeof err);
        counts[RT_STAFF] = tuples(r);
        PQclear(r);
    }

    /* Patients: who is who, then the new ones in, the merged ones completed. */
    for (size_t i = 0; rc == MK_OK && i < sizeof resolve_sql / sizeof resolve_sql[0]; i++)
        rc = pg_run(g->c, resolve_sql[i], 0, NULL, PGRES_COMMAND_OK, NULL, err, sizeof err);
    if (rc == MK_OK)
        rc = fix_codes(ri, &codes, err, sizeof err);
    if (rc == MK_OK) {
        char cols[1024], selx[1400];
        size_t n = 0, m = 0;
        /* s."campaign_id": its campaign of first registration may not have come along */
        const char *cp =
            column_list(RT_PATIENT, cols, sizeof cols) ? strstr(cols, "\"campaign_id\"") : NULL;
        if (!cp ||
            !records_sql_cat(
                selx, sizeof selx, &n, "%.*s%s%s", (int)(cp - cols), cols,
                "CASE WHEN s.campaign_id IS NULL OR EXISTS (SELECT 1 FROM campaign c WHERE "
                "c.id = s.campaign_id) THEN s.campaign_id ELSE $1::uuid END",
                cp + strlen("\"campaign_id\"")) ||
            !records_sql_cat(
                sql, sizeof sql, &m,
                "INSERT INTO patient (%s, name_fold, commune_fold, village_fold) SELECT %s, "
                "name_fold, commune_fold, village_fold FROM s_patient s JOIN pmap m ON "
                "m.src = s.id AND m.how = 'new' ORDER BY s.ord",
                cols, selx))
            return too_long(ri, "patient");
        rc = pg_run(g->c, sql, 1, camp, PGRES_COMMAND_OK, &r, err, sizeof err);
        counts[RT_PATIENT] = tuples(r);
        PQclear(r);
    }
    if (rc == MK_OK) {
        rc = pg_run(g->c,
                    "UPDATE patient p SET phone = coalesce(p.phone, s.phone), ethnicity = "
                    "coalesce(p.ethnicity, s.ethnicity), address = coalesce(p.address, "
                    "s.address), birth_date = coalesce(p.birth_date, CASE WHEN p.birth_year = "
                    "s.birth_year THEN s.birth_date END), cccd = coalesce(p.cccd, CASE WHEN NOT "
                    "EXISTS (SELECT 1 FROM patient x WHERE x.cccd = s.cccd) THEN s.cccd END), "
                    "bhyt = CASE WHEN p.bhyt_ssn IS NULL AND NOT EXISTS (SELECT 1 FROM patient x "
                    "WHERE x.bhyt_ssn = s.bhyt_ssn) THEN s.bhyt ELSE p.bhyt END, bhyt_ssn = "
                    "coalesce(p.bhyt_ssn, CASE WHEN NOT EXISTS (SELECT 1 FROM patient x WHERE "
                    "x.bhyt_ssn = s.bhyt_ssn) THEN s.bhyt_ssn END) FROM " MERGED_SOURCE
                    " s WHERE p.id = s.dst",
                    0, NULL, PGRES_COMMAND_OK, NULL, err, sizeof err);
    }
    if (rc == MK_OK) {
        rc = pg_run(g->c, "SELECT count(*) FROM pmap WHERE how = 'merged'", 0, NULL,
                    PGRES_TUPLES_OK, &r, err, sizeof err);
        merged = r ? atol(PQgetvalue(r, 0, 0)) : 0;
        PQclear(r);
    }
    const char *pa[] = {ri->package, ri->actor, ri->campaign_id};
    if (rc == MK_OK)
        rc = pg_run(g->c,
                    "INSERT INTO patient_alias SELECT 'id', m.src::text, m.dst, $1::uuid FROM "
                    "pmap m WHERE m.how = 'merged' ON CONFLICT DO NOTHING",
                    1, pa, PGRES_COMMAND_OK, NULL, err, sizeof err);
    if (rc == MK_OK)
        rc = pg_run(g->c,
                    "INSERT INTO patient_alias SELECT 'code', s.kit_code, m.dst, $1::uuid FROM "
                    "pmap m JOIN s_patient s ON s.id = m.src JOIN patient p ON p.id = m.dst WHERE "
                    "m.how <> 'already' AND p.code <> s.kit_code ON CONFLICT DO NOTHING",
                    1, pa, PGRES_COMMAND_OK, NULL, err, sizeof err);
    if (rc == MK_OK)
        rc = pg_run(g->c,
                    "INSERT INTO audit(actor, action, entity, entity_id, after) SELECT $2, "
                    "'merge', 'patient', m.dst::text, json_build_object('alias', m.src, "
                    "'import', $1::text) FROM pmap m WHERE m.how = 'merged'",
                    2, pa, PGRES_COMMAND_OK, NULL, err, sizeof err);
    /* Likely matches, against residents of other campaigns: the kit that registered two of
     * one campaign asked its registrar then. */
    if (rc == MK_OK)
        rc =
            pg_run(g->c,
                   "INSERT INTO likely_match(patient_id, other_id, reason, import_id) SELECT "
                   "s.id, p.id, 'same name, birth year within one, same commune', $1::uuid FROM "
                   "s_patient s JOIN pmap m ON m.src = s.id AND m.how = 'new' JOIN patient p ON "
                   "p.name_fold = s.name_fold AND p.birth_year BETWEEN s.birth_year - 1 AND "
                   "s.birth_year + 1 WHERE p.id <> s.id AND p.campaign_id IS DISTINCT FROM "
                   "$2::uuid AND (p.commune_fold IS NULL OR s.commune_fold IS NULL OR "
                   "p.commune_fold = s.commune_fold) ON CONFLICT DO NOTHING",
                   2, (const char *const[]){pa[0], pa[2]}, PGRES_COMMAND_OK, NULL, err, sizeof err);

    /* Everything else: what is not here yet. */
    for (int t = RT_VISIT; rc == MK_OK && t < RT_COUNT; t++) {
        if ((rc = insert_sql(ri, (enum rtable_id)t, sql, sizeof sql)) != MK_OK)
            return rc;
        rc = pg_run(g->c, sql, 0, NULL, PGRES_COMMAND_OK, &r, err, sizeof err);
        counts[t] = tuples(r);
        PQclear(r);
    }

    json_t *likely = json_array(), *already = json_object();
    if (rc == MK_OK)
        rc = pg_run(g->c,
                    "SELECT json_build_object('patient', json_build_object('id', a.id, 'code', "
                    "a.code, 'name', a.name, 'sex', a.sex, 'birth_year', a.birth_year, 'commune', "
                    "a.commune, 'village', a.village), 'other', json_build_object('id', b.id, "
                    "'code', b.code, 'name', b.name, 'sex', b.sex, 'birth_year', b.birth_year, "
                    "'commune', b.commune, 'village', b.village), 'reason', l.reason) FROM "
                    "likely_match l JOIN patient a ON a.id = l.patient_id JOIN patient b ON b.id = "
                    "l.other_id WHERE l.import_id = $1 ORDER BY a.code LIMIT 1000",
                    1, pa, PGRES_TUPLES_OK, &r, err, sizeof err);
    for (int i = 0; rc == MK_OK && i < PQntuples(r); i++) {
        json_t *m = pg_json(r, i, 0);
        if (m)
            json_array_append_new(likely, m);
    }
    PQclear(r);
    r = NULL;
    long already_p = ri->seen[RT_PATIENT] - counts[RT_PATIENT] - merged;
    json_object_set_new(res, "campaign", json_string(code));
    json_object_set_new(res, "campaign_id", json_string(ri->campaign_id));
    if (strcmp(code, ri->campaign_code))
        json_object_set_new(res, "campaign_code_in_package", json_string(ri->campaign_code));
    json_object_set_new(res, "patients_new", json_integer(counts[RT_PATIENT]));
    json_object_set_new(res, "patients_merged", json_integer(merged));
    json_object_set_new(res, "patients_already", json_integer(already_p));
    json_object_set_new(res, "patient_codes_changed", json_integer(codes));
    json_object_set_new(res, "campaign_new", json_boolean(counts[RT_CAMPAIGN] > 0));
    for (int t = 0; t < RT_COUNT; t++) {
        if (t == RT_PATIENT || t == RT_CAMPAIGN) /* "campaign" is its code, above */
            continue;
        json_object_set_new(res, records_tables[t].name, json_integer(counts[t]));
        json_object_set_new(already, records_tables[t].name, json_integer(ri->seen[t] - counts[t]));
    }
    json_object_set_new(res, "already", already);
    json_object_set_new(res, "likely_matches", likely);

    if (rc == MK_OK) {
        json_t *summary = json_deep_copy(res);
        json_object_del(summary, "likely_matches");
        json_object_set_new(summary, "likely_match_count",
                            json_integer((json_int_t)json_array_size(likely)));
        char *sum = json_dumps(summary, JSON_COMPACT | JSON_SORT_KEYS);
        char *cnt = json_dumps(ri->counts, JSON_COMPACT | JSON_SORT_KEYS);
        const char *p[] = {ri->package, ri->kit, ri->campaign_id, ri->campaign_code, ri->actor,
                           cnt,         sum};
        rc = sum && cnt ? pg_run(g->c,
                                 "INSERT INTO import(id, kit_id, campaign_id, campaign_code, "
                                 "imported_by, counts, result) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                                 7, p, PGRES_COMMAND_OK, NULL, err, sizeof err)
                        : MK_ENOMEM;
        if (rc == MK_OK)
            rc = pg_run(g->c,
                        "INSERT INTO audit(actor, action, entity, entity_id, after) VALUES ($2, "
                        "'import', 'import', $1, $3)",
                        3, (const char *const[]){ri->package, ri->actor, sum}, PGRES_COMMAND_OK,
                        NULL, err, sizeof err);
        free(sum);
        free(cnt);
        json_decref(summary);
    }
    if (rc == MK_OK)
        rc = pg_run(g->c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL, err, sizeof err);
    if (rc == MK_OK) {
        g->tx = false;
        return MK_OK;
    }
    return records_fail(ri, rc == MK_EDB ? MK_EINVAL : rc, "%s", err[0] ? err : mk_strerror(rc));
}

static void pgi_free(struct records_import *ri)
{
    struct pg *g = ri->impl;
    if (!g)
        return;
    if (g->copying >= 0) {
        PQputCopyEnd(g->c, "import abandoned");
        PGresult *r;
        while ((r = PQgetResult(g->c)) != NULL)
            PQclear(r);
    }
    if (g->tx)
        PQclear(PQexec(g->c, "ROLLBACK"));
    PQfinish(g->c);
    free(g->buf);
    free(g);
}

static const struct records_backend pg_backend = {
    .begin = pgi_begin, .row = pgi_row, .commit = pgi_commit, .free = pgi_free};

int records_import_pg(const char *conninfo, struct records_import **out)
{
    char err[400];
    *out = NULL;
    struct pg *g = calloc(1, sizeof *g);
    if (!g)
        return MK_ENOMEM;
    g->copying = -1;
    int rc = pg_connect(conninfo, &g->c, err, sizeof err);
    if (rc != MK_OK) {
        LOG(LOG_ERROR, "%s", err);
        free(g);
        return rc;
    }
    *out = records_import_new(&pg_backend, g);
    if (!*out) {
        PQfinish(g->c);
        free(g);
        return MK_ENOMEM;
    }
    return MK_OK;
}
