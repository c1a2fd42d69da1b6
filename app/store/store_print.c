/* Printers and the print queue. */
#include "store_int.h"

#include "../common/err.h"
#include "../common/util.h"

#include <stdlib.h>
#include <string.h>

/* What a printer can be chosen for when a job names no printer. */
static const char *const kinds_all[] = {"ticket", "wristband", "slip", "test"};
/* What a job can be: those, and the kit's "ready" slip (schema 10), which goes to the ticket
 * printer and is never a printer's kind of its own. */
static const char *const job_kinds[] = {"ticket", "wristband", "slip", "test", "ready"};

bool store_printer_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return true;
}

static bool in_list(const char *const *list, size_t count, const char *k, size_t n)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(list[i]) == n && !memcmp(list[i], k, n))
            return true;
    return false;
}

static bool kind_valid(const char *k, size_t n)
{
    return in_list(kinds_all, sizeof kinds_all / sizeof kinds_all[0], k, n);
}

static bool job_kind_valid(const char *k)
{
    return in_list(job_kinds, sizeof job_kinds / sizeof job_kinds[0], k, strlen(k));
}

bool store_printer_kinds_valid(const char *kinds)
{
    if (!kinds || !*kinds || strlen(kinds) > 64)
        return false;
    for (const char *p = kinds;;) {
        size_t n = strcspn(p, ",");
        if (!kind_valid(p, n))
            return false;
        if (!p[n])
            return true;
        p += n + 1;
    }
}

#define PRINTER_SELECT                                                                      \
    "SELECT name, profile, uri, kinds, enabled, state, last_error, state_at, created_at, "  \
    "(SELECT count(*) FROM print_job j WHERE j.printer = p.name AND j.state IN ('queued', " \
    "'sending')) AS queued FROM printer p "

static json_t *printer_fix(json_t *p)
{
    if (p)
        json_object_set_new(p, "enabled",
                            json_boolean(json_integer_value(json_object_get(p, "enabled"))));
    return p;
}

int store_printer_get(struct store *st, const char *name, json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, PRINTER_SELECT "WHERE name = ?");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    int rc = store_one_row(st, s, out);
    if (rc == MK_OK)
        printer_fix(*out);
    return rc;
}

int store_printer_list(struct store *st, json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, PRINTER_SELECT "ORDER BY name");
    if (!s)
        return MK_EDB;
    int rc = store_query_rows(st, s, out);
    if (rc == MK_OK) {
        size_t i;
        json_t *p;
        json_array_foreach(*out, i, p) printer_fix(p);
    }
    return rc;
}

