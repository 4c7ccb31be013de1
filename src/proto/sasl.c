/* SPDX-License-Identifier: MIT */
/*
 * sasl.c - server side of PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login),
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel binding, EXTERNAL
 * (RFC 4422 appendix A) on the identity the session got from TLS, and the
 * dispatch to GSSAPI (sasl_gssapi.c), whose proven address becomes an
 * account here.
 *
 * A struct sasl_server is one exchange. It is driven by sasl_server_step(),
 * which runs on a worker thread because it reaches the store (and, for PLAIN
 * and LOGIN, password hashing through directory_password()). Every client message
 * is checked against the limits in sasl.h before anything is copied.
 *
 * SCRAM never reveals whether an account exists: an unknown login (or one
 * without a SCRAM verifier) gets a salt derived from the name with a
 * process-wide random key and the default iteration count, and the exchange
 * runs to the end before failing. Secrets (passwords, keys, proofs) are
 * wiped before their memory is released. The parsers are pure functions so
 * that tests and fuzzers reach them without a store.
 */
#include "proto/sasl.h"
#include "directory/password.h"
#include "proto/sasl_gssapi.h"
#include "store/store.h"
#include "util/base64.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SCRAM_KEY_LEN SHA256_DIGEST_LENGTH
#define SCRAM_SALT_MAX 64
#define SCRAM_NONCE_RAND 18 /* random octets, 24 base64 characters */
#define SCRAM_FAKE_SALT_LEN 16

enum scram_step { SCRAM_WANT_FIRST, SCRAM_WANT_FINAL, SCRAM_DONE };

struct sasl_server {
	enum sasl_mech mech;
	unsigned step;
	/* the user name the client gave (LOGIN keeps it between steps) */
	char authcid[SASL_NAME_MAX + 1];
	/* SCRAM */
	char *nonce_suffix;	 /* test hook, else NULL */
	struct buf gs2_header;	 /* as the client sent it, for the c= check */
	struct buf auth_message; /* bare "," server-first, later "," final w/o proof */
	struct buf nonce;	 /* c-nonce || s-nonce */
	unsigned char stored_key[SCRAM_KEY_LEN];
	unsigned char server_key[SCRAM_KEY_LEN];
	bool user_known;
	struct auth_identity id;
	sasl_scram_lookup_fn *lookup; /* test hook, else the directory */
	void *lookup_ctx;
	struct directory *dir;	 /* borrowed; NULL only with the test hook */
	char *external;		 /* EXTERNAL: the client certificate's address, or NULL */
	struct sasl_gssapi *gss; /* GSSAPI, once sasl_server_use_gssapi() */
};

static const char *const mech_names[SASL_MECH_COUNT] = {
    [SASL_PLAIN] = "PLAIN",	  [SASL_LOGIN] = "LOGIN",   [SASL_SCRAM_SHA_256] = "SCRAM-SHA-256",
    [SASL_EXTERNAL] = "EXTERNAL", [SASL_GSSAPI] = "GSSAPI",
};

int sasl_mech_parse(const char *name, size_t len, enum sasl_mech *m_r)
{
	for (size_t i = 0; i < SASL_MECH_COUNT; i++) {
		if (strlen(mech_names[i]) == len && strncasecmp(name, mech_names[i], len) == 0) {
			*m_r = (enum sasl_mech)i;
			return 0;
		}
	}
	return -1;
}

const char *sasl_mech_name(enum sasl_mech m)
{
	return m < SASL_MECH_COUNT ? mech_names[m] : "?";
}

bool sasl_mech_plaintext(enum sasl_mech m)
{
	return m == SASL_PLAIN || m == SASL_LOGIN;
}

struct sasl_server *sasl_server_new(enum sasl_mech m, struct directory *dir)
{
	struct sasl_server *s = xcalloc(1, sizeof(*s));
	s->mech = m;
	s->dir = dir;
	return s;
}

void sasl_server_free(struct sasl_server **sp)
{
	struct sasl_server *s = *sp;
	if (s == NULL)
		return;
	free(s->nonce_suffix);
	free(s->external);
	buf_free(&s->gs2_header);
	buf_free_secret(&s->auth_message);
	buf_free(&s->nonce);
	sasl_gssapi_free(&s->gss);
	secure_zero(s, sizeof(*s));
	free(s);
	*sp = NULL;
}

