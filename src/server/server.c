/* SPDX-License-Identifier: MIT */
/*
 * server.c - `mailroom serve` (see server.h): listeners, connection limits,
 * signals, and the start-up and shutdown order.
 *
 * Start-up: signals are blocked first (worker threads inherit the mask and
 * the loop reads them from a signalfd), the open-files limit is raised, the
 * store's presence, [server] user and the data dir's owner are checked, the
 * loop is made and the listeners bound; then, while the process still has
 * one thread, it switches to [server] user (privdrop.h). Only after that is
 * the store opened, the TLS context loaded (so no SQLite or OpenSSL code ever
 * runs as root) and the worker pool, the services and the queue started. Name
 * resolution of listen addresses happens here, never later. Any failure
 * before "mailroom ready" stops the process with a message naming the cause.
 * Not started as root, the capabilities a service manager gave (to bind
 * ports below 1024) are dropped once the listeners are bound. A service
 * manager ($NOTIFY_SOCKET, notify.h) hears READY once the loop runs,
 * RELOADING and READY around a SIGHUP reload, and STOPPING at shutdown.
 *
 * Shutdown (SIGTERM/SIGINT): listeners close, handshakes in progress are
 * aborted, every POP3 session gets a last reply and closes; after
 * SERVER_GRACE_SECS the rest are aborted. Worker jobs already queued finish
 * (workers_free), then everything is freed and server_run() returns 0.
 * Loop thread only; no global state.
 */
#include "server/server.h"
#include "smtp/smtp.h"
#include "server/schema.h"
#include "server/notify.h"
#include "server/services.h"
#include "server/privdrop.h"
#include "admin/admin.h"
#include "delivery/delivery.h"
#include "directory/directory.h"
#include "directory/penalty.h"
#include "dns/dns.h"
#include "dns/dns_async.h"
#include "dns/dns_sync.h"
#include "filter/filter.h"
#include "net/conn_private.h"
#include "net/listen.h"
#include "net/loop.h"
#include "net/workers.h"
#include "proto/sasl.h"
#include "proto/service.h"
#include "queue/queue.h"
#include "store/store.h"
#include "tls/tls.h"
#include "util/log.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define SERVER_BACKLOG 1024
#define SERVER_PORTS_MAX 16
#define SERVER_LISTEN_FDS_MAX 16 /* sockets one configured address may open */
#define SERVER_ACCEPT_BATCH 256	 /* per wake-up, so one port cannot starve the rest */
#define SERVER_ACCEPT_PAUSE_MS 100
#define SERVER_GRACE_SECS 10
#define SERVER_JOB_QUEUE_MAX 4096
#define DNSSEC_PROBE_SECS 3 /* the start-up check of the resolver (dns/dns_sync.h) */
#define SERVER_IP_BUCKETS 4096
#define SERVER_NOFILE_CAP (1u << 20)

/* One port of one service; lives as long as the server (a connection in
   its TLS handshake points here, and may outlive its listener). */
struct port_ctx {
	struct server_priv *sp;
	size_t svc; /* index in server_services */
	const struct service_port *port;
};

struct listener {
	struct listener *next;
	struct server_priv *sp;
	struct port_ctx *pc;
	struct timer *pause; /* accept paused after EMFILE/ENFILE */
	int fd;
	char addr[INET6_ADDRSTRLEN + 8];
};

struct ip_count {
	struct ip_count *next;
	unsigned count;
	char ip[INET6_ADDRSTRLEN];
};

struct server_priv {
	struct service_env env;		/* what every service and the admin see */
	struct tls_ctx *tls;		/* NULL if no certificate could be loaded */
	struct queue_mgr *queue;	/* NULL with [delivery] enabled = no */
	void *svc[SERVER_SERVICES_MAX]; /* one instance per server_services entry */
	struct port_ctx ports[SERVER_PORTS_MAX];
	size_t n_ports;
	unsigned connections;
	struct conn_mgr *conns;
	struct listener *listeners;
	struct ip_count *ips[SERVER_IP_BUCKETS];
	struct notify *notify; /* the service manager ($NOTIFY_SOCKET), or NULL */
	struct admin *admin;   /* [metrics] listen, or NULL */
	int sigfd;
	bool stopping, reloading;
	struct timer *stop_check, *grace;
};

/* --- per-IP connection counts ------------------------------------------------------ */

