/* SPDX-License-Identifier: MIT */
/*
 * cli_dkim.c - `mailroom dkim generate|rotate|list|remove`: the DKIM
 * signing keys of the hosted domains (store.h "DKIM signing keys",
 * filter/dkim.h) and the DNS TXT record each one needs. The store may be
 * in use by `serve`: its delivery threads notice a change at their next
 * signed message (docs/admin.md "DKIM signing").
 */
#include "cli/cli_private.h"
#include "filter/dkim.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: mailroom [-c FILE] dkim generate DOMAIN [--selector S] [--algorithm rsa|ed25519]\n"
    "                                  [--bits N]\n"
    "       mailroom [-c FILE] dkim rotate DOMAIN [--selector NEW] [--algorithm rsa|ed25519]\n"
    "                                  [--bits N]\n"
    "       mailroom [-c FILE] dkim list [DOMAIN] [--json]\n"
    "       mailroom [-c FILE] dkim remove DOMAIN [--selector S]\n"
    "\n"
    "Keys that sign the mail of a hosted domain that originates here (submission\n"
    "with a login, `mailroom deliver`, mailroom's own reports), picked by the\n"
    "domain of the From: field. generate makes a domain's first key of an\n"
    "algorithm (rsa: --bits 2048 to 4096, 2048 by default; ed25519) and prints\n"
    "the TXT record to publish, as a zone-file line. The selector is mrYYYYMM\n"
    "(mrYYYYMMe for ed25519) unless given, with -2, -3... when that one is taken.\n"
    "A domain may hold one active key of each algorithm: with both, its mail is\n"
    "signed twice. rotate makes a new active key of the algorithm of the active\n"
    "one (--algorithm chooses when there are two) and turns the old one retiring:\n"
    "it signs no more, but its TXT record must stay published until the mail it\n"
    "signed has arrived; then `dkim remove DOMAIN --selector OLD`. remove without\n"
    "--selector removes every key of the domain. list --json gives each key's TXT\n"
    "record. The private keys are in the store (and so in its backups).\n";

enum { O_SELECTOR, O_ALG, O_BITS, O_JSON, O_N };

/* `S._domainkey.D. IN TXT ( "v=DKIM1; k=rsa; " "p=..." ... )`: the text
   cut into character-strings of at most 255 octets (RFC 1035 §3.3). */
static void zone_line(struct buf *out, const char *domain, const char *selector, const char *txt)
{
	const char *p = strstr(txt, "p=");
	size_t head = p != NULL ? (size_t)(p - txt) : 0, len = strlen(txt);

	buf_printf(out, "%s._domainkey.%s. IN TXT (", selector, domain);
	if (head > 0)
		buf_printf(out, " \"%.*s\"", (int)head, txt);
	for (size_t off = head; off < len; off += 255) {
		size_t n = len - off < 255 ? len - off : 255;
		buf_printf(out, " \"%.*s\"", (int)n, txt + off);
	}
	buf_append_str(out, " )");
}

static char *key_txt(const struct store_dkim_key *k)
{
	char err[160];
	struct dkim_key *dk =
	    dkim_key_new(k->domain, k->selector, k->private_pem, err, sizeof(err));
	if (dk == NULL)
		return NULL;
	char *txt = dkim_key_txt(dk);
	dkim_key_free(&dk);
	return txt;
}

