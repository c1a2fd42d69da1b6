#include "api.h"

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../domain/cccd.h"
#include "../domain/code.h"
#include "../domain/guard.h"
#include "../domain/role.h"
#include "../panel/panel.h"
#include "../print/jobs.h"
#include "api_export.h"
#include "api_int.h"
#include "body.h"
#include "web.h"
#include "fw_device.h"
#include "fw_printer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* ---- responses ---- */

/* The request being answered (one HTTP thread answers them one at a time): a write with an
 * Idempotency-Key has its answer kept as it is sent. */
static struct ctx *answering;

/* Sends text (stolen); header/value add one more header (Set-Cookie, Allow, Retry-After). */
static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, char *text,
                                 const char *type, const char *header, const char *value)
{
    struct ctx *c = answering;
    /* Kept: what a resend must get again. Not kept: a refused login (401), a wait (429), a
     * failure of the kit (5xx): those may go otherwise the next time. */
    if (c && c->conn == conn && c->idem_key && c->actor.staff_id && status < 500 && status != 401 &&
        status != 429 &&
        store_request_key_put(c->api->st, c->idem_key, c->actor.staff_id, c->method, c->url,
                              (int)status, text) != MK_OK)
        LOG(LOG_WARN, "cannot keep the answer to a request key (the disk may be full)");
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (header)
        MHD_add_response_header(r, header, value);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Sends body (stolen) as JSON, with one optional extra header. */
enum MHD_Result send_json_header(struct MHD_Connection *conn, unsigned status, json_t *body,
                                 const char *header, const char *value)
{
    /* 15 digits: 65.3 kg reads 65.3, not 65.299999999999997 */
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(body);
    if (!text)
        return MHD_NO;
    return send_text(conn, status, text, "application/json; charset=utf-8", header, value);
}

enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, json_t *body)
{
    return send_json_header(conn, status, body, NULL, NULL);
}

/* An error body; extra_key/extra (stolen) add e.g. "patient" or "candidates". */
enum MHD_Result send_error_extra(struct MHD_Connection *conn, unsigned status, const char *code,
                                 const char *message, const char *field, const char *extra_key,
                                 json_t *extra)
{
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (e && field)
        json_object_set_new(e, "field", json_string(field));
    json_t *body = json_pack("{s:o}", "error", e);
    if (body && extra_key && extra)
        json_object_set_new(body, extra_key, extra);
    else
        json_decref(extra);
    return send_json(conn, status, body);
}

enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *code,
                           const char *message)
{
    return send_error_extra(conn, status, code, message, NULL, NULL, NULL);
}

static unsigned body_err_status(const char *code)
{
    if (strcmp(code, "out_of_range") == 0)
        return 422;
    if (strcmp(code, "too_large") == 0)
        return 413;
    if (strcmp(code, "internal") == 0)
        return 500;
    return 400;
}

enum MHD_Result send_body_error(struct MHD_Connection *conn, const struct body_err *e)
{
    return send_error_extra(conn, body_err_status(e->code), e->code, e->message, e->field, NULL,
                            NULL);
}

/* Maps a store error that no handler expects to a response. */
enum MHD_Result send_store_error(struct MHD_Connection *conn, int rc)
{
    switch (rc) {
    case MK_ENOTFOUND:
        return send_error(conn, 404, "not_found", "no such record");
    case MK_ENOSPC:
        return send_error(conn, 507, "storage_full",
                          "the kit's disk is full; nothing was written. Free space and retry");
    case MK_EBUSY:
        return send_error(conn, 503, "busy", "the database is busy; retry in a moment");
    case MK_EINVAL:
        return send_error(conn, 400, "invalid", mk_strerror(rc));
    default:
        LOG(LOG_ERROR, "request failed: %s", mk_strerror(rc));
        return send_error(conn, 500, "internal", mk_strerror(rc));
    }
}

/* ---- authentication ---- */

static const char *bearer_token(struct MHD_Connection *conn)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (h && strncasecmp(h, "Bearer ", 7) == 0)
        return h + 7;
    return MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "mokit_session");
}

/* 0 when a staff member with every permission in need is logged in; otherwise a response has
 * been queued and *ret holds its result. */
int require(struct ctx *c, unsigned need, enum MHD_Result *ret)
{
    const char *token = bearer_token(c->conn);
    if (!token) {
        *ret = send_error(c->conn, 401, "unauthorized", "log in first: no session token");
        return -1;
    }
    int rc = store_session_get(c->api->st, token, c->api->idle_seconds, &c->staff);
    if (rc == MK_EAUTH) {
        *ret = send_error(c->conn, 401, "unauthorized", "the session is unknown or expired");
        return -1;
    }
    if (rc != MK_OK) {
        *ret = send_store_error(c->conn, rc);
        return -1;
    }
    const char *role = json_string_value(json_object_get(c->staff, "role"));
    if ((role_perms(role) & need) != need) {
        *ret = send_error(c->conn, 403, "forbidden", "your role may not do this");
        return -1;
    }
    c->actor.staff_id = json_string_value(json_object_get(c->staff, "id"));
    snprintf(c->actor_label, sizeof c->actor_label, "staff:%s", c->actor.staff_id);
    c->actor.label = c->actor_label;
    return 0;
}

static void peer_address(struct MHD_Connection *conn, char out[INET6_ADDRSTRLEN])
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    strcpy(out, "?");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, INET6_ADDRSTRLEN);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, INET6_ADDRSTRLEN);
}

static enum MHD_Result login(struct ctx *c, json_t *obj)
{
    struct body_err err;
    const char *pin, *staff_id;
    char addr[INET6_ADDRSTRLEN], retry[16];
    if (body_opt_string(obj, "pin", &pin, &err) != MK_OK ||
        body_opt_string(obj, "staff", &staff_id, &err) != MK_OK)
        return send_body_error(c->conn, &err);
    if (!pin)
        return send_error_extra(c->conn, 400, "invalid", "pin is required", "pin", NULL, NULL);

    peer_address(c->conn, addr);
    double now = util_monotonic();
    double wait = guard_wait(&c->api->guard, addr, now);
    if (wait > 0) {
        snprintf(retry, sizeof retry, "%d", (int)ceil(wait));
        json_t *body = json_pack("{s:{s:s, s:s}}", "error", "code", "too_many_attempts", "message",
                                 "too many wrong PINs: wait and try again");
        return send_json_header(c->conn, 429, body, MHD_HTTP_HEADER_RETRY_AFTER, retry);
    }

    json_t *staff;
    int rc = store_staff_login(c->api->st, pin, staff_id, &staff);
    if (rc == MK_EAUTH) {
        int n = guard_failure(&c->api->guard, addr, now);
        LOG(LOG_WARN, "wrong PIN from %s (%d recently)", addr, n);
        return send_error(c->conn, 401, "wrong_pin", "wrong PIN");
    }
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);

    char token[65], cookie[160], label[64];
    const char *sid = json_string_value(json_object_get(staff, "id"));
    snprintf(label, sizeof label, "staff:%s", sid);
    struct actor who = {sid, label};
    rc = store_session_create(c->api->st, &who, c->api->session_seconds, token);
    if (rc != MK_OK) {
        json_decref(staff);
        return send_store_error(c->conn, rc);
    }
    snprintf(cookie, sizeof cookie,
             "mokit_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d", token,
             c->api->session_seconds);
    LOG(LOG_INFO, "staff %s logged in from %s", sid, addr);
    return send_json_header(c->conn, 200,
                            json_pack("{s:s, s:i, s:i, s:o}", "token", token, "expires_in",
                                      c->api->session_seconds, "idle_timeout", c->api->idle_seconds,
                                      "staff", staff),
                            MHD_HTTP_HEADER_SET_COOKIE, cookie);
}

/* ---- handlers ---- */

static enum MHD_Result health(struct ctx *c)
{
    return send_json(c->conn, 200,
                     json_pack("{s:s, s:s, s:s}", "status", "ok", "version", MOKIT_VERSION, "kit",
                               store_kit_id(c->api->st)));
}

