/* SPDX-License-Identifier: MIT */
/*
 * test_dane.c - which TLSA records DANE for SMTP can use (queue/dane.h,
 * RFC 7672 §3.1.3, RFC 6698 §2.1): DANE-TA(2) and DANE-EE(3) with known
 * selectors and matching types of the right length; PKIX-TA(0), PKIX-EE(1),
 * unknown values and short or long digests left out; the cap; and how the
 * job is prepared for each state.
 */
#include "queue/dane.h"
#include "queue/smtp_client.h"
#include "test_common.h"

#include <string.h>

static void add(struct dns_answer *a, uint8_t u, uint8_t s, uint8_t m, size_t len)
{
	uint8_t data[80];
	memset(data, 0xab, sizeof(data));
	dns_answer_add_tlsa(a, u, s, m, data, len);
}

static void test_usable(void)
{
	struct dns_answer in, out;

	test_begin("dane: usable TLSA records");
	dns_answer_init(&in, DNS_TYPE_TLSA, DNS_RESULT_NODATA);
	dns_answer_init(&out, DNS_TYPE_TLSA, DNS_RESULT_NODATA);
	test_assert(dane_usable(&in, &out) == 0 && out.n == 0);
	add(&in, 3, 1, 1, 32); /* kept */
	add(&in, 2, 0, 1, 32); /* kept */
	add(&in, 2, 1, 2, 64); /* kept */
	add(&in, 3, 0, 0, 70); /* kept: the whole certificate (or key) */
	add(&in, 0, 0, 1, 32); /* PKIX-TA: unusable for SMTP */
	add(&in, 1, 1, 1, 32); /* PKIX-EE: unusable for SMTP */
	add(&in, 4, 1, 1, 32); /* unknown usage */
	add(&in, 3, 2, 1, 32); /* unknown selector */
	add(&in, 3, 1, 3, 32); /* unknown matching type */
	add(&in, 3, 1, 1, 31); /* SHA-256 of the wrong length */
	add(&in, 3, 1, 2, 32); /* SHA-512 of the wrong length */
	add(&in, 3, 1, 0, 0);  /* nothing to match */
	test_assert(dane_usable(&in, &out) == 4);
	test_assert(out.n == 4 && out.result == DNS_RESULT_OK);
	test_assert(out.rr[0].u.tlsa.usage == 3 && out.rr[0].u.tlsa.selector == 1 &&
		    out.rr[0].u.tlsa.mtype == 1 && out.rr[0].u.tlsa.len == 32);
	test_assert(out.rr[1].u.tlsa.usage == 2 && out.rr[1].u.tlsa.selector == 0);
	test_assert(out.rr[2].u.tlsa.mtype == 2 && out.rr[2].u.tlsa.len == 64);
	test_assert(out.rr[3].u.tlsa.mtype == 0 && out.rr[3].u.tlsa.len == 70);
	dns_answer_free(&out);

	/* another type's answer has no TLSA records */
	struct dns_answer mx;
	dns_answer_init(&mx, DNS_TYPE_MX, DNS_RESULT_NODATA);
	dns_answer_add_host(&mx, 10, "mx.example.test");
	dns_answer_init(&out, DNS_TYPE_TLSA, DNS_RESULT_NODATA);
	test_assert(dane_usable(&mx, &out) == 0);
	dns_answer_free(&mx);

	/* at most DANE_TLSA_MAX */
	dns_answer_free(&in);
	dns_answer_init(&in, DNS_TYPE_TLSA, DNS_RESULT_NODATA);
	for (int i = 0; i < DANE_TLSA_MAX + 5; i++)
		add(&in, 3, 1, 1, 32);
	test_assert(dane_usable(&in, &out) == DANE_TLSA_MAX && out.n == DANE_TLSA_MAX);
	dns_answer_free(&in);
	dns_answer_free(&out);
	test_end();
}

static void test_prepare_after(void)
{
	struct dane_host dh;
	struct smtp_client_job j;
	char note[300];

	test_begin("dane: the job and the log fields");
	memset(&dh, 0, sizeof(dh));
	memset(&j, 0, sizeof(j));
	dns_answer_init(&dh.tlsa, DNS_TYPE_TLSA, DNS_RESULT_NODATA);
	/* off: the route's TLS is left alone, nothing logged */
	dh.state = DANE_OFF;
	j.tls = ROUTE_TLS_MAY;
	dane_prepare(&dh, "example.test", &j);
	test_assert(j.tls == ROUTE_TLS_MAY && j.n_tlsa == 0 && j.tlsa == NULL);
	note[0] = '\0';
	dane_after(&dh, &j, note, sizeof(note));
	test_assert_str(note, "");

	/* on: STARTTLS mandatory, the records handed over */
	dh.state = DANE_ON;
	add(&dh.tlsa, 3, 1, 1, 32);
	j.tls_check = true;
	dane_prepare(&dh, "example.test", &j);
	test_assert(j.tls == ROUTE_TLS_ENCRYPT && !j.tls_check && j.n_tlsa == 1);
	test_assert_str(j.dane_domain, "example.test");
	j.tls_used = true;
	j.dane_usage = 3;
	dane_after(&dh, &j, note, sizeof(note));
	test_assert_str(note, " dane=pass dane-usage=3");

	/* a failed handshake: the reply is DANE's */
	note[0] = '\0';
	j.tls_used = false;
	j.tls_failed = true;
	strcpy(j.reply, "4.7.4 mx.example.test does not offer STARTTLS, required for this route");
	dane_after(&dh, &j, note, sizeof(note));
	test_assert_str(j.reply, "4.7.5 DANE: mx.example.test does not offer STARTTLS");
	test_assert_str(note, " dane=fail dane-reason=\"mx.example.test does not offer STARTTLS\"");

	/* secure records, none usable: TLS, not authenticated */
	dh.state = DANE_ENCRYPT;
	dane_prepare(&dh, "example.test", &j);
	test_assert(j.tls == ROUTE_TLS_ENCRYPT && j.n_tlsa == 0);
	note[0] = '\0';
	j.tls_failed = false;
	j.tls_used = true;
	dane_after(&dh, &j, note, sizeof(note));
	test_assert_str(note, " dane=unusable");
	dane_host_clear(&dh);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_usable, test_prepare_after, NULL});
}
