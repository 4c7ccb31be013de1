/* SPDX-License-Identifier: MIT */
/*
 * test_directory.c - one table of logins through directory.h, run against
 * the built-in backend and against a passwd-file backend: the same seam
 * must give the same answers. Then what only a passwd-file does: re-read on
 * change without a restart, a broken file that keeps the last good copy, a
 * chain with the built-in backend first, SCRAM from a Dovecot hash, and the
 * auth cache.
 */
#include "directory/directory.h"
#include "server/schema.h"
#include "directory/password.h"
#include "store/store.h"
#include "test_common.h"
#include "util/config.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "pencil", as doveadm pw writes it */
#define SHA512_PENCIL                                                                              \
	"{SHA512-CRYPT}$6$qF.3DVZydkJVISRv$GMeCZ/FzHf/fAXnaYjWY0Mp8zZ6jrv.ybS8NDDVhbCK0ceI2LQ."    \
	"rwmXTV58zjXUK.bUDNz.APpLTE6k8h141B0"
#define SCRAM_PENCIL                                                                               \
	"{SCRAM-SHA-256}4096,tTAulBhpjUmFydnrOYSeyA==,SIZpK61coFb34PtIyvvGwEcLVC3VPEr/"            \
	"2wzRgDDNNPY=,"                                                                            \
	"C5XvIMLbtNA5jnUU5HVyUdbAp9Ny8x3PmLY/Ibs0Pzg="

static const struct {
	const char *login, *password;
	enum auth_result builtin, pwfile; /* the same but where noted */
	bool enabled;
} logins[] = {
    {"alice@example.test", "pencil", AUTH_OK, AUTH_OK, true},
    {"ALICE@Example.TEST", "pencil", AUTH_OK, AUTH_OK, true},
    {"alice@example.test", "Pencil", AUTH_FAILED, AUTH_FAILED, false},
    {"alice@example.test", "pencil ", AUTH_FAILED, AUTH_FAILED, false},
    {"alice@example.test", "", AUTH_FAILED, AUTH_FAILED, false},
    {"nobody@example.test", "pencil", AUTH_FAILED, AUTH_FAILED, false},
    {"alice@other.test", "pencil", AUTH_FAILED, AUTH_FAILED, false},
    {"", "pencil", AUTH_FAILED, AUTH_FAILED, false},
    {"not an address", "pencil", AUTH_FAILED, AUTH_FAILED, false},
    /* a disabled account proves its password; the caller refuses it */
    {"off@example.test", "pencil", AUTH_OK, AUTH_OK, false},
    {"off@example.test", "wrong", AUTH_FAILED, AUTH_FAILED, false},
    {"scram@example.test", "pencil", AUTH_OK, AUTH_OK, true},
    /* [passwd-file] domain makes a bare name an address */
    {"alice", "pencil", AUTH_FAILED, AUTH_OK, true},
};

static void write_text(const char *path, const char *text)
{
	char tmp[600];
	FILE *f;

	/* rename(2) like an editor: the inode changes, never a half file */
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	test_assert(f != NULL);
	if (f == NULL)
		return;
	fputs(text, f);
	fclose(f);
	test_assert(rename(tmp, path) == 0);
}

static const char USERS[] = "# Dovecot passwd-file\n"
			    "alice:" SHA512_PENCIL ":1000:1000::/home/alice::\n"
			    "off@example.test:{PLAIN}pencil:::::: nologin\n"
			    "scram:" SCRAM_PENCIL "\n";

static struct directory *pwfile_directory(const char *dir, const char *chain, char **path_r)
{
	char ini[1200];

	*path_r = xasprintf("%s/users.passwd", dir);
	write_text(*path_r, USERS);
	snprintf(ini, sizeof(ini),
		 "[directory]\nbackend = %s\n[passwd-file]\npath = %s\ndomain = example.test\n",
		 chain, *path_r);
	return test_directory(ini);
}

static void builtin_accounts(struct store *st)
{
	char *h = NULL, *v = NULL;

	test_assert(password_hash("pencil", &h) == 0);
	test_assert(scram_verifier_make("pencil", 4096, &v) == 0);
	struct store_user_new a = {.address = "alice@example.test", .pw_hash = h, .scram = v};
	struct store_user_new o = {.address = "off@example.test", .pw_hash = h};
	struct store_user_new s = {.address = "scram@example.test", .pw_hash = h, .scram = v};
	test_assert(store_user_add(st, &a) == STORE_OK);
	test_assert(store_user_add(st, &o) == STORE_OK);
	test_assert(store_user_add(st, &s) == STORE_OK);
	test_assert(store_user_set_enabled(st, "off@example.test", false) == STORE_OK);
	free(h);
	free(v);
}

