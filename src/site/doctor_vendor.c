// SPDX-License-Identifier: MIT
/*
 * The doctor's verdicts on one vendor's flow (site/doctor_internal.h): Algo's .md5
 * companions and firmware (seed 000), FIP's include:config lines (seed 002), Panasonic's two
 * steps (seed 003), AudioCodes' firmware-first order (seed 004), and SIP PnP.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "site/doctor_internal.h"
#include "site/site.h"

static bool algo_name(const char *path)
{
	const char *b = doctor_base_name(path);

	return strncmp(b, "algom", 5) == 0 || strncmp(b, "algop", 5) == 0;
}

/* Over TFTP an Algo configuration without its .md5 is ignored (seed 000, step 3). */
void doctor_algo_md5(struct doc *doc)
{
	ssize_t c = -1;
	const struct row *conf, *md5_row = NULL;
	char stem_md5[1024], site[1100], action[4096];
	size_t len;
	json_t *v;

	/* its latest configuration, if it came over TFTP (HTTP, FTP: no .md5 asked for) */
	c = doctor_last_config_sent(doc, doc->n);
	if (c >= 0 && (!doctor_is(doc->rows[c].proto, "tftp") ||
		       !(algo_name(doc->rows[c].path) || strcmp(doc->profile, "algo") == 0)))
		c = -1;
	if (c < 0)
		return;
	conf = &doc->rows[c];
	len = strlen(conf->path);
	if (len < 5 || strcmp(conf->path + len - 5, ".conf") != 0 || len + 4 >= sizeof(stem_md5))
		return;
	snprintf(stem_md5, sizeof(stem_md5), "%.*s.md5", (int)(len - 5), conf->path);
	for (size_t i = (size_t)c + 1; i < doc->n; i++) {
		const struct row *r = &doc->rows[i];

		if (r->kind == JOURNAL_CONFIG)
			break;
		if (doctor_is(r->path, stem_md5)) {
			md5_row = r;
			if (doctor_sent(r))
				break;
		}
	}
	doctor_site_arg(doc, site, sizeof(site));
	if (md5_row && doctor_sent(md5_row)) {
		struct site_file *f = NULL;

		/* the companion the site gives now must carry the MD5 of what was sent */
		if (conf->md5 && doctor_resolve_now(doc, conf->proto, stem_md5, &f, NULL) == 0 &&
		    f->size >= 32 && strncasecmp((const char *)f->data, conf->md5, 32) != 0) {
			struct site_file *cf = NULL;
			bool conf_same =
				doctor_resolve_now(doc, conf->proto, conf->path, &cf, NULL) == 0 &&
				site_file_md5(cf) && strcmp(site_file_md5(cf), conf->md5) == 0;

			site_file_unref(cf);
			if (conf_same) {
				snprintf(
					action, sizeof(action),
					"Remove or fix files/%s: without it autoprov generates the "
					"right one.",
					stem_md5);
				v = doctor_verdict(doc, "md5-mismatch", "error", action,
						   "%s does not match %s: the device ignores the "
						   "configuration",
						   stem_md5, conf->path);
				doctor_set_text(
					v, "detail",
					"%s was sent with MD5 %s; the site's %s says %.32s. A .md5 "
					"placed in files/ by hand wins over the generated one.",
					conf->path, conf->md5, stem_md5, (const char *)f->data);
				doctor_cite(v, conf);
				doctor_cite(v, md5_row);
			}
		}
		site_file_unref(f);
		return;
	}
	if (md5_row) {
		snprintf(action, sizeof(action),
			 "autoprov generates %s from %s when 'conf' is in [server] md5_extensions; "
			 "check with autoprov render %s%s %s.",
			 stem_md5, conf->path, site, doc->colons, stem_md5);
		v = doctor_verdict(
			doc, "md5-not-found", "error", action,
			"%s was sent over TFTP but %s was not found: an Algo device ignores it",
			conf->path, stem_md5);
		doctor_set_text(
			v, "detail",
			"Over TFTP an Algo endpoint fetches the configuration's .md5 right after it "
			"and ignores a configuration whose .md5 is missing or does not match (Algo's "
			"provisioning guide).");
		doctor_cite(v, conf);
		doctor_cite(v, md5_row);
		return;
	}
	snprintf(action, sizeof(action),
		 "Check the device: it should ask for %s next. autoprov render %s%s %s shows what "
		 "it would get.",
		 stem_md5, site, doc->colons, stem_md5);
	v = doctor_verdict(doc, "md5-never-fetched", "warning", action,
			   "%s was fetched over TFTP but never its .md5: an Algo device ignores it",
			   conf->path);
	doctor_set_text(
		v, "detail",
		"Over TFTP an Algo endpoint asks for %s right after %s and applies the "
		"configuration only when they match; no request for it followed. A transfer cut "
		"short, a client that is not an Algo endpoint, or a firewall dropping the second "
		"transfer would look like this.",
		stem_md5, conf->path);
	doctor_cite(v, conf);
}

