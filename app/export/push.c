/* `mokit push --fhir URL`: the campaign as FHIR transaction bundles, posted with libcurl.
 *
 * One bundle per batch of residents, each holding the residents, everything recorded about
 * them, and the shared resources they refer to, so that its urn:uuid references resolve inside
 * it. Every entry is a conditional create (Provenance: a PUT at its id), so a bundle that
 * reaches the server twice (a lost answer, a re-run) creates nothing new. After each bundle the
 * server accepted, the resume state (DATA/push-<campaign id>-<hash of URL>.json, written
 * atomically) records the last resident sent; a push run again continues after it. */
#include "fhir.h"

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../store/store_int.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_ANSWER (1 << 20) /* of a server's answer, what is kept to read its outcome */
#define MAX_WAIT   600.0     /* the longest a Retry-After is honoured for, in seconds */

void fhir_push_state_name(const char *campaign_id, const char *url, char out[128])
{
    unsigned char h[8];
    char hex[17];
    crypto_generichash(h, sizeof h, (const unsigned char *)url, strlen(url), NULL, 0);
    util_hex(h, sizeof h, hex);
    snprintf(out, 128, "push-%.40s-%s.json", campaign_id, hex);
}

/* ---- the resume state --------------------------------------------------------------------- */

struct state {
    char path[4200];
    char after[64]; /* the last resident the server accepted, "" for none */
    long batches, residents;
};

static void state_load(struct state *s, const char *campaign_id, const char *url)
{
    s->after[0] = '\0';
    s->batches = s->residents = 0;
    json_error_t e;
    json_t *j = json_load_file(s->path, JSON_REJECT_DUPLICATES, &e);
    if (!j)
        return; /* none yet (or unreadable: start over, which duplicates nothing) */
    const char *c = json_string_value(json_object_get(j, "campaign"));
    const char *u = json_string_value(json_object_get(j, "url"));
    const char *a = json_string_value(json_object_get(j, "after"));
    if (c && u && a && strcmp(c, campaign_id) == 0 && strcmp(u, url) == 0 && strlen(a) < 64) {
        snprintf(s->after, sizeof s->after, "%s", a);
        s->batches = (long)json_integer_value(json_object_get(j, "batches"));
        s->residents = (long)json_integer_value(json_object_get(j, "residents"));
    }
    json_decref(j);
}

/* Writes the state whole or not at all: a temporary file, fsync, rename. */
static int state_save(const struct state *s, const char *campaign_id, const char *url)
{
    char now[32], tmp[4300];
    util_now_iso(now);
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "campaign", campaign_id, "url", url,
                          "after", s->after, "batches", (json_int_t)s->batches, "residents",
                          (json_int_t)s->residents, "updated_at", now);
    char *text = j ? json_dumps(j, JSON_INDENT(1)) : NULL;
    json_decref(j);
    if (!text)
        return MK_ENOMEM;
    snprintf(tmp, sizeof tmp, "%s.tmp", s->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = MK_OK;
    if (fd < 0) {
        rc = MK_EIO;
    } else {
        size_t n = strlen(text);
        if (write(fd, text, n) != (ssize_t)n || write(fd, "\n", 1) != 1 || fsync(fd) != 0)
            rc = MK_EIO;
        if (close(fd) != 0)
            rc = MK_EIO;
        if (rc == MK_OK && rename(tmp, s->path) != 0)
            rc = MK_EIO;
    }
    if (rc != MK_OK) {
        LOG(LOG_ERROR, "cannot write the push state %s: %s", s->path, strerror(errno));
        unlink(tmp);
    }
    free(text);
    return rc;
}

/* ---- one batch's bundle ------------------------------------------------------------------- */

struct collect {
    struct fhir_buf *b;
    long entries;
};

static int on_entry(void *ctx, const struct fhir_res *r)
{
    struct collect *c = ctx;
    if (c->entries++)
        fhir_buf_put(c->b, ",\n", 2);
    fhir_buf_put(c->b, r->entry, r->entry_len);
    return c->b->failed ? MK_ENOMEM : MK_OK;
}

