/* SPDX-License-Identifier: MIT */
/* test_passwdfile.c - Dovecot passwd-file lines (directory/passwdfile.c). */
#include "directory/passwdfile.h"
#include "directory/dir_config.h"
#include "server/schema.h"
#include "test_common.h"
#include "util/buf.h"
#include "util/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void test_lines(void)
{
	static const char text[] =
	    "# Dovecot passwd-file\n"
	    "\n"
	    "alice@Example.ORG:{SHA512-CRYPT}$6$abc$def:1000:1000::/home/alice::\n"
	    "Bob:{PLAIN}pen cil\r\n"
	    "carol:$6$salt$hash:::::: userdb_quota_rule=*:storage=1G nologin reason=gone\n"
	    "dave\n"
	    "erin:\n"
	    ":skipped:line\n"
	    "frank:{PLAIN}x:1:1:Frank, ext. 12:/home/frank:/bin/sh:nologinx=1 "
	    "allow_nets=10.0.0.0/8\n"
	    "alice@example.org:{PLAIN}second\n"
	    "grace:{PLAIN}last"; /* no newline at the end */
	struct pwf f;
	char *err = NULL;
	const struct pwf_user *u;

	test_begin("passwd-file: fields, comments, bare names, extra fields");
	test_assert(pwf_parse(text, strlen(text), "example.net", &f, &err) == 0);
	test_assert(f.n == 7);
	test_assert(f.n_dups == 1 && f.dup_line == 10);
	u = pwf_find(&f, "alice@example.org");
	test_assert(u != NULL && u->line == 3 && !u->nologin && u->quota == 0);
	test_assert(u != NULL && strcmp(u->pw_hash, "{SHA512-CRYPT}$6$abc$def") == 0);
	u = pwf_find(&f, "bob@example.net");
	test_assert(u != NULL && strcmp(u->pw_hash, "{PLAIN}pen cil") == 0);
	u = pwf_find(&f, "carol@example.net");
	test_assert(u != NULL && u->nologin && strcmp(u->pw_hash, "{CRYPT}$6$salt$hash") == 0);
	test_assert(u != NULL && u->quota == 1024ull * 1024 * 1024);
	u = pwf_find(&f, "dave@example.net");
	test_assert(u != NULL && u->pw_hash == NULL);
	u = pwf_find(&f, "erin@example.net");
	test_assert(u != NULL && u->pw_hash == NULL);
	u = pwf_find(&f, "frank@example.net");
	test_assert(u != NULL && !u->nologin); /* "nologinx" is another field */
	u = pwf_find(&f, "grace@example.net");
	test_assert(u != NULL && strcmp(u->pw_hash, "{PLAIN}last") == 0);
	test_assert(pwf_find(&f, "Bob@example.net") == NULL); /* callers lower-case */
	test_assert(pwf_find(&f, "bob@example.org") == NULL);
	test_assert(pwf_find(&f, "nobody@example.net") == NULL);
	pwf_free(&f);
	test_assert(f.n == 0 && f.users == NULL);

	test_assert(pwf_parse("", 0, NULL, &f, &err) == 0 && f.n == 0);
	test_assert(pwf_find(&f, "a@b") == NULL);
	test_end();
}

static void test_quota_rules(void)
{
	static const struct {
		const char *extra;
		uint64_t quota;
	} rules[] = {
	    {"userdb_quota_rule=*:storage=1G", 1024ull * 1024 * 1024},
	    {"userdb_quota_rule=*:storage=100M nologin", 100ull * 1024 * 1024},
	    {"userdb_quota_rule=*:storage=2048", 2048ull * 1024}, /* KiB, as in Dovecot 2.3 */
	    {"userdb_quota_rule=*:storage=512k", 512ull * 1024},
	    {"userdb_quota_rule=*:storage=77b", 77},
	    {"userdb_quota_rule=*:storage=1T", 1024ull * 1024 * 1024 * 1024},
	    {"userdb_quota_rule=*:storage=10%", 0},
	    {"userdb_quota_rule=Trash:storage=1G", 0},
	    {"userdb_quota_rule=*:messages=100", 0},
	    {"userdb_quota_rule=*:storage=", 0},
	    {"userdb_quota_rule=*:storage=1GG", 0},
	    {"userdb_quota_rule=*:storage=99999999999999999999", 0},
	    {"quota_rule=*:storage=1G", 0},
	};
	char line[200], *err = NULL;
	struct pwf f;

	test_begin("passwd-file: userdb_quota_rule=*:storage= sizes");
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		snprintf(line, sizeof(line), "a@example.org:{PLAIN}x::::::%s\n", rules[i].extra);
		test_assert(pwf_parse(line, strlen(line), NULL, &f, &err) == 0 && f.n == 1);
		if (f.n == 1 && f.users[0].quota != rules[i].quota)
			fprintf(stderr, "  %s: %llu\n", rules[i].extra,
				(unsigned long long)f.users[0].quota);
		test_assert(f.n == 1 && f.users[0].quota == rules[i].quota);
		pwf_free(&f);
	}
	test_end();
}

