// SPDX-License-Identifier: MIT
/*
 * The `openssl enc -aes-256-cbc -md md5 -k KEY` file format through OpenSSL 3's EVP
 * interface: "Salted__", 8 bytes of salt, then the ciphertext. Key and IV come from
 * EVP_BytesToKey with MD5 and one iteration, because that is what `openssl enc` did by
 * default before 1.1.0 and what SPA-style devices still implement for [--key K] rules.
 */
#include "crypto/enc.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

static const unsigned char enc_magic[8] = { 'S', 'a', 'l', 't', 'e', 'd', '_', '_' };

#define ENC_HEADER_LEN (sizeof(enc_magic) + ENC_SALT_LEN)
#define ENC_BLOCK_LEN  16
/* EVP_*Update take an int length; a larger buffer goes through in pieces of this size. */
#define ENC_CHUNK_LEN (1u << 20)

/* Key and IV of AES-256-CBC derived from the pass phrase and salt, wiped by the caller. */
struct enc_keys {
	unsigned char key[32];
	unsigned char iv[ENC_BLOCK_LEN];
};

static int enc_derive(const char *key, const unsigned char *salt, struct enc_keys *ret)
{
	size_t keylen = strlen(key);

	if (keylen > INT_MAX)
		return -EINVAL;
	if (EVP_BytesToKey(EVP_aes_256_cbc(), EVP_md5(), salt, (const unsigned char *)key,
			   (int)keylen, 1, ret->key, ret->iv) != (int)sizeof(ret->key))
		return -EIO;
	return 0;
}

/*
 * Runs len bytes of in through the initialised ctx into out, then finalises; *ret_len gets
 * the bytes written. Returns 0, -EIO when an update fails, or fin_err when EVP_*Final fails
 * (for decryption that is the padding check, the only sign of a wrong key).
 */
static int enc_run(EVP_CIPHER_CTX *ctx, int encrypt, const unsigned char *in, size_t len,
		   unsigned char *out, size_t *ret_len, int fin_err)
{
	size_t done = 0, written = 0;
	int n;

	while (done < len) {
		size_t chunk = len - done < ENC_CHUNK_LEN ? len - done : ENC_CHUNK_LEN;

		if (!EVP_CipherUpdate(ctx, out + written, &n, in + done, (int)chunk))
			return -EIO;
		done += chunk;
		written += (size_t)n;
	}
	if (!(encrypt ? EVP_EncryptFinal_ex(ctx, out + written, &n)
		      : EVP_DecryptFinal_ex(ctx, out + written, &n)))
		return fin_err;
	*ret_len = written + (size_t)n;
	return 0;
}

int enc_encrypt(const char *key, const void *in, size_t len, const unsigned char *salt,
		unsigned char **ret, size_t *ret_len)
{
	struct enc_keys keys;
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *out = NULL;
	size_t cap, body = 0;
	int r;

	if (!key || (!in && len > 0) || !ret || !ret_len)
		return -EINVAL;
	/* header, the input, and up to one block of padding */
	if (len > SIZE_MAX - ENC_HEADER_LEN - ENC_BLOCK_LEN)
		return -ENOMEM;
	cap = ENC_HEADER_LEN + len + ENC_BLOCK_LEN;
	out = malloc(cap);
	if (!out)
		return -ENOMEM;
	memcpy(out, enc_magic, sizeof(enc_magic));
	if (salt)
		memcpy(out + sizeof(enc_magic), salt, ENC_SALT_LEN);
	else if (RAND_bytes(out + sizeof(enc_magic), ENC_SALT_LEN) != 1) {
		r = -EIO;
		goto done;
	}

	r = enc_derive(key, out + sizeof(enc_magic), &keys);
	if (r < 0)
		goto done;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx) {
		r = -ENOMEM;
		goto done;
	}
	if (!EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, keys.key, keys.iv)) {
		r = -EIO;
		goto done;
	}
	r = enc_run(ctx, 1, in, len, out + ENC_HEADER_LEN, &body, -EIO);
	if (r < 0)
		goto done;

	*ret = out;
	*ret_len = ENC_HEADER_LEN + body;
	out = NULL;
done:
	OPENSSL_cleanse(&keys, sizeof(keys));
	EVP_CIPHER_CTX_free(ctx);
	free(out);
	return r;
}

int enc_decrypt(const char *key, const void *in, size_t len, unsigned char **ret, size_t *ret_len)
{
	const unsigned char *bytes = in;
	struct enc_keys keys;
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *out = NULL;
	size_t body, plain = 0;
	int r;

	if (!key || (!in && len > 0) || !ret || !ret_len)
		return -EINVAL;
	if (len < ENC_HEADER_LEN || memcmp(bytes, enc_magic, sizeof(enc_magic)) != 0)
		return -EBADMSG;
	body = len - ENC_HEADER_LEN;
	/*
	 * Whole blocks, at least one (padding is always there): anything else was cut short
	 * or damaged whatever the key, so it is not worth blaming the key for.
	 */
	if (body == 0 || body % ENC_BLOCK_LEN != 0)
		return -EBADMSG;

	/* the plaintext is never longer than the ciphertext; a block more for EVP's sake */
	out = malloc(body + ENC_BLOCK_LEN);
	if (!out)
		return -ENOMEM;
	r = enc_derive(key, bytes + sizeof(enc_magic), &keys);
	if (r < 0)
		goto done;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx) {
		r = -ENOMEM;
		goto done;
	}
	if (!EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, keys.key, keys.iv)) {
		r = -EIO;
		goto done;
	}
	r = enc_run(ctx, 0, bytes + ENC_HEADER_LEN, body, out, &plain, -EACCES);
	if (r < 0)
		goto done;

	*ret = out;
	*ret_len = plain;
	out = NULL;
done:
	OPENSSL_cleanse(&keys, sizeof(keys));
	EVP_CIPHER_CTX_free(ctx);
	/* what a wrong key produced is garbage, but what a right one did is a profile */
	if (out)
		OPENSSL_cleanse(out, body + ENC_BLOCK_LEN);
	free(out);
	return r;
}
