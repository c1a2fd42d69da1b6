/* libFuzzer target: the kit's Wi-Fi settings file (app/print/wifi.c), whatever the bytes. The
 * properties: a refusal says why; an accepted file holds what wifi.h promises (a 1-32 byte
 * name without control characters, no password or 8-63 printable ASCII, 1-4 http(s) urls);
 * its QR payload reads back, unescaped, as exactly that name and password; and the ready
 * slip laid out from it is taken whole by the simulated printer of a receipt profile. */
#include "../../app/common/err.h"
#include "../../app/print/layout.h"
#include "../../app/print/wifi.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads an escaped field of a WIFI: payload up to its unescaped ';' into out[cap]; returns
 * the position after the ';', or NULL. */
static const char *field(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s && *s != ';'; s++) {
        if (*s == '\\') {
            s++;
            if (!*s || !strchr("\\;,:\"", *s))
                return NULL; /* only the five specials are ever escaped */
        } else if (strchr("\\,:\"", *s)) {
            return NULL; /* a special left bare */
        }
        if (n + 1 >= cap)
            return NULL;
        out[n++] = *s;
    }
    out[n] = '\0';
    return *s == ';' ? s + 1 : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fw_font *names, *font_a;
    if (!names && (fw_font_open(FW_FONT_DEFAULT, &names) != FW_OK ||
                   fw_font_open(FW_FONT_MONO, &font_a) != FW_OK))
        abort();
    struct wifi_conf w;
    char err[300] = "";
    if (wifi_conf_parse((const char *)data, size, &w, err, sizeof err) != MK_OK) {
        if (!err[0])
            abort(); /* a refusal says why */
        return 0;
    }
    size_t sl = strlen(w.ssid), pl = strlen(w.password);
    if (sl < 1 || sl > WIFI_SSID_MAX ||
        (pl && (pl < WIFI_PASSWORD_MIN || pl > WIFI_PASSWORD_MAX)) || w.nurls < 1 ||
        w.nurls > WIFI_URLS_MAX)
        abort();
    for (size_t k = 0; k < sl; k++)
        if ((unsigned char)w.ssid[k] < 0x20 || w.ssid[k] == 0x7f)
            abort();
    for (size_t k = 0; k < pl; k++)
        if ((unsigned char)w.password[k] < 0x20 || (unsigned char)w.password[k] >= 0x7f)
            abort();
    for (int u = 0; u < w.nurls; u++)
        if (strncmp(w.url[u], "http://", 7) != 0 && strncmp(w.url[u], "https://", 8) != 0)
            abort();
    char qr[WIFI_QR_MAX], ssid[64], password[128];
    if (wifi_qr_text(&w, qr, sizeof qr) != MK_OK)
        abort(); /* WIFI_QR_MAX is always enough */
    const char *s;
    if (pl) {
        if (strncmp(qr, "WIFI:T:WPA;S:", 13) != 0 || !(s = field(qr + 13, ssid, sizeof ssid)) ||
            strncmp(s, "P:", 2) != 0 || !(s = field(s + 2, password, sizeof password)) ||
            strcmp(s, ";") != 0 || strcmp(ssid, w.ssid) != 0 || strcmp(password, w.password) != 0)
            abort();
    } else if (strncmp(qr, "WIFI:T:nopass;S:", 16) != 0 ||
               !(s = field(qr + 16, ssid, sizeof ssid)) || strcmp(s, ";") != 0 ||
               strcmp(ssid, w.ssid) != 0) {
        abort();
    }
    /* The slip, on one of the receipt profiles (the ZPL one refuses it). */
    const struct fw_profile *p = &fw_profiles[size % fw_profiles_count];
    struct ready_slip r = {.wifi = &w, .when = "01/01/2026 08:00"};
    struct fw_buf b;
    fw_buf_init(&b);
    int rc = layout_ready(&r, p, names, &b);
    if ((rc != FW_OK) != (p->language == FW_LANG_ZPL)) {
        fprintf(stderr, "layout_ready: %d on %s\n", rc, p->name);
        abort();
    }
    if (rc == FW_OK) {
        struct fw_bitmap paper;
        if (fw_sim_escpos(b.data, b.len, p, font_a, &paper, err, sizeof err) != FW_OK) {
            fprintf(stderr, "layout accepted, printer refused: %s\n", err);
            abort();
        }
        fw_bitmap_free(&paper);
    }
    fw_buf_free(&b);
    return 0;
}
