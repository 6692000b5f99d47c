// SPDX-License-Identifier: MIT
/*
 * The doctor (site/doctor.h). It reads the device's newest journal rows, oldest first, its
 * state and its inventory row, renders again what it was sent, and gives verdicts: each a
 * code, a level (error, warning, info, ok), a title and a detail in plain words, what to do,
 * and the rows it rests on. The vendor knowledge, taken from docs/vendors/ (the verdicts of
 * each flow are in doctor_vendor.c):
 *
 *  algo        algom<MAC>.conf -> algom<MAC>-i.conf -> algop<PRODUCT>.conf -> -i; over TFTP a
 *              configuration without its .md5 is ignored; prov.version.firmware names
 *              algo-<PRODUCT>-<version>.sfw (seed 000)
 *  fip         y000000000000.boot / <mac>.boot, whose include:config lines name the .cfg
 *              files to fetch next (seed 002)
 *  spa         one profile (option 66's Config File Name or the Profile Rule); a changed
 *              profile is applied only when DBID_DBASE_VERSION changes (seed 001)
 *  audiocodes  option 160 <fw>;<cfg>: the firmware's header first, the configuration only
 *              when no new firmware is due (seed 004)
 *  panasonic   two steps: an initial file, then the files it names (seed 003)
 */
#include "site/doctor.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/addr.h"
#include "core/mac.h"
#include "site/directory.h"
#include "site/journal_sample.h"
#include "site/site.h"
#include "site/doctor_internal.h"
#include "store/store.h"

static void rows_free(struct doc *doc)
{
	for (size_t i = 0; i < doc->n; i++) {
		struct row *r = &doc->rows[i];

		free(r->proto);
		free(r->peer);
		free(r->path);
		free(r->outcome);
		free(r->md5);
		free(r->ua);
		free(r->detail);
		free(r->node);
	}
	free(doc->rows);
}

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

