/* SPDX-License-Identifier: MIT */
/*
 * test_milter.c - the milter session (filter/milter.h) against a scripted
 * filter on a unix socket, and the changes applied to a message and an
 * envelope. The real filters (python3-milter's libmilter, opendkim) are in
 * tests/proto/test_milter.py; here are the cases they cannot show: the
 * exact sequence of packets per negotiated flag, replies refused as
 * protocol errors, a filter that stalls, one that is not there, and both
 * failure policies.
 */
#include "filter/milter.h"
#include "filter/milter_proto.h"
#include "test_common.h"
#include "util/buf.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char MSG[] = "From: a@example.test\r\n"
			  "Subject: hi\r\n"
			  "\tthere\r\n"
			  "X-Dup: 1\r\n"
			  "X-Dup: 2\r\n"
			  "\r\n"
			  "body line\r\n";

/* --- applying changes --------------------------------------------------------------------- */

static struct milter_mod mod(enum milter_mod_type t, uint32_t index, const char *name,
			     const char *value)
{
	return (struct milter_mod){.type = t,
				   .index = index,
				   .name = (char *)name,
				   .value = (char *)value,
				   .value_len = value != NULL ? strlen(value) : 0};
}

static void test_apply(void)
{
	struct milter_mod mods[] = {
	    mod(MILTER_MOD_ADD_HEADER, 0, "X-Added", "yes"),
	    mod(MILTER_MOD_INSERT_HEADER, 0, "X-Top", "first\n\tfolded"),
	    mod(MILTER_MOD_CHANGE_HEADER, 2, "x-dup", "two"),
	    mod(MILTER_MOD_CHANGE_HEADER, 1, "Subject", ""),
	    mod(MILTER_MOD_CHANGE_HEADER, 5, "X-New", "past the end"),
	    mod(MILTER_MOD_CHANGE_HEADER, 9, "X-Gone", ""),
	    mod(MILTER_MOD_INSERT_HEADER, 99, "X-Last", "v"),
	};
	struct milter_result res = {.mods = mods, .n_mods = N_ELEMENTS(mods)};
	struct buf out = {0};

	test_begin("milter apply: header changes in order, positions as they stand");
	milter_apply_message(&res, MSG, sizeof(MSG) - 1, &out);
	test_assert_str(out.data, "X-Top: first\r\n\tfolded\r\n"
				  "From: a@example.test\r\n"
				  "X-Dup: 1\r\n"
				  "x-dup: two\r\n"
				  "X-Added: yes\r\n"
				  "X-New: past the end\r\n"
				  "X-Last: v\r\n"
				  "\r\n"
				  "body line\r\n");
	buf_clear(&out);
	struct milter_mod lead[] = {mod(MILTER_MOD_ADD_HEADER, 0, "X-L", " kept")};
	struct milter_result rl = {.mods = lead, .n_mods = 1, .leadspc = true};
	milter_apply_message(&rl, "A: b\r\n\r\nx\r\n", 11, &out);
	test_assert_str(out.data, "A: b\r\nX-L: kept\r\n\r\nx\r\n");
	test_end();

	test_begin("milter apply: a new body, and messages without a body or separator");
	struct milter_mod body[] = {mod(MILTER_MOD_REPLACE_BODY, 0, "", "new\nbody")};
	struct milter_result rb = {.mods = body, .n_mods = 1};
	buf_clear(&out);
	milter_apply_message(&rb, MSG, sizeof(MSG) - 1, &out);
	test_assert(strstr(out.data, "X-Dup: 2\r\n\r\nnew\r\nbody\r\n") != NULL);
	test_assert(out.len ==
		    sizeof(MSG) - 1 - strlen("body line\r\n") + strlen("new\r\nbody\r\n"));
	buf_clear(&out);
	milter_apply_message(&rb, "A: b\r\n", 6, &out); /* no body at all */
	test_assert_str(out.data, "A: b\r\n\r\nnew\r\nbody\r\n");
	buf_clear(&out);
	milter_apply_message(&res, "A: b", 4, &out); /* no line end */
	test_assert(strncmp(out.data, "X-Top: first\r\n\tfolded\r\nA: b\r\nX-Added: yes\r\n", 43) ==
		    0);
	buf_clear(&out);
	milter_apply_message(&res, "not a header\r\nA: b\r\n", 20, &out); /* body only */
	test_assert(strstr(out.data, "X-Last: v\r\nnot a header\r\nA: b\r\n") != NULL);
	buf_free(&out);
	test_end();
}

