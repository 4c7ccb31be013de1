/* SPDX-License-Identifier: MIT */
/*
 * privdrop.c - [server] user: the plan, the ownership checks, the switch
 * (see privdrop.h).
 *
 * The switch, in the order that leaves no way back: PR_SET_KEEPCAPS off (so
 * setuid() clears every capability), initgroups() (supplementary groups of
 * the account, never root's), setresgid(), setresuid() with all three ids,
 * then proofs: the ids read back, setuid(0)/setgid(0)/seteuid(0) fail, capget()
 * shows no capability left. glibc's setxid changes every thread, but we insist
 * on one thread so that no thread ever ran as root with a session in hand.
 *
 * Dumpable: the kernel clears the dumpable flag when the ids change (unless
 * fs.suid_dumpable says otherwise), and we set it to 0 ourselves so the rule
 * does not depend on a sysctl: no core file with passwords or the TLS key,
 * and other processes of the same user (a CLI run, a compromised helper)
 * cannot ptrace the server. PR_SET_NO_NEW_PRIVS is set too: nothing mailroom
 * might ever exec can gain privileges back through a set-uid file.
 */
#include "server/privdrop.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PRIVDROP_PW_BUF 16384

/* "FILE:LINE: " of [server] user, "FILE: " without the key, or the
   built-in defaults. */
static char *where(const struct config *cfg)
{
	if (cfg->file == NULL)
		return xstrdup("built-in defaults: ");
	if (cfg->user_line != 0)
		return xasprintf("%s:%u: ", cfg->file, cfg->user_line);
	return xasprintf("%s: ", cfg->file);
}

static char *name_of_uid(uid_t uid)
{
	struct passwd pw, *res = NULL;
	char buf[PRIVDROP_PW_BUF];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res != NULL)
		return xstrdup(res->pw_name);
	return xasprintf("uid %u", (unsigned)uid);
}

static char *name_of_gid(gid_t gid)
{
	struct group gr, *res = NULL;
	char buf[PRIVDROP_PW_BUF];

	if (getgrgid_r(gid, &gr, buf, sizeof(buf), &res) == 0 && res != NULL)
		return xstrdup(res->gr_name);
	return xasprintf("%u", (unsigned)gid);
}

void privdrop_clear(struct privdrop *pd)
{
	free(pd->name);
	free(pd->group);
	memset(pd, 0, sizeof(*pd));
}

int privdrop_plan(const struct config *cfg, bool serve, struct privdrop *pd, char **err_r)
{
	struct passwd pw, *res = NULL;
	char buf[PRIVDROP_PW_BUF];
	uid_t me = geteuid();

	memset(pd, 0, sizeof(*pd));
	if (cfg->user == NULL) {
		if (me == 0 && serve) {
			char *w = where(cfg);
			*err_r = xasprintf(
			    "%s[server] user is not set: started as root, mailroom will not "
			    "serve the network as root; set [server] user to an unprivileged "
			    "account that owns the data dir (docs/admin.md, Privileges)",
			    w);
			free(w);
			return -1;
		}
		pd->check = me != 0; /* root stays root: root may own anything */
		pd->uid = me;
		pd->gid = getegid();
		pd->name = name_of_uid(me);
		pd->group = name_of_gid(pd->gid);
		return 0;
	}
	int e = getpwnam_r(cfg->user, &pw, buf, sizeof(buf), &res);
	if (res == NULL) {
		char *w = where(cfg);
		if (e != 0 && e != ENOENT && e != ESRCH)
			*err_r = xasprintf("%s[server] user '%s': cannot look it up: %s", w,
					   cfg->user, strerror(e));
		else
			*err_r = xasprintf(
			    "%s[server] user '%s': no such account; create it with: useradd "
			    "--system --user-group --home-dir %s --shell /usr/sbin/nologin %s",
			    w, cfg->user, cfg->data_dir, cfg->user);
		free(w);
		return -1;
	}
	if (res->pw_uid == 0 || res->pw_gid == 0) {
		char *w = where(cfg);
		*err_r = xasprintf("%s[server] user '%s' has %s 0 (root): name an unprivileged "
				   "account",
				   w, cfg->user, res->pw_uid == 0 ? "uid" : "primary group");
		free(w);
		return -1;
	}
	if (me != 0 && res->pw_uid != me) {
		char *w = where(cfg), *self = name_of_uid(me);
		*err_r = xasprintf("%s[server] user is '%s' (uid %u), but mailroom was started as "
				   "'%s' (uid %u): start it as root (it then runs as %s) or as %s",
				   w, cfg->user, (unsigned)res->pw_uid, self, (unsigned)me,
				   cfg->user, cfg->user);
		free(w);
		free(self);
		return -1;
	}
	pd->drop = me == 0;
	pd->check = true;
	pd->uid = res->pw_uid;
	pd->gid = res->pw_gid;
	pd->name = xstrdup(res->pw_name);
	pd->group = name_of_gid(pd->gid);
	return 0;
}

