/* SPDX-License-Identifier: MIT */
/*
 * imap_mailbox.c - folders (RFC 9051 §6.3): LIST (with the LIST-EXTENDED
 * selection and return options IMAP4rev2 has, RFC 5258, RFC 6154
 * SPECIAL-USE, RFC 5819 LIST-STATUS), LSUB, CREATE, DELETE, RENAME,
 * SUBSCRIBE, UNSUBSCRIBE, STATUS, NAMESPACE, SELECT, EXAMINE, CLOSE,
 * UNSELECT, and imap_sync(): telling the client what others changed in the
 * folder it has selected.
 *
 * Names: the store holds UTF-8 names with "/" between levels, INBOX in
 * upper case. IMAP4rev2 and UTF8=ACCEPT sessions see them as they are; an
 * IMAP4rev1 session sees and sends modified UTF-7 (imap_utf7.h). "INBOX"
 * in any case is INBOX (RFC 9051 §5.1).
 */
#include "imap/imap_private.h"
#include "imap/imap_utf7.h"
#include "imap/imap_write.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const special_names[] = {
    [STORE_SPECIAL_NONE] = NULL,	 [STORE_SPECIAL_SENT] = "\\Sent",
    [STORE_SPECIAL_DRAFTS] = "\\Drafts", [STORE_SPECIAL_TRASH] = "\\Trash",
    [STORE_SPECIAL_JUNK] = "\\Junk",	 [STORE_SPECIAL_ARCHIVE] = "\\Archive",
};

static bool utf8_names(const struct imap_session *s)
{
	return s->rev2 || s->utf8;
}

char *imap_mailbox_arg(struct imap_session *s, const struct imap_node *n)
{
	struct slice name;
	struct buf out = {0};

	if (n == NULL || !imap_node_astring(n, &name) || name.len == 0 ||
	    name.len > STORE_FOLDER_NAME_MAX || memchr(name.p, '\0', name.len) != NULL) {
		imap_tagged(s, "BAD", "Invalid mailbox name");
		return NULL;
	}
	if (name.len == 5 && strncasecmp(name.p, "INBOX", 5) == 0)
		return xstrdup("INBOX");
	if (utf8_names(s) || (n->flags & IMAP_NODE_8BIT)) {
		buf_append(&out, name.p, name.len);
	} else if (imap_utf7_decode(name, &out) < 0) {
		buf_free(&out);
		imap_tagged(s, "BAD", "Invalid mailbox name (modified UTF-7)");
		return NULL;
	}
	return out.data != NULL ? out.data : xstrdup("");
}

/* The name as this session writes it: astring, modified UTF-7 for rev1. */
static void put_name(const struct imap_session *s, struct buf *b, const char *name)
{
	if (utf8_names(s)) {
		imap_write_astring(b, name, strlen(name));
		return;
	}
	struct buf enc = {0};
	if (imap_utf7_encode(slice_from(name), &enc) < 0)
		buf_append_str(&enc, name); /* cannot happen: the store checks UTF-8 */
	imap_write_astring(b, enc.data, enc.len);
	buf_free(&enc);
}

/* --- jobs over the folder list ----------------------------------------------------- */

struct folders_ctx {
	struct store_folder *f;
	size_t n;
	char *name, *name2; /* the command's mailbox names */
	int op;		    /* for the simple commands */
	bool flag;
	unsigned items;	 /* STATUS / LIST RETURN STATUS items */
	char *pattern;	 /* LIST: reference + pattern */
	unsigned select; /* LIST selection options */
	unsigned ret;	 /* LIST return options */
	bool lsub;
	struct store_imsg *msgs;
	size_t n_msgs;
	struct store_folder one;
	bool readonly;
	/* SELECT (QRESYNC (uidvalidity modseq [known-uids])) */
	bool qresync;
	uint32_t q_uidvalidity;
	uint64_t q_modseq;
	char *q_known; /* the known-uids set as sent, or NULL */
	struct store_imsg *ch;
	size_t n_ch;
	uint32_t *vanished;
	size_t n_vanished;
	bool vanished_all;
};

static void folders_ctx_free(void *p)
{
	struct folders_ctx *c = p;
	if (c == NULL)
		return;
	store_folders_free(c->f, c->n);
	store_folder_clear(&c->one);
	store_imsgs_free(c->msgs, c->n_msgs);
	store_imsgs_free(c->ch, c->n_ch);
	free(c->vanished);
	free(c->q_known);
	free(c->name);
	free(c->name2);
	free(c->pattern);
	free(c);
}

static struct imap_job *folders_job(struct imap_session *s, imap_job_finish_fn *finish)
{
	struct imap_job *job = imap_job_new(s, finish);
	job->ctx = xcalloc(1, sizeof(struct folders_ctx));
	job->ctx_free = folders_ctx_free;
	return job;
}

/* --- LIST and LSUB ------------------------------------------------------------------ */

enum list_select { LIST_SEL_SUBSCRIBED = 1, LIST_SEL_SPECIAL = 2, LIST_SEL_RECURSIVE = 4 };
enum list_return {
	LIST_RET_SUBSCRIBED = 1,
	LIST_RET_CHILDREN = 2,
	LIST_RET_SPECIAL = 4,
	LIST_RET_STATUS = 8,
};
enum status_item {
	ST_MESSAGES = 1,
	ST_UIDNEXT = 2,
	ST_UIDVALIDITY = 4,
	ST_UNSEEN = 8,
	ST_DELETED = 16,
	ST_SIZE = 32,
	ST_RECENT = 64,
	ST_HIGHESTMODSEQ = 128,
};

/* IMAP LIST wildcards: "*" anything, "%" anything but the delimiter. */
static bool match(const char *pat, const char *name)
{
	while (*pat != '\0') {
		if (*pat == '*' || *pat == '%') {
			bool star = *pat == '*';
			pat++;
			for (const char *n = name;; n++) {
				if (match(pat, n))
					return true;
				if (*n == '\0' || (!star && *n == '/'))
					return false;
			}
		}
		if (*name == '\0' || *pat != *name)
			return false;
		pat++;
		name++;
	}
	return *name == '\0';
}

