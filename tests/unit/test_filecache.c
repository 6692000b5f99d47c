// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/site/filecache.c's names known absent: a name found missing is
 * answered without a syscall (a lookup through a closed descriptor still says "not
 * found"), and a file placed since, in files/, in a subdirectory, or in a subdirectory
 * created since, is found from the next loop iteration; a directory whose times are not
 * safely in the past is not trusted; the table stays bounded.
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "site/filecache.h"

struct fc_test {
	char dir[64];
	int dirfd;
	struct filecache *cache;
	unsigned kicks;
};

static void count_kick(void *arg)
{
	struct fc_test *t = arg;

	t->kicks++;
}

static int setup(void **state)
{
	struct fc_test *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/ap-fc-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	t->dirfd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(t->dirfd >= 0);
	assert_int_equal(filecache_new(1 << 20, 1 << 20, &t->cache), 0);
	filecache_set_tick(t->cache, count_kick, t);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct fc_test *t = *state;

	filecache_free(t->cache);
	close(t->dirfd);
	tmpdir_remove(t->dir);
	free(t);
	return 0;
}

static void put(struct fc_test *t, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void put_dir(struct fc_test *t, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	assert_int_equal(mkdir(path, 0755), 0);
}

static int get(struct fc_test *t, int dirfd, const char *name)
{
	struct site_file *f = NULL;
	int r = filecache_get(t->cache, dirfd, name, &f);

	if (r == 0)
		site_file_unref(f);
	return r;
}

/*
 * Looks name up, one iteration after another, until the cache remembers it missing: a
 * directory changed less than a scheduler tick ago is not trusted until its times are
 * safely in the past. Polls (10 ms apart, 10 s at most).
 */
static void learn_absent(struct fc_test *t, const char *name)
{
	const struct timespec pause = { 0, 10 * 1000000L };

	for (int i = 0; i < 1000; i++) {
		size_t before = filecache_nabsent(t->cache);

		assert_int_equal(get(t, t->dirfd, name), -ENOENT);
		if (filecache_nabsent(t->cache) > before)
			return;
		filecache_tick(t->cache);
		nanosleep(&pause, NULL);
	}
	fail_msg("%s was never remembered missing", name);
}

/* A descriptor that is closed: any syscall through it fails with EBADF. */
static int closed_fd(struct fc_test *t)
{
	int fd = dup(t->dirfd);

	assert_true(fd >= 0);
	close(fd);
	return fd;
}

static void test_absent_costs_no_syscall(void **state)
{
	struct fc_test *t = *state;
	int bad;

	learn_absent(t, "a.cfg");
	assert_true(t->kicks > 0); /* it asked for the iteration to end */
	bad = closed_fd(t);
	/* a name never seen needs the disk, which fails through a closed descriptor */
	assert_int_equal(get(t, bad, "b.cfg"), -EBADF);
	assert_int_equal(get(t, bad, "a.cfg"), -ENOENT);
	/* the next iteration reads files/ once, then answers from memory again */
	filecache_tick(t->cache);
	assert_int_equal(get(t, t->dirfd, "a.cfg"), -ENOENT);
	assert_int_equal(get(t, bad, "a.cfg"), -ENOENT);
	assert_int_equal(filecache_nabsent(t->cache), 1);
}

static void test_placed_file_seen_next_iteration(void **state)
{
	struct fc_test *t = *state;

	learn_absent(t, "a.cfg");
	put(t, "a.cfg", "hello\n");
	/* concurrent with this iteration's requests: the next one sees it */
	assert_int_equal(get(t, t->dirfd, "a.cfg"), -ENOENT);
	filecache_tick(t->cache);
	assert_int_equal(get(t, t->dirfd, "a.cfg"), 0);
	assert_int_equal(filecache_nabsent(t->cache), 0);
}

static void test_placed_in_subdirectory(void **state)
{
	struct fc_test *t = *state;

	put_dir(t, "sub");
	learn_absent(t, "sub/x.cfg");
	put(t, "sub/x.cfg", "x\n");
	filecache_tick(t->cache);
	assert_int_equal(get(t, t->dirfd, "sub/x.cfg"), 0);
}

static void test_subdirectory_created(void **state)
{
	struct fc_test *t = *state;

	put_dir(t, "sub");
	learn_absent(t, "new/x.cfg");
	learn_absent(t, "sub/deeper/y.cfg");
	put_dir(t, "new");
	put(t, "new/x.cfg", "x\n");
	put_dir(t, "sub/deeper");
	put(t, "sub/deeper/y.cfg", "y\n");
	filecache_tick(t->cache);
	assert_int_equal(get(t, t->dirfd, "new/x.cfg"), 0);
	assert_int_equal(get(t, t->dirfd, "sub/deeper/y.cfg"), 0);
}

static void test_racy_directory_not_trusted(void **state)
{
	struct fc_test *t = *state;
	struct timespec times[2];

	/* modified "in an hour": its times cannot tell the next change from this one */
	clock_gettime(CLOCK_REALTIME, &times[0]);
	times[0].tv_sec += 3600;
	times[1] = times[0];
	assert_int_equal(utimensat(AT_FDCWD, t->dir, times, 0), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(get(t, t->dirfd, "a.cfg"), -ENOENT);
		filecache_tick(t->cache);
	}
	assert_int_equal(filecache_nabsent(t->cache), 0);
	assert_int_equal(get(t, closed_fd(t), "a.cfg"), -EBADF);
}

static void test_dangling_link_not_remembered(void **state)
{
	struct fc_test *t = *state;
	char path[PATH_MAX];

	put_dir(t, "sub");
	snprintf(path, sizeof(path), "%s/l.cfg", t->dir);
	assert_int_equal(symlink("sub/target.cfg", path), 0);
	learn_absent(t, "other.cfg"); /* files/ is trusted by now */
	assert_int_equal(get(t, t->dirfd, "l.cfg"), -ENOENT);
	assert_int_equal(filecache_nabsent(t->cache), 1);
	/* its target appears in sub/, which no entry of files/ depends on */
	put(t, "sub/target.cfg", "t\n");
	filecache_tick(t->cache);
	assert_int_equal(get(t, t->dirfd, "l.cfg"), 0);
}

static void test_bounded(void **state)
{
	struct fc_test *t = *state;
	char name[32];

	learn_absent(t, "first.cfg");
	for (int i = 0; i < FILECACHE_ABSENT_MAX + 100; i++) {
		snprintf(name, sizeof(name), "scan-%d", i);
		assert_int_equal(get(t, t->dirfd, name), -ENOENT);
	}
	assert_int_equal(filecache_nabsent(t->cache), FILECACHE_ABSENT_MAX);
	/* the least recently used went first */
	assert_int_equal(get(t, closed_fd(t), "first.cfg"), -EBADF);
	assert_int_equal(get(t, closed_fd(t), "scan-200"), -ENOENT);
}

static void test_flush_forgets(void **state)
{
	struct fc_test *t = *state;

	learn_absent(t, "a.cfg");
	filecache_flush(t->cache);
	assert_int_equal(filecache_nabsent(t->cache), 0);
	assert_int_equal(get(t, closed_fd(t), "a.cfg"), -EBADF);
}

static void test_without_tick_nothing_remembered(void **state)
{
	struct fc_test *t = *state;

	learn_absent(t, "b.cfg"); /* files/ is trusted by now */
	filecache_set_tick(t->cache, NULL, NULL);
	assert_int_equal(filecache_nabsent(t->cache), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(get(t, t->dirfd, "a.cfg"), -ENOENT);
	assert_int_equal(filecache_nabsent(t->cache), 0);
	assert_int_equal(get(t, closed_fd(t), "a.cfg"), -EBADF);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_absent_costs_no_syscall),
		T(test_placed_file_seen_next_iteration),
		T(test_placed_in_subdirectory),
		T(test_subdirectory_created),
		T(test_racy_directory_not_trusted),
		T(test_dangling_link_not_remembered),
		T(test_bounded),
		T(test_flush_forgets),
		T(test_without_tick_nothing_remembered),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
