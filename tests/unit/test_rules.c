/* Registration rules, duplicate rule, ethnic groups, readings, roles, request bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "../../app/api/body.h"
#include "../../app/common/err.h"
#include "../../app/domain/obs.h"
#include "../../app/domain/patient.h"
#include "../../app/domain/role.h"

static const struct date today = {2026, 11, 22};

static void validation(void **state)
{
    (void)state;
    const char *field;
    char msg[160];
    struct patient p = {.name = "Giàng A Páo", .sex = SEX_MALE, .birth = {1958, 0, 0}};
    assert_int_equal(patient_validate(&p, &today, &field, msg, sizeof msg), MK_OK);
    p.birth = (struct date){2026, 11, 22};
    assert_int_equal(patient_validate(&p, &today, &field, msg, sizeof msg), MK_OK);
    p.birth = (struct date){2026, 11, 23};
    assert_int_equal(patient_validate(&p, &today, &field, msg, sizeof msg), MK_EINVAL);
    assert_string_equal(field, "birth");
    p.birth = (struct date){2027, 0, 0};
    assert_int_equal(patient_validate(&p, &today, &field, msg, sizeof msg), MK_EINVAL);
    p.birth = (struct date){1899, 0, 0};
    assert_int_equal(patient_validate(&p, &today, &field, msg, sizeof msg), MK_EINVAL);
    p.birth = (struct date){1958, 2, 29};
    assert_int_equal(patient_validate(&p, &today, &field, msg, sizeof msg), MK_EINVAL);
    p.birth = (struct date){1960, 2, 29};
    assert_int_equal(patient_validate(&p, &today, &field, msg, sizeof msg), MK_OK);
    p.cccd = "01234567890";
    assert_int_equal(patient_validate(&p, &today, &field, msg, sizeof msg), MK_EINVAL);
    assert_string_equal(field, "cccd");
    p.cccd = "012345678901";
    p.bhyt = "HN401012345678";
    assert_int_equal(patient_validate(&p, &today, &field, msg, sizeof msg), MK_EINVAL);
    assert_string_equal(field, "bhyt");
    p.bhyt = "hn4010123456789";
    assert_int_equal(patient_validate(&p, &today, &field, msg, sizeof msg), MK_OK);
    p.phone = "09123";
    assert_int_equal(patient_validate(&p, &today, &field, msg, sizeof msg), MK_EINVAL);
    assert_string_equal(field, "phone");
    p.phone = "+84912345678";
    p.sex = SEX_UNKNOWN;
    assert_int_equal(patient_validate(&p, &today, &field, msg, sizeof msg), MK_EINVAL);
    assert_string_equal(field, "sex");
    p.sex = SEX_FEMALE;
    p.name = "";
    assert_int_equal(patient_validate(&p, &today, &field, msg, sizeof msg), MK_EINVAL);
    assert_string_equal(field, "name");

    char b[16], ssn[11], ph[16];
    assert_true(bhyt_normalize("dn4797912345678", b, ssn));
    assert_string_equal(b, "DN4797912345678");
    assert_string_equal(ssn, "7912345678");
    assert_true(bhyt_normalize("DN4 79 7912345678", b, ssn)); /* as printed on the card */
    assert_string_equal(b, "DN4797912345678");
    assert_true(bhyt_normalize("7912345678", b, ssn));
    assert_string_equal(b, "7912345678");
    assert_string_equal(ssn, "7912345678");
    assert_false(bhyt_normalize("D14797912345678", b, ssn));
    assert_false(bhyt_normalize("DN47979123456789", b, ssn));
    assert_false(bhyt_normalize("79123456", b, ssn));

    assert_true(phone_normalize("0912 345 678", ph));
    assert_string_equal(ph, "0912345678");
    assert_true(phone_normalize("+84 912-345-678", ph));
    assert_string_equal(ph, "0912345678");
    assert_true(phone_normalize("84912345678", ph));
    assert_string_equal(ph, "0912345678");
    assert_true(phone_normalize("(0214) 3812 345", ph));
    assert_string_equal(ph, "02143812345");
    assert_false(phone_normalize("+1 555 123 4567", ph));
    assert_false(phone_normalize("0912", ph));
    assert_false(phone_normalize("09123x5678", ph));
}

