/* SPDX-License-Identifier: MIT */
/*
 * store_mail.c - delivery, the POP3 view of a mailbox, and expunge: the
 * message half of store.h (invariants S1-S5).
 *
 * A delivery writes one body row and one message row per accepting mailbox
 * in a single transaction; the body's refcount is the number of message rows
 * that use it (S2). UIDs come from mailboxes.next_uid, which only grows (S3).
 * Generated UIDLs are "<mailbox id><uid>" in fixed-width hex: mailbox ids are
 * AUTOINCREMENT and never reused, so a UIDL is unique for the life of the
 * store, even across a mailbox removed and created again.
 *
 * Mail arrives in the mailbox's INBOX folder, which POP3 sees alone: each
 * message added takes the folder's next modseq and moves its uidnext (S8,
 * S9), and a POP3 expunge leaves the records IMAP's VANISHED reads. A
 * message IMAP moved out of INBOX is no longer POP3's to list or expunge.
 */
#include "mime/mime_tree.h"
#include "store/store_private.h"
#include "util/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 1-70 printable characters, and not of the form of generated UIDLs (16
   lower-case hex digits), so an imported one can never equal one of ours. */
static bool uidl_valid(const char *u)
{
	size_t n = strlen(u), hex = 0;
	for (size_t i = 0; i < n; i++)
		hex += (u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f');
	if (n == 0 || n > 70 || (n == 16 && hex == 16))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] < 0x21 || (unsigned char)u[i] > 0x7e)
			return false;
	return true;
}

int store_body_insert(struct store *st, const char *body, size_t len, bool with_tree, int64_t *id_r)
{
	struct db_stmt *s = store_stmt(st, "INSERT INTO bodies (refcount, size, data, mime) VALUES "
					   "(0, ?1, ?2, ?3) RETURNING id");
	struct buf tree = {0};
	int rc;

	if (s == NULL)
		return STORE_TEMP;
	if (with_tree) {
		/* linear in the body, about as fast as reading it (docs/imap.md) */
		struct mime_tree *t = mime_tree_parse(body != NULL ? body : "", len);
		mime_tree_serialize(t, &tree);
		mime_tree_free(&t);
	}
	db_bind_int64(s, 1, (int64_t)len);
	db_bind_blob(s, 2, body != NULL ? body : "", len);
	if (with_tree)
		db_bind_blob(s, 3, tree.data, tree.len);
	else
		db_bind_null(s, 3);
	rc = store_insert_id(st, s, "body insert", id_r);
	buf_free(&tree);
	return rc;
}

int store_body_refs(struct store *st, int64_t body_id, int64_t refs)
{
	struct db_stmt *s = store_stmt(st, "UPDATE bodies SET refcount = ?2 WHERE id = ?1");
	int rc;

	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, body_id);
	db_bind_int64(s, 2, refs);
	if ((rc = db_step(s)) != DB_DONE)
		return store_fail(st, rc, "body refcount");
	return STORE_OK;
}

/* RFC 5322 §3.2.3 atext, for the local part of a Return-Path. */
static bool atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c >= 0x80 || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

void store_return_path(struct buf *out, const char *sender)
{
	const char *at = strrchr(sender, '@');
	size_t local = at != NULL ? (size_t)(at - sender) : strlen(sender);
	bool dot_atom = local > 0 && sender[0] != '.' && sender[local - 1] != '.';

	for (size_t i = 0; dot_atom && i < local; i++)
		dot_atom =
		    atext((unsigned char)sender[i]) || (sender[i] == '.' && sender[i + 1] != '.');
	/* RFC 5321 §4.4: the reverse-path as given in MAIL, "<>" for none */
	buf_append_str(out, "Return-Path: <");
	if (sender[0] == '\0' || dot_atom) {
		buf_append_str(out, sender);
	} else {
		/* the session keeps the local part unquoted: quote it again */
		buf_append_str(out, "\"");
		for (size_t i = 0; i < local; i++) {
			if (sender[i] == '"' || sender[i] == '\\')
				buf_append(out, "\\", 1);
			buf_append(out, &sender[i], 1);
		}
		buf_append_str(out, "\"");
		buf_append_str(out, sender + local);
	}
	buf_append_str(out, ">\r\n");
}

