/* ICD-10 list for screening days: lookup, code shapes, search, and the table itself. NFD strings
 * are written with explicit combining marks: U+0306 breve, U+0302 circumflex, U+031B horn,
 * U+0301 acute, U+0323 dot below. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "../../app/common/err.h"
#include "../../app/domain/icd10.h"
#include "../../app/domain/text.h"

#define MAX 200

/* Index of code in the results, or -1. */
static int position(const struct icd10 **r, size_t n, const char *code)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(r[i]->code, code) == 0)
            return (int)i;
    return -1;
}

static void finds(const char *q, const char *code)
{
    const struct icd10 *r[MAX];
    size_t n = icd10_search(q, r, MAX);
    if (position(r, n, code) < 0)
        fail_msg("\"%s\" does not find %s (%zu results)", q, code, n);
}

static void finds_first(const char *q, const char *code)
{
    const struct icd10 *r[MAX];
    size_t n = icd10_search(q, r, MAX);
    assert_true(n > 0);
    if (strcmp(r[0]->code, code) != 0)
        fail_msg("\"%s\" gives %s first, not %s", q, r[0]->code, code);
}

static void not_finds(const char *q, const char *code)
{
    const struct icd10 *r[MAX];
    size_t n = icd10_search(q, r, MAX);
    if (position(r, n, code) >= 0)
        fail_msg("\"%s\" finds %s", q, code);
}

/* Runs first so that the names are folded for the first time by several threads at once. */
static void *search_in_thread(void *arg)
{
    (void)arg;
    for (int k = 0; k < 20; k++) {
        const struct icd10 *r[MAX];
        size_t n = icd10_search("tang huyet ap", r, MAX);
        if (position(r, n, "I10") < 0)
            return (void *)1;
    }
    return NULL;
}

static void concurrent_first_search(void **state)
{
    (void)state;
    /* qemu-user runs the arm64 build's tests, and its threads hang in this test on this
     * machine (tests/run.sh says so): the native and sanitizer runs check it. */
    if (getenv("MOKIT_TEST_EMULATED")) {
        search_in_thread(NULL);
        skip();
    }
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, search_in_thread, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        assert_int_equal(pthread_join(t[i], &r), 0);
        assert_null(r);
    }
}

static void find(void **state)
{
    (void)state;
    const struct icd10 *e = icd10_find("I10");
    assert_non_null(e);
    assert_string_equal(e->code, "I10");
    assert_string_equal(e->vi, "Tăng huyết áp vô căn (nguyên phát)");
    assert_string_equal(e->group, "cardio");
    assert_ptr_equal(icd10_find("i10"), e);

    e = icd10_find("E11.9");
    assert_non_null(e);
    assert_string_equal(e->en, "Type 2 diabetes mellitus without complications");
    assert_ptr_equal(icd10_find("e11.9"), e);

    assert_null(icd10_find("E119"));   /* the dot is part of the code; search accepts this */
    assert_null(icd10_find("E11"));    /* a category, not in the list */
    assert_null(icd10_find("I10.0"));  /* right shape, not in the list */
    assert_null(icd10_find("I48.91")); /* ICD-10-CM, not WHO */
    assert_null(icd10_find(" I10"));
    assert_null(icd10_find("I10 "));
    assert_null(icd10_find(""));
    assert_null(icd10_find(NULL));
}

