/* SPDX-License-Identifier: MIT */
/* clamd.c - see clamd.h. */
#include "filter/clamd.h"
#include "net/dial.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>

#define STREAM_PREFIX "stream: "
#define SIZE_LIMIT_TEXT "INSTREAM size limit exceeded"

const char *clamd_verdict_name(enum clamd_verdict v)
{
	switch (v) {
	case CLAMD_CLEAN:
		return "clean";
	case CLAMD_INFECTED:
		return "infected";
	case CLAMD_ERROR:
		return "error";
	case CLAMD_SKIPPED:
		return "skipped";
	}
	return "?";
}

/* --- the reply ---------------------------------------------------------------------------- */

static bool ends_with(const char *p, size_t len, const char *suffix)
{
	size_t sl = strlen(suffix);
	return len >= sl && memcmp(p + len - sl, suffix, sl) == 0;
}

static bool starts_with(const char *p, size_t len, const char *prefix)
{
	size_t pl = strlen(prefix);
	return len >= pl && memcmp(p, prefix, pl) == 0;
}

bool clamd_reply_parse(const char *p, size_t len, struct clamd_reply *r)
{
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] >= 0x7f)
			return false;
	if (ends_with(p, len, " ERROR")) {
		const char *t = p;
		size_t tl = len - strlen(" ERROR");
		if (starts_with(t, tl, STREAM_PREFIX)) {
			t += strlen(STREAM_PREFIX);
			tl -= strlen(STREAM_PREFIX);
		}
		if (tl == 0 || tl >= sizeof(r->reason))
			return false;
		r->verdict = CLAMD_ERROR;
		memcpy(r->reason, t, tl);
		r->size_limit = starts_with(t, tl, SIZE_LIMIT_TEXT);
		return true;
	}
	if (!starts_with(p, len, STREAM_PREFIX))
		return false;
	p += strlen(STREAM_PREFIX);
	len -= strlen(STREAM_PREFIX);
	if (len == 2 && memcmp(p, "OK", 2) == 0) {
		r->verdict = CLAMD_CLEAN;
		return true;
	}
	if (!ends_with(p, len, " FOUND"))
		return false;
	len -= strlen(" FOUND");
	if (len == 0 || len >= sizeof(r->signature) || memchr(p, ' ', len) != NULL)
		return false;
	r->verdict = CLAMD_INFECTED;
	memcpy(r->signature, p, len);
	return true;
}

void clamd_reader_init(struct clamd_reader *r)
{
	r->len = 0;
	r->done = false;
	r->bad = false;
	r->text[0] = '\0';
}

enum clamd_read_status clamd_reader_feed(struct clamd_reader *r, const void *in, size_t len,
					 size_t *used_r)
{
	const char *p = in;
	size_t room = CLAMD_REPLY_MAX - r->len;

	*used_r = 0;
	if (r->bad)
		return CLAMD_READ_BAD;
	if (r->done)
		return CLAMD_READ_DONE;
	const char *nul = memchr(p, '\0', len);
	size_t n = nul != NULL ? (size_t)(nul - p) : len;
	if (n > room) { /* no NUL within the limit */
		memcpy(r->text + r->len, p, room);
		r->len += room;
		r->text[r->len] = '\0';
		*used_r = room;
		r->bad = true;
		return CLAMD_READ_BAD;
	}
	memcpy(r->text + r->len, p, n);
	r->len += n;
	r->text[r->len] = '\0';
	*used_r = n + (nul != NULL ? 1 : 0);
	if (nul == NULL)
		return CLAMD_READ_MORE;
	r->done = true;
	return CLAMD_READ_DONE;
}

/* --- a scan ------------------------------------------------------------------------------- */

static void put_len(char *b, uint32_t n)
{
	b[0] = (char)(n >> 24);
	b[1] = (char)(n >> 16);
	b[2] = (char)(n >> 8);
	b[3] = (char)n;
}

