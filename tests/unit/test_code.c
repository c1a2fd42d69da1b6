/* Patient codes: ISO/IEC 7064 MOD 37-2 check characters. The expected check characters were
 * computed independently from the standard's definition (sum of a_i * 2^(i-1) = 1 mod 37). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "../../app/common/err.h"
#include "../../app/domain/code.h"

static const char symbols[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

static void known_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        char check;
    } v[] = {{"K7Q2MX4P9RT", 'S'}, {"00000000000", '1'}, {"ZZZZZZZZZZZ", 'C'},
             {"H706U9FKTW3", 'Z'}, {"A0000000000", 'J'}, {"0000000000A", 'I'}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        int c = code_check_value(v[i].body, CODE_BODY_LEN);
        assert_int_equal(symbols[c], v[i].check);
    }
    /* 00000000001 needs the 37th symbol '*': never issued. */
    assert_int_equal(code_check_value("00000000001", CODE_BODY_LEN), 36);
    assert_int_equal(code_check_value("abc", 3), -1);
}

static void from_random(void **state)
{
    (void)state;
    char code[CODE_LEN + 1];
    uint8_t rnd[CODE_RANDOM_BYTES];
    for (int i = 0; i < CODE_RANDOM_BYTES; i++)
        rnd[i] = (uint8_t)(i * 37 + 11);
    assert_int_equal(code_from_random(rnd, sizeof rnd, code), MK_OK);
    assert_int_equal(strlen(code), CODE_LEN);
    for (int i = 0; i < CODE_LEN; i++)
        assert_non_null(strchr(symbols, code[i]));
    char again[CODE_LEN + 1];
    assert_int_equal(code_parse(code, again), MK_OK);
    assert_string_equal(code, again);

    /* Bytes >= 252 are rejected (uniformity): 11 usable bytes are needed. */
    uint8_t few[14] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 252, 253, 254, 255};
    assert_int_equal(code_from_random(few, sizeof few, code), MK_EINVAL);
    /* A body whose check value is 36 is refused: the caller draws again. */
    uint8_t star[11] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    assert_int_equal(code_from_random(star, sizeof star, code), MK_EINVAL);
    /* 36 -> '0' and 37 -> '1': the modulo maps bytes onto symbols. */
    uint8_t wrap[11] = {36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 0};
    assert_int_equal(code_from_random(wrap, sizeof wrap, code), MK_OK);
    assert_string_equal(code, "000000000001");
}

static void every_single_error_caught(void **state)
{
    (void)state;
    const char *samples[] = {"K7Q2MX4P9RTS", "000000000001", "ZZZZZZZZZZZC", "H706U9FKTW3Z"};
    char out[CODE_LEN + 1];
    for (size_t s = 0; s < sizeof samples / sizeof samples[0]; s++) {
        assert_int_equal(code_parse(samples[s], out), MK_OK);
        for (int pos = 0; pos < CODE_LEN; pos++) {
            for (int k = 0; k < 36; k++) {
                char bad[CODE_LEN + 1];
                memcpy(bad, samples[s], sizeof bad);
                if (bad[pos] == symbols[k])
                    continue;
                bad[pos] = symbols[k];
                assert_int_equal(code_parse(bad, out), MK_ECHECK);
            }
        }
    }
}

static void every_adjacent_transposition_caught(void **state)
{
    (void)state;
    /* Also many random-looking codes, so every pair of symbols meets at every position. */
    char code[CODE_LEN + 1], out[CODE_LEN + 1];
    int tested = 0;
    for (int seed = 0; seed < 400; seed++) {
        uint8_t rnd[CODE_RANDOM_BYTES];
        for (int i = 0; i < CODE_RANDOM_BYTES; i++)
            rnd[i] = (uint8_t)((seed * 131 + i * 71 + (seed * i) % 29) % 252);
        if (code_from_random(rnd, sizeof rnd, code) != MK_OK)
            continue;
        for (int pos = 0; pos + 1 < CODE_LEN; pos++) {
            char bad[CODE_LEN + 1];
            memcpy(bad, code, sizeof bad);
            if (bad[pos] == bad[pos + 1])
                continue;
            bad[pos] = code[pos + 1];
            bad[pos + 1] = code[pos];
            assert_int_equal(code_parse(bad, out), MK_ECHECK);
            tested++;
        }
    }
    assert_true(tested > 3000);
}

static void typed_and_scanned_forms(void **state)
{
    (void)state;
    char out[CODE_LEN + 1];
    assert_int_equal(code_parse("k7q2 mx4p 9rts", out), MK_OK);
    assert_string_equal(out, "K7Q2MX4P9RTS");
    assert_int_equal(code_parse("K7Q2-MX4P-9RTS\r\n", out), MK_OK);
    assert_string_equal(out, "K7Q2MX4P9RTS");
    assert_int_equal(code_parse("K7Q2MX4P9RT", out), MK_EINVAL);   /* too short */
    assert_int_equal(code_parse("K7Q2MX4P9RTSS", out), MK_EINVAL); /* too long */
    assert_int_equal(code_parse("K7Q2MX4P9RT*", out), MK_EINVAL);  /* '*' is never issued */
    assert_int_equal(code_parse("K7Q2MX4P9RTÁ", out), MK_EINVAL);
    assert_int_equal(code_parse("", out), MK_EINVAL);
    char grouped[16];
    code_format("K7Q2MX4P9RTS", grouped);
    assert_string_equal(grouped, "K7Q2 MX4P 9RTS");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_vectors),
        cmocka_unit_test(from_random),
        cmocka_unit_test(every_single_error_caught),
        cmocka_unit_test(every_adjacent_transposition_caught),
        cmocka_unit_test(typed_and_scanned_forms),
    };
    return cmocka_run_group_tests_name("code", tests, NULL, NULL);
}
