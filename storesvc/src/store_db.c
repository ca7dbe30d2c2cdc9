/*
 * store_db: a PostgreSQL connection with a client-side deadline.
 *
 * Every wait on the server is a poll() on PQsocket bounded by the deadline
 * of the operation (connect included: PQconnectStartParams/PQconnectPoll),
 * so no libpq call here can block longer than `timeout_ms`. On a timeout the
 * query is cancelled from a short-lived detached thread (PQcancel opens a
 * new connection without any timeout of its own, and a partitioned server
 * must not hold the worker) and the connection is dropped; statement_timeout
 * makes the server give up on its own too. Lost connections are remade on
 * the next use; failed attempts back off exponentially up to BACKOFF_MAX_MS.
 *
 * Queries are prepared once per connection (a named statement per distinct
 * SQL text, at most PREPARED_MAX) and then executed with
 * PQsendQueryPrepared: PostgreSQL skips parsing and planning on every later
 * call, which was the largest share of its CPU on hot reads. The cache is
 * per connection and forgotten with it; a statement the server no longer
 * accepts (a migration changed a table under it) drops the connection.
 */
#include "store_db.h"
#include "rt_clock.h"

#include "rt_log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PREPARED_MAX   96   /* distinct statements prepared per connection */
#define BACKOFF_MIN_MS 100  /* first wait after a failed connect */
#define BACKOFF_MAX_MS 2000 /* a database that comes back is seen within this */

struct store_db {
    char *conninfo; /* secret: never logged */
    long timeout_ms;
    char label[32];
    PGconn *conn;
    int64_t next_attempt_ms; /* no connect attempt before this (monotonic) */
    long backoff_ms;
    bool down_logged; /* the current outage has been logged once */
    char sqlstate[6];
    /* Statements prepared on `conn`: statement i is named "s<i>". */
    const char *prep_ptr[PREPARED_MAX]; /* the caller's SQL pointer (fast path) */
    char *prep_sql[PREPARED_MAX];       /* our copy of its text (the check) */
    int nprepared;
    store_db_hooks_t hooks; /* metrics; all NULL: not observed */
};

/* Forgets the prepared statements (the connection they lived on is gone). */
static void forget_prepared(store_db_t *self)
{
    for (int i = 0; i < self->nprepared; i++) {
        free(self->prep_sql[i]);
        self->prep_sql[i] = NULL;
        self->prep_ptr[i] = NULL;
    }
    self->nprepared = 0;
}

static const char *const status_names[] = {"ok", "down", "timeout", "error", "nomem"};

const char *store_db_status_str(int status)
{
    if (status > 0 || status < STORE_DB_NOMEM)
        return "unknown";
    return status_names[-status];
}

store_db_t *store_db_new(const char *conninfo, long timeout_ms, const char *label)
{
    if (!conninfo || timeout_ms <= 0)
        return NULL;
    store_db_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->conninfo = strdup(conninfo);
    if (!self->conninfo) {
        free(self);
        return NULL;
    }
    self->timeout_ms = timeout_ms;
    snprintf(self->label, sizeof self->label, "%s", label ? label : "db");
    self->backoff_ms = BACKOFF_MIN_MS;
    return self;
}

void store_db_destroy(store_db_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_db_t *self = *self_p;
    if (self->conn)
        PQfinish(self->conn);
    forget_prepared(self);
    if (self->conninfo) {
        explicit_bzero(self->conninfo, strlen(self->conninfo));
        free(self->conninfo);
    }
    free(self);
    *self_p = NULL;
}

const char *store_db_sqlstate(const store_db_t *self)
{
    return self ? self->sqlstate : "";
}

bool store_db_connected(const store_db_t *self)
{
    return self && self->conn && PQstatus(self->conn) == CONNECTION_OK;
}

/* Waits until the socket is ready for `events` or the deadline passes.
 * Returns 1 ready, 0 timed out, -1 error (including a closed socket). */
