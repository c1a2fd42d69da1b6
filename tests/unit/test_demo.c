/* The demo resident generator: deterministic, valid, and with realistic proportions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../app/demo/demo.h"
#include "../../app/domain/text.h"

#include <stdlib.h>
#include <string.h>

#define N_PEOPLE 10000

static const struct date today = {2026, 11, 22};

static void test_rng_deterministic(void **state)
{
    (void)state;
    struct demo_rng a, b, c;
    demo_rng_seed(&a, 42);
    demo_rng_seed(&b, 42);
    demo_rng_seed(&c, 43);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = demo_rng_next(&a);
        assert_int_equal(x, demo_rng_next(&b));
        differ += x != demo_rng_next(&c);
    }
    assert_true(differ > 990);
    /* Seed 0 is a valid seed, not a stuck stream. */
    demo_rng_seed(&a, 0);
    uint64_t first = demo_rng_next(&a);
    assert_true(first != 0 || demo_rng_next(&a) != 0);
}

static void test_same_seed_same_people(void **state)
{
    (void)state;
    struct demo_rng a, b, c;
    demo_rng_seed(&a, 7);
    demo_rng_seed(&b, 7);
    demo_rng_seed(&c, 8);
    int same_as_other_seed = 0;
    for (int i = 0; i < 500; i++) {
        struct demo_person p, q, o;
        demo_person_make(&a, &today, &p);
        demo_person_make(&b, &today, &q);
        demo_person_make(&c, &today, &o);
        assert_string_equal(p.name, q.name);
        assert_int_equal(p.sex, q.sex);
        assert_int_equal(p.birth.year, q.birth.year);
        assert_int_equal(p.birth.month, q.birth.month);
        assert_int_equal(p.birth.day, q.birth.day);
        assert_string_equal(p.ethnicity, q.ethnicity);
        assert_string_equal(p.village, q.village);
        assert_string_equal(p.phone, q.phone);
        same_as_other_seed += strcmp(p.name, o.name) == 0 && p.birth.year == o.birth.year;
    }
    assert_true(same_as_other_seed < 50);
}

static void test_birth_dates_valid(void **state)
{
    (void)state;
    static const struct date days[] = {
        {2026, 11, 22}, {2024, 2, 29}, {2025, 1, 1}, {2025, 12, 31}, {1930, 6, 15},
    };
    for (size_t k = 0; k < sizeof days / sizeof days[0]; k++) {
        struct demo_rng r;
        demo_rng_seed(&r, 1000 + k);
        int year_only = 0, children = 0, bump = 0;
        for (int i = 0; i < N_PEOPLE; i++) {
            struct demo_person p;
            demo_person_make(&r, &days[k], &p);
            assert_true(p.sex == SEX_MALE || p.sex == SEX_FEMALE);
            assert_true(p.birth.year >= 1900 && p.birth.year <= days[k].year);
            if (p.birth.month == 0) {
                assert_int_equal(p.birth.day, 0);
                year_only++;
            } else {
                assert_true(date_valid(p.birth.year, p.birth.month, p.birth.day));
                assert_true(date_cmp(&p.birth, &days[k]) <= 0);
            }
            int age = date_age(&p.birth, &days[k]);
            assert_true(age >= 0 && age <= 100);
            children += age < 18;
            bump += age >= 40 && age <= 75;
        }
        assert_in_range(year_only, N_PEOPLE * 18 / 100, N_PEOPLE * 32 / 100);
        if (days[k].year > 2000) {
            assert_in_range(children, N_PEOPLE * 5 / 100, N_PEOPLE * 20 / 100);
            assert_in_range(bump, N_PEOPLE * 45 / 100, N_PEOPLE * 70 / 100);
        }
    }
}

static int starts_with_word(const char *name, const char *word)
{
    size_t n = strlen(word);
    return strncmp(name, word, n) == 0 && name[n] == ' ';
}

