/* SPDX-License-Identifier: MIT */
/*
 * store_pg.c - the PostgreSQL engine of the store ([store] backend =
 * postgresql, [store] dsn): one libpq connection per store handle, the ops
 * table of store_private.h, the schema, and the error mapping (S7).
 *
 * Calls block: like SQLite's, they run on worker threads and in the CLI,
 * never on a network thread (net/workers.h).
 *
 * Durability (S1): COMMIT returns once PostgreSQL has flushed the WAL
 * (synchronous_commit on, its default; with a synchronous standby, once the
 * standby has it too). The store never lowers synchronous_commit.
 *
 * Writers: every write transaction takes one transaction-scoped advisory
 * lock first, the PostgreSQL form of SQLite's BEGIN IMMEDIATE, so writers of
 * every node queue one behind the other and each runs on the state the one
 * before committed (READ COMMITTED sees it). A write statement run outside a
 * transaction becomes one that takes the lock, as SQLite's autocommit
 * statements take its write lock. The store's read-modify-write
 * steps (UID counters, quotas, refcounts) are then as safe as on SQLite.
 * Group commit (S1) makes one transaction of many deliveries, so the lock
 * is taken once per group, not once per message.
 *
 * Readers: a statement outside a transaction is its own snapshot; a read
 * transaction (store_read_begin) is REPEATABLE READ, one snapshot.
 *
 * Statements are prepared on their first run with the types then bound
 * (bigint, text, bytea) and run again by name; a run with other types (a
 * NULL where a number was) goes unnamed. Results come as text; bytea is
 * decoded from its hex form on demand.
 *
 * A lost connection (a restart, a failover to a promoted standby) is
 * reopened at the next statement outside a transaction, with the same dsn:
 * a multi-host dsn with target_session_attrs=read-write finds the new
 * primary. A transaction cut by it fails with STORE_TEMP, so the client is
 * told to try again (451, -ERR [SYS/TEMP]); nothing was acknowledged.
 */
#include "store/store_private.h"
#include "util/log.h"
#include "util/mem.h"

#include <libpq-fe.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* pg_type.h's OIDs of the three types the store binds */
#define PG_INT8 20
#define PG_TEXT 25
#define PG_BYTEA 17

/* The advisory lock every writer takes: the four octets "mail", and the
   store's schema, so stores in other schemas of the database do not wait
   for each other. */
#define PG_WRITE_LOCK "SELECT pg_advisory_xact_lock(1835100524, hashtext(current_schema()))"
#define PG_LOCK_TIMEOUT "10s"

/* Engine codes (db_step, exec): an error, its SQLSTATE and text kept on
   the handle for pg_fail(). */
#define PG_ERROR 1

struct store_pg {
	PGconn *conn;
	char *dsn;
	unsigned generation; /* bumped when the connection is made again */
	unsigned next_name;
	bool in_tx;
	bool tx_failed; /* the connection was lost inside the transaction */
	int64_t changes;
	char sqlstate[6];
	char msg[512];
	char *test_schema; /* store_test_pg_schema_per_dir: SET on every connection */
};

static int pg_session(struct store *st);

struct pg_param {
	unsigned type; /* PG_INT8, PG_TEXT, PG_BYTEA, 0: a NULL of any type */
	const char *v; /* NULL: SQL NULL */
	int len;
	bool own;
	char num[24];
};

struct pg_stmt {
	struct db_stmt base;
	struct store *st;
	char *sql;   /* ?N written $N */
	bool writes; /* INSERT, UPDATE or DELETE: the writers' lock outside a transaction */
	int nparams;
	bool *used; /* [nparams]: $N appears in the text */
	struct pg_param *p;
	char name[24];
	unsigned prepared_gen; /* 0: not prepared on this connection */
	unsigned *prepared_types;
	PGresult *res;
	int row, nrows;
	bool ran;
	/* the current row's decoded bytea columns */
	unsigned char **blob;
	size_t *blob_len;
	int nblob;
};

#define PGS(x) ((struct pg_stmt *)(x))

/* --- errors ------------------------------------------------------------------- */

/* libpq's texts run over several lines: one line, single spaces, for the
   log and the CLI. */
static void one_line(char *t)
{
	char *o = t;
	bool space = false;
	for (char *p = t; *p != '\0'; p++) {
		bool ws = *p == '\n' || *p == '\t' || *p == '\r' || *p == ' ';
		if (ws && !space && o != t)
			*o++ = ' ';
		else if (!ws)
			*o++ = *p;
		space = ws;
	}
	while (o > t && o[-1] == ' ')
		o--;
	*o = '\0';
}

static void keep_error(struct store *st, const PGresult *res)
{
	struct store_pg *pg = st->pg;
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	/* the primary text: no "ERROR:" in front, no context lines after */
	const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (msg == NULL || msg[0] == '\0')
		msg = PQerrorMessage(pg->conn);
	snprintf(pg->sqlstate, sizeof(pg->sqlstate), "%s", state != NULL ? state : "");
	snprintf(pg->msg, sizeof(pg->msg), "%s", msg != NULL ? msg : "unknown error");
	one_line(pg->msg);
	if (PQstatus(pg->conn) != CONNECTION_OK && pg->in_tx)
		pg->tx_failed = true;
}

