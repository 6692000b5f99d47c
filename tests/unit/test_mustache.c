// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/template/mustache.c: a table of templates, JSON data, partials and
 * the bytes expected, one group per part of the Mustache specification (interpolation,
 * sections, inverted sections, comments, partials, set delimiters, standalone lines);
 * then compile and render errors with their name and line, the limits, the escaping
 * option, NUL bytes, and how often a render asks for each partial.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "template/mustache.h"

struct render_case {
	const char *what;
	const char *tpl;
	const char *data;     /* JSON; NULL: {} */
	const char *partials; /* JSON object of name -> source; NULL: none */
	const char *expect;
	bool escape;
};

/* Partials from a JSON object; counts the calls, to see what a render asks for. */
struct json_partials {
	json_t *sources;
	unsigned calls;
	int fail_with; /* nonzero: every load fails so */
};

static int load_json_partial(void *arg, const char *name, const char **ret_src, size_t *ret_len)
{
	struct json_partials *jp = arg;
	json_t *v;

	jp->calls++;
	if (jp->fail_with)
		return jp->fail_with;
	v = jp->sources ? json_object_get(jp->sources, name) : NULL;
	if (!json_is_string(v))
		return -ENOENT;
	*ret_src = json_string_value(v);
	*ret_len = json_string_length(v);
	return 0;
}

static json_t *parse_json(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);

	if (!v)
		fail_msg("bad JSON in the test table: %s (%s)", je.text, text);
	return v;
}

/* Renders tpl; 0 with a malloc'd *ret, or the error. */
static int render_full(const char *tpl, size_t tpl_len, const char *data, const char *partials,
		       const struct tpl_options *opts, struct json_partials *jp, char **ret,
		       size_t *ret_len, struct tpl_error *err)
{
	json_t *ctx = parse_json(data ? data : "{}");
	struct tpl *t = NULL;
	int r;

	jp->sources = partials ? parse_json(partials) : NULL;
	r = tpl_compile("main", tpl, tpl_len, &t, err);
	if (r == 0)
		r = tpl_render(t, ctx, &(struct tpl_partials){ load_json_partial, jp }, opts, ret,
			       ret_len, err);
	tpl_free(t);
	json_decref(jp->sources);
	jp->sources = NULL;
	json_decref(ctx);
	return r;
}

static void run_cases(const struct render_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct render_case *c = &cases[i];
		struct tpl_options opts = { .escape_html = c->escape };
		struct json_partials jp = { 0 };
		struct tpl_error err = { 0 };
		char *out = NULL;
		size_t len = 0;
		int r;

		r = render_full(c->tpl, strlen(c->tpl), c->data, c->partials, &opts, &jp, &out,
				&len, &err);
		if (r != 0)
			fail_msg("%s: error %d: %s:%u: %s", c->what, r, err.name, err.line,
				 err.message);
		if (len != strlen(c->expect) || memcmp(out, c->expect, len) != 0 || out[len])
			fail_msg("%s:\n  expected [%s]\n  got      [%.*s]", c->what, c->expect,
				 (int)len, out);
		free(out);
	}
}

/* A literal and its length. */
#define S(lit) lit, strlen(lit)

#define RUN(cases) run_cases(cases, sizeof(cases) / sizeof(cases[0]))

