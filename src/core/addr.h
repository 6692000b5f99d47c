// SPDX-License-Identifier: MIT
/* Socket addresses: "ADDR:PORT" parsing, printing, and comparing the host part. */
#ifndef AUTOPROV_CORE_ADDR_H
#define AUTOPROV_CORE_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Longest text addr_format() writes: "[v6]:port" plus NUL. */
#define ADDR_STRLEN 64

/* "1.2.3.4:69", "[::1]:69", "[::]:6969". Numeric only. 0 or -EINVAL. */
int addr_parse(const char *s, struct addr *ret);
/* Writes "1.2.3.4:69" or "[::1]:69" into buf (ADDR_STRLEN). Returns buf. */
char *addr_format(const struct sockaddr *sa, char *buf, size_t bufsz);
/* The host part only, without port. Returns buf. */
char *addr_format_host(const struct sockaddr *sa, char *buf, size_t bufsz);
uint16_t addr_port(const struct sockaddr *sa);
/* Sets the port of an IPv4 or IPv6 address (a listener's as bound, when it asked for 0). */
void addr_set_port(struct addr *a, uint16_t port);
bool addr_same_host(const struct sockaddr *a, const struct sockaddr *b);
/* Same host and same port. */
bool addr_same(const struct sockaddr *a, const struct sockaddr *b);
/* Hash of the host part (with the port if with_port), for tables keyed by peer. */
uint32_t addr_hash(const struct sockaddr *sa, bool with_port);
/*
 * The network sa's host is in: its first v4bits (IPv4, and IPv4-mapped IPv6) or v6bits
 * (IPv6) bits, the rest and the port zero, for counting per /24 or /64. 0, or -EAFNOSUPPORT.
 */
int addr_prefix_mask(const struct sockaddr *sa, unsigned v4bits, unsigned v6bits,
		     struct sockaddr_storage *ret);
/* Keeps the first bits of the n bytes at p (an address in network order), zeroes the rest. */
void addr_mask_bits(uint8_t *p, size_t n, unsigned bits);

#endif
