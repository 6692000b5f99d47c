// SPDX-License-Identifier: MIT
/*
 * Privileges: the daemon needs root only to bind ports below 1024 (69, 80, 443, 21, 5060).
 * Once they are bound it becomes an ordinary user with no capability left in any set, sets
 * no-new-privileges (nothing it could execute would gain any), and, where the kernel has
 * Landlock, confines its file access to what it serves and writes: the site (read), the
 * database files (read-write; the connection is already open), the files of the directories
 * holding the configuration and TLS files SIGHUP re-reads, and /proc/self (sanitizers read
 * it). Landlock is used through its raw system calls; only the access rights of the
 * kernel's ABI are handled.
 */
#include "server/privs.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "core/str.h"

/* Rights newer than some <linux/landlock.h>: used only when the kernel's ABI has them. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif

#define TAG	      "privileges"
#define DEFAULT_USER  "autoprov"
#define FALLBACK_USER "nobody"
#define NGROUPS_CAP   1024

struct target {
	char name[64];
	uid_t uid;
	gid_t gid;
	gid_t groups[NGROUPS_CAP];
	int ngroups;
};

/* One file the daemon opens after the drop; dir: it is a directory read beneath. */
struct access_path {
	char path[PATH_MAX];
	bool dir;
	bool write;
	bool optional; /* may be missing */
};

#define ACCESS_PATHS_MAX 16

struct access_list {
	struct access_path paths[ACCESS_PATHS_MAX];
	size_t n;
};

static int lookup(const char *name, struct target *ret, char *err, size_t errsz)
{
	struct passwd pw, *found = NULL;
	char buf[16384];
	int n = NGROUPS_CAP, r;

	r = getpwnam_r(name, &pw, buf, sizeof(buf), &found);
	if (!found) {
		snprintf(err, errsz, "user '%s': %s", name,
			 r ? strerror(r) : "no such user on this system");
		return r ? -r : -ENOENT;
	}
	if (str_copy(ret->name, sizeof(ret->name), name) < 0) {
		snprintf(err, errsz, "user '%s': name too long", name);
		return -ENAMETOOLONG;
	}
	ret->uid = pw.pw_uid;
	ret->gid = pw.pw_gid;
	if (getgrouplist(name, pw.pw_gid, ret->groups, &n) < 0) {
		snprintf(err, errsz, "user '%s': more than %d groups", name, NGROUPS_CAP);
		return -E2BIG;
	}
	ret->ngroups = n;
	return 0;
}

/* The configured user; the default one falls back to nobody when it does not exist. */
static int resolve_user(const char *name, struct target *ret, char *err, size_t errsz)
{
	int r = lookup(name, ret, err, errsz);

	if (r != -ENOENT || strcmp(name, DEFAULT_USER) != 0)
		return r;
	log_warnx(TAG,
		  "no user '%s' on this system, running as '%s' instead "
		  "(create one: useradd --system --no-create-home %s; or set [server] user)",
		  DEFAULT_USER, FALLBACK_USER, DEFAULT_USER);
	return lookup(FALLBACK_USER, ret, err, errsz);
}

static int add_path(struct access_list *l, const char *base, const char *rel, bool dir,
		    bool write, bool optional)
{
	struct access_path *p;
	int n;

	if (l->n == ACCESS_PATHS_MAX)
		return -E2BIG;
	p = &l->paths[l->n];
	if (!base || rel[0] == '/')
		n = snprintf(p->path, sizeof(p->path), "%s", rel);
	else
		n = snprintf(p->path, sizeof(p->path), "%s/%s", base, rel);
	if (n < 0 || (size_t)n >= sizeof(p->path))
		return -ENAMETOOLONG;
	p->dir = dir;
	p->write = write;
	p->optional = optional;
	l->n++;
	return 0;
}

