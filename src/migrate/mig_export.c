/* SPDX-License-Identifier: MIT */
/*
 * mig_export.c - a mailbox out of mailroom (migrate.h), every folder: as a
 * Maildir++ that Dovecot serves with the same folders, flags, UIDs, UIDLs
 * and bytes, or as a directory of mboxrd files.
 *
 * Maildir++ (migrate/maildirpp.h): INBOX is PATH itself, every other
 * folder a directory ".a.b" beside it with a maildirfolder file. Every
 * message is one file in its folder's cur/, named as Dovecot's own
 * delivery names them (time.MuidPpid.host,S=size,W=vsize), with the info
 * ":2," and its flags (DFRST) and keyword letters (a-z, the folder's
 * dovecot-keywords: its first 26 keywords, Dovecot's limit). Files have LF
 * line ends as Dovecot stores mail: its POP3 turns them into CRLF again,
 * and since bodies hold CRLF line ends only (store.h S4), RETR gives back
 * every byte, and W= (the CRLF size) is what LIST shows without reading
 * the file. The file's mtime is the message's arrival (Dovecot's received
 * date). Each folder's dovecot-uidlist (version 3) holds the folder's
 * UIDVALIDITY and next UID, and each file's mailroom UID; INBOX's records
 * carry the mailroom UIDL in the P field: Dovecot's POP3 serves a stored P
 * value before anything pop3_uidl_format would make, so its default
 * settings serve the same UIDLs (tests/proto/test_export.py and
 * test_export_folders.py check it against a real one). Every folder's
 * files are written into its tmp/, put on disk with one syncfs() for the
 * whole export, then moved into cur/; each folder's keywords and uidlist
 * come after its files. The
 * subscriptions file (Dovecot's version 2) lists the subscribed folders.
 *
 * mbox: PATH is a directory with one file a folder (mbox_folder_path:
 * "INBOX", "Sent", "Archive.sbd/2024"). Each message is "From SENDER DATE"
 * (the Return-Path's address, else MAILER-DAEMON; the arrival in UTC,
 * asctime form), then the message with LF line ends and Status, X-Status
 * and X-Keywords added at the end of its header (its flags and keywords),
 * every line ">*From " given one more '>' (mboxrd, reversible), then an
 * empty line.
 *
 * PATH, for both, must be new or empty (a Maildir's empty cur/ new/ tmp/
 * allowed): an export never mixes with what is there.
 */
#include "migrate/maildirpp.h"
#include "migrate/mig_mbox.h"
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

/* Room left in the 4096-octet path buffers below for the file names that
   follow a folder's path. */
#define EXPORT_PATH_MAX 3500

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

/* An empty folder, or (a Maildir) one with only empty cur/ new/ tmp/ in
   it; made (mode 0700) if missing, and for a Maildir its cur/ new/ tmp/. */
static int place_prepare(const char *path, bool maildir, char *err, size_t err_len)
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
		for (size_t i = 0; maildir && i < 3; i++)
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
	for (size_t i = 0; maildir && r == 0 && i < 3; i++) {
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

/* Writes data to dir/name through a temporary file, synced, then renamed
   over it. */
static int write_file(const char *dir, const char *name, const char *data, size_t len, char *err,
		      size_t err_len)
{
	char tmp[4096], dst[4096];

	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		fail(err, err_len, "cannot write", tmp);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, dst) < 0)
		return fail(err, err_len, "cannot write", dst);
	return 0;
}

/* The letters of a message's keywords among the folder's first
   MAILDIRPP_KEYWORDS (kw: the folder's list, split). */
static unsigned keyword_letters(const char *keywords, char *const *kw, size_t n_kw)
{
	unsigned letters = 0;
	for (const char *p = keywords; p != NULL && *p != '\0';) {
		size_t len = strcspn(p, " ");
		for (size_t i = 0; i < n_kw; i++)
			if (strlen(kw[i]) == len && strncasecmp(kw[i], p, len) == 0)
				letters |= 1u << i;
		p += len + (p[len] == ' ');
	}
	return letters;
}

