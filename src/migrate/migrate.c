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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIGRATE_BATCH_MSGS 500
#define MIGRATE_BATCH_OCTETS (8u * 1024 * 1024)

extern const struct migrate_source_ops migrate_maildir_ops;
extern const struct migrate_source_ops migrate_winpop3_ops;
extern const struct migrate_source_ops migrate_pop3_ops;

/* One line per source. */
static const struct migrate_source_ops *const sources[] = {
    &migrate_maildir_ops,
    &migrate_winpop3_ops,
    &migrate_pop3_ops,
};

const struct migrate_source_ops *migrate_source_find(const char *name)
{
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		if (strcmp(sources[i]->name, name) == 0)
			return sources[i];
	return NULL;
}

/* Stores msgs[0..n) (the batch's first message is number `first`, from 1). */
static int flush(struct store *st, int64_t mailbox_id, struct migrate_msg *msgs, size_t n,
		 uint64_t first, struct migrate_stats *stats, char *err, size_t err_len)
{
	struct store_import_msg im[MIGRATE_BATCH_MSGS] = {0};
	int results[MIGRATE_BATCH_MSGS];

	for (size_t i = 0; i < n; i++)
		im[i] =
		    (struct store_import_msg){.body = msgs[i].body.data,
					      .len = msgs[i].body.len,
					      .uidl = msgs[i].uidl[0] != '\0' ? msgs[i].uidl : NULL,
					      .received = msgs[i].received};
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

	memset(stats, 0, sizeof(*stats));
	err[0] = '\0';
	for (;;) {
		struct migrate_msg *m = &msgs[n];
		char src_err[512] = "";
		buf_clear(&m->body);
		m->uidl[0] = '\0';
		m->received = 0;
		int r = ops->next(src, m, src_err, sizeof(src_err));
		if (r > 0) {
			stats->seen++;
			octets += m->body.len;
			n++;
		}
		/* on a source error, what was read before it is stored first */
		if (n > 0 &&
		    (r <= 0 || n == MIGRATE_BATCH_MSGS || octets >= MIGRATE_BATCH_OCTETS)) {
			if (flush(st, mailbox_id, msgs, n, stats->seen - n + 1, stats, err,
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
	for (size_t i = 0; i < MIGRATE_BATCH_MSGS; i++)
		buf_free(&msgs[i].body);
	free(msgs);
	return ret;
}
