/*
 * rt_procstat: proc(5) readings for the process_* metrics. The files are
 * small, so each is read whole into a stack buffer; a reading that does
 * not parse is an error rather than a zero that looks real.
 */
#include "rt_procstat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Fields of /proc/<pid>/stat counted from the one after "(comm)", which is
 * field 3 (state): utime is field 14, stime 15, starttime 22, vsize 23, rss 24. */
enum { F_UTIME = 11, F_STIME = 12, F_START = 19, F_VSIZE = 20, F_RSS = 21, F_LAST = F_RSS };

/* Reads a whole small file into buf (NUL-terminated); returns 0 or -1. */
static int read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return len > 0 ? 0 : -1;
}

/* Parses one unsigned decimal field ending in a space or the end; advances *p. */
static int field_u64(const char **p, uint64_t *out)
{
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0'))
        return -1;
    *out = (uint64_t)v;
    *p = end;
    return 0;
}

/* Skips one field (a run of non-space characters) and the space after it. */
static int skip_field(const char **p)
{
    const char *s = *p;
    if (*s == '\0' || *s == ' ')
        return -1;
    while (*s && *s != ' ')
        s++;
    *p = s;
    return 0;
}

int rt_procstat_parse_stat(const char *line, uint64_t *cpu_ticks, uint64_t *start_ticks,
                           uint64_t *vsize, uint64_t *rss_pages)
{
    /* The command name may hold spaces and parentheses: the last ')' ends it. */
    const char *p = strrchr(line, ')');
    if (!p || p[1] != ' ')
        return -1;
    p += 2;
    uint64_t utime = 0, stime = 0;
    for (int i = 0; i <= F_LAST; i++) {
        if (i > 0) {
            if (*p != ' ')
                return -1;
            p++;
        }
        int rc;
        switch (i) {
        case F_UTIME:
            rc = field_u64(&p, &utime);
            break;
        case F_STIME:
            rc = field_u64(&p, &stime);
            break;
        case F_START:
            rc = field_u64(&p, start_ticks);
            break;
        case F_VSIZE:
            rc = field_u64(&p, vsize);
            break;
        case F_RSS:
            rc = field_u64(&p, rss_pages);
            break;
        default:
            rc = skip_field(&p);
            break;
        }
        if (rc != 0)
            return -1;
    }
    if (__builtin_add_overflow(utime, stime, cpu_ticks))
        return -1;
    return 0;
}

/* The boot time ("btime" line of /proc/stat) in Unix seconds, or -1. Read
 * line by line: the "intr" line before it runs to many kilobytes. */
static long long boot_time(void)
{
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return -1;
    char chunk[256];
    bool line_start = true;
    long long t = -1;
    while (fgets(chunk, sizeof chunk, f)) {
        if (line_start && strncmp(chunk, "btime ", 6) == 0) {
            if (sscanf(chunk + 6, "%lld", &t) != 1)
                t = -1;
            break;
        }
        size_t n = strlen(chunk);
        line_start = n > 0 && chunk[n - 1] == '\n';
    }
    fclose(f);
    return t;
}

/* Entries of /proc/self/fd, less the one opendir holds while counting. */
static int count_fds(uint64_t *out)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    uint64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    *out = n > 0 ? n - 1 : 0;
    return 0;
}

int rt_procstat_read(rt_procstat_t *out)
{
    memset(out, 0, sizeof *out);
    char line[2048];
    uint64_t cpu = 0, start = 0, vsize = 0, rss = 0;
    long ticks = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    long long btime = boot_time();
    struct rlimit rl;
    if (ticks <= 0 || page <= 0 || btime < 0 || getrlimit(RLIMIT_NOFILE, &rl) != 0 ||
        read_small("/proc/self/stat", line, sizeof line) != 0 ||
        rt_procstat_parse_stat(line, &cpu, &start, &vsize, &rss) != 0 ||
        count_fds(&out->open_fds) != 0) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    out->cpu_seconds = (double)cpu / (double)ticks;
    out->start_time_s = (double)btime + (double)start / (double)ticks;
    out->virtual_bytes = vsize;
    out->resident_bytes = rss * (uint64_t)page;
    out->max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    return 0;
}
