/* A visit's JSON through the screening rules, and the dashboard's counts
 * (app/domain/review.c): the age on the visit's day, symptoms, fasting, and every breakdown of
 * a small day counted by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "../../app/common/err.h"
#include "../../app/domain/review.h"

static struct screen_rules rules;

static int setup(void **state)
{
    (void)state;
    return screen_rules_default(&rules) == MK_OK ? 0 : -1;
}

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test JSON at %d: %s", e.position, e.text);
    return j;
}

/* The rule ids of a flags array, comma-joined, into out. */
static const char *ids(const json_t *flags, char *out, size_t n)
{
    size_t i;
    json_t *f;
    out[0] = '\0';
    json_array_foreach(flags, i, f)
    {
        if (i)
            strncat(out, ",", n - strlen(out) - 1);
        strncat(out, json_string_value(json_object_get(f, "rule")), n - strlen(out) - 1);
    }
    return out;
}

static void age_on_the_visit_day(void **state)
{
    (void)state;
    char buf[200];
    int age;
    /* 18 the day before the visit: adult rules */
    json_t *v = load("{\"day\":\"2026-11-22\",\"patient\":{\"sex\":\"female\","
                     "\"birth_date\":\"2008-11-21\",\"birth_year\":2008},\"symptoms\":null,"
                     "\"observations\":[{\"code\":\"bp\",\"values\":{\"systolic\":150,"
                     "\"diastolic\":95}}]}");
    json_t *f = review_visit_flags(&rules, v, &age);
    assert_int_equal(age, 18);
    assert_string_equal(ids(f, buf, sizeof buf), "bp.raised");
    assert_string_equal(json_string_value(json_object_get(json_array_get(f, 0), "level")),
                        "repeat");
    json_decref(f);
    /* 18 the day after: still a child, for the doctor's review, no adult BP flag */
    json_object_set_new(json_object_get(v, "patient"), "birth_date", json_string("2008-11-23"));
    f = review_visit_flags(&rules, v, &age);
    assert_int_equal(age, 17);
    assert_string_equal(ids(f, buf, sizeof buf), "child.review");
    json_decref(f);
    /* only the year: counted from 1 July */
    json_object_set_new(json_object_get(v, "patient"), "birth_date", json_null());
    json_object_set_new(json_object_get(v, "patient"), "birth_year", json_integer(1960));
    json_decref(review_visit_flags(&rules, v, &age));
    assert_int_equal(age, 66);
    /* nothing known: -1, adult rules */
    json_object_del(json_object_get(v, "patient"), "birth_year");
    f = review_visit_flags(&rules, v, &age);
    assert_int_equal(age, -1);
    assert_string_equal(ids(f, buf, sizeof buf), "bp.raised");
    json_decref(f);
    json_decref(v);
}

static void symptoms_and_fasting(void **state)
{
    (void)state;
    char buf[200];
    json_t *v = load("{\"day\":\"2026-11-22\",\"patient\":{\"sex\":\"male\",\"birth_year\":1960},"
                     "\"symptoms\":[\"thirst_urination\"],\"observations\":["
                     "{\"code\":\"bp\",\"values\":{\"systolic\":185,\"diastolic\":100}},"
                     "{\"code\":\"bp\",\"values\":{\"systolic\":187,\"diastolic\":102}},"
                     "{\"code\":\"glucose\",\"values\":{\"value\":7.2},\"fasting\":true}]}");
    json_t *f = review_visit_flags(&rules, v, NULL);
    /* thirst is not a sign that makes blood pressure urgent */
    json_t *top = json_array_get(f, 0);
    assert_string_equal(json_string_value(json_object_get(top, "group")), "bp");
    assert_string_not_equal(json_string_value(json_object_get(top, "level")), "urgent");
    assert_non_null(strstr(ids(f, buf, sizeof buf), "glucose.fasting"));
    json_decref(f);
    json_object_set_new(v, "symptoms", load("[\"severe_headache\"]"));
    f = review_visit_flags(&rules, v, NULL);
    top = json_array_get(f, 0);
    assert_string_equal(json_string_value(json_object_get(top, "level")), "urgent");
    /* urgent goes by the latest reading, not the mean */
    assert_non_null(strstr(json_string_value(json_object_get(top, "why")), "187"));
    assert_non_null(strstr(json_string_value(json_object_get(top, "why")), "symptoms"));
    json_decref(f);
    /* the same glucose not said to be fasting is a random one: 7.2 raises nothing */
    json_object_set_new(json_array_get(json_object_get(v, "observations"), 2), "fasting",
                        json_null());
    f = review_visit_flags(&rules, v, NULL);
    assert_null(strstr(ids(f, buf, sizeof buf), "glucose"));
    json_decref(f);
    json_decref(v);
}

