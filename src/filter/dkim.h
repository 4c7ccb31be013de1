/* SPDX-License-Identifier: MIT */
/*
 * dkim.h - DKIM signatures (RFC 6376), RSA-SHA256 and Ed25519-SHA256
 * (RFC 8463), made and checked with OpenSSL 3's EVP and no other crypto.
 *
 * Verification does no I/O. The SMTP server hands the whole message to
 * dkim_verify_begin(), asks for the TXT name of each signature found, feeds
 * the DNS answers back (dns/dns_answer.h) and calls dkim_verify_finish() on
 * a worker thread for the hashing. A message with no signature has count 0
 * (dkim=none). At most DKIM_VERIFY_MAX signatures are evaluated; the rest
 * are ignored.
 *
 * Decisions where the RFCs leave room (the results are RFC 8601's names):
 *   - rsa-sha1 (RFC 8301 §3.1) and RSA keys under 1024 bits (§3.2): permerror.
 *   - a key record with an empty p= (revoked, RFC 6376 §3.6.1): permerror.
 *   - x= in the past: permerror "signature expired"; t= more than
 *     DKIM_CLOCK_SKEW seconds in the future: permerror.
 *   - a failed body hash or signature: fail, with the reason.
 *   - DNS with no answer now: temperror; no such key: permerror.
 *   - key t=y (testing) is reported as it is: the caller may relax it.
 *
 * Signing (dkim_sign) uses c=relaxed/relaxed, never l=, and signs From
 * twice (h=from:from:...) so that a second From cannot be added after.
 * Message text everywhere is CRLF lines, header and body.
 */
#ifndef MAILROOM_FILTER_DKIM_H
#define MAILROOM_FILTER_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/buf.h"

struct dns_answer;

#define DKIM_VERIFY_MAX 8
#define DKIM_CLOCK_SKEW 300
#define DKIM_TAGS_MAX 32
#define DKIM_H_MAX 64		   /* header names in h= */
#define DKIM_HEADERS_MAX 1000	   /* header fields of a message looked at */
#define DKIM_FIELD_MAX (64 * 1024) /* a DKIM-Signature field longer is refused */

enum dkim_status {
	DKIM_PASS,
	DKIM_FAIL,
	DKIM_NEUTRAL,
	DKIM_POLICY,
	DKIM_TEMPERROR,
	DKIM_PERMERROR,
};
const char *dkim_status_name(enum dkim_status s); /* "pass", "fail"... */

enum dkim_alg {
	DKIM_ALG_RSA_SHA256,
	DKIM_ALG_ED25519_SHA256,
};
const char *dkim_alg_name(enum dkim_alg a); /* "rsa-sha256", "ed25519-sha256" */

enum dkim_canon {
	DKIM_CANON_SIMPLE,
	DKIM_CANON_RELAXED,
};

/* ---- tag lists (RFC 6376 §3.2) ---- */

struct dkim_tag {
	struct slice name;  /* tag-name */
	struct slice value; /* tag-value, without the FWS around it */
	struct slice raw;   /* everything after '=' up to ';' or the end */
};
struct dkim_tags {
	struct dkim_tag t[DKIM_TAGS_MAX];
	size_t n;
};
/* 0, or -1 on a syntax error, a duplicate tag or more than DKIM_TAGS_MAX.
   The slices point into s. A trailing ';' is allowed. */
int dkim_tags_parse(const char *s, size_t len, struct dkim_tags *out);
const struct dkim_tag *dkim_tags_get(const struct dkim_tags *t, const char *name);

/* ---- the DKIM-Signature field (RFC 6376 §3.5) ---- */

struct dkim_sig {
	enum dkim_alg alg;
	enum dkim_canon hcanon, bcanon;
	char domain[256];    /* d=, lower case */
	char selector[64];   /* s= */
	char idomain[256];   /* the domain part of i= (d= when absent) */
	char b_prefix[16];   /* first 12 characters of b=, FWS removed */
	struct buf b, bh;    /* decoded */
	char *h[DKIM_H_MAX]; /* h= names, lower case (heap) */
	size_t nh;
	bool has_l, has_t, has_x;
	uint64_t l, t, x;
};
/* Parses the field's value (after "DKIM-Signature:"). 0, or -1 with a
   short reason; the sig is then half-filled (domain, selector, b_prefix
   where they parsed): free it either way. */
int dkim_sig_parse(const char *value, size_t len, struct dkim_sig *sig, char *reason, size_t rlen);
void dkim_sig_free(struct dkim_sig *sig);

/* ---- the key record (RFC 6376 §3.6.1) ---- */

