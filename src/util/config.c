/* SPDX-License-Identifier: MIT */
/*
 * config.c - INI lexer and the table of known keys.
 *
 * The grammar: `[section]` lines, `key = value` lines, blank lines and
 * comments starting with ';' or '#' (at line start, or after whitespace in a
 * value). Keys and sections are case-sensitive lower case. set_key() knows
 * every key; config_defaults() gives its default and config_write() writes
 * it back (a unit test checks that what is written reads back the same).
 */
#include "util/config.h"
#include "util/buf.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_DEFAULT_FILE "mailroom.conf"

static const char *const role_names[ROLE_COUNT] = {"smtp", "submission", "submissions", "pop3",
						   "pop3s"};
static const char *const role_defaults[ROLE_COUNT] = {
    "127.0.0.1:2525", "127.0.0.1:2587", "127.0.0.1:2465", "127.0.0.1:2110", "127.0.0.1:2995"};

const char *listen_role_name(enum listen_role role)
{
	return role_names[role];
}

const struct listen_list *config_listen(const struct config *c, const char *name)
{
	for (int r = 0; r < ROLE_COUNT; r++)
		if (strcmp(role_names[r], name) == 0)
			return &c->listen[r];
	return NULL;
}

bool listen_role_implicit_tls(enum listen_role role)
{
	return role == ROLE_SUBMISSIONS || role == ROLE_POP3S;
}

int config_parse_size(const char *s, uint64_t *v_r)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	uint64_t mul = 1;
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		switch (toupper((unsigned char)*end)) {
		case 'K':
			mul = 1024ULL;
			break;
		case 'M':
			mul = 1024ULL * 1024;
			break;
		case 'G':
			mul = 1024ULL * 1024 * 1024;
			break;
		default:
			return -1;
		}
		end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end != '\0')
			return -1;
	}
	if (v > UINT64_MAX / mul)
		return -1;
	*v_r = v * mul;
	return 0;
}

int config_parse_duration(const char *s, unsigned *secs_r)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	unsigned long v = strtoul(s, &end, 10);
	unsigned long mul = 1;
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		switch (*end) {
		case 's':
			mul = 1;
			break;
		case 'm':
			mul = 60;
			break;
		case 'h':
			mul = 3600;
			break;
		case 'd':
			mul = 86400;
			break;
		default:
			return -1;
		}
		if (end[1] != '\0')
			return -1;
	}
	if (v > UINT_MAX / mul)
		return -1;
	*secs_r = (unsigned)(v * mul);
	return 0;
}

int config_parse_bool(const char *s, bool *v_r)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < N_ELEMENTS(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*v_r = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*v_r = false;
			return 0;
		}
	}
	return -1;
}

/* --- setters: each returns NULL or a static error message --------------- */

static const char *set_string(char **dst, const char *v)
{
	if (*v == '\0')
		return "value must not be empty";
	free(*dst);
	*dst = xstrdup(v);
	return NULL;
}

static const char *set_count(unsigned *dst, const char *v, unsigned min, unsigned max)
{
	static _Thread_local char msg[64]; /* parses may run on several threads (reload) */
	uint64_t n;
	if (config_parse_size(v, &n) < 0 || n < min || n > max) {
		snprintf(msg, sizeof(msg), "expected a number from %u to %u", min, max);
		return msg;
	}
	*dst = (unsigned)n;
	return NULL;
}

static void listen_list_clear(struct listen_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->addrs[i]);
	free(l->addrs);
	l->addrs = NULL;
	l->count = 0;
}

/* A host name (RFC 1123 letters, digits, hyphens, dots) or IPv4 address:
   what a greeting, a certificate and getaddrinfo() all take. */
static bool host_name_valid(const char *h, size_t len)
{
	if (len == 0 || len > 253 || h[0] == '.' || h[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' &&
		    !(h[i] == '.' && (i + 1 == len || h[i + 1] != '.')))
			return false;
	return true;
}

/* Validates "host:port" / "[v6]:port" / "*:port" syntax; resolution happens
   at bind. */
static bool listen_addr_valid(const char *a)
{
	const char *colon;
	if (*a == '[') {
		const char *rb = strchr(a, ']');
		if (rb == NULL || rb[1] != ':' || rb == a + 1 ||
		    strspn(a + 1, "0123456789abcdefABCDEF:.") != (size_t)(rb - a - 1))
			return false;
		colon = rb + 1;
	} else {
		colon = strrchr(a, ':');
		if (colon == NULL || colon == a || memchr(a, ':', (size_t)(colon - a)) != NULL)
			return false;
		if (!(colon == a + 1 && a[0] == '*') && !host_name_valid(a, (size_t)(colon - a)))
			return false;
	}
	uint64_t port;
	struct slice p = slice_from(colon + 1);
	return slice_to_uint(p, 65535, &port) && port > 0;
}

/* An account name as useradd(8) takes it (POSIX portable characters, not
   starting with '-'), so a message can quote it and getpwnam() sees it as is. */
static bool user_name_valid(const char *u)
{
	size_t len = strlen(u);
	if (len == 0 || len > 32 || u[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)u[i]) && u[i] != '.' && u[i] != '_' && u[i] != '-')
			return false;
	return true;
}

