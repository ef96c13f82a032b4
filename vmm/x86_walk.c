/*
 * Guest page-table walker: 32-bit, PAE, 4-level and 5-level paging, access rights, #PF error
 * codes, optional A/D update. See x86_walk.h. Entry formats: SDM vol. 3 tables 4-4 .. 4-20.
 */
#include "vmm/x86_walk.h"
#include "kernel/panic.h"
#include "kernel/string.h"

#define MAX_LEVELS   5
#define MAX_RESTARTS 4
#define WALK_RESTART 1 /* internal: an A/D update lost a race, walk again */

/* One paging-structure entry used by the translation. */
struct level {
	uint64_t gpa;
	uint64_t entry;
	uint8_t size; /* 4 or 8 bytes */
	bool no_ad;   /* PAE PDPTE: no accessed bit */
};

/* Walk state: the entries used and the rights accumulated over the levels. */
struct walk {
	const struct x86_walk_ctx *w;
	unsigned access;
	unsigned nlev;
	struct level lev[MAX_LEVELS];
	bool writable, user, nx;
	unsigned pkey;
	uint64_t pa;
};

/* bits: mask of bits hi..lo inclusive (0 if hi < lo). */
static uint64_t bits(unsigned hi, unsigned lo)
{
	if (hi < lo || lo > 63)
		return 0;
	return (~0ULL >> (63 - MIN(hi, 63u))) & (~0ULL << lo);
}

/* maxphy: the guest MAXPHYADDR, 52 if unset, clamped to 32..52. */
static unsigned maxphy(const struct x86_walk_ctx *w)
{
	unsigned m = w->maxphyaddr;
	if (m == 0 || m > 52)
		return 52;
	return m < 32 ? 32 : m;
}

enum x86_paging x86_paging_mode(const struct x86_walk_ctx *w)
{
	if (!(w->cr0 & X86_CR0_PG))
		return X86_PAGING_OFF;
	if (!(w->cr4 & X86_CR4_PAE))
		return X86_PAGING_32;
	if (!(w->efer & X86_EFER_LMA))
		return X86_PAGING_PAE;
	return (w->cr4 & X86_CR4_LA57) ? X86_PAGING_5LEVEL : X86_PAGING_4LEVEL;
}

/* pf_base: the W/U/I bits of the error code for this access (I only with NX or SMEP on). */
static uint32_t pf_base(const struct x86_walk_ctx *w, unsigned access)
{
	uint32_t ec = access & (X86_PF_W | X86_PF_U);
	bool nx_on = (w->cr4 & X86_CR4_PAE) && (w->efer & X86_EFER_NXE);
	if ((access & X86_ACC_FETCH) && ((w->cr4 & X86_CR4_SMEP) || nx_on))
		ec |= X86_PF_I;
	return ec;
}

/* read_entry: read and record the size-byte entry at gpa. */
static int read_entry(struct walk *k, uint64_t gpa, unsigned size, uint64_t *e)
{
	uint8_t b[8] = {0};
	uint64_t v = 0;
	int rc = k->w->read_gpa(k->w->ctx, gpa, b, size);
	ASSERT(rc <= 0);
	if (rc)
		return rc;
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)b[i] << (8 * i);
	ASSERT(k->nlev < MAX_LEVELS);
	k->lev[k->nlev++] = (struct level){.gpa = gpa, .entry = v, .size = (uint8_t)size};
	*e = v;
	return X86_OK;
}

/* accumulate: fold an entry's R/W, U/S and XD bits into the rights of the translation. */
static void accumulate(struct walk *k, uint64_t e)
{
	k->writable = k->writable && (e & X86_PTE_RW);
	k->user = k->user && (e & X86_PTE_US);
	if (k->w->efer & X86_EFER_NXE)
		k->nx = k->nx || (e & X86_PTE_NX);
}

