/* SPDX-License-Identifier: MIT */
/*
 * srs.c - SRS0/SRS1 addresses (srs.h), bit for bit as libsrs2 and Perl's
 * Mail::SRS::Guarded make them, so that an address one of them made is
 * reversed here and the other way round (given the same secret):
 *
 *   SRS0=HHHH=TT=host=user      HHHH = hash(TT, host, user)
 *   SRS1=HHHH=hop==HHHH=TT=...  HHHH = hash(hop, "=HHHH=TT=...")
 *
 * The hash is HMAC-SHA1 over the lower-cased fields one after the other
 * (no separators between them), of which the first 4 characters of the
 * base64 (RFC 4648 §4 alphabet) are kept: these depend on the first 3
 * octets of the digest alone. The timestamp is days since the epoch, its
 * low 10 bits as 2 base32 characters (RFC 4648 §6 alphabet).
 *
 * Everything that arrives in a reversed address is hostile: it is taken
 * apart with lengths, never beyond its NUL, and refused whole when a
 * field is missing, empty, too long or holds a control character. The
 * local part of an address is what comes before its last '@' (a quoted
 * local part may hold one), as the two implementations above read it.
 */
#include "delivery/srs.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define SRS_HASH_LEN 4
#define SRS_STAMP_LEN 2
#define SRS_DAY (60 * 60 * 24)
#define SRS_SLOTS 1024 /* 32 * 32: what two base32 characters hold */
#define SRS_KEY_FILE "srs.key"

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* A piece of a string: not NUL-terminated. */
struct part {
	const char *p;
	size_t len;
};

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* The 4 hash characters of the parts, lower-cased, into out[0..4). */
static void srs_hash(const unsigned char *key, size_t key_len, const struct part *parts, size_t n,
		     char out[SRS_HASH_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	size_t md_len = 0;
	char digest[] = "SHA1";
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
	    OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
	bool ok = ctx != NULL && EVP_MAC_init(ctx, key, key_len, params) == 1;

	for (size_t i = 0; i < n && ok; i++) {
		/* lower-cased a chunk at a time: the fields may be long */
		unsigned char chunk[256];
		for (size_t off = 0; off < parts[i].len && ok; off += sizeof(chunk)) {
			size_t k = parts[i].len - off;
			if (k > sizeof(chunk))
				k = sizeof(chunk);
			for (size_t j = 0; j < k; j++)
				chunk[j] = (unsigned char)lower((unsigned char)parts[i].p[off + j]);
			ok = EVP_MAC_update(ctx, chunk, k) == 1;
		}
	}
	ok = ok && EVP_MAC_final(ctx, md, &md_len, sizeof(md)) == 1 && md_len >= 3;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	if (!ok)
		log_panic("srs: HMAC-SHA1 failed");
	out[0] = b64[md[0] >> 2];
	out[1] = b64[((md[0] & 0x03) << 4) | (md[1] >> 4)];
	out[2] = b64[((md[1] & 0x0f) << 2) | (md[2] >> 6)];
	out[3] = b64[md[2] & 0x3f];
	secure_zero(md, sizeof(md));
}

/* Whether hash (SRS_HASH_LEN characters) matches the parts, whatever the
   case of its letters: some MTAs change the case of local parts. */
static bool srs_hash_ok(const unsigned char *key, size_t key_len, const struct part *hash,
			const struct part *parts, size_t n)
{
	char want[SRS_HASH_LEN];
	unsigned diff = 0;

	if (hash->len != SRS_HASH_LEN)
		return false;
	srs_hash(key, key_len, parts, n, want);
	for (size_t i = 0; i < SRS_HASH_LEN; i++)
		diff |=
		    (unsigned)(lower((unsigned char)hash->p[i]) ^ lower((unsigned char)want[i]));
	return diff == 0;
}

/* Days since the epoch modulo SRS_SLOTS, for any `now`. */
static int64_t srs_day(int64_t now)
{
	int64_t days = now / SRS_DAY - (now % SRS_DAY < 0);
	int64_t slot = days % SRS_SLOTS;
	return slot < 0 ? slot + SRS_SLOTS : slot;
}

static void srs_stamp(int64_t now, char out[SRS_STAMP_LEN])
{
	int64_t day = srs_day(now);
	out[0] = b32[(day >> 5) & 31];
	out[1] = b32[day & 31];
}

/* A timestamp made at most SRS_MAX_AGE_DAYS ago; one "from the future"
   counts as made 1024 days earlier (the clock wraps), as in libsrs2. */
static bool srs_stamp_ok(const struct part *stamp, int64_t now)
{
	int64_t then = 0;

	if (stamp->len != SRS_STAMP_LEN)
		return false;
	for (size_t i = 0; i < SRS_STAMP_LEN; i++) {
		/* never NUL: the fields lie inside the string */
		int c = stamp->p[i];
		const char *hit = strchr(b32, c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
		if (hit == NULL)
			return false;
		then = then * 32 + (hit - b32);
	}
	int64_t day = srs_day(now);
	if (day < then)
		day += SRS_SLOTS;
	return day <= then + SRS_MAX_AGE_DAYS;
}

/* "SRS0" or "SRS1" (any case) and one of libsrs2's separators. */
static bool srs_tag(const char *local, size_t len, char digit)
{
	return len >= 5 && strncasecmp(local, "SRS", 3) == 0 && local[3] == digit &&
	       strchr("=+-", local[4]) != NULL;
}

/* Splits s at its first '=' into *head and *rest; false when there is none. */
static bool srs_split(struct part s, struct part *head, struct part *rest)
{
	const char *eq = memchr(s.p, '=', s.len);
	if (eq == NULL)
		return false;
	head->p = s.p;
	head->len = (size_t)(eq - s.p);
	rest->p = eq + 1;
	rest->len = s.len - head->len - 1;
	return true;
}

/* A domain as a field of an SRS address: not empty, no '=' (the field
   would not come apart again), no '@', blank or control character. */
static bool srs_host_ok(struct part h)
{
	if (h.len == 0)
		return false;
	for (size_t i = 0; i < h.len; i++) {
		unsigned char c = (unsigned char)h.p[i];
		if (c <= ' ' || c == 0x7f || c == '=' || c == '@')
			return false;
	}
	return true;
}

/* What follows an SRS1 address's first hop: the SRS0 local part that hop
   made, without its tag (its separator first, then at least something). */
static bool srs1_rest_ok(struct part r)
{
	return r.len >= 2 && strchr("=+-", r.p[0]) != NULL;
}

static bool srs_text_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return false;
	return true;
}

/* snprintf's answer as srs.h's: whether it fitted. */
static bool fitted(int n, size_t out_len)
{
	return n >= 0 && (size_t)n < out_len;
}

int srs_forward(const unsigned char *key, size_t key_len, const char *sender, const char *domain,
		int64_t now, char *out, size_t out_len)
{
	if (sender == NULL || domain == NULL || out == NULL || out_len == 0)
		return -1;
	if (sender[0] == '\0') {
		/* the null sender: bounces of bounces go nowhere (RFC 5321 §4.5.5) */
		out[0] = '\0';
		return 1;
	}
	const char *at = strrchr(sender, '@');
	if (at == NULL || at == sender || !srs_text_ok(sender))
		return -1;
	struct part user = {sender, (size_t)(at - sender)};
	struct part host = {at + 1, strlen(at + 1)};
	struct part fwd = {domain, strlen(domain)};
	if (!srs_host_ok(host) || !srs_host_ok(fwd))
		return -1;
	if (strcasecmp(host.p, domain) == 0) {
		/* our own address: SPF passes for it already */
		return fitted(snprintf(out, out_len, "%s", sender), out_len) ? 1 : -1;
	}

	char hash[SRS_HASH_LEN];
	int n;
	struct part hop, rest, old_hash;
	if (srs_tag(user.p, user.len, '1') &&
	    srs_split((struct part){user.p + 5, user.len - 5}, &old_hash, &rest) &&
	    srs_split(rest, &hop, &rest) && srs_host_ok(hop) && srs1_rest_ok(rest)) {
		/* SRS1 of another forwarder: keep its first hop, hash again */
		struct part parts[] = {hop, rest};
		srs_hash(key, key_len, parts, 2, hash);
		n = snprintf(out, out_len, "SRS1=%.*s=%.*s=%.*s@%s", SRS_HASH_LEN, hash,
			     (int)hop.len, hop.p, (int)rest.len, rest.p, domain);
	} else if (srs_tag(user.p, user.len, '0') && user.len > 5) {
		/* SRS0 of the forwarder before us: it becomes the first hop, its
		   local part after the tag (separator included) the rest */
		struct part tail = {user.p + 4, user.len - 4};
		struct part parts[] = {host, tail};
		srs_hash(key, key_len, parts, 2, hash);
		n = snprintf(out, out_len, "SRS1=%.*s=%s=%.*s@%s", SRS_HASH_LEN, hash, host.p,
			     (int)tail.len, tail.p, domain);
	} else {
		char stamp[SRS_STAMP_LEN];
		srs_stamp(now, stamp);
		struct part parts[] = {{stamp, SRS_STAMP_LEN}, host, user};
		srs_hash(key, key_len, parts, 3, hash);
		n = snprintf(out, out_len, "SRS0=%.*s=%.*s=%s=%.*s@%s", SRS_HASH_LEN, hash,
			     SRS_STAMP_LEN, stamp, host.p, (int)user.len, user.p, domain);
	}
	return fitted(n, out_len) ? 0 : -1;
}

int srs_reverse(const unsigned char *key, size_t key_len, const char *address, int64_t now,
		char *out, size_t out_len)
{
	if (address == NULL)
		return 0;
	const char *at = strrchr(address, '@');
	size_t local_len = at != NULL ? (size_t)(at - address) : strlen(address);
	bool srs0 = srs_tag(address, local_len, '0');
	bool srs1 = srs_tag(address, local_len, '1');
	if (!srs0 && !srs1)
		return 0;
	if (at == NULL || at[1] == '\0' || !srs_text_ok(address) || out == NULL || out_len == 0)
		return -1;

	struct part rest = {address + 5, local_len - 5};
	struct part hash, host, user;
	if (!srs_split(rest, &hash, &rest) || hash.len != SRS_HASH_LEN)
		return -1;
	int n;
	if (srs0) {
		struct part stamp;
		if (!srs_split(rest, &stamp, &rest) || !srs_split(rest, &host, &user) ||
		    !srs_host_ok(host) || user.len == 0)
			return -1;
		struct part parts[] = {stamp, host, user};
		if (!srs_stamp_ok(&stamp, now) || !srs_hash_ok(key, key_len, &hash, parts, 3))
			return -1;
		n = snprintf(out, out_len, "%.*s@%.*s", (int)user.len, user.p, (int)host.len,
			     host.p);
	} else {
		/* the rest is an SRS0 local part without its tag: its separator
		   comes first; the first hop checks its hash and age */
		if (!srs_split(rest, &host, &user) || !srs_host_ok(host) || !srs1_rest_ok(user))
			return -1;
		struct part parts[] = {host, user};
		if (!srs_hash_ok(key, key_len, &hash, parts, 2))
			return -1;
		n = snprintf(out, out_len, "SRS0%.*s@%.*s", (int)user.len, user.p, (int)host.len,
			     host.p);
	}
	return fitted(n, out_len) ? 1 : -1;
}

/* --- the secret --------------------------------------------------------------- */

static int key_read(const char *path, unsigned char key[SRS_KEY_LEN], char *err, size_t err_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;

	if (fd < 0) {
		snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	const char *bad = NULL;
	if (fstat(fd, &st) < 0)
		bad = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		bad = "not a regular file";
	if (bad == NULL && st.st_size != SRS_KEY_LEN) {
		snprintf(err, err_len, "%s: %lld octets, an SRS key has %d", path,
			 (long long)st.st_size, SRS_KEY_LEN);
		close(fd);
		return -1;
	}
	if (bad != NULL) {
		snprintf(err, err_len, "%s: %s", path, bad);
		close(fd);
		return -1;
	}
	ssize_t n = read(fd, key, SRS_KEY_LEN);
	int read_errno = errno;
	close(fd);
	if (n != SRS_KEY_LEN) {
		snprintf(err, err_len, "cannot read %s: %s", path,
			 n < 0 ? strerror(read_errno) : "short read");
		secure_zero(key, SRS_KEY_LEN);
		return -1;
	}
	return 0;
}

/* Writes a new key to tmp (O_EXCL, 0600), on disk before it gets its name:
   link() gives it the name only when no other process made one first, so
   a key in use is never replaced nor read half-written. 1: made; 0: the
   other process's is there; -1: error. */
static int key_make(const char *dir, const char *path, const char *tmp,
		    unsigned char key[SRS_KEY_LEN], char *err, size_t err_len)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == EEXIST) {
		/* left by a crash of a process that had our pid */
		unlink(tmp);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	}
	if (fd < 0) {
		snprintf(err, err_len, "cannot create %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (RAND_bytes(key, SRS_KEY_LEN) != 1)
		log_panic("RAND_bytes failed");
	bool ok = write(fd, key, SRS_KEY_LEN) == SRS_KEY_LEN && fsync(fd) == 0;
	int saved = errno;
	if (close(fd) < 0 && ok) {
		ok = false;
		saved = errno;
	}
	if (!ok) {
		snprintf(err, err_len, "cannot write %s: %s", tmp, strerror(saved));
		unlink(tmp);
		return -1;
	}
	int r = link(tmp, path);
	saved = errno;
	unlink(tmp);
	if (r < 0 && saved == EEXIST)
		return 0;
	if (r < 0) {
		snprintf(err, err_len, "cannot create %s: %s", path, strerror(saved));
		return -1;
	}
	/* the name on disk too: a key lost in a crash would orphan every
	   SRS address handed out since */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 1;
}

int srs_key_load(const char *data_dir, unsigned char key[SRS_KEY_LEN], char *err, size_t err_len)
{
	char path[PATH_MAX], tmp[PATH_MAX];

	if (!fitted(snprintf(path, sizeof(path), "%s/" SRS_KEY_FILE, data_dir), sizeof(path)) ||
	    !fitted(snprintf(tmp, sizeof(tmp), "%s/" SRS_KEY_FILE ".%ld", data_dir, (long)getpid()),
		    sizeof(tmp))) {
		snprintf(err, err_len, "%s: path too long", data_dir);
		return -1;
	}
	if (access(path, F_OK) < 0 && errno == ENOENT) {
		int r = key_make(data_dir, path, tmp, key, err, err_len);
		if (r != 0) {
			if (r < 0)
				secure_zero(key, SRS_KEY_LEN);
			return r < 0 ? -1 : 0;
		}
	}
	return key_read(path, key, err, err_len);
}
