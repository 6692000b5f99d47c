// SPDX-License-Identifier: MIT
/*
 * The exchange (exchange.h): the one start and the one end of a request of every protocol.
 * The outcome table below is the only place that says what the journal stores for an
 * outcome and at what level it is logged; the access rule ("a device gets only its own
 * files") is exchange_access(), whatever the protocol and however the device said who it is.
 */
#include "site/exchange.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/str.h"
#include "site/metrics.h"
#include "site/directory.h"
#include "store/store.h"

struct outcome_info {
	const char *text; /* the journal's */
	enum log_level level;
	bool success;
	bool journaled;
	const char *metric; /* the label of /metrics: one per outcome */
};

#define I LOG_LEVEL_INFO
#define W LOG_LEVEL_WARN

static const struct outcome_info outcomes[_OUTCOME_MAX] = {
	[OUTCOME_SENT] = { "sent", I, true, true, "sent" },
	[OUTCOME_PARTIAL] = { "sent", I, true, true, "partial" },
	[OUTCOME_REDIRECTED] = { "sent", I, true, true, "redirected" },
	[OUTCOME_NOT_MODIFIED] = { "not modified", I, true, true, "not_modified" },
	[OUTCOME_NOT_FOUND] = { "not found", I, false, true, "not_found" },
	/* the defence counts these and warns once when it blocks: no warning each */
	[OUTCOME_DENIED] = { "denied", I, false, true, "denied" },
	[OUTCOME_REFUSED] = { "denied", W, false, true, "refused" },
	/* every Digest client gets one first: not worth a warning */
	[OUTCOME_AUTH_REQUIRED] = { "denied", I, false, true, "auth_required" },
	[OUTCOME_AUTH_FAILED] = { "denied", W, false, true, "auth_failed" },
	[OUTCOME_BLOCKED] = { "blocked", LOG_LEVEL_DEBUG, false, false, "blocked" },
	[OUTCOME_TOO_LARGE] = { "error", W, false, true, "too_large" },
	[OUTCOME_BUSY] = { "busy", W, false, true, "busy" },
	[OUTCOME_UNAVAILABLE] = { "unavailable", I, false, true, "unavailable" },
	[OUTCOME_BAD_REQUEST] = { "error", W, false, true, "bad_request" },
	[OUTCOME_NOT_IMPLEMENTED] = { "error", I, false, true, "not_implemented" },
	[OUTCOME_ERROR] = { "error", W, false, true, "error" },
	[OUTCOME_TIMED_OUT] = { "timed out", I, false, true, "timed_out" },
	[OUTCOME_ABORTED] = { "aborted", I, false, true, "aborted" },
	[OUTCOME_PNP_URL_SENT] = { "pnp-url-sent", I, true, true, "pnp_url_sent" },
	[OUTCOME_NOTIFY_ANSWERED] = { "notify-", I, false, true, "notify_answered" },
	[OUTCOME_NOTIFY_TIMEOUT] = { "notify-timeout", I, false, true, "notify_timeout" },
	[OUTCOME_SUBSCRIBE_REPEAT] = { "subscribe-repeat", I, false, true, "subscribe_repeat" },
	[OUTCOME_BAD_EVENT] = { "bad-event", I, false, true, "bad_event" },
	[OUTCOME_SIP_BAD_REQUEST] = { "bad-request", I, false, true, "sip_bad_request" },
	[OUTCOME_NOT_ALLOWED] = { "not-allowed", I, false, true, "not_allowed" },
	[OUTCOME_IGNORED_NO_MAC] = { "ignored-no-mac", I, false, true, "ignored_no_mac" },
	[OUTCOME_IGNORED_UNKNOWN] = { "ignored-unknown", I, false, true, "ignored_unknown" },
	[OUTCOME_IGNORED_OUI] = { "ignored-oui", I, false, true, "ignored_oui" },
};

#undef I
#undef W

static const struct outcome_info *info_of(enum outcome o)
{
	return (unsigned)o < _OUTCOME_MAX ? &outcomes[o] : &outcomes[OUTCOME_ERROR];
}

const char *outcome_journal_text(enum outcome o)
{
	return info_of(o)->text;
}

enum log_level outcome_log_level(enum outcome o)
{
	return info_of(o)->level;
}

bool outcome_is_success(enum outcome o)
{
	return info_of(o)->success;
}

bool outcome_is_journaled(enum outcome o)
{
	return info_of(o)->journaled;
}

const char *outcome_metric_name(enum outcome o)
{
	return info_of(o)->metric;
}

