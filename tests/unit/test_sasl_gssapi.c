/* SPDX-License-Identifier: MIT */
/*
 * test_sasl_gssapi.c - the GSSAPI mechanism (proto/sasl_gssapi.h): the
 * principal-to-address mapping and the layer parser as pure functions;
 * garbage context tokens against a real acceptor (a keytab made with
 * ktutil, no KDC needed); and, when tests/proto/test_gssapi.py runs this
 * binary with MAILROOM_GSS_KEYTAB and a client ticket cache (KRB5CCNAME,
 * KRB5_CONFIG) from its private KDC, whole RFC 4752 exchanges in-process
 * with gss_init_sec_context as the client: success, authzid rules, a
 * client that picks a security layer, another realm, a replayed token.
 */
#include "proto/sasl_gssapi.h"
#include "server/schema.h"
#include "test_common.h"
#include "util/buf.h"
#include "util/config.h"

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REALM "TEST.REALM"
#define DOMAIN "example.org"

static void test_map(void)
{
	char a[SASL_GSSAPI_ADDRESS_MAX];

	test_begin("gssapi map principal");
	test_assert(sasl_gssapi_map("alice@" REALM, REALM, DOMAIN, a) == 0);
	test_assert_str(a, "alice@" DOMAIN);
	test_assert(sasl_gssapi_map("a.b-c@" REALM, REALM, DOMAIN, a) == 0);
	test_assert_str(a, "a.b-c@" DOMAIN);
	/* another realm, realms are case-sensitive, no realm at all */
	test_assert(sasl_gssapi_map("alice@OTHER.REALM", REALM, DOMAIN, a) < 0);
	test_assert(sasl_gssapi_map("alice@test.realm", REALM, DOMAIN, a) < 0);
	test_assert(sasl_gssapi_map("alice", REALM, DOMAIN, a) < 0);
	/* instances and escapes are not mailboxes */
	test_assert(sasl_gssapi_map("alice/admin@" REALM, REALM, DOMAIN, a) < 0);
	test_assert(sasl_gssapi_map("pop/localhost@" REALM, REALM, DOMAIN, a) < 0);
	test_assert(sasl_gssapi_map("al\\@ice@" REALM, REALM, DOMAIN, a) < 0);
	test_assert(sasl_gssapi_map("a b@" REALM, REALM, DOMAIN, a) < 0);
	test_assert(sasl_gssapi_map("@" REALM, REALM, DOMAIN, a) < 0);
	test_assert(sasl_gssapi_map("alice@" REALM, "", DOMAIN, a) < 0);
	test_assert(sasl_gssapi_map("alice@" REALM, REALM, "", a) < 0);
	char long_name[100];
	memset(long_name, 'x', 65);
	snprintf(long_name + 65, sizeof(long_name) - 65, "@%s", REALM);
	test_assert(sasl_gssapi_map(long_name, REALM, DOMAIN, a) < 0);
	test_end();
}

static void test_parse_layer(void)
{
	struct slice z;

	test_begin("gssapi parse layer");
	test_assert(sasl_gssapi_parse_layer((const unsigned char *)"\x01\0\0\0", 4, &z) == 0);
	test_assert(z.len == 0);
	test_assert(sasl_gssapi_parse_layer((const unsigned char *)"\x01\0\0\0a@b", 7, &z) == 0);
	test_assert(z.len == 3 && memcmp(z.p, "a@b", 3) == 0);
	/* the max size octets mean nothing without a layer */
	test_assert(sasl_gssapi_parse_layer((const unsigned char *)"\x01\xff\xff\xff", 4, &z) == 0);
	/* integrity (2), confidentiality (4), several bits, none */
	test_assert(sasl_gssapi_parse_layer((const unsigned char *)"\x02\0\x10\0", 4, &z) < 0);
	test_assert(sasl_gssapi_parse_layer((const unsigned char *)"\x04\0\x10\0", 4, &z) < 0);
	test_assert(sasl_gssapi_parse_layer((const unsigned char *)"\x03\0\x10\0", 4, &z) < 0);
	test_assert(sasl_gssapi_parse_layer((const unsigned char *)"\x00\0\0\0", 4, &z) < 0);
	/* short, NUL or control characters in the authzid */
	test_assert(sasl_gssapi_parse_layer((const unsigned char *)"\x01\0\0", 3, &z) < 0);
	test_assert(sasl_gssapi_parse_layer(NULL, 0, &z) < 0);
	test_assert(sasl_gssapi_parse_layer((const unsigned char *)"\x01\0\0\0a\0b", 7, &z) < 0);
	test_assert(sasl_gssapi_parse_layer((const unsigned char *)"\x01\0\0\0a\nb", 7, &z) < 0);
	unsigned char big[4 + SASL_NAME_MAX + 1];
	memset(big, 'a', sizeof(big));
	big[0] = 1;
	test_assert(sasl_gssapi_parse_layer(big, sizeof(big), &z) < 0);
	test_assert(sasl_gssapi_parse_layer(big, sizeof(big) - 1, &z) == 0);
	test_end();
}

