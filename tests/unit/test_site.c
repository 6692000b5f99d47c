// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/site/: a temporary site directory with files/, resolved the way every
 * protocol resolves it. Checks the bytes a client would receive, the generated STEM.md5
 * answers, the refusals (traversal, symbolic links out of files/, size limits), and that
 * a file replaced on disk never changes under a transfer that holds it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "site/site.h"
#include "store/store.h"

#define HELLO_MD5 "b1946ac92492d2347c6235b4d2611184" /* md5sum of "hello\n" */
#define EMPTY_MD5 "d41d8cd98f00b204e9800998ecf8427e"

struct site_test {
	char dir[64];
	struct site_options opts;
	struct site *site;
};

static void write_at(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* Writes files/NAME (a NUL-terminated text). */
static void put(struct site_test *t, const char *name, const char *text)
{
	char files[PATH_MAX];

	snprintf(files, sizeof(files), "%s/files", t->dir);
	write_at(files, name, text, strlen(text));
}

static void put_dir(struct site_test *t, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/files/%s", t->dir, name);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void put_symlink(struct site_test *t, const char *name, const char *target)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/files/%s", t->dir, name);
	assert_int_equal(symlink(target, path), 0);
}

static int open_site(struct site_test *t)
{
	char err[256] = "";
	int r;

	site_free(t->site);
	t->site = NULL;
	r = site_open(t->dir, &t->opts, &t->site, err, sizeof(err));
	if (r < 0)
		print_error("site_open: %s\n", err);
	return r;
}

static int setup(void **state)
{
	struct site_test *t = calloc(1, sizeof(*t));
	char files[PATH_MAX];

	if (!t)
		return -1;
	memcpy(t->dir, "/tmp/autoprov-site-XXXXXX", sizeof("/tmp/autoprov-site-XXXXXX"));
	if (!mkdtemp(t->dir))
		goto fail;
	snprintf(files, sizeof(files), "%s/files", t->dir);
	if (mkdir(files, 0755) < 0)
		goto fail;
	site_options_default(&t->opts);
	if (open_site(t) < 0)
		goto fail;
	*state = t;
	return 0;
fail:
	free(t);
	return -1;
}

static int teardown(void **state)
{
	struct site_test *t = *state;

	site_free(t->site);
	tmpdir_remove(t->dir);
	free(t);
	return 0;
}

static int resolve(struct site_test *t, const char *name, struct site_file **ret)
{
	return site_resolve(t->site, name, strlen(name), &(struct site_request){ .proto = "tftp" },
			    ret);
}

/* Resolves name, which must succeed and hold exactly the bytes expect[len]. */
static struct site_file *resolve_ok(struct site_test *t, const char *name, const void *expect,
				    size_t len)
{
	struct site_file *f = NULL;
	int r = resolve(t, name, &f);

	if (r != 0)
		fail_msg("resolving '%s': %s", name, strerror(-r));
	assert_non_null(f);
	assert_int_equal(f->size, len);
	assert_memory_equal(f->data, expect, len);
	return f;
}

static void assert_resolves_to(struct site_test *t, const char *name, const char *text)
{
	site_file_unref(resolve_ok(t, name, text, strlen(text)));
}

static void assert_refused(struct site_test *t, const char *name, int err)
{
	struct site_file *f = NULL;

	assert_int_equal(resolve(t, name, &f), err);
	assert_null(f);
}

/* The MAC req->mac gets for name ("" for a generic file); name must resolve. */
static void assert_owner(struct site_test *t, const char *name, const char *mac)
{
	struct site_request req = { .proto = "tftp" };
	struct site_file *f = NULL;

	assert_int_equal(site_resolve(t->site, name, strlen(name), &req, &f), 0);
	site_file_unref(f);
	assert_string_equal(req.mac, mac);
}

/*
 * A static file named with the MAC of a device of the inventory is that device's, as a
 * rendered one would be (routes.md, "Whose file it is"); other names are generic.
 */
