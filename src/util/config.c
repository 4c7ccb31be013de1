/* SPDX-License-Identifier: MIT */
/*
 * config.c - INI lexer and the table of known keys.
 *
 * The grammar: `[section]` lines, `key = value` lines, blank lines and
 * comments starting with ';' or '#' (at line start, or after whitespace in a
 * value). Keys and sections are case-sensitive lower case. What keys exist
 * is the schema's business (config.h); this file walks its tables to set,
 * default, write, compare and free values, and defines the core sections.
 */
#include "util/config.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_DEFAULT_FILE "mailroom.conf"

int config_parse_size(const char *s, uint64_t *v_r)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	uint64_t mul = 1;
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		switch (toupper((unsigned char)*end)) {
		case 'K':
			mul = 1024ULL;
			break;
		case 'M':
			mul = 1024ULL * 1024;
			break;
		case 'G':
			mul = 1024ULL * 1024 * 1024;
			break;
		default:
			return -1;
		}
		end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end != '\0')
			return -1;
	}
	if (v > UINT64_MAX / mul)
		return -1;
	*v_r = v * mul;
	return 0;
}

int config_parse_duration(const char *s, unsigned *secs_r)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	unsigned long v = strtoul(s, &end, 10);
	unsigned long mul = 1;
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		switch (*end) {
		case 's':
			mul = 1;
			break;
		case 'm':
			mul = 60;
			break;
		case 'h':
			mul = 3600;
			break;
		case 'd':
			mul = 86400;
			break;
		default:
			return -1;
		}
		if (end[1] != '\0')
			return -1;
	}
	if (v > UINT_MAX / mul)
		return -1;
	*secs_r = (unsigned)(v * mul);
	return 0;
}

int config_parse_bool(const char *s, bool *v_r)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < N_ELEMENTS(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*v_r = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*v_r = false;
			return 0;
		}
	}
	return -1;
}

/* --- checks the parts share ---------------------------------------------------------------- */

/* A host name (RFC 1123 letters, digits, hyphens, dots) or IPv4 address:
   what a greeting, a certificate and getaddrinfo() all take. */
static bool host_name_valid(const char *h, size_t len)
{
	if (len == 0 || len > 253 || h[0] == '.' || h[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' &&
		    !(h[i] == '.' && (i + 1 == len || h[i + 1] != '.')))
			return false;
	return true;
}

bool config_addr_valid(const char *a)
{
	const char *colon;
	if (*a == '[') {
		const char *rb = strchr(a, ']');
		if (rb == NULL || rb[1] != ':' || rb == a + 1 ||
		    strspn(a + 1, "0123456789abcdefABCDEF:.") != (size_t)(rb - a - 1))
			return false;
		colon = rb + 1;
	} else {
		colon = strrchr(a, ':');
		if (colon == NULL || colon == a || memchr(a, ':', (size_t)(colon - a)) != NULL)
			return false;
		if (!(colon == a + 1 && a[0] == '*') && !host_name_valid(a, (size_t)(colon - a)))
			return false;
	}
	uint64_t port;
	struct slice p = slice_from(colon + 1);
	return slice_to_uint(p, 65535, &port) && port > 0;
}

const char *config_check_host(const char *v)
{
	return host_name_valid(v, strlen(v))
		   ? NULL
		   : "expected a host name (letters, digits, '-' and '.')";
}

const char *config_check_domain(const char *v)
{
	return host_name_valid(v, strlen(v)) && strchr(v, '.') != NULL
		   ? NULL
		   : "expected a domain name such as example.org";
}

/* An account name as useradd(8) takes it (POSIX portable characters, not
   starting with '-'), so a message can quote it and getpwnam() sees it as is. */
static const char *check_user_name(const char *u)
{
	size_t len = strlen(u);
	bool ok = len > 0 && len <= 32 && u[0] != '-';
	for (size_t i = 0; ok && i < len; i++)
		ok = isalnum((unsigned char)u[i]) || u[i] == '.' || u[i] == '_' || u[i] == '-';
	return ok ? NULL : "expected a user name (letters, digits, '.', '_' and '-')";
}

/* --- values: set, write, free by type ------------------------------------------------------ */

static void list_clear(struct listen_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->addrs[i]);
	free(l->addrs);
	l->addrs = NULL;
	l->count = 0;
}

