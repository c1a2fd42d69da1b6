/* Screening rules (app/domain/screen.c): a table of cases, each threshold just below, at and
 * above; children; missing and implausible values; and the rules file's errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../app/common/err.h"
#include "../../app/domain/screen.h"

#define BP(s, d)                                       \
    {                                                  \
        .kind = "bp", .v = {s, d}, .present = { 1, 1 } \
    }
#define ONE(k, x)                             \
    {                                         \
        .kind = k, .v = {x}, .present = { 1 } \
    }
#define GLU(x, fast)                                                 \
    {                                                                \
        .kind = "glucose", .v = {x}, .present = {1}, .fasting = fast \
    }
#define NONE NULL, SCREEN_INFO

struct scase {
    const char *name;
    int age;
    char sex;
    int symptoms;
    struct screen_obs obs[4];
    const char *group; /* the group looked at */
    const char *want;  /* the rule that fires in it, NULL for none */
    enum screen_level level;
    const char *why; /* a part of the flag's why, or NULL */
};

static const struct scase cases[] = {
    /* Raised blood pressure: >= 140/90, one reading asks for a repeat, two give their mean. */
    {"139/89", 50, 'F', -1, {BP(139, 89)}, "bp", NONE, NULL},
    {"140/80: at systolic",
     50,
     'F',
     -1,
     {BP(140, 80)},
     "bp",
     "bp.raised",
     SCREEN_REPEAT,
     "repeat after a few minutes"},
    {"130/90: at diastolic",
     50,
     'F',
     -1,
     {BP(130, 90)},
     "bp",
     "bp.raised",
     SCREEN_REPEAT,
     "diastolic 90 mmHg >= 90"},
    {"141/91", 50, 'M', -1, {BP(141, 91)}, "bp", "bp.raised", SCREEN_REPEAT, NULL},
    {"150/95 twice: raised",
     50,
     'M',
     -1,
     {BP(150, 95), BP(150, 95)},
     "bp",
     "bp.raised",
     SCREEN_FLAG,
     "systolic 150 mmHg (mean of 2) >= 140"},
    {"150/95 then 128/80: mean 139/87.5",
     50,
     'M',
     -1,
     {BP(150, 95), BP(128, 80)},
     "bp",
     NONE,
     NULL},
    {"150/95 then 130/85: mean 140/90, at",
     50,
     'M',
     -1,
     {BP(150, 95), BP(130, 85)},
     "bp",
     "bp.raised",
     SCREEN_FLAG,
     "diastolic 90 mmHg (mean of 2) >= 90"},
    {"the mean of the last two only",
     50,
     'M',
     -1,
     {BP(190, 100), BP(130, 80), BP(130, 80)},
     "bp",
     NONE,
     NULL},
    /* Urgent: > 200/110; > 180/110 with symptoms. */
    {"200/110: not above 200/110; symptoms not asked",
     50,
     'F',
     -1,
     {BP(200, 110)},
     "bp",
     "bp.severe",
     SCREEN_FLAG,
     "symptoms not asked: urgent if any"},
    {"201/100: urgent",
     50,
     'F',
     -1,
     {BP(201, 100)},
     "bp",
     "bp.urgent",
     SCREEN_URGENT,
     "systolic 201 mmHg > 200"},
    {"190/111: urgent by diastolic",
     50,
     'F',
     0,
     {BP(190, 111)},
     "bp",
     "bp.urgent",
     SCREEN_URGENT,
     NULL},
    {"urgent at once, no repeat waited for",
     50,
     'F',
     0,
     {BP(120, 80), BP(205, 100)},
     "bp",
     "bp.urgent",
     SCREEN_URGENT,
     NULL},
    {"181/100 with symptoms: urgent",
     50,
     'M',
     1,
     {BP(181, 100)},
     "bp",
     "bp.severe",
     SCREEN_URGENT,
     "with symptoms"},
    {"181/100 without symptoms: raised, repeat",
     50,
     'M',
     0,
     {BP(181, 100)},
     "bp",
     "bp.raised",
     SCREEN_REPEAT,
     NULL},
    {"180/100 with symptoms: not above 180",
     50,
     'M',
     1,
     {BP(180, 100)},
     "bp",
     "bp.raised",
     SCREEN_REPEAT,
     NULL},
    /* Children: adult thresholds do not apply; the doctor reviews. */
    {"a child's 150/95: no adult flag", 12, 'F', -1, {BP(150, 95)}, "bp", NONE, NULL},
    {"a child: review",
     12,
     'F',
     -1,
     {BP(150, 95)},
     "child",
     "child.review",
     SCREEN_REVIEW,
     "age 12 < 18"},
    {"17: a child", 17, 'M', -1, {{0}}, "child", "child.review", SCREEN_REVIEW, NULL},
    {"18: an adult", 18, 'M', -1, {{0}}, "child", NONE, NULL},
    {"age not known: adult rules, said",
     -1,
     'M',
     -1,
     {BP(150, 95)},
     "bp",
     "bp.raised",
     SCREEN_REPEAT,
     "age not known: adult rules"},
    {"age not known: not a child", -1, 'M', -1, {{0}}, "child", NONE, NULL},
    /* Missing and implausible values fire nothing. */
    {"no readings", 50, 'F', -1, {{0}}, "bp", NONE, NULL},
    {"systolic without diastolic",
     50,
     'F',
     -1,
     {{.kind = "bp", .v = {210}, .present = {1}}},
     "bp",
     NONE,
     NULL},
    {"implausible 300/100 (a typo)", 50, 'F', -1, {BP(300, 100)}, "bp", NONE, NULL},
    {"diastolic above systolic", 50, 'F', -1, {BP(120, 150)}, "bp", NONE, NULL},
    {"implausible SpO2 30 %", 50, 'F', -1, {ONE("spo2", 30)}, "spo2", NONE, NULL},
    {"NaN", 50, 'F', -1, {ONE("spo2", NAN)}, "spo2", NONE, NULL},
    {"unknown kind", 50, 'F', -1, {ONE("mood", 1)}, "spo2", NONE, NULL},
    /* Glucose: fasting >= 7.0, random >= 11.1, >= 18 urgent, < 3.9 low, < 3.0 urgent. */
    {"fasting 6.9", 50, 'F', -1, {GLU(6.9, 1)}, "glucose", NONE, NULL},
    {"fasting 7.0",
     50,
     'F',
     -1,
     {GLU(7.0, 1)},
     "glucose",
     "glucose.fasting",
     SCREEN_FLAG,
     "glucose_fasting 7 mmol/L >= 7"},
    {"fasting 7.1", 50, 'F', -1, {GLU(7.1, 1)}, "glucose", "glucose.fasting", SCREEN_FLAG, NULL},
    {"random 11.0", 50, 'F', -1, {GLU(11.0, 0)}, "glucose", NONE, NULL},
    {"random 11.1", 50, 'F', -1, {GLU(11.1, 0)}, "glucose", "glucose.random", SCREEN_FLAG, NULL},
    {"not known whether fasting: the random rule",
     50,
     'F',
     -1,
     {GLU(11.2, -1)},
     "glucose",
     "glucose.random",
     SCREEN_FLAG,
     NULL},
    {"random 9 then fasting 8: the fasting one",
     50,
     'F',
     -1,
     {GLU(9, 0), GLU(8, 1)},
     "glucose",
     "glucose.fasting",
     SCREEN_FLAG,
     NULL},
    {"17.9", 50, 'F', -1, {GLU(17.9, 0)}, "glucose", "glucose.random", SCREEN_FLAG, NULL},
    {"18.0: urgent", 50, 'F', -1, {GLU(18.0, 0)}, "glucose", "glucose.urgent", SCREEN_URGENT, NULL},
    {"18.1: urgent", 50, 'F', -1, {GLU(18.1, 1)}, "glucose", "glucose.urgent", SCREEN_URGENT, NULL},
    {"3.9", 50, 'F', -1, {GLU(3.9, 0)}, "glucose", NONE, NULL},
    {"3.8: low", 50, 'F', -1, {GLU(3.8, 0)}, "glucose", "glucose.low", SCREEN_FLAG, NULL},
    {"3.0: low", 50, 'F', -1, {GLU(3.0, 0)}, "glucose", "glucose.low", SCREEN_FLAG, NULL},
    {"2.9: urgent",
     50,
     'F',
     -1,
     {GLU(2.9, 0)},
     "glucose",
     "glucose.low.urgent",
     SCREEN_URGENT,
     NULL},
    {"a child's 18: urgent",
     10,
     'F',
     -1,
     {GLU(18, 0)},
     "glucose",
     "glucose.urgent",
     SCREEN_URGENT,
     NULL},
    {"a child's fasting 8: no adult rule", 10, 'F', -1, {GLU(8, 1)}, "glucose", NONE, NULL},
    /* SpO2: < 94 flag, < 90 urgent, at every age. */
    {"SpO2 94", 50, 'M', -1, {ONE("spo2", 94)}, "spo2", NONE, NULL},
    {"SpO2 93", 50, 'M', -1, {ONE("spo2", 93)}, "spo2", "spo2.low", SCREEN_FLAG, NULL},
    {"SpO2 90", 50, 'M', -1, {ONE("spo2", 90)}, "spo2", "spo2.low", SCREEN_FLAG, NULL},
    {"SpO2 89",
     50,
     'M',
     -1,
     {ONE("spo2", 89)},
     "spo2",
     "spo2.urgent",
     SCREEN_URGENT,
     "spo2 89 % < 90"},
    {"a child's SpO2 89",
     5,
     'M',
     -1,
     {ONE("spo2", 89)},
     "spo2",
     "spo2.urgent",
     SCREEN_URGENT,
     NULL},
    {"the latest SpO2 counts", 50, 'M', -1, {ONE("spo2", 85), ONE("spo2", 97)}, "spo2", NONE, NULL},
    /* BMI (Asian cut-offs), height 160 cm: 18.4 / 18.5 / 22.9 / 23.0 / 24.9 / 25.0. */
    {"BMI 18.4",
     40,
     'F',
     -1,
     {ONE("weight", 47.1), ONE("height", 160)},
     "bmi",
     "bmi.under",
     SCREEN_FLAG,
     "bmi 18.4 kg/m2 < 18.5"},
    {"BMI 18.5", 40, 'F', -1, {ONE("weight", 47.36), ONE("height", 160)}, "bmi", NONE, NULL},
    {"BMI 22.9", 40, 'F', -1, {ONE("weight", 58.6), ONE("height", 160)}, "bmi", NONE, NULL},
    {"BMI 23.0",
     40,
     'F',
     -1,
     {ONE("weight", 58.9), ONE("height", 160)},
     "bmi",
     "bmi.overweight",
     SCREEN_INFO,
     NULL},
    {"BMI 24.9",
     40,
     'F',
     -1,
     {ONE("weight", 63.7), ONE("height", 160)},
     "bmi",
     "bmi.overweight",
     SCREEN_INFO,
     NULL},
    {"BMI 25.0",
     40,
     'F',
     -1,
     {ONE("weight", 64.0), ONE("height", 160)},
     "bmi",
     "bmi.obese",
     SCREEN_FLAG,
     "bmi 25 kg/m2 >= 25"},
    {"weight without height: no BMI", 40, 'F', -1, {ONE("weight", 90)}, "bmi", NONE, NULL},
    {"a child's BMI: no adult cut-off",
     9,
     'F',
     -1,
     {ONE("weight", 64), ONE("height", 160)},
     "bmi",
     NONE,
     NULL},
    /* Waist (PEN): women >= 90 cm, men >= 100 cm. */
    {"woman 89 cm", 45, 'F', -1, {ONE("waist", 89)}, "waist", NONE, NULL},
    {"woman 90 cm", 45, 'F', -1, {ONE("waist", 90)}, "waist", "waist.women", SCREEN_INFO, NULL},
    {"man 99 cm", 45, 'M', -1, {ONE("waist", 99)}, "waist", NONE, NULL},
    {"man 100 cm", 45, 'M', -1, {ONE("waist", 100)}, "waist", "waist.men", SCREEN_INFO, NULL},
    {"sex not known", 45, 0, -1, {ONE("waist", 120)}, "waist", NONE, NULL},
};

