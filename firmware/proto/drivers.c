/* The driver table. Add a driver: a decoder in proto/, a row here, a doc in firmware/doc/,
 * byte-vector tests and a capture with its golden readings in tests/replay/. */
#include "fw_device.h"
#include "cms50f.h"
#include "scanner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int scale_decode(void *state, const uint8_t *data, size_t n, double t,
                        struct fw_decoded *out)
{
    (void)t;
    enum fw_scale_status st = 0;
    int rc = fw_hidpos_feed(state, data, n, &out->readings[0], &st);
    if (rc < 0) {
        snprintf(out->why, sizeof out->why,
                 "not a scale report (report 3, 6 bytes, status 1-8, unit g/kg/oz/lb)");
        return rc;
    }
    out->nreadings = (size_t)rc;
    static const char *const says[] = {
        [FW_SCALE_FAULT] = "fault",
        [FW_SCALE_ZERO] = "zero",
        [FW_SCALE_MOTION] = "in motion",
        [FW_SCALE_STABLE] = "stable",
        [FW_SCALE_UNDER] = "under zero",
        [FW_SCALE_OVER] = "over capacity",
        [FW_SCALE_CALIBRATE] = "needs calibration",
        [FW_SCALE_REZERO] = "needs re-zero",
    };
    if (st >= FW_SCALE_FAULT && st <= FW_SCALE_REZERO)
        out->status = says[st];
    return FW_OK;
}

/* The CMS50 family speaks one of two protocols: the probe (or, in a replay, the first
 * packets) says which; bytes wait until it is known. */
struct cms50_any {
    int proto; /* 0 undecided, 1 older (19200 8O1), 2 newer (115200 8N1) */
    uint8_t pending[128];
    size_t npending;
    struct fw_cms50 old;
    struct fw_cms50f nw;
    /* A download of the sessions in the oximeter's memory (newer protocol), in OSCAR's order:
     * stop (A7, A2) and count (A3); per session: duration (A4), start (A5), data (A6) until
     * the device falls silent; then live data again (A1). */
    struct cms50_dl {
        int phase;    /* DL_IDLE, DL_COUNT, DL_INFO, DL_DATA */
        double since; /* when the phase's command went out */
        double last;  /* DL_DATA: when the last byte came */
        int session, sessions;
        struct fw_cms50f_stored dec;
        struct fw_cms50f_summary sum;
        char status[224];
    } dl;
};

enum { DL_IDLE, DL_COUNT, DL_INFO, DL_DATA };
#define DL_ANSWER  3.0 /* seconds a command's reply may take */
#define DL_SILENCE 2.0 /* silence that ends a session's data (OSCAR waits 2 s) */

static void cms50_byte(struct cms50_any *c, uint8_t b, struct fw_decoded *out)
{
    struct fw_reading r[2];
    int k = c->proto == 2 ? fw_cms50f_feed(&c->nw, b, r, NULL, NULL)
                          : fw_cms50_feed(&c->old, b, r, NULL, NULL);
    for (int j = 0; j < k && out->nreadings < FW_MAX_READINGS; j++)
        out->readings[out->nreadings++] = r[j];
}

/* A command the host sent (or the driver is about to send) moves the download along. */
static void dl_command(struct cms50_any *c, uint8_t cmd, const uint8_t args[6], double t)
{
    struct cms50_dl *dl = &c->dl;
    c->proto = 2; /* only the newer protocol has commands */
    switch (cmd) {
    case FW_CMS50F_CMD_SESSION_COUNT:
        memset(dl, 0, sizeof *dl);
        dl->phase = DL_COUNT;
        dl->since = t;
        break;
    case FW_CMS50F_CMD_SESSION_DURATION: { /* a session's questions start: its facts anew */
        struct fw_cms50f_session keep = dl->dec.session;
        memset(&dl->dec, 0, sizeof dl->dec);
        dl->dec.session.have_count = keep.have_count;
        dl->dec.session.user = keep.user;
        dl->dec.session.sessions = keep.sessions;
        dl->phase = DL_INFO;
        dl->since = t;
        dl->session = args[1];
        break;
    }
    case FW_CMS50F_CMD_SESSION_TIME:
        if (dl->phase != DL_INFO) {
            dl->phase = DL_INFO;
            dl->session = args[1];
        }
        dl->since = t;
        break;
    case FW_CMS50F_CMD_SESSION_DATA:
        dl->phase = DL_DATA;
        dl->since = dl->last = t;
        dl->session = args[1];
        dl->dec.next_index = 0;
        memset(&dl->sum, 0, sizeof dl->sum);
        break;
    case FW_CMS50F_CMD_LIVE_START:
        dl->phase = DL_IDLE;
        break;
    default:
        break;
    }
}

