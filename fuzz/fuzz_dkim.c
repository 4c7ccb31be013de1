/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dkim.c - libFuzzer target for DKIM (filter/dkim.h). The first octet
 * picks what the rest is: a tag list, a DKIM-Signature value, a key record,
 * or a message. A message is verified as it is with a fixed Ed25519 key
 * fed as its DNS answer (every result a valid status, the strings
 * terminated), and, when it has a From field, signed with that key and
 * verified again: what dkim_sign() made must pass.
 */
#include "dns/dns_answer.h"
#include "filter/dkim.h"
#include "fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char PEM[] = "-----BEGIN PRIVATE KEY-----\n"
			  "MC4CAQAwBQYDK2VwBCIEIBFLhJt6QHv4dNxk/w/PekaygtLoZHqIbS5OSU89OrrC\n"
			  "-----END PRIVATE KEY-----\n";

static int verify(const char *msg, size_t len, const char *txt, size_t *count_r)
{
	struct dkim_verify *v = dkim_verify_begin(msg, len);
	struct dns_answer a;
	int first = -1;

	dkim_verify_set_time(v, 1764806400);
	*count_r = dkim_verify_count(v);
	CHECK(*count_r <= DKIM_VERIFY_MAX);
	for (size_t i = 0; i < *count_r; i++) {
		const char *name = dkim_verify_key_name(v, i);
		if (!name)
			continue;
		CHECK(strlen(name) < DNS_NAME_MAX);
		dns_answer_init(&a, DNS_TYPE_TXT, DNS_RESULT_OK);
		dns_answer_add_txt(&a, txt, strlen(txt));
		dkim_verify_key(v, i, &a);
		dns_answer_free(&a);
	}
	dkim_verify_finish(v);
	for (size_t i = 0; i < *count_r; i++) {
		const struct dkim_result *r = dkim_verify_result(v, i);
		CHECK(r->result >= DKIM_PASS && r->result <= DKIM_PERMERROR);
		CHECK(memchr(r->reason, 0, sizeof(r->reason)) &&
		      memchr(r->domain, 0, sizeof(r->domain)));
		if (i == 0)
			first = r->result;
	}
	dkim_verify_free(&v);
	return first;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dkim_key *key;
	static char *txt;
	char reason[128];

	if (size < 1 || size > 1 << 16)
		return 0;
	if (!key) {
		key = dkim_key_new("example.org", "fz", PEM, reason, sizeof(reason));
		CHECK(key != NULL);
		txt = dkim_key_txt(key);
	}
	const char *p = (const char *)data + 1;
	size_t len = size - 1;
	switch (data[0] % 4) {
	case 0: {
		struct dkim_tags t;
		if (dkim_tags_parse(p, len, &t) == 0)
			for (size_t i = 0; i < t.n; i++)
				CHECK(t.t[i].value.p >= p &&
				      t.t[i].value.p + t.t[i].value.len <= p + len);
		break;
	}
	case 1: {
		struct dkim_sig sig;
		if (dkim_sig_parse(p, len, &sig, reason, sizeof(reason)) == 0)
			CHECK(sig.nh > 0 && sig.bh.len == 32 && sig.domain[0]);
		dkim_sig_free(&sig);
		break;
	}
	case 2: {
		struct dkim_keyrec kr;
		if (dkim_keyrec_parse(p, len, &kr, reason, sizeof(reason)) == 0)
			CHECK(kr.revoked == (kr.p.len == 0));
		dkim_keyrec_free(&kr);
		break;
	}
	default: {
		size_t n;
		struct dkim_msg m;
		verify(p, len, txt, &n);
		dkim_msg_split(&m, p, len);
		size_t fields = m.n;
		dkim_msg_free(&m);
		/* the signature goes on top: the message must not start with a
		   continuation line, and stay under the fields looked at */
		if (len == 0 || p[0] == ' ' || p[0] == '\t' || fields >= DKIM_HEADERS_MAX - 1)
			break;
		char *sig = dkim_sign(key, p, len, 1764806400);
		if (!sig)
			break;
		size_t sl = strlen(sig);
		char *both = malloc(sl + len);
		CHECK(both != NULL);
		memcpy(both, sig, sl);
		memcpy(both + sl, p, len);
		CHECK(verify(both, sl + len, txt, &n) == DKIM_PASS);
		free(both);
		free(sig);
	}
	}
	return 0;
}
