/* SPDX-License-Identifier: MIT */
/*
 * test_filter_config.c - the [filter] section (filter/filter.h): its
 * defaults, the socket syntax of milter and clamd, the list type the milter
 * key uses (util/config.h CONFIG_LIST: C2, written back as read), and the
 * messages for bad values.
 */
#include "filter/filter.h"
#include "server/schema.h"
#include "test_common.h"
#include "util/buf.h"
#include "util/config.h"

#include <stdlib.h>
#include <string.h>

static void test_sockets(void)
{
	static const char *const good[] = {
	    "inet:127.0.0.1:8891",
	    "inet:localhost:11332",
	    "inet:[::1]:3310",
	    "unix:/run/clamav/clamd.ctl",
	    "unix:/x",
	};
	static const char *const bad[] = {
	    "inet:127.0.0.1", "inet:127.0.0.1:0",   "inet:*:25", "inet:host:99999",
	    "inet::25",	      "unix:relative/path", "unix:",	 "local:/run/x",
	    "127.0.0.1:8891", "unix:/with space",   "",		 "inet:[::1]",
	};
	test_begin("filter: socket names");
	for (size_t i = 0; i < N_ELEMENTS(good); i++)
		test_assert(filter_socket_check(good[i]) == NULL);
	for (size_t i = 0; i < N_ELEMENTS(bad); i++)
		test_assert(filter_socket_check(bad[i]) != NULL);
	char longpath[200] = "unix:/";
	memset(longpath + 6, 'a', 150);
	longpath[156] = '\0';
	test_assert(filter_socket_check(longpath) != NULL); /* over sun_path */
	test_end();
}

static struct config parse(const char *text, char **err)
{
	struct config c;
	*err = NULL;
	if (config_parse(server_schema(), "/t/mailroom.conf", text, strlen(text), &c, err) < 0)
		memset(&c, 0, sizeof(c));
	return c;
}

static void test_defaults(void)
{
	char *err;
	struct config c = parse("", &err);
	const struct filter_config *f = filter_config(&c);

	test_begin("filter: defaults");
	test_assert(f->milter.count == 0);
	test_assert(f->milter_timeout == 30);
	test_assert(f->milter_default_action == FILTER_FAIL_CLOSED);
	test_assert(f->clamd == NULL);
	test_assert(f->clamd_timeout == 120);
	test_assert(f->clamd_default_action == FILTER_FAIL_CLOSED);
	test_assert(f->max_scan_size == 25u << 20);
	config_free(&c);
	test_end();
}

static void test_values(void)
{
	char *err;
	struct config c =
	    parse("[filter]\nmilter = inet:127.0.0.1:1 , unix:/run/b.sock,inet:[::1]:3\n"
		  "milter_default_action = accept\nclamd = inet:127.0.0.1:3310\n"
		  "clamd_default_action = accept\nmax_scan_size = 1M\n",
		  &err);
	const struct filter_config *f = filter_config(&c);
	struct buf out = {0};

	test_begin("filter: a list of milters in order, written back as read (C2)");
	test_assert(err == NULL);
	test_assert(f->milter.count == 3);
	test_assert_str(f->milter.addrs[0], "inet:127.0.0.1:1");
	test_assert_str(f->milter.addrs[1], "unix:/run/b.sock");
	test_assert_str(f->milter.addrs[2], "inet:[::1]:3");
	test_assert(f->milter_default_action == FILTER_FAIL_OPEN);
	test_assert_str(f->clamd, "inet:127.0.0.1:3310");
	test_assert(f->clamd_default_action == FILTER_FAIL_OPEN);
	test_assert(f->max_scan_size == 1u << 20);
	config_write(&c, &out);
	test_assert(
	    strstr(out.data, "\nmilter = inet:127.0.0.1:1, unix:/run/b.sock, inet:[::1]:3\n"));
	test_assert(strstr(out.data, "\nclamd = inet:127.0.0.1:3310\n"));
	struct config back = parse(out.data, &err);
	struct buf again = {0};
	config_write(&back, &again);
	test_assert_str(again.data, out.data);
	buf_free(&out);
	buf_free(&again);
	config_free(&back);
	config_free(&c);

	c = parse("[filter]\nmilter = off\nclamd = off\n", &err);
	test_assert(err == NULL && filter_config(&c)->milter.count == 0);
	test_assert(filter_config(&c)->clamd == NULL);
	config_free(&c);
	test_end();
}

static void test_refused(void)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
	    {"[filter]\nmilter = inet:127.0.0.1\n", ":2: expected inet:HOST:PORT or unix:/PATH"},
	    {"[filter]\nmilter = inet:127.0.0.1:1, ,unix:/x\n", ":2: empty item in the list"},
	    {"[filter]\nmilter = unix:x\n", ":2: expected an absolute path after unix:"},
	    {"[filter]\nclamd = 127.0.0.1:3310\n", ":2: expected inet:HOST:PORT or unix:/PATH"},
	    {"[filter]\nmilter_default_action = reject\n", ":2: expected accept or tempfail"},
	    {"[filter]\nclamd_timeout = 0\n", ":2: expected a duration of 1s or more"},
	    {"[filter]\nmax_scan_size = 10\n", ":2: expected a size from 1K to 4G"},
	};
	test_begin("filter: bad values are refused with file:line");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		char *err;
		struct config c = parse(cases[i].text, &err);
		test_assert(err != NULL && strstr(err, cases[i].msg) != NULL);
		if (err == NULL)
			config_free(&c);
		free(err);
	}
	test_end();
}

int main(void)
{
	return test_run(
	    (void (*[])(void)){test_sockets, test_defaults, test_values, test_refused, NULL});
}