static void table(void **state)
{
    (void)state;
    struct screen_rules rules;
    assert_int_equal(screen_rules_default(&rules), MK_OK);
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct scase *c = &cases[i];
        size_t nobs = 0;
        while (nobs < 4 && c->obs[nobs].kind)
            nobs++;
        struct screen_patient p = {.age = c->age, .sex = c->sex, .symptoms = c->symptoms};
        struct screen_flag f[SCREEN_MAX_RULES];
        size_t n = screen_evaluate(&rules, &p, c->obs, nobs, f, SCREEN_MAX_RULES);
        const struct screen_flag *hit = NULL;
        for (size_t k = 0; k < n; k++)
            if (strcmp(f[k].rule->group, c->group) == 0)
                hit =
                    hit ? (bad++, printf("case \"%s\": two flags in %s\n", c->name, c->group), hit)
                        : &f[k];
        bool ok = c->want ? hit && strcmp(hit->rule->id, c->want) == 0 && hit->level == c->level
                          : hit == NULL;
        if (ok && c->why && !strstr(hit->why, c->why))
            ok = false;
        if (!ok) {
            bad++;
            printf("case \"%s\": want %s %s%s%s, got %s %s (%s)\n", c->name,
                   c->want ? c->want : "nothing", c->want ? screen_level_name(c->level) : "",
                   c->why ? " with " : "", c->why ? c->why : "", hit ? hit->rule->id : "nothing",
                   hit ? screen_level_name(hit->level) : "", hit ? hit->why : "");
        }
    }
    assert_int_equal(bad, 0);
}

