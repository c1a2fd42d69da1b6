/* The campaign report the Department of Health asks for (app/doc/exports.md): report.json and
 * report.html, a printable A4 page with inline SVG bar charts, no script and nothing loaded
 * from elsewhere. The numbers are the dashboard's (review_dashboard() over the same visits as
 * GET /dashboard?scope=campaign), with breakdowns the dashboard does not show (sex by age
 * group, referrals by destination and urgency, visits by day). Every text from the data is
 * HTML-escaped. */
#include "export_int.h"

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../domain/review.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum lang { VI, EN };

static const char *const age_groups[] = {"0-4", "5-17", "18-39", "40-59", "60+", "unknown"};
#define NGROUPS (sizeof age_groups / sizeof age_groups[0])

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static json_int_t num(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* ---- what the dashboard does not count ---- */

/* Residents by age group and sex (each once, at their first visit, as the dashboard counts
 * them), visits by day, referrals by destination and urgency (cancelled ones left out). */
static json_t *extra_counts(const struct screen_rules *rules, const json_t *visits)
{
    json_t *seen = json_object(), *sex_age = json_array(), *days = json_array(),
           *dest = json_array();
    for (size_t g = 0; g < NGROUPS; g++)
        json_array_append_new(
            sex_age, json_pack("{s:s, s:i, s:i}", "group", age_groups[g], "male", 0, "female", 0));
    size_t i;
    json_t *v;
    json_array_foreach(visits, i, v)
    {
        const char *day = str(v, "day");
        json_t *last = json_array_get(days, json_array_size(days) - 1);
        if (last && day && !strcmp(str(last, "day"), day))
            json_object_set_new(last, "visits", json_integer(num(last, "visits") + 1));
        else if (day)
            json_array_append_new(days, json_pack("{s:s, s:i}", "day", day, "visits", 1));

        const json_t *p = json_object_get(v, "patient");
        const char *code = str(p, "code"), *sex = str(p, "sex");
        if (code && !json_object_get(seen, code)) {
            json_object_set_new(seen, code, json_true());
            int age;
            json_decref(review_visit_flags(rules, v, &age));
            const char *group = review_age_group(age);
            for (size_t g = 0; g < NGROUPS; g++) {
                json_t *row = json_array_get(sex_age, g);
                if (sex && !strcmp(age_groups[g], group) && json_object_get(row, sex))
                    json_object_set_new(row, sex, json_integer(num(row, sex) + 1));
            }
        }
        size_t k;
        json_t *r;
        json_array_foreach(json_object_get(v, "referrals"), k, r)
        {
            const char *to = str(r, "to"), *urg = str(r, "urgency"), *status = str(r, "status");
            if (!to || !urg || (status && !strcmp(status, "cancelled")))
                continue;
            json_t *row = NULL;
            for (size_t d = 0; d < json_array_size(dest) && !row; d++)
                if (!strcmp(str(json_array_get(dest, d), "to"), to))
                    row = json_array_get(dest, d);
            if (!row) {
                row = json_pack("{s:s, s:i, s:i, s:i, s:i}", "to", to, "routine", 0, "soon", 0,
                                "urgent", 0, "total", 0);
                json_array_append_new(dest, row);
            }
            json_object_set_new(row, urg, json_integer(num(row, urg) + 1));
            json_object_set_new(row, "total", json_integer(num(row, "total") + 1));
        }
    }
    json_decref(seen);
    return json_pack("{s:o, s:o, s:o}", "by_sex_age", sex_age, "visits_by_day", days,
                     "referrals_by_destination_urgency", dest);
}

/* The report as JSON: the dashboard's object (the same keys and numbers as GET /dashboard
 * ?scope=campaign), the extra counts, the rules' messages, and when and by whom. */
static int build(const struct export_req *r, const struct screen_rules *rules, const char *id,
                 json_t *camp, enum lang l, json_t **out)
{
    json_t *visits = NULL, *meds = NULL;
    bool snap = export_snapshot_begin(r->st);
    int rc = store_visit_list(r->st, id, NULL, &visits);
    if (rc == MK_OK)
        rc = store_medicine_given(r->st, id, NULL, &meds);
    export_snapshot_end(r->st, snap);
    if (rc != MK_OK) {
        json_decref(visits);
        return rc;
    }
    progress_note(r->progress, "count", 1, 2);
    json_t *rep = review_dashboard(rules, visits, meds);
    json_t *extra = extra_counts(rules, visits);
    json_decref(visits);
    json_decref(meds);
    if (!rep || !extra) {
        json_decref(rep);
        json_decref(extra);
        return MK_ENOMEM;
    }
    json_object_set_new(rep, "scope", json_string("campaign"));
    json_object_set_new(rep, "day", json_null());
    json_object_set(rep, "campaign", camp);
    json_object_update(rep, extra);
    json_decref(extra);
    json_t *msgs = json_object();
    for (int i = 0; i < rules->nrules; i++)
        json_object_set_new(
            msgs, rules->rules[i].id,
            json_pack("{s:s, s:s}", "vi", rules->rules[i].msg_vi, "en", rules->rules[i].msg_en));
    char now[32];
    util_now_iso(now);
    json_object_set_new(rep, "rules", msgs);
    json_object_set_new(rep, "generated_at", json_string(now));
    json_object_set_new(rep, "generated_by", json_string(r->actor ? r->actor->label : ""));
    json_object_set_new(rep, "kit", json_string(store_kit_id(r->st)));
    json_object_set_new(rep, "lang", json_string(l == VI ? "vi" : "en"));
    *out = rep;
    return MK_OK;
}

/* ---- HTML ---- */

struct page {
    FILE *f;
    enum lang l;
    const struct screen_rules *rules; /* for the flags' meanings */
};

static const char *w(const struct page *p, const char *vi, const char *en)
{
    return p->l == VI ? vi : en;
}

static void raw(struct page *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void raw(struct page *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->f, fmt, ap);
    va_end(ap);
}

/* Text as HTML (in an element or a quoted attribute). NULL is nothing. */
static void esc(struct page *p, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", p->f);
            break;
        case '<':
            fputs("&lt;", p->f);
            break;
        case '>':
            fputs("&gt;", p->f);
            break;
        case '"':
            fputs("&quot;", p->f);
            break;
        case '\'':
            fputs("&#39;", p->f);
            break;
        default:
            fputc(*s, p->f);
        }
    }
}