/* Message rows for each mailbox inside the caller's transaction; results[i]
   per mailbox; *accepted_r counts the rows written. */
int store_message_rows(struct store *st, int64_t body_id, const int64_t *mailbox_ids, size_t n,
		       size_t len, const char *uidl, bool ignore_quota, int *results,
		       size_t *accepted_r)
{
	struct db_stmt *s;
	int rc;
	int64_t now = (int64_t)time(NULL);

	*accepted_r = 0;
	for (size_t i = 0; i < n; i++) {
		s = store_stmt(
		    st, "SELECT " STORE_EFFECTIVE(
			    "quota") ", m.used, m.next_uid, f.id, f.highestmodseq FROM "
				     "mailboxes m LEFT JOIN folders f ON f.mailbox_id = m.id "
				     "AND f.name = 'INBOX' WHERE m.id = ?1");
		if (s == NULL)
			return STORE_TEMP;
		db_bind_int64(s, 1, mailbox_ids[i]);
		rc = db_step(s);
		if (rc == DB_DONE) {
			results[i] = STORE_NOTFOUND;
			continue;
		}
		if (rc != DB_ROW)
			return store_fail(st, rc, "deliver");
		uint64_t quota = (uint64_t)db_column_int64(s, 0);
		uint64_t used = (uint64_t)db_column_int64(s, 1);
		int64_t uid = db_column_int64(s, 2);
		bool inbox = !db_column_null(s, 3);
		int64_t folder_id = db_column_int64(s, 3);
		uint64_t modseq = (uint64_t)db_column_int64(s, 4) + 1; /* S9 */
		db_reset(s);
		if (!inbox) {
			snprintf(st->err, sizeof(st->err),
				 "mailbox %" PRId64 " has no INBOX folder (mailroom verify)",
				 mailbox_ids[i]);
			return STORE_PERM;
		}
		if (!ignore_quota && quota > 0 && used + len > quota) {
			results[i] = STORE_QUOTA;
			continue;
		}
		if (uid < 1 || uid > (int64_t)UINT32_MAX) {
			/* IMAP UIDs are 32 bits (S8): every one was given; the
			   mailbox takes no more, as if full */
			snprintf(st->err, sizeof(st->err),
				 "mailbox %" PRId64 " has given every UID up to %" PRIu32,
				 mailbox_ids[i], UINT32_MAX);
			results[i] = STORE_QUOTA;
			continue;
		}
		s = store_stmt(st,
			       "INSERT INTO messages (mailbox_id, uid, body_id, size, uidl, "
			       "received, folder_id, modseq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
			       "?8)");
		if (s == NULL)
			return STORE_TEMP;
		db_bind_int64(s, 1, mailbox_ids[i]);
		db_bind_int64(s, 2, uid);
		db_bind_int64(s, 3, body_id);
		db_bind_int64(s, 4, (int64_t)len);
		if (uidl != NULL)
			db_bind_text(s, 5, uidl, -1);
		db_bind_int64(s, 6, now);
		db_bind_int64(s, 7, folder_id);
		db_bind_int64(s, 8, (int64_t)modseq);
		if ((rc = db_step(s)) != DB_DONE)
			return store_fail(st, rc, "deliver");
		int r = store_folder_added(st, folder_id, uid, modseq);
		if (r != STORE_OK)
			return r;
		s = store_stmt(st, "UPDATE mailboxes SET next_uid = next_uid + 1, used = used + "
				   "?2, messages = messages + 1 WHERE id = ?1");
		if (s == NULL)
			return STORE_TEMP;
		db_bind_int64(s, 1, mailbox_ids[i]);
		db_bind_int64(s, 2, (int64_t)len);
		if ((rc = db_step(s)) != DB_DONE)
			return store_fail(st, rc, "deliver");
		results[i] = STORE_OK;
		(*accepted_r)++;
	}
	return STORE_OK;
}

