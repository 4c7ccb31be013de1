/* SPDX-License-Identifier: MIT */
/*
 * mig_export.c - a mailbox out of mailroom (migrate.h): as a Maildir that
 * Dovecot serves with the same UIDLs and bytes, or as one mboxrd file.
 *
 * Maildir: every message one file in cur/, named as Dovecot's own delivery
 * names them (time.MuidPpid.host,S=size,W=vsize:2,), with LF line ends as
 * Dovecot stores mail: its POP3 turns them into CRLF again, and since
 * bodies hold CRLF line ends only (store.h S4), RETR gives back every byte,
 * and W= (the CRLF size) is what LIST shows without reading the file. The
 * file's mtime is the message's arrival (Dovecot's received date). The
 * dovecot-uidlist (version 3) gives each file its mailroom UID and, in its
 * P field, the mailroom UIDL: Dovecot's POP3 serves a stored P value before
 * anything pop3_uidl_format would make, so its default settings serve the
 * same UIDLs (tests/proto/test_export.py checks it against a real one).
 * Files are written into tmp/, put on disk with one syncfs() for all of
 * them, then moved into cur/; the uidlist comes last.
 *
 * mbox: "From SENDER DATE" (the Return-Path's address, else MAILER-DAEMON;
 * the arrival in UTC, asctime form), then the message with LF line ends,
 * every line ">*From " given one more '>' (mboxrd, reversible), then an
 * empty line.
 */
#include "migrate/migrate.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Appends the wire-form body with LF line ends; with mboxrd, lines that
   look like From_ lines quoted. */
static void to_lf(struct buf *out, const char *p, size_t len, bool mboxrd)
{
	size_t pos = 0;

	buf_reserve(out, len + 1);
	while (pos < len) {
		const char *nl = memchr(p + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - p) + 1 : len, q = pos;
		if (mboxrd) {
			while (q < end && p[q] == '>')
				q++;
			if (end - q >= 5 && memcmp(p + q, "From ", 5) == 0)
				buf_append_c(out, '>');
		}
		if (nl != NULL && end - pos >= 2 && p[end - 2] == '\r') {
			buf_append(out, p + pos, end - pos - 2);
			buf_append_c(out, '\n');
		} else {
			buf_append(out, p + pos, end - pos);
		}
		pos = end;
	}
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fail(char *err, size_t err_len, const char *what, const char *path)
{
	snprintf(err, err_len, "%s %s: %s", what, path, strerror(errno));
	return -1;
}

static int store_failed(struct store *st, char *err, size_t err_len)
{
	snprintf(err, err_len, "%s", store_error(st));
	return -1;
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	close(fd);
	return r;
}

/* An empty folder, or one with only empty cur/ new/ tmp/ in it; made
   (mode 0700) if missing. */
static int maildir_prepare(const char *path, char *err, size_t err_len)
{
	static const char *const subs[] = {"cur", "new", "tmp"};
	char sub[4096];

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return fail(err, err_len, "cannot make", path);
	DIR *d = opendir(path);
	if (d == NULL)
		return fail(err, err_len, "cannot read", path);
	struct dirent *de;
	int r = 0;
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		bool ok = false;
		for (size_t i = 0; i < 3; i++)
			ok = ok || strcmp(de->d_name, subs[i]) == 0;
		if (ok) {
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			DIR *sd = opendir(sub);
			struct dirent *se;
			while (ok && sd != NULL && (se = readdir(sd)) != NULL)
				ok = strcmp(se->d_name, ".") == 0 || strcmp(se->d_name, "..") == 0;
			if (sd != NULL)
				closedir(sd);
			ok = ok && sd != NULL;
		}
		if (!ok) {
			snprintf(err, err_len,
				 "%s holds %s already: the export needs a new or empty folder",
				 path, de->d_name);
			r = -1;
		}
	}
	closedir(d);
	for (size_t i = 0; r == 0 && i < 3; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", path, subs[i]);
		if (mkdir(sub, 0700) < 0 && errno != EEXIST)
			r = fail(err, err_len, "cannot make", sub);
	}
	return r;
}

