/* Stations and device readings (app/sql/003_devices.sql). */
#include "../common/err.h"
#include "../common/util.h"
#include "store_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- stations ---- */

#define STATION_COLS                                                                        \
    "SELECT s.name, s.role, s.devices, s.is_default, s.current_since, v.id AS visit_id, "   \
    "v.day, v.queue_number, p.code AS patient_code, p.name AS patient_name FROM station s " \
    "LEFT JOIN visit v ON v.id = s.visit_id LEFT JOIN patient p ON p.id = v.patient_id "

static json_t *station_json(sqlite3_stmt *s)
{
    json_t *o = store_row_json(s);
    if (!o)
        return NULL;
    char today[11];
    util_today(today);
    const char *day = json_string_value(json_object_get(o, "day"));
    json_t *cur = json_null();
    if (day && strcmp(day, today) == 0)
        cur = json_pack("{s:O, s:O, s:O, s:O, s:O}", "visit", json_object_get(o, "visit_id"),
                        "patient", json_object_get(o, "patient_code"), "name",
                        json_object_get(o, "patient_name"), "queue_number",
                        json_object_get(o, "queue_number"), "since",
                        json_object_get(o, "current_since"));
    json_object_set_new(o, "current", cur ? cur : json_null());
    json_object_set_new(o, "is_default",
                        json_boolean(json_integer_value(json_object_get(o, "is_default"))));
    static const char *const drop[] = {"visit_id",     "day",          "queue_number",
                                       "patient_code", "patient_name", "current_since"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        json_object_del(o, drop[i]);
    return o;
}

int store_station_list(struct store *st, json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, STATION_COLS "ORDER BY s.rowid");
    if (!s)
        return MK_EDB;
    json_t *list = json_array();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_array_append_new(list, station_json(s));
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        json_decref(list);
        return store_err(st, rc, "list stations");
    }
    *out = list;
    return MK_OK;
}

int store_station_get(struct store *st, const char *name, json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, STATION_COLS "WHERE s.name = ?");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = station_json(s);
        sqlite3_reset(s);
        return *out ? MK_OK : MK_ENOMEM;
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? MK_ENOTFOUND : store_err(st, rc, "get station");
}

/* A device list: comma-separated items of a-z A-Z 0-9 - _ : . (ids, drivers, serials). */
static bool devices_valid(const char *d)
{
    if (strlen(d) > 1000)
        return false;
    for (const char *c = d; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr("-_:.,", *c)))
            return false;
    return true;
}

