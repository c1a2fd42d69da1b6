/* mokit: the kit's command line, for setup, registration at a terminal, and checks.
 * Works on the data directory directly (SQLite allows it while mokitd runs).
 * Exit codes: 0 ok, 1 usage, 2 invalid input, not found or duplicate, 3 system error. */
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "demo/seed.h"
#include "devices/record.h"
#include "fw_device.h"
#include "print/jobs.h"
#include "print/layout.h"
#include "print/wifi.h"
#include "domain/cccd.h"
#include "domain/code.h"
#include "domain/keyfile.h"
#include "domain/screen.h"
#include "domain/text.h"
#include "api/body.h"
#include "cli/cli.h"
#include "store/store.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <math.h>
#include <pwd.h>
#include <time.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int json_output;
const char *data_dir;
static char actor_label[80];
struct actor cli_actor;

int parse_opts(int argc, char **argv, int from, struct opt *opts, int nopts, const char **pos,
               int nposmax, int *npos)
{
    *npos = 0;
    for (int i = from; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (*npos == nposmax) {
                fprintf(stderr, "mokit: unexpected argument \"%s\"\n", a);
                return EXIT_USAGE;
            }
            pos[(*npos)++] = a;
            continue;
        }
        int k;
        for (k = 0; k < nopts; k++)
            if (strcmp(opts[k].name, a + 2) == 0)
                break;
        if (k == nopts) {
            fprintf(stderr, "mokit: unknown option %s\n", a);
            return EXIT_USAGE;
        }
        if (opts[k].has_arg) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mokit: %s needs a value\n", a);
                return EXIT_USAGE;
            }
            opts[k].value = argv[++i];
        } else {
            opts[k].value = "";
        }
    }
    return 0;
}

const char *opt_get(const struct opt *opts, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(opts[i].name, name) == 0)
            return opts[i].value;
    return NULL;
}

bool wants_help(int argc, char **argv, int from)
{
    for (int i = from; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

int open_store(struct store **st)
{
    int rc = store_open(data_dir, st);
    if (rc != MK_OK) {
        fprintf(stderr, "mokit: cannot open the data in %s: %s\n", data_dir, mk_strerror(rc));
        return EXIT_SYSTEM;
    }
    return 0;
}

int fail_rc(int rc, const char *what)
{
    fprintf(stderr, "mokit: %s: %s\n", what, mk_strerror(rc));
    return rc == MK_EINVAL || rc == MK_ENOTFOUND || rc == MK_EEXIST || rc == MK_ELIKELY ||
                   rc == MK_ECHECK || rc == MK_ERANGE
               ? EXIT_INVALID
               : EXIT_SYSTEM;
}

void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) {
        puts(s);
        free(s);
    }
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

static void print_patient_line(json_t *p)
{
    char grouped[16] = "-";
    const char *code = json_string_value(json_object_get(p, "code"));
    if (code && strlen(code) == CODE_LEN)
        code_format(code, grouped);
    json_t *bd = json_object_get(p, "birth_date");
    printf("%s  %-28s %-6s %-10s %s / %s", grouped, str(p, "name"), str(p, "sex"),
           json_is_string(bd) ? json_string_value(bd) : "", str(p, "commune"), str(p, "village"));
    if (!json_is_string(bd))
        printf("  (born %lld)", (long long)json_integer_value(json_object_get(p, "birth_year")));
    if (json_object_get(p, "match"))
        printf("  [%s]", str(p, "match"));
    putchar('\n');
}

/* ---- campaign ---- */

static int cmd_campaign(int argc, char **argv)
{
    static const char help[] =
        "usage: mokit campaign create --code CODE --name NAME [--province P] [--district D]\n"
        "                             [--commune C] [--village V] [--start YYYY-MM-DD]\n"
        "                             [--end YYYY-MM-DD] [--hospital H]\n"
        "       mokit campaign list\n"
        "       mokit campaign hospital-key|id-systems ...   (see --help of each)\n";
    struct opt o[] = {{"code", 1, 0},     {"name", 1, 0},    {"province", 1, 0},
                      {"district", 1, 0}, {"commune", 1, 0}, {"village", 1, 0},
                      {"start", 1, 0},    {"end", 1, 0},     {"hospital", 1, 0}};
    const int n = sizeof o / sizeof o[0];
    const char *pos[1];
    int npos, rc;
    struct store *st;
    json_t *out;

    if (argc >= 3 && (!strcmp(argv[2], "hospital-key") || !strcmp(argv[2], "id-systems")))
        return cmd_campaign_handoff(argc, argv);
    if (argc < 3 || wants_help(argc, argv, 2)) {
        fputs(help, argc < 3 ? stderr : stdout);
        return argc < 3 ? EXIT_USAGE : 0;
    }
    if (parse_opts(argc, argv, 3, o, n, pos, 0, &npos) != 0) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[2], "create") == 0) {
        struct campaign_in c = {
            opt_get(o, n, "code"),     opt_get(o, n, "name"),    opt_get(o, n, "province"),
            opt_get(o, n, "district"), opt_get(o, n, "commune"), opt_get(o, n, "village"),
            opt_get(o, n, "start"),    opt_get(o, n, "end"),     opt_get(o, n, "hospital")};
        if (!c.code || !c.name) {
            fputs(help, stderr);
            return EXIT_USAGE;
        }
        if ((rc = open_store(&st)) != 0)
            return rc;
        rc = store_campaign_create(st, &cli_actor, &c, &out);
        store_close(st);
        if (rc == MK_EEXIST) {
            fprintf(stderr, "mokit: a campaign with code %s exists already\n", c.code);
            return EXIT_INVALID;
        }
        if (rc == MK_EINVAL) {
            fprintf(stderr, "mokit: campaign dates must be YYYY-MM-DD, start before end\n");
            return EXIT_INVALID;
        }
        if (rc != MK_OK)
            return fail_rc(rc, "campaign create");
        if (json_output)
            print_json(out);
        else
            printf("campaign %s created (%s)\n", c.code, str(out, "id"));
        json_decref(out);
        return 0;
    }
    if (strcmp(argv[2], "list") == 0) {
        if ((rc = open_store(&st)) != 0)
            return rc;
        rc = store_campaign_list(st, &out);
        store_close(st);
        if (rc != MK_OK)
            return fail_rc(rc, "campaign list");
        if (json_output) {
            print_json(out);
        } else {
            size_t i;
            json_t *c;
            json_array_foreach(out, i, c)
            {
                printf("%-20s %-10s %s\n", str(c, "code"), str(c, "start_date"), str(c, "name"));
            }
        }
        json_decref(out);
        return 0;
    }
    fputs(help, stderr);
    return EXIT_USAGE;
}

/* Reads one line: from the terminal without echo when there is one, else from stdin. */
static int read_secret(const char *prompt, char *out, size_t size)
{
    if (isatty(STDIN_FILENO)) {
        const char *p = getpass(prompt);
        if (!p || strlen(p) >= size)
            return -1;
        snprintf(out, size, "%s", p);
    } else if (!fgets(out, (int)size, stdin)) {
        return -1;
    }
    out[strcspn(out, "\r\n")] = '\0';
    return out[0] ? 0 : -1;
}

/* ---- staff ---- */

