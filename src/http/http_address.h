/*
 * http_address.h - the listen address of cashd (SPEC 7: CASHD_LISTEN), split into host and port
 * without touching the network: "HOST:PORT" or "[IPV6]:PORT", port 0..65535 (0: any free port).
 */
#ifndef CASH_HTTP_ADDRESS_H
#define CASH_HTTP_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

/* Room for a numeric host, brackets, a colon, a port and the NUL. */
#define HTTP_ADDRESS_BYTES_MAX 64
#define HTTP_HOST_BYTES_MAX    255

/*
 * Splits text into host (without brackets) and port. False with a one-line reason in why for an
 * empty host, a missing or non-numeric port, a port above 65535, a host with a ':' outside
 * brackets, or a host longer than HTTP_HOST_BYTES_MAX bytes.
 */
bool http_address_parse(const char *text, char host_out[HTTP_HOST_BYTES_MAX + 1],
                        unsigned *port_out, char *why, size_t why_size);

#endif
