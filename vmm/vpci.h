/*
 * Emulated PCI bus 0: configuration space through ports 0xCF8/0xCFC (PCI 3.0 3.2.2.3.2) and
 * ECAM (PCIe 5.0 7.2.2), a host bridge at 00:00.0, and BAR decoding for device models that
 * plug in with vpci_add(). Memory BARs live in [GUEST_PCI_MMIO, GUEST_PCI_MMIO_END]; Tern
 * assigns them at VM creation, as firmware would, and follows the guest if it moves them.
 */
#ifndef TERN_VPCI_H
#define TERN_VPCI_H

#include "kernel/compiler.h"
#include "kernel/spinlock.h"

#define VPCI_SLOTS    32
#define VPCI_CFG_SIZE 256

struct vm;
struct vcpu;
struct vpci_dev;

struct vpci_dev_ops {
	/* a BAR access: offset within the BAR */
	void (*bar_access)(struct vpci_dev *d, int bar, uint64_t off, unsigned size, bool write,
	                   uint64_t *val, struct vcpu *v);
	/* called after a config write to a device-specific register (>= 0x40) */
	void (*cfg_write)(struct vpci_dev *d, unsigned off, unsigned size, uint32_t val);
	/* called before a config read of a device-specific register */
	void (*cfg_read)(struct vpci_dev *d, unsigned off, unsigned size);
};

struct vpci_dev {
	uint8_t slot;
	uint8_t cfg[VPCI_CFG_SIZE];
	uint8_t wmask[VPCI_CFG_SIZE]; /* writable bits of each config byte */
	uint64_t bar_size[6];         /* 0 = unimplemented; a 64-bit BAR uses two slots */
	bool bar_io[6];
	const struct vpci_dev_ops *ops;
	void *priv;
};

struct vpci {
	struct spinlock lock;
	struct vm *vm;
	uint32_t cf8;
	struct vpci_dev *slot[VPCI_SLOTS];
	struct vpci_dev host_bridge;
	uint64_t next_mmio; /* BAR assignment cursor */
};

void vpci_init(struct vpci *p, struct vm *vm);
/* vpci_add: plug d into the first free slot; BARs with bar_size set get addresses. */
bool vpci_add(struct vpci *p, struct vpci_dev *d);
/* vpci_dev_init: header fields (ids, class) and default write masks. */
void vpci_dev_init(struct vpci_dev *d, uint16_t vendor, uint16_t device, uint32_t class_rev,
                   uint16_t subsys_vendor, uint16_t subsys);
/* vpci_bar_addr: the address the guest programmed into a BAR. */
uint64_t vpci_bar_addr(const struct vpci_dev *d, int bar);
void vpci_pio(void *dev, struct vcpu *v, uint16_t port, unsigned size, bool write, uint32_t *val);
void vpci_ecam(void *dev, struct vcpu *v, uint64_t gpa, unsigned size, bool write, uint64_t *val);
void vpci_mmio(void *dev, struct vcpu *v, uint64_t gpa, unsigned size, bool write, uint64_t *val);

#endif
