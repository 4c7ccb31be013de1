/* SPDX-License-Identifier: MIT */
/*
 * delivery.c - the context, the plan and recipient resolution (step 1 of
 * delivery.h): aliases through the directory, distribution lists with their
 * sender rules, a mailbox's forwarding, SRS bounce addresses, the postmaster
 * fall-back, the receive quota and the sender's recipient limits.
 *
 * Resolution fills a set of buckets for one recipient, then merges it into
 * the plan (a refused recipient leaves the plan as it was):
 *  - direct mailboxes: get the message as it came;
 *  - remote targets: queued with the original envelope sender (alias
 *    targets elsewhere, relayed recipients, reversed SRS addresses);
 *  - forwards: outside targets of a mailbox's forwarding, sent with an SRS
 *    sender from that mailbox's domain;
 *  - list copies: one per list addressed, with the members flattened
 *    (nested lists included, each list once), sent with the list's bounce
 *    address owner-LOCAL@DOMAIN as envelope sender.
 * Forwarding inside the hosted domains follows the target's own forwarding;
 * a chain that comes back to a mailbox on it ends there (the mailbox keeps
 * the message), so no loop and nothing lost. delivery_build.c makes the
 * submission and its side effects from the plan.
 */
#include "delivery/delivery_private.h"
#include "delivery/srs.h"
#include "directory/directory.h"
#include "queue/dsn.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* --- small sets ---------------------------------------------------------------- */

bool dl_ids_has(const struct dl_ids *a, int64_t id)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i] == id)
			return true;
	return false;
}

bool dl_ids_add(struct dl_ids *a, int64_t id)
{
	if (dl_ids_has(a, id))
		return false;
	if (a->n == a->cap) {
		a->cap = a->cap > 0 ? a->cap * 2 : 4;
		a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n++] = id;
	return true;
}

static void ids_free(struct dl_ids *a)
{
	free(a->v);
	memset(a, 0, sizeof(*a));
}

bool dl_rem_has(const struct dl_rems *a, const char *address)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcasecmp(a->v[i].address, address) == 0)
			return true;
	return false;
}

bool dl_rem_add(struct dl_rems *a, const char *address, const char *notify, const char *orcpt)
{
	if (dl_rem_has(a, address))
		return false;
	if (a->n == a->cap) {
		a->cap = a->cap > 0 ? a->cap * 2 : 4;
		a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n++] = (struct store_remote_rcpt){
	    .address = xstrdup(address),
	    .dsn_notify = notify != NULL ? xstrdup(notify) : NULL,
	    .dsn_orcpt = orcpt != NULL ? xstrdup(orcpt) : NULL,
	};
	return true;
}

void dl_rems_free(struct dl_rems *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free((char *)a->v[i].address);
		free((char *)a->v[i].dsn_notify);
		free((char *)a->v[i].dsn_orcpt);
	}
	free(a->v);
	memset(a, 0, sizeof(*a));
}

static void set_free(struct dl_set *s)
{
	ids_free(&s->ids);
	dl_rems_free(&s->remote);
	for (size_t i = 0; i < s->n_fwd; i++) {
		free(s->fwd[i].from_addr);
		free(s->fwd[i].list);
		dl_rems_free(&s->fwd[i].to);
	}
	free(s->fwd);
	for (size_t i = 0; i < s->n_lists; i++) {
		free(s->lists[i].address);
		ids_free(&s->lists[i].ids);
		dl_rems_free(&s->lists[i].remote);
		dl_rems_free(&s->lists[i].full);
	}
	free(s->lists);
	memset(s, 0, sizeof(*s));
}

static struct dl_fwd *fwd_of(struct dl_set *s, int64_t from, const char *from_addr,
			     const char *list)
{
	for (size_t i = 0; i < s->n_fwd; i++)
		if (s->fwd[i].from == from &&
		    (list == NULL ? s->fwd[i].list == NULL
				  : s->fwd[i].list != NULL && strcmp(s->fwd[i].list, list) == 0))
			return &s->fwd[i];
	s->fwd = xrealloc(s->fwd, (s->n_fwd + 1) * sizeof(*s->fwd));
	struct dl_fwd *f = &s->fwd[s->n_fwd++];
	memset(f, 0, sizeof(*f));
	f->from = from;
	f->from_addr = xstrdup(from_addr);
	f->list = list != NULL ? xstrdup(list) : NULL;
	return f;
}