/* The table through one directory; `pwfile` picks the expectation. */
static void run_logins(struct directory *d, struct store *st, bool pwfile)
{
	for (size_t i = 0; i < N_ELEMENTS(logins); i++) {
		struct auth_identity id;
		enum auth_result want = pwfile ? logins[i].pwfile : logins[i].builtin;
		enum auth_result got =
		    directory_password(d, st, logins[i].login, logins[i].password, &id);
		if (got != want)
			fprintf(stderr, "  %s: login %zu \"%s\": %d, not %d\n",
				pwfile ? "passwd-file" : "builtin", i, logins[i].login, got, want);
		test_assert(got == want);
		if (got == AUTH_OK) {
			test_assert(id.enabled == logins[i].enabled);
			test_assert(id.mailbox_id > 0);
			test_assert(strchr(id.address, '@') != NULL);
			test_assert(strcmp(id.address, "alice@example.test") == 0 ||
				    strcmp(id.address, "off@example.test") == 0 ||
				    strcmp(id.address, "scram@example.test") == 0);
		}
	}
}

/* Logins, recipients and SCRAM: the same answers from both backends. */
static void check_seam(struct directory *d, struct store *st, bool pwfile)
{
	struct auth_identity id;
	struct dir_rcpt r;
	char *v = NULL;

	run_logins(d, st, pwfile);
	test_assert(directory_password(d, st, "alice@example.test", "pencil", &id) == AUTH_OK);
	int64_t alice = id.mailbox_id;
	/* mail to the account lands in the mailbox its login opens */
	test_assert(directory_resolve(d, st, "Alice@example.test", &r) == STORE_OK);
	test_assert(r.n_ids == 1 && r.ids[0] == alice);
	dir_rcpt_clear(&r);
	test_assert(directory_resolve(d, st, "nobody@example.test", &r) == STORE_NOTFOUND);
	test_assert(directory_identity(d, st, "alice@example.test", &id) == AUTH_OK &&
		    id.mailbox_id == alice);
	test_assert(directory_scram(d, st, "scram@example.test", &v, &id) == AUTH_OK);
	test_assert(v != NULL && strncmp(v, "SCRAM-SHA-256$4096:", 19) == 0);
	secret_free(&v);
	test_assert(directory_scram(d, st, "nobody@example.test", &v, &id) == AUTH_FAILED);
	/* a passwd-file alone does not advertise SCRAM (most of its hashes
	   cannot serve it), though its {SCRAM-SHA-256} lines can */
	test_assert(directory_offers(d, DIRECTORY_SCRAM) == !pwfile);
}

