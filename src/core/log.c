// SPDX-License-Identifier: MIT
/*
 * Log sink: one line per message, "TIME LEVEL TAG: text" on stderr or the same text
 * through syslog(3). Lines are written whole with a single write(2), one at a time or
 * in batches, so concurrent writers never see them interleaved.
 */
#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

enum log_level log_level_current = LOG_LEVEL_INFO;
static bool log_to_syslog;
static _Thread_local bool thread_direct; /* log_set_thread_direct */

/* each worker's loop batches its own lines (a thread without batching writes them at once) */
static _Thread_local struct {
	void (*kick)(void *arg);
	void *arg;
	size_t len;
	char buf[64 * 1024];
} batch;

static const char *const level_names[] = {
	[LOG_LEVEL_ERR] = "error",
	[LOG_LEVEL_WARN] = "warning",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

static const int level_priorities[] = {
	[LOG_LEVEL_ERR] = LOG_ERR,
	[LOG_LEVEL_WARN] = LOG_WARNING,
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

void log_init(enum log_level level, bool use_syslog)
{
	log_level_current = level;
	log_to_syslog = use_syslog;
	if (use_syslog)
		openlog("autoprov", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(enum log_level level)
{
	log_level_current = level;
}

void log_flush(void)
{
	size_t o = 0;

	while (o < batch.len) {
		ssize_t n = write(STDERR_FILENO, batch.buf + o, batch.len - o);

		if (n <= 0)
			break; /* nowhere to report it: the lines are dropped */
		o += (size_t)n;
	}
	batch.len = 0;
}

void log_set_thread_direct(void)
{
	thread_direct = true;
}

void log_set_batching(void (*kick)(void *arg), void *arg)
{
	log_flush();
	batch.kick = kick;
	batch.arg = arg;
}

/*
 * The time prefix "2024-05-01T12:00:00" of this thread's last line, made again only when the
 * second changes (a loop logs a line per request).
 */
static _Thread_local struct {
	time_t sec;
	size_t len;
	char text[32];
} stamp = { .sec = -1 };

static size_t add(char *line, size_t n, size_t size, const char *s, size_t len)
{
	if (len > size - 1 - n)
		len = size - 1 - n;
	memcpy(line + n, s, len);
	return n + len;
}

/* Writes a line (without its newline, n < LINE_MAX bytes, with room for one more) out. */
static void line_out(enum log_level level, char *line, size_t n)
{
	if (log_to_syslog) {
		line[n] = '\0';
		syslog(level_priorities[level], "%s", line);
		return;
	}
	line[n++] = '\n';
	if (!thread_direct && batch.kick) {
		if (batch.len + n > sizeof(batch.buf))
			log_flush();
		memcpy(batch.buf + batch.len, line, n);
		batch.len += n;
		if (batch.len == n)
			batch.kick(batch.arg);
		return;
	}
	/* A log line that cannot be written is dropped: there is nowhere to report it. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

#define LINE_MAX_LEN 2048

/* The line's start: time and level (not for syslog, which has its own), then the tag. */
static size_t line_start(char line[LINE_MAX_LEN], enum log_level level, const char *tag)
{
	size_t n = 0;

	if (!log_to_syslog) {
		struct timespec ts;
		long ms;

		clock_gettime(CLOCK_REALTIME, &ts);
		if (ts.tv_sec != stamp.sec) {
			struct tm tm;

			gmtime_r(&ts.tv_sec, &tm);
			stamp.len = strftime(stamp.text, sizeof(stamp.text), "%Y-%m-%dT%H:%M:%S", &tm);
			stamp.sec = ts.tv_sec;
		}
		n = add(line, n, LINE_MAX_LEN, stamp.text, stamp.len);
		ms = ts.tv_nsec / 1000000;
		line[n++] = '.';
		line[n++] = (char)('0' + ms / 100);
		line[n++] = (char)('0' + ms / 10 % 10);
		line[n++] = (char)('0' + ms % 10);
		line[n++] = ' ';
		n = add(line, n, LINE_MAX_LEN, level_names[level], strlen(level_names[level]));
		line[n++] = ' ';
	}
	if (tag) {
		n = add(line, n, LINE_MAX_LEN, tag, strlen(tag));
		n = add(line, n, LINE_MAX_LEN, ": ", 2);
	}
	return n;
}

__attribute__((format(printf, 4, 0))) static void log_vemit(enum log_level level, const char *tag,
							    int errnum, const char *fmt, va_list ap)
{
	char line[LINE_MAX_LEN];
	size_t n = line_start(line, level, tag);
	int r;

	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n = n + (size_t)r < sizeof(line) ? n + (size_t)r : sizeof(line) - 1;
	if (errnum) {
		r = snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnum));
		if (r > 0)
			n = n + (size_t)r < sizeof(line) ? n + (size_t)r : sizeof(line) - 1;
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line_out(level, line, n);
}

void log_text(enum log_level level, const char *tag, const char *text, size_t len)
{
	char line[LINE_MAX_LEN];
	size_t n = line_start(line, level, tag);

	n = add(line, n, sizeof(line) - 1, text, len);
	line_out(level, line, n);
}

void log_emit(enum log_level level, const char *tag, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(level, tag, errnum, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LEVEL_ERR, NULL, 0, fmt, ap);
	va_end(ap);
	log_flush();
	exit(1);
}

/* Writes the escaped form of c into enc (4 bytes); returns its length. */
static size_t escape_byte(unsigned char c, char enc[4])
{
	static const char hex[] = "0123456789abcdef";

	if (c == '"' || c == '\\') {
		enc[0] = '\\';
		enc[1] = (char)c;
		return 2;
	}
	if (c >= 0x20 && c < 0x7f) {
		enc[0] = (char)c;
		return 1;
	}
	enc[0] = '\\';
	enc[1] = 'x';
	enc[2] = hex[c >> 4];
	enc[3] = hex[c & 15];
	return 4;
}

char *log_escape(char *dst, size_t dstsz, const void *src, size_t len)
{
	const unsigned char *s = src;
	size_t o = 0, total = 0, room;
	char enc[4];

	if (dstsz == 0)
		return dst;
	for (size_t i = 0; i < len && total < dstsz; i++)
		total += escape_byte(s[i], enc);
	/* What does not fit whole is cut at a byte's escape and ends in "...". */
	room = total < dstsz ? dstsz - 1 : (dstsz >= 4 ? dstsz - 4 : 0);
	for (size_t i = 0; i < len; i++) {
		size_t el = escape_byte(s[i], enc);

		if (o + el > room)
			break;
		memcpy(dst + o, enc, el);
		o += el;
	}
	if (total >= dstsz && dstsz >= 4) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}
