#include "http/http_address.h"

#include <stdio.h>
#include <string.h>

#define HTTP_PORT_MAX        65535u
#define HTTP_PORT_DIGITS_MAX 5

/* A port: 1 to 5 ASCII digits, at most 65535. */
static bool http_port_parse(const char *text, unsigned *port_out)
{
    size_t length = strlen(text);
    unsigned port = 0;
    if (length == 0 || length > HTTP_PORT_DIGITS_MAX) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        port = port * 10u + (unsigned)(text[i] - '0');
    }
    if (port > HTTP_PORT_MAX) {
        return false;
    }
    *port_out = port;
    return true;
}

static bool http_host_copy(const char *start, size_t length, char host_out[HTTP_HOST_BYTES_MAX + 1])
{
    if (length == 0 || length > HTTP_HOST_BYTES_MAX) {
        return false;
    }
    memcpy(host_out, start, length);
    host_out[length] = '\0';
    return true;
}

bool http_address_parse(const char *text, char host_out[HTTP_HOST_BYTES_MAX + 1],
                        unsigned *port_out, char *why, size_t why_size)
{
    const char *port_text = NULL;
    const char *host_start = text;
    size_t host_length = 0;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':') {
            snprintf(why, why_size, "listen address %s: expected [IPV6]:PORT", text);
            return false;
        }
        host_start = text + 1;
        host_length = (size_t)(close - host_start);
        port_text = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (colon == NULL || memchr(text, ':', (size_t)(colon - text)) != NULL) {
            snprintf(why, why_size, "listen address %s: expected HOST:PORT or [IPV6]:PORT", text);
            return false;
        }
        host_length = (size_t)(colon - text);
        port_text = colon + 1;
    }
    if (!http_host_copy(host_start, host_length, host_out)) {
        snprintf(why, why_size, "listen address %s: the host is empty or too long", text);
        return false;
    }
    if (!http_port_parse(port_text, port_out)) {
        snprintf(why, why_size, "listen address %s: the port must be 0 to 65535", text);
        return false;
    }
    return true;
}
