/* mokit push --fhir URL: a campaign to a hospital's FHIR server (app/export/push.c). */
#include "cli.h"

#include "../common/err.h"
#include "../export/fhir.h"

#include <curl/curl.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static int number(const char *v, const char *name, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || *end || end == v || n < min || n > max) {
        fprintf(stderr, "mokit: --%s must be %ld-%ld\n", name, min, max);
        return EXIT_USAGE;
    }
    *out = n;
    return 0;
}

/* The token: the file's first line, without its newline. */
static int read_token(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "mokit: cannot read %s: %s\n", path, strerror(errno));
        return EXIT_INVALID;
    }
    size_t n = fread(out, 1, cap - 1, f);
    fclose(f);
    out[n] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    for (const unsigned char *p = (const unsigned char *)out; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f) {
            fprintf(stderr, "mokit: %s: a bearer token is printable ASCII without spaces\n", path);
            return EXIT_INVALID;
        }
    if (!out[0] || n == cap - 1) {
        fprintf(stderr, "mokit: %s: no token on its first line (or longer than %zu bytes)\n", path,
                cap - 2);
        return EXIT_INVALID;
    }
    return 0;
}

int cmd_push(int argc, char **argv)
{
    static const char help[] =
        "usage: mokit push --fhir URL --campaign C [--batch N] [--timeout S] [--max-tries N]\n"
        "                  [--backoff S] [--token-file FILE] [--restart] [--insecure-http]\n"
        "                  [--system-cccd URI] [--system-bhyt URI] [--system-code URI]\n"
        "Posts the campaign to the FHIR R4 server at URL (its base: https://, or http:// to\n"
        "this machine only: localhost, 127.0.0.0/8, ::1) as\n"
        "transaction bundles of N residents each (default 50) with everything recorded about\n"
        "them. Every resource is a conditional create, so nothing is duplicated when a bundle\n"
        "arrives twice. A bundle is tried up to --max-tries times (default 6) when the network\n"
        "or the server fails (connection errors, 408, 429, 5xx), waiting --backoff seconds\n"
        "(default 1) doubled each time with jitter, or what Retry-After asks; a refusal (other\n"
        "4xx) stops the push with the server's words. --timeout: seconds per request (60).\n"
        "The push remembers the last bundle the server accepted (in the data directory): run\n"
        "it again to continue there; --restart sends everything again.\n"
        "--token-file: a bearer token for the server, on the file's first line (never put a\n"
        "user name or password in the URL: it is refused).\n"
        "--insecure-http: allow http:// to another machine; names, ID numbers, diagnoses and\n"
        "the token then cross the network unencrypted.\n"
        "Exit: 0 all sent; 2 the server refused a bundle; 3 it could not be reached.\n";
    struct opt o[] = {{"fhir", 1, 0},        {"campaign", 1, 0},    {"batch", 1, 0},
                      {"timeout", 1, 0},     {"max-tries", 1, 0},   {"backoff", 1, 0},
                      {"token-file", 1, 0},  {"restart", 0, 0},     {"system-cccd", 1, 0},
                      {"system-bhyt", 1, 0}, {"system-code", 1, 0}, {"insecure-http", 0, 0}};
    const int n = sizeof o / sizeof o[0];
    const char *pos[1];
    int npos, rc;
    if (wants_help(argc, argv, 2)) {
        fputs(help, stdout);
        return 0;
    }
    if (parse_opts(argc, argv, 2, o, n, pos, 0, &npos) != 0) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    const char *url = opt_get(o, n, "fhir"), *campaign = opt_get(o, n, "campaign");
    if (!url || !campaign) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    long batch = 50, timeout = 60, tries = 6, backoff = 1;
    const char *v;
    if (((v = opt_get(o, n, "batch")) && (rc = number(v, "batch", 1, 10000, &batch))) ||
        ((v = opt_get(o, n, "timeout")) && (rc = number(v, "timeout", 1, 3600, &timeout))) ||
        ((v = opt_get(o, n, "max-tries")) && (rc = number(v, "max-tries", 1, 100, &tries))) ||
        ((v = opt_get(o, n, "backoff")) && (rc = number(v, "backoff", 0, 600, &backoff))))
        return rc;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        fprintf(stderr, "mokit: --fhir takes an http:// or https:// URL\n");
        return EXIT_USAGE;
    }
    bool insecure = opt_get(o, n, "insecure-http") != NULL;
    char token[2048] = "";
    const char *tf = opt_get(o, n, "token-file");
    if (tf && (rc = read_token(tf, token, sizeof token)) != 0)
        return rc;

    json_t *opts = json_object();
    if ((rc = cli_id_system_opts(o, n, opts)) != 0) {
        json_decref(opts);
        return rc;
    }
    if (insecure) {
        json_object_set_new(opts, "insecure_http", json_true());
        if (strncmp(url, "http://", 7) == 0)
            fprintf(stderr, "mokit: warning: --insecure-http: patient names, ID numbers, "
                            "diagnoses and the token may cross the network unencrypted\n");
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "mokit: libcurl does not start\n");
        json_decref(opts);
        return EXIT_SYSTEM;
    }
    struct store *st;
    if ((rc = open_store(&st)) != 0) {
        json_decref(opts);
        curl_global_cleanup();
        return rc;
    }
    struct progress p;
    cli_progress_init(&p, "push");
    json_t *result = NULL;
    struct push_req r = {
        .st = st,
        .actor = &cli_actor,
        .campaign = campaign,
        .url = url,
        .token = token[0] ? token : NULL,
        .data_dir = data_dir,
        .opts = opts,
        .batch = (int)batch,
        .timeout = timeout,
        .max_tries = (int)tries,
        .restart = opt_get(o, n, "restart") != NULL,
        .backoff_base = (double)backoff,
        .backoff_max = 60,
        .progress = &p,
        .result = &result,
    };
    rc = fhir_push(&r);
    cli_progress_end(&p);
    sodium_memzero(token, sizeof token);
    store_close(st);
    json_decref(opts);
    curl_global_cleanup();

    int exit_code = 0;
    if (rc == MK_ENOTFOUND) {
        fprintf(stderr, "mokit: no campaign %s\n", campaign);
        exit_code = EXIT_INVALID;
    } else if (json_is_true(json_object_get(result, "bad_url"))) {
        /* Refused before anything was sent; like a URL that is not http(s) at all. */
        fprintf(stderr, "mokit: --fhir: %s\n", json_string_value(json_object_get(result, "error")));
        exit_code = EXIT_USAGE;
    } else if (rc != MK_OK) {
        const char *why = json_string_value(json_object_get(result, "error"));
        bool refused = json_is_true(json_object_get(result, "refused"));
        fprintf(stderr, "mokit: push: %s%s\n", refused ? "the server refused a bundle: " : "",
                why ? why : mk_strerror(rc));
        if (json_integer_value(json_object_get(result, "residents_done")) > 0)
            fprintf(stderr,
                    "mokit: %lld of %lld residents are on the server; run the same "
                    "command again to continue\n",
                    (long long)json_integer_value(json_object_get(result, "residents_done")),
                    (long long)json_integer_value(json_object_get(result, "residents_total")));
        exit_code = rc == MK_EINVAL ? EXIT_INVALID : EXIT_SYSTEM;
    }
    if (json_output && result) {
        print_json(result);
    } else if (rc == MK_OK) {
        long long b = json_integer_value(json_object_get(result, "batches"));
        long long res = json_integer_value(json_object_get(result, "residents"));
        long long retr = json_integer_value(json_object_get(result, "retries"));
        if (b == 0)
            printf("nothing new to push to %s: all %lld residents were sent (--restart sends "
                   "them again)\n",
                   url, (long long)json_integer_value(json_object_get(result, "residents_done")));
        else
            printf("pushed %lld residents in %lld bundles to %s (%lld retries)\n", res, b, url,
                   retr);
    }
    json_decref(result);
    return exit_code;
}
