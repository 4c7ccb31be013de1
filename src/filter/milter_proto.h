/* SPDX-License-Identifier: MIT */
/*
 * milter_proto.h - the milter protocol, version 6, as bytes: the packets an
 * MTA sends to a filter, and an incremental reader of the filter's
 * replies. No I/O here and no session state; filter/milter.c drives a
 * conversation with these.
 *
 * A packet is a 4-octet big-endian length, then that many octets: a command
 * octet and its data. Strings in the data end with a NUL; integers are
 * 32-bit big-endian (the port in CONNECT is 16-bit). Every constant comes
 * from libmilter-dev's <libmilter/mfapi.h> and <libmilter/mfdef.h>
 * (SMFIC_* commands, SMFIR_* replies, SMFIF_* actions, SMFIP_* protocol
 * flags, SMFIA_* families, SMFIM_* macro stages); libmilter itself is not
 * linked, this client is our own.
 *
 * Encoders append one whole packet to a struct buf and return false (and
 * append nothing) when its data would exceed MILTER_MAX_DATA_SIZE, the most
 * a filter reads unless larger sizes were negotiated (we never offer them).
 *
 * The reader is a byte machine in the manner of queue/smtp_reply.h: feed it
 * whatever the socket delivered, in pieces of any size; it never consumes
 * past the end of the packet it completes, and what it returns never depends
 * on how the input was cut. It is strict, since a filter that breaks the
 * grammar cannot be trusted to mean what it seems to say: an unknown reply,
 * a packet longer than MILTER_PACKET_MAX, data where none belongs, a string
 * without its NUL, octets after the last field, an SMTP reply that is not
 * one (see milter_reply_text_valid()), a header name or value that would
 * change the message's structure, or an address with control characters
 * stop it (MILTER_READ_BAD). The caller then drops the connection.
 */
#ifndef MAILROOM_FILTER_MILTER_PROTO_H
#define MAILROOM_FILTER_MILTER_PROTO_H

#include <libmilter/mfapi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* The largest reply packet read (its length field: command octet and
   data): MILTER_MAX_DATA_SIZE (64 KiB - 1) of data, the command octet, and
   a margin for filters that count the length in other ways. Larger ones
   are refused before anything is buffered. */
#define MILTER_PACKET_MAX (MILTER_MAX_DATA_SIZE + 1 + 1024)
/* SETSYMLIST lists in one negotiation reply: one per stage SMFIM_CONNECT
   to SMFIM_EOH */
#define MILTER_SYMLISTS_MAX (SMFIM_LAST + 1)
/* An SMTP reply from REPLYCODE: lines, octets of one line (RFC 5321
   §4.5.3.1.5 says 512; deployed filters stay far below) */
#define MILTER_REPLY_LINES_MAX 32
#define MILTER_REPLY_LINE_MAX 998

/* --- MTA -> filter ------------------------------------------------------------------------ */

/* SMFIC_OPTNEG: our version, the actions we allow (SMFIF_*), the protocol
   steps we can leave out or not wait for (SMFIP_*). */
bool milter_put_optneg(struct buf *out, uint32_t version, uint32_t actions, uint32_t protocol);
/* SMFIC_MACRO for the command `cmd` (SMFIC_CONNECT ... SMFIC_BODYEOB):
   n pairs of names ("j", "{daemon_name}") and values. */
bool milter_put_macro(struct buf *out, char cmd, const char *const *names,
		      const char *const *values, size_t n);
/* SMFIC_CONNECT: the client's host name ("[192.0.2.1]" when unverified),
   then the family: SMFIA_INET, SMFIA_INET6 and SMFIA_UNIX carry a port
   (0 for unix) and the address text; SMFIA_UNKNOWN carries neither. */
bool milter_put_connect(struct buf *out, const char *hostname, char family, uint16_t port,
			const char *addr);
bool milter_put_helo(struct buf *out, const char *helo);
/* SMFIC_MAIL and SMFIC_RCPT: the address as given ("<a@b.example>"), then
   each ESMTP argument ("SIZE=1234") as its own string. */
bool milter_put_mail(struct buf *out, const char *addr, const char *const *args, size_t n);
bool milter_put_rcpt(struct buf *out, const char *addr, const char *const *args, size_t n);
/* SMFIC_HEADER: the field name, the value (without the CRLF that ends the
   field; folded lines joined by LF, as Sendmail and Postfix send them). */
bool milter_put_header(struct buf *out, const char *name, const char *value);
/* SMFIC_BODY: one chunk of at most MILTER_CHUNK_SIZE octets, as is. */
bool milter_put_body(struct buf *out, const void *p, size_t len);
/* SMFIC_UNKNOWN: an SMTP command the MTA did not know. */
bool milter_put_unknown(struct buf *out, const char *line);
/* The commands without data: SMFIC_DATA, SMFIC_EOH, SMFIC_BODYEOB,
   SMFIC_ABORT, SMFIC_QUIT, SMFIC_QUIT_NC. Any other cmd is a program
   error (false). */
