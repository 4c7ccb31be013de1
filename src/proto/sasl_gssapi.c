/* SPDX-License-Identifier: MIT */
/*
 * sasl_gssapi.c - server side of SASL GSSAPI (RFC 4752) on MIT Kerberos 5:
 * the context tokens (gss_accept_sec_context, one per client message), the
 * security layer negotiation of RFC 4752 §3.1 (only "no security layer" is
 * offered: TLS protects the session, not SASL), and the step from a
 * Kerberos principal to a mail address; and the keytab check of `config
 * check` and the server's start (libkrb5, its own context).
 *
 * It owns the GSS handles of one exchange and never shares them: the
 * acceptor credential is read from the keytab through the credential store
 * (gss_acquire_cred_from), never through KRB5_KTNAME, so nothing
 * process-wide changes while other threads authenticate. It must
 * never reach the KDC, the store or the directory, and never log a token:
 * only GSS status text and principal names reach the log.
 */
#include "proto/sasl_gssapi.h"
#include "util/log.h"
#include "util/mem.h"

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5/krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 4752 §3.3: the security layer bit mask */
#define GSS_LAYER_NONE 0x01

#define LOCAL_PART_MAX 64   /* RFC 5321 §4.5.3.1.1 */
#define GSSAPI_ROUNDS_MAX 4 /* context tokens; Kerberos 5 needs one */

enum gssapi_state {
	G_START,      /* nothing received yet */
	G_ACCEPT,     /* context tokens until GSS_S_COMPLETE */
	G_WANT_EMPTY, /* our last context token is out; the client acks it */
	G_WANT_LAYER, /* our wrapped layer offer is out (RFC 4752 §3.1) */
	G_DONE,
};

struct sasl_gssapi {
	enum gssapi_state state;
	char *keytab, *service, *host, *realm, *domain;
	gss_cred_id_t cred;
	gss_ctx_id_t ctx;
	unsigned rounds;		   /* context tokens that did not complete it */
	char principal[SASL_NAME_MAX + 1]; /* the client, once known */
};

struct sasl_gssapi *sasl_gssapi_new(const struct sasl_gssapi_conf *c)
{
	struct sasl_gssapi *g = xcalloc(1, sizeof(*g));

	g->keytab = xstrdup(c->keytab != NULL ? c->keytab : "");
	g->service = xstrdup(c->service);
	g->host = xstrdup(c->host);
	g->realm = xstrdup(c->realm != NULL ? c->realm : "");
	g->domain = xstrdup(c->domain != NULL ? c->domain : "");
	g->cred = GSS_C_NO_CREDENTIAL;
	g->ctx = GSS_C_NO_CONTEXT;
	return g;
}

void sasl_gssapi_free(struct sasl_gssapi **gp)
{
	struct sasl_gssapi *g = *gp;
	OM_uint32 minor;

	if (g == NULL)
		return;
	if (g->ctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&minor, &g->ctx, GSS_C_NO_BUFFER);
	if (g->cred != GSS_C_NO_CREDENTIAL)
		gss_release_cred(&minor, &g->cred);
	free(g->keytab);
	free(g->service);
	free(g->host);
	free(g->realm);
	free(g->domain);
	secure_zero(g, sizeof(*g));
	free(g);
	*gp = NULL;
}

const char *sasl_gssapi_principal(const struct sasl_gssapi *g)
{
	return g->principal;
}

bool sasl_gssapi_checks(const struct sasl_gssapi *g, const char *in)
{
	/* the first context token carries the AP-REQ: that is the check */
	return in != NULL && (g->state == G_START || g->state == G_ACCEPT) &&
	       g->ctx == GSS_C_NO_CONTEXT;
}

/* --- pure helpers ---------------------------------------------------------- */

