/*
 * Saving a VM's complete state into the stream format (vmm/stream.h) and loading it back:
 * vCPU architectural state, FPU areas, LAPICs, every platform device, then guest RAM.
 * Devices are described by field tables (id -> member), so the same table drives save and
 * load and a record only contains what the table names. Every loaded value is range-checked
 * where a bad one could hurt Tern; values that only hurt the guest are the guest's business.
 */
#include "vmm/state.h"
#include "kernel/fpu.h"
#include "kernel/heap.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/x86.h"
#include "vmm/dev/vdevs.h"
#include "vmm/ramrec.h"
#include "vmm/stream.h"
#include "vmm/vm.h"

/* A scalar member (1, 2, 4 or 8 bytes) or a byte array of a device structure. */
struct fdesc {
	uint16_t id;
	uint16_t off;
	uint16_t size;
	uint8_t kind; /* FK_INT, FK_BYTES (raw array of exactly `size`), FK_BOOL */
};

enum { FK_INT, FK_BYTES, FK_BOOL };
#define F(id, type, m)                                                                             \
	{                                                                                          \
		id, offsetof(type, m), sizeof(((type *)0)->m), FK_INT                              \
	}
#define FB(id, type, m)                                                                            \
	{                                                                                          \
		id, offsetof(type, m), sizeof(((type *)0)->m), FK_BYTES                            \
	}
#define FL(id, type, m)                                                                            \
	{                                                                                          \
		id, offsetof(type, m), sizeof(((type *)0)->m), FK_BOOL                             \
	}
#define BITMAP_BYTES(n) ((((size_t)(n) + 63) / 64) * 8)

/* put_fields: every described member of obj as a field. */
static void put_fields(struct stream_out *s, const void *obj, const struct fdesc *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = (const uint8_t *)obj + d[i].off;
		if (d[i].kind == FK_BYTES) {
			stream_field(s, d[i].id, p, d[i].size);
		} else {
			uint64_t v = 0;
			memcpy(&v, p, d[i].size);
			stream_u64(s, d[i].id, v);
		}
	}
}

/* get_fields: fill described members from a record's fields; unknown ids are skipped. */
static bool get_fields(const uint8_t *rec, size_t len, void *obj, const struct fdesc *d, size_t n)
{
	struct field_iter it;
	uint16_t id, flen;
	const uint8_t *val;
	field_iter_init(&it, rec, len);
	while (field_next(&it, &id, &val, &flen)) {
		for (size_t i = 0; i < n; i++) {
			if (d[i].id != id)
				continue;
			uint8_t *p = (uint8_t *)obj + d[i].off;
			uint64_t v;
			if (d[i].kind == FK_BYTES) {
				if (flen != d[i].size)
					return false;
				memcpy(p, val, flen);
			} else if (d[i].kind == FK_BOOL) {
				if (!field_u64(val, flen, &v))
					return false;
				*(bool *)p = v != 0; /* never store a non-0/1 byte into a bool */
			} else {
				if (!field_u64(val, flen, &v))
					return false;
				memcpy(p, &v, d[i].size); /* little-endian: the low bytes */
			}
		}
	}
	return !it.bad;
}

/* ---- tables ---------------------------------------------------------------------------- */

#define VS struct vcpu_arch_state
static const struct fdesc vcpu_fields[] = {
    FB(1, VS, gpr),
    F(2, VS, rip),
    F(3, VS, rflags),
    F(4, VS, cr0),
    F(5, VS, cr2),
    F(6, VS, cr3),
    F(7, VS, cr4),
    F(8, VS, cr8),
    F(9, VS, efer),
    F(10, VS, dr6),
    F(11, VS, dr7),
    FB(12, VS, seg),
    F(13, VS, gdt.base),
    F(14, VS, gdt.limit),
    F(15, VS, idt.base),
    F(16, VS, idt.limit),
    F(17, VS, star),
    F(18, VS, lstar),
    F(19, VS, cstar),
    F(20, VS, sfmask),
    F(21, VS, kernel_gs_base),
    F(22, VS, sysenter_cs),
    F(23, VS, sysenter_esp),
    F(24, VS, sysenter_eip),
    F(25, VS, pat),
    F(26, VS, xcr0),
    F(27, VS, tsc),
    F(28, VS, interrupt_shadow),
    F(29, VS, nmi_masked),
    F(30, VS, pending_event_valid),
    F(31, VS, pending_event_vector),
    F(32, VS, pending_event_type),
    F(33, VS, pending_event_has_error),
    F(34, VS, pending_event_error),
};
#undef VS