bool milter_put_simple(struct buf *out, char cmd);

/* --- filter -> MTA ------------------------------------------------------------------------ */

enum milter_read_status {
	MILTER_READ_BAD = -1,	/* malformed: r->error says how; feed no more */
	MILTER_READ_MORE = 0,	/* every octet consumed, the packet is not complete */
	MILTER_READ_PACKET = 1, /* one packet complete: r->reply holds it */
};

enum milter_read_error {
	MILTER_ERR_OK,
	MILTER_ERR_EMPTY,     /* a length of 0: not even a command octet */
	MILTER_ERR_TOO_LONG,  /* over MILTER_PACKET_MAX */
	MILTER_ERR_UNKNOWN,   /* not a reply command */
	MILTER_ERR_DATA,      /* data after a reply that has none, or after its last field */
	MILTER_ERR_SHORT,     /* a field missing, or a string without its NUL */
	MILTER_ERR_REPLY,     /* REPLYCODE text that is not an SMTP 4xx/5xx reply */
	MILTER_ERR_HEADER,    /* a header name or value that is not one */
	MILTER_ERR_ADDRESS,   /* an empty address, or control characters in it or its args */
	MILTER_ERR_TEXT,      /* a quarantine reason that is empty or has control characters */
	MILTER_ERR_SYMLIST,   /* a macro list with other than printable names */
	MILTER_ERR_NEGOTIATE, /* an OPTNEG reply shorter than its three numbers */
};

struct milter_symlist {
	uint32_t stage;	    /* SMFIM_CONNECT ... SMFIM_EOH (others are read and ignored) */
	struct slice names; /* space-separated macro names, as sent */
};

/* One reply. Slices point into the reader's buffer and are NUL-terminated
   there; they are valid until the next feed. */
struct milter_reply {
	char cmd; /* SMFIR_* or, for the negotiation, SMFIC_OPTNEG */
	/* SMFIC_OPTNEG */
	uint32_t version, actions, protocol;
	struct milter_symlist symlists[MILTER_SYMLISTS_MAX];
	size_t n_symlists;
	/* SMFIR_SETSYMLIST alone: symlists[0] */
	/* SMFIR_REPLYCODE: the whole reply ("550 5.7.1 text", lines joined by
	   CRLF) and its code */
	struct slice text;
	int code;
	/* SMFIR_INSHEADER: position (0: first); SMFIR_CHGHEADER: occurrence
	   (1: first; 0 means 1) */
	uint32_t index;
	/* SMFIR_ADDHEADER, INSHEADER, CHGHEADER: name, value (value empty:
	   CHGHEADER deletes) */
	struct slice name, value;
	/* SMFIR_ADDRCPT, ADDRCPT_PAR, DELRCPT, CHGFROM: the address; args: the
	   ESMTP arguments of ADDRCPT_PAR and CHGFROM (len 0: none) */
	struct slice addr, args;
	/* SMFIR_REPLBODY: a piece of the new body; SMFIR_QUARANTINE: the reason */
	struct slice data;
};

struct milter_reader {
	enum milter_read_error error;
	struct milter_reply reply;
	/* private */
	uint8_t head[MILTER_LEN_BYTES + 1]; /* the length and the command */
	size_t head_len;
	uint32_t data_len; /* the packet's data octets (length - 1) */
	uint32_t have;	   /* of them buffered */
	bool done;	   /* PACKET was returned: the next feed starts a packet */
	bool bad;
	char data[MILTER_PACKET_MAX + 1]; /* + a NUL after the last field */
};

void milter_reader_init(struct milter_reader *r);
/* Consumes in[0..len) up to the end of the next packet; *used_r says how
   many octets. */
enum milter_read_status milter_reader_feed(struct milter_reader *r, const void *in, size_t len,
					   size_t *used_r);
/* Decodes one packet's data (len octets at data, which must be followed by
   one writable octet the decoder may set to NUL) into *rep; the reader
   calls it. MILTER_ERR_OK or the error. */
enum milter_read_error milter_decode(char cmd, char *data, size_t len, struct milter_reply *rep);
/* A short English phrase for e, for logs. */
const char *milter_read_error_text(enum milter_read_error e);
/* The name of an SMFIR_* reply or SMFIC_* command ("ADDHEADER"), or "?". */
const char *milter_cmd_name(char cmd, bool reply);

/* Whether text (len octets) is an SMTP reply a filter may give: one or
   more lines joined by CRLF (no CRLF at the end), each a code 4xx or 5xx
   (second digit 0-5), "-" on every line but the last and a space on the
   last, then an enhanced status code of the same class (RFC 3463: class
   "." 1-3 digits "." 1-3 digits) and optional text of printable ASCII and
   HT; the same code on every line, at most MILTER_REPLY_LINES_MAX lines of
   at most MILTER_REPLY_LINE_MAX octets. Postfix checks the same. The code
   is stored in *code_r when valid. */
bool milter_reply_text_valid(const char *text, size_t len, int *code_r);

#endif
