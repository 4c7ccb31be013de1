/* SPDX-License-Identifier: MIT */
/*
 * dir_ldap.c - accounts and recipients from an LDAP directory (OpenLDAP,
 * Active Directory) through OpenLDAP's libldap: the "ldap" backend.
 *
 * Owns a pool of connections bound as [ldap] bind_dn (made lazily, dropped
 * and re-made after a server error or a timeout), the RFC 4515 escaping of
 * every value put into a filter, the two login styles (bind as the user, AD
 * style; or read a {SCHEME} hash and verify it here), and a short cache of
 * recipient answers. Every request, including the wait for a free
 * connection, ends within [ldap] timeout.
 *
 * It must never count an unauthenticated bind (a DN with an empty password,
 * RFC 4513 §5.1.2) as a login, never leave a pooled connection bound as a
 * user, never log a password, and never answer "wrong password" or
 * "unknown" when the directory could not be asked: that is DIR_TEMPFAIL.
 */
#include "directory/auth.h"
#include "directory/dir_config.h"
#include "directory/dir_backend.h"
#include "directory/password.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ldap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LDAP_ADDRESS_MAX 320	   /* RFC 5321 §4.5.3.1.1 local part + @ + domain */
#define LDAP_RECIPIENT_ENTRIES 100 /* entries one address may name */
#define LDAP_NEGATIVE_TTL_MAX 30   /* seconds an unknown recipient is remembered */
#define LDAP_CACHE_BUCKETS 256
#define LDAP_CACHE_MAX 4096 /* entries; past it the cache starts over */
#define LDAP_SECRET_FILE_MAX 1024

struct ldap_conn {
	LDAP *ld;
	struct ldap_conn *next; /* in the idle list */
};

/* One remembered recipient answer. n_mailboxes == 0: unknown. */
struct rcpt_cache_entry {
	struct rcpt_cache_entry *next;
	char *address;
	char **mailboxes;
	size_t n_mailboxes;
	time_t expires; /* CLOCK_MONOTONIC seconds */
};

struct dir_ldap {
	char *uri, *base, *bind_dn, *bind_password, *ca_file;
	char *login_filter; /* user_filter, ANDed with login_filter */
	char *recipient_filter;
	char *mail_attr, *alias_attr, *password_attr;
	bool alias_prefixed; /* AD's proxyAddresses: "smtp:" / "SMTP:" values */
	bool starttls, auth_bind;
	unsigned timeout, pool_size, cache_ttl;

	pthread_mutex_t mu; /* the pool and the cache */
	pthread_cond_t cv;  /* a connection came back or a slot freed */
	struct ldap_conn *idle;
	unsigned n_open; /* idle + in use + being made */

	struct rcpt_cache_entry *cache[LDAP_CACHE_BUCKETS];
	unsigned n_cached;
};

/* --- time ------------------------------------------------------------------- */

static struct timespec deadline_in(unsigned secs)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += secs;
	return t;
}

/* What is left until `d`, for libldap; false once it has passed. */
static bool remaining(const struct timespec *d, struct timeval *tv_r)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long us =
	    (long long)(d->tv_sec - now.tv_sec) * 1000000 + (d->tv_nsec - now.tv_nsec) / 1000;
	if (us <= 0)
		return false;
	tv_r->tv_sec = (time_t)(us / 1000000);
	tv_r->tv_usec = (suseconds_t)(us % 1000000);
	return true;
}

static time_t mono_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec;
}

/* --- filters ---------------------------------------------------------------- */

/* RFC 4515 §3: a value in a filter writes '*', '(', ')', '\' and NUL as
   \XX. Control characters go the same way, so a log line of the filter
   stays one line. */
static void filter_escape(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '*' || c == '(' || c == ')' || c == '\\' || c < 0x20 || c == 0x7f)
			buf_printf(b, "\\%02x", c);
		else
			buf_append_c(b, (char)c);
	}
}

/* The template with %u (the whole login or address), %n (its local part)
   and %d (its domain, empty if none) replaced, each escaped; malloc'd.
   config.c accepted only these % forms. */
static char *filter_expand(const char *tmpl, const char *login)
{
	struct buf b = {0};
	const char *at = strrchr(login, '@');
	size_t n_len = at ? (size_t)(at - login) : strlen(login);
	const char *dom = at ? at + 1 : "";

	for (const char *p = tmpl; *p != '\0'; p++) {
		if (*p != '%' || p[1] == '\0') {
			buf_append_c(&b, *p);
			continue;
		}
		switch (*++p) {
		case 'u':
			filter_escape(&b, login, strlen(login));
			break;
		case 'n':
			filter_escape(&b, login, n_len);
			break;
		case 'd':
			filter_escape(&b, dom, strlen(dom));
			break;
		default:
			buf_append_c(&b, *p);
		}
	}
	buf_append_c(&b, '\0');
	return b.data;
}

