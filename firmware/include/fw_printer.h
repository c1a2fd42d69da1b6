/* mokit firmware: printer transports (public contract).
 *
 * A transport carries the bytes of one job (made by the encoders of fw_print.h) to a printer
 * and asks the printer how it is. The app names a printer by a URI and never sees libusb,
 * termios or libgpiod:
 *
 *   usb:                     the first USB printer-class device (class 7) libusb finds
 *   usb:VID:PID[:SERIAL]     that USB printer (hexadecimal ids); usblp is detached
 *   lp:/dev/usb/lp0          the kernel's usblp device node
 *   serial:/dev/ttyAMA0[?baud=19200][&busy=gpiochip0:17]
 *                            a TTL printer on a UART, 8N1; with busy=CHIP:LINE the printer's
 *                            busy (DTR) line, read through libgpiod, paces the output,
 *                            otherwise the printer timing model (fw_pace_*) does
 *   file:PATH                appends every job to PATH (debugging; a printer's device file)
 *   sim:DIR[?bps=N]          the simulated printer: every job becomes DIR/LABEL.png, drawn by
 *                            fw_sim_escpos/fw_sim_zpl; bps emulates a wire of N bytes a second
 *                            (while a job is on that wire, DIR/.on-wire holds its label).
 *                            A file DIR/PAPER-OUT makes it report no paper, DIR/OFFLINE makes
 *                            it unreachable: the failures of a real printer, for demos and tests.
 *
 * A relative path (file:, sim:) is taken from the base directory given at open (the kit's
 * data directory). One thread uses a printer handle at a time. */
#pragma once

#include "fw_print.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fw_printer_state {
    FW_PRINTER_READY = 0, /* reported paper and no error */
    FW_PRINTER_UNKNOWN,   /* has no way to answer (no return channel): assumed ready */
    FW_PRINTER_PAPER_OUT, /* the paper end sensor is on */
    FW_PRINTER_OFFLINE,   /* cover open, paused or in error */
};
const char *fw_printer_state_name(enum fw_printer_state s);

struct fw_printer;

/* Opens the printer of uri for profile p (the language decides the status query and the
 * resynchronisation bytes). FW_EINVAL for a URI this does not understand (err says why),
 * FW_ENODEV when the printer is not there (unplugged, no such node), FW_EBUSY when another
 * program holds it, FW_EIO, FW_ENOMEM. */
int fw_printer_open(const char *uri, const char *base_dir, const struct fw_profile *p,
                    struct fw_printer **out, char *err, size_t errlen);
void fw_printer_close(struct fw_printer *pr);

/* Asks the printer for its paper and error state (ESC/POS DLE EOT 4, ZPL ~HS, the usblp port
 * status) and waits up to about half a second for the answer. No answer is
 * FW_PRINTER_UNKNOWN, not an error: many printers have no return channel. FW_ENODEV or
 * FW_EIO when the printer went away. */
int fw_printer_status(struct fw_printer *pr, enum fw_printer_state *state, char *err,
                      size_t errlen);

/* Sends one job: returns when every byte has been taken by the printer (or its driver), paced
 * so that a small printer buffer never overflows. label names the job for a simulated printer
 * (letters, digits, '-', '_' and '.'). With resync the job is preceded by bytes that finish any
 * command a previous, interrupted job left half sent (fw_resync_bytes). FW_ENODEV (unplugged),
 * FW_EIO (write error: err says which, and how many bytes had gone), FW_ETIMEDOUT (the printer
 * stopped taking bytes), FW_EPAPER (a simulated printer without paper), FW_EINVAL. */
int fw_printer_send(struct fw_printer *pr, const char *label, const uint8_t *data, size_t n,
                    bool resync, char *err, size_t errlen);

/* ---- pure helpers (firmware/proto/transport.c), exposed for tests ---- */

enum fw_uri_kind { FW_URI_USB, FW_URI_LP, FW_URI_SERIAL, FW_URI_FILE, FW_URI_SIM };

struct fw_uri {
    enum fw_uri_kind kind;
    char path[512];     /* node, file or directory; empty for usb */
    uint16_t vid, pid;  /* usb: 0 = any printer-class device */
    char serial[64];    /* usb: empty = any */
    int baud;           /* serial: 0 = the profile's */
    char gpio_chip[64]; /* serial busy line: chip name, empty for none */
    int gpio_line;      /* and line offset */
    long bps;           /* sim: emulated wire speed, 0 = instant */
};

/* Parses a printer URI. FW_EINVAL with the reason in err. */
int fw_uri_parse(const char *uri, struct fw_uri *out, char *err, size_t errlen);

/* The state in an ESC/POS DLE EOT 4 (paper roll sensor) answer: bits 5-6 paper end. A byte
 * that is not such an answer (fixed bits 1 and 4 set, 0 and 7 clear) is FW_EINVAL. */
int fw_escpos_paper_status(uint8_t byte, enum fw_printer_state *state);
/* The state in a ZPL ~HS answer (three STX ... ETX strings; the first holds the paper-out and
 * pause flags). FW_EINVAL for anything else. */
int fw_zpl_host_status(const uint8_t *data, size_t n, enum fw_printer_state *state);
/* The query that asks for the state above, into b. */
void fw_status_query(const struct fw_profile *p, struct fw_buf *b);

/* Bytes that bring a printer back to a known state after a job was cut off mid-command (the
 * daemon was killed while sending): for ESC/POS, as many NUL bytes as the largest command we
 * emit can still be waiting for (an image band; NUL is no command, so outside one they do
 * nothing) and ESC @; for ZPL, ~JA (cancel all) and an empty label. */
void fw_resync_bytes(const struct fw_profile *p, struct fw_buf *b);

/* The printer timing model for a serial printer without a busy line (after the Adafruit
 * thermal printer library): a byte costs 11 bits at the baud rate, each printed dot row
 * FW_PACE_DOT_PRINT_US and each fed dot row FW_PACE_DOT_FEED_US. fw_pace_cost() gives the
 * microseconds the printer needs for the ESC/POS bytes data[0..n), which should be whole
 * commands (a job is cut at command boundaries by fw_pace_split()). *text says whether
 * characters wait in the printer's line buffer (they print at the next LF, ESC d or ESC J):
 * carried from one call to the next; NULL starts and ends with none. */
#define FW_PACE_DOT_PRINT_US 30000
#define FW_PACE_DOT_FEED_US  2100
#define FW_PACE_CHAR_ROWS    24
long long fw_pace_cost(const uint8_t *data, size_t n, int baud, bool *text);
/* The length of the longest prefix of data[0..n) that ends at a command boundary and is at
 * most max bytes (at least one whole command even when that is longer). Unknown bytes count
 * as one-byte commands. */
size_t fw_pace_split(const uint8_t *data, size_t n, size_t max);
