/* SPDX-License-Identifier: MIT */
/*
 * store_folder_msg.c - the messages of a folder as IMAP sees them (store.h
 * "folders, flags and changes"; S8-S10): loading, changes since a modseq,
 * flags and keywords, expunge, copy and move, append.
 *
 * A message row carries its folder, a UID from the mailbox's one counter
 * (S8), flags (enum store_flag), keywords (space-separated, NULL for none)
 * and the modseq of its last change (S9). Each call that changes a folder
 * takes one new modseq for all it changes there, so a STORE over a
 * thousand messages is one modification, as RFC 7162 §3.1 allows. A move
 * keeps the message row (and its body, S2) and gives it a new UID in the
 * destination; the source keeps an expunge record. A copy is a new row on
 * the same body.
 *
 * Keywords are IMAP atoms (RFC 9051 §9: flag-keyword) compared without
 * regard to ASCII case, as clients do; a keyword takes the spelling its
 * folder knew first, so FLAGS and the messages agree.
 *
 * XXX UID sets are looked up one UID at a time (an indexed point lookup
 * each); "1:*" on a folder of 100,000 messages is that many lookups.
 */
#include "store/store_private.h"
#include "util/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* --- keywords ---------------------------------------------------------------- */

struct kwlist {
	char **v;
	size_t n;
};

static void kw_free(struct kwlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static const char *kw_find(const struct kwlist *l, const char *k, size_t len)
{
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->v[i]) == len && strncasecmp(l->v[i], k, len) == 0)
			return l->v[i];
	return NULL;
}

/* Appends k (len octets) unless the list has it in any case. */
static bool kw_add(struct kwlist *l, const char *k, size_t len)
{
	if (kw_find(l, k, len) != NULL)
		return false;
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(char *));
	l->v[l->n++] = xstrndup(k, len);
	return true;
}

static void kw_remove(struct kwlist *l, const char *k)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i], k) == 0) {
			free(l->v[i]);
			memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(char *));
			l->n--;
			return;
		}
}

/* A stored list (trusted: written by this file). */
static void kw_split(const char *text, struct kwlist *l)
{
	memset(l, 0, sizeof(*l));
	for (const char *p = text; p != NULL && *p != '\0';) {
		size_t len = strcspn(p, " ");
		if (len > 0)
			kw_add(l, p, len);
		p += len + (p[len] == ' ');
	}
}

/* RFC 9051 §9: atom = 1*ATOM-CHAR, no atom-specials ( ) { SP CTL % * " \ ]
   (and '[' too, which no client sends in a keyword), not 8-bit; a keyword
   never starts with '\' (that is a system flag). */
static bool keyword_ok(const char *k, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)k[i];
		if (c <= 0x20 || c >= 0x7f || strchr("()[]{%*\"\\", c) != NULL)
			return false;
	}
	return len > 0;
}

/* Keywords given by a client, validated, without duplicates, each in the
   spelling of `known` (the folder's list) where it is there. */
static int kw_parse(struct store *st, const char *text, const struct kwlist *known,
		    struct kwlist *out)
{
	memset(out, 0, sizeof(*out));
	for (const char *p = text; p != NULL && *p != '\0';) {
		size_t len = strcspn(p, " ");
		if (len > 0) {
			if (!keyword_ok(p, len)) {
				snprintf(st->err, sizeof(st->err),
					 "'%.*s' is no keyword (an IMAP atom not starting with "
					 "'\\')",
					 (int)(len > 200 ? 200 : len), p);
				kw_free(out);
				return STORE_INVALID;
			}
			const char *k = known != NULL ? kw_find(known, p, len) : NULL;
			kw_add(out, k != NULL ? k : p, k != NULL ? strlen(k) : len);
		}
		p += len + (p[len] == ' ');
	}
	return STORE_OK;
}

/* The list as stored: space-separated, NULL when empty (malloc'd). */
static char *kw_join(const struct kwlist *l)
{
	if (l->n == 0)
		return NULL;
	struct buf b = {0};
	for (size_t i = 0; i < l->n; i++) {
		if (i > 0)
			buf_append_c(&b, ' ');
		buf_append_str(&b, l->v[i]);
	}
	buf_append_c(&b, '\0');
	return (char *)b.data;
}

static int kw_check_len(struct store *st, const char *joined)
{
	if (joined != NULL && strlen(joined) > STORE_KEYWORDS_MAX) {
		snprintf(st->err, sizeof(st->err),
			 "a message's keywords may take %d octets at most", STORE_KEYWORDS_MAX);
		return STORE_LIMIT;
	}
	return STORE_OK;
}

static bool same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* --- rows ------------------------------------------------------------------------ */

/* What a call needs of its folder. */
struct frow {
	int64_t id, mailbox_id;
	uint64_t modseq, pruned;
	struct kwlist keywords;
};

