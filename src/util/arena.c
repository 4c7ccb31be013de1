/* SPDX-License-Identifier: MIT */
/* arena.c - see arena.h. */
#include "util/arena.h"
#include "util/mem.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct arena_block {
	struct arena_block *next;
	size_t size, used;
	alignas(max_align_t) unsigned char data[];
};

struct arena {
	struct arena_block *head; /* current block; the first one is last in the list */
	size_t next_size;
	size_t footprint;
};

static struct arena_block *block_new(size_t size)
{
	struct arena_block *b = xmalloc(sizeof(*b) + size);
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

struct arena *arena_new(size_t first_block)
{
	struct arena *a = xcalloc(1, sizeof(*a));
	if (first_block < 64)
		first_block = 64;
	a->head = block_new(first_block);
	a->next_size = first_block * 2;
	a->footprint = sizeof(*a) + sizeof(struct arena_block) + first_block;
	return a;
}

void arena_free(struct arena **ap)
{
	struct arena *a = *ap;
	if (a == NULL)
		return;
	for (struct arena_block *b = a->head, *n; b != NULL; b = n) {
		n = b->next;
		free(b);
	}
	free(a);
	*ap = NULL;
}

void arena_reset(struct arena *a)
{
	struct arena_block *b = a->head;
	while (b->next != NULL) {
		struct arena_block *n = b->next;
		a->footprint -= sizeof(*b) + b->size;
		free(b);
		b = n;
	}
	b->used = 0;
	a->head = b;
	a->next_size = b->size * 2;
}

void *arena_alloc(struct arena *a, size_t n)
{
	const size_t align = alignof(max_align_t);
	size_t need = (n + align - 1) & ~(align - 1);
	struct arena_block *b = a->head;

	if (need == 0)
		need = align;
	if (b->size - b->used < need) {
		size_t size = a->next_size;
		while (size < need)
			size *= 2;
		b = block_new(size);
		b->next = a->head;
		a->head = b;
		a->next_size = size * 2;
		a->footprint += sizeof(*b) + size;
	}
	void *p = b->data + b->used;
	b->used += need;
	memset(p, 0, n);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

size_t arena_footprint(const struct arena *a)
{
	return a->footprint;
}
