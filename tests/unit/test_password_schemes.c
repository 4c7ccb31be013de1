/* SPDX-License-Identifier: MIT */
/*
 * test_password_schemes.c - Dovecot's {SCHEME} hashes: fixtures written by
 * `doveadm pw` (fixtures/dovecot_pw.h, remade by fixtures/dovecot_pw.sh),
 * a table of hand-made and malformed hashes, `mailroom pw`'s schemes and the
 * SCRAM verifier taken over from a Dovecot hash.
 */
#include "directory/password.h"
#include "test_common.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures/dovecot_pw.h"

/* The same password with its first byte changed: wrong for every scheme,
   truncating ones (DES keeps 8 bytes, bcrypt 72) included. */
static void first_byte_flipped(const char *pw, char *out, size_t cap)
{
	snprintf(out, cap, "%s", pw);
	out[0] ^= 0x01;
}

static void test_doveadm_fixtures(void)
{
	char wrong[128], longer[160];

	test_begin("password: every scheme doveadm pw writes");
	for (size_t i = 0; i < N_ELEMENTS(dovecot_pw); i++) {
		const struct dovecot_pw *f = &dovecot_pw[i];
		bool ok = password_verify(f->password, f->stored);
		if (ok != f->verifies)
			fprintf(stderr, "  %s with \"%s\": %s\n", f->stored, f->password,
				ok ? "verifies" : "does not verify");
		test_assert(ok == f->verifies);
		test_assert(password_scheme_known(f->stored) == f->verifies);
		first_byte_flipped(f->password, wrong, sizeof(wrong));
		test_assert(!password_verify(wrong, f->stored));
		test_assert(!password_verify("", f->stored));
		/* one byte more: only DES (8 bytes) would take it, and its
		   fixture's password is short */
		snprintf(longer, sizeof(longer), "%sx", f->password);
		test_assert(!password_verify(longer, f->stored));
	}
	test_end();
}

