/* SPDX-License-Identifier: MIT */
/*
 * sasl.h - server side of the SASL mechanisms (RFC 4422) for POP3 AUTH
 * (RFC 5034) and SMTP AUTH (RFC 4954): PLAIN (RFC 4616), LOGIN,
 * SCRAM-SHA-256 (RFC 7677) on OpenSSL primitives, EXTERNAL (RFC 4422
 * appendix A) for a TLS client certificate the connection verified, and
 * GSSAPI (RFC 4752, Kerberos 5, sasl_gssapi.c) when [gssapi] keytab is set.
 *
 * The protocol layer owns base64 (util/base64.h) and the line syntax; this
 * layer sees decoded bytes. sasl_server_step() may look up the store and
 * verify a password, so it runs on a worker thread; the session calls it
 * once per client message and waits for the result.
 */
#ifndef MAILROOM_PROTO_SASL_H
#define MAILROOM_PROTO_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "directory/directory.h"
#include "util/buf.h"

struct config;
struct config_section;

/* [gssapi] (docs/config.md): SASL GSSAPI (RFC 4752), offered only when a
   keytab and a realm are set. */
struct gssapi_config {
	char *keytab;	 /* service keys, relative to data_dir; NULL: off */
	char *realm;	 /* the client realm whose users are ours */
	char *domain;	 /* NAME@realm logs in as NAME@domain; NULL: realm in lower case */
	char *principal; /* host part of pop/HOST, smtp/HOST, or "*"; NULL: hostname */
};
extern const struct config_section gssapi_config_section;
const struct gssapi_config *gssapi_config(const struct config *cfg);
struct directory;
struct store;
struct sasl_server;

/* EXTERNAL: RFC 4422 appendix A, the TLS client certificate; GSSAPI: RFC 4752 */
enum sasl_mech {
	SASL_PLAIN,
	SASL_LOGIN,
	SASL_SCRAM_SHA_256,
	SASL_EXTERNAL,
	SASL_GSSAPI,
	SASL_MECH_COUNT
};

enum sasl_step {
	SASL_CONTINUE,	/* send `out` as a challenge, wait for the next message */
	SASL_SUCCESS,	/* *id_r is filled; for SCRAM `out` holds the final message */
	SASL_FAILED,	/* wrong credentials: -ERR [AUTH] / 535 5.7.8 */
	SASL_TEMPFAIL,	/* store error: [SYS/TEMP] / 454 4.7.0 */
	SASL_MALFORMED, /* protocol violation in the client message: 501 / -ERR */
};

/* Case-insensitive; returns -1 for unknown names. */
int sasl_mech_parse(const char *name, size_t len, enum sasl_mech *m_r);
const char *sasl_mech_name(enum sasl_mech m);
/* Mechanisms that send the password itself (need TLS unless configured). */
bool sasl_mech_plaintext(enum sasl_mech m);

/* dir: where logins are checked (borrowed, outlives the exchange). */
struct sasl_server *sasl_server_new(enum sasl_mech m, struct directory *dir);
/* GSSAPI is offered (and accepted) only when cfg names a keytab. */
bool sasl_gssapi_configured(const struct config *cfg);
/* Readies a GSSAPI exchange (sasl_server_new(SASL_GSSAPI)) with cfg's
   [gssapi] settings for `service`: "pop" (RFC 5034 §4) or "smtp" (RFC 4954
   §4). Copies what it needs; makes no GSS call, so the loop may call it.
   Without it, every GSSAPI step fails as temporary. */
void sasl_server_use_gssapi(struct sasl_server *s, const struct config *cfg, const char *service);
/* For `config check`: cfg's keytab can be read and holds the keys pop/HOST
   and smtp/HOST. Appends the principals found to `found`; returns 0, or -1
   with a malloc'd message. Blocks on the file. */
int sasl_gssapi_check(const struct config *cfg, struct buf *found, char **err_r);
void sasl_server_free(struct sasl_server **s);
/* `in` is the decoded client message; in == NULL means the client sent no
   initial response (the first step then produces the first challenge). */
enum sasl_step sasl_server_step(struct sasl_server *s, struct store *st, const char *in,
				size_t in_len, struct buf *out, struct auth_identity *id_r);

/* --- line helpers shared by POP3 AUTH and SMTP AUTH ------------------------ */
/* A client response line (RFC 5034 §4, RFC 4954 §4): "=" is the empty
   response, anything else base64 of at most sasl_message_max(m) octets.
   Returns 0, or -1 (out unchanged) for bad base64 or an oversized message. */
int sasl_response_decode(struct slice text, enum sasl_mech m, struct buf *out);
/* Appends one challenge line: prefix ("+ " or "334 "), base64(data), CRLF. */
void sasl_challenge_line(struct buf *line, const char *prefix, const struct buf *data);

