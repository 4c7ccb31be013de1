/* SPDX-License-Identifier: MIT */
/* milter_proto.c - see milter_proto.h. */
#include "filter/milter_proto.h"

#include <string.h>

/* --- encoders ----------------------------------------------------------------------------- */

static void put_u32(struct buf *out, uint32_t v)
{
	const char b[4] = {(char)(v >> 24), (char)(v >> 16), (char)(v >> 8), (char)v};
	buf_append(out, b, 4);
}

/* The packet header for data_len octets of data after cmd; false when the
   data is too long for a filter to read. */
static bool put_head(struct buf *out, char cmd, size_t data_len)
{
	if (data_len > MILTER_MAX_DATA_SIZE)
		return false;
	put_u32(out, (uint32_t)data_len + 1);
	buf_append_c(out, cmd);
	return true;
}

static void put_str(struct buf *out, const char *s)
{
	buf_append(out, s, strlen(s) + 1);
}

static size_t strs_len(const char *const *v, size_t n)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	return len;
}

bool milter_put_optneg(struct buf *out, uint32_t version, uint32_t actions, uint32_t protocol)
{
	put_head(out, SMFIC_OPTNEG, MILTER_OPTLEN);
	put_u32(out, version);
	put_u32(out, actions);
	put_u32(out, protocol);
	return true;
}

bool milter_put_macro(struct buf *out, char cmd, const char *const *names,
		      const char *const *values, size_t n)
{
	if (!put_head(out, SMFIC_MACRO, 1 + strs_len(names, n) + strs_len(values, n)))
		return false;
	buf_append_c(out, cmd);
	for (size_t i = 0; i < n; i++) {
		put_str(out, names[i]);
		put_str(out, values[i]);
	}
	return true;
}

bool milter_put_connect(struct buf *out, const char *hostname, char family, uint16_t port,
			const char *addr)
{
	bool has_addr = family != SMFIA_UNKNOWN;
	size_t len = strlen(hostname) + 1 + 1 + (has_addr ? 2 + strlen(addr) + 1 : 0);

	if (!put_head(out, SMFIC_CONNECT, len))
		return false;
	put_str(out, hostname);
	buf_append_c(out, family);
	if (has_addr) {
		const char p[2] = {(char)(port >> 8), (char)port};
		buf_append(out, p, 2);
		put_str(out, addr);
	}
	return true;
}

static bool put_one_str(struct buf *out, char cmd, const char *s)
{
	if (!put_head(out, cmd, strlen(s) + 1))
		return false;
	put_str(out, s);
	return true;
}

bool milter_put_helo(struct buf *out, const char *helo)
{
	return put_one_str(out, SMFIC_HELO, helo);
}

bool milter_put_unknown(struct buf *out, const char *line)
{
	return put_one_str(out, SMFIC_UNKNOWN, line);
}

static bool put_envelope(struct buf *out, char cmd, const char *addr, const char *const *args,
			 size_t n)
{
	if (!put_head(out, cmd, strlen(addr) + 1 + strs_len(args, n)))
		return false;
	put_str(out, addr);
	for (size_t i = 0; i < n; i++)
		put_str(out, args[i]);
	return true;
}

bool milter_put_mail(struct buf *out, const char *addr, const char *const *args, size_t n)
{
	return put_envelope(out, SMFIC_MAIL, addr, args, n);
}

bool milter_put_rcpt(struct buf *out, const char *addr, const char *const *args, size_t n)
{
	return put_envelope(out, SMFIC_RCPT, addr, args, n);
}

bool milter_put_header(struct buf *out, const char *name, const char *value)
{
	if (!put_head(out, SMFIC_HEADER, strlen(name) + 1 + strlen(value) + 1))
		return false;
	put_str(out, name);
	put_str(out, value);
	return true;
}