static int cmd_staff(int argc, char **argv)
{
    static const char help[] =
        "usage: mokit staff add --name NAME --role ROLE [--pin PIN] [--specialty S]\n"
        "       mokit staff list\n"
        "ROLE is registrar, nurse, doctor, pharmacist or lead; PIN is 4-8 digits and must\n"
        "differ from every other active staff member's. Without --pin the PIN is asked for\n"
        "(not shown) or read from standard input: a PIN on the command line shows in `ps`\n"
        "and the shell's history.\n";
    struct opt o[] = {{"name", 1, 0}, {"role", 1, 0}, {"pin", 1, 0}, {"specialty", 1, 0}};
    const int n = sizeof o / sizeof o[0];
    const char *pos[1];
    int npos, rc;
    struct store *st;
    json_t *out;

    if (argc < 3 || wants_help(argc, argv, 2)) {
        fputs(help, argc < 3 ? stderr : stdout);
        return argc < 3 ? EXIT_USAGE : 0;
    }
    if (parse_opts(argc, argv, 3, o, n, pos, 0, &npos) != 0) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[2], "add") == 0) {
        const char *name = opt_get(o, n, "name"), *role = opt_get(o, n, "role");
        const char *pin = opt_get(o, n, "pin");
        char typed[32];
        if (!name || !role) {
            fputs(help, stderr);
            return EXIT_USAGE;
        }
        if (!pin) {
            if (read_secret("PIN: ", typed, sizeof typed) != 0) {
                fprintf(stderr, "mokit: no PIN given\n");
                return EXIT_USAGE;
            }
            pin = typed;
        }
        char *clean;
        if (text_clean(name, &clean) != MK_OK) {
            fprintf(stderr, "mokit: the name is not valid UTF-8 text\n");
            return EXIT_INVALID;
        }
        if ((rc = open_store(&st)) != 0) {
            free(clean);
            return rc;
        }
        rc = store_staff_add(st, &cli_actor, clean, role, opt_get(o, n, "specialty"), pin, &out);
        store_close(st);
        free(clean);
        if (rc == MK_EEXIST) {
            fprintf(stderr, "mokit: another active staff member has this PIN: choose another\n");
            return EXIT_INVALID;
        }
        if (rc == MK_EINVAL) {
            fprintf(stderr, "mokit: invalid staff: the role must be registrar, nurse, doctor, "
                            "pharmacist or lead, and the PIN 4-8 digits\n");
            return EXIT_INVALID;
        }
        if (rc != MK_OK)
            return fail_rc(rc, "staff add");
        if (json_output)
            print_json(out);
        else
            printf("%s added as %s (%s)\n", str(out, "name"), str(out, "role"), str(out, "id"));
        json_decref(out);
        return 0;
    }
    if (strcmp(argv[2], "list") == 0) {
        if ((rc = open_store(&st)) != 0)
            return rc;
        rc = store_staff_list(st, &out);
        store_close(st);
        if (rc != MK_OK)
            return fail_rc(rc, "staff list");
        if (json_output) {
            print_json(out);
        } else {
            size_t i;
            json_t *s;
            json_array_foreach(out, i, s)
            {
                printf("%-11s %-30s %s\n", str(s, "role"), str(s, "name"), str(s, "id"));
            }
        }
        json_decref(out);
        return 0;
    }
    fputs(help, stderr);
    return EXIT_USAGE;
}

/* ---- patient ---- */

static int patient_register(int argc, char **argv)
{
    static const char help[] =
        "usage: mokit patient register --name NAME --sex male|female --birth YYYY|YYYY-MM-DD\n"
        "         [--cccd 12DIGITS] [--bhyt NUMBER] [--ethnicity NAME|CODE] [--phone N]\n"
        "         [--province P] [--district D] [--commune C] [--village V] [--address A]\n"
        "         [--campaign CODE] [--consent] [--confirm-new]\n"
        "A missing commune/district/province is taken from the campaign (default: current).\n"
        "--confirm-new registers even when a likely duplicate (same name, birth year +-1,\n"
        "commune) exists. The same CCCD or BHYT number never makes a second record.\n";
    struct opt o[] = {{"name", 1, 0},     {"sex", 1, 0},         {"birth", 1, 0},
                      {"cccd", 1, 0},     {"bhyt", 1, 0},        {"ethnicity", 1, 0},
                      {"phone", 1, 0},    {"province", 1, 0},    {"district", 1, 0},
                      {"commune", 1, 0},  {"village", 1, 0},     {"address", 1, 0},
                      {"campaign", 1, 0}, {"confirm-new", 0, 0}, {"consent", 0, 0}};
    const int n = sizeof o / sizeof o[0];
    const char *pos[1];
    int npos, rc;
    if (wants_help(argc, argv, 3)) {
        fputs(help, stdout);
        return 0;
    }
    if (parse_opts(argc, argv, 3, o, n, pos, 0, &npos) != 0 || !opt_get(o, n, "name") ||
        !opt_get(o, n, "sex") || !opt_get(o, n, "birth")) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    /* The same checks as the API: build the request body and let body.c judge it. */
    json_t *body = json_object();
    static const char *const keys[] = {"name",      "sex",     "birth",    "cccd",     "bhyt",
                                       "ethnicity", "phone",   "province", "district", "commune",
                                       "village",   "address", "campaign"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = opt_get(o, n, keys[i]);
        if (v)
            json_object_set_new(body, keys[i], json_string(v));
    }
    json_object_set_new(body, "confirm_new", json_boolean(opt_get(o, n, "confirm-new") != NULL));
    json_object_set_new(body, "consent", json_boolean(opt_get(o, n, "consent") != NULL));

    struct patient_body b;
    struct body_err err;
    struct date today;
    char day[11];
    util_today(day);
    date_parse(day, &today);
    if (body_patient(body, &today, &b, &err) != MK_OK) {
        fprintf(stderr, "mokit: %s%s%s\n", err.field ? err.field : "", err.field ? ": " : "",
                err.message);
        json_decref(body);
        return EXIT_INVALID;
    }
    struct store *st;
    json_t *camp = NULL, *out = NULL;
    if ((rc = open_store(&st)) != 0)
        goto done;
    int src =
        b.campaign ? store_campaign_get(st, b.campaign, &camp) : store_campaign_current(st, &camp);
    if (src == MK_ENOTFOUND) {
        fprintf(stderr, "mokit: %s\n",
                b.campaign ? "no such campaign"
                           : "no current campaign: create one with `mokit campaign create`");
        rc = EXIT_INVALID;
        goto close;
    }
    if (src != MK_OK) {
        rc = fail_rc(src, "campaign");
        goto close;
    }
    src = store_patient_register(
        st, &cli_actor, &b.p, json_string_value(json_object_get(camp, "id")), b.confirm_new, &out);
    rc = 0;
    if (src == MK_OK) {
        if (json_output)
            print_json(out);
        else
            print_patient_line(out);
    } else if (src == MK_EEXIST) {
        fprintf(stderr, "mokit: already registered with this CCCD/BHYT number:\n");
        if (json_output)
            print_json(out);
        else
            print_patient_line(out);
        rc = EXIT_INVALID;
    } else if (src == MK_ELIKELY) {
        fprintf(stderr, "mokit: likely already registered (same name, birth year, commune); "
                        "check these, or add --confirm-new:\n");
        size_t i;
        json_t *c;
        if (json_output)
            print_json(out);
        else
            json_array_foreach(out, i, c) print_patient_line(c);
        rc = EXIT_INVALID;
    } else {
        rc = fail_rc(src, "patient register");
    }
close:
    json_decref(out);
    json_decref(camp);
    store_close(st);
done:
    body_patient_free(&b);
    json_decref(body);
    return rc;
}

static int patient_find(int argc, char **argv)
{
    static const char help[] =
        "usage: mokit patient find QUERY [--birth-year YYYY] [--village V] [--limit N]\n"
        "QUERY is part of a name (accents optional), a patient code, or a CCCD, BHYT or\n"
        "phone number.\n";
    struct opt o[] = {{"birth-year", 1, 0}, {"village", 1, 0}, {"limit", 1, 0}};
    const int n = sizeof o / sizeof o[0];
    const char *pos[1] = {NULL};
    int npos, rc;
    if (wants_help(argc, argv, 3)) {
        fputs(help, stdout);
        return 0;
    }
    if (parse_opts(argc, argv, 3, o, n, pos, 1, &npos) != 0) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    struct search_query q = {pos[0], 0, opt_get(o, n, "village"), 20};
    const char *y = opt_get(o, n, "birth-year"), *l = opt_get(o, n, "limit");
    if (y)
        q.birth_year = atoi(y);
    if (l)
        q.limit = atoi(l);
    if ((y && (q.birth_year < 1900 || q.birth_year > 2100)) ||
        (l && (q.limit < 1 || q.limit > 100))) {
        fprintf(stderr, "mokit: --birth-year must be 1900-2100 and --limit 1-100\n");
        return EXIT_INVALID;
    }
    if (!q.q && !q.birth_year && !q.village) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    struct store *st;
    json_t *out;
    if ((rc = open_store(&st)) != 0)
        return rc;
    rc = store_patient_search(st, &q, &out);
    store_close(st);
    if (rc != MK_OK)
        return fail_rc(rc, "search");
    if (json_output) {
        print_json(out);
    } else {
        size_t i;
        json_t *p;
        json_array_foreach(out, i, p) print_patient_line(p);
        if (json_array_size(out) == 0)
            fprintf(stderr, "no patient found\n");
    }
    rc = json_array_size(out) ? 0 : EXIT_INVALID;
    json_decref(out);
    return rc;
}

static int check_code_arg(const char *raw, char code[CODE_LEN + 1])
{
    int rc = code_parse(raw, code);
    if (rc == MK_ECHECK)
        fprintf(stderr, "mokit: %s: the check character is wrong (mistyped or misread?)\n", raw);
    else if (rc != MK_OK)
        fprintf(stderr, "mokit: %s: a patient code is 12 letters and digits\n", raw);
    return rc;
}