/* At most n characters (code points) of s, escaped, with "…" when cut. */
static void esc_cut(struct page *p, const char *s, int n)
{
    char buf[400];
    size_t at = 0;
    int chars = 0;
    for (; s && s[at] && at < sizeof buf - 4; at++) {
        if (((unsigned char)s[at] & 0xC0) != 0x80 && chars++ == n)
            break;
    }
    while (at > 0 && s && s[at] && ((unsigned char)s[at] & 0xC0) == 0x80)
        at--; /* never cut a character in two */
    snprintf(buf, sizeof buf, "%.*s%s", (int)at, s ? s : "", s && s[at] ? "…" : "");
    esc(p, buf);
}

static void cell_text(struct page *p, const char *s)
{
    raw(p, "<td>");
    esc(p, s);
    raw(p, "</td>");
}

static void cell_num(struct page *p, json_int_t n)
{
    raw(p, "<td class=\"n\">%lld</td>", (long long)n);
}

static const char *age_label(const struct page *p, const char *group)
{
    return !strcmp(group, "unknown") ? w(p, "không rõ", "unknown") : group;
}

static const char *level_label(const struct page *p, const char *level)
{
    static const char *const t[][3] = {{"info", "Thông tin", "information"},
                                       {"repeat", "Đo lại", "repeat the reading"},
                                       {"review", "Bác sĩ xem", "doctor to review"},
                                       {"flag", "Cần chú ý", "flag"},
                                       {"urgent", "Khẩn", "urgent"}};
    for (size_t i = 0; level && i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(t[i][0], level))
            return p->l == VI ? t[i][1] : t[i][2];
    return level;
}

static const char *urgency_label(const struct page *p, const char *u)
{
    return !strcmp(u, "routine") ? w(p, "Thường quy", "routine")
           : !strcmp(u, "soon")  ? w(p, "Sớm", "soon")
                                 : w(p, "Khẩn", "urgent");
}

/* One bar of a chart. */
struct bar {
    const char *label;
    json_int_t v[2]; /* one or two series */
};

/* A horizontal bar chart: one row per bar, one or two series (male, female) per row, the
 * numbers written at the bars' ends. Sizes are in CSS pixels of a 680 px wide page column. */