/* One folder of a Maildir export between its two phases: its messages
   written into tmp/ (folder_write), then, after one sync for the whole
   export, moved into cur/ with its keywords and uidlist (folder_commit). */
struct folder_out {
	const struct store_folder *f;
	char *dir;
	struct store_imsg *msgs;
	size_t n, done; /* done: the files moved into cur/ */
	char **names;	/* each message's file name in tmp/, NULL: not written */
	char *kw[MAILDIRPP_KEYWORDS];
	size_t n_kw;
	struct buf list, kwfile; /* the uidlist's records, dovecot-keywords */
	uint64_t next_uid;
};

/* Frees fo; when the export failed, what was not moved yet leaves no file
   behind in tmp/. */
static void folder_out_free(struct folder_out *fo, bool failed)
{
	char tmp[4096];

	for (size_t i = fo->done; failed && fo->names != NULL && i < fo->n; i++) {
		if (fo->names[i] == NULL)
			continue;
		snprintf(tmp, sizeof(tmp), "%s/tmp/%s", fo->dir, fo->names[i]);
		(void)unlink(tmp);
	}
	for (size_t i = 0; fo->names != NULL && i < fo->n; i++)
		free(fo->names[i]);
	for (size_t i = 0; i < fo->n_kw; i++)
		free(fo->kw[i]);
	free(fo->names);
	free(fo->dir);
	store_imsgs_free(fo->msgs, fo->n);
	buf_free(&fo->list);
	buf_free(&fo->kwfile);
	memset(fo, 0, sizeof(*fo));
}

/* The folder's messages into its tmp/ (cur/ new/ tmp/ made, empty), and
   what its keywords file and uidlist will hold. INBOX gives each record
   the message's UIDL (the P field). */
static int folder_write(struct store *st, int64_t mailbox_id, struct folder_out *fo,
			struct migrate_stats *stats, char *err, size_t err_len)
{
	const struct store_folder *f = fo->f;
	struct store_msg *uidls = NULL;
	size_t n_uidls = 0, k_uidl = 0;
	struct buf body = {0}, lf = {0};
	char host[256], name[512], tmp[4096];
	int64_t now = (int64_t)time(NULL);
	int r = -1;

	if (store_folder_load(st, f->id, &fo->msgs, &fo->n) != STORE_OK ||
	    (strcmp(f->name, "INBOX") == 0 &&
	     store_mailbox_load(st, mailbox_id, &uidls, &n_uidls) != STORE_OK))
		return store_failed(st, err, err_len);
	/* the folder's first keywords get the letters a-z (Dovecot's limit) */
	for (const char *p = f->keywords; *p != '\0' && fo->n_kw < MAILDIRPP_KEYWORDS;) {
		size_t len = strcspn(p, " ");
		if (len > 0) {
			fo->kw[fo->n_kw] = xstrndup(p, len);
			buf_printf(&fo->kwfile, "%zu %s\n", fo->n_kw, fo->kw[fo->n_kw]);
			fo->n_kw++;
		}
		p += len + (p[len] == ' ');
	}
	host_part(host, sizeof(host));
	fo->names = xcalloc(fo->n + 1, sizeof(*fo->names));
	fo->next_uid = f->uidnext > 0 ? f->uidnext : 1;
	for (size_t i = 0; i < fo->n; i++) {
		const struct store_imsg *m = &fo->msgs[i];
		buf_clear(&body);
		buf_clear(&lf);
		int rc = store_message_read(st, mailbox_id, m->id, &body);
		if (rc == STORE_NOTFOUND) {
			/* expunged (POP3 DELE, IMAP) since the list was read */
			stats->skipped++;
			continue;
		}
		if (rc != STORE_OK) {
			store_failed(st, err, err_len);
			goto out;
		}
		to_lf(&lf, body.data, body.len, false);
		int64_t t = m->received > 0 ? m->received : now;
		snprintf(name, sizeof(name), "%" PRId64 ".M%" PRIu32 "P%ld.%s,S=%zu,W=%zu", t,
			 m->uid, (long)getpid(), host, lf.len, body.len);
		fo->names[i] = xstrdup(name);
		snprintf(tmp, sizeof(tmp), "%s/tmp/%s", fo->dir, name);
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
		if (m->uid >= fo->next_uid)
			fo->next_uid = (uint64_t)m->uid + 1;
		buf_printf(&fo->list, "%" PRIu32 " ", m->uid);
		/* both lists are in UID order */
		while (k_uidl < n_uidls && uidls[k_uidl].id != m->id && uidls[k_uidl].uid < m->uid)
			k_uidl++;
		if (k_uidl < n_uidls && uidls[k_uidl].id == m->id)
			buf_printf(&fo->list, "P%s ", uidls[k_uidl].uidl);
		buf_printf(&fo->list, "W%zu :%s\n", body.len, name);
	}
	r = 0;
out:
	free(uidls);
	buf_free(&body);
	buf_free(&lf);
	return r;
}

