#include "code.h"

#include "../common/err.h"

#include <ctype.h>
#include <string.h>

static const char symbols[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

static int symbol_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    return -1;
}

int code_check_value(const char *body, size_t n)
{
    /* ISO/IEC 7064 pure system MOD 37-2: P = ((P + a) * 2) mod 37 over the data,
     * check = (38 - P) mod 37, so that the check character completes the sum to 1. */
    unsigned p = 0;
    for (size_t i = 0; i < n; i++) {
        int v = symbol_value(body[i]);
        if (v < 0)
            return -1;
        p = ((p + (unsigned)v) * 2) % 37;
    }
    return (int)((38 - p) % 37);
}

int code_from_random(const uint8_t *rnd, size_t n, char out[CODE_LEN + 1])
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < CODE_BODY_LEN; i++) {
        /* 252 = 7 * 36: reject the top 4 byte values so every symbol is equally likely. */
        if (rnd[i] < 252)
            out[k++] = symbols[rnd[i] % 36];
    }
    if (k < CODE_BODY_LEN)
        return MK_EINVAL;
    int check = code_check_value(out, CODE_BODY_LEN);
    if (check == 36)
        return MK_EINVAL;
    out[CODE_BODY_LEN] = symbols[check];
    out[CODE_LEN] = '\0';
    return MK_OK;
}

int code_parse(const char *in, char out[CODE_LEN + 1])
{
    size_t k = 0;
    for (const char *p = in; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ' || c == '-' || c == '\r' || c == '\n' || c == '\t')
            continue;
        c = (unsigned char)toupper(c);
        if (symbol_value((char)c) < 0 || k == CODE_LEN)
            return MK_EINVAL;
        out[k++] = (char)c;
    }
    if (k != CODE_LEN)
        return MK_EINVAL;
    out[k] = '\0';
    if (code_check_value(out, CODE_BODY_LEN) != symbol_value(out[CODE_BODY_LEN]))
        return MK_ECHECK;
    return MK_OK;
}

void code_format(const char code[CODE_LEN + 1], char out[16])
{
    memcpy(out, code, 4);
    out[4] = ' ';
    memcpy(out + 5, code + 4, 4);
    out[9] = ' ';
    memcpy(out + 10, code + 8, 4);
    out[14] = '\0';
}
