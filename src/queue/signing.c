/* SPDX-License-Identifier: MIT */
/* signing.c - see signing.h. */
#include "queue/signing.h"
#include "filter/dkim.h"
#include "filter/dmarc.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct signing_key {
	char *domain;
	struct dkim_key *key;
};

struct signing {
	bool loaded;
	int64_t changes; /* store_dkim_changes() when the keys were read */
	struct signing_key *k;
	size_t n;
};

struct signing *signing_new(void)
{
	return xcalloc(1, sizeof(struct signing));
}

static void drop_keys(struct signing *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->k[i].domain);
		dkim_key_free(&s->k[i].key);
	}
	free(s->k);
	s->k = NULL;
	s->n = 0;
}

void signing_free(struct signing **sp)
{
	if (*sp == NULL)
		return;
	drop_keys(*sp);
	free(*sp);
	*sp = NULL;
}

static void load_cb(const struct store_dkim_key *k, void *p)
{
	struct signing *s = p;
	char err[160];

	if (k->state != STORE_DKIM_ACTIVE)
		return;
	struct dkim_key *dk =
	    dkim_key_new(k->domain, k->selector, k->private_pem, err, sizeof(err));
	if (dk == NULL) {
		log_warn("dkim: the key %s of %s cannot be used: %s (its mail goes unsigned)",
			 k->selector, k->domain, err);
		return;
	}
	s->k = xrealloc(s->k, (s->n + 1) * sizeof(*s->k));
	s->k[s->n++] = (struct signing_key){.domain = xstrdup(k->domain), .key = dk};
}

/* Reads the keys again when the store says they changed. */
static void refresh(struct signing *s, struct store *st)
{
	int64_t n;
	if (store_dkim_changes(st, &n) != STORE_OK) {
		log_warn("dkim: cannot read the signing keys' state: %s (the keys read before "
			 "are used)",
			 store_error(st));
		return;
	}
	if (s->loaded && n == s->changes)
		return;
	drop_keys(s);
	if (store_dkim_list(st, NULL, load_cb, s) != STORE_OK) {
		log_warn("dkim: cannot read the signing keys: %s (mail goes unsigned until they "
			 "can be)",
			 store_error(st));
		drop_keys(s);
		s->loaded = false;
		return;
	}
	s->loaded = true;
	s->changes = n;
}

size_t signing_keys(struct signing *s, struct store *st, const char *msg, size_t len,
		    struct dkim_key **keys)
{
	char domain[256];
	size_t n = 0;

	refresh(s, st);
	if (s->n == 0 || dmarc_from_domain(msg, len, domain, sizeof(domain)) < 0)
		return 0;
	for (size_t i = 0; i < s->n && n < SIGNING_KEYS_MAX; i++)
		if (strcmp(s->k[i].domain, domain) == 0)
			keys[n++] = s->k[i].key;
	return n;
}