int sasl_gssapi_map(const char *principal, const char *realm, const char *domain,
		    char address_r[SASL_GSSAPI_ADDRESS_MAX])
{
	const char *at = strrchr(principal, '@');

	if (at == NULL || realm == NULL || domain == NULL || *realm == '\0' || *domain == '\0')
		return -1;
	size_t name_len = (size_t)(at - principal);
	/* Kerberos realms are case-sensitive (RFC 4120 §6.1) */
	if (name_len == 0 || name_len > LOCAL_PART_MAX || strcmp(at + 1, realm) != 0)
		return -1;
	for (size_t i = 0; i < name_len; i++) {
		unsigned char c = (unsigned char)principal[i];
		/* '/' is an instance (alice/admin is not alice's mailbox), '\\'
		   an escaped separator; the rest would not be a plain local part */
		if (c <= 0x20 || c == 0x7f || strchr("/\\@\"<>,;:()[]", c) != NULL)
			return -1;
	}
	int n = snprintf(address_r, SASL_GSSAPI_ADDRESS_MAX, "%.*s@%s", (int)name_len, principal,
			 domain);
	return n > 0 && (size_t)n < SASL_GSSAPI_ADDRESS_MAX ? 0 : -1;
}

int sasl_gssapi_parse_layer(const unsigned char *in, size_t len, struct slice *authzid_r)
{
	if (in == NULL || len < 4 || len - 4 > SASL_NAME_MAX)
		return -1;
	/* exactly one layer must be chosen (RFC 4752 §3.1), and we offered
	   only "none"; its max size octets mean nothing then */
	if (in[0] != GSS_LAYER_NONE)
		return -1;
	for (size_t i = 4; i < len; i++)
		if (in[i] < 0x20 || in[i] == 0x7f)
			return -1;
	authzid_r->p = (const char *)in + 4;
	authzid_r->len = len - 4;
	return 0;
}

/* --- GSS calls ------------------------------------------------------------- */

/* Appends the library's text for one status code. */
static void status_text(struct buf *b, OM_uint32 code, int type)
{
	OM_uint32 ctx = 0, min2;

	do {
		gss_buffer_desc msg = GSS_C_EMPTY_BUFFER;
		if (GSS_ERROR(gss_display_status(&min2, code, type,
						 type == GSS_C_MECH_CODE ? (gss_OID)gss_mech_krb5
									 : GSS_C_NO_OID,
						 &ctx, &msg)))
			break;
		/* a mapped minor code of 0 reads "Success": no news */
		if (!(msg.length == 7 && memcmp(msg.value, "Success", 7) == 0)) {
			buf_append_str(b, b->len > 0 ? "; " : "");
			buf_append(b, msg.value, msg.length);
		}
		gss_release_buffer(&min2, &msg);
	} while (ctx != 0 && b->len < 512);
}

/* Logs what the library says about a failure: the admin's only clue to a
   wrong keytab, clock skew or a service name the client asked for. The
   minor (Kerberos) code says more; "Unspecified GSS failure" only points
   at it, so the major text comes only when the minor one says nothing. */
static void log_gss(const struct sasl_gssapi *g, const char *what, OM_uint32 major, OM_uint32 minor)
{
	struct buf text = {0};

	if (minor != 0)
		status_text(&text, minor, GSS_C_MECH_CODE);
	if (text.len == 0)
		status_text(&text, major, GSS_C_GSS_CODE);
	log_info("gssapi %s failed service=%s@%s: %.*s", what, g->service, g->host,
		 (int)(text.len > 512 ? 512 : text.len), text.data != NULL ? text.data : "");
	buf_free(&text);
}

/* The acceptor credential: every key of the configured keytab. No desired
   name: MIT krb5 1.20 leaks the name's principal whenever acquiring a
   named credential fails (a missing keytab would leak at every login), and
   check_target() below holds the ticket to our service anyway. */
static enum sasl_step acquire(struct sasl_gssapi *g)
{
	OM_uint32 major, minor;
	gss_OID_set_desc mechs = {1, (gss_OID)gss_mech_krb5};
	gss_key_value_element_desc kv = {"keytab", g->keytab};
	gss_key_value_set_desc store = {1, &kv};

