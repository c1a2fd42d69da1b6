/* Printer profiles: what each model can do, as data. Add a model by adding a row, and say in
 * firmware/doc/printers.md how it was checked.
 *
 * No code page is trusted for Vietnamese by default: CP1258 sends tone marks as combining bytes
 * that many firmwares print in a cell of their own, and the ESC t number differs by vendor. A
 * profile gets vn_codepage only after a test print shows every Vietnamese letter right; until
 * then Vietnamese text is rasterised. native_qr is set only where the command is documented for
 * the model; elsewhere the QR is rasterised, which every ESC/POS printer prints. */
#include "fw_print.h"

#include <string.h>

const struct fw_profile fw_profiles[] = {
    {.name = "escpos-58",
     .model = "generic 58 mm ESC/POS (USB)",
     .language = FW_LANG_ESCPOS,
     .dots_per_line = 384, /* 48 mm at 203 dpi */
     .dpi = 203,
     .vn_codepage = -1,
     .native_qr = false,
     .cutter = false,
     .busy_line = false,
     .baud = 0},
    {.name = "escpos-80",
     .model = "generic 80 mm ESC/POS (USB)",
     .language = FW_LANG_ESCPOS,
     .dots_per_line = 576, /* 72 mm at 203 dpi */
     .dpi = 203,
     .vn_codepage = -1,
     .native_qr = false,
     .cutter = true,
     .busy_line = false,
     .baud = 0},
    {.name = "epson-tm-t20",
     .model = "Epson TM-T20 (80 mm, USB)",
     .language = FW_LANG_ESCPOS,
     .dots_per_line = 576,
     .dpi = 203,
     .vn_codepage = -1, /* WPC1258 is page 52: untrusted until test-printed */
     .native_qr = true, /* GS ( k is documented for the TM-T20 */
     .cutter = true,
     .busy_line = false,
     .baud = 0},
    {.name = "csn-a2",
     .model = "CSN-A2 TTL panel printer (58 mm, GPIO UART 19200 baud)",
     .language = FW_LANG_ESCPOS,
     .dots_per_line = 384,
     .dpi = 203,
     .vn_codepage = -1,
     .native_qr = false,
     .cutter = false,
     .busy_line = true,
     .baud = 19200},
    {.name = "zebra-hc100",
     .model = "Zebra HC100-class wristband printer (ZPL, 300 dpi)",
     .language = FW_LANG_ZPL,
     .dots_per_line = 288, /* 0.96 in of a 1 in band, whole raster bytes (verify on stock) */
     .dpi = 300,
     .vn_codepage = -1,
     .native_qr = true, /* ^BQ */
     .cutter = false,
     .busy_line = false,
     .baud = 0},
};
const size_t fw_profiles_count = sizeof fw_profiles / sizeof fw_profiles[0];

const struct fw_profile *fw_profile_find(const char *name)
{
    for (size_t i = 0; i < fw_profiles_count; i++)
        if (strcmp(fw_profiles[i].name, name) == 0)
            return &fw_profiles[i];
    return NULL;
}
