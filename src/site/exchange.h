// SPDX-License-Identifier: MIT
/*
 * One exchange of every protocol: a request for a file from its start to its one log line
 * and one journal row. exchange_open() normalises and resolves the name, asks the
 * enumeration defence, and applies the access rule for whoever asks (a device gets only its
 * own files, whatever the protocol); exchange_close() writes the log line and the journal
 * row. What happened is an enum outcome: the journal's text and the log level come from one
 * table here, and each protocol maps it to its wire answer with one table of its own
 * (docs/routes.md, "Outcomes").
 */
#ifndef AUTOPROV_SITE_EXCHANGE_H
#define AUTOPROV_SITE_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/addr.h"
#include "core/log.h"
#include "core/mac.h"
#include "site/site.h"

/*
 * What became of a request. Several outcomes share a journal text (the journal keeps the
 * strings it always had: databases, `autoprov log` and the journal's sampling read them);
 * they differ in their log level or their wire answer.
 */
enum outcome {
	OUTCOME_SENT,	       /* the whole file: "sent" */
	OUTCOME_PARTIAL,       /* a range of it (HTTP 206, FTP REST): "sent", no MD5 */
	OUTCOME_REDIRECTED,    /* HTTP's redirection service (302): "sent" */
	OUTCOME_NOT_MODIFIED,  /* the client's copy is current (304): "not modified" */
	OUTCOME_NOT_FOUND,     /* no such file, or an unknown device's: "not found" */
	OUTCOME_DENIED,	       /* the access rule: another device's file: "denied" */
	OUTCOME_REFUSED,       /* a name refused (leaves the site, bad bytes): "denied", warning */
	OUTCOME_AUTH_REQUIRED, /* no credentials yet (HTTP 401): "denied" */
	OUTCOME_AUTH_FAILED,   /* wrong credentials: "denied", warning */
	OUTCOME_BLOCKED,       /* the enumeration defence blocks the peer: not journaled */
	OUTCOME_TOO_LARGE,     /* over max_file_size: "error", warning */
	OUTCOME_BUSY,	       /* a limit of the server: "busy", warning */
	/*
	 * the store could not be asked for what the answer needs (site/outage.h): the
	 * protocol's "try later"; "unavailable" (the outage is warned about once, not per
	 * request)
	 */
	OUTCOME_UNAVAILABLE,
	OUTCOME_BAD_REQUEST,   /* a request that could not be parsed: "error", warning */
	OUTCOME_NOT_IMPLEMENTED, /* a method or option the server does not do: "error" */
	OUTCOME_ERROR,	   /* the server's fault (-EIO: a template that fails): "error", warning */
	OUTCOME_TIMED_OUT, /* the peer stopped answering: "timed out" */
	OUTCOME_ABORTED,   /* the peer (or a new request) ended the transfer: "aborted" */
	/* SIP PnP (docs/sip.md) */
	OUTCOME_PNP_URL_SENT,	  /* NOTIFY with the provisioning URL sent: "pnp-url-sent" */
	OUTCOME_NOTIFY_ANSWERED,  /* the phone answered the NOTIFY: "notify-CODE" */
	OUTCOME_NOTIFY_TIMEOUT,	  /* it did not: "notify-timeout" */
	OUTCOME_SUBSCRIBE_REPEAT, /* "subscribe-repeat" */
	OUTCOME_BAD_EVENT,	  /* "bad-event" */
	OUTCOME_SIP_BAD_REQUEST,  /* "bad-request" */
	OUTCOME_NOT_ALLOWED,	  /* "not-allowed" */
	OUTCOME_IGNORED_NO_MAC,	  /* "ignored-no-mac" */
	OUTCOME_IGNORED_UNKNOWN,  /* "ignored-unknown" */
	OUTCOME_IGNORED_OUI,	  /* "ignored-oui" */
	_OUTCOME_MAX,
};

/* The journal's text of o ("sent", "not found", ...); NOTIFY_ANSWERED gives "notify-". */
const char *outcome_journal_text(enum outcome o);
/* The level of o's log line. */
enum log_level outcome_log_level(enum outcome o);
/* Whether o is a success (journal_is_miss() is false for its text). */
bool outcome_is_success(enum outcome o);
/* Whether o is journaled (BLOCKED is not: the block was, once, when it started). */
bool outcome_is_journaled(enum outcome o);
/* The label of o on /metrics ("sent", "partial", "not_found", ...): one per outcome. */
const char *outcome_metric_name(enum outcome o);

