/* SPDX-License-Identifier: MIT */
/*
 * dir_pam.c - local Unix accounts as mail accounts ([directory] backend =
 * pam): the passwd database says who exists, Linux-PAM checks passwords.
 *
 * The account NAME (uid >= [pam] min_uid; root never) logs in as NAME or
 * NAME@domain and receives mail at NAME@domain ([pam] domain). A login runs
 * the service's auth stack, then its account stack (an expired or locked
 * account is refused like a wrong password). Recipients and logins proven
 * otherwise (GSSAPI, certificates) only ask the passwd database: mail for an
 * expired account is still accepted.
 *
 * Names: a login or address in any case names the account of that name in
 * lower case; accounts with capitals in their names are not mail accounts
 * (the store keeps addresses in lower case, so "John" and "john" would share
 * a mailbox). adduser makes lower-case names anyway.
 *
 * Never: log a password, keep a copy of one after the call, let PAM sleep on
 * a failure (the server's login brake does that, per client), or run a PAM
 * stack for a name that getpwnam() does not know as a mail account.
 */
#include "directory/dir_backend.h"
#include "directory/dir_config.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* useradd(8) refuses longer names (shadow's utmp-sized limit) */
#define DIR_PAM_NAME_MAX 32
/* the kernel's overflow uid: "nobody" is nobody's mailbox */
#define DIR_PAM_NOBODY_UID 65534
#define DIR_PAM_PWBUF_MIN 4096
#define DIR_PAM_PWBUF_MAX (1024 * 1024)

struct dir_pam {
	char *service;
	char *domain;  /* lower-case (config.c) */
	char *confdir; /* NULL: the system's /etc/pam.d */
	unsigned min_uid;
	atomic_flag shadow_hint; /* "cannot read /etc/shadow" said once */
};

/* What the conversation function may answer: the password, once. */
struct dir_pam_conv {
	const char *password;
	bool answered;
	bool refused; /* a prompt we cannot answer (a second factor, a name) */
};

/* The service file Linux-PAM will read, malloc'd: confdir/SERVICE, else
   /etc/pam.d/SERVICE or the vendor's /usr/lib/pam.d/SERVICE. NULL if there
   is none, with *tried_r (malloc'd) the path that should hold it. */
static char *service_file(const char *confdir, const char *service, char **tried_r)
{
	char *file = confdir != NULL ? xasprintf("%s/%s", confdir, service)
				     : xasprintf("/etc/pam.d/%s", service);
	struct stat st;

	*tried_r = NULL;
	if (stat(file, &st) == 0 && S_ISREG(st.st_mode))
		return file;
	if (confdir == NULL) {
		char *vendor = xasprintf("/usr/lib/pam.d/%s", service);
		if (stat(vendor, &st) == 0 && S_ISREG(st.st_mode)) {
			free(file);
			return vendor;
		}
		free(vendor);
	}
	*tried_r = file;
	return NULL;
}

static char *service_missing(const char *service, const char *tried)
{
	return xasprintf("[pam] service '%s': %s does not exist; create it (docs/admin.md, "
			 "Local accounts (PAM))",
			 service, tried);
}

static int dir_pam_open(const struct config *cfg, void **be_r, char **err_r)
{
	if (pam_config(cfg)->domain == NULL) {
		*err_r = xasprintf("[pam] domain is not set: backend pam needs it (the local "
				   "account NAME receives mail as NAME@domain)");
		return -1;
	}
	/* A missing service file makes Linux-PAM use "other" silently (Debian's
	   other is the full login stack): say so now rather than guess. */
	char *tried;
	char *file = service_file(pam_config(cfg)->confdir, pam_config(cfg)->service, &tried);
	if (file == NULL) {
		*err_r = service_missing(pam_config(cfg)->service, tried);
		free(tried);
		return -1;
	}
	free(file);

	struct dir_pam *be = xcalloc(1, sizeof(*be));
	be->service = xstrdup(pam_config(cfg)->service);
	be->domain = xstrdup(pam_config(cfg)->domain);
	be->confdir = pam_config(cfg)->confdir != NULL ? xstrdup(pam_config(cfg)->confdir) : NULL;
	be->min_uid = pam_config(cfg)->min_uid;
	atomic_flag_clear(&be->shadow_hint);
	*be_r = be;
	return 0;
}

