/*
 * store_migrate: versioned schema migrations, applied at start under an
 * advisory lock, one transaction per migration, recorded in
 * schema_migrations. The SQL lives here as static text so that the binary
 * alone can bring an empty database up to date.
 *
 * Conventions for new rows: append only, versions strictly increasing (a
 * gap is a version another branch holds; the runner applies each missing
 * version, in order, whenever it meets one), no BEGIN/COMMIT
 * inside (the runner wraps each row in its own transaction), every foreign
 * key gets an index, timestamps are timestamptz.
 */
#include "store_migrate.h"
#include "rt_clock.h"

#include "rt_log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Migration 1: users, refresh tokens, file metadata, and the functions
 * that decide refresh-token rotation and revocation atomically. */
static const char m1_core_schema[] =
    "CREATE TABLE users ("
    "  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
    "  username text NOT NULL," /* unique case-insensitively: users_username_lower_key */
    "  email text NOT NULL UNIQUE,"
    "  full_name text,"
    "  password_hash text NOT NULL,"
    "  role text NOT NULL DEFAULT 'user'"
    "    CHECK (role IN ('admin', 'moderator', 'user', 'viewer')),"
    "  is_active boolean NOT NULL DEFAULT true,"
    "  totp_secret text,"
    "  totp_enabled boolean NOT NULL DEFAULT false,"
    "  tokens_valid_after timestamptz NOT NULL DEFAULT 'epoch',"
    "  created_at timestamptz NOT NULL DEFAULT now(),"
    "  updated_at timestamptz NOT NULL DEFAULT now()"
    ");"
    "CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));"
    "CREATE INDEX users_created_at_idx ON users (created_at, id);"
    "CREATE TABLE refresh_tokens ("
    "  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
    "  token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),"
    "  family_id uuid NOT NULL,"
    "  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    "  created_at timestamptz NOT NULL DEFAULT now(),"
    "  expires_at timestamptz NOT NULL,"
    "  used_at timestamptz,"
    "  revoked_at timestamptz,"
    "  client_ip text,"
    "  user_agent text,"
    "  last_used_at timestamptz"
    ");"
    "CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);"
    "CREATE INDEX refresh_tokens_family_id_idx ON refresh_tokens (family_id);"
    "CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);"
    "CREATE INDEX refresh_tokens_live_idx ON refresh_tokens (family_id) WHERE revoked_at IS NULL;"
    "CREATE TABLE files ("
    "  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
    "  owner_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    "  name text NOT NULL,"
    "  content_type text NOT NULL DEFAULT 'application/octet-stream',"
    "  size bigint NOT NULL DEFAULT 0 CHECK (size >= 0),"
    "  sha256 text,"
    "  storage_key text NOT NULL UNIQUE,"
    "  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ready')),"
    "  created_at timestamptz NOT NULL DEFAULT now()"
    ");"
    "CREATE INDEX files_owner_id_idx ON files (owner_id, created_at);"
    "CREATE INDEX files_pending_idx ON files (created_at) WHERE status = 'pending';"
    /* Every change to a user's refresh tokens that must not race a rotation
     * (rotation itself, revocation) first takes this transaction lock, so
     * the statements after it see what the other one committed. Key space:
     * (class, hash of the user id); the migration lock uses the one-bigint
     * form, which never collides with the two-int form. */
    "CREATE FUNCTION store_lock_user_tokens(p_user uuid) RETURNS void"
    " LANGUAGE sql AS $fn$"
    "  SELECT pg_advisory_xact_lock(1920232294, hashtext(p_user::text))"
    "$fn$;"
    /* Revokes the user's live tokens: of family p_family only, or all but
     * p_keep's (either may be NULL). Returns how many it revoked. */
    "CREATE FUNCTION store_revoke_user_tokens(p_user uuid, p_family uuid, p_keep uuid)"
    " RETURNS integer LANGUAGE plpgsql AS $fn$"
    "DECLARE n integer;"
    "BEGIN"
    "  PERFORM store_lock_user_tokens(p_user);"
    "  UPDATE refresh_tokens SET revoked_at = now()"
    "   WHERE user_id = p_user AND revoked_at IS NULL AND expires_at > now()"
    "     AND (p_family IS NULL OR family_id = p_family)"
    "     AND (p_keep IS NULL OR family_id <> p_keep);"
    "  GET DIAGNOSTICS n = ROW_COUNT;"
    "  RETURN n;"
    "END $fn$;"
    /* The refresh decision (PROTOCOL.md, store.token_rotate), in one
     * transaction: lock the user's tokens, then the user row (KEY SHARE,
     * the lock the insert's foreign key check takes anyway, taken before
     * the token row so a concurrent user delete cannot deadlock with us),
     * then the token FOR UPDATE. Each statement of a volatile function sees
     * a fresh snapshot, so what a concurrent rotation committed before we
     * got the lock is visible: of two rotations of one unused token exactly
     * one is 'rotated'; the other finds it used ('grace' or 'reused'). */
    "CREATE FUNCTION store_token_rotate(p_hash bytea, p_new_hash bytea, p_grace_s integer,"
    "  p_expires_s integer, p_client_ip text, p_user_agent text,"
    "  OUT o_outcome text, OUT o_user_id uuid, OUT o_family_id uuid)"
    " LANGUAGE plpgsql AS $fn$"
    "DECLARE tok refresh_tokens%ROWTYPE; active boolean;"
    "BEGIN"
    "  o_outcome := 'invalid';"
    "  SELECT t.user_id INTO o_user_id FROM refresh_tokens t WHERE t.token_hash = p_hash;"
    "  IF NOT FOUND THEN RETURN; END IF;"
    "  PERFORM store_lock_user_tokens(o_user_id);"
    "  SELECT u.is_active INTO active FROM users u WHERE u.id = o_user_id FOR KEY SHARE;"
    "  IF NOT FOUND THEN o_user_id := NULL; RETURN; END IF;"
    "  SELECT t.* INTO tok FROM refresh_tokens t WHERE t.token_hash = p_hash FOR UPDATE;"
    "  IF NOT FOUND THEN o_user_id := NULL; RETURN; END IF;"
    "  o_family_id := tok.family_id;"
    "  IF tok.revoked_at IS NOT NULL OR tok.expires_at <= now() OR NOT active THEN"
    "    RETURN;"
    "  END IF;"
    "  IF tok.used_at IS NULL THEN"
    "    UPDATE refresh_tokens SET used_at = now() WHERE id = tok.id;"
    "    o_outcome := 'rotated';"
    "  ELSIF tok.used_at >= now() - p_grace_s * interval '1 second' THEN"
    "    o_outcome := 'grace';"
    "  ELSE"
    "    UPDATE refresh_tokens SET revoked_at = now()"
    "     WHERE family_id = tok.family_id AND revoked_at IS NULL;"
    "    o_outcome := 'reused';"
    "    RETURN;"
    "  END IF;"
    "  INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at, client_ip,"
    "    user_agent, last_used_at)"
    "  VALUES (p_new_hash, tok.family_id, tok.user_id, now() + p_expires_s * interval '1 second',"
    "    p_client_ip, p_user_agent, now());"
    "END $fn$;";

