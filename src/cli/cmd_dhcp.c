// SPDX-License-Identifier: MIT
/*
 * `autoprov dhcp`: prints the configuration a DHCP server (dnsmasq, Kea, ISC dhcpd) needs to
 * point each vendor's endpoints at this provisioning server. Every vendor gets its own values
 * (options 66, 67, 150, 160 in the forms its seed says it reads), handed out by matches the
 * site can justify: the MACs of the inventory, the AudioCodes model names the phones publish
 * in options 60 and 77 (seed 004), and option 60 strings the administrator gives. The choices
 * and their sources are in docs/dhcp.md; the output is checked by the real servers in
 * tests/integration/test_dhcp.py.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/addr.h"
#include "core/log.h"
#include "core/mac.h"
#include "core/str.h"
#include "server/config.h"
#include "store/store.h"

#define PROG "autoprov dhcp"

#define DHCP_MAX_CLASSES    64
#define DHCP_MAX_MATCHES    8
#define DHCP_MAX_MACS	    1000000
#define DHCP_VALUE_MAX	    512
#define DHCP_WALK_DEPTH	    6
#define DHCP_KEA_MAX_OFFSET 32 /* Kea has no substring search: offsets tried for a match */

enum dhcp_format { DHCP_DNSMASQ, DHCP_KEA, DHCP_ISC };

/* The vendors, in output order, with the seed each one's values come from. */
static const struct dhcp_vendor {
	const char *name;
	const char *source;
} dhcp_vendors[] = {
	{ "algo", "seed 000: options 66, 160, 150 in that priority; a host or a full URL" },
	{ "fip", "seed 002: option 66 (a TFTP server in the seed's capture)" },
	{ "spa", "seed 001: option 66 = TFTP server; the device asks for its Config File Name" },
	{ "audiocodes", "seed 004: option 160 <proto>://host/<fw>;<cfg>, else 66 + 67 (TFTP)" },
	{ "panasonic", "seed 003: options 160 > 159 > 66, a URL of the initial file's directory" },
};
#define DHCP_NVENDORS (sizeof(dhcp_vendors) / sizeof(dhcp_vendors[0]))

/* One set of values and who gets it: a vendor, or one AudioCodes model. */
struct dhcp_class {
	unsigned vendor; /* index in dhcp_vendors */
	char tag[96];	 /* autoprov-algo, autoprov-audiocodes-400HD */
	char model[65];	 /* AudioCodes: the model matched in options 60/77; "" otherwise */
	char note[256];	 /* a comment saying where the values come from */
	char *matches[DHCP_MAX_MATCHES]; /* substrings of option 60 (and 77 with user_class) */
	unsigned nmatches;
	bool user_class;
	char (*macs)[MAC_LEN + 1];
	size_t nmacs, macs_cap;
	char opt66[DHCP_VALUE_MAX];
	char opt67[DHCP_VALUE_MAX];
	char opt150[INET_ADDRSTRLEN];
	char opt160[DHCP_VALUE_MAX];
};

struct dhcp_plan {
	enum dhcp_format format;
	const char *site_dir;
	const char *store_url; /* [store] url, or "" */
	bool wanted[DHCP_NVENDORS];
	const char *proto;
	char host[256]; /* a name, an IPv4 or an IPv6 address (no brackets) */
	bool host_is_ipv4, host_is_ipv6;
	uint16_t port;		       /* of proto */
	char prefix[128];	       /* of proto's listener */
	char url_root[DHCP_VALUE_MAX]; /* proto://host[:port][/prefix] */
	char url_dir[DHCP_VALUE_MAX];  /* the same with a trailing '/' */
	bool tftp69;		       /* TFTP on port 69 of host: bare-address forms work */
	char default66[DHCP_VALUE_MAX];
	struct dhcp_class classes[DHCP_MAX_CLASSES];
	unsigned nclasses;
	unsigned ndevices, nskipped;
};

static void dhcp_usage(FILE *out)
{
	fprintf(out,
		"usage: autoprov dhcp --format kea|dnsmasq|isc [--site DIR] [OPTIONS]\n"
		"\n"
		"Prints the DHCP server configuration that points each vendor's endpoints at this\n"
		"provisioning server: options 66, 67, 150 and 160 in the form each vendor reads,\n"
		"given by vendor to the inventory's devices (by MAC), to AudioCodes phones by the\n"
		"model they publish in options 60/77, and to option 60 strings given with\n"
		"--vendor-class. Clients nobody matches get option 66 = the server (TFTP).\n"
		"\n"
		"  --format NAME       dnsmasq (dnsmasq.conf lines), kea (a Dhcp4 JSON object to\n"
		"                      merge), isc (dhcpd.conf statements)\n"
		"  --site DIR          the site (default: the current directory)\n"
		"  --config FILE       configuration file (default: DIR/autoprov.conf)\n"
		"  --server HOST[:PORT] the address devices reach this server at (default: the\n"
		"                      listener's address; required when that is a wildcard)\n"
		"  --proto NAME        tftp, http, https or ftp: the protocol of the URLs (default:\n"
		"                      the first listener enabled of tftp, http, https, ftp)\n"
		"  --vendor LIST       comma-separated: algo,fip,spa,audiocodes,panasonic (default:\n"
		"                      all)\n"
		"  --vendor-class VENDOR=STRING  clients whose option 60 contains STRING are VENDOR's\n"
		"                      (repeatable; the seeds name no such string except\n"
		"                      AudioCodes' model names)\n"
		"  -h, --help          this text\n"
		"\n"
		"Exit status: 0 printed, 1 configuration or site error, 2 usage.\n"
		"Documentation: docs/dhcp.md (also the DHCP client hook scripts).\n");
}

