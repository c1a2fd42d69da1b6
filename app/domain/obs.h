/* Observation kinds, their UCUM units and plausible ranges (to catch typing errors, not to
 * judge health: screening rules are elsewhere). Bounds for blood pressure follow the DHIS2
 * hypertension package; the others are the limits of the devices that measure them. Pure. */
#pragma once

#include <stddef.h>

#define OBS_MAX_COMPONENTS 3

struct obs_kind {
    const char *code;                     /* stable name: "bp", "pulse", "spo2", ... */
    const char *unit;                     /* UCUM */
    int ncomp;                            /* number of values */
    const char *comp[OBS_MAX_COMPONENTS]; /* value names; the first is required */
    double min[OBS_MAX_COMPONENTS], max[OBS_MAX_COMPONENTS];
};

const struct obs_kind *obs_kind_find(const char *code);
extern const struct obs_kind obs_kinds[];
extern const size_t obs_kinds_count;

/* A reading: values[i] belongs to kind->comp[i]; present[i] says whether it was given. */
struct obs_values {
    double v[OBS_MAX_COMPONENTS];
    int present[OBS_MAX_COMPONENTS];
    int fasting; /* glucose: OBS_FASTING_* (zero: not said) */
};
enum { OBS_FASTING_UNKNOWN = 0, OBS_FASTING_YES = 1, OBS_FASTING_NO = 2 };

/* Checks values against the kind: required components present, each in range, and for blood
 * pressure diastolic below systolic. 0, or MK_ERANGE / MK_EINVAL with a sentence in msg. */
int obs_validate(const struct obs_kind *k, const struct obs_values *v, char *msg, size_t msglen);

/* A reading in words for a referral slip, in Vietnamese with a decimal comma:
 * "Huyết áp 165/100 mmHg", "Đường huyết 11,2 mmol/L". values[i] belongs to k->comp[i]. The
 * number of bytes written (without the NUL), or 0 when a required value is missing. */
size_t obs_describe(const struct obs_kind *k, const double values[], const int present[], char *out,
                    size_t cap);