static const struct render_case interpolation_cases[] = {
	{ "text without tags", "Plain {text} and } or { stay.\n", NULL, NULL,
	  "Plain {text} and } or { stay.\n", false },
	{ "empty template", "", NULL, NULL, "", false },
	{ "basic", "Server: {{host}}\n", "{\"host\":\"pbx.example.net\"}", NULL,
	  "Server: pbx.example.net\n", false },
	{ "values are not rendered again", "{{a}} / {{b}}", "{\"a\":\"{{b}}\",\"b\":\"B\"}", NULL,
	  "{{b}} / B", false },
	{ "not escaped by default", "{{v}}", "{\"v\":\"<a href=\\\"x\\\">&</a>\"}", NULL,
	  "<a href=\"x\">&</a>", false },
	{ "escaped with the option", "{{v}}", "{\"v\":\"<a href=\\\"x\\\">&'</a>\"}", NULL,
	  "&lt;a href=&quot;x&quot;&gt;&amp;'&lt;/a&gt;", true },
	{ "triple never escaped", "{{{v}}}", "{\"v\":\"1 < 2 & \\\"q\\\"\"}", NULL, "1 < 2 & \"q\"",
	  true },
	{ "ampersand never escaped", "{{&v}}", "{\"v\":\"1 < 2 & \\\"q\\\"\"}", NULL,
	  "1 < 2 & \"q\"", true },
	{ "integer", "port={{port}};", "{\"port\":5060}", NULL, "port=5060;", false },
	{ "integer, triple", "port={{{port}}};", "{\"port\":5061}", NULL, "port=5061;", false },
	{ "integer, ampersand", "port={{&port}};", "{\"port\":5062}", NULL, "port=5062;", false },
	{ "negative and large integers", "{{a}} {{b}}", "{\"a\":-42,\"b\":9007199254740993}", NULL,
	  "-42 9007199254740993", false },
	{ "decimal without trailing zeros", "gain {{g}} dB", "{\"g\":2.750}", NULL, "gain 2.75 dB",
	  false },
	{ "decimal, triple", "{{{g}}}", "{\"g\":3.1400}", NULL, "3.14", false },
	{ "decimal, ampersand", "{{&g}}", "{\"g\":0.50}", NULL, "0.5", false },
	{ "decimals keep their significance", "{{a}} {{b}} {{c}}",
	  "{\"a\":0.1,\"b\":1.21,\"c\":-2.5e-3}", NULL, "0.1 1.21 -0.0025", false },
	{ "a whole real stays a real, as JSON prints it", "{{a}}", "{\"a\":1.0}", NULL, "1.0",
	  false },
	{ "huge real", "{{a}}", "{\"a\":1e300}", NULL, "1e+300", false },
	{ "booleans", "{{t}}/{{f}}", "{\"t\":true,\"f\":false}", NULL, "true/false", false },
	{ "null is empty", "[{{n}}]", "{\"n\":null}", NULL, "[]", false },
	{ "miss is empty", "I ({{nothing}}) see", NULL, NULL, "I () see", false },
	{ "miss, triple", "I ({{{nothing}}}) see", NULL, NULL, "I () see", false },
	{ "miss, ampersand", "I ({{&nothing}}) see", NULL, NULL, "I () see", false },
	{ "object as compact JSON", "{{o}}", "{\"o\":{\"k\":[1,\"s\"]}}", NULL, "{\"k\":[1,\"s\"]}",
	  false },
	{ "JSON of an object escaped with the option", "{{o}}", "{\"o\":[\"<\"]}", NULL,
	  "[&quot;&lt;&quot;]", true },
	{ "dotted name", "{{sip.user}} == {{#sip}}{{user}}{{/sip}}",
	  "{\"sip\":{\"user\":\"alice\"}}", NULL, "alice == alice", false },
	{ "dotted name, triple", "{{{sip.user}}} == {{#sip}}{{{user}}}{{/sip}}",
	  "{\"sip\":{\"user\":\"bob\"}}", NULL, "bob == bob", false },
	{ "dotted name, ampersand", "{{&sip.user}} == {{#sip}}{{&user}}{{/sip}}",
	  "{\"sip\":{\"user\":\"carol\"}}", NULL, "carol == carol", false },
	{ "dotted name, any depth", "{{a.b.c.d.e.f}}",
	  "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":\"deep\"}}}}}}", NULL, "deep", false },
	{ "dotted name, broken chain", "[{{a.b.c}}]", "{\"a\":{}}", NULL, "[]", false },
	{ "dotted name, the rest resolves only in the first part", "[{{a.b.c.n}}]",
	  "{\"a\":{\"b\":{}},\"c\":{\"n\":\"no\"}}", NULL, "[]", false },
	{ "dotted name, first part through the stack", "{{#a}}{{b.c}}{{/a}}",
	  "{\"a\":{\"b\":{\"c\":\"right\"}},\"b\":{\"c\":\"wrong\"}}", NULL, "right", false },
	{ "dotted name, the nearer first part wins even when it lacks the rest",
	  "[{{#a}}{{b.c}}{{/a}}]", "{\"a\":{\"b\":{}},\"b\":{\"c\":\"wrong\"}}", NULL, "[]",
	  false },
	{ "dotted name is never one key", "[{{a.b}}]", "{\"a.b\":\"one key\"}", NULL, "[]", false },
	{ "dotted name, a key with a dot does not mask", "[{{a.b}}]",
	  "{\"a.b\":\"one key\",\"a\":{\"b\":\"nested\"}}", NULL, "[nested]", false },
	{ "dotted name through a scalar is a miss", "[{{a.b}}]", "{\"a\":\"str\"}", NULL, "[]",
	  false },
	{ "leading dot stays in the top context", "{{#a}}<{{.n}}>{{/a}}{{#b}}<{{.n}}>{{/b}}",
	  "{\"a\":{},\"b\":{\"n\":\"in b\"},\"n\":\"outer\"}", NULL, "<><in b>", false },
	{ "implicit iterator on a root string", "Hi {{.}}!", "\"there\"", NULL, "Hi there!",
	  false },
	{ "implicit iterator escaped", "{{.}}", "\"a&b\"", NULL, "a&amp;b", true },
	{ "implicit iterator, triple", "{{{.}}}", "\"a&b\"", NULL, "a&b", true },
	{ "implicit iterator, ampersand", "{{&.}}", "\"a&b\"", NULL, "a&b", true },
	{ "implicit iterator, integer", "n={{.}}", "85", NULL, "n=85", false },
	{ "surrounding whitespace kept", "| {{s}} |", "{\"s\":\"---\"}", NULL, "| --- |", false },
	{ "surrounding whitespace kept, triple", "| {{{s}}} |", "{\"s\":\"---\"}", NULL, "| --- |",
	  false },
	{ "surrounding whitespace kept, ampersand", "| {{&s}} |", "{\"s\":\"---\"}", NULL,
	  "| --- |", false },
	{ "interpolation is never standalone", "  {{s}}\n", "{\"s\":\"x\"}", NULL, "  x\n", false },
	{ "triple is never standalone", "  {{{s}}}\n", "{\"s\":\"x\"}", NULL, "  x\n", false },
	{ "ampersand is never standalone", "  {{&s}}\n", "{\"s\":\"x\"}", NULL, "  x\n", false },
	{ "empty value alone on a line keeps the line", "a\n{{s}}\nb", NULL, NULL, "a\n\nb",
	  false },
	{ "padding in the tag", "|{{ s }}|", "{\"s\":\"p\"}", NULL, "|p|", false },
	{ "padding, triple", "|{{{ s }}}|", "{\"s\":\"p\"}", NULL, "|p|", false },
	{ "padding, ampersand", "|{{& s }}|", "{\"s\":\"p\"}", NULL, "|p|", false },
	{ "tag across lines", "|{{\ns\n}}|", "{\"s\":\"p\"}", NULL, "|p|", false },
	{ "UTF-8 passes through", "caf\xc3\xa9 {{s}}", "{\"s\":\"\xe2\x82\xac\"}", NULL,
	  "caf\xc3\xa9 \xe2\x82\xac", false },
	{ "unicode escape in data", "{{s}}", "{\"s\":\"\\u00e9\"}", NULL, "\xc3\xa9", false },
};

