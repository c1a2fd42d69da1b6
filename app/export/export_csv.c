/* A campaign as CSV for spreadsheets (app/doc/exports.md says what every column means):
 * visits.csv, one row per visit, and observations-<kind>.csv, one row per reading. Rows are
 * written as they are read from the database (one visit's records in memory at a time), all
 * inside one read transaction so that the files agree with each other while mokitd works on. */
#include "csv.h"
#include "export_int.h"

#include "../common/err.h"
#include "../common/log.h"
#include "../domain/patient.h"
#include "../domain/review.h"
#include "../store/store_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum lang { VI, EN };

/* A column: its header in Vietnamese and in English. */
struct col {
    const char *vi, *en;
};

static const struct col visit_cols[] = {
    {"Đợt khám", "campaign"},
    {"Ngày khám", "day"},
    {"Số thứ tự", "queue_number"},
    {"Mã người khám", "patient_code"},
    {"Họ và tên", "name"},
    {"Giới tính", "sex"},
    {"Ngày sinh", "birth_date"},
    {"Năm sinh", "birth_year"},
    {"Tuổi khi khám", "age"},
    {"Mã dân tộc", "ethnicity_code"},
    {"Dân tộc", "ethnicity"},
    {"Xã", "commune"},
    {"Thôn/bản", "village"},
    {"Số CCCD", "cccd"},
    {"Số thẻ BHYT", "bhyt"},
    {"Điện thoại", "phone"},
    {"Huyết áp tâm thu (mmHg)", "bp_systolic"},
    {"Huyết áp tâm trương (mmHg)", "bp_diastolic"},
    {"Số lần đo huyết áp", "bp_readings"},
    {"Mạch (lần/phút)", "pulse"},
    {"SpO2 (%)", "spo2"},
    {"Cân nặng (kg)", "weight"},
    {"Chiều cao (cm)", "height"},
    {"BMI (kg/m2)", "bmi"},
    {"Vòng eo (cm)", "waist"},
    {"Nhiệt độ (°C)", "temp"},
    {"Đường huyết (mmol/L)", "glucose"},
    {"Lúc đói", "glucose_fasting"},
    {"Cảnh báo", "flags"},
    {"Mức cảnh báo cao nhất", "flag_level"},
    {"Bệnh phát hiện (ICD-10)", "findings"},
    {"Chuyển đến", "referral_to"},
    {"Mức độ chuyển", "referral_urgency"},
    {"Trạng thái chuyển", "referral_status"},
    {"Thuốc đã phát", "medicines"},
};

/* The single-value kinds in visits.csv, in column order after the blood pressure. */
static const char *const single_kinds[] = {"pulse",        "spo2",  "weight", "height",
                                           NULL /* bmi */, "waist", "temp",   "glucose"};

static const struct col obs_head[] = {
    {"Đợt khám", "campaign"},          {"Ngày khám", "day"},         {"Số thứ tự", "queue_number"},
    {"Mã người khám", "patient_code"}, {"Thời điểm đo", "taken_at"},
};
static const struct col obs_tail[] = {
    {"Đơn vị", "unit"},  {"Nguồn", "source"},          {"Thiết bị", "device"},
    {"Ghi chú", "note"}, {"Mã lượt khám", "visit_id"},
};
/* Value columns of the observation files, by kind component. */
static const struct {
    const char *comp, *vi, *en;
} comp_cols[] = {
    {"systolic", "Tâm thu", "systolic"},
    {"diastolic", "Tâm trương", "diastolic"},
    {"mean", "Trung bình (MAP)", "mean"},
    {"value", "Giá trị", "value"},
};

static const char *word(enum lang l, const char *vi, const char *en)
{
    return l == VI ? vi : en;
}

static void header(struct csv *c, enum lang l, const struct col *cols, size_t n)
{
    for (size_t i = 0; i < n; i++)
        csv_text(c, word(l, cols[i].vi, cols[i].en));
}