/* The folder's files (synced in tmp/) into cur/ with their info, then its
   dovecot-keywords and dovecot-uidlist. */
static int folder_commit(struct folder_out *fo, struct migrate_stats *stats, char *err,
			 size_t err_len)
{
	struct buf info = {0}, head = {0};
	char tmp[4096], cur[4096];
	int r = -1;

	for (; fo->done < fo->n; fo->done++) {
		const struct store_imsg *m = &fo->msgs[fo->done];
		if (fo->names[fo->done] == NULL)
			continue;
		buf_clear(&info);
		maildirpp_info_format(m->flags, keyword_letters(m->keywords, fo->kw, fo->n_kw),
				      &info);
		snprintf(tmp, sizeof(tmp), "%s/tmp/%s", fo->dir, fo->names[fo->done]);
		snprintf(cur, sizeof(cur), "%s/cur/%s%s", fo->dir, fo->names[fo->done], info.data);
		if (rename(tmp, cur) < 0) {
			fail(err, err_len, "cannot move", tmp);
			goto out;
		}
		stats->added++;
	}
	snprintf(cur, sizeof(cur), "%s/cur", fo->dir);
	if (fsync_path(cur) < 0) {
		fail(err, err_len, "cannot sync", cur);
		goto out;
	}
	/* the keywords before the uidlist: Dovecot reads letters through it */
	if (fo->n_kw > 0 && write_file(fo->dir, "dovecot-keywords", fo->kwfile.data, fo->kwfile.len,
				       err, err_len) < 0)
		goto out;
	/* version 3, the folder's UIDVALIDITY, the next UID; then one record a
	   message */
	buf_printf(&head, "3 V%" PRIu32 " N%" PRIu64 "\n",
		   fo->f->uidvalidity > 0 ? fo->f->uidvalidity : 1, fo->next_uid);
	buf_append(&head, fo->list.data, fo->list.len);
	if (write_file(fo->dir, "dovecot-uidlist", head.data, head.len, err, err_len) < 0)
		goto out;
	if (fsync_path(fo->dir) < 0) {
		fail(err, err_len, "cannot sync", fo->dir);
		goto out;
	}
	r = 0;
out:
	buf_free(&info);
	buf_free(&head);
	return r;
}

/* A subfolder's Maildir: the directory, cur/ new/ tmp/, and the
   maildirfolder file that marks it (Courier's and Dovecot's). */
