/*
 * frame_util: building msgpack frames by hand in the proto unit tests
 * (test_codec, test_json). Header-only: each test is its own executable.
 */
#ifndef FRAME_UTIL_H
#define FRAME_UTIL_H

#include <msgpack.h>
#include <string.h>

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} frame_t;

static inline void frame_init(frame_t *f)
{
    msgpack_sbuffer_init(&f->sb);
    msgpack_packer_init(&f->pk, &f->sb, msgpack_sbuffer_write);
}

static inline void frame_reset(frame_t *f)
{
    msgpack_sbuffer_clear(&f->sb);
}

static inline void frame_free(frame_t *f)
{
    msgpack_sbuffer_destroy(&f->sb);
}

static inline void put_strn(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static inline void put_str(msgpack_packer *pk, const char *s)
{
    put_strn(pk, s, strlen(s));
}

#endif
