/* libFuzzer target: decoding typed or scanned patient codes. */
#include "../../app/common/err.h"
#include "../../app/domain/code.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), code[CODE_LEN + 1];
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (code_parse(s, code) == MK_OK) {
        /* Accepted codes are canonical and re-parse to themselves. */
        char again[CODE_LEN + 1];
        assert(strlen(code) == CODE_LEN);
        assert(code_parse(code, again) == MK_OK && strcmp(code, again) == 0);
    }
    free(s);
    return 0;
}
