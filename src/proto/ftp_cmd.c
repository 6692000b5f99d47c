// SPDX-License-Identifier: MIT
/*
 * The FTP server's commands once a line is read: the dispatch, the logins (USER, PASS and
 * the delay of a failed one), files (RETR, SIZE, MDTM) opened through the exchange with the
 * login's access rule, FTPS (AUTH, PROT) and the rest a read-only server answers.
 */
#include "proto/ftp_internal.h"

#include <errno.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "core/str.h"
#include "site/directory.h"

/* ---- names and files ---- */

/* Who the session's login is, for the access rule (site/exchange.h). */
static void principal_of(const struct session *s, struct principal *p)
{
	memset(p, 0, sizeof(*p));
	switch (s->login) {
	case LOGIN_USER: p->kind = PRINCIPAL_USER; break;
	case LOGIN_DEVICE:
		p->kind = PRINCIPAL_DEVICE;
		str_copy(p->mac, sizeof(p->mac), s->mac);
		p->how = "login";
		break;
	default: p->kind = PRINCIPAL_ANONYMOUS; break; /* generic files only */
	}
}

void ftp_request_of(const struct session *s, struct site_request *req)
{
	*req = (struct site_request){
		.proto = "ftp",
		.peer = (const struct sockaddr *)&s->peer.ss,
		.local = (const struct sockaddr *)&s->local.ss,
	};
}

/*
 * Opens the exchange of a command's file name, from the working directory, with the access
 * rule of the login. OUTCOME_SENT with x->file; else the outcome (REFUSED a name leaving the
 * site, NOT_FOUND with path "" for the top, DENIED another device's file, BLOCKED, ...).
 * path gets the normalised path ("" when refused).
 */
enum outcome ftp_session_resolve(struct session *s, const char *arg, size_t len, char *path,
				 size_t pathsz, struct exchange *x)
{
	struct principal who;
	int r;

	exchange_begin(x, s->srv->site, "ftp", (const struct sockaddr *)&s->peer.ss,
		       (const struct sockaddr *)&s->local.ss, NULL);
	r = ftp_path_resolve(s->cwd, arg, len, s->srv->cfg.max_command_length, path, pathsz);
	if (r < 0) {
		path[0] = '\0';
		return OUTCOME_REFUSED;
	}
	if (!path[0])
		return OUTCOME_NOT_FOUND;
	principal_of(s, &who);
	return exchange_open(x, NULL, path, strlen(path), &who);
}

/* Replies to a command whose file did not open: the table's reply, and a block closes. */
void ftp_resolve_failed(struct session *s, enum outcome o, const char *path)
{
	unsigned code = 550;
	const char *text = ftp_outcome_reply(o, &code);

	if (o == OUTCOME_NOT_FOUND && !path[0])
		text = "Not a plain file.";
	ftp_reply(s, code, "%s", text);
	/* 421 closes the control connection (RFC 959) */
	if (o == OUTCOME_BLOCKED || o == OUTCOME_UNAVAILABLE)
		ftp_session_close_after(s);
}

bool ftp_data_prepared(struct session *s)
{
	if (s->dstate == DATA_NONE) {
		ftp_reply(s, 425, "Use EPSV or PASV first.");
		return false;
	}
	return true;
}