static int frow_get(struct store *st, int64_t folder_id, struct frow *f)
{
	struct db_stmt *s = store_stmt(st, "SELECT mailbox_id, highestmodseq, pruned_modseq, "
					   "keywords FROM folders WHERE id = ?1");
	memset(f, 0, sizeof(*f));
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, folder_id);
	int rc = db_step(s);
	if (rc == DB_DONE) {
		snprintf(st->err, sizeof(st->err), "folder %" PRId64 " does not exist", folder_id);
		return STORE_NOTFOUND;
	}
	if (rc != DB_ROW)
		return store_fail(st, rc, "folder");
	f->id = folder_id;
	f->mailbox_id = db_column_int64(s, 0);
	f->modseq = (uint64_t)db_column_int64(s, 1);
	f->pruned = (uint64_t)db_column_int64(s, 2);
	kw_split(db_column_text(s, 3), &f->keywords);
	db_reset(s);
	return STORE_OK;
}

/* The folder's keyword list grown by `add` (S9 leaves it alone: FLAGS is
   no message data), to STORE_FOLDER_KEYWORDS_MAX at most. A client's own
   new keyword past that (`strict`: STORE, APPEND) is refused with
   STORE_LIMIT; keywords that come with copied messages stay on them, and
   those past the limit are not listed. */
static int frow_learn(struct store *st, struct frow *f, const struct kwlist *add, bool strict)
{
	bool grown = false;
	for (size_t i = 0; i < add->n; i++) {
		const char *k = add->v[i];
		if (kw_find(&f->keywords, k, strlen(k)) != NULL)
			continue;
		if (f->keywords.n >= STORE_FOLDER_KEYWORDS_MAX) {
			if (!strict)
				break;
			snprintf(st->err, sizeof(st->err),
				 "a folder's messages may use %d keywords at most",
				 STORE_FOLDER_KEYWORDS_MAX);
			return STORE_LIMIT;
		}
		grown |= kw_add(&f->keywords, k, strlen(k));
	}
	if (!grown)
		return STORE_OK;
	char *text = kw_join(&f->keywords);
	struct db_stmt *s = store_stmt(st, "UPDATE folders SET keywords = ?2 WHERE id = ?1");
	int rc = DB_OK;
	if (s != NULL) {
		db_bind_int64(s, 1, f->id);
		db_bind_text(s, 2, text, -1);
		rc = db_step(s);
	}
	free(text);
	if (s == NULL)
		return STORE_TEMP;
	return rc == DB_DONE ? STORE_OK : store_fail(st, rc, "folder keywords");
}

static int frow_modseq(struct store *st, int64_t folder_id, uint64_t modseq)
{
	struct db_stmt *s = store_stmt(st, "UPDATE folders SET highestmodseq = max(highestmodseq, "
					   "?2) WHERE id = ?1");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, folder_id);
	db_bind_int64(s, 2, (int64_t)modseq);
	int rc = db_step(s);
	return rc == DB_DONE ? STORE_OK : store_fail(st, rc, "folder modseq");
}

int store_keywords_import(struct store *st, int64_t folder_id, const char *keywords, char **text_r)
{
	struct frow f;
	struct kwlist kw = {0};
	size_t total = 0;
	int r;

	*text_r = NULL;
	if (keywords == NULL || *keywords == '\0')
		return STORE_OK;
	if ((r = frow_get(st, folder_id, &f)) != STORE_OK)
		return r;
	for (const char *p = keywords; *p != '\0';) {
		size_t len = strcspn(p, " ");
		const char *k = keyword_ok(p, len) ? kw_find(&f.keywords, p, len) : NULL;
		size_t kl = k != NULL ? strlen(k) : len;
		if (keyword_ok(p, len) && total + kl + (kw.n > 0) <= STORE_KEYWORDS_MAX &&
		    kw_add(&kw, k != NULL ? k : p, kl))
			total += kl + (kw.n > 1);
		p += len + (p[len] == ' ');
	}
	r = frow_learn(st, &f, &kw, false);
	if (r == STORE_OK)
		*text_r = kw_join(&kw);
	kw_free(&kw);
	kw_free(&f.keywords);
	return r;
}

#define IMSG_COLUMNS "m.id, m.uid, m.flags, m.keywords, m.modseq, m.size, m.received, m.body_id"

static void imsg_row(struct db_stmt *s, struct store_imsg *m)
{
	const char *k = db_column_text(s, 3);
	m->id = db_column_int64(s, 0);
	m->uid = (uint32_t)db_column_int64(s, 1);
	m->flags = (unsigned)db_column_int(s, 2);
	m->keywords = k != NULL && *k != '\0' ? xstrdup((const char *)k) : NULL;
	m->modseq = (uint64_t)db_column_int64(s, 4);
	m->size = (uint64_t)db_column_int64(s, 5);
	m->received = db_column_int64(s, 6);
	m->body_id = db_column_int64(s, 7);
}

