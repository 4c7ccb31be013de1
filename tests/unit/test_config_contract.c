/* SPDX-License-Identifier: MIT */
/*
 * test_config_contract.c - util/config.h against docs/config.md, beyond the
 * basics of test_config.c: config_load(server_schema(), ) with no file, ./mailroom.conf, a
 * named file, the system config of a packaged build after ./mailroom.conf, a missing or oversized
 * one; the documented defaults of every key; the example of docs/config.md verbatim; the syntax
 * (comments, CRLF, spacing, case); FILE:LINE in every kind of error, counted across blank, comment
 * and CRLF lines; listen lists; relative paths for data_dir and the TLS files; the value parsers at
 * their overflow edges.
 */
#include "test_common.h"
#include "directory/dir_config.h"
#include "smtp/smtp.h"
#include "pop3/pop3.h"
#include "server/schema.h"
#include "util/buf.h"
#include "util/config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse_as(const char *name, const char *text, struct config *c, char **err)
{
	*err = NULL;
	memset(c, 0, sizeof(*c));
	return config_parse(server_schema(), name, text, strlen(text), c, err);
}

static bool parses(const char *text, struct config *c)
{
	char *err = NULL;
	int r = parse_as("/srv/mr/mailroom.conf", text, c, &err);
	if (r != 0)
		printf("  unexpected error: %s\n", err != NULL ? err : "(none)");
	free(err);
	return r == 0;
}

