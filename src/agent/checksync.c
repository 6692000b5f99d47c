// SPDX-License-Identifier: MIT
/*
 * The endpoint's SIP check-sync listener (seeds 000 and 002; SPA-style `resync` / `reboot`
 * events of seed 001): a UDP socket on the sip_listen setting takes out-of-dialog NOTIFYs.
 * `Event: check-sync` (`;reboot=true` reboots first), `resync` and `reboot` are answered
 * 200 OK and hand over to ap_agent_check_sync(); other events 489 Bad Event, other
 * methods 405.
 *
 * Who may make the endpoint act, in this order:
 *   1. the source address: with the checksync_from setting, only those addresses; without
 *      it and without sip_password, only the provisioning server (the hosts the last
 *      successful downloads came from; before the first one, nobody). Others get 403 and
 *      nothing happens.
 *   2. with sip_password, a Digest Authorization (RFC 3261 22, codec/digest.h) for
 *      sip_user answering one of our nonces, or a 401 with a fresh nonce. Nonces are
 *      HMACs under a secret drawn from RAND_bytes at every start (nothing predictable),
 *      single-use (one challenge, one NOTIFY, whatever its nc says) and expire after
 *      CHECKSYNC_NONCE_LIFETIME_S. A captured NOTIFY sent again is answered 401 stale=true
 *      with a fresh nonce (RFC 7616 3.3: the credentials were right, the nonce is spent)
 *      and ignored.
 *   3. a retransmission of a NOTIFY already acted on (same top Via branch, Call-ID and
 *      CSeq within 64*T1, RFC 3261 17.2.2) gets its 200 again and is not acted on again:
 *      the sender lost our 200, it did not ask twice. A replay within that window looks
 *      the same and is ignored the same way.
 * Every refusal and every ignored NOTIFY is a timeline entry.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent_internal.h"
#include "codec/digest.h"
#include "codec/sip_parse.h"
#include "core/addr.h"

#define CHECKSYNC_REALM		   "autoprov-agent"
#define CHECKSYNC_NONCE_LIFETIME_S 30
#define CHECKSYNC_NONCE_SLOTS	   256
#define CHECKSYNC_TX_MAX	   16	 /* NOTIFYs acted on, remembered for retransmissions */
#define CHECKSYNC_TX_LIFETIME_MS   32000 /* Timer J = 64*T1 */
#define CHECKSYNC_TX_KEY	   512

struct checksync_tx {
	char key[CHECKSYNC_TX_KEY]; /* top Via branch, Call-ID and CSeq; "" = free */
	uint64_t at_ms;
};

