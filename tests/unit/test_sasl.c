/* SPDX-License-Identifier: MIT */
/*
 * test_sasl.c - proto/sasl.h: the pure PLAIN and SCRAM parsers against
 * tables; SCRAM-SHA-256 against the example exchange of RFC 7677 §3 (the
 * verifier supplied through the lookup hook, the server nonce fixed through
 * the nonce hook); unknown users in SCRAM; and PLAIN, LOGIN and SCRAM end to
 * end through a real store in a temporary folder (auth_password and
 * scram_verifier_make of directory/); EXTERNAL's authorization identities
 * and its lookup through directory_identity(); and which step checks a
 * password, for the login brake (sasl_server_checks).
 */
#include "directory/directory.h"
#include "directory/password.h"
#include "proto/sasl.h"
#include "store/store.h"
#include "test_common.h"
#include "util/base64.h"

#include <ftw.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- parsers ---------------------------------------------------------------- */

struct plain_case {
	const char *in;
	size_t len;
	int ret;
	const char *authzid, *authcid, *passwd;
};

static bool slice_is(struct slice s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

#define P(s) s, sizeof(s) - 1

static void test_plain_parse(void)
{
	static const struct plain_case cases[] = {
	    {P("\0user\0pencil"), 0, "", "user", "pencil"},
	    {P("user\0user\0pencil"), 0, "user", "user", "pencil"},
	    {P("admin\0user\0pen cil"), 0, "admin", "user", "pen cil"},
	    {P("\0j\xc3\xb6rg\0p\xc3\xa4ss"), 0, "", "j\xc3\xb6rg", "p\xc3\xa4ss"},
	    {P("\0user\0pencil\0"), -1, NULL, NULL, NULL}, /* third NUL */
	    {P("\0user\0pen\0cil"), -1, NULL, NULL, NULL},
	    {P("\0user"), -1, NULL, NULL, NULL}, /* one NUL */
	    {P("userpencil"), -1, NULL, NULL, NULL},
	    {P(""), -1, NULL, NULL, NULL},
	    {P("\0\0pencil"), -1, NULL, NULL, NULL},	   /* empty authcid */
	    {P("\0user\0"), -1, NULL, NULL, NULL},	   /* empty password */
	    {P("\0us\ter\0pencil"), -1, NULL, NULL, NULL}, /* control char */
	    {P("\0user\x7f\0pencil"), -1, NULL, NULL, NULL},
	    {P("a\x01\0user\0pencil"), -1, NULL, NULL, NULL},	 /* in authzid */
	    {P("\0us\xc3\0pencil"), -1, NULL, NULL, NULL},	 /* truncated UTF-8 */
	    {P("\0\xc0\xafuser\0pencil"), -1, NULL, NULL, NULL}, /* overlong */
	    {P("\0\xed\xa0\x80\0pencil"), -1, NULL, NULL, NULL}, /* surrogate */
	};
	test_begin("sasl_plain_parse table");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		const struct plain_case *c = &cases[i];
		struct slice z, u, p;
		int r = sasl_plain_parse(c->in, c->len, &z, &u, &p);
		test_assert(r == c->ret);
		if (r != c->ret)
			printf("  case %zu\n", i);
		if (r == 0 && c->ret == 0)
			test_assert(slice_is(z, c->authzid) && slice_is(u, c->authcid) &&
				    slice_is(p, c->passwd));
	}
	/* limits */
	char big[SASL_NAME_MAX + 20];
	memset(big, 'a', sizeof(big));
	big[0] = '\0';
	big[SASL_NAME_MAX + 2] = '\0'; /* authcid of SASL_NAME_MAX + 1 octets */
	struct slice z, u, p;
	test_assert(sasl_plain_parse(big, sizeof(big), &z, &u, &p) < 0);
	big[SASL_NAME_MAX + 2] = 'a';
	big[SASL_NAME_MAX + 1] = '\0'; /* exactly SASL_NAME_MAX */
	test_assert(sasl_plain_parse(big, sizeof(big), &z, &u, &p) == 0);
	test_assert(u.len == SASL_NAME_MAX);
	test_end();
}