/* A host name as a Maildir file name may hold it (no '/' or ':'). */
static void host_part(char *h, size_t n)
{
	if (gethostname(h, n) < 0 || h[0] == '\0')
		snprintf(h, n, "localhost");
	h[n - 1] = '\0';
	for (char *c = h; *c != '\0'; c++)
		if (*c == '/' || *c == ':' || *c == ',' || *c == ' ')
			*c = '_';
}

static int64_t arrival(const struct store_msg *m, int64_t now)
{
	return m->received > 0 ? m->received : now;
}

int migrate_export_maildir(struct store *st, int64_t mailbox_id, const char *path,
			   struct migrate_stats *stats, char *err, size_t err_len)
{
	struct store_msg *msgs = NULL;
	size_t n = 0, done = 0;
	struct buf body = {0}, lf = {0}, list = {0};
	char host[256], name[512], tmp[4096], cur[4096];
	int64_t now = (int64_t)time(NULL);
	int r = -1, rc;

	memset(stats, 0, sizeof(*stats));
	if (maildir_prepare(path, err, err_len) < 0)
		return -1;
	if ((rc = store_mailbox_load(st, mailbox_id, &msgs, &n)) != STORE_OK)
		return store_failed(st, err, err_len);
	host_part(host, sizeof(host));
	char **names = xcalloc(n + 1, sizeof(*names));
	uint64_t next_uid = 1;
	for (size_t i = 0; i < n; i++) {
		const struct store_msg *m = &msgs[i];
		buf_clear(&body);
		buf_clear(&lf);
		rc = store_message_read(st, mailbox_id, m->id, &body);
		if (rc == STORE_NOTFOUND) {
			/* deleted (POP3 DELE) since the list was read */
			stats->skipped++;
			continue;
		}
		if (rc != STORE_OK) {
			store_failed(st, err, err_len);
			goto out;
		}
		to_lf(&lf, body.data, body.len, false);
		int64_t t = arrival(m, now);
		snprintf(name, sizeof(name), "%" PRId64 ".M%" PRIu64 "P%ld.%s,S=%zu,W=%zu", t,
			 m->uid, (long)getpid(), host, lf.len, body.len);
		names[i] = xstrdup(name);
		snprintf(tmp, sizeof(tmp), "%s/tmp/%s", path, name);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			fail(err, err_len, "cannot write", tmp);
			goto out;
		}
		struct timespec ts[2] = {{.tv_sec = (time_t)t}, {.tv_sec = (time_t)t}};
		if (write_all(fd, lf.data, lf.len) < 0 || futimens(fd, ts) < 0) {
			fail(err, err_len, "cannot write", tmp);
			close(fd);
			goto out;
		}
		if (close(fd) < 0) {
			fail(err, err_len, "cannot write", tmp);
			goto out;
		}
		stats->seen++;
		stats->octets += body.len;
		if (m->uid >= next_uid)
			next_uid = m->uid + 1;
		buf_printf(&list, "%" PRIu64 " P%s W%zu :%s\n", m->uid, m->uidl, body.len, name);
	}
	/* one sync for every file of the export */
	snprintf(tmp, sizeof(tmp), "%s/tmp", path);
	int tfd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (tfd < 0 || syncfs(tfd) < 0) {
		fail(err, err_len, "cannot sync", tmp);
		if (tfd >= 0)
			close(tfd);
		goto out;
	}
	close(tfd);
	for (; done < n; done++) {
		if (names[done] == NULL)
			continue;
		snprintf(tmp, sizeof(tmp), "%s/tmp/%s", path, names[done]);
		snprintf(cur, sizeof(cur), "%s/cur/%s:2,", path, names[done]);
		if (rename(tmp, cur) < 0) {
			fail(err, err_len, "cannot move", tmp);
			goto out;
		}
		stats->added++;
	}
	snprintf(cur, sizeof(cur), "%s/cur", path);
	if (fsync_path(cur) < 0) {
		fail(err, err_len, "cannot sync", cur);
		goto out;
	}
	/* version 3, a UIDVALIDITY, the next UID; then one record a message */
	struct buf head = {0};
	buf_printf(&head, "3 V%" PRId64 " N%" PRIu64 "\n", now, next_uid);
	buf_append(&head, list.data, list.len);
	snprintf(tmp, sizeof(tmp), "%s/dovecot-uidlist.tmp", path);
	snprintf(cur, sizeof(cur), "%s/dovecot-uidlist", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, head.data, head.len) < 0 || fsync(fd) < 0) {
		fail(err, err_len, "cannot write", tmp);
		if (fd >= 0)
			close(fd);
		buf_free(&head);
		goto out;
	}
	buf_free(&head);
	if (close(fd) < 0 || rename(tmp, cur) < 0 || fsync_path(path) < 0) {
		fail(err, err_len, "cannot write", cur);
		goto out;
	}
	r = 0;
