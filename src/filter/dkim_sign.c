/* SPDX-License-Identifier: MIT */
/*
 * dkim_sign.c - signing keys and dkim_sign(): c=relaxed/relaxed, the usual
 * header set with From signed once more than it occurs, t= and no l=.
 * RSA signs the header data with SHA-256 (PKCS#1 v1.5); Ed25519 signs the
 * SHA-256 digest of it (RFC 8463 §3).
 */
#include "filter/dkim.h"
#include "filter/dkim_private.h"
#include "util/base64.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct dkim_key {
	EVP_PKEY *pkey;
	enum dkim_alg alg;
	char domain[256];
	char selector[64];
};

static struct dkim_key *key_wrap(EVP_PKEY *pkey, const char *domain, const char *selector,
				 char *err, size_t errlen)
{
	struct dkim_key *k;
	int id = EVP_PKEY_get_base_id(pkey);

	if (strlen(domain) >= sizeof(k->domain) || strlen(selector) >= sizeof(k->selector) ||
	    !*domain || !*selector) {
		snprintf(err, errlen, "bad domain or selector");
		EVP_PKEY_free(pkey);
		return NULL;
	}
	if (id == EVP_PKEY_RSA && EVP_PKEY_get_bits(pkey) < 1024) {
		snprintf(err, errlen, "RSA key shorter than 1024 bits");
		EVP_PKEY_free(pkey);
		return NULL;
	}
	if (id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519) {
		snprintf(err, errlen, "key is neither RSA nor Ed25519");
		EVP_PKEY_free(pkey);
		return NULL;
	}
	k = xcalloc(1, sizeof(*k));
	k->pkey = pkey;
	k->alg = id == EVP_PKEY_RSA ? DKIM_ALG_RSA_SHA256 : DKIM_ALG_ED25519_SHA256;
	for (size_t i = 0; domain[i]; i++)
		k->domain[i] = (char)tolower((unsigned char)domain[i]);
	snprintf(k->selector, sizeof(k->selector), "%s", selector);
	return k;
}

struct dkim_key *dkim_key_new(const char *domain, const char *selector, const char *pem, char *err,
			      size_t errlen)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!pkey) {
		snprintf(err, errlen, "not a PEM private key");
		return NULL;
	}
	return key_wrap(pkey, domain, selector, err, errlen);
}

struct dkim_key *dkim_key_generate(const char *domain, const char *selector, enum dkim_alg alg,
				   unsigned bits)
{
	char err[64];
	EVP_PKEY *pkey = NULL;

	if (alg == DKIM_ALG_ED25519_SHA256)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)(bits < 2048 ? 2048 : bits));
	if (!pkey)
		return NULL;
	return key_wrap(pkey, domain, selector, err, sizeof(err));
}

void dkim_key_free(struct dkim_key **k)
{
	if (!*k)
		return;
	EVP_PKEY_free((*k)->pkey);
	free(*k);
	*k = NULL;
}

enum dkim_alg dkim_key_alg(const struct dkim_key *k)
{
	return k->alg;
}

unsigned dkim_key_bits(const struct dkim_key *k)
{
	return (unsigned)EVP_PKEY_get_bits(k->pkey);
}

const char *dkim_key_domain(const struct dkim_key *k)
{
	return k->domain;
}

const char *dkim_key_selector(const struct dkim_key *k)
{
	return k->selector;
}

char *dkim_key_private_pem(const struct dkim_key *k)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *out = NULL, *p;
	long n;

	if (bio && PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) == 1 &&
	    (n = BIO_get_mem_data(bio, &p)) > 0)
		out = xstrndup(p, (size_t)n);
	BIO_free(bio);
	return out;
}

