// SPDX-License-Identifier: MIT
/*
 * autoprov template FILE [--data DATA.json] [--partials DIR] [--escape-html]: renders one
 * Mustache template against JSON data and writes the result to stdout, so a template can
 * be tried without a running server. Partials come from DIR/NAME or DIR/NAME.mustache.
 * Exit status: 0 rendered, 1 an error in the files (printed as NAME:LINE: message), 2 a
 * usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "template/mustache.h"

#define PROG "autoprov template"
/* Files a template run reads are configuration, not bulk data. */
#define MAX_TEMPLATE_SIZE ((size_t)16 << 20)
#define MAX_DATA_SIZE	  ((size_t)64 << 20)
/* More distinct partials than any sane site has: a bound on what one run keeps open. */
#define MAX_PARTIALS 4096

/* A partial read for the render: kept until it is over (the loader's contract). */
struct loaded_partial {
	char *name; /* as the tag wrote it */
	char *path; /* the file it came from, for error messages */
	char *src;
	size_t len;
};

struct partial_dir {
	const char *dir; /* NULL: no --partials, every partial is missing */
	struct loaded_partial *items;
	size_t n, cap;
};

#define USAGE "usage: autoprov template FILE [--data DATA.json] [--partials DIR] [--escape-html]\n"

static void usage(FILE *out)
{
	fprintf(out, USAGE
		"\n"
		"Renders the Mustache template FILE against the JSON in DATA.json and writes the\n"
		"result to stdout.\n"
		"\n"
		"  --data DATA.json  the data ('-': standard input); without it, an empty object\n"
		"  --partials DIR    {{> name}} reads DIR/name, or else DIR/name.mustache; a\n"
		"                    partial that does not exist renders as nothing\n"
		"  --escape-html     HTML-escape {{name}} (& < > \"); off by default, since\n"
		"                    configuration files are not HTML\n"
		"  -h, --help        this text\n"
		"\n"
		"Errors are printed as 'FILE:LINE: message'; the exit status is then 1 (2 for a\n"
		"usage error).\n");
}

/* The whole of fd, at most max bytes: 0 with a malloc'd, NUL-terminated copy, or -errno. */
static int read_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (cap - len < 2) {
			char *p;

			if (cap > max) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			p = realloc(buf, cap);
			if (!p) {
				free(buf);
				return -ENOMEM;
			}
			buf = p;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;

			free(buf);
			return e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			free(buf);
			return -EFBIG;
		}
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

static int read_path(const char *path, size_t max, char **ret, size_t *ret_len)
{
	struct stat st;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* a directory opens fine and fails on read: say what it is */
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return -EISDIR;
	}
	e = read_fd(fd, max, ret, ret_len);
	close(fd);
	return e;
}

static char *join_path(const char *dir, const char *name, const char *suffix)
{
	size_t dl = strlen(dir), nl = strlen(name), sl = strlen(suffix);
	char *p = malloc(dl + 1 + nl + sl + 1);

	if (!p)
		return NULL;
	memcpy(p, dir, dl);
	p[dl] = '/';
	memcpy(p + dl + 1, name, nl);
	memcpy(p + dl + 1 + nl, suffix, sl + 1);
	return p;
}

/* The loader of tpl_render: DIR/name, then DIR/name.mustache; -ENOENT when neither. */
static int load_partial(void *arg, const char *name, const char **ret_src, size_t *ret_len)
{
	static const char *const suffixes[] = { "", ".mustache" };
	struct partial_dir *pd = arg;
	struct loaded_partial *lp;
	int e = -ENOENT;

	/* the partials directory is a root: nothing outside it can be named */
	if (!pd->dir || !name[0] || name[0] == '/' || strstr(name, ".."))
		return -ENOENT;
	if (pd->n == pd->cap) {
		size_t cap = pd->cap ? pd->cap * 2 : 8;
		struct loaded_partial *items;

		if (pd->n >= MAX_PARTIALS)
			return -EMFILE;
		items = reallocarray(pd->items, cap, sizeof(*items));
		if (!items)
			return -ENOMEM;
		pd->items = items;
		pd->cap = cap;
	}
	lp = &pd->items[pd->n];
	memset(lp, 0, sizeof(*lp));
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		lp->path = join_path(pd->dir, name, suffixes[i]);
		if (!lp->path)
			return -ENOMEM;
		e = read_path(lp->path, MAX_TEMPLATE_SIZE, &lp->src, &lp->len);
		if (e == 0)
			break;
		free(lp->path);
		lp->path = NULL;
		/* "sub" may be a directory next to sub.mustache */
		if (e != -ENOENT && e != -ENOTDIR && e != -EISDIR)
			return e;
		e = -ENOENT;
	}
	if (e < 0)
		return e;
	lp->name = strdup(name);
	if (!lp->name) {
		free(lp->path);
		free(lp->src);
		return -ENOMEM;
	}
	pd->n++;
	*ret_src = lp->src;
	*ret_len = lp->len;
	return 0;
}

static void partial_dir_done(struct partial_dir *pd)
{
	for (size_t i = 0; i < pd->n; i++) {
		free(pd->items[i].name);
		free(pd->items[i].path);
		free(pd->items[i].src);
	}
	free(pd->items);
}

