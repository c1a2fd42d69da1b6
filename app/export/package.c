/* The campaign package (format: app/domain/pkgfmt.h): made on the kit, opened at the hospital.
 *
 * Making one: the records (records_dump) go to an unnamed temporary file and are hashed; the
 * manifest names that hash; both are encrypted in one secretstream whose key is sealed to the
 * hospital's key, and every byte written is fed to an Ed25519ph signature by the kit. The
 * package is written beside its final name and renamed into place when whole.
 *
 * Opening one: the clear header names the kit and the hospital key; the kit must be trusted
 * with that very key. The whole file's signature is checked before anything is decrypted.
 * Then the stream is decrypted and its records go to the importer (one transaction) while the
 * signature is computed again (the file could change under us, e.g. on a USB stick being
 * pulled); the records' hash and count must match the manifest and the stream must end with
 * its FINAL tag. Only then is the import committed: any failure rolls it back whole. */
#include "package.h"

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../domain/keyfile.h"
#include "../domain/pkgfmt.h"
#include "../store/store_int.h"
#include "records.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ABYTES         crypto_secretstream_xchacha20poly1305_ABYTES
#define LINE_MAX_BYTES (1 << 20) /* a record line longer than this is not one mokit wrote */

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

static int io_rc(int e)
{
    return e == ENOSPC || e == EDQUOT ? MK_ENOSPC : MK_EIO;
}

/* ---- writing ---- */

struct writer {
    FILE *f;
    crypto_sign_state sign;
    int bad; /* errno of the first failed write */
};

static void put(struct writer *w, const void *p, size_t n)
{
    if (w->bad || n == 0)
        return;
    if (fwrite(p, 1, n, w->f) != n)
        w->bad = errno ? errno : EIO;
    crypto_sign_update(&w->sign, p, n);
}

static void put_chunk(struct writer *w, crypto_secretstream_xchacha20poly1305_state *ss,
                      const unsigned char *m, size_t n, unsigned char tag, unsigned char *c)
{
    unsigned long long clen;
    unsigned char len[4];
    crypto_secretstream_xchacha20poly1305_push(ss, c, &clen, m, n, NULL, 0, tag);
    pkg_u32_put(len, (uint32_t)clen);
    put(w, len, 4);
    put(w, c, (size_t)clen);
}

/* The records in an unnamed file (gone when closed), with their SHA-256 and size. */
static int dump_records(const struct export_req *r, FILE **out, json_t **counts, char hex[65],
                        long long *bytes)
{
    /* An unnamed file (gone when closed, even after a crash) in the data directory, which
     * holds the same records in the database already; not in /tmp, which on the Pi is the
     * same SD card but outside what the kit's owner thinks of as its data. */
    char dir[4096];
    const char *db = sqlite3_db_filename(r->st->db, "main");
    snprintf(dir, sizeof dir, "%s", db && db[0] ? db : ".");
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w+b") : NULL;
    if (!f) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        LOG(LOG_ERROR, "cannot make a temporary file in %s: %s", dir, strerror(e));
        return io_rc(e);
    }
    int rc = records_dump(r->st, r->campaign, f, counts, r->progress);
    if (rc == MK_OK && (fflush(f) != 0 || ferror(f)))
        rc = io_rc(errno);
    if (rc != MK_OK) {
        fclose(f);
        return rc;
    }
    rewind(f);
    crypto_hash_sha256_state h;
    unsigned char buf[PKG_CHUNK_MAX], digest[32];
    size_t n;
    *bytes = 0;
    crypto_hash_sha256_init(&h);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        crypto_hash_sha256_update(&h, buf, n);
        *bytes += (long long)n;
    }
    if (ferror(f)) {
        fclose(f);
        return MK_EIO;
    }
    crypto_hash_sha256_final(&h, digest);
    util_hex(digest, 32, hex);
    rewind(f);
    *out = f;
    return MK_OK;
}

