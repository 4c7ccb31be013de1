/* SPDX-License-Identifier: MIT */
/* test_config.c - the INI contract (SPEC §7): defaults, keys, strict errors. */
#include "test_common.h"
#include "proto/sasl.h"
#include "directory/dir_config.h"
#include "pop3/pop3.h"
#include "server/schema.h"
#include "util/buf.h"
#include "util/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *text, struct config *c, char **err)
{
	*err = NULL;
	memset(c, 0, sizeof(*c));
	return config_parse(server_schema(), "/etc/mr/test.conf", text, strlen(text), c, err);
}

static void test_defaults_and_full(void)
{
	struct config c;
	char *err;

	test_begin("config: defaults and every key");
	test_assert(parse("", &c, &err) == 0);
	test_assert_str(c.data_dir, "/etc/mr/mailroom-data");
	test_assert_str(c.tls_cert, "/etc/mr/mailroom-data/tls/cert.pem");
	test_assert(config_listen(&c, "pop3")->count == 1);
	test_assert_str(config_listen(&c, "pop3")->addrs[0], "127.0.0.1:2110");
	test_assert_str(config_listen(&c, "pop3s")->addrs[0], "127.0.0.1:2995");
	test_assert_str(config_listen(&c, "smtp")->addrs[0], "127.0.0.1:2525");
	test_assert(c.max_connections_per_ip == 50 && c.idle_timeout == 600);
	test_assert(!pop3_config(&c)->plaintext_auth && !pop3_config(&c)->apop); /* SPEC §7 */
	test_assert_str(pam_config(&c)->service, "mailroom");			 /* SPEC §7 */
	test_assert(pam_config(&c)->domain == NULL && pam_config(&c)->confdir == NULL &&
		    pam_config(&c)->min_uid == 1000);
	config_free(&c);

	const char *full = "; comment\n"
			   "[server]\n"
			   "hostname = mail.example.test\n"
			   "data_dir = /var/lib/mailroom\n"
			   "workers = 8\n"
			   "log_level = debug\n"
			   "# another comment\n"
			   "[listen]\n"
			   "smtp = off\n"
			   "submission =\n"
			   "submissions = 127.0.0.1:465\n"
			   "pop3 = 127.0.0.1:110, [::1]:110\n"
			   "pop3s = 0.0.0.0:995 ; inline comment\n"
			   "[tls]\n"
			   "cert = /etc/ssl/mail.pem\n"
			   "key = keys/mail.key\n"
			   "[limits]\n"
			   "max_connections = 100\n"
			   "max_connections_per_ip = 7\n"
			   "idle_timeout = 15m\n"
			   "auth_fail_delay_max = 0\n"
			   "[pop3]\n"
			   "plaintext_auth = yes\n"
			   "apop = on\n";
	test_assert(parse(full, &c, &err) == 0);
	test_assert(err == NULL);
	test_assert_str(c.hostname, "mail.example.test");
	test_assert(c.workers == 8 && c.log_level == LOG_DEBUG);
	test_assert(config_listen(&c, "smtp")->count == 0 &&
		    config_listen(&c, "submission")->count == 0);
	test_assert(config_listen(&c, "pop3")->count == 2);
	test_assert_str(config_listen(&c, "pop3")->addrs[1], "[::1]:110");
	test_assert_str(config_listen(&c, "pop3s")->addrs[0], "0.0.0.0:995");
	test_assert_str(c.tls_cert, "/etc/ssl/mail.pem");
	test_assert_str(c.tls_key, "/var/lib/mailroom/keys/mail.key");
	test_assert(c.max_connections == 100 && c.max_connections_per_ip == 7);
	test_assert(c.idle_timeout == 900 && c.auth_fail_delay_max == 0);
	test_assert(pop3_config(&c)->plaintext_auth && pop3_config(&c)->apop);
	config_free(&c);
	test_end();
}

