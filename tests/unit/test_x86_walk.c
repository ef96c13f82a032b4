/*
 * Unit tests for vmm/x86_walk.c: page tables built in a fake guest-physical memory for every
 * paging mode (off, 32-bit with 4 KiB / 4 MiB PSE-36 pages, PAE with 4 KiB / 2 MiB pages and
 * cached PDPTEs, 4-level with 4 KiB / 2 MiB / 1 GiB pages, 5-level), checking translations and
 * #PF error codes for not-present, reserved bits, R/W with CR0.WP, U/S, NX, SMEP, SMAP,
 * protection keys, non-canonical addresses, A/D updates with races, and hostile tables.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/x86_walk.h"

#define GMEM_BYTES (4u << 20)
#define P          X86_PTE_P
#define RW         X86_PTE_RW
#define US         X86_PTE_US
#define PS         X86_PTE_PS
#define NX         X86_PTE_NX
#define ALL        (P | RW | US)

static uint8_t *gm;
static uint64_t next_page;
static unsigned reads;
static int cmpxchg_races; /* cmpxchg_gpa reports a race this many times */

/* rd_gpa: bounds-checked read of the fake guest memory. */
static int rd_gpa(void *ctx, uint64_t gpa, void *buf, unsigned size)
{
	assert_true(size == 4 || size == 8);
	reads++;
	if (gpa >= GMEM_BYTES || size > GMEM_BYTES - gpa)
		return X86_ERR_FAULT;
	memcpy(buf, gm + gpa, size);
	return X86_OK;
}

/* get: little-endian entry of size bytes. */
static uint64_t get(uint64_t gpa, unsigned size)
{
	uint64_t v = 0;
	memcpy(&v, gm + gpa, size);
	return v;
}

static void set(uint64_t gpa, uint64_t v, unsigned size)
{
	memcpy(gm + gpa, &v, size);
}

/* cx_gpa: compare-and-exchange for A/D updates, optionally losing a race. */
static int cx_gpa(void *ctx, uint64_t gpa, uint64_t old, uint64_t new, unsigned size)
{
	assert_true(gpa + size <= GMEM_BYTES);
	if (cmpxchg_races > 0) {
		cmpxchg_races--;
		return X86_ERR_RETRY;
	}
	if (get(gpa, size) != old)
		return X86_ERR_RETRY;
	set(gpa, new, size);
	return X86_OK;
}

/* alloc_pt: a zeroed 4 KiB page-table page. */
static uint64_t alloc_pt(void)
{
	uint64_t p = next_page;
	next_page += 4096;
	assert_true(next_page <= GMEM_BYTES);
	memset(gm + p, 0, 4096);
	return p;
}

static int setup(void **state)
{
	if (!gm)
		gm = malloc(GMEM_BYTES);
	memset(gm, 0, GMEM_BYTES);
	next_page = 0x10000;
	reads = 0;
	cmpxchg_races = 0;
	return 0;
}

/* ctx: a walk context with the given control registers. */
static struct x86_walk_ctx ctx(uint64_t cr0, uint64_t cr4, uint64_t efer)
{
	struct x86_walk_ctx w = {.cr0 = cr0 | X86_CR0_PG,
	                         .cr4 = cr4,
	                         .efer = efer,
	                         .read_gpa = rd_gpa,
	                         .maxphyaddr = 46};
	return w;
}

/* slot64: address of the entry for la at level lvl (5..1) of a 4/5-level or PAE (3..1)
 * hierarchy, allocating missing tables with flags mid. */
static uint64_t slot64(const struct x86_walk_ctx *w, unsigned top, uint64_t la, unsigned lvl,
                       uint64_t mid)
{
	uint64_t table = top == 3 ? (w->cr3 & 0xffffffe0) : (w->cr3 & ~0xfffULL);
	for (unsigned l = top;; l--) {
		unsigned shift = 12 + 9 * (l - 1);
		uint64_t idx = top == 3 && l == 3 ? (la >> 30) & 3 : (la >> shift) & 511;
		uint64_t at = table + idx * 8;
		if (l == lvl)
			return at;
		uint64_t e = get(at, 8);
		if (!(e & P)) {
			e = alloc_pt() | (top == 3 && l == 3 ? P : mid);
			set(at, e, 8);
		}
		table = e & 0x000ffffffffff000ULL;
	}
}

