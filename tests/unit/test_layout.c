/* Queue tickets: exact bytes per profile (golden files), and what they print, read back by the
 * simulated printer and zbarimg. MOKIT_GOLDEN=write rewrites the golden files (`make golden`):
 * a changed golden file needs a reason in its commit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../app/common/err.h"
#include "../../app/print/layout.h"
#include "../reference_ticket.h"

static struct fw_font *names, *font_a;

static int setup(void **state)
{
    (void)state;
    return fw_font_open(FW_FONT_DEFAULT, &names) == FW_OK &&
                   fw_font_open(FW_FONT_MONO, &font_a) == FW_OK
               ? 0
               : -1;
}

static int teardown(void **state)
{
    (void)state;
    fw_font_close(names);
    fw_font_close(font_a);
    return 0;
}

static void golden(const char *name, const struct fw_buf *b)
{
    char path[256];
    snprintf(path, sizeof path, "tests/golden/%s", name);
    const char *mode = getenv("MOKIT_GOLDEN");
    if (mode && strcmp(mode, "write") == 0) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(b->data, 1, b->len, f), b->len);
        assert_int_equal(fclose(f), 0);
        return;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("%s is missing: run `make golden` and commit it with a reason", path);
    static uint8_t want[1 << 16];
    size_t n = fread(want, 1, sizeof want, f);
    fclose(f);
    if (n != b->len || memcmp(want, b->data, n) != 0)
        fail_msg("%s differs (%zu bytes now, %zu in the file)", path, b->len, n);
}

static char *zbar(const struct fw_bitmap *paper)
{
    char png[] = "/tmp/mokit-layout-XXXXXX.png", cmd[256];
    int fd = mkstemps(png, 4);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(fw_png_write(png, paper, 203), FW_OK);
    snprintf(cmd, sizeof cmd, "zbarimg --quiet --nodbus --raw -Sbinary %s 2>/dev/null", png);
    FILE *p = popen(cmd, "r");
    char *out = calloc(1, 256);
    size_t n = p ? fread(out, 1, 255, p) : 0;
    if (p)
        pclose(p);
    out[n] = '\0';
    out[strcspn(out, "\n")] = '\0';
    unlink(png);
    return out;
}

static void tickets_per_profile(void **state)
{
    (void)state;
    int done = 0;
    for (size_t i = 0; i < fw_profiles_count; i++) {
        const struct fw_profile *p = &fw_profiles[i];
        struct fw_buf b;
        fw_buf_init(&b);
        int rc = layout_ticket(&reference_ticket, p, names, &b);
        if (p->language == FW_LANG_ZPL) { /* tickets are for receipt printers */
            assert_int_equal(rc, FW_EINVAL);
            fw_buf_free(&b);
            continue;
        }
        assert_int_equal(rc, FW_OK);
        char file[64];
        snprintf(file, sizeof file, "ticket-%s.bin", p->name);
        golden(file, &b);
        /* What the paper shows: the simulator accepts every byte (nothing wider than the
         * paper, no native QR where there is none) and a scanner reads the code. */
        struct fw_bitmap paper;
        char err[160];
        if (fw_sim_escpos(b.data, b.len, p, font_a, &paper, err, sizeof err) != FW_OK)
            fail_msg("%s: %s", p->name, err);
        char *got = zbar(&paper);
        if (strcmp(got, reference_ticket.code) != 0)
            fail_msg("%s: zbarimg read \"%s\"", p->name, got);
        free(got);
        fw_bitmap_free(&paper);
        /* Busy-line pacing is switched on only where there is a line, the cut only where
         * there is a cutter. */
        bool busy = b.len > 5 && memcmp(b.data + 2, "\x1d\x61\x20", 3) == 0;
        assert_int_equal(busy, p->busy_line);
        bool cut = memcmp(b.data + b.len - 4, "\x1d\x56\x42\x00", 4) == 0;
        assert_int_equal(cut, p->cutter);
        fw_buf_free(&b);
        done++;
    }
    assert_int_equal(done, 4);
}

