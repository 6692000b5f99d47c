// SPDX-License-Identifier: MIT
/*
 * `autoprov device`: the inventory from the command line (devices, groups, site defaults,
 * CSV import and export). It writes to the site database while the daemon may be serving
 * from it; read-modify-write commands (set) run in one write transaction so that two
 * administrators changing the same device at once cannot lose each other's change.
 *
 * Output: `list` prints one line per device (MAC in colon form, model, profile, group,
 * enabled/disabled, "-" for what is unset); `show` prints fields and the variables that
 * apply with where they come from. `--json` prints machine-readable forms instead (MACs
 * there in the canonical 12-digit form). Exit status: 0 done, 1 failed, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/mac.h"
#include "site/directory.h"
#include "store/store.h"

#define PROG "autoprov device"

enum {
	OPT_MODEL = 256,
	OPT_PROFILE,
	OPT_GROUP,
	OPT_VAR,
	OPT_JSON_VAR,
	OPT_UNSET,
	OPT_ENABLE,
	OPT_DISABLE,
	OPT_JSON,
	OPT_REPLACE,
	OPT__END,
};

#define ALLOW(opt) (1u << ((opt)-OPT_MODEL))
#define ALLOW_VARS (ALLOW(OPT_VAR) | ALLOW(OPT_JSON_VAR))
#define ALLOW_FIELDS                                                                               \
	(ALLOW(OPT_MODEL) | ALLOW(OPT_PROFILE) | ALLOW(OPT_GROUP) | ALLOW(OPT_ENABLE) |            \
	 ALLOW(OPT_DISABLE) | ALLOW_VARS)

/* A --var, --json-var or --unset, applied in the order given. */
struct var_change {
	const char *name;
	json_t *value; /* owned; NULL to unset */
};

struct device_cmd {
	const char *site;
	const char *model, *profile, *group; /* NULL: not given */
	int enabled;			     /* -1: not given */
	bool json, replace;
	struct var_change *changes;
	size_t nchanges;
	char **args; /* operands after the subcommand's name */
	int nargs;
	const char *name; /* "add", "group set", ...: for messages */
};

struct subcommand {
	const char *word1, *word2;
	int (*run)(struct device_cmd *cmd);
	unsigned allowed;
	int min_args, max_args;
};

static void device_usage(FILE *out)
{
	fprintf(out,
		"usage: autoprov device [--site DIR] COMMAND [OPTIONS]\n"
		"\n"
		"The inventory of the site DIR (DIR/autoprov.db): devices, groups, site defaults.\n"
		"\n"
		"  add MAC [FIELDS]        add a device\n"
		"  set MAC [FIELDS]        change what is given, keep the rest\n"
		"  show MAC [--json]       a device's fields and the variables that apply to it\n"
		"  list [--group G] [--profile P] [--json]\n"
		"                          one line per device: MAC, model, profile, group, enabled\n"
		"  rm MAC                  remove a device\n"
		"  import FILE [--replace] add the devices of a CSV file ('-': stdin), all or none;\n"
		"                          --replace: rows replace devices already there\n"
		"  export [FILE]           the inventory as CSV (default: stdout)\n"
		"  group set NAME [VARS]   make a group or change its variables\n"
		"  group show NAME [--json] | group list [--json] | group rm NAME\n"
		"  defaults set [VARS]     change the site defaults\n"
		"  defaults show [--json]\n"
		"\n"
		"FIELDS:\n"
		"  --model M               model, e.g. 8180 (--model '' clears it)\n"
		"  --profile P             algo, fip, spa, audiocodes or panasonic\n"
		"  --group G               the device's group ('' for none; the group must exist)\n"
		"  --enable, --disable     whether the server provisions the device (--disabled too)\n"
		"VARS (and FIELDS):\n"
		"  --var NAME=VALUE        a string variable\n"
		"  --json-var NAME=JSON    a variable of any JSON type, e.g. --json-var vlan=20\n"
		"  --unset NAME            remove a variable (set only)\n"
		"\n"
		"  --site DIR              the site (default: the current directory)\n"
		"  -h, --help              this text\n"
		"\n"
		"MAC: 00:22:ee:01:02:03, 00-22-EE-01-02-03, 0022.ee01.0203 or 0022EE010203.\n"
		"Variables apply device > group > defaults. CSV format: docs/inventory.md.\n");
}