/* The text must fail, with an error that begins exactly "FILE:LINE: ". */
static bool fails_at(const char *text, unsigned line)
{
	struct config c;
	char *err = NULL, want[64];
	int r = parse_as("/srv/mr/mailroom.conf", text, &c, &err);
	snprintf(want, sizeof(want), "/srv/mr/mailroom.conf:%u: ", line);
	bool ok = r < 0 && err != NULL && strncmp(err, want, strlen(want)) == 0 &&
		  strlen(err) > strlen(want);
	if (!ok)
		printf("  for \"%s\": r=%d err=%s (want %s...)\n", text, r, err ? err : "(none)",
		       want);
	free(err);
	config_free(&c); /* safe after a failed parse */
	return ok;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	test_assert(f != NULL);
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

/* --- defaults and config_load -------------------------------------------------- */

static void check_defaults(const struct config *c, const char *base)
{
	char want[PATH_MAX + 64];

	test_assert(c->hostname != NULL && c->hostname[0] != '\0');
	snprintf(want, sizeof(want), "%s/mailroom-data", base);
	test_assert_str(c->data_dir, want);
	snprintf(want, sizeof(want), "%s/mailroom-data/tls/cert.pem", base);
	test_assert_str(c->tls_cert, want);
	snprintf(want, sizeof(want), "%s/mailroom-data/tls/key.pem", base);
	test_assert_str(c->tls_key, want);
	test_assert(c->workers == 4 && c->log_level == LOG_INFO);
	static const char *const names[] = {"smtp", "submission", "submissions", "pop3", "pop3s"};
	static const char *const addr[] = {
	    "127.0.0.1:2525", "127.0.0.1:2587", "127.0.0.1:2465",
	    "127.0.0.1:2110", "127.0.0.1:2995",
	};
	for (size_t r = 0; r < 5; r++) {
		const struct listen_list *l = config_listen(c, names[r]);
		test_assert(l != NULL && l->count == 1);
		if (l != NULL && l->count == 1)
			test_assert_str(l->addrs[0], addr[r]);
	}
	test_assert(c->max_connections == 20000 && c->max_connections_per_ip == 50);
	test_assert(c->idle_timeout == 600 && c->auth_fail_delay_max == 15);
	test_assert(c->line_deadline == 300 && c->data_deadline == 3600);
	test_assert(c->min_data_rate == 256 && c->data_rate_window == 300);
	test_assert(c->auth_fail_delay_ms == 1000);
	test_assert(!pop3_config(c)->plaintext_auth && !pop3_config(c)->apop); /* SPEC §7 */
	test_assert(smtp_config(c)->max_message_size == 35ULL * 1024 * 1024);
	test_assert(smtp_config(c)->max_recipients == 100 && smtp_config(c)->max_errors == 20);
	test_assert(smtp_config(c)->max_commands == 10000 && smtp_config(c)->max_received == 50);
	test_assert(smtp_config(c)->command_timeout == 300 && smtp_config(c)->data_timeout == 600);
	test_assert(smtp_config(c)->postmaster == NULL && smtp_config(c)->sender_login_match);
	test_assert(c->user == NULL && c->user_line == 0); /* root must name one */
}

static void test_load(void)
{
	char *dir = test_tmpdir();
	char old_cwd[PATH_MAX], path[PATH_MAX + 64], sub[PATH_MAX + 64];
	struct config c;
	char *err = NULL;

	test_begin("config: config_load with no file, ./mailroom.conf, a named file");
	test_assert(getcwd(old_cwd, sizeof(old_cwd)) != NULL);
	test_assert(chdir(dir) == 0);
	char cwd[PATH_MAX];
	test_assert(getcwd(cwd, sizeof(cwd)) != NULL); /* /tmp may be a symlink */

	/* no file at all: built-in defaults, paths from the working directory */
	memset(&c, 0, sizeof(c));
	test_assert(config_load(server_schema(), NULL, &c, &err) == 0 && err == NULL);
	test_assert(c.file == NULL);
	check_defaults(&c, cwd);
	config_free(&c);

	/* ./mailroom.conf is read when present */
	write_file("mailroom.conf", "[server]\nworkers = 7\n");
	memset(&c, 0, sizeof(c));
	test_assert(config_load(server_schema(), NULL, &c, &err) == 0);
	test_assert(c.workers == 7 && c.file != NULL);
	snprintf(path, sizeof(path), "%s/mailroom-data", cwd);
	test_assert_str(c.data_dir, path);
	config_free(&c);
	write_file("mailroom.conf", "[server]\nworkers = 0\n");
	memset(&c, 0, sizeof(c));
	test_assert(config_load(server_schema(), NULL, &c, &err) < 0);
	test_assert(err != NULL && strstr(err, "mailroom.conf:2: ") != NULL);
	free(err);
	err = NULL;
	unlink("mailroom.conf");

	/* a named file in a folder: data_dir relative to that folder */
	snprintf(sub, sizeof(sub), "%s/etc", cwd);
	test_assert(mkdir(sub, 0700) == 0);
	snprintf(path, sizeof(path), "%s/etc/mr.conf", cwd);
	write_file(path, "[server]\ndata_dir = store\n[tls]\ncert = certs/c.pem\n");
	memset(&c, 0, sizeof(c));
	test_assert(config_load(server_schema(), path, &c, &err) == 0);
	snprintf(sub, sizeof(sub), "%s/etc/store", cwd);
	test_assert_str(c.data_dir, sub);
	snprintf(sub, sizeof(sub), "%s/etc/store/certs/c.pem", cwd);
	test_assert_str(c.tls_cert, sub);
	snprintf(sub, sizeof(sub), "%s/etc/store/tls/key.pem", cwd);
	test_assert_str(c.tls_key, sub);
	test_assert(c.file != NULL && strstr(c.file, "mr.conf") != NULL);
	config_free(&c);
	/* ... also when the file is named relative to the working directory */
	memset(&c, 0, sizeof(c));
	test_assert(config_load(server_schema(), "etc/mr.conf", &c, &err) == 0);
	snprintf(sub, sizeof(sub), "%s/etc/store", cwd);
	test_assert_str(c.data_dir, sub);
	config_free(&c);

	/* an empty file is all defaults */
	write_file(path, "");
	memset(&c, 0, sizeof(c));
	test_assert(config_load(server_schema(), path, &c, &err) == 0);
	snprintf(sub, sizeof(sub), "%s/etc", cwd);
	check_defaults(&c, sub);
	config_free(&c);

	/* a missing file and a file over 1 MiB are errors naming the file */
	memset(&c, 0, sizeof(c));
	test_assert(config_load(server_schema(), "etc/none.conf", &c, &err) < 0);
	test_assert(err != NULL && strstr(err, "etc/none.conf") != NULL);
	free(err);
	err = NULL;
	FILE *f = fopen(path, "w");
	if (f != NULL) {
		for (int i = 0; i < 40000; i++)
			fputs("; a comment line of some thirty octets\n", f);
		fclose(f);
	}
	memset(&c, 0, sizeof(c));
	test_assert(config_load(server_schema(), path, &c, &err) < 0);
	test_assert(err != NULL && strstr(err, "mr.conf") != NULL);
	free(err);

	test_assert(chdir(old_cwd) == 0);
	test_rmtree(dir);
	test_end();
}

/* --- the documented example and syntax ------------------------------------------------ */

/* A packaged build's system config comes after ./mailroom.conf. */
static void test_default_path(void)
{
	test_begin("config: without -c, ./mailroom.conf, else the system config, else none");
	char *dir = test_tmpdir();
	char old_cwd[PATH_MAX], sys[PATH_MAX + 64], work[PATH_MAX + 64];

	snprintf(sys, sizeof(sys), "%s/etc-mailroom.conf", dir);
	snprintf(work, sizeof(work), "%s/work", dir);
	test_assert(getcwd(old_cwd, sizeof(old_cwd)) != NULL);
	test_assert(mkdir(work, 0700) == 0 && chdir(work) == 0);
	test_assert(config_default_path(NULL) == NULL);
	test_assert(config_default_path("") == NULL);
	test_assert(config_default_path(sys) == NULL); /* not there */
	write_file(sys, "[server]\nhostname = sys.example.test\n");
	test_assert_str(config_default_path(sys), sys);
	write_file("mailroom.conf", "[server]\nhostname = here.example.test\n");
	test_assert_str(config_default_path(sys), "mailroom.conf");
	test_assert_str(config_default_path(NULL), "mailroom.conf");
	test_assert(chdir(old_cwd) == 0);
	test_rmtree(dir);
	test_end();
}

static void test_doc_example(void)
{
	struct config c;
	/* docs/config.md "Example", verbatim */
	static const char example[] = "[server]\n"
				      "hostname = mail.example.test\n"
				      "data_dir = /var/lib/mailroom\n"
				      "user = mailroom\n"
				      "\n"
				      "[listen]\n"
				      "pop3  = 0.0.0.0:110\n"
				      "pop3s = 0.0.0.0:995\n"
				      "smtp  = 0.0.0.0:25\n"
				      "submission = 0.0.0.0:587\n"
				      "submissions = 0.0.0.0:465\n"
				      "\n"
				      "[tls]\n"
				      "cert = /etc/ssl/mail.example.test/fullchain.pem\n"
				      "key  = /etc/ssl/mail.example.test/privkey.pem\n"
				      "\n"
				      "[limits]\n"
				      "idle_timeout = 10m\n"
				      "max_connections_per_ip = 20\n"
				      "\n"
				      "[smtp]\n"
				      "postmaster = admin@example.test\n"
				      "max_message_size = 50M\n";

	test_begin("config: the example of docs/config.md");
	test_assert(parses(example, &c));
	test_assert_str(c.hostname, "mail.example.test");
	test_assert_str(c.data_dir, "/var/lib/mailroom");
	test_assert_str(c.user, "mailroom");
	test_assert(config_listen(&c, "pop3")->count == 1 &&
		    config_listen(&c, "pop3s")->count == 1);
	test_assert_str(config_listen(&c, "pop3")->addrs[0], "0.0.0.0:110");
	test_assert(config_listen(&c, "smtp")->count == 1 &&
		    config_listen(&c, "submission")->count == 1 &&
		    config_listen(&c, "submissions")->count == 1);
	test_assert_str(config_listen(&c, "smtp")->addrs[0], "0.0.0.0:25");
	test_assert_str(config_listen(&c, "submission")->addrs[0], "0.0.0.0:587");
	test_assert_str(config_listen(&c, "submissions")->addrs[0], "0.0.0.0:465");
	test_assert_str(c.tls_cert, "/etc/ssl/mail.example.test/fullchain.pem");
	test_assert_str(c.tls_key, "/etc/ssl/mail.example.test/privkey.pem");
	test_assert(c.idle_timeout == 600 && c.max_connections_per_ip == 20);
	test_assert_str(smtp_config(&c)->postmaster, "admin@example.test");
	test_assert(smtp_config(&c)->max_message_size == 50ULL * 1024 * 1024);
	test_assert(c.max_connections == 20000 && c.workers == 4); /* untouched defaults */
	test_assert(smtp_config(&c)->max_recipients == 100);
	test_assert_str(c.file, "/srv/mr/mailroom.conf");
	config_free(&c);
	test_end();
}

static void test_syntax(void)
{
	struct config c;

	test_begin("config: comments, spacing, CRLF, sections again, case");
	test_assert(parses("# top comment\n"
			   "; another\n"
			   "   ; indented comment\n"
			   "\t# tab-indented\n"
			   "[server]\n"
			   "workers=3\n"
			   "  hostname   =   a.example.test  \n"
			   "log_level\t=\twarn\t; trailing comment\n"
			   "[ limits ]\n"
			   "idle_timeout = 1h # another trailing comment\n"
			   "auth_fail_delay_max = 2m\n"
			   "auth_fail_delay = 250ms\n"
			   "[server]\n" /* a section may come back */
			   "data_dir = rel\n",
			   &c));
	test_assert(c.workers == 3 && c.log_level == LOG_WARN);
	test_assert_str(c.hostname, "a.example.test");
	test_assert(c.idle_timeout == 3600 && c.auth_fail_delay_max == 120);
	test_assert(c.auth_fail_delay_ms == 250);
	test_assert_str(c.data_dir, "/srv/mr/rel");
	config_free(&c);

	/* ';' or '#' not after whitespace belongs to the value */
	test_assert(parses("[smtp]\npostmaster = a;b#c\n", &c));
	test_assert_str(smtp_config(&c)->postmaster, "a;b#c");
	config_free(&c);

	/* CRLF line ends and no final line end */
	test_assert(parses("[server]\r\nworkers = 5\r\n\r\n[pop3]\r\napop = yes", &c));
	test_assert(c.workers == 5 && pop3_config(&c)->apop);
	config_free(&c);

	/* every boolean spelling of the docs, any case */
	static const char *const yes[] = {"yes", "true", "on", "1", "YES", "True", "On"};
	static const char *const no[] = {"no", "false", "off", "0", "NO", "False", "oFF"};
	char text[128];
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(
		    text, sizeof(text),
		    "[pop3]\nplaintext_auth = %s\napop = %s\n[smtp]\nsender_login_match = %s\n",
		    yes[i], yes[i], no[i]);
		test_assert(parses(text, &c));
		test_assert(pop3_config(&c)->plaintext_auth && pop3_config(&c)->apop &&
			    !smtp_config(&c)->sender_login_match);
		config_free(&c);
	}
	/* the log levels */
	static const char *const levels[] = {"debug", "info", "warn", "error"};
	static const enum log_level lv[] = {LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR};
	for (size_t i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "[server]\nlog_level = %s\n", levels[i]);
		test_assert(parses(text, &c) && c.log_level == lv[i]);
		config_free(&c);
	}
	/* range ends given in docs/config.md: workers 1-256 */
	test_assert(parses("[server]\nworkers = 1\n", &c) && c.workers == 1);
	config_free(&c);
	test_assert(parses("[server]\nworkers = 256\n", &c) && c.workers == 256);
	config_free(&c);
	test_end();
}

