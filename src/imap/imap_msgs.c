/* SPDX-License-Identifier: MIT */
/*
 * imap_msgs.c - commands that change messages: STORE (RFC 9051 §6.4.6),
 * EXPUNGE and UID EXPUNGE (§6.4.3, RFC 4315), COPY (§6.4.7, with COPYUID),
 * MOVE (RFC 6851) and APPEND (§6.3.12, with APPENDUID; APPENDLIMIT,
 * RFC 7889). Each is one store transaction on a worker; the other
 * sessions on the mailbox are told through env->changed. And SEARCH
 * (imap_search.h), read on a worker, with SEARCHRES (RFC 5182): RETURN
 * (SAVE) keeps the matching UIDs in the view (imap_view.saved, what "$"
 * names in imap_view_select()), so that selecting, closing or unselecting
 * a folder empties it with the view; an expunge takes its UIDs out.
 */
#include "imap/imap_private.h"
#include "imap/imap_search.h"
#include "mime/mime_tree.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void changed(struct imap_session *s)
{
	const struct service_env *env = s->svc->env;
	if (env->changed != NULL)
		env->changed(env->changed_ctx, s->mailbox_id);
}

/* "2,4:7" of a sorted list of UIDs, as UIDPLUS writes sets. */
void imap_uid_set_write(struct buf *b, const uint32_t *u, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && u[j + 1] == u[j] + 1)
			j++;
		if (j > i)
			buf_printf(b, "%s%u:%u", i ? "," : "", u[i], u[j]);
		else
			buf_printf(b, "%s%u", i ? "," : "", u[i]);
		i = j + 1;
	}
}

/* The flags of a STORE or APPEND: system flags and keywords. -1 on a flag
   that may not be set (\Recent, an unknown \Flag) or a bad keyword. */
static int parse_flags(const struct imap_node *n, unsigned *flags_r, struct buf *kw)
{
	static const struct {
		const char *name;
		unsigned flag;
	} sys[] = {{"\\Seen", STORE_FLAG_SEEN},
		   {"\\Answered", STORE_FLAG_ANSWERED},
		   {"\\Flagged", STORE_FLAG_FLAGGED},
		   {"\\Deleted", STORE_FLAG_DELETED},
		   {"\\Draft", STORE_FLAG_DRAFT}};
	const struct imap_node *first = n->type == IMAP_NODE_LIST ? n->child : n;
	bool list = n->type == IMAP_NODE_LIST;

	*flags_r = 0;
	for (const struct imap_node *f = first; f != NULL; f = list ? f->next : NULL) {
		if (f->type != IMAP_NODE_ATOM)
			return -1;
		size_t i;
		for (i = 0; i < N_ELEMENTS(sys); i++)
			if (imap_node_is(f, sys[i].name))
				break;
		if (i < N_ELEMENTS(sys)) {
			*flags_r |= sys[i].flag;
			continue;
		}
		if (f->str.len > 0 && f->str.p[0] == '\\')
			return -1;
		if (kw->len + f->str.len + 1 > STORE_KEYWORDS_MAX)
			return -1;
		if (kw->len > 0)
			buf_append_c(kw, ' ');
		buf_append(kw, f->str.p, f->str.len);
	}
	return 0;
}

/* --- STORE ---------------------------------------------------------------------------- */

struct store_ctx {
	uint32_t *uids;
	size_t n;
	enum store_flag_op op;
	unsigned flags;
	struct buf keywords;
	bool silent;
	bool conditional; /* UNCHANGEDSINCE was given (0 too: every message fails) */
	uint64_t unchangedsince;
	struct store_imsg *ch;
	size_t n_ch;
	uint32_t *failed;
	size_t n_failed;
	uint32_t *expunged;
	size_t n_expunged;
	/* COPY / MOVE */
	char *dest;
	bool move;
	uint32_t *src, *dst;
	size_t n_copied;
	uint32_t dest_uidvalidity;
	/* APPEND */
	struct buf body;
	int64_t date;
	uint32_t new_uid;
};