/* map64: map la to pa with a page at level lvl (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB). */
static uint64_t map64(const struct x86_walk_ctx *w, unsigned top, uint64_t la, uint64_t pa,
                      unsigned lvl, uint64_t leaf, uint64_t mid)
{
	uint64_t at = slot64(w, top, la, lvl, mid);
	set(at, pa | leaf | (lvl > 1 ? PS : 0), 8);
	return at;
}

/* walk: translate; returns the status, with the GPA or error code in *out. */
static int walk(const struct x86_walk_ctx *w, uint64_t la, unsigned acc, uint64_t *out)
{
	uint64_t gpa = 0xdead;
	uint32_t ec = 0xdead;
	int rc = x86_walk(w, la, acc, &gpa, &ec);
	if (rc == X86_OK) {
		assert_int_equal(ec, 0);
		*out = gpa;
	} else if (rc == X86_ERR_PAGE_FAULT) {
		assert_int_equal(gpa, 0);
		*out = ec;
	}
	return rc;
}

/* expect_pf: the walk faults with exactly this error code. */
static void expect_pf(const struct x86_walk_ctx *w, uint64_t la, unsigned acc, uint32_t ec)
{
	uint64_t got;
	int rc = walk(w, la, acc, &got);
	if (rc != X86_ERR_PAGE_FAULT || got != ec)
		fail_msg("la %#llx acc %#x: rc %d ec %#llx, want #PF %#x", (unsigned long long)la,
		         acc, rc, (unsigned long long)got, ec);
}

/* expect_gpa: the walk succeeds with this GPA. */
static void expect_gpa(const struct x86_walk_ctx *w, uint64_t la, unsigned acc, uint64_t gpa)
{
	uint64_t got;
	int rc = walk(w, la, acc, &got);
	if (rc != X86_OK || got != gpa)
		fail_msg("la %#llx acc %#x: rc %d gpa %#llx, want %#llx", (unsigned long long)la,
		         acc, rc, (unsigned long long)got, (unsigned long long)gpa);
}

static void test_paging_off(void **state)
{
	struct x86_walk_ctx w = ctx(0, 0, 0);
	w.cr0 = 0;
	assert_int_equal(x86_paging_mode(&w), X86_PAGING_OFF);
	expect_gpa(&w, 0x123456789abcULL, X86_ACC_WRITE | X86_ACC_USER, 0x56789abc);
	assert_int_equal(reads, 0);
}

