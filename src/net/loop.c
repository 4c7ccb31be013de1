/* SPDX-License-Identifier: MIT */
/*
 * loop.c - the epoll event loop of loop.h (Redis ae.c in spirit).
 *
 * Owns: the epoll fd, a table of fd handlers indexed by fd, a binary
 * min-heap of one-shot timers ordered by (deadline, creation order), the
 * before-sleep hooks, and an eventfd that loop_wake() writes from any thread.
 *
 * One iteration: run the hooks, wait (until the nearest timer, or not at all
 * if a hook asked for it), refresh the cached clock, dispatch fd events,
 * then fire the timers that are due. A timer is freed by the loop just
 * before its callback runs, so the owner must forget its pointer there.
 * Timers added by a timer callback with 0 ms wait for the next iteration, so
 * a callback that re-arms itself cannot starve the loop.
 *
 * Never: block, or call back into a handler whose fd was deleted during the
 * same dispatch.
 */
#include "net/loop.h"

#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 256

struct loop_fd {
	int mask; /* LOOP_READ|LOOP_WRITE asked for; -1 = not registered */
	loop_fd_cb *cb;
	void *ctx;
};

struct timer {
	uint64_t when;
	uint64_t seq; /* creation order breaks ties: equal deadlines fire FIFO */
	size_t idx;   /* position in the heap, for O(log n) deletion */
	loop_timer_cb *cb;
	void *ctx;
};

struct loop_hook {
	loop_hook_cb *cb; /* NULL once deleted; compacted outside iteration */
	void *ctx;
};

struct loop {
	int epfd;
	int wakefd;
	struct loop_fd *fds;
	size_t nfds;

	struct timer **heap;
	size_t nheap, capheap;
	uint64_t seq;

	struct loop_hook *hooks;
	size_t nhooks, caphooks;
	bool hooks_dirty;

	uint64_t now;
	bool stop;
	bool skip_sleep;
	struct epoll_event events[LOOP_MAX_EVENTS];
};

static uint64_t clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void wake_drain(struct loop *l, int fd, int mask, void *ctx)
{
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof(v));
	(void)r; /* EAGAIN: someone else drained it, fine */
}

struct loop *loop_new(void)
{
	struct loop *l = xcalloc(1, sizeof(*l));

	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		log_fatal("epoll_create1: %s", strerror(errno));
	l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->wakefd < 0)
		log_fatal("eventfd: %s", strerror(errno));
	l->now = clock_ms();
	if (loop_fd_add(l, l->wakefd, LOOP_READ, wake_drain, NULL) < 0)
		log_fatal("epoll_ctl: %s", strerror(errno));
	return l;
}

void loop_free(struct loop **lp)
{
	struct loop *l = *lp;
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->nheap; i++)
		free(l->heap[i]);
	free(l->heap);
	free(l->hooks);
	free(l->fds);
	close(l->wakefd);
	close(l->epfd);
	free(l);
	*lp = NULL;
}

/* --- fd events ------------------------------------------------------------ */

static uint32_t to_epoll(int mask)
{
	return ((mask & LOOP_READ) ? EPOLLIN : 0) | ((mask & LOOP_WRITE) ? EPOLLOUT : 0);
}

int loop_fd_add(struct loop *l, int fd, int mask, loop_fd_cb *cb, void *ctx)
{
	if (fd < 0)
		return -1;
	if ((size_t)fd >= l->nfds) {
		size_t n = l->nfds ? l->nfds : 64;
		while (n <= (size_t)fd)
			n *= 2;
		l->fds = xrealloc(l->fds, n * sizeof(*l->fds));
		for (size_t i = l->nfds; i < n; i++)
			l->fds[i] = (struct loop_fd){-1, NULL, NULL};
		l->nfds = n;
	}
	if (l->fds[fd].mask >= 0)
		log_panic("loop: fd %d added twice", fd);
	struct epoll_event ev = {.events = to_epoll(mask), .data.fd = fd};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -1;
	l->fds[fd] = (struct loop_fd){mask & (LOOP_READ | LOOP_WRITE), cb, ctx};
	return 0;
}

int loop_fd_mod(struct loop *l, int fd, int mask)
{
	if (fd < 0 || (size_t)fd >= l->nfds || l->fds[fd].mask < 0)
		log_panic("loop: fd %d modified but not registered", fd);
	mask &= LOOP_READ | LOOP_WRITE;
	if (l->fds[fd].mask == mask)
		return 0;
	struct epoll_event ev = {.events = to_epoll(mask), .data.fd = fd};
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -1;
	l->fds[fd].mask = mask;
	return 0;
}

void loop_fd_del(struct loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->nfds || l->fds[fd].mask < 0)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->fds[fd] = (struct loop_fd){-1, NULL, NULL};
}

/* --- timers: a binary min-heap ---------------------------------------------- */

static bool timer_before(const struct timer *a, const struct timer *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void heap_set(struct loop *l, size_t i, struct timer *t)
{
	l->heap[i] = t;
	t->idx = i;
}

static void heap_up(struct loop *l, size_t i)
{
	struct timer *t = l->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!timer_before(t, l->heap[parent]))
			break;
		heap_set(l, i, l->heap[parent]);
		i = parent;
	}
	heap_set(l, i, t);
}

static void heap_down(struct loop *l, size_t i)
{
	struct timer *t = l->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && timer_before(l->heap[c + 1], l->heap[c]))
			c++;
		if (!timer_before(l->heap[c], t))
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

