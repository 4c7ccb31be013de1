/* SPDX-License-Identifier: MIT */
/*
 * password.c - crypt(3) hashes through libxcrypt and SCRAM-SHA-256 verifiers.
 *
 * Hashing is slow on purpose (yescrypt's default cost is about 10 ms here),
 * so every caller is a worker thread or the CLI. struct crypt_data is 32 KiB
 * and goes on the heap, not on a worker's stack. Dovecot's {SCHEME} hashes
 * are verified here too (crypt(3), OpenSSL digests, PBKDF2, SCRAM, Argon2
 * through libargon2), so a passwd-file moves over without password resets.
 * This file never logs and never keeps a password: copies are wiped.
 */
#include "directory/password.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/mem.h"

#include <argon2.h>
#include <crypt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SCRAM_SALT_LEN 16
#define SCRAM_ITER_MAX 1000000u

/* A new crypt(3) hash of the method `prefix` ("$y$", "$6$") at libxcrypt's
   default cost. */
static int crypt_new(const char *prefix, const char *password, char **hash_r)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *h;

	if (strlen(password) > PASSWORD_MAX)
		return -1;
	/* rbytes NULL: libxcrypt draws the salt from getrandom(2) */
	if (crypt_gensalt_rn(prefix, 0, NULL, 0, setting, sizeof(setting)) == NULL)
		return -1;
	cd = xcalloc(1, sizeof(*cd));
	h = crypt_rn(password, setting, cd, sizeof(*cd));
	if (h == NULL || h[0] == '*') {
		secure_zero(cd, sizeof(*cd));
		free(cd);
		return -1;
	}
	*hash_r = xstrdup(h);
	secure_zero(cd, sizeof(*cd));
	free(cd);
	return 0;
}

int password_hash(const char *password, char **hash_r)
{
	return crypt_new("$y$", password, hash_r);
}

