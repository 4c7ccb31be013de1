/* SPDX-License-Identifier: MIT */
/*
 * mig_maildir.c - the `maildir` import source (migrate.h): a Maildir++,
 * INBOX and every ".name" folder beside it (migrate/maildirpp.h), the
 * messages of each folder's cur/ and new/ (tmp/ holds deliveries not
 * finished), each with its flags and keywords (the info and the folder's
 * dovecot-keywords), its Dovecot UID, and the UIDL the old POP3 server
 * served for it. Everything is read and checked at open, before anything
 * is imported; a damaged list or a directory that is no folder name fails
 * the open with the file's name.
 *
 * UIDLs, in this order of precedence:
 *  1. Courier's courierpop3dsizelist, for the files it lists: "UID<n>-<v>"
 *     (or the file name for its oldest entries), as Courier's pop3d did;
 *  2. Dovecot's dovecot-uidlist: the record's P field where one is stored
 *     (pop3_save_uidl, or a migration), else pop3_uidl_format applied to
 *     the record's uid, the list's uidvalidity, the file name and GUID;
 *  3. a Dovecot Maildir's files without a record get what Dovecot would
 *     give them at its next sync: the uids from the list's next uid on, in
 *     file-name order (the delivery time first), with the same format;
 *  4. anything else: no UIDL, so the store makes a fresh one.
 * Within a folder, messages come in the order Dovecot numbers them:
 * records by uid, then the other files by name (the time stamp at its head
 * first). Across folders: when no two folders hold the same UID (a
 * mailroom export: its UIDs are its mailbox's, store.h S8), in UID order,
 * so that store_import can keep every UID; else (Dovecot numbers each
 * folder from 1) INBOX first, which keeps its UIDs, then the others in UID
 * order. A file's arrival time is that time stamp, else its mtime.
 */
#include "migrate/dovecot_uidlist.h"
#include "migrate/maildirpp.h"
#include "migrate/migrate.h"
#include "store/store.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_UIDL_FORMAT "%08Xu%08Xv"
#define MAILDIR_MSG_MAX (1024u * 1024 * 1024)

struct mfile {
	char *path;  /* "cur/NAME" relative to the Maildir */
	char *base;  /* NAME up to ':' */
	int64_t uid; /* Dovecot's, 0: none */
	char uidl[71];
	unsigned flags, letters; /* from the info ":2,..." */
};

/* One folder of the Maildir++: INBOX (the Maildir itself) or a ".name"
   directory. */
struct mfolder {
	char *dir;  /* its path */
	char *name; /* the store's name, "" for INBOX */
	bool subscribed;
	struct mfile *files;
	size_t n, next; /* next: the file read next */
	struct maildirpp_keywords kw;
};

struct migrate_source {
	struct mfolder *folders;
	size_t n_folders;
	bool inbox_first; /* the folders' UIDs overlap: INBOX's are kept */
	struct buf raw;
};

/* The leading decimal time stamp of a Maildir name, 0 if none. */
static int64_t name_time(const char *base)
{
	int64_t t = 0;
	for (const char *p = base; *p >= '0' && *p <= '9' && t < (int64_t)1 << 40; p++)
		t = t * 10 + (*p - '0');
	return t;
}

static int cmp_name(const void *a, const void *b)
{
	const struct mfile *x = a, *y = b;
	int64_t tx = name_time(x->base), ty = name_time(y->base);
	if (tx != ty)
		return tx < ty ? -1 : 1;
	return strcmp(x->base, y->base);
}

static int cmp_order(const void *a, const void *b)
{
	const struct mfile *x = a, *y = b;
	if ((x->uid != 0) != (y->uid != 0))
		return x->uid != 0 ? -1 : 1;
	if (x->uid != 0)
		return x->uid < y->uid ? -1 : x->uid > y->uid;
	return cmp_name(a, b);
}

static int cmp_base(const void *a, const void *b)
{
	return strcmp(((const struct mfile *)a)->base, ((const struct mfile *)b)->base);
}

static struct mfile *find(struct mfolder *s, const char *base)
{
	struct mfile key = {.base = (char *)base};
	return bsearch(&key, s->files, s->n, sizeof(*s->files), cmp_base);
}