static void imsg_push(struct store_imsg **m, size_t *n, size_t *cap, const struct store_imsg *x)
{
	if (*n == *cap) {
		*cap = *cap > 0 ? *cap * 2 : 64;
		*m = xrealloc(*m, *cap * sizeof(**m));
	}
	(*m)[(*n)++] = *x;
}

void store_imsgs_free(struct store_imsg *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(m[i].keywords);
	free(m);
}

/* The message with this UID in the folder: STORE_NOTFOUND if none;
 *uidl_r (if wanted) gets its stored UIDL or NULL (malloc'd). */
static int msg_by_uid(struct store *st, int64_t folder_id, uint32_t uid, struct store_imsg *m,
		      char **uidl_r)
{
	struct db_stmt *s = store_stmt(st, "SELECT " IMSG_COLUMNS ", m.uidl FROM messages m WHERE "
					   "m.folder_id = ?1 AND m.uid = ?2");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, folder_id);
	db_bind_int64(s, 2, uid);
	int rc = db_step(s);
	if (rc == DB_DONE)
		return STORE_NOTFOUND;
	if (rc != DB_ROW)
		return store_fail(st, rc, "message");
	imsg_row(s, m);
	if (uidl_r != NULL) {
		const char *u = db_column_text(s, 8);
		*uidl_r = u != NULL ? xstrdup((const char *)u) : NULL;
	}
	db_reset(s);
	return STORE_OK;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The UIDs ascending, without duplicates or 0 (caller frees). */
static uint32_t *uids_sorted(const uint32_t *uids, size_t n, size_t *n_r)
{
	uint32_t *u = xmalloc((n > 0 ? n : 1) * sizeof(*u));
	size_t k = 0;
	if (n > 0)
		memcpy(u, uids, n * sizeof(*u));
	qsort(u, n, sizeof(*u), cmp_u32);
	for (size_t i = 0; i < n; i++)
		if (u[i] != 0 && (k == 0 || u[k - 1] != u[i]))
			u[k++] = u[i];
	*n_r = k;
	return u;
}

static void u32_push(uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
	if (*n == *cap) {
		*cap = *cap > 0 ? *cap * 2 : 64;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = x;
}

/* A mailbox's receive limit, use and next UID, for copies and appends. */
static int mailbox_room(struct store *st, int64_t mailbox_id, uint64_t *quota_r, uint64_t *used_r,
			int64_t *next_uid_r)
{
	struct db_stmt *s =
	    store_stmt(st, "SELECT " STORE_EFFECTIVE("quota") ", m.used, m.next_uid "
							      "FROM mailboxes m WHERE m.id = ?1");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, mailbox_id);
	int rc = db_step(s);
	if (rc == DB_DONE) {
		snprintf(st->err, sizeof(st->err), "mailbox %" PRId64 " does not exist",
			 mailbox_id);
		return STORE_NOTFOUND;
	}
	if (rc != DB_ROW)
		return store_fail(st, rc, "mailbox");
	*quota_r = (uint64_t)db_column_int64(s, 0);
	*used_r = (uint64_t)db_column_int64(s, 1);
	*next_uid_r = db_column_int64(s, 2);
	db_reset(s);
	return STORE_OK;
}

/* IMAP UIDs are 32-bit (RFC 9051 §2.3.1.1): room for n more? */
static int uid_room(struct store *st, int64_t next_uid, size_t n)
{
	if (next_uid < 1 || (uint64_t)next_uid + n - 1 > UINT32_MAX) {
		snprintf(st->err, sizeof(st->err), "the mailbox has used every IMAP UID");
		return STORE_PERM;
	}
	return STORE_OK;
}

static int mailbox_grow(struct store *st, int64_t mailbox_id, int64_t next_uid, uint64_t octets,
			int64_t messages)
{
	struct db_stmt *s =
	    store_stmt(st, "UPDATE mailboxes SET next_uid = max(next_uid, ?2), used "
			   "= used + ?3, messages = messages + ?4 WHERE id = ?1");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, mailbox_id);
	db_bind_int64(s, 2, next_uid);
	db_bind_int64(s, 3, (int64_t)octets);
	db_bind_int64(s, 4, messages);
	int rc = db_step(s);
	return rc == DB_DONE ? STORE_OK : store_fail(st, rc, "mailbox");
}

/* --- reads ------------------------------------------------------------------------ */

int store_folder_load_range(struct store *st, int64_t folder_id, uint32_t lo, uint32_t hi,
			    struct store_imsg **m_r, size_t *n_r)
{
	/* the folder row first, so an empty folder and a missing one differ;
	   messages_folder_uid makes the range a walk of that part of the index */
	struct db_stmt *s = store_stmt(st, "SELECT " IMSG_COLUMNS " FROM folders f LEFT JOIN "
					   "messages m ON m.folder_id = f.id AND m.uid BETWEEN ?2 "
					   "AND ?3 WHERE f.id = ?1 ORDER BY m.uid");
	struct store_imsg *m = NULL;
	size_t n = 0, cap = 0, rows = 0;
	int rc, r;