struct first_case {
	const char *in;
	int ret;
	const char *user, *authzid, *nonce, *gs2;
};

static void test_scram_first_parse(void)
{
	static const struct first_case cases[] = {
	    {"n,,n=user,r=rOprNGfwEbeRWgbNEkqO", 0, "user", "", "rOprNGfwEbeRWgbNEkqO", "n,,"},
	    {"y,,n=user,r=abc", 0, "user", "", "abc", "y,,"},
	    {"n,a=user,n=user,r=abc", 0, "user", "user", "abc", "n,a=user,"},
	    {"n,,n=a=2Cb=3Dc,r=abc", 0, "a,b=c", "", "abc", "n,,"},
	    {"n,,n=user,r=abc,x=ext", 0, "user", "", "abc", "n,,"},
	    {"p=tls-unique,,n=user,r=abc", -1, NULL, NULL, NULL, NULL}, /* no -PLUS */
	    {"p,,n=user,r=abc", -1, NULL, NULL, NULL, NULL},
	    {"x,,n=user,r=abc", -1, NULL, NULL, NULL, NULL},
	    {"n,,m=ext,n=user,r=abc", -1, NULL, NULL, NULL, NULL}, /* mandatory ext */
	    {"n,,n=user,r=abc,m=ext", -1, NULL, NULL, NULL, NULL},
	    {"n,,n=user", -1, NULL, NULL, NULL, NULL},
	    {"n,,n=user,r=", -1, NULL, NULL, NULL, NULL},
	    {"n,,n=,r=abc", -1, NULL, NULL, NULL, NULL},
	    {"n,,n=us=2Xer,r=abc", -1, NULL, NULL, NULL, NULL},
	    {"n,,n=user=,r=abc", -1, NULL, NULL, NULL, NULL},
	    {"n,,r=abc,n=user", -1, NULL, NULL, NULL, NULL},
	    {"n,b=user,n=user,r=abc", -1, NULL, NULL, NULL, NULL},
	    {"n,,n=user,r=a\x7f", -1, NULL, NULL, NULL, NULL},
	    {"n,,n=user,r=abc,", -1, NULL, NULL, NULL, NULL},
	    {"n", -1, NULL, NULL, NULL, NULL},
	    {"n,", -1, NULL, NULL, NULL, NULL},
	    {"n,,", -1, NULL, NULL, NULL, NULL},
	    {"", -1, NULL, NULL, NULL, NULL},
	};
	test_begin("sasl_scram_parse_first table");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		const struct first_case *c = &cases[i];
		struct sasl_scram_first f;
		int r = sasl_scram_parse_first(c->in, strlen(c->in), &f);
		test_assert(r == c->ret);
		if (r != c->ret)
			printf("  case %zu: %s\n", i, c->in);
		if (r == 0 && c->ret == 0) {
			test_assert_str(f.user, c->user);
			test_assert_str(f.authzid, c->authzid);
			test_assert(slice_is(f.nonce, c->nonce));
			test_assert(slice_is(f.gs2_header, c->gs2));
			test_assert(f.bare.p == c->in + strlen(c->gs2));
		}
	}
	test_end();
}

