/* The HTTP server of mokitd: JSON API under /api/v1, the web UI (app/web) at / and the
 * technician's status page at /status.
 * One libmicrohttpd thread serves every request, so the store is used by one thread. */
#pragma once

#include "../devices/devices.h"
#include "../print/spool.h"
#include "events.h"
#include "../store/store.h"

struct api;

struct api_config {
    const char *listen;      /* "ADDR:PORT", IPv4 or [IPv6] */
    int session_seconds;     /* lifetime of a login */
    int idle_seconds;        /* a login unused this long ends */
    const char *web_dir;     /* the UI's files (app/web); NULL or "": API only */
    const char *rules_file;  /* screening rules (app/doc/screening.md); NULL: the defaults */
    struct spool *spool;     /* told about new print jobs; may be NULL */
    struct devices *devices; /* the device list and the demo's devices; may be NULL */
    struct panel *panel;     /* the GPIO station panel, for the status; may be NULL */
    struct events *events;   /* the event stream (GET /api/v1/events); may be NULL */
};

/* Starts serving. 0 with *out, or MK_EINVAL (bad address) / MK_EIO (cannot bind: logged). */
int api_start(const struct api_config *cfg, struct store *st, struct api **out);
/* Stops serving, waits for the request in progress, frees. */
void api_stop(struct api *a);

/* Removes what an export download interrupted by a crash or a power cut left in the data
 * directory (".export-*": whole campaigns in plain text). mokitd calls it at start, holding
 * the data directory's lock. */
void api_export_cleanup(const char *data_dir);
