/* SPDX-License-Identifier: MIT */
/*
 * sasl_gssapi.h - the GSSAPI mechanism (RFC 4752, Kerberos 5 only), internal
 * to proto/: sasl.c drives it and turns the address it proves into an
 * account through the directory.
 *
 * One struct sasl_gssapi is one exchange: its own acceptor credential and
 * security context, so exchanges on different worker threads share nothing
 * (MIT krb5 is thread-safe for separate handles). Every step blocks on the
 * keytab and the GSS library and so runs on a worker. It never asks the
 * KDC: an acceptor needs only its keytab.
 */
#ifndef MAILROOM_PROTO_SASL_GSSAPI_H
#define MAILROOM_PROTO_SASL_GSSAPI_H

#include "proto/sasl.h"

#include <stddef.h>

struct sasl_gssapi;

/* Where the exchange finds its key and whom it may let in. Strings are
   copied by sasl_gssapi_new(). */
struct sasl_gssapi_conf {
	const char *keytab;  /* absolute path of the keytab */
	const char *service; /* "pop" (RFC 5034 §4) or "smtp" (RFC 4954 §4) */
	const char *host;    /* host part of service/host, or "*": any host */
	const char *realm;   /* the only client realm that maps to addresses */
	const char *domain;  /* NAME@realm -> NAME@domain */
};

#define SASL_GSSAPI_ADDRESS_MAX 320 /* = struct auth_identity's address */

struct sasl_gssapi *sasl_gssapi_new(const struct sasl_gssapi_conf *conf);
void sasl_gssapi_free(struct sasl_gssapi **g);

/* One client message (in == NULL: no initial response). SASL_SUCCESS fills
   address_r with the authorised address, which the caller still has to
   find in the directory. SASL_FAILED for anything the client got wrong or
   may not do (bad token, a ticket for another service or host, other
   realm, security layer, foreign authzid); SASL_TEMPFAIL when the keytab
   cannot be used. */
enum sasl_step sasl_gssapi_step(struct sasl_gssapi *g, const char *in, size_t in_len,
				struct buf *out, char address_r[SASL_GSSAPI_ADDRESS_MAX]);

/* The client principal once the context is up, else "": for logs and the
   login brake. */
const char *sasl_gssapi_principal(const struct sasl_gssapi *g);
/* Whether the next message is one the acceptor verifies (a context token). */
bool sasl_gssapi_checks(const struct sasl_gssapi *g, const char *in);

/* For `config check`: the keytab can be read and holds a key for pop/host
   and for smtp/host (host "*": any host). Appends the principals found to
   `found`; returns 0, or -1 with a malloc'd message. Blocks on the file. */
int sasl_gssapi_keytab_check(const char *keytab, const char *host, struct buf *found, char **err_r);

/* --- pure helpers (no GSS calls; for tests) ------------------------------- */

/* NAME@REALM (as gss_display_name shows a krb5 principal) -> NAME@domain,
   only for `realm` and only for single-component names (no '/' instance,
   no escapes). Returns 0, or -1 if the principal does not map. */
int sasl_gssapi_map(const char *principal, const char *realm, const char *domain,
		    char address_r[SASL_GSSAPI_ADDRESS_MAX]);

/* RFC 4752 §3.1: the client's unwrapped answer: 4 octets (chosen layer,
   max size) then the authzid. Accepted only with the "no security layer"
   bit alone and an authzid without NUL or control characters. *authzid_r
   points into `in`. Returns 0 or -1. */
int sasl_gssapi_parse_layer(const unsigned char *in, size_t len, struct slice *authzid_r);

#endif
