/* The driver side of virtio over PCI (modern interface, virtio v1.2 4.1) and split rings. */
#ifndef TERN_VIRTIO_PCI_H
#define TERN_VIRTIO_PCI_H

#include "drivers/virtio.h"

struct pci_dev;

struct vio_dev {
	struct pci_dev *pci;
	volatile uint8_t *common, *notify, *isr, *device;
	uint32_t notify_mult;
	uint64_t features; /* negotiated */
};

/* A driver-owned split virtqueue. */
struct vio_queue {
	uint16_t index, size;
	struct virtq_desc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[size], used_event */
	volatile uint8_t *used;   /* flags, idx, ring[size], avail_event */
	volatile uint16_t *notify_addr;
	uint16_t avail_idx, last_used;
	uint16_t free_head, num_free;
};

/* vio_init: locate the capabilities, reset the device, negotiate wanted & offered features
 * (VERSION_1 is required); false if the device is not usable. */
bool vio_init(struct vio_dev *d, struct pci_dev *pci, uint64_t wanted);
/* vio_queue_setup: allocate and enable queue idx with up to max entries. */
bool vio_queue_setup(struct vio_dev *d, struct vio_queue *q, uint16_t idx, uint16_t max,
                     uint16_t msix_vector);
/* vio_driver_ok: the driver is ready. */
void vio_driver_ok(struct vio_dev *d);
/* vio_add: put one buffer (physical address, length, device-writable?) on the avail ring;
 * returns its descriptor index or -1 when the ring is full. */
int vio_add(struct vio_queue *q, uint64_t pa, uint32_t len, bool device_writes);
/* vio_kick: notify the device about new buffers. */
void vio_kick(struct vio_queue *q);
/* vio_get_used: the next buffer the device finished (descriptor index, bytes written); the
 * descriptor is freed. false if none. */
bool vio_get_used(struct vio_queue *q, uint16_t *id, uint32_t *len);
/* vio_cfg8: a byte of the device-specific configuration. */
uint8_t vio_cfg8(struct vio_dev *d, unsigned off);
uint16_t vio_cfg16(struct vio_dev *d, unsigned off);

#endif
