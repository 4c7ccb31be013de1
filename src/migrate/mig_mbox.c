/* SPDX-License-Identifier: MIT */
/*
 * mig_mbox.c - the `mbox` source of migrate.h: one file of messages, each
 * after a From_ line ("From sender date"), as Unix mail spools, mutt,
 * Thunderbird and POP3 clients such as fetchmail write them.
 *
 * Where a message ends:
 *  - with a Content-Length header whose count is consistent (the body it
 *    gives ends at the end of the file or just before a From_ line, one
 *    empty separator line allowed), exactly there, and the body is taken as
 *    it is (mboxcl2: such writers do not quote);
 *  - else before the next From_ line that follows an empty line; that empty
 *    line is the separator writers add and is not part of the message. A
 *    separating From_ line must carry a date (mbox_from_date): a body line
 *    "From here on..." after an empty line that an mboxo writer failed to
 *    quote stays in its message.
 * Quoting: the source reads mboxrd (">From ", ">>From ", ... each lose one
 * '>'). An mboxo file reads the same except for body lines that began with
 * ">>From " or more: those come out one '>' shorter. mboxo itself cannot
 * be undone exactly: its writer turned "From " into ">From " and left
 * ">From " as it was, so after it both are the same bytes; either reading
 * gives back "From " for them.
 * The UIDL is the message's X-UIDL header where it has a valid one (POP3
 * clients and servers that keep mail in mbox files record it there), else
 * "" (a fresh one). The header stays in the message: the bytes are the
 * ones the old server served.
 *
 * The file is mapped, not read: only the message at hand is copied (into
 * wire form, store.h S4), and the pages behind it are dropped as the
 * source goes on, so a file of any size costs memory of one message.
 * The file must not shrink while it is read (a mapped page past the new
 * end faults): an import reads a copy, or a spool no one delivers to.
 */
#include "migrate/mig_mbox.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/mem.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The end of the line at pos: just past its LF, or len. */
static size_t line_end(const char *p, size_t len, size_t pos)
{
	const char *nl = memchr(p + pos, '\n', len - pos);
	return nl != NULL ? (size_t)(nl - p) + 1 : len;
}

/* In the header, where lines are told apart by their names, a line also
   ends at a bare CR: the stored message (store_to_wire) breaks the line
   there, so the header read here is the header of what is stored, and a
   message written out and read again splits the same way. */
static size_t hline_end(const char *p, size_t len, size_t pos)
{
	for (size_t i = pos; i < len; i++) {
		if (p[i] == '\n')
			return i + 1;
		if (p[i] == '\r' && (i + 1 == len || p[i + 1] != '\n'))
			return i + 1;
	}
	return len;
}

/* An empty line: LF or CRLF alone. */
static bool line_empty(const char *p, size_t pos, size_t end)
{
	size_t n = end - pos;
	return (n == 1 && p[pos] == '\n') || (n == 2 && p[pos] == '\r' && p[pos + 1] == '\n');
}

static bool starts_from(const char *p, size_t len, size_t pos)
{
	return len - pos >= 5 && memcmp(p + pos, "From ", 5) == 0;
}

/* The next space-separated token of [*i, n). */
static bool token(const char *s, size_t n, size_t *i, const char **t, size_t *tn)
{
	while (*i < n && (s[*i] == ' ' || s[*i] == '\t'))
		(*i)++;
	size_t b = *i;
	while (*i < n && s[*i] != ' ' && s[*i] != '\t' && s[*i] != '\r' && s[*i] != '\n')
		(*i)++;
	*t = s + b;
	*tn = *i - b;
	return *tn > 0;
}

static bool digits(const char *t, size_t n, size_t min, size_t max, int *v)
{
	if (n < min || n > max)
		return false;
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)t[i]))
			return false;
		*v = *v * 10 + (t[i] - '0');
	}
	return true;
}

static int month_of(const char *t, size_t n)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	if (n != 3)
		return -1;
	for (int i = 0; i < 12; i++)
		if (strncasecmp(t, months + 3 * i, 3) == 0)
			return i;
	return -1;
}

