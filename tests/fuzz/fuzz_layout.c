/* libFuzzer target: tickets and wristbands for any name, station and code on every profile.
 * The property: a layout either refuses (FW_EINVAL) or emits bytes the simulated printer takes
 * whole: nothing wider than the paper, no command a printer would misread. */
#include "../../app/print/layout.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fw_font *names, *font_a;
    if (!names && (fw_font_open(FW_FONT_DEFAULT, &names) != FW_OK ||
                   fw_font_open(FW_FONT_MONO, &font_a) != FW_OK))
        abort();
    if (size < 2 || size > 600)
        return 0;
    /* data: profile selector, then "code|name|station" */
    const struct fw_profile *p = &fw_profiles[data[0] % fw_profiles_count];
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    char *code = text, *name = strchr(text, '|'), *station = NULL;
    if (name) {
        *name++ = '\0';
        station = strchr(name, '|');
        if (station)
            *station++ = '\0';
    }
    struct ticket t = {.queue_number = 1 + data[0],
                       .code = code,
                       .name = name,
                       .station = station,
                       .campaign = "C",
                       .when = "01/01/2026 08:00"};
    struct wristband w = {
        .code = code, .name = name, .female = data[0] & 1, .age = data[0], .campaign = station};
    for (int kind = 0; kind < 2; kind++) {
        struct fw_buf b;
        fw_buf_init(&b);
        int rc = kind ? layout_wristband(&w, p, names, &b) : layout_ticket(&t, p, names, &b);
        if (rc == FW_OK) {
            struct fw_bitmap paper;
            char err[160];
            int sim = p->language == FW_LANG_ZPL
                          ? fw_sim_zpl(b.data, b.len, p, names, &paper, err, sizeof err)
                          : fw_sim_escpos(b.data, b.len, p, font_a, &paper, err, sizeof err);
            if (sim != FW_OK) {
                fprintf(stderr, "layout accepted, printer refused: %s\n", err);
                abort();
            }
            fw_bitmap_free(&paper);
        }
        fw_buf_free(&b);
    }
    free(text);
    return 0;
}