static json_t *status_json(struct store *st, struct devices *devs, struct panel *panel)
{
    json_t *campaign = NULL, *counts = NULL;
    if (store_campaign_current(st, &campaign) != MK_OK)
        campaign = json_null();
    if (store_stats(st, &counts) != MK_OK)
        counts = json_null();
    /* Which printer needs attention: names and states only. */
    json_t *printers = json_array(), *list = NULL, *p;
    size_t i;
    if (store_printer_list(st, &list) == MK_OK) {
        json_array_foreach(list, i, p)
        {
            json_array_append_new(printers, json_pack("{s:O, s:O, s:O, s:O, s:O}", "name",
                                                      json_object_get(p, "name"), "enabled",
                                                      json_object_get(p, "enabled"), "state",
                                                      json_object_get(p, "state"), "last_error",
                                                      json_object_get(p, "last_error"), "queued",
                                                      json_object_get(p, "queued")));
        }
    }
    json_decref(list);
    /* Which device needs attention: what it is and its state, nothing of patients. */
    json_t *devices = json_array(), *all = devices_list(devs), *d;
    json_array_foreach(all, i, d)
    {
        json_array_append_new(
            devices,
            json_pack("{s:O, s:O, s:O, s:O, s:O}", "id", json_object_get(d, "id"), "driver",
                      json_object_get(d, "driver"), "model", json_object_get(d, "model"), "state",
                      json_object_get(d, "state"), "message", json_object_get(d, "message")));
    }
    json_decref(all);
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "version", MOKIT_VERSION, "kit",
                     store_kit_id(st), "campaign", campaign, "counts", counts, "printers", printers,
                     "devices", devices, "panel", panel_status(panel));
}

static void html_escaped(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* The page at /: what a technician checks first. No personal data, like /api/v1/status. */
static enum MHD_Result status_page(struct ctx *c)
{
    static const char *const rows[][2] = {{"patients", "Người dân đã đăng ký / residents"},
                                          {"visits_today", "Lượt khám hôm nay / visits today"},
                                          {"observations", "Chỉ số đã đo / readings"},
                                          {"staff", "Nhân viên / staff"}};
    char *html = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&html, &size);
    if (!f)
        return MHD_NO;
    json_t *s = status_json(c->api->st, c->api->devices, c->api->panel);
    json_t *camp = json_object_get(s, "campaign"), *counts = json_object_get(s, "counts");
    fputs("<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
          "<title>mokit</title><style>body{font-family:sans-serif;margin:1.5em;max-width:40em}"
          "td{padding:.3em 1em .3em 0}h1{font-size:1.4em}</style></head><body>"
          "<h1>mokit &mdash; bộ công cụ khám sàng lọc lưu động</h1><table>",
          f);
    fprintf(f, "<tr><td>Phiên bản / version</td><td>%s</td></tr><tr><td>Kit</td><td>",
            MOKIT_VERSION);
    html_escaped(f, store_kit_id(c->api->st));
    fputs("</td></tr><tr><td>Đợt khám / campaign</td><td>", f);
    if (json_is_object(camp)) {
        html_escaped(f, json_string_value(json_object_get(camp, "name")));
        fputs(" (", f);
        html_escaped(f, json_string_value(json_object_get(camp, "code")));
        fputs(")", f);
    } else {
        fputs("&mdash;", f);
    }
    fputs("</td></tr>", f);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        fprintf(f, "<tr><td>%s</td><td>%lld</td></tr>", rows[i][1],
                (long long)json_integer_value(json_object_get(counts, rows[i][0])));
    fputs("</table><h2>Máy in / printers</h2><table>", f);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(s, "printers"), i, p)
    {
        fputs("<tr><td>", f);
        html_escaped(f, json_string_value(json_object_get(p, "name")));
        fputs("</td><td>", f);
        html_escaped(f, json_string_value(json_object_get(p, "state")));
        fprintf(f, "</td><td>%lld</td><td>",
                (long long)json_integer_value(json_object_get(p, "queued")));
        html_escaped(f, json_string_value(json_object_get(p, "last_error")));
        fputs("</td></tr>", f);
    }
    fputs("</table><h2>Thiết bị / devices</h2><table>", f);
    json_array_foreach(json_object_get(s, "devices"), i, p)
    {
        static const char *const keys[] = {"id", "driver", "model", "state", "message"};
        fputs("<tr>", f);
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            fputs("<td>", f);
            html_escaped(f, json_string_value(json_object_get(p, keys[k])));
            fputs("</td>", f);
        }
        fputs("</tr>", f);
    }
    fputs("</table><p>API: <a href=\"/api/v1/health\">/api/v1/health</a></p></body></html>", f);
    json_decref(s);
    if (fclose(f) != 0) {
        free(html);
        return MHD_NO;
    }
    return send_text(c->conn, 200, html, "text/html; charset=utf-8", NULL, NULL);
}

int current_campaign_id(struct ctx *c, const char *code, char out[64], enum MHD_Result *ret)
{
    int rc = store_campaign_id(c->api->st, code, out);
    if (rc == MK_ENOTFOUND) {
        *ret = code ? send_error_extra(c->conn, 404, "not_found", "no such campaign", "campaign",
                                       NULL, NULL)
                    : send_error(c->conn, 409, "no_campaign",
                                 "no current campaign: a lead must create one first");
        return -1;
    }
    if (rc != MK_OK) {
        *ret = send_store_error(c->conn, rc);
        return -1;
    }
    return 0;
}

/* Registration asked to print: the ticket needs today's visit (its queue number), so the
 * visit is opened first. The resident is registered whatever happens here: a printing
 * problem is reported in "print" for the registrar to retry, never by losing the
 * registration. */
static void register_print(struct ctx *c, json_t *patient, const char *campaign_id,
                           const char *const kinds[], int n, const char *station)
{
    const char *code = json_string_value(json_object_get(patient, "code"));
    json_t *results = json_array();
    for (int i = 0; i < n; i++) {
        int rc;
        if (!strcmp(kinds[i], "ticket") && !json_object_get(patient, "visit")) {
            json_t *v;
            rc = store_visit_create(c->api->st, &c->actor, code, campaign_id, &v);
            if (rc == MK_OK || rc == MK_EEXIST) {
                json_object_set_new(patient, "visit", v);
            } else {
                json_array_append_new(results, json_pack("{s:s, s:{s:s, s:s}}", "kind", kinds[i],
                                                         "error", "code", "internal", "message",
                                                         "the visit could not be opened"));
                continue;
            }
        }
        struct print_req r = {.kind = kinds[i], .patient = code, .station = station};
        json_array_append_new(results, print_one(c, &r, &rc));
    }
    json_object_set_new(patient, "print", results);
}

static enum MHD_Result patients_post(struct ctx *c, json_t *obj)
{
    struct patient_body b;
    struct body_err err;
    struct date today;
    char day[11], campaign_id[64];
    enum MHD_Result ret;
    util_today(day);
    date_parse(day, &today);
    if (body_patient(obj, &today, &b, &err) != MK_OK)
        return send_body_error(c->conn, &err);
    if (current_campaign_id(c, b.campaign, campaign_id, &ret) != 0) {
        body_patient_free(&b);
        return ret;
    }
    const char *kinds[2], *station;
    int nprint;
    if (body_print_list(obj, kinds, &nprint, &err) != MK_OK ||
        body_opt_string(obj, "station", &station, &err) != MK_OK) {
        body_patient_free(&b);
        return send_body_error(c->conn, &err);
    }
    if (station && strlen(station) > 200) {
        body_patient_free(&b);
        return send_error_extra(c->conn, 400, "invalid", "station is longer than 200 bytes",
                                "station", NULL, NULL);
    }
    json_t *out;
    int rc = store_patient_register(c->api->st, &c->actor, &b.p, campaign_id, b.confirm_new, &out);
    body_patient_free(&b);
    switch (rc) {
    case MK_OK:
        LOG(LOG_INFO, "registered patient %s", json_string_value(json_object_get(out, "code")));
        if (nprint > 0)
            register_print(c, out, campaign_id, kinds, nprint, station);
        return send_json(c->conn, 201, out);
    case MK_EEXIST:
        return send_error_extra(c->conn, 409, "duplicate",
                                "a patient with this CCCD or BHYT number is already registered",
                                NULL, "patient", out);
    case MK_ELIKELY:
        return send_error_extra(c->conn, 409, "likely_duplicate",
                                "a patient with the same name, birth year and commune exists: "
                                "check the candidates, or send again with confirm_new",
                                NULL, "candidates", out);
    default:
        return send_store_error(c->conn, rc);
    }
}