static bool has_children(const struct folders_ctx *c, const char *name)
{
	size_t l = strlen(name);
	for (size_t i = 0; i < c->n; i++)
		if (strncmp(c->f[i].name, name, l) == 0 && c->f[i].name[l] == '/')
			return true;
	return false;
}

static const struct store_folder *find_folder(const struct folders_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->f[i].name, name) == 0)
			return &c->f[i];
	return NULL;
}

static void status_items(struct buf *b, unsigned items, const struct store_folder *f)
{
	const char *sep = "";
	buf_append_c(b, '(');
#define ITEM(flag, fmt, v)                                                                         \
	if (items & (flag)) {                                                                      \
		buf_printf(b, "%s" fmt, sep, v);                                                   \
		sep = " ";                                                                         \
	}
	ITEM(ST_MESSAGES, "MESSAGES %u", f->messages)
	ITEM(ST_UIDNEXT, "UIDNEXT %u", f->uidnext)
	ITEM(ST_UIDVALIDITY, "UIDVALIDITY %u", f->uidvalidity)
	ITEM(ST_UNSEEN, "UNSEEN %u", f->unseen)
	ITEM(ST_DELETED, "DELETED %u", f->deleted)
	ITEM(ST_SIZE, "SIZE %llu", (unsigned long long)f->size)
	ITEM(ST_RECENT, "RECENT %u", 0u)
	ITEM(ST_HIGHESTMODSEQ, "HIGHESTMODSEQ %llu", (unsigned long long)f->highestmodseq)
#undef ITEM
	buf_append_c(b, ')');
}

static void list_one(struct imap_session *s, const struct folders_ctx *c, const char *name,
		     const struct store_folder *f)
{
	struct buf b = {0};
	const char *sep = "";

	buf_append_str(&b, c->lsub ? "LSUB (" : "LIST (");
	if (f == NULL) {
		buf_append_str(&b, "\\NonExistent");
		sep = " ";
	}
	if (c->lsub || (c->ret & LIST_RET_SUBSCRIBED) || (c->select & LIST_SEL_SUBSCRIBED))
		if (f != NULL && f->subscribed && !c->lsub) {
			buf_printf(&b, "%s\\Subscribed", sep);
			sep = " ";
		}
	if (!c->lsub) {
		buf_printf(&b, "%s%s", sep,
			   has_children(c, name) ? "\\HasChildren" : "\\HasNoChildren");
		sep = " ";
	}
	if (f != NULL && f->special != STORE_SPECIAL_NONE && !c->lsub &&
	    (c->select & LIST_SEL_SPECIAL || c->ret & LIST_RET_SPECIAL || c->ret == 0 ||
	     !(c->ret & ~LIST_RET_STATUS)))
		buf_printf(&b, "%s%s", sep, special_names[f->special]);
	buf_append_str(&b, ") \"/\" ");
	put_name(s, &b, name);
	imap_untagged(s, "%.*s", (int)b.len, b.data);
	if ((c->ret & LIST_RET_STATUS) && f != NULL) {
		buf_clear(&b);
		put_name(s, &b, name);
		buf_append_c(&b, ' ');
		status_items(&b, c->items, f);
		imap_untagged(s, "STATUS %.*s", (int)b.len, b.data);
	}
	buf_free(&b);
}

static void work_folders(void *thread_ctx, void *p)
{
	struct imap_job *job = p;
	struct folders_ctx *c = job->ctx;
	job->core.result = store_folder_list(thread_ctx, job->mailbox_id, &c->f, &c->n);
}

static void finish_list(struct imap_session *s, struct imap_job *job)
{
	struct folders_ctx *c = job->ctx;

	if (job->core.result != STORE_OK) {
		imap_reply_store_error(s, job->core.result, "folder_list");
		imap_cmd_finish(s);
		return;
	}
	/* every folder, and each missing parent level once (\NonExistent) */
	for (size_t i = 0; i < c->n; i++) {
		const struct store_folder *f = &c->f[i];
		char *copy = xstrdup(f->name);
		for (char *slash = strchr(copy, '/'); slash != NULL;
		     slash = strchr(slash + 1, '/')) {
			*slash = '\0';
			bool earlier = false;
			for (size_t k = 0; k < i && !earlier; k++) {
				size_t l = strlen(copy);
				earlier = strncmp(c->f[k].name, copy, l) == 0 &&
					  (c->f[k].name[l] == '/' || c->f[k].name[l] == '\0');
			}
			if (!earlier && find_folder(c, copy) == NULL && match(c->pattern, copy) &&
			    !(c->select & (LIST_SEL_SUBSCRIBED | LIST_SEL_SPECIAL)) && !c->lsub)
				list_one(s, c, copy, NULL);
			*slash = '/';
		}
		free(copy);
		if (!match(c->pattern, f->name))
			continue;
		if ((c->select & LIST_SEL_SUBSCRIBED || c->lsub) && !f->subscribed)
			continue;
		if ((c->select & LIST_SEL_SPECIAL) && f->special == STORE_SPECIAL_NONE)
			continue;
		list_one(s, c, f->name, f);
	}
	imap_tagged(s, "OK", "%s completed", c->lsub ? "LSUB" : "LIST");
	imap_cmd_finish(s);
}