static void print_key(const struct store_dkim_key *k, void *p)
{
	struct cli_list *lc = p;
	char created[32];
	time_t t = (time_t)k->created;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cli_list_item(lc);
	if (!lc->json) {
		printf("%-30s %-20s %-9s %-5u %-9s %s\n", k->domain, k->selector, k->algorithm,
		       k->bits, store_dkim_state_name(k->state), created);
		return;
	}
	char *txt = key_txt(k);
	fputs("{\"domain\":", stdout);
	cli_json_str(stdout, k->domain);
	fputs(",\"selector\":", stdout);
	cli_json_str(stdout, k->selector);
	printf(",\"algorithm\":\"%s\",\"bits\":%u,\"state\":\"%s\",\"created\":\"%s\",\"name\":",
	       k->algorithm, k->bits, store_dkim_state_name(k->state), created);
	struct buf name = {0}, zone = {0};
	buf_printf(&name, "%s._domainkey.%s", k->selector, k->domain);
	cli_json_str(stdout, name.data);
	fputs(",\"txt\":", stdout);
	if (txt != NULL) {
		cli_json_str(stdout, txt);
		zone_line(&zone, k->domain, k->selector, txt);
		fputs(",\"record\":", stdout);
		cli_json_str(stdout, zone.data);
	} else {
		fputs("null,\"record\":null", stdout);
	}
	fputs("}", stdout);
	buf_free(&name);
	buf_free(&zone);
	free(txt);
}

/* What the domain holds now, for the checks before a key is made. */
struct held {
	const char *alg; /* the algorithm asked for, or NULL */
	char active_rsa[64], active_ed[64];
	unsigned rsa_bits;
	char **selectors;
	size_t n;
};

static void held_cb(const struct store_dkim_key *k, void *p)
{
	struct held *h = p;
	h->selectors = xrealloc(h->selectors, (h->n + 1) * sizeof(*h->selectors));
	h->selectors[h->n++] = xstrdup(k->selector);
	if (k->state != STORE_DKIM_ACTIVE)
		return;
	if (strcmp(k->algorithm, "rsa") == 0) {
		snprintf(h->active_rsa, sizeof(h->active_rsa), "%s", k->selector);
		h->rsa_bits = k->bits;
	} else {
		snprintf(h->active_ed, sizeof(h->active_ed), "%s", k->selector);
	}
}

static bool held_has(const struct held *h, const char *sel)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->selectors[i], sel) == 0)
			return true;
	return false;
}

static void held_free(struct held *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->selectors[i]);
	free(h->selectors);
}

