// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/crypto/enc.c: round trips at the sizes around an AES block, a known
 * vector from the openssl command line (what the devices' decryption was written against),
 * and each way a file can fail to decrypt.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/enc.h"

#define KEY "123456"

/* Marks an output parameter so a test can see that a failed call left it alone. */
#define UNTOUCHED_PTR ((unsigned char *)0x1)
#define UNTOUCHED_LEN ((size_t)0xdeadbeef)

static const unsigned char salt[ENC_SALT_LEN] = { 0, 1, 2, 3, 4, 5, 6, 7 };

/*
 * "DBID_DBASE_VERSION=2207\n" (24 bytes) encrypted with key 123456 and the salt above:
 *
 *   printf 'DBID_DBASE_VERSION=2207\n' |
 *     openssl enc -aes-256-cbc -md md5 -k 123456 -S 0001020304050607 | xxd -i
 *
 * (OpenSSL 3.0.22). With an explicit -S, OpenSSL 3 leaves out the "Salted__" + salt
 * header, so it is written here by hand; the bytes after it are openssl's output.
 */
static const unsigned char vector_plain[] = "DBID_DBASE_VERSION=2207\n";
static const unsigned char vector_enc[] = {
	'S',  'a',  'l',  't',	'e',  'd',  '_',  '_',	0x00, 0x01, 0x02, 0x03,
	0x04, 0x05, 0x06, 0x07, 0x6b, 0x13, 0xec, 0xc1, 0x17, 0x91, 0x2c, 0xf7,
	0xef, 0x62, 0x79, 0xa1, 0x96, 0x21, 0x15, 0x26, 0x22, 0x3c, 0x9b, 0x38,
	0x01, 0xf6, 0x2a, 0x7c, 0x5a, 0xd3, 0x17, 0x5b, 0x43, 0x1d, 0x60, 0x35,
};

/* Likewise for "0123456789abcdef", one whole block: a second block of padding follows. */
static const unsigned char block_enc[] = {
	'S',  'a',  'l',  't',	'e',  'd',  '_',  '_',	0x00, 0x01, 0x02, 0x03,
	0x04, 0x05, 0x06, 0x07, 0xcf, 0xf2, 0xc0, 0x9f, 0xe3, 0x64, 0xe0, 0xf9,
	0xd0, 0x48, 0x28, 0x00, 0xcc, 0x86, 0xcb, 0x6b, 0x49, 0xd8, 0x52, 0x09,
	0xed, 0x29, 0x19, 0xa8, 0xcc, 0x63, 0x5f, 0xb5, 0xb3, 0x23, 0xaf, 0x7b,
};

static unsigned char *pattern(size_t len)
{
	unsigned char *p = malloc(len ? len : 1);
	uint32_t x = 2463534242u;

	assert_non_null(p);
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
	return p;
}

static void round_trip(size_t len)
{
	unsigned char *plain = pattern(len), *enc = NULL, *dec = NULL;
	size_t enc_len = 0, dec_len = 0;

	assert_int_equal(enc_encrypt(KEY, plain, len, NULL, &enc, &enc_len), 0);
	/* header, then the input padded up to the next whole block (always at least one byte) */
	assert_int_equal(enc_len, 16 + (len / 16 + 1) * 16);
	assert_memory_equal(enc, "Salted__", 8);
	assert_int_equal(enc_decrypt(KEY, enc, enc_len, &dec, &dec_len), 0);
	assert_int_equal(dec_len, len);
	if (len > 0)
		assert_memory_equal(dec, plain, len);
	free(plain);
	free(enc);
	free(dec);
}

static void test_round_trip_empty(void **state)
{
	round_trip(0);
}

static void test_round_trip_one_byte(void **state)
{
	round_trip(1);
}

static void test_round_trip_block_edges(void **state)
{
	round_trip(15);
	round_trip(16);
	round_trip(17);
}

static void test_round_trip_1mib(void **state)
{
	round_trip(1u << 20);
	/* more than one of the pieces enc.c feeds EVP with */
	round_trip((3u << 20) + 5);
}

static void test_random_salt(void **state)
{
	unsigned char *a = NULL, *b = NULL;
	size_t alen, blen;

	assert_int_equal(enc_encrypt(KEY, "x", 1, NULL, &a, &alen), 0);
	assert_int_equal(enc_encrypt(KEY, "x", 1, NULL, &b, &blen), 0);
	assert_int_equal(alen, blen);
	/* the same profile encrypted twice must not give the same file */
	assert_memory_not_equal(a + 8, b + 8, ENC_SALT_LEN);
	free(a);
	free(b);
}

static void test_known_vector(void **state)
{
	unsigned char *enc = NULL, *dec = NULL;
	size_t enc_len = 0, dec_len = 0;

	assert_int_equal(
		enc_encrypt(KEY, vector_plain, sizeof(vector_plain) - 1, salt, &enc, &enc_len), 0);
	assert_int_equal(enc_len, sizeof(vector_enc));
	assert_memory_equal(enc, vector_enc, sizeof(vector_enc));
	free(enc);

	assert_int_equal(enc_decrypt(KEY, vector_enc, sizeof(vector_enc), &dec, &dec_len), 0);
	assert_int_equal(dec_len, sizeof(vector_plain) - 1);
	assert_memory_equal(dec, vector_plain, dec_len);
	free(dec);

	assert_int_equal(enc_encrypt(KEY, "0123456789abcdef", 16, salt, &enc, &enc_len), 0);
	assert_int_equal(enc_len, sizeof(block_enc));
	assert_memory_equal(enc, block_enc, sizeof(block_enc));
	free(enc);
}

static void test_wrong_key(void **state)
{
	unsigned char *dec = UNTOUCHED_PTR;
	size_t dec_len = UNTOUCHED_LEN;

	/* checked with `openssl enc -d`: both give "bad decrypt" on this vector */
	assert_int_equal(enc_decrypt("654321", vector_enc, sizeof(vector_enc), &dec, &dec_len),
			 -EACCES);
	assert_int_equal(enc_decrypt("wrong", vector_enc, sizeof(vector_enc), &dec, &dec_len),
			 -EACCES);
	assert_ptr_equal(dec, UNTOUCHED_PTR);
	assert_int_equal(dec_len, UNTOUCHED_LEN);
}

static void test_truncated(void **state)
{
	unsigned char *dec = UNTOUCHED_PTR;
	size_t dec_len = UNTOUCHED_LEN;

	/* cut inside a block, right after the header, inside the header, and to nothing */
	assert_int_equal(enc_decrypt(KEY, vector_enc, sizeof(vector_enc) - 1, &dec, &dec_len),
			 -EBADMSG);
	assert_int_equal(enc_decrypt(KEY, vector_enc, 16 + 15, &dec, &dec_len), -EBADMSG);
	assert_int_equal(enc_decrypt(KEY, vector_enc, 16, &dec, &dec_len), -EBADMSG);
	assert_int_equal(enc_decrypt(KEY, vector_enc, 12, &dec, &dec_len), -EBADMSG);
	assert_int_equal(enc_decrypt(KEY, vector_enc, 0, &dec, &dec_len), -EBADMSG);
	/*
	 * Cut at a block boundary the structure is intact; the lost last block carried the
	 * padding, so this reads as a wrong key, as it does to openssl.
	 */
	assert_int_equal(enc_decrypt(KEY, vector_enc, 16 + 16, &dec, &dec_len), -EACCES);
	assert_ptr_equal(dec, UNTOUCHED_PTR);
	assert_int_equal(dec_len, UNTOUCHED_LEN);
}

static void test_bad_magic(void **state)
{
	unsigned char bad[sizeof(vector_enc)];
	unsigned char *dec = UNTOUCHED_PTR;
	size_t dec_len = UNTOUCHED_LEN;

	memcpy(bad, vector_enc, sizeof(bad));
	bad[0] = 's';
	assert_int_equal(enc_decrypt(KEY, bad, sizeof(bad), &dec, &dec_len), -EBADMSG);
	/* a plain profile handed to decrypt by mistake */
	assert_int_equal(enc_decrypt(KEY, vector_plain, sizeof(vector_plain) - 1, &dec, &dec_len),
			 -EBADMSG);
	assert_ptr_equal(dec, UNTOUCHED_PTR);
	assert_int_equal(dec_len, UNTOUCHED_LEN);
}

static void test_invalid_arguments(void **state)
{
	unsigned char *out = UNTOUCHED_PTR;
	size_t out_len = UNTOUCHED_LEN;

	assert_int_equal(enc_encrypt(NULL, "x", 1, NULL, &out, &out_len), -EINVAL);
	assert_int_equal(enc_encrypt(KEY, NULL, 1, NULL, &out, &out_len), -EINVAL);
	assert_int_equal(enc_decrypt(NULL, vector_enc, sizeof(vector_enc), &out, &out_len),
			 -EINVAL);
	assert_ptr_equal(out, UNTOUCHED_PTR);
	assert_int_equal(out_len, UNTOUCHED_LEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_empty),
		cmocka_unit_test(test_round_trip_one_byte),
		cmocka_unit_test(test_round_trip_block_edges),
		cmocka_unit_test(test_round_trip_1mib),
		cmocka_unit_test(test_random_salt),
		cmocka_unit_test(test_known_vector),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bad_magic),
		cmocka_unit_test(test_invalid_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