static bool crypt_verify(const char *password, const char *stored)
{
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *h = crypt_rn(password, stored, cd, sizeof(*cd));
	bool ok = false;

	/* crypt_rn returns NULL or a "*..." failure token on bad settings */
	if (h != NULL && h[0] != '*') {
		size_t hl = strlen(h), sl = strlen(stored);
		ok = hl == sl && mem_equal_ct(h, stored, hl);
	}
	secure_zero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

/* A crypt(3) string libxcrypt can check: its method is built in (old DES
   and MD5-crypt count; they verify, mailroom never writes them). */
static bool crypt_form_ok(const char *stored)
{
	int r = crypt_checksalt(stored);

	return stored[0] != '\0' && stored[0] != '*' &&
	       (r == CRYPT_SALT_OK || r == CRYPT_SALT_METHOD_LEGACY || r == CRYPT_SALT_TOO_CHEAP);
}

/* --- Dovecot {SCHEME} hashes ------------------------------------------------
 * Facts from Dovecot's src/lib-auth/password-scheme*.c: the data after the
 * braces is text, base64 or hex; a ".HEX", ".B64" or ".BASE64" suffix on the
 * name says which, else the scheme's default holds, and for fixed-length
 * digests a string of twice the digest's length is taken as hex. Salted
 * digests (SSHA, SMD5) are H(password || salt) || salt with a salt of any
 * length. {MD5} is MD5-crypt when it starts "$1$", else PLAIN-MD5. Not
 * verifiable from a password alone, so never matching here: CRAM-MD5 and
 * HMAC-MD5 (an MD5 state), DIGEST-MD5 (needs the user and realm), OTP and
 * PLAIN-MD4 (MD4 is outside OpenSSL 3's default provider). */

enum pw_kind {
	PK_PLAIN,
	PK_PLAIN_TRUNC, /* "<length>-<password>": a password cut at length */
	PK_CRYPT,
	PK_MD5,
	PK_DIGEST, /* H(password) */
	PK_SALTED, /* H(password || salt) || salt */
	PK_PBKDF2, /* "$1$<salt>$<rounds>$<hex>": PBKDF2-HMAC-SHA1, 20 bytes */
	PK_SCRAM,  /* "<iter>,<salt>,<StoredKey>,<ServerKey>" in base64 (RFC 5802 §3) */
	PK_ARGON2I,
	PK_ARGON2ID,
};

enum pw_enc { ENC_NONE, ENC_B64, ENC_HEX };

struct pw_scheme {
	const char *name;
	enum pw_kind kind;
	const EVP_MD *(*md)(void);
	enum pw_enc enc; /* the default encoding of the data */
	bool dollar;	 /* crypt: a "$id$" string (all but CRYPT and DES-CRYPT) */
};

static const struct pw_scheme schemes[] = {
    {"PLAIN", PK_PLAIN, NULL, ENC_NONE, false},
    {"CLEAR", PK_PLAIN, NULL, ENC_NONE, false},
    {"CLEARTEXT", PK_PLAIN, NULL, ENC_NONE, false},
    {"PLAIN-TRUNC", PK_PLAIN_TRUNC, NULL, ENC_NONE, false},
    {"CRYPT", PK_CRYPT, NULL, ENC_NONE, false},
    {"DES-CRYPT", PK_CRYPT, NULL, ENC_NONE, false},
    {"MD5-CRYPT", PK_CRYPT, NULL, ENC_NONE, true},
    {"SHA256-CRYPT", PK_CRYPT, NULL, ENC_NONE, true},
    {"SHA512-CRYPT", PK_CRYPT, NULL, ENC_NONE, true},
    {"BLF-CRYPT", PK_CRYPT, NULL, ENC_NONE, true},
    {"YESCRYPT", PK_CRYPT, NULL, ENC_NONE, true},
    {"MD5", PK_MD5, NULL, ENC_NONE, false},
    {"PLAIN-MD5", PK_DIGEST, EVP_md5, ENC_HEX, false},
    {"LDAP-MD5", PK_DIGEST, EVP_md5, ENC_B64, false},
    {"SHA", PK_DIGEST, EVP_sha1, ENC_B64, false},
    {"SHA1", PK_DIGEST, EVP_sha1, ENC_B64, false},
    {"SHA256", PK_DIGEST, EVP_sha256, ENC_B64, false},
    {"SHA512", PK_DIGEST, EVP_sha512, ENC_B64, false},
    {"SMD5", PK_SALTED, EVP_md5, ENC_B64, false},
    {"SSHA", PK_SALTED, EVP_sha1, ENC_B64, false},
    {"SSHA256", PK_SALTED, EVP_sha256, ENC_B64, false},
    {"SSHA512", PK_SALTED, EVP_sha512, ENC_B64, false},
    {"PBKDF2", PK_PBKDF2, EVP_sha1, ENC_NONE, false},
    {"SCRAM-SHA-1", PK_SCRAM, EVP_sha1, ENC_NONE, false},
    {"SCRAM-SHA-256", PK_SCRAM, EVP_sha256, ENC_NONE, false},
    {"ARGON2I", PK_ARGON2I, NULL, ENC_NONE, false},
    {"ARGON2ID", PK_ARGON2ID, NULL, ENC_NONE, false},
};

#define PBKDF2_ROUNDS_MAX 10000000u

static const struct pw_scheme *scheme_find(const char *name, size_t len)
{
	for (size_t i = 0; i < N_ELEMENTS(schemes); i++)
		if (strlen(schemes[i].name) == len && strncasecmp(schemes[i].name, name, len) == 0)
			return &schemes[i];
	return NULL;
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Appends the bytes of hex text; returns -1 (out unchanged) if it is not. */
static int hex_decode(struct buf *out, const char *in, size_t len)
{
	size_t start = out->len;

	if (len % 2 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 2) {
		int hi = hex_val(in[i]), lo = hex_val(in[i + 1]);
		if (hi < 0 || lo < 0) {
			secure_zero(out->data + start, out->len - start);
			out->len = start;
			return -1;
		}
		buf_append_c(out, (char)(hi << 4 | lo));
	}
	return 0;
}

/* Decodes a scheme's data into raw (NUL-terminated past raw->len). `enc`
   was given by a suffix when `given`. Returns -1 if it does not decode or
   has the wrong length. */
static int data_decode(const struct pw_scheme *s, enum pw_enc enc, bool given, const char *data,
		       struct buf *raw)
{
	size_t dl = strlen(data),
	       fixed = s->kind == PK_DIGEST ? (size_t)EVP_MD_get_size(s->md()) : 0;
	bool guessed = false;

	buf_reserve(raw, dl + 1);
	if (!given && fixed != 0) {
		enc = dl == 2 * fixed ? ENC_HEX : ENC_B64;
		guessed = true;
	}
	if (enc == ENC_HEX && hex_decode(raw, data, dl) < 0) {
		/* a guess of hex may be base64 of the same length after all */
		if (!guessed)
			return -1;
		enc = ENC_B64;
	}
	if (enc == ENC_B64 && base64_decode(raw, data, dl) < 0)
		return -1;
	if (enc == ENC_NONE)
		buf_append(raw, data, dl);
	raw->data[raw->len] = '\0';
	if (fixed != 0 && raw->len != fixed)
		return -1;
	return 0;
}

/* "{NAME[.ENC]}data": the scheme and its decoded data, or -1. */
static int stored_parse(const char *stored, const struct pw_scheme **s_r, struct buf *raw)
{
	const char *end = strchr(stored, '}');
	const char *name = stored + 1, *dot;
	enum pw_enc enc;

	if (stored[0] != '{' || end == NULL)
		return -1;
	dot = memchr(name, '.', (size_t)(end - name));
	*s_r = scheme_find(name, (size_t)((dot != NULL ? dot : end) - name));
	if (*s_r == NULL)
		return -1;
	enc = (*s_r)->enc;
	if (dot != NULL) {
		size_t el = (size_t)(end - dot - 1);
		if (el == 3 && strncasecmp(dot + 1, "HEX", 3) == 0)
			enc = ENC_HEX;
		else if ((el == 3 && strncasecmp(dot + 1, "B64", 3) == 0) ||
			 (el == 6 && strncasecmp(dot + 1, "BASE64", 6) == 0))
			enc = ENC_B64;
		else
			return -1; /* an unknown encoding is an unknown scheme, as in Dovecot */
	}
	return data_decode(*s_r, enc, dot != NULL, end + 1, raw);
}

static int eval_digest(const EVP_MD *md, const char *password, const unsigned char *raw, size_t len,
		       bool salted)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	size_t ml = (size_t)EVP_MD_get_size(md);
	EVP_MD_CTX *ctx;
	int ok;

	if (salted ? len <= ml : len != ml)
		return -1;
	if (password == NULL)
		return 1;
	ctx = EVP_MD_CTX_new();
	ok = ctx != NULL && EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
	     EVP_DigestUpdate(ctx, password, strlen(password)) == 1 &&
	     EVP_DigestUpdate(ctx, raw + ml, len - ml) == 1 &&
	     EVP_DigestFinal_ex(ctx, d, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	ok = mem_equal_ct(d, raw, ml);
	secure_zero(d, sizeof(d));
	return ok;
}

static int eval_plain_trunc(const char *password, const char *raw, size_t len)
{
	size_t i = 0, cut = 0, pl;

	while (i < len && raw[i] >= '0' && raw[i] <= '9' && cut < PASSWORD_MAX + 1)
		cut = cut * 10 + (size_t)(raw[i++] - '0');
	if (i == 0 || i == len || raw[i] != '-')
		return -1;
	raw += i + 1;
	len -= i + 1;
	if (password == NULL)
		return 1;
	pl = strlen(password);
	/* stored cut at `cut` bytes: a longer password matches on its prefix */
	if (len == cut && pl >= cut)
		return mem_equal_ct(raw, password, cut);
	return pl == len && mem_equal_ct(raw, password, len);
}

static bool parse_uint(const char *p, size_t len, unsigned long max, unsigned long *v_r)
{
	unsigned long v = 0;

	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (v == 0 || v > max)
		return false;
	*v_r = v;
	return true;
}

static int eval_pbkdf2(const char *password, const char *raw)
{
	unsigned char want[20], got[20];
	const char *salt, *d1, *d2;
	unsigned long rounds;
	struct buf key = {0};
	int r = -1;

	if (strncmp(raw, "$1$", 3) != 0)
		return -1;
	salt = raw + 3;
	d1 = strchr(salt, '$');
	d2 = d1 != NULL ? strchr(d1 + 1, '$') : NULL;
	if (d2 == NULL || !parse_uint(d1 + 1, (size_t)(d2 - d1 - 1), PBKDF2_ROUNDS_MAX, &rounds) ||
	    strlen(d2 + 1) != 2 * sizeof(want) || hex_decode(&key, d2 + 1, 2 * sizeof(want)) < 0)
		goto out;
	memcpy(want, key.data, sizeof(want));
	r = 1;
	if (password == NULL)
		goto out;
	/* Dovecot uses the salt text itself, not decoded */
	if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), (const unsigned char *)salt,
			      (int)(d1 - salt), (int)rounds, EVP_sha1(), sizeof(got), got) != 1)
		r = -1;
	else
		r = mem_equal_ct(want, got, sizeof(got));
	secure_zero(got, sizeof(got));
