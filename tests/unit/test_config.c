/* SPDX-License-Identifier: MIT */
/* test_config.c - the INI contract (SPEC §7): defaults, keys, strict errors. */
#include "test_common.h"
#include "util/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *text, struct config *c, char **err)
{
	*err = NULL;
	memset(c, 0, sizeof(*c));
	return config_parse("/etc/mr/test.conf", text, strlen(text), c, err);
}

static void test_defaults_and_full(void)
{
	struct config c;
	char *err;

	test_begin("config: defaults and every key");
	test_assert(parse("", &c, &err) == 0);
	test_assert_str(c.data_dir, "/etc/mr/mailroom-data");
	test_assert_str(c.tls_cert, "/etc/mr/mailroom-data/tls/cert.pem");
	test_assert(c.listen[ROLE_POP3].count == 1);
	test_assert_str(c.listen[ROLE_POP3].addrs[0], "127.0.0.1:2110");
	test_assert_str(c.listen[ROLE_POP3S].addrs[0], "127.0.0.1:2995");
	test_assert_str(c.listen[ROLE_SMTP].addrs[0], "127.0.0.1:2525");
	test_assert(c.max_connections_per_ip == 50 && c.idle_timeout == 600);
	test_assert(!c.pop3_plaintext_auth && c.pop3_apop);
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
			   "apop = off\n";
	test_assert(parse(full, &c, &err) == 0);
	test_assert(err == NULL);
	test_assert_str(c.hostname, "mail.example.test");
	test_assert(c.workers == 8 && c.log_level == LOG_DEBUG);
	test_assert(c.listen[ROLE_SMTP].count == 0 && c.listen[ROLE_SUBMISSION].count == 0);
	test_assert(c.listen[ROLE_POP3].count == 2);
	test_assert_str(c.listen[ROLE_POP3].addrs[1], "[::1]:110");
	test_assert_str(c.listen[ROLE_POP3S].addrs[0], "0.0.0.0:995");
	test_assert_str(c.tls_cert, "/etc/ssl/mail.pem");
	test_assert_str(c.tls_key, "/var/lib/mailroom/keys/mail.key");
	test_assert(c.max_connections == 100 && c.max_connections_per_ip == 7);
	test_assert(c.idle_timeout == 900 && c.auth_fail_delay_max == 0);
	test_assert(c.pop3_plaintext_auth && !c.pop3_apop);
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
	struct config c;
	char *err = NULL;
	memset(&c, 0, sizeof(c));
	test_assert(config_parse("x.conf", "[server]\0x", 10, &c, &err) < 0);
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

int main(void)
{
	return test_run(
		(void (*[])(void)){test_defaults_and_full, test_errors, test_value_parsers, NULL});
}
