/* `mokit referrals` and `mokit matches`: at the hospital, the referred residents expected and
 * their arrival (a scan of the wristband or the referral slip), and the likely matches an
 * import listed for review. Against the data directory, or PostgreSQL with --pg. */
#include "../common/err.h"
#include "../domain/obs.h"
#include "../export/records.h"
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_of(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static const char *sex_vi(json_t *p)
{
    return !strcmp(s_of(p, "sex"), "female") ? "Nữ" : "Nam";
}

static void print_pending(json_t *list)
{
    size_t i;
    json_t *r;
    if (json_array_size(list) == 0) {
        printf("no referred resident is expected\n");
        return;
    }
    json_array_foreach(list, i, r)
    {
        json_t *p = json_object_get(r, "patient");
        printf("%-7s %s  %s, %s, %lld, %s  -> %s: %s  [%s, %s, %lld days]\n", s_of(r, "urgency"),
               s_of(p, "code"), s_of(p, "name"), sex_vi(p),
               (long long)json_integer_value(json_object_get(p, "birth_year")), s_of(p, "commune"),
               s_of(r, "to"), s_of(r, "reason"), s_of(r, "campaign"), s_of(r, "day"),
               (long long)json_integer_value(json_object_get(r, "days_since")));
    }
    printf("%zu referred residents expected\n", json_array_size(list));
}

/* The screening record the hospital needs at the door: per visit the readings, the findings
 * and why the resident was referred. */
static void print_record(json_t *rec)
{
    json_t *p = json_object_get(rec, "patient");
    printf("%s  %s, %s, %lld, %s\n", s_of(p, "code"), s_of(p, "name"), sex_vi(p),
           (long long)json_integer_value(json_object_get(p, "birth_year")), s_of(p, "commune"));
    size_t i, k;
    json_t *v, *x;
    json_array_foreach(json_object_get(rec, "visits"), i, v)
    {
        printf("  visit %s (%s)\n", s_of(v, "day"), s_of(v, "campaign"));
        json_array_foreach(json_object_get(v, "observations"), k, x)
        {
            const struct obs_kind *kind = obs_kind_find(s_of(x, "code"));
            json_t *vals = json_object_get(x, "values");
            double nums[OBS_MAX_COMPONENTS] = {0};
            int present[OBS_MAX_COMPONENTS] = {0};
            for (int c = 0; kind && c < kind->ncomp; c++) {
                json_t *n = json_object_get(vals, kind->comp[c]);
                present[c] = json_is_number(n);
                nums[c] = json_number_value(n);
            }
            char text[160];
            if (kind && obs_describe(kind, nums, present, text, sizeof text) > 0)
                printf("    %s\n", text);
        }
        json_array_foreach(json_object_get(v, "findings"), k, x)
        {
            printf("    %s %s\n", s_of(x, "code"), s_of(x, "label"));
        }
        json_array_foreach(json_object_get(v, "referrals"), k, x)
        {
            printf("    referred (%s) to %s: %s [%s]\n", s_of(x, "urgency"), s_of(x, "to"),
                   s_of(x, "reason"), s_of(x, "status"));
        }
    }
}

static int referrals_pending(const char *campaign, const char *pg)
{
    json_t *list = NULL;
    int rc;
    if (pg) {
#ifdef MOKIT_PG
        rc = records_pg_referrals_pending(pg, campaign, &list);
#else
        fprintf(stderr, "mokit: this build has no PostgreSQL support (built with PG=0)\n");
        return EXIT_USAGE;
#endif
    } else {
        struct store *st;
        if ((rc = open_store(&st)) != 0)
            return rc;
        rc = records_referrals_pending(st, campaign, &list);
        store_close(st);
    }
    if (rc != MK_OK)
        return fail_rc(rc, "referrals");
    if (json_output)
        print_json(list);
    else
        print_pending(list);
    json_decref(list);
    return 0;
}

static int referrals_arrive(const char *scan, const char *pg)
{
    json_t *rec = NULL;
    int rc;
    if (pg) {
#ifdef MOKIT_PG
        rc = records_pg_arrive(pg, cli_actor.label, scan, &rec);
#else
        fprintf(stderr, "mokit: this build has no PostgreSQL support (built with PG=0)\n");
        return EXIT_USAGE;
#endif
    } else {
        struct store *st;
        if ((rc = open_store(&st)) != 0)
            return rc;
        rc = records_arrive(st, &cli_actor, scan, &rec);
        store_close(st);
    }
    if (rc == MK_EINVAL || rc == MK_ECHECK) {
        fprintf(stderr, "mokit: the scan is not a patient code (wristband or referral slip): %s\n",
                mk_strerror(rc));
        return EXIT_INVALID;
    }
    if (rc == MK_ENOTFOUND) {
        fprintf(stderr, "mokit: no resident here carries that code (is their campaign's package "
                        "imported?)\n");
        return EXIT_INVALID;
    }
    if (rc == MK_EEXIST) {
        fprintf(stderr,
                "mokit: %zu residents carry that code (two kits drew it) and the "
                "referrals do not tell which: look them up by name\n",
                json_array_size(json_object_get(rec, "patients")));
        if (json_output)
            print_json(rec);
        json_decref(rec);
        return EXIT_INVALID;
    }
    if (rc != MK_OK && rc != MK_ERANGE)
        return fail_rc(rc, "arrival");
    if (json_output) {
        json_object_set_new(rec, "had_open_referral", json_boolean(rc == MK_OK));
        print_json(rec);
    } else {
        if (rc == MK_ERANGE)
            printf("no open referral: nothing marked\n");
        else
            printf("arrived: %zu referral(s) marked\n",
                   json_array_size(json_object_get(rec, "arrived")));
        print_record(rec);
    }
    json_decref(rec);
    return 0;
}

int cmd_referrals(int argc, char **argv)
{
    static const char help[] =
        "usage: mokit referrals --pending [--campaign C] [--pg URL]\n"
        "       mokit referrals arrive SCAN [--pg URL]\n"
        "At the hospital, after `mokit import`: the referred residents not yet arrived, urgent\n"
        "first, then the oldest; and a resident's arrival: SCAN is what the scanner types from\n"
        "the wristband or the referral slip (the patient code). Their open referrals are marked\n"
        "arrived and their screening record is shown. --pg: the PostgreSQL store.\n";
    struct opt o[] = {{"pending", 0, 0}, {"campaign", 1, 0}, {"pg", 1, 0}};
    const int n = sizeof o / sizeof o[0];
    const char *pos[2];
    int npos;
    if (wants_help(argc, argv, 2)) {
        fputs(help, stdout);
        return 0;
    }
    if (parse_opts(argc, argv, 2, o, n, pos, 2, &npos) != 0) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    const char *pg = opt_get(o, n, "pg");
    if (npos == 0 && opt_get(o, n, "pending"))
        return referrals_pending(opt_get(o, n, "campaign"), pg);
    if (npos == 2 && !strcmp(pos[0], "arrive") && !opt_get(o, n, "pending"))
        return referrals_arrive(pos[1], pg);
    fputs(help, stderr);
    return EXIT_USAGE;
}

int cmd_matches(int argc, char **argv)
{
    static const char help[] = "usage: mokit matches [--pg URL]\n"
                               "At the hospital: residents an import added who look like someone "
                               "already here (same\n"
                               "name, birth year, commune), for a person to review. Never merged "
                               "by mokit.\n";
    struct opt o[] = {{"pg", 1, 0}};
    const char *pos[1];
    int npos, rc;
    if (wants_help(argc, argv, 2)) {
        fputs(help, stdout);
        return 0;
    }
    if (parse_opts(argc, argv, 2, o, 1, pos, 0, &npos) != 0) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    const char *pg = opt_get(o, 1, "pg");
    json_t *list = NULL;
    if (pg) {
#ifdef MOKIT_PG
        rc = records_pg_matches(pg, &list);
#else
        fprintf(stderr, "mokit: this build has no PostgreSQL support (built with PG=0)\n");
        return EXIT_USAGE;
#endif
    } else {
        struct store *st;
        if ((rc = open_store(&st)) != 0)
            return rc;
        rc = records_matches(st, &list);
        store_close(st);
    }
    if (rc != MK_OK)
        return fail_rc(rc, "matches");
    if (json_output) {
        print_json(list);
    } else {
        size_t i;
        json_t *m;
        json_array_foreach(list, i, m)
        {
            json_t *a = json_object_get(m, "patient"), *b = json_object_get(m, "other");
            printf("%s %s (%lld, %s) ~ %s %s (%lld, %s): %s\n", s_of(a, "code"), s_of(a, "name"),
                   (long long)json_integer_value(json_object_get(a, "birth_year")),
                   s_of(a, "commune"), s_of(b, "code"), s_of(b, "name"),
                   (long long)json_integer_value(json_object_get(b, "birth_year")),
                   s_of(b, "commune"), s_of(m, "reason"));
        }
        printf("%zu likely matches to review\n", json_array_size(list));
    }
    json_decref(list);
    return 0;
}
