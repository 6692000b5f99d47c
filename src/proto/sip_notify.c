// SPDX-License-Identifier: MIT
/*
 * SIP client transactions: a NOTIFY sent, retransmitted on Timer E, abandoned on Timer F,
 * answered once with Digest after a 401 / 407 (RFC 3261 17.1.2), and the responses that
 * end them.
 */
#include "proto/sip_internal.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/digest.h"
#include "core/log.h"

static const char *const tx_state_names[TX__MAX] = { "trying", "proceeding" };

static void tx_set_state(struct client_tx *tx, enum tx_state state)
{
	log_debug(TAG, "NOTIFY %s: %s -> %s", tx->branch, tx_state_names[tx->state],
		  tx_state_names[state]);
	tx->state = state;
}

void sip_tx_free(struct client_tx *tx)
{
	if (!tx)
		return;
	if (tx->timer)
		event_free(tx->timer);
	free(tx->uri);
	free(tx->from);
	free(tx->to_hdr);
	free(tx->call_id);
	free(tx->event);
	free(tx->extra);
	free(tx->content_type);
	free(tx->body);
	free(tx->user);
	free(tx->password);
	free(tx->msg);
	free(tx);
}

void sip_tx_unlink(struct client_tx *tx)
{
	struct sip_server *srv = tx->srv;

	if (tx->prev)
		tx->prev->next = tx->next;
	else if (srv->txs == tx)
		srv->txs = tx->next;
	if (tx->next)
		tx->next->prev = tx->prev;
	tx->prev = tx->next = NULL;
	srv->ntx--;
}

/* (Re)builds tx->msg with a new branch; auth is an Authorization-like header line or NULL. */
static int tx_build(struct client_tx *tx, const char *auth_name, const char *auth_value)
{
	char *buf = malloc(SIP_MSG_MAX), local[ADDR_STRLEN + 8];
	struct sip_builder b;
	int n;

	if (!buf)
		return -ENOMEM;
	sip_random_hex(tx->branch, 24);
	memmove(tx->branch + 7, tx->branch, 25);
	memcpy(tx->branch, "z9hG4bK", 7);
	sip_local_hostport(tx->srv, (struct sockaddr *)&tx->to.ss, local, sizeof(local), NULL, 0);
	sip_builder_init(&b, buf, SIP_MSG_MAX);
	sip_build_request_line(&b, "NOTIFY", tx->uri);
	sip_build_header(&b, "Via", "SIP/2.0/UDP %s;branch=%s;rport", local, tx->branch);
	sip_build_header(&b, "Max-Forwards", "70");
	sip_build_header(&b, "From", "%s", tx->from);
	sip_build_header(&b, "To", "%s", tx->to_hdr);
	sip_build_header(&b, "Call-ID", "%s", tx->call_id);
	sip_build_header(&b, "CSeq", "%u NOTIFY", tx->cseq);
	sip_build_header(&b, "Contact", "<sip:autoprov@%s>", local);
	sip_build_header(&b, "Event", "%s", tx->event);
	if (auth_name)
		sip_build_header(&b, auth_name, "%s", auth_value);
	if (tx->extra && b.error == 0) {
		size_t el = strlen(tx->extra);

		if (b.len + el < b.size) {
			memcpy(b.buf + b.len, tx->extra, el + 1);
			b.len += el;
		} else {
			b.error = -ENOSPC;
		}
	}
	sip_build_header(&b, "User-Agent", "autoprov/%s", AUTOPROV_VERSION);
	n = sip_build_finish(&b, tx->content_type, tx->body, tx->body ? strlen(tx->body) : 0);
	if (n < 0) {
		free(buf);
		return n;
	}
	free(tx->msg);
	tx->msg = buf;
	tx->msg_len = (size_t)n;
	return 0;
}

