/* SPDX-License-Identifier: MIT */
/*
 * imap_search.c - SEARCH arguments compiled into a program (see
 * imap_search.h), the untagged SEARCH / ESEARCH result, and what RETURN
 * (SAVE) keeps. Evaluation is in imap_search_match.c.
 *
 * The compiler walks the argument chain once, from left to right, with a
 * cursor: a key takes its own node and the arguments that follow it. NOT,
 * OR and parenthesised lists recurse, one level each, to at most
 * IMAP_SEARCH_DEPTH_MAX. Key names come from one table.
 */
#include "imap/imap_search_private.h"

#include <stdlib.h>
#include <string.h>

/* What follows a key name. */
enum key_arg {
	ARG_NONE,
	ARG_STRING,  /* astring */
	ARG_HEADER,  /* astring (field name) SP astring */
	ARG_DATE,    /* date */
	ARG_NUMBER,  /* number64 */
	ARG_KEYWORD, /* flag-keyword atom */
	ARG_KEY,     /* NOT key */
	ARG_KEY2,    /* OR key key */
	ARG_SET,     /* UID sequence-set */
	ARG_MODSEQ,  /* [entry-name entry-type-req] mod-sequence-valzer */
};

/* How a key behaves for an IMAP4rev2 client: as written, or as a
   constant (RECENT, NEW, OLD; RFC 9051 has no \Recent). */
enum key_rev2 { REV2_SAME, REV2_NONE, REV2_ALL };

struct search_key {
	const char *name;
	uint8_t op, arg, rev2;
	unsigned mask, want; /* OP_FLAGS; OP_DATE / OP_SENT: want is the comparison */
	const char *hdr;     /* OP_HEADER shortcuts: the field name */
};

#define F_SEEN IMAP_SEARCH_SEEN
#define F_ANSWERED IMAP_SEARCH_ANSWERED
#define F_FLAGGED IMAP_SEARCH_FLAGGED
#define F_DELETED IMAP_SEARCH_DELETED
#define F_DRAFT IMAP_SEARCH_DRAFT
#define F_RECENT IMAP_SEARCH_RECENT