/* Everything the daemon opens by name after the drop (SIGHUP included). */
static int access_list_fill(struct access_list *l, const char *site, const char *config_path,
			    const struct server_config *cfg)
{
	bool tls = cfg->http.https_enabled || (cfg->ftp.enabled && cfg->ftp.tls != FTP_TLS_OFF);
	int r = 0;

	l->n = 0;
	r = r ? r : add_path(l, NULL, site, true, false, false);
	r = r ? r : add_path(l, site, "files", true, false, true);
	r = r ? r : add_path(l, site, "templates", true, false, true);
	r = r ? r : add_path(l, site, "partials", true, false, true);
	r = r ? r : add_path(l, NULL, config_path, false, false, true);
	r = r ? r : add_path(l, site, "autoprov.db", false, true, false);
	r = r ? r : add_path(l, site, "autoprov.db-wal", false, true, true);
	r = r ? r : add_path(l, site, "autoprov.db-shm", false, true, true);
	if (tls) {
		r = r ? r : add_path(l, site, cfg->http.tls.certificate, false, false, false);
		r = r ? r : add_path(l, site, cfg->http.tls.key, false, false, false);
	}
	if (cfg->http.https_enabled && cfg->http.tls.client_certs != TLS_CLIENT_OFF &&
	    cfg->http.tls.client_ca[0])
		r = r ? r : add_path(l, site, cfg->http.tls.client_ca, false, false, false);
	return r;
}

/* The database files belong to the user, so that it can write them on its own too. */
static int chown_database(const struct access_list *l, const struct target *t, char *err,
			  size_t errsz)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct access_path *p = &l->paths[i];

		if (!p->write)
			continue;
		if (fchownat(AT_FDCWD, p->path, t->uid, t->gid, AT_SYMLINK_NOFOLLOW) < 0 &&
		    !(errno == ENOENT && p->optional)) {
			int e = errno;

			snprintf(err, errsz, "%s: cannot give it to user %s: %s", p->path, t->name,
				 strerror(e));
			return -e;
		}
	}
	return 0;
}

/* As the new user: can it read (and write) what it will need? */
static int check_access(const struct access_list *l, const struct target *t, char *err,
			size_t errsz)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct access_path *p = &l->paths[i];
		int mode = R_OK | (p->dir ? X_OK : 0) | (p->write ? W_OK : 0);

		if (access(p->path, mode) == 0 || (errno == ENOENT && p->optional))
			continue;
		snprintf(err, errsz,
			 "%s is not %s by user %s (uid %u): %s; make it so (chgrp/chmod), or set "
			 "[server] user / --user",
			 p->path, p->write ? "readable and writable" : "readable", t->name,
			 (unsigned)t->uid, strerror(errno));
		return -EACCES;
	}
	return 0;
}

/* Empties the bounding set: needs CAP_SETPCAP, so before the uid changes. */
static void drop_bounding_set(void)
{
	for (int cap = 0; cap < 64; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
			break; /* past the kernel's last capability */
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			log_warn(TAG, "cannot empty the capability bounding set");
			return;
		}
	}
}

static int set_ids(const struct target *t, char *err, size_t errsz)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (setgroups((size_t)t->ngroups, t->groups) < 0 ||
	    setresgid(t->gid, t->gid, t->gid) < 0 || setresuid(t->uid, t->uid, t->uid) < 0) {
		int e = errno;

		snprintf(err, errsz, "cannot become user %s (uid %u, gid %u): %s", t->name,
			 (unsigned)t->uid, (unsigned)t->gid, strerror(e));
		return -e;
	}
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != t->uid ||
	    eu != t->uid || su != t->uid || rg != t->gid || eg != t->gid || sg != t->gid ||
	    setuid(0) == 0 || setgid(0) == 0) {
		snprintf(err, errsz, "user %s: the ids did not all change, or root came back",
			 t->name);
		return -EPERM;
	}
	return 0;
}

/* Inheritable and ambient sets (permitted and effective went with the uid). */
static int clear_capabilities(char *err, size_t errsz)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0) {
		int e = errno;

		snprintf(err, errsz, "cannot clear the capability sets: %s", strerror(e));
		return -e;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		int e = errno;

		snprintf(err, errsz, "cannot clear the ambient capabilities: %s", strerror(e));
		return -e;
	}
	return 0;
}

/* /proc/self/status says what the kernel holds: every set empty, no-new-privs on. */
static int verify_status(bool warn_bounding, char *err, size_t errsz)
{
	static const char *const sets[] = { "CapInh:", "CapPrm:", "CapEff:", "CapAmb:" };
	char line[256];
	unsigned found = 0;
	bool nnp = false;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f) {
		int e = errno;

		snprintf(err, errsz, "/proc/self/status: %s", strerror(e));
		return -e;
	}
	while (fgets(line, sizeof(line), f)) {
		for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
			size_t n = strlen(sets[i]);

			if (strncmp(line, sets[i], n) != 0)
				continue;
			found++;
			if (strtoull(line + n, NULL, 16) != 0) {
				fclose(f);
				snprintf(err, errsz, "capabilities remain: %s", line);
				return -EPERM;
			}
		}
		if (strncmp(line, "CapBnd:", 7) == 0 && strtoull(line + 7, NULL, 16) != 0 &&
		    warn_bounding)
			log_warnx(TAG, "the capability bounding set is not empty");
		if (strncmp(line, "NoNewPrivs:", 11) == 0)
			nnp = strtoul(line + 11, NULL, 10) == 1;
	}
	fclose(f);
	if (found != sizeof(sets) / sizeof(sets[0]) || !nnp) {
		snprintf(err, errsz, "/proc/self/status: capabilities or no-new-privileges not as set");
		return -EPERM;
	}
	return 0;
}

