/* The dashboard's Export buttons: GET /api/v1/campaigns/{code}/export?format=csv|report|fhir|
 * package[&lang=vi|en] made as `mokit export` makes it, into a temporary directory under the
 * data directory, and sent as a download (app/doc/api-export.md). The file is sent from an
 * open descriptor after the temporary directory is gone, so nothing stays behind on the kit
 * however the download ends. The export runs on the one HTTP thread: other requests wait for
 * it (the CSV or the report of 3,000 visits: about 0.2 s on a laptop). */
#include "../common/err.h"
#include "../common/log.h"
#include "../domain/role.h"
#include "../export/export_int.h"
#include "../export/package.h"
#include "../store/store_int.h"
#include "api_export.h"
#include "api_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What each format sends: the file of the export's directory (NULL: the export is the file). */
static const struct {
    const char *format, *file, *suffix, *type;
} formats[] = {
    {"csv", "visits.csv", "-visits.csv", "text/csv; charset=utf-8"},
    {"report", "report.html", "-report.html", "text/html; charset=utf-8"},
    {"fhir", "bundle.json", "-fhir-bundle.json", "application/fhir+json; charset=utf-8"},
    {"package", NULL, ".mokitpkg", "application/octet-stream"},
};

/* A report opened in the browser from the download bar runs nothing and loads nothing. */
#define REPORT_CSP "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

/* Removes dir and the files and directories in it (an export is at most two levels deep). */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[PATH_MAX];
            if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p)
                continue;
            if (e->d_type == DT_DIR || (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno == EISDIR))
                remove_tree(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

void api_export_cleanup(const char *data_dir)
{
    DIR *d = opendir(data_dir);
    if (!d)
        return;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        char p[PATH_MAX];
        if (strncmp(e->d_name, ".export-", 8) != 0 ||
            snprintf(p, sizeof p, "%s/%s", data_dir, e->d_name) >= (int)sizeof p)
            continue;
        remove_tree(p);
        n++;
    }
    closedir(d);
    if (n)
        LOG(LOG_NOTICE, "removed %d export%s left by an interrupted download", n,
            n == 1 ? "" : "s");
}

/* "<data dir>/.export-XXXXXX", made: 0, or an mk_err. */
static int make_workdir(struct store *st, char out[PATH_MAX])
{
    const char *db = sqlite3_db_filename(st->db, "main");
    const char *slash = db ? strrchr(db, '/') : NULL;
    if (!slash)
        return MK_EIO;
    if (snprintf(out, PATH_MAX, "%.*s/.export-XXXXXX", (int)(slash - db), db) >= PATH_MAX)
        return MK_EIO;
    if (!mkdtemp(out)) {
        int e = errno;
        LOG(LOG_ERROR, "cannot make a directory for an export: %s", strerror(e));
        return e == ENOSPC ? MK_ENOSPC : MK_EIO;
    }
    return MK_OK;
}

/* A campaign code as a file name: letters, digits, - _ . only. */
static void file_name(const char *code, const char *suffix, char *out, size_t n)
{
    size_t i = 0;
    for (; code[i] && i + strlen(suffix) + 1 < n && i < 64; i++) {
        char ch = code[i];
        out[i] = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                         ch == '-' || ch == '_' || ch == '.'
                     ? ch
                     : '_';
    }
    snprintf(out + i, n - i, "%s", suffix);
}

static enum MHD_Result send_file(struct ctx *c, int fd, const char *type, const char *name,
                                 bool report)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return send_store_error(c->conn, MK_EIO);
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    char disp[160];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", name);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "Content-Disposition", disp);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (report)
        MHD_add_response_header(r, "Content-Security-Policy", REPORT_CSP);
    enum MHD_Result ret = MHD_queue_response(c->conn, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result export_get(struct ctx *c, const char *code)
{
    const char *format = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "format");
    const char *lang = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "lang");
    size_t f = 0;
    while (format && f < sizeof formats / sizeof formats[0] && strcmp(formats[f].format, format))
        f++;
    if (!format || f == sizeof formats / sizeof formats[0])
        return send_error_extra(c->conn, 400, "invalid",
                                "format must be csv, report, fhir or package", "format", NULL,
                                NULL);
    if (!lang || !lang[0])
        lang = "vi";
    if (strcmp(lang, "vi") && strcmp(lang, "en"))
        return send_error_extra(c->conn, 400, "invalid", "lang must be vi or en", "lang", NULL,
                                NULL);
    char id[64], canon[64];
    int rc = export_campaign(c->api->st, code, id, canon, NULL);
    if (rc == MK_ENOTFOUND)
        return send_error_extra(c->conn, 404, "not_found", "no such campaign", "campaign", NULL,
                                NULL);
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);

    char work[PATH_MAX], out[PATH_MAX + 16], path[PATH_MAX + 64], err[300] = "";
    rc = make_workdir(c->api->st, work);
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    snprintf(out, sizeof out, "%s/out", work);
    struct export_req r = {c->api->st, &c->actor, canon, out, lang, NULL, NULL};
    if (!strcmp(format, "csv"))
        rc = export_csv_with(&r, &c->api->rules);
    else if (!strcmp(format, "report"))
        rc = export_report_with(&r, &c->api->rules);
    else if (!strcmp(format, "fhir"))
        rc = export_fhir(&r);
    else
        rc = package_write(&r, NULL, err, sizeof err);
    int fd = -1;
    if (rc == MK_OK) {
        if (formats[f].file)
            snprintf(path, sizeof path, "%s/%s", out, formats[f].file);
        else
            snprintf(path, sizeof path, "%s", out);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            LOG(LOG_ERROR, "cannot open the export %s: %s", path, strerror(errno));
            rc = MK_EIO;
        }
    }
    remove_tree(work); /* the open descriptor keeps the file until it is sent */
    if (rc == MK_EINVAL && !strcmp(format, "package"))
        return send_error(c->conn, 409, "conflict", err[0] ? err : mk_strerror(rc));
    if (rc != MK_OK)
        return send_store_error(c->conn, rc);
    char name[120];
    file_name(canon, formats[f].suffix, name, sizeof name);
    return send_file(c, fd, formats[f].type, name, !strcmp(format, "report"));
}

int export_route(struct ctx *c, enum MHD_Result *ret)
{
    if (c->nseg != 3 || strcmp(c->seg[0], "campaigns") || strcmp(c->seg[2], "export"))
        return 0;
    if (!is(c, "GET")) {
        json_t *body = json_pack("{s:{s:s, s:s}}", "error", "code", "method_not_allowed", "message",
                                 "this path does not take that method");
        *ret = send_json_header(c->conn, 405, body, MHD_HTTP_HEADER_ALLOW, "GET");
        return 1;
    }
    if (require(c, PERM_CLINICAL, ret) != 0) /* lead, doctor: the records of every resident */
        return 1;
    *ret = export_get(c, c->seg[1]);
    return 1;
}