/* walk32: 32-bit paging, 4 KiB pages and (CR4.PSE) 4 MiB pages with PSE-36 high bits. */
static int walk32(struct walk *k, uint32_t la, uint32_t *ec)
{
	const struct x86_walk_ctx *w = k->w;
	uint64_t pde, pte;
	int rc = read_entry(k, (w->cr3 & 0xfffff000ULL) + (la >> 22) * 4, 4, &pde);
	if (rc)
		return rc;
	if (!(pde & X86_PTE_P))
		return X86_ERR_PAGE_FAULT;
	accumulate(k, pde);
	if ((pde & X86_PTE_PS) && (w->cr4 & X86_CR4_PSE)) {
		unsigned m = MIN(maxphy(w), 40u);
		if (pde & bits(21, 13 + m - 32)) {
			*ec |= X86_PF_P | X86_PF_RSVD;
			return X86_ERR_PAGE_FAULT;
		}
		uint64_t hi = m > 32 ? (pde >> 13) & bits(m - 33, 0) : 0;
		k->pa = (pde & 0xffc00000ULL) | (hi << 32) | (la & 0x3fffff);
		return X86_OK;
	}
	if ((rc = read_entry(k, (pde & 0xfffff000ULL) + ((la >> 12) & 0x3ff) * 4, 4, &pte)))
		return rc;
	if (!(pte & X86_PTE_P))
		return X86_ERR_PAGE_FAULT;
	accumulate(k, pte);
	k->pa = (pte & 0xfffff000ULL) | (la & 0xfff);
	return X86_OK;
}

/* pae_pdpte: PAE paging's first level: one of four PDPTEs (cached or read at CR3). */
static int pae_pdpte(struct walk *k, uint64_t la, uint64_t *table, uint32_t *ec)
{
	const struct x86_walk_ctx *w = k->w;
	unsigned idx = (la >> 30) & 3, m = maxphy(w);
	uint64_t gpa = (w->cr3 & 0xffffffe0ULL) + idx * 8, e;
	if (w->pdpte) {
		e = w->pdpte[idx];
		k->lev[k->nlev++] =
		    (struct level){.gpa = gpa, .entry = e, .size = 8, .no_ad = true};
	} else {
		int rc = read_entry(k, gpa, 8, &e);
		if (rc)
			return rc;
		k->lev[k->nlev - 1].no_ad = true;
	}
	if (!(e & X86_PTE_P))
		return X86_ERR_PAGE_FAULT;
	if (e & (bits(63, m) | bits(8, 5) | bits(2, 1))) {
		*ec |= X86_PF_P | X86_PF_RSVD;
		return X86_ERR_PAGE_FAULT;
	}
	*table = e & bits(m - 1, 12);
	return X86_OK;
}

/* walk64: PAE, 4-level and 5-level paging with 8-byte entries (PS at PDPTE/PDE levels). */
static int walk64(struct walk *k, uint64_t la, enum x86_paging mode, uint32_t *ec)
{
	const struct x86_walk_ctx *w = k->w;
	unsigned m = maxphy(w), lvl;
	uint64_t addr = bits(m - 1, 12), table, e;
	uint64_t rsvd_hi = mode == X86_PAGING_PAE ? bits(62, m) : bits(51, m);
	int rc;
	if (!(w->efer & X86_EFER_NXE))
		rsvd_hi |= X86_PTE_NX;
	if (mode == X86_PAGING_PAE) {
		if ((rc = pae_pdpte(k, la, &table, ec)))
			return rc;
		lvl = 2;
	} else {
		table = w->cr3 & addr;
		lvl = mode == X86_PAGING_5LEVEL ? 5 : 4;
	}
	for (;; lvl--) {
		unsigned shift = 12 + 9 * (lvl - 1);
		if ((rc = read_entry(k, table + ((la >> shift) & 511) * 8, 8, &e)))
			return rc;
		if (!(e & X86_PTE_P))
			return X86_ERR_PAGE_FAULT;
		uint64_t rsvd = rsvd_hi;
		bool leaf = lvl == 1;
		if (lvl >= 4)
			rsvd |= X86_PTE_PS; /* PML5E, PML4E */
		else if (lvl > 1 && (e & X86_PTE_PS)) {
			leaf = true; /* 1 GiB / 2 MiB page: PAT at bit 12, the rest reserved */
			rsvd |= bits(shift - 1, 13);
		}
		if (e & rsvd) {
			*ec |= X86_PF_P | X86_PF_RSVD;
			return X86_ERR_PAGE_FAULT;
		}
		accumulate(k, e);
		if (leaf) {
			k->pa = (e & addr & ~bits(shift - 1, 0)) | (la & bits(shift - 1, 0));
			k->pkey = (e >> 59) & 15;
			return X86_OK;
		}
		table = e & addr;
	}
}