static int pg_fail(struct store *st, int rc, const char *what)
{
	struct store_pg *pg = st->pg;
	const char *s = pg != NULL ? pg->sqlstate : "";
	(void)rc;

	if (pg == NULL || pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK ||
	    strncmp(s, "08", 2) == 0 || strcmp(s, "57P01") == 0 || strcmp(s, "57P02") == 0 ||
	    strcmp(s, "57P03") == 0) {
		snprintf(st->err, sizeof(st->err),
			 "the PostgreSQL store cannot be reached (%s); try again",
			 pg != NULL && pg->msg[0] != '\0' ? pg->msg : "no connection");
		return STORE_TEMP;
	}
	if (strcmp(s, "53100") == 0) {
		snprintf(
		    st->err, sizeof(st->err),
		    "the disk of the PostgreSQL store is full: free some space there, then try "
		    "again");
		return STORE_TEMP;
	}
	if (strcmp(s, "55P03") == 0) { /* lock_timeout */
		snprintf(st->err, sizeof(st->err),
			 "the PostgreSQL store is busy (another writer holds its lock); try again");
		return STORE_TEMP;
	}
	if (strncmp(s, "53", 2) == 0 || strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0 ||
	    strcmp(s, "57014") == 0) {
		snprintf(st->err, sizeof(st->err), "the PostgreSQL store is busy (%s); try again",
			 pg->msg);
		return STORE_TEMP;
	}
	if (strcmp(s, "25006") == 0) {
		snprintf(st->err, sizeof(st->err),
			 "the PostgreSQL server is read-only (a standby?): give a dsn with "
			 "target_session_attrs=read-write; try again");
		return STORE_TEMP;
	}
	snprintf(st->err, sizeof(st->err), "%s: %s", what, pg->msg);
	return strncmp(s, "23", 2) == 0 ? STORE_EXISTS : STORE_PERM;
}

/* Makes the connection again if it was lost, outside a transaction only. */
static bool pg_ready(struct store *st)
{
	struct store_pg *pg = st->pg;
	if (PQstatus(pg->conn) == CONNECTION_OK)
		return true;
	if (pg->in_tx)
		return false;
	PQreset(pg->conn);
	if (PQstatus(pg->conn) != CONNECTION_OK)
		return false;
	pg->generation++;
	if (pg_session(st) != STORE_OK)
		return false;
	log_info("store: the connection to the PostgreSQL store was made again");
	return true;
}

/* --- statements ------------------------------------------------------------- */