	major = gss_acquire_cred_from(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, &mechs, GSS_C_ACCEPT,
				      &store, &g->cred, NULL, NULL);
	if (GSS_ERROR(major)) {
		log_gss(g, "keytab", major, minor);
		return SASL_TEMPFAIL;
	}
	return SASL_CONTINUE;
}

/* RFC 4752 §3.1: the client asked for service@host, so its ticket names
   service/host@REALM; a ticket for another key of the keytab (smtp/ on
   POP3, host/, another name) is not for us. The realm is the keytab's. */
static bool check_target(const struct sasl_gssapi *g)
{
	OM_uint32 minor;
	gss_name_t target = GSS_C_NO_NAME;
	gss_buffer_desc b = GSS_C_EMPTY_BUFFER;
	char name[SASL_NAME_MAX + 1] = "";

	if (GSS_ERROR(
		gss_inquire_context(&minor, g->ctx, NULL, &target, NULL, NULL, NULL, NULL, NULL)))
		return false;
	if (!GSS_ERROR(gss_display_name(&minor, target, &b, NULL))) {
		if (b.length < sizeof(name) && memchr(b.value, '\0', b.length) == NULL) {
			memcpy(name, b.value, b.length);
			name[b.length] = '\0';
		}
		gss_release_buffer(&minor, &b);
	}
	gss_release_name(&minor, &target);
	size_t slen = strlen(g->service);
	char *at = strrchr(name, '@');
	bool ok = at != NULL && strncmp(name, g->service, slen) == 0 && name[slen] == '/';
	if (ok && strcmp(g->host, "*") != 0) {
		const char *host = name + slen + 1;
		ok = (size_t)(at - host) == strlen(g->host) &&
		     strncasecmp(host, g->host, (size_t)(at - host)) == 0;
	}
	if (!ok)
		log_info("gssapi refused: a ticket for %s, not for %s/%s", name, g->service,
			 g->host);
	return ok;
}

static bool oid_is(const gss_OID a, const gss_OID b)
{
	return a != GSS_C_NO_OID && a->length == b->length &&
	       memcmp(a->elements, b->elements, a->length) == 0;
}

/* Keeps the client's principal for logs and the mapping. */
static bool remember_principal(struct sasl_gssapi *g, gss_name_t src)
{
	OM_uint32 minor;
	gss_buffer_desc b = GSS_C_EMPTY_BUFFER;
	bool ok = false;

	if (!GSS_ERROR(gss_display_name(&minor, src, &b, NULL))) {
		if (b.length > 0 && b.length <= SASL_NAME_MAX &&
		    memchr(b.value, '\0', b.length) == NULL) {
			memcpy(g->principal, b.value, b.length);
			g->principal[b.length] = '\0';
			ok = true;
		}
		gss_release_buffer(&minor, &b);
	}
	return ok;
}

/* RFC 4752 §3.1: the server's wrapped offer: layers {none}, max size 0. */
static enum sasl_step send_layers(struct sasl_gssapi *g, struct buf *out)
{
	OM_uint32 major, minor;
	unsigned char offer[4] = {GSS_LAYER_NONE, 0, 0, 0};
	gss_buffer_desc in = {sizeof(offer), offer}, wrapped = GSS_C_EMPTY_BUFFER;

	major = gss_wrap(&minor, g->ctx, 0, GSS_C_QOP_DEFAULT, &in, NULL, &wrapped);
	if (GSS_ERROR(major)) {
		log_gss(g, "wrap", major, minor);
		return SASL_FAILED;
	}
	buf_append(out, wrapped.value, wrapped.length);
	gss_release_buffer(&minor, &wrapped);
	g->state = G_WANT_LAYER;
	return SASL_CONTINUE;
}

static enum sasl_step accept_token(struct sasl_gssapi *g, const char *in, size_t in_len,
				   struct buf *out)
{
	OM_uint32 major, minor, flags = 0;
	gss_buffer_desc token = {in_len, (void *)in}, reply = GSS_C_EMPTY_BUFFER;
	gss_name_t src = GSS_C_NO_NAME;
	gss_OID mech = GSS_C_NO_OID;