static void expect_error(const char *text, const char *where)
{
	struct config c;
	char *err;

	test_assert(parse(text, &c, &err) < 0);
	test_assert(err != NULL && strstr(err, where) != NULL);
	if (err != NULL && strstr(err, where) == NULL)
		printf("  got: %s\n", err);
	free(err);
	config_free(&c);
}

static void test_errors(void)
{
	test_begin("config: strict errors with file:line");
	expect_error("[server]\nhostname = a\n[nope]\n", "test.conf:3: unknown section [nope]");
	expect_error("[server]\nhostnme = a\n", "test.conf:2: unknown key 'hostnme' in [server]");
	expect_error("hostname = a\n", "test.conf:1:");
	expect_error("[server]\nhostname\n", "test.conf:2:");
	expect_error("[server]\nhostname = a\nhostname = b\n", "test.conf:3: duplicate key");
	expect_error("[server]\nworkers = 0\n", "test.conf:2:");
	expect_error("[server]\nworkers = 1x\n", "test.conf:2:");
	expect_error("[server]\nlog_level = loud\n", "test.conf:2:");
	expect_error("[listen]\npop3 = 127.0.0.1\n", "test.conf:2:");
	expect_error("[listen]\npop3 = 127.0.0.1:99999\n", "test.conf:2:");
	expect_error("[listen]\npop3 = [::1:110\n", "test.conf:2:");
	expect_error("[limits]\n\n\nidle_timeout = soon\n", "test.conf:4:");
	expect_error("[limits]\nidle_timeout = 0\n", "test.conf:2:");
	expect_error("[limits]\nmax_connections = -1\n", "test.conf:2:");
	expect_error("[pop3]\nplaintext_auth = maybe\n", "test.conf:2:");
	expect_error("[server\n", "test.conf:1:");
	expect_error("[server]\nhostname =\n", "test.conf:2:");
	expect_error("[server]\nhostname = mail\x0b.example\n",
		     "test.conf:2: expected a host name");
	expect_error("[server]\nhostname = a..b\n", "test.conf:2: expected a host name");
	expect_error("[listen]\npop3 = a, #b:110\n", "test.conf:2: expected host:port");
	expect_error("[listen]\npop3 = [fe80::1%eth0]:110\n", "test.conf:2: expected host:port");
	expect_error("[listen]\npop3 = []:110\n", "test.conf:2: expected host:port");
	expect_error("[pam]\nservice = ../shadow\n", "test.conf:2: expected a PAM service");
	expect_error("[pam]\nservice = pam.d/login\n", "test.conf:2: expected a PAM service");
	expect_error("[pam]\ndomain = localhost\n", "test.conf:2: expected a domain");
	expect_error("[pam]\ndomain = a@b.test\n", "test.conf:2: expected a domain");
	expect_error("[pam]\nmin_uid = 0\n", "test.conf:2: expected a number from 1");
	expect_error("[pam]\nmin_uid = 4294967295\n", "test.conf:2: expected a number");
	expect_error("[pam]\nuser = x\n", "test.conf:2: unknown key 'user' in [pam]");
	struct config c;
	char *err = NULL;
	memset(&c, 0, sizeof(c));
	test_assert(config_parse(server_schema(), "x.conf", "[server]\0x", 10, &c, &err) < 0);
	test_assert(err != NULL && strstr(err, "NUL") != NULL);
	free(err);
	config_free(&c);
	test_end();
}