/* `config check`: the service file is (still) there. */
static enum dir_status dir_pam_probe(void *vbe, char **text_r)
{
	struct dir_pam *be = vbe;
	char *tried;
	char *file = service_file(be->confdir, be->service, &tried);

	if (file == NULL) {
		*text_r = service_missing(be->service, tried);
		free(tried);
		return DIR_FAILED;
	}
	*text_r = xasprintf("service %s: %s found, accounts from uid %u as NAME@%s", be->service,
			    file, be->min_uid, be->domain);
	free(file);
	return DIR_OK;
}

static void dir_pam_close(void *vbe)
{
	struct dir_pam *be = vbe;
	if (be == NULL)
		return;
	free(be->service);
	free(be->domain);
	free(be->confdir);
	free(be);
}

/* A name getpwnam() may be asked about and an address may carry: the POSIX
   portable set, not starting with '-' or '.', not all digits (tools take
   those for uids). No ':', '/', '@', space or control byte gets through. */
static bool name_valid(const char *s, size_t len)
{
	size_t digits = 0;
	if (len == 0 || len > DIR_PAM_NAME_MAX || s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(isascii(c) && isalnum(c)) && c != '.' && c != '_' && c != '-')
			return false;
		digits += isdigit(c) != 0;
	}
	return digits < len;
}

/* The account name in `login` ("NAME" when bare names are allowed, or
   "NAME@domain" with our domain in any case) into name_r. False: not ours. */
static bool split_name(const struct dir_pam *be, const char *login, bool bare_ok,
		       char name_r[DIR_PAM_NAME_MAX + 1])
{
	const char *at = strchr(login, '@');
	size_t len = at != NULL ? (size_t)(at - login) : strlen(login);

	if (at == NULL ? !bare_ok : strcasecmp(at + 1, be->domain) != 0)
		return false;
	if (!name_valid(login, len))
		return false;
	memcpy(name_r, login, len);
	name_r[len] = '\0';
	return true;
}

/* getpwnam_r with a buffer that grows; *buf_r is the caller's to free. */
static enum dir_status passwd_get(const char *name, struct passwd *pw, char **buf_r)
{
	struct passwd *res = NULL;
	size_t size = DIR_PAM_PWBUF_MIN;

	for (;;) {
		*buf_r = xrealloc(*buf_r, size);
		int e = getpwnam_r(name, pw, *buf_r, size, &res);
		if (e == ERANGE && size < DIR_PAM_PWBUF_MAX) {
			size *= 2;
			continue;
		}
		if (res != NULL)
			return DIR_OK;
		/* getpwnam_r(3): 0, ENOENT, ESRCH, EBADF and EPERM all say "no
		   such name"; anything else (an NSS source that is down) is not an
		   answer */
		if (e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM)
			return DIR_UNKNOWN;
		log_error("pam: cannot look up the account %s: %s", name, strerror(e));
		return DIR_TEMPFAIL;
	}
}

/* The mail account called `name`, in any case: mailbox addresses are lower
   case in the store, so only an account whose name is lower case is a mail
   account ("John" and "john" would otherwise share one mailbox). */