int store_printer_add(struct store *st, const struct actor *a, const struct printer_in *p,
                      json_t **out)
{
    char now[32];
    if (!store_printer_name_valid(p->name) || !p->profile || !p->profile[0] || !p->uri ||
        !p->uri[0] || strlen(p->uri) > 500 || strlen(p->profile) > 40 ||
        !store_printer_kinds_valid(p->kinds))
        return MK_EINVAL;
    sqlite3_stmt *s = store_stmt(st, "INSERT INTO printer(name, profile, uri, kinds, created_at, "
                                     "created_by) VALUES (?,?,?,?,?,?)");
    if (!s)
        return MK_EDB;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    util_now_iso(now);
    sqlite3_bind_text(s, 1, p->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, p->profile, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, p->uri, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, p->kinds, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 5, now, -1, SQLITE_TRANSIENT);
    store_bind_opt(s, 6, a->staff_id);
    int step = sqlite3_step(s);
    sqlite3_reset(s);
    if (step == SQLITE_CONSTRAINT_PRIMARYKEY) {
        store_rollback(st);
        return MK_EEXIST;
    }
    rc = store_err(st, step, "insert printer");
    json_t *created = NULL;
    if (rc == MK_OK)
        rc = store_printer_get(st, p->name, &created);
    if (rc == MK_OK)
        rc = store_audit(st, a, "create", "printer", p->name, NULL, created);
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

int store_printer_update(struct store *st, const struct actor *a, const char *name, const char *uri,
                         const char *kinds, int enabled, json_t **out)
{
    if ((uri && (!uri[0] || strlen(uri) > 500)) || (kinds && !store_printer_kinds_valid(kinds)))
        return MK_EINVAL;
    sqlite3_stmt *s = store_stmt(st, "UPDATE printer SET uri = coalesce(?, uri), "
                                     "kinds = coalesce(?, kinds), enabled = coalesce(?, enabled) "
                                     "WHERE name = ?");
    if (!s)
        return MK_EDB;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    json_t *before = NULL, *after = NULL;
    rc = store_printer_get(st, name, &before);
    if (rc == MK_OK) {
        store_bind_opt(s, 1, uri);
        store_bind_opt(s, 2, kinds);
        if (enabled >= 0)
            sqlite3_bind_int(s, 3, enabled ? 1 : 0);
        sqlite3_bind_text(s, 4, name, -1, SQLITE_TRANSIENT);
        int step = sqlite3_step(s);
        sqlite3_reset(s);
        rc = store_err(st, step, "update printer");
    }
    if (rc == MK_OK)
        rc = store_printer_get(st, name, &after);
    if (rc == MK_OK)
        rc = store_audit(st, a, "update", "printer", name, before, after);
    if (rc == MK_OK)
        rc = store_commit(st);
    json_decref(before);
    if (rc != MK_OK) {
        store_rollback(st);
        json_decref(after);
        return rc;
    }
    *out = after;
    return MK_OK;
}

int store_printer_for(struct store *st, const char *kind, char name[64])
{
    /* kinds is a short comma list: match the whole item. */
    sqlite3_stmt *s = store_stmt(st, "SELECT name FROM printer WHERE enabled AND "
                                     "instr(',' || kinds || ',', ',' || ? || ',') > 0 "
                                     "ORDER BY name LIMIT 1");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, kind, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(s);
    int rc = MK_ENOTFOUND;
    if (step == SQLITE_ROW) {
        snprintf(name, 64, "%s", (const char *)sqlite3_column_text(s, 0));
        rc = MK_OK;
    } else if (step != SQLITE_DONE) {
        rc = store_err(st, step, "printer for kind");
    }
    sqlite3_reset(s);
    return rc;
}

/* One statement in its own transaction, without an audit row (the spool's bookkeeping). */
static int exec_one(struct store *st, sqlite3_stmt *s, const char *what)
{
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    int step = sqlite3_step(s);
    sqlite3_reset(s);
    rc = store_err(st, step, what);
    if (rc == MK_OK && sqlite3_changes(st->db) == 0)
        rc = MK_ENOTFOUND;
    if (rc == MK_OK)
        return store_commit(st);
    store_rollback(st);
    return rc;
}

int store_printer_set_state(struct store *st, const char *name, const char *state,
                            const char *error)
{
    char now[32];
    sqlite3_stmt *s = store_stmt(st, "UPDATE printer SET state = ?, last_error = ?, state_at = ? "
                                     "WHERE name = ?");
    if (!s)
        return MK_EDB;
    util_now_iso(now);
    sqlite3_bind_text(s, 1, state, -1, SQLITE_TRANSIENT);
    store_bind_opt(s, 2, error);
    sqlite3_bind_text(s, 3, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, name, -1, SQLITE_TRANSIENT);
    return exec_one(st, s, "printer state");
}

/* ---- jobs ---- */

#define JOB_SELECT                                                                             \
    "SELECT j.id, j.seq, j.printer, j.kind, p.code AS patient, j.patient_id, j.visit_id, "     \
    "j.state, j.attempts, j.last_error, j.reprint_of, length(j.data) AS bytes, j.created_at, " \
    "j.created_by, j.done_at FROM print_job j LEFT JOIN patient p ON p.id = j.patient_id "

int store_job_get(struct store *st, const char *id, json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, JOB_SELECT "WHERE j.id = ?");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    return store_one_row(st, s, out);
}

