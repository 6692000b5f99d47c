// SPDX-License-Identifier: MIT
/*
 * Parsers of the configuration files endpoints download: `key = value` files (Algo
 * `algop*.conf` / `algom*.conf` and their `-i` increments, FIP `.cfg`, AudioCodes `.cfg`),
 * Flying Voice `DBID_NAME=value` parameter files (seed 001), Panasonic `KEY="value"` files
 * (seed 003 as the example site writes them), and FIP boot files with their
 * `include:config` lines (seed 002). Pure code: text in memory in, entries out.
 */
#ifndef AUTOPROV_AGENT_CFGFILE_H
#define AUTOPROV_AGENT_CFGFILE_H

#include <stdbool.h>
#include <stddef.h>

/** Longest line (without its end of line) the parsers accept. */
#define CFG_LINE_MAX 8192
/** Most entries one file may hold (a full Algo backup has a few thousand). */
#define CFG_ENTRIES_MAX 65536
/** Most include:config lines in one boot file. */
#define FIP_INCLUDES_MAX 256

struct cfg_entry {
	char *key;
	char *value;
};

/** Settings in file order, duplicates kept; every string malloc'd and owned here. */
struct cfg {
	struct cfg_entry *entries;
	size_t n;
};

enum cfg_format {
	/**
	 * `key = value` or `key=value` (Algo, FIP .cfg, AudioCodes): blanks around key and
	 * value dropped; a line whose first non-blank character is `#` or `;` is a comment
	 * (FIP's `#!version:1.0.0.1` header too); `#` later in a line is part of the value;
	 * the value may be empty; a key holds no blank.
	 */
	CFG_KEYVALUE,
	/**
	 * Flying Voice IP542N / G502N parameter files (seed 001): `DBID_NAME=value`, the value
	 * kept byte for byte after the `=` (tabs separate per-line values: `1<TAB>0<TAB>0<TAB>0`,
	 * and a trailing tab is an empty last field); blanks around the key dropped; `#`
	 * comment lines. Not an XML flat profile: the seed and the example site have none.
	 */
	CFG_DBID,
	/**
	 * Panasonic `KEY="value"` (the value between the first and the last `"` of the line,
	 * nothing but blanks after it; an unquoted value is taken trimmed); `#` comment lines,
	 * including the `# PCC Standard Format File # DO NOT CHANGE THIS LINE!` header.
	 */
	CFG_PANASONIC,
};

/**
 * Parses @p len bytes of @p text (need not be NUL-terminated) into *ret (then cfg_done()
 * it). All formats: an optional UTF-8 byte order mark, LF or CRLF line ends, a last line
 * without an end of line, blank lines; a NUL byte or a control character other than tab
 * is refused.
 *
 * Returns 0; -EINVAL (a line that is not a setting), -E2BIG (a line longer than
 * CFG_LINE_MAX or more than CFG_ENTRIES_MAX entries) with *ret_line (the 1-based line) and
 * *ret_why (both optional, set on these failures only); or -ENOMEM. *ret set only on
 * success.
 */
int cfg_parse(enum cfg_format fmt, const char *text, size_t len, struct cfg *ret, size_t *ret_line,
	      const char **ret_why);

/** The value of the last entry named @p key (exact, case-sensitive), or NULL. */
const char *cfg_get(const struct cfg *c, const char *key);

/**
 * Makes @p into the effective settings of @p into followed by @p from (a later file
 * overrides an earlier one): one entry per key, keys in the order they first appeared,
 * each with its last value. Returns 0, or -ENOMEM with @p into unchanged.
 */
int cfg_merge(struct cfg *into, const struct cfg *from);

/** Frees what @p c holds and clears it; accepts a cleared struct. */
void cfg_done(struct cfg *c);

/** A FIP boot file (seed 002, and the example site's `#!version` and `overwrite_mode`). */
struct fip_boot {
	char *version;	     /**< from a first line `#!version:1.0.0.1`, or NULL */
	char **includes;     /**< the include:config URLs in file order, as written (relative
				  or absolute: resolve them against the boot file's URL) */
	size_t n;	     /**< number of includes */
	bool overwrite;	     /**< `overwrite_mode = 1` (false when absent) */
	bool has_overwrite;  /**< an overwrite_mode line is present */
	struct cfg settings; /**< every `key = value` line of the file, overwrite_mode too */
};

/**
 * Parses a boot file: `#` comment lines (the first may be `#!version:X`), blank lines,
 * `include:config <URL>` or `include:config "URL"` (several on one line are read in
 * order), and `key = value` lines (`overwrite_mode = 0|1`). Same line rules, limits and
 * returns as cfg_parse(); *ret set only on success (then fip_boot_done() it).
 */
int fip_boot_parse(const char *text, size_t len, struct fip_boot *ret, size_t *ret_line,
		   const char **ret_why);

/** Frees what @p b holds and clears it; accepts a cleared struct. */
void fip_boot_done(struct fip_boot *b);

#endif
