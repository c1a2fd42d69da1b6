/* A visit as the kit's JSON (store_visit_get or store_visit_list) seen through the screening
 * rules, and a day's or a campaign's visits counted for the dashboard. Pure: no I/O, no clock. */
#pragma once

#include "screen.h"

#include <jansson.h>

/* The flags of a visit: a new array of {rule, group, level, why, message {vi, en}}, highest
 * level first. Reads the patient's sex and birth date (or year) with the visit's day for the
 * age, the symptoms (null: not asked; any key but thirst_urination counts for the blood
 * pressure rule) and the observations, oldest first. *age (may be NULL): years, or -1. */
json_t *review_visit_flags(const struct screen_rules *rules, const json_t *visit, int *age);

/* The age group of the dashboard for an age in years: "0-4", "5-17", "18-39", "40-59", "60+",
 * or "unknown". */
const char *review_age_group(int age);

/* The dashboard of visits (store_visit_list) and medicines (store_medicine_given): residents
 * (distinct patients) by sex, age group and ethnicity; visits; flags raised by rule (visits
 * with the rule's flag); conditions found (ICD-10, with names); referrals by destination and
 * urgency, and how many arrived; medicine given and stock left. A new object. */
json_t *review_dashboard(const struct screen_rules *rules, const json_t *visits,
                         const json_t *medicines);
