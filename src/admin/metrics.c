/* SPDX-License-Identifier: MIT */
/*
 * metrics.c - see metrics.h: the shards, the sink that counts records into
 * them, and the text-format render.
 *
 * A shard is one flat array of counters; each family owns a slice of it
 * at a fixed offset, indexed by its labels' table positions. Summing the
 * shards is then one loop over one array, and the render walks the same
 * offsets. Histogram buckets are stored per bucket (not cumulative): an
 * observation touches one bucket, the sum and nothing else; the render
 * accumulates them and takes the count from the buckets, so a scrape's
 * +Inf bucket always equals its _count.
 */
#include "admin/metrics.h"
#include "util/mem.h"
#include "util/version.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* --- label tables (the last entry of each is "other") -------------------------------- */

/* The service label: the services' port names (metrics_init()), then
   "queue", "metrics" and "other". The layout keeps room for the most. */
#define N_SVC METRICS_SERVICES_MAX
static const char *services[N_SVC] = {"queue", "metrics", "other"};
static size_t n_svc = 3;

/* Sorted (binary search): the POP3, SMTP and IMAP verbs, and HTTP's for
   the metrics listener itself. */
static const char *const commands[] = {
    "APOP",	"APPEND",	"AUTH",	    "AUTHENTICATE", "BDAT",	"CAPA",	       "CAPABILITY",
    "CHECK",	"CLOSE",	"COPY",	    "CREATE",	    "DATA",	"DELE",	       "DELETE",
    "EHLO",	"ENABLE",	"EXAMINE",  "EXPN",	    "EXPUNGE",	"FETCH",       "GET",
    "GETQUOTA", "GETQUOTAROOT", "HEAD",	    "HELO",	    "HELP",	"ID",	       "IDLE",
    "LIST",	"LOGIN",	"LOGOUT",   "LSUB",	    "MAIL",	"MOVE",	       "NAMESPACE",
    "NOOP",	"PASS",		"QUIT",	    "RCPT",	    "RENAME",	"RETR",	       "RSET",
    "SEARCH",	"SELECT",	"SETQUOTA", "STARTTLS",	    "STAT",	"STATUS",      "STLS",
    "STORE",	"SUBSCRIBE",	"TOP",	    "UIDL",	    "UNSELECT", "UNSUBSCRIBE", "USER",
    "VRFY",	"other"};
#define N_CMD (sizeof(commands) / sizeof(commands[0]))

static const char *const mechs[] = {"USER",	     "APOP",	 "PLAIN",  "LOGIN",
				    "SCRAM-SHA-256", "EXTERNAL", "GSSAPI", "other"};
#define N_MECH (sizeof(mechs) / sizeof(mechs[0]))

/* error: the check could not be made (store or directory down) */
static const char *const login_results[] = {"ok", "failed", "refused", "error", "other"};
#define N_LRES (sizeof(login_results) / sizeof(login_results[0]))

/* "none": a handshake that failed before a version was agreed */
static const char *const tls_versions[] = {"TLSv1",   "TLSv1.1", "TLSv1.2",
					   "TLSv1.3", "none",	 "other"};
#define N_TLSV (sizeof(tls_versions) / sizeof(tls_versions[0]))

static const char *const ok_failed[] = {"ok", "failed"};
static const char *const ok_err[] = {"ok", "err"};
static const char *const conn_results[] = {"accepted", "refused"};

/* report: a delivery status notification made for the recipient */
static const char *const delivery_results[] = {"sent",	"deferred", "bounced", "expired",
					       "local", "report",   "other"};
#define N_DELIV (sizeof(delivery_results) / sizeof(delivery_results[0]))

/* Upper bounds in microseconds, and as the le label says them. */
static const uint64_t bucket_usec[] = {1000,	2500,	 5000,	   10000,    25000,
				       50000,	100000,	 250000,   500000,   1000000,
				       2500000, 5000000, 10000000, 30000000, 60000000};
static const char *const bucket_le[] = {"0.001", "0.0025", "0.005", "0.01", "0.025",
					"0.05",	 "0.1",	   "0.25",  "0.5",  "1",
					"2.5",	 "5",	   "10",    "30",   "60"};
