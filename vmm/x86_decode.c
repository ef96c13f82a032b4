/*
 * x86 instruction decoder: prefixes, opcode maps, ModRM/SIB/displacement, immediates, validity.
 * See x86_decode.h for the contract. Opcode properties come from SDM vol. 2 appendix A
 * (opcode maps) and APM vol. 3 appendix A; every table entry below is one opcode byte.
 */
#include "vmm/x86_decode.h"
#include "kernel/string.h"

/* Opcode property bits (low byte) and immediate kind (bits 8..11). */
#define F_MODRM   0x01 /* a ModRM byte follows the opcode */
#define F_INV64   0x02 /* invalid in 64-bit mode (#UD) */
#define F_INV     0x04 /* undefined opcode (#UD) in every mode */
#define F_DEF64   0x08 /* operand size defaults to 64 bits in 64-bit mode (push, pop, branches) */
#define F_BRANCH  0x10 /* near branch: Intel 64 ignores 66 in 64-bit mode */
#define F_NOMEM   0x20 /* ModRM.mod is ignored: always register operands (MOV CR/DR) */
#define IMM(k)    ((k) << 8)
#define IMM_OF(f) (((f) >> 8) & 0xf)

enum imm_kind {
	I_NONE,
	I_B,     /* imm8 */
	I_W,     /* imm16 */
	I_Z,     /* imm16 with 16-bit operand size, else imm32 */
	I_V,     /* imm16/32/64 by operand size (MOV r, imm) */
	I_ENTER, /* imm16 then imm8 */
	I_FAR,   /* offset (z) then 16-bit selector */
	I_MOFFS, /* offset of address size */
	I_GRP3,  /* F6/F7: imm8/z only for /0 and /1 (TEST) */
	I_C7,    /* C7: /0 imm z; C7 F8 XBEGIN rel z */
};

#define M   F_MODRM
#define MB  (F_MODRM | IMM(I_B))
#define MZ  (F_MODRM | IMM(I_Z))
#define B   IMM(I_B)
#define Z   IMM(I_Z)
#define X   F_INV
#define I64 F_INV64
#define D64 F_DEF64
#define BR  (F_DEF64 | F_BRANCH)

/* clang-format off */
/* One-byte opcode map (SDM vol. 2 table A-2). 0F and the prefixes are handled before lookup. */
static const uint16_t op_primary[256] = {
	[0x00 ... 0x03] = M, [0x04] = B, [0x05] = Z, [0x06 ... 0x07] = I64,
	[0x08 ... 0x0b] = M, [0x0c] = B, [0x0d] = Z, [0x0e] = I64,
	[0x10 ... 0x13] = M, [0x14] = B, [0x15] = Z, [0x16 ... 0x17] = I64,
	[0x18 ... 0x1b] = M, [0x1c] = B, [0x1d] = Z, [0x1e ... 0x1f] = I64,
	[0x20 ... 0x23] = M, [0x24] = B, [0x25] = Z, [0x27] = I64,
	[0x28 ... 0x2b] = M, [0x2c] = B, [0x2d] = Z, [0x2f] = I64,
	[0x30 ... 0x33] = M, [0x34] = B, [0x35] = Z, [0x37] = I64,
	[0x38 ... 0x3b] = M, [0x3c] = B, [0x3d] = Z, [0x3f] = I64,
	[0x50 ... 0x5f] = D64,
	[0x60 ... 0x61] = I64, [0x62] = M | I64, [0x63] = M,
	[0x68] = Z | D64, [0x69] = MZ, [0x6a] = B | D64, [0x6b] = MB,
	[0x70 ... 0x7f] = B | BR,
	[0x80] = MB, [0x81] = MZ, [0x82] = MB | I64, [0x83] = MB,
	[0x84 ... 0x8e] = M, [0x8f] = M | D64,
	[0x9a] = IMM(I_FAR) | I64, [0x9c ... 0x9d] = D64,
	[0xa0 ... 0xa3] = IMM(I_MOFFS), [0xa8] = B, [0xa9] = Z,
	[0xb0 ... 0xb7] = B, [0xb8 ... 0xbf] = IMM(I_V),
	[0xc0 ... 0xc1] = MB, [0xc2] = IMM(I_W) | BR, [0xc3] = BR, [0xc4 ... 0xc5] = M | I64,
	[0xc6] = MB, [0xc7] = M | IMM(I_C7),
	[0xc8] = IMM(I_ENTER) | D64, [0xc9] = D64, [0xca] = IMM(I_W), [0xcd] = B, [0xce] = I64,
	[0xd0 ... 0xd3] = M, [0xd4 ... 0xd5] = B | I64, [0xd6] = X, [0xd8 ... 0xdf] = M,
	[0xe0 ... 0xe3] = B | BR, [0xe4 ... 0xe7] = B, [0xe8 ... 0xe9] = Z | BR,
	[0xea] = IMM(I_FAR) | I64, [0xeb] = B | BR,
	[0xf6 ... 0xf7] = M | IMM(I_GRP3), [0xfe ... 0xff] = M,
};