/* The batch's bundle into c->b (s hands its entries to on_entry with c meanwhile). */
static int build_bundle(struct fhir_src *s, const char *after, const char *upto, struct collect *c)
{
    static const char head[] =
        "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[\n";
    struct fhir_buf *b = c->b;
    c->entries = 0;
    b->len = 0;
    fhir_buf_put(b, head, sizeof head - 1);
    s->want = FHIR_WANT_ENTRY;
    s->fn = on_entry;
    s->ctx = c;
    /* One snapshot per batch; the push may take long, and the kit goes on working. */
    bool begun = sqlite3_get_autocommit(s->st->db) &&
                 sqlite3_exec(s->st->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    int rc = fhir_src_walk(s, after, upto);
    if (begun)
        sqlite3_exec(s->st->db, "COMMIT", NULL, NULL, NULL);
    fhir_buf_put(b, "\n]}\n", 4);
    if (rc == MK_OK && b->failed)
        rc = MK_ENOMEM;
    return rc;
}

/* ---- HTTP --------------------------------------------------------------------------------- */

struct answer {
    char *body;
    size_t len;
    long retry_after; /* seconds, -1 when the server named none */
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct answer *a = ctx;
    size_t len = size * n, keep = len;
    if (a->len + keep > MAX_ANSWER)
        keep = MAX_ANSWER - a->len;
    if (keep) {
        char *q = realloc(a->body, a->len + keep + 1);
        if (!q)
            return 0; /* aborts the transfer: an error, retried */
        a->body = q;
        memcpy(a->body + a->len, p, keep);
        a->len += keep;
        a->body[a->len] = '\0';
    }
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    struct answer *a = ctx;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && len < 200 && strncasecmp(p, name, sizeof name - 1) == 0) {
        char v[200];
        memcpy(v, p + sizeof name - 1, len - (sizeof name - 1));
        v[len - (sizeof name - 1)] = '\0';
        long s;
        if (fhir_retry_after(v, (long long)time(NULL), &s) == 0)
            a->retry_after = s;
    }
    return len;
}

enum outcome { SENT, RETRY, REFUSED, FAILED };

struct http {
    CURL *curl;
    struct curl_slist *headers;
    long status;
    char error[CURL_ERROR_SIZE];
    char outcome[1024]; /* the server's words when it refused: for the operator, not the log */
    char codes[128];    /* its OperationOutcome's issue codes: what the log gets */
};

/* Appends to *list; on failure *list is left as it was (and still freed by http_close). */
static int add_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *l = curl_slist_append(*list, line);
    if (!l)
        return MK_ENOMEM;
    *list = l;
    return MK_OK;
}

static int http_open(struct http *h, const struct push_req *r, bool loopback)
{
    h->curl = curl_easy_init();
    if (!h->curl)
        return MK_ENOMEM;
    int rc = add_header(&h->headers, "Content-Type: application/fhir+json; charset=utf-8");
    if (rc == MK_OK)
        rc = add_header(&h->headers, "Accept: application/fhir+json");
    if (rc == MK_OK)
        rc = add_header(&h->headers, "Prefer: return=minimal");
    if (rc == MK_OK)
        rc = add_header(&h->headers, "Expect:"); /* no 100-continue round trip */
    if (rc == MK_OK && r->token && r->token[0]) {
        char auth[2200];
        if (snprintf(auth, sizeof auth, "Authorization: Bearer %s", r->token) >= (int)sizeof auth)
            rc = MK_EINVAL;
        else
            rc = add_header(&h->headers, auth);
        sodium_memzero(auth, sizeof auth);
    }
    if (rc != MK_OK)
        return rc;
    CURL *c = h->curl;
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* a POST is never redirected blindly */
    if (loopback)
        curl_easy_setopt(c, CURLOPT_PROXY, ""); /* this machine: never through a proxy */
    /* A connection per request: curl would otherwise resend a request on its own when a
     * reused connection turns out dead, out of sight of the backoff and the count of tries. */
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mokit/" MOKIT_VERSION);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, r->timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, r->timeout < 10 ? r->timeout : 10L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->error);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* whatever curl can decode */
    return MK_OK;
}