bool milter_put_body(struct buf *out, const void *p, size_t len)
{
	if (len > MILTER_CHUNK_SIZE || !put_head(out, SMFIC_BODY, len))
		return false;
	buf_append(out, p, len);
	return true;
}

bool milter_put_simple(struct buf *out, char cmd)
{
	switch (cmd) {
	case SMFIC_DATA:
	case SMFIC_EOH:
	case SMFIC_BODYEOB:
	case SMFIC_ABORT:
	case SMFIC_QUIT:
	case SMFIC_QUIT_NC:
		return put_head(out, cmd, 0);
	default:
		return false;
	}
}

/* --- the reader --------------------------------------------------------------------------- */

void milter_reader_init(struct milter_reader *r)
{
	r->error = MILTER_ERR_OK;
	memset(&r->reply, 0, sizeof(r->reply));
	r->head_len = 0;
	r->data_len = 0;
	r->have = 0;
	r->done = false;
	r->bad = false;
}

static enum milter_read_status bad(struct milter_reader *r, enum milter_read_error e)
{
	r->error = e;
	r->bad = true;
	return MILTER_READ_BAD;
}

enum milter_read_status milter_reader_feed(struct milter_reader *r, const void *in, size_t len,
					   size_t *used_r)
{
	const uint8_t *p = in;
	size_t used = 0;

	*used_r = 0;
	if (r->bad)
		return MILTER_READ_BAD;
	if (r->done) {
		r->done = false;
		r->head_len = 0;
		r->have = 0;
	}
	/* the length, then the command octet */
	while (r->head_len < sizeof(r->head) && used < len) {
		r->head[r->head_len++] = p[used++];
		if (r->head_len == MILTER_LEN_BYTES) {
			uint32_t n = (uint32_t)r->head[0] << 24 | (uint32_t)r->head[1] << 16 |
				     (uint32_t)r->head[2] << 8 | r->head[3];
			*used_r = used;
			if (n == 0)
				return bad(r, MILTER_ERR_EMPTY);
			if (n > MILTER_PACKET_MAX)
				return bad(r, MILTER_ERR_TOO_LONG);
			r->data_len = n - 1;
		}
	}
	*used_r = used;
	if (r->head_len < sizeof(r->head))
		return MILTER_READ_MORE;
	size_t want = r->data_len - r->have, take = len - used < want ? len - used : want;
	if (take > 0)
		memcpy(r->data + r->have, p + used, take);
	r->have += (uint32_t)take;
	used += take;
	*used_r = used;
	if (r->have < r->data_len)
		return MILTER_READ_MORE;
	enum milter_read_error e =
	    milter_decode((char)r->head[MILTER_LEN_BYTES], r->data, r->data_len, &r->reply);
	if (e != MILTER_ERR_OK)
		return bad(r, e);
	r->done = true;
	return MILTER_READ_PACKET;
}

/* --- decoding one packet ------------------------------------------------------------------ */

/* A cursor over a packet's data. */
struct cur {
	char *p;
	size_t left;
};

static bool get_u32(struct cur *c, uint32_t *v)
{
	if (c->left < 4)
		return false;
	const uint8_t *b = (const uint8_t *)c->p;
	*v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	c->p += 4;
	c->left -= 4;
	return true;
}

/* A NUL-terminated string at the cursor. */
static bool get_str(struct cur *c, struct slice *s)
{
	const char *nul = c->left > 0 ? memchr(c->p, '\0', c->left) : NULL;
	if (nul == NULL)
		return false;
	s->p = c->p;
	s->len = (size_t)(nul - c->p);
	c->p += s->len + 1;
	c->left -= s->len + 1;
	return true;
}

static bool printable(const char *p, size_t len, bool space_ok)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch < 0x20 || ch == 0x7f || (ch == ' ' && !space_ok))
			return false;
	}
	return true;
}

