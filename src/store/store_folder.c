/* SPDX-License-Identifier: MIT */
/*
 * store_folder.c - a mailbox's folders (store.h "folders, flags and
 * changes"; S8, S9): their names, UIDVALIDITY, create, delete, rename,
 * subscriptions, and the pieces the delivery, import and POP3 paths use to
 * keep INBOX's uidnext, modseq and expunge records right. The messages of
 * a folder (flags, expunge, copy, append, changes) are store_folder_msg.c.
 *
 * Names are UTF-8 with '/' between levels. INBOX is stored as "INBOX" and
 * a first level "inbox" in any case is read as it (RFC 9051 §5.1), so
 * "Inbox/Lists" is "INBOX/Lists". Folder ids are AUTOINCREMENT and never
 * reused; a folder made again gets a new id and a UIDVALIDITY above every
 * one its mailbox has used (mailboxes.last_uidvalidity, S8).
 *
 * Every write runs in one transaction (S5, S7); every public read ends with
 * store_idle().
 */
#include "store/store_private.h"
#include "util/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SECONDS_PER_DAY 86400

/* The SQL below tests these bits by value. */
_Static_assert(STORE_FLAG_SEEN == 1 && STORE_FLAG_DELETED == 8, "flag bits in the SQL");

static int step_done(struct store *st, struct db_stmt *s, const char *what)
{
	if (s == NULL)
		return STORE_TEMP;
	int rc = db_step(s);
	return rc == DB_DONE ? STORE_OK : store_fail(st, rc, what);
}

static char *col_text(struct db_stmt *s, int i)
{
	const char *t = db_column_text(s, i);
	return xstrdup(t != NULL ? (const char *)t : "");
}

/* --- names ----------------------------------------------------------------- */

/* Length of the UTF-8 sequence at p (at most n octets), 0 if it is none:
   no overlong forms, no surrogates, nothing above U+10FFFF (RFC 3629). */
static size_t utf8_len(const unsigned char *p, size_t n, uint32_t *cp_r)
{
	uint32_t cp;
	size_t len;

	if (p[0] < 0x80) {
		*cp_r = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return len;
}

static bool is_inbox_level(const char *name, size_t len)
{
	return len == 5 && strncasecmp(name, "INBOX", 5) == 0;
}

/* A folder name as the store keeps it (malloc'd), or NULL with the reason
   in st->err: 1 to STORE_FOLDER_NAME_MAX octets of UTF-8 without control
   characters (C0, DEL, C1), no empty level; a first level INBOX in any
   case is written "INBOX". */
static char *name_norm(struct store *st, const char *name)
{
	size_t len = strlen(name);
	const char *why = NULL;

	if (len == 0)
		why = "is empty";
	else if (len > STORE_FOLDER_NAME_MAX)
		why = "is too long";
	else if (name[0] == '/' || name[len - 1] == '/' || strstr(name, "//") != NULL)
		why = "has an empty level (levels are separated by one '/')";
	for (size_t i = 0; why == NULL && i < len;) {
		uint32_t cp = 0;
		size_t n = utf8_len((const unsigned char *)name + i, len - i, &cp);
		if (n == 0)
			why = "is not UTF-8";
		else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			why = "holds a control character";
		i += n;
	}
	if (why != NULL) {
		snprintf(st->err, sizeof(st->err), "folder name '%.200s' %s", name, why);
		return NULL;
	}
	char *n = xstrdup(name);
	size_t first = strcspn(n, "/");
	if (is_inbox_level(n, first))
		memcpy(n, "INBOX", 5);
	return n;
}

static bool is_inbox(const char *norm)
{
	return strcmp(norm, "INBOX") == 0;
}

/* --- what the other files use ------------------------------------------------- */

/* The next UIDVALIDITY of a mailbox: the time (32 bits, never 0), or one
   above the last one it used when that is not below (S8); recorded. */
static int next_uidvalidity(struct store *st, int64_t mailbox_id, uint32_t *uv_r)
{
	struct db_stmt *s = store_stmt(st, "SELECT last_uidvalidity FROM mailboxes WHERE id = ?1");
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
		return store_fail(st, rc, "uidvalidity");
	uint64_t last = (uint64_t)db_column_int64(s, 0);
	db_reset(s);
	uint64_t v = (uint64_t)time(NULL) % ((uint64_t)UINT32_MAX + 1);
	if (v <= last)
		v = last + 1;
	if (v == 0)
		v = 1;
	if (v > UINT32_MAX) {
		snprintf(st->err, sizeof(st->err),
			 "mailbox %" PRId64 " has used every UIDVALIDITY value", mailbox_id);
		return STORE_PERM;
	}
	s = store_stmt(st, "UPDATE mailboxes SET last_uidvalidity = ?2 WHERE id = ?1");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, mailbox_id);
	db_bind_int64(s, 2, (int64_t)v);
	*uv_r = (uint32_t)v;
	return step_done(st, s, "uidvalidity");
}