static const struct render_case section_cases[] = {
	{ "true renders", "<{{#b}}shown{{/b}}>", "{\"b\":true}", NULL, "<shown>", false },
	{ "false skips", "<{{#b}}hidden{{/b}}>", "{\"b\":false}", NULL, "<>", false },
	{ "null skips", "<{{#b}}hidden{{/b}}>", "{\"b\":null}", NULL, "<>", false },
	{ "missing skips", "<{{#b}}hidden{{/b}}>", NULL, NULL, "<>", false },
	{ "empty list skips", "<{{#l}}hidden{{/l}}>", "{\"l\":[]}", NULL, "<>", false },
	{ "empty string, 0 and 0.0 skip", "<{{#s}}1{{/s}}{{#i}}2{{/i}}{{#r}}3{{/r}}>",
	  "{\"s\":\"\",\"i\":0,\"r\":0.0}", NULL, "<>", false },
	{ "empty object and \"0\" render", "<{{#o}}1{{/o}}{{#s}}2{{/s}}>", "{\"o\":{},\"s\":\"0\"}",
	  NULL, "<12>", false },
	{ "object pushed as context", "{{#dev}}{{mac}}/{{model}}{{/dev}}",
	  "{\"dev\":{\"mac\":\"001122334455\",\"model\":\"T46\"}}", NULL, "001122334455/T46",
	  false },
	{ "names missing above are looked up below", "{{#sec}}{{a}}, {{b}}, {{c.d}}{{/sec}}",
	  "{\"a\":\"A\",\"b\":\"outer\",\"sec\":{\"b\":\"inner\"},\"c\":{\"d\":\"D\"}}", NULL,
	  "A, inner, D", false },
	{ "scalar on top of the stack", "{{#x}}{{.}} = {{x}}{{/x}}", "{\"x\":\"val\"}", NULL,
	  "val = val", false },
	{ "integer pushed", "{{#n}}[{{.}}]{{/n}}", "{\"n\":5}", NULL, "[5]", false },
	{ "list items pushed", "{{#l}}{{n}},{{/l}}", "{\"l\":[{\"n\":1},{\"n\":2},{\"n\":3}]}",
	  NULL, "1,2,3,", false },
	{ "every level of nested lists visible",
	  "{{#t}}{{#m}}{{tn.lo}}{{mn}}.{{#b}}{{tn.up}}{{mn}}{{bn}}.{{/b}}{{/m}}{{/t}}",
	  "{\"t\":[{\"tn\":{\"up\":\"A\",\"lo\":\"a\"},\"m\":[{\"mn\":\"1\",\"b\":[{\"bn\":\"x\"},{"
	  "\"bn\":\"y\"}]}]}]}",
	  NULL, "a1.A1x.A1y.", false },
	{ "deeply nested contexts",
	  "{{#a}}\n{{one}}\n{{#b}}\n{{one}}{{two}}\n{{#c}}\n{{one}}{{two}}{{three}}\n{{#d}}\n"
	  "{{one}}{{two}}{{three}}{{four}}{{.}}\n{{/d}}\n{{/c}}\n{{/b}}\n{{/a}}\n",
	  "{\"a\":{\"one\":1},\"b\":{\"two\":2},\"c\":{\"three\":3,\"d\":4},\"four\":\"F\"}", NULL,
	  "1\n12\n123\n123F4\n", false },
	{ "a string is not a list", "{{#s}}once{{/s}}", "{\"s\":\"abc\"}", NULL, "once", false },
	{ "two sections with standalone lines",
	  "{{#b}}\n* one\n{{/b}}\n* {{two}}\n{{#b}}\n* three\n{{/b}}\n",
	  "{\"b\":true,\"two\":\"two\"}", NULL, "* one\n* two\n* three\n", false },
	{ "nested, true", "| A {{#b}}B {{#b}}C{{/b}} D{{/b}} E |", "{\"b\":true}", NULL,
	  "| A B C D E |", false },
	{ "nested, false", "| A {{#b}}B {{#b}}C{{/b}} D{{/b}} E |", "{\"b\":false}", NULL,
	  "| A  E |", false },
	{ "implicit iterator, strings", "{{#l}}({{.}}){{/l}}", "{\"l\":[\"a\",\"b\",\"c\"]}", NULL,
	  "(a)(b)(c)", false },
	{ "implicit iterator, integers", "{{#l}}({{.}}){{/l}}", "{\"l\":[1,2,3]}", NULL,
	  "(1)(2)(3)", false },
	{ "implicit iterator, decimals", "{{#l}}({{.}}){{/l}}", "{\"l\":[1.10,2.25,3.50]}", NULL,
	  "(1.1)(2.25)(3.5)", false },
	{ "implicit iterator, nested lists", "{{#l}}({{#.}}{{.}}{{/.}}){{/l}}",
	  "{\"l\":[[1,2],[\"x\",\"y\",\"z\"]]}", NULL, "(12)(xyz)", false },
	{ "implicit iterator over a root list", "{{#.}}({{v}}){{/.}}",
	  "[{\"v\":\"a\"},{\"v\":\"b\"}]", NULL, "(a)(b)", false },
	{ "dotted name, true", "[{{#a.b.c}}here{{/a.b.c}}]", "{\"a\":{\"b\":{\"c\":true}}}", NULL,
	  "[here]", false },
	{ "dotted name, false", "[{{#a.b.c}}here{{/a.b.c}}]", "{\"a\":{\"b\":{\"c\":false}}}", NULL,
	  "[]", false },
	{ "dotted name, broken chain", "[{{#a.b.c}}here{{/a.b.c}}]", "{\"a\":{}}", NULL, "[]",
	  false },
	{ "surrounding whitespace", " | {{#b}}\t|\t{{/b}} | \n", "{\"b\":true}", NULL,
	  " | \t|\t | \n", false },
	{ "internal whitespace", " | {{#b}} {{! keep }}\n {{/b}} | \n", "{\"b\":true}", NULL,
	  " |  \n  | \n", false },
	{ "indented inline sections", " {{#b}}YES{{/b}}\n {{#b}}GOOD{{/b}}\n", "{\"b\":true}", NULL,
	  " YES\n GOOD\n", false },
	{ "standalone lines removed", "| This\n{{#b}}\n|\n{{/b}}\n| Line\n", "{\"b\":true}", NULL,
	  "| This\n|\n| Line\n", false },
	{ "indented standalone lines removed", "| This\n  {{#b}}\n|\n\t {{/b}}\n| Line\n",
	  "{\"b\":true}", NULL, "| This\n|\n| Line\n", false },
	{ "standalone CRLF", "|\r\n{{#b}}\r\n{{/b}}\r\n|", "{\"b\":true}", NULL, "|\r\n|", false },
	{ "standalone on the first line", "  {{#b}}\n#{{/b}}\n/", "{\"b\":true}", NULL, "#\n/",
	  false },
	{ "standalone on the last line, no newline", "#{{#b}}\n/\n  {{/b}}", "{\"b\":true}", NULL,
	  "#\n/\n", false },
	{ "a lone CR does not end a line", "{{#b}}\r|{{/b}}", "{\"b\":true}", NULL, "\r|", false },
	{ "two tags on a line are not standalone", "{{#b}}{{/b}}\nx", "{\"b\":true}", NULL, "\nx",
	  false },
	{ "padding", "|{{# b }}={{/ b }}|", "{\"b\":true}", NULL, "|=|", false },
	{ "list of standalone blocks", "{{#lines}}\nline{{n}}\n{{/lines}}\n",
	  "{\"lines\":[{\"n\":1},{\"n\":2}]}", NULL, "line1\nline2\n", false },
};

