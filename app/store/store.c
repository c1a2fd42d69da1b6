#include "store_int.h"

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"
#include "migrations.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int store_err(struct store *st, int rc, const char *what)
{
    int primary = rc & 0xff;
    if (primary == SQLITE_OK || primary == SQLITE_DONE || primary == SQLITE_ROW)
        return MK_OK;
    LOG(LOG_ERROR, "%s: %s (%s)", what, sqlite3_errmsg(st->db), sqlite3_errstr(rc));
    switch (primary) {
    case SQLITE_FULL:
        return MK_ENOSPC;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return MK_EBUSY;
    case SQLITE_NOMEM:
        return MK_ENOMEM;
    case SQLITE_CONSTRAINT:
        return MK_EINVAL;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
        return MK_EIO;
    default:
        return MK_EDB;
    }
}

sqlite3_stmt *store_stmt(struct store *st, const char *sql)
{
    for (int i = 0; i < st->ncache; i++) {
        if (st->cache[i].sql == sql) {
            sqlite3_reset(st->cache[i].stmt);
            sqlite3_clear_bindings(st->cache[i].stmt);
            return st->cache[i].stmt;
        }
    }
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (rc != SQLITE_OK) {
        store_err(st, rc, "prepare");
        return NULL;
    }
    if (st->ncache < STMT_CACHE) {
        st->cache[st->ncache].sql = sql;
        st->cache[st->ncache].stmt = s;
        st->ncache++;
    } else {
        /* Programmer error: raise STMT_CACHE. */
        LOG(LOG_ERROR, "statement cache full");
        sqlite3_finalize(s);
        return NULL;
    }
    return s;
}

static int exec(struct store *st, const char *sql, const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        LOG(LOG_ERROR, "%s: %s", what, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return store_err(st, rc, what);
    }
    return MK_OK;
}

int store_begin(struct store *st)
{
    /* Inside store_tx_begin() each write is a savepoint, so one failure undoes only itself. */
    int rc = exec(st, st->outer ? "SAVEPOINT w" : "BEGIN IMMEDIATE", "begin");
    if (rc == MK_OK)
        st->inner = 1;
    return rc;
}

int store_commit(struct store *st)
{
    int rc = exec(st, st->outer ? "RELEASE w" : "COMMIT", "commit");
    if (rc != MK_OK)
        store_rollback(st);
    st->inner = 0;
    return rc;
}