static void test_envelope(void)
{
	struct milter_rcpt rcpts[] = {{"a@x.test", NULL}, {"B@x.test", "NOTIFY=NEVER"}};
	struct milter_envelope env = {.sender = "s@x.test", .rcpts = rcpts, .n_rcpts = 2};
	struct milter_mod mods[] = {
	    mod(MILTER_MOD_ADD_RCPT, 0, "<c@y.test>", "ORCPT=rfc822;c@y.test"),
	    mod(MILTER_MOD_ADD_RCPT, 0, "a@x.test", NULL), /* already there */
	    mod(MILTER_MOD_DELETE_RCPT, 0, "<b@X.TEST>", NULL),
	    mod(MILTER_MOD_CHANGE_FROM, 0, "<>", NULL),
	};
	struct milter_refusal ref = {.rcpt = "a@x.test", .reply = "550 5.7.1 no"};
	struct milter_result res = {.mods = mods, .n_mods = N_ELEMENTS(mods)};
	struct milter_envelope_edit e;

	test_begin("milter apply: recipients and sender");
	milter_envelope_edit_init(&e, &env);
	test_assert(e.rcpts.count == 2 && strcmp(e.rcpts.args[1], "NOTIFY=NEVER") == 0);
	milter_apply_envelope(&res, &e);
	test_assert(e.rcpts.count == 2);
	test_assert_str(e.rcpts.addr[0], "a@x.test");
	test_assert_str(e.rcpts.addr[1], "c@y.test");
	test_assert_str(e.rcpts.args[1], "ORCPT=rfc822;c@y.test");
	test_assert_str(e.sender, "");
	res = (struct milter_result){.refused = &ref, .n_refused = 1};
	milter_apply_envelope(&res, &e);
	test_assert(e.rcpts.count == 1);
	test_assert_str(e.rcpts.addr[0], "c@y.test");
	milter_envelope_edit_free(&e);
	test_end();
}

/* --- a scripted filter -------------------------------------------------------------------- */

struct fake {
	int lfd;
	char path[108];
	/* the negotiation reply's numbers and any extra octets (symlists) */
	uint32_t version, actions, protocol;
	const char *symlists;
	size_t symlists_len;
	/* replies: for the n-th RCPT (NULL: continue), at EOB (packets), at MAIL */
	const char *rcpt_reply[4];
	size_t rcpt_reply_len[4];
	const char *eom;
	size_t eom_len;
	const char *mail_reply;
	size_t mail_reply_len;
	const char *connect_reply;
	size_t connect_reply_len;
	bool skip_body;	 /* SKIP the first BODY */
	bool stall_eom;	 /* never answer the end of message */
	char seen[256];	 /* commands received, in order */
	struct buf data; /* "CMD:data\n" of headers and macros */
};

static void put(int fd, char cmd, const void *data, size_t len)
{
	unsigned char head[5] = {(unsigned char)((len + 1) >> 24), (unsigned char)((len + 1) >> 16),
				 (unsigned char)((len + 1) >> 8), (unsigned char)(len + 1),
				 (unsigned char)cmd};
	(void)!write(fd, head, 5);
	if (len > 0)
		(void)!write(fd, data, len);
}

static bool read_full(int fd, void *p, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, (char *)p + got, n - got);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static bool nr(const struct fake *f, char cmd)
{
	switch (cmd) {
	case SMFIC_CONNECT:
		return f->protocol & SMFIP_NR_CONN;
	case SMFIC_HELO:
		return f->protocol & SMFIP_NR_HELO;
	case SMFIC_MAIL:
		return f->protocol & SMFIP_NR_MAIL;
	case SMFIC_RCPT:
		return f->protocol & SMFIP_NR_RCPT;
	case SMFIC_DATA:
		return f->protocol & SMFIP_NR_DATA;
	case SMFIC_HEADER:
		return f->protocol & SMFIP_NR_HDR;
	case SMFIC_EOH:
		return f->protocol & SMFIP_NR_EOH;
	case SMFIC_BODY:
		return f->protocol & SMFIP_NR_BODY;
	default:
		return true;
	}
}

