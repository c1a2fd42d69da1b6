/* libFuzzer target: the API's JSON request bodies (registration, reading, campaign, staff,
 * printer, print list). */
#include "../../app/api/body.h"
#include "../../app/common/err.h"

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
    json_decref(j);
    return 0;
}