static void refusals_and_long_names(void **state)
{
    (void)state;
    struct fw_buf b;
    fw_buf_init(&b);
    struct ticket t = reference_ticket;
    t.name = "Tôn Nữ Hoàng Thị Phương Thảo Nguyên Khánh Linh Đặng Bảo Ngọc Trâm";
    const struct fw_profile *p = fw_profile_find("csn-a2");
    assert_int_equal(layout_ticket(&t, p, names, &b), FW_OK);
    struct fw_bitmap paper;
    char err[160];
    if (fw_sim_escpos(b.data, b.len, p, font_a, &paper, err, sizeof err) != FW_OK)
        fail_msg("a long name overflowed: %s", err);
    fw_bitmap_free(&paper);
    fw_buf_free(&b);
    /* The reference name (30 characters) does not fit one 58 mm line: it wraps, so its
     * ticket is a name line taller than one with a short name, and nothing is cut. */
    struct fw_bitmap tall, short_paper;
    assert_int_equal(layout_ticket(&reference_ticket, p, names, &b), FW_OK);
    assert_int_equal(fw_sim_escpos(b.data, b.len, p, font_a, &tall, err, sizeof err), FW_OK);
    b.len = 0;
    t = reference_ticket;
    t.name = "Lò Thị Mai";
    assert_int_equal(layout_ticket(&t, p, names, &b), FW_OK);
    assert_int_equal(fw_sim_escpos(b.data, b.len, p, font_a, &short_paper, err, sizeof err), FW_OK);
    assert_true(tall.height >= short_paper.height + 20);
    fw_bitmap_free(&tall);
    fw_bitmap_free(&short_paper);
    b.len = 0;
    t = reference_ticket;
    t.queue_number = 0;
    assert_int_equal(layout_ticket(&t, p, names, &b), FW_EINVAL);
    t = reference_ticket;
    t.code = "";
    assert_int_equal(layout_ticket(&t, p, names, &b), FW_EINVAL);
    fw_buf_free(&b);
}

static void wristbands(void **state)
{
    (void)state;
    const struct wristband w = {.code = "K7Q2MX4P9RTS",
                                .name = "Thào Thị Mỷ",
                                .female = true,
                                .age = 58,
                                .campaign = "DEMO-TAVAN"};
    int done = 0;
    for (size_t i = 0; i < fw_profiles_count; i++) {
        const struct fw_profile *p = &fw_profiles[i];
        struct fw_buf b;
        fw_buf_init(&b);
        assert_int_equal(layout_wristband(&w, p, names, &b), FW_OK);
        char file[64];
        snprintf(file, sizeof file, "wristband-%s.bin", p->name);
        golden(file, &b);
        struct fw_bitmap paper;
        char err[160];
        int rc = p->language == FW_LANG_ZPL
                     ? fw_sim_zpl(b.data, b.len, p, names, &paper, err, sizeof err)
                     : fw_sim_escpos(b.data, b.len, p, font_a, &paper, err, sizeof err);
        if (rc != FW_OK)
            fail_msg("%s: %s", p->name, err);
        char *got = zbar(&paper);
        if (strcmp(got, w.code) != 0)
            fail_msg("%s: zbarimg read \"%s\"", p->name, got);
        free(got);
        fw_bitmap_free(&paper);
        fw_buf_free(&b);
        done++;
    }
    assert_int_equal(done, 5); /* 4 ESC/POS stickers and the ZPL band */
    /* Unknown age: just the sex, in ASCII "Nam" sent as text. */
    struct wristband u = w;
    u.female = false;
    u.age = -1;
    struct fw_buf b;
    fw_buf_init(&b);
    assert_int_equal(layout_wristband(&u, fw_profile_find("escpos-58"), names, &b), FW_OK);
    assert_non_null(memmem(b.data, b.len, "Nam\n", 4));
    fw_buf_free(&b);
    u.code = "";
    assert_int_equal(layout_wristband(&u, fw_profile_find("escpos-58"), names, &b), FW_EINVAL);
}

