/*
 * Unit tests for vmm/x86_emulate.c with hand-computed expectations: real and 16/32-bit
 * protected mode (segment bases, 16-bit address wrap, 4 GiB linear wrap, IP/EIP wrap), 64-bit
 * FS/GS bases and canonical checks, segments reported to callbacks, callback errors, REP
 * faults, the REP iteration cap, unsupported and invalid instructions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/x86_decode.h"
#include "vmm/x86_emulate.h"

#define MEM_SIZE 0x110000 /* 1 MiB + 64 KiB: everything real mode can address */
#define MAX_LOG  64

/* One access seen by the fake memory. */
struct access {
	enum x86_seg seg;
	uint64_t lin;
	unsigned size;
	bool write;
};

/* Flat fake memory at linear 0 with an access log and error injection. */
struct fake {
	uint8_t *mem;
	unsigned n;
	struct access log[MAX_LOG];
	int fail_at;
	int fail_rc;
};

static struct fake F;

/* fake_access: log, maybe fail, then copy. */
static int fake_access(void *ctx, enum x86_seg seg, uint64_t lin, void *buf, unsigned size,
                       bool write)
{
	struct fake *f = ctx;
	if (f->fail_at >= 0 && f->n == (unsigned)f->fail_at)
		return f->fail_rc;
	if (f->n < MAX_LOG)
		f->log[f->n] = (struct access){seg, lin, size, write};
	f->n++;
	if (lin >= MEM_SIZE || size > MEM_SIZE - lin)
		return X86_ERR_FAULT;
	if (write)
		memcpy(f->mem + lin, buf, size);
	else
		memcpy(buf, f->mem + lin, size);
	return X86_OK;
}

static int fake_read(void *ctx, enum x86_seg seg, uint64_t lin, void *buf, unsigned size)
{
	return fake_access(ctx, seg, lin, buf, size, false);
}

static int fake_write(void *ctx, enum x86_seg seg, uint64_t lin, const void *buf, unsigned size)
{
	return fake_access(ctx, seg, lin, (void *)buf, size, true);
}

static int setup(void **state)
{
	if (!F.mem)
		F.mem = calloc(1, MEM_SIZE);
	memset(F.mem, 0, MEM_SIZE);
	F.n = 0;
	F.fail_at = -1;
	return 0;
}

/* run: decode hex in mode and emulate it on r with the given REP cap. */
static int run(const char *hex, enum x86_mode mode, struct x86_regs *r, unsigned max_rep)
{
	uint8_t b[16];
	size_t n = strlen(hex) / 2;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		b[i] = (uint8_t)v;
	}
	struct x86_insn in;
	int rc = x86_decode(b, n, mode, &in);
	assert_int_equal(rc, X86_OK);
	assert_int_equal(in.len, n);
	struct x86_emu_ops ops = {.read = fake_read, .write = fake_write, .max_rep = max_rep};
	return x86_emulate(&in, r, &ops, &F);
}

/* rd16/rd32/wr32: little-endian fake memory helpers. */
static uint32_t rd16(uint64_t a)
{
	return F.mem[a] | F.mem[a + 1] << 8;
}

static uint32_t rd32(uint64_t a)
{
	return rd16(a) | rd16(a + 2) << 16;
}

static void wr32(uint64_t a, uint32_t v)
{
	memcpy(F.mem + a, &v, 4);
}