static void cmd_retr(struct session *s, const struct ftp_command *c)
{
	struct transfer *x = &s->xfer;
	struct exchange ex;
	struct site_file *f;
	char path[PATH_MAX], what[PATH_LOG_MAX + 64];
	uint64_t rest = s->rest;
	enum outcome o;
	int r = 0;

	s->rest = 0;
	if (!ftp_data_prepared(s))
		return;
	o = ftp_session_resolve(s, c->arg, c->arg_len, path, sizeof(path), &ex);
	memset(x, 0, sizeof(*x));
	ftp_log_path(x->path, sizeof(x->path), path[0] ? path : NULL, c->arg, c->arg_len);
	if (o != OUTCOME_SENT) {
		ftp_resolve_failed(s, o, path);
		ftp_log_request(s, o, "RETR", x->path, 0, NULL, ex.req.mac, NULL, ex.detail);
		ftp_data_close(s);
		return;
	}
	f = ex.file;
	ex.file = NULL; /* the transfer's now */
	x->verb = "RETR";
	x->file = f;
	x->data = f->data;
	x->size = f->size;
	x->ascii = s->ascii;
	x->rest = rest;
	memcpy(x->mac, ex.req.mac, sizeof(x->mac));
	if (x->ascii) {
		if (ftp_ascii_seek(f->data, f->size, rest, &x->off, &x->astate) < 0)
			r = -ERANGE;
	} else if (rest > f->size) {
		r = -ERANGE;
	} else {
		x->off = (size_t)rest;
	}
	if (r < 0) {
		ftp_reply(s, 554, "Restart position %llu is beyond the end of the file.",
			  (unsigned long long)rest);
		ftp_log_request(s, OUTCOME_BAD_REQUEST, "RETR", x->path, 0, NULL, x->mac, NULL,
				"restart position beyond the end");
		ftp_transfer_done(x);
		ftp_data_close(s);
		return;
	}
	snprintf(what, sizeof(what), "Opening %s mode data connection for %s (%llu bytes).",
		 x->ascii ? "ASCII" : "BINARY", x->path,
		 (unsigned long long)(x->ascii ? ftp_ascii_size(f->data, f->size) : f->size));
	ftp_transfer_begin(s, what);
}

/* SIZE and MDTM: the file as RETR would send it (not journaled). */
static void cmd_stat_file(struct session *s, const struct ftp_command *c)
{
	struct exchange ex;
	struct site_file *f;
	char path[PATH_MAX], when[32];
	enum outcome o = ftp_session_resolve(s, c->arg, c->arg_len, path, sizeof(path), &ex);

	if (o != OUTCOME_SENT) {
		if (o == OUTCOME_NOT_FOUND && path[0] &&
		    site_dir_check(s->srv->site, s->srv->tree, path,
				   s->login == LOGIN_DEVICE ? s->mac : "") == 0) {
			ftp_reply(s, 550, "Not a plain file.");
			return;
		}
		ftp_resolve_failed(s, o, path);
		return;
	}
	f = ex.file;
	ex.file = NULL;
	if (c->verb == FTP_CMD_SIZE) {
		ftp_reply(s, 213, "%llu",
			  (unsigned long long)(s->ascii ? ftp_ascii_size(f->data, f->size)
							: f->size));
	} else {
		time_t t = f->mtime.tv_sec     ? f->mtime.tv_sec
			   : f->read_at.tv_sec ? f->read_at.tv_sec
					       : time(NULL);

		ftp_format_time(when, sizeof(when), t);
		ftp_reply(s, 213, "%s", when);
	}
	site_file_unref(f);
}

/* ---- logins ---- */

static bool is_anonymous_name(const char *user)
{
	return strcasecmp(user, "anonymous") == 0 || strcasecmp(user, "ftp") == 0;
}

static void cmd_user(struct session *s, const struct ftp_command *c)
{
	if (s->state == SESSION_READY) {
		ftp_reply(s, 530, "Already logged in: cannot change to another user.");
		return;
	}
	s->user_bad = c->arg_len == 0 || c->arg_len > AUTH_NAME_MAX;
	for (size_t i = 0; i < c->arg_len && !s->user_bad; i++)
		if ((unsigned char)c->arg[i] < 0x20 || c->arg[i] == 0x7f)
			s->user_bad = true;
	if (c->arg_len == 0) {
		ftp_reply(s, 501, "USER needs a name.");
		return;
	}
	snprintf(s->user, sizeof(s->user), "%.*s",
		 (int)(c->arg_len > AUTH_NAME_MAX ? AUTH_NAME_MAX : c->arg_len), c->arg);
	ftp_session_set_state(s, SESSION_PASS);
	if (s->srv->cfg.anonymous && !s->user_bad && is_anonymous_name(s->user))
		ftp_reply(s, 331, "Anonymous login ok, send your e-mail address as password.");
	else
		ftp_reply(s, 331, "Password required.");
}