static struct dl_list *list_of(struct dl_set *s, const char *address)
{
	for (size_t i = 0; i < s->n_lists; i++)
		if (strcmp(s->lists[i].address, address) == 0)
			return &s->lists[i];
	s->lists = xrealloc(s->lists, (s->n_lists + 1) * sizeof(*s->lists));
	struct dl_list *l = &s->lists[s->n_lists++];
	memset(l, 0, sizeof(*l));
	l->address = xstrdup(address);
	return l;
}

/* Moves what `from` found into `to`, each mailbox and address once. */
static void set_merge(struct dl_set *to, struct dl_set *from)
{
	for (size_t i = 0; i < from->ids.n; i++)
		dl_ids_add(&to->ids, from->ids.v[i]);
	for (size_t i = 0; i < from->remote.n; i++)
		dl_rem_add(&to->remote, from->remote.v[i].address, from->remote.v[i].dsn_notify,
			   from->remote.v[i].dsn_orcpt);
	for (size_t i = 0; i < from->n_fwd; i++) {
		struct dl_fwd *f =
		    fwd_of(to, from->fwd[i].from, from->fwd[i].from_addr, from->fwd[i].list);
		for (size_t j = 0; j < from->fwd[i].to.n; j++)
			dl_rem_add(&f->to, from->fwd[i].to.v[j].address, NULL, NULL);
	}
	for (size_t i = 0; i < from->n_lists; i++) {
		struct dl_list *l = list_of(to, from->lists[i].address);
		for (size_t j = 0; j < from->lists[i].ids.n; j++)
			dl_ids_add(&l->ids, from->lists[i].ids.v[j]);
		for (size_t j = 0; j < from->lists[i].remote.n; j++)
			dl_rem_add(&l->remote, from->lists[i].remote.v[j].address, NULL, NULL);
		for (size_t j = 0; j < from->lists[i].full.n; j++)
			dl_rem_add(&l->full, from->lists[i].full.v[j].address, NULL, NULL);
	}
	set_free(from);
}

/* --- the context -------------------------------------------------------------------- */

int delivery_open(const struct delivery_settings *s, struct delivery **d_r, const char **err_r)
{
	static char err[512];
	struct delivery *d = xcalloc(1, sizeof(*d));

	d->hostname = xstrdup(s->hostname);
	d->postmaster = s->postmaster != NULL ? xstrdup(s->postmaster) : NULL;
	d->dir = s->dir;
	d->max_expansion = s->max_expansion > 0 ? s->max_expansion : DELIVERY_EXPANSION_MAX;
	if (srs_key_load(s->data_dir, d->srs_key, err, sizeof(err)) < 0) {
		*err_r = err;
		delivery_free(&d);
		return -1;
	}
	*d_r = d;
	return 0;
}

void delivery_free(struct delivery **dp)
{
	struct delivery *d = *dp;

	if (d == NULL)
		return;
	free(d->hostname);
	free(d->postmaster);
	OPENSSL_cleanse(d->srs_key, sizeof(d->srs_key));
	free(d);
	*dp = NULL;
}

/* --- the plan -------------------------------------------------------------------------- */

struct delivery_plan *delivery_plan_new(const struct delivery_sender *snd, uint64_t size)
{
	struct delivery_plan *p = xcalloc(1, sizeof(*p));

	p->sender = snd->address != NULL ? xstrdup(snd->address) : NULL;
	p->snd_mailbox = snd->mailbox;
	p->login = snd->login != NULL ? xstrdup(snd->login) : NULL;
	p->local_origin = snd->local_origin || snd->login != NULL;
	p->size = size;
	return p;
}

void delivery_plan_free(struct delivery_plan **pp)
{
	struct delivery_plan *p = *pp;

	if (p == NULL)
		return;
	free(p->sender);
	free(p->login);
	set_free(&p->set);
	for (size_t i = 0; i < p->n_notify; i++) {
		free(p->notify[i].address);
		free(p->notify[i].orcpt);
	}
	free(p->notify);
	for (size_t i = 0; i < p->n_info; i++)
		store_mailbox_info_clear(&p->info[i]);
	free(p->info);
	free(p->info_at);
	free(p);
	*pp = NULL;
}

