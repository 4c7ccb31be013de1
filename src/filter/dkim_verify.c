/* SPDX-License-Identifier: MIT */
/*
 * dkim_verify.c - checking the DKIM-Signature fields of a message
 * (RFC 6376 §6) with the keys fed in from DNS: no I/O here.
 *
 * begin: the message is copied and cut; each DKIM-Signature field (up to
 * DKIM_VERIFY_MAX, top down) is parsed; a bad one is decided at once
 * (permerror) and has no key name. key: the TXT answer is judged (temp-
 * error, no key, revoked, syntax, type, size, t=s) and the public key kept.
 * finish: body hash, header hash and the signature check, per signature.
 */
#include "filter/dkim.h"
#include "dns/dns_answer.h"
#include "filter/dkim_private.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct vsig {
	struct dkim_sig sig;
	const struct dkim_field *field;
	struct dkim_result res;
	bool decided, keyed;
	char key_name[DNS_NAME_MAX];
	EVP_PKEY *pkey;
};

struct dkim_verify {
	char *msg;
	size_t len;
	time_t now;
	struct dkim_msg m;
	struct vsig s[DKIM_VERIFY_MAX];
	size_t n;
};

static void decide(struct vsig *s, enum dkim_status st, const char *reason)
{
	s->decided = true;
	s->res.result = st;
	snprintf(s->res.reason, sizeof(s->res.reason), "%s", reason);
}

struct dkim_verify *dkim_verify_begin(const char *msg, size_t len)
{
	struct dkim_verify *v = xcalloc(1, sizeof(*v));
	v->msg = xmalloc(len + 1);
	memcpy(v->msg, msg, len);
	v->msg[len] = '\0';
	v->len = len;
	v->now = time(NULL);
	dkim_msg_split(&v->m, v->msg, len);
	for (size_t i = 0; i < v->m.n && v->n < DKIM_VERIFY_MAX; i++) {
		const struct dkim_field *f = &v->m.f[i];
		if (f->name_len != 14 || strncasecmp(f->p, "dkim-signature", 14) != 0)
			continue;
		struct vsig *s = &v->s[v->n++];
		char reason[128] = "";
		const char *val = memchr(f->p, ':', f->len) + 1;
		size_t vlen = (size_t)(f->p + f->len - val);
		if (vlen >= 2 && val[vlen - 2] == '\r' && val[vlen - 1] == '\n')
			vlen -= 2;
		s->field = f;
		int r = dkim_sig_parse(val, vlen, &s->sig, reason, sizeof(reason));
		memcpy(s->res.domain, s->sig.domain, sizeof(s->res.domain));
		memcpy(s->res.selector, s->sig.selector, sizeof(s->res.selector));
		memcpy(s->res.b_prefix, s->sig.b_prefix, sizeof(s->res.b_prefix));
		if (r < 0) {
			snprintf(s->res.algorithm, sizeof(s->res.algorithm), "%s",
				 strstr(reason, "rsa-sha1") ? "rsa-sha1" : "");
			decide(s, DKIM_PERMERROR, reason);
			continue;
		}
		snprintf(s->res.algorithm, sizeof(s->res.algorithm), "%s",
			 dkim_alg_name(s->sig.alg));
		/* room for any selector and domain: no truncation to reason about */
		char name[sizeof(s->sig.selector) + sizeof(s->sig.domain) + 16];
		snprintf(name, sizeof(name), "%s._domainkey.%s", s->sig.selector, s->sig.domain);
		if (strlen(name) >= sizeof(s->key_name))
			decide(s, DKIM_PERMERROR, "key name too long");
		else
			memcpy(s->key_name, name, strlen(name) + 1);
	}
	return v;
}

void dkim_verify_set_time(struct dkim_verify *v, time_t now)
{
	v->now = now;
}

size_t dkim_verify_count(const struct dkim_verify *v)
{
	return v->n;
}

const char *dkim_verify_key_name(const struct dkim_verify *v, size_t i)
{
	if (i >= v->n || v->s[i].decided)
		return NULL;
	return v->s[i].key_name;
}

static EVP_PKEY *load_pub(const struct dkim_keyrec *kr)
{
	const unsigned char *p = (const unsigned char *)kr->p.data;
	if (kr->alg == DKIM_ALG_ED25519_SHA256)
		return kr->p.len == 32 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, p, 32)
				       : NULL;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)kr->p.len);
	if (!pk) { /* some publish a bare RSAPublicKey */
		p = (const unsigned char *)kr->p.data;
		pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)kr->p.len);
	}
	if (pk && EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	return pk;
}

