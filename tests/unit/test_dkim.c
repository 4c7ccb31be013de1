/* SPDX-License-Identifier: MIT */
/*
 * test_dkim.c - DKIM (filter/dkim.h): the tag-list parser, the
 * DKIM-Signature and key record parsers, RFC 6376 §3.4.6's canonicalisation
 * example, body hashes with and without l=, and sign-then-verify round
 * trips for RSA-SHA256 and Ed25519-SHA256 with the key fed as a DNS answer,
 * then every way the result must turn: altered body, altered header, an
 * added From, rsa-sha1, expired x=, revoked key, no key, DNS failure.
 */
#include "dns/dns_answer.h"
#include "filter/dkim.h"
#include "filter/dkim_private.h"
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1764806400 /* 2025-12-04 */

static const char MSG[] = "From: Alice <alice@example.org>\r\n"
			  "To: bob@example.net\r\n"
			  "Subject: a test\r\n"
			  "Date: Thu, 04 Dec 2025 00:00:00 +0000\r\n"
			  "Message-ID: <1@example.org>\r\n"
			  "\r\n"
			  "Hello Bob,\r\n"
			  "  with  some   spaces  \r\n"
			  "\r\n"
			  "\r\n";

static void test_tags(void)
{
	struct dkim_tags t;
	const char *s = " v = 1 ;a=rsa-sha256;\r\n\t b= ab cd ;";

	test_begin("dkim tags: FWS, trailing ';', duplicates, bad names");
	test_assert(dkim_tags_parse(s, strlen(s), &t) == 0);
	test_assert(t.n == 3);
	test_assert(slice_eq(dkim_tags_get(&t, "v")->value, "1"));
	test_assert(slice_eq(dkim_tags_get(&t, "b")->value, "ab cd"));
	test_assert(dkim_tags_get(&t, "x") == NULL);
	test_assert(dkim_tags_parse("", 0, &t) == 0 && t.n == 0);
	test_assert(dkim_tags_parse("a=1;a=2", 7, &t) < 0);
	test_assert(dkim_tags_parse("a=1;;b=2", 8, &t) < 0);
	test_assert(dkim_tags_parse("1a=1", 4, &t) < 0);
	test_assert(dkim_tags_parse("a", 1, &t) < 0);
	test_assert(dkim_tags_parse("a=b\001", 4, &t) < 0);
	test_end();
}

static void test_sig_parse(void)
{
	struct dkim_sig sig;
	char reason[128];
	const char *ok = "v=1; a=rsa-sha256; c=relaxed/simple; d=Example.ORG; s=sel;"
			 " i=@mail.example.org; h=From : To; l=10; t=1; x=2;"
			 " bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA";
	const char *sha1 = "v=1; a=rsa-sha1; d=example.org; s=sel; h=from;"
			   " bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA";
	const char *nofrom = "v=1; a=rsa-sha256; d=example.org; s=sel; h=to;"
			     " bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA";
	const char *badi = "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; i=@example.com;"
			   " bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA";

	test_begin("dkim signature field: tags, rsa-sha1, From in h=, i= in d=");
	test_assert(dkim_sig_parse(ok, strlen(ok), &sig, reason, sizeof(reason)) == 0);
	test_assert_str(sig.domain, "example.org");
	test_assert_str(sig.idomain, "mail.example.org");
	test_assert(sig.hcanon == DKIM_CANON_RELAXED && sig.bcanon == DKIM_CANON_SIMPLE);
	test_assert(sig.nh == 2);
	test_assert_str(sig.h[0], "from");
	test_assert_str(sig.h[1], "to");
	test_assert(sig.has_l && sig.l == 10 && sig.t == 1 && sig.x == 2);
	dkim_sig_free(&sig);
	test_assert(dkim_sig_parse(sha1, strlen(sha1), &sig, reason, sizeof(reason)) < 0);
	test_assert(strstr(reason, "rsa-sha1") != NULL);
	dkim_sig_free(&sig);
	test_assert(dkim_sig_parse(nofrom, strlen(nofrom), &sig, reason, sizeof(reason)) < 0);
	test_assert_str(reason, "From not signed");
	dkim_sig_free(&sig);
	test_assert(dkim_sig_parse(badi, strlen(badi), &sig, reason, sizeof(reason)) < 0);
	test_assert_str(reason, "i= not in d=");
	dkim_sig_free(&sig);
	test_end();
}