/* Per-vCPU things outside the architectural state. */
struct vcpu_extra {
	uint64_t id, run_state, sipi_vector, sipi_pending;
	uint64_t pv_msr, pv_wall_msr;                     /* kvmclock MSRs (vmm/kvmclock.h) */
	uint64_t line_tsc, line_ns, line_mul, line_shift; /* the VM's clock line, in every vCPU */
};
static const struct fdesc vcpu_extra_fields[] = {
    F(100, struct vcpu_extra, id),          F(101, struct vcpu_extra, run_state),
    F(102, struct vcpu_extra, sipi_vector), F(103, struct vcpu_extra, sipi_pending),
    F(104, struct vcpu_extra, pv_msr),      F(105, struct vcpu_extra, pv_wall_msr),
    F(106, struct vcpu_extra, line_tsc),    F(107, struct vcpu_extra, line_ns),
    F(108, struct vcpu_extra, line_mul),    F(109, struct vcpu_extra, line_shift),
};

#define LA struct vlapic
static const struct fdesc lapic_fields[] = {
    F(1, LA, id),
    FB(2, LA, irr),
    FB(3, LA, isr),
    FB(4, LA, tmr),
    F(5, LA, tpr),
    F(6, LA, ldr),
    F(7, LA, dfr),
    F(8, LA, svr),
    F(9, LA, esr),
    FB(10, LA, lvt),
    F(11, LA, icr_lo),
    F(12, LA, icr_hi),
    F(13, LA, timer_init),
    F(14, LA, timer_div),
    F(15, LA, tsc_deadline),
    F(16, LA, apic_base_msr),
    FL(17, LA, nmi_pending),
    FL(18, LA, init_pending),
};
#undef LA

/* Timer positions are saved relative to "now", so they survive moving to another host. */
struct lapic_timing {
	uint64_t vcpu, elapsed_ns, remaining_ns, armed;
};
static const struct fdesc lapic_timing_fields[] = {
    F(100, struct lapic_timing, vcpu),
    F(101, struct lapic_timing, elapsed_ns),
    F(102, struct lapic_timing, remaining_ns),
    F(103, struct lapic_timing, armed),
};

static const struct fdesc ioapic_fields[] = {
    F(1, struct vioapic, id),
    F(2, struct vioapic, regsel),
    FB(3, struct vioapic, redir),
    F(4, struct vioapic, level),
};

static const struct fdesc pic_fields[] = {
    FB(1, struct vpic, chip),
    FL(2, struct vpic, output),
};

#define PC struct pit_channel
static const struct fdesc pit_channel_fields[] = {
    F(2, PC, reload),
    F(3, PC, mode),
    F(4, PC, rw),
    FL(5, PC, bcd),
    FL(6, PC, gate),
    FL(7, PC, write_hi_next),
    FL(8, PC, read_hi_next),
    F(9, PC, latch),
    FL(10, PC, latched),
    F(11, PC, status),
    FL(12, PC, status_latched),
    FL(13, PC, armed),
    F(14, PC, write_lsb),
};
#undef PC

static const struct fdesc rtc_fields[] = {
    F(1, struct vrtc, index),
    FB(2, struct vrtc, ram),
    F(3, struct vrtc, offset),
};

