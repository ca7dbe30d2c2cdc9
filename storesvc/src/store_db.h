/*
 * store_db: one PostgreSQL connection with a client-side deadline on every
 * operation. storesvc gives each proto-server worker its own store_db_t, so
 * a connection is only ever used by one thread.
 *
 * Every query is parameterised (PQsendQueryParams; no SQL text is ever built
 * from input) and runs on a non-blocking connection: the worker polls the
 * socket until the deadline, then cancels the query and drops the
 * connection, so a hung or partitioned database costs a request at most
 * `timeout_ms`. PostgreSQL gets the same bound as statement_timeout.
 *
 * The connection is made lazily and remade after any loss (server restart,
 * network error, timeout) on the next use, with a back-off between failed
 * attempts so a database that is down is not hammered. Nothing here needs
 * storesvc to restart when PostgreSQL does.
 */
#ifndef STORE_DB_H
#define STORE_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

typedef enum {
    STORE_DB_OK = 0,
    STORE_DB_DOWN = -1,    /* no connection (connect failed, lost, or backing off) */
    STORE_DB_TIMEOUT = -2, /* the deadline passed; the query was cancelled */
    STORE_DB_ERROR = -3,   /* the server answered with an error (see store_db_sqlstate) */
    STORE_DB_NOMEM = -4,
} store_db_status_t;

/* "ok", "down", "timeout", "error", "nomem". */
const char *store_db_status_str(int status);

typedef struct {
    const char *sql;           /* one statement with $1..$n placeholders */
    int nparams;               /* 0..n */
    const char *const *values; /* n values, NULL entries are SQL NULL */
    const int *lengths;        /* for binary values; NULL when every value is text */
    const int *formats;        /* 0 text, 1 binary per value; NULL: all text */
    bool idempotent;           /* may be sent again when the connection was lost */
} store_query_t;

typedef struct store_db store_db_t;

/* `conninfo` (a postgresql:// URL or key=value string) is copied and never
 * logged. `timeout_ms` bounds every connect and query. `label` names the
 * connection in logs (e.g. "worker-0"), copied. No connection is made yet. */
store_db_t *store_db_new(const char *conninfo, long timeout_ms, const char *label);

void store_db_destroy(store_db_t **self_p);

/* Connects now unless connected, ignoring the back-off, within `timeout_ms`
 * (<= 0: the connection's own timeout). Returns STORE_DB_OK or
 * STORE_DB_DOWN. Used at start to wait for the database. */
int store_db_connect(store_db_t *self, long timeout_ms);

/* Runs one query. On STORE_DB_OK `*out` (may be NULL when not wanted)
 * receives the result (PGRES_COMMAND_OK or PGRES_TUPLES_OK), the caller's
 * to PQclear. When the connection was lost before the query could complete
 * and `q->idempotent`, it reconnects and tries once more. */
int store_db_exec(store_db_t *self, const store_query_t *q, PGresult **out);

/* Runs a fixed SQL script (several statements, no parameters, simple query
 * protocol). Only for static text compiled into the program (migrations). */
int store_db_exec_script(store_db_t *self, const char *sql);

/* `SELECT 1` within the deadline; reconnects first when needed. */
int store_db_ping(store_db_t *self);

/* SQLSTATE of the last STORE_DB_ERROR ("23505" unique violation, ...), or "". */
const char *store_db_sqlstate(const store_db_t *self);

/* True while a connection is open and believed good. */
bool store_db_connected(const store_db_t *self);

/* Observes store_db_exec (metrics): begin before a query takes the
 * connection, end after it with its store_db_status_t and duration (the
 * reconnect and retry included). Copied; NULL clears. Set it on the
 * thread that uses the connection, before its first query. */
typedef struct {
    void (*begin)(void *arg);
    void (*end)(void *arg, int status, double seconds);
    void *arg;
} store_db_hooks_t;
void store_db_set_hooks(store_db_t *self, const store_db_hooks_t *hooks);

#endif