#define N_BOUNDS (sizeof(bucket_usec) / sizeof(bucket_usec[0]))
#define N_BUCKETS (N_BOUNDS + 1)   /* + the +Inf bucket */
#define HIST_SLOTS (N_BUCKETS + 1) /* + the sum in microseconds */

enum hist { HIST_LOGIN, HIST_RETR, HIST_DATA, N_HIST };

/* --- the counter layout ---------------------------------------------------------------- */

enum {
	OFF_CONN = 0,				       /* [svc][accepted, refused] */
	OFF_SESS = OFF_CONN + N_SVC * 2,	       /* [svc] */
	OFF_LOGIN = OFF_SESS + N_SVC,		       /* [svc][mech][result] */
	OFF_TLS = OFF_LOGIN + N_SVC * N_MECH * N_LRES, /* [svc][version][ok, failed] */
	OFF_CMD = OFF_TLS + N_SVC * N_TLSV * 2,	       /* [svc][command][ok, err] */
	OFF_MSG_RX = OFF_CMD + N_SVC * N_CMD * 2,      /* [svc] */
	OFF_MSG_REFUSED = OFF_MSG_RX + N_SVC,	       /* [svc] */
	OFF_DELIV = OFF_MSG_REFUSED + N_SVC,	       /* [result] */
	OFF_HIST = OFF_DELIV + N_DELIV,		       /* [hist][bucket..., sum] */
	N_COUNTERS = OFF_HIST + N_HIST * HIST_SLOTS
};

struct shard {
	struct shard *next; /* set before the shard is published, never after */
	bool shared;	    /* written by several threads: atomic adds */
	_Atomic uint64_t c[N_COUNTERS];
};

static pthread_mutex_t shards_mu = PTHREAD_MUTEX_INITIALIZER;
static struct shard *_Atomic shards; /* newest first */
static unsigned n_shards;	     /* under shards_mu */
static struct shard *overflow;	     /* under shards_mu; the shared one */
static _Thread_local struct shard *my_shard;
static struct timespec started;

void metrics_init(const char *const *ports, size_t n)
{
	static const char *const own[] = {"queue", "metrics", "other"};

	if (n > N_SVC - 3)
		n = N_SVC - 3; /* the rest count as "other" */
	for (size_t i = 0; i < n; i++)
		services[i] = ports[i];
	for (size_t i = 0; i < 3; i++)
		services[n + i] = own[i];
	n_svc = n + 3;
	clock_gettime(CLOCK_REALTIME, &started);
}

static struct shard *shard_get(void)
{
	if (my_shard != NULL)
		return my_shard;
	pthread_mutex_lock(&shards_mu);
	if (n_shards < METRICS_SHARDS_MAX || overflow == NULL) {
		struct shard *s = xcalloc(1, sizeof(*s));
		s->shared = n_shards >= METRICS_SHARDS_MAX;
		if (s->shared)
			overflow = s;
		n_shards++;
		s->next = atomic_load_explicit(&shards, memory_order_relaxed);
		atomic_store_explicit(&shards, s, memory_order_release);
		my_shard = s;
	} else {
		my_shard = overflow;
	}
	pthread_mutex_unlock(&shards_mu);
	return my_shard;
}

static void bump(struct shard *s, size_t i, uint64_t n)
{
	if (s->shared)
		atomic_fetch_add_explicit(&s->c[i], n, memory_order_relaxed);
	else
		atomic_store_explicit(&s->c[i],
				      atomic_load_explicit(&s->c[i], memory_order_relaxed) + n,
				      memory_order_relaxed);
}

/* --- from a record to counter indexes -------------------------------------------------- */

/* The position of v in a table whose last entry is "other"; NULL is "other". */
static size_t lookup(const char *const *table, size_t n, const char *v)
{
	for (size_t i = 0; v != NULL && i + 1 < n; i++)
		if (strcasecmp(table[i], v) == 0)
			return i;
	return n - 1;
}