char *dkim_key_txt(const struct dkim_key *k)
{
	struct buf b = {0};
	unsigned char raw[64], *der = NULL;
	size_t rawlen = sizeof(raw);
	int n;

	if (k->alg == DKIM_ALG_ED25519_SHA256) {
		if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &rawlen) != 1)
			return NULL;
		buf_append_str(&b, "v=DKIM1; k=ed25519; p=");
		base64_encode(&b, raw, rawlen);
	} else {
		if ((n = i2d_PUBKEY(k->pkey, &der)) <= 0)
			return NULL;
		buf_append_str(&b, "v=DKIM1; k=rsa; p=");
		base64_encode(&b, der, (size_t)n);
		OPENSSL_free(der);
	}
	return b.data;
}

int dkim_crypto_sign(EVP_PKEY *pkey, enum dkim_alg alg, const char *data, size_t len,
		     struct buf *sig)
{
	unsigned char digest[32];
	const unsigned char *in = (const unsigned char *)data;
	size_t inlen = len, siglen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = 0;

	if (!ctx)
		return -1;
	if (alg == DKIM_ALG_ED25519_SHA256) {
		if (EVP_Digest(data, len, digest, NULL, EVP_sha256(), NULL) != 1)
			goto out;
		in = digest;
		inlen = sizeof(digest);
	}
	if (EVP_DigestSignInit(ctx, NULL, alg == DKIM_ALG_ED25519_SHA256 ? NULL : EVP_sha256(),
			       NULL, pkey) != 1 ||
	    EVP_DigestSign(ctx, NULL, &siglen, in, inlen) != 1)
		goto out;
	buf_reserve(sig, siglen);
	if (EVP_DigestSign(ctx, (unsigned char *)sig->data + sig->len, &siglen, in, inlen) != 1)
		goto out;
	sig->len += siglen;
	ok = 1;
out:
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

int dkim_body_hash(enum dkim_canon c, const char *body, size_t len, bool has_l, uint64_t l,
		   unsigned char out[32])
{
	struct buf cb = {0};
	dkim_canon_body(&cb, c, body, len);
	size_t n = cb.len;
	if (has_l) {
		if (l > n) {
			buf_free(&cb);
			return -1; /* l= longer than the body */
		}
		n = (size_t)l;
	}
	int r = EVP_Digest(cb.data ? cb.data : "", n, out, NULL, EVP_sha256(), NULL) == 1 ? 0 : -1;
	buf_free(&cb);
	return r;
}

/* the header names signed, in order: From once more than it occurs */
static const char *const signed_names[] = {
    "from",	  "to",		  "cc",		  "subject",
    "date",	  "message-id",	  "reply-to",	  "in-reply-to",
    "references", "mime-version", "content-type", "content-transfer-encoding",
};

static size_t count_named(const struct dkim_msg *m, const char *name)
{
	size_t n = 0, l = strlen(name);
	for (size_t i = 0; i < m->n; i++)
		if (m->f[i].name_len == l && strncasecmp(m->f[i].p, name, l) == 0)
			n++;
	return n;
}

/* a name h= can carry: printable ASCII (RFC 5322 §3.6.8) without ';',
   which would end the tag */
static bool field_name_ok(const struct dkim_field *f)
{
	for (size_t i = 0; i < f->name_len; i++)
		if ((unsigned char)f->p[i] <= ' ' || (unsigned char)f->p[i] >= 0x7f ||
		    f->p[i] == ';')
			return false;
	return true;
}

/* appends a token, folding before it when the line would pass 76 */
static void fold_add(struct buf *b, size_t *col, const char *tok, size_t len, bool glue)
{
	if (*col + 1 + len > 76 && *col > 1) {
		buf_append(b, "\r\n\t", 3);
		*col = 1;
	} else if (!glue) {
		buf_append_c(b, ' ');
		(*col)++;
	}
	buf_append(b, tok, len);
	*col += len;
}

char *dkim_sign(const struct dkim_key *k, const char *msg, size_t len, time_t now)
{
	struct dkim_msg m;
	char *names[DKIM_H_MAX];
	size_t nh = 0;
	unsigned char bh[32];
	struct buf hdr = {0}, data = {0}, sig = {0}, tok = {0};
	char *ret = NULL;

	dkim_msg_split(&m, msg, len);
	size_t nfrom = count_named(&m, "from");
	if (nfrom == 0)
		goto out;
	for (size_t i = 0; i < sizeof(signed_names) / sizeof(signed_names[0]); i++) {
		size_t c = count_named(&m, signed_names[i]) + (i == 0);
		for (size_t j = 0; j < c && nh < DKIM_H_MAX - 8; j++)
			names[nh++] = xstrdup(signed_names[i]);
	}
	for (size_t i = 0; i < m.n && nh < DKIM_H_MAX; i++) {
		const struct dkim_field *f = &m.f[i];
		if (f->name_len <= 5 || strncasecmp(f->p, "list-", 5) != 0 || !field_name_ok(f))
			continue;
		char *n = xstrndup(f->p, f->name_len);
		for (char *q = n; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		bool dup = false;
		for (size_t j = 0; j < nh; j++)
			dup = dup || strcmp(names[j], n) == 0;
		if (dup) {
			free(n);
			continue;
		}
		for (size_t j = count_named(&m, n); j > 0 && nh < DKIM_H_MAX; j--)
			names[nh++] = xstrdup(n);
		free(n);
	}
	if (dkim_body_hash(DKIM_CANON_RELAXED, m.body, m.body_len, false, 0, bh) < 0)
		goto out;

	size_t col = 0;
	buf_append_str(&hdr, "DKIM-Signature:");
	col = hdr.len;
	buf_printf(&tok, "v=1; a=%s; c=relaxed/relaxed;", dkim_alg_name(k->alg));
	fold_add(&hdr, &col, tok.data, tok.len, false);
	buf_clear(&tok);
	buf_printf(&tok, "d=%s; s=%s;", k->domain, k->selector);
	fold_add(&hdr, &col, tok.data, tok.len, false);
	buf_clear(&tok);
	buf_printf(&tok, "t=%lld;", (long long)now);
	fold_add(&hdr, &col, tok.data, tok.len, false);
	for (size_t i = 0; i < nh; i++) {
		buf_clear(&tok);
		buf_printf(&tok, "%s%s%s", i == 0 ? "h=" : "", names[i], i + 1 == nh ? ";" : ":");
		fold_add(&hdr, &col, tok.data, tok.len, i > 0);
	}
	buf_clear(&tok);
	buf_append_str(&tok, "bh=");
	base64_encode(&tok, bh, sizeof(bh));
	buf_append_c(&tok, ';');
	fold_add(&hdr, &col, tok.data, tok.len, false);
	fold_add(&hdr, &col, "b=", 2, false);

	dkim_hash_headers(&data, &m, DKIM_CANON_RELAXED, names, nh, NULL);
	dkim_canon_header(&data, DKIM_CANON_RELAXED, hdr.data, hdr.len);
	data.len -= 2; /* without its CRLF (§3.7) */
	if (dkim_crypto_sign(k->pkey, k->alg, data.data, data.len, &sig) < 0)
		goto out;
	buf_clear(&tok);
	base64_encode(&tok, sig.data, sig.len);
	for (size_t off = 0; off < tok.len;) {
		size_t room = col >= 76 ? 0 : 76 - col;
		if (room < 8) {
			buf_append(&hdr, "\r\n\t", 3);
			col = 1;
			continue;
		}
		size_t n = tok.len - off < room ? tok.len - off : room;
		buf_append(&hdr, tok.data + off, n);
		col += n;
		off += n;
	}
	buf_append(&hdr, "\r\n", 2);
	ret = hdr.data;
	hdr.data = NULL;
out:
	for (size_t i = 0; i < nh; i++)
		free(names[i]);
	dkim_msg_free(&m);
	buf_free(&hdr);
	buf_free(&data);
	buf_free(&sig);
	buf_free(&tok);
	return ret;
}