/* Reads the reply within the timeout; false with a reason in r. */
static bool read_reply(struct dial *d, const struct clamd_conf *conf, struct clamd_result *r)
{
	struct clamd_reader rd;
	char in[512];

	clamd_reader_init(&rd);
	dial_deadline(d, conf->timeout);
	d->io = DIAL_OK; /* a failed write may still leave the reply to read */
	for (;;) {
		ssize_t n = dial_read(d, in, sizeof(in));
		if (n <= 0) {
			snprintf(r->reason, sizeof(r->reason), "%s waiting for the reply",
				 d->io == DIAL_TIMEOUT ? "timeout" : "connection lost");
			return false;
		}
		size_t used;
		enum clamd_read_status st = clamd_reader_feed(&rd, in, (size_t)n, &used);
		if (st == CLAMD_READ_BAD) {
			snprintf(r->reason, sizeof(r->reason), "a reply longer than %d octets",
				 CLAMD_REPLY_MAX);
			return false;
		}
		if (st == CLAMD_READ_DONE)
			break;
	}
	struct clamd_reply rep;
	if (!clamd_reply_parse(rd.text, rd.len, &rep)) {
		snprintf(r->reason, sizeof(r->reason), "malformed reply '%.200s'", rd.text);
		return false;
	}
	r->verdict = rep.verdict;
	r->size_limit = rep.size_limit;
	memcpy(r->signature, rep.signature, sizeof(r->signature));
	if (rep.verdict == CLAMD_ERROR)
		snprintf(r->reason, sizeof(r->reason), "clamd: %.400s", rep.reason);
	return true;
}

/* The stream: the command, the chunks, the end. False when a write failed
   (the reply may still tell why). */
static bool send_stream(struct dial *d, const struct clamd_conf *conf, const char *msg, size_t len)
{
	static const char cmd[] = "zINSTREAM"; /* with its NUL */
	char head[4];

	dial_deadline(d, conf->timeout);
	if (!dial_write(d, cmd, sizeof(cmd)))
		return false;
	for (size_t off = 0; off < len;) {
		size_t n = len - off > CLAMD_CHUNK ? CLAMD_CHUNK : len - off;
		put_len(head, (uint32_t)n);
		dial_deadline(d, conf->timeout);
		if (!dial_write(d, head, 4) || !dial_write(d, msg + off, n))
			return false;
		off += n;
	}
	put_len(head, 0);
	dial_deadline(d, conf->timeout);
	return dial_write(d, head, 4);
}

static void scan(const struct clamd_conf *conf, const char *msg, size_t len, struct clamd_result *r)
{
	struct dial d;
	char why[256];

	dial_init(&d);
	if (filter_socket_connect(&d, conf->socket, conf->timeout, why, sizeof(why)) < 0) {
		r->verdict = CLAMD_ERROR;
		snprintf(r->reason, sizeof(r->reason), "%s", why);
		return;
	}
	bool sent = send_stream(&d, conf, msg, len);
	bool timed_out = !sent && d.io == DIAL_TIMEOUT;
	if (timed_out || !read_reply(&d, conf, r)) {
		r->verdict = CLAMD_ERROR;
		if (timed_out)
			snprintf(r->reason, sizeof(r->reason), "timeout after %us sending",
				 conf->timeout);
		else if (!sent)
			snprintf(r->reason, sizeof(r->reason), "connection lost sending");
	}
	dial_close(&d);
}

int clamd_scan(const struct clamd_conf *conf, const char *msg, size_t len, struct clamd_result *r)
{
	memset(r, 0, sizeof(*r));
	if (conf->max_scan_size != 0 && len > conf->max_scan_size) {
		r->verdict = CLAMD_SKIPPED;
		snprintf(r->reason, sizeof(r->reason), "%zu octets, over max_scan_size", len);
		log_info("clamd socket=%s skipped reason=\"%s\"", conf->socket, r->reason);
	} else {
		scan(conf, msg, len, r);
	}
	switch (r->verdict) {
	case CLAMD_CLEAN:
	case CLAMD_SKIPPED:
		r->action = CLAMD_ACCEPT;
		return 0;
	case CLAMD_INFECTED:
		r->action = CLAMD_REJECT;
		snprintf(r->reply, sizeof(r->reply), "554 5.7.1 Virus found: %s", r->signature);
		log_info("clamd socket=%s infected signature=%s", conf->socket, r->signature);
		return 0;
	case CLAMD_ERROR:
		break;
	}
	if (conf->policy == FILTER_FAIL_CLOSED) {
		r->action = CLAMD_TEMPFAIL;
		snprintf(r->reply, sizeof(r->reply),
			 "451 4.7.1 Virus scanner unavailable - try again later");
	} else {
		r->action = CLAMD_ACCEPT;
	}
	log_warn("clamd socket=%s failed reason=\"%s\"%s policy=%s", conf->socket, r->reason,
		 r->size_limit ? " hint=\"raise clamd's StreamMaxLength over max_scan_size\"" : "",
		 conf->policy == FILTER_FAIL_CLOSED ? "tempfail" : "accept");
	return -1;
}
