/* Campaigns, staff and login sessions. */
#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../domain/date.h"
#include "../domain/role.h"
#include "store_int.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* argon2id cost of a PIN hash: see store_staff_add. */
#define PIN_OPSLIMIT 3
#define PIN_MEMLIMIT (16u << 20)

#define CAMPAIGN_COLS                                                                     \
    "SELECT id, code, name, province, district, commune, village, start_date, end_date, " \
    "hospital, created_at FROM campaign "

int store_one_row(struct store *st, sqlite3_stmt *s, json_t **out)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = store_row_json(s);
        sqlite3_reset(s);
        return *out ? MK_OK : MK_ENOMEM;
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? MK_ENOTFOUND : store_err(st, rc, "query");
}

int store_campaign_get(struct store *st, const char *code_or_id, json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, CAMPAIGN_COLS "WHERE code = ?1 OR id = ?1");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, code_or_id, -1, SQLITE_TRANSIENT);
    return store_one_row(st, s, out);
}

int store_campaign_current(struct store *st, json_t **out)
{
    char today[11];
    sqlite3_stmt *s = store_stmt(st, CAMPAIGN_COLS "WHERE start_date IS NULL OR start_date <= ? "
                                                   "ORDER BY coalesce(start_date, '') DESC, "
                                                   "created_at DESC LIMIT 1");
    if (!s)
        return MK_EDB;
    util_today(today);
    sqlite3_bind_text(s, 1, today, -1, SQLITE_TRANSIENT);
    return store_one_row(st, s, out);
}

