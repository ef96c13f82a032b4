/*
 * x86 instruction decoder (pure; host-tested against objdump in tests/unit/test_x86_decode.c).
 *
 * Decodes one instruction from guest bytes in real, 16/32-bit protected (and compatibility) and
 * 64-bit mode: legacy prefixes (any number, any order, within 15 bytes), REX, the one-byte,
 * 0F, 0F38 and 0F3A opcode maps, VEX2/VEX3, EVEX and AMD XOP, ModRM/SIB/displacement with 16-
 * and 32/64-bit addressing, RIP-relative operands, moffs and every immediate size. It reports
 * the length (SVM without NextRIP needs it for every intercepted instruction) and the operands
 * the MMIO emulator (x86_emulate.h) uses. Encoding rules: SDM vol. 2 chapter 2 and appendix A,
 * APM vol. 3 chapter 1.
 *
 * The bytes are untrusted: the decoder never reads past avail (or past 15 bytes) and tells
 * "give me more bytes" (X86_ERR_TRUNCATED) apart from "longer than 15" (X86_ERR_TOO_LONG) and
 * "undefined" (X86_ERR_INVALID). Validity is checked fully for the one-byte and 0F maps
 * (undefined opcodes, opcodes invalid in 64-bit mode, undefined group members, register-only
 * forms of memory-only instructions, LOCK on a non-lockable instruction or register
 * destination, legacy/REX prefixes before VEX/EVEX/XOP); the 0F38/0F3A maps and the VEX/EVEX/XOP
 * spaces are decoded for length with every opcode of a supported map taken as defined.
 */
#ifndef TERN_X86_DECODE_H
#define TERN_X86_DECODE_H

#include "vmm/x86.h"

/* Prefix bits in x86_insn.prefixes (SDM vol. 2 2.1.1). */
#define X86_PFX_LOCK     (1u << 0) /* F0 */
#define X86_PFX_REPNE    (1u << 1) /* F2 seen (REPNE/REPNZ, or a mandatory prefix) */
#define X86_PFX_REP      (1u << 2) /* F3 seen (REP/REPE, or a mandatory prefix) */
#define X86_PFX_OPSIZE   (1u << 3) /* 66 */
#define X86_PFX_ADDRSIZE (1u << 4) /* 67 */
#define X86_PFX_SEG      (1u << 5) /* some segment-override byte (honoured or not) */

/* How the opcode was encoded. */
enum x86_encoding {
	X86_ENC_LEGACY, /* optional legacy prefixes and REX, then an opcode in map 0..3 */
	X86_ENC_VEX,    /* C5 (2-byte) or C4 (3-byte) VEX, map 1..3 */
	X86_ENC_EVEX,   /* 62 EVEX, map 1..3, 5, 6 */
	X86_ENC_XOP,    /* AMD 8F XOP, map 8..10 */
};

/* Opcode maps for X86_ENC_LEGACY (VEX/EVEX/XOP use their own map numbers, 1 = 0F etc.). */
enum x86_map {
	X86_MAP_PRIMARY = 0, /* one-byte opcodes */
	X86_MAP_0F = 1,
	X86_MAP_0F38 = 2,
	X86_MAP_0F3A = 3,
};

/* A decoded memory operand (ModRM with mod != 3, or moffs). */
struct x86_mem {
	int8_t base;       /* GPR number, or X86_REG_NONE */
	int8_t index;      /* GPR number (vector register for VSIB), or X86_REG_NONE */
	uint8_t scale;     /* 1, 2, 4 or 8 */
	bool rip_rel;      /* base is the address of the next instruction (64-bit mode) */
	uint8_t seg;       /* enum x86_seg in effect: the override, else DS or SS (rBP/rSP base) */
	uint8_t disp_size; /* displacement bytes in the encoding: 0, 1, 2, 4 or 8 (moffs) */
	int64_t disp;      /* sign-extended displacement; the zero-extended offset for moffs. EVEX
	                      disp8 is stored unscaled (disp8*N compression is not applied) */
};