static void *fake_run(void *arg)
{
	struct fake *f = arg;
	int fd = accept(f->lfd, NULL, NULL);
	unsigned char head[4];
	size_t n_seen = 0, rcpt = 0;
	char *data = malloc(70000);

	while (fd >= 0 && read_full(fd, head, 4)) {
		uint32_t len = (uint32_t)head[0] << 24 | head[1] << 16 | head[2] << 8 | head[3];
		char cmd;
		if (len == 0 || len > 70000 || !read_full(fd, &cmd, 1) ||
		    !read_full(fd, data, len - 1))
			break;
		if (n_seen + 1 < sizeof(f->seen))
			f->seen[n_seen++] = cmd;
		if (cmd == SMFIC_HEADER || cmd == SMFIC_MACRO) {
			buf_printf(&f->data, "%c:", cmd);
			for (uint32_t i = 0; i < len - 1; i++)
				buf_append_c(&f->data, data[i] == '\0' ? '|' : data[i]);
			buf_append_c(&f->data, '\n');
		}
		if (cmd == SMFIC_OPTNEG) {
			struct buf b = {0};
			uint32_t v[3] = {f->version, f->actions, f->protocol};
			for (int i = 0; i < 3; i++) {
				char be[4] = {(char)(v[i] >> 24), (char)(v[i] >> 16),
					      (char)(v[i] >> 8), (char)v[i]};
				buf_append(&b, be, 4);
			}
			if (f->symlists != NULL)
				buf_append(&b, f->symlists, f->symlists_len);
			put(fd, SMFIC_OPTNEG, b.data, b.len);
			buf_free(&b);
			continue;
		}
		if (cmd == SMFIC_QUIT)
			break;
		if (cmd == SMFIC_BODYEOB) {
			if (f->stall_eom)
				sleep(3);
			else if (f->eom != NULL)
				(void)!write(fd, f->eom, f->eom_len);
			continue;
		}
		if (nr(f, cmd))
			continue;
		if (cmd == SMFIC_RCPT && rcpt < 4 && f->rcpt_reply[rcpt] != NULL)
			(void)!write(fd, f->rcpt_reply[rcpt], f->rcpt_reply_len[rcpt]);
		else if (cmd == SMFIC_MAIL && f->mail_reply != NULL)
			(void)!write(fd, f->mail_reply, f->mail_reply_len);
		else if (cmd == SMFIC_CONNECT && f->connect_reply != NULL)
			(void)!write(fd, f->connect_reply, f->connect_reply_len);
		else if (cmd == SMFIC_BODY && f->skip_body)
			put(fd, SMFIR_SKIP, NULL, 0);
		else
			put(fd, SMFIR_CONTINUE, NULL, 0);
		if (cmd == SMFIC_RCPT)
			rcpt++;
	}
	f->seen[n_seen] = '\0';
	free(data);
	if (fd >= 0)
		close(fd);
	return NULL;
}

struct run {
	char *dir;
	char spec[160];
	pthread_t t;
};

