/*
 * x86 instruction emulator for guest MMIO accesses (pure; host-tested against the host CPU in
 * tests/unit/test_x86_emulate.c).
 *
 * Executes one instruction decoded by x86_decode() on a register file, sending every memory
 * access to callbacks on LINEAR addresses. Covered (SDM vol. 2 for each): MOV 88/89/8A/8B,
 * C6/C7 /0, A0-A3 (moffs); MOVZX/MOVSX 0F B6/B7/BE/BF; MOVSXD 63 (64-bit mode); MOVNTI 0F C3;
 * MOVS/STOS/LODS/CMPS/SCAS with and without REP/REPE/REPNE; ADD/OR/ADC/SBB/AND/SUB/XOR/CMP
 * (00-3D, 80-83); TEST (84/85, A8/A9, F6/F7 /0 /1); NOT/NEG (F6/F7 /2 /3); INC/DEC (FE/FF /0
 * /1); XCHG 86/87; BT/BTS/BTR/BTC (0F A3/AB/B3/BB, 0F BA /4-/7); CMPXCHG 0F B0/B1 (memory
 * destination); XADD 0F C0/C1. Register-only forms of these work too. Anything else returns
 * X86_ERR_UNSUPPORTED before touching memory or registers.
 *
 * Linear address = segment base + effective address, the effective address truncated to the
 * address size; in 64-bit mode only the FS/GS bases are added and the result must be
 * canonical, outside it the linear address wraps at 4 GiB. Segment limits and types, CPL, and
 * alignment checks are not applied (the access that trapped already passed them in hardware).
 */
#ifndef TERN_X86_EMULATE_H
#define TERN_X86_EMULATE_H

#include "vmm/x86.h"
#include "vmm/x86_decode.h"

/* Guest register state the emulator reads and updates. */
struct x86_regs {
	uint64_t gpr[X86_NR_GPRS]; /* indexed by enum x86_reg */
	uint64_t rip;              /* of the instruction being emulated */
	uint64_t rflags;
	uint64_t seg_base[X86_NR_SEGS]; /* indexed by enum x86_seg (hidden descriptor bases) */
	bool la57;                      /* CR4.LA57: 57-bit instead of 48-bit canonical check */
};

/*
 * Memory callbacks. seg is the segment the access went through (for #SS vs #GP and for
 * logging), linear the linear address of its first byte, size 1, 2, 4 or 8 bytes; buf holds
 * little-endian data. An access may cross a page boundary: the callback translates each page
 * (or refuses). Return X86_OK or a negative code (X86_ERR_FAULT after recording the exception
 * to inject, X86_ERR_RETRY, or the caller's own); the emulator stops and returns it.
 */
struct x86_emu_ops {
	int (*read)(void *ctx, enum x86_seg seg, uint64_t linear, void *buf, unsigned size);
	int (*write)(void *ctx, enum x86_seg seg, uint64_t linear, const void *buf, unsigned size);
	/* REP iterations done in one call before returning X86_PARTIAL (0: X86_EMU_MAX_REP). */
	unsigned max_rep;
};

#define X86_EMU_MAX_REP 1024

/*
 * x86_emulate: execute in (decoded by x86_decode with X86_OK) against regs.
 * Returns:
 *   X86_OK               done; registers, flags and memory updated, RIP advanced by in->len
 *                        (wrapping at the code size: 16/32 bits outside 64-bit mode).
 *   X86_PARTIAL          REP instruction stopped after ops->max_rep iterations; RCX/RSI/RDI
 *                        (and RAX/flags) reflect the iterations done, RIP unchanged: re-enter
 *                        the guest, which re-executes the instruction for the rest.
 *   X86_ERR_UNSUPPORTED  not emulated; nothing changed.
 *   X86_ERR_INVALID      in was not a successfully decoded instruction, or the operand form
 *                        raises #UD (e.g. 66 0F C3); nothing changed.
 *   X86_ERR_NONCANONICAL 64-bit mode linear address not canonical: inject #GP(0) (#SS(0) if
 *                        in->mem.seg is SS); nothing changed (for REP: the iterations done
 *                        before stay done, RIP unchanged, as on hardware).
 *   callback's code      a read or write failed. Registers are unchanged for non-string
 *                        instructions (a read done before a failed write is not undone);
 *                        for string instructions completed iterations stay done, RIP
 *                        unchanged, as after a fault on hardware.
 * Memory is written only after every read of the instruction (one element at a time for
 * string instructions), and registers only after the write succeeded. Locked and implicitly
 * locked instructions (XCHG) are not atomic against other vCPUs: fine for MMIO, where Tern's
 * device models serialise accesses. CMPXCHG writes memory only when the comparison succeeds.
 */
int x86_emulate(const struct x86_insn *in, struct x86_regs *regs, const struct x86_emu_ops *ops,
                void *ctx);

#endif
