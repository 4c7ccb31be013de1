/* SPDX-License-Identifier: MIT */
/*
 * srs_probe.c - calls delivery/srs.h directly, for tests/proto/test_srs_perl.py
 * (the same addresses checked against Perl's Mail::SRS).
 *
 *   srs_probe HEXKEY
 * reads one request per line on stdin, tab-separated, and answers one line
 * each on stdout: the function's return value, a tab, and its output (empty
 * unless the value says there is one):
 *   forward SENDER DOMAIN NOW  -> 0|1|-1 ADDRESS
 *   reverse ADDRESS NOW        -> 1|0|-1 ADDRESS
 * An empty SENDER field is the null sender.
 */
#include "delivery/srs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hex_key(const char *s, unsigned char *key)
{
	if (strlen(s) != 2 * SRS_KEY_LEN)
		return -1;
	for (size_t i = 0; i < SRS_KEY_LEN; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		key[i] = (unsigned char)v;
	}
	return 0;
}

/* The next tab-separated field of *line (the rest, for the last one). */
static char *field(char **line)
{
	char *f = *line, *tab;
	if (f == NULL)
		return NULL;
	tab = strchr(f, '\t');
	if (tab != NULL)
		*tab++ = '\0';
	*line = tab;
	return f;
}

int main(int argc, char **argv)
{
	unsigned char key[SRS_KEY_LEN];
	char line[8192], out[8192];

	if (argc != 2 || hex_key(argv[1], key) < 0) {
		fprintf(stderr, "usage: srs_probe HEXKEY (%d octets)\n", SRS_KEY_LEN);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		char *rest = line, *cmd = field(&rest), *a = field(&rest), *b = field(&rest);
		char *c = field(&rest);
		int r;
		out[0] = '\0';
		if (strcmp(cmd, "forward") == 0 && c != NULL)
			r = srs_forward(key, SRS_KEY_LEN, a, b, strtoll(c, NULL, 10), out,
					sizeof(out));
		else if (strcmp(cmd, "reverse") == 0 && b != NULL)
			r = srs_reverse(key, SRS_KEY_LEN, a, strtoll(b, NULL, 10), out,
					sizeof(out));
		else {
			fprintf(stderr, "srs_probe: bad request\n");
			return 2;
		}
		printf("%d\t%s\n", r, r >= 0 ? out : "");
	}
	return 0;
}