/* Appends a command to out->reply and follows it. */
static void dl_send(struct cms50_any *c, uint8_t cmd, int session, double t, struct fw_decoded *out)
{
    uint8_t args[6] = {0, (uint8_t)session, 0, 0, 0, 0};
    if (out->reply_len + FW_CMS50F_CMD_LEN > sizeof out->reply)
        return;
    out->reply_len += fw_cms50f_command_args(cmd, args, out->reply + out->reply_len);
    dl_command(c, cmd, args, t);
}

static void cms50_sent(void *state, const uint8_t *data, size_t n, double t)
{
    uint8_t cmd, args[6];
    for (size_t i = 0; i + FW_CMS50F_CMD_LEN <= n;)
        if (fw_cms50f_command_parse(data + i, n - i, &cmd, args) > 0) {
            dl_command(state, cmd, args, t);
            i += FW_CMS50F_CMD_LEN;
        } else {
            i++;
        }
}

static int cms50_action(void *state, const char *name, double now, struct fw_decoded *out)
{
    struct cms50_any *c = state;
    if (strcmp(name, "download") != 0) {
        snprintf(out->why, sizeof out->why, "a CMS50 can do: download");
        return FW_EINVAL;
    }
    if (c->proto != 2) {
        snprintf(out->why, sizeof out->why, "%s",
                 c->proto == 1 ? "this CMS50 speaks the older protocol: its memory cannot be "
                                 "read by mokit yet (newer firmware only)"
                               : "the oximeter's protocol is not known yet");
        return FW_EINVAL;
    }
    if (c->dl.phase != DL_IDLE)
        return FW_EBUSY;
    dl_send(c, FW_CMS50F_CMD_STORED_STOP, 0, now, out);
    dl_send(c, FW_CMS50F_CMD_LIVE_STOP, 0, now, out);
    dl_send(c, FW_CMS50F_CMD_SESSION_COUNT, 0, now, out);
    snprintf(c->dl.status, sizeof c->dl.status, "downloading the memory");
    out->status = c->dl.status;
    return FW_OK;
}

/* The download's bytes: session facts and samples; the next question when a reply is in. */
static void dl_bytes(struct cms50_any *c, const uint8_t *data, size_t n, double t,
                     struct fw_decoded *out)
{
    struct cms50_dl *dl = &c->dl;
    struct fw_cms50f_sample got[3];
    for (size_t i = 0; i < n; i++) {
        int k = fw_cms50f_stored_feed(&dl->dec, data[i], got);
        for (int j = 0; j < k; j++)
            fw_cms50f_summary_add(&dl->sum, &got[j]);
    }
    const struct fw_cms50f_session *se = &dl->dec.session;
    if (dl->phase == DL_DATA) {
        dl->last = t;
    } else if (dl->phase == DL_COUNT && se->have_count) {
        dl->sessions = se->sessions;
        if (se->sessions == 0) {
            snprintf(dl->status, sizeof dl->status, "download done: no sessions in the memory");
            out->status = dl->status;
            dl_send(c, FW_CMS50F_CMD_LIVE_START, 0, t, out);
        } else {
            dl_send(c, FW_CMS50F_CMD_SESSION_DURATION, 0, t, out);
            dl_send(c, FW_CMS50F_CMD_SESSION_TIME, 0, t, out);
        }
    } else if (dl->phase == DL_INFO && se->have_duration && se->have_date && se->have_time) {
        dl_send(c, FW_CMS50F_CMD_SESSION_DATA, dl->session, t, out);
    }
}