static void chart(struct page *p, const char *title, const struct bar *bars, size_t n, int series,
                  const char *const names[2])
{
    enum { W = 680, LABEL = 230, NUMW = 50, ROW = 16, GAP = 6, TOP = 4 };
    json_int_t max = 0;
    for (size_t i = 0; i < n; i++)
        for (int s = 0; s < series; s++)
            if (bars[i].v[s] > max)
                max = bars[i].v[s];
    int rowh = ROW * series + GAP, legend = series > 1 ? 20 : 0;
    int h = TOP + (int)n * rowh + legend;
    raw(p,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
        "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
        W, h, W, h);
    esc(p, title);
    raw(p, "\"><title>");
    esc(p, title);
    raw(p, "</title>");
    static const char *const fill[2] = {"#3b6ea5", "#c0504d"};
    for (size_t i = 0; i < n; i++) {
        int y = TOP + (int)i * rowh;
        raw(p, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"l\">", LABEL - 6,
            y + ROW * series / 2 + 4);
        esc_cut(p, bars[i].label, 34);
        raw(p, "</text>");
        for (int s = 0; s < series; s++) {
            int len = max ? (int)((double)bars[i].v[s] * (W - LABEL - NUMW) / (double)max) : 0;
            raw(p,
                "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>"
                "<text x=\"%d\" y=\"%d\" class=\"v\">%lld</text>",
                LABEL, y + s * ROW, len, ROW - 2, fill[s], LABEL + len + 4, y + s * ROW + ROW - 4,
                (long long)bars[i].v[s]);
        }
    }
    if (series > 1) {
        int y = TOP + (int)n * rowh + 4;
        for (int s = 0; s < series; s++) {
            raw(p, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>",
                LABEL + s * 120, y, fill[s]);
            raw(p, "<text x=\"%d\" y=\"%d\" class=\"v\">", LABEL + s * 120 + 16, y + 10);
            esc(p, names[s]);
            raw(p, "</text>");
        }
    }
    raw(p, "</svg>\n");
}

static void heading(struct page *p, int n, const char *vi, const char *en)
{
    raw(p, "<section>\n<h2>%d. ", n);
    esc(p, w(p, vi, en));
    raw(p, "</h2>\n");
}

static void th(struct page *p, const char *vi, const char *en, bool number)
{
    raw(p, number ? "<th class=\"n\">" : "<th>");
    esc(p, w(p, vi, en));
    raw(p, "</th>");
}

static void none(struct page *p)
{
    raw(p, "<p class=\"none\">");
    esc(p, w(p, "Không có.", "None."));
    raw(p, "</p>\n");
}

static void meta_row(struct page *p, const char *vi, const char *en, const char *value)
{
    raw(p, "<tr><th>");
    esc(p, w(p, vi, en));
    raw(p, "</th>");
    cell_text(p, value && value[0] ? value : "—");
    raw(p, "</tr>\n");
}

static void html_head(struct page *p, const json_t *rep)
{
    const json_t *camp = json_object_get(rep, "campaign");
    raw(p, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n<title>",
        p->l == VI ? "vi" : "en");
    esc(p, w(p, "Báo cáo đợt khám sàng lọc", "Screening campaign report"));
    raw(p, " — ");
    esc(p, str(camp, "name"));
    raw(p, "</title>\n<style>\n"
           "@page { size: A4; margin: 15mm 14mm; }\n"
           "body { font-family: \"DejaVu Sans\", \"Noto Sans\", Arial, sans-serif; "
           "font-size: 10pt; color: #000; max-width: 182mm; margin: 0 auto; }\n"
           "h1 { font-size: 16pt; margin: 0 0 2mm; }\n"
           "h2 { font-size: 12pt; border-bottom: 1px solid #777; margin: 6mm 0 2mm; "
           "break-after: avoid; }\n"
           "section { break-inside: avoid; }\n"
           "table { border-collapse: collapse; width: 100%%; margin: 1mm 0 2mm; }\n"
           "th, td { border: 1px solid #999; padding: 1mm 2mm; text-align: left; "
           "vertical-align: top; }\n"
           "th { background: #eee; }\n"
           ".n { text-align: right; white-space: nowrap; }\n"
           "tr.total td, tr.total th { font-weight: bold; }\n"
           "table.meta th { width: 45mm; }\n"
           "svg { display: block; max-width: 100%%; height: auto; margin: 2mm 0; }\n"
           "svg .l, svg .v { font-size: 11px; font-family: inherit; fill: #000; }\n"
           ".none { color: #555; }\n"
           ".sign { display: flex; justify-content: space-between; margin-top: 12mm; "
           "text-align: center; }\n"
           ".sign div { width: 45%%; height: 30mm; }\n"
           "footer { margin-top: 6mm; font-size: 8pt; color: #555; }\n"
           "</style>\n</head>\n<body>\n");
}