static int patient_show(int argc, char **argv)
{
    static const char help[] = "usage: mokit patient show CODE\n";
    char code[CODE_LEN + 1];
    int rc;
    if (wants_help(argc, argv, 3)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc != 4) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    if (check_code_arg(argv[3], code) != MK_OK)
        return EXIT_INVALID;
    struct store *st;
    json_t *p, *visits = NULL;
    if ((rc = open_store(&st)) != 0)
        return rc;
    rc = store_patient_get(st, code, &p);
    if (rc == MK_OK) {
        rc = store_patient_visits(st, json_string_value(json_object_get(p, "id")), &visits);
        if (rc == MK_OK)
            json_object_set_new(p, "visits", visits);
    }
    store_close(st);
    if (rc == MK_ENOTFOUND) {
        fprintf(stderr, "mokit: no patient has code %s\n", code);
        return EXIT_INVALID;
    }
    if (rc != MK_OK)
        return fail_rc(rc, "patient show");
    if (json_output) {
        print_json(p);
    } else {
        static const char *const keys[] = {
            "code_display", "name",     "sex",        "birth_date", "birth_year", "ethnicity_name",
            "province",     "district", "commune",    "village",    "address",    "cccd",
            "bhyt",         "phone",    "consent_at", "campaign",   "created_at"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            json_t *v = json_object_get(p, keys[i]);
            if (json_is_string(v))
                printf("%-15s %s\n", keys[i], json_string_value(v));
            else if (json_is_integer(v))
                printf("%-15s %lld\n", keys[i], (long long)json_integer_value(v));
        }
        printf("%-15s %zu\n", "visits", json_array_size(json_object_get(p, "visits")));
    }
    json_decref(p);
    return 0;
}

static int cmd_patient(int argc, char **argv)
{
    static const char help[] = "usage: mokit patient register|find|show ... (--help for each)\n";
    if (argc < 3) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[2], "register") == 0)
        return patient_register(argc, argv);
    if (strcmp(argv[2], "find") == 0)
        return patient_find(argc, argv);
    if (strcmp(argv[2], "show") == 0)
        return patient_show(argc, argv);
    fputs(help, wants_help(argc, argv, 2) ? stdout : stderr);
    return wants_help(argc, argv, 2) ? 0 : EXIT_USAGE;
}

/* ---- id, code, demo ---- */

static int cmd_id(int argc, char **argv)
{
    static const char help[] = "usage: mokit id parse-cccd 'QR TEXT'\n"
                               "Parses the QR text of a chip citizen ID card (CCCD):\n"
                               "ID|old ID|name|birth DDMMYYYY|sex|address|issue date DDMMYYYY\n";
    if (wants_help(argc, argv, 2)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc != 4 || strcmp(argv[2], "parse-cccd") != 0) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    struct cccd c;
    char msg[200], birth[11], issued[11];
    int rc = cccd_parse(argv[3], strlen(argv[3]), &c, msg, sizeof msg);
    if (rc == MK_ENOMEM)
        return fail_rc(rc, "parse-cccd");
    if (rc != MK_OK) {
        fprintf(stderr, "mokit: not a valid CCCD QR: %s\n", msg);
        return EXIT_INVALID;
    }
    date_format(&c.birth, birth);
    date_format(&c.issued, issued);
    json_t *o = json_pack("{s:s, s:s?, s:s, s:s, s:s, s:s, s:s}", "id", c.id, "old_id",
                          c.old_id[0] ? c.old_id : NULL, "name", c.name, "birth_date", birth, "sex",
                          sex_name(c.sex), "address", c.address, "issue_date", issued);
    if (json_output) {
        print_json(o);
    } else {
        printf("id          %s\nold id      %s\nname        %s\nbirth date  %s\nsex         %s\n"
               "address     %s\nissue date  %s\n",
               c.id, c.old_id[0] ? c.old_id : "-", c.name, birth, sex_name(c.sex), c.address,
               issued);
    }
    json_decref(o);
    cccd_free(&c);
    return 0;
}

static int cmd_code(int argc, char **argv)
{
    static const char help[] = "usage: mokit code check CODE\n"
                               "Says whether a patient code's check character is right.\n";
    char code[CODE_LEN + 1];
    if (wants_help(argc, argv, 2)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc != 4 || strcmp(argv[2], "check") != 0) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    int rc = check_code_arg(argv[3], code);
    if (json_output) {
        json_t *o = json_pack("{s:s, s:b}", "code", argv[3], "valid", rc == MK_OK);
        print_json(o);
        json_decref(o);
    } else if (rc == MK_OK) {
        char grouped[16];
        code_format(code, grouped);
        printf("%s: valid\n", grouped);
    }
    return rc == MK_OK ? 0 : EXIT_INVALID;
}

/* ---- printers ---- */

/* A string member, or "" (str() shows "-" for a missing one). */
static const char *text_of(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static void print_printer_line(json_t *p)
{
    const char *err = text_of(p, "last_error");
    printf("%-12s %-12s %-9s %-10s %3lld queued  %s%s%s\n", str(p, "name"), str(p, "profile"),
           json_is_true(json_object_get(p, "enabled")) ? str(p, "state") : "disabled",
           str(p, "kinds"), (long long)json_integer_value(json_object_get(p, "queued")),
           str(p, "uri"), err[0] ? "  -- " : "", err);
}

static int printer_profiles(void)
{
    json_t *list = json_array();
    for (size_t i = 0; i < fw_profiles_count; i++) {
        const struct fw_profile *p = &fw_profiles[i];
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:i, s:i, s:b, s:b, s:b, s:i}",
                                              "name", p->name, "model", p->model, "language",
                                              p->language == FW_LANG_ZPL ? "zpl" : "escpos",
                                              "dots_per_line", p->dots_per_line, "dpi", p->dpi,
                                              "native_qr", p->native_qr, "cutter", p->cutter,
                                              "busy_line", p->busy_line, "baud", p->baud));
        if (!json_output)
            printf("%-13s %-6s %4d dots  %-9s %s\n", p->name,
                   p->language == FW_LANG_ZPL ? "ZPL" : "ESC/POS", p->dots_per_line,
                   p->native_qr ? "native QR" : "raster QR", p->model);
    }
    if (json_output)
        print_json(list);
    json_decref(list);
    return 0;
}