int64_t mbox_from_date(const char *line, size_t len)
{
	/* only the first bytes: a From_ line is short, a body line need not be */
	size_t n = len < 256 ? len : 256, i = 0;
	const char *t;
	size_t tn;

	if (n < 5 || memcmp(line, "From ", 5) != 0)
		return -1;
	i = 5;
	/* the sender first, then the first month name followed by a day and a
	   time (the weekday before it is not needed) */
	if (!token(line, n, &i, &t, &tn))
		return -1;
	while (token(line, n, &i, &t, &tn)) {
		int mon = month_of(t, tn), day, hh, mm, ss = 0, year = -1, v;
		if (mon < 0)
			continue;
		size_t j = i;
		if (!token(line, n, &j, &t, &tn) || !digits(t, tn, 1, 2, &day) || day < 1 ||
		    day > 31)
			continue;
		if (!token(line, n, &j, &t, &tn) || tn < 4 || tn > 8)
			continue;
		/* hh:mm or h:mm, each within the token */
		if (!(tn >= 5 && digits(t, 2, 1, 2, &hh) && t[2] == ':' &&
		      digits(t + 3, 2, 2, 2, &mm)) &&
		    !(t[1] == ':' && digits(t, 1, 1, 1, &hh) && digits(t + 2, 2, 2, 2, &mm)))
			continue;
		const char *c = memchr(t, ':', tn);
		const char *c2 = memchr(c + 1, ':', tn - (size_t)(c + 1 - t));
		if (c2 != NULL && !digits(c2 + 1, tn - (size_t)(c2 + 1 - t), 2, 2, &ss))
			continue;
		long off = 0;
		/* the year, with at most two zone tokens before or after it */
		for (int k = 0; k < 3 && token(line, n, &j, &t, &tn); k++) {
			if (year < 0 && digits(t, tn, 4, 4, &v)) {
				year = v;
			} else if (tn == 5 && (t[0] == '+' || t[0] == '-') &&
				   digits(t + 1, 4, 4, 4, &v)) {
				off = (v / 100 * 3600L + v % 100 * 60L) * (t[0] == '-' ? -1 : 1);
			}
		}
		if (year < 1970 || hh > 23 || mm > 59 || ss > 60)
			return -1;
		struct tm tm = {.tm_year = year - 1900,
				.tm_mon = mon,
				.tm_mday = day,
				.tm_hour = hh,
				.tm_min = mm,
				.tm_sec = ss};
		time_t u = timegm(&tm);
		return u == (time_t)-1 ? -1 : (int64_t)u - off;
	}
	return -1;
}

/* A From_ line that separates messages: "From " with a date. */
static bool separator(const char *p, size_t len, size_t pos)
{
	return starts_from(p, len, pos) &&
	       mbox_from_date(p + pos, line_end(p, len, pos) - pos) >= 0;
}

void mbox_split_init(struct mbox_split *sp, const char *p, size_t len, enum mbox_flavour flavour)
{
	*sp = (struct mbox_split){.p = p, .len = len, .flavour = flavour};
}

/* A header's value if the line [pos, end) is `name: value` (name given
   with its colon), trimmed. */
static bool header_value(const char *p, size_t pos, size_t end, const char *name, const char **v,
			 size_t *vn)
{
	size_t nl = strlen(name);
	if (end - pos < nl || strncasecmp(p + pos, name, nl) != 0)
		return false;
	size_t b = pos + nl, e = end;
	while (b < e && (p[b] == ' ' || p[b] == '\t'))
		b++;
	while (e > b &&
	       (p[e - 1] == '\n' || p[e - 1] == '\r' || p[e - 1] == ' ' || p[e - 1] == '\t'))
		e--;
	*v = p + b;
	*vn = e - b;
	return true;
}

static bool flag_name(const char *p, size_t pos, size_t end)
{
	static const char *const names[] = {"Status:", "X-Status:", "X-Keywords:"};
	for (size_t i = 0; i < N_ELEMENTS(names); i++) {
		size_t n = strlen(names[i]);
		if (end - pos >= n && strncasecmp(p + pos, names[i], n) == 0)
			return true;
	}
	return false;
}

/* The end of the header field at pos: past its continuation lines (a
   line that starts with white space), at most to len. */
static size_t field_end(const char *p, size_t len, size_t pos)
{
	size_t e = hline_end(p, len, pos);
	while (e < len && (p[e] == ' ' || p[e] == '\t'))
		e = hline_end(p, len, e);
	return e;
}