static void test_static_file_owner(void **state)
{
	struct site_test *t = *state;
	struct device *d = device_new("0022ee010203");
	char err[200];

	assert_non_null(d);
	d->enabled = false; /* still its files */
	assert_int_equal(store_device_put(site_store(t->site), d, false, err, sizeof(err)), 0);
	device_free(d);
	put(t, "algom0022ee010203.conf", "a");
	put(t, "SEP0022EE010203.cnf.xml", "b");
	put(t, "abc0022ee010203.cfg", "c");
	put_dir(t, "0022ee010203");
	put(t, "0022ee010203/phone.cfg", "d");
	put(t, "algom0022ee0a0b0c.conf", "e");
	put(t, "algop8188.conf", "f");
	put(t, "fw-0022ee01020.bin", "g");
	assert_owner(t, "algom0022ee010203.conf", "0022ee010203");
	assert_owner(t, "SEP0022EE010203.cnf.xml", "0022ee010203");
	assert_owner(t, "abc0022ee010203.cfg", "0022ee010203"); /* inside a longer hex run */
	assert_owner(t, "0022ee010203/phone.cfg", "0022ee010203");
	assert_owner(t, "algom0022ee010203.md5", "0022ee010203"); /* its .md5 too */
	assert_owner(t, "algom0022ee0a0b0c.conf", "");		  /* a MAC nobody has */
	assert_owner(t, "algop8188.conf", "");
	assert_owner(t, "fw-0022ee01020.bin", ""); /* 11 digits */
}

/* ---- resolving ---- */

static void test_resolve_file(void **state)
{
	struct site_test *t = *state;
	static const uint8_t bin[] = { 0, 1, 2, 0xff, '\n', '\r', 0 };
	char files[PATH_MAX];

	put(t, "a.cfg", "line 1\nline 2\n");
	put_dir(t, "dir");
	put(t, "dir/b.xml", "<b/>");
	snprintf(files, sizeof(files), "%s/files", t->dir);
	write_at(files, "fw.bin", bin, sizeof(bin));
	assert_resolves_to(t, "a.cfg", "line 1\nline 2\n");
	assert_resolves_to(t, "/a.cfg", "line 1\nline 2\n");
	assert_resolves_to(t, "dir/b.xml", "<b/>");
	assert_resolves_to(t, "dir\\b.xml", "<b/>");
	site_file_unref(resolve_ok(t, "fw.bin", bin, sizeof(bin)));
}

static void test_resolve_with_prefix(void **state)
{
	struct site_test *t = *state;
	struct site_file *f = NULL;

	put(t, "a.cfg", "A");
	assert_int_equal(
		site_resolve(t->site, "tftpboot/a.cfg", 14,
			     &(struct site_request){ .proto = "tftp", .prefix = "tftpboot" }, &f),
		0);
	assert_memory_equal(f->data, "A", 1);
	site_file_unref(f);
	f = NULL;
	assert_int_equal(
		site_resolve(t->site, "a.cfg", 5,
			     &(struct site_request){ .proto = "tftp", .prefix = "tftpboot" }, &f),
		0);
	site_file_unref(f);
	f = NULL;
	assert_int_equal(
		site_resolve(t->site, "tftpbootx/a.cfg", 15,
			     &(struct site_request){ .proto = "tftp", .prefix = "tftpboot" }, &f),
		-ENOENT);
	assert_null(f);
}

static void test_counted_name(void **state)
{
	struct site_test *t = *state;
	struct site_file *f = NULL;

	put(t, "a.cfg", "A");
	/* only len bytes of the name count */
	assert_int_equal(
		site_resolve(t->site, "a.cfgXYZ", 5, &(struct site_request){ .proto = "tftp" }, &f),
		0);
	site_file_unref(f);
	assert_int_equal(site_resolve(t->site, "a.cfg\0.txt", 10,
				      &(struct site_request){ .proto = "tftp" }, &f),
			 -EACCES);
}

static void test_missing(void **state)
{
	struct site_test *t = *state;

	put_dir(t, "dir");
	assert_refused(t, "nothing.cfg", -ENOENT);
	assert_refused(t, "dir/nothing.cfg", -ENOENT);
	assert_refused(t, "nodir/nothing.cfg", -ENOENT);
	assert_refused(t, "/", -ENOENT);
}