bool delivery_plan_simple(const struct delivery_plan *p)
{
	if (p->set.n_lists > 0 || p->set.n_fwd > 0 ||
	    (p->n_notify > 0 && p->sender != NULL && *p->sender != '\0'))
		return false;
	for (size_t i = 0; i < p->set.ids.n; i++) {
		int r;
		const struct store_mailbox_info *in =
		    dl_info(NULL, (struct delivery_plan *)p, p->set.ids.v[i], &r);
		if (in == NULL || in->vacation)
			return false;
	}
	return true;
}

size_t delivery_plan_recipients(const struct delivery_plan *p)
{
	return p->recipients;
}

size_t delivery_plan_local(const struct delivery_plan *p)
{
	size_t n = p->set.ids.n;
	for (size_t i = 0; i < p->set.n_lists; i++)
		n += p->set.lists[i].ids.n;
	return n;
}

size_t delivery_plan_remote(const struct delivery_plan *p)
{
	size_t n = p->set.remote.n;
	for (size_t i = 0; i < p->set.n_fwd; i++)
		n += p->set.fwd[i].to.n;
	for (size_t i = 0; i < p->set.n_lists; i++)
		n += p->set.lists[i].remote.n;
	return n;
}

/* The slot of id in info_at: where it is, or the empty one it would take. */
static size_t info_slot(const struct delivery_plan *p, int64_t id)
{
	size_t mask = p->info_slots - 1;
	size_t i = (size_t)((uint64_t)id * 0x9e3779b97f4a7c15ULL >> 32) & mask;
	while (p->info_at[i] != 0 && p->info[p->info_at[i] - 1].id != id)
		i = (i + 1) & mask;
	return i;
}

/* Room for one more record; the index rebuilt when it is half full. A list
   expands to thousands of mailboxes: a lookup must not walk them all. */
static void info_grow(struct delivery_plan *p)
{
	if (p->n_info == p->cap_info) {
		p->cap_info = p->cap_info ? p->cap_info * 2 : 8;
		p->info = xrealloc(p->info, p->cap_info * sizeof(*p->info));
	}
	if ((p->n_info + 1) * 2 <= p->info_slots)
		return;
	free(p->info_at);
	p->info_slots = p->info_slots ? p->info_slots * 2 : 16;
	p->info_at = xcalloc(p->info_slots, sizeof(*p->info_at));
	for (size_t k = 0; k < p->n_info; k++)
		p->info_at[info_slot(p, p->info[k].id)] = (uint32_t)(k + 1);
}

const struct store_mailbox_info *dl_info(struct store *st, struct delivery_plan *p, int64_t id,
					 int *status_r)
{
	if (p->info_slots > 0) {
		uint32_t at = p->info_at[info_slot(p, id)];
		if (at != 0)
			return &p->info[at - 1];
	}
	if (st == NULL) { /* delivery_plan_simple(): everything was read at RCPT */
		*status_r = STORE_TEMP;
		return NULL;
	}
	struct store_mailbox_info in;
	int r = store_mailbox_info(st, id, (int64_t)time(NULL), &in);
	*status_r = r;
	if (r != STORE_OK)
		return NULL;
	info_grow(p);
	p->info[p->n_info] = in;
	p->info_at[info_slot(p, id)] = (uint32_t)(p->n_info + 1);
	return &p->info[p->n_info++];
}

/* --- the sender's limits ------------------------------------------------------------------ */

static enum delivery_verdict refuse(struct delivery_result *res, enum delivery_verdict v,
				    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static enum delivery_verdict refuse(struct delivery_result *res, enum delivery_verdict v,
				    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->text, sizeof(res->text), fmt, ap);
	va_end(ap);
	res->verdict = v;
	return v;
}

/* A refusal by one of the sender's limits, named in the result. */
#define limit_refuse(res, l, ...) ((res)->limit = (l), refuse((res), __VA_ARGS__))

static void result_init(struct delivery_result *res)
{
	memset(res, 0, sizeof(*res));
	res->verdict = DELIVERY_OK;
	res->limit = -1;
}

enum delivery_verdict delivery_sender_check(struct delivery *d, struct store *st,
					    struct delivery_plan *p, struct delivery_result *res)
{
	int64_t now = (int64_t)time(NULL);
	uint64_t m_hour = 0, m_day = 0;
	int r = STORE_OK;

