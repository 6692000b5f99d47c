// SPDX-License-Identifier: MIT
/*
 * `autoprov md5`, `autoprov encrypt` and `autoprov decrypt`: the small tools an administrator
 * needs beside the server, to make a `.md5` companion by hand and to produce or inspect
 * profiles encrypted for [--key K] rules (the format is in src/crypto/enc.h). Files written
 * are replaced atomically, because the server may be serving them at that moment.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli/cli.h"
#include "core/md5.h"
#include "crypto/enc.h"

/* Profiles are kilobytes; the cap only keeps a mistaken IN (a disk image) from eating memory. */
#define TOOLS_MAX_INPUT (256u << 20)
/* A key longer than this is not a pass phrase anybody types into a profile rule. */
#define TOOLS_MAX_KEY 1024

static int write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* All of fd, at most cap bytes (-EFBIG beyond). *ret is malloc'd and NUL-terminated. */
static int read_fd(int fd, size_t cap, unsigned char **ret, size_t *ret_len)
{
	/* room for cap bytes, the NUL, and one more so that the read seeing EOF has a byte */
	const size_t limit = cap + 2;
	unsigned char *buf = NULL;
	size_t len = 0, size = 0;
	struct stat st;

	/* a regular file tells its size, so it is read into a buffer of the right size */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size > cap)
			return -EFBIG;
		size = (size_t)st.st_size + 2;
		buf = malloc(size);
		if (!buf)
			return -ENOMEM;
	}
	for (;;) {
		ssize_t n;

		if (len + 1 >= size) {
			size_t nsize = size < 2048 ? 4096 : size * 2;
			unsigned char *nbuf;

			if (nsize > limit)
				nsize = limit;
			if (nsize <= size) {
				free(buf);
				return -EFBIG;
			}
			nbuf = realloc(buf, nsize);
			if (!nbuf) {
				free(buf);
				return -ENOMEM;
			}
			buf = nbuf;
			size = nsize;
		}
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > cap) {
			free(buf);
			return -EFBIG;
		}
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* path "-" is standard input. */
static int read_input(const char *path, size_t cap, unsigned char **ret, size_t *ret_len)
{
	int fd, r;

	if (strcmp(path, "-") == 0)
		return read_fd(STDIN_FILENO, cap, ret, ret_len);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = read_fd(fd, cap, ret, ret_len);
	close(fd);
	return r;
}

/*
 * Writes data to path: "-" is standard output; an existing file that is not a regular one
 * (/dev/null, a FIFO) is written in place, since renaming over it would replace the device
 * node; anything else goes to a temporary file beside it that is renamed over path, so a
 * reader (the TFTP server) sees the old file or the new one, never half of one.
 */
static int write_output(const char *path, const void *data, size_t len)
{
	struct stat st;
	char *tmp = NULL;
	bool created = false, exists;
	mode_t mode;
	int fd = -1, r;
	size_t n;

	if (strcmp(path, "-") == 0)
		return write_all(STDOUT_FILENO, data, len);
	exists = stat(path, &st) == 0;
	if (exists && !S_ISREG(st.st_mode)) {
		fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		r = write_all(fd, data, len);
		if (close(fd) < 0 && r == 0)
			r = -errno;
		return r;
	}

	n = strlen(path) + sizeof(".XXXXXX");
	tmp = malloc(n);
	if (!tmp)
		return -ENOMEM;
	snprintf(tmp, n, "%s.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto done;
	}
	created = true;
	/*
	 * mkstemp makes the file 0600. A replaced file keeps its mode (a decrypted profile kept
	 * private stays private); a new one gets the usual 0666 less the umask, so that the
	 * server can read it.
	 */
	if (exists) {
		mode = st.st_mode & 07777;
	} else {
		mode = umask(0);
		umask(mode);
		mode = 0666 & ~mode;
	}
	if (fchmod(fd, mode) < 0) {
		r = -errno;
		goto done;
	}
	r = write_all(fd, data, len);
	if (r < 0)
		goto done;
	if (fsync(fd) < 0) {
		r = -errno;
		goto done;
	}
	r = close(fd) < 0 ? -errno : 0;
	fd = -1;
	if (r < 0)
		goto done;
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto done;
	}
	free(tmp);
	return 0;
done:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp);
	free(tmp);
	return r;
}

/* The last component of path, as md5sum prints it when run in the file's directory. */
static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* MD5 of a file; a regular file is mapped rather than read, firmware images being large. */
static int md5_file(const char *path, char hex[MD5_HEX_LEN + 1])
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t len;
	void *map;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return -EISDIR;
	}
	if (S_ISREG(st.st_mode) && st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		close(fd);
		if (map == MAP_FAILED)
			return -errno;
		r = md5_hex(map, (size_t)st.st_size, hex);
		munmap(map, (size_t)st.st_size);
		return r;
	}
	r = read_fd(fd, TOOLS_MAX_INPUT, &buf, &len);
	close(fd);
	if (r < 0)
		return r;
	r = md5_hex(buf, len, hex);
	free(buf);
	return r;
}

