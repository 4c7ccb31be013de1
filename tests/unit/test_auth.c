/* SPDX-License-Identifier: MIT */
/*
 * test_auth.c - directory/password.h and directory/auth.h beyond the basics
 * of test_password.c: every crypt(3) scheme the header lists (hashes made in
 * the test with libxcrypt), malformed and mutated stored strings, the length
 * limit at its edge, SCRAM-SHA-256 verifiers checked against keys recomputed
 * here with OpenSSL (RFC 5802 §3), and auth_password / auth_apop against a
 * real store in a temporary folder, with the APOP digest computed here with
 * OpenSSL EVP (RFC 1939 §7).
 */
#include "directory/directory.h"
#include "directory/password.h"
#include "store/store.h"
#include "test_common.h"
#include "util/base64.h"

#include <crypt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A crypt(3) hash of pw for the given prefix ("$6$", ...), or NULL if this
   libxcrypt does not offer the method. Caller frees. */
static char *make_crypt(const char *prefix, const char *pw)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	char *out = NULL;

	if (crypt_gensalt_rn(prefix, 0, NULL, 0, setting, sizeof(setting)) != NULL) {
		const char *h = crypt_r(pw, setting, cd);
		if (h != NULL && h[0] != '*')
			out = strdup(h);
	}
	free(cd);
	return out;
}

static bool verify_with(const char *scheme, const char *hash, const char *pw)
{
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s%s", scheme, hash);
	return password_verify(pw, buf);
}

/* --- crypt schemes ------------------------------------------------------------ */

static void test_schemes(void)
{
	static const struct {
		const char *scheme, *prefix;
	} schemes[] = {
	    {"{CRYPT}", "$y$"},
	    {"{YESCRYPT}", "$y$"},
	    {"{SHA512-CRYPT}", "$6$"},
	    {"{SHA256-CRYPT}", "$5$"},
	    {"{BLF-CRYPT}", "$2b$"},
	    {"{MD5-CRYPT}", "$1$"},
	    {"", "$6$"}, /* a bare crypt string needs no scheme */
	};

	test_begin("password: every listed {SCHEME} verifies its own hashes only");
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		char *h = make_crypt(schemes[i].prefix, "correct horse");
		if (h == NULL) {
			printf("  (libxcrypt has no %s; skipped)\n", schemes[i].prefix);
			continue;
		}
		test_assert(verify_with(schemes[i].scheme, h, "correct horse"));
		test_assert(!verify_with(schemes[i].scheme, h, "correct horsE"));
		test_assert(!verify_with(schemes[i].scheme, h, "correct horse "));
		test_assert(!verify_with(schemes[i].scheme, h, ""));
		/* the same hash under a scheme mailroom does not know never matches */
		test_assert(!verify_with("{SSHA}", h, "correct horse"));
		test_assert(!verify_with("{CRYPTX}", h, "correct horse"));
		test_assert(!verify_with("{}", h, "correct horse"));
		free(h);
	}
	/* {PLAIN} compares exactly */
	test_assert(password_verify("p\xc3\xa4ss w0rd", "{PLAIN}p\xc3\xa4ss w0rd"));
	test_assert(!password_verify("p\xc3\xa4ss w0r", "{PLAIN}p\xc3\xa4ss w0rd"));
	test_assert(!password_verify("p\xc3\xa4ss w0rdd", "{PLAIN}p\xc3\xa4ss w0rd"));
	test_assert(password_verify("}{", "{PLAIN}}{"));
	test_end();
}

