/* libFuzzer target: the API's JSON request bodies (registration, reading, campaign, staff,
 * printer, print list, the clinic's texts, numbers and flags) and the condition search's
 * query. */
#include "../../app/api/body.h"
#include "../../app/common/err.h"
#include "../../app/domain/icd10.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct date today = {2026, 11, 22};
    struct body_err err;
    json_t *j = body_parse((const char *)data, size, &err);
    if (!j)
        return 0;
    struct patient_body pb;
    if (body_patient(j, &today, &pb, &err) == MK_OK)
        body_patient_free(&pb);
    const struct obs_kind *k;
    struct obs_values v;
    const char *note;
    body_obs(j, &k, &v, &note, &err);
    struct campaign_in c;
    body_campaign(j, &c, &err);
    struct staff_body s;
    body_staff(j, &s, &err);
    const char *kinds[2];
    int n;
    body_print_list(j, kinds, &n, &err);
    struct printer_in p;
    int enabled;
    char buf[80];
    body_printer(j, false, &p, &enabled, buf, &err);
    body_printer(j, true, &p, &enabled, buf, &err);
    static const char *const keys[] = {"to", "reason", "dosage", "note", "label", "advice"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *t;
        body_text(j, keys[i], 300, i == 0, &t, &err);
    }
    long long q;
    bool given;
    int b;
    body_opt_int(j, "quantity", 1, 10000, true, &q, &given, &err);
    body_opt_int(j, "change", -10000000, 10000000, false, &q, &given, &err);
    body_opt_bool(j, "known", &b, &err);
    const char *code = json_string_value(json_object_get(j, "code"));
    if (code) {
        const struct icd10 *found[16];
        icd10_search(code, found, 16);
        icd10_find(code);
        icd10_code_valid(code);
    }
    json_decref(j);
    return 0;
}