static int wait_socket(PGconn *conn, short events, int64_t deadline)
{
    int fd = PQsocket(conn);
    if (fd < 0)
        return -1;
    for (;;) {
        int64_t left = deadline - rt_clock_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = fd, .events = events};
        int n = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
        if (n > 0)
            return 1; /* POLLERR/POLLHUP too: libpq will report the error */
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* ------------------------------------------------------------ connecting -- */

/* One line of libpq's error text, for the log. libpq's messages name the
 * host and user but never the password. */
static void first_line(const char *msg, char *out, size_t cap)
{
    size_t n = strcspn(msg ? msg : "", "\r\n");
    snprintf(out, cap, "%.*s", (int)n, msg ? msg : "");
}

static void log_down(store_db_t *self, const char *why)
{
    if (self->down_logged)
        return;
    self->down_logged = true;
    rt_log_fields(RT_LOG_WARNING, NULL, "database unavailable",
                  json_pack("{s:s, s:s}", "db", self->label, "error", why));
}

/* Closes the connection; the next use reconnects at once (a loss after a
 * working connection is worth one immediate retry). */
static void drop_conn(store_db_t *self, const char *why)
{
    if (!self->conn)
        return;
    PQfinish(self->conn);
    self->conn = NULL;
    forget_prepared(self);
    self->next_attempt_ms = 0;
    self->backoff_ms = BACKOFF_MIN_MS;
    log_down(self, why);
}

static void connect_failed(store_db_t *self, const char *why)
{
    char line[256];
    first_line(why, line, sizeof line);
    if (self->conn) {
        PQfinish(self->conn);
        self->conn = NULL;
    }
    forget_prepared(self);
    self->next_attempt_ms = rt_clock_ms() + self->backoff_ms;
    self->backoff_ms =
        self->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : self->backoff_ms * 2;
    log_down(self, line);
}

/* Server notices (e.g. "relation already exists, skipping") would go raw
 * to stderr by default; keep the log JSON instead. */
static void on_notice(void *arg, const char *message)
{
    const store_db_t *self = arg;
    char line[256];
    first_line(message, line, sizeof line);
    rt_log_fields(RT_LOG_DEBUG, NULL, "database notice",
                  json_pack("{s:s, s:s}", "db", self->label, "notice", line));
}

/* Starts a connection. Our defaults come before `dbname`, so a value in the
 * URL itself (e.g. its own connect_timeout) wins over them. */
static PGconn *start_connect(const store_db_t *self)
{
    char connect_timeout[24];
    long secs = (self->timeout_ms + 999) / 1000;
    snprintf(connect_timeout, sizeof connect_timeout, "%ld", secs < 2 ? 2 : secs);
    const char *const keys[] = {
        "connect_timeout",     "application_name", "keepalives", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "dbname",     NULL};
    const char *const vals[] = {connect_timeout, "storesvc", "1", "10", "5", "3",
                                self->conninfo,  NULL};
    return PQconnectStartParams(keys, vals, 1);
}

/* Drives PQconnectPoll until connected, failed, or past the deadline. */
static int finish_connect(PGconn *conn, int64_t deadline)
{
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED)
            return -1;
        short ev = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        int w = wait_socket(conn, ev, deadline);
        if (w <= 0)
            return w == 0 ? -2 : -1;
        st = PQconnectPoll(conn);
    }
    return 0;
}

static int run_once(store_db_t *self, const store_query_t *q, const char *script, int64_t deadline,
                    PGresult **out);

/* The server gives up on a statement when we would: statement_timeout set
 * per session by a query rather than a startup option, which poolers such
 * as PgBouncer refuse. */
static int set_session(store_db_t *self, int64_t deadline)
{
    char ms[24];
    snprintf(ms, sizeof ms, "%ld", self->timeout_ms);
    const char *vals[] = {ms};
    const store_query_t q = {
        .sql = "SELECT set_config('statement_timeout', $1, false)", .nparams = 1, .values = vals};
    int rc = run_once(self, &q, NULL, deadline, NULL);
    return rc == STORE_DB_ERROR ? STORE_DB_OK : rc; /* refused: the client deadline still holds */
}

static int connect_now(store_db_t *self, int64_t deadline)
{
    self->conn = start_connect(self);
    if (!self->conn) {
        connect_failed(self, "out of memory");
        return STORE_DB_NOMEM;
    }
    PQsetNoticeProcessor(self->conn, on_notice, self);
    int rc = PQstatus(self->conn) == CONNECTION_BAD ? -1 : finish_connect(self->conn, deadline);
    if (rc == 0 && PQsetnonblocking(self->conn, 1) != 0)
        rc = -1;
    if (rc != 0) {
        connect_failed(self, rc == -2 ? "connect timed out" : PQerrorMessage(self->conn));
        return STORE_DB_DOWN;
    }
    if (set_session(self, deadline) != STORE_DB_OK) {
        connect_failed(self, "session setup failed");
        return STORE_DB_DOWN;
    }
    if (self->down_logged)
        rt_log_fields(RT_LOG_INFO, NULL, "database connected",
                      json_pack("{s:s}", "db", self->label));
    self->down_logged = false;
    self->backoff_ms = BACKOFF_MIN_MS;
    self->next_attempt_ms = 0;
    return STORE_DB_OK;
}