/* Migration 2: the rotation decision measures time at the decision.
 * now() is the start of the transaction: a request whose transaction began
 * before the winning rotation and then waited for the locks saw that
 * rotation as "in the future" and counted as within the grace window (with
 * grace 0, two or three parallel refreshes of one token could win). Now the
 * clock is read once every lock is held (clock_timestamp()), used_at is the
 * moment of the rotation, a late request is within grace only when it is
 * decided at most p_grace_s after it, and grace 0 means no grace at all. */
static const char m2_rotate_clock[] =
    "CREATE OR REPLACE FUNCTION store_token_rotate(p_hash bytea, p_new_hash bytea,"
    "  p_grace_s integer, p_expires_s integer, p_client_ip text, p_user_agent text,"
    "  OUT o_outcome text, OUT o_user_id uuid, OUT o_family_id uuid)"
    " LANGUAGE plpgsql AS $fn$"
    "DECLARE tok refresh_tokens%ROWTYPE; active boolean; v_now timestamptz;"
    "BEGIN"
    "  o_outcome := 'invalid';"
    "  SELECT t.user_id INTO o_user_id FROM refresh_tokens t WHERE t.token_hash = p_hash;"
    "  IF NOT FOUND THEN RETURN; END IF;"
    "  PERFORM store_lock_user_tokens(o_user_id);"
    "  SELECT u.is_active INTO active FROM users u WHERE u.id = o_user_id FOR KEY SHARE;"
    "  IF NOT FOUND THEN o_user_id := NULL; RETURN; END IF;"
    "  SELECT t.* INTO tok FROM refresh_tokens t WHERE t.token_hash = p_hash FOR UPDATE;"
    "  IF NOT FOUND THEN o_user_id := NULL; RETURN; END IF;"
    "  v_now := clock_timestamp();" /* every lock is held: this is the decision */
    "  o_family_id := tok.family_id;"
    "  IF tok.revoked_at IS NOT NULL OR tok.expires_at <= v_now OR NOT active THEN"
    "    RETURN;"
    "  END IF;"
    "  IF tok.used_at IS NULL THEN"
    "    UPDATE refresh_tokens SET used_at = v_now WHERE id = tok.id;"
    "    o_outcome := 'rotated';"
    "  ELSIF p_grace_s > 0 AND tok.used_at >= v_now - p_grace_s * interval '1 second' THEN"
    "    o_outcome := 'grace';"
    "  ELSE"
    "    UPDATE refresh_tokens SET revoked_at = v_now"
    "     WHERE family_id = tok.family_id AND revoked_at IS NULL;"
    "    o_outcome := 'reused';"
    "    RETURN;"
    "  END IF;"
    "  INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at, client_ip,"
    "    user_agent, last_used_at)"
    "  VALUES (p_new_hash, tok.family_id, tok.user_id,"
    "    v_now + p_expires_s * interval '1 second', p_client_ip, p_user_agent, v_now);"
    "END $fn$;";

