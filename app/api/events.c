/* The event stream hub: a ring of recent events and the clients reading it (events.h). */
#include "events.h"

#include "../common/err.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct event {
    unsigned long long id;
    char *text; /* "id: N\nevent: T\ndata: {...}\n\n" */
    size_t len;
};

struct events_client {
    struct events *hub;
    struct events_client *next;
    unsigned long long seen; /* the last id sent */
    char *pending;           /* an event that did not fit in one read */
    size_t plen, poff;
    bool suspended, ping;
    void (*wake)(void *conn);
    void *conn;
};

struct events {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t pinger;
    bool pinger_started, closing, stopping;
    int ping_seconds;
    struct event ring[EVENTS_KEEP];
    unsigned long long next_id, first_id;
    struct events_client *clients;
    struct {
        events_listener_fn fn;
        void *ctx;
    } listeners[EVENTS_LISTENERS];
};

static void wake_client(struct events_client *c)
{
    if (c->suspended) {
        c->suspended = false;
        c->wake(c->conn);
    }
}

static void *pinger(void *arg)
{
    struct events *ev = arg;
    pthread_mutex_lock(&ev->lock);
    while (!ev->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += ev->ping_seconds;
        int r = 0;
        while (!ev->stopping && r != ETIMEDOUT)
            r = pthread_cond_timedwait(&ev->cond, &ev->lock, &until);
        if (ev->stopping)
            break;
        for (struct events_client *c = ev->clients; c; c = c->next) {
            c->ping = true;
            wake_client(c);
        }
    }
    pthread_mutex_unlock(&ev->lock);
    return NULL;
}

int events_new(int ping_seconds, struct events **out)
{
    struct events *ev = calloc(1, sizeof *ev);
    if (!ev)
        return MK_ENOMEM;
    pthread_mutex_init(&ev->lock, NULL);
    pthread_cond_init(&ev->cond, NULL);
    ev->ping_seconds = ping_seconds > 0 ? ping_seconds : 15;
    /* Ids go on from one run to the next (milliseconds at start), so a phone's Last-Event-ID
     * from before a restart is older than every event of this run: it gets them all. */
    ev->next_id = ev->first_id = (unsigned long long)time(NULL) * 1000;
    if (pthread_create(&ev->pinger, NULL, pinger, ev) == 0)
        ev->pinger_started = true;
    *out = ev;
    return MK_OK;
}

void events_close(struct events *ev)
{
    if (!ev)
        return;
    pthread_mutex_lock(&ev->lock);
    ev->closing = true;
    for (struct events_client *c = ev->clients; c; c = c->next)
        wake_client(c);
    pthread_mutex_unlock(&ev->lock);
}

void events_free(struct events *ev)
{
    if (!ev)
        return;
    pthread_mutex_lock(&ev->lock);
    ev->stopping = true;
    pthread_cond_broadcast(&ev->cond);
    pthread_mutex_unlock(&ev->lock);
    if (ev->pinger_started)
        pthread_join(ev->pinger, NULL);
    for (size_t i = 0; i < EVENTS_KEEP; i++)
        free(ev->ring[i].text);
    /* Clients still listed belong to connections the HTTP server has dropped already. */
    pthread_mutex_destroy(&ev->lock);
    pthread_cond_destroy(&ev->cond);
    free(ev);
}

int events_listen(struct events *ev, events_listener_fn fn, void *ctx)
{
    int rc = -1;
    pthread_mutex_lock(&ev->lock);
    for (int i = 0; i < EVENTS_LISTENERS; i++)
        if (!ev->listeners[i].fn || (!fn && ev->listeners[i].ctx == ctx)) {
            ev->listeners[i].fn = fn;
            ev->listeners[i].ctx = fn ? ctx : NULL;
            rc = 0;
            if (fn)
                break;
        }
    pthread_mutex_unlock(&ev->lock);
    return fn ? rc : 0;
}