	*m_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, folder_id);
	db_bind_int64(s, 2, lo);
	db_bind_int64(s, 3, hi);
	while ((rc = db_step(s)) == DB_ROW) {
		rows++;
		if (db_column_null(s, 0))
			continue;
		struct store_imsg x;
		imsg_row(s, &x);
		imsg_push(&m, &n, &cap, &x);
	}
	r = rc == DB_DONE ? STORE_OK : store_fail(st, rc, "folder load");
	store_idle(st);
	if (r == STORE_OK && rows == 0) {
		snprintf(st->err, sizeof(st->err), "folder %" PRId64 " does not exist", folder_id);
		r = STORE_NOTFOUND;
	}
	if (r != STORE_OK) {
		store_imsgs_free(m, n);
		return r;
	}
	*m_r = m;
	*n_r = n;
	return STORE_OK;
}

int store_folder_load(struct store *st, int64_t folder_id, struct store_imsg **m_r, size_t *n_r)
{
	return store_folder_load_range(st, folder_id, 0, UINT32_MAX, m_r, n_r);
}

static int changes(struct store *st, int64_t folder_id, uint64_t since, struct store_imsg **m_r,
		   size_t *n_r, uint32_t **v_r, size_t *nv_r, uint64_t *highest_r, bool *all_r)
{
	struct frow f;
	size_t cap = 0, vcap = 0;
	int rc, r = frow_get(st, folder_id, &f);

	if (r != STORE_OK)
		return r;
	*highest_r = f.modseq;
	*all_r = since < f.pruned; /* records after `since` may be gone (S9) */
	kw_free(&f.keywords);
	struct db_stmt *s = store_stmt(st, "SELECT " IMSG_COLUMNS " FROM messages m WHERE "
					   "m.folder_id = ?1 AND m.modseq > ?2 ORDER BY m.uid");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, folder_id);
	db_bind_int64(s, 2, (int64_t)since);
	while ((rc = db_step(s)) == DB_ROW) {
		struct store_imsg x;
		imsg_row(s, &x);
		imsg_push(m_r, n_r, &cap, &x);
	}
	if (rc != DB_DONE)
		return store_fail(st, rc, "changes");
	s = store_stmt(st, "SELECT DISTINCT uid FROM expunged WHERE folder_id = ?1 AND modseq > "
			   "?2 ORDER BY uid");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, folder_id);
	db_bind_int64(s, 2, (int64_t)since);
	while ((rc = db_step(s)) == DB_ROW)
		u32_push(v_r, nv_r, &vcap, (uint32_t)db_column_int64(s, 0));
	return rc == DB_DONE ? STORE_OK : store_fail(st, rc, "changes");
}

int store_folder_changes(struct store *st, int64_t folder_id, uint64_t since,
			 struct store_imsg **m_r, size_t *n_r, uint32_t **vanished_r,
			 size_t *n_vanished_r, uint64_t *highest_r, bool *vanished_all_r)
{
	*m_r = NULL;
	*n_r = 0;
	*vanished_r = NULL;
	*n_vanished_r = 0;
	*highest_r = 0;
	*vanished_all_r = false;
	/* one read transaction: the messages, the records and highestmodseq
	   of one moment */
	int r = store_exec(st, "BEGIN");
	if (r == STORE_OK)
		r = changes(st, folder_id, since, m_r, n_r, vanished_r, n_vanished_r, highest_r,
			    vanished_all_r);
	store_rollback(st); /* nothing was written: ends the read */
	if (r != STORE_OK) {
		store_imsgs_free(*m_r, *n_r);
		free(*vanished_r);
		*m_r = NULL;
		*n_r = 0;
		*vanished_r = NULL;
		*n_vanished_r = 0;
	}
	return r;
}

/* --- flags ----------------------------------------------------------------------- */

/* The flags and keywords a message gets from one STORE. */
static int flags_apply(struct store *st, const struct store_imsg *m, enum store_flag_op op,
		       unsigned flags, const struct kwlist *given, unsigned *flags_r,
		       char **keywords_r)
{
	struct kwlist k = {0};

	if (op == STORE_FLAGS_SET) {
		*flags_r = flags;
	} else {
		*flags_r = op == STORE_FLAGS_ADD ? (m->flags | flags) : (m->flags & ~flags);
		kw_split(m->keywords, &k);
	}
	for (size_t i = 0; i < given->n; i++)
		if (op == STORE_FLAGS_REMOVE)
			kw_remove(&k, given->v[i]);
		else
			kw_add(&k, given->v[i], strlen(given->v[i]));
	*keywords_r = kw_join(&k);
	kw_free(&k);
	return kw_check_len(st, *keywords_r);
}