static void store_ctx_free(void *p)
{
	struct store_ctx *c = p;
	free(c->uids);
	buf_free(&c->keywords);
	store_imsgs_free(c->ch, c->n_ch);
	free(c->failed);
	free(c->expunged);
	free(c->dest);
	free(c->src);
	free(c->dst);
	buf_free(&c->body);
	free(c);
}

static struct imap_job *ctx_job(struct imap_session *s, imap_job_finish_fn *finish,
				struct store_ctx **c_r)
{
	struct imap_job *job = imap_job_new(s, finish);
	*c_r = xcalloc(1, sizeof(**c_r));
	job->ctx = *c_r;
	job->ctx_free = store_ctx_free;
	return job;
}

static void work_store(void *thread_ctx, void *p)
{
	struct imap_job *job = p;
	struct store_ctx *c = job->ctx;
	if (c->conditional && c->unchangedsince == 0) {
		/* RFC 7162 §3.1.3: every modseq is above 0, so nothing changes */
		c->failed = xmalloc((c->n > 0 ? c->n : 1) * sizeof(*c->failed));
		memcpy(c->failed, c->uids, c->n * sizeof(*c->failed));
		c->n_failed = c->n;
		job->core.result = STORE_OK;
		return;
	}
	job->core.result =
	    store_flags_change(thread_ctx, job->folder_id, c->uids, c->n, c->op, c->flags,
			       c->keywords.len > 0 ? c->keywords.data : NULL, c->unchangedsince,
			       &c->ch, &c->n_ch, &c->failed, &c->n_failed);
}

static void finish_store(struct imap_session *s, struct imap_job *job)
{
	struct store_ctx *c = job->ctx;

	if (job->core.result != STORE_OK) {
		imap_reply_store_error(s, job->core.result, "store");
		imap_cmd_finish(s);
		return;
	}
	for (size_t i = 0; i < c->n_ch && !c->silent && s->sel != NULL; i++) {
		uint32_t seq = imap_view_seq(s->sel, c->ch[i].uid);
		if (seq == 0)
			continue;
		struct buf b = {0};
		imap_flags_write(&b, c->ch[i].flags, c->ch[i].keywords);
		char ms[48] = "";
		if (s->condstore)
			snprintf(ms, sizeof(ms), " MODSEQ (%llu)",
				 (unsigned long long)c->ch[i].modseq);
		if (s->cmd_uid)
			imap_untagged(s, "%u FETCH (UID %u FLAGS %.*s%s)", seq, c->ch[i].uid,
				      (int)b.len, b.data, ms);
		else
			imap_untagged(s, "%u FETCH (FLAGS %.*s%s)", seq, (int)b.len, b.data, ms);
		buf_free(&b);
	}
	if (c->n_ch > 0)
		changed(s);
	if (c->n_failed > 0) {
		/* RFC 7162 §3.1.3: the messages that were not changed, as UIDs for
		   UID STORE and sequence numbers for STORE */
		uint32_t *ids = xmalloc(c->n_failed * sizeof(*ids));
		size_t n = 0;
		for (size_t i = 0; i < c->n_failed; i++) {
			uint32_t seq = s->sel != NULL ? imap_view_seq(s->sel, c->failed[i]) : 0;
			if (s->cmd_uid)
				ids[n++] = c->failed[i];
			else if (seq != 0)
				ids[n++] = seq;
		}
		struct buf b = {0};
		imap_uid_set_write(&b, ids, n);
		imap_tagged(s, "OK", "[MODIFIED %.*s] Conditional %sSTORE failed", (int)b.len,
			    b.data, s->cmd_uid ? "UID " : "");
		buf_free(&b);
		free(ids);
		imap_cmd_finish(s);
		return;
	}
	imap_tagged(s, "OK", "%sSTORE completed", s->cmd_uid ? "UID " : "");
	imap_cmd_finish(s);
}

