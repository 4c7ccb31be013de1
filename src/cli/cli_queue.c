/* SPDX-License-Identifier: MIT */
/* cli_queue.c - `mailroom queue list|show|flush|hold|release|remove`. */
#include "cli/cli_private.h"
#include "store/store.h"

#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: mailroom [-c FILE] queue list [--json]\n"
    "       mailroom [-c FILE] queue show ID\n"
    "       mailroom [-c FILE] queue flush [ID]\n"
    "       mailroom [-c FILE] queue hold|release|remove ID\n"
    "\n"
    "The outbound queue holds mail accepted for other domains (submission, and\n"
    "relay domains). ID is the queue id of the `250 ... queued as ID` reply and\n"
    "of the log line. show prints the stored message; flush makes messages due\n"
    "now; hold keeps a message from delivery until release; remove deletes it\n"
    "without a bounce.\n";

static void print_entry(const struct store_queue_entry *e, void *p)
{
	struct cli_list *lc = p;
	char when[32];
	struct tm tm;
	time_t t = (time_t)e->created;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cli_list_item(lc);
	if (lc->json) {
		fputs("{\"id\":", stdout);
		cli_json_str(stdout, e->qid);
		fputs(",\"sender\":", stdout);
		cli_json_str(stdout, e->sender);
		printf(",\"size\":%llu,\"created\":\"%s\",\"attempts\":%u,\"held\":%s,"
		       "\"recipients\":[",
		       (unsigned long long)e->size, when, e->attempts, e->held ? "true" : "false");
		for (size_t i = 0; i < e->n_rcpts; i++) {
			fputs(i > 0 ? "," : "", stdout);
			cli_json_str(stdout, e->rcpts[i]);
		}
		fputs("]}", stdout);
	} else {
		printf("%-14s %8llu %s%s <%s>\n", e->qid, (unsigned long long)e->size, when,
		       e->held ? " held" : "", e->sender);
		for (size_t i = 0; i < e->n_rcpts; i++)
			printf("%-14s %8s   -> <%s>\n", "", "", e->rcpts[i]);
	}
}

int cli_queue(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{.name = "json"}};
	const char *pos[2];
	size_t np;
	bool done;
	struct store *st = NULL;
	int rc =
	    cli_parse("queue", usage, "give an action: list, show, flush, hold, release or remove",
		      argc, argv, opts, 1, pos, 1, 2, &np, &done);

	if (rc != 0 || done)
		return rc;
	const char *sub = pos[0], *id = np == 2 ? pos[1] : NULL;
	bool is_list = strcmp(sub, "list") == 0, is_flush = strcmp(sub, "flush") == 0;
	bool known = is_list || is_flush || strcmp(sub, "show") == 0 || strcmp(sub, "hold") == 0 ||
		     strcmp(sub, "release") == 0 || strcmp(sub, "remove") == 0;
	if (!known) {
		cli_err("queue: unknown action '%s': use list, show, flush, hold, release or "
			"remove",
			sub);
		return EX_USAGE;
	}
	if (is_list && id != NULL) {
		cli_err("queue list takes no ID: it lists the whole queue");
		return EX_USAGE;
	}
	if (!is_list && !is_flush && id == NULL) {
		cli_err("queue %s: ID is missing: give a queue id from queue list", sub);
		return EX_USAGE;
	}
	if (opts[0].set && !is_list) {
		cli_err("queue %s: --json goes with queue list", sub);
		return EX_USAGE;
	}
	if ((rc = cli_store_open(c, false, &st)) != 0)
		return rc;
	if (is_list) {
		struct cli_list lc;
		cli_list_begin(&lc, opts[0].set,
			       "ID                 SIZE CREATED              SENDER");
		rc = store_queue_list(st, NULL, print_entry, &lc);
		rc = cli_list_end(&lc, st, rc, "queue is empty");
		store_close(&st);
		return rc;
	} else if (strcmp(sub, "show") == 0) {
		struct cli_list lc = {0};
		struct buf body = {0};
		rc = store_queue_list(st, id, print_entry, &lc);
		if (rc == STORE_OK)
			rc = store_queue_body(st, id, &body);
		if (rc == STORE_OK) {
			putchar('\n');
			fwrite(body.data, 1, body.len, stdout);
		}
		buf_free(&body);
	} else if (is_flush) {
		rc = store_queue_flush(st, id);
		if (rc == STORE_OK)
			printf("%s due for delivery now\n", id != NULL ? id : "every message");
	} else if (strcmp(sub, "remove") == 0) {
		rc = store_queue_remove(st, id);
		if (rc == STORE_OK)
			printf("%s removed\n", id);
	} else {
		bool hold = strcmp(sub, "hold") == 0;
		rc = store_queue_hold(st, id, hold);
		if (rc == STORE_OK)
			printf("%s %s\n", id, hold ? "held" : "released");
	}
	rc = rc == STORE_OK ? 0 : cli_store_fail(st, rc);
	store_close(&st);
	return rc;
}