static int parse_int_arg(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static enum MHD_Result patients_search(struct ctx *c)
{
    struct search_query q = {0};
    const char *year = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "birth_year");
    const char *limit = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "limit");
    q.q = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "q");
    q.village = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "village");
    q.limit = 20;
    if (year && parse_int_arg(year, 1900, 2100, &q.birth_year) != 0)
        return send_error_extra(c->conn, 400, "invalid", "birth_year must be a year 1900-2100",
                                "birth_year", NULL, NULL);
    if (limit && parse_int_arg(limit, 1, 100, &q.limit) != 0)
        return send_error_extra(c->conn, 400, "invalid", "limit must be 1-100", "limit", NULL,
                                NULL);
    if (q.village && !q.village[0])
        q.village = NULL;
    if ((!q.q || !q.q[0]) && !q.birth_year && !q.village)
        return send_error_extra(c->conn, 400, "invalid",
                                "give q (name, code or number), birth_year or village", "q", NULL,
                                NULL);
    if (q.q && strlen(q.q) > 200)
        return send_error_extra(c->conn, 400, "invalid", "q is longer than 200 bytes", "q", NULL,
                                NULL);
    json_t *res;
    int rc = store_patient_search(c->api->st, &q, &res);
    if (rc == MK_EINVAL)
        return send_error_extra(c->conn, 400, "invalid", "the query is not valid UTF-8 text", "q",
                                NULL, NULL);
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    return send_json(
        c->conn, 200,
        json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(res), "results", res));
}

int parse_code(struct ctx *c, const char *raw, char code[CODE_LEN + 1], enum MHD_Result *ret)
{
    int rc = code_parse(raw, code);
    if (rc == MK_OK)
        return 0;
    *ret = send_error_extra(c->conn, 400, "bad_code",
                            rc == MK_ECHECK
                                ? "the patient code's check character is wrong: re-scan or "
                                  "re-type it"
                                : "a patient code is 12 letters and digits",
                            "patient", NULL, NULL);
    return -1;
}

static enum MHD_Result patient_get(struct ctx *c, const char *raw)
{
    char code[CODE_LEN + 1];
    enum MHD_Result ret;
    if (parse_code(c, raw, code, &ret) != 0)
        return ret;
    json_t *p, *visits;
    int rc = store_patient_get(c->api->st, code, &p);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no patient has this code");
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    rc = store_patient_visits(c->api->st, json_string_value(json_object_get(p, "id")), &visits);
    if (rc != MK_OK) {
        json_decref(p);
        return send_store_error(c->conn, rc);
    }
    json_object_set_new(p, "visits", visits);
    return send_json(c->conn, 200, p);
}

static enum MHD_Result visits_post(struct ctx *c, json_t *obj)
{
    struct body_err err;
    const char *raw, *campaign;
    char code[CODE_LEN + 1], campaign_id[64];
    enum MHD_Result ret;
    if (body_opt_string(obj, "patient", &raw, &err) != MK_OK ||
        body_opt_string(obj, "campaign", &campaign, &err) != MK_OK)
        return send_body_error(c->conn, &err);
    if (!raw)
        return send_error_extra(c->conn, 400, "invalid", "patient (a patient code) is required",
                                "patient", NULL, NULL);
    if (parse_code(c, raw, code, &ret) != 0)
        return ret;
    if (current_campaign_id(c, campaign, campaign_id, &ret) != 0)
        return ret;
    json_t *v;
    int rc = store_visit_create(c->api->st, &c->actor, code, campaign_id, &v);
    if (rc == MK_OK)
        return send_json(c->conn, 201, v);
    if (rc == MK_EEXIST)
        return send_json(c->conn, 200, v);
    if (rc == MK_ENOTFOUND)
        return send_error_extra(c->conn, 404, "not_found", "no patient has this code", "patient",
                                NULL, NULL);
    return send_store_error(c->conn, rc);
}

static enum MHD_Result obs_post(struct ctx *c, const char *visit_id, json_t *obj)
{
    const struct obs_kind *k;
    struct obs_values v;
    const char *note;
    struct body_err err;
    if (body_obs(obj, &k, &v, &note, &err) != MK_OK)
        return send_body_error(c->conn, &err);
    json_t *o;
    int rc = store_obs_add(c->api->st, &c->actor, visit_id, k, &v, "manual", NULL, note, &o);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no such visit");
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    return send_json(c->conn, 201, o);
}

static enum MHD_Result cccd_post(struct ctx *c, json_t *obj)
{
    struct body_err err;
    const char *text;
    struct cccd card;
    char msg[200], birth[11], issued[11];
    if (body_opt_string(obj, "text", &text, &err) != MK_OK)
        return send_body_error(c->conn, &err);
    if (!text)
        return send_error_extra(c->conn, 400, "invalid", "text (the QR text) is required", "text",
                                NULL, NULL);
    int rc = cccd_parse(text, strlen(text), &card, msg, sizeof msg);
    if (rc == MK_ENOMEM)
        return send_store_error(c->conn, rc);
    if (rc != MK_OK)
        return send_error_extra(c->conn, 400, "invalid", msg, "text", NULL, NULL);
    date_format(&card.birth, birth);
    date_format(&card.issued, issued);
    json_t *out =
        json_pack("{s:s, s:s?, s:s, s:s, s:s, s:s, s:s}", "id", card.id, "old_id",
                  card.old_id[0] ? card.old_id : NULL, "name", card.name, "birth_date", birth,
                  "sex", sex_name(card.sex), "address", card.address, "issue_date", issued);
    cccd_free(&card);
    return send_json(c->conn, 200, out);
}

static enum MHD_Result campaigns_get(struct ctx *c)
{
    json_t *list, *cur = NULL;
    int rc = store_campaign_list(c->api->st, &list);
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    rc = store_campaign_current(c->api->st, &cur);
    if (rc != MK_OK && rc != MK_ENOTFOUND) {
        json_decref(list);
        return send_store_error(c->conn, rc);
    }
    json_t *body = json_pack("{s:o, s:O}", "campaigns", list, "current",
                             cur ? json_object_get(cur, "code") : json_null());
    json_decref(cur);
    return send_json(c->conn, 200, body);
}

static enum MHD_Result campaigns_post(struct ctx *c, json_t *obj)
{
    struct campaign_in in;
    struct body_err err;
    if (body_campaign(obj, &in, &err) != MK_OK)
        return send_body_error(c->conn, &err);
    json_t *out;
    int rc = store_campaign_create(c->api->st, &c->actor, &in, &out);
    if (rc == MK_EEXIST)
        return send_error_extra(c->conn, 409, "exists", "a campaign with this code exists", "code",
                                NULL, NULL);
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    return send_json(c->conn, 201, out);
}

static enum MHD_Result staff_post(struct ctx *c, json_t *obj)
{
    struct staff_body s;
    struct body_err err;
    if (body_staff(obj, &s, &err) != MK_OK)
        return send_body_error(c->conn, &err);
    json_t *out;
    int rc = store_staff_add(c->api->st, &c->actor, s.name, s.role, s.specialty, s.pin, &out);
    if (rc == MK_EEXIST)
        return send_error_extra(c->conn, 409, "pin_taken",
                                "another active staff member has this PIN: choose another", "pin",
                                NULL, NULL);
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    return send_json(c->conn, 201, out);
}

