/*
 * Unit tests for vmm/x86_decode.c: lengths against binutils objdump on ~17k encodings
 * (tests/unit/x86_decode_cases.h, from gen_x86_decode_cases.py), truncation at every byte,
 * the 15-byte limit, prefix rules, operand decoding, validity rules, random bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/x86_decode.h"

struct x86_case {
	uint8_t mode; /* 1 = 16-bit, 2 = 32-bit, 3 = 64-bit (enum x86_mode values) */
	uint8_t intel;
	const char *hex;
};
#include "x86_decode_cases.h"

/* unhex: parse a hex string into buf; returns the byte count. */
static size_t unhex(const char *hex, uint8_t *buf, size_t max)
{
	size_t n = strlen(hex) / 2;
	assert_true(n <= max);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		buf[i] = (uint8_t)v;
	}
	return n;
}

/* dec: decode a hex string in mode with unlimited trailing bytes (NOP padding). */
static int dec(const char *hex, enum x86_mode mode, struct x86_insn *in)
{
	uint8_t buf[32];
	memset(buf, 0x90, sizeof(buf));
	size_t n = unhex(hex, buf, sizeof(buf));
	(void)n;
	return x86_decode(buf, sizeof(buf), mode, in);
}

/* dec_len: length of a hex instruction, or the negative status. */
static int dec_len(const char *hex, enum x86_mode mode)
{
	struct x86_insn in;
	int rc = dec(hex, mode, &in);
	return rc ? rc : in.len;
}

/* decode_exact: decode from a heap copy of exactly avail bytes (ASan catches overreads). */
static int decode_exact(const uint8_t *bytes, size_t avail, enum x86_mode mode, unsigned flags,
                        struct x86_insn *in)
{
	uint8_t *p = malloc(avail ? avail : 1);
	memcpy(p, bytes, avail);
	int rc = x86_decode_ex(p, avail, mode, flags, in);
	free(p);
	return rc;
}

static void test_objdump_lengths(void **state)
{
	size_t n = sizeof(x86_cases) / sizeof(x86_cases[0]), checked = 0;
	for (size_t i = 0; i < n; i++) {
		const struct x86_case *c = &x86_cases[i];
		unsigned flags = c->intel ? X86_DECODE_INTEL64 : 0;
		uint8_t buf[X86_MAX_INSN_LEN + 8];
		memset(buf, 0xcc, sizeof(buf));
		size_t len = unhex(c->hex, buf, X86_MAX_INSN_LEN);
		struct x86_insn in;
		int rc = decode_exact(buf, len, (enum x86_mode)c->mode, flags, &in);
		if (rc != X86_OK || in.len != len)
			fail_msg("mode %u %s: rc %d len %u", c->mode, c->hex, rc, in.len);
		/* the same with trailing bytes available */
		rc = x86_decode_ex(buf, sizeof(buf), (enum x86_mode)c->mode, flags, &in);
		assert_int_equal(rc, X86_OK);
		assert_int_equal(in.len, len);
		/* every shorter prefix is reported truncated, needing exactly one more byte */
		for (size_t k = 0; k < len; k++) {
			rc = decode_exact(buf, k, (enum x86_mode)c->mode, flags, &in);
			if (rc != X86_ERR_TRUNCATED || in.need != k + 1)
				fail_msg("%s avail %zu: rc %d need %u", c->hex, k, rc, in.need);
			assert_int_equal(in.len, 0);
		}
		checked++;
	}
	assert_true(checked > 10000);
	printf("  %zu objdump encodings checked\n", checked);
}