static void test_32bit(void **state)
{
	struct x86_walk_ctx w = ctx(X86_CR0_WP, 0, 0);
	uint64_t pd = alloc_pt(), pt = alloc_pt();
	w.cr3 = pd | 0x18; /* PWT/PCD ignored */
	assert_int_equal(x86_paging_mode(&w), X86_PAGING_32);
	set(pd + (0x00400000 >> 22) * 4, pt | ALL, 4);
	set(pt + 5 * 4, 0xfff23000 | P | US, 4); /* read-only user page */
	set(pt + 6 * 4, 0x00124000 | P | RW, 4); /* supervisor page */
	expect_gpa(&w, 0x00405abc, X86_ACC_USER, 0xfff23abc);
	expect_pf(&w, 0x00405abc, X86_ACC_USER | X86_ACC_WRITE, X86_PF_P | X86_PF_W | X86_PF_U);
	expect_pf(&w, 0x00405abc, X86_ACC_WRITE, X86_PF_P | X86_PF_W); /* WP = 1 */
	w.cr0 &= ~X86_CR0_WP;
	expect_gpa(&w, 0x00405abc, X86_ACC_WRITE, 0xfff23abc);
	expect_pf(&w, 0x00405abc, X86_ACC_USER | X86_ACC_WRITE, X86_PF_P | X86_PF_W | X86_PF_U);
	expect_pf(&w, 0x00406000, X86_ACC_USER, X86_PF_P | X86_PF_U);
	expect_gpa(&w, 0x00406010, X86_ACC_FETCH, 0x124010);
	expect_pf(&w, 0x00407000, X86_ACC_READ, 0);                        /* PTE not present */
	expect_pf(&w, 0x00800000, X86_ACC_FETCH | X86_ACC_USER, X86_PF_U); /* PDE: no I bit */
	w.cr4 |= X86_CR4_SMEP;
	expect_pf(&w, 0x00800000, X86_ACC_FETCH, X86_PF_I);
	expect_pf(&w, 0x00405000, X86_ACC_FETCH, X86_PF_P | X86_PF_I); /* SMEP: user page */
	/* only the low 32 bits of the linear address count */
	expect_gpa(&w, 0xffffffff00405001ULL, X86_ACC_USER, 0xfff23001);
	/* 4 MiB pages need CR4.PSE; PSE-36 supplies PA bits 35:32 */
	uint64_t pde = pd + (0x80000000u >> 22) * 4;
	set(pde, 0x00c00000 | (0x3 << 13) | P | RW | PS, 4);
	w.maxphyaddr = 36;
	w.cr4 |= X86_CR4_PSE;
	expect_gpa(&w, 0x80123456, X86_ACC_WRITE, 0x300c00000ULL + 0x123456);
	set(pde, get(pde, 4) | (1 << 17), 4); /* beyond MAXPHYADDR 36: reserved */
	expect_pf(&w, 0x80123456, X86_ACC_WRITE, X86_PF_P | X86_PF_W | X86_PF_RSVD);
	set(pde, 0x00c00000 | (1 << 21) | P | PS, 4); /* bit 21 always reserved */
	w.maxphyaddr = 52;
	expect_pf(&w, 0x80000000, X86_ACC_READ, X86_PF_P | X86_PF_RSVD);
	/* without CR4.PSE the PS bit is ignored: the PDE points at a page table */
	w.cr4 &= ~X86_CR4_PSE;
	set(pde, pt | P | RW | PS, 4);
	expect_gpa(&w, 0x80005000, X86_ACC_READ, 0xfff23000);
}