/* Two-byte (0F) opcode map (SDM vol. 2 table A-3). 0F 38 / 0F 3A are escapes. 3DNow! (0F 0E,
 * 0F 0F) is treated as undefined: no current CPU implements it. */
static const uint16_t op_0f[256] = {
	[0x00 ... 0x03] = M, [0x04] = X, [0x0a] = X, [0x0c] = X, [0x0d] = M, [0x0e ... 0x0f] = X,
	[0x10 ... 0x1f] = M,
	[0x20 ... 0x23] = M | F_NOMEM | D64, [0x24 ... 0x27] = X, [0x28 ... 0x2f] = M,
	[0x36] = X, [0x39] = X, [0x3b ... 0x3f] = X,
	[0x40 ... 0x6f] = M, [0x70 ... 0x73] = MB, [0x74 ... 0x76] = M,
	[0x78 ... 0x79] = M, [0x7a ... 0x7b] = X, [0x7c ... 0x7f] = M,
	[0x80 ... 0x8f] = Z | BR, [0x90 ... 0x9f] = M,
	[0xa0 ... 0xa1] = D64, [0xa3] = M, [0xa4] = MB, [0xa5] = M, [0xa6 ... 0xa7] = X,
	[0xa8 ... 0xa9] = D64, [0xab] = M, [0xac] = MB, [0xad ... 0xaf] = M,
	[0xb0 ... 0xb9] = M, [0xba] = MB, [0xbb ... 0xc1] = M, [0xc2] = MB, [0xc3] = M,
	[0xc4 ... 0xc6] = MB, [0xc7] = M, [0xd0 ... 0xff] = M,
};
/* clang-format on */

#undef M
#undef MB
#undef MZ
#undef B
#undef Z
#undef X
#undef I64
#undef D64
#undef BR

/* Decoding cursor over the untrusted bytes. */
struct dec {
	const uint8_t *buf;
	unsigned avail; /* min(avail, 15) */
	unsigned pos;
	unsigned need; /* set on X86_ERR_TRUNCATED */
	unsigned flags;
};

/* fetch: consume the next byte, or say why there is none (truncated / past 15 bytes). */
static int fetch(struct dec *d, uint8_t *b)
{
	if (d->pos >= X86_MAX_INSN_LEN)
		return X86_ERR_TOO_LONG;
	if (d->pos >= d->avail) {
		d->need = d->pos + 1;
		return X86_ERR_TRUNCATED;
	}
	*b = d->buf[d->pos++];
	return X86_OK;
}

/* peek: the next byte without consuming it. */
static int peek(struct dec *d, uint8_t *b)
{
	int rc = fetch(d, b);
	if (rc == X86_OK)
		d->pos--;
	return rc;
}