static void html_details(struct page *p, const json_t *rep)
{
    const json_t *camp = json_object_get(rep, "campaign");
    raw(p, "<header>\n<h1>");
    esc(p, w(p, "Báo cáo kết quả khám sàng lọc", "Screening campaign report"));
    raw(p, "</h1>\n<table class=\"meta\">\n");
    char where[600] = "", dates[64] = "", held[80] = "";
    static const char *const parts[] = {"village", "commune", "district", "province"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        const char *s = str(camp, parts[i]);
        if (s && s[0])
            snprintf(where + strlen(where), sizeof where - strlen(where), "%s%s",
                     where[0] ? ", " : "", s);
    }
    const char *start = str(camp, "start_date"), *end = str(camp, "end_date");
    if (start || end)
        snprintf(dates, sizeof dates, "%s – %s", start ? start : "…", end ? end : "…");
    const json_t *days = json_object_get(rep, "visits_by_day");
    size_t nd = json_array_size(days);
    if (nd)
        snprintf(held, sizeof held, "%s – %s (%zu %s)", str(json_array_get(days, 0), "day"),
                 str(json_array_get(days, nd - 1), "day"), nd,
                 w(p, "ngày", nd > 1 ? "days" : "day"));
    meta_row(p, "Đợt khám", "Campaign", str(camp, "name"));
    meta_row(p, "Mã đợt khám", "Campaign code", str(camp, "code"));
    meta_row(p, "Địa bàn", "Place", where);
    meta_row(p, "Đơn vị tổ chức", "Organised by", str(camp, "hospital"));
    meta_row(p, "Thời gian dự kiến", "Planned dates", dates);
    meta_row(p, "Ngày có lượt khám", "Days with visits", held);
    meta_row(p, "Lập báo cáo lúc (UTC)", "Report made at (UTC)", str(rep, "generated_at"));
    raw(p, "</table>\n</header>\n");
}

static void html_summary(struct page *p, const json_t *rep, int *sec)
{
    const json_t *fl = json_object_get(rep, "flagged"), *ref = json_object_get(rep, "referrals");
    heading(p, ++*sec, "Tổng quan", "Summary");
    raw(p, "<table>\n");
    static const struct {
        const char *vi, *en, *obj, *key;
    } rows[] = {
        {"Người được khám", "Residents screened", NULL, "residents"},
        {"Lượt khám", "Visits", NULL, "visits"},
        {"Lượt khám có cảnh báo", "Visits with a flag", "flagged", "visits"},
        {"Lượt khám có cảnh báo khẩn", "Visits with an urgent flag", "flagged", "urgent"},
        {"Chuyển tuyến", "Referrals", "referrals", "total"},
        {"Đã đến viện", "Arrived at the hospital", "referrals", "arrived"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const json_t *o = !rows[i].obj ? rep : !strcmp(rows[i].obj, "flagged") ? fl : ref;
        raw(p, "<tr><th>");
        esc(p, w(p, rows[i].vi, rows[i].en));
        raw(p, "</th>");
        cell_num(p, num(o, rows[i].key));
        raw(p, "</tr>\n");
    }
    raw(p, "</table>\n</section>\n");
}

static void html_sex_age(struct page *p, const json_t *rep, int *sec)
{
    const json_t *rows = json_object_get(rep, "by_sex_age");
    heading(p, ++*sec, "Người được khám theo giới tính và nhóm tuổi",
            "Residents screened by sex and age group");
    raw(p, "<table>\n<tr>");
    th(p, "Nhóm tuổi", "Age group", false);
    th(p, "Nam", "Male", true);
    th(p, "Nữ", "Female", true);
    th(p, "Tổng", "Total", true);
    raw(p, "</tr>\n");
    struct bar bars[NGROUPS];
    json_int_t tm = 0, tf = 0;
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(rows) && n < NGROUPS; i++) {
        const json_t *r = json_array_get(rows, i);
        json_int_t m = num(r, "male"), f = num(r, "female");
        bars[n++] = (struct bar){age_label(p, str(r, "group")), {m, f}};
        tm += m;
        tf += f;
        raw(p, "<tr>");
        cell_text(p, age_label(p, str(r, "group")));
        cell_num(p, m);
        cell_num(p, f);
        cell_num(p, m + f);
        raw(p, "</tr>\n");
    }
    raw(p, "<tr class=\"total\"><th>");
    esc(p, w(p, "Tổng", "Total"));
    raw(p, "</th>");
    cell_num(p, tm);
    cell_num(p, tf);
    cell_num(p, tm + tf);
    raw(p, "</tr>\n</table>\n");
    const char *const names[2] = {w(p, "Nam", "Male"), w(p, "Nữ", "Female")};
    chart(p, w(p, "Người được khám theo nhóm tuổi và giới tính", "Residents by age and sex"), bars,
          n, 2, names);
    raw(p, "</section>\n");
}

