/* PCI configuration space (PCI Local Bus 3.0 ch. 6; PCIe 5.0 7.2.2 ECAM) and enumeration. */
#ifndef TERN_PCI_H
#define TERN_PCI_H

#include "kernel/compiler.h"

#define PCI_MAX_DEVICES 256

struct pci_dev {
	uint16_t segment;
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
	uint8_t class_code, subclass, prog_if, revision;
	uint8_t header_type;
	uint8_t irq_line, irq_pin;
	uint64_t bar[6];      /* decoded base addresses (memory or I/O) */
	uint64_t bar_size[6]; /* 0 if unimplemented */
	bool bar_io[6];
};

/* pci_init: choose ECAM (from the MCFG) or ports 0xCF8/0xCFC and enumerate every bus. */
void pci_init(void);
int pci_count(void);
struct pci_dev *pci_get(int i);
/* pci_find: the n-th device with this vendor/device id (0xffff matches any device id). */
struct pci_dev *pci_find(uint16_t vendor, uint16_t device, int n);

uint32_t pci_read32(const struct pci_dev *d, uint16_t off);
uint16_t pci_read16(const struct pci_dev *d, uint16_t off);
uint8_t pci_read8(const struct pci_dev *d, uint16_t off);
void pci_write32(const struct pci_dev *d, uint16_t off, uint32_t v);
void pci_write16(const struct pci_dev *d, uint16_t off, uint16_t v);
/* pci_write8: a single-byte config write (for registers with byte-write side effects). */
void pci_write8(const struct pci_dev *d, uint16_t off, uint8_t v);
/* pci_enable: turn on memory/I/O decoding and bus mastering. */
void pci_enable(const struct pci_dev *d);
/* pci_find_cap: offset of the first capability with this id, or 0. */
uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id, uint8_t start);
/* pci_bar_map: map a memory BAR uncached; NULL if it is absent or an I/O BAR. */
volatile uint8_t *pci_bar_map(struct pci_dev *d, int bar);
/* pci_msix_enable: MSI-X with n vectors (vectors[i] for table entry i) to one CPU; false if
 * the function has no (or too small an) MSI-X capability. */
bool pci_msix_enable(struct pci_dev *d, int n, const int *vectors, uint32_t apic_id);
/* pci_class_name: a short human name for a class/subclass. */
const char *pci_class_name(uint8_t cls, uint8_t sub);

#endif