/* Newest first from the store: kept, then reversed. */
static int collect(void *arg, const struct journal_entry *e)
{
	struct doc *doc = arg;
	struct row *r;
	bool oom = false;

	if (doc->n == doc->cap) {
		size_t cap = doc->cap ? doc->cap * 2 : 64;
		struct row *a = realloc(doc->rows, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		doc->rows = a;
		doc->cap = cap;
	}
	r = &doc->rows[doc->n++];
	memset(r, 0, sizeof(*r));
	r->id = e->id;
	r->usec = (int64_t)e->time.tv_sec * 1000000 + e->time.tv_nsec / 1000;
	r->bytes = e->bytes;
	r->proto = dup_or_null(e->proto, &oom);
	r->peer = dup_or_null(e->peer, &oom);
	r->path = dup_or_null(e->path ? e->path : "", &oom);
	r->outcome = dup_or_null(e->outcome ? e->outcome : "", &oom);
	r->md5 = dup_or_null(e->md5, &oom);
	r->ua = dup_or_null(e->user_agent, &oom);
	r->detail = dup_or_null(e->detail, &oom);
	r->node = dup_or_null(e->node, &oom);
	r->kind = store_journal_kind(e);
	r->fkind = store_file_kind(e->path);
	if (oom)
		return -ENOMEM;
	return doc->n >= DOCTOR_ROWS_MAX ? 1 : 0;
}

/* Rows of the device's addresses that name no device: generic files it asked for. */
#define GENERIC_WINDOW_US (60 * 1000000ll) /* after its last row */
#define GENERIC_SCAN_MAX  50000		   /* rows looked through at most */

struct generic_scan {
	struct doc *doc;
	char hosts[4][64];
	size_t nhosts;
	int64_t until;
	size_t scanned;
	size_t added;
};

static int collect(void *arg, const struct journal_entry *e);

static int generic_row(void *arg, const struct journal_entry *e)
{
	struct generic_scan *g = arg;
	char host[64];
	int r;

	if (++g->scanned > GENERIC_SCAN_MAX ||
	    (int64_t)e->time.tv_sec * 1000000 + e->time.tv_nsec / 1000 > g->until)
		return 1;
	/*
	 * A sampled scan's count ("N more misses") is no request of the device's; the
	 * defence's block of its address is, whichever MAC the scan named last.
	 */
	if (!e->peer || !e->outcome || strstr(e->outcome, "misses") ||
	    (e->mac && (strcmp(e->outcome, "blocked") != 0 || strcmp(e->mac, g->doc->mac) == 0)))
		return 0;
	journal_peer_host(e->peer, host, sizeof(host));
	for (size_t i = 0; i < g->nhosts; i++)
		if (strcmp(host, g->hosts[i]) == 0) {
			r = collect(g->doc, e);
			if (r < 0)
				return r;
			g->doc->rows[g->doc->n - 1].attributed = true;
			g->added++;
			return r;
		}
	return 0;
}

static int by_id(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * Adds the rows with no MAC of the device's addresses, from its newest rows' time on: a
 * generic file (algop8188.conf, a firmware image) names no device, but the device asked for
 * it. A NAT in front of several devices mixes theirs in: they are marked "attributed".
 * Rows stay oldest first.
 */
static int add_generic_rows(struct doc *doc)
{
	struct generic_scan g = { .doc = doc };
	size_t from = doc->n > 50 ? doc->n - 50 : 0;
	int r;

	if (doc->n == 0)
		return 0;
	for (size_t i = from; i < doc->n; i++) {
		char host[64];
		bool dup = false;

		journal_peer_host(doc->rows[i].peer ? doc->rows[i].peer : "", host, sizeof(host));
		for (size_t k = 0; k < g.nhosts; k++)
			dup |= strcmp(g.hosts[k], host) == 0;
		if (!dup && host[0] && g.nhosts < 4)
			snprintf(g.hosts[g.nhosts++], sizeof(g.hosts[0]), "%s", host);
	}
	g.until = doc->rows[doc->n - 1].usec + GENERIC_WINDOW_US;
	r = store_journal_foreach(site_store(doc->site), NULL, doc->rows[from].usec, false,
				  generic_row, &g);
	if (r < 0)
		return r;
	if (g.added)
		qsort(doc->rows, doc->n, sizeof(*doc->rows), by_id);
	return 0;
}

/* ---- helpers ---- */

static void iso_time(int64_t usec, char *buf, size_t size)
{
	time_t sec = (time_t)(usec / 1000000);
	struct tm tm;

	if (!gmtime_r(&sec, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "%lld", (long long)usec);
}

static json_t *row_json(const struct row *r)
{
	char t[32];
	json_t *j;

	iso_time(r->usec, t, sizeof(t));
	j = json_pack("{s:I, s:s, s:s?, s:s?, s:s, s:s}", "id", (json_int_t)r->id, "time", t,
		      "proto", r->proto, "peer", r->peer, "path", r->path, "outcome", r->outcome);
	if (j && r->md5)
		json_object_set_new(j, "md5", json_string(r->md5));
	if (j && r->detail)
		json_object_set_new(j, "detail", json_string(r->detail));
	/* which node served it: every node's rows are in the one journal */
	if (j && r->node)
		json_object_set_new(j, "node", json_string(r->node));
	if (j && r->attributed)
		json_object_set_new(j, "attributed", json_true());
	return j;
}

bool doctor_is(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

bool doctor_sent(const struct row *r)
{
	return doctor_is(r->outcome, "sent");
}

/* Whether path carries the device's MAC (its own file, whatever the case). */
static bool own_name(const struct doc *doc, const char *path)
{
	size_t n = strlen(path);

	for (size_t i = 0; i + MAC_LEN <= n; i++)
		if (strncasecmp(path + i, doc->mac, MAC_LEN) == 0)
			return true;
	return false;
}

const char *doctor_base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* The verdict code, level, title, action; detail and rows added by the caller. */
json_t *doctor_verdict(struct doc *doc, const char *code, const char *level, const char *action,
		       const char *title_fmt, ...)
{
	char title[1024];
	va_list ap;
	json_t *v;

	va_start(ap, title_fmt);
	vsnprintf(title, sizeof(title), title_fmt, ap);
	va_end(ap);
	v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[]}", "code", code, "level", level, "title",
		      title, "detail", "", "action", action ? action : "", "rows");
	if (v)
		json_array_append_new(doc->verdicts, v);
	return v;
}

void doctor_set_text(json_t *v, const char *key, const char *fmt, ...)
{
	char text[2048];
	va_list ap;

	if (!v)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_object_set_new(v, key, json_string(text));
}

void doctor_cite(json_t *v, const struct row *r)
{
	json_t *rows = v ? json_object_get(v, "rows") : NULL;

	if (!rows || !r || json_array_size(rows) >= 20)
		return;
	for (size_t i = 0; i < json_array_size(rows); i++)
		if (json_integer_value(json_object_get(json_array_get(rows, i), "id")) == r->id)
			return;
	json_array_append_new(rows, row_json(r));
}

/* "--site DIR " for the commands suggested, or "" when it is the current directory. */
void doctor_site_arg(const struct doc *doc, char *buf, size_t size)
{
	const char *d = doc->opts && doc->opts->site_dir ? doc->opts->site_dir : ".";

	if (strcmp(d, ".") == 0)
		buf[0] = '\0';
	else
		snprintf(buf, size, "--site %s ", d);
}

static const struct sockaddr *local_of(const struct doc *doc, const char *proto)
{
	const struct doctor_options *o = doc->opts;

	if (!o || !proto)
		return NULL;
	if (strcmp(proto, "tftp") == 0)
		return o->local_tftp;
	if (strcmp(proto, "http") == 0)
		return o->local_http;
	if (strcmp(proto, "https") == 0)
		return o->local_https;
	if (strcmp(proto, "ftp") == 0)
		return o->local_ftp;
	return NULL;
}

/*
 * What the device would get now for path over proto: 0 with *ret (a reference), or the
 * resolver's error. No peer: nothing is journaled or counted by the defence.
 */
int doctor_resolve_now(struct doc *doc, const char *proto, const char *path, struct site_file **ret,
		       char ret_mac[MAC_LEN + 1])
{
	const struct doctor_options *o = doc->opts;
	struct site_request req = {
		.proto = proto ? proto : "tftp",
		.local = local_of(doc, proto),
	};

	if (o && proto && strcmp(proto, "tftp") == 0 && o->prefix_tftp && o->prefix_tftp[0])
		req.prefix = o->prefix_tftp;
	else if (o && proto && strncmp(proto, "http", 4) == 0 && o->prefix_http &&
		 o->prefix_http[0])
		req.prefix = o->prefix_http;
	int r;

	r = site_resolve(doc->site, path, strlen(path), &req, ret);
	if (ret_mac)
		memcpy(ret_mac, req.mac, MAC_LEN + 1);
	return r;
}

/* The profile: the inventory's, else a guess from the names it asked for and its agent. */
static void guess_profile(struct doc *doc)
{
	for (size_t i = doc->n; i-- > 0 && !doc->profile[0];) {
		const char *b = doctor_base_name(doc->rows[i].path);
		const char *ua = doc->rows[i].ua ? doc->rows[i].ua : "";

		if (strncmp(b, "algom", 5) == 0 || strncmp(b, "algop", 5) == 0 ||
		    strncmp(b, "algo-", 5) == 0)
			snprintf(doc->profile, sizeof(doc->profile), "algo");
		else if (strstr(b, ".boot") || strncasecmp(ua, "Flyingvoice FIP", 15) == 0)
			snprintf(doc->profile, sizeof(doc->profile), "fip");
		else if (strncasecmp(ua, "AUDC", 4) == 0 || strstr(ua, "AudioCodes"))
			snprintf(doc->profile, sizeof(doc->profile), "audiocodes");
		else if (strncasecmp(ua, "Panasonic", 9) == 0)
			snprintf(doc->profile, sizeof(doc->profile), "panasonic");
		else if (strncasecmp(ua, "Flyingvoice", 11) == 0 || strncmp(b, "DBID", 4) == 0)
			snprintf(doc->profile, sizeof(doc->profile), "spa");
	}
	/* an Algo product number from algop<PRODUCT>.conf */
	for (size_t i = doc->n; i-- > 0 && !doc->model[0];) {
		const char *b = doctor_base_name(doc->rows[i].path);

		if (strncmp(b, "algop", 5) == 0 && isdigit((unsigned char)b[5]))
			snprintf(doc->model, sizeof(doc->model), "%.*s",
				 (int)strspn(b + 5, "0123456789"), b + 5);
	}
}

/* How the profile's devices find the server, and the DHCP option `autoprov dhcp` gives. */
static const char *dhcp_hint(const char *profile)
{
	if (strcmp(profile, "algo") == 0)
		return "An Algo endpoint takes the server from DHCP option 66, else 160, else 150 "
		       "(only the first present is used, even if it has no file) and asks for "
		       "algom<MAC>.conf over TFTP by default.";
	if (strcmp(profile, "fip") == 0)
		return "A Flyingvoice FIP phone takes the server from DHCP option 66 (or SIP PnP on "
		       "224.0.1.75, or a static URL) and asks for <mac>.boot, then "
		       "y000000000000.boot.";
	if (strcmp(profile, "spa") == 0)
		return "An SPA-style device with Option 66 enabled (the default) asks the TFTP "
		       "server of DHCP option 66 for its Config File Name; with it disabled, its "
		       "Profile Rule names the URL. The Config File Name is the same for every "
		       "device (IP542N.conf): such requests name no MAC, so the journal cannot tell "
		       "them apart; a Profile Rule with $MA or $MAU names the device.";
	if (strcmp(profile, "audiocodes") == 0)
		return "An AudioCodes phone reads DHCP option 160 "
		       "(<proto>://server/<firmware>;<configuration>), else options 66 and 67 "
		       "over TFTP; it publishes its model in options 60 and 77. Its file names "
		       "carry no MAC: over TFTP its requests name no device, over HTTP its "
		       "User-Agent (AUDC-IPPhone/VERSION (MODEL; MAC)) does.";
	if (strcmp(profile, "panasonic") == 0)
		return "A Panasonic phone tries a manual URL, SIP PnP, then DHCP options 160, 159 "
		       "and 66: the URL of the directory of its initial file.";
	return "Point the device at this server: DHCP option 66 is the one most endpoints read.";
}

/* ---- the verdicts ---- */

static void never_seen(struct doc *doc)
{
	char site[1100], action[4096], option[ADDR_STRLEN + 128];
	json_t *v;

	doctor_site_arg(doc, site, sizeof(site));
	if (!doc->in_inventory) {
		snprintf(
			action, sizeof(action),
			"Add it: autoprov device %sadd %s --profile PROFILE --model MODEL; then give "
			"it the DHCP option that autoprov dhcp %s--format dnsmasq prints for its "
			"vendor.",
			site, doc->colons, site);
		v = doctor_verdict(doc, "unknown", "error", action,
				   "Never seen, and not in the inventory");
		doctor_set_text(
			v, "detail",
			"No request naming %s has reached the server, and the inventory has no such "
			"device.",
			doc->colons);
		return;
	}
	option[0] = '\0';
	if (doc->opts && doc->opts->local_tftp) {
		char host[ADDR_STRLEN];

		addr_format_host(doc->opts->local_tftp, host, sizeof(host));
		if (strcmp(doc->profile, "audiocodes") == 0)
			snprintf(
				option, sizeof(option),
				" (for TFTP here: option 160 = tftp://%s/<firmware>;<configuration>)",
				host);
		else if (strcmp(doc->profile, "panasonic") == 0)
			snprintf(option, sizeof(option),
				 " (for TFTP here: option 160 = tftp://%s/)", host);
		else
			snprintf(option, sizeof(option), " (for TFTP here: option 66 = %s)", host);
	}
	snprintf(action, sizeof(action),
		 "Check the device's network and its DHCP answer: autoprov dhcp %s--format "
		 "dnsmasq%s%s prints the options for it%s.%s",
		 site, doc->profile[0] ? " --vendor " : "", doc->profile, option,
		 doc->enabled
			 ? ""
			 : " It is disabled too: enable it with autoprov device set --enable.");
	v = doctor_verdict(doc, "never-seen", "error", action,
			   "Never seen: no request from this device has reached the server");
	doctor_set_text(v, "detail", "%s", dhcp_hint(doc->profile));
}

static void not_in_inventory(struct doc *doc)
{
	char site[1100], action[4096];
	size_t named = 0, first = 0;
	json_t *v;

	doctor_site_arg(doc, site, sizeof(site));
	snprintf(action, sizeof(action), "Add it: autoprov device %sadd %s%s%s%s%s", site,
		 doc->colons, doc->profile[0] ? " --profile " : "", doc->profile,
		 doc->model[0] ? " --model " : "", doc->model);
	for (size_t i = 0; i < doc->n; i++)
		named += !doc->rows[i].attributed;
	v = doctor_verdict(
		doc, "not-in-inventory", "error", action,
		"Seen, but not in the inventory: its own files are answered \"not found\"");
	doctor_set_text(
		v, "detail",
		"The server had %zu request(s) naming %s; a device the inventory does not have "
		"gets only the site's generic files.",
		named, doc->colons);
	/* its last five rows that name it, oldest first */
	for (size_t i = doc->n, k = 0; i-- > 0 && k < 5;)
		if (!doc->rows[i].attributed) {
			first = i;
			k++;
		}
	for (size_t i = first; i < doc->n; i++)
		if (!doc->rows[i].attributed)
			doctor_cite(v, &doc->rows[i]);
}

/* The newest row at or before index i that is a configuration sent, or -1. */
ssize_t doctor_last_config_sent(const struct doc *doc, size_t before)
{
	for (size_t i = before; i-- > 0;)
		if (doc->rows[i].kind == JOURNAL_CONFIG)
			return (ssize_t)i;
	return -1;
}

static void disabled(struct doc *doc)
{
	char site[1100], action[4096];

	doctor_site_arg(doc, site, sizeof(site));
	snprintf(action, sizeof(action), "Enable it: autoprov device %sset %s --enable", site,
		 doc->colons);
	doctor_verdict(doc, "disabled", "error", action,
		       "The device is disabled: the server does not serve its files");
}

/* Its own file asked for and not found, then a generic one sent. */
static void own_then_generic(struct doc *doc)
{
	ssize_t g = doctor_last_config_sent(doc, doc->n);
	const struct row *gen, *own = NULL;
	char site[1100], action[4096], why[512];
	struct site_file *f = NULL;
	json_t *v;

	if (g < 0 || own_name(doc, doc->rows[g].path))
		return;
	gen = &doc->rows[g];
	/* the same pass: the rows just before it */
	for (ssize_t i = g - 1; i >= 0 && i >= g - 12; i--) {
		const struct row *r = &doc->rows[i];

		if (r->kind == JOURNAL_CONFIG) {
			/* a generic file before it in the same pass (FIP: boot, then cfg) */
			if (own_name(doc, r->path))
				break;
			gen = r;
			continue;
		}
		if (doctor_is(r->outcome, "not found") && r->fkind == FILE_CONFIG &&
		    own_name(doc, r->path)) {
			own = r;
			break;
		}
	}
	if (!own)
		return;
	doctor_site_arg(doc, site, sizeof(site));
	if (!doc->in_inventory) {
		snprintf(why, sizeof(why), "the device is not in the inventory");
		snprintf(action, sizeof(action), "Add it: autoprov device %sadd %s --profile %s",
			 site, doc->colons, doc->profile[0] ? doc->profile : "PROFILE");
	} else if (!doc->enabled) {
		snprintf(why, sizeof(why), "the device is disabled");
		snprintf(action, sizeof(action), "Enable it: autoprov device %sset %s --enable",
			 site, doc->colons);
	} else if (doctor_resolve_now(doc, own->proto, own->path, &f, NULL) == 0) {
		snprintf(why, sizeof(why), "it was missing then; the site has it now");
		snprintf(action, sizeof(action),
			 "Nothing to change: it gets %s at its next pass (now: autoprov resync "
			 "%s%s).",
			 own->path, site, doc->colons);
	} else if (strcmp(doc->profile, "algo") == 0) {
		snprintf(why, sizeof(why),
			 "no template or file answers that name (Algo asks with the MAC in upper "
			 "case: templates/algom{MAC}.conf)");
		snprintf(action, sizeof(action),
			 "Add templates/algom{MAC}.conf (a complete configuration), then autoprov "
			 "resync %s%s.",
			 site, doc->colons);
	} else {
		snprintf(why, sizeof(why), "no template or file answers that name");
		snprintf(action, sizeof(action),
			 "Add a template whose route is that name ({mac} or {MAC} for the MAC), "
			 "then check it with autoprov render %s%s %s.",
			 site, doc->colons, own->path);
	}
	site_file_unref(f);
	v = doctor_verdict(doc, "generic-instead-of-own", "warning", action,
			   "It asked for its own file %s and got the generic %s", own->path,
			   gen->path);
	doctor_set_text(
		v, "detail",
		"%s was not found because %s; the device went on down its search order and took "
		"%s, which carries no per-device settings (no SIP account).",
		own->path, why, gen->path);
	doctor_cite(v, own);
	doctor_cite(v, gen);
}

/* The value of NAME= in a profile, or NULL. */
static const char *profile_value(const struct site_file *f, const char *name, char *buf,
				 size_t size)
{
	size_t nl = strlen(name);
	const char *p = (const char *)f->data, *end = p + f->size;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t ll = eol ? (size_t)(eol - p) : (size_t)(end - p);

		if (ll > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			size_t vl = ll - nl - 1;

			while (vl > 0 && (p[nl + 1 + vl - 1] == '\r' || p[nl + 1 + vl - 1] == ' '))
				vl--;
			snprintf(buf, size, "%.*s", (int)vl, p + nl + 1);
			return buf;
		}
		p += ll + 1;
	}
	return NULL;
}

/* Configurations sent whose rendering now differs: pending (the exact rule). */
static void pending(struct doc *doc)
{
	char site[1100], action[4096], seen[8][DEVICE_STATE_TEXT];
	size_t nseen = 0;

	doctor_site_arg(doc, site, sizeof(site));
	for (size_t i = doc->n; i-- > 0 && nseen < 8;) {
		const struct row *r = &doc->rows[i];
		struct site_file *f = NULL;
		char mac[MAC_LEN + 1] = "", dbv[64];
		const char *now_md5;
		bool dup = false;
		json_t *v;
		int e;

		if (r->kind != JOURNAL_CONFIG || !r->md5)
			continue;
		for (size_t k = 0; k < nseen; k++)
			dup |= strcmp(seen[k], r->path) == 0;
		if (dup)
			continue;
		snprintf(seen[nseen++], sizeof(seen[0]), "%s", r->path);
		doc->pending_checked = true;
		e = doctor_resolve_now(doc, r->proto, r->path, &f, mac);
		if (e == -ENOENT) {
			v = doctor_verdict(
				doc, "config-gone", "warning",
				"If it should still be served, put the file or template back.",
				"%s, sent at its last pass, is not found now", r->path);
			doctor_set_text(
				v, "detail",
				"The device will get \"not found\" for it at its next pass and go on "
				"down its search order, if it has one.");
			doctor_cite(v, r);
			continue;
		}
		if (e < 0) {
			snprintf(action, sizeof(action), "autoprov render %s%s %s shows the error.",
				 site, doc->colons, r->path);
			v = doctor_verdict(doc, "render-fails", "error", action,
					   "%s cannot be rendered now (%s)", r->path, strerror(-e));
			doctor_cite(v, r);
			continue;
		}
		now_md5 = site_file_md5(f);
		if (now_md5 && strcmp(now_md5, r->md5) != 0) {
			doc->pending_exact = true;
			snprintf(
				action, sizeof(action),
				"It gets the new file at its next check; to apply it now: autoprov "
				"resync %s%s.",
				site, doc->colons);
			v = doctor_verdict(doc, "change-pending", "warning", action,
					   "Change pending: %s has changed since it was sent",
					   r->path);
			if (strcmp(doc->profile, "spa") == 0 &&
			    profile_value(f, "DBID_DBASE_VERSION", dbv, sizeof(dbv)))
				doctor_set_text(
					v, "detail",
					"Sent with MD5 %s; it renders now with MD5 %s. The new file "
					"carries DBID_DBASE_VERSION=%s: the device applies it only if "
					"that differs from the version it has (the Flying Voice "
					"guide), so raise it with every change.",
					r->md5, now_md5, dbv);
			else if (strcmp(doc->profile, "algo") == 0)
				doctor_set_text(
					v, "detail",
					"Sent with MD5 %s; it renders now with MD5 %s. An Algo "
					"endpoint applies a changed file and reboots at once.",
					r->md5, now_md5);
			else if (strcmp(doc->profile, "audiocodes") == 0)
				doctor_set_text(
					v, "detail",
					"Sent with MD5 %s; it renders now with MD5 %s. An AudioCodes "
					"phone reads its configuration only when no new firmware is "
					"due.",
					r->md5, now_md5);
			else
				doctor_set_text(v, "detail",
						"Sent with MD5 %s; it renders now with MD5 %s.",
						r->md5, now_md5);
			doctor_cite(v, r);
		}
		site_file_unref(f);
	}
}

/*
 * Whether a and b are one firmware image under two names (algo-8188-5.4f.sfw and .fw: Algo
 * asks for the one, then the other, seed 000 section 7.4a): the same name to the last dot.
 */
static bool same_image(const char *a, const char *b)
{
	const char *da = strrchr(a, '.'), *db = strrchr(b, '.');

	return da && db && da - a == db - b && strncmp(a, b, (size_t)(da - a)) == 0;
}

/*
 * A firmware image or resource asked for and not found, with no success for it since (for
 * an image, under any of its names).
 */
static void missing_files(struct doc *doc)
{
	char site[1100], action[4096], seen[8][DEVICE_STATE_TEXT];
	size_t nseen = 0;

	doctor_site_arg(doc, site, sizeof(site));
	for (size_t i = doc->n; i-- > 0 && nseen < 8;) {
		const struct row *r = &doc->rows[i];
		bool later_ok = false, dup = false;
		const char *what;
		json_t *v;

		if (!doctor_is(r->outcome, "not found") ||
		    (r->fkind != FILE_FIRMWARE && r->fkind != FILE_RESOURCE))
			continue;
		for (size_t k = 0; k < nseen; k++)
			dup |= strcmp(seen[k], r->path) == 0;
		if (dup)
			continue;
		snprintf(seen[nseen++], sizeof(seen[0]), "%s", r->path);
		for (size_t k = i + 1; k < doc->n; k++) {
			const struct row *o = &doc->rows[k];
			bool same = r->fkind == FILE_FIRMWARE && o->fkind == FILE_FIRMWARE
					    ? same_image(o->path, r->path)
					    : doctor_is(o->path, r->path);

			later_ok |=
				same && (doctor_sent(o) || doctor_is(o->outcome, "not modified"));
		}
		if (later_ok)
			continue;
		what = r->fkind == FILE_FIRMWARE ? "firmware image" : "resource";
		snprintf(action, sizeof(action),
			 "Put it in %s/files/%s, as the vendor supplies it.",
			 doc->opts && doc->opts->site_dir ? doc->opts->site_dir : ".", r->path);
		v = doctor_verdict(doc, "missing-file", "error", action,
				   "It asked for the %s %s, which the site does not have", what,
				   r->path);
		if (strcmp(doc->profile, "algo") == 0 && r->fkind == FILE_FIRMWARE)
			doctor_set_text(
				v, "detail",
				"Its configuration's prov.version.firmware names "
				"algo-<PRODUCT>-<version>.sfw; the device asks for it at every pass "
				"while its version differs, from the Firmware Download Path.");
		else if (strcmp(doc->profile, "audiocodes") == 0 && r->fkind == FILE_FIRMWARE)
			doctor_set_text(
				v, "detail",
				"Option 160 names <firmware>;<configuration>: the phone checks the "
				"firmware first, and a configuration change reaches it only once the "
				"firmware question is settled.");
		else if (strcmp(doc->profile, "spa") == 0 && r->fkind == FILE_FIRMWARE)
			doctor_set_text(
				v, "detail",
				"The device's Upgrade Rule names it; it retries after its Upgrade "
				"Error Retry Delay (3600 s by default).");
		else
			doctor_set_text(
				v, "detail",
				"Its configuration names it; until the site has it the device asks "
				"again at every pass.");
		doctor_cite(v, r);
	}
}

/* Never got any configuration: what it asked for, by profile. */
static void no_config(struct doc *doc)
{
	char site[1100], action[4096];
	json_t *v;

	if (doctor_last_config_sent(doc, doc->n) >= 0 || !doc->in_inventory)
		return;
	doctor_site_arg(doc, site, sizeof(site));
	for (size_t i = 0; i < doc->n; i++)
		if (doc->rows[i].kind == JOURNAL_STEP && doc->rows[i].fkind == FILE_CONFIG)
			goto asked;
	return;
asked:
	if (strcmp(doc->profile, "algo") == 0)
		snprintf(action, sizeof(action),
			 "Give it one of algom<MAC>.conf (templates/algom{MAC}.conf), "
			 "algom<MAC>-i.conf, algop<PRODUCT>.conf or algop<PRODUCT>-i.conf, in that "
			 "order; check with autoprov render %s%s algom%s.conf.",
			 site, doc->colons, doc->mau);
	else if (strcmp(doc->profile, "fip") == 0)
		snprintf(action, sizeof(action),
			 "Give it templates/{mac}.boot or files/y000000000000.boot, whose "
			 "include:config lines name its .cfg files.");
	else if (strcmp(doc->profile, "spa") == 0)
		snprintf(
			action, sizeof(action),
			"Serve the name it asks for: its Config File Name (option 66) or its Profile "
			"Rule's expansion (templates/fv{MAC}.conf for fv$(MAU).conf); it retries after "
			"Resync Error Retry Delay (3600 s by default).");
	else if (strcmp(doc->profile, "panasonic") == 0)
		snprintf(action, sizeof(action),
			 "Serve the initial file under the name it asks for; it names the device "
			 "configuration and certificate URLs of step 2.");
	else
		snprintf(
			action, sizeof(action),
			"Serve one of the names it asked for (files/NAME, or a template whose route "
			"matches).");
	v = doctor_verdict(
		doc, "no-config", "error", action,
		"It has never got a configuration: every name it asked for was not found");
	doctor_set_text(v, "detail", "%s", dhcp_hint(doc->profile));
	for (size_t i = doc->n, k = 0; i-- > 0 && k < 8;)
		if (doc->rows[i].kind == JOURNAL_STEP) {
			doctor_cite(v, &doc->rows[i]);
			k++;
		}
}

/* Denials and failures with no success for the same name since. */
static void denials(struct doc *doc)
{
	char site[1100], action[4096];
	bool said_pw = false, said_ask = false, said_cert = false, said_block = false,
	     said_other = false, said_tpl = false, said_xfer = false;

	doctor_site_arg(doc, site, sizeof(site));
	for (size_t i = doc->n; i-- > 0;) {
		const struct row *r = &doc->rows[i];
		const char *d = r->detail ? r->detail : "";
		bool later_ok = false;
		json_t *v;

		if (r->kind != JOURNAL_FAIL && !doctor_is(r->outcome, "blocked"))
			continue;
		if (doctor_is(r->outcome, "not found"))
			continue; /* missing_files() */
		for (size_t k = i + 1; k < doc->n; k++)
			later_ok |= (doctor_is(doc->rows[k].path, r->path) ||
				     doctor_is(r->outcome, "blocked")) &&
				    (doctor_sent(&doc->rows[k]) ||
				     doctor_is(doc->rows[k].outcome, "not modified"));
		if (later_ok)
			continue;
		if (doctor_is(r->outcome, "blocked")) {
			if (said_block)
				continue;
			said_block = true;
			v = doctor_verdict(
				doc, "blocked", "error",
				"The block ends by itself after [defence] block_time; a NAT or "
				"relay in front of many devices belongs in [defence] trusted "
				"(docs/security.md).",
				"Its address was blocked by the enumeration defence");
			doctor_set_text(
				v, "detail",
				"%s. While blocked, every request from the address is refused on "
				"every protocol.",
				d[0] ? d : "It asked for too many devices it may not have");
			doctor_cite(v, r);
		} else if (strcmp(d, "wrong credentials") == 0) {
			if (said_pw)
				continue;
			said_pw = true;
			snprintf(action, sizeof(action),
				 "Set the same password on both sides: the device's own is its "
				 "prov_password variable (autoprov device %sset %s --var "
				 "prov_password=SECRET), a site user's is in [auth].",
				 site, doc->colons);
			v = doctor_verdict(doc, "wrong-password", "error", action,
					   "Denied: it sent a wrong user name or password for %s",
					   r->path);
			doctor_set_text(
				v, "detail",
				"The server refused the credentials it sent (%s); failed logins "
				"also slow its next attempts down.",
				r->proto ? r->proto : "-");
			doctor_cite(v, r);
		} else if (strcmp(d, "credentials asked for") == 0) {
			bool answered = false;

			/* the challenge is how a login starts: any later try for it answers it */
			for (size_t k = i + 1; k < doc->n; k++)
				answered |= doctor_is(doc->rows[k].path, r->path);
			if (said_ask || answered)
				continue;
			said_ask = true;
			v = doctor_verdict(
				doc, "no-credentials", "error",
				"Configure the provisioning user name and password on the device "
				"(or serve the file without a login).",
				"Denied: the server asked for credentials for %s and none came",
				r->path);
			doctor_cite(v, r);
		} else if (strstr(d, "certificate")) {
			if (said_cert)
				continue;
			said_cert = true;
			snprintf(
				action, sizeof(action),
				"Give the device its own certificate, or if the binding is wrong "
				"remove it: autoprov device %sset MAC --unset prov_cert_sha256 (the "
				"next certificate binds on first use).",
				site);
			v = doctor_verdict(doc, "certificate", "error", action, "Denied: %s", d);
			doctor_set_text(
				v, "detail",
				"Over HTTPS a device gets only its own files; the certificate it "
				"presented is bound (prov_cert_sha256) to another device, or names "
				"another MAC.");
			doctor_cite(v, r);
		} else if (doctor_is(r->outcome, "denied")) {
			if (said_other)
				continue;
			said_other = true;
			v = doctor_verdict(
				doc, "denied", "error",
				"A device gets only its own files, and anonymous TFTP may be "
				"refused device files ([tftp] device_files): docs/security.md.",
				"Denied: %s (%s)", r->path, d[0] ? d : "refused");
			doctor_cite(v, r);
		} else if (doctor_is(r->outcome, "error")) {
			if (said_tpl)
				continue;
			said_tpl = true;
			snprintf(action, sizeof(action), "autoprov render %s%s %s shows the error.",
				 site, doc->colons, r->path);
			v = doctor_verdict(doc, "server-error", "error", action,
					   "The server failed on %s%s%s", r->path, d[0] ? ": " : "",
					   d);
			doctor_cite(v, r);
		} else {
			if (said_xfer)
				continue;
			said_xfer = true;
			v = doctor_verdict(
				doc, "transfer-failed", "warning",
				"Look at the network between them (a firewall passing the first "
				"TFTP packet but not the transfer's port, a lossy link) or the "
				"server's limits ([server], [tftp]).",
				"The transfer of %s %s", r->path, r->outcome);
			doctor_cite(v, r);
		}
	}
}

/* The last configuration and firmware sent: what, when. */
static void last_success(struct doc *doc)
{
	ssize_t c = doctor_last_config_sent(doc, doc->n);
	char t[32];
	json_t *v;

	if (c < 0)
		return;
	iso_time(doc->rows[c].usec, t, sizeof(t));
	v = doctor_verdict(doc, "last-provisioning", "info", NULL,
			   "Last provisioning: %s sent over %s at %s", doc->rows[c].path,
			   doc->rows[c].proto ? doc->rows[c].proto : "-", t);
	doctor_set_text(v, "detail", "%llu bytes, MD5 %s, to %s.",
			(unsigned long long)doc->rows[c].bytes,
			doc->rows[c].md5 ? doc->rows[c].md5 : "-",
			doc->rows[c].peer ? doc->rows[c].peer : "-");
	doctor_cite(v, &doc->rows[c]);
	for (size_t i = doc->n; i-- > 0;)
		if (doctor_sent(&doc->rows[i]) && doc->rows[i].fkind == FILE_FIRMWARE) {
			iso_time(doc->rows[i].usec, t, sizeof(t));
			v = doctor_verdict(doc, "last-firmware", "info", NULL,
					   "Last firmware image: %s at %s", doc->rows[i].path, t);
			doctor_cite(v, &doc->rows[i]);
			break;
		}
}

static int level_rank(const char *level)
{
	return strcmp(level, "error") == 0 ? 3 : strcmp(level, "warning") == 0 ? 2 : 1;
}

/* name: the status's, or "not-in-inventory" for a MAC seen that the inventory lacks */
static json_t *state_json(const struct device_state *s, enum device_status status, const char *name)
{
	char first[32], last[32];
	json_t *j;

	if (!s->known)
		return json_pack("{s:s}", "status", name);
	iso_time(s->first_seen, first, sizeof(first));
	iso_time(s->last_seen, last, sizeof(last));
	(void)status;
	j = json_pack("{s:s, s:s, s:I, s:s, s:I, s:s, s:s, s:s, s:s}", "status", name, "first_seen",
		      first, "first_id", (json_int_t)s->first_id, "last_seen", last, "last_id",
		      (json_int_t)s->last_id, "last_address", s->last_peer, "last_user_agent",
		      s->last_user_agent, "last_path", s->last_path, "last_outcome",
		      s->last_outcome);
	if (j && s->sent_time) {
		iso_time(s->sent_time, last, sizeof(last));
		json_object_set_new(j, "last_sent",
				    json_pack("{s:s, s:s, s:s, s:I}", "path", s->sent_path, "md5",
					      s->sent_md5, "time", last, "id",
					      (json_int_t)s->sent_id));
	}
	if (j && s->config_time) {
		iso_time(s->config_time, last, sizeof(last));
		json_object_set_new(j, "last_config",
				    json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "path",
					      s->config_path, "md5", s->config_md5, "proto",
					      s->config_proto, "time", last, "id",
					      (json_int_t)s->config_id, "inventory_rev",
					      (json_int_t)s->config_rev));
	}
	if (j && s->fail_time) {
		iso_time(s->fail_time, last, sizeof(last));
		json_object_set_new(j, "last_failure",
				    json_pack("{s:s, s:s, s:s, s:s, s:I}", "path", s->fail_path,
					      "outcome", s->fail_outcome, "detail", s->fail_detail,
					      "time", last, "id", (json_int_t)s->fail_id));
	}
	if (j && s->firmware[0])
		json_object_set_new(j, "firmware", json_string(s->firmware));
	return j;
}

