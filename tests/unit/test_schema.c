/* SPDX-License-Identifier: MIT */
/*
 * test_schema.c - what mailroom.conf is made of (server/schema.h) and the
 * engine's walk over it (util/config.h C1-C3): section names and key names
 * are unique, each key's table entry is complete for its type, every key
 * is written exactly once by config_write() in schema order, the defaults
 * read back to themselves, config_diff() names exactly the keys that
 * changed, and a section's own check runs after the file.
 */
#include "server/schema.h"
#include "smtp/smtp.h"
#include "test_common.h"
#include "util/buf.h"
#include "util/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_tables(void)
{
	const struct config_schema *s = server_schema();

	test_begin("schema: unique sections and keys, complete entries");
	test_assert(s == server_schema()); /* built once */
	test_assert(s->n_sections >= 13 && s->n_sections <= CONFIG_SECTIONS_MAX);
	test_assert_str(s->sections[0]->name, "server");
	test_assert_str(s->sections[1]->name, "listen");
	for (size_t i = 0; i < s->n_sections; i++) {
		const struct config_section *sec = s->sections[i];
		for (size_t j = 0; j < i; j++)
			test_assert(strcmp(sec->name, s->sections[j]->name) != 0);
		test_assert(sec->n_keys >= 1);
		for (size_t k = 0; k < sec->n_keys; k++) {
			const struct config_key *key = &sec->keys[k];
			for (size_t j = 0; j < k; j++)
				test_assert(strcmp(key->name, sec->keys[j].name) != 0);
			if (key->type == CONFIG_ENUM || key->type == CONFIG_NAMES)
				test_assert(key->names != NULL && key->names[0] != NULL);
			if (key->type == CONFIG_LIST)
				test_assert(key->check != NULL);
			/* a part's field lies inside the part's struct */
			if (sec->size > 0)
				test_assert(key->off < sec->size);
		}
	}
	test_end();
}

static size_t count_keys(void)
{
	const struct config_schema *s = server_schema();
	size_t n = 0;
	for (size_t i = 0; i < s->n_sections; i++)
		n += s->sections[i]->n_keys;
	return n;
}

static void test_write(void)
{
	struct config a, b;
	struct buf once = {0}, twice = {0};
	char *err = NULL;

	test_begin("schema: C1 defaults parse, C2 write reads back, C3 one line per key");
	test_assert(config_parse(server_schema(), "/t/mailroom.conf", "", 0, &a, &err) == 0);
	config_write(&a, &once);
	size_t lines = 0, headers = 0;
	for (const char *p = once.data; *p != '\0'; p += strcspn(p, "\n") + 1) {
		if (*p == '[')
			headers++;
		else if (*p != '\n')
			lines++;
	}
	test_assert(headers == server_schema()->n_sections);
	test_assert(lines == count_keys());
	test_assert(
	    config_parse(server_schema(), "/t/mailroom.conf", once.data, once.len, &b, &err) == 0);
	config_write(&b, &twice);
	test_assert(once.len == twice.len && memcmp(once.data, twice.data, once.len) == 0);
	config_free(&a);
	config_free(&b);
	buf_free(&once);
	buf_free(&twice);
	test_end();
}

struct seen {
	char keys[8][64];
	size_t n;
};

static void note(const char *key, void *arg)
{
	struct seen *s = arg;
	if (s->n < 8)
		snprintf(s->keys[s->n++], sizeof(s->keys[0]), "%s", key);
}

static void test_diff(void)
{
	static const char text[] = "[listen]\npop3 = 127.0.0.1:110\n"
				   "[smtp]\nmax_recipients = 500\n"
				   "[ldap]\nalias_attribute = none\n";
	struct config a, b;
	struct seen seen = {0};
	char *err = NULL;

	test_begin("schema: config_diff names the changed keys, in schema order");
	test_assert(config_parse(server_schema(), "/t/a.conf", "", 0, &a, &err) == 0);
	test_assert(config_parse(server_schema(), "/t/a.conf", text, sizeof(text) - 1, &b, &err) ==
		    0);
	test_assert(smtp_config(&b)->max_recipients == 500);
	config_diff(&a, &b, note, &seen);
	test_assert(seen.n == 3);
	test_assert_str(seen.keys[0], "listen.pop3");
	test_assert_str(seen.keys[1], "smtp.max_recipients");
	test_assert_str(seen.keys[2], "ldap.alias_attribute");
	config_free(&a);
	config_free(&b);
	test_end();
}

static void test_errors(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"[imap4]\n", "/t/e.conf:1: unknown section [imap4]"},
	    {"[smtp]\nmax_recipients = 0\n", "/t/e.conf:2: expected a number from 1 to 100000"},
	    {"[smtp]\nmax_message_size = 2G\n", "/t/e.conf:2: expected a size from 1K to 1G"},
	    {"[server]\nlog_level = loud\n", "/t/e.conf:2: expected debug, info, warn or error"},
	    {"[directory]\nbackend = ldap, nis\n",
	     "/t/e.conf:2: expected builtin, ldap, pam or passwd-file (comma-separated, in order)"},
	    {"[directory]\nbackend = ldap, ldap\n", "/t/e.conf:2: each name may appear once"},
	    {"[limits]\nidle_timeout = 0\n",
	     "/t/e.conf:2: expected a duration of 1s or more, such as 30s, 10m or 1h"},
	    /* a section's own check, after the whole file */
	    {"[gssapi]\nkeytab = k.keytab\n", "/t/e.conf: [gssapi] keytab is set but realm is not"},
	};

	test_begin("schema: messages come from the key's type and the section's check");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config c;
		char *err = NULL;
		test_assert(config_parse(server_schema(), "/t/e.conf", cases[i].text,
					 strlen(cases[i].text), &c, &err) < 0);
		test_assert(err != NULL);
		if (err != NULL)
			test_assert_str(err, cases[i].want);
		free(err);
	}
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_tables, test_write, test_diff, test_errors, NULL});
}