/* Lays out t or w for p and requires the simulated printer to take every byte. */
static void prints_whole(const struct ticket *t, const struct wristband *w,
                         const struct fw_profile *p)
{
    struct fw_buf b;
    struct fw_bitmap paper;
    char err[160];
    fw_buf_init(&b);
    assert_int_equal(t ? layout_ticket(t, p, names, &b) : layout_wristband(w, p, names, &b), FW_OK);
    int rc = p->language == FW_LANG_ZPL
                 ? fw_sim_zpl(b.data, b.len, p, names, &paper, err, sizeof err)
                 : fw_sim_escpos(b.data, b.len, p, font_a, &paper, err, sizeof err);
    if (rc != FW_OK)
        fail_msg("%s: %s", p->name, err);
    fw_bitmap_free(&paper);
    fw_buf_free(&b);
}

/* Cases a review found: odd spacing, characters DejaVu lacks, long ASCII names, short or
 * huge codes. None may fail the whole ticket, overflow the paper or read out of bounds. */
static void awkward_inputs(void **state)
{
    (void)state;
    static const char *const odd[] = {
        " Lò Thị Mai",                                /* leading space */
        "Illi Mwmwmwmwmwmw Bảo Illi ",                /* a trailing space at the wrap */
        "Giàng\tA\tPáo",                              /* tabs */
        "Lý 中 Hoa",                                  /* a character DejaVu lacks: "?" */
        "Illi Lilli Filli Tillit Jill Li Mill",       /* ASCII wider than 32 columns: wraps */
        "Abcdefghijklmnopqrstuvwxyzabcdefghijklmnop", /* one ASCII word: cut visibly */
        "",
    };
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
        for (size_t k = 0; k < fw_profiles_count; k++) {
            struct ticket t = reference_ticket;
            struct wristband w = {.code = "K7Q2MX4P9RTS", .name = odd[i], .age = 40};
            t.name = odd[i];
            t.station = odd[i];
            if (fw_profiles[k].language == FW_LANG_ESCPOS)
                prints_whole(&t, NULL, &fw_profiles[k]);
            prints_whole(NULL, &w, &fw_profiles[k]);
        }
    /* The ASCII name that used to lose "Mill" silently now wraps to a second line. */
    struct fw_buf b;
    fw_buf_init(&b);
    struct ticket t = reference_ticket;
    t.name = "Illi Lilli Filli Tillit Jill Li Mill";
    assert_int_equal(layout_ticket(&t, fw_profile_find("escpos-58"), names, &b), FW_OK);
    assert_non_null(memmem(b.data, b.len, "Mill\n", 5));
    b.len = 0;
    t.name = "Abcdefghijklmnopqrstuvwxyzabcdefghijklmnop";
    assert_int_equal(layout_ticket(&t, fw_profile_find("escpos-58"), names, &b), FW_OK);
    assert_non_null(memmem(b.data, b.len, "...\n", 4)); /* cut, and it shows */
    fw_buf_free(&b);
    /* A short code (out-of-bounds read in the ZPL band before) and a huge one. */
    struct wristband w = {.code = "AB", .name = "Lan", .age = 30};
    for (size_t k = 0; k < fw_profiles_count; k++)
        prints_whole(NULL, &w, &fw_profiles[k]);
    static char huge[1501];
    memset(huge, 'A', 1500);
    w.code = huge;
    fw_buf_init(&b);
    assert_int_equal(layout_wristband(&w, fw_profile_find("escpos-58"), names, &b), FW_EINVAL);
    assert_int_equal(layout_wristband(&w, fw_profile_find("zebra-hc100"), names, &b), FW_EINVAL);
    fw_buf_free(&b);
}

/* The referral slip: golden bytes per receipt profile, whole on paper (the simulator accepts
 * every byte), the QR scans back to the code; long texts wrap and stop, never overflow. */