static int parse_status_items(const struct imap_node *list, unsigned *items_r)
{
	static const struct {
		const char *name;
		unsigned flag;
	} names[] = {{"MESSAGES", ST_MESSAGES},	      {"UIDNEXT", ST_UIDNEXT},
		     {"UIDVALIDITY", ST_UIDVALIDITY}, {"UNSEEN", ST_UNSEEN},
		     {"DELETED", ST_DELETED},	      {"SIZE", ST_SIZE},
		     {"RECENT", ST_RECENT},	      {"HIGHESTMODSEQ", ST_HIGHESTMODSEQ}};
	if (list == NULL || list->type != IMAP_NODE_LIST || list->count == 0)
		return -1;
	*items_r = 0;
	for (const struct imap_node *a = list->child; a != NULL; a = a->next) {
		size_t i;
		for (i = 0; i < N_ELEMENTS(names); i++)
			if (imap_node_is(a, names[i].name))
				break;
		if (i == N_ELEMENTS(names))
			return -1;
		*items_r |= names[i].flag;
	}
	return 0;
}

static enum imap_cmd_result list_common(struct imap_cmd_ctx *ctx, bool lsub)
{
	struct imap_session *s = ctx->sess;
	const struct imap_node *a = ctx->args;
	unsigned select = 0, ret = 0, items = 0;
	struct slice ref, pat;

	/* LIST [(selection options)] reference pattern [RETURN (options)] */
	if (!lsub && a != NULL && a->type == IMAP_NODE_LIST) {
		for (const struct imap_node *o = a->child; o != NULL; o = o->next) {
			if (imap_node_is(o, "SUBSCRIBED"))
				select |= LIST_SEL_SUBSCRIBED;
			else if (imap_node_is(o, "SPECIAL-USE"))
				select |= LIST_SEL_SPECIAL;
			else if (imap_node_is(o, "RECURSIVEMATCH"))
				select |= LIST_SEL_RECURSIVE;
			else if (!imap_node_is(o, "REMOTE")) {
				imap_tagged(s, "BAD", "Unknown LIST selection option");
				return IMAP_CMD_DONE;
			}
		}
		a = a->next;
	}
	if (a == NULL || a->next == NULL || !imap_node_astring(a, &ref)) {
		imap_tagged(s, "BAD", "%s takes a reference and a pattern", lsub ? "LSUB" : "LIST");
		return IMAP_CMD_DONE;
	}
	const struct imap_node *p = a->next;
	if (p->type == IMAP_NODE_LIST || !imap_node_astring(p, &pat)) {
		/* RFC 5258 multiple patterns: taken one at a time is not done */
		imap_tagged(s, "BAD", "Invalid pattern");
		return IMAP_CMD_DONE;
	}
	const struct imap_node *r = p->next;
	if (!lsub && r != NULL && imap_node_is(r, "RETURN") && r->next != NULL &&
	    r->next->type == IMAP_NODE_LIST) {
		for (const struct imap_node *o = r->next->child; o != NULL; o = o->next) {
			if (imap_node_is(o, "SUBSCRIBED"))
				ret |= LIST_RET_SUBSCRIBED;
			else if (imap_node_is(o, "CHILDREN"))
				ret |= LIST_RET_CHILDREN;
			else if (imap_node_is(o, "SPECIAL-USE"))
				ret |= LIST_RET_SPECIAL;
			else if (imap_node_is(o, "STATUS") &&
				 parse_status_items(o->next, &items) == 0) {
				ret |= LIST_RET_STATUS;
				o = o->next;
			} else {
				imap_tagged(s, "BAD", "Unknown LIST return option");
				return IMAP_CMD_DONE;
			}
		}
		r = r->next->next;
	}
	if (r != NULL) {
		imap_tagged(s, "BAD", "Unexpected arguments");
		return IMAP_CMD_DONE;
	}
	/* LIST "" "": the delimiter and the root (RFC 9051 §6.3.9) */
	if (pat.len == 0 && !lsub) {
		imap_untagged(s, "LIST (\\Noselect) \"/\" \"\"");
		imap_tagged(s, "OK", "LIST completed");
		return IMAP_CMD_DONE;
	}
	struct buf full = {0};
	buf_append(&full, ref.p, ref.len);
	/* the reference is a prefix as it is (RFC 9051 §6.3.9) */
	buf_append(&full, pat.p, pat.len);
	struct buf decoded = {0};
	if (!utf8_names(s) && imap_utf7_decode((struct slice){full.data, full.len}, &decoded) < 0) {
		buf_free(&full);
		buf_free(&decoded);
		imap_tagged(s, "BAD", "Invalid pattern (modified UTF-7)");
		return IMAP_CMD_DONE;
	}
	struct imap_job *job = folders_job(s, finish_list);
	struct folders_ctx *c = job->ctx;
	c->pattern =
	    utf8_names(s) ? xstrndup(full.data, full.len) : xstrndup(decoded.data, decoded.len);
	buf_free(&full);
	buf_free(&decoded);
	/* INBOX matches in any case */
	if (strncasecmp(c->pattern, "INBOX", 5) == 0 &&
	    (c->pattern[5] == '\0' || c->pattern[5] == '/'))
		memcpy(c->pattern, "INBOX", 5);
	c->select = select;
	c->ret = ret | (select & LIST_SEL_SUBSCRIBED ? LIST_RET_SUBSCRIBED : 0);
	c->items = items;
	c->lsub = lsub;
	proto_job_submit(&job->core, work_folders);
	return IMAP_CMD_ASYNC;
}

enum imap_cmd_result imap_cmd_list(struct imap_cmd_ctx *ctx)
{
	return list_common(ctx, false);
}

enum imap_cmd_result imap_cmd_lsub(struct imap_cmd_ctx *ctx)
{
	return list_common(ctx, true);
}