static const char *set_listen(struct listen_list *l, const char *v)
{
	listen_list_clear(l);
	if (*v == '\0' || strcmp(v, "off") == 0)
		return NULL;
	char *copy = xstrdup(v), *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*tok))
			tok++;
		char *e = tok + strlen(tok);
		while (e > tok && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (!listen_addr_valid(tok)) {
			free(copy);
			listen_list_clear(l);
			return "expected host:port (comma-separated for several), or off";
		}
		l->addrs = xrealloc(l->addrs, (l->count + 1) * sizeof(char *));
		l->addrs[l->count++] = xstrdup(tok);
	}
	free(copy);
	return NULL;
}

/* [directory] backend: "builtin, ldap" - known names, each once, in order */
static const char *set_directory(struct listen_list *l, const char *v)
{
	static const char *const names[] = {"builtin", "ldap", "pam", "passwd-file"};
	char *copy = xstrdup(v), *save = NULL;
	const char *err = NULL;

	listen_list_clear(l);
	for (char *tok = strtok_r(copy, ",", &save); tok != NULL && err == NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*tok))
			tok++;
		char *e = tok + strlen(tok);
		while (e > tok && isspace((unsigned char)e[-1]))
			*--e = '\0';
		bool known = false;
		for (size_t i = 0; i < N_ELEMENTS(names); i++)
			known |= strcmp(tok, names[i]) == 0;
		for (size_t i = 0; i < l->count && known; i++)
			if (strcmp(l->addrs[i], tok) == 0)
				err = "each backend may appear once";
		if (!known)
			err = "expected builtin, ldap, pam or passwd-file (comma-separated, in "
			      "order)";
		if (err == NULL) {
			l->addrs = xrealloc(l->addrs, (l->count + 1) * sizeof(char *));
			l->addrs[l->count++] = xstrdup(tok);
		}
	}
	free(copy);
	if (err == NULL && l->count == 0)
		err = "expected builtin, ldap, pam or passwd-file (comma-separated, in order)";
	if (err != NULL)
		listen_list_clear(l);
	return err;
}

static const char *set_bool(bool *dst, const char *v)
{
	return config_parse_bool(v, dst) < 0 ? "expected yes or no" : NULL;
}

static const char *set_duration(unsigned *dst, const char *v, unsigned min)
{
	unsigned s;
	if (config_parse_duration(v, &s) < 0 || s < min)
		return min > 0 ? "expected a duration of 1s or more, such as 30s, 10m or 1h"
			       : "expected a duration such as 0, 30s, 10m or 1h";
	*dst = s;
	return NULL;
}

/* "250ms", or a duration of whole seconds ("1s"); from 1 ms to a minute */
static const char *set_delay_ms(unsigned *dst, const char *v)
{
	size_t len = strlen(v), digits = strspn(v, "0123456789");
	unsigned n;

	if (digits > 0 && digits <= 5 && len == digits + 2 && strcmp(v + digits, "ms") == 0)
		n = (unsigned)strtoul(v, NULL, 10);
	else if (config_parse_duration(v, &n) == 0 && n <= 60)
		n *= 1000;
	else
		n = 0;
	if (n < 1 || n > 60000)
		return "expected a delay from 1ms to 60s, such as 250ms or 1s";
	*dst = n;
	return NULL;
}

/* An LDAP filter as RFC 4515 §3 writes it: in parentheses, balanced. The
   server checks the rest; this catches a missing ")" at `config check`. */
static bool ldap_filter_valid(const char *f)
{
	int depth = 0;
	if (f[0] != '(')
		return false;
	for (const char *p = f; *p != '\0'; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && --depth < 0)
			return false;
		else if (*p == '%' && (p[1] == '\0' || strchr("und%", p[1]) == NULL))
			return false;
		else if (*p == '%')
			p++;
		if (depth == 0 && p[1] != '\0')
			return false;
	}
	return depth == 0;
}

static const char *set_ldap_filter(char **dst, const char *v)
{
	if (!ldap_filter_valid(v))
		return "expected an LDAP filter in parentheses, such as (mail=%u) "
		       "(%u, %n and %d are the only % forms; %% is a %)";
	return set_string(dst, v);
}

static const char *set_ldap_key(struct config *c, const char *key, const char *v)
{
	static const struct {
		const char *key;
		size_t off;
	} strs[] = {
	    {"base", offsetof(struct config, ldap_base)},
	    {"bind_dn", offsetof(struct config, ldap_bind_dn)},
	    {"bind_password_file", offsetof(struct config, ldap_bind_password_file)},
	    {"mail_attribute", offsetof(struct config, ldap_mail_attribute)},
	    {"password_attribute", offsetof(struct config, ldap_password_attribute)},
	    {"ca_file", offsetof(struct config, ldap_ca_file)},
	};
	if (strcmp(key, "uri") == 0) {
		/* libldap tries several, space-separated, in order (one per DC) */
		for (const char *p = v; *p != '\0'; p += strcspn(p, " \t"), p += strspn(p, " \t"))
			if (strncmp(p, "ldap://", 7) != 0 && strncmp(p, "ldaps://", 8) != 0)
				return "expected ldap://host[:port] or ldaps://host[:port] "
				       "(several "
				       "separated by spaces)";
		return set_string(&c->ldap_uri, v);
	}
	for (size_t i = 0; i < N_ELEMENTS(strs); i++)
		if (strcmp(key, strs[i].key) == 0)
			return set_string((char **)((char *)c + strs[i].off), v);
	if (strcmp(key, "user_filter") == 0)
		return set_ldap_filter(&c->ldap_user_filter, v);
	if (strcmp(key, "login_filter") == 0)
		return set_ldap_filter(&c->ldap_login_filter, v);
	if (strcmp(key, "recipient_filter") == 0)
		return set_ldap_filter(&c->ldap_recipient_filter, v);
	if (strcmp(key, "alias_attribute") == 0) {
		free(c->ldap_alias_attribute);
		c->ldap_alias_attribute = NULL;
		return strcmp(v, "none") == 0 ? NULL : set_string(&c->ldap_alias_attribute, v);
	}
	if (strcmp(key, "starttls") == 0)
		return set_bool(&c->ldap_starttls, v);
	if (strcmp(key, "auth_bind") == 0)
		return set_bool(&c->ldap_auth_bind, v);
	if (strcmp(key, "timeout") == 0)
		return set_duration(&c->ldap_timeout, v, 1);
	if (strcmp(key, "pool_size") == 0)
		return set_count(&c->ldap_pool_size, v, 1, 256);
	if (strcmp(key, "cache_ttl") == 0)
		return set_duration(&c->ldap_cache_ttl, v, 0);
	return "unknown key";
}