/* The flag headers mbox writers keep (mutt, Dovecot, Thunderbird's
   import): Status (R seen, O old), X-Status (A answered, F flagged,
   T draft, D deleted), X-Keywords (keywords, space or comma separated).
   True when [pos, end) is one of them, its meaning added to m; such lines
   are no part of the message (Dovecot hides them as well). */
static bool flag_header(const char *p, size_t pos, size_t end, struct migrate_msg *m)
{
	static const struct {
		char c;
		unsigned flag;
	} status[] = {{'R', STORE_FLAG_SEEN},
		      {'A', STORE_FLAG_ANSWERED},
		      {'F', STORE_FLAG_FLAGGED},
		      {'T', STORE_FLAG_DRAFT},
		      {'D', STORE_FLAG_DELETED}};
	const char *v;
	size_t vn;

	if (header_value(p, pos, end, "Status:", &v, &vn) ||
	    header_value(p, pos, end, "X-Status:", &v, &vn)) {
		bool x = p[pos] == 'X' || p[pos] == 'x';
		for (size_t i = 0; i < vn; i++)
			for (size_t k = x ? 1 : 0; k < (x ? N_ELEMENTS(status) : 1); k++)
				if (v[i] == status[k].c)
					m->flags |= status[k].flag;
		return true;
	}
	if (!header_value(p, pos, end, "X-Keywords:", &v, &vn))
		return false;
	if (m->keywords.len > 0)
		buf_append_c(&m->keywords, ' ');
	for (size_t i = 0; i < vn; i++) {
		char c = strchr(",\t\r\n", v[i]) != NULL ? ' ' : v[i];
		if (c == ' ' &&
		    (m->keywords.len == 0 || m->keywords.data[m->keywords.len - 1] == ' '))
			continue;
		buf_append_c(&m->keywords, c);
	}
	while (m->keywords.len > 0 && m->keywords.data[m->keywords.len - 1] == ' ')
		m->keywords.data[--m->keywords.len] = '\0';
	return true;
}

/* Where a body of n octets from body_start ends, if that is consistent
   with the file: at its end, or at a From_ line (one empty line between
   allowed). Returns the offset of what follows (the next From_ line or
   len), or 0 when the count does not fit. */
static size_t content_length_end(const struct mbox_split *sp, size_t body_start, uint64_t n)
{
	const char *p = sp->p;
	size_t len = sp->len;

	if (n > len - body_start)
		return 0;
	size_t q = body_start + (size_t)n;
	if (q > 0 && q < len && p[q - 1] != '\n')
		return 0;
	if (q == len || separator(p, len, q))
		return q;
	size_t e = line_end(p, len, q);
	if (line_empty(p, q, e) && (e == len || separator(p, len, e)))
		return e;
	return 0;
}

/* Appends the line [pos, end) to the body in wire form, one '>' of a
   quoted From_ line removed. */
static void put_line(const struct mbox_split *sp, struct buf *out, size_t pos, size_t end)
{
	const char *p = sp->p;
	size_t q = pos;

	while (q < end && p[q] == '>')
		q++;
	if (q > pos && end - q >= 5 && memcmp(p + q, "From ", 5) == 0 &&
	    (sp->flavour == MBOX_RD || q == pos + 1))
		pos++;
	store_to_wire(out, p + pos, end - pos);
}