static void test_real_mode(void **state)
{
	struct x86_regs r = {.rip = 0x100, .rflags = 2};
	r.seg_base[X86_SEG_DS] = 0x12340;
	r.seg_base[X86_SEG_SS] = 0x20000;
	r.seg_base[X86_SEG_ES] = 0x30000;
	/* mov [bx+si+0x10], ax: BX+SI+0x10 wraps at 64 KiB; upper register bits ignored */
	r.gpr[X86_RBX] = 0xdead0000fff0ULL;
	r.gpr[X86_RSI] = 0x10;
	r.gpr[X86_RAX] = 0x1111222233334444ULL;
	assert_int_equal(run("894010", X86_MODE_REAL, &r, 0), X86_OK);
	assert_int_equal(F.log[0].lin, 0x12340 + 0x10);
	assert_int_equal(F.log[0].seg, X86_SEG_DS);
	assert_int_equal(rd16(0x12350), 0x4444);
	assert_int_equal(r.rip, 0x103);
	/* mov ax, [bp-2]: SS by default; only AX changes */
	r.gpr[X86_RBP] = 0x1;
	F.mem[0x2ffff] = 0xcd, F.mem[0x30000] = 0xab;
	assert_int_equal(run("8b46fe", X86_MODE_REAL, &r, 0), X86_OK);
	assert_int_equal(F.log[1].seg, X86_SEG_SS);
	assert_int_equal(F.log[1].lin, 0x2ffff);
	assert_int_equal(r.gpr[X86_RAX], 0x111122223333abcdULL);
	/* mov ax, es:[0x1234]; IP wraps at 64 KiB */
	wr32(0x31234, 0x5678);
	r.rip = 0xfffe;
	assert_int_equal(run("26a13412", X86_MODE_REAL, &r, 0), X86_OK);
	assert_int_equal(r.gpr[X86_RAX] & 0xffff, 0x5678);
	assert_int_equal(r.rip, 0x2);
	/* 66: 32-bit operand in real mode, zero-extended */
	wr32(0x12340 + 0x20, 0x89abcdef);
	assert_int_equal(run("66a12000", X86_MODE_REAL, &r, 0), X86_OK);
	assert_int_equal(r.gpr[X86_RAX], 0x89abcdefULL);
}

static void test_16bit_strings(void **state)
{
	struct x86_regs r = {.rip = 0x10, .rflags = 2};
	r.seg_base[X86_SEG_ES] = 0x30000;
	r.seg_base[X86_SEG_DS] = 0x10000;
	/* stosw at DI = 0xfffe: DI wraps to 0, upper RDI bits kept */
	r.gpr[X86_RDI] = 0xabcd0000fffeULL;
	r.gpr[X86_RAX] = 0xbeef;
	assert_int_equal(run("ab", X86_MODE_PROT16, &r, 0), X86_OK);
	assert_int_equal(rd16(0x3fffe), 0xbeef);
	assert_int_equal(r.gpr[X86_RDI], 0xabcd00000000ULL);
	/* rep movsb backwards (DF = 1) across SI = 0: CX counts, upper RCX bits kept */
	setup(NULL);
	memcpy(F.mem + 0x10000 + 0xfffe, "AB", 2);
	F.mem[0x10000] = 'C', F.mem[0x10001] = 'D';
	r.rflags = 2 | X86_RFLAGS_DF;
	r.gpr[X86_RSI] = 0x77770001ULL;
	r.gpr[X86_RDI] = 0x0100;
	r.gpr[X86_RCX] = 0x5555000000000004ULL;
	assert_int_equal(run("f3a4", X86_MODE_PROT16, &r, 0), X86_OK);
	assert_memory_equal(F.mem + 0x300fd, "ABCD", 4);
	assert_int_equal(r.gpr[X86_RSI], 0x7777fffdULL);
	assert_int_equal(r.gpr[X86_RDI], 0x00fc);
	assert_int_equal(r.gpr[X86_RCX], 0x5555000000000000ULL);
	assert_int_equal(r.rip, 0x13); /* 0x10 + stosw + rep movsb */
	/* 67 in 16-bit code: ESI/EDI/ECX (32-bit registers, zero-extended when written) */
	setup(NULL);
	r.rflags = 2;
	r.seg_base[X86_SEG_DS] = 0;
	r.seg_base[X86_SEG_ES] = 0;
	r.gpr[X86_RSI] = 0xffffffff00010000ULL;
	r.gpr[X86_RDI] = 0x20000;
	r.gpr[X86_RCX] = 2;
	wr32(0x10000, 0x44332211);
	assert_int_equal(run("67f3a5", X86_MODE_PROT16, &r, 0), X86_OK); /* rep movsw */
	assert_int_equal(rd32(0x20000), 0x44332211);
	assert_int_equal(r.gpr[X86_RSI], 0x10004);
	assert_int_equal(r.gpr[X86_RCX], 0);
}

