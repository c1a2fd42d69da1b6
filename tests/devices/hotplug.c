/* The device manager's USB hotplug, without hardware: libusb's udev monitor fed by umockdev.
 *
 *   umockdev-wrapper build/test_hotplug      (tests/run.sh: suite "hotplug"; TAP output)
 *
 * The program is its own testbed (libumockdev) and runs under the umockdev preload, so libusb
 * (and the libudev under it) see the testbed's /sys and /dev, and the testbed's uevents reach
 * libusb's udev monitor as netlink messages. It starts the device manager (fw_manager_start,
 * .usb = true, .evdev = false) on an empty testbed, so that libusb's enumeration finds nothing
 * and a device can only come through the monitor: LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED, then
 * LEFT. Then, twice (the second time is the same scale plugged back into the same port):
 *   - adds a DYMO M10 scale (0922:8003, the description of tests/devices/run.py: a HID
 *     interface with interrupt IN endpoint 0x81) with an ioctl script of its input reports,
 *     and sends its "add" uevent: the manager must claim it as usb-1-1 with hidpos-scale and
 *     its identity from sysfs, go online, and read its reports (a 71.3 kg reading);
 *   - sends its "remove" uevent: the device must become gone ("unplugged"), and stay listed
 *     as gone; then the device leaves the testbed.
 * Last, fw_manager_stop() must return. Each wait is for an event from the manager's callback
 * (a condition variable with a deadline), never a sleep. A watchdog ends the program with a
 * "not ok" line if anything hangs. Exit status 0 when every check passed. */
#include "fw_device.h"

#include <umockdev.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WAIT_S     5.0 /* for one event (they come within milliseconds) */
#define WATCHDOG_S 60  /* for the whole program */
#define STR(x)     #x
#define XSTR(x)    STR(x)
#define MAX_EVENTS 4096

#define SYSPATH "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1"
#define DEV_ID  "usb-1-1" /* by its port: the same when plugged back */
#define PRODUCT "M10 10 kg Digital Postal Scale"
#define SERIAL  "0071234"

/* Device and configuration descriptors (configuration, HID interface, HID descriptor, interrupt
 * IN endpoint 0x81 of 8 bytes), as in tests/devices/run.py. */
#define DESCRIPTORS                        \
    "120100020000000822090380000101020301" \
    "090222000101008032"                   \
    "090400000103000000"                   \
    "092111010001223400"                   \
    "0705810308000A"

/* The scale at USB address addr of bus 1 (a device plugged back gets the next address). */
static void scale_desc(char *out, size_t n, int addr)
{
    snprintf(out, n,
             "P: /devices/pci0000:00/0000:00:14.0/usb1/1-1\n"
             "N: bus/usb/001/%03d=" DESCRIPTORS "\n"
             "E: BUSNUM=001\n"
             "E: DEVNAME=/dev/bus/usb/001/%03d\n"
             "E: DEVNUM=%03d\n"
             "E: DEVTYPE=usb_device\n"
             "E: DRIVER=usb\n"
             "E: ID_VENDOR_ID=0922\n"
             "E: ID_MODEL_ID=8003\n"
             "E: PRODUCT=922/8003/100\n"
             "E: SUBSYSTEM=usb\n"
             "E: TYPE=0/0/0\n"
             "A: bConfigurationValue=1\\n\n"
             "A: bDeviceClass=00\n"
             "A: bNumConfigurations=1\n"
             "A: bNumInterfaces= 1\n"
             "A: busnum=1\\n\n"
             "A: devnum=%d\\n\n"
             "A: idProduct=8003\n"
             "A: idVendor=0922\n"
             "A: manufacturer=DYMO\n"
             "A: product=" PRODUCT "\n"
             "A: serial=" SERIAL "\n"
             "A: speed=12\\n\n"
             "H: descriptors=" DESCRIPTORS "\n",
             addr, addr, addr, addr);
}

/* The scale's input reports on endpoint 0x81 (umockdev plays them again and again): the stale
 * first one, in motion, 71.3 kg held, stepped off. */