/* RFC 5322 §3.6.8 field-name: printable ASCII but ':' */
static bool header_name_valid(struct slice n)
{
	if (n.len == 0 || n.len > 998)
		return false;
	for (size_t i = 0; i < n.len; i++)
		if ((unsigned char)n.p[i] < 33 || (unsigned char)n.p[i] > 126 || n.p[i] == ':')
			return false;
	return true;
}

/* A header value may be folded (a line break, LF or CRLF, then SP or HT)
   but may not end in a line break or hold any other CR or LF: a filter
   must not be able to start a new field, or the body, with it. */
static bool header_value_valid(struct slice v)
{
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] == '\r' && (i + 1 == v.len || v.p[i + 1] != '\n'))
			return false;
		if (v.p[i] == '\n' && (i + 1 == v.len || (v.p[i + 1] != ' ' && v.p[i + 1] != '\t')))
			return false;
	}
	return true;
}

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

/* 1-3 digits at *p (before end); advances */
static bool digits13(const char **p, const char *end)
{
	size_t n = 0;
	while (*p < end && digit(**p) && n < 4) {
		(*p)++;
		n++;
	}
	return n >= 1 && n <= 3;
}

/* One line of a filter's SMTP reply: "ddd" sep "c.d.d" [SP text]. */
static bool reply_line_valid(const char *p, size_t len, bool last, int *code)
{
	const char *end = p + len, *q;

	if (len < 4 + 5 || len > MILTER_REPLY_LINE_MAX)
		return false;
	if ((p[0] != '4' && p[0] != '5') || p[1] < '0' || p[1] > '5' || !digit(p[2]))
		return false;
	if (p[3] != (last ? ' ' : '-'))
		return false;
	int c = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	if (*code != 0 && c != *code)
		return false;
	*code = c;
	/* RFC 3463 §2: class "." subject "." detail, the class the code's */
	if (p[4] != p[0] || p[5] != '.')
		return false;
	q = p + 6;
	if (!digits13(&q, end) || q == end || *q != '.')
		return false;
	q++;
	if (!digits13(&q, end))
		return false;
	if (q < end && *q != ' ')
		return false;
	for (; q < end; q++)
		if (((unsigned char)*q < 0x20 && *q != '\t') || (unsigned char)*q >= 0x7f)
			return false;
	return true;
}

bool milter_reply_text_valid(const char *text, size_t len, int *code_r)
{
	int code = 0;
	size_t lines = 0;

	for (const char *p = text, *end = text + len; p <= end;) {
		const char *crlf = NULL;
		for (const char *q = p; q + 1 < end && crlf == NULL; q++)
			if (q[0] == '\r' && q[1] == '\n')
				crlf = q;
		const char *stop = crlf != NULL ? crlf : end;
		if (++lines > MILTER_REPLY_LINES_MAX)
			return false;
		if (!reply_line_valid(p, (size_t)(stop - p), crlf == NULL, &code))
			return false;
		if (crlf == NULL)
			break;
		p = crlf + 2;
		if (p == end) /* a CRLF at the very end */
			return false;
	}
	*code_r = code;
	return true;
}

static bool address_valid(struct slice a, bool empty_ok)
{
	return (empty_ok || a.len > 0) && printable(a.p, a.len, true);
}

/* names separated by single spaces, each printable */
static bool symlist_valid(struct slice s)
{
	return printable(s.p, s.len, true);
}

static enum milter_read_error get_symlist(struct cur *c, struct milter_symlist *l)
{
	if (!get_u32(c, &l->stage) || !get_str(c, &l->names))
		return MILTER_ERR_SHORT;
	return symlist_valid(l->names) ? MILTER_ERR_OK : MILTER_ERR_SYMLIST;
}

