/* libFuzzer target: text from patient records (ultimately outside input) through the UTF-8
 * decoder and FreeType rendering, at any size and width. */
#include "fw_print.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fw_font *font;
    if (!font && fw_font_open(FW_FONT_DEFAULT, &font) != FW_OK)
        abort();
    if (size < 2)
        return 0;
    int px = 6 + data[0] % 60, width = 1 + data[1] * 3;
    char *text = malloc(size - 1);
    if (!text)
        return 0;
    memcpy(text, data + 2, size - 2);
    text[size - 2] = '\0';
    struct fw_bitmap bm;
    bool cut;
    if (fw_font_render(font, text, px, width, &bm, &cut) == FW_OK) {
        assert(bm.width >= 1 && bm.height >= 1);
        assert(bm.width <= width || bm.width == 1);
        fw_bitmap_free(&bm);
    }
    free(text);
    return 0;
}