/* RFC 9051 §6.4.4 and RFC 3501 §6.4.4, in alphabetical order */
static const struct search_key keys[] = {
    {"ALL", OP_CONST, ARG_NONE, REV2_SAME, 0, 1, NULL},
    {"ANSWERED", OP_FLAGS, ARG_NONE, REV2_SAME, F_ANSWERED, F_ANSWERED, NULL},
    {"BCC", OP_HEADER, ARG_STRING, REV2_SAME, 0, 0, "bcc"},
    {"BEFORE", OP_DATE, ARG_DATE, REV2_SAME, 0, CMP_BEFORE, NULL},
    {"BODY", OP_BODY, ARG_STRING, REV2_SAME, 0, 0, NULL},
    {"CC", OP_HEADER, ARG_STRING, REV2_SAME, 0, 0, "cc"},
    {"DELETED", OP_FLAGS, ARG_NONE, REV2_SAME, F_DELETED, F_DELETED, NULL},
    {"DRAFT", OP_FLAGS, ARG_NONE, REV2_SAME, F_DRAFT, F_DRAFT, NULL},
    {"FLAGGED", OP_FLAGS, ARG_NONE, REV2_SAME, F_FLAGGED, F_FLAGGED, NULL},
    {"FROM", OP_HEADER, ARG_STRING, REV2_SAME, 0, 0, "from"},
    {"HEADER", OP_HEADER, ARG_HEADER, REV2_SAME, 0, 0, NULL},
    {"KEYWORD", OP_KEYWORD, ARG_KEYWORD, REV2_SAME, 0, 1, NULL},
    {"LARGER", OP_LARGER, ARG_NUMBER, REV2_SAME, 0, 0, NULL},
    {"MODSEQ", OP_MODSEQ, ARG_MODSEQ, REV2_SAME, 0, 0, NULL},
    {"NEW", OP_FLAGS, ARG_NONE, REV2_NONE, F_RECENT | F_SEEN, F_RECENT, NULL},
    {"NOT", OP_NOT, ARG_KEY, REV2_SAME, 0, 0, NULL},
    {"OLD", OP_FLAGS, ARG_NONE, REV2_ALL, F_RECENT, 0, NULL},
    {"ON", OP_DATE, ARG_DATE, REV2_SAME, 0, CMP_ON, NULL},
    {"OR", OP_OR, ARG_KEY2, REV2_SAME, 0, 0, NULL},
    {"RECENT", OP_FLAGS, ARG_NONE, REV2_NONE, F_RECENT, F_RECENT, NULL},
    {"SEEN", OP_FLAGS, ARG_NONE, REV2_SAME, F_SEEN, F_SEEN, NULL},
    {"SENTBEFORE", OP_SENT, ARG_DATE, REV2_SAME, 0, CMP_BEFORE, NULL},
    {"SENTON", OP_SENT, ARG_DATE, REV2_SAME, 0, CMP_ON, NULL},
    {"SENTSINCE", OP_SENT, ARG_DATE, REV2_SAME, 0, CMP_SINCE, NULL},
    {"SINCE", OP_DATE, ARG_DATE, REV2_SAME, 0, CMP_SINCE, NULL},
    {"SMALLER", OP_SMALLER, ARG_NUMBER, REV2_SAME, 0, 0, NULL},
    {"SUBJECT", OP_HEADER, ARG_STRING, REV2_SAME, 0, 0, "subject"},
    {"TEXT", OP_TEXT, ARG_STRING, REV2_SAME, 0, 0, NULL},
    {"TO", OP_HEADER, ARG_STRING, REV2_SAME, 0, 0, "to"},
    {"UID", OP_UID, ARG_SET, REV2_SAME, 0, 0, NULL},
    {"UNANSWERED", OP_FLAGS, ARG_NONE, REV2_SAME, F_ANSWERED, 0, NULL},
    {"UNDELETED", OP_FLAGS, ARG_NONE, REV2_SAME, F_DELETED, 0, NULL},
    {"UNDRAFT", OP_FLAGS, ARG_NONE, REV2_SAME, F_DRAFT, 0, NULL},
    {"UNFLAGGED", OP_FLAGS, ARG_NONE, REV2_SAME, F_FLAGGED, 0, NULL},
    {"UNKEYWORD", OP_KEYWORD, ARG_KEYWORD, REV2_SAME, 0, 0, NULL},
    {"UNSEEN", OP_FLAGS, ARG_NONE, REV2_SAME, F_SEEN, 0, NULL},
};

/* "KEYWORD \Seen": system flags named where a keyword goes */
static const struct {
	const char *name;
	unsigned flag;
} system_flags[] = {
    {"\\Seen", F_SEEN},	      {"\\Answered", F_ANSWERED}, {"\\Flagged", F_FLAGGED},
    {"\\Deleted", F_DELETED}, {"\\Draft", F_DRAFT},	  {"\\Recent", F_RECENT},
};

static const struct {
	const char *name;
	unsigned bit;
} return_opts[] = {
    {"MIN", IMAP_SEARCH_RET_MIN}, {"MAX", IMAP_SEARCH_RET_MAX},	  {"COUNT", IMAP_SEARCH_RET_COUNT},
    {"ALL", IMAP_SEARCH_RET_ALL}, {"SAVE", IMAP_SEARCH_RET_SAVE},
};

struct compiler {
	struct imap_search *prog;
	const struct imap_search_env *env;
	const char *err;
	int code;
	size_t client_ranges;
	bool saved_done; /* "$" ranges are in prog->ranges at saved_off */
	uint32_t saved_off, saved_n;
};

static bool fail(struct compiler *c, const char *err)
{
	if (c->err == NULL)
		c->err = err;
	return false;
}

static uint32_t new_op(struct compiler *c, enum search_op op, uint8_t cost)
{
	struct imap_search *p = c->prog;

	if (p->n_ops >= IMAP_SEARCH_KEYS_MAX) {
		fail(c, "Too many search keys");
		return OP_NONE;
	}
	if (p->n_ops == p->cap_ops) {
		p->cap_ops = p->cap_ops ? 2 * p->cap_ops : 16;
		p->ops = xrealloc(p->ops, p->cap_ops * sizeof(*p->ops));
	}
	struct search_op_node *o = &p->ops[p->n_ops];
	memset(o, 0, sizeof(*o));
	o->op = (uint8_t)op;
	o->cost = cost;
	o->child = o->next = OP_NONE;
	return (uint32_t)p->n_ops++;
}