int store_campaign_id(struct store *st, const char *code, char out[64])
{
    char today[11];
    sqlite3_stmt *s =
        code
            ? store_stmt(st, "SELECT id FROM campaign WHERE code = ?1 OR id = ?1")
            : store_stmt(st, "SELECT id FROM campaign WHERE start_date IS NULL OR start_date <= ?1 "
                             "ORDER BY coalesce(start_date, '') DESC, created_at DESC LIMIT 1");
    if (!s)
        return MK_EDB;
    util_today(today);
    sqlite3_bind_text(s, 1, code ? code : today, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        snprintf(out, 64, "%s", sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    return rc == SQLITE_ROW    ? MK_OK
           : rc == SQLITE_DONE ? MK_ENOTFOUND
                               : store_err(st, rc, "campaign");
}

int store_campaign_list(struct store *st, json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, CAMPAIGN_COLS "ORDER BY created_at");
    if (!s)
        return MK_EDB;
    return store_query_rows(st, s, out);
}

static bool opt_date_ok(const char *s)
{
    struct date d;
    return !s || !s[0] || (strlen(s) == 10 && date_parse(s, &d) == MK_OK);
}

int store_campaign_create(struct store *st, const struct actor *a, const struct campaign_in *c,
                          json_t **out)
{
    char id[UUID_LEN + 1], now[32];
    if (!c->code || !c->code[0] || !c->name || !c->name[0] || strlen(c->code) > 40)
        return MK_EINVAL;
    const char *texts[] = {c->name, c->province, c->district, c->commune, c->village, c->hospital};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (texts[i] && strlen(texts[i]) > 300)
            return MK_EINVAL;
    if (!opt_date_ok(c->start_date) || !opt_date_ok(c->end_date))
        return MK_EINVAL;
    if (c->start_date && c->end_date && c->start_date[0] && c->end_date[0] &&
        strcmp(c->start_date, c->end_date) > 0)
        return MK_EINVAL;
    sqlite3_stmt *s =
        store_stmt(st, "INSERT INTO campaign(id, code, name, province, district, commune, village, "
                       "start_date, end_date, hospital, created_at, created_by) "
                       "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!s)
        return MK_EDB;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    util_uuid7(id);
    util_now_iso(now);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, c->code, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, c->name, -1, SQLITE_TRANSIENT);
    store_bind_opt(s, 4, c->province);
    store_bind_opt(s, 5, c->district);
    store_bind_opt(s, 6, c->commune);
    store_bind_opt(s, 7, c->village);
    store_bind_opt(s, 8, c->start_date);
    store_bind_opt(s, 9, c->end_date);
    store_bind_opt(s, 10, c->hospital);
    sqlite3_bind_text(s, 11, now, -1, SQLITE_TRANSIENT);
    store_bind_opt(s, 12, a->staff_id);
    int step = sqlite3_step(s);
    sqlite3_reset(s);
    if (step == SQLITE_CONSTRAINT_UNIQUE) { /* the code is taken */
        store_rollback(st);
        return MK_EEXIST;
    }
    rc = store_err(st, step, "insert campaign");
    json_t *created = NULL;
    if (rc == MK_OK)
        rc = store_campaign_get(st, id, &created);
    if (rc == MK_OK)
        rc = store_audit(st, a, "create", "campaign", id, NULL, created);
    if (rc == MK_OK)
        rc = store_commit(st);
    if (rc != MK_OK) {
        store_rollback(st);
        json_decref(created);
        return rc;
    }
    *out = created;
    return MK_OK;
}

bool store_pin_valid(const char *pin)
{
    size_t n = strlen(pin);
    if (n < 4 || n > 8)
        return false;
    for (size_t i = 0; i < n; i++)
        if (pin[i] < '0' || pin[i] > '9')
            return false;
    return true;
}

/* 16 bits of BLAKE2b keyed with the kit secret: which staff rows a PIN can belong to, so a
 * login verifies one argon2id hash instead of every staff member's. PINs are short, so the
 * argon2id hash slows guessing rather than preventing it; the tag gives away nothing that the
 * hashes beside it do not. */
static int pin_tag(const struct store *st, const char *pin)
{
    unsigned char h[16];
    crypto_generichash(h, sizeof h, (const unsigned char *)pin, strlen(pin), st->secret,
                       sizeof st->secret);
    return h[0] << 8 | h[1];
}

#define STAFF_COLS "SELECT id, name, role, specialty, active, created_at FROM staff "

/* Verifies pin against the active staff whose tag matches. When none matches, one argon2id
 * verification still runs against a throw-away hash, so the time of a wrong PIN does not tell
 * whether its tag matched someone. */
static int find_by_pin(struct store *st, const char *pin, const char *staff_id, json_t **out)
{
    static char dummy[crypto_pwhash_STRBYTES];
    sqlite3_stmt *s = store_stmt(st, "SELECT id, name, role, specialty, pin_hash FROM staff "
                                     "WHERE active AND pin_tag = ? AND (?2 IS NULL OR id = ?2)");
    if (!s)
        return MK_EDB;
    sqlite3_bind_int(s, 1, pin_tag(st, pin));
    store_bind_opt(s, 2, staff_id);
    int rc, verified = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *hash = (const char *)sqlite3_column_text(s, 4);
        verified++;
        if (crypto_pwhash_str_verify(hash, pin, strlen(pin)) == 0) {
            json_t *o =
                json_pack("{s:s, s:s, s:s, s:o}", "id", sqlite3_column_text(s, 0), "name",
                          sqlite3_column_text(s, 1), "role", sqlite3_column_text(s, 2), "specialty",
                          sqlite3_column_type(s, 3) == SQLITE_NULL
                              ? json_null()
                              : json_string((const char *)sqlite3_column_text(s, 3)));
            sqlite3_reset(s);
            if (!o)
                return MK_ENOMEM;
            *out = o;
            return MK_OK;
        }
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_err(st, rc, "login");
    if (!verified) {
        if (!dummy[0] && crypto_pwhash_str(dummy, "mokit", 5, PIN_OPSLIMIT, PIN_MEMLIMIT) != 0)
            return MK_ENOMEM;
        int same_time = crypto_pwhash_str_verify(dummy, pin, strlen(pin));
        (void)same_time;
    }
    return MK_EAUTH;
}

int store_staff_login(struct store *st, const char *pin, const char *staff_id, json_t **staff)
{
    if (!store_pin_valid(pin))
        return MK_EAUTH;
    return find_by_pin(st, pin, staff_id, staff);
}

int store_staff_add(struct store *st, const struct actor *a, const char *name, const char *role,
                    const char *specialty, const char *pin, json_t **out)
{
    char id[UUID_LEN + 1], now[32], hash[crypto_pwhash_STRBYTES];
    if (!name || !name[0] || strlen(name) > 200 || !role_valid(role) || !store_pin_valid(pin))
        return MK_EINVAL;
    /* Hash first (slow), then check uniqueness and insert in one transaction, so that the CLI
     * and the daemon cannot both give out the same PIN. */
    if (crypto_pwhash_str(hash, pin, strlen(pin), PIN_OPSLIMIT, PIN_MEMLIMIT) != 0)
        return MK_ENOMEM;
    sqlite3_stmt *s = store_stmt(st, "INSERT INTO staff(id, name, role, specialty, pin_hash, "
                                     "pin_tag, created_at, created_by) VALUES (?,?,?,?,?,?,?,?)");
    if (!s)
        return MK_EDB;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    json_t *other = NULL;
    rc = find_by_pin(st, pin, NULL, &other);
    json_decref(other);
    if (rc != MK_EAUTH) {
        store_rollback(st);
        return rc == MK_OK ? MK_EEXIST : rc;
    }
    util_uuid7(id);
    util_now_iso(now);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, role, -1, SQLITE_TRANSIENT);
    store_bind_opt(s, 4, specialty);
    sqlite3_bind_text(s, 5, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 6, pin_tag(st, pin));
    sqlite3_bind_text(s, 7, now, -1, SQLITE_TRANSIENT);
    store_bind_opt(s, 8, a->staff_id);
    rc = store_err(st, sqlite3_step(s), "insert staff");
    sqlite3_reset(s);
    json_t *created = NULL;
    if (rc == MK_OK) {
        sqlite3_stmt *g = store_stmt(st, STAFF_COLS "WHERE id = ?");
        if (!g)
            rc = MK_EDB;
        else {
            sqlite3_bind_text(g, 1, id, -1, SQLITE_TRANSIENT);
            rc = store_one_row(st, g, &created);
        }
    }
    /* The audit row never holds the PIN or its hash. */
    if (rc == MK_OK)
        rc = store_audit(st, a, "create", "staff", id, NULL, created);
    if (rc == MK_OK)
        rc = store_commit(st);
    if (rc != MK_OK) {
        store_rollback(st);
        json_decref(created);
        return rc;
    }
    *out = created;
    return MK_OK;
}