static enum dir_status find_account(const struct dir_pam *be, const char *name, struct passwd *pw,
				    char **buf_r)
{
	char lower[DIR_PAM_NAME_MAX + 1];
	size_t i;

	for (i = 0; name[i] != '\0' && i < DIR_PAM_NAME_MAX; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	lower[i] = '\0';
	enum dir_status s = passwd_get(lower, pw, buf_r);
	if (s != DIR_OK)
		return s;
	/* an NSS source may hand back another spelling than the one asked:
	   only a name that is itself valid becomes an address */
	if (!name_valid(pw->pw_name, strlen(pw->pw_name)) || strcmp(pw->pw_name, lower) != 0) {
		log_debug("pam: the passwd database answers %s with a name that is no address",
			  name);
		return DIR_UNKNOWN;
	}
	if (pw->pw_uid == 0 || pw->pw_uid < be->min_uid || pw->pw_uid == DIR_PAM_NOBODY_UID) {
		log_debug("pam: account %s (uid %u) is not a mail account ([pam] min_uid %u)",
			  pw->pw_name, (unsigned)pw->pw_uid, be->min_uid);
		return DIR_UNKNOWN;
	}
	return DIR_OK;
}

static void fill_account(const struct dir_pam *be, const char *name, struct dir_account *a_r)
{
	memset(a_r, 0, sizeof(*a_r));
	a_r->address = xasprintf("%s@%s", name, be->domain);
	a_r->enabled = true;
	a_r->pop3_enabled = true;
	a_r->submission_enabled = true;
}

/* The mail account that `login` names; *buf_r holds *pw's strings. */
static enum dir_status account_of(const struct dir_pam *be, const char *login, bool bare_ok,
				  struct passwd *pw, char **buf_r)
{
	char name[DIR_PAM_NAME_MAX + 1];

	if (!split_name(be, login, bare_ok, name))
		return DIR_UNKNOWN;
	return find_account(be, name, pw, buf_r);
}

static enum dir_status dir_pam_lookup(void *vbe, struct store *st, const char *login,
				      struct dir_account *a_r)
{
	char *buf = NULL;
	struct passwd pw;

	enum dir_status s = account_of(vbe, login, true, &pw, &buf);
	if (s == DIR_OK)
		fill_account(vbe, pw.pw_name, a_r);
	free(buf);
	return s;
}

/* --- the PAM conversation ------------------------------------------------------ */

/* PAM asks, we answer (pam_conv(3)). The first PAM_PROMPT_ECHO_OFF gets the
   password; a second one (a one-time code) or any other prompt is refused:
   a POP3 or SMTP client has nothing more to give. Messages (expiry warnings)
   are taken without an answer. The copy handed over is PAM's to free; the
   modules overwrite it before they do (_pam_drop_reply). */
static int conversation(int n, const struct pam_message **msg, struct pam_response **resp_r,
			void *appdata)
{
	struct dir_pam_conv *cv = appdata;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	struct pam_response *resp = xcalloc((size_t)n, sizeof(*resp));
	for (int i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			if (!cv->answered) {
				resp[i].resp = xstrdup(cv->password);
				cv->answered = true;
				break;
			}
			/* fall through */
		case PAM_PROMPT_ECHO_ON:
		default:
			cv->refused = true;
			for (int k = 0; k < i; k++)
				secret_free(&resp[k].resp);
			free(resp);
			return PAM_CONV_ERR;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			break;
		}
	}
	*resp_r = resp;
	return PAM_SUCCESS;
}

/* PAM_FAIL_DELAY (pam_fail_delay(3)): pam_unix asks for 2 s after a wrong
   password; the server's own brake already waits, per client address and
   account, without holding a worker thread. */
static void no_fail_delay(int retval, unsigned usec, void *appdata)
{
	(void)retval;
	(void)usec;
	(void)appdata;
}

/* Debian's /etc/shadow is root:shadow 0640. Run as an account outside group
   shadow, pam_unix falls back to its helper unix_chkpwd, which gives up its
   own group shadow before it checks any account but the caller's: every
   login then ends in PAM_AUTHINFO_UNAVAIL. Say once what to do. */
static void shadow_hint(struct dir_pam *be)
{
	if (geteuid() == 0 || access("/etc/shadow", F_OK) != 0 || access("/etc/shadow", R_OK) == 0)
		return;
	if (atomic_flag_test_and_set(&be->shadow_hint))
		return;
	log_warn("pam: this process (uid %u) cannot read /etc/shadow, so pam_unix cannot check "
		 "passwords: add the [server] user to group shadow (docs/admin.md, Local "
		 "accounts (PAM))",
		 (unsigned)geteuid());
}

/* The result of pam_authenticate or pam_acct_mgmt as a backend status. */
static enum dir_status map_result(struct dir_pam *be, const char *name, const char *step, int r,
				  const struct dir_pam_conv *cv)
{
	if (r == PAM_AUTH_ERR || r == PAM_AUTHINFO_UNAVAIL)
		shadow_hint(be);
	switch (r) {
	case PAM_SUCCESS:
		return DIR_OK;
	case PAM_AUTH_ERR:
	case PAM_USER_UNKNOWN:
	case PAM_MAXTRIES:
	case PAM_CRED_INSUFFICIENT:
	case PAM_AUTHTOK_ERR:
		log_debug("pam: %s of %s: %s", step, name, pam_strerror(NULL, r));
		return DIR_FAILED;
	case PAM_PERM_DENIED:
	case PAM_ACCT_EXPIRED:
	case PAM_NEW_AUTHTOK_REQD:
	case PAM_AUTHTOK_EXPIRED:
		/* the password may have been right: the admin wants to know why */
		log_info("pam: %s refuses %s: %s", step, name, pam_strerror(NULL, r));
		return DIR_FAILED;
	case PAM_CONV_ERR:
		if (cv->refused) {
			log_warn("pam: service %s asked %s for more than a password; mail clients "
				 "cannot answer (a second factor?)",
				 be->service, name);
			return DIR_FAILED;
		}
		break;
	default:
		break;
	}
	/* PAM_AUTHINFO_UNAVAIL (an LDAP or SSSD source down), PAM_SYSTEM_ERR,
	   PAM_BUF_ERR, PAM_ABORT, a module that does not load: not an answer */
	log_error("pam: %s of %s (service %s): %s", step, name, be->service, pam_strerror(NULL, r));
	return DIR_TEMPFAIL;
}