static int cmd_printer(int argc, char **argv)
{
    static const char help[] =
        "usage: mokit printer list\n"
        "       mokit printer profiles\n"
        "       mokit printer add NAME --profile P --uri URI --kinds K[,K...]\n"
        "       mokit printer set NAME [--uri URI] [--kinds K[,K...]] [--enable|--disable]\n"
        "list: the kit's printers, their state as mokitd last saw it, and jobs waiting.\n"
        "profiles: the printer models mokit knows (width, QR, cutter, busy line, baud).\n"
        "URI: usb: | usb:VID:PID[:SERIAL] | lp:/dev/usb/lp0 |\n"
        "     serial:/dev/ttyAMA0[?baud=19200][&busy=gpiochip0:17] | file:PATH | sim:DIR\n"
        "Kinds: ticket, wristband, slip, test (what it prints when a job names no printer).\n";
    struct opt o[] = {
        {"profile", 1, 0}, {"uri", 1, 0}, {"kinds", 1, 0}, {"enable", 0, 0}, {"disable", 0, 0}};
    const int n = sizeof o / sizeof o[0];
    const char *pos[1];
    int npos, rc;
    if (wants_help(argc, argv, 2)) {
        fputs(help, stdout);
        return 0;
    }
    const char *sub = argc >= 3 ? argv[2] : "";
    if (parse_opts(argc, argv, 3, o, n, pos, 1, &npos) != 0) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(sub, "profiles") && npos == 0)
        return printer_profiles();
    struct store *st;
    json_t *out = NULL;
    if (!strcmp(sub, "list") && npos == 0) {
        if ((rc = open_store(&st)) != 0)
            return rc;
        rc = store_printer_list(st, &out);
        store_close(st);
        if (rc != MK_OK)
            return fail_rc(rc, "printer list");
        if (json_output) {
            print_json(out);
        } else {
            size_t i;
            json_t *p;
            json_array_foreach(out, i, p) print_printer_line(p);
            if (json_array_size(out) == 0)
                fprintf(stderr, "no printers: add one with `mokit printer add`\n");
        }
        json_decref(out);
        return 0;
    }
    bool add = !strcmp(sub, "add"), set = !strcmp(sub, "set");
    if ((!add && !set) || npos != 1 || (opt_get(o, n, "enable") && opt_get(o, n, "disable")) ||
        (add && (!opt_get(o, n, "profile") || !opt_get(o, n, "uri") || !opt_get(o, n, "kinds") ||
                 opt_get(o, n, "enable") || opt_get(o, n, "disable"))) ||
        (set && opt_get(o, n, "profile"))) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    const char *kinds = opt_get(o, n, "kinds"), *uri = opt_get(o, n, "uri");
    char msg[200];
    if (add && !store_printer_name_valid(pos[0])) {
        fprintf(stderr, "mokit: a printer name is 1-32 lower-case letters, digits, - or _\n");
        return EXIT_INVALID;
    }
    if (kinds && !store_printer_kinds_valid(kinds)) {
        fprintf(stderr, "mokit: --kinds is a comma list of ticket, wristband, slip, test\n");
        return EXIT_INVALID;
    }
    if ((rc = open_store(&st)) != 0)
        return rc;
    const char *profile = opt_get(o, n, "profile");
    json_t *old = NULL;
    int src = MK_OK;
    if (set) {
        src = store_printer_get(st, pos[0], &old);
        profile = old ? str(old, "profile") : NULL;
    }
    if (src == MK_OK && uri && print_printer_check(profile, uri, msg, sizeof msg) != MK_OK) {
        fprintf(stderr, "mokit: %s\n", msg);
        json_decref(old);
        store_close(st);
        return EXIT_INVALID;
    }
    if (src == MK_OK && add) {
        if (print_printer_check(profile, uri, msg, sizeof msg) != MK_OK) {
            fprintf(stderr, "mokit: %s\n", msg);
            store_close(st);
            return EXIT_INVALID;
        }
        struct printer_in in = {.name = pos[0], .profile = profile, .uri = uri, .kinds = kinds};
        src = store_printer_add(st, &cli_actor, &in, &out);
    } else if (src == MK_OK) {
        src = store_printer_update(st, &cli_actor, pos[0], uri, kinds,
                                   opt_get(o, n, "enable")    ? 1
                                   : opt_get(o, n, "disable") ? 0
                                                              : -1,
                                   &out);
    }
    json_decref(old);
    store_close(st);
    if (src == MK_EEXIST) {
        fprintf(stderr, "mokit: a printer called %s exists already\n", pos[0]);
        return EXIT_INVALID;
    }
    if (src == MK_ENOTFOUND) {
        fprintf(stderr, "mokit: no printer is called %s\n", pos[0]);
        return EXIT_INVALID;
    }
    if (src != MK_OK)
        return fail_rc(src, "printer");
    if (json_output)
        print_json(out);
    else
        print_printer_line(out);
    json_decref(out);
    return 0;
}

/* Writes len bytes to path through a temporary file beside it, fsync and a rename: the file
 * is whole or absent, even when two runs write the same path. 0, or -1 with errno set. */
static int write_file(const char *path, const void *data, size_t len)
{
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0)
        return -1;
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    int err = left ? errno : 0;
    if (!err && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    if (!err && rename(tmp, path) != 0)
        err = errno;
    if (err) {
        unlink(tmp);
        errno = err;
        return -1;
    }
    return 0;
}

/* Writes the layout's bytes (--out) and what the paper would show (--png). */
static int print_outputs(const struct fw_buf *b, const struct fw_profile *prof,
                         struct fw_font *names, struct fw_font *font_a, const char *out,
                         const char *png)
{
    if (out && write_file(out, b->data, b->len) != 0) {
        fprintf(stderr, "mokit: cannot write %s: %s\n", out, strerror(errno));
        return EXIT_SYSTEM;
    }
    if (!png)
        return 0;
    struct fw_bitmap paper;
    char err[160];
    int sim = prof->language == FW_LANG_ZPL
                  ? fw_sim_zpl(b->data, b->len, prof, names, &paper, err, sizeof err)
                  : fw_sim_escpos(b->data, b->len, prof, font_a, &paper, err, sizeof err);
    if (sim != FW_OK) {
        fprintf(stderr, "mokit: simulated print failed: %s\n",
                sim == FW_EINVAL ? err : fw_strerror(sim));
        return EXIT_SYSTEM;
    }
    int rc = 0;
    if (fw_png_write(png, &paper, prof->dpi) != FW_OK) {
        fprintf(stderr, "mokit: cannot write %s: %s\n", png, strerror(errno));
        rc = EXIT_SYSTEM;
    }
    fw_bitmap_free(&paper);
    return rc;
}

/* Waits until job is done or failed, up to 60 s: mokitd's spool prints it. */
static int wait_job(struct store *st, const char *id)
{
    for (int i = 0; i < 600; i++) {
        json_t *j;
        int rc = store_job_get(st, id, &j);
        if (rc != MK_OK)
            return fail_rc(rc, "print job");
        const char *state = str(j, "state");
        if (!strcmp(state, "done") || !strcmp(state, "failed") || !strcmp(state, "cancelled")) {
            int bad = strcmp(state, "done") != 0;
            if (bad)
                fprintf(stderr, "mokit: job %s %s: %s\n", id, state, str(j, "last_error"));
            json_decref(j);
            return bad ? EXIT_SYSTEM : 0;
        }
        json_decref(j);
        usleep(100000);
    }
    fprintf(stderr,
            "mokit: job %s has not printed after 60 s: is mokitd running? "
            "(`mokit printer list` shows the printer's state)\n",
            id);
    return EXIT_SYSTEM;
}

static void print_job_line(json_t *j)
{
    const char *err = text_of(j, "last_error");
    printf("%-36s %5lld %-10s %-9s %-10s %-12s %s%s%s\n", str(j, "id"),
           (long long)json_integer_value(json_object_get(j, "seq")), str(j, "printer"),
           str(j, "kind"), str(j, "state"), str(j, "patient"), str(j, "created_at"),
           err[0] ? "  -- " : "", err);
}

static int print_jobs_cmd(int argc, char **argv, const char *help)
{
    struct opt o[] = {{"printer", 1, 0}, {"limit", 1, 0}};
    const char *pos[1];
    int npos, rc, limit = 20;
    if (parse_opts(argc, argv, 3, o, 2, pos, 1, &npos) != 0) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    const char *sub = argv[2];
    bool list = !strcmp(sub, "jobs");
    if ((list && npos != 0) || (!list && npos != 1)) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    if (opt_get(o, 2, "limit")) {
        char *end;
        long v = strtol(opt_get(o, 2, "limit"), &end, 10);
        if (*end || v < 1 || v > 500) {
            fprintf(stderr, "mokit: --limit must be 1-500\n");
            return EXIT_INVALID;
        }
        limit = (int)v;
    }
    struct store *st;
    json_t *out = NULL;
    if ((rc = open_store(&st)) != 0)
        return rc;
    int src = list ? store_job_list(st, opt_get(o, 2, "printer"), NULL, limit, &out)
              : !strcmp(sub, "reprint") ? store_job_reprint(st, &cli_actor, pos[0], &out)
                                        : store_job_cancel(st, &cli_actor, pos[0], &out);
    store_close(st);
    if (src == MK_ENOTFOUND) {
        fprintf(stderr, "mokit: no print job %s\n", pos[0]);
        return EXIT_INVALID;
    }
    if (src == MK_EBUSY || src == MK_EINVAL) {
        fprintf(stderr, "mokit: job %s %s\n", pos[0],
                src == MK_EBUSY ? "is being sent to the printer: too late to cancel"
                                : "has finished: reprint it instead");
        return EXIT_INVALID;
    }
    if (src != MK_OK)
        return fail_rc(src, "print job");
    if (json_output) {
        print_json(out);
    } else if (list) {
        size_t i;
        json_t *j;
        json_array_foreach(out, i, j) print_job_line(j);
    } else {
        print_job_line(out);
    }
    json_decref(out);
    return 0;
}

static int read_all(const char *path, char **out, size_t *len);

/* The fonts of a layout: names (FW_FONT_DEFAULT) and the simulated printer's font A. 0, or
 * EXIT_SYSTEM with the reason said. */
static int open_fonts(struct fw_font **names, struct fw_font **font_a)
{
    *names = *font_a = NULL;
    if (fw_font_open(FW_FONT_DEFAULT, names) != FW_OK ||
        fw_font_open(FW_FONT_MONO, font_a) != FW_OK) {
        fprintf(stderr, "mokit: the DejaVu fonts are missing (fonts-dejavu-core)\n");
        fw_font_close(*names);
        *names = NULL;
        return EXIT_SYSTEM;
    }
    return 0;
}

/* `mokit print ready`: the slip a kit prints when it has booted (layout_ready), from the Wi-Fi
 * settings file; queued on a printer, or only laid out. Nothing is queued when the file is
 * wrong. */
