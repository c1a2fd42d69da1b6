/* ESC/POS and ZPL encoders against byte sequences written out from the Epson ESC/POS and
 * Zebra ZPL II command references, and the printer profile table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "fw_print.h"

#define EXPECT_BYTES(buf, ...)                                 \
    do {                                                       \
        const uint8_t want_[] = {__VA_ARGS__};                 \
        assert_int_equal((buf)->len, sizeof want_);            \
        assert_memory_equal((buf)->data, want_, sizeof want_); \
        (buf)->len = 0;                                        \
    } while (0)

#define EXPECT_TEXT(buf, s)                               \
    do {                                                  \
        assert_int_equal((buf)->len, strlen(s));          \
        assert_memory_equal((buf)->data, (s), strlen(s)); \
        (buf)->len = 0;                                   \
    } while (0)

static void escpos_commands(void **state)
{
    (void)state;
    struct fw_buf b;
    fw_buf_init(&b);
    fw_escpos_init(&b);
    EXPECT_BYTES(&b, 0x1b, 0x40);
    fw_escpos_leave_kanji(&b);
    EXPECT_BYTES(&b, 0x1c, 0x2e);
    fw_escpos_codepage(&b, 52);
    EXPECT_BYTES(&b, 0x1b, 0x74, 52);
    fw_escpos_align(&b, FW_ALIGN_CENTER);
    EXPECT_BYTES(&b, 0x1b, 0x61, 0x01);
    fw_escpos_bold(&b, true);
    EXPECT_BYTES(&b, 0x1b, 0x45, 0x01);
    assert_int_equal(fw_escpos_size(&b, 2, 2), FW_OK);
    EXPECT_BYTES(&b, 0x1d, 0x21, 0x11);
    assert_int_equal(fw_escpos_size(&b, 8, 1), FW_OK);
    EXPECT_BYTES(&b, 0x1d, 0x21, 0x70);
    assert_int_equal(fw_escpos_size(&b, 0, 1), FW_EINVAL);
    assert_int_equal(fw_escpos_size(&b, 1, 9), FW_EINVAL);
    assert_int_equal(b.len, 0); /* nothing appended for a refused command */
    fw_escpos_feed(&b, 3);
    EXPECT_BYTES(&b, 0x1b, 0x64, 0x03);
    fw_escpos_feed_dots(&b, 12);
    EXPECT_BYTES(&b, 0x1b, 0x4a, 12);
    fw_escpos_cut(&b, false); /* function B: feed to the cutter, then cut */
    EXPECT_BYTES(&b, 0x1d, 0x56, 65, 0);
    fw_escpos_cut(&b, true);
    EXPECT_BYTES(&b, 0x1d, 0x56, 66, 0);
    fw_escpos_busy_enable(&b);
    EXPECT_BYTES(&b, 0x1d, 0x61, 0x20);
    /* Data never becomes a command: ESC, other controls and DEL are dropped, LF kept. */
    fw_escpos_text(&b, "A\x1b@B\nC\x7f\x1d", 8);
    EXPECT_BYTES(&b, 'A', '@', 'B', '\n', 'C');
    assert_int_equal(fw_buf_error(&b), FW_OK);
    fw_buf_free(&b);
}

static void escpos_raster(void **state)
{
    (void)state;
    struct fw_buf b;
    fw_buf_init(&b);
    uint8_t bits[4] = {0xff, 0xc0, 0x80, 0x40}; /* 10 x 2 dots */
    struct fw_bitmap bm = {10, 2, 2, bits};
    assert_int_equal(fw_escpos_raster(&b, &bm), FW_OK);
    EXPECT_BYTES(&b, 0x1d, 0x76, 0x30, 0x00, 0x02, 0x00, 0x02, 0x00, 0xff, 0xc0, 0x80, 0x40);

    /* 30 rows of a 384-dot line: two bands, 24 then 6 rows, each with its own header. */
    static uint8_t tall[30 * 48];
    for (size_t i = 0; i < sizeof tall; i++)
        tall[i] = (uint8_t)i;
    struct fw_bitmap t = {384, 30, 48, tall};
    assert_int_equal(fw_escpos_raster(&b, &t), FW_OK);
    assert_int_equal(b.len, 8 + 24 * 48 + 8 + 6 * 48);
    const uint8_t h1[8] = {0x1d, 0x76, 0x30, 0, 48, 0, 24, 0};
    const uint8_t h2[8] = {0x1d, 0x76, 0x30, 0, 48, 0, 6, 0};
    assert_memory_equal(b.data, h1, 8);
    assert_memory_equal(b.data + 8, tall, 24 * 48);
    assert_memory_equal(b.data + 8 + 24 * 48, h2, 8);
    assert_memory_equal(b.data + 16 + 24 * 48, tall + 24 * 48, 6 * 48);
    b.len = 0;

    struct fw_bitmap empty = {0, 0, 0, bits};
    assert_int_equal(fw_escpos_raster(&b, &empty), FW_EINVAL);
    struct fw_bitmap narrow_stride = {16, 1, 1, bits};
    assert_int_equal(fw_escpos_raster(&b, &narrow_stride), FW_EINVAL);
    fw_buf_free(&b);
}

