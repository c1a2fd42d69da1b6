/* Barcode / QR scanners: the pure decoders of the hid-scanner and serial-scanner drivers.
 *
 * hid-scanner: a scanner in USB HID keyboard mode, read from its Linux evdev node (the device
 * manager grabs the node with EVIOCGRAB). Key events are mapped with mokit's own US keymap
 * (Shift from the events, Caps Lock never trusted); a code ends at Enter (KEY_ENTER or
 * KEY_KPENTER; KEY_TAB when tab_ends is set) or when no key has come for a gap.
 * serial-scanner: a scanner in CDC serial mode (ttyACM): lines of bytes that end in CR, LF or
 * CR LF, or with a gap.
 *
 * Both decoders are pure: no I/O, no globals, no allocation, no clock. Time is passed in by
 * the caller in seconds (double) from any fixed origin (a monotonic clock, a capture's @times);
 * a negative or NaN time means "unknown" (a capture without times): such an event never ends
 * a code by the gap.
 *
 * A code ends in one of three ways, the same for both decoders:
 * - 1: a complete code, copied NUL-terminated into out;
 * - FW_EINVAL: a rejected code (a key with no mapping, a control byte, too long, not UTF-8,
 *   events dropped by the kernel, or too long for out): why (may be NULL) gets the reason in
 *   words. The rejection is reported when the code ends (at its Enter / line end or its gap),
 *   once, and everything the scanner sent up to that end is discarded: the next code starts
 *   clean;
 * - an empty code (a lone Enter, a blank line, the LF of a CR LF pair) is ignored: 0, no
 *   report.
 * 0 means nothing has ended yet. A call returns at most one result: when a key or byte comes
 * after the gap of a pending code, that call returns the pending code and the key or byte
 * starts the next code.
 *
 * The patient-code check (alphabet, check character) is the app's (app/domain/code.h), not
 * done here. Docs: firmware/doc/hid-scanner.md, firmware/doc/serial-scanner.md. */
#pragma once

#include "fw_print.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The gap (seconds without a key or byte) that ends a code when the state's gap is 0. */
#define FW_SCAN_GAP_DEFAULT 0.08

/* evdev event types and codes the HID decoder acts on (values of linux/input.h). */
#define FW_EV_SYN      0x00
#define FW_EV_KEY      0x01
#define FW_EV_MSC      0x04
#define FW_SYN_DROPPED 3

/* One captured evdev event: LE16 type, LE16 code, LE32 value (no timestamp: the capture line's
 * @time carries it), so captures are the same on 32- and 64-bit machines. */
#define FW_KEYSCAN_FRAME 8

/* ---- hid-scanner: evdev key events ---- */

#define FW_KEYSCAN_MAX 512 /* characters in a code; a longer one is rejected */

/* Zero-initialise; then gap and tab_ends may be set. The other fields are the decoder's. */
struct fw_keyscan {
    double gap;    /* seconds without a key that end a code; 0: FW_SCAN_GAP_DEFAULT */
    bool tab_ends; /* KEY_TAB ends a code like Enter; when false it types '\t' */
    unsigned mods; /* Shift / Ctrl / Alt / Meta keys held, left and right apart */
    bool resync;   /* after SYN_DROPPED: events are ignored up to the next SYN_REPORT */
    bool rejected; /* the current code is rejected: discard up to its end */
    bool timed;    /* last is known */
    double last;   /* time of the last key event of the current code */
    size_t len;
    char buf[FW_KEYSCAN_MAX + 1];
    char reason[64];
};

/* Feeds one evdev event. Only EV_KEY events with value 1 (press) or 0 (release) count:
 * autorepeat (value 2), EV_SYN, EV_MSC and every other type are ignored, except
 * EV_SYN/SYN_DROPPED (the kernel lost events), which rejects the current code and forgets the
 * modifiers. Returns 1 (a code in out), 0, or FW_EINVAL (a rejected code; why says what). out
 * should hold FW_KEYSCAN_MAX + 1 bytes; a code that does not fit a smaller out is rejected. */
int fw_keyscan_feed(struct fw_keyscan *s, unsigned type, unsigned code, int value, double t,
                    char *out, size_t outlen, char *why, size_t whylen);

/* The same for one capture frame of FW_KEYSCAN_FRAME bytes (LE16 type, LE16 code, LE32
 * value). */
int fw_keyscan_feed_frame(struct fw_keyscan *s, const uint8_t frame[FW_KEYSCAN_FRAME], double t,
                          char *out, size_t outlen, char *why, size_t whylen);

/* Ends the pending code when now is at or past its deadline: 1, FW_EINVAL or 0 as for feed.
 * Passing INFINITY ends whatever is pending (the end of a capture or of the device), even a
 * code whose times are unknown. */
int fw_keyscan_timeout(struct fw_keyscan *s, double now, char *out, size_t outlen, char *why,
                       size_t whylen);

/* When the caller should call fw_keyscan_timeout(): the time of the pending code's last key
 * plus the gap; INFINITY when a code is pending but its time is unknown; -1 when nothing is
 * pending. */
double fw_keyscan_deadline(const struct fw_keyscan *s);

/* ---- serial-scanner: bytes from a CDC ACM tty ---- */

#define FW_LINESCAN_MAX 1024 /* bytes in a code; a longer one is rejected */

/* Zero-initialise; then gap may be set. The other fields are the decoder's. */
struct fw_linescan {
    double gap; /* seconds without a byte that end a code; 0: FW_SCAN_GAP_DEFAULT */
    bool rejected;
    bool timed;
    double last;
    size_t len;
    char buf[FW_LINESCAN_MAX + 1];
    char reason[64];
};

/* Feeds one byte. CR and LF end a code (CR LF: the LF is an empty code, ignored); bytes
 * 0x20-0x7E, TAB and bytes >= 0x80 are the code's; any other control byte (NUL, ESC, GS, DEL,
 * ...) rejects it; so does a code longer than FW_LINESCAN_MAX bytes or one that is not valid
 * UTF-8. Returns 1, 0 or FW_EINVAL as fw_keyscan_feed(). */
int fw_linescan_feed(struct fw_linescan *s, uint8_t byte, double t, char *out, size_t outlen,
                     char *why, size_t whylen);
int fw_linescan_timeout(struct fw_linescan *s, double now, char *out, size_t outlen, char *why,
                        size_t whylen);
double fw_linescan_deadline(const struct fw_linescan *s);

/* True when s is not NULL, not empty, and holds printable ASCII only (0x20-0x7E): a scan that
 * could be a patient code or typed text, as opposed to UTF-8 text or control characters. */
bool fw_scan_printable(const char *s);