static int deliver(struct store *st, const int64_t *mailbox_ids, size_t n, const char *body,
		   size_t len, const char *uidl, int *results)
{
	size_t accepted = 0;
	int64_t body_id = 0;
	int r;

	if (uidl != NULL && !uidl_valid(uidl)) {
		snprintf(st->err, sizeof(st->err),
			 "UIDL must be 1-70 printable characters, and not "
			 "16 lower-case hex digits (the form of generated ones)");
		return STORE_INVALID;
	}
	if ((r = store_begin(st)) != STORE_OK)
		return r;
	for (size_t i = 0; uidl != NULL && i < n; i++) {
		/* S3: unique in the mailbox (RFC 1939 §7) */
		struct db_stmt *s = store_stmt(st, "SELECT EXISTS (SELECT 1 FROM messages WHERE "
						   "mailbox_id = ?1 AND uidl = ?2)");
		if (s == NULL) {
			store_rollback(st);
			return STORE_TEMP;
		}
		db_bind_int64(s, 1, mailbox_ids[i]);
		db_bind_text(s, 2, uidl, -1);
		int rc = db_step(s);
		bool dup = rc == DB_ROW && db_column_int(s, 0) != 0;
		db_reset(s);
		if (rc != DB_ROW) {
			r = store_fail(st, rc, "uidl check");
			store_rollback(st);
			return r;
		}
		if (dup) {
			store_rollback(st);
			snprintf(st->err, sizeof(st->err), "UIDL %s is used by a message already",
				 uidl);
			return STORE_EXISTS;
		}
	}
	if ((r = store_body_insert(st, body, len, true, &body_id)) != STORE_OK ||
	    (r = store_message_rows(st, body_id, mailbox_ids, n, len, uidl, false, results,
				    &accepted)) != STORE_OK)
		goto fail;
	if (accepted == 0) {
		store_rollback(st);
		snprintf(st->err, sizeof(st->err), "no mailbox accepted the message");
		for (size_t i = 0; i < n; i++)
			if (results[i] == STORE_QUOTA)
				return STORE_QUOTA;
		return STORE_NOTFOUND;
	}
	if ((r = store_body_refs(st, body_id, (int64_t)accepted)) != STORE_OK)
		goto fail;
	return store_commit(st); /* S1: returns after the WAL fsync */
fail:
	store_rollback(st);
	return r;
}

int store_deliver(struct store *st, const int64_t *mailbox_ids, size_t n, const char *body,
		  size_t len, const char *uidl, int *results)
{
	for (size_t i = 0; i < n; i++)
		results[i] = STORE_TEMP;
	int r = deliver(st, mailbox_ids, n, body, len, uidl, results);
	if (r != STORE_OK && r != STORE_QUOTA)
		for (size_t i = 0; i < n; i++)
			results[i] = r; /* nothing was written (S5-like all or nothing) */
	store_idle(st);
	return r;
}

int store_mailbox_load(struct store *st, int64_t mailbox_id, struct store_msg **msgs_r, size_t *n_r)
{
	/* INBOX alone (S8: the UIDs, so the UIDLs, it always had) */
	struct db_stmt *s = store_stmt(st, "SELECT id, uid, size, uidl, received FROM messages "
					   "WHERE folder_id = (SELECT id FROM folders WHERE "
					   "mailbox_id = ?1 AND name = 'INBOX') ORDER BY uid");
	struct store_msg *msgs = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*msgs_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, mailbox_id);
	while ((rc = db_step(s)) == DB_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			msgs = xrealloc(msgs, cap * sizeof(*msgs));
		}
		struct store_msg *m = &msgs[n++];
		m->id = db_column_int64(s, 0);
		m->uid = (uint64_t)db_column_int64(s, 1);
		m->size = (uint64_t)db_column_int64(s, 2);
		m->received = db_column_int64(s, 4);
		const char *u = db_column_text(s, 3);
		if (u != NULL)
			snprintf(m->uidl, sizeof(m->uidl), "%s", (const char *)u);
		else
			snprintf(m->uidl, sizeof(m->uidl), STORE_UIDL_FMT, (uint64_t)mailbox_id,
				 m->uid);
	}
	if (rc != DB_DONE) {
		int r = store_fail(st, rc, "mailbox load");
		free(msgs);
		store_idle(st);
		return r;
	}
	*msgs_r = msgs;
	*n_r = n;
	return STORE_OK;
}

