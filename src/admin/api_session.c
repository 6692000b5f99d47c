// SPDX-License-Identifier: MIT
/*
 * The dashboard's sessions (docs/admin.md, "Sessions"): POST /api/v1/session logs in with a
 * token of the API or a site user of [auth] user (who gets write scope), and sets the
 * cookie autoprov_session (HttpOnly, SameSite=Strict, Secure over TLS); GET tells who the
 * cookie is; DELETE logs out. Sessions live in the admin thread's memory only (a restart
 * logs everyone out): a bounded table of random 32-byte ids, compared in constant time,
 * forgotten after ADMIN_SESSION_IDLE_S unused. Each has a CSRF token of its own, which every
 * change made with the cookie must carry in X-CSRF-Token (admin.c checks it).
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/api.h"
#include "core/str.h"
#include "site/auth.h"
#include "site/inventory.h"
#include "site/site.h"

#define COOKIE "autoprov_session"

struct admin_sessions {
	struct admin_session s[ADMIN_SESSIONS_MAX];
};

static int64_t mono_s(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec;
}

static int random_hex(char *out, size_t bytes)
{
	unsigned char raw[64];

	if (bytes > sizeof(raw) || RAND_bytes(raw, (int)bytes) != 1)
		return -EIO;
	for (size_t i = 0; i < bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

void admin_sessions_free(struct admin_sessions *t)
{
	if (t)
		OPENSSL_cleanse(t, sizeof(*t));
	free(t);
}

/* The value of cookie name in a Cookie header, into buf; false when absent or too long. */
static bool cookie_value(const char *h, const char *name, char *buf, size_t size)
{
	size_t nl = strlen(name);

	for (const char *p = h; p && *p;) {
		size_t len;

		p += strspn(p, " \t;");
		len = strcspn(p, ";");
		if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			size_t vl = len - nl - 1;

			while (vl && (p[nl + 1 + vl - 1] == ' ' || p[nl + 1 + vl - 1] == '\t'))
				vl--;
			if (vl >= size)
				return false;
			memcpy(buf, p + nl + 1, vl);
			buf[vl] = '\0';
			return true;
		}
		p += len;
	}
	return false;
}

struct admin_session *admin_session_of(struct admin_request *r)
{
	struct admin_sessions *t = *admin_sessions(r);
	char id[ADMIN_SESSION_ID_LEN + 8];
	struct admin_session *found = NULL;
	int64_t now = mono_s();

	if (!t || !cookie_value(admin_header(r, "Cookie"), COOKIE, id, sizeof(id)) ||
	    strlen(id) != ADMIN_SESSION_ID_LEN)
		return NULL;
	/* every slot is compared, in constant time, whatever matched */
	for (size_t i = 0; i < ADMIN_SESSIONS_MAX; i++) {
		struct admin_session *s = &t->s[i];
		bool same = CRYPTO_memcmp(s->id, id, ADMIN_SESSION_ID_LEN) == 0;

		if (s->used && same && !found)
			found = s;
	}
	if (found && now - found->last_used > ADMIN_SESSION_IDLE_S) {
		OPENSSL_cleanse(found, sizeof(*found));
		return NULL;
	}
	if (found)
		found->last_used = now;
	return found;
}

bool admin_session_csrf_ok(const struct admin_session *s, const char *header)
{
	return header && strlen(header) == ADMIN_SESSION_ID_LEN &&
	       CRYPTO_memcmp(s->csrf, header, ADMIN_SESSION_ID_LEN) == 0;
}

/* A new session for user with scope: a free slot, else an expired one, else the least used. */
static struct admin_session *session_new(struct admin_request *r, const char *user,
					 enum token_scope scope)
{
	struct admin_sessions **tp = admin_sessions(r);
	struct admin_session *s = NULL;

