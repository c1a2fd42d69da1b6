/* The station panel: one thread owns the lines. It sleeps in poll() on the buttons' edge
 * events and a wake-up descriptor, with a timeout for the nearest thing due (a button settling,
 * a long press, the buzzer's next step, a display's next blink). */
#include "fw_gpio.h"
#include "line.h"
#include "tm1637.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define CMD_QUEUE     128
#define FLASH_MS      250
#define FLASH_TOGGLES 5 /* after the first dark: on, off, on, off, on */

enum cmd_kind { CMD_SHOW, CMD_LED, CMD_BEEP };

struct cmd {
    enum cmd_kind kind;
    int index; /* station, led or beep */
    bool flag; /* show: flash; led: on */
    char text[FW_TM1637_DIGITS + 1];
};

struct station {
    char name[32];
    struct gpio_line *next;
    struct fw_button button;
    bool has_display;
    struct tm1637 display;
    char text[FW_TM1637_DIGITS + 1];
    int flash_left; /* toggles still to do */
    bool lit;
    long long flash_at;
};

struct fw_panel {
    struct station st[FW_PANEL_STATIONS];
    int nst;
    struct gpio_line *led[FW_LED_COUNT], *buzzer;
    int brightness;
    fw_panel_press_fn on_press;
    void *ctx;

    int wake; /* eventfd */
    pthread_t thread;
    bool started;

    pthread_mutex_t lock; /* cmds, stop, stats */
    struct cmd cmds[CMD_QUEUE];
    int head, count;
    bool stop;
    struct fw_panel_stats stats;

    const uint16_t *beep; /* the pattern sounding, or NULL */
    int beep_step;
    long long beep_at;
};

static const uint16_t beep_call[] = {120, 0};
static const uint16_t beep_recall[] = {120, 100, 120, 0};
static const uint16_t beep_scan[] = {40, 0};
static const uint16_t beep_error[] = {70, 70, 70, 70, 70, 0};
static const uint16_t beep_ready[] = {400, 0};