static void heap_remove(struct loop *l, struct timer *t)
{
	size_t i = t->idx;
	struct timer *last = l->heap[--l->nheap];
	if (last == t)
		return;
	heap_set(l, i, last);
	if (i > 0 && timer_before(last, l->heap[(i - 1) / 2]))
		heap_up(l, i);
	else
		heap_down(l, i);
}

struct timer *loop_timer_add(struct loop *l, uint64_t ms, loop_timer_cb *cb, void *ctx)
{
	struct timer *t = xmalloc(sizeof(*t));

	*t = (struct timer){.when = l->now + ms, .seq = l->seq++, .cb = cb, .ctx = ctx};
	if (l->nheap == l->capheap) {
		l->capheap = l->capheap ? l->capheap * 2 : 64;
		l->heap = xrealloc(l->heap, l->capheap * sizeof(*l->heap));
	}
	l->heap[l->nheap] = t;
	t->idx = l->nheap++;
	heap_up(l, t->idx);
	return t;
}

void loop_timer_del(struct loop *l, struct timer **tp)
{
	struct timer *t = *tp;
	if (t == NULL)
		return;
	if (t->idx >= l->nheap || l->heap[t->idx] != t)
		log_panic("loop: deleting a timer that is not pending");
	heap_remove(l, t);
	free(t);
	*tp = NULL;
}

/* Fires the timers due now. Those created during this pass (seq >= first)
   have when >= now and sort after every older due timer, so stopping at the
   first of them leaves no older due timer behind. */
static void timers_run(struct loop *l)
{
	uint64_t first_new = l->seq;

	while (l->nheap > 0 && !l->stop) {
		struct timer *t = l->heap[0];
		if (t->when > l->now || t->seq >= first_new)
			break;
		loop_timer_cb *cb = t->cb;
		void *ctx = t->ctx;
		heap_remove(l, t);
		free(t);
		cb(l, ctx);
	}
}

/* --- hooks and the run loop ---------------------------------------------------- */

void loop_before_sleep(struct loop *l, loop_hook_cb *cb, void *ctx)
{
	if (l->nhooks == l->caphooks) {
		l->caphooks = l->caphooks ? l->caphooks * 2 : 4;
		l->hooks = xrealloc(l->hooks, l->caphooks * sizeof(*l->hooks));
	}
	l->hooks[l->nhooks++] = (struct loop_hook){cb, ctx};
}

void loop_before_sleep_del(struct loop *l, loop_hook_cb *cb, void *ctx)
{
	for (size_t i = 0; i < l->nhooks; i++) {
		if (l->hooks[i].cb == cb && l->hooks[i].ctx == ctx) {
			l->hooks[i].cb = NULL; /* we may be iterating the hooks */
			l->hooks_dirty = true;
			return;
		}
	}
}

static void hooks_run(struct loop *l)
{
	/* by index: a hook may add hooks (realloc) while we iterate */
	for (size_t i = 0; i < l->nhooks; i++)
		if (l->hooks[i].cb != NULL)
			l->hooks[i].cb(l, l->hooks[i].ctx);
	if (l->hooks_dirty) {
		size_t n = 0;
		for (size_t i = 0; i < l->nhooks; i++)
			if (l->hooks[i].cb != NULL)
				l->hooks[n++] = l->hooks[i];
		l->nhooks = n;
		l->hooks_dirty = false;
	}
}

void loop_skip_sleep(struct loop *l)
{
	l->skip_sleep = true;
}

void loop_wake(struct loop *l)
{
	uint64_t one = 1;
	ssize_t r = write(l->wakefd, &one, sizeof(one));
	(void)r; /* EAGAIN: the counter is already non-zero, a wake-up is due */
}

uint64_t loop_now_ms(const struct loop *l)
{
	return l->now;
}

static int wait_timeout(struct loop *l)
{
	if (l->skip_sleep)
		return 0;
	if (l->nheap == 0)
		return -1;
	uint64_t when = l->heap[0]->when;
	if (when <= l->now)
		return 0;
	uint64_t d = when - l->now;
	return d > 24 * 3600 * 1000 ? 24 * 3600 * 1000 : (int)d;
}

static void events_run(struct loop *l, int n)
{
	for (int i = 0; i < n && !l->stop; i++) {
		int fd = l->events[i].data.fd;
		uint32_t e = l->events[i].events;
		/* deleted by an earlier callback of this batch: skip it. A new
		   fd with the same number may get one spurious event; handlers
		   use non-blocking fds and treat EAGAIN as nothing. */
		if ((size_t)fd >= l->nfds || l->fds[fd].mask < 0)
			continue;
		struct loop_fd *f = &l->fds[fd];
		int mask = 0;
		if (e & EPOLLIN)
			mask |= LOOP_READ;
		if (e & EPOLLOUT)
			mask |= LOOP_WRITE;
		mask &= f->mask;
		if (e & (EPOLLERR | EPOLLHUP))
			mask |= LOOP_ERROR;
		if (mask != 0)
			f->cb(l, fd, mask, f->ctx);
	}
}

void loop_run(struct loop *l)
{
	while (!l->stop) {
		hooks_run(l);
		if (l->stop)
			break;
		int timeout = wait_timeout(l);
		l->skip_sleep = false;
		int n = epoll_wait(l->epfd, l->events, LOOP_MAX_EVENTS, timeout);
		if (n < 0 && errno != EINTR)
			log_panic("epoll_wait: %s", strerror(errno));
		l->now = clock_ms();
		if (n > 0)
			events_run(l, n);
		timers_run(l);
	}
	l->stop = false; /* the loop may be run again */
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}