static int flags_change(struct store *st, int64_t folder_id, const uint32_t *uids, size_t n,
			enum store_flag_op op, unsigned flags, const char *keywords,
			uint64_t unchangedsince, struct store_imsg **ch_r, size_t *nch_r,
			uint32_t **failed_r, size_t *nfailed_r)
{
	struct frow f;
	struct kwlist given = {0};
	size_t k = 0, cap = 0, fcap = 0;
	bool *dirty = NULL;
	int r;

	if ((r = frow_get(st, folder_id, &f)) != STORE_OK)
		return r;
	uint64_t modseq = f.modseq + 1; /* for every message that changes (S9) */
	uint32_t *u = uids_sorted(uids, n, &k);
	if ((r = kw_parse(st, keywords, &f.keywords, &given)) != STORE_OK)
		goto out;
	dirty = xcalloc(k > 0 ? k : 1, sizeof(*dirty));
	size_t n_dirty = 0;
	for (size_t i = 0; i < k; i++) {
		struct store_imsg m;
		r = msg_by_uid(st, folder_id, u[i], &m, NULL);
		if (r == STORE_NOTFOUND) {
			r = STORE_OK;
			continue; /* not in the folder (RFC 9051 §6.4.6: ignored) */
		}
		if (r != STORE_OK)
			goto out;
		if (unchangedsince > 0 && m.modseq > unchangedsince) {
			u32_push(failed_r, nfailed_r, &fcap, m.uid); /* RFC 7162 §3.2 */
			free(m.keywords);
			continue;
		}
		unsigned nf = 0;
		char *nk = NULL;
		if ((r = flags_apply(st, &m, op, flags, &given, &nf, &nk)) != STORE_OK) {
			free(m.keywords);
			free(nk);
			goto out;
		}
		bool changed = nf != m.flags || !same_text(nk, m.keywords);
		free(m.keywords);
		m.flags = nf;
		m.keywords = nk;
		if (changed) {
			m.modseq = modseq;
			n_dirty++;
		}
		dirty[*nch_r] = changed;
		imsg_push(ch_r, nch_r, &cap, &m);
	}
	for (size_t i = 0; i < *nch_r && r == STORE_OK; i++) {
		if (!dirty[i])
			continue;
		const struct store_imsg *m = &(*ch_r)[i];
		struct db_stmt *s = store_stmt(st, "UPDATE messages SET flags = ?2, keywords = ?3, "
						   "modseq = ?4 WHERE id = ?1");
		if (s == NULL) {
			r = STORE_TEMP;
			break;
		}
		db_bind_int64(s, 1, m->id);
		db_bind_int64(s, 2, (int)m->flags);
		db_bind_text(s, 3, m->keywords, -1);
		db_bind_int64(s, 4, (int64_t)modseq);
		int rc = db_step(s);
		if (rc != DB_DONE)
			r = store_fail(st, rc, "flags");
	}
	if (r == STORE_OK && n_dirty > 0)
		r = frow_modseq(st, folder_id, modseq);
	if (r == STORE_OK && op != STORE_FLAGS_REMOVE && *nch_r > 0)
		r = frow_learn(st, &f, &given, true);
out:
	free(dirty);
	free(u);
	kw_free(&given);
	kw_free(&f.keywords);
	return r;
}

int store_flags_change(struct store *st, int64_t folder_id, const uint32_t *uids, size_t n,
		       enum store_flag_op op, unsigned flags, const char *keywords,
		       uint64_t unchangedsince, struct store_imsg **changed_r, size_t *n_changed_r,
		       uint32_t **failed_r, size_t *n_failed_r)
{
	int r;

	*changed_r = NULL;
	*n_changed_r = 0;
	*failed_r = NULL;
	*n_failed_r = 0;
	if ((flags & ~(unsigned)STORE_FLAGS_ALL) != 0 || (unsigned)op > STORE_FLAGS_REMOVE) {
		snprintf(st->err, sizeof(st->err), "unknown flags (%#x) or operation (%d)", flags,
			 (int)op);
		return STORE_INVALID;
	}
	if ((r = store_begin(st)) != STORE_OK)
		return r;
	r = flags_change(st, folder_id, uids, n, op, flags, keywords, unchangedsince, changed_r,
			 n_changed_r, failed_r, n_failed_r);
	if (r == STORE_OK)
		r = store_commit(st);
	else
		store_rollback(st);
	if (r != STORE_OK) {
		store_imsgs_free(*changed_r, *n_changed_r);
		free(*failed_r);
		*changed_r = NULL;
		*n_changed_r = 0;
		*failed_r = NULL;
		*n_failed_r = 0;
	}
	return r;
}

/* --- expunge --------------------------------------------------------------------- */

