// SPDX-License-Identifier: MIT
/*
 * SIP over UDP on the libevent loop: the Plug-and-Play responder (RFC 6080 ua-profile
 * SUBSCRIBEs, unicast and on the multicast group 224.0.1.75, answered 200 then NOTIFY
 * with the provisioning URL) and out-of-dialog NOTIFY client transactions (RFC 3261
 * 17.1.2: Timer E retransmits from T1 doubling up to T2, Timer F gives up at 64*T1),
 * which `autoprov resync` uses for check-sync, answering one 401 / 407 with Digest.
 */
#ifndef AUTOPROV_PROTO_SIP_H
#define AUTOPROV_PROTO_SIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "site/exchange.h"

struct event_base;
struct site;

#define SIP_PNP_GROUP	  "224.0.1.75"
#define SIP_URL_MAX	  512
#define SIP_URL_RULES_MAX 64
#define SIP_OUI_MAX	  64

enum sip_answer {
	SIP_ANSWER_ALL,	  /* every SUBSCRIBE, MAC known or not */
	SIP_ANSWER_KNOWN, /* only MACs of enabled devices of the inventory */
	SIP_ANSWER_OUI,	  /* only MACs whose first three bytes are listed in oui */
};

/* url_for = VENDOR[/MODEL] URL: the URL for a vendor (and model) of the ua-profile Event. */
struct sip_url_rule {
	char vendor[64];
	char model[64]; /* "" for any model of the vendor */
	char url[SIP_URL_MAX];
};

struct sip_config {
	bool enabled;
	struct addr listen;
	bool multicast;	      /* also receive on 224.0.1.75 at the listener's port */
	char interfaces[256]; /* names or IPv4 addresses to join on; "" the listener's */
	enum sip_answer answer;
	uint32_t oui[SIP_OUI_MAX]; /* 24-bit prefixes */
	size_t noui;
	char url[SIP_URL_MAX]; /* Mustache template of the default URL */
	/* The TFTP listener {{tftp_url}} names (len 0: none in this daemon, port 69 then):
	 * set by serve from the bound listener, not read from the configuration. */
	struct addr tftp;
	struct sip_url_rule rules[SIP_URL_RULES_MAX];
	size_t nrules;
	unsigned t1_ms, t2_ms;	    /* RFC 3261 T1 and T2 */
	unsigned max_subscriptions; /* PnP exchanges remembered at once */
	unsigned max_per_source;    /* of which from one source address */
};

void sip_config_default(struct sip_config *cfg);
/* all, known, oui. 0 or -EINVAL. */
int sip_parse_answer(const char *value, enum sip_answer *ret);
/* Adds the OUIs of "0004F2 00:30:4f 0080f0" to cfg. 0 or -EINVAL (-E2BIG when full). */
int sip_config_add_oui(struct sip_config *cfg, const char *value);
/* Adds "VENDOR[/MODEL] URL" to cfg's rules. 0 or -EINVAL (-E2BIG when full). */
int sip_config_add_url_rule(struct sip_config *cfg, const char *value);
/* The URL template for vendor and model (either may be ""): the most specific rule. */
const char *sip_config_url(const struct sip_config *cfg, const char *vendor, const char *model);

struct sip_server;

/*
 * Binds the listener (and joins the multicast group when cfg->multicast). site is the site
 * whose inventory and journal PnP uses; NULL for a NOTIFY client only (requests are then
 * answered 405). 0, or a negative errno with the reason in err.
 */
int sip_server_new(struct event_base *base, struct site *site, const struct sip_config *cfg,
		   struct sip_server **ret, char *err, size_t errsz);
/* Stops every transaction (their callbacks are not called) and closes the sockets. NULL ok. */
void sip_server_free(struct sip_server *srv);
/* New policy, URLs and timers for what comes next (the addresses stay). */
void sip_server_set_config(struct sip_server *srv, const struct sip_config *cfg);

/*
 * The response of an outcome (docs/sip.md, "Outcomes"): its status, with the reason in
 * *ret_reason (when not NULL); 0 when it is not answered. -EINVAL out of range.
 */
int sip_outcome_status(enum outcome o, const char **ret_reason);
uint16_t sip_server_port(const struct sip_server *srv);

/* An out-of-dialog NOTIFY to send. */
struct sip_notify {
	struct addr to;	   /* where the datagram goes */
	const char *uri;   /* Request-URI and To, e.g. "sip:100@10.0.0.5:5060" */
	const char *event; /* "check-sync;reboot=true", "resync", ... */
	const char *user;  /* Digest credentials for one 401 / 407, or NULL */
	const char *password;
};

struct sip_notify_result {
	unsigned status;    /* final response code, 0 on timeout or a send error */
	char reason[64];    /* its reason phrase, or "timeout" / the error */
	bool authenticated; /* a challenge was answered */
};

/*
 * Starts a NOTIFY client transaction. done(arg, result) is called once, from the loop, when
 * a final response arrived (after answering one 401 / 407 when credentials were given) or
 * Timer F fired. 0, or a negative errno (done is then never called).
 */
int sip_notify_start(struct sip_server *srv, const struct sip_notify *n,
		     void (*done)(void *arg, const struct sip_notify_result *res), void *arg);
/* Client transactions in flight. */
size_t sip_notify_pending(const struct sip_server *srv);

#endif
