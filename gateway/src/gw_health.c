/*
 * gw_health: health and readiness. The two backend calls run in parallel:
 * both at once on the event loop's own sockets (gw_rpc_call_all) when the
 * request runs on a loop's coroutine; otherwise authsvc on a short-lived
 * helper thread and storesvc on the request thread, so the slowest answer
 * bounds the request at HEALTH_TIMEOUT_MS (a call is never resent after a
 * timeout).
 *
 * authsvc is asked sys.ping, not sys.health: its sys.health waits up to
 * HEALTH_TIMEOUT_MS for storesvc itself, so with storesvc hung its answer
 * would come just after our own deadline and authsvc would be reported
 * down as well. Its ping says whether its start-up work (the owner
 * bootstrap) is done ("ready"): until then authsvc is not ready.
 *
 * Later issue: per-kind concurrency bounds, so that a hung backend cannot
 * make health probes occupy every HTTP thread.
 */
#include "gw_health.h"
#include "gw_rpc.h"

#include <pthread.h>
#include <stddef.h>
#include <string.h>

#ifndef RESTC_VERSION
#define RESTC_VERSION "0.0.0"
#endif

typedef struct {
    const gw_ctx_t *ctx;
    const char *rid;
    bool ok;
} authsvc_probe_t;

static void *probe_authsvc(void *arg)
{
    authsvc_probe_t *p = arg;
    proto_reply_t rep;
    proto_reply_init(&rep);
    proto_err_t err = proto_pool_call(p->ctx->authsvc, PROTO_OP_SYS_PING, p->rid, NULL, 0, &rep,
                                      (int)p->ctx->cfg->health_timeout_ms);
    p->ok = gw_health_ping_ready(err, &rep);
    proto_reply_cleanup(&rep);
    return NULL;
}

bool gw_health_ping_ready(proto_err_t err, const proto_reply_t *rep)
{
    bool ready = true; /* a service whose ping does not say is ready when it answers */
    if (err != PROTO_OK)
        return false;
    if (proto_get_bool(rep->body, "ready", &ready) != 0)
        ready = true;
    return ready;
}

/* True when the string value of `key` in `checks` is "ok". */
static bool check_ok(const msgpack_object *checks, const char *key)
{
    char val[16];
    return checks && proto_get_str(checks, key, val, sizeof val) == 0 && strcmp(val, "ok") == 0;
}

/* storesvc's answer to sys.health: itself, and its own database and
 * object-store checks. */
static void read_storesvc(proto_err_t err, const proto_reply_t *rep, gw_health_checks_t *out)
{
    out->storesvc = (err == PROTO_OK);
    if (out->storesvc) {
        const msgpack_object *checks = proto_map_get(rep->body, "checks");
        out->database = check_ok(checks, "database");
        out->objectstore = check_ok(checks, "objectstore");
    }
}

static void probe_storesvc(const gw_ctx_t *ctx, const char *rid, gw_health_checks_t *out)
{
    proto_reply_t rep;
    proto_reply_init(&rep);
    proto_err_t err = proto_pool_call(ctx->storesvc, PROTO_OP_SYS_HEALTH, rid, NULL, 0, &rep,
                                      (int)ctx->cfg->health_timeout_ms);
    read_storesvc(err, &rep, out);
    proto_reply_cleanup(&rep);
}

/* Both checks at once on the loop's own sockets (a coroutine of an event
 * loop); -1 when this thread cannot, and nothing was asked. */
static int collect_async(const gw_ctx_t *ctx, const char *rid, bool authsvc_down,
                         gw_health_checks_t *out)
{
    proto_reply_t ra, rs;
    int tmo = (int)ctx->cfg->health_timeout_ms;
    gw_rpc_req_t reqs[] = {
        {.pool = ctx->storesvc, .op = PROTO_OP_SYS_HEALTH, .timeout_ms = tmo, .reply = &rs},
        {.pool = ctx->authsvc, .op = PROTO_OP_SYS_PING, .timeout_ms = tmo, .reply = &ra},
    };
    if (gw_rpc_call_all(reqs, authsvc_down ? 1 : 2, rid) != 0)
        return -1;
    read_storesvc(reqs[0].err, &rs, out);
    out->authsvc = !authsvc_down && gw_health_ping_ready(reqs[1].err, &ra);
    proto_reply_cleanup(&rs);
    if (!authsvc_down)
        proto_reply_cleanup(&ra);
    return 0;
}

void gw_health_collect(const gw_ctx_t *ctx, const char *rid, bool authsvc_down,
                       gw_health_checks_t *out)
{
    memset(out, 0, sizeof *out);
    if (collect_async(ctx, rid, authsvc_down, out) == 0)
        return;
    authsvc_probe_t ap = {ctx, rid, false};
    pthread_t tid;
    bool threaded = pthread_create(&tid, NULL, probe_authsvc, &ap) == 0;
    probe_storesvc(ctx, rid, out);
    if (threaded)
        pthread_join(tid, NULL);
    else
        probe_authsvc(&ap); /* no thread to spare: ask one after the other */
    out->authsvc = ap.ok;
}

static const struct {
    const char *name;
    size_t offset;
} check_rows[] = {
    {"authsvc", offsetof(gw_health_checks_t, authsvc)},
    {"storesvc", offsetof(gw_health_checks_t, storesvc)},
    {"database", offsetof(gw_health_checks_t, database)},
    {"objectstore", offsetof(gw_health_checks_t, objectstore)},
};
#define NCHECKS (sizeof check_rows / sizeof check_rows[0])

static bool check_at(const gw_health_checks_t *c, size_t i)
{
    return *(const bool *)((const char *)c + check_rows[i].offset);
}

static bool all_ok(const gw_health_checks_t *c)
{
    for (size_t i = 0; i < NCHECKS; i++) {
        if (!check_at(c, i))
            return false;
    }
    return true;
}

json_t *gw_health_checks_json(const gw_health_checks_t *c)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < NCHECKS; i++) {
        if (json_object_set_new(o, check_rows[i].name,
                                json_string(check_at(c, i) ? "ok" : "down")) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* Sets the reply, or an internal error when a JSON value could not be built. */
static void reply_built(gw_reply_t *reply, int status, json_t *body)
{
    if (!body) {
        gw_reply_error(reply, PROTO_ERR_INTERNAL_ERROR, "health: out of memory");
        return;
    }
    gw_reply_json(reply, status, body);
}

void gw_health_live(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    reply_built(reply, 200, json_pack("{s:s}", "status", "ok"));
}

void gw_health_ready(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    if (ctx->draining && atomic_load(ctx->draining)) { /* taken out before the backends are asked */
        reply_built(reply, 503, json_pack("{s:s}", "status", "draining"));
        return;
    }
    gw_health_checks_t c;
    gw_health_collect(ctx, req->rid, req->authsvc_down, &c);
    if (all_ok(&c)) {
        reply_built(reply, 200, json_pack("{s:s}", "status", "ready"));
        return;
    }
    reply_built(
        reply, 503,
        json_pack("{s:s, s:o}", "status", "not_ready", "checks", gw_health_checks_json(&c)));
}

void gw_health_full(const gw_ctx_t *ctx, const gw_request_t *req, gw_reply_t *reply)
{
    gw_health_checks_t c;
    gw_health_collect(ctx, req->rid, req->authsvc_down, &c);
    bool ok = all_ok(&c);
    reply_built(reply, ok ? 200 : 503,
                json_pack("{s:s, s:s, s:o}", "status", ok ? "ok" : "degraded", "version",
                          RESTC_VERSION, "checks", gw_health_checks_json(&c)));
}