static enum milter_read_error decode_optneg(struct cur *c, struct milter_reply *rep)
{
	if (!get_u32(c, &rep->version) || !get_u32(c, &rep->actions) || !get_u32(c, &rep->protocol))
		return MILTER_ERR_NEGOTIATE;
	/* libmilter appends the macro lists a filter asked for (SETSYMLIST) */
	while (c->left > 0) {
		struct milter_symlist l;
		enum milter_read_error e = get_symlist(c, &l);
		if (e != MILTER_ERR_OK)
			return e;
		if (rep->n_symlists == MILTER_SYMLISTS_MAX)
			return MILTER_ERR_SYMLIST;
		rep->symlists[rep->n_symlists++] = l;
	}
	return MILTER_ERR_OK;
}

static enum milter_read_error decode_header(struct cur *c, struct milter_reply *rep, bool indexed)
{
	if ((indexed && !get_u32(c, &rep->index)) || !get_str(c, &rep->name) ||
	    !get_str(c, &rep->value))
		return MILTER_ERR_SHORT;
	if (!header_name_valid(rep->name) || !header_value_valid(rep->value))
		return MILTER_ERR_HEADER;
	return MILTER_ERR_OK;
}

/* an address, then optional ESMTP args (ADDRCPT_PAR, CHGFROM) */
static enum milter_read_error decode_addr(struct cur *c, struct milter_reply *rep, bool args)
{
	if (!get_str(c, &rep->addr))
		return MILTER_ERR_SHORT;
	if (args && c->left > 0 && !get_str(c, &rep->args))
		return MILTER_ERR_SHORT;
	if (!address_valid(rep->addr, false) || !address_valid(rep->args, true))
		return MILTER_ERR_ADDRESS;
	return MILTER_ERR_OK;
}

static enum milter_read_error decode_fields(char cmd, struct cur *c, struct milter_reply *rep)
{
	switch (cmd) {
	case SMFIR_ACCEPT:
	case SMFIR_CONTINUE:
	case SMFIR_DISCARD:
	case SMFIR_REJECT:
	case SMFIR_TEMPFAIL:
	case SMFIR_SKIP:
	case SMFIR_PROGRESS:
	case SMFIR_SHUTDOWN:
	case SMFIR_CONN_FAIL:
		return MILTER_ERR_OK;
	case SMFIC_OPTNEG:
		return decode_optneg(c, rep);
	case SMFIR_SETSYMLIST:
		rep->n_symlists = 1;
		return get_symlist(c, &rep->symlists[0]);
	case SMFIR_REPLYCODE:
		if (!get_str(c, &rep->text))
			return MILTER_ERR_SHORT;
		return milter_reply_text_valid(rep->text.p, rep->text.len, &rep->code)
			   ? MILTER_ERR_OK
			   : MILTER_ERR_REPLY;
	case SMFIR_QUARANTINE:
		if (!get_str(c, &rep->data))
			return MILTER_ERR_SHORT;
		return rep->data.len > 0 && printable(rep->data.p, rep->data.len, true)
			   ? MILTER_ERR_OK
			   : MILTER_ERR_TEXT;
	case SMFIR_ADDHEADER:
		return decode_header(c, rep, false);
	case SMFIR_INSHEADER:
	case SMFIR_CHGHEADER:
		return decode_header(c, rep, true);
	case SMFIR_ADDRCPT:
	case SMFIR_DELRCPT:
		return decode_addr(c, rep, false);
	case SMFIR_ADDRCPT_PAR:
	case SMFIR_CHGFROM:
		return decode_addr(c, rep, true);
	case SMFIR_REPLBODY:
		rep->data.p = c->p;
		rep->data.len = c->left;
		c->p[c->left] = '\0';
		c->p += c->left;
		c->left = 0;
		return MILTER_ERR_OK;
	default:
		return MILTER_ERR_UNKNOWN;
	}
}

enum milter_read_error milter_decode(char cmd, char *data, size_t len, struct milter_reply *rep)
{
	struct cur c = {data, len};

	memset(rep, 0, sizeof(*rep));
	rep->cmd = cmd;
	rep->args.p = "";
	enum milter_read_error e = decode_fields(cmd, &c, rep);
	if (e == MILTER_ERR_OK && c.left > 0)
		e = MILTER_ERR_DATA;
	return e;
}

