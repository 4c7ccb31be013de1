/* SPDX-License-Identifier: MIT */
/*
 * test_check.c - the pieces of `mailroom check` that need no server
 * (check/check_private.h): {input, expected} tables for the readers of
 * server output (CAPA, EHLO AUTH, header fields, the probe's integrity,
 * new UIDLs), the TLS verdict for certificate facts, the text form of a
 * step, and the PTR and TXT readers of dns/dns.h on raw answers.
 */
#include "check/check_private.h"
#include "dns/dns.h"
#include "test_common.h"

#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <string.h>

static void test_capa(void)
{
	static const struct {
		const char *in;
		bool stls, plain, user, uidl, top;
	} cases[] = {
	    {"STLS\r\nSASL PLAIN LOGIN\r\nUSER\r\nUIDL\r\nTOP\r\n", true, true, true, true, true},
	    {"sasl login plain\nuser\n", false, true, true, false, false},
	    {"SASL LOGIN\r\nIMPLEMENTATION PLAIN\r\n", false, false, false, false, false},
	    {"SASL PLAINX\r\nSTLSX\r\n", false, false, false, false, false},
	    {"  STLS\r\n\r\nTOP", true, false, false, false, true},
	    {"", false, false, false, false, false},
	};
	test_begin("check: CAPA tags");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct check_capa c;
		check_parse_capa(cases[i].in, strlen(cases[i].in), &c);
		test_assert(c.stls == cases[i].stls);
		test_assert(c.sasl_plain == cases[i].plain);
		test_assert(c.user == cases[i].user);
		test_assert(c.uidl == cases[i].uidl);
		test_assert(c.top == cases[i].top);
	}
	test_end();
}

static void test_ehlo_auth(void)
{
	static const struct {
		const char *in;
		bool plain, login;
	} cases[] = {
	    {"AUTH PLAIN LOGIN", true, true},
	    {"auth login", false, true},
	    {"AUTH=PLAIN", true, false},
	    {"AUTH=LOGIN PLAIN", true, true},
	    {"AUTH CRAM-MD5 SCRAM-SHA-256", false, false},
	    {"AUTHX PLAIN", false, false},
	    {"8BITMIME", false, false},
	    {"", false, false},
	};
	test_begin("check: EHLO AUTH mechanisms");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		bool plain = false, login = false;
		check_parse_ehlo_auth(cases[i].in, strlen(cases[i].in), &plain, &login);
		test_assert(plain == cases[i].plain);
		test_assert(login == cases[i].login);
	}
	test_end();
}

static void test_header(void)
{
	static const char hdr[] = "Received: from x\r\n\tby y\r\n"
				  "Subject: mailroom\r\n check abc123\r\n"
				  "Message-ID: <mailroom-check.abc123@example.test>\r\n"
				  "\r\n"
				  "Subject: mailroom check body\r\n";
	static const struct {
		const char *name, *needle;
		bool found;
	} cases[] = {
	    {"Subject", "mailroom check abc123", true}, /* unfolded */
	    {"subject", "abc123", true},
	    {"Subject", "mailroom check body", false}, /* the body is not the header */
	    {"Message-ID", "abc123", true},
	    {"Message", "abc123", false},
	    {"Received", "by y", true},
	    {"To", "", false},
	};
	test_begin("check: header fields");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++)
		test_assert(check_parse_header_has(hdr, sizeof(hdr) - 1, cases[i].name,
						   cases[i].needle) == cases[i].found);
	/* a header without its empty line (TOP n 0 of a message without body) */
	test_assert(check_parse_header_has("Subject: x\r\n", 12, "Subject", "x"));
	test_end();
}

static void test_intact(void)
{
	static const char sent[] = "From: a\r\nSubject: s\r\n\r\nbody line\r\n.dot\r\n";
	static const struct {
		const char *got;
		bool intact;
	} cases[] = {
	    {"Return-Path: <a>\r\nFrom: a\r\nSubject: s\r\n\r\nbody line\r\n.dot\r\n", true},
	    {"From: a\r\nSubject: s\r\n\r\nbody line\r\n.dot\r\n", true},
	    {"From: a\r\n\r\nbody line\r\ndot\r\n", false}, /* the stuffing undone twice */
	    {"From: a\r\n\r\nbody line\r\n.dot\r\nmore\r\n", false},
	    {"From: a\r\n\r\nbody line\n.dot\n", false},
	    {"From: a\r\nSubject: s\r\n", false}, /* no body */
	};
	test_begin("check: the probe comes back intact");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++)
		test_assert(check_parse_intact(cases[i].got, strlen(cases[i].got), sent,
					       sizeof(sent) - 1) == cases[i].intact);
	test_end();
}