static void test_same_seam(void)
{
	char *dir = NULL, *path = NULL;
	struct store *st = test_store_new(&dir);
	struct directory *d;

	test_begin("directory: one table of logins, builtin and passwd-file alike");
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	builtin_accounts(st);
	d = test_directory("");
	check_seam(d, st, false);
	directory_free(&d);
	store_close(&st);
	test_rmtree(dir);

	st = test_store_new(&dir);
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	d = pwfile_directory(dir, "passwd-file", &path);
	test_assert_str(directory_describe(d), "passwd-file");
	check_seam(d, st, true);
	/* the mailbox made on first use is kept: the same id next time */
	struct auth_identity a, b;
	test_assert(directory_password(d, st, "alice", "pencil", &a) == AUTH_OK);
	test_assert(directory_password(d, st, "ALICE@EXAMPLE.TEST", "pencil", &b) == AUTH_OK);
	test_assert(a.mailbox_id == b.mailbox_id);
	directory_free(&d);
	free(path);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* New text for the file (NULL: removed), then past the once-a-second look. */
static void change(const char *path, const char *text)
{
	if (text != NULL)
		write_text(path, text);
	else
		unlink(path);
	usleep(1100 * 1000);
}

static void test_reread(void)
{
	char *dir = NULL, *path = NULL;
	struct store *st = test_store_new(&dir);
	struct directory *d;
	struct auth_identity id;

	test_begin("directory: a passwd-file is read again when it changes");
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	d = pwfile_directory(dir, "passwd-file", &path);
	test_assert(directory_password(d, st, "bob", "pen", &id) == AUTH_FAILED);
	change(path, "alice:{PLAIN}new\nbob:{PLAIN}pen\n");
	test_assert(directory_password(d, st, "bob", "pen", &id) == AUTH_OK);
	test_assert(directory_password(d, st, "alice", "pencil", &id) == AUTH_FAILED);
	test_assert(directory_password(d, st, "alice", "new", &id) == AUTH_OK);
	test_assert(directory_password(d, st, "scram", "pencil", &id) == AUTH_FAILED);

	/* a broken file: the last good copy stays */
	change(path, "alice:{PLAIN}newer\nbad line\n");
	test_assert(directory_password(d, st, "bob", "pen", &id) == AUTH_OK);
	test_assert(directory_password(d, st, "alice", "newer", &id) == AUTH_FAILED);
	/* gone altogether: still the last good copy */
	change(path, NULL);
	test_assert(directory_password(d, st, "bob", "pen", &id) == AUTH_OK);
	/* fixed: read again */
	change(path, "alice:{PLAIN}newer\n");
	test_assert(directory_password(d, st, "alice", "newer", &id) == AUTH_OK);
	test_assert(directory_password(d, st, "bob", "pen", &id) == AUTH_FAILED);
	struct dir_rcpt r;
	test_assert(directory_resolve(d, st, "bob@example.test", &r) == STORE_NOTFOUND);
	directory_free(&d);
	free(path);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_chain_and_cache(void)
{
	char *dir = NULL, *path = NULL, *h = NULL, *err = NULL;
	struct store *st = test_store_new(&dir);
	struct directory *d;
	struct auth_identity id;

	test_begin("directory: builtin, passwd-file: the first that knows decides; the cache");
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(password_hash("builtin-pw", &h) == 0);
	struct store_user_new u = {.address = "alice@example.test", .pw_hash = h};
	test_assert(store_user_add(st, &u) == STORE_OK);
	u.address = "admin@example.test";
	test_assert(store_user_add(st, &u) == STORE_OK);
	d = pwfile_directory(dir, "builtin, passwd-file", &path);
	test_assert_str(directory_describe(d), "builtin, passwd-file");
	/* alice is the built-in account's: the file's password is not hers */
	test_assert(directory_password(d, st, "alice@example.test", "builtin-pw", &id) == AUTH_OK);
	test_assert(directory_password(d, st, "alice@example.test", "pencil", &id) == AUTH_FAILED);
	test_assert(directory_password(d, st, "admin@example.test", "builtin-pw", &id) == AUTH_OK);
	test_assert(directory_password(d, st, "scram@example.test", "pencil", &id) == AUTH_OK);
	int64_t scram = id.mailbox_id;
	struct dir_rcpt r;
	test_assert(directory_resolve(d, st, "scram@example.test", &r) == STORE_OK);
	test_assert(r.n_ids == 1 && r.ids[0] == scram);
	dir_rcpt_clear(&r);

	unsigned long hits = directory_cache_hits(d);
	test_assert(directory_password(d, st, "scram@example.test", "pencil", &id) == AUTH_OK);
	test_assert(directory_cache_hits(d) == hits + 1);
	test_assert(directory_password(d, st, "scram@example.test", "wrong", &id) == AUTH_FAILED);
	directory_free(&d);

	/* a chain naming passwd-file needs its path, and a file that parses */
	struct config cfg;
	struct directory *none = NULL;
	static const char nopath[] = "[directory]\nbackend = passwd-file\n";
	test_assert(config_parse(server_schema(), "t.conf", nopath, strlen(nopath), &cfg, &err) ==
		    0);
	test_assert(directory_open(&cfg, &none, &err) < 0 && none == NULL);
	test_assert(err != NULL && strstr(err, "[passwd-file] path is not set") != NULL);
	free(err);
	config_free(&cfg);
	write_text(path, "ok:{PLAIN}x\nbare\n");
	char ini[1200];
	snprintf(ini, sizeof(ini), "[directory]\nbackend = passwd-file\n[passwd-file]\npath = %s\n",
		 path);
	test_assert(config_parse(server_schema(), "t.conf", ini, strlen(ini), &cfg, &err) == 0);
	test_assert(directory_open(&cfg, &none, &err) < 0 && none == NULL);
	test_assert(err != NULL && strstr(err, "users.passwd:1: a bare user name") != NULL);
	free(err);
	config_free(&cfg);

	free(h);
	free(path);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

int main(void)
{
	return test_run(
	    (void (*[])(void)){test_same_seam, test_reread, test_chain_and_cache, NULL});
}
