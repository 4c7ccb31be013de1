/* SPDX-License-Identifier: MIT */
/*
 * mig_winpop3.c - the `winpop3` import source (migrate.h): one mailbox of
 * the Windows Server POP3 service's store, a folder
 * MAILROOT\mailbox\DOMAIN\P3_NAME.mbx holding one file per message
 * (P3_xxxxx.eml, the message as SMTP received it).
 *
 * PATH is that mailbox folder, as `import winpop3 PATH ADDRESS` names one
 * mailbox: a domain folder (which holds *.mbx folders) or the mail root is
 * refused with a hint, so one import can never mix several users' mail.
 *
 * UIDLs: the service keeps no list of them; its store is the folder and
 * nothing else, so what it served can only derive from the file. Microsoft
 * documents no UIDL format for it; the UIDL here is the file name without
 * ".eml", the one stable, unique per-message name the store has. Where a
 * client shows that the service served something else, --uidl-format
 * takes Dovecot's syntax with %f the name without ".eml" (e.g. "%f.eml").
 * Messages come oldest first (mtime, then name); the arrival time is the
 * file's mtime.
 */
#include "migrate/dovecot_uidlist.h"
#include "migrate/migrate.h"
#include "store/store.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define WINPOP3_MSG_MAX (1024u * 1024 * 1024)

struct wfile {
	char *name; /* P3_xxxxx.eml */
	int64_t mtime;
	char uidl[71];
};

struct migrate_source {
	char *dir;
	struct wfile *files;
	size_t n, next;
	struct buf raw;
};

static bool has_ext(const char *name, const char *ext)
{
	size_t n = strlen(name), e = strlen(ext);
	return n > e && strcasecmp(name + n - e, ext) == 0;
}

static int cmp_file(const void *a, const void *b)
{
	const struct wfile *x = a, *y = b;
	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void winpop3_close(struct migrate_source **sp)
{
	struct migrate_source *s = *sp;
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->files[i].name);
	free(s->files);
	free(s->dir);
	buf_free(&s->raw);
	free(s);
	*sp = NULL;
}

static int winpop3_open(const char *where, const struct migrate_options *o,
			struct migrate_source **s_r, char *err, size_t err_len)
{
	struct migrate_source *s = xcalloc(1, sizeof(*s));
	const char *fmt = o != NULL && o->uidl_format != NULL ? o->uidl_format : "%f";
	size_t cap = 0, folders = 0;
	struct dirent *de;
	char why[512];

	*s_r = NULL;
	s->dir = xstrdup(where);
	DIR *d = opendir(where);
	if (d == NULL) {
		snprintf(err, err_len, "%s: %s", where, strerror(errno));
		goto fail;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (has_ext(de->d_name, ".mbx"))
			folders++;
		if (!has_ext(de->d_name, ".eml"))
			continue; /* the service's lock file and others */
		char *path = xasprintf("%s/%s", where, de->d_name);
		struct stat sb;
		int r = stat(path, &sb);
		free(path);
		if (r < 0 || !S_ISREG(sb.st_mode))
			continue;
		if (s->n == cap) {
			cap = cap ? cap * 2 : 256;
			s->files = xrealloc(s->files, cap * sizeof(*s->files));
		}
		struct wfile *f = &s->files[s->n++];
		memset(f, 0, sizeof(*f));
		f->name = xstrdup(de->d_name);
		f->mtime = (int64_t)sb.st_mtime;
		char *stem = xstrndup(f->name, strlen(f->name) - 4);
		r = dc_uidl_format(fmt, (uint32_t)s->n, 0, stem, stem, f->uidl, sizeof(f->uidl),
				   why, sizeof(why));
		free(stem);
		if (r < 0) {
			snprintf(err, err_len, "%s/%s: %s", where, f->name, why);
			closedir(d);
			goto fail;
		}
	}
	closedir(d);
	if (s->n == 0 && folders > 0) {
		snprintf(err, err_len,
			 "%s holds %zu mailbox folders (*.mbx), no messages: give one mailbox "
			 "folder, e.g. %s/P3_name.mbx",
			 where, folders, where);
		goto fail;
	}
	if (s->n > 1) /* none: no array at all */
		qsort(s->files, s->n, sizeof(*s->files), cmp_file);
	*s_r = s;
	return 0;
fail:
	winpop3_close(&s);
	return -1;
}

static int winpop3_next(struct migrate_source *s, struct migrate_msg *m, char *err, size_t err_len)
{
	while (s->next < s->n) {
		struct wfile *f = &s->files[s->next++];
		char *path = xasprintf("%s/%s", s->dir, f->name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT) {
			free(path);
			continue; /* collected by a client meanwhile */
		}
		if (fd < 0) {
			snprintf(err, err_len, "%s: %s", path, strerror(errno));
			free(path);
			return -1;
		}
		buf_clear(&s->raw);
		int ret = 1;
		for (;;) {
			buf_reserve(&s->raw, 65536);
			ssize_t r = read(fd, s->raw.data + s->raw.len, s->raw.cap - s->raw.len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				snprintf(err, err_len, "%s: %s", path, strerror(errno));
			if (r < 0 || s->raw.len + (size_t)(r > 0 ? r : 0) > WINPOP3_MSG_MAX) {
				if (r >= 0)
					snprintf(err, err_len, "%s: larger than 1 GiB", path);
				ret = -1;
				break;
			}
			if (r == 0)
				break;
			s->raw.len += (size_t)r;
		}
		close(fd);
		free(path);
		if (ret < 0)
			return -1;
		buf_clear(&m->body);
		store_to_wire(&m->body, s->raw.data != NULL ? s->raw.data : "", s->raw.len);
		snprintf(m->uidl, sizeof(m->uidl), "%s", f->uidl);
		m->received = f->mtime;
		return 1;
	}
	return 0;
}

static long long winpop3_count(struct migrate_source *s)
{
	return (long long)s->n;
}

const struct migrate_source_ops migrate_winpop3_ops = {
    .name = "winpop3",
    .open = winpop3_open,
    .next = winpop3_next,
    .count = winpop3_count,
    .close = winpop3_close,
};