static enum MHD_Result list_response(struct ctx *c, const char *key, int rc, json_t *list)
{
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    return send_json(c->conn, 200, json_pack("{s:o}", key, list));
}

/* ---- printing ---- */

/* The error of print_enqueue() as a response. */
static enum MHD_Result send_print_error(struct ctx *c, int rc, const char *msg)
{
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", msg);
    if (rc == MK_EINVAL)
        return send_error(c->conn, 400, "invalid", msg);
    if (rc == MK_EBUSY)
        return send_error(c->conn, 409, "conflict", msg);
    if (rc == MK_EIO)
        return send_error(c->conn, 500, "internal", msg);
    return send_store_error(c->conn, rc);
}

int need_font(struct ctx *c, enum MHD_Result *ret)
{
    if (c->api->font)
        return 0;
    *ret = send_error(c->conn, 503, "unavailable",
                      "printing needs the DejaVu fonts (fonts-dejavu-core), which are missing");
    return -1;
}

/* Queues one item; the result or the error as JSON, for a list of results. */
json_t *print_one(struct ctx *c, const struct print_req *r, int *rc_out)
{
    char msg[300] = "";
    json_t *job = NULL;
    int rc = c->api->font
                 ? print_enqueue(c->api->st, &c->actor, c->api->font, r, &job, msg, sizeof msg)
                 : MK_EIO;
    if (!c->api->font)
        snprintf(msg, sizeof msg, "printing needs the DejaVu fonts, which are missing");
    *rc_out = rc;
    if (rc == MK_OK) {
        spool_kick(c->api->spool);
        LOG(LOG_INFO, "queued %s job %s on %s", r->kind,
            json_string_value(json_object_get(job, "id")),
            json_string_value(json_object_get(job, "printer")));
        return json_pack("{s:s, s:o}", "kind", r->kind, "job", job);
    }
    return json_pack("{s:s, s:{s:s, s:s}}", "kind", r->kind, "error", "code",
                     rc == MK_ENOTFOUND ? "not_found"
                     : rc == MK_EINVAL  ? "invalid"
                     : rc == MK_EBUSY   ? "conflict"
                                        : "internal",
                     "message", msg);
}

static enum MHD_Result print_jobs_post(struct ctx *c, json_t *obj)
{
    struct body_err err;
    const char *kind, *raw, *printer, *station;
    char code[CODE_LEN + 1], msg[300] = "";
    enum MHD_Result ret;
    const char *visit, *to, *reason, *urgency;
    if (body_opt_string(obj, "kind", &kind, &err) != MK_OK ||
        body_opt_string(obj, "patient", &raw, &err) != MK_OK ||
        body_opt_string(obj, "printer", &printer, &err) != MK_OK ||
        body_opt_string(obj, "station", &station, &err) != MK_OK ||
        body_opt_string(obj, "visit", &visit, &err) != MK_OK ||
        body_opt_string(obj, "to", &to, &err) != MK_OK ||
        body_opt_string(obj, "reason", &reason, &err) != MK_OK ||
        body_opt_string(obj, "urgency", &urgency, &err) != MK_OK)
        return send_body_error(c->conn, &err);
    if (!print_kind_valid(kind))
        return send_error_extra(c->conn, 400, "invalid",
                                "kind must be ticket, wristband, slip or test", "kind", NULL, NULL);
    bool slip = !strcmp(kind, "slip");
    if (slip) {
        const char *role = json_string_value(json_object_get(c->staff, "role"));
        if (!role || (strcmp(role, "doctor") != 0 && strcmp(role, "lead") != 0))
            return send_error(c->conn, 403, "forbidden", "a referral slip is a doctor's");
        const char *missing = !visit                  ? "visit"
                              : !to || !to[0]         ? "to"
                              : !reason || !reason[0] ? "reason"
                                                      : NULL;
        if (missing)
            return send_error_extra(c->conn, 400, "invalid",
                                    "a slip needs visit, to (where) and reason", missing, NULL,
                                    NULL);
        if ((to && strlen(to) > 300) || (reason && strlen(reason) > 300))
            return send_error_extra(c->conn, 400, "invalid", "to and reason are at most 300 bytes",
                                    strlen(to) > 300 ? "to" : "reason", NULL, NULL);
        if (urgency && strcmp(urgency, "routine") != 0 && strcmp(urgency, "soon") != 0 &&
            strcmp(urgency, "urgent") != 0)
            return send_error_extra(c->conn, 400, "invalid",
                                    "urgency must be routine, soon or urgent", "urgency", NULL,
                                    NULL);
    } else if (strcmp(kind, "test") != 0 && !raw) {
        return send_error_extra(c->conn, 400, "invalid", "patient (a patient code) is required",
                                "patient", NULL, NULL);
    }
    if (raw && !slip && parse_code(c, raw, code, &ret) != 0)
        return ret;
    if (station && strlen(station) > 200)
        return send_error_extra(c->conn, 400, "invalid", "station is longer than 200 bytes",
                                "station", NULL, NULL);
    if (need_font(c, &ret) != 0)
        return ret;
    struct print_req r = {.kind = kind,
                          .patient = raw && !slip ? code : NULL,
                          .printer = printer,
                          .station = station,
                          .visit = visit,
                          .destination = to,
                          .reason = reason,
                          .urgency = urgency,
                          .doctor = json_string_value(json_object_get(c->staff, "name"))};
    json_t *job;
    int rc = print_enqueue(c->api->st, &c->actor, c->api->font, &r, &job, msg, sizeof msg);
    if (rc != MK_OK)
        return send_print_error(c, rc, msg);
    spool_kick(c->api->spool);
    return send_json(c->conn, 201, job);
}

static enum MHD_Result print_jobs_get(struct ctx *c)
{
    const char *printer = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "printer");
    const char *visit = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "visit");
    const char *limit = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "limit");
    int n = 50;
    if (limit && parse_int_arg(limit, 1, 500, &n) != 0)
        return send_error_extra(c->conn, 400, "invalid", "limit must be 1-500", "limit", NULL,
                                NULL);
    json_t *list;
    int rc = store_job_list(c->api->st, printer && printer[0] ? printer : NULL,
                            visit && visit[0] ? visit : NULL, n, &list);
    return list_response(c, "jobs", rc, list);
}

static enum MHD_Result print_job_action(struct ctx *c, const char *id, const char *action)
{
    json_t *job;
    int rc = !strcmp(action, "reprint") ? store_job_reprint(c->api->st, &c->actor, id, &job)
                                        : store_job_cancel(c->api->st, &c->actor, id, &job);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no such print job");
    if (rc == MK_EBUSY)
        return send_error(c->conn, 409, "conflict",
                          "the job is being sent to the printer: it cannot be cancelled now");
    if (rc == MK_EINVAL)
        return send_error(c->conn, 409, "conflict", "the job has finished: reprint it instead");
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    spool_kick(c->api->spool);
    return send_json(c->conn, !strcmp(action, "reprint") ? 201 : 200, job);
}

static json_t *printer_with_profile(json_t *p)
{
    const struct fw_profile *prof =
        fw_profile_find(json_string_value(json_object_get(p, "profile")));
    if (prof) {
        json_object_set_new(p, "language",
                            json_string(prof->language == FW_LANG_ZPL ? "zpl" : "escpos"));
        json_object_set_new(p, "model", json_string(prof->model));
    }
    return p;
}

static enum MHD_Result printers_get(struct ctx *c)
{
    json_t *list, *p;
    size_t i;
    int rc = store_printer_list(c->api->st, &list);
    if (rc == MK_OK)
        json_array_foreach(list, i, p) printer_with_profile(p);
    return list_response(c, "printers", rc, list);
}

static enum MHD_Result printer_get(struct ctx *c, const char *name)
{
    json_t *p, *jobs;
    int rc = store_printer_get(c->api->st, name, &p);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no such printer");
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    rc = store_job_list(c->api->st, name, NULL, 20, &jobs);
    if (rc != MK_OK) {
        json_decref(p);
        return send_store_error(c->conn, rc);
    }
    json_object_set_new(p, "jobs", jobs);
    return send_json(c->conn, 200, printer_with_profile(p));
}