/* snprintf into a value: on truncation the value is emptied and -ENAMETOOLONG returned. */
__attribute__((format(printf, 3, 4))) static int set_value(char *dst, size_t dstsz, const char *fmt,
							   ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, dstsz, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= dstsz) {
		dst[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

/* A value we write between double quotes in all three formats: printable, no quote or '\'. */
static bool value_safe(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\' || *s == '\'')
			return false;
	return true;
}

/* Model names and vendor-class strings: what every format can match without escaping. */
static bool match_safe(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-_./+:@", *s))
			return false;
	return true;
}

static void tag_part(const char *s, char *ret, size_t retsz)
{
	size_t n = 0;

	for (; *s && n + 1 < retsz; s++)
		ret[n++] = isalnum((unsigned char)*s) || *s == '-' ? *s : '_';
	ret[n] = '\0';
}

static int vendor_index(const char *name, size_t len)
{
	for (unsigned i = 0; i < DHCP_NVENDORS; i++)
		if (strlen(dhcp_vendors[i].name) == len &&
		    strncmp(dhcp_vendors[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

static struct dhcp_class *class_find(struct dhcp_plan *plan, unsigned vendor, const char *model)
{
	for (unsigned i = 0; i < plan->nclasses; i++)
		if (plan->classes[i].vendor == vendor && strcmp(plan->classes[i].model, model) == 0)
			return &plan->classes[i];
	return NULL;
}

/* The class of vendor (model "" for its generic one), made on first use; NULL when full. */
static struct dhcp_class *class_get(struct dhcp_plan *plan, unsigned vendor, const char *model)
{
	struct dhcp_class *c = class_find(plan, vendor, model);
	char part[80];

	if (c || plan->nclasses == DHCP_MAX_CLASSES)
		return c;
	c = &plan->classes[plan->nclasses++];
	memset(c, 0, sizeof(*c));
	c->vendor = vendor;
	str_copy(c->model, sizeof(c->model), model);
	if (model[0]) {
		tag_part(model, part, sizeof(part));
		set_value(c->tag, sizeof(c->tag), "autoprov-%s-%s", dhcp_vendors[vendor].name,
			  part);
	} else {
		set_value(c->tag, sizeof(c->tag), "autoprov-%s", dhcp_vendors[vendor].name);
	}
	return c;
}

static int class_add_mac(struct dhcp_class *c, const char *mac)
{
	if (c->nmacs == c->macs_cap) {
		size_t cap = c->macs_cap ? c->macs_cap * 2 : 16;
		void *p;

		if (cap > DHCP_MAX_MACS)
			return -E2BIG;
		p = realloc(c->macs, cap * sizeof(*c->macs));
		if (!p)
			return -ENOMEM;
		c->macs = p;
		c->macs_cap = cap;
	}
	memcpy(c->macs[c->nmacs++], mac, MAC_LEN + 1);
	return 0;
}

static int class_add_match(struct dhcp_class *c, const char *s)
{
	for (unsigned i = 0; i < c->nmatches; i++)
		if (strcmp(c->matches[i], s) == 0)
			return 0;
	if (c->nmatches == DHCP_MAX_MATCHES)
		return -E2BIG;
	c->matches[c->nmatches] = strdup(s);
	if (!c->matches[c->nmatches])
		return -ENOMEM;
	c->nmatches++;
	return 0;
}

static void plan_done(struct dhcp_plan *plan)
{
	for (unsigned i = 0; i < plan->nclasses; i++) {
		free(plan->classes[i].macs);
		for (unsigned j = 0; j < plan->classes[i].nmatches; j++)
			free(plan->classes[i].matches[j]);
	}
	plan->nclasses = 0;
}

/* ---- the site: which files AudioCodes option 160 names, whether a panasonic/ exists ---- */

/*
 * Looks below DIR/top (depth-limited) for a file whose name is want (case-insensitive) or,
 * with pattern, exactly pattern; the first found in name order wins. ret gets the path below
 * top, with pattern's "{model}" replaced by model. 0, or -ENOENT.
 */
static int walk_find(const char *dir, const char *rel, unsigned depth, const char *want,
		     const char *pattern, const char *model, char *ret, size_t retsz)
{
	struct dirent **names = NULL;
	char path[PATH_MAX], sub[PATH_MAX];
	int n, r = -ENOENT;

	snprintf(path, sizeof(path), "%s%s%s", dir, rel[0] ? "/" : "", rel);
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0)
		return -ENOENT;
	/* files of this directory first, then subdirectories: the shallowest name wins */
	for (int pass = 0; pass < 2 && r < 0; pass++) {
		for (int i = 0; i < n && r < 0; i++) {
			const char *name = names[i]->d_name;
			struct stat st;

			if (name[0] == '.')
				continue;
			snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", name);
			if (set_value(path, sizeof(path), "%s/%s", dir, sub) < 0 ||
			    stat(path, &st) < 0)
				continue;
			if (pass == 0 && S_ISREG(st.st_mode)) {
				if (strcasecmp(name, want) == 0) {
					r = snprintf(ret, retsz, "%s", sub) < (int)retsz ? 0
											 : -ENOENT;
				} else if (pattern && strcmp(name, pattern) == 0) {
					r = snprintf(ret, retsz, "%s%s%s%s", rel, rel[0] ? "/" : "",
						     model, strrchr(pattern, '.')) < (int)retsz
						    ? 0
						    : -ENOENT;
				}
			} else if (pass == 1 && S_ISDIR(st.st_mode) && depth > 0 &&
				   !strchr(name, '{')) {
				r = walk_find(dir, sub, depth - 1, want, pattern, model, ret,
					      retsz);
			}
		}
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

static bool site_has_dir(const char *site_dir, const char *top, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s/%s", site_dir, top, name);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Option 160 for an AudioCodes model: the four forms of seed 004 by what the site has. */
static void audiocodes_values(struct dhcp_plan *plan, struct dhcp_class *c)
{
	char want[80], files_dir[PATH_MAX], templates_dir[PATH_MAX];
	char fw[256] = "", cfg[256] = "";

	if (!c->model[0]) {
		set_value(c->opt160, sizeof(c->opt160), "%s", plan->url_root);
		set_value(c->note, sizeof(c->note),
			  "AudioCodes, any model: the server, no file names");
	} else {
		snprintf(files_dir, sizeof(files_dir), "%s/files", plan->site_dir);
		snprintf(templates_dir, sizeof(templates_dir), "%s/templates", plan->site_dir);
		snprintf(want, sizeof(want), "%s.img", c->model);
		if (walk_find(files_dir, "", DHCP_WALK_DEPTH, want, NULL, NULL, fw, sizeof(fw)) <
			    0 ||
		    !value_safe(fw))
			fw[0] = '\0';
		snprintf(want, sizeof(want), "%s.cfg", c->model);
		if ((walk_find(files_dir, "", DHCP_WALK_DEPTH, want, NULL, NULL, cfg, sizeof(cfg)) <
			     0 &&
		     walk_find(templates_dir, "", DHCP_WALK_DEPTH, want, "{model}.cfg", c->model,
			       cfg, sizeof(cfg)) < 0) ||
		    !value_safe(cfg))
			cfg[0] = '\0';
		if (fw[0] && cfg[0])
			set_value(c->opt160, sizeof(c->opt160), "%s%s;%s", plan->url_dir, fw, cfg);
		else if (fw[0])
			set_value(c->opt160, sizeof(c->opt160), "%s%s", plan->url_dir, fw);
		else if (cfg[0])
			set_value(c->opt160, sizeof(c->opt160), "%s;%s", plan->url_dir, cfg);
		else
			set_value(c->opt160, sizeof(c->opt160), "%s", plan->url_root);
		set_value(c->note, sizeof(c->note),
			  "AudioCodes %s (model in option 60/77): firmware %s, configuration %s",
			  c->model, fw[0] ? fw : "(none found)", cfg[0] ? cfg : "(none found)");
	}
	/* 66 + 67 only matter without 160, and are TFTP: given when TFTP is on port 69 */
	if (plan->tftp69) {
		set_value(c->opt66, sizeof(c->opt66), "%s", plan->host);
		if (fw[0])
			set_value(c->opt67, sizeof(c->opt67), "%s", fw);
	}
}

static void class_values(struct dhcp_plan *plan, struct dhcp_class *c)
{
	const char *vendor = dhcp_vendors[c->vendor].name;
	bool bare = plan->tftp69 && strcmp(plan->proto, "tftp") == 0 && !plan->prefix[0];

	if (strcmp(vendor, "algo") == 0) {
		/* a bare address is the form every DHCP client passes on (udhcpc drops URLs) */
		set_value(c->opt66, sizeof(c->opt66), "%s", bare ? plan->host : plan->url_root);
		set_value(c->opt160, sizeof(c->opt160), "%s", plan->url_root);
		if (plan->tftp69 && plan->host_is_ipv4)
			set_value(c->opt150, sizeof(c->opt150), "%s", plan->host);
		set_value(c->note, sizeof(c->note), "Algo: the server in 66, 160 and 150");
	} else if (strcmp(vendor, "fip") == 0) {
		set_value(c->opt66, sizeof(c->opt66), "%s", bare ? plan->host : plan->url_root);
		set_value(c->note, sizeof(c->note), "Flyingvoice FIP: the server in 66%s",
			  bare ? "" : " as a URL (an assumption: the seed shows a TFTP address)");
	} else if (strcmp(vendor, "spa") == 0) {
		if (plan->tftp69)
			set_value(c->opt66, sizeof(c->opt66), "%s", plan->host);
		set_value(c->note, sizeof(c->note), "SPA-style: the TFTP server in 66%s",
			  plan->tftp69 ? "" : " (not given: no TFTP listener on port 69)");
	} else if (strcmp(vendor, "audiocodes") == 0) {
		audiocodes_values(plan, c);
	} else if (strcmp(vendor, "panasonic") == 0) {
		bool dir = site_has_dir(plan->site_dir, "files", "panasonic") ||
			   site_has_dir(plan->site_dir, "templates", "panasonic");

		set_value(c->opt160, sizeof(c->opt160), "%s%s",
			  dir ? plan->url_dir : plan->url_root, dir ? "panasonic/" : "");
		set_value(c->note, sizeof(c->note), "Panasonic: the URL of %s in 160",
			  dir ? "the site's panasonic/ directory" : "the server");
	}
}

/* ---- the inventory ---- */

static int add_device(const struct device *d, void *arg)
{
	struct dhcp_plan *plan = arg;
	struct dhcp_class *c;
	int v, r;

	if (!d->enabled || !d->profile[0])
		return 0;
	v = vendor_index(d->profile, strlen(d->profile));
	if (v < 0 || !plan->wanted[v])
		return 0;
	if (strcmp(d->profile, "audiocodes") == 0 && d->model[0] && match_safe(d->model)) {
		c = class_get(plan, (unsigned)v, d->model);
		if (c && !c->nmatches) {
			c->user_class = true;
			if ((r = class_add_match(c, d->model)) < 0)
				return r;
		}
	} else {
		if (strcmp(d->profile, "audiocodes") == 0 && d->model[0])
			fprintf(stderr,
				PROG
				": device %s: model '%s' cannot be matched in option 60 (only "
				"letters, digits and -_./+:@): given the generic AudioCodes values\n",
				d->mac, d->model);
		c = class_get(plan, (unsigned)v, "");
	}
	if (!c) {
		plan->nskipped++;
		return 0;
	}
	plan->ndevices++;
	return class_add_mac(c, d->mac);
}

static int load_inventory(struct dhcp_plan *plan)
{
	char path[PATH_MAX], err[256];
	struct store *st = NULL;
	int r;

	/* opening would create the database: a site without one has no inventory */
	snprintf(path, sizeof(path), "%s/autoprov.db", plan->site_dir);
	if (!store_url_is_pg(plan->store_url) && access(path, F_OK) < 0)
		return 0;
	r = store_open_url(plan->store_url, plan->site_dir, &st, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, PROG ": %s: %s\n", path, err);
		return r;
	}
	r = store_device_foreach(st, add_device, plan);
	if (r < 0)
		fprintf(stderr, PROG ": %s: reading the inventory: %s\n", path,
			r == -E2BIG ? "too many devices" : store_strerror(st));
	store_close(st);
	return r;
}

/* ---- output ---- */

static void print_header(const struct dhcp_plan *plan, const char *comment)
{
	printf("%s Generated by `autoprov dhcp --format %s` for the site %s: endpoints are sent to\n"
	       "%s %s (docs/dhcp.md). %u inventory device(s) matched by MAC.\n",
	       comment,
	       plan->format == DHCP_DNSMASQ ? "dnsmasq"
	       : plan->format == DHCP_KEA   ? "kea"
					    : "isc",
	       plan->site_dir, comment, plan->url_root, plan->ndevices);
}

/* The classes in output order: by vendor, AudioCodes models before the generic class. */
static unsigned ordered(const struct dhcp_plan *plan, const struct dhcp_class **ret)
{
	unsigned n = 0;

	for (unsigned v = 0; v < DHCP_NVENDORS; v++) {
		for (int generic = 0; generic < 2; generic++)
			for (unsigned i = 0; i < plan->nclasses; i++)
				if (plan->classes[i].vendor == v &&
				    (plan->classes[i].model[0] == '\0') == (generic == 1))
					ret[n++] = &plan->classes[i];
	}
	return n;
}

static void print_dnsmasq(const struct dhcp_plan *plan)
{
	const struct dhcp_class *list[DHCP_MAX_CLASSES];
	unsigned n = ordered(plan, list);
	char colons[MAC_LEN + 6];

	print_header(plan, "#");
	printf("# An option with a tag replaces the untagged one of the same number for clients\n"
	       "# with that tag; dnsmasq sends an option only to clients that ask for it.\n");
	if (plan->default66[0])
		printf("\n# Everyone else: the TFTP server (every vendor reads option 66).\n"
		       "dhcp-option=66,\"%s\"\n",
		       plan->default66);
	for (unsigned i = 0; i < n; i++) {
		const struct dhcp_class *c = list[i];
		const char *t = c->tag;

		printf("\n# %s\n# %s\n", c->note, dhcp_vendors[c->vendor].source);
		for (unsigned j = 0; j < c->nmatches; j++) {
			printf("dhcp-vendorclass=set:%s,%s\n", t, c->matches[j]);
			if (c->user_class)
				printf("dhcp-userclass=set:%s,%s\n", t, c->matches[j]);
		}
		for (size_t j = 0; j < c->nmacs; j++) {
			mac_colons(c->macs[j], colons);
			printf("dhcp-mac=set:%s,%s\n", t, colons);
		}
		if (!c->nmatches && !c->nmacs)
			printf("# (no device matches yet: add devices to the inventory or use "
			       "--vendor-class)\n");
		if (c->opt66[0])
			printf("dhcp-option=tag:%s,66,\"%s\"\n", t, c->opt66);
		if (c->opt67[0])
			printf("dhcp-option=tag:%s,67,\"%s\"\n", t, c->opt67);
		if (c->opt160[0])
			printf("dhcp-option=tag:%s,160,\"%s\"\n", t, c->opt160);
		if (c->opt150[0])
			printf("dhcp-option=tag:%s,150,%s\n", t, c->opt150);
	}
}

/* A Kea option-data entry; a string with a comma goes as hex (Kea splits CSV data). */
static void kea_option(const char *name, const char *value, bool *first, const char *indent)
{
	printf("%s\n%s{ \"name\": \"%s\", ", *first ? "" : ",", indent, name);
	*first = false;
	if (strchr(value, ',')) {
		printf("\"csv-format\": false, \"data\": \"");
		for (const char *p = value; *p; p++)
			printf("%02x", (unsigned char)*p);
		printf("\" }");
	} else {
		printf("\"data\": \"%s\" }", value);
	}
}

static void kea_test(const struct dhcp_class *c)
{
	bool first = true;

	for (unsigned j = 0; j < c->nmatches; j++) {
		size_t len = strlen(c->matches[j]);

		for (int opt = 60; opt <= (c->user_class ? 77 : 60); opt += 17)
			for (unsigned off = 0; off <= DHCP_KEA_MAX_OFFSET; off++) {
				printf("%ssubstring(option[%d].text, %u, %zu) == '%s'",
				       first ? "" : " or ", opt, off, len, c->matches[j]);
				first = false;
			}
	}
	for (size_t j = 0; j < c->nmacs; j++) {
		printf("%spkt4.mac == 0x%s", first ? "" : " or ", c->macs[j]);
		first = false;
	}
}

static void print_kea(const struct dhcp_plan *plan)
{
	const struct dhcp_class *list[DHCP_MAX_CLASSES];
	unsigned n = ordered(plan, list);
	bool first;

	/* JSON has no comments, but Kea's parser accepts '#' and C++ comments */
	print_header(plan, "#");
	printf("# Merge \"option-def\", \"client-classes\" and \"option-data\" into your Dhcp4\n"
	       "# object. Class options override global ones; the first matching class wins.\n");
	printf("{\n  \"Dhcp4\": {\n"
	       "    \"option-def\": [\n"
	       "      { \"name\": \"autoprov-tftp-servers\", \"code\": 150, \"space\": \"dhcp4\", "
	       "\"type\": \"ipv4-address\", \"array\": true },\n"
	       "      { \"name\": \"autoprov-provisioning-url\", \"code\": 160, \"space\": \"dhcp4\", "
	       "\"type\": \"string\" }\n"
	       "    ],\n");
	printf("    \"option-data\": [");
	first = true;
	if (plan->default66[0])
		kea_option("tftp-server-name", plan->default66, &first, "      ");
	printf("%s],\n", first ? "" : "\n    ");
	printf("    \"client-classes\": [");
	for (unsigned i = 0; i < n; i++) {
		const struct dhcp_class *c = list[i];

		printf("%s\n      {\n        \"comment\": \"%s\",\n        \"name\": \"%s\",\n",
		       i ? "," : "", c->note, c->tag);
		/* without a test the class is defined but matches nobody (yet) */
		if (c->nmatches || c->nmacs) {
			printf("        \"test\": \"");
			kea_test(c);
			printf("\",\n");
		}
		printf("        \"option-data\": [");
		first = true;
		if (c->opt66[0])
			kea_option("tftp-server-name", c->opt66, &first, "          ");
		if (c->opt67[0])
			kea_option("boot-file-name", c->opt67, &first, "          ");
		if (c->opt160[0])
			kea_option("autoprov-provisioning-url", c->opt160, &first, "          ");
		if (c->opt150[0])
			kea_option("autoprov-tftp-servers", c->opt150, &first, "          ");
		printf("%s]\n      }", first ? "" : "\n        ");
	}
	printf("%s]\n  }\n}\n", n ? "\n    " : "");
}

static void isc_options(const struct dhcp_class *c, const char *indent)
{
	if (c->opt66[0])
		printf("%soption tftp-server-name \"%s\";\n", indent, c->opt66);
	if (c->opt67[0])
		printf("%soption bootfile-name \"%s\";\n", indent, c->opt67);
	if (c->opt160[0])
		printf("%soption autoprov-provisioning-url \"%s\";\n", indent, c->opt160);
	if (c->opt150[0])
		printf("%soption autoprov-tftp-servers %s;\n", indent, c->opt150);
}

/* A POSIX extended regular expression matching s literally, inside a dhcpd string. */
static void isc_regex(const char *s)
{
	for (; *s; s++) {
		if (strchr(".^$*+?()[]{}|", *s))
			printf("\\\\");
		putchar(*s);
	}
}

static void print_isc(const struct dhcp_plan *plan)
{
	const struct dhcp_class *list[DHCP_MAX_CLASSES];
	unsigned n = ordered(plan, list);
	char colons[MAC_LEN + 6];

	print_header(plan, "#");
	printf("# Global statements for dhcpd.conf. Class options override global ones.\n"
	       "option autoprov-tftp-servers code 150 = array of ip-address;\n"
	       "option autoprov-provisioning-url code 160 = text;\n");
	if (plan->default66[0])
		printf("\n# Everyone else: the TFTP server (every vendor reads option 66).\n"
		       "option tftp-server-name \"%s\";\n",
		       plan->default66);
	for (unsigned i = 0; i < n; i++) {
		const struct dhcp_class *c = list[i];

		printf("\n# %s\n# %s\n", c->note, dhcp_vendors[c->vendor].source);
		if (c->nmatches) {
			printf("class \"%s\" {\n  match if ", c->tag);
			for (unsigned j = 0; j < c->nmatches; j++) {
				printf("%soption vendor-class-identifier ~= \"",
				       j ? "\n    or " : "");
				isc_regex(c->matches[j]);
				printf("\"");
				if (c->user_class) {
					printf("\n    or option user-class ~= \"");
					isc_regex(c->matches[j]);
					printf("\"");
				}
			}
			printf(";\n");
			isc_options(c, "  ");
			printf("}\n");
		}
		if (c->nmacs) {
			printf("class \"%s-mac\" {\n  match hardware;\n", c->tag);
			isc_options(c, "  ");
			printf("}\n");
			for (size_t j = 0; j < c->nmacs; j++) {
				mac_colons(c->macs[j], colons);
				printf("subclass \"%s-mac\" 1:%s;\n", c->tag, colons);
			}
		}
		if (!c->nmatches && !c->nmacs)
			printf("# (no device matches yet: add devices to the inventory or use "
			       "--vendor-class)\n");
	}
}

/* ---- the server's address ---- */

/* "HOST", "HOST:PORT", "[V6]:PORT" or "V6". 0 or -EINVAL. */
static int parse_server(const char *s, char *ret_host, size_t hostsz, uint16_t *ret_port,
			bool *ret_has_port)
{
	const char *colon = strrchr(s, ':');
	uint64_t port = 0;
	size_t len;

	*ret_has_port = false;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || (end[1] && end[1] != ':'))
			return -EINVAL;
		len = (size_t)(end - s - 1);
		colon = end[1] ? end + 1 : NULL;
		s++;
	} else if (colon && strchr(s, ':') == colon) {
		len = (size_t)(colon - s);
	} else {
		len = strlen(s);
		colon = NULL;
	}
	if (len == 0 || len >= hostsz)
		return -EINVAL;
	memcpy(ret_host, s, len);
	ret_host[len] = '\0';
	if (colon) {
		if (str_to_u64(colon + 1, 1, 65535, &port) < 0)
			return -EINVAL;
		*ret_port = (uint16_t)port;
		*ret_has_port = true;
	}
	return 0;
}

static bool host_name_ok(const char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.')
			return false;
	return true;
}

static uint16_t default_port(const char *proto)
{
	return strcmp(proto, "tftp") == 0    ? 69
	       : strcmp(proto, "http") == 0  ? 80
	       : strcmp(proto, "https") == 0 ? 443
					     : 21;
}

/* The listener of proto in cfg: enabled, address, prefix. */
static void listener(const struct server_config *cfg, const char *proto, bool *ret_on,
		     const struct addr **ret_addr, const char **ret_prefix)
{
	*ret_prefix = "";
	if (strcmp(proto, "tftp") == 0) {
		*ret_on = cfg->tftp.enabled;
		*ret_addr = &cfg->tftp.listen;
		*ret_prefix = cfg->tftp.prefix;
	} else if (strcmp(proto, "http") == 0) {
		*ret_on = cfg->http.enabled;
		*ret_addr = &cfg->http.listen;
		*ret_prefix = cfg->http.prefix;
	} else if (strcmp(proto, "https") == 0) {
		*ret_on = cfg->http.https_enabled;
		*ret_addr = &cfg->http.https_listen;
		*ret_prefix = cfg->http.prefix;
	} else {
		*ret_on = cfg->ftp.enabled;
		*ret_addr = &cfg->ftp.listen;
	}
}

static int plan_server(struct dhcp_plan *plan, const struct server_config *cfg, const char *proto,
		       const char *server, const char *config_path)
{
	static const char *const protos[] = { "tftp", "http", "https", "ftp" };
	const struct addr *addr;
	const char *prefix;
	bool on = false, has_port = false;
	struct in_addr a4;
	struct in6_addr a6;
	char host[ADDR_STRLEN];
	uint16_t port = 0;

	if (proto) {
		for (size_t i = 0; i < 4 && !plan->proto; i++)
			if (strcmp(proto, protos[i]) == 0)
				plan->proto = protos[i];
		if (!plan->proto) {
			fprintf(stderr, PROG ": --proto: '%s' is not tftp, http, https or ftp\n",
				proto);
			return -EINVAL;
		}
	} else {
		for (size_t i = 0; i < 4 && !plan->proto; i++) {
			listener(cfg, protos[i], &on, &addr, &prefix);
			if (on)
				plan->proto = protos[i];
		}
		if (!plan->proto) {
			fprintf(stderr,
				PROG ": %s enables no listener ([tftp], [http], [https] or "
				     "[ftp] listen): nothing to point endpoints at\n",
				config_path);
			return -ENOENT;
		}
	}
	listener(cfg, plan->proto, &on, &addr, &prefix);
	if (server && parse_server(server, plan->host, sizeof(plan->host), &port, &has_port) < 0) {
		fprintf(stderr, PROG ": --server: '%s' is not HOST, HOST:PORT or [IPv6]:PORT\n",
			server);
		return -EINVAL;
	}
	if (!on && !has_port) {
		fprintf(stderr,
			PROG ": [%s] listen is off in %s: enable it, choose another --proto, or "
			     "give the port with --server HOST:PORT\n",
			plan->proto, config_path);
		return -ENOENT;
	}
	if (!has_port)
		port = addr_port((const struct sockaddr *)&addr->ss);
	if (!server) {
		addr_format_host((const struct sockaddr *)&addr->ss, host, sizeof(host));
		if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
			fprintf(stderr,
				PROG ": [%s] listen in %s is the wildcard address %s: give the "
				     "address endpoints reach this server at with --server HOST\n",
				plan->proto, config_path, host);
			return -EINVAL;
		}
		str_copy(plan->host, sizeof(plan->host), host);
	}
	plan->host_is_ipv4 = inet_pton(AF_INET, plan->host, &a4) == 1;
	plan->host_is_ipv6 = !plan->host_is_ipv4 && inet_pton(AF_INET6, plan->host, &a6) == 1;
	if (!plan->host_is_ipv4 && !plan->host_is_ipv6 && !host_name_ok(plan->host)) {
		fprintf(stderr, PROG ": --server: '%s' is not an IP address or a host name\n",
			plan->host);
		return -EINVAL;
	}
	if (plan->host_is_ipv6)
		fprintf(stderr,
			PROG ": note: %s is IPv6; these are DHCPv4 options (option 150 "
			     "is left out)\n",
			plan->host);
	plan->port = port;
	str_copy(plan->prefix, sizeof(plan->prefix), prefix);

	/* bare-address forms (option 66 as a TFTP server, 150) need TFTP on port 69 */
	if (strcmp(plan->proto, "tftp") == 0)
		plan->tftp69 = port == 69;
	else
		plan->tftp69 = cfg->tftp.enabled &&
			       addr_port((const struct sockaddr *)&cfg->tftp.listen.ss) == 69;

	set_value(plan->url_root, sizeof(plan->url_root), "%s://%s%s%s", plan->proto,
		  plan->host_is_ipv6 ? "[" : "", plan->host, plan->host_is_ipv6 ? "]" : "");
	if (port != default_port(plan->proto))
		snprintf(plan->url_root + strlen(plan->url_root),
			 sizeof(plan->url_root) - strlen(plan->url_root), ":%u", port);
	if (plan->prefix[0])
		snprintf(plan->url_root + strlen(plan->url_root),
			 sizeof(plan->url_root) - strlen(plan->url_root), "/%s", plan->prefix);
	set_value(plan->url_dir, sizeof(plan->url_dir), "%s/", plan->url_root);
	if (plan->tftp69 && !plan->host_is_ipv6)
		str_copy(plan->default66, sizeof(plan->default66), plan->host);
	return 0;
}

static int parse_vendors(struct dhcp_plan *plan, const char *list)
{
	const char *p = list;

	memset(plan->wanted, 0, sizeof(plan->wanted));
	while (*p) {
		size_t len = strcspn(p, ",");
		int v = vendor_index(p, len);

		if (v < 0) {
			fprintf(stderr,
				PROG ": --vendor: '%.*s' is not one of algo, fip, spa, audiocodes, "
				     "panasonic\n",
				(int)len, p);
			return -EINVAL;
		}
		plan->wanted[v] = true;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

int cmd_dhcp(int argc, char **argv)
{
	enum { OPT_CONFIG = 256, OPT_FORMAT, OPT_SERVER, OPT_PROTO, OPT_VENDOR, OPT_VCLASS };
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "site", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "server", required_argument, NULL, OPT_SERVER },
		{ "proto", required_argument, NULL, OPT_PROTO },
		{ "vendor", required_argument, NULL, OPT_VENDOR },
		{ "vendor-class", required_argument, NULL, OPT_VCLASS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *format = NULL, *config = NULL, *server = NULL, *proto = NULL, *vendors = NULL;
	const char *vclass[DHCP_MAX_MATCHES * DHCP_NVENDORS];
	unsigned nvclass = 0;
	char config_path[PATH_MAX];
	struct server_config cfg;
	struct dhcp_plan *plan;
	int c, status = 1;

	plan = calloc(1, sizeof(*plan));
	if (!plan) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	plan->site_dir = ".";
	for (unsigned v = 0; v < DHCP_NVENDORS; v++)
		plan->wanted[v] = true;
	while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FORMAT: format = optarg; break;
		case 's': plan->site_dir = optarg; break;
		case OPT_CONFIG: config = optarg; break;
		case OPT_SERVER: server = optarg; break;
		case OPT_PROTO: proto = optarg; break;
		case OPT_VENDOR: vendors = optarg; break;
		case OPT_VCLASS:
			if (nvclass == sizeof(vclass) / sizeof(vclass[0])) {
				fprintf(stderr, PROG ": too many --vendor-class\n");
				status = 2;
				goto out;
			}
			vclass[nvclass++] = optarg;
			break;
		case 'h':
			dhcp_usage(stdout);
			status = 0;
			goto out;
		default:
			dhcp_usage(stderr);
			status = 2;
			goto out;
		}
	}
	status = 2;
	if (optind != argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		dhcp_usage(stderr);
		goto out;
	}
	if (!format) {
		fprintf(stderr, PROG ": --format kea|dnsmasq|isc is required\n");
		dhcp_usage(stderr);
		goto out;
	}
	if (strcmp(format, "dnsmasq") == 0)
		plan->format = DHCP_DNSMASQ;
	else if (strcmp(format, "kea") == 0)
		plan->format = DHCP_KEA;
	else if (strcmp(format, "isc") == 0)
		plan->format = DHCP_ISC;
	else {
		fprintf(stderr, PROG ": --format: '%s' is not kea, dnsmasq or isc\n", format);
		goto out;
	}
	if (vendors && parse_vendors(plan, vendors) < 0)
		goto out;
	for (unsigned i = 0; i < nvclass; i++) {
		const char *eq = strchr(vclass[i], '=');
		int v = eq ? vendor_index(vclass[i], (size_t)(eq - vclass[i])) : -1;
		struct dhcp_class *k;

		if (v < 0 || !match_safe(eq + 1)) {
			fprintf(stderr,
				PROG ": --vendor-class: '%s' is not VENDOR=STRING (a vendor of "
				     "algo, fip, spa, audiocodes, panasonic; STRING of letters, "
				     "digits and -_./+:@)\n",
				vclass[i]);
			goto out;
		}
		if (!plan->wanted[v])
			continue;
		k = class_get(plan, (unsigned)v, "");
		if (!k || class_add_match(k, eq + 1) < 0) {
			fprintf(stderr, PROG ": --vendor-class: too many strings for %s\n",
				dhcp_vendors[v].name);
			goto out;
		}
	}

	status = 1;
	if (cli_site_config(PROG, plan->site_dir, config, &cfg, config_path, sizeof(config_path)) <
	    0)
		goto out;
	if (plan_server(plan, &cfg, proto, server, config_path) < 0) {
		status = server || proto ? 2 : 1;
		goto out;
	}
	plan->store_url = cfg.site.store_url;
	if (load_inventory(plan) < 0)
		goto out;
	if (plan->nskipped)
		fprintf(stderr, PROG ": %u device(s) left out: more than %d AudioCodes models\n",
			plan->nskipped, DHCP_MAX_CLASSES);
	/* every vendor asked for has its class, matched or not, so its values are shown */
	for (unsigned v = 0; v < DHCP_NVENDORS; v++)
		if (plan->wanted[v])
			(void)class_get(plan, v, "");
	for (unsigned i = 0; i < plan->nclasses; i++)
		class_values(plan, &plan->classes[i]);
	for (unsigned i = 0; i < plan->nclasses; i++) {
		struct dhcp_class *k = &plan->classes[i];

		if (!value_safe(k->opt66) || !value_safe(k->opt67) || !value_safe(k->opt160)) {
			fprintf(stderr,
				PROG ": %s: a value holds a quote, '\\' or a control "
				     "character: %s\n",
				k->tag, k->opt160);
			goto out;
		}
	}
	switch (plan->format) {
	case DHCP_DNSMASQ: print_dnsmasq(plan); break;
	case DHCP_KEA: print_kea(plan); break;
	case DHCP_ISC: print_isc(plan); break;
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, PROG ": cannot write: %s\n", strerror(errno));
		goto out;
	}
	status = 0;
out:
	plan_done(plan);
	free(plan);
	return status;
}