static int print_ready(int argc, char **argv, const char *help)
{
    struct opt o[] = {{"wifi", 1, 0},    {"printer", 1, 0}, {"wait", 0, 0},
                      {"profile", 1, 0}, {"out", 1, 0},     {"png", 1, 0}};
    const int n = sizeof o / sizeof o[0];
    const char *pos[1];
    int npos, rc;
    if (parse_opts(argc, argv, 3, o, n, pos, 0, &npos) != 0) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    const char *path = opt_get(o, n, "wifi"), *printer = opt_get(o, n, "printer");
    bool outputs = opt_get(o, n, "out") || opt_get(o, n, "png");
    if (!path || (outputs && (printer || opt_get(o, n, "wait"))) ||
        (!outputs && opt_get(o, n, "profile"))) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    char *text, msg[300] = "";
    size_t len;
    if (read_all(path, &text, &len) != 0) {
        fprintf(stderr, "mokit: cannot read %s: %s\n", path, strerror(errno));
        return EXIT_INVALID;
    }
    struct wifi_conf w;
    rc = wifi_conf_parse(text, len, &w, msg, sizeof msg);
    sodium_memzero(text, len); /* it holds the Wi-Fi password */
    free(text);
    if (rc != MK_OK) {
        fprintf(stderr, "mokit: %s: %s\n", path, msg);
        return EXIT_INVALID;
    }
    const struct fw_profile *prof = NULL;
    if (outputs) {
        const char *pname = opt_get(o, n, "profile") ? opt_get(o, n, "profile") : "escpos-58";
        if (!(prof = fw_profile_find(pname))) {
            fprintf(stderr, "mokit: %s is not a printer profile (see `mokit printer profiles`)\n",
                    pname);
            sodium_memzero(&w, sizeof w);
            return EXIT_INVALID;
        }
    }
    struct fw_font *names, *font_a;
    struct store *st = NULL;
    if ((rc = open_fonts(&names, &font_a)) != 0 || (!outputs && (rc = open_store(&st)) != 0)) {
        fw_font_close(names);
        fw_font_close(font_a);
        sodium_memzero(&w, sizeof w);
        return rc;
    }
    struct print_req r = {.kind = "ready", .printer = printer, .wifi = &w};
    char pid[64], vid[64];
    struct fw_buf b;
    fw_buf_init(&b);
    json_t *job = NULL;
    /* Laid out only, the slip needs nothing from the store. */
    int src = outputs ? print_layout(NULL, &r, NULL, prof, names, &b, pid, vid, msg, sizeof msg)
                      : print_enqueue(st, &cli_actor, names, &r, &job, msg, sizeof msg);
    if (src != MK_OK) {
        fprintf(stderr, "mokit: %s\n", msg);
        rc =
            src == MK_EINVAL || src == MK_ENOTFOUND || src == MK_EBUSY ? EXIT_INVALID : EXIT_SYSTEM;
    } else if (!outputs) {
        if (json_output)
            print_json(job);
        else
            printf("ready slip queued on %s as job %s\n", str(job, "printer"), str(job, "id"));
        if (opt_get(o, n, "wait"))
            rc = wait_job(st, str(job, "id"));
    } else {
        rc = print_outputs(&b, prof, names, font_a, opt_get(o, n, "out"), opt_get(o, n, "png"));
        if (rc == 0 && !json_output)
            printf("ready slip on %s: %zu bytes\n", prof->name, b.len);
    }
    store_close(st);
    json_decref(job);
    fw_buf_free(&b);
    fw_font_close(names);
    fw_font_close(font_a);
    sodium_memzero(&w, sizeof w);
    return rc;
}

static int cmd_print(int argc, char **argv)
{
    static const char help[] =
        "usage: mokit print ticket|wristband --patient CODE [--station TEXT] OUTPUT\n"
        "       mokit print slip --visit ID --to PLACE --reason TEXT [--urgency U]\n"
        "                        [--doctor NAME] OUTPUT\n"
        "       mokit print test --printer NAME [--wait]\n"
        "       mokit print ready --wifi FILE [--printer NAME] [--wait]\n"
        "       mokit print ready --wifi FILE [--profile P] --out FILE.bin|--png FILE.png\n"
        "       mokit print jobs [--printer NAME] [--limit N]\n"
        "       mokit print reprint|cancel JOB\n"
        "OUTPUT is --printer NAME [--wait]: queued for that printer, mokitd prints it (--wait:\n"
        "until it has); or [--profile P] --out FILE.bin and/or --png FILE.png: only laid out\n"
        "for profile P (default escpos-58), the exact printer bytes or what the paper would\n"
        "show (the simulated printer).\n"
        "A ticket is for the patient's visit of today (its queue number). A referral slip\n"
        "lists the visit's last reading of each kind; --urgency is routine (default), soon or\n"
        "urgent.\n"
        "The ready slip, printed when the kit boots: the kit's addresses and a QR code that\n"
        "joins a phone to the kit's Wi-Fi, from FILE (lines \"ssid NAME\", \"password PASS\"\n"
        "(8-63 characters; none for an open network), \"url http://...\" (1-4); '#' comments).\n"
        "It is queued on --printer, or on the first enabled printer that prints tickets.\n";
    struct opt o[] = {{"patient", 1, 0}, {"profile", 1, 0}, {"station", 1, 0}, {"out", 1, 0},
                      {"png", 1, 0},     {"printer", 1, 0}, {"wait", 0, 0},    {"visit", 1, 0},
                      {"to", 1, 0},      {"reason", 1, 0},  {"urgency", 1, 0}, {"doctor", 1, 0}};
    const int n = sizeof o / sizeof o[0];
    const char *pos[1];
    int npos, rc;
    if (wants_help(argc, argv, 2)) {
        fputs(help, stdout);
        return 0;
    }
    const char *kind = argc >= 3 ? argv[2] : "";
    if (!strcmp(kind, "jobs") || !strcmp(kind, "reprint") || !strcmp(kind, "cancel"))
        return print_jobs_cmd(argc, argv, help);
    if (!strcmp(kind, "ready"))
        return print_ready(argc, argv, help);
    bool test = !strcmp(kind, "test"), slip = !strcmp(kind, "slip");
    const char *printer = NULL;
    if ((!test && !slip && strcmp(kind, "ticket") != 0 && strcmp(kind, "wristband") != 0) ||
        parse_opts(argc, argv, 3, o, n, pos, 0, &npos) != 0) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    printer = opt_get(o, n, "printer");
    bool outputs = opt_get(o, n, "out") || opt_get(o, n, "png");
    bool slip_opts = opt_get(o, n, "visit") || opt_get(o, n, "to") || opt_get(o, n, "reason") ||
                     opt_get(o, n, "urgency") || opt_get(o, n, "doctor");
    if ((test && (!printer || opt_get(o, n, "patient"))) ||
        (!test && !slip && !opt_get(o, n, "patient")) || (!slip && slip_opts) ||
        (slip && (opt_get(o, n, "patient") || opt_get(o, n, "station") || !opt_get(o, n, "visit") ||
                  !opt_get(o, n, "to") || !opt_get(o, n, "reason"))) ||
        (printer && (outputs || opt_get(o, n, "profile"))) || (!printer && !outputs) ||
        (!printer && opt_get(o, n, "wait"))) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    const char *urgency = opt_get(o, n, "urgency");
    if (urgency && strcmp(urgency, "routine") != 0 && strcmp(urgency, "soon") != 0 &&
        strcmp(urgency, "urgent") != 0) {
        fprintf(stderr, "mokit: --urgency is routine, soon or urgent\n");
        return EXIT_INVALID;
    }
    char code[CODE_LEN + 1] = "";
    if (!test && !slip && check_code_arg(opt_get(o, n, "patient"), code) != MK_OK)
        return EXIT_INVALID;
    const struct fw_profile *prof = NULL;
    if (!printer) {
        const char *pname = opt_get(o, n, "profile") ? opt_get(o, n, "profile") : "escpos-58";
        prof = fw_profile_find(pname);
        if (!prof) {
            fprintf(stderr, "mokit: %s is not a printer profile (see `mokit printer profiles`)\n",
                    pname);
            return EXIT_INVALID;
        }
    }
    struct fw_font *names, *font_a;
    if ((rc = open_fonts(&names, &font_a)) != 0)
        return rc;
    struct store *st;
    if ((rc = open_store(&st)) != 0) {
        fw_font_close(names);
        fw_font_close(font_a);
        return rc;
    }
    struct print_req r = {.kind = kind,
                          .patient = test || slip ? NULL : code,
                          .printer = printer,
                          .station = opt_get(o, n, "station"),
                          .visit = opt_get(o, n, "visit"),
                          .destination = opt_get(o, n, "to"),
                          .reason = opt_get(o, n, "reason"),
                          .urgency = urgency,
                          .doctor = opt_get(o, n, "doctor")};
    char msg[300] = "", pid[64], vid[64];
    struct fw_buf b;
    fw_buf_init(&b);
    json_t *job = NULL;
    int src = printer ? print_enqueue(st, &cli_actor, names, &r, &job, msg, sizeof msg)
                      : print_layout(st, &r, NULL, prof, names, &b, pid, vid, msg, sizeof msg);
    if (src != MK_OK) {
        fprintf(stderr, "mokit: %s\n", msg);
        rc =
            src == MK_EINVAL || src == MK_ENOTFOUND || src == MK_EBUSY ? EXIT_INVALID : EXIT_SYSTEM;
    } else if (printer) {
        if (json_output)
            print_json(job);
        else
            printf("%s queued on %s as job %s\n", kind, printer, str(job, "id"));
        if (opt_get(o, n, "wait"))
            rc = wait_job(st, str(job, "id"));
    } else {
        rc = print_outputs(&b, prof, names, font_a, opt_get(o, n, "out"), opt_get(o, n, "png"));
        if (rc == 0 && !json_output)
            printf("%s for %s on %s: %zu bytes\n", kind, slip ? r.visit : code, prof->name, b.len);
    }
    store_close(st);
    json_decref(job);
    fw_buf_free(&b);
    fw_font_close(names);
    fw_font_close(font_a);
    return rc;
}