/* ---- helpers ---- */

static int open_store(const struct device_cmd *cmd, struct store **ret)
{
	char err[512];

	if (cli_open_store(PROG, cmd->site, NULL, ret, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": cannot open the inventory: %s\n", err);
		return -1;
	}
	return 0;
}

static int parse_mac(const char *s, char ret[MAC_LEN + 1])
{
	const char *why;

	if (mac_parse(s, ret, &why) < 0) {
		fprintf(stderr, PROG ": '%s': not a MAC address (%s)\n", s, why);
		return -1;
	}
	return 0;
}

/* Applies the --var/--json-var/--unset changes to vars. */
static int apply_vars(const struct device_cmd *cmd, json_t *vars)
{
	for (size_t i = 0; i < cmd->nchanges; i++) {
		const struct var_change *c = &cmd->changes[i];

		if (!c->value) {
			json_object_del(vars, c->name);
			continue;
		}
		if (json_object_set(vars, c->name, c->value) < 0) {
			fprintf(stderr, PROG ": out of memory\n");
			return -1;
		}
	}
	return 0;
}

/* A string as typed, control bytes escaped; other JSON values as compact JSON. */
static void print_value(FILE *out, const json_t *value)
{
	if (json_is_string(value)) {
		const unsigned char *s = (const unsigned char *)json_string_value(value);

		for (; *s; s++) {
			if (*s < 0x20 || *s == 0x7f)
				fprintf(out, "\\x%02x", *s);
			else
				fputc(*s, out);
		}
	} else {
		char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);

		fputs(text ? text : "?", out);
		free(text);
	}
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Object keys in sorted order, NULL-terminated (an empty object gives an empty list). */
static const char **sorted_keys(json_t *obj)
{
	size_t n = json_object_size(obj), i = 0;
	const char **keys = calloc(n + 1, sizeof(*keys));
	const char *key;
	json_t *value;

	if (!keys)
		return NULL;
	json_object_foreach(obj, key, value) keys[i++] = key;
	qsort(keys, n, sizeof(*keys), key_cmp);
	return keys;
}