/* --- limits ---------------------------------------------------------------- */
#define SASL_NAME_MAX 255      /* authcid/authzid octets (RFC 5321 paths are shorter) */
#define SASL_PASSWORD_MAX 1024 /* read up to this; above PASSWORD_MAX never matches */
#define SASL_NONCE_MAX 128     /* client nonce octets (RFC 5802 §5.1 sets none) */
#define SASL_MESSAGE_MAX 2048  /* one decoded client message */
/* A GSSAPI context token: an Active Directory ticket carries the user's
   groups (the PAC) and outgrows SASL_MESSAGE_MAX. This is RFC 4954 §4's
   12288-octet AUTH line decoded; a POP3 line (POP3_LONG_LINE_MAX) holds as much. */
#define SASL_GSSAPI_MESSAGE_MAX 9216
/* The largest decoded client message of mechanism m. */
size_t sasl_message_max(enum sasl_mech m);

enum sasl_mech sasl_server_mech(const struct sasl_server *s);
/* The user name the client has given so far ("" if none), for logs; for
   GSSAPI the client's principal once its ticket is accepted. */
const char *sasl_server_authcid(const struct sasl_server *s);
/* Whether the step that gets the client message `in` checks credentials,
   and for whom: PLAIN's message, LOGIN's password, SCRAM's client-final
   message, GSSAPI's first context token (account "": the principal is
   inside the ticket). Pure and cheap, for the loop thread: the login brake
   (directory/penalty.h) waits before exactly that step. */
bool sasl_server_checks(const struct sasl_server *s, const char *in, size_t in_len,
			char account_r[SASL_NAME_MAX + 1]);

/* Where SCRAM finds a user's verifier (directory/password.h format) and
   identity. Returns STORE_OK with a malloc'd *verifier_r, STORE_NOTFOUND,
   or another store error (-> SASL_TEMPFAIL). */
typedef int sasl_scram_lookup_fn(void *ctx, struct store *st, const char *user, char **verifier_r,
				 struct auth_identity *id_r);
/* Test hook: replace the directory's lookup (directory_scram) for this
   exchange. Never called by the server. */
void sasl_server_set_scram_lookup(struct sasl_server *s, sasl_scram_lookup_fn *fn, void *ctx);

/* EXTERNAL: the address of the connection's verified TLS client
   certificate (net/conn.h conn_tls_identity(), copied), or NULL: then
   EXTERNAL fails. Set before the first step. */
void sasl_server_set_external(struct sasl_server *s, const char *address);
/* RFC 4422 appendix A.1: the client's message is its authorization
   identity. Empty means the certificate's own address; a non-empty one must
   be that address, the local part exactly, the domain in any case. */
bool sasl_external_authzid_ok(const char *address, const char *authzid, size_t len);

/* Test hook: use `suffix` (copied) as the server's SCRAM nonce part instead of
   random bytes, so RFC 7677 §3's example exchange can be replayed. Never
   called by the server. */
void sasl_server_set_nonce(struct sasl_server *s, const char *suffix);

/* --- pure parsers (no store, no allocation; for tests and fuzzing) -------- */

/* RFC 4616 §2: message = [authzid] NUL authcid NUL passwd. Exactly two NULs;
   authcid 1..SASL_NAME_MAX octets of UTF-8 without control characters (same
   for a non-empty authzid); passwd 1..SASL_PASSWORD_MAX octets. Slices point
   into `in`. Returns 0, or -1 if malformed. */
int sasl_plain_parse(const char *in, size_t len, struct slice *authzid_r, struct slice *authcid_r,
		     struct slice *passwd_r);

/* RFC 5802 §7 client-first-message, without channel binding: the gs2 flag
   must be "n" or "y" (a "p=" flag asks for -PLUS, which is not offered);
   "m=" (mandatory extensions) is refused. Names are decoded ("=2C" -> ',',
   "=3D" -> '='). Slices point into `in`. */
struct sasl_scram_first {
	struct slice gs2_header; /* "n,," or "y,a=NAME," with its final comma */
	struct slice bare;	 /* client-first-message-bare */
	struct slice nonce;	 /* c-nonce */
	char user[SASL_NAME_MAX + 1];
	char authzid[SASL_NAME_MAX + 1]; /* "" if none */
};
int sasl_scram_parse_first(const char *in, size_t len, struct sasl_scram_first *r);

/* RFC 5802 §7 client-final-message: "c=" b64 ",r=" nonce [",ext"]* ",p=" b64. */
struct sasl_scram_final {
	struct slice channel_binding; /* base64 text after "c=" */
	struct slice nonce;	      /* after "r=" */
	struct slice proof;	      /* base64 text after "p=" */
	struct slice without_proof;   /* client-final-message-without-proof */
};
int sasl_scram_parse_final(const char *in, size_t len, struct sasl_scram_final *r);

#endif