static void list_add(struct listen_list *l, const char *s)
{
	l->addrs = xrealloc(l->addrs, (l->count + 1) * sizeof(char *));
	l->addrs[l->count++] = xstrdup(s);
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* a buffer's text, for the caller to free */
static char *take(struct buf *b)
{
	char *d = b->data != NULL ? b->data : xstrdup("");
	*b = (struct buf){0};
	return d;
}

/* "a, b or c" from a NULL-terminated list */
static void put_choices(struct buf *b, const char *const *names)
{
	for (size_t i = 0; names[i] != NULL; i++)
		buf_printf(b, "%s%s", i == 0 ? "" : names[i + 1] == NULL ? " or " : ", ", names[i]);
}

static void put_size_value(struct buf *b, uint64_t n)
{
	static const char units[] = "GMK";
	for (int i = 0; i < 3; i++) {
		uint64_t u = 1ULL << (10 * (3 - i));
		if (n != 0 && n % u == 0) {
			buf_printf(b, "%llu%c", (unsigned long long)(n / u), units[i]);
			return;
		}
	}
	buf_printf(b, "%llu", (unsigned long long)n);
}

static void put_duration_value(struct buf *b, unsigned secs)
{
	static const struct {
		unsigned secs;
		char unit;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}};
	for (size_t i = 0; i < N_ELEMENTS(units); i++)
		if (secs != 0 && secs % units[i].secs == 0) {
			buf_printf(b, "%u%c", secs / units[i].secs, units[i].unit);
			return;
		}
	buf_printf(b, "%us", secs);
}

/* A message for a value that does not fit: static text, or one made in
 *msg (the caller frees it). */
static const char *set_list(const struct config_key *k, struct listen_list *l, const char *v,
			    char **msg)
{
	char *copy = xstrdup(v), *save = NULL;
	const char *err = NULL;

	list_clear(l);
	if ((k->type == CONFIG_ADDRS || k->type == CONFIG_LIST) &&
	    (*v == '\0' || strcmp(v, "off") == 0)) {
		free(copy);
		return NULL;
	}
	for (char *tok = strtok_r(copy, ",", &save); tok != NULL && err == NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		tok = trim(tok);
		if (k->type == CONFIG_ADDRS) {
			if (!config_addr_valid(tok))
				err = "expected host:port (comma-separated for several), or off";
		} else if (k->type == CONFIG_LIST) {
			if (*tok == '\0')
				err = "empty item in the list (comma-separated), or off";
			else
				err = k->check(tok);
		} else {
			bool known = false;
			for (size_t i = 0; k->names[i] != NULL; i++)
				known |= strcmp(tok, k->names[i]) == 0;
			for (size_t i = 0; i < l->count && known; i++)
				if (strcmp(l->addrs[i], tok) == 0)
					err = "each name may appear once";
			if (!known)
				err = "";
		}
		if (err == NULL)
			list_add(l, tok);
	}
	free(copy);
	if (err == NULL && k->type == CONFIG_NAMES && l->count == 0)
		err = "";
	if (err != NULL && *err == '\0') {
		struct buf b = {0};
		buf_printf(&b, "expected ");
		put_choices(&b, k->names);
		buf_printf(&b, " (comma-separated, in order)");
		*msg = take(&b);
		err = *msg;
	}
	if (err != NULL)
		list_clear(l);
	return err;
}

