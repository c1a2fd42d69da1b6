/* The kit's Wi-Fi settings file (wifi.conf) and the Wi-Fi QR code of the "ready" slip.
 *
 * The file is written at first boot by the SD image and read by `mokit print ready`. It is
 * "name value" lines, the value being the rest of the line after the spaces that follow the
 * name (trailing spaces and tabs dropped, so a value cannot end with a space):
 *
 *   # the kit's own network
 *   ssid mokit-7F3A
 *   password 12+ random characters
 *   url http://mokit.local/
 *   url http://10.42.0.1/
 *
 *   ssid      the network's name: 1-32 bytes of UTF-8 (the 802.11 SSID limit), required
 *   password  the WPA2 passphrase: 8-63 printable ASCII characters (IEEE 802.11i-2004,
 *             H.4.1); absent for an open network
 *   url       an address of the kit's UI, http:// or https://, up to WIFI_URL_MAX bytes of
 *             printable ASCII without spaces; 1 to WIFI_URLS_MAX of them, printed in order
 *
 * Blank lines and lines whose first non-blank character is '#' are skipped ('#' elsewhere is
 * part of the value: a password may hold one). A UTF-8 byte order mark at the start and CR
 * before LF are accepted (the file may have been edited on Windows). Pure: no I/O. */
#pragma once

#include <stddef.h>

#define WIFI_SSID_MAX     32
#define WIFI_PASSWORD_MIN 8
#define WIFI_PASSWORD_MAX 63
#define WIFI_URLS_MAX     4
#define WIFI_URL_MAX      128
#define WIFI_FILE_MAX     (64 * 1024) /* a longer file is not a wifi.conf */
/* "WIFI:T:WPA;S:" + 32 bytes escaped + ";P:" + 63 escaped + ";;" and the NUL */
#define WIFI_QR_MAX 256

struct wifi_conf {
    char ssid[WIFI_SSID_MAX + 1];
    char password[WIFI_PASSWORD_MAX + 1]; /* "": an open network */
    char url[WIFI_URLS_MAX][WIFI_URL_MAX + 1];
    int nurls; /* 1..WIFI_URLS_MAX after a successful parse */
};

/* Parses len bytes of a wifi.conf (NUL bytes are refused like any control character) into
 * *out. MK_OK, or MK_EINVAL with err holding the reason, "line N: ..." where a line is at
 * fault: an unknown name, a name without a value, a value too short or too long, a control
 * character, invalid UTF-8, a name given twice (ssid, password) or a fifth url, a url not
 * starting http:// or https://; or a missing ssid or url. *out is zeroed first. */
int wifi_conf_parse(const char *text, size_t len, struct wifi_conf *out, char *err, size_t errlen);

/* The payload of the QR code that a phone's camera offers to join (the ZXing "WIFI:" format):
 * "WIFI:T:WPA;S:<ssid>;P:<password>;;", or "WIFI:T:nopass;S:<ssid>;;" for an open network,
 * with each of \ ; , : " in the name or password preceded by a backslash. Into out[cap]
 * (WIFI_QR_MAX is always enough); MK_OK, or MK_ERANGE when cap is too small (out is then "").
 * Nothing but the network's name and password goes into it. */
int wifi_qr_text(const struct wifi_conf *w, char *out, size_t cap);
