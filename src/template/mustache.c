// SPDX-License-Identifier: MIT
/*
 * Mustache templates. tpl_compile() turns a source into a flat array of nodes (a section
 * holds the index just past its last child, so the renderer skips it without a tree);
 * standalone lines are removed and set-delimiter tags applied at that point, so a template
 * is parsed once and rendered many times. tpl_render() walks the nodes against a stack of
 * JSON contexts into one growing buffer with a hard cap; the partials a render meets are
 * loaded and compiled once each, in a table that lives as long as the render.
 *
 * A standalone partial gets the whitespace before its tag prepended to each line of its
 * source. Rather than rewriting the partial's text (and compiling it once per
 * indentation), the compiler marks where a source line starts (NODE_INDENT, and the
 * newlines inside a text node), and the renderer writes the current indentation there.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/mustache.h"

#define DEFAULT_MAX_OUTPUT ((size_t)64 << 20)
#define DEFAULT_MAX_DEPTH  64u
/* The renderer recurses once per section or partial level: keep the C stack bounded. */
#define HARD_MAX_DEPTH 1024u
/*
 * Nested loops can do exponential work with no output (a list of two in 64 nested
 * sections), which max_output does not stop: a render may visit this many nodes, plus
 * STEPS_PER_BYTE per byte it may write.
 */
#define BASE_STEPS     ((size_t)1 << 20)
#define STEPS_PER_BYTE 4
/* Finding a tag costs up to this per byte of the template. */
#define MAX_DELIMITER 32
/* Names quoted in error messages are cut here: the message buffer is 200 bytes. */
#define QUOTE_MAX 40

enum node_kind {
	NODE_TEXT,     /* bytes of the source, as they are */
	NODE_INDENT,   /* a source line starts here: a standalone partial's indentation */
	NODE_VAR,      /* {{x}}: HTML-escaped when the options ask for it */
	NODE_RAW,      /* {{{x}}} and {{&x}}: never escaped */
	NODE_SECTION,  /* {{#x}}: the nodes up to .end, once per item of x */
	NODE_INVERTED, /* {{^x}}: the nodes up to .end when x is falsy */
	NODE_PARTIAL,  /* {{>x}} */
};

struct tpl_node {
	enum node_kind kind;
	unsigned line;	   /* where the node starts, for render errors */
	size_t off, len;   /* text: its bytes; tags: the name, trimmed */
	size_t end;	   /* sections: the index just past their last child */
	bool standalone;   /* partial: alone on its line, so indented */
	size_t indent_off; /* partial: the whitespace before the tag */
	size_t indent_len;
};

struct tpl {
	char *name;	 /* for error reports */
	const char *src; /* what the nodes point into */
	char *own_src;	 /* src, when tpl_compile copied it; NULL when borrowed (partials) */
	size_t src_len;
	struct tpl_node *nodes;
	size_t nnodes, cap;
};

