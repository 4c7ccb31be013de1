/* SPDX-License-Identifier: MIT */
/* dsn.c - see dsn.h. */
#include "queue/dsn.h"
#include "util/log.h"
#include "util/mem.h"

#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

bool dsn_wanted(const char *notify, enum dsn_action a)
{
	const char *word = a == DSN_FAILED ? "FAILURE" : a == DSN_DELAYED ? "DELAY" : "SUCCESS";

	if (notify == NULL)
		return a != DSN_RELAYED && a != DSN_DELIVERED;
	if (strcasecmp(notify, "NEVER") == 0)
		return false;
	return strcasestr(notify, word) != NULL;
}

/* Text from elsewhere (a next hop's reply, envelope fields) goes into the
   report's fields and lines with every control octet, CR and LF above all,
   replaced by a space: it can never end a line or add a field. */
static void put_clean(struct buf *out, const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		buf_append_c(out, (unsigned char)*s < 32 || *s == 127 ? ' ' : *s);
}

static void rfc5322_date(char *out, size_t len, time_t t)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, len, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

/* An SMTP reply of the next hop: three digits, then a space or the end.
   mailroom's own reasons (connection lost, no 8BITMIME...) start with the
   enhanced status code instead. */
static bool is_smtp_reply(const char *r)
{
	return r != NULL && isdigit((unsigned char)r[0]) && isdigit((unsigned char)r[1]) &&
	       isdigit((unsigned char)r[2]) && (r[3] == ' ' || r[3] == '\0');
}

/* "5.1.1" from "550 5.1.1 <x>: unknown" or from "5.1.1 ...", else class.0.0 */
static void status_of(const char *reply, enum dsn_action a, char *out, size_t len)
{
	int cls = a == DSN_DELAYED ? 4 : a == DSN_RELAYED || a == DSN_DELIVERED ? 2 : 5;
	const char *s = reply == NULL	       ? ""
			: is_smtp_reply(reply) ? reply + 3 + (reply[3] == ' ')
					       : reply;
	size_t n = 0, dots = 0;
	while (n < 9 && (isdigit((unsigned char)s[n]) || s[n] == '.'))
		dots += s[n++] == '.';
	if (n >= 5 && (s[0] == '2' || s[0] == '4' || s[0] == '5') && s[1] == '.' && dots == 2 &&
	    s[2] != '.' && s[n - 1] != '.' && (s[n] == ' ' || s[n] == '\0')) {
		snprintf(out, len, "%.*s", (int)n, s);
		/* the class follows the action (RFC 3464 §2.3.4): a temporary reason
		   that ran out of time fails now, a delay is never 5.x.x */
		out[0] = (char)('0' + cls);
		return;
	}
	snprintf(out, len, "%d.0.0", cls);
}