int mbox_split_next(struct mbox_split *sp, struct migrate_msg *m, char *err, size_t err_len)
{
	const char *p = sp->p;
	size_t len = sp->len;

	buf_clear(&m->body);
	buf_clear(&m->keywords);
	m->uidl[0] = '\0';
	m->received = 0;
	m->flags = 0;
	if (!sp->started) {
		sp->started = true;
		/* empty lines before the first From_ line are harmless */
		while (sp->off < len) {
			size_t e = line_end(p, len, sp->off);
			if (!line_empty(p, sp->off, e))
				break;
			sp->off = e;
		}
		if (sp->off < len && !starts_from(p, len, sp->off)) {
			snprintf(err, err_len,
				 "not an mbox file: it does not begin with a From_ line");
			return -1;
		}
	}
	for (;;) {
		if (sp->off >= len)
			return 0;
		size_t from_end = line_end(p, len, sp->off);
		int64_t t = mbox_from_date(p + sp->off, from_end - sp->off);
		size_t start = from_end, pos = start, body_start = len;
		uint64_t clen = 0;
		bool have_clen = false;

		/* the header: Content-Length, X-UIDL and the flags */
		m->flags = 0;
		buf_clear(&m->keywords);
		while (pos < len) {
			size_t e = hline_end(p, len, pos);
			const char *v;
			size_t vn;
			if (line_empty(p, pos, e) || (e - pos == 1 && p[pos] == '\r')) {
				body_start = e;
				break;
			}
			if (flag_name(p, pos, e)) {
				e = field_end(p, len, pos);
				flag_header(p, pos, e, m);
				pos = e;
				continue;
			}
			if (header_value(p, pos, e, "Content-Length:", &v, &vn)) {
				int d;
				have_clen = vn > 0 && vn <= 18;
				clen = 0;
				for (size_t i = 0; have_clen && i < vn; i++) {
					have_clen = digits(v + i, 1, 1, 1, &d);
					clen = clen * 10 + (uint64_t)d;
				}
			} else if (header_value(p, pos, e, "X-UIDL:", &v, &vn) && vn >= 1 &&
				   vn <= 70) {
				bool ok = true;
				for (size_t i = 0; i < vn; i++)
					ok = ok && v[i] >= 0x21 && v[i] <= 0x7e;
				if (ok) {
					memcpy(m->uidl, v, vn);
					m->uidl[vn] = '\0';
				}
			}
			pos = e;
		}
		size_t next = 0;
		if (have_clen && body_start < len)
			next = content_length_end(sp, body_start, clen);
		else if (have_clen && clen == 0)
			next = len;
		if (next > 0) {
			size_t end = body_start >= len ? len : body_start + (size_t)clen;
			for (pos = start; pos < body_start && pos < end;) {
				size_t e = hline_end(p, len, pos);
				if (flag_name(p, pos, e))
					e = field_end(p, body_start, pos);
				else
					store_to_wire(&m->body, p + pos, e - pos);
				pos = e;
			}
			if (end > pos)
				store_to_wire(&m->body, p + pos, end - pos);
		} else {
			/* up to the empty line before the next separating From_ line */
			size_t end = len;
			next = len;
			for (pos = start; pos < len;) {
				size_t e = line_end(p, len, pos);
				if (line_empty(p, pos, e) && e < len && separator(p, len, e)) {
					end = pos;
					next = e;
					break;
				}
				pos = e;
			}
			if (next == len && end > start) {
				/* the separator line writers leave after the last message */
				size_t b = end - 1;
				if (p[b] == '\n' && b > start && p[b - 1] == '\r')
					b--;
				if (p[end - 1] == '\n' && b > start && p[b - 1] == '\n')
					end = b;
			}
			for (pos = start; pos < end;) {
				size_t e = pos < body_start ? hline_end(p, end, pos)
							    : line_end(p, end, pos);
				if (pos < body_start && flag_name(p, pos, e))
					e = field_end(p, end < body_start ? end : body_start, pos);
				else
					put_line(sp, &m->body, pos, e);
				pos = e;
			}
		}
		sp->off = next;
		m->received = t > 0 ? t : 0;
		if (m->body.len > 0)
			return 1;
		/* a From_ line with nothing after it holds no message */
	}
}

/* --- the source over mapped files -------------------------------------- */

/* One mbox file and the folder it fills. */
struct mbox_file {
	char *path;
	char *folder; /* "" for INBOX */
};

struct migrate_source {
	struct mbox_file *files;
	size_t n, cur; /* cur: the file mapped now (n: none left) */
	int fd;
	char *map;
	size_t len, dropped;
	struct mbox_split sp;
};

#define MBOX_DEPTH_MAX 32 /* folder levels a directory walk follows */