enum outcome exchange_outcome_of(int r)
{
	switch (r) {
	case 0: return OUTCOME_SENT;
	case -ENOENT: return OUTCOME_NOT_FOUND;
	case -EACCES: return OUTCOME_REFUSED;
	case -EPERM: return OUTCOME_DENIED;
	case -EFBIG: return OUTCOME_TOO_LARGE;
	case DIRECTORY_UNAVAILABLE: return OUTCOME_UNAVAILABLE;
	/* out of descriptors for the file: nothing wrong with it, a retry gets it */
	case -EMFILE:
	case -ENFILE: return OUTCOME_BUSY;
	default: return OUTCOME_ERROR; /* -EIO (a template that fails), -EAGAIN, -ENOMEM, ... */
	}
}

int exchange_access(const struct principal *p, const char *mac, const char **why)
{
	const char *w = NULL;
	int r;

	if (!mac || !mac[0])
		return 0; /* a file of no device: anyone's */
	switch (p->kind) {
	case PRINCIPAL_ANONYMOUS:
		if (!p->anonymous_device_files)
			w = "access violation";
		break;
	case PRINCIPAL_USER: break;
	case PRINCIPAL_DEVICE:
		if (strcmp(p->mac, mac) != 0)
			w = p->how && strcmp(p->how, "certificate") == 0
				    ? "the certificate is another device's"
				    : "the login is another device's";
		break;
	case PRINCIPAL_NOBODY: w = p->nobody_why ? p->nobody_why : "no device"; break;
	case _PRINCIPAL_KIND_MAX: w = "no device"; break;
	}
	if (!w && p->check && (r = p->check(p->check_arg, mac, &w)) < 0) {
		if (r == DIRECTORY_UNAVAILABLE)
			return r; /* the check could not ask the store */
		if (!w)
			w = "refused";
	}
	if (!w && p->claim_binds && p->claimed_mac[0] && strcmp(p->claimed_mac, mac) != 0)
		w = "the User-Agent names another device";
	if (w) {
		*why = w;
		return -EPERM;
	}
	return 0;
}

void exchange_begin(struct exchange *x, struct site *site, const char *proto,
		    const struct sockaddr *peer, const struct sockaddr *local, const char *name)
{
	memset(x, 0, sizeof(*x));
	x->site = site;
	x->req.proto = proto;
	x->req.peer = peer;
	x->req.local = local;
	x->name = name ? name : "-";
	if (peer)
		addr_format(peer, x->peer_text, sizeof(x->peer_text));
	else
		memcpy(x->peer_text, "-", 2);
	clock_gettime(CLOCK_MONOTONIC, &x->started);
}

static enum outcome open_locked(struct exchange *x, const char *prefix, const char *raw, size_t len,
				const struct principal *who);

/* Under the site's lock: the defence's count and its answer are one step for every worker. */
enum outcome exchange_open(struct exchange *x, const char *prefix, const char *raw, size_t len,
			   const struct principal *who)
{
	enum outcome o;

	site_lock(x->site);
	o = open_locked(x, prefix, raw, len, who);
	site_unlock(x->site);
	return o;
}

static enum outcome open_locked(struct exchange *x, const char *prefix, const char *raw, size_t len,
				const struct principal *who)
{
	const char *why = NULL;
	unsigned blocked;
	int r, a;

	x->req.prefix = prefix;
	if (x->req.peer) {
		blocked = site_blocked(x->site, x->req.peer);
		if (blocked > 0) {
			x->blocked_for = blocked;
			return OUTCOME_BLOCKED;
		}
	}
	r = site_resolve(x->site, raw, len, &x->req, &x->file);
	x->error = r;
	if (x->req.peer) {
		blocked = site_resolved(x->site, &x->req, r);
		if (blocked > 0) {
			x->blocked_for = blocked;
			return OUTCOME_BLOCKED;
		}
	}
	/*
	 * The access rule. An anonymous peer refused device files gets the same answer for a
	 * known device's name and an unknown one's (it must not tell which devices exist); the
	 * others are asked only about files that exist.
	 */
	if (x->req.mac[0] &&
	    (r == 0 ||
	     (r == -ENOENT && who->kind == PRINCIPAL_ANONYMOUS && !who->anonymous_device_files)) &&
	    (a = exchange_access(who, x->req.mac, &why)) < 0) {
		site_file_unref(x->file);
		x->file = NULL;
		if (a == DIRECTORY_UNAVAILABLE) {
			x->detail = "the store cannot be reached";
			return OUTCOME_UNAVAILABLE;
		}
		x->detail = why;
		if (r == 0 && x->req.peer &&
		    (who->kind != PRINCIPAL_ANONYMOUS || who->anonymous_device_files)) {
			/*
			 * a device's file for someone who said who they are (a login, a
			 * certificate, a User-Agent) and is not that device: a miss of the
			 * defence. A peer that said nothing is refused by policy: a known
			 * device's name never counts (docs/security.md).
			 */
			blocked = site_miss(x->site, &x->req, x->req.mac);
			if (blocked > 0) {
				x->blocked_for = blocked;
				return OUTCOME_BLOCKED;
			}
		}
		return OUTCOME_DENIED;
	}
	/* for the journal: who asked, when the file names nobody */
	if (!x->req.mac[0] && who->claimed_mac[0])
		memcpy(x->req.mac, who->claimed_mac, sizeof(x->req.mac));
	if (r == -EIO && !x->detail)
		x->detail = "the template fails";
	else if (r == DIRECTORY_UNAVAILABLE && !x->detail)
		x->detail = "the store cannot be reached";
	else if (r == -EFBIG && !x->detail)
		x->detail = "over max_file_size";
	return exchange_outcome_of(r);
}