/* ---- devices ---- */

static void print_line(json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(10));
    if (text)
        puts(text);
    free(text);
    json_decref(o);
}

/* One JSON line per reading, scan or rejected scan (the .golden files of tests/replay). */
static void print_decoded(void *ctx, double at, const struct fw_decoded *d)
{
    long *count = ctx;
    for (size_t i = 0; i < d->nreadings; i++) {
        const struct fw_reading *r = &d->readings[i];
        json_t *o = json_pack("{s:o, s:s, s:f, s:s}", "at", at >= 0 ? json_real(at) : json_null(),
                              "kind", r->kind, "value", r->value, "unit", r->unit);
        if (!isnan(r->value2) && strcmp(r->kind, "bp") == 0)
            json_object_set_new(o, "value2", json_real(r->value2));
        if (!isnan(r->value3) && strcmp(r->kind, "bp") == 0)
            json_object_set_new(o, "value3", json_real(r->value3));
        if (r->device_time)
            json_object_set_new(o, "device_time", json_integer(r->device_time));
        if (r->clock_local) /* the device's wall clock, as if UTC (it has no zone) */
            json_object_set_new(o, "device_clock", json_string("local"));
        if (r->stored)
            json_object_set_new(o, "stored", json_true());
        print_line(o);
        (*count)++;
    }
    if (d->device_clock) { /* the device told its clock ("now" by the device) */
        json_t *o = json_pack("{s:o, s:I}", "at", at >= 0 ? json_real(at) : json_null(), "clock",
                              (json_int_t)d->device_clock);
        if (d->device_clock_local)
            json_object_set_new(o, "device_clock", json_string("local"));
        print_line(o);
        (*count)++;
    }
    if (d->scanned) {
        json_t *o = json_pack("{s:o}", "at", at >= 0 ? json_real(at) : json_null());
        json_object_set_new(o, d->scanned > 0 ? "scan" : "rejected",
                            json_string(d->scanned > 0 ? d->scan : d->why));
        print_line(o);
        (*count)++;
    }
}

/* Reads a whole file (at most 64 MiB) into *out (NUL-terminated; caller frees). */
static int read_all(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        char *nb = cap < (64u << 20) ? realloc(buf, cap * 2 + 1) : NULL;
        if (!nb) {
            free(buf);
            buf = NULL;
            errno = EFBIG;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static volatile sig_atomic_t record_stop;

static void on_record_signal(int sig)
{
    (void)sig;
    record_stop = 1;
}

/* `mokit device record`: the capture to --out (whole or not at all) or standard output. */
static int device_record(const struct opt *o, int no)
{
    const char *driver = opt_get(o, no, "driver"), *device = opt_get(o, no, "device"),
               *secs = opt_get(o, no, "seconds"), *who = opt_get(o, no, "who"),
               *notes = opt_get(o, no, "notes"), *outp = opt_get(o, no, "out");
    char *end = NULL;
    double seconds = secs ? strtod(secs, &end) : 60;
    if (secs && (end == secs || *end || !(seconds > 0 && seconds <= 86400))) {
        fprintf(stderr, "mokit: --seconds must be a number of seconds, 1 to 86400\n");
        return EXIT_USAGE;
    }
    if (driver && !fw_driver_find(driver)) {
        fprintf(stderr, "mokit: no driver %s (see `mokit device list`)\n", driver);
        return EXIT_INVALID;
    }
    for (const char *t = who ? who : ""; *t; t++)
        if ((unsigned char)*t < 0x20)
            goto one_line;
    for (const char *t = notes ? notes : ""; *t; t++)
        if ((unsigned char)*t < 0x20)
            goto one_line;
    struct sigaction sa = {.sa_handler = on_record_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct record_opts ro = {.driver = driver,
                             .paths = device,
                             .usb = true,
                             .evdev = !driver || strcmp(driver, "hid-scanner") == 0,
                             .seconds = seconds,
                             .who = who,
                             .notes = notes,
                             .stop = &record_stop,
                             .progress = stderr};
    char *text = NULL, err[240] = "";
    int rc = devices_record(&ro, &text, err, sizeof err);
    if (rc != MK_OK) {
        fprintf(stderr, "mokit: %s\n", err[0] ? err : mk_strerror(rc));
        return rc == MK_ENOTFOUND ? EXIT_INVALID : EXIT_SYSTEM;
    }
    if (!outp) {
        fputs(text, stdout);
        free(text);
        return fflush(stdout) == 0 ? 0 : EXIT_SYSTEM;
    }
    rc = write_file(outp, text, strlen(text));
    free(text);
    if (rc != 0) {
        fprintf(stderr, "mokit: cannot write %s: %s\n", outp, strerror(errno));
        return EXIT_SYSTEM;
    }
    fprintf(stderr, "capture written to %s (check it: mokit device decode %s)\n", outp, outp);
    return 0;
one_line:
    fprintf(stderr, "mokit: --who and --notes are one line of text each\n");
    return EXIT_USAGE;
}

static int cmd_device(int argc, char **argv)
{
    static const char help[] =
        "usage: mokit device list\n"
        "       mokit device decode [--driver NAME] FILE\n"
        "       mokit device record [--driver NAME] [--device DRIVER:PATH] [--seconds N]\n"
        "                           [--who TEXT] [--notes TEXT] [--out FILE]\n"
        "list: the drivers mokit has (name, transport, USB ids).\n"
        "decode: plays a capture file (firmware/doc/captures.md) through a driver and prints\n"
        "its readings as JSON lines; the driver defaults to the capture's \"# device:\".\n"
        "record: finds devices as mokitd does (USB, scanners' input nodes, --device paths),\n"
        "and writes the conversation of the first one that speaks as a capture, to FILE or\n"
        "standard output, after N seconds (default 60), Ctrl-C, or when it is unplugged.\n"
        "Stop mokitd first: a device is used by one program at a time. A scanner's capture\n"
        "holds what was scanned: record test cards, never a resident's.\n";
    struct opt o[] = {{"driver", 1, 0}, {"device", 1, 0}, {"seconds", 1, 0},
                      {"who", 1, 0},    {"notes", 1, 0},  {"out", 1, 0}};
    const int no = (int)(sizeof o / sizeof o[0]);
    const char *pos[1];
    int npos;
    if (wants_help(argc, argv, 2)) {
        fputs(help, stdout);
        return 0;
    }
    const char *sub = argc >= 3 ? argv[2] : "";
    if (parse_opts(argc, argv, 3, o, no, pos, 1, &npos) != 0) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(sub, "record") && npos == 0)
        return device_record(o, no);
    for (int i = 1; i < no; i++)
        if (o[i].value) {
            fprintf(stderr, "mokit: --%s is for `mokit device record`\n", o[i].name);
            return EXIT_USAGE;
        }
    if (!strcmp(sub, "list") && npos == 0 && !opt_get(o, 1, "driver")) {
        json_t *list = json_array();
        for (size_t i = 0; i < fw_drivers_count; i++) {
            const struct fw_driver *d = fw_drivers[i];
            json_t *ids = json_array();
            char id[16];
            for (const struct fw_usb_id *u = d->usb_ids; u && u->vid; u++) {
                snprintf(id, sizeof id, "%04x:%04x", u->vid, u->pid);
                json_array_append_new(ids, json_string(id));
            }
            if (!json_output) {
                printf("%-14s %-8s %s\n", d->name, d->transport, d->description);
                size_t k;
                json_t *x;
                json_array_foreach(ids, k, x)
                    printf("%-14s %-8s   %s\n", "", "", json_string_value(x));
            }
            json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:o}", "name", d->name,
                                                  "transport", d->transport, "description",
                                                  d->description, "usb_ids", ids));
        }
        if (json_output)
            print_json(list);
        json_decref(list);
        return 0;
    }
    if (strcmp(sub, "decode") != 0 || npos != 1) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    char *text, err[200];
    size_t len;
    if (read_all(pos[0], &text, &len) != 0) {
        fprintf(stderr, "mokit: cannot read %s: %s\n", pos[0], strerror(errno));
        return EXIT_INVALID;
    }
    struct fw_capture c;
    int rc = fw_capture_parse(text, len, &c, err, sizeof err);
    free(text);
    if (rc != FW_OK) {
        fprintf(stderr, "mokit: %s: %s\n", pos[0], rc == FW_EINVAL ? err : fw_strerror(rc));
        return rc == FW_EINVAL ? EXIT_INVALID : EXIT_SYSTEM;
    }
    const char *name = opt_get(o, no, "driver") ? opt_get(o, no, "driver") : c.device;
    const struct fw_driver *d = fw_driver_find(name);
    if (!d) {
        fprintf(stderr, "mokit: %s\n",
                name[0] ? "no such driver (see `mokit device list`)"
                        : "the capture names no device: give --driver");
        fw_capture_free(&c);
        return EXIT_INVALID;
    }
    long count = 0;
    rc = fw_replay(d, &c, print_decoded, &count, err, sizeof err);
    fw_capture_free(&c);
    if (rc != FW_OK) {
        fprintf(stderr, "mokit: %s: %s\n", pos[0], rc == FW_EINVAL ? err : fw_strerror(rc));
        return rc == FW_EINVAL ? EXIT_INVALID : EXIT_SYSTEM;
    }
    return 0;
}

