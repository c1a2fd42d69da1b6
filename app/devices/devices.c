/* The kit's devices in the app (devices.h). */
#include "devices.h"

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../domain/cccd.h"
#include "../domain/code.h"
#include "fw_device.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct devices {
    struct fw_manager *fw;
    struct store *st;
    struct events *events;
};

static const struct actor device_actor = {.staff_id = NULL, .label = "system:devices"};

static json_t *identity_json(const struct fw_identity *id)
{
    char usb[16] = "";
    if (id->vid || id->pid)
        snprintf(usb, sizeof usb, "%04x:%04x", id->vid, id->pid);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", id->id, "driver", id->driver,
                          "model", id->model, "serial", id->serial, "path", id->path, "transport",
                          id->transport, "usb", usb);
    if (o && id->clock_known) /* the device's clock minus the kit's, this connection */
        json_object_set_new(o, "clock_offset", json_real(round(id->clock_offset)));
    return o;
}

json_t *devices_list(struct devices *d)
{
    struct fw_device_info *v;
    size_t n;
    json_t *list = json_array();
    if (!d || fw_manager_devices(d->fw, &v, &n) != FW_OK)
        return list;
    for (size_t i = 0; i < n; i++) {
        char since[32], last[32] = "";
        util_time_iso(v[i].since, since);
        if (v[i].last_frame > 0)
            util_time_iso(v[i].last_frame, last);
        json_t *o = identity_json(&v[i].id);
        const struct fw_driver *drv = fw_driver_find(v[i].id.driver);
        json_t *actions = json_array();
        for (const char *p = drv && drv->actions ? drv->actions : ""; *p;) {
            size_t l = strcspn(p, " ");
            if (l)
                json_array_append_new(actions, json_stringn(p, l));
            p += l + (p[l] == ' ');
        }
        json_object_set_new(o, "actions", actions);
        json_object_update_new(
            o, json_pack("{s:s, s:s, s:s, s:o, s:i, s:i, s:i, s:i}", "state",
                         fw_dev_state_name(v[i].state), "message", v[i].message, "since", since,
                         "last_frame", last[0] ? json_string(last) : json_null(), "frames",
                         (json_int_t)v[i].frames, "readings", (json_int_t)v[i].readings, "scans",
                         (json_int_t)v[i].scans, "errors", (json_int_t)v[i].errors));
        json_array_append_new(list, o);
    }
    free(v);
    return list;
}

int devices_simulate(struct devices *d, const char *device_id, const char *code)
{
    int rc = d ? fw_manager_simulate(d->fw, device_id, code) : FW_ENODEV;
    return rc == FW_OK ? MK_OK : rc == FW_EINVAL ? MK_EINVAL : MK_ENOTFOUND;
}

int devices_action(struct devices *d, const char *device_id, const char *action, char *err,
                   size_t errlen)
{
    snprintf(err, errlen, "no such device");
    if (!d)
        return MK_ENOTFOUND;
    int rc = fw_manager_action(d->fw, device_id, action, err, errlen);
    switch (rc) {
    case FW_OK:
        LOG(LOG_INFO, "device %s: %s started", device_id, action);
        return MK_OK;
    case FW_ENODEV:
        return MK_ENOTFOUND;
    case FW_EINVAL:
        return MK_EINVAL;
    case FW_EBUSY:
        return MK_EBUSY;
    default:
        snprintf(err, errlen, "%s", fw_strerror(rc));
        return MK_EIO;
    }
}

static void publish(struct devices *d, const char *type, json_t *data)
{
    if (d->events)
        events_publish(d->events, type, data);
    else
        json_decref(data);
}

/* ---- scans ---- */

static json_t *rejected(const char *station, const char *why)
{
    return json_pack("{s:s, s:b, s:s}", "station", station ? station : "", "accepted", 0, "reason",
                     why);
}