static void test_32bit(void **state)
{
	struct x86_regs r = {.rip = 0xfffffffe, .rflags = 2};
	/* mov eax, [eax+0x2000] with DS base 0xfffff000: linear wraps at 4 GiB */
	r.seg_base[X86_SEG_DS] = 0xfffff000;
	r.gpr[X86_RAX] = 0xffffffff00000000ULL; /* upper half ignored */
	wr32(0x1000, 0xcafef00d);
	assert_int_equal(run("8b8000200000", X86_MODE_PROT32, &r, 0), X86_OK);
	assert_int_equal(F.log[0].lin, 0x1000);
	assert_int_equal(r.gpr[X86_RAX], 0xcafef00dULL); /* 32-bit writes zero-extend */
	assert_int_equal(r.rip, 4);                      /* EIP wraps */
	/* 67: 16-bit addressing in 32-bit code: mov eax, [bx] */
	r.seg_base[X86_SEG_DS] = 0x40000;
	r.gpr[X86_RBX] = 0x12345678ULL;
	wr32(0x45678, 0x600d);
	assert_int_equal(run("678b07", X86_MODE_PROT32, &r, 0), X86_OK);
	assert_int_equal(r.gpr[X86_RAX], 0x600d);
	/* mov [eax], ah without REX: AH */
	r.seg_base[X86_SEG_DS] = 0;
	r.gpr[X86_RAX] = 0x9000;
	assert_int_equal(run("8820", X86_MODE_PROT32, &r, 0), X86_OK);
	assert_int_equal(F.mem[0x9000], 0x90);
	/* [esp] uses SS, ss:/cs: overrides are honoured */
	r.seg_base[X86_SEG_SS] = 0x50000;
	r.seg_base[X86_SEG_CS] = 0x60000;
	r.gpr[X86_RSP] = 0x10;
	F.n = 0;
	assert_int_equal(run("c7042401000000", X86_MODE_PROT32, &r, 0), X86_OK);
	assert_int_equal(F.log[0].seg, X86_SEG_SS);
	assert_int_equal(rd32(0x50010), 1);
	assert_int_equal(run("2e0fb60424", X86_MODE_PROT32, &r, 0),
	                 X86_OK); /* movzx eax, cs:[esp] */
	assert_int_equal(F.log[1].seg, X86_SEG_CS);
	assert_int_equal(F.log[1].lin, 0x60010);
	/* movs: source DS (overridable: fs), destination always ES */
	r.seg_base[X86_SEG_FS] = 0x70000;
	r.seg_base[X86_SEG_ES] = 0x80000;
	r.gpr[X86_RSI] = 0x4;
	r.gpr[X86_RDI] = 0x8;
	F.n = 0;
	assert_int_equal(run("64a5", X86_MODE_PROT32, &r, 0), X86_OK);
	assert_int_equal(F.log[0].seg, X86_SEG_FS);
	assert_int_equal(F.log[0].lin, 0x70004);
	assert_int_equal(F.log[1].seg, X86_SEG_ES);
	assert_int_equal(F.log[1].lin, 0x80008);
	assert_true(F.log[1].write);
}

static void test_64bit_segments(void **state)
{
	struct x86_regs r = {.rip = 0x1000, .rflags = 2};
	/* DS/ES/SS bases are ignored; FS/GS are added */
	r.seg_base[X86_SEG_DS] = 0x5000;
	r.seg_base[X86_SEG_FS] = 0x40000;
	r.seg_base[X86_SEG_GS] = 0x50000;
	r.gpr[X86_RAX] = 0x10;
	wr32(0x10, 0x11);
	wr32(0x40010, 0x22);
	wr32(0x50010, 0x33);
	assert_int_equal(run("8b00", X86_MODE_LONG64, &r, 0), X86_OK);
	assert_int_equal(r.gpr[X86_RAX], 0x11);
	r.gpr[X86_RAX] = 0x10;
	assert_int_equal(run("648b00", X86_MODE_LONG64, &r, 0), X86_OK);
	assert_int_equal(r.gpr[X86_RAX], 0x22);
	r.gpr[X86_RAX] = 0x10;
	assert_int_equal(run("65268b00", X86_MODE_LONG64, &r, 0), X86_OK);
	assert_int_equal(r.gpr[X86_RAX], 0x33);
	/* RIP-relative: next RIP + disp */
	wr32(0x2000, 0x44);
	r.rip = 0x1ff0;
	assert_int_equal(run("8b0d0a000000", X86_MODE_LONG64, &r, 0), X86_OK); /* ecx,[rip+10] */
	assert_int_equal(r.gpr[X86_RCX], 0x44);
	/* 67: EIP-relative and 32-bit EA wrap */
	r.gpr[X86_RBX] = 0xffffffffULL;
	wr32(0x0f, 0x55);
	assert_int_equal(run("678b4310", X86_MODE_LONG64, &r, 0), X86_OK); /* eax, [ebx+0x10] */
	assert_int_equal(r.gpr[X86_RAX], 0x55);
}

