/* SPDX-License-Identifier: MIT */
/*
 * migrate.c - the table of import sources and the loop that runs any of
 * them into a mailbox (migrate.h).
 *
 * Messages are gathered into batches of MIGRATE_BATCH_MSGS messages or
 * MIGRATE_BATCH_OCTETS octets, whichever comes first, and each batch is one
 * store_import() call: one transaction and one fsync per batch, so the cost
 * of durability is spread over hundreds of messages while memory stays
 * bounded whatever the mailbox's size. A failure keeps every batch
 * committed before it; the UIDLs make the next run skip those.
 */
#include "migrate/migrate.h"
#include "store/store.h"
#include "util/mem.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIGRATE_BATCH_MSGS 500
#define MIGRATE_BATCH_OCTETS (8u * 1024 * 1024)

extern const struct migrate_source_ops migrate_maildir_ops;
extern const struct migrate_source_ops migrate_mbox_ops;
extern const struct migrate_source_ops migrate_winpop3_ops;
extern const struct migrate_source_ops migrate_pop3_ops;

/* One line per source. */
static const struct migrate_source_ops *const sources[] = {
    &migrate_maildir_ops,
    &migrate_mbox_ops,
    &migrate_winpop3_ops,
    &migrate_pop3_ops,
};

void migrate_msg_clear(struct migrate_msg *m)
{
	buf_free(&m->body);
	buf_free(&m->folder);
	buf_free(&m->keywords);
}

const struct migrate_source_ops *migrate_source_find(const char *name)
{
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		if (strcmp(sources[i]->name, name) == 0)
			return sources[i];
	return NULL;
}

/* The folders of one import run by name, "" for INBOX (folder id 0). */
struct folder_map {
	char **name;
	int64_t *id;
	size_t n;
};

static void map_free(struct folder_map *fm)
{
	for (size_t i = 0; i < fm->n; i++)
		free(fm->name[i]);
	free(fm->name);
	free(fm->id);
}

/* The id of the folder called name, made (and subscribed as told) when
   the mailbox has none of that name. Returns 0, or -1 with err. */
static int folder_id(struct store *st, int64_t mailbox_id, const char *name, bool subscribed,
		     struct folder_map *fm, int64_t *id_r, struct migrate_stats *stats, char *err,
		     size_t err_len)
{
	struct store_folder f = {0};
	int64_t id = 0;
	int r;

	*id_r = 0;
	if (name[0] == '\0' || strcmp(name, "INBOX") == 0)
		return 0;
	for (size_t i = fm->n; i > 0; i--)
		if (strcmp(fm->name[i - 1], name) == 0) {
			*id_r = fm->id[i - 1];
			return 0;
		}
	r = store_folder_get(st, mailbox_id, name, &f);
	if (r == STORE_OK) {
		id = f.id;
		store_folder_clear(&f);
	} else if (r == STORE_NOTFOUND) {
		r = store_folder_create(st, mailbox_id, name, STORE_SPECIAL_NONE, &id);
		if (r == STORE_OK && subscribed)
			r = store_folder_subscribe(st, mailbox_id, name, true);
		if (r == STORE_OK)
			stats->folders++;
	}
	if (r != STORE_OK) {
		snprintf(err, err_len, "folder '%.200s': %s", name, store_error(st));
		return -1;
	}
	fm->name = xrealloc(fm->name, (fm->n + 1) * sizeof(*fm->name));
	fm->id = xrealloc(fm->id, (fm->n + 1) * sizeof(*fm->id));
	fm->name[fm->n] = xstrdup(name);
	fm->id[fm->n++] = id;
	*id_r = id;
	return 0;
}

/* The key that makes a message of a folder other than INBOX skipped when
   an import runs again: its source UIDL stands for the message only in
   its folder (Dovecot's default UIDL is the folder's UID and UIDVALIDITY,
   which two folders may share), so the store gets "F" and 40 hex digits
   of SHA-256 over folder name and UIDL, unique in the mailbox as S3
   wants of a UIDL, and one POP3 serves should the message come to INBOX. */
static void folder_key(const char *folder, const char *uidl, char out[71])
{
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned dn = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, folder, strlen(folder) + 1) != 1 ||
	    EVP_DigestUpdate(md, uidl, strlen(uidl)) != 1 || EVP_DigestFinal_ex(md, dig, &dn) != 1)
		abort(); /* no SHA-256: nothing works (as xmalloc on OOM) */
	EVP_MD_CTX_free(md);
	out[0] = 'F';
	for (unsigned i = 0; i < 20; i++)
		snprintf(out + 1 + 2 * i, 3, "%02x", dig[i]);
}