	if (in_len == 0)
		return SASL_MALFORMED; /* the client must start the context */
	if (g->cred == GSS_C_NO_CREDENTIAL && acquire(g) != SASL_CONTINUE)
		return SASL_TEMPFAIL;
	major = gss_accept_sec_context(&minor, &g->ctx, g->cred, &token, GSS_C_NO_CHANNEL_BINDINGS,
				       &src, &mech, &reply, &flags, NULL, NULL);
	OM_uint32 min2; /* `minor` is for the log below */
	if (reply.length > 0)
		buf_append(out, reply.value, reply.length);
	gss_release_buffer(&min2, &reply);
	if (GSS_ERROR(major)) {
		log_gss(g, "accept", major, minor);
		if (src != GSS_C_NO_NAME)
			gss_release_name(&min2, &src);
		out->len = 0; /* an error token has no place in SASL */
		return SASL_FAILED;
	}
	if (major & GSS_S_CONTINUE_NEEDED) {
		if (src != GSS_C_NO_NAME)
			gss_release_name(&min2, &src);
		/* Kerberos 5 completes on the client's first token (the AP-REQ);
		   a context that wants more without a token for the client (seen
		   from mangled tokens) or after a few rounds is no login */
		if (out->len == 0 || ++g->rounds >= GSSAPI_ROUNDS_MAX) {
			log_info(
			    "gssapi accept refused service=%s@%s: the context does not complete",
			    g->service, g->host);
			out->len = 0;
			return SASL_FAILED;
		}
		return SASL_CONTINUE;
	}
	/* RFC 4752 §3.1: the server SHOULD check that Kerberos V5 was used;
	   the credential allows nothing else, but a check costs nothing */
	bool ok = oid_is(mech, (gss_OID)gss_mech_krb5) && src != GSS_C_NO_NAME &&
		  remember_principal(g, src);
	if (src != GSS_C_NO_NAME)
		gss_release_name(&minor, &src);
	if (ok && !check_target(g)) {
		out->len = 0;
		return SASL_FAILED;
	}
	if (!ok || !(flags & GSS_C_INTEG_FLAG)) {
		log_info("gssapi accept refused: %s",
			 !ok ? "no Kerberos 5 principal" : "no integrity protection");
		out->len = 0;
		return SASL_FAILED;
	}
	if (out->len > 0) {
		/* the last context token (AP-REP) goes out alone; the client
		   answers with an empty response before our offer */
		g->state = G_WANT_EMPTY;
		return SASL_CONTINUE;
	}
	return send_layers(g, out);
}

/* The client's wrapped choice and authzid, then the address. */
static enum sasl_step finish(struct sasl_gssapi *g, const char *in, size_t in_len,
			     char address_r[SASL_GSSAPI_ADDRESS_MAX])
{
	OM_uint32 major, minor;
	gss_buffer_desc token = {in_len, (void *)in}, plain = GSS_C_EMPTY_BUFFER;
	struct slice authzid;
	enum sasl_step r = SASL_FAILED;

	g->state = G_DONE;
	major = gss_unwrap(&minor, g->ctx, &token, &plain, NULL, NULL);
	if (GSS_ERROR(major)) {
		log_gss(g, "unwrap", major, minor);
		return SASL_FAILED;
	}
	if (sasl_gssapi_parse_layer(plain.value, plain.length, &authzid) < 0) {
		log_info("gssapi refused principal=%s: security layer or authzid not acceptable",
			 g->principal);
		goto out;
	}
	if (sasl_gssapi_map(g->principal, g->realm, g->domain, address_r) < 0) {
		log_info("gssapi refused principal=%s: not a user of realm %s", g->principal,
			 g->realm);
		goto out;
	}
	/* RFC 4752 §3.1 / RFC 4422 §3.4.1: we act only as the principal itself,
	   named by its address or by the principal */
	if (authzid.len > 0 &&
	    !(strlen(address_r) == authzid.len &&
	      strncasecmp(address_r, authzid.p, authzid.len) == 0) &&
	    !(strlen(g->principal) == authzid.len &&
	      memcmp(g->principal, authzid.p, authzid.len) == 0)) {
		log_info("gssapi refused principal=%s: authzid=%.*s is someone else", g->principal,
			 (int)(authzid.len > 64 ? 64 : authzid.len), authzid.p);
		goto out;
	}
	r = SASL_SUCCESS;
out:
	gss_release_buffer(&minor, &plain);
	return r;
}