static void test_length_limit(void **state)
{
	uint8_t buf[32];
	struct x86_insn in;
	/* 13 prefixes + 8B 00 = 15 bytes: fine; one more prefix: #GP */
	memset(buf, 0x26, sizeof(buf));
	buf[13] = 0x8b, buf[14] = 0x00;
	assert_int_equal(x86_decode(buf, 15, X86_MODE_PROT32, &in), X86_OK);
	assert_int_equal(in.len, 15);
	memset(buf, 0x26, sizeof(buf));
	buf[14] = 0x8b, buf[15] = 0x00;
	assert_int_equal(x86_decode(buf, 32, X86_MODE_PROT32, &in), X86_ERR_TOO_LONG);
	assert_int_equal(in.len, 0);
	assert_int_equal(x86_decode(buf, 15, X86_MODE_PROT32, &in), X86_ERR_TOO_LONG);
	assert_int_equal(x86_decode(buf, 14, X86_MODE_PROT32, &in), X86_ERR_TRUNCATED);
	assert_int_equal(in.need, 15);
	/* only prefixes */
	memset(buf, 0x66, sizeof(buf));
	assert_int_equal(x86_decode(buf, 32, X86_MODE_LONG64, &in), X86_ERR_TOO_LONG);
	/* 11 prefixes + 48 C7 80 disp32 imm32 would be 21 bytes */
	assert_int_equal(dec_len("666666666666666666666648c7801122334455667788", X86_MODE_LONG64),
	                 X86_ERR_TOO_LONG);
	/* the immediate crossing byte 15 */
	assert_int_equal(dec_len("2e2e2e2e2e2e2e2ec7801122334455667788", X86_MODE_PROT32),
	                 X86_ERR_TOO_LONG);
	assert_int_equal(dec_len("2e2e2e2e2ec7801122334455667788", X86_MODE_PROT32), 15);
	/* nothing to decode */
	assert_int_equal(x86_decode(NULL, 0, X86_MODE_LONG64, &in), X86_ERR_TRUNCATED);
	assert_int_equal(in.need, 1);
	assert_int_equal(x86_decode(NULL, 100, X86_MODE_LONG64, &in), X86_ERR_TRUNCATED);
	assert_int_equal(x86_decode(buf, 1, (enum x86_mode)7, &in), X86_ERR_INVALID);
}

