/* SPDX-License-Identifier: MIT */
/*
 * fuzz_scram.c - libFuzzer target for the SCRAM-SHA-256 verifier: the stored
 * form (directory/password.h, scram_verifier_parse) and the server's proof
 * check against it (proto/sasl.c, RFC 5802 §3). fuzz_sasl.c fuzzes the
 * client's messages against one good verifier; here the verifier itself is
 * the input, as an imported or damaged user record would be.
 *
 * The input is split at its first newline: the stored verifier, then bytes
 * used as a client proof and as a password. Properties:
 *  - a verifier that parses has 1..1,000,000 iterations and a salt that
 *    fits, and writing it back out parses to the same values;
 *  - the server's first message carries exactly that salt and count (fake
 *    ones for a verifier that does not parse);
 *  - a proof succeeds exactly when SHA-256(proof XOR ClientSignature) is
 *    the StoredKey (never for a verifier that does not parse), and then
 *    the server's signature is HMAC(ServerKey, AuthMessage);
 *  - for a verifier made from a password, the right proof succeeds and a
 *    proof with one bit changed fails.
 */
#include "directory/password.h"
#include "fuzz.h"
#include "proto/sasl.h"
#include "store/store.h"
#include "util/base64.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KEY_LEN 32
#define SALT_MAX 64 /* proto/sasl.c SCRAM_SALT_MAX */
#define CLIENT_FIRST_BARE "n=user,r=cli"
#define NONCE "clisrv" /* client part "cli", server part set by the test hook */
#define FINAL_WITHOUT_PROOF "c=biws,r=" NONCE

struct verifier {
	unsigned iter;
	unsigned char salt[SALT_MAX];
	size_t salt_len;
	unsigned char stored[KEY_LEN], server[KEY_LEN];
};

static int lookup(void *ctx, struct store *st, const char *user, char **verifier_r,
		  struct auth_identity *id_r)
{
	(void)st;
	if (strcmp(user, "user") != 0)
		return STORE_NOTFOUND;
	*verifier_r = strdup(ctx);
	id_r->mailbox_id = 1;
	return STORE_OK;
}

static bool parse(const char *text, struct verifier *v)
{
	memset(v, 0, sizeof(*v));
	return scram_verifier_parse(text, &v->iter, v->salt, &v->salt_len, sizeof(v->salt),
				    v->stored, v->server) == 0;
}

static void hmac256(const unsigned char *key, const void *msg, size_t len,
		    unsigned char out[KEY_LEN])
{
	unsigned out_len = KEY_LEN;

	HMAC(EVP_sha256(), key, KEY_LEN, msg, len, out, &out_len);
}

/* A parsed verifier written out again parses to the same values. */
static void check_round_trip(const struct verifier *v)
{
	struct buf b = {0};
	struct verifier again;

	CHECK(v->iter >= 1 && v->iter <= 1000000 && v->salt_len <= SALT_MAX);
	buf_printf(&b, "SCRAM-SHA-256$%u:", v->iter);
	base64_encode(&b, v->salt, v->salt_len);
	buf_append_c(&b, '$');
	base64_encode(&b, v->stored, KEY_LEN);
	buf_append_c(&b, ':');
	base64_encode(&b, v->server, KEY_LEN);
	buf_append_c(&b, '\0');
	CHECK(parse(b.data, &again));
	CHECK(again.iter == v->iter && again.salt_len == v->salt_len);
	CHECK(memcmp(again.salt, v->salt, v->salt_len) == 0);
	CHECK(memcmp(again.stored, v->stored, KEY_LEN) == 0);
	CHECK(memcmp(again.server, v->server, KEY_LEN) == 0);
	buf_free(&b);
}

/* Runs client-first against `stored`; the server-first message lands in
   auth_message as part of AuthMessage (RFC 5802 §3). */
static struct sasl_server *start(char *stored, struct buf *auth_message, struct buf *first)
{
	struct sasl_server *s = sasl_server_new(SASL_SCRAM_SHA_256, NULL);
	struct auth_identity id;

	memset(&id, 0, sizeof(id));
	sasl_server_set_scram_lookup(s, lookup, stored);
	sasl_server_set_nonce(s, "srv");
	static const char client_first[] = "n,," CLIENT_FIRST_BARE;
	CHECK(sasl_server_step(s, NULL, client_first, sizeof(client_first) - 1, first, &id) ==
	      SASL_CONTINUE);
	buf_append_str(auth_message, CLIENT_FIRST_BARE ",");
	buf_append(auth_message, first->data, first->len);
	buf_append_str(auth_message, "," FINAL_WITHOUT_PROOF);
	return s;
}

static enum sasl_step finish(struct sasl_server *s, const unsigned char proof[KEY_LEN],
			     struct buf *out)
{
	struct buf final = {0};
	struct auth_identity id;

	memset(&id, 0, sizeof(id));
	buf_append_str(&final, FINAL_WITHOUT_PROOF ",p=");
	base64_encode(&final, proof, KEY_LEN);
	enum sasl_step r = sasl_server_step(s, NULL, final.data, final.len, out, &id);
	CHECK(r != SASL_SUCCESS || id.mailbox_id == 1);
	buf_free(&final);
	return r;
}

