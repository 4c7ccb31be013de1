/* SPDX-License-Identifier: MIT */
/*
 * test_privdrop.c - server/privdrop.h: the plan's rules and messages, the
 * ownership check (which paths, links not followed, files outside the data
 * dir left alone), and, run as root, the switch itself in a child process:
 * ids, setuid(0) refused, no capability, not dumpable, no_new_privs, and a
 * refusal when a second thread exists; privdrop_caps_clear() leaving no
 * capability in any set.
 */
#include "server/privdrop.h"
#include "test_common.h"
#include "util/mem.h"

#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct config conf(const char *file, const char *data_dir, const char *user)
{
	struct config c;
	memset(&c, 0, sizeof(c));
	c.file = file != NULL ? xstrdup(file) : NULL;
	c.data_dir = xstrdup(data_dir);
	c.user = user != NULL ? xstrdup(user) : NULL;
	c.user_line = user != NULL ? 7 : 0;
	c.tls_cert = xasprintf("%s/tls/cert.pem", data_dir);
	c.tls_key = xstrdup("/etc/ssl/private/outside.pem");
	return c;
}

static bool starts(const char *s, const char *prefix)
{
	bool ok = s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
	if (!ok)
		printf("  got: %s\n  want: %s...\n", s != NULL ? s : "(null)", prefix);
	return ok;
}

static void test_plan(void)
{
	struct privdrop pd;
	char *err = NULL;
	bool root = geteuid() == 0;
	struct passwd *self = getpwuid(geteuid());

	test_begin("privdrop: the plan's rules and FILE:LINE messages");
	struct config c = conf("/etc/m.conf", "/var/lib/m", NULL);
	/* no user: serve as root refuses, the CLI as root stays root */
	test_assert(privdrop_plan(&c, true, &pd, &err) == (root ? -1 : 0));
	if (root)
		test_assert(starts(err, "/etc/m.conf: [server] user is not set: started as root"));
	free(err);
	err = NULL;
	privdrop_clear(&pd);
	test_assert(privdrop_plan(&c, false, &pd, &err) == 0);
	test_assert(!pd.drop && pd.check == !root && pd.uid == geteuid() && pd.name != NULL);
	privdrop_clear(&pd);
	config_free(&c);

	c = conf(NULL, "/var/lib/m", NULL);
	if (root && privdrop_plan(&c, true, &pd, &err) < 0)
		test_assert(starts(err, "built-in defaults: [server] user is not set"));
	free(err);
	err = NULL;
	privdrop_clear(&pd);
	config_free(&c);

	c = conf("/etc/m.conf", "/var/lib/m", "no-such-account-here");
	test_assert(privdrop_plan(&c, false, &pd, &err) < 0);
	test_assert(starts(err, "/etc/m.conf:7: [server] user 'no-such-account-here': no such "
				"account; create it with: useradd --system"));
	free(err);
	err = NULL;
	config_free(&c);

	c = conf("/etc/m.conf", "/var/lib/m", "root");
	test_assert(privdrop_plan(&c, true, &pd, &err) < 0);
	test_assert(starts(err, "/etc/m.conf:7: [server] user 'root' has uid 0 (root)"));
	free(err);
	err = NULL;
	config_free(&c);

	/* naming the current (non-root) user: no switch, ownership checked */
	if (!root && self != NULL) {
		c = conf("/etc/m.conf", "/var/lib/m", self->pw_name);
		test_assert(privdrop_plan(&c, true, &pd, &err) == 0);
		test_assert(!pd.drop && pd.check && pd.uid == geteuid());
		privdrop_clear(&pd);
		config_free(&c);
	}
	test_end();
}

static void touch(const char *path)
{
	FILE *f = fopen(path, "w");
	test_assert(f != NULL);
	if (f != NULL)
		fclose(f);
}

static void test_check_owner(void)
{
	char *dir = test_tmpdir();
	char *tls = xasprintf("%s/tls", dir), *db = xasprintf("%s/mailroom.db", dir);
	char *wal = xasprintf("%s/mailroom.db-wal", dir);
	struct privdrop pd = {.check = true, .uid = geteuid() + 1, .gid = getegid()};
	char *err = NULL;

	test_begin("privdrop: ownership of the data dir, its store and TLS files");
	pd.name = xstrdup("someone");
	pd.group = xstrdup("somegroup");
	struct config c = conf("/etc/m.conf", dir, NULL);
	test_assert(mkdir(tls, 0700) == 0);
	touch(db);
	/* the data dir itself is the first thing named */
	test_assert(privdrop_check_owner(&c, &pd, &err) < 0);
	char *want = xasprintf("data dir: %s is owned by ", dir);
	test_assert(starts(err, want));
	test_assert(err != NULL && strstr(err, "but mailroom runs as someone") != NULL);
	char *fix = xasprintf("; run: chown -R someone:somegroup %s", dir);
	test_assert(err != NULL && strstr(err, fix) != NULL);
	free(err);
	err = NULL;
	/* owned by the user: fine; missing files (WAL, cert) are fine; the key
	   outside the data dir is not checked */
	pd.uid = geteuid();
	test_assert(privdrop_check_owner(&c, &pd, &err) == 0 && err == NULL);
	/* a link below the data dir is judged by the link, not its target */
	test_assert(symlink("/", wal) == 0);
	test_assert(privdrop_check_owner(&c, &pd, &err) == 0);
	/* the SRS secret is the server's too (root can make it another's) */
	if (geteuid() == 0) {
		char *srs = xasprintf("%s/srs.key", dir);
		touch(srs);
		test_assert(chown(srs, geteuid() + 1, getegid()) == 0);
		test_assert(privdrop_check_owner(&c, &pd, &err) < 0);
		test_assert(err != NULL && strstr(err, srs) != NULL);
		free(err);
		err = NULL;
		test_assert(unlink(srs) == 0);
		free(srs);
	}
	/* without check (root staying root) nothing is looked at */
	pd.uid = geteuid() + 1;
	pd.check = false;
	test_assert(privdrop_check_owner(&c, &pd, &err) == 0);
	/* chown_data is a no-op without a switch */
	test_assert(privdrop_chown_data(&c, &pd, &err) == 0);
	free(want);
	free(fix);
	config_free(&c);
	privdrop_clear(&pd);
	free(tls);
	free(db);
	free(wal);
	test_rmtree(dir);
	test_end();
}