static void test_directory_is_not_found(void **state)
{
	struct site_test *t = *state;

	put_dir(t, "dir");
	put_dir(t, "dir.cfg");
	assert_refused(t, "dir", -ENOENT);
	assert_refused(t, "dir/", -ENOENT);
	assert_refused(t, "dir.cfg", -ENOENT);
	/* a file name used as a directory */
	put(t, "a.cfg", "A");
	assert_refused(t, "a.cfg/x", -ENOENT);
}

static void test_traversal_refused(void **state)
{
	struct site_test *t = *state;

	/* DIR/secret exists, one level above files/ */
	write_at(t->dir, "secret", "s3cret", 6);
	assert_refused(t, "../secret", -EACCES);
	assert_refused(t, "..\\secret", -EACCES);
	assert_refused(t, "a/../../secret", -EACCES);
	assert_refused(t, "../files/../secret", -EACCES);
}

static void test_symlink_out_refused(void **state)
{
	struct site_test *t = *state;
	char target[PATH_MAX];

	write_at(t->dir, "secret", "s3cret", 6);
	snprintf(target, sizeof(target), "%s/secret", t->dir);
	put_symlink(t, "abs.cfg", target);
	put_symlink(t, "rel.cfg", "../secret");
	put_symlink(t, "etc", "/etc");
	put_symlink(t, "up", "..");
	put_symlink(t, "hostname", "/etc/hostname");
	assert_refused(t, "abs.cfg", -EACCES);
	assert_refused(t, "rel.cfg", -EACCES);
	assert_refused(t, "etc/passwd", -EACCES);
	assert_refused(t, "up/secret", -EACCES);
	if (access("/etc/hostname", R_OK) == 0)
		assert_refused(t, "hostname", -EACCES);
	/* nor through the generated .md5: the sibling is not reachable either */
	assert_refused(t, "abs.md5", -ENOENT);
}

static void test_symlink_inside_allowed(void **state)
{
	struct site_test *t = *state;

	put_dir(t, "v2");
	put(t, "v2/fw.cfg", "firmware 2");
	put_symlink(t, "current", "v2");
	put_symlink(t, "latest.cfg", "v2/fw.cfg");
	assert_resolves_to(t, "current/fw.cfg", "firmware 2");
	assert_resolves_to(t, "latest.cfg", "firmware 2");
}

static void test_fifo_refused(void **state)
{
	struct site_test *t = *state;
	char path[PATH_MAX];

	/* a FIFO would block a reader forever: refused without opening it for reading */
	snprintf(path, sizeof(path), "%s/files/pipe.cfg", t->dir);
	assert_int_equal(mkfifo(path, 0644), 0);
	assert_refused(t, "pipe.cfg", -EACCES);
}

static void test_name_too_long(void **state)
{
	struct site_test *t = *state;
	char name[300];

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_refused(t, name, -EACCES);
	/* exactly max_name_length is fine (not found, not refused) */
	name[255] = '\0';
	assert_refused(t, name, -ENOENT);
	t->opts.max_name_length = 10;
	assert_int_equal(open_site(t), 0);
	put(t, "0123456789", "ten");
	assert_resolves_to(t, "0123456789", "ten");
	put(t, "0123456789a", "eleven");
	assert_refused(t, "0123456789a", -EACCES);
	/* what the peer sent counts, slashes included */
	assert_refused(t, "/0123456789", -EACCES);
}

static void test_control_characters_refused(void **state)
{
	struct site_test *t = *state;

	put(t, "a\nb", "x");
	assert_refused(t, "a\nb", -EACCES);
}

/* ---- generated .md5 ---- */

static void test_md5_generated(void **state)
{
	struct site_test *t = *state;

	put(t, "hello.cfg", "hello\n");
	assert_resolves_to(t, "hello.md5", HELLO_MD5 "  hello.cfg\n");
	put_dir(t, "sub");
	put(t, "sub/hello.xml", "hello\n");
	/* the basename only, as md5sum run inside the directory prints it */
	assert_resolves_to(t, "sub/hello.md5", HELLO_MD5 "  hello.xml\n");
	assert_resolves_to(t, "/sub\\hello.md5", HELLO_MD5 "  hello.xml\n");
}

