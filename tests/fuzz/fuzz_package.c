/* libFuzzer target: a campaign package as it arrives at the hospital on a USB stick
 * (app/export/package.c, app/domain/pkgfmt.c). Whatever the bytes: a clear refusal, never a
 * crash or an over-read. Signed packages cannot be forged here, so the clear parts get their
 * own runs: the header and a manifest checked against it. */
#include "../../app/common/err.h"
#include "../../app/domain/pkgfmt.h"
#include "../../app/export/package.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static unsigned char kit_key[32];
    if (!ready && sodium_init() >= 0) {
        unsigned char sk[64];
        crypto_sign_keypair(kit_key, sk);
        ready = 1;
    }
    char err[400], path[64];
    /* The whole file, through the reader. */
    int fd = memfd_create("package", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) == (ssize_t)size) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        json_t *info = NULL;
        if (package_check(path, NULL, kit_key, &info, err, sizeof err) == MK_OK)
            abort(); /* a signature by a key nobody here holds */
        json_decref(info);
    }
    close(fd);
    /* The header text, and a manifest against it. */
    struct pkg_header h;
    uint32_t hl;
    pkg_prefix_parse(data, size, &hl, err, sizeof err);
    if (pkg_header_parse((const char *)data, size, &h, err, sizeof err) == MK_OK) {
        json_t *j = pkg_header_json(&h);
        char *t = json_dumps(j, JSON_COMPACT);
        struct pkg_header again;
        if (!t || pkg_header_parse(t, strlen(t), &again, err, sizeof err) != MK_OK ||
            memcmp(&h, &again, sizeof h) != 0)
            abort(); /* what the kit writes, the hospital must read back the same */
        free(t);
        json_decref(j);
    }
    json_t *m = json_loadb((const char *)data, size, 0, NULL);
    memset(&h, 0, sizeof h);
    pkg_manifest_check(m, &h, err, sizeof err);
    json_decref(m);
    return 0;
}
