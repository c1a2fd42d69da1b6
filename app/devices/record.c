/* `mokit device record` (record.h). The manager reports every frame (fw_manager_config.frames)
 * on its thread; they are kept in memory and written as a capture when the recording ends. */
#include "record.h"

#include "../common/err.h"
#include "../common/util.h"
#include "fw_device.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct rec {
    pthread_mutex_t lock;
    FILE *progress;
    bool chosen, gone;
    struct fw_identity id;
    double t0;
    struct fw_buf text; /* the frame lines so far */
    long frames;
};

static void on_event(void *ctx, const struct fw_event *ev)
{
    struct rec *r = ctx;
    pthread_mutex_lock(&r->lock);
    if (!r->chosen && ev->type == FW_EV_FRAME) {
        r->chosen = true;
        r->id = *ev->dev;
        r->t0 = ev->mono;
        if (r->progress)
            fprintf(r->progress, "recording %s (%s, %s)\n", ev->dev->id, ev->dev->driver,
                    ev->dev->path);
    }
    if (!r->chosen || strcmp(ev->dev->id, r->id.id) != 0) {
        if (!r->chosen && ev->type == FW_EV_DEVICE && r->progress) /* why none speaks */
            fprintf(r->progress, "%s: %s%s%s\n", ev->dev->id, fw_dev_state_name(ev->state),
                    ev->message && ev->message[0] ? ": " : "", ev->message ? ev->message : "");
        pthread_mutex_unlock(&r->lock);
        return;
    }
    r->id = *ev->dev; /* the model comes with the probe's answer */
    switch (ev->type) {
    case FW_EV_FRAME: {
        char head[40];
        int n =
            snprintf(head, sizeof head, "@%.3f %c", ev->mono - r->t0, ev->to_device ? '>' : '<');
        fw_buf_put(&r->text, head, (size_t)n);
        for (size_t i = 0; i < ev->raw_len; i++) {
            char b[4];
            snprintf(b, sizeof b, " %02x", ev->raw[i]);
            fw_buf_put(&r->text, b, 3);
        }
        fw_buf_put(&r->text, "\n", 1);
        r->frames++;
        break;
    }
    case FW_EV_DEVICE:
        if (r->progress)
            fprintf(r->progress, "%s: %s%s%s\n", ev->dev->id, fw_dev_state_name(ev->state),
                    ev->message && ev->message[0] ? ": " : "", ev->message ? ev->message : "");
        if (ev->state == FW_DEV_GONE || ev->state == FW_DEV_UNCLAIMED)
            r->gone = true;
        break;
    case FW_EV_READING:
        for (size_t i = 0; r->progress && i < ev->decoded->nreadings; i++)
            fprintf(r->progress, "  reading: %s %g %s\n", ev->decoded->readings[i].kind,
                    ev->decoded->readings[i].value, ev->decoded->readings[i].unit);
        break;
    case FW_EV_SCAN: /* what was scanned stays in the capture, not on the screen */
        if (r->progress)
            fprintf(r->progress, "  scan: %s\n", ev->decoded->scanned > 0 ? "a code" : "rejected");
        break;
    }
    pthread_mutex_unlock(&r->lock);
}

int devices_record(const struct record_opts *o, char **out, char *err, size_t errlen)
{
    *out = NULL;
    struct rec r = {.progress = o->progress};
    pthread_mutex_init(&r.lock, NULL);
    struct fw_manager_config fc = {.on_event = on_event,
                                   .ctx = &r,
                                   .usb = o->usb,
                                   .evdev = o->evdev,
                                   .paths = o->paths && o->paths[0] ? o->paths : NULL,
                                   .frames = true,
                                   .only_driver = o->driver};
    struct fw_manager *m;
    char why[200] = "";
    int rc = fw_manager_start(&fc, &m, why, sizeof why);
    if (rc != FW_OK) {
        snprintf(err, errlen, "%s", why[0] ? why : fw_strerror(rc));
        pthread_mutex_destroy(&r.lock);
        return rc == FW_ENOMEM ? MK_ENOMEM : MK_EIO;
    }
    if (why[0] && o->progress)
        fprintf(o->progress, "%s\n", why);
    double end = util_monotonic() + o->seconds;
    for (;;) {
        pthread_mutex_lock(&r.lock);
        bool gone = r.gone;
        pthread_mutex_unlock(&r.lock);
        if (gone || (o->stop && *o->stop) || util_monotonic() >= end)
            break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fw_manager_stop(m);
    pthread_mutex_destroy(&r.lock);
    if (fw_buf_error(&r.text)) {
        fw_buf_free(&r.text);
        return MK_ENOMEM;
    }
    if (!r.chosen) {
        fw_buf_free(&r.text);
        snprintf(err, errlen, "no %s%sdevice spoke in %.0f s (plugged in? `mokit device list`)",
                 o->driver ? o->driver : "", o->driver ? " " : "", o->seconds);
        return MK_ENOTFOUND;
    }
    /* The header, then the frames. */
    char date[16];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%d", &tm);
    char usb[16] = "";
    if (r.id.vid || r.id.pid)
        snprintf(usb, sizeof usb, " %04x:%04x", r.id.vid, r.id.pid);
    size_t hcap = 1024 + (o->who ? strlen(o->who) : 0) + (o->notes ? strlen(o->notes) : 0);
    char *head = malloc(hcap);
    char *all = head ? malloc(hcap + r.text.len + 1) : NULL;
    if (!all) {
        free(head);
        fw_buf_free(&r.text);
        return MK_ENOMEM;
    }
    int n = snprintf(head, hcap,
                     "# device: %s\n# model: %s\n# transport: %s%s\n%s%s%s# date: %s\n"
                     "%s%s%s# recorded: mokit device record, %ld frames\n",
                     r.id.driver, r.id.model[0] ? r.id.model : "(unknown)", r.id.transport, usb,
                     o->who ? "# who: " : "", o->who ? o->who : "", o->who ? "\n" : "", date,
                     o->notes ? "# notes: " : "", o->notes ? o->notes : "", o->notes ? "\n" : "",
                     r.frames);
    memcpy(all, head, (size_t)n);
    if (r.text.len)
        memcpy(all + n, r.text.data, r.text.len);
    all[(size_t)n + r.text.len] = '\0';
    free(head);
    fw_buf_free(&r.text);
    *out = all;
    return MK_OK;
}