static void duplicate_rule(void **state)
{
    (void)state;
    assert_true(
        patient_likely_duplicate("lo thi mai", 1970, "ta van", "lo thi mai", 1971, "ta van"));
    assert_true(
        patient_likely_duplicate("lo thi mai", 1970, "ta van", "lo thi mai", 1969, "ta van"));
    assert_false(
        patient_likely_duplicate("lo thi mai", 1970, "ta van", "lo thi mai", 1972, "ta van"));
    assert_false(
        patient_likely_duplicate("lo thi mai", 1970, "ta van", "lo thi mai", 1970, "ban ho"));
    assert_false(
        patient_likely_duplicate("lo thi mai", 1970, "ta van", "lo thi may", 1970, "ta van"));
    /* A commune missing on either side: ask rather than guess. */
    assert_true(patient_likely_duplicate("lo thi mai", 1970, NULL, "lo thi mai", 1970, "ta van"));
    assert_true(patient_likely_duplicate("lo thi mai", 1970, "ta van", "lo thi mai", 1970, ""));
}

static void ethnic_groups_and_sex(void **state)
{
    (void)state;
    assert_string_equal(ethnic_find("H'Mông")->code, "08");
    assert_string_equal(ethnic_find("hmong")->code, "08");
    assert_string_equal(ethnic_find("Mông")->code, "08");
    assert_string_equal(ethnic_find("8")->code, "08");
    assert_string_equal(ethnic_find("08")->code, "08");
    assert_string_equal(ethnic_find("Tày")->code, "02");
    assert_string_equal(ethnic_find("GIAY")->code, "25");
    assert_string_equal(ethnic_find("54")->name, "Rơ Măm");
    assert_null(ethnic_find("55"));
    assert_null(ethnic_find("0"));
    assert_null(ethnic_find("Klingon"));
    for (int i = 0; i < 54; i++)
        assert_ptr_equal(ethnic_find(ethnic_groups[i].name), &ethnic_groups[i]);
    enum sex s;
    assert_int_equal(sex_parse("Nữ", &s), MK_OK);
    assert_int_equal(s, SEX_FEMALE);
    assert_int_equal(sex_parse("NAM", &s), MK_OK);
    assert_int_equal(s, SEX_MALE);
    assert_int_equal(sex_parse("other", &s), MK_EINVAL);
}

static void readings(void **state)
{
    (void)state;
    char msg[160];
    const struct obs_kind *bp = obs_kind_find("bp");
    struct obs_values v = {{152, 96, 0}, {1, 1, 0}, 0};
    assert_int_equal(obs_validate(bp, &v, msg, sizeof msg), MK_OK);
    v.v[0] = 300;
    assert_int_equal(obs_validate(bp, &v, msg, sizeof msg), MK_ERANGE);
    v.v[0] = 90;
    v.v[1] = 95;
    assert_int_equal(obs_validate(bp, &v, msg, sizeof msg), MK_ERANGE); /* diastolic >= systolic */
    v.present[1] = 0;
    assert_int_equal(obs_validate(bp, &v, msg, sizeof msg), MK_EINVAL);
    struct obs_values s = {{101, 0, 0}, {1, 0, 0}, 0};
    assert_int_equal(obs_validate(obs_kind_find("spo2"), &s, msg, sizeof msg), MK_ERANGE);
    s.v[0] = 100;
    assert_int_equal(obs_validate(obs_kind_find("spo2"), &s, msg, sizeof msg), MK_OK);
    assert_string_equal(obs_kind_find("glucose")->unit, "mmol/L");
    assert_null(obs_kind_find("iq"));
}

