/*
 * Instruction emulation glue: fetch the guest's instruction through its own page tables,
 * decode it (vmm/x86_decode.c), and emulate MMIO accesses (vmm/x86_emulate.c) against Tern's
 * device models, routing every linear access to guest RAM or to a device.
 */
#include "vmm/emulate.h"
#include "kernel/fmt.h"
#include "kernel/log.h"
#include "kernel/string.h"
#include "kernel/x86.h"
#include "vmm/vm.h"
#include "vmm/x86_emulate.h"
#include "vmm/x86_walk.h"

struct emu_ctx {
	struct vcpu *v;
	unsigned user; /* X86_ACC_USER when the guest runs at CPL 3 */
	struct x86_walk_ctx walk;
	int fault_vector; /* exception to inject after X86_ERR_FAULT, -1 none */
	uint32_t fault_error;
	bool fault_has_error;
	uint64_t fault_cr2;
	bool unmapped; /* an access hit neither RAM nor a device */
	uint64_t unmapped_gpa;
};

/* read_gpa: page-table reads for the walker: guest RAM only. */
static int read_gpa(void *ctx, uint64_t gpa, void *buf, unsigned size)
{
	struct emu_ctx *c = ctx;
	return gmem_read(&c->v->vm->mem, gpa, buf, size) ? X86_OK : X86_ERR_FAULT;
}

/* walk_setup: the walker context from the vCPU's control registers. */
static void walk_setup(struct emu_ctx *c, struct vcpu *v)
{
	memset(c, 0, sizeof(*c));
	c->v = v;
	c->fault_vector = -1;
	c->walk.cr0 = vmm->get_cr(v, 0);
	c->walk.cr3 = vmm->get_cr(v, 3);
	c->walk.cr4 = vmm->get_cr(v, 4);
	c->walk.efer = vmm->get_efer(v);
	c->walk.rflags = vmm->get_rflags(v);
	c->walk.read_gpa = read_gpa;
	c->walk.ctx = c;
	struct seg ss;
	vmm->get_seg(v, S_SS, &ss);
	if ((c->walk.cr0 & CR0_PE) && ((ss.attr >> 5) & 3) == 3)
		c->user = X86_ACC_USER;
}

/* cpu_mode: the decoder mode from CR0.PE, EFER.LMA, RFLAGS.VM and CS.L/D. */
static enum x86_mode cpu_mode(struct vcpu *v)
{
	struct seg cs;
	vmm->get_seg(v, S_CS, &cs);
	if (!(vmm->get_cr(v, 0) & CR0_PE) || (vmm->get_rflags(v) & (1ULL << 17)))
		return X86_MODE_REAL;
	if ((vmm->get_efer(v) & EFER_LMA) && (cs.attr & SEG_ATTR_L))
		return X86_MODE_LONG64;
	return (cs.attr & SEG_ATTR_DB) ? X86_MODE_PROT32 : X86_MODE_PROT16;
}

/* translate: linear -> guest-physical; records a #PF to inject on failure. */
static int translate(struct emu_ctx *c, uint64_t la, unsigned acc, uint64_t *gpa)
{
	uint32_t pfe = 0;
	int rc = x86_walk(&c->walk, la, acc | c->user, gpa, &pfe);
	if (rc == X86_ERR_PAGE_FAULT) {
		c->fault_vector = EXC_PF;
		c->fault_error = pfe;
		c->fault_has_error = true;
		c->fault_cr2 = la;
		return X86_ERR_FAULT;
	}
	if (rc == X86_ERR_NONCANONICAL) {
		c->fault_vector = EXC_GP;
		c->fault_error = 0;
		c->fault_has_error = true;
		return X86_ERR_FAULT;
	}
	return rc;
}

/* access: one data access of size bytes at linear la: RAM or MMIO, page by page. */
static int access(struct emu_ctx *c, uint64_t la, void *buf, unsigned size, bool write)
{
	struct vm *vm = c->v->vm;
	unsigned done = 0;
	while (done < size) {
		uint64_t gpa;
		unsigned chunk = MIN(size - done, (unsigned)(4096 - ((la + done) & 4095)));
		int rc = translate(c, la + done, write ? X86_ACC_WRITE : X86_ACC_READ, &gpa);
		if (rc != X86_OK)
			return rc;
		uint8_t *p = (uint8_t *)buf + done;
		if (gmem_is_ram(&vm->mem, gpa, chunk)) {
			bool ok = write ? gmem_write(&vm->mem, gpa, p, chunk)
			                : gmem_read(&vm->mem, gpa, p, chunk);
			if (!ok)
				return X86_ERR_FAULT;
		} else {
			uint64_t val = 0;
			if (write)
				memcpy(&val, p, chunk);
			if (!vm_mmio(vm, c->v, gpa, chunk, write, &val)) {
				c->unmapped = true;
				c->unmapped_gpa = gpa;
				if (!write)
					val =
					    ~0ULL; /* unassigned: reads float high, writes vanish */
			}
			if (!write)
				memcpy(p, &val, chunk);
		}
		done += chunk;
	}
	return X86_OK;
}

static int emu_read(void *ctx, enum x86_seg seg, uint64_t la, void *buf, unsigned size)
{
	(void)seg;
	return access(ctx, la, buf, size, false);
}

static int emu_write(void *ctx, enum x86_seg seg, uint64_t la, const void *buf, unsigned size)
{
	(void)seg;
	return access(ctx, la, (void *)buf, size, true);
}

/* cs_linear: linear address of CS:RIP. */
static uint64_t cs_linear(struct vcpu *v, enum x86_mode mode)
{
	struct seg cs;
	vmm->get_seg(v, S_CS, &cs);
	uint64_t rip = vmm->get_rip(v);
	if (mode == X86_MODE_LONG64)
		return rip;
	return (uint32_t)(cs.base + (uint32_t)rip);
}

