// SPDX-License-Identifier: MIT
/*
 * The admin API's tokens (store.h): 32 random bytes shown once as "ap_" + base64url, stored
 * as the hex SHA-256 of that text. A token is high in entropy, so one unsalted hash is
 * enough to make the table useless to whoever reads it, and lets a request find its token
 * by an indexed look-up of the hash.
 */
#include "store/store_impl.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/str.h"

#define USED_EVERY_S 60 /* last_used is written at most this often per token */

int store_check_token_name(const char *name, const char **ret_why)
{
	size_t n = strlen(name);

	if (n == 0 || n > 64) {
		*ret_why = "a token name has 1 to 64 characters";
		return -EINVAL;
	}
	if (name[0] == '-' ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n) {
		*ret_why = "a token name is letters, digits, '.', '_' and '-', not starting with '-'";
		return -EINVAL;
	}
	return 0;
}

/* The hex SHA-256 of secret into hex (65 bytes). */
static int token_hash(const char *secret, char hex[65])
{
	unsigned char md[32];
	unsigned int len = 0;

	if (!EVP_Digest(secret, strlen(secret), md, &len, EVP_sha256(), NULL) || len != 32)
		return -EIO;
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* 32 random bytes as "ap_" + unpadded base64url into out (STORE_TOKEN_LEN + 1 bytes). */
static int token_make(char *out, size_t outsz)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[33] = { 0 };
	size_t o = 3;

	if (outsz < STORE_TOKEN_LEN + 1 || RAND_bytes(raw, 32) != 1)
		return -EIO;
	memcpy(out, "ap_", 3);
	for (size_t i = 0; i < 32; i += 3) {
		unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];

		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = b64[v >> 6 & 63];
		if (i + 2 < 32)
			out[o++] = b64[v & 63];
	}
	out[o] = '\0';
	return o == STORE_TOKEN_LEN ? 0 : -EIO;
}

static const char *scope_text(enum token_scope s)
{
	return s == TOKEN_WRITE ? "write" : "read";
}

int store_token_add(struct store *st, const char *name, enum token_scope scope, int64_t expires,
		    char *secret, size_t secretsz)
{
	char hash[65];
	const char *why;
	struct stmt *stmt = NULL;
	int rc, r;

	if (store_check_token_name(name, &why) < 0)
		return store_fail(st, -EINVAL, "'%s': %s", name, why);
	if (token_make(secret, secretsz) < 0 || token_hash(secret, hash) < 0)
		return store_fail(st, -EIO, "cannot make a random token");
	rc = stmt_prepare(st,
			  "INSERT INTO tokens (name, hash, scope, created, expires)"
			  " VALUES (?1, ?2, ?3, ?5, ?4)",
			  &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	stmt_bind_text(stmt, 1, name);
	stmt_bind_text(stmt, 2, hash);
	stmt_bind_text(stmt, 3, scope_text(scope));
	stmt_bind_int64(stmt, 4, expires);
	stmt_bind_int64(stmt, 5, (int64_t)time(NULL));
	rc = stmt_step(stmt);
	if (rc == STMT_DONE)
		r = 0;
	else if (rc == -EEXIST)
		r = store_fail(st, -EEXIST, "a token named '%s' exists", name);
	else
		r = store_failed(st, rc);
	stmt_finalize(stmt);
	if (r < 0)
		explicit_bzero(secret, secretsz);
	return r;
}

int store_token_remove(struct store *st, const char *name)
{
	struct stmt *stmt = NULL;
	int rc, r;

	rc = stmt_prepare(st, "DELETE FROM tokens WHERE name = ?1", &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	stmt_bind_text(stmt, 1, name);
	rc = stmt_step(stmt);
	if (rc != STMT_DONE)
		r = store_failed(st, rc);
	else if (store_changes(st) == 0)
		r = store_fail(st, -ENOENT, "no token named '%s'", name);
	else
		r = 0;
	stmt_finalize(stmt);
	return r;
}

static void token_from_row(struct stmt *stmt, struct token_info *t)
{
	const char *name = stmt_text(stmt, 0);
	const char *scope = stmt_text(stmt, 1);

	memset(t, 0, sizeof(*t));
	str_copy(t->name, sizeof(t->name), name ? name : "");
	t->scope = scope && strcmp(scope, "write") == 0 ? TOKEN_WRITE : TOKEN_READ;
	t->created = stmt_int64(stmt, 2);
	t->expires = stmt_int64(stmt, 3);
	t->last_used = stmt_int64(stmt, 4);
}

#define TOKEN_COLUMNS "name, scope, created, expires, last_used"

int store_token_foreach(struct store *st, int (*fn)(void *arg, const struct token_info *t),
			void *arg)
{
	struct stmt *stmt = NULL;
	struct token_info t;
	int rc, r = 0;

	rc = stmt_prepare(st, "SELECT " TOKEN_COLUMNS " FROM tokens ORDER BY name", &stmt);
	if (rc < 0)
		return store_failed(st, rc);
	while ((rc = stmt_step(stmt)) == STMT_ROW) {
		token_from_row(stmt, &t);
		r = fn(arg, &t);
		if (r != 0)
			break;
	}
	if (r == 0 && rc != STMT_DONE)
		r = store_failed(st, rc);
	stmt_finalize(stmt);
	return r;
}

int store_token_check(struct store *st, const char *secret, int64_t now, struct token_info *ret)
{
	struct stmt *stmt;
	char hash[65];
	int rc, r;

	if (token_hash(secret, hash) < 0)
		return store_fail(st, -EIO, "cannot hash a token");
	r = store_stmt(st, STMT_TOKEN_CHECK, "SELECT " TOKEN_COLUMNS " FROM tokens WHERE hash = ?1",
		       &stmt);
	if (r < 0)
		return r;
	stmt_bind_text(stmt, 1, hash);
	rc = stmt_step(stmt);
	if (rc == STMT_ROW)
		token_from_row(stmt, ret);
	stmt_reset(stmt);
	if (rc == STMT_DONE)
		return store_fail(st, -ENOENT, "no such token");
	if (rc != STMT_ROW)
		return store_failed(st, rc);
	if (ret->expires && ret->expires <= now)
		return store_fail(st, -EKEYEXPIRED, "token '%s' expired", ret->name);
	if (now - ret->last_used < USED_EVERY_S)
		return 0;
	r = store_stmt(st, STMT_TOKEN_USED, "UPDATE tokens SET last_used = ?2 WHERE name = ?1",
		       &stmt);
	if (r < 0)
		return 0; /* a token that works is not refused for want of a note */
	stmt_bind_text(stmt, 1, ret->name);
	stmt_bind_int64(stmt, 2, now);
	(void)stmt_step(stmt);
	stmt_reset(stmt);
	ret->last_used = now;
	return 0;
}
