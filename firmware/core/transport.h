/* Internals shared by the transports of firmware/core/. */
#pragma once

#include "fw_printer.h"

#include <stdarg.h>
#include <termios.h>

struct fw_printer;

struct tr_ops {
    const char *name;
    /* Writes all n bytes, paced for the printer. Required unless send is set. */
    int (*write)(struct fw_printer *pr, const uint8_t *data, size_t n, char *err, size_t errlen);
    /* Reads what the printer answered within timeout_ms into buf[cap] (*got bytes; 0 is no
     * answer). NULL for a transport without a return channel. */
    int (*read)(struct fw_printer *pr, uint8_t *buf, size_t cap, int timeout_ms, size_t *got);
    /* Its own status (usblp port status, the simulator's switches); NULL: the query/answer of
     * fw_status_query() through write and read. */
    int (*status)(struct fw_printer *pr, enum fw_printer_state *state, char *err, size_t errlen);
    /* Its own whole-job send (the simulator); NULL: write. */
    int (*send)(struct fw_printer *pr, const char *label, const uint8_t *data, size_t n, char *err,
                size_t errlen);
    void (*close)(struct fw_printer *pr);
};

struct fw_printer {
    const struct tr_ops *ops;
    const struct fw_profile *profile;
    struct fw_uri uri;
    char path[1024]; /* uri.path made absolute against the base directory */
    int fd;          /* lp, file, serial: -1 otherwise */
    void *priv;      /* the transport's own state */
};

/* Formats into err[errlen] and returns code. */
int tr_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The termios speed of a standard baud rate (1200-921600), 0 for another. */
speed_t tr_speed(int baud);
/* Monotonic microseconds. */
long long tr_now_us(void);
void tr_sleep_us(long long us);

/* Reads a printer's answer from pr->fd (lp, serial): see tr_ops.read. */
int tr_fd_read(struct fw_printer *pr, uint8_t *buf, size_t cap, int timeout_ms, size_t *got);

/* Each transport's open; pr is filled (profile, uri, path, fd = -1) before. */
int tr_usb_open(struct fw_printer *pr, char *err, size_t errlen);
int tr_serial_open(struct fw_printer *pr, char *err, size_t errlen);
