/* SPDX-License-Identifier: MIT */
/*
 * delivery_build.c - step 2 of delivery.h: the store submission of a
 * message and of every side effect it causes, made from the plan.
 *
 * Side effects, each its own submission inside the message's (store.h
 * reports), so that all are committed together or not at all:
 *  - a forwarded copy per forwarding mailbox with outside targets: envelope
 *    sender rewritten by SRS in that mailbox's domain, `Delivered-To:` the
 *    mailbox first; a copy that already carries that Delivered-To came back
 *    through another server, and stays in the mailbox instead;
 *  - a list copy per list: `List-Id:` first (RFC 2919), the bounce address
 *    owner-LOCAL@DOMAIN as envelope sender, each member once and not again
 *    when it is a direct recipient; a message that already carries the
 *    list's List-Id looped through another list server: a failure report to
 *    its sender instead; members left out for their quota are reported to
 *    the bounce address;
 *  - an auto-reply per direct mailbox with one running (RFC 3834 checks in
 *    vacation.c), at most once per sender per interval (once_key);
 *  - a quota warning per mailbox the message takes to or past its warning
 *    level, once per crossing (once_key, forgotten by the store when use
 *    drops below the level);
 *  - the success report of NOTIFY=SUCCESS recipients (RFC 3461 §6.2.1).
 * Replies and reports go through delivery_report(): the same resolution,
 * so the recipient's forwarding applies to them too.
 */
#include "delivery/delivery_private.h"
#include "delivery/vacation.h"
#include "queue/dsn.h"
#include "util/log.h"
#include "util/mem.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct fx_label {
	char kind[16];
	char *to;
};

struct built {
	struct store_submission *fx; /* the side effects */
	struct fx_label *labels;
	size_t n_fx;
	struct dl_ids ids;     /* the message's own mailboxes */
	struct dl_rems remote; /* ... and outside recipients */
	struct buf *bufs;      /* bodies made here */
	size_t n_bufs;
	void **blocks; /* other memory the submissions point into */
	size_t n_blocks;
	struct delivery_out *nested; /* reports built through delivery_report() */
	size_t n_nested;
	char *qid;
};

static void *keep(struct built *b, void *p)
{
	b->blocks = xrealloc(b->blocks, (b->n_blocks + 1) * sizeof(*b->blocks));
	b->blocks[b->n_blocks++] = p;
	return p;
}

static char *keep_str(struct built *b, const char *s)
{
	return keep(b, xstrdup(s));
}

/* A new body buffer; the index stays valid, the data pointer once filled. */
static struct buf *new_body(struct built *b)
{
	b->bufs = xrealloc(b->bufs, (b->n_bufs + 1) * sizeof(*b->bufs));
	memset(&b->bufs[b->n_bufs], 0, sizeof(b->bufs[0]));
	return &b->bufs[b->n_bufs++];
}

static struct store_submission *add_fx(struct built *b, const char *kind, const char *to)
{
	b->fx = xrealloc(b->fx, (b->n_fx + 1) * sizeof(*b->fx));
	b->labels = xrealloc(b->labels, (b->n_fx + 1) * sizeof(*b->labels));
	memset(&b->fx[b->n_fx], 0, sizeof(b->fx[0]));
	snprintf(b->labels[b->n_fx].kind, sizeof(b->labels[0].kind), "%s", kind);
	b->labels[b->n_fx].to = xstrdup(to);
	return &b->fx[b->n_fx++];
}

static const char *side_qid(struct built *b, const char *qid, char tag, size_t i)
{
	char q[48];

	snprintf(q, sizeof(q), "%.24s%c%zu", qid, tag, i);
	return keep_str(b, q);
}

static int64_t *ids_copy(struct built *b, const struct dl_ids *a)
{
	if (a->n == 0)
		return NULL;
	int64_t *v = keep(b, xmalloc(a->n * sizeof(*v)));
	memcpy(v, a->v, a->n * sizeof(*v));
	return v;
}

static struct store_remote_rcpt *rems_copy(struct built *b, const struct dl_rems *a)
{
	if (a->n == 0)
		return NULL;
	struct store_remote_rcpt *v = keep(b, xcalloc(a->n, sizeof(*v)));
	for (size_t i = 0; i < a->n; i++) {
		v[i].address = keep_str(b, a->v[i].address);
		v[i].dsn_notify = a->v[i].dsn_notify ? keep_str(b, a->v[i].dsn_notify) : NULL;
		v[i].dsn_orcpt = a->v[i].dsn_orcpt ? keep_str(b, a->v[i].dsn_orcpt) : NULL;
	}
	return v;
}