/* ?N -> $N outside string literals and quoted names; the highest N. */
static char *translate(const char *sql, int *n_r, bool **used_r)
{
	size_t len = strlen(sql);
	char *out = xmalloc(len + 1);
	size_t o = 0;
	int n = 0;
	char quote = 0;
	bool seen[100] = {false};

	for (size_t i = 0; i < len; i++) {
		char c = sql[i];
		if (quote != 0) {
			if (c == quote)
				quote = 0;
			out[o++] = c;
			continue;
		}
		if (c == '\'' || c == '"') {
			quote = c;
			out[o++] = c;
			continue;
		}
		if (c == '?') {
			int k = 0;
			size_t j = i + 1;
			while (j < len && sql[j] >= '0' && sql[j] <= '9' && k < 1000)
				k = k * 10 + (sql[j++] - '0');
			if (k <= 0 || k >= 100)
				log_panic("store: SQL parameter ?%d out of range: %s", k, sql);
			out[o++] = '$';
			memcpy(out + o, sql + i + 1, j - i - 1);
			o += j - i - 1;
			i = j - 1;
			seen[k] = true;
			if (k > n)
				n = k;
			continue;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	bool *used = xcalloc((size_t)n + 1, sizeof(bool));
	for (int k = 1; k <= n; k++)
		used[k - 1] = seen[k];
	*n_r = n;
	*used_r = used;
	return out;
}

static struct db_stmt *pg_prepare(struct store *st, const char *sql, int *rc_r)
{
	struct pg_stmt *q = xcalloc(1, sizeof(*q));
	(void)rc_r;
	q->base.ops = &store_pg_ops;
	q->st = st;
	q->sql = translate(sql, &q->nparams, &q->used);
	q->writes = strncasecmp(sql, "INSERT", 6) == 0 || strncasecmp(sql, "UPDATE", 6) == 0 ||
		    strncasecmp(sql, "DELETE", 6) == 0;
	q->p = xcalloc((size_t)q->nparams + 1, sizeof(*q->p));
	q->prepared_types = xcalloc((size_t)q->nparams + 1, sizeof(unsigned));
	snprintf(q->name, sizeof(q->name), "m%u", ++st->pg->next_name);
	return &q->base;
}

static void clear_row(struct pg_stmt *q)
{
	for (int i = 0; i < q->nblob; i++)
		free(q->blob[i]);
	free(q->blob);
	free(q->blob_len);
	q->blob = NULL;
	q->blob_len = NULL;
	q->nblob = 0;
}

static void clear_param(struct pg_param *p)
{
	if (p->own)
		free((char *)p->v);
	*p = (struct pg_param){0};
}

static void pg_reset(struct db_stmt *s)
{
	struct pg_stmt *q = PGS(s);
	clear_row(q);
	if (q->res != NULL)
		PQclear(q->res);
	q->res = NULL;
	q->ran = false;
	q->row = q->nrows = 0;
	for (int i = 0; i < q->nparams; i++)
		clear_param(&q->p[i]);
}

static void pg_finalize(struct db_stmt *s)
{
	struct pg_stmt *q = PGS(s);
	pg_reset(s);
	free(q->sql);
	free(q->used);
	free(q->p);
	free(q->prepared_types);
	free(q);
}

static bool pg_busy(struct db_stmt *s)
{
	return PGS(s)->res != NULL;
}

static struct pg_param *param(struct db_stmt *s, int i)
{
	struct pg_stmt *q = PGS(s);
	if (i < 1 || i > q->nparams)
		return NULL; /* a number the statement lacks */
	clear_param(&q->p[i - 1]);
	return &q->p[i - 1];
}

static void pg_bind_int64(struct db_stmt *s, int i, int64_t v)
{
	struct pg_param *p = param(s, i);
	if (p == NULL)
		return;
	p->type = PG_INT8;
	snprintf(p->num, sizeof(p->num), "%" PRId64, v);
	p->v = p->num;
	p->len = (int)strlen(p->num);
}

static void pg_bind_text(struct db_stmt *s, int i, const char *v, int n, bool copy)
{
	struct pg_param *p = param(s, i);
	if (p == NULL)
		return;
	p->type = PG_TEXT;
	if (v == NULL)
		return;
	size_t len = n < 0 ? strlen(v) : (size_t)n;
	/* text parameters go as C strings: one with a length needs a copy */
	if (copy || n >= 0) {
		char *c = xmalloc(len + 1);
		memcpy(c, v, len);
		c[len] = '\0';
		p->v = c;
		p->own = true;
	} else {
		p->v = v;
	}
	p->len = (int)len;
}

static void pg_bind_blob(struct db_stmt *s, int i, const void *v, size_t n)
{
	struct pg_param *p = param(s, i);
	if (p == NULL)
		return;
	if (n > INT32_MAX)
		log_panic("store: a %zu-octet value is past PostgreSQL's limit", n);
	p->type = PG_BYTEA;
	p->v = v != NULL ? v : "";
	p->len = (int)n;
}

static void pg_bind_null(struct db_stmt *s, int i)
{
	struct pg_param *p = param(s, i);
	if (p != NULL)
		p->type = 0;
}

/* The type a parameter is sent with: an unbound one the text never names
   is a NULL text; a NULL of no type lets the server infer it. */
static unsigned param_type(const struct pg_stmt *q, int i)
{
	if (!q->used[i])
		return PG_TEXT;
	return q->p[i].type;
}

static int run(struct pg_stmt *q)
{
	struct store *st = q->st;
	struct store_pg *pg = st->pg;
	int n = q->nparams;
	const char *values[100];
	int lengths[100], formats[100];
	unsigned types[100];

	pg->sqlstate[0] = '\0';
	pg->msg[0] = '\0';
	if (pg->tx_failed || !pg_ready(st)) {
		snprintf(pg->sqlstate, sizeof(pg->sqlstate), "08006");
		snprintf(pg->msg, sizeof(pg->msg), "%s", PQerrorMessage(pg->conn));
		one_line(pg->msg);
		return PG_ERROR;
	}
	bool same = q->prepared_gen == pg->generation;
	for (int i = 0; i < n; i++) {
		values[i] = q->p[i].v;
		lengths[i] = q->p[i].len;
		formats[i] = q->p[i].type == PG_BYTEA ? 1 : 0;
		types[i] = param_type(q, i);
		if (q->prepared_types[i] != types[i])
			same = false;
	}
	PGresult *res;
	if (same) {
		res = PQexecPrepared(pg->conn, q->name, n, values, lengths, formats, 0);
	} else if (q->prepared_gen != pg->generation) {
		/* the first run on this connection: prepare with these types */
		res = PQprepare(pg->conn, q->name, q->sql, n, (const Oid *)types);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			keep_error(st, res);
			PQclear(res);
			return PG_ERROR;
		}
		PQclear(res);
		q->prepared_gen = pg->generation;
		memcpy(q->prepared_types, types, sizeof(unsigned) * (size_t)n);
		res = PQexecPrepared(pg->conn, q->name, n, values, lengths, formats, 0);
	} else {
		res = PQexecParams(pg->conn, q->sql, n, (const Oid *)types, values, lengths,
				   formats, 0);
	}
	ExecStatusType es = PQresultStatus(res);
	if (es != PGRES_TUPLES_OK && es != PGRES_COMMAND_OK) {
		keep_error(st, res);
		PQclear(res);
		return PG_ERROR;
	}
	const char *ct = PQcmdTuples(res);
	pg->changes = ct != NULL && ct[0] != '\0' ? strtoll(ct, NULL, 10) : 0;
	q->res = res;
	q->nrows = es == PGRES_TUPLES_OK ? PQntuples(res) : 0;
	q->row = -1;
	q->ran = true;
	return DB_OK;
}

static int pg_begin(struct store *st, bool write);
static int pg_commit(struct store *st);
static void pg_rollback(struct store *st);

static int pg_step(struct db_stmt *s)
{
	struct pg_stmt *q = PGS(s);
	if (!q->ran) {
		/* a lone write: a transaction of its own, under the writers' lock;
		   what it returns stays with the statement after the commit */
		bool own = q->writes && !q->st->pg->in_tx;
		int rc = own ? pg_begin(q->st, true) : DB_OK;
		if (rc == DB_OK)
			rc = run(q);
		if (own && rc == DB_OK)
			rc = pg_commit(q->st);
		else if (own)
			pg_rollback(q->st);
		if (rc != DB_OK) {
			pg_reset(s);
			return rc;
		}
	}
	clear_row(q);
	if (q->row + 1 < q->nrows) {
		q->row++;
		return DB_ROW;
	}
	q->row = q->nrows;
	return DB_DONE;
}

static bool on_row(const struct pg_stmt *q, int i)
{
	return q->res != NULL && q->row >= 0 && q->row < q->nrows && i >= 0 &&
	       i < PQnfields(q->res);
}

static bool pg_column_null(struct db_stmt *s, int i)
{
	struct pg_stmt *q = PGS(s);
	return !on_row(q, i) || PQgetisnull(q->res, q->row, i);
}

static const void *pg_column_blob(struct db_stmt *s, int i);

static const char *pg_column_text(struct db_stmt *s, int i)
{
	struct pg_stmt *q = PGS(s);
	if (pg_column_null(s, i))
		return NULL;
	if (PQftype(q->res, i) == PG_BYTEA) /* decoded, with a NUL after it */
		return pg_column_blob(s, i);
	return PQgetvalue(q->res, q->row, i);
}

static int64_t pg_column_int64(struct db_stmt *s, int i)
{
	const char *t = pg_column_text(s, i);
	if (t == NULL)
		return 0;
	if (t[0] == 't' && t[1] == '\0') /* a boolean, as SQLite's 1 and 0 */
		return 1;
	if (t[0] == 'f' && t[1] == '\0')
		return 0;
	return strtoll(t, NULL, 10);
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c - 'A' + 10;
}

/* bytea's text form is "\x" and two hex digits per octet; kept decoded,
   with a NUL after it, until the row moves. */
static const void *pg_column_blob(struct db_stmt *s, int i)
{
	struct pg_stmt *q = PGS(s);
	if (pg_column_null(s, i))
		return NULL;
	if (PQftype(q->res, i) != PG_BYTEA)
		return PQgetvalue(q->res, q->row, i);
	if (q->nblob == 0) {
		q->nblob = PQnfields(q->res);
		q->blob = xcalloc((size_t)q->nblob, sizeof(*q->blob));
		q->blob_len = xcalloc((size_t)q->nblob, sizeof(*q->blob_len));
	}
	if (q->blob[i] == NULL) {
		const char *t = PQgetvalue(q->res, q->row, i);
		size_t tl = (size_t)PQgetlength(q->res, q->row, i);
		if (tl >= 2 && t[0] == '\\' && t[1] == 'x') {
			size_t n = (tl - 2) / 2;
			unsigned char *b = xmalloc(n + 1);
			for (size_t k = 0; k < n; k++)
				b[k] = (unsigned char)(hexval(t[2 + 2 * k]) << 4 |
						       hexval(t[3 + 2 * k]));
			b[n] = '\0';
			q->blob[i] = b;
			q->blob_len[i] = n;
		} else { /* the escape form (bytea_output = escape) */
			size_t n = 0;
			unsigned char *u = PQunescapeBytea((const unsigned char *)t, &n);
			unsigned char *b = xmalloc(n + 1);
			if (u != NULL)
				memcpy(b, u, n);
			b[n] = '\0';
			PQfreemem(u);
			q->blob[i] = b;
			q->blob_len[i] = n;
		}
	}
	return q->blob[i];
}

static size_t pg_column_bytes(struct db_stmt *s, int i)
{
	struct pg_stmt *q = PGS(s);
	if (pg_column_null(s, i))
		return 0;
	if (PQftype(q->res, i) == PG_BYTEA) {
		(void)pg_column_blob(s, i);
		return q->blob_len[i];
	}
	return (size_t)PQgetlength(q->res, q->row, i);
}

static int64_t pg_changes(struct store *st)
{
	return st->pg->changes;
}

static int pg_exec(struct store *st, const char *sql)
{
	struct store_pg *pg = st->pg;
	pg->sqlstate[0] = '\0';
	if (pg->tx_failed || !pg_ready(st)) {
		snprintf(pg->sqlstate, sizeof(pg->sqlstate), "08006");
		snprintf(pg->msg, sizeof(pg->msg), "%s", PQerrorMessage(pg->conn));
		one_line(pg->msg);
		return PG_ERROR;
	}
	PGresult *res = PQexec(pg->conn, sql);
	ExecStatusType es = PQresultStatus(res);
	int rc = DB_OK;
	if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
		keep_error(st, res);
		rc = PG_ERROR;
	}
	PQclear(res);
	return rc;
}

