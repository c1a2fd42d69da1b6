/* The station panel in the app (panel.h). */
#include "panel.h"

#include "../common/err.h"
#include "../common/log.h"
#include "../store/store.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WATCH   32 /* printers and devices followed for the attention LED */
#define MAX_SENDING 16

struct panel {
    struct fw_panel *fw;
    struct fw_panel_config cfg;
    struct store *st; /* used on the panel's thread only (presses) */
    struct events *events;

    pthread_mutex_t lock; /* what the event listener keeps */
    struct {
        char key[80]; /* "printer:NAME" or "device:ID" */
        bool problem;
    } watch[MAX_WATCH];
    int nwatch;
    char sending[MAX_SENDING][40]; /* print jobs being sent */
    int nsending;
    bool leds[FW_LED_COUNT];
};

static const struct actor panel_actor = {.staff_id = NULL, .label = "system:panel"};

/* ---- the options ---- */

/* The next word of s (space separated) into w; returns the rest, or NULL at the end. */
static const char *word(const char *s, char *w, size_t len, bool *toolong)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return NULL;
    size_t n = 0;
    while (*s && *s != ' ' && *s != '\t') {
        if (n + 1 < len)
            w[n++] = *s;
        else
            *toolong = true;
        s++;
    }
    w[n] = '\0';
    return s;
}

static bool line_spec_ok(const char *v)
{
    if (!*v)
        return false;
    for (const char *c = v; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != ':' && *c != '_' && *c != '-' && *c != '/' &&
            *c != '.')
            return false;
    return true;
}

/* "key=LINE" words of s into the fields named by keys (NULL-terminated), each of size 40. */
static int key_lines(const char *what, const char *s, const char *const *keys, char **fields,
                     char *err, size_t errlen)
{
    char w[96];
    bool toolong = false;
    while ((s = word(s, w, sizeof w, &toolong))) {
        char *eq = strchr(w, '=');
        int k = -1;
        if (eq) {
            *eq = '\0';
            for (int i = 0; keys[i]; i++)
                if (!strcmp(keys[i], w))
                    k = i;
        }
        if (k < 0) {
            snprintf(err, errlen, "%s: \"%s\" is not one of %s%s%s%s%s=LINE", what, w, keys[0],
                     keys[1] ? "=LINE, " : "", keys[1] ? keys[1] : "",
                     keys[1] && keys[2] ? "=LINE or " : "", keys[1] && keys[2] ? keys[2] : "");
            return MK_EINVAL;
        }
        if (fields[k][0]) {
            snprintf(err, errlen, "%s: %s given twice", what, keys[k]);
            return MK_EINVAL;
        }
        if (toolong || strlen(eq + 1) >= 40 || !line_spec_ok(eq + 1)) {
            snprintf(err, errlen, "%s: %s=%s is not a GPIO line (GPIO22 or gpiochip0:22)", what,
                     keys[k], eq + 1);
            return MK_EINVAL;
        }
        snprintf(fields[k], 40, "%s", eq + 1);
    }
    return MK_OK;
}