static void test_keyrec(void)
{
	struct dkim_keyrec kr;
	char reason[128];

	test_begin("dkim key record: k=, p= empty, h=, t=s");
	test_assert(dkim_keyrec_parse("v=DKIM1; k=ed25519; p=AAAA", 26, &kr, reason, 128) == 0);
	test_assert(kr.alg == DKIM_ALG_ED25519_SHA256 && kr.p.len == 3 && !kr.revoked);
	dkim_keyrec_free(&kr);
	test_assert(dkim_keyrec_parse("v=DKIM1; p=", 11, &kr, reason, 128) == 0 && kr.revoked);
	dkim_keyrec_free(&kr);
	test_assert(dkim_keyrec_parse("p=AAAA; t=y:s", 13, &kr, reason, 128) == 0);
	test_assert(kr.strict && kr.testing && kr.alg == DKIM_ALG_RSA_SHA256);
	dkim_keyrec_free(&kr);
	test_assert(dkim_keyrec_parse("h=sha1; p=AAAA", 14, &kr, reason, 128) < 0);
	test_assert(dkim_keyrec_parse("k=dsa; p=AAAA", 13, &kr, reason, 128) < 0);
	test_assert(dkim_keyrec_parse("p=AAAA; v=DKIM1", 15, &kr, reason, 128) < 0);
	test_assert(dkim_keyrec_parse("v=DKIM1", 7, &kr, reason, 128) < 0);
	test_end();
}

/* RFC 6376 §3.4.6 */
static void test_canon_example(void)
{
	static const char ex[] = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";
	struct dkim_msg m;
	struct buf r = {0}, s = {0}, rb = {0}, sb = {0};

	test_begin("dkim canonicalisation: RFC 6376 §3.4.6");
	dkim_msg_split(&m, ex, sizeof(ex) - 1);
	test_assert(m.n == 2);
	for (size_t i = 0; i < m.n; i++) {
		dkim_canon_header(&r, DKIM_CANON_RELAXED, m.f[i].p, m.f[i].len);
		dkim_canon_header(&s, DKIM_CANON_SIMPLE, m.f[i].p, m.f[i].len);
	}
	dkim_canon_body(&rb, DKIM_CANON_RELAXED, m.body, m.body_len);
	dkim_canon_body(&sb, DKIM_CANON_SIMPLE, m.body, m.body_len);
	test_assert_str(r.data, "a:X\r\nb:Y Z\r\n");
	test_assert_str(s.data, "A: X\r\nB : Y\t\r\n\tZ  \r\n");
	test_assert_str(rb.data, " C\r\nD E\r\n");
	test_assert_str(sb.data, " C \r\nD \t E\r\n");
	buf_clear(&rb);
	buf_clear(&sb);
	dkim_canon_body(&rb, DKIM_CANON_RELAXED, "", 0);
	dkim_canon_body(&sb, DKIM_CANON_SIMPLE, "\r\n\r\n", 4);
	test_assert(rb.len == 0);
	test_assert_str(sb.data, "\r\n");
	dkim_msg_free(&m);
	buf_free(&r);
	buf_free(&s);
	buf_free(&rb);
	buf_free(&sb);
	test_end();
}

static void test_body_hash(void)
{
	unsigned char h[32], h2[32];

	test_begin("dkim body hash: empty body, l= cuts, l= past the end");
	test_assert(dkim_body_hash(DKIM_CANON_SIMPLE, "", 0, false, 0, h) == 0);
	test_assert(dkim_body_hash(DKIM_CANON_RELAXED, "ab\r\n", 4, true, 2, h) == 0);
	test_assert(dkim_body_hash(DKIM_CANON_RELAXED, "ab\r\nmore\r\n", 10, true, 2, h2) == 0);
	test_assert(memcmp(h, h2, 32) == 0);
	test_assert(dkim_body_hash(DKIM_CANON_RELAXED, "ab\r\n", 4, true, 5, h) < 0);
	test_end();
}

static char *signed_msg(const struct dkim_key *k, const char *msg)
{
	char *sig = dkim_sign(k, msg, strlen(msg), NOW);
	if (!sig)
		return NULL;
	char *out = xasprintf("%s%s", sig, msg);
	free(sig);
	return out;
}

/* verify msg with txt as the only key; the result of signature 0 */
static int verify(const char *msg, const char *txt, enum dns_result dr, time_t now,
		  struct dkim_result *res_r)
{
	struct dkim_verify *v = dkim_verify_begin(msg, strlen(msg));
	struct dns_answer a;
	int r = -1;

