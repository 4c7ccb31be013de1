/* SPDX-License-Identifier: MIT */
/*
 * cli_check.c - `mailroom check ADDRESS --password-stdin`: a client's test
 * of the mail service (check/check.h) with an exit status for monitoring
 * systems: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the check could not
 * run: bad usage, no password), as Nagios plugins have it.
 *
 * The services tested are the first listener of each role of the config
 * in use (0.0.0.0 and [::] become the loopback address), or with --host
 * the standard ports of that host; --pop3, --imap and the like override one.
 */
#include "check/check.h"
#include "queue/queue.h"
#include "cli/cli_private.h"
#include "util/buf.h"
#include "util/mem.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: mailroom [-c FILE] check ADDRESS --password-stdin [--host HOST]\n"
    "                [--pop3|--pop3s|--imap|--imaps|--submission|--submissions\n"
    "                 HOST:PORT|off]\n"
    "                [--ca-file FILE] [--tls-name NAME] [--timeout SECS]\n"
    "                [--probe-timeout SECS] [--no-probe] [--dns DOMAIN] [--json]\n"
    "\n"
    "Tests the mail service as a user's mail program meets it: for POP3 (STLS),\n"
    "POP3S, IMAP (STARTTLS), IMAPS, submission (STARTTLS) and submissions it\n"
    "connects, reads the greeting, does TLS (and shows the certificate's name,\n"
    "issuer and expiry), logs in as ADDRESS, looks at the mailbox and logs out;\n"
    "then it sends a probe message to ADDRESS over submission, finds it over\n"
    "IMAP by its Message-ID, fetches it back over POP3 and deletes it. One line\n"
    "per step with its time, then a summary line. Works against any POP3, IMAP\n"
    "and SMTP server.\n"
    "options:\n"
    "  --password-stdin   the password of ADDRESS from stdin's first line\n"
    "  --host HOST        test HOST on the standard ports (110, 995, 143, 993,\n"
    "                     587, 465); default: the listeners of the config in use\n"
    "  --pop3, --pop3s, --imap, --imaps, --submission, --submissions HOST:PORT|off\n"
    "                     where one service is, or off to leave it out\n"
    "  --ca-file FILE     CA certificates to verify the servers with (default:\n"
    "                     the system's)\n"
    "  --tls-name NAME    the name the certificates must carry (default: HOST,\n"
    "                     else [server] hostname)\n"
    "  --timeout SECS     the time limit of each step (default 10)\n"
    "  --probe-timeout SECS  how long the probe may take to arrive (default 30)\n"
    "  --no-probe         test the services only; send no message\n"
    "  --dns DOMAIN       also check DOMAIN's MX records, the mail host's A/AAAA\n"
    "                     and PTR records, and DOMAIN's SPF record\n"
    "  --json             the steps as a JSON array\n"
    "Exit: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the check could not run).\n";

static const struct {
	const char *opt; /* also its [listen] key */
	unsigned port;
} services[CHECK_SERVICES] = {
    [CHECK_POP3] = {"pop3", 110},
    [CHECK_POP3S] = {"pop3s", 995},
    [CHECK_IMAP] = {"imap", 143},
    [CHECK_IMAPS] = {"imaps", 993},
    [CHECK_SUBMISSION] = {"submission", 587},
    [CHECK_SUBMISSIONS] = {"submissions", 465},
};

struct out {
	bool json;
	unsigned n;
};

static void on_step(void *ctx, const struct check_step *s)
{
	struct out *o = ctx;
	if (!o->json) {
		char line[1024];
		check_step_line(s, line, sizeof(line));
		puts(line);
		fflush(stdout);
		return;
	}
	fputs(o->n++ == 0 ? "[\n  {\"status\":" : ",\n  {\"status\":", stdout);
	cli_json_str(stdout, check_status_name(s->status));
	fputs(",\"service\":", stdout);
	cli_json_str(stdout, s->service);
	fputs(",\"address\":", stdout);
	cli_json_str(stdout, s->address);
	fputs(",\"step\":", stdout);
	cli_json_str(stdout, s->step);
	if (s->ms >= 0)
		printf(",\"ms\":%lld", s->ms);
	else
		fputs(",\"ms\":null", stdout);
	fputs(",\"details\":", stdout);
	cli_json_str(stdout, s->details);
	fputc('}', stdout);
}

/* A listener as something to connect to: a wildcard address becomes the
   loopback one of its family. */
static char *local_endpoint(const char *listen)
{
	if (strncmp(listen, "0.0.0.0:", 8) == 0)
		return xasprintf("127.0.0.1:%s", listen + 8);
	if (strncmp(listen, "[::]:", 5) == 0)
		return xasprintf("[::1]:%s", listen + 5);
	return xstrdup(listen);
}

