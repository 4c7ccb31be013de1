/* SPDX-License-Identifier: MIT */
/*
 * spf_probe.c - runs filter/spf.h against a DNS table, for
 * tests/proto/test_spf.py (the same table given to pyspf).
 *
 *   spf_probe ZONEFILE
 * The zone has one record a line, tab-separated: NAME TYPE VALUE, TYPE one
 * of A AAAA MX PTR TXT, an MX value "PREF HOST", a VALUE of TEMP making
 * that question unanswered. A name in the table without the type asked is
 * NODATA, a name not in it NXDOMAIN. Then one check a line on stdin,
 * IP TAB SENDER TAB HELO, and one line out each: the result's name.
 */
#include "filter/spf.h"
#include "spf_zone.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_RR 512

static struct spf_rr zone[MAX_RR];
static char names[MAX_RR][DNS_NAME_MAX], values[MAX_RR][1024];
static size_t n_zone;

static enum dns_type type_of(const char *s)
{
	static const struct {
		const char *n;
		enum dns_type t;
	} types[] = {{"A", DNS_TYPE_A},
		     {"AAAA", DNS_TYPE_AAAA},
		     {"MX", DNS_TYPE_MX},
		     {"PTR", DNS_TYPE_PTR},
		     {"TXT", DNS_TYPE_TXT}};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(s, types[i].n) == 0)
			return types[i].t;
	return 0;
}

int main(int argc, char **argv)
{
	char line[2048];
	FILE *f = argc == 2 ? fopen(argv[1], "r") : NULL;

	if (f == NULL) {
		fprintf(stderr, "usage: spf_probe ZONEFILE\n");
		return 2;
	}
	while (fgets(line, sizeof(line), f) != NULL && n_zone < MAX_RR) {
		line[strcspn(line, "\r\n")] = '\0';
		char *t1 = strchr(line, '\t'), *t2 = t1 != NULL ? strchr(t1 + 1, '\t') : NULL;
		if (t2 == NULL)
			continue;
		*t1 = *t2 = '\0';
		snprintf(names[n_zone], sizeof(names[n_zone]), "%.255s", line);
		snprintf(values[n_zone], sizeof(values[n_zone]), "%.1023s", t2 + 1);
		zone[n_zone] = (struct spf_rr){names[n_zone], type_of(t1 + 1), values[n_zone]};
		n_zone++;
	}
	fclose(f);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		char *t1 = strchr(line, '\t'), *t2 = t1 != NULL ? strchr(t1 + 1, '\t') : NULL;
		uint8_t ip[16];
		if (t2 == NULL)
			continue;
		*t1 = *t2 = '\0';
		int family = strchr(line, ':') != NULL ? AF_INET6 : AF_INET;
		if (inet_pton(family, line, ip) != 1) {
			printf("badip\n");
			continue;
		}
		struct spf *s = spf_new(family, ip, t1 + 1, t2 + 1);
		const struct dns_question *q;
		while ((q = spf_next(s)) != NULL) {
			struct dns_answer a;
			spf_zone_answer(zone, n_zone, q, &a);
			spf_answer(s, &a);
			dns_answer_free(&a);
		}
		printf("%s\n", spf_result_name(spf_result(s)));
		fflush(stdout);
		spf_free(&s);
	}
	return 0;
}