/* check_rights: access rights of the finished translation (SDM vol. 3 4.6); 0 or PF bits. */
static uint32_t check_rights(const struct walk *k, enum x86_paging mode)
{
	const struct x86_walk_ctx *w = k->w;
	bool user = k->access & X86_ACC_USER, write = k->access & X86_ACC_WRITE;
	bool fetch = k->access & X86_ACC_FETCH, wp = w->cr0 & X86_CR0_WP;
	if (user) {
		if (!k->user || (write && !k->writable) || (fetch && k->nx))
			return X86_PF_P;
	} else if (fetch) {
		if (k->nx || (k->user && (w->cr4 & X86_CR4_SMEP)))
			return X86_PF_P;
	} else {
		bool smap = (w->cr4 & X86_CR4_SMAP) &&
		            ((k->access & X86_ACC_IMPLICIT) || !(w->rflags & X86_RFLAGS_AC));
		if ((k->user && smap) || (write && !k->writable && wp))
			return X86_PF_P;
	}
	bool pk = (w->cr4 & X86_CR4_PKE) && k->user && !fetch &&
	          (mode == X86_PAGING_4LEVEL || mode == X86_PAGING_5LEVEL);
	if (pk) {
		bool ad = (w->pkru >> (2 * k->pkey)) & 1, wd = (w->pkru >> (2 * k->pkey + 1)) & 1;
		if (ad || (write && wd && (user || wp)))
			return X86_PF_P | X86_PF_PK;
	}
	return 0;
}

/* set_ad: set accessed bits on every entry used and the dirty bit on the leaf for a write. */
static int set_ad(const struct walk *k)
{
	const struct x86_walk_ctx *w = k->w;
	for (unsigned i = 0; i < k->nlev; i++) {
		const struct level *l = &k->lev[i];
		uint64_t nv = l->entry | X86_PTE_A;
		if (l->no_ad)
			continue;
		if (i == k->nlev - 1 && (k->access & X86_ACC_WRITE))
			nv |= X86_PTE_D;
		if (nv == l->entry)
			continue;
		int rc = w->cmpxchg_gpa(w->ctx, l->gpa, l->entry, nv, l->size);
		ASSERT(rc <= 0);
		if (rc == X86_ERR_RETRY)
			return WALK_RESTART;
		if (rc)
			return rc;
	}
	return X86_OK;
}

/* walk_once: one translation attempt; WALK_RESTART if an A/D update raced. */
static int walk_once(const struct x86_walk_ctx *w, uint64_t linear, unsigned access, uint64_t *gpa,
                     uint32_t *ec)
{
	enum x86_paging mode = x86_paging_mode(w);
	struct walk k = {.w = w, .access = access, .writable = true, .user = true};
	int rc;
	*ec = pf_base(w, access);
	if (mode == X86_PAGING_OFF) {
		*gpa = linear & 0xffffffffULL;
		return X86_OK;
	}
	if (mode == X86_PAGING_32) {
		rc = walk32(&k, (uint32_t)linear, ec);
	} else if (mode == X86_PAGING_PAE) {
		rc = walk64(&k, linear & 0xffffffffULL, mode, ec);
	} else {
		unsigned top = mode == X86_PAGING_5LEVEL ? 56 : 47;
		uint64_t hi = linear >> top;
		if (hi != 0 && hi != (~0ULL >> top))
			return X86_ERR_NONCANONICAL;
		rc = walk64(&k, linear, mode, ec);
	}
	if (rc)
		return rc;
	uint32_t bad = check_rights(&k, mode);
	if (bad) {
		*ec |= bad;
		return X86_ERR_PAGE_FAULT;
	}
	if (w->cmpxchg_gpa && (rc = set_ad(&k)))
		return rc;
	*gpa = k.pa;
	return X86_OK;
}

int x86_walk(const struct x86_walk_ctx *w, uint64_t linear, unsigned access, uint64_t *gpa,
             uint32_t *pf_error)
{
	uint32_t ec = 0;
	uint64_t pa = 0;
	int rc = WALK_RESTART;
	ASSERT(w && w->read_gpa && gpa && pf_error);
	for (unsigned i = 0; i < MAX_RESTARTS && rc == WALK_RESTART; i++)
		rc = walk_once(w, linear, access, &pa, &ec);
	if (rc == WALK_RESTART)
		rc = X86_ERR_RETRY;
	*pf_error = rc == X86_ERR_PAGE_FAULT ? ec : 0;
	*gpa = rc == X86_OK ? pa : 0;
	return rc;
}