static int scan(struct mfolder *s, const char *sub, size_t *cap, char *err, size_t err_len)
{
	char *path = xasprintf("%s/%s", s->dir, sub);
	DIR *d = opendir(path);
	struct dirent *de;

	if (d == NULL) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (s->n == *cap) {
			*cap = *cap ? *cap * 2 : 256;
			s->files = xrealloc(s->files, *cap * sizeof(*s->files));
		}
		struct mfile *f = &s->files[s->n++];
		memset(f, 0, sizeof(*f));
		f->path = xasprintf("%s/%s", sub, de->d_name);
		char *colon = strchr(de->d_name, ':');
		f->base = xstrndup(de->d_name, colon != NULL ? (size_t)(colon - de->d_name)
							     : strlen(de->d_name));
		maildirpp_info_parse(de->d_name, &f->flags, &f->letters);
	}
	closedir(d);
	return 0;
}

/* Reads DIR/name whole into b; 0, 1 if it does not exist, -1 with err. */
static int slurp(const char *dir, const char *name, struct buf *b, char *err, size_t err_len)
{
	char *path = xasprintf("%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	int ret = 0;

	buf_clear(b);
	if (fd < 0) {
		ret = errno == ENOENT ? 1 : -1;
		if (ret < 0)
			snprintf(err, err_len, "%s: %s", path, strerror(errno));
		free(path);
		return ret;
	}
	if (fstat(fd, &sb) == 0 && (uint64_t)sb.st_size > MAILDIR_MSG_MAX) {
		snprintf(err, err_len, "%s: larger than 1 GiB", path);
		ret = -1;
	}
	while (ret == 0) {
		buf_reserve(b, sb.st_size > 0 ? (size_t)sb.st_size + 1 : 65536);
		ssize_t r = read(fd, b->data + b->len, b->cap - b->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, err_len, "%s: %s", path, strerror(errno));
			ret = -1;
		}
		if (r <= 0)
			break;
		b->len += (size_t)r;
		if (b->len > MAILDIR_MSG_MAX) {
			snprintf(err, err_len, "%s: larger than 1 GiB", path);
			ret = -1;
		}
	}
	close(fd);
	free(path);
	return ret;
}

static int apply_dovecot(struct mfolder *s, const char *fmt, char *err, size_t err_len)
{
	struct dc_uidlist l;
	struct buf b = {0};
	char why[512];
	int r = slurp(s->dir, "dovecot-uidlist", &b, err, err_len);

	if (r != 0) {
		buf_free(&b);
		return r < 0 ? -1 : 0;
	}
	if (dc_uidlist_parse(b.data, b.len, &l, why, sizeof(why)) < 0) {
		snprintf(err, err_len, "%s/dovecot-uidlist: %s", s->dir, why);
		buf_free(&b);
		return -1;
	}
	buf_free(&b);
	uint32_t next = l.next_uid;
	int ret = 0;
	for (size_t i = 0; i < l.n && ret == 0; i++) {
		const struct dc_uidrec *rec = &l.recs[i];
		struct mfile *f = find(s, rec->name);
		if (f == NULL)
			continue; /* expunged since the list was written */
		f->uid = rec->uid;
		if (next <= rec->uid)
			next = rec->uid + 1;
		if (f->uidl[0] != '\0')
			continue; /* Courier's wins */
		if (rec->pop3_uidl != NULL && rec->pop3_uidl[0] != '\0') {
			snprintf(f->uidl, sizeof(f->uidl), "%s", rec->pop3_uidl);
			if (strlen(rec->pop3_uidl) > 70) {
				snprintf(err, err_len,
					 "%s/dovecot-uidlist: line %u: the P field is longer than "
					 "70 characters",
					 s->dir, rec->line);
				ret = -1;
			}
			continue;
		}
		if (dc_uidl_format(fmt, rec->uid, l.uidvalidity, rec->name,
				   rec->guid != NULL ? rec->guid : rec->name, f->uidl,
				   sizeof(f->uidl), why, sizeof(why)) < 0) {
			snprintf(err, err_len, "%s: %s", f->path, why);
			ret = -1;
		}
	}
	/* the files Dovecot has not numbered yet: what its next sync gives */
	struct mfile **rest = xcalloc(s->n + 1, sizeof(*rest));
	size_t n_rest = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->files[i].uid == 0)
			rest[n_rest++] = &s->files[i];
	for (size_t i = 1; i < n_rest; i++)
		for (size_t k = i; k > 0 && cmp_name(rest[k - 1], rest[k]) > 0; k--) {
			struct mfile *t = rest[k];
			rest[k] = rest[k - 1];
			rest[k - 1] = t;
		}
	for (size_t i = 0; i < n_rest && ret == 0; i++) {
		struct mfile *f = rest[i];
		f->uid = next++;
		if (f->uidl[0] == '\0' &&
		    dc_uidl_format(fmt, (uint32_t)f->uid, l.uidvalidity, f->base, f->base, f->uidl,
				   sizeof(f->uidl), why, sizeof(why)) < 0) {
			snprintf(err, err_len, "%s: %s", f->path, why);
			ret = -1;
		}
	}
	free(rest);
	dc_uidlist_free(&l);
	return ret;
}