static enum MHD_Result printers_post(struct ctx *c, json_t *obj)
{
    struct printer_in in;
    struct body_err err;
    char kinds[80], msg[200];
    int enabled;
    if (body_printer(obj, false, &in, &enabled, kinds, &err) != MK_OK)
        return send_body_error(c->conn, &err);
    if (print_printer_check(in.profile, in.uri, msg, sizeof msg) != MK_OK)
        return send_error_extra(c->conn, 400, "invalid", msg,
                                fw_profile_find(in.profile) ? "uri" : "profile", NULL, NULL);
    json_t *p;
    int rc = store_printer_add(c->api->st, &c->actor, &in, &p);
    if (rc == MK_EEXIST)
        return send_error_extra(c->conn, 409, "exists", "a printer with this name exists", "name",
                                NULL, NULL);
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    spool_kick(c->api->spool);
    return send_json(c->conn, 201, printer_with_profile(p));
}

static enum MHD_Result printer_patch(struct ctx *c, const char *name, json_t *obj)
{
    struct printer_in in;
    struct body_err err;
    char kinds[80], msg[200];
    int enabled;
    if (body_printer(obj, true, &in, &enabled, kinds, &err) != MK_OK)
        return send_body_error(c->conn, &err);
    json_t *old, *p;
    int rc = store_printer_get(c->api->st, name, &old);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no such printer");
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    rc = in.uri ? print_printer_check(json_string_value(json_object_get(old, "profile")), in.uri,
                                      msg, sizeof msg)
                : MK_OK;
    json_decref(old);
    if (rc != MK_OK)
        return send_error_extra(c->conn, 400, "invalid", msg, "uri", NULL, NULL);
    rc = store_printer_update(c->api->st, &c->actor, name, in.uri, in.kinds, enabled, &p);
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    spool_kick(c->api->spool);
    return send_json(c->conn, 200, printer_with_profile(p));
}

/* ---- routing ---- */

bool is(const struct ctx *c, const char *method)
{
    return strcmp(c->method, method) == 0;
}

/* Parses the body into *obj for a POST; 0, or -1 with an error queued. */
int need_body(struct ctx *c, json_t **obj, enum MHD_Result *ret)
{
    struct body_err err;
    *obj = body_parse(c->body, c->len, &err);
    if (!*obj) {
        *ret = send_body_error(c->conn, &err);
        return -1;
    }
    return 0;
}

/* The methods a path takes ("GET", "POST", "GET, POST"), or NULL for an unknown path: the
 * difference between 405 (with Allow) and 404. */
static const char *allowed_methods(const struct ctx *c)
{
    static const struct {
        const char *path, *methods;
    } one[] = {{"health", "GET"},
               {"status", "GET"},
               {"login", "POST"},
               {"logout", "POST"},
               {"me", "GET"},
               {"campaigns", "GET, POST"},
               {"staff", "GET, POST"},
               {"patients", "GET, POST"},
               {"printers", "GET, POST"},
               {"print-jobs", "GET, POST"},
               {"events", "GET"},
               {"devices", "GET"},
               {"stations", "GET"},
               {"readings", "GET"}};
    const char *a = c->seg[0];
    if (c->nseg == 1) {
        for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
            if (strcmp(a, one[i].path) == 0)
                return one[i].methods;
        return NULL;
    }
    if (c->nseg == 2 && (strcmp(a, "patients") == 0 || strcmp(a, "print-jobs") == 0))
        return "GET";
    if (c->nseg == 2 && (strcmp(a, "printers") == 0 || strcmp(a, "stations") == 0))
        return "GET, PATCH";
    if (c->nseg == 2 && strcmp(a, "readings") == 0)
        return "GET";
    if (c->nseg == 3 && ((strcmp(a, "devices") == 0 && (strcmp(c->seg[2], "simulate") == 0 ||
                                                        strcmp(c->seg[2], "download") == 0)) ||
                         (strcmp(a, "stations") == 0 &&
                          (strcmp(c->seg[2], "current") == 0 || strcmp(c->seg[2], "scan") == 0)) ||
                         (strcmp(a, "readings") == 0 && strcmp(c->seg[2], "assign") == 0)))
        return "POST";
    if (c->nseg == 3 && strcmp(a, "print-jobs") == 0 &&
        (strcmp(c->seg[2], "reprint") == 0 || strcmp(c->seg[2], "cancel") == 0))
        return "POST";
    if (c->nseg == 2 && strcmp(a, "id") == 0 && strcmp(c->seg[1], "cccd") == 0)
        return "POST";
    if (c->nseg == 3 && strcmp(a, "visits") == 0 && strcmp(c->seg[2], "observations") == 0)
        return "POST";
    return NULL;
}

static enum MHD_Result not_allowed_or_found(struct ctx *c)
{
    const char *allow = allowed_methods(c);
    if (!allow)
        allow = clinic_allowed(c);
    if (!allow)
        return send_error(c->conn, 404, "not_found", "no such path");
    json_t *body = json_pack("{s:{s:s, s:s}}", "error", "code", "method_not_allowed", "message",
                             "this path does not take that method");
    return send_json_header(c->conn, 405, body, MHD_HTTP_HEADER_ALLOW, allow);
}

/* ---- devices, stations, readings, events ---- */

static void conn_suspend(void *conn)
{
    MHD_suspend_connection(conn);
}

static void conn_resume(void *conn)
{
    MHD_resume_connection(conn);
}

/* A client of the stream with the login it came with: that login is checked again at each
 * ping or event (every 2 s at most), without counting as a use, so a stream ends when its
 * login does (a logout, a deactivated staff member, a phone left idle). */
struct stream {
    struct events_client *cl;
    struct api *api;
    char token[65];
    time_t checked;
};

/* The stream's body: what the client has not seen; nothing yet suspends the connection
 * until the hub wakes it (a new event, a ping, the end). */
static ssize_t events_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *s = cls;
    (void)pos;
    time_t now = time(NULL);
    if (now - s->checked >= 2) { /* at most a query every 2 s per stream */
        s->checked = now;
        if (store_session_valid(s->api->st, s->token, s->api->idle_seconds) == MK_EAUTH)
            return (ssize_t)MHD_CONTENT_READER_END_OF_STREAM;
    }
    long n = events_client_read(s->cl, buf, max, conn_suspend);
    return n < 0 ? (ssize_t)MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void events_reader_free(void *cls)
{
    struct stream *s = cls;
    events_client_free(s->cl);
    sodium_memzero(s->token, sizeof s->token);
    free(s);
}

