// SPDX-License-Identifier: MIT
/*
 * The AudioCodes 400HD profile (seed 004). DHCP option 160 gives the server and the
 * firmware and configuration file names (`<proto>://host/<fw>;<cfg>`, `.../;<cfg>`,
 * `.../<fw>`, or the server alone); without it, option 66 names a TFTP server and option 67
 * the firmware file. The firmware comes first: if the image's version differs from the
 * running one it is installed and the phone reboots. Otherwise the configuration is
 * fetched, checked to be for this model, and applied when it changed.
 *
 * Decisions where the seed is silent (docs/agent.md): with the server alone the names are
 * <model>.img and <model>.cfg; when option 160 names only one file, only that step runs; an
 * image's version is the `version=` token in its first 512 bytes, else its MD5; a
 * configuration's model is its `system/type` parameter. Only those 512 bytes are read to
 * compare (an HTTP Range, an aborted FTP RETR, a TFTP transfer stopped after its first
 * block); the whole image only when its version differs or its header names none.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/agent_internal.h"
#include "agent/cfgfile.h"
#include "agent/url.h"
#include "core/md5.h"

static const struct agent_default audiocodes_defaults[] = {
	/* "Checks for newer configuration files and software versions are routinely
	 * automatically performed" (seed 004, no interval given): daily. */
	{ "resync_periodic", "86400" },
	{ NULL, NULL },
};

/* What is read of an image to compare versions (its header). */
#define AC_HEADER_BYTES 512

struct ac_pass {
	char *server; /* directory URL */
	char *firmware, *config;
	char *firmware_url; /* while the firmware is checked */
};

static void ac_config(struct ap_agent *a);

static struct ac_pass *ac(struct ap_agent *a)
{
	return a->priv;
}

static void ac_pass_free(struct ap_agent *a)
{
	struct ac_pass *p = ac(a);
	if (!p)
		return;
	free(p->server);
	free(p->firmware);
	free(p->config);
	free(p->firmware_url);
	free(p);
	a->priv = NULL;
}

/* The `version=TOKEN` in an image's header into buf; false if there is none. */
static bool ac_header_version(const char *data, size_t len, char *buf, size_t size)
{
	size_t head = len < AC_HEADER_BYTES ? len : AC_HEADER_BYTES;
	for (size_t i = 0; i + 8 < head; i++) {
		if (memcmp(data + i, "version=", 8) != 0)
			continue;
		size_t j = i + 8, n = 0;
		while (j + n < head && n + 1 < size && data[j + n] > ' ' && data[j + n] < 127)
			n++;
		if (n > 0) {
			memcpy(buf, data + j, n);
			buf[n] = '\0';
			return true;
		}
	}
	return false;
}

/* The image's version: `version=TOKEN` in its header, else its MD5. */
static void ac_image_version(const char *data, size_t len, char *buf, size_t size)
{
	if (ac_header_version(data, len, buf, size))
		return;
	char md5[33];
	md5_hex(data, len, md5);
	snprintf(buf, size, "md5:%s", md5);
}

static char *ac_file_url(struct ap_agent *a, const char *name)
{
	return strstr(name, "://") ? strdup(name) : agent_url(a, ac(a)->server, NULL, name);
}

static void ac_firmware_got(struct ap_agent *a, struct fetch_result *r)
{
	if (r->status != FETCH_OK) {
		agent_pass_end(a, false, "firmware download failed: %s", r->message);
		return;
	}
	char version[128];
	ac_image_version(r->body, r->len, version, sizeof(version));
	if (strcmp(version, a->firmware) == 0) {
		agent_event(a, AP_EV_DECISION, NULL, "the image's version %s is running", version);
		ac_config(a);
		return;
	}
	agent_event(a, AP_EV_DECISION, NULL, "the image's version %s differs from the running %s",
		    version, *a->firmware ? a->firmware : "unknown");
	int err = agent_install_firmware(a, version, r->body, r->len);
	if (err < 0) {
		agent_pass_end(a, false, "installing firmware failed: %s", strerror(-err));
		return;
	}
	agent_reboot(a, AGENT_BOOT_FIRMWARE, "new firmware installed");
}

/*
 * The header's answer (seed 004 step 5: "checking the firmware file header"): the same
 * version, on to the configuration; another one, the whole image. A header without a
 * version says nothing: the whole image then, compared by its MD5.
 */