struct dkim_keyrec {
	enum dkim_alg alg; /* k= (rsa or ed25519), with sha256 */
	bool revoked;	   /* p= empty */
	bool strict;	   /* t=s: i= must be exactly d= */
	bool testing;	   /* t=y */
	struct buf p;	   /* decoded public key */
};
int dkim_keyrec_parse(const char *txt, size_t len, struct dkim_keyrec *kr, char *reason,
		      size_t rlen);
void dkim_keyrec_free(struct dkim_keyrec *kr);

/* ---- canonicalisation (RFC 6376 §3.4) ---- */

/* One header field as it stands (name through its final CRLF), appended
   in canonical form, ending in CRLF. */
void dkim_canon_header(struct buf *out, enum dkim_canon c, const char *field, size_t len);
/* The body (after the empty line), appended in canonical form. */
void dkim_canon_body(struct buf *out, enum dkim_canon c, const char *body, size_t len);

/* A message cut into its header fields and body. */
struct dkim_field {
	const char *p; /* the field, through its CRLF */
	size_t len;
	size_t name_len; /* up to ':' without trailing WSP; 0 if no colon */
};
struct dkim_msg {
	struct dkim_field *f;
	size_t n;
	const char *body;
	size_t body_len;
};
void dkim_msg_split(struct dkim_msg *m, const char *msg, size_t len);
void dkim_msg_free(struct dkim_msg *m);
/* Appends the header fields named in h, picked bottom-up (§5.4.2), in
   canonical form. skip, if not NULL, is never picked (the signature's own
   field). */
void dkim_hash_headers(struct buf *out, const struct dkim_msg *m, enum dkim_canon c, char *const *h,
		       size_t nh, const struct dkim_field *skip);

/* ---- signing ---- */

struct dkim_key; /* private key + domain + selector + algorithm */
/* From a PEM private key (RSA of 1024+ bits, or Ed25519). NULL and a
   reason in err otherwise. */
struct dkim_key *dkim_key_new(const char *domain, const char *selector, const char *pem, char *err,
			      size_t errlen);
/* A fresh key: RSA of `bits` (2048 and up) or Ed25519 (bits ignored). */
struct dkim_key *dkim_key_generate(const char *domain, const char *selector, enum dkim_alg alg,
				   unsigned bits);
void dkim_key_free(struct dkim_key **k);
enum dkim_alg dkim_key_alg(const struct dkim_key *k);
unsigned dkim_key_bits(const struct dkim_key *k);
/* d= and s= of the signatures the key makes. */
const char *dkim_key_domain(const struct dkim_key *k);
const char *dkim_key_selector(const struct dkim_key *k);
/* Heap strings: the private key PEM (PKCS#8); the TXT record's text
   "v=DKIM1; k=rsa; p=..." (not split into 255-octet strings). */
char *dkim_key_private_pem(const struct dkim_key *k);
char *dkim_key_txt(const struct dkim_key *k);

/* Returns a malloc'ed "DKIM-Signature: ...\r\n" header field (folded) for
   msg, or NULL (no From field, a crypto failure). */
char *dkim_sign(const struct dkim_key *k, const char *msg, size_t len, time_t now);

/* ---- verification: no I/O inside ---- */

struct dkim_verify;
struct dkim_result {
	int result;	    /* enum dkim_status */
	char domain[256];   /* d= */
	char selector[64];  /* s= */
	char b_prefix[16];  /* the first 8+ chars of b= for header.b (RFC 6008) */
	char algorithm[24]; /* "rsa-sha256" / "ed25519-sha256" */
	char reason[128];   /* short text for the A-R comment/log */
};
/* The whole message, CRLF lines; copied. */
struct dkim_verify *dkim_verify_begin(const char *msg, size_t len);
/* The clock for x= and t= (time(NULL) at begin by default). */
void dkim_verify_set_time(struct dkim_verify *v, time_t now);
size_t dkim_verify_count(const struct dkim_verify *v);
/* "sel._domainkey.example.org", or NULL if the signature's result is
   already decided (unusable signature). */
const char *dkim_verify_key_name(const struct dkim_verify *v, size_t i);
/* The TXT answer for signature i's key name. */
void dkim_verify_key(struct dkim_verify *v, size_t i, const struct dns_answer *a);
/* Hashing and signature checks: CPU work, for a worker thread. A signature
   whose key was never fed ends as temperror. */
void dkim_verify_finish(struct dkim_verify *v);
const struct dkim_result *dkim_verify_result(const struct dkim_verify *v, size_t i);
void dkim_verify_free(struct dkim_verify **v);

#endif