static enum MHD_Result events_get(struct ctx *c)
{
    if (!c->api->events)
        return send_error(c->conn, 503, "unavailable", "the event stream is not running");
    const char *last = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "Last-Event-ID");
    unsigned long long last_id = last ? strtoull(last, NULL, 10) : 0;
    const char *token = bearer_token(c->conn);
    struct stream *s = calloc(1, sizeof *s);
    if (!s)
        return send_error(c->conn, 500, "internal", "out of memory");
    s->api = c->api;
    s->checked = time(NULL);
    snprintf(s->token, sizeof s->token, "%s", token ? token : "");
    s->cl = events_client_new(c->api->events, last_id, conn_resume, c->conn);
    if (!s->cl) {
        free(s);
        return send_error(c->conn, 500, "internal", "out of memory");
    }
    struct MHD_Response *r = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, 4096, events_reader, s, events_reader_free);
    if (!r) {
        events_reader_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(c->conn, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result devices_simulate_post(struct ctx *c, const char *id, json_t *obj)
{
    json_t *code = json_object_get(obj, "code");
    if (code && !json_is_string(code))
        return send_error_extra(c->conn, 400, "invalid", "code must be a string", "code", NULL,
                                NULL);
    int rc = devices_simulate(c->api->devices, id, json_string_value(code));
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found",
                          "no such demo device (demo devices run only with mokitd --demo)");
    if (rc == MK_EINVAL)
        return send_error_extra(c->conn, 400, "invalid",
                                "a keyboard-mode scanner types upper-case letters and digits only",
                                "code", NULL, NULL);
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    return send_json(c->conn, 202, json_pack("{s:s}", "device", id));
}

/* POST /devices/{id}/download: a device's action; what it finds comes on the event stream. */
static enum MHD_Result devices_action_post(struct ctx *c, const char *id, const char *action)
{
    char err[160] = "";
    int rc = devices_action(c->api->devices, id, action, err, sizeof err);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", err);
    if (rc == MK_EINVAL)
        return send_error(c->conn, 409, "not_supported", err);
    if (rc == MK_EBUSY)
        return send_error(c->conn, 409, "busy", err);
    if (rc != MK_OK)
        return send_error(c->conn, 503, "device_error", err);
    if (store_audit_request(c->api->st, &c->actor, "device.download", "device", id) != MK_OK)
        LOG(LOG_WARN, "device %s: the download request was not audited", id);
    return send_json(c->conn, 202, json_pack("{s:s, s:s}", "device", id, "action", action));
}

static void publish(struct ctx *c, const char *type, json_t *data)
{
    if (c->api->events)
        events_publish(c->api->events, type, json_incref(data));
}

static enum MHD_Result station_get(struct ctx *c, const char *name)
{
    json_t *s;
    int rc = store_station_get(c->api->st, name, &s);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no such station");
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    return send_json(c->conn, 200, s);
}

static enum MHD_Result station_patch(struct ctx *c, const char *name, json_t *obj)
{
    json_t *devs = json_object_get(obj, "devices"), *def = json_object_get(obj, "default");
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (strcmp(key, "devices") != 0 && strcmp(key, "default") != 0)
            return send_error_extra(c->conn, 400, "invalid", "unknown field", key, NULL, NULL);
    }
    if (devs && !json_is_string(devs))
        return send_error_extra(c->conn, 400, "invalid",
                                "devices is a comma list of device ids, drivers or driver:serial",
                                "devices", NULL, NULL);
    if (def && !json_is_boolean(def))
        return send_error_extra(c->conn, 400, "invalid", "default is true or false", "default",
                                NULL, NULL);
    json_t *s;
    int rc = store_station_update(c->api->st, &c->actor, name, json_string_value(devs),
                                  def ? json_is_true(def) : -1, &s);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no such station");
    if (rc == MK_EINVAL)
        return send_error_extra(c->conn, 400, "invalid",
                                "devices: letters, digits and - _ : . separated by commas",
                                "devices", NULL, NULL);
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    publish(c, "station", s);
    return send_json(c->conn, 200, s);
}

/* POST /stations/{name}/current {"patient": CODE} | {"visit": ID} | {"visit": null}. */
static enum MHD_Result station_current_post(struct ctx *c, const char *name, json_t *obj)
{
    json_t *patient = json_object_get(obj, "patient"), *visit = json_object_get(obj, "visit");
    char visit_id[64] = "";
    if (patient) {
        char code[CODE_LEN + 1], campaign[64];
        if (!json_is_string(patient) || code_parse(json_string_value(patient), code) != MK_OK)
            return send_error_extra(c->conn, 400, "invalid", "not a patient code", "patient", NULL,
                                    NULL);
        int rc = store_campaign_id(c->api->st, NULL, campaign);
        json_t *v = NULL;
        if (rc == MK_OK)
            rc = store_visit_create(c->api->st, &c->actor, code, campaign, &v);
        if (rc == MK_ENOTFOUND)
            return send_error(c->conn, 404, "not_found", "no such patient, or no campaign");
        if (rc != MK_OK && rc != MK_EEXIST)
            return send_store_error(c->conn, rc);
        snprintf(visit_id, sizeof visit_id, "%s", json_string_value(json_object_get(v, "id")));
        json_decref(v);
    } else if (json_is_string(visit)) {
        snprintf(visit_id, sizeof visit_id, "%s", json_string_value(visit));
    } else if (!json_is_null(visit)) {
        return send_error(c->conn, 400, "invalid",
                          "give \"patient\" (a code), \"visit\" (an id) or \"visit\": null");
    }
    json_t *s;
    int rc =
        store_station_set_current(c->api->st, &c->actor, name, visit_id[0] ? visit_id : NULL, &s);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no such station or visit");
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    publish(c, "station", s);
    return send_json(c->conn, 200, s);
}

/* POST /stations/{name}/scan {"text": ...}: a scan made with a phone's camera, taken as a
 * scanner's would be. */
static enum MHD_Result station_scan_post(struct ctx *c, const char *name, json_t *obj)
{
    json_t *text = json_object_get(obj, "text");
    if (!json_is_string(text) || !json_string_length(text) ||
        json_string_length(text) > FW_SCAN_MAX)
        return send_error_extra(c->conn, 400, "invalid", "text: what was scanned (1-1024 bytes)",
                                "text", NULL, NULL);
    json_t *s;
    if (store_station_get(c->api->st, name, &s) != MK_OK)
        return send_error(c->conn, 404, "not_found", "no such station");
    json_decref(s);
    json_t *out = devices_scan_outcome(c->api->st, name, json_string_value(text));
    if (!out)
        return send_error(c->conn, 500, "internal", "out of memory");
    if (json_is_true(json_object_get(out, "accepted")) &&
        store_station_get(c->api->st, name, &s) == MK_OK) {
        publish(c, "station", s);
        json_decref(s);
    }
    publish(c, "scan", out);
    return send_json(c->conn, 200, out);
}

static enum MHD_Result readings_get(struct ctx *c)
{
    const char *state = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "state");
    const char *station = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "station");
    const char *limit = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "limit");
    int n = 50;
    if (limit && parse_int_arg(limit, 1, 500, &n) != 0)
        return send_error_extra(c->conn, 400, "invalid", "limit must be 1-500", "limit", NULL,
                                NULL);
    if (state && state[0] && strcmp(state, "attached") != 0 && strcmp(state, "unassigned") != 0 &&
        strcmp(state, "implausible") != 0)
        return send_error_extra(c->conn, 400, "invalid",
                                "state is attached, unassigned or implausible", "state", NULL,
                                NULL);
    json_t *list;
    int rc = store_reading_list(c->api->st, state && state[0] ? state : NULL,
                                station && station[0] ? station : NULL, n, &list);
    return list_response(c, "readings", rc, list);
}

static enum MHD_Result reading_assign_post(struct ctx *c, const char *id, json_t *obj)
{
    json_t *visit = json_object_get(obj, "visit");
    if (!json_is_string(visit))
        return send_error_extra(c->conn, 400, "invalid", "visit: the visit id to attach it to",
                                "visit", NULL, NULL);
    json_t *r;
    int rc = store_reading_assign(c->api->st, &c->actor, id, json_string_value(visit), &r);
    if (rc == MK_ENOTFOUND)
        return send_error(c->conn, 404, "not_found", "no such reading or visit");
    if (rc == MK_EEXIST)
        return send_error(c->conn, 409, "conflict", "the reading is attached already");
    if (rc == MK_ERANGE)
        return send_error(c->conn, 422, "out_of_range",
                          "the reading is implausible for its kind: enter the value by hand");
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    publish(c, "reading", r);
    return send_json(c->conn, 200, r);
}

