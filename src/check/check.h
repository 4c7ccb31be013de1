/* SPDX-License-Identifier: MIT */
/*
 * check.h - `mailroom check`: a blocking client that tests a mail service
 * the way a user's mail program meets it, against mailroom or any other
 * POP3/IMAP/SMTP server (Exchange's Test-PopConnectivity and
 * Test-ImapConnectivity, with more).
 *
 * For each of POP3 (STLS), POP3S (implicit TLS), IMAP (STARTTLS), IMAPS
 * (implicit TLS), submission (STARTTLS) and submissions (implicit TLS) it
 * connects, reads the greeting, does TLS (reporting the protocol version
 * and the certificate's name, issuer and expiry, verified against the
 * system's CAs or a CA file), logs in, looks at the mailbox and logs out.
 * Then a probe message goes from the address to itself over submission,
 * is found over IMAP by its Message-ID and fetched back over POP3, checked,
 * and deleted. With a DNS domain it also looks at MX, A/AAAA, PTR and SPF
 * records.
 *
 * Each step is one line on the output as it finishes (or one JSON object
 * of an array), and a Nagios-style summary ends the text form. Every read
 * and write has a deadline, so a server that hangs gives a CRITICAL
 * "timeout", never a hang. The password is never printed.
 */
#ifndef MAILROOM_CHECK_CHECK_H
#define MAILROOM_CHECK_CHECK_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* The exit status, as Nagios plugins have it. */
enum check_status {
	CHECK_OK = 0,
	CHECK_WARNING = 1,
	CHECK_CRITICAL = 2,
	CHECK_UNKNOWN = 3, /* the check could not run (never a step's status) */
	CHECK_SKIPPED = 4, /* a step not run (never an exit status) */
};

enum check_service {
	CHECK_POP3,	   /* STLS (RFC 2595), standard port 110 */
	CHECK_POP3S,	   /* implicit TLS (RFC 8314), 995 */
	CHECK_IMAP,	   /* STARTTLS (RFC 9051 §6.2.1), 143 */
	CHECK_IMAPS,	   /* implicit TLS (RFC 8314), 993 */
	CHECK_SUBMISSION,  /* STARTTLS (RFC 3207), 587 */
	CHECK_SUBMISSIONS, /* implicit TLS (RFC 8314), 465 */
	CHECK_SERVICES
};

#define CHECK_STEP_TIMEOUT 10  /* seconds, each step */
#define CHECK_PROBE_TIMEOUT 30 /* seconds, the probe's whole round trip */
#define CHECK_CERT_WARN_DAYS 21

#define CHECK_DETAILS_MAX 512

/* One step's outcome. */
struct check_step {
	enum check_status status;
	char service[16]; /* pop3 pop3s imap imaps submission submissions probe dns */
	char address[128];
	char step[16];
	long long ms; /* -1: no time (a skipped step) */
	char details[CHECK_DETAILS_MAX];
};
typedef void check_step_fn(void *ctx, const struct check_step *s);

struct check_options {
	const char *address;  /* login name, and the probe's sender and recipient */
	const char *password; /* never printed */
	/* "host:port" or "[v6]:port" of each service; NULL: skipped (off) */
	const char *endpoint[CHECK_SERVICES];
	const char *tls_name; /* the name the certificates must carry */
	const char *ca_file;  /* NULL: the system's CAs */
	const char *helo;     /* the EHLO name */
	unsigned step_timeout, probe_timeout;
	bool no_probe; /* the services only, no message sent */
	/* --dns: NULL for no DNS checks; the mail host's name and the
	   resolver ("ip[:port]", NULL: the system's) */
	const char *dns_domain, *mail_host, *resolver;
	check_step_fn *on_step; /* called as each step finishes */
	void *ctx;
};

const char *check_service_name(enum check_service svc);
/* Whether svc speaks TLS from its first octet (RFC 8314 §3.3). */
bool check_service_implicit_tls(enum check_service svc);
/* Runs every step; returns the exit status (CHECK_OK, CHECK_WARNING or
   CHECK_CRITICAL) and appends to summary the Nagios-style last line
   ("MAILROOM CHECK OK - 24 steps in 412 ms | time_pop3_login=3ms ..."). */
enum check_status check_run(const struct check_options *o, struct buf *summary);
/* A step as one line of text (no line end). */
void check_step_line(const struct check_step *s, char *out, size_t len);
const char *check_status_name(enum check_status st);

#endif