static void md5_usage(FILE *out)
{
	fprintf(out,
		"usage: autoprov md5 FILE...\n"
		"       autoprov md5 -o OUT FILE\n"
		"\n"
		"Prints '<md5>  <name>' for each FILE, as the .md5 companion of that file carries\n"
		"it: 32 lower-case hex digits, two spaces, the file name without its directory\n"
		"(what `md5sum FILE` prints when run beside the file). The server generates these\n"
		"companions itself (docs/md5.md); this makes one by hand.\n"
		"\n"
		"  -o, --output OUT   write the line to OUT (replaced atomically) instead of\n"
		"                     standard output; exactly one FILE\n"
		"  -h, --help         this text\n"
		"\n"
		"Example: autoprov md5 -o files/algop8188.md5 files/algop8188.conf\n");
}

int cmd_md5(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *output = NULL;
	int c, status = 0;

	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': output = optarg; break;
		case 'h': md5_usage(stdout); return 0;
		default: md5_usage(stderr); return 2;
		}
	}
	if (optind == argc) {
		fputs("autoprov md5: no FILE given\n", stderr);
		md5_usage(stderr);
		return 2;
	}
	if (output && argc - optind != 1) {
		fputs("autoprov md5: -o takes exactly one FILE (a companion describes one file)\n",
		      stderr);
		return 2;
	}

	for (int i = optind; i < argc; i++) {
		const char *name = base_name(argv[i]);
		char hex[MD5_HEX_LEN + 1];
		char line[MD5_HEX_LEN + 2 + NAME_MAX + 2];
		int r, n;

		/*
		 * md5sum escapes such names with a leading backslash, which a device reading
		 * "hash  name" would not undo; better to refuse than write a line nobody reads.
		 */
		if (*name == '\0' || strpbrk(name, "\n\\")) {
			fprintf(stderr, "autoprov md5: %s: not a file name a .md5 line can carry\n",
				argv[i]);
			status = 1;
			continue;
		}
		r = md5_file(argv[i], hex);
		if (r < 0) {
			fprintf(stderr, "autoprov md5: %s: %s\n", argv[i], strerror(-r));
			status = 1;
			continue;
		}
		n = snprintf(line, sizeof(line), "%s  %s\n", hex, name);
		if (n < 0 || (size_t)n >= sizeof(line)) {
			fprintf(stderr, "autoprov md5: %s: %s\n", argv[i], strerror(ENAMETOOLONG));
			status = 1;
			continue;
		}
		r = output ? write_output(output, line, (size_t)n)
			   : write_all(STDOUT_FILENO, line, (size_t)n);
		if (r < 0) {
			fprintf(stderr, "autoprov md5: %s: %s\n",
				output ? output : "standard output", strerror(-r));
			return 1;
		}
	}
	return status;
}

static void crypt_usage(FILE *out, const char *cmd)
{
	bool enc = strcmp(cmd, "encrypt") == 0;

	fprintf(out,
		"usage: autoprov %s (--key KEY | --key-file FILE) IN OUT\n"
		"\n"
		"%s\n"
		"The format is that of `openssl enc -aes-256-cbc -md md5 -k KEY%s`: \"Salted__\",\n"
		"an 8-byte salt, AES-256-CBC with key and IV from EVP_BytesToKey(MD5), which is what\n"
		"devices decrypt with a [--key KEY] profile rule. IN and OUT may be '-' for standard\n"
		"input and output; OUT is written only on success, and replaced atomically.\n"
		"\n"
		"  -k, --key KEY        the pass phrase (visible to other users in ps; prefer\n"
		"                       --key-file)\n"
		"      --key-file FILE  read the pass phrase from the first line of FILE\n"
		"  -h, --help           this text\n"
		"\n"
		"%s"
		"Exit status: 0 done, 1 failed%s, 2 usage.\n",
		cmd,
		enc ? "Encrypts the profile IN into OUT, with a fresh random salt."
		    : "Decrypts IN, a profile encrypted that way, into OUT.",
		enc ? "" : " -d",
		enc ? ""
		    : "A file from `openssl enc` without -md md5 (OpenSSL 1.1 and later default\n"
		      "to SHA-256), or with -pbkdf2 or -iter, derives another key from the same\n"
		      "pass phrase and so reads as a wrong key.\n\n",
		enc ? "" : " (wrong key, damaged file, not an encrypted file)");
}

