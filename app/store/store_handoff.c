/* Hand-off to the hospital (app/sql/007_handoff.sql): the hospital key a campaign's package is
 * encrypted to, the FHIR identifier systems it uses, and at the hospital the kits it trusts. */
#include "store_int.h"

#include "../common/err.h"
#include "../common/log.h"
#include "../domain/fhir.h"
#include "../domain/keyfile.h"

#include <sodium.h>
#include <string.h>

void store_kit_sign_final(const struct store *st, struct crypto_sign_ed25519ph_state *state,
                          unsigned char sig[64])
{
    crypto_sign_final_create(state, sig, NULL, st->sign_secret);
}

/* Sets one campaign column to text or NULL, with its audit row. */
static int campaign_set(struct store *st, const struct actor *a, const char *code_or_id,
                        sqlite3_stmt *s, const char *value)
{
    json_t *before = NULL, *after = NULL;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    rc = store_campaign_get(st, code_or_id, &before);
    const char *id = json_string_value(json_object_get(before, "id"));
    if (rc == MK_OK) {
        store_bind_opt(s, 1, value);
        sqlite3_bind_text(s, 2, id, -1, SQLITE_TRANSIENT);
        rc = store_err(st, sqlite3_step(s), "update campaign");
        sqlite3_reset(s);
    }
    if (rc == MK_OK)
        rc = store_campaign_get(st, id, &after);
    if (rc == MK_OK)
        rc = store_audit(st, a, "update", "campaign", id, before, after);
    json_decref(before);
    json_decref(after);
    if (rc == MK_OK)
        rc = store_commit(st);
    else
        store_rollback(st);
    return rc;
}

int store_campaign_set_hospital_key(struct store *st, const struct actor *a, const char *code_or_id,
                                    const struct keyfile *k)
{
    if (k && k->kind != KEYFILE_HOSPITAL_BOX)
        return MK_EINVAL; /* never a secret key, never a kit's signing key */
    char *text = NULL;
    if (k) {
        json_t *j = keyfile_json(k);
        text = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        json_decref(j);
        if (!text)
            return MK_ENOMEM;
    }
    sqlite3_stmt *s = store_stmt(st, "UPDATE campaign SET hospital_key = ?1 WHERE id = ?2");
    int rc = s ? campaign_set(st, a, code_or_id, s, text) : MK_EDB;
    free(text);
    return rc;
}

int store_campaign_hospital_key(struct store *st, const char *code_or_id, struct keyfile *k)
{
    sqlite3_stmt *s =
        store_stmt(st, "SELECT hospital_key FROM campaign WHERE code = ?1 OR id = ?1");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, code_or_id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(s);
    int rc;
    if (step == SQLITE_DONE) {
        rc = MK_ENOTFOUND;
    } else if (step != SQLITE_ROW) {
        rc = store_err(st, step, "campaign hospital key");
    } else if (sqlite3_column_type(s, 0) == SQLITE_NULL) {
        rc = MK_EPERM; /* none named yet */
    } else {
        char err[200];
        const char *text = (const char *)sqlite3_column_text(s, 0);
        rc = keyfile_parse(text, (size_t)sqlite3_column_bytes(s, 0), k, err, sizeof err);
        if (rc == MK_OK && k->kind != KEYFILE_HOSPITAL_BOX)
            rc = MK_EINVAL;
        if (rc != MK_OK) {
            LOG(LOG_ERROR, "the campaign's hospital key is damaged: %s", err);
            rc = MK_EDB;
        }
    }
    sqlite3_reset(s);
    return rc;
}

/* The export's own test (app/domain/fhir.h): an absolute URI of printable ASCII without the
 * characters a FHIR search "system|value" or JSON would trip on. */
static bool system_uri_ok(const char *s)
{
    return fhir_system_valid(s) != 0;
}

int store_campaign_set_id_systems(struct store *st, const struct actor *a, const char *code_or_id,
                                  const json_t *systems)
{
    char *text = NULL;
    if (systems && json_object_size(systems) > 0) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)systems, key, v)
        {
            if ((strcmp(key, "cccd") && strcmp(key, "bhyt") && strcmp(key, "code")) ||
                !json_is_string(v) || !system_uri_ok(json_string_value(v)))
                return MK_EINVAL;
        }
        text = json_dumps(systems, JSON_COMPACT | JSON_SORT_KEYS);
        if (!text)
            return MK_ENOMEM;
    }
    sqlite3_stmt *s = store_stmt(st, "UPDATE campaign SET id_systems = ?1 WHERE id = ?2");
    int rc = s ? campaign_set(st, a, code_or_id, s, text) : MK_EDB;
    free(text);
    return rc;
}

bool store_id_system_valid(const char *uri)
{
    return system_uri_ok(uri);
}

/* ---- trusted kits (at the hospital) ---- */

