/* SPDX-License-Identifier: MIT */
/*
 * penalty.h - growing delay after failed logins, per client IP.
 *
 * Each failure doubles the delay for that address (1s, 2s, 4s ... up to the
 * configured maximum); a success clears it; entries expire after a quiet
 * period. Loop thread only. The table is bounded: when full, the oldest
 * entries are dropped first.
 */
#ifndef MAILROOM_DIRECTORY_PENALTY_H
#define MAILROOM_DIRECTORY_PENALTY_H

#include <stdint.h>

struct penalty;

struct penalty *penalty_new(unsigned max_delay_secs);
void penalty_free(struct penalty **p);
/* Delay in milliseconds to apply before answering a failed attempt from ip. */
uint64_t penalty_delay_ms(struct penalty *p, const char *ip, uint64_t now_ms);
void penalty_fail(struct penalty *p, const char *ip, uint64_t now_ms);
void penalty_success(struct penalty *p, const char *ip);

#endif