static size_t command_index(const char *v)
{
	size_t lo = 0, hi = N_CMD - 1; /* "other" is not part of the search */

	while (v != NULL && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcasecmp(v, commands[mid]);
		if (c == 0)
			return mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return N_CMD - 1;
}

static bool is_ok(const char *result)
{
	return result != NULL && strcmp(result, "ok") == 0;
}

static void observe(struct shard *s, enum hist h, uint64_t usec)
{
	size_t b = 0;
	while (b < N_BOUNDS && usec > bucket_usec[b])
		b++;
	bump(s, OFF_HIST + h * HIST_SLOTS + b, 1);
	bump(s, OFF_HIST + h * HIST_SLOTS + N_BUCKETS, usec);
}

/* A message record's result is the final reply's code: 2xx accepted,
   anything else refused; none (or "ok") is accepted too. */
static bool message_accepted(const char *result)
{
	return result == NULL || result[0] == '2' || strcmp(result, "ok") == 0;
}

void metrics_record(const struct log_record *r)
{
	struct shard *s = shard_get();
	size_t svc = lookup(services, n_svc, r->service);

	switch (r->event) {
	case LOG_EV_CONNECT: {
		bool accepted = r->result == NULL || strcmp(r->result, "accepted") == 0;
		bump(s, OFF_CONN + svc * 2 + (accepted ? 0 : 1), 1);
		break;
	}
	case LOG_EV_TLS: {
		size_t v = r->tls == NULL ? N_TLSV - 2 : lookup(tls_versions, N_TLSV, r->tls);
		if (v == N_TLSV - 2 && r->tls != NULL)
			v = N_TLSV - 1; /* a version literally named "none" */
		bump(s, OFF_TLS + (svc * N_TLSV + v) * 2 + (is_ok(r->result) ? 0 : 1), 1);
		break;
	}
	case LOG_EV_COMMAND: {
		size_t cmd = command_index(r->command);
		bump(s, OFF_CMD + (svc * N_CMD + cmd) * 2 + (is_ok(r->result) ? 0 : 1), 1);
		if (cmd != N_CMD - 1 && strcmp(commands[cmd], "RETR") == 0 && is_ok(r->result))
			observe(s, HIST_RETR, r->usec);
		break;
	}
	case LOG_EV_LOGIN: {
		size_t m = lookup(mechs, N_MECH, r->mech);
		size_t res = lookup(login_results, N_LRES, r->result);
		bump(s, OFF_LOGIN + (svc * N_MECH + m) * N_LRES + res, 1);
		observe(s, HIST_LOGIN, r->usec);
		break;
	}
	case LOG_EV_MESSAGE:
		if (message_accepted(r->result)) {
			bump(s, OFF_MSG_RX + svc, 1);
			observe(s, HIST_DATA, r->usec);
		} else {
			bump(s, OFF_MSG_REFUSED + svc, 1);
		}
		break;
	case LOG_EV_SESSION:
		bump(s, OFF_SESS + svc, 1);
		break;
	case LOG_EV_DELIVERY:
		bump(s, OFF_DELIV + lookup(delivery_results, N_DELIV, r->result), 1);
		break;
	case LOG_EV_COUNT:
		break;
	}
}

/* --- render ---------------------------------------------------------------------------- */

struct label {
	const char *name, *value;
};

void metrics_label_escape(struct buf *out, const char *value)
{
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '\\')
			buf_append_str(out, "\\\\");
		else if (*p == '"')
			buf_append_str(out, "\\\"");
		else if (*p == '\n')
			buf_append_str(out, "\\n");
		else
			buf_append_c(out, *p);
	}
}

static void family(struct buf *o, const char *name, const char *type, const char *help)
{
	buf_printf(o, "# HELP mailroom_%s %s\n# TYPE mailroom_%s %s\n", name, help, name, type);
}

static void sample_name(struct buf *o, const char *name, const char *suffix,
			const struct label *labels, size_t n)
{
	buf_printf(o, "mailroom_%s%s", name, suffix);
	for (size_t i = 0; i < n; i++) {
		buf_printf(o, "%s%s=\"", i == 0 ? "{" : ",", labels[i].name);
		metrics_label_escape(o, labels[i].value);
		buf_append_c(o, '"');
	}
	if (n > 0)
		buf_append_c(o, '}');
}