	dkim_verify_set_time(v, now);
	if (dkim_verify_count(v) == 0)
		goto out;
	if (dkim_verify_key_name(v, 0)) {
		dns_answer_init(&a, DNS_TYPE_TXT, dr);
		if (txt)
			dns_answer_add_txt(&a, txt, strlen(txt));
		dkim_verify_key(v, 0, &a);
		dns_answer_free(&a);
	}
	dkim_verify_finish(v);
	*res_r = *dkim_verify_result(v, 0);
	r = res_r->result;
out:
	dkim_verify_free(&v);
	return r;
}

static void round_trip(enum dkim_alg alg)
{
	struct dkim_key *k = dkim_key_generate("Example.org", "mr202612", alg, 2048);
	struct dkim_result res;
	char *txt, *m, *bad;

	test_assert(k != NULL);
	if (!k)
		return;
	txt = dkim_key_txt(k);
	m = signed_msg(k, MSG);
	test_assert(m != NULL && strstr(m, "h=from:") != NULL);
	if (getenv("DKIM_SHOW")) { /* for a look with another verifier */
		FILE *f = fopen(getenv("DKIM_SHOW"), "a");
		if (f) {
			fprintf(f, "%s\n%s\n", txt, m);
			fclose(f);
		}
	}
	test_assert(verify(m, txt, DNS_RESULT_OK, NOW, &res) == DKIM_PASS);
	test_assert_str(res.domain, "example.org");
	test_assert_str(res.selector, "mr202612");
	test_assert_str(res.algorithm, dkim_alg_name(alg));
	test_assert(strlen(res.b_prefix) >= 8);

	/* a PEM round trip signs the same way */
	char err[64], *pem = dkim_key_private_pem(k);
	struct dkim_key *k2 = dkim_key_new("example.org", "mr202612", pem, err, sizeof(err));
	test_assert(k2 != NULL && dkim_key_alg(k2) == alg);
	char *m2 = signed_msg(k2, MSG);
	test_assert(verify(m2, txt, DNS_RESULT_OK, NOW, &res) == DKIM_PASS);
	free(m2);
	dkim_key_free(&k2);
	free(pem);

	/* relaxed: whitespace changes in transit still verify */
	bad = xstrdup(m);
	char *sp = strstr(bad, "Subject: a test");
	sp[8] = '\t';
	test_assert(verify(bad, txt, DNS_RESULT_OK, NOW, &res) == DKIM_PASS);
	free(bad);

	bad = xstrdup(m);
	strstr(bad, "Hello Bob")[0] = 'J';
	test_assert(verify(bad, txt, DNS_RESULT_OK, NOW, &res) == DKIM_FAIL);
	test_assert_str(res.reason, "body hash mismatch");
	free(bad);

	bad = xstrdup(m);
	strstr(bad, "Subject: a test")[10] = 'A';
	test_assert(verify(bad, txt, DNS_RESULT_OK, NOW, &res) == DKIM_FAIL);
	test_assert_str(res.reason, "signature did not verify");
	free(bad);

	/* a second From added below the signature breaks it (over-signing) */
	char *hdr_end = strstr(m, "\r\n\r\n");
	bad = xasprintf("%.*s\r\nFrom: mallory@example.com%s", (int)(hdr_end - m), m, hdr_end);
	test_assert(verify(bad, txt, DNS_RESULT_OK, NOW, &res) == DKIM_FAIL);
	free(bad);

	test_assert(verify(m, "v=DKIM1; p=", DNS_RESULT_OK, NOW, &res) == DKIM_PERMERROR);
	test_assert_str(res.reason, "key revoked");
	test_assert(verify(m, NULL, DNS_RESULT_NXDOMAIN, NOW, &res) == DKIM_PERMERROR);
	test_assert(verify(m, NULL, DNS_RESULT_TEMP, NOW, &res) == DKIM_TEMPERROR);
	test_assert(verify(m, txt, DNS_RESULT_OK, NOW - 3600, &res) == DKIM_PERMERROR);
	test_assert_str(res.reason, "signature made in the future");
	free(m);
	free(txt);
	dkim_key_free(&k);
}

static void test_round_trip_rsa(void)
{
	test_begin("dkim sign+verify: rsa-sha256, and what must fail");
	round_trip(DKIM_ALG_RSA_SHA256);
	test_end();
}

static void test_round_trip_ed25519(void)
{
	test_begin("dkim sign+verify: ed25519-sha256, and what must fail");
	round_trip(DKIM_ALG_ED25519_SHA256);
	test_end();
}

