/* Internals shared by the API's .c files: the server's state, a request as the handlers see
 * it, and the response helpers. */
#pragma once

#include "../domain/code.h"
#include "../domain/guard.h"
#include "../domain/screen.h"
#include "../print/jobs.h"
#include "api.h"
#include "body.h"
#include "web.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>

struct api {
    struct MHD_Daemon *mhd;
    struct store *st;
    int session_seconds, idle_seconds;
    struct login_guard guard;
    struct web *web;           /* the UI's files; NULL when not installed */
    struct screen_rules rules; /* the screening rules flags come from */
    struct spool *spool;
    struct fw_font *font; /* for laying out print jobs; NULL when the fonts are missing */
    struct devices *devices;
    struct panel *panel;
    struct events *events;
};

/* One request being received. */
struct req {
    char *body;
    size_t len;
    int too_large;
};

/* The request as the handlers see it. */
struct ctx {
    struct api *api;
    struct MHD_Connection *conn;
    const char *method;
    const char *seg[6]; /* path segments after /api/v1 */
    int nseg;
    const char *body;
    size_t len;
    json_t *staff; /* after authentication */
    char actor_label[64];
    struct actor actor;
    const char *url;      /* the path as asked, for request keys */
    const char *idem_key; /* Idempotency-Key of a write seen for the first time, or NULL */
};

/* Responses. Each queues the response and returns MHD's result; bodies are stolen. */
enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, json_t *body);
enum MHD_Result send_json_header(struct MHD_Connection *conn, unsigned status, json_t *body,
                                 const char *header, const char *value);
enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *code,
                           const char *message);
/* An error with "field" (may be NULL) and one more key in the body (extra is stolen). */
enum MHD_Result send_error_extra(struct MHD_Connection *conn, unsigned status, const char *code,
                                 const char *message, const char *field, const char *extra_key,
                                 json_t *extra);
enum MHD_Result send_body_error(struct MHD_Connection *conn, const struct body_err *e);
/* A store error no handler expects (404, 507, 503, 400, 500). */
enum MHD_Result send_store_error(struct MHD_Connection *conn, int rc);

/* 0 when a staff member with every permission in need is logged in (c->staff, c->actor);
 * otherwise a response is queued and *ret holds its result. */
int require(struct ctx *c, unsigned need, enum MHD_Result *ret);
/* Parses the body into *obj; 0, or -1 with an error queued. */
int need_body(struct ctx *c, json_t **obj, enum MHD_Result *ret);
bool is(const struct ctx *c, const char *method);
/* The id of the campaign by code, or of the current one (code NULL), into out; 0 or -1 with
 * 404/409 queued. */
int current_campaign_id(struct ctx *c, const char *code, char out[64], enum MHD_Result *ret);
/* A patient code as typed or scanned into code; 0 or -1 with 400 bad_code queued. */
int parse_code(struct ctx *c, const char *raw, char code[CODE_LEN + 1], enum MHD_Result *ret);
/* 0 when the fonts for printing are there; -1 with 503 queued. */
int need_font(struct ctx *c, enum MHD_Result *ret);
/* Queues one print job: {"kind", "job"} or {"kind", "error"}; *rc_out the result. */
json_t *print_one(struct ctx *c, const struct print_req *r, int *rc_out);

#define REQUIRE(c, perms)                    \
    do {                                     \
        enum MHD_Result r_;                  \
        if (require((c), (perms), &r_) != 0) \
            return r_;                       \
    } while (0)

#define BODY(c, obj)                          \
    do {                                      \
        enum MHD_Result r_;                   \
        if (need_body((c), &(obj), &r_) != 0) \
            return r_;                        \
    } while (0)

/* The clinic's routes (api_clinic.c): findings, referrals, medicines, prescriptions,
 * dispensing, queue calls, visits with their flags, the dashboard. 1 when the request was one
 * of them (*ret holds the result), 0 when not. */
int clinic_route(struct ctx *c, enum MHD_Result *ret);
/* The methods a clinic path takes, or NULL. */
const char *clinic_allowed(const struct ctx *c);