int store_station_update(struct store *st, const struct actor *a, const char *name,
                         const char *devices, int is_default, json_t **out)
{
    if (devices && !devices_valid(devices))
        return MK_EINVAL;
    json_t *before = NULL, *after = NULL;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    rc = store_station_get(st, name, &before);
    if (rc == MK_OK && devices) {
        sqlite3_stmt *s = store_stmt(st, "UPDATE station SET devices = ? WHERE name = ?");
        rc = s ? MK_OK : MK_EDB;
        if (s) {
            sqlite3_bind_text(s, 1, devices, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
            rc = store_err(st, sqlite3_step(s), "update station");
            sqlite3_reset(s);
        }
    }
    if (rc == MK_OK && is_default >= 0) {
        /* One default at most (a unique index): the old one steps down first. */
        static const char *const sql_set[] = {
            "UPDATE station SET is_default = 0 WHERE is_default AND name <> ?",
            "UPDATE station SET is_default = 1 WHERE name = ?"};
        static const char *const sql_clear[] = {"UPDATE station SET is_default = 0 WHERE name = ?"};
        const char *const *sql = is_default ? sql_set : sql_clear;
        for (int i = 0; i < (is_default ? 2 : 1) && rc == MK_OK; i++) {
            sqlite3_stmt *s = store_stmt(st, sql[i]);
            if (!s) {
                rc = MK_EDB;
                break;
            }
            sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
            rc = store_err(st, sqlite3_step(s), "station default");
            sqlite3_reset(s);
        }
    }
    if (rc == MK_OK)
        rc = store_station_get(st, name, &after);
    if (rc == MK_OK)
        rc = store_audit(st, a, "update", "station", name, before, after);
    if (rc == MK_OK)
        rc = store_commit(st);
    store_rollback(st);
    json_decref(before);
    if (rc == MK_OK)
        *out = after;
    else
        json_decref(after);
    return rc;
}

int store_station_set_current(struct store *st, const struct actor *a, const char *name,
                              const char *visit_id, json_t **out)
{
    json_t *before = NULL, *after = NULL;
    char now[32];
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    rc = store_station_get(st, name, &before);
    if (rc == MK_OK && visit_id) {
        sqlite3_stmt *s = store_stmt(st, "SELECT 1 FROM visit WHERE id = ?");
        rc = s ? MK_OK : MK_EDB;
        if (s) {
            sqlite3_bind_text(s, 1, visit_id, -1, SQLITE_TRANSIENT);
            rc = sqlite3_step(s) == SQLITE_ROW ? MK_OK : MK_ENOTFOUND;
            sqlite3_reset(s);
        }
    }
    if (rc == MK_OK) {
        sqlite3_stmt *s =
            store_stmt(st, "UPDATE station SET visit_id = ?, current_since = ? WHERE name = ?");
        rc = s ? MK_OK : MK_EDB;
        if (s) {
            util_now_iso(now);
            store_bind_opt(s, 1, visit_id);
            if (visit_id)
                sqlite3_bind_text(s, 2, now, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 3, name, -1, SQLITE_TRANSIENT);
            rc = store_err(st, sqlite3_step(s), "station current");
            sqlite3_reset(s);
        }
    }
    if (rc == MK_OK)
        rc = store_station_get(st, name, &after);
    if (rc == MK_OK) {
        json_t *b = json_pack("{s:O}", "current", json_object_get(before, "current"));
        json_t *f = json_pack("{s:O}", "current", json_object_get(after, "current"));
        rc = b && f ? store_audit(st, a, "update", "station", name, b, f) : MK_ENOMEM;
        json_decref(b);
        json_decref(f);
    }
    if (rc == MK_OK)
        rc = store_commit(st);
    store_rollback(st);
    json_decref(before);
    if (rc == MK_OK)
        *out = after;
    else
        json_decref(after);
    return rc;
}

/* Whether the comma list holds item exactly. */
static bool list_has(const char *list, const char *item)
{
    size_t n = strlen(item);
    if (!n)
        return false;
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, item, n) == 0)
            return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

int store_station_for_device(struct store *st, const char *device_id, const char *driver,
                             const char *serial, char name[40])
{
    sqlite3_stmt *s = store_stmt(st, "SELECT name, devices, is_default FROM station");
    if (!s)
        return MK_EDB;
    char with_serial[128];
    snprintf(with_serial, sizeof with_serial, "%s:%s", driver, serial ? serial : "");
    int best = 0; /* 4 id, 3 driver:serial, 2 driver, 1 default */
    int rc;
    name[0] = '\0';
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *n = (const char *)sqlite3_column_text(s, 0);
        const char *devs = (const char *)sqlite3_column_text(s, 1);
        int score = list_has(devs, device_id)                            ? 4
                    : serial && serial[0] && list_has(devs, with_serial) ? 3
                    : list_has(devs, driver)                             ? 2
                    : sqlite3_column_int(s, 2)                           ? 1
                                                                         : 0;
        if (score > best) {
            best = score;
            snprintf(name, 40, "%s", n);
        }
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_err(st, rc, "station for device");
    return best ? MK_OK : MK_ENOTFOUND;
}

/* ---- readings ---- */

#define READING_COLS                                                                          \
    "SELECT id, station, device_id, device, code, value, value2, value3, unit, device_time, " \
    "received_at, raw, state, note, visit_id, observation_id, assigned_at, assigned_by, "     \
    "connection_id, clock_offset FROM device_reading "

