/* Registration rules for residents: field validation and duplicate detection. Pure. */
#pragma once

#include "date.h"

#include <stdbool.h>
#include <stddef.h>

enum sex { SEX_UNKNOWN = 0, SEX_MALE, SEX_FEMALE };

/* "male"/"female", "m"/"f", "nam"/"nữ"/"nu" (any case, accents optional).
 * 0, MK_EINVAL or MK_ENOMEM. */
int sex_parse(const char *s, enum sex *out);
const char *sex_name(enum sex s);

/* The 54 ethnic groups recognised by Vietnam's General Statistics Office, with their codes
 * "01" (Kinh) .. "54" (Rơ Măm). */
struct ethnic_group {
    const char *code;
    const char *name; /* Vietnamese, NFC */
    const char *fold; /* search key, also accepted as input: "hmong" */
};
extern const struct ethnic_group ethnic_groups[54];

/* Finds a group by code ("8" or "08") or by name in any case and with or without accents and
 * hyphens ("H'Mông", "hmong", "Mông"). NULL when unknown. */
const struct ethnic_group *ethnic_find(const char *s);

/* A resident as registered. Strings are NFC-cleaned UTF-8 owned by the caller; optional ones
 * are NULL or "". */
struct patient {
    const char *name;
    enum sex sex;
    struct date birth;     /* month = day = 0 when only the year is known */
    const char *ethnicity; /* group code "01".."54" */
    const char *province, *district, *commune, *village, *address;
    const char *cccd;  /* 12 digits */
    const char *bhyt;  /* health insurance number, 15 chars (XX9 99 9999999999) or 10 digits */
    const char *phone; /* digits, optional leading + */
    bool consent;
};

/* Checks a patient before it is stored. today is the kit's date. Returns 0, or MK_EINVAL with
 * the failing field's name in *field and a sentence in msg. */
int patient_validate(const struct patient *p, const struct date *today, const char **field,
                     char *msg, size_t msglen);

bool cccd_number_valid(const char *s);

/* A health insurance (BHYT) number in either form: the 15-character card number
 * (2-letter group, benefit level, 2-digit province, 10-digit social insurance number; spaces
 * and hyphens allowed) or the 10-digit social insurance number alone. Writes the compact
 * uppercase form to card[16] and the 10-digit social insurance number, which identifies the
 * person whatever card they hold, to ssn[11]. False for anything else. */
bool bhyt_normalize(const char *s, char card[16], char ssn[11]);

/* A phone number as people write it ("0912 345 678", "+84 912-345-678", "(0214) 3812 345"):
 * writes digits only to out[16], with a leading +84 or 84 turned into 0. False unless 9-12
 * digits remain. */
bool phone_normalize(const char *s, char out[16]);

/* Likely-duplicate rule: same folded name, birth years at most one apart, and the same folded
 * commune, where a commune missing on either side counts as the same (ask, don't guess). */
bool patient_likely_duplicate(const char *name_fold_a, int year_a, const char *commune_fold_a,
                              const char *name_fold_b, int year_b, const char *commune_fold_b);
