/* SPDX-License-Identifier: MIT */
/*
 * test_authres.c - filter/authres.h: the field as RFC 8601 writes it (one
 * resinfo a line, ';' between, "none" without results), values quoted when
 * they are no token, reasons quoted, CR/LF in values neutralised, folding
 * under 78 columns; authres_is_ours with comments, quoted ids, versions and
 * look-alikes; authres_find_forged on a header with several fields.
 */
#include "filter/authres.h"
#include "test_common.h"

#include <stdlib.h>
#include <string.h>

static void test_authres_format(void)
{
	test_begin("authres: format");
	struct authres *ar = authres_new("mx.example.net");
	test_assert(authres_prop(ar, "smtp.mailfrom", "x") == -1);
	test_assert(authres_add(ar, "spf", "pass", NULL) == 0);
	test_assert(authres_prop(ar, "smtp.mailfrom", "a@b.example") == 0);
	test_assert(authres_add(ar, "dkim", "pass", NULL) == 0);
	test_assert(authres_prop(ar, "header.d", "b.example") == 0);
	test_assert(authres_prop(ar, "header.s", "sel1") == 0);
	test_assert(authres_add(ar, "dmarc", "fail", "p=reject") == 0);
	test_assert(authres_prop(ar, "header.from", "b.example") == 0);
	char *f = authres_format(ar);
	test_assert_str(f, "Authentication-Results: mx.example.net;\r\n"
			   "\tspf=pass smtp.mailfrom=a@b.example;\r\n"
			   "\tdkim=pass header.d=b.example header.s=sel1;\r\n"
			   "\tdmarc=fail reason=\"p=reject\" header.from=b.example\r\n");
	free(f);
	authres_free(&ar);
	authres_free(&ar);

	ar = authres_new("mx.example.net");
	f = authres_format(ar);
	test_assert_str(f, "Authentication-Results: mx.example.net; none\r\n");
	free(f);
	authres_free(&ar);
	test_end();
}

static void test_authres_quoting(void)
{
	test_begin("authres: quoting, controls, folding");
	struct authres *ar = authres_new("mx.example.net\r\nX-Evil: 1");
	authres_add(ar, "spf", "fail", "said \"no\"\r\nX-Evil: 2");
	authres_prop(ar, "smtp.mailfrom", "a b@c.example");
	authres_prop(ar, "smtp.helo", "we;ird");
	authres_prop(ar, "policy.x", "\\");
	char *f = authres_format(ar);
	test_assert(strstr(f, "\r\nX-Evil") == NULL);
	test_assert(strstr(f, "reason=\"said \\\"no\\\"  X-Evil: 2\"") != NULL);
	test_assert(strstr(f, "smtp.mailfrom=\"a b@c.example\"") != NULL);
	test_assert(strstr(f, "smtp.helo=\"we;ird\"") != NULL);
	test_assert(strstr(f, "policy.x=\"\\\\\"") != NULL);
	free(f);
	authres_free(&ar);

	ar = authres_new("mx.example.net");
	authres_add(ar, "dkim", "pass",
		    "a signature made by a host with a rather long comment here");
	authres_prop(ar, "header.d", "a-long-domain-name.subdomain.example.com");
	authres_prop(ar, "header.s", "selector2024");
	authres_prop(ar, "header.b", "AbCdEfGh");
	f = authres_format(ar);
	/* every line under 78 columns */
	for (char *l = f; *l != '\0';) {
		char *e = strstr(l, "\r\n");
		test_assert(e != NULL && e - l <= 78);
		if (e == NULL)
			break;
		l = e + 2;
	}
	test_assert(strstr(f, "\r\n\theader.b=AbCdEfGh\r\n") != NULL ||
		    strstr(f, " header.b=AbCdEfGh\r\n") != NULL);
	free(f);
	for (int i = 0; i < AUTHRES_MAX_RESULTS; i++)
		test_assert(authres_add(ar, "x", "none", NULL) ==
			    (i < AUTHRES_MAX_RESULTS - 1 ? 0 : -1));
	authres_free(&ar);
	test_end();
}

static bool ours(const char *v)
{
	return authres_is_ours(v, strlen(v), "mx.example.net");
}

static void test_authres_is_ours(void)
{
	test_begin("authres: is ours");
	test_assert(ours(" mx.example.net; spf=pass smtp.mailfrom=a@b.example"));
	test_assert(ours("MX.Example.NET;spf=pass"));
	test_assert(ours(" (forged) mx.example.net (really) ; none"));
	test_assert(ours("\r\n\t(a (nested) comment)\r\n mx.example.net 1; none"));
	test_assert(ours(" \"mx.example.net\"; none"));
	test_assert(ours("mx.example.net"));
	test_assert(!ours(" mx.example.net.evil; none"));
	test_assert(!ours(" evil.mx.example.net; none"));
	test_assert(!ours(" mx.example.org; none"));
	test_assert(!ours(" mx.example.net x; none"));
	test_assert(!ours(""));
	test_assert(!ours(" (unterminated mx.example.net; none"));
	test_assert(!ours(" \"mx.example.net; none"));
	test_end();
}

static void test_authres_find(void)
{
	static const char msg[] = "Received: from a by b\r\n"
				  "Authentication-Results: mx.example.net;\r\n"
				  "\tspf=pass smtp.mailfrom=x@y.example\r\n"
				  "authentication-results : other.example; none\r\n"
				  "Authentication-Results-X: mx.example.net; none\r\n"
				  "AUTHENTICATION-RESULTS: (c) mx.example.net; dkim=pass\r\n"
				  "Subject: hi\r\n"
				  "\r\n"
				  "Authentication-Results: mx.example.net; none\r\n";
	struct authres_span sp[4];

	test_begin("authres: find forged fields in a header");
	size_t n = authres_find_forged(msg, strlen(msg), "mx.example.net", sp, 4);
	test_assert(n == 2);
	if (n == 2) {
		test_assert(strncmp(msg + sp[0].off, "Authentication-Results: mx", 26) == 0);
		test_assert(sp[0].len == strlen("Authentication-Results: mx.example.net;\r\n"
						"\tspf=pass smtp.mailfrom=x@y.example\r\n"));
		test_assert(strncmp(msg + sp[1].off, "AUTHENTICATION-RESULTS:", 23) == 0);
		test_assert(msg[sp[1].off + sp[1].len] == 'S');
	}
	test_assert(authres_find_forged(msg, strlen(msg), "mx.example.net", sp, 1) == 2);
	test_assert(authres_find_forged(msg, strlen(msg), "other.example", sp, 4) == 1);
	/* no final line end, bare LF */
	static const char lf[] = "Authentication-Results: mx.example.net; none\n x";
	test_assert(authres_find_forged(lf, strlen(lf), "mx.example.net", sp, 4) == 1);
	test_assert(sp[0].len == strlen(lf));
	test_assert(authres_find_forged("", 0, "mx.example.net", sp, 4) == 0);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_authres_format, test_authres_quoting,
					   test_authres_is_ours, test_authres_find, NULL});
}
