/* FHIR R4 mapping of mokit's records (see fhir.h and app/doc/fhir.md). The JSON is written by
 * hand into a buffer: an export writes every resource twice (NDJSON and the Bundle), and a
 * tree of jansson nodes per resource would cost more than the writing itself. */
#include "fhir.h"

#include "icd10.h"

#include <jansson.h>

#include <math.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffer ------------------------------------------------------------------------------- */

void fhir_buf_free(struct fhir_buf *b)
{
    free(b->p);
    *b = (struct fhir_buf){0};
}

static int grow(struct fhir_buf *b, size_t need)
{
    if (b->failed)
        return -1;
    if (b->len + need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + need)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = true;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void fhir_buf_put(struct fhir_buf *b, const char *s, size_t n)
{
    if (grow(b, n) == 0) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    }
}

#define PUT(b, lit) fhir_buf_put((b), "" lit, sizeof(lit) - 1) /* literals only */

static void puts_raw(struct fhir_buf *b, const char *s)
{
    fhir_buf_put(b, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    unsigned cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void fhir_buf_put_json_string(struct fhir_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    if (grow(b, n + 2) != 0)
        return;
    b->p[b->len++] = '"';
    size_t i = 0;
    while (i < n) {
        /* The common case: a run of bytes that need no escape. */
        size_t j = i;
        while (j < n && p[j] >= 0x20 && p[j] < 0x80 && p[j] != '"' && p[j] != '\\')
            j++;
        fhir_buf_put(b, s + i, j - i);
        i = j;
        if (i >= n)
            break;
        unsigned c = p[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            fhir_buf_put(b, e, 2);
            i++;
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            if (c == '\n')
                fhir_buf_put(b, "\\n", 2);
            else if (c == '\t')
                fhir_buf_put(b, "\\t", 2);
            else if (c == '\r')
                fhir_buf_put(b, "\\r", 2);
            else
                fhir_buf_put(b, e, 6);
            i++;
        } else {
            size_t len = utf8_len(p + i, n - i);
            if (len) {
                fhir_buf_put(b, s + i, len);
                i += len;
            } else {
                PUT(b, "\xef\xbf\xbd"); /* U+FFFD for a byte that is not UTF-8 */
                i++;
            }
        }
    }
    PUT(b, "\"");
}

static void put_num(struct fhir_buf *b, double v)
{
    char t[40];
    int n;
    if (!isfinite(v))
        v = 0; /* never in the store (values are range-checked); JSON has no NaN */
    if (v == floor(v) && fabs(v) < 1e15)
        n = snprintf(t, sizeof t, "%lld", (long long)v);
    else
        n = snprintf(t, sizeof t, "%.15g", v);
    fhir_buf_put(b, t, (size_t)n);
}

static bool has(const char *s)
{
    return s && s[0];
}

/* ,"key":"value" when value is not empty. */
static void kv(struct fhir_buf *b, const char *key, const char *value)
{
    if (!has(value))
        return;
    PUT(b, ",\"");
    puts_raw(b, key);
    PUT(b, "\":");
    fhir_buf_put_json_string(b, value);
}

static void ref_value(struct fhir_buf *b, const struct fhir_ctx *c, const char *type,
                      const char *id)
{
    PUT(b, "{\"reference\":\"");
    if (c->refs == FHIR_REFS_URN) {
        PUT(b, "urn:uuid:");
    } else {
        puts_raw(b, type);
        PUT(b, "/");
    }
    puts_raw(b, id); /* ids are UUIDs: nothing to escape */
    PUT(b, "\"}");
}

/* ,"key":{"reference":...} when id is not empty. */
static void ref(struct fhir_buf *b, const struct fhir_ctx *c, const char *key, const char *type,
                const char *id)
{
    if (!has(id))
        return;
    PUT(b, ",\"");
    puts_raw(b, key);
    PUT(b, "\":");
    ref_value(b, c, type, id);
}

/* {"system":...,"code":...,"display":...} */
static void coding(struct fhir_buf *b, const char *system, const char *code, const char *display)
{
    PUT(b, "{\"system\":\"");
    puts_raw(b, system);
    PUT(b, "\",\"code\":");
    fhir_buf_put_json_string(b, code);
    kv(b, "display", display);
    PUT(b, "}");
}

/* ,"key":{"coding":[one coding]} */
static void concept1(struct fhir_buf *b, const char *key, const char *system, const char *code,
                     const char *display)
{
    PUT(b, ",\"");
    puts_raw(b, key);
    PUT(b, "\":{\"coding\":[");
    coding(b, system, code, display);
    PUT(b, "]}");
}

static void open_resource(struct fhir_buf *b, const char *type, const char *id)
{
    PUT(b, "{\"resourceType\":\"");
    puts_raw(b, type);
    PUT(b, "\",\"id\":\"");
    puts_raw(b, id);
    PUT(b, "\"");
}

/* ,"identifier":[{"system":"urn:ietf:rfc:3986","value":"urn:uuid:<id>"}]: what every resource
 * but the Patient is conditionally created on. */
static void uuid_identifier(struct fhir_buf *b, const char *id)
{
    PUT(b, ",\"identifier\":[{\"system\":\"" FHIR_SYS_URI "\",\"value\":\"urn:uuid:");
    puts_raw(b, id);
    PUT(b, "\"}]");
}

/* ---- ids, systems, requests ---------------------------------------------------------------- */

int fhir_system_valid(const char *s)
{
    if (!s)
        return 0;
    size_t n = strlen(s);
    if (n < 3 || n > 255)
        return 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    size_t i = 1;
    while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                     (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' || s[i] == '.'))
        i++;
    if (i >= n - 1 || s[i] != ':')
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{}|", c))
            return 0;
    }
    return 1;
}

void fhir_uuid_derive(const char *kind, const char *name, char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char h[16];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const unsigned char *)"mokit-fhir", 11); /* with its NUL */
    crypto_generichash_update(&st, (const unsigned char *)kind, strlen(kind) + 1);
    crypto_generichash_update(&st, (const unsigned char *)name, strlen(name));
    crypto_generichash_final(&st, h, sizeof h);
    h[6] = (unsigned char)((h[6] & 0x0f) | 0x80); /* version 8: custom */
    h[8] = (unsigned char)((h[8] & 0x3f) | 0x80); /* variant 10 */
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[h[i] >> 4];
        *o++ = hex[h[i] & 15];
    }
    *o = '\0';
}