static const struct render_case inverted_cases[] = {
	{ "false renders", "<{{^b}}shown{{/b}}>", "{\"b\":false}", NULL, "<shown>", false },
	{ "null renders", "<{{^b}}shown{{/b}}>", "{\"b\":null}", NULL, "<shown>", false },
	{ "missing renders", "<{{^b}}shown{{/b}}>", NULL, NULL, "<shown>", false },
	{ "true skips", "<{{^b}}hidden{{/b}}>", "{\"b\":true}", NULL, "<>", false },
	{ "object skips", "<{{^o}}hidden {{n}}{{/o}}>", "{\"o\":{\"n\":\"x\"}}", NULL, "<>",
	  false },
	{ "list skips", "<{{^l}}{{n}}{{/l}}>", "{\"l\":[{\"n\":1}]}", NULL, "<>", false },
	{ "empty list renders", "<{{^l}}none{{/l}}>", "{\"l\":[]}", NULL, "<none>", false },
	{ "section and inverse", "{{#l}}{{.}};{{/l}}{{^l}}empty{{/l}}", "{\"l\":[]}", NULL, "empty",
	  false },
	{ "two inverted sections", "{{^t}}\n* one\n{{/t}}\n* {{two}}\n{{^t}}\n* three\n{{/t}}\n",
	  "{\"t\":false,\"two\":\"two\"}", NULL, "* one\n* two\n* three\n", false },
	{ "nested, false", "| A {{^t}}B {{^t}}C{{/t}} D{{/t}} E |", "{\"t\":false}", NULL,
	  "| A B C D E |", false },
	{ "nested, true", "| A {{^t}}B {{^t}}C{{/t}} D{{/t}} E |", "{\"t\":true}", NULL, "| A  E |",
	  false },
	{ "dotted name, true", "[{{^a.b.c}}no{{/a.b.c}}]", "{\"a\":{\"b\":{\"c\":true}}}", NULL,
	  "[]", false },
	{ "dotted name, false", "[{{^a.b.c}}yes{{/a.b.c}}]", "{\"a\":{\"b\":{\"c\":false}}}", NULL,
	  "[yes]", false },
	{ "dotted name, broken chain", "[{{^a.b.c}}yes{{/a.b.c}}]", "{\"a\":{}}", NULL, "[yes]",
	  false },
	{ "surrounding whitespace", " | {{^b}}\t|\t{{/b}} | \n", "{\"b\":false}", NULL,
	  " | \t|\t | \n", false },
	{ "internal whitespace", " | {{^b}} {{! keep }}\n {{/b}} | \n", "{\"b\":false}", NULL,
	  " |  \n  | \n", false },
	{ "indented inline", " {{^b}}NO{{/b}}\n {{^b}}WAY{{/b}}\n", "{\"b\":false}", NULL,
	  " NO\n WAY\n", false },
	{ "standalone lines removed", "| This\n{{^b}}\n|\n{{/b}}\n| Line\n", "{\"b\":false}", NULL,
	  "| This\n|\n| Line\n", false },
	{ "indented standalone lines removed", "| This\n  {{^b}}\n|\n  {{/b}}\n| Line\n",
	  "{\"b\":false}", NULL, "| This\n|\n| Line\n", false },
	{ "standalone CRLF", "|\r\n{{^b}}\r\n{{/b}}\r\n|", "{\"b\":false}", NULL, "|\r\n|", false },
	{ "standalone on the first line", "  {{^b}}\n^{{/b}}\n/", "{\"b\":false}", NULL, "^\n/",
	  false },
	{ "standalone on the last line, no newline", "^{{^b}}\n/\n  {{/b}}", "{\"b\":false}", NULL,
	  "^\n/\n", false },
	{ "padding", "|{{^ b }}={{/ b }}|", "{\"b\":false}", NULL, "|=|", false },
};

static const struct render_case comment_cases[] = {
	{ "inline", "12345{{! a comment }}67890", NULL, NULL, "1234567890", false },
	{ "multi-line", "12345{{!\n  a\n  long comment\n}}67890\n", NULL, NULL, "1234567890\n",
	  false },
	{ "standalone", "Begin.\n{{! gone }}\nEnd.\n", NULL, NULL, "Begin.\nEnd.\n", false },
	{ "indented standalone", "Begin.\n   {{! gone }}\nEnd.\n", NULL, NULL, "Begin.\nEnd.\n",
	  false },
	{ "standalone CRLF", "|\r\n{{! gone }}\r\n|", NULL, NULL, "|\r\n|", false },
	{ "standalone on the first line", "  {{! gone }}\n!", NULL, NULL, "!", false },
	{ "standalone on the last line, no newline", "!\n  {{! gone }}", NULL, NULL, "!\n", false },
	{ "multi-line standalone", "Begin.\n{{!\nsomething\n}}\nEnd.\n", NULL, NULL,
	  "Begin.\nEnd.\n", false },
	{ "indented multi-line standalone", "Begin.\n  {{!\n    something\n  }}\nEnd.\n", NULL,
	  NULL, "Begin.\nEnd.\n", false },
	{ "indented inline keeps its whitespace", "  12 {{! 34 }}\n", NULL, NULL, "  12 \n",
	  false },
	{ "surrounding whitespace", "12345 {{! gone }} 67890", NULL, NULL, "12345  67890", false },
	{ "a key named like the comment stays unseen", "x{{! c }}y{{!c}}",
	  "{\"! c\":\"bad\",\"!c\":\"bad\",\"c\":\"bad\"}", NULL, "xy", false },
	{ "braces inside a comment", "a{{! { not a tag { }}b", NULL, NULL, "ab", false },
};

