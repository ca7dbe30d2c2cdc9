/*
 * auth_handlers: authsvc's op table and the context the handlers share
 * (configuration, the RPC pool to storesvc). Read-only after start.
 */
#ifndef AUTH_HANDLERS_H
#define AUTH_HANDLERS_H

#include "auth_config.h"
#include "proto_client.h"
#include "proto_server.h"

typedef struct {
    const auth_config_t *cfg; /* borrowed */
    proto_pool_t *storesvc;   /* borrowed; thread-safe */
} auth_ctx_t;

/* The handler table (static); `*n` receives its length. */
const proto_handler_t *auth_handlers(size_t *n);

#endif