static int subfolder_make(const char *dir, char *err, size_t err_len)
{
	static const char *const subs[] = {"cur", "new", "tmp"};
	char sub[4096];

	if (mkdir(dir, 0700) < 0)
		return fail(err, err_len, "cannot make", dir);
	for (size_t i = 0; i < N_ELEMENTS(subs); i++) {
		snprintf(sub, sizeof(sub), "%s/%s", dir, subs[i]);
		if (mkdir(sub, 0700) < 0)
			return fail(err, err_len, "cannot make", sub);
	}
	snprintf(sub, sizeof(sub), "%s/maildirfolder", dir);
	int fd = open(sub, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(err, err_len, "cannot make", sub);
	close(fd);
	return 0;
}

int migrate_export_maildir(struct store *st, int64_t mailbox_id, const char *path,
			   struct migrate_stats *stats, char *err, size_t err_len)
{
	struct store_folder *folders = NULL;
	struct folder_out *out = NULL;
	size_t n = 0;
	struct buf dir = {0}, subs = {0};
	int r = 0;

	memset(stats, 0, sizeof(*stats));
	if (place_prepare(path, true, err, err_len) < 0)
		return -1;
	if (store_folder_list(st, mailbox_id, &folders, &n) != STORE_OK)
		return store_failed(st, err, err_len);
	out = xcalloc(n + 1, sizeof(*out));
	buf_append_str(&subs, "V\t2\n\n");
	/* every folder's files into its tmp/ */
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct store_folder *f = &folders[i];
		buf_clear(&dir);
		buf_append_str(&dir, path);
		buf_append_c(&dir, '/');
		size_t base = dir.len;
		if (maildirpp_name_encode(f->name, &dir) < 0) {
			snprintf(err, err_len, "folder '%.200s' is no UTF-8", f->name);
			r = -1;
			break;
		}
		if (dir.len > EXPORT_PATH_MAX) {
			snprintf(err, err_len, "%.200s...: the path of folder '%.200s' is too long",
				 dir.data, f->name);
			r = -1;
			break;
		}
		if (f->subscribed) {
			/* Dovecot's version 2: the levels of the directory's name
			   with '\t' between them (a '.' in a level is escaped) */
			if (dir.len == base)
				buf_append_str(&subs, "INBOX");
			for (size_t k = base + 1; k < dir.len; k++)
				buf_append_c(&subs, dir.data[k] == '.' ? '\t' : dir.data[k]);
			buf_append_c(&subs, '\n');
		}
		if (dir.len > base)
			r = subfolder_make(dir.data, err, err_len);
		else
			dir.data[--dir.len] = '\0'; /* INBOX: the Maildir itself */
		out[i].f = f;
		out[i].dir = xstrdup(dir.data);
		if (r == 0)
			r = folder_write(st, mailbox_id, &out[i], stats, err, err_len);
	}
	/* one sync for every file of the export */
	if (r == 0) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || syncfs(fd) < 0)
			r = fail(err, err_len, "cannot sync", path);
		if (fd >= 0)
			close(fd);
	}
	for (size_t i = 0; i < n && r == 0; i++)
		r = folder_commit(&out[i], stats, err, err_len);
	if (r == 0)
		r = write_file(path, "subscriptions", subs.data, subs.len, err, err_len);
	if (r == 0 && fsync_path(path) < 0)
		r = fail(err, err_len, "cannot sync", path);
	stats->folders = n;
	for (size_t i = 0; i < n; i++)
		folder_out_free(&out[i], r < 0);
	free(out);
	store_folders_free(folders, n);
	buf_free(&dir);
	buf_free(&subs);
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

/* The end of a wire-form message's header: just past the CRLF of its
   last line (before the empty line), or len when it has no body. */
static size_t header_end(const char *p, size_t len)
{
	if (len >= 2 && p[0] == '\r' && p[1] == '\n')
		return 0;
	for (size_t i = 0; i + 3 < len; i++)
		if (memcmp(p + i, "\r\n\r\n", 4) == 0)
			return i + 2;
	return len;
}