void dsn_build(struct buf *out, const char *hostname, const struct store_queue_msg *m,
	       const size_t *which, size_t n, enum dsn_action action, const char *report_id)
{
	char date[64], arrival[64], boundary[80];
	time_t now = time(NULL);
	bool hdrs_only = m->dsn_ret != NULL && strcasecmp(m->dsn_ret, "HDRS") == 0;

	rfc5322_date(date, sizeof(date), now);
	rfc5322_date(arrival, sizeof(arrival), (time_t)m->created);
	snprintf(boundary, sizeof(boundary), "%s/%s", report_id, hostname);
	buf_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", hostname);
	buf_append_str(out, "To: <");
	put_clean(out, m->sender);
	buf_append_str(out, ">\r\n");
	buf_printf(out, "Subject: %s\r\n",
		   action == DSN_FAILED	   ? "Undelivered Mail Returned to Sender"
		   : action == DSN_DELAYED ? "Delayed Mail (still being retried)"
					   : "Successful Mail Delivery Report");
	buf_printf(out, "Date: %s\r\nMessage-ID: <%s@%s>\r\nAuto-Submitted: auto-replied\r\n", date,
		   report_id, hostname);
	buf_printf(out,
		   "MIME-Version: 1.0\r\nContent-Type: multipart/report; "
		   "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n\r\n",
		   boundary);
	buf_append_str(out, "This is a MIME-encapsulated message.\r\n\r\n");

	/* 1: for people */
	buf_printf(out, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n", boundary);
	buf_printf(out, "This is the mail system at %s.\r\n\r\n", hostname);
	if (action == DSN_FAILED)
		buf_append_str(out,
			       "Your message could not be delivered to the recipients below.\r\n"
			       "It will not be retried.\r\n\r\n");
	else if (action == DSN_DELAYED)
		buf_append_str(out,
			       "Your message has not been delivered yet to the recipients "
			       "below.\r\nIt is still being retried; no action is needed.\r\n\r\n");
	else if (action == DSN_DELIVERED)
		buf_append_str(out, "Your message was delivered to the mailboxes of the recipients "
				    "below.\r\n\r\n");
	else
		buf_append_str(out, "Your message was passed on to the recipients' mail system,\r\n"
				    "which does not send delivery reports.\r\n\r\n");
	for (size_t i = 0; i < n; i++) {
		const struct store_queue_rcpt *r = &m->rcpts[which[i]];
		buf_append_c(out, '<');
		put_clean(out, r->address);
		buf_append_str(out, ">: ");
		put_clean(out, r->remote_reply);
		buf_append_str(out, "\r\n");
	}
	buf_append_str(out, "\r\n");

	/* 2: for programs (RFC 3464 §2) */
	buf_printf(out, "--%s\r\nContent-Type: message/delivery-status\r\n\r\n", boundary);
	buf_printf(out, "Reporting-MTA: dns; %s\r\nX-Mailroom-Queue-ID: %s\r\n", hostname, m->qid);
	if (m->dsn_envid != NULL) {
		buf_append_str(out, "Original-Envelope-Id: ");
		put_clean(out, m->dsn_envid);
		buf_append_str(out, "\r\n");
	}
	buf_printf(out, "Arrival-Date: %s\r\n", arrival);
	for (size_t i = 0; i < n; i++) {
		const struct store_queue_rcpt *r = &m->rcpts[which[i]];
		char status[16];
		status_of(r->remote_reply, action, status, sizeof(status));
		buf_append_str(out, "\r\n");
		if (r->dsn_orcpt != NULL) {
			buf_append_str(out, "Original-Recipient: ");
			put_clean(out, r->dsn_orcpt);
			buf_append_str(out, "\r\n");
		}
		buf_append_str(out, "Final-Recipient: rfc822; ");
		put_clean(out, r->address);
		buf_printf(out, "\r\nAction: %s\r\nStatus: %s\r\n",
			   action == DSN_FAILED	     ? "failed"
			   : action == DSN_DELAYED   ? "delayed"
			   : action == DSN_DELIVERED ? "delivered"
						     : "relayed",
			   status);
		if (r->remote_reply != NULL && r->remote_reply[0] != '\0') {
			buf_append_str(out, is_smtp_reply(r->remote_reply)
						? "Diagnostic-Code: smtp; "
						: "Diagnostic-Code: X-mailroom; ");
			put_clean(out, r->remote_reply);
			buf_append_str(out, "\r\n");
		}
	}
	buf_append_str(out, "\r\n");

	/* 3: the original, whole or its header (RET) */
	const char *body = m->body.data != NULL ? m->body.data : "";
	size_t len = m->body.len;
	if (hdrs_only || action != DSN_FAILED) {
		const char *end = NULL;
		for (size_t i = 0; i + 3 < len && end == NULL; i++)
			if (memcmp(body + i, "\r\n\r\n", 4) == 0)
				end = body + i + 2;
		len = end != NULL ? (size_t)(end - body) : len;
		buf_printf(out, "--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n", boundary);
	} else {
		buf_printf(out, "--%s\r\nContent-Type: message/rfc822\r\n\r\n", boundary);
	}
	buf_append(out, body, len);
	if (len < 2 || body[len - 2] != '\r' || body[len - 1] != '\n')
		buf_append_str(out, "\r\n");
	buf_printf(out, "\r\n--%s--\r\n", boundary);
}

/* --- reports ready to store --------------------------------------------------------- */