	(void)d;
	result_init(res);
	if (p->snd_mailbox == 0)
		return DELIVERY_OK;
	const struct store_mailbox_info *in = dl_info(st, p, p->snd_mailbox, &r);
	if (in == NULL && r == STORE_NOTFOUND)
		return DELIVERY_OK; /* the login's mailbox went away: nothing to count */
	if (in == NULL ||
	    (r = store_sent_count(st, p->snd_mailbox, now - 3600, &m_hour, &p->rcpts_hour)) !=
		STORE_OK ||
	    (r = store_sent_count(st, p->snd_mailbox, now - 86400, &m_day, &p->rcpts_day)) !=
		STORE_OK) {
		res->status = r;
		return refuse(res, DELIVERY_TEMP, "Temporary lookup failure");
	}
	p->lim = in->limits;
	p->limits_loaded = true;
	const int64_t *v = p->lim.v;
	const char *who = p->login != NULL ? p->login : in->address;
	if (v[STORE_LIMIT_QUOTA_SEND] > 0 && in->used >= (uint64_t)v[STORE_LIMIT_QUOTA_SEND])
		return limit_refuse(
		    res, STORE_LIMIT_QUOTA_SEND, DELIVERY_SEND_QUOTA,
		    "Mailbox of %s is over its send quota (%llu of %lld octets): delete "
		    "mail to send again",
		    who, (unsigned long long)in->used, (long long)v[STORE_LIMIT_QUOTA_SEND]);
	if (v[STORE_LIMIT_MESSAGES_HOUR] > 0 && m_hour >= (uint64_t)v[STORE_LIMIT_MESSAGES_HOUR])
		return limit_refuse(
		    res, STORE_LIMIT_MESSAGES_HOUR, DELIVERY_RATE,
		    "%s sent %llu messages in the last hour, the most allowed: try later", who,
		    (unsigned long long)m_hour);
	if (v[STORE_LIMIT_MESSAGES_DAY] > 0 && m_day >= (uint64_t)v[STORE_LIMIT_MESSAGES_DAY])
		return limit_refuse(
		    res, STORE_LIMIT_MESSAGES_DAY, DELIVERY_RATE,
		    "%s sent %llu messages in the last 24 hours, the most allowed: try "
		    "later",
		    who, (unsigned long long)m_day);
	if (!delivery_plan_size_ok(p, p->size))
		return limit_refuse(res, STORE_LIMIT_MESSAGE_SIZE, DELIVERY_TOO_BIG,
				    "Message size exceeds the %lld octets %s may send",
				    (long long)v[STORE_LIMIT_MESSAGE_SIZE], who);
	return DELIVERY_OK;
}

bool delivery_plan_size_ok(const struct delivery_plan *p, uint64_t size)
{
	int64_t max = p->limits_loaded ? p->lim.v[STORE_LIMIT_MESSAGE_SIZE] : 0;
	return max <= 0 || size <= (uint64_t)max;
}

/* Whether adding n recipients keeps the sender within its limits. */
static enum delivery_verdict check_rcpt_limits(struct delivery_plan *p, size_t n,
					       struct delivery_result *res)
{
	const int64_t *v = p->lim.v;
	uint64_t after = p->recipients + n;

	if (!p->limits_loaded)
		return DELIVERY_OK;
	if (v[STORE_LIMIT_RECIPIENTS] > 0 && after > (uint64_t)v[STORE_LIMIT_RECIPIENTS])
		return limit_refuse(res, STORE_LIMIT_RECIPIENTS, DELIVERY_TOO_MANY,
				    "Too many recipients: %s may send to %lld per message",
				    p->login, (long long)v[STORE_LIMIT_RECIPIENTS]);
	const struct {
		enum store_limit l;
		uint64_t sent;
		const char *window;
	} rates[] = {{STORE_LIMIT_RECIPIENTS_HOUR, p->rcpts_hour, "hour"},
		     {STORE_LIMIT_RECIPIENTS_DAY, p->rcpts_day, "24 hours"}};
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
		if (v[rates[i].l] > 0 && rates[i].sent + after > (uint64_t)v[rates[i].l])
			return limit_refuse(res, rates[i].l, DELIVERY_RATE,
					    "%s reached %lld recipients in the last %s, the most "
					    "allowed: try later",
					    p->login, (long long)v[rates[i].l], rates[i].window);
	return DELIVERY_OK;
}