static const struct render_case partial_cases[] = {
	{ "basic", "\"{{>text}}\"", NULL, "{\"text\":\"from the partial\"}", "\"from the partial\"",
	  false },
	{ "missing renders as nothing", "\"{{>text}}\"", NULL, "{}", "\"\"", false },
	{ "rendered in the current context", "\"{{>p}}\"", "{\"text\":\"content\"}",
	  "{\"p\":\"*{{text}}*\"}", "\"*content*\"", false },
	{ "rendered in a section's context", "{{#l}}{{>p}}{{/l}}", "{\"l\":[{\"v\":1},{\"v\":2}]}",
	  "{\"p\":\"<{{v}}>\"}", "<1><2>", false },
	{ "recursion", "{{>node}}",
	  "{\"content\":\"X\",\"nodes\":[{\"content\":\"Y\",\"nodes\":[]}]}",
	  "{\"node\":\"{{content}}<{{#nodes}}{{>node}}{{/nodes}}>\"}", "X<Y<>>", false },
	{ "nested partials", "[{{>outer}}]", "{\"a\":\"A\",\"b\":\"B\"}",
	  "{\"outer\":\"*{{a}} {{>inner}}*\",\"inner\":\"!{{b}}!\"}", "[*A !B!*]", false },
	{ "surrounding whitespace", "| {{>p}} |", NULL, "{\"p\":\"\\t|\\t\"}", "| \t|\t |", false },
	{ "inline: indentation untouched", "  {{d}}  {{> p}}\n", "{\"d\":\"|\"}",
	  "{\"p\":\">\\n>\"}", "  |  >\n>\n", false },
	{ "standalone CRLF", "|\r\n{{>p}}\r\n|", NULL, "{\"p\":\">\"}", "|\r\n>|", false },
	{ "standalone on the first line", "  {{>p}}\n>", NULL, "{\"p\":\">\\n>\"}", "  >\n  >>",
	  false },
	{ "standalone on the last line, no newline", ">\n  {{>p}}", NULL, "{\"p\":\">\\n>\"}",
	  ">\n  >\n  >", false },
	{ "standalone: every line of the partial indented, not the data", "\\\n {{>p}}\n/\n",
	  "{\"c\":\"<\\n->\"}", "{\"p\":\"|\\n{{{c}}}a b{{{c}}}c\\n|\\n\"}",
	  "\\\n |\n <\n->a b<\n->c\n |\n/\n", false },
	{ "standalone: the partial's standalone lines lose their indentation too",
	  "x\n  {{>p}}\ny\n", "{\"b\":true}", "{\"p\":\"{{#b}}\\n1\\n{{/b}}\\n2\\n\"}",
	  "x\n  1\n  2\ny\n", false },
	{ "standalone: a line that starts with a tag is indented", "  {{>p}}\n",
	  "{\"v\":\"V\",\"w\":\"\"}", "{\"p\":\"{{v}}\\n{{w}}\\n\"}", "  V\n  \n", false },
	{ "standalone: indentations add up", "\t{{>outer}}\n", NULL,
	  "{\"outer\":\"o\\n  {{>inner}}\\no\\n\",\"inner\":\"i1\\ni2\\n\"}",
	  "\to\n\t  i1\n\t  i2\n\to\n", false },
	{ "inline partial inside an indented one is not indented", "  {{>outer}}\n", NULL,
	  "{\"outer\":\"o {{>inner}}\\no\\n\",\"inner\":\"i1\\ni2\"}", "  o i1\ni2\n  o\n", false },
	{ "standalone partial in a list", "{{#l}}\n  {{>p}}\n{{/l}}\n", "{\"l\":[1,2]}",
	  "{\"p\":\"[{{.}}]\\n\"}", "  [1]\n  [2]\n", false },
	{ "padding", "|{{> p }}|", NULL, "{\"p\":\"[]\"}", "|[]|", false },
	{ "names with slashes are passed on", "{{>dir/p}}", NULL, "{\"dir/p\":\"sub\"}", "sub",
	  false },
	{ "empty partial", "[{{>p}}]", NULL, "{\"p\":\"\"}", "[]", false },
};

static const struct render_case delimiter_cases[] = {
	{ "pair", "{{=<% %>=}}(<%text%>)", "{\"text\":\"Hey!\"}", NULL, "(Hey!)", false },
	{ "characters special elsewhere", "({{=[ ]=}}[text])", "{\"text\":\"It worked!\"}", NULL,
	  "(It worked!)", false },
	{ "32-byte delimiters",
	  "{{=<2345678901234567890123456789012 >2345678901234567890123456789012=}}<2345678901234567890123456789012v>2345678901234567890123456789012",
	  "{\"v\":1}", NULL, "1", false },
	{ "longer delimiters", "{{=<<< >>>=}}<<<a>>> {{a}}", "{\"a\":\"A\"}", NULL, "A {{a}}",
	  false },
	{ "sections after a change",
	  "[\n{{#s}}\n  {{d}}\n  |d|\n{{/s}}\n\n{{= | | =}}\n|#s|\n  {{d}}\n  |d|\n|/s|\n]\n",
	  "{\"s\":true,\"d\":\"in\"}", NULL, "[\n  in\n  |d|\n\n  {{d}}\n  in\n]\n", false },
	{ "inverted sections after a change",
	  "[\n{{^s}}\n  {{d}}\n  |d|\n{{/s}}\n\n{{= | | =}}\n|^s|\n  {{d}}\n  |d|\n|/s|\n]\n",
	  "{\"s\":false,\"d\":\"in\"}", NULL, "[\n  in\n  |d|\n\n  {{d}}\n  in\n]\n", false },
	{ "a change inside a section lasts after it", "{{#b}}{{=( )=}}(/b)(x){{x}}",
	  "{\"b\":true,\"x\":\"X\"}", NULL, "X{{x}}", false },
	{ "partials start with the default delimiters", "[ {{>inc}} ]\n{{= | | =}}\n[ |>inc| ]\n",
	  "{\"v\":\"yes\"}", "{\"inc\":\".{{v}}.\"}", "[ .yes. ]\n[ .yes. ]\n", false },
	{ "a partial's change stays in the partial", "[ {{>inc}} ]\n[ .{{v}}.  .|v|. ]\n",
	  "{\"v\":\"yes\"}", "{\"inc\":\".{{v}}. {{= | | =}} .|v|.\"}",
	  "[ .yes.  .yes. ]\n[ .yes.  .|v|. ]\n", false },
	{ "surrounding whitespace", "| {{=@ @=}} |", NULL, NULL, "|  |", false },
	{ "inline: whitespace kept", " | {{=@ @=}}\n", NULL, NULL, " | \n", false },
	{ "standalone", "Begin.\n{{=@ @=}}\nEnd.\n", NULL, NULL, "Begin.\nEnd.\n", false },
	{ "indented standalone", "Begin.\n  {{=@ @=}}\nEnd.\n", NULL, NULL, "Begin.\nEnd.\n",
	  false },
	{ "standalone CRLF", "|\r\n{{= @ @ =}}\r\n|", NULL, NULL, "|\r\n|", false },
	{ "standalone on the first line", "  {{=@ @=}}\n=", NULL, NULL, "=", false },
	{ "standalone on the last line, no newline", "=\n  {{=@ @=}}", NULL, NULL, "=\n", false },
	{ "padding", "|{{= @   @ =}}|", NULL, NULL, "||", false },
	{ "triple with other delimiters", "{{=<% %>=}}<%{v}%> <%&v%> <%v%>", "{\"v\":\"&\"}", NULL,
	  "& & &amp;", true },
	{ "back to the defaults", "{{=<% %>=}}<%v%><%={{ }}=%>{{v}}", "{\"v\":\"x\"}", NULL, "xx",
	  false },
	{ "standalone section with other delimiters", "{{=<% %>=}}\n<%#b%>\nyes\n<%/b%>\n",
	  "{\"b\":true}", NULL, "yes\n", false },
};

