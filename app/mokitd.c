/* mokitd: the kit's daemon. Serves the JSON API and the status page over HTTP.
 * Options come from one table, used by the command line (--name value) and by the config file
 * (name value), so the two never disagree; see app/mokitd.conf. */
#include "api/api.h"
#include "api/web.h"
#include "common/err.h"
#include "common/log.h"
#include "demo/seed.h"
#include "panel/panel.h"
#include "print/spool.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct config {
    char data[1024];
    char listen[128];
    char log_level[16];
    int demo;
    int session_hours, idle_minutes;
    char web[1024];
    char rules[1024];
    int usb, evdev;
    char devices[1024];
    char replay_dir[1024];
    char panel[1024]; /* `panel` lines joined with ';' */
    char leds[256];
    char buzzer[64];
    bool panel_cmdline; /* the command line's --panel replaces the file's panel lines */
};

/* OPT_LIST: each line (or --option) adds an entry, joined with ';'. */
enum opt_type { OPT_STRING, OPT_FLAG, OPT_BOOL, OPT_INT, OPT_LIST };

static const struct option_def {
    const char *name;
    enum opt_type type;
    size_t offset, size;
    const char *help;
} options[] = {
    {"data", OPT_STRING, offsetof(struct config, data), sizeof((struct config *)0)->data,
     "data directory (database, lock file); created if missing"},
    {"listen", OPT_STRING, offsetof(struct config, listen), sizeof((struct config *)0)->listen,
     "address and port to serve HTTP on (default 127.0.0.1:8080)"},
    {"log-level", OPT_STRING, offsetof(struct config, log_level),
     sizeof((struct config *)0)->log_level, "error, warn, notice (default), info, debug or io"},
    {"demo", OPT_FLAG, offsetof(struct config, demo), 0,
     "demo mode: create a demo campaign, staff and residents in an empty data directory"},
    {"session-hours", OPT_INT, offsetof(struct config, session_hours), 0,
     "how long a login lasts at most (default 12, a screening day)"},
    {"idle-minutes", OPT_INT, offsetof(struct config, idle_minutes), 0,
     "a login not used for this long ends (default 30): a phone left on a table"},
    {"web", OPT_STRING, offsetof(struct config, web), sizeof((struct config *)0)->web,
     "directory of the web UI's files (default: found next to the program)"},
    {"rules", OPT_STRING, offsetof(struct config, rules), sizeof((struct config *)0)->rules,
     "screening rules file (default: the built-in rules; `mokit rules check FILE`)"},
    {"usb", OPT_BOOL, offsetof(struct config, usb), 0,
     "yes (default) or no: find USB devices (scales, oximeters, scanners)"},
    {"evdev", OPT_BOOL, offsetof(struct config, evdev), 0,
     "yes (default) or no: take keyboard-mode scanners' input nodes"},
    {"devices", OPT_STRING, offsetof(struct config, devices), sizeof((struct config *)0)->devices,
     "devices on fixed paths: DRIVER:PATH,... (serial-scanner:/dev/ttyAMA0), or a driver for a "
     "USB id: DRIVER:usb:VVVV:PPPP (omron-hem7131:usb:0590:0090)"},
    {"replay-dir", OPT_STRING, offsetof(struct config, replay_dir),
     sizeof((struct config *)0)->replay_dir,
     "play capture files dropped here as devices (tests, training)"},
    {"panel", OPT_LIST, offsetof(struct config, panel), sizeof((struct config *)0)->panel,
     "a station's GPIO controls (hw/pinout.md), once per station: \"doctor next=GPIO22 "
     "clk=GPIO23 dio=GPIO24\" (its Next button, its TM1637 display's two lines)"},
    {"leds", OPT_STRING, offsetof(struct config, leds), sizeof((struct config *)0)->leds,
     "the status LEDs' GPIO lines: \"ready=GPIO5 attention=GPIO6 busy=GPIO13\""},
    {"buzzer", OPT_STRING, offsetof(struct config, buzzer), sizeof((struct config *)0)->buzzer,
     "the buzzer's GPIO line (GPIO12)"},
};
#define NOPTIONS (sizeof options / sizeof options[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: mokitd --data DIR [--listen ADDR:PORT] [--demo] [--config FILE]\n"
               "              [--log-level LEVEL] [--session-hours N] [--idle-minutes N]\n"
               "              [--web DIR] [--rules FILE] [--usb yes|no] [--evdev yes|no]\n"
               "              [--devices DRIVER:PATH,...] [--replay-dir DIR]\n\n");
    fprintf(f, "  --config FILE    read options from FILE first (lines \"name value\")\n");
    for (size_t i = 0; i < NOPTIONS; i++)
        fprintf(f, "  --%-15s %s\n", options[i].name, options[i].help);
}

static const struct option_def *find_option(const char *name)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        if (strcmp(options[i].name, name) == 0)
            return &options[i];
    return NULL;
}