static void test_pae(void **state)
{
	struct x86_walk_ctx w = ctx(X86_CR0_WP, X86_CR4_PAE, 0);
	uint64_t pdpt = alloc_pt() + 0x20; /* 32-byte aligned is enough */
	w.cr3 = pdpt;
	assert_int_equal(x86_paging_mode(&w), X86_PAGING_PAE);
	uint64_t pte = map64(&w, 3, 0xc0001000, 0x7654321000ULL, 1, ALL, ALL);
	uint64_t pde = map64(&w, 3, 0x40200000, 0x12345600000ULL, 2, P | RW, ALL);
	expect_gpa(&w, 0xc0001abc, X86_ACC_USER | X86_ACC_WRITE, 0x7654321abcULL);
	expect_gpa(&w, 0x40312345, X86_ACC_WRITE, 0x12345712345ULL);
	expect_pf(&w, 0x40312345, X86_ACC_USER, X86_PF_P | X86_PF_U);
	expect_pf(&w, 0x80000000, X86_ACC_WRITE, X86_PF_W); /* PDPTE not present */
	/* XD is reserved until EFER.NXE; then it forbids fetches (and I is reported) */
	set(pte, get(pte, 8) | NX, 8);
	expect_pf(&w, 0xc0001000, X86_ACC_READ, X86_PF_P | X86_PF_RSVD);
	w.efer |= X86_EFER_NXE;
	expect_gpa(&w, 0xc0001000, X86_ACC_READ, 0x7654321000ULL);
	expect_pf(&w, 0xc0001000, X86_ACC_FETCH, X86_PF_P | X86_PF_I);
	expect_pf(&w, 0xc0001000, X86_ACC_FETCH | X86_ACC_USER, X86_PF_P | X86_PF_I | X86_PF_U);
	/* PAE reserves bits 62:MAXPHYADDR (4-level paging ignores 62:52) */
	set(pte, get(pte, 8) | (1ULL << 55), 8);
	expect_pf(&w, 0xc0001000, X86_ACC_READ, X86_PF_P | X86_PF_RSVD);
	set(pte, get(pte, 8) & ~(1ULL << 55), 8);
	set(pte, get(pte, 8) | (1ULL << 50), 8);
	expect_pf(&w, 0xc0001000, X86_ACC_READ, X86_PF_P | X86_PF_RSVD);
	/* 2 MiB PDE: bits 20:13 reserved */
	set(pde, get(pde, 8) | (1 << 13), 8);
	expect_pf(&w, 0x40200000, X86_ACC_READ, X86_PF_P | X86_PF_RSVD);
	/* PDPTE: bits 2:1 and 8:5 reserved */
	uint64_t pdpte = pdpt + 3 * 8;
	set(pdpte, get(pdpte, 8) | RW, 8);
	expect_pf(&w, 0xc0001000, X86_ACC_READ, X86_PF_P | X86_PF_RSVD);
	/* cached PDPTEs (VMX) take precedence over memory */
	uint64_t cache[4] = {0, get(pdpt + 8, 8), 0, get(pdpte, 8) & ~RW};
	w.pdpte = cache;
	set(pte, get(pte, 8) & ~(1ULL << 50), 8);
	expect_gpa(&w, 0xc0001000, X86_ACC_READ, 0x7654321000ULL);
	cache[3] = 0;
	expect_pf(&w, 0xc0001000, X86_ACC_READ, 0);
}

static void test_4level(void **state)
{
	struct x86_walk_ctx w = ctx(X86_CR0_WP, X86_CR4_PAE, X86_EFER_LMA | X86_EFER_NXE);
	w.cr3 = alloc_pt() | 0xfff; /* PCID bits ignored */
	assert_int_equal(x86_paging_mode(&w), X86_PAGING_4LEVEL);
	uint64_t k = 0xffff888000000000ULL, u = 0x00007f0000000000ULL;
	map64(&w, 4, k + 0x1000, 0x1000, 1, P | RW, P | RW);
	uint64_t pde = map64(&w, 4, k + 0x40000000, 0x200000, 2, P | RW | NX, P | RW);
	uint64_t gb = map64(&w, 4, k + 0x80000000ULL, 0x3c0000000ULL, 3, P, P | RW);
	map64(&w, 4, u, 0x5000, 1, ALL, ALL);
	expect_gpa(&w, k + 0x1234, X86_ACC_WRITE, 0x1234);
	expect_gpa(&w, k + 0x40123456, X86_ACC_READ, 0x323456);
	expect_pf(&w, k + 0x40123456, X86_ACC_FETCH, X86_PF_P | X86_PF_I);
	expect_gpa(&w, k + 0x80000000ULL + 0x3fffffff, X86_ACC_FETCH, 0x3ffffffffULL);
	expect_pf(&w, k + 0x80000000ULL, X86_ACC_WRITE, X86_PF_P | X86_PF_W);
	expect_pf(&w, k + 0x80000000ULL, X86_ACC_USER, X86_PF_P | X86_PF_U);
	expect_gpa(&w, u + 0x10, X86_ACC_USER | X86_ACC_WRITE, 0x5010);
	expect_pf(&w, u + 0x1000, X86_ACC_USER | X86_ACC_WRITE, X86_PF_W | X86_PF_U);
	expect_pf(&w, k + 0x2000, X86_ACC_FETCH, X86_PF_I);
	/* non-canonical */
	uint64_t dummy;
	assert_int_equal(walk(&w, 0x0000800000000000ULL, X86_ACC_READ, &dummy),
	                 X86_ERR_NONCANONICAL);
	assert_int_equal(walk(&w, 0xfff0000000000000ULL, X86_ACC_READ, &dummy),
	                 X86_ERR_NONCANONICAL);
	/* reserved bits: 1 GiB page bits 29:13, bits 51:MAXPHYADDR, PS in a PML4E */
	set(gb, get(gb, 8) | (1 << 20), 8);
	expect_pf(&w, k + 0x80000000ULL, X86_ACC_READ, X86_PF_P | X86_PF_RSVD);
	set(gb, get(gb, 8) & ~(1ULL << 20), 8);
	set(pde, get(pde, 8) | (1ULL << 47), 8);
	expect_pf(&w, k + 0x40000000, X86_ACC_WRITE, X86_PF_P | X86_PF_W | X86_PF_RSVD);
	w.maxphyaddr = 52;
	expect_pf(&w, k + 0x40000000, X86_ACC_FETCH, X86_PF_P | X86_PF_I); /* now NX again */
	uint64_t pml4e = slot64(&w, 4, u, 4, 0);
	set(pml4e, get(pml4e, 8) | PS, 8);
	expect_pf(&w, u, X86_ACC_USER, X86_PF_P | X86_PF_U | X86_PF_RSVD);
	set(pml4e, get(pml4e, 8) & ~PS, 8);
	/* bits 62:52 are ignored (available / protection key) */
	uint64_t upte = slot64(&w, 4, u, 1, 0);
	set(upte, get(upte, 8) | (0x7ffULL << 52), 8);
	expect_gpa(&w, u, X86_ACC_USER, 0x5000);
	/* a U/S = 0 upper level makes the whole range supervisor */
	uint64_t pdpte = slot64(&w, 4, u, 3, 0);
	set(pdpte, get(pdpte, 8) & ~US, 8);
	expect_pf(&w, u, X86_ACC_USER, X86_PF_P | X86_PF_U);
	expect_gpa(&w, u, X86_ACC_READ, 0x5000);
}