/* --- resolution ------------------------------------------------------------------------------ */

struct expansion {
	struct delivery *d;
	struct store *st;
	struct delivery_plan *p;
	struct delivery_result *res;
	const struct delivery_rcpt *r;
	struct dl_set set;
	int64_t chain[DELIVERY_DEPTH_MAX + 1]; /* the forwarding chain being followed */
	size_t n_chain;
	struct dl_ids lists_seen; /* lists expanded into the current copy */
	size_t count;		  /* recipients found */
};

/* statuses beside store.h's; res->text says why */
#define EXP_REFUSED 1  /* refused (a list's sender rule, a bad SRS address) */
#define EXP_TOO_MANY 2 /* expands past [the context's] max_expansion */

static int resolve_addr(struct expansion *x, const char *address, struct dl_list *into,
			unsigned depth);

static bool local_is(const char *address, const char *prefix, size_t n)
{
	return strncasecmp(address, prefix, n) == 0;
}

/* Whether the address's domain is hosted here, and of which type. */
static bool domain_kind(struct store *st, const char *address, enum domain_type *t_r, int *status_r)
{
	const char *at = strrchr(address, '@');
	struct store_domain dom;

	*status_r = STORE_OK;
	if (at == NULL)
		return false;
	int r = store_domain_get(st, at + 1, &dom);
	if (r == STORE_OK) {
		*t_r = dom.type;
		store_domain_clear(&dom);
		return true;
	}
	if (r != STORE_NOTFOUND && r != STORE_INVALID)
		*status_r = r;
	return false;
}

static bool domain_hosted(struct store *st, const char *address, int *status_r)
{
	enum domain_type t;
	return domain_kind(st, address, &t, status_r);
}

static void add_remote(struct expansion *x, struct dl_list *into, const char *address)
{
	if (into != NULL) {
		if (dl_rem_add(&into->remote, address, NULL, NULL))
			x->count++;
	} else if (dl_rem_add(&x->set.remote, address, x->r->notify, x->r->orcpt)) {
		x->count++;
	}
}

static void add_id(struct expansion *x, struct dl_list *into, int64_t id)
{
	if (dl_ids_add(into != NULL ? &into->ids : &x->set.ids, id))
		x->count++;
}

static bool in_chain(const struct expansion *x, int64_t id)
{
	for (size_t i = 0; i < x->n_chain; i++)
		if (x->chain[i] == id)
			return true;
	return false;
}

/* A mailbox found for the recipient: it takes the message, or forwards. */
static int add_mailbox(struct expansion *x, int64_t id, struct dl_list *into, unsigned depth)
{
	int r = STORE_OK;
	const struct store_mailbox_info *in = dl_info(x->st, x->p, id, &r);

	if (in == NULL)
		return r == STORE_NOTFOUND ? STORE_OK : r; /* removed meanwhile */
	if (into != NULL && in->limits.v[STORE_LIMIT_QUOTA] > 0 &&
	    in->used + x->p->size > (uint64_t)in->limits.v[STORE_LIMIT_QUOTA]) {
		/* a full member is left out; the list's owner hears of it */
		dl_rem_add(&into->full, in->address, NULL, NULL);
		return STORE_OK;
	}
	if (in->n_forward == 0 || in_chain(x, id) || depth >= DELIVERY_DEPTH_MAX) {
		if (in->n_forward > 0)
			log_info("delivery forwarding of <%s> comes back to it: kept there",
				 in->address);
		add_id(x, into, id);
		return STORE_OK;
	}
	bool keep = in->keep_copy;
	char *self = xstrdup(in->address);
	size_t n_fwd = in->n_forward;
	char **targets = xcalloc(n_fwd, sizeof(char *));
	for (size_t i = 0; i < n_fwd; i++) /* `in` may move as the cache grows */
		targets[i] = xstrdup(in->forward[i]);
	x->chain[x->n_chain++] = id;
	for (size_t i = 0; r == STORE_OK && i < n_fwd; i++) {
		int hs;
		bool hosted = domain_hosted(x->st, targets[i], &hs);
		if (hs != STORE_OK) {
			r = hs;
		} else if (hosted) {
			int t = resolve_addr(x, targets[i], into, depth + 1);
			if (t == STORE_NOTFOUND || t == EXP_REFUSED) {
				log_warn(
				    "delivery <%s> forwards to <%s>, which takes no mail: kept "
				    "in <%s>",
				    self, targets[i], self);
				keep = true;
			} else {
				r = t;
			}
		} else if (dl_rem_add(
			       &fwd_of(&x->set, id, self, into != NULL ? into->address : NULL)->to,
			       targets[i], NULL, NULL)) {
			x->count++;
		}
	}
	x->n_chain--;
	if (r == STORE_OK && keep)
		add_id(x, into, id);
	for (size_t i = 0; i < n_fwd; i++)
		free(targets[i]);
	free(targets);
	free(self);
	return r;
}

