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

void addr_prefix(const struct sockaddr *sa, unsigned v4_bits, unsigned v6_bits,
		 struct sockaddr_storage *ret)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint8_t *bytes;
	unsigned len, keep;

	memset(ret, 0, sizeof(*ret));
	ret->ss_family = sa->sa_family;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ret;

		in->sin_addr = ((const struct sockaddr_in *)sa)->sin_addr;
		bytes = (uint8_t *)&in->sin_addr;
		len = 4;
		keep = v4_bits;
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ret;

		in6->sin6_addr = ((const struct sockaddr_in6 *)sa)->sin6_addr;
		bytes = (uint8_t *)&in6->sin6_addr;
		len = 16;
		/* an IPv4 peer of a dual-stack socket counts as IPv4 */
		keep = memcmp(bytes, v4mapped, sizeof(v4mapped)) == 0
			       ? 96 + (v4_bits > 32 ? 32 : v4_bits)
			       : v6_bits;
	} else {
		return;
	}
	if (keep > len * 8)
		keep = len * 8;
	for (unsigned i = 0; i < len; i++) {
		if (keep >= 8 * (i + 1))
			continue;
		bytes[i] &= keep > 8 * i ? (uint8_t)(0xff00u >> (keep - 8 * i)) : 0;
	}
}