static struct sasl_gssapi_conf conf_for(const char *keytab, const char *service)
{
	return (struct sasl_gssapi_conf){.keytab = keytab,
					 .service = service,
					 .host = "localhost",
					 .realm = REALM,
					 .domain = DOMAIN};
}

/* A keytab with a key for pop/localhost made offline: the acceptor gets
   far enough to judge a token, which then cannot be genuine. */
static char *offline_keytab(char **dir_r)
{
	if (access("/usr/bin/ktutil", X_OK) != 0)
		return NULL;
	char *dir = test_tmpdir();
	char *path = NULL, *cmd = NULL;
	if (asprintf(&path, "%s/offline.keytab", dir) < 0 ||
	    asprintf(&cmd,
		     "ktutil >/dev/null 2>&1 <<'EOF'\n"
		     "addent -password -p pop/localhost@" REALM " -k 1 -e aes256-cts-hmac-sha1-96\n"
		     "offline-pw-1\nwkt %s\nquit\nEOF\n",
		     path) < 0)
		abort();
	int rc = system(cmd);
	free(cmd);
	if (rc != 0 || access(path, R_OK) != 0) {
		free(path);
		test_rmtree(dir);
		return NULL;
	}
	*dir_r = dir;
	return path;
}

static enum sasl_step one_token(const char *keytab, const void *tok, size_t len)
{
	struct sasl_gssapi_conf c = conf_for(keytab, "pop");
	struct sasl_gssapi *g = sasl_gssapi_new(&c);
	struct buf out = {0};
	char addr[SASL_GSSAPI_ADDRESS_MAX] = "";

	enum sasl_step r = sasl_gssapi_step(g, tok, len, &out, addr);
	/* whatever it was, the exchange is over and nothing was proven */
	test_assert(addr[0] == '\0');
	test_assert(out.len == 0);
	sasl_gssapi_free(&g);
	test_assert(g == NULL);
	buf_free(&out);
	return r;
}

static void test_garbage_tokens(void)
{
	char *dir = NULL;
	char *keytab = offline_keytab(&dir);

	test_begin("gssapi garbage tokens");
	if (keytab == NULL) {
		printf("  (skipped: ktutil cannot make a keytab)\n");
		test_end();
		return;
	}
	/* an initial-context-token header (RFC 2743 §3.1) over nonsense,
	   the krb5 OID with a truncated AP-REQ, random octets, long runs */
	static const unsigned char hdr[] = {0x60, 0x82, 0x01, 0x00, 0x06, 0x09, 0x2a, 0x86,
					    0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x01,
					    0x00, 0x6e, 0x82, 0x00, 0xf0, 0x30};
	test_assert(one_token(keytab, hdr, sizeof(hdr)) == SASL_FAILED);
	test_assert(one_token(keytab, "\x60", 1) == SASL_FAILED);
	test_assert(one_token(keytab, "hello", 5) == SASL_FAILED);
	test_assert(one_token(keytab, "", 0) == SASL_MALFORMED);
	unsigned char buf[SASL_GSSAPI_MESSAGE_MAX];
	unsigned seed = 12345;
	for (int round = 0; round < 200; round++) {
		size_t len = 1 + (size_t)(rand_r(&seed) % (int)sizeof(buf));
		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)rand_r(&seed);
		if (round % 2 == 0 && len > sizeof(hdr))
			memcpy(buf, hdr, sizeof(hdr)); /* reach the krb5 decoder */
		enum sasl_step r = one_token(keytab, buf, len);
		test_assert(r == SASL_FAILED);
	}
	/* a keytab that does not exist or holds no key: the server's fault */
	test_assert(one_token("/nonexistent/mail.keytab", hdr, sizeof(hdr)) == SASL_TEMPFAIL);
	char *empty = NULL;
	if (asprintf(&empty, "%s/empty.keytab", dir) < 0)
		abort();
	fclose(fopen(empty, "w"));
	test_assert(one_token(empty, hdr, sizeof(hdr)) == SASL_TEMPFAIL);
	free(empty);
	/* steps out of order */
	struct sasl_gssapi_conf c = conf_for(keytab, "pop");
	struct sasl_gssapi *g = sasl_gssapi_new(&c);
	struct buf out = {0};
	char addr[SASL_GSSAPI_ADDRESS_MAX];
	test_assert(sasl_gssapi_checks(g, "x"));
	test_assert(!sasl_gssapi_checks(g, NULL));
	test_assert(sasl_gssapi_step(g, NULL, 0, &out, addr) == SASL_CONTINUE);
	test_assert(out.len == 0);
	test_assert(sasl_gssapi_checks(g, "x"));
	test_assert(sasl_gssapi_step(g, NULL, 0, &out, addr) == SASL_MALFORMED);
	sasl_gssapi_free(&g);
	buf_free(&out);
	free(keytab);
	test_rmtree(dir);
	test_end();
}