void mbox_folder_path(const char *name, struct buf *out)
{
	if (strcmp(name, "INBOX") == 0) {
		buf_append_str(out, "INBOX");
		return;
	}
	for (const char *p = name;;) {
		size_t len = strcspn(p, "/");
		bool last = p[len] == '\0';
		/* the '.' of a suffix the reader takes for something else */
		size_t dot = len >= 4 && (strncmp(p + len - 4, ".sbd", 4) == 0 ||
					  strncmp(p + len - 4, ".msf", 4) == 0)
				 ? len - 4
				 : len;
		for (size_t i = 0; i < len; i++) {
			if (p[i] == '%' || (i == 0 && p[i] == '.') || i == dot)
				buf_printf(out, "%%%02X", (unsigned char)p[i]);
			else
				buf_append_c(out, p[i]);
		}
		if (last)
			return;
		buf_append_str(out, ".sbd/");
		p += len + 1;
	}
}

/* A folder level from a file name: %XX decoded (mbox_folder_path). */
static char *level_decode(const char *name, size_t n)
{
	struct buf b = {0};
	for (size_t i = 0; i < n; i++) {
		char h[3] = {0};
		if (name[i] == '%' && i + 2 < n && isxdigit((unsigned char)name[i + 1]) &&
		    isxdigit((unsigned char)name[i + 2])) {
			memcpy(h, name + i + 1, 2);
		}
		long v = h[0] != '\0' ? strtol(h, NULL, 16) : 0;
		if (v > 0) {
			buf_append_c(&b, (char)v);
			i += 2;
		} else {
			buf_append_c(&b, name[i]);
		}
	}
	buf_append_c(&b, '\0');
	return b.data;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void file_add(struct migrate_source *s, char *path, char *folder)
{
	s->files = xrealloc(s->files, (s->n + 1) * sizeof(*s->files));
	s->files[s->n++] = (struct mbox_file){.path = path, .folder = folder};
}

/* The mbox files under dir, each the folder `prefix` + its name; a
   directory "X.sbd" (Thunderbird's) or "X" (mutt's, Dovecot's) holds the
   children of X. Hidden files and Thunderbird's .msf indexes are no mail. */
static int walk(struct migrate_source *s, const char *dir, const char *prefix, unsigned depth,
		char *err, size_t err_len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	if (d == NULL) {
		snprintf(err, err_len, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (depth > MBOX_DEPTH_MAX) {
		closedir(d);
		snprintf(err, err_len, "%s: more than %d folder levels", dir, MBOX_DEPTH_MAX);
		return -1;
	}
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || ends_with(de->d_name, ".msf"))
			continue;
		char *path = xasprintf("%s/%s", dir, de->d_name);
		struct stat sb;
		if (stat(path, &sb) < 0) {
			snprintf(err, err_len, "%s: %s", path, strerror(errno));
			free(path);
			r = -1;
			break;
		}
		bool sbd = S_ISDIR(sb.st_mode) && ends_with(de->d_name, ".sbd");
		size_t n = strlen(de->d_name) - (sbd ? 4 : 0);
		char *lvl = level_decode(de->d_name, n);
		char *folder = prefix[0] == '\0' ? xstrdup(lvl) : xasprintf("%s/%s", prefix, lvl);
		free(lvl);
		if (depth == 0 && strcmp(folder, "INBOX") == 0 && S_ISREG(sb.st_mode)) {
			free(folder);
			folder = xstrdup("");
		}
		if (S_ISDIR(sb.st_mode)) {
			r = walk(s, path, folder, depth + 1, err, err_len);
			free(path);
			free(folder);
		} else if (S_ISREG(sb.st_mode)) {
			file_add(s, path, folder);
		} else {
			free(path);
			free(folder);
		}
	}
	closedir(d);
	return r;
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct mbox_file *)a)->folder, ((const struct mbox_file *)b)->folder);
}

static void unmap(struct migrate_source *s)
{
	if (s->map != NULL)
		munmap(s->map, s->len);
	if (s->fd >= 0)
		close(s->fd);
	s->map = NULL;
	s->len = s->dropped = 0;
	s->fd = -1;
}