enum imap_cmd_result imap_cmd_store(struct imap_cmd_ctx *ctx)
{
	struct imap_session *s = ctx->sess;
	const struct imap_node *set = ctx->args, *item, *flags;
	const char *err = NULL;
	struct store_ctx *c;

	const struct imap_node *mod = NULL;
	if (ctx->argc == 4 && set->next->type == IMAP_NODE_LIST) {
		mod = set->next; /* RFC 7162 §3.1.3: (UNCHANGEDSINCE modseq) */
	}
	if ((ctx->argc != 3 && mod == NULL) ||
	    (mod != NULL ? mod->next : set->next)->type != IMAP_NODE_ATOM) {
		imap_tagged(s, "BAD", "STORE takes a sequence set, an item and flags");
		return IMAP_CMD_DONE;
	}
	uint64_t unchangedsince = 0;
	bool conditional = false;
	if (mod != NULL) {
		if (mod->count != 2 || !imap_node_is(mod->child, "UNCHANGEDSINCE") ||
		    !imap_node_number(mod->child->next, IMAP_NUMBER64_MAX, &unchangedsince)) {
			imap_tagged(s, "BAD", "Invalid STORE modifier");
			return IMAP_CMD_DONE;
		}
		conditional = true;
		s->condstore = true;
	}
	if (s->sel->readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return IMAP_CMD_DONE;
	}
	item = mod != NULL ? mod->next : set->next;
	flags = item->next;
	struct imap_job *job = ctx_job(s, finish_store, &c);
	c->conditional = conditional;
	c->unchangedsince = unchangedsince;
	struct slice name = item->str;
	if (name.len > 7 && strncasecmp(name.p + name.len - 7, ".SILENT", 7) == 0) {
		c->silent = true;
		name.len -= 7;
	}
	if (slice_eq_ci(name, "FLAGS"))
		c->op = STORE_FLAGS_SET;
	else if (slice_eq_ci(name, "+FLAGS"))
		c->op = STORE_FLAGS_ADD;
	else if (slice_eq_ci(name, "-FLAGS"))
		c->op = STORE_FLAGS_REMOVE;
	else
		err = "Unknown STORE item";
	if (err == NULL && parse_flags(flags, &c->flags, &c->keywords) < 0)
		err = "Invalid flag";
	if (err == NULL && imap_view_select(s->sel, set, ctx->uid, &c->uids, &c->n, &err) < 0 &&
	    err == NULL)
		err = "Invalid sequence set";
	if (err != NULL) {
		store_ctx_free(c);
		free(job);
		imap_tagged(s, "BAD", "%s", err);
		return IMAP_CMD_DONE;
	}
	if (c->n == 0) {
		store_ctx_free(c);
		free(job);
		imap_tagged(s, "OK", "%sSTORE completed", ctx->uid ? "UID " : "");
		return IMAP_CMD_DONE;
	}
	proto_job_submit(&job->core, work_store);
	return IMAP_CMD_ASYNC;
}

/* --- EXPUNGE and UID EXPUNGE ---------------------------------------------------------- */

static void work_expunge(void *thread_ctx, void *p)
{
	struct imap_job *job = p;
	struct store_ctx *c = job->ctx;
	job->core.result = store_folder_expunge(thread_ctx, job->folder_id, c->uids, c->n,
						&c->expunged, &c->n_expunged);
}

