/*
 * gw_uuid: random (version 4) UUIDs for request ids, from libsodium's CSPRNG.
 */
#ifndef GW_UUID_H
#define GW_UUID_H

#include <stdbool.h>
#include <stddef.h>

#define GW_UUID_STRLEN 36

/* Writes a lower-case UUIDv4 and a NUL into `out` (at least 37 bytes). */
void gw_uuid_v4(char out[GW_UUID_STRLEN + 1]);

/* True when `s` is a lower- or upper-case UUID in 8-4-4-4-12 form. */
bool gw_uuid_valid(const char *s);

#endif