static const struct slip reference_slip = {
    .code = "K7Q2MX4P9RTS",
    .name = "Nguyễn Thị Hương",
    .female = true,
    .birth_year = 1961,
    .hospital = "Bệnh viện Đa khoa tỉnh Lào Cai",
    .campaign = "Khám sàng lọc miễn phí xã Tả Van",
    .findings = {"Huyết áp 172/104 mmHg", "Đường huyết 11,2 mmol/L"},
    .nfindings = 2,
    .destination = "Bệnh viện Đa khoa tỉnh Lào Cai, khoa Tim mạch",
    .reason = "Tăng huyết áp độ 2 chưa điều trị",
    .urgency = SLIP_URGENT,
    .doctor = "Bs. Hoàng Văn Nam",
    .when = "22/11/2026 10:40",
};

static void slips(void **state)
{
    (void)state;
    int done = 0;
    for (size_t i = 0; i < fw_profiles_count; i++) {
        const struct fw_profile *p = &fw_profiles[i];
        struct fw_buf b;
        fw_buf_init(&b);
        int rc = layout_slip(&reference_slip, p, names, &b);
        if (p->language == FW_LANG_ZPL) {
            assert_int_equal(rc, FW_EINVAL);
            fw_buf_free(&b);
            continue;
        }
        assert_int_equal(rc, FW_OK);
        char file[64];
        snprintf(file, sizeof file, "slip-%s.bin", p->name);
        golden(file, &b);
        struct fw_bitmap paper;
        char err[160];
        if (fw_sim_escpos(b.data, b.len, p, font_a, &paper, err, sizeof err) != FW_OK)
            fail_msg("%s: %s", p->name, err);
        char *got = zbar(&paper);
        if (strcmp(got, reference_slip.code) != 0)
            fail_msg("%s: zbarimg read \"%s\"", p->name, got);
        free(got);
        fw_bitmap_free(&paper);
        fw_buf_free(&b);
        done++;
    }
    assert_int_equal(done, 4);
    /* Urgency changes the paper: "KHẨN" in large letters is taller than "Mức độ: thường". */
    const struct fw_profile *p = fw_profile_find("escpos-58");
    struct slip s = reference_slip;
    struct fw_buf b;
    struct fw_bitmap urgent, routine;
    char err[160];
    fw_buf_init(&b);
    assert_int_equal(layout_slip(&s, p, names, &b), FW_OK);
    assert_int_equal(fw_sim_escpos(b.data, b.len, p, font_a, &urgent, err, sizeof err), FW_OK);
    b.len = 0;
    s.urgency = SLIP_ROUTINE;
    assert_int_equal(layout_slip(&s, p, names, &b), FW_OK);
    assert_int_equal(fw_sim_escpos(b.data, b.len, p, font_a, &routine, err, sizeof err), FW_OK);
    assert_true(urgent.height > routine.height + 20);
    fw_bitmap_free(&urgent);
    fw_bitmap_free(&routine);
    /* Long texts: at most 3 lines of destination and 4 of reason, the rest cut. */
    s.destination = s.reason =
        "Bệnh viện Đa khoa Trung ương Thái Nguyên, khoa Nội tiết và Đái tháo đường, tầng 3, nhà "
        "B, gặp bác sĩ trưởng khoa để được khám và làm thêm các xét nghiệm cần thiết ngay";
    s.nfindings = SLIP_MAX_FINDINGS;
    for (int k = 0; k < SLIP_MAX_FINDINGS; k++)
        s.findings[k] = "Huyết áp 172/104 mmHg, đo lại lần hai sau năm phút nghỉ ngơi vẫn cao";
    b.len = 0;
    assert_int_equal(layout_slip(&s, p, names, &b), FW_OK);
    struct fw_bitmap paper;
    if (fw_sim_escpos(b.data, b.len, p, font_a, &paper, err, sizeof err) != FW_OK)
        fail_msg("a long slip overflowed: %s", err);
    fw_bitmap_free(&paper);
    /* Refusals: nothing to say where or why. */
    s = reference_slip;
    s.reason = "";
    assert_int_equal(layout_slip(&s, p, names, &b), FW_EINVAL);
    s = reference_slip;
    s.destination = NULL;
    assert_int_equal(layout_slip(&s, p, names, &b), FW_EINVAL);
    s = reference_slip;
    s.nfindings = SLIP_MAX_FINDINGS + 1;
    assert_int_equal(layout_slip(&s, p, names, &b), FW_EINVAL);
    fw_buf_free(&b);
}

