/* `mokit device record`: a device's conversation with the kit, as a capture file
 * (firmware/doc/captures.md), made with the real device manager and transports. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct record_opts {
    const char *driver;          /* take only this driver's devices; NULL: any */
    const char *paths;           /* "DRIVER:PATH,..." as mokitd --devices; NULL */
    bool usb, evdev;             /* look for USB devices and scanners' input nodes */
    double seconds;              /* stop after this long (> 0) */
    const char *who, *notes;     /* header lines; NULL: left out */
    volatile sig_atomic_t *stop; /* set (by a signal) to stop early; may be NULL */
    FILE *progress;              /* what is happening, for the person; NULL: quiet */
};

/* Records the first device that sends or is sent anything, until o->seconds pass, *o->stop
 * is set or the device leaves. *out: the capture's text (caller frees). MK_OK; MK_ENOTFOUND
 * when no device spoke (err says so); MK_EIO with err when the manager cannot start;
 * MK_ENOMEM. */
int devices_record(const struct record_opts *o, char **out, char *err, size_t errlen);
