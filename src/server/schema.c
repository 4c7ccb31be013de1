/* SPDX-License-Identifier: MIT */
/* schema.c - see schema.h. */
#include "server/schema.h"
#include "admin/admin.h"
#include "directory/dir_config.h"
#include "filter/filter.h"
#include "proto/sasl.h"
#include "queue/queue.h"
#include "server/services.h"
#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* [listen]'s keys come from the services' ports, so they are laid out
   once, at the first call, and never change after. */
static struct {
	struct config_schema schema;
	struct config_key listen_keys[CONFIG_LISTEN_MAX];
	struct config_section listen;
} built;
static pthread_once_t built_once = PTHREAD_ONCE_INIT;

static void add(const struct config_section *s)
{
	if (built.schema.n_sections == CONFIG_SECTIONS_MAX) {
		fprintf(stderr, "schema: raise CONFIG_SECTIONS_MAX\n");
		abort();
	}
	built.schema.sections[built.schema.n_sections++] = s;
}

static void build(void)
{
	size_t n = 0;

	for (size_t i = 0; i < server_n_services; i++)
		for (size_t p = 0; p < server_services[i]->n_ports; p++) {
			const struct service_port *port = &server_services[i]->ports[p];
			if (n == CONFIG_LISTEN_MAX) {
				fprintf(stderr, "schema: raise CONFIG_LISTEN_MAX\n");
				abort();
			}
			built.listen_keys[n] = (struct config_key){
			    .name = port->name,
			    .type = CONFIG_ADDRS,
			    .off = config_listen_offset(n),
			    .def = port->listen,
			};
			n++;
		}
	built.listen =
	    (struct config_section){.name = "listen", .keys = built.listen_keys, .n_keys = n};

	add(&config_server_section);
	add(&built.listen);
	add(&config_tls_section);
	add(&config_limits_section);
	for (size_t i = 0; i < server_n_services; i++)
		if (server_services[i]->config != NULL)
			add(server_services[i]->config);
	add(&delivery_config_section);
	add(&store_config_section);
	add(&node_config_section);
	add(&directory_config_section);
	add(&ldap_config_section);
	add(&pam_config_section);
	add(&passwdfile_config_section);
	add(&gssapi_config_section);
	add(&filter_config_section);
	add(&metrics_config_section);
}

const struct config_schema *server_schema(void)
{
	pthread_once(&built_once, build);
	return &built.schema;
}
