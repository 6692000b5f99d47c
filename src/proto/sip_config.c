// SPDX-License-Identifier: MIT
/*
 * The SIP PnP responder's configuration: the answer to unknown devices, the OUIs answered,
 * and the URL templates per vendor and model ([sip] in autoprov.conf).
 */
#include "proto/sip.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/str.h"

void sip_config_default(struct sip_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	addr_parse("0.0.0.0:5060", &cfg->listen);
	cfg->answer = SIP_ANSWER_ALL;
	str_copy(cfg->url, sizeof(cfg->url), "{{tftp_url}}");
	cfg->t1_ms = 500;
	cfg->t2_ms = 4000;
	cfg->max_subscriptions = 4096;
	cfg->max_per_source = 8;
}

int sip_parse_answer(const char *value, enum sip_answer *ret)
{
	if (strcmp(value, "all") == 0)
		*ret = SIP_ANSWER_ALL;
	else if (strcmp(value, "known") == 0)
		*ret = SIP_ANSWER_KNOWN;
	else if (strcmp(value, "oui") == 0)
		*ret = SIP_ANSWER_OUI;
	else
		return -EINVAL;
	return 0;
}

int sip_config_add_oui(struct sip_config *cfg, const char *value)
{
	const char *p = value;

	while (*p) {
		uint32_t oui = 0;
		unsigned n = 0;

		while (isspace((unsigned char)*p) || *p == ',')
			p++;
		if (!*p)
			break;
		while (*p && !isspace((unsigned char)*p) && *p != ',') {
			if (isxdigit((unsigned char)*p)) {
				int d = isdigit((unsigned char)*p)
						? *p - '0'
						: tolower((unsigned char)*p) - 'a' + 10;

				if (++n > 6)
					return -EINVAL;
				oui = oui << 4 | (uint32_t)d;
			} else if (*p != ':' && *p != '-' && *p != '.') {
				return -EINVAL;
			}
			p++;
		}
		if (n != 6)
			return -EINVAL;
		if (cfg->noui == SIP_OUI_MAX)
			return -E2BIG;
		cfg->oui[cfg->noui++] = oui;
	}
	return 0;
}

int sip_config_add_url_rule(struct sip_config *cfg, const char *value)
{
	struct sip_url_rule rule;
	const char *sp = value, *slash, *url;

	memset(&rule, 0, sizeof(rule));
	while (*sp && !isspace((unsigned char)*sp))
		sp++;
	url = sp;
	while (isspace((unsigned char)*url))
		url++;
	if (sp == value || !*url)
		return -EINVAL;
	slash = memchr(value, '/', (size_t)(sp - value));
	if (slash == value)
		return -EINVAL;
	if (slash) {
		if ((size_t)(slash - value) >= sizeof(rule.vendor) ||
		    (size_t)(sp - slash - 1) >= sizeof(rule.model) || sp == slash + 1)
			return -EINVAL;
		memcpy(rule.vendor, value, (size_t)(slash - value));
		memcpy(rule.model, slash + 1, (size_t)(sp - slash - 1));
	} else {
		if ((size_t)(sp - value) >= sizeof(rule.vendor))
			return -EINVAL;
		memcpy(rule.vendor, value, (size_t)(sp - value));
	}
	if (str_copy(rule.url, sizeof(rule.url), url) < 0)
		return -EINVAL;
	if (cfg->nrules == SIP_URL_RULES_MAX)
		return -E2BIG;
	cfg->rules[cfg->nrules++] = rule;
	return 0;
}

const char *sip_config_url(const struct sip_config *cfg, const char *vendor, const char *model)
{
	const char *best = cfg->url;

	for (size_t i = 0; i < cfg->nrules; i++) {
		const struct sip_url_rule *r = &cfg->rules[i];

		if (strcasecmp(r->vendor, vendor) != 0)
			continue;
		if (r->model[0] && strcasecmp(r->model, model) == 0)
			return r->url;
		if (!r->model[0] && best == cfg->url)
			best = r->url;
	}
	return best;
}