/* A usable connection, connecting when allowed. `force` ignores the back-off. */
static int ensure_conn(store_db_t *self, int64_t deadline, bool force)
{
    if (self->conn && PQstatus(self->conn) == CONNECTION_OK)
        return STORE_DB_OK;
    if (self->conn)
        drop_conn(self, "connection lost");
    if (!force && rt_clock_ms() < self->next_attempt_ms)
        return STORE_DB_DOWN;
    return connect_now(self, deadline);
}

int store_db_connect(store_db_t *self, long timeout_ms)
{
    if (!self)
        return STORE_DB_DOWN;
    return ensure_conn(self, rt_clock_ms() + (timeout_ms > 0 ? timeout_ms : self->timeout_ms),
                       true);
}

/* --------------------------------------------------------------- queries -- */

static void *cancel_main(void *arg)
{
    PGcancel *cancel = arg;
    char errbuf[256];
    (void)PQcancel(cancel, errbuf, sizeof errbuf);
    PQfreeCancel(cancel);
    return NULL;
}

/* Asks the server to cancel the running query without waiting for it. If no
 * thread can be spared, statement_timeout still ends the query server-side. */
static void cancel_async(PGconn *conn)
{
    PGcancel *cancel = PQgetCancel(conn);
    if (!cancel)
        return;
    pthread_attr_t attr;
    pthread_t tid;
    if (pthread_attr_init(&attr) != 0) {
        PQfreeCancel(cancel);
        return;
    }
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&tid, &attr, cancel_main, cancel) != 0)
        PQfreeCancel(cancel);
    pthread_attr_destroy(&attr);
}

/* Pushes the queued query out, reading whatever arrives meanwhile so the
 * server is never stuck writing to us. */
static int flush_out(PGconn *conn, int64_t deadline)
{
    for (;;) {
        int f = PQflush(conn);
        if (f == 0)
            return STORE_DB_OK;
        if (f < 0)
            return STORE_DB_DOWN;
        int w = wait_socket(conn, POLLIN | POLLOUT, deadline);
        if (w == 0)
            return STORE_DB_TIMEOUT;
        if (w < 0 || !PQconsumeInput(conn))
            return STORE_DB_DOWN;
    }
}

/* Errors after which the session is gone: the socket closed, class 08
 * (connection exception) or 57P0x (admin/crash shutdown, database dropped). */
static bool session_lost(PGconn *conn, const char *sqlstate)
{
    if (PQstatus(conn) != CONNECTION_OK)
        return true;
    /* 0A000 "cached plan must not change result type", 26000 "prepared
     * statement does not exist": our prepared statements are stale; a new
     * connection prepares them afresh. */
    return strncmp(sqlstate, "08", 2) == 0 || strncmp(sqlstate, "57P", 3) == 0 ||
           strcmp(sqlstate, "0A000") == 0 || strcmp(sqlstate, "26000") == 0;
}

static void record_error(store_db_t *self, const PGresult *r)
{
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(self->sqlstate, sizeof self->sqlstate, "%s", s ? s : "");
}

/* Reads every result of the query; keeps the first error, else the last
 * result in `*keep` (the caller clears it whatever is returned). */
static int collect(store_db_t *self, int64_t deadline, PGresult **keep)
{
    PGconn *conn = self->conn;
    int status = STORE_DB_OK;
    for (;;) {
        while (PQisBusy(conn)) {
            int w = wait_socket(conn, POLLIN, deadline);
            if (w == 0)
                return STORE_DB_TIMEOUT;
            if (w < 0 || !PQconsumeInput(conn))
                return STORE_DB_DOWN;
        }
        PGresult *r = PQgetResult(conn);
        if (!r)
            return status;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
            PQclear(r); /* never issued by this program; the session is unusable */
            return STORE_DB_DOWN;
        }
        bool good = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
        if (status == STORE_DB_OK && !good) {
            record_error(self, r);
            status = STORE_DB_ERROR;
            PQclear(*keep);
            *keep = NULL;
        }
        if (status == STORE_DB_OK) {
            PQclear(*keep);
            *keep = r;
        } else {
            PQclear(r);
        }
    }
}

/* The index of the statement prepared for `sql`, or -1. */
static int find_prepared(const store_db_t *self, const char *sql)
{
    for (int i = 0; i < self->nprepared; i++) {
        if (self->prep_ptr[i] == sql && strcmp(self->prep_sql[i], sql) == 0)
            return i;
    }
    for (int i = 0; i < self->nprepared; i++) { /* same text from another pointer */
        if (strcmp(self->prep_sql[i], sql) == 0)
            return i;
    }
    return -1;
}

/* Prepares `q` on the connection. Returns its index, -1 when the cache is
 * full (run it unprepared), or a negative status - 2 on failure. */
