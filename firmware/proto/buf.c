/* The byte buffer the encoders append to (see fw_print.h). */
#include "fw_print.h"

#include <stdlib.h>
#include <string.h>

const char *fw_strerror(int err)
{
    switch (err) {
    case FW_OK:
        return "success";
    case FW_ENOMEM:
        return "out of memory";
    case FW_EINVAL:
        return "invalid argument";
    case FW_EIO:
        return "input/output error";
    case FW_ENODEV:
        return "printer not connected";
    case FW_EBUSY:
        return "printer in use by another program";
    case FW_ETIMEDOUT:
        return "printer stopped taking data";
    case FW_EPAPER:
        return "printer out of paper";
    }
    return "unknown error";
}

void fw_buf_init(struct fw_buf *b)
{
    memset(b, 0, sizeof *b);
}

void fw_buf_free(struct fw_buf *b)
{
    free(b->data);
    fw_buf_init(b);
}

void fw_buf_put(struct fw_buf *b, const void *p, size_t n)
{
    if (b->error || n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d) {
            b->error = FW_ENOMEM;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

int fw_buf_error(const struct fw_buf *b)
{
    return b->error;
}