static void test_md5_of_empty_file(void **state)
{
	struct site_test *t = *state;
	struct site_file *f;

	put(t, "empty.cfg", "");
	f = resolve_ok(t, "empty.cfg", "", 0);
	assert_string_equal(site_file_md5(f), EMPTY_MD5);
	site_file_unref(f);
	assert_resolves_to(t, "empty.md5", EMPTY_MD5 "  empty.cfg\n");
}

static void test_md5_file_api(void **state)
{
	struct site_test *t = *state;
	struct site_file *f;
	const char *m;

	put(t, "hello.txt", "hello\n");
	f = resolve_ok(t, "hello.txt", "hello\n", 6);
	m = site_file_md5(f);
	assert_string_equal(m, HELLO_MD5);
	/* computed once */
	assert_ptr_equal(site_file_md5(f), m);
	site_file_unref(f);
}

static void test_md5_real_file_wins(void **state)
{
	struct site_test *t = *state;

	put(t, "fw.bin", "hello\n");
	put(t, "fw.md5", "vendor checksum\n");
	assert_resolves_to(t, "fw.md5", "vendor checksum\n");
}

static void test_md5_extension_order(void **state)
{
	struct site_test *t = *state;

	put(t, "fw.bin", "binary\n");
	put(t, "fw.cfg", "hello\n");
	/* the default list has cfg before bin */
	assert_resolves_to(t, "fw.md5", HELLO_MD5 "  fw.cfg\n");
	memcpy(t->opts.md5_extensions, "bin cfg", sizeof("bin cfg"));
	site_reload(t->site, &t->opts);
	assert_resolves_to(t, "fw.md5", "1e59dd43bb6eb0ff21785aa255074fcb  fw.bin\n");
}

static void test_md5_extension_list_forms(void **state)
{
	struct site_test *t = *state;

	put(t, "a.rom", "hello\n");
	memcpy(t->opts.md5_extensions, "  cfg,\txml  rom ", sizeof("  cfg,\txml  rom "));
	assert_int_equal(open_site(t), 0);
	assert_resolves_to(t, "a.md5", HELLO_MD5 "  a.rom\n");
}

static void test_md5_without_sibling(void **state)
{
	struct site_test *t = *state;

	put(t, "notes.unknown", "hello\n");
	put_dir(t, "d.cfg");
	/* an extension outside the list, a directory, nothing at all */
	assert_refused(t, "notes.md5", -ENOENT);
	assert_refused(t, "d.md5", -ENOENT);
	assert_refused(t, "none.md5", -ENOENT);
	assert_refused(t, ".md5", -ENOENT);
	assert_refused(t, "../x.md5", -EACCES);
}

static void test_md5_of_changed_file(void **state)
{
	struct site_test *t = *state;

	put(t, "a.cfg", "hello\n");
	assert_resolves_to(t, "a.md5", HELLO_MD5 "  a.cfg\n");
	put(t, "a.cfg", "");
	assert_resolves_to(t, "a.md5", EMPTY_MD5 "  a.cfg\n");
}

/* ---- snapshots and sharing ---- */

static void test_snapshot_replaced_by_rename(void **state)
{
	struct site_test *t = *state;
	struct site_file *old, *cur;
	char from[PATH_MAX], to[PATH_MAX];

	put(t, "a.cfg", "version 1\n");
	old = resolve_ok(t, "a.cfg", "version 1\n", 10);
	put(t, "a.cfg.tmp", "version two\n");
	snprintf(from, sizeof(from), "%s/files/a.cfg.tmp", t->dir);
	snprintf(to, sizeof(to), "%s/files/a.cfg", t->dir);
	assert_int_equal(rename(from, to), 0);
	cur = resolve_ok(t, "a.cfg", "version two\n", 12);
	assert_ptr_not_equal(cur, old);
	/* the transfer that started before still sends version 1, whole */
	assert_int_equal(old->size, 10);
	assert_memory_equal(old->data, "version 1\n", 10);
	site_file_unref(old);
	site_file_unref(cur);
	assert_resolves_to(t, "a.cfg", "version two\n");
}