static json_t *campaign_summary(struct store *st, const char *campaign)
{
    json_t *c;
    if (store_campaign_get(st, campaign, &c) != MK_OK)
        return NULL;
    json_t *s = json_object();
    static const char *keep[] = {"id",      "code",    "name",       "province", "district",
                                 "commune", "village", "start_date", "end_date", "hospital"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        json_t *v = json_object_get(c, keep[i]);
        if (v)
            json_object_set(s, keep[i], v);
    }
    json_decref(c);
    return s;
}

/* The hospital key: the one in opts ("hospital_key": a key file's JSON, from --to), else the
 * campaign's. */
static int hospital_key(const struct export_req *r, struct keyfile *k, char *err, size_t errlen)
{
    json_t *given = r->opts ? json_object_get(r->opts, "hospital_key") : NULL;
    if (given) {
        char *text = json_dumps(given, JSON_COMPACT);
        char why[200];
        int rc = text ? keyfile_parse(text, strlen(text), k, why, sizeof why) : MK_ENOMEM;
        free(text);
        if (rc != MK_OK)
            return fail(err, errlen, MK_EINVAL, "the hospital key: %s", why);
    } else {
        int rc = store_campaign_hospital_key(r->st, r->campaign, k);
        if (rc == MK_EPERM)
            return fail(err, errlen, MK_EINVAL,
                        "campaign %s names no hospital key: set it with `mokit campaign "
                        "hospital-key %s FILE` (the hospital's public key file)",
                        r->campaign, r->campaign);
        if (rc != MK_OK)
            return fail(err, errlen, rc, "campaign %s: %s", r->campaign, mk_strerror(rc));
    }
    if (k->kind != KEYFILE_HOSPITAL_BOX)
        return fail(err, errlen, MK_EINVAL,
                    "the hospital key must be a hospital's public key (hospital-box), not %s",
                    keyfile_kind_name(k->kind));
    return MK_OK;
}