int panel_config_parse(const char *panels, const char *leds, const char *buzzer,
                       struct fw_panel_config *out, char *err, size_t errlen)
{
    *out = (struct fw_panel_config){.brightness = -1};
    const char *p = panels ? panels : "";
    while (*p) {
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char entry[256];
        if (n >= sizeof entry) {
            snprintf(err, errlen, "panel: an entry longer than %zu characters", sizeof entry - 1);
            return MK_EINVAL;
        }
        memcpy(entry, p, n);
        entry[n] = '\0';
        p = end ? end + 1 : p + n;
        char name[64];
        bool toolong = false;
        const char *rest = word(entry, name, sizeof name, &toolong);
        if (!rest)
            continue; /* an empty entry */
        if (out->nstations == FW_PANEL_STATIONS) {
            snprintf(err, errlen, "panel: at most %d stations have a panel", FW_PANEL_STATIONS);
            return MK_EINVAL;
        }
        struct fw_panel_station *s = &out->stations[out->nstations];
        if (toolong || strlen(name) >= sizeof s->name || strchr(name, '=')) {
            snprintf(err, errlen,
                     "panel: give the station's name first, then next=LINE "
                     "clk=LINE dio=LINE (\"doctor next=GPIO22 clk=GPIO23 "
                     "dio=GPIO24\")");
            return MK_EINVAL;
        }
        snprintf(s->name, sizeof s->name, "%s", name);
        char what[80];
        snprintf(what, sizeof what, "panel %s", name);
        static const char *const keys[] = {"next", "clk", "dio", NULL};
        char *fields[] = {s->next, s->clk, s->dio};
        int rc = key_lines(what, rest, keys, fields, err, errlen);
        if (rc != MK_OK)
            return rc;
        if (!s->next[0] && !s->clk[0]) {
            snprintf(err, errlen,
                     "panel %s: give next=LINE, a display (clk=LINE dio=LINE) or "
                     "both",
                     name);
            return MK_EINVAL;
        }
        if (!s->clk[0] != !s->dio[0]) {
            snprintf(err, errlen, "panel %s: a display needs both clk=LINE and dio=LINE", name);
            return MK_EINVAL;
        }
        out->nstations++;
    }
    static const char *const led_keys[] = {"ready", "attention", "busy", NULL};
    char *led_fields[] = {out->led_ready, out->led_attention, out->led_busy};
    int rc = key_lines("leds", leds ? leds : "", led_keys, led_fields, err, errlen);
    if (rc != MK_OK)
        return rc;
    if (buzzer && *buzzer) {
        char w[64];
        bool toolong = false;
        const char *rest = word(buzzer, w, sizeof w, &toolong);
        char extra[8];
        if (!rest || toolong || strlen(w) >= sizeof out->buzzer || !line_spec_ok(w) ||
            word(rest, extra, sizeof extra, &toolong)) {
            snprintf(err, errlen, "buzzer: give one GPIO line (GPIO12 or gpiochip0:12)");
            return MK_EINVAL;
        }
        snprintf(out->buzzer, sizeof out->buzzer, "%s", w);
    }
    return MK_OK;
}

/* ---- LEDs ---- */

static void set_led(struct panel *p, enum fw_led led, bool on)
{
    if (p->leds[led] == on)
        return;
    p->leds[led] = on;
    fw_panel_led(p->fw, led, on);
}

/* Under p->lock: the LEDs from what is watched. */
static void update_leds(struct panel *p)
{
    bool attention = false;
    for (int i = 0; i < p->nwatch; i++)
        attention |= p->watch[i].problem;
    set_led(p, FW_LED_ATTENTION, attention);
    set_led(p, FW_LED_READY, !attention);
    set_led(p, FW_LED_BUSY, p->nsending > 0);
}

static void watch_set(struct panel *p, const char *kind, const char *name, bool problem)
{
    char key[80];
    snprintf(key, sizeof key, "%s:%s", kind, name);
    for (int i = 0; i < p->nwatch; i++)
        if (!strcmp(p->watch[i].key, key)) {
            p->watch[i].problem = problem;
            return;
        }
    if (!problem || p->nwatch == MAX_WATCH)
        return;
    snprintf(p->watch[p->nwatch].key, sizeof p->watch[0].key, "%s", key);
    p->watch[p->nwatch++].problem = true;
}

static bool printer_problem(const char *state)
{
    return state && (!strcmp(state, "paper_out") || !strcmp(state, "offline"));
}

static void job_state(struct panel *p, const char *id, const char *state)
{
    int at = -1;
    for (int i = 0; i < p->nsending; i++)
        if (!strcmp(p->sending[i], id))
            at = i;
    bool sending = state && !strcmp(state, "sending");
    if (sending && at < 0 && p->nsending < MAX_SENDING)
        snprintf(p->sending[p->nsending++], sizeof p->sending[0], "%s", id);
    else if (!sending && at >= 0)
        memmove(p->sending[at], p->sending[at + 1],
                (size_t)(--p->nsending - at) * sizeof p->sending[0]);
}

/* ---- what the events mean for the panel ---- */

/* A number as the display shows it: up to 9999 (a day has a few hundred). */
static void number_text(json_int_t n, char out[FW_TM1637_DIGITS + 1])
{
    if (n >= 0 && n <= 9999)
        snprintf(out, FW_TM1637_DIGITS + 1, "%d", (int)n);
    else
        snprintf(out, FW_TM1637_DIGITS + 1, "----");
}

static bool has_display(const struct panel *p, const char *station)
{
    for (int i = 0; i < p->cfg.nstations; i++)
        if (!strcmp(p->cfg.stations[i].name, station))
            return p->cfg.stations[i].clk[0] != '\0';
    return false;
}

