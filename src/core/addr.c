// SPDX-License-Identifier: MIT
/* Address helpers (see addr.h). IPv4 and IPv6, numeric forms only. */
#include "core/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "core/hash.h"
#include "core/str.h"

int addr_parse(const char *s, struct addr *ret)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *hs;
	size_t hl;
	uint64_t port;
	struct addr a;

	memset(&a, 0, sizeof(a));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		hs = s + 1;
		hl = (size_t)(end - hs);
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hs = s;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	if (str_to_u64(colon + 1, 0, 65535, &port) < 0)
		return -EINVAL;

	if (s[0] == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -EINVAL;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		a.len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -EINVAL;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		a.len = sizeof(*sin);
	}
	*ret = a;
	return 0;
}

char *addr_format_host(const struct sockaddr *sa, char *buf, size_t bufsz)
{
	const void *src = NULL;

	if (sa->sa_family == AF_INET)
		src = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		src = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (!src || !inet_ntop(sa->sa_family, src, buf, (socklen_t)bufsz))
		snprintf(buf, bufsz, "?");
	return buf;
}

char *addr_format(const struct sockaddr *sa, char *buf, size_t bufsz)
{
	char host[INET6_ADDRSTRLEN];

	addr_format_host(sa, host, sizeof(host));
	if (sa->sa_family == AF_INET6)
		snprintf(buf, bufsz, "[%s]:%u", host, addr_port(sa));
	else
		snprintf(buf, bufsz, "%s:%u", host, addr_port(sa));
	return buf;
}

uint16_t addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

void addr_set_port(struct addr *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
	else if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

bool addr_same_host(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return false;
}

bool addr_same(const struct sockaddr *a, const struct sockaddr *b)
{
	return addr_same_host(a, b) && addr_port(a) == addr_port(b);
}

uint32_t addr_hash(const struct sockaddr *sa, bool with_port)
{
	uint32_t h = HASH_INIT;
	uint16_t port = addr_port(sa);

	if (sa->sa_family == AF_INET)
		h = hash_bytes(h, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		h = hash_bytes(h, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	if (with_port)
		h = hash_bytes(h, &port, sizeof(port));
	return h;
}

void addr_mask_bits(uint8_t *p, size_t n, unsigned bits)
{
	for (size_t i = 0; i < n; i++) {
		if (bits >= 8) {
			bits -= 8;
			continue;
		}
		p[i] &= (uint8_t)(0xff00u >> bits);
		bits = 0;
	}
}

int addr_prefix_mask(const struct sockaddr *sa, unsigned v4bits, unsigned v6bits,
		     struct sockaddr_storage *ret)
{
	struct sockaddr_storage m;

	memset(&m, 0, sizeof(m));
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&m;

		in->sin_family = AF_INET;
		in->sin_addr = ((const struct sockaddr_in *)sa)->sin_addr;
		addr_mask_bits((uint8_t *)&in->sin_addr, 4, v4bits);
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&m;

		in6->sin6_family = AF_INET6;
		in6->sin6_addr = ((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			addr_mask_bits(&in6->sin6_addr.s6_addr[12], 4, v4bits);
		else
			addr_mask_bits(in6->sin6_addr.s6_addr, 16, v6bits);
	} else {
		return -EAFNOSUPPORT;
	}
	*ret = m;
	return 0;
}