int store_job_list(struct store *st, const char *printer, const char *visit_id, int limit,
                   json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, JOB_SELECT "WHERE (?1 IS NULL OR j.printer = ?1) AND "
                                                "(?2 IS NULL OR j.visit_id = ?2) "
                                                "ORDER BY j.seq DESC LIMIT ?3");
    if (!s)
        return MK_EDB;
    store_bind_opt(s, 1, printer);
    store_bind_opt(s, 2, visit_id);
    sqlite3_bind_int(s, 3, limit < 1 ? 1 : limit > 500 ? 500 : limit);
    return store_query_rows(st, s, out);
}

static int job_insert(struct store *st, const struct actor *a, const struct job_in *j,
                      char id[UUID_LEN + 1])
{
    char now[32];
    sqlite3_stmt *s = store_stmt(st, "INSERT INTO print_job(id, printer, kind, patient_id, "
                                     "visit_id, data, state, reprint_of, created_at, created_by) "
                                     "VALUES (?,?,?,?,?,?,'queued',?,?,?)");
    if (!s)
        return MK_EDB;
    util_uuid7(id);
    util_now_iso(now);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, j->printer, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, j->kind, -1, SQLITE_TRANSIENT);
    store_bind_opt(s, 4, j->patient_id);
    store_bind_opt(s, 5, j->visit_id);
    sqlite3_bind_blob(s, 6, j->data, (int)j->len, SQLITE_TRANSIENT);
    store_bind_opt(s, 7, j->reprint_of);
    sqlite3_bind_text(s, 8, now, -1, SQLITE_TRANSIENT);
    store_bind_opt(s, 9, a->staff_id);
    int step = sqlite3_step(s);
    sqlite3_reset(s);
    if ((step & 0xff) == SQLITE_CONSTRAINT)
        return MK_ENOTFOUND; /* the printer (or patient, visit) does not exist */
    return store_err(st, step, "insert print job");
}

static int job_create(struct store *st, const struct actor *a, const struct job_in *j,
                      const char *action, json_t **out)
{
    char id[UUID_LEN + 1];
    if (!j->printer || !j->kind || !job_kind_valid(j->kind) || !j->data || j->len == 0 ||
        j->len > 4 * 1024 * 1024)
        return MK_EINVAL;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    json_t *created = NULL;
    rc = job_insert(st, a, j, id);
    if (rc == MK_OK)
        rc = store_job_get(st, id, &created);
    if (rc == MK_OK)
        rc = store_audit(st, a, action, "print_job", id, NULL, created);
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

int store_job_create(struct store *st, const struct actor *a, const struct job_in *j, json_t **out)
{
    return job_create(st, a, j, "create", out);
}

int store_job_next(struct store *st, const char *printer, struct job *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = store_stmt(st, "SELECT id, kind, state, attempts, data, seq FROM print_job "
                                     "WHERE printer = ? AND state IN ('queued', 'sending') "
                                     "ORDER BY seq LIMIT 1");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, printer, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(s), rc = MK_OK;
    if (step == SQLITE_ROW) {
        snprintf(out->id, sizeof out->id, "%s", (const char *)sqlite3_column_text(s, 0));
        snprintf(out->kind, sizeof out->kind, "%s", (const char *)sqlite3_column_text(s, 1));
        snprintf(out->state, sizeof out->state, "%s", (const char *)sqlite3_column_text(s, 2));
        out->attempts = sqlite3_column_int(s, 3);
        out->seq = sqlite3_column_int64(s, 5);
        out->len = (size_t)sqlite3_column_bytes(s, 4);
        out->data = malloc(out->len ? out->len : 1);
        if (!out->data)
            rc = MK_ENOMEM;
        else if (out->len)
            memcpy(out->data, sqlite3_column_blob(s, 4), out->len);
    } else {
        rc = step == SQLITE_DONE ? MK_ENOTFOUND : store_err(st, step, "next print job");
    }
    sqlite3_reset(s);
    return rc;
}

int store_job_mark(struct store *st, const char *id, const char *state, const char *error)
{
    char now[32];
    util_now_iso(now);
    sqlite3_stmt *s =
        store_stmt(st, "UPDATE print_job SET state = ?1, last_error = ?2, "
                       "attempts = attempts + (?1 = 'sending'), "
                       "done_at = CASE WHEN ?1 IN ('done', 'failed') THEN ?3 ELSE done_at END "
                       "WHERE id = ?4 AND state IN ('queued', 'sending')");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, state, -1, SQLITE_TRANSIENT);
    store_bind_opt(s, 2, error);
    sqlite3_bind_text(s, 3, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, id, -1, SQLITE_TRANSIENT);
    return exec_one(st, s, "print job state");
}