static void test_prefix_rules(void **state)
{
	struct x86_insn in;
	/* a REX followed by a legacy prefix is ignored */
	assert_int_equal(dec("486689c8", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.len, 4);
	assert_int_equal(in.rex, 0);
	assert_int_equal(in.opsize, 2);
	/* REX.W beats 66 */
	assert_int_equal(dec("664889c8", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.opsize, 8);
	assert_int_equal(in.rex, 0x48);
	assert_true(in.rex_w);
	/* the last REX counts */
	assert_int_equal(dec("414889c8", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.rex, 0x48);
	assert_int_equal(in.rm, 0);
	/* 40-4F are INC/DEC outside 64-bit mode */
	assert_int_equal(dec_len("48", X86_MODE_PROT32), 1);
	/* last of F2/F3 wins */
	assert_int_equal(dec("f3f2a4", X86_MODE_PROT32, &in), X86_OK);
	assert_int_equal(in.rep, 0xf2);
	assert_true(in.prefixes & X86_PFX_REP);
	assert_true(in.prefixes & X86_PFX_REPNE);
	/* operand/address size defaults per mode */
	assert_int_equal(dec("8b00", X86_MODE_REAL, &in), X86_OK);
	assert_int_equal(in.opsize, 2);
	assert_int_equal(in.addrsize, 2);
	assert_int_equal(dec("66678b00", X86_MODE_PROT16, &in), X86_OK);
	assert_int_equal(in.opsize, 4);
	assert_int_equal(in.addrsize, 4);
	assert_int_equal(dec("66678b00", X86_MODE_PROT32, &in), X86_OK);
	assert_int_equal(in.opsize, 2);
	assert_int_equal(in.addrsize, 2);
	assert_int_equal(dec("678b00", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.opsize, 4);
	assert_int_equal(in.addrsize, 4);
	assert_int_equal(dec("50", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.opsize, 8); /* push defaults to 64 bits */
	/* segment overrides: in 64-bit mode only FS/GS are honoured */
	assert_int_equal(dec("2e8b00", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.seg_prefix, X86_SEG_NONE);
	assert_int_equal(in.mem.seg, X86_SEG_DS);
	assert_true(in.prefixes & X86_PFX_SEG);
	assert_int_equal(dec("642e8b00", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.mem.seg, X86_SEG_FS);
	assert_int_equal(dec("65368b00", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.mem.seg, X86_SEG_GS);
	assert_int_equal(dec("2e8b00", X86_MODE_PROT32, &in), X86_OK);
	assert_int_equal(in.mem.seg, X86_SEG_CS);
	assert_int_equal(dec("64268b45f8", X86_MODE_PROT32, &in), X86_OK);
	assert_int_equal(in.mem.seg, X86_SEG_ES);
}

static void test_memory_operands(void **state)
{
	struct x86_insn in;
	/* 32-bit SIB: mov eax, [ebx+ecx*4+0x10] */
	assert_int_equal(dec("8b448b10", X86_MODE_PROT32, &in), X86_OK);
	assert_true(in.has_mem && in.has_sib);
	assert_int_equal(in.mem.base, X86_RBX);
	assert_int_equal(in.mem.index, X86_RCX);
	assert_int_equal(in.mem.scale, 4);
	assert_int_equal(in.mem.disp, 0x10);
	assert_int_equal(in.mem.seg, X86_SEG_DS);
	assert_int_equal(in.reg, X86_RAX);
	/* [ebp-8] and [esp] default to SS */
	assert_int_equal(dec("8b45f8", X86_MODE_PROT32, &in), X86_OK);
	assert_int_equal(in.mem.base, X86_RBP);
	assert_int_equal(in.mem.disp, -8);
	assert_int_equal(in.mem.seg, X86_SEG_SS);
	assert_int_equal(dec("8b0424", X86_MODE_PROT32, &in), X86_OK);
	assert_int_equal(in.mem.base, X86_RSP);
	assert_int_equal(in.mem.index, X86_REG_NONE);
	assert_int_equal(in.mem.seg, X86_SEG_SS);
	/* r13 base needs a displacement and is not SS; r12 base needs a SIB */
	assert_int_equal(dec("418b4500", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.len, 4);
	assert_int_equal(in.mem.base, X86_R13);
	assert_int_equal(in.mem.seg, X86_SEG_DS);
	assert_int_equal(dec("418b0424", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.mem.base, X86_R12);
	assert_int_equal(in.mem.index, X86_REG_NONE);
	/* REX.X with index 4 is r12 */
	assert_int_equal(dec("428b0420", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.mem.index, X86_R12);
	assert_int_equal(in.mem.base, X86_RAX);
	/* SIB with no base: disp32, also with REX.B */
	assert_int_equal(dec("418b04257856341200", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.len, 8);
	assert_int_equal(in.mem.base, X86_REG_NONE);
	assert_int_equal(in.mem.disp, 0x12345678);
	/* RIP- and EIP-relative */
	assert_int_equal(dec("8b05f0ffffff", X86_MODE_LONG64, &in), X86_OK);
	assert_true(in.mem.rip_rel);
	assert_int_equal(in.mem.disp, -16);
	assert_int_equal(dec("678b0510000000", X86_MODE_LONG64, &in), X86_OK);
	assert_true(in.mem.rip_rel);
	assert_int_equal(in.addrsize, 4);
	assert_int_equal(dec("8b0510000000", X86_MODE_PROT32, &in), X86_OK);
	assert_false(in.mem.rip_rel);
	assert_int_equal(in.mem.base, X86_REG_NONE);
	/* 16-bit forms */
	assert_int_equal(dec("8b4210", X86_MODE_REAL, &in), X86_OK);
	assert_int_equal(in.mem.base, X86_RBP);
	assert_int_equal(in.mem.index, X86_RSI);
	assert_int_equal(in.mem.seg, X86_SEG_SS);
	assert_int_equal(dec("8b063412", X86_MODE_REAL, &in), X86_OK);
	assert_int_equal(in.mem.base, X86_REG_NONE);
	assert_int_equal(in.mem.disp, 0x1234);
	assert_int_equal(dec("8b46fe", X86_MODE_REAL, &in), X86_OK);
	assert_int_equal(in.mem.base, X86_RBP);
	assert_int_equal(in.mem.index, X86_REG_NONE);
	assert_int_equal(in.mem.disp, -2);
	assert_int_equal(dec("8b873412", X86_MODE_PROT16, &in), X86_OK);
	assert_int_equal(in.mem.base, X86_RBX);
	assert_int_equal(in.mem.disp, 0x1234);
	/* moffs: address-size offsets, zero-extended */
	assert_int_equal(dec("a18877665544332211", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.len, 9);
	assert_int_equal((uint64_t)in.mem.disp, 0x1122334455667788ULL);
	assert_int_equal(dec("67a1f0debc9a", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.len, 6);
	assert_int_equal(in.mem.disp, 0x9abcdef0);
	assert_int_equal(dec("a3feff", X86_MODE_REAL, &in), X86_OK);
	assert_int_equal(in.len, 3);
	assert_int_equal(in.mem.disp, 0xfffe);
	/* MOV CR ignores mod: no memory operand */
	assert_int_equal(dec("0f2000", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.len, 3);
	assert_false(in.has_mem);
	assert_int_equal(dec("440f20c0", X86_MODE_LONG64, &in), X86_OK); /* mov rax, cr8 */
	assert_int_equal(in.reg, 8);
}

static void test_immediates(void **state)
{
	struct x86_insn in;
	assert_int_equal(dec("48b88877665544332211", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.len, 10);
	assert_int_equal((uint64_t)in.imm, 0x1122334455667788ULL);
	assert_int_equal(dec_len("66b83412", X86_MODE_LONG64), 4);
	assert_int_equal(dec_len("b83412", X86_MODE_REAL), 3);
	assert_int_equal(dec("48c700ffffffff", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.imm, -1);
	assert_int_equal(in.imm_size, 4);
	assert_int_equal(dec("8300f0", X86_MODE_PROT32, &in), X86_OK);
	assert_int_equal(in.imm, -16);
	/* ENTER, far pointers */
	assert_int_equal(dec("c8001003", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.imm, 0x1000);
	assert_int_equal(in.imm2, 3);
	assert_int_equal(dec("ea785634121000", X86_MODE_PROT32, &in), X86_OK);
	assert_int_equal(in.len, 7);
	assert_int_equal(in.imm, 0x12345678);
	assert_int_equal(in.imm2, 0x10);
	assert_int_equal(dec_len("ea34120010", X86_MODE_REAL), 5);
	/* group 3: only TEST has an immediate */
	assert_int_equal(dec_len("f60012", X86_MODE_PROT32), 3);
	assert_int_equal(dec_len("f610", X86_MODE_PROT32), 2);
	assert_int_equal(dec_len("f70078563412", X86_MODE_PROT32), 6);
	assert_int_equal(dec_len("66f7003412", X86_MODE_PROT32), 5);
	assert_int_equal(dec_len("f7d8", X86_MODE_LONG64), 2);
	/* XBEGIN / XABORT */
	assert_int_equal(dec_len("c7f800010000", X86_MODE_LONG64), 6);
	assert_int_equal(dec_len("c6f803", X86_MODE_LONG64), 3);
	/* near branches with 66 in 64-bit mode: AMD64 rel16, Intel 64 rel32 */
	uint8_t call[] = {0x66, 0xe8, 1, 2, 3, 4};
	assert_int_equal(x86_decode(call, sizeof(call), X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.len, 4);
	assert_int_equal(
	    x86_decode_ex(call, sizeof(call), X86_MODE_LONG64, X86_DECODE_INTEL64, &in), X86_OK);
	assert_int_equal(in.len, 6);
	assert_int_equal(in.opsize, 8);
	assert_int_equal(dec_len("e80100", X86_MODE_REAL), 3);
	assert_int_equal(dec_len("0f840100", X86_MODE_PROT16), 4);
	/* SSE4a EXTRQ/INSERTQ take two imm8 */
	assert_int_equal(dec("660f78c00102", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.len, 6);
	assert_int_equal(in.imm2, 2);
	assert_int_equal(dec_len("0f78c0", X86_MODE_LONG64), 3); /* VMREAD */
}

static void test_vex_evex_xop(void **state)
{
	struct x86_insn in;
	assert_int_equal(dec("c5f877", X86_MODE_LONG64, &in), X86_OK); /* vzeroupper */
	assert_int_equal(in.len, 3);
	assert_int_equal(in.encoding, X86_ENC_VEX);
	assert_int_equal(dec("c4e27d1805efbeadde", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.len, 9);
	assert_int_equal(in.map, 2);
	assert_true(in.mem.rip_rel);
	assert_int_equal(in.vex.l, 1);
	assert_int_equal(dec("c4e3790f0c2403", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.len, 7);
	assert_int_equal(in.imm, 3);
	assert_int_equal(dec("62f17c481000", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.encoding, X86_ENC_EVEX);
	assert_int_equal(in.vex.l, 2);
	assert_int_equal(dec("8fe878c0c105", X86_MODE_LONG64, &in), X86_OK);
	assert_int_equal(in.encoding, X86_ENC_XOP);
	assert_int_equal(in.len, 6);
	/* outside 64-bit mode, C4/C5/62 with a memory ModRM are LES/LDS/BOUND */
	assert_int_equal(dec("c400", X86_MODE_PROT32, &in), X86_OK);
	assert_int_equal(in.encoding, X86_ENC_LEGACY);
	assert_int_equal(in.len, 2);
	assert_int_equal(dec_len("620424", X86_MODE_PROT32), 3);
	assert_int_equal(dec_len("c5f877", X86_MODE_PROT32), 3);
	assert_int_equal(dec("8fc0", X86_MODE_PROT32, &in), X86_OK); /* pop eax */
	assert_int_equal(in.encoding, X86_ENC_LEGACY);
	/* real mode has no VEX: C4 with mod = 3 is a LES without memory operand: #UD */
	assert_int_equal(dec_len("c4c0", X86_MODE_REAL), X86_ERR_INVALID);
	assert_int_equal(dec_len("c500", X86_MODE_REAL), 2);
	assert_int_equal(dec_len("62c0", X86_MODE_REAL), X86_ERR_INVALID);
	/* prefixes before VEX are #UD; segment and 67 are fine */
	assert_int_equal(dec_len("66c5f877", X86_MODE_LONG64), X86_ERR_INVALID);
	assert_int_equal(dec_len("48c5f877", X86_MODE_LONG64), X86_ERR_INVALID);
	assert_int_equal(dec_len("f362f17c481000", X86_MODE_LONG64), X86_ERR_INVALID);
	assert_int_equal(dec_len("2e67c5f8100424", X86_MODE_LONG64), 7);
	/* undefined maps */
	assert_int_equal(dec_len("c4e07d1800", X86_MODE_LONG64), X86_ERR_INVALID);
	assert_int_equal(dec_len("62f47c481000", X86_MODE_LONG64), X86_ERR_INVALID);
	/* truncated inside the VEX prefix */
	uint8_t c4[] = {0xc4, 0xe2};
	assert_int_equal(x86_decode(c4, 2, X86_MODE_LONG64, &in), X86_ERR_TRUNCATED);
	assert_int_equal(in.need, 3);
	assert_int_equal(x86_decode(c4, 1, X86_MODE_PROT32, &in), X86_ERR_TRUNCATED);
	assert_int_equal(in.need, 2);
}

static void test_invalid(void **state)
{
	static const char *inv64[] = {"06",
	                              "07",
	                              "0e",
	                              "16",
	                              "1f",
	                              "27",
	                              "2f",
	                              "37",
	                              "3f",
	                              "60",
	                              "61",
	                              "820000",
	                              "9a000000000000",
	                              "ce",
	                              "d40a",
	                              "d50a",
	                              "ea000000000000"};
	for (size_t i = 0; i < ARRAY_SIZE(inv64); i++) {
		assert_int_equal(dec_len(inv64[i], X86_MODE_LONG64), X86_ERR_INVALID);
		assert_true(dec_len(inv64[i], X86_MODE_PROT32) > 0);
	}
	static const char *inv[] = {
	    "d6",       "0f04",     "0f0a",         "0f0c",   "0f0e",  "0f0fc00d", "0f24c0",
	    "0fa6",     "0f7a",     "0fb8c0",       "8dc0",   "fe10",  "ff38",     "ffd8",
	    "8f20",     "c60800",   "c70800000000", "8cf8",   "8ec8",  "0f2008",   "0f2028",
	    "440f2138", "0fba0001", "0fb2c0",       "0fc3c0", "0f00f0"};
	for (size_t i = 0; i < ARRAY_SIZE(inv); i++)
		if (dec_len(inv[i], X86_MODE_LONG64) != X86_ERR_INVALID)
			fail_msg("%s not invalid", inv[i]);
	/* LOCK: memory destination of a lockable instruction only */
	assert_int_equal(dec_len("f00100", X86_MODE_LONG64), 3);
	assert_int_equal(dec_len("f0810001000000", X86_MODE_PROT32), 7);
	assert_int_equal(dec_len("f00fc708", X86_MODE_LONG64), 4);
	assert_int_equal(dec_len("f00fba2805", X86_MODE_LONG64), 5);
	assert_int_equal(dec_len("f00f20c0", X86_MODE_PROT32), 4); /* AMD: mov eax, cr8 */
	static const char *badlock[] = {
	    "f001c0", "f08900", "f08b00",   "f03900",     "f0813800000000", "f0f600", "f0fe10",
	    "f0ff30", "f090",   "f00fa300", "f00fba2005", "f00fc710",       "f0a4",   "f0c60000"};
	for (size_t i = 0; i < ARRAY_SIZE(badlock); i++)
		if (dec_len(badlock[i], X86_MODE_LONG64) != X86_ERR_INVALID)
			fail_msg("%s: LOCK accepted", badlock[i]);
	/* defined oddities */
	assert_int_equal(dec_len("0f0b", X86_MODE_LONG64), 2);     /* ud2 */
	assert_int_equal(dec_len("0fb900", X86_MODE_LONG64), 3);   /* ud1 */
	assert_int_equal(dec_len("f30fb8c0", X86_MODE_LONG64), 4); /* popcnt */
	assert_int_equal(dec_len("6300", X86_MODE_PROT32), 2);     /* arpl */
	assert_int_equal(dec_len("6300", X86_MODE_REAL), X86_ERR_INVALID);
	assert_int_equal(dec_len("486300", X86_MODE_LONG64), 3); /* movsxd */
}

/* Random bytes: never a truncation with 15 bytes available; the decoded length is stable. */
static void test_random_bytes(void **state)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	unsigned ok = 0, counts[5] = {0};
	for (unsigned i = 0; i < 200000; i++) {
		uint8_t buf[X86_MAX_INSN_LEN];
		for (unsigned j = 0; j < sizeof(buf); j++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			buf[j] = (uint8_t)(seed >> 56);
		}
		if (i & 1) /* bias towards prefixes and escapes */
			buf[0] = (uint8_t[]){0x0f, 0x66, 0xf3, 0x48, 0xc4, 0x62, 0x8f, 0x67}[i % 8];
		enum x86_mode mode = (enum x86_mode)(i % 4);
		struct x86_insn in, in2;
		int rc = decode_exact(buf, sizeof(buf), mode, 0, &in);
		assert_int_not_equal(rc, X86_ERR_TRUNCATED);
		assert_true(rc <= 0 && rc >= X86_ERR_INVALID);
		counts[-rc]++;
		if (rc != X86_OK)
			continue;
		ok++;
		assert_true(in.len >= 1 && in.len <= X86_MAX_INSN_LEN);
		assert_int_equal(decode_exact(buf, in.len, mode, 0, &in2), X86_OK);
		assert_int_equal(in2.len, in.len);
		assert_int_equal(decode_exact(buf, in.len - 1u, mode, 0, &in2), X86_ERR_TRUNCATED);
		assert_true(in.mem.base >= X86_REG_NONE && in.mem.base < 16);
		assert_true(in.mem.index >= X86_REG_NONE && in.mem.index < 16);
		assert_true(in.reg < 16 && in.rm < 16);
		assert_true(in.opsize == 2 || in.opsize == 4 || in.opsize == 8);
		assert_true(in.addrsize == 2 || in.addrsize == 4 || in.addrsize == 8);
	}
	printf("  random: %u ok, %u too long, %u invalid\n", ok, counts[2], counts[3]);
	assert_true(ok > 100000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_objdump_lengths), cmocka_unit_test(test_length_limit),
	    cmocka_unit_test(test_prefix_rules),    cmocka_unit_test(test_memory_operands),
	    cmocka_unit_test(test_immediates),      cmocka_unit_test(test_vex_evex_xop),
	    cmocka_unit_test(test_invalid),         cmocka_unit_test(test_random_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