/* The test page of every profile: golden bytes, whole on paper, its QR scans. */
static void test_pages(void **state)
{
    (void)state;
    struct test_page t = {.printer = "ticket", .when = "22/11/2026 10:40"};
    for (size_t i = 0; i < fw_profiles_count; i++) {
        const struct fw_profile *p = &fw_profiles[i];
        struct fw_buf b;
        fw_buf_init(&b);
        assert_int_equal(layout_test_page(&t, p, names, &b), FW_OK);
        char file[64];
        snprintf(file, sizeof file, "test-%s.bin", p->name);
        golden(file, &b);
        struct fw_bitmap paper;
        char err[160];
        int rc = p->language == FW_LANG_ZPL
                     ? fw_sim_zpl(b.data, b.len, p, names, &paper, err, sizeof err)
                     : fw_sim_escpos(b.data, b.len, p, font_a, &paper, err, sizeof err);
        if (rc != FW_OK)
            fail_msg("%s: %s", p->name, err);
        char *got = zbar(&paper);
        if (strcmp(got, "MOKIT-TEST") != 0)
            fail_msg("%s: zbarimg read \"%s\"", p->name, got);
        free(got);
        fw_bitmap_free(&paper);
        fw_buf_free(&b);
    }
}

/* The "ready" slip of a booted kit: golden bytes per receipt profile, whole on paper, and its
 * QR scans back to the exact Wi-Fi payload; refused on a wristband printer. */
static const struct wifi_conf reference_wifi = {
    .ssid = "mokit-7F3A",
    .password = "kT9vQ2mX7pLr",
    .url = {"http://mokit.local/", "http://10.42.0.1/"},
    .nurls = 2,
};

/* What a phone's camera reads from the slip laid out for p, through the simulated printer. */
static char *ready_scan(const struct wifi_conf *w, const struct fw_profile *p, struct fw_buf *b,
                        int *height)
{
    struct ready_slip r = {.wifi = w, .when = "22/11/2026 06:58"};
    struct fw_bitmap paper;
    char err[160];
    b->len = 0;
    assert_int_equal(layout_ready(&r, p, names, b), FW_OK);
    if (fw_sim_escpos(b->data, b->len, p, font_a, &paper, err, sizeof err) != FW_OK)
        fail_msg("%s: %s", p->name, err);
    *height = paper.height;
    char *got = zbar(&paper);
    fw_bitmap_free(&paper);
    return got;
}

static void ready_slips(void **state)
{
    (void)state;
    int done = 0, height;
    for (size_t i = 0; i < fw_profiles_count; i++) {
        const struct fw_profile *p = &fw_profiles[i];
        struct fw_buf b;
        fw_buf_init(&b);
        struct ready_slip r = {.wifi = &reference_wifi, .when = "22/11/2026 06:58"};
        int rc = layout_ready(&r, p, names, &b);
        if (p->language == FW_LANG_ZPL) { /* a wristband printer: refused, nothing written */
            assert_int_equal(rc, FW_EINVAL);
            assert_int_equal(b.len, 0);
            fw_buf_free(&b);
            continue;
        }
        assert_int_equal(rc, FW_OK);
        char file[64];
        snprintf(file, sizeof file, "ready-%s.bin", p->name);
        golden(file, &b);
        /* The addresses as text, in large letters (GS ! with double height). */
        assert_non_null(memmem(b.data, b.len, "http://mokit.local/\n", 20));
        assert_non_null(memmem(b.data, b.len, "http://10.42.0.1/\n", 18));
        assert_non_null(memmem(b.data, b.len, "mokit-7F3A\n", 11));
        char *got = ready_scan(&reference_wifi, p, &b, &height);
        if (strcmp(got, "WIFI:T:WPA;S:mokit-7F3A;P:kT9vQ2mX7pLr;;") != 0)
            fail_msg("%s: zbarimg read \"%s\"", p->name, got);
        free(got);
        bool busy = b.len > 5 && memcmp(b.data + 2, "\x1d\x61\x20", 3) == 0;
        assert_int_equal(busy, p->busy_line);
        fw_buf_free(&b);
        done++;
    }
    assert_int_equal(done, 4);
}

