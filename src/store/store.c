// SPDX-License-Identifier: MIT
/* Placeholder while the module is written (issue 3). */
#include <stddef.h>
