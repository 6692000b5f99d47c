// SPDX-License-Identifier: MIT
/*
 * GET /metrics: the Prometheus text format (exposition format 0.0.4), every metric listed
 * in docs/admin.md. The serving loop's counters are read from its site's struct
 * site_metrics with relaxed atomics, and nothing else of that site is touched; the
 * inventory's size is the one the admin thread keeps (admin_inventory_devices: a scrape
 * never waits for a count); the process's figures from the kernel.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin.h"
#include "admin/api.h"
#include "core/log.h"
#include "site/metrics.h"
#include "site/site.h"
#include "site/inventory.h"

#define TAG "admin"

static const uint64_t duration_bounds[] = METRICS_DURATION_BOUNDS;

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label's value as the format wants it: \, " and newline escaped. */
static void label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\n') {
			fputs("\\n", f);
			continue;
		}
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		fputc(*v, f);
	}
}

/* Whether proto may end a request with o: those series are listed even at 0. */
static bool outcome_applies(enum metrics_proto proto, enum outcome o)
{
	if (proto == METRICS_SIP)
		return o >= OUTCOME_PNP_URL_SENT || o == OUTCOME_BUSY || o == OUTCOME_ERROR;
	return o < OUTCOME_PNP_URL_SENT;
}

static void requests(FILE *f, const struct site_metrics *m)
{
	head(f, "autoprov_requests_total", "counter",
	     "Requests ended (each one journal row and log line), by protocol and outcome.");
	for (unsigned p = 0; p < _METRICS_PROTO_MAX; p++)
		for (unsigned o = 0; o < _OUTCOME_MAX; o++) {
			uint64_t n = metrics_get(&m->requests[p][o]);

			if (n || outcome_applies(p, o))
				fprintf(f,
					"autoprov_requests_total{proto=\"%s\",outcome=\"%s\"} %llu\n",
					metrics_proto_name(p), outcome_metric_name(o),
					(unsigned long long)n);
		}
	head(f, "autoprov_sent_bytes_total", "counter",
	     "Bytes of files sent, by protocol (as journaled: what the request ended with).");
	for (unsigned p = 0; p < _METRICS_PROTO_MAX; p++)
		fprintf(f, "autoprov_sent_bytes_total{proto=\"%s\"} %llu\n", metrics_proto_name(p),
			(unsigned long long)metrics_get(&m->bytes[p]));
	head(f, "autoprov_request_duration_seconds", "histogram",
	     "Time from a request's arrival (a TFTP or FTP transfer's start) to its end, by "
	     "protocol.");
	for (unsigned p = 0; p < _METRICS_PROTO_MAX; p++) {
		const char *pn = metrics_proto_name(p);
		uint64_t cum = 0;

		for (unsigned b = 0; b < METRICS_DURATION_BUCKETS; b++) {
			cum += metrics_get(&m->duration_bucket[p][b]);
			if (b < METRICS_DURATION_BUCKETS - 1)
				fprintf(f,
					"autoprov_request_duration_seconds_bucket{proto=\"%s\",le=\"%g\"} "
					"%llu\n",
					pn, (double)duration_bounds[b] / 1e6,
					(unsigned long long)cum);
			else
				fprintf(f,
					"autoprov_request_duration_seconds_bucket{proto=\"%s\",le=\"+Inf\"} "
					"%llu\n",
					pn, (unsigned long long)cum);
		}
		fprintf(f, "autoprov_request_duration_seconds_sum{proto=\"%s\"} %.6f\n", pn,
			(double)metrics_get(&m->duration_sum_us[p]) / 1e6);
		fprintf(f, "autoprov_request_duration_seconds_count{proto=\"%s\"} %llu\n", pn,
			(unsigned long long)cum);
	}
	head(f, "autoprov_transfers_in_flight", "gauge",
	     "Transfers in progress: TFTP transfers, HTTP(S) file bodies being sent, FTP data "
	     "transfers, SIP PnP subscriptions whose NOTIFY is not answered yet.");
	for (unsigned p = 0; p < _METRICS_PROTO_MAX; p++)
		fprintf(f, "autoprov_transfers_in_flight{proto=\"%s\"} %llu\n",
			metrics_proto_name(p), (unsigned long long)metrics_get(&m->transfers[p]));
	head(f, "autoprov_connections_open", "gauge",
	     "Connections open, by protocol (HTTP, HTTPS, FTP control connections).");
	for (unsigned p = METRICS_HTTP; p <= METRICS_FTP; p++)
		fprintf(f, "autoprov_connections_open{proto=\"%s\"} %llu\n", metrics_proto_name(p),
			(unsigned long long)metrics_get(&m->connections[p]));
}