/* Whether password (len bytes) is the principal's, in time that depends on len only. */
static bool password_matches(const struct auth_principal *p, const char *password, size_t len)
{
	size_t pl = strlen(p->password);
	char padded[AUTH_PASSWORD_MAX + 1] = { 0 };
	bool same;

	if (len > AUTH_PASSWORD_MAX)
		return false;
	memcpy(padded, password, len);
	same = CRYPTO_memcmp(padded, p->password, AUTH_PASSWORD_MAX + 1) == 0;
	OPENSSL_cleanse(padded, sizeof(padded));
	return same && pl == len;
}

static void cmd_pass(struct session *s, const struct ftp_command *c)
{
	struct auth_principal who;
	char user[AUTH_NAME_MAX * 4 + 8], detail[AUTH_NAME_MAX * 4 + 96], claimed[MAC_LEN + 1];
	const char *why;
	bool ok = false;
	int r = 0;

	if (s->state == SESSION_READY) {
		ftp_reply(s, 230, "Already logged in.");
		return;
	}
	if (s->state != SESSION_PASS) {
		ftp_reply(s, 503, "Login with USER first.");
		return;
	}
	if (s->srv->cfg.anonymous && !s->user_bad && is_anonymous_name(s->user)) {
		s->login = LOGIN_ANONYMOUS;
		ok = true;
	} else if (!s->user_bad && (r = site_auth_lookup(s->srv->site, s->user, &who)) == 0) {
		ok = password_matches(&who, c->arg, c->arg_len);
		if (ok) {
			s->login = who.mac[0] ? LOGIN_DEVICE : LOGIN_USER;
			memcpy(s->mac, who.mac, sizeof(s->mac));
		}
		OPENSSL_cleanse(&who, sizeof(who));
	}
	if (r == DIRECTORY_UNAVAILABLE) {
		/* the device's password cannot be read now: "try later", not a failed login */
		unsigned code = 421;
		const char *text = ftp_outcome_reply(OUTCOME_UNAVAILABLE, &code);

		ftp_reply(s, code, "%s", text);
		ftp_session_close_after(s);
		return;
	}
	if (ok) {
		site_auth_succeeded(s->srv->site, (struct sockaddr *)&s->peer.ss, s->user);
		ftp_session_set_state(s, SESSION_READY);
		ftp_arm(s->ev_timer, s->srv->cfg.idle_timeout_s);
		log_debug(TAG, "%s: logged in as %s", s->peer_str,
			  ftp_login_name(s, user, sizeof(user)));
		ftp_reply(s, 230, "Login successful.");
		return;
	}
	s->failures++;
	s->delay_ms = site_auth_failed(s->srv->site, (struct sockaddr *)&s->peer.ss, s->user);
	log_escape(user, sizeof(user), s->user, strlen(s->user));
	snprintf(detail, sizeof(detail),
		 "login failed for user \"%s\" (%u in this session), answered in %u ms", user,
		 s->failures, s->delay_ms);
	/*
	 * The journal row and log line of the failed login, as HTTP's 401: a name that is a MAC
	 * is the device it claimed to be, so the doctor finds the row by its MAC.
	 */
	ftp_log_request(s, OUTCOME_AUTH_FAILED, "PASS", NULL, 0, NULL,
			!s->user_bad && mac_parse(s->user, claimed, &why) == 0 ? claimed : NULL,
			NULL, detail);
	{
		/* then the defence's miss (a block it starts is journaled after the failure) */
		struct site_request req;

		ftp_request_of(s, &req);
		(void)site_miss(s->srv->site, &req, NULL);
	}
	ftp_session_set_state(s, SESSION_DELAYED);
	ftp_arm_ms(s->ev_timer, s->delay_ms);
}

