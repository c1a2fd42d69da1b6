/* Vietnamese text through FreeType and DejaVu Sans: every letter of the alphabet has a real
 * glyph (no boxes), names render with their marks, long names end in an ellipsis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fw_print.h"

/* The precomposed letters Vietnamese uses, U+00C0-U+1EF9: the Latin-1 vowels with grave,
 * acute, circumflex and tilde, then Ă ă Đ đ Ĩ ĩ Ũ ũ Ơ ơ Ư ư, then the whole Latin Extended
 * Additional run U+1EA0-U+1EF9 (ạ ả ấ ... ỹ). */
static const uint32_t latin1[] = {0xC0,  0xC1,  0xC2,  0xC3,  0xC8,  0xC9,  0xCA,  0xCC,  0xCD,
                                  0xD2,  0xD3,  0xD4,  0xD5,  0xD9,  0xDA,  0xDD,  0xE0,  0xE1,
                                  0xE2,  0xE3,  0xE8,  0xE9,  0xEA,  0xEC,  0xED,  0xF2,  0xF3,
                                  0xF4,  0xF5,  0xF9,  0xFA,  0xFD,  0x102, 0x103, 0x110, 0x111,
                                  0x128, 0x129, 0x168, 0x169, 0x1A0, 0x1A1, 0x1AF, 0x1B0};

static int open_font(void **state)
{
    struct fw_font *f;
    if (fw_font_open(FW_FONT_DEFAULT, &f) != FW_OK)
        return -1;
    *state = f;
    return 0;
}

static int close_font(void **state)
{
    fw_font_close(*state);
    return 0;
}

static void encode(uint32_t cp, char out[5])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        out[2] = 0;
    } else {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        out[3] = 0;
    }
}

static int black(const struct fw_bitmap *bm)
{
    int n = 0;
    for (int y = 0; y < bm->height; y++)
        for (int x = 0; x < bm->width; x++)
            n += fw_bitmap_get(bm, x, y);
    return n;
}

static void check_letter(struct fw_font *f, uint32_t cp)
{
    char s[5];
    struct fw_bitmap bm;
    bool cut;
    if (!fw_font_has(f, cp))
        fail_msg("DejaVu Sans has no glyph for U+%04X", cp);
    encode(cp, s);
    assert_int_equal(fw_font_render(f, s, 24, 1000, &bm, &cut), FW_OK);
    if (black(&bm) < 10)
        fail_msg("U+%04X rendered almost empty", cp);
    fw_bitmap_free(&bm);
}

static void every_vietnamese_letter(void **state)
{
    struct fw_font *f = *state;
    int checked = 0;
    for (size_t i = 0; i < sizeof latin1 / sizeof latin1[0]; i++, checked++)
        check_letter(f, latin1[i]);
    for (uint32_t cp = 0x1EA0; cp <= 0x1EF9; cp++, checked++)
        check_letter(f, cp);
    assert_int_equal(checked, 44 + 90);
}

static void names(void **state)
{
    struct fw_font *f = *state;
    struct fw_bitmap a, b;
    bool cut;
    assert_int_equal(fw_font_render(f, "Nguyễn Thị Hương", 24, 384, &a, &cut), FW_OK);
    assert_false(cut);
    assert_true(a.width > 150 && a.width < 260); /* cropped to the text, not the paper */
    assert_int_equal(a.height, 29);              /* DejaVu Sans at 24 px: ascent 23 + descent 6 */
    /* The marks are drawn: the same name without them is a different picture. */
    assert_int_equal(fw_font_render(f, "Nguyen Thi Huong", 24, 384, &b, &cut), FW_OK);
    assert_true(black(&a) > black(&b));
    /* Đ is not D. */
    struct fw_bitmap d1, d2;
    assert_int_equal(fw_font_render(f, "Đ", 24, 384, &d1, &cut), FW_OK);
    assert_int_equal(fw_font_render(f, "D", 24, 384, &d2, &cut), FW_OK);
    assert_true(black(&d1) > black(&d2));
    fw_bitmap_free(&a);
    fw_bitmap_free(&b);
    fw_bitmap_free(&d1);
    fw_bitmap_free(&d2);
}

/* Rows of ink from the top of the first inked row to the last. */
static int ink_rows(const struct fw_bitmap *bm)
{
    int first = -1, last = -1;
    for (int y = 0; y < bm->height; y++)
        for (int x = 0; x < bm->width; x++)
            if (fw_bitmap_get(bm, x, y)) {
                if (first < 0)
                    first = y;
                last = y;
            }
    return first < 0 ? 0 : last - first + 1;
}

/* Stacked marks on capitals rise above the font's ascender (a review found "Ễ" clipped to
 * "Ê" when the box was the font's ascent + descent). The box grows for them, and each stacked
 * capital keeps more ink rows than its base with one mark (at least one more: hinting packs
 * the marks tightly at small sizes): Ấ Ầ Ẩ Ẫ over Â, Ắ Ằ Ẳ Ẵ over Ă, Ế Ề Ể Ễ over Ê,
 * Ố Ồ Ổ Ỗ over Ô. */