static void on_event(void *ctx, const char *type, json_t *data)
{
    struct panel *p = ctx;
    if (!strcmp(type, "call")) {
        const char *station = json_string_value(json_object_get(data, "station"));
        bool recall = json_is_true(json_object_get(data, "recall"));
        char text[FW_TM1637_DIGITS + 1];
        number_text(json_integer_value(json_object_get(data, "queue_number")), text);
        if (station && has_display(p, station))
            fw_panel_show(p->fw, station, text, recall);
        fw_panel_beep(p->fw, recall ? FW_BEEP_RECALL : FW_BEEP_CALL);
    } else if (!strcmp(type, "scan")) {
        /* a scan that no station takes (station "") is someone else's device: no sound */
        const char *station = json_string_value(json_object_get(data, "station"));
        if (station && *station)
            fw_panel_beep(p->fw, json_is_true(json_object_get(data, "accepted")) ? FW_BEEP_SCAN
                                                                                 : FW_BEEP_ERROR);
    } else if (!strcmp(type, "printer") || !strcmp(type, "device") || !strcmp(type, "print")) {
        pthread_mutex_lock(&p->lock);
        const char *state = json_string_value(json_object_get(data, "state"));
        if (!strcmp(type, "printer")) {
            const char *name = json_string_value(json_object_get(data, "name"));
            if (name)
                watch_set(p, "printer", name, printer_problem(state));
        } else if (!strcmp(type, "device")) {
            const char *id = json_string_value(json_object_get(data, "id"));
            if (id) /* offline: a fault (unplugged is "gone") */
                watch_set(p, "device", id, state && !strcmp(state, "offline"));
        } else {
            const char *id = json_string_value(json_object_get(data, "id"));
            if (id)
                job_state(p, id, state);
        }
        update_leds(p);
        pthread_mutex_unlock(&p->lock);
    }
}

/* ---- a button ---- */

static void on_press(void *ctx, const char *station, enum fw_press press, long long at_ms)
{
    (void)at_ms;
    struct panel *p = ctx;
    json_t *campaign = NULL, *out = NULL;
    if (store_campaign_current(p->st, &campaign) != MK_OK) {
        LOG(LOG_NOTICE, "panel: %s pressed, but the kit has no campaign", station);
        fw_panel_beep(p->fw, FW_BEEP_ERROR);
        return;
    }
    enum queue_call_mode mode = press == FW_PRESS_LONG ? QUEUE_RECALL : QUEUE_NEXT;
    int rc = store_queue_call(p->st, &panel_actor, station, mode, 0,
                              json_string_value(json_object_get(campaign, "id")), &out);
    json_decref(campaign);
    if (rc == MK_ERANGE) {
        LOG(LOG_INFO, "panel: %s: %s", station,
            mode == QUEUE_NEXT ? "nobody is waiting" : "nobody called yet today to call again");
        fw_panel_beep(p->fw, FW_BEEP_ERROR);
        return;
    }
    if (rc != MK_OK) {
        LOG(LOG_WARN, "panel: %s: the call was not made: %s", station, mk_strerror(rc));
        fw_panel_beep(p->fw, FW_BEEP_ERROR);
        return;
    }
    LOG(LOG_INFO, "panel: %s %s %lld", station, mode == QUEUE_NEXT ? "calls" : "calls again",
        (long long)json_integer_value(json_object_get(out, "queue_number")));
    /* the queue screen shows numbers, never names: the API's call event */
    events_publish(p->events, "call",
                   json_pack("{s:O, s:O, s:O, s:O}", "station", json_object_get(out, "station"),
                             "queue_number", json_object_get(out, "queue_number"), "recall",
                             json_object_get(out, "recall"), "called_at",
                             json_object_get(out, "called_at")));
    json_decref(out);
}

/* ---- start and stop ---- */

/* What the displays and LEDs show at start: each station's number being served today, the
 * printers' last known states. */
static void initial_state(struct panel *p)
{
    json_t *campaign = NULL, *q = NULL, *printers = NULL;
    if (store_campaign_current(p->st, &campaign) == MK_OK &&
        store_queue_status(p->st, json_string_value(json_object_get(campaign, "id")), &q) ==
            MK_OK) {
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(q, "stations"), i, s)
        {
            const char *name = json_string_value(json_object_get(s, "name"));
            json_t *serving = json_object_get(s, "serving");
            if (!name || !has_display(p, name) || !json_is_integer(serving))
                continue;
            char text[FW_TM1637_DIGITS + 1];
            number_text(json_integer_value(serving), text);
            fw_panel_show(p->fw, name, text, false);
        }
    }
    pthread_mutex_lock(&p->lock);
    if (store_printer_list(p->st, &printers) == MK_OK) {
        size_t i;
        json_t *pr;
        json_array_foreach(printers, i, pr)
        {
            const char *name = json_string_value(json_object_get(pr, "name"));
            if (name && json_is_true(json_object_get(pr, "enabled")))
                watch_set(p, "printer", name,
                          printer_problem(json_string_value(json_object_get(pr, "state"))));
        }
    }
    update_leds(p); /* p->leds start false, as fw_panel_start() leaves the LEDs: off */
    pthread_mutex_unlock(&p->lock);
    json_decref(campaign);
    json_decref(q);
    json_decref(printers);
}