static void test_refused(void)
{
	struct dkim_key *k = dkim_key_generate("example.org", "s", DKIM_ALG_ED25519_SHA256, 0);
	struct dkim_key *r = dkim_key_generate("example.org", "s", DKIM_ALG_RSA_SHA256, 2048);
	struct dkim_result res;
	char *m = signed_msg(k, MSG), *txt = dkim_key_txt(k), *rtxt = dkim_key_txt(r);

	test_begin("dkim verify: rsa-sha1, expired x=, key type, short key, no From, none");
	/* the same signature relabelled rsa-sha1 */
	char *sha1 = xstrdup(m);
	memcpy(strstr(sha1, "a=ed25519-sha256;"), "a=rsa-sha1;      ", 17);
	test_assert(verify(sha1, txt, DNS_RESULT_OK, NOW, &res) == DKIM_PERMERROR);
	test_assert(strstr(res.reason, "rsa-sha1") != NULL);
	test_assert_str(res.algorithm, "rsa-sha1");
	free(sha1);

	char *ex = xasprintf("DKIM-Signature: v=1; a=ed25519-sha256; d=example.org; s=s; h=from;"
			     " x=%d; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n%s",
			     NOW - 10, MSG);
	test_assert(verify(ex, txt, DNS_RESULT_OK, NOW, &res) == DKIM_PERMERROR);
	test_assert_str(res.reason, "signature expired");
	free(ex);

	test_assert(verify(m, rtxt, DNS_RESULT_OK, NOW, &res) == DKIM_PERMERROR);
	test_assert_str(res.reason, "key type does not match a=");

	/* RFC 8301 §3.2: an RSA key under 1024 bits is refused */
	char *rm = signed_msg(r, MSG);
	test_assert(
	    verify(rm,
		   "v=DKIM1; k=rsa; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBALymoCQ0jK0hkS5WMsLFms6TmI0r"
		   "K6izFksS/95C+n+CTNS7BAenQuvodsBo52602kUES2/7yIXFTSMOPySaArMCAwEAAQ==",
		   DNS_RESULT_OK, NOW, &res) == DKIM_PERMERROR);
	test_assert_str(res.reason, "key too short");
	test_assert(verify(rm, rtxt, DNS_RESULT_OK, NOW, &res) == DKIM_PASS);
	free(rm);
	test_assert(dkim_sign(k, "To: x@y\r\n\r\nbody\r\n", 17, NOW) == NULL);
	test_assert(verify(MSG, txt, DNS_RESULT_OK, NOW, &res) == -1);

	/* nine signatures: eight evaluated */
	struct buf many = {0};
	for (int i = 0; i < 9; i++)
		buf_append_str(&many, "DKIM-Signature: v=1; a=rsa-sha256\r\n");
	buf_append_str(&many, MSG);
	struct dkim_verify *v = dkim_verify_begin(many.data, many.len);
	test_assert(dkim_verify_count(v) == DKIM_VERIFY_MAX);
	test_assert(dkim_verify_key_name(v, 0) == NULL);
	dkim_verify_finish(v);
	test_assert(dkim_verify_result(v, 7)->result == DKIM_PERMERROR);
	dkim_verify_free(&v);
	buf_free(&many);
	free(m);
	free(txt);
	free(rtxt);
	dkim_key_free(&k);
	dkim_key_free(&r);
	test_end();
}

/* RFC 8463 Appendix A: the Ed25519 example, signature and key as printed */
static void test_rfc8463(void)
{
	static const char msg[] = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
				  " d=football.example.com; i=@football.example.com;\r\n"
				  " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
				  " subject : date : message-id : from : subject : date;\r\n"
				  " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
				  " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
				  " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
				  "From: Joe SixPack <joe@football.example.com>\r\n"
				  "To: Suzie Q <suzie@shopping.example.net>\r\n"
				  "Subject: Is dinner ready?\r\n"
				  "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
				  "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
				  "\r\n"
				  "Hi.\r\n"
				  "\r\n"
				  "We lost the game.  Are you hungry yet?\r\n"
				  "\r\n"
				  "Joe.\r\n";
	static const char key[] =
	    "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
	struct dkim_result res;

	test_begin("dkim verify: RFC 8463 Appendix A");
	test_assert(verify(msg, key, DNS_RESULT_OK, 1528637909, &res) == DKIM_PASS);
	test_assert_str(res.domain, "football.example.com");
	test_assert_str(res.selector, "brisbane");
	test_assert_str(res.b_prefix, "/gCrinpcQOoI");
	test_end();
}

/* Signed by another implementation (python3-dkim, a 1024-bit RSA key):
   c=simple/simple and relaxed/simple, l=28, h= with spaces, i=. */
