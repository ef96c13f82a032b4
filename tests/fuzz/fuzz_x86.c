/*
 * libFuzzer target for vmm/x86_decode.c, vmm/x86_emulate.c and vmm/x86_walk.c: decode random
 * bytes in a random mode (from an exact-size heap copy, so ASan sees any overread), emulate the
 * result with random registers against a fake memory that sometimes fails, and walk random
 * page tables. Checks the contracts: lengths, RIP advance, nothing changed on refusal, the
 * number of memory callbacks bounded by the REP cap.
 *
 * Input: [mode/flags byte][15 instruction bytes][register bytes...][memory / page tables...]
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/x86_decode.h"
#include "vmm/x86_emulate.h"
#include "vmm/x86_walk.h"

#define MEM_SIZE 4096
#define MAX_REP  32

/* Fake memory: any linear address maps into a small window; can fail after n accesses. */
struct fake {
	uint8_t mem[MEM_SIZE];
	unsigned calls;
	unsigned fail_at;
	int fail_rc;
};

/* check: abort (a crash libFuzzer reports) when a contract is broken. */
static void check(int cond)
{
	if (!cond)
		abort();
}

/* mem_access: copy size bytes between buf and the window, byte by byte with wrap-around. */
static int mem_access(struct fake *f, uint64_t lin, void *buf, unsigned size, int write)
{
	check(size == 1 || size == 2 || size == 4 || size == 8);
	if (f->calls++ == f->fail_at)
		return f->fail_rc;
	for (unsigned i = 0; i < size; i++) {
		uint8_t *m = &f->mem[(lin + i) % MEM_SIZE];
		if (write)
			*m = ((const uint8_t *)buf)[i];
		else
			((uint8_t *)buf)[i] = *m;
	}
	return X86_OK;
}

static int fake_read(void *ctx, enum x86_seg seg, uint64_t lin, void *buf, unsigned size)
{
	check(seg < X86_NR_SEGS);
	return mem_access(ctx, lin, buf, size, 0);
}

static int fake_write(void *ctx, enum x86_seg seg, uint64_t lin, const void *buf, unsigned size)
{
	check(seg < X86_NR_SEGS);
	return mem_access(ctx, lin, (void *)buf, size, 1);
}

/* read_gpa: page-table reads from the same window; out-of-window addresses fail. */
static int read_gpa(void *ctx, uint64_t gpa, void *buf, unsigned size)
{
	struct fake *f = ctx;
	check(size == 4 || size == 8);
	if (gpa >= MEM_SIZE || size > MEM_SIZE - gpa)
		return X86_ERR_FAULT;
	memcpy(buf, f->mem + gpa, size);
	return X86_OK;
}

/* cmpxchg_gpa: A/D updates into the window. */
static int cmpxchg_gpa(void *ctx, uint64_t gpa, uint64_t old, uint64_t new, unsigned size)
{
	struct fake *f = ctx;
	uint64_t cur = 0;
	check(size == 4 || size == 8);
	if (gpa >= MEM_SIZE || size > MEM_SIZE - gpa)
		return X86_ERR_FAULT;
	memcpy(&cur, f->mem + gpa, size);
	if (cur != old)
		return X86_ERR_RETRY;
	memcpy(f->mem + gpa, &new, size);
	return X86_OK;
}

/* take: up to n bytes from the input into dst (zero-filled when the input runs out). */
static void take(const uint8_t **p, size_t *left, void *dst, size_t n)
{
	size_t k = n < *left ? n : *left;
	memset(dst, 0, n);
	memcpy(dst, *p, k);
	*p += k;
	*left -= k;
}

