/* The simulated printer: what our ESC/POS prints, read back as a person and a scanner would. */
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

static struct fw_font *font;  /* the printer's font A, for fw_sim_escpos */
static struct fw_font *names; /* rasterised Vietnamese, as the layouts draw it */

static int setup(void **state)
{
    (void)state;
    return fw_font_open(FW_FONT_MONO, &font) == FW_OK &&
                   fw_font_open(FW_FONT_DEFAULT, &names) == FW_OK
               ? 0
               : -1;
}

static int teardown(void **state)
{
    (void)state;
    fw_font_close(font);
    fw_font_close(names);
    return 0;
}

/* A ticket like the layouts will make: queue number, a rasterised Vietnamese name, a QR. */
static void ticket(struct fw_buf *b, const struct fw_profile *p, bool native_qr)
{
    struct fw_bitmap name, q;
    bool cut;
    fw_escpos_init(b);
    fw_escpos_align(b, FW_ALIGN_CENTER);
    assert_int_equal(fw_escpos_size(b, 3, 3), FW_OK);
    fw_escpos_text(b, "A17\n", 4);
    assert_int_equal(fw_escpos_size(b, 1, 1), FW_OK);
    assert_int_equal(fw_font_render(names, "Nguyễn Thị Hương", 24, p->dots_per_line, &name, &cut),
                     FW_OK);
    assert_int_equal(fw_escpos_raster(b, &name), FW_OK);
    fw_bitmap_free(&name);
    if (native_qr) {
        assert_int_equal(fw_escpos_qr(b, "K7Q2MX4P9RTS", 12, 4, 'M'), FW_OK);
    } else {
        assert_int_equal(fw_qr_bitmap("K7Q2MX4P9RTS", 4, 'M', &q), FW_OK);
        assert_int_equal(fw_escpos_raster(b, &q), FW_OK);
        fw_bitmap_free(&q);
    }
    fw_escpos_feed(b, 3);
    fw_escpos_cut(b, true);
}

static char *zbar(const char *png)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "zbarimg --quiet --nodbus --raw -Sbinary %s 2>/dev/null", png);
    FILE *p = popen(cmd, "r");
    char *out = calloc(1, 256);
    if (p) {
        size_t n = fread(out, 1, 255, p);
        out[n] = '\0';
        pclose(p);
    }
    out[strcspn(out, "\n")] = '\0';
    return out;
}

static void tickets_scan_back(void **state)
{
    (void)state;
    int checked = 0, refused = 0;
    for (size_t i = 0; i < fw_profiles_count; i++) {
        const struct fw_profile *p = &fw_profiles[i];
        if (p->language != FW_LANG_ESCPOS)
            continue;
        for (int native = 0; native < 2; native++) {
            struct fw_buf b;
            struct fw_bitmap paper;
            char err[160], png[] = "/tmp/mokit-sim-XXXXXX.png";
            fw_buf_init(&b);
            ticket(&b, p, native);
            int rc = fw_sim_escpos(b.data, b.len, p, font, &paper, err, sizeof err);
            if (native && !p->native_qr) { /* the printer has no GS ( k */
                assert_int_equal(rc, FW_EINVAL);
                assert_non_null(strstr(err, "no native QR"));
                fw_buf_free(&b);
                refused++;
                continue;
            }
            if (rc != FW_OK)
                fail_msg("%s: %s", p->name, err);
            assert_int_equal(paper.width, p->dots_per_line);
            /* 3 x 30 for the number, 29 for the name, the QR, 3 lines of feed. */
            assert_true(paper.height > 90 + 29 + 116 + 90 - 1);
            int fd = mkstemps(png, 4);
            assert_true(fd >= 0);
            close(fd);
            assert_int_equal(fw_png_write(png, &paper, 203), FW_OK);
            char *got = zbar(png);
            if (strcmp(got, "K7Q2MX4P9RTS") != 0)
                fail_msg("%s (%s QR): zbarimg read \"%s\"", p->name, native ? "native" : "raster",
                         got);
            free(got);
            unlink(png);
            fw_bitmap_free(&paper);
            fw_buf_free(&b);
            checked++;
        }
    }
    /* 4 ESC/POS profiles: raster QR on all, native on the TM-T20 only. */
    assert_int_equal(checked, 5);
    assert_int_equal(refused, 3);
}