out:
	buf_free(&key);
	return r;
}

/* Dovecot's "<iter>,<salt b64>,<StoredKey b64>,<ServerKey b64>". */
struct scram_parts {
	unsigned long iter;
	struct buf salt, stored, server;
};

static void scram_parts_free(struct scram_parts *p)
{
	buf_free(&p->salt);
	buf_free(&p->stored);
	buf_free(&p->server);
}

static int scram_split(const EVP_MD *md, const char *raw, struct scram_parts *p)
{
	const char *c1 = strchr(raw, ','), *c2, *c3;
	size_t ml = (size_t)EVP_MD_get_size(md);

	memset(p, 0, sizeof(*p));
	c2 = c1 != NULL ? strchr(c1 + 1, ',') : NULL;
	c3 = c2 != NULL ? strchr(c2 + 1, ',') : NULL;
	if (c3 == NULL || strchr(c3 + 1, ',') != NULL ||
	    !parse_uint(raw, (size_t)(c1 - raw), SCRAM_ITER_MAX, &p->iter) || c2 == c1 + 1 ||
	    base64_decode(&p->salt, c1 + 1, (size_t)(c2 - c1 - 1)) < 0 ||
	    base64_decode(&p->stored, c2 + 1, (size_t)(c3 - c2 - 1)) < 0 ||
	    base64_decode(&p->server, c3 + 1, strlen(c3 + 1)) < 0 || p->stored.len != ml ||
	    p->server.len != ml) {
		scram_parts_free(p);
		return -1;
	}
	return 0;
}