/* Who asks. */
enum principal_kind {
	PRINCIPAL_ANONYMOUS, /* no login: device files as the protocol allows */
	PRINCIPAL_USER,	     /* a site user: every file */
	PRINCIPAL_DEVICE,    /* a device (a login, a certificate): its own files only */
	PRINCIPAL_NOBODY,    /* a certificate naming no device (or several): generic files */
	_PRINCIPAL_KIND_MAX,
};

struct principal {
	enum principal_kind kind;
	char mac[MAC_LEN + 1];	/* PRINCIPAL_DEVICE: the device */
	const char *how;	/* PRINCIPAL_DEVICE: "login" or "certificate" (the log's detail) */
	const char *nobody_why; /* PRINCIPAL_NOBODY: why (the log's detail) */
	/*
	 * PRINCIPAL_ANONYMOUS: whether device files are served (TFTP's device_files = deny
	 * refuses every name bound to a device, known or not, the same way).
	 */
	bool anonymous_device_files;
	/* The MAC a User-Agent names ("" none), and whether it must be the file's device. */
	char claimed_mac[MAC_LEN + 1];
	bool claim_binds;
	/*
	 * One more check of a device's file, or NULL: 0, or -EACCES with *why (HTTPS's
	 * certificate binding), or DIRECTORY_UNAVAILABLE when it could not ask the store.
	 */
	int (*check)(void *arg, const char *mac, const char **why);
	void *check_arg;
};

/*
 * The access rule: whether p may have a file of the device mac ("" a file of no device).
 * 0, or -EPERM with *why (the log's detail) when it may not, or DIRECTORY_UNAVAILABLE when
 * p's check could not ask the store.
 */
int exchange_access(const struct principal *p, const char *mac, const char **why);

struct exchange {
	struct site *site;
	struct site_request req; /* proto, peer, local, prefix; resolve's findings (mac) */
	struct site_file *file;	 /* what open resolved, referenced; NULL otherwise */
	char peer_text[ADDR_STRLEN];
	const char *name;	/* as requested, escaped (the caller's buffer) */
	const char *verb;	/* "GET", "RETR", or NULL */
	bool verb_quoted;	/* the verb inside the quotes ("GET /x"), or before them */
	const char *detail;	/* why, for the log line, or NULL */
	const char *user_agent; /* escaped, or NULL */
	const char *login_mac;	/* the device that logged in (the journal's MAC when the file
				   names none), or NULL */
	unsigned blocked_for;	/* OUTCOME_BLOCKED: seconds the peer stays blocked */
	int error;		/* the resolver's error, 0 if none */
	struct timespec started;
	bool closed;
};

/*
 * Starts an exchange of proto ("tftp", "http", ...) with peer (NULL when not from the
 * network), reached at local (or NULL), for name (escaped, kept by reference).
 */
void exchange_begin(struct exchange *x, struct site *site, const char *proto,
		    const struct sockaddr *peer, const struct sockaddr *local, const char *name);

/*
 * Resolves len bytes of raw (as the peer sent them, below prefix or NULL) for who: the
 * defence's block, site_resolve(), the defence's miss, then the access rule. OUTCOME_SENT
 * with x->file referenced (dropped by exchange_close), or another outcome (x->detail and
 * x->blocked_for set as they apply). A refused access to a device's file is a miss of the
 * defence: its block turns DENIED into BLOCKED.
 */
enum outcome exchange_open(struct exchange *x, const char *prefix, const char *raw, size_t len,
			   const struct principal *who);

/*
 * Ends x: one log line ("PEER "NAME" ANSWER, BYTES bytes TAIL: DETAIL"; answer is the
 * outcome's text unless given, as HTTP's status) at the outcome's level, one journal row
 * with md5 (of what was sent, or NULL) unless the outcome is not journaled, the site's
 * counters (site/metrics.h: the request, its bytes, the time since x->started); drops
 * x->file.
 * code: NOTIFY_ANSWERED's status. Only the first close of x counts.
 */
void exchange_close(struct exchange *x, enum outcome o, const char *answer, uint64_t bytes,
		    const char *md5, const char *tail);
void exchange_close_code(struct exchange *x, enum outcome o, unsigned code, const char *answer,
			 uint64_t bytes, const char *md5, const char *tail);

/* Maps a resolver's error to an outcome: -ENOENT NOT_FOUND, -EACCES REFUSED, ... */
enum outcome exchange_outcome_of(int r);

#endif
