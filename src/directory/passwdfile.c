/* SPDX-License-Identifier: MIT */
/*
 * passwdfile.c - Dovecot passwd-file lines into a sorted table.
 *
 * Follows Dovecot's db-passwd-file.c where it is lenient (a line of only a
 * user name is an account without a password; a line starting with ':' or
 * '#' is skipped; a repeated user keeps its first line) and is strict where
 * a mistake would give mail to the wrong account: a user that is not a
 * plain address, or a bare name without [passwd-file] domain, fails the
 * whole file, so the backend keeps its last good copy instead of dropping
 * users. Never logs: the caller reports what it returns.
 */
#include "directory/passwdfile.h"
#include "util/buf.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PWF_MAX_SIZE (256u * 1024 * 1024) /* about 1M users at Argon2 length */

/* A byte that may stand in an address's local part here: printable ASCII
   but the specials of RFC 5322 §3.2.3 that would need quoting, and UTF-8
   (RFC 6531). */
static bool local_ok(unsigned char c)
{
	return (c > 0x20 && c < 0x7f && strchr("()<>[]:;@\\,\"", c) == NULL) || c >= 0x80;
}

static bool domain_ok(const char *d, size_t len)
{
	size_t label = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			   c >= 0x80) {
			label++;
		} else {
			return false;
		}
	}
	return len > 0 && label > 0 && len <= 253;
}

/* "user" or "user@domain" from the file into a lower-case address, or NULL
   with the reason. */
static char *address_make(const char *u, size_t len, const char *domain, const char **why_r)
{
	const char *at = memchr(u, '@', len);
	size_t local = at != NULL ? (size_t)(at - u) : len;
	char *a;

	if (local == 0 || local > 64) {
		*why_r = local == 0 ? "no user name before ':'"
				    : "the user name is longer than 64 bytes";
		return NULL;
	}
	for (size_t i = 0; i < local; i++)
		if (!local_ok((unsigned char)u[i])) {
			*why_r = "the user name holds a space or one of ()<>[]:;@\\,\"";
			return NULL;
		}
	if (at == NULL && domain == NULL) {
		*why_r = "a bare user name, but [passwd-file] domain is not set";
		return NULL;
	}
	a = at != NULL ? xstrndup(u, len) : xasprintf("%.*s@%s", (int)len, u, domain);
	pwf_lower(a);
	at = strchr(a, '@');
	if (!domain_ok(at + 1, strlen(at + 1))) {
		*why_r = "the domain after '@' is not a domain name";
		free(a);
		return NULL;
	}
	return a;
}

/* The extra field `name` (alone or as name=value) in the space-separated
   list: true with its value (empty when alone). */
static bool extra_get(const char *p, size_t len, const char *name, const char **v_r, size_t *vl_r)
{
	size_t nl = strlen(name), i = 0;

	while (i < len) {
		while (i < len && p[i] == ' ')
			i++;
		size_t start = i;
		while (i < len && p[i] != ' ')
			i++;
		size_t tl = i - start;
		if (tl >= nl && memcmp(p + start, name, nl) == 0 &&
		    (tl == nl || p[start + nl] == '=')) {
			*v_r = p + start + (tl == nl ? nl : nl + 1);
			*vl_r = tl == nl ? 0 : tl - nl - 1;
			return true;
		}
	}
	return false;
}

/* Dovecot 2.3's userdb_quota_rule=*:storage=SIZE: the whole mailbox's
   limit, in KiB unless a b, k, M, G or T follows. 0 for anything else (a
   percentage, a per-folder rule, a malformed size). */