static void test_noncanonical(void **state)
{
	struct x86_regs r = {.rip = 0x1000, .rflags = 2}, before;
	r.gpr[X86_RAX] = 0x0000800000000000ULL;
	before = r;
	assert_int_equal(run("8b00", X86_MODE_LONG64, &r, 0), X86_ERR_NONCANONICAL);
	assert_memory_equal(&r, &before, sizeof(r));
	assert_int_equal(F.n, 0);
	/* the last byte non-canonical */
	r.gpr[X86_RAX] = 0x00007ffffffffffcULL;
	assert_int_equal(run("488b00", X86_MODE_LONG64, &r, 0), X86_ERR_NONCANONICAL);
	/* with LA57 the first one is canonical (and outside the fake memory: fault) */
	r.la57 = true;
	r.gpr[X86_RAX] = 0x0000800000000000ULL;
	assert_int_equal(run("8b00", X86_MODE_LONG64, &r, 0), X86_ERR_FAULT);
	r.gpr[X86_RAX] = 0x0100000000000000ULL;
	assert_int_equal(run("8b00", X86_MODE_LONG64, &r, 0), X86_ERR_NONCANONICAL);
	/* via an FS base */
	r.la57 = false;
	r.seg_base[X86_SEG_FS] = 0xffff800000000000ULL;
	r.gpr[X86_RAX] = 0;
	assert_int_equal(run("648b00", X86_MODE_LONG64, &r, 0), X86_ERR_FAULT); /* canonical */
	r.seg_base[X86_SEG_FS] = 0xff00000000000000ULL;
	assert_int_equal(run("648b00", X86_MODE_LONG64, &r, 0), X86_ERR_NONCANONICAL);
}

static void test_errors(void **state)
{
	struct x86_regs r = {.rip = 0x1000, .rflags = 2 | X86_RFLAGS_CF}, before;
	r.gpr[X86_RAX] = 0x100;
	r.gpr[X86_RCX] = 0x7;
	before = r;
	/* a failing read or write changes nothing */
	F.fail_at = 0, F.fail_rc = X86_ERR_RETRY;
	assert_int_equal(run("0108", X86_MODE_LONG64, &r, 0), X86_ERR_RETRY); /* add [rax], ecx */
	assert_memory_equal(&r, &before, sizeof(r));
	F.n = 0, F.fail_at = 1, F.fail_rc = X86_ERR_FAULT;
	assert_int_equal(run("0108", X86_MODE_LONG64, &r, 0), X86_ERR_FAULT);
	assert_memory_equal(&r, &before, sizeof(r));
	F.n = 0, F.fail_at = 1, F.fail_rc = -1000; /* the caller's own code comes back */
	assert_int_equal(run("870d00000000", X86_MODE_LONG64, &r, 0), -1000);
	assert_memory_equal(&r, &before, sizeof(r));
	/* unsupported: nothing read, nothing changed */
	F.n = 0, F.fail_at = -1;
	static const char *unsup[] = {"f730",     "f720", "d120",         "0f1000",
	                              "c5f81000", "ff30", "c7f800000000", "8c00",
	                              "0fb1c8",   "0fc8", "62f17c481000", "0f38f000",
	                              "0fbc00",   "6c",   "d9c0"};
	for (size_t i = 0; i < ARRAY_SIZE(unsup); i++) {
		if (run(unsup[i], X86_MODE_LONG64, &r, 0) != X86_ERR_UNSUPPORTED)
			fail_msg("%s emulated", unsup[i]);
		assert_memory_equal(&r, &before, sizeof(r));
	}
	assert_int_equal(run("6300", X86_MODE_PROT32, &r, 0), X86_ERR_UNSUPPORTED); /* ARPL */
	assert_int_equal(F.n, 0);
	/* MOVNTI with a 66 prefix is #UD */
	assert_int_equal(run("660fc300", X86_MODE_LONG64, &r, 0), X86_ERR_INVALID);
	/* an instruction that did not decode */
	struct x86_insn bad;
	struct x86_emu_ops ops = {.read = fake_read, .write = fake_write};
	assert_int_equal(x86_decode((const uint8_t *)"\x0f", 1, X86_MODE_LONG64, &bad),
	                 X86_ERR_TRUNCATED);
	assert_int_equal(x86_emulate(&bad, &r, &ops, &F), X86_ERR_INVALID);
	assert_memory_equal(&r, &before, sizeof(r));
}