/* Whether the header section has a field `name` whose value contains
   `value` (case-insensitive), e.g. a Delivered-To or List-Id of ours; the
   value may go on over folded lines (RFC 5322 §2.2.3). */
static bool header_has(const char *msg, size_t len, const char *name, const char *value)
{
	const char *p = msg, *end = msg + len;
	size_t nl = strlen(name), vl = strlen(value);

	while (p < end && *p != '\r' && *p != '\n') {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol != NULL ? eol + 1 : end;
		if ((size_t)(next - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *fend = next;
			while (fend < end && (*fend == ' ' || *fend == '\t')) {
				const char *e = memchr(fend, '\n', (size_t)(end - fend));
				fend = e != NULL ? e + 1 : end;
			}
			for (const char *q = p + nl + 1; q + vl <= fend; q++)
				if (strncasecmp(q, value, vl) == 0)
					return true;
		}
		p = next;
	}
	return false;
}

static void date_now(char *out, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, len, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

static void message_id(struct buf *out, const char *hostname)
{
	unsigned char r[12];

	if (RAND_bytes(r, sizeof(r)) != 1)
		log_panic("RAND_bytes failed");
	buf_printf(out, "Message-ID: <");
	for (size_t i = 0; i < sizeof(r); i++)
		buf_printf(out, "%02x", r[i]);
	buf_printf(out, "@%s>\r\n", hostname);
}

/* A report or reply to `to`, through delivery_report(), as side effect. */
static struct store_submission *fx_report(struct delivery *d, struct store *st, struct built *b,
					  const char *kind, const char *qid, const char *to,
					  const struct buf *body)
{
	b->nested = xrealloc(b->nested, (b->n_nested + 1) * sizeof(*b->nested));
	struct delivery_out *o = &b->nested[b->n_nested++];
	delivery_report(d, st, qid, to, body->data, body->len, o);
	struct store_submission *s = add_fx(b, kind, to);
	*s = o->sub;
	return s;
}

/* A report (RFC 3464) to `to` about recipients qr[0..n) of the message. */
static void fx_dsn(struct delivery *d, struct store *st, struct built *b,
		   const struct delivery_message *m, const char *sender, const char *to,
		   struct store_queue_rcpt *qr, size_t n, enum dsn_action action, char tag)
{
	size_t *which = xcalloc(n, sizeof(*which));
	for (size_t i = 0; i < n; i++)
		which[i] = i;
	struct store_queue_msg qm = {
	    .qid = (char *)m->qid,
	    .sender = (char *)sender,
	    .dsn_envid = (char *)m->dsn_envid,
	    .dsn_ret = (char *)m->dsn_ret,
	    .created = m->arrival,
	    .body = {.data = (char *)m->body, .len = m->len},
	    .rcpts = qr,
	    .n_rcpts = n,
	};
	const char *rq = side_qid(b, m->qid, tag, b->n_fx);
	struct buf *body = new_body(b);
	dsn_build(body, d->hostname, &qm, which, n, action, rq);
	fx_report(d, st, b, action == DSN_DELIVERED ? "success-report" : "failure", rq, to, body);
	free(which);
}

/* A failure report to `to` about the addresses in rcpts. */
static void fx_failure(struct delivery *d, struct store *st, struct built *b,
		       const struct delivery_message *m, const char *sender, const char *to,
		       const struct dl_rems *rcpts, const char *reason, char tag)
{
	if (to == NULL || *to == '\0' || rcpts->n == 0)
		return;
	struct store_queue_rcpt *qr = xcalloc(rcpts->n, sizeof(*qr));
	for (size_t i = 0; i < rcpts->n; i++) {
		qr[i].address = (char *)rcpts->v[i].address;
		qr[i].remote_reply = (char *)reason;
	}
	fx_dsn(d, st, b, m, sender, to, qr, rcpts->n, DSN_FAILED, tag);
	free(qr);
}

/* RFC 2919 §3: the list's address as "local.domain". */
static void list_id(char *out, size_t len, const char *list)
{
	const char *at = strrchr(list, '@');
	snprintf(out, len, "<%.*s.%s>", (int)(at - list), list, at + 1);
}

static void list_id_field(struct buf *body, const char *list)
{
	char id[STORE_ADDRESS_MAX + 8];
	list_id(id, sizeof(id), list);
	buf_printf(body, "List-Id: %s\r\n", id);
}

static void build_forwards(struct delivery *d, struct built *b, const struct delivery_plan *p,
			   const struct delivery_message *m)
{
	for (size_t i = 0; i < p->set.n_fwd; i++) {
		const struct dl_fwd *f = &p->set.fwd[i];
		if (header_has(m->body, m->len, "Delivered-To", f->from_addr)) {
			log_warn(
			    "delivery qid=%s <%s> forwards a message it forwarded before: kept "
			    "in its mailbox (a loop through another server)",
			    m->qid, f->from_addr);
			dl_ids_add(&b->ids, f->from);
			continue;
		}
		char srs[STORE_ADDRESS_MAX * 2 + 64], bounce[STORE_ADDRESS_MAX + 8];
		const char *snd = p->sender != NULL ? p->sender : "";
		if (f->list != NULL) { /* the list's copy: bounces go to its owner */
			snprintf(bounce, sizeof(bounce), "owner-%s", f->list);
			snd = bounce;
		}
		const char *dom = strrchr(f->from_addr, '@');
		if (*snd != '\0' && dom != NULL &&
		    srs_forward(d->srs_key, sizeof(d->srs_key), snd, dom + 1, (int64_t)time(NULL),
				srs, sizeof(srs)) >= 0)
			snd = srs;
		struct buf *body = new_body(b);
		buf_printf(body, "Delivered-To: %s\r\n", f->from_addr);
		if (f->list != NULL)
			list_id_field(body, f->list);
		buf_append(body, m->body, m->len);
		struct store_submission *s = add_fx(b, "forward", f->to.v[0].address);
		s->qid = side_qid(b, m->qid, 'F', i);
		s->sender = keep_str(b, snd);
		s->local_origin = p->local_origin; /* signed only if the message is */
		s->remote = rems_copy(b, &f->to);
		s->n_remote = f->to.n;
		s->body = body->data;
		s->len = body->len;
	}
}

static void build_lists(struct delivery *d, struct store *st, struct built *b,
			const struct delivery_plan *p, const struct delivery_message *m)
{
	/* a recipient on several lists addressed gets one copy, the first's */
	struct dl_ids seen = {0};
	struct dl_rems seen_rem = {0};

	for (size_t i = 0; i < p->set.n_lists; i++) {
		const struct dl_list *l = &p->set.lists[i];
		char id[STORE_ADDRESS_MAX + 8], bounce[STORE_ADDRESS_MAX + 8];
		list_id(id, sizeof(id), l->address);
		snprintf(bounce, sizeof(bounce), "owner-%s", l->address);
		if (header_has(m->body, m->len, "List-Id", id)) {
			struct dl_rems one = {0};
			dl_rem_add(&one, l->address, NULL, NULL);
			log_warn("delivery qid=%s list <%s>: the message went through it before (a "
				 "loop): not sent again",
				 m->qid, l->address);
			fx_failure(d, st, b, m, p->sender, p->sender, &one,
				   "5.4.6 mail loop: the message came back to this list", 'X');
			dl_rems_free(&one);
			continue;
		}
		struct dl_ids ids = {0};
		struct dl_rems rem = {0};
		for (size_t j = 0; j < l->ids.n; j++)
			if (!dl_ids_has(&p->set.ids, l->ids.v[j]) && dl_ids_add(&seen, l->ids.v[j]))
				dl_ids_add(&ids, l->ids.v[j]);
		for (size_t j = 0; j < l->remote.n; j++)
			if (!dl_rem_has(&p->set.remote, l->remote.v[j].address) &&
			    dl_rem_add(&seen_rem, l->remote.v[j].address, NULL, NULL))
				dl_rem_add(&rem, l->remote.v[j].address, NULL, NULL);
		if (ids.n > 0 || rem.n > 0) {
			struct buf *body = new_body(b);
			list_id_field(body, l->address);
			buf_append(body, m->body, m->len);
			struct store_submission *s = add_fx(b, "list", l->address);
			s->qid = side_qid(b, m->qid, 'L', i);
			s->sender = keep_str(b, bounce);
			s->local_origin = p->local_origin; /* as the message */
			s->mailbox_ids = ids_copy(b, &ids);
			s->n_local = ids.n;
			s->remote = rems_copy(b, &rem);
			s->n_remote = rem.n;
			s->body = body->data;
			s->len = body->len;
		}
		free(ids.v);
		dl_rems_free(&rem);
		fx_failure(d, st, b, m, bounce, bounce, &l->full,
			   "5.2.2 mailbox full: the list member's mailbox is over its quota", 'Q');
	}
	free(seen.v);
	dl_rems_free(&seen_rem);
}

static bool sender_internal(struct store *st, const char *sender)
{
	const char *at = strrchr(sender, '@');
	struct store_domain dom;

	if (at == NULL || store_domain_get(st, at + 1, &dom) != STORE_OK)
		return false;
	store_domain_clear(&dom);
	return true;
}

static void build_vacation(struct delivery *d, struct store *st, struct built *b,
			   struct delivery_plan *p, const struct delivery_message *m, int64_t id,
			   size_t i)
{
	struct store_vacation v;
	char **addrs = NULL;
	size_t n = 0, matched = 0;

	if (store_vacation_get_id(st, id, &v) != STORE_OK)
		return;
	if (store_mailbox_addresses(st, id, &addrs, &n) == STORE_OK) {
		enum vacation_skip why = vacation_check(m->body, m->len, p->sender,
							(const char *const *)addrs, n, &matched);
		if (why != VACATION_SEND) {
			log_info("delivery qid=%s auto-reply of <%s> not sent: %s", m->qid,
				 addrs[0], vacation_skip_name(why));
		} else {
			bool inside = sender_internal(st, p->sender);
			const char *subject = v.subject, *text = v.body;
			/* each external text stands in for its own inside one
			   (store.h: NULL, the inside one) */
			if (!inside && v.external_subject != NULL)
				subject = v.external_subject;
			if (!inside && v.external_body != NULL)
				text = v.external_body;
			struct buf *body = new_body(b);
			vacation_reply_build(body, d->hostname, addrs[matched], p->sender, subject,
					     text, m->body, m->len);
			const char *rq = side_qid(b, m->qid, 'V', i);
			struct store_submission *s =
			    fx_report(d, st, b, "auto-reply", rq, p->sender, body);
			char key[STORE_ADDRESS_MAX + 64];
			snprintf(key, sizeof(key), "vacation:%lld:", (long long)id);
			size_t kl = strlen(key);
			for (const char *c = p->sender; *c != '\0' && kl + 1 < sizeof(key); c++)
				key[kl++] = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
			key[kl] = '\0';
			s->once_key = keep_str(b, key);
			s->once_until = (int64_t)time(NULL) + (int64_t)v.interval_days * 86400;
		}
	}
	for (size_t j = 0; j < n; j++)
		free(addrs[j]);
	free(addrs);
	store_vacation_clear(&v);
}

static void human_size(char *out, size_t len, uint64_t v)
{
	if (v >= 1024ull * 1024 * 1024)
		snprintf(out, len, "%.1f GiB", (double)v / (1024.0 * 1024 * 1024));
	else if (v >= 1024ull * 1024)
		snprintf(out, len, "%.1f MiB", (double)v / (1024.0 * 1024));
	else if (v >= 1024)
		snprintf(out, len, "%.1f KiB", (double)v / 1024.0);
	else
		snprintf(out, len, "%llu octets", (unsigned long long)v);
}

/* A warning for a mailbox with a warning level: stored only if, once the
   message is in, the mailbox is at or above the level (cond_used, decided
   in the transaction) and no warning went since it last was below
   (once_key). */
static void build_quota_warning(struct delivery *d, struct built *b,
				const struct store_mailbox_info *in,
				const struct delivery_message *m)
{
	const int64_t *lv = in->limits.v;
	char date[64], warn[32], send[32], quota[32];

	if (lv[STORE_LIMIT_QUOTA_WARN] <= 0)
		return;
	date_now(date, sizeof(date));
	human_size(warn, sizeof(warn), (uint64_t)lv[STORE_LIMIT_QUOTA_WARN]);
	struct buf *body = new_body(b);
	buf_printf(body,
		   "From: Mail Delivery System <MAILER-DAEMON@%s>\r\nTo: <%s>\r\n"
		   "Subject: Mailbox almost full: %s reached its warning level of %s\r\n"
		   "Date: %s\r\n",
		   d->hostname, in->address, in->address, warn, date);
	message_id(body, d->hostname);
	buf_printf(body, "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
			 "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	buf_printf(body, "Your mailbox <%s> has reached its warning level of %s.\r\n", in->address,
		   warn);
	if (lv[STORE_LIMIT_QUOTA_SEND] > 0) {
		human_size(send, sizeof(send), (uint64_t)lv[STORE_LIMIT_QUOTA_SEND]);
		buf_printf(body, "At %s you can no longer send mail.\r\n", send);
	}
	if (lv[STORE_LIMIT_QUOTA] > 0) {
		human_size(quota, sizeof(quota), (uint64_t)lv[STORE_LIMIT_QUOTA]);
		buf_printf(body, "At %s the mailbox no longer receives mail.\r\n", quota);
	}
	buf_printf(body, "\r\nDelete or download messages to make room. You get this notice "
			 "once each time the mailbox passes the warning level.\r\n");
	char key[64];
	snprintf(key, sizeof(key), STORE_ONCE_QUOTA_WARN "%lld", (long long)in->id);
	struct store_submission *s = add_fx(b, "quota-warning", in->address);
	s->qid = side_qid(b, m->qid, 'W', b->n_fx);
	s->sender = "";
	s->local_origin = true; /* mailroom's own notice */
	s->mailbox_ids = keep(b, xmalloc(sizeof(int64_t)));
	*(int64_t *)s->mailbox_ids = in->id;
	s->n_local = 1;
	s->body = body->data;
	s->len = body->len;
	s->cond_mailbox = in->id;
	s->cond_used = (uint64_t)lv[STORE_LIMIT_QUOTA_WARN];
	s->once_key = keep_str(b, key);
	s->once_until = INT64_MAX;
}

static void build_success(struct delivery *d, struct store *st, struct built *b,
			  const struct delivery_plan *p, const struct delivery_message *m)
{
	/* RFC 3461 §6.2.1: never a report to the null sender */
	if (p->n_notify == 0 || p->sender == NULL || *p->sender == '\0')
		return;
	struct store_queue_rcpt *qr = xcalloc(p->n_notify, sizeof(*qr));
	for (size_t i = 0; i < p->n_notify; i++) {
		qr[i].address = p->notify[i].address;
		qr[i].dsn_orcpt = p->notify[i].orcpt;
		qr[i].dsn_notify = "SUCCESS";
		qr[i].remote_reply = "2.0.0 delivered to mailbox";
	}
	fx_dsn(d, st, b, m, p->sender, p->sender, qr, p->n_notify, DSN_DELIVERED, 'R');
	free(qr);
}

void delivery_build(struct delivery *d, struct store *st, struct delivery_plan *p,
		    const struct delivery_message *m, struct delivery_out *out)
{
	struct built *b = xcalloc(1, sizeof(*b));

	memset(out, 0, sizeof(*out));
	out->priv = b;
	b->qid = xstrdup(m->qid);
	for (size_t i = 0; i < p->set.ids.n; i++)
		dl_ids_add(&b->ids, p->set.ids.v[i]);
	for (size_t i = 0; i < p->set.remote.n; i++)
		dl_rem_add(&b->remote, p->set.remote.v[i].address, p->set.remote.v[i].dsn_notify,
			   p->set.remote.v[i].dsn_orcpt);
	build_forwards(d, b, p, m);
	build_lists(d, st, b, p, m);
	for (size_t i = 0; i < b->ids.n; i++) {
		int r;
		const struct store_mailbox_info *in = dl_info(st, p, b->ids.v[i], &r);
		if (in != NULL && in->vacation)
			build_vacation(d, st, b, p, m, b->ids.v[i], i);
	}
	/* every mailbox the message or a list copy reaches */
	struct dl_ids all = {0};
	for (size_t i = 0; i < b->ids.n; i++)
		dl_ids_add(&all, b->ids.v[i]);
	for (size_t i = 0; i < p->set.n_lists; i++)
		for (size_t j = 0; j < p->set.lists[i].ids.n; j++)
			dl_ids_add(&all, p->set.lists[i].ids.v[j]);
	for (size_t i = 0; i < all.n; i++) {
		int r;
		const struct store_mailbox_info *in = dl_info(st, p, all.v[i], &r);
		if (in != NULL)
			build_quota_warning(d, b, in, m);
	}
	free(all.v);
	build_success(d, st, b, p, m);
	out->sub = (struct store_submission){
	    .qid = b->qid,
	    .sender = p->sender != NULL ? keep_str(b, p->sender) : NULL,
	    .body = m->body,
	    .len = m->len,
	    .mailbox_ids = b->ids.v,
	    .n_local = b->ids.n,
	    .remote = b->remote.v,
	    .n_remote = b->remote.n,
	    .auth_user = p->login != NULL ? keep_str(b, p->login) : NULL,
	    .local_origin = p->local_origin,
	    .dsn_envid = m->dsn_envid,
	    .dsn_ret = m->dsn_ret,
	    .reports = b->fx,
	    .n_reports = b->n_fx,
	    .sent_by = p->snd_mailbox,
	    .sent_rcpts = (unsigned)p->recipients,
	};
}

void delivery_log(const struct delivery_out *out, const char *sid)
{
	const struct built *b = out->priv;

	for (size_t i = 0; b != NULL && i < b->n_fx; i++) {
		const struct store_submission *s = &out->sub.reports[i];
		if (s->skipped && s->cond_mailbox > 0)
			continue; /* a quota warning that was not due: every message has one */
		log_info("sid=%s delivery qid=%s %s qid=%s to=<%s> from=<%s> result=%s", sid,
			 out->sub.qid, b->labels[i].kind, s->qid, b->labels[i].to,
			 s->sender != NULL ? s->sender : "",
			 out->sub.status != STORE_OK ? "not stored"
			 : s->skipped		     ? "skipped"
						     : "stored");
	}
}

void delivery_out_clear(struct delivery_out *out)
{
	struct built *b = out->priv;

	if (b == NULL)
		return;
	for (size_t i = 0; i < b->n_fx; i++)
		free(b->labels[i].to);
	free(b->labels);
	free(b->fx);
	free(b->ids.v);
	dl_rems_free(&b->remote);
	for (size_t i = 0; i < b->n_bufs; i++)
		buf_free(&b->bufs[i]);
	free(b->bufs);
	for (size_t i = 0; i < b->n_blocks; i++)
		free(b->blocks[i]);
	free(b->blocks);
	for (size_t i = 0; i < b->n_nested; i++)
		delivery_out_clear(&b->nested[i]);
	free(b->nested);
	free(b->qid);
	free(b);
	memset(out, 0, sizeof(*out));
}

void delivery_report(struct delivery *d, struct store *st, const char *qid, const char *to,
		     const char *body, size_t len, struct delivery_out *out)
{
	struct delivery_sender none = {.address = "", .local_origin = true};
	struct delivery_plan *p = delivery_plan_new(&none, len);
	struct delivery_rcpt r = {.address = to};
	struct delivery_result res;
	char *copy = xmalloc(len + 1);

	memcpy(copy, body, len);
	copy[len] = '\0';
	if (delivery_add(d, st, p, &r, &res) != DELIVERY_OK) {
		/* not ours, or not answerable now: the queue takes it (a local
		   address comes back in over SMTP and waits there) */
		delivery_add_remote(p, &r, &res);
	}
	struct delivery_message m = {
	    .qid = qid, .body = copy, .len = len, .arrival = (int64_t)time(NULL)};
	delivery_build(d, st, p, &m, out);
	keep(out->priv, copy);
	delivery_plan_free(&p);
}

bool delivery_dsn_make(struct delivery *d, struct store *st, const struct store_queue_msg *m,
		       const size_t *which, size_t n, enum dsn_action action,
		       struct delivery_dsn *rep)
{
	unsigned char r[8];

	if (n == 0 || m->sender == NULL || m->sender[0] == '\0')
		return false;
	memset(rep, 0, sizeof(*rep));
	if (RAND_bytes(r, sizeof(r)) != 1)
		log_panic("RAND_bytes failed");
	snprintf(rep->qid, sizeof(rep->qid), "R%02X%02X%02X%02X%02X%02X%02X%02X", r[0], r[1], r[2],
		 r[3], r[4], r[5], r[6], r[7]);
	dsn_build(&rep->body, d->hostname, m, which, n, action, rep->qid);
	delivery_report(d, st, rep->qid, m->sender, rep->body.data, rep->body.len, &rep->out);
	rep->sub = rep->out.sub;
	return true;
}

void delivery_dsn_clear(struct delivery_dsn *rep)
{
	buf_free(&rep->body);
	delivery_out_clear(&rep->out);
	memset(rep, 0, sizeof(*rep));
}