static void set_error(struct tpl_error *err, const char *name, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void set_error(struct tpl_error *err, const char *name, unsigned line, const char *fmt, ...)
{
	va_list ap;

	snprintf(err->name, sizeof(err->name), "%s", name);
	err->line = line;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/* A printable copy of a name for a message: bytes a terminal would act on become '?'. */
static const char *quote(char *buf, size_t bufsz, const char *p, size_t n)
{
	size_t keep = n, o = 0;

	if (keep > QUOTE_MAX)
		keep = QUOTE_MAX;
	if (keep > bufsz - 4)
		keep = bufsz - 4;
	for (size_t i = 0; i < keep; i++) {
		unsigned char ch = (unsigned char)p[i];

		buf[o++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	if (keep < n) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

void tpl_free(struct tpl *t)
{
	if (!t)
		return;
	free(t->name);
	free(t->own_src);
	free(t->nodes);
	free(t);
}

/* Compiler */

struct compiler {
	struct tpl *t;
	const char *src;
	size_t len;
	size_t pos;	   /* the first byte not yet turned into nodes */
	size_t counted;	   /* newlines are counted up to here... */
	unsigned line;	   /* ...which is on this line */
	size_t line_start; /* where the source line holding pos starts */
	bool line_clean;   /* no tag yet between line_start and pos */
	bool at_bol;	   /* a line starts at pos that has no NODE_INDENT yet */
	const char *open;  /* the current delimiters, pointing into src (or literals) */
	size_t open_len;
	const char *close;
	size_t close_len;
	size_t *sections; /* node indexes of the sections still open */
	size_t nsections, sections_cap;
	struct tpl_error *err;
};

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* The line of pos; positions are asked for in increasing order, so counting is linear. */
static unsigned line_at(struct compiler *c, size_t pos)
{
	while (c->counted < pos) {
		const char *nl = memchr(c->src + c->counted, '\n', pos - c->counted);

		if (!nl) {
			c->counted = pos;
			break;
		}
		c->line++;
		c->counted = (size_t)(nl - c->src) + 1;
	}
	return c->line;
}

static int push_node(struct compiler *c, const struct tpl_node *n)
{
	struct tpl *t = c->t;

	if (t->nnodes == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		struct tpl_node *nodes = reallocarray(t->nodes, cap, sizeof(*nodes));

		if (!nodes)
			return -ENOMEM;
		t->nodes = nodes;
		t->cap = cap;
	}
	t->nodes[t->nnodes++] = *n;
	return 0;
}

/* A line that holds something besides removed tags gets its NODE_INDENT before it. */
static int mark_line_start(struct compiler *c, unsigned line)
{
	if (!c->at_bol)
		return 0;
	c->at_bol = false;
	return push_node(c, &(struct tpl_node){ .kind = NODE_INDENT, .line = line });
}

static int emit_text(struct compiler *c, size_t from, size_t to, unsigned line)
{
	int r;

	if (from == to)
		return 0;
	r = mark_line_start(c, line);
	if (r < 0)
		return r;
	r = push_node(c, &(struct tpl_node){
				 .kind = NODE_TEXT, .line = line, .off = from, .len = to - from });
	if (r < 0)
		return r;
	/* a line starting inside the text is marked by its newline; one at its end is not */
	c->at_bol = c->src[to - 1] == '\n';
	return 0;
}

static int compile_error(struct compiler *c, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Fills the error with the template's name; returns -EINVAL. */
static int compile_error(struct compiler *c, unsigned line, const char *fmt, ...)
{
	va_list ap;

	snprintf(c->err->name, sizeof(c->err->name), "%s", c->t->name);
	c->err->line = line;
	va_start(ap, fmt);
	vsnprintf(c->err->message, sizeof(c->err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/*
 * The first needle in hay, or NULL. Not memmem(): the sanitizers' memmem checks the whole
 * rest of the source at each tag, which makes a long template quadratic in the test builds.
 */
static const char *find_bytes(const char *hay, size_t hay_len, const char *needle,
			      size_t needle_len)
{
	const char *p = hay, *end = hay + hay_len;

	while ((size_t)(end - p) >= needle_len) {
		p = memchr(p, needle[0], (size_t)(end - p) - needle_len + 1);
		if (!p)
			return NULL;
		if (memcmp(p, needle, needle_len) == 0)
			return p;
		p++;
	}
	return NULL;
}

/*
 * The start of the closing delimiter of a tag whose content starts at from, or SIZE_MAX.
 * With a prefix ('}' for {{{x}}}, '=' for {{=a b=}}), the delimiter must follow it.
 */
static size_t find_close(const struct compiler *c, size_t from, char prefix)
{
	size_t at = from;

	while (at < c->len) {
		const char *q = find_bytes(c->src + at, c->len - at, c->close, c->close_len);
		size_t qi;

		if (!q)
			return SIZE_MAX;
		qi = (size_t)(q - c->src);
		if (!prefix || (qi > from && c->src[qi - 1] == prefix))
			return qi;
		at = qi + 1;
	}
	return SIZE_MAX;
}

/*
 * A name is "." (the top of the stack), or parts separated by dots, the first of which may
 * be empty (".x": x in the top of the stack only). 0, or -EINVAL with the error set.
 */
static int check_name(struct compiler *c, unsigned line, size_t off, size_t len, bool dotted)
{
	const char *p = c->src + off;
	char q[QUOTE_MAX + 4];

	if (len == 0)
		return compile_error(c, line, "tag has no name");
	for (size_t i = 0; i < len; i++)
		if (is_space(p[i]))
			return compile_error(c, line, "invalid name '%s': white space inside",
					     quote(q, sizeof(q), p, len));
	if (!dotted || (len == 1 && p[0] == '.'))
		return 0;
	for (size_t i = p[0] == '.' ? 1 : 0, part = 0; i <= len; i++) {
		if (i < len && p[i] != '.') {
			part++;
			continue;
		}
		if (part == 0)
			return compile_error(c, line, "invalid name '%s': empty part",
					     quote(q, sizeof(q), p, len));
		part = 0;
	}
	return 0;
}

/* {{=open close=}}: content is what lies between the two '='. */
static int set_delimiters(struct compiler *c, unsigned line, size_t from, size_t to)
{
	size_t tok[2][2], n = 0, i = from;

	while (i < to) {
		size_t s;

		while (i < to && is_space(c->src[i]))
			i++;
		if (i == to)
			break;
		s = i;
		while (i < to && !is_space(c->src[i]))
			i++;
		if (n == 2)
			return compile_error(c, line,
					     "bad set-delimiter tag: more than two delimiters");
		tok[n][0] = s;
		tok[n][1] = i - s;
		n++;
	}
	if (n != 2)
		return compile_error(
			c, line,
			"bad set-delimiter tag: it needs two delimiters, as in {{=<%% %%>=}}");
	if (tok[0][1] > MAX_DELIMITER || tok[1][1] > MAX_DELIMITER)
		return compile_error(c, line,
				     "bad set-delimiter tag: delimiters longer than %d bytes",
				     MAX_DELIMITER);
	c->open = c->src + tok[0][0];
	c->open_len = tok[0][1];
	c->close = c->src + tok[1][0];
	c->close_len = tok[1][1];
	return 0;
}

static int open_section(struct compiler *c, enum node_kind kind, unsigned line, size_t off,
			size_t len)
{
	int r = check_name(c, line, off, len, true);

	if (r < 0)
		return r;
	if (c->nsections == c->sections_cap) {
		size_t cap = c->sections_cap ? c->sections_cap * 2 : 16;
		size_t *s = reallocarray(c->sections, cap, sizeof(*s));

		if (!s)
			return -ENOMEM;
		c->sections = s;
		c->sections_cap = cap;
	}
	c->sections[c->nsections++] = c->t->nnodes;
	return push_node(c,
			 &(struct tpl_node){ .kind = kind, .line = line, .off = off, .len = len });
}

static int close_section(struct compiler *c, unsigned line, size_t off, size_t len)
{
	char q1[QUOTE_MAX + 4], q2[QUOTE_MAX + 4];
	struct tpl_node *open;

	if (len == 0)
		return compile_error(c, line, "tag has no name");
	if (c->nsections == 0)
		return compile_error(c, line, "closing tag '%s' without an open section",
				     quote(q1, sizeof(q1), c->src + off, len));
	open = &c->t->nodes[c->sections[c->nsections - 1]];
	if (open->len != len || memcmp(c->src + open->off, c->src + off, len) != 0)
		return compile_error(
			c, line, "closing tag '%s' does not match section '%s' (line %u)",
			quote(q1, sizeof(q1), c->src + off, len),
			quote(q2, sizeof(q2), c->src + open->off, open->len), open->line);
	open->end = c->t->nnodes;
	c->nsections--;
	return 0;
}

/* Where the line of a standalone candidate ends (past its newline), or false. */
static bool rest_is_blank(const struct compiler *c, size_t from, size_t *ret_eol)
{
	size_t i = from;

	while (i < c->len && is_blank(c->src[i]))
		i++;
	if (i == c->len) {
		*ret_eol = i;
		return true;
	}
	if (c->src[i] == '\n') {
		*ret_eol = i + 1;
		return true;
	}
	if (c->src[i] == '\r' && i + 1 < c->len && c->src[i + 1] == '\n') {
		*ret_eol = i + 2;
		return true;
	}
	return false;
}

static bool only_blanks(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_blank(p[i]))
			return false;
	return true;
}

/* The tag whose opening delimiter starts at tag, and the text before it. */
static int parse_tag(struct compiler *c, size_t tag)
{
	unsigned text_line = line_at(c, c->pos), line = line_at(c, tag);
	const char *src = c->src;
	const char *nl = tag > c->pos ? memrchr(src + c->pos, '\n', tag - c->pos) : NULL;
	size_t p = tag + c->open_len, q, cend, after, eol = 0, ns, ne;
	bool standalone = false;
	char sigil = 0, prefix = 0;
	int r;

	if (nl) {
		c->line_start = (size_t)(nl - src) + 1;
		c->line_clean = true;
	}
	while (p < c->len && is_space(src[p]))
		p++;
	if (p < c->len && memchr("#^/!>=&{", src[p], 8))
		sigil = src[p++];
	if (sigil == '{')
		prefix = '}';
	else if (sigil == '=')
		prefix = '=';
	q = find_close(c, p, prefix);
	if (q == SIZE_MAX) {
		char qo[QUOTE_MAX + 4], qc[QUOTE_MAX + 4];

		return compile_error(c, line, "unclosed tag: no '%s%s' after '%s'",
				     prefix == '}' ? "}" : "",
				     quote(qc, sizeof(qc), c->close, c->close_len),
				     quote(qo, sizeof(qo), c->open, c->open_len));
	}
	cend = prefix ? q - 1 : q;
	after = q + c->close_len;

	if (sigil && memchr("#^/!>=", sigil, 6) && c->line_clean &&
	    only_blanks(src + c->line_start, tag - c->line_start))
		standalone = rest_is_blank(c, after, &eol);
	if (standalone)
		r = emit_text(c, c->pos, c->line_start, text_line);
	else {
		r = emit_text(c, c->pos, tag, text_line);
		if (r == 0)
			r = mark_line_start(c, line);
	}
	if (r < 0)
		return r;

	ns = p;
	ne = cend;
	while (ns < ne && is_space(src[ns]))
		ns++;
	while (ne > ns && is_space(src[ne - 1]))
		ne--;
	switch (sigil) {
	case '!': r = 0; break;
	case '=': r = set_delimiters(c, line, p, cend); break;
	case '#': r = open_section(c, NODE_SECTION, line, ns, ne - ns); break;
	case '^': r = open_section(c, NODE_INVERTED, line, ns, ne - ns); break;
	case '/': r = close_section(c, line, ns, ne - ns); break;
	case '>':
		r = check_name(c, line, ns, ne - ns, false);
		if (r == 0)
			r = push_node(c, &(struct tpl_node){ .kind = NODE_PARTIAL,
							     .line = line,
							     .off = ns,
							     .len = ne - ns,
							     .standalone = standalone,
							     .indent_off = c->line_start,
							     .indent_len = tag - c->line_start });
		break;
	default:
		r = check_name(c, line, ns, ne - ns, true);
		if (r == 0)
			r = push_node(c, &(struct tpl_node){ .kind = sigil ? NODE_RAW : NODE_VAR,
							     .line = line,
							     .off = ns,
							     .len = ne - ns });
		break;
	}
	if (r < 0)
		return r;
	if (standalone) {
		/* the line is gone, its newline too; the next one starts a line */
		c->pos = eol;
		c->line_start = eol;
		c->line_clean = true;
		c->at_bol = true;
	} else {
		c->pos = after;
		c->line_clean = false;
	}
	return 0;
}

static int parse(struct compiler *c)
{
	int r;

	while (c->pos < c->len) {
		const char *o = find_bytes(c->src + c->pos, c->len - c->pos, c->open, c->open_len);

		if (!o) {
			r = emit_text(c, c->pos, c->len, line_at(c, c->pos));
			if (r < 0)
				return r;
			c->pos = c->len;
			break;
		}
		r = parse_tag(c, (size_t)(o - c->src));
		if (r < 0)
			return r;
	}
	if (c->nsections > 0) {
		const struct tpl_node *open = &c->t->nodes[c->sections[c->nsections - 1]];
		char q[QUOTE_MAX + 4];

		return compile_error(c, open->line, "unclosed section '%s'",
				     quote(q, sizeof(q), c->src + open->off, open->len));
	}
	return 0;
}

/* Compiles src; with copy false, the template points into src, which must outlive it. */
static int compile(const char *name, const char *src, size_t len, bool copy, struct tpl **ret,
		   struct tpl_error *err)
{
	struct compiler c = { 0 };
	struct tpl_error scratch;
	struct tpl *t;
	int r;

	if (!err)
		err = &scratch;
	if (!src && len > 0) {
		set_error(err, name ? name : "", 1, "no source");
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		goto nomem;
	t->name = strdup(name ? name : "");
	if (!t->name)
		goto nomem;
	if (copy) {
		t->own_src = malloc(len ? len : 1);
		if (!t->own_src)
			goto nomem;
		if (len)
			memcpy(t->own_src, src, len);
		t->src = t->own_src;
	} else {
		t->src = src;
	}
	t->src_len = len;

	c.t = t;
	c.src = t->src;
	c.len = len;
	c.line = 1;
	c.line_clean = true;
	c.at_bol = true;
	c.open = "{{";
	c.open_len = 2;
	c.close = "}}";
	c.close_len = 2;
	c.err = err;
	r = parse(&c);
	free(c.sections);
	if (r == -ENOMEM)
		goto nomem;
	if (r < 0) {
		tpl_free(t);
		return r;
	}
	*ret = t;
	return 0;
nomem:
	set_error(err, name ? name : "", 1, "out of memory");
	tpl_free(t);
	return -ENOMEM;
}

int tpl_compile(const char *name, const char *src, size_t len, struct tpl **ret,
		struct tpl_error *err)
{
	if (!ret)
		return -EINVAL;
	return compile(name, src, len, true, ret, err);
}

/* Renderer */

/* A partial met during a render: loaded and compiled once, whatever the number of tags. */
struct partial_slot {
	char *name;
	size_t name_len;
	struct tpl *tpl; /* NULL: the loader said there is no such partial */
	struct partial_slot *next;
};

struct render {
	const struct tpl_partials *partials;
	bool escape_html;
	size_t max_output;
	unsigned max_depth;
	char *out; /* the result, NUL-terminated at the end */
	size_t len, cap;
	json_t **stack; /* contexts, max_depth + 1 of them */
	size_t nstack;
	char *indent; /* the indentations of the partials being rendered, end to end */
	size_t indent_cap;
	struct partial_slot **slots; /* hash table of partials by name */
	size_t nslots, nused;
	size_t steps, max_steps; /* nodes visited, and the budget */
	struct tpl_error *err;
	bool err_set; /* err says what went wrong: leave it alone */
};

static int out_reserve(struct render *r, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > r->max_output - r->len)
		return -E2BIG;
	need = r->len + n + 1;
	if (need <= r->cap)
		return 0;
	cap = r->cap ? r->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	/* never more than the cap allows, plus the NUL */
	if (cap > r->max_output + 1 && r->max_output < SIZE_MAX)
		cap = r->max_output + 1;
	if (cap < need)
		cap = need;
	p = realloc(r->out, cap);
	if (!p)
		return -ENOMEM;
	r->out = p;
	r->cap = cap;
	return 0;
}

static int out_bytes(struct render *r, const char *p, size_t n)
{
	int e;

	if (n == 0)
		return 0;
	e = out_reserve(r, n);
	if (e < 0)
		return e;
	memcpy(r->out + r->len, p, n);
	r->len += n;
	return 0;
}

/* The specification's HTML escaping: & < > " (nothing else). */
static int out_escaped(struct render *r, const char *p, size_t n)
{
	size_t start = 0;
	int e;

	for (size_t i = 0; i < n; i++) {
		const char *rep;

		switch (p[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		default: continue;
		}
		e = out_bytes(r, p + start, i - start);
		if (e == 0)
			e = out_bytes(r, rep, strlen(rep));
		if (e < 0)
			return e;
		start = i + 1;
	}
	return out_bytes(r, p + start, n - start);
}

static int out_string(struct render *r, const char *p, size_t n, bool escape)
{
	return escape ? out_escaped(r, p, n) : out_bytes(r, p, n);
}

/* Text of the source: each line starting inside it gets the indentation. */
static int out_text(struct render *r, const char *p, size_t n, size_t ind_off, size_t ind_len)
{
	int e;

	if (ind_len == 0)
		return out_bytes(r, p, n);
	while (n > 0) {
		/* a newline that ends the text starts no line here (see emit_text) */
		const char *nl = memchr(p, '\n', n - 1);
		size_t k;

		if (!nl)
			return out_bytes(r, p, n);
		k = (size_t)(nl - p) + 1;
		e = out_bytes(r, p, k);
		if (e == 0)
			e = out_bytes(r, r->indent + ind_off, ind_len);
		if (e < 0)
			return e;
		p += k;
		n -= k;
	}
	return 0;
}

/* Shortest digits that read back as the same double, as a JSON real: "1.5", "2.0", "1e+300". */
static size_t format_real(double d, char *buf, size_t bufsz)
{
	int n = 0;

	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, bufsz, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (n < 0 || (size_t)n >= bufsz)
		return 0;
	if (!strpbrk(buf, ".eEni") && (size_t)n + 2 < bufsz) {
		memcpy(buf + n, ".0", 3);
		n += 2;
	}
	return (size_t)n;
}

struct dump_sink {
	struct render *r;
	bool escape;
	int error;
};

static int dump_to_output(const char *buffer, size_t size, void *data)
{
	struct dump_sink *sink = data;

	sink->error = out_string(sink->r, buffer, size, sink->escape);
	return sink->error < 0 ? -1 : 0;
}

/* A value as text: strings as they are, numbers and literals as JSON prints them. */
static int out_value(struct render *r, json_t *v, bool escape)
{
	char num[64];
	size_t n;

	if (!v)
		return 0;
	switch (json_typeof(v)) {
	case JSON_STRING: return out_string(r, json_string_value(v), json_string_length(v), escape);
	case JSON_INTEGER:
		n = (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
				     json_integer_value(v));
		return out_bytes(r, num, n);
	case JSON_REAL:
		if (!isfinite(json_real_value(v)))
			return 0;
		n = format_real(json_real_value(v), num, sizeof(num));
		return out_bytes(r, num, n);
	case JSON_TRUE: return out_bytes(r, "true", 4);
	case JSON_FALSE: return out_bytes(r, "false", 5);
	case JSON_NULL: return 0;
	case JSON_OBJECT:
	case JSON_ARRAY: {
		struct dump_sink sink = { .r = r, .escape = escape };

		if (json_dump_callback(v, dump_to_output, &sink, JSON_COMPACT | JSON_ENCODE_ANY) <
		    0)
			return sink.error < 0 ? sink.error : -ENOMEM;
		return 0;
	}
	}
	return 0;
}

/*
 * The value a name designates: the first part is looked up from the top of the context
 * stack down, the others only inside what the part before them found. NULL: a miss.
 */
static json_t *lookup(const struct render *r, const char *name, size_t len)
{
	const char *p = name, *end = name + len;
	json_t *v = NULL;

	if (r->nstack == 0)
		return NULL;
	if (p[0] == '.') {
		v = r->stack[r->nstack - 1];
		p++;
		if (p == end)
			return v;
	} else {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);

		for (size_t i = r->nstack; i-- > 0;) {
			if (json_is_object(r->stack[i]) &&
			    (v = json_object_getn(r->stack[i], p, n)) != NULL)
				break;
		}
		if (!v)
			return NULL;
		if (!dot)
			return v;
		p = dot + 1;
	}
	while (p < end) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t n = dot ? (size_t)(dot - p) : (size_t)(end - p);

		if (!json_is_object(v))
			return NULL;
		v = json_object_getn(v, p, n);
		if (!v)
			return NULL;
		p = dot ? dot + 1 : end;
	}
	return v;
}

/* Falsy as in JavaScript, JSON's own language: missing, null, false, 0, "", []. */
static bool truthy(const json_t *v)
{
	if (!v)
		return false;
	switch (json_typeof(v)) {
	case JSON_NULL:
	case JSON_FALSE: return false;
	case JSON_TRUE:
	case JSON_OBJECT: return true;
	case JSON_ARRAY: return json_array_size(v) > 0;
	case JSON_STRING: return json_string_length(v) > 0;
	case JSON_INTEGER: return json_integer_value(v) != 0;
	case JSON_REAL: return json_real_value(v) != 0.0;
	}
	return true;
}

static int render_error(struct render *r, const struct tpl *t, unsigned line, int code,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int render_error(struct render *r, const struct tpl *t, unsigned line, int code,
			const char *fmt, ...)
{
	va_list ap;

	if (r->err_set)
		return code;
	snprintf(r->err->name, sizeof(r->err->name), "%s", t->name);
	r->err->line = line;
	va_start(ap, fmt);
	vsnprintf(r->err->message, sizeof(r->err->message), fmt, ap);
	va_end(ap);
	r->err_set = true;
	return code;
}

/* Describes an error of the output functions at the node it happened in. */
static int node_error(struct render *r, const struct tpl *t, const struct tpl_node *n, int code)
{
	if (code == -E2BIG)
		return render_error(r, t, n->line, code, "output larger than %zu bytes",
				    r->max_output);
	if (code == -ENOMEM)
		return render_error(r, t, n->line, code, "out of memory");
	return render_error(r, t, n->line, code, "%s", strerror(-code));
}

static int depth_error(struct render *r, const struct tpl *t, const struct tpl_node *n)
{
	return render_error(r, t, n->line, -EINVAL,
			    "sections and partials nested deeper than %u levels", r->max_depth);
}

static int steps_error(struct render *r, const struct tpl *t, const struct tpl_node *n)
{
	return render_error(r, t, n->line, -E2BIG,
			    "too much work: more than %zu tags, texts and list items rendered",
			    r->max_steps);
}

static uint64_t hash_name(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static int slots_grow(struct render *r)
{
	size_t n = r->nslots ? r->nslots * 2 : 16;
	struct partial_slot **slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < r->nslots; i++) {
		struct partial_slot *s = r->slots[i], *next;

		for (; s; s = next) {
			size_t b = hash_name(s->name, s->name_len) & (n - 1);

			next = s->next;
			s->next = slots[b];
			slots[b] = s;
		}
	}
	free(r->slots);
	r->slots = slots;
	r->nslots = n;
	return 0;
}

static void slots_free(struct render *r)
{
	for (size_t i = 0; i < r->nslots; i++) {
		struct partial_slot *s = r->slots[i], *next;

		for (; s; s = next) {
			next = s->next;
			tpl_free(s->tpl);
			free(s->name);
			free(s);
		}
	}
	free(r->slots);
}

/*
 * The compiled partial the tag names, loading it on first use: 0 with *ret (NULL when
 * there is no such partial), or a negative errno with the error set.
 */
static int partial_get(struct render *r, const struct tpl *t, const struct tpl_node *n,
		       const struct tpl **ret)
{
	const char *name = t->src + n->off;
	struct partial_slot *s;
	const char *src;
	size_t b, len;
	char q[QUOTE_MAX + 4];
	int e;

	/* the loader takes a C string: a name with a NUL in it cannot name anything */
	if (!r->partials || !r->partials->load || memchr(name, '\0', n->len)) {
		*ret = NULL;
		return 0;
	}
	if (r->nused >= r->nslots) {
		e = slots_grow(r);
		if (e < 0)
			return node_error(r, t, n, e);
	}
	b = hash_name(name, n->len) & (r->nslots - 1);
	for (s = r->slots[b]; s; s = s->next) {
		if (s->name_len == n->len && memcmp(s->name, name, n->len) == 0) {
			*ret = s->tpl;
			return 0;
		}
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return node_error(r, t, n, -ENOMEM);
	s->name = strndup(name, n->len);
	if (!s->name) {
		free(s);
		return node_error(r, t, n, -ENOMEM);
	}
	s->name_len = n->len;
	/* in the table before anything can fail, so that it is freed with it */
	s->next = r->slots[b];
	r->slots[b] = s;
	r->nused++;

	e = r->partials->load(r->partials->arg, s->name, &src, &len);
	if (e == -ENOENT) {
		*ret = NULL;
		return 0;
	}
	if (e < 0)
		return render_error(r, t, n->line, e, "cannot load partial '%s': %s",
				    quote(q, sizeof(q), name, n->len), strerror(-e));
	/* the loader keeps the source until tpl_render returns: no copy */
	e = compile(s->name, src, len, false, &s->tpl, r->err);
	if (e < 0) {
		r->err_set = true;
		return e;
	}
	*ret = s->tpl;
	return 0;
}

/* Puts n bytes of indentation at offset at of the indentation buffer. */
static int indent_put(struct render *r, size_t at, const char *p, size_t n)
{
	if (n == 0)
		return 0;
	if (n > r->max_output || at > r->max_output - n)
		return -E2BIG;
	if (at + n > r->indent_cap) {
		size_t cap = r->indent_cap ? r->indent_cap : 64;
		char *buf;

		while (cap < at + n)
			cap *= 2;
		buf = realloc(r->indent, cap);
		if (!buf)
			return -ENOMEM;
		r->indent = buf;
		r->indent_cap = cap;
	}
	memcpy(r->indent + at, p, n);
	return 0;
}

static int render_block(struct render *r, const struct tpl *t, size_t from, size_t to,
			unsigned depth, size_t ind_off, size_t ind_len);

static int render_section(struct render *r, const struct tpl *t, size_t i, unsigned depth,
			  size_t ind_off, size_t ind_len)
{
	const struct tpl_node *n = &t->nodes[i];
	json_t *v = lookup(r, t->src + n->off, n->len);
	bool show = truthy(v);
	int e;

	if (n->kind == NODE_INVERTED)
		show = !show;
	if (!show)
		return 0;
	if (depth >= r->max_depth)
		return depth_error(r, t, n);
	if (n->kind == NODE_INVERTED)
		return render_block(r, t, i + 1, n->end, depth + 1, ind_off, ind_len);
	if (json_is_array(v)) {
		json_t *item;
		size_t k;

		json_array_foreach(v, k, item)
		{
			/* an empty body costs nothing else: count the item itself */
			if (++r->steps > r->max_steps)
				return steps_error(r, t, n);
			r->stack[r->nstack++] = item;
			e = render_block(r, t, i + 1, n->end, depth + 1, ind_off, ind_len);
			r->nstack--;
			if (e < 0)
				return e;
		}
		return 0;
	}
	r->stack[r->nstack++] = v;
	e = render_block(r, t, i + 1, n->end, depth + 1, ind_off, ind_len);
	r->nstack--;
	return e;
}

static int render_partial(struct render *r, const struct tpl *t, const struct tpl_node *n,
			  unsigned depth, size_t ind_off, size_t ind_len)
{
	const struct tpl *p = NULL;
	size_t off = ind_off + ind_len, len = 0;
	int e;

	e = partial_get(r, t, n, &p);
	if (e < 0 || !p)
		return e;
	if (depth >= r->max_depth)
		return depth_error(r, t, n);
	if (n->standalone) {
		/* inside an indented partial, the tag's own indentation adds to it */
		off = ind_off;
		len = ind_len + n->indent_len;
		e = indent_put(r, ind_off + ind_len, t->src + n->indent_off, n->indent_len);
		if (e < 0)
			return node_error(r, t, n, e);
	}
	return render_block(r, p, 0, p->nnodes, depth + 1, off, len);
}

/*
 * Renders nodes [from, to) of t. The indentation of the lines is r->indent[ind_off ..
 * ind_off + ind_len): a buffer offset, since a nested partial may move the buffer.
 */
static int render_block(struct render *r, const struct tpl *t, size_t from, size_t to,
			unsigned depth, size_t ind_off, size_t ind_len)
{
	size_t i = from;

	while (i < to) {
		const struct tpl_node *n = &t->nodes[i];
		int e = 0;

		if (++r->steps > r->max_steps)
			return steps_error(r, t, n);
		switch (n->kind) {
		case NODE_TEXT: e = out_text(r, t->src + n->off, n->len, ind_off, ind_len); break;
		case NODE_INDENT:
			if (ind_len)
				e = out_bytes(r, r->indent + ind_off, ind_len);
			break;
		case NODE_VAR:
		case NODE_RAW:
			e = out_value(r, lookup(r, t->src + n->off, n->len),
				      n->kind == NODE_VAR && r->escape_html);
			break;
		case NODE_SECTION:
		case NODE_INVERTED:
			e = render_section(r, t, i, depth, ind_off, ind_len);
			if (e < 0)
				return e;
			i = n->end;
			continue;
		case NODE_PARTIAL: e = render_partial(r, t, n, depth, ind_off, ind_len); break;
		}
		if (e < 0)
			return node_error(r, t, n, e);
		i++;
	}
	return 0;
}

int tpl_render(const struct tpl *t, json_t *ctx, const struct tpl_partials *partials,
	       const struct tpl_options *opts, char **ret, size_t *ret_len, struct tpl_error *err)
{
	struct tpl_error scratch;
	struct render r = { 0 };
	int e;

	if (!err)
		err = &scratch;
	if (!t || !ret || !ret_len) {
		set_error(err, t ? t->name : "", 1, "invalid arguments");
		return -EINVAL;
	}
	r.partials = partials;
	r.err = err;
	r.escape_html = opts && opts->escape_html;
	r.max_output = opts && opts->max_output ? opts->max_output : DEFAULT_MAX_OUTPUT;
	r.max_depth = opts && opts->max_depth ? opts->max_depth : DEFAULT_MAX_DEPTH;
	if (r.max_depth > HARD_MAX_DEPTH)
		r.max_depth = HARD_MAX_DEPTH;
	r.max_steps = r.max_output > (SIZE_MAX - BASE_STEPS) / STEPS_PER_BYTE
			      ? SIZE_MAX
			      : BASE_STEPS + r.max_output * STEPS_PER_BYTE;
	/* only sections push, and each counts as a level: the root plus max_depth */
	r.stack = calloc(r.max_depth + 1, sizeof(*r.stack));
	e = r.stack ? out_reserve(&r, 0) : -ENOMEM;
	if (e < 0) {
		set_error(err, t->name, 1, "out of memory");
		goto done;
	}
	if (ctx)
		r.stack[r.nstack++] = ctx;
	e = render_block(&r, t, 0, t->nnodes, 0, 0, 0);
done:
	free(r.stack);
	free(r.indent);
	slots_free(&r);
	if (e < 0) {
		free(r.out);
		return e;
	}
	r.out[r.len] = '\0';
	*ret = r.out;
	*ret_len = r.len;
	return 0;
}