/* FIP: the include:config lines of the last boot file sent, fetched after it or not. */
void doctor_fip_includes(struct doc *doc)
{
	ssize_t b = -1;
	struct site_file *f = NULL;
	const char *p, *end;
	char site[1100], action[4096];

	for (size_t i = doc->n; i-- > 0;)
		if (doc->rows[i].kind == JOURNAL_CONFIG && strstr(doc->rows[i].path, ".boot")) {
			b = (ssize_t)i;
			break;
		}
	if (b < 0 || doctor_resolve_now(doc, doc->rows[b].proto, doc->rows[b].path, &f, NULL) < 0)
		return;
	doctor_site_arg(doc, site, sizeof(site));
	p = (const char *)f->data;
	end = p + f->size;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t ll = eol ? (size_t)(eol - p) : (size_t)(end - p);
		char name[512], dir[512];
		const struct row *got = NULL;
		const char *s, *e;
		json_t *v;

		/* include:config <name> or include:config "name" (seed 002) */
		if (ll > 15 && strncmp(p, "include:config", 14) == 0 &&
		    (s = memchr(p + 14, '<', ll - 14)) != NULL &&
		    (e = memchr(s, '>', (size_t)(p + ll - s))) != NULL &&
		    (size_t)(e - s - 1) < sizeof(name)) {
			snprintf(name, sizeof(name), "%.*s", (int)(e - s - 1), s + 1);
			/* a relative name is fetched beside the boot file */
			snprintf(dir, sizeof(dir), "%.*s",
				 (int)(doctor_base_name(doc->rows[b].path) - doc->rows[b].path),
				 doc->rows[b].path);
			for (size_t k = (size_t)b + 1; k < doc->n; k++) {
				const char *rp = doc->rows[k].path;

				if (strcmp(doctor_base_name(rp), doctor_base_name(name)) == 0) {
					got = &doc->rows[k];
					if (doctor_sent(got))
						break;
				}
			}
			if (got && !doctor_sent(got)) {
				snprintf(
					action, sizeof(action),
					"Add %s%s to the site (files/ or a template), or remove the "
					"include line.",
					dir, name);
				v = doctor_verdict(
					doc, "include-missing", "error", action,
					"Its boot file %s includes %s, which was not found",
					doc->rows[b].path, name);
				doctor_set_text(
					v, "detail",
					"A FIP phone fetches every include:config file its boot file "
					"names, then applies them in order, the later overriding the "
					"earlier (Flyingvoice's guide).");
				doctor_cite(v, &doc->rows[b]);
				doctor_cite(v, got);
			} else if (!got && (size_t)b + 1 >= doc->n) {
				snprintf(
					action, sizeof(action),
					"Wait for the device's next request; if none comes, look at "
					"the device's own log.");
				v = doctor_verdict(doc, "include-not-fetched", "info", action,
						   "Its boot file %s includes %s, not fetched yet",
						   doc->rows[b].path, name);
				doctor_cite(v, &doc->rows[b]);
			}
		}
		p += ll + 1;
	}
	site_file_unref(f);
}

/* Panasonic: the initial file, then step 2 (the files it names). */
void doctor_panasonic_steps(struct doc *doc)
{
	ssize_t c = doctor_last_config_sent(doc, doc->n);
	size_t distinct = 0;
	json_t *v;

	if (c < 0)
		return;
	for (size_t i = 0; i < doc->n; i++)
		if (doc->rows[i].kind == JOURNAL_CONFIG &&
		    !doctor_is(doc->rows[i].path, doc->rows[c].path))
			distinct++;
	if (distinct > 0 || (size_t)c + 1 < doc->n)
		return;
	v = doctor_verdict(
		doc, "panasonic-step-2", "info",
		"If nothing follows, check the device configuration and certificate URLs "
		"written in the initial file: the server only serves what they name.",
		"It got %s and has not asked for the files of step 2 yet", doc->rows[c].path);
	doctor_set_text(
		v, "detail",
		"A Panasonic phone provisions in two steps: the initial file, then the device "
		"configuration and the certificate at the URLs the initial file gives.");
	doctor_cite(v, &doc->rows[c]);
}