enum imap_cmd_result imap_cmd_namespace(struct imap_cmd_ctx *ctx)
{
	/* RFC 2342: one personal namespace, no others */
	imap_untagged(ctx->sess, "NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_tagged(ctx->sess, "OK", "NAMESPACE completed");
	return IMAP_CMD_DONE;
}

/* --- CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE ------------------------------------ */

enum folder_op { OP_CREATE, OP_DELETE, OP_RENAME, OP_SUBSCRIBE };

static void work_folder_op(void *thread_ctx, void *p)
{
	struct imap_job *job = p;
	struct folders_ctx *c = job->ctx;
	struct store *st = thread_ctx;

	switch ((enum folder_op)c->op) {
	case OP_CREATE: {
		/* RFC 9051 §6.3.4: the levels above that do not exist are made too */
		int64_t id;
		for (char *sl = strchr(c->name, '/'); sl != NULL; sl = strchr(sl + 1, '/')) {
			*sl = '\0';
			int r = store_folder_create(st, job->mailbox_id, c->name,
						    STORE_SPECIAL_NONE, &id);
			*sl = '/';
			if (r != STORE_OK && r != STORE_EXISTS) {
				job->core.result = r;
				return;
			}
		}
		job->core.result =
		    store_folder_create(st, job->mailbox_id, c->name, STORE_SPECIAL_NONE, &id);
		break;
	}
	case OP_DELETE:
		job->core.result = store_folder_delete(st, job->mailbox_id, c->name);
		break;
	case OP_RENAME:
		job->core.result = store_folder_rename(st, job->mailbox_id, c->name, c->name2);
		break;
	case OP_SUBSCRIBE:
		job->core.result = store_folder_subscribe(st, job->mailbox_id, c->name, c->flag);
		break;
	}
}

static void finish_folder_op(struct imap_session *s, struct imap_job *job)
{
	struct folders_ctx *c = job->ctx;
	static const char *const names[] = {"CREATE", "DELETE", "RENAME", "SUBSCRIBE"};

	if (job->core.result == STORE_OK) {
		imap_tagged(s, "OK", "%s completed",
			    c->op == OP_SUBSCRIBE && !c->flag ? "UNSUBSCRIBE" : names[c->op]);
		if (s->svc->env->changed != NULL)
			s->svc->env->changed(s->svc->env->changed_ctx, s->mailbox_id);
	} else if (job->core.result == STORE_INVALID && c->op == OP_DELETE &&
		   strcmp(c->name, "INBOX") == 0) {
		imap_tagged(s, "NO", "[CANNOT] INBOX cannot be deleted");
	} else {
		imap_reply_store_error(s, job->core.result, names[c->op]);
	}
	imap_cmd_finish(s);
}

static enum imap_cmd_result folder_op(struct imap_cmd_ctx *ctx, enum folder_op op, bool flag)
{
	struct imap_session *s = ctx->sess;
	size_t want = op == OP_RENAME ? 2 : 1;

	if (ctx->argc != want) {
		imap_tagged(s, "BAD", "Wrong number of arguments");
		return IMAP_CMD_DONE;
	}
	char *name = imap_mailbox_arg(s, ctx->args), *name2 = NULL;
	if (name == NULL)
		return IMAP_CMD_DONE;
	if (op == OP_RENAME && (name2 = imap_mailbox_arg(s, ctx->args->next)) == NULL) {
		free(name);
		return IMAP_CMD_DONE;
	}
	/* RFC 9051 §6.3.4: a trailing delimiter on CREATE only says a
	   hierarchy is meant */
	size_t l = strlen(name);
	if (op == OP_CREATE && l > 1 && name[l - 1] == '/')
		name[l - 1] = '\0';
	if (op == OP_DELETE && s->sel != NULL && strcmp(s->sel->name, name) == 0) {
		/* deleting the selected folder is allowed; we deselect first */
		imap_view_free(&s->sel);
		imap_session_set_state(s, IMAP_STATE_AUTH);
	}
	struct imap_job *job = folders_job(s, finish_folder_op);
	struct folders_ctx *c = job->ctx;
	c->name = name;
	c->name2 = name2;
	c->op = op;
	c->flag = flag;
	proto_job_submit(&job->core, work_folder_op);
	return IMAP_CMD_ASYNC;
}

enum imap_cmd_result imap_cmd_create(struct imap_cmd_ctx *ctx)
{
	return folder_op(ctx, OP_CREATE, false);
}

enum imap_cmd_result imap_cmd_delete(struct imap_cmd_ctx *ctx)
{
	return folder_op(ctx, OP_DELETE, false);
}

enum imap_cmd_result imap_cmd_rename(struct imap_cmd_ctx *ctx)
{
	return folder_op(ctx, OP_RENAME, false);
}

enum imap_cmd_result imap_cmd_subscribe(struct imap_cmd_ctx *ctx)
{
	return folder_op(ctx, OP_SUBSCRIBE, true);
}

enum imap_cmd_result imap_cmd_unsubscribe(struct imap_cmd_ctx *ctx)
{
	return folder_op(ctx, OP_SUBSCRIBE, false);
}

/* --- STATUS ------------------------------------------------------------------------- */

static void work_status(void *thread_ctx, void *p)
{
	struct imap_job *job = p;
	struct folders_ctx *c = job->ctx;
	job->core.result = store_folder_get(thread_ctx, job->mailbox_id, c->name, &c->one);
}

static void finish_status(struct imap_session *s, struct imap_job *job)
{
	struct folders_ctx *c = job->ctx;

	if (job->core.result != STORE_OK) {
		imap_reply_store_error(s, job->core.result, "status");
		imap_cmd_finish(s);
		return;
	}
	struct buf b = {0};
	put_name(s, &b, c->one.name);
	buf_append_c(&b, ' ');
	status_items(&b, c->items, &c->one);
	imap_untagged(s, "STATUS %.*s", (int)b.len, b.data);
	buf_free(&b);
	imap_tagged(s, "OK", "STATUS completed");
	imap_cmd_finish(s);
}

enum imap_cmd_result imap_cmd_status(struct imap_cmd_ctx *ctx)
{
	struct imap_session *s = ctx->sess;
	unsigned items;