enum sasl_step sasl_gssapi_step(struct sasl_gssapi *g, const char *in, size_t in_len,
				struct buf *out, char address_r[SASL_GSSAPI_ADDRESS_MAX])
{
	switch (g->state) {
	case G_START:
		g->state = G_ACCEPT;
		if (in == NULL)
			return SASL_CONTINUE; /* RFC 4422 §5: an empty challenge */
		return accept_token(g, in, in_len, out);
	case G_ACCEPT:
		if (in == NULL)
			return SASL_MALFORMED;
		return accept_token(g, in, in_len, out);
	case G_WANT_EMPTY:
		/* RFC 4752 §3.1 asks for an empty response; some clients send
		   their own final token there, which adds nothing: ignore it */
		return send_layers(g, out);
	case G_WANT_LAYER:
		if (in == NULL)
			return SASL_MALFORMED;
		return finish(g, in, in_len, address_r);
	case G_DONE:
		break;
	}
	return SASL_MALFORMED;
}

/* --- config check ------------------------------------------------------------ */

/* Whether the keytab entry `p` is service/host (host "*": any host). */
static bool entry_is(krb5_const_principal p, const char *service, const char *host)
{
	if (p->length != 2 || p->data[0].length != strlen(service) ||
	    memcmp(p->data[0].data, service, p->data[0].length) != 0)
		return false;
	return strcmp(host, "*") == 0 || (p->data[1].length == strlen(host) &&
					  strncasecmp(p->data[1].data, host, strlen(host)) == 0);
}

int sasl_gssapi_keytab_check(const char *keytab, const char *host, struct buf *found, char **err_r)
{
	static const char *const services[] = {"pop", "smtp"};
	krb5_context kc;
	krb5_keytab kt = NULL;
	krb5_kt_cursor cur;
	krb5_keytab_entry e;
	bool seen[2] = {false, false};
	krb5_error_code ret;

	if (krb5_init_context(&kc) != 0) {
		*err_r = xstrdup("cannot start the Kerberos library");
		return -1;
	}
	char *name = xasprintf("FILE:%s", keytab);
	ret = krb5_kt_resolve(kc, name, &kt);
	free(name);
	if (ret == 0)
		ret = krb5_kt_start_seq_get(kc, kt, &cur);
	if (ret != 0) {
		const char *msg = krb5_get_error_message(kc, ret);
		*err_r = xasprintf("[gssapi] keytab %s: %s", keytab, msg);
		krb5_free_error_message(kc, msg);
		if (kt != NULL)
			krb5_kt_close(kc, kt);
		krb5_free_context(kc);
		return -1;
	}
	while (krb5_kt_next_entry(kc, kt, &e, &cur) == 0) {
		for (size_t i = 0; i < 2; i++) {
			char *text = NULL;
			if (seen[i] || !entry_is(e.principal, services[i], host) ||
			    krb5_unparse_name(kc, e.principal, &text) != 0)
				continue;
			seen[i] = true;
			buf_printf(found, "%s%s", found->len > 0 ? ", " : "", text);
			krb5_free_unparsed_name(kc, text);
		}
		krb5_free_keytab_entry_contents(kc, &e);
	}
	krb5_kt_end_seq_get(kc, kt, &cur);
	krb5_kt_close(kc, kt);
	krb5_free_context(kc);
	if (!seen[0] || !seen[1]) {
		*err_r =
		    xasprintf("[gssapi] keytab %s has no key for %s/%s: clients cannot log in "
			      "to %s with GSSAPI",
			      keytab, services[seen[0] ? 1 : 0], host, seen[0] ? "SMTP" : "POP3");
		return -1;
	}
	return 0;
}