static void escpos_qr(void **state)
{
    (void)state;
    struct fw_buf b;
    fw_buf_init(&b);
    assert_int_equal(fw_escpos_qr(&b, "K7Q2MX4P9RTS", 12, 4, 'M'), FW_OK);
    EXPECT_BYTES(&b,
                 /* fn 165 (65): model 2 */
                 0x1d, 0x28, 0x6b, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00,
                 /* fn 167 (67): module 4 dots */
                 0x1d, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x43, 0x04,
                 /* fn 169 (69): error correction M = 49 */
                 0x1d, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x45, 0x31,
                 /* fn 180 (80): store 12 bytes, pL = 12 + 3 */
                 0x1d, 0x28, 0x6b, 0x0f, 0x00, 0x31, 0x50, 0x30, 'K', '7', 'Q', '2', 'M', 'X', '4',
                 'P', '9', 'R', 'T', 'S',
                 /* fn 181 (81): print */
                 0x1d, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x51, 0x30);
    /* pH carries lengths over 252 bytes. */
    char big[300];
    memset(big, 'A', sizeof big);
    assert_int_equal(fw_escpos_qr(&b, big, sizeof big, 3, 'L'), FW_OK);
    const uint8_t store[8] = {0x1d, 0x28, 0x6b, (303 & 0xff), (303 >> 8), 0x31, 0x50, 0x30};
    assert_memory_equal(b.data + 9 + 8 + 8, store, 8);
    b.len = 0;
    assert_int_equal(fw_escpos_qr(&b, "A", 1, 0, 'M'), FW_EINVAL);
    assert_int_equal(fw_escpos_qr(&b, "A", 1, 17, 'M'), FW_EINVAL);
    assert_int_equal(fw_escpos_qr(&b, "A", 1, 4, 'X'), FW_EINVAL);
    assert_int_equal(fw_escpos_qr(&b, "A", 0, 4, 'M'), FW_EINVAL);
    assert_int_equal(b.len, 0);
    fw_buf_free(&b);
}

static void zpl(void **state)
{
    (void)state;
    struct fw_buf b;
    fw_buf_init(&b);
    fw_zpl_begin(&b);
    EXPECT_TEXT(&b, "^XA^CI28");
    assert_int_equal(fw_zpl_text(&b, 10, 20, 30, "Nguyễn Thị Hương"), FW_OK);
    EXPECT_TEXT(&b, "^FO10,20^A0N,30,30^FH_^FDNguyễn Thị Hương^FS");
    /* ^, ~ and _ in data are sent as ^FH escapes: printed, never run. */
    assert_int_equal(fw_zpl_text(&b, 0, 0, 20, "a^XZ~b_c"), FW_OK);
    EXPECT_TEXT(&b, "^FO0,0^A0N,20,20^FH_^FDa_5EXZ_7Eb_5Fc^FS");
    assert_int_equal(fw_zpl_qr(&b, 5, 5, 3, 'M', "K7Q2MX4P9RTS"), FW_OK);
    EXPECT_TEXT(&b, "^FO5,5^BQN,2,3^FDMA,K7Q2MX4P9RTS^FS");
    assert_int_equal(fw_zpl_qr(&b, 5, 5, 3, 'M', "AB^XZ"), FW_EINVAL);
    assert_int_equal(fw_zpl_qr(&b, 5, 5, 11, 'M', "AB"), FW_EINVAL);
    assert_int_equal(fw_zpl_qr(&b, 5, 5, 3, 'Z', "AB"), FW_EINVAL);
    assert_int_equal(fw_zpl_qr(&b, -1, 5, 3, 'M', "AB"), FW_EINVAL);
    assert_int_equal(fw_zpl_text(&b, 0, 0, 5, "tiny"), FW_EINVAL);
    assert_int_equal(b.len, 0);
    uint8_t bits[4] = {0xff, 0xc0, 0x80, 0x40};
    struct fw_bitmap bm = {10, 2, 2, bits};
    assert_int_equal(fw_zpl_graphic(&b, 0, 0, &bm), FW_OK);
    EXPECT_TEXT(&b, "^FO0,0^GFA,4,4,2,FFC08040^FS");
    fw_zpl_width(&b, 288);
    EXPECT_TEXT(&b, "^PW288");
    fw_zpl_end(&b);
    EXPECT_TEXT(&b, "^XZ");
    fw_buf_free(&b);
}

static void profiles(void **state)
{
    (void)state;
    const struct fw_profile *p = fw_profile_find("csn-a2");
    assert_non_null(p);
    assert_int_equal(p->baud, 19200);
    assert_true(p->busy_line);
    assert_int_equal(p->dots_per_line, 384);
    assert_int_equal(fw_profile_find("zebra-hc100")->language, FW_LANG_ZPL);
    assert_true(fw_profile_find("epson-tm-t20")->native_qr);
    assert_null(fw_profile_find("no-such-printer"));
    for (size_t i = 0; i < fw_profiles_count; i++) {
        const struct fw_profile *a = &fw_profiles[i];
        assert_ptr_equal(fw_profile_find(a->name), a); /* names are unique */
        assert_int_equal(a->dots_per_line % 8, 0);     /* whole raster bytes */
        assert_int_equal(a->vn_codepage, -1);          /* none trusted until test-printed */
        assert_true(a->dpi > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escpos_commands), cmocka_unit_test(escpos_raster),
        cmocka_unit_test(escpos_qr),       cmocka_unit_test(zpl),
        cmocka_unit_test(profiles),
    };
    return cmocka_run_group_tests_name("printlang", tests, NULL, NULL);
}