/* Whether `sender` is a member of list l, or of a list nested in it. Each
   list is looked at once (`seen`): lists that contain each other would
   otherwise be walked once per path, exponentially many. */
static int list_member(struct store *st, const struct store_list *l, const char *sender,
		       unsigned depth, struct dl_ids *seen, bool *yes_r)
{
	int r = STORE_OK;

	if (!dl_ids_add(seen, l->id))
		return STORE_OK;
	for (size_t i = 0; i < l->n_members && !*yes_r; i++)
		*yes_r = strcasecmp(l->members[i], sender) == 0;
	for (size_t i = 0;
	     i < l->n_members && !*yes_r && r == STORE_OK && depth < DELIVERY_DEPTH_MAX; i++) {
		struct store_list in;
		int g = store_list_get(st, l->members[i], &in);
		if (g == STORE_OK) {
			r = list_member(st, &in, sender, depth + 1, seen, yes_r);
			store_list_clear(&in);
		} else if (g != STORE_NOTFOUND) {
			r = g;
		}
	}
	return r;
}

/* The list's sender rule: STORE_OK, EXP_REFUSED or a store failure. */
static int list_sender_ok(struct expansion *x, const struct store_list *l)
{
	const char *snd = x->p->sender;
	bool ok = false;
	int r = STORE_OK;

	if (l->senders == STORE_LIST_ANYONE)
		return STORE_OK;
	for (size_t i = 0; snd != NULL && i < l->n_named && !ok; i++)
		ok = strcasecmp(l->named[i], snd) == 0;
	if (ok)
		return STORE_OK;
	switch (l->senders) {
	case STORE_LIST_MEMBERS:
		if (snd != NULL && *snd != '\0') {
			struct dl_ids seen = {0};
			r = list_member(x->st, l, snd, 0, &seen, &ok);
			ids_free(&seen);
		}
		break;
	case STORE_LIST_AUTHENTICATED:
		ok = x->p->snd_mailbox != 0;
		break;
	default:
		break;
	}
	if (r != STORE_OK || ok)
		return r;
	snprintf(x->res->text, sizeof(x->res->text), "Sender <%s> may not send to this list (%s)",
		 snd != NULL ? snd : "", store_list_senders_name(l->senders));
	return EXP_REFUSED;
}

static int expand_list(struct expansion *x, const struct store_list *l, struct dl_list *into,
		       unsigned depth)
{
	int r;

	if (into == NULL) {
		if ((r = list_sender_ok(x, l)) != STORE_OK)
			return r;
		into = list_of(&x->set, l->address);
	}
	if (!dl_ids_add(&x->lists_seen, l->id))
		return STORE_OK; /* already expanded into this copy: a loop */
	for (size_t i = 0; i < l->n_members; i++) {
		r = resolve_addr(x, l->members[i], into, depth + 1);
		if (r == STORE_NOTFOUND || r == EXP_REFUSED)
			log_warn("delivery list <%s> member <%s> takes no mail: left out",
				 l->address, l->members[i]);
		else if (r != STORE_OK)
			return r;
		if (x->count > x->d->max_expansion) {
			snprintf(x->res->text, sizeof(x->res->text),
				 "List <%s> expands to more than %u recipients", l->address,
				 x->d->max_expansion);
			return EXP_TOO_MANY;
		}
	}
	return STORE_OK;
}

