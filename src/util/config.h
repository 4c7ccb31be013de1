/* SPDX-License-Identifier: MIT */
/*
 * config.h - the one INI file (SPEC §7), parsed strictly.
 *
 * config_load() fills a struct config with built-in defaults, then applies the
 * file if one is given. Every unknown section, unknown key, duplicate key and
 * bad value is an error reported as "FILE:LINE: message" and refused: a
 * server that starts with a half-understood config is worse than one that
 * does not start. Paths come out absolute: data_dir relative to the config
 * file's folder (or to the working directory for the built-in defaults), TLS
 * files and [pam] confdir relative to data_dir. The struct owns all its strings;
 * config_free() releases them.
 *
 * Durations accept s/m/h/d suffixes (bare numbers are seconds); sizes accept
 * K/M/G (powers of 1024; bare numbers are bytes); booleans are yes/no,
 * true/false, on/off, 1/0.
 */
#ifndef MAILROOM_UTIL_CONFIG_H
#define MAILROOM_UTIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/log.h"

/* The listening roles of SPEC §1. Implicit-TLS roles end in "s". */
enum listen_role {
	ROLE_SMTP,
	ROLE_SUBMISSION,
	ROLE_SUBMISSIONS,
	ROLE_POP3,
	ROLE_POP3S,
	ROLE_COUNT
};

struct listen_list {
	char **addrs; /* "host:port" or "[v6]:port" strings */
	size_t count;
};

struct config {
	char *file; /* the file read, or NULL for built-in defaults */
	char *hostname;
	char *data_dir;
	char *user;	    /* [server] user: the account serve runs as once started
			       as root (server/privdrop.h); NULL if not set */
	unsigned user_line; /* its line in the file, for messages; 0 if not set */
	enum log_level log_level;
	enum log_format log_format; /* [server] log_format: text or json */
	unsigned workers;	    /* threads for blocking work (hashing, store) */

	struct listen_list listen[ROLE_COUNT];

	char *tls_cert;
	char *tls_key;
	/* client certificates (tls/tls.h, SASL EXTERNAL): CAs to verify them,
	   or NULL: none asked for; an optional CRL; how one names its owner */
	char *tls_client_ca;
	char *tls_client_crl;
	enum tls_cert_map { CERT_MAP_EMAIL, CERT_MAP_CN } tls_client_cert_map;
	char *tls_client_cert_domain; /* appended to a CN without '@', or NULL */

	unsigned max_connections; /* whole server */
	unsigned max_connections_per_ip;
	unsigned idle_timeout;	      /* seconds; RFC 1939 §3 asks >= 600 for POP3 */
	unsigned line_deadline;	      /* seconds from a command line's first byte to its end */
	unsigned data_deadline;	      /* seconds for all of one DATA or BDAT chunk */
	unsigned min_data_rate;	      /* bytes each data_rate_window of DATA must bring; 0 off */
	unsigned data_rate_window;    /* seconds */
	unsigned auth_fail_delay_max; /* seconds; the login brake doubles up to this */
	unsigned auth_fail_delay_ms;  /* the login brake's wait after one failure */
	unsigned auth_cache_ttl;      /* seconds a successful password check is reused */

	bool pop3_plaintext_auth; /* allow USER/PASS, AUTH PLAIN/LOGIN without TLS */
	bool pop3_apop;		  /* offer APOP for accounts that hold an APOP secret */

	uint64_t smtp_max_message_size; /* octets; EHLO advertises it (SIZE) */
	unsigned smtp_max_recipients;	/* per message (RFC 5321 §4.5.3.1.8: >= 100) */
	unsigned smtp_max_errors;	/* bad commands per session before we close */
	unsigned smtp_max_commands;	/* commands per session */
	unsigned smtp_max_received;	/* Received: headers before a loop is assumed */
	unsigned smtp_command_timeout;	/* seconds waiting for a command */
	unsigned smtp_data_timeout;	/* seconds waiting for DATA content */
	char *smtp_postmaster;		/* mailbox for postmaster@ without one, or NULL */
	bool smtp_sender_login_match;	/* submission: MAIL FROM must be the user's */