int store_message_read(struct store *st, int64_t mailbox_id, int64_t msg_id, struct buf *out)
{
	struct db_stmt *s = store_stmt(st, "SELECT b.data FROM messages m JOIN bodies b ON b.id = "
					   "m.body_id WHERE m.id = ?1 AND m.mailbox_id = ?2");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, msg_id);
	db_bind_int64(s, 2, mailbox_id);
	int rc = db_step(s), r = STORE_OK;
	if (rc == DB_ROW) {
		const void *p = db_column_blob(s, 0);
		size_t n = (size_t)db_column_bytes(s, 0);
		buf_append(out, p, n);
	} else if (rc == DB_DONE) {
		snprintf(st->err, sizeof(st->err), "message %" PRId64 " is gone", msg_id);
		r = STORE_NOTFOUND;
	} else {
		r = store_fail(st, rc, "message read");
	}
	store_idle(st);
	return r;
}

/* The body row of a message in a mailbox; leaves the statement on its row
   (the read transaction open) for the caller, who must call store_idle(). */
static int body_of(struct store *st, int64_t mailbox_id, int64_t msg_id, int64_t *body_id_r,
		   uint64_t *size_r)
{
	struct db_stmt *s =
	    store_stmt(st, "SELECT m.body_id, b.size FROM messages m JOIN bodies b "
			   "ON b.id = m.body_id WHERE m.id = ?1 AND m.mailbox_id = ?2");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, msg_id);
	db_bind_int64(s, 2, mailbox_id);
	int rc = db_step(s);
	if (rc == DB_DONE) {
		snprintf(st->err, sizeof(st->err), "message %" PRId64 " is gone", msg_id);
		return STORE_NOTFOUND;
	}
	if (rc != DB_ROW)
		return store_fail(st, rc, "body open");
	*body_id_r = db_column_int64(s, 0);
	*size_r = (uint64_t)db_column_int64(s, 1);
	return STORE_OK;
}

int store_body_open(struct store *st, int64_t mailbox_id, int64_t msg_id,
		    struct store_body_reader *r_r)
{
	memset(r_r, 0, sizeof(*r_r));
	int r = body_of(st, mailbox_id, msg_id, &r_r->body_id, &r_r->size);
	store_idle(st);
	if (r == STORE_OK) {
		r_r->mailbox_id = mailbox_id;
		r_r->msg_id = msg_id;
	}
	return r;
}

int store_body_read(struct store *st, struct store_body_reader *r, uint64_t off, void *dst,
		    size_t len, size_t *n_r)
{
	int64_t body_id;
	uint64_t size;

	*n_r = 0;
	/* the row stays current while the body is read: one snapshot for both */
	int ret = body_of(st, r->mailbox_id, r->msg_id, &body_id, &size);
	if (ret == STORE_OK && r->body_id == 0) { /* the first read opens it */
		r->body_id = body_id;
		r->size = size;
	} else if (ret == STORE_OK && body_id != r->body_id) {
		snprintf(st->err, sizeof(st->err), "message %" PRId64 " has another body",
			 r->msg_id);
		ret = STORE_NOTFOUND;
	}
	if (ret == STORE_OK && off < size && len > 0) {
		if (len > size - off)
			len = (size_t)(size - off);
		ret = st->ops->body_read(st, body_id, size, off, dst, len);
		if (ret == STORE_OK)
			*n_r = len;
	}
	store_idle(st);
	return ret;
}

int store_message_remove(struct store *st, int64_t msg_id, int64_t body_id)
{
	static const char *const steps[] = {
	    "DELETE FROM messages WHERE id = ?1",
	    "UPDATE bodies SET refcount = refcount - 1 WHERE id = ?2",
	    "DELETE FROM bodies WHERE id = ?2 AND refcount <= 0",
	};
	for (size_t k = 0; k < N_ELEMENTS(steps); k++) {
		struct db_stmt *s = store_stmt(st, steps[k]);
		if (s == NULL)
			return STORE_TEMP;
		/* the steps share one numbering; binding a number a statement
		   lacks does nothing (store_private.h) */
		db_bind_int64(s, 1, msg_id);
		db_bind_int64(s, 2, body_id);
		int rc = db_step(s);
		if (rc != DB_DONE)
			return store_fail(st, rc, "expunge");
	}
	return STORE_OK;
}