static const struct {
	const char *stored, *password;
	bool expect;
} cases[] = {
    /* names are case-insensitive */
    {"{plain}pencil", "pencil", true},
    {"{Cleartext}pencil", "pencil", true},
    {"{PLAIN}pencil", "Pencil", false},
    {"{PLAIN}", "", true}, /* the form is fine; empty passwords stop earlier */
    {"{PLAIN}pencil", "pencil2", false},
    {"{PLAIN.B64}cGVuY2ls", "pencil", true},
    {"{PLAIN-TRUNC}6-pencil", "pencil", true},
    {"{PLAIN-TRUNC}3-pen", "pencil", true}, /* stored cut at 3: a prefix */
    {"{PLAIN-TRUNC}3-pen", "pe", false},
    {"{PLAIN-TRUNC}3-pen", "pan", false},
    {"{PLAIN-TRUNC}pencil", "pencil", false},
    {"{PLAIN-TRUNC}-pencil", "pencil", false},
    /* SHA1("pencil") in base64, in hex (guessed and by suffix), upper-case hex */
    {"{SHA}0vxRJJChUDZGC1SJQBQ51tpUB/o=", "pencil", true},
    {"{sha1}0vxRJJChUDZGC1SJQBQ51tpUB/o=", "pencil", true},
    {"{SHA}d2fc512490a15036460b548940143 9d6da5407fa", "pencil", false},
    {"{SHA}d2fc512490a15036460b5489401439d6da5407fa", "pencil", true},
    {"{SHA.HEX}D2FC512490A15036460B5489401439D6DA5407FA", "pencil", true},
    {"{SHA.b64}0vxRJJChUDZGC1SJQBQ51tpUB/o=", "pencil", true},
    {"{SHA.HEX}0vxRJJChUDZGC1SJQBQ51tpUB/o=", "pencil", false},
    {"{SHA.ROT13}0vxRJJChUDZGC1SJQBQ51tpUB/o=", "pencil", false},
    {"{SHA}0vxRJJChUDZGC1SJQBQ51tpUB/o", "pencil", false},     /* unpadded */
    {"{SHA}0vxRJJChUDZGC1SJQBQ51tpU", "pencil", false},	       /* short digest */
    {"{SHA256}0vxRJJChUDZGC1SJQBQ51tpUB/o=", "pencil", false}, /* SHA1 length */
    {"{SSHA}0vxRJJChUDZGC1SJQBQ51tpUB/o=", "pencil", false},   /* no salt */
    {"{SSHA}", "pencil", false},
    {"{SSHA}JJQ1wy6FcqvpafohKo28wJar0Zqopqce", "pencil", true},
    {"{SSHA}!!!!", "pencil", false},
    {"{MD5}$1$9XJXT02H$pCI8j4zKm/dEsmtnMn9PF/", "pencil", true},
    {"{MD5}a8f6830bce790a8a67fc2e84e12093ba", "pencil", true}, /* PLAIN-MD5 then */
    {"{MD5}a8f6830bce790a8a67fc2e84e12093", "pencil", false},
    {"{PLAIN-MD5}A8F6830BCE790A8A67FC2E84E12093BA", "pencil", true},
    {"{CRYPT}uIkCDh9uKSNoY", "pencil", true},
    {"{CRYPT}pencil", "pencil", false},
    {"{SHA512-CRYPT}uIkCDh9uKSNoY", "pencil", false}, /* a "$6$" scheme, DES data */
    {"{MD5-CRYPT}$1$xj0UY3Uq$kEonYSc2NjediV9s8OSDT.", "pencil", true},
    {"$1$xj0UY3Uq$kEonYSc2NjediV9s8OSDT.", "pencil", true}, /* bare crypt(3) */
    {"$1$xj0UY3Uq$kEonYSc2NjediV9s8OSDT.", "pencil ", false},
    {"$1$", "pencil", false},
    {"$9$abc$def", "pencil", false},
    {"{BLF-CRYPT}$2y$05$Nd9jo.MWo9rA4utXzSIvsub338Re995ZtU./J1Csj9uyOKz5lL9lW", "pencil", true},
    {"{BLF-CRYPT}$2y$05$Nd9jo.MWo9rA4utXzSIvsub338Re995ZtU./J1Csj9uyOKz5lL9l", "pencil", false},
    {"{PBKDF2}$1$wDliMW3QHsE7p7BI$5000$90fc6f6bfb04380139add3b176b070e33e42ee35", "pencil", true},
    {"{PBKDF2}$1$wDliMW3QHsE7p7BI$5000$90fc6f6bfb04380139add3b176b070e33e42ee3", "pencil", false},
    {"{PBKDF2}$1$wDliMW3QHsE7p7BI$0$90fc6f6bfb04380139add3b176b070e33e42ee35", "pencil", false},
    {"{PBKDF2}$1$wDliMW3QHsE7p7BI$x$90fc6f6bfb04380139add3b176b070e33e42ee35", "pencil", false},
    {"{PBKDF2}$2$wDliMW3QHsE7p7BI$5000$90fc6f6bfb04380139add3b176b070e33e42ee35", "pencil", false},
    {"{SCRAM-SHA-256}4096,tTAulBhpjUmFydnrOYSeyA==,SIZpK61coFb34PtIyvvGwEcLVC3VPEr/2wzRgDDNNPY=,"
     "C5XvIMLbtNA5jnUU5HVyUdbAp9Ny8x3PmLY/Ibs0Pzg=",
     "pencil", true},
    {"{SCRAM-SHA-256}4096,tTAulBhpjUmFydnrOYSeyA==,SIZpK61coFb34PtIyvvGwEcLVC3VPEr/2wzRgDDNNPY=",
     "pencil", false},
    {"{SCRAM-SHA-256}0,tTAulBhpjUmFydnrOYSeyA==,SIZpK61coFb34PtIyvvGwEcLVC3VPEr/2wzRgDDNNPY=,"
     "C5XvIMLbtNA5jnUU5HVyUdbAp9Ny8x3PmLY/Ibs0Pzg=",
     "pencil", false},
    {"{SCRAM-SHA-1}4096,hgV9h+Es+6BLclRjr4fDSg==,hPz+sdPi/kC6k9khCD8NPjQJ33c=,"
     "+kOiFkU8zzQjxngkh8pzeB1The0=",
     "pencil", true},
    {"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$UztuRbp55yxOCrM7/J3ePA$"
     "0y+8OOoF6clZFYbhAgH3aR9t70eINBQSKeUt0owISqo",
     "pencil", true},
    {"{ARGON2I}$argon2id$v=19$m=65536,t=3,p=1$UztuRbp55yxOCrM7/J3ePA$"
     "0y+8OOoF6clZFYbhAgH3aR9t70eINBQSKeUt0owISqo",
     "pencil", false}, /* the type must match the name */
    {"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$UztuRbp55yxOCrM7/J3ePA", "pencil", false},
    {"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$!!!$0y+8OOoF6clZFYbhAgH3aR9t70eINBQSKeUt0owISqo",
     "pencil", false},
    /* unknown, unverifiable and broken forms */
    {"{MD4}pencil", "pencil", false},
    {"{CRAM-MD5}7f47ace0e2af8f6cdeb72c03243a8c87834e19104164d6a42de72d243adb4080", "pencil", false},
    {"{}pencil", "pencil", false},
    {"{PLAIN", "pencil", false},
    {"PLAIN}pencil", "pencil", false},
    {"pencil", "pencil", false}, /* bare text is no hash */
    {"", "pencil", false},
    {"*", "pencil", false},
    {"!$1$xj0UY3Uq$kEonYSc2NjediV9s8OSDT.", "pencil", false},
};