/* fetch_le: n (1, 2, 4 or 8) little-endian bytes, sign-extended into *v. */
static int fetch_le(struct dec *d, unsigned n, int64_t *v)
{
	uint64_t x = 0;
	for (unsigned i = 0; i < n; i++) {
		uint8_t b;
		int rc = fetch(d, &b);
		if (rc)
			return rc;
		x |= (uint64_t)b << (8 * i);
	}
	if (n < 8 && (x >> (8 * n - 1)) & 1)
		x |= ~0ULL << (8 * n);
	*v = (int64_t)x;
	return X86_OK;
}

/* is64: the instruction is decoded for 64-bit mode. */
static bool is64(const struct x86_insn *o)
{
	return o->mode == X86_MODE_LONG64;
}

/* seg_of_prefix: segment register named by a segment-override byte. */
static uint8_t seg_of_prefix(uint8_t b)
{
	switch (b) {
	case 0x26:
		return X86_SEG_ES;
	case 0x2e:
		return X86_SEG_CS;
	case 0x36:
		return X86_SEG_SS;
	case 0x3e:
		return X86_SEG_DS;
	case 0x64:
		return X86_SEG_FS;
	default:
		return X86_SEG_GS;
	}
}

/*
 * decode_prefixes: consume legacy prefixes and REX; *op gets the first non-prefix byte. A REX
 * counts only right before the opcode: a legacy prefix after it cancels it (SDM 2.2.1). In
 * 64-bit mode the ES/CS/SS/DS overrides are ignored (SDM 3.3.7.1).
 */
static int decode_prefixes(struct dec *d, struct x86_insn *o, uint8_t *op)
{
	for (;;) {
		uint8_t b;
		int rc = fetch(d, &b);
		if (rc)
			return rc;
		switch (b) {
		case 0xf0:
			o->prefixes |= X86_PFX_LOCK;
			break;
		case 0xf2:
			o->prefixes |= X86_PFX_REPNE;
			o->rep = b;
			break;
		case 0xf3:
			o->prefixes |= X86_PFX_REP;
			o->rep = b;
			break;
		case 0x66:
			o->prefixes |= X86_PFX_OPSIZE;
			break;
		case 0x67:
			o->prefixes |= X86_PFX_ADDRSIZE;
			break;
		case 0x26:
		case 0x2e:
		case 0x36:
		case 0x3e:
		case 0x64:
		case 0x65:
			o->prefixes |= X86_PFX_SEG;
			if (!is64(o) || b == 0x64 || b == 0x65)
				o->seg_prefix = seg_of_prefix(b);
			break;
		default:
			if (is64(o) && (b & 0xf0) == 0x40) {
				o->rex = b;
				continue;
			}
			*op = b;
			return X86_OK;
		}
		o->rex = 0;
	}
}

/* set_sizes: effective operand and address size from mode, prefixes, REX.W and opcode flags. */
static void set_sizes(struct dec *d, struct x86_insn *o, unsigned f)
{
	bool p66 = o->prefixes & X86_PFX_OPSIZE, p67 = o->prefixes & X86_PFX_ADDRSIZE;
	if (is64(o)) {
		o->addrsize = p67 ? 4 : 8;
		if (o->rex_w)
			o->opsize = 8;
		else if ((f & F_BRANCH) && (d->flags & X86_DECODE_INTEL64))
			o->opsize = 8;
		else if (p66)
			o->opsize = 2;
		else
			o->opsize = (f & F_DEF64) ? 8 : 4;
		return;
	}
	bool d32 = o->mode == X86_MODE_PROT32;
	o->opsize = (d32 ^ p66) ? 4 : 2;
	o->addrsize = (d32 ^ p67) ? 4 : 2;
}