/* Appends s percent-encoded for a query value (keeping ':' and '/', as FHIR's own examples do;
 * a '|' inside a part is encoded, so the one between system and value stays unambiguous).
 * Returns the new length, or 0 when it does not fit. */
static size_t pct(char *out, size_t cap, size_t at, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || strchr("-._~:/@!$'()*+,;", *p);
        if (at + (plain ? 1 : 3) >= cap)
            return 0;
        if (plain) {
            out[at++] = (char)*p;
        } else {
            out[at++] = '%';
            out[at++] = hex[*p >> 4];
            out[at++] = hex[*p & 15];
        }
    }
    return at;
}

size_t fhir_if_none_exist(char *out, size_t cap, const char *system, const char *value)
{
    static const char pre[] = "identifier=";
    if (cap < sizeof pre)
        return 0;
    memcpy(out, pre, sizeof pre - 1);
    size_t at = pct(out, cap, sizeof pre - 1, system);
    if (!at || at + 1 >= cap)
        return 0;
    out[at++] = '|';
    at = pct(out, cap, at, value);
    if (!at)
        return 0;
    out[at] = '\0';
    return at;
}

void fhir_entry_open(struct fhir_buf *b, const char *id)
{
    PUT(b, "{\"fullUrl\":\"urn:uuid:");
    puts_raw(b, id);
    PUT(b, "\",\"resource\":");
}

void fhir_entry_close_post(struct fhir_buf *b, const char *type, const char *if_none_exist)
{
    PUT(b, ",\"request\":{\"method\":\"POST\",\"url\":\"");
    puts_raw(b, type);
    PUT(b, "\"");
    kv(b, "ifNoneExist", if_none_exist);
    PUT(b, "}}");
}

void fhir_entry_close_put(struct fhir_buf *b, const char *type, const char *id)
{
    PUT(b, ",\"request\":{\"method\":\"PUT\",\"url\":\"");
    puts_raw(b, type);
    PUT(b, "/");
    puts_raw(b, id);
    PUT(b, "\"}}");
}

/* ---- shared resources ---------------------------------------------------------------------- */

void fhir_organization(struct fhir_buf *b, const struct fhir_ctx *c,
                       const struct fhir_organization *o)
{
    (void)c;
    open_resource(b, "Organization", o->id);
    uuid_identifier(b, o->id);
    PUT(b, ",\"active\":true");
    kv(b, "name", o->name);
    PUT(b, "}");
}

/* ,"address":{...} (or [{...}] when array) from the parts that are given; nothing when none.
 * Vietnam's levels: province -> state, district -> district, commune -> city, village and
 * street address -> line. */
static void address(struct fhir_buf *b, bool array, const char *use, const char *street,
                    const char *village, const char *commune, const char *district,
                    const char *province)
{
    if (!has(street) && !has(village) && !has(commune) && !has(district) && !has(province))
        return;
    PUT(b, ",\"address\":");
    if (array)
        PUT(b, "[");
    PUT(b, "{\"use\":\"");
    puts_raw(b, use);
    PUT(b, "\"");
    if (has(street) || has(village)) {
        PUT(b, ",\"line\":[");
        if (has(street))
            fhir_buf_put_json_string(b, street);
        if (has(street) && has(village))
            PUT(b, ",");
        if (has(village))
            fhir_buf_put_json_string(b, village);
        PUT(b, "]");
    }
    kv(b, "city", commune);
    kv(b, "district", district);
    kv(b, "state", province);
    PUT(b, ",\"country\":\"VN\"}");
    if (array)
        PUT(b, "]");
}

