/*
 * rt_config: configuration from environment variables, validated at start.
 *
 * A service describes its variables as a static table of rt_cfg_spec_t rows
 * (name, type, required, default, bounds, offset of the field in the
 * service's config struct). rt_config_load fills the struct or fails naming
 * the first bad variable, so main() can log one line and exit non-zero.
 * Secret values are never copied into error messages.
 */
#ifndef RT_CONFIG_H
#define RT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    RT_CFG_STR,           /* char *   (heap copy, freed by rt_config_free) */
    RT_CFG_SECRET,        /* char *   like STR, but the value never appears in messages */
    RT_CFG_INT,           /* long     within [min, max] */
    RT_CFG_BOOL,          /* bool     true/false/1/0/yes/no/on/off */
    RT_CFG_ENDPOINT_LIST, /* char * comma-separated ZeroMQ endpoints, each tcp:// ipc:// or
                             inproc:// */
    RT_CFG_HOSTPORT,      /* char * "host:port" with port 0..65535 (0: ephemeral) */
} rt_cfg_type_t;

typedef struct {
    const char *name; /* environment variable */
    rt_cfg_type_t type;
    bool required;   /* unset or empty is an error */
    const char *def; /* default when unset (NULL: leave zero / NULL) */
    long min, max;   /* INT: value bounds; STR/SECRET: length bounds (max 0 = none) */
    size_t offset;   /* offsetof(struct, field) */
} rt_cfg_spec_t;

/* Looks a variable up; the default is getenv. Injectable for tests. */
typedef const char *(*rt_getenv_fn)(const char *name, void *arg);

/* Fills `out` from the environment. Returns 0, or -1 with `err` set to a
 * message that names the variable (never its value if secret). */
int rt_config_load(const rt_cfg_spec_t *specs, size_t n, void *out, rt_getenv_fn getenv_fn,
                   void *arg, char *err, size_t errlen);

/* Frees the strings rt_config_load allocated in `out`. Safe to call twice. */
void rt_config_free(const rt_cfg_spec_t *specs, size_t n, void *out);

/* Parses a boolean word; returns 0 on success. */
int rt_parse_bool(const char *text, bool *out);

/* Parses a base-10 long that must span the whole string; returns 0 on success. */
int rt_parse_long(const char *text, long *out);

#endif