int store_staff_list(struct store *st, json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, STAFF_COLS "ORDER BY role, name");
    if (!s)
        return MK_EDB;
    return store_query_rows(st, s, out);
}

static void token_hash(const char *token, char out[65])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)token, strlen(token), NULL, 0);
    util_hex(h, sizeof h, out);
}

int store_session_create(struct store *st, const struct actor *a, int ttl_seconds, char token[65])
{
    unsigned char raw[32];
    char hash[65], now[32];
    randombytes_buf(raw, sizeof raw);
    util_hex(raw, sizeof raw, token);
    token_hash(token, hash);
    util_now_iso(now);
    sqlite3_stmt *s = store_stmt(st, "INSERT INTO session(token_hash, staff_id, created_at, "
                                     "expires_at, last_seen) VALUES (?,?,?,?,?)");
    sqlite3_stmt *d = store_stmt(st, "DELETE FROM session WHERE expires_at < ?");
    if (!s || !d)
        return MK_EDB;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, a->staff_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)time(NULL) + ttl_seconds);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)time(NULL));
    rc = store_err(st, sqlite3_step(s), "insert session");
    sqlite3_reset(s);
    if (rc == MK_OK) { /* expired sessions go as new ones come */
        sqlite3_bind_int64(d, 1, (sqlite3_int64)time(NULL));
        rc = store_err(st, sqlite3_step(d), "expire sessions");
        sqlite3_reset(d);
    }
    if (rc == MK_OK)
        rc = store_audit(st, a, "login", "staff", a->staff_id, NULL, NULL);
    if (rc == MK_OK)
        rc = store_commit(st);
    store_rollback(st);
    if (rc != MK_OK)
        sodium_memzero(token, 65);
    return rc;
}

