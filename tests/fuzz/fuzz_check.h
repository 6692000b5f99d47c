// SPDX-License-Identifier: MIT
/*
 * CHECK() for the fuzz harnesses: an invariant that does not hold aborts, whatever NDEBUG
 * says, so libFuzzer saves the input as a crash.
 */
#ifndef AUTOPROV_FUZZ_CHECK_H
#define AUTOPROV_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
