/* The device manager: finds vital-sign devices and scanners, opens each with the driver that
 * claims it, and turns their bytes into readings and scans (fw_device.h).
 *
 * One thread, one poll() loop:
 *   - USB through libusb: hotplug callbacks where the platform has them (else the device list
 *     is compared once a second); HID devices are read with interrupt transfers, bulk ones
 *     with bulk transfers, each resubmitted as soon as it completes.
 *   - Serial ports and input nodes are found in sysfs under the USB devices that carry them
 *     (a CP210x bridge, a scanner), shortly after a USB arrival and every few seconds, plus
 *     the paths the configuration names. A shared-id bridge is probed before it is claimed.
 *   - Replayed captures and the demo devices are timers in the same loop.
 * Nothing spins: poll() sleeps until a byte, a libusb event or the next timer. A device that
 * fails is marked offline and closed; the loop goes on. */
#include "fw_device.h"
#include "transport.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libusb.h>
#include <limits.h>
#include <linux/input.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define RESCAN_IDLE    5.0  /* seconds between sysfs/config/replay looks when nothing happens */
#define RESCAN_NO_HOTP 1.0  /* the USB list is compared this often without hotplug */
#define GONE_KEEP      60.0 /* a device that left stays in the list this long */
#define USB_XFERS                                                                      \
    1                 /* transfers in flight per device: one, resubmitted at once (the \
                         devices send a few reports a second; umockdev replays one) */
#define USB_WRITES 16 /* writes in flight per device */
#define USB_BUF    64 /* HID reports of these devices are at most 64 bytes */
#define READ_BUF   512
#define MAX_FDS    64

enum kind { K_USB, K_SERIAL, K_EVDEV, K_REPLAY, K_DEMO };

struct dev {
    struct dev *next;
    struct fw_manager *m;
    struct fw_device_info info;
    const struct fw_driver *drv; /* the decoder (the demo's devices use the real ones) */
    enum kind kind;
    void *state;
    char last_status[240]; /* the driver's last status, told once until it changes */
    bool configured;       /* from the configuration's paths: tried again while it is missing */
    /* serial and evdev */
    int fd;
    double probe_until; /* > 0 while probing */
    size_t probe_step;
    double next_keepalive; /* > 0: when start() is sent again */
    uint8_t probe_buf[256];
    size_t probe_len;
    /* USB */
    libusb_device *udev;
    libusb_device_handle *h;
    int iface;
    bool detached, claimed;
    bool release_soon; /* usb_release() after the event handling that wanted it */
    uint8_t ep_in, ep_out, ep_type;
    struct libusb_transfer *xfer[USB_XFERS];
    struct libusb_transfer *wr[USB_WRITES]; /* writes in flight (they free themselves) */
    int xfer_live;                          /* reads and writes in flight */
    uint8_t bus, addr;
    /* replay */
    struct fw_capture cap;
    size_t next_frame;
    double t0;
    /* demo: a queue of frames due at a time */
    struct demo_frame *demo;
    double gone_at;
};

struct demo_frame {
    struct demo_frame *next;
    double due;
    size_t len;
    uint8_t data[8];
};

struct pending {
    struct pending *next;
    libusb_device *udev;
    bool arrived;
};

/* A request from another thread: a demo scan or reading, or a driver's action (action set;
 * the caller waits for done, or leaves it abandoned for the loop to free). */
struct sim_request {
    struct sim_request *next;
    char id[64];
    char code[FW_SCAN_MAX + 1];
    char action[32];
    int rc;
    char err[160];
    bool done, abandoned;
};

struct fw_manager {
    struct fw_manager_config cfg;
    char *paths, *replay_dir, *only;
    pthread_t thread;
    bool started;
    int wake; /* eventfd */
    volatile bool stop;
    pthread_mutex_t lock; /* the list (read by fw_manager_devices) and sim requests */
    pthread_cond_t acted; /* an action request is done */
    struct dev *devs;
    libusb_context *usb;
    bool hotplug;
    bool in_events; /* inside libusb's event handling: libusb_close() would deadlock there */
    libusb_hotplug_callback_handle hp;
    struct pending *pend; /* filled by the hotplug callback, drained by the loop */
    double next_rescan, next_usb_list;
    double rescan_soon[3];
    struct sim_request *sims;
    unsigned rng;
};

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *fw_dev_state_name(enum fw_dev_state s)
{
    switch (s) {
    case FW_DEV_PROBING:
        return "probing";
    case FW_DEV_ONLINE:
        return "online";
    case FW_DEV_OFFLINE:
        return "offline";
    case FW_DEV_UNCLAIMED:
        return "unclaimed";
    case FW_DEV_GONE:
        return "gone";
    }
    return "?";
}

static void emit(struct fw_manager *m, struct fw_event *ev)
{
    if (m->cfg.on_event)
        m->cfg.on_event(m->cfg.ctx, ev);
}

/* A state change, told to the callback with a message (printf-style). */
static void set_state(struct fw_manager *m, struct dev *d, enum fw_dev_state s, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));
static void set_state(struct fw_manager *m, struct dev *d, enum fw_dev_state s, const char *fmt,
                      ...)
{
    char msg[sizeof d->info.message] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    if (d->info.state == s && strcmp(d->info.message, msg) == 0)
        return;
    pthread_mutex_lock(&m->lock);
    if (s == FW_DEV_ONLINE && d->info.state != FW_DEV_ONLINE) { /* a new connection */
        d->info.id.connected_at = now_real();
        d->info.id.clock_known = false;
        d->info.id.clock_offset = 0;
    }
    d->info.state = s;
    snprintf(d->info.message, sizeof d->info.message, "%s", msg);
    d->info.since = now_real();
    if (s == FW_DEV_GONE)
        d->gone_at = now_mono();
    pthread_mutex_unlock(&m->lock);
    struct fw_event ev = {.type = FW_EV_DEVICE,
                          .dev = &d->info.id,
                          .state = s,
                          .time = now_real(),
                          .mono = now_mono(),
                          .message = d->info.message};
    emit(m, &ev);
}

static struct dev *dev_new(struct fw_manager *m, enum kind k, const struct fw_driver *drv,
                           const char *id)
{
    struct dev *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->state = calloc(1, drv && drv->state_size ? drv->state_size : 1);
    if (!d->state) {
        free(d);
        return NULL;
    }
    d->m = m;
    d->kind = k;
    d->drv = drv;
    d->fd = -1;
    d->info.state = FW_DEV_GONE; /* so the first set_state is news */
    snprintf(d->info.id.id, sizeof d->info.id.id, "%s", id);
    if (drv) {
        snprintf(d->info.id.driver, sizeof d->info.id.driver, "%s", drv->name);
        snprintf(d->info.id.transport, sizeof d->info.id.transport, "%s", drv->transport);
    }
    pthread_mutex_lock(&m->lock);
    d->next = m->devs;
    m->devs = d;
    pthread_mutex_unlock(&m->lock);
    return d;
}

static struct dev *dev_by_id(struct fw_manager *m, const char *id)
{
    for (struct dev *d = m->devs; d; d = d->next)
        if (strcmp(d->info.id.id, id) == 0)
            return d;
    return NULL;
}

static bool wanted(struct fw_manager *m, const struct fw_driver *drv)
{
    return drv && (!m->only || strcmp(m->only, drv->name) == 0);
}

/* ---- what a frame gave ---- */

static int dev_write(struct fw_manager *m, struct dev *d, const uint8_t *data, size_t n);
static int usb_write(struct fw_manager *m, struct dev *d, const uint8_t *data, size_t n,
                     size_t pad);
static void usb_reap(struct dev *d);
static void usb_feature(struct fw_manager *m, struct dev *d);
static void dev_start(struct fw_manager *m, struct dev *d);

/* A device's wall clock (no zone: the kit's, TZ or /etc/localtime) as unix seconds. */
static long long local_to_unix(long long wall)
{
    time_t w = (time_t)wall;
    struct tm tm;
    if (!gmtime_r(&w, &tm))
        return wall;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    return t == (time_t)-1 ? wall : (long long)t;
}

static void deliver(struct fw_manager *m, struct dev *d, const uint8_t *raw, size_t n, double real,
                    double mono, struct fw_decoded *out)
{
    if (out->reply_len)
        dev_write(m, d, out->reply, out->reply_len);
    if (out->device_clock) { /* the device told its clock: this connection's offset */
        long long dc =
            out->device_clock_local ? local_to_unix(out->device_clock) : out->device_clock;
        bool first = !d->info.id.clock_known;
        pthread_mutex_lock(&m->lock);
        d->info.id.clock_known = true;
        d->info.id.clock_offset = (double)dc - real;
        pthread_mutex_unlock(&m->lock);
        if (first) { /* said once a connection, with the driver's news if it has some */
            if (out->status)
                snprintf(d->last_status, sizeof d->last_status, "%s", out->status);
            set_state(m, d, d->info.state, "%.100s%sdevice clock %+.0f s from the kit's",
                      out->status ? out->status : "", out->status ? "; " : "",
                      d->info.id.clock_offset);
        }
    }
    if (out->status && strcmp(out->status, d->last_status) != 0) {
        snprintf(d->last_status, sizeof d->last_status, "%s", out->status);
        set_state(m, d, d->info.state, "%s", out->status);
    }
    if (!out->nreadings && !out->scanned)
        return;
    for (size_t i = 0; i < out->nreadings; i++) {
        struct fw_reading *r = &out->readings[i];
        if (!r->clock_local || !r->device_time)
            continue;
        r->device_time = local_to_unix(r->device_time);
        r->clock_local = false;
    }
    pthread_mutex_lock(&m->lock);
    d->info.readings += (long)out->nreadings;
    d->info.scans += out->scanned ? 1 : 0;
    pthread_mutex_unlock(&m->lock);
    struct fw_event ev = {.type = out->nreadings ? FW_EV_READING : FW_EV_SCAN,
                          .dev = &d->info.id,
                          .state = d->info.state,
                          .time = real,
                          .mono = mono,
                          .decoded = out,
                          .raw = raw,
                          .raw_len = n};
    emit(m, &ev);
    if (out->nreadings && out->scanned) { /* both at once: tell the scan as well */
        ev.type = FW_EV_SCAN;
        emit(m, &ev);
    }
}