static void test_scram_final_parse(void)
{
	static const struct {
		const char *in;
		int ret;
		const char *without;
	} cases[] = {
	    {"c=biws,r=abc,p=cHJvb2Y=", 0, "c=biws,r=abc"},
	    {"c=biws,r=abc,x=1,p=cHJvb2Y=", 0, "c=biws,r=abc,x=1"},
	    {"c=biws,r=abc", -1, NULL},
	    {"c=biws,r=abc,p=", -1, NULL},
	    {"c=biws,r=abc,p=x,y=z", -1, NULL}, /* proof must be last */
	    {"r=abc,c=biws,p=x", -1, NULL},
	    {"c=,r=abc,p=x", -1, NULL},
	    {"c=biws,p=x", -1, NULL},
	    {"c=biws,r=abc,m=1,p=x", -1, NULL},
	    {"", -1, NULL},
	};
	test_begin("sasl_scram_parse_final table");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct sasl_scram_final f;
		int r = sasl_scram_parse_final(cases[i].in, strlen(cases[i].in), &f);
		test_assert(r == cases[i].ret);
		if (r == 0 && cases[i].ret == 0)
			test_assert(slice_is(f.without_proof, cases[i].without));
	}
	test_end();
}

static void test_mechs(void)
{
	enum sasl_mech m;
	test_begin("sasl mechanism names");
	test_assert(sasl_mech_parse("plain", 5, &m) == 0 && m == SASL_PLAIN);
	test_assert(sasl_mech_parse("LOGIN", 5, &m) == 0 && m == SASL_LOGIN);
	test_assert(sasl_mech_parse("scram-sha-256", 13, &m) == 0 && m == SASL_SCRAM_SHA_256);
	test_assert(sasl_mech_parse("SCRAM-SHA-256-PLUS", 18, &m) < 0);
	test_assert(sasl_mech_parse("PLAINX", 5, &m) == 0); /* length-bounded */
	test_assert(sasl_mech_parse("CRAM-MD5", 8, &m) < 0);
	test_assert_str(sasl_mech_name(SASL_SCRAM_SHA_256), "SCRAM-SHA-256");
	test_assert(sasl_mech_plaintext(SASL_PLAIN) && sasl_mech_plaintext(SASL_LOGIN));
	test_assert(!sasl_mech_plaintext(SASL_SCRAM_SHA_256));
	test_assert(sasl_mech_parse("external", 8, &m) == 0 && m == SASL_EXTERNAL);
	test_assert_str(sasl_mech_name(SASL_EXTERNAL), "EXTERNAL");
	test_assert(!sasl_mech_plaintext(SASL_EXTERNAL));
	test_end();
}

static void test_external_authzid(void)
{
	static const char addr[] = "alice@example.test";
	static const struct {
		const char *authzid;
		bool ok;
	} cases[] = {
	    {"", true},
	    {"alice@example.test", true},
	    {"alice@EXAMPLE.Test", true},  /* domains compare without case */
	    {"Alice@example.test", false}, /* local parts do not */
	    {"bob@example.test", false},
	    {"alice@example.tes", false},
	    {"alice@example.test.", false},
	    {"alice", false},
	};
	test_begin("sasl EXTERNAL authorization identities");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		bool ok =
		    sasl_external_authzid_ok(addr, cases[i].authzid, strlen(cases[i].authzid));
		test_assert(ok == cases[i].ok);
		if (ok != cases[i].ok)
			printf("  case %zu\n", i);
	}
	test_end();
}

/* --- SCRAM-SHA-256, RFC 7677 §3 ---------------------------------------------- */

static const char rfc_salt_b64[] = "W22ZaJ0SNY7soEsUEjb6gQ==";

/* Builds "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>" (password.h). */
static char *make_verifier(const char *password, const char *salt_b64, unsigned iter)
{
	struct buf salt = {0}, v = {0};
	unsigned char sp[32], ck[32], sk[32], stored[32];
	unsigned len = 32;

	base64_decode(&salt, salt_b64, strlen(salt_b64));
	PKCS5_PBKDF2_HMAC(password, (int)strlen(password), (unsigned char *)salt.data,
			  (int)salt.len, (int)iter, EVP_sha256(), 32, sp);
	HMAC(EVP_sha256(), sp, 32, (const unsigned char *)"Client Key", 10, ck, &len);
	HMAC(EVP_sha256(), sp, 32, (const unsigned char *)"Server Key", 10, sk, &len);
	SHA256(ck, 32, stored);
	buf_printf(&v, "SCRAM-SHA-256$%u:%s$", iter, salt_b64);
	base64_encode(&v, stored, 32);
	buf_append_c(&v, ':');
	base64_encode(&v, sk, 32);
	buf_free(&salt);
	return v.data;
}

