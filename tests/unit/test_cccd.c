/* CCCD QR parsing: the formats scanners deliver and the errors people meet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "../../app/common/err.h"
#include "../../app/domain/cccd.h"

#define GOOD \
    "001089012345|123456789|Nguyễn Văn An|15081989|Nam|Thôn 3, Tả Van, Sa Pa, Lào Cai|20062021"

static int parse(const char *text, struct cccd *c, char *msg)
{
    return cccd_parse(text, strlen(text), c, msg, 200);
}

static void good_card(void **state)
{
    (void)state;
    struct cccd c;
    char msg[200];
    assert_int_equal(parse(GOOD, &c, msg), MK_OK);
    assert_string_equal(c.id, "001089012345");
    assert_string_equal(c.old_id, "123456789");
    assert_string_equal(c.name, "Nguyễn Văn An");
    assert_int_equal(c.birth.year, 1989);
    assert_int_equal(c.birth.month, 8);
    assert_int_equal(c.birth.day, 15);
    assert_int_equal(c.sex, SEX_MALE);
    assert_string_equal(c.address, "Thôn 3, Tả Van, Sa Pa, Lào Cai");
    assert_int_equal(c.issued.year, 2021);
    assert_int_equal(c.issued.month, 6);
    assert_int_equal(c.issued.day, 20);
    cccd_free(&c);
}

static void scanner_forms(void **state)
{
    (void)state;
    struct cccd c;
    char msg[200];
    /* Trailing CR/LF and spaces from a keyboard-mode scanner. */
    assert_int_equal(parse(GOOD "\r\n", &c, msg), MK_OK);
    assert_int_equal(c.issued.day, 20);
    cccd_free(&c);
    assert_int_equal(parse("  " GOOD " \n", &c, msg), MK_OK);
    cccd_free(&c);
    /* No old ID; a woman; name in NFD (Thị with a combining dot below; Nữ with horn + tilde). */
    assert_int_equal(parse("038190001122||Le\xcc\x82 Thi\xcc\xa3 Hoa|29022000|Nu\xcc\x9b\xcc\x83|"
                           "Bản Lao Chải|01012021",
                           &c, msg),
                     MK_OK);
    assert_string_equal(c.old_id, "");
    assert_string_equal(c.name, "Lê Thị Hoa");
    assert_int_equal(c.sex, SEX_FEMALE);
    assert_int_equal(c.birth.day, 29); /* 2000 is a leap year */
    cccd_free(&c);
    /* Newer cards carry more fields: accepted. */
    assert_int_equal(parse(GOOD "|extra|fields", &c, msg), MK_OK);
    assert_string_equal(c.id, "001089012345");
    cccd_free(&c);
}

static void expect_error(const char *text, const char *fragment)
{
    struct cccd c;
    char msg[200] = "";
    assert_int_equal(cccd_parse(text, strlen(text), &c, msg, sizeof msg), MK_EINVAL);
    if (!strstr(msg, fragment))
        fail_msg("message \"%s\" lacks \"%s\"", msg, fragment);
}

static void bad_cards(void **state)
{
    (void)state;
    expect_error("001089012345|123456789|Nguyễn Văn An|15081989|Nam|Thôn 3", "6 fields");
    expect_error("HELLO WORLD", "1 fields");
    expect_error("", "empty");
    expect_error("\r\n", "empty");
    expect_error("00108901234|123456789|An|15081989|Nam|x|20062021", "12 digits");
    expect_error("0010890123456|123456789|An|15081989|Nam|x|20062021", "12 digits");
    expect_error("00108901234A|123456789|An|15081989|Nam|x|20062021", "12 digits");
    expect_error("001089012345|123456789|An|31022000|Nam|x|20062021", "birth date");
    expect_error("001089012345|123456789|An|29021999|Nam|x|20062021", "birth date");
    expect_error("001089012345|123456789|An|1508198|Nam|x|20062021", "birth date");
    expect_error("001089012345|123456789|An|15081989|Nam|x|32062021", "issue date");
    expect_error("001089012345|123456789|An|15081989|Nam|x|20061980", "before the birth");
    expect_error("001089012345|123456789|An|15081989|Male?|x|20062021", "sex");
    expect_error("001089012345|12345|An|15081989|Nam|x|20062021", "old ID");
    expect_error("001089012345|123456789||15081989|Nam|x|20062021", "name");
    expect_error("001089012345|123456789|A\xff|15081989|Nam|x|20062021", "name");
    const char nul[] = "001089012345|1|A\0B|15081989|Nam|x|20062021";
    struct cccd c;
    char msg[200];
    assert_int_equal(cccd_parse(nul, sizeof nul - 1, &c, msg, sizeof msg), MK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_card),
        cmocka_unit_test(scanner_forms),
        cmocka_unit_test(bad_cards),
    };
    return cmocka_run_group_tests_name("cccd", tests, NULL, NULL);
}