void fhir_location(struct fhir_buf *b, const struct fhir_ctx *c, const struct fhir_location *l)
{
    open_resource(b, "Location", l->id);
    uuid_identifier(b, l->id);
    PUT(b, ",\"status\":\"active\"");
    kv(b, "name", l->name);
    if (has(l->code)) {
        PUT(b, ",\"alias\":[");
        fhir_buf_put_json_string(b, l->code);
        PUT(b, "]");
    }
    PUT(b, ",\"mode\":\"instance\"");
    address(b, false, "work", NULL, l->village, l->commune, l->district, l->province);
    ref(b, c, "managingOrganization", "Organization", c->organization_id);
    PUT(b, "}");
}

void fhir_practitioner(struct fhir_buf *b, const struct fhir_ctx *c,
                       const struct fhir_practitioner *p)
{
    (void)c;
    open_resource(b, "Practitioner", p->id);
    uuid_identifier(b, p->id);
    if (p->active)
        PUT(b, ",\"active\":true");
    else
        PUT(b, ",\"active\":false");
    if (has(p->name)) {
        PUT(b, ",\"name\":[{\"text\":");
        fhir_buf_put_json_string(b, p->name);
        PUT(b, "}]");
    }
    if (has(p->role)) {
        PUT(b, ",\"qualification\":[{\"code\":{\"text\":");
        fhir_buf_put_json_string(b, p->role);
        PUT(b, "}}]");
    }
    PUT(b, "}");
}

void fhir_device(struct fhir_buf *b, const struct fhir_ctx *c, const struct fhir_device *d)
{
    (void)c;
    /* "driver/model/serial": the serial may itself hold a slash; either part may be empty. */
    char driver[128] = "", model[128] = "";
    const char *serial = NULL;
    const char *s1 = strchr(d->device, '/');
    if (s1) {
        snprintf(driver, sizeof driver, "%.*s", (int)(s1 - d->device), d->device);
        const char *s2 = strchr(s1 + 1, '/');
        if (s2) {
            snprintf(model, sizeof model, "%.*s", (int)(s2 - s1 - 1), s1 + 1);
            serial = s2 + 1;
        } else {
            snprintf(model, sizeof model, "%s", s1 + 1);
        }
    } else {
        snprintf(driver, sizeof driver, "%s", d->device);
    }
    open_resource(b, "Device", d->id);
    PUT(b, ",\"identifier\":[{\"system\":\"" FHIR_SYS_URI "\",\"value\":\"urn:uuid:");
    puts_raw(b, d->id);
    PUT(b, "\"},{\"type\":{\"text\":\"mokit device\"},\"value\":");
    fhir_buf_put_json_string(b, d->device);
    PUT(b, "}],\"status\":\"active\"");
    kv(b, "serialNumber", serial);
    if (model[0]) {
        PUT(b, ",\"deviceName\":[{\"name\":");
        fhir_buf_put_json_string(b, model);
        PUT(b, ",\"type\":\"model-name\"}]");
    }
    kv(b, "modelNumber", model);
    if (driver[0]) {
        PUT(b, ",\"type\":{\"text\":");
        fhir_buf_put_json_string(b, driver);
        PUT(b, "}");
    }
    PUT(b, "}");
}

/* ---- the resident and the visit ----------------------------------------------------------- */

#define V2_0203 "http://terminology.hl7.org/CodeSystem/v2-0203"

static void patient_identifier(struct fhir_buf *b, bool first, const char *use, const char *type,
                               const char *type_display, const char *text, const char *system,
                               const char *value)
{
    if (!first)
        PUT(b, ",");
    PUT(b, "{\"use\":\"");
    puts_raw(b, use);
    PUT(b, "\",\"type\":{\"coding\":[");
    coding(b, V2_0203, type, type_display);
    PUT(b, "],\"text\":\"");
    puts_raw(b, text);
    PUT(b, "\"},\"system\":");
    fhir_buf_put_json_string(b, system);
    PUT(b, ",\"value\":");
    fhir_buf_put_json_string(b, value);
    PUT(b, "}");
}

void fhir_patient_key(const struct fhir_ctx *c, const struct fhir_patient *p, const char **system,
                      const char **value)
{
    if (has(p->cccd)) {
        *system = c->sys_cccd;
        *value = p->cccd;
    } else {
        *system = c->sys_code;
        *value = p->code;
    }
}

/* A Vietnamese name is family name first: "Nguyễn Thị Hương" -> family "Nguyễn", given
 * ["Thị", "Hương"] (the middle name counts as a given name, as FHIR's given allows). */