static void test_hash_and_limits(void)
{
	char *h1 = NULL, *h2 = NULL;
	char *pw = malloc(PASSWORD_MAX + 2);

	test_begin("password: fresh salts, the length limit at its edge");
	test_assert(password_hash("same", &h1) == 0 && password_hash("same", &h2) == 0);
	test_assert(h1 != NULL && h2 != NULL && strcmp(h1, h2) != 0); /* random salt */
	test_assert(password_verify("same", h1) && password_verify("same", h2));
	free(h1);
	free(h2);

	/* long passwords up to the limit hash and verify, and every octet
	   counts (511 octets is the most libxcrypt's crypt_rn accepts) */
	memset(pw, 'p', 511);
	pw[511] = '\0';
	h1 = NULL;
	test_assert(password_hash(pw, &h1) == 0);
	test_assert(h1 != NULL && password_verify(pw, h1));
	pw[510] = 'q';
	test_assert(h1 != NULL && !password_verify(pw, h1));
	free(h1);
	memset(pw, 'p', PASSWORD_MAX);
	pw[PASSWORD_MAX] = '\0';
	h1 = NULL;
	int hr = password_hash(pw, &h1);
	test_assert(hr == 0 && h1 != NULL && password_verify(pw, h1));
	free(h1);

	/* one over: refused for hashing and for verifying, whatever is stored */
	memset(pw, 'p', PASSWORD_MAX + 1);
	pw[PASSWORD_MAX + 1] = '\0';
	h1 = NULL;
	test_assert(password_hash(pw, &h1) < 0);
	char *stored = malloc(PASSWORD_MAX + 16);
	snprintf(stored, PASSWORD_MAX + 16, "{PLAIN}%s", pw);
	test_assert(!password_verify(pw, stored));
	free(stored);
	char *v = NULL;
	test_assert(scram_verifier_make(pw, 4096, &v) < 0);
	free(pw);
	test_end();
}

static void test_malformed_stored(void)
{
	char *h = NULL;

	test_begin("password: malformed or mutated stored strings never match");
	static const char *const bad[] = {
	    "",
	    "{",
	    "}",
	    "{}",
	    "{PLAIN",
	    "PLAIN}x",
	    "{CRYPT}",
	    "{CRYPT}$",
	    "{CRYPT}$y$",
	    "{CRYPT}x",
	    "$",
	    "$y$",
	    "$y$j9T$",
	    "$6$",
	    "$6$salt",
	    "$1$",
	    "$2b$",
	    "$2b$04$",
	    "$5$$",
	    "$7$",
	    "$zz$abc$def",
	    "*",
	    "!",
	    "!$y$abc",
	    "*LK*",
	    "x",
	    "{SHA512-CRYPT}",
	    "{SHA512-CRYPT}abc",
	    "{{PLAIN}}p",
	    "{PLAIN}{PLAIN}p",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		test_assert(!password_verify("p", bad[i]));
		test_assert(!password_verify("", bad[i]));
	}
	/* every prefix and every single-character change of a real hash */
	test_assert(password_hash("pencil", &h) == 0);
	size_t n = strlen(h);
	char *mut = malloc(n + 1);
	for (size_t cut = 0; cut < n; cut += 5) {
		memcpy(mut, h, cut);
		mut[cut] = '\0';
		test_assert(!password_verify("pencil", mut));
	}
	for (size_t i = 7; i < n; i += 4) { /* salt and hash, not the cost */
		memcpy(mut, h, n + 1);
		mut[i] = mut[i] == 'A' ? 'B' : 'A';
		test_assert(!password_verify("pencil", mut));
	}
	free(mut);
	free(h);
	test_end();
}

/* --- SCRAM verifiers ------------------------------------------------------------- */