const char *milter_read_error_text(enum milter_read_error e)
{
	switch (e) {
	case MILTER_ERR_OK:
		return "no error";
	case MILTER_ERR_EMPTY:
		return "packet of length 0";
	case MILTER_ERR_TOO_LONG:
		return "packet too long";
	case MILTER_ERR_UNKNOWN:
		return "unknown reply";
	case MILTER_ERR_DATA:
		return "unexpected data in the packet";
	case MILTER_ERR_SHORT:
		return "packet too short for its fields";
	case MILTER_ERR_REPLY:
		return "malformed SMTP reply";
	case MILTER_ERR_HEADER:
		return "malformed header name or value";
	case MILTER_ERR_ADDRESS:
		return "malformed address";
	case MILTER_ERR_TEXT:
		return "malformed quarantine reason";
	case MILTER_ERR_SYMLIST:
		return "malformed macro list";
	case MILTER_ERR_NEGOTIATE:
		return "short negotiation reply";
	}
	return "unknown error";
}

const char *milter_cmd_name(char cmd, bool reply)
{
	static const struct {
		char cmd;
		const char *name;
	} replies[] = {
	    {SMFIC_OPTNEG, "OPTNEG"},
	    {SMFIR_ADDRCPT, "ADDRCPT"},
	    {SMFIR_DELRCPT, "DELRCPT"},
	    {SMFIR_ADDRCPT_PAR, "ADDRCPT_PAR"},
	    {SMFIR_SHUTDOWN, "SHUTDOWN"},
	    {SMFIR_ACCEPT, "ACCEPT"},
	    {SMFIR_REPLBODY, "REPLBODY"},
	    {SMFIR_CONTINUE, "CONTINUE"},
	    {SMFIR_DISCARD, "DISCARD"},
	    {SMFIR_CHGFROM, "CHGFROM"},
	    {SMFIR_CONN_FAIL, "CONN_FAIL"},
	    {SMFIR_ADDHEADER, "ADDHEADER"},
	    {SMFIR_INSHEADER, "INSHEADER"},
	    {SMFIR_SETSYMLIST, "SETSYMLIST"},
	    {SMFIR_CHGHEADER, "CHGHEADER"},
	    {SMFIR_PROGRESS, "PROGRESS"},
	    {SMFIR_QUARANTINE, "QUARANTINE"},
	    {SMFIR_REJECT, "REJECT"},
	    {SMFIR_SKIP, "SKIP"},
	    {SMFIR_TEMPFAIL, "TEMPFAIL"},
	    {SMFIR_REPLYCODE, "REPLYCODE"},
	};
	static const struct {
		char cmd;
		const char *name;
	} commands[] = {
	    {SMFIC_ABORT, "ABORT"},	{SMFIC_BODY, "BODY"},	  {SMFIC_CONNECT, "CONNECT"},
	    {SMFIC_MACRO, "MACRO"},	{SMFIC_BODYEOB, "EOB"},	  {SMFIC_HELO, "HELO"},
	    {SMFIC_QUIT_NC, "QUIT_NC"}, {SMFIC_HEADER, "HEADER"}, {SMFIC_MAIL, "MAIL"},
	    {SMFIC_EOH, "EOH"},		{SMFIC_OPTNEG, "OPTNEG"}, {SMFIC_QUIT, "QUIT"},
	    {SMFIC_RCPT, "RCPT"},	{SMFIC_DATA, "DATA"},	  {SMFIC_UNKNOWN, "UNKNOWN"},
	};
	if (reply) {
		for (size_t i = 0; i < N_ELEMENTS(replies); i++)
			if (replies[i].cmd == cmd)
				return replies[i].name;
	} else {
		for (size_t i = 0; i < N_ELEMENTS(commands); i++)
			if (commands[i].cmd == cmd)
				return commands[i].name;
	}
	return "?";
}