static void test_sasl_layer(void)
{
	enum sasl_mech m;
	struct config cfg;
	char *err = NULL;
	char account[SASL_NAME_MAX + 1];
	struct buf out = {0};
	struct auth_identity id;
	static const char text[] = "[gssapi]\nkeytab = /nonexistent/k.keytab\nrealm = " REALM "\n";

	test_begin("gssapi in sasl.c");
	test_assert(sasl_mech_parse("gssapi", 6, &m) == 0 && m == SASL_GSSAPI);
	test_assert_str(sasl_mech_name(SASL_GSSAPI), "GSSAPI");
	test_assert(!sasl_mech_plaintext(SASL_GSSAPI));
	test_assert(sasl_message_max(SASL_GSSAPI) == SASL_GSSAPI_MESSAGE_MAX);
	test_assert(sasl_message_max(SASL_PLAIN) == SASL_MESSAGE_MAX);
	/* a token longer than other mechanisms' messages decodes for GSSAPI */
	struct buf b64 = {0}, dec = {0};
	for (int i = 0; i < 4000; i++)
		buf_append_c(&b64, 'A');
	struct slice t = {b64.data, b64.len};
	test_assert(sasl_response_decode(t, SASL_PLAIN, &dec) < 0);
	test_assert(sasl_response_decode(t, SASL_GSSAPI, &dec) == 0 && dec.len == 3000);
	buf_free(&b64);
	buf_free(&dec);

	test_assert(config_parse(server_schema(), "/etc/m.conf", "", 0, &cfg, &err) == 0);
	test_assert(!sasl_gssapi_configured(&cfg));
	config_free(&cfg);
	test_assert(
	    config_parse(server_schema(), "/etc/m.conf", text, sizeof(text) - 1, &cfg, &err) == 0);
	test_assert(sasl_gssapi_configured(&cfg));

	/* not readied with sasl_server_use_gssapi(): a temporary failure */
	struct sasl_server *s = sasl_server_new(SASL_GSSAPI, NULL);
	test_assert(sasl_server_step(s, NULL, "x", 1, &out, &id) == SASL_TEMPFAIL);
	sasl_server_free(&s);
	/* readied, the first token is the checked step, by address only; a
	   keytab that is not there is the server's problem */
	s = sasl_server_new(SASL_GSSAPI, NULL);
	sasl_server_use_gssapi(s, &cfg, "pop");
	test_assert(!sasl_server_checks(s, NULL, 0, account));
	test_assert(sasl_server_checks(s, "x", 1, account) && account[0] == '\0');
	test_assert(sasl_server_step(s, NULL, NULL, 0, &out, &id) == SASL_CONTINUE);
	test_assert(out.len == 0);
	test_assert(sasl_server_checks(s, "x", 1, account));
	test_assert(sasl_server_step(s, NULL, "x", 1, &out, &id) == SASL_TEMPFAIL);
	test_assert_str(sasl_server_authcid(s), "");
	sasl_server_free(&s);
	/* use_gssapi leaves other mechanisms alone */
	s = sasl_server_new(SASL_PLAIN, NULL);
	sasl_server_use_gssapi(s, &cfg, "pop");
	test_assert(sasl_server_checks(s, "\0a\0b", 4, account));
	sasl_server_free(&s);
	config_free(&cfg);
	buf_free(&out);
	test_end();
}

/* --- whole exchanges against the test KDC ----------------------------------- */

struct client_opts {
	const char *service; /* the client asks for service@localhost */
	bool mutual;
	unsigned char layer;
	const char *authzid;
	struct buf *first_token_r; /* a copy of the AP-REQ, for replays */
};