int store_job_requeue_interrupted(struct store *st, const char *printer, int *count)
{
    *count = 0;
    sqlite3_stmt *s = store_stmt(st, "UPDATE print_job SET state = 'queued', last_error = "
                                     "'interrupted: mokitd stopped while sending it' "
                                     "WHERE printer = ? AND state = 'sending'");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, printer, -1, SQLITE_TRANSIENT);
    int rc = exec_one(st, s, "requeue interrupted jobs");
    if (rc == MK_OK)
        *count = sqlite3_changes(st->db);
    return rc == MK_ENOTFOUND ? MK_OK : rc;
}

int store_job_reprint(struct store *st, const struct actor *a, const char *id, json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT printer, kind, patient_id, visit_id, data "
                                     "FROM print_job WHERE id = ?");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(s);
    if (step != SQLITE_ROW) {
        sqlite3_reset(s);
        return step == SQLITE_DONE ? MK_ENOTFOUND : store_err(st, step, "print job");
    }
    char printer[64], kind[16], patient[40] = "", visit[40] = "";
    snprintf(printer, sizeof printer, "%s", (const char *)sqlite3_column_text(s, 0));
    snprintf(kind, sizeof kind, "%s", (const char *)sqlite3_column_text(s, 1));
    if (sqlite3_column_type(s, 2) == SQLITE_TEXT)
        snprintf(patient, sizeof patient, "%s", (const char *)sqlite3_column_text(s, 2));
    if (sqlite3_column_type(s, 3) == SQLITE_TEXT)
        snprintf(visit, sizeof visit, "%s", (const char *)sqlite3_column_text(s, 3));
    size_t len = (size_t)sqlite3_column_bytes(s, 4);
    void *data = malloc(len ? len : 1);
    if (data && len)
        memcpy(data, sqlite3_column_blob(s, 4), len);
    sqlite3_reset(s);
    if (!data)
        return MK_ENOMEM;
    struct job_in j = {.printer = printer,
                       .kind = kind,
                       .patient_id = patient,
                       .visit_id = visit,
                       .reprint_of = id,
                       .data = data,
                       .len = len};
    int rc = job_create(st, a, &j, "reprint", out);
    free(data);
    return rc;
}

int store_job_cancel(struct store *st, const struct actor *a, const char *id, json_t **out)
{
    json_t *before = NULL, *after = NULL;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    rc = store_job_get(st, id, &before);
    if (rc == MK_OK) {
        const char *state = json_string_value(json_object_get(before, "state"));
        rc = strcmp(state, "sending") == 0  ? MK_EBUSY
             : strcmp(state, "queued") != 0 ? MK_EINVAL
                                            : MK_OK;
    }
    if (rc == MK_OK) {
        sqlite3_stmt *s = store_stmt(st, "UPDATE print_job SET state = 'cancelled' WHERE id = ? "
                                         "AND state = 'queued'");
        if (!s) {
            rc = MK_EDB;
        } else {
            sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
            int step = sqlite3_step(s);
            sqlite3_reset(s);
            rc = store_err(st, step, "cancel print job");
        }
    }
    if (rc == MK_OK)
        rc = store_job_get(st, id, &after);
    if (rc == MK_OK)
        rc = store_audit(st, a, "cancel", "print_job", id, before, after);
    if (rc == MK_OK)
        rc = store_commit(st);
    if (rc != MK_OK) {
        store_rollback(st);
        json_decref(before);
        json_decref(after);
        return rc;
    }
    json_decref(before);
    *out = after;
    return MK_OK;
}