void imap_tell_expunged(struct imap_session *s, const uint32_t *uids, size_t n)
{
	struct imap_view *v = s->sel;
	uint32_t *told = s->qresync ? xmalloc((n > 0 ? n : 1) * sizeof(*told)) : NULL;
	size_t n_told = 0;

	for (size_t i = 0; v != NULL && i < n; i++) {
		uint32_t seq = imap_view_seq(v, uids[i]);
		if (seq == 0)
			continue;
		if (told != NULL)
			told[n_told++] = uids[i];
		else
			imap_untagged(s, "%u EXPUNGE", seq);
		memmove(&v->uids[seq - 1], &v->uids[seq], (v->n - seq) * sizeof(*v->uids));
		v->n--;
	}
	if (v != NULL && v->n_saved > 0) { /* RFC 5182 §2.1: they leave "$" too */
		uint32_t w = 0;
		for (size_t r = 0, i = 0; r < v->n_saved; r++) {
			while (i < n && uids[i] < v->saved[r])
				i++;
			if (i == n || uids[i] != v->saved[r])
				v->saved[w++] = v->saved[r];
		}
		v->n_saved = w;
	}
	if (n_told > 0) {
		struct buf b = {0};
		imap_uid_set_write(&b, told, n_told);
		imap_untagged(s, "VANISHED %.*s", (int)b.len, b.data);
		buf_free(&b);
	}
	free(told);
}

static void finish_expunge(struct imap_session *s, struct imap_job *job)
{
	struct store_ctx *c = job->ctx;

	if (job->core.result != STORE_OK) {
		imap_reply_store_error(s, job->core.result, "expunge");
		imap_cmd_finish(s);
		return;
	}
	imap_tell_expunged(s, c->expunged, c->n_expunged);
	s->expunged += (uint32_t)c->n_expunged;
	if (c->n_expunged > 0)
		changed(s);
	imap_tagged(s, "OK", "%sEXPUNGE completed", s->cmd_uid ? "UID " : "");
	imap_cmd_finish(s);
}

enum imap_cmd_result imap_cmd_expunge(struct imap_cmd_ctx *ctx)
{
	struct imap_session *s = ctx->sess;
	const char *err = NULL;
	struct store_ctx *c;

	if (ctx->argc != (ctx->uid ? 1u : 0u)) {
		imap_tagged(s, "BAD", "%s",
			    ctx->uid ? "UID EXPUNGE takes a UID set"
				     : "EXPUNGE takes no arguments");
		return IMAP_CMD_DONE;
	}
	if (s->sel->readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return IMAP_CMD_DONE;
	}
	struct imap_job *job = ctx_job(s, finish_expunge, &c);
	if (ctx->uid && imap_view_select(s->sel, ctx->args, true, &c->uids, &c->n, &err) < 0) {
		store_ctx_free(c);
		free(job);
		imap_tagged(s, "BAD", "%s", err != NULL ? err : "Invalid UID set");
		return IMAP_CMD_DONE;
	}
	if (ctx->uid && c->n == 0) {
		store_ctx_free(c);
		free(job);
		imap_tagged(s, "OK", "UID EXPUNGE completed");
		return IMAP_CMD_DONE;
	}
	proto_job_submit(&job->core, work_expunge);
	return IMAP_CMD_ASYNC;
}

/* --- COPY and MOVE ------------------------------------------------------------------ */

static void work_copy(void *thread_ctx, void *p)
{
	struct imap_job *job = p;
	struct store_ctx *c = job->ctx;
	struct store_folder f = {0};

	job->core.result = store_folder_get(thread_ctx, job->mailbox_id, c->dest, &f);
	if (job->core.result == STORE_OK) {
		c->dest_uidvalidity = f.uidvalidity;
		job->core.result = store_folder_copy(thread_ctx, job->folder_id, f.id, c->uids,
						     c->n, c->move, &c->src, &c->dst, &c->n_copied);
	}
	store_folder_clear(&f);
}