/* Bytes from a device: counted, reported as a frame when asked, decoded. */
static void frame_in(struct fw_manager *m, struct dev *d, const uint8_t *data, size_t n)
{
    double real = now_real(), mono = now_mono();
    pthread_mutex_lock(&m->lock);
    d->info.frames++;
    d->info.last_frame = real;
    pthread_mutex_unlock(&m->lock);
    if (m->cfg.frames) {
        struct fw_event ev = {.type = FW_EV_FRAME,
                              .dev = &d->info.id,
                              .state = d->info.state,
                              .time = real,
                              .mono = mono,
                              .raw = data,
                              .raw_len = n};
        emit(m, &ev);
    }
    struct fw_decoded out;
    for (size_t off = 0; off < n || (off == 0 && n == 0);) {
        memset(&out, 0, sizeof out);
        if (d->drv->decode(d->state, data + off, n - off, mono, &out) != FW_OK) {
            pthread_mutex_lock(&m->lock);
            d->info.errors++;
            snprintf(d->info.message, sizeof d->info.message, "%s", out.why);
            pthread_mutex_unlock(&m->lock);
            return; /* a frame that is not this device's: nothing comes of it */
        }
        deliver(m, d, data + off, n - off, real, mono, &out);
        if (!out.consumed || d->info.state != FW_DEV_ONLINE)
            break;
        off += out.consumed;
    }
}

/* ---- closing ---- */

static void usb_release(struct dev *d)
{
    if (d->h && d->m->in_events) { /* a transfer's callback: closed when handling returns */
        d->release_soon = true;
        return;
    }
    d->release_soon = false;
    if (d->h) {
        if (d->claimed)
            libusb_release_interface(d->h, d->iface);
        if (d->detached)
            libusb_attach_kernel_driver(d->h, d->iface);
        libusb_close(d->h);
    }
    d->h = NULL;
    d->claimed = d->detached = false;
}

/* Closes what the device holds. USB transfers still in flight are cancelled; the handle goes
 * when the last one has come back (usb_reap). */
static void dev_close(struct dev *d)
{
    if (d->fd >= 0) {
        if (d->kind == K_EVDEV)
            ioctl(d->fd, EVIOCGRAB, 0);
        close(d->fd);
        d->fd = -1;
    }
    d->probe_until = 0;
    if (d->kind == K_USB) {
        for (int i = 0; i < USB_XFERS; i++)
            if (d->xfer[i])
                libusb_cancel_transfer(d->xfer[i]);
        for (int i = 0; i < USB_WRITES; i++)
            if (d->wr[i])
                libusb_cancel_transfer(d->wr[i]);
        if (d->xfer_live == 0)
            usb_release(d);
    }
    while (d->demo) {
        struct demo_frame *f = d->demo;
        d->demo = f->next;
        free(f);
    }
    if (d->kind == K_REPLAY)
        fw_capture_free(&d->cap);
}

static void dev_free(struct dev *d)
{
    dev_close(d);
    for (int i = 0; i < USB_XFERS; i++)
        if (d->xfer[i])
            libusb_free_transfer(d->xfer[i]);
    if (d->udev)
        libusb_unref_device(d->udev);
    free(d->state);
    free(d);
}

static void dev_fault(struct fw_manager *m, struct dev *d, enum fw_dev_state s, const char *why)
{
    dev_close(d);
    pthread_mutex_lock(&m->lock);
    d->info.errors += s == FW_DEV_OFFLINE;
    pthread_mutex_unlock(&m->lock);
    set_state(m, d, s, "%s", why);
}

/* ---- USB ---- */

static void usb_reap(struct dev *d)
{
    if (d->xfer_live == 0 && d->h && d->info.state != FW_DEV_ONLINE)
        usb_release(d);
}

static void LIBUSB_CALL xfer_done(struct libusb_transfer *x)
{
    struct dev *d = x->user_data;
    struct fw_manager *m = d->m;
    d->xfer_live--;
    if (d->info.state != FW_DEV_ONLINE) {
        usb_reap(d);
        return;
    }
    switch (x->status) {
    case LIBUSB_TRANSFER_COMPLETED:
        if (x->actual_length > 0)
            frame_in(m, d, x->buffer, (size_t)x->actual_length);
        if (d->info.state == FW_DEV_ONLINE && libusb_submit_transfer(x) == 0) {
            d->xfer_live++;
            return;
        }
        break;
    case LIBUSB_TRANSFER_TIMED_OUT:
        if (libusb_submit_transfer(x) == 0) {
            d->xfer_live++;
            return;
        }
        break;
    case LIBUSB_TRANSFER_CANCELLED:
        usb_reap(d);
        return;
    default:
        break;
    }
    /* Unplugged (NO_DEVICE) or failing: whatever was half-read is dropped with the state. */
    dev_fault(m, d, x->status == LIBUSB_TRANSFER_NO_DEVICE ? FW_DEV_GONE : FW_DEV_OFFLINE,
              x->status == LIBUSB_TRANSFER_NO_DEVICE ? "unplugged" : "USB transfer failed");
    usb_reap(d);
}

#define USB_CLASS_PHDC 0x0f /* Personal Healthcare Device Class (IEEE 11073-20601 over bulk) */

/* The interface to read: HID (class 3) for usb-hid drivers, PHDC (class 0x0F) for usb-phdc
 * ones, else the first with an IN endpoint of the wanted type. */
static bool usb_endpoints(libusb_device *u, const char *transport, int *iface, uint8_t *in,
                          uint8_t *out, uint8_t *type)
{
    bool hid = strcmp(transport, "usb-hid") == 0, phdc = strcmp(transport, "usb-phdc") == 0;
    struct libusb_config_descriptor *cfg;
    if (libusb_get_active_config_descriptor(u, &cfg) != 0 &&
        libusb_get_config_descriptor(u, 0, &cfg) != 0)
        return false;
    bool found = false;
    for (int i = 0; i < cfg->bNumInterfaces && !found; i++) {
        if (cfg->interface[i].num_altsetting < 1)
            continue;
        const struct libusb_interface_descriptor *id = &cfg->interface[i].altsetting[0];
        if ((hid && id->bInterfaceClass != LIBUSB_CLASS_HID) ||
            (phdc && id->bInterfaceClass != USB_CLASS_PHDC))
            continue;
        uint8_t want = hid ? LIBUSB_TRANSFER_TYPE_INTERRUPT : LIBUSB_TRANSFER_TYPE_BULK;
        *in = *out = 0;
        for (int e = 0; e < id->bNumEndpoints; e++) {
            const struct libusb_endpoint_descriptor *ep = &id->endpoint[e];
            if ((ep->bmAttributes & 3) != want)
                continue;
            if (ep->bEndpointAddress & LIBUSB_ENDPOINT_IN) {
                if (!*in)
                    *in = ep->bEndpointAddress;
            } else if (!*out) {
                *out = ep->bEndpointAddress;
            }
        }
        if (*in) {
            *iface = id->bInterfaceNumber;
            *type = want;
            found = true;
        }
    }
    libusb_free_config_descriptor(cfg);
    return found;
}

/* Whether one of the device's interfaces is of a class. */
static bool usb_has_class(libusb_device *u, uint8_t cls)
{
    struct libusb_config_descriptor *cfg;
    if (libusb_get_active_config_descriptor(u, &cfg) != 0 &&
        libusb_get_config_descriptor(u, 0, &cfg) != 0)
        return false;
    bool found = false;
    for (int i = 0; i < cfg->bNumInterfaces && !found; i++)
        for (int a = 0; a < cfg->interface[i].num_altsetting && !found; a++)
            found = cfg->interface[i].altsetting[a].bInterfaceClass == cls;
    libusb_free_config_descriptor(cfg);
    return found;
}

/* sysfs name of a USB device: "1-1.2" (bus, then the port path). */
static void usb_sysname(libusb_device *u, char *out, size_t n)
{
    uint8_t ports[8];
    int np = libusb_get_port_numbers(u, ports, sizeof ports);
    int k = snprintf(out, n, "%u-", libusb_get_bus_number(u));
    if (np <= 0) {
        snprintf(out, n, "usb%u", libusb_get_bus_number(u));
        return;
    }
    for (int i = 0; i < np && k > 0 && (size_t)k < n; i++)
        k += snprintf(out + k, n - (size_t)k, i ? ".%u" : "%u", ports[i]);
}

