/* The link-time fake of libgpiod 1.6: see fake_gpiod.h. */
#include "fake_gpiod.h"

#include <errno.h>
#include <fcntl.h>
#include <gpiod.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct gpiod_chip {
    int magic;
};

struct gpiod_line {
    int offset;
    struct gpiod_chip *chip; /* the handle it was got through */
    bool requested, held, output, events, active_low, open_drain, pull_up, pull_down;
    char consumer[32];
    int out;     /* the level driven (physical) */
    int ext;     /* driven from outside: 0, 1, or -1 */
    int pipe[2]; /* events */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct gpiod_line lines[FAKE_GPIO_LINES];
static bool inited;
static int open_chips;
static struct fake_gpio_change *rec;
static size_t nrec, caprec;
static FILE *log_file;

long long fake_gpio_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void *ctl_thread(void *arg);

static void init_locked(void)
{
    if (inited)
        return;
    inited = true;
    for (int i = 0; i < FAKE_GPIO_LINES; i++)
        lines[i] = (struct gpiod_line){.offset = i, .ext = -1, .pipe = {-1, -1}};
    const char *logp = getenv("MOKIT_FAKE_GPIO_LOG");
    if (logp && *logp)
        log_file = fopen(logp, "a");
    const char *ctl = getenv("MOKIT_FAKE_GPIO_CTL");
    if (ctl && *ctl) {
        pthread_t t;
        if (pthread_create(&t, NULL, ctl_thread, strdup(ctl)) == 0)
            pthread_detach(t);
    }
}

/* The physical level of a line. */
static int level_of(const struct gpiod_line *l)
{
    if (l->output && !(l->open_drain && l->out == 1))
        return l->out;
    if (l->ext >= 0)
        return l->ext;
    if (l->output) /* open drain let go: the module's pull-up */
        return 1;
    return l->pull_up ? 1 : 0;
}

static void record(int offset, int level, bool input)
{
    long long t = fake_gpio_now_ns();
    if (nrec == caprec) {
        size_t cap = caprec ? caprec * 2 : 4096;
        struct fake_gpio_change *r = realloc(rec, cap * sizeof *r);
        if (!r)
            return;
        rec = r, caprec = cap;
    }
    rec[nrec++] = (struct fake_gpio_change){t, offset, level, input};
    if (log_file) {
        fprintf(log_file, "%lld %d %d %c\n", t, offset, level, input ? 'i' : 'o');
        fflush(log_file);
    }
}

/* A level change of an input with events: the event, logical. */
static void edge(struct gpiod_line *l, int before, int after)
{
    if (!l->events || before == after || l->pipe[1] < 0)
        return;
    int logical = after ^ (l->active_low ? 1 : 0);
    struct gpiod_line_event ev = {.event_type = logical ? GPIOD_LINE_EVENT_RISING_EDGE
                                                        : GPIOD_LINE_EVENT_FALLING_EDGE};
    clock_gettime(CLOCK_MONOTONIC, &ev.ts);
    if (write(l->pipe[1], &ev, sizeof ev) != (ssize_t)sizeof ev) {
        /* a full pipe drops the edge, as a kernel's full event FIFO does */
    }
}

/* ---- the test side ---- */

void fake_gpio_reset(void)
{
    pthread_mutex_lock(&lock);
    init_locked();
    for (int i = 0; i < FAKE_GPIO_LINES; i++) {
        if (lines[i].pipe[0] >= 0) {
            close(lines[i].pipe[0]);
            close(lines[i].pipe[1]);
        }
        lines[i] = (struct gpiod_line){.offset = i, .ext = -1, .pipe = {-1, -1}};
    }
    nrec = 0;
    pthread_mutex_unlock(&lock);
}

void fake_gpio_drive(int offset, int level)
{
    if (offset < 0 || offset >= FAKE_GPIO_LINES)
        return;
    pthread_mutex_lock(&lock);
    init_locked();
    struct gpiod_line *l = &lines[offset];
    int before = level_of(l);
    l->ext = level < 0 ? -1 : level ? 1 : 0;
    int after = level_of(l);
    record(offset, after, true);
    edge(l, before, after);
    pthread_mutex_unlock(&lock);
}

void fake_gpio_hold(int offset)
{
    pthread_mutex_lock(&lock);
    init_locked();
    lines[offset].held = true;
    pthread_mutex_unlock(&lock);
}

const struct fake_gpio_change *fake_gpio_record(size_t *n)
{
    pthread_mutex_lock(&lock);
    *n = nrec;
    pthread_mutex_unlock(&lock);
    return rec;
}

const char *fake_gpio_consumer(int offset)
{
    return lines[offset].requested ? lines[offset].consumer : NULL;
}

int fake_gpio_level(int offset)
{
    pthread_mutex_lock(&lock);
    int v = level_of(&lines[offset]);
    pthread_mutex_unlock(&lock);
    return v;
}

int fake_gpio_open_chips(void)
{
    return open_chips;
}

/* "GPIO22" or "22" -> 22, or -1. */
static int offset_of(const char *s)
{
    if (!strncmp(s, "GPIO", 4))
        s += 4;
    char *end;
    long v = strtol(s, &end, 10);
    return end != s && !*end && v >= 0 && v < FAKE_GPIO_LINES ? (int)v : -1;
}

static void *ctl_thread(void *arg)
{
    char *path = arg;
    for (;;) {
        FILE *f = fopen(path, "r"); /* blocks until a test opens it to write */
        if (!f)
            break;
        char line[128];
        while (fgets(line, sizeof line, f)) {
            char a[64], b[64];
            if (sscanf(line, "%63s %63s", a, b) != 2)
                continue;
            if (!strcmp(a, "wait")) {
                long us = atol(b);
                struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
                nanosleep(&ts, NULL);
            } else if (!strcmp(a, "hold") && offset_of(b) >= 0) {
                fake_gpio_hold(offset_of(b));
            } else if (offset_of(a) >= 0) {
                fake_gpio_drive(offset_of(a), !strcmp(b, "-") ? -1 : atoi(b));
            }
        }
        fclose(f);
    }
    free(path);
    return NULL;
}

/* ---- libgpiod ---- */

static struct gpiod_chip *chip_new(void)
{
    struct gpiod_chip *c = calloc(1, sizeof *c);
    if (c) {
        c->magic = 0x6770;
        pthread_mutex_lock(&lock);
        init_locked();
        open_chips++;
        pthread_mutex_unlock(&lock);
    }
    return c;
}

struct gpiod_chip *gpiod_chip_open_lookup(const char *descr)
{
    if (!descr || (strcmp(descr, "gpiochip0") && strcmp(descr, "0") &&
                   strcmp(descr, "/dev/gpiochip0") && strcmp(descr, "pinctrl-bcm2711"))) {
        errno = ENOENT;
        return NULL;
    }
    return chip_new();
}

void gpiod_chip_close(struct gpiod_chip *chip)
{
    if (!chip)
        return;
    pthread_mutex_lock(&lock);
    open_chips--;
    pthread_mutex_unlock(&lock);
    free(chip);
}

struct gpiod_line *gpiod_chip_get_line(struct gpiod_chip *chip, unsigned int offset)
{
    if (offset >= FAKE_GPIO_LINES) {
        errno = EINVAL;
        return NULL;
    }
    lines[offset].chip = chip;
    return &lines[offset];
}

struct gpiod_line *gpiod_line_find(const char *name)
{
    int off = name && !strncmp(name, "GPIO", 4) ? offset_of(name) : -1;
    if (off < 0) {
        errno = ENOENT;
        return NULL;
    }
    struct gpiod_chip *c = chip_new();
    if (!c)
        return NULL;
    lines[off].chip = c;
    return &lines[off];
}

struct gpiod_chip *gpiod_line_get_chip(struct gpiod_line *line)
{
    return line->chip;
}

int gpiod_line_request(struct gpiod_line *line, const struct gpiod_line_request_config *config,
                       int default_val)
{
    pthread_mutex_lock(&lock);
    if (line->requested || line->held) {
        pthread_mutex_unlock(&lock);
        errno = EBUSY;
        return -1;
    }
    int before = level_of(line);
    line->requested = true;
    snprintf(line->consumer, sizeof line->consumer, "%s",
             config->consumer ? config->consumer : "?");
    line->active_low = config->flags & GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW;
    line->open_drain = config->flags & GPIOD_LINE_REQUEST_FLAG_OPEN_DRAIN;
    line->pull_up = config->flags & GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP;
    line->pull_down = config->flags & GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN;
    line->output = config->request_type == GPIOD_LINE_REQUEST_DIRECTION_OUTPUT;
    line->events = config->request_type == GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES ||
                   config->request_type == GPIOD_LINE_REQUEST_EVENT_RISING_EDGE ||
                   config->request_type == GPIOD_LINE_REQUEST_EVENT_FALLING_EDGE;
    if (line->output)
        line->out = (default_val ? 1 : 0) ^ (line->active_low ? 1 : 0);
    if (line->events && pipe2(line->pipe, O_CLOEXEC) != 0) {
        line->requested = false;
        pthread_mutex_unlock(&lock);
        return -1;
    }
    int after = level_of(line);
    if (line->output && after != before)
        record(line->offset, after, false);
    pthread_mutex_unlock(&lock);
    return 0;
}

int gpiod_line_request_input(struct gpiod_line *line, const char *consumer)
{
    struct gpiod_line_request_config c = {.consumer = consumer,
                                          .request_type = GPIOD_LINE_REQUEST_DIRECTION_INPUT};
    return gpiod_line_request(line, &c, 0);
}

void gpiod_line_release(struct gpiod_line *line)
{
    pthread_mutex_lock(&lock);
    if (line->pipe[0] >= 0) {
        close(line->pipe[0]);
        close(line->pipe[1]);
    }
    int ext = line->ext;
    *line = (struct gpiod_line){.offset = line->offset, .ext = ext, .pipe = {-1, -1}};
    pthread_mutex_unlock(&lock);
}

int gpiod_line_get_value(struct gpiod_line *line)
{
    pthread_mutex_lock(&lock);
    if (!line->requested) {
        pthread_mutex_unlock(&lock);
        errno = EPERM;
        return -1;
    }
    int v = level_of(line) ^ (line->active_low ? 1 : 0);
    pthread_mutex_unlock(&lock);
    return v;
}

int gpiod_line_set_value(struct gpiod_line *line, int value)
{
    pthread_mutex_lock(&lock);
    if (!line->requested || !line->output) {
        pthread_mutex_unlock(&lock);
        errno = EPERM;
        return -1;
    }
    int before = level_of(line);
    line->out = (value ? 1 : 0) ^ (line->active_low ? 1 : 0);
    int after = level_of(line);
    if (after != before)
        record(line->offset, after, false);
    pthread_mutex_unlock(&lock);
    return 0;
}

int gpiod_line_event_get_fd(struct gpiod_line *line)
{
    if (!line->events) {
        errno = EPERM;
        return -1;
    }
    return line->pipe[0];
}

int gpiod_line_event_read(struct gpiod_line *line, struct gpiod_line_event *event)
{
    if (!line->events) {
        errno = EPERM;
        return -1;
    }
    return read(line->pipe[0], event, sizeof *event) == (ssize_t)sizeof *event ? 0 : -1;
}