static int apply_courier(struct mfolder *s, char *err, size_t err_len)
{
	struct courier_list l;
	struct buf b = {0};
	char why[512];
	int r = slurp(s->dir, "courierpop3dsizelist", &b, err, err_len);

	if (r != 0) {
		buf_free(&b);
		return r < 0 ? -1 : 0;
	}
	r = courier_list_parse(b.data, b.len, &l, why, sizeof(why));
	buf_free(&b);
	if (r < 0) {
		snprintf(err, err_len, "%s/courierpop3dsizelist: %s", s->dir, why);
		return -1;
	}
	for (size_t i = 0; i < l.n; i++) {
		struct mfile *f = find(s, l.recs[i].name);
		if (f != NULL)
			snprintf(f->uidl, sizeof(f->uidl), "%s", l.recs[i].uidl);
	}
	courier_list_free(&l);
	return 0;
}

static void folder_free(struct mfolder *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->files[i].path);
		free(s->files[i].base);
	}
	free(s->files);
	free(s->dir);
	free(s->name);
	maildirpp_keywords_free(&s->kw);
}

static void maildir_close(struct migrate_source **sp)
{
	struct migrate_source *s = *sp;
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_folders; i++)
		folder_free(&s->folders[i]);
	free(s->folders);
	buf_free(&s->raw);
	free(s);
	*sp = NULL;
}

static int apply_keywords(struct mfolder *s, char *err, size_t err_len)
{
	struct buf b = {0};
	char why[256];
	int r = slurp(s->dir, "dovecot-keywords", &b, err, err_len);

	if (r == 0 && maildirpp_keywords_parse(b.data != NULL ? b.data : "", b.len, &s->kw, why,
					       sizeof(why)) < 0) {
		snprintf(err, err_len, "%s/dovecot-keywords: %s", s->dir, why);
		r = -1;
	}
	buf_free(&b);
	return r < 0 ? -1 : 0;
}

/* One folder's files, UIDLs, UIDs and keywords. */
static int folder_open(struct mfolder *s, const char *fmt, char *err, size_t err_len)
{
	size_t cap = 0;

	if (scan(s, "cur", &cap, err, err_len) < 0 || scan(s, "new", &cap, err, err_len) < 0)
		return -1;
	if (s->n > 1) /* none: no array at all */
		qsort(s->files, s->n, sizeof(*s->files), cmp_base);
	for (size_t i = 1; i < s->n; i++)
		if (strcmp(s->files[i - 1].base, s->files[i].base) == 0) {
			snprintf(err, err_len, "%s/%s and %s: one message under two names", s->dir,
				 s->files[i - 1].path, s->files[i].path);
			return -1;
		}
	if (apply_courier(s, err, err_len) < 0 || apply_dovecot(s, fmt, err, err_len) < 0 ||
	    apply_keywords(s, err, err_len) < 0)
		return -1;
	if (s->n > 1)
		qsort(s->files, s->n, sizeof(*s->files), cmp_order);
	return 0;
}

