/* SPDX-License-Identifier: MIT */
/*
 * check_private.h - what the files of check/ share: the run with its step
 * records, one connection with a deadline (check_conn.c), the readers of
 * server output (check_parse.c and check_imap_resp.c, fuzzed), and the
 * POP3, IMAP, SMTP and DNS steps.
 *
 * A connection is blocking from the caller's view but non-blocking
 * underneath: every wait is a poll() against the deadline of the step in
 * progress, so a server that drips octets cannot stretch a step.
 */
#ifndef MAILROOM_CHECK_CHECK_PRIVATE_H
#define MAILROOM_CHECK_CHECK_PRIVATE_H

#include "check/check.h"
#include "migrate/mig_pop3.h"
#include "net/dial.h"
#include "util/buf.h"
#include "util/mem.h"

#include <stdint.h>
#include <sys/types.h>

#define CHECK_TOKEN_LEN 24 /* hex digits of the probe's token */

struct check_run {
	const struct check_options *o;
	struct check_step *steps;
	size_t n, cap;
	int64_t t0;
	/* what the service steps leave for the probe */
	bool login_ok[CHECK_SERVICES];
	struct buf baseline[CHECK_SERVICES]; /* UIDL answer after login */
};

int64_t check_now_ms(void);
/* Records a step and hands it to o->on_step. */
void check_report(struct check_run *r, enum check_status st, const char *service,
		  const char *address, const char *step, int64_t ms, const char *fmt, ...)
    ATTR_FORMAT(7, 8);

/* --- the connection (check_conn.c) --- */

struct check_tls {
	char version[16];
	char subject[256];  /* the first DNS SAN, else the subject CN */
	char issuer[256];   /* the issuer's CN, else its one-line name */
	char not_after[16]; /* YYYY-MM-DD */
	int days_left;
	bool expired, not_yet_valid;
	long verify; /* X509_V_OK or why the chain or name did not verify */
};

struct check_conn {
	struct dial d;
	struct ssl_ctx_st *ctx;
	struct mig_pop3_in in; /* buffered input, read through check_conn_read */
};

void check_conn_init(struct check_conn *c);
/* The current step must finish within secs. */
void check_conn_deadline(struct check_conn *c, unsigned secs);
/* Connects to "host:port" / "[v6]:port". 0, or -1 with err. */
int check_conn_open(struct check_conn *c, const char *endpoint, char *err, size_t err_len);
/* mig_pop3_read_fn over the connection (plain or TLS). */
ssize_t check_conn_read(void *ctx, void *dst, size_t len);
bool check_conn_write(struct check_conn *c, const void *p, size_t len);
/* TLS client handshake; the certificate is verified for name against
   ca_file (NULL: the system's CAs) but the handshake goes on when it does
   not verify: t says why. 0, or -1 with err (handshake failed). */
int check_conn_tls(struct check_conn *c, const char *name, const char *ca_file, struct check_tls *t,
		   char *err, size_t err_len);
/* "timeout after N s" or "connection lost", after a failed read/write. */
const char *check_conn_why(const struct check_conn *c);
void check_conn_close(struct check_conn *c);

/* The TLS step's line for t: status and details. */
enum check_status check_tls_judge(const struct check_tls *t, char *details, size_t len);

/* One session with a service: its steps are reported as they finish, or,
   quiet (why != NULL), only its first failure is kept, in why. */
struct check_sess {
	struct check_run *r;
	enum check_service svc;
	const char *addr;
	char *why;
	size_t why_len;
	struct check_conn c;
	int64_t t0; /* the current step's start */
};
void check_sess_init(struct check_sess *s, struct check_run *r, enum check_service svc, char *why,
		     size_t why_len);
/* A step starts: its clock and its deadline. */
void check_sess_begin(struct check_sess *s);
/* Reports the current step; false when it failed (CRITICAL). */
bool check_sess_step(struct check_sess *s, enum check_status st, const char *name, const char *fmt,
		     ...) ATTR_FORMAT(4, 5);
/* The connect step (with the tls step for an implicit-TLS service), and
   the tls step (its clock already started). */
bool check_sess_connect(struct check_sess *s);
bool check_sess_tls(struct check_sess *s);
/* SASL PLAIN's response (RFC 4616: NUL user NUL password) in base64,
   NUL-terminated; the caller frees it with buf_free_secret(). */
void check_plain_response(struct buf *b64, const char *user, const char *password);

/* --- the readers of server output (check_parse.c) --- */

struct check_capa {
	bool stls, sasl_plain, user, uidl, top;
};
/* The lines of a CAPA answer (RFC 2449 §5), CRLF or LF ended. */
void check_parse_capa(const char *p, size_t len, struct check_capa *c);
/* One line of an EHLO reply after the first: the AUTH mechanisms offered
   (RFC 4954 §3; "AUTH=..." too). */
void check_parse_ehlo_auth(const char *text, size_t len, bool *plain, bool *login);
/* Whether a message header (up to the empty line, or all of p) has a
   field `name` whose unfolded value contains needle. */
bool check_parse_header_has(const char *p, size_t len, const char *name, const char *needle);
/* Whether msg (as fetched: trace fields may have been added on top) holds
   the sent message's body unchanged after its header. */
bool check_parse_intact(const char *msg, size_t len, const char *sent, size_t sent_len);
/* Each "n uidl" line of a UIDL answer that is not in baseline: calls fn
   with the message number; stops when fn returns true (the count of lines
   that were not in baseline is returned). */