static const char *set_value(const struct config_key *k, void *field, const char *v, char **msg)
{
	*msg = NULL;
	switch (k->type) {
	case CONFIG_STR:
	case CONFIG_PATH: {
		char **dst = field;
		if (k->none != NULL && strcmp(v, k->none) == 0) {
			free(*dst);
			*dst = NULL;
			return NULL;
		}
		if (*v == '\0')
			return "value must not be empty";
		const char *err = k->check != NULL ? k->check(v) : NULL;
		if (err != NULL)
			return err;
		free(*dst);
		*dst = xstrdup(v);
		for (char *q = *dst; (k->flags & CONFIG_LOWER) && *q != '\0'; q++)
			*q = (char)tolower((unsigned char)*q);
		return NULL;
	}
	case CONFIG_BOOL:
		return config_parse_bool(v, field) < 0 ? "expected yes or no" : NULL;
	case CONFIG_COUNT:
	case CONFIG_SIZE: {
		uint64_t n;
		if (config_parse_size(v, &n) < 0 || n < k->min || n > k->max) {
			struct buf b = {0};
			if (k->type == CONFIG_COUNT) {
				buf_printf(&b, "expected a number from %llu to %llu",
					   (unsigned long long)k->min, (unsigned long long)k->max);
			} else {
				buf_printf(&b, "expected a size from ");
				put_size_value(&b, k->min);
				buf_printf(&b, " to ");
				put_size_value(&b, k->max);
			}
			*msg = take(&b);
			return *msg;
		}
		if (k->type == CONFIG_COUNT)
			*(unsigned *)field = (unsigned)n;
		else
			*(uint64_t *)field = n;
		return NULL;
	}
	case CONFIG_DURATION: {
		unsigned secs;
		if (config_parse_duration(v, &secs) < 0 || secs < k->min) {
			if (k->min == 0)
				return "expected a duration such as 0, 30s, 10m or 1h";
			struct buf b = {0};
			buf_printf(&b, "expected a duration of ");
			put_duration_value(&b, (unsigned)k->min);
			buf_printf(&b, " or more, such as 30s, 10m or 1h");
			*msg = take(&b);
			return *msg;
		}
		*(unsigned *)field = secs;
		return NULL;
	}
	case CONFIG_DELAY_MS: {
		size_t len = strlen(v), digits = strspn(v, "0123456789");
		unsigned n;
		if (digits > 0 && digits <= 5 && len == digits + 2 && strcmp(v + digits, "ms") == 0)
			n = (unsigned)strtoul(v, NULL, 10);
		else if (config_parse_duration(v, &n) == 0 && n <= 60)
			n *= 1000;
		else
			n = 0;
		if (n < 1 || n > 60000)
			return "expected a delay from 1ms to 60s, such as 250ms or 1s";
		*(unsigned *)field = n;
		return NULL;
	}
	case CONFIG_ENUM:
		for (size_t i = 0; k->names[i] != NULL; i++)
			if (strcmp(v, k->names[i]) == 0) {
				*(int *)field = (int)i;
				return NULL;
			}
		struct buf b = {0};
		buf_printf(&b, "expected ");
		put_choices(&b, k->names);
		*msg = take(&b);
		return *msg;
	case CONFIG_ADDRS:
	case CONFIG_NAMES:
	case CONFIG_LIST:
		return set_list(k, field, v, msg);
	}
	return "unknown key";
}