/* PAM_USER after authentication: still the account we started with? */
static bool same_user(pam_handle_t *ph, const char *name)
{
	const void *item = NULL;
	return pam_get_item(ph, PAM_USER, &item) == PAM_SUCCESS && item != NULL &&
	       strcmp(item, name) == 0;
}

static enum dir_status run_pam(struct dir_pam *be, const char *name, const char *password)
{
	struct dir_pam_conv cv = {.password = password};
	struct pam_conv conv = {.conv = conversation, .appdata_ptr = &cv};
	pam_handle_t *ph = NULL;

	int r = be->confdir != NULL ? pam_start_confdir(be->service, name, &conv, be->confdir, &ph)
				    : pam_start(be->service, name, &conv, &ph);
	if (r != PAM_SUCCESS) {
		log_error("pam: cannot start service %s: %s", be->service, pam_strerror(ph, r));
		if (ph != NULL)
			pam_end(ph, r);
		return DIR_TEMPFAIL;
	}
	r = pam_set_item(ph, PAM_FAIL_DELAY, (const void *)no_fail_delay);
	enum dir_status s = DIR_TEMPFAIL;
	if (r != PAM_SUCCESS) {
		log_error("pam: cannot set PAM_FAIL_DELAY: %s", pam_strerror(ph, r));
	} else {
		/* PAM_DISALLOW_NULL_AUTHTOK: an account without a password is
		   not open to the network (pam_unix's nullok notwithstanding) */
		r = pam_authenticate(ph, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
		s = map_result(be, name, "authentication", r, &cv);
		if (s == DIR_OK && !same_user(ph, name)) {
			/* a module mapped the name to another account: that
			   account is not the mailbox the client asked for */
			log_warn("pam: service %s changed the user %s during authentication; "
				 "refused",
				 be->service, name);
			s = DIR_FAILED;
		}
		if (s == DIR_OK) {
			r = pam_acct_mgmt(ph, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
			s = map_result(be, name, "account check", r, &cv);
		}
	}
	pam_end(ph, r); /* wipes PAM_AUTHTOK */
	return s;
}

static enum dir_status dir_pam_verify(void *vbe, struct store *st, const char *login,
				      const char *password, struct dir_account *a_r)
{
	char *buf = NULL;
	struct passwd pw;

	enum dir_status s = account_of(vbe, login, true, &pw, &buf);
	if (s == DIR_OK) {
		/* PAM_MAX_RESP_SIZE: modules cut longer answers, and a cut
		   password must not match */
		size_t len = strlen(password);
		s = len == 0 || len >= PAM_MAX_RESP_SIZE ? DIR_FAILED
							 : run_pam(vbe, pw.pw_name, password);
	}
	if (s == DIR_OK)
		fill_account(vbe, pw.pw_name, a_r);
	free(buf);
	return s;
}

/* --- recipients ------------------------------------------------------------------ */

static enum dir_status dir_pam_resolve(void *vbe, struct store *st, const char *address,
				       struct dir_resolution *r_r)
{
	struct dir_account a;
	char *buf = NULL;
	struct passwd pw;

	/* a recipient is always an address: no bare names */
	enum dir_status s = account_of(vbe, address, false, &pw, &buf);
	if (s == DIR_OK) {
		fill_account(vbe, pw.pw_name, &a);
		dir_resolution_add_mailbox(r_r, a.address);
		dir_account_clear(&a);
	}
	free(buf);
	return s;
}

const struct dir_backend_ops dir_pam_ops = {
    .name = "pam",
    .flags = 0,
    .open = dir_pam_open,
    .probe = dir_pam_probe,
    .close = dir_pam_close,
    .lookup = dir_pam_lookup,
    .verify = dir_pam_verify,
    .resolve = dir_pam_resolve,
};