/* A list's own bounce address, owner-LOCAL@DOMAIN: its owner. */
static int resolve_owner(struct expansion *x, const char *address, struct dl_list *into,
			 unsigned depth)
{
	struct store_list l;

	if (!local_is(address, "owner-", 6))
		return STORE_NOTFOUND;
	int r = store_list_get(x->st, address + 6, &l);
	if (r != STORE_OK)
		return r;
	char *owner = xstrdup(l.owner != NULL ? l.owner : STORE_POSTMASTER);
	store_list_clear(&l);
	r = resolve_addr(x, owner, into, depth + 1);
	free(owner);
	return r;
}

/* An SRS address here (a bounce of forwarded mail): STORE_NOTFOUND when it
   is none. The original sender is resolved as any address: a mailbox here
   gets the bounce itself, it is not queued for its domain's MX hosts. */
static int resolve_srs(struct expansion *x, const char *address, struct dl_list *into,
		       unsigned depth)
{
	char orig[STORE_ADDRESS_MAX + 1];
	int hs;

	if (!local_is(address, "SRS0=", 5) && !local_is(address, "SRS1=", 5))
		return STORE_NOTFOUND;
	if (!domain_hosted(x->st, address, &hs))
		return hs != STORE_OK ? hs : STORE_NOTFOUND;
	int v = srs_reverse(x->d->srs_key, sizeof(x->d->srs_key), address, (int64_t)time(NULL),
			    orig, sizeof(orig));
	if (v == 0)
		return STORE_NOTFOUND;
	if (v < 0) {
		snprintf(x->res->text, sizeof(x->res->text), "<%s>: invalid or expired SRS address",
			 address);
		return EXP_REFUSED;
	}
	return resolve_addr(x, orig, into, depth + 1);
}

static int resolve_addr(struct expansion *x, const char *address, struct dl_list *into,
			unsigned depth)
{
	struct dir_rcpt dr;
	int r;

	if (depth > DELIVERY_DEPTH_MAX) {
		log_warn("delivery <%s> is nested too deep: left out", address);
		return STORE_OK;
	}
	if ((r = resolve_srs(x, address, into, depth)) != STORE_NOTFOUND)
		return r;
	r = directory_resolve(x->d->dir, x->st, address, &dr);
	if (r == STORE_OK) {
		for (size_t i = 0; r == STORE_OK && i < dr.n_ids; i++)
			r = add_mailbox(x, dr.ids[i], into, depth);
		for (size_t i = 0; r == STORE_OK && i < dr.n_remote; i++)
			add_remote(x, into, dr.remote[i]);
		dir_rcpt_clear(&dr);
		return r;
	}
	if (r != STORE_NOTFOUND)
		return r;
	struct store_list l;
	r = store_list_get(x->st, address, &l);
	if (r == STORE_OK) {
		r = expand_list(x, &l, into, depth);
		store_list_clear(&l);
		return r;
	}
	if (r != STORE_NOTFOUND)
		return r;
	if ((r = resolve_owner(x, address, into, depth)) != STORE_NOTFOUND || depth == 0)
		return r;
	/* a member or forward target that is not ours: a domain elsewhere, or
	   one whose unknown addresses live on another system (relay domains) */
	int hs;
	enum domain_type t;
	if (!domain_kind(x->st, address, &t, &hs) || t != DOMAIN_AUTHORITATIVE) {
		if (hs != STORE_OK)
			return hs;
		add_remote(x, into, address);
		return STORE_OK;
	}
	return STORE_NOTFOUND;
}

/* postmaster@ a hosted domain without a mailbox of that name (RFC 5321
   §4.5.1): [smtp] postmaster when it names a mailbox here, else the
   store's built-in one. */
static int resolve_postmaster(struct expansion *x)
{
	int r = STORE_NOTFOUND;

	if (x->d->postmaster != NULL) {
		r = resolve_addr(x, x->d->postmaster, NULL, 0);
		if (r == STORE_OK && x->set.ids.n == 0)
			r = STORE_NOTFOUND; /* only outside targets: no mailbox here */
		if (r == STORE_OK || (r != STORE_NOTFOUND && r != EXP_REFUSED))
			return r;
		set_free(&x->set);
		x->count = 0;
		x->res->postmaster_fallback = true;
	}
	return resolve_addr(x, STORE_POSTMASTER, NULL, 0);
}