/* A copy of s in prog->strings, ASCII letters folded to lower case. */
static bool add_string(struct compiler *c, struct slice s, uint32_t *off_r, uint32_t *len_r)
{
	struct buf *b = &c->prog->strings;

	if (s.len > IMAP_SEARCH_STRINGS_MAX - b->len)
		return fail(c, "Search strings too long");
	*off_r = (uint32_t)b->len;
	*len_r = (uint32_t)s.len;
	buf_reserve(b, s.len);
	for (size_t i = 0; i < s.len; i++) {
		char ch = s.p[i];
		buf_append_c(b, ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch);
	}
	return true;
}

static int range_cmp(const void *a, const void *b)
{
	const struct search_range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sorts tmp[0..n) and appends it to prog->ranges merged (overlapping or
   adjacent ranges joined). */
static void add_ranges(struct compiler *c, struct search_range *tmp, size_t n, uint32_t *off_r,
		       uint32_t *n_r)
{
	struct imap_search *p = c->prog;

	qsort(tmp, n, sizeof(*tmp), range_cmp);
	if (p->n_ranges + n > p->cap_ranges) {
		p->cap_ranges = p->n_ranges + n + 16;
		p->ranges = xrealloc(p->ranges, p->cap_ranges * sizeof(*p->ranges));
	}
	*off_r = (uint32_t)p->n_ranges;
	for (size_t i = 0; i < n; i++) {
		struct search_range *last =
		    p->n_ranges > *off_r ? &p->ranges[p->n_ranges - 1] : NULL;
		if (last != NULL && (uint64_t)tmp[i].lo <= (uint64_t)last->hi + 1) {
			if (tmp[i].hi > last->hi)
				last->hi = tmp[i].hi;
		} else {
			p->ranges[p->n_ranges++] = tmp[i];
		}
	}
	*n_r = (uint32_t)(p->n_ranges - *off_r);
}

/* "$": the saved UIDs as ranges, made once per program. */
static void saved_ranges(struct compiler *c, uint32_t *off_r, uint32_t *n_r)
{
	if (!c->saved_done) {
		size_t n = c->env->n_saved;
		struct search_range *tmp = xmalloc((n ? n : 1) * sizeof(*tmp));
		for (size_t i = 0; i < n; i++)
			tmp[i].lo = tmp[i].hi = c->env->saved[i];
		add_ranges(c, tmp, n, &c->saved_off, &c->saved_n);
		free(tmp);
		c->saved_done = true;
	}
	*off_r = c->saved_off;
	*n_r = c->saved_n;
}

/* A sequence set (op OP_SEQ) or UID set (OP_UID) from the text s. */
static uint32_t compile_set(struct compiler *c, struct slice s, enum search_op op)
{
	uint32_t i, largest = op == OP_SEQ ? c->env->messages : c->env->uid_max;

	if (s.len == 1 && s.p[0] == '$') {
		if (!c->env->searchres) {
			fail(c, "$ (SEARCHRES) is not enabled");
			return OP_NONE;
		}
		if ((i = new_op(c, OP_UID, COST_CHEAP)) == OP_NONE)
			return OP_NONE;
		saved_ranges(c, &c->prog->ops[i].r_off, &c->prog->ops[i].r_n);
		return i;
	}
	size_t n = 1;
	for (size_t k = 0; k < s.len; k++)
		n += s.p[k] == ',';
	if (n > IMAP_SEARCH_RANGES_MAX - c->client_ranges) {
		fail(c, "Too many sequence ranges");
		return OP_NONE;
	}
	struct imap_seq_range *r = xmalloc(n * sizeof(*r));
	struct imap_seqset set = {r, n, 0, false};
	const char *err = NULL;
	if (imap_parse_seqset(s, false, &set, &err) < 0) {
		free(r);
		fail(c, err);
		return OP_NONE;
	}
	struct search_range *tmp = xmalloc(set.n * sizeof(*tmp));
	for (size_t k = 0; k < set.n; k++) {
		struct imap_seq_range x = imap_seq_range_resolve(r[k], largest);
		tmp[k].lo = (uint32_t)x.lo;
		tmp[k].hi = (uint32_t)x.hi;
	}
	free(r);
	c->client_ranges += set.n;
	if ((i = new_op(c, op, COST_CHEAP)) != OP_NONE)
		add_ranges(c, tmp, set.n, &c->prog->ops[i].r_off, &c->prog->ops[i].r_n);
	free(tmp);
	return i;
}

static const struct search_key *find_key(struct slice name)
{
	for (size_t i = 0; i < N_ELEMENTS(keys); i++)
		if (slice_eq_ci(name, keys[i].name))
			return &keys[i];
	return NULL;
}

/* The next argument of a key: an astring. */
static bool arg_astring(struct compiler *c, const struct imap_node **np, struct slice *s_r)
{
	const struct imap_node *n = *np;
	if (n == NULL)
		return fail(c, "Missing argument to search key");
	if (!imap_node_astring(n, s_r))
		return fail(c, "Search key wants a string");
	*np = n->next;
	return true;
}

static bool is_atom(const struct imap_node *n)
{
	return n != NULL && (n->type == IMAP_NODE_ATOM || n->type == IMAP_NODE_NUMBER ||
			     n->type == IMAP_NODE_NIL);
}

static uint32_t compile_key(struct compiler *c, const struct imap_node **np, unsigned depth);

/* Links the keys of the chain first.. as the children of a new AND, the
   cheap ones first. */
static uint32_t compile_and(struct compiler *c, const struct imap_node *first, unsigned depth)
{
	uint32_t head[3] = {OP_NONE, OP_NONE, OP_NONE}, tail[3] = {OP_NONE, OP_NONE, OP_NONE};
	uint32_t and = new_op(c, OP_AND, COST_CHEAP);
	uint8_t cost = COST_CHEAP;

	if (and == OP_NONE)
		return OP_NONE;
	for (const struct imap_node *n = first; n != NULL;) {
		uint32_t k = compile_key(c, &n, depth);
		if (k == OP_NONE)
			return OP_NONE;
		uint8_t kc = c->prog->ops[k].cost;
		if (head[kc] == OP_NONE)
			head[kc] = k;
		else
			c->prog->ops[tail[kc]].next = k;
		tail[kc] = k;
		if (kc > cost)
			cost = kc;
	}
	uint32_t *link = &c->prog->ops[and].child;
	for (int k = 0; k < 3; k++) {
		if (head[k] == OP_NONE)
			continue;
		*link = head[k];
		link = &c->prog->ops[tail[k]].next;
	}
	c->prog->ops[and].cost = cost;
	return and;
}

static bool enter(struct compiler *c, unsigned depth)
{
	if (depth >= IMAP_SEARCH_DEPTH_MAX)
		return fail(c, "Search keys nested too deeply");
	if (depth + 1 > c->prog->depth)
		c->prog->depth = depth + 1;
	return true;
}

/* KEYWORD k / UNKEYWORD k */
static uint32_t compile_keyword(struct compiler *c, const struct search_key *k,
				const struct imap_node **np)
{
	const struct imap_node *n = *np;
	uint32_t i;

	if (n == NULL) {
		fail(c, "Missing argument to search key");
		return OP_NONE;
	}
	if (!is_atom(n)) {
		fail(c, "Invalid keyword");
		return OP_NONE;
	}
	*np = n->next;
	if (n->str.p[0] == '\\') {
		for (size_t f = 0; f < N_ELEMENTS(system_flags); f++) {
			if (!slice_eq_ci(n->str, system_flags[f].name))
				continue;
			if ((i = new_op(c, OP_FLAGS, COST_CHEAP)) == OP_NONE)
				return OP_NONE;
			c->prog->ops[i].mask = system_flags[f].flag;
			c->prog->ops[i].want = k->want ? system_flags[f].flag : 0;
			return i;
		}
		fail(c, "Invalid keyword");
		return OP_NONE;
	}
	if ((i = new_op(c, OP_KEYWORD, COST_CHEAP)) == OP_NONE)
		return OP_NONE;
	c->prog->ops[i].want = k->want;
	if (!add_string(c, n->str, &c->prog->ops[i].s_off, &c->prog->ops[i].s_len))
		return OP_NONE;
	return i;
}

/* The arguments of the key k, whose name was just read. */
static uint32_t compile_args(struct compiler *c, const struct search_key *k,
			     const struct imap_node **np, unsigned depth)
{
	struct imap_search *p = c->prog;
	struct slice s, h;
	uint32_t i, a, b;
	uint64_t v;
	time_t t;

	switch ((enum key_arg)k->arg) {
	case ARG_NONE:
		if (c->env->rev2 && k->rev2 != REV2_SAME) {
			if ((i = new_op(c, OP_CONST, COST_CHEAP)) != OP_NONE)
				p->ops[i].num = k->rev2 == REV2_ALL;
			return i;
		}
		if ((i = new_op(c, (enum search_op)k->op, COST_CHEAP)) == OP_NONE)
			return OP_NONE;
		p->ops[i].mask = k->mask;
		p->ops[i].want = k->want;
		p->ops[i].num = k->want;
		return i;
	case ARG_STRING:
	case ARG_HEADER:
		if (k->arg == ARG_HEADER) {
			if (!arg_astring(c, np, &h))
				return OP_NONE;
			if (h.len == 0) {
				fail(c, "Empty header field name");
				return OP_NONE;
			}
		} else {
			h = k->hdr != NULL ? slice_from(k->hdr) : (struct slice){"", 0};
		}
		if (!arg_astring(c, np, &s))
			return OP_NONE;
		i = new_op(c, (enum search_op)k->op, k->op == OP_HEADER ? COST_HEADER : COST_BODY);
		if (i == OP_NONE || !add_string(c, s, &p->ops[i].s_off, &p->ops[i].s_len) ||
		    !add_string(c, h, &p->ops[i].h_off, &p->ops[i].h_len))
			return OP_NONE;
		return i;
	case ARG_DATE:
		if (!arg_astring(c, np, &s))
			return OP_NONE;
		if (imap_parse_date(s, &t) < 0) {
			fail(c, "Invalid date");
			return OP_NONE;
		}
		i = new_op(c, (enum search_op)k->op, k->op == OP_SENT ? COST_HEADER : COST_CHEAP);
		if (i != OP_NONE) {
			p->ops[i].want = k->want;
			p->ops[i].day = (int64_t)t / 86400;
		}
		return i;
	case ARG_NUMBER:
		if (*np == NULL) {
			fail(c, "Missing argument to search key");
			return OP_NONE;
		}
		if (!imap_node_number(*np, IMAP_NUMBER64_MAX, &v)) {
			fail(c, "Invalid number");
			return OP_NONE;
		}
		*np = (*np)->next;
		if ((i = new_op(c, (enum search_op)k->op, COST_CHEAP)) != OP_NONE)
			p->ops[i].num = v;
		return i;
	case ARG_MODSEQ:
		/* RFC 7162 §3.1.5: an entry name ("/flags/\\seen") and its type
		   may come first; the store keeps one modseq a message, so they
		   narrow nothing */
		if (*np != NULL &&
		    ((*np)->type == IMAP_NODE_QUOTED || (*np)->type == IMAP_NODE_LITERAL)) {
			*np = (*np)->next;
			if (*np == NULL ||
			    !(imap_node_is(*np, "priv") || imap_node_is(*np, "shared") ||
			      imap_node_is(*np, "all"))) {
				fail(c, "Invalid MODSEQ entry type");
				return OP_NONE;
			}
			*np = (*np)->next;
		}
		if (*np == NULL || !imap_node_number(*np, IMAP_NUMBER64_MAX, &v)) {
			fail(c, "Invalid mod-sequence");
			return OP_NONE;
		}
		*np = (*np)->next;
		if ((i = new_op(c, OP_MODSEQ, COST_CHEAP)) != OP_NONE)
			p->ops[i].num = v;
		p->modseq = true;
		return i;
	case ARG_KEYWORD:
		return compile_keyword(c, k, np);
	case ARG_KEY:
	case ARG_KEY2:
		if (!enter(c, depth))
			return OP_NONE;
		if ((i = new_op(c, (enum search_op)k->op, COST_CHEAP)) == OP_NONE)
			return OP_NONE;
		if (*np == NULL) {
			fail(c, "Missing search key");
			return OP_NONE;
		}
		if ((a = compile_key(c, np, depth + 1)) == OP_NONE)
			return OP_NONE;
		b = OP_NONE;
		if (k->arg == ARG_KEY2) {
			if (*np == NULL) {
				fail(c, "OR needs two search keys");
				return OP_NONE;
			}
			if ((b = compile_key(c, np, depth + 1)) == OP_NONE)
				return OP_NONE;
			/* the cheaper one first */
			if (p->ops[b].cost < p->ops[a].cost) {
				uint32_t x = a;
				a = b;
				b = x;
			}
		}
		p->ops[i].child = a;
		p->ops[a].next = b;
		p->ops[i].cost = p->ops[a].cost;
		if (b != OP_NONE && p->ops[b].cost > p->ops[i].cost)
			p->ops[i].cost = p->ops[b].cost;
		return i;
	case ARG_SET:
		if (*np == NULL) {
			fail(c, "Missing argument to search key");
			return OP_NONE;
		}
		if (!is_atom(*np)) {
			fail(c, "Invalid sequence set");
			return OP_NONE;
		}
		s = (*np)->str;
		*np = (*np)->next;
		return compile_set(c, s, OP_UID);
	}
	fail(c, "Unknown search key");
	return OP_NONE;
}

/* One key at *np; *np moves past it and its arguments. */
static uint32_t compile_key(struct compiler *c, const struct imap_node **np, unsigned depth)
{
	const struct imap_node *n = *np;

	*np = n->next;
	if (n->type == IMAP_NODE_LIST) {
		if (n->child == NULL) {
			fail(c, "Empty list of search keys");
			return OP_NONE;
		}
		if (!enter(c, depth))
			return OP_NONE;
		return compile_and(c, n->child, depth + 1);
	}
	if (!is_atom(n)) {
		fail(c, "Search key expected");
		return OP_NONE;
	}
	const struct search_key *k = find_key(n->str);
	if (k != NULL)
		return compile_args(c, k, np, depth);
	char first = n->str.p[0];
	if ((first >= '0' && first <= '9') || first == '*' || first == '$')
		return compile_set(c, n->str, OP_SEQ);
	fail(c, "Unknown search key");
	return OP_NONE;
}

/* RETURN (...) and CHARSET x before the keys; *np moves past them. */
static bool compile_prefix(struct compiler *c, const struct imap_node **np)
{
	const struct imap_node *n = *np;

	if (imap_node_is(n, "RETURN")) {
		n = n->next;
		if (n == NULL || n->type != IMAP_NODE_LIST)
			return fail(c, "RETURN wants a list of options");
		c->prog->ret = IMAP_SEARCH_RET_GIVEN;
		for (const struct imap_node *o = n->child; o != NULL; o = o->next) {
			size_t k = 0;
			while (k < N_ELEMENTS(return_opts) && !imap_node_is(o, return_opts[k].name))
				k++;
			if (k == N_ELEMENTS(return_opts))
				return fail(c, "Unknown RETURN option");
			if (return_opts[k].bit == IMAP_SEARCH_RET_SAVE && !c->env->searchres)
				return fail(c, "RETURN (SAVE) is not enabled");
			c->prog->ret |= return_opts[k].bit;
		}
		if (c->prog->ret == IMAP_SEARCH_RET_GIVEN) /* "RETURN ()" (RFC 4731 §3.1) */
			c->prog->ret |= IMAP_SEARCH_RET_ALL;
		n = n->next;
	}
	if (imap_node_is(n, "CHARSET")) {
		struct slice cs;
		n = n->next;
		if (!imap_node_astring(n, &cs))
			return fail(c, "Missing charset");
		if (!slice_eq_ci(cs, "UTF-8") && !slice_eq_ci(cs, "US-ASCII")) {
			c->code = IMAP_SEARCH_BADCHARSET;
			return fail(c, "Unsupported charset");
		}
		n = n->next;
	}
	*np = n;
	return true;
}

int imap_search_compile(const struct imap_node *args, const struct imap_search_env *env,
			struct imap_search **prog_r, const char **err_r)
{
	struct compiler c = {.env = env, .code = -1};

	c.prog = xcalloc(1, sizeof(*c.prog));
	c.prog->rev2 = env->rev2;
	if (compile_prefix(&c, &args)) {
		if (args == NULL)
			fail(&c, "Missing search key");
		else
			(void)compile_and(&c, args, 0); /* op 0, the root */
	}
	if (c.err != NULL) {
		imap_search_free(&c.prog);
		*prog_r = NULL;
		*err_r = c.err;
		return c.code;
	}
	*prog_r = c.prog;
	return 0;
}

void imap_search_free(struct imap_search **prog)
{
	struct imap_search *p = *prog;

	if (p == NULL)
		return;
	free(p->ops);
	free(p->ranges);
	buf_free(&p->strings);
	free(p);
	*prog = NULL;
}

bool imap_search_needs_text(const struct imap_search *prog)
{
	return prog->n_ops > 0 && prog->ops[0].cost != COST_CHEAP;
}

bool imap_search_needs_body(const struct imap_search *prog)
{
	return prog->n_ops > 0 && prog->ops[0].cost == COST_BODY;
}

unsigned imap_search_return(const struct imap_search *prog)
{
	return prog->ret;
}

/* --- results --------------------------------------------------------- */

/* ids as a sequence set: consecutive ascending runs become "a:b". */
static void write_set(const uint32_t *ids, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && ids[j] != UINT32_MAX && ids[j + 1] == ids[j] + 1)
			j++;
		if (i > 0)
			buf_append_c(out, ',');
		if (j > i)
			buf_printf(out, "%u:%u", ids[i], ids[j]);
		else
			buf_printf(out, "%u", ids[i]);
		i = j + 1;
	}
}

