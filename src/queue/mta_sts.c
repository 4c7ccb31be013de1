/* SPDX-License-Identifier: MIT */
/*
 * mta_sts.c - see mta_sts.h: the look-up of a domain's policy on a
 * delivery thread, its fetch over HTTPS (libcurl) and its two caches.
 *
 * The fetch (RFC 8461 §3.3): https://mta-sts.<domain>/.well-known/
 * mta-sts.txt, HTTPS alone, the certificate PKIX-verified for the policy
 * host ([delivery] ca_file, else the system's CAs), no redirects, no
 * proxies, at most MTA_STS_BODY_MAX octets, status 200 and Content-Type
 * text/plain, within mta_sts_connect_timeout and mta_sts_timeout. The
 * policy host is resolved here through dns_addrs() (the [delivery]
 * resolver, like every other name) and handed to curl with CURLOPT_RESOLVE,
 * so curl never asks a resolver of its own; mta_sts_port replaces 443 for
 * tests and labs.
 *
 * The caches: an array in memory shared by the delivery threads (under a
 * mutex, at most CACHE_MAX domains, the oldest fetch making room; beside
 * it the fetches that failed, not tried again for FAILED_PAUSE), and one
 * file a domain under <data_dir>/mta-sts/ (mta_sts_cache_write's form,
 * written to a temporary name, fsynced, renamed, the folder fsynced), read
 * when the memory has nothing, so a restart keeps the policies.
 */
#include "queue/mta_sts.h"
#include "queue/queue.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CACHE_MAX 1024
#define FAILED_MAX 256
#define FAILED_PAUSE 300 /* seconds without a new fetch after one failed */
#define TXT_MAX 8	 /* records read at _mta-sts.<domain> */
#define FILE_MAX (16 * 1024)

struct entry {
	char domain[256];
	struct mta_sts_policy p;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *cache;
static size_t n_cache;

/* Fetches that failed, by domain and TXT id: not tried again for
   FAILED_PAUSE, so a broken policy server does not cost every retry a
   fetch of up to mta_sts_timeout. */
struct failed {
	char domain[256];
	char id[MTA_STS_ID_MAX + 1];
	int64_t until;
};
static struct failed failed[FAILED_MAX];

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The domain in lower case, when it is a host name that may have a
   policy and a cache file: letters, digits, '-' and '.', no empty label. */
static bool domain_name(const char *domain, char out[256])
{
	size_t len = strlen(domain);

	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0 || len > 253 || domain[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = domain[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c + 32);
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		      (c == '.' && out[i - 1] != '.')))
			return false;
		out[i] = c;
	}
	out[len] = '\0';
	return out[len - 1] != '.';
}

/* --- memory ------------------------------------------------------------------ */

static bool mem_get(const char *domain, struct mta_sts_policy *out)
{
	bool found = false;

	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < n_cache && !found; i++)
		if (strcmp(cache[i].domain, domain) == 0) {
			*out = cache[i].p;
			found = true;
		}
	pthread_mutex_unlock(&cache_lock);
	return found;
}

static void mem_put(const char *domain, const struct mta_sts_policy *p)
{
	size_t at = n_cache;

	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < n_cache; i++)
		if (strcmp(cache[i].domain, domain) == 0)
			at = i;
	if (at == n_cache && n_cache == CACHE_MAX) { /* the oldest fetch makes room */
		at = 0;
		for (size_t i = 1; i < n_cache; i++)
			if (cache[i].p.fetched < cache[at].p.fetched)
				at = i;
	} else if (at == n_cache) {
		if (cache == NULL)
			cache = xcalloc(CACHE_MAX, sizeof(*cache));
		n_cache++;
	}
	snprintf(cache[at].domain, sizeof(cache[at].domain), "%s", domain);
	cache[at].p = *p;
	pthread_mutex_unlock(&cache_lock);
}

static bool failed_recently(const char *domain, const char *id, int64_t now)
{
	bool found = false;

	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < FAILED_MAX && !found; i++)
		found = failed[i].until > now && strcmp(failed[i].domain, domain) == 0 &&
			strcmp(failed[i].id, id) == 0;
	pthread_mutex_unlock(&cache_lock);
	return found;
}

static void failed_put(const char *domain, const char *id, int64_t now)
{
	size_t at = 0;

	pthread_mutex_lock(&cache_lock);
	for (size_t i = 1; i < FAILED_MAX; i++) /* the one ending first makes room */
		if (failed[i].until < failed[at].until)
			at = i;
	snprintf(failed[at].domain, sizeof(failed[at].domain), "%s", domain);
	snprintf(failed[at].id, sizeof(failed[at].id), "%s", id);
	failed[at].until = now + FAILED_PAUSE;
	pthread_mutex_unlock(&cache_lock);
}

