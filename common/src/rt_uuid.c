/*
 * rt_uuid: 16 bytes, the version nibble and the variant bits (10) set per
 * RFC 9562, printed as 8-4-4-4-12 lower-case hex.
 */
#include "rt_uuid.h"

#include <ctype.h>
#include <sodium.h>
#include <string.h>

static bool dash_at(size_t i)
{
    return i == 8 || i == 13 || i == 18 || i == 23;
}

static void format(char out[RT_UUID_BUF], unsigned char b[16], unsigned version)
{
    static const char hex[] = "0123456789abcdef";
    b[6] = (unsigned char)((b[6] & 0x0f) | (version << 4));
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (dash_at(o))
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 0x0f];
    }
    out[o] = '\0';
}

void rt_uuid_v4(char out[RT_UUID_BUF])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    format(out, b, 4);
}

void rt_uuid_v7(char out[RT_UUID_BUF], int64_t ms)
{
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    for (int i = 0; i < 6; i++) /* 48-bit big-endian Unix milliseconds */
        b[i] = (unsigned char)((uint64_t)ms >> (8 * (5 - i)));
    format(out, b, 7);
}

bool rt_uuid_valid(const char *s)
{
    if (!s || strlen(s) != RT_UUID_STRLEN)
        return false;
    for (size_t i = 0; i < RT_UUID_STRLEN; i++) {
        if (dash_at(i) ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

int64_t rt_uuid_v7_ms(const char *s)
{
    if (!rt_uuid_valid(s) || s[14] != '7')
        return -1;
    int64_t ms = 0;
    for (size_t i = 0; i < 13; i++) { /* the first 12 hex digits, one dash */
        if (s[i] == '-')
            continue;
        int c = tolower((unsigned char)s[i]);
        ms = ms * 16 + (isdigit(c) ? c - '0' : c - 'a' + 10);
    }
    return ms;
}

static int hex_value(char c)
{
    int l = tolower((unsigned char)c);
    return isdigit(l) ? l - '0' : l - 'a' + 10;
}

int rt_uuid_parse(const char *s, unsigned char out[RT_UUID_BYTES])
{
    memset(out, 0, RT_UUID_BYTES);
    if (!rt_uuid_valid(s))
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < RT_UUID_STRLEN; i++) {
        if (dash_at(i))
            continue;
        out[o / 2] = (unsigned char)(out[o / 2] << 4 | hex_value(s[i]));
        o++;
    }
    return 0;
}