static int pg_begin(struct store *st, bool write)
{
	struct store_pg *pg = st->pg;
	int rc = pg_exec(st, write ? "BEGIN ISOLATION LEVEL READ COMMITTED; " PG_WRITE_LOCK
				   : "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
	if (rc == DB_OK) {
		pg->in_tx = true;
		pg->tx_failed = false;
	} else if (PQtransactionStatus(pg->conn) != PQTRANS_IDLE) {
		PGresult *res = PQexec(pg->conn, "ROLLBACK");
		PQclear(res);
	}
	return rc;
}

static int pg_commit(struct store *st)
{
	struct store_pg *pg = st->pg;
	if (pg->tx_failed) {
		snprintf(pg->sqlstate, sizeof(pg->sqlstate), "08006");
		snprintf(pg->msg, sizeof(pg->msg), "the connection was lost in the transaction");
		return PG_ERROR;
	}
	PGresult *res = PQexec(pg->conn, "COMMIT");
	ExecStatusType es = PQresultStatus(res);
	int rc = DB_OK;
	/* a transaction that failed earlier answers COMMIT with ROLLBACK */
	const char *tag = PQcmdStatus(res);
	if (es != PGRES_COMMAND_OK) {
		keep_error(st, res);
		rc = PG_ERROR;
	} else if (tag != NULL && strcmp(tag, "ROLLBACK") == 0) {
		snprintf(pg->sqlstate, sizeof(pg->sqlstate), "25P02");
		snprintf(pg->msg, sizeof(pg->msg), "the transaction had failed: rolled back");
		rc = PG_ERROR;
	}
	PQclear(res);
	pg->in_tx = false;
	return rc;
}

static void pg_rollback(struct store *st)
{
	struct store_pg *pg = st->pg;
	if (pg->conn != NULL && PQstatus(pg->conn) == CONNECTION_OK &&
	    PQtransactionStatus(pg->conn) != PQTRANS_IDLE) {
		PGresult *res = PQexec(pg->conn, "ROLLBACK");
		PQclear(res);
	}
	pg->in_tx = false;
	pg->tx_failed = false;
}

static int pg_body_read(struct store *st, int64_t body_id, uint64_t size, uint64_t off, void *dst,
			size_t len)
{
	/* substring() of bytea counts from 1 and reads only the piece */
	struct db_stmt *s = store_stmt(
	    st, "SELECT substring(data FROM CAST(?2 AS integer) FOR CAST(?3 AS integer)), "
		"length(data) "
		"FROM bodies WHERE id = ?1");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, body_id);
	db_bind_int64(s, 2, (int64_t)off + 1);
	db_bind_int64(s, 3, (int64_t)len);
	int rc = db_step(s);
	if (rc == DB_DONE) {
		db_reset(s);
		snprintf(st->err, sizeof(st->err), "body %" PRId64 " is gone", body_id);
		return STORE_NOTFOUND;
	}
	if (rc != DB_ROW)
		return pg_fail(st, rc, "body read");
	if ((uint64_t)db_column_int64(s, 1) != size || db_column_bytes(s, 0) != len) {
		db_reset(s);
		snprintf(st->err, sizeof(st->err), "body %" PRId64 " is not %" PRIu64 " octets",
			 body_id, size);
		return STORE_PERM;
	}
	memcpy(dst, db_column_blob(s, 0), len);
	db_reset(s);
	return STORE_OK;
}