const uint16_t *fw_beep_pattern(enum fw_beep b)
{
    switch (b) {
    case FW_BEEP_CALL:
        return beep_call;
    case FW_BEEP_RECALL:
        return beep_recall;
    case FW_BEEP_SCAN:
        return beep_scan;
    case FW_BEEP_ERROR:
        return beep_error;
    case FW_BEEP_READY:
        return beep_ready;
    }
    return NULL;
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* ---- taking and letting go of the lines ---- */

static void release(struct fw_panel *p)
{
    for (int i = 0; i < p->nst; i++) {
        gpio_line_close(p->st[i].next);
        gpio_line_close(p->st[i].display.clk);
        gpio_line_close(p->st[i].display.dio);
    }
    for (int i = 0; i < FW_LED_COUNT; i++)
        gpio_line_close(p->led[i]);
    gpio_line_close(p->buzzer);
    if (p->wake >= 0)
        close(p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* Every line named in cfg, for the check that none is named twice. */
static int check_config(const struct fw_panel_config *cfg, char *err, size_t errlen)
{
    const char *names[FW_PANEL_STATIONS * 3 + 4];
    const char *what[FW_PANEL_STATIONS * 3 + 4];
    int n = 0;
    if (cfg->nstations < 0 || cfg->nstations > FW_PANEL_STATIONS) {
        snprintf(err, errlen, "at most %d stations have a panel", FW_PANEL_STATIONS);
        return FW_EINVAL;
    }
    for (int i = 0; i < cfg->nstations; i++) {
        const struct fw_panel_station *s = &cfg->stations[i];
        if (!s->name[0]) {
            snprintf(err, errlen, "a panel without a station name");
            return FW_EINVAL;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(cfg->stations[j].name, s->name)) {
                snprintf(err, errlen, "station %s has two panels", s->name);
                return FW_EINVAL;
            }
        if (!s->next[0] && !s->clk[0] && !s->dio[0]) {
            snprintf(err, errlen, "the panel of %s has no lines", s->name);
            return FW_EINVAL;
        }
        if (!s->clk[0] != !s->dio[0]) {
            snprintf(err, errlen, "the display of %s needs both clk and dio", s->name);
            return FW_EINVAL;
        }
        names[n] = s->next, what[n++] = "a Next button";
        names[n] = s->clk, what[n++] = "a display's clk";
        names[n] = s->dio, what[n++] = "a display's dio";
    }
    names[n] = cfg->led_ready, what[n++] = "the ready LED";
    names[n] = cfg->led_attention, what[n++] = "the attention LED";
    names[n] = cfg->led_busy, what[n++] = "the busy LED";
    names[n] = cfg->buzzer, what[n++] = "the buzzer";
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i && names[i][0]; j++)
            if (!strcmp(names[i], names[j])) {
                snprintf(err, errlen, "GPIO line %s is both %s and %s", names[i], what[j], what[i]);
                return FW_EINVAL;
            }
    if (cfg->brightness > 7 || cfg->brightness < -1 || cfg->debounce_ms < 0 ||
        cfg->debounce_ms > 1000 || cfg->long_ms < 0 || cfg->long_ms > 10000 ||
        cfg->tm1637_half_us < 0 || cfg->tm1637_half_us > 1000) {
        snprintf(err, errlen, "panel timing or brightness out of range");
        return FW_EINVAL;
    }
    return FW_OK;
}

static int open_out(const char *spec, enum gpio_mode mode, int initial, const char *consumer,
                    struct gpio_line **out, char *err, size_t errlen)
{
    if (!spec[0])
        return FW_OK;
    return gpio_line_open(spec, mode, initial, consumer, out, err, errlen);
}

/* ---- what the thread does ---- */

static void display_write(struct fw_panel *p, struct station *s, bool on)
{
    struct fw_tm1637_frame f;
    if (fw_tm1637_frame(s->text, p->brightness, on, &f) != FW_OK)
        return; /* checked when queued */
    if (tm1637_write(&s->display, &f) != 0)
        return;
    pthread_mutex_lock(&p->lock);
    p->stats.display_writes++;
    pthread_mutex_unlock(&p->lock);
    s->lit = on;
}

static void beep_start(struct fw_panel *p, enum fw_beep b, long long now)
{
    if (!p->buzzer)
        return;
    p->beep = fw_beep_pattern(b);
    p->beep_step = 0;
    p->beep_at = now + p->beep[0];
    gpio_line_set(p->buzzer, 1);
}

static void run_cmd(struct fw_panel *p, const struct cmd *c, long long now)
{
    switch (c->kind) {
    case CMD_SHOW: {
        struct station *s = &p->st[c->index];
        snprintf(s->text, sizeof s->text, "%s", c->text);
        s->flash_left = c->flag ? FLASH_TOGGLES : 0;
        display_write(p, s, !c->flag); /* a flash starts dark */
        s->flash_at = now + FLASH_MS;
        break;
    }
    case CMD_LED:
        if (p->led[c->index])
            gpio_line_set(p->led[c->index], c->flag);
        break;
    case CMD_BEEP:
        beep_start(p, (enum fw_beep)c->index, now);
        break;
    }
}

static void timers(struct fw_panel *p, long long now)
{
    for (int i = 0; i < p->nst; i++) {
        struct station *s = &p->st[i];
        if (s->flash_left > 0 && now >= s->flash_at) {
            s->flash_left--;
            display_write(p, s, !s->lit);
            s->flash_at = now + FLASH_MS;
        }
    }
    while (p->beep && now >= p->beep_at) {
        p->beep_step++;
        if (!p->beep[p->beep_step]) {
            gpio_line_set(p->buzzer, 0);
            p->beep = NULL;
            break;
        }
        gpio_line_set(p->buzzer, !(p->beep_step & 1)); /* even steps sound */
        p->beep_at = now + p->beep[p->beep_step];      /* each step its full time */
    }
}

/* The nearest time something is due, or -1. */
static long long next_due(struct fw_panel *p)
{
    long long due = -1;
#define EARLIER(t)                            \
    do {                                      \
        long long t_ = (t);                   \
        if (t_ >= 0 && (due < 0 || t_ < due)) \
            due = t_;                         \
    } while (0)
    for (int i = 0; i < p->nst; i++) {
        if (p->st[i].next)
            EARLIER(fw_button_deadline(&p->st[i].button));
        if (p->st[i].flash_left > 0)
            EARLIER(p->st[i].flash_at);
    }
    if (p->beep)
        EARLIER(p->beep_at);
#undef EARLIER
    return due;
}

static void *panel_thread(void *arg)
{
    struct fw_panel *p = arg;
    struct pollfd fds[1 + FW_PANEL_STATIONS];
    int who[1 + FW_PANEL_STATIONS];
    for (;;) {
        int n = 0;
        fds[n++] = (struct pollfd){.fd = p->wake, .events = POLLIN};
        for (int i = 0; i < p->nst; i++)
            if (p->st[i].next) {
                who[n] = i;
                fds[n++] =
                    (struct pollfd){.fd = gpio_line_event_fd(p->st[i].next), .events = POLLIN};
            }
        long long due = next_due(p), now = now_ms();
        int timeout = due < 0 ? -1 : due <= now ? 0 : (int)(due - now);
        if (poll(fds, (nfds_t)n, timeout) < 0 && errno != EINTR)
            break;
        now = now_ms();
        for (int k = 1; k < n; k++)
            if (fds[k].revents & POLLIN) {
                int active;
                if (gpio_line_event_read(p->st[who[k]].next, &active) == 0)
                    fw_button_edge(&p->st[who[k]].button, active, now);
            }
        for (int i = 0; i < p->nst; i++) {
            if (!p->st[i].next)
                continue;
            unsigned long before = p->st[i].button.glitches;
            enum fw_press press;
            while ((press = fw_button_tick(&p->st[i].button, now)) != FW_PRESS_NONE) {
                pthread_mutex_lock(&p->lock);
                if (press == FW_PRESS_SHORT)
                    p->stats.presses_short++;
                else
                    p->stats.presses_long++;
                pthread_mutex_unlock(&p->lock);
                if (p->on_press)
                    p->on_press(p->ctx, p->st[i].name, press, now);
            }
            if (p->st[i].button.glitches != before) {
                pthread_mutex_lock(&p->lock);
                p->stats.bounces_ignored += p->st[i].button.glitches - before;
                pthread_mutex_unlock(&p->lock);
            }
        }
        if (fds[0].revents & POLLIN) {
            uint64_t v;
            if (read(p->wake, &v, sizeof v) < 0 && errno != EAGAIN)
                break;
        }
        /* the commands queued, in order (a press above may have queued some) */
        for (;;) {
            pthread_mutex_lock(&p->lock);
            bool stop = p->stop, have = p->count > 0;
            struct cmd c;
            if (have) {
                c = p->cmds[p->head];
                p->head = (p->head + 1) % CMD_QUEUE;
                p->count--;
            }
            pthread_mutex_unlock(&p->lock);
            if (stop)
                goto out;
            if (!have)
                break;
            run_cmd(p, &c, now_ms());
        }
        timers(p, now_ms());
    }
out:
    /* dark and silent */
    for (int i = 0; i < p->nst; i++)
        if (p->st[i].has_display) {
            p->st[i].text[0] = '\0';
            display_write(p, &p->st[i], false);
        }
    for (int i = 0; i < FW_LED_COUNT; i++)
        if (p->led[i])
            gpio_line_set(p->led[i], 0);
    if (p->buzzer)
        gpio_line_set(p->buzzer, 0);
    return NULL;
}

static int enqueue(struct fw_panel *p, const struct cmd *c)
{
    pthread_mutex_lock(&p->lock);
    if (p->count == CMD_QUEUE) {
        pthread_mutex_unlock(&p->lock);
        return FW_ENOMEM;
    }
    p->cmds[(p->head + p->count) % CMD_QUEUE] = *c;
    p->count++;
    pthread_mutex_unlock(&p->lock);
    uint64_t one = 1;
    if (write(p->wake, &one, sizeof one) < 0 && errno != EAGAIN)
        return FW_EIO;
    return FW_OK;
}

/* ---- the public side ---- */

int fw_panel_start(const struct fw_panel_config *cfg, fw_panel_press_fn on_press, void *ctx,
                   struct fw_panel **out, char *err, size_t errlen)
{
    *out = NULL;
    int rc = check_config(cfg, err, errlen);
    if (rc != FW_OK)
        return rc;
    struct fw_panel *p = calloc(1, sizeof *p);
    if (!p)
        return FW_ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    p->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->wake < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        release(p);
        return FW_EIO;
    }
    p->brightness = cfg->brightness < 0 ? 7 : cfg->brightness;
    p->on_press = on_press;
    p->ctx = ctx;
    int debounce = cfg->debounce_ms ? cfg->debounce_ms : 30;
    int long_ms = cfg->long_ms ? cfg->long_ms : 1000;
    int half = cfg->tm1637_half_us ? cfg->tm1637_half_us : 10;
    for (int i = 0; i < cfg->nstations; i++, p->nst++) {
        const struct fw_panel_station *c = &cfg->stations[i];
        struct station *s = &p->st[i];
        snprintf(s->name, sizeof s->name, "%s", c->name);
        fw_button_init(&s->button, debounce, long_ms);
        if ((rc = open_out(c->next, GPIO_BUTTON, 0, "mokit-next", &s->next, err, errlen)) ||
            (rc = open_out(c->clk, GPIO_OUTPUT, 1, "mokit-display-clk", &s->display.clk, err,
                           errlen)) ||
            (rc = open_out(c->dio, GPIO_OPEN_DRAIN, 1, "mokit-display-dio", &s->display.dio, err,
                           errlen))) {
            p->nst++;
            release(p);
            return rc;
        }
        s->has_display = s->display.clk != NULL;
        s->display.half_us = half;
        if (s->next) { /* pressed already (held, or a short to ground): wait for it to settle */
            int v = gpio_line_get(s->next);
            if (v > 0)
                fw_button_edge(&s->button, 1, now_ms());
        }
    }
    const char *leds[FW_LED_COUNT] = {cfg->led_ready, cfg->led_attention, cfg->led_busy};
    static const char *const led_users[FW_LED_COUNT] = {"mokit-led-ready", "mokit-led-attention",
                                                        "mokit-led-busy"};
    for (int i = 0; i < FW_LED_COUNT; i++)
        if ((rc = open_out(leds[i], GPIO_OUTPUT, 0, led_users[i], &p->led[i], err, errlen))) {
            release(p);
            return rc;
        }
    if ((rc = open_out(cfg->buzzer, GPIO_OUTPUT, 0, "mokit-buzzer", &p->buzzer, err, errlen))) {
        release(p);
        return rc;
    }
    for (int i = 0; i < p->nst; i++)
        if (p->st[i].has_display)
            display_write(p, &p->st[i], true); /* blank, lit */
    if (pthread_create(&p->thread, NULL, panel_thread, p) != 0) {
        snprintf(err, errlen, "cannot start the panel's thread");
        release(p);
        return FW_ENOMEM;
    }
    p->started = true;
    *out = p;
    return FW_OK;
}

void fw_panel_stop(struct fw_panel *p)
{
    if (!p)
        return;
    if (p->started) {
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_mutex_unlock(&p->lock);
        uint64_t one = 1;
        if (write(p->wake, &one, sizeof one) < 0) {
            /* the eventfd cannot be full at 1 */
        }
        pthread_join(p->thread, NULL);
    }
    release(p);
}

static int station_index(struct fw_panel *p, const char *name)
{
    for (int i = 0; i < p->nst; i++)
        if (!strcmp(p->st[i].name, name))
            return i;
    return -1;
}

int fw_panel_show(struct fw_panel *p, const char *station, const char *text, bool flash)
{
    int i = station_index(p, station);
    struct fw_tm1637_frame f;
    if (i < 0 || !p->st[i].has_display || fw_tm1637_frame(text, 0, true, &f) != FW_OK)
        return FW_EINVAL;
    struct cmd c = {.kind = CMD_SHOW, .index = i, .flag = flash};
    snprintf(c.text, sizeof c.text, "%s", text);
    return enqueue(p, &c);
}

int fw_panel_led(struct fw_panel *p, enum fw_led led, bool on)
{
    if ((int)led < 0 || led >= FW_LED_COUNT)
        return FW_EINVAL;
    return enqueue(p, &(struct cmd){.kind = CMD_LED, .index = led, .flag = on});
}

int fw_panel_beep(struct fw_panel *p, enum fw_beep b)
{
    if (!fw_beep_pattern(b))
        return FW_EINVAL;
    return enqueue(p, &(struct cmd){.kind = CMD_BEEP, .index = (int)b});
}

void fw_panel_stats(struct fw_panel *p, struct fw_panel_stats *out)
{
    pthread_mutex_lock(&p->lock);
    *out = p->stats;
    pthread_mutex_unlock(&p->lock);
}