static void test_value_parsers(void)
{
	uint64_t v;
	unsigned s;
	bool b;

	test_begin("config: sizes, durations, booleans");
	test_assert(config_parse_size("0", &v) == 0 && v == 0);
	test_assert(config_parse_size("10M", &v) == 0 && v == 10ULL << 20);
	test_assert(config_parse_size("2g", &v) == 0 && v == 2ULL << 30);
	test_assert(config_parse_size("3KB", &v) == 0 && v == 3072);
	test_assert(config_parse_size("-1", &v) < 0);
	test_assert(config_parse_size("", &v) < 0);
	test_assert(config_parse_size("1T", &v) < 0);
	test_assert(config_parse_size("1MM", &v) < 0);
	test_assert(config_parse_size("99999999999999999999", &v) < 0);
	test_assert(config_parse_size("17179869184G", &v) < 0);
	test_assert(config_parse_duration("30", &s) == 0 && s == 30);
	test_assert(config_parse_duration("10m", &s) == 0 && s == 600);
	test_assert(config_parse_duration("2h", &s) == 0 && s == 7200);
	test_assert(config_parse_duration("1d", &s) == 0 && s == 86400);
	test_assert(config_parse_duration("1w", &s) < 0);
	test_assert(config_parse_duration("1ms", &s) < 0);
	test_assert(config_parse_duration(" 1", &s) < 0);
	test_assert(config_parse_duration("99999999999d", &s) < 0);
	test_assert(config_parse_bool("Yes", &b) == 0 && b);
	test_assert(config_parse_bool("off", &b) == 0 && !b);
	test_assert(config_parse_bool("1", &b) == 0 && b);
	test_assert(config_parse_bool("y", &b) < 0);
	test_end();
}

/* A file that sets every key to something other than its default. */
static const char EVERY_KEY[] =
    "[server]\nhostname = mx.example.test\ndata_dir = /srv/mail\nuser = mail\nworkers = 3\n"
    "log_level = debug\nlog_format = json\n"
    "[listen]\nsmtp = 127.0.0.1:25, [::1]:25\nsubmission = off\n"
    "submissions = 127.0.0.1:465\npop3 = 127.0.0.1:110\npop3s = off\n"
    "imap = 127.0.0.1:143\nimaps = off\n"
    "[tls]\ncert = c.pem\nkey = /etc/k.pem\nclient_ca = ca.pem\nclient_crl = /etc/crl.pem\n"
    "client_cert_map = cn\nclient_cert_domain = example.test\n"
    "[limits]\nmax_connections = 99\nmax_connections_per_ip = 7\nidle_timeout = 90s\n"
    "auth_fail_delay_max = 2m\nauth_fail_delay = 250ms\nauth_cache_ttl = 0\nauth_cache_size = "
    "5000\nauth_queue_wait = 3s\n"
    "line_deadline = 20s\ndata_deadline = 3h\nmin_data_rate = 1K\ndata_rate_window = 45s\n"
    "[pop3]\nplaintext_auth = yes\napop = yes\n"
    "[imap]\nplaintext_auth = yes\nautologout = 1h\nappend_limit = 10M\nliteral_plus = no\n"
    "max_sessions = 5\n"
    "idle_check = 5s\n"
    "[smtp]\nmax_message_size = 1500000\nmax_recipients = 500\nmax_errors = 3\n"
    "max_commands = 77\nmax_received_headers = 9\ncommand_timeout = 1h\n"
    "data_timeout = 2d\npostmaster = admin@example.test\nsender_login_match = no\n"
    "[delivery]\nenabled = no\nthreads = 9\nper_destination = 5\nscan_interval = 5s\n"
    "retry_min = 61s\nretry_max = 2h\nlifetime = 3d\ndelay_warning = 1h\n"
    "connect_timeout = 4s\ncommand_timeout = 6m\ndata_init_timeout = 7m\ndata_xfer_timeout = 8m\n"
    "data_done_timeout = 9m\nslow_after = 11s\nresolver = 127.0.0.1:5353\n"
    "ca_file = ca.pem\nmta_sts = no\nmta_sts_port = 8443\nmta_sts_connect_timeout = 3s\n"
    "mta_sts_timeout = 20s\ndnssec_trust_anchor = root.key\ndane = no\n"
    "[ldap]\nuri = ldaps://ldap.example.test\nbase = dc=example,dc=test\n"
    "bind_dn = cn=mailroom,dc=example,dc=test\nbind_password_file = ldap.secret\n"
    "user_filter = (&(objectClass=user)(sAMAccountName=%n))\n"
    "login_filter = (!(userAccountControl:1.2.840.113556.1.4.803:=2))\n"
    "recipient_filter = (|(mail=%u)(proxyAddresses=smtp:%u))\nmail_attribute = mail2\n"
    "alias_attribute = proxyAddresses\nauth_bind = no\npassword_attribute = pw\n"
    "starttls = yes\nca_file = ldap-ca.pem\ntimeout = 3s\npool_size = 2\ncache_ttl = 0\n"
    "[directory]\nbackend = passwd-file, builtin\n"
    "[store]\nbackend = postgresql\ndsn = postgresql://mailroom@127.0.0.1:5432/mailroom\n"
    "[node]\nname = node1\nlease = 15m\n"
    "[pam]\nservice = mail-local\ndomain = Local.Example.TEST\nmin_uid = 500\n"
    "confdir = pam.d\n"
    "[passwd-file]\npath = users.passwd\ndomain = example.net\n"
    "[gssapi]\nkeytab = mail.keytab\nrealm = EXAMPLE.TEST\ndomain = example.test\n"
    "principal = mail.example.test\n"
    "[filter]\nmilter = inet:127.0.0.1:8891,unix:/run/milter/x.sock\nmilter_timeout = 45s\n"
    "milter_default_action = accept\nclamd = unix:/run/clamav/clamd.ctl\n"
    "clamd_timeout = 3m\nclamd_default_action = accept\nmax_scan_size = 10M\nworkers = 4\n"
    "quarantine = quarantine@example.test\nspf = no\ndns_timeout = 5s\ndkim_verify = no\n"
    "dmarc = no\ndmarc_reject_action = quarantine\ndmarc_quarantine_action = accept\n"
    "[metrics]\nlisten = 127.0.0.1:9325\n";