static void capitals_keep_their_marks(void **state)
{
    struct fw_font *f = *state;
    static const struct {
        uint32_t first, base;
    } groups[] = {{0x1EA4, 0xC2}, {0x1EAE, 0x102}, {0x1EBE, 0xCA}, {0x1ED0, 0xD4}};
    bool cut;
    for (int px = 20; px <= 24; px += 4) {
        struct fw_bitmap plain, tall;
        assert_int_equal(fw_font_render(f, "E", px, 100, &plain, &cut), FW_OK);
        assert_int_equal(fw_font_render(f, "Ễ", px, 100, &tall, &cut), FW_OK);
        assert_true(tall.height > plain.height); /* the box grew: nothing clipped */
        fw_bitmap_free(&plain);
        fw_bitmap_free(&tall);
        for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
            char s[5];
            struct fw_bitmap base;
            encode(groups[g].base, s);
            assert_int_equal(fw_font_render(f, s, px, 100, &base, &cut), FW_OK);
            for (uint32_t cp = groups[g].first; cp < groups[g].first + 8; cp += 2) {
                struct fw_bitmap bm;
                encode(cp, s);
                assert_int_equal(fw_font_render(f, s, px, 100, &bm, &cut), FW_OK);
                if (ink_rows(&bm) <= ink_rows(&base))
                    fail_msg("U+%04X at %d px: %d ink rows, its base %d: clipped?", cp, px,
                             ink_rows(&bm), ink_rows(&base));
                fw_bitmap_free(&bm);
            }
            fw_bitmap_free(&base);
        }
    }
}

static void long_names_are_cut(void **state)
{
    struct fw_font *f = *state;
    struct fw_bitmap bm, full;
    bool cut;
    const char *name = "Tôn Nữ Hoàng Thị Phương Thảo Nguyên Khánh Linh";
    assert_int_equal(fw_font_render(f, name, 24, 10000, &full, &cut), FW_OK);
    assert_false(cut);
    assert_int_equal(fw_font_render(f, name, 24, 200, &bm, &cut), FW_OK);
    assert_true(cut);
    assert_true(bm.width <= 200 && bm.width > 150);
    assert_true(full.width > 200);
    /* The "…" is drawn: three dots of ink on the baseline at the right end. */
    struct fw_bitmap dots;
    assert_int_equal(fw_font_render(f, "…", 24, 100, &dots, &cut), FW_OK);
    int right_ink = 0;
    for (int y = 0; y < bm.height; y++)
        for (int x = bm.width - dots.width; x < bm.width; x++)
            right_ink += fw_bitmap_get(&bm, x, y);
    assert_true(right_ink > 0 && right_ink <= 2 * black(&dots));
    fw_bitmap_free(&dots);
    /* Too narrow for even the "…" (found by fuzzing): refused, never wider than asked. */
    fw_bitmap_free(&bm);
    assert_int_equal(fw_font_render(f, name, 24, 4, &bm, &cut), FW_EINVAL);
    assert_null(bm.bits);
    assert_int_equal(fw_font_render(f, "Lan", 24, 4, &bm, &cut), FW_EINVAL);
    fw_bitmap_free(&bm);
    fw_bitmap_free(&full);
}

static void refusals(void **state)
{
    struct fw_font *f = *state;
    struct fw_bitmap bm;
    bool cut;
    assert_int_equal(fw_font_render(f, "", 24, 100, &bm, &cut), FW_EINVAL);
    assert_int_equal(fw_font_render(f, "A\xff", 24, 100, &bm, &cut), FW_EINVAL);
    assert_int_equal(fw_font_render(f, "\xc0\x80", 24, 100, &bm, &cut), FW_EINVAL); /* overlong */
    assert_int_equal(fw_font_render(f, "\xed\xa0\x80", 24, 100, &bm, &cut), FW_EINVAL);
    /* A character DejaVu Sans lacks (CJK): an error, never a box. */
    assert_false(fw_font_has(f, 0x4E2D));
    assert_int_equal(fw_font_render(f, "A\xe4\xb8\xad", 24, 100, &bm, &cut), FW_EINVAL);
    assert_int_equal(fw_font_render(f, "A", 5, 100, &bm, &cut), FW_EINVAL);
    assert_null(bm.bits);
    struct fw_font *none;
    assert_int_equal(fw_font_open("/nonexistent/font.ttf", &none), FW_EIO);
    char notfont[] = "/tmp/mokit-notfont-XXXXXX";
    int fd = mkstemp(notfont);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not a font\n", 11), 11);
    close(fd);
    assert_int_equal(fw_font_open(notfont, &none), FW_EIO); /* a file, but not a font */
    unlink(notfont);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_vietnamese_letter),
        cmocka_unit_test(names),
        cmocka_unit_test(capitals_keep_their_marks),
        cmocka_unit_test(long_names_are_cut),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests_name("font", tests, open_font, close_font);
}