/* decode_mem16: 16-bit ModRM addressing (SDM vol. 2 table 2-1). */
static int decode_mem16(struct dec *d, struct x86_insn *o)
{
	static const int8_t base[8] = {X86_RBX,      X86_RBX,      X86_RBP, X86_RBP,
	                               X86_REG_NONE, X86_REG_NONE, X86_RBP, X86_RBX};
	static const int8_t index[8] = {X86_RSI, X86_RDI, X86_RSI,      X86_RDI,
	                                X86_RSI, X86_RDI, X86_REG_NONE, X86_REG_NONE};
	unsigned rm = o->modrm & 7;
	o->mem.base = base[rm];
	o->mem.index = index[rm];
	if (o->mod == 0 && rm == 6) {
		o->mem.base = X86_REG_NONE;
		o->mem.disp_size = 2;
	} else {
		o->mem.disp_size = o->mod == 1 ? 1 : o->mod == 2 ? 2 : 0;
	}
	o->mem.seg = o->mem.base == X86_RBP ? X86_SEG_SS : X86_SEG_DS;
	return o->mem.disp_size ? fetch_le(d, o->mem.disp_size, &o->mem.disp) : X86_OK;
}

/* decode_mem32: 32/64-bit ModRM + SIB addressing (SDM vol. 2 tables 2-2, 2-3, 2-5). */
static int decode_mem32(struct dec *d, struct x86_insn *o)
{
	unsigned rm = o->modrm & 7, bx = o->rex_b ? 8 : 0;
	int rc;
	o->mem.disp_size = o->mod == 1 ? 1 : o->mod == 2 ? 4 : 0;
	if (rm == 4) {
		if ((rc = fetch(d, &o->sib)))
			return rc;
		o->has_sib = true;
		unsigned idx = ((o->sib >> 3) & 7) | (o->rex_x ? 8 : 0);
		o->mem.index = idx == 4 ? X86_REG_NONE : (int8_t)idx;
		o->mem.scale = (uint8_t)(1u << (o->sib >> 6));
		if ((o->sib & 7) == 5 && o->mod == 0) {
			o->mem.base = X86_REG_NONE;
			o->mem.disp_size = 4;
		} else {
			o->mem.base = (int8_t)((o->sib & 7) | bx);
		}
	} else if (rm == 5 && o->mod == 0) {
		o->mem.base = X86_REG_NONE;
		o->mem.rip_rel = is64(o);
		o->mem.disp_size = 4;
	} else {
		o->mem.base = (int8_t)(rm | bx);
	}
	o->mem.seg = (o->mem.base == X86_RSP || o->mem.base == X86_RBP) ? X86_SEG_SS : X86_SEG_DS;
	return o->mem.disp_size ? fetch_le(d, o->mem.disp_size, &o->mem.disp) : X86_OK;
}

/* decode_modrm: the ModRM byte and, unless nomem or mod == 3, the memory operand after it. */
static int decode_modrm(struct dec *d, struct x86_insn *o, bool nomem)
{
	int rc = fetch(d, &o->modrm);
	if (rc)
		return rc;
	o->has_modrm = true;
	o->mod = o->modrm >> 6;
	o->reg = ((o->modrm >> 3) & 7) | (o->rex_r ? 8 : 0);
	o->rm = (o->modrm & 7) | (o->rex_b ? 8 : 0);
	if (o->mod == 3 || nomem)
		return X86_OK;
	o->has_mem = true;
	o->mem.scale = 1;
	rc = o->addrsize == 2 ? decode_mem16(d, o) : decode_mem32(d, o);
	if (o->seg_prefix != X86_SEG_NONE)
		o->mem.seg = o->seg_prefix;
	return rc;
}

/* fetch_imm: the first immediate of n bytes. */
static int fetch_imm(struct dec *d, struct x86_insn *o, unsigned n)
{
	o->imm_size = (uint8_t)n;
	return n ? fetch_le(d, n, &o->imm) : X86_OK;
}