static void write_value(const struct config_key *k, const void *field, struct buf *b)
{
	switch (k->type) {
	case CONFIG_STR:
	case CONFIG_PATH: {
		const char *v = *(char *const *)field;
		if (v == NULL && k->none == NULL)
			buf_printf(b, "; %s is not set\n", k->name);
		else
			buf_printf(b, "%s = %s\n", k->name, v != NULL ? v : k->none);
		return;
	}
	case CONFIG_BOOL:
		buf_printf(b, "%s = %s\n", k->name, *(const bool *)field ? "yes" : "no");
		return;
	case CONFIG_COUNT:
		buf_printf(b, "%s = %u\n", k->name, *(const unsigned *)field);
		return;
	case CONFIG_SIZE:
		buf_printf(b, "%s = ", k->name);
		put_size_value(b, *(const uint64_t *)field);
		buf_printf(b, "\n");
		return;
	case CONFIG_DURATION:
		buf_printf(b, "%s = ", k->name);
		put_duration_value(b, *(const unsigned *)field);
		buf_printf(b, "\n");
		return;
	case CONFIG_DELAY_MS: {
		unsigned ms = *(const unsigned *)field;
		buf_printf(b, "%s = ", k->name);
		if (ms % 1000 == 0)
			put_duration_value(b, ms / 1000);
		else
			buf_printf(b, "%ums", ms);
		buf_printf(b, "\n");
		return;
	}
	case CONFIG_ENUM:
		buf_printf(b, "%s = %s\n", k->name, k->names[*(const int *)field]);
		return;
	case CONFIG_ADDRS:
	case CONFIG_NAMES:
	case CONFIG_LIST: {
		const struct listen_list *l = field;
		buf_printf(b, "%s = ", k->name);
		for (size_t i = 0; i < l->count; i++)
			buf_printf(b, "%s%s", i > 0 ? ", " : "", l->addrs[i]);
		buf_printf(b, "%s\n", l->count == 0 && k->type != CONFIG_NAMES ? "off" : "");
		return;
	}
	}
}

static void free_value(const struct config_key *k, void *field)
{
	if (k->type == CONFIG_STR || k->type == CONFIG_PATH) {
		free(*(char **)field);
		*(char **)field = NULL;
	} else if (k->type == CONFIG_ADDRS || k->type == CONFIG_NAMES || k->type == CONFIG_LIST) {
		list_clear(field);
	}
}

/* --- the core sections --------------------------------------------------------------------- */

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"text", "json", NULL};
static const char *const cert_maps[] = {"email", "cn", NULL};

static const char *check_client_cert_domain(const char *v)
{
	return host_name_valid(v, strlen(v))
		   ? NULL
		   : "expected a domain name (letters, digits, '-' and '.')";
}

#define SRV(field) offsetof(struct config, field)

static const struct config_key server_keys[] = {
    {.name = "hostname", .type = CONFIG_STR, .off = SRV(hostname), .check = config_check_host},
    {.name = "data_dir", .type = CONFIG_STR, .off = SRV(data_dir), .def = "mailroom-data"},
    {.name = "user",
     .type = CONFIG_STR,
     .off = SRV(user),
     .check = check_user_name,
     .line_off = SRV(user_line)},
    {.name = "workers",
     .type = CONFIG_COUNT,
     .off = SRV(workers),
     .def = "4",
     .min = 1,
     .max = 256},
    {.name = "log_level",
     .type = CONFIG_ENUM,
     .off = SRV(log_level),
     .def = "info",
     .names = log_levels},
    {.name = "log_format",
     .type = CONFIG_ENUM,
     .off = SRV(log_format),
     .def = "text",
     .names = log_formats},
};

static void server_defaults(void *fields)
{
	struct config *c = fields;
	char host[256];
	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	c->hostname = xstrdup(host);
}

const struct config_section config_server_section = {.name = "server",
						     .keys = server_keys,
						     .n_keys = N_ELEMENTS(server_keys),
						     .defaults = server_defaults};

static const struct config_key tls_keys[] = {
    {.name = "cert", .type = CONFIG_PATH, .off = SRV(tls_cert), .def = "tls/cert.pem"},
    {.name = "key", .type = CONFIG_PATH, .off = SRV(tls_key), .def = "tls/key.pem"},
    {.name = "client_ca", .type = CONFIG_PATH, .off = SRV(tls_client_ca)},
    {.name = "client_crl", .type = CONFIG_PATH, .off = SRV(tls_client_crl)},
    {.name = "client_cert_map",
     .type = CONFIG_ENUM,
     .off = SRV(tls_client_cert_map),
     .def = "email",
     .names = cert_maps},
    {.name = "client_cert_domain",
     .type = CONFIG_STR,
     .off = SRV(tls_client_cert_domain),
     .check = check_client_cert_domain},
};

