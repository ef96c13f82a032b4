/* VM lifecycle, memory and the I/O buses; see vm.h. */
#include "vmm/vm.h"
#include "vmm/kvmclock.h"
#include "kernel/fmt.h"
#include "kernel/fpu.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/mmu.h"
#include "kernel/panic.h"
#include "kernel/percpu.h"
#include "kernel/pmm.h"
#include "kernel/smp.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/x86.h"
#include "vmm/dev/vdevs.h"
#include "vmm/dirty.h"
#include "vmm/gconsole.h"
#include "vmm/linux_boot.h"
#include "vmm/snapshot.h"
#include "vmm/state.h"
#include "vmm/vmm.h"

static struct vm *g_vms[VM_MAX];
static struct spinlock g_list_lock = SPINLOCK_INIT("vm-list");
static int g_next_id;

struct vm *vm_find(const char *name)
{
	for (int i = 0; i < VM_MAX; i++)
		if (g_vms[i] && !strcmp(g_vms[i]->cfg.name, name))
			return g_vms[i];
	return NULL;
}

int vm_count(void)
{
	int n = 0;
	for (int i = 0; i < VM_MAX; i++)
		n += g_vms[i] != NULL;
	return n;
}

struct vm *vm_get(int i)
{
	return i >= 0 && i < VM_MAX ? g_vms[i] : NULL;
}

/* vm_create: validate and register; no memory is taken until vm_start. */
int vm_create(const struct vm_config *cfg, const char **err)
{
	if (!vmm) {
		*err = "no hardware virtualization available on this host";
		return -1;
	}
	if (vm_find(cfg->name)) {
		*err = "a VM with that name exists";
		return -1;
	}
	struct vm *vm = kzalloc(sizeof(*vm));
	if (!vm) {
		*err = "out of memory";
		return -1;
	}
	vm->cfg = *cfg;
	spin_init(&vm->lock, "vm");
	if (vdevs_create(vm, err) < 0) { /* disks: they live as long as the VM */
		kfree(vm);
		return -1;
	}
	vm->state = VM_CREATED;
	spin_lock(&g_list_lock);
	int slot = -1;
	for (int i = 0; i < VM_MAX && slot < 0; i++)
		if (!g_vms[i])
			slot = i;
	if (slot >= 0) {
		vm->id = ++g_next_id;
		g_vms[slot] = vm;
	}
	spin_unlock(&g_list_lock);
	if (slot < 0) {
		kfree(vm);
		*err = "too many VMs";
		return -1;
	}
	return 0;
}

/* free_memory: release guest RAM chunks and the nested page tables. */
static void free_memory(struct vm *vm)
{
	if (vm->npt.root)
		npt_destroy(&vm->npt);
	if (vm->mem.chunk_hva) {
		for (uint64_t i = 0; i < vm->mem.nchunks; i++)
			if (vm->mem.chunk_hva[i])
				pmm_free(V2P(vm->mem.chunk_hva[i]), GMEM_CHUNK_SHIFT - PAGE_SHIFT);
		kfree(vm->mem.chunk_hva);
	}
	kfree(vm->mem.dirty);
	memset(&vm->mem, 0, sizeof(vm->mem));
}

/* alloc_memory: zeroed 2 MiB chunks for all of RAM, mapped in a fresh nested page table. */
static int alloc_memory(struct vm *vm, const char **err)
{
	struct gmem *m = &vm->mem;
	if (!gmem_layout(m, vm->cfg.mem_bytes, GUEST_HOLE_START)) {
		*err = "bad memory size";
		return -1;
	}
	m->chunk_hva = kzalloc(m->nchunks * sizeof(uint8_t *));
	if (!m->chunk_hva || !npt_init(&vm->npt, vmm->npt, &npt_kernel_mem)) {
		*err = "out of memory for the VM's tables";
		return -1;
	}
	for (uint64_t i = 0; i < m->nchunks; i++) {
		uint64_t pa = pmm_alloc_zeroed(GMEM_CHUNK_SHIFT - PAGE_SHIFT);
		if (!pa) {
			*err = "not enough free host memory for the guest's RAM";
			return -1;
		}
		m->chunk_hva[i] = P2V(pa);
	}
	for (int s = 0; s < m->nslots; s++) {
		for (uint64_t off = 0; off < m->slot[s].size; off += GMEM_CHUNK_SIZE) {
			uint64_t hpa =
			    V2P(m->chunk_hva[m->slot[s].first_chunk + (off >> GMEM_CHUNK_SHIFT)]);
			if (!npt_map(&vm->npt, m->slot[s].gpa + off, hpa, GMEM_CHUNK_SIZE,
			             NPT_RWX)) {
				*err = "out of memory for nested page tables";
				return -1;
			}
		}
	}
	return 0;
}