/* The first line of path, without its line ending. */
static int read_key_file(const char *path, char **ret)
{
	unsigned char *buf;
	size_t len, line;
	int r;

	r = read_input(path, TOOLS_MAX_KEY, &buf, &len);
	if (r < 0)
		return r;
	line = strcspn((char *)buf, "\r\n");
	/* the rest of the file may be as secret as the line; it goes too */
	OPENSSL_cleanse(buf + line, len - line);
	buf[line] = '\0';
	*ret = (char *)buf;
	return 0;
}

static void key_free(char *key)
{
	if (!key)
		return;
	OPENSSL_cleanse(key, strlen(key));
	free(key);
}

static int cmd_crypt(int argc, char **argv, bool encrypt)
{
	enum { OPT_KEY_FILE = 256 };
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "key-file", required_argument, NULL, OPT_KEY_FILE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = encrypt ? "encrypt" : "decrypt";
	const char *key_arg = NULL, *key_path = NULL, *in_path, *out_path;
	unsigned char *in = NULL, *out = NULL;
	size_t in_len = 0, out_len = 0;
	char *key = NULL;
	int c, r, status = 1;

	while ((c = getopt_long(argc, argv, "k:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': key_arg = optarg; break;
		case OPT_KEY_FILE: key_path = optarg; break;
		case 'h': crypt_usage(stdout, cmd); return 0;
		default: crypt_usage(stderr, cmd); return 2;
		}
	}
	if (!key_arg == !key_path) {
		fprintf(stderr, "autoprov %s: give one of --key and --key-file\n", cmd);
		crypt_usage(stderr, cmd);
		return 2;
	}
	if (argc - optind != 2) {
		fprintf(stderr, "autoprov %s: expected IN and OUT\n", cmd);
		crypt_usage(stderr, cmd);
		return 2;
	}
	in_path = argv[optind];
	out_path = argv[optind + 1];
	if (strcmp(in_path, "-") == 0 && key_path && strcmp(key_path, "-") == 0) {
		fprintf(stderr,
			"autoprov %s: the key and IN cannot both come from standard input\n", cmd);
		return 2;
	}

	if (key_path) {
		r = read_key_file(key_path, &key);
		if (r < 0) {
			fprintf(stderr, "autoprov %s: %s: %s\n", cmd, key_path,
				r == -EFBIG ? "too long for a key file" : strerror(-r));
			return 1;
		}
	} else {
		key = strdup(key_arg);
		if (!key) {
			fprintf(stderr, "autoprov %s: %s\n", cmd, strerror(ENOMEM));
			return 1;
		}
	}
	/* an empty pass phrase is a key file with a blank first line, not a choice */
	if (*key == '\0') {
		fprintf(stderr, "autoprov %s: the key is empty\n", cmd);
		status = 2;
		goto done;
	}

	r = read_input(in_path, TOOLS_MAX_INPUT, &in, &in_len);
	if (r < 0) {
		fprintf(stderr, "autoprov %s: %s: %s\n", cmd, in_path,
			r == -EFBIG ? "larger than 256 MiB, not a profile" : strerror(-r));
		goto done;
	}
	r = encrypt ? enc_encrypt(key, in, in_len, NULL, &out, &out_len)
		    : enc_decrypt(key, in, in_len, &out, &out_len);
	if (r == -EACCES) {
		fprintf(stderr, "autoprov %s: wrong key or corrupt file\n", cmd);
		goto done;
	}
	if (r == -EBADMSG) {
		if (in_len >= 8 && memcmp(in, "Salted__", 8) == 0)
			fprintf(stderr, "autoprov %s: %s: truncated or corrupt encrypted file\n",
				cmd, in_path);
		else
			fprintf(stderr,
				"autoprov %s: %s: not an encrypted file (no \"Salted__\" header "
				"as openssl enc -aes-256-cbc -md md5 -k writes)\n",
				cmd, in_path);
		goto done;
	}
	if (r < 0) {
		fprintf(stderr, "autoprov %s: %s\n", cmd, strerror(-r));
		goto done;
	}
	r = write_output(out_path, out, out_len);
	if (r < 0) {
		fprintf(stderr, "autoprov %s: %s: %s\n", cmd, out_path, strerror(-r));
		goto done;
	}
	status = 0;
done:
	key_free(key);
	/* plaintext: the input of encrypt, the output of decrypt */
	if (in)
		OPENSSL_cleanse(in, in_len);
	if (out)
		OPENSSL_cleanse(out, out_len);
	free(in);
	free(out);
	return status;
}

int cmd_encrypt(int argc, char **argv)
{
	return cmd_crypt(argc, argv, true);
}

int cmd_decrypt(int argc, char **argv)
{
	return cmd_crypt(argc, argv, false);
}
