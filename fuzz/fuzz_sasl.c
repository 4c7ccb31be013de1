/* SPDX-License-Identifier: MIT */
/*
 * fuzz_sasl.c - libFuzzer target for the SASL message parsers
 * (proto/sasl.h): PLAIN (RFC 4616), SCRAM client-first and client-final
 * (RFC 5802 §7), and a whole SCRAM-SHA-256 exchange against a fixed account
 * through the lookup hook, so no store is needed. The input is split at its
 * first newline into the client's two messages.
 */
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

static char *verifier; /* "pencil" with RFC 7677's salt, made once */

static void make_verifier(void)
{
	static const unsigned char salt[] = {0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
					     0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81};
	unsigned char sp[32], ck[32], sk[32], stored[32];
	unsigned len = 32;
	struct buf v = {0};

	PKCS5_PBKDF2_HMAC("pencil", 6, salt, sizeof(salt), 4096, EVP_sha256(), 32, sp);
	HMAC(EVP_sha256(), sp, 32, (const unsigned char *)"Client Key", 10, ck, &len);
	HMAC(EVP_sha256(), sp, 32, (const unsigned char *)"Server Key", 10, sk, &len);
	SHA256(ck, 32, stored);
	buf_append_str(&v, "SCRAM-SHA-256$4096:");
	base64_encode(&v, salt, sizeof(salt));
	buf_append_c(&v, '$');
	base64_encode(&v, stored, 32);
	buf_append_c(&v, ':');
	base64_encode(&v, sk, 32);
	verifier = v.data;
}

static int lookup(void *ctx, struct store *st, const char *user, char **verifier_r,
		  struct auth_identity *id_r)
{
	if (strcmp(user, "user") != 0)
		return STORE_NOTFOUND;
	*verifier_r = strdup(verifier);
	id_r->mailbox_id = 1;
	return STORE_OK;
}

static bool inside(struct slice s, const char *p, size_t len)
{
	return s.len == 0 || (s.p >= p && s.p + s.len <= p + len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct slice z, u, pw;
	struct sasl_scram_first f;
	struct sasl_scram_final fin;

	if (verifier == NULL)
		make_verifier();
	if (sasl_plain_parse(in, size, &z, &u, &pw) == 0) {
		CHECK(inside(z, in, size) && inside(u, in, size) && inside(pw, in, size));
		CHECK(u.len > 0 && u.len <= SASL_NAME_MAX && pw.len > 0);
	}
	if (sasl_scram_parse_first(in, size, &f) == 0) {
		CHECK(inside(f.bare, in, size) && inside(f.nonce, in, size));
		CHECK(f.user[0] != '\0' && strlen(f.user) <= SASL_NAME_MAX);
		CHECK(f.gs2_header.p == in && f.bare.p == in + f.gs2_header.len);
	}
	if (sasl_scram_parse_final(in, size, &fin) == 0) {
		CHECK(inside(fin.proof, in, size) && inside(fin.without_proof, in, size));
		CHECK(fin.without_proof.p == in);
	}

	/* a whole exchange: first message, newline, final message */
	const char *nl = memchr(in, '\n', size);
	size_t len1 = nl != NULL ? (size_t)(nl - in) : size;
	struct sasl_server *s = sasl_server_new(SASL_SCRAM_SHA_256, NULL);
	struct buf out = {0};
	struct auth_identity id;
	memset(&id, 0, sizeof(id));
	sasl_server_set_scram_lookup(s, lookup, NULL);
	if (size > 0 && data[size - 1] & 1)
		sasl_server_set_nonce(s, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
	enum sasl_step r = sasl_server_step(s, NULL, in, len1, &out, &id);
	CHECK(r == SASL_CONTINUE || r == SASL_MALFORMED);
	if (r == SASL_CONTINUE && nl != NULL) {
		buf_clear(&out);
		r = sasl_server_step(s, NULL, nl + 1, size - len1 - 1, &out, &id);
		CHECK(r == SASL_SUCCESS || r == SASL_FAILED || r == SASL_MALFORMED);
		CHECK(r != SASL_SUCCESS || (out.len > 2 && memcmp(out.data, "v=", 2) == 0));
	}
	buf_free(&out);
	sasl_server_free(&s);
	return 0;
}