static int seconds(const char *opt, const char *v, unsigned *out)
{
	uint64_t n;
	if (v == NULL)
		return 0;
	if (!slice_to_uint(slice_from(v), 3600, &n) || n == 0) {
		cli_err("check: --%s wants 1 to 3600 seconds, not '%s'", opt, v);
		return CHECK_UNKNOWN;
	}
	*out = (unsigned)n;
	return 0;
}

int cli_check(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {
	    {"password-stdin", false, false, NULL},
	    {"host", true, false, NULL},
	    {"pop3", true, false, NULL},
	    {"pop3s", true, false, NULL},
	    {"imap", true, false, NULL},
	    {"imaps", true, false, NULL},
	    {"submission", true, false, NULL},
	    {"submissions", true, false, NULL},
	    {"ca-file", true, false, NULL},
	    {"tls-name", true, false, NULL},
	    {"timeout", true, false, NULL},
	    {"probe-timeout", true, false, NULL},
	    {"no-probe", false, false, NULL},
	    {"dns", true, false, NULL},
	    {"json", false, false, NULL},
	};
	const char *pos[1];
	size_t np;
	bool done;
	int rc = cli_parse("check", usage, "give the ADDRESS to log in as", argc, argv, opts,
			   N_ELEMENTS(opts), pos, 1, 1, &np, &done);
	if (rc != 0 || done)
		return rc != 0 ? CHECK_UNKNOWN : 0;

	struct check_options o = {
	    .address = pos[0],
	    .step_timeout = CHECK_STEP_TIMEOUT,
	    .probe_timeout = CHECK_PROBE_TIMEOUT,
	    .no_probe = cli_opt(opts, N_ELEMENTS(opts), "no-probe")->set,
	    .ca_file = cli_opt(opts, N_ELEMENTS(opts), "ca-file")->value,
	    .dns_domain = cli_opt(opts, N_ELEMENTS(opts), "dns")->value,
	    .resolver = delivery_config(&c->cfg)->resolver,
	    .helo = c->cfg.hostname,
	    .on_step = on_step,
	};
	const char *host = cli_opt(opts, N_ELEMENTS(opts), "host")->value;
	const char *tls_name = cli_opt(opts, N_ELEMENTS(opts), "tls-name")->value;
	o.tls_name = tls_name != NULL ? tls_name : host != NULL ? host : c->cfg.hostname;
	o.mail_host = host != NULL ? host : c->cfg.hostname;
	if (strchr(o.address, '@') == NULL || strpbrk(o.address, " \t\r\n<>") != NULL) {
		cli_err("check: '%s' is not an address (user@domain)", o.address);
		return CHECK_UNKNOWN;
	}
	if (seconds("timeout", cli_opt(opts, N_ELEMENTS(opts), "timeout")->value,
		    &o.step_timeout) != 0 ||
	    seconds("probe-timeout", cli_opt(opts, N_ELEMENTS(opts), "probe-timeout")->value,
		    &o.probe_timeout) != 0)
		return CHECK_UNKNOWN;
	if (o.ca_file != NULL && access(o.ca_file, R_OK) != 0) {
		cli_err("check: cannot read the CA file %s", o.ca_file);
		return CHECK_UNKNOWN;
	}
	if (!cli_opt(opts, N_ELEMENTS(opts), "password-stdin")->set) {
		cli_err("check: give the password of %s on stdin with --password-stdin", o.address);
		return CHECK_UNKNOWN;
	}

	char *ep[CHECK_SERVICES] = {NULL};
	for (enum check_service s = 0; s < CHECK_SERVICES; s++) {
		const char *v = cli_opt(opts, N_ELEMENTS(opts), services[s].opt)->value;
		const struct listen_list *l = config_listen(&c->cfg, services[s].opt);
		if (v != NULL)
			ep[s] = strcmp(v, "off") == 0 ? NULL : xstrdup(v);
		else if (host != NULL)
			ep[s] = xasprintf(strchr(host, ':') != NULL ? "[%s]:%u" : "%s:%u", host,
					  services[s].port);
		else if (l != NULL && l->count > 0)
			ep[s] = local_endpoint(l->addrs[0]);
		o.endpoint[s] = ep[s];
	}

	char *pw = NULL;
	rc = cli_read_password(true, &pw);
	if (rc == 0) {
		struct out out = {.json = cli_opt(opts, N_ELEMENTS(opts), "json")->set};
		struct buf summary = {0};
		o.password = pw;
		o.ctx = &out;
		/* a server that closes while we write must fail that write, not
		   end the process (SSL_write has no MSG_NOSIGNAL) */
		signal(SIGPIPE, SIG_IGN);
		rc = (int)check_run(&o, &summary);
		if (out.json)
			fputs(out.n > 0 ? "\n]\n" : "[]\n", stdout);
		else
			printf("%s\n", summary.data);
		buf_free(&summary);
		secret_free(&pw);
	} else {
		rc = CHECK_UNKNOWN;
	}
	for (enum check_service s = 0; s < CHECK_SERVICES; s++)
		free(ep[s]);
	return rc;
}