/* "v=" base64(HMAC(ServerKey, AuthMessage)) */
static bool server_final_ok(const struct buf *out, const unsigned char server_key[KEY_LEN],
			    const struct buf *auth_message)
{
	unsigned char sig[KEY_LEN];
	struct buf want = {0};

	hmac256(server_key, auth_message->data, auth_message->len, sig);
	buf_append_str(&want, "v=");
	base64_encode(&want, sig, KEY_LEN);
	bool ok = out->len == want.len && memcmp(out->data, want.data, want.len) == 0;
	buf_free(&want);
	return ok;
}

/* The stored verifier is the input: salt and count as stored, and a proof
   succeeds exactly when it matches the StoredKey. */
static void fuzz_stored(char *stored, const unsigned char proof[KEY_LEN])
{
	struct verifier v;
	bool known = parse(stored, &v);
	struct buf auth_message = {0}, first = {0}, out = {0}, want = {0};

	if (known)
		check_round_trip(&v);
	struct sasl_server *s = start(stored, &auth_message, &first);
	buf_append_str(&want, "r=" NONCE ",s=");
	if (known)
		base64_encode(&want, v.salt, v.salt_len);
	CHECK(first.len > want.len && memcmp(first.data, want.data, want.len) == 0);
	if (known) {
		buf_clear(&want);
		buf_printf(&want, ",i=%u", v.iter);
		CHECK(first.len == (size_t)(strstr(first.data, ",i=") - first.data) + want.len);
	}

	unsigned char sig[KEY_LEN], client_key[KEY_LEN], h[KEY_LEN];
	bool match = false;
	if (known) {
		hmac256(v.stored, auth_message.data, auth_message.len, sig);
		for (size_t i = 0; i < KEY_LEN; i++)
			client_key[i] = proof[i] ^ sig[i];
		SHA256(client_key, KEY_LEN, h);
		match = memcmp(h, v.stored, KEY_LEN) == 0;
	}
	enum sasl_step r = finish(s, proof, &out);
	CHECK(r == (match ? SASL_SUCCESS : SASL_FAILED));
	CHECK(r != SASL_SUCCESS || server_final_ok(&out, v.server, &auth_message));
	sasl_server_free(&s);
	buf_free(&auth_message);
	buf_free(&first);
	buf_free(&out);
	buf_free(&want);
}

/* A verifier made from `password` (few iterations, to stay fast): the right
   proof succeeds with the right server signature; one bit off fails. */
static void fuzz_made(const char *password, unsigned iter, unsigned flip)
{
	char *stored = NULL;
	struct verifier v;
	struct buf auth_message = {0}, first = {0}, out = {0};
	unsigned char salted[KEY_LEN], client_key[KEY_LEN], stored_key[KEY_LEN], sig[KEY_LEN],
	    server_key[KEY_LEN], proof[KEY_LEN];

	CHECK(scram_verifier_make(password, iter, &stored) == 0);
	CHECK(parse(stored, &v) && v.iter == iter);
	PKCS5_PBKDF2_HMAC(password, (int)strlen(password), v.salt, (int)v.salt_len, (int)iter,
			  EVP_sha256(), KEY_LEN, salted);
	hmac256(salted, "Client Key", 10, client_key);
	hmac256(salted, "Server Key", 10, server_key);
	SHA256(client_key, KEY_LEN, stored_key);
	CHECK(memcmp(stored_key, v.stored, KEY_LEN) == 0);
	CHECK(memcmp(server_key, v.server, KEY_LEN) == 0);

	for (int round = 0; round < 2; round++) {
		buf_clear(&auth_message);
		buf_clear(&first);
		buf_clear(&out);
		struct sasl_server *s = start(stored, &auth_message, &first);
		hmac256(stored_key, auth_message.data, auth_message.len, sig);
		for (size_t i = 0; i < KEY_LEN; i++)
			proof[i] = client_key[i] ^ sig[i];
		if (round == 1)
			proof[(flip / 8) % KEY_LEN] ^= (unsigned char)(1u << (flip % 8));
		enum sasl_step r = finish(s, proof, &out);
		CHECK(r == (round == 0 ? SASL_SUCCESS : SASL_FAILED));
		CHECK(round == 1 || server_final_ok(&out, server_key, &auth_message));
		sasl_server_free(&s);
	}
	free(stored);
	buf_free(&auth_message);
	buf_free(&first);
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t len1 = nl != NULL ? (size_t)(nl - data) : size;
	const uint8_t *rest = nl != NULL ? nl + 1 : data + size;
	size_t rest_len = size - len1 - (nl != NULL ? 1 : 0);

	if (len1 > 4096)
		return 0;
	char *stored = malloc(len1 + 1);
	memcpy(stored, data, len1);
	stored[len1] = '\0';
	unsigned char proof[KEY_LEN] = {0};
	memcpy(proof, rest, rest_len < KEY_LEN ? rest_len : KEY_LEN);
	fuzz_stored(stored, proof);
	free(stored);

	/* the bytes after the newline, up to a NUL, as a password */
	size_t pw_len = rest_len > 0 ? strnlen((const char *)rest + 1, rest_len - 1) : 0;
	if (pw_len > 0 && pw_len <= 64) {
		char password[65];
		memcpy(password, rest + 1, pw_len);
		password[pw_len] = '\0';
		fuzz_made(password, 1 + rest[0] % 4, rest[0]);
	}
	return 0;
}