static void test_every_key(void)
{
	struct config c;

	test_begin("config: every key of docs/config.md, set away from its default");
	test_assert(parses("[server]\n"
			   "hostname = mx.example.test\n"
			   "data_dir = /data\n"
			   "workers = 12\n"
			   "log_level = error\n"
			   "[listen]\n"
			   "pop3 = 10.0.0.1:110\n"
			   "pop3s = 10.0.0.1:995\n"
			   "smtp = 10.0.0.1:25\n"
			   "submission = 10.0.0.1:587\n"
			   "submissions = 10.0.0.1:465\n"
			   "[tls]\n"
			   "cert = /c.pem\n"
			   "key = /k.pem\n"
			   "[limits]\n"
			   "max_connections = 999\n"
			   "max_connections_per_ip = 9\n"
			   "idle_timeout = 2h\n"
			   "auth_fail_delay_max = 1m\n"
			   "line_deadline = 1m\n"
			   "data_deadline = 2h\n"
			   "min_data_rate = 0\n"
			   "data_rate_window = 10s\n"
			   "auth_fail_delay = 2s\n"
			   "[pop3]\n"
			   "plaintext_auth = yes\n"
			   "apop = no\n"
			   "[smtp]\n"
			   "max_message_size = 1K\n"
			   "max_recipients = 1000\n"
			   "max_errors = 3\n"
			   "max_commands = 10\n"
			   "max_received_headers = 5\n"
			   "command_timeout = 30s\n"
			   "data_timeout = 1h\n"
			   "postmaster = pm@example.test\n"
			   "sender_login_match = no\n"
			   "[pam]\n"
			   "service = imap\n"
			   "domain = example.org\n"
			   "min_uid = 2000\n"
			   "confdir = /etc/mailroom/pam.d\n",
			   &c));
	test_assert_str(c.hostname, "mx.example.test");
	test_assert_str(c.data_dir, "/data");
	test_assert(c.workers == 12 && c.log_level == LOG_ERROR);
	static const char *const names[] = {"smtp", "submission", "submissions", "pop3", "pop3s"};
	static const char *const addr[] = {
	    "10.0.0.1:25", "10.0.0.1:587", "10.0.0.1:465", "10.0.0.1:110", "10.0.0.1:995",
	};
	for (size_t r = 0; r < 5; r++) {
		const struct listen_list *l = config_listen(&c, names[r]);
		test_assert(l != NULL && l->count == 1);
		if (l != NULL && l->count == 1)
			test_assert_str(l->addrs[0], addr[r]);
	}
	test_assert_str(c.tls_cert, "/c.pem");
	test_assert_str(c.tls_key, "/k.pem");
	test_assert(c.max_connections == 999 && c.max_connections_per_ip == 9);
	test_assert(c.idle_timeout == 7200 && c.auth_fail_delay_max == 60);
	test_assert(c.line_deadline == 60 && c.data_deadline == 7200);
	test_assert(c.min_data_rate == 0 && c.data_rate_window == 10);
	test_assert(c.auth_fail_delay_ms == 2000);
	test_assert(pop3_config(&c)->plaintext_auth && !pop3_config(&c)->apop);
	test_assert(smtp_config(&c)->max_message_size == 1024 &&
		    smtp_config(&c)->max_recipients == 1000);
	test_assert(smtp_config(&c)->max_errors == 3 && smtp_config(&c)->max_commands == 10);
	test_assert(smtp_config(&c)->max_received == 5);
	test_assert(smtp_config(&c)->command_timeout == 30 &&
		    smtp_config(&c)->data_timeout == 3600);
	test_assert_str(smtp_config(&c)->postmaster, "pm@example.test");
	test_assert(!smtp_config(&c)->sender_login_match);
	test_assert_str(pam_config(&c)->service, "imap");
	test_assert_str(pam_config(&c)->domain, "example.org");
	test_assert(pam_config(&c)->min_uid == 2000);
	test_assert_str(pam_config(&c)->confdir, "/etc/mailroom/pam.d");
	config_free(&c);
	/* the upper ends of the documented ranges */
	test_assert(parses("[smtp]\nmax_message_size = 1G\n", &c));
	test_assert(smtp_config(&c)->max_message_size == 1ULL << 30);
	config_free(&c);
	test_assert(parses("[limits]\nauth_fail_delay = 1m\n", &c) &&
		    c.auth_fail_delay_ms == 60000);
	config_free(&c);
	test_assert(parses("[limits]\nauth_fail_delay = 1ms\n", &c) && c.auth_fail_delay_ms == 1);
	config_free(&c);
	test_end();
}

