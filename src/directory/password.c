/* SPDX-License-Identifier: MIT */
/*
 * password.c - crypt(3) hashes through libxcrypt and SCRAM-SHA-256 verifiers.
 *
 * Hashing is slow on purpose (yescrypt's default cost is about 10 ms here),
 * so every caller is a worker thread or the CLI. struct crypt_data is 32 KiB
 * and goes on the heap, not on a worker's stack.
 */
#include "directory/password.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/mem.h"

#include <crypt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SCRAM_SALT_LEN 16
#define SCRAM_ITER_MAX 1000000u

int password_hash(const char *password, char **hash_r)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *h;

	if (strlen(password) > PASSWORD_MAX)
		return -1;
	/* rbytes NULL: libxcrypt draws the salt from getrandom(2) */
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting, sizeof(setting)) == NULL)
		return -1;
	cd = xcalloc(1, sizeof(*cd));
	h = crypt_rn(password, setting, cd, sizeof(*cd));
	if (h == NULL || h[0] == '*') {
		secure_zero(cd, sizeof(*cd));
		free(cd);
		return -1;
	}
	*hash_r = xstrdup(h);
	secure_zero(cd, sizeof(*cd));
	free(cd);
	return 0;
}

static bool crypt_verify(const char *password, const char *stored)
{
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *h = crypt_rn(password, stored, cd, sizeof(*cd));
	bool ok = false;

	/* crypt_rn returns NULL or a "*..." failure token on bad settings */
	if (h != NULL && h[0] != '*') {
		size_t hl = strlen(h), sl = strlen(stored);
		ok = hl == sl && mem_equal_ct(h, stored, hl);
	}
	secure_zero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

/* Schemes that are crypt(3) strings; the hash prefix picks the algorithm. */
static const char *const crypt_schemes[] = {
	"CRYPT", "YESCRYPT", "SHA512-CRYPT", "SHA256-CRYPT", "BLF-CRYPT", "MD5-CRYPT",
};

bool password_verify(const char *password, const char *stored)
{
	if (password == NULL || stored == NULL || strlen(password) > PASSWORD_MAX)
		return false;
	if (stored[0] != '{')
		return stored[0] == '$' && crypt_verify(password, stored);

	const char *end = strchr(stored, '}');
	if (end == NULL)
		return false;
	size_t sl = (size_t)(end - stored - 1);
	const char *rest = end + 1;

	if (sl == 5 && strncasecmp(stored + 1, "PLAIN", 5) == 0) {
		size_t pl = strlen(password), rl = strlen(rest);
		/* compare over the stored length so timing leaks only that */
		return pl == rl && mem_equal_ct(password, rest, rl);
	}
	for (size_t i = 0; i < N_ELEMENTS(crypt_schemes); i++)
		if (strlen(crypt_schemes[i]) == sl &&
		    strncasecmp(stored + 1, crypt_schemes[i], sl) == 0)
			return rest[0] == '$' && crypt_verify(password, rest);
	return false;
}

static void hmac256(const unsigned char *key, size_t key_len, const char *data,
		    unsigned char out[32])
{
	unsigned len = 32;
	HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)data, strlen(data), out,
	     &len);
}

int scram_verifier_make(const char *password, unsigned iterations, char **verifier_r)
{
	unsigned char salt[SCRAM_SALT_LEN], salted[32], client_key[32], stored_key[32],
		server_key[32];
	struct buf b = {0};

	if (strlen(password) > PASSWORD_MAX || iterations == 0 || iterations > SCRAM_ITER_MAX)
		return -1;
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return -1;
	/* RFC 5802 §3: SaltedPassword := Hi(Normalize(password), salt, i).
	   Passwords are used as given (UTF-8); SASLprep is not applied. */
	if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sizeof(salt),
			      (int)iterations, EVP_sha256(), sizeof(salted), salted) != 1)
		return -1;
	hmac256(salted, sizeof(salted), "Client Key", client_key);
	SHA256(client_key, sizeof(client_key), stored_key);
	hmac256(salted, sizeof(salted), "Server Key", server_key);

	buf_printf(&b, "SCRAM-SHA-256$%u:", iterations);
	base64_encode(&b, salt, sizeof(salt));
	buf_append_c(&b, '$');
	base64_encode(&b, stored_key, sizeof(stored_key));
	buf_append_c(&b, ':');
	base64_encode(&b, server_key, sizeof(server_key));
	buf_append_c(&b, '\0');
	*verifier_r = b.data;

	secure_zero(salted, sizeof(salted));
	secure_zero(client_key, sizeof(client_key));
	return 0;
}

/* Decodes text[0..len) into exactly `want` bytes (or up to max if want == 0). */
static int decode_into(const char *text, size_t len, unsigned char *out, size_t want,
		       size_t max, size_t *got_r)
{
	struct buf b = {0};
	int rc = -1;

	if (len == 0 || base64_decode(&b, text, len) < 0)
		goto out;
	if ((want != 0 && b.len != want) || b.len > max || b.len == 0)
		goto out;
	memcpy(out, b.data, b.len);
	if (got_r != NULL)
		*got_r = b.len;
	rc = 0;
out:
	buf_free_secret(&b);
	return rc;
}

int scram_verifier_parse(const char *verifier, unsigned *iter_r, unsigned char *salt,
			 size_t *salt_len_r, size_t salt_max, unsigned char stored_key[32],
			 unsigned char server_key[32])
{
	static const char prefix[] = "SCRAM-SHA-256$";
	const char *p, *colon, *dollar, *colon2;
	unsigned long iter = 0;

	if (verifier == NULL || strncmp(verifier, prefix, sizeof(prefix) - 1) != 0)
		return -1;
	p = verifier + sizeof(prefix) - 1;
	colon = strchr(p, ':');
	if (colon == NULL || colon == p || colon - p > 7)
		return -1;
	for (const char *q = p; q < colon; q++) {
		if (*q < '0' || *q > '9')
			return -1;
		iter = iter * 10 + (unsigned long)(*q - '0');
	}
	if (iter == 0 || iter > SCRAM_ITER_MAX)
		return -1;
	dollar = strchr(colon + 1, '$');
	if (dollar == NULL)
		return -1;
	colon2 = strchr(dollar + 1, ':');
	if (colon2 == NULL)
		return -1;
	if (decode_into(colon + 1, (size_t)(dollar - colon - 1), salt, 0, salt_max,
			salt_len_r) < 0 ||
	    decode_into(dollar + 1, (size_t)(colon2 - dollar - 1), stored_key, 32, 32, NULL) < 0 ||
	    decode_into(colon2 + 1, strlen(colon2 + 1), server_key, 32, 32, NULL) < 0)
		return -1;
	*iter_r = (unsigned)iter;
	return 0;
}