static void code_shapes(void **state)
{
    (void)state;
    const char *good[] = {"I10", "E11.9", "M17.1", "B18.10", "e11.9", "Z00.0", "A00"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!icd10_code_valid(good[i]))
            fail_msg("\"%s\" should be valid", good[i]);
    const char *bad[] = {"I1",   "I100",   "1I0",   "I10.",  "I10.123", "",
                         "I",    "II0",    "I1O",   ".I10",  "I10 ",    " I10",
                         "I10-", "I10..1", "I10.a", "I10,9", "ÉI10",    "I１0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (icd10_code_valid(bad[i]))
            fail_msg("\"%s\" should not be valid", bad[i]);
    assert_false(icd10_code_valid(NULL));
}

static void search_everything(void **state)
{
    (void)state;
    const struct icd10 *r[MAX];
    size_t all = icd10_count();
    assert_int_equal(icd10_search(NULL, r, MAX), all);
    for (size_t i = 0; i < all; i++)
        assert_ptr_equal(r[i], icd10_at(i));
    assert_int_equal(icd10_search("", r, MAX), all);
    assert_int_equal(icd10_search("   ", r, MAX), all);
    assert_int_equal(icd10_search("-", r, MAX), all); /* no letter or digit: nothing to filter */
    assert_int_equal(icd10_search(NULL, r, 5), 5);
    assert_ptr_equal(r[4], icd10_at(4));
    assert_int_equal(icd10_search(NULL, r, 0), 0);
    assert_int_equal(icd10_search(NULL, NULL, 10), 0);
}

static void search_by_code(void **state)
{
    (void)state;
    const struct icd10 *r[MAX];
    /* Every code of the list that starts with I1 comes first, in table order. */
    size_t n = icd10_search("I1", r, MAX);
    assert_true(n >= 3);
    assert_string_equal(r[0]->code, "I10");
    assert_string_equal(r[1]->code, "I11.9");
    assert_string_equal(r[2]->code, "I15.9");
    for (size_t i = 3; i < n; i++)
        assert_false(r[i]->code[0] == 'I' && r[i]->code[1] == '1');

    finds_first("i1", "I10");
    finds_first("e119", "E11.9");
    finds_first("E11.9", "E11.9");
    finds_first("e11.9", "E11.9");
    finds_first(" E119 ", "E11.9");
    finds_first("E11.", "E11.3");
    n = icd10_search("e119", r, MAX);
    assert_int_equal(n, 1);

    /* Code matches first, then name matches, none twice: "b" is B-codes, then names with a
     * word starting with b ("bệnh", "bronchitis"). */
    n = icd10_search("b", r, MAX);
    size_t codes = 0;
    while (codes < n && r[codes]->code[0] == 'B')
        codes++;
    assert_true(codes >= 5);
    assert_true(n > codes);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_ptr_not_equal(r[i], r[j]);
}

static void search_by_name(void **state)
{
    (void)state;
    finds("tăng huyết áp", "I10");
    finds("tang huyet ap", "I10");
    finds("TANG HUYET", "I10");
    finds("Tăng Huyết", "I10");
    finds("ta\xcc\x86ng huye\xcc\x82\xcc\x81t a\xcc\x81p", "I10"); /* NFD */
    finds("huyet tang", "I10");                                    /* any order */
    finds("tang  huyet,  ap", "I10");
    finds("hypert", "I10");
    finds("HYPERTENSION", "I10");
    finds("essential hypertension", "I10");
    finds("diab", "E11.9");
    finds("đái tháo đường", "E11.9");
    finds("dai thao duong type 2", "E11.9");
    not_finds("dai thao duong type 2", "E10.9"); /* "2" starts no word of the type 1 name */
    finds("thoai hoa gối", "M17.9");             /* some accents typed, some not */
    finds("duc thuy tinh the", "H25.9");
    finds("sau rang", "K02.9");
    finds("tieu chay", "A09.9");
    finds("diarrh", "A09.9");
    finds("chronic obstructive", "J44.9");
}

static void search_no_match(void **state)
{
    (void)state;
    const struct icd10 *r[MAX];
    assert_int_equal(icd10_search("xyzzy", r, MAX), 0);
    assert_int_equal(icd10_search("tang xyzzy", r, MAX), 0); /* every word must match */
    assert_int_equal(icd10_search("Q99", r, MAX), 0);
    assert_int_equal(icd10_search("pertension", r, MAX), 0); /* a word's start, not its middle */
    assert_int_equal(icd10_search("\xff", r, MAX), 0);       /* not UTF-8 */
    assert_int_equal(icd10_search("I10", r, 0), 0);
}

static void search_respects_max(void **state)
{
    (void)state;
    const struct icd10 *r[MAX];
    size_t n = icd10_search("tang", r, MAX);
    assert_true(n > 3);
    const struct icd10 *few[3] = {NULL, NULL, NULL};
    assert_int_equal(icd10_search("tang", few, 2), 2);
    assert_ptr_equal(few[0], r[0]);
    assert_ptr_equal(few[1], r[1]);
    assert_null(few[2]);
    assert_int_equal(icd10_search("I1", few, 1), 1);
    assert_string_equal(few[0]->code, "I10");
}

static int is_nfc(const char *s)
{
    utf8proc_uint8_t *nfc = utf8proc_NFC((const utf8proc_uint8_t *)s);
    int same = nfc && strcmp((const char *)nfc, s) == 0;
    free(nfc);
    return same;
}

static int is_valid_utf8(const char *s)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(s);
    while (left > 0) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t len = utf8proc_iterate(p, left, &cp);
        if (len <= 0)
            return 0;
        p += len;
        left -= len;
    }
    return 1;
}