static void finish_copy(struct imap_session *s, struct imap_job *job)
{
	struct store_ctx *c = job->ctx;
	const char *verb = c->move ? "MOVE" : "COPY";

	if (job->core.result == STORE_NOTFOUND) {
		/* RFC 9051 §6.4.7: the client may create it and retry */
		imap_tagged(s, "NO", "[TRYCREATE] No such mailbox");
		imap_cmd_finish(s);
		return;
	}
	if (job->core.result != STORE_OK) {
		imap_reply_store_error(s, job->core.result, verb);
		imap_cmd_finish(s);
		return;
	}
	struct buf code = {0};
	if (c->n_copied > 0) {
		buf_printf(&code, "COPYUID %u ", c->dest_uidvalidity);
		imap_uid_set_write(&code, c->src, c->n_copied);
		buf_append_c(&code, ' ');
		imap_uid_set_write(&code, c->dst, c->n_copied);
	}
	if (c->move) {
		/* RFC 6851 §4.3: COPYUID in an untagged OK, before the expunges */
		if (code.len > 0)
			imap_untagged(s, "OK [%.*s] Moved", (int)code.len, code.data);
		imap_tell_expunged(s, c->src, c->n_copied);
		imap_tagged(s, "OK", "%sMOVE completed", s->cmd_uid ? "UID " : "");
	} else if (code.len > 0) {
		imap_tagged(s, "OK", "[%.*s] %sCOPY completed", (int)code.len, code.data,
			    s->cmd_uid ? "UID " : "");
	} else {
		imap_tagged(s, "OK", "%sCOPY completed", s->cmd_uid ? "UID " : "");
	}
	buf_free(&code);
	if (c->n_copied > 0)
		changed(s);
	imap_cmd_finish(s);
}

static enum imap_cmd_result copy_common(struct imap_cmd_ctx *ctx, bool move)
{
	struct imap_session *s = ctx->sess;
	const char *err = NULL;
	struct store_ctx *c;

	if (ctx->argc != 2) {
		imap_tagged(s, "BAD", "%s takes a sequence set and a mailbox",
			    move ? "MOVE" : "COPY");
		return IMAP_CMD_DONE;
	}
	if (move && s->sel->readonly) {
		imap_tagged(s, "NO", "[READ-ONLY] Mailbox is read-only");
		return IMAP_CMD_DONE;
	}
	char *dest = imap_mailbox_arg(s, ctx->args->next);
	if (dest == NULL)
		return IMAP_CMD_DONE;
	struct imap_job *job = ctx_job(s, finish_copy, &c);
	c->dest = dest;
	c->move = move;
	if (imap_view_select(s->sel, ctx->args, ctx->uid, &c->uids, &c->n, &err) < 0) {
		store_ctx_free(c);
		free(job);
		imap_tagged(s, "BAD", "%s", err != NULL ? err : "Invalid sequence set");
		return IMAP_CMD_DONE;
	}
	proto_job_submit(&job->core, work_copy);
	return IMAP_CMD_ASYNC;
}

enum imap_cmd_result imap_cmd_copy(struct imap_cmd_ctx *ctx)
{
	return copy_common(ctx, false);
}

enum imap_cmd_result imap_cmd_move(struct imap_cmd_ctx *ctx)
{
	return copy_common(ctx, true);
}

/* --- APPEND ----------------------------------------------------------------------- */

static void work_append(void *thread_ctx, void *p)
{
	struct imap_job *job = p;
	struct store_ctx *c = job->ctx;
	struct store_folder f = {0};

	job->core.result = store_folder_get(thread_ctx, job->mailbox_id, c->dest, &f);
	if (job->core.result == STORE_OK) {
		c->dest_uidvalidity = f.uidvalidity;
		job->core.result = store_folder_append(
		    thread_ctx, f.id, c->body.data, c->body.len, c->flags,
		    c->keywords.len > 0 ? c->keywords.data : NULL, c->date, &c->new_uid);
	}
	store_folder_clear(&f);
}