json_t *devices_scan_outcome(struct store *st, const char *station, const char *text)
{
    char code[CODE_LEN + 1], campaign[64], err[160];
    json_t *sta = NULL, *patient = NULL, *visit = NULL, *out = NULL;
    if (!station)
        return rejected(NULL, "the device belongs to no station (set one as default)");
    if (store_station_get(st, station, &sta) != MK_OK)
        return rejected(station, "unknown station");
    const char *role = json_string_value(json_object_get(sta, "role"));
    int rc = code_parse(text, code);
    if (rc != MK_OK) {
        /* At registration, a CCCD card's QR fills the form (the UI asks for it). */
        struct cccd card;
        if (role && strcmp(role, "registration") == 0 &&
            cccd_parse(text, strlen(text), &card, err, sizeof err) == MK_OK) {
            out = json_pack("{s:s, s:b, s:s, s:s}", "station", station, "accepted", 1, "kind",
                            "cccd", "text", text);
            cccd_free(&card);
        } else {
            out = rejected(station, rc == MK_ECHECK ? "not a wristband: the check character is "
                                                      "wrong (a misread, scan again)"
                                                    : "not a wristband code (12 letters and "
                                                      "digits)");
        }
        goto done;
    }
    if (store_patient_get(st, code, &patient) != MK_OK) {
        out = rejected(station, "no resident with this code on this kit");
        goto done;
    }
    if (store_campaign_id(st, NULL, campaign) != MK_OK) {
        out = rejected(station, "no campaign: create one first");
        goto done;
    }
    rc = store_visit_create(st, &device_actor, code, campaign, &visit);
    if (rc != MK_OK && rc != MK_EEXIST) {
        out = rejected(station, mk_strerror(rc));
        goto done;
    }
    json_t *now_sta = NULL;
    rc = store_station_set_current(st, &device_actor, station,
                                   json_string_value(json_object_get(visit, "id")), &now_sta);
    if (rc != MK_OK) {
        out = rejected(station, mk_strerror(rc));
        goto done;
    }
    json_decref(now_sta);
    out = json_pack("{s:s, s:b, s:s, s:s, s:O, s:O, s:O}", "station", station, "accepted", 1,
                    "kind", "patient", "patient", code, "name", json_object_get(patient, "name"),
                    "visit", json_object_get(visit, "id"), "queue_number",
                    json_object_get(visit, "queue_number"));
done:
    json_decref(sta);
    json_decref(patient);
    json_decref(visit);
    return out;
}

static void on_scan(struct devices *d, const struct fw_event *ev)
{
    char station[40];
    const struct fw_identity *id = ev->dev;
    bool have = store_station_for_device(d->st, id->id, id->driver, id->serial, station) == MK_OK;
    json_t *out = ev->decoded->scanned > 0
                      ? devices_scan_outcome(d->st, have ? station : NULL, ev->decoded->scan)
                      : rejected(have ? station : NULL, ev->decoded->why);
    bool ok = json_is_true(json_object_get(out, "accepted"));
    /* Logs carry the patient code at most: never a card's text. */
    const char *kind = json_string_value(json_object_get(out, "kind"));
    if (ok && kind && strcmp(kind, "patient") == 0)
        LOG(LOG_INFO, "scan at %s by %s: patient %s, visit %s", station, id->id,
            json_string_value(json_object_get(out, "patient")),
            json_string_value(json_object_get(out, "visit")));
    else
        LOG(LOG_INFO, "scan at %s by %s: %s", have ? station : "-", id->id,
            ok ? "identity card" : json_string_value(json_object_get(out, "reason")));
    json_object_set_new(out, "device", identity_json(id));
    json_object_set_new(out, "frame_time", json_real(ev->time));
    if (ok && kind && strcmp(kind, "patient") == 0) {
        json_t *sta = NULL;
        if (store_station_get(d->st, station, &sta) == MK_OK)
            publish(d, "station", sta);
    }
    publish(d, "scan", out);
}

/* ---- readings ---- */

/* The id of a device's connection: "usb-1-1.2@1790000000.123". */
static void connection_id(const struct fw_identity *id, char out[96])
{
    snprintf(out, 96, "%.60s@%.3f", id->id, id->connected_at);
}

