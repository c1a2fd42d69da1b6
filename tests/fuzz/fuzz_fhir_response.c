/* libFuzzer target: what a FHIR server answers `mokit push` (app/domain/fhir.c): Retry-After
 * header values and OperationOutcome bodies (alone or inside a transaction-response Bundle). */
#include "../../app/domain/fhir.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    long secs = -1;
    if (fhir_retry_after(s, 784111777LL, &secs) == 0)
        assert(secs >= 0 && secs <= 86400);

    char out[64];
    size_t n = fhir_outcome_text((const char *)data, size, out, sizeof out);
    assert(n < sizeof out && strlen(out) == n);
    for (size_t i = 0; i < n; i++)
        assert((unsigned char)out[i] >= 0x20 && out[i] != 0x7f); /* safe for a terminal */
    char one[1];
    assert(fhir_outcome_text((const char *)data, size, one, 1) == 0 && one[0] == '\0');
    free(s);
    return 0;
}