static void test_rep_fault_and_cap(void **state)
{
	struct x86_regs r = {.rip = 0x1000, .rflags = 2};
	/* fault on the 5th element: 4 done, registers say so, RIP unchanged */
	r.gpr[X86_RDI] = 0x100;
	r.gpr[X86_RCX] = 10;
	r.gpr[X86_RAX] = 0x5a;
	F.fail_at = 4, F.fail_rc = X86_ERR_FAULT;
	assert_int_equal(run("f3aa", X86_MODE_LONG64, &r, 0), X86_ERR_FAULT);
	assert_int_equal(r.gpr[X86_RCX], 6);
	assert_int_equal(r.gpr[X86_RDI], 0x104);
	assert_int_equal(r.rip, 0x1000);
	assert_memory_equal(F.mem + 0x100, "\x5a\x5a\x5a\x5a\x00", 5);
	/* the guest re-executes: the rest is done */
	F.fail_at = -1;
	assert_int_equal(run("f3aa", X86_MODE_LONG64, &r, 0), X86_OK);
	assert_int_equal(r.gpr[X86_RCX], 0);
	assert_int_equal(r.gpr[X86_RDI], 0x10a);
	assert_int_equal(r.rip, 0x1002);
	/* RCX = 0: nothing at all, RIP advances */
	F.n = 0;
	assert_int_equal(run("f348ab", X86_MODE_LONG64, &r, 0), X86_OK);
	assert_int_equal(F.n, 0);
	assert_int_equal(r.rip, 0x1005);
	/* huge RCX: bounded by the cap, PARTIAL with consistent registers */
	r.rip = 0x1000;
	r.gpr[X86_RCX] = ~0ULL;
	r.gpr[X86_RSI] = 0x200;
	F.n = 0;
	assert_int_equal(run("f3ac", X86_MODE_LONG64, &r, 16), X86_PARTIAL); /* rep lodsb */
	assert_int_equal(F.n, 16);
	assert_int_equal(r.gpr[X86_RCX], ~0ULL - 16);
	assert_int_equal(r.gpr[X86_RSI], 0x210);
	assert_int_equal(r.rip, 0x1000);
	/* default cap */
	F.n = 0;
	assert_int_equal(run("f3ac", X86_MODE_LONG64, &r, 0), X86_PARTIAL);
	assert_int_equal(F.n, X86_EMU_MAX_REP);
	/* REPE CMPSB stops at the first difference even with a cap left */
	setup(NULL);
	memcpy(F.mem + 0x300, "abcdef", 6);
	memcpy(F.mem + 0x400, "abcxef", 6);
	r.gpr[X86_RSI] = 0x300, r.gpr[X86_RDI] = 0x400, r.gpr[X86_RCX] = 6;
	assert_int_equal(run("f3a6", X86_MODE_LONG64, &r, 100), X86_OK);
	assert_int_equal(r.gpr[X86_RCX], 2);
	assert_int_equal(r.gpr[X86_RSI], 0x304);
	assert_false(r.rflags & X86_RFLAGS_ZF);
	assert_true(r.rflags & X86_RFLAGS_CF); /* 'd' < 'x' */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_real_mode, setup),
	    cmocka_unit_test_setup(test_16bit_strings, setup),
	    cmocka_unit_test_setup(test_32bit, setup),
	    cmocka_unit_test_setup(test_64bit_segments, setup),
	    cmocka_unit_test_setup(test_noncanonical, setup),
	    cmocka_unit_test_setup(test_errors, setup),
	    cmocka_unit_test_setup(test_rep_fault_and_cap, setup),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(F.mem);
	return rc;
}
