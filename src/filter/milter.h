/* SPDX-License-Identifier: MIT */
/*
 * milter.h - the MTA side of the milter protocol (v6): one message through
 * one filter over one connection, and a chain of filters in order.
 *
 * I/O model. Blocking, for worker threads only (net/workers.h; never the
 * event loop): the socket is non-blocking underneath and every wait is a
 * poll() against a deadline (net/dial.h). Connecting and every reply the
 * filter owes (negotiation, each step, each body chunk) must come within
 * conf->timeout seconds, however the filter drips its octets; SMFIR_PROGRESS
 * restarts that wait, but the end of message (the filter's changes and its
 * verdict) never takes longer than MILTER_EOM_FACTOR times the timeout, as
 * Sendmail's T=E: bounds it. Writes have the same timeout.
 *
 * The conversation. Replayed whole once the message has arrived: OPTNEG,
 * then CONNECT, HELO, MAIL, one RCPT per recipient, DATA, each header, EOH,
 * the body in chunks of at most 64 KiB, EOB; each step's macros before it
 * (Postfix's default lists, or those the filter asked for with
 * SETSYMLIST). A step the filter said it does not want (SMFIP_NO*) is left
 * out (its macros are still sent), a reply it said it will not send
 * (SMFIP_NR_*) is not waited for, SMFIR_SKIP ends the body early
 * (SMFIP_SKIP). Then QUIT (after ABORT if the message ended early). A
 * filter may only ask for the changes it announced (SMFIF_*) and only at the
 * end of the message; anything else is a protocol error.
 *
 * Verdicts. ACCEPT before the end of the message: this filter lets it
 * through as it is (no changes; later filters of a chain still run); at the
 * end, with the changes it asked for. REJECT, TEMPFAIL and
 * REPLYCODE at CONNECT, HELO, MAIL, DATA, a header, EOH, the body or the end
 * refuse the message; at RCPT they refuse that recipient only: it is taken
 * out of the envelope (result->refused says with which reply) and the
 * others go on; when none is left the message is refused with the last
 * reply. DISCARD drops the message silently (not allowed at CONNECT/HELO).
 * QUARANTINE (a change at the end) delivers the message on hold with a
 * reason. SHUTDOWN and CONN_FAIL are temporary failures.
 *
 * Failures. A connection that fails or times out, or a reply that breaks
 * the protocol, makes the result "failed" with a reason (logged at warn,
 * with the socket); conf->policy then decides: fail-open gives
 * MILTER_CONTINUE without changes, fail-closed MILTER_TEMPFAIL with
 * "451 4.7.1 Service unavailable - try again later". Nothing a filter sends
 * is applied from a conversation that failed.
 *
 * Limits. At most MILTER_HEADER_MODS_MAX header changes and
 * MILTER_RCPT_MODS_MAX recipient changes per message per filter, a new body
 * of at most conf->max_body octets, a reply packet of at most
 * MILTER_PACKET_MAX (milter_proto.h): more is a protocol error.
 *
 * Memory: results own their strings; milter_result_free() and
 * milter_chain_result_free() release them (and accept a zeroed struct).
 */
#ifndef MAILROOM_FILTER_MILTER_H
#define MAILROOM_FILTER_MILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filter/filter.h"
#include "util/buf.h"

#define MILTER_HEADER_MODS_MAX 256
#define MILTER_RCPT_MODS_MAX 1024
#define MILTER_EOM_FACTOR 10
#define MILTER_REPLY_MAX 2048 /* an SMTP reply kept from a filter */
#define MILTER_ERROR_MAX 256
#define MILTER_BODY_DEFAULT_MAX (64ULL << 20)

struct milter_conf {
	const char *socket;	   /* "inet:host:port" or "unix:/path" (filter.h) */
	unsigned timeout;	   /* seconds; see above */
	enum filter_policy policy; /* when the filter cannot be used */
	uint64_t max_body;	   /* a replaced body longer is refused; 0: the default */
};

struct milter_rcpt {
	const char *addr; /* without angle brackets */
	const char *args; /* ESMTP parameters, space-separated ("NOTIFY=NEVER"), or NULL */
};

/* What the filter hears about the message; strings may be NULL when not
   known (macros with no value are not sent). */
struct milter_envelope {
	/* the connection */
	const char *client_addr; /* "192.0.2.1", "2001:db8::1"; NULL: unknown */
	unsigned client_port;
	const char *client_name; /* the verified name; NULL: "[client_addr]" is sent */
	const char *helo;	 /* HELO/EHLO argument */
	const char *hostname;	 /* macro j: [server] hostname */
	const char *daemon_name; /* {daemon_name}: the service ("smtp", "submission") */
	const char *if_addr;	 /* {if_addr} and {daemon_addr}: the local address */
	unsigned if_port;	 /* {daemon_port} */
	const char *tls_version; /* {tls_version} ("TLSv1.3"), NULL without TLS */
	const char *tls_cipher;	 /* {cipher} */
	unsigned tls_bits;	 /* {cipher_bits} */
	const char *auth_user;	 /* {auth_authen}: the SASL login; NULL without AUTH */
	const char *auth_mech;	 /* {auth_type} */
	const char *queue_id;	 /* macro i */
	/* the envelope */
	const char *sender;	 /* without angle brackets; "" is the null sender */
	const char *sender_args; /* MAIL's ESMTP parameters, space-separated, or NULL */
	const struct milter_rcpt *rcpts;
	size_t n_rcpts;
};