static char *pg_where(struct store *st)
{
	PGconn *c = st->pg->conn;
	char *schema = NULL;
	PGresult *res = PQexec(c, "SELECT current_schema()");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    !PQgetisnull(res, 0, 0) && strcmp(PQgetvalue(res, 0, 0), "public") != 0)
		schema = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	const char *host = PQhost(c);
	char *w =
	    xasprintf("postgresql %s%s%s:%s/%s%s%s", host != NULL && host[0] == '/' ? "[" : "",
		      host != NULL ? host : "?", host != NULL && host[0] == '/' ? "]" : "",
		      PQport(c) != NULL ? PQport(c) : "?", PQdb(c) != NULL ? PQdb(c) : "?",
		      schema != NULL ? ", schema " : "", schema != NULL ? schema : "");
	free(schema);
	return w;
}

static void pg_close(struct store *st)
{
	if (st->pg == NULL)
		return;
	if (st->pg->conn != NULL)
		PQfinish(st->pg->conn);
	free(st->pg->dsn);
	free(st->pg->test_schema);
	free(st->pg);
	st->pg = NULL;
}

const struct store_ops store_pg_ops = {
    .name = "postgresql",
    .prepare = pg_prepare,
    .finalize = pg_finalize,
    .reset = pg_reset,
    .busy = pg_busy,
    .bind_int64 = pg_bind_int64,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .column_int64 = pg_column_int64,
    .column_text = pg_column_text,
    .column_blob = pg_column_blob,
    .column_bytes = pg_column_bytes,
    .column_null = pg_column_null,
    .changes = pg_changes,
    .exec = pg_exec,
    .fail = pg_fail,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .body_read = pg_body_read,
    .close = pg_close,
    .where = pg_where,
    /* the WAL's insert position: it moves with every commit, ours too */
    .sql_data_version = "SELECT pg_current_wal_insert_lsn() - '0/0'",
    .sql_stats = "SELECT (SELECT count(*) FROM queue), (SELECT min(created) FROM queue), "
		 "(SELECT count(*) FROM bodies), pg_database_size(current_database())",
    .shared = true,
};

/* --- the schema ------------------------------------------------------------- */

/* The schema at version PG_BASE_VERSION of store_sqlite.c's migrations, in
   one step: the same tables, columns and meanings (see there), in
   PostgreSQL's types; pg_migrations then take it on to the version SQLite's
   reach, one entry a version, as there. The functions give the store's SQL
   what SQLite has built in. */
