/* CSV as RFC 4180 writes it, for spreadsheets: fields separated by commas, records ended by
 * CRLF, a field quoted ("...", with " doubled) when it holds a comma, a quote, CR or LF.
 *
 * Text cells are guarded against formula injection (OWASP "CSV Injection"): a spreadsheet
 * runs a cell that starts with = + - @ (or a tab or CR, which some strip first) as a
 * formula, so such a text cell is written with a leading apostrophe: "=1+2" becomes "'=1+2".
 * Spreadsheets show the apostrophe-guarded cell as the text it was; a program reading the file
 * strips one leading apostrophe from a cell that starts with apostrophes and then one of those
 * characters (a text that itself starts so, "'=x", is written "''=x" and reads back whole).
 * Numbers are written by csv_number() and csv_int(), never guarded: -3 stays a number.
 *
 * The writer keeps the first write error; csv_error() says whether one happened (the caller
 * checks the file once at the end). */
#pragma once

#include <stdbool.h>
#include <stdio.h>

struct csv {
    FILE *f;
    int cells; /* in the current row */
    bool error;
};

/* Starts a file: the UTF-8 byte order mark, which Excel needs to read UTF-8 (Vietnamese). */
void csv_begin(struct csv *c, FILE *f);
/* A text cell; NULL or "" is an empty cell. */
void csv_text(struct csv *c, const char *s);
/* A number as the shortest text that reads back the same ("%.15g"), decimals with a dot:
 * 152, 11.2, -3. decimals >= 0 rounds to that many places first (BMI 24.9). A NaN or an
 * infinity is an empty cell. */
void csv_number(struct csv *c, double v, int decimals);
void csv_int(struct csv *c, long long v);
void csv_empty(struct csv *c);
/* Ends the row with CRLF. */
void csv_end_row(struct csv *c);
bool csv_error(const struct csv *c);
/* Whether a text cell gets the apostrophe (the guard above). */
bool csv_formula_like(const char *s);
