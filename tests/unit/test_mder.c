/* IEEE 11073-20601 MDER primitives with byte vectors: SFLOAT/FLOAT values and special values,
 * BCD absolute time, APDU framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "../../firmware/proto/mder.h"

static void sfloat_values(void **state)
{
    (void)state;
    double v = 0;
    assert_int_equal(fw_mder_sfloat(0x0078, &v), FW_MDER_VALUE); /* 120 mmHg */
    assert_true(v == 120.0);
    assert_int_equal(fw_mder_sfloat(0xf48f, &v), FW_MDER_VALUE); /* 1167 x 10^-1 */
    assert_true(v == 116.7);
    assert_int_equal(fw_mder_sfloat(0xe3e8, &v), FW_MDER_VALUE); /* 1000 x 10^-2 */
    assert_true(v == 10.0);
    assert_int_equal(fw_mder_sfloat(0x0fff, &v), FW_MDER_VALUE); /* mantissa -1 */
    assert_true(v == -1.0);
    assert_int_equal(fw_mder_sfloat(0x2005, &v), FW_MDER_VALUE); /* 5 x 10^2 */
    assert_true(v == 500.0);
    assert_int_equal(fw_mder_sfloat(0xf800, &v), FW_MDER_VALUE); /* -2048 x 10^-1 */
    assert_true(v == -204.8);
}

static void sfloat_specials(void **state)
{
    (void)state;
    double v = 42;
    assert_int_equal(fw_mder_sfloat(0x07ff, &v), FW_MDER_NAN);
    assert_int_equal(fw_mder_sfloat(0x0800, &v), FW_MDER_NRES);
    assert_int_equal(fw_mder_sfloat(0x07fe, &v), FW_MDER_PINF);
    assert_int_equal(fw_mder_sfloat(0x0802, &v), FW_MDER_NINF);
    assert_int_equal(fw_mder_sfloat(0x0801, &v), FW_MDER_RESERVED);
    assert_true(v == 42); /* left alone */
    /* The same mantissas with another exponent are plain numbers. */
    assert_int_equal(fw_mder_sfloat(0x17ff, &v), FW_MDER_VALUE);
    assert_true(v == 20470.0);
    assert_string_equal(fw_mder_num_name(FW_MDER_NRES), "NRes");
}

static void float_values_and_specials(void **state)
{
    (void)state;
    double v = 0;
    assert_int_equal(fw_mder_float(0xff000cb8, &v), FW_MDER_VALUE); /* 3256 x 10^-1 */
    assert_true(v == 325.6);
    assert_int_equal(fw_mder_float(0x00000050, &v), FW_MDER_VALUE);
    assert_true(v == 80.0);
    assert_int_equal(fw_mder_float(0xfdfffc18, &v), FW_MDER_VALUE); /* -1000 x 10^-3 */
    assert_true(v == -1.0);
    assert_int_equal(fw_mder_float(0x007fffff, &v), FW_MDER_NAN);
    assert_int_equal(fw_mder_float(0x00800000, &v), FW_MDER_NRES);
    assert_int_equal(fw_mder_float(0x007ffffe, &v), FW_MDER_PINF);
    assert_int_equal(fw_mder_float(0x00800002, &v), FW_MDER_NINF);
    assert_int_equal(fw_mder_float(0x00800001, &v), FW_MDER_RESERVED);
}

static void absolute_time(void **state)
{
    (void)state;
    struct fw_mder_time t;
    const uint8_t ok[8] = {0x20, 0x26, 0x11, 0x22, 0x08, 0x15, 0x02, 0x50};
    assert_int_equal(fw_mder_abs_time(ok, &t), FW_OK);
    assert_int_equal(t.year, 2026);
    assert_int_equal(t.month, 11);
    assert_int_equal(t.day, 22);
    assert_int_equal(t.hour, 8);
    assert_int_equal(t.minute, 15);
    assert_int_equal(t.second, 2);
    assert_int_equal(t.hundredths, 50);
    const uint8_t leap[8] = {0x20, 0x24, 0x02, 0x29, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(fw_mder_abs_time(leap, &t), FW_OK);
    const uint8_t bad[][8] = {
        {0x20, 0x26, 0x1a, 0x22, 0x08, 0x15, 0x02, 0x00}, /* a nibble above 9 */
        {0x20, 0x26, 0x13, 0x01, 0x08, 0x15, 0x02, 0x00}, /* month 13 */
        {0x20, 0x26, 0x04, 0x31, 0x08, 0x15, 0x02, 0x00}, /* 31 April */
        {0x20, 0x26, 0x02, 0x29, 0x08, 0x15, 0x02, 0x00}, /* 29 February 2026 */
        {0x20, 0x26, 0x11, 0x22, 0x24, 0x00, 0x00, 0x00}, /* hour 24 */
        {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* a clock never set */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fw_mder_abs_time(bad[i], &t), FW_EINVAL);
}

static void apdu_framing(void **state)
{
    (void)state;
    /* A release request: E4 00, length 2, reason 0 (normal). */
    const uint8_t rlrq[] = {0xe4, 0x00, 0x00, 0x02, 0x00, 0x00, 0xe2};
    uint16_t choice = 0;
    const uint8_t *body = NULL;
    size_t len = 0;
    assert_int_equal(fw_mder_apdu(rlrq, sizeof rlrq, &choice, &body, &len), 6);
    assert_int_equal(choice, FW_APDU_RLRQ);
    assert_int_equal(len, 2);
    assert_ptr_equal(body, rlrq + 4);
    /* Not yet whole: more bytes needed, at every cut. */
    for (size_t n = 0; n < 6; n++)
        assert_int_equal(fw_mder_apdu(rlrq, n, &choice, &body, &len), 0);
    const uint8_t junk[] = {0x12, 0x34, 0x00, 0x00};
    assert_int_equal(fw_mder_apdu(junk, sizeof junk, &choice, &body, &len), FW_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sfloat_values),
        cmocka_unit_test(sfloat_specials),
        cmocka_unit_test(float_values_and_specials),
        cmocka_unit_test(absolute_time),
        cmocka_unit_test(apdu_framing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