static void tx_arm(struct client_tx *tx)
{
	unsigned limit = 64 * tx->srv->cfg.t1_ms, next = tx->interval_ms;

	if (tx->elapsed_ms + next > limit)
		next = limit - tx->elapsed_ms;
	event_add(tx->timer,
		  &(struct timeval){ .tv_sec = next / 1000, .tv_usec = (next % 1000) * 1000 });
}

static void tx_finish(struct client_tx *tx, unsigned status, const char *reason)
{
	struct sip_notify_result res = { .status = status, .authenticated = tx->authenticated };

	snprintf(res.reason, sizeof(res.reason), "%s", reason);
	event_del(tx->timer);
	sip_tx_unlink(tx);
	if (tx->done)
		tx->done(tx->arg, &res);
	sip_tx_free(tx);
}

static void tx_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct client_tx *tx = arg;
	unsigned t1 = tx->srv->cfg.t1_ms, t2 = tx->srv->cfg.t2_ms;
	unsigned limit = 64 * t1, step = tx->interval_ms;

	if (tx->elapsed_ms + step > limit)
		step = limit - tx->elapsed_ms;
	tx->elapsed_ms += step;
	if (tx->elapsed_ms >= limit) {
		tx_finish(tx, 0, "timeout");
		return;
	}
	if (tx->confirmed || !tx->may_resend || tx->may_resend(tx->arg, tx->msg_len)) {
		log_debug(TAG, "NOTIFY %s: retransmission after %u ms", tx->branch, tx->elapsed_ms);
		sip_send_to(tx->srv, (struct sockaddr *)&tx->to.ss, tx->to.len, tx->msg,
			    tx->msg_len);
	} else {
		log_debug(TAG, "NOTIFY %s: not resent after %u ms (unconfirmed peer's budget)",
			  tx->branch, tx->elapsed_ms);
	}
	if (tx->state == TX_TRYING)
		tx->interval_ms = tx->interval_ms * 2 < t2 ? tx->interval_ms * 2 : t2;
	else
		tx->interval_ms = t2;
	tx_arm(tx);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Starts a NOTIFY transaction from its parts (copied). */
int sip_tx_start(struct sip_server *srv, const struct addr *to, const char *uri, const char *from,
		 const char *to_hdr, const char *call_id, const char *event, const char *extra,
		 const char *content_type, const char *body, const char *user, const char *password,
		 void (*done)(void *, const struct sip_notify_result *), void *arg,
		 struct client_tx **ret)
{
	struct client_tx *tx = calloc(1, sizeof(*tx));
	int r = -ENOMEM;

	if (!tx)
		return -ENOMEM;
	tx->srv = srv;
	tx->to = *to;
	tx->cseq = 1;
	tx->interval_ms = srv->cfg.t1_ms;
	tx->done = done;
	tx->arg = arg;
	tx->uri = strdup(uri);
	tx->from = strdup(from);
	tx->to_hdr = strdup(to_hdr);
	tx->call_id = strdup(call_id);
	tx->event = strdup(event);
	tx->extra = dup_or_null(extra);
	tx->content_type = dup_or_null(content_type);
	tx->body = dup_or_null(body);
	tx->user = dup_or_null(user);
	tx->password = dup_or_null(password);
	tx->timer = event_new(srv->base, -1, 0, tx_on_timer, tx);
	if (!tx->uri || !tx->from || !tx->to_hdr || !tx->call_id || !tx->event ||
	    (extra && !tx->extra) || (content_type && !tx->content_type) || (body && !tx->body) ||
	    (user && !tx->user) || (password && !tx->password) || !tx->timer)
		goto fail;
	r = tx_build(tx, NULL, NULL);
	if (r < 0)
		goto fail;
	tx->next = srv->txs;
	if (srv->txs)
		srv->txs->prev = tx;
	srv->txs = tx;
	srv->ntx++;
	sip_send_to(srv, (struct sockaddr *)&tx->to.ss, tx->to.len, tx->msg, tx->msg_len);
	tx_arm(tx);
	if (ret)
		*ret = tx;
	return 0;
fail:
	sip_tx_free(tx);
	return r;
}

