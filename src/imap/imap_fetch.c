/* SPDX-License-Identifier: MIT */
/*
 * imap_fetch.c - FETCH and UID FETCH (RFC 9051 §6.4.5): the items, how a
 * message's structure and sections are found, and the reply in steps.
 *
 * The reply is made in batches: one worker job reads the flags of up to
 * FETCH_BATCH messages (FETCH_BATCH_META when only flags, sizes and dates
 * are asked for), whose UIDs lie within FETCH_SPAN of each other, so a job
 * reads that part of the folder's index and no more. For the items that
 * need them it also reads each message's bytes (up to FETCH_BATCH_OCTETS
 * a job) and its MIME structure: the store's cached tree, made at delivery
 * (store.h store_body_mime_get), or parsed and cached here for a body
 * stored before that. CHANGEDSINCE narrows the UIDs to the changed ones
 * once, in the first job. The loop writes a batch's untagged FETCH lines
 * and asks for the next batch only once the output has drained, so a
 * session holds one batch at a time whatever the folder's size; nothing is
 * parsed on the loop's thread.
 *
 * A body item without .PEEK on a read-write folder sets \Seen (in the same
 * job, before the read), and the reply then carries FLAGS too (§6.4.5).
 * Messages expunged by another session between the SELECT view and the
 * read are left out of the reply (RFC 9051 §7.5.1 forbids EXPUNGE here;
 * the client learns of them at its next NOOP).
 */
#include "imap/imap_fetch_struct.h"
#include "imap/imap_private.h"
#include "imap/imap_write.h"
#include "mime/mime_tree.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int toupper_ascii(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