/*
 * AudioCodes: the firmware's header first, the configuration only when no new firmware is
 * due (seed 004). An image sent and no configuration asked for since: it is flashing, or
 * option 160 names no configuration.
 */
void doctor_audiocodes_order(struct doc *doc)
{
	ssize_t fw = -1;
	json_t *v;

	for (size_t i = doc->n; i-- > 0;)
		if (doc->rows[i].fkind == FILE_FIRMWARE &&
		    (doctor_sent(&doc->rows[i]) ||
		     doctor_is(doc->rows[i].outcome, "not modified"))) {
			fw = (ssize_t)i;
			break;
		}
	if (fw < 0)
		return;
	for (size_t i = (size_t)fw + 1; i < doc->n; i++)
		if (doc->rows[i].fkind == FILE_CONFIG)
			return;
	v = doctor_verdict(
		doc, "audiocodes-firmware-first", "info",
		"If no configuration request follows after its reboot, check that option 160 "
		"names one: <proto>://host/<firmware>;<configuration>.",
		"It got the firmware image %s and has not asked for its configuration since",
		doc->rows[fw].path);
	doctor_set_text(
		v, "detail",
		"An AudioCodes phone reads the firmware's header first; when the version differs "
		"from its own it downloads the whole image, writes it to flash and reboots, and "
		"only when no new firmware is due does it download its configuration (the 400HD "
		"manual). A phone powered off meanwhile needs the recovery procedure.");
	doctor_cite(v, &doc->rows[fw]);
}

/*
 * SIP PnP (docs/sip.md): a SUBSCRIBE answered with the provisioning URL in a NOTIFY, or
 * ignored by [sip] answer; the phone fetches from the URL next.
 */
void doctor_sip_pnp(struct doc *doc)
{
	ssize_t last = -1;
	bool fetched = false;
	const struct row *r;
	json_t *v;

	for (size_t i = doc->n; i-- > 0;)
		if (doctor_is(doc->rows[i].proto, "sip")) {
			last = (ssize_t)i;
			break;
		}
	if (last < 0)
		return;
	r = &doc->rows[last];
	for (size_t i = (size_t)last + 1; i < doc->n; i++)
		fetched |= !doctor_is(doc->rows[i].proto, "sip");
	if (fetched)
		return;
	if (strncmp(r->outcome, "ignored-", 8) == 0) {
		v = doctor_verdict(
			doc, "pnp-ignored", "error",
			"With [sip] answer = known the device must be in the inventory and "
			"enabled; with answer = oui its OUI must be listed (docs/sip.md).",
			"Its SIP PnP SUBSCRIBE was not answered (%s)", r->outcome);
		doctor_set_text(
			v, "detail",
			"The server stays silent for a SUBSCRIBE its [sip] answer policy does not "
			"cover, so that another PnP server on the segment may answer.");
		doctor_cite(v, r);
	} else if (doctor_is(r->outcome, "notify-timeout")) {
		v = doctor_verdict(
			doc, "pnp-notify-unanswered", "warning",
			"Check that the phone's SIP port can be reached from the server (a "
			"firewall or NAT between them drops the NOTIFY).",
			"The NOTIFY carrying its provisioning URL got no answer");
		doctor_set_text(
			v, "detail",
			"The server answered its SUBSCRIBE and sent the URL in a NOTIFY to the "
			"SUBSCRIBE's source address, resending it for 64*T1; the phone never "
			"answered and has fetched nothing since.");
		doctor_cite(v, r);
	} else if (doctor_is(r->outcome, "pnp-url-sent") ||
		   strncmp(r->outcome, "notify-2", 8) == 0) {
		v = doctor_verdict(
			doc, "pnp-no-fetch", "warning",
			"Check that the URL sent ([sip] url, or the server's own) is reachable "
			"from the phone, over that protocol and port.",
			"It got its provisioning URL by SIP PnP and has fetched nothing since");
		doctor_cite(v, r);
	}
}