static const char scale_ioctl[] = "USBDEVFS_REAPURBNDELAY 0 1 129 0 0 64 6 0 030203FF0000\n"
                                  "USBDEVFS_REAPURBNDELAY 0 1 129 0 0 64 6 0 030303FF2C01\n"
                                  "USBDEVFS_REAPURBNDELAY 0 1 129 0 0 64 6 0 030403FFC902\n"
                                  "USBDEVFS_REAPURBNDELAY 0 1 129 0 0 64 6 0 030403FFC902\n"
                                  "USBDEVFS_REAPURBNDELAY 0 1 129 0 0 64 6 0 030403FFC902\n"
                                  "USBDEVFS_REAPURBNDELAY 0 1 129 0 0 64 6 0 030203FF0000\n";

/* ---- what the manager told (its callback runs on its thread) ---- */

struct seen {
    enum fw_event_type type;
    enum fw_dev_state state;
    struct fw_identity id;
    char message[160];
    double value; /* READING: the first reading's value */
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct seen ev[MAX_EVENTS];
    size_t n;
    bool overflow;
} seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_event(void *ctx, const struct fw_event *ev)
{
    (void)ctx;
    if (ev->type != FW_EV_DEVICE && ev->type != FW_EV_READING)
        return;
    pthread_mutex_lock(&seen.lock);
    if (seen.n < MAX_EVENTS) {
        struct seen *s = &seen.ev[seen.n++];
        s->type = ev->type;
        s->state = ev->state;
        s->id = *ev->dev;
        snprintf(s->message, sizeof s->message, "%s", ev->message ? ev->message : "");
        s->value = ev->type == FW_EV_READING && ev->decoded && ev->decoded->nreadings
                       ? ev->decoded->readings[0].value
                       : NAN;
    } else {
        seen.overflow = true;
    }
    pthread_cond_broadcast(&seen.cond);
    pthread_mutex_unlock(&seen.lock);
}

/* The first event at index >= from of this type and device (and state, unless state < 0),
 * waited for up to WAIT_S seconds: its index (*out gets a copy), or -1. */
static long wait_event(size_t from, enum fw_event_type type, const char *id, int state,
                       struct seen *out)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)WAIT_S;
    long found = -1;
    pthread_mutex_lock(&seen.lock);
    for (size_t i = from;;) {
        for (; i < seen.n && found < 0; i++) {
            const struct seen *s = &seen.ev[i];
            if (s->type == type && strcmp(s->id.id, id) == 0 &&
                (state < 0 || (int)s->state == state))
                found = (long)i;
        }
        if (found >= 0 || pthread_cond_timedwait(&seen.cond, &seen.lock, &until) == ETIMEDOUT)
            break;
    }
    if (found < 0) { /* one last look: the event may have come with the timeout */
        for (size_t i = from; i < seen.n && found < 0; i++)
            if (seen.ev[i].type == type && strcmp(seen.ev[i].id.id, id) == 0 &&
                (state < 0 || (int)seen.ev[i].state == state))
                found = (long)i;
    }
    if (found >= 0 && out)
        *out = seen.ev[found];
    pthread_mutex_unlock(&seen.lock);
    return found;
}

static size_t seen_count(void)
{
    pthread_mutex_lock(&seen.lock);
    size_t n = seen.n;
    pthread_mutex_unlock(&seen.lock);
    return n;
}

/* ---- TAP ---- */

static int tests, failures;

static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("# ", stdout);
    vprintf(fmt, ap);
    fputs("\n", stdout);
    va_end(ap);
}

static bool check(bool ok, const char *name)
{
    tests++;
    failures += !ok;
    printf("%s %d - %s\n", ok ? "ok" : "not ok", tests, name);
    fflush(stdout);
    return ok;
}

static void dump_events(void)
{
    pthread_mutex_lock(&seen.lock);
    diag("%zu events from the manager%s:", seen.n, seen.overflow ? " (more were dropped)" : "");
    for (size_t i = 0; i < seen.n; i++) {
        const struct seen *s = &seen.ev[i];
        if (s->type == FW_EV_DEVICE)
            diag("  device %s (%s, %s, %04x:%04x, %s): %s: %s", s->id.id, s->id.driver, s->id.path,
                 s->id.vid, s->id.pid, s->id.model, fw_dev_state_name(s->state), s->message);
        else
            diag("  reading %s: %g", s->id.id, s->value);
    }
    pthread_mutex_unlock(&seen.lock);
}

/* What the program is doing, for the watchdog's message. */
static const char *volatile stage = "starting";