	if (ctx->argc != 2 || parse_status_items(ctx->args->next, &items) < 0) {
		imap_tagged(s, "BAD", "STATUS takes a mailbox and a list of items");
		return IMAP_CMD_DONE;
	}
	if (items & ST_HIGHESTMODSEQ)
		s->condstore = true; /* RFC 7162 §3.1: a CONDSTORE-enabling command */
	char *name = imap_mailbox_arg(s, ctx->args);
	if (name == NULL)
		return IMAP_CMD_DONE;
	struct imap_job *job = folders_job(s, finish_status);
	struct folders_ctx *c = job->ctx;
	c->name = name;
	c->items = items;
	proto_job_submit(&job->core, work_status);
	return IMAP_CMD_ASYNC;
}

/* --- SELECT and EXAMINE ------------------------------------------------------------ */

static void work_select(void *thread_ctx, void *p)
{
	struct imap_job *job = p;
	struct folders_ctx *c = job->ctx;

	job->core.result = store_folder_get(thread_ctx, job->mailbox_id, c->name, &c->one);
	if (job->core.result == STORE_OK)
		job->core.result = store_folder_load(thread_ctx, c->one.id, &c->msgs, &c->n_msgs);
	/* QRESYNC: what changed since the client's modseq, if its UIDs hold */
	if (job->core.result == STORE_OK && c->qresync && c->q_uidvalidity == c->one.uidvalidity) {
		uint64_t highest;
		job->core.result =
		    store_folder_changes(thread_ctx, c->one.id, c->q_modseq, &c->ch, &c->n_ch,
					 &c->vanished, &c->n_vanished, &highest, &c->vanished_all);
	}
}

static bool in_set(const struct imap_seq_range *r, size_t n, uint32_t uid)
{
	for (size_t i = 0; i < n; i++)
		if (uid >= r[i].lo && uid <= r[i].hi)
			return true;
	return false;
}

/* RFC 7162 §3.2.5.1: VANISHED (EARLIER) and the changed flags, between the
   SELECT's untagged replies and its tagged OK */
static void qresync_tell(struct imap_session *s, struct folders_ctx *c)
{
	struct imap_view *v = s->sel;
	struct imap_seq_range ranges[IMAP_SEQ_RANGES_MAX];
	struct imap_seqset known = {.r = ranges, .max = IMAP_SEQ_RANGES_MAX};
	const char *err = NULL;
	bool have_known = false;

	if (c->q_known != NULL &&
	    imap_parse_seqset(slice_from(c->q_known), false, &known, &err) == 0) {
		have_known = true;
		for (size_t i = 0; i < known.n; i++)
			known.r[i] =
			    imap_seq_range_resolve(known.r[i], v->uidnext > 0 ? v->uidnext - 1 : 0);
	}
	uint32_t *gone = NULL;
	size_t n_gone = 0, cap = 0;
	if (c->vanished_all) {
		/* records were pruned: every known UID below UIDNEXT not there now */
		uint32_t top = v->uidnext > 0 ? v->uidnext - 1 : 0;
		for (size_t i = 0; have_known && i < known.n; i++)
			for (uint64_t u = known.r[i].lo;
			     u <= known.r[i].hi && u <= top && n_gone < 1000000; u++)
				if (imap_view_seq(v, (uint32_t)u) == 0) {
					if (n_gone == cap)
						gone = xrealloc(gone, (cap = cap ? cap * 2 : 64) *
									  sizeof(*gone));
					gone[n_gone++] = (uint32_t)u;
				}
	} else {
		for (size_t i = 0; i < c->n_vanished; i++) {
			if (have_known && !in_set(known.r, known.n, c->vanished[i]))
				continue;
			if (n_gone == cap)
				gone = xrealloc(gone, (cap = cap ? cap * 2 : 64) * sizeof(*gone));
			gone[n_gone++] = c->vanished[i];
		}
	}
	if (n_gone > 0) {
		struct buf b = {0};
		imap_uid_set_write(&b, gone, n_gone);
		imap_untagged(s, "VANISHED (EARLIER) %.*s", (int)b.len, b.data);
		buf_free(&b);
	}
	free(gone);
	for (size_t i = 0; i < c->n_ch; i++) {
		uint32_t seq = imap_view_seq(v, c->ch[i].uid);
		if (seq == 0)
			continue;
		struct buf b = {0};
		imap_flags_write(&b, c->ch[i].flags, c->ch[i].keywords);
		imap_untagged(s, "%u FETCH (UID %u FLAGS %.*s MODSEQ (%llu))", seq, c->ch[i].uid,
			      (int)b.len, b.data, (unsigned long long)c->ch[i].modseq);
		buf_free(&b);
	}
}

void imap_flags_write(struct buf *out, unsigned flags, const char *keywords)
{
	static const struct {
		unsigned flag;
		const char *name;
	} sys[] = {{STORE_FLAG_ANSWERED, "\\Answered"},
		   {STORE_FLAG_FLAGGED, "\\Flagged"},
		   {STORE_FLAG_DELETED, "\\Deleted"},
		   {STORE_FLAG_SEEN, "\\Seen"},
		   {STORE_FLAG_DRAFT, "\\Draft"}};
	const char *sep = "";

	buf_append_c(out, '(');
	for (size_t i = 0; i < N_ELEMENTS(sys); i++)
		if (flags & sys[i].flag) {
			buf_printf(out, "%s%s", sep, sys[i].name);
			sep = " ";
		}
	if (keywords != NULL && keywords[0] != '\0')
		buf_printf(out, "%s%s", sep, keywords);
	buf_append_c(out, ')');
}

/* Keywords in a folder's space-separated list (NULL: none). */
static size_t keyword_count(const char *list)
{
	size_t n = 0;
	for (const char *p = list; p != NULL && *p != '\0'; p++)
		n += p == list || (p[-1] == ' ' && *p != ' ');
	return n;
}

static void finish_select(struct imap_session *s, struct imap_job *job)
{
	struct folders_ctx *c = job->ctx;

	if (job->core.result != STORE_OK) {
		/* RFC 9051 §6.3.2: a failed SELECT leaves no folder selected */
		imap_session_set_state(s, IMAP_STATE_AUTH);
		imap_reply_store_error(s, job->core.result, "select");
		imap_cmd_finish(s);
		return;
	}
	struct imap_view *v = xcalloc(1, sizeof(*v));
	v->folder_id = c->one.id;
	v->name = xstrdup(c->one.name);
	v->readonly = c->readonly;
	v->uidvalidity = c->one.uidvalidity;
	v->uidnext = c->one.uidnext;
	v->highestmodseq = c->one.highestmodseq;
	v->keywords = c->one.keywords != NULL ? xstrdup(c->one.keywords) : NULL;
	v->cap = v->n = (uint32_t)c->n_msgs;
	v->uids = xmalloc((v->cap > 0 ? v->cap : 1) * sizeof(*v->uids));
	uint32_t first_unseen = 0;
	for (size_t i = 0; i < c->n_msgs; i++) {
		v->uids[i] = c->msgs[i].uid;
		if (first_unseen == 0 && !(c->msgs[i].flags & STORE_FLAG_SEEN))
			first_unseen = (uint32_t)i + 1;
	}
	imap_view_free(&s->sel);
	s->sel = v;
	imap_session_set_state(s, IMAP_STATE_SELECTED);

	struct buf b = {0};
	imap_flags_write(&b, STORE_FLAGS_ALL, v->keywords);
	imap_untagged(s, "FLAGS %.*s", (int)b.len, b.data);
	buf_clear(&b);
	imap_flags_write(&b, c->readonly ? 0 : STORE_FLAGS_ALL, c->readonly ? NULL : v->keywords);
	/* \* (new keywords may be made) until the folder has all it may have */
	if (!c->readonly && keyword_count(v->keywords) < STORE_FOLDER_KEYWORDS_MAX)
		b.data[b.len - 1] = ' ', buf_append_str(&b, "\\*)");
	imap_untagged(s, "OK [PERMANENTFLAGS %.*s] Flags permitted", (int)b.len, b.data);
	buf_free(&b);
	imap_untagged(s, "%u EXISTS", v->n);
	if (!s->rev2) {
		imap_untagged(s, "0 RECENT");
		if (first_unseen != 0)
			imap_untagged(s, "OK [UNSEEN %u] First unseen", first_unseen);
	}
	imap_untagged(s, "OK [UIDVALIDITY %u] UIDs valid", v->uidvalidity);
	imap_untagged(s, "OK [UIDNEXT %u] Predicted next UID", v->uidnext);
	if (s->condstore)
		imap_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest",
			      (unsigned long long)v->highestmodseq);
	if (s->rev2) {
		struct buf n = {0};
		buf_printf(&n, "LIST (%s) \"/\" ",
			   c->one.special != STORE_SPECIAL_NONE ? special_names[c->one.special]
								: "");
		put_name(s, &n, v->name);
		imap_untagged(s, "%.*s", (int)n.len, n.data);
		buf_free(&n);
	}
	if (c->qresync && c->q_uidvalidity == v->uidvalidity)
		qresync_tell(s, c);
	imap_tagged(s, "OK", "[%s] %s completed", c->readonly ? "READ-ONLY" : "READ-WRITE",
		    c->readonly ? "EXAMINE" : "SELECT");
	imap_cmd_finish(s);
}