/* fetch_imm2: the second immediate of n bytes (zero-extended). */
static int fetch_imm2(struct dec *d, struct x86_insn *o, unsigned n)
{
	int64_t v = 0;
	int rc = fetch_le(d, n, &v);
	o->imm2_size = (uint8_t)n;
	o->imm2 = (uint64_t)v & (~0ULL >> (64 - 8 * n));
	return rc;
}

/* decode_imm: the immediate(s) of a legacy-encoded instruction of the given kind. */
static int decode_imm(struct dec *d, struct x86_insn *o, unsigned kind)
{
	unsigned z = o->opsize == 2 ? 2 : 4, ext = (o->modrm >> 3) & 7;
	int rc;
	switch (kind) {
	case I_B:
		return fetch_imm(d, o, 1);
	case I_W:
		return fetch_imm(d, o, 2);
	case I_Z:
		return fetch_imm(d, o, z);
	case I_V:
		return fetch_imm(d, o, o->opsize);
	case I_ENTER:
		if ((rc = fetch_imm(d, o, 2)))
			return rc;
		return fetch_imm2(d, o, 1);
	case I_FAR:
		if ((rc = fetch_imm(d, o, z)))
			return rc;
		return fetch_imm2(d, o, 2);
	case I_MOFFS:
		o->has_mem = true;
		o->mem.base = o->mem.index = X86_REG_NONE;
		o->mem.scale = 1;
		o->mem.seg = o->seg_prefix != X86_SEG_NONE ? o->seg_prefix : X86_SEG_DS;
		o->mem.disp_size = o->addrsize;
		if ((rc = fetch_le(d, o->addrsize, &o->mem.disp)))
			return rc;
		if (o->addrsize < 8)
			o->mem.disp &= (int64_t)((1ULL << (8 * o->addrsize)) - 1);
		return X86_OK;
	case I_GRP3:
		return ext < 2 ? fetch_imm(d, o, (o->opcode & 1) ? z : 1) : X86_OK;
	case I_C7:
		return (ext == 0 || o->modrm == 0xf8) ? fetch_imm(d, o, z) : X86_OK;
	default:
		return X86_OK;
	}
}

/* mandatory_prefix: the SSE-style mandatory prefix in effect: last F2/F3, else 66, else 0. */
static uint8_t mandatory_prefix(const struct x86_insn *o)
{
	if (o->rep)
		return o->rep;
	return (o->prefixes & X86_PFX_OPSIZE) ? 0x66 : 0;
}

/* lockable: LOCK is allowed on this instruction (SDM vol. 2 LOCK: memory destination only). */
static bool lockable(const struct x86_insn *o)
{
	unsigned op = o->opcode, ext = (o->modrm >> 3) & 7;
	if (o->map == X86_MAP_0F && (op == 0x20 || op == 0x22))
		return true; /* AMD: LOCK MOV CR0 is MOV CR8 (APM vol. 3 MOV CRn) */
	if (!o->has_mem)
		return false;
	if (o->map == X86_MAP_PRIMARY) {
		if (op < 0x38 && (op & 7) < 2)
			return true; /* ADD OR ADC SBB AND SUB XOR r/m, reg */
		if (op >= 0x80 && op <= 0x83)
			return ext != 7; /* not CMP */
		if (op == 0x86 || op == 0x87)
			return true;
		if (op == 0xf6 || op == 0xf7)
			return ext == 2 || ext == 3; /* NOT NEG */
		if (op == 0xfe || op == 0xff)
			return ext < 2; /* INC DEC */
		return false;
	}
	if (o->map != X86_MAP_0F)
		return false;
	switch (op) {
	case 0xab:
	case 0xb3:
	case 0xbb: /* BTS BTR BTC */
	case 0xb0:
	case 0xb1: /* CMPXCHG */
	case 0xc0:
	case 0xc1: /* XADD */
		return true;
	case 0xba:
		return ext >= 5;
	case 0xc7:
		return ext == 1; /* CMPXCHG8B/16B */
	default:
		return false;
	}
}

