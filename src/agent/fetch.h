// SPDX-License-Identifier: MIT
/*
 * Downloads for the agent: TFTP, FTP, HTTP and HTTPS through libcurl's multi interface,
 * driven by the caller's libevent loop. One fetcher (one multi handle, one timer, one
 * event per socket curl asks us to watch, a DNS cache and TLS sessions shared by all its
 * transfers) serves any number of concurrent fetches, thousands of them, on one thread.
 * Each fetch ends with exactly one call of its done() callback, from the loop, carrying
 * an error class (enum fetch_status) and one readable sentence for the agent's timeline.
 * The body is kept in memory, capped by fetch_options.max_size.
 */
#ifndef AUTOPROV_AGENT_FETCH_H
#define AUTOPROV_AGENT_FETCH_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;

/** Defaults used for the zero values of struct fetch_options. */
#define FETCH_DEFAULT_CONNECT_TIMEOUT_MS 10000L	 /* TCP (and TLS) set-up; TFTP: first answer */
#define FETCH_DEFAULT_TIMEOUT_MS	 300000L /* the whole transfer, queueing included */
#define FETCH_DEFAULT_STALL_TIMEOUT_MS	 30000L	 /* no byte received for this long */
#define FETCH_DEFAULT_MAX_SIZE		 (128u << 20)
#define FETCH_DEFAULT_MAX_REDIRECTS	 5
#define FETCH_DEFAULT_USER_AGENT	 "autoprov-agent/" AUTOPROV_VERSION

/** How an HTTP login is answered (credentials come from the URL or fetch_options.user). */
enum fetch_auth {
	FETCH_AUTH_ANY,	   /**< Digest or Basic, whichever the server asks for (default) */
	FETCH_AUTH_BASIC,  /**< Basic, sent with the first request */
	FETCH_AUTH_DIGEST, /**< Digest only */
};

/**
 * Options of one fetch. All-zero (or a NULL pointer) means the defaults noted here.
 * Strings are copied by fetch_start(); they need not outlive the call.
 */
struct fetch_options {
	long timeout_ms;	 /**< whole transfer; 0 = FETCH_DEFAULT_TIMEOUT_MS */
	long connect_timeout_ms; /**< 0 = FETCH_DEFAULT_CONNECT_TIMEOUT_MS */
	long stall_timeout_ms;	 /**< nothing received for so long = timeout; 0 = default */
	const char *ca_file;	 /**< PEM CA certificates trusted besides the system store */
	bool insecure;		 /**< HTTPS: do not verify the server's certificate and name */
	const char *cert_file;	 /**< HTTPS client certificate (PEM) */
	const char *key_file;	 /**< its key (PEM); NULL = in cert_file */
	const char *user;	 /**< overrides the user in the URL (FTP, HTTP) */
	const char *password;	 /**< overrides the password in the URL */
	enum fetch_auth auth;	 /**< HTTP login scheme */
	unsigned tftp_blksize;	 /**< RFC 2348 blksize asked for, 8..65464; 0 = 512 */
	size_t max_size;	 /**< a longer body is FETCH_TOO_BIG; 0 = FETCH_DEFAULT_MAX_SIZE */
	const char *user_agent;	 /**< HTTP User-Agent; NULL = FETCH_DEFAULT_USER_AGENT */
	bool ftp_active;	 /**< FTP active mode (PORT/EPRT); passive (EPSV, PASV) otherwise */
	int max_redirects;	 /**< HTTP redirections followed; 0 = 5, negative = none */
	const char *proxy;	 /**< HTTP proxy URL; NULL = none (*_proxy variables ignored) */
	const char *source_address; /**< local IP address to send from; NULL = the kernel's */
	/**
	 * Only the first head_bytes bytes (a firmware header): an HTTP Range request, an FTP
	 * RETR aborted (ABOR) once they arrived, a TFTP transfer stopped with an ERROR packet
	 * after the block that holds them; its sockets get a small receive buffer, so that
	 * little more than the head crosses the network before the abort. FETCH_OK with at
	 * most head_bytes bytes (fewer: the whole file). 0 = the whole file.
	 */
	size_t head_bytes;
};

