/* libFuzzer target: the CCCD QR parser on arbitrary scanner output. */
#include "../../app/common/err.h"
#include "../../app/domain/cccd.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cccd c;
    char msg[200];
    int rc = cccd_parse((const char *)data, size, &c, msg, sizeof msg);
    if (rc == MK_OK) {
        /* What the parser accepts holds its promises. */
        assert(strlen(c.id) == 12);
        assert(c.name && c.name[0] && c.address);
        assert(date_valid(c.birth.year, c.birth.month, c.birth.day));
        assert(c.sex == SEX_MALE || c.sex == SEX_FEMALE);
        cccd_free(&c);
    }
    return 0;
}