int store_folders_default(struct store *st, int64_t mailbox_id)
{
	uint32_t uv = 0;
	int r = next_uidvalidity(st, mailbox_id, &uv);
	if (r != STORE_OK)
		return r;
	/* the same set as migration 9 makes (store_sqlite.c) */
	struct db_stmt *s = store_stmt(
	    st, "INSERT INTO folders (mailbox_id, name, special, subscribed, uidvalidity, uidnext, "
		"created) SELECT m.id, d.column1, d.column2, 1, ?2, m.next_uid, ?3 FROM mailboxes "
		"m, (VALUES ('INBOX', 0), ('Sent', 1), ('Drafts', 2), ('Trash', 3), ('Junk', 4), "
		"('Archive', 5)) d WHERE m.id = ?1 ORDER BY d.column2");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, mailbox_id);
	db_bind_int64(s, 2, uv);
	db_bind_int64(s, 3, (int64_t)time(NULL));
	return step_done(st, s, "folders");
}

int store_inbox_of(struct store *st, int64_t mailbox_id, int64_t *folder_id_r, uint64_t *modseq_r)
{
	struct db_stmt *s = store_stmt(st, "SELECT id, highestmodseq FROM folders WHERE mailbox_id "
					   "= ?1 AND name = 'INBOX'");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, mailbox_id);
	int rc = db_step(s);
	if (rc == DB_DONE) {
		snprintf(st->err, sizeof(st->err),
			 "mailbox %" PRId64 " does not exist or has no INBOX", mailbox_id);
		return STORE_NOTFOUND;
	}
	if (rc != DB_ROW)
		return store_fail(st, rc, "inbox");
	*folder_id_r = db_column_int64(s, 0);
	if (modseq_r != NULL)
		*modseq_r = (uint64_t)db_column_int64(s, 1);
	db_reset(s);
	return STORE_OK;
}

int store_folder_added(struct store *st, int64_t folder_id, int64_t last_uid, uint64_t modseq)
{
	struct db_stmt *s = store_stmt(st, "UPDATE folders SET uidnext = max(uidnext, ?2 + 1), "
					   "highestmodseq = max(highestmodseq, ?3) WHERE id = ?1");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, folder_id);
	db_bind_int64(s, 2, last_uid);
	db_bind_int64(s, 3, (int64_t)modseq);
	return step_done(st, s, "folder");
}

int store_expunged_add(struct store *st, int64_t folder_id, int64_t uid, uint64_t modseq,
		       int64_t now)
{
	struct db_stmt *s = store_stmt(st, "INSERT INTO expunged (folder_id, uid, modseq, at) "
					   "VALUES (?1, ?2, ?3, ?4)");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, folder_id);
	db_bind_int64(s, 2, uid);
	db_bind_int64(s, 3, (int64_t)modseq);
	db_bind_int64(s, 4, now);
	return step_done(st, s, "expunge record");
}

