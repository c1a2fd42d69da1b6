/* libFuzzer target: a kit's screening rules file (app/domain/screen.c), then the rules it
 * gives evaluated on readings taken from the same bytes. */
#include "../../app/common/err.h"
#include "../../app/domain/screen.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct screen_rules r;
    char err[200] = "";
    int rc = screen_rules_parse((const char *)data, size, &r, err, sizeof err);
    assert(rc == MK_OK || (rc == MK_EINVAL && err[0]) || rc == MK_ENOMEM);
    if (rc != MK_OK && screen_rules_default(&r) != MK_OK)
        assert(0);
    assert(r.nrules >= 0 && r.nrules <= SCREEN_MAX_RULES);
    static const char *const kinds[] = {"bp",     "pulse", "spo2",    "weight",
                                        "height", "temp",  "glucose", "waist"};
    struct screen_obs o[8];
    size_t n = 0;
    for (size_t i = 0; i + 4 <= size && n < 8; i += 4, n++) {
        memset(&o[n], 0, sizeof o[n]);
        o[n].kind = kinds[data[i] % 8];
        o[n].v[0] = data[i + 1] + data[i + 2] / 10.0;
        o[n].v[1] = data[i + 2];
        o[n].present[0] = 1;
        o[n].present[1] = data[i + 3] & 1;
        o[n].fasting = (data[i + 3] >> 1) % 3 - 1;
    }
    struct screen_patient p = {.age = size ? data[0] % 100 - 1 : -1,
                               .sex = size > 1 ? "FM"[data[1] & 1] : 0,
                               .symptoms = size > 2 ? data[2] % 3 - 1 : -1};
    struct screen_flag f[SCREEN_MAX_RULES];
    size_t k = screen_evaluate(&r, &p, o, n, f, SCREEN_MAX_RULES);
    assert(k <= (size_t)r.nrules);
    for (size_t i = 0; i < k; i++) {
        assert(f[i].rule && strlen(f[i].why) < sizeof f[i].why);
        assert(i == 0 || f[i].level <= f[i - 1].level);
        for (size_t j = 0; j < i; j++)
            assert(strcmp(f[i].rule->group, f[j].rule->group) != 0);
    }
    return 0;
}