/* The delay of a failed login is over: 530, and another try or the end. */
void ftp_login_delay_over(struct session *s)
{
	ftp_reply(s, 530, "Login incorrect.");
	s->user[0] = '\0';
	if (site_blocked(s->srv->site, (struct sockaddr *)&s->peer.ss) > 0) {
		ftp_reply(s, 421, "Blocked: too many failed logins, closing.");
		ftp_session_close_after(s);
		return;
	}
	if (s->failures >= s->srv->cfg.max_login_failures) {
		ftp_reply(s, 421, "Too many failed logins, closing.");
		ftp_session_close_after(s);
		return;
	}
	ftp_session_set_state(s, SESSION_USER);
	ftp_arm(s->ev_timer, s->srv->cfg.login_timeout_s);
}

/* ---- other commands ---- */

static void cmd_cwd(struct session *s, const struct ftp_command *c, bool up)
{
	const char *mac = s->login == LOGIN_DEVICE ? s->mac : "";
	char path[PATH_MAX];
	int r;

	if (up) {
		ftp_path_parent(s->cwd);
		ftp_reply(s, 250, "Directory successfully changed.");
		return;
	}
	r = ftp_path_resolve(s->cwd, c->arg, c->arg_len, s->srv->cfg.max_command_length, path,
			     sizeof(path));
	if (r < 0) {
		char shown[PATH_LOG_MAX];

		log_escape(shown, sizeof(shown), c->arg, c->arg_len);
		log_warnx(TAG, "%s: CWD \"%s\" refused: access violation", s->peer_str, shown);
		ftp_reply(s, 550, "Access denied.");
		return;
	}
	if (site_dir_check(s->srv->site, s->srv->tree, path, mac) < 0) {
		ftp_reply(s, 550, "Failed to change directory.");
		return;
	}
	snprintf(s->cwd, sizeof(s->cwd), "%s", path);
	ftp_reply(s, 250, "Directory successfully changed.");
}

static void cmd_pwd(struct session *s)
{
	char q[PATH_MAX + 8];

	if (ftp_quote_path(q, sizeof(q), s->cwd) < 0)
		snprintf(q, sizeof(q), "\"/\"");
	ftp_reply(s, 257, "%s is the current directory", q);
}

static void cmd_feat(struct session *s)
{
	static const char head[] = "211-Features:\r\n";
	static const char tls_feat[] = " AUTH TLS\r\n PBSZ\r\n PROT\r\n";
	static const char eprt_feat[] = " EPRT\r\n";
	static const char body[] = " EPSV\r\n MDTM\r\n MLST type*;size*;modify*;perm*;\r\n"
				   " PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n";

	ftp_send_raw(s, head, sizeof(head) - 1);
	if (s->srv->tls)
		ftp_send_raw(s, tls_feat, sizeof(tls_feat) - 1);
	if (s->srv->cfg.active)
		ftp_send_raw(s, eprt_feat, sizeof(eprt_feat) - 1);
	ftp_send_raw(s, body, sizeof(body) - 1);
	ftp_reply(s, 211, "End");
}

/* ---- FTPS (RFC 4217) ---- */

static void cmd_auth(struct session *s, const struct ftp_command *c)
{
	if (!s->srv->tls) {
		ftp_reply(s, 502, "TLS is not available on this server.");
		return;
	}
	if (s->tls) {
		ftp_reply(s, 503, "TLS is already in use.");
		return;
	}
	if (s->state == SESSION_READY) {
		ftp_reply(s, 503, "AUTH must come before the login.");
		return;
	}
	if (!((c->arg_len == 3 &&
	       (strncasecmp(c->arg, "TLS", 3) == 0 || strncasecmp(c->arg, "SSL", 3) == 0)) ||
	      (c->arg_len == 5 && strncasecmp(c->arg, "TLS-C", 5) == 0))) {
		ftp_reply(s, 504, "AUTH type not supported: use AUTH TLS.");
		return;
	}
	ftp_reply(s, 234, "AUTH TLS successful.");
	/* the answer goes in clear; what follows is TLS */
	if (!ftp_flush_out(s) || s->outoff != s->outlen) {
		s->dead = true;
		return;
	}
	if (net_stream_tls_accept(s->ctl, s->srv->tls) < 0) {
		s->dead = true;
		return;
	}
	s->tls = true;
	/* commands sent in clear behind AUTH are dropped, never run as if protected */
	s->roff = s->rlen;
	ftp_line_init(&s->lines, s->line, s->lines.cap, ABSURD_LINE);
	s->handshake = true;
	ftp_control_handshake(s);
}