static void test_snapshot_rewritten_in_place(void **state)
{
	struct site_test *t = *state;
	struct site_file *old, *cur;

	put(t, "a.cfg", "version 1\n");
	old = resolve_ok(t, "a.cfg", "version 1\n", 10);
	/* same inode, truncated and written again */
	put(t, "a.cfg", "version 2, longer\n");
	cur = resolve_ok(t, "a.cfg", "version 2, longer\n", 18);
	assert_memory_equal(old->data, "version 1\n", 10);
	assert_int_equal(old->size, 10);
	put(t, "a.cfg", "v3\n");
	site_file_unref(resolve_ok(t, "a.cfg", "v3\n", 3));
	assert_memory_equal(cur->data, "version 2, longer\n", 18);
	site_file_unref(cur);
	site_file_unref(old);
}

static void test_snapshot_deleted(void **state)
{
	struct site_test *t = *state;
	struct site_file *old;
	char path[PATH_MAX];

	put(t, "a.cfg", "still here\n");
	old = resolve_ok(t, "a.cfg", "still here\n", 11);
	snprintf(path, sizeof(path), "%s/files/a.cfg", t->dir);
	assert_int_equal(unlink(path), 0);
	assert_refused(t, "a.cfg", -ENOENT);
	assert_memory_equal(old->data, "still here\n", 11);
	site_file_unref(old);
}

static void test_shared(void **state)
{
	struct site_test *t = *state;
	struct site_file *a, *b;

	put(t, "a.cfg", "shared\n");
	a = resolve_ok(t, "a.cfg", "shared\n", 7);
	b = resolve_ok(t, "a.cfg", "shared\n", 7);
	/* read from disk once, one copy in memory for every client */
	assert_ptr_equal(a, b);
	assert_ptr_equal(a->data, b->data);
	site_file_unref(a);
	/* still held by b; a third resolve joins it */
	a = resolve_ok(t, "/a.cfg", "shared\n", 7);
	assert_ptr_equal(a, b);
	site_file_unref(a);
	site_file_unref(b);
}

static void test_cache_kept_after_release(void **state)
{
	struct site_test *t = *state;
	struct site_file *a, *b;

	put(t, "a.cfg", "cached\n");
	a = resolve_ok(t, "a.cfg", "cached\n", 7);
	site_file_unref(a);
	b = resolve_ok(t, "a.cfg", "cached\n", 7);
	/* nobody held it, but it stayed in the cache (cache_size is 64M) */
	assert_ptr_equal(a, b);
	site_file_unref(b);
}

static void test_cache_size_zero(void **state)
{
	struct site_test *t = *state;
	struct site_file *a, *b;

	t->opts.cache_size = 0;
	assert_int_equal(open_site(t), 0);
	put(t, "a.cfg", "uncached\n");
	a = resolve_ok(t, "a.cfg", "uncached\n", 9);
	b = resolve_ok(t, "a.cfg", "uncached\n", 9);
	/* files in use are always kept and shared */
	assert_ptr_equal(a, b);
	site_file_unref(a);
	site_file_unref(b);
	site_file_unref(resolve_ok(t, "a.cfg", "uncached\n", 9));
}

static void test_reload_forgets_cached_files(void **state)
{
	struct site_test *t = *state;
	struct site_file *held;

	put(t, "a.cfg", "12345678");
	put(t, "b.cfg", "1234");
	held = resolve_ok(t, "a.cfg", "12345678", 8);
	site_file_unref(resolve_ok(t, "b.cfg", "1234", 4));
	t->opts.max_file_size = 4;
	site_reload(t->site, &t->opts);
	/* the cached copies are gone: the new limit applies to the next request */
	assert_refused(t, "a.cfg", -EFBIG);
	assert_resolves_to(t, "b.cfg", "1234");
	/* a transfer in flight keeps its file */
	assert_memory_equal(held->data, "12345678", 8);
	site_file_unref(held);
}

static void test_reload_then_resolve_again(void **state)
{
	struct site_test *t = *state;
	struct site_file *a, *b;

	put(t, "a.cfg", "A\n");
	a = resolve_ok(t, "a.cfg", "A\n", 2);
	site_reload(t->site, &t->opts);
	b = resolve_ok(t, "a.cfg", "A\n", 2);
	/* read again from disk: not the snapshot held from before the reload */
	assert_ptr_not_equal(a, b);
	site_file_unref(a);
	site_file_unref(b);
}