/* A mail domain for a backend's bare names, kept lower-case like every
   address (store_directory.c). */
static const char *set_domain(char **dst, const char *v)
{
	if (!host_name_valid(v, strlen(v)) || strchr(v, '.') == NULL)
		return "expected a domain name such as example.org";
	const char *err = set_string(dst, v);
	for (char *q = *dst; *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	return err;
}

static const char *set_key(struct config *c, const char *sec, const char *key, const char *v)
{
	if (strcmp(sec, "server") == 0) {
		if (strcmp(key, "hostname") == 0) {
			if (!host_name_valid(v, strlen(v)))
				return "expected a host name (letters, digits, '-' and '.')";
			return set_string(&c->hostname, v);
		}
		if (strcmp(key, "data_dir") == 0)
			return set_string(&c->data_dir, v);
		if (strcmp(key, "user") == 0) {
			if (!user_name_valid(v))
				return "expected a user name (letters, digits, '.', '_' and '-')";
			return set_string(&c->user, v);
		}
		if (strcmp(key, "workers") == 0)
			return set_count(&c->workers, v, 1, 256);
		if (strcmp(key, "log_level") == 0) {
			static const char *const names[] = {"debug", "info", "warn", "error"};
			for (size_t i = 0; i < N_ELEMENTS(names); i++)
				if (strcmp(v, names[i]) == 0) {
					c->log_level = (enum log_level)i;
					return NULL;
				}
			return "expected debug, info, warn or error";
		}
		if (strcmp(key, "log_format") == 0) {
			if (strcmp(v, "text") != 0 && strcmp(v, "json") != 0)
				return "expected text or json";
			c->log_format = strcmp(v, "json") == 0 ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT;
			return NULL;
		}
	} else if (strcmp(sec, "listen") == 0) {
		for (int r = 0; r < ROLE_COUNT; r++)
			if (strcmp(key, role_names[r]) == 0)
				return set_listen(&c->listen[r], v);
	} else if (strcmp(sec, "tls") == 0) {
		if (strcmp(key, "cert") == 0)
			return set_string(&c->tls_cert, v);
		if (strcmp(key, "key") == 0)
			return set_string(&c->tls_key, v);
		if (strcmp(key, "client_ca") == 0)
			return set_string(&c->tls_client_ca, v);
		if (strcmp(key, "client_crl") == 0)
			return set_string(&c->tls_client_crl, v);
		if (strcmp(key, "client_cert_map") == 0) {
			if (strcmp(v, "email") != 0 && strcmp(v, "cn") != 0)
				return "expected email or cn";
			c->tls_client_cert_map =
			    strcmp(v, "cn") == 0 ? CERT_MAP_CN : CERT_MAP_EMAIL;
			return NULL;
		}
		if (strcmp(key, "client_cert_domain") == 0) {
			if (!host_name_valid(v, strlen(v)))
				return "expected a domain name (letters, digits, '-' and '.')";
			return set_string(&c->tls_client_cert_domain, v);
		}
	} else if (strcmp(sec, "metrics") == 0) {
		if (strcmp(key, "listen") == 0)
			return set_listen(&c->metrics_listen, v);
	} else if (strcmp(sec, "limits") == 0) {
		if (strcmp(key, "max_connections") == 0)
			return set_count(&c->max_connections, v, 1, 1000000);
		if (strcmp(key, "max_connections_per_ip") == 0)
			return set_count(&c->max_connections_per_ip, v, 1, 1000000);
		if (strcmp(key, "idle_timeout") == 0)
			return set_duration(&c->idle_timeout, v, 1);
		if (strcmp(key, "line_deadline") == 0)
			return set_duration(&c->line_deadline, v, 1);
		if (strcmp(key, "data_deadline") == 0)
			return set_duration(&c->data_deadline, v, 1);
		if (strcmp(key, "min_data_rate") == 0)
			return set_count(&c->min_data_rate, v, 0, 1U << 30);
		if (strcmp(key, "data_rate_window") == 0)
			return set_duration(&c->data_rate_window, v, 1);
		if (strcmp(key, "auth_fail_delay_max") == 0)
			return set_duration(&c->auth_fail_delay_max, v, 0);
		if (strcmp(key, "auth_fail_delay") == 0)
			return set_delay_ms(&c->auth_fail_delay_ms, v);
		if (strcmp(key, "auth_cache_ttl") == 0)
			return set_duration(&c->auth_cache_ttl, v, 0);
	} else if (strcmp(sec, "pop3") == 0) {
		if (strcmp(key, "plaintext_auth") == 0)
			return set_bool(&c->pop3_plaintext_auth, v);
		if (strcmp(key, "apop") == 0)
			return set_bool(&c->pop3_apop, v);
	} else if (strcmp(sec, "smtp") == 0) {
		if (strcmp(key, "max_message_size") == 0) {
			uint64_t n;
			if (config_parse_size(v, &n) < 0 || n < 1024 || n > (1ULL << 30))
				return "expected a size from 1K to 1G";
			c->smtp_max_message_size = n;
			return NULL;
		}
		if (strcmp(key, "max_recipients") == 0)
			return set_count(&c->smtp_max_recipients, v, 1, 100000);
		if (strcmp(key, "max_errors") == 0)
			return set_count(&c->smtp_max_errors, v, 1, 10000);
		if (strcmp(key, "max_commands") == 0)
			return set_count(&c->smtp_max_commands, v, 10, 10000000);
		if (strcmp(key, "max_received_headers") == 0)
			return set_count(&c->smtp_max_received, v, 5, 1000);
		if (strcmp(key, "command_timeout") == 0)
			return set_duration(&c->smtp_command_timeout, v, 1);
		if (strcmp(key, "data_timeout") == 0)
			return set_duration(&c->smtp_data_timeout, v, 1);
		if (strcmp(key, "postmaster") == 0)
			return set_string(&c->smtp_postmaster, v);
		if (strcmp(key, "sender_login_match") == 0)
			return set_bool(&c->smtp_sender_login_match, v);
	} else if (strcmp(sec, "delivery") == 0) {
		if (strcmp(key, "enabled") == 0)
			return set_bool(&c->delivery_enabled, v);
		if (strcmp(key, "threads") == 0)
			return set_count(&c->delivery_threads, v, 1, 256);
		if (strcmp(key, "per_destination") == 0)
			return set_count(&c->delivery_per_destination, v, 1, 10000);
		if (strcmp(key, "scan_interval") == 0)
			return set_duration(&c->delivery_scan_interval, v, 1);
		if (strcmp(key, "retry_min") == 0)
			return set_duration(&c->delivery_retry_min, v, 1);
		if (strcmp(key, "retry_max") == 0)
			return set_duration(&c->delivery_retry_max, v, 1);
		if (strcmp(key, "lifetime") == 0)
			return set_duration(&c->delivery_lifetime, v, 1);
		if (strcmp(key, "delay_warning") == 0)
			return set_duration(&c->delivery_delay_warning, v, 1);
		if (strcmp(key, "connect_timeout") == 0)
			return set_duration(&c->delivery_connect_timeout, v, 1);
		if (strcmp(key, "command_timeout") == 0)
			return set_duration(&c->delivery_command_timeout, v, 1);
		if (strcmp(key, "data_init_timeout") == 0)
			return set_duration(&c->delivery_data_init_timeout, v, 1);
		if (strcmp(key, "data_xfer_timeout") == 0)
			return set_duration(&c->delivery_data_xfer_timeout, v, 1);
		if (strcmp(key, "data_done_timeout") == 0)
			return set_duration(&c->delivery_data_done_timeout, v, 1);
		if (strcmp(key, "slow_after") == 0)
			return set_duration(&c->delivery_slow_after, v, 1);
		if (strcmp(key, "resolver") == 0) {
			if (!listen_addr_valid(v) && strchr(v, ':') != NULL)
				return "expected ip or ip:port";
			return set_string(&c->delivery_resolver, v);
		}
		if (strcmp(key, "ca_file") == 0)
			return set_string(&c->delivery_ca_file, v);
	} else if (strcmp(sec, "directory") == 0) {
		if (strcmp(key, "backend") == 0)
			return set_directory(&c->directory, v);
	} else if (strcmp(sec, "ldap") == 0) {
		return set_ldap_key(c, key, v);
	} else if (strcmp(sec, "pam") == 0) {
		if (strcmp(key, "service") == 0) {
			/* a file name in /etc/pam.d (or confdir), never a path */
			if (strchr(v, '/') != NULL || v[0] == '.')
				return "expected a PAM service name (a file in /etc/pam.d)";
			return set_string(&c->pam_service, v);
		}
		if (strcmp(key, "domain") == 0)
			return set_domain(&c->pam_domain, v);
		if (strcmp(key, "min_uid") == 0)
			return set_count(&c->pam_min_uid, v, 1, UINT32_MAX - 1);
		if (strcmp(key, "confdir") == 0)
			return set_string(&c->pam_confdir, v);
	} else if (strcmp(sec, "passwd-file") == 0) {
		if (strcmp(key, "path") == 0)
			return set_string(&c->passwdfile_path, v);
		if (strcmp(key, "domain") == 0)
			return set_domain(&c->passwdfile_domain, v);
	} else if (strcmp(sec, "gssapi") == 0) {
		if (strcmp(key, "keytab") == 0)
			return set_string(&c->gssapi_keytab, v);
		if (strcmp(key, "realm") == 0) {
			/* RFC 4120 §6.1: no separators; '@' and '/' would split names */
			if (strpbrk(v, "@/\\ \t") != NULL)
				return "expected a Kerberos realm such as EXAMPLE.COM";
			return set_string(&c->gssapi_realm, v);
		}
		if (strcmp(key, "domain") == 0)
			return set_domain(&c->gssapi_domain, v);
		if (strcmp(key, "principal") == 0) {
			if (strcmp(v, "*") != 0 && !host_name_valid(v, strlen(v)))
				return "expected a host name, or * for any host in the keytab";
			return set_string(&c->gssapi_principal, v);
		}
	}
	return "unknown key";
}

static bool section_known(const char *s)
{
	static const char *const secs[] = {"server",	  "listen",   "tls",	   "limits", "pop3",
					   "smtp",	  "delivery", "directory", "ldap",   "pam",
					   "passwd-file", "gssapi",   "metrics"};
	for (size_t i = 0; i < N_ELEMENTS(secs); i++)
		if (strcmp(s, secs[i]) == 0)
			return true;
	return false;
}

static void config_defaults(struct config *c)
{
	char host[256];
	memset(c, 0, sizeof(*c));
	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	c->hostname = xstrdup(host);
	c->data_dir = xstrdup("mailroom-data");
	c->log_level = LOG_INFO;
	c->workers = 4;
	for (int r = 0; r < ROLE_COUNT; r++)
		set_listen(&c->listen[r], role_defaults[r]);
	c->tls_cert = xstrdup("tls/cert.pem");
	c->tls_key = xstrdup("tls/key.pem");
	c->max_connections = 20000;
	c->max_connections_per_ip = 50;
	c->idle_timeout = 600;
	/* RFC 5321 §4.5.3.2.7: a server waits at least 5 minutes for a command;
	   typing one by hand takes far less */
	c->line_deadline = 300;
	/* a whole 35 MiB message at about 10 KiB/s (80 kbit/s) */
	c->data_deadline = 3600;
	/* RFC 5321 §4.5.3.2.5 lets a client pause 3 minutes between data
	   blocks: the window is longer, and the floor (under a byte a second)
	   is far below any real upload or typist */
	c->min_data_rate = 256;
	c->data_rate_window = 300;
	c->auth_fail_delay_max = 15;
	c->auth_fail_delay_ms = 1000;
	c->auth_cache_ttl = 300;
	set_directory(&c->directory, "builtin");
	c->pop3_plaintext_auth = false;
	c->pop3_apop = false; /* SPEC §7: a timestamp in the greeting makes clients try APOP */
	c->smtp_max_message_size = 35ULL * 1024 * 1024;
	c->smtp_max_recipients = 100;
	c->smtp_max_errors = 20;
	c->smtp_max_commands = 10000;
	c->smtp_max_received = 50;
	c->smtp_command_timeout = 300;
	c->smtp_data_timeout = 600;
	c->smtp_sender_login_match = true;
	c->delivery_enabled = true;
	c->delivery_threads = 4;
	c->delivery_per_destination = 2;
	c->delivery_scan_interval = 30;
	c->delivery_retry_min = 300;
	c->delivery_retry_max = 3600;
	c->delivery_lifetime = 5 * 86400;
	c->delivery_delay_warning = 4 * 3600;
	c->delivery_connect_timeout = 30;
	c->delivery_command_timeout = 300;   /* RFC 5321 §4.5.3.2.1-4: 5 minutes */
	c->delivery_data_init_timeout = 120; /* §4.5.3.2.5 */
	c->delivery_data_xfer_timeout = 180; /* §4.5.3.2.6 */
	c->delivery_data_done_timeout = 600; /* §4.5.3.2.7 */
	c->delivery_slow_after = 30;
	c->ldap_user_filter = xstrdup("(&(objectClass=inetOrgPerson)(mail=%u))"); /* SPEC §7 */
	c->ldap_mail_attribute = xstrdup("mail");
	c->ldap_alias_attribute = xstrdup("mailAlternateAddress");
	c->ldap_password_attribute = xstrdup("userPassword");
	c->ldap_auth_bind = true;
	c->ldap_timeout = 5;
	c->ldap_pool_size = 4;
	c->ldap_cache_ttl = 60;
	c->pam_service = xstrdup("mailroom");
	/* Debian's first user uid (adduser.conf FIRST_UID): root and the system
	   accounts are not mail accounts */
	c->pam_min_uid = 1000;
}

/* Make `*p` absolute against `base` (a folder). */
static void make_absolute(char **p, const char *base)
{
	if ((*p)[0] == '/')
		return;
	char *abs = xasprintf("%s/%s", base, *p);
	free(*p);
	*p = abs;
}

static void resolve_paths(struct config *c, const char *name)
{
	char cwd[PATH_MAX];
	char *base;

	if (getcwd(cwd, sizeof(cwd)) == NULL)
		strcpy(cwd, ".");
	if (name != NULL && strchr(name, '/') != NULL) {
		base = xstrndup(name, (size_t)(strrchr(name, '/') - name));
		if (base[0] == '\0') {
			free(base);
			base = xstrdup("/");
		}
		if (base[0] != '/') {
			char *b = xasprintf("%s/%s", cwd, base);
			free(base);
			base = b;
		}
	} else {
		base = xstrdup(cwd);
	}
	make_absolute(&c->data_dir, base);
	make_absolute(&c->tls_cert, c->data_dir);
	make_absolute(&c->tls_key, c->data_dir);
	if (c->tls_client_ca != NULL)
		make_absolute(&c->tls_client_ca, c->data_dir);
	if (c->tls_client_crl != NULL)
		make_absolute(&c->tls_client_crl, c->data_dir);
	if (c->delivery_ca_file != NULL)
		make_absolute(&c->delivery_ca_file, c->data_dir);
	if (c->ldap_bind_password_file != NULL)
		make_absolute(&c->ldap_bind_password_file, c->data_dir);
	if (c->ldap_ca_file != NULL)
		make_absolute(&c->ldap_ca_file, c->data_dir);
	if (c->pam_confdir != NULL)
		make_absolute(&c->pam_confdir, c->data_dir);
	if (c->passwdfile_path != NULL)
		make_absolute(&c->passwdfile_path, c->data_dir);
	if (c->gssapi_keytab != NULL)
		make_absolute(&c->gssapi_keytab, c->data_dir);
	free(base);
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int parse_text(const char *name, const char *text, size_t len, struct config *c,
		      char **err_r)
{
	char section[64] = "";
	struct buf seen = {0}; /* "\nsection.key\n..." for duplicate checks */
	unsigned lineno = 0;
	const char *p = text, *end = text + len;
	int ret = 0;

	if (memchr(text, '\0', len) != NULL) {
		*err_r = xasprintf("%s: file contains a NUL byte", name);
		return -1;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = xstrndup(p, ll), *s = trim(line);
		const char *msg = NULL;
		p += ll + (nl ? 1 : 0);
		lineno++;

		if (*s == '\0' || *s == ';' || *s == '#') {
			/* blank or comment */
		} else if (*s == '[') {
			char *rb = strchr(s, ']');
			if (rb == NULL || *trim(rb + 1) != '\0')
				msg = "malformed section header";
			else {
				*rb = '\0';
				char *secname = trim(s + 1);
				if (!section_known(secname)) {
					*err_r = xasprintf("%s:%u: unknown section [%s]", name,
							   lineno, secname);
					free(line);
					ret = -1;
					break;
				}
				snprintf(section, sizeof(section), "%s", secname);
			}
		} else {
			char *eq = strchr(s, '=');
			if (eq == NULL)
				msg = "expected key = value";
			else if (section[0] == '\0')
				msg = "key outside of any [section]";
			else {
				*eq = '\0';
				char *key = trim(s), *val = trim(eq + 1);
				/* inline comment: " ;" or " #" */
				for (char *q = val; *q != '\0'; q++)
					if ((*q == ';' || *q == '#') &&
					    (q == val || q[-1] == ' ' || q[-1] == '\t')) {
						*q = '\0';
						val = trim(val);
						break;
					}
				char *id = xasprintf("\n%s.%s\n", section, key);
				if (seen.len == 0)
					buf_append_c(&seen, '\n');
				if (strstr(seen.data, id) != NULL) {
					*err_r =
					    xasprintf("%s:%u: duplicate key '%s' in [%s]: it is "
						      "set above already; keep one",
						      name, lineno, key, section);
					free(id);
					free(line);
					ret = -1;
					break;
				} else {
					msg = set_key(c, section, key, val);
					buf_append_str(&seen, id + 1);
					if (msg == NULL && strcmp(id, "\nserver.user\n") == 0)
						c->user_line = lineno;
				}
				if (msg != NULL && strcmp(msg, "unknown key") == 0) {
					*err_r = xasprintf("%s:%u: unknown key '%s' in [%s]", name,
							   lineno, key, section);
					free(id);
					free(line);
					ret = -1;
					break;
				}
				free(id);
			}
		}
		if (msg != NULL) {
			*err_r = xasprintf("%s:%u: %s", name, lineno, msg);
			free(line);
			ret = -1;
			break;
		}
		free(line);
	}
	buf_free(&seen);
	return ret;
}

int config_parse(const char *name, const char *text, size_t len, struct config *cfg, char **err_r)
{
	config_defaults(cfg);
	cfg->file = xstrdup(name);
	if (parse_text(name, text, len, cfg, err_r) < 0) {
		config_free(cfg);
		return -1;
	}
	if (cfg->gssapi_keytab != NULL && cfg->gssapi_realm == NULL) {
		/* without a realm no principal maps to an address */
		*err_r = xasprintf("%s: [gssapi] keytab is set but realm is not", name);
		config_free(cfg);
		return -1;
	}
	resolve_paths(cfg, name);
	return 0;
}

const char *config_default_path(const char *system_path)
{
	if (access(CONFIG_DEFAULT_FILE, F_OK) == 0)
		return CONFIG_DEFAULT_FILE;
	if (system_path != NULL && system_path[0] != '\0' && access(system_path, F_OK) == 0)
		return system_path;
	return NULL;
}

/* A packaged build names its system config (CMake MAILROOM_SYSTEM_CONFIG,
   /etc/mailroom/mailroom.conf in the .deb); a plain build has none. */
#ifdef MAILROOM_SYSTEM_CONFIG
#define CONFIG_SYSTEM_FILE MAILROOM_SYSTEM_CONFIG
#else
#define CONFIG_SYSTEM_FILE NULL
#endif

int config_load(const char *path, struct config *cfg, char **err_r)
{
	if (path == NULL) {
		path = config_default_path(CONFIG_SYSTEM_FILE);
		if (path == NULL) {
			config_defaults(cfg);
			resolve_paths(cfg, NULL);
			return 0;
		}
	}
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		*err_r = xasprintf("%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	struct buf text = {0};
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (text.len + n > CONFIG_FILE_MAX) {
			fclose(f);
			buf_free(&text);
			*err_r = xasprintf("%s: file is larger than 1 MiB", path);
			return -1;
		}
		buf_append(&text, chunk, n);
	}
	int rerr = ferror(f);
	fclose(f);
	if (rerr) {
		buf_free(&text);
		*err_r = xasprintf("%s: read error", path);
		return -1;
	}
	int ret = config_parse(path, text.data ? text.data : "", text.len, cfg, err_r);
	buf_free(&text);
	return ret;
}

/* --- the effective configuration, written back -------------------------------------------- */

static void put_duration(struct buf *b, const char *key, unsigned secs)
{
	static const struct {
		unsigned secs;
		char unit;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}};
	for (size_t i = 0; i < N_ELEMENTS(units); i++)
		if (secs != 0 && secs % units[i].secs == 0) {
			buf_printf(b, "%s = %u%c\n", key, secs / units[i].secs, units[i].unit);
			return;
		}
	buf_printf(b, "%s = %us\n", key, secs);
}

static void put_size(struct buf *b, const char *key, uint64_t n)
{
	static const char units[] = "GMK";
	for (int i = 0; i < 3; i++) {
		uint64_t u = 1ULL << (10 * (3 - i));
		if (n != 0 && n % u == 0) {
			buf_printf(b, "%s = %llu%c\n", key, (unsigned long long)(n / u), units[i]);
			return;
		}
	}
	buf_printf(b, "%s = %llu\n", key, (unsigned long long)n);
}

static void put_str(struct buf *b, const char *key, const char *v)
{
	if (v == NULL)
		buf_printf(b, "; %s is not set\n", key);
	else
		buf_printf(b, "%s = %s\n", key, v);
}

static void put_bool(struct buf *b, const char *key, bool v)
{
	buf_printf(b, "%s = %s\n", key, v ? "yes" : "no");
}

void config_write(const struct config *c, struct buf *b)
{
	static const char *const levels[] = {"debug", "info", "warn", "error"};

	buf_printf(b, "[server]\n");
	put_str(b, "hostname", c->hostname);
	put_str(b, "data_dir", c->data_dir);
	put_str(b, "user", c->user);
	buf_printf(b, "workers = %u\nlog_level = %s\n", c->workers, levels[c->log_level]);
	buf_printf(b, "log_format = %s\n", c->log_format == LOG_FORMAT_JSON ? "json" : "text");
	buf_printf(b, "\n[listen]\n");
	for (int r = 0; r < ROLE_COUNT; r++) {
		buf_printf(b, "%s = ", role_names[r]);
		for (size_t i = 0; i < c->listen[r].count; i++)
			buf_printf(b, "%s%s", i > 0 ? ", " : "", c->listen[r].addrs[i]);
		buf_printf(b, "%s\n", c->listen[r].count == 0 ? "off" : "");
	}
	buf_printf(b, "\n[tls]\n");
	put_str(b, "cert", c->tls_cert);
	put_str(b, "key", c->tls_key);
	put_str(b, "client_ca", c->tls_client_ca);
	put_str(b, "client_crl", c->tls_client_crl);
	buf_printf(b, "client_cert_map = %s\n",
		   c->tls_client_cert_map == CERT_MAP_CN ? "cn" : "email");
	put_str(b, "client_cert_domain", c->tls_client_cert_domain);
	buf_printf(b, "\n[limits]\nmax_connections = %u\nmax_connections_per_ip = %u\n",
		   c->max_connections, c->max_connections_per_ip);
	put_duration(b, "idle_timeout", c->idle_timeout);
	put_duration(b, "line_deadline", c->line_deadline);
	put_duration(b, "data_deadline", c->data_deadline);
	buf_printf(b, "min_data_rate = %u\n", c->min_data_rate);
	put_duration(b, "data_rate_window", c->data_rate_window);
	put_duration(b, "auth_fail_delay_max", c->auth_fail_delay_max);
	if (c->auth_fail_delay_ms % 1000 == 0)
		put_duration(b, "auth_fail_delay", c->auth_fail_delay_ms / 1000);
	else
		buf_printf(b, "auth_fail_delay = %ums\n", c->auth_fail_delay_ms);
	put_duration(b, "auth_cache_ttl", c->auth_cache_ttl);
	buf_printf(b, "\n[pop3]\n");
	put_bool(b, "plaintext_auth", c->pop3_plaintext_auth);
	put_bool(b, "apop", c->pop3_apop);
	buf_printf(b, "\n[smtp]\n");
	put_size(b, "max_message_size", c->smtp_max_message_size);
	buf_printf(b,
		   "max_recipients = %u\nmax_errors = %u\nmax_commands = %u\n"
		   "max_received_headers = %u\n",
		   c->smtp_max_recipients, c->smtp_max_errors, c->smtp_max_commands,
		   c->smtp_max_received);
	put_duration(b, "command_timeout", c->smtp_command_timeout);
	put_duration(b, "data_timeout", c->smtp_data_timeout);
	put_str(b, "postmaster", c->smtp_postmaster);
	put_bool(b, "sender_login_match", c->smtp_sender_login_match);
	buf_printf(b, "\n[delivery]\n");
	put_bool(b, "enabled", c->delivery_enabled);
	buf_printf(b, "threads = %u\nper_destination = %u\n", c->delivery_threads,
		   c->delivery_per_destination);
	put_duration(b, "scan_interval", c->delivery_scan_interval);
	put_duration(b, "retry_min", c->delivery_retry_min);
	put_duration(b, "retry_max", c->delivery_retry_max);
	put_duration(b, "lifetime", c->delivery_lifetime);
	put_duration(b, "delay_warning", c->delivery_delay_warning);
	put_duration(b, "connect_timeout", c->delivery_connect_timeout);
	put_duration(b, "command_timeout", c->delivery_command_timeout);
	put_duration(b, "data_init_timeout", c->delivery_data_init_timeout);
	put_duration(b, "data_xfer_timeout", c->delivery_data_xfer_timeout);
	put_duration(b, "data_done_timeout", c->delivery_data_done_timeout);
	put_duration(b, "slow_after", c->delivery_slow_after);
	put_str(b, "resolver", c->delivery_resolver);
	put_str(b, "ca_file", c->delivery_ca_file);
	buf_printf(b, "\n[directory]\nbackend = ");
	for (size_t i = 0; i < c->directory.count; i++)
		buf_printf(b, "%s%s", i > 0 ? ", " : "", c->directory.addrs[i]);
	buf_printf(b, "\n");
	buf_printf(b, "\n[ldap]\n");
	put_str(b, "uri", c->ldap_uri);
	put_str(b, "base", c->ldap_base);
	put_str(b, "bind_dn", c->ldap_bind_dn);
	put_str(b, "bind_password_file", c->ldap_bind_password_file);
	put_str(b, "user_filter", c->ldap_user_filter);
	put_str(b, "login_filter", c->ldap_login_filter);
	put_str(b, "recipient_filter", c->ldap_recipient_filter);
	put_str(b, "mail_attribute", c->ldap_mail_attribute);
	buf_printf(b, "alias_attribute = %s\n",
		   c->ldap_alias_attribute ? c->ldap_alias_attribute : "none");
	put_bool(b, "auth_bind", c->ldap_auth_bind);
	put_str(b, "password_attribute", c->ldap_password_attribute);
	put_bool(b, "starttls", c->ldap_starttls);
	put_str(b, "ca_file", c->ldap_ca_file);
	put_duration(b, "timeout", c->ldap_timeout);
	buf_printf(b, "pool_size = %u\n", c->ldap_pool_size);
	put_duration(b, "cache_ttl", c->ldap_cache_ttl);
	buf_printf(b, "\n[pam]\n");
	put_str(b, "service", c->pam_service);
	put_str(b, "domain", c->pam_domain);
	buf_printf(b, "min_uid = %u\n", c->pam_min_uid);
	put_str(b, "confdir", c->pam_confdir);
	buf_printf(b, "\n[passwd-file]\n");
	put_str(b, "path", c->passwdfile_path);
	put_str(b, "domain", c->passwdfile_domain);
	buf_printf(b, "\n[gssapi]\n");
	put_str(b, "keytab", c->gssapi_keytab);
	put_str(b, "realm", c->gssapi_realm);
	put_str(b, "domain", c->gssapi_domain);
	put_str(b, "principal", c->gssapi_principal);
	buf_printf(b, "\n[metrics]\nlisten = ");
	for (size_t i = 0; i < c->metrics_listen.count; i++)
		buf_printf(b, "%s%s", i > 0 ? ", " : "", c->metrics_listen.addrs[i]);
	buf_printf(b, "%s\n", c->metrics_listen.count == 0 ? "off" : "");
}

void config_diff(const struct config *a, const struct config *b,
		 void (*fn)(const char *key, void *arg), void *arg)
{
	struct buf ta = {0}, tb = {0};
	char section[64] = "";

	config_write(a, &ta);
	config_write(b, &tb);
	/* one line per key, in the same order on both sides */
	const char *pa = ta.data, *pb = tb.data;
	while (*pa != '\0' && *pb != '\0') {
		size_t la = strcspn(pa, "\n"), lb = strcspn(pb, "\n");
		if (pa[0] == '[')
			snprintf(section, sizeof(section), "%.*s", (int)(la - 2), pa + 1);
		else if (la != lb || memcmp(pa, pb, la) != 0) {
			const char *k = pa[0] == ';' ? pa + 2 : pa;
			char key[128];
			snprintf(key, sizeof(key), "%s.%.*s", section, (int)strcspn(k, " "), k);
			fn(key, arg);
		}
		pa += la + (pa[la] == '\n');
		pb += lb + (pb[lb] == '\n');
	}
	buf_free(&ta);
	buf_free(&tb);
}

void config_free(struct config *c)
{
	free(c->smtp_postmaster);
	free(c->delivery_resolver);
	free(c->delivery_ca_file);
	char **ldap_strs[] = {&c->ldap_uri,
			      &c->ldap_base,
			      &c->ldap_bind_dn,
			      &c->ldap_bind_password_file,
			      &c->ldap_user_filter,
			      &c->ldap_login_filter,
			      &c->ldap_recipient_filter,
			      &c->ldap_mail_attribute,
			      &c->ldap_alias_attribute,
			      &c->ldap_password_attribute,
			      &c->ldap_ca_file};
	for (size_t i = 0; i < N_ELEMENTS(ldap_strs); i++)
		free(*ldap_strs[i]);
	free(c->pam_service);
	free(c->pam_domain);
	free(c->pam_confdir);
	free(c->passwdfile_path);
	free(c->passwdfile_domain);
	free(c->gssapi_keytab);
	free(c->gssapi_realm);
	free(c->gssapi_domain);
	free(c->gssapi_principal);
	free(c->file);
	free(c->hostname);
	free(c->data_dir);
	free(c->user);
	for (int r = 0; r < ROLE_COUNT; r++)
		listen_list_clear(&c->listen[r]);
	listen_list_clear(&c->directory);
	listen_list_clear(&c->metrics_listen);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_client_ca);
	free(c->tls_client_crl);
	free(c->tls_client_cert_domain);
	memset(c, 0, sizeof(*c));
}
