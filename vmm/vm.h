/*
 * Virtual machines: lifecycle, memory, the virtual platform and its I/O buses.
 *
 * A VM owns its RAM (struct gmem, 2 MiB host chunks), its nested page tables, its vCPUs (one
 * kernel thread each) and its devices. All state changes go through vm_* functions under
 * vm->lock; vCPU threads observe requests (pause, stop, snapshot) at their next exit.
 */
#ifndef TERN_VM_H
#define TERN_VM_H

#include "kernel/compiler.h"
#include "kernel/sched.h"
#include "kernel/spinlock.h"
#include "vmm/gmem.h"
#include "vmm/npt.h"
#include "vmm/vcpu.h"
#include "vmm/platform.h"
#include "vmm/pvclock.h"

#define VM_NAME_MAX    32
#define VM_MAX_VCPUS   16
#define VM_MAX         16
#define VM_CMDLINE_MAX 512
#define VM_FILE_MAX    48

enum vm_state {
	VM_CREATED, /* configured, never started (or stopped: memory freed) */
	VM_RUNNING,
	VM_PAUSED,
	VM_STOPPED,  /* guest shut down, crashed or was stopped; memory kept until start/destroy */
	VM_INCOMING, /* migration destination: state loaded, waits for the source's commit */
};

/* A virtio-blk disk (`disk=NAME[,size=SIZE][,ro][,serial=ID]`, see docs/virtio.md). */
#define VM_MAX_DISKS 4
struct vm_disk_config {
	char name[VM_FILE_MAX]; /* a file on the boot stick (the initial contents), or a label */
	char serial[21];        /* virtio-blk GET_ID answer */
	uint64_t size;          /* bytes; 0: the file's size */
	bool ro;
};

struct vm_config {
	char name[VM_NAME_MAX];
	uint64_t mem_bytes;
	int vcpus;
	char kernel[VM_FILE_MAX];
	char initrd[VM_FILE_MAX];
	char cmdline[VM_CMDLINE_MAX];
	bool autostart;
	/* virtio devices (vmm/dev/vdevs.c) */
	int ndisks;
	struct vm_disk_config disk[VM_MAX_DISKS];
	bool nic;     /* virtio-net on the host's virtual switch */
	bool mac_set; /* else derived from the name */
	uint8_t mac[6];
	bool hvc; /* virtio-console */
	bool ha;  /* `ha=on`: replicated to a standby host (ha/replica.h) */
};

/* Port I/O and MMIO handlers. val holds the data (written, or to be read). */
typedef void (*pio_fn)(void *dev, struct vcpu *v, uint16_t port, unsigned size, bool write,
                       uint32_t *val);
typedef void (*mmio_fn)(void *dev, struct vcpu *v, uint64_t gpa, unsigned size, bool write,
                        uint64_t *val);

#define VM_MAX_PIO  32
#define VM_MAX_MMIO 16

struct pio_range {
	uint16_t first, last;
	pio_fn fn;
	void *dev;
};

struct mmio_range {
	uint64_t first, last;
	mmio_fn fn;
	void *dev;
};

struct vm {
	struct vm_config cfg;
	int id;
	volatile int state; /* enum vm_state */
	struct spinlock lock;
	struct gmem mem;
	struct npt npt;
	int nvcpus;
	struct vcpu *vcpu[VM_MAX_VCPUS];
	struct platform plat; /* emulated devices */
	int npio, nmmio;
	struct pio_range pio[VM_MAX_PIO];
	struct mmio_range mmio[VM_MAX_MMIO];

	uint64_t start_ns; /* when last started */
	uint64_t run_ns;   /* accumulated running time before start_ns */
	volatile bool stop_requested, pause_requested;
	volatile int throttle_pct; /* auto-converge: share of time the vCPUs are held back */
	volatile bool migrating;   /* an outgoing migration owns the VM's lifecycle */
	int vcpus_parked;          /* vCPU threads waiting while paused */
	struct waitq state_wq;     /* parked/exited vCPU threads report here */
	int threads_alive;
	char stop_reason[96];
	uint64_t unhandled_io_logged;
	/* the paravirtual clock (kvmclock.h): time_ns = line.ns + scale(guest TSC - line.tsc) */
	struct pvclock_point pv_line;
	struct pvclock_scale pv_scale;
	void *snapshot; /* last `vm snapshot` stream (struct snapshot) */

	/* guest console (the emulated UART's transmit side) */
	struct console_sink *console;
	/* virtio devices and disks (vmm/dev/vdevs.c); disks live as long as the VM */
	struct vm_vdevs *vdevs;
	/* HA replication (ha/replica.h): while set, transmitted frames wait in its output
	 * buffer until their checkpoint is acknowledged (output commit) */
	struct ha_guest *volatile ha;
};

/* vm_create: register a VM from a validated configuration. */
int vm_create(const struct vm_config *cfg, const char **err);
struct vm *vm_find(const char *name);
int vm_count(void);
struct vm *vm_get(int i);
/* vm_start: allocate memory, load the guest, start the vCPU threads. */
int vm_start(struct vm *vm, const char **err);
/* vm_start_from_stream: as vm_start, but the guest's state comes from a state stream (snapshot
 * restore, migration); uptime_ns is the VM's running time when the state was taken. */
struct stream_in;
int vm_start_from_stream(struct vm *vm, struct stream_in *in, uint64_t uptime_ns, const char **err);
/* vm_load_incoming / vm_commit_incoming: migration destination: load the state without
 * running it; run it once the source has released it. vm_stop discards it. */
int vm_load_incoming(struct vm *vm, struct stream_in *in, uint64_t uptime_ns, const char **err);
int vm_commit_incoming(struct vm *vm, const char **err);
/* vm_stop: stop all vCPUs and free guest memory (the configuration stays). */
int vm_stop(struct vm *vm, const char **err);
int vm_pause(struct vm *vm, const char **err);
int vm_resume(struct vm *vm, const char **err);
int vm_destroy(struct vm *vm, const char **err);
/* vm_fatal: a guest-caused error the VM cannot continue from: stop it with a message. */
void vm_fatal(struct vm *vm, const char *fmt, ...) __printf(2, 3);
/* vm_request_stop: from a vCPU thread (guest shutdown): stop the whole VM asynchronously. */
void vm_request_stop(struct vm *vm, const char *reason);
/* vm_vcpu_exited: a vCPU thread is leaving (last one out marks the VM stopped). */
void vm_vcpu_exited(struct vm *vm, struct vcpu *v);
/* vm_uptime_ns: running time so far. */
uint64_t vm_uptime_ns(const struct vm *vm);
/* vm_quiesce / vm_unquiesce: park every vCPU thread (for snapshot) and let them go again. */
int vm_quiesce(struct vm *vm);
void vm_unquiesce(struct vm *vm);

/* Buses. */
bool vm_add_pio(struct vm *vm, uint16_t first, uint16_t last, pio_fn fn, void *dev);
bool vm_add_mmio(struct vm *vm, uint64_t first, uint64_t last, mmio_fn fn, void *dev);
/* vm_pio / vm_mmio: dispatch an access; unclaimed reads return all ones, writes are dropped. */
void vm_pio(struct vm *vm, struct vcpu *v, uint16_t port, unsigned size, bool write, uint32_t *val);
bool vm_mmio(struct vm *vm, struct vcpu *v, uint64_t gpa, unsigned size, bool write, uint64_t *val);

#endif
