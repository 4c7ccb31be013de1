/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gssapi.c - libFuzzer target for SASL GSSAPI (proto/sasl_gssapi.h):
 * the client's first context token against a real acceptor, and the pure
 * helpers (principal to address, the RFC 4752 §3.1 layer message).
 *
 * The first input byte picks the part, the rest is the input:
 *  0: a context token for an acceptor whose keytab holds a random key for
 *     pop/localhost@TEST.REALM (made once, in /tmp, with libkrb5). No input
 *     can be a ticket for that key, so every one must fail - SASL_FAILED,
 *     or SASL_MALFORMED for an empty token - with no address, no output
 *     token, and the exchange over;
 *  1: "PRINCIPAL\nLAYER": sasl_gssapi_map() of PRINCIPAL for TEST.REALM
 *     gives NAME@example.org exactly when PRINCIPAL is NAME@TEST.REALM with
 *     a plain NAME; sasl_gssapi_parse_layer() of LAYER accepts only the
 *     "no layer" bit and returns the rest as the authzid.
 */
#include "fuzz.h"
#include "proto/sasl_gssapi.h"
#include "util/buf.h"

#include <krb5/krb5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REALM "TEST.REALM"
#define DOMAIN "example.org"

static char keytab[64];

static void remove_keytab(void)
{
	unlink(keytab);
}

/* A keytab with one random AES key: nobody can make a ticket for it. */
static void make_keytab(void)
{
	krb5_context kc;
	krb5_principal p;
	krb5_keytab kt;
	krb5_keytab_entry e;
	char name[96];

	snprintf(keytab, sizeof(keytab), "/tmp/mailroom-fuzz-gssapi.%ld.keytab", (long)getpid());
	snprintf(name, sizeof(name), "FILE:%s", keytab);
	CHECK(krb5_init_context(&kc) == 0);
	CHECK(krb5_parse_name(kc, "pop/localhost@" REALM, &p) == 0);
	memset(&e, 0, sizeof(e));
	e.principal = p;
	e.vno = 1;
	CHECK(krb5_c_make_random_key(kc, ENCTYPE_AES256_CTS_HMAC_SHA1_96, &e.key) == 0);
	CHECK(krb5_kt_resolve(kc, name, &kt) == 0);
	CHECK(krb5_kt_add_entry(kc, kt, &e) == 0);
	krb5_kt_close(kc, kt);
	krb5_free_keyblock_contents(kc, &e.key);
	krb5_free_principal(kc, p);
	krb5_free_context(kc);
	atexit(remove_keytab);
}

static void fuzz_token(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		make_keytab();
		ready = true;
	}
	struct sasl_gssapi_conf c = {.keytab = keytab,
				     .service = "pop",
				     .host = "localhost",
				     .realm = REALM,
				     .domain = DOMAIN};
	struct sasl_gssapi *g = sasl_gssapi_new(&c);
	struct buf out = {0};
	char addr[SASL_GSSAPI_ADDRESS_MAX] = "";

	CHECK(sasl_gssapi_checks(g, (const char *)data));
	enum sasl_step r = sasl_gssapi_step(g, (const char *)data, size, &out, addr);
	CHECK(r == (size == 0 ? SASL_MALFORMED : SASL_FAILED));
	CHECK(addr[0] == '\0' && out.len == 0);
	CHECK(sasl_gssapi_principal(g)[0] == '\0');
	sasl_gssapi_free(&g);
	buf_free(&out);
}

static void fuzz_helpers(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t plen = nl != NULL ? (size_t)(nl - data) : size;
	char principal[512];
	char addr[SASL_GSSAPI_ADDRESS_MAX];
	struct slice z;

	size_t copy = plen < sizeof(principal) ? plen : sizeof(principal) - 1;
	memcpy(principal, data, copy);
	principal[copy] = '\0';
	if (sasl_gssapi_map(principal, REALM, DOMAIN, addr) == 0) {
		/* NAME@REALM -> NAME@DOMAIN, NAME without separators */
		char *at = strrchr(principal, '@');
		CHECK(at != NULL && strcmp(at + 1, REALM) == 0);
		size_t n = (size_t)(at - principal);
		CHECK(n > 0 && memchr(principal, '/', n) == NULL &&
		      memchr(principal, '@', n) == NULL);
		CHECK(strncmp(addr, principal, n) == 0 && strcmp(addr + n, "@" DOMAIN) == 0);
	}
	if (nl == NULL)
		return;
	const uint8_t *layer = nl + 1;
	size_t llen = size - plen - 1;
	if (sasl_gssapi_parse_layer(layer, llen, &z) == 0) {
		CHECK(llen >= 4 && layer[0] == 0x01);
		CHECK(z.p == (const char *)layer + 4 && z.len == llen - 4);
		for (size_t i = 0; i < z.len; i++)
			CHECK((unsigned char)z.p[i] >= 0x20 && z.p[i] != 0x7f);
	} else {
		/* refused: a short message, another layer, or a bad authzid */
		bool bad = llen < 4 || layer[0] != 0x01 || llen - 4 > SASL_NAME_MAX;
		for (size_t i = 4; !bad && i < llen; i++)
			bad = layer[i] < 0x20 || layer[i] == 0x7f;
		CHECK(bad);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] % 2 == 0)
		fuzz_token(data + 1, size - 1);
	else
		fuzz_helpers(data + 1, size - 1);
	return 0;
}
