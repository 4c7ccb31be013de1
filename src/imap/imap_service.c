/* SPDX-License-Identifier: MIT */
/*
 * imap_service.c - the IMAP service: one per server, loop thread only. It
 * keeps the live sessions (for shutdown and for change notices), the
 * per-command counters, and the selected folder's view helpers that the
 * command files share.
 *
 * Change notices: imap_service_changed() marks every session that has a
 * folder of that mailbox selected; an idling one syncs at once, the others
 * at their next command that may tell (imap_sync()). The scan is over all
 * live sessions: a delivery costs one pass, and sessions number in the
 * thousands, not millions, per node.
 */
#include "imap/imap_private.h"
#include "net/conn.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

struct imap_service *imap_service_new(const struct service_env *env)
{
	struct imap_service *svc = xcalloc(1, sizeof(*svc));
	svc->env = env;
	svc->stats = xcalloc(imap_cmd_count, sizeof(*svc->stats));
	return svc;
}

void imap_service_free(struct imap_service **svcp)
{
	struct imap_service *svc = *svcp;
	if (svc == NULL)
		return;
	free(svc->stats);
	free(svc);
	*svcp = NULL;
}

unsigned imap_service_sessions(const struct imap_service *svc)
{
	return svc->sessions.count;
}

static void idle_synced(struct imap_session *s)
{
	(void)s; /* the untagged replies are out; IDLE goes on */
}

void imap_service_changed(struct imap_service *svc, int64_t mailbox_id)
{
	for (struct proto_session *ps = svc->sessions.first; ps != NULL; ps = ps->next) {
		struct imap_session *s = ps->sess;
		if (s->sel == NULL || s->mailbox_id != mailbox_id || s->core.dead)
			continue;
		s->sel->dirty = true;
		if (s->idling && !proto_session_busy(&s->core) && !s->core.in_run) {
			s->core.in_run = true;
			imap_sync(s, true, idle_synced);
			proto_session_leave(&s->core);
		}
	}
}

/* --- the selected folder's view ------------------------------------------------ */

uint32_t imap_view_seq(const struct imap_view *v, uint32_t uid)
{
	uint32_t lo = 0, hi = v->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (v->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->n && v->uids[lo] == uid ? lo + 1 : 0;
}

void imap_view_free(struct imap_view **vp)
{
	struct imap_view *v = *vp;
	if (v == NULL)
		return;
	free(v->name);
	free(v->uids);
	free(v->keywords);
	free(v->saved);
	free(v);
	*vp = NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int imap_view_select(const struct imap_view *v, const struct imap_node *set, bool uid,
		     uint32_t **uids_r, size_t *n_r, const char **err_r)
{
	struct imap_seq_range ranges[IMAP_SEQ_RANGES_MAX];
	struct imap_seqset ss = {.r = ranges, .max = IMAP_SEQ_RANGES_MAX};
	struct slice text;

	*uids_r = NULL;
	*n_r = 0;
	if (set == NULL || set->type == IMAP_NODE_LIST || !imap_node_astring(set, &text) ||
	    imap_parse_seqset(text, true, &ss, err_r) < 0) {
		if (*err_r == NULL)
			*err_r = "Invalid sequence set";
		return -1;
	}
	if (ss.last) { /* "$": the saved UIDs (ascending) that the view holds */
		*uids_r = xmalloc((v->n_saved > 0 ? v->n_saved : 1) * sizeof(**uids_r));
		for (uint32_t i = 0; i < v->n_saved; i++)
			if (imap_view_seq(v, v->saved[i]) != 0)
				(*uids_r)[(*n_r)++] = v->saved[i];
		return 0;
	}
	uint32_t *out = NULL;
	size_t n = 0, cap = 0;
	uint32_t largest = uid ? (v->n > 0 ? v->uids[v->n - 1] : 0) : v->n;
	for (size_t i = 0; i < ss.n; i++) {
		if (!uid && v->n == 0) {
			/* RFC 9051 §6.4.8: no messages, no valid sequence numbers */
			free(out);
			*err_r = "No messages";
			return -1;
		}
		struct imap_seq_range r = imap_seq_range_resolve(ss.r[i], largest);
		if (!uid) {
			if (r.lo == 0 || r.hi > v->n) {
				free(out);
				*err_r = "Invalid message sequence number";
				return -1;
			}
			for (uint64_t q = r.lo; q <= r.hi; q++) {
				if (n == cap)
					out = xrealloc(out,
						       (cap = cap ? cap * 2 : 64) * sizeof(*out));
				out[n++] = v->uids[q - 1];
			}
			continue;
		}
		/* UIDs: those the view holds in [lo, hi] */
		uint32_t lo_seq = 0;
		{
			uint32_t a = 0, b = v->n;
			while (a < b) {
				uint32_t mid = a + (b - a) / 2;
				if (v->uids[mid] < r.lo)
					a = mid + 1;
				else
					b = mid;
			}
			lo_seq = a;
		}
		for (uint32_t q = lo_seq; q < v->n && v->uids[q] <= r.hi; q++) {
			if (n == cap)
				out = xrealloc(out, (cap = cap ? cap * 2 : 64) * sizeof(*out));
			out[n++] = v->uids[q];
		}
	}
	if (n > 1) {
		qsort(out, n, sizeof(*out), cmp_u32);
		size_t w = 1;
		for (size_t i = 1; i < n; i++)
			if (out[i] != out[w - 1])
				out[w++] = out[i];
		n = w;
	}
	*uids_r = out;
	*n_r = n;
	return 0;
}

/* --- the service entry (proto/service.h) ------------------------------------ */

/* RFC 9051 §7.1.5: BYE says why the server closes */
static const struct service_port imap_ports[] = {
    {.name = "imap",
     .listen = "127.0.0.1:2143",
     .busy = "* BYE [UNAVAILABLE] Too many connections, try again later\r\n"},
    {.name = "imaps", .listen = "127.0.0.1:2993", .implicit_tls = true},
};

static void *svc_create(const struct service_env *env)
{
	return imap_service_new(env);
}

static void svc_session(void *svc, struct conn *c, const struct service_port *port)
{
	(void)port; /* one IMAP on both; STARTTLS is offered where TLS is not on */
	imap_session_start(svc, c);
}

static unsigned svc_sessions(const void *svc)
{
	return imap_service_sessions(svc);
}

static void svc_shutdown(void *svc)
{
	imap_service_shutdown(svc);
}

static void svc_destroy(void *svc)
{
	struct imap_service *p = svc;
	imap_service_free(&p);
}

static void svc_changed(void *svc, int64_t mailbox_id)
{
	imap_service_changed(svc, mailbox_id);
}

const struct service imap_service = {
    .name = "imap",
    .alpn = "imap",
    .ports = imap_ports,
    .n_ports = sizeof(imap_ports) / sizeof(imap_ports[0]),
    .config = &imap_config_section,
    .create = svc_create,
    .session = svc_session,
    .sessions = svc_sessions,
    .shutdown = svc_shutdown,
    .destroy = svc_destroy,
    .changed = svc_changed,
};
