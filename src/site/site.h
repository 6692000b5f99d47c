// SPDX-License-Identifier: MIT
/*
 * The site: DIR/files/ and the rendered files of DIR/templates/, served through one
 * resolver that every protocol calls; DIR/autoprov.db holds the inventory.
 * A resolved file is a reference-counted, immutable snapshot in memory: a transfer holds
 * it until it ends, so a file replaced on disk mid-transfer never produces a torn
 * download, and one file fetched by many devices at once is read from disk once.
 */
#ifndef AUTOPROV_SITE_SITE_H
#define AUTOPROV_SITE_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <sys/socket.h>

#include "core/mac.h"
#include "core/md5.h"
#include "site/auth.h"
#include "site/defence.h"
#include "site/fleet.h"

/* The journal's limits ([journal] in the configuration). */
struct site_journal_options {
	unsigned max_age_days; /* 0: no limit */
	uint64_t max_rows;     /* 0: no limit */
	unsigned miss_rows;    /* misses written per peer and window; 0: all */
	unsigned miss_window;  /* seconds */
};

/* A node's name: 1 to 63 of [A-Za-z0-9._-] (a host name fits). */
#define SITE_NODE_MAX 63

struct site_options {
	/*
	 * the name of this node ([server] node, the host name by default), written in each
	 * journal row it makes: several nodes write one journal (docs/scale-out.md)
	 */
	char node[SITE_NODE_MAX + 1];
	uint64_t cache_size;	  /* bytes of unreferenced files kept */
	uint64_t max_file_size;	  /* larger files are refused */
	unsigned device_cache;	  /* devices the directory keeps (and as many unknown MACs) */
	unsigned max_name_length; /* longer requested names are refused */
	char md5_extensions[256]; /* space-separated, tried in order for STEM.md5 */
	bool escape_html;	  /* templates: {{x}} HTML-escaped as the Mustache spec says */
	struct auth_config auth;  /* logins of every protocol (site/auth.h) */
	struct site_journal_options journal;
	struct defence_config defence; /* the enumeration defence (site/defence.h) */
	/* [store] url: a PostgreSQL connection URI, or "" for the site's autoprov.db */
	char store_url[1024];
	enum unknown_devices_mode unknown_devices; /* [server] unknown_devices (site/fleet.h) */
};

/* Who asks, over what: the built-ins of templates, and what the journal records. */
struct site_request {
	const char *proto;	      /* "tftp", ... */
	const struct sockaddr *peer;  /* NULL when not from the network (autoprov render) */
	const struct sockaddr *local; /* the address the request reached, or NULL */
	const char *prefix;	      /* a directory to strip, normalised, or NULL */
	char mac[MAC_LEN + 1];	      /* out: the device the file belongs to (routes.md) */
	/*
	 * out: not found, and the name named a MAC (bound by a route, or 12 hex digits in the
	 * file name, then copied to mac) that the inventory does not hold: a miss
	 */
	bool unknown_mac;
};

void site_options_default(struct site_options *opts);
/*
 * For the configuration's [store] url (server/ does not include store/): whether url names
 * a PostgreSQL database, and url with its password as "***" into buf (store/store.h).
 */
bool site_store_url_is_pg(const char *url);
const char *site_redact_store_url(const char *url, char *buf, size_t size);
/* Whether name is a node's name (SITE_NODE_MAX): 0, or -EINVAL with *ret_why. */
int site_check_node_name(const char *name, const char **ret_why);

struct filecache;

struct site_file {
	unsigned refs;
	char *name; /* normalised path below files/ */
	uint8_t *data;
	size_t size;

	/* identity on disk when read, to notice a changed file */
	dev_t dev;
	ino_t ino;
	struct timespec mtime, ctime;
	struct timespec read_at; /* wall-clock time the snapshot was read */

	uint64_t version;	   /* a rendered file's version number (version =), or 0 */
	char md5[MD5_HEX_LEN + 1]; /* "" until first asked for */
	uint8_t *netascii;	   /* NULL until first asked for */
	size_t netascii_size;