void store_rollback(struct store *st)
{
    if (!st->inner)
        return;
    st->inner = 0;
    if (st->outer)
        sqlite3_exec(st->db, "ROLLBACK TO w; RELEASE w", NULL, NULL, NULL);
    else if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int store_tx_begin(struct store *st)
{
    int rc = exec(st, "BEGIN IMMEDIATE", "begin");
    if (rc == MK_OK)
        st->outer = 1;
    return rc;
}

int store_tx_end(struct store *st, bool commit)
{
    int rc = MK_OK;
    st->outer = 0;
    if (commit)
        rc = exec(st, "COMMIT", "commit");
    if (!commit || rc != MK_OK)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

void store_bind_opt(sqlite3_stmt *s, int i, const char *v)
{
    if (v && v[0])
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

json_t *store_row_json(sqlite3_stmt *s)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int n = sqlite3_column_count(s);
    for (int i = 0; i < n; i++) {
        json_t *v;
        switch (sqlite3_column_type(s, i)) {
        case SQLITE_INTEGER:
            v = json_integer(sqlite3_column_int64(s, i));
            break;
        case SQLITE_FLOAT:
            v = json_real(sqlite3_column_double(s, i));
            break;
        case SQLITE_TEXT:
            v = json_string((const char *)sqlite3_column_text(s, i));
            break;
        default:
            v = json_null();
            break;
        }
        if (!v || json_object_set_new(o, sqlite3_column_name(s, i), v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

int store_query_rows(struct store *st, sqlite3_stmt *s, json_t **out)
{
    json_t *arr = json_array();
    int rc;
    if (!arr)
        return MK_ENOMEM;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        json_t *row = store_row_json(s);
        if (!row || json_array_append_new(arr, row) != 0) {
            json_decref(arr);
            sqlite3_reset(s);
            return MK_ENOMEM;
        }
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return store_err(st, rc, "query");
    }
    *out = arr;
    return MK_OK;
}

int store_audit(struct store *st, const struct actor *a, const char *action, const char *entity,
                const char *entity_id, json_t *before, json_t *after)
{
    static const char sql[] = "INSERT INTO audit(at, staff_id, actor, action, entity, entity_id, "
                              "before, after) VALUES (?,?,?,?,?,?,?,?)";
    char now[32];
    char *b = before ? json_dumps(before, JSON_COMPACT) : NULL;
    char *af = after ? json_dumps(after, JSON_COMPACT) : NULL;
    sqlite3_stmt *s = store_stmt(st, sql);
    int rc = MK_EDB;
    if (s && (!before || b) && (!after || af)) {
        util_now_iso(now);
        sqlite3_bind_text(s, 1, now, -1, SQLITE_TRANSIENT);
        store_bind_opt(s, 2, a->staff_id);
        sqlite3_bind_text(s, 3, a->label, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, action, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, entity, -1, SQLITE_STATIC);
        store_bind_opt(s, 6, entity_id);
        store_bind_opt(s, 7, b);
        store_bind_opt(s, 8, af);
        rc = store_err(st, sqlite3_step(s), "audit");
        sqlite3_reset(s);
    } else if (s) {
        rc = MK_ENOMEM;
    }
    free(b);
    free(af);
    return rc;
}

int store_audit_request(struct store *st, const struct actor *a, const char *action,
                        const char *entity, const char *entity_id)
{
    return store_audit(st, a, action, entity, entity_id, NULL, NULL);
}

int store_schema_version(struct store *st)
{
    sqlite3_stmt *s = store_stmt(st, "PRAGMA user_version");
    int v = -1;
    if (s && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    if (s)
        sqlite3_reset(s);
    return v;
}

static int migrate(struct store *st)
{
    int have = store_schema_version(st);
    int newest = migrations_count ? migrations[migrations_count - 1].version : 0;
    if (have < 0)
        return MK_EDB;
    if (have > newest) {
        LOG(LOG_ERROR, "database schema %d is newer than this mokit knows (%d)", have, newest);
        return MK_ESCHEMA;
    }
    for (int i = 0; i < migrations_count; i++) {
        const struct migration *m = &migrations[i];
        if (m->version <= have)
            continue;
        char pragma[48];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", m->version);
        int rc = store_begin(st);
        if (rc == MK_OK)
            rc = exec(st, m->sql, m->name);
        if (rc == MK_OK)
            rc = exec(st, pragma, "schema version");
        if (rc == MK_OK)
            rc = store_commit(st);
        if (rc != MK_OK) {
            store_rollback(st);
            return rc;
        }
        LOG(LOG_NOTICE, "database migrated to schema %d (%s)", m->version, m->name);
    }
    return MK_OK;
}

/* The kit's signing key: read, or made when the kit has none (first run, or a kit from before
 * schema 6). */
static int load_sign_key(struct store *st)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT sign_public, sign_secret FROM kit WHERE id = ?");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, st->kit_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == (int)sizeof st->sign_public &&
        sqlite3_column_bytes(s, 1) == (int)sizeof st->sign_secret) {
        memcpy(st->sign_public, sqlite3_column_blob(s, 0), sizeof st->sign_public);
        memcpy(st->sign_secret, sqlite3_column_blob(s, 1), sizeof st->sign_secret);
        sqlite3_reset(s);
        return MK_OK;
    }
    int damaged = rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return store_err(st, rc, "read kit key");
    if (damaged) { /* never replaced silently: packages signed with it would stop verifying */
        LOG(LOG_ERROR, "kit %s: the signing key in the database is damaged", st->kit_id);
        return MK_EDB;
    }
    crypto_sign_keypair(st->sign_public, st->sign_secret);
    /* Only where there is none yet: the CLI and the daemon may start at once. */
    s = store_stmt(st, "UPDATE kit SET sign_public = ?, sign_secret = ? WHERE id = ? AND "
                       "sign_public IS NULL");
    if (!s)
        return MK_EDB;
    sqlite3_bind_blob(s, 1, st->sign_public, sizeof st->sign_public, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, st->sign_secret, sizeof st->sign_secret, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, st->kit_id, -1, SQLITE_STATIC);
    rc = store_err(st, sqlite3_step(s), "save kit key");
    sqlite3_reset(s);
    if (rc == MK_OK && sqlite3_changes(st->db) == 0) { /* the other one made it: take theirs */
        sodium_memzero(st->sign_secret, sizeof st->sign_secret);
        return load_sign_key(st);
    }
    if (rc == MK_OK)
        LOG(LOG_NOTICE, "kit %s: new signing key", st->kit_id);
    return rc;
}

static int load_kit(struct store *st)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT id, secret FROM kit LIMIT 1");
    if (!s)
        return MK_EDB;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 1) == (int)sizeof st->secret) {
        snprintf(st->kit_id, sizeof st->kit_id, "%s", sqlite3_column_text(s, 0));
        memcpy(st->secret, sqlite3_column_blob(s, 1), sizeof st->secret);
        sqlite3_reset(s);
        return load_sign_key(st);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_err(st, rc, "read kit");

    /* First run: this kit's identity. */
    char now[32];
    util_uuid7(st->kit_id);
    util_now_iso(now);
    randombytes_buf(st->secret, sizeof st->secret);
    s = store_stmt(st, "INSERT INTO kit(id, secret, created_at) VALUES (?,?,?)");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, st->kit_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, st->secret, sizeof st->secret, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, now, -1, SQLITE_STATIC);
    rc = store_err(st, sqlite3_step(s), "create kit");
    sqlite3_reset(s);
    if (rc == MK_OK)
        LOG(LOG_NOTICE, "new kit %s", st->kit_id);
    return rc == MK_OK ? load_sign_key(st) : rc;
}

int store_open(const char *dir, struct store **out)
{
    char path[4096];
    int rc;

    if (sodium_init() < 0) {
        LOG(LOG_ERROR, "libsodium failed to initialise");
        return MK_EIO;
    }
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        LOG(LOG_ERROR, "cannot create data directory %s: %s", dir, strerror(errno));
        return errno == ENOSPC ? MK_ENOSPC : MK_EIO;
    }
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, STORE_DB_NAME) >= sizeof path)
        return MK_EINVAL;

    struct store *st = calloc(1, sizeof *st);
    if (!st)
        return MK_ENOMEM;
    rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        LOG(LOG_ERROR, "cannot open %s: %s", path,
            st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        sqlite3_close(st->db);
        free(st);
        return MK_EIO;
    }
    /* A database made by an older mokit, or copied in, may be readable by others. */
    if (chmod(path, 0600) != 0)
        LOG(LOG_WARN, "cannot make %s private: %s", path, strerror(errno));
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, 5000);
    /* WAL + FULL: a commit is on disk (WAL fsynced) before we answer. A 4 MiB page cache keeps
     * the daemon small; search touches indexes, not whole tables. */
    rc = exec(st,
              "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
              "PRAGMA cache_size=-4096; PRAGMA temp_store=MEMORY;",
              "pragmas");
    if (rc == MK_OK)
        rc = migrate(st);
    if (rc == MK_OK)
        rc = load_kit(st);
    if (rc != MK_OK) {
        store_close(st);
        return rc;
    }
    *out = st;
    return MK_OK;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    for (int i = 0; i < st->ncache; i++)
        sqlite3_finalize(st->cache[i].stmt);
    sqlite3_close(st->db);
    sodium_memzero(st->secret, sizeof st->secret);
    sodium_memzero(st->sign_secret, sizeof st->sign_secret);
    free(st);
}

void store_kit_sign_public(const struct store *st, unsigned char pk[32])
{
    memcpy(pk, st->sign_public, sizeof st->sign_public);
}

void store_kit_sign(const struct store *st, const unsigned char *msg, size_t len,
                    unsigned char sig[64])
{
    crypto_sign_detached(sig, NULL, msg, len, st->sign_secret);
}

const char *store_kit_id(const struct store *st)
{
    return st->kit_id;
}