static double cms50_deadline(const void *state)
{
    const struct cms50_dl *dl = &((const struct cms50_any *)state)->dl;
    if (dl->phase == DL_COUNT || dl->phase == DL_INFO)
        return dl->since + DL_ANSWER;
    if (dl->phase == DL_DATA)
        return dl->last + DL_SILENCE;
    return -1;
}

/* No answer in time, or a session's data has ended (silence). */
static int cms50_timeout(void *state, double now, struct fw_decoded *out)
{
    struct cms50_any *c = state;
    struct cms50_dl *dl = &c->dl;
    if (dl->phase == DL_IDLE)
        return FW_OK;
    out->status = dl->status;
    if (dl->phase != DL_DATA) {
        snprintf(dl->status, sizeof dl->status, "download failed: no answer to the %s",
                 dl->phase == DL_COUNT ? "session count (A3)" : "session's start (A4, A5)");
        dl_send(c, FW_CMS50F_CMD_LIVE_START, 0, now, out);
        dl->phase = DL_IDLE;
        return FW_OK;
    }
    int k = fw_cms50f_summary_end(&dl->sum, &dl->dec.session, out->readings);
    out->nreadings = k > 0 ? (size_t)k : 0;
    int shown = dl->session + 1, of = dl->sessions > shown ? dl->sessions : shown;
    char what[40];
    if (k > 0)
        snprintf(what, sizeof what, "SpO2 %d %%, pulse %d /min", dl->sum.settled_spo2,
                 dl->sum.settled_pulse);
    else
        snprintf(what, sizeof what, "no settled reading");
    bool more = dl->session + 1 < dl->sessions;
    snprintf(dl->status, sizeof dl->status,
             "%ssession %d of %d: %ld samples, %ld with a finger; %s",
             more ? "downloading: " : "download done: ", shown, of, dl->sum.samples, dl->sum.valid,
             what);
    if (more) {
        int next = dl->session + 1;
        dl_send(c, FW_CMS50F_CMD_SESSION_DURATION, next, now, out);
        dl_send(c, FW_CMS50F_CMD_SESSION_TIME, next, now, out);
    } else {
        dl_send(c, FW_CMS50F_CMD_LIVE_START, 0, now, out);
        dl->phase = DL_IDLE;
    }
    return FW_OK;
}

static int cms50_decode(void *state, const uint8_t *data, size_t n, double t,
                        struct fw_decoded *out)
{
    struct cms50_any *c = state;
    if (c->dl.phase != DL_IDLE) {
        dl_bytes(c, data, n, t, out);
        return FW_OK;
    }
    size_t i = 0;
    while (!c->proto && i < n) {
        if (c->npending == sizeof c->pending) { /* undecided for long: keep the newer half */
            memmove(c->pending, c->pending + 64, 64);
            c->npending = 64;
        }
        c->pending[c->npending++] = data[i++];
        c->proto = fw_cms50_detect(c->pending, c->npending);
        if (c->proto)
            for (size_t k = 0; k < c->npending; k++)
                cms50_byte(c, c->pending[k], out);
    }
    for (; i < n; i++)
        cms50_byte(c, data[i], out);
    return FW_OK;
}

/* Newer firmware stops live data 30 s after A1: it is sent again every 15 s. */
static size_t cms50_start(void *state, uint8_t *out, size_t cap)
{
    struct cms50_any *c = state;
    if (c->proto != 2 || c->dl.phase != DL_IDLE || cap < FW_CMS50F_CMD_LEN)
        return 0; /* not while downloading: A1 would end it */
    return fw_cms50f_command(FW_CMS50F_CMD_LIVE_START, out);
}