const struct config_section config_tls_section = {
    .name = "tls", .keys = tls_keys, .n_keys = N_ELEMENTS(tls_keys)};

static const struct config_key limits_keys[] = {
    {.name = "max_connections",
     .type = CONFIG_COUNT,
     .off = SRV(max_connections),
     .def = "20000",
     .min = 1,
     .max = 1000000},
    {.name = "max_connections_per_ip",
     .type = CONFIG_COUNT,
     .off = SRV(max_connections_per_ip),
     .def = "50",
     .min = 1,
     .max = 1000000},
    {.name = "idle_timeout",
     .type = CONFIG_DURATION,
     .off = SRV(idle_timeout),
     .def = "10m",
     .min = 1},
    /* RFC 5321 §4.5.3.2.7: a server waits at least 5 minutes for a command;
       typing one by hand takes far less */
    {.name = "line_deadline",
     .type = CONFIG_DURATION,
     .off = SRV(line_deadline),
     .def = "5m",
     .min = 1},
    /* a whole 35 MiB message at about 10 KiB/s (80 kbit/s) */
    {.name = "data_deadline",
     .type = CONFIG_DURATION,
     .off = SRV(data_deadline),
     .def = "1h",
     .min = 1},
    /* RFC 5321 §4.5.3.2.5 lets a client pause 3 minutes between data
       blocks: the window is longer, and the floor (under a byte a second)
       is far below any real upload or typist */
    {.name = "min_data_rate",
     .type = CONFIG_COUNT,
     .off = SRV(min_data_rate),
     .def = "256",
     .min = 0,
     .max = 1U << 30},
    {.name = "data_rate_window",
     .type = CONFIG_DURATION,
     .off = SRV(data_rate_window),
     .def = "5m",
     .min = 1},
    {.name = "auth_fail_delay_max",
     .type = CONFIG_DURATION,
     .off = SRV(auth_fail_delay_max),
     .def = "15s"},
    {.name = "auth_fail_delay",
     .type = CONFIG_DELAY_MS,
     .off = SRV(auth_fail_delay_ms),
     .def = "1s"},
    {.name = "auth_cache_ttl", .type = CONFIG_DURATION, .off = SRV(auth_cache_ttl), .def = "5m"},
    /* a client gives up after some 30 s (Outlook, Thunderbird): a busy
       answer well before that brings it back instead */
    {.name = "auth_queue_wait", .type = CONFIG_DURATION, .off = SRV(auth_queue_wait), .def = "10s"},
    {.name = "auth_cache_size",
     .type = CONFIG_COUNT,
     .off = SRV(auth_cache_size),
     .def = "100000",
     .min = 1,
     .max = 10000000},
};

const struct config_section config_limits_section = {
    .name = "limits", .keys = limits_keys, .n_keys = N_ELEMENTS(limits_keys)};

size_t config_listen_offset(size_t i)
{
	return offsetof(struct config, listen) + i * sizeof(struct listen_list);
}

/* --- walking the schema -------------------------------------------------------------------- */

static void *fields_of(struct config *c, size_t sec)
{
	return c->schema->sections[sec]->size == 0 ? (void *)c : c->parts[sec];
}

const void *config_part(const struct config *c, const struct config_section *s)
{
	for (size_t i = 0; c->schema != NULL && i < c->schema->n_sections; i++)
		if (c->schema->sections[i] == s)
			return fields_of((struct config *)c, i);
	fprintf(stderr, "config: section [%s] is not in the schema\n", s->name);
	abort();
}

