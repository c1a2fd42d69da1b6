/* ICD-10 codes for a screening day (icd10.h). */
#include "icd10.h"

#include "../common/err.h"
#include "text.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* WHO ICD-10, 2019 edition: every code and English title checked against the WHO tabular
 * list. English names are WHO's titles and Vietnamese names follow the Ministry of Health's
 * translation; either may add in brackets the everyday word people search by ("diarrhoea",
 * "tiêu chảy", "thấp còi"). Sorted by code (strcmp), which tests/unit/test_icd10.c checks along
 * with the shape of every code and name. */
static const struct icd10 table[] = {
    {"A09.9", "Viêm dạ dày ruột và viêm đại tràng không rõ nguồn gốc (tiêu chảy)",
     "Gastroenteritis and colitis of unspecified origin (diarrhoea)", "digestive"},
    {"B18.1", "Viêm gan virus B mạn tính, không có tác nhân delta",
     "Chronic viral hepatitis B without delta-agent", "infection"},
    {"B18.2", "Viêm gan virus C mạn tính", "Chronic viral hepatitis C", "infection"},
    {"B35.9", "Bệnh nấm da, không đặc hiệu", "Dermatophytosis, unspecified", "skin"},
    {"B37.3", "Nhiễm nấm Candida âm hộ và âm đạo", "Candidiasis of vulva and vagina", "women"},
    {"B54", "Sốt rét, không đặc hiệu", "Unspecified malaria", "infection"},
    {"B76.9", "Bệnh giun móc, không đặc hiệu", "Hookworm disease, unspecified", "infection"},
    {"B77.9", "Bệnh giun đũa, không đặc hiệu", "Ascariasis, unspecified", "infection"},
    {"B82.0", "Bệnh giun sán đường ruột, không đặc hiệu", "Intestinal helminthiasis, unspecified",
     "infection"},
    {"B86", "Bệnh ghẻ", "Scabies", "skin"},
    {"D50.9", "Thiếu máu do thiếu sắt, không đặc hiệu", "Iron deficiency anaemia, unspecified",
     "other"},
    {"D64.9", "Thiếu máu, không đặc hiệu", "Anaemia, unspecified", "other"},
    {"E01.2", "Bướu giáp (địa phương) do thiếu iod, không đặc hiệu",
     "Iodine-deficiency-related (endemic) goitre, unspecified", "metabolic"},
    {"E03.9", "Suy giáp, không đặc hiệu", "Hypothyroidism, unspecified", "metabolic"},
    {"E04.9", "Bướu giáp không độc, không đặc hiệu", "Nontoxic goitre, unspecified", "metabolic"},
    {"E05.9", "Cường giáp (nhiễm độc giáp), không đặc hiệu",
     "Thyrotoxicosis [hyperthyroidism], unspecified", "metabolic"},
    {"E10.9", "Đái tháo đường type 1 không có biến chứng",
     "Type 1 diabetes mellitus without complications", "metabolic"},
    {"E11.3", "Đái tháo đường type 2 có biến chứng mắt",
     "Type 2 diabetes mellitus with ophthalmic complications", "metabolic"},
    {"E11.4", "Đái tháo đường type 2 có biến chứng thần kinh",
     "Type 2 diabetes mellitus with neurological complications", "metabolic"},
    {"E11.7", "Đái tháo đường type 2 có nhiều biến chứng",
     "Type 2 diabetes mellitus with multiple complications", "metabolic"},
    {"E11.9", "Đái tháo đường type 2 không có biến chứng",
     "Type 2 diabetes mellitus without complications", "metabolic"},
    {"E14.9", "Đái tháo đường không xác định type, không có biến chứng",
     "Unspecified diabetes mellitus without complications", "metabolic"},
    {"E16.2", "Hạ đường huyết, không đặc hiệu", "Hypoglycaemia, unspecified", "metabolic"},
    {"E43", "Suy dinh dưỡng protein - năng lượng nặng, không đặc hiệu",
     "Unspecified severe protein-energy malnutrition", "child"},
    {"E44.0", "Suy dinh dưỡng protein - năng lượng mức độ vừa",
     "Moderate protein-energy malnutrition", "child"},
    {"E44.1", "Suy dinh dưỡng protein - năng lượng mức độ nhẹ", "Mild protein-energy malnutrition",
     "child"},
    {"E45", "Chậm phát triển do suy dinh dưỡng protein - năng lượng (thấp còi)",
     "Retarded development following protein-energy malnutrition (stunting)", "child"},
    {"E46", "Suy dinh dưỡng protein - năng lượng, không đặc hiệu",
     "Unspecified protein-energy malnutrition", "metabolic"},
    {"E50.9", "Thiếu vitamin A, không đặc hiệu", "Vitamin A deficiency, unspecified", "child"},
    {"E66.9", "Béo phì, không đặc hiệu", "Obesity, unspecified", "metabolic"},
    {"E78.5", "Tăng lipid máu (rối loạn mỡ máu), không đặc hiệu", "Hyperlipidaemia, unspecified",
     "metabolic"},
    {"E79.0", "Tăng acid uric máu không có viêm khớp và hạt tophi",
     "Hyperuricaemia without signs of inflammatory arthritis and tophaceous disease", "metabolic"},
    {"F10.2", "Rối loạn tâm thần và hành vi do rượu: hội chứng nghiện",
     "Mental and behavioural disorders due to use of alcohol: dependence syndrome", "mental"},
    {"F32.9", "Giai đoạn trầm cảm, không đặc hiệu", "Depressive episode, unspecified", "mental"},
    {"F41.9", "Rối loạn lo âu, không đặc hiệu", "Anxiety disorder, unspecified", "mental"},
    {"G40.9", "Động kinh, không đặc hiệu", "Epilepsy, unspecified", "neuro"},
    {"G43.9", "Đau nửa đầu (migraine), không đặc hiệu", "Migraine, unspecified", "neuro"},
    {"G47.0", "Mất ngủ (rối loạn khởi phát và duy trì giấc ngủ)",
     "Disorders of initiating and maintaining sleep [insomnias]", "neuro"},
    {"H10.9", "Viêm kết mạc, không đặc hiệu", "Conjunctivitis, unspecified", "eye"},
    {"H11.0", "Mộng thịt", "Pterygium", "eye"},
    {"H25.9", "Đục thủy tinh thể tuổi già, không đặc hiệu", "Senile cataract, unspecified", "eye"},
    {"H26.9", "Đục thủy tinh thể, không đặc hiệu", "Cataract, unspecified", "eye"},
    {"H40.9", "Glôcôm (tăng nhãn áp), không đặc hiệu", "Glaucoma, unspecified", "eye"},
    {"H50.9", "Lác (lé), không đặc hiệu", "Strabismus, unspecified", "eye"},
    {"H52.1", "Cận thị", "Myopia", "eye"},
    {"H52.4", "Lão thị", "Presbyopia", "eye"},
    {"H52.7", "Tật khúc xạ, không đặc hiệu", "Disorder of refraction, unspecified", "eye"},
    {"H54.9", "Suy giảm thị lực không xác định mức độ (hai mắt)",
     "Unspecified visual impairment (binocular)", "eye"},
    {"H61.2", "Nút ráy tai", "Impacted cerumen", "ent"},
    {"H66.9", "Viêm tai giữa, không đặc hiệu", "Otitis media, unspecified", "ent"},
    {"H91.9", "Nghe kém, không đặc hiệu", "Hearing loss, unspecified", "ent"},
    {"I10", "Tăng huyết áp vô căn (nguyên phát)", "Essential (primary) hypertension", "cardio"},
    {"I11.9", "Bệnh tim do tăng huyết áp, không có suy tim (sung huyết)",
     "Hypertensive heart disease without (congestive) heart failure", "cardio"},
    {"I15.9", "Tăng huyết áp thứ phát, không đặc hiệu", "Secondary hypertension, unspecified",
     "cardio"},
    {"I20.9", "Cơn đau thắt ngực, không đặc hiệu", "Angina pectoris, unspecified", "cardio"},
    {"I25.9", "Bệnh tim thiếu máu cục bộ mạn, không đặc hiệu",
     "Chronic ischaemic heart disease, unspecified", "cardio"},
    {"I48.9", "Rung nhĩ và cuồng nhĩ, không đặc hiệu",
     "Atrial fibrillation and atrial flutter, unspecified", "cardio"},
    {"I49.9", "Rối loạn nhịp tim, không đặc hiệu", "Cardiac arrhythmia, unspecified", "cardio"},
    {"I50.9", "Suy tim, không đặc hiệu", "Heart failure, unspecified", "cardio"},
    {"I69.4", "Di chứng đột quỵ, không xác định là xuất huyết hay nhồi máu",
     "Sequelae of stroke, not specified as haemorrhage or infarction", "cardio"},
    {"I83.9", "Giãn tĩnh mạch chi dưới không loét hoặc viêm",
     "Varicose veins of lower extremities without ulcer or inflammation", "cardio"},
    {"I95.9", "Hạ huyết áp, không đặc hiệu", "Hypotension, unspecified", "cardio"},
    {"J02.9", "Viêm họng cấp, không đặc hiệu", "Acute pharyngitis, unspecified", "respiratory"},
    {"J06.9", "Nhiễm khuẩn hô hấp trên cấp, không đặc hiệu",
     "Acute upper respiratory infection, unspecified", "respiratory"},
    {"J18.9", "Viêm phổi, không đặc hiệu", "Pneumonia, unspecified", "respiratory"},
    {"J20.9", "Viêm phế quản cấp, không đặc hiệu", "Acute bronchitis, unspecified", "respiratory"},
    {"J40", "Viêm phế quản, không xác định cấp hay mạn",
     "Bronchitis, not specified as acute or chronic", "respiratory"},
    {"J44.9", "Bệnh phổi tắc nghẽn mạn tính, không đặc hiệu",
     "Chronic obstructive pulmonary disease, unspecified", "respiratory"},
    {"J45.9", "Hen phế quản, không đặc hiệu", "Asthma, unspecified", "respiratory"},
    {"K02.9", "Sâu răng, không đặc hiệu", "Dental caries, unspecified", "dental"},
    {"K05.1", "Viêm lợi mạn", "Chronic gingivitis", "dental"},
    {"K05.3", "Viêm quanh răng mạn", "Chronic periodontitis", "dental"},
    {"K21.9", "Bệnh trào ngược dạ dày - thực quản không có viêm thực quản",
     "Gastro-oesophageal reflux disease without oesophagitis", "digestive"},
    {"K27.9",
     "Loét dạ dày - tá tràng, vị trí không xác định, không rõ cấp hay mạn, không chảy "
     "máu hoặc thủng",
     "Peptic ulcer, site unspecified, unspecified as acute or chronic, without haemorrhage or "
     "perforation",
     "digestive"},
    {"K29.7", "Viêm dạ dày, không đặc hiệu", "Gastritis, unspecified", "digestive"},
    {"K30", "Khó tiêu chức năng", "Functional dyspepsia", "digestive"},
    {"K59.0", "Táo bón", "Constipation", "digestive"},
    {"K76.0", "Gan nhiễm mỡ, không phân loại nơi khác",
     "Fatty (change of) liver, not elsewhere classified", "digestive"},
    {"L01.0", "Chốc lở", "Impetigo [any organism] [any site]", "skin"},
    {"L30.9", "Viêm da (chàm), không đặc hiệu", "Dermatitis (eczema), unspecified", "skin"},
    {"L40.9", "Vảy nến, không đặc hiệu", "Psoriasis, unspecified", "skin"},
    {"L50.9", "Mày đay, không đặc hiệu", "Urticaria, unspecified", "skin"},
    {"M06.9", "Viêm khớp dạng thấp, không đặc hiệu", "Rheumatoid arthritis, unspecified",
     "musculo"},
    {"M10.9", "Bệnh gút, không đặc hiệu", "Gout, unspecified", "musculo"},
    {"M17.1", "Thoái hóa khớp gối nguyên phát khác", "Other primary gonarthrosis", "musculo"},
    {"M17.9", "Thoái hóa khớp gối, không đặc hiệu", "Gonarthrosis [arthrosis of knee], unspecified",
     "musculo"},
    {"M19.9", "Thoái hóa khớp, không đặc hiệu", "Arthrosis, unspecified", "musculo"},
    {"M47.9", "Thoái hóa cột sống, không đặc hiệu", "Spondylosis, unspecified", "musculo"},
    {"M54.2", "Đau vùng cổ gáy", "Cervicalgia", "musculo"},
    {"M54.5", "Đau vùng thắt lưng", "Low back pain", "musculo"},
    {"M81.9", "Loãng xương, không đặc hiệu", "Osteoporosis, unspecified", "musculo"},
    {"N18.9", "Bệnh thận mạn, không đặc hiệu", "Chronic kidney disease, unspecified", "urinary"},
    {"N20.0", "Sỏi thận", "Calculus of kidney", "urinary"},
    {"N39.0", "Nhiễm khuẩn đường tiết niệu, vị trí không xác định",
     "Urinary tract infection, site not specified", "urinary"},
    {"N40", "Tăng sản (phì đại) tuyến tiền liệt", "Hyperplasia of prostate", "urinary"},
    {"N63", "Khối u không xác định ở vú", "Unspecified lump in breast", "women"},
    {"N72", "Viêm cổ tử cung", "Inflammatory disease of cervix uteri", "women"},
    {"N76.0", "Viêm âm đạo cấp", "Acute vaginitis", "women"},
    {"N86", "Trợt và lộ tuyến cổ tử cung", "Erosion and ectropion of cervix uteri", "women"},
    {"N95.1", "Trạng thái mãn kinh và tiền mãn kinh ở phụ nữ",
     "Menopausal and female climacteric states", "women"},
    {"R01.1", "Tiếng thổi ở tim, không đặc hiệu", "Cardiac murmur, unspecified", "cardio"},
    {"R03.0", "Tăng trị số huyết áp, chưa được chẩn đoán tăng huyết áp",
     "Elevated blood-pressure reading, without diagnosis of hypertension", "cardio"},
    {"R05", "Ho", "Cough", "respiratory"},
    {"R07.4", "Đau ngực, không đặc hiệu", "Chest pain, unspecified", "cardio"},
    {"R42", "Chóng mặt và choáng váng", "Dizziness and giddiness", "neuro"},
    {"R50.9", "Sốt, không đặc hiệu", "Fever, unspecified", "other"},
    {"R51", "Đau đầu", "Headache", "neuro"},
    {"R60.0", "Phù khu trú", "Localized oedema", "other"},
    {"R62.8", "Chậm phát triển thể chất khác (chậm tăng trưởng)",
     "Other lack of expected normal physiological development (growth faltering)", "child"},
    {"R73.0", "Nghiệm pháp dung nạp glucose bất thường", "Abnormal glucose tolerance test",
     "metabolic"},
    {"R73.9", "Tăng đường huyết, không đặc hiệu", "Hyperglycaemia, unspecified", "metabolic"},
    {"R80", "Protein niệu đơn độc", "Isolated proteinuria", "urinary"},
    {"Z00.0", "Khám sức khỏe tổng quát", "General medical examination", "other"},
    {"Z00.1", "Khám sức khỏe định kỳ trẻ em", "Routine child health examination", "child"},
    {"Z01.4", "Khám phụ khoa (tổng quát, định kỳ)", "Gynaecological examination (general)(routine)",
     "women"},
    {"Z03.0", "Theo dõi nghi lao", "Observation for suspected tuberculosis", "respiratory"},
    {"Z12.4", "Khám sàng lọc ung thư cổ tử cung",
     "Special screening examination for neoplasm of cervix", "women"},
    {"Z13.1", "Khám sàng lọc đái tháo đường", "Special screening examination for diabetes mellitus",
     "metabolic"},
    {"Z13.6", "Khám sàng lọc bệnh tim mạch",
     "Special screening examination for cardiovascular disorders", "cardio"},
    {"Z34.9", "Theo dõi thai nghén bình thường, không đặc hiệu",
     "Supervision of normal pregnancy, unspecified", "women"},
};

