/* SPDX-License-Identifier: MIT */
/*
 * test_migrate_export.c - the exporters of migrate.h (migrate/mig_export.c):
 * a Maildir's folders, file names, LF bytes, mtimes and dovecot-uidlist;
 * an mboxrd file that the mbox splitter reads back into the same messages
 * and arrival times; places that are refused (files in them, a file where
 * a folder should be, a non-empty mbox, a missing parent) with nothing
 * written; an empty mailbox.
 */
#include "migrate/mig_mbox.h"
#include "migrate/migrate.h"
#include "store/store.h"
#include "test_common.h"
#include "util/buf.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const bodies[] = {
    "Subject: one\r\n\r\nplain\r\n",
    ("Return-Path: <bob@example.org>\r\nSubject: two\r\n\r\n\r\nFrom here\r\n>From once\r\n"
     ">>From twice\r\n\r\nFrom x Thu Nov 24 18:22:48 1986\r\n"),
    "Subject: three\r\n\r\n.\r\n..\r\nlast\r\n",
};
#define NB (sizeof(bodies) / sizeof(bodies[0]))

static struct store *filled(char **dir_r, int64_t *id_r)
{
	struct store *st = test_store_new(dir_r);
	struct store_import_msg m[NB];
	int res[NB];

	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(test_add_user(st, "a@example.test", 0) == STORE_OK);
	test_assert(test_add_user(st, "empty@example.test", 0) == STORE_OK);
	*id_r = test_mailbox_id(st, "a@example.test");
	/* arrival times of the past, as an import keeps them: UID i + 1 at
	   1000000000 + UID * 1000 */
	for (size_t i = 0; i < NB; i++)
		m[i] = (struct store_import_msg){.body = bodies[i],
						 .len = strlen(bodies[i]),
						 .uidl = i == 1 ? "kept:1!" : NULL,
						 .received = 1000000000 + (int64_t)(i + 1) * 1000};
	test_assert(store_import(st, *id_r, m, NB, res) == STORE_OK);
	struct store_msg *l = NULL;
	size_t n = 0;
	test_assert(store_mailbox_load(st, *id_r, &l, &n) == STORE_OK && n == NB);
	for (size_t i = 0; i < n; i++)
		test_assert(res[i] == STORE_OK && l[i].uid == i + 1 &&
			    l[i].received == 1000000000 + (int64_t)l[i].uid * 1000);
	free(l);
	return st;
}

