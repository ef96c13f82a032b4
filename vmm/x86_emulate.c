/*
 * x86 MMIO instruction emulator: operands, arithmetic flags, string loops. See x86_emulate.h
 * for the contract and docs/x86-emulation.md for the list of instructions. Flag definitions
 * follow the "Flags Affected" section of each instruction in SDM vol. 2; flags the SDM calls
 * undefined are left unchanged except AF after logical operations (cleared, as CPUs do).
 */
#include "vmm/x86_emulate.h"
#include "kernel/panic.h"
#include "kernel/string.h"

/* ALU operations, numbered as the /digit of group 1 (80-83) and opcode bits 5:3 of 00-3F. */
enum alu_op { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP };

/* String instruction kinds. */
enum str_op { STR_MOVS, STR_CMPS, STR_STOS, STR_LODS, STR_SCAS };

struct emu {
	const struct x86_insn *in;
	struct x86_regs *r;
	const struct x86_emu_ops *ops;
	void *ctx;
};

/* An operand: a general-purpose register or a memory location. */
struct opnd {
	bool mem;
	uint8_t reg; /* register number when !mem */
	uint8_t seg; /* enum x86_seg when mem */
	uint64_t ea; /* effective address (already truncated to the address size) when mem */
};

/* size_mask: all-ones in the low size bytes. */
static uint64_t size_mask(unsigned size)
{
	return size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
}

/* sext: sign-extend the low size bytes of v to 64 bits. */
static uint64_t sext(uint64_t v, unsigned size)
{
	if (size >= 8)
		return v;
	uint64_t sign = 1ULL << (8 * size - 1);
	return ((v & size_mask(size)) ^ sign) - sign;
}

/* reg_get: register reg read at size bytes; byte registers 4-7 are AH, CH, DH, BH unless the
 * instruction has a REX prefix (SDM vol. 1 3.4.1.1). */
static uint64_t reg_get(const struct emu *e, unsigned reg, unsigned size)
{
	reg &= 15;
	if (size == 1 && !e->in->rex && reg >= 4 && reg < 8)
		return (e->r->gpr[reg - 4] >> 8) & 0xff;
	return e->r->gpr[reg] & size_mask(size);
}

/* reg_set: write size bytes of register reg: 8- and 16-bit writes merge, 32-bit writes
 * zero-extend to 64 bits (SDM vol. 1 3.4.1.1). */
static void reg_set(const struct emu *e, unsigned reg, unsigned size, uint64_t v)
{
	reg &= 15;
	uint64_t *g = &e->r->gpr[reg];
	if (size == 1 && !e->in->rex && reg >= 4 && reg < 8) {
		g = &e->r->gpr[reg - 4];
		*g = (*g & ~0xff00ULL) | ((v & 0xff) << 8);
	} else if (size < 4) {
		*g = (*g & ~size_mask(size)) | (v & size_mask(size));
	} else {
		*g = v & size_mask(size);
	}
}

/* addr_reg_set: update rSI/rDI/rCX as a register of the address size. */
static void addr_reg_set(const struct emu *e, unsigned reg, uint64_t v)
{
	reg_set(e, reg, e->in->addrsize, v);
}

/* canonical: bits 63..47 (63..56 with LA57) of a are copies of bit 47 (56). */
static bool canonical(uint64_t a, bool la57)
{
	uint64_t top = a >> (la57 ? 56 : 47);
	return top == 0 || top == (~0ULL >> (la57 ? 56 : 47));
}

/* linear: linear address of size bytes at ea through seg (see x86_emulate.h). */
static int linear(const struct emu *e, unsigned seg, uint64_t ea, unsigned size, uint64_t *lin)
{
	if (seg >= X86_NR_SEGS)
		seg = X86_SEG_DS;
	if (e->in->mode == X86_MODE_LONG64) {
		uint64_t a = ea;
		if (seg == X86_SEG_FS || seg == X86_SEG_GS)
			a += e->r->seg_base[seg];
		if (!canonical(a, e->r->la57) || !canonical(a + size - 1, e->r->la57))
			return X86_ERR_NONCANONICAL;
		*lin = a;
	} else {
		*lin = (e->r->seg_base[seg] + ea) & 0xffffffffULL;
	}
	return X86_OK;
}