static struct ip_count **ip_find(struct server_priv *sp, const char *ip)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *p = ip; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	struct ip_count **pp = &sp->ips[h % SERVER_IP_BUCKETS];
	while (*pp != NULL && strcmp((*pp)->ip, ip) != 0)
		pp = &(*pp)->next;
	return pp;
}

static unsigned ip_get(struct server_priv *sp, const char *ip)
{
	struct ip_count *e = *ip_find(sp, ip);
	return e != NULL ? e->count : 0;
}

static void ip_inc(struct server_priv *sp, const char *ip)
{
	struct ip_count **pp = ip_find(sp, ip);
	if (*pp == NULL) {
		*pp = xcalloc(1, sizeof(**pp));
		snprintf((*pp)->ip, sizeof((*pp)->ip), "%s", ip);
	}
	(*pp)->count++;
}

static void ip_dec(struct server_priv *sp, const char *ip)
{
	struct ip_count **pp = ip_find(sp, ip), *e = *pp;
	if (e != NULL && --e->count == 0) {
		*pp = e->next;
		free(e);
	}
}

static void sockaddr_text(const struct sockaddr *sa, char *out, size_t len, bool with_port)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], ip, sizeof(ip));
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		port = ntohs(s6->sin6_port);
		if (with_port && strchr(ip, ':') != NULL) {
			snprintf(out, len, "[%s]:%u", ip, port);
			return;
		}
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		port = ntohs(s4->sin_port);
	}
	if (with_port)
		snprintf(out, len, "%s:%u", ip, port);
	else
		snprintf(out, len, "%s", ip);
}

/* --- connections --------------------------------------------------------------------- */

static void conn_gone(struct conn *c, const char *reason, void *ctx)
{
	struct server_priv *sp = ctx;

	char extra[512];
	const char *user;
	uint64_t commands, bytes;

	sp->connections--;
	ip_dec(sp, conn_peer_ip(c));
	/* the one record of a finished session, whoever ended it */
	size_t n = conn_session_extra(c, extra, sizeof(extra), &user, &commands, &bytes);
	struct log_record r = {
	    .event = LOG_EV_SESSION,
	    .service = conn_service(c),
	    .sid = conn_id(c),
	    .ip = conn_peer_ip(c),
	    .user = user,
	    .reason = reason,
	    .tls = conn_tls_version(c),
	    .usec = conn_age_usec(c),
	    .bytes = bytes,
	    .count = commands,
	    .extra = n > 0 ? extra : NULL,
	};
	log_record(LOG_INFO, &r);
}

/* Hands a ready connection (after the handshake on implicit-TLS ports) to
   the service of the port it arrived on. */
static void conn_ready(struct conn *c, void *ctx)
{
	struct port_ctx *pc = ctx;

	server_services[pc->svc]->session(pc->sp->svc[pc->svc], c, pc->port);
}

/* Implicit TLS: the conn belongs to the server until the handshake ends. */
static const struct conn_events pretls_events = {
    .tls_ready = conn_ready,
};

/* Over a limit: the port's one best-effort line (its service's busy reply),
   never on implicit-TLS ports, where plaintext would only confuse the
   handshake. */
static void refuse(struct listener *ls, int fd, const char *ip, const char *why)
{
	const char *msg = ls->pc->port->implicit_tls ? NULL : ls->pc->port->busy;

	if (msg != NULL) {
		ssize_t r = send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)r;
	}
	close(fd);
	struct log_record r = {
	    .event = LOG_EV_CONNECT,
	    .service = ls->pc->port->name,
	    .ip = ip,
	    .result = "refused",
	    .reason = why,
	};
	log_record(LOG_WARN, &r);
}

static void accept_one(struct listener *ls, int fd, const struct sockaddr *sa)
{
	struct server_priv *sp = ls->sp;
	const struct config *cfg = sp->env.cfg;
	char ip[INET6_ADDRSTRLEN];

	sockaddr_text(sa, ip, sizeof(ip), false);
	if (cfg->max_connections != 0 && sp->connections >= cfg->max_connections) {
		refuse(ls, fd, ip, "max_connections");
		return;
	}
	if (cfg->max_connections_per_ip != 0 && ip_get(sp, ip) >= cfg->max_connections_per_ip) {
		refuse(ls, fd, ip, "max_connections_per_ip");
		return;
	}
	struct conn *c =
	    conn_new(sp->conns, fd, sa, ls->pc->port->name, server_services[ls->pc->svc]->alpn);
	if (c == NULL)
		return;
	sp->connections++;
	ip_inc(sp, conn_peer_ip(c));
	struct log_record r = {
	    .event = LOG_EV_CONNECT,
	    .service = ls->pc->port->name,
	    .sid = conn_id(c),
	    .ip = conn_peer_ip(c),
	    .result = "accepted",
	};
	log_record(LOG_INFO, &r);
	conn_set_idle_timeout(c, cfg->idle_timeout);
	if (ls->pc->port->implicit_tls) {
		conn_set_events(c, &pretls_events, ls->pc);
		if (conn_tls_accept(c) < 0)
			conn_abort(c, "tls not configured");
	} else {
		conn_ready(c, ls->pc);
	}
}