static const char *col_text(sqlite3_stmt *s, int i)
{
    return (const char *)sqlite3_column_text(s, i);
}

static const char *sex_word(enum lang l, const char *sex)
{
    if (!sex)
        return NULL;
    if (!strcmp(sex, "male"))
        return word(l, "Nam", "male");
    if (!strcmp(sex, "female"))
        return word(l, "Nữ", "female");
    return sex;
}

static const char *urgency_word(enum lang l, const char *u)
{
    if (l == EN || !u)
        return u;
    return !strcmp(u, "routine")  ? "Thường quy"
           : !strcmp(u, "soon")   ? "Sớm"
           : !strcmp(u, "urgent") ? "Khẩn"
                                  : u;
}

static const char *status_word(enum lang l, const char *st)
{
    if (l == EN || !st)
        return st;
    return !strcmp(st, "referred")    ? "Đã chuyển"
           : !strcmp(st, "arrived")   ? "Đã đến viện"
           : !strcmp(st, "cancelled") ? "Đã hủy"
                                      : st;
}

/* A growing "a; b; c" list for one cell. */
struct joined {
    char *s;
    size_t len;
    FILE *f;
};
static int joined_open(struct joined *j)
{
    j->s = NULL;
    j->len = 0;
    j->f = open_memstream(&j->s, &j->len);
    return j->f ? MK_OK : MK_ENOMEM;
}
static void joined_add(struct joined *j, const char *s)
{
    if (ftell(j->f) > 0)
        fputs("; ", j->f);
    fputs(s ? s : "", j->f);
}
/* Closes the stream: the text (the caller frees), or NULL when memory ran out. */
static char *joined_close(struct joined *j)
{
    if (fclose(j->f) != 0) {
        free(j->s);
        return NULL;
    }
    return j->s;
}

#define MAX_KINDS 8 /* obs_kinds_count: test_csv checks that it fits */

/* The latest reading of each kind, and the last two blood pressures (for their mean). */
struct latest {
    double v[MAX_KINDS][3];
    int have[MAX_KINDS];
    int fasting; /* of the latest glucose: 1, 0, -1 not said */
    double sys[2], dia[2];
    int nbp;
};

static int kind_index(const char *code)
{
    for (size_t i = 0; i < obs_kinds_count; i++)
        if (!strcmp(obs_kinds[i].code, code))
            return (int)i;
    return -1;
}

/* Reads a visit's observations (oldest first, as the dashboard does) into *lt and into the
 * visit JSON that review_visit_flags() reads. */
static int visit_obs(struct store *st, const char *visit_id, struct latest *lt, json_t *obs)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT code, value, value2, value3, fasting FROM "
                                     "observation WHERE visit_id = ? ORDER BY taken_at, id");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, visit_id, -1, SQLITE_TRANSIENT);
    memset(lt, 0, sizeof *lt);
    lt->fasting = -1;
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        const char *code = col_text(s, 0);
        int k = code ? kind_index(code) : -1;
        if (k < 0 || k >= MAX_KINDS)
            continue;
        const struct obs_kind *kind = &obs_kinds[k];
        json_t *values = json_object();
        for (int c = 0; c < kind->ncomp && c < 3; c++) {
            if (sqlite3_column_type(s, 1 + c) == SQLITE_NULL) {
                lt->v[k][c] = NAN;
                continue;
            }
            lt->v[k][c] = sqlite3_column_double(s, 1 + c);
            json_object_set_new(values, kind->comp[c], json_real(lt->v[k][c]));
        }
        lt->have[k] = 1;
        json_t *fasting = json_null();
        if (sqlite3_column_type(s, 4) != SQLITE_NULL)
            fasting = json_boolean(sqlite3_column_int(s, 4));
        if (!strcmp(code, "glucose"))
            lt->fasting = json_is_null(fasting) ? -1 : json_is_true(fasting);
        if (!strcmp(code, "bp")) {
            lt->sys[0] = lt->sys[1];
            lt->dia[0] = lt->dia[1];
            lt->sys[1] = lt->v[k][0];
            lt->dia[1] = lt->v[k][1];
            lt->nbp++;
        }
        json_array_append_new(obs, json_pack("{s:s, s:o, s:o}", "code", kind->code, "values",
                                             values, "fasting", fasting));
    }
    sqlite3_reset(s);
    return store_err(st, step, "observations");
}