struct collected {
	uint64_t n[8];
	size_t count;
	uint64_t stop_at;
};

static bool collect(void *ctx, uint64_t n)
{
	struct collected *c = ctx;
	if (c->count < N_ELEMENTS(c->n))
		c->n[c->count++] = n;
	return n == c->stop_at;
}

static void test_new_uidls(void)
{
	static const char base[] = "1 aaa\r\n2 bbb\r\n";
	static const char now[] = "1 aaa\r\n2 ccc\r\nbad line\r\n3 bbb\r\n4 ddd\r\n";
	struct collected c = {0};

	test_begin("check: UIDLs not in the first listing");
	test_assert(
	    check_parse_new_uidls(now, sizeof(now) - 1, base, sizeof(base) - 1, collect, &c) == 2);
	test_assert(c.count == 2 && c.n[0] == 2 && c.n[1] == 4);
	memset(&c, 0, sizeof(c));
	c.stop_at = 2; /* found: the walk stops */
	test_assert(
	    check_parse_new_uidls(now, sizeof(now) - 1, base, sizeof(base) - 1, collect, &c) == 1);
	memset(&c, 0, sizeof(c));
	test_assert(check_parse_new_uidls(now, sizeof(now) - 1, "", 0, collect, &c) == 4);
	test_end();
}

static void test_tls_judge(void)
{
	struct check_tls t = {.version = "TLSv1.3",
			      .subject = "mail.example.test",
			      .issuer = "Example CA",
			      .not_after = "2027-01-01",
			      .days_left = 90,
			      .verify = X509_V_OK};
	char d[CHECK_DETAILS_MAX];

	test_begin("check: the TLS verdict");
	test_assert(check_tls_judge(&t, d, sizeof(d)) == CHECK_OK);
	test_assert_str(d, "TLSv1.3, mail.example.test, issuer Example CA, notAfter 2027-01-01 "
			   "(90 days), verified");
	t.days_left = 20;
	test_assert(check_tls_judge(&t, d, sizeof(d)) == CHECK_WARNING);
	test_assert(strstr(d, "expires in 20 days") != NULL);
	t.days_left = 21;
	test_assert(check_tls_judge(&t, d, sizeof(d)) == CHECK_OK);
	t.verify = X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT;
	test_assert(check_tls_judge(&t, d, sizeof(d)) == CHECK_WARNING);
	test_assert(strstr(d, "not verified: self-signed certificate") != NULL);
	t.expired = true;
	t.verify = X509_V_ERR_CERT_HAS_EXPIRED;
	test_assert(check_tls_judge(&t, d, sizeof(d)) == CHECK_CRITICAL);
	test_assert(strstr(d, "certificate expired") != NULL);
	t.expired = false;
	t.not_yet_valid = true;
	test_assert(check_tls_judge(&t, d, sizeof(d)) == CHECK_CRITICAL);
	test_end();
}

static void test_step_line(void)
{
	struct check_step s = {.status = CHECK_OK, .ms = 12};
	char line[256];

	test_begin("check: a step as a line");
	snprintf(s.service, sizeof(s.service), "pop3s");
	snprintf(s.address, sizeof(s.address), "127.0.0.1:995");
	snprintf(s.step, sizeof(s.step), "login");
	snprintf(s.details, sizeof(s.details), "AUTH PLAIN as a@b");
	check_step_line(&s, line, sizeof(line));
	test_assert_str(line, "OK       pop3s       127.0.0.1:995         login         12 ms  "
			      "AUTH PLAIN as a@b");
	s.status = CHECK_SKIPPED;
	s.ms = -1;
	check_step_line(&s, line, sizeof(line));
	test_assert(strncmp(line, "SKIPPED  pop3s", 14) == 0 && strstr(line, "   -  ") != NULL);
	test_end();
}

/* A DNS answer: header, the question, answers of one type with rdata. */
static size_t answer(unsigned char *m, const char *qname, int type, const unsigned char *rd[],
		     const size_t rdlen[], size_t n)
{
	size_t o = 0;
	static const unsigned char hdr[] = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0};
	memcpy(m, hdr, sizeof(hdr));
	m[7] = (unsigned char)n;
	o = sizeof(hdr);
	for (const char *p = qname; *p != '\0';) {
		size_t l = strcspn(p, ".");
		m[o++] = (unsigned char)l;
		memcpy(m + o, p, l);
		o += l;
		p += l + (p[l] == '.');
	}
	m[o++] = 0;
	m[o++] = 0, m[o++] = (unsigned char)type, m[o++] = 0, m[o++] = 1;
	for (size_t i = 0; i < n; i++) {
		static const unsigned char rr[] = {0xc0, 0x0c, 0, 0, 0, 1, 0, 0, 1, 0x2c};
		memcpy(m + o, rr, sizeof(rr));
		m[o + 3] = (unsigned char)type;
		o += sizeof(rr);
		m[o++] = (unsigned char)(rdlen[i] >> 8), m[o++] = (unsigned char)rdlen[i];
		memcpy(m + o, rd[i], rdlen[i]);
		o += rdlen[i];
	}
	return o;
}