/* --- disk -------------------------------------------------------------------- */

static char *cache_dir(const struct config *cfg)
{
	return xasprintf("%s/mta-sts", cfg->data_dir);
}

static bool disk_get(const struct config *cfg, const char *domain, struct mta_sts_policy *out)
{
	char *dir = cache_dir(cfg), *path = xasprintf("%s/%s", dir, domain);
	char *text = xmalloc(FILE_MAX);
	ssize_t n = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd >= 0) {
		size_t len = 0;
		ssize_t r;
		while (len < FILE_MAX && (r = read(fd, text + len, FILE_MAX - len)) > 0)
			len += (size_t)r;
		n = len < FILE_MAX ? (ssize_t)len : -1;
		close(fd);
	}
	bool ok = n > 0 && mta_sts_cache_read(text, (size_t)n, out);
	if (fd >= 0 && !ok)
		log_warn("mta-sts domain=%s: the cached policy in %s is unreadable; ignored",
			 domain, path);
	free(text);
	free(path);
	free(dir);
	return ok;
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static void disk_put(const struct config *cfg, const char *domain, const struct mta_sts_policy *p)
{
	char *dir = cache_dir(cfg), *path = xasprintf("%s/%s", dir, domain);
	char *tmp =
	    xasprintf("%s/.%s.%ld.%lx", dir, domain, (long)getpid(), (unsigned long)pthread_self());
	char *text = xmalloc(FILE_MAX);
	size_t len = mta_sts_cache_write(p, text, FILE_MAX);
	bool ok = false;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_warn("mta-sts: cannot make %s: %s", dir, strerror(errno));
		goto out;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		ok = len > 0 && write_all(fd, text, len) && fsync(fd) == 0;
		ok = close(fd) == 0 && ok;
		ok = ok && rename(tmp, path) == 0;
	}
	if (!ok) {
		log_warn("mta-sts domain=%s: cannot write the cached policy %s: %s", domain, path,
			 strerror(errno));
		unlink(tmp);
		goto out;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	free(text);
	free(tmp);
	free(path);
	free(dir);
}

static bool cache_get(const struct config *cfg, const char *domain, struct mta_sts_policy *out)
{
	if (mem_get(domain, out))
		return true;
	if (!disk_get(cfg, domain, out))
		return false;
	mem_put(domain, out);
	return true;
}

bool mta_sts_cached(const struct config *cfg, const char *domain, struct mta_sts_policy *out)
{
	char name[256];
	return domain_name(domain, name) && cache_get(cfg, name, out);
}

/* --- the fetch --------------------------------------------------------------- */

struct body {
	char *data;
	size_t len;
	bool over;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;