size_t check_parse_new_uidls(const char *uidl, size_t len, const char *baseline, size_t blen,
			     bool (*fn)(void *ctx, uint64_t n), void *ctx);

/* --- the IMAP response reader (check_imap_resp.c, fuzzed) ---

   A byte machine over what arrived: it takes octets up to the end of one
   response and no further (*used_r), keeps the response whole (its lines
   with their line ends, each literal {n} inline after its line), and
   bounds both: a line (literals aside) at CHECK_IMAP_LINE_MAX, the whole
   response at the reader's max, checked before a literal is taken. A
   line ends at LF (a CR before it is the server's usual CRLF); NUL is
   refused outside literals (RFC 9051 §4.3.1). */

#define CHECK_IMAP_LINE_MAX 8192 /* RFC 7162 §4: lines up to 8192 octets */

enum check_imap_feed { CHECK_IMAP_MORE, CHECK_IMAP_DONE, CHECK_IMAP_BAD };
enum check_imap_error {
	CHECK_IMAP_E_NONE,
	CHECK_IMAP_E_LONG, /* a line over CHECK_IMAP_LINE_MAX */
	CHECK_IMAP_E_BIG,  /* a response (with its literals) over max */
	CHECK_IMAP_E_NUL,  /* NUL in a line */
	CHECK_IMAP_E_DONE, /* fed after DONE without a reset */
};

struct check_imap_resp {
	struct buf text;  /* the response so far */
	size_t max;	  /* the bound of text.len */
	size_t seg;	  /* where the line after the last literal starts */
	uint64_t literal; /* octets of a literal still to come */
	enum check_imap_error error;
	bool done;
};
void check_imap_resp_init(struct check_imap_resp *r, size_t max);
/* Forgets the response read (the next one starts), keeping max. */
void check_imap_resp_reset(struct check_imap_resp *r);
void check_imap_resp_free(struct check_imap_resp *r);
/* Takes octets of p[0..len) into the response, up to its end at most;
   DONE with a whole response in r->text, BAD with r->error. */
enum check_imap_feed check_imap_resp_feed(struct check_imap_resp *r, const char *p, size_t len,
					  size_t *used_r);
const char *check_imap_resp_error_text(enum check_imap_error e);

/* The first line of a whole response, as slices into it. */
enum check_imap_kind { CHECK_IMAP_TAGGED, CHECK_IMAP_UNTAGGED, CHECK_IMAP_CONT };
struct check_imap_head {
	enum check_imap_kind kind;
	struct slice tag; /* tagged: its tag */
	bool has_num;	  /* untagged "* n WORD": n */
	uint64_t num;
	struct slice word; /* OK NO BAD BYE PREAUTH CAPABILITY SEARCH EXISTS FETCH ... */
	struct slice rest; /* after the word, to the line end */
	struct slice code; /* [CODE ...] of a status (RFC 9051 §7.1), no brackets */
	struct slice text; /* a status's text after its code */
};
/* False when p is not a response (no tag, no word). */
bool check_imap_head(const char *p, size_t len, struct check_imap_head *h);

struct check_imap_capa {
	bool imap4rev1, imap4rev2, starttls, logindisabled, auth_plain, sasl_ir, uidplus;
};
/* The capability names of list ("IMAP4rev1 STARTTLS AUTH=PLAIN ..."),
   added to c. */
void check_imap_parse_capa(struct slice list, struct check_imap_capa *c);
/* The numbers of "* SEARCH n..." or of ALL in "* ESEARCH ... UID ALL set"
   (RFC 4731), up to cap of them; returns how many there were. */
size_t check_imap_parse_search(const struct check_imap_head *h, uint64_t *uids, size_t cap);
/* "* n FETCH (... UID u ... BODY[] {n}...)": the UID (0: none) and the
   BODY[] octets (a literal, or a quoted string unescaped) appended to
   body. False when p is not a FETCH response or not well formed. */
bool check_imap_parse_fetch(const char *p, size_t len, uint64_t *uid_r, struct buf *body);
/* s for a step's line: at most len - 1 octets, control octets as '?'. */
void check_imap_text(struct slice s, char *out, size_t len);

/* --- the steps --- */

void check_pop3_service(struct check_run *r, enum check_service svc);
void check_smtp_service(struct check_run *r, enum check_service svc);
/* Sends msg over svc (a quiet session); 0, or -1 with why. */
int check_smtp_send(struct check_run *r, enum check_service svc, const struct buf *msg, char *why,
		    size_t why_len);
/* One poll of the mailbox over svc: finds the message that carries token
   among those not in r->baseline[svc], fetches it, checks it against
   sent, deletes it. 1 found (and deleted), 0 not yet, -1 failed (why). */
int check_pop3_fetch(struct check_run *r, enum check_service svc, const char *token,
		     const struct buf *sent, char *why, size_t why_len);
void check_imap_service(struct check_run *r, enum check_service svc);
/* One search of the mailbox over svc for the message whose Message-ID
   carries token; fetched, checked against sent, and with expunge removed
   (UID EXPUNGE; without UIDPLUS only flagged \Deleted). note gets what
   was done ("UID 7, intact, deleted"). 1 found, 0 not yet, -1 failed
   (why). */
int check_imap_find(struct check_run *r, enum check_service svc, const char *token,
		    const struct buf *sent, bool expunge, char *note, size_t note_len, char *why,
		    size_t why_len);
void check_dns(struct check_run *r);

#endif