/* Sets one option from text; value is NULL for a bare flag. 0 or -1 (message printed). */
static int set_option(struct config *cfg, const struct option_def *o, const char *value,
                      const char *where)
{
    char *field = (char *)cfg + o->offset;
    switch (o->type) {
    case OPT_BOOL:
        if (!value)
            goto bad;
        /* fall through */
    case OPT_FLAG:
        if (!value || !strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1"))
            *(int *)field = 1;
        else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0"))
            *(int *)field = 0;
        else
            goto bad;
        return 0;
    case OPT_INT: {
        char *end;
        long v = value ? strtol(value, &end, 10) : 0;
        if (!value || *end || v < 1 || v > 24 * 30)
            goto bad;
        *(int *)field = (int)v;
        return 0;
    }
    case OPT_STRING:
        if (!value || strlen(value) >= o->size)
            goto bad;
        strcpy(field, value);
        return 0;
    case OPT_LIST: {
        bool cmdline = !strcmp(where, "command line");
        if (cmdline && !cfg->panel_cmdline) {
            field[0] = '\0'; /* the command line's entries replace the file's */
            cfg->panel_cmdline = true;
        }
        size_t have = strlen(field);
        if (!value || strchr(value, ';') || have + strlen(value) + 2 > o->size)
            goto bad;
        snprintf(field + have, o->size - have, "%s%s", have ? ";" : "", value);
        return 0;
    }
    }
bad:
    fprintf(stderr, "mokitd: %s: bad value for %s: %s\n", where, o->name, value ? value : "(none)");
    return -1;
}

static int read_config(struct config *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1200];
    int lineno = 0, rc = 0;
    if (!f) {
        fprintf(stderr, "mokitd: cannot read config %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (rc == 0 && fgets(line, sizeof line, f)) {
        char where[1100], *key, *value, *save = NULL;
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        key = strtok_r(line, " \t", &save);
        if (!key || key[0] == '#')
            continue;
        value = strtok_r(NULL, "", &save); /* the rest of the line: paths may hold spaces */
        if (value) {
            value += strspn(value, " \t");
            size_t n = strlen(value);
            while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
                value[--n] = '\0';
            if (!*value)
                value = NULL;
        }
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        const struct option_def *o = find_option(key);
        if (!o) {
            fprintf(stderr, "mokitd: %s: unknown option \"%s\"\n", where, key);
            rc = -1;
        } else {
            rc = set_option(cfg, o, value, where);
        }
    }
    fclose(f);
    return rc;
}

static int parse_args(struct config *cfg, int argc, char **argv)
{
    /* --config first, so that the command line wins over the file. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc || read_config(cfg, argv[i + 1]) != 0)
                return -1;
            i++;
        }
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            i++;
            continue;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("mokitd %s\n", MOKIT_VERSION);
            exit(0);
        }
        const struct option_def *o =
            strncmp(argv[i], "--", 2) == 0 ? find_option(argv[i] + 2) : NULL;
        if (!o) {
            fprintf(stderr, "mokitd: unknown option %s\n", argv[i]);
            return -1;
        }
        const char *value = NULL;
        if (o->type != OPT_FLAG) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mokitd: %s needs a value\n", argv[i]);
                return -1;
            }
            value = argv[++i];
        }
        if (set_option(cfg, o, value, "command line") != 0)
            return -1;
    }
    return 0;
}

/* Holds DIR/mokitd.lock with flock for the daemon's life: a second mokitd on the same data
 * refuses to start. The lock goes with the process, even after SIGKILL. */
static int lock_data_dir(const char *dir)
{
    char path[1100], pid[32];
    snprintf(path, sizeof path, "%s/mokitd.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        LOG(LOG_ERROR, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ssize_t n = read(fd, pid, sizeof pid - 1);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        LOG(LOG_ERROR, "another mokitd (pid %s) is already using %s: stop it first",
            pid[0] ? pid : "?", dir);
        close(fd);
        return -1;
    }
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
        LOG(LOG_WARN, "cannot write pid to %s: %s", path, strerror(errno));
    return fd;
}

/* The demo's printers are simulated: every job becomes a PNG under DATA/prints/. */
static int demo_printers(struct store *st)
{
    static const struct printer_in demo[] = {
        {.name = "ticket",
         .profile = "escpos-58",
         .uri = "sim:prints/ticket",
         .kinds = "ticket,slip,test"},
        {.name = "band", .profile = "zebra-hc100", .uri = "sim:prints/band", .kinds = "wristband"},
    };
    const struct actor system = {.staff_id = NULL, .label = "system"};
    json_t *list = NULL;
    int rc = store_printer_list(st, &list);
    size_t have = json_array_size(list);
    json_decref(list);
    if (rc != MK_OK || have > 0)
        return rc;
    for (size_t i = 0; i < sizeof demo / sizeof demo[0] && rc == MK_OK; i++) {
        json_t *p = NULL;
        rc = store_printer_add(st, &system, &demo[i], &p);
        json_decref(p);
    }
    if (rc == MK_OK)
        printf("demo printers: ticket (58 mm receipt) and band (ZPL wristband), simulated: "
               "prints appear as PNG files in the data directory's prints/\n");
    return rc;
}

/* Demo data goes only into an empty data directory or one that holds the demo already. */
static int demo_setup(struct store *st)
{
    json_t *c = NULL;
    int rc = store_campaign_get(st, DEMO_CAMPAIGN, &c);
    json_decref(c);
    if (rc == MK_ENOTFOUND)
        LOG(LOG_NOTICE, "demo mode: creating the demo campaign, staff and residents");
    rc = demo_seed(st, rc == MK_ENOTFOUND ? 40 : 0, 1, stdout);
    if (rc == MK_EEXIST)
        LOG(LOG_ERROR, "--demo needs an empty data directory: this one holds real campaigns. "
                       "Use another --data for the demo");
    if (rc == MK_OK)
        rc = demo_printers(st);
    fflush(stdout);
    return rc;
}

/* The spool's news go out on the event stream. */
static void spool_event(void *ctx, const char *type, json_t *data)
{
    events_publish(ctx, type, data);
}

int main(int argc, char **argv)
{
    struct config cfg = {.listen = "127.0.0.1:8080",
                         .log_level = "notice",
                         .session_hours = 12,
                         .idle_minutes = 30,
                         .usb = 1,
                         .evdev = 1};
    struct store *st = NULL;
    struct api *api = NULL;
    struct spool *spool = NULL;
    struct events *events = NULL;
    struct devices *devices = NULL;
    struct panel *panel = NULL;
    sigset_t sigs;
    int sig, status = 1;

    umask(077); /* health data: the database and its WAL are for mokit's user alone */
    if (parse_args(&cfg, argc, argv) != 0) {
        usage(stderr);
        return 1;
    }
    if (log_level_parse(cfg.log_level, &log_threshold) != 0) {
        fprintf(stderr, "mokitd: unknown log level \"%s\"\n", cfg.log_level);
        return 1;
    }
    if (!cfg.data[0]) {
        fprintf(stderr, "mokitd: --data DIR is required\n");
        usage(stderr);
        return 1;
    }

    /* Signals are taken by sigwait() in this thread; the HTTP thread inherits the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (mkdir(cfg.data, 0750) != 0 && errno != EEXIST) {
        LOG(LOG_ERROR, "cannot create data directory %s: %s", cfg.data, strerror(errno));
        return 1;
    }
    int lock = lock_data_dir(cfg.data);
    if (lock < 0)
        return 1;
    int rc = store_open(cfg.data, &st);
    if (rc != MK_OK) {
        LOG(LOG_ERROR, "cannot open the data in %s: %s", cfg.data, mk_strerror(rc));
        goto out;
    }
    api_export_cleanup(cfg.data);
    if (cfg.demo && (rc = demo_setup(st)) != MK_OK) {
        LOG(LOG_ERROR, "demo setup failed: %s", mk_strerror(rc));
        goto out;
    }
    if (events_new(15, &events) != MK_OK)
        goto out;
    if (spool_start(cfg.data, spool_event, events, &spool) != MK_OK) {
        LOG(LOG_ERROR, "cannot start the print spool");
        goto out;
    }
    struct devices_config dcfg = {.data_dir = cfg.data,
                                  .usb = cfg.usb,
                                  .evdev = cfg.evdev,
                                  .demo = cfg.demo,
                                  .paths = cfg.devices,
                                  .replay_dir = cfg.replay_dir,
                                  .events = events};
    if (devices_start(&dcfg, &devices) != MK_OK) {
        LOG(LOG_ERROR, "cannot start the device manager");
        goto out;
    }
    struct panel_config pcfg = {.data_dir = cfg.data,
                                .panels = cfg.panel,
                                .leds = cfg.leds,
                                .buzzer = cfg.buzzer,
                                .events = events};
    if (panel_start(&pcfg, &panel) != MK_OK) {
        LOG(LOG_ERROR, "cannot start the station panel (options panel, leds, buzzer)");
        goto out;
    }
    char web_dir[1024] = "";
    if (cfg.web[0])
        snprintf(web_dir, sizeof web_dir, "%s", cfg.web);
    else
        web_default_dir(web_dir, sizeof web_dir);
    struct api_config acfg = {.listen = cfg.listen,
                              .session_seconds = cfg.session_hours * 3600,
                              .idle_seconds = cfg.idle_minutes * 60,
                              .web_dir = web_dir,
                              .rules_file = cfg.rules,
                              .spool = spool,
                              .devices = devices,
                              .panel = panel,
                              .events = events};
    if (api_start(&acfg, st, &api) != MK_OK)
        goto out;
    LOG(LOG_NOTICE, "mokitd %s, kit %s, data %s, serving http://%s/", MOKIT_VERSION,
        store_kit_id(st), cfg.data, cfg.listen);

    for (;;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            LOG(LOG_NOTICE, "SIGHUP: nothing to reload; options are read at start");
            continue;
        }
        break;
    }
    LOG(LOG_NOTICE, "signal %d: shutting down", sig);
    status = 0;
out:
    api_stop(api);
    devices_stop(devices);
    spool_stop(spool); /* a job being sent is finished first; it may still publish */
    panel_stop(panel); /* last: the others publish events it follows; it publishes calls */
    events_free(events);
    store_close(st);
    if (lock >= 0)
        close(lock);
    return status;
}
