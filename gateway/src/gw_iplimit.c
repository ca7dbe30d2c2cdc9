/*
 * gw_iplimit: a mutex-guarded open-addressing table of 16-byte keys (IPv4
 * as v4-mapped IPv6, so both families share one key space), hashed with
 * libsodium's keyed SipHash so that a client cannot aim its addresses at
 * one probe chain.
 */
#include "gw_iplimit.h"

#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    unsigned char key[16];
    unsigned count; /* 0: the slot is empty */
} slot_t;

struct gw_iplimit {
    pthread_mutex_t mu;
    slot_t *slots;
    size_t mask; /* capacity - 1, capacity a power of two */
    size_t used, max_used;
    unsigned per_ip;
    unsigned char hkey[crypto_shorthash_KEYBYTES];
};

gw_iplimit_t *gw_iplimit_new(size_t max_addresses, unsigned per_ip)
{
    if (max_addresses == 0 || max_addresses > (SIZE_MAX / 4) / sizeof(slot_t) || sodium_init() < 0)
        return NULL;
    gw_iplimit_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    size_t cap = 16;
    while (cap < 2 * max_addresses) /* at most half full: short probes */
        cap *= 2;
    self->slots = calloc(cap, sizeof *self->slots);
    if (!self->slots || pthread_mutex_init(&self->mu, NULL) != 0) {
        free(self->slots);
        free(self);
        return NULL;
    }
    self->mask = cap - 1;
    self->max_used = max_addresses;
    self->per_ip = per_ip;
    crypto_shorthash_keygen(self->hkey);
    return self;
}

void gw_iplimit_destroy(gw_iplimit_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_iplimit_t *self = *self_p;
    pthread_mutex_destroy(&self->mu);
    free(self->slots);
    free(self);
    *self_p = NULL;
}

/* The 16-byte key of an IP peer; false for other families. */
static bool key_of(const struct sockaddr *sa, socklen_t len, unsigned char key[16])
{
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const void *)sa;
        memset(key, 0, 10);
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &in->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        memcpy(key, &in6->sin6_addr, 16);
        return true;
    }
    return false;
}

static size_t home_of(const gw_iplimit_t *self, const unsigned char key[16])
{
    uint64_t h;
    crypto_shorthash((unsigned char *)&h, key, 16, self->hkey);
    return (size_t)h & self->mask;
}

/* The slot holding `key`, or the empty slot where it would go. */
static size_t find(const gw_iplimit_t *self, const unsigned char key[16])
{
    size_t i = home_of(self, key);
    while (self->slots[i].count && memcmp(self->slots[i].key, key, 16) != 0)
        i = (i + 1) & self->mask;
    return i;
}

/* Empties slot i and shifts later members of its probe chain back, so that
 * every key stays reachable from its home without tombstones. */
static void remove_at(gw_iplimit_t *self, size_t i)
{
    size_t j = i;
    for (;;) {
        j = (j + 1) & self->mask;
        if (!self->slots[j].count)
            break;
        size_t k = home_of(self, self->slots[j].key);
        /* Move j back to i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            self->slots[i] = self->slots[j];
            i = j;
        }
    }
    self->slots[i].count = 0;
    self->used--;
}

bool gw_iplimit_take(gw_iplimit_t *self, const struct sockaddr *peer, socklen_t len)
{
    unsigned char key[16];
    if (!self || self->per_ip == 0 || !key_of(peer, len, key))
        return true;
    bool ok = true;
    pthread_mutex_lock(&self->mu);
    size_t i = find(self, key);
    if (self->slots[i].count) {
        ok = self->slots[i].count < self->per_ip;
        self->slots[i].count += ok;
    } else if (self->used >= self->max_used) {
        ok = false;
    } else {
        memcpy(self->slots[i].key, key, 16);
        self->slots[i].count = 1;
        self->used++;
    }
    pthread_mutex_unlock(&self->mu);
    return ok;
}

void gw_iplimit_release(gw_iplimit_t *self, const struct sockaddr *peer, socklen_t len)
{
    unsigned char key[16];
    if (!self || self->per_ip == 0 || !key_of(peer, len, key))
        return;
    pthread_mutex_lock(&self->mu);
    size_t i = find(self, key);
    if (self->slots[i].count && --self->slots[i].count == 0)
        remove_at(self, i);
    pthread_mutex_unlock(&self->mu);
}

unsigned gw_iplimit_count(gw_iplimit_t *self, const struct sockaddr *peer, socklen_t len)
{
    unsigned char key[16];
    if (!self || !key_of(peer, len, key))
        return 0;
    pthread_mutex_lock(&self->mu);
    unsigned n = self->slots[find(self, key)].count;
    pthread_mutex_unlock(&self->mu);
    return n;
}