int store_folder_expunged(struct store *st, int64_t folder_id, uint64_t modseq, int64_t now)
{
	/* pruning rides on every expunge: a folder that only POP3 empties
	   keeps STORE_EXPUNGED_KEEP_DAYS of records, not all of them */
	static const char *const steps[] = {
	    "UPDATE folders SET highestmodseq = max(highestmodseq, ?2), pruned_modseq = "
	    "max(pruned_modseq, coalesce((SELECT max(e.modseq) FROM expunged e WHERE e.folder_id "
	    "= ?1 AND e.at < ?3), 0)) WHERE id = ?1",
	    "DELETE FROM expunged WHERE folder_id = ?1 AND at < ?3",
	};
	for (size_t i = 0; i < N_ELEMENTS(steps); i++) {
		struct db_stmt *s = store_stmt(st, steps[i]);
		if (s == NULL)
			return STORE_TEMP;
		db_bind_int64(s, 1, folder_id);
		db_bind_int64(s, 2, (int64_t)modseq);
		db_bind_int64(s, 3, now - (int64_t)STORE_EXPUNGED_KEEP_DAYS * SECONDS_PER_DAY);
		int r = step_done(st, s, "expunge records");
		if (r != STORE_OK)
			return r;
	}
	return STORE_OK;
}

/* --- reading folders ------------------------------------------------------------ */

#define FOLDER_SELECT                                                                              \
	"SELECT f.id, f.name, f.special, f.subscribed, f.uidvalidity, f.uidnext, "                 \
	"f.highestmodseq, f.keywords, count(m.id), coalesce(sum(CASE WHEN (m.flags & 1) = 0 THEN " \
	"1 "                                                                                       \
	"ELSE 0 END), 0), coalesce(sum(CASE WHEN (m.flags & 8) != 0 THEN 1 ELSE 0 END), 0), "      \
	"coalesce(sum(m.size), 0) FROM folders f LEFT JOIN "                                       \
	"messages m ON m.folder_id = f.id "

static void folder_row(struct db_stmt *s, struct store_folder *f)
{
	f->id = db_column_int64(s, 0);
	f->name = col_text(s, 1);
	f->special = (enum store_special)db_column_int(s, 2);
	f->subscribed = db_column_int(s, 3) != 0;
	f->uidvalidity = (uint32_t)db_column_int64(s, 4);
	f->uidnext = (uint32_t)db_column_int64(s, 5);
	f->highestmodseq = (uint64_t)db_column_int64(s, 6);
	f->keywords = col_text(s, 7);
	f->messages = (uint32_t)db_column_int64(s, 8);
	f->unseen = (uint32_t)db_column_int64(s, 9);
	f->deleted = (uint32_t)db_column_int64(s, 10);
	f->size = (uint64_t)db_column_int64(s, 11);
}

int store_folder_list(struct store *st, int64_t mailbox_id, struct store_folder **f_r, size_t *n_r)
{
	struct db_stmt *s = store_stmt(st, FOLDER_SELECT "WHERE f.mailbox_id = ?1 GROUP BY f.id "
							 "ORDER BY f.name = 'INBOX' DESC, f.name");
	struct store_folder *f = NULL;
	size_t n = 0, cap = 0;
	int rc, r;

	*f_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, mailbox_id);
	while ((rc = db_step(s)) == DB_ROW) {
		if (n == cap) {
			cap = cap > 0 ? cap * 2 : 16;
			f = xrealloc(f, cap * sizeof(*f));
		}
		folder_row(s, &f[n++]);
	}
	r = rc == DB_DONE ? STORE_OK : store_fail(st, rc, "folder list");
	store_idle(st);
	if (r == STORE_OK && n == 0) {
		snprintf(st->err, sizeof(st->err), "mailbox %" PRId64 " has no folders",
			 mailbox_id);
		r = STORE_NOTFOUND;
	}
	if (r != STORE_OK) {
		store_folders_free(f, n);
		return r;
	}
	*f_r = f;
	*n_r = n;
	return STORE_OK;
}

/* One folder by its normalised name, inside or outside a transaction. */
static int folder_get(struct store *st, int64_t mailbox_id, const char *norm,
		      struct store_folder *f_r)
{
	struct db_stmt *s =
	    store_stmt(st, FOLDER_SELECT "WHERE f.mailbox_id = ?1 AND f.name = ?2 GROUP BY f.id");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, mailbox_id);
	db_bind_text_copy(s, 2, norm, -1);
	int rc = db_step(s);
	if (rc == DB_DONE) {
		snprintf(st->err, sizeof(st->err), "folder %.200s does not exist", norm);
		return STORE_NOTFOUND;
	}
	if (rc != DB_ROW)
		return store_fail(st, rc, "folder get");
	folder_row(s, f_r);
	db_reset(s);
	return STORE_OK;
}

