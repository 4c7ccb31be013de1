/* SPDX-License-Identifier: MIT */
/*
 * clamd.h - a virus scan of one message by ClamAV's daemon over its socket
 * (unix or inet; filter.h), with the INSTREAM command (clamd(8)): the
 * command "zINSTREAM" and its NUL, the message in chunks (a 4-octet
 * big-endian length, then that many octets) of at most CLAMD_CHUNK, a chunk
 * of length 0, then one reply ending in NUL:
 *   "stream: OK"                           clean
 *   "stream: Win.Test.EICAR_HDB-1 FOUND"   infected, with the signature
 *   "INSTREAM size limit exceeded. ERROR"  over clamd's StreamMaxLength
 *   "... ERROR"                            clamd could not scan
 * clamd closes the connection as soon as the stream passes StreamMaxLength,
 * often while we are still writing: a write that fails is followed by a
 * read of the reply that may already be waiting, so that error is told
 * apart from a lost connection.
 *
 * Blocking, for worker threads only, never the event loop: connecting,
 * each write of a chunk and the wait for the verdict (the scan itself) each
 * have conf->timeout seconds (net/dial.h: a total per wait, however the
 * peer drips). libclamav is never linked.
 *
 * The reply reader is pure and incremental (clamd_reply_feed: pieces of
 * any size, the result independent of the cut, at most CLAMD_REPLY_MAX
 * octets); clamd_reply_parse() reads one whole reply. Both are fuzzed.
 */
#ifndef MAILROOM_FILTER_CLAMD_H
#define MAILROOM_FILTER_CLAMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filter/filter.h"

#define CLAMD_CHUNK 65536    /* octets per INSTREAM chunk */
#define CLAMD_REPLY_MAX 1024 /* octets of a reply before its NUL */
#define CLAMD_NAME_MAX 256   /* of a signature name */
#define CLAMD_REASON_MAX 512 /* of an error's reason */

enum clamd_verdict {
	CLAMD_CLEAN,
	CLAMD_INFECTED, /* signature names what was found */
	CLAMD_ERROR,	/* clamd could not scan, or could not be asked: reason */
	CLAMD_SKIPPED,	/* larger than max_scan_size: not sent, let through */
};
const char *clamd_verdict_name(enum clamd_verdict v);

/* --- the reply ---------------------------------------------------------------------------- */

struct clamd_reply {
	enum clamd_verdict verdict;	/* CLEAN, INFECTED or ERROR */
	char signature[CLAMD_NAME_MAX]; /* INFECTED */
	char reason[CLAMD_REASON_MAX];	/* ERROR: clamd's text before " ERROR" */
	bool size_limit;		/* ERROR: StreamMaxLength exceeded */
};

/* Reads one reply of len octets (without its NUL). Grammar: printable
   ASCII only; "stream: OK"; "stream: NAME FOUND" (NAME non-empty, shorter
   than CLAMD_NAME_MAX, no space); or TEXT " ERROR" (TEXT non-empty, shorter
   than CLAMD_REASON_MAX, "stream: " taken off). Returns false for
   anything else (malformed). */
bool clamd_reply_parse(const char *p, size_t len, struct clamd_reply *r);

enum clamd_read_status {
	CLAMD_READ_BAD = -1, /* over CLAMD_REPLY_MAX without a NUL */
	CLAMD_READ_MORE = 0, /* every octet consumed, no NUL yet */
	CLAMD_READ_DONE = 1, /* the reply is whole: text, len (NUL-terminated) */
};

struct clamd_reader {
	char text[CLAMD_REPLY_MAX + 1];
	size_t len;
	bool done, bad;
};
void clamd_reader_init(struct clamd_reader *r);
/* Consumes in[0..len) up to and including the NUL that ends the reply;
 *used_r says how many octets. After DONE, init again for another. */
enum clamd_read_status clamd_reader_feed(struct clamd_reader *r, const void *in, size_t len,
					 size_t *used_r);

/* --- a scan ------------------------------------------------------------------------------- */

struct clamd_conf {
	const char *socket;	   /* "inet:host:port" or "unix:/path" */
	unsigned timeout;	   /* seconds; see above */
	enum filter_policy policy; /* for CLAMD_ERROR */
	uint64_t max_scan_size;	   /* larger messages are CLAMD_SKIPPED; 0: no limit */
};

enum clamd_action {
	CLAMD_ACCEPT,	/* deliver */
	CLAMD_REJECT,	/* refuse for good: reply (a virus) */
	CLAMD_TEMPFAIL, /* refuse for now: reply (fail-closed error) */
};

struct clamd_result {
	enum clamd_verdict verdict;
	char signature[CLAMD_NAME_MAX];
	char reason[CLAMD_REASON_MAX]; /* ERROR, SKIPPED: why */
	bool size_limit;	       /* ERROR: clamd's StreamMaxLength */
	enum clamd_action action;      /* what the verdict and the policy make of it */
	char reply[CLAMD_REASON_MAX];  /* REJECT, TEMPFAIL: the SMTP reply */
};

/* Scans msg (len octets: the message as it will be stored). Always fills
   *r; an ERROR is logged at warn with its reason and the policy applied
   (fail-open: ACCEPT; fail-closed: TEMPFAIL "451 4.7.1 ..."); INFECTED is
   REJECT "554 5.7.1 Virus found: NAME" whatever the policy. Returns 0, or
   -1 for an ERROR. */
int clamd_scan(const struct clamd_conf *conf, const char *msg, size_t len, struct clamd_result *r);

#endif