/* What visit_list() reads: the columns of its query and the cells it makes. */
enum list_kind {
    LIST_CODES,     /* one column: "I10; E11.9" */
    LIST_REFERRALS, /* destination, urgency, status: three cells, in the same order */
    LIST_MEDICINES, /* name, strength, unit, quantity: "Amlodipin 5 mg x 30 viên; ..." */
};

/* The rows of a query about a visit (bound to its id) joined into out[0] (and out[1], out[2]
 * for referrals); the caller frees them. */
static int visit_list(struct store *st, const char *sql, const char *visit_id, enum lang l,
                      enum list_kind kind, char **out)
{
    struct joined j[3];
    int n = kind == LIST_REFERRALS ? 3 : 1, rc = MK_OK;
    for (int i = 0; i < n; i++)
        if (joined_open(&j[i]) != MK_OK) {
            while (i-- > 0)
                free(joined_close(&j[i]));
            return MK_ENOMEM;
        }
    sqlite3_stmt *s = store_stmt(st, sql);
    if (!s)
        rc = MK_EDB;
    if (rc == MK_OK) {
        sqlite3_bind_text(s, 1, visit_id, -1, SQLITE_TRANSIENT);
        int step;
        while ((step = sqlite3_step(s)) == SQLITE_ROW) {
            if (kind == LIST_REFERRALS) {
                joined_add(&j[0], col_text(s, 0));
                joined_add(&j[1], urgency_word(l, col_text(s, 1)));
                joined_add(&j[2], status_word(l, col_text(s, 2)));
            } else if (kind == LIST_MEDICINES) {
                char item[400];
                const char *strength = col_text(s, 1);
                snprintf(item, sizeof item, "%s%s%s x %lld %s", col_text(s, 0), strength ? " " : "",
                         strength ? strength : "", (long long)sqlite3_column_int64(s, 3),
                         col_text(s, 2));
                joined_add(&j[0], item);
            } else {
                joined_add(&j[0], col_text(s, 0));
            }
        }
        sqlite3_reset(s);
        rc = store_err(st, step, "visit records");
    }
    for (int i = 0; i < n; i++) {
        out[i] = joined_close(&j[i]);
        if (!out[i])
            rc = MK_ENOMEM;
    }
    return rc;
}

static void free_cells(char **cells, int n)
{
    for (int i = 0; i < n; i++) {
        free(cells[i]);
        cells[i] = NULL;
    }
}

/* The flags of a visit as "rule:level; ..." and the highest level (the first) into top. */
static int flags_cell(const struct screen_rules *rules, json_t *visit, int *age, char **cell,
                      char top[16])
{
    json_t *flags = review_visit_flags(rules, visit, age);
    struct joined j;
    if (!flags || joined_open(&j) != MK_OK) {
        json_decref(flags);
        return MK_ENOMEM;
    }
    size_t i;
    json_t *f;
    top[0] = '\0';
    json_array_foreach(flags, i, f)
    {
        char item[100];
        const char *level = json_string_value(json_object_get(f, "level"));
        snprintf(item, sizeof item, "%s:%s", json_string_value(json_object_get(f, "rule")), level);
        joined_add(&j, item);
        if (i == 0)
            snprintf(top, 16, "%s", level);
    }
    *cell = joined_close(&j);
    json_decref(flags);
    return *cell ? MK_OK : MK_ENOMEM;
}

static void value_cell(struct csv *c, const struct latest *lt, int k, int comp, int decimals)
{
    if (k >= 0 && lt->have[k])
        csv_number(c, lt->v[k][comp], decimals);
    else
        csv_empty(c);
}

