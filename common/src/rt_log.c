/*
 * rt_log: JSON-lines logging. One line per call, written with a single
 * fwrite under a mutex so lines from different threads never interleave.
 */
#include "rt_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static struct {
    char svc[32];
    rt_log_level_t min_level;
    FILE *out;
    pthread_mutex_t lock;
} g_log = {"app", RT_LOG_INFO, NULL, PTHREAD_MUTEX_INITIALIZER};

static const char *const level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

void rt_log_init(const char *svc, rt_log_level_t min_level, FILE *out)
{
    snprintf(g_log.svc, sizeof g_log.svc, "%s", svc ? svc : "app");
    g_log.min_level = min_level;
    g_log.out = out;
}

int rt_log_level_parse(const char *text, rt_log_level_t *out)
{
    if (!text)
        return -1;
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcasecmp(text, level_names[i]) == 0) {
            *out = (rt_log_level_t)i;
            return 0;
        }
    }
    if (strcasecmp(text, "WARN") == 0) {
        *out = RT_LOG_WARNING;
        return 0;
    }
    return -1;
}

int rt_log_enabled(rt_log_level_t level)
{
    return level >= g_log.min_level;
}

static void format_ts(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void rt_log_fields(rt_log_level_t level, const char *rid, const char *msg, json_t *fields)
{
    if (!rt_log_enabled(level)) {
        json_decref(fields);
        return;
    }
    char ts[40];
    format_ts(ts, sizeof ts);
    json_t *line = json_object();
    if (!line) {
        json_decref(fields);
        return;
    }
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(level_names[level]));
    json_object_set_new(line, "svc", json_string(g_log.svc));
    json_object_set_new(line, "msg", json_string(msg ? msg : ""));
    if (rid && *rid)
        json_object_set_new(line, "rid", json_string(rid));
    if (fields && json_is_object(fields)) {
        const char *k;
        json_t *v;
        json_object_foreach(fields, k, v)
        {
            if (!json_object_get(line, k))
                json_object_set(line, k, v);
        }
    }
    json_decref(fields);
    char *text = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(6));
    json_decref(line);
    if (!text)
        return;
    FILE *out = g_log.out ? g_log.out : stderr;
    size_t len = strlen(text);
    text[len] = '\0';
    pthread_mutex_lock(&g_log.lock);
    fwrite(text, 1, len, out);
    fputc('\n', out);
    fflush(out);
    pthread_mutex_unlock(&g_log.lock);
    free(text);
}

void rt_log(rt_log_level_t level, const char *rid, const char *fmt, ...)
{
    if (!rt_log_enabled(level))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rt_log_fields(level, rid, msg, NULL);
}