static int tolower_ascii(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

#define FETCH_BATCH 64
/* flags, sizes, dates only: lines of some 60 octets, so a batch's reply
   stays near 64 KiB */
#define FETCH_BATCH_META 1024
#define FETCH_BATCH_OCTETS (1024 * 1024)
#define FETCH_SPAN 4096
#define FETCH_SECTIONS_MAX 16

enum fetch_item {
	F_UID = 1 << 0,
	F_FLAGS = 1 << 1,
	F_INTERNALDATE = 1 << 2,
	F_SIZE = 1 << 3,
	F_ENVELOPE = 1 << 4,
	F_BODY = 1 << 5,
	F_BODYSTRUCTURE = 1 << 6,
	F_MODSEQ = 1 << 7,
	F_RFC822 = 1 << 8,
	F_RFC822_HEADER = 1 << 9,
	F_RFC822_TEXT = 1 << 10,
};
#define F_NEEDS_TREE (F_ENVELOPE | F_BODY | F_BODYSTRUCTURE)
#define F_NEEDS_BYTES (F_RFC822 | F_RFC822_HEADER | F_RFC822_TEXT)

struct fetch_section {
	char *label; /* "BODY[1.HEADER.FIELDS (FROM TO)]" as the reply names it */
	struct imap_section sec;
	char *fields; /* HEADER.FIELDS: "\nfrom\nto\n" lower case */
	bool peek, partial;
	bool binary, size_only; /* BINARY[...], BINARY.SIZE[...] (RFC 3516) */
	uint64_t off, len;
};

/* One message of a batch, as the worker found it. */
struct fetch_msg {
	struct store_imsg m;
	bool gone;		/* expunged meanwhile */
	struct buf bytes;	/* the message, when an item needs it */
	struct mime_tree *tree; /* its structure, when an item needs it */
};

struct fetch_ctx {
	unsigned items;
	struct fetch_section sec[FETCH_SECTIONS_MAX];
	size_t n_sec;
	bool set_seen;
	bool uid;
	uint32_t *uids;
	size_t n, next;
	struct fetch_msg *batch;
	size_t n_batch;
	bool job_out, failed;
	bool unknown_cte; /* a BINARY item met an encoding it cannot undo */
	int64_t mailbox_id, folder_id;
	/* RFC 7162 FETCH modifiers: CHANGEDSINCE, and VANISHED (UID FETCH) */
	uint64_t changedsince;
	bool vanished;
	struct imap_seq_range *ranges; /* the UID set as sent, for VANISHED */
	size_t n_ranges;
	uint32_t *gone; /* VANISHED (EARLIER), found by the first batch */
	size_t n_gone;
	bool gone_told;
	bool changes_read; /* c->uids holds only the changed ones (CHANGEDSINCE) */
};

static void batch_free(struct fetch_ctx *c)
{
	for (size_t i = 0; i < c->n_batch; i++) {
		free(c->batch[i].m.keywords);
		buf_free(&c->batch[i].bytes);
		mime_tree_free(&c->batch[i].tree);
	}
	free(c->batch);
	c->batch = NULL;
	c->n_batch = 0;
}

static void fetch_ctx_free(void *p)
{
	struct fetch_ctx *c = p;
	batch_free(c);
	for (size_t i = 0; i < c->n_sec; i++) {
		free(c->sec[i].label);
		free(c->sec[i].fields);
	}
	free(c->uids);
	free(c->ranges);
	free(c->gone);
	free(c);
}

/* --- the items ----------------------------------------------------------------------- */

static int parse_section(struct fetch_ctx *c, const struct imap_node *n)
{
	struct fetch_section *f;
	bool binary;

	if (c->n_sec == FETCH_SECTIONS_MAX)
		return -1;
	f = &c->sec[c->n_sec];
	memset(f, 0, sizeof(*f));
	if (n->str.len == 4 && strncasecmp(n->str.p, "BODY", 4) == 0)
		binary = false;
	else if (n->str.len == 9 && strncasecmp(n->str.p, "BODY.PEEK", 9) == 0)
		binary = false, f->peek = true;
	else if (n->str.len == 6 && strncasecmp(n->str.p, "BINARY", 6) == 0)
		binary = true;
	else if (n->str.len == 11 && strncasecmp(n->str.p, "BINARY.PEEK", 11) == 0)
		binary = true, f->peek = true;
	else if (n->str.len == 11 && strncasecmp(n->str.p, "BINARY.SIZE", 11) == 0)
		binary = true, f->peek = true, f->size_only = true;
	else
		return -1;
	if (imap_parse_section(n->spec, binary, &f->sec) < 0)
		return -1;
	f->binary = binary;
	struct buf label = {0}, fields = {0};
	buf_append_str(&label, f->size_only ? "BINARY.SIZE[" : binary ? "BINARY[" : "BODY[");
	for (size_t i = 0; i < n->spec.len; i++)
		buf_append_c(&label, (char)toupper_ascii(n->spec.p[i]));
	if (n->flags & IMAP_NODE_FIELDS) {
		buf_append_str(&label, " (");
		buf_append_c(&fields, '\n');
		for (const struct imap_node *h = n->child; h != NULL; h = h->next) {
			struct slice name;
			if (!imap_node_astring(h, &name) || name.len == 0 || name.len > 76) {
				buf_free(&label);
				buf_free(&fields);
				return -1;
			}
			for (size_t i = 0; i < name.len; i++) {
				buf_append_c(&label, (char)toupper_ascii(name.p[i]));
				buf_append_c(&fields, (char)tolower_ascii(name.p[i]));
			}
			buf_append_c(&fields, '\n');
			if (h->next != NULL)
				buf_append_c(&label, ' ');
		}
		buf_append_c(&label, ')');
	}
	buf_append_c(&label, ']');
	if (n->flags & IMAP_NODE_PARTIAL) {
		f->partial = true;
		f->off = n->num;
		f->len = n->num2;
		buf_printf(&label, "<%llu>", (unsigned long long)f->off);
	}
	/* the label is as long as the request's field list (neomutt asks for
	   19 fields), which the command's length limit bounds */
	f->label = label.data;
	f->fields = fields.data;
	c->n_sec++;
	if (!f->peek)
		c->set_seen = true;
	return 0;
}

static int parse_item(struct fetch_ctx *c, const struct imap_node *n, bool condstore)
{
	static const struct {
		const char *name;
		unsigned items;
	} simple[] = {
	    {"UID", F_UID},
	    {"FLAGS", F_FLAGS},
	    {"INTERNALDATE", F_INTERNALDATE},
	    {"RFC822.SIZE", F_SIZE},
	    {"ENVELOPE", F_ENVELOPE},
	    {"BODY", F_BODY},
	    {"BODYSTRUCTURE", F_BODYSTRUCTURE},
	    {"RFC822", F_RFC822},
	    {"RFC822.HEADER", F_RFC822_HEADER},
	    {"RFC822.TEXT", F_RFC822_TEXT},
	    {"ALL", F_FLAGS | F_INTERNALDATE | F_SIZE | F_ENVELOPE},
	    {"FAST", F_FLAGS | F_INTERNALDATE | F_SIZE},
	    {"FULL", F_FLAGS | F_INTERNALDATE | F_SIZE | F_ENVELOPE | F_BODY},
	};
	if (n->type == IMAP_NODE_SECTION)
		return parse_section(c, n);
	if (n->type != IMAP_NODE_ATOM)
		return -1;
	if (imap_node_is(n, "MODSEQ")) {
		(void)condstore; /* asking for it enables CONDSTORE (RFC 7162 §3.1) */
		c->items |= F_MODSEQ;
		return 0;
	}
	for (size_t i = 0; i < N_ELEMENTS(simple); i++)
		if (imap_node_is(n, simple[i].name)) {
			c->items |= simple[i].items;
			if (simple[i].items & (F_RFC822 | F_RFC822_TEXT))
				c->set_seen = true;
			return 0;
		}
	return -1;
}

/* --- the worker side ------------------------------------------------------------------ */

static bool wants_bytes(const struct fetch_ctx *c)
{
	return (c->items & F_NEEDS_BYTES) || c->n_sec > 0;
}

static int read_body(struct store *st, int64_t mailbox_id, int64_t msg_id, struct buf *out)
{
	return store_message_read(st, mailbox_id, msg_id, out);
}

/* ENVELOPE and BODYSTRUCTURE, and the offsets of RFC822.HEADER/TEXT and
   of every section, come from the structure */
static bool wants_tree(const struct fetch_ctx *c)
{
	return (c->items & (F_NEEDS_TREE | F_RFC822_HEADER | F_RFC822_TEXT)) || c->n_sec > 0;
}

/* The message's structure, for the loop to write from: the store's cached
   one (made at delivery) when it reads back; else, for a body stored
   before the cache existed or a cache this version cannot read, parsed
   from the message (read here if the items did not need it already) and
   cached again. In the worker, so no parse runs on the network thread. */
static int tree_of(struct store *st, const struct fetch_ctx *c, struct fetch_msg *fm)
{
	struct buf blob = {0};
	const char *err;
	int r = store_body_mime_get(st, fm->m.body_id, &blob);

	if (r == STORE_OK && mime_tree_deserialize(blob.data, blob.len, &fm->tree, &err) < 0) {
		log_warn("imap cached structure of body %lld unreadable (%s): parsed again",
			 (long long)fm->m.body_id, err);
		fm->tree = NULL;
	}
	buf_clear(&blob);
	if (r != STORE_OK && r != STORE_NOTFOUND) {
		buf_free(&blob);
		return r;
	}
	if (fm->tree != NULL) {
		buf_free(&blob);
		return STORE_OK;
	}
	if (fm->bytes.len == 0 &&
	    (r = read_body(st, c->mailbox_id, fm->m.id, &fm->bytes)) != STORE_OK) {
		buf_free(&blob);
		return r;
	}
	fm->tree = mime_tree_parse(fm->bytes.data, fm->bytes.len);
	mime_tree_serialize(fm->tree, &blob);
	/* cached for the next FETCH; a failure only costs time */
	(void)store_body_mime_set(st, fm->m.body_id, blob.data, blob.len);
	buf_free(&blob);
	return STORE_OK;
}

/* CHANGEDSINCE (RFC 7162 §3.1.4), once per command, in its first job:
   only the UIDs whose modseq is above it stay in c->uids, so a resync of
   a large folder costs what changed, not the folder; with VANISHED, the
   UIDs of the set expunged since are kept for the reply. */
static int changed_only(struct store *st, struct fetch_ctx *c)
{
	struct store_imsg *ch = NULL;
	uint32_t *v = NULL;
	size_t n_ch = 0, n_v = 0, w = 0, k = 0;
	uint64_t highest;
	bool pruned;
	int r = store_folder_changes(st, c->folder_id, c->changedsince, &ch, &n_ch, &v, &n_v,
				     &highest, &pruned);
	if (r != STORE_OK) {
		store_imsgs_free(ch, n_ch);
		free(v);
		return r;
	}
	for (size_t i = 0; i < c->n; i++) { /* both ascending */
		while (k < n_ch && ch[k].uid < c->uids[i])
			k++;
		if (k < n_ch && ch[k].uid == c->uids[i])
			c->uids[w++] = c->uids[i];
	}
	c->n = w;
	store_imsgs_free(ch, n_ch);
	if (c->vanished) { /* only those in the UID set the command named */
		c->gone = xmalloc((n_v > 0 ? n_v : 1) * sizeof(*c->gone));
		for (size_t i = 0; i < n_v; i++)
			for (size_t q = 0; q < c->n_ranges; q++)
				if (v[i] >= c->ranges[q].lo && v[i] <= c->ranges[q].hi) {
					c->gone[c->n_gone++] = v[i];
					break;
				}
	}
	free(v);
	c->changes_read = true;
	return STORE_OK;
}

static void work_batch(void *thread_ctx, void *p)
{
	struct imap_job *job = p;
	struct fetch_ctx *c = job->ctx;
	struct store *st = thread_ctx;
	struct store_imsg *all = NULL;
	size_t n_all = 0, first = c->next;

	if (c->changedsince > 0 && !c->changes_read) {
		job->core.result = changed_only(st, c);
		if (job->core.result != STORE_OK)
			return;
	}
	size_t most = wants_bytes(c) || wants_tree(c) ? FETCH_BATCH : FETCH_BATCH_META;
	size_t count = c->n - first < most ? c->n - first : most;
	/* a sparse set ("1,100000"): the batch's UIDs stay within FETCH_SPAN,
	   so the rows read for it are at most that many */
	while (count > 1 && c->uids[first + count - 1] - c->uids[first] >= FETCH_SPAN)
		count--;

	/* \Seen first, so the reply shows it (and a second FETCH agrees) */
	if (c->set_seen && count > 0 && job->core.result == 0) {
		struct store_imsg *ch = NULL;
		uint32_t *failed = NULL;
		size_t n_ch = 0, n_failed = 0;
		int r =
		    store_flags_change(st, c->folder_id, c->uids + first, count, STORE_FLAGS_ADD,
				       STORE_FLAG_SEEN, NULL, 0, &ch, &n_ch, &failed, &n_failed);
		store_imsgs_free(ch, n_ch);
		free(failed);
		if (r != STORE_OK) {
			job->core.result = r;
			return;
		}
	}
	if (count > 0) {
		job->core.result = store_folder_load_range(
		    st, c->folder_id, c->uids[first], c->uids[first + count - 1], &all, &n_all);
		if (job->core.result != STORE_OK)
			return;
	}
	c->batch = xcalloc(count, sizeof(*c->batch));
	c->n_batch = count;
	size_t k = 0, octets = 0;
	for (size_t i = 0; i < count; i++) {
		struct fetch_msg *fm = &c->batch[i];
		uint32_t uid = c->uids[first + i];
		while (k < n_all && all[k].uid < uid)
			k++;
		if (k == n_all || all[k].uid != uid) {
			fm->gone = true; /* expunged meanwhile */
			continue;
		}
		fm->m = all[k];
		fm->m.keywords = all[k].keywords != NULL ? xstrdup(all[k].keywords) : NULL;
		if (wants_bytes(c) || wants_tree(c)) {
			int r = STORE_OK;
			if (wants_bytes(c))
				r = read_body(st, c->mailbox_id, fm->m.id, &fm->bytes);
			if (r == STORE_OK && wants_tree(c))
				r = tree_of(st, c, fm);
			if (r == STORE_NOTFOUND) {
				fm->gone = true;
				continue;
			}
			if (r != STORE_OK) {
				job->core.result = r;
				break;
			}
			octets += fm->bytes.len;
			if (octets >= FETCH_BATCH_OCTETS) {
				c->n_batch = i + 1;
				break;
			}
		}
	}
	store_imsgs_free(all, n_all);
}

/* --- the loop side: writing a batch ---------------------------------------------------- */

static void put_date(struct buf *b, int64_t t)
{
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	buf_printf(b, "\"%02d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday, mon[tm.tm_mon],
		   tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The header lines of [p, p+n) whose field name is (or with not, is not)
   in fields ("\nname\n..."), then the empty line (RFC 9051 §6.4.5). */
static void header_fields(struct buf *out, const char *p, size_t n, const char *fields, bool not )
{
	size_t i = 0;
	bool keep = false;
	while (i < n) {
		size_t e = i;
		while (e < n && p[e] != '\n')
			e++;
		size_t line_end = e < n ? e + 1 : e;
		size_t len = e - i;
		if (len > 0 && p[e - 1] == '\r')
			len--;
		if (len == 0)
			break; /* the empty line that ends the header */
		if (p[i] != ' ' && p[i] != '\t') {
			const char *colon = memchr(p + i, ':', len);
			keep = false;
			if (colon != NULL) {
				char name[80];
				size_t nl = (size_t)(colon - (p + i));
				while (nl > 0 && (p[i + nl - 1] == ' ' || p[i + nl - 1] == '\t'))
					nl--;
				if (nl > 0 && nl < sizeof(name) - 2) {
					name[0] = '\n';
					for (size_t q = 0; q < nl; q++)
						name[q + 1] = (char)tolower_ascii(p[i + q]);
					name[nl + 1] = '\n';
					name[nl + 2] = '\0';
					keep = (strstr(fields, name) != NULL) != not ;
				}
			}
		}
		if (keep)
			buf_append(out, p + i, line_end - i);
		i = line_end;
	}
	buf_append_str(out, "\r\n");
}

/* <origin.length> (RFC 9051 §6.4.5): the octets from origin, at most length */
static void partial(const struct fetch_section *f, const char **p, size_t *n)
{
	if (!f->partial)
		return;
	if (f->off >= *n) {
		*n = 0;
		return;
	}
	*p += f->off;
	*n -= (size_t)f->off;
	if (*n > f->len)
		*n = (size_t)f->len;
}

/* BINARY[part] and BINARY.SIZE[part] (RFC 3516 §4.2): the part's content
   with its transfer encoding undone; an encoding we cannot undo sets
   *unknown_cte, the item is left out and the command ends in
   NO [UNKNOWN-CTE]. */
static void put_binary(struct buf *b, const struct fetch_section *f, const struct fetch_msg *fm,
		       const struct mime_tree *t, const char *part, size_t pl, bool *unknown_cte)
{
	const struct mime_part *p = pl > 0 ? mime_tree_find(t, part, pl) : mime_tree_root(t);
	size_t off = 0, len = 0;
	struct buf dec = {0};
	const char *data = "";
	size_t n = 0;

	if (p != NULL && mime_tree_section(t, part, pl, MIME_SECTION_PART, &off, &len) &&
	    off + len <= fm->bytes.len) {
		const char *raw = fm->bytes.data + off;
		const char *cte = pl > 0 ? p->encoding : NULL;
		if (cte == NULL || strcasecmp(cte, "7bit") == 0 || strcasecmp(cte, "8bit") == 0 ||
		    strcasecmp(cte, "binary") == 0) {
			data = raw;
			n = len;
		} else if (strcasecmp(cte, "base64") == 0) {
			mime_b64_decode(raw, len, &dec);
			data = dec.data != NULL ? dec.data : "";
			n = dec.len;
		} else if (strcasecmp(cte, "quoted-printable") == 0) {
			mime_qp_decode(raw, len, false, &dec);
			data = dec.data != NULL ? dec.data : "";
			n = dec.len;
		} else {
			*unknown_cte = true;
			buf_free(&dec);
			return;
		}
	}
	if (f->size_only) {
		buf_printf(b, "%s %zu", f->label, n);
		buf_free(&dec);
		return;
	}
	partial(f, &data, &n);
	buf_printf(b, "%s ", f->label);
	if (memchr(data, '\0', n) != NULL) {
		/* RFC 3516 §4.2: literal8 for content with NUL */
		buf_printf(b, "~{%zu}\r\n", n);
		buf_append(b, data, n);
	} else {
		imap_write_literal(b, data, n);
	}
	buf_free(&dec);
}

static void put_section(struct buf *b, const struct fetch_section *f, const struct fetch_msg *fm,
			const struct mime_tree *t, bool *unknown_cte)
{
	const char *msg = fm->bytes.data;
	struct buf tmp = {0};
	const char *p = NULL;
	size_t n = 0, off = 0, len = 0;
	char part[IMAP_SECTION_PARTS_MAX * 11] = "";
	size_t pl = 0;

	for (size_t i = 0; i < f->sec.n_parts; i++)
		pl += (size_t)snprintf(part + pl, sizeof(part) - pl, "%s%u", i ? "." : "",
				       f->sec.part[i]);
	if (f->binary) {
		put_binary(b, f, fm, t, part, pl, unknown_cte);
		return;
	}
	bool found = true;
	switch (f->sec.text) {
	case IMAP_SECTION_ALL:
		found = mime_tree_section(t, part, pl, MIME_SECTION_PART, &off, &len);
		break;
	case IMAP_SECTION_HEADER:
	case IMAP_SECTION_HEADER_FIELDS:
	case IMAP_SECTION_HEADER_FIELDS_NOT:
		found = mime_tree_section(t, part, pl, MIME_SECTION_HEADER, &off, &len);
		break;
	case IMAP_SECTION_TEXT:
		found = mime_tree_section(t, part, pl, MIME_SECTION_TEXT, &off, &len);
		break;
	case IMAP_SECTION_MIME:
		found = mime_tree_section(t, part, pl, MIME_SECTION_MIME, &off, &len);
		break;
	}
	if (found && msg != NULL && off + len <= fm->bytes.len) {
		p = msg + off;
		n = len;
		if (f->sec.text == IMAP_SECTION_HEADER_FIELDS ||
		    f->sec.text == IMAP_SECTION_HEADER_FIELDS_NOT) {
			header_fields(&tmp, p, n, f->fields,
				      f->sec.text == IMAP_SECTION_HEADER_FIELDS_NOT);
			p = tmp.data;
			n = tmp.len;
		}
	}
	partial(f, &p, &n);
	buf_printf(b, "%s ", f->label);
	imap_write_literal(b, p != NULL ? p : "", n);
	buf_free(&tmp);
}

static void write_msg(struct imap_session *s, struct fetch_ctx *c, const struct fetch_msg *fm)
{
	uint32_t seq = imap_view_seq(s->sel, fm->m.uid);
	const struct mime_tree *t = fm->tree;
	struct buf b = {0};
	const char *sep = "";

	if (seq == 0)
		return;
	buf_printf(&b, "* %u FETCH (", seq);
#define SEP() (buf_append_str(&b, sep), sep = " ")
	if (c->items & F_UID || c->uid) {
		SEP();
		buf_printf(&b, "UID %u", fm->m.uid);
	}
	if (c->items & F_FLAGS || c->set_seen) {
		SEP();
		buf_append_str(&b, "FLAGS ");
		imap_flags_write(&b, fm->m.flags, fm->m.keywords);
	}
	if (c->items & F_MODSEQ || (s->condstore && (c->items & F_FLAGS || c->set_seen))) {
		SEP();
		buf_printf(&b, "MODSEQ (%llu)", (unsigned long long)fm->m.modseq);
	}
	if (c->items & F_INTERNALDATE) {
		SEP();
		buf_append_str(&b, "INTERNALDATE ");
		put_date(&b, fm->m.received);
	}
	if (c->items & F_SIZE) {
		SEP();
		buf_printf(&b, "RFC822.SIZE %llu", (unsigned long long)fm->m.size);
	}
	if (c->items & F_ENVELOPE && t != NULL) {
		SEP();
		buf_append_str(&b, "ENVELOPE ");
		imap_envelope_write(mime_tree_root(t), &b);
	}
	if (c->items & F_BODY && t != NULL) {
		SEP();
		buf_append_str(&b, "BODY ");
		imap_body_write(t, s->rev2 ? IMAP_STRUCT_REV2 : 0, &b);
	}
	if (c->items & F_BODYSTRUCTURE && t != NULL) {
		SEP();
		buf_append_str(&b, "BODYSTRUCTURE ");
		imap_bodystructure_write(t, s->rev2 ? IMAP_STRUCT_REV2 : 0, &b);
	}
	if (c->items & (F_RFC822 | F_RFC822_HEADER | F_RFC822_TEXT)) {
		size_t off = 0, len = fm->bytes.len;
		if (c->items & F_RFC822) {
			SEP();
			buf_append_str(&b, "RFC822 ");
			imap_write_literal(&b, fm->bytes.data, fm->bytes.len);
		}
		if (c->items & F_RFC822_HEADER && t != NULL) {
			SEP();
			mime_part_range(mime_tree_root(t), MIME_RANGE_HEADER, &off, &len);
			buf_append_str(&b, "RFC822.HEADER ");
			imap_write_literal(&b, fm->bytes.data + off, len);
		}
		if (c->items & F_RFC822_TEXT && t != NULL) {
			SEP();
			mime_part_range(mime_tree_root(t), MIME_RANGE_BODY, &off, &len);
			buf_append_str(&b, "RFC822.TEXT ");
			imap_write_literal(&b, fm->bytes.data + off, len);
		}
	}
	for (size_t i = 0; i < c->n_sec && t != NULL; i++) {
		SEP();
		put_section(&b, &c->sec[i], fm, t, &c->unknown_cte);
	}
#undef SEP
	buf_append_str(&b, ")\r\n");
	imap_write(s, b.data, b.len);
	s->bytes_out += fm->bytes.len;
	s->fetched++;
	buf_free(&b);
}

static void finish_batch(struct imap_session *s, struct imap_job *job)
{
	struct fetch_ctx *c = job->ctx;

	job->ctx = NULL; /* the reply owns it */
	c->job_out = false;
	if (job->core.result != STORE_OK || s->sel == NULL) {
		c->failed = true;
		c->next = c->n;
		if (job->core.result != STORE_OK)
			log_warn("sid=%s imap fetch store error status=%d", s->core.sid,
				 job->core.result);
		batch_free(c);
		return;
	}
	if (c->gone != NULL && !c->gone_told) {
		if (c->n_gone > 0) {
			struct buf b = {0};
			imap_uid_set_write(&b, c->gone, c->n_gone);
			imap_untagged(s, "VANISHED (EARLIER) %.*s", (int)b.len, b.data);
			buf_free(&b);
		}
		c->gone_told = true;
	}
	for (size_t i = 0; i < c->n_batch; i++)
		if (!c->batch[i].gone)
			write_msg(s, c, &c->batch[i]);
	c->next += c->n_batch > 0 ? c->n_batch : 1;
	batch_free(c);
}

static void no_free(void *p)
{
	(void)p;
}

static bool fetch_step(struct imap_session *s, void *p)
{
	struct fetch_ctx *c = p;

	if (c->job_out)
		return false;
	if (c->next >= c->n) {
		if (c->failed)
			imap_tagged(s, "NO", "[UNAVAILABLE] Some messages could not be read");
		else if (c->unknown_cte)
			imap_tagged(s, "NO",
				    "[UNKNOWN-CTE] A part has an unknown transfer encoding");
		else
			imap_tagged(s, "OK", "%sFETCH completed", c->uid ? "UID " : "");
		return true;
	}
	struct imap_job *job = imap_job_new(s, finish_batch);
	job->ctx = c;
	job->ctx_free = no_free;
	c->job_out = true;
	if (!proto_job_try_submit(&job->core, work_batch)) {
		c->job_out = false;
		c->failed = true;
		c->next = c->n;
	}
	return false;
}

enum imap_cmd_result imap_cmd_fetch(struct imap_cmd_ctx *ctx)
{
	struct imap_session *s = ctx->sess;
	const struct imap_node *set = ctx->args, *items;
	const char *err = NULL;

	if (ctx->argc < 2 || ctx->argc > 3) {
		imap_tagged(s, "BAD", "FETCH takes a sequence set, items and modifiers");
		return IMAP_CMD_DONE;
	}
	items = set->next;
	struct fetch_ctx *c = xcalloc(1, sizeof(*c));
	c->uid = ctx->uid;
	if (items->next != NULL) {
		/* RFC 7162: (CHANGEDSINCE modseq [VANISHED]) */
		const struct imap_node *m = items->next;
		bool ok = m->type == IMAP_NODE_LIST && m->count >= 2;
		for (const struct imap_node *o = ok ? m->child : NULL; o != NULL && ok;
		     o = o->next) {
			if (imap_node_is(o, "CHANGEDSINCE") &&
			    imap_node_number(o->next, IMAP_NUMBER64_MAX, &c->changedsince)) {
				o = o->next;
			} else if (imap_node_is(o, "VANISHED") && ctx->uid && s->qresync) {
				c->vanished = true;
			} else {
				ok = false;
			}
		}
		if (!ok || (c->vanished && c->changedsince == 0)) {
			fetch_ctx_free(c);
			imap_tagged(s, "BAD", "Invalid FETCH modifier");
			return IMAP_CMD_DONE;
		}
		s->condstore = true; /* CHANGEDSINCE enables CONDSTORE */
		c->items |= F_MODSEQ | F_FLAGS;
		if (c->vanished) {
			struct imap_seq_range r[IMAP_SEQ_RANGES_MAX];
			struct imap_seqset ss = {.r = r, .max = IMAP_SEQ_RANGES_MAX};
			struct slice text;
			const char *e = NULL;
			uint32_t top = s->sel->uidnext > 0 ? s->sel->uidnext - 1 : 0;
			if (!imap_node_astring(set, &text) ||
			    imap_parse_seqset(text, true, &ss, &e) < 0) {
				fetch_ctx_free(c);
				imap_tagged(s, "BAD", "Invalid UID set");
				return IMAP_CMD_DONE;
			}
			const struct imap_view *v = s->sel;
			size_t n = ss.last ? v->n_saved : ss.n;
			c->ranges = xmalloc((n > 0 ? n : 1) * sizeof(*c->ranges));
			for (size_t i = 0; i < n; i++) /* "$" (RFC 5182): the saved UIDs */
				c->ranges[i] =
				    ss.last ? (struct imap_seq_range){v->saved[i], v->saved[i]}
					    : imap_seq_range_resolve(ss.r[i], top);
			c->n_ranges = n;
		}
	}
	int bad = 0;
	if (items->type == IMAP_NODE_LIST) {
		for (const struct imap_node *n = items->child; n != NULL && bad == 0; n = n->next)
			bad = parse_item(c, n, s->condstore);
		if (items->count == 0)
			bad = -1;
	} else {
		bad = parse_item(c, items, s->condstore);
	}
	if (bad < 0) {
		fetch_ctx_free(c);
		imap_tagged(s, "BAD", "Invalid FETCH item");
		return IMAP_CMD_DONE;
	}
	if (c->items & F_MODSEQ)
		s->condstore = true;
	if (imap_view_select(s->sel, set, ctx->uid, &c->uids, &c->n, &err) < 0) {
		fetch_ctx_free(c);
		imap_tagged(s, "BAD", "%s", err);
		return IMAP_CMD_DONE;
	}
	if (s->sel->readonly)
		c->set_seen = false;
	c->mailbox_id = s->mailbox_id;
	c->folder_id = s->sel->folder_id;
	imap_cont_steps(s, fetch_step, fetch_ctx_free, c);
	return IMAP_CMD_ASYNC;
}