static void http_close(struct http *h)
{
    if (h->curl)
        curl_easy_cleanup(h->curl);
    /* The list's copy of the Authorization header holds the token. */
    for (struct curl_slist *l = h->headers; l; l = l->next)
        if (l->data)
            sodium_memzero(l->data, strlen(l->data));
    curl_slist_free_all(h->headers);
}

/* The issue codes of a server's OperationOutcome (or of a Bundle's entries' outcomes) into
 * out, "invalid, required". Only codes of FHIR's IssueType form (lowercase letters and '-') are
 * kept: unlike the issues' text, they cannot quote what the server refused (a name, an ID
 * number), so they are what goes to the log. */
static void add_codes(const json_t *oo, char *out, size_t cap)
{
    size_t i;
    json_t *is;
    json_array_foreach(json_object_get(oo, "issue"), i, is)
    {
        const char *c = json_string_value(json_object_get(is, "code"));
        size_t n = c ? strlen(c) : 0;
        if (n == 0 || n > 32 || strspn(c, "abcdefghijklmnopqrstuvwxyz-") != n)
            continue;
        size_t len = strlen(out);
        if (len + n + 3 > cap)
            return;
        snprintf(out + len, cap - len, "%s%s", len ? ", " : "", c);
    }
}

static void outcome_codes(const char *body, size_t n, char *out, size_t cap)
{
    out[0] = '\0';
    json_t *j = body && n ? json_loadb(body, n, JSON_REJECT_DUPLICATES, NULL) : NULL;
    const char *rt = json_string_value(json_object_get(j, "resourceType"));
    if (rt && strcmp(rt, "Bundle") == 0) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(j, "entry"), i, e)
        {
            add_codes(json_object_get(json_object_get(e, "response"), "outcome"), out, cap);
        }
    } else if (j) {
        add_codes(j, out, cap);
    }
    json_decref(j);
}

/* One POST of the bundle: SENT (2xx), RETRY (worth another try; *wait set when the server said
 * how long), REFUSED (4xx: the outcome in h->outcome) or FAILED (curl cannot do it at all). */
static enum outcome http_post(struct http *h, const struct fhir_buf *b, double *wait)
{
    struct answer a = {NULL, 0, -1};
    h->error[0] = '\0';
    h->outcome[0] = '\0';
    h->codes[0] = '\0';
    h->status = 0;
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, b->p);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, &a);
    CURLcode cc = curl_easy_perform(h->curl);
    enum outcome o;
    *wait = -1;
    if (cc != CURLE_OK) {
        if (!h->error[0])
            snprintf(h->error, sizeof h->error, "%s", curl_easy_strerror(cc));
        /* What a network or a busy server does is worth retrying; a URL or TLS set up wrong
         * is not. */
        o = cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT ||
                    cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
                    cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_OUT_OF_MEMORY ||
                    cc == CURLE_FAILED_INIT || cc == CURLE_NOT_BUILT_IN
                ? FAILED
                : RETRY;
    } else {
        curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &h->status);
        if (h->status >= 200 && h->status < 300) {
            o = SENT;
        } else if (h->status == 408 || h->status == 429 || h->status >= 500) {
            o = RETRY;
            if (a.retry_after >= 0)
                *wait = (double)a.retry_after;
        } else {
            o = REFUSED;
        }
        if (o != SENT && !fhir_outcome_text(a.body, a.len, h->outcome, sizeof h->outcome))
            snprintf(h->outcome, sizeof h->outcome, "HTTP %ld", h->status);
        if (o != SENT)
            outcome_codes(a.body, a.len, h->codes, sizeof h->codes);
        snprintf(h->error, sizeof h->error, "HTTP %ld", h->status);
    }
    free(a.body);
    return o;
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Exponential backoff with jitter: base * 2^(try-1), capped, times a random 0.5-1.5. */
static double backoff(const struct push_req *r, int tries)
{
    double w = r->backoff_base * pow(2, tries - 1);
    if (w > r->backoff_max)
        w = r->backoff_max;
    return w * (0.5 + (double)randombytes_uniform(1000001) / 1e6);
}

/* ---- the push ----------------------------------------------------------------------------- */

/* Whether host, as curl's URL parser gives it ("[::1]" for IPv6), is this machine: localhost,
 * 127.0.0.0/8 or ::1. Other spellings of these ("127.1", "localhost.") do not count. */
