/*
 * x86 architectural names shared by the instruction decoder (x86_decode.h), the MMIO
 * instruction emulator (x86_emulate.h) and the guest page-table walker (x86_walk.h): execution
 * modes, segment and register numbers, RFLAGS bits and the status codes all three return.
 * Pure header: no hardware access. See docs/x86-emulation.md.
 */
#ifndef TERN_VMM_X86_H
#define TERN_VMM_X86_H

#include "kernel/compiler.h"

/* The longest legal instruction (SDM vol. 2 2.3.11); a longer one raises #GP(0). */
#define X86_MAX_INSN_LEN 15

/*
 * Execution mode of the guest code being decoded, from CR0.PE, RFLAGS.VM, EFER.LMA, CS.L and
 * CS.D. Virtual-8086 mode decodes as X86_MODE_REAL; compatibility mode (LMA=1, CS.L=0) as
 * X86_MODE_PROT16 or X86_MODE_PROT32 by CS.D.
 */
enum x86_mode {
	X86_MODE_REAL,   /* real-address or virtual-8086 mode: 16-bit defaults, no VEX/EVEX/XOP */
	X86_MODE_PROT16, /* protected or compatibility mode, CS.D = 0 */
	X86_MODE_PROT32, /* protected or compatibility mode, CS.D = 1 */
	X86_MODE_LONG64, /* 64-bit mode (EFER.LMA = 1, CS.L = 1) */
};

/* Segment registers, numbered as in the ModRM sreg field (SDM vol. 2 3.1.1.3, Sreg). */
enum x86_seg {
	X86_SEG_ES = 0,
	X86_SEG_CS = 1,
	X86_SEG_SS = 2,
	X86_SEG_DS = 3,
	X86_SEG_FS = 4,
	X86_SEG_GS = 5,
	X86_SEG_NONE = 6, /* no segment-override prefix */
};
#define X86_NR_SEGS 6

/* General-purpose registers, numbered as in ModRM/SIB/REX (SDM vol. 2 2.1.5). */
enum x86_reg {
	X86_RAX,
	X86_RCX,
	X86_RDX,
	X86_RBX,
	X86_RSP,
	X86_RBP,
	X86_RSI,
	X86_RDI,
	X86_R8,
	X86_R9,
	X86_R10,
	X86_R11,
	X86_R12,
	X86_R13,
	X86_R14,
	X86_R15,
};
#define X86_NR_GPRS  16
#define X86_REG_NONE (-1) /* no base / no index register in a memory operand */

/* RFLAGS bits (SDM vol. 1 3.4.3). */
#define X86_RFLAGS_CF    (1ULL << 0)
#define X86_RFLAGS_FIXED (1ULL << 1) /* always 1 */
#define X86_RFLAGS_PF    (1ULL << 2)
#define X86_RFLAGS_AF    (1ULL << 4)
#define X86_RFLAGS_ZF    (1ULL << 6)
#define X86_RFLAGS_SF    (1ULL << 7)
#define X86_RFLAGS_TF    (1ULL << 8)
#define X86_RFLAGS_IF    (1ULL << 9)
#define X86_RFLAGS_DF    (1ULL << 10)
#define X86_RFLAGS_OF    (1ULL << 11)
#define X86_RFLAGS_AC    (1ULL << 18)
/* The six status flags arithmetic instructions define. */
#define X86_RFLAGS_ARITH                                                                           \
	(X86_RFLAGS_CF | X86_RFLAGS_PF | X86_RFLAGS_AF | X86_RFLAGS_ZF | X86_RFLAGS_SF |           \
	 X86_RFLAGS_OF)

/*
 * Status codes. Zero and positive: success; negative: the operation was not completed. Callbacks
 * (memory access, guest-physical reads) return X86_OK or any negative code, which is handed back
 * to the caller unchanged; X86_ERR_FAULT and X86_ERR_RETRY are the conventional ones.
 */
enum x86_status {
	X86_OK = 0,
	X86_PARTIAL = 1,        /* emulate: REP stopped after the iteration cap; RIP not advanced,
	                           registers consistent: resume the guest, it re-executes the rest */
	X86_ERR_TRUNCATED = -1, /* decode: needs more bytes than given (insn->need says how many) */
	X86_ERR_TOO_LONG = -2,  /* decode: longer than 15 bytes: #GP(0) */
	X86_ERR_INVALID = -3,   /* decode: undefined encoding or misused LOCK/VEX prefix: #UD */
	X86_ERR_UNSUPPORTED = -4,  /* emulate: a valid instruction Tern does not emulate */
	X86_ERR_NONCANONICAL = -5, /* emulate/walk: non-canonical address: #GP(0), #SS(0) via SS */
	X86_ERR_FAULT = -6,        /* callback: the access faulted; the callback recorded what to
	                              inject (#PF with its error code, #GP, ...) in its context */
	X86_ERR_RETRY = -7,        /* callback: nothing done, re-enter the guest at the same RIP */
	X86_ERR_PAGE_FAULT = -8,   /* walk: translation failed; inject #PF(pf_error), CR2=linear */
};

/* x86_status_name: short constant name of a status code, for log lines. */
static inline const char *x86_status_name(int rc)
{
	switch (rc) {
	case X86_OK:
		return "ok";
	case X86_PARTIAL:
		return "partial";
	case X86_ERR_TRUNCATED:
		return "truncated";
	case X86_ERR_TOO_LONG:
		return "too-long";
	case X86_ERR_INVALID:
		return "invalid";
	case X86_ERR_UNSUPPORTED:
		return "unsupported";
	case X86_ERR_NONCANONICAL:
		return "non-canonical";
	case X86_ERR_FAULT:
		return "fault";
	case X86_ERR_RETRY:
		return "retry";
	case X86_ERR_PAGE_FAULT:
		return "page-fault";
	default:
		return "error";
	}
}

#endif