static void ready_awkward(void **state)
{
    (void)state;
    struct fw_buf b;
    fw_buf_init(&b);
    int tall, plain;
    /* The longest of everything: a 32-byte name and a 63-character password of characters
     * that need escaping, four 128-byte addresses. Whole on 58 mm paper, every address and
     * the password on the paper (continued over lines), the QR still read exactly. */
    struct wifi_conf w = {.nurls = 4};
    memset(w.ssid, ';', 32);
    for (int k = 0; k < 63; k++)
        w.password[k] = "\\:,\"Aa1"[k % 7];
    for (int u = 0; u < 4; u++) {
        snprintf(w.url[u], sizeof w.url[u], "https://%d.", u);
        memset(w.url[u] + strlen(w.url[u]), 'a' + u, WIFI_URL_MAX - strlen(w.url[u]));
    }
    char want[WIFI_QR_MAX];
    assert_int_equal(wifi_qr_text(&w, want, sizeof want), MK_OK);
    for (size_t i = 0; i < fw_profiles_count; i++) {
        const struct fw_profile *p = &fw_profiles[i];
        if (p->language == FW_LANG_ZPL)
            continue;
        char *got = ready_scan(&w, p, &b, &tall);
        if (strcmp(got, want) != 0)
            fail_msg("%s: zbarimg read \"%s\", not \"%s\"", p->name, got, want);
        free(got);
        /* Each address whole, one printer line after the other. */
        size_t cols = (size_t)p->dots_per_line / 12;
        for (int u = 0; u < 4; u++)
            assert_non_null(memmem(b.data, b.len, w.url[u], cols));
        assert_non_null(memmem(b.data, b.len, w.password, 32));
    }
    /* An open network with a Vietnamese name: nopass, and the name rasterised. */
    const struct fw_profile *p = fw_profile_find("csn-a2");
    struct wifi_conf open = {.ssid = "Trạm y tế: Tả Van", .url = {"http://10.42.0.1/"}, .nurls = 1};
    char *got = ready_scan(&open, p, &b, &plain);
    assert_string_equal(got, "WIFI:T:nopass;S:Trạm y tế\\: Tả Van;;");
    free(got);
    assert_true(tall > plain + 200);
    /* Nothing of the kit's staff or patients can reach it: it has no such input. A missing
     * name is refused. */
    struct ready_slip r = {.wifi = &open, .when = NULL};
    open.ssid[0] = '\0';
    b.len = 0;
    assert_int_equal(layout_ready(&r, p, names, &b), FW_EINVAL);
    r.wifi = NULL;
    assert_int_equal(layout_ready(&r, p, names, &b), FW_EINVAL);
    fw_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tickets_per_profile),
        cmocka_unit_test(refusals_and_long_names),
        cmocka_unit_test(wristbands),
        cmocka_unit_test(awkward_inputs),
        cmocka_unit_test(slips),
        cmocka_unit_test(test_pages),
        cmocka_unit_test(ready_slips),
        cmocka_unit_test(ready_awkward),
    };
    return cmocka_run_group_tests_name("layout", tests, setup, teardown);
}