#define PG_BASE_VERSION 10
static const char pg_schema[] =
    "CREATE FUNCTION instr(text, text) RETURNS integer LANGUAGE sql IMMUTABLE AS"
    " 'SELECT strpos($1, $2)';"
    "CREATE FUNCTION max(bigint, bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS"
    " 'SELECT greatest($1, $2)';"
    "CREATE FUNCTION min(bigint, bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS"
    " 'SELECT least($1, $2)';"
    "CREATE FUNCTION max(numeric, numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS"
    " 'SELECT greatest($1, $2)';"
    "CREATE FUNCTION min(numeric, numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS"
    " 'SELECT least($1, $2)';"
    "CREATE FUNCTION octets(text) RETURNS bigint LANGUAGE sql IMMUTABLE AS"
    " 'SELECT octet_length($1)::bigint';"
    /* STORE_UIDL_FMT: at least eight hex digits each, never cut */
    "CREATE FUNCTION mailroom_uidl(bigint, bigint) RETURNS text LANGUAGE sql IMMUTABLE AS"
    " 'SELECT CASE WHEN length(to_hex($1)) >= 8 THEN to_hex($1) ELSE lpad(to_hex($1), 8, ''0'')"
    " END || CASE WHEN length(to_hex($2)) >= 8 THEN to_hex($2) ELSE lpad(to_hex($2), 8, ''0'')"
    " END';"
    "CREATE TABLE schema_version (version bigint NOT NULL);"
    "CREATE TABLE domains ("
    " id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " name text NOT NULL UNIQUE,"
    " type bigint NOT NULL,"
    " created bigint NOT NULL,"
    " alias_of bigint REFERENCES domains(id),"
    " quota_warn bigint NOT NULL DEFAULT 0,"
    " quota_send bigint NOT NULL DEFAULT 0,"
    " quota bigint NOT NULL DEFAULT 0,"
    " max_message_size bigint NOT NULL DEFAULT 0,"
    " max_recipients bigint NOT NULL DEFAULT 0,"
    " messages_per_hour bigint NOT NULL DEFAULT 0,"
    " messages_per_day bigint NOT NULL DEFAULT 0,"
    " recipients_per_hour bigint NOT NULL DEFAULT 0,"
    " recipients_per_day bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE mailboxes ("
    " id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " address text NOT NULL UNIQUE,"
    " domain_id bigint REFERENCES domains(id),"
    " pw_hash text,"
    " scram text,"
    " apop_secret text,"
    " quota bigint NOT NULL DEFAULT -1,"
    " used bigint NOT NULL DEFAULT 0,"
    " messages bigint NOT NULL DEFAULT 0,"
    " pop3_enabled bigint NOT NULL DEFAULT 1,"
    " enabled bigint NOT NULL DEFAULT 1,"
    " next_uid bigint NOT NULL DEFAULT 1,"
    " created bigint NOT NULL,"
    " submission_enabled bigint NOT NULL DEFAULT 1,"
    " source text,"
    " quota_warn bigint NOT NULL DEFAULT -1,"
    " quota_send bigint NOT NULL DEFAULT -1,"
    " max_message_size bigint NOT NULL DEFAULT -1,"
    " max_recipients bigint NOT NULL DEFAULT -1,"
    " messages_per_hour bigint NOT NULL DEFAULT -1,"
    " messages_per_day bigint NOT NULL DEFAULT -1,"
    " recipients_per_hour bigint NOT NULL DEFAULT -1,"
    " recipients_per_day bigint NOT NULL DEFAULT -1,"
    " forward text,"
    " keep_copy bigint NOT NULL DEFAULT 1,"
    " last_uidvalidity bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE aliases ("
    " address text NOT NULL,"
    " target text NOT NULL,"
    " domain_id bigint NOT NULL REFERENCES domains(id),"
    " PRIMARY KEY (address, target));"
    "CREATE TABLE bodies ("
    " id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " refcount bigint NOT NULL,"
    " size bigint NOT NULL,"
    " data bytea NOT NULL,"
    " mime bytea);"
    /* bodies are written once and read in pieces: stored uncompressed, so
       substring() reads only the piece's TOAST chunks */
    "ALTER TABLE bodies ALTER COLUMN data SET STORAGE EXTERNAL;"
    "CREATE TABLE folders ("
    " id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " mailbox_id bigint NOT NULL REFERENCES mailboxes(id),"
    " name text NOT NULL,"
    " special bigint NOT NULL DEFAULT 0,"
    " subscribed bigint NOT NULL DEFAULT 0,"
    " uidvalidity bigint NOT NULL,"
    " uidnext bigint NOT NULL,"
    " highestmodseq bigint NOT NULL DEFAULT 1,"
    " pruned_modseq bigint NOT NULL DEFAULT 0,"
    " keywords text NOT NULL DEFAULT '',"
    " created bigint NOT NULL,"
    " UNIQUE (mailbox_id, name));"
    "CREATE TABLE messages ("
    " id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " mailbox_id bigint NOT NULL REFERENCES mailboxes(id),"
    " uid bigint NOT NULL,"
    " body_id bigint NOT NULL REFERENCES bodies(id),"
    " size bigint NOT NULL,"
    " uidl text,"
    " received bigint NOT NULL,"
    " folder_id bigint REFERENCES folders(id),"
    " flags bigint NOT NULL DEFAULT 0,"
    " keywords text,"
    " modseq bigint NOT NULL DEFAULT 1,"
    " UNIQUE (mailbox_id, uid));"
    "CREATE INDEX messages_body ON messages(body_id);"
    "CREATE INDEX messages_folder_uid ON messages(folder_id, uid);"
    "CREATE INDEX messages_folder_modseq ON messages(folder_id, modseq);"
    "CREATE TABLE expunged ("
    " folder_id bigint NOT NULL REFERENCES folders(id),"
    " uid bigint NOT NULL,"
    " modseq bigint NOT NULL,"
    " at bigint NOT NULL);"
    "CREATE INDEX expunged_modseq ON expunged(folder_id, modseq);"
    "CREATE INDEX expunged_at ON expunged(folder_id, at);"
    "CREATE TABLE queue ("
    " id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " qid text NOT NULL UNIQUE,"
    " sender text NOT NULL,"
    " body_id bigint NOT NULL REFERENCES bodies(id),"
    " size bigint NOT NULL,"
    " created bigint NOT NULL,"
    " next_attempt bigint NOT NULL,"
    " attempts bigint NOT NULL DEFAULT 0,"
    " held bigint NOT NULL DEFAULT 0,"
    " auth_user text,"
    " dsn_envid text,"
    " dsn_ret text,"
    " delay_notified bigint NOT NULL DEFAULT 0,"
    " local_origin bigint NOT NULL DEFAULT 0);"
    "CREATE INDEX queue_next ON queue(next_attempt);"
    "CREATE TABLE queue_rcpts ("
    " queue_id bigint NOT NULL REFERENCES queue(id),"
    " address text NOT NULL,"
    " dsn_notify text,"
    " dsn_orcpt text,"
    " status bigint NOT NULL DEFAULT 0,"
    " last_error text,"
    " remote_reply text,"
    " PRIMARY KEY (queue_id, address));"
    "CREATE TABLE routes ("
    " space text PRIMARY KEY,"
    " hop text NOT NULL,"
    " tls text NOT NULL,"
    " auth_user text,"
    " auth_secret text);"
    "CREATE TABLE vacations ("
    " mailbox_id bigint PRIMARY KEY REFERENCES mailboxes(id),"
    " subject text NOT NULL,"
    " body text NOT NULL,"
    " external_subject text,"
    " external_body text,"
    " until bigint NOT NULL DEFAULT 0,"
    " interval_days bigint NOT NULL DEFAULT 7,"
    " created bigint NOT NULL);"
    "CREATE TABLE lists ("
    " id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " address text NOT NULL UNIQUE,"
    " domain_id bigint NOT NULL REFERENCES domains(id),"
    " senders bigint NOT NULL DEFAULT 0,"
    " owner text,"
    " created bigint NOT NULL);"
    "CREATE TABLE list_members ("
    " list_id bigint NOT NULL REFERENCES lists(id),"
    " member text NOT NULL,"
    " PRIMARY KEY (list_id, member));"
    "CREATE TABLE list_senders ("
    " list_id bigint NOT NULL REFERENCES lists(id),"
    " sender text NOT NULL,"
    " PRIMARY KEY (list_id, sender));"
    "CREATE TABLE once ("
    " key text PRIMARY KEY,"
    " until bigint NOT NULL);"
    "CREATE TABLE sent ("
    " mailbox_id bigint NOT NULL,"
    " at bigint NOT NULL,"
    " recipients bigint NOT NULL);"
    "CREATE INDEX sent_mailbox ON sent(mailbox_id, at);"
    "CREATE TABLE dkim_keys ("
    " id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " domain text NOT NULL,"
    " selector text NOT NULL,"
    " algorithm text NOT NULL,"
    " bits bigint NOT NULL,"
    " private_key text NOT NULL,"
    " state text NOT NULL,"
    " created bigint NOT NULL,"
    " UNIQUE (domain, selector));"
    "CREATE TABLE dkim_changes (n bigint NOT NULL);"
    "INSERT INTO dkim_changes VALUES (0);"
    /* the built-in postmaster (migration 6) and its folders (migration 9) */
    "INSERT INTO mailboxes (address, domain_id, pw_hash, created, quota, last_uidvalidity)"
    " VALUES ('" STORE_POSTMASTER "', NULL, NULL, extract(epoch FROM now())::bigint, -1,"
    " greatest(1, extract(epoch FROM now())::bigint % 4294967296));"
    "INSERT INTO folders (mailbox_id, name, special, subscribed, uidvalidity, uidnext, created)"
    " SELECT m.id, d.column1, d.column2, 1, m.last_uidvalidity, m.next_uid,"
    " extract(epoch FROM now())::bigint FROM mailboxes m, (VALUES ('INBOX', 0), ('Sent', 1),"
    " ('Drafts', 2), ('Trash', 3), ('Junk', 4), ('Archive', 5)) d ORDER BY m.id, d.column2;";