/* One line of a sysfs attribute, "" when it cannot be read. */
static void read_attr(const char *dir, const char *name, char *out, size_t n)
{
    char path[PATH_MAX];
    out[0] = '\0';
    snprintf(path, sizeof path, "%.3800s/%.255s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (fgets(out, (int)n, f))
        out[strcspn(out, "\r\n")] = '\0';
    fclose(f);
}

static void usb_open_dev(struct fw_manager *m, struct dev *d)
{
    bool hid = strcmp(d->drv->transport, "usb-hid") == 0,
         phdc = strcmp(d->drv->transport, "usb-phdc") == 0;
    if (!usb_endpoints(d->udev, d->drv->transport, &d->iface, &d->ep_in, &d->ep_out, &d->ep_type)) {
        set_state(m, d, FW_DEV_UNCLAIMED, "no %s interface with an IN endpoint",
                  hid    ? "HID"
                  : phdc ? "PHDC"
                         : "bulk");
        return;
    }
    int r = libusb_open(d->udev, &d->h);
    if (r != 0) {
        d->h = NULL;
        set_state(m, d, FW_DEV_OFFLINE, "cannot open: %s%s", libusb_strerror(r),
                  r == LIBUSB_ERROR_ACCESS ? " (install the kit's udev rules, see hw/)" : "");
        return;
    }
    /* usbhid takes every HID device: borrow the interface (given back at close). */
    if (libusb_kernel_driver_active(d->h, d->iface) == 1) {
        if ((r = libusb_detach_kernel_driver(d->h, d->iface)) != 0) {
            set_state(m, d, FW_DEV_OFFLINE, "cannot detach the kernel driver: %s",
                      libusb_strerror(r));
            usb_release(d);
            return;
        }
        d->detached = true;
    }
    if ((r = libusb_claim_interface(d->h, d->iface)) != 0) {
        set_state(m, d, FW_DEV_OFFLINE, "cannot claim interface %d: %s", d->iface,
                  libusb_strerror(r));
        usb_release(d);
        return;
    }
    d->claimed = true;
    if (phdc) {
        /* Before the first transfer, a standard GET_STATUS (device), as the hosts of Roche's
         * meters send it (firmware/doc/ieee11073.md); a refusal is not fatal. */
        unsigned char st[2];
        libusb_control_transfer(d->h, LIBUSB_ENDPOINT_IN, LIBUSB_REQUEST_GET_STATUS, 0, 0, st,
                                sizeof st, 1000);
    }
    set_state(m, d, FW_DEV_ONLINE, "%s", "");
    for (int i = 0; i < USB_XFERS; i++) {
        if (!d->xfer[i]) {
            d->xfer[i] = libusb_alloc_transfer(0);
            uint8_t *buf = d->xfer[i] ? malloc(USB_BUF) : NULL;
            if (!buf) {
                dev_fault(m, d, FW_DEV_OFFLINE, "out of memory");
                return;
            }
            if (d->ep_type == LIBUSB_TRANSFER_TYPE_INTERRUPT)
                libusb_fill_interrupt_transfer(d->xfer[i], d->h, d->ep_in, buf, USB_BUF, xfer_done,
                                               d, 0);
            else
                libusb_fill_bulk_transfer(d->xfer[i], d->h, d->ep_in, buf, USB_BUF, xfer_done, d,
                                          0);
            d->xfer[i]->flags = LIBUSB_TRANSFER_FREE_BUFFER;
        } else {
            d->xfer[i]->dev_handle = d->h;
        }
        if ((r = libusb_submit_transfer(d->xfer[i])) != 0) {
            dev_fault(m, d, r == LIBUSB_ERROR_NO_DEVICE ? FW_DEV_GONE : FW_DEV_OFFLINE,
                      libusb_strerror(r));
            return;
        }
        d->xfer_live++;
    }
    usb_feature(m, d);
    dev_start(m, d);
}

/* The driver the configuration binds to a USB id ("DRIVER:usb:VVVV:PPPP", hexadecimal), for
 * a device whose id it shares with another (the Omron HEM-7131U); NULL when none does. */
static const struct fw_driver *usb_configured(const struct fw_manager *m, uint16_t vid,
                                              uint16_t pid)
{
    const struct fw_driver *found = NULL;
    char *copy = m->paths ? strdup(m->paths) : NULL, *save = NULL;
    for (char *item = copy ? strtok_r(copy, ",", &save) : NULL; item && !found;
         item = strtok_r(NULL, ",", &save)) {
        char name[32];
        unsigned v, p;
        int end = 0;
        if (sscanf(item, "%31[^:]:usb:%4x:%4x%n", name, &v, &p, &end) == 3 && item[end] == '\0' &&
            v == vid && p == pid) {
            const struct fw_driver *drv = fw_driver_find(name);
            if (drv && strncmp(drv->transport, "usb-", 4) == 0)
                found = drv;
        }
    }
    free(copy);
    return found;
}

static void usb_arrived(struct fw_manager *m, libusb_device *u)
{
    struct libusb_device_descriptor dd;
    if (libusb_get_device_descriptor(u, &dd) != 0)
        return;
    /* A serial bridge or a keyboard-mode scanner shows up in sysfs a moment later. */
    double now = now_mono();
    m->rescan_soon[0] = now + 0.2;
    m->rescan_soon[1] = now + 0.8;
    m->rescan_soon[2] = now + 2.5;
    const struct fw_driver *drv = usb_configured(m, dd.idVendor, dd.idProduct);
    if (!drv)
        drv = fw_driver_for_usb(dd.idVendor, dd.idProduct, "usb-hid");
    if (!drv)
        drv = fw_driver_for_usb(dd.idVendor, dd.idProduct, "usb-phdc");
    if (!drv)
        drv = fw_driver_for_usb(dd.idVendor, dd.idProduct, "usb-bulk");
    if (!drv && usb_has_class(u, USB_CLASS_PHDC)) /* any PHDC device: IEEE 11073-20601 */
        for (size_t i = 0; i < fw_drivers_count && !drv; i++)
            if (strcmp(fw_drivers[i]->transport, "usb-phdc") == 0)
                drv = fw_drivers[i];
    if (!wanted(m, drv))
        return;
    char sys[32], id[64], dir[PATH_MAX];
    usb_sysname(u, sys, sizeof sys);
    snprintf(id, sizeof id, "usb-%s", sys);
    struct dev *d = dev_by_id(m, id);
    if (d && d->info.state != FW_DEV_GONE && d->info.state != FW_DEV_OFFLINE)
        return; /* already open */
    if (d) {    /* plugged back: start afresh */
        dev_close(d);
        if (d->udev)
            libusb_unref_device(d->udev);
        memset(d->state, 0, drv->state_size ? drv->state_size : 1);
        d->drv = drv;
        d->last_status[0] = '\0';
    } else if (!(d = dev_new(m, K_USB, drv, id))) {
        return;
    }
    d->udev = libusb_ref_device(u);
    d->bus = libusb_get_bus_number(u);
    d->addr = libusb_get_device_address(u);
    d->info.id.vid = dd.idVendor;
    d->info.id.pid = dd.idProduct;
    snprintf(d->info.id.path, sizeof d->info.id.path, "usb:%03u:%03u", d->bus, d->addr);
    /* Product and serial from sysfs (no control transfer needed); the driver name else. */
    snprintf(dir, sizeof dir, "/sys/bus/usb/devices/%s", sys);
    read_attr(dir, "product", d->info.id.model, sizeof d->info.id.model);
    read_attr(dir, "serial", d->info.id.serial, sizeof d->info.id.serial);
    if (!d->info.id.model[0])
        snprintf(d->info.id.model, sizeof d->info.id.model, "%04x:%04x", dd.idVendor, dd.idProduct);
    usb_open_dev(m, d);
}

static void usb_left(struct fw_manager *m, libusb_device *u)
{
    for (struct dev *d = m->devs; d; d = d->next)
        if (d->kind == K_USB && d->udev == u && d->info.state != FW_DEV_GONE) {
            dev_close(d);
            set_state(m, d, FW_DEV_GONE, "unplugged");
        }
}

static int LIBUSB_CALL hotplug_cb(libusb_context *ctx, libusb_device *u, libusb_hotplug_event event,
                                  void *user)
{
    (void)ctx;
    struct fw_manager *m = user;
    struct pending *p = calloc(1, sizeof *p);
    if (!p)
        return 0;
    p->udev = libusb_ref_device(u);
    p->arrived = event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED;
    struct pending **tail = &m->pend; /* keep the order: arrive before leave */
    while (*tail)
        tail = &(*tail)->next;
    *tail = p;
    return 0;
}

static void usb_pending(struct fw_manager *m)
{
    while (m->pend) {
        struct pending *p = m->pend;
        m->pend = p->next;
        if (p->arrived)
            usb_arrived(m, p->udev);
        else
            usb_left(m, p->udev);
        libusb_unref_device(p->udev);
        free(p);
    }
}

/* Without hotplug: the device list now against the devices we hold. */
static void usb_list(struct fw_manager *m)
{
    libusb_device **list;
    ssize_t n = libusb_get_device_list(m->usb, &list);
    if (n < 0)
        return;
    for (struct dev *d = m->devs; d; d = d->next) {
        if (d->kind != K_USB || d->info.state == FW_DEV_GONE || !d->udev)
            continue;
        bool there = false;
        for (ssize_t i = 0; i < n && !there; i++)
            there = list[i] == d->udev;
        if (!there)
            usb_left(m, d->udev);
    }
    for (ssize_t i = 0; i < n; i++) {
        bool held = false;
        for (struct dev *d = m->devs; d && !held; d = d->next)
            held = d->kind == K_USB && d->udev == list[i] && d->info.state != FW_DEV_GONE;
        if (!held)
            usb_arrived(m, list[i]);
    }
    libusb_free_device_list(list, 1);
}

/* ---- serial ---- */

static int serial_setup(int fd, int baud, char parity)
{
    struct termios t;
    speed_t sp = tr_speed(baud ? baud : 9600);
    if (!sp || tcgetattr(fd, &t) != 0)
        return -1;
    cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cflag &= ~(tcflag_t)(CSTOPB | PARENB | PARODD | CRTSCTS);
    if (parity == 'O')
        t.c_cflag |= PARENB | PARODD;
    else if (parity == 'E')
        t.c_cflag |= PARENB;
    t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    if (cfsetispeed(&t, sp) != 0 || cfsetospeed(&t, sp) != 0 || tcsetattr(fd, TCSANOW, &t) != 0)
        return -1;
    tcflush(fd, TCIFLUSH);
    return 0;
}

static int dev_write(struct fw_manager *m, struct dev *d, const uint8_t *data, size_t n)
{
    if (m->cfg.frames) {
        struct fw_event ev = {.type = FW_EV_FRAME,
                              .dev = &d->info.id,
                              .state = d->info.state,
                              .time = now_real(),
                              .mono = now_mono(),
                              .raw = data,
                              .raw_len = n,
                              .to_device = true};
        emit(m, &ev);
    }
    if (d->drv && d->drv->sent) /* the driver follows what was said, whoever said it */
        d->drv->sent(d->state, data, n, now_mono());
    if (d->fd >= 0 && d->kind == K_SERIAL) {
        ssize_t w = write(d->fd, data, n);
        return w == (ssize_t)n ? 0 : -1;
    }
    if (d->kind != K_USB)
        return 0; /* replays and the demo: what the host says goes nowhere */
    size_t rep = d->drv ? d->drv->hid_report : 0;
    if (!rep)
        return usb_write(m, d, data, n, 0);
    /* A HID device takes whole output reports: one transfer each, the last one padded with
     * zeros to the report's size. */
    for (size_t off = 0; off < n; off += rep)
        if (usb_write(m, d, data + off, n - off < rep ? n - off : rep, rep) != 0)
            return -1;
    return 0;
}

/* A write has come back. It was submitted without waiting for it: most writes start in a
 * transfer's callback, which cannot wait for another transfer (libusb's event handling is
 * not reentrant). A failure is told in the device's status. */
static void LIBUSB_CALL write_done(struct libusb_transfer *x)
{
    struct dev *d = x->user_data;
    d->xfer_live--;
    for (int i = 0; i < USB_WRITES; i++)
        if (d->wr[i] == x)
            d->wr[i] = NULL;
    if (d->info.state != FW_DEV_ONLINE) {
        usb_reap(d);
        return;
    }
    if (x->status != LIBUSB_TRANSFER_COMPLETED && x->status != LIBUSB_TRANSFER_CANCELLED &&
        x->status != LIBUSB_TRANSFER_NO_DEVICE) {
        pthread_mutex_lock(&d->m->lock);
        d->info.errors++;
        pthread_mutex_unlock(&d->m->lock);
        set_state(d->m, d, d->info.state, "a write to the device failed: %s",
                  x->status == LIBUSB_TRANSFER_TIMED_OUT ? "it did not take it within 1 s"
                  : x->status == LIBUSB_TRANSFER_STALL   ? "it refused it (stall)"
                                                         : "transfer error");
    }
}

/* One USB write, padded with zeros to pad bytes: to the OUT endpoint, or by SET_REPORT for a
 * HID device without one. Submitted, not waited for; the endpoint keeps the order. */
static int usb_write(struct fw_manager *m, struct dev *d, const uint8_t *data, size_t n, size_t pad)
{
    bool set_report = !d->ep_out && d->ep_type == LIBUSB_TRANSFER_TYPE_INTERRUPT;
    if (!d->h || (!d->ep_out && !set_report))
        return d->h ? 0 : -1; /* no OUT endpoint and not HID: nothing to say it with */
    size_t len = pad > n ? pad : n;
    if (len > 0xFFFF)
        return -1;
    int slot = 0;
    while (slot < USB_WRITES && d->wr[slot])
        slot++;
    if (slot == USB_WRITES) {
        set_state(m, d, d->info.state, "%s", "the device is not taking what is sent to it");
        return -1;
    }
    size_t head = set_report ? LIBUSB_CONTROL_SETUP_SIZE : 0;
    struct libusb_transfer *x = libusb_alloc_transfer(0);
    uint8_t *buf = x ? calloc(1, head + len) : NULL;
    if (!buf) {
        libusb_free_transfer(x);
        return -1;
    }
    memcpy(buf + head, data, n);
    if (set_report) {
        /* HID 1.11, 7.2.2: SET_REPORT, report type output (2), report id 0. */
        libusb_fill_control_setup(
            buf, LIBUSB_ENDPOINT_OUT | LIBUSB_REQUEST_TYPE_CLASS | LIBUSB_RECIPIENT_INTERFACE, 0x09,
            0x0200, (uint16_t)d->iface, (uint16_t)len);
        libusb_fill_control_transfer(x, d->h, buf, write_done, d, 1000);
    } else if (d->ep_type == LIBUSB_TRANSFER_TYPE_INTERRUPT) {
        libusb_fill_interrupt_transfer(x, d->h, d->ep_out, buf, (int)len, write_done, d, 1000);
    } else {
        libusb_fill_bulk_transfer(x, d->h, d->ep_out, buf, (int)len, write_done, d, 1000);
    }
    x->flags = LIBUSB_TRANSFER_FREE_BUFFER | LIBUSB_TRANSFER_FREE_TRANSFER;
    int r = libusb_submit_transfer(x);
    if (r != 0) {
        libusb_free_transfer(x); /* FREE_BUFFER: the buffer goes with it */
        set_state(m, d, d->info.state, "a write to the device failed: %s", libusb_strerror(r));
        return -1;
    }
    d->wr[slot] = x;
    d->xfer_live++;
    return 0;
}

/* A HID driver's feature report (SET_REPORT, type feature (3), report id 0), when it has one:
 * at open and before an action (the Omron HEM-790IT wants it before its commands). */
static void usb_feature(struct fw_manager *m, struct dev *d)
{
    if (d->kind != K_USB || !d->h || !d->drv->hid_feature_len)
        return;
    int r = libusb_control_transfer(
        d->h, LIBUSB_ENDPOINT_OUT | LIBUSB_REQUEST_TYPE_CLASS | LIBUSB_RECIPIENT_INTERFACE, 0x09,
        0x0300, (uint16_t)d->iface, (unsigned char *)(uintptr_t)d->drv->hid_feature,
        (uint16_t)d->drv->hid_feature_len, 1000);
    if (r != (int)d->drv->hid_feature_len)
        set_state(m, d, d->info.state, "the feature report was refused: %s",
                  r < 0 ? libusb_strerror(r) : "short");
}

/* What the driver sends when a device is taken (and again every keepalive seconds). */
static void dev_start(struct fw_manager *m, struct dev *d)
{
    uint8_t hello[64];
    size_t n = d->drv->start ? d->drv->start(d->state, hello, sizeof hello) : 0;
    if (n)
        dev_write(m, d, hello, n);
    /* asked again while online even when it had nothing to say now (it may later) */
    d->next_keepalive = d->drv->keepalive > 0 && (d->kind == K_SERIAL || d->kind == K_USB)
                            ? now_mono() + d->drv->keepalive
                            : 0;
}

/* A probe step: the port's speed and parity, the question, and how long to listen. */
static void probe_begin(struct fw_manager *m, struct dev *d, size_t step)
{
    const struct fw_probe_step *p = &d->drv->probe[step];
    d->probe_step = step;
    d->probe_len = 0;
    if (serial_setup(d->fd, p->baud, p->parity) != 0) {
        dev_fault(m, d, FW_DEV_OFFLINE, "cannot set the port's speed for the probe");
        return;
    }
    if (p->send_len)
        dev_write(m, d, p->send, p->send_len);
    d->probe_until = now_mono() + p->listen;
    set_state(m, d, FW_DEV_PROBING, "asking whether it is a %s (%d baud)", d->drv->name, p->baud);
}

/* Opens a serial device. One whose USB id is shared (the CMS50's CP210x bridge) is probed
 * first, step by step (fw_probe_step), and claimed only when a step's verdict says so. */
static void serial_open_dev(struct fw_manager *m, struct dev *d, bool probe)
{
    d->fd = open(d->info.id.path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (d->fd < 0) {
        set_state(m, d, errno == ENOENT || errno == ENODEV ? FW_DEV_GONE : FW_DEV_OFFLINE, "%s: %s",
                  d->info.id.path, strerror(errno));
        return;
    }
    if (ioctl(d->fd, TIOCEXCL) != 0 && errno != ENOTTY) { /* no second reader of the port */
        dev_fault(m, d, FW_DEV_OFFLINE, "cannot hold the port alone (TIOCEXCL)");
        return;
    }
    memset(d->state, 0, d->drv->state_size ? d->drv->state_size : 1);
    d->last_status[0] = '\0';
    if (probe && d->drv->nprobe) {
        probe_begin(m, d, 0);
        return;
    }
    if (serial_setup(d->fd, d->drv->baud, d->drv->parity) != 0) {
        dev_fault(m, d, FW_DEV_OFFLINE, "not a serial port, or the speed is refused");
        return;
    }
    set_state(m, d, FW_DEV_ONLINE, "%s", "");
    dev_start(m, d);
}

static void probe_bytes(struct fw_manager *m, struct dev *d, const uint8_t *b, size_t n)
{
    size_t room = sizeof d->probe_buf - d->probe_len;
    memcpy(d->probe_buf + d->probe_len, b, n < room ? n : room);
    d->probe_len += n < room ? n : room;
    char model[96] = "";
    const struct fw_probe_step *p = &d->drv->probe[d->probe_step];
    if (p->verdict(d->state, d->probe_buf, d->probe_len, model) != 1)
        return;
    d->probe_until = 0;
    if (model[0])
        snprintf(d->info.id.model, sizeof d->info.id.model, "%s", model);
    set_state(m, d, FW_DEV_ONLINE, "%s", "");
    frame_in(m, d, d->probe_buf, d->probe_len); /* what it said while asked is data too */
    if (d->info.state == FW_DEV_ONLINE)
        dev_start(m, d);
}

static void probe_timeout(struct fw_manager *m, struct dev *d)
{
    if (d->probe_step + 1 < d->drv->nprobe) {
        probe_begin(m, d, d->probe_step + 1);
        return;
    }
    dev_close(d);
    set_state(m, d, FW_DEV_UNCLAIMED, "not a %s: another device on a shared USB id", d->drv->name);
}

/* ---- evdev ---- */

static void evdev_open_dev(struct fw_manager *m, struct dev *d)
{
    d->fd = open(d->info.id.path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (d->fd < 0) {
        set_state(m, d, errno == ENOENT || errno == ENODEV ? FW_DEV_GONE : FW_DEV_OFFLINE, "%s: %s",
                  d->info.id.path, strerror(errno));
        return;
    }
    /* Keystrokes of the scanner must not reach a console or a kiosk browser. */
    if (ioctl(d->fd, EVIOCGRAB, 1) != 0 && errno != EINVAL && errno != ENOTTY) {
        dev_fault(m, d, FW_DEV_OFFLINE, "another program holds the scanner (EVIOCGRAB)");
        return;
    }
    char name[96] = "";
    if (ioctl(d->fd, EVIOCGNAME(sizeof name), name) > 0 && !d->info.id.model[0])
        snprintf(d->info.id.model, sizeof d->info.id.model, "%s", name);
    memset(d->state, 0, d->drv->state_size ? d->drv->state_size : 1);
    set_state(m, d, FW_DEV_ONLINE, "%s", "");
}

/* Input events as the portable 8-byte records the scanner driver decodes (captures.md). */
static void evdev_read(struct fw_manager *m, struct dev *d)
{
    struct input_event ev[64];
    ssize_t r = read(d->fd, ev, sizeof ev);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) {
        dev_fault(m, d, FW_DEV_GONE, r == 0 ? "closed" : "unplugged");
        return;
    }
    for (size_t i = 0; i < (size_t)r / sizeof ev[0] && d->fd >= 0; i++) {
        uint8_t rec[8] = {(uint8_t)ev[i].type,
                          (uint8_t)(ev[i].type >> 8),
                          (uint8_t)ev[i].code,
                          (uint8_t)(ev[i].code >> 8),
                          (uint8_t)ev[i].value,
                          (uint8_t)((uint32_t)ev[i].value >> 8),
                          (uint8_t)((uint32_t)ev[i].value >> 16),
                          (uint8_t)((uint32_t)ev[i].value >> 24)};
        frame_in(m, d, rec, sizeof rec);
    }
}

static void fd_read(struct fw_manager *m, struct dev *d)
{
    uint8_t buf[READ_BUF];
    ssize_t r = read(d->fd, buf, sizeof buf);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) { /* a USB bridge unplugged: EIO, or end of file */
        dev_fault(m, d, FW_DEV_GONE, r == 0 ? "closed" : "unplugged");
        return;
    }
    if (d->probe_until > 0)
        probe_bytes(m, d, buf, (size_t)r);
    else
        frame_in(m, d, buf, (size_t)r);
}

/* ---- nodes in sysfs, configured paths, replays ---- */

/* The USB device above a sysfs class device: its directory, vid and pid. */
static bool usb_parent(const char *classdir, char *usbdir, size_t n, uint16_t *vid, uint16_t *pid)
{
    char path[PATH_MAX], real[PATH_MAX], v[16], p[16];
    snprintf(path, sizeof path, "%.4000s/device", classdir);
    if (!realpath(path, real))
        return false;
    for (int depth = 0; depth < 8; depth++) {
        read_attr(real, "idVendor", v, sizeof v);
        read_attr(real, "idProduct", p, sizeof p);
        if (v[0] && p[0]) {
            *vid = (uint16_t)strtoul(v, NULL, 16);
            *pid = (uint16_t)strtoul(p, NULL, 16);
            snprintf(usbdir, n, "%s", real);
            return true;
        }
        char *slash = strrchr(real, '/');
        if (!slash || slash == real)
            return false;
        *slash = '\0';
    }
    return false;
}

static bool ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

static void node_found(struct fw_manager *m, enum kind k, const struct fw_driver *drv,
                       const char *devpath, const char *usbdir, uint16_t vid, uint16_t pid,
                       bool configured)
{
    /* Named by the node itself: a configured /dev/serial/by-id link and the same port found
     * under its USB parent are one device (tty-ttyUSB0), opened once. */
    char id[64];
    struct stat st;
    char *real = lstat(devpath, &st) == 0 && S_ISLNK(st.st_mode) ? realpath(devpath, NULL) : NULL;
    const char *node = real ? real : devpath;
    const char *base = strrchr(node, '/');
    snprintf(id, sizeof id, "%s-%.57s", k == K_SERIAL ? "tty" : "input", base ? base + 1 : node);
    free(real);
    struct dev *d = dev_by_id(m, id);
    if (d && (d->info.state == FW_DEV_ONLINE || d->info.state == FW_DEV_PROBING ||
              (d->info.state == FW_DEV_UNCLAIMED && !configured)))
        return;
    if (!d && !(d = dev_new(m, k, drv, id)))
        return;
    d->drv = drv;
    d->configured = configured;
    snprintf(d->info.id.driver, sizeof d->info.id.driver, "%s", drv->name);
    snprintf(d->info.id.transport, sizeof d->info.id.transport, "%s", drv->transport);
    snprintf(d->info.id.path, sizeof d->info.id.path, "%s", devpath);
    d->info.id.vid = vid;
    d->info.id.pid = pid;
    if (usbdir) {
        read_attr(usbdir, "product", d->info.id.model, sizeof d->info.id.model);
        read_attr(usbdir, "serial", d->info.id.serial, sizeof d->info.id.serial);
    }
    if (k == K_SERIAL)
        serial_open_dev(m, d, true); /* a configured CMS50 is asked too: which protocol */
    else
        evdev_open_dev(m, d);
}

static void scan_class(struct fw_manager *m, const char *cls, const char *prefix, enum kind k)
{
    char dir[PATH_MAX], usbdir[PATH_MAX], devpath[PATH_MAX];
    snprintf(dir, sizeof dir, "/sys/class/%s", cls);
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char cdir[PATH_MAX];
        uint16_t vid = 0, pid = 0;
        snprintf(cdir, sizeof cdir, "%.3000s/%.255s", dir, e->d_name);
        if (!usb_parent(cdir, usbdir, sizeof usbdir, &vid, &pid))
            continue;
        const struct fw_driver *drv =
            fw_driver_for_usb(vid, pid, k == K_SERIAL ? "serial" : "evdev");
        if (!drv && k == K_EVDEV) {
            /* Keyboard-mode scanners have many ids: known ones are in the table, the rest
             * say what they are in their name. Keyboards are never taken. */
            char name[128], ndir[PATH_MAX];
            snprintf(ndir, sizeof ndir, "%.3000s/%.255s/device", dir, e->d_name);
            read_attr(ndir, "name", name, sizeof name);
            if (ci_contains(name, "barcode") || ci_contains(name, "scanner"))
                drv = fw_driver_find("hid-scanner");
        }
        if (!wanted(m, drv))
            continue;
        snprintf(devpath, sizeof devpath, "/dev/%s%.255s", k == K_EVDEV ? "input/" : "", e->d_name);
        node_found(m, k, drv, devpath, usbdir, vid, pid, false);
    }
    closedir(dp);
}