/* free_vcpus: backend control blocks, FPU areas and vCPU structures. */
static void free_vcpus(struct vm *vm)
{
	for (int i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = vm->vcpu[i];
		if (!v)
			continue;
		vmm->vcpu_destroy(v);
		if (v->fpu)
			fpu_free(v->fpu);
		kfree(v);
		vm->vcpu[i] = NULL;
	}
	vm->nvcpus = 0;
}

/* make_vcpus: vCPU 0 runs from the loader's state, the others wait for INIT-SIPI. */
static int make_vcpus(struct vm *vm, const char **err)
{
	for (int i = 0; i < vm->cfg.vcpus; i++) {
		struct vcpu *v = kzalloc(sizeof(*v));
		if (!v) {
			*err = "out of memory";
			return -1;
		}
		v->vm = vm;
		v->id = i;
		v->xcr0 = 1;
		v->run_state = i == 0 ? VCPU_RUNNING : VCPU_WAIT_SIPI;
		vlapic_init(&v->lapic, v, (uint32_t)i, i == 0);
		vm->vcpu[i] = v;
		vm->nvcpus = i + 1;
		v->fpu = fpu_alloc();
		if (!v->fpu || vmm->vcpu_create(v) < 0) {
			*err = "cannot create the vCPU's control block";
			return -1;
		}
	}
	return 0;
}

/* start_threads: one pinned thread per vCPU, spread over the host CPUs. */
static int start_threads(struct vm *vm, const char **err)
{
	int n = ncpus;
	for (int i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = vm->vcpu[i];
		int cpu = (vm->id + i) % n;
		while (!cpus[cpu].online)
			cpu = (cpu + 1) % n;
		char name[THREAD_NAME_MAX];
		fmt_snprintf(name, sizeof(name), "%s/vcpu%d", vm->cfg.name, i);
		v->host_cpu = cpu;
		spin_lock(&vm->lock);
		vm->threads_alive++;
		spin_unlock(&vm->lock);
		struct thread *t = thread_create_fpu(name, vcpu_thread, v, cpu, v->fpu);
		if (!t) {
			spin_lock(&vm->lock);
			vm->threads_alive--;
			vm->stop_requested = true;
			spin_unlock(&vm->lock);
			*err = "cannot start vCPU threads";
			return -1;
		}
		v->thread = t;
	}
	return 0;
}

/* teardown: after all vCPU threads are gone: free everything but the configuration. */
static void teardown(struct vm *vm)
{
	vdevs_detach(vm); /* first: no device (or switch port) touches guest memory after this */
	vm_dirty_stop(vm);
	free_vcpus(vm);
	free_memory(vm);
}

/* boot: memory, devices, then either a fresh guest image or a saved state; then threads. */
static int boot(struct vm *vm, struct stream_in *from, bool hold, const char **err)
{
	if (vm->state == VM_RUNNING || vm->state == VM_PAUSED) {
		*err = "VM is already running";
		return -1;
	}
	if (vm->threads_alive) {
		*err = "VM is still stopping";
		return -1;
	}
	teardown(vm); /* leftovers of a guest-initiated stop */
	vm->stop_requested = vm->pause_requested = false;
	vm->stop_reason[0] = 0;
	vm->unhandled_io_logged = 0;
	if (!vm->console && !(vm->console = kzalloc(sizeof(*vm->console)))) {
		*err = "out of memory";
		return -1;
	}
	spin_init(&vm->console->lock, "gconsole");
	if (alloc_memory(vm, err) < 0 || make_vcpus(vm, err) < 0)
		goto fail;
	platform_init(vm);
	if (vdevs_attach(vm, err) < 0)
		goto fail;
	*err = NULL;
	kvmclock_boot(vm);
	if (from) {
		if (state_load(vm, from, err) < 0)
			goto fail;
	} else {
		if (linux_boot_load(vm, err) < 0 || !platform_build_firmware(vm)) {
			if (!*err)
				*err = "cannot build the guest's firmware tables";
			goto fail;
		}
		uint64_t offset = 0 - rdtsc(); /* the guest TSC starts at zero */
		for (int i = 0; i < vm->nvcpus; i++)
			vm->vcpu[i]->tsc_offset = offset;
		vm->run_ns = 0;
	}
	if (hold) {
		vm->state = VM_INCOMING; /* complete, but runs only after vm_commit_incoming */
		return 0;
	}
	if (from)
		kvmclock_resume(vm); /* the clock line re-anchored on this host */
	vdevs_kick(vm);              /* requests a restored guest had queued */
	vm->start_ns = time_ns();
	vm->state = VM_RUNNING;
	if (start_threads(vm, err) < 0) {
		vm_stop(vm, err);
		return -1;
	}
	klog("vm %s: %s (%d vCPU, %llu MiB)", vm->cfg.name,
	     from ? "resumed from saved state" : "started", vm->nvcpus,
	     (unsigned long long)(vm->cfg.mem_bytes >> 20));
	return 0;
fail:
	teardown(vm);
	vm->state = VM_CREATED;
	return -1;
}