static void human_name(struct fhir_buf *b, const char *name)
{
    PUT(b, ",\"name\":[{\"use\":\"official\",\"text\":");
    fhir_buf_put_json_string(b, name);
    const char *p = name;
    int words = 0;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        char w[256];
        snprintf(w, sizeof w, "%.*s", (int)(e - p < 255 ? e - p : 255), p);
        if (words == 0) {
            if (!strchr(e, ' ') && !*e)
                break; /* a single word: the text says it all */
            PUT(b, ",\"family\":");
            fhir_buf_put_json_string(b, w);
        } else {
            if (words == 1)
                PUT(b, ",\"given\":[");
            else
                PUT(b, ",");
            fhir_buf_put_json_string(b, w);
        }
        words++;
        p = e;
    }
    if (words > 1)
        PUT(b, "]");
    PUT(b, "}]");
}

void fhir_patient(struct fhir_buf *b, const struct fhir_ctx *c, const struct fhir_patient *p)
{
    open_resource(b, "Patient", p->id);
    PUT(b, ",\"identifier\":[");
    patient_identifier(b, true, "usual", "MR", "Medical record number", "mokit code", c->sys_code,
                       p->code);
    if (has(p->cccd))
        patient_identifier(b, false, "official", "NI", "National unique individual identifier",
                           "CCCD", c->sys_cccd, p->cccd);
    if (has(p->bhyt))
        patient_identifier(b, false, "secondary", "MB", "Member Number", "BHYT", c->sys_bhyt,
                           p->bhyt);
    PUT(b, ",{\"system\":\"" FHIR_SYS_URI "\",\"value\":\"urn:uuid:");
    puts_raw(b, p->id);
    PUT(b, "\"}]");
    if (has(p->name))
        human_name(b, p->name);
    if (has(p->phone)) {
        PUT(b, ",\"telecom\":[{\"system\":\"phone\",\"value\":");
        fhir_buf_put_json_string(b, p->phone);
        PUT(b, ",\"use\":\"mobile\"}]");
    }
    kv(b, "gender", p->sex);
    if (has(p->birth_date)) {
        kv(b, "birthDate", p->birth_date);
    } else if (p->birth_year > 0 && p->birth_year <= 9999) {
        char y[8];
        snprintf(y, sizeof y, "%04d", p->birth_year);
        kv(b, "birthDate", y);
    }
    address(b, true, "home", p->address, p->village, p->commune, p->district, p->province);
    PUT(b, "}");
}

void fhir_encounter(struct fhir_buf *b, const struct fhir_ctx *c, const struct fhir_encounter *e)
{
    open_resource(b, "Encounter", e->id);
    uuid_identifier(b, e->id);
    /* A screening day in a commune is a field encounter (v3 ActCode FLD). */
    PUT(b, ",\"status\":\"finished\",\"class\":{\"system\":"
           "\"http://terminology.hl7.org/CodeSystem/v3-ActCode\",\"code\":\"FLD\","
           "\"display\":\"field\"},\"type\":[{\"text\":\"Community health screening\"}]");
    ref(b, c, "subject", "Patient", e->patient_id);
    if (has(e->staff_id)) {
        PUT(b, ",\"participant\":[{\"individual\":");
        ref_value(b, c, "Practitioner", e->staff_id);
        PUT(b, "}]");
    }
    if (has(e->start)) {
        PUT(b, ",\"period\":{\"start\":");
        fhir_buf_put_json_string(b, e->start);
        PUT(b, "}");
    }
    if (has(c->location_id)) {
        PUT(b, ",\"location\":[{\"location\":");
        ref_value(b, c, "Location", c->location_id);
        PUT(b, "}]");
    }
    ref(b, c, "serviceProvider", "Organization", c->organization_id);
    PUT(b, "}");
}

/* ---- observations ------------------------------------------------------------------------- */

struct loinc {
    const char *code, *display;
};