static enum MHD_Result route_post(struct ctx *c, json_t **obj)
{
    const char *a = c->seg[0], *b = c->nseg > 1 ? c->seg[1] : NULL;
    if (strcmp(a, "login") == 0 && c->nseg == 1) {
        BODY(c, *obj);
        return login(c, *obj);
    }
    if (strcmp(a, "logout") == 0 && c->nseg == 1) {
        REQUIRE(c, 0);
        int rc = store_session_delete(c->api->st, &c->actor, bearer_token(c->conn));
        if (rc != MK_OK)
            return send_store_error(c->conn, rc);
        return send_json_header(c->conn, 204, json_object(), MHD_HTTP_HEADER_SET_COOKIE,
                                "mokit_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    }
    if (strcmp(a, "patients") == 0 && c->nseg == 1) {
        REQUIRE(c, PERM_PATIENT_WRITE);
        BODY(c, *obj);
        return patients_post(c, *obj);
    }
    if (strcmp(a, "visits") == 0 && c->nseg == 1) {
        REQUIRE(c, PERM_VISIT_WRITE);
        BODY(c, *obj);
        return visits_post(c, *obj);
    }
    if (strcmp(a, "visits") == 0 && c->nseg == 3 && strcmp(c->seg[2], "observations") == 0) {
        REQUIRE(c, PERM_OBS_WRITE);
        BODY(c, *obj);
        return obs_post(c, b, *obj);
    }
    if (strcmp(a, "campaigns") == 0 && c->nseg == 1) {
        REQUIRE(c, PERM_ADMIN);
        BODY(c, *obj);
        return campaigns_post(c, *obj);
    }
    if (strcmp(a, "staff") == 0 && c->nseg == 1) {
        REQUIRE(c, PERM_ADMIN);
        BODY(c, *obj);
        return staff_post(c, *obj);
    }
    if (strcmp(a, "id") == 0 && c->nseg == 2 && strcmp(b, "cccd") == 0) {
        REQUIRE(c, PERM_READ);
        BODY(c, *obj);
        return cccd_post(c, *obj);
    }
    if (strcmp(a, "print-jobs") == 0 && c->nseg == 1) {
        REQUIRE(c, PERM_VISIT_WRITE);
        BODY(c, *obj);
        return print_jobs_post(c, *obj);
    }
    if (strcmp(a, "print-jobs") == 0 && c->nseg == 3 &&
        (strcmp(c->seg[2], "reprint") == 0 || strcmp(c->seg[2], "cancel") == 0)) {
        REQUIRE(c, PERM_VISIT_WRITE);
        return print_job_action(c, b, c->seg[2]);
    }
    if (strcmp(a, "printers") == 0 && c->nseg == 1) {
        REQUIRE(c, PERM_ADMIN);
        BODY(c, *obj);
        return printers_post(c, *obj);
    }
    if (strcmp(a, "devices") == 0 && c->nseg == 3 && strcmp(c->seg[2], "download") == 0) {
        REQUIRE(c, PERM_VISIT_WRITE);
        return devices_action_post(c, b, c->seg[2]);
    }
    if (strcmp(a, "devices") == 0 && c->nseg == 3 && strcmp(c->seg[2], "simulate") == 0) {
        REQUIRE(c, PERM_READ);
        BODY(c, *obj);
        return devices_simulate_post(c, b, *obj);
    }
    if (strcmp(a, "stations") == 0 && c->nseg == 3 && strcmp(c->seg[2], "current") == 0) {
        REQUIRE(c, PERM_READ);
        BODY(c, *obj);
        return station_current_post(c, b, *obj);
    }
    if (strcmp(a, "stations") == 0 && c->nseg == 3 && strcmp(c->seg[2], "scan") == 0) {
        REQUIRE(c, PERM_READ);
        BODY(c, *obj);
        return station_scan_post(c, b, *obj);
    }
    if (strcmp(a, "readings") == 0 && c->nseg == 3 && strcmp(c->seg[2], "assign") == 0) {
        REQUIRE(c, PERM_OBS_WRITE);
        BODY(c, *obj);
        return reading_assign_post(c, b, *obj);
    }
    return not_allowed_or_found(c);
}

static enum MHD_Result route(struct ctx *c)
{
    json_t *obj = NULL, *list = NULL;
    const char *a = c->seg[0];
    enum MHD_Result ret;

    if (c->nseg == 0)
        return send_error(c->conn, 404, "not_found", "no such path");
    if (clinic_route(c, &ret))
        return ret;
    if (export_route(c, &ret))
        return ret;
    if (is(c, "GET") && c->nseg == 1) {
        if (strcmp(a, "health") == 0)
            return health(c);
        if (strcmp(a, "status") == 0)
            return send_json(c->conn, 200, status_json(c->api->st, c->api->devices, c->api->panel));
        if (strcmp(a, "me") == 0) {
            REQUIRE(c, 0);
            return send_json(c->conn, 200, json_incref(c->staff));
        }
        if (strcmp(a, "patients") == 0) {
            REQUIRE(c, PERM_READ);
            return patients_search(c);
        }
        if (strcmp(a, "campaigns") == 0) {
            REQUIRE(c, PERM_READ);
            return campaigns_get(c);
        }
        if (strcmp(a, "staff") == 0) {
            REQUIRE(c, PERM_ADMIN);
            int rc = store_staff_list(c->api->st, &list);
            return list_response(c, "staff", rc, list);
        }
        if (strcmp(a, "printers") == 0) {
            REQUIRE(c, PERM_READ);
            return printers_get(c);
        }
        if (strcmp(a, "print-jobs") == 0) {
            REQUIRE(c, PERM_READ);
            return print_jobs_get(c);
        }
        if (strcmp(a, "events") == 0) {
            REQUIRE(c, PERM_READ);
            return events_get(c);
        }
        if (strcmp(a, "devices") == 0) {
            REQUIRE(c, PERM_READ);
            return list_response(c, "devices", MK_OK, devices_list(c->api->devices));
        }
        if (strcmp(a, "stations") == 0) {
            REQUIRE(c, PERM_READ);
            int rc = store_station_list(c->api->st, &list);
            return list_response(c, "stations", rc, list);
        }
        if (strcmp(a, "readings") == 0) {
            REQUIRE(c, PERM_READ);
            return readings_get(c);
        }
    }
    if (is(c, "GET") && c->nseg == 2) {
        if (strcmp(a, "patients") == 0) {
            REQUIRE(c, PERM_READ);
            return patient_get(c, c->seg[1]);
        }
        if (strcmp(a, "printers") == 0) {
            REQUIRE(c, PERM_READ);
            return printer_get(c, c->seg[1]);
        }
        if (strcmp(a, "stations") == 0) {
            REQUIRE(c, PERM_READ);
            return station_get(c, c->seg[1]);
        }
        if (strcmp(a, "readings") == 0) {
            REQUIRE(c, PERM_READ);
            json_t *r;
            int rc = store_reading_get(c->api->st, c->seg[1], &r);
            if (rc == MK_ENOTFOUND)
                return send_error(c->conn, 404, "not_found", "no such reading");
            if (rc != MK_OK)
                return send_store_error(c->conn, rc);
            return send_json(c->conn, 200, r);
        }
        if (strcmp(a, "print-jobs") == 0) {
            REQUIRE(c, PERM_READ);
            json_t *j;
            int rc = store_job_get(c->api->st, c->seg[1], &j);
            if (rc == MK_ENOTFOUND)
                return send_error(c->conn, 404, "not_found", "no such print job");
            if (rc != MK_OK)
                return send_store_error(c->conn, rc);
            return send_json(c->conn, 200, j);
        }
    }
    if (is(c, "PATCH") && c->nseg == 2 && strcmp(a, "stations") == 0) {
        REQUIRE(c, PERM_ADMIN);
        BODY(c, obj);
        ret = station_patch(c, c->seg[1], obj);
        json_decref(obj);
        return ret;
    }
    if (is(c, "PATCH") && c->nseg == 2 && strcmp(a, "printers") == 0) {
        REQUIRE(c, PERM_ADMIN);
        BODY(c, obj);
        ret = printer_patch(c, c->seg[1], obj);
        json_decref(obj);
        return ret;
    }
    if (is(c, "POST")) {
        ret = route_post(c, &obj);
        json_decref(obj);
        return ret;
    }
    return not_allowed_or_found(c);
}

/* ---- libmicrohttpd glue ---- */

static bool request_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n < 16 || n > 64)
        return false;
    for (; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') ||
              *k == '-' || *k == '_'))
            return false;
    return true;
}

/* A write with an Idempotency-Key: the answer of its first time again (1, *ret) when the key
 * was seen, by the same staff member for the same method and path; else 0, and the key is
 * noted so that the answer is kept as it goes out. */
