// SPDX-License-Identifier: MIT
/*
 * Encrypted profiles in OpenSSL's `enc -aes-256-cbc -md md5 -k KEY` format, which
 * SPA-style devices decrypt with a [--key K] profile rule: "Salted__", an 8-byte salt,
 * then AES-256-CBC with PKCS#7 padding, key and IV from EVP_BytesToKey(MD5, salt, KEY, 1).
 */
#ifndef AUTOPROV_CRYPTO_ENC_H
#define AUTOPROV_CRYPTO_ENC_H

#include <stddef.h>

#define ENC_SALT_LEN 8

/* salt NULL: a random one. *ret (malloc'd) gets *ret_len bytes. 0, -EINVAL, -ENOMEM, -EIO. */
int enc_encrypt(const char *key, const void *in, size_t len, const unsigned char *salt,
		unsigned char **ret, size_t *ret_len);
/* -EBADMSG: not in the salted format; -EACCES: wrong key (bad padding); 0 otherwise. */
int enc_decrypt(const char *key, const void *in, size_t len, unsigned char **ret,
		size_t *ret_len);

#endif
