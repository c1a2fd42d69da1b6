/* Internals shared by the store's .c files. */
#pragma once

#include "store.h"

#include "../common/util.h"

#include <sqlite3.h>

#define STMT_CACHE 512 /* distinct SQL texts: about 150 today; linear lookup by pointer */

struct store {
    sqlite3 *db;
    char kit_id[40];
    unsigned char secret[32];
    unsigned char sign_public[32], sign_secret[64]; /* the kit's Ed25519 key */
    struct {
        const char *sql; /* compared by pointer: callers pass string literals */
        sqlite3_stmt *stmt;
    } cache[STMT_CACHE];
    int ncache;
    int outer; /* store_tx_begin() is open: writes use savepoints */
    int inner; /* a write's own transaction or savepoint is open */
};

/* A prepared statement for sql, reset and with bindings cleared; NULL on error (logged). */
sqlite3_stmt *store_stmt(struct store *st, const char *sql);
/* Maps an SQLite result code to mk_err, logging the database's message. */
int store_err(struct store *st, int rc, const char *what);
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);
/* Binds text or NULL for an empty string. */
void store_bind_opt(sqlite3_stmt *s, int i, const char *v);
/* The current row as a JSON object, column names as keys, NULL as null. */
json_t *store_row_json(sqlite3_stmt *s);
/* Steps once: the row as JSON (0), MK_ENOTFOUND when there is none, or an error. Resets s. */
int store_one_row(struct store *st, sqlite3_stmt *s, json_t **out);
/* Runs a query and collects every row (store_row_json) into an array. */
int store_query_rows(struct store *st, sqlite3_stmt *s, json_t **out);
/* Appends an audit row; after/before are borrowed (may be NULL). */
int store_audit(struct store *st, const struct actor *a, const char *action, const char *entity,
                const char *entity_id, json_t *before, json_t *after);
/* Inserts an observation and its audit row inside the caller's transaction: its id into id,
 * the observation (JSON) into *out when out is not NULL. */
int store_obs_insert(struct store *st, const struct actor *a, const char *visit_id,
                     const struct obs_kind *k, const struct obs_values *v, const char *source,
                     const char *device, const char *note, char id[UUID_LEN + 1], json_t **out);
