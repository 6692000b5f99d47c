// SPDX-License-Identifier: MIT
/*
 * The FTP server's listings: LIST, NLST and MLSD built in memory from the site's tree and
 * sent on the data connection, MLST on the control connection.
 */
#include "proto/ftp_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- listings ---- */

struct text {
	uint8_t *buf;
	size_t len, cap;
};

static int text_add(struct text *t, const char *s, size_t n)
{
	if (t->len + n > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4096;
		uint8_t *b;

		while (cap < t->len + n)
			cap *= 2;
		b = realloc(t->buf, cap);
		if (!b)
			return -ENOMEM;
		t->buf = b;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	return 0;
}

static int list_line(struct text *t, enum ftp_verb verb, const struct ftp_fact *f, time_t now)
{
	char line[PATH_MAX + 200];
	int n;

	switch (verb) {
	case FTP_CMD_NLST: n = snprintf(line, sizeof(line), "%s\r\n", f->name); break;
	case FTP_CMD_MLSD: n = ftp_format_mlsx(line, sizeof(line), f); break;
	default: n = ftp_format_list(line, sizeof(line), f, now); break;
	}
	if (n < 0 || (size_t)n >= sizeof(line))
		return 0; /* a name too long for a line is left out */
	return text_add(t, line, (size_t)n);
}

/* LIST's and NLST's argument without the ls options clients add ("-la", "-a -l"). */
static void skip_ls_options(const char **arg, size_t *len)
{
	while (*len && (*arg)[0] == '-') {
		while (*len && (*arg)[0] != ' ') {
			(*arg)++;
			(*len)--;
		}
		while (*len && (*arg)[0] == ' ') {
			(*arg)++;
			(*len)--;
		}
	}
}

void ftp_cmd_list(struct session *s, const struct ftp_command *c)
{
	struct transfer *x = &s->xfer;
	const char *arg = c->arg;
	size_t len = c->arg_len;
	const char *mac = s->login == LOGIN_DEVICE ? s->mac : "";
	struct site_request req;
	struct site_dirent *entries = NULL;
	size_t n = 0;
	struct text t = { 0 };
	char path[PATH_MAX];
	time_t now = time(NULL);
	int r;

	s->rest = 0;
	if (!ftp_data_prepared(s))
		return;
	if (c->verb != FTP_CMD_MLSD)
		skip_ls_options(&arg, &len);
	memset(x, 0, sizeof(*x));
	r = ftp_path_resolve(s->cwd, arg, len, s->srv->cfg.max_command_length, path, sizeof(path));
	ftp_log_path(x->path, sizeof(x->path), r == 0 ? path : NULL, arg, len);
	if (r < 0) {
		ftp_reply(s, 550, "Access denied.");
		ftp_log_request(s, OUTCOME_REFUSED, c->name, x->path, 0, NULL, NULL, NULL, NULL);
		ftp_data_close(s);
		return;
	}
	ftp_request_of(s, &req);
	r = site_list(s->srv->site, s->srv->tree, path, mac, &req, &entries, &n);
	if (r == 0) {
		for (size_t i = 0; i < n && r == 0; i++) {
			struct ftp_fact f = {
				.name = entries[i].name,
				.dir = entries[i].dir,
				.size = entries[i].size,
				.mtime = entries[i].mtime.tv_sec,
			};

			r = list_line(&t, c->verb, &f, now);
		}
		site_dirents_free(entries, n);
	} else if ((r == -ENOTDIR || r == -ENOENT) && c->verb != FTP_CMD_MLSD && path[0]) {
		/* a file: its own line, as ls(1) gives, opened as RETR opens it */
		struct exchange ex;
		enum outcome o = ftp_session_resolve(s, arg, len, path, sizeof(path), &ex);
		struct ftp_fact fact = { .name = strrchr(path, '/') };

		if (o != OUTCOME_SENT) {
			ftp_resolve_failed(s, o, path);
			ftp_log_request(s, o, c->name, x->path, 0, NULL, ex.req.mac, NULL,
					ex.detail);
			ftp_data_close(s);
			return;
		}
		fact.name = fact.name ? fact.name + 1 : path;
		fact.size = ex.file->size;
		fact.mtime = ex.file->mtime.tv_sec ? ex.file->mtime.tv_sec : now;
		r = list_line(&t, c->verb, &fact, now);
		site_file_unref(ex.file);
	} else if (r == -ENOTDIR) {
		ftp_reply(s, 501, "Not a directory.");
		ftp_data_close(s);
		return;
	}
	if (r < 0) {
		free(t.buf);
		ftp_reply(s, r == -ENOMEM ? 451 : 550, "%s",
			  r == -ENOMEM ? "Out of memory, try again later." : "No such directory.");
		ftp_log_request(s,
				r == -ENOMEM  ? OUTCOME_ERROR
				: r == -EPERM ? OUTCOME_DENIED
					      : OUTCOME_NOT_FOUND,
				c->name, x->path, 0, NULL, NULL, NULL, NULL);
		ftp_data_close(s);
		return;
	}
	x->verb = ftp_verb_name(c->verb);
	x->owned = t.buf ? t.buf : malloc(1);
	if (!x->owned) {
		ftp_reply(s, 451, "Out of memory, try again later.");
		ftp_data_close(s);
		return;
	}
	x->data = x->owned;
	x->size = t.len;
	ftp_transfer_begin(s, "Here comes the directory listing.");
}

void ftp_cmd_mlst(struct session *s, const struct ftp_command *c)
{
	const char *mac = s->login == LOGIN_DEVICE ? s->mac : "";
	char path[PATH_MAX], line[PATH_MAX + 200], shown[PATH_MAX + 2], head[64];
	struct ftp_fact f = { .mtime = time(NULL) };
	size_t n;
	struct exchange ex;
	enum outcome o;
	int r;

	r = ftp_path_resolve(s->cwd, c->arg, c->arg_len, s->srv->cfg.max_command_length, path,
			     sizeof(path));
	if (r < 0) {
		ftp_reply(s, 550, "Access denied.");
		return;
	}
	snprintf(shown, sizeof(shown), "/%s", path);
	f.name = shown;
	if (site_dir_check(s->srv->site, s->srv->tree, path, mac) == 0) {
		f.dir = true;
	} else {
		o = ftp_session_resolve(s, c->arg, c->arg_len, path, sizeof(path), &ex);
		if (o == OUTCOME_BLOCKED) {
			ftp_resolve_failed(s, o, path);
			return;
		}
		if (o != OUTCOME_SENT) {
			ftp_reply(s, 550, "No such file or directory.");
			return;
		}
		f.size = ex.file->size;
		if (ex.file->mtime.tv_sec)
			f.mtime = ex.file->mtime.tv_sec;
		site_file_unref(ex.file);
		ex.file = NULL;
	}
	if (ftp_format_mlsx(line + 1, sizeof(line) - 1, &f) < 0) {
		ftp_reply(s, 550, "Name too long.");
		return;
	}
	line[0] = ' ';
	n = ftp_format_reply(head, sizeof(head), 250, true, "Listing");
	ftp_send_raw(s, head, n);
	ftp_send_raw(s, line, strlen(line));
	ftp_reply(s, 250, "End.");
}
