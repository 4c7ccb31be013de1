/* SPDX-License-Identifier: MIT */
/*
 * test_store_folder.c - store/store.h "folders, flags and changes", through
 * the public API alone: the default folders, names, create, delete, rename
 * (children, INBOX), subscriptions; flags and keywords with CONDSTORE's
 * unchangedsince; modseqs (S9); expunge by \Deleted and by UID; changes
 * since a modseq with VANISHED, records pruned (S9); copy and move with
 * COPYUID, the quota on copies (S10), one body (S2); append; UIDs from the
 * mailbox's one counter and UIDVALIDITY (S8); the POP3 view of INBOX; the
 * MIME cache of a body; and a failed commit of every writing call leaving
 * nothing behind (S7).
 */
#include "mime/mime_tree.h"
#include "store/store.h"
#include "test_common.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- helpers -------------------------------------------------------------- */

static struct store *setup(char **dir_r, int64_t *mb_r, uint64_t quota)
{
	struct store *st = test_store_new(dir_r);
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(test_add_user(st, "a@example.test", quota) == STORE_OK);
	*mb_r = test_mailbox_id(st, "a@example.test");
	return st;
}

static struct store_folder folder(struct store *st, int64_t mb, const char *name)
{
	struct store_folder f;
	int r = store_folder_get(st, mb, name, &f);
	if (r != STORE_OK)
		fprintf(stderr, "folder %s: %d %s\n", name, r, store_error(st));
	test_assert(r == STORE_OK);
	return f;
}

static int64_t folder_id(struct store *st, int64_t mb, const char *name)
{
	struct store_folder f;
	int64_t id = -1;
	if (store_folder_get(st, mb, name, &f) == STORE_OK)
		id = f.id;
	store_folder_clear(&f);
	return id;
}

static uint64_t highest(struct store *st, int64_t mb, const char *name)
{
	struct store_folder f = folder(st, mb, name);
	uint64_t h = f.highestmodseq;
	store_folder_clear(&f);
	return h;
}

static uint32_t append(struct store *st, int64_t fid, const char *text, unsigned flags,
		       const char *keywords)
{
	uint32_t uid = 0;
	int r = store_folder_append(st, fid, text, strlen(text), flags, keywords, 0, &uid);
	if (r != STORE_OK)
		fprintf(stderr, "append: %d %s\n", r, store_error(st));
	test_assert(r == STORE_OK && uid > 0);
	return uid;
}

static void deliver(struct store *st, int64_t mb, const char *text)
{
	int res = -1;
	test_assert(store_deliver(st, &mb, 1, text, strlen(text), NULL, &res) == STORE_OK);
	test_assert(res == STORE_OK);
}

static size_t load(struct store *st, int64_t fid, struct store_imsg **m_r)
{
	size_t n = 0;
	*m_r = NULL;
	test_assert(store_folder_load(st, fid, m_r, &n) == STORE_OK);
	return n;
}

static size_t pop3_load(struct store *st, int64_t mb, struct store_msg **m_r)
{
	size_t n = 0;
	*m_r = NULL;
	test_assert(store_mailbox_load(st, mb, m_r, &n) == STORE_OK);
	return n;
}

static void problem_cb(const char *p, void *ctx)
{
	fprintf(stderr, "verify: %s\n", p);
	(*(int *)ctx)++;
}

static bool verify_ok(struct store *st)
{
	int n = 0;
	return store_verify(st, NULL, problem_cb, &n, NULL) == STORE_OK && n == 0;
}

static struct store_user user(struct store *st)
{
	struct store_user u;
	memset(&u, 0, sizeof(u));
	test_assert(store_user_lookup(st, "a@example.test", &u) == STORE_OK);
	return u;
}

/* Everything a mailbox's folders hold, as text: the state a failed call
   must leave as it was. */
static char *snapshot(struct store *st, int64_t mb)
{
	struct store_folder *f = NULL;
	struct buf b = {0};
	size_t n = 0;

	test_assert(store_folder_list(st, mb, &f, &n) == STORE_OK);
	for (size_t i = 0; i < n; i++) {
		buf_printf(&b, "%s s%d sub%d uv%u next%u hms%llu kw[%s] n%u u%u d%u z%llu\n",
			   f[i].name, (int)f[i].special, f[i].subscribed, f[i].uidvalidity,
			   f[i].uidnext, (unsigned long long)f[i].highestmodseq, f[i].keywords,
			   f[i].messages, f[i].unseen, f[i].deleted, (unsigned long long)f[i].size);
		struct store_imsg *m;
		size_t k = load(st, f[i].id, &m);
		for (size_t j = 0; j < k; j++) {
			struct buf mime = {0};
			int mr = store_body_mime_get(st, m[j].body_id, &mime);
			buf_printf(&b, " %u f%u kw[%s] ms%llu b%lld r%lld mime%d:%zu\n", m[j].uid,
				   m[j].flags, m[j].keywords != NULL ? m[j].keywords : "",
				   (unsigned long long)m[j].modseq, (long long)m[j].body_id,
				   (long long)m[j].received, mr, mime.len);
			buf_free(&mime);
		}
		store_imsgs_free(m, k);
		uint32_t *v = NULL;
		struct store_imsg *c = NULL;
		size_t nc = 0, nv = 0;
		uint64_t h = 0;
		bool all = false;
		test_assert(store_folder_changes(st, f[i].id, 0, &c, &nc, &v, &nv, &h, &all) ==
			    STORE_OK);
		buf_printf(&b, " vanished %zu all%d\n", nv, all);
		store_imsgs_free(c, nc);
		free(v);
	}
	store_folders_free(f, n);
	struct store_user u = user(st);
	buf_printf(&b, "used %llu messages %lld\n", (unsigned long long)u.used,
		   (long long)u.messages);
	store_user_clear(&u);
	struct store_msg *pm;
	size_t np = pop3_load(st, mb, &pm);
	for (size_t i = 0; i < np; i++)
		buf_printf(&b, "pop3 %s\n", pm[i].uidl);
	free(pm);
	buf_append_c(&b, '\0');
	return (char *)b.data;
}

static const char M1[] = "Subject: one\r\n\r\nfirst\r\n";
static const char M2[] = "Subject: two\r\n\r\nsecond message\r\n";
static const char M3[] = "Subject: three\r\n\r\nthird\r\n";

/* --- the default folders ----------------------------------------------------- */