static void dashboard_counts(void **state)
{
    (void)state;
    /* Three visits of two residents (one seen twice), a child, a referral cancelled. */
    json_t *visits =
        load("["
             "{\"day\":\"2026-11-22\",\"patient\":{\"code\":\"A\",\"sex\":\"female\","
             "\"birth_year\":1950,\"ethnicity\":\"08\"},\"symptoms\":null,\"observations\":["
             "{\"code\":\"bp\",\"values\":{\"systolic\":210,\"diastolic\":120}}],"
             "\"findings\":[\"I10\",\"E11.9\"],\"referrals\":[{\"to\":\"BV tỉnh\",\"urgency\":"
             "\"urgent\",\"status\":\"arrived\"},{\"to\":\"Trạm y tế\",\"urgency\":\"routine\","
             "\"status\":\"cancelled\"}]},"
             "{\"day\":\"2026-11-23\",\"patient\":{\"code\":\"A\",\"sex\":\"female\","
             "\"birth_year\":1950,\"ethnicity\":\"08\"},\"symptoms\":[],\"observations\":[],"
             "\"findings\":[\"I10\"],\"referrals\":[]},"
             "{\"day\":\"2026-11-22\",\"patient\":{\"code\":\"B\",\"sex\":\"male\","
             "\"birth_date\":\"2023-01-01\",\"birth_year\":2023,\"ethnicity\":\"01\"},"
             "\"symptoms\":null,\"observations\":[],\"findings\":[],\"referrals\":[{\"to\":"
             "\"BV tỉnh\",\"urgency\":\"soon\",\"status\":\"referred\"}]}"
             "]");
    json_t *meds = load("[{\"code\":\"AML5\",\"name\":\"Amlodipin\",\"strength\":\"5 mg\","
                        "\"unit\":\"viên\",\"dispensed\":30,\"stock\":570,\"active\":true}]");
    json_t *d = review_dashboard(&rules, visits, meds);
    char *text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    json_t *want =
        load("{\"residents\":2,\"visits\":3,\"by_sex\":{\"male\":1,\"female\":1},"
             "\"by_age\":[{\"group\":\"0-4\",\"count\":1},{\"group\":\"5-17\",\"count\":0},"
             "{\"group\":\"18-39\",\"count\":0},{\"group\":\"40-59\",\"count\":0},"
             "{\"group\":\"60+\",\"count\":1},{\"group\":\"unknown\",\"count\":0}],"
             "\"by_ethnicity\":[{\"code\":\"01\",\"count\":1,\"name\":\"Kinh\"},"
             "{\"code\":\"08\",\"count\":1,\"name\":\"H'Mông\"}],"
             "\"flagged\":{\"visits\":2,\"urgent\":1},"
             "\"flags\":[{\"rule\":\"bp.urgent\",\"count\":1,\"level\":\"urgent\"},"
             "{\"rule\":\"child.review\",\"count\":1,\"level\":\"review\"}],"
             "\"conditions\":[{\"code\":\"I10\",\"count\":2,\"vi\":\"Tăng huyết áp vô căn (nguyên "
             "phát)\",\"en\":\"Essential (primary) hypertension\"},{\"code\":\"E11.9\",\"count\":1,"
             "\"vi\":null,\"en\":null}],"
             "\"referrals\":{\"total\":2,\"arrived\":1,\"by_destination\":[{\"to\":\"BV tỉnh\","
             "\"count\":2}],\"by_urgency\":{\"routine\":0,\"soon\":1,\"urgent\":1}},"
             "\"medicines\":[{\"code\":\"AML5\",\"name\":\"Amlodipin\",\"strength\":\"5 mg\","
             "\"unit\":\"viên\",\"dispensed\":30,\"stock\":570}]}");
    /* E11.9's names come from the list: take them from the answer, check the rest exactly */
    json_t *e11 = json_array_get(json_object_get(d, "conditions"), 1);
    assert_non_null(json_string_value(json_object_get(e11, "vi")));
    json_t *w11 = json_array_get(json_object_get(want, "conditions"), 1);
    json_object_set(w11, "vi", json_object_get(e11, "vi"));
    json_object_set(w11, "en", json_object_get(e11, "en"));
    if (!json_equal(d, want)) {
        char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("dashboard\n got  %s\n want %s", text, w);
    }
    free(text);
    json_decref(want);
    json_decref(d);
    /* one raised BP asks for a repeat, two are a flag: counted apart */
    json_t *bp = load("[{\"day\":\"2026-11-22\",\"patient\":{\"code\":\"C\",\"sex\":\"male\","
                      "\"birth_year\":1960},\"observations\":[{\"code\":\"bp\",\"values\":"
                      "{\"systolic\":150,\"diastolic\":95}}]},"
                      "{\"day\":\"2026-11-22\",\"patient\":{\"code\":\"D\",\"sex\":\"male\","
                      "\"birth_year\":1960},\"observations\":[{\"code\":\"bp\",\"values\":"
                      "{\"systolic\":150,\"diastolic\":95}},{\"code\":\"bp\",\"values\":"
                      "{\"systolic\":152,\"diastolic\":97}}]},"
                      "{\"day\":\"2026-11-22\",\"patient\":{\"code\":\"E\",\"sex\":\"male\","
                      "\"birth_year\":1960},\"observations\":[{\"code\":\"bp\",\"values\":"
                      "{\"systolic\":145,\"diastolic\":92}}]}]");
    json_t *none0 = json_array();
    d = review_dashboard(&rules, bp, none0);
    json_t *want_flags = load("[{\"rule\":\"bp.raised\",\"count\":2,\"level\":\"repeat\"},"
                              "{\"rule\":\"bp.raised\",\"count\":1,\"level\":\"flag\"}]");
    assert_true(json_equal(json_object_get(d, "flags"), want_flags));
    json_decref(want_flags);
    json_decref(d);
    json_decref(bp);
    json_decref(none0);
    /* nothing: zeros, empty lists */
    json_t *none = json_array();
    d = review_dashboard(&rules, none, none);
    assert_int_equal(json_integer_value(json_object_get(d, "residents")), 0);
    assert_int_equal(json_array_size(json_object_get(d, "flags")), 0);
    json_decref(d);
    json_decref(none);
    json_decref(visits);
    json_decref(meds);
}

static void age_groups(void **state)
{
    (void)state;
    assert_string_equal(review_age_group(-1), "unknown");
    assert_string_equal(review_age_group(0), "0-4");
    assert_string_equal(review_age_group(4), "0-4");
    assert_string_equal(review_age_group(5), "5-17");
    assert_string_equal(review_age_group(17), "5-17");
    assert_string_equal(review_age_group(18), "18-39");
    assert_string_equal(review_age_group(39), "18-39");
    assert_string_equal(review_age_group(40), "40-59");
    assert_string_equal(review_age_group(59), "40-59");
    assert_string_equal(review_age_group(60), "60+");
    assert_string_equal(review_age_group(110), "60+");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(age_on_the_visit_day),
        cmocka_unit_test(symptoms_and_fasting),
        cmocka_unit_test(dashboard_counts),
        cmocka_unit_test(age_groups),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
