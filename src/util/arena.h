/* SPDX-License-Identifier: MIT */
/*
 * arena.h - allocate-only memory pools with one lifetime.
 *
 * A session arena lives from accept to close; a child arena lives for one
 * transaction or one long command; both are freed whole, never piecemeal
 * (Dovecot alloconly pools, nginx ngx_pool_t). Blocks grow geometrically from
 * the first size given to arena_new(), so size it for the common case.
 * arena_reset() keeps the first block and drops the rest: use it for scratch
 * memory that must not outlive one callback (never store a pointer into a
 * scratch arena past the callback that made it).
 */
#ifndef MAILROOM_UTIL_ARENA_H
#define MAILROOM_UTIL_ARENA_H

#include <stddef.h>

struct arena;

struct arena *arena_new(size_t first_block);
/* Frees every block; accepts NULL; sets *a = NULL. */
void arena_free(struct arena **a);
/* Drops all allocations but keeps the first block for reuse. */
void arena_reset(struct arena *a);
/* Returns zeroed memory aligned for any type; never NULL. */
void *arena_alloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
/* Bytes held by the arena's blocks (for the per-session memory test). */
size_t arena_footprint(const struct arena *a);

#endif