static void name_ok(const char *code, const char *name)
{
    if (!name || !name[0])
        fail_msg("%s: empty name", code);
    if (!is_valid_utf8(name))
        fail_msg("%s: not UTF-8: %s", code, name);
    if (!is_nfc(name))
        fail_msg("%s: not NFC: %s", code, name);
    /* What storage would keep: no control characters, no doubled or outer spaces. */
    char *clean = NULL;
    assert_int_equal(text_clean(name, &clean), MK_OK);
    if (strcmp(clean, name) != 0)
        fail_msg("%s: not clean: \"%s\"", code, name);
    free(clean);
    char *key = NULL;
    assert_int_equal(text_fold(name, &key), MK_OK);
    if (!key[0])
        fail_msg("%s: nothing to search by in \"%s\"", code, name);
    free(key);
}

static void table_integrity(void **state)
{
    (void)state;
    static const char *const groups[] = {
        "cardio",    "metabolic", "respiratory", "eye",    "ent",     "dental", "skin",  "musculo",
        "digestive", "infection", "neuro",       "mental", "urinary", "women",  "child", "other"};
    size_t n = icd10_count();
    assert_true(n >= 80 && n <= 130);
    assert_null(icd10_at(n));
    for (size_t i = 0; i < n; i++) {
        const struct icd10 *e = icd10_at(i);
        assert_non_null(e);
        assert_non_null(e->code);
        if (!icd10_code_valid(e->code))
            fail_msg("entry %zu: bad code \"%s\"", i, e->code);
        for (const char *c = e->code; *c; c++)
            if (*c >= 'a' && *c <= 'z')
                fail_msg("%s: code not uppercase", e->code);
        /* Sorted by code, which also makes every code unique. */
        if (i > 0 && strcmp(icd10_at(i - 1)->code, e->code) >= 0)
            fail_msg("%s after %s: not sorted or a duplicate", e->code, icd10_at(i - 1)->code);
        name_ok(e->code, e->vi);
        name_ok(e->code, e->en);
        for (const char *c = e->en; *c; c++)
            if ((unsigned char)*c >= 0x80)
                fail_msg("%s: English name not ASCII: %s", e->code, e->en);
        size_t g = 0;
        while (g < sizeof groups / sizeof groups[0] && strcmp(groups[g], e->group) != 0)
            g++;
        if (g == sizeof groups / sizeof groups[0])
            fail_msg("%s: unknown group \"%s\"", e->code, e->group);
        assert_ptr_equal(icd10_find(e->code), e);
        finds_first(e->code, e->code); /* every entry can be picked by typing its code */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(concurrent_first_search),
        cmocka_unit_test(find),
        cmocka_unit_test(code_shapes),
        cmocka_unit_test(search_everything),
        cmocka_unit_test(search_by_code),
        cmocka_unit_test(search_by_name),
        cmocka_unit_test(search_no_match),
        cmocka_unit_test(search_respects_max),
        cmocka_unit_test(table_integrity),
    };
    return cmocka_run_group_tests_name("icd10", tests, NULL, NULL);
}
