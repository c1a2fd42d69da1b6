/* Export directories that appear whole or not at all. */
#include "export.h"

#include "../common/err.h"
#include "../common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int outdir_open(struct outdir *d, const char *path)
{
    struct stat sb;
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    if (n == 0 || n + 16 > sizeof d->path)
        return MK_EINVAL;
    memcpy(d->path, path, n);
    d->path[n] = '\0';
    if (lstat(d->path, &sb) == 0)
        return MK_EEXIST;
    memcpy(d->tmp, d->path, n);
    memcpy(d->tmp + n, ".tmp-XXXXXX", sizeof ".tmp-XXXXXX"); /* n + 16 fits: checked above */
    if (!mkdtemp(d->tmp)) {
        int e = errno;
        LOG(LOG_ERROR, "cannot make a directory beside %s: %s", d->path, strerror(e));
        return e == ENOSPC ? MK_ENOSPC : MK_EIO;
    }
    return MK_OK;
}

FILE *outdir_file(struct outdir *d, const char *name)
{
    char p[PATH_MAX + 64];
    if (strchr(name, '/') || name[0] == '.' ||
        snprintf(p, sizeof p, "%s/%s", d->tmp, name) >= (int)sizeof p) {
        errno = EINVAL;
        return NULL;
    }
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "wb");
    if (!f)
        close(fd);
    return f;
}

int outdir_close_file(FILE *f)
{
    int bad = fflush(f) != 0 || ferror(f);
    int e = errno;
    if (!bad && fsync(fileno(f)) != 0) {
        bad = 1;
        e = errno;
    }
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (!bad)
        return MK_OK;
    LOG(LOG_ERROR, "export file not written: %s", strerror(e));
    return e == ENOSPC || e == EDQUOT ? MK_ENOSPC : MK_EIO;
}

void outdir_fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int outdir_commit(struct outdir *d)
{
    int fd = open(d->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    /* renameat2(RENAME_NOREPLACE) would refuse a path made meanwhile; rename() onto an
     * existing non-empty directory fails too (ENOTEMPTY), and an empty one is no loss. */
    if (rename(d->tmp, d->path) != 0) {
        int e = errno;
        LOG(LOG_ERROR, "cannot rename the export to %s: %s", d->path, strerror(e));
        outdir_abort(d);
        return e == EEXIST || e == ENOTEMPTY ? MK_EEXIST : e == ENOSPC ? MK_ENOSPC : MK_EIO;
    }
    outdir_fsync_parent(d->path);
    return MK_OK;
}

void outdir_abort(struct outdir *d)
{
    DIR *dir = opendir(d->tmp);
    if (dir) {
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            unlinkat(dirfd(dir), e->d_name, 0);
        }
        closedir(dir);
    }
    rmdir(d->tmp);
}