/* The file an error is in: a partial's path when the error names a partial read. */
static const char *error_file(const struct partial_dir *pd, const struct tpl_error *te,
			      const char *file)
{
	if (strcmp(te->name, file) == 0)
		return file;
	for (size_t i = 0; i < pd->n; i++)
		if (strcmp(pd->items[i].name, te->name) == 0)
			return pd->items[i].path;
	return strncmp(file, te->name, sizeof(te->name) - 1) == 0 ? file : te->name;
}

static int load_data(const char *path, json_t **ret)
{
	json_error_t je;
	json_t *data;
	size_t len;
	char *buf;
	int e;

	if (!path) {
		data = json_object();
		if (!data) {
			fprintf(stderr, PROG ": out of memory\n");
			return -ENOMEM;
		}
		*ret = data;
		return 0;
	}
	if (strcmp(path, "-") == 0)
		e = read_fd(STDIN_FILENO, MAX_DATA_SIZE, &buf, &len);
	else
		e = read_path(path, MAX_DATA_SIZE, &buf, &len);
	if (e < 0) {
		fprintf(stderr, PROG ": %s: %s\n", strcmp(path, "-") == 0 ? "<stdin>" : path,
			strerror(-e));
		return e;
	}
	/* any JSON value can be the root context; strings may hold NUL bytes */
	data = json_loadb(buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	free(buf);
	if (!data) {
		fprintf(stderr, PROG ": %s:%d: %s\n", strcmp(path, "-") == 0 ? "<stdin>" : path,
			je.line > 0 ? je.line : 1, je.text);
		return -EINVAL;
	}
	*ret = data;
	return 0;
}

static int write_all(const char *p, size_t len)
{
	if (len > 0 && fwrite(p, 1, len, stdout) != len)
		return -EIO;
	if (fflush(stdout) != 0)
		return -EIO;
	return 0;
}

static int run(const char *file, const char *data_path, const char *partials, bool escape)
{
	struct partial_dir pd = { .dir = partials };
	struct tpl_options opts = { .escape_html = escape };
	struct tpl_error te = { 0 };
	struct tpl *t = NULL;
	json_t *data = NULL;
	char *src = NULL, *out = NULL;
	size_t src_len, out_len;
	int e, status = 1;

	e = read_path(file, MAX_TEMPLATE_SIZE, &src, &src_len);
	if (e < 0) {
		fprintf(stderr, PROG ": %s: %s\n", file, strerror(-e));
		goto done;
	}
	if (load_data(data_path, &data) < 0)
		goto done;
	e = tpl_compile(file, src, src_len, &t, &te);
	if (e < 0) {
		fprintf(stderr, PROG ": %s:%u: %s\n", file, te.line, te.message);
		goto done;
	}
	e = tpl_render(t, data, &(struct tpl_partials){ load_partial, &pd }, &opts, &out, &out_len,
		       &te);
	if (e < 0) {
		fprintf(stderr, PROG ": %s:%u: %s\n", error_file(&pd, &te, file), te.line,
			te.message);
		goto done;
	}
	if (write_all(out, out_len) < 0) {
		fprintf(stderr, PROG ": cannot write the output: %s\n", strerror(errno));
		goto done;
	}
	status = 0;
done:
	free(out);
	tpl_free(t);
	json_decref(data);
	free(src);
	partial_dir_done(&pd);
	return status;
}

/* "--opt VALUE" or "--opt=VALUE": the value, advancing *i; NULL when it is not opt. */
static const char *option_value(int argc, char **argv, int *i, const char *opt, bool *missing)
{
	size_t ol = strlen(opt);

	if (strncmp(argv[*i], opt, ol) != 0)
		return NULL;
	if (argv[*i][ol] == '=')
		return argv[*i] + ol + 1;
	if (argv[*i][ol] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	(*i)++;
	return argv[*i];
}

int cmd_template(int argc, char **argv)
{
	const char *file = NULL, *data = NULL, *partials = NULL, *v;
	bool escape = false, options_done = false;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		bool missing = false;

		if (options_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
			if (file) {
				fprintf(stderr, PROG ": one template at a time ('%s' and '%s')\n",
					file, arg);
				fputs(USAGE, stderr);
				return 2;
			}
			file = arg;
		} else if (strcmp(arg, "--") == 0) {
			options_done = true;
		} else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(arg, "--escape-html") == 0) {
			escape = true;
		} else if ((v = option_value(argc, argv, &i, "--data", &missing)) != NULL) {
			data = v;
		} else if ((v = option_value(argc, argv, &i, "--partials", &missing)) != NULL) {
			partials = v;
		} else {
			if (missing)
				fprintf(stderr, PROG ": %s needs a value\n", arg);
			else
				fprintf(stderr, PROG ": unknown option '%s'\n", arg);
			fputs(USAGE, stderr);
			return 2;
		}
	}
	if (!file) {
		fprintf(stderr, PROG ": no template file\n");
		fputs(USAGE, stderr);
		return 2;
	}
	if (partials && !partials[0]) {
		fprintf(stderr, PROG ": --partials needs a directory\n");
		return 2;
	}
	return run(file, data, partials, escape);
}