static void watchdog(int sig)
{
    (void)sig;
    static const char head[] = "not ok - hung (watchdog, " XSTR(WATCHDOG_S) " s): ";
    const char *what = stage;
    ssize_t w = write(STDOUT_FILENO, head, sizeof head - 1);
    w = write(STDOUT_FILENO, what, strlen(what));
    w = write(STDOUT_FILENO, "\n", 1);
    (void)w;
    _exit(1);
}

/* ---- the scale plugged in and out ---- */

static bool plug(UMockdevTestbed *tb, const char *ioctl_file, int addr)
{
    char desc[2048], node[64];
    GError *err = NULL;
    scale_desc(desc, sizeof desc, addr);
    snprintf(node, sizeof node, "/dev/bus/usb/001/%03d", addr);
    /* The ioctl script first: umockdev sends an "add" uevent as soon as the device is in
     * the testbed, and the manager opens it at once. */
    if (!umockdev_testbed_load_ioctl(tb, node, ioctl_file, &err) ||
        !umockdev_testbed_add_from_string(tb, desc, &err)) {
        diag("testbed: %s", err ? err->message : "?");
        g_clear_error(&err);
        return false;
    }
    umockdev_testbed_uevent(tb, SYSPATH, "add");
    return true;
}

static bool listed_as(struct fw_manager *m, const char *id, enum fw_dev_state state)
{
    struct fw_device_info *v;
    size_t n;
    bool found = false;
    if (fw_manager_devices(m, &v, &n) != FW_OK)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].id.id, id) == 0)
            found = v[i].state == state;
    free(v);
    return found;
}

/* Whether the manager's loop turns: requests answered on its thread, one after the other
 * (between two of them it has polled and handled libusb's events once more). Asked of the
 * gone scale, each is FW_ENODEV (no such device online); a stuck loop never answers
 * (FW_ETIMEDOUT after 2 s). Returns the last answer. */
static int loop_turns(struct fw_manager *m)
{
    char err[160];
    int rc = FW_ENODEV;
    for (int i = 0; i < 3 && rc == FW_ENODEV; i++)
        rc = fw_manager_action(m, DEV_ID, "download", err, sizeof err);
    return rc;
}

/* One arrival and departure at USB address addr; the second one is the scale plugged back
 * into the same port (the same id), at the next address. */
static bool round_trip(UMockdevTestbed *tb, struct fw_manager *m, const char *ioctl_file, int addr,
                       bool again)
{
    char name[200], path[32];
    const char *back = again ? " (plugged back)" : "";
    size_t from = seen_count();
    struct seen on;

    snprintf(name, sizeof name, "add uevent%s: claimed as " DEV_ID " by hidpos-scale, online",
             back);
    stage = again ? "the scale plugged back" : "the scale plugged in";
    long at = plug(tb, ioctl_file, addr)
                  ? wait_event(from, FW_EV_DEVICE, DEV_ID, FW_DEV_ONLINE, &on)
                  : -1;
    if (!check(at >= 0 && strcmp(on.id.driver, "hidpos-scale") == 0, name)) {
        dump_events();
        umockdev_testbed_remove_device(tb, SYSPATH);
        return loop_turns(m) == FW_ENODEV;
    }

    snprintf(path, sizeof path, "usb:001:%03d", addr);
    snprintf(name, sizeof name,
             "its identity%s: 0922:8003, %s, usb-hid, product and serial from sysfs", back, path);
    bool ok = on.id.vid == 0x0922 && on.id.pid == 0x8003 && strcmp(on.id.path, path) == 0 &&
              strcmp(on.id.transport, "usb-hid") == 0 && strcmp(on.id.model, PRODUCT) == 0 &&
              strcmp(on.id.serial, SERIAL) == 0;
    if (!check(ok, name))
        diag("got %04x:%04x path %s transport %s model '%s' serial '%s'", on.id.vid, on.id.pid,
             on.id.path, on.id.transport, on.id.model, on.id.serial);

    /* The testbed holds nothing else: no other device may come. */
    bool others = false;
    pthread_mutex_lock(&seen.lock);
    for (size_t i = from; i < seen.n; i++)
        others |= strcmp(seen.ev[i].id.id, DEV_ID) != 0;
    pthread_mutex_unlock(&seen.lock);
    snprintf(name, sizeof name, "no other device%s", back);
    if (!check(!others, name))
        dump_events();

    snprintf(name, sizeof name, "its interrupt reports are read%s: a 71.3 kg reading", back);
    struct seen r;
    long got = wait_event((size_t)at, FW_EV_READING, DEV_ID, -1, &r);
    if (!check(got >= 0 && fabs(r.value - 71.3) < 1e-9, name))
        dump_events();

    stage = again ? "the scale unplugged again" : "the scale unplugged";
    from = seen_count();
    umockdev_testbed_uevent(tb, SYSPATH, "remove");
    struct seen gone;
    snprintf(name, sizeof name, "remove uevent%s: gone (unplugged)", back);
    at = wait_event(from, FW_EV_DEVICE, DEV_ID, FW_DEV_GONE, &gone);
    if (!check(at >= 0 && strcmp(gone.message, "unplugged") == 0, name))
        dump_events();
    snprintf(name, sizeof name, "fw_manager_devices lists it as gone%s", back);
    check(listed_as(m, DEV_ID, FW_DEV_GONE), name);

    /* The loop must still turn after the unplug. The scale's handle is closed once its
     * transfer in flight has come back (umockdev cannot cancel it: its ioctl scripts have no
     * DISCARDURB, so the transfer comes back with the script's next report), and that must
     * happen outside libusb's event handling: libusb_close() in a transfer callback deadlocks
     * (libusb 1.0.26 reaps and calls back with its open_devs_lock held). */
    int rc = loop_turns(m);
    snprintf(name, sizeof name, "the manager's loop still turns after the unplug%s", back);
    if (!check(rc == FW_ENODEV, name)) {
        diag("fw_manager_action: %s",
             rc == FW_ETIMEDOUT ? "no answer in 2 s (FW_ETIMEDOUT)" : fw_strerror(rc));
        return false;
    }
    umockdev_testbed_remove_device(tb, SYSPATH);
    return true;
}