static void ac_header_got(struct ap_agent *a, struct fetch_result *r)
{
	char version[128];
	if (r->status != FETCH_OK) {
		agent_pass_end(a, false, "firmware header download failed: %s", r->message);
		return;
	}
	if (r->len < AC_HEADER_BYTES) { /* the whole image */
		ac_firmware_got(a, r);
		return;
	}
	if (!ac_header_version(r->body, r->len, version, sizeof(version))) {
		agent_event(a, AP_EV_DECISION, NULL,
			    "the image's header names no version: the whole image is compared");
	} else if (strcmp(version, a->firmware) == 0) {
		agent_event(a, AP_EV_DECISION, NULL,
			    "the image's version %s is running (read from its first %zu bytes)",
			    version, r->len);
		ac_config(a);
		return;
	} else {
		agent_event(a, AP_EV_DECISION, NULL,
			    "the image's header says version %s, %s is running: the image is "
			    "downloaded",
			    version, *a->firmware ? a->firmware : "unknown");
	}
	agent_fetch(a, ac(a)->firmware_url, ac_firmware_got);
}

static void ac_config_got(struct ap_agent *a, struct fetch_result *r)
{
	if (r->status != FETCH_OK) {
		agent_pass_end(a, false, "configuration download failed: %s", r->message);
		return;
	}
	char md5[33];
	md5_hex(r->body, r->len, md5);
	const char *applied = kvmap_get(&a->memo, "config_md5");
	if (applied && strcmp(applied, md5) == 0) {
		agent_pass_end(a, true, "provisioned: firmware and configuration are current");
		return;
	}
	struct cfg cfg = { 0 };
	size_t line = 0;
	const char *why = "";
	if (cfg_parse(CFG_KEYVALUE, r->body, r->len, &cfg, &line, &why) < 0) {
		agent_pass_end(a, false, "configuration line %zu: %s", line, why);
		return;
	}
	const char *model = cfg_get(&cfg, "system/type");
	if (model && strcasecmp(model, a->model) != 0) {
		agent_pass_end(a, false, "the configuration is for model %s, not %s: rejected",
			       model, a->model);
		cfg_done(&cfg);
		return;
	}
	agent_event(a, AP_EV_DECISION, NULL, "%s",
		    model ? "the configuration is for this model"
			  : "the configuration names no model "
			    "(system/type): accepted");
	int err = agent_apply_cfg(a, &cfg, true, ac(a)->config);
	cfg_done(&cfg);
	if (err == 0)
		err = kvmap_set(&a->memo, "config_md5", md5);
	if (err < 0) {
		agent_pass_end(a, false, "applying the configuration failed: %s", strerror(-err));
		return;
	}
	agent_reboot(a, AGENT_BOOT_CONFIG, "new configuration applied");
}

static void ac_config(struct ap_agent *a)
{
	struct ac_pass *p = ac(a);
	if (!p->config) {
		agent_pass_end(a, true, "provisioned: option 160 names no configuration file");
		return;
	}
	char *url = ac_file_url(a, p->config);
	if (!url) {
		agent_pass_end(a, false, "bad configuration URL %s", p->config);
		return;
	}
	agent_fetch(a, url, ac_config_got);
	free(url);
}

static void ac_pass(struct ap_agent *a)
{
	struct ac_pass *p = calloc(1, sizeof(*p));
	a->priv = p;
	if (!p) {
		agent_pass_end(a, false, "out of memory");
		return;
	}
	const char *why = "";
	if (a->server_source == DISC_DHCP_160) {
		if (ac_opt160_parse(a->server, &p->server, &p->firmware, &p->config, &why) < 0) {
			agent_pass_end(a, false, "option 160 %s: %s", a->server, why);
			return;
		}
	} else {
		p->server = strdup(a->server);
		p->firmware = a->server_detail ? strdup(a->server_detail) : NULL;
	}
	/* The server alone (160) or option 66 without 67: the default names. */
	bool bare = !p->firmware && !p->config;
	char name[128];
	if (bare || (!p->firmware && a->server_source != DISC_DHCP_160)) {
		snprintf(name, sizeof(name), "%s.img", a->model);
		p->firmware = strdup(name);
	}
	if (bare || a->server_source != DISC_DHCP_160) {
		snprintf(name, sizeof(name), "%s.cfg", a->model);
		free(p->config);
		p->config = strdup(name);
	}
	if (!p->server) {
		agent_pass_end(a, false, "out of memory");
		return;
	}
	if (!p->firmware) {
		agent_event(a, AP_EV_DECISION, NULL,
			    "no firmware file named: firmware not checked");
		ac_config(a);
		return;
	}
	p->firmware_url = ac_file_url(a, p->firmware);
	if (!p->firmware_url) {
		agent_pass_end(a, false, "bad firmware URL %s", p->firmware);
		return;
	}
	agent_fetch_head(a, p->firmware_url, AC_HEADER_BYTES, ac_header_got);
}

const struct agent_profile agent_profile_audiocodes = {
	.name = "audiocodes",
	.defaults = audiocodes_defaults,
	.pass = ac_pass,
	.pass_done = ac_pass_free,
};