unsigned long long events_publish(struct events *ev, const char *type, json_t *data)
{
    if (ev && data) { /* the listeners in the daemon first: the panel's display and buzzer */
        pthread_mutex_lock(&ev->lock);
        __typeof__(ev->listeners) ls;
        memcpy(ls, ev->listeners, sizeof ls);
        pthread_mutex_unlock(&ev->lock);
        for (int i = 0; i < EVENTS_LISTENERS; i++)
            if (ls[i].fn)
                ls[i].fn(ls[i].ctx, type, data);
    }
    char *json = data ? json_dumps(data, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(data);
    if (!ev || !json) {
        free(json);
        return 0;
    }
    pthread_mutex_lock(&ev->lock);
    unsigned long long id = ev->next_id++;
    struct event *e = &ev->ring[id % EVENTS_KEEP];
    free(e->text);
    size_t cap = strlen(json) + strlen(type) + 64;
    e->text = malloc(cap);
    e->id = id;
    if (e->text) {
        int n = snprintf(e->text, cap, "id: %llu\nevent: %s\ndata: %s\n\n", id, type, json);
        e->len = n > 0 ? (size_t)n : 0;
    }
    for (struct events_client *c = ev->clients; c; c = c->next)
        wake_client(c);
    pthread_mutex_unlock(&ev->lock);
    free(json);
    return id;
}

struct events_client *events_client_new(struct events *ev, unsigned long long last_id,
                                        void (*wake)(void *conn), void *conn)
{
    struct events_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->hub = ev;
    c->wake = wake;
    c->conn = conn;
    pthread_mutex_lock(&ev->lock);
    /* A reconnecting client gets what it missed, as far as the ring goes back. */
    unsigned long long newest = ev->next_id - 1, first = ev->first_id;
    unsigned long long oldest = newest >= first + EVENTS_KEEP ? newest - EVENTS_KEEP + 1 : first;
    if (!last_id || last_id > newest)
        c->seen = newest; /* new here: only what comes next */
    else
        c->seen = last_id + 1 < oldest ? oldest - 1 : last_id; /* from where it was, or the
                                                                   oldest kept */
    c->ping = true; /* the first read answers at once: the stream is open */
    c->next = ev->clients;
    ev->clients = c;
    pthread_mutex_unlock(&ev->lock);
    return c;
}

long events_client_read(struct events_client *c, char *buf, size_t max, void (*suspend)(void *conn))
{
    struct events *ev = c->hub;
    size_t n = 0;
    pthread_mutex_lock(&ev->lock);
    for (;;) {
        if (c->pending) {
            size_t take = c->plen - c->poff;
            if (take > max - n)
                take = max - n;
            memcpy(buf + n, c->pending + c->poff, take);
            n += take;
            c->poff += take;
            if (c->poff < c->plen)
                break; /* buf is full */
            free(c->pending);
            c->pending = NULL;
        }
        if (n == max)
            break;
        unsigned long long newest = ev->next_id - 1;
        if (c->seen < newest) {
            unsigned long long oldest =
                newest >= ev->first_id + EVENTS_KEEP ? newest - EVENTS_KEEP + 1 : ev->first_id;
            unsigned long long id = c->seen + 1 < oldest ? oldest : c->seen + 1;
            struct event *e = &ev->ring[id % EVENTS_KEEP];
            c->seen = id;
            if (e->text && e->id == id && (c->pending = malloc(e->len))) {
                memcpy(c->pending, e->text, e->len);
                c->plen = e->len;
                c->poff = 0;
            }
            continue;
        }
        if (c->ping) {
            static const char ping[] = ": ping\n\n";
            c->ping = false;
            if ((c->pending = strdup(ping))) {
                c->plen = sizeof ping - 1;
                c->poff = 0;
            }
            continue;
        }
        break;
    }
    long ret = (long)n;
    if (n == 0 && ev->closing)
        ret = -1;
    else if (n == 0) {
        c->suspended = true;
        suspend(c->conn);
    }
    pthread_mutex_unlock(&ev->lock);
    return ret;
}

void events_client_free(struct events_client *c)
{
    if (!c)
        return;
    struct events *ev = c->hub;
    pthread_mutex_lock(&ev->lock);
    for (struct events_client **p = &ev->clients; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    pthread_mutex_unlock(&ev->lock);
    free(c->pending);
    free(c);
}