static void accept_resume(struct loop *l, void *ctx)
{
	struct listener *ls = ctx;
	ls->pause = NULL;
	loop_fd_mod(l, ls->fd, LOOP_READ);
}

static void accept_ready(struct loop *l, int fd, int mask, void *ctx)
{
	struct listener *ls = ctx;

	for (int i = 0; i < SERVER_ACCEPT_BATCH && !ls->sp->stopping; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd >= 0) {
			accept_one(ls, cfd, (struct sockaddr *)&ss);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* level-triggered: without a pause the loop would spin */
			log_error("accept on %s: %s; pausing %d ms", ls->addr, strerror(errno),
				  SERVER_ACCEPT_PAUSE_MS);
			loop_fd_mod(l, fd, 0);
			ls->pause = loop_timer_add(l, SERVER_ACCEPT_PAUSE_MS, accept_resume, ls);
		} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
			log_error("accept on %s: %s", ls->addr, strerror(errno));
		}
		return;
	}
}

/* --- listeners ----------------------------------------------------------------------- */

static int listen_on(struct server_priv *sp, struct port_ctx *pc, const char *addr, char **err_r)
{
	int fds[SERVER_LISTEN_FDS_MAX];
	int n = net_listen(addr, SERVER_BACKLOG, fds, SERVER_LISTEN_FDS_MAX, err_r);

	for (int i = 0; i < n; i++) {
		struct listener *ls = xcalloc(1, sizeof(*ls));
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		ls->sp = sp;
		ls->fd = fds[i];
		ls->pc = pc;
		if (getsockname(ls->fd, (struct sockaddr *)&ss, &sl) == 0)
			sockaddr_text((struct sockaddr *)&ss, ls->addr, sizeof(ls->addr), true);
		ls->next = sp->listeners;
		sp->listeners = ls;
		if (loop_fd_add(sp->env.loop, ls->fd, LOOP_READ, accept_ready, ls) < 0)
			log_fatal("cannot watch listener %s: %s", ls->addr, strerror(errno));
		log_info("listening service=%s port=%s addr=%s", server_services[pc->svc]->name,
			 pc->port->name, ls->addr);
	}
	return n > 0 ? 0 : -1;
}

static void listeners_close(struct server_priv *sp)
{
	for (struct listener *ls = sp->listeners, *next; ls != NULL; ls = next) {
		next = ls->next;
		loop_timer_del(sp->env.loop, &ls->pause);
		loop_fd_del(sp->env.loop, ls->fd);
		close(ls->fd);
		free(ls);
	}
	sp->listeners = NULL;
}

/* --- signals and shutdown -------------------------------------------------------------- */

static void stop_check(struct loop *l, void *ctx)
{
	struct server_priv *sp = ctx;

	sp->stop_check = NULL;
	bool idle = conn_mgr_count(sp->conns) == 0;
	for (size_t i = 0; i < server_n_services && idle; i++)
		idle = server_services[i]->sessions(sp->svc[i]) == 0;
	if (idle)
		loop_stop(l);
	else
		sp->stop_check = loop_timer_add(l, 20, stop_check, sp);
}

static void grace_over(struct loop *l, void *ctx)
{
	struct server_priv *sp = ctx;

	sp->grace = NULL;
	log_warn("shutdown: %u connections still open after %d s; closing them",
		 conn_mgr_count(sp->conns), SERVER_GRACE_SECS);
	conn_mgr_abort_all(sp->conns, "server stopping");
	/* sessions waiting for a worker job end in workers_free() */
	loop_stop(l);
}