static void scan_config(struct fw_manager *m)
{
    if (!m->paths)
        return;
    char *copy = strdup(m->paths), *save = NULL;
    for (char *item = copy ? strtok_r(copy, ",", &save) : NULL; item;
         item = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(item, ':');
        if (!colon)
            continue;
        *colon = '\0';
        const struct fw_driver *drv = fw_driver_find(item);
        const char *path = colon + 1;
        if (!wanted(m, drv) || strncmp(path, "usb:", 4) == 0 || access(path, F_OK) != 0)
            continue; /* "usb:VVVV:PPPP" binds a USB id (usb_configured) */
        enum kind k = strcmp(drv->transport, "evdev") == 0 ? K_EVDEV : K_SERIAL;
        node_found(m, k, drv, path, NULL, 0, 0, true);
    }
    free(copy);
}

static void replay_start(struct fw_manager *m, const char *file)
{
    char path[PATH_MAX], done[PATH_MAX + 8], err[200];
    snprintf(path, sizeof path, "%.3800s/%.255s", m->replay_dir, file);
    snprintf(done, sizeof done, "%.4090s.done", path);
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t len = 0;
    if (f) {
        struct stat st;
        if (fstat(fileno(f), &st) == 0 && st.st_size < (64 << 20) &&
            (text = malloc((size_t)st.st_size + 1)))
            len = fread(text, 1, (size_t)st.st_size, f);
        fclose(f);
    }
    rename(path, done); /* played once; drop it again to play it again */
    if (!text)
        return;
    struct fw_capture c;
    int rc = fw_capture_parse(text, len, &c, err, sizeof err);
    free(text);
    char id[64];
    snprintf(id, sizeof id, "replay-%.*s", (int)strcspn(file, "."), file);
    const struct fw_driver *drv = rc == FW_OK ? fw_driver_find(c.device) : NULL;
    struct dev *d = dev_by_id(m, id);
    if (d && d->info.state != FW_DEV_GONE) {
        if (rc == FW_OK)
            fw_capture_free(&c);
        return; /* the same name is playing */
    }
    if (!d && !(d = dev_new(m, K_REPLAY, drv ? drv : fw_driver_find("demo"), id))) {
        if (rc == FW_OK)
            fw_capture_free(&c);
        return;
    }
    snprintf(d->info.id.path, sizeof d->info.id.path, "%.127s", file);
    if (rc != FW_OK || !drv) {
        if (rc == FW_OK)
            fw_capture_free(&c);
        set_state(m, d, FW_DEV_OFFLINE, "%s: %s", file,
                  rc != FW_OK ? err : "the capture's \"# device:\" names no driver");
        return;
    }
    d->drv = drv;
    snprintf(d->info.id.driver, sizeof d->info.id.driver, "%s", drv->name);
    snprintf(d->info.id.transport, sizeof d->info.id.transport, "replay");
    snprintf(d->info.id.model, sizeof d->info.id.model, "%s", c.model[0] ? c.model : drv->name);
    memset(d->state, 0, drv->state_size ? drv->state_size : 1);
    d->last_status[0] = '\0';
    d->cap = c;
    d->next_frame = 0;
    d->t0 = now_mono();
    set_state(m, d, FW_DEV_ONLINE, "%s", "");
}