/* ---- netascii ---- */

static void test_netascii(void **state)
{
	static const uint8_t expect[] = "a\r\nb\r\0\r\nc\r\0";
	struct site_test *t = *state;
	struct site_file *f;
	const uint8_t *n;
	size_t size = 0;

	put(t, "n.txt", "a\nb\r\nc\r");
	f = resolve_ok(t, "n.txt", "a\nb\r\nc\r", 7);
	n = site_file_netascii(f, &size);
	assert_non_null(n);
	assert_int_equal(size, sizeof(expect) - 1);
	assert_memory_equal(n, expect, sizeof(expect) - 1);
	/* converted once; the bytes as stored are unchanged */
	assert_ptr_equal(site_file_netascii(f, &size), n);
	assert_int_equal(size, sizeof(expect) - 1);
	assert_memory_equal(f->data, "a\nb\r\nc\r", 7);
	site_file_unref(f);
}

static void test_netascii_plain_and_empty(void **state)
{
	struct site_test *t = *state;
	struct site_file *f;
	const uint8_t *n;
	size_t size = 99;

	put(t, "plain.txt", "no line end");
	f = resolve_ok(t, "plain.txt", "no line end", 11);
	n = site_file_netascii(f, &size);
	assert_int_equal(size, 11);
	assert_memory_equal(n, "no line end", 11);
	site_file_unref(f);

	put(t, "empty.txt", "");
	f = resolve_ok(t, "empty.txt", "", 0);
	size = 99;
	assert_non_null(site_file_netascii(f, &size));
	assert_int_equal(size, 0);
	site_file_unref(f);

	put(t, "lf.txt", "\n\n");
	f = resolve_ok(t, "lf.txt", "\n\n", 2);
	n = site_file_netascii(f, &size);
	assert_int_equal(size, 4);
	assert_memory_equal(n, "\r\n\r\n", 4);
	site_file_unref(f);
}

/* ---- limits ---- */

static void test_max_file_size(void **state)
{
	struct site_test *t = *state;

	t->opts.max_file_size = 4;
	assert_int_equal(open_site(t), 0);
	put(t, "four.cfg", "1234");
	put(t, "five.cfg", "12345");
	assert_resolves_to(t, "four.cfg", "1234");
	assert_refused(t, "five.cfg", -EFBIG);
	/* a file that grows past the limit is refused on its next request */
	put(t, "four.cfg", "12345");
	assert_refused(t, "four.cfg", -EFBIG);
}

static void test_site_without_files_dir(void **state)
{
	struct site_test *t = *state;
	char dir[PATH_MAX], err[256] = "";
	struct site *s = NULL;

	snprintf(dir, sizeof(dir), "%s/files/empty-site", t->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(site_open(dir, &t->opts, &s, err, sizeof(err)), -ENOENT);
	assert_null(s);
	assert_non_null(strstr(err, "files"));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_resolve_file),
		T(test_static_file_owner),
		T(test_resolve_with_prefix),
		T(test_counted_name),
		T(test_missing),
		T(test_directory_is_not_found),
		T(test_traversal_refused),
		T(test_symlink_out_refused),
		T(test_symlink_inside_allowed),
		T(test_fifo_refused),
		T(test_name_too_long),
		T(test_control_characters_refused),
		T(test_md5_generated),
		T(test_md5_of_empty_file),
		T(test_md5_file_api),
		T(test_md5_real_file_wins),
		T(test_md5_extension_order),
		T(test_md5_extension_list_forms),
		T(test_md5_without_sibling),
		T(test_md5_of_changed_file),
		T(test_snapshot_replaced_by_rename),
		T(test_snapshot_rewritten_in_place),
		T(test_snapshot_deleted),
		T(test_shared),
		T(test_cache_kept_after_release),
		T(test_cache_size_zero),
		T(test_reload_forgets_cached_files),
		T(test_reload_then_resolve_again),
		T(test_netascii),
		T(test_netascii_plain_and_empty),
		T(test_max_file_size),
		T(test_site_without_files_dir),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