static int eval_scram(const EVP_MD *md, const char *password, const char *raw)
{
	unsigned char salted[EVP_MAX_MD_SIZE], client_key[EVP_MAX_MD_SIZE], stored[EVP_MAX_MD_SIZE];
	size_t ml = (size_t)EVP_MD_get_size(md);
	unsigned kl = (unsigned)ml;
	struct scram_parts p;
	int r = 1;

	if (scram_split(md, raw, &p) < 0)
		return -1;
	/* RFC 5802 §3: ClientKey := HMAC(SaltedPassword, "Client Key"),
	   StoredKey := H(ClientKey); the password is used as given, unprepped */
	if (password != NULL) {
		if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password),
				      (const unsigned char *)p.salt.data, (int)p.salt.len,
				      (int)p.iter, md, (int)ml, salted) != 1 ||
		    HMAC(md, salted, (int)ml, (const unsigned char *)"Client Key", 10, client_key,
			 &kl) == NULL ||
		    EVP_Digest(client_key, ml, stored, NULL, md, NULL) != 1)
			r = -1;
		else
			r = mem_equal_ct(stored, p.stored.data, ml);
		secure_zero(salted, sizeof(salted));
		secure_zero(client_key, sizeof(client_key));
	}
	scram_parts_free(&p);
	return r;
}

static int eval_argon2(argon2_type type, const char *password, const char *raw)
{
	const char *prefix = type == Argon2_id ? "$argon2id$" : "$argon2i$";
	size_t dollars = 0;
	int r;

	if (strncmp(raw, prefix, strlen(prefix)) != 0)
		return -1;
	for (const char *p = raw; *p != '\0'; p++)
		dollars += *p == '$';
	/* $argon2id$[v=19$]m=..,t=..,p=..$salt$hash */
	if (dollars != 4 && dollars != 5)
		return -1;
	if (password == NULL)
		return 1;
	r = argon2_verify(raw, password, strlen(password), type);
	return r == ARGON2_OK ? 1 : r == ARGON2_VERIFY_MISMATCH ? 0 : -1;
}