static enum imap_cmd_result select_common(struct imap_cmd_ctx *ctx, bool readonly)
{
	struct imap_session *s = ctx->sess;

	bool qresync = false;
	uint64_t q_uidvalidity = 0, q_modseq = 0;
	struct slice known = {0};

	if (ctx->argc < 1 || ctx->argc > 2) {
		imap_tagged(s, "BAD", "%s takes a mailbox name", readonly ? "EXAMINE" : "SELECT");
		return IMAP_CMD_DONE;
	}
	/* RFC 7162: (CONDSTORE) or (QRESYNC (uidvalidity modseq [known-uids ...])) */
	if (ctx->argc == 2) {
		const struct imap_node *p = ctx->args->next;
		bool ok = p->type == IMAP_NODE_LIST && p->count >= 1;
		for (const struct imap_node *o = ok ? p->child : NULL; o != NULL && ok;
		     o = o->next) {
			if (imap_node_is(o, "CONDSTORE")) {
				s->condstore = true;
			} else if (imap_node_is(o, "QRESYNC") && s->qresync && o->next != NULL &&
				   o->next->type == IMAP_NODE_LIST && o->next->count >= 2) {
				const struct imap_node *q = o->next->child;
				ok = imap_node_number(q, UINT32_MAX, &q_uidvalidity) &&
				     q_uidvalidity > 0 &&
				     imap_node_number(q->next, IMAP_NUMBER64_MAX, &q_modseq) &&
				     q_modseq > 0;
				if (ok && q->next->next != NULL &&
				    q->next->next->type != IMAP_NODE_LIST)
					ok = imap_node_astring(q->next->next, &known);
				qresync = ok;
				o = o->next;
			} else {
				ok = false;
			}
		}
		if (!ok) {
			imap_tagged(s, "BAD", "Invalid SELECT parameters");
			return IMAP_CMD_DONE;
		}
	}
	char *name = imap_mailbox_arg(s, ctx->args);
	if (name == NULL)
		return IMAP_CMD_DONE;
	if (s->sel != NULL) {
		/* RFC 9051 §6.3.2: the old one is closed (without expunge) */
		imap_view_free(&s->sel);
		imap_session_set_state(s, IMAP_STATE_AUTH);
		imap_untagged(s, "OK [CLOSED] Previous mailbox closed");
	}
	struct imap_job *job = folders_job(s, finish_select);
	struct folders_ctx *c = job->ctx;
	c->name = name;
	c->readonly = readonly;
	c->qresync = qresync;
	c->q_uidvalidity = (uint32_t)q_uidvalidity;
	c->q_modseq = q_modseq;
	c->q_known = known.len > 0 ? xstrndup(known.p, known.len) : NULL;
	proto_job_submit(&job->core, work_select);
	return IMAP_CMD_ASYNC;
}