int store_trusted_kit_add(struct store *st, const struct actor *a, const struct keyfile *k,
                          const char *label, json_t **out)
{
    if (k->kind != KEYFILE_KIT_SIGN || (label && strlen(label) > 120))
        return MK_EINVAL;
    char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, k->public_key, 32, sodium_base64_VARIANT_ORIGINAL);
    char now[32];
    util_now_iso(now);
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    json_t *have = NULL;
    sqlite3_stmt *q = store_stmt(st, "SELECT kit_id, sign_public, fingerprint, label, trusted_at, "
                                     "trusted_by FROM trusted_kit WHERE kit_id = ?1 OR "
                                     "sign_public = ?2");
    if (!q)
        rc = MK_EDB;
    if (rc == MK_OK) {
        sqlite3_bind_text(q, 1, k->name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 2, b64, -1, SQLITE_TRANSIENT);
        rc = store_one_row(st, q, &have);
        if (rc == MK_OK) {
            /* The same kit and key: nothing to do. Another key for a kit (or a key under
             * another kit id) is refused: untrust the old one first, knowingly. */
            bool same = !strcmp(json_string_value(json_object_get(have, "kit_id")), k->name) &&
                        !strcmp(json_string_value(json_object_get(have, "sign_public")), b64);
            rc = MK_EEXIST;
            if (out)
                *out = json_pack("{s:O,s:b}", "kit", have, "same", same);
        } else if (rc == MK_ENOTFOUND) {
            rc = MK_OK;
        }
    }
    json_decref(have);
    sqlite3_stmt *s = store_stmt(st, "INSERT INTO trusted_kit(kit_id, sign_public, fingerprint, "
                                     "label, trusted_at, trusted_by) VALUES (?,?,?,?,?,?)");
    if (rc == MK_OK && !s)
        rc = MK_EDB;
    if (rc == MK_OK) {
        char fp[40];
        keyfile_fingerprint(k->public_key, fp);
        sqlite3_bind_text(s, 1, k->name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, b64, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, fp, -1, SQLITE_TRANSIENT);
        store_bind_opt(s, 4, label);
        sqlite3_bind_text(s, 5, now, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 6, a->label, -1, SQLITE_TRANSIENT);
        rc = store_err(st, sqlite3_step(s), "trust kit");
        sqlite3_reset(s);
    }
    json_t *row = NULL;
    if (rc == MK_OK) {
        sqlite3_bind_text(q, 1, k->name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 2, b64, -1, SQLITE_TRANSIENT);
        rc = store_one_row(st, q, &row);
    }
    if (rc == MK_OK)
        rc = store_audit(st, a, "trust", "trusted_kit", k->name, NULL, row);
    if (rc == MK_OK)
        rc = store_commit(st);
    else
        store_rollback(st);
    if (rc == MK_OK && out)
        *out = row;
    else
        json_decref(row);
    return rc;
}

int store_trusted_kit_remove(struct store *st, const struct actor *a, const char *kit_id)
{
    json_t *before = NULL;
    int rc = store_begin(st);
    if (rc != MK_OK)
        return rc;
    sqlite3_stmt *q = store_stmt(st, "SELECT kit_id, sign_public, fingerprint, label, trusted_at, "
                                     "trusted_by FROM trusted_kit WHERE kit_id = ?");
    sqlite3_stmt *d = store_stmt(st, "DELETE FROM trusted_kit WHERE kit_id = ?");
    if (!q || !d)
        rc = MK_EDB;
    if (rc == MK_OK) {
        sqlite3_bind_text(q, 1, kit_id, -1, SQLITE_TRANSIENT);
        rc = store_one_row(st, q, &before);
    }
    if (rc == MK_OK) {
        sqlite3_bind_text(d, 1, kit_id, -1, SQLITE_TRANSIENT);
        rc = store_err(st, sqlite3_step(d), "untrust kit");
        sqlite3_reset(d);
    }
    if (rc == MK_OK)
        rc = store_audit(st, a, "untrust", "trusted_kit", kit_id, before, NULL);
    json_decref(before);
    if (rc == MK_OK)
        rc = store_commit(st);
    else
        store_rollback(st);
    return rc;
}

int store_trusted_kit_list(struct store *st, json_t **out)
{
    sqlite3_stmt *s = store_stmt(st, "SELECT kit_id, sign_public, fingerprint, label, trusted_at, "
                                     "trusted_by FROM trusted_kit ORDER BY trusted_at, kit_id");
    return s ? store_query_rows(st, s, out) : MK_EDB;
}

int store_trusted_kit_check(struct store *st, const char *kit_id, const unsigned char pk[32])
{
    char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, pk, 32, sodium_base64_VARIANT_ORIGINAL);
    sqlite3_stmt *s = store_stmt(st, "SELECT sign_public FROM trusted_kit WHERE kit_id = ?");
    if (!s)
        return MK_EDB;
    sqlite3_bind_text(s, 1, kit_id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(s), rc;
    if (step == SQLITE_ROW)
        rc = strcmp((const char *)sqlite3_column_text(s, 0), b64) == 0 ? MK_OK : MK_EAUTH;
    else if (step == SQLITE_DONE)
        rc = MK_ENOTFOUND;
    else
        rc = store_err(st, step, "trusted kit");
    sqlite3_reset(s);
    return rc;
}
