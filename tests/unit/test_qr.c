/* QR bitmaps and PNG output: geometry, errors, and a round trip through a real decoder
 * (zbarimg from zbar-tools, as a scanner would read the print). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fw_print.h"

static void geometry(void **state)
{
    (void)state;
    struct fw_bitmap bm;
    /* 12 upper-case alphanumerics at level M fit version 1: 21 modules + 2 x 4 quiet. */
    assert_int_equal(fw_qr_bitmap("K7Q2MX4P9RTS", 4, 'M', &bm), FW_OK);
    assert_int_equal(bm.width, (21 + 8) * 4);
    assert_int_equal(bm.height, bm.width);
    for (int x = 0; x < bm.width; x++) /* the quiet zone is white */
        for (int y = 0; y < 16; y++)
            assert_int_equal(fw_bitmap_get(&bm, x, y), 0);
    /* The top-left finder pattern: a dark 7x7 ring, white ring, dark 3x3 core. */
    assert_int_equal(fw_bitmap_get(&bm, 16, 16), 1);
    assert_int_equal(fw_bitmap_get(&bm, 16 + 6 * 4, 16), 1);
    assert_int_equal(fw_bitmap_get(&bm, 16 + 4, 16 + 4), 0);
    assert_int_equal(fw_bitmap_get(&bm, 16 + 3 * 4, 16 + 3 * 4), 1);
    fw_bitmap_free(&bm);
    assert_int_equal(fw_qr_bitmap("K7Q2MX4P9RTS", 1, 'H', &bm), FW_OK);
    assert_true(bm.width > 29); /* H needs a larger version for the same data */
    fw_bitmap_free(&bm);
}

static void ink_and_crop(void **state)
{
    (void)state;
    struct fw_bitmap bm, c;
    int x, y, w, h;
    assert_int_equal(fw_bitmap_new(&bm, 40, 10), FW_OK);
    fw_bitmap_ink(&bm, &x, &y, &w, &h);
    assert_int_equal(w, 0); /* all white */
    fw_bitmap_set(&bm, 9, 2);
    fw_bitmap_set(&bm, 20, 7);
    fw_bitmap_ink(&bm, &x, &y, &w, &h);
    assert_int_equal(x, 9);
    assert_int_equal(y, 2);
    assert_int_equal(w, 12);
    assert_int_equal(h, 6);
    assert_int_equal(fw_bitmap_crop(&bm, x, y, w, h, &c), FW_OK);
    assert_int_equal(fw_bitmap_get(&c, 0, 0), 1);
    assert_int_equal(fw_bitmap_get(&c, 11, 5), 1);
    assert_int_equal(fw_bitmap_get(&c, 5, 3), 0);
    fw_bitmap_free(&c);
    assert_int_equal(fw_bitmap_crop(&bm, 30, 0, 11, 1, &c), FW_EINVAL); /* past the edge */
    fw_bitmap_free(&bm);
    /* A QR's ink is the symbol without its quiet zone: 21 modules at version 1. */
    assert_int_equal(fw_qr_bitmap("K7Q2MX4P9RTS", 3, 'M', &bm), FW_OK);
    fw_bitmap_ink(&bm, &x, &y, &w, &h);
    assert_int_equal(x, 12);
    assert_int_equal(w, 63);
    assert_int_equal(h, 63);
    fw_bitmap_free(&bm);
}

static void bad_arguments(void **state)
{
    (void)state;
    struct fw_bitmap bm;
    assert_int_equal(fw_qr_bitmap("", 4, 'M', &bm), FW_EINVAL);
    assert_int_equal(fw_qr_bitmap("A", 0, 'M', &bm), FW_EINVAL);
    assert_int_equal(fw_qr_bitmap("A", 4, 'X', &bm), FW_EINVAL);
    assert_int_equal(fw_qr_bitmap("A", 4, '\0', &bm), FW_EINVAL);
    static char huge[8000];
    memset(huge, 'x', sizeof huge - 1);
    assert_int_equal(fw_qr_bitmap(huge, 1, 'H', &bm), FW_EINVAL); /* beyond version 40 */
    assert_null(bm.bits);
    assert_int_equal(fw_bitmap_new(&bm, 0, 10), FW_EINVAL);
    /* A PNG into a missing directory: an error, and no file left behind. */
    assert_int_equal(fw_bitmap_new(&bm, 8, 8), FW_OK);
    assert_int_equal(fw_png_write("/nonexistent-dir/x.png", &bm, 203), FW_EIO);
    /* A rename that fails (the target is a directory): an error, and the temporary file
     * removed. */
    char dir[] = "/tmp/mokit-png-XXXXXX", tmp[64];
    assert_non_null(mkdtemp(dir));
    snprintf(tmp, sizeof tmp, "%s.tmp", dir);
    assert_int_equal(fw_png_write(dir, &bm, 203), FW_EIO);
    assert_int_equal(access(tmp, F_OK), -1);
    rmdir(dir);
    assert_int_equal(fw_png_write("/tmp/x.png", &bm, 10), FW_EINVAL); /* no such dpi */
    fw_bitmap_free(&bm);
}

/* Decodes a PNG with zbarimg; returns its output (caller frees) or NULL. -Sbinary keeps
 * UTF-8 bytes as they are: without it zbar re-encodes Vietnamese text. */
static char *zbar(const char *png)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "zbarimg --quiet --nodbus --raw -Sbinary %s 2>/dev/null", png);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    char *out = calloc(1, 4096);
    size_t n = fread(out, 1, 4095, p);
    out[n] = '\0';
    pclose(p);
    return out;
}

static void round_trip(const char *data, int module, char ecc)
{
    char dir[] = "/tmp/mokit-qr-XXXXXX", png[64];
    assert_non_null(mkdtemp(dir));
    snprintf(png, sizeof png, "%s/qr.png", dir);
    struct fw_bitmap bm;
    assert_int_equal(fw_qr_bitmap(data, module, ecc, &bm), FW_OK);
    assert_int_equal(fw_png_write(png, &bm, 203), FW_OK);
    fw_bitmap_free(&bm);
    struct stat st;
    assert_int_equal(stat(png, &st), 0);
    char *got = zbar(png);
    assert_non_null(got);
    /* zbarimg ends its output with a newline. */
    size_t n = strlen(got);
    if (n && got[n - 1] == '\n')
        got[--n] = '\0';
    if (strcmp(got, data) != 0)
        fail_msg("zbarimg read \"%s\", expected \"%s\"", got, data);
    free(got);
    unlink(png);
    rmdir(dir);
}

static void decodes_back(void **state)
{
    (void)state;
    if (access("/usr/bin/zbarimg", X_OK) != 0)
        fail_msg("zbarimg is missing: install zbar-tools (images/deps.sh test)");
    round_trip("K7Q2MX4P9RTS", 4, 'M'); /* a wristband code at 4 dots a module */
    round_trip("K7Q2MX4P9RTS", 3, 'M'); /* ... and at 3, the smallest the layouts use */
    round_trip("Nguyễn Thị Hương", 4, 'Q');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(geometry),
        cmocka_unit_test(ink_and_crop),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(decodes_back),
    };
    return cmocka_run_group_tests_name("qr", tests, NULL, NULL);
}