static void notify_add(struct delivery_plan *p, const struct delivery_rcpt *r)
{
	for (size_t i = 0; i < p->n_notify; i++)
		if (strcmp(p->notify[i].address, r->address) == 0)
			return; /* the same recipient twice: one line in the report */
	p->notify = xrealloc(p->notify, (p->n_notify + 1) * sizeof(*p->notify));
	p->notify[p->n_notify].address = xstrdup(r->address);
	p->notify[p->n_notify].orcpt = r->orcpt != NULL ? xstrdup(r->orcpt) : NULL;
	p->n_notify++;
}

/* How many direct mailboxes the message would take past their quota. */
static size_t over_quota(struct expansion *x)
{
	size_t n = 0;

	for (size_t i = 0; i < x->set.ids.n; i++) {
		int r;
		const struct store_mailbox_info *in = dl_info(x->st, x->p, x->set.ids.v[i], &r);
		n += in != NULL && in->limits.v[STORE_LIMIT_QUOTA] > 0 &&
		     in->used + x->p->size > (uint64_t)in->limits.v[STORE_LIMIT_QUOTA];
	}
	return n;
}

static bool quota_refuses(const struct expansion *x, const struct delivery_rcpt *r, size_t over)
{
	if (over == 0 || (r->postmaster && strchr(r->address, '@') == NULL))
		return false; /* bare <Postmaster> is never refused for quota */
	if (!r->any_room)
		return true;
	return over == x->set.ids.n && x->set.remote.n == 0 && x->set.n_fwd == 0 &&
	       x->set.n_lists == 0;
}

enum delivery_verdict delivery_add(struct delivery *d, struct store *st, struct delivery_plan *p,
				   const struct delivery_rcpt *r, struct delivery_result *res)
{
	struct expansion x = {.d = d, .st = st, .p = p, .res = res, .r = r};
	enum delivery_verdict v = DELIVERY_OK;

	result_init(res);
	int s = resolve_addr(&x, r->address, NULL, 0);
	if (s == STORE_NOTFOUND && r->postmaster) {
		set_free(&x.set);
		x.count = 0;
		if ((s = resolve_postmaster(&x)) == STORE_NOTFOUND)
			v = refuse(res, DELIVERY_NO_POSTMASTER,
				   "Postmaster mailbox not configured");
	}
	if (v != DELIVERY_OK) {
		/* decided above */
	} else if (s == STORE_NOTFOUND || s == STORE_INVALID) {
		v = refuse(res, DELIVERY_UNKNOWN, "Recipient address rejected: User unknown");
	} else if (s == EXP_REFUSED) {
		res->verdict = v = DELIVERY_REFUSED;
	} else if (s == EXP_TOO_MANY) {
		res->verdict = v = DELIVERY_TOO_MANY;
	} else if (s != STORE_OK) {
		res->status = s;
		v = refuse(res, DELIVERY_TEMP, "Temporary lookup failure");
	} else if (x.count == 0) {
		/* a list without members that take mail: refused now rather than
		   accepted and then failed at the commit, with nothing to store */
		v = refuse(res, DELIVERY_UNKNOWN,
			   "Recipient address rejected: no member of this list takes mail");
	} else if (quota_refuses(&x, r, res->over_quota = over_quota(&x))) {
		v = refuse(res, DELIVERY_FULL, "Mailbox full");
	} else {
		v = check_rcpt_limits(p, x.count, res);
	}
	res->expanded = x.count;
	if (v == DELIVERY_OK) {
		if (x.set.ids.n > 0 && r->notify != NULL && dsn_wanted(r->notify, DSN_DELIVERED))
			notify_add(p, r);
		p->recipients += x.count;
		set_merge(&p->set, &x.set);
	}
	set_free(&x.set);
	ids_free(&x.lists_seen);
	return v;
}

enum delivery_verdict delivery_add_remote(struct delivery_plan *p, const struct delivery_rcpt *r,
					  struct delivery_result *res)
{
	result_init(res);
	res->expanded = 1;
	if (dl_rem_has(&p->set.remote, r->address))
		return DELIVERY_OK;
	if (check_rcpt_limits(p, 1, res) != DELIVERY_OK)
		return res->verdict;
	dl_rem_add(&p->set.remote, r->address, r->notify, r->orcpt);
	p->recipients++;
	return DELIVERY_OK;
}
