/* SPDX-License-Identifier: MIT */
/*
 * imap_envelope.c - ENVELOPE (imap_fetch_struct.h) from the raw header
 * values a MIME tree keeps for each message part. Addresses are read with
 * mime_address_parse(); every occurrence of a field adds its addresses,
 * as if they were one comma-separated list (so a second From cannot hide
 * behind the first). Date, In-Reply-To and Message-ID lose their line
 * breaks; the subject and display names are text for people
 * (imap_write_text()). A group is ("NIL NIL name NIL") ... (NIL NIL NIL
 * NIL), RFC 9051 §7.5.2.
 */
#include "imap/imap_fetch_struct.h"
#include "imap/imap_write.h"
#include "mime/mime_address.h"

#include <string.h>

struct addr_out {
	struct buf *out;
	size_t n;
};

static void write_address(void *ctx, const struct mime_address *a)
{
	struct addr_out *ao = ctx;
	struct buf *out = ao->out;

	buf_append_str(out, ao->n++ == 0 ? "((" : "(");
	if (a->name == NULL)
		buf_append_str(out, "NIL");
	else
		imap_write_text(out, a->name, strlen(a->name));
	buf_append_c(out, ' ');
	imap_write_nstr(out, a->route);
	buf_append_c(out, ' ');
	imap_write_nstr(out, a->mailbox);
	buf_append_c(out, ' ');
	imap_write_nstr(out, a->domain);
	buf_append_c(out, ')');
}

/* The address list of every occurrence of a field; false (nothing
   written) when there is no address in them. */
static bool write_list(struct mime_strs field, struct buf *out)
{
	struct addr_out ao = {out, 0};
	size_t start = out->len;

	for (size_t i = 0; i < field.n; i++)
		mime_address_parse(field.v[i], field.len[i], write_address, &ao);
	if (ao.n == 0) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
		return false;
	}
	buf_append_c(out, ')');
	return true;
}

static void write_list_or(struct mime_strs field, struct mime_strs fallback, struct buf *out)
{
	if (!write_list(field, out) && !write_list(fallback, out))
		buf_append_str(out, "NIL");
}

void imap_envelope_write(const struct mime_part *message, struct buf *out)
{
	const struct mime_envelope *e = message != NULL ? message->envelope : NULL;
	static const struct mime_strs none = {NULL, NULL, 0};

	if (e == NULL) {
		buf_append_str(out, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
		return;
	}
	buf_append_c(out, '(');
	imap_write_nstr_nolf(out, e->date);
	buf_append_c(out, ' ');
	if (e->subject == NULL)
		buf_append_str(out, "NIL");
	else
		imap_write_text(out, e->subject, strlen(e->subject));
	buf_append_c(out, ' ');
	write_list_or(e->from, none, out);
	buf_append_c(out, ' ');
	write_list_or(e->sender, e->from, out);
	buf_append_c(out, ' ');
	write_list_or(e->reply_to, e->from, out);
	buf_append_c(out, ' ');
	write_list_or(e->to, none, out);
	buf_append_c(out, ' ');
	write_list_or(e->cc, none, out);
	buf_append_c(out, ' ');
	write_list_or(e->bcc, none, out);
	buf_append_c(out, ' ');
	imap_write_nstr_nolf(out, e->in_reply_to);
	buf_append_c(out, ' ');
	imap_write_nstr_nolf(out, e->message_id);
	buf_append_c(out, ')');
}