/* primary_valid: group members and operand forms of the one-byte map that are defined. */
static bool primary_valid(const struct x86_insn *o)
{
	unsigned ext = (o->modrm >> 3) & 7;
	switch (o->opcode) {
	case 0x62: /* BOUND */
	case 0xc4: /* LES */
	case 0xc5: /* LDS */
	case 0x8d: /* LEA */
		return o->has_mem;
	case 0x63: /* ARPL: not in real/virtual-8086 mode */
		return o->mode != X86_MODE_REAL;
	case 0x8c: /* MOV r/m, Sreg */
		return ext < 6;
	case 0x8e: /* MOV Sreg, r/m: no CS */
		return ext < 6 && ext != X86_SEG_CS;
	case 0x8f: /* POP r/m */
		return ext == 0;
	case 0xc6:
	case 0xc7: /* MOV r/m, imm; XABORT/XBEGIN */
		return ext == 0 || o->modrm == 0xf8;
	case 0xfe: /* INC/DEC r/m8 */
		return ext < 2;
	case 0xff: /* FF /3 /5 far CALL/JMP need memory; /7 undefined */
		if (ext == 3 || ext == 5)
			return o->has_mem;
		return ext != 7;
	default:
		return true;
	}
}

/* map0f_valid: opcodes and group members of the 0F map that are defined. */
static bool map0f_valid(const struct x86_insn *o)
{
	unsigned ext = (o->modrm >> 3) & 7;
	switch (o->opcode) {
	case 0x00: /* group 6 */
		return ext < 6;
	case 0x20:
	case 0x22: /* CR0, CR2-CR4, CR8 */
		return o->reg == 0 || (o->reg >= 2 && o->reg <= 4) || o->reg == 8;
	case 0x21:
	case 0x23: /* DR0-DR7 */
		return o->reg < 8;
	case 0xb2:
	case 0xb4:
	case 0xb5: /* LSS LFS LGS */
		return o->has_mem;
	case 0xb8: /* POPCNT needs F3; plain 0F B8 is IA-64 JMPE */
		return mandatory_prefix(o) == 0xf3;
	case 0xba: /* group 8: BT BTS BTR BTC */
		return ext >= 4;
	case 0xc3: /* MOVNTI m, r */
		return o->has_mem;
	default:
		return true;
	}
}

/* decode_legacy: opcode tables, ModRM, immediates and validity for maps 0..3. */
static int decode_legacy(struct dec *d, struct x86_insn *o)
{
	unsigned f;
	int rc;
	if (o->map == X86_MAP_PRIMARY)
		f = op_primary[o->opcode];
	else if (o->map == X86_MAP_0F)
		f = op_0f[o->opcode];
	else
		f = F_MODRM | (o->map == X86_MAP_0F3A ? IMM(I_B) : 0);
	if ((f & F_INV) || (is64(o) && (f & F_INV64)))
		return X86_ERR_INVALID;
	set_sizes(d, o, f);
	if ((f & F_MODRM) && (rc = decode_modrm(d, o, f & F_NOMEM)))
		return rc;
	unsigned kind = IMM_OF(f);
	if (o->map == X86_MAP_0F && o->opcode == 0x78 &&
	    (mandatory_prefix(o) == 0x66 || mandatory_prefix(o) == 0xf2)) {
		/* AMD SSE4a EXTRQ / INSERTQ xmm, imm8, imm8 */
		if ((rc = fetch_imm(d, o, 1)) || (rc = fetch_imm2(d, o, 1)))
			return rc;
	} else if ((rc = decode_imm(d, o, kind))) {
		return rc;
	}
	if (o->map == X86_MAP_PRIMARY && !primary_valid(o))
		return X86_ERR_INVALID;
	if (o->map == X86_MAP_0F && !map0f_valid(o))
		return X86_ERR_INVALID;
	if ((o->prefixes & X86_PFX_LOCK) && !lockable(o))
		return X86_ERR_INVALID;
	return X86_OK;
}