	/* owned by the file cache */
	struct filecache *cache; /* NULL: not cached, freed at the last unref */
	uint32_t hash;
	struct site_file *hnext;
	struct site_file *lru_prev, *lru_next;
	bool in_lru;
};

struct site;

/* Opens the site in dir. 0, or a negative errno with a reason in err. */
int site_open(const char *dir, const struct site_options *opts, struct site **ret, char *err,
	      size_t errsz);
void site_free(struct site *site);
/* New options, and every cached file forgotten (files in use stay until released). */
void site_reload(struct site *site, const struct site_options *opts);

/*
 * Resolves a requested name (len bytes as the peer sent it) to a file: files/PATH, else a
 * template's route, else STEM.md5 of a sibling. On success *ret holds a reference the
 * caller drops with site_file_unref(); req->mac names the device the file belongs to: a
 * route bound its MAC, or a static file's name carries a known device's MAC. Errors:
 * -EACCES refused name or a path leaving files/; -ENOENT not found; -EFBIG over
 * max_file_size; -EAGAIN the file kept changing while read; -EIO a template that fails
 * (logged); DIRECTORY_UNAVAILABLE (site/directory.h) when the answer needs the store and the
 * store cannot be asked (an outage: site/outage.h); other negative errnos for I/O failures.
 */
int site_resolve(struct site *site, const char *name, size_t len, struct site_request *req,
		 struct site_file **ret);
/*
 * The start of a journal row's detail when a files/STEM.md5 placed by hand was sent to a
 * device and does not carry the MD5 of what its sibling serves that device (docs/md5.md):
 * "md5 mismatch: it says HEX, STEM.EXT has MD5 HEX". The request's log line warns of it.
 */
#define SITE_MD5_MISMATCH "md5 mismatch: "
/*
 * Records a request in the journal: a copy goes to the journal's bounded queue
 * (site/writer.h; beyond JOURNAL_QUEUE_MAX entries waiting they are counted as dropped and
 * logged at most once a second), never waiting for the database. A miss (no success:
 * site/journal_sample.h) beyond journal.miss_rows of its peer's window is only counted,
 * and the window's count is queued as one row when it ends.
 */
struct journal_entry;
void site_journal(struct site *site, const struct journal_entry *e);
/*
 * For a timer on the loop (ten times a second): ends the sampling windows due (their rows
 * are queued). Without the writer's thread it also runs the writer's round here: writes
 * the queue in one transaction, the file versions kept in memory, one bounded step of
 * pruning (journal.max_age_days, journal.max_rows); 0, or -EBUSY when the database is held
 * by another process (the batch is kept for the next call). When the database refuses
 * writes (a full disk), the journal is read-only: one warning, entries dropped and
 * counted, a write tried again every second, and a line when it resumes.
 */
int site_journal_flush(struct site *site);
/*
 * A daemon's journal written by a thread of its own (site/writer.h): site_journal_open()
 * opens the thread's connection to the database, before the privileges are dropped;
 * site_journal_start() starts the thread, after they are (a thread is confined as the one
 * that creates it). A failure leaves the journal written by site_journal_flush(). Without
 * them (the command-line tools) the journal is written when the site is freed. Freeing the
 * site writes everything queued (the final flush) and joins the thread.
 */
int site_journal_open(struct site *site, char *err, size_t errsz);
int site_journal_start(struct site *site);
/* Whether the journal is read-only now (writes refused). */
bool site_journal_readonly(const struct site *site);

/*
 * The enumeration defence (site/defence.h), for every protocol. site_blocked(): the seconds
 * peer stays blocked (0: serve it), checked before resolving. site_miss(): counts a miss of
 * req's peer (mac: the device named, NULL for a failed login); the block it starts is
 * logged once (a warning with the count) and journaled (outcome "blocked"). Returns the
 * seconds this request is refused for, 0 to answer it as usual. site_resolved(): the miss,
 * if site_resolve()'s result r is one (an unknown device's name).
 */
unsigned site_blocked(struct site *site, const struct sockaddr *peer);
unsigned site_miss(struct site *site, const struct site_request *req, const char *mac);
unsigned site_resolved(struct site *site, const struct site_request *req, int r);
struct defence *site_defence(struct site *site);