static int cms50_probe_new(void *state, const uint8_t *heard, size_t n, char *model)
{
    struct cms50_any *c = state;
    if (fw_cms50f_probe_reply(heard, n, model, 96) != 1)
        return 0;
    c->proto = 2;
    if (!model[0] || model[0] == ' ')
        snprintf(model, 96, "CMS50 (newer firmware)");
    return 1;
}

static int cms50_probe_old(void *state, const uint8_t *heard, size_t n, char *model)
{
    struct cms50_any *c = state;
    if (fw_cms50_detect(heard, n) != 1)
        return 0;
    c->proto = 1;
    snprintf(model, 96, "CMS50 (older firmware)");
    return 1;
}

static const struct fw_probe_step cms50_probe[] = {
    {.baud = 115200,
     .parity = 'N',
     .send = {0x7d, 0x81, FW_CMS50F_CMD_MODEL, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80},
     .send_len = 9,
     .listen = 0.6,
     .verdict = cms50_probe_new},
    {.baud = 19200, .parity = 'O', .listen = 1.5, .verdict = cms50_probe_old},
};

/* The demo blood-pressure monitor's frame (no real monitor speaks it): 'P', systolic,
 * diastolic, pulse as LE16 each. The real monitors' drivers come with Devices II. */
static int demo_decode(void *state, const uint8_t *data, size_t n, double t, struct fw_decoded *out)
{
    (void)state;
    (void)t;
    if (n != 7 || data[0] != 'P') {
        snprintf(out->why, sizeof out->why, "not a demo frame ('P' + 3 x LE16)");
        return FW_EINVAL;
    }
    unsigned sys = data[1] | data[2] << 8, dia = data[3] | data[4] << 8,
             pulse = data[5] | data[6] << 8;
    if (sys < 40 || sys > 300 || dia < 20 || dia >= sys || pulse < 25 || pulse > 250) {
        snprintf(out->why, sizeof out->why, "demo reading out of range: %u/%u, %u", sys, dia,
                 pulse);
        return FW_EINVAL;
    }
    out->readings[0] = (struct fw_reading){
        .kind = "bp", .unit = "mm[Hg]", .value = sys, .value2 = dia, .value3 = NAN};
    out->readings[1] = (struct fw_reading){
        .kind = "pulse", .unit = "/min", .value = pulse, .value2 = NAN, .value3 = NAN};
    out->nreadings = 2;
    return FW_OK;
}

/* Scanners: a code, or a rejected one (a result, not a refused frame). */
static void scan_result(int rc, const char *code, const char *why, struct fw_decoded *out)
{
    if (rc == 1) {
        out->scanned = 1;
        snprintf(out->scan, sizeof out->scan, "%s", code);
    } else if (rc == FW_EINVAL) {
        out->scanned = -1;
        snprintf(out->why, sizeof out->why, "%s", why);
    }
}

static int keyscan_decode(void *state, const uint8_t *data, size_t n, double t,
                          struct fw_decoded *out)
{
    if (n != FW_KEYSCAN_FRAME) {
        snprintf(out->why, sizeof out->why,
                 "not an input event record (8 bytes: type, code, "
                 "value, little-endian)");
        return FW_EINVAL;
    }
    char code[FW_SCAN_MAX + 1], why[160] = "";
    int rc = fw_keyscan_feed_frame(state, data, t, code, sizeof code, why, sizeof why);
    scan_result(rc, code, why, out);
    return FW_OK;
}

static double keyscan_deadline(const void *state)
{
    return fw_keyscan_deadline(state);
}

static int keyscan_timeout(void *state, double now, struct fw_decoded *out)
{
    char code[FW_SCAN_MAX + 1], why[160] = "";
    scan_result(fw_keyscan_timeout(state, now, code, sizeof code, why, sizeof why), code, why, out);
    return FW_OK;
}

/* A serial scanner's frame is what one read gave: it may end a code and start the next, or
 * hold two: decoding stops after a result and says how far it got (out->consumed). */