int store_folder_get(struct store *st, int64_t mailbox_id, const char *name,
		     struct store_folder *f_r)
{
	memset(f_r, 0, sizeof(*f_r));
	char *norm = name_norm(st, name);
	if (norm == NULL)
		return STORE_NOTFOUND; /* no folder has that name */
	int r = folder_get(st, mailbox_id, norm, f_r);
	free(norm);
	store_idle(st);
	return r;
}

void store_folder_clear(struct store_folder *f)
{
	if (f == NULL)
		return;
	free(f->name);
	free(f->keywords);
	memset(f, 0, sizeof(*f));
}

void store_folders_free(struct store_folder *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_folder_clear(&f[i]);
	free(f);
}

int store_inbox_id(struct store *st, int64_t mailbox_id, int64_t *folder_id_r)
{
	int r = store_inbox_of(st, mailbox_id, folder_id_r, NULL);
	store_idle(st);
	return r;
}

/* --- create, delete, rename, subscribe ----------------------------------------- */

/* A new folder row inside the caller's transaction; uidnext is the
   mailbox's next UID (the prediction RFC 9051 §2.3.1.1 asks for) unless
   given. */
static int folder_insert(struct store *st, int64_t mailbox_id, const char *norm,
			 enum store_special special, int64_t uidnext, uint64_t modseq,
			 const char *keywords, int64_t *id_r)
{
	uint32_t uv = 0;
	int r = next_uidvalidity(st, mailbox_id, &uv);
	if (r != STORE_OK)
		return r;
	struct db_stmt *s = store_stmt(
	    st, "INSERT INTO folders (mailbox_id, name, special, subscribed, uidvalidity, uidnext, "
		"highestmodseq, keywords, created) SELECT id, ?2, ?3, 0, ?4, CASE WHEN ?5 > 0 THEN "
		"?5 ELSE next_uid END, ?6, ?7, ?8 FROM mailboxes WHERE id = ?1 RETURNING id");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, mailbox_id);
	db_bind_text(s, 2, norm, -1);
	db_bind_int64(s, 3, (int)special);
	db_bind_int64(s, 4, uv);
	db_bind_int64(s, 5, uidnext);
	db_bind_int64(s, 6, (int64_t)(modseq > 0 ? modseq : 1));
	db_bind_text(s, 7, keywords != NULL ? keywords : "", -1);
	db_bind_int64(s, 8, (int64_t)time(NULL));
	if ((r = store_insert_id(st, s, "folder create", id_r)) != STORE_OK) {
		if (r == STORE_EXISTS)
			snprintf(st->err, sizeof(st->err), "folder %.200s exists already", norm);
		return r;
	}
	return STORE_OK;
}

int store_folder_create(struct store *st, int64_t mailbox_id, const char *name,
			enum store_special special, int64_t *id_r)
{
	char *norm = name_norm(st, name);
	int r;

	if (norm == NULL)
		return STORE_INVALID;
	if (is_inbox(norm) || (unsigned)special > STORE_SPECIAL_ARCHIVE) {
		if (is_inbox(norm))
			snprintf(st->err, sizeof(st->err), "INBOX exists in every mailbox");
		else
			snprintf(st->err, sizeof(st->err), "unknown special use %d", (int)special);
		free(norm);
		return STORE_INVALID;
	}
	if ((r = store_begin(st)) != STORE_OK) {
		free(norm);
		return r;
	}
	if ((r = folder_insert(st, mailbox_id, norm, special, 0, 1, NULL, id_r)) != STORE_OK) {
		store_rollback(st);
		free(norm);
		return r;
	}
	free(norm);
	return store_commit(st);
}

/* Every message of a folder removed (S2) and the mailbox's counters with
   them, inside the caller's transaction. */
