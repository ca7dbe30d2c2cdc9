/*
 * gw_out: response heads (see gw_out.h). The reason phrases are those of
 * RFC 9110 section 15 for the statuses the gateway sends.
 */
#include "gw_out.h"

#include <stdio.h>
#include <string.h>

static const struct {
    int status;
    const char *reason;
} reasons[] = {
    {100, "Continue"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {206, "Partial Content"},
    {304, "Not Modified"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {422, "Unprocessable Content"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {503, "Service Unavailable"},
    {505, "HTTP Version Not Supported"},
};

const char *gw_out_reason(int status)
{
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "Unknown";
}

bool gw_out_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

static void put(gw_out_head_t *h, const char *s, size_t n)
{
    if (h->overflow || n > sizeof h->buf - h->len) {
        h->overflow = true;
        return;
    }
    memcpy(h->buf + h->len, s, n);
    h->len += n;
}

static void puts_(gw_out_head_t *h, const char *s)
{
    put(h, s, strlen(s));
}

void gw_out_start(gw_out_head_t *h, int status)
{
    char line[64];
    h->len = 0;
    h->overflow = false;
    int n = snprintf(line, sizeof line, "HTTP/1.1 %03d %s\r\n", status, gw_out_reason(status));
    put(h, line, (size_t)n);
}

bool gw_out_add(gw_out_head_t *h, const char *name, const char *value)
{
    if (!value || value[strcspn(value, "\r\n")] != '\0')
        return false;
    puts_(h, name);
    put(h, ": ", 2);
    puts_(h, value);
    put(h, "\r\n", 2);
    return true;
}

void gw_out_add_uint(gw_out_head_t *h, const char *name, unsigned long long n)
{
    char v[24];
    snprintf(v, sizeof v, "%llu", n);
    gw_out_add(h, name, v);
}

int gw_out_end(gw_out_head_t *h)
{
    put(h, "\r\n", 2);
    return h->overflow ? -1 : 0;
}