static void finish_append(struct imap_session *s, struct imap_job *job)
{
	struct store_ctx *c = job->ctx;

	if (job->core.result == STORE_NOTFOUND) {
		imap_tagged(s, "NO", "[TRYCREATE] No such mailbox");
	} else if (job->core.result != STORE_OK) {
		imap_reply_store_error(s, job->core.result, "append");
	} else {
		s->appended++;
		imap_tagged(s, "OK", "[APPENDUID %u %u] APPEND completed", c->dest_uidvalidity,
			    c->new_uid);
		changed(s);
	}
	imap_cmd_finish(s);
}

enum imap_cmd_result imap_cmd_append(struct imap_cmd_ctx *ctx)
{
	struct imap_session *s = ctx->sess;
	const struct imap_node *a = ctx->args, *msg = NULL;
	struct store_ctx *c;
	struct slice data;

	if (ctx->argc < 2 || ctx->argc > 4) {
		imap_tagged(s, "BAD", "APPEND takes a mailbox, flags, a date and a message");
		return IMAP_CMD_DONE;
	}
	char *dest = imap_mailbox_arg(s, a);
	if (dest == NULL)
		return IMAP_CMD_DONE;
	struct imap_job *job = ctx_job(s, finish_append, &c);
	c->dest = dest;
	const char *err = NULL;
	for (const struct imap_node *n = a->next; n != NULL && err == NULL; n = n->next) {
		if (n->next == NULL) {
			msg = n;
		} else if (n->type == IMAP_NODE_LIST) {
			if (parse_flags(n, &c->flags, &c->keywords) < 0)
				err = "Invalid flag";
		} else if (n->type == IMAP_NODE_QUOTED) {
			time_t t;
			int zone;
			if (imap_parse_date_time(n->str, &t, &zone) < 0)
				err = "Invalid date-time";
			else
				c->date = (int64_t)t;
		} else {
			err = "Invalid APPEND arguments";
		}
	}
	if (err == NULL && msg != NULL && msg->type == IMAP_NODE_LITERAL &&
	    (msg->flags & IMAP_NODE_BINARY))
		data = msg->str; /* literal8: a string may hold no NUL, this may */
	else if (err == NULL && (msg == NULL || !imap_node_string(msg, &data)))
		err = "APPEND needs the message as a literal";
	/* a literal8 (RFC 3516 §4.4) is stored as it came */
	if (err != NULL) {
		store_ctx_free(c);
		free(job);
		imap_tagged(s, "BAD", "%s", err);
		return IMAP_CMD_DONE;
	}
	if (data.len == 0) {
		store_ctx_free(c);
		free(job);
		imap_tagged(s, "NO", "[CANNOT] Empty message");
		return IMAP_CMD_DONE;
	}
	/* the store keeps the wire form (store.h S4): CRLF line ends */
	store_to_wire(&c->body, data.p, data.len);
	proto_job_submit(&job->core, work_append);
	return IMAP_CMD_ASYNC;
}

/* --- SEARCH (imap_search.h) ---------------------------------------------------------- */

struct search_ctx {
	struct imap_search *prog;
	bool save;	/* RETURN (SAVE) */
	uint32_t *view; /* the view's UIDs when the command came (seq = index + 1) */
	uint32_t n_view;
	bool uid;
	uint32_t next; /* the first view index the next job looks at */
	uint32_t *matches;
	size_t n_matches;
	uint64_t highest; /* of the matches, for a MODSEQ key */
};

/* A SEARCH runs in jobs of at most SEARCH_CHUNK messages (and, when a key
   needs the text, SEARCH_CHUNK_OCTETS of it), each reading only its part
   of the folder, so a search of a large folder takes a worker for a short
   while at a time and other sessions' jobs run in between. */
#define SEARCH_CHUNK 4096
#define SEARCH_CHUNK_OCTETS (8 * 1024 * 1024)

static void search_ctx_free(void *p)
{
	struct search_ctx *c = p;
	imap_search_free(&c->prog);
	free(c->view);
	free(c->matches);
	free(c);
}