enum sasl_mech sasl_server_mech(const struct sasl_server *s)
{
	return s->mech;
}

const char *sasl_server_authcid(const struct sasl_server *s)
{
	return s->authcid;
}

bool sasl_server_checks(const struct sasl_server *s, const char *in, size_t in_len,
			char account_r[SASL_NAME_MAX + 1])
{
	struct slice authzid, authcid, passwd;

	if (in == NULL)
		return false;
	switch (s->mech) {
	case SASL_PLAIN:
		/* the one message carries name and password (RFC 4616 §2) */
		if (s->step > 1 || sasl_plain_parse(in, in_len, &authzid, &authcid, &passwd) < 0)
			return false;
		memcpy(account_r, authcid.p, authcid.len);
		account_r[authcid.len] = '\0';
		return true;
	case SASL_LOGIN:
		if (s->step != 2)
			return false; /* the name itself is checked by nobody */
		break;
	case SASL_SCRAM_SHA_256:
		if (s->step != SCRAM_WANT_FINAL)
			return false; /* client-first only fetches the salt (RFC 5802 §5) */
		break;
	case SASL_EXTERNAL:
		/* the authzid message decides; the brake knows the certificate's name */
		snprintf(account_r, SASL_NAME_MAX + 1, "%s",
			 s->external != NULL ? s->external : "");
		return true;
	case SASL_GSSAPI:
		if (s->gss == NULL || !sasl_gssapi_checks(s->gss, in))
			return false;
		account_r[0] = '\0'; /* the name is in the ticket: the address brake */
		return true;
	case SASL_MECH_COUNT:
		return false;
	}
	memcpy(account_r, s->authcid, sizeof(s->authcid));
	return true;
}

bool sasl_gssapi_configured(const struct config *cfg)
{
	return gssapi_config(cfg)->keytab != NULL && gssapi_config(cfg)->realm != NULL;
}

/* HOST of the service principals pop/HOST and smtp/HOST, or "*" */
static const char *gssapi_host(const struct config *cfg)
{
	return gssapi_config(cfg)->principal != NULL ? gssapi_config(cfg)->principal
						     : cfg->hostname;
}

int sasl_gssapi_check(const struct config *cfg, struct buf *found, char **err_r)
{
	return sasl_gssapi_keytab_check(gssapi_config(cfg)->keytab, gssapi_host(cfg), found, err_r);
}