static void layout_of_lines(void **state)
{
    (void)state;
    const struct fw_profile *p = fw_profile_find("escpos-58");
    struct fw_buf b;
    struct fw_bitmap paper;
    char err[160];
    fw_buf_init(&b);
    fw_escpos_text(&b, "HELLO\n", 6);
    assert_int_equal(fw_sim_escpos(b.data, b.len, p, font, &paper, err, sizeof err), FW_OK);
    assert_int_equal(paper.height, 30); /* one line at the default spacing */
    /* Left aligned: ink starts near the left edge, nothing on the right half. */
    int leftmost = paper.width, rightmost = -1;
    for (int y = 0; y < paper.height; y++)
        for (int x = 0; x < paper.width; x++)
            if (fw_bitmap_get(&paper, x, y)) {
                leftmost = x < leftmost ? x : leftmost;
                rightmost = x > rightmost ? x : rightmost;
            }
    assert_true(leftmost < 5 && rightmost < paper.width / 2);
    fw_bitmap_free(&paper);
    b.len = 0;
    /* Double height doubles the line; right alignment moves the ink to the right edge. */
    fw_escpos_align(&b, FW_ALIGN_RIGHT);
    assert_int_equal(fw_escpos_size(&b, 1, 2), FW_OK);
    fw_escpos_text(&b, "HELLO\n", 6);
    assert_int_equal(fw_sim_escpos(b.data, b.len, p, font, &paper, err, sizeof err), FW_OK);
    assert_int_equal(paper.height, 60);
    int ink_right = 0;
    for (int y = 0; y < paper.height; y++)
        ink_right |= fw_bitmap_get(&paper, paper.width - 2, y) ||
                     fw_bitmap_get(&paper, paper.width - 3, y) ||
                     fw_bitmap_get(&paper, paper.width - 4, y);
    assert_true(ink_right);
    fw_bitmap_free(&paper);
    fw_buf_free(&b);
}

static void expect_error(const uint8_t *d, size_t n, const char *profile, const char *fragment)
{
    struct fw_bitmap paper;
    char err[160] = "";
    assert_int_equal(fw_sim_escpos(d, n, fw_profile_find(profile), font, &paper, err, sizeof err),
                     FW_EINVAL);
    if (!strstr(err, fragment))
        fail_msg("error \"%s\" lacks \"%s\"", err, fragment);
    assert_null(paper.bits);
}

static void bad_streams(void **state)
{
    (void)state;
    const uint8_t unknown[] = {0x1b, 'Z', 0x00};
    expect_error(unknown, sizeof unknown, "escpos-58", "unknown command 0x1b 0x5a (offset 0)");
    const uint8_t stray[] = {'A', '\n', 0x07};
    expect_error(stray, sizeof stray, "escpos-58", "offset 2");
    const uint8_t short_raster[] = {0x1d, 'v', '0', 0, 2, 0, 2, 0, 0xff};
    expect_error(short_raster, sizeof short_raster, "escpos-58", "cut short");
    const uint8_t wide_raster[] = {0x1d, 'v', '0', 0, 49, 0, 1, 0};
    expect_error(wide_raster, sizeof wide_raster, "escpos-58", "does not fit 384 dots");
    const uint8_t print_nothing[] = {0x1d, '(', 'k', 3, 0, 49, 81, 48};
    expect_error(print_nothing, sizeof print_nothing, "epson-tm-t20", "nothing stored");
    const uint8_t long_k[] = {0x1d, '(', 'k', 0xff, 0xff, 49, 80, 48, 'A'};
    expect_error(long_k, sizeof long_k, "epson-tm-t20", "does not fit the stream");
    const uint8_t qr_on_58[] = {0x1d, '(', 'k', 3, 0, 49, 67, 4};
    expect_error(qr_on_58, sizeof qr_on_58, "escpos-58", "no native QR");
    const uint8_t no_lf[] = {'A', 'B'};
    expect_error(no_lf, sizeof no_lf, "escpos-58", "without LF");
    expect_error((const uint8_t *)"", 0, "escpos-58", "nothing printed");
    expect_error((const uint8_t *)"A\n", 2, "zebra-hc100", "does not speak ESC/POS");
    /* 32 columns fit 58 mm paper, as with a real font A; 33 do not. */
    char line[34];
    memset(line, 'W', 32);
    line[32] = '\n';
    struct fw_bitmap paper;
    char err[160];
    assert_int_equal(fw_sim_escpos((const uint8_t *)line, 33, fw_profile_find("escpos-58"), font,
                                   &paper, err, sizeof err),
                     FW_OK);
    fw_bitmap_free(&paper);
    memset(line, 'W', 33);
    line[33] = '\n';
    expect_error((const uint8_t *)line, 34, "escpos-58", "wider than the paper");
}

