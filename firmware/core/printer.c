/* Printer transports: the URI dispatch, the status query, and the transports that need no
 * library: usblp device nodes, plain files and the simulated printer. */
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/lp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WRITE_TIMEOUT_MS  15000 /* a printer that takes nothing for this long is stuck */
#define STATUS_TIMEOUT_MS 500

int tr_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

long long tr_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void tr_sleep_us(long long us)
{
    if (us <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000), .tv_nsec = (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* errno of a failed open or write, as a firmware error. */
static int errno_code(int e)
{
    switch (e) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
        return FW_ENODEV;
    case EBUSY:
        return FW_EBUSY;
    case ENOMEM:
        return FW_ENOMEM;
    default:
        return FW_EIO;
    }
}

/* ---- file descriptors (lp, file; serial uses its own pacing) ---- */

static int fd_write(struct fw_printer *pr, const uint8_t *data, size_t n, char *err, size_t errlen)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(pr->fd, data + done, n - done);
        if (w > 0) {
            done += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pfd = {.fd = pr->fd, .events = POLLOUT};
            int r = poll(&pfd, 1, WRITE_TIMEOUT_MS);
            if (r == 0)
                return tr_fail(err, errlen, FW_ETIMEDOUT,
                               "%s: the printer took nothing for %d s (%zu of %zu bytes sent)",
                               pr->path, WRITE_TIMEOUT_MS / 1000, done, n);
            if (r < 0 && errno != EINTR)
                return tr_fail(err, errlen, FW_EIO, "%s: poll: %s", pr->path, strerror(errno));
            continue;
        }
        int e = w < 0 ? errno : EIO;
        return tr_fail(err, errlen, errno_code(e), "%s: write failed after %zu of %zu bytes: %s",
                       pr->path, done, n, strerror(e));
    }
    return FW_OK;
}

int tr_fd_read(struct fw_printer *pr, uint8_t *buf, size_t cap, int timeout_ms, size_t *got)
{
    *got = 0;
    long long end = tr_now_us() + (long long)timeout_ms * 1000;
    for (;;) {
        long long left = end - tr_now_us();
        struct pollfd pfd = {.fd = pr->fd, .events = POLLIN};
        int r = poll(&pfd, 1, left > 0 ? (int)(left / 1000) : 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || !(pfd.revents & POLLIN))
            return FW_OK;
        ssize_t n = read(pr->fd, buf + *got, cap - *got);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return errno_code(errno);
        if (n == 0)
            return FW_OK;
        *got += (size_t)n;
        /* One DLE EOT byte answers ESC/POS; ~HS ends with its third ETX. */
        if (pr->profile->language == FW_LANG_ESCPOS || *got == cap)
            return FW_OK;
        int etx = 0;
        for (size_t i = 0; i < *got; i++)
            etx += buf[i] == 0x03;
        if (etx >= 3)
            return FW_OK;
    }
}

static void fd_close(struct fw_printer *pr)
{
    if (pr->fd >= 0)
        close(pr->fd);
    pr->fd = -1;
}

/* ---- lp: /dev/usb/lpN ---- */

static int lp_status(struct fw_printer *pr, enum fw_printer_state *state, char *err, size_t errlen)
{
    int st = 0;
    if (ioctl(pr->fd, LPGETSTATUS, &st) != 0) {
        if (errno == ENODEV)
            return tr_fail(err, errlen, FW_ENODEV, "%s: %s", pr->path, strerror(errno));
        /* Not a printer port (a plain file in tests), or a printer that stalls the class's
         * GET_PORT_STATUS request (usblp says EIO): it may still print. */
        *state = FW_PRINTER_UNKNOWN;
        return FW_OK;
    }
    /* The port status byte of the USB printer class (and of the parallel port). */
    if (st & LP_POUTPA)
        *state = FW_PRINTER_PAPER_OUT;
    else if (!(st & LP_PERRORP) || !(st & LP_PSELECD))
        *state = FW_PRINTER_OFFLINE;
    else
        *state = FW_PRINTER_READY;
    return FW_OK;
}

