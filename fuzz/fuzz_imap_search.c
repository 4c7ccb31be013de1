/* SPDX-License-Identifier: MIT */
/*
 * fuzz_imap_search.c - libFuzzer target for SEARCH programs
 * (imap/imap_search.h). The input is the arguments of a SEARCH command,
 * then optionally a NUL and the octets of a message. "a SEARCH " input
 * "\r\n" goes through the real parser (literals accepted); a command that
 * parses is compiled under an environment a hash of the input picks
 * (IMAP4rev2 or not, SEARCHRES or not, UID or not) and evaluated against
 * a few built-in messages (plain, folded and encoded header fields, nested
 * multipart with quoted-printable and base64, message/rfc822, bad dates)
 * and against the fuzzer's message.
 *
 * Checked: compile gives a program or a NULL one and a static error (S2);
 * a match gives the same answer twice and is unchanged when the message
 * text is withheld from a program that does not need it (S3, S5), and
 * when BODY or TEXT is given the message's MIME tree through its cached
 * form (serialised and read back) instead of parsing it itself; "NOT
 * (" input ")" matches exactly the other messages (S6), when it parses
 * and compiles; the untagged result is one line and its ALL and COUNT
 * give back exactly the matching ids (S7).
 */
#include "fuzz.h"
#include "imap/imap_search.h"
#include "mime/mime_tree.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char msg_1[] = "From: Alice Example <alice@example.org>\r\n"
			    "To: bob@example.net,\r\n"
			    "  carol@example.net\r\n"
			    "Subject: Re: Hi there\r\n"
			    "Date: Mon, 1 Jan 2024 23:30:00 -0800\r\n"
			    "\r\n"
			    "Hello Bob,\r\nthe meeting is at NOON.\r\n";

static const char msg_2[] = "Subject: =?UTF-8?B?SMOpbGxv?= =?iso-8859-1?q?w=F6rld?=\r\n"
			    "From: =?utf-8?Q?Andr=C3=A9?= <andre@example.org>\r\n"
			    "Date: 2 Jan 24 10:00 GMT\r\n"
			    "Content-Type: text/plain; charset=iso-8859-1\r\n"
			    "Content-Transfer-Encoding: quoted-printable\r\n"
			    "\r\n"
			    "na=EFve fa=E7ade, soft=\r\nbreak\r\n";

static const char msg_3[] = "Subject: parts\r\n"
			    "Date: Tue, 2 Jan 2024 10:00:00 +0100 (CET)\r\n"
			    "Content-Type: multipart/mixed; boundary=\"=-o\"\r\n"
			    "\r\n"
			    "preamble\r\n"
			    "--=-o\r\n"
			    "Content-Type: multipart/alternative; boundary=i\r\n"
			    "\r\n"
			    "--i\r\n"
			    "Content-Transfer-Encoding: base64\r\n"
			    "\r\n"
			    "aGVsbG8gd29ybGQ=\r\n"
			    "--i--\r\n"
			    "--=-o\r\n"
			    "Content-Type: message/rfc822\r\n"
			    "\r\n"
			    "Subject: inner\r\n"
			    "\r\n"
			    "enclosed text\r\n"
			    "--=-o--\r\n"
			    "epilogue\r\n";

static const char msg_4[] = "Subject: no date\r\n"
			    "Date: yesterday\r\n"
			    "X-Tag: one\r\n"
			    "X-Tag: two\r\n"
			    "\r\n"
			    "body\r\n";

static const char msg_5[] = "";

static const char *const builtin[] = {msg_1, msg_2, msg_3, msg_4, msg_5};

#define N_MSGS (N_ELEMENTS(builtin) + 1)

static uint64_t hash(const uint8_t *p, size_t n)
{
	uint64_t h = 14695981039346656037u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211u;
	return h;
}

/* Parses "a SEARCH <args>\r\n" (wrapped in "NOT (" ")" when wrap) and
   compiles it. Returns the compile result, -9 when it did not parse or
   starts with RETURN / CHARSET while wrap is asked for. */
static int compile(const uint8_t *args, size_t n, bool wrap, const struct imap_search_env *env,
		   struct imap_search **prog_r)
{
	struct imap_parse_limits lim;
	struct imap_parser ps;
	struct imap_command cmd;
	struct buf line = {0};
	enum imap_parse_result r;
	const char *err = NULL;
	int ret = -9;

	*prog_r = NULL;
	imap_parse_limits_default(&lim);
	lim.literal_max = lim.literals_max = 1 << 16;
	buf_append_str(&line, wrap ? "a SEARCH NOT (" : "a SEARCH ");
	buf_append(&line, args, n);
	buf_append_str(&line, wrap ? ")\r\n" : "\r\n");
	imap_parser_init(&ps, &lim);
	while ((r = imap_parser_feed(&ps, line.data, line.len, &cmd)) == IMAP_PARSE_LITERAL)
		;
	if (r == IMAP_PARSE_DONE && (!wrap || cmd.len == line.len)) {
		ret = imap_search_compile(cmd.args, env, prog_r, &err);
		CHECK(ret == 0 || ret == -1 || ret == IMAP_SEARCH_BADCHARSET);
		CHECK((ret == 0) == (*prog_r != NULL));
		CHECK(ret == 0 || (err != NULL && strlen(err) > 0 && strchr(err, '\n') == NULL));
	}
	imap_parser_deinit(&ps);
	/* the program must not point into the command (Memory, S1) */
	memset(line.data, 0, line.len);
	buf_free(&line);
	return ret;
}