static void readings_in_words(void **state)
{
    (void)state;
    char out[96];
    const double bp[] = {172, 104, 0};
    const int both[] = {1, 1, 0}, first[] = {1, 0, 0};
    assert_int_equal(obs_describe(obs_kind_find("bp"), bp, both, out, sizeof out),
                     strlen("Huyết áp 172/104 mmHg"));
    assert_string_equal(out, "Huyết áp 172/104 mmHg");
    assert_int_equal(obs_describe(obs_kind_find("bp"), bp, first, out, sizeof out), 0);
    const double g[] = {11.24}, w[] = {62.0}, t[] = {37.25}, s[] = {95};
    obs_describe(obs_kind_find("glucose"), g, first, out, sizeof out);
    assert_string_equal(out, "Đường huyết 11,2 mmol/L"); /* a decimal comma */
    obs_describe(obs_kind_find("weight"), w, first, out, sizeof out);
    assert_string_equal(out, "Cân nặng 62 kg");
    obs_describe(obs_kind_find("temp"), t, first, out, sizeof out);
    assert_string_equal(out, "Nhiệt độ 37,3 °C");
    obs_describe(obs_kind_find("spo2"), s, first, out, sizeof out);
    assert_string_equal(out, "SpO2 95 %");
    assert_int_equal(obs_describe(obs_kind_find("spo2"), s, first, out, 5), 0); /* no room */
    assert_int_equal(obs_describe(NULL, s, first, out, sizeof out), 0);
}

static void roles(void **state)
{
    (void)state;
    assert_true(role_perms("registrar") & PERM_PATIENT_WRITE);
    assert_false(role_perms("registrar") & PERM_OBS_WRITE);
    assert_false(role_perms("pharmacist") & PERM_PATIENT_WRITE);
    assert_true(role_perms("nurse") & PERM_OBS_WRITE);
    assert_true(role_perms("lead") & PERM_ADMIN);
    assert_false(role_perms("doctor") & PERM_ADMIN);
    assert_int_equal(role_perms("admin"), 0);
}

static int patient_body_of(const char *text, struct patient_body *b, struct body_err *err)
{
    json_t *j = body_parse(text, strlen(text), err);
    if (!j)
        return MK_EINVAL;
    int rc = body_patient(j, &today, b, err);
    json_decref(j);
    return rc;
}

