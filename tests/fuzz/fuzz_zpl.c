/* libFuzzer target: the simulated ZPL printer on arbitrary labels. */
#include "fw_print.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fw_font *font;
    if (!font && fw_font_open(FW_FONT_DEFAULT, &font) != FW_OK)
        abort();
    struct fw_bitmap label;
    char err[160];
    if (fw_sim_zpl(data, size, fw_profile_find("zebra-hc100"), font, &label, err, sizeof err) ==
        FW_OK) {
        assert(label.width == 288 && label.height > 0);
        fw_bitmap_free(&label);
    }
    return 0;
}