static void test_dns_ptr_txt(void)
{
	unsigned char m[512];
	ns_msg msg;
	struct mx_host names[4];
	static char txt[4][DNS_TXT_MAX];
	size_t n = 0;

	test_begin("dns: PTR and TXT readers");
	static const unsigned char ptr[] = "\4mail\7example\4test";
	const unsigned char *rd[] = {ptr};
	size_t rdlen[] = {sizeof(ptr)};
	size_t len = answer(m, "2.0.0.127.in-addr.arpa", ns_t_ptr, rd, rdlen, 1);
	test_assert(ns_initparse(m, (int)len, &msg) == 0);
	dns_parse_ptr(&msg, names, 4, &n);
	test_assert(n == 1);
	test_assert_str(names[0].name, "mail.example.test");

	/* two character-strings joined; a control octet shown as '?' */
	static const unsigned char spf[] = "\x0av=spf1 mx \x04-all";
	static const unsigned char ctl[] = "\x03"
					   "a\x01"
					   "b";
	const unsigned char *rd2[] = {spf, ctl};
	size_t rdlen2[] = {sizeof(spf) - 1, sizeof(ctl) - 1};
	len = answer(m, "example.test", ns_t_txt, rd2, rdlen2, 2);
	test_assert(ns_initparse(m, (int)len, &msg) == 0);
	n = 0;
	dns_parse_txt(&msg, txt, 4, &n);
	test_assert(n == 2);
	test_assert_str(txt[0], "v=spf1 mx -all");
	test_assert_str(txt[1], "a?b");
	test_end();
}

/* Feeds in as one whole and octet by octet: the responses (joined by
   '|', each without its line end's LF) and how it ended. */
static void imap_cut(const char *in, size_t len, size_t max, size_t chunk, struct buf *out,
		     enum check_imap_error *err)
{
	struct check_imap_resp r;
	size_t off = 0;

	check_imap_resp_init(&r, max);
	*err = CHECK_IMAP_E_NONE;
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk, used;
		enum check_imap_feed st = check_imap_resp_feed(&r, in + off, n, &used);
		off += used;
		if (st == CHECK_IMAP_BAD) {
			*err = r.error;
			break;
		}
		if (st == CHECK_IMAP_DONE) {
			buf_append(out, r.text.data, r.text.len - 1);
			buf_append_c(out, '|');
			check_imap_resp_reset(&r);
		}
	}
	buf_append_c(out, '\0');
	check_imap_resp_free(&r);
}