/* Migration 3: store.user_auth_state lists the sessions of a user revoked
 * within an access token's lifetime (authsvc refuses their access tokens);
 * this index keeps that lookup to the user's revoked rows. */
static const char m3_revoked_index[] =
    "CREATE INDEX refresh_tokens_revoked_idx ON refresh_tokens (user_id, revoked_at)"
    " WHERE revoked_at IS NOT NULL;";

/* Migration 4: file uploads. A pending file remembers its multipart upload
 * (upload_id) and the parts sent so far (file_parts: the ETag and size the
 * store answered for each), so any replica can take the next step. Parts
 * go with their file (ON DELETE CASCADE). The listing of every ready file,
 * newest first, gets its own index. */
static const char m4_file_uploads[] =
    "ALTER TABLE files ADD COLUMN upload_id text;"
    "CREATE INDEX files_upload_id_idx ON files (upload_id) WHERE upload_id IS NOT NULL;"
    "CREATE INDEX files_ready_created_idx ON files (created_at DESC, id DESC)"
    "  WHERE status = 'ready';"
    "CREATE TABLE file_parts ("
    "  file_id uuid NOT NULL REFERENCES files (id) ON DELETE CASCADE,"
    "  part_no integer NOT NULL CHECK (part_no BETWEEN 1 AND 10000),"
    "  etag text NOT NULL,"
    "  size bigint NOT NULL CHECK (size >= 0),"
    "  PRIMARY KEY (file_id, part_no)"
    ");";
/* Migration 6: password-reset tokens and API keys, both stored only as
 * SHA-256 hashes. A user has one reset-token row at most (user_id is
 * unique): a new request overwrites it in one upsert, so a newer token
 * supersedes the older one even when two requests race; consuming one is
 * a single UPDATE ... WHERE used_at IS NULL,
 * so a token works once however many requests race for it. An API key is
 * found by its public key_id (unique, part of the key's text) and compared
 * by its secret's hash; permissions NULL means "whatever the owner's role
 * allows". */
