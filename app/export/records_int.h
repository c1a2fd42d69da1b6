/* Internals shared by records.c (dump, SQLite import) and pg_*.c (PostgreSQL import): the
 * tables a package carries, the checks every row passes, and the importer's frame. */
#pragma once

#include "records.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define UUID_BUF 40

/* What a column holds, and so how it is checked. */
enum rcol_kind {
    RC_ID,       /* a UUID, lowercase: 8-4-4-4-12 hex */
    RC_TEXT,     /* UTF-8 without control characters, NFC, at most max bytes */
    RC_INT,      /* an integer in min..max */
    RC_REAL,     /* a finite number */
    RC_TIME,     /* UTC "YYYY-MM-DDTHH:MM:SS[.fff]Z" */
    RC_DATE,     /* "YYYY-MM-DD", a real date */
    RC_ENUM,     /* one of values */
    RC_SYMPTOMS, /* text: a JSON array of symptom keys (store_symptom_valid) */
    RC_JSON,     /* text: a JSON object, at most max bytes */
    RC_CODE,     /* a patient code with a right check character */
    RC_ICD10,    /* an ICD-10 code */
    RC_CCCD,     /* 12 digits */
    RC_BHYT,     /* a BHYT card number, compact */
    RC_SSN,      /* 10 digits */
    RC_PHONE,    /* 9-12 digits */
    RC_ETHNIC,   /* a GSO ethnic group code "01".."54" */
    RC_HEX,      /* lowercase hex, at most max bytes */
};

struct rcol {
    const char *name;
    enum rcol_kind kind;
    bool req;
    long long min, max;        /* RC_INT: range; RC_TEXT, RC_JSON, RC_HEX: max bytes */
    const char *const *values; /* RC_ENUM, NULL-terminated */
};

#define RCOL_MAX 24

enum rtable_id {
    RT_CAMPAIGN,
    RT_STAFF,
    RT_PATIENT,
    RT_VISIT,
    RT_OBSERVATION,
    RT_DEVICE_READING,
    RT_FINDING,
    RT_REFERRAL,
    RT_MEDICINE,
    RT_PRESCRIPTION,
    RT_STOCK_MOVE,
    RT_COUNT
};

struct rtable {
    const char *name;
    const struct rcol *cols;
    int ncols;
};
extern const struct rtable records_tables[RT_COUNT];

/* One row, checked: v[i] is the value of the table's column i (borrowed from root; NULL when
 * absent or null). */
struct rrow {
    enum rtable_id t;
    json_t *root;
    json_t *v[RCOL_MAX];
};
/* Parses and checks one line. MK_EINVAL with the reason in err (no values of the row in it:
 * error text may reach a log). */
int records_row_parse(const char *line, size_t len, struct rrow *row, char *err, size_t errlen);
void records_row_free(struct rrow *row);
/* The value of column name as text (NULL when null), integer, or number. */
const char *rrow_str(const struct rrow *row, const char *name);
long long rrow_int(const struct rrow *row, const char *name);
int rrow_col(enum rtable_id t, const char *name);
bool records_uuid_valid(const char *s);

/* A patient row's search keys (text_fold of name, commune, village; NULL for none). Caller
 * frees each. */
int records_patient_folds(const struct rrow *row, char **name_fold, char **commune_fold,
                          char **village_fold);

/* The importer: a frame (order, counts, errors) around a back end. */
struct records_backend {
    int (*begin)(struct records_import *ri);
    int (*row)(struct records_import *ri, const struct rrow *row);
    int (*commit)(struct records_import *ri, json_t *result);
    void (*free)(struct records_import *ri);
};

struct records_import {
    const struct records_backend *be;
    void *impl;
    int state; /* RI_NEW, RI_OPEN, RI_FAILED, RI_DONE */
    long line;
    int last_table;
    long seen[RT_COUNT];
    json_t *counts; /* the manifest's */
    char package[UUID_BUF], kit[UUID_BUF], campaign_id[UUID_BUF], campaign_code[64];
    char actor[96];
    char err[512];
};
enum { RI_NEW, RI_OPEN, RI_FAILED, RI_DONE };

/* Sets ri->err (printf-style); returns rc. */
/* Appends printf-style to buf[size] at *n: false, and *n left as it was, when it does not fit
 * (a query built in pieces stops there, never writes past its buffer). Both importers. */
bool records_sql_cat(char *buf, size_t size, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int records_fail(struct records_import *ri, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A new importer with back end be and state impl (owned: be->free frees it). */
struct records_import *records_import_new(const struct records_backend *be, void *impl);
/* A code for a resident whose code another resident already has (two kits drew the same):
 * out[CODE_LEN + 1]. */
void records_new_code(char *out);
/* The kit's suffix that makes a campaign code unique at the hospital: "<code>-K<6 hex>". */
void records_campaign_code(const char *code, const char *kit, char *out, size_t size);
