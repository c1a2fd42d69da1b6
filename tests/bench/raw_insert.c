/* The baseline for the registration benchmark: plain SQLite inserts of patient rows with the
 * kit's pragmas (WAL, synchronous=FULL, foreign keys, 4 MiB cache), one row per transaction,
 * into a table shaped like mokit's patient table (same columns and indexes; no full-text index
 * and no audit row, which are part of what the API pays for).
 *
 * With SCHEMA files (the kit's migrations, app/sql), it instead creates the kit's own tables and
 * writes what a registration writes: the patient row (so its full-text index through the
 * triggers) and an audit row with the record as JSON, in one transaction. That is the floor
 * for the API's own work, and the difference to it is HTTP, JSON, checks and the session.
 *
 * usage: raw_insert DB PEOPLE_TSV COUNT START [SCHEMA.sql...]
 *   DB          database file (created when missing; rows are added to it)
 *   PEOPLE_TSV  lines "name sex birth ethnicity village phone" (tab-separated, from demo_dump)
 *   COUNT       rows to insert, taken from the file's first lines
 *   START       first serial number, to keep ids/codes/CCCD numbers unique across runs
 * Prints one JSON object: {"rows":N,"seconds":S,"per_second":R}. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ROWS 100000

struct row {
    char *f[6]; /* name, sex, birth, ethnicity, village, phone */
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int check(sqlite3 *db, int rc, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "raw_insert: %s: %s\n", what, sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

/* Lower-case ASCII and drop bytes >= 0x80: a rough stand-in for the kit's folding, enough to
 * give the name index realistic keys. */
static void rough_fold(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && n + 1 < cap; p++)
        if (*p < 0x80)
            out[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    out[n] = '\0';
}

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS patient ("
    " pid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, code TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL, name_fold TEXT NOT NULL,"
    " sex TEXT NOT NULL CHECK (sex IN ('male', 'female')), birth_date TEXT,"
    " birth_year INTEGER NOT NULL, ethnicity TEXT, province TEXT, district TEXT, commune TEXT,"
    " village TEXT, address TEXT, commune_fold TEXT, village_fold TEXT, cccd TEXT,"
    " bhyt TEXT, phone TEXT, consent_at TEXT, consent_by TEXT, campaign_id TEXT,"
    " created_at TEXT NOT NULL, created_by TEXT);"
    /* The same indexes as the kit's patient table (app/sql/001_init.sql). */
    "CREATE INDEX IF NOT EXISTS patient_name ON patient(name_fold, birth_year);"
    "CREATE UNIQUE INDEX IF NOT EXISTS patient_cccd ON patient(cccd) WHERE cccd IS NOT NULL;"
    "CREATE UNIQUE INDEX IF NOT EXISTS patient_bhyt ON patient(bhyt) WHERE bhyt IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS patient_phone ON patient(phone) WHERE phone IS NOT NULL;";

#define STAFF_ID    "0193b7e0-0000-7000-8000-0000000000aa"
#define CAMPAIGN_ID "0193b7e0-0000-7000-8000-0000000000bb"

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

/* The kit's tables, once per database, and the staff member and campaign rows point to. */
static int kit_schema(sqlite3 *db, char **files, int nfiles)
{
    sqlite3_stmt *s;
    int version = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (version)
        return 0;
    for (int i = 0; i < nfiles; i++) {
        char *sql = read_file(files[i]);
        if (!sql) {
            perror(files[i]);
            return -1;
        }
        int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        free(sql);
        if (check(db, rc, files[i]))
            return -1;
    }
    return check(
        db,
        sqlite3_exec(db,
                     "INSERT INTO staff(id, name, role, pin_hash, pin_tag, created_at) "
                     "VALUES ('" STAFF_ID "', 'Trần Thị Lan', 'registrar', 'x', 1, "
                     "'2026-01-01T00:00:00.000Z');"
                     "INSERT INTO campaign(id, code, name, created_at) VALUES ('" CAMPAIGN_ID
                     "', 'BENCH', 'Bench', '2026-01-01T00:00:00.000Z');"
                     "PRAGMA user_version = 1000;",
                     NULL, NULL, NULL),
        "kit rows");
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: raw_insert DB PEOPLE_TSV COUNT START [SCHEMA.sql...]\n");
        return 2;
    }
    int kit = argc > 5;
    long count = strtol(argv[3], NULL, 10), start = strtol(argv[4], NULL, 10);
    if (count < 1 || count > MAX_ROWS || start < 0 || start > 100000000) {
        fprintf(stderr, "raw_insert: COUNT must be 1..%d\n", MAX_ROWS);
        return 2;
    }
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    static struct row rows[MAX_ROWS];
    static char line[1024];
    long n = 0;
    while (n < count && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *tok = line;
        int k = 0;
        /* strtok would merge empty fields (the phone is often empty): split by hand. */
        for (; k < 6 && tok; k++) {
            char *tab = strchr(tok, '\t');
            if (tab)
                *tab = '\0';
            rows[n].f[k] = strdup(tok);
            tok = tab ? tab + 1 : NULL;
        }
        if (k != 6) {
            fprintf(stderr, "raw_insert: line %ld has %d fields\n", n + 1, k);
            return 1;
        }
        n++;
    }
    fclose(f);
    if (n < count) {
        fprintf(stderr, "raw_insert: only %ld people in %s\n", n, argv[2]);
        return 1;
    }

    sqlite3 *db;
    if (sqlite3_open(argv[1], &db) != SQLITE_OK) {
        fprintf(stderr, "raw_insert: open %s: %s\n", argv[1], sqlite3_errmsg(db));
        return 1;
    }
    sqlite3_busy_timeout(db, 5000);
    if (check(db,
              sqlite3_exec(db,
                           "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                           "PRAGMA foreign_keys=ON; PRAGMA cache_size=-4096; "
                           "PRAGMA temp_store=MEMORY;",
                           NULL, NULL, NULL),
              "pragmas") ||
        (kit ? kit_schema(db, argv + 5, argc - 5)
             : check(db, sqlite3_exec(db, schema, NULL, NULL, NULL), "schema")))
        return 1;

    sqlite3_stmt *begin, *commit, *ins, *audit = NULL;
    if (check(db, sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL), "prepare") ||
        check(db, sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL), "prepare") ||
        check(db,
              sqlite3_prepare_v2(
                  db,
                  kit ? "INSERT INTO patient (id, code, name, name_fold, sex, birth_date, "
                        "birth_year, ethnicity, province, district, commune, village, "
                        "commune_fold, village_fold, cccd, phone, consent_at, consent_by, "
                        "campaign_id, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                        "?8, 'Lào Cai', 'Sa Pa', 'Tả Van', ?9, 'ta van', ?10, ?11, ?12, ?13, "
                        "'" STAFF_ID "', '" CAMPAIGN_ID "', ?13, '" STAFF_ID "')"
                      : "INSERT INTO patient (id, code, name, name_fold, sex, birth_date, "
                        "birth_year, ethnicity, province, district, commune, village, "
                        "commune_fold, village_fold, cccd, phone, consent_at, campaign_id, "
                        "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'Lào Cai', 'Sa Pa', "
                        "'Tả Van', ?9, 'ta van', ?10, ?11, ?12, ?13, '" CAMPAIGN_ID "', ?13)",
                  -1, &ins, NULL),
              "prepare") ||
        (kit && check(db,
                      sqlite3_prepare_v2(db,
                                         "INSERT INTO audit(at, staff_id, actor, action, entity, "
                                         "entity_id, after) VALUES (?1, '" STAFF_ID
                                         "', 'staff:" STAFF_ID "', 'create', 'patient', ?2, ?3)",
                                         -1, &audit, NULL),
                      "prepare")))
        return 1;

    double t0 = now();
    for (long i = 0; i < count; i++) {
        struct row *r = &rows[i];
        long serial = start + i;
        char id[64], code[32], cccd[32], fold[200], vfold[128], at[32];
        snprintf(id, sizeof id, "0193b7e0-%04lx-7%03lx-8%03lx-%012lx", (serial >> 16) & 0xffff,
                 serial & 0xfff, (serial >> 12) & 0xfff, serial * 2654435761ul & 0xffffffffffff);
        snprintf(code, sizeof code, "R%011ld", serial);
        snprintf(cccd, sizeof cccd, "0109%02d%06ld", (int)(serial % 100), serial % 1000000);
        rough_fold(r->f[0], fold, sizeof fold);
        rough_fold(r->f[4], vfold, sizeof vfold);
        time_t t = time(NULL);
        strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%S.000Z", gmtime(&t));
        int year = atoi(r->f[2]);
        sqlite3_bind_text(ins, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 2, code, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 3, r->f[0], -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, fold, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 5, r->f[1], -1, SQLITE_STATIC);
        if (strlen(r->f[2]) == 10)
            sqlite3_bind_text(ins, 6, r->f[2], -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(ins, 6);
        sqlite3_bind_int(ins, 7, year);
        sqlite3_bind_text(ins, 8, r->f[3], -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 9, r->f[4], -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 10, vfold, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 11, cccd, -1, SQLITE_TRANSIENT);
        if (r->f[5][0])
            sqlite3_bind_text(ins, 12, r->f[5], -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(ins, 12);
        sqlite3_bind_text(ins, 13, at, -1, SQLITE_TRANSIENT);
        if (check(db, sqlite3_step(begin), "begin") || check(db, sqlite3_step(ins), "insert"))
            return 1;
        if (audit) {
            /* The record as the kit's audit keeps it (compact JSON, keys sorted). */
            char after[2048];
            snprintf(after, sizeof after,
                     "{\"address\":null,\"bhyt\":null,\"birth_date\":\"%s\",\"birth_year\":%d,"
                     "\"campaign\":\"BENCH\",\"cccd\":\"%s\",\"code\":\"%s\","
                     "\"commune\":\"Tả Van\",\"consent_at\":\"%s\",\"consent_by\":\"" STAFF_ID
                     "\",\"created_at\":\"%s\",\"created_by\":\"" STAFF_ID "\","
                     "\"district\":\"Sa Pa\",\"ethnicity\":\"%s\",\"id\":\"%s\","
                     "\"name\":\"%s\",\"phone\":\"%s\",\"province\":\"Lào Cai\",\"sex\":\"%s\","
                     "\"village\":\"%s\"}",
                     r->f[2], year, cccd, code, at, at, r->f[3], id, r->f[0], r->f[5], r->f[1],
                     r->f[4]);
            sqlite3_bind_text(audit, 1, at, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(audit, 2, id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(audit, 3, after, -1, SQLITE_TRANSIENT);
            if (check(db, sqlite3_step(audit), "audit"))
                return 1;
            sqlite3_reset(audit);
        }
        if (check(db, sqlite3_step(commit), "commit"))
            return 1;
        sqlite3_reset(begin);
        sqlite3_reset(ins);
        sqlite3_reset(commit);
    }
    double secs = now() - t0;

    sqlite3_finalize(begin);
    sqlite3_finalize(ins);
    sqlite3_finalize(commit);
    sqlite3_finalize(audit);
    sqlite3_close(db);
    for (long i = 0; i < count; i++)
        for (int k = 0; k < 6; k++)
            free(rows[i].f[k]);
    printf("{\"rows\":%ld,\"seconds\":%.6f,\"per_second\":%.2f}\n", count, secs,
           (double)count / secs);
    return 0;
}