static void test_ldap_keys(void)
{
	struct config c;

	test_begin("config: [ldap] keys, defaults, paths and filter checks");
	test_assert(parses("", &c));
	test_assert(ldap_config(&c)->uri == NULL && ldap_config(&c)->base == NULL &&
		    ldap_config(&c)->bind_dn == NULL);
	test_assert_str(ldap_config(&c)->user_filter, "(&(objectClass=inetOrgPerson)(mail=%u))");
	test_assert_str(ldap_config(&c)->mail_attribute, "mail");
	test_assert_str(ldap_config(&c)->alias_attribute, "mailAlternateAddress");
	test_assert_str(ldap_config(&c)->password_attribute, "userPassword");
	test_assert(ldap_config(&c)->auth_bind && !ldap_config(&c)->starttls &&
		    ldap_config(&c)->login_filter == NULL);
	test_assert(ldap_config(&c)->timeout == 5 && ldap_config(&c)->pool_size == 4 &&
		    ldap_config(&c)->cache_ttl == 60);
	config_free(&c);

	test_assert(parses("[ldap]\n"
			   "uri = ldaps://dc1.example.test:636\n"
			   "base = dc=example,dc=test\n"
			   "bind_dn = CN=mailroom,CN=Users,DC=example,DC=test\n"
			   "bind_password_file = ldap.secret\n"
			   "ca_file = /etc/ssl/ad-ca.pem\n"
			   "user_filter = (&(objectClass=user)(|(sAMAccountName=%n)"
			   "(userPrincipalName=%u)))\n"
			   "login_filter = (!(userAccountControl:1.2.840.113556.1.4.803:=2))\n"
			   "alias_attribute = proxyAddresses\n"
			   "auth_bind = yes\n"
			   "timeout = 2s\n"
			   "pool_size = 8\n"
			   "cache_ttl = 0\n",
			   &c));
	test_assert_str(ldap_config(&c)->uri, "ldaps://dc1.example.test:636");
	test_assert_str(ldap_config(&c)->bind_password_file, "/srv/mr/mailroom-data/ldap.secret");
	test_assert_str(ldap_config(&c)->ca_file, "/etc/ssl/ad-ca.pem");
	test_assert_str(ldap_config(&c)->alias_attribute, "proxyAddresses");
	test_assert(ldap_config(&c)->timeout == 2 && ldap_config(&c)->pool_size == 8 &&
		    ldap_config(&c)->cache_ttl == 0);
	config_free(&c);
	test_assert(parses("[ldap]\nalias_attribute = none\n", &c) &&
		    ldap_config(&c)->alias_attribute == NULL);
	config_free(&c);

	/* the [ldap] parts of the admin guide's examples, verbatim */
	test_assert(parses("[ldap]\n"
			   "uri = ldap://ldap.example.test\n"
			   "starttls = yes\n"
			   "ca_file = /etc/ssl/certs/example-ca.pem\n"
			   "base = ou=people,dc=example,dc=test\n"
			   "bind_dn = cn=mailroom,ou=services,dc=example,dc=test\n"
			   "bind_password_file = ldap.secret\n"
			   "user_filter = (&(objectClass=inetOrgPerson)(|(uid=%n)(mail=%u)))\n"
			   "alias_attribute = mailAlternateAddress\n"
			   "auth_bind = no\n"
			   "password_attribute = userPassword\n",
			   &c));
	test_assert(ldap_config(&c)->starttls && !ldap_config(&c)->auth_bind);
	config_free(&c);
	test_assert(parses("[ldap]\n"
			   "uri = ldaps://dc1.example.test:636\n"
			   "ca_file = ad-root-ca.pem\n"
			   "base = DC=example,DC=test\n"
			   "bind_dn = CN=svc-mailroom,OU=Service Accounts,DC=example,DC=test\n"
			   "bind_password_file = ldap.secret\n"
			   "user_filter = (&(objectClass=user)(objectCategory=person)"
			   "(|(sAMAccountName=%n)(userPrincipalName=%u)))\n"
			   "login_filter = (&(!(userAccountControl:1.2.840.113556.1.4.803:=2))"
			   "(memberOf=CN=Mail Users,OU=Groups,DC=example,DC=test))\n"
			   "alias_attribute = proxyAddresses\n"
			   "auth_bind = yes\n",
			   &c));
	test_assert_str(ldap_config(&c)->ca_file, "/srv/mr/mailroom-data/ad-root-ca.pem");
	test_assert_str(ldap_config(&c)->login_filter,
			"(&(!(userAccountControl:1.2.840.113556.1.4.803:=2))"
			"(memberOf=CN=Mail Users,OU=Groups,DC=example,DC=test))");
	config_free(&c);

	test_assert(
	    parses("[ldap]\nuri = ldaps://dc1.example.test ldaps://dc2.example.test\n", &c));
	config_free(&c);
	test_assert(fails_at("[ldap]\nuri = 127.0.0.1\n", 2));
	test_assert(fails_at("[ldap]\nuri = ldap://dc1.example.test dc2.example.test\n", 2));
	test_assert(fails_at("[ldap]\nuser_filter = mail=%u\n", 2));
	test_assert(fails_at("[ldap]\nuser_filter = (mail=%u\n", 2));
	test_assert(fails_at("[ldap]\nuser_filter = (mail=%u))\n", 2));
	test_assert(fails_at("[ldap]\nuser_filter = (mail=%u)(uid=%n)\n", 2));
	test_assert(fails_at("[ldap]\nuser_filter = (mail=%s)\n", 2));
	test_assert(fails_at("[ldap]\nrecipient_filter = (mail=%)\n", 2));
	test_assert(fails_at("[ldap]\npool_size = 0\n", 2));
	test_assert(fails_at("[ldap]\ntimeout = 0\n", 2));
	test_assert(fails_at("[ldap]\nstarttls = maybe\n", 2));
	test_assert(fails_at("[ldap]\nport = 389\n", 2));
	test_end();
}

