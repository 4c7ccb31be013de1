/* SPDX-License-Identifier: MIT */
/*
 * mime_tree_blob.c - the serialised form of a MIME tree (mime_tree.h),
 * what the store keeps beside a message so that FETCH BODYSTRUCTURE
 * needs no parse. Layout (all integers little-endian; docs/imap.md):
 *
 *   "MRMT" u8 version=1 u8[3]=0  u64 msg_size
 *   u32 parts  u32 params  u32 strs  u32 envelopes  u32 pool_len
 *   parts x { u64 hdr_off hdr_len body_len hdr_lines body_lines hdr_size
 *             body_size; u32 flags parent; u32 str[8]; u32 params n_params
 *             disp n_disp lang n_lang envelope }                  124 bytes
 *   params x { u32 name value }                                     8 bytes
 *   strs x { u32 ref len }                                          8 bytes
 *   envelopes x { u32 str[4]; u32 list[6]; u32 n_list[6] }         64 bytes
 *   pool (NUL-terminated strings; a ref is offset + 1, 0 is NULL)
 *   u32 CRC-32 (IEEE 802.3) of everything before it
 *
 * Reading checks the length, the checksum, then every count, index,
 * string reference and offset before anything uses them: the records
 * must describe a tree in pre-order within msg_size, so that a blob that
 * is damaged but checksums right still cannot make a reader go wrong.
 */
#include "mime/mime_private.h"

#include <stdlib.h>
#include <string.h>

#define MAGIC "MRMT"
#define HEAD_LEN 36
#define PART_LEN 124
#define PARAM_LEN 8
#define STR_LEN 8
#define ENV_LEN 64
#define KNOWN_FLAGS 0x3fu

/* --- CRC-32, four bits at a time --------------------------------------------- */

static uint32_t crc32(const unsigned char *p, size_t n)
{
	static const uint32_t tab[16] = {
	    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
	    0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
	    0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
	};
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		c = (c >> 4) ^ tab[c & 15];
		c = (c >> 4) ^ tab[c & 15];
	}
	return c ^ 0xffffffffu;
}

/* --- writing ---------------------------------------------------------------------- */

static void put32(struct buf *b, uint32_t v)
{
	unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 24)};
	buf_append(b, x, 4);
}

static void put64(struct buf *b, uint64_t v)
{
	put32(b, (uint32_t)v);
	put32(b, (uint32_t)(v >> 32));
}

void mime_tree_serialize(const struct mime_tree *t, struct buf *out)
{
	size_t start = out->len;

	buf_reserve(out, HEAD_LEN + t->n_recs * PART_LEN + t->n_prm * PARAM_LEN +
			     t->n_strs * STR_LEN + t->n_envs * ENV_LEN + t->pool.len + 4);
	buf_append(out, MAGIC, 4);
	put32(out, MIME_TREE_FORMAT);
	put64(out, t->msg_size);
	put32(out, (uint32_t)t->n_recs);
	put32(out, (uint32_t)t->n_prm);
	put32(out, (uint32_t)t->n_strs);
	put32(out, (uint32_t)t->n_envs);
	put32(out, (uint32_t)t->pool.len);
	for (size_t i = 0; i < t->n_recs; i++) {
		const struct part_rec *r = &t->recs[i];
		put64(out, r->hdr_off);
		put64(out, r->hdr_len);
		put64(out, r->body_len);
		put64(out, r->hdr_lines);
		put64(out, r->body_lines);
		put64(out, r->hdr_size);
		put64(out, r->body_size);
		put32(out, r->flags);
		put32(out, r->parent);
		for (int k = 0; k < PS_COUNT; k++)
			put32(out, r->str[k]);
		put32(out, r->params);
		put32(out, r->n_params);
		put32(out, r->disp);
		put32(out, r->n_disp);
		put32(out, r->lang);
		put32(out, r->n_lang);
		put32(out, r->envelope);
	}
	for (size_t i = 0; i < t->n_prm; i++) {
		put32(out, t->prm[i].name);
		put32(out, t->prm[i].value);
	}
	for (size_t i = 0; i < t->n_strs; i++) {
		put32(out, t->strs[i].ref);
		put32(out, t->strs[i].len);
	}
	for (size_t i = 0; i < t->n_envs; i++) {
		const struct env_rec *e = &t->envs[i];
		for (int k = 0; k < ES_COUNT; k++)
			put32(out, e->str[k]);
		for (int k = 0; k < EL_COUNT; k++)
			put32(out, e->list[k]);
		for (int k = 0; k < EL_COUNT; k++)
			put32(out, e->n_list[k]);
	}
	buf_append(out, t->pool.data, t->pool.len);
	put32(out, crc32((const unsigned char *)out->data + start, out->len - start));
}