static void order(void **state)
{
    (void)state;
    struct screen_rules rules;
    assert_int_equal(screen_rules_default(&rules), MK_OK);
    struct screen_patient p = {.age = 60, .sex = 'M', .symptoms = -1};
    struct screen_obs o[] = {ONE("weight", 70), ONE("height", 170), BP(150, 95),
                             GLU(19, 0),        ONE("spo2", 92),    ONE("waist", 101)};
    struct screen_flag f[8];
    size_t n = screen_evaluate(&rules, &p, o, 6, f, 8);
    /* urgent first, then flags, the repeat, then information; one per group */
    assert_int_equal(n, 5);
    assert_string_equal(f[0].rule->id, "glucose.urgent");
    assert_string_equal(f[1].rule->id, "spo2.low");
    assert_string_equal(f[2].rule->id, "bp.raised");
    assert_int_equal(f[2].level, SCREEN_REPEAT);
    assert_string_equal(f[3].rule->id, "bmi.overweight"); /* BMI 24.2 */
    assert_string_equal(f[4].rule->id, "waist.men");
    assert_string_equal(f[0].rule->msg_vi, "Đường huyết rất cao (≥ 18 mmol/L): chuyển bác sĩ ngay");
    /* max limits what is written, the most serious kept */
    assert_int_equal(screen_evaluate(&rules, &p, o, 6, f, 1), 1);
    assert_string_equal(f[0].rule->id, "glucose.urgent");
    /* BMI 24.2: normal by WHO, overweight by the Asian cut-off; no other flag */
    struct screen_obs bmi[] = {ONE("weight", 70), ONE("height", 170)};
    assert_int_equal(screen_evaluate(&rules, &p, bmi, 2, f, 8), 1);
    assert_string_equal(f[0].rule->id, "bmi.overweight");
    assert_string_equal(f[0].why, "bmi 24.2 kg/m2 >= 23");
}

