#include "obs.h"

#include "../common/err.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const struct obs_kind obs_kinds[] = {
    {"bp", "mm[Hg]", 3, {"systolic", "diastolic", "mean"}, {60, 40, 40}, {260, 260, 260}},
    {"pulse", "/min", 1, {"value"}, {25}, {250}},
    {"spo2", "%", 1, {"value"}, {50}, {100}},
    {"weight", "kg", 1, {"value"}, {0.5}, {300}},
    {"height", "cm", 1, {"value"}, {30}, {250}},
    {"temp", "Cel", 1, {"value"}, {30}, {45}},
    {"glucose", "mmol/L", 1, {"value"}, {1.0}, {40}},
    {"waist", "cm", 1, {"value"}, {30}, {200}},
};
const size_t obs_kinds_count = sizeof obs_kinds / sizeof obs_kinds[0];

const struct obs_kind *obs_kind_find(const char *code)
{
    for (size_t i = 0; i < obs_kinds_count; i++)
        if (strcmp(obs_kinds[i].code, code) == 0)
            return &obs_kinds[i];
    return NULL;
}

int obs_validate(const struct obs_kind *k, const struct obs_values *v, char *msg, size_t msglen)
{
    /* Blood pressure needs systolic and diastolic; the mean is optional. */
    int required = strcmp(k->code, "bp") == 0 ? 2 : 1;
    for (int i = 0; i < k->ncomp; i++) {
        if (!v->present[i]) {
            if (i < required) {
                snprintf(msg, msglen, "%s needs a value for %s", k->code, k->comp[i]);
                return MK_EINVAL;
            }
            continue;
        }
        if (!isfinite(v->v[i]) || v->v[i] < k->min[i] || v->v[i] > k->max[i]) {
            snprintf(msg, msglen, "%s %s %g %s is outside the plausible range %g-%g", k->code,
                     k->comp[i], v->v[i], k->unit, k->min[i], k->max[i]);
            return MK_ERANGE;
        }
    }
    if (required == 2 && v->v[1] >= v->v[0]) {
        snprintf(msg, msglen, "diastolic %g must be below systolic %g", v->v[1], v->v[0]);
        return MK_ERANGE;
    }
    return MK_OK;
}
