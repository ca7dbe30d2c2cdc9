/*
 * gw_route: segment-by-segment matching of a request path against the route
 * table. Patterns are few and short, so a linear scan beats any index here;
 * what matters is that matching is exact (no prefix matches, no trailing-slash
 * guessing) and that captured values are bounded.
 */
#include "gw_route.h"
#include "gw_health.h"

#include <stdbool.h>
#include <string.h>

static const gw_route_t gw_routes[] = {
    {"GET", "/healthz", gw_health_live, NULL, GW_BODY_NONE},
    {"GET", "/readyz", gw_health_ready, NULL, GW_BODY_NONE},
    {"GET", "/api/v1/health", gw_health_full, NULL, GW_BODY_NONE},
};

const gw_route_t *gw_route_table(size_t *n)
{
    *n = sizeof gw_routes / sizeof gw_routes[0];
    return gw_routes;
}

/* Captures one {param} segment; false when the value is out of bounds. */
static bool capture(const char *name, size_t name_len, const char *val, size_t len, gw_match_t *out)
{
    if (len < 1 || len > GW_PARAM_MAX || out->nparams == GW_PARAMS_MAX)
        return false;
    gw_param_t *p = &out->params[out->nparams++];
    p->name = name;
    p->name_len = name_len;
    memcpy(p->value, val, len);
    p->value[len] = '\0';
    return true;
}

static bool match_path(const char *pattern, const char *path, size_t plen, gw_match_t *out)
{
    const char *p = pattern, *s = path, *end = path + plen;
    out->nparams = 0;
    while (*p && s < end) {
        if (*p != '/' || *s != '/')
            return false;
        p++;
        s++;
        const char *pe = p + strcspn(p, "/");
        const char *se = memchr(s, '/', (size_t)(end - s));
        if (!se)
            se = end;
        size_t sl = (size_t)(se - s);
        if (*p == '{' && pe - p >= 2 && pe[-1] == '}') {
            if (!capture(p + 1, (size_t)(pe - p) - 2, s, sl, out))
                return false;
        } else if ((size_t)(pe - p) != sl || memcmp(p, s, sl) != 0) {
            return false;
        }
        p = pe;
        s = se;
    }
    return *p == '\0' && s == end;
}

/* Appends `m` to the allow list unless present. */
static void allow_add(char *allow, const char *m)
{
    size_t ml = strlen(m), al = strlen(allow);
    for (const char *q = allow; (q = strstr(q, m)); q += ml) {
        if ((q == allow || q[-1] == ' ') && (q[ml] == ',' || q[ml] == '\0'))
            return;
    }
    if (al + ml + 3 > GW_ALLOW_MAX)
        return;
    if (al) {
        memcpy(allow + al, ", ", 2);
        al += 2;
    }
    memcpy(allow + al, m, ml + 1);
}

static bool method_is(const gw_route_t *r, const char *method)
{
    if (strcmp(r->method, method) == 0)
        return true;
    return strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0;
}

gw_match_result_t gw_route_match(const gw_route_t *routes, size_t n, const char *method,
                                 const char *target, gw_match_t *out)
{
    memset(out, 0, sizeof *out);
    size_t plen = strcspn(target, "?#");
    bool path_seen = false, get_seen = false;
    gw_match_t tmp;
    for (size_t i = 0; i < n; i++) {
        if (!match_path(routes[i].pattern, target, plen, &tmp))
            continue;
        if (method_is(&routes[i], method)) {
            *out = tmp;
            out->route = &routes[i];
            out->allow[0] = '\0';
            return GW_MATCH_OK;
        }
        path_seen = true;
        get_seen = get_seen || strcmp(routes[i].method, "GET") == 0;
        allow_add(out->allow, routes[i].method);
    }
    if (!path_seen)
        return GW_MATCH_NOT_FOUND;
    if (get_seen)
        allow_add(out->allow, "HEAD");
    allow_add(out->allow, "OPTIONS");
    return GW_MATCH_METHOD_NOT_ALLOWED;
}
