/* SPDX-License-Identifier: MIT */
/* Kernel builds have no libc: the protocol headers' <stdint.h> is the kernel's own types. */
#ifndef PVB_SHIM_STDINT_H
#define PVB_SHIM_STDINT_H
#include <linux/types.h>
#endif
