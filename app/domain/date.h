/* Calendar dates as plain integers. */
#pragma once

#include <stdbool.h>

struct date {
    int year, month, day; /* month and day 0 when only the year is known */
};

/* True for a real calendar date (Gregorian, leap years) with 1900 <= year <= 2100. */
bool date_valid(int year, int month, int day);

/* Parses "YYYY" (year only) or "YYYY-MM-DD"; 0 or MK_EINVAL. */
int date_parse(const char *s, struct date *out);

/* Writes "YYYY" or "YYYY-MM-DD" into out[11]. */
void date_format(const struct date *d, char out[11]);

/* Compares as YYYYMMDD numbers, an unknown month/day counting as 0. */
int date_cmp(const struct date *a, const struct date *b);

/* Whole years from birth to on, counting a year-only birth date as 1 July. */
int date_age(const struct date *birth, const struct date *on);