static gss_buffer_desc bufdesc(const struct buf *b)
{
	return (gss_buffer_desc){b->len, b->data};
}

/* Runs client and server to the end; returns the server's last answer. */
static enum sasl_step exchange(const struct sasl_gssapi_conf *conf, const struct client_opts *o,
			       char addr[SASL_GSSAPI_ADDRESS_MAX])
{
	OM_uint32 major, minor;
	gss_ctx_id_t cctx = GSS_C_NO_CONTEXT;
	gss_name_t target;
	char sname[64];
	snprintf(sname, sizeof(sname), "%s@localhost", o->service);
	gss_buffer_desc nb = {strlen(sname), sname};
	struct sasl_gssapi *g = sasl_gssapi_new(conf);
	struct buf out = {0}, tok = {0};
	enum sasl_step r;

	addr[0] = '\0';
	if (GSS_ERROR(gss_import_name(&minor, &nb, GSS_C_NT_HOSTBASED_SERVICE, &target)))
		abort();
	/* no initial response: the server's empty challenge first */
	r = sasl_gssapi_step(g, NULL, 0, &out, addr);
	test_assert(r == SASL_CONTINUE && out.len == 0);
	bool done = false;
	for (int round = 0; round < 5; round++) {
		gss_buffer_desc in = bufdesc(&out), ct = GSS_C_EMPTY_BUFFER;
		OM_uint32 flags =
		    GSS_C_INTEG_FLAG | GSS_C_SEQUENCE_FLAG | (o->mutual ? GSS_C_MUTUAL_FLAG : 0);
		if (!done) {
			major = gss_init_sec_context(
			    &minor, GSS_C_NO_CREDENTIAL, &cctx, target, (gss_OID)gss_mech_krb5,
			    flags, 0, GSS_C_NO_CHANNEL_BINDINGS, round == 0 ? GSS_C_NO_BUFFER : &in,
			    NULL, &ct, NULL, NULL);
			if (GSS_ERROR(major)) {
				printf("  client: gss_init_sec_context failed %u/%u\n", major,
				       minor);
				r = SASL_TEMPFAIL;
				goto out;
			}
			done = !(major & GSS_S_CONTINUE_NEEDED);
		}
		tok.len = 0;
		buf_append(&tok, ct.value, ct.length);
		gss_release_buffer(&minor, &ct);
		if (round == 0 && o->first_token_r != NULL)
			buf_append(o->first_token_r, tok.data, tok.len);
		out.len = 0;
		r = sasl_gssapi_step(g, tok.data != NULL ? tok.data : "", tok.len, &out, addr);
		if (r != SASL_CONTINUE)
			goto out;
		if (done)
			break;
	}
	test_assert(done);
	/* RFC 4752 §3.1: the offer is {no layer}, max size 0 */
	gss_buffer_desc offer = bufdesc(&out), plain = GSS_C_EMPTY_BUFFER;
	major = gss_unwrap(&minor, cctx, &offer, &plain, NULL, NULL);
	test_assert(!GSS_ERROR(major));
	test_assert(plain.length == 4 && memcmp(plain.value, "\x01\0\0\0", 4) == 0);
	gss_release_buffer(&minor, &plain);
	struct buf answer = {0};
	unsigned char head[4] = {o->layer, 0, o->layer != 1 ? 0x10 : 0, 0};
	buf_append(&answer, head, 4);
	if (o->authzid != NULL)
		buf_append_str(&answer, o->authzid);
	gss_buffer_desc ab = bufdesc(&answer), wrapped = GSS_C_EMPTY_BUFFER;
	if (GSS_ERROR(gss_wrap(&minor, cctx, 0, GSS_C_QOP_DEFAULT, &ab, NULL, &wrapped)))
		abort();
	buf_free(&answer);
	out.len = 0;
	r = sasl_gssapi_step(g, wrapped.value, wrapped.length, &out, addr);
	gss_release_buffer(&minor, &wrapped);
	test_assert(out.len == 0);
	/* nothing after the end */
	if (r == SASL_SUCCESS) {
		test_assert_str(sasl_gssapi_principal(g), "alice@" REALM);
		test_assert(sasl_gssapi_step(g, "x", 1, &out, addr) == SASL_MALFORMED);
	}
out:
	gss_delete_sec_context(&minor, &cctx, GSS_C_NO_BUFFER);
	gss_release_name(&minor, &target);
	sasl_gssapi_free(&g);
	buf_free(&out);
	buf_free(&tok);
	return r;
}

