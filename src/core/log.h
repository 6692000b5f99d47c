// SPDX-License-Identifier: MIT
/*
 * Logging for the daemon and the command-line tools: levels, a subsystem tag per
 * message, stderr in the foreground or syslog. The level is checked before anything is
 * formatted. Library code (parsers, libautoprov) does not log; it returns errors.
 */
#ifndef AUTOPROV_CORE_LOG_H
#define AUTOPROV_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level {
	LOG_LEVEL_ERR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

extern enum log_level log_level_current;

/* Foreground: stderr with timestamps. With use_syslog, syslog under ident "autoprov". */
void log_init(enum log_level level, bool use_syslog);
void log_set_level(enum log_level level);

/*
 * Batching for a busy daemon: with a kick function set, stderr lines are kept in a buffer
 * and kick(arg) is called when the buffer stops being empty; the caller then calls
 * log_flush() soon (the daemon does it once per loop iteration). A full buffer is
 * written at once. kick == NULL writes every line as it comes (the default). Both are the
 * calling thread's: each worker's loop batches its own lines (a line is whole in one
 * write(2) either way).
 */
void log_set_batching(void (*kick)(void *arg), void *arg);
void log_flush(void);
/*
 * For a thread other than the loop's (the journal's writer): its lines are written at once,
 * each with one write(2), never through the loop's batch.
 */
void log_set_thread_direct(void);

/* A line whose message is len bytes of text, as they are (no format): what log_emit writes. */
void log_text(enum log_level level, const char *tag, const char *text, size_t len);
void log_emit(enum log_level level, const char *tag, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* log_warn appends strerror(errno); log_warnx does not. */
#define log_warn(tag, ...)                                                                         \
	do {                                                                                       \
		if (log_level_current >= LOG_LEVEL_WARN)                                           \
			log_emit(LOG_LEVEL_WARN, tag, errno, __VA_ARGS__);                         \
	} while (0)
#define log_warnx(tag, ...)                                                                        \
	do {                                                                                       \
		if (log_level_current >= LOG_LEVEL_WARN)                                           \
			log_emit(LOG_LEVEL_WARN, tag, 0, __VA_ARGS__);                             \
	} while (0)
#define log_info(tag, ...)                                                                         \
	do {                                                                                       \
		if (log_level_current >= LOG_LEVEL_INFO)                                           \
			log_emit(LOG_LEVEL_INFO, tag, 0, __VA_ARGS__);                             \
	} while (0)
#define log_debug(tag, ...)                                                                        \
	do {                                                                                       \
		if (log_level_current >= LOG_LEVEL_DEBUG)                                          \
			log_emit(LOG_LEVEL_DEBUG, tag, 0, __VA_ARGS__);                            \
	} while (0)
#define log_err(tag, ...) log_emit(LOG_LEVEL_ERR, tag, 0, __VA_ARGS__)
/*
 * A state machine's transition, traced at debug level by its one *_set_state():
 * "WHO: MACHINE FROM -> TO", the states named by names[] (nothing when from == to).
 */
#define log_transition(tag, who, machine, names, from, to)                                         \
	do {                                                                                       \
		if (log_level_current >= LOG_LEVEL_DEBUG && (from) != (to))                        \
			log_emit(LOG_LEVEL_DEBUG, tag, 0, "%s: %s %s -> %s", who, machine,         \
				 (names)[from], (names)[to]);                                      \
	} while (0)

/* Start-up failures only: a request never takes the daemon down. */
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Escapes bytes a peer sent so they can be logged: printable ASCII stays, '"' and '\\'
 * and everything else become \" \\ \xNN. Always NUL-terminates dst (dstsz > 0); a result
 * that does not fit ends in "...". Returns dst.
 */
char *log_escape(char *dst, size_t dstsz, const void *src, size_t len);

#endif
