/* Key files: how keys travel between a kit and the hospital, as small JSON files that people
 * carry on a USB stick and compare by fingerprint.
 *   kit-sign               a kit's Ed25519 public key (`mokit keys export`): the hospital
 *                          trusts packages signed by it
 *   hospital-box           a hospital's X25519 public key (`mokit keys hospital-new`): kits
 *                          encrypt campaign packages to it
 *   hospital-box-secret    its secret half, kept at the hospital only
 * {"mokit_key": KIND, "version": 1, "name": …, "algorithm": "Ed25519"|"X25519",
 *  "public_key": base64, "fingerprint": "xxxx xxxx …", ["kit": id], ["secret_key": base64]}
 * Pure: no I/O. */
#pragma once

#include <jansson.h>
#include <stddef.h>

enum keyfile_kind { KEYFILE_KIT_SIGN, KEYFILE_HOSPITAL_BOX, KEYFILE_HOSPITAL_SECRET };

#define KEYFILE_NAME_MAX 120

struct keyfile {
    enum keyfile_kind kind;
    char name[KEYFILE_NAME_MAX + 1]; /* the hospital's name; for a kit, its id */
    unsigned char public_key[32];
    unsigned char secret_key[32]; /* hospital-box-secret only; zero otherwise */
    char fingerprint[40];
};

/* The fingerprint people compare: the first 16 bytes of BLAKE2b-256(key) in hex, in groups of
 * four ("37e8 6ba6 …", 39 characters). */
void keyfile_fingerprint(const unsigned char key[32], char out[40]);

/* Reads a key file. MK_EINVAL with the reason in err: not JSON, an unknown kind or version,
 * a key that is not 32 bytes of base64, a fingerprint that is not the key's (a typo or a
 * tampered file), a secret key whose public half is not the file's, a name that is missing,
 * too long or has control characters. */
int keyfile_parse(const char *text, size_t len, struct keyfile *out, char *err, size_t errlen);

/* The file's JSON (a new object): the secret key only for hospital-box-secret. */
json_t *keyfile_json(const struct keyfile *k);

const char *keyfile_kind_name(enum keyfile_kind kind);
