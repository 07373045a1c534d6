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

static uint8_t cfg8(unsigned dev, unsigned off)
{
	return *(volatile uint8_t *)(uintptr_t)(PVB_GPA_ECAM + ((uint64_t)dev << 15) + off);
}

const char *gk_pci_msix(const struct gk_pci_dev *d, unsigned entry, unsigned apic_id, unsigned vector)
{
	unsigned cap = 0;

	if (!(cfg8(d->dev, 6) & 0x10)) /* status: a capability list */
		return "no capability list";
	for (unsigned p = cfg8(d->dev, 0x34) & ~3u, hops = 0; p && hops < 48; p = cfg8(d->dev, p + 1) & ~3u, hops++)
		if (cfg8(d->dev, p) == 0x11) { /* MSI-X */
			cap = p;
			break;
		}
	if (!cap)
		return "no MSI-X capability";
	volatile uint16_t *mc = (volatile uint16_t *)cfg(d->dev, cap) + 1;
	uint32_t tbl = *cfg(d->dev, cap + 4);
	unsigned bir = tbl & 7;
	if (entry > (*mc & 0x7ffu) || bir > 5 || !d->bar[bir])
		return "MSI-X entry or table BAR out of range";
	volatile uint32_t *e = (volatile uint32_t *)(uintptr_t)(d->bar[bir] + (tbl & ~7u) + 16ull * entry);
	e[0] = 0xfee00000u | apic_id << 12;    /* to this APIC, physical destination */
	e[1] = 0;
	e[2] = vector;                         /* fixed delivery, edge */
	e[3] = 0;                              /* unmasked */
	*command(d->dev) |= 4;                 /* bus master: the device's MSI writes go out */
	*mc = (uint16_t)((*mc | 0x8000u) & ~0x4000u); /* MSI-X on, function not masked */
	return 0;
}