static const char PY_BODY[] = "From: Joe <joe@example.com>\r\n"
			      "To: Suzie <suzie@example.net>\r\n"
			      "Subject: Is  dinner\r\n"
			      " ready?\r\n"
			      "\r\n"
			      "Hi.  \r\n"
			      "\r\n"
			      "We lost the game.\r\n"
			      "\r\n"
			      "\r\n";
static const char PY_SIG_SIMPLE[] =
    "DKIM-Signature: v=1; a=rsa-sha256; c=simple/simple; d=example.com;\r\n"
    " i=@example.com; l=28; q=dns/txt; s=old; t=1796346049; h=from : to :\r\n"
    " subject; bh=TW8xXzvseI2Cf38081OCZVwx940HU3JqS2h9dDhJP4w=;\r\n"
    " b=iqkH378zUMN+zVc98ILf35EXp9XFtDf3xUemPCVFnjCIgJDuYVNxeXLbLSG00d9LQpCEy\r\n"
    " uS1Ae21sc7Hswu8RsvhM3zuRxEBri8Raq7f6mkeMHTx30NcKkNqP+GTGNizTgmsfdDRQMlm\r\n"
    " 1ubebGUO1ZLOc5xj1eE0TZCEiWLP9ng=\r\n";
static const char PY_SIG_RELAXED[] =
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/simple; d=example.com;\r\n"
    " i=@example.com; l=28; q=dns/txt; s=old; t=1796346049; h=from : to :\r\n"
    " subject; bh=TW8xXzvseI2Cf38081OCZVwx940HU3JqS2h9dDhJP4w=;\r\n"
    " b=XpjI8a6zNmIejMc+kr6L3lfjzRJ8TPFFjLa5Xty4FbiMm5auZQX6hQiUBxY5bzL35pz3i\r\n"
    " 7LuQ7BJzRQZL965A82l4TcC0lK3UPacMaFzlJ1XKMDxJExtfg1ZXGU50Vc+TMJqkeUi7pWr\r\n"
    " mhyolO2hyRy1IqIwnbicuH+rWY0ZyTo=\r\n";
static const char PY_KEY[] =
    "v=DKIM1; k=rsa; "
    "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC3pLUCfoWa5ycO9eVuJg/"
    "S95xZ9IvyJXSquFm5qaOhuFQLGiwyuqGFyFQ4ZwOA3PcObKlZM/AovjP+K5X9/Rl/"
    "Or1iSB14NX8GqS7ULPcGCpBIhqcF+lH1oAJKLZkd1ME0AbNxkv4kRA1A0NS8ev/em5CczM2eu24Nc24kGI8LawIDAQAB";

static void test_foreign(void)
{
	struct dkim_result res;
	const char *sigs[] = {PY_SIG_SIMPLE, PY_SIG_RELAXED};

	test_begin("dkim verify: another signer's simple and relaxed, l= honoured");
	for (size_t i = 0; i < 2; i++) {
		char *m = xasprintf("%s%s", sigs[i], PY_BODY);
		test_assert(verify(m, PY_KEY, DNS_RESULT_OK, 1796346049, &res) == DKIM_PASS);
		free(m);
		/* text after l= octets is not covered */
		m = xasprintf("%s%sadded below\r\n", sigs[i], PY_BODY);
		test_assert(verify(m, PY_KEY, DNS_RESULT_OK, 1796346049, &res) == DKIM_PASS);
		strstr(m, "Hi.")[0] = 'h';
		test_assert(verify(m, PY_KEY, DNS_RESULT_OK, 1796346049, &res) == DKIM_FAIL);
		free(m);
	}
	/* simple header: a changed space fails; relaxed: it passes */
	char *m = xasprintf("%s%s", PY_SIG_SIMPLE, PY_BODY);
	memcpy(strstr(m, "Is  dinner"), "Is \tdinner", 10);
	test_assert(verify(m, PY_KEY, DNS_RESULT_OK, 1796346049, &res) == DKIM_FAIL);
	free(m);
	m = xasprintf("%s%s", PY_SIG_RELAXED, PY_BODY);
	memcpy(strstr(m, "Is  dinner"), "Is \tdinner", 10);
	test_assert(verify(m, PY_KEY, DNS_RESULT_OK, 1796346049, &res) == DKIM_PASS);
	free(m);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_tags, test_sig_parse, test_keyrec,
					   test_canon_example, test_body_hash, test_round_trip_rsa,
					   test_round_trip_ed25519, test_refused, test_rfc8463,
					   test_foreign, NULL});
}