static void shutdown_begin(struct server_priv *sp, const char *why)
{
	struct loop *l = sp->env.loop;

	sp->stopping = true;
	log_info("shutdown signal=%s connections=%u", why, sp->connections);
	char *status = xasprintf("stopping: %u connections open", sp->connections);
	notify_stopping(sp->notify, status);
	free(status);
	listeners_close(sp);
	conn_mgr_abort_handshakes(sp->conns, "server stopping");
	for (size_t i = 0; i < server_n_services; i++)
		server_services[i]->shutdown(sp->svc[i]);
	queue_mgr_stop(sp->queue);
	admin_stop(sp->admin);
	sp->stop_check = loop_timer_add(l, 0, stop_check, sp);
	sp->grace = loop_timer_add(l, SERVER_GRACE_SECS * 1000, grace_over, sp);
}

/* --- SIGHUP: reload ---------------------------------------------------------------------- */

/* The file is read and the certificate loaded on a worker thread (file
   I/O stays off the loop); the swap happens on the loop thread. */
struct reload_job {
	struct server_priv *sp;
	struct config next;
	bool read;
	char *err;
	struct tls_ctx *tls;
};

static void reload_work(void *thread_ctx, void *p)
{
	struct reload_job *j = p;

	if (config_load(server_schema(), j->sp->env.cfg->file, &j->next, &j->err) < 0)
		return;
	j->read = true;
	if (tls_ctx_new(j->next.tls_cert, j->next.tls_key, &j->tls, &j->err) < 0)
		j->tls = NULL;
	else if (tls_ctx_client_auth(j->tls, &j->next, &j->err) < 0)
		tls_ctx_free(&j->tls);
}

static void reload_changed(const char *key, void *arg)
{
	if (strncmp(key, "tls.", 4) != 0 && strcmp(key, "server.log_level") != 0 &&
	    strcmp(key, "server.log_format") != 0)
		log_warn("reload: %s changed; it takes effect at the next restart", key);
}

static void reload_done(void *p)
{
	struct reload_job *j = p;
	struct server_priv *sp = j->sp;

	sp->reloading = false;
	if (!j->read) {
		log_error("reload refused: %s; the running configuration stays", j->err);
		char *status = xasprintf("serving; reload refused: %s", j->err);
		notify_ready(sp->notify, status);
		free(status);
	} else {
		bool tls_ok = j->tls != NULL;
		config_diff(sp->env.cfg, &j->next, reload_changed, NULL);
		log_set_level(j->next.log_level);
		log_set_format(j->next.log_format);
		if (j->tls == NULL) {
			log_error("reload: %s; the running certificate stays", j->err);
		} else {
			tls_ctx_swap(sp->tls, &j->tls);
			log_info("reload: TLS certificate %s and key %s loaded", j->next.tls_cert,
				 j->next.tls_key);
		}
		notify_ready(
		    sp->notify,
		    tls_ok ? "serving; reloaded"
			   : "serving; reloaded, the running certificate stays (see the log)");
		config_free(&j->next);
	}
	free(j->err);
	free(j);
}

static void reload_begin(struct server_priv *sp)
{
	if (sp->stopping)
		return;
	if (sp->reloading) {
		log_info("SIGHUP: a reload is already under way");
		return;
	}
	struct reload_job *j = xcalloc(1, sizeof(*j));
	j->sp = sp;
	log_info("SIGHUP: reloading %s",
		 sp->env.cfg->file != NULL ? sp->env.cfg->file : "the built-in configuration");
	if (workers_submit(sp->env.workers, reload_work, reload_done, j) < 0) {
		log_error("reload: the worker queue is full; send SIGHUP again later");
		free(j);
		return;
	}
	sp->reloading = true;
	notify_reloading(sp->notify, "reloading the configuration");
}

static void signal_ready(struct loop *l, int fd, int mask, void *ctx)
{
	struct server_priv *sp = ctx;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload_begin(sp);
			continue;
		}
		if (!sp->stopping)
			shutdown_begin(sp, si.ssi_signo == SIGTERM ? "TERM" : "INT");
	}
}

/* --- start-up ---------------------------------------------------------------------------- */

/* One store handle per worker thread (store.h: a handle is single-thread). */
static void *worker_init(void *arg)
{
	const struct config *cfg = arg;
	struct store *st = NULL;

	if (store_open(cfg->data_dir, false, &st) != STORE_OK)
		log_fatal("worker: cannot open the store in %s: %s", cfg->data_dir,
			  st != NULL ? store_error(st) : "error");
	return st;
}