static void test_table(void)
{
	test_begin("password: hand-made, wrong and malformed hashes");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		bool ok = password_verify(cases[i].password, cases[i].stored);
		if (ok != cases[i].expect)
			fprintf(stderr, "  case %zu %s with \"%s\": %s\n", i, cases[i].stored,
				cases[i].password, ok ? "verifies" : "does not verify");
		test_assert(ok == cases[i].expect);
		/* a hash that verifies is one --password-hash takes */
		if (cases[i].expect)
			test_assert(password_scheme_known(cases[i].stored));
	}
	test_assert(!password_verify(NULL, "{PLAIN}x"));
	test_assert(!password_verify("x", NULL));
	test_assert(!password_scheme_known(NULL));
	test_assert(!password_scheme_known("{SHA}0vxRJJChUDZGC1SJQBQ51tpU"));
	test_assert(!password_scheme_known("{CRAM-MD5}7f47ace0e2af8f6cdeb72c03243a8c87"));
	test_assert(!password_scheme_known("nothing"));
	test_end();
}

static void test_hash_scheme(void)
{
	static const struct {
		const char *scheme, *prefix;
	} made[] = {
	    {"yescrypt", "{CRYPT}$y$"},
	    {"sha512-crypt", "{SHA512-CRYPT}$6$"},
	    {"ARGON2ID", "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$"},
	};
	char *h = NULL;

	test_begin("password: mailroom pw's schemes verify back");
	for (size_t i = 0; i < N_ELEMENTS(made); i++) {
		test_assert(password_hash_scheme("pä ss:word", made[i].scheme, &h) == 0);
		test_assert(strncmp(h, made[i].prefix, strlen(made[i].prefix)) == 0);
		test_assert(password_verify("pä ss:word", h));
		test_assert(!password_verify("pä ss:wordx", h));
		test_assert(password_scheme_known(h));
		free(h);
		h = NULL;
	}
	test_assert(password_hash_scheme("pencil", "md5", &h) < 0 && h == NULL);
	test_end();
}

static void test_scram_from_stored(void)
{
	static const char dove[] = "{SCRAM-SHA-256}4096,tTAulBhpjUmFydnrOYSeyA==,"
				   "SIZpK61coFb34PtIyvvGwEcLVC3VPEr/"
				   "2wzRgDDNNPY=,C5XvIMLbtNA5jnUU5HVyUdbAp9Ny8x3PmLY/Ibs0Pzg=";
	unsigned char salt[64], sk[32], svk[32];
	unsigned iter;
	size_t sl;
	char *v = NULL;

	test_begin("password: a Dovecot SCRAM-SHA-256 hash becomes a verifier");
	test_assert(password_scram_from_stored(dove, &v) == 0);
	test_assert_str(v, "SCRAM-SHA-256$4096:tTAulBhpjUmFydnrOYSeyA==$"
			   "SIZpK61coFb34PtIyvvGwEcLVC3VPEr/2wzRgDDNNPY=:"
			   "C5XvIMLbtNA5jnUU5HVyUdbAp9Ny8x3PmLY/Ibs0Pzg=");
	test_assert(scram_verifier_parse(v, &iter, salt, &sl, sizeof(salt), sk, svk) == 0);
	test_assert(iter == 4096 && sl == 16);
	free(v);
	v = NULL;
	test_assert(password_scram_from_stored("{SCRAM-SHA-1}4096,hgV9h+Es+6BLclRjr4fDSg==,"
					       "hPz+sdPi/kC6k9khCD8NPjQJ33c=,"
					       "+kOiFkU8zzQjxngkh8pzeB1The0=",
					       &v) < 0);
	test_assert(password_scram_from_stored("{PLAIN}pencil", &v) < 0);
	test_assert(password_scram_from_stored("{SCRAM-SHA-256}4096,abc", &v) < 0 && v == NULL);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_doveadm_fixtures, test_table, test_hash_scheme,
					   test_scram_from_stored, NULL});
}
