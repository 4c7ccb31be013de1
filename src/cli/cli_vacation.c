/* SPDX-License-Identifier: MIT */
/* cli_vacation.c - `mailroom vacation set|show|remove`: a mailbox's auto-reply. */
#include "cli/cli_private.h"
#include "store/store.h"
#include "util/mem.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BODY_MAX (64 * 1024)
#define SUBJECT_MAX 900
#define INTERVAL_MAX 365
#define DAY 86400

static const char usage[] =
    "usage: mailroom [-c FILE] vacation set ADDRESS --subject TEXT --body-file FILE\n"
    "                                [--external-subject TEXT] [--external-body-file FILE]\n"
    "                                [--until YYYY-MM-DD] [--interval DAYS]\n"
    "       mailroom [-c FILE] vacation show ADDRESS [--json]\n"
    "       mailroom [-c FILE] vacation remove ADDRESS\n"
    "\n"
    "An auto-reply (out of office) answers mail to the mailbox by the rules of\n"
    "RFC 3834: never mail from the null sender, lists (List-Id, Precedence bulk),\n"
    "other automatic mail (Auto-Submitted), MAILER-DAEMON, owner-, -request and\n"
    "noreply senders, or mail that does not name the mailbox in To or Cc; one\n"
    "sender gets one answer per --interval DAYS (1 to 365, default 7).\n"
    "ADDRESS is the mailbox's address or an alias of it alone.\n"
    "FILE holds the text (UTF-8, at most 64 KiB; - reads stdin). Senders in the\n"
    "hosted domains get --subject and --body-file; everyone else gets the\n"
    "--external- ones where given, else the same. --until: the last day (UTC)\n"
    "with replies; without it the auto-reply runs until removed. Setting one\n"
    "again starts afresh: senders answered before are answered again.\n";

enum { O_SUBJECT, O_BODY, O_XSUBJECT, O_XBODY, O_UNTIL, O_INTERVAL, O_JSON, O_N };

static bool utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		size_t k;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
		} else {
			return false;
		}
		if (i + k >= n)
			return false;
		unsigned c1 = s[i + 1];
		/* no overlong forms, no surrogates, nothing past U+10FFFF */
		if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f) ||
		    (c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 > 0x8f))
			return false;
		for (size_t j = 1; j <= k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
		i += k + 1;
	}
	return true;
}