static void test_imap_reader(void)
{
	static const struct {
		const char *in;
		size_t len, max;
		const char *out;
		enum check_imap_error err;
	} cases[] = {
#define IN(s) s, sizeof(s) - 1
	    {IN("* OK ready\r\na1 OK done\r\n"), 4096, "* OK ready\r|a1 OK done\r|", 0},
	    {IN("* OK lf only\n* BYE\n"), 4096, "* OK lf only|* BYE|", 0},
	    /* a literal holds line ends and a "{n}" of its own */
	    {IN("* 1 FETCH (BODY[] {9}\r\na\r\n{3}\r\nb UID 4)\r\nt OK\r\n"), 4096,
	     "* 1 FETCH (BODY[] {9}\r\na\r\n{3}\r\nb UID 4)\r|t OK\r|", 0},
	    {IN("* 1 FETCH (BODY[] {0}\r\n UID 4)\r\n"), 4096,
	     "* 1 FETCH (BODY[] {0}\r\n UID 4)\r|", 0},
	    {IN("* 1 FETCH (BINARY[] ~{2}\r\n\0\1)\r\n"), 4096, "", 0}, /* checked below */
	    /* a response not yet whole is no response */
	    {IN("* OK no line end"), 4096, "", 0},
	    {IN("* 1 FETCH (BODY[] {5}\r\nab"), 4096, "", 0},
	    /* the bounds: a literal over max before a byte of it is taken */
	    {IN("* 1 FETCH (BODY[] {100}\r\n"), 64, "", CHECK_IMAP_E_BIG},
	    {IN("* 1 FETCH (BODY[] {99999999999999999999}\r\n"), 64, "", CHECK_IMAP_E_BIG},
	    {IN("a OK\r\n* OK a\0b\r\n"), 4096, "a OK\r|", CHECK_IMAP_E_NUL},
	    {IN("{5x}\r\n"), 4096, "{5x}\r|", 0},
#undef IN
	};
	test_begin("check: IMAP responses, whole and octet by octet");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		size_t len = cases[i].len;
		for (size_t chunk = 1; chunk <= len; chunk += len - 1 > 0 ? len - 1 : 1) {
			struct buf out = {0};
			enum check_imap_error err;
			imap_cut(cases[i].in, len, cases[i].max, chunk, &out, &err);
			if (i == 4)
				test_assert(out.len == len + 1 &&
					    memcmp(out.data, cases[i].in, len - 1) == 0);
			else
				test_assert_str(out.data, cases[i].out);
			test_assert(err == cases[i].err);
			buf_free(&out);
			if (len <= 1)
				break;
		}
	}
	/* a line of 8192 octets is taken, one more is refused */
	struct buf line = {0}, out = {0};
	enum check_imap_error err;
	buf_append_str(&line, "* OK ");
	while (line.len < CHECK_IMAP_LINE_MAX)
		buf_append_c(&line, 'x');
	buf_append_str(&line, "\n");
	imap_cut(line.data, line.len, 1u << 20, 7, &out, &err);
	test_assert(err == CHECK_IMAP_E_NONE && out.len == line.len + 1);
	buf_clear(&out);
	line.data[line.len - 1] = 'x';
	buf_append_str(&line, "\r\n");
	imap_cut(line.data, line.len, 1u << 20, 7, &out, &err);
	test_assert(err == CHECK_IMAP_E_LONG);
	buf_free(&out);
	buf_free(&line);
	/* never past the end of a response */
	struct check_imap_resp r;
	size_t used;
	check_imap_resp_init(&r, 4096);
	const char two[] = "* OK a\r\nb OK\r\n";
	test_assert(check_imap_resp_feed(&r, two, sizeof(two) - 1, &used) == CHECK_IMAP_DONE);
	test_assert(used == 8);
	test_assert(check_imap_resp_feed(&r, two + used, 1, &used) == CHECK_IMAP_BAD);
	test_assert(used == 0 && r.error == CHECK_IMAP_E_DONE);
	check_imap_resp_free(&r);
	test_end();
}

static void test_imap_head(void)
{
	static const struct {
		const char *in;
		enum check_imap_kind kind;
		const char *tag, *word, *code, *text;
		long long num; /* -1: none */
	} cases[] = {
	    {"* OK [CAPABILITY IMAP4rev1 STARTTLS] mail ready\r\n", CHECK_IMAP_UNTAGGED, "", "OK",
	     "CAPABILITY IMAP4rev1 STARTTLS", "mail ready", -1},
	    {"a7 NO [AUTHENTICATIONFAILED] Authentication failed\r\n", CHECK_IMAP_TAGGED, "a7",
	     "NO", "AUTHENTICATIONFAILED", "Authentication failed", -1},
	    {"* 12 EXISTS\r\n", CHECK_IMAP_UNTAGGED, "", "EXISTS", "", "", 12},
	    {"+ \r\n", CHECK_IMAP_CONT, "", "", "", "", -1},
	    {"a1 bad  no code\n", CHECK_IMAP_TAGGED, "a1", "bad", "", "no code", -1},
	    {"* BYE [unclosed code\r\n", CHECK_IMAP_UNTAGGED, "", "BYE", "", "[unclosed code", -1},
	};
	test_begin("check: IMAP response heads");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct check_imap_head h;
		char t[256];
		test_assert(check_imap_head(cases[i].in, strlen(cases[i].in), &h));
		test_assert(h.kind == cases[i].kind);
		check_imap_text(h.tag, t, sizeof(t));
		test_assert_str(t, cases[i].tag);
		check_imap_text(h.word, t, sizeof(t));
		test_assert_str(t, cases[i].word);
		check_imap_text(h.code, t, sizeof(t));
		test_assert_str(t, cases[i].code);
		check_imap_text(h.text, t, sizeof(t));
		test_assert_str(t, cases[i].text);
		test_assert(h.has_num == (cases[i].num >= 0));
		if (h.has_num)
			test_assert((long long)h.num == cases[i].num);
	}
	struct check_imap_head h;
	test_assert(!check_imap_head("", 0, &h));
	test_assert(!check_imap_head("*\r\n", 3, &h));
	test_assert(!check_imap_head("* 3\r\n", 5, &h));
	test_end();
}