	if (n > MTA_STS_BODY_MAX - b->len) {
		b->over = true;
		return 0; /* curl ends the transfer */
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	return n;
}

static bool text_plain(const char *ct)
{
	return ct != NULL && strncasecmp(ct, "text/plain", 10) == 0 &&
	       (ct[10] == '\0' || ct[10] == ';' || ct[10] == ' ' || ct[10] == '\t');
}

/* The policy of domain over HTTPS into *p; false with why. */
static bool fetch(const struct delivery_config *dc, const char *domain, struct mta_sts_policy *p,
		  char *why, size_t why_len)
{
	char host[300], resolve[400], url[400], err[CURL_ERROR_SIZE], ptext[100];
	struct dns_addr addrs[4];
	size_t n_addrs = 0;
	struct body b = {.data = xmalloc(MTA_STS_BODY_MAX)};
	bool ok = false;

	snprintf(host, sizeof(host), "mta-sts.%s", domain);
	enum dns_status d = dns_addrs(dc->resolver, host, addrs, 4, &n_addrs);
	if (d != DNS_OK || n_addrs == 0) {
		snprintf(why, why_len, "cannot resolve %s%s", host,
			 d == DNS_TEMP ? " (temporary DNS failure)" : "");
		free(b.data);
		return false;
	}
	int k = snprintf(resolve, sizeof(resolve), "%s:%u:", host, dc->mta_sts_port);
	for (size_t i = 0; i < n_addrs && k > 0 && (size_t)k < sizeof(resolve); i++) {
		char ip[64];
		dns_addr_text(&addrs[i], ip, sizeof(ip));
		k +=
		    snprintf(resolve + k, sizeof(resolve) - (size_t)k,
			     addrs[i].family == AF_INET6 ? "%s[%s]" : "%s%s", i > 0 ? "," : "", ip);
	}
	if (dc->mta_sts_port == 443)
		snprintf(url, sizeof(url), "https://%s/.well-known/mta-sts.txt", host);
	else
		snprintf(url, sizeof(url), "https://%s:%u/.well-known/mta-sts.txt", host,
			 dc->mta_sts_port);

	pthread_once(&curl_once, curl_init);
	CURL *h = curl_easy_init();
	if (h == NULL) {
		snprintf(why, why_len, "cannot start an HTTPS client");
		free(b.data);
		return false;
	}
	struct curl_slist *res = curl_slist_append(NULL, resolve);
	err[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_RESOLVE, res);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* §3.3: no redirects */
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (dc->ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, dc->ca_file);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)dc->mta_sts_connect_timeout);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)dc->mta_sts_timeout);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM */
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE, (long)MTA_STS_BODY_MAX);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "mailroom");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	CURLcode rc = curl_easy_perform(h);
	long status = 0;
	char *ct = NULL;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
	if (b.over || rc == CURLE_FILESIZE_EXCEEDED)
		snprintf(why, why_len, "%s: the policy is larger than %u octets", host,
			 MTA_STS_BODY_MAX);
	else if (rc != CURLE_OK)
		snprintf(why, why_len, "%s: %.200s", host,
			 err[0] != '\0' ? err : curl_easy_strerror(rc));
	else if (status != 200)
		snprintf(why, why_len, "%s: HTTP status %ld", host, status);
	else if (!text_plain(ct))
		snprintf(why, why_len, "%s: Content-Type %.60s, not text/plain", host,
			 ct != NULL ? ct : "missing");
	else if (!mta_sts_policy_parse(b.data, b.len, p, ptext, sizeof(ptext)))
		snprintf(why, why_len, "%s: invalid policy: %.100s", host, ptext);
	else
		ok = true;
	curl_easy_cleanup(h);
	curl_slist_free_all(res);
	free(b.data);
	return ok;
}

/* --- the look-up ------------------------------------------------------------- */

bool mta_sts_policy_for(const struct config *cfg, const char *domain, struct mta_sts_policy *out)
{
	const struct delivery_config *dc = delivery_config(cfg);
	char name[256], txt_name[300], id[MTA_STS_ID_MAX + 1], why[512];
	struct mta_sts_policy cached;
	int64_t now = (int64_t)time(NULL);

	if (!dc->mta_sts || !domain_name(domain, name))
		return false;
	bool have = cache_get(cfg, name, &cached);
	bool valid = have && !mta_sts_expired(&cached, now);

	char(*recs)[DNS_TXT_MAX] = xcalloc(TXT_MAX, DNS_TXT_MAX);
	size_t n = 0;
	snprintf(txt_name, sizeof(txt_name), "_mta-sts.%s", name);
	enum dns_status d = dns_txt(dc->resolver, txt_name, recs, TXT_MAX, &n);
	bool rec = d == DNS_OK && mta_sts_txt_pick((const char(*)[DNS_TXT_MAX])recs, n, id);
	free(recs);
	/* §5.1: no (valid) record leaves a cached policy in force until it expires */
	if (!rec || (have && !mta_sts_stale(&cached, id, now))) {
		if (valid)
			*out = cached;
		return valid;
	}
	struct mta_sts_policy fresh;
	memset(&fresh, 0, sizeof(fresh));
	if (failed_recently(name, id, now)) {
		if (valid)
			*out = cached;
		return valid;
	}
	if (!fetch(dc, name, &fresh, why, sizeof(why))) {
		failed_put(name, id, now);
		log_warn("mta-sts domain=%s id=%s: cannot fetch the policy: %s%s", name, id, why,
			 valid ? " (the cached policy stays in force)" : "");
		if (valid)
			*out = cached;
		return valid;
	}
	snprintf(fresh.id, sizeof(fresh.id), "%s", id);
	fresh.fetched = now;
	log_info("mta-sts domain=%s id=%s: policy fetched: mode=%s max_age=%u mx=%zu", name, id,
		 mta_sts_mode_name(fresh.mode), fresh.max_age, fresh.n_mx);
	mem_put(name, &fresh);
	disk_put(cfg, name, &fresh);
	*out = fresh;
	return true;
}