int doctor_diagnose(struct site *site, const char *mac, const struct doctor_options *opts,
		    json_t **ret, char *err, size_t errsz)
{
	struct doc doc = { .site = site, .opts = opts };
	struct store *st = site_store(site);
	struct directory *dir = site_directory(site);
	const struct device *d = NULL;
	struct device_state s = { .status = DEVICE_NEVER_SEEN };
	enum device_status status;
	json_t *out = NULL;
	const char *summary = NULL;
	int worst = 0, r;

	snprintf(doc.mac, sizeof(doc.mac), "%s", mac);
	mac_upper(mac, doc.mau);
	mac_colons(mac, doc.colons);
	doc.verdicts = json_array();
	if (!doc.verdicts) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	r = directory_device(dir, mac, &d);
	if (r < 0 && r != -ENOENT) {
		snprintf(err, errsz, "the inventory cannot be read: %s", store_strerror(st));
		goto fail;
	}
	if (r == 0) {
		doc.in_inventory = true;
		doc.enabled = d->enabled;
		snprintf(doc.profile, sizeof(doc.profile), "%s", d->profile);
		snprintf(doc.model, sizeof(doc.model), "%s", d->model);
	}
	r = store_journal_foreach(st, mac, 0, true, collect, &doc);
	if (r < 0) {
		snprintf(err, errsz, "the journal cannot be read: %s",
			 r == -ENOMEM ? "out of memory" : store_strerror(st));
		goto fail;
	}
	/* oldest first */
	for (size_t i = 0; i < doc.n / 2; i++) {
		struct row t = doc.rows[i];

		doc.rows[i] = doc.rows[doc.n - 1 - i];
		doc.rows[doc.n - 1 - i] = t;
	}
	r = add_generic_rows(&doc);
	if (r < 0) {
		snprintf(err, errsz, "the journal cannot be read: %s",
			 r == -ENOMEM ? "out of memory" : store_strerror(st));
		goto fail;
	}
	if (doc.in_inventory) {
		r = store_device_state_get(st, mac, &s);
		if (r < 0 && r != -ENOENT) {
			snprintf(err, errsz, "the device's state cannot be read: %s",
				 store_strerror(st));
			goto fail;
		}
	}
	if (!doc.profile[0])
		guess_profile(&doc);
	/* a firmware image names no device: its rows are the attributed ones */
	for (size_t i = doc.n; i-- > 0 && s.known;) {
		struct journal_entry e = { .path = doc.rows[i].path,
					   .outcome = doc.rows[i].outcome };

		if (doc.rows[i].fkind == FILE_FIRMWARE &&
		    store_firmware_of(&e, s.firmware, sizeof(s.firmware)) == 0)
			break;
	}

	if (doc.n == 0) {
		never_seen(&doc);
	} else {
		if (!doc.in_inventory)
			not_in_inventory(&doc);
		else if (!doc.enabled)
			disabled(&doc);
		own_then_generic(&doc);
		no_config(&doc);
		denials(&doc);
		missing_files(&doc);
		if (strcmp(doc.profile, "algo") == 0 || doc.profile[0] == '\0')
			doctor_algo_md5(&doc);
		if (strcmp(doc.profile, "fip") == 0)
			doctor_fip_includes(&doc);
		if (strcmp(doc.profile, "panasonic") == 0)
			doctor_panasonic_steps(&doc);
		if (strcmp(doc.profile, "audiocodes") == 0)
			doctor_audiocodes_order(&doc);
		doctor_sip_pnp(&doc);
		if (doc.in_inventory)
			pending(&doc);
		last_success(&doc);
	}

	/* the state, with "change pending" decided exactly when a file could be compared */
	status = s.known ? s.status : DEVICE_NEVER_SEEN;
	if (doc.pending_exact && (status == DEVICE_PROVISIONED || status == DEVICE_CHANGE_PENDING))
		status = DEVICE_CHANGE_PENDING;
	else if (doc.pending_checked && status == DEVICE_CHANGE_PENDING)
		status = DEVICE_PROVISIONED; /* the inventory changed, the files did not */

	for (size_t i = 0; i < json_array_size(doc.verdicts); i++) {
		json_t *v = json_array_get(doc.verdicts, i);
		int rank = level_rank(json_string_value(json_object_get(v, "level")));

		/*
		 * An error the journal shows (a generic image missing, a denial) counts though
		 * its rows may name no device: the stored state sees only the rows that do.
		 */
		if (rank == 3 && s.known && status != DEVICE_NEVER_SEEN)
			status = DEVICE_FAILING;

		if (rank > worst && rank > 1) {
			worst = rank;
			summary = json_string_value(json_object_get(v, "title"));
		}
	}
	if (!summary)
		summary = status == DEVICE_PROVISIONED ? "Provisioned: nothing to do"
			  : doc.n == 0		       ? "Never seen"
						       : "Nothing wrong found in its journal";
	if (worst == 0 && status == DEVICE_PROVISIONED)
		doctor_verdict(&doc, "provisioned", "ok", NULL,
			       "Provisioned: it has its current files");
	out = json_pack("{s:s, s:b, s:s, s:s, s:o, s:s, s:I, s:O}", "mac", mac, "in_inventory",
			doc.in_inventory, "profile", doc.profile, "model", doc.model, "state",
			state_json(&s, status,
				   !doc.in_inventory && doc.n > 0 ? "not-in-inventory"
								  : device_status_name(status)),
			"summary", summary, "rows_read", (json_int_t)doc.n, "verdicts",
			doc.verdicts);
	if (out && doc.in_inventory)
		json_object_set_new(out, "enabled", json_boolean(doc.enabled));
	if (!out) {
		snprintf(err, errsz, "out of memory");
		r = -ENOMEM;
		goto fail;
	}
	json_decref(doc.verdicts);
	rows_free(&doc);
	*ret = out;
	return 0;
fail:
	json_decref(doc.verdicts);
	rows_free(&doc);
	return r < 0 ? r : -EIO;
}