/* Is `path` inside `dir` (or dir itself)? Both are absolute (config.h). */
static bool path_inside(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* The paths privdrop.h names, absolute, NULL-terminated; the caller frees
   each and the array. */
static char **owned_paths(const struct config *cfg)
{
	/* the store's files, and the SRS secret (delivery/srs.h) */
	static const char *const store_files[] = {"mailroom.db", "mailroom.db-wal",
						  "mailroom.db-shm", "srs.key"};
	char **v = xcalloc(N_ELEMENTS(store_files) + 6, sizeof(char *));
	size_t n = 0;

	v[n++] = xstrdup(cfg->data_dir);
	for (size_t i = 0; i < N_ELEMENTS(store_files); i++)
		v[n++] = xasprintf("%s/%s", cfg->data_dir, store_files[i]);
	const char *tls[] = {cfg->tls_cert, cfg->tls_key};
	for (size_t i = 0; i < N_ELEMENTS(tls); i++) {
		if (!path_inside(tls[i], cfg->data_dir))
			continue;
		/* the folder holding it, when that is below the data dir */
		char *dir = xstrdup(tls[i]);
		*strrchr(dir, '/') = '\0';
		bool dup = !path_inside(dir, cfg->data_dir) || strcmp(dir, cfg->data_dir) == 0;
		for (size_t k = 0; k < n && !dup; k++)
			dup = strcmp(v[k], dir) == 0;
		if (dup)
			free(dir);
		else
			v[n++] = dir;
		v[n++] = xstrdup(tls[i]);
	}
	return v;
}

static void paths_free(char **v)
{
	for (size_t i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

int privdrop_check_owner(const struct config *cfg, const struct privdrop *pd, char **err_r)
{
	char **paths = owned_paths(cfg);
	int ret = 0;

	if (!pd->check) {
		paths_free(paths);
		return 0;
	}
	for (size_t i = 0; paths[i] != NULL && ret == 0; i++) {
		struct stat st;
		/* the data dir may be a symbolic link an admin made; below it, none
		   is followed */
		int r = i == 0 ? stat(paths[i], &st) : lstat(paths[i], &st);
		if (r < 0) {
			if (errno == ENOENT)
				continue; /* not made yet: whoever makes it owns it */
			*err_r =
			    xasprintf("data dir: cannot check %s: %s", paths[i], strerror(errno));
			ret = -1;
		} else if (st.st_uid != pd->uid) {
			char *owner = name_of_uid(st.st_uid);
			*err_r =
			    xasprintf("data dir: %s is owned by %s (uid %u), but mailroom runs "
				      "as %s (uid %u); run: chown -R %s:%s %s",
				      paths[i], owner, (unsigned)st.st_uid, pd->name,
				      (unsigned)pd->uid, pd->name, pd->group, cfg->data_dir);
			free(owner);
			ret = -1;
		}
	}
	paths_free(paths);
	return ret;
}

int privdrop_chown_data(const struct config *cfg, const struct privdrop *pd, char **err_r)
{
	if (!pd->drop)
		return 0;
	if (mkdir(cfg->data_dir, 0700) < 0 && errno != EEXIST) {
		*err_r = xasprintf("cannot create %s: %s", cfg->data_dir, strerror(errno));
		return -1;
	}
	char **paths = owned_paths(cfg);
	int ret = 0;
	for (size_t i = 0; paths[i] != NULL && ret == 0; i++) {
		/* the data dir itself is root's to name; below it the user may
		   have planted links, so none is followed */
		int r = i == 0
			    ? chown(paths[i], pd->uid, pd->gid)
			    : fchownat(AT_FDCWD, paths[i], pd->uid, pd->gid, AT_SYMLINK_NOFOLLOW);
		if (r < 0 && errno != ENOENT) {
			*err_r = xasprintf("cannot give %s to %s: %s", paths[i], pd->name,
					   strerror(errno));
			ret = -1;
		}
	}
	paths_free(paths);
	return ret;
}

/* The "Threads:" line of /proc/self/status, or 0 if it cannot be read. */
static unsigned thread_count(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Threads: %u", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* The three capability sets of this process, as 64-bit masks. */
struct capsets {
	uint64_t permitted, effective, inheritable;
};

static int caps_get(struct capsets *cs)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -1;
	cs->permitted = data[0].permitted | (uint64_t)data[1].permitted << 32;
	cs->effective = data[0].effective | (uint64_t)data[1].effective << 32;
	cs->inheritable = data[0].inheritable | (uint64_t)data[1].inheritable << 32;
	return 0;
}

/* The ambient set: PR_CAP_AMBIENT_IS_SET for each capability the kernel
   knows (it answers EINVAL past the last one). */
static uint64_t caps_ambient(void)
{
	uint64_t mask = 0;

	for (unsigned c = 0; c < 64; c++) {
		int r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0);
		if (r < 0)
			break;
		if (r == 1)
			mask |= (uint64_t)1 << c;
	}
	return mask;
}

/* True if any capability is left in the permitted or effective set. */
static bool caps_left(void)
{
	struct capsets cs;

	return caps_get(&cs) < 0 || cs.permitted != 0 || cs.effective != 0;
}

int privdrop_caps_clear(char **held_r, char **err_r)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3];
	struct capsets cs;
	uint64_t ambient = caps_ambient();

	*held_r = NULL;
	/* capabilities belong to a thread: threads started later inherit
	   the empty sets, threads started before would keep theirs */
	unsigned threads = thread_count();
	if (threads > 1)
		log_panic("privdrop: %u threads exist; capabilities must be dropped first",
			  threads);
	if (caps_get(&cs) < 0) {
		*err_r = xasprintf("capabilities: capget: %s", strerror(errno));
		return -1;
	}
	if (cs.permitted == 0 && cs.effective == 0 && cs.inheritable == 0 && ambient == 0)
		return 0;
	memset(none, 0, sizeof(none));
	/* ambient first: the kernel keeps it only within permitted and
	   inheritable, but an explicit clear does not depend on that */
	if ((ambient != 0 && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) ||
	    syscall(SYS_capset, &hdr, none) < 0) {
		*err_r = xasprintf("capabilities: cannot drop them: %s", strerror(errno));
		return -1;
	}
	struct capsets after;
	if (caps_get(&after) < 0 || after.permitted != 0 || after.effective != 0 ||
	    after.inheritable != 0 || caps_ambient() != 0) {
		*err_r = xasprintf("capabilities: some are still held after dropping them");
		return -1;
	}
	*held_r = xasprintf("permitted=0x%llx effective=0x%llx inheritable=0x%llx ambient=0x%llx",
			    (unsigned long long)cs.permitted, (unsigned long long)cs.effective,
			    (unsigned long long)cs.inheritable, (unsigned long long)ambient);
	return 0;
}