/* One decoded instruction. Fields not listed for an encoding are zero. */
struct x86_insn {
	uint8_t mode;       /* enum x86_mode it was decoded for */
	uint8_t len;        /* total length 1..15 (0 when decoding failed) */
	uint8_t need;       /* on X86_ERR_TRUNCATED: bytes needed at least (more may follow) */
	uint8_t encoding;   /* enum x86_encoding */
	uint8_t map;        /* enum x86_map for legacy; VEX/EVEX/XOP map field otherwise */
	uint8_t opcode;     /* opcode byte within the map */
	uint8_t opcode_off; /* offset of the opcode byte (after prefixes and escapes) */
	uint32_t prefixes;  /* X86_PFX_* */
	uint8_t rep;        /* last of F2/F3 (it wins: REP kind / mandatory prefix), or 0 */
	uint8_t seg_prefix; /* enum x86_seg of the honoured override (in 64-bit mode only FS/GS
	                       are honoured), X86_SEG_NONE if none */
	uint8_t rex;        /* REX byte in effect (40..4F, 64-bit mode, right before the opcode) */
	/* Register-extension bits in effect, from REX or VEX/EVEX/XOP (0 outside 64-bit mode). */
	bool rex_w, rex_r, rex_x, rex_b;
	uint8_t opsize;   /* effective operand size in bytes for "v"-sized operands: 2, 4 or 8 */
	uint8_t addrsize; /* effective address size in bytes: 2, 4 or 8 */
	bool has_modrm;
	uint8_t modrm; /* raw ModRM byte; group opcode extension = (modrm >> 3) & 7 */
	uint8_t mod;   /* ModRM.mod */
	uint8_t reg;   /* ModRM.reg extended by REX.R / VEX.R (0..15) */
	uint8_t rm;    /* ModRM.rm extended by REX.B / VEX.B (0..15): the register when !has_mem */
	bool has_sib;
	uint8_t sib;
	bool has_mem; /* a memory operand was decoded into mem */
	struct x86_mem mem;
	uint8_t imm_size;  /* bytes of the first immediate (0 if none) */
	uint8_t imm2_size; /* bytes of the second immediate (ENTER, far pointer, EXTRQ/INSERTQ) */
	int64_t imm;       /* first immediate, sign-extended from imm_size bytes (rel for branches,
	                      the offset for far pointers) */
	uint64_t imm2;     /* second immediate, zero-extended (far pointer selector etc.) */
	/* VEX/EVEX/XOP payload (inverted fields already un-inverted). */
	struct {
		uint8_t vvvv; /* extra register operand, 0..15 */
		uint8_t l;    /* vector length: 0 = 128, 1 = 256, 2 = 512 (EVEX L'L) */
		uint8_t pp;   /* implied prefix: 0 none, 1 = 66, 2 = F3, 3 = F2 */
		bool r2, v2;  /* EVEX R' and V' (high register bits) */
		uint8_t aaa;  /* EVEX opmask register */
		bool z, b;    /* EVEX zeroing, broadcast/rounding */
	} vex;
};

/* Flags for x86_decode_ex. */
#define X86_DECODE_INTEL64                                                                         \
	(1u << 0) /* Intel 64 semantics: in 64-bit mode a 66 prefix does not                       \
	             shrink near-branch displacements (E8, E9, 0F 8x) to 16                        \
	             bits. Default: AMD64 semantics (66 gives rel16). */

/*
 * x86_decode: decode the instruction at buf[0..avail) in the given mode (AMD64 semantics).
 * Returns X86_OK (out->len set), X86_ERR_TRUNCATED (out->need = bytes needed at least; fetch
 * more and call again), X86_ERR_TOO_LONG (#GP), or X86_ERR_INVALID (#UD). out is always fully
 * written; on failure out->len is 0.
 */
int x86_decode(const uint8_t *buf, size_t avail, enum x86_mode mode, struct x86_insn *out);
/* x86_decode_ex: x86_decode with X86_DECODE_* flags (vendor differences). */
int x86_decode_ex(const uint8_t *buf, size_t avail, enum x86_mode mode, unsigned flags,
                  struct x86_insn *out);

#endif