static void cmd_prot(struct session *s, const struct ftp_command *c)
{
	char level = c->arg_len == 1 ? (char)(c->arg[0] & ~0x20) : '?';

	if (!s->tls) {
		ftp_reply(s, 503, "PROT needs AUTH TLS first.");
		return;
	}
	switch (level) {
	case 'P':
		s->prot_private = true;
		ftp_reply(s, 200, "Protection level set to P.");
		break;
	case 'C':
		if (s->srv->cfg.tls == FTP_TLS_REQUIRED) {
			ftp_reply(s, 536, "Data connections must be protected here: use PROT P.");
			break;
		}
		s->prot_private = false;
		ftp_reply(s, 200, "Protection level set to C.");
		break;
	case 'S':
	case 'E': ftp_reply(s, 536, "Protection level not supported: use P or C."); break;
	default: ftp_reply(s, 504, "PROT takes C, S, E or P."); break;
	}
}

/* With [ftp] tls = required: 530 for a login, 521 for a transfer, without TLS. */
static bool tls_policy_refuses(struct session *s, enum ftp_verb v)
{
	if (s->srv->cfg.tls != FTP_TLS_REQUIRED || !s->srv->tls)
		return false;
	if ((v == FTP_CMD_USER || v == FTP_CMD_PASS) && !s->tls) {
		ftp_reply(s, 530, "TLS is required here: use AUTH TLS first.");
		return true;
	}
	if ((v == FTP_CMD_RETR || v == FTP_CMD_LIST || v == FTP_CMD_NLST || v == FTP_CMD_MLSD) &&
	    !s->prot_private) {
		ftp_reply(s, 521, "Data connections must be protected here: use PROT P.");
		return true;
	}
	return false;
}

static void cmd_opts(struct session *s, const struct ftp_command *c)
{
	if (c->arg_len >= 4 && strncasecmp(c->arg, "UTF8", 4) == 0 &&
	    (c->arg_len == 4 || c->arg[4] == ' ')) {
		ftp_reply(s, 200, "Always in UTF8 mode.");
		return;
	}
	if (c->arg_len >= 4 && strncasecmp(c->arg, "MLST", 4) == 0) {
		ftp_reply(s, 200, "MLST OPTS type;size;modify;perm;");
		return;
	}
	ftp_reply(s, 501, "Option not understood.");
}

static void cmd_help(struct session *s)
{
	static const char text[] =
		"214-The following commands are recognized:\r\n"
		" ABOR CDUP CWD EPRT EPSV FEAT HELP LIST MDTM MLSD MLST MODE NLST NOOP OPTS\r\n"
		" PASS PASV PORT PWD QUIT REST RETR SIZE STAT STRU SYST TYPE USER XCUP XCWD XPWD\r\n";

	ftp_send_raw(s, text, sizeof(text) - 1);
	ftp_reply(s, 214, "This server is read-only.");
}

static void cmd_stat(struct session *s)
{
	char line[PATH_LOG_MAX + 128];
	size_t n = ftp_format_reply(line, sizeof(line), 211, true, "autoprov FTP server status:");

	ftp_send_raw(s, line, n);
	if (s->xfer.active)
		snprintf(line, sizeof(line), " %s \"%s\": %llu of %zu bytes sent\r\n", s->xfer.verb,
			 s->xfer.path, (unsigned long long)s->xfer.sent, s->xfer.size);
	else
		snprintf(line, sizeof(line), " TYPE: %s; no transfer in progress\r\n",
			 s->ascii ? "ASCII" : "BINARY");
	ftp_send_raw(s, line, strlen(line));
	ftp_reply(s, 211, "End of status");
}