int vm_start(struct vm *vm, const char **err)
{
	return boot(vm, NULL, false, err);
}

int vm_start_from_stream(struct vm *vm, struct stream_in *in, uint64_t uptime_ns, const char **err)
{
	vm->run_ns = uptime_ns;
	return boot(vm, in, false, err);
}

int vm_load_incoming(struct vm *vm, struct stream_in *in, uint64_t uptime_ns, const char **err)
{
	vm->run_ns = uptime_ns;
	return boot(vm, in, true, err);
}

int vm_commit_incoming(struct vm *vm, const char **err)
{
	if (vm->state != VM_INCOMING) {
		*err = "no incoming VM state to run";
		return -1;
	}
	/* guest memory is touched only now: until the commit it must stay exactly what the
	 * source sent (verify=on compares it) */
	kvmclock_resume(vm);
	vdevs_kick(vm);
	vm->start_ns = time_ns();
	vm->state = VM_RUNNING;
	if (start_threads(vm, err) < 0) {
		vm_stop(vm, err);
		return -1;
	}
	vdevs_announce(vm); /* the network learns where the guest is now */
	klog("vm %s: running after migration (%d vCPU, %llu MiB)", vm->cfg.name, vm->nvcpus,
	     (unsigned long long)(vm->cfg.mem_bytes >> 20));
	return 0;
}

/* wait_threads: until every vCPU thread of the VM has left. */
static void wait_threads(struct vm *vm)
{
	spin_lock(&vm->lock);
	while (vm->threads_alive > 0)
		waitq_wait(&vm->state_wq, &vm->lock, 0);
	spin_unlock(&vm->lock);
}

/* kick_all: every vCPU looks at the VM's request flags soon. */
static void kick_all(struct vm *vm)
{
	for (int i = 0; i < vm->nvcpus; i++)
		vcpu_kick(vm->vcpu[i]);
}

int vm_stop(struct vm *vm, const char **err)
{
	if (vm->state != VM_RUNNING && vm->state != VM_PAUSED && !vm->threads_alive) {
		if (vm->state == VM_STOPPED || vm->state == VM_INCOMING) {
			teardown(vm); /* free what a guest-initiated stop left */
			vm->state = VM_CREATED;
			return 0;
		}
		*err = "VM is not running";
		return -1;
	}
	spin_lock(&vm->lock);
	vm->stop_requested = true;
	spin_unlock(&vm->lock);
	kick_all(vm);
	wait_threads(vm);
	vm->run_ns = vm_uptime_ns(vm);
	teardown(vm);
	vm->state = VM_CREATED;
	if (!vm->stop_reason[0])
		tern_strlcpy(vm->stop_reason, "stopped by the operator", sizeof(vm->stop_reason));
	klog("vm %s: stopped", vm->cfg.name);
	return 0;
}

/* vm_quiesce: pause every vCPU and wait until all are parked (registers are stable). */
int vm_quiesce(struct vm *vm)
{
	spin_lock(&vm->lock);
	vm->pause_requested = true;
	spin_unlock(&vm->lock);
	kick_all(vm);
	spin_lock(&vm->lock);
	while (vm->vcpus_parked < vm->threads_alive && !vm->stop_requested)
		waitq_wait(&vm->state_wq, &vm->lock, 0);
	bool ok = !vm->stop_requested;
	spin_unlock(&vm->lock);
	return ok ? 0 : -1;
}

void vm_unquiesce(struct vm *vm)
{
	spin_lock(&vm->lock);
	vm->pause_requested = false;
	for (int i = 0; i < vm->nvcpus; i++)
		waitq_wake_all(&vm->vcpu[i]->wq);
	spin_unlock(&vm->lock);
	vdevs_kick(vm); /* device work that stopped for the pause */
}

int vm_pause(struct vm *vm, const char **err)
{
	if (vm->state != VM_RUNNING) {
		*err = "VM is not running";
		return -1;
	}
	if (vm_quiesce(vm) < 0) {
		*err = "VM stopped while pausing";
		return -1;
	}
	vm->run_ns = vm_uptime_ns(vm);
	vm->state = VM_PAUSED;
	return 0;
}

