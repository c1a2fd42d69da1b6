#include "demo.h"

#include <stddef.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

void demo_rng_seed(struct demo_rng *r, uint64_t seed)
{
    r->state = seed;
}

uint64_t demo_rng_next(struct demo_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0 (the bias of the 32-bit multiply is far below what matters here). */
static uint32_t below(struct demo_rng *r, uint32_t n)
{
    return (uint32_t)(((demo_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* True with probability per_mille / 1000. */
static int chance(struct demo_rng *r, uint32_t per_mille)
{
    return below(r, 1000) < per_mille;
}

struct weighted {
    const char *s;
    uint32_t w;
};

/* A weighted pick; first_w, when non-zero, replaces the weight of t[0]. */
static const char *pick_weighted_first(struct demo_rng *r, const struct weighted *t, size_t n,
                                       uint32_t first_w)
{
    uint32_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += i == 0 && first_w ? first_w : t[i].w;
    uint32_t x = below(r, total);
    for (size_t i = 0; i < n; i++) {
        uint32_t w = i == 0 && first_w ? first_w : t[i].w;
        if (x < w)
            return t[i].s;
        x -= w;
    }
    return t[n - 1].s;
}

static const char *pick_weighted(struct demo_rng *r, const struct weighted *t, size_t n)
{
    return pick_weighted_first(r, t, n, 0);
}

/* Lists ordered by popularity: item i has weight 1 / (i + 3), a Zipf-like skew (the first of
 * 60 names is about 10 % of its list, the last about 0.5 %). */
static const char *pick_zipf(struct demo_rng *r, const char *const *t, size_t n)
{
    uint32_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += 720720u / (uint32_t)(i + 3);
    uint32_t x = below(r, total);
    for (size_t i = 0; i < n; i++) {
        uint32_t w = 720720u / (uint32_t)(i + 3);
        if (x < w)
            return t[i];
        x -= w;
    }
    return t[n - 1];
}

static const char *pick_uniform(struct demo_rng *r, const char *const *t, size_t n)
{
    return t[below(r, (uint32_t)n)];
}

/* ---- names ---- */

/* Kinh surnames, per 10,000 (national shares: Nguyễn ~38 %, Trần ~11 %, Lê ~9.5 %, ...). */
static const struct weighted kinh_surnames[] = {
    {"Nguyễn", 3840}, {"Trần", 1100}, {"Lê", 950},    {"Phạm", 710}, {"Hoàng", 380}, {"Huỳnh", 130},
    {"Phan", 450},    {"Vũ", 260},    {"Võ", 130},    {"Đặng", 210}, {"Bùi", 200},   {"Đỗ", 140},
    {"Hồ", 130},      {"Ngô", 130},   {"Dương", 100}, {"Lý", 50},    {"Đinh", 120},  {"Đào", 110},
    {"Trịnh", 90},    {"Mai", 70},    {"Trương", 80}, {"Lương", 60}, {"Lưu", 50},    {"Cao", 60},
    {"Tạ", 40},       {"Hà", 60},     {"Vương", 30},  {"Tô", 30},    {"Đoàn", 70},   {"Chu", 30},
    {"Lâm", 40},      {"Kiều", 20},   {"Quách", 20},  {"La", 20},    {"Phùng", 30},  {"Triệu", 20},
    {"Nghiêm", 10},   {"Khúc", 10},   {"Thái", 20},   {"Hứa", 10},   {"Tăng", 10},
};

/* Middle names; the weight of Văn/Thị (first entry) depends on the birth year. */
static const struct weighted kinh_middle_m[] = {
    {"Văn", 0},   {"Đức", 80},  {"Hữu", 70},  {"Minh", 70},  {"Quang", 60}, {"Đình", 50},
    {"Công", 40}, {"Xuân", 40}, {"Ngọc", 30}, {"Thanh", 30}, {"Trọng", 30}, {"Quốc", 30},
    {"Mạnh", 20}, {"Tiến", 20}, {"Duy", 25},  {"Hoàng", 30}, {"Bá", 15},    {"Gia", 20},
    {"Tuấn", 15}, {"Anh", 15},  {"Thế", 20},  {"Việt", 15},  {"Kim", 10},
};
static const struct weighted kinh_middle_f[] = {
    {"Thị", 0},    {"Ngọc", 70},   {"Thu", 60},   {"Thanh", 50}, {"Kim", 40},  {"Minh", 30},
    {"Hồng", 40},  {"Phương", 30}, {"Thùy", 30},  {"Bích", 25},  {"Mai", 20},  {"Hoài", 15},
    {"Khánh", 20}, {"Bảo", 15},    {"Diệu", 10},  {"Quỳnh", 15}, {"Xuân", 20}, {"Hải", 15},
    {"Lan", 10},   {"Thúy", 20},   {"Hương", 10}, {"Tuyết", 10},
};
/* The second of two middle names ("Nguyễn Thị Thu Hương", "Trần Hoàng Minh Anh"). */
static const char *const second_middle_m[] = {"Minh", "Đức",  "Gia",   "Bảo",   "Quốc",
                                              "Anh",  "Tuấn", "Hoàng", "Thanh", "Nhật"};
static const char *const second_middle_f[] = {"Thu",  "Thanh", "Ngọc", "Kim",   "Minh", "Hồng",
                                              "Bích", "Thúy",  "Bảo",  "Khánh", "Mai",  "Phương"};

static const char *const kinh_given_m[] = {
    "Hùng",  "Dũng", "Tuấn", "Nam",   "Minh",  "Hải",   "Sơn",   "Thắng", "Cường", "Long",  "Bình",
    "Hoàng", "Huy",  "Đức",  "Thành", "Trung", "Quang", "An",    "Hiếu",  "Phong", "Việt",  "Tùng",
    "Khánh", "Hưng", "Mạnh", "Tiến",  "Quân",  "Hòa",   "Lâm",   "Kiên",  "Vinh",  "Phúc",  "Thịnh",
    "Toàn",  "Tài",  "Tâm",  "Lợi",   "Nghĩa", "Hiệp",  "Chiến", "Đạt",   "Dương", "Giang", "Hậu",
    "Khoa",  "Lộc",  "Phát", "Quý",   "Thái",  "Thuận", "Trí",   "Tú",    "Duy",   "Bảo",   "Anh",
    "Công",  "Định", "Hào",  "Khải",  "Luân",  "Nhân",  "Sang",  "Tín",   "Vượng", "Thanh",
};
static const char *const kinh_given_f[] = {
    "Hương", "Lan",  "Hoa",    "Mai",   "Linh",  "Thảo", "Hà",   "Trang", "Nga",   "Hằng",
    "Huyền", "Yến",  "Phương", "Ngọc",  "Nhung", "Thủy", "Loan", "Hạnh",  "Dung",  "Liên",
    "Vân",   "Hiền", "Oanh",   "Anh",   "Hồng",  "Thu",  "Xuân", "Tuyết", "Quyên", "Chi",
    "Giang", "Hậu",  "Lệ",     "Lý",    "Mận",   "My",   "Nhàn", "Nhi",   "Như",   "Phượng",
    "Quỳnh", "Sen",  "Tâm",    "Thanh", "Thoa",  "Thơm", "Thúy", "Uyên",  "Vy",    "Diệp",
    "Cúc",   "Đào",  "Huệ",    "Khánh", "Lụa",   "Minh", "Ngân", "Trâm",  "Hoài",  "Tươi",
};

/* H'Mông: clan surname, then "A"/"Seo"/... for men and "Thị" for women, then the given name. */
static const struct weighted hmong_surnames[] = {
    {"Giàng", 22}, {"Thào", 18}, {"Vàng", 16}, {"Lý", 10},  {"Sùng", 10}, {"Hầu", 6},
    {"Lồ", 5},     {"Sình", 4},  {"Mùa", 4},   {"Hạng", 3}, {"Vừ", 2},
};
static const struct weighted hmong_middle_m[] = {
    {"A", 55}, {"Seo", 25}, {"Văn", 12}, {"Mí", 5}, {"Chẩn", 3},
};
static const char *const hmong_given_m[] = {
    "Páo",  "Chứ", "Dế",   "Lử",    "Sử",   "Pó",    "Chá",  "Tủa",  "Sình", "Sàng",
    "Lềnh", "Chu", "Dình", "Giàng", "Hờ",   "Khua",  "Lình", "Lồng", "Mang", "Nhà",
    "Pàng", "Phử", "Pháy", "Sáng",  "Sung", "Tráng", "Vừ",   "Xà",   "Thề",  "Và",
};
static const char *const hmong_given_f[] = {
    "Mỷ", "Mai", "Mẩy", "Dợ",  "Chi", "Sua",  "Pàng", "Dung", "Ly", "Lan", "Sinh", "Chở",
    "Dờ", "Cở",  "Mí",  "Xúa", "Mua", "Dính", "Sí",   "Ca",   "Dở", "Say", "Lia",  "Pà",
};

/* Dao (Dao Đỏ of Sa Pa): "Tẩn Láo Lở", "Triệu Thị Mẩy", "Chảo Tả Mẩy". */
static const struct weighted dao_surnames[] = {
    {"Triệu", 20}, {"Bàn", 20}, {"Lý", 15},  {"Tẩn", 15},
    {"Chảo", 12},  {"Phàn", 8}, {"Đặng", 6}, {"Sần", 4},
};
static const struct weighted dao_middle_m[] = {
    {"Văn", 40}, {"Láo", 25}, {"Tài", 10}, {"Seo", 10}, {"Tả", 10}, {"Phù", 5},
};
static const struct weighted dao_middle_f[] = {
    {"Thị", 70},
    {"Tả", 20},
    {"Mý", 10},
};
static const char *const dao_given_m[] = {
    "Lở",   "Phin", "Chòi", "Quẩy", "Sàng", "Vần", "Phẩu", "Kiềm", "Sinh", "Pao",
    "Chàn", "Kim",  "Tòng", "Sành", "Chúa", "Dùn", "Phù",  "Lìn",  "Ván",  "Lẻng",
};
static const char *const dao_given_f[] = {
    "Mẩy",  "Sử",  "Lở", "Mây",  "Chi", "Xuân",  "Dùn", "Pham",
    "Dính", "Nái", "Mè", "Xiêm", "Liu", "Chiều", "Mai", "Chạn",
};

/* Tày, Giáy and Thái: their own surnames, Văn/Thị, given names partly of their own. */
static const struct weighted tay_surnames[] = {
    {"Hoàng", 25}, {"Nông", 15}, {"Lục", 8},  {"Ma", 10}, {"Hà", 10}, {"Nguyễn", 8},
    {"Lương", 6},  {"Bế", 6},    {"Đinh", 4}, {"Vi", 4},  {"Lộc", 4},
};
static const struct weighted giay_surnames[] = {
    {"Lù", 30}, {"Hoàng", 25}, {"Vương", 20}, {"Sần", 10}, {"Lò", 8}, {"Giàng", 7},
};
static const char *const giay_given_m[] = {"Sinh", "Phìn", "Dìn", "Chẩn", "Sìn",
                                           "Pao",  "Sáng", "Lìn", "Seo",  "Chiến"};
static const char *const giay_given_f[] = {"Thìn", "Sinh", "Pham", "Dung",
                                           "Pà",   "Xuân", "Mến",  "Dính"};
static const struct weighted thai_surnames[] = {
    {"Lò", 30}, {"Cầm", 15}, {"Quàng", 15}, {"Lường", 15},
    {"Hà", 8},  {"Vì", 6},   {"Tòng", 6},   {"Điêu", 5},
};
static const char *const thai_given_m[] = {"Pọm",  "Ún",  "Xiên", "Khăm", "Pản",
                                           "Phăn", "Inh", "Hom",  "Panh", "Ọi"};
static const char *const thai_given_f[] = {"Ín",   "Ọn", "Ỉnh", "Pánh", "Hom",
                                           "Xuân", "Lả", "Ánh", "Thoa", "Ban"};

/* ---- places ---- */

enum ethnic { E_KINH, E_HMONG, E_DAO, E_TAY, E_GIAY, E_THAI, E_COUNT };

static const char *const ethnic_code[E_COUNT] = {"01", "08", "09", "02", "25", "03"};
/* Per mille of a Lào Cai mountain commune's residents. */
static const uint32_t ethnic_share[E_COUNT] = {450, 250, 120, 70, 60, 50};
/* Per mille who know only their birth year (more among older minority people). */
static const uint32_t year_only_share[E_COUNT] = {170, 330, 330, 250, 300, 300};

static const char *const villages_kinh[] = {
    "Thôn 1", "Thôn 2", "Thôn 3", "Thôn 4",         "Thôn 5",         "Thôn 6",
    "Thôn 7", "Thôn 8", "Thôn 9", "Thôn Trung Tâm", "Thôn Suối Thầu", "Tổ dân phố 2",
};
static const char *const villages_hmong[] = {
    "Thôn Tả Van Mông", "Thôn Giàng Tả Chải Mông", "Thôn Séo Mý Tỷ", "Thôn Hầu Chư Ngài",
    "Bản Lao Chải",     "Thôn Sín Chải",           "Thôn Ý Lình Hồ",
};
static const char *const villages_dao[] = {
    "Thôn Tả Van Dao", "Thôn Giàng Tả Chải Dao", "Thôn Lếch Dao", "Bản Dền", "Thôn Nậm Cang",
};
static const char *const villages_tay[] = {"Bản Hồ", "Thôn Nà Chí", "Bản Phùng"};
static const char *const villages_giay[] = {"Thôn Tả Van Giáy 1", "Thôn Tả Van Giáy 2", "Bản Hồ"};
static const char *const villages_thai[] = {"Bản Mường Bo", "Thôn Nà Lốc"};

static const struct {
    const char *const *v;
    size_t n;
} villages[E_COUNT] = {
    {villages_kinh, COUNT(villages_kinh)}, {villages_hmong, COUNT(villages_hmong)},
    {villages_dao, COUNT(villages_dao)},   {villages_tay, COUNT(villages_tay)},
    {villages_giay, COUNT(villages_giay)}, {villages_thai, COUNT(villages_thai)},
};

/* Mobile prefixes in use since the 2018 renumbering (Viettel 03x/086/09x, MobiFone 07x/089/090,
 * VinaPhone 08x/091/094, Vietnamobile 05x/092, Gmobile 059/099). */
static const char *const phone_prefixes[] = {
    "032", "033", "034", "035", "036", "037", "038", "039", "056", "058", "059",
    "070", "076", "077", "078", "079", "081", "082", "083", "084", "085", "086",
    "088", "089", "090", "091", "092", "093", "094", "096", "097", "098", "099",
};

/* ---- dates ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static struct date civil_from_days(long z)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int y = (int)(yoe + era * 400) + (m <= 2);
    return (struct date){y, m, d};
}

/* A screening-day crowd: some children, adults mostly 40-75, a few very old. */
static int draw_age(struct demo_rng *r)
{
    uint32_t x = below(r, 1000);
    if (x < 110)
        return (int)below(r, 18);
    if (x < 290)
        return 18 + (int)below(r, 22);
    if (x < 880)
        return 40 + (int)below(r, 36);
    if (x < 985)
        return 76 + (int)below(r, 14);
    return 90 + (int)below(r, 10);
}

static struct date draw_birth(struct demo_rng *r, const struct date *today, uint32_t year_only)
{
    int age = draw_age(r);
    int max_age = today->year - 1901;
    if (age > max_age)
        age = max_age > 0 ? max_age : 0;
    if (today->month < 1 || today->month > 12 || today->day < 1)
        return (struct date){today->year - age, 0, 0};
    int y = today->year - age, m = today->month, d = today->day;
    if (m == 2 && d == 29)
        d = 28;
    /* Exactly `age` years old today: the last birthday was 0..364 days ago. */
    struct date b = civil_from_days(days_from_civil(y, m, d) - (long)below(r, 365));
    if (!date_valid(b.year, b.month, b.day))
        b = (struct date){today->year - age, 0, 0};
    /* Parents know a baby's birth date; older people often only the year. */
    if (age >= 1 && chance(r, year_only))
        b.month = b.day = 0;
    return b;
}

/* ---- assembly ---- */

static void put(char *dst, size_t cap, const char *word)
{
    size_t len = strlen(dst), n = strlen(word);
    if (len + (len ? 1 : 0) + n + 1 > cap)
        return;
    if (len)
        dst[len++] = ' ';
    memcpy(dst + len, word, n + 1);
}

static int pick_ethnic(struct demo_rng *r)
{
    uint32_t x = below(r, 1000);
    for (int e = 0; e < E_COUNT; e++) {
        if (x < ethnic_share[e])
            return e;
        x -= ethnic_share[e];
    }
    return E_KINH;
}

/* Kinh-style middle and given names (also used by Tày, and in part Giáy and Thái). */
static void kinh_rest(struct demo_rng *r, int male, int born, char *name, size_t cap)
{
    /* Văn and Thị dominate among people born before the 1980s. */
    uint32_t first_w = male ? (born < 1980 ? 520 : 200) : (born < 1980 ? 600 : 220);
    const char *m1 = male ? pick_weighted_first(r, kinh_middle_m, COUNT(kinh_middle_m), first_w)
                          : pick_weighted_first(r, kinh_middle_f, COUNT(kinh_middle_f), first_w);
    put(name, cap, m1);
    /* Two middle names: "Nguyễn Thị Thu Hương", more often among the young. */
    if (chance(r, male ? (born < 1985 ? 30 : 90) : (born < 1985 ? 110 : 160))) {
        const char *m2 = male ? pick_uniform(r, second_middle_m, COUNT(second_middle_m))
                              : pick_uniform(r, second_middle_f, COUNT(second_middle_f));
        if (strcmp(m1, m2) != 0)
            put(name, cap, m2);
    }
    const char *g;
    do
        g = male ? pick_zipf(r, kinh_given_m, COUNT(kinh_given_m))
                 : pick_zipf(r, kinh_given_f, COUNT(kinh_given_f));
    while (strcmp(g, m1) == 0);
    put(name, cap, g);
}

static void make_name(struct demo_rng *r, int e, int male, int born, char *name, size_t cap)
{
    name[0] = '\0';
    switch (e) {
    case E_HMONG:
        put(name, cap, pick_weighted(r, hmong_surnames, COUNT(hmong_surnames)));
        if (male)
            put(name, cap, pick_weighted(r, hmong_middle_m, COUNT(hmong_middle_m)));
        else if (chance(r, 950))
            put(name, cap, "Thị");
        put(name, cap,
            male ? pick_zipf(r, hmong_given_m, COUNT(hmong_given_m))
                 : pick_zipf(r, hmong_given_f, COUNT(hmong_given_f)));
        break;
    case E_DAO:
        put(name, cap, pick_weighted(r, dao_surnames, COUNT(dao_surnames)));
        put(name, cap,
            male ? pick_weighted(r, dao_middle_m, COUNT(dao_middle_m))
                 : pick_weighted(r, dao_middle_f, COUNT(dao_middle_f)));
        put(name, cap,
            male ? pick_zipf(r, dao_given_m, COUNT(dao_given_m))
                 : pick_zipf(r, dao_given_f, COUNT(dao_given_f)));
        break;
    case E_TAY:
        put(name, cap, pick_weighted(r, tay_surnames, COUNT(tay_surnames)));
        kinh_rest(r, male, born, name, cap);
        break;
    case E_GIAY:
    case E_THAI: {
        const struct weighted *s = e == E_GIAY ? giay_surnames : thai_surnames;
        size_t ns = e == E_GIAY ? COUNT(giay_surnames) : COUNT(thai_surnames);
        put(name, cap, pick_weighted(r, s, ns));
        if (chance(r, 500)) {
            kinh_rest(r, male, born, name, cap);
            break;
        }
        if (e == E_GIAY && male && chance(r, 200))
            put(name, cap, "Seo");
        else
            put(name, cap, male ? "Văn" : "Thị");
        if (e == E_GIAY)
            put(name, cap,
                male ? pick_zipf(r, giay_given_m, COUNT(giay_given_m))
                     : pick_zipf(r, giay_given_f, COUNT(giay_given_f)));
        else
            put(name, cap,
                male ? pick_zipf(r, thai_given_m, COUNT(thai_given_m))
                     : pick_zipf(r, thai_given_f, COUNT(thai_given_f)));
        break;
    }
    default:
        put(name, cap, pick_weighted(r, kinh_surnames, COUNT(kinh_surnames)));
        kinh_rest(r, male, born, name, cap);
        break;
    }
}

static void make_phone(struct demo_rng *r, int age, char out[12])
{
    /* Most working-age adults have a mobile; few children or very old people give one. */
    uint32_t p = age < 15 ? 20 : age < 60 ? 560 : age < 75 ? 300 : 120;
    out[0] = '\0';
    if (!chance(r, p))
        return;
    memcpy(out, pick_uniform(r, phone_prefixes, COUNT(phone_prefixes)), 3);
    for (int i = 3; i < 10; i++)
        out[i] = (char)('0' + below(r, 10));
    out[10] = '\0';
}

void demo_person_make(struct demo_rng *r, const struct date *today, struct demo_person *out)
{
    memset(out, 0, sizeof *out);
    int e = pick_ethnic(r);
    int male = !chance(r, 540); /* screening days draw more women */
    out->sex = male ? SEX_MALE : SEX_FEMALE;
    out->birth = draw_birth(r, today, year_only_share[e]);
    memcpy(out->ethnicity, ethnic_code[e], 3);
    make_name(r, e, male, out->birth.year, out->name, sizeof out->name);

    const char *v = chance(r, 750) ? pick_uniform(r, villages[e].v, villages[e].n)
                                   : pick_uniform(r, villages[E_KINH].v, villages[E_KINH].n);
    size_t vn = strlen(v);
    memcpy(out->village, v, vn < sizeof out->village ? vn + 1 : sizeof out->village);
    out->village[sizeof out->village - 1] = '\0';

    make_phone(r, today->year - out->birth.year, out->phone);
}
