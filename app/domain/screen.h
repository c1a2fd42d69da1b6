/* Screening rules: the flags a visit's readings raise (raised blood pressure and its repeat,
 * urgent values, glucose, BMI with the Asian cut-offs, SpO2, children for the doctor), each
 * saying which rule fired and why. Rules are data: the defaults (app/doc/screening.md, from
 * field-notes §4) are a JSON text compiled in, and a kit may load its own file of the same
 * shape. Pure: no I/O, no clock.
 *
 * A rule: {"id", "group", "level", "ages", "sex", "measure" | "any" | "all", "repeat",
 * "message": {"vi", "en"}}; see screen_rules_parse(). */
#pragma once

#include "patient.h"

#include <stdbool.h>
#include <stddef.h>

enum screen_level {
    SCREEN_INFO = 0,   /* worth knowing (overweight) */
    SCREEN_REPEAT = 1, /* take the reading again (one raised BP) */
    SCREEN_REVIEW = 2, /* the doctor looks at it (a child) */
    SCREEN_FLAG = 3,   /* raised: the doctor sees it in the normal queue */
    SCREEN_URGENT = 4, /* send to the doctor now */
};
const char *screen_level_name(enum screen_level l);

/* What a rule can look at. Blood pressure is the latest reading, or with "repeat" the mean of
 * the last two; the others are the latest reading. BMI comes from the latest weight and
 * height. A glucose reading is fasting, random, or unknown (then only "glucose" sees it). */
enum screen_measure {
    M_SYSTOLIC,
    M_DIASTOLIC,
    M_PULSE,
    M_SPO2,
    M_WEIGHT,
    M_HEIGHT,
    M_BMI,
    M_TEMP,
    M_GLUCOSE,         /* any glucose reading */
    M_GLUCOSE_FASTING, /* one taken fasting */
    M_GLUCOSE_RANDOM,  /* one not fasting (or not known to be) */
    M_WAIST,
    M_AGE, /* years */
    M_COUNT
};

#define SCREEN_MAX_RULES 64
#define SCREEN_MAX_TESTS 4

struct screen_test {
    enum screen_measure m;
    int op; /* '<', 'l' (<=), '>', 'g' (>=) */
    double value;
};

struct screen_rule {
    char id[40];
    char group[24]; /* of the rules of a group that fire, only the highest level is kept */
    enum screen_level level;
    int ages;      /* 0 any, 1 adults only, 2 children only */
    char sex;      /* 0 any, 'F', 'M' */
    bool all;      /* every test must hold (else any one) */
    bool repeat;   /* blood pressure: one reading asks for a repeat; two or more: their mean */
    bool symptoms; /* only with symptoms: fires at its level when the patient has them, as a
                      flag asking about them when nobody asked, not at all without them */
    struct screen_test tests[SCREEN_MAX_TESTS];
    int ntests; /* 0: fires for everyone of the ages and sex (the children's review) */
    char msg_vi[160], msg_en[160];
};

struct screen_rules {
    int adult_age; /* years from which adult rules apply (18) */
    struct screen_rule rules[SCREEN_MAX_RULES];
    int nrules;
};

/* One reading of the visit, in the kind's unit (obs.h). */
struct screen_obs {
    const char *kind; /* "bp", "pulse", "spo2", "weight", "height", "temp", "glucose", "waist" */
    double v[3];      /* bp: systolic, diastolic, mean */
    int present[3];
    int fasting; /* glucose: 1 fasting, 0 not, -1 not known */
};

struct screen_patient {
    int age;      /* years at the visit; -1 not known (adult rules then apply, and say so) */
    char sex;     /* 'F', 'M', 0 not known */
    int symptoms; /* reported by the nurse (chest pain, breathlessness, severe headache, blurred
                     vision...): 1 yes, 0 no, -1 not asked */
};

struct screen_flag {
    const struct screen_rule *rule;
    enum screen_level level; /* the rule's, or SCREEN_REPEAT for a first raised BP */
    char why[200];           /* the values that made it fire, in numbers: "BP 165/100 mmHg
                                (mean of 2) >= 140/90" */
};

/* The built-in rules (field-notes §4). */
const char *screen_rules_default_json(void);
/* Parses a rules file (the same JSON shape as the defaults). MK_OK; MK_EINVAL with
 * "rule N (id): what" in err for anything not understood: an unknown measure, level, age
 * group or operator, a missing message, too many rules or tests. Nothing is half-loaded. */
int screen_rules_parse(const char *json, size_t len, struct screen_rules *out, char *err,
                       size_t errlen);
/* The defaults, parsed (MK_OK; they are tested to parse). */
int screen_rules_default(struct screen_rules *out);

/* The flags of a visit: at most max into out, highest level first, one per group. Returns how
 * many. The readings are in the order they were taken (oldest first). */
size_t screen_evaluate(const struct screen_rules *rules, const struct screen_patient *p,
                       const struct screen_obs *obs, size_t nobs, struct screen_flag *out,
                       size_t max);