/* The store's cached MIME tree of a body (store_body_mime_get), or NULL:
   imap_search_match() then parses the message itself (it also checks that
   the tree is of these bytes). Nothing is written: a SEARCH stays a read,
   on an EXAMINEd folder too; FETCH caches the trees it makes. */
static struct mime_tree *cached_tree(struct store *st, int64_t body_id)
{
	struct buf blob = {0};
	struct mime_tree *t = NULL;
	const char *err;

	if (store_body_mime_get(st, body_id, &blob) == STORE_OK &&
	    mime_tree_deserialize(blob.data, blob.len, &t, &err) < 0)
		t = NULL;
	buf_free(&blob);
	return t;
}

static void work_search(void *thread_ctx, void *p)
{
	struct imap_job *job = p;
	struct search_ctx *c = job->ctx;
	struct store *st = thread_ctx;
	struct store_imsg *m = NULL;
	size_t n = 0, k = 0, octets = 0;
	bool text = imap_search_needs_text(c->prog), tree = imap_search_needs_body(c->prog);
	uint32_t first = c->next,
		 end = c->n_view - first > SEARCH_CHUNK ? first + SEARCH_CHUNK : c->n_view;

	if (c->matches == NULL)
		c->matches = xmalloc((c->n_view > 0 ? c->n_view : 1) * sizeof(*c->matches));
	if (first == end)
		return; /* an empty folder */
	job->core.result =
	    store_folder_load_range(st, job->folder_id, c->view[first], c->view[end - 1], &m, &n);
	if (job->core.result != STORE_OK)
		return;
	for (uint32_t i = first; i < end && octets < SEARCH_CHUNK_OCTETS; i++) {
		c->next = i + 1;
		while (k < n && m[k].uid < c->view[i])
			k++;
		if (k == n || m[k].uid != c->view[i])
			continue; /* expunged meanwhile: it matches nothing */
		struct buf body = {0};
		if (text) {
			int r = store_message_read(st, job->mailbox_id, m[k].id, &body);
			if (r == STORE_NOTFOUND) {
				buf_free(&body);
				continue;
			}
			if (r != STORE_OK) {
				buf_free(&body);
				job->core.result = r;
				break;
			}
		}
		struct mime_tree *t = tree ? cached_tree(st, m[k].body_id) : NULL;
		struct imap_search_msg sm = {
		    .seq = i + 1,
		    .uid = m[k].uid,
		    .flags = m[k].flags,
		    .keywords = m[k].keywords,
		    .size = m[k].size,
		    .internaldate = m[k].received,
		    .modseq = m[k].modseq,
		    .msg = body.data,
		    .len = body.len,
		    .tree = t,
		};
		if (imap_search_match(c->prog, &sm)) {
			c->matches[c->n_matches++] = c->uid ? m[k].uid : i + 1;
			if (m[k].modseq > c->highest)
				c->highest = m[k].modseq;
		}
		octets += body.len;
		mime_tree_free(&t);
		buf_free(&body);
	}
	store_imsgs_free(m, n);
}

/* "$" becomes uids[0..n) (ascending; taken over), or empty. */
static void saved_set(struct imap_view *v, uint32_t *uids, uint32_t n)
{
	free(v->saved);
	v->saved = uids;
	v->n_saved = uids != NULL ? n : 0;
}

/* RETURN (SAVE) among the arguments, for a command that failed before its
   program was made: RFC 5182 §2.1 empties "$" then too. */
static bool asks_save(const struct imap_node *args)
{
	if (args == NULL || !imap_node_is(args, "RETURN") || args->next == NULL ||
	    args->next->type != IMAP_NODE_LIST)
		return false;
	for (const struct imap_node *o = args->next->child; o != NULL; o = o->next)
		if (imap_node_is(o, "SAVE"))
			return true;
	return false;
}

/* The matching UIDs as the saved result keeps them (MIN / MAX alone keep
   those, imap_search_save_filter()). */