static const struct obs_map {
    const char *kind;      /* mokit's observation code */
    const char *text;      /* code.text */
    struct loinc loinc[2]; /* the second may be empty */
    const char *profile;   /* the R4 vital-signs child profile, or NULL */
    const char *category;  /* observation-category code */
    const char *ucum;      /* the UCUM code mokit stores for it */
    const char *unit;      /* the unit for people */
} obs_maps[] = {
    {"bp",
     "Blood pressure",
     {{"85354-9", "Blood pressure panel with all children optional"}},
     "http://hl7.org/fhir/StructureDefinition/bp",
     "vital-signs",
     "mm[Hg]",
     "mmHg"},
    {"pulse",
     "Heart rate",
     {{"8867-4", "Heart rate"}},
     "http://hl7.org/fhir/StructureDefinition/heartrate",
     "vital-signs",
     "/min",
     "beats/min"},
    {"spo2",
     "Oxygen saturation",
     {{"2708-6", "Oxygen saturation in Arterial blood"},
      {"59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"}},
     "http://hl7.org/fhir/StructureDefinition/oxygensat",
     "vital-signs",
     "%",
     "%"},
    {"weight",
     "Body weight",
     {{"29463-7", "Body weight"}},
     "http://hl7.org/fhir/StructureDefinition/bodyweight",
     "vital-signs",
     "kg",
     "kg"},
    {"height",
     "Body height",
     {{"8302-2", "Body height"}},
     "http://hl7.org/fhir/StructureDefinition/bodyheight",
     "vital-signs",
     "cm",
     "cm"},
    {"temp",
     "Body temperature",
     {{"8310-5", "Body temperature"}},
     "http://hl7.org/fhir/StructureDefinition/bodytemp",
     "vital-signs",
     "Cel",
     "°C"},
    /* A glucometer reading of a finger prick: capillary blood; the broader blood code second,
     * for receivers that search by it. */
    {"glucose",
     "Blood glucose",
     {{"14743-9", "Glucose [Moles/volume] in Capillary blood by Glucometer"},
      {"15074-8", "Glucose [Moles/volume] in Blood"}},
     NULL,
     "laboratory",
     "mmol/L",
     "mmol/L"},
    {"waist",
     "Waist circumference",
     {{"8280-0", "Waist Circumference at umbilicus by Tape measure"}},
     NULL,
     "vital-signs",
     "cm",
     "cm"},
    {"bmi",
     "Body mass index",
     {{"39156-5", "Body mass index (BMI) [Ratio]"}},
     "http://hl7.org/fhir/StructureDefinition/bmi",
     "vital-signs",
     "kg/m2",
     "kg/m2"},
};

/* The same reading in mg/dL, should a store ever hold one. */
static const struct loinc glucose_mass[2] = {
    {"41653-7", "Glucose [Mass/volume] in Capillary blood by Glucometer"},
    {"2339-0", "Glucose [Mass/volume] in Blood"}};

static const struct obs_map *obs_map_find(const char *kind)
{
    for (size_t i = 0; i < sizeof obs_maps / sizeof obs_maps[0]; i++)
        if (strcmp(obs_maps[i].kind, kind) == 0)
            return &obs_maps[i];
    return NULL;
}

int fhir_obs_code_known(const char *code)
{
    return code && obs_map_find(code) != NULL;
}

double fhir_bmi_value(double weight_kg, double height_cm)
{
    if (!(weight_kg > 0) || !(height_cm > 0))
        return 0;
    double m = height_cm / 100;
    return round(weight_kg / (m * m) * 10) / 10;
}

static void quantity(struct fhir_buf *b, double v, const char *unit, const char *ucum)
{
    PUT(b, "{\"value\":");
    put_num(b, v);
    PUT(b, ",\"unit\":");
    fhir_buf_put_json_string(b, unit);
    PUT(b, ",\"system\":\"" FHIR_SYS_UCUM "\",\"code\":");
    fhir_buf_put_json_string(b, ucum);
    PUT(b, "}");
}

static void bp_component(struct fhir_buf *b, bool first, const char *code, const char *display,
                         double v)
{
    if (!first)
        PUT(b, ",");
    PUT(b, "{\"code\":{\"coding\":[");
    coding(b, FHIR_SYS_LOINC, code, display);
    PUT(b, "]},\"valueQuantity\":");
    quantity(b, v, "mmHg", "mm[Hg]");
    PUT(b, "}");
}