static void site_counters(FILE *f, const struct site_metrics *m)
{
	static const char *const store_kinds[_STORE_ERROR_MAX] = {
		[STORE_ERROR_BUSY] = "busy",
		[STORE_ERROR_FULL] = "full",
		[STORE_ERROR_IO] = "io",
		[STORE_ERROR_OTHER] = "other",
	};
	static const char *const blocked_kinds[3] = { "address", "prefix", "trusted_mac" };

	head(f, "autoprov_render_cache_hits_total", "counter",
	     "Rendered files served from the render cache.");
	fprintf(f, "autoprov_render_cache_hits_total %llu\n",
		(unsigned long long)metrics_get(&m->render_hits));
	head(f, "autoprov_render_cache_misses_total", "counter",
	     "Templates rendered because the cache did not hold the file.");
	fprintf(f, "autoprov_render_cache_misses_total %llu\n",
		(unsigned long long)metrics_get(&m->render_misses));
	head(f, "autoprov_render_cache_entries", "gauge", "Rendered files the cache holds.");
	fprintf(f, "autoprov_render_cache_entries %llu\n",
		(unsigned long long)metrics_get(&m->render_entries));
	head(f, "autoprov_render_cache_bytes", "gauge", "Bytes of rendered files the cache holds.");
	fprintf(f, "autoprov_render_cache_bytes %llu\n",
		(unsigned long long)metrics_get(&m->render_bytes));

	head(f, "autoprov_journal_queue_length", "gauge",
	     "Journal rows queued for the journal's writer thread.");
	fprintf(f, "autoprov_journal_queue_length %llu\n",
		(unsigned long long)metrics_get(&m->journal_queued));
	head(f, "autoprov_journal_dropped_total", "counter",
	     "Journal rows not recorded: the queue was full, or the database refused writes.");
	fprintf(f, "autoprov_journal_dropped_total{reason=\"queue_full\"} %llu\n",
		(unsigned long long)metrics_get(&m->journal_dropped_full));
	fprintf(f, "autoprov_journal_dropped_total{reason=\"read_only\"} %llu\n",
		(unsigned long long)metrics_get(&m->journal_dropped_readonly));
	head(f, "autoprov_journal_read_only", "gauge",
	     "1 while the database refuses the journal's writes (a full disk), else 0.");
	fprintf(f, "autoprov_journal_read_only %llu\n",
		(unsigned long long)metrics_get(&m->journal_readonly));

	head(f, "autoprov_login_failures_total", "counter",
	     "Failed logins of devices and site users (HTTP Basic and Digest, FTP).");
	fprintf(f, "autoprov_login_failures_total %llu\n",
		(unsigned long long)metrics_get(&m->login_failures));

	head(f, "autoprov_blocked_peers", "gauge",
	     "What the enumeration defence blocks now: addresses, prefixes, (trusted address, "
	     "MAC) pairs.");
	for (unsigned i = 0; i < 3; i++)
		fprintf(f, "autoprov_blocked_peers{scope=\"%s\"} %llu\n", blocked_kinds[i],
			(unsigned long long)metrics_get(&m->defence_blocked[i]));
	head(f, "autoprov_defence_misses_total", "counter",
	     "Requests for devices the peer may not have (unknown MACs, another device's file, "
	     "failed logins) reported to the enumeration defence.");
	fprintf(f, "autoprov_defence_misses_total %llu\n",
		(unsigned long long)metrics_get(&m->defence_misses));
	head(f, "autoprov_defence_blocks_total", "counter",
	     "Blocks the enumeration defence started.");
	fprintf(f, "autoprov_defence_blocks_total %llu\n",
		(unsigned long long)metrics_get(&m->defence_blocks));
	head(f, "autoprov_defence_refused_total", "counter",
	     "Requests refused because their peer was blocked.");
	fprintf(f, "autoprov_defence_refused_total %llu\n",
		(unsigned long long)metrics_get(&m->defence_refused));

	head(f, "autoprov_store_errors_total", "counter",
	     "Failures of the database on the serving daemon's connections, by kind.");
	for (unsigned k = 0; k < _STORE_ERROR_MAX; k++)
		fprintf(f, "autoprov_store_errors_total{kind=\"%s\"} %llu\n", store_kinds[k],
			(unsigned long long)metrics_get(&m->store_errors[k]));
}

