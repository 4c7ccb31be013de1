/* SPDX-License-Identifier: MIT */
/*
 * test_dir_pam.c - directory/dir_pam.c through its ops table, with private
 * PAM service files in a temp confdir (pam_permit, pam_deny, pam_debug,
 * pam_exec, pam_faildelay): no root and no password database changes. The
 * account is an existing one of the machine (daemon, say), min_uid set to
 * its uid. What PAM says becomes DIR_OK / DIR_FAILED / DIR_TEMPFAIL; names
 * outside the domain, below min_uid, root, nobody and malformed names are
 * DIR_UNKNOWN before any PAM stack runs; PAM never sleeps on a failure.
 */
#include "directory/dir_backend.h"
#include "server/schema.h"
#include "test_common.h"
#include "util/config.h"
#include "util/mem.h"

#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const struct {
	const char *name, *text;
} services[] = {
    {"permit", "auth required pam_permit.so\naccount required pam_permit.so\n"},
    {"deny", "auth required pam_deny.so\naccount required pam_permit.so\n"},
    /* the password reaches check.sh through our conversation; its exit
       status 1 is PAM_SYSTEM_ERR, so a wrong one jumps to pam_deny */
    {"exec", "auth [success=1 default=ignore] pam_exec.so expose_authtok quiet @DIR@/check.sh\n"
	     "auth requisite pam_deny.so\nauth required pam_permit.so\n"
	     "account required pam_permit.so\n"},
    {"expired", "auth required pam_permit.so\naccount required pam_debug.so acct=acct_expired\n"},
    {"newtok",
     "auth required pam_permit.so\naccount required pam_debug.so acct=new_authtok_reqd\n"},
    {"denied", "auth required pam_permit.so\naccount required pam_debug.so acct=perm_denied\n"},
    {"unavail", "auth required pam_debug.so auth=authinfo_unavail\n"},
    {"syserr", "auth required pam_debug.so auth=system_err\n"},
    {"abort", "auth required pam_debug.so auth=abort\n"},
    {"maxtries", "auth required pam_debug.so auth=maxtries\n"},
    {"unknown", "auth required pam_debug.so auth=user_unknown\n"},
    {"nomodule", "auth required pam_no_such_module_here.so\naccount required pam_permit.so\n"},
    /* a 3 s failure delay that PAM must not sleep */
    {"delay", "auth optional pam_faildelay.so delay=3000000\nauth required pam_deny.so\n"},
};

static char *confdir;
static char *account; /* an existing account: name and uid */
static unsigned account_uid;

static void write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	test_assert(f != NULL);
	if (f != NULL) {
		/* @DIR@ stands for the confdir */
		for (const char *p = text; *p != '\0'; p++) {
			if (strncmp(p, "@DIR@", 5) == 0) {
				fputs(dir, f);
				p += 4;
			} else {
				fputc(*p, f);
			}
		}
		fclose(f);
	}
	chmod(path, mode);
	free(path);
}

static void setup(void)
{
	confdir = test_tmpdir();
	chmod(confdir, 0755);
	for (size_t i = 0; i < N_ELEMENTS(services); i++)
		write_file(confdir, services[i].name, services[i].text, 0644);
	/* pam_exec writes the password and a NUL to stdin */
	write_file(confdir, "check.sh", "#!/bin/sh\n[ \"$(tr -d '\\000')\" = 'right pw' ]\n", 0755);

	/* the first ordinary-looking account of this machine */
	struct passwd *pw;
	setpwent();
	while ((pw = getpwent()) != NULL)
		if (pw->pw_uid != 0 && pw->pw_uid != 65534 &&
		    strspn(pw->pw_name, "abcdefghijklmnopqrstuvwxyz") == strlen(pw->pw_name))
			break;
	if (pw != NULL) {
		account = xstrdup(pw->pw_name);
		account_uid = pw->pw_uid;
	}
	endpwent();
	test_assert(account != NULL);
}

/* A backend for `service` with min_uid (0: the account's uid). */
static void *open_be(const char *service, unsigned min_uid, char **err_r)
{
	struct config cfg;
	char *text = xasprintf("[pam]\nservice = %s\ndomain = Example.TEST\nmin_uid = %u\n"
			       "confdir = %s\n",
			       service, min_uid != 0 ? min_uid : account_uid, confdir);
	char *err = NULL;
	void *be = NULL;

	test_assert(config_parse(server_schema(), "/etc/mr/test.conf", text, strlen(text), &cfg,
				 &err) == 0);
	free(text);
	if (err != NULL) {
		printf("  config: %s\n", err);
		free(err);
		return NULL;
	}
	if (dir_pam_ops.open(&cfg, &be, err_r) < 0)
		be = NULL;
	config_free(&cfg);
	return be;
}

static enum dir_status verify(void *be, const char *login, const char *password, char **address_r)
{
	struct dir_account a = {0};
	enum dir_status s = dir_pam_ops.verify(be, NULL, login, password, &a);
	if (address_r != NULL)
		*address_r = s == DIR_OK ? xstrdup(a.address) : NULL;
	if (s == DIR_OK)
		test_assert(a.enabled && a.pop3_enabled && a.submission_enabled &&
			    a.pw_hash == NULL && a.mailbox_id == 0);
	dir_account_clear(&a);
	return s;
}

