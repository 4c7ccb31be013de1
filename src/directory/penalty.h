/* SPDX-License-Identifier: MIT */
/*
 * penalty.h - the login brake: how long a login attempt waits before its
 * credentials are checked, shared by every protocol that checks passwords
 * (POP3 USER/PASS, APOP and AUTH; SMTP AUTH; later IMAP).
 *
 * Two brakes, each a delay that grows with recent failures and is capped:
 *  - per client address: IPv4 per address, an IPv4-mapped IPv6 address
 *    (::ffff:a.b.c.d) as that IPv4 address, other IPv6 per /64 (one host
 *    usually holds a whole /64). n failures from an address make its next
 *    attempt wait first << (n - 1), at most max; no failures, no wait.
 *  - per account, against guessing one account from many addresses: the
 *    same curve over the account's failures from every address. It never
 *    applies from an address that has logged in to that account before
 *    (the owner's usual address), and it is capped at max, so the owner is
 *    never locked out.
 * An attempt waits the larger of the two, right or wrong password: the wait
 * comes before the check, so its length tells nothing about the answer.
 *
 * A success clears only that account's failures from that address (and
 * takes them off the account's count); failures for other accounts from
 * the same address stay, so a guesser cannot reset its brake by logging in
 * to an account of its own. Entries expire PENALTY_EXPIRE_MS after their
 * last failure (an address's known-good mark after PENALTY_GOOD_MS).
 *
 * Loop thread only: no locks. Every call is O(1) on average (one hash look
 * up per key). The table holds at most PENALTY_ENTRIES_MAX entries; when it
 * is full the least recently touched entry is dropped, so a flood of
 * addresses costs bounded memory and at worst forgets old failures.
 * Account names are compared without ASCII case and cut at SASL's 255
 * octets; ip is the textual address (inet_ntop(3) form).
 */
#ifndef MAILROOM_DIRECTORY_PENALTY_H
#define MAILROOM_DIRECTORY_PENALTY_H

#include <stddef.h>
#include <stdint.h>

#define PENALTY_ENTRIES_MAX 16384	       /* addresses + accounts + pairs */
#define PENALTY_EXPIRE_MS (15 * 60 * 1000ULL)  /* quiet period after a failure */
#define PENALTY_GOOD_MS (30 * 86400 * 1000ULL) /* "this address logged in" mark */
#define PENALTY_ACCOUNT_NAME_MAX 255	       /* SASL_NAME_MAX */

struct penalty;

/* first_ms: the wait after one failure; max_ms: the cap of both brakes.
   Either 0 turns the brake off (every wait is 0; nothing is recorded). */
struct penalty *penalty_new(uint64_t first_ms, uint64_t max_ms);
void penalty_free(struct penalty **p);

/* How long an attempt from ip for account must wait before its check.
   account may be NULL (not known yet): then the address brake alone. */
uint64_t penalty_wait_ms(struct penalty *p, const char *ip, const char *account, uint64_t now_ms);
/* A wrong password (or unknown user) from ip for account (NULL if the
   client never named one). */
void penalty_fail(struct penalty *p, const char *ip, const char *account, uint64_t now_ms);
/* The right password from ip for account: clears that account's failures
   from ip and marks ip as known for account. */
void penalty_success(struct penalty *p, const char *ip, const char *account, uint64_t now_ms);

/* Entries held now (for tests of the bound). */
size_t penalty_count(const struct penalty *p);

#endif
