/*
 * rt_log: JSON-lines logging shared by every service.
 *
 * Each line is one JSON object: {"ts","level","svc","msg","rid", ...fields}.
 * The logger is process-wide and configured once from main() (the one
 * deliberate global: every thread must be able to log without plumbing).
 * Never pass passwords, tokens, keys or full emails in any field.
 */
#ifndef RT_LOG_H
#define RT_LOG_H

#include <jansson.h>
#include <stdio.h>

typedef enum {
    RT_LOG_DEBUG = 0,
    RT_LOG_INFO = 1,
    RT_LOG_WARNING = 2,
    RT_LOG_ERROR = 3,
} rt_log_level_t;

/* Sets the service name and minimum level; `out` NULL means stderr.
 * Call before any other thread starts. */
void rt_log_init(const char *svc, rt_log_level_t min_level, FILE *out);

/* Parses "DEBUG", "INFO", "WARNING"/"WARN", "ERROR" (any case). Returns 0 on success. */
int rt_log_level_parse(const char *text, rt_log_level_t *out);

int rt_log_enabled(rt_log_level_t level);

/* Logs `msg` (printf format). `rid` may be NULL. */
void rt_log(rt_log_level_t level, const char *rid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Logs `msg` with extra event fields. Takes ownership of `fields` (a JSON
 * object, may be NULL); its keys are merged into the line. */
void rt_log_fields(rt_log_level_t level, const char *rid, const char *msg, json_t *fields);

/* The fast path for hot lines (the access log): `fields` is a ready JSON
 * fragment of members without braces ("\"k\":1,\"s\":\"v\"", may be NULL
 * or ""), which the caller guarantees to be valid JSON; `msg` and `rid`
 * are escaped here. Same line format as rt_log_fields, without building a
 * JSON tree. */
void rt_log_line(rt_log_level_t level, const char *rid, const char *msg, const char *fields);

/* Appends `s` as a JSON string (quotes included) to out[*len .. cap);
 * returns 0, or -1 when it does not fit (out is then unchanged). */
int rt_json_str(char *out, size_t cap, size_t *len, const char *s);

/* Buffers INFO and DEBUG lines, written out every `interval_ms` by a
 * background thread (WARNING and ERROR lines flush at once). Returns 0, or
 * -1 (already buffering, bad interval, no memory or thread). */
int rt_log_buffer_start(int interval_ms);

/* Writes out what is buffered and stops buffering. Call before exit. */
void rt_log_buffer_stop(void);

#define rt_debug(rid, ...) rt_log(RT_LOG_DEBUG, rid, __VA_ARGS__)
#define rt_info(rid, ...)  rt_log(RT_LOG_INFO, rid, __VA_ARGS__)
#define rt_warn(rid, ...)  rt_log(RT_LOG_WARNING, rid, __VA_ARGS__)
#define rt_error(rid, ...) rt_log(RT_LOG_ERROR, rid, __VA_ARGS__)

#endif