static void save_result(struct imap_session *s, struct search_ctx *c)
{
	uint32_t *uids = xmalloc((c->n_matches > 0 ? c->n_matches : 1) * sizeof(*uids));
	for (size_t i = 0; i < c->n_matches; i++)
		uids[i] = c->uid ? c->matches[i] : c->view[c->matches[i] - 1];
	size_t n = imap_search_save_filter(c->prog, uids, c->n_matches);
	saved_set(s->sel, uids, (uint32_t)n);
}

static void finish_search(struct imap_session *s, struct imap_job *job)
{
	struct search_ctx *c = job->ctx;

	if (job->core.result == STORE_OK && c->next < c->n_view) {
		/* the next part, in a job of its own */
		struct imap_job *more = imap_job_new(s, finish_search);
		more->mailbox_id = job->mailbox_id;
		more->folder_id = job->folder_id;
		more->ctx = c;
		more->ctx_free = search_ctx_free;
		bool save = c->save;
		job->ctx = NULL; /* `more` owns c now */
		job->ctx_free = NULL;
		if (proto_job_try_submit(&more->core, work_search))
			return;
		/* refused: the job, and c with it, is gone */
		if (save)
			saved_set(s->sel, NULL, 0);
		imap_reply_store_error(s, STORE_TEMP, "search");
		imap_cmd_finish(s);
		return;
	}
	if (job->core.result != STORE_OK) {
		if (c->save)
			saved_set(s->sel, NULL, 0);
		imap_reply_store_error(s, job->core.result, "search");
		imap_cmd_finish(s);
		return;
	}
	if (c->save)
		save_result(s, c);
	struct buf out = {0};
	imap_search_result_modseq(c->prog, c->matches, c->n_matches, c->uid, s->tag, false,
				  c->highest, &out);
	imap_write(s, out.data, out.len);
	buf_free(&out);
	imap_tagged(s, "OK", "%sSEARCH completed", c->uid ? "UID " : "");
	imap_cmd_finish(s);
}

enum imap_cmd_result imap_cmd_search(struct imap_cmd_ctx *ctx)
{
	struct imap_session *s = ctx->sess;
	struct imap_view *v = s->sel;
	const char *err = NULL;
	struct imap_search_env env = {
	    .messages = v->n,
	    .uid_max = v->n > 0 ? v->uids[v->n - 1] : 0,
	    .rev2 = s->rev2,
	    .searchres = true,
	    .saved = v->saved,
	    .n_saved = v->n_saved,
	};
	struct imap_search *prog = NULL;

	int r = imap_search_compile(ctx->args, &env, &prog, &err);
	if (r < 0 && asks_save(ctx->args))
		saved_set(v, NULL, 0);
	if (r == IMAP_SEARCH_BADCHARSET) {
		imap_tagged(s, "NO", IMAP_SEARCH_BADCHARSET_CODE " %s", err);
		return IMAP_CMD_DONE;
	}
	if (r < 0) {
		imap_tagged(s, "BAD", "%s", err != NULL ? err : "Invalid search");
		return IMAP_CMD_DONE;
	}
	if (imap_search_uses_modseq(prog))
		s->condstore = true; /* RFC 7162 §3.1: MODSEQ enables CONDSTORE */
	struct imap_job *job = imap_job_new(s, finish_search);
	struct search_ctx *c = xcalloc(1, sizeof(*c));
	c->prog = prog;
	c->save = (imap_search_return(prog) & IMAP_SEARCH_RET_SAVE) != 0;
	c->uid = ctx->uid;
	c->n_view = v->n;
	c->view = xmalloc((v->n > 0 ? v->n : 1) * sizeof(*c->view));
	memcpy(c->view, v->uids, v->n * sizeof(*c->view));
	job->ctx = c;
	job->ctx_free = search_ctx_free;
	bool save = c->save;
	if (!proto_job_submit(&job->core, work_search) && save)
		saved_set(v, NULL, 0);
	return IMAP_CMD_ASYNC;
}
