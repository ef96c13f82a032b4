/*
 * libFuzzer target for loading saved VM state (vmm/state.c: state_load), what `vm restore`, a
 * migration's destination and an HA replica apply: the VM, vCPU, LAPIC, FPU, PIT, PCI and
 * platform-device records and RAM runs. A bad record must be refused; a stream that loads
 * must leave state the device models can run on.
 *
 * The VM is a fake with FUZZ_VCPUS vCPUs and 4 MiB of RAM (two 2 MiB chunks, separate
 * allocations) behind a fake backend that keeps the architectural state it is given; its
 * devices are the real models (vmm/uart.c, pit.c, pic.c, rtc.c, ioapic.c, lapic.c, vpci.c),
 * reset from a pristine copy before every input. The first input byte picks the prefix:
 * bit 0 the fake VM's own saved state (header, VM, vCPUs, LAPICs, FPUs, devices), else bit 1
 * a stream header and VM record only, else none; bit 2 appends an END record; the rest is the
 * stream (a source that hands out exactly these bytes, so ASan sees an overread).
 *
 * After a load that succeeds, every promise the loader makes must hold (run states, SIPI
 * vectors, segment attributes and XCR0 given to the backend, XSAVE headers and MXCSR, the
 * LAPIC divider, PIT modes, UART FIFO indices, PIC init steps, the RTC and IOAPIC register
 * selectors, the PCI address latch and the host bridge's read-only config bytes), and then
 * the devices are driven (every LAPIC register and the PIT, PIC, RTC, UART, IOAPIC and PCI
 * ports read, interrupts raised and acknowledged) so that a value the loader let through and
 * a model indexes with shows up as an ASan or UBSan report.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/fpu.h"
#include "kernel/time.h"
#include "vmm/dev/vdevs.h"
#include "vmm/gconsole.h"
#include "vmm/platform.h"
#include "vmm/state.h"
#include "vmm/stream.h"
#include "vmm/vm.h"
#include "tests/unit/mem_source.h"
#include "tests/fuzz/fuzz_check.h"

#define FUZZ_VCPUS 2
#define FUZZ_RAM   (4ULL << 20)
#define FPU_SIZE   832 /* legacy area, XSAVE header, AVX state */
#define HOST_XCR0  7   /* x87, SSE, AVX */
#define REC_BUF    (256u * 1024)

/* ---- what the loader and the device models call, as a host with these properties ---- */

uint64_t tsc_hz = 3000000000ULL;
size_t fpu_area_size(void)
{
	return FPU_SIZE;
}
uint64_t fpu_xcr0(void)
{
	return HOST_XCR0;
}
uint64_t ns_to_tsc(uint64_t ns)
{
	return ns * 3;
}
uint64_t tsc_to_ns(uint64_t tsc)
{
	return tsc / 3;
}
uint64_t wallclock_now(void)
{
	return 1700000000;
}
const char *vdevs_load(struct vm *vm, const uint8_t *rec, uint32_t len)
{
	(void)vm, (void)rec, (void)len;
	return "this VM has no virtio devices"; /* their records: fuzz_virtq */
}
void vdevs_save_devices(struct vm *vm, struct stream_out *s)
{
	(void)vm, (void)s;
}
void vdevs_save_disks(struct vm *vm, struct stream_out *s)
{
	(void)vm, (void)s;
}
void platform_set_irq(struct vm *vm, unsigned gsi, bool level)
{
	(void)vm, (void)gsi, (void)level;
}
void platform_pulse_irq(struct vm *vm, unsigned gsi)
{
	(void)vm, (void)gsi;
}
void vcpu_kick(struct vcpu *v)
{
	(void)v;
}
void gconsole_output(struct vm *vm, const char *s, size_t n)
{
	(void)vm, (void)s, (void)n;
}

/* The fake backend: keeps the state it is given, per vCPU. */
static struct vcpu_arch_state g_arch[FUZZ_VCPUS];
static bool g_arch_set[FUZZ_VCPUS];

static void fake_get_state(struct vcpu *v, struct vcpu_arch_state *s)
{
	*s = g_arch[v->id];
}
static void fake_set_state(struct vcpu *v, const struct vcpu_arch_state *s)
{
	g_arch[v->id] = *s;
	g_arch_set[v->id] = true;
}
static const struct vmm_backend g_backend = {
    .name = "fuzz", .get_state = fake_get_state, .set_state = fake_set_state};
const struct vmm_backend *vmm = &g_backend;

/* ---- the fake VM ----------------------------------------------------------------------- */

