/* SPDX-License-Identifier: MIT */
/*
 * srs.h - the Sender Rewriting Scheme for forwarded mail, in the SRS0/SRS1
 * form of libsrs2 and postsrsd (Shevek's "SRS" paper), so that the original
 * sender's SPF still passes at the next hop and bounces find their way back.
 *
 *   forward  user@orig.example, forwarder domain fwd.test:
 *            SRS0=HHHH=TT=orig.example=user@fwd.test
 *   forward again an SRS0 address of another forwarder (hop.test):
 *            SRS1=HHHH=hop.test==HHHH=TT=orig.example=user@fwd.test
 *
 * HHHH: the first 4 characters of the base64 HMAC-SHA1 (key: the secret)
 * of the lower-cased TT, domain and local part (SRS0) or of the lower-cased
 * first-hop domain and the rest (SRS1); TT: days since the epoch modulo
 * 1024 in two base32 characters. A reversed address must carry a valid hash
 * (compared case-insensitively) and, for SRS0, a timestamp at most
 * SRS_MAX_AGE_DAYS old. Pure functions: no store, no clock of their own.
 */
#ifndef MAILROOM_DELIVERY_SRS_H
#define MAILROOM_DELIVERY_SRS_H

#include <stddef.h>
#include <stdint.h>

#define SRS_KEY_LEN 32
#define SRS_MAX_AGE_DAYS 21

/* Rewrites envelope sender `sender` for mail that a mailbox in `domain`
   forwards, at unix time `now`. Returns 0 with the address in out; 1 when
   nothing is to be rewritten (the null sender, or a sender already in
   `domain`: out is a copy of it); -1 when it does not fit in out_len or the
   sender is no address. */
int srs_forward(const unsigned char *key, size_t key_len, const char *sender, const char *domain,
		int64_t now, char *out, size_t out_len);

/* Reverses an address that arrived here: SRS0 gives the original sender,
   SRS1 the SRS0 address at the first forwarder. Returns 1 with the address
   in out; 0 when the local part is no SRS address; -1 when it is one but
   malformed, forged (bad hash) or too old. */
int srs_reverse(const unsigned char *key, size_t key_len, const char *address, int64_t now,
		char *out, size_t out_len);

/* DATA_DIR/srs.key: SRS_KEY_LEN random octets, made (mode 0600) when it is
   missing. Returns 0, or -1 with a text in err (what failed and where). */
int srs_key_load(const char *data_dir, unsigned char key[SRS_KEY_LEN], char *err, size_t err_len);

#endif