int panel_start(const struct panel_config *cfg, struct panel **out)
{
    *out = NULL;
    struct panel *p = calloc(1, sizeof *p);
    if (!p)
        return MK_ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    p->events = cfg->events;
    char err[256];
    int rc = panel_config_parse(cfg->panels, cfg->leds, cfg->buzzer, &p->cfg, err, sizeof err);
    if (rc != MK_OK) {
        LOG(LOG_ERROR, "%s", err);
        goto fail;
    }
    if (!p->cfg.nstations && !p->cfg.led_ready[0] && !p->cfg.led_attention[0] &&
        !p->cfg.led_busy[0] && !p->cfg.buzzer[0]) {
        free(p);
        return MK_OK; /* no panel */
    }
    if ((rc = store_open(cfg->data_dir, &p->st)) != MK_OK) {
        LOG(LOG_ERROR, "panel: cannot open the store: %s", mk_strerror(rc));
        goto fail;
    }
    for (int i = 0; i < p->cfg.nstations; i++) {
        json_t *s = NULL;
        if (store_station_get(p->st, p->cfg.stations[i].name, &s) != MK_OK) {
            LOG(LOG_ERROR,
                "panel %s: the kit has no station of this name (GET /api/v1/stations "
                "lists them)",
                p->cfg.stations[i].name);
            rc = MK_EINVAL;
            goto fail;
        }
        json_decref(s);
    }
    rc = fw_panel_start(&p->cfg, on_press, p, &p->fw, err, sizeof err);
    if (rc != FW_OK) {
        LOG(LOG_ERROR, "panel: %s", err);
        rc = rc == FW_EINVAL ? MK_EINVAL : rc == FW_ENOMEM ? MK_ENOMEM : MK_EIO;
        goto fail;
    }
    initial_state(p);
    if (p->events && events_listen(p->events, on_event, p) != 0) {
        LOG(LOG_ERROR, "panel: cannot follow the events");
        rc = MK_ENOMEM;
        goto fail;
    }
    fw_panel_beep(p->fw, FW_BEEP_READY);
    LOG(LOG_NOTICE, "panel: %d station(s)%s%s", p->cfg.nstations,
        p->cfg.led_ready[0] || p->cfg.led_attention[0] || p->cfg.led_busy[0] ? ", LEDs" : "",
        p->cfg.buzzer[0] ? ", buzzer" : "");
    *out = p;
    return MK_OK;
fail:
    fw_panel_stop(p->fw);
    store_close(p->st);
    pthread_mutex_destroy(&p->lock);
    free(p);
    return rc;
}

void panel_stop(struct panel *p)
{
    if (!p)
        return;
    if (p->events)
        events_listen(p->events, NULL, p);
    fw_panel_stop(p->fw);
    store_close(p->st);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

json_t *panel_status(struct panel *p)
{
    if (!p)
        return json_null();
    struct fw_panel_stats s;
    fw_panel_stats(p->fw, &s);
    json_t *stations = json_array();
    for (int i = 0; i < p->cfg.nstations; i++)
        json_array_append_new(stations,
                              json_pack("{s:s, s:b, s:b}", "name", p->cfg.stations[i].name,
                                        "button", p->cfg.stations[i].next[0] != '\0', "display",
                                        p->cfg.stations[i].clk[0] != '\0'));
    pthread_mutex_lock(&p->lock);
    json_t *leds = json_pack("{s:b, s:b, s:b}", "ready", p->leds[FW_LED_READY], "attention",
                             p->leds[FW_LED_ATTENTION], "busy", p->leds[FW_LED_BUSY]);
    pthread_mutex_unlock(&p->lock);
    return json_pack("{s:o, s:{s:I, s:I}, s:I, s:I, s:o, s:b}", "stations", stations, "presses",
                     "short", (json_int_t)s.presses_short, "long", (json_int_t)s.presses_long,
                     "display_writes", (json_int_t)s.display_writes, "bounces_ignored",
                     (json_int_t)s.bounces_ignored, "leds", leds, "buzzer",
                     p->cfg.buzzer[0] != '\0');
}