static int cmd_rules(int argc, char **argv)
{
    static const char help[] =
        "usage: mokit rules show\n"
        "       mokit rules check FILE\n"
        "show: the built-in screening rules (app/doc/screening.md), as a rules file.\n"
        "check: reads a rules file and says whether mokitd would take it, and its rules.\n";
    if (wants_help(argc, argv, 2)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc == 3 && strcmp(argv[2], "show") == 0) {
        fputs(screen_rules_default_json(), stdout);
        return 0;
    }
    if (argc != 4 || strcmp(argv[2], "check") != 0) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    char *text, err[200];
    size_t len;
    if (read_all(argv[3], &text, &len) != 0) {
        fprintf(stderr, "mokit: cannot read %s: %s\n", argv[3], strerror(errno));
        return EXIT_INVALID;
    }
    struct screen_rules *r = malloc(sizeof *r);
    int rc = r ? screen_rules_parse(text, len, r, err, sizeof err) : MK_ENOMEM;
    free(text);
    if (rc != MK_OK) {
        fprintf(stderr, "mokit: %s: %s\n", argv[3], rc == MK_EINVAL ? err : mk_strerror(rc));
        free(r);
        return rc == MK_EINVAL ? EXIT_INVALID : EXIT_SYSTEM;
    }
    printf("%s: %d rules, adults from %d years\n", argv[3], r->nrules, r->adult_age);
    for (int i = 0; i < r->nrules; i++)
        printf("  %-20s %-7s %s\n", r->rules[i].id, screen_level_name(r->rules[i].level),
               r->rules[i].msg_en);
    free(r);
    return 0;
}

/* The kit's public signing key as a file a hospital can trust (app/domain/keyfile.h). */
static json_t *kit_key_json(struct store *st)
{
    struct keyfile k = {.kind = KEYFILE_KIT_SIGN};
    snprintf(k.name, sizeof k.name, "%s", store_kit_id(st));
    store_kit_sign_public(st, k.public_key);
    return keyfile_json(&k);
}

static int write_json_file(const char *path, json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    if (!text)
        return -1;
    size_t len = strlen(text);
    char *line = realloc(text, len + 2);
    if (!line) {
        free(text);
        return -1;
    }
    line[len++] = '\n';
    line[len] = '\0';
    int rc = write_file(path, line, len);
    sodium_memzero(line, len);
    free(line);
    return rc;
}

/* A new hospital key pair: PREFIX.public.json to hand to the teams, PREFIX.secret.json to keep
 * (never overwritten: packages encrypted to the old key could not be read any more). */
static int keys_hospital_new(const char *name, const char *prefix)
{
    char pub_path[4096], sec_path[4096];
    if (strlen(name) == 0 || strlen(name) > KEYFILE_NAME_MAX) {
        fprintf(stderr, "mokit: --name is 1-%d bytes\n", KEYFILE_NAME_MAX);
        return EXIT_INVALID;
    }
    snprintf(pub_path, sizeof pub_path, "%s.public.json", prefix);
    snprintf(sec_path, sizeof sec_path, "%s.secret.json", prefix);
    if (access(sec_path, F_OK) == 0 || access(pub_path, F_OK) == 0) {
        fprintf(stderr, "mokit: %s or %s exists: a hospital key is never overwritten\n", sec_path,
                pub_path);
        return EXIT_INVALID;
    }
    struct keyfile k = {.kind = KEYFILE_HOSPITAL_SECRET};
    snprintf(k.name, sizeof k.name, "%s", name);
    crypto_box_keypair(k.public_key, k.secret_key);
    json_t *sec = keyfile_json(&k);
    k.kind = KEYFILE_HOSPITAL_BOX;
    json_t *pub = keyfile_json(&k);
    keyfile_fingerprint(k.public_key, k.fingerprint);
    sodium_memzero(k.secret_key, sizeof k.secret_key);
    int rc =
        sec && pub && write_json_file(sec_path, sec) == 0 && write_json_file(pub_path, pub) == 0
            ? 0
            : EXIT_SYSTEM;
    if (rc)
        fprintf(stderr, "mokit: cannot write the key files: %s\n", strerror(errno));
    else
        printf("hospital key of %s, fingerprint %s\n  %s  keep it here, never hand it out\n"
               "  %s  give it to the teams\n",
               name, k.fingerprint, sec_path, pub_path);
    if (sec) {
        json_object_del(sec, "secret_key");
        json_decref(sec);
    }
    json_decref(pub);
    return rc;
}

static int keys_check(const char *path)
{
    char *text, err[240];
    size_t len;
    if (read_all(path, &text, &len) != 0) {
        fprintf(stderr, "mokit: cannot read %s: %s\n", path, strerror(errno));
        return EXIT_INVALID;
    }
    struct keyfile k;
    int rc = len > 16384 ? MK_EINVAL : keyfile_parse(text, len, &k, err, sizeof err);
    if (len > 16384)
        snprintf(err, sizeof err, "larger than a key file");
    sodium_memzero(text, len);
    free(text);
    if (rc != MK_OK) {
        fprintf(stderr, "mokit: %s: %s\n", path, err);
        return EXIT_INVALID;
    }
    printf("%s: %s key of %s, fingerprint %s\n", path, keyfile_kind_name(k.kind), k.name,
           k.fingerprint);
    sodium_memzero(&k, sizeof k);
    return 0;
}