static void scan_replays(struct fw_manager *m)
{
    if (!m->replay_dir)
        return;
    DIR *dp = opendir(m->replay_dir);
    if (!dp)
        return;
    struct dirent *e;
    char names[16][256];
    int n = 0;
    while ((e = readdir(dp)) && n < 16) {
        size_t l = strlen(e->d_name);
        if (l > 4 && l < 256 && strcmp(e->d_name + l - 4, ".cap") == 0)
            snprintf(names[n++], sizeof names[0], "%s", e->d_name);
    }
    closedir(dp);
    for (int i = 0; i < n; i++)
        replay_start(m, names[i]);
}

static double frame_due(const struct dev *d, size_t i)
{
    const struct fw_frame *f = &d->cap.frames[i];
    return d->t0 + (f->at >= 0 ? f->at : (double)i / 50); /* untimed: 50 a second, closer
                                                              than a scanner's gap */
}

/* Frames that are due; the end of the capture is the device leaving. A capture that stops in
 * the middle of a reading leaves nothing behind: the driver's state goes with the device. */
static void replay_step(struct fw_manager *m, struct dev *d, double now)
{
    while (d->info.state == FW_DEV_ONLINE && d->next_frame < d->cap.nframes &&
           frame_due(d, d->next_frame) <= now) {
        const struct fw_frame *f = &d->cap.frames[d->next_frame++];
        if (f->to_device) { /* what the kit said then: the driver follows it */
            if (d->drv->sent)
                d->drv->sent(d->state, f->data, f->len, now);
            continue;
        }
        frame_in(m, d, f->data, f->len);
    }
    if (d->info.state == FW_DEV_ONLINE && d->next_frame >= d->cap.nframes) {
        double dl = d->drv->deadline ? d->drv->deadline(d->state) : -1;
        if (dl >= 0 && dl > now)
            return; /* a scanner's last code ends at its gap */
        dev_close(d);
        set_state(m, d, FW_DEV_GONE, "end of the capture");
    }
}