static int linescan_decode(void *state, const uint8_t *data, size_t n, double t,
                           struct fw_decoded *out)
{
    char code[FW_SCAN_MAX + 1], why[160] = "";
    for (size_t i = 0; i < n; i++) {
        int rc = fw_linescan_feed(state, data[i], t, code, sizeof code, why, sizeof why);
        if (rc != 0) {
            scan_result(rc, code, why, out);
            out->consumed = i + 1 < n ? i + 1 : 0;
            break;
        }
    }
    return FW_OK;
}

static double linescan_deadline(const void *state)
{
    return fw_linescan_deadline(state);
}

static int linescan_timeout(void *state, double now, struct fw_decoded *out)
{
    char code[FW_SCAN_MAX + 1], why[160] = "";
    scan_result(fw_linescan_timeout(state, now, code, sizeof code, why, sizeof why), code, why,
                out);
    return FW_OK;
}

static const struct fw_usb_id scale_ids[] = {
    {0x0922, 0x8003}, /* DYMO M10 */
    {0x0922, 0x8004}, /* DYMO M25 */
    {0x0922, 0x8009}, /* DYMO S180 (verify) */
    {0x0eb8, 0xf000}, /* Mettler Toledo PS60 */
    {0x2474, 0x0550}, /* Stamps.com */
    {0x2474, 0x3550}, /* Stamps.com */
    {0x0b67, 0x555e}, /* Fairbanks */
    {0, 0},
};

static const struct fw_usb_id cp210x_ids[] = {
    {0x10c4, 0xea60}, /* CP210x bridge: shared with other cables, probe before claiming */
    {0, 0},
};

static const struct fw_driver drv_scale = {
    .name = "hidpos-scale",
    .description = "USB HID point-of-sale scale (DYMO, Mettler, Stamps.com, Fairbanks)",
    .transport = "usb-hid",
    .usb_ids = scale_ids,
    .state_size = sizeof(struct fw_scale),
    .decode = scale_decode};

static const struct fw_driver drv_cms50 = {
    .name = "cms50",
    .description = "Contec CMS50 pulse oximeter, both protocols (19200 8O1 live packets; "
                   "v4.6+/CMS50E/F 115200 commands)",
    .transport = "serial",
    .usb_ids = cp210x_ids,
    .baud = 19200,
    .parity = 'O',
    .state_size = sizeof(struct cms50_any),
    .start = cms50_start,
    .decode = cms50_decode,
    .probe = cms50_probe,
    .nprobe = sizeof cms50_probe / sizeof cms50_probe[0],
    .keepalive = 15,
    .deadline = cms50_deadline,
    .timeout = cms50_timeout,
    .actions = "download",
    .action = cms50_action,
    .sent = cms50_sent};

static const struct fw_driver drv_hid_scanner = {
    .name = "hid-scanner",
    .description = "barcode/QR scanner in USB HID keyboard mode (its input node, grabbed)",
    .transport = "evdev",
    .state_size = sizeof(struct fw_keyscan),
    .decode = keyscan_decode,
    .deadline = keyscan_deadline,
    .timeout = keyscan_timeout};

static const struct fw_driver drv_serial_scanner = {
    .name = "serial-scanner",
    .description = "barcode/QR scanner in serial (USB CDC) mode, codes ended by CR/LF",
    .transport = "serial",
    .baud = 9600,
    .parity = 'N',
    .state_size = sizeof(struct fw_linescan),
    .decode = linescan_decode,
    .deadline = linescan_deadline,
    .timeout = linescan_timeout};

static const struct fw_driver drv_demo = {
    .name = "demo",
    .description = "simulated devices of the demo kit (scale, oximeter, blood pressure, scanner)",
    .transport = "demo",
    .decode = demo_decode};
/* Drivers in files of their own (their decoders beside them in firmware/proto/). */
extern const struct fw_driver fw_drv_omron_hem7322, fw_drv_omron_hem7131, fw_drv_omron_hem790,
    fw_drv_contour, fw_drv_ieee11073;

const struct fw_driver *const fw_drivers[] = {
    &drv_scale,           &drv_cms50,      &fw_drv_omron_hem7322, &fw_drv_omron_hem7131,
    &fw_drv_omron_hem790, &fw_drv_contour, &fw_drv_ieee11073,     &drv_hid_scanner,
    &drv_serial_scanner,  &drv_demo, /* keep the demo last */
};
const size_t fw_drivers_count = sizeof fw_drivers / sizeof fw_drivers[0];

