/* SPDX-License-Identifier: MIT */
/*
 * dir_config.h - the directory's sections of mailroom.conf (util/config.h):
 * [directory] (the chain of backends) and one per backend that has
 * settings, [ldap], [pam] and [passwd-file]. The backends read them through
 * the functions below; docs/config.md describes every key.
 */
#ifndef MAILROOM_DIRECTORY_DIR_CONFIG_H
#define MAILROOM_DIRECTORY_DIR_CONFIG_H

#include <stdbool.h>

#include "util/config.h"

struct directory_config {
	struct listen_list backends; /* [directory] backend: names in chain order */
};

/* [ldap] (dir_ldap.c). Filters hold %u/%n/%d (RFC 4515 escaped when
   expanded); a NULL string is "not set". */
struct ldap_config {
	char *uri; /* ldap:// or ldaps://, several separated by spaces */
	char *base;
	char *bind_dn;		  /* NULL: anonymous searches */
	char *bind_password_file; /* absolute (relative to data_dir) */
	char *user_filter;
	char *login_filter;	/* ANDed for logins only, or NULL */
	char *recipient_filter; /* NULL: derived from the attributes */
	char *mail_attribute;
	char *alias_attribute;	  /* NULL: none */
	bool auth_bind;		  /* yes: bind as the user; no: compare a hash */
	char *password_attribute; /* auth_bind = no */
	bool starttls;
	char *ca_file;	  /* NULL: the system's CAs */
	unsigned timeout; /* seconds, each request as a whole */
	unsigned pool_size;
	unsigned cache_ttl; /* seconds a recipient answer is reused; 0 off */
};

/* [pam] (dir_pam.c) */
struct pam_config {
	char *service;	  /* the PAM service file's name */
	char *domain;	  /* local account NAME is NAME@domain (lower-case), or NULL */
	unsigned min_uid; /* accounts below this uid are not mail accounts (>= 1) */
	char *confdir;	  /* folder of PAM service files, or NULL: /etc/pam.d */
};

/* [passwd-file] (dir_passwdfile.c) */
struct passwdfile_config {
	char *path;   /* absolute (relative to data_dir), or NULL */
	char *domain; /* appended to bare user names (lower-case), or NULL */
};

extern const struct config_section directory_config_section;
extern const struct config_section ldap_config_section;
extern const struct config_section pam_config_section;
extern const struct config_section passwdfile_config_section;

const struct directory_config *directory_config(const struct config *cfg);
const struct ldap_config *ldap_config(const struct config *cfg);
const struct pam_config *pam_config(const struct config *cfg);
const struct passwdfile_config *passwdfile_config(const struct config *cfg);

#endif