/* Status, X-Status and X-Keywords as mutt and Dovecot write them. */
static void flag_headers(const struct store_imsg *m, struct buf *out)
{
	buf_append_str(out, (m->flags & STORE_FLAG_SEEN) ? "Status: RO\n" : "Status: O\n");
	if (m->flags &
	    (STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED | STORE_FLAG_DRAFT | STORE_FLAG_DELETED))
		buf_printf(out, "X-Status: %s%s%s%s\n", (m->flags & STORE_FLAG_ANSWERED) ? "A" : "",
			   (m->flags & STORE_FLAG_FLAGGED) ? "F" : "",
			   (m->flags & STORE_FLAG_DRAFT) ? "T" : "",
			   (m->flags & STORE_FLAG_DELETED) ? "D" : "");
	if (m->keywords != NULL)
		buf_printf(out, "X-Keywords: %s\n", m->keywords);
}

/* One folder's mbox file at path (new): its messages with their flags. */
static int export_mbox_folder(struct store *st, int64_t mailbox_id, int64_t folder_id,
			      const char *path, struct migrate_stats *stats, char *err,
			      size_t err_len)
{
	struct store_imsg *msgs = NULL;
	size_t n = 0;
	struct buf body = {0}, out = {0};
	int64_t now = (int64_t)time(NULL);
	int r = -1;

	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(err, err_len, "cannot write", path);
	if (store_folder_load(st, folder_id, &msgs, &n) != STORE_OK) {
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
		time_t t = (time_t)(msgs[i].received > 0 ? msgs[i].received : now);
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
		buf_printf(&out, "From %s %s\n", sender, date);
		size_t he = header_end(body.data, body.len);
		to_lf(&out, body.data, he, true);
		flag_headers(&msgs[i], &out);
		to_lf(&out, body.data + he, body.len - he, true);
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
	store_imsgs_free(msgs, n);
	buf_free(&body);
	buf_free(&out);
	return r;
}

/* Makes the directories of rel's path under root (0700, those there
   kept); each one made is synced into its parent at the end. */
static int mbox_dirs(const char *root, const char *rel, char *err, size_t err_len)
{
	char dir[4096];
	for (const char *p = rel; (p = strchr(p, '/')) != NULL; p++) {
		snprintf(dir, sizeof(dir), "%s/%.*s", root, (int)(p - rel), rel);
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return fail(err, err_len, "cannot make", dir);
	}
	return 0;
}

static int sync_dirs(const char *root, const char *rel, char *err, size_t err_len)
{
	char dir[4096];
	for (const char *p = rel; (p = strchr(p, '/')) != NULL; p++) {
		snprintf(dir, sizeof(dir), "%s/%.*s", root, (int)(p - rel), rel);
		if (fsync_path(dir) < 0)
			return fail(err, err_len, "cannot sync", dir);
	}
	return 0;
}

int migrate_export_mbox(struct store *st, int64_t mailbox_id, const char *path,
			struct migrate_stats *stats, char *err, size_t err_len)
{
	struct store_folder *folders = NULL;
	size_t n = 0;
	struct buf rel = {0};
	char file[4096];
	int r = 0;

	memset(stats, 0, sizeof(*stats));
	if (place_prepare(path, false, err, err_len) < 0)
		return -1;
	if (store_folder_list(st, mailbox_id, &folders, &n) != STORE_OK)
		return store_failed(st, err, err_len);
	for (size_t i = 0; i < n && r == 0; i++) {
		buf_clear(&rel);
		mbox_folder_path(folders[i].name, &rel);
		if (strlen(path) + rel.len > EXPORT_PATH_MAX) {
			snprintf(err, err_len, "%.200s...: the path of folder '%.200s' is too long",
				 path, folders[i].name);
			r = -1;
			break;
		}
		snprintf(file, sizeof(file), "%s/%s", path, rel.data);
		r = mbox_dirs(path, rel.data, err, err_len);
		if (r == 0)
			r = export_mbox_folder(st, mailbox_id, folders[i].id, file, stats, err,
					       err_len);
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		buf_clear(&rel);
		mbox_folder_path(folders[i].name, &rel);
		r = sync_dirs(path, rel.data, err, err_len);
	}
	if (r == 0 && fsync_path(path) < 0)
		r = fail(err, err_len, "cannot sync", path);
	stats->folders = n;
	store_folders_free(folders, n);
	buf_free(&rel);
	return r;
}
