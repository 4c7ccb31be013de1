/* SPDX-License-Identifier: MIT */
/* dir_config.c - see dir_config.h. */
#include "directory/dir_config.h"

#include <stddef.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* --- [directory] --------------------------------------------------------------------------- */

static const char *const backend_names[] = {"builtin", "ldap", "pam", "passwd-file", NULL};

static const struct config_key directory_keys[] = {
    {.name = "backend",
     .type = CONFIG_NAMES,
     .off = offsetof(struct directory_config, backends),
     .def = "builtin",
     .names = backend_names},
};

const struct config_section directory_config_section = {
    .name = "directory",
    .keys = directory_keys,
    .n_keys = N(directory_keys),
    .size = sizeof(struct directory_config),
};

/* --- [ldap] -------------------------------------------------------------------------------- */

/* libldap tries several URIs, space-separated, in order (one per DC) */
static const char *check_ldap_uri(const char *v)
{
	for (const char *p = v; *p != '\0'; p += strcspn(p, " \t"), p += strspn(p, " \t"))
		if (strncmp(p, "ldap://", 7) != 0 && strncmp(p, "ldaps://", 8) != 0)
			return "expected ldap://host[:port] or ldaps://host[:port] (several "
			       "separated by spaces)";
	return NULL;
}

/* An LDAP filter as RFC 4515 §3 writes it: in parentheses, balanced. The
   server checks the rest; this catches a missing ")" at `config check`. */
static const char *check_ldap_filter(const char *f)
{
	static const char *const msg = "expected an LDAP filter in parentheses, such as (mail=%u) "
				       "(%u, %n and %d are the only % forms; %% is a %)";
	int depth = 0;
	if (f[0] != '(')
		return msg;
	for (const char *p = f; *p != '\0'; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && --depth < 0)
			return msg;
		else if (*p == '%' && (p[1] == '\0' || strchr("und%", p[1]) == NULL))
			return msg;
		else if (*p == '%')
			p++;
		if (depth == 0 && p[1] != '\0')
			return msg;
	}
	return depth == 0 ? NULL : msg;
}

#define L(field) offsetof(struct ldap_config, field)

static const struct config_key ldap_keys[] = {
    {.name = "uri", .type = CONFIG_STR, .off = L(uri), .check = check_ldap_uri},
    {.name = "base", .type = CONFIG_STR, .off = L(base)},
    {.name = "bind_dn", .type = CONFIG_STR, .off = L(bind_dn)},
    {.name = "bind_password_file", .type = CONFIG_PATH, .off = L(bind_password_file)},
    /* SPEC §7 */
    {.name = "user_filter",
     .type = CONFIG_STR,
     .off = L(user_filter),
     .def = "(&(objectClass=inetOrgPerson)(mail=%u))",
     .check = check_ldap_filter},
    {.name = "login_filter",
     .type = CONFIG_STR,
     .off = L(login_filter),
     .check = check_ldap_filter},
    {.name = "recipient_filter",
     .type = CONFIG_STR,
     .off = L(recipient_filter),
     .check = check_ldap_filter},
    {.name = "mail_attribute", .type = CONFIG_STR, .off = L(mail_attribute), .def = "mail"},
    {.name = "alias_attribute",
     .type = CONFIG_STR,
     .off = L(alias_attribute),
     .def = "mailAlternateAddress",
     .none = "none"},
    {.name = "auth_bind", .type = CONFIG_BOOL, .off = L(auth_bind), .def = "yes"},
    {.name = "password_attribute",
     .type = CONFIG_STR,
     .off = L(password_attribute),
     .def = "userPassword"},
    {.name = "starttls", .type = CONFIG_BOOL, .off = L(starttls), .def = "no"},
    {.name = "ca_file", .type = CONFIG_PATH, .off = L(ca_file)},
    {.name = "timeout", .type = CONFIG_DURATION, .off = L(timeout), .def = "5s", .min = 1},
    {.name = "pool_size",
     .type = CONFIG_COUNT,
     .off = L(pool_size),
     .def = "4",
     .min = 1,
     .max = 256},
    {.name = "cache_ttl", .type = CONFIG_DURATION, .off = L(cache_ttl), .def = "1m"},
};

const struct config_section ldap_config_section = {
    .name = "ldap",
    .keys = ldap_keys,
    .n_keys = N(ldap_keys),
    .size = sizeof(struct ldap_config),
};

/* --- [pam] --------------------------------------------------------------------------------- */

/* a file name in /etc/pam.d (or confdir), never a path */
static const char *check_pam_service(const char *v)
{
	return strchr(v, '/') != NULL || v[0] == '.'
		   ? "expected a PAM service name (a file in /etc/pam.d)"
		   : NULL;
}

#define P(field) offsetof(struct pam_config, field)

static const struct config_key pam_keys[] = {
    {.name = "service",
     .type = CONFIG_STR,
     .off = P(service),
     .def = "mailroom",
     .check = check_pam_service},
    {.name = "domain",
     .type = CONFIG_STR,
     .off = P(domain),
     .check = config_check_domain,
     .flags = CONFIG_LOWER},
    /* Debian's first user uid (adduser.conf FIRST_UID): root and the system
       accounts are not mail accounts */
    {.name = "min_uid",
     .type = CONFIG_COUNT,
     .off = P(min_uid),
     .def = "1000",
     .min = 1,
     .max = UINT32_MAX - 1},
    {.name = "confdir", .type = CONFIG_PATH, .off = P(confdir)},
};

const struct config_section pam_config_section = {
    .name = "pam",
    .keys = pam_keys,
    .n_keys = N(pam_keys),
    .size = sizeof(struct pam_config),
};

/* --- [passwd-file] ------------------------------------------------------------------------- */

#define W(field) offsetof(struct passwdfile_config, field)

static const struct config_key passwdfile_keys[] = {
    {.name = "path", .type = CONFIG_PATH, .off = W(path)},
    {.name = "domain",
     .type = CONFIG_STR,
     .off = W(domain),
     .check = config_check_domain,
     .flags = CONFIG_LOWER},
};

const struct config_section passwdfile_config_section = {
    .name = "passwd-file",
    .keys = passwdfile_keys,
    .n_keys = N(passwdfile_keys),
    .size = sizeof(struct passwdfile_config),
};

const struct directory_config *directory_config(const struct config *cfg)
{
	return config_part(cfg, &directory_config_section);
}

const struct ldap_config *ldap_config(const struct config *cfg)
{
	return config_part(cfg, &ldap_config_section);
}

const struct pam_config *pam_config(const struct config *cfg)
{
	return config_part(cfg, &pam_config_section);
}

const struct passwdfile_config *passwdfile_config(const struct config *cfg)
{
	return config_part(cfg, &passwdfile_config_section);
}
