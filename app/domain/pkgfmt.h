/* The campaign package's file format: one file a team carries to the hospital, signed by the
 * kit (Ed25519) and encrypted to the hospital's key (X25519 + XChaCha20-Poly1305, libsodium).
 *
 *   "MOKITPKG" 0x01 0 0 0        magic, format version, reserved (12 bytes)
 *   u32 big-endian N, N bytes    the clear header: JSON (below), at most 4096 bytes
 *   80 bytes                     crypto_box_seal of the 32-byte stream key to the hospital key
 *   24 bytes                     the crypto_secretstream_xchacha20poly1305 header
 *   chunks                       u32 big-endian length L (17..65553), L bytes of the stream:
 *                                the first message is the manifest (JSON), the next ones the
 *                                records (NDJSON, at most 64 KiB each), the last one is tagged
 *                                FINAL (a cut file has none)
 *   "MOKITSIG" + 64 bytes        Ed25519ph signature by the kit of every byte before it
 *
 * Anyone with the kit's public key can tell whether a package was altered (the signature
 * covers the clear header and the ciphertext); only the holder of the hospital's secret key
 * can read it. The clear header says only what is needed to check and open it:
 *   {"format":"mokit-package","version":1,"kit":ID,"kit_key":B64,"hospital_key":FINGERPRINT,
 *    "created_at":ISO}
 * The manifest inside repeats the kit and its key (so a trusted kit cannot re-sign another
 * kit's package as its own), and names the campaign, the counts and the records' SHA-256.
 * Pure: no I/O. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define PKG_MAGIC             "MOKITPKG"
#define PKG_SIG_MAGIC         "MOKITSIG"
#define PKG_VERSION           1
#define PKG_PREFIX_LEN        16 /* magic + version + reserved + header length */
#define PKG_HEADER_MAX        4096
#define PKG_SEALED_LEN        80 /* crypto_box_SEALBYTES + 32 */
#define PKG_STREAM_HEADER_LEN 24
#define PKG_CHUNK_MAX         65536 /* plaintext bytes per chunk */
#define PKG_TRAILER_LEN       72    /* "MOKITSIG" + signature */

struct pkg_header {
    char kit[64];
    unsigned char kit_key[32];
    char hospital_key[40]; /* the fingerprint of the hospital-box key it is encrypted to */
    char created_at[32];
};

/* The first PKG_PREFIX_LEN bytes: MK_OK and the header's length, or MK_EINVAL with why. */
int pkg_prefix_parse(const unsigned char *p, size_t len, uint32_t *header_len, char *err,
                     size_t errlen);
void pkg_prefix_make(unsigned char p[PKG_PREFIX_LEN], uint32_t header_len);
/* The clear header's JSON text. MK_EINVAL with why. */
int pkg_header_parse(const char *text, size_t len, struct pkg_header *h, char *err, size_t errlen);
json_t *pkg_header_json(const struct pkg_header *h);

/* Checks a decrypted manifest against the clear header: format, version, the same kit and
 * key, a campaign with a code, counts of non-negative integers, a 64-hex-digit records_sha256
 * and records_bytes. MK_EINVAL with why. */
int pkg_manifest_check(const json_t *m, const struct pkg_header *h, char *err, size_t errlen);

void pkg_u32_put(unsigned char *p, uint32_t v);
uint32_t pkg_u32_get(const unsigned char *p);
