/* The kit's devices in the app: starts the device manager (firmware/, fw_device.h) and turns
 * what it reports into the screening day's records:
 *   - a scanned wristband makes its patient the current one of the device's station (today's
 *     visit, opened if the patient has none yet);
 *   - a reading becomes an observation of that station's current visit, with the device and
 *     the raw frame as provenance, or waits as unassigned (store_reading_add);
 *   - everything is published on the event stream (events.h).
 * It has its own database connection and runs on the device manager's thread. */
#pragma once

#include "../api/events.h"
#include "../store/store.h"

#include <jansson.h>
#include <stdbool.h>

struct devices;

struct devices_config {
    const char *data_dir;   /* the store to open */
    bool usb, evdev, demo;  /* see fw_manager_config */
    const char *paths;      /* "DRIVER:PATH,..." */
    const char *replay_dir; /* NULL: none */
    struct events *events;  /* where to publish; may be NULL */
};

/* MK_OK with *out; MK_EIO (logged) when the store or the manager cannot start. */
int devices_start(const struct devices_config *cfg, struct devices **out);
void devices_stop(struct devices *d);

/* The devices seen, as JSON: [{id, driver, model, serial, path, transport, vid, pid, state,
 * message, since, last_frame, frames, readings, scans, errors}]. */
json_t *devices_list(struct devices *d);
/* The demo's devices (fw_manager_simulate): MK_ENOTFOUND for no such demo device (or not in
 * demo mode), MK_EINVAL for a code a keyboard-mode scanner cannot type. */
int devices_simulate(struct devices *d, const char *device_id, const char *code);
/* One of a device's actions (the driver's "actions", e.g. "download": the readings in its
 * memory, which then arrive as readings). MK_OK: started; MK_ENOTFOUND: no such device, or not
 * online; MK_EINVAL: the device cannot (why in err); MK_EBUSY: one is running; MK_EIO. */
int devices_action(struct devices *d, const char *device_id, const char *action, char *err,
                   size_t errlen);

/* What a scan means at a station: a patient code (its visit made current), a CCCD card's QR
 * (at registration: for the form), or a rejected scan with the reason. Pure but for the
 * store. The result (a new reference) is what the "scan" event carries. */
json_t *devices_scan_outcome(struct store *st, const char *station, const char *text);