const struct listen_list *config_listen(const struct config *c, const char *name)
{
	for (size_t i = 0; c->schema != NULL && i < c->schema->n_sections; i++) {
		const struct config_section *s = c->schema->sections[i];
		if (strcmp(s->name, "listen") != 0)
			continue;
		for (size_t k = 0; k < s->n_keys; k++)
			if (strcmp(s->keys[k].name, name) == 0)
				return (const struct listen_list *)((const char *)c +
								    s->keys[k].off);
	}
	return NULL;
}

size_t config_listen_names(const struct config *c, const char **names, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; c->schema != NULL && i < c->schema->n_sections; i++) {
		const struct config_section *s = c->schema->sections[i];
		for (size_t k = 0; strcmp(s->name, "listen") == 0 && k < s->n_keys && n < cap; k++)
			names[n++] = s->keys[k].name;
	}
	return n;
}

static void config_defaults(const struct config_schema *schema, struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->schema = schema;
	for (size_t i = 0; i < schema->n_sections; i++) {
		const struct config_section *s = schema->sections[i];
		if (s->size > 0)
			c->parts[i] = xcalloc(1, s->size);
		char *base = fields_of(c, i);
		for (size_t k = 0; k < s->n_keys; k++) {
			char *msg;
			const char *err;
			if (s->keys[k].def == NULL)
				continue;
			err = set_value(&s->keys[k], base + s->keys[k].off, s->keys[k].def, &msg);
			if (err != NULL) { /* C1: a default the parser refuses is a program error */
				fprintf(stderr, "config: the default of [%s] %s is refused: %s\n",
					s->name, s->keys[k].name, err);
				abort();
			}
		}
		if (s->defaults != NULL)
			s->defaults(base);
	}
}

static const struct config_section *section_find(const struct config_schema *schema,
						 const char *name, size_t *idx_r)
{
	for (size_t i = 0; i < schema->n_sections; i++)
		if (strcmp(schema->sections[i]->name, name) == 0) {
			*idx_r = i;
			return schema->sections[i];
		}
	return NULL;
}

/* Make `*p` absolute against `base` (a folder). */
static void make_absolute(char **p, const char *base)
{
	if (*p == NULL || (*p)[0] == '/')
		return;
	char *abs = xasprintf("%s/%s", base, *p);
	free(*p);
	*p = abs;
}

/* data_dir against the config file's folder (or the working directory for
   the built-in defaults), then every path key against data_dir */
static void resolve_paths(struct config *c, const char *name)
{
	char cwd[PATH_MAX];
	char *base;

	if (getcwd(cwd, sizeof(cwd)) == NULL)
		strcpy(cwd, ".");
	if (name != NULL && strchr(name, '/') != NULL) {
		base = xstrndup(name, (size_t)(strrchr(name, '/') - name));
		if (base[0] == '\0') {
			free(base);
			base = xstrdup("/");
		}
		if (base[0] != '/') {
			char *b = xasprintf("%s/%s", cwd, base);
			free(base);
			base = b;
		}
	} else {
		base = xstrdup(cwd);
	}
	make_absolute(&c->data_dir, base);
	for (size_t i = 0; i < c->schema->n_sections; i++) {
		const struct config_section *s = c->schema->sections[i];
		char *f = fields_of(c, i);
		for (size_t k = 0; k < s->n_keys; k++)
			if (s->keys[k].type == CONFIG_PATH)
				make_absolute((char **)(f + s->keys[k].off), c->data_dir);
	}
	free(base);
}