static const char m6_reset_and_keys[] =
    "CREATE TABLE password_reset_tokens ("
    "  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
    "  user_id uuid NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,"
    "  token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),"
    "  created_at timestamptz NOT NULL DEFAULT now(),"
    "  expires_at timestamptz NOT NULL,"
    "  used_at timestamptz"
    ");"
    "CREATE TABLE api_keys ("
    "  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
    "  key_id text NOT NULL UNIQUE CHECK (key_id ~ '^[0-9a-f]{16}$'),"
    "  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    "  name text NOT NULL,"
    "  secret_hash bytea NOT NULL CHECK (octet_length(secret_hash) = 32),"
    "  permissions text[],"
    "  created_at timestamptz NOT NULL DEFAULT now(),"
    "  expires_at timestamptz,"
    "  last_used_at timestamptz"
    ");"
    "CREATE INDEX api_keys_user_id_idx ON api_keys (user_id, created_at);";
/* Migration 5: TOTP second factor. users.totp_secret (text, never written
 * before) becomes bytea: the secret sealed by authsvc (storesvc cannot
 * open it). totp_pending holds the sealed secret of a setup not yet
 * confirmed; totp_last_step is the last TOTP time step accepted, so a code
 * is accepted once (store.totp_use_step moves it forward only, in one
 * UPDATE ... WHERE totp_last_step < step: of two logins racing with one
 * code, exactly one passes). Backup codes are keyed hashes, one row each:
 * using one is a DELETE, so it works once however many requests race. */
static const char m5_totp[] =
    "ALTER TABLE users ALTER COLUMN totp_secret TYPE bytea USING NULL;"
    "ALTER TABLE users ADD COLUMN totp_pending bytea, ADD COLUMN totp_last_step bigint;"
    "ALTER TABLE users ADD CONSTRAINT users_totp_secret_check"
    "  CHECK (NOT totp_enabled OR totp_secret IS NOT NULL);"
    "CREATE TABLE totp_backup_codes ("
    "  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    "  code_hash bytea NOT NULL CHECK (octet_length(code_hash) = 32),"
    "  created_at timestamptz NOT NULL DEFAULT now(),"
    "  PRIMARY KEY (user_id, code_hash)" /* serves the foreign key too */
    ");"
    /* Turns the pending secret on, if it is still p_secret (a setup made
     * meanwhile replaced it: 'stale'), with a new set of backup codes (the
     * 32-byte hashes concatenated) and p_step as the last step used (the
     * code that confirmed it cannot log in). */
    "CREATE FUNCTION store_totp_enable(p_user uuid, p_secret bytea, p_step bigint,"
    "  p_hashes bytea) RETURNS text LANGUAGE plpgsql AS $fn$"
    "DECLARE u users%ROWTYPE;"
    "BEGIN"
    "  SELECT * INTO u FROM users WHERE id = p_user FOR UPDATE;"
    "  IF NOT FOUND THEN RETURN 'not_found'; END IF;"
    "  IF u.totp_enabled THEN RETURN 'conflict'; END IF;"
    "  IF u.totp_pending IS NULL OR u.totp_pending <> p_secret THEN RETURN 'stale'; END IF;"
    "  UPDATE users SET totp_enabled = true, totp_secret = p_secret, totp_pending = NULL,"
    "    totp_last_step = p_step, updated_at = now() WHERE id = p_user;"
    "  DELETE FROM totp_backup_codes WHERE user_id = p_user;"
    "  INSERT INTO totp_backup_codes (user_id, code_hash)"
    "    SELECT p_user, substring(p_hashes FROM i * 32 + 1 FOR 32)"
    "    FROM generate_series(0, octet_length(p_hashes) / 32 - 1) AS i;"
    "  RETURN 'enabled';"
    "END $fn$;"
    /* Turns TOTP off and forgets the secrets, the last step and the backup
     * codes: 'disabled', 'not_enabled' or 'not_found'. */
    "CREATE FUNCTION store_totp_disable(p_user uuid) RETURNS text"
    " LANGUAGE plpgsql AS $fn$"
    "DECLARE was boolean;"
    "BEGIN"
    "  SELECT totp_enabled INTO was FROM users WHERE id = p_user FOR UPDATE;"
    "  IF NOT FOUND THEN RETURN 'not_found'; END IF;"
    "  IF NOT was THEN RETURN 'not_enabled'; END IF;"
    "  UPDATE users SET totp_enabled = false, totp_secret = NULL, totp_pending = NULL,"
    "    totp_last_step = NULL, updated_at = now() WHERE id = p_user;"
    "  DELETE FROM totp_backup_codes WHERE user_id = p_user;"
    "  RETURN 'disabled';"
    "END $fn$;";