/* fuzz_emulate: decode and emulate one instruction; check the contracts. */
static void fuzz_emulate(const uint8_t *insn, size_t avail, uint8_t ctl, struct x86_regs *r,
                         struct fake *f)
{
	enum x86_mode mode = (enum x86_mode)(ctl & 3);
	struct x86_insn in, again;
	uint8_t *copy = malloc(avail ? avail : 1);
	memcpy(copy, insn, avail);
	int rc = x86_decode_ex(copy, avail, mode, (ctl >> 2) & 1, &in);
	check(rc == X86_OK || rc == X86_ERR_TRUNCATED || rc == X86_ERR_TOO_LONG ||
	      rc == X86_ERR_INVALID);
	if (rc == X86_ERR_TRUNCATED)
		check(in.need > avail && in.need <= X86_MAX_INSN_LEN);
	if (rc == X86_OK) {
		check(in.len >= 1 && in.len <= avail && in.len <= X86_MAX_INSN_LEN);
		check(x86_decode_ex(copy, in.len, mode, (ctl >> 2) & 1, &again) == X86_OK);
		check(again.len == in.len);
	}
	free(copy);
	struct x86_regs before;
	memcpy(&before, r, sizeof(before));
	struct x86_emu_ops ops = {
	    .read = fake_read, .write = fake_write, .max_rep = (ctl >> 3) & 1 ? MAX_REP : 1};
	f->calls = 0;
	int erc = x86_emulate(&in, r, &ops, f);
	check(f->calls <= 3 * MAX_REP + 4);
	if (rc != X86_OK) {
		check(erc == X86_ERR_INVALID);
	} else if (erc == X86_OK) {
		uint64_t mask = mode == X86_MODE_LONG64   ? ~0ULL
		                : mode == X86_MODE_PROT32 ? 0xffffffffULL
		                                          : 0xffffULL;
		check(r->rip == ((before.rip + in.len) & mask));
	} else if (erc == X86_ERR_UNSUPPORTED || erc == X86_ERR_INVALID) {
		check(memcmp(r, &before, sizeof(*r)) == 0);
		check(f->calls == 0);
	} else {
		check(erc == X86_PARTIAL || erc == X86_ERR_NONCANONICAL || erc == f->fail_rc);
		check(r->rip == before.rip);
	}
}

/* fuzz_walk: walk the window as page tables with fuzzer-chosen control registers. */
static void fuzz_walk(const uint8_t **p, size_t *left, struct fake *f)
{
	struct {
		uint64_t cr0, cr3, cr4, efer, rflags, linear;
		uint32_t pkru, access;
		uint8_t maxphy, use_cmpxchg, use_pdpte;
	} in;
	uint64_t pdpte[4];
	take(p, left, &in, sizeof(in));
	take(p, left, pdpte, sizeof(pdpte));
	struct x86_walk_ctx w = {.cr0 = in.cr0,
	                         .cr3 = in.cr3 % MEM_SIZE,
	                         .cr4 = in.cr4,
	                         .efer = in.efer,
	                         .rflags = in.rflags,
	                         .pkru = in.pkru,
	                         .maxphyaddr = in.maxphy,
	                         .read_gpa = read_gpa,
	                         .ctx = f};
	if (in.use_cmpxchg & 1)
		w.cmpxchg_gpa = cmpxchg_gpa;
	if (in.use_pdpte & 1)
		w.pdpte = pdpte;
	uint64_t gpa;
	uint32_t ec;
	int rc = x86_walk(&w, in.linear, in.access & 0x116, &gpa, &ec);
	check(rc == X86_OK || rc == X86_ERR_PAGE_FAULT || rc == X86_ERR_FAULT ||
	      rc == X86_ERR_NONCANONICAL || rc == X86_ERR_RETRY);
	check(rc == X86_ERR_PAGE_FAULT ? ec < 64 : ec == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fake f;
	const uint8_t *p = data;
	size_t left = size;
	uint8_t ctl, insn[X86_MAX_INSN_LEN], fail[2];
	struct x86_regs r;
	if (size < 1)
		return 0;
	take(&p, &left, &ctl, 1);
	size_t avail = left < X86_MAX_INSN_LEN ? left : X86_MAX_INSN_LEN;
	take(&p, &left, insn, X86_MAX_INSN_LEN);
	uint8_t la57;
	take(&p, &left, &r, sizeof(r));
	memcpy(&la57, &r.la57, 1); /* any byte: make it a valid bool */
	r.la57 = la57 & 1;
	take(&p, &left, fail, 2);
	f.fail_at = fail[0] & 0x80 ? fail[0] & 0x7f : ~0u;
	f.fail_rc = (fail[1] & 1) ? X86_ERR_RETRY : X86_ERR_FAULT;
	take(&p, &left, f.mem, MEM_SIZE / 4);
	memset(f.mem + MEM_SIZE / 4, 0x5a, MEM_SIZE - MEM_SIZE / 4);
	fuzz_emulate(insn, avail, ctl, &r, &f);
	fuzz_walk(&p, &left, &f);
	return 0;
}