static int cmd_keys(int argc, char **argv)
{
    static const char help[] =
        "usage: mokit keys show\n"
        "       mokit keys export [--out FILE]\n"
        "       mokit keys hospital-new --name NAME --out PREFIX\n"
        "       mokit keys check FILE\n"
        "       mokit keys trust KIT-KEY-FILE [--label TEXT] | untrust KIT | trusted\n"
        "show: this kit's id and the fingerprint of its signing key (Ed25519, made on first\n"
        "  run): the campaign packages it exports are signed with it.\n"
        "export: the public key as a file to hand to the hospital, which trusts this kit by\n"
        "  it; to FILE (written whole or not at all) or standard output. Never the secret.\n"
        "hospital-new: at the hospital, a key pair (X25519) that teams encrypt packages to:\n"
        "  PREFIX.public.json for the teams, PREFIX.secret.json to keep. Never overwrites.\n"
        "check: reads a key file and prints its kind, name and fingerprint (compare it with\n"
        "  the one the other side reads out), or why it is refused.\n"
        "trust: at the hospital, accept packages signed by this kit key (compare its\n"
        "  fingerprint with the team's first); untrust removes it; trusted lists them.\n";
    if (wants_help(argc, argv, 2)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc == 4 && strcmp(argv[2], "check") == 0)
        return keys_check(argv[3]);
    if (argc >= 3 &&
        (!strcmp(argv[2], "trust") || !strcmp(argv[2], "untrust") || !strcmp(argv[2], "trusted")))
        return cmd_keys_trust(argc, argv);
    if (argc == 7 && strcmp(argv[2], "hospital-new") == 0) {
        const char *name = NULL, *prefix = NULL;
        for (int i = 3; i + 1 < argc; i += 2) {
            if (strcmp(argv[i], "--name") == 0)
                name = argv[i + 1];
            else if (strcmp(argv[i], "--out") == 0)
                prefix = argv[i + 1];
        }
        if (name && prefix)
            return keys_hospital_new(name, prefix);
    }
    const char *out = NULL;
    bool show = argc == 3 && strcmp(argv[2], "show") == 0;
    bool export = argc >= 3 && strcmp(argv[2], "export") == 0 &&
                  (argc == 3 || (argc == 5 && strcmp(argv[3], "--out") == 0));
    if (!show && !export) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    if (export && argc == 5)
        out = argv[4];
    struct store *st;
    if (open_store(&st) != 0)
        return EXIT_SYSTEM;
    json_t *k = kit_key_json(st);
    store_close(st);
    if (!k)
        return EXIT_SYSTEM;
    int rc = 0;
    if (show && !json_output) {
        printf("kit %s\nsigning key (Ed25519) %s\nfingerprint %s\n",
               json_string_value(json_object_get(k, "kit")),
               json_string_value(json_object_get(k, "public_key")),
               json_string_value(json_object_get(k, "fingerprint")));
    } else if (out) {
        if (write_json_file(out, k) != 0) {
            fprintf(stderr, "mokit: cannot write %s: %s\n", out, strerror(errno));
            rc = EXIT_SYSTEM;
        } else {
            fprintf(stderr, "kit key written to %s (fingerprint %s)\n", out,
                    json_string_value(json_object_get(k, "fingerprint")));
        }
    } else {
        char *text = json_dumps(k, JSON_INDENT(2) | JSON_ENSURE_ASCII);
        if (text)
            puts(text);
        else
            rc = EXIT_SYSTEM;
        free(text);
    }
    json_decref(k);
    return rc;
}

static int cmd_demo(int argc, char **argv)
{
    static const char help[] =
        "usage: mokit demo seed [--patients N] [--seed S] [--screening]\n"
        "Creates the demo campaign and staff (well-known PINs) if missing and adds N made-up\n"
        "residents in one transaction. For demos and benchmarks, never on a real kit.\n"
        "--screening: each also gets a visit today with about ten observations, and for raised\n"
        "  readings findings, a referral and medicine dispensed (for exports).\n";
    struct opt o[] = {{"patients", 1, 0}, {"seed", 1, 0}, {"screening", 0, 0}};
    const char *pos[1];
    int npos, rc;
    if (wants_help(argc, argv, 2)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc < 3 || strcmp(argv[2], "seed") != 0 ||
        parse_opts(argc, argv, 3, o, 3, pos, 0, &npos) != 0) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    const char *np = opt_get(o, 3, "patients"), *sd = opt_get(o, 3, "seed");
    long patients = np ? strtol(np, NULL, 10) : 40;
    unsigned long long seed = sd ? strtoull(sd, NULL, 10) : 1;
    if (patients < 0 || patients > 10000000) {
        fprintf(stderr, "mokit: --patients must be 0-10000000\n");
        return EXIT_INVALID;
    }
    struct store *st;
    if ((rc = open_store(&st)) != 0)
        return rc;
    double t0 = util_monotonic();
    rc = demo_seed_screening(st, (int)patients, seed, opt_get(o, 3, "screening") != NULL,
                             json_output ? NULL : stdout);
    store_close(st);
    if (rc == MK_EEXIST) {
        fprintf(stderr,
                "mokit: demo data needs an empty data directory: %s holds real "
                "campaigns (demo staff have well-known PINs)\n",
                data_dir);
        return EXIT_INVALID;
    }
    if (rc != MK_OK)
        return fail_rc(rc, "demo seed");
    if (!json_output)
        printf("%ld residents added in %.1f s\n", patients, util_monotonic() - t0);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mokit [--data DIR] [--json] COMMAND ...\n\n"
               "  campaign create|list     campaigns (screening events)\n"
               "  staff add|list           staff and their PINs\n"
               "  patient register|find|show\n"
               "  id parse-cccd TEXT       read a citizen ID card QR\n"
               "  code check CODE          is a patient code's check character right?\n"
               "  rules show|check FILE    the screening rules: the built-in ones; check a file\n"
               "  printer list|profiles|add|set   the kit's printers\n"
               "  print ticket|wristband|slip|test|ready   print, or lay out (bytes, PNG)\n"
               "  print jobs|reprint|cancel       the print queue\n"
               "  device list|decode              device drivers; play a capture through one\n"
               "  keys show|export|hospital-new|check   the kit's signing key; hospital keys\n"
               "  keys trust|untrust|trusted          kits the hospital accepts packages from\n"
               "  campaign hospital-key|id-systems    where a campaign's results go\n"
               "  export                   a campaign as FHIR, CSV, a report or a package\n"
               "  import PACKAGE           at the hospital: a campaign package from a kit\n"
               "  referrals --pending|arrive SCAN   at the hospital: referred residents, arrivals\n"
               "  matches                  at the hospital: likely duplicates to review\n"
               "  push --fhir URL          a campaign's FHIR bundle to a hospital's server\n"
               "  demo seed                demo data\n\n"
               "--data DIR defaults to $MOKIT_DATA, else ./var. `mokit COMMAND --help` for more.\n"
               "Exit codes: 0 ok, 1 usage, 2 invalid input/not found/duplicate, 3 system error.\n");
}

int main(int argc, char **argv)
{
    umask(077); /* health data: files mokit creates are for its user alone */
    /* Pull global options out, leaving "mokit COMMAND ..." in argv. */
    int n = 1;
    data_dir = getenv("MOKIT_DATA");
    if (!data_dir || !data_dir[0])
        data_dir = "var";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json_output = 1;
        } else if (strcmp(argv[i], "--data") == 0) {
            if (i + 1 >= argc) {
                usage(stderr);
                return EXIT_USAGE;
            }
            data_dir = argv[++i];
        } else if (strcmp(argv[i], "--verbose") == 0) {
            log_threshold = LOG_DEBUG;
        } else {
            argv[n++] = argv[i];
        }
    }
    argc = n;
    if (log_threshold == LOG_NOTICE)
        log_threshold = LOG_WARN;

    struct passwd *pw = getpwuid(getuid());
    snprintf(actor_label, sizeof actor_label, "cli:%s", pw ? pw->pw_name : "?");
    cli_actor = (struct actor){NULL, actor_label};

    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("mokit %s\n", MOKIT_VERSION);
        return 0;
    }
    if (strcmp(cmd, "campaign") == 0)
        return cmd_campaign(argc, argv);
    if (strcmp(cmd, "staff") == 0)
        return cmd_staff(argc, argv);
    if (strcmp(cmd, "patient") == 0)
        return cmd_patient(argc, argv);
    if (strcmp(cmd, "id") == 0)
        return cmd_id(argc, argv);
    if (strcmp(cmd, "code") == 0)
        return cmd_code(argc, argv);
    if (strcmp(cmd, "printer") == 0)
        return cmd_printer(argc, argv);
    if (strcmp(cmd, "print") == 0)
        return cmd_print(argc, argv);
    if (strcmp(cmd, "demo") == 0)
        return cmd_demo(argc, argv);
    if (strcmp(cmd, "rules") == 0)
        return cmd_rules(argc, argv);
    if (strcmp(cmd, "device") == 0)
        return cmd_device(argc, argv);
    if (strcmp(cmd, "keys") == 0)
        return cmd_keys(argc, argv);
    if (strcmp(cmd, "export") == 0)
        return cmd_export(argc, argv);
    if (strcmp(cmd, "import") == 0)
        return cmd_import(argc, argv);
    if (strcmp(cmd, "referrals") == 0)
        return cmd_referrals(argc, argv);
    if (strcmp(cmd, "matches") == 0)
        return cmd_matches(argc, argv);
    if (strcmp(cmd, "push") == 0)
        return cmd_push(argc, argv);
    fprintf(stderr, "mokit: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