#define UA struct vuart
static const struct fdesc uart_fields[] = {
    F(1, UA, ier),         F(2, UA, lcr),      F(3, UA, mcr),       F(4, UA, lsr),
    F(5, UA, msr),         F(6, UA, scr),      F(7, UA, fcr),       F(8, UA, divisor),
    FB(9, UA, rx),         F(10, UA, rx_head), F(11, UA, rx_count), FL(12, UA, thre_pending),
    FL(13, UA, irq_level),
};
#undef UA

static const struct fdesc pm_fields[] = {
    F(1, struct acpi_pm, pm1_sts),
    F(2, struct acpi_pm, pm1_en),
    F(3, struct acpi_pm, pm1_cnt),
};

/* ---- save ------------------------------------------------------------------------------- */

/* save_record: one state record holding the described members of obj. */
static void save_record(struct stream_out *s, uint16_t type, const void *obj, const struct fdesc *d,
                        size_t n)
{
	stream_begin(s, type, 1);
	put_fields(s, obj, d, n);
	stream_end_record(s);
}

/* save_vcpu: architectural state, run state, LAPIC with its timer, FPU area. */
static void save_vcpu(struct stream_out *s, struct vcpu *v, uint64_t now)
{
	struct vcpu_arch_state st;
	vmm->get_state(v, &st);
	st.tsc = now + v->tsc_offset;
	struct vm *vm = v->vm;
	struct vcpu_extra x = {(uint64_t)v->id,  (uint64_t)v->run_state,
	                       v->sipi_vector,   v->sipi_pending,
	                       v->pv_msr,        v->pv_wall_msr,
	                       vm->pv_line.tsc,  vm->pv_line.ns,
	                       vm->pv_scale.mul, (uint64_t)(int64_t)vm->pv_scale.shift};
	stream_begin(s, REC_VCPU, 1);
	put_fields(s, &x, vcpu_extra_fields, ARRAY_SIZE(vcpu_extra_fields));
	put_fields(s, &st, vcpu_fields, ARRAY_SIZE(vcpu_fields));
	stream_end_record(s);

	struct vlapic *a = &v->lapic;
	struct lapic_timing t = {(uint64_t)v->id, tsc_to_ns(now - a->timer_start), 0,
	                         a->timer_deadline != 0};
	if (a->timer_deadline > now)
		t.remaining_ns = tsc_to_ns(a->timer_deadline - now);
	stream_begin(s, REC_LAPIC, 1);
	put_fields(s, &t, lapic_timing_fields, ARRAY_SIZE(lapic_timing_fields));
	put_fields(s, a, lapic_fields, ARRAY_SIZE(lapic_fields));
	stream_end_record(s);

	uint64_t id = (uint64_t)v->id;
	stream_raw_record(s, REC_FPU, 1, &id, 8, v->fpu, fpu_area_size());
}

/* save_devices: the platform, channel by channel for the PIT. */
static void save_devices(struct stream_out *s, struct vm *vm, uint64_t now)
{
	struct platform *p = &vm->plat;
	save_record(s, REC_IOAPIC, &p->ioapic, ioapic_fields, ARRAY_SIZE(ioapic_fields));
	save_record(s, REC_PIC, &p->pic, pic_fields, ARRAY_SIZE(pic_fields));
	for (int i = 0; i < 3; i++) {
		struct pit_channel *c = &p->pit.ch[i];
		stream_begin(s, REC_PIT, 1);
		stream_u64(s, 1, (uint64_t)i);
		stream_u64(s, 15, tsc_to_ns(now - c->load_tsc));
		stream_u64(s, 16, p->pit.port61);
		put_fields(s, c, pit_channel_fields, ARRAY_SIZE(pit_channel_fields));
		stream_end_record(s);
	}
	save_record(s, REC_RTC, &p->rtc, rtc_fields, ARRAY_SIZE(rtc_fields));
	save_record(s, REC_UART, &p->uart, uart_fields, ARRAY_SIZE(uart_fields));
	save_record(s, REC_ACPI_PM, &p->pm, pm_fields, ARRAY_SIZE(pm_fields));
	stream_begin(s, REC_PCI, 1);
	stream_u64(s, 1, p->pci.cf8);
	stream_field(s, 2, p->pci.host_bridge.cfg, VPCI_CFG_SIZE);
	stream_end_record(s);
}