/* S7: the result is one line, ALL and COUNT are the ids. */
static void check_result(const struct imap_search *prog, const uint32_t *ids, size_t n, bool uid)
{
	struct buf out = {0};
	const char *err;

	imap_search_result(prog, ids, n, uid, "a", false, &out);
	if (out.len == 0) {
		CHECK((imap_search_return(prog) &
		       ~(unsigned)(IMAP_SEARCH_RET_GIVEN | IMAP_SEARCH_RET_SAVE)) == 0);
		return;
	}
	CHECK(out.len >= 4 && memcmp(out.data, "* ", 2) == 0);
	CHECK(memcmp(out.data + out.len - 2, "\r\n", 2) == 0);
	CHECK(memchr(out.data, '\n', out.len - 1) == NULL);
	const char *count = strstr(out.data, " COUNT ");
	if (count != NULL)
		CHECK(strtoul(count + 7, NULL, 10) == n);
	const char *all = strstr(out.data, " ALL ");
	if (all != NULL) {
		const char *end = all + 5;
		while (*end != ' ' && *end != '\r')
			end++;
		struct imap_seq_range r[N_MSGS];
		struct imap_seqset set = {r, N_ELEMENTS(r), 0, false};
		CHECK(imap_parse_seqset((struct slice){all + 5, (size_t)(end - all - 5)}, false,
					&set, &err) == 0);
		size_t k = 0;
		for (size_t i = 0; i < set.n; i++)
			for (uint64_t v = r[i].lo; v <= r[i].hi; v++)
				CHECK(k < n && ids[k++] == v);
		CHECK(k == n);
	} else if (strncmp(out.data, "* SEARCH", 8) == 0) {
		const char *p = out.data + 8;
		for (size_t i = 0; i < n; i++) {
			char *e;
			CHECK(*p == ' ' && strtoul(p + 1, &e, 10) == ids[i]);
			p = e;
		}
		CHECK(*p == '\r');
	}
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t saved[] = {20, 40, 41};
	struct imap_search_msg m[N_MSGS];
	struct imap_search *prog, *neg;
	const uint8_t *nul = memchr(data, '\0', size);
	size_t args_len = nul != NULL ? (size_t)(nul - data) : size;
	uint64_t h = hash(data, size);
	bool uid = (h >> 3) & 1;

	struct imap_search_env env = {N_MSGS, 10 * N_MSGS, h & 1, (h >> 1) & 1, saved, 3};
	for (size_t i = 0; i < N_MSGS; i++) {
		uint64_t hi = h >> (8 + 4 * i);
		const char *text = i < N_ELEMENTS(builtin) ? builtin[i] : "";
		size_t len = strlen(text);
		if (i == N_MSGS - 1 && nul != NULL) {
			text = (const char *)nul + 1;
			len = size - args_len - 1;
		}
		m[i] = (struct imap_search_msg){(uint32_t)i + 1,
						10 * ((uint32_t)i + 1),
						(unsigned)(hi & 0x3f),
						(hi >> 6) & 1 ? "$Forwarded work" : NULL,
						len,
						1704067200 + (int64_t)(hi % 5) * 86400 - 43200,
						(uint64_t)(hi % 7) + 1,
						text,
						len,
						NULL};
	}

	if (compile(data, args_len, false, &env, &prog) != 0)
		return 0;
	bool got[N_MSGS];
	uint32_t ids[N_MSGS];
	size_t n = 0;
	bool text = imap_search_needs_text(prog);
	for (size_t i = 0; i < N_MSGS; i++) {
		got[i] = imap_search_match(prog, &m[i]);
		CHECK(imap_search_match(prog, &m[i]) == got[i]); /* S3 */
		if (!text) {					 /* S5 */
			struct imap_search_msg blind = m[i];
			blind.msg = NULL;
			blind.len = 0;
			CHECK(imap_search_match(prog, &blind) == got[i]);
		}
		if (imap_search_needs_body(prog)) { /* the cached tree answers alike */
			struct mime_tree *t = mime_tree_parse(m[i].msg, m[i].len), *t2 = NULL;
			struct buf blob = {0};
			const char *err;
			mime_tree_serialize(t, &blob);
			CHECK(mime_tree_deserialize(blob.data, blob.len, &t2, &err) == 0);
			struct imap_search_msg cached = m[i];
			cached.tree = t2;
			CHECK(imap_search_match(prog, &cached) == got[i]);
			mime_tree_free(&t);
			mime_tree_free(&t2);
			buf_free(&blob);
		}
		if (got[i])
			ids[n++] = uid ? m[i].uid : m[i].seq;
	}
	check_result(prog, ids, n, uid);
	CHECK(imap_search_save_filter(prog, ids, n) <= n);

	/* S6: NOT (args); RETURN and CHARSET inside a list do not compile */
	unsigned ret = imap_search_return(prog);
	imap_search_free(&prog);
	CHECK(prog == NULL);
	if (ret != 0)
		return 0;
	if (compile(data, args_len, true, &env, &neg) != 0)
		return 0;
	for (size_t i = 0; i < N_MSGS; i++)
		CHECK(imap_search_match(neg, &m[i]) == !got[i]);
	imap_search_free(&neg);
	return 0;
}