static void test_interpolation(void **state)
{
	RUN(interpolation_cases);
}

static void test_sections(void **state)
{
	RUN(section_cases);
}

static void test_inverted(void **state)
{
	RUN(inverted_cases);
}

static void test_comments(void **state)
{
	RUN(comment_cases);
}

static void test_partials(void **state)
{
	RUN(partial_cases);
}

static void test_delimiters(void **state)
{
	RUN(delimiter_cases);
}

struct error_case {
	const char *tpl;
	unsigned line;
	const char *message; /* a part of it */
};

static const struct error_case compile_errors[] = {
	{ "a\n{{#s}}\nb", 2, "unclosed section 's'" },
	{ "{{#a}}\n{{#b}}\n{{/b}}\n", 1, "unclosed section 'a'" },
	{ "{{#a}}x{{/b}}", 1, "closing tag 'b' does not match section 'a' (line 1)" },
	{ "{{#a}}\n\n{{^c}}\n{{/a}}", 4, "closing tag 'a' does not match section 'c' (line 3)" },
	{ "x\n\n{{/a}}", 3, "closing tag 'a' without an open section" },
	{ "a\nb {{x", 2, "unclosed tag: no '}}' after '{{'" },
	{ "{{{x}}", 1, "unclosed tag: no '}}}' after '{{'" },
	{ "{{=<% %>}}", 1, "unclosed tag" },
	{ "\n{{=<%>=}}", 2, "bad set-delimiter tag" },
	{ "{{= a b c =}}", 1, "bad set-delimiter tag: more than two" },
	{ "{{==}} x =}}", 1, "bad set-delimiter tag" },
	{ "{{=<123456789012345678901234567890123 >=}}", 1, "longer than 32 bytes" },
	{ "{{}}", 1, "tag has no name" },
	{ "{{ }}", 1, "tag has no name" },
	{ "{{#}}{{/}}", 1, "tag has no name" },
	{ "{{^ }}", 1, "tag has no name" },
	{ "{{&}}", 1, "tag has no name" },
	{ "{{{ }}}", 1, "tag has no name" },
	{ "\n\n{{>}}", 3, "tag has no name" },
	{ "{{#a}}{{/ }}", 1, "tag has no name" },
	{ "{{a b}}", 1, "invalid name 'a b'" },
	{ "{{> a b}}", 1, "invalid name 'a b'" },
	{ "{{a..b}}", 1, "invalid name 'a..b': empty part" },
	{ "{{a.}}", 1, "invalid name" },
	{ "{{..}}", 1, "invalid name" },
	{ "{{#.a.}}{{/.a.}}", 1, "invalid name" },
	{ "{{=<% %>=}}\n<%x", 2, "unclosed tag: no '%>' after '<%'" },
	{ "{{!\n\n}}\n{{/x}}", 4, "without an open section" },
	{ "a\r\nb\r\n{{#x}}", 3, "unclosed section 'x'" },
	{ "{{#a}}\n  {{/a}}\n{{/a}}", 3, "without an open section" },
};

static void test_compile_errors(void **state)
{
	for (size_t i = 0; i < sizeof(compile_errors) / sizeof(compile_errors[0]); i++) {
		const struct error_case *c = &compile_errors[i];
		struct tpl *t = (struct tpl *)(uintptr_t)1; /* must stay as it is */
		struct tpl_error err;
		int r;

		memset(&err, 0, sizeof(err));
		r = tpl_compile("site/x.cfg", c->tpl, strlen(c->tpl), &t, &err);
		if (r != -EINVAL)
			fail_msg("[%s] compiled (%d)", c->tpl, r);
		assert_ptr_equal(t, (struct tpl *)(uintptr_t)1);
		assert_string_equal(err.name, "site/x.cfg");
		if (err.line != c->line || !strstr(err.message, c->message))
			fail_msg("[%s]: expected line %u '%s', got line %u '%s'", c->tpl, c->line,
				 c->message, err.line, err.message);
	}
}

static void test_error_message_is_printable(void **state)
{
	static const char tpl[] = "{{#a\x01\x1b[31m}}";
	struct tpl_error err;
	struct tpl *t;

	assert_int_equal(tpl_compile("x", tpl, sizeof(tpl) - 1, &t, &err), -EINVAL);
	for (const char *p = err.message; *p; p++)
		assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
}

static void test_long_names_are_cut(void **state)
{
	char name[400], tpl[300];
	struct tpl_error err;
	struct tpl *t;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	memcpy(tpl, "{{#", 3);
	memset(tpl + 3, 's', 200);
	memcpy(tpl + 203, "}}", 3);
	assert_int_equal(tpl_compile(name, tpl, strlen(tpl), &t, &err), -EINVAL);
	assert_int_equal(strlen(err.name), sizeof(err.name) - 1);
	assert_true(strlen(err.message) < sizeof(err.message));
	assert_non_null(strstr(err.message, "..."));
}

/* A render error: the code, with ret and ret_len untouched. */
static struct tpl_error expect_render_error(const char *tpl, const char *data, const char *partials,
					    const struct tpl_options *opts, int code)
{
	struct json_partials jp = { 0 };
	char *out = (char *)"untouched";
	size_t len = 12345;
	struct tpl_error err;
	int r;

	memset(&err, 0, sizeof(err));
	r = render_full(tpl, strlen(tpl), data, partials, opts, &jp, &out, &len, &err);
	if (r != code)
		fail_msg("[%s]: expected %d, got %d (%s)", tpl, code, r, err.message);
	assert_string_equal(out, "untouched");
	assert_int_equal(len, 12345);
	return err;
}