/* page_ptrs: the host addresses of guest pages [first, first + count); false past RAM. */
static bool page_ptrs(struct vm *vm, uint64_t first, uint32_t count, const uint8_t **out)
{
	for (uint32_t i = 0; i < count; i++) {
		uint64_t gpa;
		if (!gmem_index_to_gpa(&vm->mem, first + i, &gpa))
			return false;
		out[i] = gmem_hva(&vm->mem, gpa, 4096);
	}
	return true;
}

/* save_ram_v1: pages [first, first+count) as one version-1 record (vmm/ramrec.h): zero pages
 * only marked in the bitmap, the others streamed straight from guest memory. */
static int save_ram_v1(struct stream_out *s, struct vm *vm, uint64_t first, uint32_t count)
{
	struct {
		uint64_t first;
		uint32_t count, reserved;
		uint64_t zero[RAMREC_MAX_PAGES / 64];
	} h;
	const uint8_t *pages[RAMREC_MAX_PAGES];
	if (!page_ptrs(vm, first, count, pages))
		return -1;
	memset(&h, 0, sizeof(h));
	h.first = first;
	h.count = count;
	size_t data = 0;
	for (uint32_t i = 0; i < count; i++) {
		if (mem_is_zero(pages[i], 4096))
			h.zero[i / 64] |= 1ULL << (i % 64);
		else
			data += 4096;
	}
	size_t hl = RAMREC_HDR + BITMAP_BYTES(count);
	stream_raw_header(s, REC_RAM, RAMREC_V1, hl + data);
	stream_bytes(s, &h, hl);
	for (uint32_t i = 0; i < count; i++)
		if (!((h.zero[i / 64] >> (i % 64)) & 1))
			stream_bytes(s, pages[i], 4096);
	return s->err;
}

/* state_save_ram_run: version 2 through the encoder, or version 1 without one. */
int state_save_ram_run(struct stream_out *s, struct vm *vm, uint64_t first, uint32_t count,
                       struct ram_enc *enc)
{
	if (count == 0 || count > STATE_RAM_RUN)
		return -1;
	if (!enc)
		return save_ram_v1(s, vm, first, count);
	if (!page_ptrs(vm, first, count, enc->src))
		return -1;
	return ramrec_write(s, enc, first, count);
}

void state_save_begin(struct vm *vm, struct stream_out *s)
{
	stream_header(s);
	stream_begin(s, REC_VM, 1);
	stream_u64(s, 1, vm->cfg.mem_bytes);
	stream_u64(s, 2, (uint64_t)vm->nvcpus);
	stream_field(s, 3, vm->cfg.name, (uint16_t)strlen(vm->cfg.name));
	stream_end_record(s);
}

void state_save_machine(struct vm *vm, struct stream_out *s)
{
	state_save_machine_ex(vm, s, true);
}

void state_save_machine_ex(struct vm *vm, struct stream_out *s, bool disks)
{
	uint64_t now = rdtsc();
	for (int i = 0; i < vm->nvcpus; i++)
		save_vcpu(s, vm->vcpu[i], now);
	save_devices(s, vm, now);
	vdevs_save_devices(vm, s); /* virtio transports (REC_DEVICE) */
	if (disks)
		vdevs_save_disks(vm, s); /* and disk contents */
}

int state_save(struct vm *vm, struct stream_out *s, struct ram_enc *enc)
{
	state_save_begin(vm, s);
	state_save_machine(vm, s);
	for (uint64_t p = 0; p < vm->mem.npages && !s->err; p += STATE_RAM_RUN)
		state_save_ram_run(s, vm, p,
		                   (uint32_t)MIN((uint64_t)STATE_RAM_RUN, vm->mem.npages - p), enc);
	return s->err;
}