static int landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return abi < 0 ? -errno : (int)abi;
}

static uint64_t landlock_handled(int abi)
{
	uint64_t fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */

	if (abi >= 2)
		fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return fs;
}

/* One path_beneath rule; a missing optional path is no rule. */
static int landlock_allow(int ruleset, const char *path, uint64_t access, bool optional)
{
	struct landlock_path_beneath_attr rule = { .allowed_access = access };
	int fd = open(path, O_PATH | O_CLOEXEC), r = 0;

	if (fd < 0)
		return errno == ENOENT && optional ? 0 : -errno;
	rule.parent_fd = fd;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) < 0)
		r = -errno;
	close(fd);
	return r;
}

/*
 * A file read again at SIGHUP may have been replaced (an editor's rename, a renewed
 * certificate) and a rule holds the inode: allow reading files in its directory, the one
 * named and the one its symbolic links lead to (certbot's live/ and archive/).
 */
static int landlock_allow_parents(int ruleset, const struct access_path *p)
{
	char real[PATH_MAX], dir[PATH_MAX];
	const char *paths[] = { p->path, real };
	int r = 0;

	if (!realpath(p->path, real))
		return errno == ENOENT && p->optional ? 0 : -errno;
	for (size_t i = 0; i < 2 && r == 0; i++) {
		char *slash;

		str_copy(dir, sizeof(dir), paths[i]);
		slash = strrchr(dir, '/');
		if (!slash)
			str_copy(dir, sizeof(dir), ".");
		else if (slash == dir)
			dir[1] = '\0';
		else
			*slash = '\0';
		r = landlock_allow(ruleset, dir, LANDLOCK_ACCESS_FS_READ_FILE, false);
	}
	return r;
}

/*
 * Confines file access to l (and /proc/self). 1 when confined, 0 when the kernel has no
 * Landlock (said once in the log), or a negative errno with the reason in err.
 */
static int confine(const struct access_list *l, char *err, size_t errsz)
{
	const uint64_t file_rights = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
				     LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |
				     LANDLOCK_ACCESS_FS_IOCTL_DEV;
	const uint64_t read = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
	struct landlock_ruleset_attr attr;
	int abi = landlock_abi(), ruleset, r = 0;
	uint64_t handled;

	if (abi < 0) {
		log_warnx(TAG, "Landlock is not available (%s): file access is not "
				"confined to the site",
			  strerror(-abi));
		return 0;
	}
	handled = landlock_handled(abi);
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = handled;
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0) {
		r = -errno;
		snprintf(err, errsz, "Landlock: cannot create a ruleset: %s", strerror(-r));
		return r;
	}
	for (size_t i = 0; i < l->n && r == 0; i++) {
		const struct access_path *p = &l->paths[i];
		uint64_t access = LANDLOCK_ACCESS_FS_READ_FILE;

		if (p->dir)
			access |= LANDLOCK_ACCESS_FS_READ_DIR;
		if (p->write)
			access |= LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE;
		if (!p->dir)
			access &= file_rights;
		if (!p->dir && !p->write)
			r = landlock_allow_parents(ruleset, p);
		else
			r = landlock_allow(ruleset, p->path, access & handled, p->optional);
		if (r < 0)
			snprintf(err, errsz, "Landlock: %s: %s", p->path, strerror(-r));
	}
	if (r == 0) {
		/* sanitizers read maps and tasks; FTP's passive ports read the local range */
		r = landlock_allow(ruleset, "/proc/self", read & handled, true);
		if (r == 0)
			r = landlock_allow(ruleset, "/proc/sys/net/ipv4/ip_local_port_range",
					   LANDLOCK_ACCESS_FS_READ_FILE, true);
		if (r < 0)
			snprintf(err, errsz, "Landlock: /proc: %s", strerror(-r));
	}
	if (r == 0 && syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) {
		r = -errno;
		snprintf(err, errsz, "Landlock: cannot restrict the process: %s", strerror(-r));
	}
	close(ruleset);
	return r < 0 ? r : abi;
}