static void test_smap_pku(void **state)
{
	struct x86_walk_ctx w =
	    ctx(X86_CR0_WP, X86_CR4_PAE | X86_CR4_SMAP | X86_CR4_SMEP, X86_EFER_LMA | X86_EFER_NXE);
	w.cr3 = alloc_pt();
	uint64_t u = 0x400000, ro = 0x401000;
	map64(&w, 4, u, 0x9000, 1, ALL | (3ULL << 59), ALL); /* protection key 3 */
	map64(&w, 4, ro, 0xa000, 1, P | US, ALL);
	/* SMAP: supervisor data access to a user page needs RFLAGS.AC (not for implicit) */
	expect_pf(&w, u, X86_ACC_READ, X86_PF_P);
	expect_pf(&w, u, X86_ACC_WRITE, X86_PF_P | X86_PF_W);
	w.rflags = X86_RFLAGS_AC;
	expect_gpa(&w, u, X86_ACC_WRITE, 0x9000);
	expect_pf(&w, u, X86_ACC_IMPLICIT, X86_PF_P);
	expect_pf(&w, ro, X86_ACC_WRITE, X86_PF_P | X86_PF_W); /* WP still applies */
	/* SMEP */
	expect_pf(&w, u, X86_ACC_FETCH, X86_PF_P | X86_PF_I);
	expect_gpa(&w, u, X86_ACC_FETCH | X86_ACC_USER, 0x9000);
	/* protection keys: AD blocks data, WD blocks writes (supervisor only with WP) */
	w.cr4 |= X86_CR4_PKE;
	w.pkru = 1u << (2 * 3); /* AD3 */
	expect_pf(&w, u, X86_ACC_USER, X86_PF_P | X86_PF_U | X86_PF_PK);
	expect_pf(&w, u, X86_ACC_READ, X86_PF_P | X86_PF_PK);
	expect_gpa(&w, u, X86_ACC_FETCH | X86_ACC_USER, 0x9000); /* fetches ignore keys */
	expect_gpa(&w, ro, X86_ACC_USER, 0xa000);                /* key 0 */
	w.pkru = 2u << (2 * 3);                                  /* WD3 */
	expect_gpa(&w, u, X86_ACC_USER, 0x9000);
	expect_pf(&w, u, X86_ACC_USER | X86_ACC_WRITE, X86_PF_P | X86_PF_W | X86_PF_U | X86_PF_PK);
	expect_pf(&w, u, X86_ACC_WRITE, X86_PF_P | X86_PF_W | X86_PF_PK);
	w.cr0 &= ~X86_CR0_WP;
	expect_gpa(&w, u, X86_ACC_WRITE, 0x9000);
	/* a plain permission fault is not a PK fault */
	expect_pf(&w, ro, X86_ACC_USER | X86_ACC_WRITE, X86_PF_P | X86_PF_W | X86_PF_U);
}