/* The process: the names and meanings client libraries' process collectors use. */
static void process(FILE *f, const struct admin_info *info)
{
	struct rusage ru;
	struct rlimit rl;
	FILE *statm;
	DIR *d;

	head(f, "process_start_time_seconds", "gauge",
	     "Start time of the process since the Unix epoch in seconds.");
	fprintf(f, "process_start_time_seconds %lld\n", (long long)info->started);
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		head(f, "process_cpu_seconds_total", "counter",
		     "Total user and system CPU time spent in seconds.");
		fprintf(f, "process_cpu_seconds_total %.6f\n",
			(double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
				(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	}
	statm = fopen("/proc/self/statm", "re");
	if (statm) {
		unsigned long long size, resident;

		if (fscanf(statm, "%llu %llu", &size, &resident) == 2) {
			long page = sysconf(_SC_PAGESIZE);

			head(f, "process_virtual_memory_bytes", "gauge",
			     "Virtual memory size in bytes.");
			fprintf(f, "process_virtual_memory_bytes %llu\n",
				size * (unsigned long long)page);
			head(f, "process_resident_memory_bytes", "gauge",
			     "Resident memory size in bytes.");
			fprintf(f, "process_resident_memory_bytes %llu\n",
				resident * (unsigned long long)page);
		}
		fclose(statm);
	}
	d = opendir("/proc/self/fd");
	if (d) {
		unsigned long long n = 0;
		struct dirent *e;

		while ((e = readdir(d)))
			if (e->d_name[0] != '.')
				n++;
		closedir(d);
		head(f, "process_open_fds", "gauge", "Number of open file descriptors.");
		fprintf(f, "process_open_fds %llu\n", n > 0 ? n - 1 : 0); /* less opendir's own */
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		head(f, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
		fprintf(f, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
	}
	head(f, "autoprov_build_info", "gauge", "The version of autoprov serving: always 1.");
	fputs("autoprov_build_info{version=\"", f);
	label_value(f, info->version);
	fputs("\"} 1\n", f);
}

static void get_metrics(struct admin_request *r)
{
	const struct admin_info *info = admin_info(r);
	char *text = NULL;
	size_t len = 0;
	uint64_t devices, seen;
	FILE *f = open_memstream(&text, &len);

	if (!f) {
		admin_problem(r, 500, NULL, NULL, "out of memory");
		return;
	}
	if (info->serving)
		requests(f, site_metrics(info->serving));
	if (info->serving)
		site_counters(f, site_metrics(info->serving));
	head(f, "autoprov_admin_token_failures_total", "counter",
	     "Requests to the admin listener with an unknown, removed or expired token.");
	fprintf(f, "autoprov_admin_token_failures_total %llu\n",
		(unsigned long long)metrics_get(&site_metrics(admin_site(r))->login_failures));
	if (admin_inventory_devices(r, &devices, &seen)) {
		head(f, "autoprov_inventory_devices", "gauge", "Devices in the inventory.");
		fprintf(f, "autoprov_inventory_devices %llu\n", (unsigned long long)devices);
		head(f, "autoprov_devices_seen_24h", "gauge",
		     "Devices of the inventory that made a request in the last 24 hours.");
		fprintf(f, "autoprov_devices_seen_24h %llu\n", (unsigned long long)seen);
	} else {
		log_warnx(TAG, "/metrics: the inventory cannot be counted: %s",
			  inventory_strerror(admin_site(r)));
	}
	process(f, info);
	if (fclose(f) != 0 || !text) {
		free(text);
		admin_problem(r, 500, NULL, NULL, "out of memory");
		return;
	}
	admin_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	free(text);
}

const struct admin_route admin_routes_metrics[] = {
	{ EVHTTP_REQ_GET, "/metrics", ADMIN_METRICS, get_metrics },
	{ 0, NULL, 0, NULL },
};