static void test_scram_round_trip(void)
{
	char *v1 = NULL, *v2 = NULL;
	unsigned iter = 0;
	unsigned char salt[64], sk[32], svk[32], salted[32], ck[32], want_sk[32], want_svk[32];
	size_t sl = 0;
	unsigned len = 32;

	test_begin("password: SCRAM verifier keys match RFC 5802 recomputed here");
	test_assert(scram_verifier_make("pencil", 4096, &v1) == 0);
	test_assert(scram_verifier_make("pencil", 4096, &v2) == 0);
	test_assert(v1 != NULL && v2 != NULL && strcmp(v1, v2) != 0); /* fresh salt */
	test_assert(scram_verifier_parse(v1, &iter, salt, &sl, sizeof(salt), sk, svk) == 0);
	test_assert(iter == 4096 && sl > 0);

	/* SaltedPassword = Hi(password, salt, i); StoredKey = H(HMAC(SP,
	   "Client Key")); ServerKey = HMAC(SP, "Server Key") */
	test_assert(PKCS5_PBKDF2_HMAC("pencil", 6, salt, (int)sl, 4096, EVP_sha256(), 32, salted) ==
		    1);
	HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Client Key", 10, ck, &len);
	SHA256(ck, 32, want_sk);
	len = 32;
	HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Server Key", 10, want_svk, &len);
	test_assert(memcmp(sk, want_sk, 32) == 0);
	test_assert(memcmp(svk, want_svk, 32) == 0);

	/* the text form is exactly prefix, iterations, and three base64 fields */
	struct buf b = {0};
	buf_printf(&b, "SCRAM-SHA-256$%u:", iter);
	base64_encode(&b, salt, sl);
	buf_append_c(&b, '$');
	base64_encode(&b, want_sk, 32);
	buf_append_c(&b, ':');
	base64_encode(&b, want_svk, 32);
	test_assert_str(v1, b.data);
	buf_free(&b);

	/* a salt larger than the caller's buffer is refused, not overflowed */
	test_assert(scram_verifier_parse(v1, &iter, salt, &sl, 4, sk, svk) < 0);
	/* iteration counts: 1 works; 0 does not */
	free(v2);
	v2 = NULL;
	test_assert(scram_verifier_make("pencil", 1, &v2) == 0);
	test_assert(scram_verifier_parse(v2, &iter, salt, &sl, sizeof(salt), sk, svk) == 0 &&
		    iter == 1);
	free(v1);
	free(v2);
	test_end();
}

static void test_scram_malformed(void)
{
	unsigned iter;
	unsigned char salt[64], sk[32], svk[32];
	size_t sl;
	char *good = NULL;

	test_begin("password: malformed SCRAM verifiers are rejected");
#define K32 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" /* 32 zero octets */
#define K31 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==" /* 31 */
#define K33 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" /* 33 */
	static const char *const bad[] = {
	    "",
	    "SCRAM-SHA-256",
	    "SCRAM-SHA-256$",
	    "scram-sha-256$4096:c2FsdA==$" K32 ":" K32, /* prefix is case-sensitive */
	    "SCRAM-SHA-1$4096:c2FsdA==$" K32 ":" K32,
	    " SCRAM-SHA-256$4096:c2FsdA==$" K32 ":" K32,
	    "SCRAM-SHA-256$0:c2FsdA==$" K32 ":" K32,
	    "SCRAM-SHA-256$000:c2FsdA==$" K32 ":" K32,
	    "SCRAM-SHA-256$-1:c2FsdA==$" K32 ":" K32,
	    "SCRAM-SHA-256$+1:c2FsdA==$" K32 ":" K32,
	    "SCRAM-SHA-256$:c2FsdA==$" K32 ":" K32,
	    "SCRAM-SHA-256$4096c2FsdA==$" K32 ":" K32,
	    "SCRAM-SHA-256$4096:$" K32 ":" K32,		     /* empty salt */
	    "SCRAM-SHA-256$4096:c2FsdA$" K32 ":" K32,	     /* unpadded salt */
	    "SCRAM-SHA-256$4096:c2Fs dA==$" K32 ":" K32,     /* space */
	    "SCRAM-SHA-256$4096:c2FsdA==$" K31 ":" K32,	     /* short StoredKey */
	    "SCRAM-SHA-256$4096:c2FsdA==$" K33 ":" K32,	     /* long StoredKey */
	    "SCRAM-SHA-256$4096:c2FsdA==$" K32 ":" K31,	     /* short ServerKey */
	    "SCRAM-SHA-256$4096:c2FsdA==$" K32 ":" K33,	     /* long ServerKey */
	    "SCRAM-SHA-256$4096:c2FsdA==$" K32 ":",	     /* missing ServerKey */
	    "SCRAM-SHA-256$4096:c2FsdA==$" K32,		     /* no second field */
	    "SCRAM-SHA-256$4096:c2FsdA==$" K32 ":" K32 ":x", /* trailing field */
	    "SCRAM-SHA-256$4096:c2FsdA==$" K32 ":" K32 "\n", /* trailing newline */
	    "SCRAM-SHA-256$4096:c2FsdA==$!" K32 ":" K32,
	    "SCRAM-SHA-256$99999999:c2FsdA==$" K32 ":" K32,
	};
	/* the well-formed base line parses, so the failures are the mutations */
	test_assert(scram_verifier_parse("SCRAM-SHA-256$4096:c2FsdA==$" K32 ":" K32, &iter, salt,
					 &sl, sizeof(salt), sk, svk) == 0);
	test_assert(iter == 4096 && sl == 4 && memcmp(salt, "salt", 4) == 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = scram_verifier_parse(bad[i], &iter, salt, &sl, sizeof(salt), sk, svk);
		test_assert(r < 0);
		if (r >= 0)
			printf("  accepted: %s\n", bad[i]);
	}
	test_assert(scram_verifier_parse(NULL, &iter, salt, &sl, sizeof(salt), sk, svk) < 0);
	/* every truncation of a real verifier is rejected */
	test_assert(scram_verifier_make("pencil", 4096, &good) == 0);
	size_t n = strlen(good);
	char *cut = malloc(n + 1);
	for (size_t k = 0; k < n; k++) {
		memcpy(cut, good, k);
		cut[k] = '\0';
		test_assert(scram_verifier_parse(cut, &iter, salt, &sl, sizeof(salt), sk, svk) < 0);
	}
	free(cut);
	free(good);
	test_end();
}