/* What the files are written from. */
struct csv_job {
    const struct export_req *r;
    const struct screen_rules *rules;
    char id[64], code[64];
    enum lang l;
    long total;                  /* visits */
    long visits, observations;   /* rows written */
    const struct obs_kind *kind; /* of the observation file being written */
};

static int write_visits(FILE *f, void *ctx)
{
    struct csv_job *jb = ctx;
    const struct export_req *r = jb->r;
    struct store *st = r->st;
    const struct screen_rules *rules = jb->rules;
    const char *campaign_id = jb->id, *campaign_code = jb->code;
    enum lang l = jb->l;
    long total = jb->total;
    struct csv c;
    csv_begin(&c, f);
    header(&c, l, visit_cols, sizeof visit_cols / sizeof visit_cols[0]);
    csv_end_row(&c);
    sqlite3_stmt *s = store_stmt(
        st, "SELECT v.id, v.day, v.queue_number, v.symptoms, p.code, p.name, p.sex, "
            "p.birth_date, p.birth_year, p.ethnicity, p.commune, p.village, p.cccd, p.bhyt, "
            "p.phone FROM visit v JOIN patient p ON p.id = v.patient_id "
            "WHERE v.campaign_id = ? ORDER BY v.day, v.queue_number");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, campaign_id, -1, SQLITE_TRANSIENT);
    int step, rc = MK_OK;
    long n = 0;
    int kbp = kind_index("bp");
    while (rc == MK_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
        const char *visit_id = col_text(s, 0);
        char *cells[6] = {0}; /* findings, referral to/urgency/status, medicines, flags */
        char top[16] = "";
        struct latest lt;
        int age = -1;
        json_t *obs = json_array();
        const char *sym = col_text(s, 3);
        json_t *symptoms = sym ? json_loads(sym, 0, NULL) : NULL;
        json_t *visit = json_pack(
            "{s:s, s:{s:s?, s:s?, s:o}, s:o, s:o}", "day", col_text(s, 1), "patient", "sex",
            col_text(s, 6), "birth_date", col_text(s, 7), "birth_year",
            sqlite3_column_type(s, 8) == SQLITE_NULL ? json_null()
                                                     : json_integer(sqlite3_column_int(s, 8)),
            "symptoms", symptoms ? symptoms : json_null(), "observations", obs);
        if (!visit)
            rc = MK_ENOMEM;
        if (rc == MK_OK)
            rc = visit_obs(st, visit_id, &lt, obs);
        if (rc == MK_OK)
            rc = flags_cell(rules, visit, &age, &cells[5], top);
        if (rc == MK_OK)
            rc = visit_list(st,
                            "SELECT icd10 FROM finding WHERE visit_id = ? AND removed_at IS NULL "
                            "ORDER BY created_at, id",
                            visit_id, l, LIST_CODES, &cells[0]);
        if (rc == MK_OK)
            rc = visit_list(st,
                            "SELECT destination, urgency, status FROM referral WHERE "
                            "visit_id = ? ORDER BY created_at, id",
                            visit_id, l, LIST_REFERRALS, &cells[1]);
        if (rc == MK_OK)
            rc = visit_list(st,
                            "SELECT m.name, m.strength, m.unit, sum(x.quantity) FROM "
                            "prescription x JOIN medicine m ON m.id = x.medicine_id WHERE "
                            "x.visit_id = ? AND x.state = 'dispensed' GROUP BY m.id "
                            "ORDER BY m.name, m.strength, m.code",
                            visit_id, l, LIST_MEDICINES, &cells[4]);
        json_decref(visit);
        if (rc != MK_OK) {
            free_cells(cells, 6);
            break;
        }
        const char *eth_code = col_text(s, 9);
        const struct ethnic_group *eth = eth_code ? ethnic_find(eth_code) : NULL;
        csv_text(&c, campaign_code);
        csv_text(&c, col_text(s, 1));
        csv_int(&c, sqlite3_column_int64(s, 2));
        csv_text(&c, col_text(s, 4));
        csv_text(&c, col_text(s, 5));
        csv_text(&c, sex_word(l, col_text(s, 6)));
        csv_text(&c, col_text(s, 7));
        if (sqlite3_column_type(s, 8) == SQLITE_NULL)
            csv_empty(&c);
        else
            csv_int(&c, sqlite3_column_int64(s, 8));
        if (age >= 0)
            csv_int(&c, age);
        else
            csv_empty(&c);
        csv_text(&c, eth ? eth->code : eth_code);
        csv_text(&c, eth ? eth->name : NULL);
        for (int i = 10; i <= 14; i++)
            csv_text(&c, col_text(s, i));
        if (lt.nbp >= 2) { /* the mean of the last two, as the rules judge it */
            csv_number(&c, (lt.sys[0] + lt.sys[1]) / 2, 1);
            csv_number(&c, (lt.dia[0] + lt.dia[1]) / 2, 1);
        } else {
            value_cell(&c, &lt, kbp, 0, -1);
            value_cell(&c, &lt, kbp, 1, -1);
        }
        csv_int(&c, lt.nbp);
        for (size_t i = 0; i < sizeof single_kinds / sizeof single_kinds[0]; i++) {
            if (single_kinds[i]) {
                value_cell(&c, &lt, kind_index(single_kinds[i]), 0, -1);
                continue;
            }
            int kw = kind_index("weight"), kh = kind_index("height");
            double h = lt.v[kh][0] / 100;
            if (lt.have[kw] && lt.have[kh] && h > 0) /* as the rules compute it: 24.9 */
                csv_number(&c, lt.v[kw][0] / (h * h), 1);
            else
                csv_empty(&c);
        }
        csv_text(&c, !lt.have[kind_index("glucose")] || lt.fasting < 0 ? NULL
                     : lt.fasting                                      ? word(l, "Có", "yes")
                                                                       : word(l, "Không", "no"));
        csv_text(&c, cells[5]);
        csv_text(&c, top);
        for (int i = 0; i < 5; i++)
            csv_text(&c, cells[i]);
        csv_end_row(&c);
        free_cells(cells, 6);
        if (csv_error(&c))
            rc = MK_EIO;
        n++;
        if (n % 50 == 0 || n == total)
            progress_note(r->progress, "visits", n, total);
    }
    sqlite3_reset(s);
    if (rc == MK_OK)
        rc = store_err(st, step, "visits");
    jb->visits = n;
    return rc;
}

