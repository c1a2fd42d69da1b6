/* The serial transport: a TTL thermal printer on a UART (the Pi's GPIO UART, a USB-serial
 * adapter), 8N1, no hardware flow control. Its buffer is small (a few hundred bytes), so the
 * output is paced: by the printer's busy (DTR) line read through the GPIO seam
 * (firmware/gpio/line.h: libgpiod 1.6 on bookworm) when the URI names one, otherwise by the printer
 * timing model (fw_pace_cost). */
#include "transport.h"

#include "../gpio/line.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define BUSY_CHUNK      32       /* bytes between two looks at the busy line */
#define BUSY_POLL_US    2000     /* how often a busy line is read while it is high */
#define BUSY_TIMEOUT_US 10000000 /* busy this long: jammed or out of paper */
#define MODEL_BUFFER    256      /* bytes a printer without a busy line is assumed to buffer */

struct serial {
    struct gpio_line *busy;
    long long ready_at; /* timing model: when the printer will have caught up, µs */
    bool text;          /* timing model: characters wait in the printer's line buffer */
    int baud;
};

speed_t tr_speed(int baud)
{
    static const struct {
        int baud;
        speed_t speed;
    } t[] = {{1200, B1200},     {2400, B2400},     {4800, B4800},    {9600, B9600},
             {19200, B19200},   {38400, B38400},   {57600, B57600},  {115200, B115200},
             {230400, B230400}, {460800, B460800}, {921600, B921600}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].baud == baud)
            return t[i].speed;
    return 0;
}

/* Writes everything, waiting for the UART to take it (the descriptor is non-blocking so a
 * stuck port cannot hang the spool), then until it has been sent. */
static int put(struct fw_printer *pr, const uint8_t *d, size_t n, size_t done_before, size_t total,
               bool drain, char *err, size_t errlen)
{
    size_t done = 0;
    long long start = tr_now_us();
    while (done < n) {
        ssize_t w = write(pr->fd, d + done, n - done);
        if (w > 0) {
            done += (size_t)w;
            start = tr_now_us();
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            if (tr_now_us() - start > BUSY_TIMEOUT_US)
                return tr_fail(err, errlen, FW_ETIMEDOUT,
                               "%s: the port took nothing for 10 s (%zu of %zu bytes sent)",
                               pr->path, done_before + done, total);
            tr_sleep_us(1000);
            continue;
        }
        int e = w < 0 ? errno : EIO;
        return tr_fail(err, errlen, e == ENODEV || e == ENXIO ? FW_ENODEV : FW_EIO,
                       "%s: write failed after %zu of %zu bytes: %s", pr->path, done_before + done,
                       total, strerror(e));
    }
    /* Sent, not queued in the kernel: pacing is about what reached the printer. */
    while (drain && tcdrain(pr->fd) != 0) {
        if (errno != EINTR)
            return tr_fail(err, errlen, FW_EIO, "%s: %s", pr->path, strerror(errno));
    }
    return FW_OK;
}

static int busy_write(struct fw_printer *pr, const uint8_t *data, size_t n, char *err,
                      size_t errlen)
{
    struct serial *s = pr->priv;
    for (size_t off = 0; off < n;) {
        long long waited = 0;
        for (;;) {
            int v = gpio_line_get(s->busy);
            if (v < 0)
                return tr_fail(err, errlen, FW_EIO, "busy line %s:%d: %s", pr->uri.gpio_chip,
                               pr->uri.gpio_line, strerror(errno));
            if (v == 0)
                break;
            if (waited >= BUSY_TIMEOUT_US)
                return tr_fail(err, errlen, FW_ETIMEDOUT,
                               "%s: busy for 10 s (paper out or jammed?) after %zu of %zu bytes",
                               pr->path, off, n);
            tr_sleep_us(BUSY_POLL_US);
            waited += BUSY_POLL_US;
        }
        size_t len = n - off < BUSY_CHUNK ? n - off : BUSY_CHUNK;
        int rc = put(pr, data + off, len, off, n, true, err, errlen);
        if (rc != FW_OK)
            return rc;
        off += len;
    }
    return FW_OK;
}