static void sample(struct buf *o, const char *name, const struct label *labels, size_t n,
		   uint64_t v)
{
	sample_name(o, name, "", labels, n);
	buf_printf(o, " %llu\n", (unsigned long long)v);
}

static void gauge(struct buf *o, const char *name, const char *help, uint64_t v)
{
	family(o, name, "gauge", help);
	sample(o, name, NULL, 0, v);
}

/* A counter family with one label, service, over the per-service slice. */
static void per_service(struct buf *o, const uint64_t *t, const char *name, const char *help)
{
	family(o, name, "counter", help);
	for (size_t i = 0; i < n_svc; i++)
		if (t[i] != 0)
			sample(o, name, &(struct label){"service", services[i]}, 1, t[i]);
}

/* A counter family {service, <key>, result} over [svc][key][result]. */
static void per_service_key(struct buf *o, const uint64_t *t, const char *name, const char *help,
			    const char *key, const char *const *keys, size_t n_keys,
			    const char *const *results, size_t n_results)
{
	family(o, name, "counter", help);
	for (size_t i = 0; i < n_svc; i++)
		for (size_t k = 0; k < n_keys; k++)
			for (size_t r = 0; r < n_results; r++) {
				uint64_t v = t[(i * n_keys + k) * n_results + r];
				if (v == 0)
					continue;
				struct label l[] = {{"service", services[i]},
						    {key, keys[k]},
						    {"result", results[r]}};
				sample(o, name, l, 3, v);
			}
}

static void histogram(struct buf *o, const uint64_t *t, const char *name, const char *help)
{
	uint64_t cum = 0, sum = t[N_BUCKETS];

	family(o, name, "histogram", help);
	for (size_t b = 0; b < N_BUCKETS; b++) {
		cum += t[b];
		sample_name(o, name, "_bucket",
			    &(struct label){"le", b < N_BOUNDS ? bucket_le[b] : "+Inf"}, 1);
		buf_printf(o, " %llu\n", (unsigned long long)cum);
	}
	sample_name(o, name, "_sum", NULL, 0);
	buf_printf(o, " %llu.%06llu\n", (unsigned long long)(sum / 1000000),
		   (unsigned long long)(sum % 1000000));
	sample_name(o, name, "_count", NULL, 0);
	buf_printf(o, " %llu\n", (unsigned long long)cum);
}

static void sum_shards(uint64_t *t)
{
	memset(t, 0, N_COUNTERS * sizeof(*t));
	for (struct shard *s = atomic_load_explicit(&shards, memory_order_acquire); s != NULL;
	     s = s->next)
		for (size_t i = 0; i < N_COUNTERS; i++)
			t[i] += atomic_load_explicit(&s->c[i], memory_order_relaxed);
}

static void render_connections(struct buf *o, const uint64_t *t)
{
	family(o, "connections_total", "counter",
	       "Connections by service, accepted or refused at a limit.");
	for (size_t i = 0; i < n_svc; i++)
		for (size_t r = 0; r < 2; r++)
			if (t[OFF_CONN + i * 2 + r] != 0)
				sample(o, "connections_total",
				       (struct label[]){{"service", services[i]},
							{"result", conn_results[r]}},
				       2, t[OFF_CONN + i * 2 + r]);
	family(o, "connections_open", "gauge",
	       "Connections open now: accepted minus ended sessions, by service.");
	for (size_t i = 0; i < n_svc; i++) {
		uint64_t in = t[OFF_CONN + i * 2], out = t[OFF_SESS + i];
		if (in != 0)
			sample(o, "connections_open", &(struct label){"service", services[i]}, 1,
			       in > out ? in - out : 0);
	}
	per_service(o, t + OFF_SESS, "sessions_total", "Sessions (connections) ended, by service.");
}

/* VmRSS from /proc/self/statm (resident pages, the second field); 0 where
   it cannot be read */