/* A serial or input node that is no longer there was unplugged (even one never opened: a
 * port left unclaimed is asked again when it comes back). */
static void nodes_gone(struct fw_manager *m)
{
    for (struct dev *d = m->devs; d; d = d->next)
        if ((d->kind == K_SERIAL || d->kind == K_EVDEV) && d->info.state != FW_DEV_GONE &&
            access(d->info.id.path, F_OK) != 0) {
            dev_close(d);
            set_state(m, d, FW_DEV_GONE, "unplugged");
        }
}

static void rescan(struct fw_manager *m)
{
    nodes_gone(m);
    scan_config(m); /* first: a configured driver wins a node that is also found by id */
    if (m->cfg.usb) {
        scan_class(m, "tty", "ttyUSB", K_SERIAL);
        scan_class(m, "tty", "ttyACM", K_SERIAL);
    }
    if (m->cfg.evdev)
        scan_class(m, "input", "event", K_EVDEV);
    scan_replays(m);
}

/* ---- demo devices ---- */

static void demo_push(struct dev *d, double due, const uint8_t *data, size_t n)
{
    struct demo_frame *f = calloc(1, sizeof *f), **tail = &d->demo;
    if (!f)
        return;
    f->due = due;
    f->len = n < sizeof f->data ? n : sizeof f->data;
    memcpy(f->data, data, f->len);
    while (*tail && (*tail)->due <= due)
        tail = &(*tail)->next;
    f->next = *tail;
    *tail = f;
}

static unsigned demo_rand(struct fw_manager *m, unsigned lo, unsigned hi)
{
    m->rng = m->rng * 1103515245u + 12345u;
    return lo + (m->rng >> 8) % (hi - lo + 1);
}

/* A resident steps on the scale: motion, then the weight held for three reports. */
static void demo_scale(struct fw_manager *m, struct dev *d, double at)
{
    unsigned raw = demo_rand(m, 420, 780); /* 42.0-78.0 kg in 0.1 kg */
    uint8_t motion[6] = {3, FW_SCALE_MOTION, 3, 0xff, (uint8_t)(raw / 2), (uint8_t)(raw / 2 >> 8)};
    uint8_t stable[6] = {3, FW_SCALE_STABLE, 3, 0xff, (uint8_t)raw, (uint8_t)(raw >> 8)};
    uint8_t zero[6] = {3, FW_SCALE_ZERO, 3, 0xff, 0, 0};
    demo_push(d, at, motion, 6);
    for (int i = 0; i < 3; i++)
        demo_push(d, at + 0.6 + 0.2 * i, stable, 6);
    demo_push(d, at + 4, zero, 6); /* steps off */
}

/* A finger in the oximeter for four seconds: 60 packets a second, then finger out. */
static void demo_oximeter(struct fw_manager *m, struct dev *d, double at)
{
    unsigned spo2 = demo_rand(m, 94, 99), pulse = demo_rand(m, 62, 96);
    for (int i = 0; i < 60 * 4; i++) {
        uint8_t p[5] = {(uint8_t)(0x80 | 0x40 | 8), (uint8_t)(40 + (i * 7) % 60),
                        (uint8_t)(5 | (pulse & 0x80 ? 0x40 : 0)), (uint8_t)(pulse & 0x7f),
                        (uint8_t)spo2};
        demo_push(d, at + i / 60.0, p, 5);
    }
    uint8_t out[5] = {0x80 | 0x10, 0, 0x60, 0x7f, 0x7f}; /* finger out: pulse 255, SpO2 127 */
    demo_push(d, at + 4.2, out, 5);
}

static void demo_bp(struct fw_manager *m, struct dev *d, double at)
{
    unsigned sys = demo_rand(m, 104, 168), dia = demo_rand(m, 62, sys > 150 ? 104 : 88),
             pulse = demo_rand(m, 60, 98);
    uint8_t f[7] = {'P',
                    (uint8_t)sys,
                    (uint8_t)(sys >> 8),
                    (uint8_t)dia,
                    (uint8_t)(dia >> 8),
                    (uint8_t)pulse,
                    (uint8_t)(pulse >> 8)};
    demo_push(d, at, f, 7);
}

/* A keyboard-mode scanner typing code (upper-case letters and digits), then Enter. */
static int demo_scanner(struct dev *d, double at, const char *code)
{
    static const char rows[] = "qwertyuiop\0asdfghjkl\0zxcvbnm";
    static const uint16_t row_start[] = {KEY_Q, KEY_A, KEY_Z};
    uint16_t keys[FW_SCAN_MAX + 1];
    size_t n = 0;
    for (const char *c = code; *c && n < FW_SCAN_MAX; c++) {
        if (*c >= '1' && *c <= '9')
            keys[n++] = (uint16_t)(KEY_1 + (*c - '1'));
        else if (*c == '0')
            keys[n++] = KEY_0;
        else if (*c >= 'A' && *c <= 'Z') {
            uint16_t k = 0;
            for (int r = 0, off = 0; r < 3 && !k; r++) {
                const char *p = strchr(rows + off, *c - 'A' + 'a');
                size_t len = strlen(rows + off);
                if (p && p < rows + off + len)
                    k = (uint16_t)(row_start[r] + (p - (rows + off)));
                off += (int)len + 1;
            }
            keys[n++] = (uint16_t)(k | 0x8000); /* with Shift */
        } else {
            return FW_EINVAL;
        }
    }
    if (n == 0)
        return FW_EINVAL;
    keys[n++] = KEY_ENTER;
    double t = at;
    for (size_t i = 0; i < n; i++) {
        uint16_t k = keys[i] & 0x7fff;
        bool shift = keys[i] & 0x8000;
        uint8_t rec[8] = {EV_KEY, 0, 0, 0, 0, 0, 0, 0};
        if (shift) {
            rec[2] = KEY_LEFTSHIFT;
            rec[4] = 1;
            demo_push(d, t, rec, 8);
        }
        rec[2] = (uint8_t)k;
        rec[3] = (uint8_t)(k >> 8);
        rec[4] = 1;
        demo_push(d, t + 0.002, rec, 8);
        rec[4] = 0;
        demo_push(d, t + 0.004, rec, 8);
        if (shift) {
            rec[2] = KEY_LEFTSHIFT;
            rec[3] = 0;
            demo_push(d, t + 0.006, rec, 8);
        }
        t += 0.008;
    }
    return FW_OK;
}