static void test_5level(void **state)
{
	struct x86_walk_ctx w = ctx(0, X86_CR4_PAE | X86_CR4_LA57, X86_EFER_LMA);
	w.cr3 = alloc_pt();
	assert_int_equal(x86_paging_mode(&w), X86_PAGING_5LEVEL);
	uint64_t la = 0x00ab123456789000ULL, hi = 0xff00000000001000ULL;
	map64(&w, 5, la, 0xbeef000, 1, P | RW, P | RW);
	map64(&w, 5, hi, 0xcafe000, 1, P, P);
	expect_gpa(&w, la + 0x42, X86_ACC_WRITE, 0xbeef042);
	expect_gpa(&w, hi + 0x42, X86_ACC_READ, 0xcafe042);
	expect_pf(&w, la ^ (1ULL << 48), X86_ACC_READ, 0); /* another PML5 slot */
	uint64_t dummy;
	assert_int_equal(walk(&w, 0x0100000000000000ULL, X86_ACC_READ, &dummy),
	                 X86_ERR_NONCANONICAL);
	/* the same address is non-canonical with 4 levels */
	w.cr4 &= ~X86_CR4_LA57;
	assert_int_equal(walk(&w, la, X86_ACC_READ, &dummy), X86_ERR_NONCANONICAL);
}

static void test_accessed_dirty(void **state)
{
	struct x86_walk_ctx w = ctx(X86_CR0_WP, X86_CR4_PAE, X86_EFER_LMA);
	w.cr3 = alloc_pt();
	w.cmpxchg_gpa = cx_gpa;
	uint64_t la = 0x7000;
	uint64_t pte = map64(&w, 4, la, 0x8000, 1, P | RW, P | RW);
	uint64_t pml4e = slot64(&w, 4, la, 4, 0);
	expect_gpa(&w, la, X86_ACC_READ, 0x8000);
	assert_true(get(pml4e, 8) & X86_PTE_A);
	assert_true(get(pte, 8) & X86_PTE_A);
	assert_false(get(pte, 8) & X86_PTE_D);
	/* a lost race restarts the walk */
	cmpxchg_races = 1;
	expect_gpa(&w, la, X86_ACC_WRITE, 0x8000);
	assert_true(get(pte, 8) & X86_PTE_D);
	assert_false(get(pml4e, 8) & X86_PTE_D);
	/* losing forever: bounded, RETRY */
	set(pte, get(pte, 8) & ~X86_PTE_D, 8);
	cmpxchg_races = 1000;
	uint64_t dummy;
	assert_int_equal(walk(&w, la, X86_ACC_WRITE, &dummy), X86_ERR_RETRY);
	/* faults set nothing */
	cmpxchg_races = 0;
	uint64_t before = get(pte, 8);
	expect_pf(&w, la, X86_ACC_USER, X86_PF_P | X86_PF_U);
	assert_int_equal(get(pte, 8), before);
	/* 32-bit paging: 4-byte entries; PAE PDPTEs have no A bit */
	struct x86_walk_ctx w32 = ctx(0, 0, 0);
	w32.cmpxchg_gpa = cx_gpa;
	uint64_t pd = alloc_pt();
	w32.cr3 = pd;
	set(pd, 0x400000 | P | RW | PS, 4);
	w32.cr4 = X86_CR4_PSE;
	expect_gpa(&w32, 0x1234, X86_ACC_WRITE, 0x401234);
	assert_int_equal(get(pd, 4), 0x400000 | P | RW | PS | X86_PTE_A | X86_PTE_D);
	struct x86_walk_ctx wp = ctx(0, X86_CR4_PAE, 0);
	wp.cmpxchg_gpa = cx_gpa;
	wp.cr3 = alloc_pt();
	map64(&wp, 3, 0x1000, 0x2000, 1, P, P);
	uint64_t pdpte0 = get(wp.cr3, 8);
	expect_gpa(&wp, 0x1000, X86_ACC_READ, 0x2000);
	assert_int_equal(get(wp.cr3, 8), pdpte0);
}