static struct vm g_vm, g_vm0; /* live, pristine */
static struct vcpu g_vcpu[FUZZ_VCPUS], g_vcpu0[FUZZ_VCPUS];
static uint8_t g_fpu[FUZZ_VCPUS][FPU_SIZE] __attribute__((aligned(64)));
static uint8_t g_fpu0[FUZZ_VCPUS][FPU_SIZE];
static uint8_t g_hb_ro[VPCI_CFG_SIZE]; /* host bridge config & ~wmask, as built */
static uint8_t *g_prefix, *g_rec;
static size_t g_prefix_len, g_vm_rec_len; /* whole saved state; header + VM record only */

struct sink {
	uint8_t *p;
	size_t len, cap;
};

static int sink_write(void *ctx, const void *buf, size_t n)
{
	struct sink *s = ctx;
	if (s->len + n > s->cap)
		return -1;
	memcpy(s->p + s->len, buf, n);
	s->len += n;
	return 0;
}

/* build_vm: RAM, vCPUs, devices, as vm_start would before a restore. */
static void build_vm(void)
{
	struct vm *vm = &g_vm;
	strcpy(vm->cfg.name, "fuzz");
	vm->cfg.mem_bytes = FUZZ_RAM;
	vm->cfg.vcpus = vm->nvcpus = FUZZ_VCPUS;
	CHECK(gmem_layout(&vm->mem, FUZZ_RAM, 3ULL << 30));
	vm->mem.chunk_hva = calloc(vm->mem.nchunks, sizeof(uint8_t *));
	for (uint64_t i = 0; i < vm->mem.nchunks; i++)
		vm->mem.chunk_hva[i] = calloc(1, GMEM_CHUNK_SIZE);
	for (int i = 0; i < FUZZ_VCPUS; i++) {
		struct vcpu *v = &g_vcpu[i];
		vm->vcpu[i] = v;
		v->vm = vm;
		v->id = i;
		v->fpu = g_fpu[i];
		*(uint32_t *)(g_fpu[i] + 24) = 0x1f80; /* MXCSR at reset */
		vlapic_init(&v->lapic, v, (uint32_t)i, i == 0);
		g_arch[i].xcr0 = 1;
	}
	/* the devices, as platform_init makes them (its port and MMIO tables are not needed) */
	struct platform *p = &vm->plat;
	vioapic_init(&p->ioapic, vm);
	vpic_init(&p->pic, vm);
	vpit_init(&p->pit, vm);
	vrtc_init(&p->rtc, vm->mem.slot[0].size, 0);
	vuart_init(&p->uart, vm, 0x3f8, 4);
	vpci_init(&p->pci, vm);
	const struct vpci_dev *hb = &vm->plat.pci.host_bridge;
	for (int i = 0; i < VPCI_CFG_SIZE; i++)
		g_hb_ro[i] = hb->cfg[i] & ~hb->wmask[i];
}

/* save_prefixes: the VM's own state as a stream without its END record. */
static void save_prefixes(void)
{
	static uint8_t recbuf[REC_BUF];
	struct sink k = {malloc(1 << 20), 0, 1 << 20};
	struct stream_out s;
	stream_out_init(&s, sink_write, &k, recbuf, sizeof(recbuf), NULL);
	state_save_begin(&g_vm, &s);
	g_vm_rec_len = k.len;
	state_save_machine_ex(&g_vm, &s, false);
	CHECK(!s.err);
	g_prefix = k.p;
	g_prefix_len = k.len;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	build_vm();
	save_prefixes();
	g_vm0 = g_vm;
	memcpy(g_vcpu0, g_vcpu, sizeof(g_vcpu));
	memcpy(g_fpu0, g_fpu, sizeof(g_fpu));
	g_rec = malloc(REC_BUF);
	return 0;
}

/* ---- one input --------------------------------------------------------------------------- */

/* check_promises: what state_load guarantees about a stream it accepted. */
static void check_promises(void)
{
	struct vm *vm = &g_vm;
	struct platform *p = &vm->plat;
	for (int i = 0; i < FUZZ_VCPUS; i++) {
		struct vcpu *v = &g_vcpu[i];
		CHECK(v->run_state >= 0 && v->run_state <= VCPU_HALTED);
		CHECK(v->sipi_vector <= 0xff);
		CHECK((v->lapic.timer_div & ~0xbu) == 0);
		if (g_arch_set[i]) {
			CHECK((g_arch[i].xcr0 & ~(uint64_t)HOST_XCR0) == 0 && (g_arch[i].xcr0 & 1));
			for (int s = 0; s < NR_SEGS; s++)
				CHECK((g_arch[i].seg[s].attr & ~0x1f0ffu) == 0);
		}
		uint64_t hdr[2];
		memcpy(hdr, g_fpu[i] + 512, sizeof(hdr));
		CHECK((hdr[0] & ~(uint64_t)HOST_XCR0) == 0 && hdr[1] == 0);
		uint32_t mxcsr;
		memcpy(&mxcsr, g_fpu[i] + 24, 4);
		CHECK(mxcsr <= 0xffff);
	}
	for (int c = 0; c < 3; c++)
		CHECK(p->pit.ch[c].mode <= 5 && p->pit.ch[c].rw <= 3);
	CHECK(p->pit.port61 <= 3);
	CHECK(p->uart.rx_head < VUART_FIFO && p->uart.rx_count <= VUART_FIFO);
	CHECK(p->pic.chip[0].init_step <= 4 && p->pic.chip[1].init_step <= 4);
	CHECK(p->rtc.index <= 0x7f);
	CHECK(p->ioapic.regsel <= 0xff);
	CHECK((p->pci.cf8 & ~0x80fffffcu) == 0);
	const struct vpci_dev *hb = &p->pci.host_bridge;
	for (int i = 0; i < VPCI_CFG_SIZE; i++)
		CHECK((hb->cfg[i] & ~hb->wmask[i]) == g_hb_ro[i]);
}