static void loading(void **state)
{
    (void)state;
    struct screen_rules r;
    char err[200];
    assert_int_equal(screen_rules_default(&r), MK_OK);
    assert_int_equal(r.adult_age, 18);
    assert_true(r.nrules >= 16);
    const struct {
        const char *json, *err;
    } bad[] = {
        {"{", "line 1:"},
        {"[]", "expected {"},
        {"{\"rules\": [{\"group\": \"x\"}]}", "rule 1 (no id): \"id\""},
        {"{\"rules\": [{\"id\": \"a\", \"level\": \"panic\"}]}", "rule 1 (a): \"level\""},
        {"{\"rules\": [{\"id\": \"a\", \"level\": \"flag\", \"measure\": [\"mood\", \">\", 1], "
         "\"message\": {\"vi\": \"x\", \"en\": \"x\"}}]}",
         "rule 1 (a): unknown measure"},
        {"{\"rules\": [{\"id\": \"a\", \"level\": \"flag\", \"measure\": [\"spo2\", \"=<\", 1], "
         "\"message\": {\"vi\": \"x\", \"en\": \"x\"}}]}",
         "rule 1 (a): the operator"},
        {"{\"rules\": [{\"id\": \"a\", \"level\": \"flag\", \"measure\": [\"spo2\", \"<\", 90]}]}",
         "rule 1 (a): \"message\" needs"},
        {"{\"rules\": [{\"id\": \"a\", \"level\": \"flag\", \"repeat\": true, \"measure\": "
         "[\"spo2\", \"<\", 90], \"message\": {\"vi\": \"x\", \"en\": \"x\"}}]}",
         "\"repeat\" is for blood pressure"},
        {"{\"rules\": [{\"id\": \"a\", \"level\": \"info\", \"message\": {\"vi\": \"x\", \"en\": "
         "\"x\"}}, {\"id\": \"a\", \"level\": \"info\", \"message\": {\"vi\": \"x\", \"en\": "
         "\"x\"}}]}",
         "rule 2 (a): the id is used twice"},
        {"{\"adult_age\": 0, \"rules\": []}", "\"adult_age\""},
        {"{\"rules\": [{\"id\": \"a\", \"level\": \"flag\", \"ages\": \"old\"}]}", "\"ages\""},
        {"{\"rules\": [{\"id\": \"a\", \"level\": \"flag\", \"measure\": [\"spo2\", \"<\", 9], "
         "\"any\": [[\"spo2\", \"<\", 9]], \"message\": {\"vi\": \"x\", \"en\": \"x\"}}]}",
         "give one of"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(screen_rules_parse(bad[i].json, strlen(bad[i].json), &r, err, sizeof err),
                         MK_EINVAL);
        if (!strstr(err, bad[i].err))
            fail_msg("rules %zu: \"%s\" lacks \"%s\"", i, err, bad[i].err);
        /* nothing half-loaded: the rules in hand are still the defaults */
        assert_int_equal(r.adult_age, 18);
        assert_true(r.nrules >= 16);
    }
    /* A kit's own rule: fever, for everyone. */
    const char *own = "{\"adult_age\": 16, \"rules\": [{\"id\": \"fever\", \"level\": \"flag\", "
                      "\"measure\": [\"temp\", \">=\", 38], \"message\": {\"vi\": \"Sốt\", "
                      "\"en\": \"Fever\"}}]}";
    assert_int_equal(screen_rules_parse(own, strlen(own), &r, err, sizeof err), MK_OK);
    assert_int_equal(r.adult_age, 16);
    assert_int_equal(r.nrules, 1);
    struct screen_patient p = {.age = 16, .sex = 'F', .symptoms = -1};
    struct screen_obs o[] = {ONE("temp", 38.2), BP(210, 120)};
    struct screen_flag f[4];
    assert_int_equal(screen_evaluate(&r, &p, o, 2, f, 4), 1);
    assert_string_equal(f[0].rule->id, "fever");
    assert_string_equal(f[0].rule->group, "fever"); /* the id when no group is given */
    assert_string_equal(f[0].why, "temp 38.2 Cel >= 38");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table),
        cmocka_unit_test(order),
        cmocka_unit_test(loading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
