/* SPDX-License-Identifier: MIT */
/*
 * filter_probe.c - runs one message through the filters of a config's
 * [filter] section (filter/filter.h), for tests/proto/test_milter.py and
 * test_clamd.py: the milters in order (milter_chain_run), then clamd on the
 * message as they left it.
 *
 *   filter_probe -c CONFIG [-f SENDER] [-r RCPT]... [-a CLIENT_ADDR]
 *                [-H HELO] [-u AUTH_USER] MESSAGE_FILE
 *
 * Prints one line per fact, then "message:" and the message as it would be
 * stored (wire form):
 *   milter SOCKET action=A [error="..."]    one per milter that ran
 *   mod TYPE index=N name=NAME value=VALUE  its changes, in order (CR, LF,
 *                                           TAB and '\' escaped as \r \n \t \\)
 *   refused RCPT REPLY                      recipients it refused at RCPT
 *   chain action=A reply="..." quarantine="..." failed=N
 *   sender ADDRESS [ARGS] / rcpt ADDRESS [ARGS]   the envelope after the chain
 *   clamd verdict=V action=A signature=S size_limit=yes|no reason="..." reply="..."
 * Exit 0 when everything ran (whatever the verdicts), 2 on bad usage.
 */
#include "filter/filter.h"
#include "server/schema.h"
#include "util/buf.h"
#include "util/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RCPTS_MAX 32

static void escaped(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		switch (p[i]) {
		case '\r':
			fputs("\\r", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		case '\\':
			fputs("\\\\", stdout);
			break;
		default:
			putchar(p[i]);
		}
	}
}

static int read_file(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	char chunk[65536];
	size_t n;

	if (f == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(out, chunk, n);
	fclose(f);
	return 0;
}

static void print_result(const struct milter_result *res, const char *socket)
{
	printf("milter %s action=%s", socket, milter_action_name(res->action));
	if (res->failed)
		printf(" error=\"%s\"", res->error);
	printf("\n");
	for (size_t i = 0; i < res->n_mods; i++) {
		const struct milter_mod *m = &res->mods[i];
		printf("mod %s index=%u name=", milter_mod_name(m->type), (unsigned)m->index);
		escaped(m->name, strlen(m->name));
		printf(" value=");
		if (m->value != NULL)
			escaped(m->value, m->value_len);
		printf("\n");
	}
	for (size_t i = 0; i < res->n_refused; i++)
		printf("refused %s %s\n", res->refused[i].rcpt, res->refused[i].reply);
}

int main(int argc, char **argv)
{
	const char *conf_path = NULL, *sender = "sender@example.test";
	struct milter_rcpt rcpts[RCPTS_MAX];
	struct milter_envelope env = {
	    .client_addr = "127.0.0.1",
	    .client_port = 40025,
	    .helo = "client.example.test",
	    .daemon_name = "smtp",
	    .if_addr = "127.0.0.1",
	    .if_port = 25,
	    .queue_id = "0123456789ABCDEF",
	};
	size_t n_rcpts = 0;
	int opt;

	while ((opt = getopt(argc, argv, "c:f:r:a:H:u:")) != -1) {
		switch (opt) {
		case 'c':
			conf_path = optarg;
			break;
		case 'f':
			sender = optarg;
			break;
		case 'r':
			if (n_rcpts == RCPTS_MAX)
				return 2;
			rcpts[n_rcpts++] = (struct milter_rcpt){optarg, NULL};
			break;
		case 'a':
			env.client_addr = optarg;
			break;
		case 'H':
			env.helo = optarg;
			break;
		case 'u':
			env.auth_user = optarg;
			env.auth_mech = "PLAIN";
			break;
		default:
			return 2;
		}
	}
	if (conf_path == NULL || optind + 1 != argc) {
		fprintf(stderr, "usage: filter_probe -c CONFIG [-f SENDER] [-r RCPT]... "
				"[-a ADDR] [-H HELO] [-u USER] MESSAGE\n");
		return 2;
	}
	struct config cfg;
	char *err = NULL;
	if (config_load(server_schema(), conf_path, &cfg, &err) < 0) {
		fprintf(stderr, "filter_probe: %s\n", err);
		free(err);
		return 2;
	}
	struct buf msg = {0};
	if (read_file(argv[optind], &msg) < 0) {
		perror(argv[optind]);
		return 2;
	}
	const struct filter_config *fc = filter_config(&cfg);
	env.hostname = cfg.hostname;
	env.sender = sender;
	env.rcpts = rcpts;
	env.n_rcpts = n_rcpts;

	struct milter_conf *mc = calloc(fc->milter.count + 1, sizeof(*mc));
	for (size_t i = 0; i < fc->milter.count; i++)
		mc[i] =
		    (struct milter_conf){.socket = fc->milter.addrs[i],
					 .timeout = fc->milter_timeout,
					 .policy = (enum filter_policy)fc->milter_default_action};
	struct milter_chain_result chain;
	milter_chain_run(mc, fc->milter.count, &env, msg.data != NULL ? msg.data : "", msg.len,
			 &chain);
	for (size_t i = 0; i < chain.n_results; i++)
		print_result(&chain.results[i], mc[i].socket);
	printf("chain action=%s reply=\"%s\" quarantine=\"%s\" failed=%u\n",
	       milter_action_name(chain.action), chain.reply,
	       chain.quarantine != NULL ? chain.quarantine : "", chain.failed);
	printf("sender %s%s%s\n", chain.envelope.sender, chain.envelope.sender_args ? " " : "",
	       chain.envelope.sender_args ? chain.envelope.sender_args : "");
	for (size_t i = 0; i < chain.envelope.rcpts.count; i++)
		printf("rcpt %s%s%s\n", chain.envelope.rcpts.addr[i],
		       chain.envelope.rcpts.args[i] ? " " : "",
		       chain.envelope.rcpts.args[i] ? chain.envelope.rcpts.args[i] : "");
	if (fc->clamd != NULL) {
		struct clamd_conf cc = {.socket = fc->clamd,
					.timeout = fc->clamd_timeout,
					.policy = (enum filter_policy)fc->clamd_default_action,
					.max_scan_size = fc->max_scan_size};
		struct clamd_result cr;
		clamd_scan(&cc, chain.message.data, chain.message.len, &cr);
		printf("clamd verdict=%s action=%s signature=%s size_limit=%s reason=\"%s\" "
		       "reply=\"%s\"\n",
		       clamd_verdict_name(cr.verdict),
		       cr.action == CLAMD_ACCEPT   ? "accept"
		       : cr.action == CLAMD_REJECT ? "reject"
						   : "tempfail",
		       cr.signature, cr.size_limit ? "yes" : "no", cr.reason, cr.reply);
	}
	printf("message:\n");
	fwrite(chain.message.data, 1, chain.message.len, stdout);
	milter_chain_result_free(&chain);
	free(mc);
	buf_free(&msg);
	config_free(&cfg);
	return 0;
}
