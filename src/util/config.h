/* SPDX-License-Identifier: MIT */
/*
 * config.h - the one INI file (SPEC §7), parsed strictly.
 *
 * config_load() fills a struct config with built-in defaults, then applies the
 * file if one is given. Every unknown section, unknown key, duplicate key and
 * bad value is an error reported as "FILE:LINE: message" and refused: a
 * server that starts with a half-understood config is worse than one that
 * does not start. Paths come out absolute: data_dir relative to the config
 * file's folder (or to the working directory for the built-in defaults), TLS
 * files and [pam] confdir relative to data_dir. The struct owns all its strings;
 * config_free() releases them.
 *
 * Durations accept s/m/h/d suffixes (bare numbers are seconds); sizes accept
 * K/M/G (powers of 1024; bare numbers are bytes); booleans are yes/no,
 * true/false, on/off, 1/0.
 */
#ifndef MAILROOM_UTIL_CONFIG_H
#define MAILROOM_UTIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/log.h"

/* A list of strings from one key: "host:port" addresses ([listen], the
   [metrics] listener), names ([directory] backend) or other values a
   part checks (CONFIG_LIST: [filter] milter sockets). */
struct listen_list {
	char **addrs;
	size_t count;
};

/* --- the schema: sections and keys, each owned by its part --------------------------------
 *
 * The engine here knows the INI grammar, the value types and the core
 * sections ([server], [tls], [limits]); every other section is defined by
 * the part that reads it (pop3/, smtp/, queue/, directory/, admin/ ...) as a
 * `const struct config_section` over a struct of its own, and the program
 * lists the sections it is made of in a `struct config_schema`
 * (server/schema.c). Parsing, defaults, `config show` (config_write), the
 * reload diff and freeing all walk the same tables, so a key exists in
 * exactly one place.
 *
 * Invariants (tests/unit/test_config.c cites them):
 *  C1 every key's default is written in the file's own syntax and goes
 *     through the same parser as a value from the file (a bad default aborts);
 *  C2 config_write() output parses back to an equal configuration;
 *  C3 sections and keys are written in schema order, one key per line.
 */
enum config_type {
	CONFIG_STR,	 /* char *; NULL: not set */
	CONFIG_PATH,	 /* char *, made absolute against data_dir after the parse */
	CONFIG_BOOL,	 /* bool: yes/no, true/false, on/off, 1/0 */
	CONFIG_COUNT,	 /* unsigned from min to max */
	CONFIG_SIZE,	 /* uint64_t octets from min to max; K/M/G suffixes */
	CONFIG_DURATION, /* unsigned seconds, at least min; s/m/h/d suffixes */
	CONFIG_DELAY_MS, /* unsigned milliseconds: "250ms" or whole seconds, 1ms to 60s */
	CONFIG_ENUM,	 /* int: the index of the value in names */
	CONFIG_ADDRS,	 /* struct listen_list of host:port, comma-separated; "off": none */
	CONFIG_NAMES,	 /* struct listen_list of names from `names`, each once, in order */
	CONFIG_LIST,	 /* struct listen_list of values, comma-separated, each passing
			    `check` (required); "off" or empty: none */
};

#define CONFIG_LOWER 1u /* CONFIG_STR: kept in lower case */

struct config_key {
	const char *name;
	enum config_type type;
	size_t off;		  /* of the field in the section's struct */
	const char *def;	  /* the default as the file would write it; NULL: not set */
	uint64_t min, max;	  /* COUNT, SIZE; DURATION uses min */
	const char *const *names; /* ENUM, NAMES: the values, NULL-terminated */
	/* STR, PATH: a further check of the value; LIST: of each item; returns
	   NULL or a message */
	const char *(*check)(const char *v);
	const char *none; /* STR: the word that means "not set", written for NULL */
	unsigned flags;	  /* CONFIG_LOWER */
	size_t line_off;  /* nonzero: an unsigned there gets the key's line in the file */
};

struct config;
struct config_section {
	const char *name;
	const struct config_key *keys;
	size_t n_keys;
	/* the size of the part's struct, allocated per configuration; 0: the
	   fields are struct config's own (the core sections) */
	size_t size;
	/* defaults that are not constants (the host name); after the keys' */
	void (*defaults)(void *fields);
	/* checks across keys after the whole file; returns NULL or a message */
	const char *(*finish)(const void *fields, const struct config *cfg);
};

#define CONFIG_SECTIONS_MAX 24
#define CONFIG_LISTEN_MAX 16

struct config_schema {
	const struct config_section *sections[CONFIG_SECTIONS_MAX];
	size_t n_sections;
};

/* The core sections, for a schema to list. [listen] is the schema's to
   build (its keys are the services' ports): key i is the field at
   config_listen_offset(i). */
