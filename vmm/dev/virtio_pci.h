/*
 * Virtio over PCI, device side (virtio v1.2 section 4.1, modern interface only): the
 * transport every Tern virtio device model (blk, net, console) plugs into.
 *
 * PCI function: vendor 0x1AF4, device 0x1040 + type, revision 1, no INTx (interrupt pin 0).
 * One 64-bit memory BAR 0 of 32 KiB, placed by vpci in the 0xC0000000 window:
 *   0x0000 common configuration (4.1.4.3)     0x3000 notifications, queue q at q * 4
 *   0x1000 ISR status (read clears)           0x4000 MSI-X table (one vector per queue + 1)
 *   0x2000 device-specific configuration      0x5000 MSI-X pending bits
 * Capabilities (config space 0x40...): MSI-X, then the vendor capabilities common, notify,
 * ISR, device and PCI-configuration access (4.1.4.9, the window into BAR 0).
 *
 * Locks, outermost first: d->lock (transport registers) -> d->qlock[q] (queue q: popping,
 * pushing, device work) -> [host switch -> another device's qlock, only with trylock] ->
 * d->irq_lock (MSI-X table and pending bits) -> vLAPIC. A common-configuration write holds
 * d->lock and every qlock, so a reset never races queue processing.
 *
 * Queue work runs synchronously in whichever thread notifies: normally the vCPU thread that
 * wrote the notify register (an MMIO exit), or the shell thread after resume/restore. A driver
 * error the virtqueue layer detects marks the device broken: DEVICE_NEEDS_RESET in the status,
 * a configuration interrupt, a rate-limited log line, and no further queue processing until the
 * driver resets the device. Tern and other guests are not affected.
 */
#ifndef TERN_VDEV_VIRTIO_PCI_H
#define TERN_VDEV_VIRTIO_PCI_H

#include "kernel/compiler.h"
#include "kernel/spinlock.h"
#include "drivers/virtio.h"
#include "vmm/virtq.h"
#include "vmm/vpci.h"

#define VDEV_MAX_QUEUES  3
#define VDEV_MAX_VECTORS (VDEV_MAX_QUEUES + 1)
#define VDEV_BAR_SIZE    0x8000
#define VDEV_OFF_COMMON  0x0000
#define VDEV_OFF_ISR     0x1000
#define VDEV_OFF_DEVICE  0x2000
#define VDEV_OFF_NOTIFY  0x3000
#define VDEV_OFF_MSIX    0x4000
#define VDEV_OFF_PBA     0x5000
#define VDEV_NOTIFY_MULT 4
#define VDEV_CFG_MAX     64 /* device-specific configuration bytes */

struct vm;
struct vdev;
struct stream_out;

struct vdev_ops {
	const char *name;   /* "virtio-blk" */
	uint8_t type;       /* VIRTIO_ID_* */
	uint32_t class_rev; /* PCI class code (24 bits) << 8 | revision */
	uint16_t nqueues, qsize;
	uint32_t cfg_size;
	/* cfg_read: fill the whole device-specific configuration (cfg_size bytes); d->lock held */
	void (*cfg_read)(struct vdev *d, uint8_t *cfg);
	/* notify: the driver notified queue q (or a kick after resume); no lock held, the device
	 * takes d->qlock[q] itself (usually through vdev_process) */
	void (*notify)(struct vdev *d, unsigned q);
	/* reset: the driver reset the device; d->lock and every qlock held */
	void (*reset)(struct vdev *d);
};

struct vdev_msix {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct vdev_stats {
	uint64_t notifies, irqs, bad_notifies, failures;
};

struct vdev {
	struct vpci_dev pci;
	struct vm *vm;
	const struct vdev_ops *ops;
	void *priv;
	int index; /* position among the VM's virtio devices (names its state records) */
	uint64_t host_features;
	struct spinlock lock;
	struct spinlock qlock[VDEV_MAX_QUEUES];
	struct spinlock irq_lock;
	/* transport state (saved and restored) */
	uint64_t guest_features;
	uint32_t dfselect, gfselect;
	uint16_t msix_config, queue_select;
	uint8_t status, isr;
	bool broken;
	uint16_t qvec[VDEV_MAX_QUEUES];
	struct vdev_msix msix[VDEV_MAX_VECTORS];
	uint64_t pba;
	struct virtq vq[VDEV_MAX_QUEUES];
	/* diagnostics */
	struct vdev_stats st;
	uint32_t logged;
	/* per-queue scratch for popped chains */
	struct virtq_chain chain[VDEV_MAX_QUEUES];
};

/* vdev_create: a device of this kind offering features (VERSION_1, INDIRECT_DESC and
 * EVENT_IDX are added); NULL when out of memory. */
struct vdev *vdev_create(struct vm *vm, const struct vdev_ops *ops, uint64_t features, void *priv,
                         int index);
/* vdev_plug: put it on the VM's PCI bus (BAR assigned); false if the bus is full. */
bool vdev_plug(struct vdev *d);
void vdev_destroy(struct vdev *d);
/* vdev_live: the driver finished initialisation, the device is not broken, bus mastering is
 * on: queues may be processed. */
bool vdev_live(const struct vdev *d);
/* vdev_process: take qlock[q], run fn on every available chain (fn returns the used length),
 * publish and interrupt; stops early when the VM is pausing or stopping. */
typedef uint32_t (*vdev_chain_fn)(struct vdev *d, unsigned q, struct virtq_chain *c);
void vdev_process(struct vdev *d, unsigned q, vdev_chain_fn fn);
/* vdev_queue_done: publish queue q's used entries and interrupt if the driver wants it
 * (qlock[q] held). */
void vdev_queue_done(struct vdev *d, unsigned q);
/* vdev_fail: the driver broke the rules on queue q (err is a VQ_E_* code); qlock[q] held. */
void vdev_fail(struct vdev *d, unsigned q, int err);
/* vdev_kick_all: process every queue as if notified (after resume or restore). */
void vdev_kick_all(struct vdev *d);
/* vdev_log: rate-limited klog_quiet about this device. */
void vdev_log(struct vdev *d, const char *fmt, ...) __printf(2, 3);
/* vdev_stopping: the VM wants its threads parked: long device loops give up. */
bool vdev_stopping(const struct vdev *d);

/* vdev_save / vdev_load: the transport and queue state as a REC_DEVICE record. */
void vdev_save(struct vdev *d, struct stream_out *s);
const char *vdev_load(struct vdev *d, const uint8_t *rec, uint32_t len);

/* State-record field ids shared by the device files (REC_DEVICE payloads). */
#define VDEV_F_KIND  1 /* VDEV_KIND_* */
#define VDEV_F_INDEX 2
enum {
	VDEV_KIND_TRANSPORT = 1,
	VDEV_KIND_DISK = 2,
	VDEV_KIND_DISK_RUN = 3,
	VDEV_KIND_DISK_DELTA = 4 /* blocks written since the last fetch (migration) */
};

#endif
