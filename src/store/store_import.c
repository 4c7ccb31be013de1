/* SPDX-License-Identifier: MIT */
/*
 * store_import.c - bulk import into one mailbox (store.h "imports"): the
 * store half of a migration from another server.
 *
 * One call is one transaction, so one WAL fsync covers a whole batch (S1);
 * that, and statements prepared once per handle (store_stmt), is what makes
 * an import of a large Maildir fast. Each message gets its own body row
 * (single instance: one body per message, S2), a UID from the mailbox's
 * counter (S3) or the UID it had where the counter has not passed it, a
 * place in its folder (INBOX unless told) with the batch's one modseq
 * there (S8, S9), its flags and keywords, and the UIDL the old server
 * served, so POP3 clients that
 * left mail on it download nothing twice. A UIDL the mailbox holds already
 * (its own, or the generated form of a message stored without one) is
 * skipped, which makes an import run again resumable.
 *
 * The UIDLs already in the mailbox are read into a hash set once per import
 * run, not once per batch: the handle keeps the set of the mailbox it last
 * imported into, with SQLite's data_version of that moment. A commit by any
 * other connection changes data_version, and then the set is read afresh,
 * so a message another process delivered or expunged meanwhile is seen. A
 * batch that fails drops the set (it may hold UIDLs never committed).
 */
#include "store/store_private.h"
#include "util/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Open addressing over borrowed or owned strings; never removes. */
struct uidl_set {
	char **slot;
	bool *owned;
	size_t cap, n;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static bool set_has(const struct uidl_set *u, const char *s)
{
	if (u->cap == 0)
		return false;
	for (size_t i = hash_str(s) & (u->cap - 1);; i = (i + 1) & (u->cap - 1)) {
		if (u->slot[i] == NULL)
			return false;
		if (strcmp(u->slot[i], s) == 0)
			return true;
	}
}

static void set_put(struct uidl_set *u, char *s, bool owned);

static void set_grow(struct uidl_set *u)
{
	struct uidl_set old = *u;
	u->cap = old.cap ? old.cap * 2 : 256;
	u->n = 0;
	u->slot = xcalloc(u->cap, sizeof(*u->slot));
	u->owned = xcalloc(u->cap, sizeof(*u->owned));
	for (size_t i = 0; i < old.cap; i++)
		if (old.slot[i] != NULL)
			set_put(u, old.slot[i], old.owned[i]);
	free(old.slot);
	free(old.owned);
}

static void set_put(struct uidl_set *u, char *s, bool owned)
{
	if ((u->n + 1) * 2 > u->cap)
		set_grow(u);
	size_t i = hash_str(s) & (u->cap - 1);
	while (u->slot[i] != NULL)
		i = (i + 1) & (u->cap - 1);
	u->slot[i] = s;
	u->owned[i] = owned;
	u->n++;
}

static void set_free(struct uidl_set *u)
{
	for (size_t i = 0; i < u->cap; i++)
		if (u->owned[i])
			free(u->slot[i]);
	free(u->slot);
	free(u->owned);
}

/* RFC 1939 §7: 1-70 characters in 0x21-0x7E. */
static bool uidl_ok(const char *u)
{
	size_t n = strlen(u);
	if (n == 0 || n > 70)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] < 0x21 || (unsigned char)u[i] > 0x7e)
			return false;
	return true;
}

/* The uid in a UIDL of the generated form for this mailbox ("%08x%08x" of
   mailbox id and uid, store_mail.c), or 0. An imported UIDL of that form
   would equal the one a later message of that uid generates, so the
   counter is moved past it (S3 holds: it only grows). */
