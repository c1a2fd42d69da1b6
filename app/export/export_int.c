#include "export_int.h"

#include "../common/err.h"
#include "../common/log.h"
#include "../store/store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int export_rules_load(const struct export_req *r, struct screen_rules *out)
{
    const char *path = json_string_value(json_object_get(r->opts, "rules"));
    if (!path)
        return screen_rules_default(out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        LOG(LOG_ERROR, "cannot read the rules file %s: %s", path, strerror(errno));
        return MK_EIO;
    }
    enum { MAX = 1 << 20 }; /* a rules file is a few KiB */
    char *text = malloc(MAX);
    size_t n = text ? fread(text, 1, MAX, f) : 0;
    int bad = ferror(f) || n == MAX;
    fclose(f);
    if (!text)
        return MK_ENOMEM;
    char err[200] = "";
    int rc = bad ? MK_EINVAL : screen_rules_parse(text, n, out, err, sizeof err);
    free(text);
    if (rc != MK_OK)
        LOG(LOG_ERROR, "the rules file %s does not load: %s", path,
            bad ? "unreadable or too large" : err);
    return rc;
}

int export_file(struct outdir *d, const char *name, int (*fn)(FILE *f, void *ctx), void *ctx)
{
    FILE *f = outdir_file(d, name);
    if (!f) {
        int e = errno;
        LOG(LOG_ERROR, "cannot make %s in the export: %s", name, strerror(e));
        return e == ENOSPC || e == EDQUOT ? MK_ENOSPC : MK_EIO;
    }
    int rc = fn(f, ctx);
    int closed = outdir_close_file(f);
    /* A write that failed part way is a full disk more often than not: say which. */
    if (rc == MK_OK || (rc == MK_EIO && closed != MK_OK))
        rc = closed;
    return rc;
}

int export_campaign(struct store *st, const char *code_or_id, char id[64], char code[64],
                    json_t **camp)
{
    json_t *c;
    int rc = store_campaign_get(st, code_or_id, &c);
    if (rc != MK_OK)
        return rc;
    snprintf(id, 64, "%s", json_string_value(json_object_get(c, "id")));
    snprintf(code, 64, "%s", json_string_value(json_object_get(c, "code")));
    if (camp)
        *camp = c;
    else
        json_decref(c);
    return MK_OK;
}

bool export_snapshot_begin(struct store *st)
{
    return sqlite3_get_autocommit(st->db) &&
           sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
}

void export_snapshot_end(struct store *st, bool begun)
{
    if (begun)
        sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL); /* read only: nothing to lose */
}

int export_audit(const struct export_req *r, const char *campaign_id, json_t *what)
{
    if (!what)
        return MK_ENOMEM;
    int rc = store_begin(r->st);
    if (rc == MK_OK)
        rc = store_audit(r->st, r->actor, "export", "campaign", campaign_id, NULL, what);
    if (rc == MK_OK)
        rc = store_commit(r->st);
    store_rollback(r->st);
    return rc;
}