/* ---- text ---- */

void doctor_print(const json_t *dg, FILE *out)
{
	const json_t *state = json_object_get(dg, "state");
	const json_t *verdicts = json_object_get(dg, "verdicts");
	char colons[MAC_LEN + 6];
	const char *mac = json_string_value(json_object_get(dg, "mac"));
	const char *key;
	json_t *val;

	mac_colons(mac ? mac : "000000000000", colons);
	fprintf(out, "device:    %s%s\n", colons,
		json_is_true(json_object_get(dg, "in_inventory")) ? "" : " (not in the inventory)");
	fprintf(out, "profile:   %s\n",
		json_string_length(json_object_get(dg, "profile"))
			? json_string_value(json_object_get(dg, "profile"))
			: "-");
	fprintf(out, "state:     %s\n", json_string_value(json_object_get(state, "status")));
	json_object_foreach((json_t *)state, key, val)
	{
		if (strcmp(key, "status") == 0 || !json_is_string(val) || !json_string_length(val))
			continue;
		fprintf(out, "  %-16s %s\n", key, json_string_value(val));
	}
	fprintf(out, "summary:   %s\n", json_string_value(json_object_get(dg, "summary")));
	for (size_t i = 0; i < json_array_size(verdicts); i++) {
		const json_t *v = json_array_get(verdicts, i);
		const json_t *rows = json_object_get(v, "rows");
		const char *detail = json_string_value(json_object_get(v, "detail"));
		const char *action = json_string_value(json_object_get(v, "action"));

		fprintf(out, "\n[%s] %s: %s\n", json_string_value(json_object_get(v, "level")),
			json_string_value(json_object_get(v, "code")),
			json_string_value(json_object_get(v, "title")));
		if (detail && detail[0])
			fprintf(out, "  %s\n", detail);
		if (action && action[0])
			fprintf(out, "  what to do: %s\n", action);
		for (size_t k = 0; k < json_array_size(rows); k++) {
			const json_t *rw = json_array_get(rows, k);
			const char *dt = json_string_value(json_object_get(rw, "detail"));
			bool attributed = json_is_true(json_object_get(rw, "attributed"));

			fprintf(out, "  row %lld %s %s %s \"%s\" %s%s%s%s\n",
				(long long)json_integer_value(json_object_get(rw, "id")),
				json_string_value(json_object_get(rw, "time")),
				json_string_value(json_object_get(rw, "proto"))
					? json_string_value(json_object_get(rw, "proto"))
					: "-",
				json_string_value(json_object_get(rw, "peer"))
					? json_string_value(json_object_get(rw, "peer"))
					: "-",
				json_string_value(json_object_get(rw, "path")),
				json_string_value(json_object_get(rw, "outcome")), dt ? ": " : "",
				dt ? dt : "", attributed ? " (no MAC: its address)" : "");
		}
	}
}
