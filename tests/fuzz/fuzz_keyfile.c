/* libFuzzer target: key files brought on a USB stick (app/domain/keyfile.c): whatever the
 * bytes, a clear refusal or a key that writes back to a file that reads the same. */
#include "../../app/common/err.h"
#include "../../app/domain/keyfile.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready && sodium_init() >= 0)
        ready = 1;
    char err[240];
    struct keyfile k, again;
    if (keyfile_parse((const char *)data, size, &k, err, sizeof err) != MK_OK)
        return 0;
    json_t *j = keyfile_json(&k);
    char *t = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!t || keyfile_parse(t, strlen(t), &again, err, sizeof err) != MK_OK ||
        memcmp(&k, &again, sizeof k) != 0)
        abort(); /* what the kit writes, it must read back the same */
    free(t);
    return 0;
}