void exchange_close_code(struct exchange *x, enum outcome o, unsigned code, const char *answer,
			 uint64_t bytes, const char *md5, const char *tail)
{
	const struct outcome_info *oi = info_of(o);
	enum log_level level = oi->level;
	const char *text = oi->text;
	char notify[32];
	const char *mac = x->req.mac[0]			    ? x->req.mac
			  : x->login_mac && x->login_mac[0] ? x->login_mac
							    : NULL;

	if (x->closed)
		return;
	x->closed = true;
	if (x->site) {
		struct timespec now;
		int64_t us;

		clock_gettime(CLOCK_MONOTONIC, &now);
		us = (int64_t)(now.tv_sec - x->started.tv_sec) * 1000000 +
		     (now.tv_nsec - x->started.tv_nsec) / 1000;
		metrics_request(site_metrics(x->site), metrics_proto_of(x->req.proto), o, bytes,
				us > 0 ? (uint64_t)us : 0);
	}
	/* the outcome's word, or a NOTIFY's answer code made into one */
	if (o == OUTCOME_NOTIFY_ANSWERED) {
		snprintf(notify, sizeof(notify), "notify-%u", code);
		text = notify;
	}
	if (oi->journaled && x->site) {
		/*
		 * Why, when "denied" or "error" alone would not tell the doctor: a login asked
		 * for or refused, another device's file, a refused name, a failing template.
		 */
		const char *detail = o == OUTCOME_AUTH_REQUIRED ? "credentials asked for"
				     : o == OUTCOME_AUTH_FAILED ? "wrong credentials"
				     : o == OUTCOME_DENIED || o == OUTCOME_REFUSED ||
						     o == OUTCOME_ERROR || o == OUTCOME_TOO_LARGE ||
						     o == OUTCOME_UNAVAILABLE
					     ? x->detail
					     : NULL;
		struct journal_entry e = {
			.proto = x->req.proto,
			.peer = x->peer_text,
			.mac = mac,
			.path = x->name,
			.outcome = text,
			.bytes = bytes,
			.md5 = o == OUTCOME_SENT ? md5 : NULL,
			.user_agent = x->user_agent && x->user_agent[0] ? x->user_agent : NULL,
			.detail = detail,
		};

		site_lock(x->site);
		e.rev = directory_revision(site_directory(x->site));
		site_unlock(x->site);
		clock_gettime(CLOCK_REALTIME, &e.time);
		site_journal(x->site, &e);
	}
	if (log_level_current >= level) {
		/* PEER "VERB NAME" ANSWER, N bytes[TAIL][: DETAIL], or PEER VERB "NAME" ... */
		char line[1536];
		struct str_buf b;

		str_buf_init(&b, line, sizeof(line));
		str_buf_add(&b, x->peer_text);
		str_buf_add(&b, x->verb_quoted ? " \"" : " ");
		if (x->verb) {
			str_buf_add(&b, x->verb);
			str_buf_add(&b, " ");
		}
		str_buf_add(&b, x->verb_quoted ? "" : "\"");
		str_buf_add(&b, x->name);
		str_buf_add(&b, "\" ");
		str_buf_add(&b, answer ? answer : text);
		str_buf_add(&b, ", ");
		str_buf_add_u64(&b, bytes);
		str_buf_add(&b, " bytes");
		str_buf_add(&b, tail);
		if (x->detail) {
			str_buf_add(&b, ": ");
			str_buf_add(&b, x->detail);
		}
		log_text(level, x->req.proto, b.s, b.len);
	}
	site_file_unref(x->file);
	x->file = NULL;
}

void exchange_close(struct exchange *x, enum outcome o, const char *answer, uint64_t bytes,
		    const char *md5, const char *tail)
{
	exchange_close_code(x, o, 0, answer, bytes, md5, tail);
}