enum milter_action {
	MILTER_CONTINUE,   /* deliver (with the changes) */
	MILTER_ACCEPT,	   /* deliver; the filter asked for no more (no changes) */
	MILTER_REJECT,	   /* refuse: reply is a 5xx */
	MILTER_TEMPFAIL,   /* refuse for now: reply is a 4xx */
	MILTER_DISCARD,	   /* accept and drop silently */
	MILTER_QUARANTINE, /* deliver on hold: quarantine says why */
};
const char *milter_action_name(enum milter_action a);

enum milter_mod_type {
	MILTER_MOD_ADD_HEADER,	  /* name, value: append a field */
	MILTER_MOD_INSERT_HEADER, /* index (0: first), name, value */
	MILTER_MOD_CHANGE_HEADER, /* index (1: first of that name), name, value; "" deletes */
	MILTER_MOD_ADD_RCPT,	  /* name: address; value: ESMTP args or NULL */
	MILTER_MOD_DELETE_RCPT,	  /* name: address */
	MILTER_MOD_REPLACE_BODY,  /* value, value_len: the new body (consecutive REPLBODY joined) */
	MILTER_MOD_CHANGE_FROM,	  /* name: address ("" for <>); value: ESMTP args or NULL */
};
const char *milter_mod_name(enum milter_mod_type t);

struct milter_mod {
	enum milter_mod_type type;
	uint32_t index;
	char *name;
	char *value; /* header values as the filter sent them (folded lines joined by LF) */
	size_t value_len;
};

struct milter_refusal {
	char *rcpt;  /* the address refused at RCPT */
	char *reply; /* "550 5.7.1 Command rejected" or the filter's */
};

struct milter_result {
	enum milter_action action;
	char reply[MILTER_REPLY_MAX]; /* REJECT, TEMPFAIL: the SMTP reply (CRLF between lines) */
	char *quarantine;	      /* QUARANTINE: the reason */
	struct milter_mod *mods;      /* in the order received */
	size_t n_mods;
	bool leadspc; /* header values carry their leading space (SMFIP_HDR_LEADSPC) */
	struct milter_refusal *refused;
	size_t n_refused;
	bool failed; /* the filter could not be used: error says why, action is the policy's */
	char error[MILTER_ERROR_MAX];
	/* what was negotiated, for logs and tests */
	uint32_t version, actions, protocol;
};

/* Runs the message (wire form: CRLF line ends, headers then an empty line
   then the body) through the filter at conf->socket. Always fills *res
   (milter_result_free() it); returns 0 when the conversation ran, -1 when
   it failed (res->failed, res->action is the policy's). */
int milter_run(const struct milter_conf *conf, const struct milter_envelope *env, const char *msg,
	       size_t len, struct milter_result *res);
void milter_result_free(struct milter_result *res);

/* The message with res's header and body changes applied, in order,
   appended to out (wire form, CRLF). Header positions count the message's
   fields as they are at that change (milter_private.h says where the
   header section ends). A new field is "Name: value" (no space added with
   leadspc), LF in a value becomes CRLF. A new body gets CRLF for bare LF
   and a final CRLF if it lacks one. Recipient and sender changes are
   milter_apply_envelope()'s. */
void milter_apply_message(const struct milter_result *res, const char *msg, size_t len,
			  struct buf *out);

/* An envelope the chain owns and changes. */
struct milter_rcpt_list {
	char **addr;
	char **args; /* each NULL or the ESMTP parameters */
	size_t count;
};
struct milter_envelope_edit {
	char *sender; /* "" for <> */
	char *sender_args;
	struct milter_rcpt_list rcpts;
};
/* Copies env's sender and recipients into e (milter_envelope_edit_free()). */
void milter_envelope_edit_init(struct milter_envelope_edit *e, const struct milter_envelope *env);
/* Applies res's refusals and recipient and sender changes, in order:
   ADDRCPT appends (unless already there), DELRCPT removes every recipient
   equal to the address (ASCII case-insensitively; angle brackets
   ignored), CHGFROM replaces the sender and its parameters. */
void milter_apply_envelope(const struct milter_result *res, struct milter_envelope_edit *e);
void milter_envelope_edit_free(struct milter_envelope_edit *e);

/* Several filters in order: each sees the message and envelope as the ones
   before it left them. The first REJECT, TEMPFAIL or DISCARD (a failure
   under fail-closed included) ends the chain with that verdict; a
   quarantine is kept while the others run. */
struct milter_chain_result {
	enum milter_action action; /* CONTINUE, REJECT, TEMPFAIL, DISCARD or QUARANTINE */
	char reply[MILTER_REPLY_MAX];
	char *quarantine;
	struct buf message; /* the message after every filter (a copy if none changed it) */
	bool message_changed, envelope_changed;
	struct milter_envelope_edit envelope; /* the envelope after every filter */
	struct milter_result *results;	      /* one per filter that ran, in order */
	size_t n_results;
	unsigned failed; /* filters that could not be used */
};
/* Always fills *r (milter_chain_result_free() it). Returns 0, or -1 when a
   filter failed (the policy has been applied). */
int milter_chain_run(const struct milter_conf *confs, size_t n, const struct milter_envelope *env,
		     const char *msg, size_t len, struct milter_chain_result *r);
void milter_chain_result_free(struct milter_chain_result *r);

#endif