static int parse_text(const char *name, const char *text, size_t len, struct config *c,
		      char **err_r)
{
	const struct config_section *sec = NULL;
	size_t sec_idx = 0;
	struct buf seen = {0}; /* "\nsection.key\n..." for duplicate checks */
	unsigned lineno = 0;
	const char *p = text, *end = text + len;

	if (memchr(text, '\0', len) != NULL) {
		*err_r = xasprintf("%s: file contains a NUL byte", name);
		return -1;
	}
	buf_append_c(&seen, '\n');
	while (p < end && *err_r == NULL) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = xstrndup(p, ll), *s = trim(line);
		p += ll + (nl ? 1 : 0);
		lineno++;

		if (*s == '\0' || *s == ';' || *s == '#') {
			/* blank or comment */
		} else if (*s == '[') {
			char *rb = strchr(s, ']');
			if (rb == NULL || *trim(rb + 1) != '\0') {
				*err_r = xasprintf("%s:%u: malformed section header", name, lineno);
			} else {
				*rb = '\0';
				char *secname = trim(s + 1);
				sec = section_find(c->schema, secname, &sec_idx);
				if (sec == NULL)
					*err_r = xasprintf("%s:%u: unknown section [%s]", name,
							   lineno, secname);
			}
		} else {
			char *eq = strchr(s, '=');
			if (eq == NULL) {
				*err_r = xasprintf("%s:%u: expected key = value", name, lineno);
			} else if (sec == NULL) {
				*err_r =
				    xasprintf("%s:%u: key outside of any [section]", name, lineno);
			} else {
				*eq = '\0';
				char *key = trim(s), *val = trim(eq + 1);
				/* inline comment: " ;" or " #" */
				for (char *q = val; *q != '\0'; q++)
					if ((*q == ';' || *q == '#') &&
					    (q == val || q[-1] == ' ' || q[-1] == '\t')) {
						*q = '\0';
						val = trim(val);
						break;
					}
				const struct config_key *k = NULL;
				for (size_t i = 0; i < sec->n_keys && k == NULL; i++)
					if (strcmp(sec->keys[i].name, key) == 0)
						k = &sec->keys[i];
				char *id = xasprintf("\n%s.%s\n", sec->name, key);
				if (k == NULL) {
					*err_r = xasprintf("%s:%u: unknown key '%s' in [%s]", name,
							   lineno, key, sec->name);
				} else if (strstr(seen.data, id) != NULL) {
					*err_r =
					    xasprintf("%s:%u: duplicate key '%s' in [%s]: it is "
						      "set above already; keep one",
						      name, lineno, key, sec->name);
				} else {
					char *f = fields_of(c, sec_idx), *msg;
					const char *err = set_value(k, f + k->off, val, &msg);
					buf_append_str(&seen, id + 1);
					if (err != NULL)
						*err_r = xasprintf("%s:%u: %s", name, lineno, err);
					else if (k->line_off != 0)
						*(unsigned *)(f + k->line_off) = lineno;
					free(msg);
				}
				free(id);
			}
		}
		free(line);
	}
	buf_free(&seen);
	if (*err_r != NULL)
		return -1;
	for (size_t i = 0; i < c->schema->n_sections; i++) {
		const struct config_section *s = c->schema->sections[i];
		const char *err = s->finish != NULL ? s->finish(fields_of(c, i), c) : NULL;
		if (err != NULL) {
			*err_r = xasprintf("%s: %s", name, err);
			return -1;
		}
	}
	return 0;
}

int config_parse(const struct config_schema *schema, const char *name, const char *text, size_t len,
		 struct config *cfg, char **err_r)
{
	config_defaults(schema, cfg);
	cfg->file = xstrdup(name);
	*err_r = NULL;
	if (parse_text(name, text, len, cfg, err_r) < 0) {
		config_free(cfg);
		return -1;
	}
	resolve_paths(cfg, name);
	return 0;
}

const char *config_default_path(const char *system_path)
{
	if (access(CONFIG_DEFAULT_FILE, F_OK) == 0)
		return CONFIG_DEFAULT_FILE;
	if (system_path != NULL && system_path[0] != '\0' && access(system_path, F_OK) == 0)
		return system_path;
	return NULL;
}