static void count_key(const char *key, void *arg)
{
	struct buf *b = arg;
	buf_printf(b, "%s ", key);
}

static void test_write_reads_back(void)
{
	test_begin("config: the written configuration reads back the same; diff names keys");
	struct config a, b, d;
	struct buf ta = {0}, tb = {0}, keys = {0};
	char *err = NULL;

	test_assert(config_parse(server_schema(), "/etc/mailroom.conf", EVERY_KEY,
				 sizeof(EVERY_KEY) - 1, &a, &err) == 0);
	config_write(&a, &ta);
	test_assert(strstr(ta.data, "cert = /srv/mail/c.pem\n") != NULL);
	test_assert(strstr(ta.data, "client_ca = /srv/mail/ca.pem\n") != NULL);
	test_assert(strstr(ta.data, "client_cert_map = cn\n") != NULL);
	test_assert(strstr(ta.data, "max_message_size = 1500000\n") != NULL);
	test_assert(strstr(ta.data, "data_timeout = 2d\n") != NULL);
	test_assert(strstr(ta.data, "min_data_rate = 1024\n") != NULL);
	test_assert(strstr(ta.data, "data_rate_window = 45s\n") != NULL);
	test_assert(strstr(ta.data, "smtp = 127.0.0.1:25, [::1]:25\n") != NULL);
	test_assert(strstr(ta.data, "domain = local.example.test\n") != NULL);
	test_assert(strstr(ta.data, "confdir = /srv/mail/pam.d\n") != NULL);
	test_assert(strstr(ta.data, "milter = inet:127.0.0.1:8891, unix:/run/milter/x.sock\n") !=
		    NULL);
	test_assert(
	    config_parse(server_schema(), "/etc/mailroom.conf", ta.data, ta.len, &b, &err) == 0);
	config_write(&b, &tb);
	test_assert_str(tb.data, ta.data);

	/* every key differs from its default, so the diff names all of them */
	test_assert(config_parse(server_schema(), "/etc/mailroom.conf", "", 0, &d, &err) == 0);
	config_diff(&d, &a, count_key, &keys);
	size_t n = 0, lines = 0;
	for (size_t i = 0; i < keys.len; i++)
		n += keys.data[i] == ' ';
	/* one key a line ("k = v" or "; k is not set"); LDAP filters hold '=' too */
	for (const char *l = ta.data; *l != '\0';) {
		size_t ll = strcspn(l, "\n");
		const char *eq = strstr(l, " = ");
		lines += (eq != NULL && eq < l + ll) || strncmp(l, "; ", 2) == 0;
		l += ll + (l[ll] == '\n');
	}
	test_assert(n == lines);
	test_assert(strstr(keys.data, "tls.cert ") != NULL);
	test_assert(strstr(keys.data, "delivery.ca_file ") != NULL);
	test_assert(strstr(keys.data, "ldap.ca_file ") != NULL);
	test_assert(strstr(keys.data, "ldap.login_filter ") != NULL);
	test_assert(strstr(ta.data, "bind_password_file = /srv/mail/ldap.secret\n") != NULL);
	test_assert(strstr(keys.data, "smtp.command_timeout ") != NULL);
	test_assert(strstr(keys.data, "delivery.command_timeout ") != NULL);
	test_assert(strstr(keys.data, "gssapi.keytab ") != NULL);
	test_assert(strstr(ta.data, "keytab = /srv/mail/mail.keytab\n") != NULL);

	buf_clear(&keys);
	config_diff(&a, &b, count_key, &keys);
	test_assert(keys.len == 0);
	/* the unset optional keys of the defaults are written as comments */
	buf_clear(&ta);
	config_write(&d, &ta);
	test_assert(strstr(ta.data, "; postmaster is not set\n") != NULL);
	config_free(&a);
	config_free(&b);
	config_free(&d);
	buf_free(&ta);
	buf_free(&tb);
	buf_free(&keys);
	test_end();
}

