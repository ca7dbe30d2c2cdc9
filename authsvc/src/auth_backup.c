/*
 * auth_backup: making and reading backup codes (see the header).
 */
#include "auth_backup.h"

#include <sodium.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void auth_backup_generate(char out[AUTH_BACKUP_BUF])
{
    unsigned char raw[AUTH_BACKUP_CHARS];
    size_t n = 0;
    randombytes_buf(raw, sizeof raw); /* 256 is a multiple of 32: & 31 is uniform */
    for (size_t i = 0; i < AUTH_BACKUP_CHARS; i++) {
        if (i == AUTH_BACKUP_GROUP)
            out[n++] = '-';
        out[n++] = alphabet[raw[i] & 31];
    }
    out[n] = '\0';
    sodium_memzero(raw, sizeof raw);
}

int auth_backup_normalise(const char *typed, char out[AUTH_BACKUP_NORM])
{
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = typed; p && *p; p++) {
        char c = *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
        if (c == '-' || c == ' ')
            continue;
        if (n == AUTH_BACKUP_CHARS || !strchr(alphabet, c))
            return -1;
        out[n++] = c;
    }
    out[n] = '\0';
    return n == AUTH_BACKUP_CHARS ? 0 : -1;
}