static int folder_expunge(struct store *st, int64_t folder_id, const uint32_t *uids, size_t n,
			  uint32_t **out_r, size_t *n_r)
{
	struct frow f;
	struct store_imsg *m = NULL;
	size_t nm = 0, cap = 0, k = 0, ocap = 0;
	int64_t now = (int64_t)time(NULL);
	uint64_t octets = 0;
	int rc, r;

	if ((r = frow_get(st, folder_id, &f)) != STORE_OK)
		return r;
	kw_free(&f.keywords);
	if (uids == NULL) {
		struct db_stmt *s = store_stmt(st, "SELECT " IMSG_COLUMNS " FROM messages m WHERE "
						   "m.folder_id = ?1 AND (m.flags & 8) != 0 ORDER "
						   "BY m.uid");
		if (s == NULL)
			return STORE_TEMP;
		db_bind_int64(s, 1, folder_id);
		while ((rc = db_step(s)) == DB_ROW) {
			struct store_imsg x;
			imsg_row(s, &x);
			imsg_push(&m, &nm, &cap, &x);
		}
		if (rc != DB_DONE)
			r = store_fail(st, rc, "expunge");
	} else {
		uint32_t *u = uids_sorted(uids, n, &k);
		for (size_t i = 0; i < k && r == STORE_OK; i++) {
			struct store_imsg x;
			r = msg_by_uid(st, folder_id, u[i], &x, NULL);
			if (r == STORE_NOTFOUND) {
				r = STORE_OK;
				continue;
			}
			if (r == STORE_OK && (x.flags & STORE_FLAG_DELETED) != 0)
				imsg_push(&m, &nm, &cap, &x); /* RFC 4315 §2.1 UID EXPUNGE */
			else if (r == STORE_OK)
				free(x.keywords);
		}
		free(u);
	}
	uint64_t modseq = f.modseq + 1; /* one for the call (S9) */
	for (size_t i = 0; i < nm && r == STORE_OK; i++) {
		if ((r = store_message_remove(st, m[i].id, m[i].body_id)) == STORE_OK)
			r = store_expunged_add(st, folder_id, m[i].uid, modseq, now);
		octets += m[i].size;
		u32_push(out_r, n_r, &ocap, m[i].uid);
	}
	if (r == STORE_OK && nm > 0) {
		struct db_stmt *s =
		    store_stmt(st, "UPDATE mailboxes SET used = max(used - ?2, 0), "
				   "messages = max(messages - ?3, 0) WHERE id = ?1");
		if (s == NULL)
			r = STORE_TEMP;
		else {
			db_bind_int64(s, 1, f.mailbox_id);
			db_bind_int64(s, 2, (int64_t)octets);
			db_bind_int64(s, 3, (int64_t)nm);
			if ((rc = db_step(s)) != DB_DONE)
				r = store_fail(st, rc, "expunge");
		}
	}
	if (r == STORE_OK && nm > 0)
		r = store_folder_expunged(st, folder_id, modseq, now);
	if (r == STORE_OK && nm > 0)
		r = store_quota_warn_recheck(st, f.mailbox_id);
	store_imsgs_free(m, nm);
	return r;
}

int store_folder_expunge(struct store *st, int64_t folder_id, const uint32_t *uids, size_t n,
			 uint32_t **expunged_r, size_t *n_r)
{
	*expunged_r = NULL;
	*n_r = 0;
	int r = store_begin(st);
	if (r != STORE_OK)
		return r;
	r = folder_expunge(st, folder_id, uids, n, expunged_r, n_r);
	if (r == STORE_OK)
		r = store_commit(st);
	else
		store_rollback(st);
	if (r != STORE_OK) {
		free(*expunged_r);
		*expunged_r = NULL;
		*n_r = 0;
	}
	return r;
}

/* --- copy and move --------------------------------------------------------------- */

/* One message into `to` with UID `uid`: a new row on the same body
   (copy), or the row itself (move), whose generated UIDL is pinned so POP3
   serves the same one if it comes back to INBOX. */