/* 1 match, 0 no match, -1 malformed. password NULL: only checks the form. */
static int scheme_eval(const struct pw_scheme *s, const struct buf *raw, const char *password)
{
	const char *r = raw->data;
	size_t len = raw->len;
	bool text = strlen(r) == len; /* the string kinds hold no NUL */

	switch (s->kind) {
	case PK_PLAIN:
		return password == NULL ? 1
					: strlen(password) == len && mem_equal_ct(password, r, len);
	case PK_PLAIN_TRUNC:
		return eval_plain_trunc(password, r, len);
	case PK_CRYPT:
		if (!text || (s->dollar && r[0] != '$') || !crypt_form_ok(r))
			return -1;
		return password == NULL ? 1 : crypt_verify(password, r);
	case PK_MD5:
		if (text && strncmp(r, "$1$", 3) == 0)
			return !crypt_form_ok(r)  ? -1
			       : password == NULL ? 1
						  : crypt_verify(password, r);
		else {
			const struct pw_scheme *md5 = scheme_find("PLAIN-MD5", 9);
			struct buf d = {0};
			int rc = text && data_decode(md5, md5->enc, false, r, &d) == 0
				     ? scheme_eval(md5, &d, password)
				     : -1;
			buf_free(&d);
			return rc;
		}
	case PK_DIGEST:
	case PK_SALTED:
		return eval_digest(s->md(), password, (const unsigned char *)r, len,
				   s->kind == PK_SALTED);
	case PK_PBKDF2:
		return text ? eval_pbkdf2(password, r) : -1;
	case PK_SCRAM:
		return text ? eval_scram(s->md(), password, r) : -1;
	case PK_ARGON2I:
	case PK_ARGON2ID:
		return text
			   ? eval_argon2(s->kind == PK_ARGON2ID ? Argon2_id : Argon2_i, password, r)
			   : -1;
	}
	return -1;
}

/* password NULL: is `stored` a well-formed hash of a known scheme? */
static int stored_eval(const char *password, const char *stored)
{
	const struct pw_scheme *s;
	struct buf raw = {0};
	int r;

	if (stored == NULL)
		return -1;
	if (stored[0] == '$')
		return !crypt_form_ok(stored) ? -1
		       : password == NULL     ? 1
					      : crypt_verify(password, stored);
	r = stored_parse(stored, &s, &raw) < 0 ? -1 : scheme_eval(s, &raw, password);
	buf_free_secret(&raw); /* {PLAIN} data is the password itself */
	return r;
}

bool password_verify(const char *password, const char *stored)
{
	if (password == NULL || strlen(password) > PASSWORD_MAX)
		return false;
	return stored_eval(password, stored) == 1;
}

bool password_scheme_known(const char *stored)
{
	return stored_eval(NULL, stored) == 1;
}

int password_hash_scheme(const char *password, const char *scheme, char **hash_r)
{
	char *h = NULL;

	if (strlen(password) > PASSWORD_MAX)
		return -1;
	if (strcasecmp(scheme, "yescrypt") == 0 || strcasecmp(scheme, "sha512-crypt") == 0) {
		bool yes = strcasecmp(scheme, "yescrypt") == 0;
		/* {CRYPT}: Dovecot has no YESCRYPT name but hands CRYPT to crypt(3) */
		if (crypt_new(yes ? "$y$" : "$6$", password, &h) < 0)
			return -1;
		*hash_r = xasprintf("%s%s", yes ? "{CRYPT}" : "{SHA512-CRYPT}", h);
		free(h);
		return 0;
	}
	if (strcasecmp(scheme, "argon2id") == 0) {
		/* Dovecot's (libsodium's) ARGON2ID defaults: 3 passes over 64 MiB */
		const uint32_t t = 3, m = 65536, par = 1;
		unsigned char salt[16];
		size_t el = argon2_encodedlen(t, m, par, sizeof(salt), 32, Argon2_id);
		char *enc = xcalloc(1, el + 1);
		int rc = -1;

		if (RAND_bytes(salt, sizeof(salt)) == 1 &&
		    argon2id_hash_encoded(t, m, par, password, strlen(password), salt, sizeof(salt),
					  32, enc, el) == ARGON2_OK) {
			*hash_r = xasprintf("{ARGON2ID}%s", enc);
			rc = 0;
		}
		free(enc);
		return rc;
	}
	return -1;
}