static void cmd_abor(struct session *s)
{
	if (s->xfer.active) {
		ftp_data_close(s);
		ftp_reply(s, 426, "Connection closed; transfer aborted.");
		ftp_transfer_end(s, OUTCOME_ABORTED, "ABOR");
		ftp_reply(s, 226, "ABOR successful.");
		return;
	}
	ftp_data_close(s);
	ftp_reply(s, 225, "No transfer to abort.");
}

static void cmd_refused_write(struct session *s, const struct ftp_command *c)
{
	if (c->verb == FTP_CMD_STOR || c->verb == FTP_CMD_APPE || c->verb == FTP_CMD_STOU) {
		char path[PATH_LOG_MAX];

		log_escape(path, sizeof(path), c->arg, c->arg_len);
		ftp_log_request(s, OUTCOME_DENIED, c->name, path, 0, NULL, NULL, NULL,
				"read-only server");
	}
	ftp_reply(s, 550, "Permission denied: this server is read-only.");
}

/* Whether a command may run before a login. */
static bool allowed_before_login(enum ftp_verb v)
{
	switch (v) {
	case FTP_CMD_USER:
	case FTP_CMD_PASS:
	case FTP_CMD_QUIT:
	case FTP_CMD_SYST:
	case FTP_CMD_FEAT:
	case FTP_CMD_NOOP:
	case FTP_CMD_HELP:
	case FTP_CMD_OPTS:
	case FTP_CMD_AUTH:
	case FTP_CMD_PBSZ:
	case FTP_CMD_PROT:
	case FTP_CMD_STAT: return true;
	default: return false;
	}
}

