/* SPDX-License-Identifier: MIT */
/*
 * smtp_policy.c - the relay, recipient and parameter policy of SMTP as pure
 * functions (see smtp_policy.h). Nothing here may look anything up, log or
 * allocate: the session gathers the facts and replies.
 */
#include "smtp/smtp_policy.h"

#include <string.h>

bool smtp_policy_mail_params(const struct smtp_path *p, struct smtp_mail_params *out, size_t *bad_r)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < p->n_params; i++) {
		const struct smtp_param *pm = &p->params[i];
		uint64_t n;
		if (slice_eq_ci(pm->key, "SIZE") && pm->has_value &&
		    smtp_parse_number(pm->value, &n)) {
			out->size = n;
		} else if (slice_eq_ci(pm->key, "BODY") &&
			   (slice_eq_ci(pm->value, "7BIT") || slice_eq_ci(pm->value, "8BITMIME"))) {
			out->body_8bit = slice_eq_ci(pm->value, "8BITMIME");
		} else if (slice_eq_ci(pm->key, "SMTPUTF8") && !pm->has_value) {
			out->smtputf8 = true;
		} else if (slice_eq_ci(pm->key, "RET") &&
			   (slice_eq_ci(pm->value, "FULL") || slice_eq_ci(pm->value, "HDRS"))) {
			out->ret = pm->value;
		} else if (slice_eq_ci(pm->key, "ENVID") && pm->has_value &&
			   pm->value.len <= SMTP_ENVID_MAX && smtp_xtext_valid(pm->value)) {
			out->envid = pm->value;
		} else if (slice_eq_ci(pm->key, "AUTH") && pm->has_value) {
			/* RFC 4954 §5: accepted; we record our own login instead */
		} else {
			*bad_r = i;
			return false;
		}
	}
	return true;
}

bool smtp_policy_notify_valid(struct slice v)
{
	if (slice_eq_ci(v, "NEVER"))
		return true;
	while (v.len > 0) {
		const char *comma = memchr(v.p, ',', v.len);
		struct slice w = {v.p, comma != NULL ? (size_t)(comma - v.p) : v.len};
		if (!slice_eq_ci(w, "SUCCESS") && !slice_eq_ci(w, "FAILURE") &&
		    !slice_eq_ci(w, "DELAY"))
			return false;
		v.p += w.len + (comma != NULL);
		v.len -= w.len + (comma != NULL);
		if (comma != NULL && v.len == 0)
			return false;
	}
	return true;
}

bool smtp_policy_notify_success(struct slice v)
{
	while (v.len > 0) {
		const char *comma = memchr(v.p, ',', v.len);
		struct slice w = {v.p, comma != NULL ? (size_t)(comma - v.p) : v.len};
		if (slice_eq_ci(w, "SUCCESS"))
			return true;
		v.p += w.len + (comma != NULL);
		v.len -= w.len + (comma != NULL);
	}
	return false;
}

bool smtp_policy_rcpt_params(const struct smtp_path *p, struct smtp_rcpt_params *out, size_t *bad_r)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < p->n_params; i++) {
		const struct smtp_param *pm = &p->params[i];
		if (slice_eq_ci(pm->key, "NOTIFY") && pm->has_value &&
		    smtp_policy_notify_valid(pm->value)) {
			out->notify = pm->value;
		} else if (slice_eq_ci(pm->key, "ORCPT") && pm->has_value &&
			   pm->value.len <= SMTP_ORCPT_MAX &&
			   memchr(pm->value.p, ';', pm->value.len) != NULL) {
			out->orcpt = pm->value;
		} else {
			*bad_r = i;
			return false;
		}
	}
	return true;
}

enum smtp_rcpt_verdict smtp_policy_rcpt(const struct smtp_rcpt_facts *f)
{
	if (f->bare_postmaster)
		return SMTP_RCPT_POSTMASTER; /* RFC 5321 §4.5.1: always accepted */
	if (f->domain == SMTP_DOMAIN_NONE)
		return f->authenticated ? SMTP_RCPT_REMOTE : SMTP_RCPT_RELAY;
	if (f->routing && !f->authenticated)
		return SMTP_RCPT_ROUTING; /* "user%other@hosted": no relay through us */
	if (f->domain == SMTP_DOMAIN_EXTERNAL_RELAY)
		return SMTP_RCPT_REMOTE;
	if (f->found)
		return SMTP_RCPT_LOCAL;
	if (f->postmaster_local)
		return SMTP_RCPT_POSTMASTER;
	return f->domain == SMTP_DOMAIN_INTERNAL_RELAY ? SMTP_RCPT_REMOTE : SMTP_RCPT_UNKNOWN;
}

bool smtp_policy_sender_owned(const int64_t *ids, size_t n, int64_t mailbox_id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == mailbox_id)
			return true;
	return false;
}