/* Maps file i and checks that it is an mbox. */
static int map_file(struct migrate_source *s, size_t i, char *err, size_t err_len)
{
	const char *where = s->files[i].path;
	struct stat sb;

	unmap(s);
	s->cur = i;
	int fd = open(where, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, err_len, "%s: %s", where, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, err_len, "%s: not a regular file", where);
		close(fd);
		return -1;
	}
	s->fd = fd;
	s->len = (size_t)sb.st_size;
	if (s->len > 0) {
		void *m = mmap(NULL, s->len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED) {
			snprintf(err, err_len, "%s: cannot map it: %s", where, strerror(errno));
			s->len = 0;
			unmap(s);
			return -1;
		}
		s->map = m;
		(void)madvise(s->map, s->len, MADV_SEQUENTIAL);
	}
	mbox_split_init(&s->sp, s->map, s->len, MBOX_RD);
	/* refuse a file that is no mbox now, before anything of it is imported */
	size_t off = 0;
	while (off < s->len) {
		size_t e = line_end(s->map, s->len, off);
		if (!line_empty(s->map, off, e))
			break;
		off = e;
	}
	if (off < s->len && !starts_from(s->map, s->len, off)) {
		snprintf(err, err_len, "%s: not an mbox file: it does not begin with a From_ line",
			 where);
		unmap(s);
		return -1;
	}
	return 0;
}

static void mbox_close(struct migrate_source **sp)
{
	struct migrate_source *s = *sp;
	if (s == NULL)
		return;
	unmap(s);
	for (size_t i = 0; i < s->n; i++) {
		free(s->files[i].path);
		free(s->files[i].folder);
	}
	free(s->files);
	free(s);
	*sp = NULL;
}

static int mbox_open(const char *where, const struct migrate_options *o,
		     struct migrate_source **s_r, char *err, size_t err_len)
{
	struct stat sb;
	(void)o;

	*s_r = NULL;
	if (stat(where, &sb) < 0) {
		snprintf(err, err_len, "%s: %s", where, strerror(errno));
		return -1;
	}
	struct migrate_source *s = xcalloc(1, sizeof(*s));
	s->fd = -1;
	if (S_ISDIR(sb.st_mode)) {
		if (walk(s, where, "", 0, err, err_len) < 0)
			goto fail;
		if (s->n == 0) {
			snprintf(err, err_len, "%s: a folder with no mbox file in it", where);
			goto fail;
		}
		if (s->n > 1)
			qsort(s->files, s->n, sizeof(*s->files), cmp_file);
	} else {
		file_add(s, xstrdup(where), xstrdup("")); /* one file: INBOX */
	}
	/* every file is checked before anything is imported */
	for (size_t i = 0; i < s->n; i++)
		if (map_file(s, i, err, err_len) < 0)
			goto fail;
	if (s->n > 0 && map_file(s, 0, err, err_len) < 0)
		goto fail;
	*s_r = s;
	return 0;
fail:
	mbox_close(&s);
	return -1;
}

static int mbox_next(struct migrate_source *s, struct migrate_msg *m, char *err, size_t err_len)
{
	while (s->cur < s->n) {
		int r = mbox_split_next(&s->sp, m, err, err_len);
		if (r < 0) {
			char why[512];
			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, err_len, "%s: %s", s->files[s->cur].path, why);
			return -1;
		}
		if (r > 0) {
			buf_clear(&m->folder);
			buf_append_str(&m->folder, s->files[s->cur].folder);
			/* the pages behind this message are not needed again */
			long pg = sysconf(_SC_PAGESIZE);
			size_t upto = s->sp.off / (size_t)pg * (size_t)pg;
			if (s->map != NULL && upto > s->dropped + (8u << 20)) {
				(void)madvise(s->map + s->dropped, upto - s->dropped,
					      MADV_DONTNEED);
				s->dropped = upto;
			}
			return 1;
		}
		if (s->cur + 1 >= s->n) {
			unmap(s);
			s->cur = s->n;
			break;
		}
		if (map_file(s, s->cur + 1, err, err_len) < 0)
			return -1;
	}
	return 0;
}

static long long mbox_count(struct migrate_source *s)
{
	(void)s;
	return -1; /* counting would read every file once more */
}

static const char *mbox_folder(struct migrate_source *s, size_t i, bool *subscribed_r)
{
	if (i >= s->n)
		return NULL;
	*subscribed_r = true; /* mbox files keep no subscriptions */
	return s->files[i].folder;
}

const struct migrate_source_ops migrate_mbox_ops = {.name = "mbox",
						    .open = mbox_open,
						    .next = mbox_next,
						    .count = mbox_count,
						    .close = mbox_close,
						    .folder = mbox_folder};