static char *slurp(const char *path, size_t *n_r)
{
	FILE *f = fopen(path, "rb");
	struct buf b = {0};
	char tmp[4096];
	size_t n;

	*n_r = 0;
	if (f == NULL)
		return NULL;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	buf_append_c(&b, '\0');
	*n_r = b.len - 1;
	return b.data;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_maildir(void)
{
	char *dir, path[1024], file[4096];
	int64_t id;
	struct store *st = filled(&dir, &id);
	struct migrate_stats stats;
	char err[512];
	struct store_msg *msgs;
	size_t n;

	test_begin("export: Maildir with dovecot-uidlist");
	test_assert(store_mailbox_load(st, id, &msgs, &n) == STORE_OK && n == NB);
	snprintf(path, sizeof(path), "%s/out", dir);
	test_assert(migrate_export_maildir(st, id, path, &stats, err, sizeof(err)) == 0);
	test_assert(stats.seen == NB && stats.added == NB);
	uint64_t octets = 0;
	for (size_t i = 0; i < NB; i++)
		octets += strlen(bodies[i]);
	test_assert(stats.octets == octets);
	static const char *const subs[] = {"cur", "new", "tmp"};
	for (size_t i = 0; i < 3; i++) {
		struct stat sb;
		snprintf(file, sizeof(file), "%s/%s", path, subs[i]);
		test_assert(stat(file, &sb) == 0 && S_ISDIR(sb.st_mode) &&
			    (sb.st_mode & 0777) == 0700);
	}
	snprintf(file, sizeof(file), "%s/cur", path);
	DIR *d = opendir(file);
	struct dirent *de;
	char *names[8];
	size_t k = 0;
	while (d != NULL && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && k < 8)
			names[k++] = strdup(de->d_name);
	if (d != NULL)
		closedir(d);
	test_assert(k == NB);
	qsort(names, k, sizeof(names[0]), by_name);
	for (size_t i = 0; i < k && i < NB; i++) {
		size_t len, blen = strlen(bodies[i]), lines = 0;
		struct stat sb;
		char want[64];
		for (size_t j = 0; j < blen; j++)
			lines += bodies[i][j] == '\n';
		snprintf(file, sizeof(file), "%s/cur/%s", path, names[i]);
		char *data = slurp(file, &len);
		test_assert(data != NULL && len == blen - lines && strstr(data, "\r") == NULL);
		snprintf(want, sizeof(want), ",S=%zu,W=%zu:2,", len, blen);
		test_assert(strstr(names[i], want) != NULL);
		test_assert(stat(file, &sb) == 0 && sb.st_mtime == msgs[i].received &&
			    (sb.st_mode & 0777) == 0600);
		snprintf(want, sizeof(want), "%lld.M%llu", (long long)msgs[i].received,
			 (unsigned long long)msgs[i].uid);
		test_assert(strncmp(names[i], want, strlen(want)) == 0);
		free(data);
	}
	size_t len;
	snprintf(file, sizeof(file), "%s/dovecot-uidlist", path);
	char *ul = slurp(file, &len);
	test_assert(ul != NULL && strncmp(ul, "3 V", 3) == 0);
	char want[512];
	snprintf(want, sizeof(want), " N%llu\n", (unsigned long long)msgs[NB - 1].uid + 1);
	test_assert(ul != NULL && strstr(ul, want) != NULL);
	for (size_t i = 0; ul != NULL && i < k && i < NB; i++) {
		char base[256];
		snprintf(base, sizeof(base), "%s", names[i]);
		*strstr(base, ":2,") = '\0';
		snprintf(want, sizeof(want), "\n%llu P%s W%zu :%s\n",
			 (unsigned long long)msgs[i].uid, msgs[i].uidl, strlen(bodies[i]), base);
		test_assert(strstr(ul, want) != NULL);
	}
	test_assert_str(msgs[1].uidl, "kept:1!");
	free(ul);
	for (size_t i = 0; i < k; i++)
		free(names[i]);
	/* the same place again holds mail now: refused */
	test_assert(migrate_export_maildir(st, id, path, &stats, err, sizeof(err)) == -1);
	test_assert(strstr(err, "already") != NULL);
	free(msgs);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_maildir_refused(void)
{
	char *dir, path[1024], file[4096];
	int64_t id;
	struct store *st = filled(&dir, &id);
	struct migrate_stats stats;
	char err[512];

	test_begin("export: Maildir places refused, empty ones taken");
	snprintf(path, sizeof(path), "%s/busy", dir);
	mkdir(path, 0700);
	snprintf(file, sizeof(file), "%s/busy/note", dir);
	fclose(fopen(file, "w"));
	test_assert(migrate_export_maildir(st, id, path, &stats, err, sizeof(err)) == -1);
	test_assert(strstr(err, "note") != NULL);
	snprintf(file, sizeof(file), "%s/busy/cur", dir);
	test_assert(access(file, F_OK) != 0); /* nothing written */
	/* mail in a cur/ */
	snprintf(path, sizeof(path), "%s/md", dir);
	mkdir(path, 0700);
	snprintf(file, sizeof(file), "%s/md/cur", dir);
	mkdir(file, 0700);
	snprintf(file, sizeof(file), "%s/md/cur/1.M1P1.h:2,", dir);
	fclose(fopen(file, "w"));
	test_assert(migrate_export_maildir(st, id, path, &stats, err, sizeof(err)) == -1);
	test_assert(strstr(err, "cur") != NULL);
	/* a file where the folder should be; a missing parent */
	snprintf(path, sizeof(path), "%s/busy/note", dir);
	test_assert(migrate_export_maildir(st, id, path, &stats, err, sizeof(err)) == -1);
	snprintf(path, sizeof(path), "%s/no/such/place", dir);
	test_assert(migrate_export_maildir(st, id, path, &stats, err, sizeof(err)) == -1);
	test_assert(strstr(err, "No such file") != NULL);
	/* empty cur/ new/ tmp/ are fine; an empty mailbox gives an empty Maildir */
	snprintf(path, sizeof(path), "%s/empty", dir);
	mkdir(path, 0700);
	snprintf(file, sizeof(file), "%s/empty/new", dir);
	mkdir(file, 0700);
	int64_t eid = test_mailbox_id(st, "empty@example.test");
	test_assert(migrate_export_maildir(st, eid, path, &stats, err, sizeof(err)) == 0);
	test_assert(stats.seen == 0 && stats.added == 0);
	size_t len;
	snprintf(file, sizeof(file), "%s/empty/dovecot-uidlist", dir);
	char *ul = slurp(file, &len);
	test_assert(ul != NULL && strncmp(ul, "3 V", 3) == 0 && strstr(ul, " N1\n") != NULL);
	free(ul);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_mbox(void)
{
	char *dir, path[1024], file[1100];
	int64_t id;
	struct store *st = filled(&dir, &id);
	struct migrate_stats stats;
	char err[512];
	struct store_msg *msgs;
	size_t n, len;

	test_begin("export: mboxrd, one file a folder, read back by the splitter");
	test_assert(store_mailbox_load(st, id, &msgs, &n) == STORE_OK && n == NB);
	snprintf(path, sizeof(path), "%s/a.mbox", dir);
	test_assert(migrate_export_mbox(st, id, path, &stats, err, sizeof(err)) == 0);
	test_assert(stats.seen == NB && stats.added == NB && stats.folders == 6);
	snprintf(file, sizeof(file), "%s/a.mbox/INBOX", dir);
	char *data = slurp(file, &len);
	test_assert(data != NULL && strchr(data, '\r') == NULL);
	test_assert(strncmp(data, "From MAILER-DAEMON Sun Sep  9 02:", 33) == 0);
	test_assert(strstr(data, "\nFrom bob@example.org ") != NULL);
	test_assert(strstr(data, "\n>From here\n>>From once\n>>>From twice\n\n"
				 ">From x Thu Nov 24 18:22:48 1986\n\nFrom ") != NULL);
	struct mbox_split sp;
	struct migrate_msg m = {0};
	size_t k = 0;
	mbox_split_init(&sp, data, len, MBOX_RD);
	while (mbox_split_next(&sp, &m, err, sizeof(err)) == 1 && k < NB) {
		/* the Status header it got is read, and left out */
		test_assert(m.body.len == strlen(bodies[k]) &&
			    memcmp(m.body.data, bodies[k], m.body.len) == 0);
		test_assert(m.received == msgs[k].received && m.flags == 0);
		k++;
	}
	test_assert(k == NB);
	migrate_msg_clear(&m);
	free(data);
	snprintf(file, sizeof(file), "%s/a.mbox/Sent", dir);
	data = slurp(file, &len);
	test_assert(data != NULL && len == 0);
	free(data);
	/* a folder with something in it is refused and kept as it was */
	test_assert(migrate_export_mbox(st, id, path, &stats, err, sizeof(err)) == -1);
	test_assert(strstr(err, "new or empty folder") != NULL);
	snprintf(file, sizeof(file), "%s/a.mbox/INBOX", dir);
	data = slurp(file, &len);
	test_assert(data != NULL && strncmp(data, "From MAILER-DAEMON", 18) == 0);
	free(data);
	/* an empty folder is taken; an empty mailbox gives empty files */
	snprintf(path, sizeof(path), "%s/e.mbox", dir);
	test_assert(mkdir(path, 0700) == 0);
	test_assert(migrate_export_mbox(st, test_mailbox_id(st, "empty@example.test"), path, &stats,
					err, sizeof(err)) == 0);
	snprintf(file, sizeof(file), "%s/e.mbox/INBOX", dir);
	data = slurp(file, &len);
	test_assert(data != NULL && len == 0 && stats.seen == 0);
	free(data);
	/* a file is no folder */
	snprintf(path, sizeof(path), "%s/f.mbox", dir);
	fclose(fopen(path, "w"));
	test_assert(migrate_export_mbox(st, id, path, &stats, err, sizeof(err)) == -1);
	snprintf(path, sizeof(path), "%s/no/such.mbox", dir);
	test_assert(migrate_export_mbox(st, id, path, &stats, err, sizeof(err)) == -1);
	test_assert(migrate_export_mbox(st, id, dir, &stats, err, sizeof(err)) == -1);
	free(msgs);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_maildir, test_maildir_refused, test_mbox, NULL});
}
