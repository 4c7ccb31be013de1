/* SPDX-License-Identifier: MIT */
/* test_smtp_policy.c - the relay, recipient and parameter policy of SMTP
   (smtp/smtp_policy.h), as tables of facts and verdicts. */
#include "smtp/smtp_policy.h"
#include "test_common.h"

#include <stdio.h>
#include <string.h>

#define A SMTP_DOMAIN_AUTHORITATIVE
#define I SMTP_DOMAIN_INTERNAL_RELAY
#define E SMTP_DOMAIN_EXTERNAL_RELAY
#define N SMTP_DOMAIN_NONE

static void test_rcpt_table(void)
{
	static const struct {
		struct smtp_rcpt_facts f;
		enum smtp_rcpt_verdict want;
	} rows[] = {
	    /* auth   bare   pm_lp  routing domain found */
	    {{false, false, false, false, A, true}, SMTP_RCPT_LOCAL},
	    {{false, false, false, false, A, false}, SMTP_RCPT_UNKNOWN},
	    {{false, false, false, false, I, false}, SMTP_RCPT_REMOTE},
	    {{false, false, false, false, I, true}, SMTP_RCPT_LOCAL},
	    {{false, false, false, false, E, false}, SMTP_RCPT_REMOTE},
	    {{false, false, false, false, E, true}, SMTP_RCPT_REMOTE},
	    /* no open relay: other domains, literals and routing tricks */
	    {{false, false, false, false, N, false}, SMTP_RCPT_RELAY},
	    {{false, false, false, true, N, false}, SMTP_RCPT_RELAY},
	    {{false, false, false, true, A, true}, SMTP_RCPT_ROUTING},
	    {{false, false, false, true, E, false}, SMTP_RCPT_ROUTING},
	    /* a login may send anywhere, and use routing in hosted domains */
	    {{true, false, false, false, N, false}, SMTP_RCPT_REMOTE},
	    {{true, false, false, true, N, false}, SMTP_RCPT_REMOTE},
	    {{true, false, false, true, A, true}, SMTP_RCPT_LOCAL},
	    {{true, false, false, false, A, false}, SMTP_RCPT_UNKNOWN},
	    /* RFC 5321 §4.5.1: postmaster is always accepted */
	    {{false, true, false, false, N, false}, SMTP_RCPT_POSTMASTER},
	    {{false, false, true, false, A, false}, SMTP_RCPT_POSTMASTER},
	    {{false, false, true, false, A, true}, SMTP_RCPT_LOCAL}, /* its own mailbox */
	    {{false, false, true, false, I, false}, SMTP_RCPT_POSTMASTER},
	    {{false, false, true, false, N, false}, SMTP_RCPT_RELAY}, /* not ours */
	};

	test_begin("smtp policy: recipient verdicts");
	for (size_t i = 0; i < N_ELEMENTS(rows); i++) {
		enum smtp_rcpt_verdict got = smtp_policy_rcpt(&rows[i].f);
		if (got != rows[i].want)
			fprintf(stderr, "row %zu: got %d want %d\n", i, (int)got,
				(int)rows[i].want);
		test_assert(got == rows[i].want);
	}
	test_end();
}

static bool mail_params(const char *arg, struct smtp_mail_params *mp, size_t *bad)
{
	struct smtp_path p;
	test_assert(smtp_parse_path(slice_from(arg), true, true, &p) == SMTP_PATH_OK);
	return smtp_policy_mail_params(&p, mp, bad);
}

static bool rcpt_params(const char *arg, struct smtp_rcpt_params *rp, size_t *bad)
{
	struct smtp_path p;
	test_assert(smtp_parse_path(slice_from(arg), false, false, &p) == SMTP_PATH_OK);
	return smtp_policy_rcpt_params(&p, rp, bad);
}

static void test_params(void)
{
	static const struct {
		const char *arg;
		bool ok;
		size_t bad;
	} mail_rows[] = {
	    {"<a@b.c>", true, 0},
	    {"<a@b.c> SIZE=100 BODY=8BITMIME", true, 0},
	    {"<a@b.c> body=7bit smtputf8", true, 0},
	    {"<a@b.c> RET=HDRS ENVID=x+2By AUTH=<>", true, 0},
	    {"<a@b.c> SIZE=x", false, 0},
	    {"<a@b.c> SIZE=1 BODY=BINARYMIME", false, 1},
	    {"<a@b.c> SMTPUTF8=yes", false, 0},
	    {"<a@b.c> RET=ALL", false, 0},
	    {"<a@b.c> ENVID=bad+zz", false, 0},
	    {"<a@b.c> XFOO", false, 0},
	};
	static const struct {
		const char *arg;
		bool ok;
	} rcpt_rows[] = {
	    {"<a@b.c>", true},
	    {"<a@b.c> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b.c", true},
	    {"<a@b.c> NOTIFY=never", true},
	    {"<a@b.c> NOTIFY=SUCCESS,", false},
	    {"<a@b.c> NOTIFY=SOMETIMES", false},
	    {"<a@b.c> ORCPT=noseparator", false},
	    {"<a@b.c> NOTIFY", false},
	    {"<a@b.c> SIZE=1", false},
	};
	struct smtp_mail_params mp;
	struct smtp_rcpt_params rp;
	size_t bad;

	test_begin("smtp policy: MAIL and RCPT parameters");
	for (size_t i = 0; i < N_ELEMENTS(mail_rows); i++) {
		bad = 99;
		bool ok = mail_params(mail_rows[i].arg, &mp, &bad);
		test_assert(ok == mail_rows[i].ok);
		if (!ok)
			test_assert(bad == mail_rows[i].bad);
	}
	test_assert(
	    mail_params("<a@b.c> SIZE=100 BODY=8BITMIME SMTPUTF8 RET=FULL ENVID=e1", &mp, &bad));
	test_assert(mp.size == 100 && mp.body_8bit && mp.smtputf8);
	test_assert(slice_eq(mp.ret, "FULL") && slice_eq(mp.envid, "e1"));
	for (size_t i = 0; i < N_ELEMENTS(rcpt_rows); i++)
		test_assert(rcpt_params(rcpt_rows[i].arg, &rp, &bad) == rcpt_rows[i].ok);
	test_assert(rcpt_params("<a@b.c> NOTIFY=DELAY,SUCCESS ORCPT=rfc822;x@y.z", &rp, &bad));
	test_assert(slice_eq(rp.notify, "DELAY,SUCCESS") && slice_eq(rp.orcpt, "rfc822;x@y.z"));
	test_assert(smtp_policy_notify_success(slice_from("DELAY,success")));
	test_assert(!smtp_policy_notify_success(slice_from("FAILURE,DELAY")));
	test_assert(!smtp_policy_notify_success(slice_from("NEVER")));
	test_end();
}

static void test_sender(void)
{
	static const int64_t ids[] = {3, 7};

	test_begin("smtp policy: sender owned by the login");
	test_assert(smtp_policy_sender_owned(ids, 2, 7));
	test_assert(!smtp_policy_sender_owned(ids, 2, 4));
	test_assert(!smtp_policy_sender_owned(NULL, 0, 3));
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_rcpt_table, test_params, test_sender, NULL});
}