static struct mfolder *folder_add(struct migrate_source *s, char *dir, char *name)
{
	s->folders = xrealloc(s->folders, (s->n_folders + 1) * sizeof(*s->folders));
	struct mfolder *f = &s->folders[s->n_folders++];
	memset(f, 0, sizeof(*f));
	f->dir = dir;
	f->name = name;
	return f;
}

static int cmp_folder(const void *a, const void *b)
{
	return strcmp(((const struct mfolder *)a)->name, ((const struct mfolder *)b)->name);
}

/* The ".name" directories of a Maildir++ that hold a cur/: its folders. */
static int folders_scan(struct migrate_source *s, const char *root, char *err, size_t err_len)
{
	DIR *d = opendir(root);
	struct dirent *de;
	struct buf name = {0};
	char why[128];
	int r = 0;

	if (d == NULL) {
		snprintf(err, err_len, "%s: %s", root, strerror(errno));
		return -1;
	}
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		char *dir = xasprintf("%s/%s", root, de->d_name), *cur = xasprintf("%s/cur", dir);
		struct stat sb;
		bool is_folder = stat(cur, &sb) == 0 && S_ISDIR(sb.st_mode);
		free(cur);
		buf_clear(&name);
		if (is_folder && maildirpp_name_decode(de->d_name, strlen(de->d_name), &name, why,
						       sizeof(why)) < 0) {
			snprintf(err, err_len, "%s: %s", dir, why);
			r = -1;
		}
		if (r == 0 && is_folder && strcmp(name.data, "INBOX") == 0) {
			/* a second INBOX: the Maildir itself is the one */
			snprintf(err, err_len,
				 "%s: a second INBOX beside %s/cur (move its mail there)", dir,
				 root);
			r = -1;
		}
		if (!is_folder || r < 0)
			free(dir);
		else
			folder_add(s, dir, xstrdup(name.data));
	}
	closedir(d);
	buf_free(&name);
	return r;
}

