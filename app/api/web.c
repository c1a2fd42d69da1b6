#include "web.h"

#include "../common/err.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct web {
    int dirfd;
    char dir[PATH_MAX];
};

/* What the pages may load: only this kit. No inline script, nothing from elsewhere; camera
 * frames for the barcode detector are blob/mediastream URLs. */
#define WEB_CSP                                                                             \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " \
    "media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; "          \
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

int web_open(const char *dir, struct web **out)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return MK_ENOTFOUND;
    struct stat sb;
    if (fstatat(fd, "index.html", &sb, 0) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return MK_ENOTFOUND;
    }
    struct web *w = calloc(1, sizeof *w);
    if (!w) {
        close(fd);
        return MK_ENOMEM;
    }
    w->dirfd = fd;
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    *out = w;
    return MK_OK;
}

void web_close(struct web *w)
{
    if (!w)
        return;
    close(w->dirfd);
    free(w);
}

int web_default_dir(char *out, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return MK_ENOTFOUND;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return MK_ENOTFOUND;
    *slash = '\0';
    /* build/mokitd or build/san/mokitd in the source tree; /usr/bin/mokitd installed */
    static const char *const rel[] = {"/../app/web", "/../../app/web", "/../share/mokit/web"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        char path[PATH_MAX + 32], idx[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s%s", exe, rel[i]);
        snprintf(idx, sizeof idx, "%s/index.html", path);
        if (access(idx, R_OK) == 0) {
            char *real = realpath(path, NULL);
            if (!real)
                continue;
            int fits = snprintf(out, size, "%s", real) < (int)size;
            free(real);
            if (fits)
                return MK_OK;
        }
    }
    return MK_ENOTFOUND;
}

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".webmanifest", "application/manifest+json"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(path, '.');
    if (dot)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcmp(dot, types[i].ext) == 0)
                return types[i].type;
    return NULL; /* not a kind of file the UI has: not served */
}

/* A path that names a file under the directory and nothing else. */
static int path_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 200 || p[0] == '/')
        return 0;
    for (const char *s = p; *s; s++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-' || ch == '/'))
            return 0;
        if ((s == p || s[-1] == '/') && (ch == '.' || ch == '/'))
            return 0; /* hidden files, "..", "//" */
    }
    return 1;
}

static enum MHD_Result plain(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(msg), (void *)msg, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (status == 405)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Opens path under dirfd one component at a time, following no symbolic link anywhere and
 * never blocking (a FIFO would hold the server's one thread). -1 when it is not a regular
 * file reached that way. */
static int open_beneath(int dirfd, const char *path)
{
    char part[201];
    int fd = dirfd;
    for (const char *p = path;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || n >= sizeof part) {
            fd = -1;
            break;
        }
        memcpy(part, p, n);
        part[n] = '\0';
        int next = openat(
            fd, part, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | (slash ? O_DIRECTORY : 0));
        if (fd != dirfd)
            close(fd);
        fd = next;
        if (fd < 0 || !slash)
            break;
        p = slash + 1;
    }
    struct stat sb;
    if (fd >= 0 && (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* An If-None-Match that names etag: one of a list, weak or strong (a weak comparison). */
static int etag_matches(const char *inm, const char *etag)
{
    return inm && (strstr(inm, etag) != NULL || strcmp(inm, "*") == 0);
}

enum MHD_Result web_serve(struct web *w, struct MHD_Connection *conn, const char *method,
                          const char *url)
{
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return plain(conn, 405, "405 only GET and HEAD here\n");
    if (!w)
        return plain(conn, 404, "404 the web UI is not installed on this kit (see /status)\n");
    const char *path = strcmp(url, "/") == 0 ? "index.html" : url + 1;
    const char *type = content_type(path);
    if (!path_ok(path) || !type)
        return plain(conn, 404, "404 no such page\n");
    int fd = open_beneath(w->dirfd, path);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        if (fd >= 0)
            close(fd);
        return plain(conn, 404, "404 no such page\n");
    }
    char etag[64];
    snprintf(etag, sizeof etag, "\"%llx-%llx-%lx\"", (unsigned long long)sb.st_size,
             (unsigned long long)sb.st_mtim.tv_sec, (unsigned long)sb.st_mtim.tv_nsec);
    const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
    struct MHD_Response *r;
    unsigned status = 200;
    if (etag_matches(inm, etag)) {
        close(fd);
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        status = 304;
    } else {
        r = MHD_create_response_from_fd((uint64_t)sb.st_size, fd); /* takes fd */
        if (!r)
            close(fd);
    }
    if (!r)
        return MHD_NO;
    if (status == 200)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy", WEB_CSP);
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}