/* The site's database (inventory, journal), owned by the site. */
struct store *site_store(struct site *site);
/*
 * Changes other nodes make, on a shared database (PostgreSQL): site_watch_open() gives the
 * socket to watch for reading (-ENOTSUP when the store needs none: SQLite) and from then
 * on the directory reads the change log only when told; site_watch_read() when it is
 * readable (a negative errno: the watch is lost and closed; open it again later);
 * site_changes_poll() tells the directory to read the change log anyway (the slow poll, a
 * reconnection).
 */
int site_watch_open(struct site *site);
int site_watch_read(struct site *site);
void site_watch_close(struct site *site);
void site_changes_poll(struct site *site);
/* How often the caller polls (site_changes_poll) while the watch is open, in seconds. */
#define SITE_POLL_S 5
/* The options the site was opened with (or last set). */
const struct site_options *site_get_options(const struct site *site);
/* The device directory (site/directory.h), owned by the site: where device data comes from. */
struct directory;
struct directory *site_directory(struct site *site);
/*
 * For a daemon: what templates, partials and the inventory are checked for changes once
 * per loop iteration instead of per request. kick(arg) asks for site_tick() at the end of
 * the current iteration. Without it (the command-line tools) every request checks.
 */
void site_set_tick(struct site *site, void (*kick)(void *arg), void *arg);
void site_tick(struct site *site);

/*
 * The site is shared by the daemon's workers (docs/architecture.md, "Threads"): every
 * function here takes the site's lock (recursive) for what it does, and snapshots have a
 * lock of their own (site_file_unref and the lazy MD5 / netascii may be called anywhere).
 * A protocol that asks the directory (site/directory.h) directly holds site_lock() around
 * the calls and what it keeps of their answers.
 */
void site_lock(struct site *site);
void site_unlock(struct site *site);

/* Templates found under DIR/templates/. */
size_t site_nroutes(const struct site *site);

void site_file_unref(struct site_file *f);
/* The file in netascii (LF -> CR LF, CR -> CR NUL), converted once. NULL on ENOMEM. */
const uint8_t *site_file_netascii(struct site_file *f, size_t *ret_size);
/* MD5 of the bytes as stored, computed once. NULL on failure. */
const char *site_file_md5(struct site_file *f);

/* ---- directory listings (site/listing.c), for protocols that browse: FTP ---- */

/* One entry of a listing. */
struct site_dirent {
	char *name; /* one path segment */
	bool dir;
	uint64_t size;
	struct timespec mtime;
};

#define SITE_LIST_MAX 100000 /* entries of one listing; the rest are left out */

/* DIR/files and DIR/templates of the site in dir, opened once for listings. */
struct site_tree;
int site_tree_open(const char *dir, struct site_tree **ret);
void site_tree_free(struct site_tree *tree);

/*
 * What directory path (normalised, "" for the top) holds for a login: mac is a device's
 * (canonical), or "" for a login that is not a device. The entries of files/PATH (opened
 * beneath files/, symbolic links followed only while they stay there), then the names
 * templates render there: routes without variables, and for a device the routes whose
 * variables are its MAC (and {model}, {profile}, {group} from its row), bound to it; each
 * is resolved with req (a copy; it gives the size) and left out unless it resolves and
 * belongs to no device or to mac. Directories those names imply are listed too. Names no
 * request could fetch (dot files, control characters, '\') are left out. Sorted, no
 * duplicates (files/ wins). 0 with *ret (site_dirents_free), -ENOENT no such
 * directory, -ENOTDIR a file, -ENOMEM.
 */
int site_list(struct site *site, struct site_tree *tree, const char *path, const char *mac,
	      const struct site_request *req, struct site_dirent **ret, size_t *ret_n);
void site_dirents_free(struct site_dirent *entries, size_t n);
/* Whether path is a directory a listing for mac would show: 0, -ENOENT or -ENOTDIR. */
int site_dir_check(struct site *site, struct site_tree *tree, const char *path, const char *mac);

#endif
