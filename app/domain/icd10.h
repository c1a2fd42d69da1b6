/* ICD-10 codes for a screening day: the conditions the doctor records as findings, with their
 * names in Vietnamese and English, and a search for the picker.
 *
 * The codes are WHO ICD-10 (2019 edition), as Vietnam's Ministry of Health uses it, not
 * ICD-10-CM: "I48.9", not "I48.91". The list is a compiled-in table of about 120 conditions
 * that adult and child screening days meet, sorted by code; app/doc/screening.md says what it
 * covers and how to add one. Pure: no I/O, no clock. Safe to call from several threads. */
#pragma once

#include <stddef.h>

/* One condition. code is uppercase ("E11.9"); vi and en are NFC UTF-8; group is one of
 * "cardio", "metabolic", "respiratory", "eye", "ent", "dental", "skin", "musculo",
 * "digestive", "infection", "neuro", "mental", "urinary", "women", "child", "other". All four
 * are static strings. */
struct icd10 {
    const char *code, *vi, *en, *group;
};

/* The entry with exactly this code, compared without regard to case ("i10", "e11.9"); NULL when
 * the code is not in the list or code is NULL. The dot is part of the code: "E119" gives NULL
 * (icd10_search() accepts it). Store the returned entry's code, which is canonical. */
const struct icd10 *icd10_find(const char *code);

/* 1 if code has the shape of a WHO ICD-10 code: a letter (either case), two digits, and
 * optionally "." and one or two digits ("I10", "E11.9", "B18.10"); 0 otherwise or for NULL.
 * Says nothing about whether the code exists: use icd10_find() for that. */
int icd10_code_valid(const char *code);

/* Finds entries for the picker; writes up to max pointers into out and returns how many.
 * - q NULL, or with no letter or digit: the whole list, in table order.
 * - Otherwise, first the entries whose code starts with q, without regard to case and with or
 *   without the dot ("i1", "e119", "E11.9"); then the entries where every word of q, folded
 *   like text_fold() (accents, case, đ), starts a word of the folded Vietnamese name or of the
 *   folded English name: "tang huyet", "tăng huyết áp", "huyet tang" and "hypert" all find
 *   I10. Each part in table order, no entry twice.
 * 0 for no match, for max 0, and for q that is not valid UTF-8. The first call folds the names
 * once and keeps them for the life of the process. */
size_t icd10_search(const char *q, const struct icd10 **out, size_t max);

/* The number of entries, and entry i in table order (NULL when i >= icd10_count()). */
size_t icd10_count(void);
const struct icd10 *icd10_at(size_t i);