/* --- connections -------------------------------------------------------------- */

static void conn_set_timeouts(LDAP *ld, const struct timespec *deadline)
{
	struct timeval tv;
	if (!remaining(deadline, &tv))
		tv.tv_sec = 0, tv.tv_usec = 1;
	/* NETWORK_TIMEOUT: connect(2) and the TLS handshake; TIMEOUT: every
	   synchronous call (StartTLS's extended operation) */
	ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
	ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
}

/* A result code of libldap's own (negative: the server went away, a
   timeout, a local error) leaves the connection in an unknown state. */
static bool conn_broken(int rc)
{
	return rc < 0 || rc == LDAP_BUSY || rc == LDAP_UNAVAILABLE;
}

/* Waits for the one result of msgid; returns its LDAP result code. */
static int conn_wait(LDAP *ld, int msgid, const struct timespec *deadline, LDAPMessage **res_r)
{
	struct timeval tv;
	LDAPMessage *res = NULL;
	int rc, err = LDAP_OTHER;

	*res_r = NULL;
	if (!remaining(deadline, &tv)) {
		ldap_abandon_ext(ld, msgid, NULL, NULL);
		return LDAP_TIMEOUT;
	}
	rc = ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, &res);
	if (rc == 0) {
		ldap_abandon_ext(ld, msgid, NULL, NULL);
		return LDAP_TIMEOUT;
	}
	if (rc < 0) {
		ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &err);
		return err < 0 ? err : LDAP_SERVER_DOWN;
	}
	rc = ldap_parse_result(ld, res, &err, NULL, NULL, NULL, NULL, 0);
	if (rc != LDAP_SUCCESS) {
		ldap_msgfree(res);
		return rc;
	}
	*res_r = res;
	return err;
}

/* A simple bind (RFC 4513 §5.1.3). dn NULL: back to anonymous. */
static int conn_bind(LDAP *ld, const char *dn, const char *password,
		     const struct timespec *deadline)
{
	struct berval cred = {.bv_len = password ? strlen(password) : 0,
			      .bv_val = (char *)(password ? password : "")};
	LDAPMessage *res;
	int msgid, rc;

	rc = ldap_sasl_bind(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, &msgid);
	if (rc != LDAP_SUCCESS)
		return rc;
	rc = conn_wait(ld, msgid, deadline, &res);
	ldap_msgfree(res);
	return rc;
}

/* Why step `what` of a new connection failed, with the server's words if
   it said any; malloc'd. libldap reports a certificate that fails
   verification like a server that cannot be reached, so with TLS the text
   says so. */
static char *conn_why(const struct dir_ldap *be, LDAP *ld, const char *what, int rc)
{
	bool tls = be->starttls || strstr(be->uri, "ldaps://") != NULL;
	char *diag = NULL;

	ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	if (diag != NULL && (diag[0] == '\0' || strcmp(diag, "(unknown error code)") == 0)) {
		ldap_memfree(diag);
		diag = NULL;
	}
	char *why = xasprintf("%s at %s failed: %s%s%s%s", what, be->uri, ldap_err2string(rc),
			      diag ? ": " : "", diag ? diag : "",
			      tls && (rc == LDAP_CONNECT_ERROR || rc == LDAP_SERVER_DOWN)
				  ? " (or TLS failed: the certificate must verify against "
				    "ca_file and name the host of uri)"
				  : "");
	ldap_memfree(diag);
	return why;
}

/* A new connection: connect (TLS for ldaps://), StartTLS if set, bind as
   bind_dn if set. On failure returns the LDAP result code of the step that
   failed (the server's own code where it answered) with *why_r, a
   malloc'd text naming the step. */
