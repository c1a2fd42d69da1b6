/* The event stream (GET /api/v1/events, Server-Sent Events): readings, scans, device and
 * station changes, pushed to every logged-in phone as they happen.
 *
 * Any thread publishes; the HTTP thread sends. The last EVENTS_KEEP events are kept, so a
 * phone that lost the Wi-Fi for a moment reconnects with Last-Event-ID and misses nothing. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#define EVENTS_KEEP 256

struct events;

/* 0 with *out, MK_ENOMEM. Starts a thread that sends a comment every ping_seconds so idle
 * streams stay open through proxies and dead ones are noticed. */
int events_new(int ping_seconds, struct events **out);
/* Ends every stream (their clients reconnect) and frees. Call after events_close() and after
 * the HTTP server has stopped. */
void events_free(struct events *ev);
/* Ends the streams: each client's next read sees the end. Before stopping the HTTP server. */
void events_close(struct events *ev);

/* Publishes an event of a type ("reading", "scan", "device", "station") with data (stolen).
 * Returns its id. */
unsigned long long events_publish(struct events *ev, const char *type, json_t *data);

/* A listener in the daemon (the GPIO panel: a call shown on a display): called on the
 * publishing thread with the event's type and data (borrowed), before the stream's clients get
 * it. It must return quickly and must not publish. 0, or -1 when EVENTS_LISTENERS are taken.
 * fn NULL removes the listeners with this ctx. */
#define EVENTS_LISTENERS 4
typedef void (*events_listener_fn)(void *ctx, const char *type, json_t *data);
int events_listen(struct events *ev, events_listener_fn fn, void *ctx);

/* A client of the stream (the HTTP side). last_id: the Last-Event-ID it had (0: only new
 * events). wake(conn) is called, under the hub's lock, when a suspended client has something
 * to read; the client marks itself suspended with events_client_read's return of 0. */
struct events_client;
struct events_client *events_client_new(struct events *ev, unsigned long long last_id,
                                        void (*wake)(void *conn), void *conn);
/* Fills buf with what the client has not seen: the number of bytes; 0 when there is nothing
 * (the client is then marked suspended and the caller must suspend its connection before
 * returning, which it does inside suspend(conn) called under the lock); -1 at the end of the
 * stream. */
long events_client_read(struct events_client *c, char *buf, size_t max,
                        void (*suspend)(void *conn));
void events_client_free(struct events_client *c);