static json_t *reading_json(sqlite3_stmt *s)
{
    const struct obs_kind *k = obs_kind_find((const char *)sqlite3_column_text(s, 4));
    json_t *o = store_row_json(s), *values = json_object();
    if (!o || !values) {
        json_decref(o);
        json_decref(values);
        return NULL;
    }
    for (int i = 0; k && i < k->ncomp; i++)
        if (sqlite3_column_type(s, 5 + i) != SQLITE_NULL)
            json_object_set_new(values, k->comp[i], json_real(sqlite3_column_double(s, 5 + i)));
    json_object_del(o, "value");
    json_object_del(o, "value2");
    json_object_del(o, "value3");
    json_object_set_new(o, "values", values);
    json_object_set(o, "visit", json_object_get(o, "visit_id"));
    json_object_del(o, "visit_id");
    json_object_set(o, "observation", json_object_get(o, "observation_id"));
    json_object_del(o, "observation_id");
    return o;
}

int store_reading_get(struct store *st, const char *id, json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, READING_COLS "WHERE id = ?");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = reading_json(s);
        sqlite3_reset(s);
        return *out ? MK_OK : MK_ENOMEM;
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? MK_ENOTFOUND : store_err(st, rc, "get reading");
}

int store_reading_list(struct store *st, const char *state, const char *station, int limit,
                       json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, READING_COLS "WHERE (?1 IS NULL OR state = ?1) AND "
                                                  "(?2 IS NULL OR station = ?2) "
                                                  "ORDER BY received_at DESC, id DESC LIMIT ?3");
    if (!s)
        return MK_EDB;
    store_bind_opt(s, 1, state);
    store_bind_opt(s, 2, station);
    sqlite3_bind_int(s, 3, limit < 1 ? 1 : limit > 500 ? 500 : limit);
    json_t *list = json_array();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_array_append_new(list, reading_json(s));
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        json_decref(list);
        return store_err(st, rc, "list readings");
    }
    *out = list;
    return MK_OK;
}

/* The observation for a reading, inside the caller's transaction; its id into oid. The
 * note names the reading, whose row holds the raw frame. */
static int obs_insert(struct store *st, const struct actor *a, const char *visit_id,
                      const struct obs_kind *k, const struct obs_values *v, const char *device,
                      const char *reading_id, char oid[UUID_LEN + 1])
{
    char note[80];
    snprintf(note, sizeof note, "device reading %s", reading_id);
    return store_obs_insert(st, a, visit_id, k, v, "device", device, note, oid, NULL);
}

/* The station's current visit if it is today's, into visit[40] ("" when none), and when it
 * became current. */