out:
	/* what was not moved yet leaves no file behind in tmp/ */
	for (size_t i = done; r < 0 && i < n; i++) {
		if (names[i] == NULL)
			continue;
		snprintf(tmp, sizeof(tmp), "%s/tmp/%s", path, names[i]);
		(void)unlink(tmp);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(msgs);
	buf_free(&body);
	buf_free(&lf);
	buf_free(&list);
	return r;
}

/* The envelope sender of a From_ line: the Return-Path's address, else
   MAILER-DAEMON (as mail spools write a null sender). */
static void from_sender(const char *p, size_t len, char *out, size_t n)
{
	size_t pos = 0;

	snprintf(out, n, "MAILER-DAEMON");
	while (pos < len) {
		const char *nl = memchr(p + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - p) + 1 : len;
		if (end - pos <= 2)
			return; /* the end of the header */
		if (end - pos > 12 && strncasecmp(p + pos, "Return-Path:", 12) == 0) {
			const char *lt = memchr(p + pos, '<', end - pos);
			const char *gt =
			    lt != NULL ? memchr(lt, '>', (size_t)(p + end - lt)) : NULL;
			size_t an = gt != NULL ? (size_t)(gt - lt - 1) : 0;
			bool ok = an > 0 && an < n;
			for (size_t i = 0; ok && i < an; i++)
				ok = lt[1 + i] > 0x20 && lt[1 + i] < 0x7f;
			if (ok) {
				memcpy(out, lt + 1, an);
				out[an] = '\0';
			}
			return;
		}
		pos = end;
	}
}

int migrate_export_mbox(struct store *st, int64_t mailbox_id, const char *path,
			struct migrate_stats *stats, char *err, size_t err_len)
{
	struct store_msg *msgs = NULL;
	size_t n = 0;
	struct buf body = {0}, out = {0};
	struct stat sb;
	int64_t now = (int64_t)time(NULL);
	int r = -1;

	memset(stats, 0, sizeof(*stats));
	/* a new file, or an empty one */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0 && (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size != 0)) {
			close(fd);
			snprintf(err, err_len,
				 "%s exists and is not empty: the export needs a new or empty file",
				 path);
			return -1;
		}
	}
	if (fd < 0)
		return fail(err, err_len, "cannot write", path);
	if (store_mailbox_load(st, mailbox_id, &msgs, &n) != STORE_OK) {
		store_failed(st, err, err_len);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char sender[256], date[32];
		struct tm tm;
		buf_clear(&body);
		int rc = store_message_read(st, mailbox_id, msgs[i].id, &body);
		if (rc == STORE_NOTFOUND) {
			stats->skipped++;
			continue;
		}
		if (rc != STORE_OK) {
			store_failed(st, err, err_len);
			goto out;
		}
		from_sender(body.data, body.len, sender, sizeof(sender));
		time_t t = (time_t)arrival(&msgs[i], now);
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
		buf_printf(&out, "From %s %s\n", sender, date);
		to_lf(&out, body.data, body.len, true);
		buf_append_c(&out, '\n');
		stats->seen++;
		stats->octets += body.len;
		if (out.len >= (1u << 20)) {
			if (write_all(fd, out.data, out.len) < 0) {
				fail(err, err_len, "cannot write", path);
				goto out;
			}
			buf_clear(&out);
		}
		stats->added++;
	}
	if (write_all(fd, out.data, out.len) < 0) {
		fail(err, err_len, "cannot write", path);
		goto out;
	}
	if (fsync(fd) < 0) {
		fail(err, err_len, "cannot sync", path);
		goto out;
	}
	r = 0;
out:
	if (close(fd) < 0 && r == 0)
		r = fail(err, err_len, "cannot write", path);
	free(msgs);
	buf_free(&body);
	buf_free(&out);
	return r;
}