static void test_imap_capa_search(void)
{
	struct check_imap_capa c = {0};
	test_begin("check: IMAP CAPABILITY and SEARCH");
	check_imap_parse_capa(slice_from("imap4rev1 STARTTLS AUTH=PLAIN AUTH=PLAINX SASL-IR"), &c);
	test_assert(c.imap4rev1 && c.starttls && c.auth_plain && c.sasl_ir);
	test_assert(!c.imap4rev2 && !c.logindisabled && !c.uidplus);
	check_imap_parse_capa(slice_from("IMAP4rev2 LOGINDISABLED UIDPLUS"), &c);
	test_assert(c.imap4rev2 && c.logindisabled && c.uidplus);

	static const struct {
		const char *in;
		size_t n;
		uint64_t first, second;
	} cases[] = {
	    {"* SEARCH\r\n", 0, 0, 0},
	    {"* SEARCH 7\r\n", 1, 7, 0},
	    {"* SEARCH 3 9 12\r\n", 3, 3, 9},
	    {"* SEARCH 4 (MODSEQ 8)\r\n", 1, 4, 0},
	    {"* ESEARCH (TAG \"a4\") UID ALL 5\r\n", 1, 5, 0},
	    {"* ESEARCH (TAG \"a4\") UID COUNT 3 ALL 2:4\r\n", 3, 2, 3},
	    {"* ESEARCH (TAG \"a4\") UID ALL 9:8,20\r\n", 3, 8, 9},
	    {"* ESEARCH (TAG \"a4\") UID\r\n", 0, 0, 0},
	    {"* 3 SEARCH 4\r\n", 0, 0, 0},
	    {"a1 OK SEARCH 4\r\n", 0, 0, 0},
	    {"* SEARCH 1 99999999999\r\n", 1, 1, 0},
	};
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct check_imap_head h;
		uint64_t uids[2] = {0, 0};
		test_assert(check_imap_head(cases[i].in, strlen(cases[i].in), &h));
		test_assert(check_imap_parse_search(&h, uids, 2) == cases[i].n);
		test_assert(uids[0] == cases[i].first && uids[1] == cases[i].second);
	}
	test_end();
}

static void test_imap_fetch(void)
{
	static const struct {
		const char *in;
		bool ok;
		uint64_t uid;
		const char *body;
	} cases[] = {
	    {"* 2 FETCH (UID 7 BODY[] {11}\r\nSubject: x\n)\r\n", true, 7, "Subject: x\n"},
	    {"* 2 FETCH (BODY[] {3}\r\n)() UID 8 FLAGS (\\Seen (x)))\r\n", true, 8, ")()"},
	    {"* 2 FETCH (FLAGS () UID 9 BODY[] \"a\\\"b\\\\c\")\r\n", true, 9, "a\"b\\c"},
	    {"* 2 FETCH (BODY[HEADER.FIELDS (MESSAGE-ID)] {4}\r\nM: x UID 3)\r\n", true, 3, ""},
	    {"* 2 FETCH (UID 4 BODY[] NIL)\r\n", true, 4, ""},
	    {"* 2 FETCH (UID 4)\r\n", true, 4, ""},
	    /* a literal longer than what is there, unclosed lists, junk */
	    {"* 2 FETCH (UID 4 BODY[] {50}\r\nshort)\r\n", false, 4, ""},
	    {"* 2 FETCH (UID 4 FLAGS (\\Seen\r\n", false, 4, ""},
	    {"* 2 FETCH UID 4\r\n", false, 0, ""},
	    {"* 2 FETCH (UID x)\r\n", false, 0, ""},
	    {"* FETCH (UID 4)\r\n", false, 0, ""},
	    {"* 2 EXISTS\r\n", false, 0, ""},
	};
	test_begin("check: IMAP FETCH");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct buf body = {0};
		uint64_t uid;
		bool ok = check_imap_parse_fetch(cases[i].in, strlen(cases[i].in), &uid, &body);
		test_assert(ok == cases[i].ok);
		test_assert(uid == cases[i].uid);
		if (ok) {
			buf_append_c(&body, '\0');
			test_assert_str(body.data, cases[i].body);
		}
		buf_free(&body);
	}
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_capa, test_ehlo_auth, test_header, test_intact,
					   test_new_uidls, test_tls_judge, test_step_line,
					   test_dns_ptr_txt, test_imap_reader, test_imap_head,
					   test_imap_capa_search, test_imap_fetch, NULL});
}