/*
 * Started as an ordinary user (systemd's User=, with CAP_NET_BIND_SERVICE as an ambient
 * capability for the ports below 1024; or a user running it by hand): the uid stays, the
 * user setting cannot apply, and the rest of the drop does: no capability left in any set,
 * no-new-privileges, Landlock. The bounding set needs CAP_SETPCAP to empty, which such a
 * process does not have (systemd's CapabilityBoundingSet= narrows it instead).
 */
static int drop_unprivileged(const struct serve_options *opts, const char *config_path,
			     const struct server_config *cfg, const char *name, char *err,
			     size_t errsz)
{
	struct access_list *paths = calloc(1, sizeof(*paths));
	struct passwd *pw = getpwuid(geteuid());
	int r, landlock;

	if (!paths) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	if (!pw || strcmp(pw->pw_name, name) != 0)
		log_debug(TAG, "started as uid %u, not root: user %s does not apply",
			  (unsigned)geteuid(), name);
	r = access_list_fill(paths, opts->site_dir, config_path, cfg);
	if (r < 0) {
		snprintf(err, errsz, "privileges: a path is too long, or too many");
		goto out;
	}
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL);
	(void)RAND_status();
	r = clear_capabilities(err, errsz);
	if (r == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		snprintf(err, errsz, "cannot set no-new-privileges: %s", strerror(-r));
	}
	if (r == 0)
		r = verify_status(false, err, errsz);
	if (r < 0)
		goto out;
	landlock = confine(paths, err, errsz);
	if (landlock < 0) {
		r = landlock;
		goto out;
	}
	log_info(TAG, "running as uid %u (started unprivileged), no capabilities, no new "
		      "privileges%s",
		 (unsigned)geteuid(), landlock > 0 ? "; Landlock: files confined to the site" : "");
out:
	free(paths);
	return r;
}

int privs_drop(const struct serve_options *opts, const char *config_path,
	       const struct server_config *cfg, char *err, size_t errsz)
{
	const char *name = opts->user ? opts->user : cfg->user;
	struct access_list *paths = NULL;
	struct target *t = NULL;
	int r, landlock;

	if (geteuid() != 0)
		return drop_unprivileged(opts, config_path, cfg, name, err, errsz);
	t = calloc(1, sizeof(*t));
	paths = calloc(1, sizeof(*paths));
	if (!t || !paths) {
		snprintf(err, errsz, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	r = resolve_user(name, t, err, errsz);
	if (r < 0)
		goto out;
	if (t->uid == 0) {
		log_warnx(TAG, "running as root with every privilege (user %s): no "
				"capability dropped, no confinement",
			  name);
		goto out;
	}
	r = access_list_fill(paths, opts->site_dir, config_path, cfg);
	if (r < 0) {
		snprintf(err, errsz, "privileges: a path is too long, or too many");
		goto out;
	}
	/* OpenSSL reads its configuration once: now, while it is reachable */
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL);
	(void)RAND_status();
	r = chown_database(paths, t, err, errsz);
	if (r < 0)
		goto out;
	drop_bounding_set();
	r = set_ids(t, err, errsz);
	if (r == 0)
		r = clear_capabilities(err, errsz);
	if (r == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		snprintf(err, errsz, "cannot set no-new-privileges: %s", strerror(-r));
	}
	if (r == 0)
		r = check_access(paths, t, err, errsz);
	if (r == 0)
		r = verify_status(true, err, errsz);
	if (r < 0)
		goto out;
	landlock = confine(paths, err, errsz);
	if (landlock < 0) {
		r = landlock;
		goto out;
	}
	if (landlock > 0)
		log_info(TAG,
			 "running as %s (uid %u, gid %u), no capabilities, "
			 "no new privileges; Landlock ABI %d: files confined to %s",
			 t->name, (unsigned)t->uid, (unsigned)t->gid, landlock, opts->site_dir);
	else
		log_info(TAG,
			 "running as %s (uid %u, gid %u), no capabilities, "
			 "no new privileges",
			 t->name, (unsigned)t->uid, (unsigned)t->gid);
out:
	free(t);
	free(paths);
	return r;
}