static int replay_or_mark(struct ctx *c, enum MHD_Result *ret)
{
    const char *key = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "Idempotency-Key");
    if (!key)
        return 0;
    if (!request_key_ok(key)) {
        *ret = send_error_extra(c->conn, 400, "invalid",
                                "Idempotency-Key must be 16-64 of A-Z a-z 0-9 - _",
                                "Idempotency-Key", NULL, NULL);
        return 1;
    }
    json_t *prev = NULL;
    int rc = store_request_key_get(c->api->st, key, &prev);
    if (rc == MK_ENOTFOUND) {
        c->idem_key = key;
        return 0;
    }
    if (rc != MK_OK) {
        *ret = send_store_error(c->conn, rc);
        return 1;
    }
    if (require(c, 0, ret) != 0) { /* the login must still be good */
        json_decref(prev);
        return 1;
    }
    const char *staff = json_string_value(json_object_get(prev, "staff_id"));
    if (strcmp(staff, c->actor.staff_id) != 0 ||
        strcmp(json_string_value(json_object_get(prev, "method")), c->method) != 0 ||
        strcmp(json_string_value(json_object_get(prev, "path")), c->url) != 0) {
        *ret = send_error(c->conn, 409, "conflict",
                          "this Idempotency-Key was used for another request: make a new one");
        json_decref(prev);
        return 1;
    }
    char *body = strdup(json_string_value(json_object_get(prev, "body")));
    unsigned status = (unsigned)json_integer_value(json_object_get(prev, "status"));
    json_decref(prev);
    if (!body)
        return *ret = MHD_NO, 1;
    LOG(LOG_INFO, "request key %.8s…: the first answer again (%u)", key, status);
    *ret = send_text(c->conn, status, body, "application/json; charset=utf-8",
                     "Idempotent-Replayed", "true");
    return 1;
}

static void split_path(struct ctx *c, char *path)
{
    c->nseg = 0;
    for (char *save = NULL, *tok = strtok_r(path, "/", &save); tok;
         tok = strtok_r(NULL, "/", &save)) {
        if (c->nseg == (int)(sizeof c->seg / sizeof c->seg[0])) {
            c->nseg = 0; /* deeper than any route: 404 */
            return;
        }
        c->seg[c->nseg++] = tok;
    }
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    struct api *a = cls;
    struct req *r = *con_cls;
    (void)version;

    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        /* Refuse an announced oversize body before reading it. */
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > BODY_MAX) {
            r->too_large = 1;
            return send_error(conn, 413, "too_large", "the request body is larger than 64 KiB");
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->too_large) {
            if (r->len + *upload_size > BODY_MAX) {
                r->too_large = 1;
                free(r->body);
                r->body = NULL;
            } else {
                char *nb = realloc(r->body, r->len + *upload_size + 1);
                if (!nb)
                    return MHD_NO;
                memcpy(nb + r->len, upload, *upload_size);
                r->len += *upload_size;
                nb[r->len] = '\0';
                r->body = nb;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->too_large)
        return send_error(conn, 413, "too_large", "the request body is larger than 64 KiB");

    struct ctx c = {.api = a, .conn = conn, .method = method, .body = r->body, .len = r->len};
    if (strcmp(url, "/status") == 0 && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0))
        return status_page(&c);
    if (strncmp(url, "/api/", 5) != 0 && strcmp(url, "/api") != 0)
        return web_serve(a->web, conn, method, url);
    if (strncmp(url, "/api/v1/", 8) != 0 && strcmp(url, "/api/v1") != 0)
        return send_error(conn, 404, "not_found", "no such path");
    char *path = strdup(url + 7);
    if (!path)
        return MHD_NO;
    split_path(&c, path);
    c.url = url;
    enum MHD_Result ret;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
        replay_or_mark(&c, &ret) != 0) {
        json_decref(c.staff);
        free(path);
        return ret;
    }
    answering = &c;
    ret = route(&c);
    answering = NULL;
    json_decref(c.staff);
    free(path);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct req *r = *con_cls;
    (void)cls;
    (void)conn;
    (void)toe;
    if (r) {
        free(r->body);
        free(r);
        *con_cls = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    LOG(LOG_WARN, "http: %s", msg);
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss)
{
    char host[128];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host)
        return MK_EINVAL;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535 || !colon[1])
        return MK_EINVAL;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    size_t hl = strlen(host);
    if (host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
            return MK_EINVAL;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        return MK_OK;
    }
    if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
        return MK_EINVAL;
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    return MK_OK;
}

/* The screening rules: a kit's own file, or the defaults. A file that does not load stops
 * mokitd: screening with rules other than the ones the team set would mislead. */
static int load_rules(const char *path, struct screen_rules *out)
{
    if (!path || !path[0])
        return screen_rules_default(out);
    FILE *f = fopen(path, "r");
    if (!f) {
        LOG(LOG_ERROR, "cannot read the rules file %s: %s", path, strerror(errno));
        return MK_EIO;
    }
    char *text = malloc(256 * 1024);
    size_t n = text ? fread(text, 1, 256 * 1024, f) : 0;
    int big = text && n == 256 * 1024 && fgetc(f) != EOF;
    fclose(f);
    char err[200] = "";
    int rc = !text ? MK_ENOMEM
             : big ? MK_EINVAL
                   : screen_rules_parse(text, n, out, err, sizeof err);
    free(text);
    if (rc != MK_OK)
        LOG(LOG_ERROR, "the rules file %s does not load: %s", path,
            big ? "larger than 256 KiB" : err);
    else
        LOG(LOG_NOTICE, "screening rules from %s (%d rules)", path, out->nrules);
    return rc;
}

int api_start(const struct api_config *cfg, struct store *st, struct api **out)
{
    struct sockaddr_storage ss;
    if (parse_listen(cfg->listen, &ss) != MK_OK) {
        LOG(LOG_ERROR, "cannot listen on \"%s\": expected ADDR:PORT, e.g. 127.0.0.1:8080",
            cfg->listen);
        return MK_EINVAL;
    }
    struct api *a = calloc(1, sizeof *a);
    if (!a)
        return MK_ENOMEM;
    a->st = st;
    a->session_seconds = cfg->session_seconds;
    a->idle_seconds = cfg->idle_seconds;
    if (load_rules(cfg->rules_file, &a->rules) != MK_OK) {
        free(a);
        return MK_EINVAL;
    }
    if (cfg->web_dir && cfg->web_dir[0]) {
        if (web_open(cfg->web_dir, &a->web) != MK_OK)
            LOG(LOG_WARN, "no web UI in %s (no index.html there): only the API and /status",
                cfg->web_dir);
    } else {
        LOG(LOG_WARN, "no web UI found: only the API and /status");
    }
    a->spool = cfg->spool;
    a->devices = cfg->devices;
    a->panel = cfg->panel;
    a->events = cfg->events;
    if (fw_font_open(FW_FONT_DEFAULT, &a->font) != FW_OK) {
        LOG(LOG_WARN, "%s is missing (fonts-dejavu-core): nothing can be printed", FW_FONT_DEFAULT);
        a->font = NULL;
    }
    /* Suspend/resume: an event stream waits without holding the thread. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    uint16_t port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
    a->mhd = MHD_start_daemon(flags, port, NULL, NULL, handle, a, MHD_OPTION_EXTERNAL_LOGGER,
                              mhd_log, NULL, MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_NOTIFY_COMPLETED,
                              completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)200, MHD_OPTION_END);
    if (!a->mhd) {
        LOG(LOG_ERROR, "cannot listen on %s (address in use, or not this machine's?)", cfg->listen);
        fw_font_close(a->font);
        web_close(a->web);
        free(a);
        return MK_EIO;
    }
    *out = a;
    return MK_OK;
}

void api_stop(struct api *a)
{
    if (!a)
        return;
    events_close(a->events); /* no stream may be left suspended when the server stops */
    MHD_stop_daemon(a->mhd);
    fw_font_close(a->font);
    web_close(a->web);
    free(a);
}