static int folder_empty(struct store *st, int64_t folder_id, int64_t mailbox_id)
{
	struct db_stmt *s = store_stmt(st, "SELECT DISTINCT body_id FROM messages WHERE folder_id "
					   "= ?1");
	int64_t *bodies = NULL;
	size_t n = 0, cap = 0;
	int rc, r = STORE_OK;

	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, folder_id);
	while ((rc = db_step(s)) == DB_ROW) {
		if (n == cap) {
			cap = cap > 0 ? cap * 2 : 64;
			bodies = xrealloc(bodies, cap * sizeof(*bodies));
		}
		bodies[n++] = db_column_int64(s, 0);
	}
	if (rc != DB_DONE) {
		free(bodies);
		return store_fail(st, rc, "folder delete");
	}
	static const char *const steps[] = {
	    "UPDATE bodies SET refcount = refcount - (SELECT count(*) FROM messages m WHERE "
	    "m.body_id = bodies.id AND m.folder_id = ?1) WHERE id IN (SELECT body_id FROM "
	    "messages WHERE folder_id = ?1)",
	    "UPDATE mailboxes SET used = max(used - (SELECT coalesce(sum(size), 0) FROM messages "
	    "WHERE folder_id = ?1), 0), messages = max(messages - (SELECT count(*) FROM messages "
	    "WHERE folder_id = ?1), 0) WHERE id = ?2",
	    "DELETE FROM messages WHERE folder_id = ?1",
	};
	for (size_t i = 0; r == STORE_OK && i < N_ELEMENTS(steps); i++) {
		s = store_stmt(st, steps[i]);
		if (s != NULL) {
			db_bind_int64(s, 1, folder_id);
			db_bind_int64(s, 2, mailbox_id);
		}
		r = step_done(st, s, "folder delete");
	}
	for (size_t i = 0; r == STORE_OK && i < n; i++) {
		s = store_stmt(st, "DELETE FROM bodies WHERE id = ?1 AND refcount <= 0");
		if (s != NULL)
			db_bind_int64(s, 1, bodies[i]);
		r = step_done(st, s, "folder delete");
	}
	free(bodies);
	return r;
}

int store_folder_delete(struct store *st, int64_t mailbox_id, const char *name)
{
	struct store_folder f = {0};
	char *norm = name_norm(st, name);
	int r;

	if (norm == NULL)
		return STORE_NOTFOUND;
	if (is_inbox(norm)) {
		snprintf(st->err, sizeof(st->err), "INBOX cannot be deleted");
		free(norm);
		return STORE_INVALID;
	}
	if ((r = store_begin(st)) != STORE_OK) {
		free(norm);
		return r;
	}
	if ((r = folder_get(st, mailbox_id, norm, &f)) != STORE_OK ||
	    (r = folder_empty(st, f.id, mailbox_id)) != STORE_OK)
		goto fail;
	/* the records go with the folder: its id is never used again */
	static const char *const steps[] = {
	    "DELETE FROM expunged WHERE folder_id = ?1",
	    "DELETE FROM folders WHERE id = ?1",
	};
	for (size_t i = 0; r == STORE_OK && i < N_ELEMENTS(steps); i++) {
		struct db_stmt *s = store_stmt(st, steps[i]);
		if (s != NULL)
			db_bind_int64(s, 1, f.id);
		r = step_done(st, s, "folder delete");
	}
	if (r != STORE_OK || (r = store_quota_warn_recheck(st, mailbox_id)) != STORE_OK)
		goto fail;
	store_folder_clear(&f);
	free(norm);
	return store_commit(st);
fail:
	store_rollback(st);
	store_folder_clear(&f);
	free(norm);
	return r;
}

/* RFC 9051 §6.3.6: renaming INBOX moves its messages into a new folder of
   that name, with a new UIDVALIDITY, and leaves INBOX empty (with expunge
   records, one new modseq); children of INBOX stay. The messages keep
   their UIDs, flags and modseqs; a generated UIDL is pinned, so POP3
   serves the same one if a message comes back. */