static void zpl_labels(void **state)
{
    (void)state;
    const struct fw_profile *z = fw_profile_find("zebra-hc100");
    struct fw_buf b;
    struct fw_bitmap paper;
    char err[160];
    fw_buf_init(&b);
    fw_zpl_begin(&b);
    assert_int_equal(fw_zpl_qr(&b, 40, 10, 5, 'M', "K7Q2MX4P9RTS"), FW_OK);
    assert_int_equal(fw_zpl_text(&b, 10, 170, 24, "A_B^C"), FW_OK);
    fw_zpl_end(&b);
    assert_int_equal(fw_sim_zpl(b.data, b.len, z, names, &paper, err, sizeof err), FW_OK);
    assert_int_equal(paper.width, 288);
    assert_true(paper.height >= 170 + 20);
    char png[] = "/tmp/mokit-zpl-XXXXXX.png";
    int fd = mkstemps(png, 4);
    close(fd);
    assert_int_equal(fw_png_write(png, &paper, 203), FW_OK);
    char *got = zbar(png);
    assert_string_equal(got, "K7Q2MX4P9RTS");
    free(got);
    unlink(png);
    fw_bitmap_free(&paper);
    fw_buf_free(&b);

    static const struct {
        const char *label, *fragment;
    } bad[] = {
        {"^XA^FO0,0^A0N,20,20^FDHello^FS", "without ^XZ"},
        {"^FO0,0^XA^XZ", "outside ^XA"},
        {"^XA^XZ", "empty label"},
        {"^XA^FO0,0^A0N,20,20^FDno end", "without ^FS"},
        {"^XA^FO0,0^ZZ1^XZ", "unknown command ^ZZ"},
        {"^XA^FO0,0^FDtext^FS^XZ", "without ^A0"},
        {"^XA^CI0^XZ", "only 28"},
        {"^XA^FO0,0^GFA,4,4,2,FFC0^FS^XZ", "not 4 hexadecimal"},
        {"^XA^FO0,0^GFA,4,4,2^FS^XZ", "without its data"}, /* found by fuzz_zpl */
        {"^XA^FO0,0^GFA,4,4,2,FFC0ZZ40^FS^XZ", "not hexadecimal"},
        {"^XA^FO280,0^GFA,2,2,2,FFFF^FS^XZ", "runs past"},
        {"^XA^FO0,0^BQN,2,5^FDnope^FS^XZ", "QR field"},
        {"^XA^FO0,0^A0N,20,20^FH_^FDbad_G1^FS^XZ", "^FH escape"},
        {"hello", "text outside"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(fw_sim_zpl((const uint8_t *)bad[i].label, strlen(bad[i].label), z, names,
                                    &paper, err, sizeof err),
                         FW_EINVAL);
        if (!strstr(err, bad[i].fragment))
            fail_msg("\"%s\": error \"%s\" lacks \"%s\"", bad[i].label, err, bad[i].fragment);
        assert_null(paper.bits);
    }
    assert_int_equal(fw_sim_zpl((const uint8_t *)"^XA^XZ", 6, fw_profile_find("escpos-58"), names,
                                &paper, err, sizeof err),
                     FW_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tickets_scan_back),
        cmocka_unit_test(layout_of_lines),
        cmocka_unit_test(bad_streams),
        cmocka_unit_test(zpl_labels),
    };
    return cmocka_run_group_tests_name("sim", tests, setup, teardown);
}