enum imap_cmd_result imap_cmd_select(struct imap_cmd_ctx *ctx)
{
	return select_common(ctx, false);
}

enum imap_cmd_result imap_cmd_examine(struct imap_cmd_ctx *ctx)
{
	return select_common(ctx, true);
}

/* --- CLOSE and UNSELECT ---------------------------------------------------------- */

static void work_close(void *thread_ctx, void *p)
{
	struct imap_job *job = p;
	uint32_t *gone = NULL;
	size_t n = 0;

	job->core.result = store_folder_expunge(thread_ctx, job->folder_id, NULL, 0, &gone, &n);
	free(gone);
}

static void finish_close(struct imap_session *s, struct imap_job *job)
{
	imap_view_free(&s->sel);
	imap_session_set_state(s, IMAP_STATE_AUTH);
	/* RFC 9051 §6.4.1: no EXPUNGE responses; a store error still closes */
	if (job->core.result != STORE_OK)
		log_warn("sid=%s imap CLOSE expunge failed status=%d", s->core.sid,
			 job->core.result);
	else if (s->svc->env->changed != NULL)
		s->svc->env->changed(s->svc->env->changed_ctx, s->mailbox_id);
	imap_tagged(s, "OK", "CLOSE completed");
	imap_cmd_finish(s);
}

enum imap_cmd_result imap_cmd_close(struct imap_cmd_ctx *ctx)
{
	struct imap_session *s = ctx->sess;

	if (s->sel->readonly) {
		imap_view_free(&s->sel);
		imap_session_set_state(s, IMAP_STATE_AUTH);
		imap_tagged(s, "OK", "CLOSE completed");
		return IMAP_CMD_DONE;
	}
	struct imap_job *job = imap_job_new(s, finish_close);
	proto_job_submit(&job->core, work_close);
	return IMAP_CMD_ASYNC;
}

enum imap_cmd_result imap_cmd_unselect(struct imap_cmd_ctx *ctx)
{
	struct imap_session *s = ctx->sess;

	imap_view_free(&s->sel);
	imap_session_set_state(s, IMAP_STATE_AUTH);
	imap_tagged(s, "OK", "UNSELECT completed");
	return IMAP_CMD_DONE;
}

/* --- telling others' changes ---------------------------------------------------- */

struct sync_ctx {
	struct store_imsg *m;
	size_t n;
	uint32_t *vanished;
	size_t n_vanished;
	uint64_t highest;
	bool all;
	struct store_imsg *full; /* when pruned records force a full compare */
	size_t n_full;
	bool expunges_ok;
	void (*done)(struct imap_session *s);
};

static void sync_ctx_free(void *p)
{
	struct sync_ctx *c = p;
	store_imsgs_free(c->m, c->n);
	store_imsgs_free(c->full, c->n_full);
	free(c->vanished);
	free(c);
}

static void work_sync(void *thread_ctx, void *p)
{
	struct imap_job *job = p;
	struct sync_ctx *c = job->ctx;
	struct imap_session *s = job->sess; /* read only: the view's modseq, copied at submit */

	(void)s;
	job->core.result =
	    store_folder_changes(thread_ctx, job->folder_id, (uint64_t)job->core.id.mailbox_id,
				 &c->m, &c->n, &c->vanished, &c->n_vanished, &c->highest, &c->all);
	if (job->core.result == STORE_OK && c->all)
		job->core.result =
		    store_folder_load(thread_ctx, job->folder_id, &c->full, &c->n_full);
}

static void finish_sync(struct imap_session *s, struct imap_job *job)
{
	struct sync_ctx *c = job->ctx;
	struct imap_view *v = s->sel;
	void (*done)(struct imap_session *) = c->done;

	if (v == NULL || job->core.result != STORE_OK) {
		if (job->core.result != STORE_OK)
			log_warn("sid=%s imap sync failed status=%d", s->core.sid,
				 job->core.result);
		done(s);
		return;
	}
	bool withheld = false;
	/* expunges first: each EXPUNGE renumbers what follows */
	uint32_t *gone = xmalloc((v->n > 0 ? v->n : 1) * sizeof(*gone));
	size_t n_gone = 0;
	if (c->all) {
		/* records were pruned: what the view has and the store not */
		size_t k = 0;
		for (uint32_t i = 0; i < v->n; i++) {
			while (k < c->n_full && c->full[k].uid < v->uids[i])
				k++;
			if (k == c->n_full || c->full[k].uid != v->uids[i])
				gone[n_gone++] = v->uids[i];
		}
	} else {
		for (size_t i = 0; i < c->n_vanished && n_gone < v->n; i++)
			if (imap_view_seq(v, c->vanished[i]) != 0)
				gone[n_gone++] = c->vanished[i];
	}
	if (n_gone > 0 && !c->expunges_ok)
		withheld = true;
	else
		imap_tell_expunged(s, gone, n_gone);
	free(gone);
	/* new messages, then changed flags of the ones told before */
	uint32_t last = v->n > 0 ? v->uids[v->n - 1] : 0, before = v->n;
	for (size_t i = 0; i < c->n; i++) {
		if (c->m[i].uid <= last)
			continue;
		if (v->n == v->cap) {
			v->cap = v->cap ? v->cap * 2 : 64;
			v->uids = xrealloc(v->uids, v->cap * sizeof(*v->uids));
		}
		v->uids[v->n++] = c->m[i].uid;
		last = c->m[i].uid;
	}
	if (v->n != before)
		imap_untagged(s, "%u EXISTS", v->n);
	for (size_t i = 0; i < c->n; i++) {
		uint32_t seq = imap_view_seq(v, c->m[i].uid);
		if (seq == 0 || seq > before)
			continue;
		struct buf b = {0};
		imap_flags_write(&b, c->m[i].flags, c->m[i].keywords);
		if (s->condstore)
			imap_untagged(s, "%u FETCH (UID %u FLAGS %.*s MODSEQ (%llu))", seq,
				      c->m[i].uid, (int)b.len, b.data,
				      (unsigned long long)c->m[i].modseq);
		else
			imap_untagged(s, "%u FETCH (UID %u FLAGS %.*s)", seq, c->m[i].uid,
				      (int)b.len, b.data);
		buf_free(&b);
	}
	if (!withheld) {
		v->highestmodseq = c->highest;
		v->dirty = false;
	}
	done(s);
}