static void test_open(void)
{
	char *err = NULL;
	test_begin("pam: open needs [pam] domain and an existing service file");
	struct config cfg;
	test_assert(config_parse(server_schema(), "/etc/mr/test.conf", "", 0, &cfg, &err) == 0);
	void *be = NULL;
	test_assert(dir_pam_ops.open(&cfg, &be, &err) < 0 && be == NULL);
	test_assert(err != NULL && strstr(err, "[pam] domain is not set") != NULL);
	free(err);
	err = NULL;
	config_free(&cfg);

	test_assert(open_be("no-such-service", 0, &err) == NULL);
	test_assert(err != NULL && strstr(err, "no-such-service") != NULL &&
		    strstr(err, "does not exist") != NULL);
	free(err);
	err = NULL;
	be = open_be("permit", 0, &err);
	test_assert(be != NULL && err == NULL);
	dir_pam_ops.close(be);
	dir_pam_ops.close(NULL);
	test_assert_str(dir_pam_ops.name, "pam");
	test_assert(dir_pam_ops.flags == 0); /* no SCRAM, no APOP secrets */
	test_end();
}

static void test_results(void)
{
	static const struct {
		const char *service, *password;
		enum dir_status want;
	} cases[] = {
	    {"permit", "anything", DIR_OK},
	    {"deny", "anything", DIR_FAILED},
	    {"exec", "right pw", DIR_OK},
	    {"exec", "wrong pw", DIR_FAILED},
	    {"expired", "x", DIR_FAILED},
	    {"newtok", "x", DIR_FAILED},
	    {"denied", "x", DIR_FAILED},
	    {"maxtries", "x", DIR_FAILED},
	    {"unknown", "x", DIR_FAILED},
	    {"unavail", "x", DIR_TEMPFAIL},
	    {"syserr", "x", DIR_TEMPFAIL},
	    {"abort", "x", DIR_TEMPFAIL},
	    {"nomodule", "x", DIR_TEMPFAIL},
	    /* no PAM stack runs for an empty or overlong password */
	    {"permit", "", DIR_FAILED},
	};
	test_begin("pam: what the PAM stack says becomes OK, FAILED or TEMPFAIL");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		char *err = NULL, *addr = NULL;
		void *be = open_be(cases[i].service, 0, &err);
		test_assert(be != NULL);
		if (be == NULL) {
			printf("  %s: %s\n", cases[i].service, err);
			free(err);
			continue;
		}
		enum dir_status s = verify(be, account, cases[i].password, &addr);
		if (s != cases[i].want)
			printf("  service %s: got %d, want %d\n", cases[i].service, s,
			       cases[i].want);
		test_assert(s == cases[i].want);
		if (s == DIR_OK) {
			char *want = xasprintf("%s@example.test", account);
			test_assert_str(addr, want);
			free(want);
		}
		free(addr);
		dir_pam_ops.close(be);
	}
	char *err = NULL;
	void *be = open_be("permit", 0, &err);
	char long_pw[600];
	memset(long_pw, 'p', sizeof(long_pw) - 1);
	long_pw[sizeof(long_pw) - 1] = '\0';
	test_assert(verify(be, account, long_pw, NULL) == DIR_FAILED);
	dir_pam_ops.close(be);
	test_end();
}

static void test_names(void)
{
	char *err = NULL, *addr = NULL;
	void *be = open_be("permit", 0, &err);
	char *want = xasprintf("%s@example.test", account);

	test_begin("pam: NAME or NAME@domain; other domains and odd names are not ours");
	char *login = xasprintf("%s@EXAMPLE.test", account);
	test_assert(verify(be, login, "pw", &addr) == DIR_OK);
	test_assert_str(addr, want);
	free(addr);
	free(login);
	/* capitals: no such account, so the lower-case one */
	char *upper = xstrdup(account);
	for (char *p = upper; *p != '\0'; p++)
		*p = (char)(*p - 'a' + 'A');
	test_assert(verify(be, upper, "pw", &addr) == DIR_OK);
	test_assert_str(addr, want);
	free(addr);
	free(upper);

	/* the account's name dressed up as something else */
	static const char *const dressed[][2] = {
	    {"", "@example.org"},
	    {"", "@mail.example.test"},
	    {"", "@example.test@example.test"},
	    {"", ":x"},
	    {"../", ""},
	    {"", " "},
	    {"", "\n"},
	    {"\t", ""},
	    {"-", ""},
	    {".", ""},
	    {"", "+tag@example.test"},
	    {"", "\xc3\xa9"},
	    {"", "/"},
	    {"", "@"},
	    {"", "@example.test."},
	};
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	const char *const odd[] = {
	    longname,
	    "",
	    "@example.test",
	    "root",
	    "root@example.test",
	    "nobody",
	    "0",
	    "1000",
	    "no-such-account-here",
	    "*",
	    "%",
	    "a\\b",
	};
	for (size_t i = 0; i < N_ELEMENTS(dressed) + N_ELEMENTS(odd); i++) {
		char *name = i < N_ELEMENTS(dressed)
				 ? xasprintf("%s%s%s", dressed[i][0], account, dressed[i][1])
				 : xstrdup(odd[i - N_ELEMENTS(dressed)]);
		enum dir_status s = verify(be, name, "pw", NULL);
		if (s != DIR_UNKNOWN)
			printf("  '%s': got %d\n", name, s);
		test_assert(s == DIR_UNKNOWN);
		struct dir_account a = {0};
		test_assert(dir_pam_ops.lookup(be, NULL, name, &a) == DIR_UNKNOWN);
		test_assert(a.address == NULL);
		free(name);
	}
	free(want);
	dir_pam_ops.close(be);
	test_end();
}