static void test_defaults(void)
{
	char *dir;
	int64_t mb;
	struct store *st = setup(&dir, &mb, 0);
	struct store_folder *f = NULL;
	size_t n = 0;
	static const char *const names[] = {"INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"};
	static const enum store_special uses[] = {STORE_SPECIAL_NONE,	STORE_SPECIAL_ARCHIVE,
						  STORE_SPECIAL_DRAFTS, STORE_SPECIAL_JUNK,
						  STORE_SPECIAL_SENT,	STORE_SPECIAL_TRASH};

	test_begin("folders: a new mailbox has INBOX first and the five special-use folders");
	test_assert(store_folder_list(st, mb, &f, &n) == STORE_OK && n == 6);
	for (size_t i = 0; i < n && i < 6; i++) {
		test_assert_str(f[i].name, names[i]);
		test_assert(f[i].special == uses[i]);
		test_assert(f[i].subscribed);
		test_assert(f[i].uidvalidity > 0 && f[i].uidnext == 1);
		test_assert(f[i].highestmodseq >= 1 && f[i].messages == 0 && f[i].size == 0);
		test_assert(f[i].keywords != NULL && f[i].keywords[0] == '\0');
	}
	int64_t inbox = 0;
	test_assert(store_inbox_id(st, mb, &inbox) == STORE_OK && n > 0 && inbox == f[0].id);
	store_folders_free(f, n);
	/* "INBOX" in any case, also as the first level of a child */
	test_assert(folder_id(st, mb, "inbox") == inbox && folder_id(st, mb, "InBoX") == inbox);
	test_assert(folder_id(st, mb, "sent") < 0); /* other names keep their case */
	struct store_folder g;
	test_assert(store_folder_get(st, mb, "nothing", &g) == STORE_NOTFOUND);
	test_assert(store_inbox_id(st, mb + 1000, &inbox) == STORE_NOTFOUND);
	/* a mailbox made for another backend's account gets them too */
	int64_t other = 0;
	test_assert(store_mailbox_ensure(st, "ldap@example.test", "ldap", &other) == STORE_OK);
	test_assert(store_folder_list(st, other, &f, &n) == STORE_OK && n == 6);
	store_folders_free(f, n);
	test_assert(store_mailbox_ensure(st, "ldap@example.test", "ldap", &other) == STORE_OK);
	test_assert(store_folder_list(st, other, &f, &n) == STORE_OK && n == 6);
	store_folders_free(f, n);
	/* and the built-in postmaster */
	struct store_user pm;
	test_assert(store_user_lookup(st, STORE_POSTMASTER, &pm) == STORE_OK);
	test_assert(store_inbox_id(st, pm.id, &inbox) == STORE_OK);
	store_user_clear(&pm);
	test_assert(verify_ok(st));
	/* a removed mailbox takes its folders along */
	test_assert(store_user_remove(st, "ldap@example.test") == STORE_OK);
	test_assert(store_folder_list(st, other, &f, &n) == STORE_NOTFOUND && n == 0);
	test_assert(verify_ok(st));
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* --- names, create, delete, rename, subscribe ------------------------------------ */

static void test_names(void)
{
	char *dir;
	int64_t mb, id = 0;
	struct store *st = setup(&dir, &mb, 0);
	char longest[STORE_FOLDER_NAME_MAX + 2];

	test_begin("folders: names are UTF-8 levels; bad ones and INBOX are refused");
	static const char *const bad[] = {"",		"/a",
					  "a/",		"a//b",
					  "INBOX",	"inbox",
					  "a\x01z",	"a\x7fz",
					  "a\xc2\x85z", "\xff",
					  "\xc0\xaf",	"\xed\xa0\x80",
					  "a\tb",	"\xf4\x90\x80\x80"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		test_assert(store_folder_create(st, mb, bad[i], STORE_SPECIAL_NONE, &id) ==
			    STORE_INVALID);
	memset(longest, 'x', sizeof(longest));
	longest[STORE_FOLDER_NAME_MAX + 1] = '\0';
	test_assert(store_folder_create(st, mb, longest, STORE_SPECIAL_NONE, &id) == STORE_INVALID);
	longest[STORE_FOLDER_NAME_MAX] = '\0';
	test_assert(store_folder_create(st, mb, longest, STORE_SPECIAL_NONE, &id) == STORE_OK);
	test_assert(store_folder_create(st, mb, "Entw\xc3\xbcrfe/\xe2\x82\xac \xf0\x9f\x93\xa7",
					STORE_SPECIAL_NONE, &id) == STORE_OK);
	test_assert(folder_id(st, mb, "Entw\xc3\xbcrfe/\xe2\x82\xac \xf0\x9f\x93\xa7") == id);
	test_assert(store_folder_create(st, mb, "Sent", STORE_SPECIAL_NONE, &id) == STORE_EXISTS);
	test_assert(store_folder_create(st, mb, "x", (enum store_special)99, &id) == STORE_INVALID);
	/* parents are not made; children of INBOX are "INBOX/..." in any case */
	test_assert(store_folder_create(st, mb, "inbox/Lists", STORE_SPECIAL_NONE, &id) ==
		    STORE_OK);
	test_assert(folder_id(st, mb, "INBOX/Lists") == id);
	test_assert(folder_id(st, mb, "Inbox/Lists") == id);
	test_assert(store_folder_create(st, mb, "INBOX/Lists", STORE_SPECIAL_NONE, &id) ==
		    STORE_EXISTS);
	test_assert(store_folder_create(st, mb, "a/b/c", STORE_SPECIAL_JUNK, &id) == STORE_OK);
	test_assert(folder_id(st, mb, "a/b") < 0 && folder_id(st, mb, "a") < 0);
	struct store_folder f = folder(st, mb, "a/b/c");
	test_assert(f.special == STORE_SPECIAL_JUNK && !f.subscribed);
	store_folder_clear(&f);
	test_assert(store_folder_create(st, mb + 1000, "x", STORE_SPECIAL_NONE, &id) ==
		    STORE_NOTFOUND);
	test_assert(verify_ok(st));
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_delete_create_again(void)
{
	char *dir;
	int64_t mb, id = 0, id2 = 0;
	struct store *st = setup(&dir, &mb, 0);

	test_begin("folders: delete expunges, children stay, made again: larger UIDVALIDITY (S8)");
	test_assert(store_folder_create(st, mb, "Lists", STORE_SPECIAL_NONE, &id) == STORE_OK);
	test_assert(store_folder_create(st, mb, "Lists/dev", STORE_SPECIAL_NONE, &id2) == STORE_OK);
	append(st, id, M1, 0, NULL);
	append(st, id, M2, STORE_FLAG_SEEN, NULL);
	append(st, id2, M3, 0, NULL);
	struct store_folder f = folder(st, mb, "Lists");
	uint32_t uv = f.uidvalidity;
	test_assert(f.messages == 2 && f.unseen == 1 && f.size == strlen(M1) + strlen(M2));
	store_folder_clear(&f);
	struct store_user u = user(st);
	test_assert(u.messages == 3 && u.used == strlen(M1) + strlen(M2) + strlen(M3));
	store_user_clear(&u);

	test_assert(store_folder_delete(st, mb, "INBOX") == STORE_INVALID);
	test_assert(store_folder_delete(st, mb, "inbox") == STORE_INVALID);
	test_assert(store_folder_delete(st, mb, "nothing") == STORE_NOTFOUND);
	test_assert(store_folder_delete(st, mb, "Lists") == STORE_OK);
	test_assert(folder_id(st, mb, "Lists") < 0 && folder_id(st, mb, "Lists/dev") == id2);
	u = user(st);
	test_assert(u.messages == 1 && u.used == strlen(M3));
	store_user_clear(&u);
	struct store_imsg *m;
	test_assert(store_folder_load(st, id, &m, &(size_t){0}) == STORE_NOTFOUND);
	/* at once, in the same second: a larger UIDVALIDITY all the same */
	int64_t again = 0;
	test_assert(store_folder_create(st, mb, "Lists", STORE_SPECIAL_NONE, &again) == STORE_OK);
	test_assert(again != id);
	f = folder(st, mb, "Lists");
	test_assert(f.uidvalidity > uv && f.messages == 0);
	store_folder_clear(&f);
	test_assert(store_folder_delete(st, mb, "Lists") == STORE_OK);
	test_assert(store_folder_create(st, mb, "Lists", STORE_SPECIAL_NONE, &again) == STORE_OK);
	f = folder(st, mb, "Lists");
	test_assert(f.uidvalidity > uv + 1);
	store_folder_clear(&f);
	/* special-use folders may go (and come back) */
	test_assert(store_folder_delete(st, mb, "Junk") == STORE_OK);
	test_assert(store_folder_create(st, mb, "Junk", STORE_SPECIAL_JUNK, &id) == STORE_OK);
	test_assert(verify_ok(st));
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_rename(void)
{
	char *dir;
	int64_t mb, a = 0, ax = 0, axy = 0, other = 0;
	struct store *st = setup(&dir, &mb, 0);

	test_begin("folders: rename takes the children along, keeps UIDVALIDITY and UIDs");
	test_assert(store_folder_create(st, mb, "a", STORE_SPECIAL_NONE, &a) == STORE_OK);
	test_assert(store_folder_create(st, mb, "a/x", STORE_SPECIAL_NONE, &ax) == STORE_OK);
	test_assert(store_folder_create(st, mb, "a/x/y", STORE_SPECIAL_NONE, &axy) == STORE_OK);
	test_assert(store_folder_create(st, mb, "ab", STORE_SPECIAL_NONE, &other) == STORE_OK);
	test_assert(store_folder_subscribe(st, mb, "a/x", true) == STORE_OK);
	uint32_t u1 = append(st, ax, M1, 0, NULL);
	struct store_folder before = folder(st, mb, "a/x");

	test_assert(store_folder_rename(st, mb, "a", "b") == STORE_OK);
	test_assert(folder_id(st, mb, "b") == a && folder_id(st, mb, "b/x") == ax);
	test_assert(folder_id(st, mb, "b/x/y") == axy);
	test_assert(folder_id(st, mb, "a") < 0 && folder_id(st, mb, "a/x") < 0);
	test_assert(folder_id(st, mb, "ab") == other); /* "ab" is no child of "a" */
	struct store_folder after = folder(st, mb, "b/x");
	test_assert(after.uidvalidity == before.uidvalidity && after.uidnext == before.uidnext);
	test_assert(after.subscribed && after.messages == 1);
	store_folder_clear(&before);
	store_folder_clear(&after);
	struct store_imsg *m;
	test_assert(load(st, ax, &m) == 1 && m[0].uid == u1);
	store_imsgs_free(m, 1);

	/* refusals, each leaving every name as it was */
	test_assert(store_folder_rename(st, mb, "b", "ab") == STORE_EXISTS);
	test_assert(store_folder_create(st, mb, "c/x/y", STORE_SPECIAL_NONE, &other) == STORE_OK);
	test_assert(store_folder_rename(st, mb, "b", "c") == STORE_EXISTS); /* c/x/y taken */
	test_assert(store_folder_rename(st, mb, "b", "b") == STORE_EXISTS);
	test_assert(store_folder_rename(st, mb, "b", "b/z") == STORE_INVALID);
	test_assert(store_folder_rename(st, mb, "b", "INBOX") == STORE_INVALID);
	test_assert(store_folder_rename(st, mb, "b", "b//z") == STORE_INVALID);
	test_assert(store_folder_rename(st, mb, "nothing", "z") == STORE_NOTFOUND);
	test_assert(folder_id(st, mb, "b") == a && folder_id(st, mb, "b/x/y") == axy);
	char name[STORE_FOLDER_NAME_MAX + 1];
	memset(name, 'n', STORE_FOLDER_NAME_MAX - 2);
	name[STORE_FOLDER_NAME_MAX - 2] = '\0';
	test_assert(store_folder_rename(st, mb, "b", name) == STORE_INVALID); /* "…/x/y" too long */
	test_assert(folder_id(st, mb, "b/x/y") == axy);

	/* up a level: "b/x" -> "b" would clash with b; to "x": b/x/y becomes x/y */
	test_assert(store_folder_rename(st, mb, "b/x", "x") == STORE_OK);
	test_assert(folder_id(st, mb, "x") == ax && folder_id(st, mb, "x/y") == axy);
	/* into a name that is its own old child's */
	test_assert(store_folder_create(st, mb, "p/p", STORE_SPECIAL_NONE, &other) == STORE_OK);
	test_assert(store_folder_create(st, mb, "p/p/p", STORE_SPECIAL_NONE, &a) == STORE_OK);
	test_assert(store_folder_rename(st, mb, "p/p", "p") == STORE_OK);
	test_assert(folder_id(st, mb, "p") == other && folder_id(st, mb, "p/p") == a);
	/* subscriptions */
	test_assert(store_folder_subscribe(st, mb, "x", true) == STORE_OK);
	struct store_folder f = folder(st, mb, "x");
	test_assert(f.subscribed);
	store_folder_clear(&f);
	test_assert(store_folder_subscribe(st, mb, "x", false) == STORE_OK);
	f = folder(st, mb, "x");
	test_assert(!f.subscribed);
	store_folder_clear(&f);
	test_assert(store_folder_subscribe(st, mb, "nothing", true) == STORE_NOTFOUND);
	test_assert(store_folder_subscribe(st, mb, "inbox", false) == STORE_OK);
	f = folder(st, mb, "INBOX");
	test_assert(!f.subscribed);
	store_folder_clear(&f);
	test_assert(verify_ok(st));
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_inbox_rename(void)
{
	char *dir;
	int64_t mb, child = 0;
	struct store *st = setup(&dir, &mb, 0);
	struct store_msg *pm;

	test_begin("folders: renaming INBOX moves its mail to a new folder (RFC 9051 §6.3.6)");
	deliver(st, mb, M1);
	deliver(st, mb, M2);
	test_assert(store_folder_create(st, mb, "INBOX/kept", STORE_SPECIAL_NONE, &child) ==
		    STORE_OK);
	size_t np = pop3_load(st, mb, &pm);
	test_assert(np == 2);
	char uidl0[71] = "";
	if (np > 0)
		snprintf(uidl0, sizeof(uidl0), "%s", pm[0].uidl);
	free(pm);
	struct store_folder in = folder(st, mb, "INBOX");
	int64_t inbox = in.id;

	test_assert(store_folder_rename(st, mb, "inbox", "Old") == STORE_OK);
	struct store_folder old = folder(st, mb, "Old");
	test_assert(old.id != inbox && old.messages == 2 && old.uidnext == in.uidnext);
	test_assert(old.uidvalidity > in.uidvalidity);
	struct store_folder now = folder(st, mb, "INBOX");
	test_assert(now.id == inbox && now.messages == 0 && now.uidvalidity == in.uidvalidity);
	test_assert(now.uidnext == in.uidnext && now.highestmodseq > in.highestmodseq);
	test_assert(folder_id(st, mb, "INBOX/kept") == child);
	test_assert(pop3_load(st, mb, &pm) == 0);
	free(pm);
	/* the UIDs stay; INBOX reports them gone (VANISHED) */
	struct store_imsg *m, *c;
	uint32_t *v;
	size_t nc = 0, nv = 0;
	uint64_t h = 0;
	bool all = true;
	test_assert(load(st, old.id, &m) == 2 && m[0].uid == 1 && m[1].uid == 2);
	test_assert(store_folder_changes(st, inbox, in.highestmodseq, &c, &nc, &v, &nv, &h, &all) ==
		    STORE_OK);
	test_assert(nc == 0 && nv == 2 && v[0] == 1 && v[1] == 2 && !all);
	test_assert(h == now.highestmodseq);
	store_imsgs_free(c, nc);
	free(v);
	/* a message moved back gets a new UID and the UIDL POP3 knew */
	uint32_t *src, *dst;
	size_t n = 0;
	test_assert(store_folder_copy(st, old.id, inbox, &m[0].uid, 1, true, &src, &dst, &n) ==
		    STORE_OK);
	test_assert(n == 1 && src[0] == 1 && dst[0] > 2);
	free(src);
	free(dst);
	np = pop3_load(st, mb, &pm);
	test_assert(np == 1 && strcmp(pm[0].uidl, uidl0) == 0);
	free(pm);
	store_imsgs_free(m, 2);
	test_assert(store_folder_rename(st, mb, "INBOX", "Old") == STORE_EXISTS);
	test_assert(store_folder_rename(st, mb, "INBOX", "INBOX") == STORE_INVALID);
	store_folder_clear(&in);
	store_folder_clear(&old);
	store_folder_clear(&now);
	test_assert(verify_ok(st));
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* --- flags, keywords, modseqs ------------------------------------------------------- */

static void test_flags(void)
{
	char *dir;
	int64_t mb;
	struct store *st = setup(&dir, &mb, 0);
	int64_t fid = folder_id(st, mb, "Drafts");
	struct store_imsg *ch = NULL;
	uint32_t *failed = NULL;
	size_t nch = 0, nf = 0;

	test_begin("folders: STORE FLAGS, +FLAGS, -FLAGS with keywords; a modseq each (S9)");
	uint32_t u[3] = {append(st, fid, M1, 0, NULL), append(st, fid, M2, 0, NULL),
			 append(st, fid, M3, 0, NULL)};
	uint64_t h0 = highest(st, mb, "Drafts");
	uint32_t two[2] = {u[2], u[0]}; /* any order; answered in UID order */
	test_assert(store_flags_change(st, fid, two, 2, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
				       "$Junk Work", 0, &ch, &nch, &failed, &nf) == STORE_OK);
	test_assert(nch == 2 && nf == 0 && failed == NULL);
	test_assert(ch[0].uid == u[0] && ch[1].uid == u[2]);
	test_assert(ch[0].flags == STORE_FLAG_SEEN && ch[0].modseq == h0 + 1);
	test_assert(ch[0].keywords != NULL && strcmp(ch[0].keywords, "$Junk Work") == 0);
	store_imsgs_free(ch, nch);
	uint64_t h1 = highest(st, mb, "Drafts");
	test_assert(h1 == h0 + 1);
	struct store_folder f = folder(st, mb, "Drafts");
	test_assert_str(f.keywords, "$Junk Work");
	test_assert(f.unseen == 1);
	store_folder_clear(&f);

	/* the same again changes nothing: no new modseq */
	test_assert(store_flags_change(st, fid, two, 2, STORE_FLAGS_ADD, STORE_FLAG_SEEN, "work", 0,
				       &ch, &nch, &failed, &nf) == STORE_OK);
	test_assert(nch == 2 && ch[0].modseq == h1 && highest(st, mb, "Drafts") == h1);
	store_imsgs_free(ch, nch);
	/* a keyword in another case is the folder's; duplicates go */
	test_assert(store_flags_change(
			st, fid, &u[1], 1, STORE_FLAGS_SET, STORE_FLAG_FLAGGED | STORE_FLAG_DELETED,
			"$junk  Later $JUNK later", 0, &ch, &nch, &failed, &nf) == STORE_OK);
	test_assert(nch == 1 && ch[0].flags == (STORE_FLAG_FLAGGED | STORE_FLAG_DELETED));
	test_assert(ch[0].keywords != NULL && strcmp(ch[0].keywords, "$Junk Later") == 0);
	test_assert(ch[0].modseq == h1 + 1);
	store_imsgs_free(ch, nch);
	f = folder(st, mb, "Drafts");
	test_assert_str(f.keywords, "$Junk Work Later");
	test_assert(f.deleted == 1 && f.unseen == 1);
	store_folder_clear(&f);
	/* -FLAGS; the folder's list keeps growing, never shrinks */
	test_assert(store_flags_change(st, fid, u, 3, STORE_FLAGS_REMOVE, STORE_FLAG_SEEN, "$JUNK",
				       0, &ch, &nch, &failed, &nf) == STORE_OK);
	test_assert(nch == 3);
	test_assert(ch[0].flags == 0 && strcmp(ch[0].keywords, "Work") == 0);
	test_assert(ch[1].keywords != NULL && strcmp(ch[1].keywords, "Later") == 0);
	test_assert(ch[0].modseq == h1 + 2 && ch[1].modseq == h1 + 2 && ch[2].modseq == h1 + 2);
	store_imsgs_free(ch, nch);
	f = folder(st, mb, "Drafts");
	test_assert_str(f.keywords, "$Junk Work Later");
	store_folder_clear(&f);
	/* SET with no keywords clears them */
	test_assert(store_flags_change(st, fid, &u[0], 1, STORE_FLAGS_SET, 0, NULL, 0, &ch, &nch,
				       &failed, &nf) == STORE_OK);
	test_assert(nch == 1 && ch[0].keywords == NULL && ch[0].flags == 0);
	store_imsgs_free(ch, nch);
	/* UIDs the folder does not hold are left out */
	uint32_t none[2] = {999, u[2] + 50};
	test_assert(store_flags_change(st, fid, none, 2, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0,
				       &ch, &nch, &failed, &nf) == STORE_OK);
	test_assert(nch == 0 && nf == 0);

	/* refused, nothing written */
	uint64_t h = highest(st, mb, "Drafts");
	static const char *const bad[] = {"\\Seen",   "a(b",   "a)b",	"a[b",	"a]b",
					  "a{b",      "a%b",   "a*b",	"a\"b", "a\\b",
					  "\xc3\xa4", "a\x01", "ok \\x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		test_assert(store_flags_change(st, fid, u, 3, STORE_FLAGS_ADD, 0, bad[i], 0, &ch,
					       &nch, &failed, &nf) == STORE_INVALID &&
			    nch == 0 && ch == NULL);
	test_assert(store_flags_change(st, fid, u, 3, STORE_FLAGS_ADD, 1u << 5, NULL, 0, &ch, &nch,
				       &failed, &nf) == STORE_INVALID);
	test_assert(store_flags_change(st, fid, u, 3, (enum store_flag_op)7, 0, NULL, 0, &ch, &nch,
				       &failed, &nf) == STORE_INVALID);
	test_assert(store_flags_change(st, fid + 1000, u, 3, STORE_FLAGS_ADD, 0, NULL, 0, &ch, &nch,
				       &failed, &nf) == STORE_NOTFOUND);
	/* a message's list is STORE_KEYWORDS_MAX octets at most */
	struct buf many = {0};
	for (int i = 0; many.len <= STORE_KEYWORDS_MAX; i++)
		buf_printf(&many, "%skw%d", i > 0 ? " " : "", i);
	buf_append_c(&many, '\0');
	test_assert(store_flags_change(st, fid, u, 3, STORE_FLAGS_ADD, 0, (char *)many.data, 0, &ch,
				       &nch, &failed, &nf) == STORE_LIMIT);
	buf_free(&many);
	test_assert(highest(st, mb, "Drafts") == h);
	test_assert(verify_ok(st));
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_unchangedsince(void)
{
	char *dir;
	int64_t mb;
	struct store *st = setup(&dir, &mb, 0);
	int64_t fid = folder_id(st, mb, "Archive");
	struct store_imsg *ch = NULL;
	uint32_t *failed = NULL;
	size_t nch = 0, nf = 0;

	test_begin("folders: CONDSTORE UNCHANGEDSINCE leaves newer messages, lists their UIDs");
	uint32_t u[3] = {append(st, fid, M1, 0, NULL), append(st, fid, M2, 0, NULL),
			 append(st, fid, M3, 0, NULL)};
	struct store_imsg *m;
	test_assert(load(st, fid, &m) == 3);
	uint64_t ms1 = m[0].modseq;
	test_assert(m[0].modseq < m[1].modseq && m[1].modseq < m[2].modseq); /* S9 */
	store_imsgs_free(m, 3);
	/* since the first one's modseq: the 2nd and 3rd are newer */
	test_assert(store_flags_change(st, fid, u, 3, STORE_FLAGS_ADD, STORE_FLAG_ANSWERED, NULL,
				       ms1, &ch, &nch, &failed, &nf) == STORE_OK);
	test_assert(nch == 1 && ch[0].uid == u[0] && ch[0].flags == STORE_FLAG_ANSWERED);
	test_assert(nf == 2 && failed[0] == u[1] && failed[1] == u[2]);
	uint64_t now = ch[0].modseq;
	store_imsgs_free(ch, nch);
	free(failed);
	test_assert(load(st, fid, &m) == 3);
	test_assert(m[1].flags == 0 && m[2].flags == 0 && m[0].modseq == now);
	store_imsgs_free(m, 3);
	/* since now: all pass */
	test_assert(store_flags_change(st, fid, u, 3, STORE_FLAGS_ADD, STORE_FLAG_DRAFT, NULL, now,
				       &ch, &nch, &failed, &nf) == STORE_OK);
	test_assert(nch == 3 && nf == 0 && ch[2].modseq == now + 1);
	store_imsgs_free(ch, nch);
	test_assert(verify_ok(st));
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* S9: every kind of change takes the folder's next modseq. */
static void test_modseq(void)
{
	char *dir;
	int64_t mb;
	struct store *st = setup(&dir, &mb, 0);
	int res[1];

	test_begin("folders: delivery, import, POP3 expunge each take INBOX's next modseq (S9)");
	uint64_t h = highest(st, mb, "INBOX");
	deliver(st, mb, M1);
	test_assert(highest(st, mb, "INBOX") == h + 1);
	struct store_import_msg im[2] = {{.body = M2, .len = strlen(M2), .uidl = "IMP-1"},
					 {.body = M3, .len = strlen(M3), .uidl = "IMP-2"}};
	test_assert(store_import(st, mb, im, 2, (int[2]){0}) == STORE_OK);
	test_assert(highest(st, mb, "INBOX") == h + 2); /* one for the batch */
	/* an import run again adds nothing: no change */
	test_assert(store_import(st, mb, im, 1, res) == STORE_OK && res[0] == STORE_EXISTS);
	test_assert(highest(st, mb, "INBOX") == h + 2);
	struct store_imsg *m;
	int64_t inbox = folder_id(st, mb, "INBOX");
	test_assert(load(st, inbox, &m) == 3);
	test_assert(m[0].modseq == h + 1 && m[1].modseq == h + 2 && m[2].modseq == h + 2);
	struct store_folder f = folder(st, mb, "INBOX");
	test_assert(f.uidnext == m[2].uid + 1 && f.messages == 3);
	store_folder_clear(&f);
	store_imsgs_free(m, 3);
	struct store_msg *pm;
	test_assert(pop3_load(st, mb, &pm) == 3);
	test_assert(store_expunge(st, mb, &pm[1].id, 1) == STORE_OK);
	test_assert(highest(st, mb, "INBOX") == h + 3);
	/* a message of another folder is no POP3 message: untouched */
	int64_t sent = folder_id(st, mb, "Sent");
	append(st, sent, M1, 0, NULL);
	test_assert(load(st, sent, &m) == 1);
	test_assert(store_expunge(st, mb, &m[0].id, 1) == STORE_OK);
	store_imsgs_free(m, 1);
	test_assert(load(st, sent, &m) == 1);
	store_imsgs_free(m, 1);
	test_assert(highest(st, mb, "INBOX") == h + 3);
	free(pm);
	test_assert(verify_ok(st));
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* --- expunge and changes ---------------------------------------------------------- */

static void test_expunge(void)
{
	char *dir;
	int64_t mb;
	struct store *st = setup(&dir, &mb, 0);
	int64_t fid = folder_id(st, mb, "Trash");
	uint32_t *ex = NULL;
	size_t n = 0;

	test_begin("folders: EXPUNGE of \\Deleted, UID EXPUNGE of a set; records for VANISHED");
	uint32_t u[5];
	for (int i = 0; i < 5; i++)
		u[i] = append(st, fid, i % 2 ? M2 : M1, i == 4 ? 0 : STORE_FLAG_DELETED, NULL);
	uint64_t h = highest(st, mb, "Trash");
	/* by UID: only those with \Deleted */
	uint32_t set[3] = {u[3], u[1], u[4]};
	test_assert(store_folder_expunge(st, fid, set, 3, &ex, &n) == STORE_OK);
	test_assert(n == 2 && ex[0] == u[1] && ex[1] == u[3]);
	free(ex);
	test_assert(highest(st, mb, "Trash") == h + 1);
	/* every \Deleted one */
	test_assert(store_folder_expunge(st, fid, NULL, 0, &ex, &n) == STORE_OK);
	test_assert(n == 2 && ex[0] == u[0] && ex[1] == u[2]);
	free(ex);
	test_assert(store_folder_expunge(st, fid, NULL, 0, &ex, &n) == STORE_OK && n == 0);
	test_assert(highest(st, mb, "Trash") == h + 2);
	struct store_folder f = folder(st, mb, "Trash");
	test_assert(f.messages == 1 && f.deleted == 0 && f.size == strlen(M1));
	store_folder_clear(&f);
	struct store_user us = user(st);
	test_assert(us.messages == 1 && us.used == strlen(M1));
	store_user_clear(&us);

	/* what changed since h: the expunged UIDs, ascending */
	struct store_imsg *c;
	uint32_t *v;
	size_t nc = 0, nv = 0;
	uint64_t hi = 0;
	bool all = true;
	test_assert(store_folder_changes(st, fid, h, &c, &nc, &v, &nv, &hi, &all) == STORE_OK);
	test_assert(nc == 0 && nv == 4 && !all && hi == h + 2);
	test_assert(nv == 4 && v[0] == u[0] && v[1] == u[1] && v[2] == u[2] && v[3] == u[3]);
	store_imsgs_free(c, nc);
	free(v);
	test_assert(store_folder_changes(st, fid, h + 1, &c, &nc, &v, &nv, &hi, &all) == STORE_OK);
	test_assert(nv == 2 && v[0] == u[0] && v[1] == u[2]);
	store_imsgs_free(c, nc);
	free(v);
	/* and since 0: the message left too (new ones are changes) */
	test_assert(store_folder_changes(st, fid, 0, &c, &nc, &v, &nv, &hi, &all) == STORE_OK);
	test_assert(nc == 1 && c[0].uid == u[4] && nv == 4);
	store_imsgs_free(c, nc);
	free(v);
	test_assert(store_folder_changes(st, fid + 1000, 0, &c, &nc, &v, &nv, &hi, &all) ==
		    STORE_NOTFOUND);
	test_assert(store_folder_expunge(st, fid + 1000, NULL, 0, &ex, &n) == STORE_NOTFOUND);
	test_assert(verify_ok(st));
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_pruned(void)
{
	char *dir;
	int64_t mb;
	struct store *st = setup(&dir, &mb, 0);
	int64_t fid = folder_id(st, mb, "Junk");
	uint32_t *ex = NULL;
	size_t n = 0;

	test_begin("folders: expunge records older than the keep time are pruned (S9)");
	uint32_t a = append(st, fid, M1, STORE_FLAG_DELETED, NULL);
	uint32_t b = append(st, fid, M2, STORE_FLAG_DELETED, NULL);
	uint64_t h0 = highest(st, mb, "Junk");
	test_assert(store_folder_expunge(st, fid, &a, 1, &ex, &n) == STORE_OK && n == 1);
	free(ex);
	uint64_t h1 = highest(st, mb, "Junk");
	/* that record is now older than STORE_EXPUNGED_KEEP_DAYS */
	test_assert(store_test_age_expunged(st, fid, (STORE_EXPUNGED_KEEP_DAYS + 1) * 86400LL) ==
		    STORE_OK);
	test_assert(store_folder_expunge(st, fid, &b, 1, &ex, &n) == STORE_OK && n == 1);
	free(ex);
	struct store_imsg *c;
	uint32_t *v;
	size_t nc = 0, nv = 0;
	uint64_t hi = 0;
	bool all = false;
	/* from before the pruned record: told, and the one left */
	test_assert(store_folder_changes(st, fid, h0, &c, &nc, &v, &nv, &hi, &all) == STORE_OK);
	test_assert(all && nv == 1 && v[0] == b);
	store_imsgs_free(c, nc);
	free(v);
	/* from its modseq on nothing was lost */
	test_assert(store_folder_changes(st, fid, h1, &c, &nc, &v, &nv, &hi, &all) == STORE_OK);
	test_assert(!all && nv == 1 && v[0] == b);
	store_imsgs_free(c, nc);
	free(v);
	/* POP3's expunges prune INBOX's records too */
	int64_t inbox = folder_id(st, mb, "INBOX");
	deliver(st, mb, M1);
	deliver(st, mb, M2);
	struct store_msg *pm;
	test_assert(pop3_load(st, mb, &pm) == 2);
	uint64_t i0 = highest(st, mb, "INBOX");
	test_assert(store_expunge(st, mb, &pm[0].id, 1) == STORE_OK);
	test_assert(store_test_age_expunged(st, inbox, 40 * 86400LL) == STORE_OK);
	test_assert(store_expunge(st, mb, &pm[1].id, 1) == STORE_OK);
	test_assert(store_folder_changes(st, inbox, i0, &c, &nc, &v, &nv, &hi, &all) == STORE_OK);
	test_assert(all && nv == 1 && v[0] == pm[1].uid);
	store_imsgs_free(c, nc);
	free(v);
	free(pm);
	test_assert(verify_ok(st));
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* --- copy, move, append ----------------------------------------------------------- */

static void test_copy_move(void)
{
	char *dir;
	int64_t mb;
	struct store *st = setup(&dir, &mb, 0);
	int64_t inbox = folder_id(st, mb, "INBOX"), arch = folder_id(st, mb, "Archive");
	uint32_t *src = NULL, *dst = NULL;
	size_t n = 0;

	test_begin("folders: COPY and MOVE in UID order with COPYUID; one body (S2, S8)");
	deliver(st, mb, M1);
	deliver(st, mb, M2);
	deliver(st, mb, M3);
	struct store_imsg *m;
	test_assert(load(st, inbox, &m) == 3);
	uint32_t set[3] = {m[2].uid, m[0].uid, 77};
	uint32_t ids[2] = {m[0].uid, m[2].uid};
	struct store_imsg *ch = NULL;
	uint32_t *failed = NULL;
	size_t nch = 0, nf = 0;
	test_assert(store_flags_change(st, inbox, ids, 2, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED,
				       "Todo", 0, &ch, &nch, &failed, &nf) == STORE_OK);
	test_assert(nch == 2 && nf == 0);
	store_imsgs_free(ch, nch);
	store_imsgs_free(m, 3);
	test_assert(load(st, inbox, &m) == 3);
	test_assert(store_folder_copy(st, inbox, arch, set, 3, false, &src, &dst, &n) == STORE_OK);
	test_assert(n == 2 && src[0] == m[0].uid && src[1] == m[2].uid);
	test_assert(dst[0] > m[2].uid && dst[1] == dst[0] + 1); /* S8: the one counter */
	struct store_imsg *a;
	test_assert(load(st, arch, &a) == 2);
	test_assert(a[0].uid == dst[0] && a[0].body_id == m[0].body_id); /* S2 */
	test_assert(a[0].flags == STORE_FLAG_FLAGGED && strcmp(a[0].keywords, "Todo") == 0);
	test_assert(a[0].received == m[0].received && a[0].size == m[0].size);
	struct store_folder f = folder(st, mb, "Archive");
	test_assert(f.uidnext == dst[1] + 1 && strcmp(f.keywords, "Todo") == 0);
	store_folder_clear(&f);
	store_imsgs_free(a, 2);
	free(src);
	free(dst);
	/* the quota counters cover every folder */
	struct store_user u = user(st);
	test_assert(u.messages == 5 && u.used == strlen(M1) * 2 + strlen(M2) + strlen(M3) * 2);
	store_user_clear(&u);
	/* the next delivery takes the next UID of the one counter */
	deliver(st, mb, M1);
	struct store_folder in = folder(st, mb, "INBOX");
	test_assert(in.uidnext == m[2].uid + 4);
	store_folder_clear(&in);

	/* MOVE: the source reports it gone; the row and body stay */
	uint64_t h = highest(st, mb, "INBOX");
	test_assert(store_folder_copy(st, inbox, arch, &m[1].uid, 1, true, &src, &dst, &n) ==
		    STORE_OK);
	test_assert(n == 1 && src[0] == m[1].uid && dst[0] > m[2].uid + 3);
	struct store_imsg *c;
	uint32_t *v;
	size_t nc = 0, nv = 0;
	uint64_t hi = 0;
	bool all = true;
	test_assert(store_folder_changes(st, inbox, h, &c, &nc, &v, &nv, &hi, &all) == STORE_OK);
	test_assert(nv == 1 && v[0] == m[1].uid && nc == 0 && hi == h + 1);
	store_imsgs_free(c, nc);
	free(v);
	test_assert(load(st, arch, &a) == 3 && a[2].uid == dst[0] && a[2].id == m[1].id);
	store_imsgs_free(a, 3);
	free(src);
	free(dst);
	u = user(st);
	test_assert(u.messages == 6);
	store_user_clear(&u);
	/* a move inside one folder: a new UID, the old one vanished */
	test_assert(store_folder_copy(st, arch, arch, &(uint32_t){m[1].uid}, 1, true, &src, &dst,
				      &n) == STORE_OK &&
		    n == 0); /* no longer there */
	/* other mailboxes' folders and unknown folders are refused */
	test_assert(test_add_user(st, "b@example.test", 0) == STORE_OK);
	int64_t other = 0;
	test_assert(store_inbox_id(st, test_mailbox_id(st, "b@example.test"), &other) == STORE_OK);
	test_assert(store_folder_copy(st, inbox, other, &m[0].uid, 1, false, &src, &dst, &n) ==
		    STORE_INVALID);
	test_assert(store_folder_copy(st, inbox, other + 1000, &m[0].uid, 1, true, &src, &dst,
				      &n) == STORE_NOTFOUND);
	test_assert(src == NULL && dst == NULL && n == 0);
	store_imsgs_free(m, 3);
	test_assert(verify_ok(st));
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_quota(void)
{
	char *dir;
	int64_t mb;
	/* room for three small messages */
	struct store *st = setup(&dir, &mb, 3 * strlen(M2));
	int64_t inbox = folder_id(st, mb, "INBOX"), sent = folder_id(st, mb, "Sent");
	uint32_t *src = NULL, *dst = NULL, uid = 0;
	size_t n = 0;

	test_begin("folders: copies and appends follow the quota, moves do not (S10)");
	deliver(st, mb, M2);
	deliver(st, mb, M2);
	struct store_imsg *m;
	test_assert(load(st, inbox, &m) == 2);
	uint32_t both[2] = {m[0].uid, m[1].uid};
	char *before = snapshot(st, mb);
	test_assert(store_folder_copy(st, inbox, sent, both, 2, false, &src, &dst, &n) ==
		    STORE_QUOTA);
	test_assert(n == 0 && src == NULL && dst == NULL);
	char *after = snapshot(st, mb);
	test_assert_str(after, before);
	free(after);
	test_assert(store_folder_copy(st, inbox, sent, both, 1, false, &src, &dst, &n) ==
			STORE_OK &&
		    n == 1);
	free(src);
	free(dst);
	free(before);
	before = snapshot(st, mb);
	test_assert(store_folder_append(st, sent, M2, strlen(M2), 0, NULL, 0, &uid) == STORE_QUOTA);
	test_assert(uid == 0);
	after = snapshot(st, mb);
	test_assert_str(after, before);
	free(after);
	free(before);
	/* a move takes no more room */
	test_assert(store_folder_copy(st, inbox, sent, both, 2, true, &src, &dst, &n) == STORE_OK &&
		    n == 2);
	free(src);
	free(dst);
	store_imsgs_free(m, 2);
	test_assert(verify_ok(st));
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_append(void)
{
	char *dir;
	int64_t mb;
	struct store *st = setup(&dir, &mb, 0);
	int64_t inbox = folder_id(st, mb, "INBOX"), drafts = folder_id(st, mb, "Drafts");
	uint32_t uid = 0;

	test_begin("folders: APPEND with flags, keywords and a date; a fresh UIDL in INBOX");
	deliver(st, mb, M1);
	struct store_msg *pm;
	test_assert(pop3_load(st, mb, &pm) == 1);
	test_assert(store_expunge(st, mb, &pm[0].id, 1) == STORE_OK);
	char gone[71];
	snprintf(gone, sizeof(gone), "%s", pm[0].uidl);
	free(pm);
	test_assert(store_folder_append(st, drafts, M2, strlen(M2),
					STORE_FLAG_DRAFT | STORE_FLAG_SEEN, "$MDNSent", 1234567890,
					&uid) == STORE_OK);
	struct store_imsg *m;
	test_assert(load(st, drafts, &m) == 1);
	test_assert(m[0].uid == uid && m[0].flags == (STORE_FLAG_DRAFT | STORE_FLAG_SEEN));
	test_assert(m[0].received == 1234567890 && m[0].size == strlen(M2));
	test_assert(strcmp(m[0].keywords, "$MDNSent") == 0);
	struct buf body = {0};
	test_assert(store_message_read(st, mb, m[0].id, &body) == STORE_OK);
	test_assert(body.len == strlen(M2) && memcmp(body.data, M2, body.len) == 0);
	buf_free(&body);
	store_imsgs_free(m, 1);
	/* into INBOX: POP3 sees it, under a UIDL never served before */
	int64_t t0 = (int64_t)time(NULL);
	uint32_t uid2 = append(st, inbox, M3, 0, NULL);
	test_assert(uid2 > uid);
	test_assert(pop3_load(st, mb, &pm) == 1);
	test_assert(pm[0].uid == uid2 && strcmp(pm[0].uidl, gone) != 0);
	test_assert(pm[0].received >= t0 && pm[0].received <= t0 + 5); /* 0: now */
	free(pm);
	test_assert(store_folder_append(st, drafts, M2, strlen(M2), 1u << 7, NULL, 0, &uid) ==
		    STORE_INVALID);
	test_assert(store_folder_append(st, drafts, M2, strlen(M2), 0, "bad(kw", 0, &uid) ==
		    STORE_INVALID);
	test_assert(store_folder_append(st, drafts + 1000, M2, strlen(M2), 0, NULL, 0, &uid) ==
		    STORE_NOTFOUND);
	test_assert(verify_ok(st));
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* --- POP3 sees INBOX ---------------------------------------------------------------- */

static void test_pop3_view(void)
{
	char *dir;
	int64_t mb;
	struct store *st = setup(&dir, &mb, 0);
	int64_t inbox = folder_id(st, mb, "INBOX"), arch = folder_id(st, mb, "Archive");
	struct store_msg *pm;
	uint32_t *src = NULL, *dst = NULL;
	size_t n = 0;

	test_begin("folders: POP3 lists INBOX alone; a moved message leaves it, keeps its UIDL");
	deliver(st, mb, M1);
	deliver(st, mb, M2);
	deliver(st, mb, M3);
	size_t np = pop3_load(st, mb, &pm);
	test_assert(np == 3);
	struct store_msg first[3];
	memcpy(first, pm, sizeof(first));
	free(pm);
	uint32_t uid = (uint32_t)first[1].uid;
	test_assert(store_folder_copy(st, inbox, arch, &uid, 1, true, &src, &dst, &n) == STORE_OK);
	free(src);
	free(dst);
	test_assert(pop3_load(st, mb, &pm) == 2);
	test_assert(strcmp(pm[0].uidl, first[0].uidl) == 0 &&
		    strcmp(pm[1].uidl, first[2].uidl) == 0);
	test_assert(pm[0].uid == first[0].uid && pm[1].uid == first[2].uid);
	free(pm);
	/* POP3 DELE + QUIT of the message moved meanwhile does nothing to it */
	test_assert(store_expunge(st, mb, &first[1].id, 1) == STORE_OK);
	struct store_imsg *m;
	test_assert(load(st, arch, &m) == 1);
	uint32_t back = m[0].uid;
	store_imsgs_free(m, 1);
	/* POP3's expunge is a VANISHED for IMAP */
	uint64_t h = highest(st, mb, "INBOX");
	test_assert(store_expunge(st, mb, &first[0].id, 1) == STORE_OK);
	struct store_imsg *c;
	uint32_t *v;
	size_t nc = 0, nv = 0;
	uint64_t hi = 0;
	bool all = true;
	test_assert(store_folder_changes(st, inbox, h, &c, &nc, &v, &nv, &hi, &all) == STORE_OK);
	test_assert(nv == 1 && v[0] == first[0].uid && hi == h + 1 && !all);
	store_imsgs_free(c, nc);
	free(v);
	/* a copy back into INBOX is a new message: a fresh UIDL; the
	   original moved back keeps the one POP3 knew */
	test_assert(store_folder_copy(st, arch, inbox, &back, 1, false, &src, &dst, &n) ==
		    STORE_OK);
	free(src);
	free(dst);
	test_assert(store_folder_copy(st, arch, inbox, &back, 1, true, &src, &dst, &n) == STORE_OK);
	free(src);
	free(dst);
	test_assert(pop3_load(st, mb, &pm) == 3);
	test_assert(strcmp(pm[0].uidl, first[2].uidl) == 0);
	test_assert(strcmp(pm[1].uidl, first[1].uidl) != 0 &&
		    strcmp(pm[1].uidl, first[0].uidl) != 0);
	test_assert(strcmp(pm[2].uidl, first[1].uidl) == 0);
	for (size_t i = 0; i < 3; i++) {
		struct buf b = {0};
		test_assert(store_message_read(st, mb, pm[i].id, &b) == STORE_OK);
		test_assert(b.len == pm[i].size);
		buf_free(&b);
	}
	free(pm);
	test_assert(verify_ok(st));
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* --- the MIME cache --------------------------------------------------------------- */

static void test_mime(void)
{
	char *dir;
	int64_t mb;
	struct store *st = setup(&dir, &mb, 0);
	int64_t inbox = folder_id(st, mb, "INBOX");
	struct buf b = {0};

	test_begin("folders: a body's MIME structure is made at delivery, and kept once set");
	deliver(st, mb, M1);
	struct store_imsg *m;
	test_assert(load(st, inbox, &m) == 1);
	int64_t body = m[0].body_id, msg = m[0].id;
	store_imsgs_free(m, 1);
	/* the delivery parsed it: the same tree as parsing the stored message */
	struct buf wire = {0};
	struct mime_tree *cached = NULL, *parsed;
	const char *err;
	test_assert(store_body_mime_get(st, body, &b) == STORE_OK && b.len > 0);
	test_assert(mime_tree_deserialize(b.data, b.len, &cached, &err) == 0);
	test_assert(store_message_read(st, mb, msg, &wire) == STORE_OK);
	parsed = mime_tree_parse(wire.data, wire.len);
	test_assert(mime_tree_equal(cached, parsed));
	mime_tree_free(&cached);
	mime_tree_free(&parsed);
	buf_free(&wire);
	buf_clear(&b);
	static const char blob[] = "tree\0with\0nul";
	test_assert(store_body_mime_set(st, body, blob, sizeof(blob)) == STORE_OK);
	test_assert(store_body_mime_get(st, body, &b) == STORE_OK);
	test_assert(b.len == sizeof(blob) && memcmp(b.data, blob, sizeof(blob)) == 0);
	buf_free(&b);
	test_assert(store_body_mime_set(st, body, "x", 1) == STORE_OK);
	test_assert(store_body_mime_get(st, body, &b) == STORE_OK && b.len == 1);
	buf_free(&b);
	test_assert(store_body_mime_set(st, body + 1000, "x", 1) == STORE_NOTFOUND);
	test_assert(store_body_mime_get(st, body + 1000, &b) == STORE_NOTFOUND);
	test_assert(verify_ok(st));
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* --- a failed commit leaves nothing (S7) -------------------------------------------- */

enum call {
	C_CREATE,
	C_DELETE,
	C_RENAME,
	C_RENAME_INBOX,
	C_SUBSCRIBE,
	C_FLAGS,
	C_EXPUNGE,
	C_EXPUNGE_UIDS,
	C_COPY,
	C_MOVE,
	C_APPEND,
	C_MIME,
	C_POP3_EXPUNGE,
	C_DELIVER,
	C_IMPORT,
	C_COUNT
};

static int run_call(struct store *st, int64_t mb, enum call c)
{
	int64_t inbox = folder_id(st, mb, "INBOX"), work = folder_id(st, mb, "Work");
	uint32_t *a = NULL, *b = NULL, uid = 0;
	struct store_imsg *ch = NULL, *m = NULL;
	size_t n = 0, nm = 0, nch = 0;
	int64_t id = 0;
	int r = STORE_PERM, res[1];

	store_folder_load(st, inbox, &m, &nm);
	uint32_t all[8];
	for (size_t i = 0; i < nm && i < 8; i++)
		all[i] = m[i].uid;
	switch (c) {
	case C_CREATE:
		r = store_folder_create(st, mb, "New", STORE_SPECIAL_NONE, &id);
		break;
	case C_DELETE:
		r = store_folder_delete(st, mb, "Work");
		break;
	case C_RENAME:
		r = store_folder_rename(st, mb, "Work", "Play");
		break;
	case C_RENAME_INBOX:
		r = store_folder_rename(st, mb, "INBOX", "Old");
		break;
	case C_SUBSCRIBE:
		r = store_folder_subscribe(st, mb, "Work", true);
		break;
	case C_FLAGS:
		r = store_flags_change(st, inbox, all, nm, STORE_FLAGS_ADD, STORE_FLAG_SEEN,
				       "NewKeyword", 0, &ch, &nch, &a, &n);
		break;
	case C_EXPUNGE:
		r = store_folder_expunge(st, inbox, NULL, 0, &a, &n);
		break;
	case C_EXPUNGE_UIDS:
		r = store_folder_expunge(st, inbox, all, nm, &a, &n);
		break;
	case C_COPY:
		r = store_folder_copy(st, inbox, work, all, nm, false, &a, &b, &n);
		break;
	case C_MOVE:
		r = store_folder_copy(st, inbox, work, all, nm, true, &a, &b, &n);
		break;
	case C_APPEND:
		r = store_folder_append(st, work, M3, strlen(M3), STORE_FLAG_SEEN, "Other", 0,
					&uid);
		break;
	case C_MIME:
		r = store_body_mime_set(st, nm > 0 ? m[0].body_id : 0, "mime", 4);
		break;
	case C_POP3_EXPUNGE: {
		struct store_msg *pm = NULL;
		size_t np = 0;
		store_mailbox_load(st, mb, &pm, &np);
		int64_t ids[8];
		for (size_t i = 0; i < np && i < 8; i++)
			ids[i] = pm[i].id;
		r = store_expunge(st, mb, ids, np);
		free(pm);
		break;
	}
	case C_DELIVER:
		r = store_deliver(st, &mb, 1, M3, strlen(M3), NULL, res);
		break;
	case C_IMPORT: {
		struct store_import_msg im = {.body = M3, .len = strlen(M3), .uidl = "IMPORTED"};
		r = store_import(st, mb, &im, 1, res);
		break;
	}
	case C_COUNT:
		break;
	}
	store_imsgs_free(ch, nch);
	store_imsgs_free(m, nm);
	free(a);
	free(b);
	return r;
}

static void test_fault(void)
{
	test_begin("folders: a failed commit leaves nothing of any writing call (S7)");
	for (int c = 0; c < C_COUNT; c++) {
		char *dir;
		int64_t mb, work = 0;
		struct store *st = setup(&dir, &mb, 0);
		int64_t inbox = folder_id(st, mb, "INBOX");
		test_assert(store_folder_create(st, mb, "Work", STORE_SPECIAL_NONE, &work) ==
			    STORE_OK);
		deliver(st, mb, M1);
		deliver(st, mb, M2);
		append(st, work, M1, 0, "Known");
		struct store_imsg *ch = NULL;
		uint32_t *failed = NULL;
		size_t nch = 0, nf = 0;
		struct store_imsg *m;
		size_t nm = load(st, inbox, &m);
		test_assert(nm == 2);
		test_assert(store_flags_change(st, inbox, &m[1].uid, 1, STORE_FLAGS_ADD,
					       STORE_FLAG_DELETED, NULL, 0, &ch, &nch, &failed,
					       &nf) == STORE_OK);
		store_imsgs_free(ch, nch);
		store_imsgs_free(m, nm);

		char *before = snapshot(st, mb);
		store_test_fail_next_commit(st);
		int r = run_call(st, mb, (enum call)c);
		if (r != STORE_TEMP)
			fprintf(stderr, "call %d: %d %s\n", c, r, store_error(st));
		test_assert(r == STORE_TEMP);
		char *after = snapshot(st, mb);
		if (strcmp(before, after) != 0)
			fprintf(stderr, "call %d changed:\n%s---\n%s", c, before, after);
		test_assert_str(after, before);
		/* and the same call then succeeds */
		test_assert(run_call(st, mb, (enum call)c) == STORE_OK);
		char *done = snapshot(st, mb);
		test_assert(strcmp(done, before) != 0);
		test_assert(verify_ok(st));
		free(before);
		free(after);
		free(done);
		store_close(&st);
		test_rmtree(dir);
	}
	test_end();
}

static void test_keyword_limit(void)
{
	char *dir;
	int64_t mb;
	struct store *st = setup(&dir, &mb, 0);
	int64_t inbox = folder_id(st, mb, "INBOX"), arch = folder_id(st, mb, "Archive");
	struct store_imsg *ch = NULL;
	uint32_t *failed = NULL;
	size_t nch = 0, nf = 0;
	char kw[32];

	test_begin("folders: STORE_FOLDER_KEYWORDS_MAX keywords a folder; COPY past it keeps them");
	uint32_t u = append(st, inbox, M1, 0, NULL);
	uint32_t v = append(st, arch, M2, 0, "Other");
	/* one a message would pass STORE_KEYWORDS_MAX: set and clear each */
	for (int i = 0; i < STORE_FOLDER_KEYWORDS_MAX; i++) {
		snprintf(kw, sizeof(kw), "k%d", i);
		for (int op = STORE_FLAGS_ADD; op <= STORE_FLAGS_REMOVE; op++) {
			test_assert(store_flags_change(st, inbox, &u, 1, (enum store_flag_op)op, 0,
						       kw, 0, &ch, &nch, &failed, &nf) == STORE_OK);
			store_imsgs_free(ch, nch);
			free(failed);
		}
	}
	uint64_t h = highest(st, mb, "INBOX");
	test_assert(store_flags_change(st, inbox, &u, 1, STORE_FLAGS_ADD, 0, "onemore", 0, &ch,
				       &nch, &failed, &nf) == STORE_LIMIT &&
		    nch == 0);
	test_assert(highest(st, mb, "INBOX") == h); /* rolled back */
	/* a keyword the folder knows is still fine, in any case */
	test_assert(store_flags_change(st, inbox, &u, 1, STORE_FLAGS_ADD, 0, "K7", 0, &ch, &nch,
				       &failed, &nf) == STORE_OK &&
		    nch == 1 && strcmp(ch[0].keywords, "k7") == 0);
	store_imsgs_free(ch, nch);
	free(failed);
	uint32_t w = 0;
	test_assert(store_folder_append(st, inbox, M2, strlen(M2), 0, "new", 0, &w) == STORE_LIMIT);
	/* a copy into the full folder: the message keeps its keyword, unlisted */
	uint32_t *src = NULL, *dst = NULL;
	size_t n = 0;
	test_assert(store_folder_copy(st, arch, inbox, &v, 1, false, &src, &dst, &n) == STORE_OK &&
		    n == 1);
	struct store_imsg *m;
	size_t nm = load(st, inbox, &m);
	test_assert(nm == 2 && strcmp(m[1].keywords, "Other") == 0);
	store_imsgs_free(m, nm);
	struct store_folder f = folder(st, mb, "INBOX");
	test_assert(strstr(f.keywords, "Other") == NULL && strstr(f.keywords, "k255") != NULL);
	store_folder_clear(&f);
	free(src);
	free(dst);
	test_assert(verify_ok(st));
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_uid_end(void)
{
	char *dir;
	int64_t mb;
	struct store *st = setup(&dir, &mb, 0);
	int64_t inbox = folder_id(st, mb, "INBOX");

	test_begin("folders: UIDs end at 2^32-1; then the mailbox takes no more (S8)");
	/* the counter brought to the last UID by an import of the UID before
	   it (a source's UIDs are kept, S3), into another folder */
	struct store_import_msg high = {.body = M2,
					.len = strlen(M2),
					.folder_id = folder_id(st, mb, "Archive"),
					.uid = UINT32_MAX - 1};
	int ires = -1;
	test_assert(store_import(st, mb, &high, 1, &ires) == STORE_OK && ires == STORE_OK);
	test_assert(test_next_uid(st, mb) == UINT32_MAX);
	deliver(st, mb, M1);
	struct store_imsg *m;
	test_assert(load(st, inbox, &m) == 1 && m[0].uid == UINT32_MAX);
	store_imsgs_free(m, 1);
	int res = -1;
	store_deliver(st, &mb, 1, M2, strlen(M2), NULL, &res);
	test_assert(res == STORE_QUOTA);
	uint32_t uid = 0;
	test_assert(store_folder_append(st, inbox, M2, strlen(M2), 0, NULL, 0, &uid) != STORE_OK);
	test_assert(load(st, inbox, &m) == 1);
	store_imsgs_free(m, 1);
	test_assert(verify_ok(st));
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){
	    test_defaults, test_names, test_delete_create_again, test_rename, test_inbox_rename,
	    test_flags, test_keyword_limit, test_unchangedsince, test_modseq, test_expunge,
	    test_pruned, test_copy_move, test_quota, test_uid_end, test_append, test_pop3_view,
	    test_mime, test_fault, NULL});
}