/* mrYYYYMM[e], then -2 ... -99 while taken */
static void default_selector(const struct held *h, bool ed, char *out, size_t len)
{
	char base[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(base, sizeof(base), "mr%Y%m", &tm);
	snprintf(out, len, "%s%s", base, ed ? "e" : "");
	for (unsigned i = 2; held_has(h, out) && i < 100; i++)
		snprintf(out, len, "%s%s-%u", base, ed ? "e" : "", i);
}

/* A hosted domain that is no alias: 0, or the exit code after saying why. */
static int check_domain(struct store *st, const char *verb, const char *domain)
{
	struct store_domain d;
	int r = store_domain_get(st, domain, &d);
	if (r == STORE_NOTFOUND) {
		cli_err("dkim %s: %s is not a hosted domain (domain list shows them)", verb,
			domain);
		return EX_NOUSER;
	}
	if (r != STORE_OK)
		return cli_store_fail(st, r);
	bool alias = d.alias_of != NULL;
	if (alias)
		cli_err("dkim %s: %s is a domain alias of %s: give %s (its mail is signed for it)",
			verb, domain, d.alias_of, d.alias_of);
	store_domain_clear(&d);
	return alias ? EX_DATAERR : 0;
}

static int make_key(struct cli_opt *o, struct store *st, const char *domain, bool rotate)
{
	const char *verb = rotate ? "rotate" : "generate";
	struct held h = {0};
	int r = check_domain(st, verb, domain);
	if (r != 0)
		return r;
	if ((r = store_dkim_list(st, domain, held_cb, &h)) != STORE_OK) {
		held_free(&h);
		return cli_store_fail(st, r);
	}
	const char *alg = o[O_ALG].set ? o[O_ALG].value : NULL;
	if (rotate && alg == NULL) {
		if (h.active_rsa[0] != '\0' && h.active_ed[0] != '\0') {
			cli_err("dkim rotate: %s has an active rsa and an active ed25519 key: give "
				"--algorithm",
				domain);
			held_free(&h);
			return EX_USAGE;
		}
		alg = h.active_ed[0] != '\0' ? "ed25519" : "rsa";
	}
	if (alg == NULL)
		alg = "rsa";
	bool ed = strcmp(alg, "ed25519") == 0;
	const char *active = ed ? h.active_ed : h.active_rsa;
	unsigned bits = rotate && !ed && h.rsa_bits >= 2048 ? h.rsa_bits : 2048;
	r = 0;
	if (!ed && strcmp(alg, "rsa") != 0) {
		cli_err("dkim %s: --algorithm '%s' is unknown: use rsa or ed25519", verb, alg);
		r = EX_USAGE;
	} else if (o[O_BITS].set) {
		char *end;
		long b = strtol(o[O_BITS].value, &end, 10);
		if (ed) {
			cli_err("dkim %s: --bits goes with rsa (an ed25519 key has 256)", verb);
			r = EX_USAGE;
		} else if (*end != '\0' || b < 2048 || b > 4096) {
			cli_err("dkim %s: --bits '%s': give 2048 to 4096", verb, o[O_BITS].value);
			r = EX_USAGE;
		} else {
			bits = (unsigned)b;
		}
	}
	if (r == 0 && !rotate && active[0] != '\0') {
		cli_err("dkim generate: %s already has an active %s key (selector %s): use dkim "
			"rotate %s%s",
			domain, alg, active, domain, ed ? " --algorithm ed25519" : "");
		r = EX_DATAERR;
	} else if (r == 0 && rotate && active[0] == '\0') {
		cli_err("dkim rotate: %s has no active %s key to rotate: dkim generate %s%s makes "
			"one",
			domain, alg, domain, ed ? " --algorithm ed25519" : "");
		r = EX_NOUSER;
	}
	char sel[80];
	if (o[O_SELECTOR].set)
		snprintf(sel, sizeof(sel), "%s", o[O_SELECTOR].value);
	else
		default_selector(&h, ed, sel, sizeof(sel));
	if (r == 0 && store_dkim_selector_valid(sel) < 0) { /* a longer one was cut: > 63 */
		cli_err("dkim %s: '%s' is not a selector: 1 to 63 letters, digits and '-', labels "
			"separated by '.'",
			verb, sel);
		r = EX_USAGE;
	}
	for (char *p = sel; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (r == 0 && held_has(&h, sel)) {
		cli_err("dkim %s: %s already has a key with selector %s (dkim list %s shows them)",
			verb, domain, sel, domain);
		r = EX_DATAERR;
	}
	held_free(&h);
	if (r != 0)
		return r;
	struct dkim_key *dk = dkim_key_generate(
	    domain, sel, ed ? DKIM_ALG_ED25519_SHA256 : DKIM_ALG_RSA_SHA256, bits);
	if (dk == NULL) {
		cli_err("dkim %s: the key could not be made (OpenSSL)", verb);
		return EX_SOFTWARE;
	}
	char *domain_lc = store_norm_domain(domain);
	struct store_dkim_key k = {
	    .domain = domain_lc != NULL ? domain_lc : xstrdup(domain),
	    .selector = sel,
	    .algorithm = (char *)alg,
	    .bits = dkim_key_bits(dk),
	    .private_pem = dkim_key_private_pem(dk),
	    .state = STORE_DKIM_ACTIVE,
	};
	char *txt = dkim_key_txt(dk), *old = NULL;
	dkim_key_free(&dk);
	if (txt == NULL || k.private_pem == NULL) {
		cli_err("dkim %s: the key could not be written out (OpenSSL)", verb);
		free(txt);
		free(k.domain);
		secret_free(&k.private_pem);
		return EX_SOFTWARE;
	}
	r = rotate ? store_dkim_rotate(st, &k, &old) : store_dkim_add(st, &k);
	if (r == STORE_OK) {
		struct buf z = {0};
		zone_line(&z, k.domain, sel, txt);
		printf("%s\n", z.data);
		buf_free(&z);
		if (rotate)
			printf("; %s now signs the %s mail of %s; %s retires: keep its TXT record "
			       "published for a week or so, then: dkim remove %s --selector %s\n",
			       sel, alg, k.domain, old, k.domain, old);
		else
			printf("; publish this record in the zone of %s: %s signs its %s mail\n",
			       k.domain, sel, alg);
	}
	free(old);
	free(txt);
	free(k.domain);
	secret_free(&k.private_pem);
	return r == STORE_OK ? 0 : cli_store_fail(st, r);
}

int cli_dkim(struct cli *c, int argc, char **argv)
{
	struct cli_opt o[O_N] = {
	    [O_SELECTOR] = {.name = "selector", .has_arg = true},
	    [O_ALG] = {.name = "algorithm", .has_arg = true},
	    [O_BITS] = {.name = "bits", .has_arg = true},
	    [O_JSON] = {.name = "json"},
	};
	const char *pos[2];
	size_t np;
	bool done;
	struct store *st = NULL;
	int rc = cli_parse("dkim", usage, "give an action: generate, rotate, list or remove", argc,
			   argv, o, O_N, pos, 1, 2, &np, &done);

	if (rc != 0 || done)
		return rc;
	const char *sub = pos[0];
	bool is_gen = strcmp(sub, "generate") == 0, is_rot = strcmp(sub, "rotate") == 0,
	     is_rm = strcmp(sub, "remove") == 0, is_list = strcmp(sub, "list") == 0;
	if (!is_gen && !is_rot && !is_rm && !is_list) {
		cli_err("dkim: unknown action '%s': use generate, rotate, list or remove", sub);
		return EX_USAGE;
	}
	if (!is_list && np != 2) {
		cli_err("dkim %s takes one DOMAIN, as in: dkim %s example.org", sub, sub);
		return EX_USAGE;
	}
	if (o[O_JSON].set && !is_list) {
		cli_err("dkim %s: --json goes with dkim list", sub);
		return EX_USAGE;
	}
	if ((o[O_ALG].set || o[O_BITS].set) && (is_list || is_rm)) {
		cli_err("dkim %s: --algorithm and --bits go with generate and rotate", sub);
		return EX_USAGE;
	}
	if (o[O_SELECTOR].set && is_list) {
		cli_err("dkim list: --selector goes with generate, rotate and remove");
		return EX_USAGE;
	}
	if ((rc = cli_store_open(c, false, &st)) != 0)
		return rc;
	if (is_gen || is_rot) {
		rc = make_key(o, st, pos[1], is_rot);
	} else if (is_rm) {
		const char *sel = o[O_SELECTOR].set ? o[O_SELECTOR].value : NULL;
		rc = store_dkim_remove(st, pos[1], sel);
		if (rc == STORE_OK) {
			if (sel != NULL)
				printf("dkim key %s of %s removed: its TXT record %s._domainkey.%s "
				       "may go from the zone\n",
				       sel, pos[1], sel, pos[1]);
			else
				printf("every dkim key of %s removed: its mail is no longer "
				       "signed\n",
				       pos[1]);
		}
		rc = rc == STORE_OK ? 0 : cli_store_fail(st, rc);
	} else {
		struct cli_list lc;
		if (np == 2 && (rc = check_domain(st, "list", pos[1])) != 0) {
			store_close(&st);
			return rc;
		}
		cli_list_begin(&lc, o[O_JSON].set,
			       "DOMAIN                         SELECTOR             ALGORITHM "
			       "BITS  STATE     CREATED");
		rc = store_dkim_list(st, np == 2 ? pos[1] : NULL, print_key, &lc);
		rc = cli_list_end(&lc, st, rc, "no DKIM keys: mail is sent unsigned");
	}
	store_close(&st);
	return rc;
}