/* POP3's expunge: messages of the mailbox's INBOX (one moved elsewhere
   meanwhile is no longer the POP3 session's), each leaving an expunge
   record with one new modseq for the call (S9). */
int store_expunge(struct store *st, int64_t mailbox_id, const int64_t *msg_ids, size_t n)
{
	int64_t inbox = 0, now = (int64_t)time(NULL), used = 0, removed = 0;
	uint64_t modseq = 0;
	int r, rc;

	if (n == 0)
		return STORE_OK;
	if ((r = store_begin(st)) != STORE_OK)
		return r;
	if ((r = store_inbox_of(st, mailbox_id, &inbox, &modseq)) != STORE_OK) {
		store_rollback(st);
		/* the mailbox was removed meanwhile: its messages are gone */
		return r == STORE_NOTFOUND ? STORE_OK : r;
	}
	modseq++;
	for (size_t i = 0; i < n; i++) {
		struct db_stmt *s = store_stmt(st, "SELECT body_id, size, uid FROM messages WHERE "
						   "id = ?1 AND folder_id = ?2");
		if (s == NULL)
			goto temp;
		db_bind_int64(s, 1, msg_ids[i]);
		db_bind_int64(s, 2, inbox);
		rc = db_step(s);
		if (rc == DB_DONE)
			continue; /* already gone: expunge is idempotent */
		if (rc != DB_ROW) {
			r = store_fail(st, rc, "expunge");
			goto fail;
		}
		int64_t body_id = db_column_int64(s, 0), size = db_column_int64(s, 1);
		int64_t uid = db_column_int64(s, 2);
		db_reset(s);
		if ((r = store_message_remove(st, msg_ids[i], body_id)) != STORE_OK ||
		    (r = store_expunged_add(st, inbox, uid, modseq, now)) != STORE_OK)
			goto fail;
		used += size;
		removed++;
	}
	if (removed > 0) {
		struct db_stmt *s = store_stmt(st, "UPDATE mailboxes SET used = max(used - ?2, 0), "
						   "messages = messages - ?3 WHERE id = ?1");
		if (s == NULL)
			goto temp;
		db_bind_int64(s, 1, mailbox_id);
		db_bind_int64(s, 2, used);
		db_bind_int64(s, 3, removed);
		if ((rc = db_step(s)) != DB_DONE) {
			r = store_fail(st, rc, "expunge");
			goto fail;
		}
		if ((r = store_folder_expunged(st, inbox, modseq, now)) != STORE_OK)
			goto fail;
	}
	if ((r = store_quota_warn_recheck(st, mailbox_id)) != STORE_OK)
		goto fail;
	return store_commit(st);
temp:
	r = STORE_TEMP;
fail:
	store_rollback(st);
	return r;
}

void store_to_wire(struct buf *out, const char *in, size_t len)
{
	const char *p = in, *end = len > 0 ? in + len : in; /* in may be NULL when empty */

	buf_reserve(out, len + len / 32 + 2);
	/* a line at a time: a bulk copy, not a call per octet (imports convert
	   every message of a Maildir) */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *lim = nl != NULL ? nl : end;
		const char *cr = memchr(p, '\r', (size_t)(lim - p));
		const char *q = cr != NULL ? cr : lim;
		buf_append(out, p, (size_t)(q - p));
		if (q == end)
			break;
		buf_append(out, "\r\n", 2);
		if (*q == '\r' && q + 1 < end && q[1] == '\n')
			q++;
		p = q + 1;
	}
	if (out->len > 0 && (out->len < 2 || memcmp(out->data + out->len - 2, "\r\n", 2) != 0))
		buf_append(out, "\r\n", 2);
}
