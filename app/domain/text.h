/* Vietnamese-aware text handling: normalisation for storage and folding for search.
 * Unicode tables come from utf8proc; the one rule it lacks, đ/Đ -> d, is ours (đ has no
 * decomposition, so stripping marks leaves it). */
#pragma once

/* Cleans a name or free-text field for storage: checks UTF-8, refuses control characters,
 * normalises to NFC, trims, and collapses runs of white space to one space.
 * Returns 0 with *out malloc'd (caller frees), MK_EINVAL for invalid UTF-8 or a control
 * character, MK_ENOMEM. */
int text_clean(const char *in, char **out);

/* Folds text into a search key: NFKD, marks stripped, case folded, đ -> d, every run of
 * characters that are neither letters nor digits -> one space, trimmed.
 * "Nguyễn  Thị Hương" and its NFD form both give "nguyen thi huong"; "ĐẶNG" gives "dang".
 * Returns 0 with *out malloc'd (caller frees), MK_EINVAL for invalid UTF-8, MK_ENOMEM. */
int text_fold(const char *in, char **out);
