/*
 * rt_uuid: UUIDs in text form, shared by every service: random ones
 * (version 4: request ids, session ids), time-ordered ones (version 7:
 * token ids whose millisecond time authsvc reads back), and the syntax
 * check for ids that arrive from outside. Randomness is libsodium's CSPRNG.
 */
#ifndef RT_UUID_H
#define RT_UUID_H

#include <stdbool.h>
#include <stdint.h>

#define RT_UUID_STRLEN 36
#define RT_UUID_BUF    (RT_UUID_STRLEN + 1)

/* Writes a lower-case UUIDv4 and a NUL into `out`. */
void rt_uuid_v4(char out[RT_UUID_BUF]);

/* Writes a lower-case UUIDv7 for Unix time `ms` (RFC 9562 section 5.7). */
void rt_uuid_v7(char out[RT_UUID_BUF], int64_t ms);

/* The millisecond time of a UUIDv7 (either case), or -1 when `s` is not
 * a version-7 UUID. */
int64_t rt_uuid_v7_ms(const char *s);

/* True when `s` is a UUID in 8-4-4-4-12 hex form (either case). */
bool rt_uuid_valid(const char *s);

#define RT_UUID_BYTES 16

/* The 16 bytes of the UUID `s` (8-4-4-4-12 hex, either case) into `out`.
 * Returns 0, or -1 when `s` is not a UUID (`out` is then zeroed). */
int rt_uuid_parse(const char *s, unsigned char out[RT_UUID_BYTES]);

#endif