void imap_search_result(const struct imap_search *prog, const uint32_t *matches, size_t n, bool uid,
			const char *tag, bool esearch_form, struct buf *out)
{
	imap_search_result_modseq(prog, matches, n, uid, tag, esearch_form, 0, out);
}

bool imap_search_uses_modseq(const struct imap_search *prog)
{
	return prog->modseq;
}

void imap_search_result_modseq(const struct imap_search *prog, const uint32_t *matches, size_t n,
			       bool uid, const char *tag, bool esearch_form, uint64_t modseq,
			       struct buf *out)
{
	unsigned ret = prog->ret;
	bool say_modseq = prog->modseq && modseq > 0 && n > 0;

	if (!esearch_form && !(ret & IMAP_SEARCH_RET_GIVEN) && !prog->rev2) {
		buf_append_str(out, "* SEARCH");
		for (size_t i = 0; i < n; i++)
			buf_printf(out, " %u", matches[i]);
		if (say_modseq)
			buf_printf(out, " (MODSEQ %llu)", (unsigned long long)modseq);
		buf_append_str(out, "\r\n");
		return;
	}
	if (!(ret & IMAP_SEARCH_RET_GIVEN))
		ret = IMAP_SEARCH_RET_ALL; /* RFC 9051 §6.4.4: no RETURN is ALL */
	if ((ret & ~(unsigned)(IMAP_SEARCH_RET_GIVEN | IMAP_SEARCH_RET_SAVE)) == 0)
		return; /* SAVE alone: no response (RFC 5182 §2.1) */
	buf_append_str(out, "* ESEARCH");
	if (tag != NULL) {
		buf_append_str(out, " (TAG \"");
		for (const char *t = tag; *t != '\0'; t++) {
			if (*t == '"' || *t == '\\')
				buf_append_c(out, '\\');
			buf_append_c(out, *t);
		}
		buf_append_str(out, "\")");
	}
	if (uid)
		buf_append_str(out, " UID");
	if (n > 0) {
		uint32_t lo = matches[0], hi = matches[0];
		for (size_t i = 1; i < n; i++) {
			lo = matches[i] < lo ? matches[i] : lo;
			hi = matches[i] > hi ? matches[i] : hi;
		}
		if (ret & IMAP_SEARCH_RET_MIN)
			buf_printf(out, " MIN %u", lo);
		if (ret & IMAP_SEARCH_RET_MAX)
			buf_printf(out, " MAX %u", hi);
	}
	if (ret & IMAP_SEARCH_RET_COUNT)
		buf_printf(out, " COUNT %zu", n);
	if ((ret & IMAP_SEARCH_RET_ALL) && n > 0) {
		buf_append_str(out, " ALL ");
		write_set(matches, n, out);
	}
	if (say_modseq)
		buf_printf(out, " MODSEQ %llu", (unsigned long long)modseq);
	buf_append_str(out, "\r\n");
}

size_t imap_search_save_filter(const struct imap_search *prog, uint32_t *uids, size_t n)
{
	unsigned ret = prog->ret;
	bool min = (ret & IMAP_SEARCH_RET_MIN) != 0, max = (ret & IMAP_SEARCH_RET_MAX) != 0;

	if (n == 0 || (ret & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT)) || (!min && !max))
		return n;
	if (min && max && n > 1) {
		uids[1] = uids[n - 1];
		return 2;
	}
	if (max)
		uids[0] = uids[n - 1];
	return 1;
}
