// SPDX-License-Identifier: MIT
/* MD5 through OpenSSL's EVP interface. */
#include "core/md5.h"

#include <errno.h>
#include <openssl/evp.h>

int md5_hex(const void *data, size_t len, char hex[MD5_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) || mdlen != 16)
		return -EIO;
	for (unsigned i = 0; i < 16; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[MD5_HEX_LEN] = '\0';
	return 0;
}