/* --- reading ---------------------------------------------------------------------- */

struct rd {
	const unsigned char *p;
	size_t pos;
};

static uint32_t get32(struct rd *r)
{
	const unsigned char *x = r->p + r->pos;
	r->pos += 4;
	return (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
}

static uint64_t get64(struct rd *r)
{
	uint64_t lo = get32(r);
	return lo | (uint64_t)get32(r) << 32;
}

static bool ref_ok(const struct mime_tree *t, uint32_t ref, bool nullable)
{
	return ref == 0 ? nullable : ref - 1 < t->pool.len;
}

static bool span_ok(uint32_t first, uint32_t n, size_t count)
{
	return (uint64_t)first + n <= count;
}

/* Everything a record says, against the records before it. */
static const char *check_part(const struct mime_tree *t, size_t i, uint64_t *end, uint64_t *last,
			      unsigned *depth, uint32_t *kids)
{
	const struct part_rec *r = &t->recs[i];
	uint64_t body = r->hdr_off + r->hdr_len;

	if (r->hdr_off > t->msg_size || r->hdr_len > t->msg_size || r->body_len > t->msg_size ||
	    body + r->body_len > t->msg_size)
		return "part outside the message";
	end[i] = body + r->body_len;
	last[i] = body;
	if ((r->flags & ~KNOWN_FLAGS) != 0 ||
	    (r->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) ==
		(MIME_PART_MULTIPART | MIME_PART_MESSAGE))
		return "bad flags";
	if (r->hdr_lines > r->hdr_len || r->hdr_size < r->hdr_len ||
	    r->hdr_size - r->hdr_len > r->hdr_lines || r->body_lines > r->body_len ||
	    r->body_size < r->body_len || r->body_size - r->body_len > r->body_lines)
		return "bad sizes";
	for (int k = 0; k < PS_COUNT; k++)
		if (!ref_ok(t, r->str[k], true))
			return "bad string";
	if (!span_ok(r->params, r->n_params, t->n_prm) || !span_ok(r->disp, r->n_disp, t->n_prm) ||
	    !span_ok(r->lang, r->n_lang, t->n_strs) || r->envelope > t->n_envs)
		return "bad list";
	if (i == 0) {
		if (r->parent != NO_PARENT || r->hdr_off != 0 || end[0] != t->msg_size)
			return "bad root";
		depth[0] = 0;
		return NULL;
	}
	uint32_t par = r->parent;
	if (par >= i)
		return "bad parent";
	/* pre-order: the parent is the previous part or one of its ancestors */
	size_t a = i - 1;
	while (a != par && t->recs[a].parent != NO_PARENT)
		a = t->recs[a].parent;
	if (a != par)
		return "not in order";
	const struct part_rec *pr = &t->recs[par];
	if ((pr->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) == 0)
		return "children of a leaf";
	if ((pr->flags & MIME_PART_MESSAGE) && kids[par] > 0)
		return "two messages in one";
	if (r->hdr_off < last[par] || end[i] > end[par])
		return "part outside its parent";
	if ((pr->flags & MIME_PART_MESSAGE) && r->hdr_off != pr->hdr_off + pr->hdr_len)
		return "message part misplaced";
	depth[i] = depth[par] + 1;
	if (depth[i] > MIME_MAX_DEPTH)
		return "too deep";
	last[par] = end[i];
	kids[par]++;
	return NULL;
}

static void read_records(struct mime_tree *t, struct rd *rd)
{
	for (size_t i = 0; i < t->n_recs; i++) {
		struct part_rec *r = &t->recs[i];
		r->hdr_off = get64(rd);
		r->hdr_len = get64(rd);
		r->body_len = get64(rd);
		r->hdr_lines = get64(rd);
		r->body_lines = get64(rd);
		r->hdr_size = get64(rd);
		r->body_size = get64(rd);
		r->flags = get32(rd);
		r->parent = get32(rd);
		for (int k = 0; k < PS_COUNT; k++)
			r->str[k] = get32(rd);
		r->params = get32(rd);
		r->n_params = get32(rd);
		r->disp = get32(rd);
		r->n_disp = get32(rd);
		r->lang = get32(rd);
		r->n_lang = get32(rd);
		r->envelope = get32(rd);
	}
	for (size_t i = 0; i < t->n_prm; i++) {
		t->prm[i].name = get32(rd);
		t->prm[i].value = get32(rd);
	}
	for (size_t i = 0; i < t->n_strs; i++) {
		t->strs[i].ref = get32(rd);
		t->strs[i].len = get32(rd);
	}
	for (size_t i = 0; i < t->n_envs; i++) {
		struct env_rec *e = &t->envs[i];
		for (int k = 0; k < ES_COUNT; k++)
			e->str[k] = get32(rd);
		for (int k = 0; k < EL_COUNT; k++)
			e->list[k] = get32(rd);
		for (int k = 0; k < EL_COUNT; k++)
			e->n_list[k] = get32(rd);
	}
}

static const char *check(struct mime_tree *t)
{
	if (t->pool.len == 0 || t->pool.data[0] != '\0' || t->pool.data[t->pool.len - 1] != '\0')
		return "bad string pool";
	for (size_t i = 0; i < t->n_prm; i++)
		if (!ref_ok(t, t->prm[i].name, false) || !ref_ok(t, t->prm[i].value, false))
			return "bad parameter";
	for (size_t i = 0; i < t->n_strs; i++) {
		const struct str_rec *sr = &t->strs[i];
		if (!ref_ok(t, sr->ref, false) || (uint64_t)sr->ref - 1 + sr->len >= t->pool.len ||
		    t->pool.data[sr->ref - 1 + sr->len] != '\0')
			return "bad string";
	}
	for (size_t i = 0; i < t->n_envs; i++) {
		const struct env_rec *e = &t->envs[i];
		for (int k = 0; k < ES_COUNT; k++)
			if (!ref_ok(t, e->str[k], true))
				return "bad string";
		for (int k = 0; k < EL_COUNT; k++)
			if (!span_ok(e->list[k], e->n_list[k], t->n_strs))
				return "bad list";
	}
	uint64_t *end = xcalloc(t->n_recs, sizeof(*end)), *last = xcalloc(t->n_recs, sizeof(*last));
	unsigned *depth = xcalloc(t->n_recs, sizeof(*depth));
	uint32_t *kids = xcalloc(t->n_recs, sizeof(*kids));
	const char *err = NULL;
	for (size_t i = 0; i < t->n_recs && err == NULL; i++)
		err = check_part(t, i, end, last, depth, kids);
	for (size_t i = 0; i < t->n_recs && err == NULL; i++)
		if ((t->recs[i].flags & MIME_PART_MESSAGE) && kids[i] != 1)
			err = "message part without its message";
	free(end);
	free(last);
	free(depth);
	free(kids);
	return err;
}

int mime_tree_deserialize(const void *data, size_t len, struct mime_tree **t_r, const char **err_r)
{
	const unsigned char *p = data;
	struct rd rd = {p, 0};

	*t_r = NULL;
	if (len < HEAD_LEN + 4 || memcmp(p, MAGIC, 4) != 0) {
		*err_r = "not a MIME structure";
		return -1;
	}
	rd.pos = 4;
	if (get32(&rd) != MIME_TREE_FORMAT) {
		*err_r = "unknown MIME structure version";
		return -1;
	}
	uint64_t msg_size = get64(&rd);
	uint32_t n_recs = get32(&rd), n_prm = get32(&rd), n_strs = get32(&rd);
	uint32_t n_envs = get32(&rd), pool_len = get32(&rd);
	uint64_t need = (uint64_t)HEAD_LEN + (uint64_t)n_recs * PART_LEN +
			(uint64_t)n_prm * PARAM_LEN + (uint64_t)n_strs * STR_LEN +
			(uint64_t)n_envs * ENV_LEN + pool_len + 4;
	if (need != len) {
		*err_r = "MIME structure of the wrong length";
		return -1;
	}
	struct rd tail = {p, len - 4};
	if (crc32(p, len - 4) != get32(&tail)) {
		*err_r = "MIME structure checksum mismatch";
		return -1;
	}
	if (n_recs == 0 || n_recs > MIME_TREE_MAX_PARTS || msg_size > SIZE_MAX) {
		*err_r = "bad MIME structure counts";
		return -1;
	}
	struct mime_tree *t = xcalloc(1, sizeof(*t));
	t->msg_size = msg_size;
	t->n_recs = t->cap_recs = n_recs;
	t->n_prm = t->cap_prm = n_prm;
	t->n_strs = t->cap_strs = n_strs;
	t->n_envs = t->cap_envs = n_envs;
	t->recs = xcalloc(n_recs, sizeof(*t->recs));
	t->prm = xcalloc(n_prm + 1, sizeof(*t->prm));
	t->strs = xcalloc(n_strs + 1, sizeof(*t->strs));
	t->envs = xcalloc(n_envs + 1, sizeof(*t->envs));
	rd.pos = HEAD_LEN;
	read_records(t, &rd);
	buf_append(&t->pool, p + rd.pos, pool_len);
	const char *err = check(t);
	if (err != NULL) {
		mime_tree_free(&t);
		*err_r = err;
		return -1;
	}
	mime_tree_finish(t);
	*t_r = t;
	return 0;
}