static int write_obs_kind(FILE *f, void *ctx)
{
    struct csv_job *jb = ctx;
    struct store *st = jb->r->st;
    const struct obs_kind *k = jb->kind;
    const char *campaign_id = jb->id, *campaign_code = jb->code;
    enum lang l = jb->l;
    struct csv c;
    csv_begin(&c, f);
    header(&c, l, obs_head, sizeof obs_head / sizeof obs_head[0]);
    for (int i = 0; i < k->ncomp; i++)
        for (size_t j = 0; j < sizeof comp_cols / sizeof comp_cols[0]; j++)
            if (!strcmp(comp_cols[j].comp, k->comp[i]))
                csv_text(&c, word(l, comp_cols[j].vi, comp_cols[j].en));
    bool glucose = !strcmp(k->code, "glucose");
    if (glucose)
        csv_text(&c, word(l, "Lúc đói", "fasting"));
    header(&c, l, obs_tail, sizeof obs_tail / sizeof obs_tail[0]);
    csv_end_row(&c);
    sqlite3_stmt *s = store_stmt(
        st, "SELECT v.day, v.queue_number, p.code, o.taken_at, o.value, o.value2, o.value3, "
            "o.fasting, o.unit, o.source, o.device, o.note, o.visit_id FROM observation o "
            "JOIN visit v ON v.id = o.visit_id JOIN patient p ON p.id = v.patient_id "
            "WHERE v.campaign_id = ? AND o.code = ? "
            "ORDER BY v.day, v.queue_number, o.taken_at, o.id");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, campaign_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, k->code, -1, SQLITE_STATIC);
    int step;
    long n = 0;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        csv_text(&c, campaign_code);
        csv_text(&c, col_text(s, 0));
        csv_int(&c, sqlite3_column_int64(s, 1));
        csv_text(&c, col_text(s, 2));
        csv_text(&c, col_text(s, 3));
        for (int i = 0; i < k->ncomp; i++) {
            if (sqlite3_column_type(s, 4 + i) == SQLITE_NULL)
                csv_empty(&c);
            else
                csv_number(&c, sqlite3_column_double(s, 4 + i), -1);
        }
        if (glucose)
            csv_text(&c, sqlite3_column_type(s, 7) == SQLITE_NULL ? NULL
                         : sqlite3_column_int(s, 7)               ? word(l, "Có", "yes")
                                                                  : word(l, "Không", "no"));
        csv_text(&c, col_text(s, 8));
        csv_text(&c, col_text(s, 9));
        csv_text(&c, col_text(s, 10));
        csv_text(&c, col_text(s, 11));
        csv_text(&c, col_text(s, 12));
        csv_end_row(&c);
        n++;
        if (csv_error(&c))
            break;
    }
    sqlite3_reset(s);
    jb->observations += n;
    if (csv_error(&c))
        return MK_EIO;
    return store_err(st, step, "observations");
}