static void demo_add(struct fw_manager *m)
{
    static const struct {
        const char *id, *driver, *model;
    } demo[] = {
        {"demo-scanner", "hid-scanner", "Demo wristband scanner (keyboard mode)"},
        {"demo-scale", "hidpos-scale", "Demo scale (HID POS reports)"},
        {"demo-oximeter", "cms50", "Demo pulse oximeter (CMS50 packets)"},
        {"demo-bp", "demo", "Demo blood-pressure monitor"},
    };
    for (size_t i = 0; i < sizeof demo / sizeof demo[0]; i++) {
        const struct fw_driver *drv = fw_driver_find(demo[i].driver);
        struct dev *d = drv ? dev_new(m, K_DEMO, drv, demo[i].id) : NULL;
        if (!d)
            continue;
        snprintf(d->info.id.driver, sizeof d->info.id.driver, "demo");
        snprintf(d->info.id.transport, sizeof d->info.id.transport, "demo");
        snprintf(d->info.id.model, sizeof d->info.id.model, "%s", demo[i].model);
        snprintf(d->info.id.serial, sizeof d->info.id.serial, "DEMO-%zu", i + 1);
        snprintf(d->info.id.path, sizeof d->info.id.path, "demo:%s", demo[i].id + 5);
        set_state(m, d, FW_DEV_ONLINE, "%s", "");
        if (strcmp(demo[i].driver, "hidpos-scale") == 0) { /* the stale first report */
            uint8_t zero[6] = {3, FW_SCALE_ZERO, 3, 0xff, 0, 0};
            demo_push(d, now_mono(), zero, 6);
        }
    }
}

static void demo_request(struct fw_manager *m, const struct sim_request *r)
{
    struct dev *d = dev_by_id(m, r->id);
    if (!d || d->kind != K_DEMO)
        return;
    double now = now_mono();
    if (strcmp(r->id, "demo-scanner") == 0) {
        if (demo_scanner(d, now, r->code) != FW_OK)
            return;
        /* The nurse then weighs the resident, clips the oximeter on and takes the BP. */
        struct dev *s = dev_by_id(m, "demo-scale"), *o = dev_by_id(m, "demo-oximeter"),
                   *b = dev_by_id(m, "demo-bp");
        if (s)
            demo_scale(m, s, now + 1.5);
        if (o)
            demo_oximeter(m, o, now + 3);
        if (b)
            demo_bp(m, b, now + 9);
    } else if (strcmp(r->id, "demo-scale") == 0) {
        demo_scale(m, d, now);
    } else if (strcmp(r->id, "demo-oximeter") == 0) {
        demo_oximeter(m, d, now);
    } else if (strcmp(r->id, "demo-bp") == 0) {
        demo_bp(m, d, now);
    }
}

static void demo_step(struct fw_manager *m, struct dev *d, double now)
{
    while (d->demo && d->demo->due <= now) {
        struct demo_frame *f = d->demo;
        d->demo = f->next;
        frame_in(m, d, f->data, f->len);
        free(f);
    }
}

/* ---- the loop ---- */

static double dev_deadline(const struct dev *d)
{
    double t = -1;
    if (d->info.state == FW_DEV_PROBING && d->probe_until > 0)
        t = d->probe_until;
    if (d->info.state == FW_DEV_ONLINE) {
        if (d->kind == K_REPLAY && d->next_frame < d->cap.nframes)
            t = frame_due(d, d->next_frame);
        if (d->kind == K_REPLAY && d->next_frame >= d->cap.nframes)
            t = 0; /* ends now (or at its gap) */
        if (d->kind == K_DEMO && d->demo)
            t = d->demo->due;
        double g = d->drv->deadline ? d->drv->deadline(d->state) : -1;
        if (g >= 0 && (t < 0 || g < t))
            t = g;
        if (d->next_keepalive > 0 && (t < 0 || d->next_keepalive < t))
            t = d->next_keepalive;
    }
    return t;
}

static void timers(struct fw_manager *m, double now)
{
    for (struct dev *d = m->devs; d; d = d->next) {
        if (d->info.state == FW_DEV_PROBING && d->probe_until > 0 && now >= d->probe_until)
            probe_timeout(m, d);
        if (d->info.state != FW_DEV_ONLINE)
            continue;
        if (d->kind == K_REPLAY)
            replay_step(m, d, now);
        if (d->kind == K_DEMO)
            demo_step(m, d, now);
        if (d->next_keepalive > 0 && now >= d->next_keepalive && d->info.state == FW_DEV_ONLINE)
            dev_start(m, d);
        double g = d->drv->deadline && d->drv->timeout ? d->drv->deadline(d->state) : -1;
        if (g >= 0 && now >= g && d->info.state == FW_DEV_ONLINE) {
            struct fw_decoded out;
            memset(&out, 0, sizeof out);
            if (d->drv->timeout(d->state, now, &out) == FW_OK)
                deliver(m, d, NULL, 0, now_real(), now, &out);
        }
        if (d->kind == K_REPLAY)
            replay_step(m, d, now); /* ends after its last code */
    }
}

/* Devices gone for a minute leave the list. */
static void sweep(struct fw_manager *m, double now)
{
    pthread_mutex_lock(&m->lock);
    for (struct dev **p = &m->devs; *p;) {
        struct dev *d = *p;
        if (d->info.state == FW_DEV_GONE && d->gone_at > 0 && now - d->gone_at > GONE_KEEP &&
            d->xfer_live == 0) {
            *p = d->next;
            dev_free(d);
        } else {
            p = &d->next;
        }
    }
    pthread_mutex_unlock(&m->lock);
}

/* A driver's action on a device (fw_manager_action), on the loop's thread. */
static void do_action(struct fw_manager *m, struct sim_request *r)
{
    struct dev *d = dev_by_id(m, r->id);
    r->rc = FW_ENODEV;
    if (!d) {
        snprintf(r->err, sizeof r->err, "no device %s", r->id);
        return;
    }
    if (d->info.state != FW_DEV_ONLINE) {
        snprintf(r->err, sizeof r->err, "the device is %s", fw_dev_state_name(d->info.state));
        return;
    }
    r->rc = FW_EINVAL;
    if (!d->drv->action || (d->kind != K_SERIAL && d->kind != K_USB)) {
        snprintf(r->err, sizeof r->err, "%s",
                 d->drv->action ? "a replayed or demo device takes no commands"
                                : "the device's driver has no actions");
        return;
    }
    struct fw_decoded out;
    memset(&out, 0, sizeof out);
    usb_feature(m, d);
    r->rc = d->drv->action(d->state, r->action, now_mono(), &out);
    if (r->rc == FW_OK)
        deliver(m, d, NULL, 0, now_real(), now_mono(), &out);
    else
        snprintf(r->err, sizeof r->err, "%s",
                 out.why[0]          ? out.why
                 : r->rc == FW_EBUSY ? "the device is busy with one already"
                                     : fw_strerror(r->rc));
}

/* libusb's event handling: transfers complete (xfer_done); handles their callbacks let go
 * are closed after it, since libusb_close() inside it waits for itself. */
static void usb_events(struct fw_manager *m, struct timeval *tv)
{
    m->in_events = true;
    libusb_handle_events_timeout_completed(m->usb, tv, NULL);
    m->in_events = false;
    for (struct dev *d = m->devs; d; d = d->next)
        if (d->release_soon)
            usb_release(d);
}