/* fetch_decode: read up to 15 bytes at CS:RIP (stopping at unmapped pages) and decode. */
static int fetch_decode(struct emu_ctx *c, struct x86_insn *in, enum x86_mode *mode)
{
	uint8_t buf[X86_MAX_INSN_LEN];
	*mode = cpu_mode(c->v);
	uint64_t la = cs_linear(c->v, *mode);
	unsigned got = 0;
	while (got < sizeof(buf)) {
		uint64_t gpa;
		unsigned chunk =
		    MIN((unsigned)sizeof(buf) - got, (unsigned)(4096 - ((la + got) & 4095)));
		int rc = translate(c, la + got, X86_ACC_FETCH, &gpa);
		if (rc != X86_OK || !gmem_read(&c->v->vm->mem, gpa, buf + got, chunk))
			break;
		got += chunk;
	}
	if (got == 0)
		return c->fault_vector >= 0 ? X86_ERR_FAULT : X86_ERR_TRUNCATED;
	return x86_decode(buf, got, *mode, in);
}

/* deliver_fault: inject what a callback or the walker recorded. */
static void deliver_fault(struct emu_ctx *c)
{
	if (c->fault_vector < 0)
		return;
	if (c->fault_vector == EXC_PF)
		vmm->set_cr2(c->v, c->fault_cr2);
	vmm->inject_exception(c->v, (uint8_t)c->fault_vector, c->fault_has_error, c->fault_error);
}

int vcpu_insn_len(struct vcpu *v, unsigned *len)
{
	struct emu_ctx c;
	struct x86_insn in;
	enum x86_mode mode;
	walk_setup(&c, v);
	int rc = fetch_decode(&c, &in, &mode);
	if (rc == X86_OK) {
		*len = in.len;
		return 0;
	}
	deliver_fault(&c);
	return -1;
}

int vcpu_string_operand(struct vcpu *v, unsigned *addr_size, unsigned *seg)
{
	struct emu_ctx c;
	struct x86_insn in;
	enum x86_mode mode;
	walk_setup(&c, v);
	int rc = fetch_decode(&c, &in, &mode);
	if (rc == X86_ERR_FAULT) {
		deliver_fault(&c);
		return -1;
	}
	if (rc != X86_OK) { /* undecodable: the mode's defaults */
		*addr_size = mode == X86_MODE_LONG64 ? 8 : mode == X86_MODE_PROT32 ? 4 : 2;
		*seg = X86_SEG_DS;
		return 0;
	}
	*addr_size = in.addrsize;
	*seg = in.seg_prefix != X86_SEG_NONE ? in.seg_prefix : X86_SEG_DS;
	return 0;
}

/* regs_in / regs_out: vCPU registers to and from the emulator's view. */
static void regs_in(struct vcpu *v, struct x86_regs *r)
{
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < NR_GPRS; i++)
		r->gpr[i] = vmm->get_reg(v, i);
	r->rip = vmm->get_rip(v);
	r->rflags = vmm->get_rflags(v);
	for (int s = 0; s < X86_NR_SEGS; s++) {
		struct seg sg;
		vmm->get_seg(v, s, &sg);
		r->seg_base[s] = sg.base;
	}
	r->la57 = (vmm->get_cr(v, 4) >> 12) & 1;
}

static void regs_out(struct vcpu *v, const struct x86_regs *r, const struct x86_regs *old)
{
	for (int i = 0; i < NR_GPRS; i++)
		if (r->gpr[i] != old->gpr[i])
			vmm->set_reg(v, i, r->gpr[i]);
	vmm->set_rip(v, r->rip);
	vmm->set_rflags(v, r->rflags);
}

int vcpu_emulate_mmio(struct vcpu *v, uint64_t gpa, char *why, size_t why_len)
{
	struct emu_ctx c;
	struct x86_insn in;
	enum x86_mode mode;
	walk_setup(&c, v);
	int rc = fetch_decode(&c, &in, &mode);
	if (rc != X86_OK) {
		if (rc == X86_ERR_FAULT) {
			deliver_fault(&c);
			return 0; /* the guest sees the fault of its own fetch */
		}
		fmt_snprintf(why, why_len, "cannot decode the instruction at rip %#llx (%s)",
		             (unsigned long long)vmm->get_rip(v), x86_status_name(rc));
		return -1;
	}
	struct x86_regs regs, old;
	regs_in(v, &regs);
	old = regs;
	static const struct x86_emu_ops ops = {emu_read, emu_write, 256};
	rc = x86_emulate(&in, &regs, &ops, &c);
	switch (rc) {
	case X86_OK:
	case X86_PARTIAL:
		regs_out(v, &regs, &old);
		return 0;
	case X86_ERR_FAULT:
		regs_out(v, &regs, &old);
		deliver_fault(&c);
		return 0;
	case X86_ERR_NONCANONICAL:
		vcpu_inject_gp(v);
		return 0;
	case X86_ERR_RETRY:
		return 0;
	default:
		fmt_snprintf(why, why_len,
		             "cannot emulate the access to %#llx by the instruction at rip %#llx "
		             "(opcode %02x, %s)",
		             (unsigned long long)gpa, (unsigned long long)regs.rip, in.opcode,
		             x86_status_name(rc));
		return -1;
	}
}

int vcpu_translate(struct vcpu *v, uint64_t la, bool write, uint64_t *gpa)
{
	struct emu_ctx c;
	walk_setup(&c, v);
	if (translate(&c, la, write ? X86_ACC_WRITE : X86_ACC_READ, gpa) == X86_OK)
		return 0;
	deliver_fault(&c);
	return -1;
}
