/* FHIR R4 mapping (app/domain/fhir.c): whole resources compared byte for byte, the JSON writer's
 * escaping, conditional-create queries, systems, derived ids, the code tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../app/domain/fhir.h"

static const struct fhir_ctx REL = {
    .refs = FHIR_REFS_RELATIVE,
    .sys_cccd = "urn:oid:2.16.704.1",
    .sys_bhyt = FHIR_DEFAULT_SYS_BHYT,
    .sys_code = FHIR_DEFAULT_SYS_CODE,
    .organization_id = "00000000-0000-8000-8000-00000000000a",
    .location_id = "00000000-0000-7000-8000-00000000000c",
};

#define P "01900000-0000-7000-8000-000000000001"
#define E "01900000-0000-7000-8000-000000000002"
#define S "01900000-0000-7000-8000-000000000003"

/* Compares b's contents with want and frees b. */
static void expect(struct fhir_buf *b, const char *want)
{
    assert_false(b->failed);
    char *got = strndup(b->p ? b->p : "", b->len);
    if (strcmp(got, want) != 0)
        fail_msg("got:\n%s\nwant:\n%s", got, want);
    free(got);
    fhir_buf_free(b);
}

/* b's contents as a C string (the buffer holds no NUL of its own). */
static const char *cstr(struct fhir_buf *b)
{
    fhir_buf_put(b, "", 1);
    assert_false(b->failed);
    return b->p;
}

static void json_strings(void **state)
{
    (void)state;
    struct fhir_buf b = {0};
    fhir_buf_put_json_string(&b, "Nguyễn \"A\"\\\n\t\x01");
    expect(&b, "\"Nguyễn \\\"A\\\"\\\\\\n\\t\\u0001\"");
    /* Bytes that are not UTF-8 (a lone continuation, an overlong '/', a surrogate) become
     * U+FFFD, one each: the output stays valid JSON whatever the store holds. */
    fhir_buf_put_json_string(&b, "a\x80z\xc0\xafz\xed\xa0\x80z\xe1\x80");
    expect(&b, "\"a\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz"
               "\xef\xbf\xbd\xef\xbf\xbd\"");
    fhir_buf_put_json_string(&b, "");
    expect(&b, "\"\"");
}

static void systems(void **state)
{
    (void)state;
    assert_true(fhir_system_valid("urn:oid:2.16.704.1"));
    assert_true(fhir_system_valid("https://benhvien.example/fhir/cccd"));
    assert_true(fhir_system_valid(FHIR_DEFAULT_SYS_CCCD));
    assert_false(fhir_system_valid(NULL));
    assert_false(fhir_system_valid(""));
    assert_false(fhir_system_valid("cccd"));         /* no scheme */
    assert_false(fhir_system_valid("urn:"));         /* nothing after it */
    assert_false(fhir_system_valid("1urn:x"));       /* scheme starts with a letter */
    assert_false(fhir_system_valid("urn:a b"));      /* space */
    assert_false(fhir_system_valid("urn:a|b"));      /* would split the identifier token */
    assert_false(fhir_system_valid("urn:\xc3\xa1")); /* not ASCII */
    char longs[300];
    memset(longs, 'a', sizeof longs);
    memcpy(longs, "urn:", 4);
    longs[256] = '\0';
    assert_false(fhir_system_valid(longs));
    longs[255] = '\0';
    assert_true(fhir_system_valid(longs));
}

static void if_none_exist(void **state)
{
    (void)state;
    char out[128];
    assert_int_equal(fhir_if_none_exist(out, sizeof out, "urn:ietf:rfc:3986", "urn:uuid:" P),
                     strlen("identifier=urn:ietf:rfc:3986|urn:uuid:" P));
    assert_string_equal(out, "identifier=urn:ietf:rfc:3986|urn:uuid:" P);
    /* Characters with a meaning in a query are encoded, as is anything not ASCII. */
    fhir_if_none_exist(out, sizeof out, "https://h.example/a?b=c&d#e", "1 2%3|4đ");
    assert_string_equal(out, "identifier=https://h.example/a%3Fb%3Dc%26d%23e|1%202%253%7C4%C4%91");
    /* Too small: 0, never a truncated query. */
    assert_int_equal(fhir_if_none_exist(out, 20, "urn:ietf:rfc:3986", "urn:uuid:" P), 0);
    assert_int_equal(fhir_if_none_exist(out, 5, "urn:x", "1"), 0);
    size_t n = strlen("identifier=urn:x|12");
    assert_int_equal(fhir_if_none_exist(out, n + 1, "urn:x", "12"), n);
    assert_int_equal(fhir_if_none_exist(out, n, "urn:x", "12"), 0);
}