static void test_proportions(void **state)
{
    (void)state;
    struct demo_rng r;
    demo_rng_seed(&r, 2026);
    int nguyen = 0, kinh = 0, kinh_nguyen = 0, hmong = 0, female = 0, no_phone = 0;
    for (int i = 0; i < N_PEOPLE; i++) {
        struct demo_person p;
        demo_person_make(&r, &today, &p);
        int is_nguyen = starts_with_word(p.name, "Nguyễn");
        nguyen += is_nguyen;
        if (strcmp(p.ethnicity, "01") == 0) {
            kinh++;
            kinh_nguyen += is_nguyen;
        }
        hmong += strcmp(p.ethnicity, "08") == 0;
        female += p.sex == SEX_FEMALE;
        no_phone += p.phone[0] == '\0';
    }
    /* A Lào Cai commune: ~45 % Kinh, of whom ~38 % are Nguyễn; a few Tày Nguyễn too. */
    assert_in_range(nguyen, N_PEOPLE * 12 / 100, N_PEOPLE * 24 / 100);
    assert_in_range(kinh, N_PEOPLE * 40 / 100, N_PEOPLE * 50 / 100);
    assert_in_range(kinh_nguyen * 100 / kinh, 33, 43);
    assert_in_range(hmong, N_PEOPLE * 20 / 100, N_PEOPLE * 30 / 100);
    assert_in_range(female, N_PEOPLE * 45 / 100, N_PEOPLE * 60 / 100);
    assert_in_range(no_phone, N_PEOPLE * 50 / 100, N_PEOPLE * 70 / 100);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_names_distinct_enough(void **state)
{
    (void)state;
    /* Common names repeat (that is the point), but not so much that search is trivial. */
    enum { N = 2000 };
    static char names[N][96];
    struct demo_rng r;
    demo_rng_seed(&r, 5);
    for (int i = 0; i < N; i++) {
        struct demo_person p;
        demo_person_make(&r, &today, &p);
        memcpy(names[i], p.name, sizeof names[i]);
    }
    qsort(names, N, sizeof names[0], cmp_str);
    int distinct = 1;
    for (int i = 1; i < N; i++)
        distinct += strcmp(names[i - 1], names[i]) != 0;
    assert_in_range(distinct, N / 2, N - 1);
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return s[n] == '\0';
}

static void test_fields_well_formed(void **state)
{
    (void)state;
    struct demo_rng r;
    demo_rng_seed(&r, 99);
    for (int i = 0; i < N_PEOPLE; i++) {
        struct demo_person p;
        demo_person_make(&r, &today, &p);

        /* Valid UTF-8, already NFC, single spaces, no edge spaces: text_clean is the identity. */
        char *clean = NULL;
        assert_int_equal(text_clean(p.name, &clean), 0);
        assert_string_equal(clean, p.name);
        free(clean);
        assert_int_equal(text_clean(p.village, &clean), 0);
        assert_string_equal(clean, p.village);
        free(clean);
        assert_true(strlen(p.name) >= 5 && strlen(p.name) < sizeof p.name);
        assert_non_null(strchr(p.name, ' '));
        assert_true(p.village[0] != '\0');

        /* The GSO code of a real group. */
        assert_int_equal(strlen(p.ethnicity), 2);
        assert_true(all_digits(p.ethnicity, 2));
        int code = atoi(p.ethnicity);
        assert_in_range(code, 1, 54);
        assert_non_null(ethnic_find(p.ethnicity));

        if (p.phone[0]) {
            assert_true(all_digits(p.phone, 10));
            assert_int_equal(p.phone[0], '0');
            assert_non_null(strchr("35789", p.phone[1]));
        }

        /* What the store would accept. */
        struct patient pt = {.name = p.name,
                             .sex = p.sex,
                             .birth = p.birth,
                             .ethnicity = p.ethnicity,
                             .village = p.village,
                             .phone = p.phone};
        const char *field = NULL;
        char msg[128];
        assert_int_equal(patient_validate(&pt, &today, &field, msg, sizeof msg), 0);
    }
}

static void test_name_patterns(void **state)
{
    (void)state;
    /* Each group's names look like that group's: H'Mông men "Giàng A Páo", Dao "Tẩn Láo Lở". */
    struct demo_rng r;
    demo_rng_seed(&r, 3);
    int hmong_a = 0, hmong_m = 0, thi = 0, female = 0;
    for (int i = 0; i < N_PEOPLE; i++) {
        struct demo_person p;
        demo_person_make(&r, &today, &p);
        if (strcmp(p.ethnicity, "08") == 0 && p.sex == SEX_MALE) {
            hmong_m++;
            hmong_a += strstr(p.name, " A ") != NULL;
        }
        if (p.sex == SEX_FEMALE) {
            female++;
            thi += strstr(p.name, " Thị ") != NULL;
        }
        if (p.sex == SEX_MALE)
            assert_null(strstr(p.name, " Thị "));
    }
    assert_in_range(hmong_a * 100 / hmong_m, 40, 70);
    assert_in_range(thi * 100 / female, 30, 80);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_deterministic),     cmocka_unit_test(test_same_seed_same_people),
        cmocka_unit_test(test_birth_dates_valid),     cmocka_unit_test(test_proportions),
        cmocka_unit_test(test_names_distinct_enough), cmocka_unit_test(test_fields_well_formed),
        cmocka_unit_test(test_name_patterns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