int fhir_observation(struct fhir_buf *b, const struct fhir_ctx *c, const struct fhir_obs *o)
{
    const struct obs_map *m = obs_map_find(o->code);
    if (!m)
        return -1;
    const struct loinc *codes = m->loinc;
    const char *ucum = has(o->unit) ? o->unit : m->ucum;
    const char *unit = strcmp(ucum, m->ucum) == 0 ? m->unit : ucum;
    if (strcmp(m->kind, "glucose") == 0 && strcmp(ucum, "mg/dL") == 0)
        codes = glucose_mass;
    bool is_bp = strcmp(m->kind, "bp") == 0;

    open_resource(b, "Observation", o->id);
    if (m->profile) {
        PUT(b, ",\"meta\":{\"profile\":[\"");
        puts_raw(b, m->profile);
        PUT(b, "\"]}");
    }
    /* The fasting state of a glucose reading belongs to its specimen (Specimen.collection.
     * fastingStatus, HL7 v2 table 0916): a contained Specimen of capillary blood. */
    bool specimen = strcmp(m->kind, "glucose") == 0 && (o->fasting == 0 || o->fasting == 1);
    if (specimen) {
        PUT(b, ",\"contained\":[{\"resourceType\":\"Specimen\",\"id\":\"specimen\",\"type\":{"
               "\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/v2-0487\","
               "\"code\":\"BLDC\",\"display\":\"Blood capillary\"}]}");
        ref(b, c, "subject", "Patient", o->patient_id);
        PUT(b, ",\"collection\":{\"fastingStatusCodeableConcept\":{\"coding\":[{\"system\":"
               "\"http://terminology.hl7.org/CodeSystem/v2-0916\",");
        if (o->fasting)
            PUT(b, "\"code\":\"F\",\"display\":\"Patient was fasting prior to the procedure.\"");
        else
            PUT(b, "\"code\":\"NF\",\"display\":\"The patient indicated they did not fast prior "
                   "to the procedure.\"");
        PUT(b, "}]}}}]");
    }
    uuid_identifier(b, o->id);
    PUT(b, ",\"status\":\"final\",\"category\":[{\"coding\":[");
    coding(b, "http://terminology.hl7.org/CodeSystem/observation-category", m->category,
           strcmp(m->category, "vital-signs") == 0 ? "Vital Signs" : "Laboratory");
    PUT(b, "]}],\"code\":{\"coding\":[");
    coding(b, FHIR_SYS_LOINC, codes[0].code, codes[0].display);
    if (codes[1].code) {
        PUT(b, ",");
        coding(b, FHIR_SYS_LOINC, codes[1].code, codes[1].display);
    }
    PUT(b, "],\"text\":\"");
    puts_raw(b, m->text);
    PUT(b, "\"}");
    ref(b, c, "subject", "Patient", o->patient_id);
    ref(b, c, "encounter", "Encounter", o->encounter_id);
    kv(b, "effectiveDateTime", o->taken_at);
    if (has(o->staff_id)) {
        PUT(b, ",\"performer\":[");
        ref_value(b, c, "Practitioner", o->staff_id);
        PUT(b, "]");
    }
    if (!is_bp && o->has[0]) {
        PUT(b, ",\"valueQuantity\":");
        quantity(b, o->v[0], unit, ucum);
    }
    if (has(o->note)) {
        PUT(b, ",\"note\":[{\"text\":");
        fhir_buf_put_json_string(b, o->note);
        PUT(b, "}]");
    }
    if (specimen)
        PUT(b, ",\"specimen\":{\"reference\":\"#specimen\"}");
    ref(b, c, "device", "Device", o->device_id);
    if (has(o->derived_from[0])) {
        PUT(b, ",\"derivedFrom\":[");
        for (int i = 0; i < 2 && has(o->derived_from[i]); i++) {
            if (i)
                PUT(b, ",");
            ref_value(b, c, "Observation", o->derived_from[i]);
        }
        PUT(b, "]");
    }
    if (is_bp) {
        /* The BP profile's panel: systolic and diastolic components, the mean when measured. */
        PUT(b, ",\"component\":[");
        bool first = true;
        if (o->has[0]) {
            bp_component(b, first, "8480-6", "Systolic blood pressure", o->v[0]);
            first = false;
        }
        if (o->has[1]) {
            bp_component(b, first, "8462-4", "Diastolic blood pressure", o->v[1]);
            first = false;
        }
        if (o->has[2])
            bp_component(b, first, "8478-0", "Mean blood pressure", o->v[2]);
        PUT(b, "]");
    }
    PUT(b, "}");
    return 0;
}

/* ---- findings, referrals, medicines, provenance -------------------------------------------- */

const char *fhir_snomed_for_icd10(const char *icd10, const char **display)
{
    if (!icd10 || (icd10[0] != 'I' && icd10[0] != 'E') || icd10[1] < '0' || icd10[1] > '9' ||
        icd10[2] < '0' || icd10[2] > '9')
        return NULL;
    int n = (icd10[1] - '0') * 10 + (icd10[2] - '0');
    if (icd10[0] == 'I' && ((n >= 10 && n <= 13) || n == 15)) {
        *display = "Hypertensive disorder, systemic arterial";
        return "38341003";
    }
    if (icd10[0] == 'E' && n >= 10 && n <= 14) {
        *display = "Diabetes mellitus";
        return "73211009";
    }
    return NULL;
}

void fhir_condition(struct fhir_buf *b, const struct fhir_ctx *c, const struct fhir_condition *f)
{
    const struct icd10 *known = icd10_find(f->icd10);
    const char *sct_display = NULL;
    const char *sct = fhir_snomed_for_icd10(f->icd10, &sct_display);

    open_resource(b, "Condition", f->id);
    uuid_identifier(b, f->id);
    concept1(b, "clinicalStatus", "http://terminology.hl7.org/CodeSystem/condition-clinical",
             "active", "Active");
    if (f->known)
        concept1(b, "verificationStatus",
                 "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed",
                 "Confirmed");
    else
        concept1(b, "verificationStatus",
                 "http://terminology.hl7.org/CodeSystem/condition-ver-status", "provisional",
                 "Provisional");
    PUT(b, ",\"category\":[{\"coding\":[");
    coding(b, "http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis",
           "Encounter Diagnosis");
    PUT(b, "]}],\"code\":{\"coding\":[");
    coding(b, FHIR_SYS_ICD10, f->icd10, known ? known->en : NULL);
    if (sct) {
        PUT(b, ",");
        coding(b, FHIR_SYS_SNOMED, sct, sct_display);
    }
    PUT(b, "]");
    kv(b, "text", has(f->label) ? f->label : known ? known->vi : NULL);
    PUT(b, "}");
    ref(b, c, "subject", "Patient", f->patient_id);
    ref(b, c, "encounter", "Encounter", f->encounter_id);
    kv(b, "recordedDate", f->recorded_at);
    ref(b, c, "recorder", "Practitioner", f->staff_id);
    if (has(f->note)) {
        PUT(b, ",\"note\":[{\"text\":");
        fhir_buf_put_json_string(b, f->note);
        PUT(b, "}]");
    }
    PUT(b, "}");
}

