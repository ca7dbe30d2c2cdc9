/*
 * rt_config: table-driven environment configuration. Each row of the
 * service's table is parsed and checked here, so services hold no parsing
 * code of their own and every variable is validated the same way.
 */
#include "rt_config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *default_getenv(const char *name, void *arg)
{
    (void)arg;
    return getenv(name);
}

int rt_parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

int rt_parse_long(const char *text, long *out)
{
    if (!text || !*text)
        return -1;
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || end == text)
        return -1;
    *out = v;
    return 0;
}

static bool valid_endpoint(const char *ep, size_t len)
{
    static const char *const schemes[] = {"tcp://", "ipc://", "inproc://"};
    for (size_t i = 0; i < 3; i++) {
        size_t sl = strlen(schemes[i]);
        if (len > sl && strncmp(ep, schemes[i], sl) == 0)
            return true;
    }
    return false;
}

static bool valid_endpoint_list(const char *text)
{
    const char *p = text;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (!valid_endpoint(p, len))
            return false;
        if (!comma)
            break;
        p = comma + 1;
        if (!*p)
            return false;
    }
    return true;
}

static bool valid_hostport(const char *text)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text)
        return false;
    long port;
    if (rt_parse_long(colon + 1, &port) != 0)
        return false;
    return port >= 0 && port <= 65535; /* 0: an ephemeral port (tests) */
}

static int load_string(const rt_cfg_spec_t *s, const char *val, void *out, char *err, size_t errlen)
{
    size_t len = strlen(val);
    if ((s->min > 0 && len < (size_t)s->min) || (s->max > 0 && len > (size_t)s->max)) {
        snprintf(err, errlen, "%s must be %ld to %ld characters long", s->name, s->min,
                 s->max > 0 ? s->max : LONG_MAX);
        return -1;
    }
    if (s->type == RT_CFG_ENDPOINT_LIST && !valid_endpoint_list(val)) {
        snprintf(err, errlen,
                 "%s must be a comma-separated list of tcp://, ipc:// or inproc:// endpoints",
                 s->name);
        return -1;
    }
    if (s->type == RT_CFG_HOSTPORT && !valid_hostport(val)) {
        snprintf(err, errlen, "%s must be host:port", s->name);
        return -1;
    }
    char *copy = strdup(val);
    if (!copy) {
        snprintf(err, errlen, "%s: out of memory", s->name);
        return -1;
    }
    char **slot = (char **)((char *)out + s->offset);
    free(*slot);
    *slot = copy;
    return 0;
}

static int load_one(const rt_cfg_spec_t *s, const char *val, void *out, char *err, size_t errlen)
{
    switch (s->type) {
    case RT_CFG_INT: {
        long v;
        if (rt_parse_long(val, &v) != 0 || v < s->min || v > s->max) {
            snprintf(err, errlen, "%s must be an integer from %ld to %ld", s->name, s->min, s->max);
            return -1;
        }
        *(long *)((char *)out + s->offset) = v;
        return 0;
    }
    case RT_CFG_BOOL: {
        bool b;
        if (rt_parse_bool(val, &b) != 0) {
            snprintf(err, errlen, "%s must be true or false", s->name);
            return -1;
        }
        *(bool *)((char *)out + s->offset) = b;
        return 0;
    }
    default:
        return load_string(s, val, out, err, errlen);
    }
}

int rt_config_load(const rt_cfg_spec_t *specs, size_t n, void *out, rt_getenv_fn getenv_fn,
                   void *arg, char *err, size_t errlen)
{
    if (!getenv_fn)
        getenv_fn = default_getenv;
    for (size_t i = 0; i < n; i++) {
        const rt_cfg_spec_t *s = &specs[i];
        const char *val = getenv_fn(s->name, arg);
        if (!val || !*val) {
            if (s->required) {
                snprintf(err, errlen, "%s is required but not set", s->name);
                return -1;
            }
            val = s->def;
        }
        if (!val)
            continue;
        if (load_one(s, val, out, err, errlen) != 0)
            return -1;
    }
    return 0;
}

void rt_config_free(const rt_cfg_spec_t *specs, size_t n, void *out)
{
    for (size_t i = 0; i < n; i++) {
        if (specs[i].type == RT_CFG_INT || specs[i].type == RT_CFG_BOOL)
            continue;
        char **slot = (char **)((char *)out + specs[i].offset);
        free(*slot);
        *slot = NULL;
    }
}