/* vex_imm8: the VEX/EVEX map-1 opcodes that take an imm8 (pshufd/shift groups, cmpps, pinsrw,
 * pextrw, shufps); map 3 always has one. */
static bool vex_imm8(unsigned map, unsigned op)
{
	if (map == 3)
		return true;
	return map == 1 && ((op >= 0x70 && op <= 0x73) || op == 0xc2 || (op >= 0xc4 && op <= 0xc6));
}

/*
 * decode_vex: C4/C5 VEX (SDM vol. 2 2.3.5), 62 EVEX (SDM vol. 2 2.7.1) or 8F XOP (AMD) after
 * the escape byte esc. 66/F2/F3/LOCK/REX before them are #UD. Outside 64-bit mode the R/X/B
 * (and EVEX R'/V') bits are not register extensions.
 */
static int decode_vex(struct dec *d, struct x86_insn *o, uint8_t esc)
{
	uint8_t p[3] = {0};
	unsigned np = esc == 0xc5 ? 1 : esc == 0x62 ? 3 : 2;
	int rc;
	for (unsigned i = 0; i < np; i++)
		if ((rc = fetch(d, &p[i])))
			return rc;
	bool bad =
	    (o->prefixes & (X86_PFX_LOCK | X86_PFX_OPSIZE | X86_PFX_REP | X86_PFX_REPNE)) || o->rex;
	uint8_t wv = esc == 0xc5 ? p[0] : p[1]; /* byte holding W vvvv L pp */
	o->rex_r = !(p[0] & 0x80);
	if (esc == 0xc5) {
		o->encoding = X86_ENC_VEX;
		o->map = 1;
	} else {
		o->rex_x = !(p[0] & 0x40);
		o->rex_b = !(p[0] & 0x20);
		o->rex_w = wv >> 7;
	}
	o->vex.vvvv = ((wv >> 3) & 15) ^ 15;
	o->vex.pp = wv & 3;
	if (esc == 0x62) {
		o->encoding = X86_ENC_EVEX;
		o->map = p[0] & 7;
		o->vex.r2 = !(p[0] & 0x10);
		o->vex.z = p[2] >> 7;
		o->vex.l = (p[2] >> 5) & 3;
		o->vex.b = (p[2] >> 4) & 1;
		o->vex.v2 = !(p[2] & 0x08);
		o->vex.aaa = p[2] & 7;
		if ((p[0] & 0x08) || !(p[1] & 0x04) || o->map == 0 || o->map == 4 || o->map == 7)
			return X86_ERR_INVALID;
	} else {
		o->vex.l = (wv >> 2) & 1;
		if (esc != 0xc5)
			o->map = p[0] & 0x1f;
		if (esc == 0xc4) {
			o->encoding = X86_ENC_VEX;
			if (o->map < 1 || o->map > 3)
				return X86_ERR_INVALID;
		} else if (esc == 0x8f) {
			o->encoding = X86_ENC_XOP;
			if (o->map < 8 || o->map > 10)
				return X86_ERR_INVALID;
		}
	}
	if (!is64(o)) {
		o->rex_r = o->rex_x = o->rex_b = o->rex_w = o->vex.r2 = o->vex.v2 = false;
		o->vex.vvvv &= 7;
	}
	o->opsize = (is64(o) && o->rex_w) ? 8 : 4;
	o->addrsize = is64(o) ? ((o->prefixes & X86_PFX_ADDRSIZE) ? 4 : 8)
	              : ((o->mode == X86_MODE_PROT32) ^ !!(o->prefixes & X86_PFX_ADDRSIZE)) ? 4
	                                                                                    : 2;
	o->opcode_off = (uint8_t)d->pos;
	if ((rc = fetch(d, &o->opcode)))
		return rc;
	bool modrm = !(o->encoding == X86_ENC_VEX && o->map == 1 && o->opcode == 0x77);
	if (modrm && (rc = decode_modrm(d, o, false)))
		return rc;
	unsigned n = 0;
	if (o->encoding == X86_ENC_XOP)
		n = o->map == 8 ? 1 : o->map == 10 ? 4 : 0;
	else if (vex_imm8(o->map, o->opcode))
		n = 1;
	if ((rc = fetch_imm(d, o, n)))
		return rc;
	return bad ? X86_ERR_INVALID : X86_OK;
}

