/* SPDX-License-Identifier: MIT */
/*
 * dkim_private.h - what the DKIM files share and nobody else sees: the
 * crypto calls (OpenSSL's EVP stays inside filter/dkim_*.c) and the body
 * hash.
 */
#ifndef MAILROOM_FILTER_DKIM_PRIVATE_H
#define MAILROOM_FILTER_DKIM_PRIVATE_H

#include "filter/dkim.h"

#include <openssl/evp.h>

/* Appends the signature of the header data; 0 or -1. */
int dkim_crypto_sign(EVP_PKEY *pkey, enum dkim_alg alg, const char *data, size_t len,
		     struct buf *sig);
/* SHA-256 of the canonical body, cut at l= if has_l; -1 if l= is longer
   than the canonical body. */
int dkim_body_hash(enum dkim_canon c, const char *body, size_t len, bool has_l, uint64_t l,
		   unsigned char out[32]);

#endif