	if (!*tp) {
		*tp = calloc(1, sizeof(**tp));
		if (!*tp)
			return NULL;
	}
	for (size_t i = 0; i < ADMIN_SESSIONS_MAX; i++) {
		struct admin_session *c = &(*tp)->s[i];

		if (!c->used || mono_s() - c->last_used > ADMIN_SESSION_IDLE_S) {
			s = c;
			break;
		}
		if (!s || c->last_used < s->last_used)
			s = c;
	}
	OPENSSL_cleanse(s, sizeof(*s));
	if (random_hex(s->id, ADMIN_SESSION_ID_LEN / 2) < 0 ||
	    random_hex(s->csrf, ADMIN_SESSION_ID_LEN / 2) < 0)
		return NULL;
	str_copy(s->user, sizeof(s->user), user);
	s->scope = scope;
	s->last_used = mono_s();
	s->used = true;
	return s;
}

static json_t *session_json(const struct admin_session *s)
{
	return json_pack("{s:s, s:s, s:s}", "user", s->user, "scope",
			 s->scope == TOKEN_WRITE ? "write" : "read", "csrf", s->csrf);
}

static void set_cookie(struct admin_request *r, const char *value, bool clear)
{
	char c[256];

	snprintf(c, sizeof(c), COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s%s", value,
		 admin_is_tls(r) ? "; Secure" : "", clear ? "; Max-Age=0" : "");
	admin_add_header(r, "Set-Cookie", c);
}

static void login(struct admin_request *r)
{
	json_t *body = admin_body_json(r);
	const char *token = NULL, *user = NULL, *password = NULL;
	struct token_info ti;
	struct admin_session *s;
	enum token_scope scope;
	const char *name;
	int e;

	if (!body)
		return;
	if (json_unpack(body, "{s?s, s?s, s?s !}", "token", &token, "user", &user, "password",
			&password) < 0 ||
	    (!token == !user) || (user && !password)) {
		json_decref(body);
		admin_problem(r, 422, NULL, NULL,
			      "{\"token\": \"...\"} or {\"user\": \"...\", \"password\": \"...\"} "
			      "expected");
		return;
	}
	if (token) {
		e = inventory_token_check(admin_site(r), token, (int64_t)time(NULL), &ti);
		if (e == -ENOENT || e == -EKEYEXPIRED) {
			admin_unauthorized(r, "admin token",
					   e == -ENOENT ? "unknown token" : "expired token");
			json_decref(body);
			return;
		}
		if (e < 0) {
			admin_problem(r, 503, NULL, NULL, "cannot check the token: %s",
				      inventory_strerror(admin_site(r)));
			json_decref(body);
			return;
		}
		name = ti.name;
		scope = ti.scope;
	} else {
		struct auth_principal p;
		size_t pl = strlen(password);
		bool ok = site_auth_lookup(admin_site(r), user, &p) == 0 && !p.mac[0] &&
			  strlen(p.password) == pl && CRYPTO_memcmp(p.password, password, pl) == 0;

		OPENSSL_cleanse(&p, sizeof(p));
		if (!ok) {
			admin_unauthorized(r, user, "wrong user or password");
			json_decref(body);
			return;
		}
		admin_auth_succeeded(r, user);
		name = user;
		scope = TOKEN_WRITE;
	}
	s = session_new(r, name, scope);
	json_decref(body);
	if (!s) {
		admin_problem(r, 500, NULL, NULL, "cannot make a session");
		return;
	}
	set_cookie(r, s->id, false);
	admin_reply_json(r, 200, session_json(s));
}

static void get_session(struct admin_request *r)
{
	if (!r->session) {
		admin_problem(r, 401, NULL, NULL, "no session: POST /api/v1/session to log in");
		return;
	}
	admin_reply_json(r, 200, session_json(r->session));
}

static void logout(struct admin_request *r)
{
	if (r->session)
		OPENSSL_cleanse(r->session, sizeof(*r->session));
	set_cookie(r, "", true);
	admin_reply(r, 204, NULL, NULL, 0);
}

const struct admin_route admin_routes_session[] = {
	{ EVHTTP_REQ_POST, ADMIN_API_PREFIX "/session", ADMIN_OPEN, login },
	{ EVHTTP_REQ_GET, ADMIN_API_PREFIX "/session", ADMIN_SESSION, get_session },
	{ EVHTTP_REQ_DELETE, ADMIN_API_PREFIX "/session", ADMIN_SESSION, logout },
	{ 0, NULL, 0, NULL },
};