int package_write(const struct export_req *r, json_t **manifest_out, char *err, size_t errlen)
{
    struct keyfile hk;
    int rc = hospital_key(r, &hk, err, errlen);
    if (rc != MK_OK)
        return rc;
    struct stat sb;
    if (lstat(r->out, &sb) == 0)
        return fail(err, errlen, MK_EEXIST, "%s exists: a package is never written over", r->out);
    json_t *campaign = campaign_summary(r->st, r->campaign);
    if (!campaign)
        return fail(err, errlen, MK_ENOTFOUND, "no campaign %s", r->campaign);

    FILE *records = NULL;
    json_t *counts = NULL;
    char sha[65];
    long long bytes = 0;
    rc = dump_records(r, &records, &counts, sha, &bytes);
    if (rc != MK_OK) {
        json_decref(campaign);
        return fail(err, errlen, rc, "the campaign's records: %s", mk_strerror(rc));
    }

    struct pkg_header h = {0};
    char pkg_id[UUID_LEN + 1], b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    snprintf(h.kit, sizeof h.kit, "%s", store_kit_id(r->st));
    store_kit_sign_public(r->st, h.kit_key);
    keyfile_fingerprint(hk.public_key, h.hospital_key);
    util_now_iso(h.created_at);
    util_uuid7(pkg_id);
    sodium_bin2base64(b64, sizeof b64, h.kit_key, 32, sodium_base64_VARIANT_ORIGINAL);
    json_t *manifest =
        json_pack("{s:s,s:i,s:s,s:s,s:s,s:o,s:O,s:s,s:I,s:s,s:{s:s,s:s},s:s}", "format",
                  "mokit-records", "version", 1, "package", pkg_id, "kit", h.kit, "kit_key", b64,
                  "campaign", campaign, "counts", counts, "records_sha256", sha, "records_bytes",
                  (json_int_t)bytes, "created_at", h.created_at, "hospital_key", "name", hk.name,
                  "fingerprint", h.hospital_key, "mokit_version", MOKIT_VERSION);
    json_t *hj = pkg_header_json(&h);
    char *mtext = manifest ? json_dumps(manifest, JSON_COMPACT) : NULL;
    char *htext = hj ? json_dumps(hj, JSON_COMPACT) : NULL;
    json_decref(hj);
    if (!mtext || !htext || strlen(htext) > PKG_HEADER_MAX || strlen(mtext) > PKG_CHUNK_MAX) {
        rc = fail(err, errlen, MK_ENOMEM, "cannot make the manifest");
        goto out;
    }

    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", r->out) >= (int)sizeof tmp) {
        rc = fail(err, errlen, MK_EINVAL, "the path is too long");
        goto out;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = fail(err, errlen, io_rc(errno), "cannot write beside %s: %s", r->out, strerror(errno));
        goto out;
    }
    struct writer w = {.f = fdopen(fd, "wb")};
    if (!w.f) {
        close(fd);
        unlink(tmp);
        rc = fail(err, errlen, MK_EIO, "cannot write %s", tmp);
        goto out;
    }
    crypto_sign_init(&w.sign);
    unsigned char prefix[PKG_PREFIX_LEN];
    pkg_prefix_make(prefix, (uint32_t)strlen(htext));
    put(&w, prefix, sizeof prefix);
    put(&w, htext, strlen(htext));

    unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
    unsigned char sealed[PKG_SEALED_LEN], sshdr[PKG_STREAM_HEADER_LEN];
    crypto_secretstream_xchacha20poly1305_state ss;
    crypto_secretstream_xchacha20poly1305_keygen(key);
    crypto_box_seal(sealed, key, sizeof key, hk.public_key);
    crypto_secretstream_xchacha20poly1305_init_push(&ss, sshdr, key);
    sodium_memzero(key, sizeof key);
    put(&w, sealed, sizeof sealed);
    put(&w, sshdr, sizeof sshdr);

    unsigned char *plain = malloc(PKG_CHUNK_MAX), *cipher = malloc(PKG_CHUNK_MAX + ABYTES);
    if (!plain || !cipher) {
        w.bad = ENOMEM;
    } else {
        put_chunk(&w, &ss, (const unsigned char *)mtext, strlen(mtext),
                  crypto_secretstream_xchacha20poly1305_TAG_MESSAGE, cipher);
        /* Read one chunk ahead so that the last one carries the FINAL tag. */
        size_t n = fread(plain, 1, PKG_CHUNK_MAX, records);
        long long done = 0;
        for (;;) {
            unsigned char *next = malloc(PKG_CHUNK_MAX);
            size_t m = next ? fread(next, 1, PKG_CHUNK_MAX, records) : 0;
            if (!next) {
                w.bad = ENOMEM;
                break;
            }
            put_chunk(&w, &ss, plain, n,
                      m == 0 ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                             : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
                      cipher);
            done += (long long)n;
            progress_note(r->progress, "encrypt", (long)done, (long)bytes);
            free(plain);
            plain = next;
            n = m;
            if (m == 0 || w.bad)
                break;
        }
        if (ferror(records))
            w.bad = EIO;
    }
    free(plain);
    free(cipher);
    sodium_memzero(&ss, sizeof ss);

    unsigned char sig[crypto_sign_BYTES];
    store_kit_sign_final(r->st, &w.sign, sig);
    if (!w.bad && (fwrite(PKG_SIG_MAGIC, 1, 8, w.f) != 8 || fwrite(sig, 1, 64, w.f) != 64))
        w.bad = errno ? errno : EIO;
    if (!w.bad && (fflush(w.f) != 0 || fsync(fileno(w.f)) != 0))
        w.bad = errno;
    if (fclose(w.f) != 0 && !w.bad)
        w.bad = errno;
    /* Into place only when whole, and never over a file that appeared meanwhile. */
    if (!w.bad && link(tmp, r->out) != 0)
        w.bad = errno;
    unlink(tmp);
    if (w.bad) {
        rc = fail(err, errlen, w.bad == EEXIST ? MK_EEXIST : io_rc(w.bad),
                  "the package was not written: %s", strerror(w.bad));
        goto out;
    }
    outdir_fsync_parent(r->out);
    json_t *after = json_pack("{s:s,s:s,s:O,s:s}", "format", "package", "package", pkg_id, "counts",
                              counts, "hospital_key", h.hospital_key);
    rc = store_audit(r->st, r->actor, "export", "campaign",
                     json_string_value(json_object_get(campaign, "id")), NULL, after);
    json_decref(after);
    if (rc != MK_OK) {
        unlink(r->out); /* an export nobody can account for is not made */
        rc = fail(err, errlen, rc, "the export could not be audited");
    }
