/* SPDX-License-Identifier: MIT */
/*
 * loop.h - the event loop (Redis ae.c in spirit): fd events, timers, and
 * before-sleep hooks, on epoll. One loop runs on one thread; every function
 * here must be called from that thread, except loop_wake() which any thread
 * may call (it writes to an eventfd).
 *
 * Timers are one-shot; re-arm from the callback if needed. A callback may
 * delete any fd or timer, including its own.
 */
#ifndef MAILROOM_NET_LOOP_H
#define MAILROOM_NET_LOOP_H

#include <stdint.h>

#define LOOP_READ 1
#define LOOP_WRITE 2
/* Only ever passed to a callback, never registered: the kernel reported an
   error or hang-up (EPOLLERR/EPOLLHUP) even if nothing was asked for. */
#define LOOP_ERROR 4

struct loop;
struct timer;

typedef void loop_fd_cb(struct loop *l, int fd, int mask, void *ctx);
typedef void loop_timer_cb(struct loop *l, void *ctx);
typedef void loop_hook_cb(struct loop *l, void *ctx);

struct loop *loop_new(void);
void loop_free(struct loop **l);

int loop_fd_add(struct loop *l, int fd, int mask, loop_fd_cb *cb, void *ctx);
int loop_fd_mod(struct loop *l, int fd, int mask);
void loop_fd_del(struct loop *l, int fd);

struct timer *loop_timer_add(struct loop *l, uint64_t ms, loop_timer_cb *cb, void *ctx);
/* Cancels a pending timer; accepts *t == NULL; sets *t = NULL. */
void loop_timer_del(struct loop *l, struct timer **t);

/* Called before each epoll_wait (drain TLS pending data, group commit). */
void loop_before_sleep(struct loop *l, loop_hook_cb *cb, void *ctx);

uint64_t loop_now_ms(const struct loop *l);
void loop_run(struct loop *l);
void loop_stop(struct loop *l);

/* Removes a hook added with loop_before_sleep() (same cb and ctx). */
void loop_before_sleep_del(struct loop *l, loop_hook_cb *cb, void *ctx);
/* The next epoll_wait returns at once: a hook left work it will finish in
   the next iteration (e.g. TLS bytes decrypted but not yet consumed). */
void loop_skip_sleep(struct loop *l);
/* Interrupts epoll_wait from any thread. */
void loop_wake(struct loop *l);

#endif