static long count_visits(struct store *st, const char *campaign_id)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT count(*) FROM visit WHERE campaign_id = ?");
    long n = 0;
    if (!s)
        return 0;
    sqlite3_bind_text(s, 1, campaign_id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s) == SQLITE_ROW)
        n = (long)sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return n;
}

int export_csv_with(const struct export_req *r, const struct screen_rules *rules)
{
    if (r->lang && strcmp(r->lang, "en") && strcmp(r->lang, "vi"))
        return MK_EINVAL;
    struct csv_job jb = {.r = r, .rules = rules, .l = r->lang && !strcmp(r->lang, "en") ? EN : VI};
    int rc = export_campaign(r->st, r->campaign, jb.id, jb.code, NULL);
    if (rc != MK_OK)
        return rc;
    struct outdir dir;
    rc = outdir_open(&dir, r->out);
    if (rc != MK_OK)
        return rc;
    bool snap = export_snapshot_begin(r->st);
    jb.total = count_visits(r->st, jb.id);
    progress_note(r->progress, "visits", 0, jb.total);
    rc = export_file(&dir, "visits.csv", write_visits, &jb);
    for (size_t i = 0; rc == MK_OK && i < obs_kinds_count; i++) {
        char name[64];
        snprintf(name, sizeof name, "observations-%s.csv", obs_kinds[i].code);
        jb.kind = &obs_kinds[i];
        rc = export_file(&dir, name, write_obs_kind, &jb);
        progress_note(r->progress, "observations", (long)i + 1, (long)obs_kinds_count);
    }
    export_snapshot_end(r->st, snap);
    if (rc == MK_OK) {
        json_t *what = json_pack("{s:s, s:s, s:s, s:I, s:I}", "format", "csv", "out", dir.path,
                                 "lang", jb.l == VI ? "vi" : "en", "visits", (json_int_t)jb.visits,
                                 "observations", (json_int_t)jb.observations);
        rc = export_audit(r, jb.id, what);
        json_decref(what);
    }
    if (rc == MK_OK)
        return outdir_commit(&dir);
    outdir_abort(&dir);
    return rc;
}

int export_csv(const struct export_req *r)
{
    struct screen_rules rules;
    int rc = export_rules_load(r, &rules);
    return rc == MK_OK ? export_csv_with(r, &rules) : rc;
}