/* A ranked list ([{..., "count"}], largest first) as a table and a one-series chart. */
struct ranked {
    const char *col_vi, *col_en;     /* the first column: label() */
    const char *extra_vi, *extra_en; /* a second column (extra()), or NULL */
    const char *count_vi, *count_en;
    const char *chart_vi, *chart_en;
    void (*label)(struct page *, const json_t *, char *, size_t);
    void (*extra)(struct page *, const json_t *);
};

static void html_ranked(struct page *p, const json_t *list, const struct ranked *k)
{
    size_t n = json_array_size(list);
    struct bar *bars = n ? calloc(n, sizeof *bars) : NULL;
    char(*labels)[200] = n ? calloc(n, sizeof *labels) : NULL;
    if (!bars || !labels) {
        free(bars);
        free(labels);
        none(p);
        return;
    }
    raw(p, "<table>\n<tr>");
    th(p, k->col_vi, k->col_en, false);
    if (k->extra)
        th(p, k->extra_vi, k->extra_en, false);
    th(p, k->count_vi, k->count_en, true);
    raw(p, "</tr>\n");
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(list, i);
        k->label(p, x, labels[i], sizeof labels[i]);
        raw(p, "<tr>");
        cell_text(p, labels[i]);
        if (k->extra)
            k->extra(p, x);
        cell_num(p, num(x, "count"));
        raw(p, "</tr>\n");
        bars[i] = (struct bar){labels[i], {num(x, "count"), 0}};
    }
    raw(p, "</table>\n");
    chart(p, w(p, k->chart_vi, k->chart_en), bars, n, 1, NULL);
    free(bars);
    free(labels);
}

static void eth_label(struct page *p, const json_t *x, char *out, size_t n)
{
    const char *name = str(x, "name"), *code = str(x, "code");
    if (name)
        snprintf(out, n, "%s (%s)", name, code);
    else
        snprintf(out, n, "%s", w(p, "không rõ", "not recorded"));
}

static void flag_label(struct page *p, const json_t *x, char *out, size_t n)
{
    snprintf(out, n, "%s — %s", str(x, "rule"), level_label(p, str(x, "level")));
}

static void flag_meaning(struct page *p, const json_t *x)
{
    const char *rule = str(x, "rule"), *msg = NULL;
    for (int i = 0; rule && i < p->rules->nrules; i++)
        if (!strcmp(p->rules->rules[i].id, rule))
            msg = p->l == VI ? p->rules->rules[i].msg_vi : p->rules->rules[i].msg_en;
    cell_text(p, msg);
}

static void cond_label(struct page *p, const json_t *x, char *out, size_t n)
{
    const char *name = str(x, p->l == VI ? "vi" : "en");
    snprintf(out, n, "%s%s%s", str(x, "code"), name ? " " : "", name ? name : "");
}