static void on_subscribed(const char *name, void *ctx)
{
	struct migrate_source *s = ctx;
	for (size_t i = 0; i < s->n_folders; i++)
		if (strcmp(s->folders[i].name, name) == 0 ||
		    (s->folders[i].name[0] == '\0' && strcmp(name, "INBOX") == 0))
			s->folders[i].subscribed = true;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Whether two folders hold the same UID (Dovecot's UIDs are a folder's
   own; mailroom's are its mailbox's, S8). */
static bool uids_overlap(const struct migrate_source *s)
{
	size_t n = 0, k = 0;
	for (size_t i = 0; i < s->n_folders; i++)
		n += s->folders[i].n;
	int64_t *all = xcalloc(n + 1, sizeof(*all));
	for (size_t i = 0; i < s->n_folders; i++)
		for (size_t j = 0; j < s->folders[i].n; j++)
			if (s->folders[i].files[j].uid != 0)
				all[k++] = s->folders[i].files[j].uid;
	qsort(all, k, sizeof(*all), cmp_i64);
	bool overlap = false;
	for (size_t i = 1; i < k && !overlap; i++)
		overlap = all[i] == all[i - 1];
	free(all);
	return overlap;
}

static int maildir_open(const char *where, const struct migrate_options *o,
			struct migrate_source **s_r, char *err, size_t err_len)
{
	struct migrate_source *s = xcalloc(1, sizeof(*s));
	const char *fmt =
	    o != NULL && o->uidl_format != NULL ? o->uidl_format : DEFAULT_UIDL_FORMAT;
	char probe[128];
	struct buf b = {0};

	*s_r = NULL;
	if (dc_uidl_format(fmt, 1, 1, "name", "guid", probe, sizeof(probe), err, err_len) < 0)
		goto fail;
	folder_add(s, xstrdup(where), xstrdup(""));
	if (folder_open(&s->folders[0], fmt, err, err_len) < 0 ||
	    folders_scan(s, where, err, err_len) < 0)
		goto fail;
	/* INBOX first, then the others by name (parents before children) */
	if (s->n_folders > 2)
		qsort(s->folders + 1, s->n_folders - 1, sizeof(*s->folders), cmp_folder);
	for (size_t i = 1; i < s->n_folders; i++)
		if (folder_open(&s->folders[i], fmt, err, err_len) < 0)
			goto fail;
	int r = slurp(where, "subscriptions", &b, err, err_len);
	if (r < 0)
		goto fail;
	if (r == 0)
		maildirpp_subscriptions_parse(b.data != NULL ? b.data : "", b.len, on_subscribed,
					      s);
	for (size_t i = 0; r > 0 && i < s->n_folders; i++)
		s->folders[i].subscribed = true; /* no list: every folder */
	s->inbox_first = uids_overlap(s);
	buf_free(&b);
	*s_r = s;
	return 0;
fail:
	buf_free(&b);
	maildir_close(&s);
	return -1;
}

/* The message's keywords: the names of its letters in the folder's
   dovecot-keywords (letters without one are dropped, as Dovecot does). */
static void keywords_of(const struct mfolder *f, unsigned letters, struct buf *out)
{
	buf_clear(out);
	for (unsigned i = 0; i < MAILDIRPP_KEYWORDS; i++) {
		if (!(letters & (1u << i)) || f->kw.name[i] == NULL)
			continue;
		if (out->len > 0)
			buf_append_c(out, ' ');
		buf_append_str(out, f->kw.name[i]);
	}
}

/* The folder whose next file comes next: in UID order across folders
   (files without a UID after those of their folder), INBOX wholly first
   when inbox_first; NULL when every file was read. */
static struct mfolder *next_folder(struct migrate_source *s)
{
	struct mfolder *best = NULL;
	struct mfolder *inbox = &s->folders[0];

	if (s->inbox_first && inbox->next < inbox->n)
		return inbox;
	for (size_t i = 0; i < s->n_folders; i++) {
		struct mfolder *f = &s->folders[i];
		if (f->next >= f->n)
			continue;
		int64_t uid = f->files[f->next].uid;
		if (best == NULL) {
			best = f;
			continue;
		}
		int64_t b = best->files[best->next].uid;
		if (uid != 0 && (b == 0 || uid < b))
			best = f;
	}
	return best;
}

static int maildir_next(struct migrate_source *s, struct migrate_msg *m, char *err, size_t err_len)
{
	struct mfolder *fo;

	while ((fo = next_folder(s)) != NULL) {
		struct mfile *f = &fo->files[fo->next++];
		int r = slurp(fo->dir, f->path, &s->raw, err, err_len);
		if (r > 0)
			continue; /* gone since the scan (a POP3 client deleted it) */
		if (r < 0)
			return -1;
		buf_clear(&m->body);
		store_to_wire(&m->body, s->raw.data != NULL ? s->raw.data : "", s->raw.len);
		snprintf(m->uidl, sizeof(m->uidl), "%s", f->uidl);
		buf_clear(&m->folder);
		buf_append_str(&m->folder, fo->name);
		keywords_of(fo, f->letters, &m->keywords);
		m->flags = f->flags;
		m->uid = f->uid > 0 && f->uid <= UINT32_MAX ? (uint32_t)f->uid : 0;
		m->received = name_time(f->base);
		if (m->received == 0) {
			char *path = xasprintf("%s/%s", fo->dir, f->path);
			struct stat sb;
			if (stat(path, &sb) == 0)
				m->received = (int64_t)sb.st_mtime;
			free(path);
		}
		return 1;
	}
	return 0;
}

static const char *maildir_folder(struct migrate_source *s, size_t i, bool *subscribed_r)
{
	if (i >= s->n_folders)
		return NULL;
	*subscribed_r = s->folders[i].subscribed;
	return s->folders[i].name;
}

static long long maildir_count(struct migrate_source *s)
{
	long long n = 0;
	for (size_t i = 0; i < s->n_folders; i++)
		n += (long long)s->folders[i].n;
	return n;
}

const struct migrate_source_ops migrate_maildir_ops = {
    .name = "maildir",
    .open = maildir_open,
    .next = maildir_next,
    .count = maildir_count,
    .close = maildir_close,
    .folder = maildir_folder,
};