extern const struct config_section config_server_section;
extern const struct config_section config_tls_section;
extern const struct config_section config_limits_section;
size_t config_listen_offset(size_t i);

struct config {
	const struct config_schema *schema;
	void *parts[CONFIG_SECTIONS_MAX]; /* each section's fields, in schema order */
	char *file;			  /* the file read, or NULL for built-in defaults */

	/* [server] */
	char *hostname;
	char *data_dir;
	char *user;	    /* the account serve runs as once started as root
			       (server/privdrop.h); NULL if not set */
	unsigned user_line; /* its line in the file, for messages; 0 if not set */
	enum log_level log_level;
	enum log_format log_format; /* text or json */
	unsigned workers;	    /* threads for blocking work (hashing, store) */

	/* [listen]: the addresses of the schema's [listen] keys, in order */
	struct listen_list listen[CONFIG_LISTEN_MAX];

	/* [tls] */
	char *tls_cert;
	char *tls_key;
	/* client certificates (tls/tls.h, SASL EXTERNAL): CAs to verify them,
	   or NULL: none asked for; an optional CRL; how one names its owner */
	char *tls_client_ca;
	char *tls_client_crl;
	enum tls_cert_map { CERT_MAP_EMAIL, CERT_MAP_CN } tls_client_cert_map;
	char *tls_client_cert_domain; /* appended to a CN without '@', or NULL */

	/* [limits]: the whole server's, every service applies them */
	unsigned max_connections; /* whole server */
	unsigned max_connections_per_ip;
	unsigned idle_timeout;	      /* seconds; RFC 1939 §3 asks >= 600 for POP3 */
	unsigned line_deadline;	      /* seconds from a command line's first byte to its end */
	unsigned data_deadline;	      /* seconds for all of one DATA or BDAT chunk */
	unsigned min_data_rate;	      /* bytes each data_rate_window of DATA must bring; 0 off */
	unsigned data_rate_window;    /* seconds */
	unsigned auth_fail_delay_max; /* seconds; the login brake doubles up to this */
	unsigned auth_fail_delay_ms;  /* the login brake's wait after one failure */
	unsigned auth_cache_ttl;      /* seconds a successful password check is reused */
	unsigned auth_cache_size;     /* successful checks held at most */
	unsigned auth_queue_wait;     /* seconds a password check may wait for a worker; 0 any */
};

/* A section's fields in this configuration. Asking for a section the
   schema does not list is a program error and aborts. */
const void *config_part(const struct config *c, const struct config_section *s);
/* The addresses of the [listen] key NAME ("pop3s"), or NULL if there is no
   such key. */
const struct listen_list *config_listen(const struct config *c, const char *name);
/* The names of the [listen] keys in schema order, up to cap; their count. */
size_t config_listen_names(const struct config *c, const char **names, size_t cap);

/* path may be NULL: then ./mailroom.conf if it exists, else the system
   config of a packaged build (CMake MAILROOM_SYSTEM_CONFIG) if it exists,
   else defaults. Returns 0, or -1 with a malloc'd message in *err_r
   (caller frees). */
int config_load(const struct config_schema *schema, const char *path, struct config *cfg,
		char **err_r);
/* The file config_load(NULL) reads: ./mailroom.conf if it exists, else
   system_path (may be NULL) if it exists; NULL: the built-in defaults. */
const char *config_default_path(const char *system_path);
/* Parse config text (for tests and fuzzing); `name` is used in messages and
   as the base for relative paths. */
int config_parse(const struct config_schema *schema, const char *name, const char *text, size_t len,
		 struct config *cfg, char **err_r);
void config_free(struct config *cfg);

struct buf;
/* The effective configuration as INI text that config_parse() reads back:
   every key on one line, defaults included, paths absolute; an optional
   key that is not set is a comment ("; postmaster is not set"). */
void config_write(const struct config *cfg, struct buf *out);
/* Calls fn with "section.key" for every key whose value differs. */
void config_diff(const struct config *a, const struct config *b,
		 void (*fn)(const char *key, void *arg), void *arg);

/* Checks for CONFIG_STR keys, shared by the parts: NULL or a message. */
const char *config_check_host(const char *v);	/* a host name or IPv4 address */
const char *config_check_domain(const char *v); /* a domain name with a dot */
/* "host:port", "[v6]:port" or "*:port" (resolved at bind, not here) */
bool config_addr_valid(const char *a);

/* Value parsers, shared with the CLI. Return 0 or -1. */
int config_parse_size(const char *s, uint64_t *v_r);
int config_parse_duration(const char *s, unsigned *secs_r);
int config_parse_bool(const char *s, bool *v_r);

#endif