static void html_referrals(struct page *p, const json_t *rep, int *sec)
{
    const json_t *ref = json_object_get(rep, "referrals"),
                 *rows = json_object_get(rep, "referrals_by_destination_urgency");
    static const char *const urg[] = {"routine", "soon", "urgent"};
    heading(p, ++*sec, "Chuyển tuyến", "Referrals");
    if (json_array_size(rows) == 0) {
        none(p);
        raw(p, "</section>\n");
        return;
    }
    raw(p, "<table>\n<tr>");
    th(p, "Nơi chuyển đến", "Destination", false);
    for (size_t u = 0; u < 3; u++) {
        raw(p, "<th class=\"n\">");
        esc(p, urgency_label(p, urg[u]));
        raw(p, "</th>");
    }
    th(p, "Tổng", "Total", true);
    raw(p, "</tr>\n");
    size_t i;
    const json_t *r;
    json_array_foreach(rows, i, r)
    {
        raw(p, "<tr>");
        cell_text(p, str(r, "to"));
        for (size_t u = 0; u < 3; u++)
            cell_num(p, num(r, urg[u]));
        cell_num(p, num(r, "total"));
        raw(p, "</tr>\n");
    }
    const json_t *by = json_object_get(ref, "by_urgency");
    raw(p, "<tr class=\"total\"><th>");
    esc(p, w(p, "Tổng", "Total"));
    raw(p, "</th>");
    for (size_t u = 0; u < 3; u++)
        cell_num(p, num(by, urg[u]));
    cell_num(p, num(ref, "total"));
    raw(p, "</tr>\n</table>\n<p>");
    esc(p, w(p, "Đã đến viện: ", "Arrived at the hospital: "));
    raw(p, "%lld / %lld</p>\n", (long long)num(ref, "arrived"), (long long)num(ref, "total"));
    struct bar bars[3];
    for (size_t u = 0; u < 3; u++)
        bars[u] = (struct bar){urgency_label(p, urg[u]), {num(by, urg[u]), 0}};
    chart(p, w(p, "Chuyển tuyến theo mức độ", "Referrals by urgency"), bars, 3, 1, NULL);
    raw(p, "</section>\n");
}

static void html_medicines(struct page *p, const json_t *rep, int *sec)
{
    const json_t *meds = json_object_get(rep, "medicines");
    heading(p, ++*sec, "Thuốc đã phát và tồn kho", "Medicine given and stock left");
    if (json_array_size(meds) == 0) {
        none(p);
        raw(p, "</section>\n");
        return;
    }
    raw(p, "<table>\n<tr>");
    th(p, "Mã", "Code", false);
    th(p, "Tên thuốc", "Medicine", false);
    th(p, "Đơn vị", "Unit", false);
    th(p, "Đã phát", "Given", true);
    th(p, "Còn lại", "Stock left", true);
    raw(p, "</tr>\n");
    size_t i;
    const json_t *m;
    json_array_foreach(meds, i, m)
    {
        char name[300];
        const char *strength = str(m, "strength");
        snprintf(name, sizeof name, "%s%s%s", str(m, "name") ? str(m, "name") : "",
                 strength ? " " : "", strength ? strength : "");
        raw(p, "<tr>");
        cell_text(p, str(m, "code"));
        cell_text(p, name);
        cell_text(p, str(m, "unit"));
        cell_num(p, num(m, "dispensed"));
        cell_num(p, num(m, "stock"));
        raw(p, "</tr>\n");
    }
    raw(p, "</table>\n</section>\n");
}

static void html_days(struct page *p, const json_t *rep, int *sec)
{
    const json_t *days = json_object_get(rep, "visits_by_day");
    heading(p, ++*sec, "Lượt khám theo ngày", "Visits by day");
    if (json_array_size(days) == 0) {
        none(p);
        raw(p, "</section>\n");
        return;
    }
    raw(p, "<table>\n<tr>");
    th(p, "Ngày", "Day", false);
    th(p, "Lượt khám", "Visits", true);
    raw(p, "</tr>\n");
    size_t i;
    const json_t *d;
    json_array_foreach(days, i, d)
    {
        raw(p, "<tr>");
        cell_text(p, str(d, "day"));
        cell_num(p, num(d, "visits"));
        raw(p, "</tr>\n");
    }
    raw(p, "</table>\n</section>\n");
}

struct report_job {
    const struct export_req *r;
    const struct screen_rules *rules;
    json_t *rep;
    enum lang l;
};