static void on_reading(struct devices *d, const struct fw_event *ev)
{
    const struct fw_identity *id = ev->dev;
    char station[40], device[256], *raw = NULL;
    bool have = store_station_for_device(d->st, id->id, id->driver, id->serial, station) == MK_OK;
    snprintf(device, sizeof device, "%s/%s/%s", id->driver, id->model, id->serial);
    if (ev->raw_len && (raw = malloc(ev->raw_len * 2 + 1)))
        util_hex(ev->raw, ev->raw_len, raw);
    char conn[96] = "";
    if (id->connected_at > 0)
        connection_id(id, conn);
    for (size_t i = 0; i < ev->decoded->nreadings; i++) {
        const struct fw_reading *r = &ev->decoded->readings[i];
        struct reading_in in = {.station = have ? station : NULL,
                                .device_id = id->id,
                                .device = device,
                                .code = r->kind,
                                .device_time = r->device_time,
                                .stored = r->stored,
                                .raw_hex = raw,
                                .connection_id = conn[0] ? conn : NULL,
                                .connected_at = id->connected_at,
                                .clock_known = id->clock_known,
                                .clock_offset = id->clock_offset};
        in.v[0] = r->value;
        in.present[0] = 1;
        if (strcmp(r->kind, "bp") == 0) {
            in.v[1] = r->value2;
            in.present[1] = !isnan(r->value2);
            in.v[2] = r->value3;
            in.present[2] = !isnan(r->value3);
        }
        json_t *row = NULL;
        int rc = store_reading_add(d->st, &device_actor, &in, &row);
        if (rc == MK_EEXIST) {
            LOG(LOG_DEBUG, "%s: %s reading from memory already stored", id->id, r->kind);
            json_decref(row);
            continue;
        }
        if (rc != MK_OK) {
            /* Not stored: the event still tells the staff, so nothing is silently lost. */
            LOG(LOG_ERROR, "%s: cannot store a %s reading: %s", id->id, r->kind, mk_strerror(rc));
            row = json_pack("{s:s, s:s, s:f, s:s}", "code", r->kind, "state", "not_stored", "value",
                            r->value, "error", mk_strerror(rc));
        }
        LOG(LOG_INFO, "%s at %s: %s reading %s", id->id, have ? station : "-", r->kind,
            json_string_value(json_object_get(row, "state")));
        json_object_set_new(row, "frame_time", json_real(ev->time));
        publish(d, "reading", row);
    }
    free(raw);
}

static void on_event(void *ctx, const struct fw_event *ev)
{
    struct devices *d = ctx;
    switch (ev->type) {
    case FW_EV_DEVICE: {
        LOG(ev->state == FW_DEV_OFFLINE ? LOG_WARN : LOG_NOTICE, "device %s (%s, %s): %s%s%s",
            ev->dev->id, ev->dev->driver, ev->dev->model, fw_dev_state_name(ev->state),
            ev->message && ev->message[0] ? ": " : "", ev->message ? ev->message : "");
        json_t *o = identity_json(ev->dev);
        json_object_set_new(o, "state", json_string(fw_dev_state_name(ev->state)));
        json_object_set_new(o, "message", json_string(ev->message ? ev->message : ""));
        publish(d, "device", o);
        if (ev->dev->clock_known && ev->dev->connected_at > 0) { /* the clock, as soon as told */
            char device[256], conn[96];
            snprintf(device, sizeof device, "%s/%s/%s", ev->dev->driver, ev->dev->model,
                     ev->dev->serial);
            connection_id(ev->dev, conn);
            int rc = store_device_connection(d->st, conn, ev->dev->id, device,
                                             ev->dev->connected_at, 1, ev->dev->clock_offset);
            if (rc != MK_OK)
                LOG(LOG_ERROR, "%s: cannot record the connection: %s", ev->dev->id,
                    mk_strerror(rc));
        }
        break;
    }
    case FW_EV_SCAN:
        on_scan(d, ev);
        break;
    case FW_EV_READING:
        on_reading(d, ev);
        break;
    case FW_EV_FRAME:
        break;
    }
}

int devices_start(const struct devices_config *cfg, struct devices **out)
{
    struct devices *d = calloc(1, sizeof *d);
    if (!d)
        return MK_ENOMEM;
    d->events = cfg->events;
    int rc = store_open(cfg->data_dir, &d->st);
    if (rc != MK_OK) {
        LOG(LOG_ERROR, "devices: cannot open the store: %s", mk_strerror(rc));
        free(d);
        return MK_EIO;
    }
    struct fw_manager_config fc = {
        .on_event = on_event,
        .ctx = d,
        .usb = cfg->usb,
        .evdev = cfg->evdev,
        .paths = cfg->paths && cfg->paths[0] ? cfg->paths : NULL,
        .replay_dir = cfg->replay_dir && cfg->replay_dir[0] ? cfg->replay_dir : NULL,
        .demo = cfg->demo};
    char err[200] = "";
    rc = fw_manager_start(&fc, &d->fw, err, sizeof err);
    if (rc != FW_OK) {
        LOG(LOG_ERROR, "devices: %s", err[0] ? err : fw_strerror(rc));
        store_close(d->st);
        free(d);
        return MK_EIO;
    }
    if (err[0])
        LOG(LOG_WARN, "devices: %s", err);
    *out = d;
    return MK_OK;
}

void devices_stop(struct devices *d)
{
    if (!d)
        return;
    fw_manager_stop(d->fw);
    store_close(d->st);
    free(d);
}
