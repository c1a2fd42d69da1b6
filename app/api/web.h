/* The web UI's files (app/web: HTML, CSS, JavaScript modules, translations), served by mokitd
 * as they are on disk: no build step. Only GET and HEAD, only files under the web directory
 * whose path is made of [A-Za-z0-9._-/] without a segment starting with a dot. Answers carry
 * an ETag (size and mtime) and are revalidated each time (Cache-Control: no-cache), so a phone
 * reloads from its cache with a 304 and never runs yesterday's files. */
#pragma once

#include <microhttpd.h>

struct web;

/* Opens DIR for serving. MK_ENOTFOUND when it is not a directory with an index.html. */
int web_open(const char *dir, struct web **out);
void web_close(struct web *w);

/* Answers a request for url ("/" is "/index.html"). w may be NULL: 404 with a message that
 * the web UI is not installed. */
enum MHD_Result web_serve(struct web *w, struct MHD_Connection *conn, const char *method,
                          const char *url);

/* The directory a program finds its web files in when none is configured: next to a build in
 * the source tree (EXE/../app/web) or installed (EXE/../share/mokit/web). out[size]; 0 or
 * MK_ENOTFOUND. */
int web_default_dir(char *out, size_t size);