void fhir_service_request(struct fhir_buf *b, const struct fhir_ctx *c,
                          const struct fhir_referral *r)
{
    /* referred: still to happen; arrived: done; cancelled: withdrawn. */
    const char *status = !r->status                            ? "unknown"
                         : strcmp(r->status, "referred") == 0  ? "active"
                         : strcmp(r->status, "arrived") == 0   ? "completed"
                         : strcmp(r->status, "cancelled") == 0 ? "revoked"
                                                               : "unknown";
    /* FHIR's request priorities rank routine < urgent < asap < stat. */
    const char *priority = !r->urgency                          ? NULL
                           : strcmp(r->urgency, "routine") == 0 ? "routine"
                           : strcmp(r->urgency, "soon") == 0    ? "urgent"
                           : strcmp(r->urgency, "urgent") == 0  ? "asap"
                                                                : NULL;
    open_resource(b, "ServiceRequest", r->id);
    uuid_identifier(b, r->id);
    PUT(b, ",\"status\":\"");
    puts_raw(b, status);
    PUT(b, "\",\"intent\":\"order\"");
    kv(b, "priority", priority);
    PUT(b, ",\"code\":{\"coding\":[");
    coding(b, FHIR_SYS_SNOMED, "3457005", "Patient referral");
    PUT(b, "],\"text\":\"Referral\"}");
    ref(b, c, "subject", "Patient", r->patient_id);
    ref(b, c, "encounter", "Encounter", r->encounter_id);
    kv(b, "authoredOn", r->authored_at);
    ref(b, c, "requester", "Practitioner", r->staff_id);
    if (has(r->destination)) {
        PUT(b, ",\"performer\":[{\"display\":");
        fhir_buf_put_json_string(b, r->destination);
        PUT(b, "}]");
    }
    if (has(r->reason)) {
        PUT(b, ",\"reasonCode\":[{\"text\":");
        fhir_buf_put_json_string(b, r->reason);
        PUT(b, "}]");
    }
    PUT(b, "}");
}

void fhir_medication_dispense(struct fhir_buf *b, const struct fhir_ctx *c,
                              const struct fhir_dispense *d)
{
    open_resource(b, "MedicationDispense", d->id);
    uuid_identifier(b, d->id);
    PUT(b, ",\"status\":\"completed\",\"medicationCodeableConcept\":{\"text\":");
    /* "Amlodipin 5 mg (viên nén)": the campaign's list has names, not a national code. */
    char name[512];
    snprintf(name, sizeof name, "%s%s%s%s%s%s", has(d->medicine) ? d->medicine : "medicine",
             has(d->strength) ? " " : "", has(d->strength) ? d->strength : "",
             has(d->form) ? " (" : "", has(d->form) ? d->form : "", has(d->form) ? ")" : "");
    fhir_buf_put_json_string(b, name);
    PUT(b, "}");
    ref(b, c, "subject", "Patient", d->patient_id);
    ref(b, c, "context", "Encounter", d->encounter_id);
    if (has(d->staff_id)) {
        PUT(b, ",\"performer\":[{\"actor\":");
        ref_value(b, c, "Practitioner", d->staff_id);
        PUT(b, "}]");
    }
    PUT(b, ",\"quantity\":{\"value\":");
    char q[24];
    fhir_buf_put(b, q, (size_t)snprintf(q, sizeof q, "%ld", d->quantity));
    if (has(d->unit)) {
        PUT(b, ",\"unit\":");
        fhir_buf_put_json_string(b, d->unit);
    }
    PUT(b, "}");
    kv(b, "whenHandedOver", d->handed_over_at);
    if (has(d->dosage)) {
        PUT(b, ",\"dosageInstruction\":[{\"text\":");
        fhir_buf_put_json_string(b, d->dosage);
        PUT(b, "}]");
    }
    PUT(b, "}");
}

void fhir_provenance(struct fhir_buf *b, const struct fhir_ctx *c, const struct fhir_provenance *p)
{
    open_resource(b, "Provenance", p->id);
    PUT(b, ",\"target\":[");
    ref_value(b, c, "Observation", p->observation_id);
    PUT(b, "]");
    kv(b, "occurredDateTime", p->device_time);
    kv(b, "recorded", p->received_at);
    concept1(b, "activity", "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "CREATE",
             "create");
    PUT(b, ",\"agent\":[{\"type\":{\"coding\":[");
    coding(b, "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "performer",
           "Performer");
    PUT(b, "]},\"who\":");
    ref_value(b, c, "Device", p->device_id);
    PUT(b, "}");
    if (has(p->staff_id)) {
        /* The reading came while no patient was current; this person assigned it. */
        PUT(b, ",{\"type\":{\"coding\":[");
        coding(b, "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "enterer",
               "Enterer");
        PUT(b, "]},\"who\":");
        ref_value(b, c, "Practitioner", p->staff_id);
        PUT(b, "}");
    }
    PUT(b, "]}");
}