const struct fw_driver *fw_driver_find(const char *name)
{
    for (size_t i = 0; name && i < fw_drivers_count; i++)
        if (strcmp(fw_drivers[i]->name, name) == 0)
            return fw_drivers[i];
    return NULL;
}

const struct fw_driver *fw_driver_for_usb(uint16_t vid, uint16_t pid, const char *transport)
{
    for (size_t i = 0; i < fw_drivers_count; i++) {
        const struct fw_driver *d = fw_drivers[i];
        if (!d->usb_ids || (transport && strcmp(d->transport, transport) != 0))
            continue;
        for (const struct fw_usb_id *u = d->usb_ids; u->vid; u++)
            if (u->vid == vid && u->pid == pid)
                return d;
    }
    return NULL;
}

/* Timeouts in a row before a frame (or at the end) at most: a driver that keeps its deadline
 * in the past must not hold a replay forever. */
#define REPLAY_TIMEOUTS 64

/* The timeouts due by until (a gap before a frame, or the end of the capture): each at its
 * deadline, or at the last frame's time when that is later (a deadline that never ends). */
static void replay_due(const struct fw_driver *d, void *state, struct fw_decoded *out, double until,
                       double last, bool timed,
                       void (*cb)(void *ctx, double at, const struct fw_decoded *r), void *ctx)
{
    for (int k = 0; k < REPLAY_TIMEOUTS && d->deadline && d->timeout; k++) {
        double dl = d->deadline(state);
        if (dl < 0 || dl > until)
            break;
        memset(out, 0, sizeof *out);
        if (d->timeout(state, dl > last ? dl : last, out) == FW_OK &&
            (out->nreadings || out->scanned || out->device_clock))
            cb(ctx, timed ? (isfinite(dl) ? dl : last) : -1, out);
    }
}

int fw_replay(const struct fw_driver *d, const struct fw_capture *c,
              void (*cb)(void *ctx, double at, const struct fw_decoded *r), void *ctx, char *err,
              size_t errlen)
{
    void *state = calloc(1, d->state_size ? d->state_size : 1);
    struct fw_decoded *out = malloc(sizeof *out);
    if (!state || !out) {
        free(state);
        free(out);
        return FW_ENOMEM;
    }
    int rc = FW_OK;
    double last = 0;
    bool timed = c->nframes && c->frames[0].at >= 0;
    /* A gap that never ends (no times) ends with the capture, at its last frame's time. */
    for (size_t i = 0; i < c->nframes && rc == FW_OK; i++) {
        const struct fw_frame *f = &c->frames[i];
        double t = f->at; /* -1 when untimed: a scanner's gap never ends a code then */
        /* A gap before this frame ends what the driver was waiting on (a scanner's code);
         * a driver with more to hand out (queued readings) is due again at once. */
        replay_due(d, state, out, t, last, timed, cb, ctx);
        last = t;
        if (f->to_device) { /* what the host said: the driver follows; the answers follow */
            if (d->sent)
                d->sent(state, f->data, f->len, t);
            continue;
        }
        for (size_t off = 0; off < f->len || (off == 0 && f->len == 0);) {
            memset(out, 0, sizeof *out);
            int n = d->decode(state, f->data + off, f->len - off, t, out);
            if (n < 0) {
                snprintf(err, errlen, "frame %zu: %s", i + 1,
                         out->why[0] ? out->why : fw_strerror(n));
                rc = n;
                break;
            }
            if (out->nreadings || out->scanned || out->device_clock)
                cb(ctx, f->at, out);
            if (!out->consumed)
                break;
            off += out->consumed;
        }
    }
    /* The end of the capture is a gap too. */
    if (rc == FW_OK)
        replay_due(d, state, out, INFINITY, last, timed, cb, ctx);
    free(out);
    free(state);
    return rc;
}