static int rfc_lookup(void *ctx, struct store *st, const char *user, char **verifier_r,
		      struct auth_identity *id_r)
{
	if (strcmp(user, "user") != 0)
		return STORE_NOTFOUND;
	*verifier_r = make_verifier("pencil", rfc_salt_b64, 4096);
	id_r->mailbox_id = 42;
	snprintf(id_r->address, sizeof(id_r->address), "user");
	id_r->enabled = id_r->pop3_enabled = true;
	return STORE_OK;
}

static int tempfail_lookup(void *ctx, struct store *st, const char *user, char **verifier_r,
			   struct auth_identity *id_r)
{
	return STORE_TEMP;
}

/* The built-in directory without an auth cache, for every exchange. */
static struct directory *tdir(void)
{
	static struct directory *d;
	if (d == NULL)
		d = test_directory("[limits]\nauth_cache_ttl = 0\n");
	return d;
}

static enum sasl_step step_str(struct sasl_server *s, const char *in, struct buf *out,
			       struct auth_identity *id)
{
	buf_clear(out);
	return sasl_server_step(s, NULL, in, in ? strlen(in) : 0, out, id);
}

static enum sasl_step step_st(struct sasl_server *s, struct store *st, const char *in,
			      struct buf *out, struct auth_identity *id)
{
	buf_clear(out);
	return sasl_server_step(s, st, in, in ? strlen(in) : 0, out, id);
}