/* The text of --body-file or --external-body-file. */
static int read_text(const char *opt, const char *path, char **text_r)
{
	bool in = strcmp(path, "-") == 0;
	FILE *f = in ? stdin : fopen(path, "rb");

	if (f == NULL) {
		cli_err("vacation set: cannot read --%s %s: %s", opt, path, strerror(errno));
		return EX_NOINPUT;
	}
	char *buf = xmalloc(BODY_MAX + 2);
	size_t n = fread(buf, 1, BODY_MAX + 1, f);
	bool err = ferror(f) != 0;
	int e = errno;
	if (!in)
		fclose(f);
	const char *what = in ? "stdin" : path;
	int rc = 0;
	if (err) {
		cli_err("vacation set: cannot read --%s %s: %s", opt, what, strerror(e));
		rc = EX_NOINPUT;
	} else if (n > BODY_MAX) {
		cli_err("vacation set: --%s %s is larger than 64 KiB: give a shorter text", opt,
			what);
		rc = EX_DATAERR;
	} else if (n == 0) {
		cli_err("vacation set: --%s %s is empty: give the text of the reply", opt, what);
		rc = EX_DATAERR;
	} else if (memchr(buf, '\0', n) != NULL || !utf8_valid((unsigned char *)buf, n)) {
		cli_err("vacation set: --%s %s is not UTF-8 text: save it as UTF-8", opt, what);
		rc = EX_DATAERR;
	}
	if (rc != 0) {
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*text_r = buf;
	return 0;
}

static int check_subject(const char *opt, const char *s)
{
	size_t n = strlen(s);
	bool ctl = false;
	for (size_t i = 0; i < n; i++)
		ctl |= (unsigned char)s[i] < 32 || s[i] == 127;
	if (n == 0 || n > SUBJECT_MAX || ctl || !utf8_valid((const unsigned char *)s, n)) {
		cli_err("vacation set: --%s wants one line of UTF-8 text of 1 to %d bytes", opt,
			SUBJECT_MAX);
		return EX_USAGE;
	}
	return 0;
}

/* --until YYYY-MM-DD, a real day, today (UTC) or later: *until_r is the
   midnight that ends it. */
static int parse_until(const char *v, time_t now, int64_t *until_r)
{
	struct tm tm = {0};
	char *end = NULL;
	bool shape = strlen(v) == 10 && v[4] == '-' && v[7] == '-';

	for (int i = 0; shape && i < 10; i++)
		shape = i == 4 || i == 7 || (v[i] >= '0' && v[i] <= '9');
	if (shape && (end = strptime(v, "%Y-%m-%d", &tm)) != NULL && *end == '\0') {
		int mday = tm.tm_mday, mon = tm.tm_mon;
		time_t day = timegm(&tm);
		struct tm back;
		gmtime_r(&day, &back);
		if (back.tm_mday == mday && back.tm_mon == mon) { /* no 2026-02-30 */
			if (day + DAY <= now) {
				cli_err("vacation set: --until %s is in the past: give today or a "
					"later day",
					v);
				return EX_USAGE;
			}
			*until_r = (int64_t)day + DAY;
			return 0;
		}
	}
	cli_err("vacation set: --until '%s' is not a date: give the last day as YYYY-MM-DD", v);
	return EX_USAGE;
}

static int parse_interval(const char *v, unsigned *days_r)
{
	uint64_t d;
	if (!slice_to_uint(slice_from(v), INTERVAL_MAX, &d) || d == 0) {
		cli_err("vacation set: --interval '%s' is not a number of days from 1 to %d", v,
			INTERVAL_MAX);
		return EX_USAGE;
	}
	*days_r = (unsigned)d;
	return 0;
}

/* A day (YYYY-MM-DD) or a moment (RFC 3339) in UTC. */
static void print_time(char *out, size_t len, bool day, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	if (day)
		strftime(out, len, "%Y-%m-%d", &tm);
	else
		strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int vacation_set(struct cli *c, struct cli_opt *o, const char *address)
{
	struct store_vacation v = {.interval_days = 7};
	struct store *st = NULL;
	int rc;

	if (!o[O_SUBJECT].set || !o[O_BODY].set) {
		cli_err("vacation set: give --subject TEXT and --body-file FILE, as in: vacation "
			"set %s --subject 'Out of office' --body-file away.txt",
			address);
		return EX_USAGE;
	}
	if ((rc = check_subject("subject", o[O_SUBJECT].value)) != 0 ||
	    (o[O_XSUBJECT].set &&
	     (rc = check_subject("external-subject", o[O_XSUBJECT].value)) != 0) ||
	    (o[O_UNTIL].set && (rc = parse_until(o[O_UNTIL].value, time(NULL), &v.until)) != 0) ||
	    (o[O_INTERVAL].set &&
	     (rc = parse_interval(o[O_INTERVAL].value, &v.interval_days)) != 0))
		return rc;
	if (o[O_BODY].set && o[O_XBODY].set && strcmp(o[O_BODY].value, "-") == 0 &&
	    strcmp(o[O_XBODY].value, "-") == 0) {
		cli_err("vacation set: only one of --body-file and --external-body-file can be -");
		return EX_USAGE;
	}
	if ((rc = read_text("body-file", o[O_BODY].value, &v.body)) != 0)
		return rc;
	if (o[O_XBODY].set &&
	    (rc = read_text("external-body-file", o[O_XBODY].value, &v.external_body)) != 0)
		goto out;
	v.subject = xstrdup(o[O_SUBJECT].value);
	v.external_subject = o[O_XSUBJECT].set ? xstrdup(o[O_XSUBJECT].value) : NULL;
	if ((rc = cli_store_open(c, false, &st)) != 0)
		goto out;
	rc = store_vacation_set(st, address, &v);
	if (rc == STORE_OK) {
		char day[16] = "";
		if (v.until > 0)
			print_time(day, sizeof(day), true, v.until - DAY);
		printf("auto-reply for %s set%s%s%s, one reply per sender every %u day%s\n",
		       address, v.until > 0 ? " through " : "", day, v.until > 0 ? " (UTC)" : "",
		       v.interval_days, v.interval_days == 1 ? "" : "s");
	} else {
		rc = cli_store_fail(st, rc);
	}
	store_close(&st);
out:
	store_vacation_clear(&v);
	return rc;
}

/* The text after a label, each line of it indented under the label. */
static void print_text(const char *label, const char *text)
{
	printf("%s\n", label);
	for (const char *p = text; *p != '\0';) {
		size_t n = strcspn(p, "\r\n");
		printf("    %.*s\n", (int)n, p);
		p += n;
		p += *p == '\r' && p[1] == '\n' ? 2 : *p != '\0';
	}
}

static int vacation_show(struct cli *c, bool json, const char *address)
{
	struct store *st = NULL;
	struct store_user u;
	struct store_vacation v;
	int rc;

	if ((rc = cli_store_open(c, false, &st)) != 0)
		return rc;
	if ((rc = store_user_lookup(st, address, &u)) != STORE_OK) {
		/* the store's text for an address that names no single mailbox */
		if ((rc = store_vacation_get(st, address, &v)) == STORE_OK) {
			store_vacation_clear(&v); /* made meanwhile */
			rc = STORE_TEMP;
		}
		rc = cli_store_fail(st, rc);
		store_close(&st);
		return rc;
	}
	rc = store_vacation_get_id(st, u.id, &v);
	if (rc != STORE_OK && rc != STORE_NOTFOUND) {
		rc = cli_store_fail(st, rc);
		goto out;
	}
	bool set = rc == STORE_OK;
	int64_t now = (int64_t)time(NULL);
	bool running = set && (v.until == 0 || now < v.until);
	const char *state = !set ? "none" : running ? "running" : "ended";
	char last[16] = "", created[32] = "";
	if (set && v.until > 0)
		print_time(last, sizeof(last), true, v.until - DAY);
	if (set)
		print_time(created, sizeof(created), false, v.created);
	if (json) {
		fputs("{\"address\":", stdout);
		cli_json_str(stdout, u.address);
		printf(",\"state\":\"%s\",\"running\":%s", state, running ? "true" : "false");
		if (set) {
			fputs(",\"subject\":", stdout);
			cli_json_str(stdout, v.subject);
			fputs(",\"body\":", stdout);
			cli_json_str(stdout, v.body);
			fputs(",\"external_subject\":", stdout);
			v.external_subject ? cli_json_str(stdout, v.external_subject)
					   : (void)fputs("null", stdout);
			fputs(",\"external_body\":", stdout);
			v.external_body ? cli_json_str(stdout, v.external_body)
					: (void)fputs("null", stdout);
			fputs(",\"until\":", stdout);
			v.until > 0 ? cli_json_str(stdout, last) : (void)fputs("null", stdout);
			printf(",\"ends_at\":%lld,\"interval_days\":%u,\"created\":\"%s\"",
			       (long long)v.until, v.interval_days, created);
		}
		fputs("}\n", stdout);
	} else if (!set) {
		printf("%s: no auto-reply\n", u.address);
	} else {
		printf("%s: auto-reply %s", u.address, state);
		if (v.until > 0)
			printf(running ? " through %s (UTC)\n" : ": its last day was %s (UTC)\n",
			       last);
		else
			printf(", no end date\n");
		printf("interval: one reply per sender every %u day%s\nset: %s\nsubject: %s\n",
		       v.interval_days, v.interval_days == 1 ? "" : "s", created, v.subject);
		print_text("text:", v.body);
		if (v.external_subject != NULL)
			printf("external subject: %s\n", v.external_subject);
		if (v.external_body != NULL)
			print_text("external text:", v.external_body);
	}
	rc = 0;
	if (set)
		store_vacation_clear(&v);
out:
	store_user_clear(&u);
	store_close(&st);
	return rc;
}

int cli_vacation(struct cli *c, int argc, char **argv)
{
	struct cli_opt o[O_N] = {
	    [O_SUBJECT] = {.name = "subject", .has_arg = true},
	    [O_BODY] = {.name = "body-file", .has_arg = true},
	    [O_XSUBJECT] = {.name = "external-subject", .has_arg = true},
	    [O_XBODY] = {.name = "external-body-file", .has_arg = true},
	    [O_UNTIL] = {.name = "until", .has_arg = true},
	    [O_INTERVAL] = {.name = "interval", .has_arg = true},
	    [O_JSON] = {.name = "json"},
	};
	const char *pos[2];
	size_t np;
	bool done;
	int rc = cli_parse("vacation", usage, "give an action: set, show or remove", argc, argv, o,
			   O_N, pos, 1, 2, &np, &done);

	if (rc != 0 || done)
		return rc;
	const char *sub = pos[0];
	bool is_set = strcmp(sub, "set") == 0, is_show = strcmp(sub, "show") == 0,
	     is_rm = strcmp(sub, "remove") == 0;
	if (!is_set && !is_show && !is_rm) {
		cli_err("vacation: unknown action '%s': use set, show or remove", sub);
		return EX_USAGE;
	}
	if (np != 2) {
		cli_err("vacation %s: ADDRESS is missing, as in: vacation %s alice@example.org",
			sub, sub);
		return EX_USAGE;
	}
	for (int i = 0; i < O_N; i++)
		if (o[i].set && (is_set ? i == O_JSON : is_show ? i != O_JSON : true)) {
			cli_err("vacation %s does not take --%s (see mailroom vacation --help)",
				sub, o[i].name);
			return EX_USAGE;
		}
	if (is_set)
		return vacation_set(c, o, pos[1]);
	if (is_show)
		return vacation_show(c, o[O_JSON].set, pos[1]);
	struct store *st = NULL;
	if ((rc = cli_store_open(c, false, &st)) != 0)
		return rc;
	rc = store_vacation_remove(st, pos[1]);
	if (rc == STORE_OK)
		printf("auto-reply for %s removed\n", pos[1]);
	else
		rc = cli_store_fail(st, rc);
	store_close(&st);
	return rc;
}
