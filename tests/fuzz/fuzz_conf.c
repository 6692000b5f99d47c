// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for conf_load(): the input is the configuration file (kept in a memfd
 * and opened by its /proc/self/fd path), loaded through a key table shaped like the
 * server's. A file is either applied with every value in range, or refused with an error
 * that names the file and a line, and always fits the caller's buffer.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/conf.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_config {
	uint64_t cache_size;
	unsigned max_name_length;
	char extensions[16];
	unsigned max_blksize;
	bool enabled;
	int mode;
};

static int parse_mode(void *field, const char *value, char *err, size_t errsz)
{
	if (strcmp(value, "octet") == 0 || strcmp(value, "netascii") == 0) {
		*(int *)field = value[0] == 'o' ? 1 : 2;
		return 0;
	}
	snprintf(err, errsz, "'%s' is not a mode", value);
	return -EINVAL;
}

#define FIELD(f) offsetof(struct fuzz_config, f), sizeof(((struct fuzz_config *)0)->f)

static const struct conf_key keys[] = {
	{ "server", "cache_size", CONF_SIZE, FIELD(cache_size), 0, 1ull << 40, NULL },
	{ "server", "max_name_length", CONF_UINT, FIELD(max_name_length), 1, 4000, NULL },
	{ "server", "md5_extensions", CONF_STRING, FIELD(extensions), 0, 0, NULL },
	{ "tftp", "max_blksize", CONF_UINT, FIELD(max_blksize), 512, 65464, NULL },
	{ "tftp", "enabled", CONF_BOOL, FIELD(enabled), 0, 0, NULL },
	{ "tftp", "mode", CONF_CUSTOM, FIELD(mode), 0, 0, parse_mode },
	CONF_KEY_END,
};

static int conf_fd = -1;
static char conf_path[64];

static void defaults(struct fuzz_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cache_size = 64u << 20;
	cfg->max_name_length = 255;
	cfg->max_blksize = 65464;
}

/* The error starts "PATH:LINE: " with LINE >= 1, or "PATH: ". */
static void check_error(const char *err)
{
	size_t pl = strlen(conf_path);
	const char *p;

	CHECK(strncmp(err, conf_path, pl) == 0 && err[pl] == ':');
	p = err + pl + 1;
	if (*p == ' ')
		return;
	CHECK(*p >= '1' && *p <= '9');
	while (*p >= '0' && *p <= '9')
		p++;
	/* a reason follows, unless the buffer cut it short */
	CHECK(*p == ':' || *p == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t errsizes[] = { 512, 24 };
	struct fuzz_config cfg;

	if (conf_fd < 0) {
		conf_fd = memfd_create("fuzz_conf", MFD_CLOEXEC);
		CHECK(conf_fd >= 0);
		snprintf(conf_path, sizeof(conf_path), "/proc/self/fd/%d", conf_fd);
	}
	CHECK(ftruncate(conf_fd, 0) == 0);
	CHECK(pwrite(conf_fd, data, size, 0) == (ssize_t)size);

	for (size_t i = 0; i < sizeof(errsizes) / sizeof(errsizes[0]); i++) {
		char *err = malloc(errsizes[i]);
		int r;

		CHECK(err);
		err[0] = '\0';
		defaults(&cfg);
		r = conf_load(conf_path, keys, &cfg, err, errsizes[i]);
		if (r == 0) {
			CHECK(cfg.cache_size <= 1ull << 40);
			CHECK(cfg.max_name_length >= 1 && cfg.max_name_length <= 4000);
			CHECK(memchr(cfg.extensions, '\0', sizeof(cfg.extensions)));
			CHECK(cfg.max_blksize >= 512 && cfg.max_blksize <= 65464);
			CHECK(cfg.mode >= 0 && cfg.mode <= 2);
		} else {
			CHECK(r == -EINVAL);
			CHECK(memchr(err, '\0', errsizes[i]));
			if (errsizes[i] > strlen(conf_path) + 12)
				check_error(err);
		}
		free(err);
	}
	return 0;
}