static uint64_t generated_uid(const char *u, int64_t mailbox_id)
{
	if (strlen(u) != 16)
		return 0;
	for (size_t i = 0; i < 16; i++)
		if (!((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f')))
			return 0;
	char head[9];
	memcpy(head, u, 8);
	head[8] = '\0';
	if (strtoull(head, NULL, 16) != (uint64_t)mailbox_id)
		return 0;
	return strtoull(u + 8, NULL, 16);
}

static int next_uid_of(struct store *st, int64_t mailbox_id, int64_t *next_uid_r)
{
	struct db_stmt *s = store_stmt(st, "SELECT next_uid FROM mailboxes WHERE id = ?1");
	int rc;

	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, mailbox_id);
	rc = db_step(s);
	if (rc == DB_DONE) {
		snprintf(st->err, sizeof(st->err), "mailbox %" PRId64 " does not exist",
			 mailbox_id);
		return STORE_NOTFOUND;
	}
	if (rc != DB_ROW)
		return store_fail(st, rc, "import");
	*next_uid_r = db_column_int64(s, 0);
	db_reset(s);
	return STORE_OK;
}

/* The mailbox's UIDLs into *set, and its next uid; inside the transaction. */
static int load_uidls(struct store *st, int64_t mailbox_id, struct uidl_set *set,
		      int64_t *next_uid_r)
{
	int rc, r = next_uid_of(st, mailbox_id, next_uid_r);

	if (r != STORE_OK)
		return r;
	struct db_stmt *s = store_stmt(st, "SELECT uid, uidl FROM messages WHERE mailbox_id = ?1");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, mailbox_id);
	while ((rc = db_step(s)) == DB_ROW) {
		const char *u = db_column_text(s, 1);
		char *v = u != NULL ? xstrdup((const char *)u)
				    : xasprintf(STORE_UIDL_FMT, (uint64_t)mailbox_id,
						(uint64_t)db_column_int64(s, 0));
		set_put(set, v, true);
	}
	if (rc != DB_DONE)
		return store_fail(st, rc, "import");
	return STORE_OK;
}

/* The set of the mailbox last imported into on this handle (store_private.h). */
struct store_import_cache {
	int64_t mailbox_id;
	int64_t data_version;
	struct uidl_set set;
};

void store_import_cache_free(struct store *st)
{
	if (st->import_cache == NULL)
		return;
	set_free(&st->import_cache->set);
	free(st->import_cache);
	st->import_cache = NULL;
}

static int data_version(struct store *st, int64_t *v_r)
{
	struct db_stmt *s = store_stmt(st, st->ops->sql_data_version);
	int rc;

	*v_r = 0;
	if (s == NULL)
		return STORE_TEMP;
	if ((rc = db_step(s)) != DB_ROW)
		return store_fail(st, rc, "import");
	*v_r = db_column_int64(s, 0);
	db_reset(s);
	return STORE_OK;
}

/* The mailbox's UIDL set and next uid, the kept set when nobody else has
   committed since; inside the transaction. */
static int uidls_of(struct store *st, int64_t mailbox_id, struct uidl_set **set_r,
		    int64_t *next_uid_r)
{
	struct store_import_cache *c = st->import_cache;
	int64_t v = 0;
	int r;

	if ((r = data_version(st, &v)) != STORE_OK)
		return r;
	if (c != NULL && (c->mailbox_id != mailbox_id || c->data_version != v)) {
		store_import_cache_free(st);
		c = NULL;
	}
	if (c == NULL) {
		c = xcalloc(1, sizeof(*c));
		c->mailbox_id = mailbox_id;
		c->data_version = v;
		st->import_cache = c;
		if ((r = load_uidls(st, mailbox_id, &c->set, next_uid_r)) != STORE_OK)
			return r;
	} else if ((r = next_uid_of(st, mailbox_id, next_uid_r)) != STORE_OK) {
		return r;
	}
	*set_r = &c->set;
	return STORE_OK;
}

/* One message into its folder with the batch's modseq there (S9). */
static int add_one(struct store *st, int64_t mailbox_id, int64_t folder_id, uint64_t modseq,
		   const struct store_import_msg *m, int64_t uid, int64_t now)
{
	int64_t body_id;
	char *keywords = NULL;
	int r, rc;

	if ((r = store_keywords_import(st, folder_id, m->keywords, &keywords)) != STORE_OK)
		return r;
	if ((r = store_body_insert(st, m->body, m->len, true, &body_id)) != STORE_OK ||
	    (r = store_body_refs(st, body_id, 1)) != STORE_OK) {
		free(keywords);
		return r;
	}
	struct db_stmt *s = store_stmt(st, "INSERT INTO messages (mailbox_id, uid, body_id, size, "
					   "uidl, received, folder_id, modseq, flags, keywords) "
					   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
	if (s == NULL) {
		free(keywords);
		return STORE_TEMP;
	}
	db_bind_int64(s, 1, mailbox_id);
	db_bind_int64(s, 2, uid);
	db_bind_int64(s, 3, body_id);
	db_bind_int64(s, 4, (int64_t)m->len);
	if (m->uidl != NULL)
		db_bind_text(s, 5, m->uidl, -1);
	db_bind_int64(s, 6, m->received > 0 ? m->received : now);
	db_bind_int64(s, 7, folder_id);
	db_bind_int64(s, 8, (int64_t)modseq);
	db_bind_int64(s, 9, (int)(m->flags & STORE_FLAGS_ALL));
	db_bind_text_copy(s, 10, keywords, -1);
	rc = db_step(s);
	free(keywords);
	if (rc != DB_DONE)
		return store_fail(st, rc, "import");
	return STORE_OK;
}

/* A folder a batch adds to: its modseq for the batch (S9), the last UID
   given there. A batch names few folders (a source goes folder by folder),
   so a short list searched from the end does. */
struct import_folder {
	int64_t id;
	uint64_t modseq;
	int64_t last_uid;
};

static int folder_of(struct store *st, int64_t mailbox_id, int64_t inbox, uint64_t inbox_modseq,
		     int64_t folder_id, struct import_folder **v, size_t *n,
		     struct import_folder **f_r)
{
	int64_t id = folder_id != 0 ? folder_id : inbox;
	for (size_t i = *n; i > 0; i--)
		if ((*v)[i - 1].id == id) {
			*f_r = &(*v)[i - 1];
			return STORE_OK;
		}
	uint64_t modseq = inbox_modseq;
	if (id != inbox) {
		struct db_stmt *s =
		    store_stmt(st, "SELECT highestmodseq FROM folders WHERE id = ?1 "
				   "AND mailbox_id = ?2");
		if (s == NULL)
			return STORE_TEMP;
		db_bind_int64(s, 1, id);
		db_bind_int64(s, 2, mailbox_id);
		int rc = db_step(s);
		if (rc == DB_DONE) {
			snprintf(st->err, sizeof(st->err),
				 "folder %" PRId64 " is no folder of mailbox %" PRId64, id,
				 mailbox_id);
			return STORE_INVALID;
		}
		if (rc != DB_ROW)
			return store_fail(st, rc, "import");
		modseq = (uint64_t)db_column_int64(s, 0);
		db_reset(s);
	}
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[*n] = (struct import_folder){.id = id, .modseq = modseq + 1}; /* one for the batch */
	*f_r = &(*v)[(*n)++];
	return STORE_OK;
}

static int import(struct store *st, int64_t mailbox_id, const struct store_import_msg *msgs,
		  size_t n, int *results)
{
	struct uidl_set *set = NULL;
	struct import_folder *folders = NULL, *f = NULL;
	size_t n_folders = 0;
	int64_t next_uid = 0, now = (int64_t)time(NULL), used = 0, added = 0;
	int64_t inbox = 0;
	uint64_t modseq = 0;
	int r, rc;

	if ((r = store_begin(st)) != STORE_OK)
		return r;
	if ((r = uidls_of(st, mailbox_id, &set, &next_uid)) != STORE_OK ||
	    (r = store_inbox_of(st, mailbox_id, &inbox, &modseq)) != STORE_OK)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const struct store_import_msg *m = &msgs[i];
		if (m->uidl != NULL && !uidl_ok(m->uidl)) {
			results[i] = STORE_INVALID;
			continue;
		}
		if (m->uidl != NULL && set_has(set, m->uidl)) {
			results[i] = STORE_EXISTS; /* there already, or twice in this batch */
			continue;
		}
		if (next_uid > (int64_t)UINT32_MAX) {
			results[i] = STORE_QUOTA; /* every 32-bit UID given (S8) */
			continue;
		}
		if ((r = folder_of(st, mailbox_id, inbox, modseq, m->folder_id, &folders,
				   &n_folders, &f)) != STORE_OK)
			goto fail;
		/* the UID it had where the counter has not passed it (S3) */
		if (m->uid != 0 && (int64_t)m->uid >= next_uid)
			next_uid = m->uid;
		int64_t uid = next_uid++;
		if ((r = add_one(st, mailbox_id, f->id, f->modseq, m, uid, now)) != STORE_OK)
			goto fail;
		f->last_uid = uid;
		/* kept past this call: the set owns its strings */
		set_put(set,
			m->uidl != NULL
			    ? xstrdup(m->uidl)
			    : xasprintf(STORE_UIDL_FMT, (uint64_t)mailbox_id, (uint64_t)uid),
			true);
		if (m->uidl != NULL) {
			uint64_t g = generated_uid(m->uidl, mailbox_id);
			if (g >= (uint64_t)next_uid && g < UINT32_MAX)
				next_uid = (int64_t)g + 1;
		}
		used += (int64_t)m->len;
		added++;
		results[i] = STORE_OK;
	}
	for (size_t i = 0; i < n_folders; i++)
		if (folders[i].last_uid > 0 &&
		    (r = store_folder_added(st, folders[i].id, folders[i].last_uid,
					    folders[i].modseq)) != STORE_OK)
			goto fail;
	struct db_stmt *s = store_stmt(st, "UPDATE mailboxes SET next_uid = ?2, used = used + ?3, "
					   "messages = messages + ?4 WHERE id = ?1");
	if (s == NULL) {
		r = STORE_TEMP;
		goto fail;
	}
	db_bind_int64(s, 1, mailbox_id);
	db_bind_int64(s, 2, next_uid);
	db_bind_int64(s, 3, used);
	db_bind_int64(s, 4, added);
	if ((rc = db_step(s)) != DB_DONE) {
		r = store_fail(st, rc, "import");
		goto fail;
	}
	free(folders);
	if ((r = store_commit(st)) != STORE_OK) /* S1: one WAL fsync for the batch */
		store_import_cache_free(st);
	return r;
fail:
	free(folders);
	store_import_cache_free(st);
	store_rollback(st);
	return r;
}

int store_import(struct store *st, int64_t mailbox_id, const struct store_import_msg *msgs,
		 size_t n, int *results)
{
	for (size_t i = 0; i < n; i++)
		results[i] = STORE_TEMP;
	int r = import(st, mailbox_id, msgs, n, results);
	if (r != STORE_OK)
		for (size_t i = 0; i < n; i++)
			results[i] = r; /* nothing was written */
	store_idle(st);
	return r;
}
