/* libFuzzer target: what scanners send. The input is fed twice: as 8-byte evdev capture
 * frames to the keyboard-mode decoder, and byte by byte to the serial-mode decoder. Every code
 * that comes out must be NUL-terminated within the limit and made of what the decoder allows. */
#include "../../firmware/proto/scanner.h"

#include <assert.h>
#include <math.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_key(int rc, const char *out, const char *why)
{
    assert(rc == 0 || rc == 1 || rc == FW_EINVAL);
    if (rc == 1) {
        size_t n = strlen(out);
        assert(n > 0 && n <= FW_KEYSCAN_MAX);
        for (size_t i = 0; i < n; i++) /* the keymap's characters: printable ASCII and TAB */
            assert(out[i] == '\t' || ((unsigned char)out[i] >= 0x20 && out[i] < 0x7f));
    } else if (rc == FW_EINVAL) {
        assert(why[0] != '\0');
    }
}

static void check_line(int rc, const char *out, const char *why)
{
    assert(rc == 0 || rc == 1 || rc == FW_EINVAL);
    if (rc == 1) {
        size_t n = strlen(out);
        assert(n > 0 && n <= FW_LINESCAN_MAX);
        for (size_t i = 0; i < n; i++)
            assert(out[i] == '\t' || (unsigned char)out[i] >= 0x20);
        assert(!memchr(out, 0x7f, n));
    } else if (rc == FW_EINVAL) {
        assert(why[0] != '\0');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[FW_LINESCAN_MAX + 1], why[128];
    /* Frames: the clock moves 4 ms a frame, 50 ms when the type's high byte is set (such a
     * frame is not an event the decoder knows, but it still makes gaps happen). */
    struct fw_keyscan k = {0};
    k.tab_ends = size > 0 && (data[0] & 1);
    double t = 0;
    for (size_t off = 0; off + FW_KEYSCAN_FRAME <= size; off += FW_KEYSCAN_FRAME) {
        t += data[off + 1] ? 0.05 : 0.004;
        why[0] = '\0';
        check_key(
            fw_keyscan_feed_frame(&k, data + off, t, out, FW_KEYSCAN_MAX + 1, why, sizeof why), out,
            why);
        double d = fw_keyscan_deadline(&k);
        assert(d < 0 || d > t);                /* a code whose gap had passed has ended */
        if (data[off + 2] == 0xff && d >= 0) { /* now and then the caller's poll times out */
            why[0] = '\0';
            check_key(fw_keyscan_timeout(&k, d, out, FW_KEYSCAN_MAX + 1, why, sizeof why), out,
                      why);
            assert(fw_keyscan_deadline(&k) < 0);
        }
    }
    why[0] = '\0';
    check_key(fw_keyscan_timeout(&k, INFINITY, out, FW_KEYSCAN_MAX + 1, why, sizeof why), out, why);
    assert(fw_keyscan_deadline(&k) < 0);

    /* Bytes: 0.1 ms a byte, 50 ms before a byte >= 0x80, so gaps fall inside UTF-8 text. */
    struct fw_linescan l = {0};
    t = 0;
    for (size_t i = 0; i < size; i++) {
        t += data[i] >= 0x80 ? 0.05 : 0.0001;
        why[0] = '\0';
        check_line(fw_linescan_feed(&l, data[i], t, out, sizeof out, why, sizeof why), out, why);
    }
    why[0] = '\0';
    check_line(fw_linescan_timeout(&l, INFINITY, out, sizeof out, why, sizeof why), out, why);
    assert(fw_linescan_deadline(&l) < 0);
    /* A small out: codes that do not fit are rejected, never cut or overrun. */
    struct fw_linescan m = {0};
    char small[8];
    for (size_t i = 0; i < size; i++) {
        why[0] = '\0';
        int rc = fw_linescan_feed(&m, data[i], 0, small, sizeof small, why, sizeof why);
        if (rc == 1)
            assert(strlen(small) < sizeof small);
    }
    if (size > 0) {
        memcpy(out, data, size < sizeof out ? size : sizeof out - 1);
        out[size < sizeof out ? size : sizeof out - 1] = '\0';
        (void)fw_scan_printable(out);
    }
    return 0;
}