/* ---- load -------------------------------------------------------------------------------- */

/* vcpu_by_id: the vCPU a record names (validated). */
static struct vcpu *vcpu_by_id(struct vm *vm, uint64_t id)
{
	return id < (uint64_t)vm->nvcpus ? vm->vcpu[id] : NULL;
}

/* load_vcpu: the architectural state goes to the backend; TSC sets the offset. */
static const char *load_vcpu(struct vm *vm, const uint8_t *rec, uint32_t len)
{
	struct vcpu_arch_state st;
	struct vcpu_extra x = {~0ULL, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	memset(&st, 0, sizeof(st));
	if (!get_fields(rec, len, &x, vcpu_extra_fields, ARRAY_SIZE(vcpu_extra_fields)) ||
	    !get_fields(rec, len, &st, vcpu_fields, ARRAY_SIZE(vcpu_fields)))
		return "malformed vCPU record";
	struct vcpu *v = vcpu_by_id(vm, x.id);
	if (!v || x.run_state > VCPU_HALTED)
		return "vCPU record for a vCPU this VM does not have";
	if ((st.xcr0 & ~fpu_xcr0()) || !(st.xcr0 & 1))
		return "vCPU XCR0 not supported on this host";
	int64_t shift = (int64_t)x.line_shift;
	if (x.line_mul > 0xffffffffULL || shift < -31 || shift > 31)
		return "malformed vCPU record (clock line)";
	for (int i = 0; i < NR_SEGS; i++)
		st.seg[i].attr &= 0x1f0ff; /* only architectural attribute bits */
	vmm->set_state(v, &st);
	v->tsc_offset = st.tsc - rdtsc();
	v->run_state = (int)x.run_state;
	v->sipi_vector = (uint32_t)x.sipi_vector & 0xff;
	v->sipi_pending = x.sipi_pending != 0;
	v->pv_msr = x.pv_msr;
	v->pv_wall_msr = x.pv_wall_msr;
	if (x.line_mul) { /* absent in streams from before kvmclock: the fresh-boot line stays */
		vm->pv_line = (struct pvclock_point){x.line_tsc, x.line_ns};
		vm->pv_scale = (struct pvclock_scale){(uint32_t)x.line_mul, (int8_t)shift};
	}
	return NULL;
}

/* load_lapic: registers, then the timer re-based on this host's TSC. */
static const char *load_lapic(struct vm *vm, const uint8_t *rec, uint32_t len)
{
	struct lapic_timing t = {~0ULL, 0, 0, 0};
	if (!get_fields(rec, len, &t, lapic_timing_fields, ARRAY_SIZE(lapic_timing_fields)))
		return "malformed LAPIC record";
	struct vcpu *v = vcpu_by_id(vm, t.vcpu);
	if (!v)
		return "LAPIC record for a vCPU this VM does not have";
	struct vlapic *a = &v->lapic;
	if (!get_fields(rec, len, a, lapic_fields, ARRAY_SIZE(lapic_fields)))
		return "malformed LAPIC record";
	uint64_t now = rdtsc();
	a->timer_div &= 0xb;
	a->timer_start = now - ns_to_tsc(MIN(t.elapsed_ns, 1ULL << 50));
	a->timer_deadline = 0;
	if (t.armed) {
		if (((a->lvt[1] >> 17) & 3) == 2)
			a->timer_deadline =
			    a->tsc_deadline ? MAX(a->tsc_deadline - v->tsc_offset, 1) : 0;
		else
			a->timer_deadline = now + ns_to_tsc(MIN(t.remaining_ns, 1ULL << 50));
	}
	v->guest_deadline = a->timer_deadline;
	return NULL;
}

static const char *load_fpu(struct vm *vm, const uint8_t *rec, uint32_t len)
{
	uint64_t id;
	if (len != 8 + fpu_area_size())
		return "FPU state of a different size (other CPU model?)";
	memcpy(&id, rec, 8);
	struct vcpu *v = vcpu_by_id(vm, id);
	if (!v)
		return "FPU record for a vCPU this VM does not have";
	memcpy(v->fpu, rec + 8, fpu_area_size());
	/* XSAVE header checks that XRSTOR would #GP on: reserved bytes, XCOMP_BV */
	uint64_t *hdr = (uint64_t *)((uint8_t *)v->fpu + 512);
	if ((hdr[0] & ~fpu_xcr0()) || hdr[1])
		return "FPU state with features this host does not enable";
	*(uint32_t *)((uint8_t *)v->fpu + 28) = 0xffff;      /* MXCSR_MASK is ignored by FXRSTOR */
	((uint32_t *)((uint8_t *)v->fpu + 24))[0] &= 0xffff; /* MXCSR reserved bits must be 0 */
	return NULL;
}

static const char *load_pit(struct vm *vm, const uint8_t *rec, uint32_t len)
{
	struct field_iter it;
	uint16_t id, fl;
	const uint8_t *val;
	uint64_t ch = 3, elapsed = 0, port61 = 0;
	field_iter_init(&it, rec, len);
	while (field_next(&it, &id, &val, &fl)) {
		if (id == 1 && !field_u64(val, fl, &ch))
			return "malformed PIT record";
		if (id == 15 && !field_u64(val, fl, &elapsed))
			return "malformed PIT record";
		if (id == 16 && !field_u64(val, fl, &port61))
			return "malformed PIT record";
	}
	if (it.bad || ch > 2)
		return "malformed PIT record";
	struct pit_channel *c = &vm->plat.pit.ch[ch];
	if (!get_fields(rec, len, c, pit_channel_fields, ARRAY_SIZE(pit_channel_fields)))
		return "malformed PIT record";
	if (c->mode > 5 || c->rw > 3)
		return "bad PIT channel state";
	c->load_tsc = rdtsc() - ns_to_tsc(MIN(elapsed, 1ULL << 50));
	c->next_irq = 0;
	vm->plat.pit.port61 = (uint8_t)port61 & 3;
	if (ch == 0 && c->armed)
		c->next_irq = rdtsc(); /* recomputed at the next timer poll */
	return NULL;
}

/* ram_page: guest page n for ramrec_load, marked dirty (it is about to be written). */
static uint8_t *ram_page(void *ctx, uint64_t n)
{
	struct vm *vm = ctx;
	uint64_t gpa;
	if (!gmem_index_to_gpa(&vm->mem, n, &gpa))
		return NULL;
	gmem_mark_dirty(&vm->mem, gpa, 4096);
	return gmem_hva(&vm->mem, gpa, 4096);
}

/* load_pci: the host bridge's writable config bytes and the CF8 latch. */
static const char *load_pci(struct vm *vm, const uint8_t *rec, uint32_t len)
{
	struct field_iter it;
	uint16_t id, fl;
	const uint8_t *val;
	uint64_t cf8;
	struct vpci_dev *hb = &vm->plat.pci.host_bridge;
	field_iter_init(&it, rec, len);
	while (field_next(&it, &id, &val, &fl)) {
		if (id == 1 && field_u64(val, fl, &cf8))
			vm->plat.pci.cf8 = (uint32_t)cf8 & 0x80fffffc;
		else if (id == 2 && fl == VPCI_CFG_SIZE)
			for (int i = 0; i < VPCI_CFG_SIZE; i++)
				hb->cfg[i] = (uint8_t)((hb->cfg[i] & ~hb->wmask[i]) |
				                       (val[i] & hb->wmask[i]));
	}
	return it.bad ? "malformed PCI record" : NULL;
}

/* load_device: the fixed-table devices. */
static const char *load_device(struct vm *vm, uint16_t type, const uint8_t *rec, uint32_t len)
{
	struct platform *p = &vm->plat;
	bool ok = true;
	switch (type) {
	case REC_IOAPIC:
		ok = get_fields(rec, len, &p->ioapic, ioapic_fields, ARRAY_SIZE(ioapic_fields));
		p->ioapic.regsel &= 0xff;
		break;
	case REC_PIC:
		ok = get_fields(rec, len, &p->pic, pic_fields, ARRAY_SIZE(pic_fields));
		for (int i = 0; i < 2; i++)
			if (p->pic.chip[i].init_step > 4)
				ok = false;
		break;
	case REC_RTC:
		ok = get_fields(rec, len, &p->rtc, rtc_fields, ARRAY_SIZE(rtc_fields));
		p->rtc.index &= 0x7f;
		break;
	case REC_UART:
		ok = get_fields(rec, len, &p->uart, uart_fields, ARRAY_SIZE(uart_fields));
		if (p->uart.rx_head >= VUART_FIFO || p->uart.rx_count > VUART_FIFO)
			ok = false;
		break;
	case REC_ACPI_PM:
		ok = get_fields(rec, len, &p->pm, pm_fields, ARRAY_SIZE(pm_fields));
		break;
	default:
		return "unexpected record";
	}
	return ok ? NULL : "malformed device record";
}

/* state_load_record: apply one record (not VM/END, handled by the caller). */
const char *state_load_record(struct vm *vm, uint16_t type, uint16_t version, const uint8_t *rec,
                              uint32_t len)
{
	if (type == REC_RAM) /* versions 1 and 2 */
		return ramrec_load(version, rec, len, vm->mem.npages, ram_page, vm);
	if (version != 1)
		return "unsupported record version";
	switch (type) {
	case REC_VCPU:
		return load_vcpu(vm, rec, len);
	case REC_LAPIC:
		return load_lapic(vm, rec, len);
	case REC_FPU:
		return load_fpu(vm, rec, len);
	case REC_PIT:
		return load_pit(vm, rec, len);
	case REC_PCI:
		return load_pci(vm, rec, len);
	case REC_DEVICE:
		return vdevs_load(vm, rec, len);
	default:
		return load_device(vm, type, rec, len);
	}
}

/* state_check_vm: the stream's VM record must match this VM's shape. */
const char *state_check_vm(struct vm *vm, const uint8_t *rec, uint32_t len)
{
	struct field_iter it;
	uint16_t id, fl;
	const uint8_t *val;
	uint64_t mem = 0, n = 0, v;
	field_iter_init(&it, rec, len);
	while (field_next(&it, &id, &val, &fl)) {
		if (id == 1 && field_u64(val, fl, &v))
			mem = v;
		if (id == 2 && field_u64(val, fl, &v))
			n = v;
	}
	if (it.bad)
		return "malformed VM record";
	if (mem != vm->cfg.mem_bytes)
		return "memory size differs from the saved VM";
	if (n != (uint64_t)vm->cfg.vcpus)
		return "vCPU count differs from the saved VM";
	return NULL;
}

int state_load(struct vm *vm, struct stream_in *in, const char **err)
{
	uint16_t type, version;
	uint32_t len;
	bool seen_vm = false;
	if (!stream_read_header(in)) {
		*err = in->error;
		return -1;
	}
	for (;;) {
		if (!stream_next(in, &type, &version, &len)) {
			*err = in->error;
			return -1;
		}
		if (type == REC_END)
			break;
		const char *e;
		if (type == REC_VM)
			e = state_check_vm(vm, in->rec, len), seen_vm = true;
		else if (!seen_vm)
			e = "state stream does not start with a VM record";
		else
			e = state_load_record(vm, type, version, in->rec, len);
		if (e) {
			*err = e;
			return -1;
		}
	}
	if (!seen_vm) {
		*err = "empty state stream";
		return -1;
	}
	return 0;
}