static void fake_start(struct fake *f, struct run *r, struct milter_conf *conf)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	r->dir = test_tmpdir();
	snprintf(f->path, sizeof(f->path), "%s/milter.sock", r->dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->path);
	snprintf(r->spec, sizeof(r->spec), "unix:%s", f->path);
	if (f->version == 0)
		f->version = 6;
	f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	test_assert(bind(f->lfd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	test_assert(listen(f->lfd, 1) == 0);
	pthread_create(&r->t, NULL, fake_run, f);
	conf->socket = r->spec;
}

static void fake_stop(struct fake *f, struct run *r)
{
	pthread_join(r->t, NULL);
	close(f->lfd);
	test_rmtree(r->dir);
	buf_free(&f->data);
}

static const struct milter_rcpt RCPTS[] = {{"r1@example.test", "NOTIFY=NEVER"},
					   {"r2@example.test", NULL}};
static const struct milter_envelope ENV = {
    .client_addr = "192.0.2.7",
    .client_port = 40000,
    .helo = "client.example",
    .hostname = "mx.example.test",
    .daemon_name = "smtp",
    .queue_id = "Q1",
    .sender = "s@example.test",
    .sender_args = "SIZE=100 BODY=8BITMIME",
    .rcpts = RCPTS,
    .n_rcpts = 2,
};

static int run_one(struct fake *f, struct milter_conf *conf, struct milter_result *res)
{
	struct run r;
	fake_start(f, &r, conf);
	int ret = milter_run(conf, &ENV, MSG, sizeof(MSG) - 1, res);
	pthread_join(r.t, NULL);
	r.t = 0;
	close(f->lfd);
	test_rmtree(r.dir);
	return ret;
}

#define PKT(s) s, sizeof(s) - 1
#define EOM(s) .eom = s, .eom_len = sizeof(s) - 1
#define MAIL_REPLY(s) .mail_reply = s, .mail_reply_len = sizeof(s) - 1
#define CONNECT_REPLY(s) .connect_reply = s, .connect_reply_len = sizeof(s) - 1

static void test_session_full(void)
{
	struct milter_conf conf = {.timeout = 5, .policy = FILTER_FAIL_CLOSED};
	struct fake f = {.actions = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT |
				    SMFIF_DELRCPT | SMFIF_CHGFROM | SMFIF_QUARANTINE};
	struct milter_result res;

	test_begin("milter session: every step, its macros, the changes and the verdict");
	static const char eom[] = "\000\000\000\011hX-A\000yes\000"
				  "\000\000\000\001p"
				  "\000\000\000\006bnew\r\n"
				  "\000\000\000\004bb\r\n"
				  "\000\000\000\016m\000\000\000\001Subject\000\000"
				  "\000\000\000\007+<n@y>\000"
				  "\000\000\000\016qspam score 9\000"
				  "\000\000\000\001c";
	f.eom = eom;
	f.eom_len = sizeof(eom) - 1;
	test_assert(run_one(&f, &conf, &res) == 0);
	test_assert(!res.failed);
	test_assert_str(f.seen, "ODCHDMDRDRDTLLLLDNBDEQ");
	test_assert(strstr(f.data.data,
			   "D:Cj|mx.example.test|{daemon_name}|smtp|"
			   "{client_addr}|192.0.2.7|{client_port}|40000|v|mailroom ") != NULL);
	test_assert(strstr(f.data.data, "|_|unknown [192.0.2.7]|\n") != NULL);
	test_assert(strstr(f.data.data, "D:Mi|Q1|{mail_addr}|s@example.test|{mail_host}|"
					"example.test|\n") != NULL);
	test_assert(strstr(f.data.data, "D:Ri|Q1|{rcpt_addr}|r2@example.test|{rcpt_host}|"
					"example.test|\n") != NULL);
	test_assert(strstr(f.data.data, "L:Subject|hi\n\tthere|\n") != NULL);
	test_assert(strstr(f.data.data, "L:From|a@example.test|\n") != NULL);
	test_assert(res.action == MILTER_QUARANTINE);
	test_assert_str(res.quarantine, "spam score 9");
	test_assert(res.n_mods == 4);
	test_assert(res.mods[0].type == MILTER_MOD_ADD_HEADER);
	test_assert(res.mods[1].type == MILTER_MOD_REPLACE_BODY && res.mods[1].value_len == 8);
	test_assert(memcmp(res.mods[1].value, "new\r\nb\r\n", 8) == 0);
	test_assert(res.mods[2].type == MILTER_MOD_CHANGE_HEADER && res.mods[2].index == 1);
	test_assert(res.mods[3].type == MILTER_MOD_ADD_RCPT);
	test_assert_str(res.mods[3].name, "<n@y>");
	struct buf out = {0};
	milter_apply_message(&res, MSG, sizeof(MSG) - 1, &out);
	test_assert_str(out.data, "From: a@example.test\r\nX-Dup: 1\r\nX-Dup: 2\r\nX-A: yes\r\n"
				  "\r\nnew\r\nb\r\n");
	buf_free(&out);
	milter_result_free(&res);
	buf_free(&f.data);
	test_end();
}

static void test_session_flags(void)
{
	struct milter_conf conf = {.timeout = 5, .policy = FILTER_FAIL_CLOSED};
	struct milter_result res;

	test_begin("milter session: steps left out, replies not waited for, SKIP, LEADSPC");
	struct fake f = {.protocol = SMFIP_NOHELO | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NR_CONN |
				     SMFIP_NR_RCPT | SMFIP_NR_DATA | SMFIP_NR_BODY,
			 EOM("\000\000\000\001a")};
	test_assert(run_one(&f, &conf, &res) == 0 && res.action == MILTER_ACCEPT);
	test_assert_str(f.seen, "ODCDMDRDRDTDBDEQ");
	milter_result_free(&res);
	buf_free(&f.data);

	struct fake g = {.protocol = SMFIP_SKIP | SMFIP_NOBODY | SMFIP_HDR_LEADSPC,
			 EOM("\000\000\000\001c")};
	test_assert(run_one(&g, &conf, &res) == 0 && res.action == MILTER_CONTINUE);
	test_assert(strchr(g.seen, 'B') == NULL);
	test_assert(strstr(g.data.data, "L:Subject| hi\n\tthere|\n") != NULL);
	test_assert(res.leadspc);
	milter_result_free(&res);
	buf_free(&g.data);

	/* a body of three chunks; SKIP after the first */
	static char big[150000];
	memcpy(big, MSG, sizeof(MSG) - 1);
	memset(big + sizeof(MSG) - 1, 'x', sizeof(big) - sizeof(MSG) + 1);
	struct fake h = {.protocol = SMFIP_SKIP, .skip_body = true, EOM("\000\000\000\001c")};
	struct run r;
	fake_start(&h, &r, &conf);
	test_assert(milter_run(&conf, &ENV, big, sizeof(big), &res) == 0);
	fake_stop(&h, &r);
	test_assert(strstr(h.seen, "NBDEQ") != NULL);
	milter_result_free(&res);

	/* the filter's own macro lists */
	static const char lists[] = "\000\000\000\000{client_addr} j\000"
				    "\000\000\000\002{auth_authen} {mail_addr}\000";
	struct fake m = {.actions = SMFIF_SETSYMLIST,
			 .symlists = lists,
			 .symlists_len = sizeof(lists) - 1,
			 EOM("\000\000\000\001c")};
	test_assert(run_one(&m, &conf, &res) == 0);
	test_assert(strstr(m.data.data, "D:C{client_addr}|192.0.2.7|j|mx.example.test|\n") != NULL);
	test_assert(strstr(m.data.data, "D:M{mail_addr}|s@example.test|\n") != NULL);
	milter_result_free(&res);
	buf_free(&m.data);
	test_end();
}

static void test_session_verdicts(void)
{
	struct milter_conf conf = {.timeout = 5, .policy = FILTER_FAIL_CLOSED};
	struct milter_result res;

	test_begin("milter session: refusals at MAIL and RCPT, ACCEPT early");
	struct fake f = {MAIL_REPLY("\000\000\000\001r")};
	test_assert(run_one(&f, &conf, &res) == 0);
	test_assert(res.action == MILTER_REJECT);
	test_assert_str(res.reply, "550 5.7.1 Command rejected");
	test_assert_str(f.seen, "ODCHDMAQ");
	milter_result_free(&res);
	buf_free(&f.data);

	static const char no_such[] = "\000\000\000\023y550 5.1.1 No such\000";
	struct fake g = {EOM("\000\000\000\001c")};
	g.rcpt_reply[0] = no_such;
	g.rcpt_reply_len[0] = sizeof(no_such) - 1;
	test_assert(run_one(&g, &conf, &res) == 0);
	test_assert(res.action == MILTER_CONTINUE && res.n_refused == 1);
	test_assert_str(res.refused[0].rcpt, "r1@example.test");
	test_assert_str(res.refused[0].reply, "550 5.1.1 No such");
	milter_result_free(&res);
	buf_free(&g.data);

	struct fake h = {0};
	h.rcpt_reply[0] = h.rcpt_reply[1] = "\000\000\000\001t";
	h.rcpt_reply_len[0] = h.rcpt_reply_len[1] = 5;
	test_assert(run_one(&h, &conf, &res) == 0);
	test_assert(res.action == MILTER_TEMPFAIL && res.n_refused == 2);
	test_assert_str(res.reply, "451 4.7.1 Service unavailable - try again later");
	milter_result_free(&res);
	buf_free(&h.data);

	struct fake a = {CONNECT_REPLY("\000\000\000\001a")};
	test_assert(run_one(&a, &conf, &res) == 0 && res.action == MILTER_ACCEPT);
	test_assert_str(a.seen, "ODCQ");
	milter_result_free(&res);
	buf_free(&a.data);
	test_end();
}

static void test_session_failures(void)
{
	struct milter_conf conf = {.timeout = 5, .policy = FILTER_FAIL_CLOSED};
	struct milter_result res;
	static const struct {
		const char *eom;
		size_t len;
		uint32_t actions;
		const char *why;
	} cases[] = {
	    {PKT("\000\000\000\011hX-A\000yes\000"), 0, "ADDHEADER without having asked"},
	    {PKT("\000\000\000\001s"), 0, "SKIP at the end"},
	    {PKT("\000\000\000\002c!"), 0, "unexpected data"},
	    {PKT("\000\000\000\004ba\r\n\000\000\000\011hX-A\000yes\000\000\000\000\004bb\r\n"),
	     SMFIF_CHGBODY | SMFIF_ADDHDRS, "REPLBODY after other changes"},
	};

	test_begin("milter session: protocol errors, a stall, nobody there; both policies");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct fake f = {
		    .actions = cases[i].actions, .eom = cases[i].eom, .eom_len = cases[i].len};
		test_assert(run_one(&f, &conf, &res) == -1);
		test_assert(res.failed && res.action == MILTER_TEMPFAIL);
		if (strstr(res.error, cases[i].why) == NULL)
			fprintf(stderr, "  case %zu: %s\n", i, res.error);
		test_assert(strstr(res.error, cases[i].why) != NULL);
		test_assert(res.n_mods == 0);
		milter_result_free(&res);
		buf_free(&f.data);
	}
	struct fake v = {.version = 7};
	test_assert(run_one(&v, &conf, &res) == -1 && strstr(res.error, "version 7") != NULL);
	milter_result_free(&res);
	buf_free(&v.data);
	struct fake d = {CONNECT_REPLY("\000\000\000\001d")};
	test_assert(run_one(&d, &conf, &res) == -1 && strstr(res.error, "DISCARD after CONNECT"));
	milter_result_free(&res);
	buf_free(&d.data);
	struct fake many = {.actions = SMFIF_ADDHDRS};
	struct buf mods = {0};
	for (int i = 0; i <= MILTER_HEADER_MODS_MAX; i++)
		buf_append(&mods, "\000\000\000\011hX-A\000yes\000", 13);
	buf_append(&mods, "\000\000\000\001c", 5);
	many.eom = mods.data;
	many.eom_len = mods.len;
	test_assert(run_one(&many, &conf, &res) == -1 && strstr(res.error, "header changes"));
	milter_result_free(&res);
	buf_free(&mods);
	buf_free(&many.data);

	conf.timeout = 1;
	conf.policy = FILTER_FAIL_OPEN;
	struct fake s = {.stall_eom = true};
	test_assert(run_one(&s, &conf, &res) == -1);
	test_assert(res.failed && res.action == MILTER_CONTINUE);
	test_assert(strstr(res.error, "timeout after 1s waiting for the reply to EOB") != NULL);
	milter_result_free(&res);
	buf_free(&s.data);

	conf.socket = "unix:/nonexistent/milter.sock";
	test_assert(milter_run(&conf, &ENV, MSG, sizeof(MSG) - 1, &res) == -1);
	test_assert(res.action == MILTER_CONTINUE && strstr(res.error, "connect") != NULL);
	milter_result_free(&res);
	conf.policy = FILTER_FAIL_CLOSED;
	test_assert(milter_run(&conf, &ENV, MSG, sizeof(MSG) - 1, &res) == -1);
	test_assert(res.action == MILTER_TEMPFAIL);
	milter_result_free(&res);
	test_end();
}