/* is_vex_escape: C4/C5/62/8F starts a VEX/EVEX/XOP prefix rather than LES/LDS/BOUND/POP. */
static int is_vex_escape(struct dec *d, const struct x86_insn *o, uint8_t b, bool *vex)
{
	uint8_t next;
	*vex = false;
	if (b != 0xc4 && b != 0xc5 && b != 0x62 && b != 0x8f)
		return X86_OK;
	if (o->mode == X86_MODE_REAL)
		return X86_OK; /* not available in real and virtual-8086 mode */
	if (b != 0x8f && is64(o)) {
		*vex = true;
		return X86_OK;
	}
	int rc = peek(d, &next);
	if (rc)
		return rc;
	/* Outside 64-bit mode LES/LDS/BOUND need a memory operand, so mod = 3 means VEX/EVEX;
	 * POP r/m is /0, so a map field >= 8 means XOP (which 64-bit mode shares). */
	*vex = b == 0x8f ? (next & 0x1f) >= 8 : (next & 0xc0) == 0xc0;
	return X86_OK;
}

/* decode_all: the whole instruction into o; the caller fixes up len/need. */
static int decode_all(struct dec *d, struct x86_insn *o)
{
	uint8_t b;
	bool vex;
	int rc = decode_prefixes(d, o, &b);
	if (rc)
		return rc;
	o->rex_w = o->rex & 8;
	o->rex_r = o->rex & 4;
	o->rex_x = o->rex & 2;
	o->rex_b = o->rex & 1;
	if ((rc = is_vex_escape(d, o, b, &vex)))
		return rc;
	if (vex)
		return decode_vex(d, o, b);
	o->opcode_off = (uint8_t)(d->pos - 1);
	if (b == 0x0f) {
		if ((rc = fetch(d, &b)))
			return rc;
		o->map = X86_MAP_0F;
		if (b == 0x38 || b == 0x3a) {
			o->map = b == 0x38 ? X86_MAP_0F38 : X86_MAP_0F3A;
			if ((rc = fetch(d, &b)))
				return rc;
		}
		o->opcode_off = (uint8_t)(d->pos - 1);
	}
	o->opcode = b;
	return decode_legacy(d, o);
}

int x86_decode_ex(const uint8_t *buf, size_t avail, enum x86_mode mode, unsigned flags,
                  struct x86_insn *out)
{
	struct dec d = {.buf = buf, .flags = flags};
	memset(out, 0, sizeof(*out));
	out->mode = (uint8_t)mode;
	out->seg_prefix = X86_SEG_NONE;
	out->mem.base = out->mem.index = X86_REG_NONE;
	if ((unsigned)mode > X86_MODE_LONG64)
		return X86_ERR_INVALID;
	d.avail = buf ? (unsigned)MIN(avail, (size_t)X86_MAX_INSN_LEN) : 0;
	int rc = decode_all(&d, out);
	if (rc == X86_OK) {
		out->len = (uint8_t)d.pos;
		return X86_OK;
	}
	out->len = 0;
	out->need = rc == X86_ERR_TRUNCATED ? (uint8_t)d.need : 0;
	return rc;
}

int x86_decode(const uint8_t *buf, size_t avail, enum x86_mode mode, struct x86_insn *out)
{
	return x86_decode_ex(buf, avail, mode, 0, out);
}
