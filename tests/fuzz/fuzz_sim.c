/* libFuzzer target: the simulated printer on arbitrary byte streams (it is a parser: a test
 * or a preview must never crash on a stream a bug produced). */
#include "fw_print.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fw_font *font;
    if (!font && fw_font_open(FW_FONT_MONO, &font) != FW_OK)
        abort();
    if (size < 1)
        return 0;
    /* The first byte picks an ESC/POS profile, so both paper widths and both QR paths are
     * fuzzed (the ZPL profile has its own target). */
    const struct fw_profile *p = &fw_profiles[data[0] % fw_profiles_count];
    if (p->language != FW_LANG_ESCPOS)
        p = &fw_profiles[0];
    struct fw_bitmap paper;
    char err[160];
    if (fw_sim_escpos(data + 1, size - 1, p, font, &paper, err, sizeof err) == FW_OK) {
        assert(paper.width == p->dots_per_line && paper.height > 0);
        fw_bitmap_free(&paper);
    }
    return 0;
}