static void worker_deinit(void *tctx)
{
	struct store *st = tctx;
	store_close(&st);
}

/* Tens of thousands of idle connections need as many descriptors. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? SERVER_NOFILE_CAP : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn("cannot raise the open files limit to %llu: %s",
			 (unsigned long long)rl.rlim_cur, strerror(errno));
}

static void store_missing(const struct config *cfg)
{
	log_fatal("no mail store in %s: run 'mailroom%s%s init' first", cfg->data_dir,
		  cfg->file != NULL ? " -c " : "", cfg->file != NULL ? cfg->file : "");
}

static void check_store(const struct config *cfg)
{
	struct store *st = NULL;
	int r = store_open(cfg->data_dir, false, &st);

	if (r == STORE_NOTFOUND)
		store_missing(cfg);
	if (r != STORE_OK)
		log_fatal("cannot open the mail store in %s: %s", cfg->data_dir,
			  st != NULL ? store_error(st) : "error");
	store_close(&st);
}

static int bind_all(struct server_priv *sp)
{
	const struct config *cfg = sp->env.cfg;
	char *err = NULL;

	for (size_t v = 0; v < server_n_services; v++) {
		const struct service *svc = server_services[v];
		for (size_t p = 0; p < svc->n_ports; p++) {
			if (sp->n_ports == SERVER_PORTS_MAX)
				log_fatal("more than %d ports in the services", SERVER_PORTS_MAX);
			struct port_ctx *pc = &sp->ports[sp->n_ports++];
			*pc = (struct port_ctx){.sp = sp, .svc = v, .port = &svc->ports[p]};
			const struct listen_list *ll = config_listen(cfg, pc->port->name);
			for (size_t i = 0; ll != NULL && i < ll->count; i++) {
				if (listen_on(sp, pc, ll->addrs[i], &err) < 0) {
					log_error("%s", err);
					free(err);
					return -1;
				}
			}
		}
	}
	return 0;
}

/* As root nothing but stat(2), bind(2) and the switch to [server] user
   (privdrop.h); then the store and the TLS files, read as that user. Logs
   why and returns -1 on failure; pd is filled either way. */
static int start_as_user(struct server_priv *sp, struct privdrop *pd)
{
	const struct config *cfg = sp->env.cfg;
	char *err = NULL;

	/* an SQLite store is a file, which root may be the only one to see;
	   a PostgreSQL one answers check_store() below */
	if (store_backend() == STORE_BACKEND_SQLITE) {
		char *db = xasprintf("%s/mailroom.db", cfg->data_dir);
		bool have_store = access(db, F_OK) == 0 || errno != ENOENT;
		free(db);
		if (!have_store)
			store_missing(cfg);
	}
	if (privdrop_plan(cfg, true, pd, &err) < 0 || privdrop_check_owner(cfg, pd, &err) < 0)
		goto fail;
	sp->env.loop = loop_new();
	char *held = NULL;
	if (bind_all(sp) < 0 || admin_listen(sp->env.loop, cfg, &sp->admin, &err) < 0 ||
	    privdrop_apply(pd, &err) < 0 || privdrop_caps_clear(&held, &err) < 0)
		goto fail;
	if (pd->drop)
		log_info("running as user=%s uid=%u gid=%u", pd->name, (unsigned)pd->uid,
			 (unsigned)pd->gid);
	if (held != NULL)
		log_info("capabilities dropped %s", held);
	free(held);
	if (privdrop_check_reach(cfg->data_dir, pd, &err) < 0)
		goto fail;
	check_store(cfg);
	store_log_failures(true); /* serving: the log says why a client heard "try again" */
	if (tls_ctx_new(cfg->tls_cert, cfg->tls_key, &sp->tls, &err) < 0) {
		log_error("%s", err);
		if (pd->drop && ((access(cfg->tls_cert, R_OK) < 0 && errno == EACCES) ||
				 (access(cfg->tls_key, R_OK) < 0 && errno == EACCES)))
			log_error("serve reads [tls] cert and key as %s, at start and on SIGHUP: "
				  "make them readable by it (chgrp %s; chmod 0640)",
				  pd->name, pd->group);
		else
			log_error("refusing to start without TLS: run 'mailroom init' to make a "
				  "self-signed certificate, or set [tls] cert and key");
		free(err);
		return -1;
	}
	if (tls_ctx_client_auth(sp->tls, cfg, &err) < 0) {
		log_error("%s", err);
		free(err);
		return -1;
	}
	return 0;
fail:
	if (err != NULL)
		log_error("%s", err);
	free(err);
	return -1;
}