void imap_sync(struct imap_session *s, bool expunges_ok, void (*done)(struct imap_session *s))
{
	if (s->sel == NULL || !s->sel->dirty) {
		done(s);
		return;
	}
	struct imap_job *job = imap_job_new(s, finish_sync);
	struct sync_ctx *c = xcalloc(1, sizeof(*c));
	c->expunges_ok = expunges_ok;
	c->done = done;
	job->ctx = c;
	job->ctx_free = sync_ctx_free;
	/* the modseq to look from travels in the job (the worker may not
	   read the session) */
	job->core.id.mailbox_id = (int64_t)s->sel->highestmodseq;
	if (!proto_job_try_submit(&job->core, work_sync))
		done(s); /* told at a later moment */
}

/* --- QUOTA (RFC 9208) -------------------------------------------------------------
 *
 * One quota root, "", for the whole mailbox: its hard quota (`user set
 * --quota`, or the domain's default) as STORAGE in KiB, used against it by
 * every folder. The warning and send levels have no IMAP resource and are
 * not shown; SETQUOTA is the administrator's (NO [NOPERM]).
 */

struct quota_ctx {
	struct store_mailbox_info info;
	struct store_folder f;
	char *name; /* GETQUOTAROOT's mailbox, NULL for GETQUOTA */
};

static void quota_ctx_free(void *p)
{
	struct quota_ctx *c = p;
	store_mailbox_info_clear(&c->info);
	store_folder_clear(&c->f);
	free(c->name);
	free(c);
}

static void work_quota(void *thread_ctx, void *p)
{
	struct imap_job *job = p;
	struct quota_ctx *c = job->ctx;

	job->core.result = STORE_OK;
	if (c->name != NULL)
		job->core.result = store_folder_get(thread_ctx, job->mailbox_id, c->name, &c->f);
	if (job->core.result == STORE_OK)
		job->core.result =
		    store_mailbox_info(thread_ctx, job->mailbox_id, (int64_t)time(NULL), &c->info);
}

static void quota_line(struct imap_session *s, const struct quota_ctx *c)
{
	uint64_t limit = (uint64_t)c->info.limits.v[STORE_LIMIT_QUOTA];
	/* RFC 9208 §5.1: STORAGE counts units of 1024 octets */
	imap_untagged(s, "QUOTA \"\" (STORAGE %llu %llu)",
		      (unsigned long long)((c->info.used + 1023) / 1024),
		      (unsigned long long)(limit / 1024));
}

static void finish_quota(struct imap_session *s, struct imap_job *job)
{
	struct quota_ctx *c = job->ctx;
	bool limited = c->info.limits.v[STORE_LIMIT_QUOTA] > 0;

	if (job->core.result != STORE_OK) {
		imap_reply_store_error(s, job->core.result, "quota");
		imap_cmd_finish(s);
		return;
	}
	if (c->name != NULL) {
		struct buf b = {0};
		put_name(s, &b, c->f.name);
		imap_untagged(s, "QUOTAROOT %.*s%s", (int)b.len, b.data, limited ? " \"\"" : "");
		buf_free(&b);
		if (limited)
			quota_line(s, c);
		imap_tagged(s, "OK", "GETQUOTAROOT completed");
	} else if (!limited) {
		imap_tagged(s, "NO", "[NONEXISTENT] No such quota root");
	} else {
		quota_line(s, c);
		imap_tagged(s, "OK", "GETQUOTA completed");
	}
	imap_cmd_finish(s);
}

static enum imap_cmd_result quota_common(struct imap_cmd_ctx *ctx, bool root)
{
	struct imap_session *s = ctx->sess;
	struct slice name;

	if (ctx->argc != 1) {
		imap_tagged(s, "BAD", "%s takes one argument", root ? "GETQUOTAROOT" : "GETQUOTA");
		return IMAP_CMD_DONE;
	}
	struct quota_ctx *c = xcalloc(1, sizeof(*c));
	if (root) {
		if ((c->name = imap_mailbox_arg(s, ctx->args)) == NULL) {
			free(c);
			return IMAP_CMD_DONE;
		}
	} else if (!imap_node_astring(ctx->args, &name) || name.len != 0) {
		free(c);
		imap_tagged(s, "NO", "[NONEXISTENT] No such quota root");
		return IMAP_CMD_DONE;
	}
	struct imap_job *job = imap_job_new(s, finish_quota);
	job->ctx = c;
	job->ctx_free = quota_ctx_free;
	proto_job_submit(&job->core, work_quota);
	return IMAP_CMD_ASYNC;
}

enum imap_cmd_result imap_cmd_getquotaroot(struct imap_cmd_ctx *ctx)
{
	return quota_common(ctx, true);
}

enum imap_cmd_result imap_cmd_getquota(struct imap_cmd_ctx *ctx)
{
	return quota_common(ctx, false);
}

enum imap_cmd_result imap_cmd_setquota(struct imap_cmd_ctx *ctx)
{
	imap_tagged(ctx->sess, "NO",
		    "[NOPERM] Quotas are set by the administrator (mailroom user set --quota)");
	return IMAP_CMD_DONE;
}
