#include "patient.h"

#include "../common/err.h"
#include "text.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Codes and names from the GSO list of ethnic groups (Quyết định 121-TCTK/PPCĐ, 1979). */
const struct ethnic_group ethnic_groups[54] = {
    {"01", "Kinh", "kinh"},
    {"02", "Tày", "tay"},
    {"03", "Thái", "thai"},
    {"04", "Hoa", "hoa"},
    {"05", "Khơ Me", "kho me"},
    {"06", "Mường", "muong"},
    {"07", "Nùng", "nung"},
    {"08", "H'Mông", "h mong"},
    {"09", "Dao", "dao"},
    {"10", "Gia Rai", "gia rai"},
    {"11", "Ngái", "ngai"},
    {"12", "Ê Đê", "e de"},
    {"13", "Ba Na", "ba na"},
    {"14", "Xơ Đăng", "xo dang"},
    {"15", "Sán Chay", "san chay"},
    {"16", "Cơ Ho", "co ho"},
    {"17", "Chăm", "cham"},
    {"18", "Sán Dìu", "san diu"},
    {"19", "Hrê", "hre"},
    {"20", "Mnông", "mnong"},
    {"21", "Ra Glai", "ra glai"},
    {"22", "Xtiêng", "xtieng"},
    {"23", "Bru Vân Kiều", "bru van kieu"},
    {"24", "Thổ", "tho"},
    {"25", "Giáy", "giay"},
    {"26", "Cơ Tu", "co tu"},
    {"27", "Gié Triêng", "gie trieng"},
    {"28", "Mạ", "ma"},
    {"29", "Khơ Mú", "kho mu"},
    {"30", "Co", "co"},
    {"31", "Tà Ôi", "ta oi"},
    {"32", "Chơ Ro", "cho ro"},
    {"33", "Kháng", "khang"},
    {"34", "Xinh Mun", "xinh mun"},
    {"35", "Hà Nhì", "ha nhi"},
    {"36", "Chu Ru", "chu ru"},
    {"37", "Lào", "lao"},
    {"38", "La Chí", "la chi"},
    {"39", "La Ha", "la ha"},
    {"40", "Phù Lá", "phu la"},
    {"41", "La Hủ", "la hu"},
    {"42", "Lự", "lu"},
    {"43", "Lô Lô", "lo lo"},
    {"44", "Chứt", "chut"},
    {"45", "Mảng", "mang"},
    {"46", "Pà Thẻn", "pa then"},
    {"47", "Cờ Lao", "co lao"},
    {"48", "Cống", "cong"},
    {"49", "Bố Y", "bo y"},
    {"50", "Si La", "si la"},
    {"51", "Pu Péo", "pu peo"},
    {"52", "Brâu", "brau"},
    {"53", "Ơ Đu", "o du"},
    {"54", "Rơ Măm", "ro mam"},
};

/* Other spellings in common use, folded, with spaces removed. */
static const struct {
    const char *alias, *code;
} ethnic_aliases[] = {
    {"mong", "08"}, {"hmong", "08"},  {"meo", "08"},    {"khmer", "05"}, {"ede", "12"},
    {"jrai", "10"}, {"bahnar", "13"}, {"sedang", "14"}, {"kmu", "29"},   {"vankieu", "23"},
};

static void squeeze(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++)
        if (*r != ' ')
            *w++ = *r;
    *w = '\0';
}

const struct ethnic_group *ethnic_find(const char *s)
{
    if (s[0] >= '0' && s[0] <= '9' && strlen(s) <= 2) {
        char *end;
        long n = strtol(s, &end, 10);
        if (*end == '\0' && n >= 1 && n <= 54)
            return &ethnic_groups[n - 1];
        return NULL;
    }
    char *f;
    if (text_fold(s, &f) != MK_OK)
        return NULL;
    squeeze(f);
    const struct ethnic_group *found = NULL;
    for (size_t i = 0; i < 54 && !found; i++) {
        char key[32];
        snprintf(key, sizeof key, "%s", ethnic_groups[i].fold);
        squeeze(key);
        if (strcmp(key, f) == 0)
            found = &ethnic_groups[i];
    }
    for (size_t i = 0; i < sizeof ethnic_aliases / sizeof ethnic_aliases[0] && !found; i++)
        if (strcmp(ethnic_aliases[i].alias, f) == 0)
            found = &ethnic_groups[atoi(ethnic_aliases[i].code) - 1];
    free(f);
    return found;
}

int sex_parse(const char *s, enum sex *out)
{
    char *f;
    /* Folding would turn "Male?" into "male": refuse ASCII that is not a letter or a space. */
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x80 && !isalpha((unsigned char)*p) && *p != ' ')
            return MK_EINVAL;
    int rc = text_fold(s, &f);
    if (rc != MK_OK)
        return rc;
    rc = MK_OK;
    if (!strcmp(f, "male") || !strcmp(f, "m") || !strcmp(f, "nam"))
        *out = SEX_MALE;
    else if (!strcmp(f, "female") || !strcmp(f, "f") || !strcmp(f, "nu"))
        *out = SEX_FEMALE;
    else
        rc = MK_EINVAL;
    free(f);
    return rc;
}