static void derived_ids(void **state)
{
    (void)state;
    char a[37], b[37], c[37];
    fhir_uuid_derive("Device", "cms50/CMS50D+/SN0042", a);
    fhir_uuid_derive("Device", "cms50/CMS50D+/SN0042", b);
    fhir_uuid_derive("Device", "cms50/CMS50D+/SN0043", c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_int_equal(strlen(a), 36);
    assert_int_equal(a[14], '8');           /* version 8 */
    assert_non_null(strchr("89ab", a[19])); /* variant 10 */
    assert_int_equal(a[8], '-');
    /* The kind is part of the name: an Organization and a Device of the same name differ, and
     * "ab"+"c" is not "a"+"bc". */
    fhir_uuid_derive("Organization", "cms50/CMS50D+/SN0042", c);
    assert_string_not_equal(a, c);
    fhir_uuid_derive("ab", "c", a);
    fhir_uuid_derive("a", "bc", b);
    assert_string_not_equal(a, b);
}

static void code_tables(void **state)
{
    (void)state;
    const char *d = NULL;
    assert_string_equal(fhir_snomed_for_icd10("I10", &d), "38341003");
    assert_string_equal(fhir_snomed_for_icd10("I11.9", &d), "38341003");
    assert_string_equal(fhir_snomed_for_icd10("I15", &d), "38341003");
    assert_string_equal(fhir_snomed_for_icd10("E11.9", &d), "73211009");
    assert_string_equal(d, "Diabetes mellitus");
    assert_string_equal(fhir_snomed_for_icd10("E14", &d), "73211009");
    assert_null(fhir_snomed_for_icd10("I14", &d));
    assert_null(fhir_snomed_for_icd10("I20", &d));
    assert_null(fhir_snomed_for_icd10("E15", &d));
    assert_null(fhir_snomed_for_icd10("J06.9", &d));
    assert_null(fhir_snomed_for_icd10("E1", &d));
    assert_null(fhir_snomed_for_icd10(NULL, &d));
    assert_true(fhir_obs_code_known("bp"));
    assert_true(fhir_obs_code_known("waist"));
    assert_false(fhir_obs_code_known("hba1c"));
    assert_false(fhir_obs_code_known(NULL));
    assert_true(fhir_bmi_value(60, 160) == 23.4); /* 23.4375 */
    assert_true(fhir_bmi_value(72.5, 170) == 25.1);
    assert_true(fhir_bmi_value(60, 0) == 0);
    assert_true(fhir_bmi_value(-1, 160) == 0);
}

static void observation_bp(void **state)
{
    (void)state;
    struct fhir_buf b = {0};
    struct fhir_obs o = {
        .id = "01900000-0000-7000-8000-0000000000b1",
        .patient_id = P,
        .encounter_id = E,
        .code = "bp",
        .unit = "mm[Hg]",
        .v = {152, 96.5, 0},
        .has = {1, 1, 0},
        .fasting = -1,
        .taken_at = "2026-11-18T07:15:02.123Z",
        .staff_id = S,
        .device_id = "00000000-0000-8000-8000-0000000000d1",
    };
    assert_int_equal(fhir_observation(&b, &REL, &o), 0);
    expect(&b,
           "{\"resourceType\":\"Observation\",\"id\":\"01900000-0000-7000-8000-0000000000b1\","
           "\"meta\":{\"profile\":[\"http://hl7.org/fhir/StructureDefinition/bp\"]},"
           "\"identifier\":[{\"system\":\"urn:ietf:rfc:3986\",\"value\":"
           "\"urn:uuid:01900000-0000-7000-8000-0000000000b1\"}],\"status\":\"final\","
           "\"category\":[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/"
           "observation-category\",\"code\":\"vital-signs\",\"display\":\"Vital Signs\"}]}],"
           "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"85354-9\","
           "\"display\":\"Blood pressure panel with all children optional\"}],"
           "\"text\":\"Blood pressure\"},"
           "\"subject\":{\"reference\":\"Patient/" P "\"},"
           "\"encounter\":{\"reference\":\"Encounter/" E "\"},"
           "\"effectiveDateTime\":\"2026-11-18T07:15:02.123Z\","
           "\"performer\":[{\"reference\":\"Practitioner/" S "\"}],"
           "\"device\":{\"reference\":\"Device/00000000-0000-8000-8000-0000000000d1\"},"
           "\"component\":["
           "{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8480-6\","
           "\"display\":\"Systolic blood pressure\"}]},\"valueQuantity\":{\"value\":152,"
           "\"unit\":\"mmHg\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"mm[Hg]\"}},"
           "{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8462-4\","
           "\"display\":\"Diastolic blood pressure\"}]},\"valueQuantity\":{\"value\":96.5,"
           "\"unit\":\"mmHg\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"mm[Hg]\"}}]}");
}

static void observation_glucose(void **state)
{
    (void)state;
    struct fhir_buf b = {0};
    struct fhir_ctx urn = REL;
    urn.refs = FHIR_REFS_URN;
    struct fhir_obs o = {
        .id = "01900000-0000-7000-8000-0000000000b2",
        .patient_id = P,
        .code = "glucose",
        .unit = "mmol/L",
        .v = {7.3},
        .has = {1},
        .fasting = 1,
        .taken_at = "2026-11-18T07:20:00.000Z",
        .note = "sau ăn",
    };
    assert_int_equal(fhir_observation(&b, &urn, &o), 0);
    expect(&b, "{\"resourceType\":\"Observation\",\"id\":\"01900000-0000-7000-8000-0000000000b2\","
               "\"contained\":[{\"resourceType\":\"Specimen\",\"id\":\"specimen\",\"type\":{"
               "\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/v2-0487\","
               "\"code\":\"BLDC\",\"display\":\"Blood capillary\"}]},"
               "\"subject\":{\"reference\":\"urn:uuid:" P "\"},"
               "\"collection\":{\"fastingStatusCodeableConcept\":{\"coding\":[{\"system\":"
               "\"http://terminology.hl7.org/CodeSystem/v2-0916\",\"code\":\"F\",\"display\":"
               "\"Patient was fasting prior to the procedure.\"}]}}}],"
               "\"identifier\":[{\"system\":\"urn:ietf:rfc:3986\",\"value\":"
               "\"urn:uuid:01900000-0000-7000-8000-0000000000b2\"}],\"status\":\"final\","
               "\"category\":[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/"
               "observation-category\",\"code\":\"laboratory\",\"display\":\"Laboratory\"}]}],"
               "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"14743-9\","
               "\"display\":\"Glucose [Moles/volume] in Capillary blood by Glucometer\"},"
               "{\"system\":\"http://loinc.org\",\"code\":\"15074-8\",\"display\":"
               "\"Glucose [Moles/volume] in Blood\"}],\"text\":\"Blood glucose\"},"
               "\"subject\":{\"reference\":\"urn:uuid:" P "\"},"
               "\"effectiveDateTime\":\"2026-11-18T07:20:00.000Z\","
               "\"valueQuantity\":{\"value\":7.3,\"unit\":\"mmol/L\",\"system\":"
               "\"http://unitsofmeasure.org\",\"code\":\"mmol/L\"},"
               "\"note\":[{\"text\":\"sau ăn\"}],\"specimen\":{\"reference\":\"#specimen\"}}");
    o.code = "hba1c";
    assert_int_equal(fhir_observation(&b, &urn, &o), -1);
    assert_int_equal(b.len, 0);
    fhir_buf_free(&b);
}

static void patient(void **state)
{
    (void)state;
    struct fhir_buf b = {0};
    struct fhir_patient p = {
        .id = P,
        .code = "K7Q2MX4P9RT3",
        .name = "Nguyễn Thị Hương",
        .sex = "female",
        .birth_year = 1968,
        .phone = "0912345678",
        .village = "Thôn 3",
        .commune = "Tả Van",
        .province = "Lào Cai",
        .cccd = "010168001234",
    };
    fhir_patient(&b, &REL, &p);
    expect(&b,
           "{\"resourceType\":\"Patient\",\"id\":\"" P "\",\"identifier\":["
           "{\"use\":\"usual\",\"type\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/"
           "CodeSystem/v2-0203\",\"code\":\"MR\",\"display\":\"Medical record number\"}],"
           "\"text\":\"mokit code\"},\"system\":\"urn:mokit:id:patient-code\",\"value\":"
           "\"K7Q2MX4P9RT3\"},"
           "{\"use\":\"official\",\"type\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/"
           "CodeSystem/v2-0203\",\"code\":\"NI\",\"display\":\"National unique individual "
           "identifier\"}],\"text\":\"CCCD\"},\"system\":\"urn:oid:2.16.704.1\",\"value\":"
           "\"010168001234\"},"
           "{\"system\":\"urn:ietf:rfc:3986\",\"value\":\"urn:uuid:" P "\"}],"
           "\"name\":[{\"use\":\"official\",\"text\":\"Nguyễn Thị Hương\",\"family\":\"Nguyễn\","
           "\"given\":[\"Thị\",\"Hương\"]}],"
           "\"telecom\":[{\"system\":\"phone\",\"value\":\"0912345678\",\"use\":\"mobile\"}],"
           "\"gender\":\"female\",\"birthDate\":\"1968\","
           "\"address\":[{\"use\":\"home\",\"line\":[\"Thôn 3\"],\"city\":\"Tả Van\","
           "\"state\":\"Lào Cai\",\"country\":\"VN\"}]}");
    const char *sys, *val;
    fhir_patient_key(&REL, &p, &sys, &val);
    assert_string_equal(sys, "urn:oid:2.16.704.1");
    assert_string_equal(val, "010168001234");
    p.cccd = "";
    fhir_patient_key(&REL, &p, &sys, &val);
    assert_string_equal(sys, FHIR_DEFAULT_SYS_CODE);
    assert_string_equal(val, "K7Q2MX4P9RT3");

    /* One word: the text alone; a full birth date; no address parts: no address. */
    struct fhir_patient q = {.id = P,
                             .code = "K7Q2MX4P9RT3",
                             .name = "Páo",
                             .sex = "male",
                             .birth_date = "1950-02-03",
                             .birth_year = 1950};
    fhir_patient(&b, &REL, &q);
    expect(&b, "{\"resourceType\":\"Patient\",\"id\":\"" P "\",\"identifier\":["
               "{\"use\":\"usual\",\"type\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/"
               "CodeSystem/v2-0203\",\"code\":\"MR\",\"display\":\"Medical record number\"}],"
               "\"text\":\"mokit code\"},\"system\":\"urn:mokit:id:patient-code\",\"value\":"
               "\"K7Q2MX4P9RT3\"},"
               "{\"system\":\"urn:ietf:rfc:3986\",\"value\":\"urn:uuid:" P "\"}],"
               "\"name\":[{\"use\":\"official\",\"text\":\"Páo\"}],"
               "\"gender\":\"male\",\"birthDate\":\"1950-02-03\"}");
}

static void bundle_entries(void **state)
{
    (void)state;
    struct fhir_buf b = {0};
    struct fhir_ctx urn = REL;
    urn.refs = FHIR_REFS_URN;
    struct fhir_provenance p = {
        .id = "01900000-0000-7000-8000-0000000000e1",
        .observation_id = "01900000-0000-7000-8000-0000000000b1",
        .device_id = "00000000-0000-8000-8000-0000000000d1",
        .received_at = "2026-11-18T07:15:02.123Z",
    };
    fhir_entry_open(&b, p.id);
    fhir_provenance(&b, &urn, &p);
    fhir_entry_close_put(&b, "Provenance", p.id);
    expect(&b, "{\"fullUrl\":\"urn:uuid:01900000-0000-7000-8000-0000000000e1\",\"resource\":"
               "{\"resourceType\":\"Provenance\",\"id\":\"01900000-0000-7000-8000-0000000000e1\","
               "\"target\":[{\"reference\":\"urn:uuid:01900000-0000-7000-8000-0000000000b1\"}],"
               "\"recorded\":\"2026-11-18T07:15:02.123Z\",\"activity\":{\"coding\":[{\"system\":"
               "\"http://terminology.hl7.org/CodeSystem/v3-DataOperation\",\"code\":\"CREATE\","
               "\"display\":\"create\"}]},\"agent\":[{\"type\":{\"coding\":[{\"system\":"
               "\"http://terminology.hl7.org/CodeSystem/provenance-participant-type\",\"code\":"
               "\"performer\",\"display\":\"Performer\"}]},\"who\":{\"reference\":"
               "\"urn:uuid:00000000-0000-8000-8000-0000000000d1\"}}]},"
               "\"request\":{\"method\":\"PUT\",\"url\":\"Provenance/"
               "01900000-0000-7000-8000-0000000000e1\"}}");

    struct fhir_referral r = {
        .id = "01900000-0000-7000-8000-0000000000f1",
        .patient_id = P,
        .encounter_id = E,
        .destination = "Bệnh viện Đa khoa tỉnh Lào Cai",
        .reason = "Huyết áp 185/115",
        .urgency = "urgent",
        .status = "arrived",
        .authored_at = "2026-11-18T08:00:00.000Z",
    };
    fhir_entry_open(&b, r.id);
    fhir_service_request(&b, &urn, &r);
    fhir_entry_close_post(&b, "ServiceRequest",
                          "identifier=urn:ietf:rfc:3986|urn:uuid:01900000-0000-7000-8000-"
                          "0000000000f1");
    expect(&b,
           "{\"fullUrl\":\"urn:uuid:01900000-0000-7000-8000-0000000000f1\",\"resource\":"
           "{\"resourceType\":\"ServiceRequest\",\"id\":\"01900000-0000-7000-8000-0000000000f1\","
           "\"identifier\":[{\"system\":\"urn:ietf:rfc:3986\",\"value\":"
           "\"urn:uuid:01900000-0000-7000-8000-0000000000f1\"}],\"status\":\"completed\","
           "\"intent\":\"order\",\"priority\":\"asap\",\"code\":{\"coding\":[{\"system\":"
           "\"http://snomed.info/sct\",\"code\":\"3457005\",\"display\":\"Patient referral\"}],"
           "\"text\":\"Referral\"},\"subject\":{\"reference\":\"urn:uuid:" P "\"},"
           "\"encounter\":{\"reference\":\"urn:uuid:" E "\"},"
           "\"authoredOn\":\"2026-11-18T08:00:00.000Z\","
           "\"performer\":[{\"display\":\"Bệnh viện Đa khoa tỉnh Lào Cai\"}],"
           "\"reasonCode\":[{\"text\":\"Huyết áp 185/115\"}]},"
           "\"request\":{\"method\":\"POST\",\"url\":\"ServiceRequest\",\"ifNoneExist\":"
           "\"identifier=urn:ietf:rfc:3986|urn:uuid:01900000-0000-7000-8000-0000000000f1\"}}");
}

static void condition_and_device(void **state)
{
    (void)state;
    struct fhir_buf b = {0};
    struct fhir_condition f = {
        .id = "01900000-0000-7000-8000-0000000000c1",
        .patient_id = P,
        .encounter_id = E,
        .icd10 = "I10",
        .recorded_at = "2026-11-18T08:00:00.000Z",
        .staff_id = S,
        .known = 1,
    };
    fhir_condition(&b, &REL, &f);
    assert_non_null(
        strstr(cstr(&b), "{\"system\":\"http://hl7.org/fhir/sid/icd-10\",\"code\":\"I10\","));
    assert_non_null(strstr(b.p, "{\"system\":\"http://snomed.info/sct\",\"code\":\"38341003\","));
    assert_non_null(strstr(b.p, "\"code\":\"confirmed\""));
    assert_non_null(strstr(b.p, "\"recorder\":{\"reference\":\"Practitioner/" S "\"}"));
    fhir_buf_free(&b);
    f.icd10 = "Z99.9";
    f.label = "Phụ thuộc máy thở";
    f.known = 0;
    fhir_condition(&b, &REL, &f);
    assert_null(strstr(cstr(&b), "snomed"));
    assert_non_null(strstr(b.p, "\"code\":\"provisional\""));
    assert_non_null(strstr(b.p, "\"text\":\"Phụ thuộc máy thở\"}"));
    fhir_buf_free(&b);

    struct fhir_device d = {"00000000-0000-8000-8000-0000000000d1", "cms50/CMS50D+/SN/42"};
    fhir_device(&b, &REL, &d);
    expect(&b, "{\"resourceType\":\"Device\",\"id\":\"00000000-0000-8000-8000-0000000000d1\","
               "\"identifier\":[{\"system\":\"urn:ietf:rfc:3986\",\"value\":"
               "\"urn:uuid:00000000-0000-8000-8000-0000000000d1\"},{\"type\":{\"text\":"
               "\"mokit device\"},\"value\":\"cms50/CMS50D+/SN/42\"}],\"status\":\"active\","
               "\"serialNumber\":\"SN/42\",\"deviceName\":[{\"name\":\"CMS50D+\",\"type\":"
               "\"model-name\"}],\"modelNumber\":\"CMS50D+\",\"type\":{\"text\":\"cms50\"}}");
    struct fhir_device d2 = {"00000000-0000-8000-8000-0000000000d2", "thermo-ir/IR-1/"};
    fhir_device(&b, &REL, &d2);
    assert_null(strstr(cstr(&b), "serialNumber"));
    fhir_buf_free(&b);
}

static void server_answers(void **state)
{
    (void)state;
    long s = -1;
    assert_int_equal(fhir_retry_after("120", 0, &s), 0);
    assert_int_equal(s, 120);
    assert_int_equal(fhir_retry_after(" 7\r\n", 0, &s), 0);
    assert_int_equal(s, 7);
    assert_int_equal(fhir_retry_after("99999999999999999999", 0, &s), 0);
    assert_int_equal(s, 86400);
    /* 784111777 is Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example). */
    assert_int_equal(fhir_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 30, &s), 0);
    assert_int_equal(s, 30);
    assert_int_equal(fhir_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 5, &s), 0);
    assert_int_equal(s, 0); /* a date past: no wait */
    assert_int_equal(fhir_retry_after("Thu, 29 Feb 2024 00:00:00 GMT", 1709164800 - 1, &s), 0);
    assert_int_equal(s, 1);
    assert_int_equal(fhir_retry_after("12s", 0, &s), -1);
    assert_int_equal(fhir_retry_after("-1", 0, &s), -1);
    assert_int_equal(fhir_retry_after("Sun, 06 Nov 1994 08:49:37 PST", 0, &s), -1);
    assert_int_equal(fhir_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", 0, &s), -1);
    assert_int_equal(fhir_retry_after("", 0, &s), -1);
    assert_int_equal(fhir_retry_after(NULL, 0, &s), -1);

    char out[64];
    static const char oo[] =
        "{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\",\"code\":"
        "\"invalid\",\"diagnostics\":\"Patient.gender:\\nbad\"},{\"severity\":\"warning\","
        "\"code\":\"x\",\"details\":{\"text\":\"Trường\"}},{\"code\":\"busy\"}]}";
    assert_int_equal(fhir_outcome_text(oo, strlen(oo), out, sizeof out),
                     strlen("error: Patient.gender: bad; warning: Trường; busy"));
    assert_string_equal(out, "error: Patient.gender: bad; warning: Trường; busy");
    /* Cut to fit, never inside a UTF-8 sequence ("ờ" is 3 bytes at offset 40). */
    fhir_outcome_text(oo, strlen(oo), out, 43);
    assert_string_equal(out, "error: Patient.gender: bad; warning: Trư");
    static const char bundle[] =
        "{\"resourceType\":\"Bundle\",\"entry\":[{\"response\":{\"status\":\"201\"}},"
        "{\"response\":{\"outcome\":{\"resourceType\":\"OperationOutcome\",\"issue\":"
        "[{\"severity\":\"error\",\"code\":\"duplicate\"}]}}}]}";
    assert_int_equal(fhir_outcome_text(bundle, strlen(bundle), out, sizeof out), 16);
    assert_string_equal(out, "error: duplicate");
    assert_int_equal(fhir_outcome_text("<html>503</html>", 16, out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(fhir_outcome_text("{\"issue\":[]}", 12, out, sizeof out), 0);
    assert_int_equal(fhir_outcome_text(NULL, 0, out, sizeof out), 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_strings),        cmocka_unit_test(systems),
        cmocka_unit_test(if_none_exist),       cmocka_unit_test(derived_ids),
        cmocka_unit_test(code_tables),         cmocka_unit_test(observation_bp),
        cmocka_unit_test(observation_glucose), cmocka_unit_test(patient),
        cmocka_unit_test(bundle_entries),      cmocka_unit_test(condition_and_device),
        cmocka_unit_test(server_answers),
    };
    return cmocka_run_group_tests_name("fhir", tests, NULL, NULL);
}
