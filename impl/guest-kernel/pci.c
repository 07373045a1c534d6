/* SPDX-License-Identifier: MIT */
/*
 * The guest's PCI, as little as the boost device needs: find a device on bus 0 through ECAM,
 * place its memory BARs in microvm's 32-bit MMIO window (on microvm nothing else assigns them),
 * turn memory decoding on. Ring 3: the identity map is user-accessible and every access is a
 * plain load or store, so it costs no emulated ring-0 instruction under kvm_pvm.
 */
#include <stdint.h>
#include "guest.h"
#include "pvb_abi.h"

static volatile uint32_t *cfg(unsigned dev, unsigned off)
{
	return (volatile uint32_t *)(uintptr_t)(PVB_GPA_ECAM + ((uint64_t)dev << 15) + off);
}

/* The PCI command register (16 bits at 0x04): a 32-bit write would also write the status
 * register's write-one-to-clear bits. */
static volatile uint16_t *command(unsigned dev)
{
	return (volatile uint16_t *)cfg(dev, 4);
}

const char *gk_pci_setup(uint16_t vendor, uint16_t device, struct gk_pci_dev *d)
{
	uint64_t next = PVB_GPA_PCI_MMIO, end = PVB_GPA_PCI_MMIO + PVB_PCI_MMIO_SIZE;
	unsigned dev;

	for (dev = 0; dev < 32; dev++) /* no ECAM (another machine) reads 0 or all-ones: no match */
		if (*cfg(dev, 0) == ((uint32_t)device << 16 | vendor))
			break;
	if (dev == 32)
		return "no such device on PCI bus 0";
	*d = (struct gk_pci_dev){ .dev = dev };
	*command(dev) &= (uint16_t)~3u; /* no decoding while the BARs move */
	for (unsigned bar = 0; bar < 6; bar++) {
		unsigned off = 0x10 + 4 * bar;
		uint32_t orig = *cfg(dev, off);
		if (orig & 1) /* an I/O BAR: not needed */
			continue;
		int is64 = (orig & 6) == 4 && bar < 5;
		*cfg(dev, off) = ~0u;
		uint64_t mask = 0xffffffff00000000ull | (*cfg(dev, off) & ~0xfull);
		if (is64) {
			*cfg(dev, off + 4) = ~0u;
			mask = (uint64_t)*cfg(dev, off + 4) << 32 | (uint32_t)mask;
		}
		uint64_t size = ~mask + 1;
		if (!(uint32_t)mask || !size) { /* not implemented */
			*cfg(dev, off) = 0;
			bar += is64;
			continue;
		}
		next = (next + size - 1) & ~(size - 1); /* a BAR is aligned to its size */
		if (size > end - next)
			return "its BARs do not fit the MMIO window";
		*cfg(dev, off) = (uint32_t)next;
		if (is64)
			*cfg(dev, off + 4) = (uint32_t)(next >> 32);
		d->bar[bar] = next;
		d->size[bar] = size;
		next += size;
		bar += is64;
	}
	*command(dev) |= 2; /* memory space on */
	return 0;
}