static int copy_one(struct store *st, const struct store_imsg *m, const char *uidl,
		    const struct frow *to, int64_t uid, uint64_t modseq, bool move,
		    const char *keywords)
{
	struct db_stmt *s;
	if (move) {
		char pinned[40];
		snprintf(pinned, sizeof(pinned), STORE_UIDL_FMT, (uint64_t)to->mailbox_id,
			 (uint64_t)m->uid);
		s = store_stmt(st, "UPDATE messages SET folder_id = ?2, uid = ?3, modseq = ?4, "
				   "keywords = ?5, uidl = ?6 WHERE id = ?1");
		if (s == NULL)
			return STORE_TEMP;
		db_bind_int64(s, 1, m->id);
		db_bind_text_copy(s, 6, uidl != NULL ? uidl : pinned, -1);
	} else {
		s = store_stmt(st, "UPDATE bodies SET refcount = refcount + 1 WHERE id = ?1");
		if (s == NULL)
			return STORE_TEMP;
		db_bind_int64(s, 1, m->body_id);
		int rc = db_step(s);
		if (rc != DB_DONE)
			return store_fail(st, rc, "copy");
		s = store_stmt(st, "INSERT INTO messages (mailbox_id, folder_id, uid, modseq, "
				   "keywords, body_id, size, received, flags) VALUES (?7, ?2, ?3, "
				   "?4, ?5, ?8, ?9, ?10, ?11)");
		if (s == NULL)
			return STORE_TEMP;
		db_bind_int64(s, 7, to->mailbox_id);
		db_bind_int64(s, 8, m->body_id);
		db_bind_int64(s, 9, (int64_t)m->size);
		db_bind_int64(s, 10, m->received);
		db_bind_int64(s, 11, (int)m->flags);
	}
	db_bind_int64(s, 2, to->id);
	db_bind_int64(s, 3, uid);
	db_bind_int64(s, 4, (int64_t)modseq);
	db_bind_text(s, 5, keywords, -1);
	int rc = db_step(s);
	return rc == DB_DONE ? STORE_OK : store_fail(st, rc, move ? "move" : "copy");
}

static int folder_copy(struct store *st, int64_t from_id, int64_t to_id, const uint32_t *uids,
		       size_t n, bool move, uint32_t **src_r, uint32_t **dst_r, size_t *n_r)
{
	struct frow from = {0}, to = {0};
	struct store_imsg *m = NULL;
	char **uidls = NULL;
	size_t nm = 0, cap = 0, k = 0, scap = 0, dcap = 0, nd = 0;
	uint64_t quota = 0, used = 0, octets = 0;
	int64_t next_uid = 0, now = (int64_t)time(NULL);
	uint32_t *u = NULL;
	int r;

	if ((r = frow_get(st, from_id, &from)) != STORE_OK ||
	    (r = frow_get(st, to_id, &to)) != STORE_OK)
		goto out;
	if (from.mailbox_id != to.mailbox_id) {
		snprintf(st->err, sizeof(st->err),
			 "folders %" PRId64 " and %" PRId64 " belong to different mailboxes",
			 from_id, to_id);
		r = STORE_INVALID;
		goto out;
	}
	u = uids_sorted(uids, n, &k);
	for (size_t i = 0; i < k && r == STORE_OK; i++) {
		struct store_imsg x;
		char *uidl = NULL;
		r = msg_by_uid(st, from_id, u[i], &x, &uidl);
		if (r == STORE_NOTFOUND) {
			r = STORE_OK;
			continue;
		}
		if (r != STORE_OK)
			break;
		uidls = xrealloc(uidls, (nm + 1) * sizeof(char *));
		uidls[nm] = uidl;
		imsg_push(&m, &nm, &cap, &x);
		octets += x.size;
	}
	if (r != STORE_OK || nm == 0 ||
	    (r = mailbox_room(st, to.mailbox_id, &quota, &used, &next_uid)) != STORE_OK ||
	    (r = uid_room(st, next_uid, nm)) != STORE_OK)
		goto out;
	if (!move && quota > 0 && used + octets > quota) {
		snprintf(st->err, sizeof(st->err),
			 "the copies (%" PRIu64 " octets) would take the mailbox over its quota",
			 octets);
		r = STORE_QUOTA; /* S10: nothing written */
		goto out;
	}
	/* S9: one new modseq in each folder changed; the same one when a
	   move stays in its folder */
	uint64_t to_modseq = to.modseq + 1;
	uint64_t from_modseq = from_id == to_id ? to_modseq : from.modseq + 1;
	struct kwlist learnt = {0};
	for (size_t i = 0; i < nm && r == STORE_OK; i++) {
		struct kwlist kw;
		kw_split(m[i].keywords, &kw);
		/* in the destination's spelling, and new ones learnt there */
		for (size_t j = 0; j < kw.n; j++) {
			const char *known = kw_find(&to.keywords, kw.v[j], strlen(kw.v[j]));
			if (known != NULL) {
				free(kw.v[j]);
				kw.v[j] = xstrdup(known);
			} else {
				kw_add(&learnt, kw.v[j], strlen(kw.v[j]));
			}
		}
		char *text = kw_join(&kw);
		kw_free(&kw);
		int64_t uid = next_uid++;
		r = copy_one(st, &m[i], uidls[i], &to, uid, to_modseq, move, text);
		free(text);
		if (r == STORE_OK && move)
			r = store_expunged_add(st, from_id, m[i].uid, from_modseq, now);
		u32_push(src_r, n_r, &scap, m[i].uid);
		u32_push(dst_r, &nd, &dcap, (uint32_t)uid);
	}
	if (r == STORE_OK)
		r = mailbox_grow(st, to.mailbox_id, next_uid, move ? 0 : octets,
				 move ? 0 : (int64_t)nm);
	if (r == STORE_OK)
		r = store_folder_added(st, to_id, next_uid - 1, to_modseq);
	if (r == STORE_OK)
		r = frow_learn(st, &to, &learnt, false);
	if (r == STORE_OK && move)
		r = store_folder_expunged(st, from_id, from_modseq, now);
	kw_free(&learnt);
out:
	for (size_t i = 0; i < nm; i++)
		free(uidls[i]);
	free(uidls);
	store_imsgs_free(m, nm);
	free(u);
	kw_free(&from.keywords);
	kw_free(&to.keywords);
	return r;
}