/* Stores msgs[0..n) (the batch's first message is number `first`, from 1). */
static int flush(struct store *st, int64_t mailbox_id, struct migrate_msg *msgs, size_t n,
		 uint64_t first, struct folder_map *fm, struct migrate_stats *stats, char *err,
		 size_t err_len)
{
	struct store_import_msg im[MIGRATE_BATCH_MSGS] = {0};
	int results[MIGRATE_BATCH_MSGS];
	char keys[MIGRATE_BATCH_MSGS][71];

	for (size_t i = 0; i < n; i++) {
		const struct migrate_msg *m = &msgs[i];
		const char *folder = m->folder.len > 0 ? m->folder.data : "";
		int64_t fid = 0;
		if (folder_id(st, mailbox_id, folder, true, fm, &fid, stats, err, err_len) < 0)
			return -1;
		const char *uidl = m->uidl[0] != '\0' ? m->uidl : NULL;
		if (uidl != NULL && fid != 0) {
			folder_key(folder, uidl, keys[i]);
			uidl = keys[i];
		}
		im[i] = (struct store_import_msg){
		    .body = m->body.data,
		    .len = m->body.len,
		    .uidl = uidl,
		    .received = m->received,
		    .folder_id = fid,
		    .flags = m->flags,
		    .keywords = m->keywords.len > 0 ? m->keywords.data : NULL,
		    .uid = m->uid,
		};
	}
	int r = store_import(st, mailbox_id, im, n, results);
	if (r != STORE_OK) {
		snprintf(err, err_len, "messages %llu-%llu: %s", (unsigned long long)first,
			 (unsigned long long)(first + n - 1), store_error(st));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (results[i] == STORE_OK) {
			stats->added++;
			stats->octets += im[i].len;
		} else if (results[i] == STORE_EXISTS) {
			stats->skipped++;
		} else {
			/* the source's fault: the rest of the batch is kept,
			   the import stops naming the message */
			snprintf(err, err_len,
				 "message %llu: UIDL '%s' is not 1-70 printable characters "
				 "(the other messages of its batch were stored)",
				 (unsigned long long)(first + i), msgs[i].uidl);
			return -1;
		}
	}
	return 0;
}

int migrate_import(struct store *st, int64_t mailbox_id, const struct migrate_source_ops *ops,
		   struct migrate_source *src, migrate_progress_fn *progress, void *ctx,
		   struct migrate_stats *stats, char *err, size_t err_len)
{
	struct migrate_msg *msgs = xcalloc(MIGRATE_BATCH_MSGS, sizeof(*msgs));
	long long total = ops->count != NULL ? ops->count(src) : -1;
	size_t n = 0, octets = 0;
	int ret = 0;

	struct folder_map fm = {0};
	memset(stats, 0, sizeof(*stats));
	err[0] = '\0';
	/* every folder first: the empty ones too, subscribed as they were */
	const char *name;
	bool subscribed = false;
	int64_t fid;
	for (size_t i = 0; ops->folder != NULL && (name = ops->folder(src, i, &subscribed)) != NULL;
	     i++)
		if (folder_id(st, mailbox_id, name, subscribed, &fm, &fid, stats, err, err_len) <
		    0) {
			ret = -1;
			goto out;
		}
	for (;;) {
		struct migrate_msg *m = &msgs[n];
		char src_err[512] = "";
		buf_clear(&m->body);
		buf_clear(&m->folder);
		buf_clear(&m->keywords);
		m->uidl[0] = '\0';
		m->received = 0;
		m->flags = 0;
		m->uid = 0;
		int r = ops->next(src, m, src_err, sizeof(src_err));
		if (r > 0) {
			stats->seen++;
			octets += m->body.len;
			n++;
		}
		/* on a source error, what was read before it is stored first */
		if (n > 0 &&
		    (r <= 0 || n == MIGRATE_BATCH_MSGS || octets >= MIGRATE_BATCH_OCTETS)) {
			if (flush(st, mailbox_id, msgs, n, stats->seen - n + 1, &fm, stats, err,
				  err_len) < 0) {
				ret = -1;
				break;
			}
			n = 0;
			octets = 0;
			if (progress != NULL)
				progress(stats, total, ctx);
		}
		if (r < 0) {
			snprintf(err, err_len, "%s", src_err[0] != '\0' ? src_err : "read failed");
			ret = -1;
		}
		if (r <= 0)
			break;
	}
out:
	map_free(&fm);
	for (size_t i = 0; i < MIGRATE_BATCH_MSGS; i++)
		migrate_msg_clear(&msgs[i]);
	free(msgs);
	return ret;
}