/* The grace of idle checks: a use is noted at most once per NOTE_EVERY seconds (each note is an
 * fsync on the SD card), so a session counts as idle only NOTE_EVERY after its last note. */
static int note_every(int idle_seconds)
{
    return idle_seconds >= 240 ? 60 : idle_seconds / 4;
}

static int session_lookup(struct store *st, const char *token, int idle_seconds, bool touch,
                          json_t **staff)
{
    char hash[65];
    if (strlen(token) != 64)
        return MK_EAUTH;
    token_hash(token, hash);
    sqlite3_stmt *s = store_stmt(st, "SELECT staff.id AS id, name, role, specialty, "
                                     "coalesce(last_seen, 0) AS last_seen FROM session "
                                     "JOIN staff ON staff.id = session.staff_id "
                                     "WHERE token_hash = ?1 AND expires_at >= ?2 AND active "
                                     "AND (last_seen IS NULL OR last_seen + ?3 >= ?2)");
    if (!s)
        return MK_EDB;
    sqlite3_int64 now = (sqlite3_int64)time(NULL);
    int every = note_every(idle_seconds);
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int(s, 3, idle_seconds + every);
    json_t *row = NULL;
    int rc = store_one_row(st, s, &row);
    if (rc == MK_ENOTFOUND)
        return MK_EAUTH;
    if (rc != MK_OK)
        return rc;
    /* Not audited: logins and logouts are. */
    if (touch && json_integer_value(json_object_get(row, "last_seen")) + every <= now) {
        sqlite3_stmt *u = store_stmt(st, "UPDATE session SET last_seen = ? WHERE token_hash = ?");
        if (u) {
            sqlite3_bind_int64(u, 1, now);
            sqlite3_bind_text(u, 2, hash, -1, SQLITE_TRANSIENT);
            if (store_err(st, sqlite3_step(u), "session seen") != MK_OK)
                LOG(LOG_WARN, "cannot note a session's use (the disk may be full)");
            sqlite3_reset(u);
        }
    }
    json_object_del(row, "last_seen");
    if (staff)
        *staff = row;
    else
        json_decref(row);
    return MK_OK;
}

int store_session_get(struct store *st, const char *token, int idle_seconds, json_t **staff)
{
    return session_lookup(st, token, idle_seconds, true, staff);
}

int store_session_valid(struct store *st, const char *token, int idle_seconds)
{
    return session_lookup(st, token, idle_seconds, false, NULL);
}

int store_session_delete(struct store *st, const struct actor *a, const char *token)
{
    char hash[65];
    token_hash(token, hash);
    sqlite3_stmt *s = store_stmt(st, "DELETE FROM session WHERE token_hash = ?");
    if (!s)
        return MK_EDB;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_TRANSIENT);
    rc = store_err(st, sqlite3_step(s), "delete session");
    sqlite3_reset(s);
    if (rc == MK_OK)
        rc = store_audit(st, a, "logout", "staff", a->staff_id, NULL, NULL);
    if (rc == MK_OK)
        rc = store_commit(st);
    store_rollback(st);
    return rc;
}