/* Entry i takes the schema from PG_BASE_VERSION + i to the next; never
   edit a released entry, append. */
static const char *const pg_migrations[] = {
    /* 11 */
    ("ALTER TABLE queue ADD COLUMN lease_node text;"
     "ALTER TABLE queue ADD COLUMN lease_until bigint NOT NULL DEFAULT 0;"),
};

/* The schema's version; 0 with no schema yet (asked without an error,
   which would end a transaction the caller holds). */
static int pg_schema_version(struct store *st, int *v_r)
{
	PGresult *res = PQexec(st->pg->conn, "SELECT to_regclass('schema_version') IS NOT NULL");
	*v_r = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		keep_error(st, res);
		PQclear(res);
		return pg_fail(st, PG_ERROR, "schema version");
	}
	bool have = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!have)
		return STORE_OK;
	res = PQexec(st->pg->conn, "SELECT max(version) FROM schema_version");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		keep_error(st, res);
		PQclear(res);
		return pg_fail(st, PG_ERROR, "schema version");
	}
	if (!PQgetisnull(res, 0, 0))
		*v_r = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return STORE_OK;
}

/* The dsn may name a schema of its own (options=-csearch_path=NAME): one
   database for several installations. If none of the search_path exists,
   its first schema is made, so `mailroom init` needs nothing made by hand. */
static int pg_schema_here(struct store *st)
{
	PGconn *c = st->pg->conn;
	PGresult *res = PQexec(c, "SELECT current_schema() IS NULL, "
				  "trim(split_part(current_setting('search_path'), ',', 1))");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		keep_error(st, res);
		PQclear(res);
		return pg_fail(st, PG_ERROR, "schema");
	}
	int r = STORE_OK;
	const char *name = PQgetvalue(res, 0, 1);
	if (PQgetvalue(res, 0, 0)[0] == 't' && name[0] != '\0' && name[0] != '$') {
		size_t n = strlen(name);
		char *unq = n >= 2 && name[0] == '"' ? xstrndup(name + 1, n - 2) : xstrdup(name);
		char *id = PQescapeIdentifier(c, unq, strlen(unq));
		char *sql = xasprintf("CREATE SCHEMA IF NOT EXISTS %s", id != NULL ? id : "\"\"");
		if (pg_exec(st, sql) != DB_OK)
			r = pg_fail(st, PG_ERROR, "create schema");
		else
			log_info("store: made the schema %s in the PostgreSQL store", unq);
		free(sql);
		PQfreemem(id);
		free(unq);
	}
	PQclear(res);
	return r;
}

/* The store keeps bytes as the clients gave them, as SQLite does: a text
   is not checked or converted as UTF-8 (a remote server's reply, an 8-bit
   header field), lower() folds ASCII only, and names sort by their bytes
   (LIST, ORDER BY). That is a database made with ENCODING SQL_ASCII and
   the C locale; another one is refused with the command that makes one. */
static int pg_check_database(struct store *st)
{
	PGresult *res =
	    PQexec(st->pg->conn, "SELECT current_setting('server_encoding'), datcollate, datctype, "
				 "current_database() FROM pg_database WHERE datname = "
				 "current_database()");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		keep_error(st, res);
		PQclear(res);
		return pg_fail(st, PG_ERROR, "database settings");
	}
	const char *enc = PQgetvalue(res, 0, 0), *coll = PQgetvalue(res, 0, 1),
		   *ctype = PQgetvalue(res, 0, 2);
	bool c_coll = strcmp(coll, "C") == 0 || strcmp(coll, "POSIX") == 0;
	bool c_ctype = strcmp(ctype, "C") == 0 || strcmp(ctype, "POSIX") == 0;
	int r = STORE_OK;
	if (strcmp(enc, "SQL_ASCII") != 0 || !c_coll || !c_ctype) {
		snprintf(
		    st->err, sizeof(st->err),
		    "the PostgreSQL database %.100s has encoding %.40s and locale %.60s/%.60s; "
		    "mailroom keeps mail's bytes as they are and needs ENCODING SQL_ASCII "
		    "with the C locale: createdb -E SQL_ASCII --locale=C -T template0 -O USER "
		    "%.100s",
		    PQgetvalue(res, 0, 3), enc, coll, ctype, PQgetvalue(res, 0, 3));
		r = STORE_INVALID;
	}
	PQclear(res);
	return r;
}

/* Makes the schema, or takes it on to the latest version (one transaction
   under the writers' lock: two nodes starting at once do it once; a newer
   node upgrades the schema for all, so upgrade every node, after a pg_dump,
   as docs/admin.md "Upgrading" says). */
