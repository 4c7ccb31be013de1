/* SPDX-License-Identifier: MIT */
/*
 * test_services.c - the services `mailroom serve` runs (server/services.h,
 * proto/service.h): each has a name, an ALPN id (1..255 octets, RFC 7301
 * §3.1) and every call; port names are unique over all services and each is
 * a [listen] key of the config; a plaintext port's busy line is one line
 * ending in CRLF, an implicit-TLS port has none (plaintext would confuse the
 * handshake); the list holds POP3 and SMTP with the ports of SPEC §1.
 */
#include "proto/service.h"
#include "server/schema.h"
#include "server/services.h"
#include "test_common.h"
#include "util/config.h"

#include <string.h>

static void test_table(void)
{
	struct config cfg;
	char *err = NULL;
	const char *seen[SERVER_SERVICES_MAX * 8];
	size_t n_seen = 0;

	test_begin("services: names, ALPN ids, calls, ports");
	test_assert(config_load(server_schema(), NULL, &cfg, &err) == 0);
	test_assert(server_n_services >= 2 && server_n_services <= SERVER_SERVICES_MAX);
	for (size_t i = 0; i < server_n_services; i++) {
		const struct service *s = server_services[i];
		test_assert(s->name != NULL && s->name[0] != '\0');
		test_assert(s->alpn != NULL && strlen(s->alpn) >= 1 && strlen(s->alpn) <= 255);
		test_assert(s->create != NULL && s->session != NULL && s->sessions != NULL &&
			    s->shutdown != NULL && s->destroy != NULL);
		test_assert(s->n_ports >= 1);
		/* its own section is part of mailroom.conf */
		if (s->config != NULL)
			test_assert(config_part(&cfg, s->config) != NULL);
		for (size_t p = 0; p < s->n_ports; p++) {
			const struct service_port *port = &s->ports[p];
			for (size_t k = 0; k < n_seen; k++)
				test_assert(strcmp(seen[k], port->name) != 0);
			if (n_seen < sizeof(seen) / sizeof(seen[0]))
				seen[n_seen++] = port->name;
			/* the port's default address is its [listen] key's default */
			const struct listen_list *addrs = config_listen(&cfg, port->name);
			test_assert(addrs != NULL && port->listen != NULL);
			if (addrs != NULL && strcmp(port->listen, "off") != 0)
				test_assert(addrs->count == 1 &&
					    strcmp(addrs->addrs[0], port->listen) == 0);
			if (port->implicit_tls) {
				test_assert(port->busy == NULL);
			} else if (port->busy != NULL) {
				size_t l = strlen(port->busy);
				test_assert(l > 2 && strcmp(port->busy + l - 2, "\r\n") == 0);
				test_assert(strchr(port->busy, '\n') == port->busy + l - 1);
			}
		}
	}
	test_assert(config_listen(&cfg, "no-such-port") == NULL);
	config_free(&cfg);
	test_end();
}

static const struct service *find(const char *name)
{
	for (size_t i = 0; i < server_n_services; i++)
		if (strcmp(server_services[i]->name, name) == 0)
			return server_services[i];
	return NULL;
}

static void test_spec_ports(void)
{
	static const struct {
		const char *service, *port;
		bool tls;
	} want[] = {
	    {"pop3", "pop3", false},	   {"pop3", "pop3s", true},	  {"smtp", "smtp", false},
	    {"smtp", "submission", false}, {"smtp", "submissions", true},
	};

	test_begin("services: POP3 and SMTP with the ports of SPEC 1");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct service *s = find(want[i].service);
		test_assert(s != NULL);
		if (s == NULL)
			continue;
		test_assert_str(s->alpn, want[i].service);
		bool found = false;
		for (size_t p = 0; p < s->n_ports; p++)
			if (strcmp(s->ports[p].name, want[i].port) == 0)
				found = s->ports[p].implicit_tls == want[i].tls;
		test_assert(found);
	}
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_table, test_spec_ports, NULL});
}