static int inbox_rename(struct store *st, int64_t mailbox_id, const char *to)
{
	struct store_folder in = {0};
	int64_t id = 0, now = (int64_t)time(NULL);
	int r;

	if ((r = folder_get(st, mailbox_id, "INBOX", &in)) != STORE_OK)
		return r;
	uint64_t modseq = in.highestmodseq + 1;
	if ((r = folder_insert(st, mailbox_id, to, STORE_SPECIAL_NONE, in.uidnext, modseq,
			       in.keywords, &id)) != STORE_OK) {
		store_folder_clear(&in);
		return r;
	}
	static const char *const steps[] = {
	    "INSERT INTO expunged (folder_id, uid, modseq, at) SELECT ?1, uid, ?3, ?4 FROM "
	    "messages WHERE folder_id = ?1",
	    "UPDATE messages SET uidl = mailroom_uidl(mailbox_id, uid) WHERE folder_id = ?1 "
	    "AND uidl IS NULL",
	    "UPDATE messages SET folder_id = ?2 WHERE folder_id = ?1",
	};
	for (size_t i = 0; r == STORE_OK && i < N_ELEMENTS(steps); i++) {
		struct db_stmt *s = store_stmt(st, steps[i]);
		if (s != NULL) {
			db_bind_int64(s, 1, in.id);
			db_bind_int64(s, 2, id);
			db_bind_int64(s, 3, (int64_t)modseq);
			db_bind_int64(s, 4, now);
		}
		r = step_done(st, s, "rename");
	}
	if (r == STORE_OK)
		r = store_folder_expunged(st, in.id, modseq, now);
	store_folder_clear(&in);
	return r;
}

/* The folder `from` and every one under it take the name `to` in its
   place, keeping ids, UIDVALIDITY and UIDs. */
static int subtree_rename(struct store *st, int64_t mailbox_id, const char *from, const char *to)
{
	/* SUBTREE(c) is true for `from` and the folders under it */
#define SUBTREE(c) "(" c " = ?2 OR substr(" c ", 1, length(?2) + 1) = ?2 || '/')"
	struct db_stmt *s = store_stmt(
	    st,
	    "SELECT count(*), coalesce(max(octets(?3 || substr(a.name, length(?2) + 1))), 0), "
	    "coalesce(sum(CASE WHEN EXISTS (SELECT 1 FROM folders b WHERE b.mailbox_id = ?1 AND "
	    "b.name = ?3 || substr(a.name, length(?2) + 1) AND NOT " SUBTREE(
		"b.name") ") THEN 1 ELSE 0 END), 0) FROM folders a WHERE a.mailbox_id = ?1 "
			  "AND " SUBTREE("a.name"));
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, mailbox_id);
	db_bind_text(s, 2, from, -1);
	db_bind_text(s, 3, to, -1);
	int rc = db_step(s);
	if (rc != DB_ROW)
		return store_fail(st, rc, "rename");
	int64_t longest = db_column_int64(s, 1), taken = db_column_int64(s, 2);
	db_reset(s);
	if (taken > 0) {
		snprintf(st->err, sizeof(st->err),
			 "folder %.200s (or a folder under it) exists already", to);
		return STORE_EXISTS;
	}
	if (longest > STORE_FOLDER_NAME_MAX) {
		snprintf(st->err, sizeof(st->err),
			 "a folder under %.200s would get a name over %d octets", to,
			 STORE_FOLDER_NAME_MAX);
		return STORE_INVALID;
	}
	/* through names no folder can have (a control character first), so
	   that no row meets another's old name on the way */
	static const char *const steps[] = {
	    "UPDATE folders SET name = '\001' || ?3 || substr(name, length(?2) + 1) WHERE "
	    "mailbox_id = ?1 AND " SUBTREE("name"),
	    "UPDATE folders SET name = substr(name, 2) WHERE mailbox_id = ?1 AND substr(name, 1, "
	    "1) = '\001'",
	};
#undef SUBTREE
	int r = STORE_OK;
	for (size_t i = 0; r == STORE_OK && i < N_ELEMENTS(steps); i++) {
		s = store_stmt(st, steps[i]);
		if (s != NULL) {
			db_bind_int64(s, 1, mailbox_id);
			db_bind_text(s, 2, from, -1);
			db_bind_text(s, 3, to, -1);
		}
		r = step_done(st, s, "rename");
	}
	return r;
}

