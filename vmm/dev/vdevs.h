/*
 * A VM's virtio devices (see docs/virtio.md): disks (virtio-blk), a NIC on the host's virtual
 * switch (virtio-net) and a second console (virtio-console, the guest's hvc0), configured with
 * the disk=/nic=/mac=/hvc= keys of `vm create` and [vm] sections.
 *
 * Disks are created with the VM and live until it is destroyed (their contents survive
 * `vm stop` / `vm start`); the PCI devices exist while the VM runs. These hooks are what the
 * core VM code calls; the device models are declared below.
 */
#ifndef TERN_VDEVS_H
#define TERN_VDEVS_H

#include "kernel/compiler.h"
#include "vmm/dev/virtio_pci.h"
#include "vmm/vblk.h"
#include "vmm/vdisk.h"

struct vm;
struct vm_config;
struct vm_disk_config;
struct stream_out;

/* vm.c: with the VM (disks), at every boot after platform_init (PCI devices, switch port),
 * in teardown (before guest memory is freed), at destroy; vdevs_kick after a restore or
 * resume (requests the guest queued while the VM was being paused). */
int vdevs_create(struct vm *vm, const char **err);
void vdevs_destroy(struct vm *vm);
int vdevs_attach(struct vm *vm, const char **err);
void vdevs_detach(struct vm *vm);
void vdevs_kick(struct vm *vm);
/* vdevs_announce: broadcast each NIC's MAC on the switch (after a migration or failover the
 * network learns at once where the guest now is). */
void vdevs_announce(struct vm *vm);
/* state.c: REC_DEVICE records (transport state, disk contents). */
void vdevs_save(struct vm *vm, struct stream_out *s);
/* The same in pieces, for migration and checkpoints: transport state only; every disk whole;
 * the blocks written since the last fetch (returns the data bytes; a destination applies
 * deltas only after the whole disk in the same stream); forget what was written so far
 * (before sending every disk whole). */
void vdevs_save_devices(struct vm *vm, struct stream_out *s);
void vdevs_save_disks(struct vm *vm, struct stream_out *s);
uint64_t vdevs_save_disk_deltas(struct vm *vm, struct stream_out *s);
void vdevs_disks_dirty_clear(struct vm *vm);
const char *vdevs_load(struct vm *vm, const uint8_t *rec, uint32_t len);
/* vmcmd.c: configuration keys, `vm info` lines, `vm console NAME hvc` input. */
bool vdevs_config_key(const char *key);
const char *vdevs_config_set(struct vm_config *c, const char *key, const char *value);
void vdevs_info(struct vm *vm);
bool vdevs_has_console(struct vm *vm);
/* vdevs_config_lines: the VM's virtio configuration as `key=value` lines vdevs_config_set
 * takes on another host (migration offers): disks with their actual size, the NIC with its
 * actual MAC. Returns how many lines were written (at most max). */
#define VDEVS_LINE 128
int vdevs_config_lines(struct vm *vm, char (*lines)[VDEVS_LINE], int max);
/* vdevs_console_input: bytes for the guest's hvc0; returns how many it took (0 while the
 * guest has no receive buffer posted, or no virtio-console driver). */
size_t vdevs_console_input(struct vm *vm, const char *s, size_t n);

/* ---- device models (vmm/dev/virtio_{blk,net,console}.c) ---------------------------------- */

struct vdev *vblk_create(struct vm *vm, struct vdisk *disk, const struct vm_disk_config *cfg,
                         int index);
bool vblk_is(const struct vdev *d);
void vblk_destroy(struct vdev *d);
const struct vblk_stats *vblk_stats(const struct vdev *d);

struct vnet_stats {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t rx_dropped;      /* no driver, backlog full, queue broken */
	uint64_t rx_backlogged;   /* frames that waited in the backlog */
	uint64_t rx_small_buffer; /* receive buffer too small: frame dropped */
	uint64_t tx_bad;          /* runt or oversize frames from the guest */
};
struct vdev *vnet_create(struct vm *vm, const uint8_t mac[6], int index, const char **err);
bool vnet_is(const struct vdev *d);
/* vnet_announce: one RARP broadcast from the NIC's MAC into the switch. */
void vnet_announce(struct vdev *d);
void vnet_destroy(struct vdev *d);
const struct vnet_stats *vnet_stats(const struct vdev *d, int *port, const uint8_t **mac);

struct vdev *vcon_create(struct vm *vm, int index);
bool vcon_is(const struct vdev *d);
size_t vcon_input(struct vdev *d, const char *s, size_t n);

#endif
