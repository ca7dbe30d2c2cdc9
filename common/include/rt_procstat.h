/*
 * rt_procstat: what the kernel says about this process, read from
 * /proc/self (stat, fd/) and /proc/stat, for the standard process_*
 * metrics every service exports. One call reads everything once; nothing
 * is cached, so two calls may differ.
 */
#ifndef RT_PROCSTAT_H
#define RT_PROCSTAT_H

#include <stdint.h>

typedef struct {
    double cpu_seconds;      /* user + system CPU time */
    double start_time_s;     /* Unix time the process started */
    uint64_t resident_bytes; /* resident set size */
    uint64_t virtual_bytes;  /* virtual memory size */
    uint64_t open_fds;       /* entries in /proc/self/fd, the one reading them excluded */
    uint64_t max_fds;        /* soft RLIMIT_NOFILE (UINT64_MAX when unlimited) */
} rt_procstat_t;

/* Fills `out`. Returns 0, or -1 when /proc could not be read or parsed
 * (`out` is then zeroed). */
int rt_procstat_read(rt_procstat_t *out);

/* Parses the text of a /proc/<pid>/stat line: CPU ticks (utime + stime),
 * start time in ticks after boot, virtual bytes and resident pages.
 * Returns 0, or -1 when the line is malformed. Exposed for tests. */
int rt_procstat_parse_stat(const char *line, uint64_t *cpu_ticks, uint64_t *start_ticks,
                           uint64_t *vsize, uint64_t *rss_pages);

#endif