static void test_kdc_exchange(void)
{
	const char *keytab = getenv("MAILROOM_GSS_KEYTAB");
	char addr[SASL_GSSAPI_ADDRESS_MAX];

	test_begin("gssapi exchange with a KDC");
	if (keytab == NULL) {
		printf("  (skipped: tests/proto/test_gssapi.py runs this with a KDC)\n");
		test_end();
		return;
	}
	struct sasl_gssapi_conf pop = conf_for(keytab, "pop");
	struct sasl_gssapi_conf smtp = conf_for(keytab, "smtp");
	struct client_opts o = {.service = "pop", .mutual = true, .layer = 1};

	test_assert(exchange(&pop, &o, addr) == SASL_SUCCESS);
	test_assert_str(addr, "alice@" DOMAIN);
	o.mutual = false; /* no AP-REP: the offer comes at once */
	test_assert(exchange(&pop, &o, addr) == SASL_SUCCESS);
	test_assert_str(addr, "alice@" DOMAIN);
	o.service = "smtp";
	test_assert(exchange(&smtp, &o, addr) == SASL_SUCCESS);
	/* the acceptor for smtp does not take a ticket for pop */
	o.service = "pop";
	test_assert(exchange(&smtp, &o, addr) == SASL_FAILED);
	/* the acceptor expects another host name */
	struct sasl_gssapi_conf other_host = conf_for(keytab, "pop");
	other_host.host = "mail.example.org";
	test_assert(exchange(&other_host, &o, addr) == SASL_FAILED);
	/* "*": any host, but still only the service's own keys */
	struct sasl_gssapi_conf any = conf_for(keytab, "pop");
	any.host = "*";
	test_assert(exchange(&any, &o, addr) == SASL_SUCCESS);
	any.service = "smtp";
	test_assert(exchange(&any, &o, addr) == SASL_FAILED);
	/* a keytab without a key for the ticket */
	char *dir = NULL;
	char *offline = offline_keytab(&dir);
	if (offline != NULL) {
		struct sasl_gssapi_conf stale = conf_for(offline, "pop");
		test_assert(exchange(&stale, &o, addr) == SASL_FAILED);
		free(offline);
		test_rmtree(dir);
	}

	test_end();
	test_begin("gssapi authzid and layers");
	o.mutual = true;
	o.authzid = "alice@" DOMAIN;
	test_assert(exchange(&pop, &o, addr) == SASL_SUCCESS);
	o.authzid = "ALICE@EXAMPLE.ORG";
	test_assert(exchange(&pop, &o, addr) == SASL_SUCCESS);
	o.authzid = "alice@" REALM;
	test_assert(exchange(&pop, &o, addr) == SASL_SUCCESS);
	o.authzid = "bob@" DOMAIN;
	test_assert(exchange(&pop, &o, addr) == SASL_FAILED);
	o.authzid = "alice";
	test_assert(exchange(&pop, &o, addr) == SASL_FAILED);
	o.authzid = NULL;
	o.layer = 2; /* integrity: not offered */
	test_assert(exchange(&pop, &o, addr) == SASL_FAILED);
	o.layer = 4;
	test_assert(exchange(&pop, &o, addr) == SASL_FAILED);
	o.layer = 1;
	/* alice's realm is not the one configured */
	struct sasl_gssapi_conf other = conf_for(keytab, "pop");
	other.realm = "OTHER.REALM";
	test_assert(exchange(&other, &o, addr) == SASL_FAILED);
	test_end();

	test_begin("gssapi replayed token");
	struct buf first = {0};
	o.first_token_r = &first;
	test_assert(exchange(&pop, &o, addr) == SASL_SUCCESS);
	o.first_token_r = NULL;
	char addr2[SASL_GSSAPI_ADDRESS_MAX] = "";
	struct sasl_gssapi *g = sasl_gssapi_new(&pop);
	struct buf out = {0};
	/* the replay cache refuses an authenticator seen before */
	test_assert(sasl_gssapi_step(g, first.data, first.len, &out, addr2) == SASL_FAILED);
	test_assert(addr2[0] == '\0');
	sasl_gssapi_free(&g);
	/* a truncated genuine token */
	g = sasl_gssapi_new(&pop);
	out.len = 0;
	test_assert(sasl_gssapi_step(g, first.data, first.len / 2, &out, addr2) == SASL_FAILED);
	sasl_gssapi_free(&g);
	buf_free(&out);
	buf_free(&first);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_map, test_parse_layer, test_garbage_tokens,
					   test_sasl_layer, test_kdc_exchange, NULL});
}
