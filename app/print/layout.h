/* Printed layouts: what goes on a queue ticket, turned into printer bytes for a profile.
 * Pure: no I/O (the font is opened by the caller). The rules:
 *  - a string of plain ASCII is sent as text: every code page agrees on ASCII;
 *  - a string with Vietnamese letters is rasterised (no code page is trusted for them),
 *    cropped to its ink; a name too wide for the paper wraps onto a second line at a space,
 *    and only what two lines cannot hold ends in "…";
 *  - the QR is native where the profile has the command, otherwise a raster at 4 dots a
 *    module, or 3 on a serial printer where every byte costs wire time. */
#pragma once

#include "fw_print.h"
#include "wifi.h"

struct ticket {
    int queue_number;     /* 1..9999 */
    const char *code;     /* patient code: the QR */
    const char *name;     /* NFC */
    const char *station;  /* where to go, may be NULL */
    const char *campaign; /* campaign code or name */
    const char *when;     /* "22/11/2026 08:20" */
};

/* Appends the ticket to out. font is the name font (FW_FONT_DEFAULT). FW_EINVAL for a ZPL
 * profile (tickets are for receipt printers), a queue number out of range or a missing code;
 * fw_buf_error(out) for allocation failures. */
int layout_ticket(const struct ticket *t, const struct fw_profile *p, struct fw_font *font,
                  struct fw_buf *out);

struct wristband {
    const char *code; /* patient code: the QR */
    const char *name; /* NFC */
    bool female;
    int age;              /* whole years, -1 when unknown */
    const char *campaign; /* campaign code or name */
};

/* Appends a wristband: a sticker on an ESC/POS label printer, or a ZPL label on a band
 * printer. The QR large enough to scan on a wrist, the code in groups, the name, "Nam"/"Nữ"
 * and the age in years ("tuổi"), the campaign. On ZPL every line is a centred graphic field
 * (the printer's fonts are not trusted with Vietnamese) and the QR is ^BQ. FW_EINVAL for a
 * missing code. */
int layout_wristband(const struct wristband *w, const struct fw_profile *p, struct fw_font *font,
                     struct fw_buf *out);

struct test_page {
    const char *printer; /* the printer's name */
    const char *when;    /* "22/11/2026 08:20" */
};

/* A test page for a printer: its name and profile, the time, a line of Vietnamese and a QR
 * code holding "MOKIT-TEST", in the printer's language. */
int layout_test_page(const struct test_page *t, const struct fw_profile *p, struct fw_font *font,
                     struct fw_buf *out);

/* ---- referral slips ---- */

#define SLIP_MAX_FINDINGS 8

enum slip_urgency { SLIP_ROUTINE, SLIP_SOON, SLIP_URGENT };

struct slip {
    const char *code; /* patient code: the QR the hospital scans */
    const char *name; /* NFC */
    bool female;
    int birth_year;
    const char *hospital;                    /* the organising hospital (header), may be NULL */
    const char *campaign;                    /* campaign name */
    const char *findings[SLIP_MAX_FINDINGS]; /* "Huyết áp 165/100 mmHg", ... */
    int nfindings;
    const char *destination; /* where the resident is referred */
    const char *reason;
    enum slip_urgency urgency;
    const char *doctor; /* the referring doctor, may be NULL */
    const char *when;   /* "22/11/2026 08:20" */
};

/* A referral slip in Vietnamese for a receipt printer: header, "GIẤY CHUYỂN KHÁM", the
 * urgency (an urgent referral in large letters), the patient, the findings, destination and
 * reason (wrapped over several lines, the last cut with "…"), date, doctor, a space to sign,
 * and the QR of the patient code. FW_EINVAL for a ZPL profile, a missing code, destination or
 * reason. */
int layout_slip(const struct slip *s, const struct fw_profile *p, struct fw_font *font,
                struct fw_buf *out);

/* ---- the kit's "ready" slip ---- */

struct ready_slip {
    const struct wifi_conf *wifi; /* the kit's network and addresses (wifi.h) */
    const char *when;             /* "22/11/2026 08:20" */
};

/* The slip a kit prints when it has booted, for the team setting it up: "mokit", "Bộ kit đã
 * sẵn sàng" (with an English line under each Vietnamese one), the addresses of the UI in large
 * letters, a QR code that joins a phone to the kit's Wi-Fi (wifi_qr_text: the network's name
 * and password, nothing else), the network's name and password as text for a laptop, and the
 * time. Never a PIN, never a patient. An address, name or password too long for a line
 * continues on the next: nothing of them is cut. FW_EINVAL for a ZPL profile (wristband
 * printers) or a missing network name. */
int layout_ready(const struct ready_slip *r, const struct fw_profile *p, struct fw_font *font,
                 struct fw_buf *out);