static int write_html(FILE *f, void *ctx)
{
    struct report_job *j = ctx;
    struct page pg = {f, j->l, j->rules}, *p = &pg;
    const json_t *rep = j->rep;
    int sec = 0;
    html_head(p, rep);
    html_details(p, rep);
    html_summary(p, rep, &sec);
    html_sex_age(p, rep, &sec);

    static const struct ranked eth = {"Dân tộc",
                                      "Ethnic group",
                                      NULL,
                                      NULL,
                                      "Số người",
                                      "Residents",
                                      "Người được khám theo dân tộc",
                                      "Residents by ethnicity",
                                      eth_label,
                                      NULL};
    static const struct ranked flags = {
        "Quy tắc — mức", "Rule — level",          "Ý nghĩa",       "Meaning",  "Lượt khám",
        "Visits",        "Cảnh báo theo quy tắc", "Flags by rule", flag_label, flag_meaning};
    static const struct ranked cond = {
        "Bệnh (ICD-10)",  "Condition (ICD-10)", NULL,       NULL, "Lượt khám", "Visits",
        "Bệnh phát hiện", "Conditions found",   cond_label, NULL};
    static const struct {
        const char *vi, *en, *key;
        const struct ranked *k;
    } lists[] = {
        {"Người được khám theo dân tộc", "Residents screened by ethnicity", "by_ethnicity", &eth},
        {"Cảnh báo sàng lọc", "Screening flags", "flags", &flags},
        {"Bệnh phát hiện (ICD-10)", "Conditions found (ICD-10)", "conditions", &cond},
    };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        const json_t *list = json_object_get(rep, lists[i].key);
        heading(p, ++sec, lists[i].vi, lists[i].en);
        if (json_array_size(list) == 0)
            none(p);
        else
            html_ranked(p, list, lists[i].k);
        raw(p, "</section>\n");
    }

    html_referrals(p, rep, &sec);
    html_medicines(p, rep, &sec);
    html_days(p, rep, &sec);

    raw(p, "<div class=\"sign\"><div>");
    esc(p, w(p, "Người lập báo cáo", "Prepared by"));
    raw(p, "</div><div>");
    esc(p, w(p, "Trưởng đoàn khám", "Head of the screening team"));
    raw(p, "</div></div>\n<footer>");
    esc(p, w(p, "Lập bởi mokit, bộ máy ", "Made by mokit, kit "));
    esc(p, str(rep, "kit"));
    raw(p, ". ");
    esc(p, w(p,
             "Mỗi người được đếm một lần (tuổi tại lượt khám đầu tiên); cảnh báo đếm lượt "
             "khám; không tính chuyển tuyến đã hủy.",
             "Each resident counts once (age at their first visit); flags count visits; "
             "cancelled referrals are not counted."));
    raw(p, "</footer>\n</body>\n</html>\n");
    return ferror(f) ? MK_EIO : MK_OK;
}

static int write_json(FILE *f, void *ctx)
{
    struct report_job *j = ctx;
    if (json_dumpf(j->rep, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 || fputc('\n', f) < 0)
        return MK_EIO;
    return MK_OK;
}

int export_report_with(const struct export_req *r, const struct screen_rules *rules)
{
    if (r->lang && strcmp(r->lang, "en") && strcmp(r->lang, "vi"))
        return MK_EINVAL;
    struct report_job j = {
        .r = r, .rules = rules, .l = r->lang && !strcmp(r->lang, "en") ? EN : VI};
    char id[64], code[64];
    json_t *camp;
    int rc = export_campaign(r->st, r->campaign, id, code, &camp);
    if (rc != MK_OK)
        return rc;
    struct outdir dir;
    rc = outdir_open(&dir, r->out);
    if (rc != MK_OK) {
        json_decref(camp);
        return rc;
    }
    progress_note(r->progress, "count", 0, 2);
    rc = build(r, rules, id, camp, j.l, &j.rep);
    json_decref(camp);
    if (rc == MK_OK)
        rc = export_file(&dir, "report.json", write_json, &j);
    if (rc == MK_OK)
        rc = export_file(&dir, "report.html", write_html, &j);
    progress_note(r->progress, "count", 2, 2);
    if (rc == MK_OK) {
        json_t *what = json_pack("{s:s, s:s, s:s, s:I, s:I}", "format", "report", "out", dir.path,
                                 "lang", j.l == VI ? "vi" : "en", "residents",
                                 num(j.rep, "residents"), "visits", num(j.rep, "visits"));
        rc = export_audit(r, id, what);
        json_decref(what);
    }
    json_decref(j.rep);
    if (rc == MK_OK)
        return outdir_commit(&dir);
    outdir_abort(&dir);
    return rc;
}

int export_report(const struct export_req *r)
{
    struct screen_rules rules;
    int rc = export_rules_load(r, &rules);
    return rc == MK_OK ? export_report_with(r, &rules) : rc;
}