/* In a child: switch, then report the proofs through the exit code. */
static int child_apply(const struct privdrop *pd)
{
	char *err = NULL;
	if (privdrop_apply(pd, &err) < 0) {
		printf("  apply: %s\n", err);
		return 10;
	}
	uid_t r, e, s;
	if (getresuid(&r, &e, &s) < 0 || r != pd->uid || e != pd->uid || s != pd->uid)
		return 11;
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0)
		return 12;
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		return 13;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return 14;
	gid_t groups[64];
	int n = getgroups(64, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == 0)
			return 15;
	return 0;
}

static void *idle_thread(void *arg)
{
	pause();
	return arg;
}

static void test_apply(void)
{
	test_begin("privdrop: the switch, proven, in a child (as root)");
	struct passwd *nobody = getpwnam("nobody");
	if (geteuid() != 0 || nobody == NULL || nobody->pw_gid == 0) {
		test_end(); /* needs root and an account to switch to */
		return;
	}
	struct privdrop pd = {.drop = true,
			      .check = true,
			      .uid = nobody->pw_uid,
			      .gid = nobody->pw_gid,
			      .name = xstrdup("nobody"),
			      .group = xstrdup("nogroup")};
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(child_apply(&pd));
	int st = 0;
	test_assert(pid > 0 && waitpid(pid, &st, 0) == pid);
	test_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
		printf("  child exit %d\n", WEXITSTATUS(st));

	/* a second thread: the switch refuses (a panic, not a half switch) */
	pid = fork();
	if (pid == 0) {
		pthread_t t;
		if (pthread_create(&t, NULL, idle_thread, NULL) != 0)
			_exit(20);
		signal(SIGABRT, SIG_DFL);
		char *err = NULL;
		(void)!freopen("/dev/null", "w", stderr);
		_exit(privdrop_apply(&pd, &err) == 0 ? 21 : 22);
	}
	test_assert(pid > 0 && waitpid(pid, &st, 0) == pid);
	test_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	privdrop_clear(&pd);
	test_end();
}

/* How many of CapInh, CapPrm, CapEff and CapAmb in /proc/self/status (as an
   admin reads them) are empty; -1 if it cannot be read. */
static int caps_empty_sets(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	int zero = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "CapInh:", 7) == 0 || strncmp(line, "CapPrm:", 7) == 0 ||
		    strncmp(line, "CapEff:", 7) == 0 || strncmp(line, "CapAmb:", 7) == 0)
			zero += strtoull(line + 7, NULL, 16) == 0;
	fclose(f);
	return zero;
}

/* In a child: drop what the process holds, then report through the exit
   code whether anything is left. */
static int child_caps_clear(void)
{
	char *held = NULL, *err = NULL;
	bool expect_held = caps_empty_sets() != 4;

	if (privdrop_caps_clear(&held, &err) < 0) {
		printf("  caps_clear: %s\n", err);
		return 30;
	}
	if ((held != NULL) != expect_held)
		return 31;
	if (held != NULL && strncmp(held, "permitted=0x", 12) != 0)
		return 32;
	free(held);
	if (caps_empty_sets() != 4)
		return 34;
	/* a second call finds nothing to drop */
	if (privdrop_caps_clear(&held, &err) < 0 || held != NULL)
		return 35;
	return 0;
}

static void test_caps_clear(void)
{
	test_begin("privdrop: every capability dropped and none left, in a child");
	fflush(stdout);
	/* root holds them all, a unit's account one (ambient), others none:
	   each must end with none */
	pid_t pid = fork();
	if (pid == 0)
		_exit(child_caps_clear());
	int st = 0;
	test_assert(pid > 0 && waitpid(pid, &st, 0) == pid);
	test_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
		printf("  child exit %d\n", WEXITSTATUS(st));
	test_end();
}

int main(void)
{
	return test_run(
	    (void (*[])(void)){test_plan, test_check_owner, test_apply, test_caps_clear, NULL});
}