/* SASL GSSAPI: a keytab that cannot serve logins is said at the start,
   not at the first refused ticket. Not fatal: the file is read at every
   login, so it may be put in place later. */
static void gssapi_report(const struct config *cfg)
{
	struct buf found = {0};
	char *err = NULL;

	if (!sasl_gssapi_configured(cfg))
		return;
	if (sasl_gssapi_check(cfg, &found, &err) < 0) {
		log_warn("gssapi: %s", err);
		free(err);
	} else {
		log_info("gssapi: keytab %s: %s", gssapi_config(cfg)->keytab, found.data);
	}
	buf_free(&found);
}

static void queue_kick(void *ctx)
{
	struct server_priv *sp = ctx;
	queue_mgr_kick(sp->queue);
}

/* env->changed: every service that keeps sessions on mailboxes hears it */
static void mailbox_changed(void *ctx, int64_t mailbox_id)
{
	struct server_priv *sp = ctx;
	for (size_t i = 0; i < server_n_services; i++)
		if (server_services[i]->changed != NULL && sp->svc[i] != NULL)
			server_services[i]->changed(sp->svc[i], mailbox_id);
}

int server_run(const struct config *cfg)
{
	struct server_priv *sp = xcalloc(1, sizeof(*sp));
	sigset_t set;
	int ret = 1;

	log_set_level(cfg->log_level);
	log_set_format(cfg->log_format);
	sp->env.cfg = cfg;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	raise_nofile();

	/* before the switch: the socket may be writable by root only */
	sp->notify = notify_from_env();
	struct privdrop pd;
	if (start_as_user(sp, &pd) < 0) {
		notify_free(&sp->notify);
		privdrop_clear(&pd);
		listeners_close(sp);
		admin_free(&sp->admin);
		loop_free(&sp->env.loop);
		free(sp);
		return 1;
	}
	char *derr = NULL;
	/* after the drop: every file a backend reads (a passwd-file, LDAP's
	   password file) must be readable by the user that serves */
	if (directory_open(cfg, &sp->env.dir, &derr) < 0) {
		log_error("%s", derr);
		free(derr);
		notify_free(&sp->notify);
		privdrop_clear(&pd);
		listeners_close(sp);
		admin_free(&sp->admin);
		loop_free(&sp->env.loop);
		free(sp);
		return 78; /* EX_CONFIG */
	}
	struct delivery_settings ds = {
	    .hostname = cfg->hostname,
	    .postmaster = smtp_config(cfg)->postmaster,
	    .data_dir = cfg->data_dir,
	    .dir = sp->env.dir,
	};
	const char *lerr;
	if (delivery_open(&ds, &sp->env.delivery, &lerr) < 0) {
		log_error("%s", lerr);
		directory_free(&sp->env.dir);
		notify_free(&sp->notify);
		privdrop_clear(&pd);
		listeners_close(sp);
		admin_free(&sp->admin);
		loop_free(&sp->env.loop);
		free(sp);
		return 78; /* EX_CONFIG */
	}
	gssapi_report(cfg);
	sp->conns = conn_mgr_new(sp->env.loop, sp->tls);
	conn_mgr_set_gone(sp->conns, conn_gone, sp);
	/* a TLS handshake gets at most 30 s, less when sessions idle out sooner */
	conn_mgr_set_timeouts(
	    sp->conns,
	    cfg->idle_timeout < CONN_HANDSHAKE_SECS ? cfg->idle_timeout : CONN_HANDSHAKE_SECS, 0);
	conn_mgr_set_limits(sp->conns, &(struct conn_limits){.line_secs = cfg->line_deadline,
							     .phase_secs = cfg->data_deadline,
							     .rate_bytes = cfg->min_data_rate,
							     .rate_secs = cfg->data_rate_window});
	sp->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sp->sigfd < 0 || loop_fd_add(sp->env.loop, sp->sigfd, LOOP_READ, signal_ready, sp) < 0)
		log_fatal("signalfd: %s", strerror(errno));
	sp->env.workers = workers_new(sp->env.loop, cfg->workers, SERVER_JOB_QUEUE_MAX, worker_init,
				      worker_deinit, (void *)cfg);
	/* started whether or not [filter] names a filter now: a reload may add one */
	sp->env.filters = workers_new(sp->env.loop, filter_config(cfg)->workers,
				      SERVER_JOB_QUEUE_MAX, NULL, NULL, NULL);
	/* the system's resolvers (resolv.conf) may pass no DNSSEC records,
	   which would make every answer bogus under the trust anchor: then
	   nothing is validated, and that is said (before the resolvers are
	   made: the queue's and the checks'). A resolver the config names is
	   the admin's choice and is trusted to pass them. */
	if (delivery_config(cfg)->resolver == NULL || delivery_config(cfg)->resolver[0] == '\0') {
		const struct dns_options popt = {
		    .trust_anchor = delivery_trust_anchor(cfg),
		};
		if (dns_sync_dnssec_broken(&popt, DNSSEC_PROBE_SECS)) {
			log_warn("dnssec: the root's keys fail validation with %s through %s: "
				 "the resolver passes no DNSSEC records; DNSSEC validation is off, "
				 "no answer is secure and DANE does not apply (admin guide, "
				 "\"DNSSEC and DANE\")",
				 popt.trust_anchor, "the resolvers of /etc/resolv.conf");
			dns_validation_off();
		}
	}
	/* the SMTP sender checks' resolver: [delivery] resolver, as for the
	   queue; without one the checks are skipped (and that is said once) */
	{
		const struct dns_options dopt = {
		    .resolver = delivery_config(cfg)->resolver,
		    .trust_anchor = delivery_trust_anchor(cfg),
		    .timeout = filter_config(cfg)->dns_timeout,
		};
		char dns_err[256];
		sp->env.dns = dns_async_new(sp->env.loop, &dopt, dns_err, sizeof(dns_err));
		if (sp->env.dns == NULL)
			log_warn("sender checks (SPF) off: %s", dns_err);
	}
	sp->env.penalty = penalty_new(cfg->auth_fail_delay_ms, cfg->auth_fail_delay_max * 1000ULL);
	sp->env.queue_kick = queue_kick;
	sp->env.queue_ctx = sp;
	sp->env.changed = mailbox_changed;
	sp->env.changed_ctx = sp;
	for (size_t i = 0; i < server_n_services; i++)
		sp->svc[i] = server_services[i]->create(&sp->env);
	sp->queue = queue_mgr_new(&sp->env);
	admin_start(sp->admin, &sp->env);

	log_info("mailroom ready hostname=%s workers=%u user=%s directory=%s", cfg->hostname,
		 cfg->workers, pd.name, directory_describe(sp->env.dir));
	unsigned nls = 0;
	for (struct listener *ls = sp->listeners; ls != NULL; ls = ls->next)
		nls++;
	char *status = xasprintf("serving on %u listeners as user %s", nls, pd.name);
	notify_start(sp->notify, sp->env.loop, status);
	free(status);
	privdrop_clear(&pd);
	loop_run(sp->env.loop);
	ret = 0;
	notify_free(&sp->notify);

	listeners_close(sp);
	loop_timer_del(sp->env.loop, &sp->stop_check);
	loop_timer_del(sp->env.loop, &sp->grace);
	conn_mgr_free(&sp->conns);	/* the last `closed`s: sessions go dead */
	workers_free(&sp->env.filters); /* filtered messages go on to the store workers */
	dns_async_free(&sp->env.dns);	/* after the sessions that asked it */
	workers_free(&sp->env.workers); /* queued jobs finish; their `done` frees sessions */
	admin_free(&sp->admin);		/* after its store job's `done` */
	queue_mgr_free(&sp->queue);	/* deliveries under way finish */
	for (size_t i = 0; i < server_n_services; i++) {
		unsigned alive = server_services[i]->sessions(sp->svc[i]);
		if (alive == 0)
			server_services[i]->destroy(sp->svc[i]);
		else
			log_error("shutdown: %u %s sessions still alive; not freeing the service",
				  alive, server_services[i]->name);
	}
	penalty_free(&sp->env.penalty);
	delivery_free(&sp->env.delivery);
	directory_free(&sp->env.dir);
	loop_fd_del(sp->env.loop, sp->sigfd);
	close(sp->sigfd);
	loop_free(&sp->env.loop);
	tls_ctx_free(&sp->tls);
	for (size_t i = 0; i < SERVER_IP_BUCKETS; i++)
		for (struct ip_count *e = sp->ips[i], *next; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	if (ret == 0)
		log_info("mailroom stopped");
	free(sp);
	return ret;
}