void sasl_server_use_gssapi(struct sasl_server *s, const struct config *cfg, const char *service)
{
	char domain[256];

	if (s->mech != SASL_GSSAPI || !sasl_gssapi_configured(cfg))
		return;
	/* [gssapi] domain defaults to the realm in lower case */
	snprintf(domain, sizeof(domain), "%s",
		 gssapi_config(cfg)->domain != NULL ? gssapi_config(cfg)->domain
						    : gssapi_config(cfg)->realm);
	for (char *p = domain; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	struct sasl_gssapi_conf c = {
	    .keytab = gssapi_config(cfg)->keytab,
	    .service = service,
	    .host = gssapi_host(cfg),
	    .realm = gssapi_config(cfg)->realm,
	    .domain = domain,
	};
	sasl_gssapi_free(&s->gss);
	s->gss = sasl_gssapi_new(&c);
}

void sasl_server_set_scram_lookup(struct sasl_server *s, sasl_scram_lookup_fn *fn, void *ctx)
{
	s->lookup = fn;
	s->lookup_ctx = ctx;
}

void sasl_server_set_external(struct sasl_server *s, const char *address)
{
	free(s->external);
	s->external = address != NULL ? xstrdup(address) : NULL;
	snprintf(s->authcid, sizeof(s->authcid), "%s", address != NULL ? address : "");
}

void sasl_server_set_nonce(struct sasl_server *s, const char *suffix)
{
	free(s->nonce_suffix);
	s->nonce_suffix = xstrdup(suffix);
}

/* --- validation helpers ------------------------------------------------ */

/* Well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
static bool utf8_valid(const unsigned char *p, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned c = p[i];
		size_t n;
		unsigned min, cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1, min = 0x80, cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, min = 0x800, cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, min = 0x10000, cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* A user or authorization name: 1..SASL_NAME_MAX octets of UTF-8 without
   control characters (they would end up in logs and lookups). */
static bool name_valid(const char *p, size_t len)
{
	if (len == 0 || len > SASL_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return utf8_valid((const unsigned char *)p, len);
}

static bool password_valid(const char *p, size_t len)
{
	return len > 0 && len <= SASL_PASSWORD_MAX && memchr(p, '\0', len) == NULL;
}

/* --- PLAIN (RFC 4616) -------------------------------------------------- */

int sasl_plain_parse(const char *in, size_t len, struct slice *authzid_r, struct slice *authcid_r,
		     struct slice *passwd_r)
{
	if (in == NULL || len > SASL_MESSAGE_MAX)
		return -1;
	const char *nul1 = memchr(in, '\0', len);
	if (nul1 == NULL)
		return -1;
	size_t off1 = (size_t)(nul1 - in) + 1;
	const char *nul2 = memchr(nul1 + 1, '\0', len - off1);
	if (nul2 == NULL)
		return -1;
	size_t off2 = (size_t)(nul2 - in) + 1;

	struct slice authzid = {in, off1 - 1};
	struct slice authcid = {nul1 + 1, off2 - off1 - 1};
	struct slice passwd = {nul2 + 1, len - off2};
	/* passwd may not hold a third NUL (password_valid checks) */
	if (authzid.len > 0 && !name_valid(authzid.p, authzid.len))
		return -1;
	if (!name_valid(authcid.p, authcid.len) || !password_valid(passwd.p, passwd.len))
		return -1;
	*authzid_r = authzid;
	*authcid_r = authcid;
	*passwd_r = passwd;
	return 0;
}

static enum sasl_step map_auth(enum auth_result r)
{
	switch (r) {
	case AUTH_OK:
		return SASL_SUCCESS;
	case AUTH_FAILED:
		return SASL_FAILED;
	case AUTH_TEMPFAIL:
		break;
	}
	return SASL_TEMPFAIL;
}

/* Copies name and password to NUL-terminated stack buffers for
   directory_password(), and wipes the password copy afterwards. */
static enum sasl_step check_password(struct sasl_server *s, struct store *st, struct slice user,
				     struct slice pass, struct auth_identity *id_r)
{
	char login[SASL_NAME_MAX + 1];
	char password[SASL_PASSWORD_MAX + 1];

	memcpy(login, user.p, user.len);
	login[user.len] = '\0';
	memcpy(password, pass.p, pass.len);
	password[pass.len] = '\0';
	enum auth_result r =
	    s->dir != NULL ? directory_password(s->dir, st, login, password, id_r) : AUTH_TEMPFAIL;
	secure_zero(password, sizeof(password));
	return map_auth(r);
}

static enum sasl_step plain_step(struct sasl_server *s, struct store *st, const char *in,
				 size_t in_len, struct auth_identity *id_r)
{
	struct slice authzid, authcid, passwd;

	if (in == NULL) {
		/* RFC 4422 §5: no initial response, so send an empty challenge */
		if (s->step++ > 0)
			return SASL_MALFORMED;
		return SASL_CONTINUE;
	}
	s->step++;
	if (sasl_plain_parse(in, in_len, &authzid, &authcid, &passwd) < 0)
		return SASL_MALFORMED;
	memcpy(s->authcid, authcid.p, authcid.len);
	s->authcid[authcid.len] = '\0';
	enum sasl_step r = check_password(s, st, authcid, passwd, id_r);
	/* RFC 4616 §2: acting as someone else is an authorization question; we
	   allow only the identity itself. Checked after the password so the
	   work (and time) is the same either way. */
	if (r == SASL_SUCCESS && authzid.len > 0 &&
	    (authzid.len != authcid.len || memcmp(authzid.p, authcid.p, authcid.len) != 0))
		r = SASL_FAILED;
	return r;
}

/* --- LOGIN ------------------------------------------------------------- */

static enum sasl_step login_step(struct sasl_server *s, struct store *st, const char *in,
				 size_t in_len, struct buf *out, struct auth_identity *id_r)
{
	switch (s->step) {
	case 0:
		if (in == NULL) {
			buf_append_str(out, "Username:");
			s->step = 1;
			return SASL_CONTINUE;
		}
		/* an initial response carries the user name (common practice) */
		/* fall through */
	case 1:
		if (in == NULL || !name_valid(in, in_len))
			return SASL_MALFORMED;
		memcpy(s->authcid, in, in_len);
		s->authcid[in_len] = '\0';
		buf_append_str(out, "Password:");
		s->step = 2;
		return SASL_CONTINUE;
	case 2:
		s->step = 3;
		if (in == NULL || !password_valid(in, in_len))
			return SASL_MALFORMED;
		return check_password(s, st, slice_from(s->authcid), (struct slice){in, in_len},
				      id_r);
	default:
		return SASL_MALFORMED;
	}
}

/* --- SCRAM-SHA-256 parsing (RFC 5802 §7) -------------------------------- */

/* saslname = 1*(value-safe-char / "=2C" / "=3D"), decoded into out. */
static int saslname_decode(struct slice in, char *out)
{
	size_t n = 0;
	for (size_t i = 0; i < in.len; i++) {
		char c = in.p[i];
		if (c == ',')
			return -1;
		if (c == '=') {
			if (in.len - i < 3)
				return -1;
			if (in.p[i + 1] == '2' && in.p[i + 2] == 'C')
				c = ',';
			else if (in.p[i + 1] == '3' && in.p[i + 2] == 'D')
				c = '=';
			else
				return -1;
			i += 2;
		}
		if (n >= SASL_NAME_MAX)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	return name_valid(out, n) ? 0 : -1;
}

/* Splits off the next comma-separated attribute; false at the end. */
static bool next_attr(struct slice *rest, struct slice *attr)
{
	if (rest->p == NULL)
		return false;
	const char *comma = memchr(rest->p, ',', rest->len);
	if (comma == NULL) {
		*attr = *rest;
		rest->p = NULL;
		rest->len = 0;
	} else {
		attr->p = rest->p;
		attr->len = (size_t)(comma - rest->p);
		rest->len -= attr->len + 1;
		rest->p = comma + 1;
	}
	return true;
}

/* attr-val = ALPHA "=" value; returns the value of attribute `name`. */
static bool attr_is(struct slice attr, char name, struct slice *value)
{
	if (attr.len < 2 || attr.p[0] != name || attr.p[1] != '=')
		return false;
	value->p = attr.p + 2;
	value->len = attr.len - 2;
	return true;
}

static bool attr_extension(struct slice attr)
{
	/* RFC 5802 §7: attr-val = ALPHA "=" value; 'm' is mandatory and refused */
	char c = attr.len >= 2 ? attr.p[0] : 0;
	return attr.len >= 2 && attr.p[1] == '=' && c != 'm' &&
	       ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

/* printable = %x21-2B / %x2D-7E ; no ',' */
static bool nonce_valid(struct slice n)
{
	if (n.len == 0 || n.len > SASL_NONCE_MAX)
		return false;
	for (size_t i = 0; i < n.len; i++) {
		unsigned char c = (unsigned char)n.p[i];
		if (c < 0x21 || c > 0x7e || c == ',')
			return false;
	}
	return true;
}

int sasl_scram_parse_first(const char *in, size_t len, struct sasl_scram_first *r)
{
	struct slice rest = {in, len}, a, v;

	if (in == NULL || len == 0 || len > SASL_MESSAGE_MAX || memchr(in, '\0', len) != NULL)
		return -1;
	memset(r, 0, sizeof(*r));
	/* gs2-cbind-flag: "n" or "y"; "p=" wants channel binding (-PLUS) */
	if (!next_attr(&rest, &a) || a.len != 1 || (a.p[0] != 'n' && a.p[0] != 'y'))
		return -1;
	/* [ "a=" saslname ] */
	if (!next_attr(&rest, &a))
		return -1;
	if (a.len > 0) {
		if (!attr_is(a, 'a', &v) || saslname_decode(v, r->authzid) < 0)
			return -1;
	}
	if (rest.p == NULL)
		return -1;
	r->gs2_header = (struct slice){in, (size_t)(rest.p - in)};
	r->bare = rest;
	/* "n=" saslname "," "r=" c-nonce ["," extensions]; reserved-mext refused */
	if (!next_attr(&rest, &a) || !attr_is(a, 'n', &v) || saslname_decode(v, r->user) < 0)
		return -1;
	if (!next_attr(&rest, &a) || !attr_is(a, 'r', &v) || !nonce_valid(v))
		return -1;
	r->nonce = v;
	while (next_attr(&rest, &a))
		if (!attr_extension(a))
			return -1;
	return 0;
}

int sasl_scram_parse_final(const char *in, size_t len, struct sasl_scram_final *r)
{
	struct slice rest = {in, len}, a, v;

	if (in == NULL || len == 0 || len > SASL_MESSAGE_MAX || memchr(in, '\0', len) != NULL)
		return -1;
	memset(r, 0, sizeof(*r));
	if (!next_attr(&rest, &a) || !attr_is(a, 'c', &v) || v.len == 0)
		return -1;
	r->channel_binding = v;
	if (!next_attr(&rest, &a) || !attr_is(a, 'r', &v) || !nonce_valid(v))
		return -1;
	r->nonce = v;
	/* [ "," extensions ] "," proof; the proof is last */
	while (next_attr(&rest, &a)) {
		if (attr_is(a, 'p', &v)) {
			if (rest.p != NULL || v.len == 0)
				return -1;
			r->proof = v;
			r->without_proof = (struct slice){in, (size_t)(a.p - in - 1)};
			return 0;
		}
		if (!attr_extension(a))
			return -1;
	}
	return -1;
}

/* --- SCRAM-SHA-256 exchange ------------------------------------------- */

static pthread_once_t fake_key_once = PTHREAD_ONCE_INIT;
static unsigned char fake_key[32];

static void fake_key_init(void)
{
	if (RAND_bytes(fake_key, sizeof(fake_key)) != 1)
		log_panic("RAND_bytes failed");
}

/* A stable salt per unknown name, so probing twice shows nothing new. */
static void fake_salt(const char *user, unsigned char *salt)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	unsigned md_len = sizeof(md);

	pthread_once(&fake_key_once, fake_key_init);
	HMAC(EVP_sha256(), fake_key, sizeof(fake_key), (const unsigned char *)user, strlen(user),
	     md, &md_len);
	memcpy(salt, md, SCRAM_FAKE_SALT_LEN);
}

static void hmac256(const unsigned char *key, size_t key_len, const void *data, size_t len,
		    unsigned char out[SCRAM_KEY_LEN])
{
	unsigned out_len = SCRAM_KEY_LEN;
	if (HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len) == NULL)
		log_panic("HMAC-SHA-256 failed");
}

/* The default verifier lookup: the directory's account. */
static int directory_scram_lookup(void *ctx, struct store *st, const char *user, char **verifier_r,
				  struct auth_identity *id_r)
{
	struct directory *dir = ctx;
	if (dir == NULL)
		return STORE_TEMP;
	switch (directory_scram(dir, st, user, verifier_r, id_r)) {
	case AUTH_OK:
		return STORE_OK;
	case AUTH_FAILED:
		return STORE_NOTFOUND;
	case AUTH_TEMPFAIL:
		break;
	}
	return STORE_TEMP;
}

/* Looks the user up and fills salt, iterations and keys; unknown users get
   fake values. Returns SASL_CONTINUE, or SASL_TEMPFAIL on store errors. */
static enum sasl_step scram_lookup(struct sasl_server *s, struct store *st, const char *user,
				   unsigned char *salt, size_t *salt_len, unsigned *iter)
{
	char *verifier = NULL;
	int rc = s->lookup != NULL ? s->lookup(s->lookup_ctx, st, user, &verifier, &s->id)
				   : directory_scram_lookup(s->dir, st, user, &verifier, &s->id);

	s->user_known = rc == STORE_OK &&
			scram_verifier_parse(verifier, iter, salt, salt_len, SCRAM_SALT_MAX,
					     s->stored_key, s->server_key) == 0 &&
			*iter > 0;
	secret_free(&verifier);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return SASL_TEMPFAIL;
	if (!s->user_known) {
		fake_salt(user, salt);
		*salt_len = SCRAM_FAKE_SALT_LEN;
		*iter = SCRAM_ITERATIONS_DEFAULT;
		if (RAND_bytes(s->stored_key, sizeof(s->stored_key)) != 1)
			log_panic("RAND_bytes failed");
	}
	return SASL_CONTINUE;
}

static enum sasl_step scram_first(struct sasl_server *s, struct store *st, const char *in,
				  size_t in_len, struct buf *out)
{
	struct sasl_scram_first f;
	unsigned char salt[SCRAM_SALT_MAX];
	size_t salt_len = 0;
	unsigned iter = 0;

	if (sasl_scram_parse_first(in, in_len, &f) < 0)
		return SASL_MALFORMED;
	memcpy(s->authcid, f.user, sizeof(s->authcid));
	/* RFC 5802 §5.1: we only act as the authenticated identity itself */
	bool authz_ok = f.authzid[0] == '\0' || strcmp(f.authzid, f.user) == 0;
	enum sasl_step r = scram_lookup(s, st, f.user, salt, &salt_len, &iter);
	if (r != SASL_CONTINUE)
		return r;
	if (!authz_ok)
		s->user_known = false; /* fail at the end, like a wrong password */

	buf_append(&s->gs2_header, f.gs2_header.p, f.gs2_header.len);
	buf_append(&s->nonce, f.nonce.p, f.nonce.len);
	if (s->nonce_suffix != NULL) {
		buf_append_str(&s->nonce, s->nonce_suffix);
	} else {
		unsigned char rnd[SCRAM_NONCE_RAND];
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			log_panic("RAND_bytes failed");
		base64_encode(&s->nonce, rnd, sizeof(rnd));
	}

	/* server-first-message = "r=" nonce ",s=" salt ",i=" iteration-count */
	size_t start = out->len;
	buf_append_str(out, "r=");
	buf_append(out, s->nonce.data, s->nonce.len);
	buf_append_str(out, ",s=");
	base64_encode(out, salt, salt_len);
	buf_printf(out, ",i=%u", iter);

	/* AuthMessage = client-first-message-bare "," server-first-message ","
	   client-final-message-without-proof (RFC 5802 §3) */
	buf_append(&s->auth_message, f.bare.p, f.bare.len);
	buf_append_c(&s->auth_message, ',');
	buf_append(&s->auth_message, out->data + start, out->len - start);
	return SASL_CONTINUE;
}

static enum sasl_step scram_final(struct sasl_server *s, const char *in, size_t in_len,
				  struct buf *out, struct auth_identity *id_r)
{
	struct sasl_scram_final f;
	struct buf cb = {0}, proof = {0};
	unsigned char client_sig[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
	unsigned char stored[SCRAM_KEY_LEN], server_sig[SCRAM_KEY_LEN];
	enum sasl_step r = SASL_MALFORMED;

	if (sasl_scram_parse_final(in, in_len, &f) < 0)
		return SASL_MALFORMED;
	/* c= is base64(gs2-header) exactly, as no channel binding data exists */
	if (base64_decode(&cb, f.channel_binding.p, f.channel_binding.len) < 0 ||
	    cb.len != s->gs2_header.len || memcmp(cb.data, s->gs2_header.data, cb.len) != 0)
		goto out;
	if (f.nonce.len != s->nonce.len || memcmp(f.nonce.p, s->nonce.data, f.nonce.len) != 0)
		goto out;
	if (base64_decode(&proof, f.proof.p, f.proof.len) < 0 || proof.len != SCRAM_KEY_LEN)
		goto out;

	buf_append_c(&s->auth_message, ',');
	buf_append(&s->auth_message, f.without_proof.p, f.without_proof.len);
	/* ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage);
	   the client is genuine if H(ClientKey) == StoredKey (RFC 5802 §3) */
	hmac256(s->stored_key, SCRAM_KEY_LEN, s->auth_message.data, s->auth_message.len,
		client_sig);
	for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
		client_key[i] = (unsigned char)proof.data[i] ^ client_sig[i];
	SHA256(client_key, SCRAM_KEY_LEN, stored);
	bool match = mem_equal_ct(stored, s->stored_key, SCRAM_KEY_LEN);
	if (!match || !s->user_known) {
		r = SASL_FAILED;
		goto out;
	}
	/* server-final-message = "v=" base64(HMAC(ServerKey, AuthMessage)) */
	hmac256(s->server_key, SCRAM_KEY_LEN, s->auth_message.data, s->auth_message.len,
		server_sig);
	buf_append_str(out, "v=");
	base64_encode(out, server_sig, SCRAM_KEY_LEN);
	*id_r = s->id;
	r = SASL_SUCCESS;
out:
	secure_zero(client_key, sizeof(client_key));
	secure_zero(client_sig, sizeof(client_sig));
	buf_free(&cb);
	buf_free_secret(&proof);
	return r;
}

static enum sasl_step scram_step(struct sasl_server *s, struct store *st, const char *in,
				 size_t in_len, struct buf *out, struct auth_identity *id_r)
{
	switch (s->step) {
	case SCRAM_WANT_FIRST:
		if (in == NULL)
			return SASL_CONTINUE; /* empty challenge; client-first comes next */
		s->step = SCRAM_WANT_FINAL;
		return scram_first(s, st, in, in_len, out);
	case SCRAM_WANT_FINAL:
		s->step = SCRAM_DONE;
		if (in == NULL)
			return SASL_MALFORMED;
		return scram_final(s, in, in_len, out, id_r);
	default:
		return SASL_MALFORMED;
	}
}

/* --- EXTERNAL (RFC 4422 appendix A) ------------------------------------ */

bool sasl_external_authzid_ok(const char *address, const char *authzid, size_t len)
{
	const char *at = strrchr(address, '@');
	size_t local = at != NULL ? (size_t)(at - address) : strlen(address);

	if (len == 0)
		return true;
	/* RFC 5321 §2.4: the local part is the mailbox owner's, exact; domain
	   names compare without case */
	return len == strlen(address) && memcmp(authzid, address, local) == 0 &&
	       strncasecmp(authzid + local, address + local, len - local) == 0;
}

static enum sasl_step external_step(struct sasl_server *s, struct store *st, const char *in,
				    size_t in_len, struct auth_identity *id_r)
{
	if (in == NULL) {
		/* no initial response: an empty challenge asks for the authzid */
		if (s->step++ > 0)
			return SASL_MALFORMED;
		return SASL_CONTINUE;
	}
	s->step++;
	if (in_len > 0 && !name_valid(in, in_len))
		return SASL_MALFORMED;
	if (s->external == NULL || !sasl_external_authzid_ok(s->external, in, in_len))
		return SASL_FAILED; /* acting as someone else: like a wrong password */
	if (s->dir == NULL)
		return SASL_TEMPFAIL;
	return map_auth(directory_identity(s->dir, st, s->external, id_r));
}

/* --- GSSAPI (sasl_gssapi.c) ------------------------------------------- */

static enum sasl_step gssapi_step(struct sasl_server *s, struct store *st, const char *in,
				  size_t in_len, struct buf *out, struct auth_identity *id_r)
{
	char address[SASL_GSSAPI_ADDRESS_MAX];

	if (s->gss == NULL)
		return SASL_TEMPFAIL; /* not configured for this exchange */
	enum sasl_step r = sasl_gssapi_step(s->gss, in, in_len, out, address);
	/* the principal stands for the login name in logs and the brake */
	snprintf(s->authcid, sizeof(s->authcid), "%s", sasl_gssapi_principal(s->gss));
	if (r != SASL_SUCCESS)
		return r;
	if (s->dir == NULL)
		return SASL_TEMPFAIL;
	/* the address is proven: the directory only says whose it is */
	r = map_auth(directory_identity(s->dir, st, address, id_r));
	if (r == SASL_FAILED)
		log_info("gssapi refused principal=%s: no account %s", s->authcid, address);
	return r;
}

enum sasl_step sasl_server_step(struct sasl_server *s, struct store *st, const char *in,
				size_t in_len, struct buf *out, struct auth_identity *id_r)
{
	if (in != NULL && in_len > sasl_message_max(s->mech))
		return SASL_MALFORMED;
	switch (s->mech) {
	case SASL_PLAIN:
		return plain_step(s, st, in, in_len, id_r);
	case SASL_LOGIN:
		return login_step(s, st, in, in_len, out, id_r);
	case SASL_SCRAM_SHA_256:
		return scram_step(s, st, in, in_len, out, id_r);
	case SASL_EXTERNAL:
		return external_step(s, st, in, in_len, id_r);
	case SASL_GSSAPI:
		return gssapi_step(s, st, in, in_len, out, id_r);
	case SASL_MECH_COUNT:
		break;
	}
	return SASL_MALFORMED;
}

size_t sasl_message_max(enum sasl_mech m)
{
	return m == SASL_GSSAPI ? SASL_GSSAPI_MESSAGE_MAX : SASL_MESSAGE_MAX;
}

int sasl_response_decode(struct slice text, enum sasl_mech m, struct buf *out)
{
	if (slice_eq(text, "="))
		return 0;
	if (text.len > (sasl_message_max(m) + 2) / 3 * 4)
		return -1;
	return base64_decode(out, text.p, text.len);
}

void sasl_challenge_line(struct buf *line, const char *prefix, const struct buf *data)
{
	buf_append_str(line, prefix);
	base64_encode(line, data->data, data->len);
	buf_append_str(line, "\r\n");
}