static void test_gssapi_keys(void)
{
	struct config c;
	char *err = NULL;
	static const char ok[] = "[server]\ndata_dir = /srv/mail\n[gssapi]\n"
				 "keytab = /etc/k.keytab\nrealm = EXAMPLE.TEST\nprincipal = *\n";

	test_begin("config: [gssapi]");
	test_assert(config_parse(server_schema(), "/etc/mailroom.conf", "", 0, &c, &err) == 0);
	test_assert(gssapi_config(&c)->keytab == NULL && gssapi_config(&c)->realm == NULL);
	config_free(&c);
	test_assert(
	    config_parse(server_schema(), "/etc/mailroom.conf", ok, sizeof(ok) - 1, &c, &err) == 0);
	test_assert_str(gssapi_config(&c)->keytab, "/etc/k.keytab");
	test_assert_str(gssapi_config(&c)->realm, "EXAMPLE.TEST");
	test_assert_str(gssapi_config(&c)->principal, "*");
	test_assert(gssapi_config(&c)->domain == NULL);
	config_free(&c);
	/* a keytab without a realm maps no principal */
	static const char no_realm[] = "[gssapi]\nkeytab = k.keytab\n";
	test_assert(config_parse(server_schema(), "/etc/m.conf", no_realm, sizeof(no_realm) - 1, &c,
				 &err) < 0);
	test_assert(err != NULL && strstr(err, "realm") != NULL);
	free(err);
	static const char *const bad[] = {
	    "[gssapi]\nrealm = A@B\n",	 "[gssapi]\nrealm = A/B\n", "[gssapi]\nprincipal = a b\n",
	    "[gssapi]\ndomain = -x..\n", "[gssapi]\nkeytab =\n",    "[gssapi]\nservice = pop\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		test_assert(config_parse(server_schema(), "/etc/m.conf", bad[i], strlen(bad[i]), &c,
					 &err) < 0);
		test_assert(err != NULL && strncmp(err, "/etc/m.conf:2: ", 15) == 0);
		free(err);
	}
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_defaults_and_full, test_errors, test_value_parsers,
					   test_write_reads_back, test_gssapi_keys, NULL});
}