const char *sex_name(enum sex s)
{
    return s == SEX_MALE ? "male" : s == SEX_FEMALE ? "female" : "unknown";
}

static bool digits_only(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return s[n] == '\0';
}

bool cccd_number_valid(const char *s)
{
    return strlen(s) == 12 && digits_only(s, 12);
}

/* Copies s without spaces, hyphens, dots and parentheses into out (cap bytes with NUL);
 * false when it does not fit. */
static bool compact(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s; s++) {
        if (*s == ' ' || *s == '-' || *s == '.' || *s == '(' || *s == ')')
            continue;
        if (n + 1 >= cap)
            return false;
        out[n++] = *s;
    }
    out[n] = '\0';
    return true;
}

bool bhyt_normalize(const char *s, char card[16], char ssn[11])
{
    char c[16];
    if (!compact(s, c, sizeof c))
        return false;
    size_t n = strlen(c);
    if (n == 10 && digits_only(c, 10)) { /* the social insurance number used since 2021 */
        memcpy(card, c, 11);
        memcpy(ssn, c, 11);
        return true;
    }
    /* Card number: 2-letter beneficiary group, 1-digit benefit level, 2-digit province code,
     * 10-digit social insurance number (Quyết định 1666/QĐ-BHXH). */
    if (n != 15 || !isalpha((unsigned char)c[0]) || !isalpha((unsigned char)c[1]) ||
        !digits_only(c + 2, 13))
        return false;
    for (size_t i = 0; i <= n; i++)
        card[i] = (char)toupper((unsigned char)c[i]);
    memcpy(ssn, c + 5, 11);
    return true;
}

bool phone_normalize(const char *s, char out[16])
{
    char c[20];
    if (!compact(s, c, sizeof c))
        return false;
    const char *p = c;
    if (p[0] == '+' && p[1] == '8' && p[2] == '4')
        p += 3;
    else if (p[0] == '8' && p[1] == '4' && strlen(p) >= 11)
        p += 2;
    else if (p[0] == '+')
        return false; /* another country: not a number the kit can call or match */
    size_t n = strlen(p);
    bool national = p != c;
    if (n + national < 9 || n + national > 12 || !digits_only(p, n))
        return false;
    if (national && p[0] != '0')
        snprintf(out, 16, "0%s", p);
    else
        snprintf(out, 16, "%s", p);
    return true;
}

__attribute__((format(printf, 5, 6))) static int bad(const char **field, const char *name,
                                                     char *msg, size_t msglen, const char *fmt, ...)
{
    va_list ap;
    *field = name;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    return MK_EINVAL;
}

static bool empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

int patient_validate(const struct patient *p, const struct date *today, const char **field,
                     char *msg, size_t msglen)
{
    if (empty(p->name))
        return bad(field, "name", msg, msglen, "a name is required");
    if (strlen(p->name) > 200)
        return bad(field, "name", msg, msglen, "the name is longer than 200 bytes");
    if (p->sex != SEX_MALE && p->sex != SEX_FEMALE)
        return bad(field, "sex", msg, msglen, "sex must be male or female");
    if (p->birth.month == 0 ? (p->birth.year < 1900 || p->birth.year > 2100)
                            : !date_valid(p->birth.year, p->birth.month, p->birth.day))
        return bad(field, "birth", msg, msglen, "the birth date is not a real date");
    struct date year_only = {today->year, 0, 0};
    if (date_cmp(&p->birth, p->birth.month ? today : &year_only) > 0)
        return bad(field, "birth", msg, msglen, "the birth date is in the future");
    if (today->year - p->birth.year > 125)
        return bad(field, "birth", msg, msglen, "the birth year is more than 125 years ago");
    if (!empty(p->ethnicity) && !ethnic_find(p->ethnicity))
        return bad(field, "ethnicity", msg, msglen, "unknown ethnic group");
    if (!empty(p->cccd) && !cccd_number_valid(p->cccd))
        return bad(field, "cccd", msg, msglen, "the CCCD number must be 12 digits");
    char card[16], ssn[11], phone[16];
    if (!empty(p->bhyt) && !bhyt_normalize(p->bhyt, card, ssn))
        return bad(field, "bhyt", msg, msglen,
                   "the BHYT number must be 15 characters (2 letters, 13 digits) or 10 digits");
    if (!empty(p->phone) && !phone_normalize(p->phone, phone))
        return bad(field, "phone", msg, msglen, "the phone number must be 9 to 12 digits");
    const char *longest[] = {p->province, p->district, p->commune, p->village, p->address};
    static const char *names[] = {"province", "district", "commune", "village", "address"};
    for (int i = 0; i < 5; i++)
        if (!empty(longest[i]) && strlen(longest[i]) > 300)
            return bad(field, names[i], msg, msglen, "%s is longer than 300 bytes", names[i]);
    return MK_OK;
}

bool patient_likely_duplicate(const char *name_fold_a, int year_a, const char *commune_fold_a,
                              const char *name_fold_b, int year_b, const char *commune_fold_b)
{
    if (strcmp(name_fold_a, name_fold_b) != 0 || abs(year_a - year_b) > 1)
        return false;
    if (empty(commune_fold_a) || empty(commune_fold_b))
        return true;
    return strcmp(commune_fold_a, commune_fold_b) == 0;
}