int store_folder_rename(struct store *st, int64_t mailbox_id, const char *from, const char *to)
{
	struct store_folder f = {0};
	char *a = name_norm(st, from), *b = a != NULL ? name_norm(st, to) : NULL;
	int r;

	if (a == NULL || b == NULL) {
		free(a);
		return a == NULL ? STORE_NOTFOUND : STORE_INVALID;
	}
	size_t la = strlen(a);
	if (is_inbox(b)) {
		snprintf(st->err, sizeof(st->err), "INBOX exists in every mailbox");
		r = STORE_INVALID;
		goto out;
	}
	if (!is_inbox(a) && strncmp(b, a, la) == 0 && b[la] == '/') {
		snprintf(st->err, sizeof(st->err), "folder %.200s cannot move under itself", a);
		r = STORE_INVALID;
		goto out;
	}
	if ((r = store_begin(st)) != STORE_OK)
		goto out;
	if ((r = folder_get(st, mailbox_id, a, &f)) == STORE_OK && strcmp(a, b) == 0) {
		snprintf(st->err, sizeof(st->err), "folder %.200s exists already", b);
		r = STORE_EXISTS;
	}
	if (r == STORE_OK)
		r = is_inbox(a) ? inbox_rename(st, mailbox_id, b)
				: subtree_rename(st, mailbox_id, a, b);
	if (r != STORE_OK) {
		store_rollback(st);
		goto out;
	}
	r = store_commit(st);
out:
	store_folder_clear(&f);
	free(a);
	free(b);
	return r;
}

int store_folder_subscribe(struct store *st, int64_t mailbox_id, const char *name, bool on)
{
	char *norm = name_norm(st, name);
	int r;

	if (norm == NULL)
		return STORE_NOTFOUND;
	if ((r = store_begin(st)) != STORE_OK) {
		free(norm);
		return r;
	}
	struct db_stmt *s = store_stmt(st, "UPDATE folders SET subscribed = ?3 WHERE mailbox_id = "
					   "?1 AND name = ?2");
	if (s != NULL) {
		db_bind_int64(s, 1, mailbox_id);
		db_bind_text(s, 2, norm, -1);
		db_bind_int64(s, 3, on ? 1 : 0);
	}
	if ((r = step_done(st, s, "subscribe")) == STORE_OK && db_changes(st) == 0) {
		snprintf(st->err, sizeof(st->err), "folder %.200s does not exist", norm);
		r = STORE_NOTFOUND;
	}
	free(norm);
	if (r != STORE_OK) {
		store_rollback(st);
		return r;
	}
	return store_commit(st);
}

/* --- the MIME cache of a body ---------------------------------------------------- */

int store_body_mime_get(struct store *st, int64_t body_id, struct buf *out)
{
	struct db_stmt *s = store_stmt(st, "SELECT mime FROM bodies WHERE id = ?1");
	int r = STORE_OK;

	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, body_id);
	int rc = db_step(s);
	if (rc == DB_ROW && !db_column_null(s, 0)) {
		const void *p = db_column_blob(s, 0);
		buf_append(out, p, (size_t)db_column_bytes(s, 0));
	} else if (rc == DB_ROW || rc == DB_DONE) {
		snprintf(st->err, sizeof(st->err), "body %" PRId64 " has no MIME structure %s",
			 body_id, rc == DB_ROW ? "stored yet" : "(no such body)");
		r = STORE_NOTFOUND;
	} else {
		r = store_fail(st, rc, "mime get");
	}
	store_idle(st);
	return r;
}

int store_body_mime_set(struct store *st, int64_t body_id, const void *blob, size_t len)
{
	int r = store_begin(st);
	if (r != STORE_OK)
		return r;
	struct db_stmt *s = store_stmt(st, "UPDATE bodies SET mime = ?2 WHERE id = ?1");
	if (s != NULL) {
		db_bind_int64(s, 1, body_id);
		db_bind_blob(s, 2, blob != NULL ? blob : "", len);
	}
	if ((r = step_done(st, s, "mime set")) == STORE_OK && db_changes(st) == 0) {
		snprintf(st->err, sizeof(st->err), "body %" PRId64 " does not exist", body_id);
		r = STORE_NOTFOUND;
	}
	if (r != STORE_OK) {
		store_rollback(st);
		return r;
	}
	return store_commit(st);
}

/* --- test seam -------------------------------------------------------------------- */

int store_test_age_expunged(struct store *st, int64_t folder_id, int64_t seconds)
{
	struct db_stmt *s = store_stmt(st, "UPDATE expunged SET at = at - ?2 WHERE folder_id = ?1");
	if (s != NULL) {
		db_bind_int64(s, 1, folder_id);
		db_bind_int64(s, 2, seconds);
	}
	return step_done(st, s, "age expunge records");
}