int store_campaign_update(struct store *st, const struct actor *a, const char *code_or_id,
                          const struct campaign_in *c, json_t **out)
{
    if (c->code)
        return MK_EINVAL; /* the code never changes: visits and exports name it */
    if ((c->name && (!c->name[0] || strlen(c->name) > 300)) || !opt_date_ok(c->start_date) ||
        !opt_date_ok(c->end_date))
        return MK_EINVAL;
    const char *texts[] = {c->province, c->district, c->commune, c->village, c->hospital};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (texts[i] && strlen(texts[i]) > 300)
            return MK_EINVAL;
    json_t *before = NULL, *after = NULL;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    rc = store_campaign_get(st, code_or_id, &before);
    /* NULL leaves a field; "" clears it (the name cannot be cleared). */
    sqlite3_stmt *s = store_stmt(
        st, "UPDATE campaign SET name = coalesce(?1, name), province = coalesce(?2, province), "
            "district = coalesce(?3, district), commune = coalesce(?4, commune), "
            "village = coalesce(?5, village), start_date = coalesce(?6, start_date), "
            "end_date = coalesce(?7, end_date), hospital = coalesce(?8, hospital) WHERE id = ?9");
    sqlite3_stmt *blank = store_stmt(
        st, "UPDATE campaign SET province = nullif(province, ''), district = nullif(district, ''), "
            "commune = nullif(commune, ''), village = nullif(village, ''), start_date = "
            "nullif(start_date, ''), end_date = nullif(end_date, ''), hospital = "
            "nullif(hospital, '') WHERE id = ?");
    if (rc == MK_OK && (!s || !blank))
        rc = MK_EDB;
    const char *id = json_string_value(json_object_get(before, "id"));
    if (rc == MK_OK) {
        const char *v[] = {c->name,    c->province,   c->district, c->commune,
                           c->village, c->start_date, c->end_date, c->hospital};
        for (int i = 0; i < 8; i++)
            if (v[i])
                sqlite3_bind_text(s, i + 1, v[i], -1, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(s, i + 1);
        sqlite3_bind_text(s, 9, id, -1, SQLITE_TRANSIENT);
        rc = store_err(st, sqlite3_step(s), "update campaign");
        sqlite3_reset(s);
    }
    if (rc == MK_OK) {
        sqlite3_bind_text(blank, 1, id, -1, SQLITE_TRANSIENT);
        rc = store_err(st, sqlite3_step(blank), "update campaign");
        sqlite3_reset(blank);
    }
    if (rc == MK_OK)
        rc = store_campaign_get(st, id, &after);
    if (rc == MK_OK) {
        const char *sd = json_string_value(json_object_get(after, "start_date"));
        const char *ed = json_string_value(json_object_get(after, "end_date"));
        if (sd && ed && strcmp(sd, ed) > 0)
            rc = MK_EINVAL;
    }
    if (rc == MK_OK)
        rc = store_audit(st, a, "update", "campaign", id, before, after);
    json_decref(before);
    if (rc == MK_OK)
        rc = store_commit(st);
    if (rc != MK_OK) {
        store_rollback(st);
        json_decref(after);
        return rc;
    }
    *out = after;
    return MK_OK;
}

int store_staff_update(struct store *st, const struct actor *a, const char *id, int active,
                       const char *pin, json_t **out)
{
    char hash[crypto_pwhash_STRBYTES];
    if (pin && !store_pin_valid(pin))
        return MK_EINVAL;
    if (pin && crypto_pwhash_str(hash, pin, strlen(pin), PIN_OPSLIMIT, PIN_MEMLIMIT) != 0)
        return MK_ENOMEM;
    json_t *before = NULL, *after = NULL;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    sqlite3_stmt *g = store_stmt(st, STAFF_COLS "WHERE id = ?");
    if (!g)
        rc = MK_EDB;
    else {
        sqlite3_bind_text(g, 1, id, -1, SQLITE_TRANSIENT);
        rc = store_one_row(st, g, &before);
    }
    /* Back to work needs a new PIN: the old one may be someone else's by now. */
    if (rc == MK_OK && active == 1 && !json_integer_value(json_object_get(before, "active")) &&
        !pin)
        rc = MK_EINVAL;
    if (rc == MK_OK && pin) {
        json_t *other = NULL;
        rc = find_by_pin(st, pin, NULL, &other);
        if (rc == MK_OK)
            rc = strcmp(json_string_value(json_object_get(other, "id")), id) ? MK_EEXIST : MK_OK;
        else if (rc == MK_EAUTH)
            rc = MK_OK;
        json_decref(other);
    }
    sqlite3_stmt *s = store_stmt(st, "UPDATE staff SET active = coalesce(?1, active), "
                                     "pin_hash = coalesce(?2, pin_hash), "
                                     "pin_tag = coalesce(?3, pin_tag) WHERE id = ?4");
    sqlite3_stmt *end = store_stmt(st, "DELETE FROM session WHERE staff_id = ?");
    if (rc == MK_OK && (!s || !end))
        rc = MK_EDB;
    if (rc == MK_OK) {
        if (active >= 0)
            sqlite3_bind_int(s, 1, active);
        if (pin) {
            sqlite3_bind_text(s, 2, hash, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(s, 3, pin_tag(st, pin));
        }
        sqlite3_bind_text(s, 4, id, -1, SQLITE_TRANSIENT);
        rc = store_err(st, sqlite3_step(s), "update staff");
        sqlite3_reset(s);
    }
    /* A deactivated member, or one whose PIN changed, is logged out everywhere. */
    if (rc == MK_OK && (active == 0 || pin)) {
        sqlite3_bind_text(end, 1, id, -1, SQLITE_TRANSIENT);
        rc = store_err(st, sqlite3_step(end), "end sessions");
        sqlite3_reset(end);
    }
    if (rc == MK_OK) {
        sqlite3_bind_text(g, 1, id, -1, SQLITE_TRANSIENT);
        rc = store_one_row(st, g, &after);
    }
    if (rc == MK_OK) { /* never the PIN or its hash */
        json_t *what = json_pack("{s:O, s:b}", "active", json_object_get(after, "active"),
                                 "pin_changed", pin != NULL);
        rc = store_audit(st, a, "update", "staff", id, NULL, what);
        json_decref(what);
    }
    json_decref(before);
    sodium_memzero(hash, sizeof hash);
    if (rc == MK_OK)
        rc = store_commit(st);
    if (rc != MK_OK) {
        store_rollback(st);
        json_decref(after);
        return rc;
    }
    *out = after;
    return MK_OK;
}

/* ---- request keys (app/sql/005_request_keys.sql) ---- */

int store_request_key_get(struct store *st, const char *key, json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT staff_id, method, path, status, body FROM "
                                     "request_key WHERE key = ? AND created_at >= ?");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)time(NULL) - 86400);
    return store_one_row(st, s, out);
}

int store_request_key_put(struct store *st, const char *key, const char *staff_id,
                          const char *method, const char *path, int status, const char *body)
{
    sqlite3_stmt *s = store_stmt(st, "INSERT OR IGNORE INTO request_key(key, staff_id, method, "
                                     "path, status, body, created_at) VALUES (?,?,?,?,?,?,?)");
    sqlite3_stmt *d = store_stmt(st, "DELETE FROM request_key WHERE created_at < ?");
    if (!s || !d)
        return MK_EDB;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    sqlite3_int64 now = (sqlite3_int64)time(NULL);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, staff_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, method, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 5, status);
    sqlite3_bind_text(s, 6, body, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 7, now);
    rc = store_err(st, sqlite3_step(s), "request key");
    sqlite3_reset(s);
    if (rc == MK_OK) { /* a day's keys are kept: older ones go as new ones come */
        sqlite3_bind_int64(d, 1, now - 86400);
        rc = store_err(st, sqlite3_step(d), "old request keys");
        sqlite3_reset(d);
    }
    if (rc == MK_OK)
        rc = store_commit(st);
    store_rollback(st);
    return rc;
}
