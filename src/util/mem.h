/* SPDX-License-Identifier: MIT */
/*
 * mem.h - allocation that never returns NULL, and wiping of secrets.
 *
 * xmalloc and friends abort the process on out-of-memory (like Postfix
 * mymalloc): a mail server that limps on after a failed malloc loses mail.
 * Callers check every protocol limit *before* allocating, so an attacker
 * cannot drive us into that abort. secure_zero() is for passwords and keys and
 * is never optimised away.
 *
 * Error convention (the whole tree): functions return 0 on success and -1 on
 * error with `const char **err_r` or an error enum; incremental parsers return
 * 1 = done, 0 = need more input, -1 = error.
 */
#ifndef MAILROOM_UTIL_MEM_H
#define MAILROOM_UTIL_MEM_H

#include <stddef.h>

#define ATTR_FORMAT(fmt, args) __attribute__((format(printf, fmt, args)))
#define ATTR_NORETURN __attribute__((noreturn))
#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a malloc'd string; the caller frees it. */
char *xasprintf(const char *fmt, ...) ATTR_FORMAT(1, 2);
/* Zero n bytes at p in a way the compiler may not elide. */
void secure_zero(void *p, size_t n);
/* Zero then free a NUL-terminated secret; accepts NULL and sets *s = NULL. */
void secret_free(char **s);
/* Constant-time comparison; returns 1 if equal. Lengths are not secret. */
int mem_equal_ct(const void *a, const void *b, size_t n);

#endif