static void handle_command(struct session *s, const struct ftp_command *c)
{
	if (s->state != SESSION_READY && !allowed_before_login(c->verb)) {
		ftp_reply(s, 530, "Please login with USER and PASS.");
		return;
	}
	if (tls_policy_refuses(s, c->verb))
		return;
	switch (c->verb) {
	case FTP_CMD_USER: cmd_user(s, c); break;
	case FTP_CMD_PASS: cmd_pass(s, c); break;
	case FTP_CMD_QUIT:
		ftp_reply(s, 221, "Goodbye.");
		ftp_session_close_after(s);
		break;
	case FTP_CMD_SYST: ftp_reply(s, 215, "UNIX Type: L8"); break;
	case FTP_CMD_FEAT: cmd_feat(s); break;
	case FTP_CMD_NOOP: ftp_reply(s, 200, "NOOP ok."); break;
	case FTP_CMD_HELP: cmd_help(s); break;
	case FTP_CMD_OPTS: cmd_opts(s, c); break;
	case FTP_CMD_STAT: cmd_stat(s); break;
	case FTP_CMD_AUTH: cmd_auth(s, c); break;
	case FTP_CMD_PBSZ:
		if (!s->tls)
			ftp_reply(s, 503, "PBSZ needs AUTH TLS first.");
		else
			ftp_reply(s, 200, "PBSZ=0");
		break;
	case FTP_CMD_PROT: cmd_prot(s, c); break;
	case FTP_CMD_CCC:
		ftp_reply(s, 502, "CCC not implemented: the connection stays in TLS.");
		break;
	case FTP_CMD_ACCT: ftp_reply(s, 202, "ACCT not needed."); break;
	case FTP_CMD_ALLO: ftp_reply(s, 202, "ALLO not needed."); break;
	case FTP_CMD_CWD: cmd_cwd(s, c, false); break;
	case FTP_CMD_CDUP: cmd_cwd(s, c, true); break;
	case FTP_CMD_PWD: cmd_pwd(s); break;
	case FTP_CMD_TYPE: {
		bool ascii;
		int r = ftp_parse_type(c->arg, c->arg_len, &ascii);

		if (r == -EOPNOTSUPP) {
			ftp_reply(s, 504, "TYPE not supported: use A or I.");
		} else if (r < 0) {
			ftp_reply(s, 501, "Syntax error in TYPE's argument.");
		} else {
			s->ascii = ascii;
			ftp_reply(s, 200, "Switching to %s mode.", ascii ? "ASCII" : "Binary");
		}
		break;
	}
	case FTP_CMD_MODE:
		if (c->arg_len == 1 && (c->arg[0] == 'S' || c->arg[0] == 's'))
			ftp_reply(s, 200, "Mode set to S.");
		else
			ftp_reply(s, 504, "Only MODE S is supported.");
		break;
	case FTP_CMD_STRU:
		if (c->arg_len == 1 && (c->arg[0] == 'F' || c->arg[0] == 'f'))
			ftp_reply(s, 200, "Structure set to F.");
		else
			ftp_reply(s, 504, "Only STRU F is supported.");
		break;
	case FTP_CMD_PASV: ftp_cmd_pasv(s, false, c); break;
	case FTP_CMD_EPSV: ftp_cmd_pasv(s, true, c); break;
	case FTP_CMD_PORT: ftp_cmd_port(s, false, c); break;
	case FTP_CMD_EPRT: ftp_cmd_port(s, true, c); break;
	case FTP_CMD_REST: {
		uint64_t off;

		if (ftp_parse_rest(c->arg, c->arg_len, &off) < 0) {
			ftp_reply(s, 501, "REST needs a byte offset.");
		} else {
			s->rest = off;
			ftp_reply(s, 350, "Restart position accepted (%llu).",
				  (unsigned long long)off);
		}
		break;
	}
	case FTP_CMD_RETR: cmd_retr(s, c); break;
	case FTP_CMD_SIZE:
	case FTP_CMD_MDTM: cmd_stat_file(s, c); break;
	case FTP_CMD_LIST:
	case FTP_CMD_NLST:
	case FTP_CMD_MLSD: ftp_cmd_list(s, c); break;
	case FTP_CMD_MLST: ftp_cmd_mlst(s, c); break;
	case FTP_CMD_ABOR: cmd_abor(s); break;
	case FTP_CMD_STOR:
	case FTP_CMD_STOU:
	case FTP_CMD_APPE:
	case FTP_CMD_DELE:
	case FTP_CMD_RMD:
	case FTP_CMD_MKD:
	case FTP_CMD_RNFR:
	case FTP_CMD_RNTO: cmd_refused_write(s, c); break;
	case FTP_CMD_SITE:
	case FTP_CMD_SMNT:
	case FTP_CMD_REIN: ftp_reply(s, 502, "%s not implemented.", c->name); break;
	case FTP_CMD_UNKNOWN:
	case _FTP_CMD_MAX: ftp_reply(s, 500, "Unknown command."); break;
	}
}

/*
 * Handles the complete line in the reader. While a transfer runs only ABOR and STAT are
 * answered at once; any other command waits for its end (false: the line is held).
 */
bool ftp_handle_line(struct session *s)
{
	struct ftp_command c;

	if (ftp_parse_command(s->line, s->lines.len, &c) < 0) {
		if (s->lines.len == 0)
			return true; /* an empty line: nothing to answer */
		ftp_reply(s, 500, "Syntax error, command unrecognized.");
		return true;
	}
	if (s->xfer.active && c.verb != FTP_CMD_ABOR && c.verb != FTP_CMD_STAT)
		return false;
	if (s->waitq == &s->srv->silent)
		ftp_wait_enter(s,
			       &s->srv->talking); /* a client at work: dropped after the silent */
	if (log_level_current >= LOG_LEVEL_DEBUG) {
		char arg[PATH_LOG_MAX];

		log_escape(arg, sizeof(arg), c.arg, ftp_verb_secret(c.verb) ? 0 : c.arg_len);
		log_debug(TAG, "%s: %s %s", s->peer_str, c.name,
			  ftp_verb_secret(c.verb) ? "****" : arg);
	}
	if (s->state == SESSION_READY)
		ftp_arm(s->ev_timer, s->srv->cfg.idle_timeout_s);
	handle_command(s, &c);
	if (ftp_verb_secret(c.verb))
		OPENSSL_cleanse(s->line, s->lines.len);
	return true;
}
