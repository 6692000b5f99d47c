// SPDX-License-Identifier: MIT
/* MD5 of a buffer as 32 lower-case hex digits (the form .md5 companions carry). */
#ifndef AUTOPROV_CORE_MD5_H
#define AUTOPROV_CORE_MD5_H

#include <stddef.h>

#define MD5_HEX_LEN 32

/* Writes 32 hex digits and a NUL into hex (33 bytes). 0 or -EIO. */
int md5_hex(const void *data, size_t len, char hex[MD5_HEX_LEN + 1]);

#endif