static int conn_open(struct dir_ldap *be, const struct timespec *deadline, LDAP **ld_r,
		     char **why_r)
{
	static const int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND,
			 tls12 = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2, zero = 0;
	LDAP *ld = NULL;
	int rc;

	*ld_r = NULL;
	*why_r = NULL;
	rc = ldap_initialize(&ld, be->uri);
	if (rc != LDAP_SUCCESS) {
		*why_r = xasprintf("uri %s: %s", be->uri, ldap_err2string(rc));
		return rc;
	}
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	/* a referral would send the service password to another server */
	ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	/* secure by default: the server's certificate must verify (name and
	   chain) against ca_file or the system's CAs, TLS 1.2 at least */
	ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
	ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &tls12);
	if (be->ca_file != NULL)
		ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, be->ca_file);
	rc = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero);
	if (rc != LDAP_SUCCESS) {
		*why_r = conn_why(be, ld, "TLS setup", rc);
		goto fail;
	}
	conn_set_timeouts(ld, deadline);
	/* the first step on its own, so that a server that is not there is
	   told apart from one that refuses StartTLS or the bind */
	rc = ldap_connect(ld);
	if (rc != LDAP_SUCCESS) {
		*why_r = conn_why(be, ld, "connect", rc);
		goto fail;
	}
	if (be->starttls) {
		/* RFC 4513 §3: no bind and no search before TLS is up */
		rc = ldap_start_tls_s(ld, NULL, NULL);
		if (rc != LDAP_SUCCESS) {
			*why_r = conn_why(be, ld, "StartTLS", rc);
			goto fail;
		}
	}
	if (be->bind_dn != NULL) {
		rc = conn_bind(ld, be->bind_dn, be->bind_password, deadline);
		if (rc != LDAP_SUCCESS) {
			char *what = xasprintf("bind as %s", be->bind_dn);
			*why_r = conn_why(be, ld, what, rc);
			free(what);
			goto fail;
		}
	}
	*ld_r = ld;
	return LDAP_SUCCESS;
fail:
	ldap_unbind_ext_s(ld, NULL, NULL);
	return rc;
}

/* A connection bound as the service, within the deadline. *fresh_r: just
   made (a failure on it is not a stale connection). */
static int pool_get(struct dir_ldap *be, const struct timespec *deadline, struct ldap_conn **c_r,
		    bool *fresh_r)
{
	struct ldap_conn *c;
	LDAP *ld;
	int rc;

	*c_r = NULL;
	pthread_mutex_lock(&be->mu);
	while (be->idle == NULL && be->n_open >= be->pool_size) {
		if (pthread_cond_timedwait(&be->cv, &be->mu, deadline) == ETIMEDOUT) {
			pthread_mutex_unlock(&be->mu);
			log_warn("ldap: all %u connections busy for %us", be->pool_size,
				 be->timeout);
			return LDAP_TIMEOUT;
		}
	}
	if (be->idle != NULL) {
		c = be->idle;
		be->idle = c->next;
		pthread_mutex_unlock(&be->mu);
		conn_set_timeouts(c->ld, deadline);
		*c_r = c;
		*fresh_r = false;
		return LDAP_SUCCESS;
	}
	be->n_open++;
	pthread_mutex_unlock(&be->mu);

	char *why;
	rc = conn_open(be, deadline, &ld, &why);
	if (rc != LDAP_SUCCESS) {
		log_warn("ldap: %s", why);
		free(why);
		/* a refused StartTLS or service bind is never the user's fault:
		   no talk, as if the server were down */
		if (rc > 0)
			rc = LDAP_UNAVAILABLE;
		pthread_mutex_lock(&be->mu);
		be->n_open--;
		pthread_cond_signal(&be->cv);
		pthread_mutex_unlock(&be->mu);
		return rc;
	}
	c = xcalloc(1, sizeof(*c));
	c->ld = ld;
	*c_r = c;
	*fresh_r = true;
	return LDAP_SUCCESS;
}

/* Back to the pool, or closed if `rc` says the connection is not sound. */
static void pool_put(struct dir_ldap *be, struct ldap_conn *c, int rc)
{
	if (c == NULL)
		return;
	if (conn_broken(rc)) {
		ldap_unbind_ext_s(c->ld, NULL, NULL);
		free(c);
		c = NULL;
	}
	pthread_mutex_lock(&be->mu);
	if (c != NULL) {
		c->next = be->idle;
		be->idle = c;
	} else {
		be->n_open--;
	}
	pthread_cond_signal(&be->cv);
	pthread_mutex_unlock(&be->mu);
}

/* Closes every idle connection: one of them was found dead, and the
   others, as old, went with the same restart. */
static void pool_drop_idle(struct dir_ldap *be)
{
	pthread_mutex_lock(&be->mu);
	struct ldap_conn *c = be->idle;
	be->idle = NULL;
	while (c != NULL) {
		struct ldap_conn *next = c->next;
		ldap_unbind_ext_s(c->ld, NULL, NULL);
		free(c);
		be->n_open--;
		c = next;
	}
	pthread_cond_broadcast(&be->cv);
	pthread_mutex_unlock(&be->mu);
}

/* One subtree search under base. A pooled connection the server dropped
   while it sat idle (a restart, AD's idle limit) is re-made once, and the
   other idle ones are dropped with it. On return *c_r is the connection
   used (for a bind after the search), or NULL. */