static uint64_t quota_rule(const char *v, size_t vl)
{
	static const char prefix[] = "*:storage=";
	uint64_t n = 0, unit = 1024;
	size_t i = sizeof(prefix) - 1;

	if (vl <= i || memcmp(v, prefix, i) != 0)
		return 0;
	for (; i < vl && v[i] >= '0' && v[i] <= '9'; i++) {
		if (n > 1000000000000000ull) /* 10^15 of any unit is no quota anyone means */
			return 0;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (i + 1 == vl) {
		const char *units = "bkMGT", *u = strchr(units, v[i]);
		if (u == NULL || v[i] == '\0')
			return 0;
		unit = 1;
		for (const char *q = units; q < u; q++)
			unit *= 1024;
	} else if (i != vl) {
		return 0;
	}
	return n > UINT64_MAX / unit ? 0 : n * unit;
}

static int user_cmp(const void *a, const void *b)
{
	const struct pwf_user *x = a, *y = b;
	int c = strcmp(x->address, y->address);

	/* equal addresses in line order, so the first line stays first */
	return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

static void user_free(struct pwf_user *u)
{
	free(u->address);
	secret_free(&u->pw_hash);
}

/* One non-blank, non-comment line into *u; -1 with the reason. */
static int line_parse(const char *p, size_t len, const char *domain, struct pwf_user *u,
		      const char **why_r)
{
	const char *f[8]; /* user, password, uid, gid, gecos, home, shell, extra */
	size_t fl[8], n = 0, start = 0;

	/* split on ':'; everything after the 7th belongs to the extra fields */
	for (size_t i = 0; i <= len && n < 8; i++) {
		if (i == len || (p[i] == ':' && n < 7)) {
			f[n] = p + start;
			fl[n++] = i - start;
			start = i + 1;
		}
	}
	memset(u, 0, sizeof(*u));
	if ((u->address = address_make(f[0], fl[0], domain, why_r)) == NULL)
		return -1;
	if (n > 1 && fl[1] > 0) {
		u->pw_hash = f[1][0] == '{' ? xstrndup(f[1], fl[1])
					    : xasprintf("{CRYPT}%.*s", (int)fl[1], f[1]);
	}
	const char *v;
	size_t vl;
	u->nologin = n == 8 && extra_get(f[7], fl[7], "nologin", &v, &vl);
	if (n == 8 && extra_get(f[7], fl[7], "userdb_quota_rule", &v, &vl))
		u->quota = quota_rule(v, vl);
	return 0;
}

int pwf_parse(const char *text, size_t len, const char *domain, struct pwf *f, char **err_r)
{
	size_t cap = 0, pos = 0;
	unsigned lineno = 0;

	memset(f, 0, sizeof(*f));
	if (memchr(text, '\0', len) != NULL) {
		const char *z = memchr(text, '\0', len);
		unsigned zl = 1;
		for (const char *q = text; q < z; q++)
			zl += *q == '\n';
		*err_r = xasprintf("line %u: a NUL byte (is this a text file?)", zl);
		return -1;
	}
	while (pos < len) {
		const char *p = text + pos, *nl = memchr(p, '\n', len - pos);
		size_t ll = nl != NULL ? (size_t)(nl - p) : len - pos;
		const char *why = NULL;
		struct pwf_user u;

		pos += ll + (nl != NULL);
		lineno++;
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (ll == 0 || p[0] == '#' || p[0] == ':')
			continue;
		if (line_parse(p, ll, domain, &u, &why) < 0) {
			*err_r = xasprintf("line %u: %s", lineno, why);
			pwf_free(f);
			return -1;
		}
		u.line = lineno;
		if (f->n == cap) {
			cap = cap != 0 ? cap * 2 : 64;
			f->users = xrealloc(f->users, cap * sizeof(*f->users));
		}
		f->users[f->n++] = u;
	}
	if (f->n == 0)
		return 0;
	qsort(f->users, f->n, sizeof(*f->users), user_cmp);
	/* drop repeats, keeping each address's first line */
	size_t w = 1;
	for (size_t r = 1; r < f->n; r++) {
		if (strcmp(f->users[r].address, f->users[w - 1].address) == 0) {
			if (f->n_dups++ == 0 || f->users[r].line < f->dup_line)
				f->dup_line = f->users[r].line;
			user_free(&f->users[r]);
			continue;
		}
		f->users[w++] = f->users[r];
	}
	f->n = w;
	return 0;
}

int pwf_load(const char *path, const char *domain, struct pwf *f, char **err_r)
{
	struct buf b = {0};
	struct stat sb;
	char *why = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = -1;

	memset(f, 0, sizeof(*f));
	if (fd < 0) {
		*err_r = xasprintf("%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > PWF_MAX_SIZE) {
		*err_r =
		    xasprintf("%s: not a regular file of at most %u MiB", path, PWF_MAX_SIZE >> 20);
		goto out;
	}
	buf_reserve(&b, (size_t)sb.st_size + 1);
	for (;;) {
		if (b.len == PWF_MAX_SIZE) {
			*err_r = xasprintf("%s: larger than %u MiB", path, PWF_MAX_SIZE >> 20);
			goto out;
		}
		buf_reserve(&b, 65536);
		ssize_t n = read(fd, b.data + b.len, b.cap - b.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*err_r = xasprintf("%s: cannot read: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
	}
	if (pwf_parse(b.data, b.len, domain, f, &why) < 0) {
		/* "line 7: why" becomes "PATH:7: why" like the config's errors */
		*err_r = xasprintf("%s:%s", path, why + strlen("line "));
		free(why);
		goto out;
	}
	rc = 0;
out:
	buf_free_secret(&b);
	close(fd);
	return rc;
}

const struct pwf_user *pwf_find(const struct pwf *f, const char *address)
{
	size_t lo = 0, hi = f->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(address, f->users[mid].address);
		if (c == 0)
			return &f->users[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void pwf_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

void pwf_free(struct pwf *f)
{
	for (size_t i = 0; i < f->n; i++)
		user_free(&f->users[i]);
	free(f->users);
	memset(f, 0, sizeof(*f));
}