/* mem_read: size bytes at seg:ea through the read callback. */
static int mem_read(const struct emu *e, unsigned seg, uint64_t ea, unsigned size, uint64_t *v)
{
	uint8_t b[8] = {0};
	uint64_t lin, x = 0;
	int rc = linear(e, seg, ea, size, &lin);
	if (rc)
		return rc;
	rc = e->ops->read(e->ctx, (enum x86_seg)seg, lin, b, size);
	ASSERT(rc <= 0);
	if (rc)
		return rc;
	for (unsigned i = 0; i < size; i++)
		x |= (uint64_t)b[i] << (8 * i);
	*v = x;
	return X86_OK;
}

/* mem_write: size bytes of v at seg:ea through the write callback. */
static int mem_write(const struct emu *e, unsigned seg, uint64_t ea, unsigned size, uint64_t v)
{
	uint8_t b[8];
	uint64_t lin;
	int rc = linear(e, seg, ea, size, &lin);
	if (rc)
		return rc;
	for (unsigned i = 0; i < size; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	rc = e->ops->write(e->ctx, (enum x86_seg)seg, lin, b, size);
	ASSERT(rc <= 0);
	return rc;
}

/* ea_of: effective address of the decoded memory operand, truncated to the address size. */
static uint64_t ea_of(const struct emu *e)
{
	const struct x86_mem *m = &e->in->mem;
	uint64_t ea = (uint64_t)m->disp;
	if (m->rip_rel)
		ea += e->r->rip + e->in->len;
	if (m->base != X86_REG_NONE)
		ea += e->r->gpr[m->base & 15];
	if (m->index != X86_REG_NONE)
		ea += e->r->gpr[m->index & 15] * m->scale;
	return ea & size_mask(e->in->addrsize);
}

/* rm_opnd: the ModRM r/m (or moffs) operand. */
static struct opnd rm_opnd(const struct emu *e)
{
	struct opnd o = {.reg = e->in->rm};
	if (e->in->has_mem) {
		o.mem = true;
		o.seg = e->in->mem.seg;
		o.ea = ea_of(e);
	}
	return o;
}

/* reg_opnd: register operand number reg. */
static struct opnd reg_opnd(unsigned reg)
{
	return (struct opnd){.reg = (uint8_t)reg};
}

/* opnd_read: read an operand. */
static int opnd_read(const struct emu *e, const struct opnd *o, unsigned size, uint64_t *v)
{
	if (o->mem)
		return mem_read(e, o->seg, o->ea, size, v);
	*v = reg_get(e, o->reg, size);
	return X86_OK;
}

/* opnd_write: write an operand. */
static int opnd_write(const struct emu *e, const struct opnd *o, unsigned size, uint64_t v)
{
	if (o->mem)
		return mem_write(e, o->seg, o->ea, size, v);
	reg_set(e, o->reg, size, v);
	return X86_OK;
}

/* parity_even: PF: the low byte of v has an even number of set bits. */
static bool parity_even(uint64_t v)
{
	uint8_t p = (uint8_t)v;
	p ^= p >> 4;
	p ^= p >> 2;
	p ^= p >> 1;
	return !(p & 1);
}

/* set_status: replace CF PF AF ZF SF OF in *fl for result res of size bytes. */
static void set_status(uint64_t *fl, uint64_t res, unsigned size, bool cf, bool of, bool af)
{
	uint64_t f = *fl & ~X86_RFLAGS_ARITH;
	res &= size_mask(size);
	f |= cf ? X86_RFLAGS_CF : 0;
	f |= parity_even(res) ? X86_RFLAGS_PF : 0;
	f |= af ? X86_RFLAGS_AF : 0;
	f |= res == 0 ? X86_RFLAGS_ZF : 0;
	f |= (res >> (8 * size - 1)) & 1 ? X86_RFLAGS_SF : 0;
	f |= of ? X86_RFLAGS_OF : 0;
	*fl = f;
}

/* alu: a op b at size bytes; returns the result and sets the six status flags in *fl. */
static uint64_t alu(unsigned op, uint64_t a, uint64_t b, unsigned size, uint64_t *fl)
{
	uint64_t m = size_mask(size), res, c = 0;
	unsigned top = 8 * size - 1;
	bool cf = false, of = false, af = false;
	a &= m;
	b &= m;
	switch (op) {
	case ALU_ADD:
	case ALU_ADC:
		c = op == ALU_ADC ? (*fl & X86_RFLAGS_CF) : 0;
		res = (a + b + c) & m;
		cf = c ? res <= a : res < a;
		of = (((a ^ res) & (b ^ res)) >> top) & 1;
		af = ((a ^ b ^ res) >> 4) & 1;
		break;
	case ALU_SUB:
	case ALU_SBB:
	case ALU_CMP:
		c = op == ALU_SBB ? (*fl & X86_RFLAGS_CF) : 0;
		res = (a - b - c) & m;
		cf = a < b || (c && a == b);
		of = (((a ^ b) & (a ^ res)) >> top) & 1;
		af = ((a ^ b ^ res) >> 4) & 1;
		break;
	case ALU_AND:
		res = a & b;
		break;
	case ALU_OR:
		res = a | b;
		break;
	default: /* ALU_XOR */
		res = a ^ b;
		break;
	}
	set_status(fl, res, size, cf, of, af);
	return res;
}

/* do_alu: dst = dst op src with flags; CMP and TEST (test) only set flags. */
static int do_alu(const struct emu *e, unsigned op, const struct opnd *dst, uint64_t src,
                  unsigned size, bool test)
{
	uint64_t a, fl = e->r->rflags;
	int rc = opnd_read(e, dst, size, &a);
	if (rc)
		return rc;
	uint64_t res = alu(test ? ALU_AND : op, a, src, size, &fl);
	if (!test && op != ALU_CMP && (rc = opnd_write(e, dst, size, res)))
		return rc;
	e->r->rflags = fl;
	return X86_OK;
}

/* do_alu_rm_src: register op= r/m (the Gb,Eb / Gv,Ev forms). */
static int do_alu_rm_src(const struct emu *e, unsigned op, unsigned size)
{
	struct opnd rm = rm_opnd(e), reg = reg_opnd(e->in->reg);
	uint64_t src;
	int rc = opnd_read(e, &rm, size, &src);
	return rc ? rc : do_alu(e, op, &reg, src, size, false);
}

/* do_incdec: INC/DEC r/m: like ADD/SUB 1 but CF is preserved. */
static int do_incdec(const struct emu *e, bool dec, unsigned size)
{
	struct opnd rm = rm_opnd(e);
	uint64_t a, fl = e->r->rflags;
	int rc = opnd_read(e, &rm, size, &a);
	if (rc)
		return rc;
	uint64_t res = alu(dec ? ALU_SUB : ALU_ADD, a, 1, size, &fl);
	fl = (fl & ~X86_RFLAGS_CF) | (e->r->rflags & X86_RFLAGS_CF);
	if ((rc = opnd_write(e, &rm, size, res)))
		return rc;
	e->r->rflags = fl;
	return X86_OK;
}

/* do_not_neg: NOT (no flags) or NEG (flags of 0 - x; CF = x != 0) of r/m. */
static int do_not_neg(const struct emu *e, bool neg, unsigned size)
{
	struct opnd rm = rm_opnd(e);
	uint64_t a, fl = e->r->rflags, res;
	int rc = opnd_read(e, &rm, size, &a);
	if (rc)
		return rc;
	res = neg ? alu(ALU_SUB, 0, a, size, &fl) : ~a;
	if ((rc = opnd_write(e, &rm, size, res)))
		return rc;
	e->r->rflags = fl;
	return X86_OK;
}

/* do_xchg: XCHG r/m, reg (memory written first, then the register). */
static int do_xchg(const struct emu *e, unsigned size)
{
	struct opnd rm = rm_opnd(e);
	uint64_t a, b = reg_get(e, e->in->reg, size);
	int rc = opnd_read(e, &rm, size, &a);
	if (rc || (rc = opnd_write(e, &rm, size, b)))
		return rc;
	reg_set(e, e->in->reg, size, a);
	return X86_OK;
}

/* do_mov: MOV between r/m and reg (to_rm) or from r/m into reg. */
static int do_mov(const struct emu *e, bool to_rm, unsigned size)
{
	struct opnd rm = rm_opnd(e);
	uint64_t v;
	int rc;
	if (to_rm)
		return opnd_write(e, &rm, size, reg_get(e, e->in->reg, size));
	if ((rc = opnd_read(e, &rm, size, &v)))
		return rc;
	reg_set(e, e->in->reg, size, v);
	return X86_OK;
}

/* do_movx: MOVZX/MOVSX (0F B6/B7/BE/BF) and MOVSXD (63): load src bytes, extend to opsize. */
static int do_movx(const struct emu *e, unsigned src_size, bool sign)
{
	struct opnd rm = rm_opnd(e);
	uint64_t v;
	int rc = opnd_read(e, &rm, src_size, &v);
	if (rc)
		return rc;
	reg_set(e, e->in->reg, e->in->opsize, sign ? sext(v, src_size) : v);
	return X86_OK;
}

/* do_moffs: A0-A3: MOV AL/rAX to or from the absolute offset. */
static int do_moffs(const struct emu *e, bool store, unsigned size)
{
	struct opnd m = rm_opnd(e);
	uint64_t v;
	int rc;
	if (store)
		return opnd_write(e, &m, size, reg_get(e, X86_RAX, size));
	if ((rc = opnd_read(e, &m, size, &v)))
		return rc;
	reg_set(e, X86_RAX, size, v);
	return X86_OK;
}

/*
 * do_bt: BT/BTS/BTR/BTC (kind 0..3) with bit offset off. A register offset with a memory
 * operand is signed and selects the operand-sized unit at ea + size * floor(off / bits)
 * (SDM vol. 2 BT, "Bit(BitBase, BitOffset)"). Only CF is defined; other flags are kept.
 */
static int do_bt(const struct emu *e, unsigned kind, uint64_t off, bool reg_off)
{
	unsigned size = e->in->opsize, bits = 8 * size;
	struct opnd d = rm_opnd(e);
	uint64_t v, bit;
	int rc;
	if (d.mem && reg_off) {
		int64_t s = (int64_t)sext(off, size);
		int64_t unit = s >= 0 ? s / bits : -((-(s + 1)) / bits) - 1;
		d.ea = (d.ea + (uint64_t)unit * size) & size_mask(e->in->addrsize);
		bit = (uint64_t)s & (bits - 1);
	} else {
		bit = off & (bits - 1);
	}
	if ((rc = opnd_read(e, &d, size, &v)))
		return rc;
	bool cf = (v >> bit) & 1;
	uint64_t nv = kind == 1   ? v | (1ULL << bit)
	              : kind == 2 ? v & ~(1ULL << bit)
	                          : v ^ (1ULL << bit);
	if (kind != 0 && (rc = opnd_write(e, &d, size, nv)))
		return rc;
	e->r->rflags = (e->r->rflags & ~X86_RFLAGS_CF) | (cf ? X86_RFLAGS_CF : 0);
	return X86_OK;
}

/* do_cmpxchg: CMPXCHG m, reg: flags of CMP rAX, m; equal: m = reg, else rAX = m. */
static int do_cmpxchg(const struct emu *e, unsigned size)
{
	struct opnd m = rm_opnd(e);
	uint64_t d, fl = e->r->rflags, acc = reg_get(e, X86_RAX, size);
	int rc;
	if (!m.mem)
		return X86_ERR_UNSUPPORTED; /* register form: vendor-specific write-back */
	if ((rc = opnd_read(e, &m, size, &d)))
		return rc;
	alu(ALU_CMP, acc, d, size, &fl);
	if (acc == d) {
		if ((rc = opnd_write(e, &m, size, reg_get(e, e->in->reg, size))))
			return rc;
	} else {
		reg_set(e, X86_RAX, size, d);
	}
	e->r->rflags = fl;
	return X86_OK;
}

/* do_xadd: XADD r/m, reg: tmp = r/m + reg; reg = r/m; r/m = tmp (SDM order for registers). */
static int do_xadd(const struct emu *e, unsigned size)
{
	struct opnd rm = rm_opnd(e);
	uint64_t d, fl = e->r->rflags, s = reg_get(e, e->in->reg, size);
	int rc = opnd_read(e, &rm, size, &d);
	if (rc)
		return rc;
	uint64_t sum = alu(ALU_ADD, d, s, size, &fl);
	if (rm.mem) {
		if ((rc = opnd_write(e, &rm, size, sum)))
			return rc;
		reg_set(e, e->in->reg, size, d);
	} else {
		reg_set(e, e->in->reg, size, d);
		reg_set(e, rm.reg, size, sum);
	}
	e->r->rflags = fl;
	return X86_OK;
}

/* string_step: one element of a string instruction (no register update except LODS/flags). */
static int string_step(const struct emu *e, unsigned kind, unsigned size, uint64_t *fl)
{
	unsigned src_seg = e->in->seg_prefix < X86_NR_SEGS ? e->in->seg_prefix : X86_SEG_DS;
	uint64_t am = size_mask(e->in->addrsize);
	uint64_t si = e->r->gpr[X86_RSI] & am, di = e->r->gpr[X86_RDI] & am, a, b;
	int rc;
	switch (kind) {
	case STR_MOVS:
		if ((rc = mem_read(e, src_seg, si, size, &a)))
			return rc;
		return mem_write(e, X86_SEG_ES, di, size, a);
	case STR_STOS:
		return mem_write(e, X86_SEG_ES, di, size, reg_get(e, X86_RAX, size));
	case STR_LODS:
		if ((rc = mem_read(e, src_seg, si, size, &a)))
			return rc;
		reg_set(e, X86_RAX, size, a);
		return X86_OK;
	case STR_CMPS:
		if ((rc = mem_read(e, src_seg, si, size, &a)) ||
		    (rc = mem_read(e, X86_SEG_ES, di, size, &b)))
			return rc;
		alu(ALU_CMP, a, b, size, fl);
		return X86_OK;
	default: /* STR_SCAS */
		if ((rc = mem_read(e, X86_SEG_ES, di, size, &b)))
			return rc;
		alu(ALU_CMP, reg_get(e, X86_RAX, size), b, size, fl);
		return X86_OK;
	}
}

/*
 * do_string: MOVS/CMPS/STOS/LODS/SCAS, optionally repeated. Each iteration commits rSI/rDI/
 * rCX (of the address size) and flags, so an error or the iteration cap leaves the registers
 * as hardware would after an interrupt or fault in the middle (SDM vol. 2 REP).
 */
static int do_string(const struct emu *e, unsigned kind, unsigned size)
{
	struct x86_regs *r = e->r;
	uint64_t am = size_mask(e->in->addrsize);
	uint64_t step = (r->rflags & X86_RFLAGS_DF) ? -(uint64_t)size : size;
	bool rep = e->in->rep != 0, cond = kind == STR_CMPS || kind == STR_SCAS;
	bool uses_si = kind == STR_MOVS || kind == STR_CMPS || kind == STR_LODS;
	bool uses_di = kind != STR_LODS;
	unsigned max = e->ops->max_rep ? e->ops->max_rep : X86_EMU_MAX_REP;
	if (rep && (r->gpr[X86_RCX] & am) == 0)
		return X86_OK;
	for (unsigned n = 1;; n++) {
		uint64_t fl = r->rflags;
		int rc = string_step(e, kind, size, &fl);
		if (rc)
			return rc;
		r->rflags = fl;
		if (uses_si)
			addr_reg_set(e, X86_RSI, (r->gpr[X86_RSI] & am) + step);
		if (uses_di)
			addr_reg_set(e, X86_RDI, (r->gpr[X86_RDI] & am) + step);
		if (!rep)
			return X86_OK;
		uint64_t count = ((r->gpr[X86_RCX] & am) - 1) & am;
		addr_reg_set(e, X86_RCX, count);
		if (count == 0)
			return X86_OK;
		if (cond && ((e->in->rep == 0xf3) != !!(r->rflags & X86_RFLAGS_ZF)))
			return X86_OK; /* REPE stops on ZF = 0, REPNE on ZF = 1 */
		if (n >= max)
			return X86_PARTIAL;
	}
}

/* string_kind: string instruction kind of a one-byte opcode A4..AF, or -1. */
static int string_kind(unsigned op)
{
	switch (op & ~1u) {
	case 0xa4:
		return STR_MOVS;
	case 0xa6:
		return STR_CMPS;
	case 0xaa:
		return STR_STOS;
	case 0xac:
		return STR_LODS;
	case 0xae:
		return STR_SCAS;
	default:
		return -1;
	}
}

/* emu_group3: F6/F7: TEST imm, NOT, NEG (MUL/DIV are not emulated). */
static int emu_group3(const struct emu *e, unsigned size)
{
	unsigned ext = (e->in->modrm >> 3) & 7;
	struct opnd rm = rm_opnd(e);
	if (ext < 2)
		return do_alu(e, ALU_AND, &rm, (uint64_t)e->in->imm, size, true);
	if (ext == 2 || ext == 3)
		return do_not_neg(e, ext == 3, size);
	return X86_ERR_UNSUPPORTED;
}

/* emu_primary: instructions of the one-byte opcode map. */
static int emu_primary(const struct emu *e)
{
	const struct x86_insn *in = e->in;
	unsigned op = in->opcode, ext = (in->modrm >> 3) & 7;
	unsigned size = (op & 1) ? in->opsize : 1;
	struct opnd rm = rm_opnd(e), acc = reg_opnd(X86_RAX);
	int k;
	if (op < 0x40 && (op & 7) < 6) {
		unsigned aop = op >> 3;
		switch (op & 7) {
		case 0:
		case 1:
			return do_alu(e, aop, &rm, reg_get(e, in->reg, size), size, false);
		case 2:
		case 3:
			return do_alu_rm_src(e, aop, size);
		default:
			return do_alu(e, aop, &acc, (uint64_t)in->imm, size, false);
		}
	}
	switch (op) {
	case 0x63: /* MOVSXD (64-bit mode); ARPL elsewhere */
		if (in->mode != X86_MODE_LONG64)
			return X86_ERR_UNSUPPORTED;
		return do_movx(e, in->opsize == 2 ? 2 : 4, true);
	case 0x80:
	case 0x81:
	case 0x82:
	case 0x83:
		size = op == 0x80 || op == 0x82 ? 1 : in->opsize;
		return do_alu(e, ext, &rm, (uint64_t)in->imm, size, false);
	case 0x84:
	case 0x85:
		return do_alu(e, ALU_AND, &rm, reg_get(e, in->reg, size), size, true);
	case 0x86:
	case 0x87:
		return do_xchg(e, size);
	case 0x88:
	case 0x89:
	case 0x8a:
	case 0x8b:
		return do_mov(e, op < 0x8a, (op & 1) ? in->opsize : 1);
	case 0xa0:
	case 0xa1:
	case 0xa2:
	case 0xa3:
		return do_moffs(e, op >= 0xa2, size);
	case 0xa8:
	case 0xa9:
		return do_alu(e, ALU_AND, &acc, (uint64_t)in->imm, size, true);
	case 0xc6:
	case 0xc7:
		if (ext != 0)
			return X86_ERR_UNSUPPORTED; /* XABORT / XBEGIN */
		return opnd_write(e, &rm, size, (uint64_t)in->imm);
	case 0xf6:
	case 0xf7:
		return emu_group3(e, size);
	case 0xfe:
	case 0xff:
		if (ext > 1)
			return X86_ERR_UNSUPPORTED;
		return do_incdec(e, ext == 1, size);
	default:
		break;
	}
	if ((k = string_kind(op)) >= 0)
		return do_string(e, (unsigned)k, size);
	return X86_ERR_UNSUPPORTED;
}

/* emu_0f: instructions of the 0F opcode map. */
static int emu_0f(const struct emu *e)
{
	const struct x86_insn *in = e->in;
	unsigned op = in->opcode, ext = (in->modrm >> 3) & 7;
	unsigned size = (op & 1) ? in->opsize : 1;
	switch (op) {
	case 0xa3: /* BT */
	case 0xab: /* BTS */
	case 0xb3: /* BTR */
	case 0xbb: /* BTC */
		return do_bt(e, (op >> 3) & 3, reg_get(e, in->reg, in->opsize), true);
	case 0xba:
		if (ext < 4)
			return X86_ERR_INVALID;
		return do_bt(e, ext - 4, (uint64_t)in->imm, false);
	case 0xb0:
	case 0xb1:
		return do_cmpxchg(e, size);
	case 0xb6:
	case 0xb7:
		return do_movx(e, (op & 1) ? 2 : 1, false);
	case 0xbe:
	case 0xbf:
		return do_movx(e, (op & 1) ? 2 : 1, true);
	case 0xc0:
	case 0xc1:
		return do_xadd(e, size);
	case 0xc3: /* MOVNTI m32/m64, r: no 66/F2/F3 */
		if (in->rep || (in->prefixes & X86_PFX_OPSIZE) || !in->has_mem)
			return X86_ERR_INVALID;
		return do_mov(e, true, in->opsize);
	default:
		return X86_ERR_UNSUPPORTED;
	}
}

/* advance_rip: RIP past the instruction, wrapping at the code-segment size. */
static void advance_rip(const struct emu *e)
{
	uint64_t rip = e->r->rip + e->in->len;
	if (e->in->mode == X86_MODE_PROT32)
		rip &= 0xffffffffULL;
	else if (e->in->mode != X86_MODE_LONG64)
		rip &= 0xffff;
	e->r->rip = rip;
}

int x86_emulate(const struct x86_insn *in, struct x86_regs *regs, const struct x86_emu_ops *ops,
                void *ctx)
{
	ASSERT(in && regs && ops && ops->read && ops->write);
	struct emu e = {.in = in, .r = regs, .ops = ops, .ctx = ctx};
	int rc;
	if (in->len == 0 || in->len > X86_MAX_INSN_LEN || in->mode > X86_MODE_LONG64)
		return X86_ERR_INVALID;
	if (in->encoding != X86_ENC_LEGACY)
		return X86_ERR_UNSUPPORTED;
	if (in->map == X86_MAP_PRIMARY)
		rc = emu_primary(&e);
	else if (in->map == X86_MAP_0F)
		rc = emu_0f(&e);
	else
		rc = X86_ERR_UNSUPPORTED;
	if (rc == X86_OK)
		advance_rip(&e);
	return rc;
}
