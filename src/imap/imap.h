/* SPDX-License-Identifier: MIT */
/*
 * imap.h - the IMAP service (RFC 9051 IMAP4rev2, with RFC 3501 IMAP4rev1
 * clients served too): the face of imap/. `imap_service` is its entry in
 * the server's list of services (proto/service.h): ports imap (STARTTLS)
 * and imaps (implicit TLS, RFC 8314), ALPN id "imap". It serves the store's
 * folders (store/store.h, S8-S10) with the same accounts, directory and
 * login brake as POP3, and tells sessions on a folder of each other's
 * changes and of new mail (imap_service_changed()).
 */
#ifndef MAILROOM_IMAP_IMAP_H
#define MAILROOM_IMAP_IMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/service.h"

struct conn;
struct config;
struct imap_service;

extern const struct service imap_service;

/* [imap] (docs/config.md): read through imap_config(cfg). */
struct imap_config {
	bool plaintext_auth;   /* LOGIN and AUTHENTICATE PLAIN/LOGIN before TLS */
	unsigned autologout;   /* seconds without a command (RFC 9051 §5.4: >= 30 min) */
	uint64_t append_limit; /* octets of one APPEND (RFC 7889 APPENDLIMIT) */
	bool literal_plus;     /* advertise LITERAL+ rather than LITERAL- (RFC 7888) */
	unsigned max_sessions; /* logged-in sessions per mailbox at once */
	unsigned idle_check;   /* seconds between IDLE's looks for others' changes */
};
extern const struct config_section imap_config_section;
const struct imap_config *imap_config(const struct config *cfg);

/* env must outlive the service (S1). */
struct imap_service *imap_service_new(const struct service_env *env);
void imap_service_free(struct imap_service **svc);
void imap_session_start(struct imap_service *svc, struct conn *c);
unsigned imap_service_sessions(const struct imap_service *svc);
/* Graceful stop: every session says "* BYE" at its next command boundary
   (an IDLE ends at once), then closes. */
void imap_service_shutdown(struct imap_service *svc);
/* Something changed in a mailbox (a delivery, a POP3 expunge, another
   session): sessions that have one of its folders selected look for the
   changes and tell their client (at once when it idles). Loop thread. */
void imap_service_changed(struct imap_service *svc, int64_t mailbox_id);

#endif