static void test_scram_rfc7677(void)
{
	struct sasl_server *s = sasl_server_new(SASL_SCRAM_SHA_256, tdir());
	struct buf out = {0};
	struct auth_identity id;

	test_begin("SCRAM-SHA-256: RFC 7677 example exchange");
	memset(&id, 0, sizeof(id));
	sasl_server_set_scram_lookup(s, rfc_lookup, NULL);
	sasl_server_set_nonce(s, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
	/* AUTH without initial response: an empty challenge first */
	test_assert(step_str(s, NULL, &out, &id) == SASL_CONTINUE);
	test_assert(out.len == 0);
	test_assert(step_str(s, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", &out, &id) == SASL_CONTINUE);
	test_assert_str(out.data, "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
				  "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
	test_assert_str(sasl_server_authcid(s), "user");
	test_assert(step_str(s,
			     "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
			     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			     &out, &id) == SASL_SUCCESS);
	test_assert_str(out.data, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
	test_assert(id.mailbox_id == 42);
	/* nothing after the end */
	test_assert(step_str(s, "x", &out, &id) == SASL_MALFORMED);
	sasl_server_free(&s);
	test_assert(s == NULL);
	sasl_server_free(&s);
	buf_free(&out);
	test_end();
}

/* The client side of SCRAM-SHA-256 for `password`, given server-first. */
static char *scram_client_final(const char *gs2, const char *bare, const char *server_first,
				const char *password)
{
	char nonce[256], salt[128];
	unsigned iter;
	struct buf salt_raw = {0}, msg = {0}, am = {0};
	unsigned char sp[32], ck[32], stored[32], sig[32], proof[32];
	unsigned len = 32;

	if (sscanf(server_first, "r=%255[^,],s=%127[^,],i=%u", nonce, salt, &iter) != 3)
		return NULL;
	base64_decode(&salt_raw, salt, strlen(salt));
	PKCS5_PBKDF2_HMAC(password, (int)strlen(password), (unsigned char *)salt_raw.data,
			  (int)salt_raw.len, (int)iter, EVP_sha256(), 32, sp);
	HMAC(EVP_sha256(), sp, 32, (const unsigned char *)"Client Key", 10, ck, &len);
	SHA256(ck, 32, stored);
	buf_append_str(&msg, "c=");
	base64_encode(&msg, gs2, strlen(gs2));
	buf_printf(&msg, ",r=%s", nonce);
	buf_printf(&am, "%s,%s,%s", bare, server_first, msg.data);
	HMAC(EVP_sha256(), stored, 32, (unsigned char *)am.data, am.len, sig, &len);
	for (int i = 0; i < 32; i++)
		proof[i] = ck[i] ^ sig[i];
	buf_append_str(&msg, ",p=");
	base64_encode(&msg, proof, 32);
	buf_free(&salt_raw);
	buf_free(&am);
	return msg.data;
}

static void test_scram_failures(void)
{
	static const char first[] = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
	static const char *const finals[] = {
	    /* wrong proof */
	    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "p=AHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	    /* nonce changed */
	    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,"
	    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	    /* c= says "y,," */
	    "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	    /* proof not base64 / short */
	    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=!!!!",
	    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",
	};
	static const enum sasl_step expect[] = {SASL_FAILED, SASL_MALFORMED, SASL_MALFORMED,
						SASL_MALFORMED, SASL_MALFORMED};
	struct buf out = {0};
	struct auth_identity id;

	test_begin("SCRAM-SHA-256: wrong proofs, nonces, channel binding, authzid");
	for (size_t i = 0; i < N_ELEMENTS(finals); i++) {
		struct sasl_server *s = sasl_server_new(SASL_SCRAM_SHA_256, tdir());
		sasl_server_set_scram_lookup(s, rfc_lookup, NULL);
		sasl_server_set_nonce(s, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
		test_assert(step_str(s, first, &out, &id) == SASL_CONTINUE);
		test_assert(step_str(s, finals[i], &out, &id) == expect[i]);
		sasl_server_free(&s);
	}
	/* a foreign authzid fails even with the right proof */
	struct sasl_server *s = sasl_server_new(SASL_SCRAM_SHA_256, tdir());
	sasl_server_set_scram_lookup(s, rfc_lookup, NULL);
	test_assert(step_str(s, "n,a=admin,n=user,r=abc", &out, &id) == SASL_CONTINUE);
	char *final = scram_client_final("n,a=admin,", "n=user,r=abc", out.data, "pencil");
	test_assert(final != NULL && step_str(s, final, &out, &id) == SASL_FAILED);
	free(final);
	sasl_server_free(&s);
	/* the same with a matching authzid succeeds: the helper is right */
	s = sasl_server_new(SASL_SCRAM_SHA_256, tdir());
	sasl_server_set_scram_lookup(s, rfc_lookup, NULL);
	test_assert(step_str(s, "n,a=user,n=user,r=abc", &out, &id) == SASL_CONTINUE);
	final = scram_client_final("n,a=user,", "n=user,r=abc", out.data, "pencil");
	test_assert(final != NULL && step_str(s, final, &out, &id) == SASL_SUCCESS);
	free(final);
	sasl_server_free(&s);
	/* store trouble */
	s = sasl_server_new(SASL_SCRAM_SHA_256, tdir());
	sasl_server_set_scram_lookup(s, tempfail_lookup, NULL);
	test_assert(step_str(s, first, &out, &id) == SASL_TEMPFAIL);
	sasl_server_free(&s);
	/* malformed first messages */
	s = sasl_server_new(SASL_SCRAM_SHA_256, tdir());
	test_assert(step_str(s, "p=tls-unique,,n=user,r=abc", &out, &id) == SASL_MALFORMED);
	sasl_server_free(&s);
	buf_free(&out);
	test_end();
}

static void test_scram_unknown_user(void)
{
	struct buf out1 = {0}, out2 = {0};
	struct auth_identity id;

	test_begin("SCRAM-SHA-256: unknown users get a stable fake salt, then fail");
	for (int i = 0; i < 2; i++) {
		struct sasl_server *s = sasl_server_new(SASL_SCRAM_SHA_256, tdir());
		struct buf *out = i == 0 ? &out1 : &out2;
		sasl_server_set_scram_lookup(s, rfc_lookup, NULL);
		sasl_server_set_nonce(s, "SERVER");
		test_assert(step_str(s, "n,,n=nobody,r=abc", out, &id) == SASL_CONTINUE);
		test_assert(strstr(out->data, ",i=4096") != NULL);
		test_assert(strncmp(out->data, "r=abcSERVER,s=", 14) == 0);
		struct buf tmp = {0};
		test_assert(
		    step_str(s, "c=biws,r=abcSERVER,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			     &tmp, &id) == SASL_FAILED);
		test_assert(tmp.len == 0);
		buf_free(&tmp);
		sasl_server_free(&s);
	}
	test_assert_str(out1.data, out2.data); /* same salt both times */
	/* random nonces differ and carry the client's prefix */
	struct sasl_server *a = sasl_server_new(SASL_SCRAM_SHA_256, tdir());
	struct sasl_server *b = sasl_server_new(SASL_SCRAM_SHA_256, tdir());
	sasl_server_set_scram_lookup(a, rfc_lookup, NULL);
	sasl_server_set_scram_lookup(b, rfc_lookup, NULL);
	test_assert(step_str(a, "n,,n=user,r=abc", &out1, &id) == SASL_CONTINUE);
	test_assert(step_str(b, "n,,n=user,r=abc", &out2, &id) == SASL_CONTINUE);
	test_assert(strcmp(out1.data, out2.data) != 0);
	test_assert(strncmp(out1.data, "r=abc", 5) == 0 && strchr(out1.data, ',') - out1.data > 20);
	sasl_server_free(&a);
	sasl_server_free(&b);
	buf_free(&out1);
	buf_free(&out2);
	test_end();
}

/* --- through a real store ------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void test_store_backed(void)
{
	char *dir = test_tmpdir();
	struct store *st = NULL;
	char *hash = NULL, *verifier = NULL;
	struct buf out = {0};
	struct auth_identity id;
	struct sasl_server *s;

	test_begin("PLAIN, LOGIN, SCRAM-SHA-256, EXTERNAL through the store");
	test_assert(store_open(dir, true, &st) == STORE_OK);
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(password_hash("pencil", &hash) == 0);
	test_assert(scram_verifier_make("pencil", SCRAM_ITERATIONS_DEFAULT, &verifier) == 0);
	struct store_user_new u = {
	    .address = "user@example.test", .pw_hash = hash, .scram = verifier};
	test_assert(store_user_add(st, &u) == STORE_OK);

	static const char good[] = "\0user@example.test\0pencil";
	static const char self[] = "user@example.test\0user@example.test\0pencil";
	static const char bad[] = "\0user@example.test\0pencil2";
	static const char other[] = "admin@example.test\0user@example.test\0pencil";
	static const char nobody[] = "\0nobody@example.test\0pencil";
	static const struct {
		const char *in;
		size_t len;
		enum sasl_step r;
	} plain[] = {
	    {good, sizeof(good) - 1, SASL_SUCCESS},    {self, sizeof(self) - 1, SASL_SUCCESS},
	    {bad, sizeof(bad) - 1, SASL_FAILED},       {other, sizeof(other) - 1, SASL_FAILED},
	    {nobody, sizeof(nobody) - 1, SASL_FAILED}, {"x", 1, SASL_MALFORMED},
	};
	for (size_t i = 0; i < N_ELEMENTS(plain); i++) {
		s = sasl_server_new(SASL_PLAIN, tdir());
		memset(&id, 0, sizeof(id));
		enum sasl_step r = sasl_server_step(s, st, plain[i].in, plain[i].len, &out, &id);
		test_assert(r == plain[i].r);
		if (r == SASL_SUCCESS)
			test_assert_str(id.address, "user@example.test");
		sasl_server_free(&s);
	}
	/* PLAIN without an initial response */
	s = sasl_server_new(SASL_PLAIN, tdir());
	test_assert(sasl_server_step(s, st, NULL, 0, &out, &id) == SASL_CONTINUE);
	test_assert(sasl_server_step(s, st, good, sizeof(good) - 1, &out, &id) == SASL_SUCCESS);
	sasl_server_free(&s);

	/* LOGIN */
	s = sasl_server_new(SASL_LOGIN, tdir());
	test_assert(step_str(s, NULL, &out, &id) == SASL_CONTINUE);
	test_assert_str(out.data, "Username:");
	buf_clear(&out);
	test_assert(sasl_server_step(s, st, "user@example.test", 17, &out, &id) == SASL_CONTINUE);
	test_assert_str(out.data, "Password:");
	buf_clear(&out);
	test_assert(sasl_server_step(s, st, "pencil", 6, &out, &id) == SASL_SUCCESS);
	sasl_server_free(&s);
	s = sasl_server_new(SASL_LOGIN, tdir()); /* initial response = user name */
	test_assert(sasl_server_step(s, st, "user@example.test", 17, &out, &id) == SASL_CONTINUE);
	test_assert(sasl_server_step(s, st, "wrong", 5, &out, &id) == SASL_FAILED);
	sasl_server_free(&s);
	s = sasl_server_new(SASL_LOGIN, tdir());
	test_assert(sasl_server_step(s, st, "", 0, &out, &id) == SASL_MALFORMED);
	sasl_server_free(&s);

	/* SCRAM with the verifier made by directory/password.c */
	s = sasl_server_new(SASL_SCRAM_SHA_256, tdir());
	buf_clear(&out);
	test_assert(step_st(s, st, "n,,n=user@example.test,r=clientnonce", &out, &id) ==
		    SASL_CONTINUE);
	char *final =
	    scram_client_final("n,,", "n=user@example.test,r=clientnonce", out.data, "pencil");
	test_assert(final != NULL);
	test_assert(final != NULL && step_st(s, st, final, &out, &id) == SASL_SUCCESS);
	test_assert(strncmp(out.data, "v=", 2) == 0);
	test_assert_str(id.address, "user@example.test");
	free(final);
	sasl_server_free(&s);
	s = sasl_server_new(SASL_SCRAM_SHA_256, tdir());
	test_assert(step_st(s, st, "n,,n=user@example.test,r=clientnonce", &out, &id) ==
		    SASL_CONTINUE);
	final = scram_client_final("n,,", "n=user@example.test,r=clientnonce", out.data, "wrong");
	test_assert(final != NULL && step_st(s, st, final, &out, &id) == SASL_FAILED);
	free(final);
	sasl_server_free(&s);

	/* EXTERNAL: the certificate's address, looked up without a password */
	static const struct {
		const char *cert, *authzid; /* authzid NULL: no initial response */
		enum sasl_step r;
	} ext[] = {
	    {"user@example.test", "", SASL_SUCCESS},
	    {"user@example.test", NULL, SASL_SUCCESS},
	    {"user@example.test", "user@EXAMPLE.test", SASL_SUCCESS},
	    {"user@example.test", "USER@example.test", SASL_FAILED},
	    {"user@example.test", "admin@example.test", SASL_FAILED},
	    {"nobody@example.test", "", SASL_FAILED},
	    {NULL, "", SASL_FAILED}, /* no certificate */
	};
	for (size_t i = 0; i < N_ELEMENTS(ext); i++) {
		char acct[SASL_NAME_MAX + 1];
		s = sasl_server_new(SASL_EXTERNAL, tdir());
		sasl_server_set_external(s, ext[i].cert);
		memset(&id, 0, sizeof(id));
		if (ext[i].authzid == NULL) {
			test_assert(step_st(s, st, NULL, &out, &id) == SASL_CONTINUE);
			test_assert(out.len == 0);
		}
		test_assert(sasl_server_checks(s, "", 0, acct)); /* the brake waits here */
		test_assert_str(acct, ext[i].cert != NULL ? ext[i].cert : "");
		const char *in = ext[i].authzid != NULL ? ext[i].authzid : "";
		enum sasl_step r = step_st(s, st, in, &out, &id);
		test_assert(r == ext[i].r);
		if (r != ext[i].r)
			printf("  EXTERNAL case %zu: %d\n", i, (int)r);
		if (r == SASL_SUCCESS)
			test_assert_str(id.address, "user@example.test");
		sasl_server_free(&s);
	}
	s = sasl_server_new(SASL_EXTERNAL, tdir());
	sasl_server_set_external(s, "user@example.test");
	test_assert(step_st(s, st, "a\tb", &out, &id) == SASL_MALFORMED);
	sasl_server_free(&s);

	buf_free(&out);
	free(hash);
	free(verifier);
	store_close(&st);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	test_end();
}

/* sasl_server_checks: true, with the account, exactly before the step that
   checks a password, so the login brake waits there and only there. */
static void test_checks(void)
{
	struct sasl_server *s;
	struct buf out = {0};
	struct auth_identity id;
	char acct[SASL_NAME_MAX + 1];
	static const char plain[] = "\0alice@example.test\0pw";
	static const char bad_plain[] = "alice@example.test\0pw";

	test_begin("SASL: the step that checks credentials, and for whom");
	memset(&id, 0, sizeof(id));
	/* PLAIN: the one message, as initial response or after the empty challenge */
	for (int ir = 0; ir < 2; ir++) {
		s = sasl_server_new(SASL_PLAIN, tdir());
		if (ir == 0)
			test_assert(step_str(s, NULL, &out, &id) == SASL_CONTINUE);
		test_assert(!sasl_server_checks(s, NULL, 0, acct));
		test_assert(!sasl_server_checks(s, bad_plain, sizeof(bad_plain) - 1, acct));
		acct[0] = '\0';
		test_assert(sasl_server_checks(s, plain, sizeof(plain) - 1, acct));
		test_assert_str(acct, "alice@example.test");
		sasl_server_free(&s);
	}
	/* LOGIN: the name is checked by nobody, the password is */
	s = sasl_server_new(SASL_LOGIN, tdir());
	test_assert(step_str(s, NULL, &out, &id) == SASL_CONTINUE);
	test_assert(!sasl_server_checks(s, "bob@example.test", 16, acct));
	test_assert(step_str(s, "bob@example.test", &out, &id) == SASL_CONTINUE);
	test_assert(sasl_server_checks(s, "pw", 2, acct));
	test_assert_str(acct, "bob@example.test");
	sasl_server_free(&s);
	/* SCRAM: client-first only fetches the salt; client-final is checked */
	s = sasl_server_new(SASL_SCRAM_SHA_256, tdir());
	sasl_server_set_scram_lookup(s, rfc_lookup, NULL);
	test_assert(!sasl_server_checks(s, "n,,n=user,r=abc", 15, acct));
	test_assert(step_str(s, "n,,n=user,r=abc", &out, &id) == SASL_CONTINUE);
	test_assert(sasl_server_checks(s, "c=biws", 6, acct));
	test_assert_str(acct, "user");
	test_assert(step_str(s, "c=biws", &out, &id) == SASL_MALFORMED);
	test_assert(!sasl_server_checks(s, "c=biws", 6, acct)); /* exchange over */
	sasl_server_free(&s);
	buf_free(&out);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){
	    test_plain_parse, test_scram_first_parse, test_scram_final_parse, test_mechs,
	    test_external_authzid, test_scram_rfc7677, test_scram_failures, test_scram_unknown_user,
	    test_store_backed, test_checks, NULL});
}
