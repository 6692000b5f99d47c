// SPDX-License-Identifier: MIT
/*
 * Provisioning URLs as endpoints are given them: full tftp / ftp / http / https URLs with
 * credentials, IPv6 literals and ports; the scheme-less static-server forms of the Algo
 * guide (seed 000: `192.168.1.1`, `provserver.mydomain.com`, `192.168.1.1/files`,
 * `user:pwd@192.168.1.1`); Panasonic's forms (seed 003); SPA profile rules with their
 * `[--key K]` qualifier (seed 001); AudioCodes option 160 values (seed 004); and RFC 3986
 * resolution of relative references (FIP `include:config` lines, seed 002). Pure code.
 */
#ifndef AUTOPROV_AGENT_URL_H
#define AUTOPROV_AGENT_URL_H

/** Longest URL (or profile rule, or option 160 value) the parsers accept. */
#define PROV_URL_MAX 4096

/** A parsed provisioning URL; every string is malloc'd and owned by the struct. */
struct prov_url {
	char scheme[8]; /**< "tftp", "ftp", "http" or "https" (lower case) */
	char *user;	/**< percent-decoded, or NULL when the URL has none */
	char *password; /**< percent-decoded, or NULL when there is no ':' in the user info */
	char *host;	/**< name, IPv4 or IPv6 address (without brackets; a zone as
			     "fe80::1%eth0"); "" only when the URL names no server at all */
	unsigned port;	/**< 0: not given (the scheme's default) */
	char *path;	/**< as given, from its leading '/' (query and all); "" when absent */
};

/**
 * Parses @p s (surrounding blanks ignored) into *ret (then prov_url_done() it).
 *
 * Accepts `scheme://[user[:password]@]host[:port][/path]` and, when @p default_scheme
 * (e.g. "tftp", the Algo's default download method) is not NULL, the same without
 * `scheme://`. The host is a name, a dotted IPv4 address, `[IPv6]` (with an optional
 * `%25zone`) or a bare IPv6 address (then without a port). A string that is only a path
 * (`/cpe/x.conf`, or `tftp:///cpe/x.conf`: SPA profile rules may leave the server out,
 * seed 001) gives host "": the caller supplies the server (prov_url_on_server()). User
 * and password are percent-decoded; the path is kept byte for byte (spaces included, as
 * FIP URLs have them; prov_url_format() encodes them).
 *
 * Returns 0; -EINVAL (bad syntax), -EPROTONOSUPPORT (a scheme other than tftp, ftp, http,
 * https), -ENAMETOOLONG (longer than PROV_URL_MAX) with *ret_why (optional) a readable
 * reason; or -ENOMEM. *ret is set only on success.
 */
int prov_url_parse(const char *s, const char *default_scheme, struct prov_url *ret,
		   const char **ret_why);

/**
 * The canonical string of @p u (malloc'd; NULL: no memory): lower-case scheme, user and
 * password percent-encoded where needed, IPv6 hosts in brackets, the port when not 0,
 * then the path percent-encoded where RFC 3986 requires it (`/HTTP Directory/sip.cfg`
 * gives `/HTTP%20Directory/sip.cfg`; escapes already there, '/', '?', '#' and the other
 * characters a path may hold stay as they are). The result is a URL every client takes;
 * prov_url_format() of prov_url_parse() of it gives it back.
 */
char *prov_url_format(const struct prov_url *u);

/**
 * @p url (any form prov_url_parse() takes with @p default_scheme) completed with the
 * server it leaves out: a path-only URL (`/IP542N.conf`, `tftp:///cfg/x.conf`: a SPA
 * Profile Rule may omit the server, seed 001) takes the host, port and login of @p server
 * (same forms), and its scheme unless @p url writes one; a URL with a server is kept.
 * Returns 0 with *ret the canonical URL (malloc'd); -EINVAL / -EPROTONOSUPPORT /
 * -ENAMETOOLONG with *ret_why (PROV_URL_NO_SERVER when @p url names no server and
 * @p server is NULL or names none); -ENOMEM.
 */
int prov_url_on_server(const char *url, const char *server, const char *default_scheme,
		       char **ret, const char **ret_why);

/** prov_url_on_server()'s *ret_why when @p url names no server and @p server none. */
#define PROV_URL_NO_SERVER "the URL names no server and none is known"


/** Frees what @p u holds and clears it; accepts a cleared or half-filled struct. */
void prov_url_done(struct prov_url *u);

/**
 * @p base, a server directory URL ("tftp://10.0.0.1", "http://h/prov/"), followed by
 * @p name ("algop8188.conf", "fw/400HD.img") with exactly one '/' between them (leading
 * slashes of @p name are dropped; an empty @p name gives @p base). Plain string work: the
 * caller formats @p base first. Returns a malloc'd string, NULL when out of memory.
 */
char *prov_url_join(const char *base, const char *name);

/**
 * @p ref resolved against @p base as RFC 3986 section 5.2 says: an absolute @p ref is
 * taken as it is (dot segments removed), a relative one ("sip.cfg", "HTTP Directory/
 * sip.cfg", "../x.cfg", "/abs.cfg", "//host/x") is merged with @p base, whose credentials
 * and port it keeps. Returns a malloc'd string, or NULL when @p base has no scheme, either
 * string is longer than PROV_URL_MAX, or memory runs out.
 */
char *prov_url_resolve(const char *base, const char *ref);

/** A profile rule (seed 001): an optional `[--key K]` qualifier, then the URL. */
struct profile_rule {
	char *key; /**< the decryption key, or NULL */
	char *url; /**< the URL as written (not parsed: give it to prov_url_parse()) */
};

/**
 * Parses a profile or upgrade rule: `[--key K]URL`, `[--key "K"] URL`, `[--key 'K']URL`
 * or just `URL` (blanks around the parts ignored). Expand the rule's macros first
 * (macro_expand()): a key may be a macro too. Returns 0, or -EINVAL / -ENAMETOOLONG with
 * *ret_why, or -ENOMEM; *ret set only on success (then profile_rule_done() it).
 */
int profile_rule_parse(const char *s, struct profile_rule *ret, const char **ret_why);
void profile_rule_done(struct profile_rule *r);

/**
 * Parses an AudioCodes DHCP option 160 value (seed 004), `<proto>://host`,
 * `<proto>://host/<fw>`, `<proto>://host/<fw>;<cfg>` or `<proto>://host/;<cfg>`
 * (credentials and port allowed), into three malloc'd URLs:
 *
 * - *ret_server: the server directory, `<proto>://host/` (or the URL itself when its
 *   path ends with '/', as in `<proto>://host/dir/;<cfg>`);
 * - *ret_firmware: the firmware URL, or NULL when the value names none;
 * - *ret_config: the configuration URL, or NULL; a relative name is taken from the
 *   server directory (`http://h/fw/420HD.img;cfg/420HD.cfg` gives `http://h/cfg/420HD.cfg`,
 *   as autoprov's example site writes it), an absolute URL as it is.
 *
 * A protocol is required. Returns 0, -EINVAL / -EPROTONOSUPPORT / -ENAMETOOLONG with
 * *ret_why, or -ENOMEM; the outputs are set only on success.
 */
int ac_opt160_parse(const char *v, char **ret_server, char **ret_firmware, char **ret_config,
		    const char **ret_why);

#endif