static bool host_loopback(const char *host)
{
    if (strcasecmp(host, "localhost") == 0)
        return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    size_t n = strlen(host);
    if (n > 2 && n < 64 && host[0] == '[' && host[n - 1] == ']') {
        char v6[64];
        memcpy(v6, host + 1, n - 2);
        v6[n - 2] = '\0';
        struct in6_addr a6;
        return inet_pton(AF_INET6, v6, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
    }
    return false;
}

/* NULL when the push may go to u, else why not. Patient data and the bearer token travel
 * encrypted: https://, or http:// to this machine (*loopback), or http:// anywhere only when
 * insecure_http. The host is read by curl's own URL parser, as the transfer will read it. */
static const char *url_refusal(const char *u, bool insecure_http, bool *loopback)
{
    static const char bad[] = "the URL must be http:// or https:// with a host";
    *loopback = false;
    if (strlen(u) >= 2000)
        return bad;
    for (const unsigned char *p = (const unsigned char *)u; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return bad;
    bool https = strncmp(u, "https://", 8) == 0;
    if (!https && strncmp(u, "http://", 7) != 0)
        return bad;
    const char *auth = u + (https ? 8 : 7);
    size_t alen = strcspn(auth, "/?#");
    if (alen == 0)
        return bad;
    static const char userinfo[] =
        "the URL must not hold a user name or password (user:pass@host): a URL ends up in the "
        "audit trail, the output, the process list and the shell's history; give the server's "
        "bearer token with --token-file";
    if (memchr(auth, '@', alen))
        return userinfo;
    CURLU *cu = curl_url();
    if (!cu)
        return bad;
    const char *why = NULL;
    char *host = NULL, *user = NULL, *pass = NULL;
    if (curl_url_set(cu, CURLUPART_URL, u, 0) != CURLUE_OK ||
        curl_url_get(cu, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !host[0])
        why = bad;
    else if (curl_url_get(cu, CURLUPART_USER, &user, 0) == CURLUE_OK ||
             curl_url_get(cu, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK)
        why = userinfo;
    else
        *loopback = host_loopback(host);
    if (!why && !https && !*loopback && !insecure_http)
        why = "plain http:// would send patient data and the token unencrypted: use https:// "
              "(http:// is allowed to this machine only: localhost, 127.0.0.0/8, ::1), or "
              "--insecure-http to send them in clear all the same";
    curl_free(host);
    curl_free(user);
    curl_free(pass);
    curl_url_cleanup(cu);
    return why;
}

int fhir_push(const struct push_req *r)
{
    json_t *res = json_object();
    if (r->result)
        *r->result = res;
    if (!res)
        return MK_ENOMEM;
    /* r->opts "insecure_http": true allows http:// to any host (mokit push --insecure-http). */
    bool loopback;
    const char *bad =
        url_refusal(r->url, json_is_true(json_object_get(r->opts, "insecure_http")), &loopback);
    if (bad) {
        json_object_set_new(res, "error", json_string(bad));
        json_object_set_new(res, "bad_url", json_true());
        return MK_EINVAL;
    }
    if (r->batch < 1 || r->batch > 10000 || r->max_tries < 1 || r->timeout < 1) {
        json_object_set_new(res, "error", json_string("batch, tries or timeout out of range"));
        return MK_EINVAL;
    }
    struct fhir_src s;
    int rc = fhir_src_open(&s, r->st, r->campaign, r->opts);
    if (rc != MK_OK)
        return rc;
    struct state st;
    char name[128];
    fhir_push_state_name(s.campaign_id, r->url, name);
    snprintf(st.path, sizeof st.path, "%s/%s", r->data_dir ? r->data_dir : ".", name);
    if (r->restart)
        unlink(st.path);
    state_load(&st, s.campaign_id, r->url);
    long total = 0;
    fhir_src_patients(&s, &total);
    json_object_set_new(res, "url", json_string(r->url));
    json_object_set_new(res, "campaign", json_string(s.campaign_id));
    json_object_set_new(res, "state_file", json_string(st.path));
    json_object_set_new(res, "resumed_after", json_integer(st.residents));

    struct http h = {0};
    struct fhir_buf b = {0};
    long sent_batches = 0, sent_residents = 0, attempts = 0, retries = 0, entries_sent = 0;
    rc = http_open(&h, r, loopback);
    char upto[64];
    int count = 0;
    progress_note(r->progress, "residents", st.residents, total);
    while (rc == MK_OK) {
        rc = fhir_src_batch(&s, st.after, r->batch, upto, &count);
        if (rc == MK_ENOTFOUND) {
            rc = MK_OK;
            break;
        }
        if (rc != MK_OK)
            break;
        long entries0 = 0;
        for (int t = 0; t < FHIR_NTYPES; t++)
            entries0 += s.counts[t];
        struct collect col = {&b, 0};
        if ((rc = build_bundle(&s, st.after, upto, &col)) != MK_OK)
            break;
        long entries = -entries0;
        for (int t = 0; t < FHIR_NTYPES; t++)
            entries += s.counts[t];
        enum outcome o = FAILED;
        for (int tries = 1; tries <= r->max_tries; tries++) {
            double wait;
            attempts++;
            o = http_post(&h, &b, &wait);
            if (o != RETRY)
                break;
            if (tries == r->max_tries)
                break;
            retries++;
            if (wait < 0)
                wait = backoff(r, tries);
            else if (wait > MAX_WAIT)
                wait = MAX_WAIT;
            LOG(LOG_WARN, "push: batch %ld: %s; trying again in %.1f s (%d of %d)", st.batches + 1,
                h.error, wait, tries + 1, r->max_tries);
            sleep_s(wait);
        }
        if (o != SENT) {
            const char *why = o == REFUSED ? h.outcome : h.error;
            /* The server's words may quote what it refused (a name, a CCCD): they go to the
             * operator (*result), the log gets the status and the issue codes only. */
            if (o == REFUSED)
                LOG(LOG_ERROR, "push: batch %ld refused by the server: HTTP %ld (issue codes: %s)",
                    st.batches + 1, h.status, h.codes[0] ? h.codes : "none");
            else
                LOG(LOG_ERROR, "push: batch %ld not sent: %s", st.batches + 1, h.error);
            json_object_set_new(res, "error", json_string(why));
            json_object_set_new(res, "refused", json_boolean(o == REFUSED));
            rc = o == REFUSED ? MK_EINVAL : MK_EIO;
            break;
        }
        snprintf(st.after, sizeof st.after, "%s", upto);
        st.batches++;
        st.residents += count;
        sent_batches++;
        sent_residents += count;
        entries_sent += entries;
        if ((rc = state_save(&st, s.campaign_id, r->url)) != MK_OK)
            break;
        progress_note(r->progress, "residents", st.residents, total);
    }
    json_object_set_new(res, "status", json_integer(h.status));
    json_object_set_new(res, "batches", json_integer(sent_batches));
    json_object_set_new(res, "residents", json_integer(sent_residents));
    json_object_set_new(res, "entries", json_integer(entries_sent));
    json_object_set_new(res, "attempts", json_integer(attempts));
    json_object_set_new(res, "retries", json_integer(retries));
    json_object_set_new(res, "residents_total", json_integer(total));
    json_object_set_new(res, "residents_done", json_integer(st.residents));
    json_object_set_new(res, "done", json_boolean(rc == MK_OK));
    if (sent_batches > 0) {
        /* Who sent what where, like an export's audit row. */
        json_t *what =
            json_pack("{s:s, s:s, s:I, s:I}", "format", "fhir-push", "url", r->url, "batches",
                      (json_int_t)sent_batches, "residents", (json_int_t)sent_residents);
        static const struct actor system_actor = {NULL, "system"};
        int arc = what ? store_begin(r->st) : MK_ENOMEM;
        if (arc == MK_OK)
            arc = store_audit(r->st, r->actor ? r->actor : &system_actor, "push", "campaign",
                              s.campaign_id, NULL, what);
        if (arc == MK_OK)
            arc = store_commit(r->st);
        store_rollback(r->st);
        json_decref(what);
        if (arc != MK_OK && rc == MK_OK)
            rc = arc;
    }
    http_close(&h);
    fhir_buf_free(&b);
    fhir_src_close(&s);
    return rc;
}