struct agent_checksync {
	int fd;
	struct event *ev;
	struct digest_nonces *nonces;
	struct checksync_tx done[CHECKSYNC_TX_MAX];
	size_t next_tx;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* "1.2.3.4", "2001:db8::1" (IPv4-mapped IPv6 as IPv4) in canonical form. 0 or -EINVAL. */
static int host_normalize(const char *s, char *out, size_t outsz)
{
	unsigned char raw[sizeof(struct in6_addr)];
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (inet_pton(AF_INET, s, raw) == 1)
		return inet_ntop(AF_INET, raw, out, (socklen_t)outsz) ? 0 : -EINVAL;
	if (inet_pton(AF_INET6, s, raw) != 1)
		return -EINVAL;
	if (memcmp(raw, mapped, sizeof(mapped)) == 0)
		return inet_ntop(AF_INET, raw + 12, out, (socklen_t)outsz) ? 0 : -EINVAL;
	return inet_ntop(AF_INET6, raw, out, (socklen_t)outsz) ? 0 : -EINVAL;
}

/* Calls fn for every entry of a checksync_from value; stops at the first nonzero. */
static int for_each_entry(const char *value, int (*fn)(const char *entry, void *arg), void *arg)
{
	for (const char *p = value; *p;) {
		char entry[64];
		size_t n;
		int r;

		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (n == 0)
			break;
		if (n >= sizeof(entry))
			return -EINVAL;
		memcpy(entry, p, n);
		entry[n] = '\0';
		r = fn(entry, arg);
		if (r != 0)
			return r;
		p += n;
	}
	return 0;
}

static int entry_valid(const char *entry, void *arg)
{
	char buf[64];

	(void)arg;
	return host_normalize(entry, buf, sizeof(buf));
}

int agent_checksync_from_check(const char *value, const char **ret_why)
{
	if (for_each_entry(value, entry_valid, NULL) < 0) {
		*ret_why = "numeric IPv4 / IPv6 addresses separated by commas are expected";
		return -EINVAL;
	}
	return 0;
}

static int entry_matches(const char *entry, void *arg)
{
	char buf[64];

	return host_normalize(entry, buf, sizeof(buf)) == 0 && strcmp(buf, arg) == 0;
}

void agent_checksync_server_seen(struct ap_agent *a, const char *ip)
{
	char host[64], bare[64];
	size_t n = sizeof(a->server_addrs) / sizeof(a->server_addrs[0]), i;

	if (!ip || !*ip)
		return;
	/* "[2001:db8::1]" as a URL writes it */
	if (ip[0] == '[' && strlen(ip) < sizeof(bare) && ip[strlen(ip) - 1] == ']') {
		snprintf(bare, sizeof(bare), "%.*s", (int)(strlen(ip) - 2), ip + 1);
		ip = bare;
	}
	if (host_normalize(ip, host, sizeof(host)) < 0)
		return; /* a host name: checksync_from says who the server is */
	for (i = 0; i < n - 1 && strcmp(a->server_addrs[i], host) != 0; i++)
		;
	/* move it (or the oldest) out, the newest goes first */
	memmove(a->server_addrs[1], a->server_addrs[0], i * sizeof(a->server_addrs[0]));
	memcpy(a->server_addrs[0], host, sizeof(host));
}

/*
 * Whether a NOTIFY from host may be acted on as far as its source goes; when not, *why
 * says who was expected.
 */
static bool checksync_source_allowed(struct ap_agent *a, const char *host, char *why,
				     size_t whysz)
{
	const char *from = agent_setting(a, "checksync_from");

	if (*from) {
		if (for_each_entry(from, entry_matches, (void *)host) > 0)
			return true;
		snprintf(why, whysz, "not in checksync_from (%s)", from);
		return false;
	}
	if (*agent_setting(a, "sip_password"))
		return true; /* Digest decides */
	for (size_t i = 0; i < sizeof(a->server_addrs) / sizeof(a->server_addrs[0]); i++)
		if (a->server_addrs[i][0] && strcmp(a->server_addrs[i], host) == 0)
			return true;
	if (a->server_addrs[0][0])
		snprintf(why, whysz, "not the provisioning server (%s)", a->server_addrs[0]);
	else
		snprintf(why, whysz, "no provisioning server known yet");
	return false;
}

/* The transaction key of a request: top Via branch, Call-ID, CSeq. */
static void tx_key(const struct sip_msg *m, char out[CHECKSYNC_TX_KEY])
{
	struct sip_via via;
	char branch[256] = "";

	if (m->nvia > 0 && sip_via_parse(m->via[0].p, m->via[0].len, &via) == 0)
		(void)sip_param_get(via.params, "branch", branch, sizeof(branch));
	snprintf(out, CHECKSYNC_TX_KEY, "%s\n%s\n%u", branch, m->call_id, m->cseq_num);
}

static bool tx_seen(struct agent_checksync *s, const char *key, uint64_t now)
{
	for (size_t i = 0; i < CHECKSYNC_TX_MAX; i++)
		if (s->done[i].key[0] && now - s->done[i].at_ms <= CHECKSYNC_TX_LIFETIME_MS &&
		    strcmp(s->done[i].key, key) == 0)
			return true;
	return false;
}

static void tx_remember(struct agent_checksync *s, const char *key, uint64_t now)
{
	struct checksync_tx *t = &s->done[s->next_tx];

	s->next_tx = (s->next_tx + 1) % CHECKSYNC_TX_MAX;
	snprintf(t->key, sizeof(t->key), "%s", key);
	t->at_ms = now;
}

enum auth_result {
	AUTH_OK,
	AUTH_NONE,   /* no (parsable) Digest credentials */
	AUTH_WRONG,  /* another user, realm, uri, or a wrong response */
	AUTH_REPLAY, /* right credentials, nonce already used */
	AUTH_STALE,  /* right credentials, nonce expired (or evicted) */
	AUTH_FORGED, /* a nonce we never issued (or of a previous start) */
};

/* Whether the request's Authorization answers one of our nonces for sip_user. */
static enum auth_result checksync_authorized(struct ap_agent *a, const struct sip_msg *m,
					     uint64_t now)
{
	const char *value = sip_msg_header(m, "Authorization");
	struct digest_credentials cred;
	enum auth_result res = AUTH_WRONG;
	int r;

	if (!value || digest_credentials_parse(value, strlen(value), &cred) < 0)
		return AUTH_NONE;
	/* the uri must be this request's, or a captured answer would fit another request */
	if (strcmp(cred.username, agent_setting(a, "sip_user")) != 0 ||
	    strcmp(cred.realm, CHECKSYNC_REALM) != 0 || strcmp(cred.uri, m->uri) != 0 ||
	    !digest_verify(&cred, "NOTIFY", agent_setting(a, "sip_password")))
		goto out;
	r = digest_nonce_check(a->checksync->nonces, cred.nonce, cred.nc, now,
			       CHECKSYNC_NONCE_LIFETIME_S);
	res = r == 0 ? AUTH_OK
	      : r == -EALREADY ? AUTH_REPLAY
	      : r == -ESTALE   ? AUTH_STALE
			       : AUTH_FORGED;
out:
	memset(&cred, 0, sizeof(cred));
	return res;
}

void agent_sip_reply(int fd, const struct sip_msg *m, unsigned code, const char *reason,
		     const char *header, const char *value, const struct sockaddr_storage *to,
		     socklen_t tolen)
{
	char buf[4096];
	struct sip_builder b;
	sip_builder_init(&b, buf, sizeof(buf));
	sip_build_response_start(&b, m, code, reason, "agent");
	if (header)
		sip_build_header(&b, header, "%s", value);
	int n = sip_build_finish(&b, NULL, NULL, 0);
	if (n > 0)
		(void)sendto(fd, buf, (size_t)n, 0, (const struct sockaddr *)to, tolen);
}

/* 401 with a fresh nonce (stale=true: the credentials were right, only the nonce was not). */
static void checksync_challenge(struct ap_agent *a, const struct sip_msg *m, bool stale,
				const struct sockaddr_storage *from, socklen_t fromlen)
{
	struct agent_checksync *s = a->checksync;
	char nonce[DIGEST_NONCE_LEN + 1], challenge[256];

	if (digest_nonce_make(s->nonces, now_ms(), nonce, sizeof(nonce)) < 0 ||
	    digest_challenge_format(challenge, sizeof(challenge), CHECKSYNC_REALM, DIGEST_MD5,
				    nonce, NULL, stale) < 0)
		return;
	agent_sip_reply(s->fd, m, 401, "Unauthorized", "WWW-Authenticate", challenge, from,
			fromlen);
}

static void checksync_read(evutil_socket_t fd, short what, void *arg)
{
	struct ap_agent *a = arg;
	struct agent_checksync *s = a->checksync;
	char buf[SIP_MAX_DATAGRAM], host[ADDR_STRLEN], why[256], key[CHECKSYNC_TX_KEY];
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
	if (n <= 0)
		return;
	struct sip_msg *m = NULL;
	if (sip_parse(buf, (size_t)n, &m) < 0 || !m->is_request) {
		sip_msg_free(m);
		return;
	}
	if (m->error) {
		agent_sip_reply(s->fd, m, 400, m->error, NULL, NULL, &from, fromlen);
		goto done;
	}
	if (strcmp(m->method, "NOTIFY") != 0) {
		agent_sip_reply(s->fd, m, 405, "Method Not Allowed", "Allow", "NOTIFY", &from,
				fromlen);
		goto done;
	}
	char event[64] = "";
	const char *params = NULL;
	if (!m->event || sip_event_parse(m->event, event, sizeof(event), &params) < 0 ||
	    (strcasecmp(event, "check-sync") != 0 && strcasecmp(event, "resync") != 0 &&
	     strcasecmp(event, "reboot") != 0)) {
		agent_sip_reply(s->fd, m, 489, "Bad Event", "Allow-Events",
				"check-sync, resync, reboot", &from, fromlen);
		goto done;
	}
	addr_format_host((struct sockaddr *)&from, host, sizeof(host));
	{
		char norm[64];

		if (host_normalize(host, norm, sizeof(norm)) == 0)
			memcpy(host, norm, sizeof(norm));
	}
	if (!checksync_source_allowed(a, host, why, sizeof(why))) {
		agent_event(a, AP_EV_DECISION, NULL, "NOTIFY %s from %s ignored: %s; 403", event,
			    host, why);
		agent_sip_reply(s->fd, m, 403, "Forbidden", NULL, NULL, &from, fromlen);
		goto done;
	}
	uint64_t now = now_ms();
	tx_key(m, key);
	if (tx_seen(s, key, now)) {
		agent_event(a, AP_EV_DECISION, NULL,
			    "NOTIFY %s from %s is a retransmission of one already acted on: "
			    "200 again, ignored",
			    event, host);
		agent_sip_reply(s->fd, m, 200, "OK", NULL, NULL, &from, fromlen);
		goto done;
	}
	if (*agent_setting(a, "sip_password")) {
		enum auth_result r = checksync_authorized(a, m, now);
		static const char *const said[] = {
			[AUTH_NONE] = "without credentials: 401",
			[AUTH_WRONG] = "with wrong credentials: 401, ignored",
			[AUTH_REPLAY] = "replayed (its nonce was already used): 401 with a fresh "
					"nonce, ignored",
			[AUTH_STALE] = "with an expired nonce: 401 with a fresh nonce, ignored",
			[AUTH_FORGED] = "with a nonce this agent never issued: 401, ignored",
		};
		if (r != AUTH_OK) {
			agent_event(a, AP_EV_DECISION, NULL, "NOTIFY %s from %s %s", event, host,
				    said[r]);
			checksync_challenge(a, m, r == AUTH_REPLAY || r == AUTH_STALE, &from,
					    fromlen);
			goto done;
		}
	}
	char reboot[16] = "";
	bool wants_reboot =
		strcasecmp(event, "reboot") == 0 ||
		(params && sip_param_get(params, "reboot", reboot, sizeof(reboot)) == 0 &&
		 strcasecmp(reboot, "true") == 0);
	tx_remember(s, key, now);
	agent_sip_reply(s->fd, m, 200, "OK", NULL, NULL, &from, fromlen);
	sip_msg_free(m);
	ap_agent_check_sync(a, wants_reboot);
	return;
done:
	sip_msg_free(m);
}

void agent_checksync_stop(struct ap_agent *a)
{
	struct agent_checksync *s = a->checksync;
	if (!s)
		return;
	if (s->ev)
		event_free(s->ev);
	if (s->fd >= 0)
		close(s->fd);
	digest_nonces_free(s->nonces);
	free(s);
	a->checksync = NULL;
}

int agent_checksync_start(struct ap_agent *a, const char **ret_why)
{
	const char *listen = agent_setting(a, "sip_listen");
	if (!*listen || a->checksync)
		return 0;
	struct addr addr;
	if (addr_parse(listen, &addr) < 0) {
		*ret_why = "sip_listen is not ADDR:PORT";
		return -EINVAL;
	}
	struct agent_checksync *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	a->checksync = s;
	s->fd = -1;
	/* a new secret at every start: no nonce of a previous run is ours */
	int r = digest_nonces_new(CHECKSYNC_NONCE_SLOTS, true, &s->nonces);
	if (r < 0) {
		*ret_why = "no random bytes for the check-sync nonces";
		agent_checksync_stop(a);
		return r;
	}
	s->fd = socket(addr.ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (s->fd < 0 || setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s->fd, (struct sockaddr *)&addr.ss, addr.len) < 0) {
		int err = -errno;
		*ret_why = "cannot listen on sip_listen";
		agent_checksync_stop(a);
		return err;
	}
	s->ev = event_new(a->base, s->fd, EV_READ | EV_PERSIST, checksync_read, a);
	if (!s->ev || event_add(s->ev, NULL) < 0) {
		agent_checksync_stop(a);
		return -ENOMEM;
	}
	const char *from = agent_setting(a, "checksync_from");
	agent_event(a, AP_EV_STEP, NULL, "listening for SIP NOTIFY check-sync on %s (%s)", listen,
		    *from ? "from checksync_from only"
		    : *agent_setting(a, "sip_password")
			    ? "Digest required"
			    : "from the provisioning server only");
	return 0;
}