static void test_partial_compile_error(void **state)
{
	struct tpl_error err;

	err = expect_render_error("line 1\n{{>bad}}", NULL, "{\"bad\":\"ok\\n{{#a}}\\n\"}", NULL,
				  -EINVAL);
	assert_string_equal(err.name, "bad");
	assert_int_equal(err.line, 2);
	assert_string_equal(err.message, "unclosed section 'a'");

	/* a partial that is never reached is never compiled */
	{
		struct json_partials jp = { 0 };
		struct tpl_error e2;
		char *out;
		size_t len;

		assert_int_equal(render_full(S("{{#no}}{{>bad}}{{/no}}ok"), NULL,
					     "{\"bad\":\"{{/x}}\"}", NULL, &jp, &out, &len, &e2),
				 0);
		assert_string_equal(out, "ok");
		assert_int_equal(jp.calls, 0);
		free(out);
	}
}

static void test_partial_load_error(void **state)
{
	struct json_partials jp = { .fail_with = -EACCES };
	struct tpl_error err;
	char *out = NULL;
	size_t len;

	assert_int_equal(render_full(S("a\n{{>p}}"), NULL, "{}", NULL, &jp, &out, &len, &err),
			 -EACCES);
	assert_null(out);
	assert_string_equal(err.name, "main");
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.message, "cannot load partial 'p'"));
}

static void test_depth_limit(void **state)
{
	struct tpl_options opts = { .max_depth = 3 };
	struct tpl_error err;
	char *out;
	size_t len;
	struct json_partials jp = { 0 };

	/* three levels fit, four do not */
	assert_int_equal(render_full(S("{{#a}}{{#a}}{{#a}}x{{/a}}{{/a}}{{/a}}"), "{\"a\":true}",
				     NULL, &opts, &jp, &out, &len, &err),
			 0);
	assert_string_equal(out, "x");
	free(out);
	err = expect_render_error("{{#a}}{{#a}}\n{{#a}}{{#a}}x{{/a}}{{/a}}{{/a}}{{/a}}",
				  "{\"a\":true}", NULL, &opts, -EINVAL);
	assert_string_equal(err.name, "main");
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.message, "deeper than 3"));

	/* sections nest only when rendered: a false one costs nothing */
	assert_int_equal(render_full(S("{{#a}}{{#a}}{{#a}}{{#no}}{{/no}}{{/a}}{{/a}}{{/a}}"),
				     "{\"a\":true}", NULL, &opts, &jp, &out, &len, &err),
			 0);
	free(out);

	/* endless recursion stops at the default depth, in the partial */
	err = expect_render_error("{{>r}}", NULL, "{\"r\":\"x\\n{{>r}}\"}", NULL, -EINVAL);
	assert_string_equal(err.name, "r");
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.message, "deeper than 64"));

	/* partials count as levels */
	err = expect_render_error("{{#a}}{{>p}}{{/a}}", "{\"a\":true}",
				  "{\"p\":\"{{>q}}\",\"q\":\"{{#a}}x{{/a}}\"}", &opts, -EINVAL);
	assert_string_equal(err.name, "q");
}

static void test_output_limit(void **state)
{
	static const char tpl[] = "{{#l}}0123456789{{/l}}";
	struct tpl_options opts = { .max_output = 50 };
	struct json_partials jp = { 0 };
	struct tpl_error err;
	char *out;
	size_t len;

	assert_int_equal(render_full(tpl, strlen(tpl), "{\"l\":[1,2,3,4,5]}", NULL, &opts, &jp,
				     &out, &len, &err),
			 0);
	assert_int_equal(len, 50);
	free(out);
	err = expect_render_error(tpl, "{\"l\":[1,2,3,4,5,6]}", NULL, &opts, -E2BIG);
	assert_string_equal(err.name, "main");
	assert_non_null(strstr(err.message, "output larger than 50 bytes"));

	/* values and escaping count, not just the template */
	opts.max_output = 8;
	opts.escape_html = true;
	expect_render_error("{{v}}", "{\"v\":\"<<<\"}", NULL, &opts, -E2BIG);
	expect_render_error("{{{v}}}", "{\"v\":\"123456789\"}", NULL, &opts, -E2BIG);
	expect_render_error("{{v}}", "{\"v\":[1,2,3,4,5]}", NULL, &opts, -E2BIG);
	/* and so does the indentation of a partial */
	expect_render_error("        {{>p}}", NULL, "{\"p\":\"x\"}", &opts, -E2BIG);
}

static void test_nul_bytes(void **state)
{
	static const char tpl[] = "a\0{{x}}\0{{#s}}{{.}}{{/s}}b";
	struct json_partials jp = { 0 };
	struct tpl_error err;
	char *out;
	size_t len;

	assert_int_equal(render_full(tpl, sizeof(tpl) - 1,
				     "{\"x\":\"<\\u0000>\",\"s\":\"\\u0000\"}", NULL, NULL, &jp,
				     &out, &len, &err),
			 0);
	assert_int_equal(len, 8);
	assert_memory_equal(out, "a\0<\0>\0\0b", 8);
	assert_int_equal(out[len], '\0');
	free(out);

	/* a name with a NUL in it names no key (jansson has none such) and no partial */
	{
		static const char t2[] = "[{{k\0y}}][{{>p\0q}}]";

		assert_int_equal(render_full(t2, sizeof(t2) - 1, "{\"k\":\"no\",\"y\":\"no\"}",
					     "{\"p\":\"no\"}", NULL, &jp, &out, &len, &err),
				 0);
		assert_string_equal(out, "[][]");
		assert_int_equal(jp.calls, 0);
		free(out);
	}
}

