/* SPDX-License-Identifier: MIT */
/*
 * fuzz_mime_tree.c - libFuzzer target for the MIME structure
 * (mime/mime_tree.h) and the FETCH items made from it
 * (imap/imap_fetch_struct.h). Checks: every part lies inside the message
 * and inside its parent, children in order, within the depth and part
 * limits; serialising and reading back gives the same tree and the same
 * bytes again; ENVELOPE, BODY and BODYSTRUCTURE are well-formed IMAP
 * (balanced parentheses outside strings, quoted strings without CR, LF,
 * NUL or 8-bit octets, literals of the length they announce) and the same
 * from the read-back tree; section ranges stay inside the message.
 *
 * Input that starts with "MRMT" is also read as a serialised tree, with
 * its checksum recomputed first so that the fuzzer reaches the structure
 * checks behind it: whatever they accept must be safe to render.
 */
#include "fuzz.h"
#include "imap/imap_fetch_struct.h"
#include "mime/mime_tree.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Well-formed IMAP: strings and literals skipped, lists balanced. */
static void check_imap(const struct buf *v)
{
	const char *p = v->data;
	size_t n = v->len, depth = 0;

	CHECK(n >= 2 && p[0] == '(' && p[n - 1] == ')');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '"') {
			for (i++; i < n && p[i] != '"'; i++) {
				unsigned char q = (unsigned char)p[i];
				CHECK(q != '\r' && q != '\n' && q != 0 && q < 0x80);
				if (q == '\\') {
					i++;
					CHECK(i < n && (p[i] == '\\' || p[i] == '"'));
				}
			}
			CHECK(i < n);
		} else if (c == '{') {
			size_t len = 0;
			for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++)
				len = len * 10 + (size_t)(p[i] - '0');
			CHECK(i + 2 < n && p[i] == '}' && p[i + 1] == '\r' && p[i + 2] == '\n');
			i += 2;
			CHECK(len <= n - i - 1);
			CHECK(memchr(p + i + 1, '\0', len) == NULL);
			i += len;
		} else if (c == '(') {
			depth++;
		} else if (c == ')') {
			CHECK(depth > 0);
			depth--;
		} else {
			CHECK(c >= 0x20 && c < 0x7f);
		}
	}
	CHECK(depth == 0);
}

static void render(const struct mime_tree *t, struct buf out[3])
{
	for (int i = 0; i < 3; i++)
		buf_clear(&out[i]);
	imap_envelope_write(mime_tree_root(t), &out[0]);
	imap_body_write(t, 0, &out[1]);
	imap_bodystructure_write(t, IMAP_STRUCT_REV2, &out[2]);
	for (int i = 0; i < 3; i++)
		check_imap(&out[i]);
}

static void check_tree(const struct mime_tree *t, size_t size)
{
	size_t n = mime_tree_count(t);
	CHECK(n >= 1 && n <= MIME_TREE_MAX_PARTS && mime_tree_msg_size(t) == size);
	for (size_t i = 0; i < n; i++) {
		const struct mime_part *p = mime_tree_part(t, i);
		CHECK(p->depth <= MIME_MAX_DEPTH);
		CHECK(p->body_off == p->hdr_off + p->hdr_len && p->body_off + p->body_len <= size);
		CHECK(p->body_lines <= p->body_len && p->body_size >= p->body_len);
		size_t at = p->body_off, kids = 0;
		for (const struct mime_part *c = p->children; c != NULL; c = c->next, kids++) {
			CHECK(c->parent == p && c->depth == p->depth + 1 && c->hdr_off >= at);
			at = c->body_off + c->body_len;
			CHECK(at <= p->body_off + p->body_len);
		}
		CHECK(kids == p->n_children);
		if (p->flags & MIME_PART_MESSAGE)
			CHECK(kids == 1 && p->children->envelope != NULL);
	}
	static const char *const sections[] = {"1", "2", "1.1", "1.2", "2.1", "1.1.1", "3.2.1"};
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		for (int what = MIME_SECTION_PART; what <= MIME_SECTION_MIME; what++) {
			size_t off, len;
			if (mime_tree_section(t, sections[i], strlen(sections[i]),
					      (enum mime_section)what, &off, &len))
				CHECK(off <= size && len <= size - off);
		}
}

/* The input as a serialised tree, its CRC-32 made right. */
static void as_blob(const uint8_t *data, size_t size)
{
	struct mime_tree *t = NULL;
	struct buf b = {0}, out[3] = {{0}};
	const char *err;

	buf_append(&b, data, size);
	if (size >= 8) {
		uint32_t c = 0xffffffffu;
		for (size_t i = 0; i < size - 4; i++) {
			c ^= data[i];
			for (int k = 0; k < 8; k++)
				c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
		}
		c ^= 0xffffffffu;
		for (int i = 0; i < 4; i++)
			b.data[size - 4 + i] = (char)(c >> (8 * i));
	}
	if (mime_tree_deserialize(b.data, b.len, &t, &err) == 0) {
		check_tree(t, mime_tree_msg_size(t));
		render(t, out);
	}
	mime_tree_free(&t);
	buf_free(&b);
	for (int i = 0; i < 3; i++)
		buf_free(&out[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct buf blob = {0}, again = {0}, a[3] = {{0}}, b[3] = {{0}};
	struct mime_tree *t = mime_tree_parse(size > 0 ? p : "", size), *back = NULL;
	const char *err;

	check_tree(t, size);
	mime_tree_serialize(t, &blob);
	CHECK(mime_tree_deserialize(blob.data, blob.len, &back, &err) == 0);
	CHECK(mime_tree_equal(t, back));
	mime_tree_serialize(back, &again);
	CHECK(again.len == blob.len && memcmp(again.data, blob.data, blob.len) == 0);
	render(t, a);
	render(back, b);
	for (int i = 0; i < 3; i++)
		CHECK(a[i].len == b[i].len && memcmp(a[i].data, b[i].data, a[i].len) == 0);
	if (size >= 4 && memcmp(data, "MRMT", 4) == 0)
		as_blob(data, size);
	mime_tree_free(&t);
	mime_tree_free(&back);
	buf_free(&blob);
	buf_free(&again);
	for (int i = 0; i < 3; i++) {
		buf_free(&a[i]);
		buf_free(&b[i]);
	}
	return 0;
}