static void request_bodies(void **state)
{
    (void)state;
    struct patient_body b;
    struct body_err err;
    assert_null(body_parse("", 0, &err));
    assert_string_equal(err.code, "bad_json");
    assert_null(body_parse("{\"name\":", 8, &err));
    assert_string_equal(err.code, "bad_json");
    assert_null(body_parse("[1,2]", 5, &err));
    assert_string_equal(err.code, "bad_json");
    assert_null(body_parse("{\"a\":1,\"a\":2}", 13, &err)); /* duplicate keys are ambiguous */
    const char nul[] = "{\"name\":\"A\\u0000B\",\"sex\":\"male\",\"birth\":\"1960\"}";
    assert_null(body_parse(nul, strlen(nul), &err)); /* NUL inside a string */
    assert_string_equal(err.code, "bad_json");

    const char *good = "{\"name\":\"  Thào Thị Mỷ \",\"sex\":\"nữ\",\"birth\":1962,"
                       "\"ethnicity\":\"Mông\",\"cccd\":\"010162001234\",\"consent\":true}";
    json_t *j = body_parse(good, strlen(good), &err);
    assert_non_null(j);
    assert_int_equal(body_patient(j, &today, &b, &err), MK_OK);
    assert_string_equal(b.p.name, "Thào Thị Mỷ");
    assert_int_equal(b.p.sex, SEX_FEMALE);
    assert_int_equal(b.p.birth.year, 1962);
    assert_int_equal(b.p.birth.month, 0);
    assert_string_equal(b.p.ethnicity, "08");
    assert_true(b.p.consent);
    assert_false(b.confirm_new);
    body_patient_free(&b);
    json_decref(j);

    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"sex\":\"male\",\"birth\":\"1960\"}", "name"},
        {"{\"name\":42,\"sex\":\"male\",\"birth\":\"1960\"}", "name"},
        {"{\"name\":\"A\",\"birth\":\"1960\"}", "sex"},
        {"{\"name\":\"A\",\"sex\":\"x\",\"birth\":\"1960\"}", "sex"},
        {"{\"name\":\"A\",\"sex\":\"male\"}", "birth"},
        {"{\"name\":\"A\",\"sex\":\"male\",\"birth\":{}}", "birth"},
        {"{\"name\":\"A\",\"sex\":\"male\",\"birth\":\"1960-13-01\"}", "birth"},
        {"{\"name\":\"A\",\"sex\":\"male\",\"birth\":1800}", "birth"},
        {"{\"name\":\"A\",\"sex\":\"male\",\"birth\":\"1960\",\"cccd\":123}", "cccd"},
        {"{\"name\":\"A\",\"sex\":\"male\",\"birth\":\"1960\",\"cccd\":\"123\"}", "cccd"},
        {"{\"name\":\"A\",\"sex\":\"male\",\"birth\":\"1960\",\"consent\":\"yes\"}", "consent"},
        {"{\"name\":\"A\",\"sex\":\"male\",\"birth\":\"1960\",\"ethnicity\":\"Elf\"}", "ethnicity"},
        {"{\"name\":\"A\\u0007\",\"sex\":\"male\",\"birth\":\"1960\"}", "name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(patient_body_of(bad[i].body, &b, &err), MK_EINVAL);
        assert_string_equal(err.code, "invalid");
        assert_string_equal(err.field, bad[i].field);
    }

    /* Staff and campaign text is cleaned like a patient's: NFC, trimmed, no control chars. */
    struct staff_body sb;
    const char *st =
        "{\"name\":\" Le\xcc\x82 Thi\xcc\xa3 Hoa \",\"role\":\"nurse\",\"pin\":\"2468\"}";
    j = body_parse(st, strlen(st), &err);
    assert_int_equal(body_staff(j, &sb, &err), MK_OK);
    assert_string_equal(sb.name, "Lê Thị Hoa");
    json_decref(j);
    struct campaign_in ci;
    const char *cb = "{\"code\":\"C1\",\"name\":\"T\\u0007\"}";
    j = body_parse(cb, strlen(cb), &err);
    assert_int_equal(body_campaign(j, &ci, &err), MK_EINVAL);
    assert_string_equal(err.field, "name");
    json_decref(j);

    const struct obs_kind *k;
    struct obs_values v;
    const char *note;
    const char *o1 = "{\"code\":\"bp\",\"values\":{\"systolic\":150,\"diastolic\":95}}";
    j = body_parse(o1, strlen(o1), &err);
    assert_int_equal(body_obs(j, &k, &v, &note, &err), MK_OK);
    assert_string_equal(k->code, "bp");
    assert_true(v.v[0] == 150 && v.v[1] == 95 && v.present[0] && v.present[1] && !v.present[2]);
    json_decref(j);
    const char *o2 = "{\"code\":\"spo2\",\"value\":101}";
    j = body_parse(o2, strlen(o2), &err);
    assert_int_equal(body_obs(j, &k, &v, &note, &err), MK_EINVAL);
    assert_string_equal(err.code, "out_of_range");
    json_decref(j);
    const char *o3 = "{\"code\":\"bp\",\"values\":{\"systolic\":\"150\",\"diastolic\":95}}";
    j = body_parse(o3, strlen(o3), &err);
    assert_int_equal(body_obs(j, &k, &v, &note, &err), MK_EINVAL);
    assert_string_equal(err.code, "invalid");
    json_decref(j);
    const char *o4 = "{\"code\":\"bp\",\"values\":{\"systolic\":150,\"dia\":95}}";
    j = body_parse(o4, strlen(o4), &err);
    assert_int_equal(body_obs(j, &k, &v, &note, &err), MK_EINVAL);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(validation),
        cmocka_unit_test(duplicate_rule),
        cmocka_unit_test(ethnic_groups_and_sex),
        cmocka_unit_test(readings),
        cmocka_unit_test(readings_in_words),
        cmocka_unit_test(roles),
        cmocka_unit_test(request_bodies),
    };
    return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