static int pg_migrate(struct store *st, bool create)
{
	int v = 0, r;
	int latest = store_schema_latest();
	if (PG_BASE_VERSION + (int)N_ELEMENTS(pg_migrations) != latest)
		log_panic("store: the PostgreSQL schema reaches version %d, SQLite's %d",
			  PG_BASE_VERSION + (int)N_ELEMENTS(pg_migrations), latest);
	if ((r = pg_check_database(st)) != STORE_OK || (r = pg_schema_version(st, &v)) != STORE_OK)
		return r;
	if (v == latest)
		return STORE_OK;
	if (v > latest) {
		snprintf(st->err, sizeof(st->err),
			 "the store has schema version %d, newer than this mailroom (%d): run the "
			 "mailroom that made it",
			 v, latest);
		return STORE_PERM;
	}
	if (v != 0 && v < PG_BASE_VERSION) {
		snprintf(st->err, sizeof(st->err),
			 "the PostgreSQL store has schema version %d, older than any this mailroom "
			 "upgrades (%d)",
			 v, PG_BASE_VERSION);
		return STORE_PERM;
	}
	if (v == 0 && !create) {
		snprintf(st->err, sizeof(st->err),
			 "the PostgreSQL store does not exist yet (its database has no mailroom "
			 "schema): run mailroom init");
		return STORE_NOTFOUND;
	}
	if ((v == 0 && (r = pg_schema_here(st)) != STORE_OK) || (r = store_begin(st)) != STORE_OK)
		return r;
	int from = v;
	if ((r = pg_schema_version(st, &v)) != STORE_OK || v == latest) {
		store_rollback(st); /* made or upgraded by another node meanwhile */
		return r;
	}
	if (v == 0) {
		char ver[80];
		snprintf(ver, sizeof(ver), "INSERT INTO schema_version VALUES (%d)",
			 PG_BASE_VERSION);
		if ((r = store_exec(st, pg_schema)) != STORE_OK ||
		    (r = store_exec(st, ver)) != STORE_OK) {
			store_rollback(st);
			return r;
		}
		v = PG_BASE_VERSION;
	}
	for (; v < latest; v++)
		if ((r = store_exec(st, pg_migrations[v - PG_BASE_VERSION])) != STORE_OK) {
			store_rollback(st);
			return r;
		}
	char upd[80];
	snprintf(upd, sizeof(upd), "UPDATE schema_version SET version = %d", latest);
	if ((r = store_exec(st, upd)) != STORE_OK) {
		store_rollback(st);
		return r;
	}
	if ((r = store_commit(st)) == STORE_OK && from == 0)
		log_info("store: made the schema (version %d) in the PostgreSQL store", latest);
	else if (r == STORE_OK)
		log_info("store: migrated the PostgreSQL store from schema %d to %d", from, latest);
	return r;
}

static void no_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* The settings of every connection, the first and one made again. */
static int pg_session(struct store *st)
{
	struct store_pg *pg = st->pg;
	/* quiet: the schema's CREATE ... IF NOT EXISTS would print notices */
	PQsetNoticeProcessor(pg->conn, no_notices, NULL);
	/* a writer waits for the writers' lock as long as SQLite's busy
	   timeout, then the client is told to try again */
	if (pg_exec(st, "SET client_min_messages TO warning") != DB_OK ||
	    pg_exec(st, "SET lock_timeout TO '" PG_LOCK_TIMEOUT "'") != DB_OK)
		return pg_fail(st, PG_ERROR, "session");
	if (pg->test_schema != NULL) {
		char *sql = xasprintf("SET search_path TO %s", pg->test_schema);
		int rc = pg_exec(st, sql);
		free(sql);
		if (rc != DB_OK)
			return pg_fail(st, PG_ERROR, "test schema");
	}
	return STORE_OK;
}

static bool test_schema_per_dir;

void store_test_pg_schema_per_dir(bool on)
{
	test_schema_per_dir = on;
}

/* Test seam: a schema of its own for each data dir, named after it, made
   on first use and first in the search_path. */
static int use_dir_schema(struct store *st, const char *data_dir, bool create)
{
	char real[4096];
	if (realpath(data_dir, real) == NULL)
		snprintf(real, sizeof(real), "%s", data_dir);
	uint64_t h = 1469598103934665603ULL;
	for (const char *c = real; *c != '\0'; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	st->pg->test_schema = xasprintf("t%016" PRIx64, h);
	if (create) {
		char *mk = xasprintf("CREATE SCHEMA IF NOT EXISTS %s", st->pg->test_schema);
		int rc = pg_exec(st, mk);
		free(mk);
		if (rc != DB_OK)
			return pg_fail(st, PG_ERROR, "test schema");
	}
	return pg_session(st);
}

int store_pg_open(const char *data_dir, const char *dsn, bool create, struct store **st_r)
{
	struct store *st = xcalloc(1, sizeof(*st));
	*st_r = st;
	st->ops = &store_pg_ops;
	st->data_dir = xstrdup(data_dir);
	st->pg = xcalloc(1, sizeof(*st->pg));
	st->pg->generation = 1;
	if (dsn == NULL || dsn[0] == '\0') {
		snprintf(st->err, sizeof(st->err),
			 "[store] backend = postgresql needs a dsn ([store] dsn = "
			 "postgresql://USER@HOST:PORT/DATABASE)");
		return STORE_INVALID;
	}
	if (create && mkdir(data_dir, 0700) < 0 && errno != EEXIST) {
		snprintf(st->err, sizeof(st->err), "cannot make the folder %s: %s", data_dir,
			 strerror(errno));
		return STORE_PERM;
	}
	st->pg->dsn = xstrdup(dsn);
	/* defaults the dsn may override (it comes last): a bounded wait for a
	   server that does not answer, and keepalives that find a dead one in
	   a minute instead of the kernel's two hours */
	static const char *const keys[] = {"connect_timeout",
					   "keepalives_idle",
					   "keepalives_interval",
					   "keepalives_count",
					   "application_name",
					   "dbname",
					   NULL};
	const char *values[] = {"10", "30", "10", "3", "mailroom", dsn, NULL};
	st->pg->conn = PQconnectdbParams(keys, values, 1);
	if (PQstatus(st->pg->conn) != CONNECTION_OK) {
		snprintf(st->err, sizeof(st->err), "cannot connect to the PostgreSQL store: %s",
			 PQerrorMessage(st->pg->conn));
		one_line(st->err);
		return STORE_TEMP;
	}
	int r;
	if ((r = pg_session(st)) != STORE_OK)
		return r;
	if (test_schema_per_dir && (r = use_dir_schema(st, data_dir, create)) != STORE_OK)
		return r;
	return pg_migrate(st, create);
}