static int station_visit(struct store *st, const char *station, char visit[40], char since[32])
{
    char today[11];
    visit[0] = since[0] = '\0';
    sqlite3_stmt *s = store_stmt(st, "SELECT v.id, s.current_since FROM station s JOIN visit v "
                                     "ON v.id = s.visit_id WHERE s.name = ? AND v.day = ?");
    if (!s)
        return MK_EDB;
    util_today(today);
    sqlite3_bind_text(s, 1, station, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, today, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        snprintf(visit, 40, "%s", sqlite3_column_text(s, 0));
        snprintf(since, 32, "%s",
                 sqlite3_column_text(s, 1) ? (const char *)sqlite3_column_text(s, 1) : "");
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? MK_OK : store_err(st, rc, "station visit");
}

int store_reading_add(struct store *st, const struct actor *a, const struct reading_in *r,
                      json_t **out)
{
    const struct obs_kind *k = obs_kind_find(r->code);
    if (!k || !r->device_id || !r->device)
        return MK_EINVAL;
    char id[UUID_LEN + 1], oid[UUID_LEN + 1] = "", now[32], dtime[32] = "", visit[40] = "",
                                          since[32] = "", dedupe[256] = "", note[160] = "";
    const char *state = "unassigned";
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    if (r->connection_id &&
        (rc = store_device_connection(st, r->connection_id, r->device_id, r->device,
                                      r->connected_at, r->clock_known, r->clock_offset)) != MK_OK)
        goto out;
    char ktime[32] = ""; /* device_time on the kit's clock */
    if (r->device_time) {
        util_time_iso((double)r->device_time, dtime);
        util_time_iso((double)r->device_time - (r->clock_known ? r->clock_offset : 0), ktime);
        snprintf(dedupe, sizeof dedupe, "%s|%s|%s|%.3f|%.3f|%.3f", r->device, r->code, dtime,
                 r->present[0] ? r->v[0] : 0, r->present[1] ? r->v[1] : 0,
                 r->present[2] ? r->v[2] : 0);
        sqlite3_stmt *s = store_stmt(st, "SELECT id FROM device_reading WHERE dedupe = ?");
        if (!s) {
            rc = MK_EDB;
            goto out;
        }
        sqlite3_bind_text(s, 1, dedupe, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW) {
            snprintf(id, sizeof id, "%s", sqlite3_column_text(s, 0));
            sqlite3_reset(s);
            rc = store_reading_get(st, id, out);
            if (rc == MK_OK)
                rc = MK_EEXIST;
            goto out;
        }
        sqlite3_reset(s);
    }
    struct obs_values ov;
    memset(&ov, 0, sizeof ov);
    for (int i = 0; i < OBS_MAX_COMPONENTS; i++) {
        ov.v[i] = r->v[i];
        ov.present[i] = r->present[i];
    }
    util_uuid7(id);
    util_now_iso(now);
    if (obs_validate(k, &ov, note, sizeof note) != MK_OK) {
        state = "implausible";
    } else if (r->station && (rc = station_visit(st, r->station, visit, since)) != MK_OK) {
        goto out;
    } else if (r->stored && !dtime[0]) {
        /* A device without a clock: nobody can say whose it is but a nurse. */
        snprintf(note, sizeof note, "from the device's memory, taken at a time not known");
        visit[0] = '\0';
    } else if (!visit[0]) {
        snprintf(note, sizeof note, "no current patient at the station");
    } else if (ktime[0] && since[0] && strcmp(ktime, since) < 0) {
        /* From the device's memory, taken before this patient was scanned (by the device's
         * clock put on the kit's): an earlier patient's, or nobody's. */
        snprintf(note, sizeof note, "taken before the current patient was scanned%s",
                 r->clock_known ? " (device clock checked)" : "");
        visit[0] = '\0';
    } else {
        rc = obs_insert(st, a, visit, k, &ov, r->device, id, oid);
        if (rc != MK_OK)
            goto out;
        state = "attached";
        note[0] = '\0';
    }
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO device_reading(id, station, device_id, device, code, value, value2, "
            "value3, unit, device_time, received_at, raw, dedupe, state, note, visit_id, "
            "observation_id, connection_id, clock_offset) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!s) {
        rc = MK_EDB;
        goto out;
    }
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    store_bind_opt(s, 2, r->station);
    sqlite3_bind_text(s, 3, r->device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, r->device, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 5, k->code, -1, SQLITE_STATIC);
    for (int i = 0; i < OBS_MAX_COMPONENTS; i++)
        if (i < k->ncomp && r->present[i] && !isnan(r->v[i]))
            sqlite3_bind_double(s, 6 + i, r->v[i]);
        else
            sqlite3_bind_null(s, 6 + i);
    sqlite3_bind_text(s, 9, k->unit, -1, SQLITE_STATIC);
    store_bind_opt(s, 10, dtime);
    sqlite3_bind_text(s, 11, now, -1, SQLITE_STATIC);
    store_bind_opt(s, 12, r->raw_hex);
    store_bind_opt(s, 13, dedupe);
    sqlite3_bind_text(s, 14, state, -1, SQLITE_STATIC);
    store_bind_opt(s, 15, note);
    store_bind_opt(s, 16, visit);
    store_bind_opt(s, 17, oid);
    store_bind_opt(s, 18, r->connection_id);
    if (r->clock_known)
        sqlite3_bind_double(s, 19, r->clock_offset);
    else
        sqlite3_bind_null(s, 19);
    rc = store_err(st, sqlite3_step(s), "insert reading");
    sqlite3_reset(s);
    if (rc == MK_OK)
        rc = store_reading_get(st, id, out);
    if (rc == MK_OK)
        rc = store_audit(st, a, "create", "device_reading", id, NULL, *out);
    if (rc == MK_OK)
        rc = store_commit(st);
    if (rc != MK_OK) {
        json_decref(*out);
        *out = NULL;
    }
out:
    store_rollback(st);
    return rc;
}

int store_device_connection(struct store *st, const char *id, const char *device_id,
                            const char *device, double connected_at, int clock_known,
                            double clock_offset)
{
    char at[32], now[32];
    util_time_iso(connected_at, at);
    util_now_iso(now);
    sqlite3_stmt *s = store_stmt(
        st, "INSERT INTO device_connection(id, device_id, device, connected_at, clock_offset, "
            "clock_read_at) VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?5 IS NULL THEN NULL ELSE ?6 "
            "END) ON CONFLICT(id) DO UPDATE SET clock_offset = ?5, clock_read_at = ?6 "
            "WHERE ?5 IS NOT NULL AND (clock_offset IS NULL OR clock_offset != ?5)");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, device_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, device, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, at, -1, SQLITE_STATIC);
    if (clock_known)
        sqlite3_bind_double(s, 5, clock_offset);
    else
        sqlite3_bind_null(s, 5);
    sqlite3_bind_text(s, 6, now, -1, SQLITE_STATIC);
    int rc = store_err(st, sqlite3_step(s), "device connection");
    sqlite3_reset(s);
    return rc;
}