void dkim_verify_key(struct dkim_verify *v, size_t i, const struct dns_answer *a)
{
	if (i >= v->n || v->s[i].decided || v->s[i].keyed)
		return;
	struct vsig *s = &v->s[i];
	s->keyed = true;
	if (a->result == DNS_RESULT_TEMP) {
		decide(s, DKIM_TEMPERROR, "key lookup failed");
		return;
	}
	if (a->result != DNS_RESULT_OK || a->n == 0 || a->type != DNS_TYPE_TXT) {
		decide(s, DKIM_PERMERROR, "no key for signature");
		return;
	}
	struct dkim_keyrec kr = {0};
	char reason[128] = "";
	/* several records: the first that parses (RFC 6376 §3.6.2.2) */
	int r = -1;
	for (size_t j = 0; j < a->n && r < 0; j++) {
		r = dkim_keyrec_parse(a->rr[j].u.txt.text, a->rr[j].u.txt.len, &kr, reason,
				      sizeof(reason));
		if (r < 0)
			dkim_keyrec_free(&kr);
	}
	if (r < 0) {
		decide(s, DKIM_PERMERROR, reason);
		dkim_keyrec_free(&kr);
		return;
	}
	if (kr.revoked)
		decide(s, DKIM_PERMERROR, "key revoked");
	else if (kr.alg != s->sig.alg)
		decide(s, DKIM_PERMERROR, "key type does not match a=");
	else if (kr.strict && strcmp(s->sig.idomain, s->sig.domain) != 0)
		decide(s, DKIM_PERMERROR, "i= not d= and the key says t=s");
	else if (!(s->pkey = load_pub(&kr)))
		decide(s, DKIM_PERMERROR, "bad public key");
	else if (kr.alg == DKIM_ALG_RSA_SHA256 && EVP_PKEY_get_bits(s->pkey) < 1024)
		decide(s, DKIM_PERMERROR, "key too short");
	dkim_keyrec_free(&kr);
}

static bool check_sig(EVP_PKEY *pk, enum dkim_alg alg, const struct buf *data, const struct buf *b)
{
	unsigned char digest[32];
	const unsigned char *in = (const unsigned char *)data->data;
	size_t inlen = data->len;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = false;

	if (!ctx)
		return false;
	if (alg == DKIM_ALG_ED25519_SHA256) {
		if (EVP_Digest(in, inlen, digest, NULL, EVP_sha256(), NULL) != 1)
			goto out;
		in = digest;
		inlen = sizeof(digest);
	}
	if (EVP_DigestVerifyInit(ctx, NULL, alg == DKIM_ALG_ED25519_SHA256 ? NULL : EVP_sha256(),
				 NULL, pk) == 1)
		ok = EVP_DigestVerify(ctx, (const unsigned char *)b->data, b->len, in, inlen) == 1;
out:
	EVP_MD_CTX_free(ctx);
	return ok;
}

static void finish_one(struct dkim_verify *v, struct vsig *s)
{
	const struct dkim_sig *g = &s->sig;
	unsigned char bh[32];
	struct buf data = {0};

	if (g->has_x && (uint64_t)v->now > g->x) {
		decide(s, DKIM_PERMERROR, "signature expired");
		return;
	}
	if (g->has_t && g->t > (uint64_t)v->now + DKIM_CLOCK_SKEW) {
		decide(s, DKIM_PERMERROR, "signature made in the future");
		return;
	}
	if (dkim_body_hash(g->bcanon, v->m.body, v->m.body_len, g->has_l, g->l, bh) < 0) {
		decide(s, DKIM_FAIL, "l= longer than the body");
		return;
	}
	if (memcmp(bh, g->bh.data, 32) != 0) {
		decide(s, DKIM_FAIL, "body hash mismatch");
		return;
	}
	dkim_hash_headers(&data, &v->m, g->hcanon, g->h, g->nh, s->field);

	/* the signature field itself, b= emptied, without its final CRLF */
	const struct dkim_field *f = s->field;
	const char *val = memchr(f->p, ':', f->len) + 1;
	size_t flen = f->len;
	if (flen >= 2 && f->p[flen - 2] == '\r' && f->p[flen - 1] == '\n')
		flen -= 2;
	struct dkim_tags t;
	const struct dkim_tag *b;
	if (dkim_tags_parse(val, (size_t)(f->p + flen - val), &t) < 0 ||
	    !(b = dkim_tags_get(&t, "b"))) {
		decide(s, DKIM_PERMERROR, "signature syntax error");
		buf_free(&data);
		return;
	}
	struct buf self = {0};
	buf_append(&self, f->p, (size_t)(b->raw.p - f->p));
	buf_append(&self, b->raw.p + b->raw.len, (size_t)(f->p + flen - (b->raw.p + b->raw.len)));
	buf_append(&self, "\r\n", 2);
	dkim_canon_header(&data, g->hcanon, self.data, self.len);
	data.len -= 2;
	buf_free(&self);

	if (check_sig(s->pkey, g->alg, &data, &g->b))
		decide(s, DKIM_PASS, "");
	else
		decide(s, DKIM_FAIL, "signature did not verify");
	buf_free(&data);
}

void dkim_verify_finish(struct dkim_verify *v)
{
	for (size_t i = 0; i < v->n; i++) {
		struct vsig *s = &v->s[i];
		if (s->decided)
			continue;
		if (!s->keyed || !s->pkey) {
			decide(s, DKIM_TEMPERROR, "key not looked up");
			continue;
		}
		finish_one(v, s);
	}
}

const struct dkim_result *dkim_verify_result(const struct dkim_verify *v, size_t i)
{
	return i < v->n ? &v->s[i].res : NULL;
}

void dkim_verify_free(struct dkim_verify **vp)
{
	struct dkim_verify *v = *vp;
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		dkim_sig_free(&v->s[i].sig);
		EVP_PKEY_free(v->s[i].pkey);
	}
	dkim_msg_free(&v->m);
	free(v->msg);
	free(v);
	*vp = NULL;
}
