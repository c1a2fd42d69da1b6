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

/* A value as people write it in Vietnam: whole numbers bare, else one decimal after a comma. */
static void number_vi(double v, char out[32])
{
    double r = floor(v * 10 + 0.5) / 10;
    if (fabs(r - floor(r)) < 1e-9)
        snprintf(out, 32, "%.0f", r);
    else {
        snprintf(out, 32, "%.1f", r);
        char *dot = strchr(out, '.');
        if (dot)
            *dot = ',';
    }
}

size_t obs_describe(const struct obs_kind *k, const double values[], const int present[], char *out,
                    size_t cap)
{
    static const struct {
        const char *code, *label, *unit;
    } words[] = {
        {"bp", "Huyết áp", "mmHg"},
        {"pulse", "Mạch", "lần/phút"},
        {"spo2", "SpO2", "%"},
        {"weight", "Cân nặng", "kg"},
        {"height", "Chiều cao", "cm"},
        {"temp", "Nhiệt độ", "°C"},
        {"glucose", "Đường huyết", "mmol/L"},
        {"waist", "Vòng eo", "cm"},
    };
    char a[32], b[32];
    int n = -1;
    if (!k || cap == 0 || !present[0])
        return 0;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (strcmp(words[i].code, k->code) != 0)
            continue;
        number_vi(values[0], a);
        if (!strcmp(k->code, "bp")) {
            if (!present[1])
                return 0;
            number_vi(values[1], b);
            n = snprintf(out, cap, "%s %s/%s %s", words[i].label, a, b, words[i].unit);
        } else {
            n = snprintf(out, cap, "%s %s %s", words[i].label, a, words[i].unit);
        }
    }
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