int store_reading_assign(struct store *st, const struct actor *a, const char *id,
                         const char *visit_id, json_t **out)
{
    json_t *before = NULL, *after = NULL;
    char oid[UUID_LEN + 1], now[32];
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    rc = store_reading_get(st, id, &before);
    const char *state = json_string_value(json_object_get(before, "state"));
    if (rc == MK_OK && state && strcmp(state, "attached") == 0)
        rc = MK_EEXIST;
    if (rc == MK_OK && state && strcmp(state, "implausible") == 0)
        rc = MK_ERANGE;
    if (rc == MK_OK) {
        sqlite3_stmt *s = store_stmt(st, "SELECT 1 FROM visit WHERE id = ?");
        rc = s ? MK_OK : MK_EDB;
        if (s) {
            sqlite3_bind_text(s, 1, visit_id, -1, SQLITE_TRANSIENT);
            rc = sqlite3_step(s) == SQLITE_ROW ? MK_OK : MK_ENOTFOUND;
            sqlite3_reset(s);
        }
    }
    if (rc == MK_OK) {
        const struct obs_kind *k =
            obs_kind_find(json_string_value(json_object_get(before, "code")));
        json_t *values = json_object_get(before, "values");
        struct obs_values v;
        memset(&v, 0, sizeof v);
        for (int i = 0; k && i < k->ncomp; i++) {
            json_t *x = json_object_get(values, k->comp[i]);
            v.present[i] = x != NULL;
            v.v[i] = json_number_value(x);
        }
        rc = k ? obs_insert(st, a, visit_id, k, &v,
                            json_string_value(json_object_get(before, "device")), id, oid)
               : MK_EINVAL;
    }
    if (rc == MK_OK) {
        sqlite3_stmt *s = store_stmt(st, "UPDATE device_reading SET state = 'attached', note = "
                                         "NULL, visit_id = ?, observation_id = ?, assigned_at = "
                                         "?, assigned_by = ? WHERE id = ?");
        rc = s ? MK_OK : MK_EDB;
        if (s) {
            util_now_iso(now);
            sqlite3_bind_text(s, 1, visit_id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 2, oid, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 3, now, -1, SQLITE_STATIC);
            store_bind_opt(s, 4, a->staff_id);
            sqlite3_bind_text(s, 5, id, -1, SQLITE_TRANSIENT);
            rc = store_err(st, sqlite3_step(s), "assign reading");
            sqlite3_reset(s);
        }
    }
    if (rc == MK_OK)
        rc = store_reading_get(st, id, &after);
    if (rc == MK_OK)
        rc = store_audit(st, a, "update", "device_reading", id, before, after);
    if (rc == MK_OK)
        rc = store_commit(st);
    store_rollback(st);
    json_decref(before);
    if (rc == MK_OK)
        *out = after;
    else
        json_decref(after);
    return rc;
}