static const struct tr_ops lp_ops = {
    .name = "lp", .write = fd_write, .read = NULL, .status = lp_status, .close = fd_close};

static int lp_open(struct fw_printer *pr, char *err, size_t errlen)
{
    pr->fd = open(pr->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (pr->fd < 0)
        return tr_fail(err, errlen, errno_code(errno), "%s: %s", pr->path, strerror(errno));
    pr->ops = &lp_ops;
    return FW_OK;
}

/* ---- file ---- */

static int file_status(struct fw_printer *pr, enum fw_printer_state *state, char *err,
                       size_t errlen)
{
    (void)pr;
    (void)err;
    (void)errlen;
    *state = FW_PRINTER_UNKNOWN;
    return FW_OK;
}

static int file_write(struct fw_printer *pr, const uint8_t *data, size_t n, char *err,
                      size_t errlen)
{
    int rc = fd_write(pr, data, n, err, errlen);
    /* A file "printer" took the job when it is on disk. /dev/null and friends cannot sync. */
    if (rc == FW_OK && fdatasync(pr->fd) != 0 && errno != EINVAL && errno != EROFS)
        return tr_fail(err, errlen, FW_EIO, "%s: %s", pr->path, strerror(errno));
    return rc;
}

static const struct tr_ops file_ops = {
    .name = "file", .write = file_write, .status = file_status, .close = fd_close};

static int file_open(struct fw_printer *pr, char *err, size_t errlen)
{
    pr->fd = open(pr->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (pr->fd < 0)
        return tr_fail(err, errlen, errno_code(errno), "%s: %s", pr->path, strerror(errno));
    pr->ops = &file_ops;
    return FW_OK;
}

/* ---- sim: the simulated printer ---- */

struct sim {
    struct fw_font *font;
};

static bool sim_switch(struct fw_printer *pr, const char *name)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", pr->path, name);
    return access(p, F_OK) == 0;
}

static int sim_status(struct fw_printer *pr, enum fw_printer_state *state, char *err, size_t errlen)
{
    if (sim_switch(pr, "OFFLINE"))
        return tr_fail(err, errlen, FW_ENODEV, "simulated printer %s is unplugged (OFFLINE)",
                       pr->path);
    *state = sim_switch(pr, "PAPER-OUT") ? FW_PRINTER_PAPER_OUT : FW_PRINTER_READY;
    return FW_OK;
}

static bool label_ok(const char *label)
{
    if (!label || !*label || strlen(label) > 100 || label[0] == '.')
        return false;
    for (const char *c = label; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_' || *c == '.'))
            return false;
    return true;
}

static int sim_send(struct fw_printer *pr, const char *label, const uint8_t *data, size_t n,
                    char *err, size_t errlen)
{
    struct sim *s = pr->priv;
    enum fw_printer_state state;
    int rc = sim_status(pr, &state, err, errlen);
    if (rc != FW_OK)
        return rc;
    if (state == FW_PRINTER_PAPER_OUT)
        return tr_fail(err, errlen, FW_EPAPER, "simulated printer %s is out of paper", pr->path);
    if (!label_ok(label))
        return tr_fail(err, errlen, FW_EINVAL, "bad job label");
    char wire[1200];
    snprintf(wire, sizeof wire, "%s/.on-wire", pr->path);
    if (pr->uri.bps > 0) {          /* the wire: a daemon killed now has printed nothing */
        FILE *f = fopen(wire, "w"); /* says so, for tests that kill mid-job */
        if (f) {
            fprintf(f, "%s\n", label);
            fclose(f);
        }
        tr_sleep_us((long long)n * 1000000 / pr->uri.bps);
    }

    struct fw_bitmap paper;
    char why[200];
    rc = pr->profile->language == FW_LANG_ZPL
             ? fw_sim_zpl(data, n, pr->profile, s->font, &paper, why, sizeof why)
             : fw_sim_escpos(data, n, pr->profile, s->font, &paper, why, sizeof why);
    if (rc != FW_OK)
        unlink(wire);
    if (rc != FW_OK)
        return tr_fail(err, errlen, rc, "the simulated printer rejected the job: %s",
                       rc == FW_EINVAL ? why : fw_strerror(rc));
    char tmp[1200], path[1300];
    snprintf(tmp, sizeof tmp, "%s/.%s.png", pr->path, label);
    rc = fw_png_write(tmp, &paper, pr->profile->dpi);
    fw_bitmap_free(&paper);
    unlink(wire);
    if (rc != FW_OK)
        return tr_fail(err, errlen, FW_EIO, "%s: %s", tmp, strerror(errno));
    /* Every print is a new piece of paper: a job printed twice leaves LABEL-2.png beside
     * LABEL.png, for the tests (and people) to see. link() never replaces a file. */
    for (int i = 1; i < 1000; i++) {
        if (i == 1)
            snprintf(path, sizeof path, "%s/%s.png", pr->path, label);
        else
            snprintf(path, sizeof path, "%s/%s-%d.png", pr->path, label, i);
        if (link(tmp, path) == 0) {
            unlink(tmp);
            return FW_OK;
        }
        if (errno != EEXIST)
            break;
    }
    int e = errno;
    unlink(tmp);
    return tr_fail(err, errlen, FW_EIO, "%s: %s", path, strerror(e));
}

static void sim_close(struct fw_printer *pr)
{
    struct sim *s = pr->priv;
    if (s)
        fw_font_close(s->font);
    free(s);
    pr->priv = NULL;
}

static const struct tr_ops sim_ops = {
    .name = "sim", .status = sim_status, .send = sim_send, .close = sim_close};

/* mkdir -p. */
static int make_dirs(const char *path)
{
    char p[1024];
    snprintf(p, sizeof p, "%s", path);
    for (char *c = p + 1; *c; c++) {
        if (*c != '/')
            continue;
        *c = '\0';
        if (mkdir(p, 0750) != 0 && errno != EEXIST)
            return -1;
        *c = '/';
    }
    return mkdir(p, 0750) != 0 && errno != EEXIST ? -1 : 0;
}

static int sim_open(struct fw_printer *pr, char *err, size_t errlen)
{
    if (make_dirs(pr->path) != 0)
        return tr_fail(err, errlen, FW_EIO, "%s: %s", pr->path, strerror(errno));
    struct sim *s = calloc(1, sizeof *s);
    if (!s)
        return FW_ENOMEM;
    pr->priv = s;
    pr->ops = &sim_ops;
    /* The ESC/POS simulator draws font A with DejaVu Sans Mono; ZPL's font 0 with DejaVu Sans. */
    int rc = fw_font_open(pr->profile->language == FW_LANG_ZPL ? FW_FONT_DEFAULT : FW_FONT_MONO,
                          &s->font);
    if (rc != FW_OK)
        return tr_fail(err, errlen, rc, "the simulated printer needs the DejaVu fonts");
    if (sim_switch(pr, "OFFLINE"))
        return tr_fail(err, errlen, FW_ENODEV, "simulated printer %s is unplugged (OFFLINE)",
                       pr->path);
    char wire[1200]; /* left by a daemon killed mid-job */
    snprintf(wire, sizeof wire, "%s/.on-wire", pr->path);
    unlink(wire);
    return FW_OK;
}

/* ---- the public calls ---- */

int fw_printer_open(const char *uri, const char *base_dir, const struct fw_profile *p,
                    struct fw_printer **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!p)
        return tr_fail(err, errlen, FW_EINVAL, "no printer profile");
    struct fw_printer *pr = calloc(1, sizeof *pr);
    if (!pr)
        return FW_ENOMEM;
    pr->fd = -1;
    pr->profile = p;
    int rc = fw_uri_parse(uri, &pr->uri, err, errlen);
    if (rc == FW_OK) {
        const char *path = pr->uri.path;
        int len = path[0] == '/' || !base_dir || !path[0]
                      ? snprintf(pr->path, sizeof pr->path, "%s", path)
                      : snprintf(pr->path, sizeof pr->path, "%s/%s", base_dir, path);
        if (len < 0 || (size_t)len >= sizeof pr->path)
            rc = tr_fail(err, errlen, FW_EINVAL, "printer path too long");
    }
    if (rc == FW_OK) {
        switch (pr->uri.kind) {
        case FW_URI_USB:
            rc = tr_usb_open(pr, err, errlen);
            break;
        case FW_URI_LP:
            rc = lp_open(pr, err, errlen);
            break;
        case FW_URI_SERIAL:
            rc = tr_serial_open(pr, err, errlen);
            break;
        case FW_URI_FILE:
            rc = file_open(pr, err, errlen);
            break;
        case FW_URI_SIM:
            rc = sim_open(pr, err, errlen);
            break;
        }
    }
    if (rc != FW_OK) {
        fw_printer_close(pr);
        return rc;
    }
    *out = pr;
    return FW_OK;
}

void fw_printer_close(struct fw_printer *pr)
{
    if (!pr)
        return;
    if (pr->ops && pr->ops->close)
        pr->ops->close(pr);
    else if (pr->fd >= 0)
        close(pr->fd);
    free(pr);
}

int fw_printer_status(struct fw_printer *pr, enum fw_printer_state *state, char *err, size_t errlen)
{
    if (pr->ops->status)
        return pr->ops->status(pr, state, err, errlen);
    *state = FW_PRINTER_UNKNOWN;
    if (!pr->ops->read)
        return FW_OK;
    uint8_t buf[256];
    size_t got;
    int rc = pr->ops->read(pr, buf, sizeof buf, 0, &got); /* drop a stale answer */
    struct fw_buf q;
    fw_buf_init(&q);
    fw_status_query(pr->profile, &q);
    if (rc == FW_OK)
        rc = fw_buf_error(&q) ? FW_ENOMEM : pr->ops->write(pr, q.data, q.len, err, errlen);
    fw_buf_free(&q);
    if (rc == FW_OK)
        rc = pr->ops->read(pr, buf, sizeof buf, STATUS_TIMEOUT_MS, &got);
    if (rc != FW_OK)
        return rc == FW_ENODEV ? tr_fail(err, errlen, rc, "the printer went away") : rc;
    if (got == 0)
        return FW_OK; /* no return channel: unknown */
    enum fw_printer_state s;
    int ok = pr->profile->language == FW_LANG_ZPL ? fw_zpl_host_status(buf, got, &s)
                                                  : fw_escpos_paper_status(buf[got - 1], &s);
    if (ok == FW_OK)
        *state = s;
    return FW_OK;
}

int fw_printer_send(struct fw_printer *pr, const char *label, const uint8_t *data, size_t n,
                    bool resync, char *err, size_t errlen)
{
    if (!data || n == 0)
        return tr_fail(err, errlen, FW_EINVAL, "an empty job");
    if (pr->ops->send) /* the simulator takes whole jobs: nothing is left half sent */
        return pr->ops->send(pr, label, data, n, err, errlen);
    if (resync) {
        struct fw_buf r;
        fw_buf_init(&r);
        fw_resync_bytes(pr->profile, &r);
        int rc = fw_buf_error(&r) ? FW_ENOMEM : pr->ops->write(pr, r.data, r.len, err, errlen);
        fw_buf_free(&r);
        if (rc != FW_OK)
            return rc;
    }
    return pr->ops->write(pr, data, n, err, errlen);
}