static int verify(const struct privdrop *pd, char **err_r)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	const char *why = NULL;

	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		why = "cannot read the ids back";
	else if (ru != pd->uid || eu != pd->uid || su != pd->uid)
		why = "a user id is not the account's";
	else if (rg != pd->gid || eg != pd->gid || sg != pd->gid)
		why = "a group id is not the account's";
	else if (setuid(0) == 0 || seteuid(0) == 0)
		why = "setuid(0) still succeeds";
	else if (setgid(0) == 0)
		why = "setgid(0) still succeeds";
	else if (caps_left())
		why = "capabilities are left (securebits of a parent?)";
	if (why == NULL)
		return 0;
	*err_r = xasprintf("switching to %s (uid %u) failed: %s", pd->name, (unsigned)pd->uid, why);
	return -1;
}

int privdrop_apply(const struct privdrop *pd, char **err_r)
{
	if (!pd->drop)
		return 0;
	unsigned threads = thread_count(); /* 0: no /proc to tell */
	if (threads > 1)
		log_panic("privdrop: %u threads exist; the switch must come first", threads);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0 || initgroups(pd->name, pd->gid) < 0 ||
	    setresgid(pd->gid, pd->gid, pd->gid) < 0 || setresuid(pd->uid, pd->uid, pd->uid) < 0) {
		*err_r = xasprintf("cannot switch to %s (uid %u, gid %u): %s", pd->name,
				   (unsigned)pd->uid, (unsigned)pd->gid, strerror(errno));
		return -1;
	}
	if (verify(pd, err_r) < 0)
		return -1;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		*err_r = xasprintf("prctl after the switch to %s: %s", pd->name, strerror(errno));
		return -1;
	}
	return 0;
}

int privdrop_check_reach(const char *dir, const struct privdrop *pd, char **err_r)
{
	if (!pd->check || access(dir, X_OK) == 0 || errno != EACCES)
		return 0; /* a missing dir gets its own message from the store */
	/* find the first folder on the way that the user cannot search */
	char *prefix = xstrdup(dir);
	for (char *p = prefix + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (access(prefix, X_OK) < 0) {
			struct stat st = {0};
			char *owner =
			    stat(prefix, &st) == 0 ? name_of_uid(st.st_uid) : xstrdup("?");
			*err_r =
			    xasprintf("%s (uid %u) cannot reach the data dir %s: %s (mode %04o, "
				      "owner %s) is not searchable by it; move the data dir "
				      "or allow it (chmod o+x %s)",
				      pd->name, (unsigned)pd->uid, dir, prefix,
				      (unsigned)(st.st_mode & 07777), owner, prefix);
			free(owner);
			free(prefix);
			return -1;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	free(prefix);
	return 0;
}

int privdrop_cli(const struct config *cfg, bool serve_rule)
{
	struct privdrop pd;
	char *err = NULL;
	int ret = 0;

	if (privdrop_plan(cfg, serve_rule, &pd, &err) < 0 ||
	    privdrop_check_owner(cfg, &pd, &err) < 0 || privdrop_apply(&pd, &err) < 0 ||
	    privdrop_check_reach(cfg->data_dir, &pd, &err) < 0) {
		fprintf(stderr, "mailroom: %s\n", err);
		free(err);
		ret = 1;
	}
	privdrop_clear(&pd);
	return ret;
}
