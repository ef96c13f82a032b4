/*
 * `vm snapshot` / `vm restore`: the VM's state stream kept in host memory, in a chain of
 * 2 MiB blocks. Restore stops the VM and starts it again from the stream, so the guest
 * continues exactly from the moment of the snapshot (its TSC and uptime included).
 */
#include "vmm/snapshot.h"
#include "kernel/args.h"
#include "kernel/fmt.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/mmu.h"
#include "kernel/pmm.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "vmm/ramrec.h"
#include "vmm/state.h"
#include "vmm/stream.h"
#include "vmm/vm.h"

#define BLOCK_ORDER   9
#define BLOCK_SIZE    (PAGE_SIZE << BLOCK_ORDER)
#define REC_BUF_ORDER 10 /* 4 MiB: the largest record */

struct snapshot {
	uint64_t bytes; /* stream length */
	uint64_t pos;   /* read cursor */
	uint8_t **block;
	size_t nblocks, cap;
	uint64_t uptime_ns; /* VM running time at the snapshot */
	uint64_t taken_ns;
	char desc[96];
};

/* snap_free: release a snapshot and its blocks. */
static void snap_free(struct snapshot *sn)
{
	if (!sn)
		return;
	for (size_t i = 0; i < sn->nblocks; i++)
		pmm_free(V2P(sn->block[i]), BLOCK_ORDER);
	kfree(sn->block);
	kfree(sn);
}

/* snap_write: stream sink appending to the block chain. */
static int snap_write(void *ctx, const void *buf, size_t len)
{
	struct snapshot *sn = ctx;
	const uint8_t *p = buf;
	while (len) {
		size_t off = sn->bytes % BLOCK_SIZE;
		if (off == 0 && sn->bytes / BLOCK_SIZE == sn->nblocks) {
			if (sn->nblocks == sn->cap) {
				size_t cap = sn->cap ? sn->cap * 2 : 64;
				uint8_t **nb = kmalloc(cap * sizeof(*nb));
				if (!nb)
					return -1;
				memcpy(nb, sn->block, sn->nblocks * sizeof(*nb));
				kfree(sn->block);
				sn->block = nb;
				sn->cap = cap;
			}
			uint64_t pa = pmm_alloc(BLOCK_ORDER);
			if (!pa)
				return -1;
			sn->block[sn->nblocks++] = P2V(pa);
		}
		size_t n = MIN(len, BLOCK_SIZE - off);
		memcpy(sn->block[sn->bytes / BLOCK_SIZE] + off, p, n);
		sn->bytes += n;
		p += n;
		len -= n;
	}
	return 0;
}

/* snap_read: stream source reading the chain from pos. */
static int snap_read(void *ctx, void *buf, size_t len)
{
	struct snapshot *sn = ctx;
	uint8_t *p = buf;
	if (len > sn->bytes - sn->pos)
		return -1;
	while (len) {
		size_t off = sn->pos % BLOCK_SIZE;
		size_t n = MIN(len, BLOCK_SIZE - off);
		memcpy(p, sn->block[sn->pos / BLOCK_SIZE] + off, n);
		sn->pos += n;
		p += n;
		len -= n;
	}
	return 0;
}

int vm_snapshot(struct vm *vm, const char **err)
{
	if (vm->state != VM_RUNNING && vm->state != VM_PAUSED) {
		*err = "VM is not running";
		return -1;
	}
	struct snapshot *sn = kzalloc(sizeof(*sn));
	uint8_t *rec = kmalloc(64 * 1024);
	struct ram_enc *enc = kmalloc(sizeof(*enc));
	if (!sn || !rec || !enc) {
		kfree(sn), kfree(rec), kfree(enc);
		*err = "out of memory";
		return -1;
	}
	ramrec_enc_init(enc, NULL);
	uint64_t t0 = time_ns();
	bool was_running = vm->state == VM_RUNNING;
	if (was_running && vm_quiesce(vm) < 0) {
		kfree(sn), kfree(rec), kfree(enc);
		*err = "VM stopped during the snapshot";
		return -1;
	}
	struct stream_out out;
	/* no stream hash: the snapshot never leaves Tern's own memory */
	stream_out_init(&out, snap_write, sn, rec, 64 * 1024, NULL);
	sn->uptime_ns = vm_uptime_ns(vm);
	int rc = state_save(vm, &out, enc);
	if (rc == 0)
		rc = stream_finish(&out);
	if (was_running)
		vm_unquiesce(vm);
	kfree(rec);
	struct ram_stats st = enc->st;
	kfree(enc);
	if (rc < 0) {
		snap_free(sn);
		*err = "out of host memory for the snapshot";
		return -1;
	}
	sn->taken_ns = time_ns();
	char sz[16];
	format_size(sn->bytes, sz, sizeof(sz));
	fmt_snprintf(sn->desc, sizeof(sn->desc), "%s, taken at host uptime %llu s", sz,
	             (unsigned long long)(sn->taken_ns / 1000000000ULL));
	snap_free(vm->snapshot);
	vm->snapshot = sn;
	klog("vm %s: snapshot of %s in %llu ms (%llu pages: %llu zero, %llu compressed, %llu raw)",
	     vm->cfg.name, sz, (unsigned long long)((sn->taken_ns - t0) / 1000000),
	     (unsigned long long)st.pages, (unsigned long long)st.zero, (unsigned long long)st.lz,
	     (unsigned long long)st.raw);
	return 0;
}

int vm_restore(struct vm *vm, const char **err)
{
	struct snapshot *sn = vm->snapshot;
	if (!sn) {
		*err = "VM has no snapshot";
		return -1;
	}
	if ((vm->state == VM_RUNNING || vm->state == VM_PAUSED || vm->state == VM_STOPPED) &&
	    vm_stop(vm, err) < 0)
		return -1;
	uint64_t rec_pa = pmm_alloc(REC_BUF_ORDER);
	if (!rec_pa) {
		*err = "out of memory";
		return -1;
	}
	struct stream_in in;
	sn->pos = 0;
	stream_in_init(&in, snap_read, sn, P2V(rec_pa), PAGE_SIZE << REC_BUF_ORDER, NULL);
	uint64_t t0 = time_ns();
	int rc = vm_start_from_stream(vm, &in, sn->uptime_ns, err);
	pmm_free(rec_pa, REC_BUF_ORDER);
	if (rc == 0)
		klog("vm %s: restored from snapshot in %llu ms", vm->cfg.name,
		     (unsigned long long)((time_ns() - t0) / 1000000));
	return rc;
}

const char *snapshot_describe(struct vm *vm)
{
	struct snapshot *sn = vm->snapshot;
	return sn ? sn->desc : "none";
}

void snapshot_free(struct vm *vm)
{
	snap_free(vm->snapshot);
	vm->snapshot = NULL;
}