static void test_hostile_tables(void **state)
{
	/* tables outside guest memory: the callback's error comes back */
	struct x86_walk_ctx w = ctx(0, X86_CR4_PAE, X86_EFER_LMA);
	w.cr3 = 0x7ffff000000ULL;
	uint64_t dummy;
	assert_int_equal(walk(&w, 0x1000, X86_ACC_READ, &dummy), X86_ERR_FAULT);
	/* a self-referencing table terminates after the levels there are */
	w.cr3 = alloc_pt();
	for (unsigned i = 0; i < 512; i++)
		set(w.cr3 + i * 8, w.cr3 | P | RW, 8);
	reads = 0;
	expect_gpa(&w, 0x1000, X86_ACC_WRITE, w.cr3);
	assert_int_equal(reads, 4);
	/* random tables in every mode never misbehave */
	uint64_t seed = 12345;
	for (unsigned i = 0; i < 20000; i++) {
		seed = seed * 6364136223846793005ULL + 1;
		uint64_t r = seed;
		if (i % 64 == 0)
			for (unsigned j = 0; j < 0x20000; j += 8)
				set(0x10000 + j,
				    (seed ^ (j * 0x9e3779b97f4a7c15ULL)) & 0x80000000001fffffULL,
				    8);
		struct x86_walk_ctx c = {.cr0 = (r & 1) ? X86_CR0_PG | X86_CR0_WP : X86_CR0_PG,
		                         .cr3 = 0x10000 + ((r >> 8) & 0x1f000),
		                         .cr4 = ((r >> 20) & 0x7) ? X86_CR4_PAE : 0,
		                         .efer = (r >> 24) & 1 ? X86_EFER_LMA | X86_EFER_NXE : 0,
		                         .maxphyaddr = (uint8_t)(32 + (r >> 28) % 21),
		                         .read_gpa = rd_gpa};
		c.cr4 |= (r >> 32) &
		         (X86_CR4_PSE | X86_CR4_LA57 | X86_CR4_SMAP | X86_CR4_SMEP | X86_CR4_PKE);
		uint64_t gpa;
		uint32_t ec;
		int rc = x86_walk(&c, seed * 31, (unsigned)(r >> 40) & 0x116, &gpa, &ec);
		assert_true(rc == X86_OK || rc == X86_ERR_PAGE_FAULT || rc == X86_ERR_FAULT ||
		            rc == X86_ERR_NONCANONICAL);
		if (rc == X86_ERR_PAGE_FAULT)
			assert_true(ec < 64);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_paging_off, setup),
	    cmocka_unit_test_setup(test_32bit, setup),
	    cmocka_unit_test_setup(test_pae, setup),
	    cmocka_unit_test_setup(test_4level, setup),
	    cmocka_unit_test_setup(test_smap_pku, setup),
	    cmocka_unit_test_setup(test_5level, setup),
	    cmocka_unit_test_setup(test_accessed_dirty, setup),
	    cmocka_unit_test_setup(test_hostile_tables, setup),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(gm);
	return rc;
}