int password_scram_from_stored(const char *stored, char **verifier_r)
{
	static const char prefix[] = "{SCRAM-SHA-256}";
	struct scram_parts p;
	struct buf b = {0};

	if (stored == NULL || strncasecmp(stored, prefix, sizeof(prefix) - 1) != 0 ||
	    scram_split(EVP_sha256(), stored + sizeof(prefix) - 1, &p) < 0)
		return -1;
	buf_printf(&b, "SCRAM-SHA-256$%lu:", p.iter);
	base64_encode(&b, p.salt.data, p.salt.len);
	buf_append_c(&b, '$');
	base64_encode(&b, p.stored.data, p.stored.len);
	buf_append_c(&b, ':');
	base64_encode(&b, p.server.data, p.server.len);
	buf_append_c(&b, '\0');
	*verifier_r = b.data;
	scram_parts_free(&p);
	return 0;
}

static void hmac256(const unsigned char *key, size_t key_len, const char *data,
		    unsigned char out[32])
{
	unsigned len = 32;
	HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)data, strlen(data), out, &len);
}

int scram_verifier_make(const char *password, unsigned iterations, char **verifier_r)
{
	unsigned char salt[SCRAM_SALT_LEN], salted[32], client_key[32], stored_key[32],
	    server_key[32];
	struct buf b = {0};

	if (strlen(password) > PASSWORD_MAX || iterations == 0 || iterations > SCRAM_ITER_MAX)
		return -1;
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return -1;
	/* RFC 5802 §3: SaltedPassword := Hi(Normalize(password), salt, i).
	   Passwords are used as given (UTF-8); SASLprep is not applied. */
	if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sizeof(salt), (int)iterations,
			      EVP_sha256(), sizeof(salted), salted) != 1)
		return -1;
	hmac256(salted, sizeof(salted), "Client Key", client_key);
	SHA256(client_key, sizeof(client_key), stored_key);
	hmac256(salted, sizeof(salted), "Server Key", server_key);

	buf_printf(&b, "SCRAM-SHA-256$%u:", iterations);
	base64_encode(&b, salt, sizeof(salt));
	buf_append_c(&b, '$');
	base64_encode(&b, stored_key, sizeof(stored_key));
	buf_append_c(&b, ':');
	base64_encode(&b, server_key, sizeof(server_key));
	buf_append_c(&b, '\0');
	*verifier_r = b.data;

	secure_zero(salted, sizeof(salted));
	secure_zero(client_key, sizeof(client_key));
	return 0;
}

/* Decodes text[0..len) into exactly `want` bytes (or up to max if want == 0). */
static int decode_into(const char *text, size_t len, unsigned char *out, size_t want, size_t max,
		       size_t *got_r)
{
	struct buf b = {0};
	int rc = -1;

	if (len == 0 || base64_decode(&b, text, len) < 0)
		goto out;
	if ((want != 0 && b.len != want) || b.len > max || b.len == 0)
		goto out;
	memcpy(out, b.data, b.len);
	if (got_r != NULL)
		*got_r = b.len;
	rc = 0;
out:
	buf_free_secret(&b);
	return rc;
}

int scram_verifier_parse(const char *verifier, unsigned *iter_r, unsigned char *salt,
			 size_t *salt_len_r, size_t salt_max, unsigned char stored_key[32],
			 unsigned char server_key[32])
{
	static const char prefix[] = "SCRAM-SHA-256$";
	const char *p, *colon, *dollar, *colon2;
	unsigned long iter = 0;

	if (verifier == NULL || strncmp(verifier, prefix, sizeof(prefix) - 1) != 0)
		return -1;
	p = verifier + sizeof(prefix) - 1;
	colon = strchr(p, ':');
	if (colon == NULL || colon == p || colon - p > 7)
		return -1;
	for (const char *q = p; q < colon; q++) {
		if (*q < '0' || *q > '9')
			return -1;
		iter = iter * 10 + (unsigned long)(*q - '0');
	}
	if (iter == 0 || iter > SCRAM_ITER_MAX)
		return -1;
	dollar = strchr(colon + 1, '$');
	if (dollar == NULL)
		return -1;
	colon2 = strchr(dollar + 1, ':');
	if (colon2 == NULL)
		return -1;
	if (decode_into(colon + 1, (size_t)(dollar - colon - 1), salt, 0, salt_max, salt_len_r) <
		0 ||
	    decode_into(dollar + 1, (size_t)(colon2 - dollar - 1), stored_key, 32, 32, NULL) < 0 ||
	    decode_into(colon2 + 1, strlen(colon2 + 1), server_key, 32, 32, NULL) < 0)
		return -1;
	*iter_r = (unsigned)iter;
	return 0;
}
