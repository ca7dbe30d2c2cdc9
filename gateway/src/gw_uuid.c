/*
 * gw_uuid: UUIDv4 = 122 random bits with the version nibble set to 4 and the
 * variant bits to 10 (RFC 9562 section 5.4).
 */
#include "gw_uuid.h"

#include <sodium.h>
#include <string.h>

void gw_uuid_v4(char out[GW_UUID_STRLEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    size_t o = 0;
    for (size_t i = 0; i < sizeof b; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 0x0f];
    }
    out[o] = '\0';
}

bool gw_uuid_valid(const char *s)
{
    if (!s || strlen(s) != GW_UUID_STRLEN)
        return false;
    for (size_t i = 0; i < GW_UUID_STRLEN; i++) {
        bool dash = (i == 8 || i == 13 || i == 18 || i == 23);
        if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
            return false;
    }
    return true;
}