/* drive: run the loaded devices the way a guest and the timers would. */
static void drive(void)
{
	struct vm *vm = &g_vm;
	struct platform *p = &vm->plat;
	struct vcpu *v0 = &g_vcpu[0];
	uint32_t val;
	uint64_t v64;
	for (int i = 0; i < FUZZ_VCPUS; i++) {
		struct vlapic *a = &g_vcpu[i].lapic;
		for (uint64_t off = 0; off < 0x400; off += 0x10)
			vlapic_mmio(a, off, 4, false, &v64);
		vlapic_timer_check(a);
		int vec = vlapic_pending(a);
		if (vec >= 0)
			vlapic_ack(a, (uint8_t)vec);
		vlapic_mmio(a, 0xb0, 4, true, &(uint64_t){0}); /* EOI */
	}
	static const uint16_t pic_ports[] = {0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1};
	for (size_t i = 0; i < sizeof(pic_ports) / 2; i++)
		vpic_pio(&p->pic, v0, pic_ports[i], 1, false, &val);
	for (unsigned irq = 0; irq < 16; irq++) {
		vpic_set_irq(&p->pic, irq, true);
		if (vpic_has_interrupt(&p->pic))
			vpic_ack(&p->pic);
		vpic_set_irq(&p->pic, irq, false);
	}
	for (uint16_t port = 0x40; port <= 0x42; port++)
		vpit_pio(&p->pit, v0, port, 1, false, &val);
	vpit_pio(&p->pit, v0, 0x61, 1, false, &val);
	vpit_timer(&p->pit);
	vrtc_pio(&p->rtc, v0, 0x71, 1, false, &val); /* the loaded index */
	for (uint16_t port = 0x3f8; port <= 0x3ff; port++)
		vuart_pio(&p->uart, v0, port, 1, false, &val);
	vuart_receive(&p->uart, "xy", 2);
	vioapic_mmio(&p->ioapic, v0, GUEST_IOAPIC_BASE + 0x10, 4, false, &v64); /* loaded regsel */
	for (unsigned pin = 0; pin < 24; pin++) {
		vioapic_set_irq(&p->ioapic, pin, true);
		vioapic_set_irq(&p->ioapic, pin, false);
	}
	vioapic_eoi(&p->ioapic, 0x30);
	for (uint16_t port = 0xcfc; port <= 0xcff; port++)
		vpci_pio(&p->pci, v0, port, 1, false, &val); /* the loaded CF8 latch */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++, size--;
	size_t pre = mode & 1 ? g_prefix_len : mode & 2 ? g_vm_rec_len : 0;
	static const uint8_t end[REC_HDR_SIZE] = {0, 0, 1, 0, 0, 0, 0, 0}; /* END v1, no hash */
	size_t post = mode & 4 ? sizeof(end) : 0;
	uint8_t *in = malloc(pre + size + post + 1);
	memcpy(in, g_prefix, pre);
	memcpy(in + pre, data, size);
	memcpy(in + pre + size, end, post);
	/* a fresh VM */
	g_vm = g_vm0;
	memcpy(g_vcpu, g_vcpu0, sizeof(g_vcpu));
	memcpy(g_fpu, g_fpu0, sizeof(g_fpu));
	memset(g_arch_set, 0, sizeof(g_arch_set));
	struct source src = {in, pre + size + post, 0};
	struct stream_in s;
	stream_in_init(&s, source_read, &src, g_rec, REC_BUF, NULL);
	const char *err = NULL;
	int rc = state_load(&g_vm, &s, &err);
	if (getenv("FUZZ_STATE_VERBOSE")) /* for a seed: what the loader said */
		fprintf(stderr, "fuzz_state: %s\n", rc == 0 ? "loaded" : err);
	if (rc == 0) {
		CHECK(err == NULL || err[0]);
		check_promises();
		drive();
	} else {
		CHECK(err && err[0]); /* a refusal always says why */
	}
	free(in);
	return 0;
}