static int dir_ldap_search(struct dir_ldap *be, const char *filter, char **attrs, int sizelimit,
			   const struct timespec *deadline, struct ldap_conn **c_r,
			   LDAPMessage **res_r)
{
	int rc = LDAP_OTHER;

	*c_r = NULL;
	*res_r = NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct ldap_conn *c;
		struct timeval tv;
		bool fresh;
		int msgid;

		rc = pool_get(be, deadline, &c, &fresh);
		if (rc != LDAP_SUCCESS)
			return rc;
		if (!remaining(deadline, &tv)) {
			pool_put(be, c, LDAP_SUCCESS);
			return LDAP_TIMEOUT;
		}
		rc = ldap_search_ext(c->ld, be->base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL,
				     NULL, &tv, sizelimit, &msgid);
		if (rc == LDAP_SUCCESS)
			rc = conn_wait(c->ld, msgid, deadline, res_r);
		if (rc == LDAP_SERVER_DOWN && !fresh) {
			pool_put(be, c, rc);
			pool_drop_idle(be);
			continue;
		}
		if (conn_broken(rc)) {
			pool_put(be, c, rc);
			return rc;
		}
		*c_r = c;
		return rc;
	}
	return rc;
}

/* --- entries -------------------------------------------------------------------- */

static char *address_lower(const char *s, size_t n)
{
	if (n == 0 || n > LDAP_ADDRESS_MAX || memchr(s, '@', n) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || s[i] == '<' || s[i] == '>')
			return NULL;
	char *a = xstrndup(s, n);
	for (char *p = a; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return a;
}

/* The address an alias value stands for: itself, or for AD's
   proxyAddresses the part after "smtp:" (the upper-case "SMTP:" marks the
   primary). Other address types (x500:, X400:, sip:, ...) are not mail
   addresses here: NULL. */
static char *alias_value_address(const struct dir_ldap *be, const struct berval *v, bool *primary_r)
{
	*primary_r = false;
	if (!be->alias_prefixed)
		return address_lower(v->bv_val, v->bv_len);
	if (v->bv_len < 5 || strncasecmp(v->bv_val, "smtp:", 5) != 0)
		return NULL;
	*primary_r = strncmp(v->bv_val, "SMTP:", 5) == 0;
	return address_lower(v->bv_val + 5, v->bv_len - 5);
}

/* The account address of an entry: mail_attribute's first value, or,
   where an entry has none (AD mailboxes often have only proxyAddresses),
   its primary SMTP: address. Lower-case; malloc'd or NULL. */
static char *entry_address(const struct dir_ldap *be, LDAP *ld, LDAPMessage *e)
{
	struct berval **vals = ldap_get_values_len(ld, e, be->mail_attr);
	char *a = NULL;

	if (vals != NULL && vals[0] != NULL)
		a = address_lower(vals[0]->bv_val, vals[0]->bv_len);
	if (vals != NULL)
		ldap_value_free_len(vals);
	if (a != NULL || !be->alias_prefixed)
		return a;
	vals = ldap_get_values_len(ld, e, be->alias_attr);
	for (size_t i = 0; vals != NULL && vals[i] != NULL && a == NULL; i++) {
		bool primary;
		char *v = alias_value_address(be, vals[i], &primary);
		if (primary)
			a = v;
		else
			free(v);
	}
	if (vals != NULL)
		ldap_value_free_len(vals);
	return a;
}

static enum dir_status status_of(const struct dir_ldap *be, int rc, const char *what)
{
	if (rc == LDAP_SUCCESS)
		return DIR_OK;
	if (rc == LDAP_NO_SUCH_OBJECT) {
		log_warn("ldap: base %s does not exist", be->base);
		return DIR_UNKNOWN;
	}
	log_warn("ldap: %s at %s failed: %s", what, be->uri, ldap_err2string(rc));
	return DIR_TEMPFAIL;
}

/* The one entry a login names, with its DN. With two or more entries the
   login is ambiguous: unknown, because picking one could let one person
   log in as another. */
static enum dir_status find_login(struct dir_ldap *be, const char *login,
				  const struct timespec *deadline, struct dir_account *a_r,
				  char **dn_r, struct ldap_conn **c_r)
{
	char *attrs[4] = {be->mail_attr, NULL, NULL, NULL};
	struct ldap_conn *c;
	LDAPMessage *res, *e;
	enum dir_status st;
	size_t na = 1;
	int rc;

	memset(a_r, 0, sizeof(*a_r));
	*dn_r = NULL;
	*c_r = NULL;
	if (login[0] == '\0' || strlen(login) > LDAP_ADDRESS_MAX)
		return DIR_UNKNOWN;
	if (be->alias_prefixed)
		attrs[na++] = be->alias_attr;
	if (!be->auth_bind)
		attrs[na++] = be->password_attr;

	char *filter = filter_expand(be->login_filter, login);
	rc = dir_ldap_search(be, filter, attrs, 2, deadline, &c, &res);
	free(filter);
	if (rc == LDAP_SIZELIMIT_EXCEEDED)
		rc = LDAP_SUCCESS; /* two entries came: ambiguous, below */
	st = status_of(be, rc, "login search");
	if (st != DIR_OK) {
		ldap_msgfree(res);
		pool_put(be, c, rc);
		return st;
	}
	int n = ldap_count_entries(c->ld, res);
	if (n != 1) {
		if (n > 1)
			log_warn("ldap: login %s matches several entries: refused", login);
		ldap_msgfree(res);
		pool_put(be, c, LDAP_SUCCESS);
		return DIR_UNKNOWN;
	}
	e = ldap_first_entry(c->ld, res);
	a_r->address = entry_address(be, c->ld, e);
	if (a_r->address == NULL) {
		log_warn("ldap: login %s: its entry has no usable %s", login, be->mail_attr);
		ldap_msgfree(res);
		pool_put(be, c, LDAP_SUCCESS);
		return DIR_UNKNOWN;
	}
	if (!be->auth_bind) {
		struct berval **pw = ldap_get_values_len(c->ld, e, be->password_attr);
		if (pw != NULL && pw[0] != NULL && pw[0]->bv_len > 0 &&
		    pw[0]->bv_len <= PASSWORD_MAX &&
		    memchr(pw[0]->bv_val, '\0', pw[0]->bv_len) == NULL)
			a_r->pw_hash = xstrndup(pw[0]->bv_val, pw[0]->bv_len);
		for (size_t i = 0; pw != NULL && pw[i] != NULL; i++)
			secure_zero(pw[i]->bv_val, pw[i]->bv_len);
		if (pw != NULL)
			ldap_value_free_len(pw);
	}
	a_r->enabled = a_r->pop3_enabled = a_r->submission_enabled = true;
	char *dn = ldap_get_dn(c->ld, e);
	*dn_r = dn ? xstrdup(dn) : NULL;
	ldap_memfree(dn);
	ldap_msgfree(res);
	*c_r = c;
	return DIR_OK;
}

/* --- the ops ---------------------------------------------------------------------- */

static enum dir_status dir_ldap_lookup(void *v, struct store *st, const char *login,
				       struct dir_account *a_r)
{
	struct dir_ldap *be = v;
	struct timespec deadline = deadline_in(be->timeout);
	struct ldap_conn *c;
	char *dn;

	enum dir_status s = find_login(be, login, &deadline, a_r, &dn, &c);
	if (s == DIR_OK)
		pool_put(be, c, LDAP_SUCCESS);
	free(dn);
	return s;
}

static enum dir_status dir_ldap_verify(void *v, struct store *st, const char *login,
				       const char *password, struct dir_account *a_r)
{
	struct dir_ldap *be = v;
	struct timespec deadline = deadline_in(be->timeout);
	struct ldap_conn *c;
	char *dn;
	int rc;

	enum dir_status s = find_login(be, login, &deadline, a_r, &dn, &c);
	if (s != DIR_OK)
		return s;
	if (password[0] == '\0') {
		/* RFC 4513 §5.1.2: a DN with an empty password is an
		   "unauthenticated" bind that servers may answer with success */
		s = DIR_FAILED;
		pool_put(be, c, LDAP_SUCCESS);
	} else if (!be->auth_bind) {
		/* the slow hash needs no connection: others may use it meanwhile */
		pool_put(be, c, LDAP_SUCCESS);
		if (a_r->pw_hash == NULL)
			auth_dummy_verify(password); /* the same time as a real check */
		s = a_r->pw_hash != NULL && password_verify(password, a_r->pw_hash) ? DIR_OK
										    : DIR_FAILED;
	} else if (dn == NULL || dn[0] == '\0') {
		s = DIR_FAILED;
		pool_put(be, c, LDAP_SUCCESS);
	} else {
		rc = conn_bind(c->ld, dn, password, &deadline);
		if (rc == LDAP_SUCCESS)
			s = DIR_OK;
		else if (rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_INAPPROPRIATE_AUTH)
			s = DIR_FAILED; /* AD: 49 also for disabled, expired, locked */
		else
			s = status_of(be, rc, "user bind");
		/* the connection goes back to the pool as the service again, or
		   not at all */
		if (!conn_broken(rc)) {
			rc = conn_bind(c->ld, be->bind_dn, be->bind_password, &deadline);
			if (rc != LDAP_SUCCESS) {
				log_warn("ldap: bind back as %s failed: %s",
					 be->bind_dn ? be->bind_dn : "anonymous",
					 ldap_err2string(rc));
				rc = LDAP_SERVER_DOWN; /* close it */
			}
		}
		pool_put(be, c, rc);
	}
	free(dn);
	if (s != DIR_OK)
		dir_account_clear(a_r);
	return s;
}

static unsigned cache_bucket(const char *address)
{
	unsigned h = 2166136261u; /* FNV-1a */
	for (const char *p = address; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h % LDAP_CACHE_BUCKETS;
}

static void cache_entry_free(struct rcpt_cache_entry *e)
{
	for (size_t i = 0; i < e->n_mailboxes; i++)
		free(e->mailboxes[i]);
	free(e->mailboxes);
	free(e->address);
	free(e);
}

static void cache_clear(struct dir_ldap *be)
{
	for (size_t i = 0; i < LDAP_CACHE_BUCKETS; i++) {
		while (be->cache[i] != NULL) {
			struct rcpt_cache_entry *e = be->cache[i];
			be->cache[i] = e->next;
			cache_entry_free(e);
		}
	}
	be->n_cached = 0;
}

/* Fills r from the cache; false if the address is not (or no longer) in it. */
static bool cache_get(struct dir_ldap *be, const char *address, struct dir_resolution *r,
		      bool *known_r)
{
	bool hit = false;
	time_t now = mono_now();

	pthread_mutex_lock(&be->mu);
	for (struct rcpt_cache_entry *e = be->cache[cache_bucket(address)]; e != NULL;
	     e = e->next) {
		if (strcmp(e->address, address) != 0 || e->expires <= now)
			continue;
		for (size_t i = 0; i < e->n_mailboxes; i++)
			dir_resolution_add_mailbox(r, e->mailboxes[i]);
		*known_r = e->n_mailboxes > 0;
		hit = true;
		break;
	}
	pthread_mutex_unlock(&be->mu);
	return hit;
}

static void cache_put(struct dir_ldap *be, const char *address, char **mailboxes, size_t n)
{
	unsigned ttl =
	    n > 0 ? be->cache_ttl
		  : (be->cache_ttl < LDAP_NEGATIVE_TTL_MAX ? be->cache_ttl : LDAP_NEGATIVE_TTL_MAX);
	unsigned h = cache_bucket(address);
	time_t now = mono_now();
	struct rcpt_cache_entry *e;

	if (ttl == 0)
		return;
	e = xcalloc(1, sizeof(*e));
	e->address = xstrdup(address);
	e->mailboxes = n > 0 ? xcalloc(n, sizeof(char *)) : NULL;
	for (size_t i = 0; i < n; i++)
		e->mailboxes[i] = xstrdup(mailboxes[i]);
	e->n_mailboxes = n;
	e->expires = now + (time_t)ttl;

	pthread_mutex_lock(&be->mu);
	/* drop this address's old entry and, on the way, expired ones */
	for (struct rcpt_cache_entry **p = &be->cache[h]; *p != NULL;) {
		if ((*p)->expires <= now || strcmp((*p)->address, address) == 0) {
			struct rcpt_cache_entry *old = *p;
			*p = old->next;
			cache_entry_free(old);
			be->n_cached--;
		} else {
			p = &(*p)->next;
		}
	}
	if (be->n_cached >= LDAP_CACHE_MAX)
		cache_clear(be); /* a burst of distinct addresses: start over */
	e->next = be->cache[h];
	be->cache[h] = e;
	be->n_cached++;
	pthread_mutex_unlock(&be->mu);
}

static enum dir_status dir_ldap_resolve(void *v, struct store *st, const char *address,
					struct dir_resolution *r_r)
{
	struct dir_ldap *be = v;
	struct timespec deadline = deadline_in(be->timeout);
	char *attrs[3] = {be->mail_attr, be->alias_prefixed ? be->alias_attr : NULL, NULL};
	char **found = NULL;
	size_t n_found = 0;
	struct ldap_conn *c;
	LDAPMessage *res;
	bool known;
	int rc;

	char *key = address_lower(address, strlen(address));
	if (key == NULL)
		return DIR_UNKNOWN;
	if (cache_get(be, key, r_r, &known)) {
		free(key);
		return known ? DIR_OK : DIR_UNKNOWN;
	}
	char *filter = filter_expand(be->recipient_filter, key);
	rc = dir_ldap_search(be, filter, attrs, LDAP_RECIPIENT_ENTRIES, &deadline, &c, &res);
	free(filter);
	if (rc == LDAP_SIZELIMIT_EXCEEDED) {
		log_warn("ldap: %s matches more than %d entries; the first ones get it", key,
			 LDAP_RECIPIENT_ENTRIES);
		rc = LDAP_SUCCESS;
	}
	enum dir_status s = status_of(be, rc, "recipient search");
	if (s != DIR_OK) {
		ldap_msgfree(res);
		pool_put(be, c, rc);
		free(key);
		return s;
	}
	for (LDAPMessage *e = ldap_first_entry(c->ld, res); e != NULL;
	     e = ldap_next_entry(c->ld, e)) {
		char *a = entry_address(be, c->ld, e);
		if (a == NULL)
			continue;
		found = xrealloc(found, (n_found + 1) * sizeof(char *));
		found[n_found++] = a;
	}
	ldap_msgfree(res);
	pool_put(be, c, LDAP_SUCCESS);

	for (size_t i = 0; i < n_found; i++)
		dir_resolution_add_mailbox(r_r, found[i]);
	cache_put(be, key, found, n_found);
	for (size_t i = 0; i < n_found; i++)
		free(found[i]);
	free(found);
	free(key);
	return n_found > 0 ? DIR_OK : DIR_UNKNOWN;
}

/* --- config check --------------------------------------------------------------- */

/* `config check`: a connection of its own (not one of the pool's) through
   every step serve's first request takes, then a base-scope search of
   base, which the service account must be allowed to see. */
static enum dir_status dir_ldap_probe(void *v, char **text_r)
{
	struct dir_ldap *be = v;
	struct timespec deadline = deadline_in(be->timeout);
	char *attrs[] = {LDAP_NO_ATTRS, NULL};
	LDAPMessage *res = NULL;
	struct timeval tv;
	LDAP *ld;
	char *why;
	int msgid, n = 0;

	int rc = conn_open(be, &deadline, &ld, &why);
	if (rc != LDAP_SUCCESS) {
		*text_r = why;
		return conn_broken(rc) ? DIR_TEMPFAIL : DIR_FAILED;
	}
	rc = LDAP_TIMEOUT;
	if (remaining(&deadline, &tv))
		rc = ldap_search_ext(ld, be->base, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0,
				     NULL, NULL, &tv, 1, &msgid);
	if (rc == LDAP_SUCCESS)
		rc = conn_wait(ld, msgid, &deadline, &res);
	if (rc == LDAP_SUCCESS)
		n = ldap_count_entries(ld, res);
	ldap_msgfree(res);

	const char *as = be->bind_dn != NULL ? be->bind_dn : "anonymous";
	enum dir_status s = DIR_FAILED;
	if (rc == LDAP_SUCCESS && n == 1) {
		*text_r = xasprintf("%s %s%s%s and base %s found", be->uri,
				    be->starttls ? "StartTLS, " : "", be->bind_dn ? "bind as " : "",
				    as, be->base);
		s = DIR_OK;
	} else if (rc == LDAP_SUCCESS || rc == LDAP_NO_SUCH_OBJECT) {
		/* a server hides what an account may not read as if it were not there */
		*text_r = xasprintf("%s: base %s does not exist, or %s may not read it", be->uri,
				    be->base, as);
	} else {
		*text_r = conn_why(be, ld, "search of base", rc);
		if (conn_broken(rc))
			s = DIR_TEMPFAIL;
	}
	ldap_unbind_ext_s(ld, NULL, NULL);
	return s;
}

/* --- open and close ----------------------------------------------------------------- */

/* The service password: the file's first line. It is a secret: a file
   that others than its owner and group may read is refused. */
static int read_secret(const char *path, char **secret_r, char **err_r)
{
	char buf[LDAP_SECRET_FILE_MAX + 1];
	struct stat sb;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		*err_r = xasprintf("[ldap] bind_password_file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (sb.st_mode & S_IROTH) != 0) {
		*err_r = xasprintf("[ldap] bind_password_file %s: must be a regular file that "
				   "others cannot read (chmod 640)",
				   path);
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0 || n > LDAP_SECRET_FILE_MAX) {
		*err_r = xasprintf("[ldap] bind_password_file %s: %s", path,
				   n < 0 ? strerror(errno) : "longer than 1024 bytes");
		secure_zero(buf, sizeof(buf));
		return -1;
	}
	buf[n] = '\0';
	size_t len = strcspn(buf, "\r\n");
	if (len == 0 || memchr(buf, '\0', len) != NULL) {
		/* an empty password would make the service bind unauthenticated */
		*err_r = xasprintf("[ldap] bind_password_file %s: the first line must hold the "
				   "password",
				   path);
		secure_zero(buf, sizeof(buf));
		return -1;
	}
	*secret_r = xstrndup(buf, len);
	secure_zero(buf, sizeof(buf));
	return 0;
}

static void dir_ldap_close(void *v)
{
	struct dir_ldap *be = v;
	if (be == NULL)
		return;
	while (be->idle != NULL) {
		struct ldap_conn *c = be->idle;
		be->idle = c->next;
		ldap_unbind_ext_s(c->ld, NULL, NULL);
		free(c);
	}
	cache_clear(be);
	pthread_mutex_destroy(&be->mu);
	pthread_cond_destroy(&be->cv);
	secret_free(&be->bind_password);
	char **strs[] = {&be->uri,	 &be->base,	    &be->bind_dn,
			 &be->ca_file,	 &be->login_filter, &be->recipient_filter,
			 &be->mail_attr, &be->alias_attr,   &be->password_attr};
	for (size_t i = 0; i < N_ELEMENTS(strs); i++)
		free(*strs[i]);
	free(be);
}

static int dir_ldap_open(const struct config *cfg, void **be_r, char **err_r)
{
	struct dir_ldap *be;
	pthread_condattr_t ca;

	*be_r = NULL;
	if (ldap_config(cfg)->uri == NULL || ldap_config(cfg)->base == NULL) {
		*err_r = xstrdup("[directory] backend ldap needs [ldap] uri and base");
		return -1;
	}
	if (ldap_config(cfg)->bind_dn != NULL && ldap_config(cfg)->bind_password_file == NULL) {
		*err_r = xstrdup("[ldap] bind_dn needs bind_password_file");
		return -1;
	}
	if (ldap_config(cfg)->starttls && strstr(ldap_config(cfg)->uri, "ldaps://") != NULL) {
		*err_r = xstrdup("[ldap] starttls = yes is for ldap:// (ldaps:// is TLS already)");
		return -1;
	}
	be = xcalloc(1, sizeof(*be));
	pthread_mutex_init(&be->mu, NULL);
	/* the pool's waits are bounded by monotonic deadlines */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&be->cv, &ca);
	pthread_condattr_destroy(&ca);

	be->uri = xstrdup(ldap_config(cfg)->uri);
	be->base = xstrdup(ldap_config(cfg)->base);
	be->bind_dn = ldap_config(cfg)->bind_dn ? xstrdup(ldap_config(cfg)->bind_dn) : NULL;
	be->ca_file = ldap_config(cfg)->ca_file ? xstrdup(ldap_config(cfg)->ca_file) : NULL;
	be->mail_attr = xstrdup(ldap_config(cfg)->mail_attribute);
	be->alias_attr =
	    ldap_config(cfg)->alias_attribute ? xstrdup(ldap_config(cfg)->alias_attribute) : NULL;
	be->alias_prefixed = be->alias_attr && strcasecmp(be->alias_attr, "proxyAddresses") == 0;
	be->password_attr = xstrdup(ldap_config(cfg)->password_attribute);
	be->starttls = ldap_config(cfg)->starttls;
	be->auth_bind = ldap_config(cfg)->auth_bind;
	be->timeout = ldap_config(cfg)->timeout;
	be->pool_size = ldap_config(cfg)->pool_size;
	be->cache_ttl = ldap_config(cfg)->cache_ttl;
	if (ldap_config(cfg)->login_filter != NULL)
		be->login_filter = xasprintf("(&%s%s)", ldap_config(cfg)->user_filter,
					     ldap_config(cfg)->login_filter);
	else
		be->login_filter = xstrdup(ldap_config(cfg)->user_filter);
	if (ldap_config(cfg)->recipient_filter != NULL)
		be->recipient_filter = xstrdup(ldap_config(cfg)->recipient_filter);
	else if (be->alias_attr == NULL)
		be->recipient_filter = xasprintf("(%s=%%u)", be->mail_attr);
	else
		be->recipient_filter = xasprintf("(|(%s=%%u)(%s=%s%%u))", be->mail_attr,
						 be->alias_attr, be->alias_prefixed ? "smtp:" : "");
	if (ldap_config(cfg)->bind_password_file != NULL &&
	    read_secret(ldap_config(cfg)->bind_password_file, &be->bind_password, err_r) < 0) {
		dir_ldap_close(be);
		return -1;
	}
	*be_r = be;
	return 0;
}

const struct dir_backend_ops dir_ldap_ops = {
    .name = "ldap",
    .flags = 0,
    .open = dir_ldap_open,
    .close = dir_ldap_close,
    .lookup = dir_ldap_lookup,
    .verify = dir_ldap_verify,
    .resolve = dir_ldap_resolve,
    .probe = dir_ldap_probe,
};