int vm_resume(struct vm *vm, const char **err)
{
	if (vm->state != VM_PAUSED) {
		*err = "VM is not paused";
		return -1;
	}
	vm->start_ns = time_ns();
	vm->state = VM_RUNNING;
	vm_unquiesce(vm);
	return 0;
}

int vm_destroy(struct vm *vm, const char **err)
{
	if ((vm->state == VM_RUNNING || vm->state == VM_PAUSED) && vm_stop(vm, err) < 0)
		return -1;
	teardown(vm);
	spin_lock(&g_list_lock);
	for (int i = 0; i < VM_MAX; i++)
		if (g_vms[i] == vm)
			g_vms[i] = NULL;
	spin_unlock(&g_list_lock);
	kfree(vm->console);
	vdevs_destroy(vm);
	snapshot_free(vm);
	kfree(vm);
	return 0;
}

uint64_t vm_uptime_ns(const struct vm *vm)
{
	if (vm->state == VM_RUNNING)
		return vm->run_ns + (time_ns() - vm->start_ns);
	return vm->run_ns;
}

/* vm_request_stop: called from a vCPU thread: every vCPU thread leaves; the VM is STOPPED. */
void vm_request_stop(struct vm *vm, const char *reason)
{
	spin_lock(&vm->lock);
	bool first = !vm->stop_requested;
	vm->stop_requested = true;
	if (first)
		tern_strlcpy(vm->stop_reason, reason, sizeof(vm->stop_reason));
	spin_unlock(&vm->lock);
	if (first) {
		klog("vm %s: %s", vm->cfg.name, reason);
		kick_all(vm);
	}
}

void vm_fatal(struct vm *vm, const char *fmt, ...)
{
	char buf[160];
	va_list ap;
	va_start(ap, fmt);
	fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	char reason[96];
	fmt_snprintf(reason, sizeof(reason), "guest error: %s", buf);
	vm_request_stop(vm, reason);
}

/* vm_vcpu_exited: the last vCPU thread out marks a guest-initiated stop. */
void vm_vcpu_exited(struct vm *vm, struct vcpu *v)
{
	(void)v;
	spin_lock(&vm->lock);
	vm->threads_alive--;
	bool last = vm->threads_alive == 0;
	if (last && vm->state == VM_RUNNING) {
		vm->run_ns = vm_uptime_ns(vm);
		vm->state = VM_STOPPED;
	}
	waitq_wake_all(&vm->state_wq);
	spin_unlock(&vm->lock);
}

/* ---- buses ----------------------------------------------------------------------------- */

bool vm_add_pio(struct vm *vm, uint16_t first, uint16_t last, pio_fn fn, void *dev)
{
	ASSERT(vm->npio < VM_MAX_PIO && first <= last);
	vm->pio[vm->npio++] = (struct pio_range){first, last, fn, dev};
	return true;
}

bool vm_add_mmio(struct vm *vm, uint64_t first, uint64_t last, mmio_fn fn, void *dev)
{
	ASSERT(vm->nmmio < VM_MAX_MMIO && first <= last);
	vm->mmio[vm->nmmio++] = (struct mmio_range){first, last, fn, dev};
	return true;
}

/* note_unassigned: rate-limited log of accesses nobody claims (hostile or buggy guests). */
static void note_unassigned(struct vm *vm, const char *what, uint64_t addr, bool write)
{
	if (vm->unhandled_io_logged++ < 32)
		klog_quiet("vm %s: %s %s unassigned %#llx (ignored)", vm->cfg.name,
		           write ? "write to" : "read from", what, (unsigned long long)addr);
}

void vm_pio(struct vm *vm, struct vcpu *v, uint16_t port, unsigned size, bool write, uint32_t *val)
{
	for (int i = 0; i < vm->npio; i++) {
		struct pio_range *r = &vm->pio[i];
		if (port >= r->first && port <= r->last) {
			r->fn(r->dev, v, port, size, write, val);
			return;
		}
	}
	note_unassigned(vm, "port", port, write);
	if (!write)
		*val = 0xffffffffu;
}

bool vm_mmio(struct vm *vm, struct vcpu *v, uint64_t gpa, unsigned size, bool write, uint64_t *val)
{
	for (int i = 0; i < vm->nmmio; i++) {
		struct mmio_range *r = &vm->mmio[i];
		if (gpa >= r->first && gpa + size - 1 <= r->last) {
			r->fn(r->dev, v, gpa, size, write, val);
			return true;
		}
	}
	note_unassigned(vm, "MMIO", gpa, write);
	return false;
}