static void test_bad_lines(void)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
	    {"ok@example.org:{PLAIN}x\nbare:{PLAIN}x\n",
	     "line 2: a bare user name, but [passwd-file] domain is not set"},
	    {"a@example.org:x\n\n# c\nb c@example.org:x\n",
	     "line 4: the user name holds a space or one of ()<>[]:;@\\,\""},
	    {"a@b@example.org:x\n", "line 1: the domain after '@' is not a domain name"},
	    {"@example.org:x\n", "line 1: no user name before ':'"},
	    {"a@:x\n", "line 1: the domain after '@' is not a domain name"},
	    {"a@exa_mple.org:x\n", "line 1: the domain after '@' is not a domain name"},
	    {"a@example..org:x\n", "line 1: the domain after '@' is not a domain name"},
	    {"a@example.org:x\nb@example.org:\0x\n", "line 2: a NUL byte (is this a text file?)"},
	};
	struct pwf f;
	char *err = NULL;

	test_begin("passwd-file: a bad line fails the file with its number");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i].text);
		if (strstr(bad[i].err, "NUL") != NULL)
			len = 34; /* past the embedded NUL */
		test_assert(pwf_parse(bad[i].text, len, NULL, &f, &err) < 0);
		test_assert(f.n == 0 && f.users == NULL);
		if (err != NULL)
			test_assert_str(err, bad[i].err);
		free(err);
		err = NULL;
	}
	test_end();
}

static void test_load_large(void)
{
	char *dir = test_tmpdir();
	char path[512], *err = NULL;
	struct pwf f;
	FILE *fp;
	clock_t t0;

	test_begin("passwd-file: 100,000 lines load and look up fast");
	snprintf(path, sizeof(path), "%s/users", dir);
	fp = fopen(path, "w");
	for (int i = 100000; i > 0; i--)
		fprintf(fp, "user%d:{SHA256}E4CWaPtDY4Zwb2fcsFLtWEoEuhaowCoX1m00ww/O2iE=::::::\n",
			i);
	fclose(fp);
	t0 = clock();
	test_assert(pwf_load(path, "example.org", &f, &err) == 0);
	test_assert(f.n == 100000);
	for (int i = 1; i <= 100000; i++) {
		char a[64];
		snprintf(a, sizeof(a), "user%d@example.org", i);
		if (pwf_find(&f, a) == NULL) {
			test_assert(!"user missing");
			break;
		}
	}
	/* CPU time: a scan per lookup would take minutes; room for sanitizers */
	test_assert((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
	pwf_free(&f);

	test_assert(pwf_load("/nonexistent/users", NULL, &f, &err) < 0);
	test_assert_str(err, "/nonexistent/users: cannot open: No such file or directory");
	free(err);
	fp = fopen(path, "w");
	fputs("a@example.org:x\nbad line\n", fp);
	fclose(fp);
	test_assert(pwf_load(path, NULL, &f, &err) < 0);
	char want[600];
	snprintf(want, sizeof(want), "%s:2: the user name holds a space or one of ()<>[]:;@\\,\"",
		 path);
	test_assert_str(err, want);
	free(err);
	test_assert(pwf_load(dir, NULL, &f, &err) < 0); /* a folder */
	free(err);
	test_rmtree(dir);
	test_end();
}

static void test_config_keys(void)
{
	static const char text[] = "[server]\ndata_dir = /srv/mr\n"
				   "[passwd-file]\npath = users.passwd\ndomain = Example.ORG\n";
	struct config c, back;
	struct buf b = {0};
	char *err = NULL;

	test_begin("passwd-file: [passwd-file] path and domain");
	test_assert(
	    config_parse(server_schema(), "/etc/mailroom.conf", text, strlen(text), &c, &err) == 0);
	test_assert_str(passwdfile_config(&c)->path,
			"/srv/mr/users.passwd"); /* like the TLS files */
	test_assert_str(passwdfile_config(&c)->domain, "example.org");
	config_write(&c, &b);
	test_assert(strstr(b.data, "\n[passwd-file]\npath = /srv/mr/users.passwd\n"
				   "domain = example.org\n") != NULL);
	test_assert(
	    config_parse(server_schema(), "/etc/mailroom.conf", b.data, b.len, &back, &err) == 0);
	test_assert_str(passwdfile_config(&back)->path, passwdfile_config(&c)->path);
	config_free(&back);
	config_free(&c);
	buf_free(&b);

	static const char none[] = "[server]\ndata_dir = /srv/mr\n";
	test_assert(
	    config_parse(server_schema(), "/etc/mailroom.conf", none, strlen(none), &c, &err) == 0);
	test_assert(passwdfile_config(&c)->path == NULL && passwdfile_config(&c)->domain == NULL);
	config_write(&c, &b);
	test_assert(strstr(b.data, "; path is not set\n; domain is not set\n") != NULL);
	config_free(&c);
	buf_free(&b);

	static const char bad[] = "[passwd-file]\ndomain = not a domain\n";
	test_assert(
	    config_parse(server_schema(), "/etc/mailroom.conf", bad, strlen(bad), &c, &err) < 0);
	test_assert(err != NULL && strncmp(err, "/etc/mailroom.conf:2: ", 22) == 0);
	free(err);
	config_free(&c);
	static const char unknown[] = "[passwd-file]\nfile = x\n";
	test_assert(config_parse(server_schema(), "/etc/mailroom.conf", unknown, strlen(unknown),
				 &c, &err) < 0);
	free(err);
	config_free(&c);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_lines, test_quota_rules, test_bad_lines,
					   test_load_large, test_config_keys, NULL});
}
