/* Vietnamese folding and normalisation. NFD strings are written with explicit combining marks:
 * U+0303 tilde, U+0302 circumflex, U+031B horn, U+0323 dot below, U+0309 hook above,
 * U+0300 grave, U+0301 acute. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../app/common/err.h"
#include "../../app/domain/text.h"

static void fold_is(const char *in, const char *want)
{
    char *out = NULL;
    assert_int_equal(text_fold(in, &out), MK_OK);
    assert_string_equal(out, want);
    free(out);
}

static void folding(void **state)
{
    (void)state;
    fold_is("Nguyễn Thị Hương", "nguyen thi huong");
    /* The same name in NFD: e + circumflex + tilde, i + dot below, u + horn, o + horn. */
    fold_is("Nguye\xcc\x82\xcc\x83n Thi\xcc\xa3 Hu\xcc\x9bo\xcc\x9bng", "nguyen thi huong");
    fold_is("ĐẶNG VĂN BÌNH", "dang van binh");
    fold_is("đặng", "dang");
    fold_is("  Lò   Văn\tCầm ", "lo van cam");
    fold_is("H'Mông", "h mong");
    fold_is("Giàng A Páo", "giang a pao");
    fold_is("Thôn 3, Tả Van", "thon 3 ta van");
    fold_is("", "");
    fold_is("ＮＧＵＹＥＮ", "nguyen"); /* full-width letters from some phone keyboards */
    /* Invisible format characters (zero-width space, soft hyphen, BOM) are dropped, not made
     * into word breaks: "Hư<ZWSP>ơng" is still "huong". */
    fold_is("H\xc6\xb0\xe2\x80\x8b\xc6\xa1ng", "huong");
    fold_is("\xef\xbb\xbfNguy\xc2\xadn", "nguyn");
}

static void nfc_and_nfd_fold_equal(void **state)
{
    (void)state;
    const char *pairs[][2] = {
        {"Hương", "Hu\xcc\x9bo\xcc\x9bng"},
        {"Mỷ", "My\xcc\x89"},
        {"Chứ", "Chu\xcc\x9b\xcc\x81"},
        {"Thào Thị Mỷ", "Tha\xcc\x80o Thi\xcc\xa3 My\xcc\x89"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        char *a, *b;
        assert_int_equal(text_fold(pairs[i][0], &a), MK_OK);
        assert_int_equal(text_fold(pairs[i][1], &b), MK_OK);
        assert_string_equal(a, b);
        free(a);
        free(b);
    }
}

static void cleaning(void **state)
{
    (void)state;
    char *out;
    /* NFD in, NFC out (the bytes of the precomposed letters). */
    assert_int_equal(text_clean("Nguye\xcc\x82\xcc\x83n  Thi\xcc\xa3 ", &out), MK_OK);
    assert_string_equal(out, "Nguyễn Thị");
    assert_memory_equal(out, "Nguy\xe1\xbb\x85n", 8);
    free(out);
    assert_int_equal(text_clean("\xef\xbb\xbfH\xc6\xb0\xe2\x80\x8b\xc6\xa1ng", &out), MK_OK);
    assert_string_equal(out, "Hương");
    free(out);
    assert_int_equal(text_clean("\t Lan \r\n", &out), MK_OK);
    assert_string_equal(out, "Lan");
    free(out);
    assert_int_equal(text_clean("bad\x01name", &out), MK_EINVAL);
    assert_int_equal(text_clean("bad\xff", &out), MK_EINVAL);
    assert_int_equal(text_clean("\xc3", &out), MK_EINVAL); /* truncated sequence */
    assert_int_equal(text_fold("\xe1\xbb", &out), MK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(folding),
        cmocka_unit_test(nfc_and_nfd_fold_equal),
        cmocka_unit_test(cleaning),
    };
    return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