static const store_migration_t migrations[] = {
    {1, "core schema: users, refresh_tokens, files", m1_core_schema},
    {2, "token rotation decides by the clock after its locks", m2_rotate_clock},
    {3, "index of revoked sessions per user", m3_revoked_index},
    {4, "file uploads: upload_id, file_parts", m4_file_uploads},
    {5, "TOTP: sealed secrets, last step used, backup-code hashes", m5_totp},
    {6, "password reset tokens and API keys", m6_reset_and_keys},
};
#define NMIGRATIONS (sizeof migrations / sizeof migrations[0])

const store_migration_t *store_migrate_table(size_t *n)
{
    *n = NMIGRATIONS;
    return migrations;
}

static const char create_table_sql[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                       "  version integer PRIMARY KEY,"
                                       "  name text NOT NULL,"
                                       "  applied_at timestamptz NOT NULL DEFAULT now()"
                                       ")";

/* Runs a parameterised statement that returns nothing we need. */
static int run(store_db_t *db, const char *sql, int n, const char *const *vals)
{
    const store_query_t q = {.sql = sql, .nparams = n, .values = vals};
    return store_db_exec(db, &q, NULL);
}

static void log_failure(const store_migration_t *m, const char *step, int rc, store_db_t *db)
{
    rt_log_fields(RT_LOG_ERROR, NULL, "migration failed",
                  json_pack("{s:i, s:s, s:s, s:s, s:s}", "version", m ? m->version : 0, "name",
                            m ? m->name : "", "step", step, "status", store_db_status_str(rc),
                            "sqlstate", store_db_sqlstate(db)));
}

/* Is `version` recorded? 1 yes, 0 no, negative store_db status on failure. */
static int is_applied(store_db_t *db, const char *version)
{
    const char *vals[] = {version};
    const store_query_t q = {.sql = "SELECT 1 FROM schema_migrations WHERE version = $1::integer",
                             .nparams = 1,
                             .values = vals};
    PGresult *res = NULL;
    int rc = store_db_exec(db, &q, &res);
    if (rc == STORE_DB_OK)
        rc = PQntuples(res) > 0;
    PQclear(res);
    return rc;
}

/* One migration in one transaction. Returns 1 applied, 0 already there, -1. */
static int apply_one(store_db_t *db, const store_migration_t *m)
{
    char version[16];
    snprintf(version, sizeof version, "%d", m->version);
    const char *vals[] = {version, m->name};
    const char *step = "begin";
    int rc = run(db, "BEGIN", 0, NULL);
    int done = rc == STORE_DB_OK ? is_applied(db, version) : rc;
    if (done != 0) {
        (void)run(db, "ROLLBACK", 0, NULL);
        if (done < 0)
            log_failure(m, "check", done, db);
        return done > 0 ? 0 : -1;
    }
    if ((rc = store_db_exec_script(db, m->sql)) != STORE_DB_OK) {
        step = "sql";
    } else if ((rc = run(db, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2,
                         vals)) != STORE_DB_OK) {
        step = "record";
    } else if ((rc = run(db, "COMMIT", 0, NULL)) != STORE_DB_OK) {
        step = "commit";
    }
    if (rc != STORE_DB_OK) {
        log_failure(m, step, rc, db);
        (void)run(db, "ROLLBACK", 0, NULL);
        return -1;
    }
    rt_log_fields(RT_LOG_INFO, NULL, "migration applied",
                  json_pack("{s:i, s:s}", "version", m->version, "name", m->name));
    return 1;
}

/* Warns when the database was migrated by a newer storesvc. */
static void check_newer(store_db_t *db)
{
    const store_query_t q = {.sql = "SELECT coalesce(max(version), 0) FROM schema_migrations"};
    PGresult *res = NULL;
    if (store_db_exec(db, &q, &res) == STORE_DB_OK && PQntuples(res) == 1) {
        long have = strtol(PQgetvalue(res, 0, 0), NULL, 10);
        if (have > migrations[NMIGRATIONS - 1].version)
            rt_log_fields(RT_LOG_WARNING, NULL, "database schema is newer than this storesvc",
                          json_pack("{s:i, s:i}", "db_version", (int)have, "known_version",
                                    migrations[NMIGRATIONS - 1].version));
    }
    PQclear(res);
}

int store_migrate_apply(store_db_t *db, int *applied)
{
    const char *key[] = {STORE_MIGRATE_LOCK_KEY};
    int count = 0, rc = -1;
    int st = run(db, "SELECT pg_advisory_lock($1::bigint)", 1, key);
    if (st != STORE_DB_OK) {
        log_failure(NULL, "lock", st, db);
        return -1;
    }
    if ((st = run(db, create_table_sql, 0, NULL)) != STORE_DB_OK) {
        log_failure(NULL, "schema_migrations", st, db);
        goto cleanup;
    }
    for (size_t i = 0; i < NMIGRATIONS; i++) {
        int one = apply_one(db, &migrations[i]);
        if (one < 0)
            goto cleanup;
        count += one;
    }
    check_newer(db);
    rt_log_fields(
        RT_LOG_INFO, NULL, "migrations up to date",
        json_pack("{s:i, s:i}", "version", migrations[NMIGRATIONS - 1].version, "applied", count));
    rc = 0;
cleanup:
    (void)run(db, "SELECT pg_advisory_unlock($1::bigint)", 1, key);
    if (applied)
        *applied = count;
    return rc;
}

/* ---------------------------------------------------------- start-up wait -- */

/* Sleeps `ms`, in short steps so a stop request is seen quickly. */
static bool sleep_unless_stopped(long ms, store_stop_fn stop, void *arg)
{
    for (long slept = 0; slept < ms; slept += 100) {
        if (stop && stop(arg))
            return false;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return !(stop && stop(arg));
}

/* Connects, retrying every second until `wait_ms` has passed. Returns 0,
 * -1 when time ran out, -2 when asked to stop. */
static int wait_for_db(store_db_t *db, long wait_ms, store_stop_fn stop, void *arg)
{
    int64_t start = rt_clock_ms();
    for (int attempt = 1;; attempt++) {
        long left = wait_ms - (long)(rt_clock_ms() - start);
        long budget = left < 1000 ? 1000 : left > 5000 ? 5000 : left;
        if (store_db_connect(db, budget) == STORE_DB_OK)
            return 0;
        if (rt_clock_ms() - start >= wait_ms)
            return -1;
        if (attempt == 1)
            rt_info(NULL, "waiting for the database (up to %ld ms)", wait_ms);
        if (!sleep_unless_stopped(1000, stop, arg))
            return -2;
    }
}

int store_migrate_run(const char *conninfo, long wait_ms, store_stop_fn stop, void *stop_arg)
{
    int rc = -1;
    store_db_t *db = store_db_new(conninfo, STORE_MIGRATE_TIMEOUT_MS, "migrate");
    if (!db) {
        rt_error(NULL, "migrate: out of memory");
        return -1;
    }
    int waited = wait_for_db(db, wait_ms, stop, stop_arg);
    if (waited == -2) {
        rt_info(NULL, "stopped while waiting for the database");
        goto cleanup;
    }
    if (waited != 0) {
        rt_error(NULL, "database not reachable within %ld ms, giving up", wait_ms);
        goto cleanup;
    }
    rc = store_migrate_apply(db, NULL);
cleanup:
    store_db_destroy(&db);
    return rc;
}