/* ---- what a FHIR server answers ----------------------------------------------------------- */

int fhir_retry_after(const char *v, long long now, long *seconds)
{
    if (!v)
        return -1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v >= '0' && *v <= '9') {
        long long s = 0;
        while (*v >= '0' && *v <= '9') {
            if (s < 86400)
                s = s * 10 + (*v - '0');
            v++;
        }
        while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
            v++;
        if (*v)
            return -1;
        *seconds = s > 86400 ? 86400 : (long)s;
        return 0;
    }
    /* IMF-fixdate (RFC 9110 5.6.7), the only form a server may send now. */
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char wd[4], mon[4], zone[4];
    int day, year, hh, mm, ss, used = 0;
    if (sscanf(v, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d %3[A-Z]%n", wd, &day, mon, &year, &hh,
               &mm, &ss, zone, &used) != 8 ||
        strcmp(zone, "GMT") != 0)
        return -1;
    int m = 0;
    while (m < 12 && strcmp(months[m], mon) != 0)
        m++;
    if (m == 12 || day < 1 || day > 31 || year < 1970 || year > 9999 || hh > 23 || mm > 59 ||
        ss > 60)
        return -1;
    for (const char *p = v + used; *p; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            return -1;
    /* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
    int y = year - (m < 2);
    int era = y / 400, yoe = y - era * 400, mp = (m + 10) % 12; /* m counts from 0 */
    int doy = (153 * mp + 2) / 5 + day - 1, doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    long long t = ((long long)era * 146097 + doe - 719468) * 86400 + hh * 3600 + mm * 60 + ss;
    long long d = t - now;
    *seconds = d < 0 ? 0 : d > 86400 ? 86400 : (long)d;
    return 0;
}

/* Output that is cut when full: nothing more is added once something did not fit. */
struct text_out {
    char *p;
    size_t cap, len; /* cap > 0 */
    bool full;
};

/* Appends text, control characters as spaces, never past cap - 1 and never splitting a UTF-8
 * sequence. */
static void append_clean(struct text_out *o, const char *text)
{
    char *out = o->p;
    size_t cap = o->cap, *len = &o->len;
    const unsigned char *p = (const unsigned char *)text;
    size_t n = strlen(text);
    for (size_t i = 0; i < n && !o->full;) {
        size_t l = p[i] < 0x80 ? 1 : utf8_len(p + i, n - i);
        if (*len + (l ? l : 1) >= cap) {
            o->full = true;
            break;
        }
        if (l == 0 || (l == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
            out[(*len)++] = l == 0 ? '?' : ' ';
            i++;
            continue;
        }
        if (l == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0) { /* a C1 control: a terminal obeys it */
            out[(*len)++] = ' ';
            i += 2;
            continue;
        }
        memcpy(out + *len, p + i, l);
        *len += l;
        i += l;
    }
    out[*len] = '\0';
}

static void outcome_issues(json_t *oo, struct text_out *o)
{
    const char *rt = json_string_value(json_object_get(oo, "resourceType"));
    json_t *issues = json_object_get(oo, "issue");
    if (!rt || strcmp(rt, "OperationOutcome") != 0 || !json_is_array(issues))
        return;
    size_t i;
    json_t *is;
    json_array_foreach(issues, i, is)
    {
        const char *sev = json_string_value(json_object_get(is, "severity"));
        const char *what = json_string_value(json_object_get(is, "diagnostics"));
        if (!what)
            what = json_string_value(json_object_get(json_object_get(is, "details"), "text"));
        if (!what)
            what = json_string_value(json_object_get(is, "code"));
        if (!what)
            continue;
        if (o->len)
            append_clean(o, "; ");
        if (sev) {
            append_clean(o, sev);
            append_clean(o, ": ");
        }
        append_clean(o, what);
    }
}

size_t fhir_outcome_text(const char *body, size_t n, char *out, size_t cap)
{
    if (cap == 0)
        return 0;
    out[0] = '\0';
    struct text_out o = {out, cap, 0, false};
    json_t *j = body && n ? json_loadb(body, n, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!j)
        return 0;
    const char *rt = json_string_value(json_object_get(j, "resourceType"));
    if (rt && strcmp(rt, "Bundle") == 0) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(j, "entry"), i, e)
        {
            outcome_issues(json_object_get(json_object_get(e, "response"), "outcome"), &o);
        }
    } else {
        outcome_issues(j, &o);
    }
    json_decref(j);
    return o.len;
}