static void test_compile_once_render_many(void **state)
{
	static const char src[] = "{{#lines}}line{{n}}={{user}}@{{host}}\n{{/lines}}";
	struct tpl_error err;
	struct tpl *t;
	char *out;
	size_t len;
	json_t *a = parse_json("{\"host\":\"h\",\"lines\":[{\"n\":1,\"user\":\"u1\"}]}");
	json_t *b = parse_json("{\"host\":\"k\",\"lines\":[{\"n\":1,\"user\":\"x\"},{\"n\":2,"
			       "\"user\":\"y\"}]}");

	assert_int_equal(tpl_compile("t", src, strlen(src), &t, &err), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(tpl_render(t, a, NULL, NULL, &out, &len, &err), 0);
		assert_string_equal(out, "line1=u1@h\n");
		free(out);
		assert_int_equal(tpl_render(t, b, NULL, NULL, &out, &len, &err), 0);
		assert_string_equal(out, "line1=x@k\nline2=y@k\n");
		free(out);
	}
	/* a NULL context: everything misses */
	assert_int_equal(tpl_render(t, NULL, NULL, NULL, &out, &len, &err), 0);
	assert_string_equal(out, "");
	free(out);
	tpl_free(t);
	tpl_free(NULL);
	json_decref(a);
	json_decref(b);
}

static void test_source_is_copied(void **state)
{
	char src[] = "{{a}}!";
	json_t *ctx = parse_json("{\"a\":\"A\"}");
	struct tpl_error err;
	struct tpl *t;
	char *out;
	size_t len;

	assert_int_equal(tpl_compile("t", src, strlen(src), &t, &err), 0);
	memset(src, 'x', sizeof(src) - 1);
	assert_int_equal(tpl_render(t, ctx, NULL, NULL, &out, &len, &err), 0);
	assert_string_equal(out, "A!");
	free(out);
	tpl_free(t);
	json_decref(ctx);
}

static void test_each_partial_loaded_once(void **state)
{
	static const char tpl[] = "{{#l}}{{>p}}{{>missing}}{{>p}}{{/l}}{{>q}}";
	struct json_partials jp = { 0 };
	struct tpl_error err;
	char *out;
	size_t len;

	assert_int_equal(render_full(tpl, strlen(tpl), "{\"l\":[1,2,3,4,5,6,7,8,9,10]}",
				     "{\"p\":\"{{.}}{{>q}}\",\"q\":\";\"}", NULL, &jp, &out, &len,
				     &err),
			 0);
	assert_string_equal(out, "1;1;2;2;3;3;4;4;5;5;6;6;7;7;8;8;9;9;10;10;;");
	/* p, missing and q: once each */
	assert_int_equal(jp.calls, 3);
	free(out);
}

static void test_many_partials(void **state)
{
	/* more distinct names than the table starts with: it grows */
	char tpl[8000], parts[20000];
	size_t tl = 0, pl = 0;
	struct json_partials jp = { 0 };
	struct tpl_error err;
	char *out;
	size_t len;

	pl += (size_t)snprintf(parts + pl, sizeof(parts) - pl, "{");
	for (int i = 0; i < 300; i++) {
		tl += (size_t)snprintf(tpl + tl, sizeof(tpl) - tl, "{{>p%d}}", i);
		pl += (size_t)snprintf(parts + pl, sizeof(parts) - pl, "%s\"p%d\":\"%d,\"",
				       i ? "," : "", i, i % 10);
	}
	snprintf(parts + pl, sizeof(parts) - pl, "}");
	assert_int_equal(render_full(tpl, tl, NULL, parts, NULL, &jp, &out, &len, &err), 0);
	assert_int_equal(len, 600);
	assert_int_equal(jp.calls, 300);
	assert_memory_equal(out, "0,1,2,3,4,5,6,7,8,9,0,", 22);
	free(out);
}

static void test_long_template(void **state)
{
	/* 100000 tags and lines: compiles and renders in linear time */
	const size_t n = 100000;
	char *tpl = malloc(n * 20), *out;
	size_t tl = 0, len;
	struct json_partials jp = { 0 };
	struct tpl_error err;

	assert_non_null(tpl);
	for (size_t i = 0; i < n; i++) {
		memcpy(tpl + tl, "{{#b}}\n{{v}}\n", 13);
		tl += 13;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(tpl + tl, "{{/b}}\n", 7);
		tl += 7;
	}
	{
		struct tpl_options opts = { .max_depth = 1000 };

		/* too deep to render, but compiled fine */
		assert_int_equal(render_full(tpl, tl, "{\"b\":true,\"v\":\"x\"}", NULL, &opts, &jp,
					     &out, &len, &err),
				 -EINVAL);
		assert_non_null(strstr(err.message, "deeper than 1000"));
	}
	tl = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(tpl + tl, "{{#b}}{{v}}\n{{/b}}", 18);
		tl += 18;
	}
	assert_int_equal(
		render_full(tpl, tl, "{\"b\":true,\"v\":\"x\"}", NULL, NULL, &jp, &out, &len, &err),
		0);
	assert_int_equal(len, 2 * n);
	free(out);
	free(tpl);
}

static void test_max_depth_is_capped(void **state)
{
	/* a huge max_depth does not let the renderer recurse without end */
	struct tpl_options opts = { .max_depth = 4000000000u };
	struct tpl_error err;

	err = expect_render_error("{{>r}}", NULL, "{\"r\":\"{{>r}}\"}", &opts, -EINVAL);
	assert_non_null(strstr(err.message, "deeper than 1024"));
}

static void test_no_partials_argument(void **state)
{
	static const char src[] = "[{{>p}}]";
	struct tpl_error err;
	struct tpl *t;
	char *out;
	size_t len;

	assert_int_equal(tpl_compile("t", src, strlen(src), &t, &err), 0);
	assert_int_equal(tpl_render(t, NULL, NULL, NULL, &out, &len, NULL), 0);
	assert_string_equal(out, "[]");
	free(out);
	tpl_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interpolation),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_inverted),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_partials),
		cmocka_unit_test(test_delimiters),
		cmocka_unit_test(test_compile_errors),
		cmocka_unit_test(test_error_message_is_printable),
		cmocka_unit_test(test_long_names_are_cut),
		cmocka_unit_test(test_partial_compile_error),
		cmocka_unit_test(test_partial_load_error),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_output_limit),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_compile_once_render_many),
		cmocka_unit_test(test_source_is_copied),
		cmocka_unit_test(test_each_partial_loaded_once),
		cmocka_unit_test(test_many_partials),
		cmocka_unit_test(test_long_template),
		cmocka_unit_test(test_max_depth_is_capped),
		cmocka_unit_test(test_no_partials_argument),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