#define N_ENTRIES (sizeof table / sizeof table[0])

/* The longest code without its dot, "B18.10" -> "B1810". */
#define KEY_MAX 5

/* Folded names, [i][0] Vietnamese and [i][1] English, made once on the first search and kept;
 * NULL where folding failed (out of memory), and then folded again on each search. */
static char *folded[N_ENTRIES][2];
static pthread_once_t folded_once = PTHREAD_ONCE_INIT;

static void fold_names(void)
{
    for (size_t i = 0; i < N_ENTRIES; i++) {
        if (text_fold(table[i].vi, &folded[i][0]) != MK_OK)
            folded[i][0] = NULL;
        if (text_fold(table[i].en, &folded[i][1]) != MK_OK)
            folded[i][1] = NULL;
    }
}

/* ASCII only: codes are ASCII, and a locale must not change what matches. */
static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_letter(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static char upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

int icd10_code_valid(const char *code)
{
    /* Each test reads one character further only if the one before was not the NUL. */
    if (!code || !is_letter(code[0]) || !is_digit(code[1]) || !is_digit(code[2]))
        return 0;
    if (code[3] == '\0')
        return 1;
    if (code[3] != '.' || !is_digit(code[4]))
        return 0;
    return code[5] == '\0' || (is_digit(code[5]) && code[6] == '\0');
}

const struct icd10 *icd10_find(const char *code)
{
    if (!icd10_code_valid(code))
        return NULL;
    for (size_t i = 0; i < N_ENTRIES; i++) {
        const char *a = table[i].code, *b = code;
        while (*a && *a == upper(*b)) {
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0')
            return &table[i];
    }
    return NULL;
}

size_t icd10_count(void)
{
    return N_ENTRIES;
}

const struct icd10 *icd10_at(size_t i)
{
    return i < N_ENTRIES ? &table[i] : NULL;
}

/* q as a code prefix: surrounding blanks trimmed, dots dropped, uppercase. Returns its length,
 * or 0 when q has anything but letters, digits and dots, or is longer than a code. */
static size_t code_key(const char *q, char key[KEY_MAX + 1])
{
    size_t n = 0;
    while (*q == ' ' || *q == '\t')
        q++;
    for (; *q && *q != ' ' && *q != '\t'; q++) {
        if (*q == '.')
            continue;
        if ((!is_letter(*q) && !is_digit(*q)) || n == KEY_MAX)
            return 0;
        key[n++] = upper(*q);
    }
    while (*q == ' ' || *q == '\t')
        q++;
    key[n] = '\0';
    return *q ? 0 : n;
}

static bool code_starts_with(const char *code, const char *key)
{
    for (; *key; code++) {
        if (*code == '.')
            continue;
        if (*code != *key)
            return false;
        key++;
    }
    return true;
}

/* Folded text is words of letters and digits separated by single spaces. */
static bool starts_a_word(const char *text, const char *w, size_t n)
{
    for (const char *p = text; p; p = strchr(p, ' ')) {
        if (*p == ' ')
            p++;
        if (strncmp(p, w, n) == 0)
            return true;
    }
    return false;
}

static bool every_word_starts_a_word(const char *fq, const char *text)
{
    for (const char *w = fq; *w;) {
        size_t n = strcspn(w, " ");
        if (!starts_a_word(text, w, n))
            return false;
        w += n;
        if (*w == ' ')
            w++;
    }
    return true;
}

static bool name_matches(size_t i, int lang, const char *fq)
{
    const char *text = folded[i][lang];
    char *tmp = NULL;
    if (!text) {
        if (text_fold(lang ? table[i].en : table[i].vi, &tmp) != MK_OK)
            return false;
        text = tmp;
    }
    bool r = every_word_starts_a_word(fq, text);
    free(tmp);
    return r;
}

size_t icd10_search(const char *q, const struct icd10 **out, size_t max)
{
    if (!out || max == 0)
        return 0;
    char *fq = NULL;
    if (q && text_fold(q, &fq) != MK_OK)
        return 0; /* not valid UTF-8 (or out of memory) */
    size_t n = 0;
    if (!fq || !fq[0]) {
        for (size_t i = 0; i < N_ENTRIES && n < max; i++)
            out[n++] = &table[i];
        free(fq);
        return n;
    }
    pthread_once(&folded_once, fold_names);

    bool taken[N_ENTRIES] = {false};
    char key[KEY_MAX + 1];
    if (code_key(q, key) > 0) {
        for (size_t i = 0; i < N_ENTRIES && n < max; i++) {
            if (code_starts_with(table[i].code, key)) {
                out[n++] = &table[i];
                taken[i] = true;
            }
        }
    }
    for (size_t i = 0; i < N_ENTRIES && n < max; i++) {
        if (!taken[i] && (name_matches(i, 0, fq) || name_matches(i, 1, fq)))
            out[n++] = &table[i];
    }
    free(fq);
    return n;
}