static void test_chain(void)
{
	struct milter_conf conf[2] = {{.timeout = 5}, {.timeout = 5}};
	struct fake a = {.actions = SMFIF_ADDHDRS | SMFIF_DELRCPT,
			 EOM("\000\000\000\015hX-First\000one\000"
			     "\000\000\000\021-r1@example.test\000"
			     "\000\000\000\001c")};
	struct fake b = {EOM("\000\000\000\001c")};
	struct run ra, rb;
	struct milter_chain_result r;

	test_begin("milter chain: the second filter sees the first one's message");
	fake_start(&a, &ra, &conf[0]);
	fake_start(&b, &rb, &conf[1]);
	test_assert(milter_chain_run(conf, 2, &ENV, MSG, sizeof(MSG) - 1, &r) == 0);
	fake_stop(&a, &ra);
	test_assert(strstr(b.data.data, "L:X-First|one|\n") != NULL);
	/* one RCPT only: r1 was deleted by the first */
	test_assert(strstr(b.seen, "ODCHDMDRDTL") != NULL);
	fake_stop(&b, &rb);
	test_assert(r.action == MILTER_CONTINUE && r.message_changed && r.envelope_changed);
	test_assert(r.envelope.rcpts.count == 1);
	test_assert_str(r.envelope.rcpts.addr[0], "r2@example.test");
	test_assert(strstr(r.message.data, "X-Dup: 2\r\nX-First: one\r\n\r\n") != NULL);
	milter_chain_result_free(&r);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_apply, test_envelope, test_session_full,
					   test_session_flags, test_session_verdicts,
					   test_session_failures, test_chain, NULL});
}