/* A packaged build names its system config (CMake MAILROOM_SYSTEM_CONFIG,
   /etc/mailroom/mailroom.conf in the .deb); a plain build has none. */
#ifdef MAILROOM_SYSTEM_CONFIG
#define CONFIG_SYSTEM_FILE MAILROOM_SYSTEM_CONFIG
#else
#define CONFIG_SYSTEM_FILE NULL
#endif

int config_load(const struct config_schema *schema, const char *path, struct config *cfg,
		char **err_r)
{
	if (path == NULL) {
		path = config_default_path(CONFIG_SYSTEM_FILE);
		if (path == NULL) {
			config_defaults(schema, cfg);
			resolve_paths(cfg, NULL);
			return 0;
		}
	}
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		*err_r = xasprintf("%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	struct buf text = {0};
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (text.len + n > CONFIG_FILE_MAX) {
			fclose(f);
			buf_free(&text);
			*err_r = xasprintf("%s: file is larger than 1 MiB", path);
			return -1;
		}
		buf_append(&text, chunk, n);
	}
	int rerr = ferror(f);
	fclose(f);
	if (rerr) {
		buf_free(&text);
		*err_r = xasprintf("%s: read error", path);
		return -1;
	}
	int ret = config_parse(schema, path, text.data ? text.data : "", text.len, cfg, err_r);
	buf_free(&text);
	return ret;
}

/* --- the effective configuration, written back -------------------------------------------- */

void config_write(const struct config *c, struct buf *b)
{
	for (size_t i = 0; i < c->schema->n_sections; i++) {
		const struct config_section *s = c->schema->sections[i];
		const char *f = fields_of((struct config *)c, i);
		buf_printf(b, "%s[%s]\n", i > 0 ? "\n" : "", s->name);
		for (size_t k = 0; k < s->n_keys; k++)
			write_value(&s->keys[k], f + s->keys[k].off, b);
	}
}

void config_diff(const struct config *a, const struct config *b,
		 void (*fn)(const char *key, void *arg), void *arg)
{
	/* C3: one line per key, in the same order on both sides */
	for (size_t i = 0; i < a->schema->n_sections && a->schema == b->schema; i++) {
		const struct config_section *s = a->schema->sections[i];
		const char *fa = fields_of((struct config *)a, i);
		const char *fb = fields_of((struct config *)b, i);
		for (size_t k = 0; k < s->n_keys; k++) {
			struct buf va = {0}, vb = {0};
			write_value(&s->keys[k], fa + s->keys[k].off, &va);
			write_value(&s->keys[k], fb + s->keys[k].off, &vb);
			if (va.len != vb.len || memcmp(va.data, vb.data, va.len) != 0) {
				char *key = xasprintf("%s.%s", s->name, s->keys[k].name);
				fn(key, arg);
				free(key);
			}
			buf_free(&va);
			buf_free(&vb);
		}
	}
}

void config_free(struct config *c)
{
	/* a configuration filled by hand (tests) has no schema: its core fields
	   are still its own */
	static const struct config_section *const core[] = {
	    &config_server_section, &config_tls_section, &config_limits_section};
	for (size_t i = 0; c->schema == NULL && i < N_ELEMENTS(core); i++)
		for (size_t k = 0; k < core[i]->n_keys; k++)
			free_value(&core[i]->keys[k], (char *)c + core[i]->keys[k].off);
	for (size_t i = 0; c->schema == NULL && i < CONFIG_LISTEN_MAX; i++)
		list_clear(&c->listen[i]);
	for (size_t i = 0; c->schema != NULL && i < c->schema->n_sections; i++) {
		const struct config_section *s = c->schema->sections[i];
		char *f = fields_of(c, i);
		for (size_t k = 0; k < s->n_keys && f != NULL; k++)
			free_value(&s->keys[k], f + s->keys[k].off);
		free(c->parts[i]);
	}
	free(c->file);
	memset(c, 0, sizeof(*c));
}