static void *loop(void *arg)
{
    struct fw_manager *m = arg;
    struct pollfd pfd[MAX_FDS];
    struct dev *owner[MAX_FDS];
    rescan(m);
    usb_pending(m);
    while (!m->stop) {
        double now = now_mono();
        /* Requests from other threads (the demo's scans). */
        pthread_mutex_lock(&m->lock);
        struct sim_request *sims = m->sims;
        m->sims = NULL;
        pthread_mutex_unlock(&m->lock);
        while (sims) {
            struct sim_request *r = sims;
            sims = r->next;
            if (!r->action[0]) {
                demo_request(m, r);
                free(r);
                continue;
            }
            do_action(m, r);
            pthread_mutex_lock(&m->lock);
            r->done = true;
            bool orphan = r->abandoned;
            pthread_cond_broadcast(&m->acted);
            pthread_mutex_unlock(&m->lock);
            if (orphan)
                free(r);
        }
        timers(m, now);
        bool due = now >= m->next_rescan;
        for (int i = 0; i < 3; i++)
            if (m->rescan_soon[i] > 0 && now >= m->rescan_soon[i]) {
                m->rescan_soon[i] = 0;
                due = true;
            }
        if (due) {
            rescan(m);
            sweep(m, now);
            m->next_rescan = now + RESCAN_IDLE;
        }
        if (m->usb && !m->hotplug && now >= m->next_usb_list) {
            usb_list(m);
            m->next_usb_list = now + RESCAN_NO_HOTP;
        }

        /* What to wait for, and until when. */
        nfds_t n = 0;
        pfd[n] = (struct pollfd){.fd = m->wake, .events = POLLIN};
        owner[n++] = NULL;
        const struct libusb_pollfd **ufds = m->usb ? libusb_get_pollfds(m->usb) : NULL;
        for (size_t i = 0; ufds && ufds[i] && n < MAX_FDS; i++) {
            pfd[n] = (struct pollfd){.fd = ufds[i]->fd, .events = ufds[i]->events};
            owner[n++] = NULL;
        }
        nfds_t first_dev = n;
        double wake_at = m->next_rescan;
        if (m->usb && !m->hotplug && m->next_usb_list < wake_at)
            wake_at = m->next_usb_list;
        for (int i = 0; i < 3; i++)
            if (m->rescan_soon[i] > 0 && m->rescan_soon[i] < wake_at)
                wake_at = m->rescan_soon[i];
        for (struct dev *d = m->devs; d; d = d->next) {
            if (d->fd >= 0 && n < MAX_FDS) {
                pfd[n] = (struct pollfd){.fd = d->fd, .events = POLLIN};
                owner[n++] = d;
            }
            double t = dev_deadline(d);
            if (t >= 0 && t < wake_at)
                wake_at = t;
        }
        struct timeval tv;
        if (m->usb && libusb_get_next_timeout(m->usb, &tv) == 1) {
            double t = now + (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
            if (t < wake_at)
                wake_at = t;
        }
        double wait = wake_at - now_mono();
        int timeout = wait <= 0 ? 0 : (int)ceil(wait * 1000);
        int r = poll(pfd, n, timeout);
        if (ufds)
            libusb_free_pollfds(ufds);
        if (r < 0 && errno != EINTR)
            break;
        if (pfd[0].revents & POLLIN) {
            uint64_t v;
            if (read(m->wake, &v, sizeof v) < 0) { /* nothing to do: the count is reset */
            }
        }
        if (m->usb) {
            struct timeval zero = {0, 0};
            usb_events(m, &zero);
            usb_pending(m);
        }
        for (nfds_t i = first_dev; r > 0 && i < n; i++) {
            struct dev *d = owner[i];
            if (!d || d->fd != pfd[i].fd || !pfd[i].revents)
                continue;
            if (pfd[i].revents & (POLLERR | POLLNVAL)) {
                dev_fault(m, d, FW_DEV_GONE, "unplugged");
                continue;
            }
            if (d->kind == K_EVDEV)
                evdev_read(m, d);
            else
                fd_read(m, d);
        }
    }
    return NULL;
}

int fw_manager_start(const struct fw_manager_config *cfg, struct fw_manager **out, char *err,
                     size_t errlen)
{
    struct fw_manager *m = calloc(1, sizeof *m);
    if (!m)
        return FW_ENOMEM;
    m->cfg = *cfg;
    m->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    m->paths = cfg->paths ? strdup(cfg->paths) : NULL;
    m->replay_dir = cfg->replay_dir ? strdup(cfg->replay_dir) : NULL;
    m->only = cfg->only_driver ? strdup(cfg->only_driver) : NULL;
    m->rng = (unsigned)time(NULL);
    pthread_mutex_init(&m->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->acted, &ca);
    pthread_condattr_destroy(&ca);
    if (m->wake < 0 || (cfg->paths && !m->paths) || (cfg->replay_dir && !m->replay_dir) ||
        (cfg->only_driver && !m->only)) {
        fw_manager_stop(m);
        return FW_ENOMEM;
    }
    if (err && errlen)
        err[0] = '\0';
    if (cfg->usb) {
        int r = libusb_init(&m->usb);
        if (r != 0) {
            m->usb = NULL;
            snprintf(err, errlen, "no USB devices: libusb: %s", libusb_strerror(r));
        } else if (libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG)) {
            r = libusb_hotplug_register_callback(
                m->usb, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
                LIBUSB_HOTPLUG_ENUMERATE, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
                LIBUSB_HOTPLUG_MATCH_ANY, hotplug_cb, m, &m->hp);
            m->hotplug = r == 0;
        }
    }
    if (cfg->demo)
        demo_add(m);
    if (pthread_create(&m->thread, NULL, loop, m) != 0) {
        snprintf(err, errlen, "cannot start the device thread: %s", strerror(errno));
        fw_manager_stop(m);
        return FW_EIO;
    }
    m->started = true;
    *out = m;
    return FW_OK;
}

void fw_manager_stop(struct fw_manager *m)
{
    if (!m)
        return;
    if (m->started) {
        m->stop = true;
        uint64_t one = 1;
        if (write(m->wake, &one, sizeof one) < 0) { /* the loop wakes within its timeout */
        }
        pthread_join(m->thread, NULL);
    }
    for (struct dev *d = m->devs; d; d = d->next)
        dev_close(d);
    /* Let cancelled transfers come back before the handles go. */
    for (int tries = 0; m->usb && tries < 50; tries++) {
        int live = 0;
        for (struct dev *d = m->devs; d; d = d->next)
            live += d->xfer_live;
        if (!live)
            break;
        struct timeval tv = {0, 20000};
        usb_events(m, &tv);
    }
    while (m->devs) {
        struct dev *d = m->devs;
        m->devs = d->next;
        d->info.state = FW_DEV_GONE;
        if (d->xfer_live == 0)
            dev_free(d); /* a transfer that never came back is leaked rather than freed live */
    }
    while (m->pend) {
        struct pending *p = m->pend;
        m->pend = p->next;
        libusb_unref_device(p->udev);
        free(p);
    }
    while (m->sims) { /* callers of fw_manager_action have returned by now */
        struct sim_request *r = m->sims;
        m->sims = r->next;
        free(r);
    }
    pthread_cond_destroy(&m->acted);
    if (m->usb) {
        if (m->hotplug)
            libusb_hotplug_deregister_callback(m->usb, m->hp);
        libusb_exit(m->usb);
    }
    if (m->wake >= 0)
        close(m->wake);
    pthread_mutex_destroy(&m->lock);
    free(m->paths);
    free(m->replay_dir);
    free(m->only);
    free(m);
}

int fw_manager_devices(struct fw_manager *m, struct fw_device_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&m->lock);
    size_t count = 0;
    for (struct dev *d = m->devs; d; d = d->next)
        count++;
    struct fw_device_info *v = calloc(count ? count : 1, sizeof *v);
    if (!v) {
        pthread_mutex_unlock(&m->lock);
        return FW_ENOMEM;
    }
    size_t i = count;
    for (struct dev *d = m->devs; d; d = d->next)
        v[--i] = d->info; /* oldest first */
    pthread_mutex_unlock(&m->lock);
    *out = v;
    *n = count;
    return FW_OK;
}

/* Queues a request for the loop's thread and wakes it. FW_EIO when it could not be woken. */
static int enqueue(struct fw_manager *m, struct sim_request *r)
{
    pthread_mutex_lock(&m->lock);
    struct sim_request **tail = &m->sims;
    while (*tail)
        tail = &(*tail)->next;
    *tail = r;
    pthread_mutex_unlock(&m->lock);
    uint64_t one = 1;
    return write(m->wake, &one, sizeof one) < 0 ? FW_EIO : FW_OK;
}

int fw_manager_simulate(struct fw_manager *m, const char *device_id, const char *code)
{
    if (!m || !m->cfg.demo || !device_id || strncmp(device_id, "demo-", 5) != 0)
        return FW_ENODEV;
    pthread_mutex_lock(&m->lock);
    struct dev *d = dev_by_id(m, device_id);
    pthread_mutex_unlock(&m->lock);
    if (!d || d->kind != K_DEMO)
        return FW_ENODEV;
    if (strcmp(device_id, "demo-scanner") == 0) {
        if (!code || !code[0] || strlen(code) > FW_SCAN_MAX)
            return FW_EINVAL;
        for (const char *c = code; *c; c++)
            if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
                return FW_EINVAL;
    }
    struct sim_request *r = calloc(1, sizeof *r);
    if (!r)
        return FW_ENOMEM;
    snprintf(r->id, sizeof r->id, "%s", device_id);
    snprintf(r->code, sizeof r->code, "%s", code ? code : "");
    return enqueue(m, r);
}

int fw_manager_action(struct fw_manager *m, const char *device_id, const char *action, char *err,
                      size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!m || !device_id || !action || !action[0])
        return FW_EINVAL;
    struct sim_request *r = calloc(1, sizeof *r);
    if (!r)
        return FW_ENOMEM;
    snprintf(r->id, sizeof r->id, "%s", device_id);
    snprintf(r->action, sizeof r->action, "%s", action);
    enqueue(m, r); /* if the loop is not woken, it comes to it within its timeout */
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += 2;
    pthread_mutex_lock(&m->lock);
    while (!r->done)
        if (pthread_cond_timedwait(&m->acted, &m->lock, &until) == ETIMEDOUT)
            break;
    int rc = r->done ? r->rc : FW_ETIMEDOUT;
    if (r->done && rc != FW_OK && err && errlen)
        snprintf(err, errlen, "%s", r->err);
    if (r->done)
        free(r);
    else
        r->abandoned = true; /* the loop frees it when it gets to it */
    pthread_mutex_unlock(&m->lock);
    return rc;
}