/* "  name = value" lines for vars, sorted; "  (none)" when empty. */
static int print_vars(json_t *vars)
{
	const char **keys = sorted_keys(vars);

	if (!keys) {
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	if (!keys[0])
		printf("  (none)\n");
	for (size_t i = 0; keys[i]; i++) {
		printf("  %s = ", keys[i]);
		print_value(stdout, json_object_get(vars, keys[i]));
		putchar('\n');
	}
	free(keys);
	return 0;
}

/* 0 when stdout took everything, else a message and -1. */
static int flush_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, PROG ": cannot write the output: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- devices ---- */

/* The fields given on the command line over d. */
static int apply_fields(const struct device_cmd *cmd, struct device *d)
{
	const char *fields[] = { cmd->model, cmd->profile, cmd->group };
	char **dst[] = { &d->model, &d->profile, &d->group };

	for (size_t i = 0; i < 3; i++) {
		char *copy;

		if (!fields[i])
			continue;
		copy = strdup(fields[i]);
		if (!copy) {
			fprintf(stderr, PROG ": out of memory\n");
			return -1;
		}
		free(*dst[i]);
		*dst[i] = copy;
	}
	if (cmd->enabled >= 0)
		d->enabled = cmd->enabled != 0;
	return apply_vars(cmd, d->vars);
}

static int dev_add(struct device_cmd *cmd)
{
	struct store *st = NULL;
	struct device *d = NULL;
	char mac[MAC_LEN + 1], err[512];
	int ret = 1;

	if (parse_mac(cmd->args[0], mac) < 0)
		return 1;
	d = device_new(mac);
	if (!d) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	if (apply_fields(cmd, d) < 0 || open_store(cmd, &st) < 0)
		goto out;
	if (store_device_put(st, d, false, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		goto out;
	}
	ret = 0;
out:
	store_close(st);
	device_free(d);
	return ret;
}

static int dev_set(struct device_cmd *cmd)
{
	struct store *st = NULL;
	struct device *d = NULL;
	char mac[MAC_LEN + 1], err[512];
	bool in_tx = false;
	int ret = 1;

	if (parse_mac(cmd->args[0], mac) < 0)
		return 1;
	if (!cmd->model && !cmd->profile && !cmd->group && cmd->enabled < 0 && cmd->nchanges == 0) {
		fprintf(stderr, PROG " set: nothing to change\n");
		return 2;
	}
	if (open_store(cmd, &st) < 0)
		return 1;
	/* read and write under one lock: a concurrent set cannot slip in between */
	if (store_begin(st, true) < 0) {
		fprintf(stderr, PROG ": %s\n", store_strerror(st));
		goto out;
	}
	in_tx = true;
	if (store_device_get(st, mac, &d) < 0) {
		fprintf(stderr, PROG ": %s\n", store_strerror(st));
		goto out;
	}
	if (apply_fields(cmd, d) < 0)
		goto out;
	if (store_device_put(st, d, true, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		goto out;
	}
	in_tx = false;
	if (store_commit(st) < 0) {
		fprintf(stderr, PROG ": %s\n", store_strerror(st));
		goto out;
	}
	ret = 0;
out:
	if (in_tx)
		store_rollback(st);
	device_free(d);
	store_close(st);
	return ret;
}

static void print_state(const struct device_state *s)
{
	char t[32];

	printf("state:     %s\n", device_status_name(s->status));
	if (!s->known)
		return;
	printf("  first seen:   %s\n", store_time_text(s->first_seen, t, sizeof(t)));
	printf("  last seen:    %s from %s\n", store_time_text(s->last_seen, t, sizeof(t)),
	       s->last_peer[0] ? s->last_peer : "-");
	printf("  user agent:   %s\n", s->last_user_agent[0] ? s->last_user_agent : "-");
	if (s->sent_time)
		printf("  last sent:    %s (MD5 %s) at %s\n", s->sent_path,
		       s->sent_md5[0] ? s->sent_md5 : "-",
		       store_time_text(s->sent_time, t, sizeof(t)));
	if (s->config_time)
		printf("  last config:  %s (MD5 %s) at %s\n", s->config_path,
		       s->config_md5[0] ? s->config_md5 : "-",
		       store_time_text(s->config_time, t, sizeof(t)));
	if (s->fail_time)
		printf("  last failure: %s %s%s%s at %s\n", s->fail_path, s->fail_outcome,
		       s->fail_detail[0] ? ": " : "", s->fail_detail,
		       store_time_text(s->fail_time, t, sizeof(t)));
	printf("  firmware:     %s\n", s->firmware[0] ? s->firmware : "-");
}

static int dev_show(struct device_cmd *cmd)
{
	struct device_state state;
	struct store *st = NULL;
	struct directory *dir = NULL;
	const struct device *d = NULL;
	json_t *effective = json_object(), *origins = json_object();
	char mac[MAC_LEN + 1], colons[MAC_LEN + 6], upper[MAC_LEN + 1];
	const char **keys = NULL;
	int ret = 1, r;

	if (parse_mac(cmd->args[0], mac) < 0)
		return 1;
	if (!effective || !origins) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	if (open_store(cmd, &st) < 0)
		goto out;
	/* as the daemon sees it, in one snapshot: the variables shown are those of one moment */
	r = directory_new(st, 1, &dir);
	if (r == 0)
		r = store_begin(st, false);
	if (r == 0) {
		r = directory_device(dir, mac, &d);
		if (r == 0)
			r = directory_explain(dir, d, effective, origins);
		store_rollback(st);
	}
	if (r < 0) {
		fprintf(stderr, PROG ": %s\n", r == -ENOMEM ? "out of memory" : store_strerror(st));
		goto out;
	}
	/* what the journal's writer recorded of it (docs/admin.md, "Device state") */
	r = store_device_state_get(st, mac, &state);
	if (r < 0) {
		fprintf(stderr, PROG ": %s\n", store_strerror(st));
		goto out;
	}

	if (cmd->json) {
		json_t *obj = store_device_json(d);

		if (!obj || json_object_set(obj, "effective_vars", effective) < 0 ||
		    json_object_set_new(obj, "state", store_device_state_json(&state)) < 0 ||
		    json_object_set(obj, "origins", origins) < 0) {
			json_decref(obj);
			fprintf(stderr, PROG ": out of memory\n");
			goto out;
		}
		json_dumpf(obj, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(obj);
		ret = flush_stdout() < 0 ? 1 : 0;
		goto out;
	}

	mac_colons(d->mac, colons);
	mac_upper(d->mac, upper);
	printf("mac:       %s (%s, %s)\n", colons, d->mac, upper);
	printf("model:     %s\n", d->model[0] ? d->model : "-");
	printf("profile:   %s\n", d->profile[0] ? d->profile : "-");
	printf("group:     %s\n", d->group[0] ? d->group : "-");
	printf("enabled:   %s\n", d->enabled ? "yes" : "no");
	printf("revision:  %llu\n", (unsigned long long)d->rev);
	print_state(&state);
	printf("variables (device > group > defaults > built-in):\n");
	keys = sorted_keys(effective);
	if (!keys) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	if (!keys[0])
		printf("  (none)\n");
	for (size_t i = 0; keys[i]; i++) {
		printf("  %s = ", keys[i]);
		print_value(stdout, json_object_get(effective, keys[i]));
		printf("  [%s]\n", json_string_value(json_object_get(origins, keys[i])));
	}
	ret = flush_stdout() < 0 ? 1 : 0;
out:
	free(keys);
	json_decref(effective);
	json_decref(origins);
	directory_free(dir);
	store_close(st);
	return ret;
}

struct list_state {
	bool json;
	bool first;
};

static int list_one(const struct device *d, void *arg)
{
	struct list_state *ls = arg;
	char colons[MAC_LEN + 6];

	if (ls->json) {
		json_t *obj = store_device_json(d);

		if (!obj)
			return -ENOMEM;
		fputs(ls->first ? "[\n  " : ",\n  ", stdout);
		json_dumpf(obj, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(obj);
		ls->first = false;
		return 0;
	}
	mac_colons(d->mac, colons);
	printf("%s  %-12s %-10s %-12s %s\n", colons, d->model[0] ? d->model : "-",
	       d->profile[0] ? d->profile : "-", d->group[0] ? d->group : "-",
	       d->enabled ? "enabled" : "disabled");
	return 0;
}

static int dev_list(struct device_cmd *cmd)
{
	struct list_state ls = { .json = cmd->json, .first = true };
	struct store *st = NULL;
	int r;

	if (open_store(cmd, &st) < 0)
		return 1;
	/* devices are streamed: a list of 100 000 is never all in memory */
	r = store_device_foreach_in(st, cmd->group, cmd->profile, list_one, &ls);
	if (r < 0) {
		fprintf(stderr, PROG ": %s\n", r == -ENOMEM ? "out of memory" : store_strerror(st));
		store_close(st);
		return 1;
	}
	if (cmd->json)
		fputs(ls.first ? "[]\n" : "\n]\n", stdout);
	store_close(st);
	return flush_stdout() < 0 ? 1 : 0;
}

static int dev_rm(struct device_cmd *cmd)
{
	struct store *st = NULL;
	char mac[MAC_LEN + 1];
	int ret = 0;

	if (parse_mac(cmd->args[0], mac) < 0)
		return 1;
	if (open_store(cmd, &st) < 0)
		return 1;
	if (store_device_remove(st, mac) < 0) {
		fprintf(stderr, PROG ": %s\n", store_strerror(st));
		ret = 1;
	}
	store_close(st);
	return ret;
}

static int dev_import(struct device_cmd *cmd)
{
	const char *path = cmd->args[0];
	bool use_stdin = strcmp(path, "-") == 0;
	struct store *st = NULL;
	FILE *in;
	char err[512];
	int n, ret = 1;

	in = use_stdin ? stdin : fopen(path, "r");
	if (!in) {
		fprintf(stderr, PROG " import: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (open_store(cmd, &st) < 0)
		goto out;
	n = store_import_csv(st, in, cmd->replace, err, sizeof(err));
	if (n < 0) {
		/* row errors come as "ROW: reason" and read as FILE:ROW: reason */
		fprintf(stderr, PROG " import: %s:%s%s\n", path,
			err[0] >= '0' && err[0] <= '9' ? "" : " ", err);
		goto out;
	}
	printf("imported %d device%s\n", n, n == 1 ? "" : "s");
	ret = flush_stdout() < 0 ? 1 : 0;
out:
	if (!use_stdin)
		fclose(in);
	store_close(st);
	return ret;
}

static int dev_export(struct device_cmd *cmd)
{
	const char *path = cmd->nargs > 0 ? cmd->args[0] : "-";
	struct store *st = NULL;
	char tmp[PATH_MAX];
	FILE *out = stdout;
	int fd, ret = 1;

	if (open_store(cmd, &st) < 0)
		return 1;
	if (strcmp(path, "-") != 0) {
		/* a reader of FILE sees the old export or the new one, never half of it */
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp)) {
			fprintf(stderr, PROG " export: %s: name too long\n", path);
			goto out;
		}
		fd = mkstemp(tmp);
		if (fd < 0) {
			fprintf(stderr, PROG " export: %s: %s\n", path, strerror(errno));
			goto out;
		}
		{
			/* mkstemp makes 0600; an export is an ordinary file: the umask decides */
			mode_t mask = umask(0);

			umask(mask);
			fchmod(fd, 0666 & ~mask);
		}
		out = fdopen(fd, "w");
		if (!out) {
			fprintf(stderr, PROG " export: %s: %s\n", path, strerror(errno));
			close(fd);
			unlink(tmp);
			goto out;
		}
	}
	if (store_export_csv(st, out) < 0) {
		fprintf(stderr, PROG " export: %s\n", store_strerror(st));
		if (out != stdout) {
			fclose(out);
			unlink(tmp);
		}
		goto out;
	}
	if (out == stdout) {
		ret = flush_stdout() < 0 ? 1 : 0;
		goto out;
	}
	if (fclose(out) != 0 || rename(tmp, path) < 0) {
		fprintf(stderr, PROG " export: %s: %s\n", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	ret = 0;
out:
	store_close(st);
	return ret;
}

/* ---- groups and defaults ---- */

static int group_set(struct device_cmd *cmd)
{
	const char *name = cmd->args[0], *why;
	struct store *st = NULL;
	json_t *vars = NULL;
	bool in_tx = false;
	int r, ret = 1;

	if (store_check_group_name(name, &why) < 0) {
		fprintf(stderr, PROG ": '%s': not a group name (%s)\n", name, why);
		return 1;
	}
	if (open_store(cmd, &st) < 0)
		return 1;
	if (store_begin(st, true) < 0)
		goto fail;
	in_tx = true;
	r = store_group_get(st, name, &vars);
	if (r == -ENOENT)
		vars = json_object();
	else if (r < 0)
		goto fail;
	if (!vars) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	if (apply_vars(cmd, vars) < 0)
		goto out;
	if (store_group_set(st, name, vars) < 0)
		goto fail;
	in_tx = false;
	if (store_commit(st) < 0)
		goto fail;
	ret = 0;
	goto out;
fail:
	fprintf(stderr, PROG ": %s\n", store_strerror(st));
out:
	if (in_tx)
		store_rollback(st);
	json_decref(vars);
	store_close(st);
	return ret;
}

static int group_show(struct device_cmd *cmd)
{
	const char *name = cmd->args[0];
	struct store *st = NULL;
	json_t *vars = NULL;
	uint64_t n = 0;
	int ret = 1;

	if (open_store(cmd, &st) < 0)
		return 1;
	if (store_group_get(st, name, &vars) < 0 || store_group_count_devices(st, name, &n) < 0) {
		fprintf(stderr, PROG ": %s\n", store_strerror(st));
		goto out;
	}
	if (cmd->json) {
		json_t *obj = json_pack("{s:s, s:I, s:O}", "name", name, "devices", (json_int_t)n,
					"vars", vars);

		if (!obj) {
			fprintf(stderr, PROG ": out of memory\n");
			goto out;
		}
		json_dumpf(obj, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(obj);
	} else {
		printf("group:     %s\n", name);
		printf("devices:   %llu\n", (unsigned long long)n);
		printf("variables:\n");
		if (print_vars(vars) < 0)
			goto out;
	}
	ret = flush_stdout() < 0 ? 1 : 0;
out:
	json_decref(vars);
	store_close(st);
	return ret;
}

struct group_list_state {
	struct store *st;
	bool json, first;
};

static int group_list_one(const char *name, json_t *vars, void *arg)
{
	struct group_list_state *gs = arg;
	uint64_t n = 0;
	int r;

	r = store_group_count_devices(gs->st, name, &n);
	if (r < 0)
		return r;
	if (gs->json) {
		json_t *obj = json_pack("{s:s, s:I, s:O}", "name", name, "devices", (json_int_t)n,
					"vars", vars);

		if (!obj)
			return -ENOMEM;
		fputs(gs->first ? "[\n  " : ",\n  ", stdout);
		json_dumpf(obj, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(obj);
	} else {
		printf("%-16s %llu device%s, %zu variable%s\n", name, (unsigned long long)n,
		       n == 1 ? "" : "s", json_object_size(vars),
		       json_object_size(vars) == 1 ? "" : "s");
	}
	gs->first = false;
	return 0;
}

static int group_list(struct device_cmd *cmd)
{
	struct group_list_state gs = { .json = cmd->json, .first = true };
	int r;

	if (open_store(cmd, &gs.st) < 0)
		return 1;
	/* a snapshot: the counts are those of the groups listed */
	r = store_begin(gs.st, false);
	if (r == 0) {
		r = store_group_foreach(gs.st, group_list_one, &gs);
		store_rollback(gs.st);
	}
	if (r < 0) {
		fprintf(stderr, PROG ": %s\n",
			r == -ENOMEM ? "out of memory" : store_strerror(gs.st));
		store_close(gs.st);
		return 1;
	}
	if (cmd->json)
		fputs(gs.first ? "[]\n" : "\n]\n", stdout);
	store_close(gs.st);
	return flush_stdout() < 0 ? 1 : 0;
}

static int group_rm(struct device_cmd *cmd)
{
	struct store *st = NULL;
	int ret = 0;

	if (open_store(cmd, &st) < 0)
		return 1;
	if (store_group_remove(st, cmd->args[0]) < 0) {
		fprintf(stderr, PROG ": %s\n", store_strerror(st));
		ret = 1;
	}
	store_close(st);
	return ret;
}

static int defaults_set(struct device_cmd *cmd)
{
	struct store *st = NULL;
	json_t *vars = NULL;
	bool in_tx = false;
	int ret = 1;

	if (cmd->nchanges == 0) {
		fprintf(stderr, PROG " defaults set: nothing to change\n");
		return 2;
	}
	if (open_store(cmd, &st) < 0)
		return 1;
	if (store_begin(st, true) < 0)
		goto fail;
	in_tx = true;
	if (store_defaults_get(st, &vars) < 0)
		goto fail;
	if (apply_vars(cmd, vars) < 0)
		goto out;
	if (store_defaults_set(st, vars) < 0)
		goto fail;
	in_tx = false;
	if (store_commit(st) < 0)
		goto fail;
	ret = 0;
	goto out;
fail:
	fprintf(stderr, PROG ": %s\n", store_strerror(st));
out:
	if (in_tx)
		store_rollback(st);
	json_decref(vars);
	store_close(st);
	return ret;
}

static int defaults_show(struct device_cmd *cmd)
{
	struct store *st = NULL;
	json_t *vars = NULL;
	int ret = 1;

	if (open_store(cmd, &st) < 0)
		return 1;
	if (store_defaults_get(st, &vars) < 0) {
		fprintf(stderr, PROG ": %s\n", store_strerror(st));
		goto out;
	}
	if (cmd->json) {
		json_dumpf(vars, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
	} else {
		printf("defaults:\n");
		if (print_vars(vars) < 0)
			goto out;
	}
	ret = flush_stdout() < 0 ? 1 : 0;
out:
	json_decref(vars);
	store_close(st);
	return ret;
}

/* ---- command line ---- */

static const struct subcommand subcommands[] = {
	{ "add", NULL, dev_add, ALLOW_FIELDS, 1, 1 },
	{ "set", NULL, dev_set, ALLOW_FIELDS | ALLOW(OPT_UNSET), 1, 1 },
	{ "show", NULL, dev_show, ALLOW(OPT_JSON), 1, 1 },
	{ "list", NULL, dev_list, ALLOW(OPT_GROUP) | ALLOW(OPT_PROFILE) | ALLOW(OPT_JSON), 0, 0 },
	{ "rm", NULL, dev_rm, 0, 1, 1 },
	{ "import", NULL, dev_import, ALLOW(OPT_REPLACE), 1, 1 },
	{ "export", NULL, dev_export, 0, 0, 1 },
	{ "group", "set", group_set, ALLOW_VARS | ALLOW(OPT_UNSET), 1, 1 },
	{ "group", "show", group_show, ALLOW(OPT_JSON), 1, 1 },
	{ "group", "list", group_list, ALLOW(OPT_JSON), 0, 0 },
	{ "group", "rm", group_rm, 0, 1, 1 },
	{ "defaults", "set", defaults_set, ALLOW_VARS | ALLOW(OPT_UNSET), 0, 0 },
	{ "defaults", "show", defaults_show, ALLOW(OPT_JSON), 0, 0 },
};

static const struct option longopts[] = {
	{ "site", required_argument, NULL, 's' },
	{ "help", no_argument, NULL, 'h' },
	{ "model", required_argument, NULL, OPT_MODEL },
	{ "profile", required_argument, NULL, OPT_PROFILE },
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "var", required_argument, NULL, OPT_VAR },
	{ "json-var", required_argument, NULL, OPT_JSON_VAR },
	{ "unset", required_argument, NULL, OPT_UNSET },
	{ "enable", no_argument, NULL, OPT_ENABLE },
	{ "enabled", no_argument, NULL, OPT_ENABLE },
	{ "disable", no_argument, NULL, OPT_DISABLE },
	{ "disabled", no_argument, NULL, OPT_DISABLE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "replace", no_argument, NULL, OPT_REPLACE },
	{ NULL, 0, NULL, 0 },
};

/* The option getopt_long just refused, as the user typed it. */
static const char *bad_option(char **argv)
{
	return argv[optind - 1] ? argv[optind - 1] : "?";
}

/* --var NAME=VALUE, --json-var NAME=JSON or --unset NAME as a change. 0, or 1/2 to exit. */
static int parse_var(int opt, char *arg, struct var_change *ret)
{
	const char *why, *flag = opt == OPT_VAR	       ? "--var"
				 : opt == OPT_JSON_VAR ? "--json-var"
						       : "--unset";
	char *eq = opt == OPT_UNSET ? NULL : strchr(arg, '=');
	json_error_t jerr;
	json_t *value = NULL;

	if (opt != OPT_UNSET) {
		if (!eq) {
			fprintf(stderr, PROG ": %s '%s': NAME=VALUE expected\n", flag, arg);
			return 2;
		}
		/* the name ends at the first '=': a value may hold more of them */
		*eq = '\0';
	}
	if (store_check_var_name(arg, &why) < 0) {
		fprintf(stderr, PROG ": %s: '%s': not a variable name (%s)\n", flag, arg, why);
		return 1;
	}
	if (opt == OPT_VAR) {
		value = json_string(eq + 1);
		if (!value) {
			fprintf(stderr, PROG ": --var %s: the value is not valid UTF-8\n", arg);
			return 1;
		}
	} else if (opt == OPT_JSON_VAR) {
		value = json_loads(eq + 1, JSON_DECODE_ANY, &jerr);
		if (!value) {
			fprintf(stderr, PROG ": --json-var %s: not JSON (%s)\n", arg, jerr.text);
			return 1;
		}
	}
	ret->name = arg;
	ret->value = value;
	return 0;
}

/* Parses the subcommand's options over argv (argv[0] its name). 0, or the exit status. */
static int parse_options(const struct subcommand *sub, int argc, char **argv,
			 struct device_cmd *cmd)
{
	int c, r, longindex;

	optind = 0; /* glibc: start over, permuting again */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:h", longopts, &longindex)) != -1) {
		if (c >= OPT_MODEL && c < OPT__END && !(sub->allowed & ALLOW(c))) {
			fprintf(stderr, PROG " %s: --%s does not apply here\n", cmd->name,
				longopts[longindex].name);
			return 2;
		}
		switch (c) {
		case 's': cmd->site = optarg; break;
		case 'h': device_usage(stdout); return -1;
		case OPT_MODEL: cmd->model = optarg; break;
		case OPT_PROFILE: cmd->profile = optarg; break;
		case OPT_GROUP: cmd->group = optarg; break;
		case OPT_ENABLE: cmd->enabled = 1; break;
		case OPT_DISABLE: cmd->enabled = 0; break;
		case OPT_JSON: cmd->json = true; break;
		case OPT_REPLACE: cmd->replace = true; break;
		case OPT_VAR:
		case OPT_JSON_VAR:
		case OPT_UNSET:
			r = parse_var(c, optarg, &cmd->changes[cmd->nchanges]);
			if (r != 0)
				return r;
			cmd->nchanges++;
			break;
		case ':': fprintf(stderr, PROG ": %s needs a value\n", bad_option(argv)); return 2;
		default:
			fprintf(stderr, PROG ": unknown option '%s'\n", bad_option(argv));
			device_usage(stderr);
			return 2;
		}
	}
	cmd->args = argv + optind;
	cmd->nargs = argc - optind;
	if (cmd->nargs < sub->min_args || cmd->nargs > sub->max_args) {
		fprintf(stderr, PROG " %s: %s\n", cmd->name,
			cmd->nargs < sub->min_args ? "missing argument" : "too many arguments");
		device_usage(stderr);
		return 2;
	}
	return 0;
}

int cmd_device(int argc, char **argv)
{
	struct device_cmd cmd = { .site = ".", .enabled = -1 };
	const struct subcommand *sub = NULL;
	char name[32];
	int c, first, r;

	/* options before the subcommand: --site and --help */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': cmd.site = optarg; break;
		case 'h': device_usage(stdout); return 0;
		case ':': fprintf(stderr, PROG ": %s needs a value\n", bad_option(argv)); return 2;
		default:
			fprintf(stderr, PROG ": '%s' goes after the command\n", bad_option(argv));
			device_usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, PROG ": a command is expected\n\n");
		device_usage(stderr);
		return 2;
	}
	first = optind;
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		const struct subcommand *s = &subcommands[i];

		if (strcmp(argv[first], s->word1) != 0)
			continue;
		if (!s->word2) {
			sub = s;
			break;
		}
		if (first + 1 < argc && strcmp(argv[first + 1], s->word2) == 0) {
			sub = s;
			first++;
			break;
		}
	}
	if (!sub && (strcmp(argv[optind], "group") == 0 || strcmp(argv[optind], "defaults") == 0) &&
	    optind + 1 == argc) {
		fprintf(stderr, PROG ": %s: %s expected\n", argv[optind],
			argv[optind][0] == 'g' ? "set, show, list or rm" : "set or show");
		return 2;
	}
	if (!sub) {
		bool two = (strcmp(argv[optind], "group") == 0 ||
			    strcmp(argv[optind], "defaults") == 0) &&
			   optind + 1 < argc;

		fprintf(stderr, PROG ": unknown command '%s%s%s'\n", argv[optind], two ? " " : "",
			two ? argv[optind + 1] : "");
		device_usage(stderr);
		return 2;
	}
	snprintf(name, sizeof(name), "%s%s%s", sub->word1, sub->word2 ? " " : "",
		 sub->word2 ? sub->word2 : "");
	cmd.name = name;
	/* at most one change per argument: sized once, never grown */
	cmd.changes = calloc((size_t)argc, sizeof(*cmd.changes));
	if (!cmd.changes) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	r = parse_options(sub, argc - first, argv + first, &cmd);
	if (r == 0)
		r = sub->run(&cmd);
	else if (r < 0)
		r = 0; /* --help */
	for (size_t i = 0; i < cmd.nchanges; i++)
		json_decref(cmd.changes[i].value);
	free(cmd.changes);
	return r;
}