int sip_notify_start(struct sip_server *srv, const struct sip_notify *n,
		     void (*done)(void *arg, const struct sip_notify_result *res), void *arg)
{
	char from[128], call_id[64], tag[17], local[ADDR_STRLEN + 8], host[ADDR_STRLEN], to[600];

	sip_local_hostport(srv, (struct sockaddr *)&n->to.ss, local, sizeof(local), host,
			   sizeof(host));
	sip_random_hex(tag, 16);
	snprintf(from, sizeof(from), "<sip:autoprov@%s>;tag=%s", local, tag);
	sip_random_hex(call_id, 32);
	snprintf(call_id + 32, sizeof(call_id) - 32, "@autoprov");
	if (snprintf(to, sizeof(to), "<%s>", n->uri) >= (int)sizeof(to))
		return -ENAMETOOLONG;
	return sip_tx_start(srv, &n->to, n->uri, from, to, call_id, n->event,
			    "Subscription-State: terminated\r\n", NULL, NULL, n->user, n->password,
			    done, arg, NULL);
}

size_t sip_notify_pending(const struct sip_server *srv)
{
	return srv->ntx;
}

static struct client_tx *tx_find(struct sip_server *srv, const struct sip_msg *m)
{
	struct sip_via via;
	char branch[128];

	if (m->nvia == 0 || sip_via_parse(m->via[0].p, m->via[0].len, &via) < 0 ||
	    sip_param_get(via.params, "branch", branch, sizeof(branch)) < 0)
		return NULL;
	for (struct client_tx *tx = srv->txs; tx; tx = tx->next)
		if (strcmp(tx->branch, branch) == 0 && m->cseq_method &&
		    strcmp(m->cseq_method, "NOTIFY") == 0 && m->cseq_num == tx->cseq)
			return tx;
	return NULL;
}

void sip_on_response(struct sip_server *srv, const struct sip_msg *m)
{
	struct client_tx *tx = tx_find(srv, m);

	if (!tx) {
		log_debug(TAG, "response %u matches no transaction: dropped", m->status);
		return;
	}
	tx->confirmed = true;
	if (m->status < 200) {
		if (tx->state == TX_TRYING) {
			tx_set_state(tx, TX_PROCEEDING);
			tx->interval_ms = tx->srv->cfg.t2_ms;
		}
		return;
	}
	if ((m->status == 401 || m->status == 407) && tx->user && !tx->authenticated) {
		const char *hname = m->status == 401 ? "WWW-Authenticate" : "Proxy-Authenticate";
		struct digest_challenge c;
		char cnonce[17], auth[2048];
		const char *value = NULL;
		int r = -ENOENT;

		/* the first challenge we can answer */
		for (size_t i = 0; i < m->nheaders && r < 0; i++)
			if (strcasecmp(m->headers[i].name, hname) == 0) {
				value = m->headers[i].value;
				r = digest_challenge_parse(value, &c);
			}
		if (r == 0) {
			sip_random_hex(cnonce, 16);
			r = digest_authorization(&c, "NOTIFY", tx->uri, tx->user,
						 tx->password ? tx->password : "", cnonce, 1, auth,
						 sizeof(auth));
		}
		if (r == 0) {
			tx->authenticated = true;
			tx->cseq++;
			r = tx_build(tx, m->status == 401 ? "Authorization" : "Proxy-Authorization",
				     auth);
		}
		if (r == 0) {
			event_del(tx->timer);
			tx->state = TX_TRYING;
			tx->interval_ms = tx->srv->cfg.t1_ms;
			tx->elapsed_ms = 0;
			sip_send_to(srv, (struct sockaddr *)&tx->to.ss, tx->to.len, tx->msg,
				    tx->msg_len);
			tx_arm(tx);
			return;
		}
		log_warnx(TAG, "cannot answer the %u challenge: %s", m->status, strerror(-r));
	}
	tx_finish(tx, m->status, m->reason);
}
