/*
 * Tern test guest: `dirty`: a precise handshake for dirty-page tracking tests. The region is
 * the first 2 MiB-aligned RAM after the image; the loop itself is dirty.asm (no memory
 * writes but the ones it reports). Options:
 *   tguest.region=N   pages in the region (default 64)
 *   tguest.pages=K    pages written per 'w' (default 8)
 *   tguest.stride=S   distance between them (default 3; S*j mod N must be distinct for j < K)
 */
#include "tg.h"

void test_dirty(void)
{
	test_begin("dirty");
	uint64_t base = ALIGN_UP(g_env.image_end, 2ULL << 20);
	uint64_t n = opt_u64("region", 64), k = opt_u64("pages", 8), s = opt_u64("stride", 3);
	if (!n || !k || k > n || k > 64 || !e820_is_ram(base, n * 4096))
		fail_stop("bad tguest.region/pages or not enough RAM for the region");
	for (uint64_t i = 0; i < k; i++)
		for (uint64_t j = 0; j < i; j++)
			if ((i * s) % n == (j * s) % n)
				fail_stop("tguest.stride makes two written pages the same");
	g_dirty = (struct tg_dirty){
	    .base = base, .npages = n, .k = k, .stride = s, .com1 = g_out_com1, .e9 = g_out_e9};
	unsigned npt;
	paging_pt_pages(g_dirty.pt, &npt);
	g_dirty.npt = npt;
	uint64_t rounds = tg_dirty_loop();
	say("DIRTY QUIT rounds=%lu", rounds);
	test_end();
}