/** Error classes, as the agent's timeline and its retry logic distinguish them. */
enum fetch_status {
	FETCH_OK,	   /**< the whole body arrived (HTTP 2xx, FTP 226, TFTP last block) */
	FETCH_NOT_FOUND,   /**< HTTP 404/410, FTP 550, TFTP error 1 */
	FETCH_DENIED,	   /**< HTTP 403, TFTP error 2, FTP access denied */
	FETCH_AUTH,	   /**< login required or refused (HTTP 401/407, FTP 530) */
	FETCH_TIMEOUT,	   /**< connect, stall or whole-transfer timeout */
	FETCH_REFUSED,	   /**< TCP connection refused */
	FETCH_UNREACHABLE, /**< no route to host or network */
	FETCH_DNS,	   /**< host name not resolved */
	FETCH_TLS,	   /**< handshake failed, server certificate not trusted, bad client cert */
	FETCH_TOO_BIG,	   /**< body longer than max_size */
	FETCH_PROTOCOL,	   /**< any other answer (HTTP 500, TFTP error 4, a malformed reply) */
	FETCH_ERROR,	   /**< local failure (memory, sockets) */
	FETCH_STATUS_MAX
};

/** A few words ("ok", "not found", "timed out", ...); "?" for a value out of range. */
const char *fetch_status_name(enum fetch_status s);

/** What done() receives. Valid until done() returns, then freed with the fetch. */
struct fetch_result {
	enum fetch_status status;
	/** HTTP status, FTP reply code, TFTP error code (for a TFTP ERROR), or 0 */
	long response_code;
	/**
	 * The body, NUL-terminated (len excludes the NUL); set only for FETCH_OK, never NULL
	 * then. done() may take it (set body to NULL) and free() it later.
	 */
	char *body;
	size_t len;
	/**
	 * One sentence for the timeline, e.g. "HTTP 404 Not Found from 10.0.0.1:8080",
	 * "TFTP error 1 (File not found) from 10.0.0.1:69", "connection refused by
	 * 10.0.0.1:8080", "TLS: SSL certificate problem: ... (10.0.0.1:443)".
	 */
	char message[256];
	double seconds;		  /**< from fetch_start() to the end */
	const char *content_type; /**< HTTP Content-Type or NULL */
	const char *url;	  /**< the URL last asked (after redirections), no password */
	/** an HTTP 3xx answer not followed (fetch_options.max_redirects negative, or too
	 * many): its Location, resolved against url; any scheme (a redirection service may
	 * point at tftp://); else NULL */
	const char *redirect_url;
	/** the address the transfer talked to ("10.0.0.1", "2001:db8::1"); for TFTP, the
	 * URL's host as written (curl does not say); "" when unknown */
	char peer_ip[64];
	int curl_code;		  /**< CURLcode, for debugging */
};

struct fetcher;
struct fetch;

/**
 * A fetcher driven by base. NULL with errno set on failure (ENOMEM, EIO if libcurl
 * could not be initialised). curl_global_init() is called on first use.
 */
struct fetcher *fetcher_new(struct event_base *base);

/**
 * Cancels every fetch in flight (no callback is called for them) and frees the fetcher.
 * Accepts NULL. May be called from a done() callback.
 */
void fetcher_free(struct fetcher *f);

/** Fetches in flight: started, not cancelled, done() not yet called. */
unsigned fetcher_active(const struct fetcher *f);

/**
 * Starts fetching url (tftp://, ftp://, ftps://, http:// or https://; user:password@
 * in FTP and HTTP URLs is used). o may be NULL for the defaults.
 * Returns the fetch, or NULL with errno set: EINVAL (malformed URL, bad option),
 * EPROTONOSUPPORT (another scheme), ENOMEM. Otherwise done(r, arg) is called exactly once,
 * later, from the loop, never from inside fetch_start(); the fetch is freed when it returns.
 */
struct fetch *fetch_start(struct fetcher *f, const char *url, const struct fetch_options *o,
			  void (*done)(struct fetch_result *r, void *arg), void *arg);

/**
 * Stops a fetch in flight and frees it; its done() is not called. Accepts NULL. Must not
 * be called once done() has returned (the fetch is gone); from inside its own done() it
 * does nothing.
 */
void fetch_cancel(struct fetch *x);

#endif