out:
    free(mtext);
    free(htext);
    fclose(records);
    if (rc == MK_OK && manifest_out)
        *manifest_out = json_incref(manifest);
    json_decref(manifest);
    json_decref(counts);
    sodium_memzero(&hk, sizeof hk);
    return rc;
}

int export_package(const struct export_req *r)
{
    char err[300];
    int rc = package_write(r, NULL, err, sizeof err);
    if (rc != MK_OK)
        LOG(LOG_ERROR, "package export: %s", err);
    return rc;
}

/* ---- reading ---- */

struct reader {
    int fd;
    long long size;     /* the file's size when opened */
    long long body_end; /* where the trailer starts */
    struct pkg_header h;
    uint32_t header_len;
    unsigned char sig[64];
};

static int read_at(int fd, void *p, size_t n, long long off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, (char *)p + got, n - got, (off_t)(off + (long long)got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

static int open_package(const char *path, struct reader *rd, char *err, size_t errlen)
{
    memset(rd, 0, sizeof *rd);
    /* Non-blocking: a FIFO named as the package must not hang the import (refused below). */
    rd->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (rd->fd < 0)
        return fail(err, errlen, MK_EIO, "cannot read %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(rd->fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        return fail(err, errlen, MK_EINVAL, "%s is not a file", path);
    rd->size = (long long)sb.st_size;
    unsigned char prefix[PKG_PREFIX_LEN];
    if (rd->size < PKG_PREFIX_LEN || read_at(rd->fd, prefix, sizeof prefix, 0) != 0)
        return fail(err, errlen, MK_EINVAL, "%s is not a mokit package (too short)", path);
    char why[200];
    if (pkg_prefix_parse(prefix, sizeof prefix, &rd->header_len, why, sizeof why) != MK_OK)
        return fail(err, errlen, MK_EINVAL, "%s: %s", path, why);
    long long min = PKG_PREFIX_LEN + (long long)rd->header_len + PKG_SEALED_LEN +
                    PKG_STREAM_HEADER_LEN + 4 + ABYTES + PKG_TRAILER_LEN;
    if (rd->size < min)
        return fail(err, errlen, MK_EINVAL,
                    "%s is cut short (%lld bytes): the package is incomplete", path, rd->size);
    char *htext = malloc(rd->header_len);
    if (!htext || read_at(rd->fd, htext, rd->header_len, PKG_PREFIX_LEN) != 0) {
        free(htext);
        return fail(err, errlen, MK_EIO, "cannot read %s", path);
    }
    int rc = pkg_header_parse(htext, rd->header_len, &rd->h, why, sizeof why);
    free(htext);
    if (rc != MK_OK)
        return fail(err, errlen, MK_EINVAL, "%s: %s", path, why);
    unsigned char trailer[PKG_TRAILER_LEN];
    rd->body_end = rd->size - PKG_TRAILER_LEN;
    if (read_at(rd->fd, trailer, sizeof trailer, rd->body_end) != 0)
        return fail(err, errlen, MK_EIO, "cannot read %s", path);
    if (memcmp(trailer, PKG_SIG_MAGIC, 8) != 0)
        return fail(err, errlen, MK_EINVAL,
                    "%s has no signature at its end: the package is incomplete or altered", path);
    memcpy(rd->sig, trailer + 8, 64);
    return MK_OK;
}

/* Checks the signature over [0, body_end) as the file is now. */
static int verify_whole(struct reader *rd, char *err, size_t errlen)
{
    crypto_sign_state s;
    unsigned char buf[PKG_CHUNK_MAX];
    crypto_sign_init(&s);
    for (long long off = 0; off < rd->body_end;) {
        size_t n = (size_t)(rd->body_end - off < (long long)sizeof buf ? rd->body_end - off
                                                                       : (long long)sizeof buf);
        if (read_at(rd->fd, buf, n, off) != 0)
            return fail(err, errlen, MK_EIO, "cannot read the package: %s", strerror(errno));
        crypto_sign_update(&s, buf, n);
        off += (long long)n;
    }
    if (crypto_sign_final_verify(&s, rd->sig, rd->h.kit_key) != 0)
        return fail(err, errlen, MK_EINVAL,
                    "the package's signature does not match its contents: it was altered or "
                    "is incomplete (nothing imported)");
    return MK_OK;
}

static json_t *header_info(const struct reader *rd, const char *trust)
{
    char fp[40], b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    keyfile_fingerprint(rd->h.kit_key, fp);
    sodium_bin2base64(b64, sizeof b64, rd->h.kit_key, 32, sodium_base64_VARIANT_ORIGINAL);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s}", "kit", rd->h.kit, "kit_key", b64,
                     "kit_fingerprint", fp, "hospital_key", rd->h.hospital_key, "created_at",
                     rd->h.created_at, "bytes", (json_int_t)rd->size, "trust", trust);
}

/* Is the signer trusted with this key? MK_OK, or MK_EAUTH with why. trust may be NULL:
 * then any key is taken (package_check with a key file given instead). */
static int check_trust(struct store *trust, const struct reader *rd, char *err, size_t errlen)
{
    char fp[40];
    keyfile_fingerprint(rd->h.kit_key, fp);
    int rc = store_trusted_kit_check(trust, rd->h.kit, rd->h.kit_key);
    if (rc == MK_ENOTFOUND)
        return fail(err, errlen, MK_EAUTH,
                    "the package is from kit %s (key fingerprint %s), which is not trusted "
                    "here: after checking the fingerprint with the team, `mokit keys trust "
                    "KIT-KEY-FILE`",
                    rd->h.kit, fp);
    if (rc == MK_EAUTH)
        return fail(err, errlen, MK_EAUTH,
                    "the package says it is from kit %s but is signed with another key "
                    "(fingerprint %s) than the one trusted for that kit",
                    rd->h.kit, fp);
    if (rc != MK_OK)
        return fail(err, errlen, rc, "trusted kits: %s", mk_strerror(rc));
    return MK_OK;
}

int package_check(const char *path, struct store *trust, const unsigned char *kit_key,
                  json_t **info, char *err, size_t errlen)
{
    struct reader rd;
    int rc = open_package(path, &rd, err, errlen);
    const char *how = "trusted";
    if (rc == MK_OK && kit_key) {
        how = "key file";
        if (sodium_memcmp(kit_key, rd.h.kit_key, 32) != 0)
            rc = fail(err, errlen, MK_EAUTH, "the package is signed by another key than that");
    } else if (rc == MK_OK) {
        rc = check_trust(trust, &rd, err, errlen);
    }
    if (rc == MK_OK)
        rc = verify_whole(&rd, err, errlen);
    if (rc == MK_OK && info)
        *info = header_info(&rd, how);
    if (rd.fd >= 0)
        close(rd.fd);
    return rc;
}

/* Splits decrypted bytes into lines for the importer; a line may span chunks. */
struct lines {
    char *buf;
    size_t len, cap;
    long long count;
};

static int lines_feed(struct lines *l, struct records_import *ri, const unsigned char *p, size_t n,
                      char *err, size_t errlen)
{
    for (size_t i = 0; i < n;) {
        const unsigned char *nl = memchr(p + i, '\n', n - i);
        size_t take = nl ? (size_t)(nl - (p + i)) : n - i;
        if (l->len + take > LINE_MAX_BYTES)
            return fail(err, errlen, MK_EINVAL, "record line %lld is longer than %d bytes",
                        l->count + 1, LINE_MAX_BYTES);
        if (l->len + take + 1 > l->cap) {
            size_t cap = l->cap ? l->cap : 4096;
            while (cap < l->len + take + 1)
                cap *= 2;
            char *b = realloc(l->buf, cap);
            if (!b)
                return fail(err, errlen, MK_ENOMEM, "out of memory");
            l->buf = b;
            l->cap = cap;
        }
        memcpy(l->buf + l->len, p + i, take);
        l->len += take;
        i += take;
        if (nl) {
            i++;
            l->count++;
            int rc = records_import_line(ri, l->buf, l->len);
            if (rc != MK_OK)
                return fail(err, errlen, rc, "%s", records_import_error(ri));
            l->len = 0;
        }
    }
    return MK_OK;
}

int package_import(const char *path, const struct keyfile *hospital, struct store *trust,
                   struct records_import *ri, const char *actor_label,
                   const struct progress *progress, json_t **result, char *err, size_t errlen)
{
    struct reader rd;
    int rc = open_package(path, &rd, err, errlen);
    if (rc == MK_OK)
        rc = check_trust(trust, &rd, err, errlen);
    if (rc == MK_OK && strcmp(rd.h.hospital_key, hospital->fingerprint) != 0)
        rc = fail(err, errlen, MK_EAUTH,
                  "the package is encrypted to another hospital key (fingerprint %s); this key "
                  "is %s's (%s)",
                  rd.h.hospital_key, hospital->name, hospital->fingerprint);
    if (rc == MK_OK)
        rc = verify_whole(&rd, err, errlen);
    if (rc != MK_OK) {
        if (rd.fd >= 0)
            close(rd.fd);
        return rc;
    }

    /* The second pass: decrypt, import, and sign again what is read. */
    crypto_sign_state sign;
    crypto_sign_init(&sign);
    long long off = 0;
    unsigned char *head =
        malloc(PKG_PREFIX_LEN + rd.header_len + PKG_SEALED_LEN + PKG_STREAM_HEADER_LEN);
    unsigned char *cbuf = malloc(PKG_CHUNK_MAX + ABYTES), *pbuf = malloc(PKG_CHUNK_MAX);
    struct lines lines = {0};
    json_t *manifest = NULL;
    crypto_secretstream_xchacha20poly1305_state ss;
    unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
    size_t headlen = PKG_PREFIX_LEN + rd.header_len + PKG_SEALED_LEN + PKG_STREAM_HEADER_LEN;
    if (!head || !cbuf || !pbuf) {
        rc = fail(err, errlen, MK_ENOMEM, "out of memory");
        goto out;
    }
    if (read_at(rd.fd, head, headlen, 0) != 0) {
        rc = fail(err, errlen, MK_EIO, "cannot read the package");
        goto out;
    }
    crypto_sign_update(&sign, head, headlen);
    off = (long long)headlen;
    const unsigned char *sealed = head + PKG_PREFIX_LEN + rd.header_len;
    if (crypto_box_seal_open(key, sealed, PKG_SEALED_LEN, hospital->public_key,
                             hospital->secret_key) != 0) {
        rc = fail(err, errlen, MK_EAUTH,
                  "this hospital key cannot open the package (it was sealed to another key "
                  "with the same fingerprint, or damaged)");
        goto out;
    }
    if (crypto_secretstream_xchacha20poly1305_init_pull(&ss, sealed + PKG_SEALED_LEN, key) != 0) {
        rc = fail(err, errlen, MK_EINVAL, "the package's stream header is damaged");
        goto out;
    }
    crypto_hash_sha256_state hash;
    crypto_hash_sha256_init(&hash);
    long long plain_bytes = 0, chunk = 0;
    bool final = false;
    while (rc == MK_OK && !final) {
        unsigned char lenb[4];
        if (off + 4 > rd.body_end || read_at(rd.fd, lenb, 4, off) != 0) {
            rc = fail(err, errlen, MK_EINVAL,
                      "the package ends before its last part: it is incomplete");
            break;
        }
        uint32_t clen = pkg_u32_get(lenb);
        if (clen < ABYTES || clen > PKG_CHUNK_MAX + ABYTES || off + 4 + clen > rd.body_end) {
            rc = fail(err, errlen, MK_EINVAL, "part %lld of the package has a bad length",
                      chunk + 1);
            break;
        }
        if (read_at(rd.fd, cbuf, clen, off + 4) != 0) {
            rc = fail(err, errlen, MK_EIO, "cannot read the package");
            break;
        }
        crypto_sign_update(&sign, lenb, 4);
        crypto_sign_update(&sign, cbuf, clen);
        off += 4 + (long long)clen;
        unsigned long long plen;
        unsigned char tag;
        if (crypto_secretstream_xchacha20poly1305_pull(&ss, pbuf, &plen, &tag, cbuf, clen, NULL,
                                                       0) != 0) {
            rc = fail(err, errlen, MK_EINVAL, "part %lld of the package does not decrypt",
                      chunk + 1);
            break;
        }
        final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
        if (chunk++ == 0) { /* the manifest */
            char why[200];
            manifest = json_loadb((const char *)pbuf, (size_t)plen, JSON_REJECT_DUPLICATES, NULL);
            if (final || pkg_manifest_check(manifest, &rd.h, why, sizeof why) != MK_OK) {
                rc = fail(err, errlen, MK_EINVAL, "the package's manifest: %s",
                          final ? "no records follow it" : why);
                break;
            }
            rc = records_import_begin(ri, manifest, actor_label);
            if (rc == MK_EEXIST)
                rc = fail(err, errlen, MK_EEXIST, "package %s was imported before: nothing changed",
                          json_string_value(json_object_get(manifest, "package")));
            else if (rc != MK_OK)
                rc = fail(err, errlen, rc, "%s", records_import_error(ri));
            continue;
        }
        crypto_hash_sha256_update(&hash, pbuf, (size_t)plen);
        plain_bytes += (long long)plen;
        rc = lines_feed(&lines, ri, pbuf, (size_t)plen, err, errlen);
        progress_note(progress, "import", (long)off, (long)rd.body_end);
    }
    if (rc == MK_OK && lines.len > 0) /* the last line had no newline */
        rc = fail(err, errlen, MK_EINVAL, "the records end in the middle of a line");
    if (rc == MK_OK && off != rd.body_end)
        rc = fail(err, errlen, MK_EINVAL, "bytes follow the package's last part");
    if (rc == MK_OK && crypto_sign_final_verify(&sign, rd.sig, rd.h.kit_key) != 0)
        rc = fail(err, errlen, MK_EINVAL,
                  "the package changed while it was read (its signature no longer matches)");
    if (rc == MK_OK) {
        unsigned char digest[32];
        char hex[65];
        crypto_hash_sha256_final(&hash, digest);
        util_hex(digest, 32, hex);
        if (strcmp(hex, json_string_value(json_object_get(manifest, "records_sha256"))) != 0 ||
            plain_bytes != json_integer_value(json_object_get(manifest, "records_bytes")))
            rc = fail(err, errlen, MK_EINVAL,
                      "the records do not match the manifest's hash: nothing imported");
    }
    if (rc == MK_OK) {
        rc = records_import_commit(ri, result);
        if (rc != MK_OK)
            rc = fail(err, errlen, rc, "%s", records_import_error(ri));
    }
out:
    sodium_memzero(key, sizeof key);
    sodium_memzero(&ss, sizeof ss);
    if (pbuf)
        sodium_memzero(pbuf, PKG_CHUNK_MAX);
    if (lines.buf)
        sodium_memzero(lines.buf, lines.cap);
    free(lines.buf);
    free(head);
    free(cbuf);
    free(pbuf);
    json_decref(manifest);
    close(rd.fd);
    return rc;
}
