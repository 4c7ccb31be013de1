/* SPDX-License-Identifier: MIT */
/*
 * imap_struct_dump.c - mailroom's ENVELOPE, BODY and BODYSTRUCTURE of
 * message files, for tests/proto/test_imap_struct.py (compared there with
 * a real Dovecot's FETCH answers).
 *
 *   imap_struct_dump [--rev2] FILE...
 *   imap_struct_dump --blob FILE      (the serialised tree, on stdout)
 * For each file, as it is on disk (wire form or bare LF), prints
 *   FILE <path>\n
 * then three items, each "<NAME> <length>\n" and that many octets (the
 * value as a FETCH response carries it, literals included) and "\n".
 * The values are rendered from the tree after a serialise / deserialise
 * round trip, the way the store's cached form will be used; the tool
 * exits 1 if that round trip changes the tree or the output.
 */
#include "imap/imap_fetch_struct.h"
#include "mime/mime_tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_file(const char *path, struct buf *b)
{
	FILE *f = fopen(path, "rb");
	char chunk[65536];
	size_t n;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(b, chunk, n);
	fclose(f);
	return 0;
}

static void item(const char *name, const struct buf *v)
{
	printf("%s %zu\n", name, v->len);
	fwrite(v->data, 1, v->len, stdout);
	putchar('\n');
}

static void render(const struct mime_tree *t, unsigned flags, struct buf out[3])
{
	for (int i = 0; i < 3; i++)
		buf_clear(&out[i]);
	imap_envelope_write(mime_tree_root(t), &out[0]);
	imap_body_write(t, flags, &out[1]);
	imap_bodystructure_write(t, flags, &out[2]);
}

static int dump(const char *path, unsigned flags)
{
	struct buf msg = {0}, blob = {0}, a[3] = {{0}}, b[3] = {{0}};
	struct mime_tree *t, *back = NULL;
	const char *err;
	int ret = 0;

	if (read_file(path, &msg) < 0)
		return 1;
	t = mime_tree_parse(msg.data != NULL ? msg.data : "", msg.len);
	mime_tree_serialize(t, &blob);
	if (mime_tree_deserialize(blob.data, blob.len, &back, &err) < 0) {
		fprintf(stderr, "%s: deserialise: %s\n", path, err);
		ret = 1;
	} else if (!mime_tree_equal(t, back)) {
		fprintf(stderr, "%s: the tree changed in the round trip\n", path);
		ret = 1;
	} else {
		render(t, flags, a);
		render(back, flags, b);
		for (int i = 0; i < 3; i++)
			if (a[i].len != b[i].len || memcmp(a[i].data, b[i].data, a[i].len) != 0)
				ret = 1;
		printf("FILE %s\n", path);
		item("ENVELOPE", &b[0]);
		item("BODY", &b[1]);
		item("BODYSTRUCTURE", &b[2]);
	}
	mime_tree_free(&t);
	mime_tree_free(&back);
	buf_free(&msg);
	buf_free(&blob);
	for (int i = 0; i < 3; i++) {
		buf_free(&a[i]);
		buf_free(&b[i]);
	}
	return ret;
}

static int blob(const char *path)
{
	struct buf msg = {0}, out = {0};

	if (read_file(path, &msg) < 0)
		return 1;
	struct mime_tree *t = mime_tree_parse(msg.data != NULL ? msg.data : "", msg.len);
	mime_tree_serialize(t, &out);
	fwrite(out.data, 1, out.len, stdout);
	mime_tree_free(&t);
	buf_free(&msg);
	buf_free(&out);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned flags = 0;
	int ret = 0, i = 1;

	if (argc == 3 && strcmp(argv[1], "--blob") == 0)
		return blob(argv[2]);
	if (i < argc && strcmp(argv[i], "--rev2") == 0) {
		flags |= IMAP_STRUCT_REV2;
		i++;
	}
	if (i == argc) {
		fprintf(stderr, "usage: imap_struct_dump [--rev2] FILE... | --blob FILE\n");
		return 2;
	}
	for (; i < argc; i++)
		ret |= dump(argv[i], flags);
	return ret;
}