/* --- auth against a store ------------------------------------------------------------ */

static void md5_hex(const char *a, const char *b, char out[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, EVP_md5(), NULL);
	EVP_DigestUpdate(c, a, strlen(a));
	EVP_DigestUpdate(c, b, strlen(b));
	EVP_DigestFinal_ex(c, md, &len);
	EVP_MD_CTX_free(c);
	for (unsigned i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

struct fixture {
	char *dir;
	struct store *st;
	int64_t alice, mrose;
	struct directory *d;
};

static void fixture_make(struct fixture *f)
{
	char *h = NULL;
	memset(f, 0, sizeof(*f));
	f->dir = test_tmpdir();
	test_assert(store_open(f->dir, true, &f->st) == STORE_OK);
	test_assert(store_domain_add(f->st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(password_hash("pencil", &h) == 0);
	struct store_user_new a = {.address = "alice@example.test", .pw_hash = h};
	struct store_user_new m = {.address = "mrose@example.test",
				   .pw_hash = "{PLAIN}plain pw",
				   .apop_secret = "tanstaaf"};
	struct store_user_new p = {.address = "pop3off@example.test", .pw_hash = h};
	test_assert(store_user_add(f->st, &a) == STORE_OK);
	test_assert(store_user_add(f->st, &m) == STORE_OK);
	test_assert(store_user_add(f->st, &p) == STORE_OK);
	test_assert(store_user_set_pop3(f->st, "pop3off@example.test", false) == STORE_OK);
	test_assert(store_alias_add(f->st, "info@example.test", "alice@example.test") == STORE_OK);
	test_assert(store_alias_add(f->st, "both@example.test", "alice@example.test") == STORE_OK);
	test_assert(store_alias_add(f->st, "both@example.test", "mrose@example.test") == STORE_OK);
	test_assert(store_alias_add(f->st, "postmaster@example.test", "mrose@example.test") ==
		    STORE_OK);
	struct store_user u;
	test_assert(store_user_lookup(f->st, "alice@example.test", &u) == STORE_OK);
	f->alice = u.id;
	store_user_clear(&u);
	test_assert(store_user_lookup(f->st, "mrose@example.test", &u) == STORE_OK);
	f->mrose = u.id;
	store_user_clear(&u);
	free(h);
	f->d = test_directory("[limits]\nauth_cache_ttl = 0\n");
}

static void fixture_free(struct fixture *f)
{
	directory_free(&f->d);
	store_close(&f->st);
	test_rmtree(f->dir);
}

static void test_auth_password(void)
{
	struct fixture f;
	struct auth_identity id;

	test_begin("auth: auth_password against a store");
	fixture_make(&f);
	memset(&id, 0xa5, sizeof(id));
	test_assert(directory_password(f.d, f.st, "Alice@Example.TEST", "pencil", &id) == AUTH_OK);
	test_assert(id.mailbox_id == f.alice);
	test_assert_str(id.address, "alice@example.test");
	test_assert(id.enabled && id.pop3_enabled);

	/* through an alias with one mailbox: the identity is the mailbox */
	memset(&id, 0, sizeof(id));
	test_assert(directory_password(f.d, f.st, "info@example.test", "pencil", &id) == AUTH_OK);
	test_assert(id.mailbox_id == f.alice);
	test_assert_str(id.address, "alice@example.test");
	test_assert(directory_password(f.d, f.st, "both@example.test", "pencil", &id) ==
		    AUTH_FAILED);

	/* failures never say which part was wrong */
	test_assert(directory_password(f.d, f.st, "alice@example.test", "Pencil", &id) ==
		    AUTH_FAILED);
	test_assert(directory_password(f.d, f.st, "alice@example.test", "", &id) == AUTH_FAILED);
	test_assert(directory_password(f.d, f.st, "nobody@example.test", "pencil", &id) ==
		    AUTH_FAILED);
	test_assert(directory_password(f.d, f.st, "alice@elsewhere.test", "pencil", &id) ==
		    AUTH_FAILED);
	test_assert(directory_password(f.d, f.st, "alice", "pencil", &id) == AUTH_FAILED);
	test_assert(directory_password(f.d, f.st, "", "pencil", &id) == AUTH_FAILED);
	test_assert(directory_password(f.d, f.st, "alice@example.test\r\n", "pencil", &id) ==
		    AUTH_FAILED);

	/* an imported {PLAIN} password works through auth too */
	test_assert(directory_password(f.d, f.st, "mrose@example.test", "plain pw", &id) ==
		    AUTH_OK);
	test_assert(id.mailbox_id == f.mrose);
	test_assert(directory_password(f.d, f.st, "mrose@example.test", "{PLAIN}plain pw", &id) ==
		    AUTH_FAILED);

	/* flags come along, so the protocol layer can refuse the login */
	memset(&id, 0, sizeof(id));
	enum auth_result r = directory_password(f.d, f.st, "pop3off@example.test", "pencil", &id);
	test_assert(r == AUTH_FAILED || (r == AUTH_OK && !id.pop3_enabled && id.enabled));
	test_assert(store_user_set_enabled(f.st, "alice@example.test", false) == STORE_OK);
	memset(&id, 0, sizeof(id));
	r = directory_password(f.d, f.st, "alice@example.test", "pencil", &id);
	test_assert(r == AUTH_FAILED || (r == AUTH_OK && !id.enabled));

	/* a new password takes effect at once; the old one stops working */
	char *h = NULL;
	test_assert(password_hash("new pencil", &h) == 0);
	test_assert(store_user_set_enabled(f.st, "alice@example.test", true) == STORE_OK);
	test_assert(store_user_set_password(f.st, "alice@example.test", h, NULL, NULL) == STORE_OK);
	free(h);
	test_assert(directory_password(f.d, f.st, "alice@example.test", "new pencil", &id) ==
		    AUTH_OK);
	test_assert(directory_password(f.d, f.st, "alice@example.test", "pencil", &id) ==
		    AUTH_FAILED);
	fixture_free(&f);
	test_end();
}

static void test_auth_apop(void)
{
	struct fixture f;
	struct auth_identity id;
	char digest[33], upper[33];
	const char *rfc_ts = "<1896.697170952@dbc.mtview.ca.us>";

	test_begin("auth: auth_apop with digests computed here (RFC 1939 §7)");
	fixture_make(&f);
	/* the RFC's own example */
	md5_hex(rfc_ts, "tanstaaf", digest);
	test_assert_str(digest, "c4c9334bac560ecc979e58001b3e22fb");
	memset(&id, 0, sizeof(id));
	test_assert(directory_apop(f.d, f.st, "mrose@example.test", rfc_ts, digest, &id) ==
		    AUTH_OK);
	test_assert(id.mailbox_id == f.mrose);
	test_assert_str(id.address, "mrose@example.test");

	/* another timestamp: the digest covers it */
	const char *ts = "<4242.1700000000@mail.example.test>";
	md5_hex(ts, "tanstaaf", digest);
	test_assert(directory_apop(f.d, f.st, "MROSE@example.test", ts, digest, &id) == AUTH_OK);
	test_assert(directory_apop(f.d, f.st, "mrose@example.test", rfc_ts, digest, &id) ==
		    AUTH_FAILED);
	/* through an alias */
	test_assert(directory_apop(f.d, f.st, "postmaster@example.test", ts, digest, &id) ==
		    AUTH_OK);
	test_assert(id.mailbox_id == f.mrose);

	/* auth.h asks for lower-case hex (the POP3 layer lower-cases what the
	   client sent); upper case is not accepted at this layer */
	for (int i = 0; i < 33; i++)
		upper[i] =
		    (char)(digest[i] >= 'a' && digest[i] <= 'f' ? digest[i] - 32 : digest[i]);
	test_assert(strcmp(upper, digest) != 0);
	test_assert(directory_apop(f.d, f.st, "mrose@example.test", ts, upper, &id) == AUTH_FAILED);

	/* wrong lengths and non-hex never match */
	char shorter[33], longer[34];
	memcpy(shorter, digest, 31);
	shorter[31] = '\0';
	snprintf(longer, sizeof(longer), "%s0", digest);
	test_assert(directory_apop(f.d, f.st, "mrose@example.test", ts, shorter, &id) ==
		    AUTH_FAILED);
	test_assert(directory_apop(f.d, f.st, "mrose@example.test", ts, longer, &id) ==
		    AUTH_FAILED);
	test_assert(directory_apop(f.d, f.st, "mrose@example.test", ts, "", &id) == AUTH_FAILED);
	test_assert(directory_apop(f.d, f.st, "mrose@example.test", ts,
				   "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", &id) == AUTH_FAILED);

	/* accounts without an APOP secret, unknown users */
	md5_hex(ts, "pencil", digest);
	test_assert(directory_apop(f.d, f.st, "alice@example.test", ts, digest, &id) ==
		    AUTH_FAILED);
	md5_hex(ts, "", digest);
	test_assert(directory_apop(f.d, f.st, "alice@example.test", ts, digest, &id) ==
		    AUTH_FAILED);
	md5_hex(ts, "tanstaaf", digest);
	test_assert(directory_apop(f.d, f.st, "nobody@example.test", ts, digest, &id) ==
		    AUTH_FAILED);
	test_assert(directory_apop(f.d, f.st, "not an address", ts, digest, &id) == AUTH_FAILED);

	/* clearing the secret ends APOP for the account; the password remains */
	test_assert(store_user_clear_apop(f.st, "mrose@example.test") == STORE_OK);
	test_assert(directory_apop(f.d, f.st, "mrose@example.test", ts, digest, &id) ==
		    AUTH_FAILED);
	test_assert(directory_password(f.d, f.st, "mrose@example.test", "plain pw", &id) ==
		    AUTH_OK);
	/* and a new secret works with its own digest only */
	test_assert(store_user_set_password(f.st, "mrose@example.test", "{PLAIN}plain pw", NULL,
					    "s3cret") == STORE_OK);
	test_assert(directory_apop(f.d, f.st, "mrose@example.test", ts, digest, &id) ==
		    AUTH_FAILED);
	md5_hex(ts, "s3cret", digest);
	test_assert(directory_apop(f.d, f.st, "mrose@example.test", ts, digest, &id) == AUTH_OK);
	fixture_free(&f);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){
	    test_schemes, test_hash_and_limits, test_malformed_stored, test_scram_round_trip,
	    test_scram_malformed, test_auth_password, test_auth_apop, NULL});
}