int store_folder_copy(struct store *st, int64_t from_folder, int64_t to_folder,
		      const uint32_t *uids, size_t n, bool move, uint32_t **src_uids_r,
		      uint32_t **new_uids_r, size_t *n_r)
{
	*src_uids_r = NULL;
	*new_uids_r = NULL;
	*n_r = 0;
	int r = store_begin(st);
	if (r != STORE_OK)
		return r;
	r = folder_copy(st, from_folder, to_folder, uids, n, move, src_uids_r, new_uids_r, n_r);
	if (r == STORE_OK)
		r = store_commit(st);
	else
		store_rollback(st);
	if (r != STORE_OK) {
		free(*src_uids_r);
		free(*new_uids_r);
		*src_uids_r = NULL;
		*new_uids_r = NULL;
		*n_r = 0;
	}
	return r;
}

/* --- append ---------------------------------------------------------------------- */

static int folder_append(struct store *st, int64_t folder_id, const char *body, size_t len,
			 unsigned flags, const char *keywords, int64_t received, uint32_t *uid_r)
{
	struct frow f;
	struct kwlist kw = {0};
	uint64_t quota = 0, used = 0;
	int64_t next_uid = 0, body_id = 0;
	char *text = NULL;
	int r;

	if ((r = frow_get(st, folder_id, &f)) != STORE_OK)
		return r;
	if ((r = kw_parse(st, keywords, &f.keywords, &kw)) != STORE_OK ||
	    (r = kw_check_len(st, text = kw_join(&kw))) != STORE_OK ||
	    (r = mailbox_room(st, f.mailbox_id, &quota, &used, &next_uid)) != STORE_OK ||
	    (r = uid_room(st, next_uid, 1)) != STORE_OK)
		goto out;
	if (quota > 0 && used + len > quota) {
		snprintf(st->err, sizeof(st->err),
			 "the message (%zu octets) would take the mailbox over its quota", len);
		r = STORE_QUOTA; /* S10 */
		goto out;
	}
	uint64_t modseq = f.modseq + 1;
	if ((r = store_body_insert(st, body, len, true, &body_id)) != STORE_OK ||
	    (r = store_body_refs(st, body_id, 1)) != STORE_OK)
		goto out;
	struct db_stmt *s = store_stmt(st, "INSERT INTO messages (mailbox_id, folder_id, uid, "
					   "modseq, keywords, body_id, size, received, flags) "
					   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
	if (s == NULL) {
		r = STORE_TEMP;
		goto out;
	}
	db_bind_int64(s, 1, f.mailbox_id);
	db_bind_int64(s, 2, folder_id);
	db_bind_int64(s, 3, next_uid);
	db_bind_int64(s, 4, (int64_t)modseq);
	db_bind_text(s, 5, text, -1);
	db_bind_int64(s, 6, body_id);
	db_bind_int64(s, 7, (int64_t)len);
	db_bind_int64(s, 8, received > 0 ? received : (int64_t)time(NULL));
	db_bind_int64(s, 9, (int)flags);
	int rc = db_step(s);
	if (rc != DB_DONE) {
		r = store_fail(st, rc, "append");
		goto out;
	}
	if ((r = mailbox_grow(st, f.mailbox_id, next_uid + 1, len, 1)) != STORE_OK ||
	    (r = store_folder_added(st, folder_id, next_uid, modseq)) != STORE_OK ||
	    (r = frow_learn(st, &f, &kw, true)) != STORE_OK)
		goto out;
	*uid_r = (uint32_t)next_uid;
out:
	free(text);
	kw_free(&kw);
	kw_free(&f.keywords);
	return r;
}

int store_folder_append(struct store *st, int64_t folder_id, const char *body, size_t len,
			unsigned flags, const char *keywords, int64_t received, uint32_t *uid_r)
{
	*uid_r = 0;
	if ((flags & ~(unsigned)STORE_FLAGS_ALL) != 0) {
		snprintf(st->err, sizeof(st->err), "unknown flags (%#x)", flags);
		return STORE_INVALID;
	}
	int r = store_begin(st);
	if (r != STORE_OK)
		return r;
	r = folder_append(st, folder_id, body, len, flags, keywords, received, uid_r);
	if (r == STORE_OK)
		r = store_commit(st); /* S1 */
	else
		store_rollback(st);
	if (r != STORE_OK)
		*uid_r = 0;
	return r;
}