static uint64_t resident_bytes(void)
{
	unsigned long long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void render_memory(struct buf *o)
{
	/* in use by malloc: small chunks in every arena plus the large ones it
	   maps on their own. Unlike the RSS it does not count pages malloc keeps
	   after a free, the mapped store or huge-page rounding: it is what grows
	   when something is kept that should not be. */
	struct mallinfo2 mi = mallinfo2();
	gauge(o, "memory_heap_bytes", "Bytes allocated with malloc and not freed yet.",
	      (uint64_t)(mi.uordblks + mi.hblkhd));
	gauge(o, "memory_resident_bytes",
	      "Resident set size of the process (VmRSS): heap, mapped files and shared memory.",
	      resident_bytes());
}

void metrics_render(struct buf *o, const struct metrics_gauges *g)
{
	uint64_t *t = xcalloc(N_COUNTERS, sizeof(*t));

	sum_shards(t);
	family(o, "build_info", "gauge", "Always 1; the version of the running mailroom.");
	sample(o, "build_info", &(struct label){"version", MAILROOM_VERSION}, 1, 1);
	gauge(o, "up", "Always 1 while mailroom serves.", 1);
	family(o, "process_start_time_seconds", "gauge",
	       "When mailroom started, in seconds since the Unix epoch.");
	buf_printf(o, "mailroom_process_start_time_seconds %lld.%03ld\n", (long long)started.tv_sec,
		   started.tv_nsec / 1000000);
	render_memory(o);

	render_connections(o, t);
	per_service_key(o, t + OFF_LOGIN, "logins_total",
			"Logins decided, by service, mechanism and result.", "mech", mechs, N_MECH,
			login_results, N_LRES);
	per_service_key(o, t + OFF_TLS, "tls_handshakes_total",
			"TLS handshakes finished, by service, protocol version and result.",
			"version", tls_versions, N_TLSV, ok_failed, 2);
	per_service_key(o, t + OFF_CMD, "commands_total",
			"Protocol commands answered, by service, command and result.", "command",
			commands, N_CMD, ok_err, 2);
	per_service(o, t + OFF_MSG_RX, "messages_received_total",
		    "Messages accepted (the final 250), by service.");
	per_service(o, t + OFF_MSG_REFUSED, "messages_refused_total",
		    "Messages refused at the end of their data, by service.");
	family(o, "deliveries_total", "counter",
	       "Delivery attempts per recipient, by result (local: delivered here; report: a "
	       "status notification made).");
	for (size_t i = 0; i < N_DELIV; i++)
		if (i + 1 < N_DELIV || t[OFF_DELIV + i] != 0)
			sample(o, "deliveries_total",
			       &(struct label){"result", delivery_results[i]}, 1, t[OFF_DELIV + i]);

	histogram(o, t + OFF_HIST + HIST_LOGIN * HIST_SLOTS, "login_duration_seconds",
		  "Time from a login command to its answer, the login brake's wait included.");
	histogram(o, t + OFF_HIST + HIST_RETR * HIST_SLOTS, "retr_duration_seconds",
		  "Time to answer a POP3 RETR that succeeded, the message sent.");
	histogram(o, t + OFF_HIST + HIST_DATA * HIST_SLOTS, "data_to_250_seconds",
		  "Time from the end of a message's data to its 250 (the store commit).");

	family(o, "auth_cache_hits_total", "counter", "Logins answered from the auth cache.");
	sample(o, "auth_cache_hits_total", NULL, 0, g->auth_cache_hits);
	gauge(o, "penalty_entries", "Entries in the login brake's table (addresses, accounts).",
	      g->penalty_entries);
	gauge(o, "workers_queue_depth", "Store jobs waiting for or running on a worker thread.",
	      g->workers_queue_depth);
	gauge(o, "store_up", "1 if the store answered the last query, else 0.", g->store_ok);
	if (g->store_ok) {
		gauge(o, "queue_messages", "Messages in the outbound queue, held ones included.",
		      g->queue_messages);
		gauge(o, "queue_oldest_age_seconds",
		      "Age of the oldest message in the outbound queue; 0 when it is empty.",
		      g->queue_oldest_age_seconds);
		gauge(o, "store_bytes", "Size of the store's database in bytes.", g->store_bytes);
		gauge(o, "store_bodies", "Message bodies stored (one per distinct message).",
		      g->store_bodies);
	}
	free(t);
}