/* --- errors with FILE:LINE -------------------------------------------------------- */

static void test_errors(void)
{
	test_begin("config: every kind of error carries FILE:LINE");
	/* structure */
	test_assert(fails_at("[nope]\n", 1));
	test_assert(fails_at("[server]\n[Server]\n", 2)); /* sections are lower case */
	test_assert(fails_at("[]\n", 1));
	test_assert(fails_at("[server\n", 1));
	test_assert(fails_at("[server] junk\n", 1));
	test_assert(fails_at("workers = 3\n", 1)); /* outside any section */
	test_assert(fails_at("[server]\nworkers 3\n", 2));
	test_assert(fails_at("[server]\n= 3\n", 2));
	test_assert(fails_at("[server]\nHostname = a\n", 2)); /* keys are lower case */
	test_assert(fails_at("[pop3]\nhostname = a\n", 2));   /* key of another section */
	test_assert(fails_at("[server]\nworkers = 2\n[listen]\n[server]\nworkers = 3\n", 5));
	/* line numbers count blank, comment and CRLF lines */
	test_assert(fails_at("\n\n# c\n; c\n[server]\n\nbogus = 1\n", 7));
	test_assert(fails_at("[server]\r\n\r\n; c\r\nbogus = 1\r\n", 4));
	test_assert(fails_at("[server]\nworkers = 2\nworkers = 2\n", 3)); /* even if equal */
	/* values, key by key */
	static const struct {
		const char *text;
	} bad[] = {
	    {"[server]\nhostname = \n"},
	    {"[server]\ndata_dir =\n"},
	    {"[server]\nworkers = 257\n"},
	    {"[server]\nworkers = -1\n"},
	    {"[server]\nworkers = four\n"},
	    {"[server]\nlog_level = DEBUG\n"},
	    {"[server]\nlog_level = \n"},
	    {"[tls]\ncert =\n"},
	    {"[tls]\nkey = \n"},
	    {"[limits]\nmax_connections = 0\n"},
	    {"[limits]\nmax_connections = 1000001\n"},
	    {"[limits]\nmax_connections_per_ip = 0\n"},
	    {"[limits]\nidle_timeout = 10x\n"},
	    {"[limits]\nidle_timeout = 10 m\n"},
	    {"[limits]\nidle_timeout = -5\n"},
	    {"[limits]\nauth_fail_delay_max = 1w\n"},
	    {"[limits]\nauth_fail_delay_max = \n"},
	    {"[limits]\nline_deadline = 0\n"},
	    {"[limits]\nline_deadline = 5 m\n"},
	    {"[limits]\ndata_deadline = 0\n"},
	    {"[limits]\ndata_deadline = 1w\n"},
	    {"[limits]\nmin_data_rate = -1\n"},
	    {"[limits]\nmin_data_rate = 2G\n"},
	    {"[limits]\nmin_data_rate = 1 KB\n"},
	    {"[limits]\ndata_rate_window = 0\n"},
	    {"[smtp]\nline_deadline = 5m\n"}, /* a [limits] key */
	    {"[limits]\nauth_fail_delay = 0ms\n"},
	    {"[limits]\nauth_fail_delay = 0\n"},
	    {"[limits]\nauth_fail_delay = 61s\n"},
	    {"[limits]\nauth_fail_delay = 60001ms\n"},
	    {"[limits]\nauth_fail_delay = ms\n"},
	    {"[limits]\nauth_fail_delay = 1.5s\n"},
	    {"[limits]\nauth_fail_delay = 100 ms\n"},
	    {"[limits]\nauth_fail_delay = 1hms\n"},
	    {"[pop3]\nplaintext_auth = \n"},
	    {"[pop3]\napop = 2\n"},
	    {"[listen]\npop3 = localhost\n"},
	    {"[listen]\npop3 = :110\n"},
	    {"[listen]\npop3 = 127.0.0.1:0\n"},
	    {"[listen]\npop3 = 127.0.0.1:65536\n"},
	    {"[listen]\npop3 = 127.0.0.1:x\n"},
	    {"[listen]\npop3 = ::1:110\n"}, /* IPv6 needs brackets */
	    {"[listen]\npop3 = [::1]110\n"},
	    {"[listen]\npop3 = [::1]:\n"},
	    {"[listen]\npop3 = OFF\n"},
	    {"[listen]\npop3 = 127.0.0.1:110 127.0.0.1:111\n"},
	    {"[listen]\npop3s = 127.0.0.1:110, nope\n"},
	    {"[smtp]\nmax_message_size = 1023\n"},
	    {"[smtp]\nmax_message_size = 2G\n"},
	    {"[smtp]\nmax_message_size = 10MiB\n"},
	    {"[smtp]\nmax_recipients = 0\n"},
	    {"[smtp]\nmax_errors = 0\n"},
	    {"[smtp]\nmax_commands = 9\n"},
	    {"[smtp]\nmax_received_headers = 4\n"},
	    {"[smtp]\ncommand_timeout = 0\n"},
	    {"[smtp]\ndata_timeout = 5x\n"},
	    {"[smtp]\npostmaster =\n"},
	    {"[smtp]\nsender_login_match = sometimes\n"},
	    {"[smtp]\nidle_timeout = 10m\n"}, /* a [limits] key */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		test_assert(fails_at(bad[i].text, 2));
	test_end();
}

/* --- [server] user ----------------------------------------------------------------------- */

static void test_server_user(void)
{
	struct config c;
	struct buf out = {0};

	test_begin("config: [server] user: names, its line, config show, errors");
	test_assert(parses("; first\n[server]\n\nuser = mailroom\n", &c));
	test_assert_str(c.user, "mailroom");
	test_assert(c.user_line == 4); /* for FILE:LINE in privdrop's messages */
	config_write(&c, &out);
	test_assert(strstr(out.data, "data_dir = /srv/mr/mailroom-data\nuser = mailroom\n") !=
		    NULL);
	config_free(&c);
	/* what config show writes reads back the same */
	struct config back;
	test_assert(parses(out.data, &back));
	test_assert_str(back.user, "mailroom");
	config_free(&back);
	buf_free(&out);

	/* not set: config show says so */
	test_assert(parses("[server]\nworkers = 2\n", &c));
	test_assert(c.user == NULL && c.user_line == 0);
	config_write(&c, &out);
	test_assert(strstr(out.data, "; user is not set\n") != NULL);
	config_free(&c);
	buf_free(&out);

	static const char *const good[] = {
	    "mail-room", "_mailroom", "mr.user",
	    "a",	 "Mailroom9", "abcdefghijklmnopqrstuvwxyz012345", /* 32, useradd's limit */
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "[server]\nuser = %s\n", good[i]);
		test_assert(parses(text, &c));
		test_assert_str(c.user, good[i]);
		config_free(&c);
	}
	/* empty, shell or path characters, a leading '-', over 32: FILE:LINE */
	static const char *const bad[] = {
	    "[server]\nuser =\n",
	    "[server]\nuser = mail room\n",
	    "[server]\nuser = -r\n",
	    "[server]\nuser = a/b\n",
	    "[server]\nuser = a:b\n",
	    "[server]\nuser = $(id)\n",
	    "[server]\nuser = abcdefghijklmnopqrstuvwxyz0123456\n",
	    "[pop3]\nuser = mailroom\n", /* a [server] key only */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		test_assert(fails_at(bad[i], 2));
	test_assert(fails_at("[server]\nuser = a\nuser = a\n", 3)); /* duplicate */
	test_end();
}

/* --- listen lists ---------------------------------------------------------------------- */

static void test_listen(void)
{
	struct config c;

	test_begin("config: listen lists, off, empty, IPv6");
	test_assert(parses("[listen]\n"
			   "pop3 = 127.0.0.1:2110,[::1]:2110 ,  0.0.0.0:110\n"
			   "pop3s = [2001:db8::1]:995\n"
			   "smtp = off\n"
			   "submission =\n"
			   "submissions = localhost:465\n",
			   &c));
	test_assert(config_listen(&c, "pop3")->count == 3);
	if (config_listen(&c, "pop3")->count == 3) {
		test_assert_str(config_listen(&c, "pop3")->addrs[0], "127.0.0.1:2110");
		test_assert_str(config_listen(&c, "pop3")->addrs[1], "[::1]:2110");
		test_assert_str(config_listen(&c, "pop3")->addrs[2], "0.0.0.0:110");
	}
	test_assert(config_listen(&c, "pop3s")->count == 1);
	test_assert_str(config_listen(&c, "pop3s")->addrs[0], "[2001:db8::1]:995");
	test_assert(config_listen(&c, "smtp")->count == 0 &&
		    config_listen(&c, "submission")->count == 0);
	test_assert(config_listen(&c, "submissions")->count == 1);
	config_free(&c);
	test_assert(parses("[listen]\npop3 = [::1]:2110\npop3s = 127.0.0.1:65535\n", &c));
	test_assert(config_listen(&c, "pop3")->count == 1);
	test_assert_str(config_listen(&c, "pop3")->addrs[0], "[::1]:2110");
	test_assert_str(config_listen(&c, "pop3s")->addrs[0], "127.0.0.1:65535");
	config_free(&c);

	/* the services' ports are the keys, and nothing else is */
	test_assert(config_listen(&c, "imap4") == NULL);
	test_end();
}

/* --- paths --------------------------------------------------------------------------- */

static void test_paths(void)
{
	struct config c;
	char *err = NULL, cwd[PATH_MAX], want[PATH_MAX + 64];

	test_begin("config: relative data_dir and TLS paths");
	test_assert(getcwd(cwd, sizeof(cwd)) != NULL);
	/* data_dir relative to the file's folder; TLS relative to data_dir */
	test_assert(parse_as("/etc/mr/m.conf",
			     "[server]\ndata_dir = var/data\n[tls]\n"
			     "cert = c.pem\nkey = /abs/k.pem\n",
			     &c, &err) == 0);
	test_assert_str(c.data_dir, "/etc/mr/var/data");
	test_assert_str(c.tls_cert, "/etc/mr/var/data/c.pem");
	test_assert_str(c.tls_key, "/abs/k.pem");
	config_free(&c);
	/* an absolute data_dir is kept; TLS files follow it */
	test_assert(parse_as("/etc/mr/m.conf", "[server]\ndata_dir = /d\n", &c, &err) == 0);
	test_assert_str(c.data_dir, "/d");
	test_assert_str(c.tls_cert, "/d/tls/cert.pem");
	test_assert_str(c.tls_key, "/d/tls/key.pem");
	config_free(&c);
	/* a file name without a folder: the working directory */
	test_assert(parse_as("m.conf", "", &c, &err) == 0);
	snprintf(want, sizeof(want), "%s/mailroom-data", cwd);
	test_assert_str(c.data_dir, want);
	config_free(&c);
	/* a relative folder: made absolute against the working directory */
	test_assert(parse_as("conf/m.conf", "[server]\ndata_dir = d\n", &c, &err) == 0);
	snprintf(want, sizeof(want), "%s/conf/d", cwd);
	test_assert_str(c.data_dir, want);
	test_assert(c.tls_cert[0] == '/' && c.tls_key[0] == '/');
	config_free(&c);
	/* whatever the name, the paths come out absolute */
	static const char *const names[] = {"/m.conf", "./m.conf", "../m.conf", "a/b/c/m.conf"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		test_assert(parse_as(names[i], "[server]\ndata_dir = x\n", &c, &err) == 0);
		test_assert(c.data_dir != NULL && c.data_dir[0] == '/');
		test_assert(c.tls_cert != NULL && c.tls_cert[0] == '/');
		test_assert(c.data_dir != NULL && strstr(c.data_dir, "/x") != NULL);
		config_free(&c);
	}
	test_end();
}

/* --- value parsers ---------------------------------------------------------------------- */

static void test_value_parsers(void)
{
	uint64_t v = 7;
	unsigned s = 7;
	bool b;

	test_begin("config: size, duration and bool parsers at their edges");
	test_assert(config_parse_size("18446744073709551615", &v) == 0 && v == UINT64_MAX);
	test_assert(config_parse_size("18446744073709551616", &v) < 0);
	test_assert(config_parse_size("17179869183G", &v) == 0 && v == 17179869183ULL << 30);
	test_assert(config_parse_size("17179869184G", &v) < 0);
	test_assert(config_parse_size("18014398509481983K", &v) == 0 && v == UINT64_MAX - 1023);
	test_assert(config_parse_size("18014398509481984K", &v) < 0); /* 2^54 K = 2^64 */
	test_assert(config_parse_size("1k", &v) == 0 && v == 1024);
	test_assert(config_parse_size("1m", &v) == 0 && v == 1048576);
	test_assert(config_parse_size("1kb", &v) == 0 && v == 1024);
	v = 7;
	static const char *const bad_size[] = {"",     "K",    "-1",   "+1",  " 1",   "1 ",  "1 K",
					       "1KiB", "1.5M", "0x10", "1e3", "1KBB", "1BK", "١"};
	for (size_t i = 0; i < sizeof(bad_size) / sizeof(bad_size[0]); i++)
		test_assert(config_parse_size(bad_size[i], &v) < 0);
	test_assert(v == 7); /* untouched on failure */

	test_assert(config_parse_duration("0", &s) == 0 && s == 0);
	test_assert(config_parse_duration("4294967295", &s) == 0 && s == UINT_MAX);
	test_assert(config_parse_duration("4294967296", &s) < 0);
	test_assert(config_parse_duration("4294967295s", &s) == 0 && s == UINT_MAX);
	test_assert(config_parse_duration("71582788m", &s) == 0 && s == 71582788u * 60);
	test_assert(config_parse_duration("71582789m", &s) < 0);
	test_assert(config_parse_duration("1193046h", &s) == 0 && s == 1193046u * 3600);
	test_assert(config_parse_duration("1193047h", &s) < 0);
	test_assert(config_parse_duration("49710d", &s) == 0 && s == 49710u * 86400);
	test_assert(config_parse_duration("49711d", &s) < 0);
	test_assert(config_parse_duration("18446744073709551617", &s) < 0);
	s = 7;
	static const char *const bad_dur[] = {"",    "s",    "-1", "+1",  "1 ", "10 m",
					      "1mm", "1.5h", "1y", "1ms", "0x1"};
	for (size_t i = 0; i < sizeof(bad_dur) / sizeof(bad_dur[0]); i++)
		test_assert(config_parse_duration(bad_dur[i], &s) < 0);
	test_assert(s == 7);

	static const char *const bad_bool[] = {"",  " yes",   "yes ", "2",  "y",
					       "n", "enable", "yess", "of", "o"};
	for (size_t i = 0; i < sizeof(bad_bool) / sizeof(bad_bool[0]); i++)
		test_assert(config_parse_bool(bad_bool[i], &b) < 0);
	test_assert(config_parse_bool("TRUE", &b) == 0 && b);
	test_assert(config_parse_bool("0", &b) == 0 && !b);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_load, test_doc_example, test_syntax, test_every_key,
					   test_errors, test_listen, test_paths, test_value_parsers,
					   test_server_user, test_ldap_keys, test_default_path,
					   NULL});
}
