/* The TM1637 LED driver's frames (Titan Micro's datasheet, v2.4): which bytes make a display
 * show a text. Pure: the bit-banging is firmware/gpio/tm1637.c. */
#include "fw_gpio.h"

#include <string.h>

/* Segments a..g are bits 0..6. */
static const struct {
    char c;
    uint8_t seg;
} glyphs[] = {
    {'0', 0x3F}, {'1', 0x06}, {'2', 0x5B}, {'3', 0x4F}, {'4', 0x66}, {'5', 0x6D}, {'6', 0x7D},
    {'7', 0x07}, {'8', 0x7F}, {'9', 0x6F}, {' ', 0x00}, {'-', 0x40}, {'_', 0x08}, {'A', 0x77},
    {'b', 0x7C}, {'C', 0x39}, {'d', 0x5E}, {'E', 0x79}, {'F', 0x71}, {'H', 0x76}, {'L', 0x38},
    {'n', 0x54}, {'o', 0x5C}, {'P', 0x73}, {'r', 0x50}, {'t', 0x78}, {'U', 0x3E}, {'y', 0x6E},
};
#define NGLYPHS (sizeof glyphs / sizeof glyphs[0])

static int glyph_index(char c)
{
    for (size_t i = 0; i < NGLYPHS; i++)
        if (glyphs[i].c == c)
            return (int)i;
    /* the letters in the other case: a display has one shape per letter */
    char other = c >= 'a' && c <= 'z' ? (char)(c - 32) : c >= 'A' && c <= 'Z' ? (char)(c + 32) : 0;
    for (size_t i = 0; other && i < NGLYPHS; i++)
        if (glyphs[i].c == other)
            return (int)i;
    return -1;
}

uint8_t fw_tm1637_glyph(char c)
{
    int i = glyph_index(c);
    return i < 0 ? 0 : glyphs[i].seg;
}

char fw_tm1637_char(uint8_t segments)
{
    segments &= 0x7F; /* the colon/dot is not part of the character */
    for (size_t i = 0; i < NGLYPHS; i++)
        if (glyphs[i].seg == segments)
            return glyphs[i].c;
    return '?';
}

int fw_tm1637_frame(const char *text, int brightness, bool on, struct fw_tm1637_frame *out)
{
    if (!text || !out || brightness < 0 || brightness > 7)
        return FW_EINVAL;
    size_t n = strlen(text);
    if (n > FW_TM1637_DIGITS)
        return FW_EINVAL;
    uint8_t digits[FW_TM1637_DIGITS] = {0};
    for (size_t i = 0; i < n; i++) {
        if (glyph_index(text[i]) < 0)
            return FW_EINVAL;
        digits[FW_TM1637_DIGITS - n + i] = fw_tm1637_glyph(text[i]);
    }
    out->cmd1 = 0x40;
    out->data[0] = 0xC0;
    memcpy(out->data + 1, digits, FW_TM1637_DIGITS);
    out->cmd3 = on ? (uint8_t)(0x88 | brightness) : 0x80;
    return FW_OK;
}