int main(int argc, char **argv)
{
    (void)argc;
    signal(SIGALRM, watchdog);
    alarm(WATCHDOG_S);
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&seen.cond, &ca);
    pthread_condattr_destroy(&ca);

    UMockdevTestbed *tb = umockdev_testbed_new();
    if (!umockdev_in_mock_environment()) {
        /* Without the preload, libusb would see this machine's USB devices. */
        printf("not ok 1 - runs under the umockdev preload (run it as: umockdev-wrapper %s)\n"
               "1..1\n",
               argv[0]);
        g_object_unref(tb);
        return 1;
    }
    char *ioctl_file = NULL;
    GError *err = NULL;
    int fd = g_file_open_tmp("mokit-scale-XXXXXX.ioctl", &ioctl_file, &err);
    if (fd < 0 ||
        write(fd, scale_ioctl, sizeof scale_ioctl - 1) != (ssize_t)sizeof scale_ioctl - 1) {
        printf("not ok 1 - the scale's ioctl script: %s\n1..1\n", err ? err->message : "write");
        return 1;
    }
    close(fd);

    struct fw_manager_config cfg = {.on_event = on_event, .usb = true, .evdev = false};
    struct fw_manager *m = NULL;
    char msg[200] = "";
    int rc = fw_manager_start(&cfg, &m, msg, sizeof msg);
    if (!check(rc == FW_OK && !msg[0],
               "the manager starts with libusb on an empty testbed, nothing found")) {
        diag("fw_manager_start: %d %s", rc, msg);
        printf("1..%d\n", tests);
        return 1;
    }
    size_t n = 0;
    struct fw_device_info *v = NULL;
    if (fw_manager_devices(m, &v, &n) != FW_OK || n != 0)
        diag("devices listed at start: %zu", n);
    free(v);

    if (!round_trip(tb, m, ioctl_file, 2, false) || !round_trip(tb, m, ioctl_file, 3, true)) {
        /* fw_manager_stop() would wait for the stuck thread for ever. */
        check(false, "fw_manager_stop: not called, the manager's thread is stuck");
        printf("1..%d\n", tests);
        fflush(stdout);
        _exit(1);
    }

    stage = "fw_manager_stop()";
    fw_manager_stop(m);
    check(true, "fw_manager_stop returns (the manager's thread ended, devices closed)");

    unlink(ioctl_file);
    g_free(ioctl_file);
    g_object_unref(tb);
    printf("1..%d\n", tests);
    return failures ? 1 : 0;
}