	bool delivery_enabled;		   /* run the queue manager in serve */
	unsigned delivery_threads;	   /* delivery agents (blocking SMTP clients) */
	unsigned delivery_per_destination; /* messages in delivery to one domain at once */
	unsigned delivery_scan_interval;   /* seconds between queue scans */
	unsigned delivery_retry_min;	   /* first retry after this; doubles each time */
	unsigned delivery_retry_max;	   /* ... up to this */
	unsigned delivery_lifetime;	   /* give up and report after this */
	unsigned delivery_delay_warning;   /* send a delay notice after this */
	unsigned delivery_connect_timeout;
	unsigned delivery_command_timeout;   /* each reply but DATA's, as a whole */
	unsigned delivery_data_init_timeout; /* the 354 after DATA */
	unsigned delivery_data_xfer_timeout; /* each write of the message */
	unsigned delivery_data_done_timeout; /* the reply after the final "." */
	unsigned delivery_slow_after;	     /* a delivery this old frees its slot */
	struct listen_list directory;	     /* [directory] backend: names in chain order */
	struct listen_list metrics_listen;   /* [metrics] listen: HTTP /metrics (admin/) */
	char *delivery_resolver; /* "ip[:port]" of the DNS server, or NULL: the system's */
	char *delivery_ca_file;	 /* CAs for --tls verify, or NULL: the system's */

	/* [ldap] (directory/dir_ldap.c). Filters hold %u/%n/%d (RFC 4515
	   escaped when expanded); a NULL string is "not set". */
	char *ldap_uri; /* ldap:// or ldaps:// */
	char *ldap_base;
	char *ldap_bind_dn;	       /* NULL: anonymous searches */
	char *ldap_bind_password_file; /* absolute (relative to data_dir) */
	char *ldap_user_filter;
	char *ldap_login_filter;     /* ANDed for logins only, or NULL */
	char *ldap_recipient_filter; /* NULL: derived from the attributes */
	char *ldap_mail_attribute;
	char *ldap_alias_attribute;    /* NULL: none */
	char *ldap_password_attribute; /* auth_bind = no */
	char *ldap_ca_file;	       /* NULL: the system's CAs */
	bool ldap_starttls;
	bool ldap_auth_bind;   /* yes: bind as the user; no: compare a hash */
	unsigned ldap_timeout; /* seconds, each request as a whole */
	unsigned ldap_pool_size;
	unsigned ldap_cache_ttl; /* seconds a recipient answer is reused; 0 off */
	char *pam_service;	 /* [pam] service: the PAM service file's name */
	char *pam_domain;	 /* local account NAME is NAME@domain (lower-case), or NULL */
	unsigned pam_min_uid;	 /* accounts below this uid are not mail accounts (>= 1) */
	char *pam_confdir;	 /* folder of PAM service files, or NULL: /etc/pam.d */
	char *passwdfile_path;	 /* [passwd-file] path (absolute: relative to data_dir), or NULL */
	char *passwdfile_domain; /* appended to bare user names (lower-case), or NULL */

	/* SASL GSSAPI (RFC 4752); offered only when gssapi_keytab is set */
	char *gssapi_keytab;	/* service keys, relative to data_dir; NULL: off */
	char *gssapi_realm;	/* the client realm whose users are ours */
	char *gssapi_domain;	/* NAME@realm logs in as NAME@domain; NULL: realm in lower case */
	char *gssapi_principal; /* host part of pop/HOST, smtp/HOST, or "*"; NULL: hostname */
};

const char *listen_role_name(enum listen_role role);
/* The addresses of the [listen] key NAME ("pop3s"), or NULL if there is no
   such key. */
const struct listen_list *config_listen(const struct config *c, const char *name);
bool listen_role_implicit_tls(enum listen_role role);

/* path may be NULL: then ./mailroom.conf if it exists, else the system
   config of a packaged build (CMake MAILROOM_SYSTEM_CONFIG) if it exists,
   else defaults. Returns 0, or -1 with a malloc'd message in *err_r
   (caller frees). */
int config_load(const char *path, struct config *cfg, char **err_r);
/* The file config_load(NULL) reads: ./mailroom.conf if it exists, else
   system_path (may be NULL) if it exists; NULL: the built-in defaults. */
const char *config_default_path(const char *system_path);
/* Parse config text (for tests and fuzzing); `name` is used in messages and
   as the base for relative paths. */
int config_parse(const char *name, const char *text, size_t len, struct config *cfg, char **err_r);
void config_free(struct config *cfg);

struct buf;
/* The effective configuration as INI text that config_parse() reads back:
   every key on one line, defaults included, paths absolute; an optional
   key that is not set is a comment ("; postmaster is not set"). */
void config_write(const struct config *cfg, struct buf *out);
/* Calls fn with "section.key" for every key whose value differs. */
void config_diff(const struct config *a, const struct config *b,
		 void (*fn)(const char *key, void *arg), void *arg);

/* Value parsers, shared with the CLI. Return 0 or -1. */
int config_parse_size(const char *s, uint64_t *v_r);
int config_parse_duration(const char *s, unsigned *secs_r);
int config_parse_bool(const char *s, bool *v_r);

#endif