static void test_min_uid(void)
{
	char *err = NULL;
	test_begin("pam: accounts below [pam] min_uid are nobody's business here");
	void *be = open_be("permit", account_uid + 1, &err);
	char *addr = xasprintf("%s@example.test", account);
	struct dir_account a = {0};
	struct dir_resolution r = {0};
	test_assert(verify(be, account, "pw", NULL) == DIR_UNKNOWN);
	test_assert(dir_pam_ops.lookup(be, NULL, account, &a) == DIR_UNKNOWN);
	test_assert(dir_pam_ops.resolve(be, NULL, addr, &r) == DIR_UNKNOWN);
	test_assert(r.n_mailboxes == 0);
	free(addr);
	dir_pam_ops.close(be);
	test_end();
}

static void test_lookup_resolve(void)
{
	char *err = NULL;
	test_begin("pam: lookup and resolve find the account by the passwd database");
	/* "deny": neither runs the PAM stack */
	void *be = open_be("deny", 0, &err);
	char *want = xasprintf("%s@example.test", account);
	struct dir_account a = {0};
	test_assert(dir_pam_ops.lookup(be, NULL, account, &a) == DIR_OK);
	test_assert_str(a.address, want);
	test_assert(a.enabled && a.pw_hash == NULL && a.scram == NULL && a.apop_secret == NULL);
	dir_account_clear(&a);

	struct dir_resolution r = {0};
	char *mixed = xasprintf("%s@Example.Test", account);
	mixed[0] = (char)(mixed[0] - 'a' + 'A');
	test_assert(dir_pam_ops.resolve(be, NULL, mixed, &r) == DIR_OK);
	test_assert(r.n_mailboxes == 1 && r.n_ids == 0 && r.n_remote == 0);
	if (r.n_mailboxes == 1)
		test_assert_str(r.mailboxes[0], want);
	dir_resolution_clear(&r);
	/* a recipient is always an address */
	test_assert(dir_pam_ops.resolve(be, NULL, account, &r) == DIR_UNKNOWN);
	test_assert(dir_pam_ops.resolve(be, NULL, "root@example.test", &r) == DIR_UNKNOWN);
	test_assert(dir_pam_ops.resolve(be, NULL, "postmaster@example.test", &r) == DIR_UNKNOWN);
	test_assert(r.n_mailboxes == 0);
	free(mixed);
	free(want);
	dir_pam_ops.close(be);
	test_end();
}

static void test_no_fail_delay(void)
{
	char *err = NULL;
	struct timespec t0, t1;
	test_begin("pam: a failure returns at once (the server's brake waits, not PAM)");
	void *be = open_be("delay", 0, &err);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	test_assert(verify(be, account, "pw", NULL) == DIR_FAILED);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (secs >= 2.0)
		printf("  took %.2f s\n", secs);
	test_assert(secs < 2.0); /* the stack asks for 3 s */
	dir_pam_ops.close(be);
	test_end();
}

static void *verify_many(void *be)
{
	size_t ok = 0;
	for (int i = 0; i < 50; i++) {
		struct dir_account a = {0};
		bool right = i % 2 == 0;
		enum dir_status s =
		    dir_pam_ops.verify(be, NULL, account, right ? "right pw" : "wrong pw", &a);
		ok += s == (right ? DIR_OK : DIR_FAILED);
		dir_account_clear(&a);
	}
	return (void *)ok;
}

static void test_threads(void)
{
	char *err = NULL;
	pthread_t t[4];
	test_begin("pam: one backend, several worker threads at once");
	void *be = open_be("exec", 0, &err);
	for (size_t i = 0; i < N_ELEMENTS(t); i++)
		test_assert(pthread_create(&t[i], NULL, verify_many, be) == 0);
	for (size_t i = 0; i < N_ELEMENTS(t); i++) {
		void *ok = NULL;
		pthread_join(t[i], &ok);
		test_assert((size_t)ok == 50);
	}
	dir_pam_ops.close(be);
	test_end();
}

int main(void)
{
	setup();
	int rc = test_run((void (*[])(void)){test_open, test_results, test_names, test_min_uid,
					     test_lookup_resolve, test_no_fail_delay, test_threads,
					     NULL});
	test_rmtree(confdir);
	free(account);
	return rc;
}