static int prepare(store_db_t *self, const store_query_t *q, int64_t deadline)
{
    char name[16];
    PGresult *res = NULL;
    int i = self->nprepared;
    if (i >= PREPARED_MAX)
        return -1;
    char *copy = strdup(q->sql);
    if (!copy)
        return -1;
    snprintf(name, sizeof name, "s%d", i);
    int rc = PQsendPrepare(self->conn, name, q->sql, q->nparams, NULL)
                 ? flush_out(self->conn, deadline)
                 : STORE_DB_DOWN;
    if (rc == STORE_DB_OK)
        rc = collect(self, deadline, &res);
    PQclear(res);
    if (rc != STORE_DB_OK) {
        free(copy);
        return rc - 2;
    }
    self->prep_ptr[i] = q->sql;
    self->prep_sql[i] = copy;
    self->nprepared++;
    return i;
}

/* Sends `q` as a prepared statement (preparing it first if new), or as a
 * plain parameterised query when the cache is full. */
static int send_query(store_db_t *self, const store_query_t *q, int64_t deadline)
{
    int i = find_prepared(self, q->sql);
    if (i < 0)
        i = prepare(self, q, deadline);
    if (i < -1)
        return i + 2; /* the status of the failed prepare */
    int sent;
    if (i == -1) {
        sent = PQsendQueryParams(self->conn, q->sql, q->nparams, NULL, q->values, q->lengths,
                                 q->formats, 0);
    } else {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        sent =
            PQsendQueryPrepared(self->conn, name, q->nparams, q->values, q->lengths, q->formats, 0);
    }
    return sent ? flush_out(self->conn, deadline) : STORE_DB_DOWN;
}

/* Sends one query (or script) and waits for its results. */
static int run_once(store_db_t *self, const store_query_t *q, const char *script, int64_t deadline,
                    PGresult **out)
{
    PGresult *res = NULL;
    self->sqlstate[0] = '\0';
    int rc;
    if (q)
        rc = send_query(self, q, deadline);
    else
        rc = PQsendQuery(self->conn, script) ? flush_out(self->conn, deadline) : STORE_DB_DOWN;
    if (rc == STORE_DB_OK)
        rc = collect(self, deadline, &res);
    if (rc == STORE_DB_ERROR && strcmp(self->sqlstate, "57014") == 0) {
        rc = STORE_DB_TIMEOUT; /* statement_timeout fired server-side; the session is fine */
    } else if (rc == STORE_DB_ERROR && session_lost(self->conn, self->sqlstate)) {
        rc = STORE_DB_DOWN;
        drop_conn(self, "connection lost");
    } else if (rc == STORE_DB_TIMEOUT) {
        cancel_async(self->conn);
        drop_conn(self, "query timed out");
    } else if (rc == STORE_DB_DOWN) {
        drop_conn(self, "connection lost");
    }
    if (rc == STORE_DB_OK && out)
        *out = res;
    else
        PQclear(res);
    return rc;
}

static int exec_any(store_db_t *self, const store_query_t *q, const char *script, bool retry,
                    PGresult **out)
{
    if (out)
        *out = NULL;
    if (!self || (!q && !script) || (q && !q->sql))
        return STORE_DB_ERROR;
    int64_t deadline = rt_clock_ms() + self->timeout_ms;
    bool had_conn = self->conn != NULL;
    int rc = ensure_conn(self, deadline, false);
    if (rc == STORE_DB_OK)
        rc = run_once(self, q, script, deadline, out);
    /* A connection that died while idle (server restart) is only noticed
     * now: an idempotent query may go once more on a fresh one. */
    if (rc == STORE_DB_DOWN && retry && had_conn &&
        ensure_conn(self, deadline, false) == STORE_DB_OK)
        rc = run_once(self, q, script, deadline, out);
    return rc;
}

int store_db_exec(store_db_t *self, const store_query_t *q, PGresult **out)
{
    if (!self || !self->hooks.end)
        return exec_any(self, q, NULL, q && q->idempotent, out);
    if (self->hooks.begin)
        self->hooks.begin(self->hooks.arg);
    int64_t t0 = (int64_t)(rt_clock_ns() / 1000u);
    int rc = exec_any(self, q, NULL, q && q->idempotent, out);
    self->hooks.end(self->hooks.arg, rc, (double)((int64_t)(rt_clock_ns() / 1000u) - t0) / 1e6);
    return rc;
}

void store_db_set_hooks(store_db_t *self, const store_db_hooks_t *hooks)
{
    if (self)
        self->hooks = hooks ? *hooks : (store_db_hooks_t){0};
}

int store_db_exec_script(store_db_t *self, const char *sql)
{
    return exec_any(self, NULL, sql, false, NULL);
}

int store_db_ping(store_db_t *self)
{
    const store_query_t q = {.sql = "SELECT 1", .idempotent = true};
    return store_db_exec(self, &q, NULL);
}