static int model_write(struct fw_printer *pr, const uint8_t *data, size_t n, char *err,
                       size_t errlen)
{
    struct serial *s = pr->priv;
    int baud = s->baud;
    /* The printer's input buffer lets us run this far ahead of the model. */
    long long credit = MODEL_BUFFER * ((11LL * 1000000 + baud / 2) / baud);
    for (size_t off = 0; off < n;) {
        size_t len = fw_pace_split(data + off, n - off, 1); /* one command */
        tr_sleep_us(s->ready_at - tr_now_us() - credit);
        int rc = put(pr, data + off, len, off, n, false, err, errlen);
        if (rc != FW_OK)
            return rc;
        long long now = tr_now_us();
        s->ready_at =
            (s->ready_at > now ? s->ready_at : now) + fw_pace_cost(data + off, len, baud, &s->text);
        off += len;
    }
    /* The job is taken when its last byte has left the UART. */
    while (tcdrain(pr->fd) != 0)
        if (errno != EINTR)
            return tr_fail(err, errlen, FW_EIO, "%s: %s", pr->path, strerror(errno));
    return FW_OK;
}

static int serial_write(struct fw_printer *pr, const uint8_t *data, size_t n, char *err,
                        size_t errlen)
{
    struct serial *s = pr->priv;
    return s->busy ? busy_write(pr, data, n, err, errlen) : model_write(pr, data, n, err, errlen);
}

static void serial_close(struct fw_printer *pr)
{
    struct serial *s = pr->priv;
    if (s) {
        gpio_line_close(s->busy);
        free(s);
    }
    pr->priv = NULL;
    if (pr->fd >= 0)
        close(pr->fd);
    pr->fd = -1;
}

static const struct tr_ops serial_ops = {
    .name = "serial", .write = serial_write, .read = tr_fd_read, .close = serial_close};

int tr_serial_open(struct fw_printer *pr, char *err, size_t errlen)
{
    int baud = pr->uri.baud ? pr->uri.baud : pr->profile->baud ? pr->profile->baud : 19200;
    speed_t speed = tr_speed(baud);
    if (!speed)
        return tr_fail(err, errlen, FW_EINVAL, "%d baud is not a standard serial speed", baud);
    struct serial *s = calloc(1, sizeof *s);
    if (!s)
        return FW_ENOMEM;
    s->baud = baud;
    pr->priv = s;
    pr->ops = &serial_ops;
    pr->fd = open(pr->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (pr->fd < 0) {
        int e = errno;
        return tr_fail(err, errlen,
                       e == ENOENT || e == ENODEV || e == ENXIO ? FW_ENODEV
                       : e == EBUSY                             ? FW_EBUSY
                                                                : FW_EIO,
                       "%s: %s", pr->path, strerror(e));
    }
    struct termios t;
    if (tcgetattr(pr->fd, &t) != 0)
        return tr_fail(err, errlen, FW_EIO, "%s: not a serial port: %s", pr->path, strerror(errno));
    cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cflag &= ~(tcflag_t)(CSTOPB | PARENB | CRTSCTS);
    t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    if (cfsetispeed(&t, speed) != 0 || cfsetospeed(&t, speed) != 0 ||
        tcsetattr(pr->fd, TCSANOW, &t) != 0)
        return tr_fail(err, errlen, FW_EIO, "%s: cannot set %d 8N1: %s", pr->path, baud,
                       strerror(errno));
    tcflush(pr->fd, TCIOFLUSH);

    if (pr->uri.gpio_chip[0]) {
        char spec[80], why[200];
        snprintf(spec, sizeof spec, "%s:%d", pr->uri.gpio_chip, pr->uri.gpio_line);
        int rc =
            gpio_line_open(spec, GPIO_INPUT, 0, "mokit-printer-busy", &s->busy, why, sizeof why);
        if (rc != FW_OK)
            return tr_fail(err, errlen, rc == FW_EINVAL ? FW_ENODEV : rc, "busy line: %s", why);
    }
    /* A printer just powered up ignores input for about half a second (Adafruit's notes). */
    s->ready_at = tr_now_us() + (s->busy ? 0 : 500000);
    return FW_OK;
}
