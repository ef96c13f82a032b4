/*
 * libFuzzer target for linux_parse_header (vmm/linux_boot.c). The first input byte picks
 * the mode: bit 0 forces a valid boot flag and "HdrS" magic so the fuzzer spends its time on
 * the fields behind them; bits 1-2 claim a larger file than the bytes given (the parser
 * reads only the header, which must lie within the bytes given). The image is an exact-size
 * copy, so ASan sees any overread. An accepted header must satisfy everything the loader
 * relies on: protocol >= 2.12, setup code inside the file and at least one kernel byte after
 * it, LOADED_HIGH and XLF_KERNEL_64, a power-of-two alignment up to 1 GiB, an init_size that
 * covers the kernel, and a header end the zero-page copy can take from the file.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/linux_boot.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	size_t n = size - 1;
	uint8_t *img = malloc(n ? n : 1);
	memcpy(img, data + 1, n);
	if ((mode & 1) && n >= 0x206) {
		img[0x1fe] = 0x55;
		img[0x1ff] = 0xaa;
		memcpy(img + 0x202, "HdrS", 4);
	}
	/* the size the parser is told: the bytes given, or more when only the header matters */
	static const uint64_t extra[4] = {0, 1, 1ULL << 20, 1ULL << 40};
	uint64_t claimed = n >= 0x280 ? n + extra[(mode >> 1) & 3] : n;
	struct linux_header h;
	memset(&h, 0xa5, sizeof(h));
	const char *err = linux_parse_header(img, claimed, &h);
	if (!err) {
		CHECK(n >= 0x270);
		CHECK(h.version >= 0x020c);
		CHECK(h.setup_size >= 512 && h.setup_size < claimed);
		CHECK(h.setup_size % 512 == 0 && h.setup_size <= 256 * 512);
		CHECK(h.kernel_size == claimed - h.setup_size && h.kernel_size >= 1);
		CHECK((h.loadflags & 1) && (h.xloadflags & 1));
		CHECK((h.kernel_alignment & (h.kernel_alignment - 1)) == 0);
		CHECK(h.kernel_alignment <= (1u << 30));
		CHECK(h.init_size >= h.kernel_size || h.init_size == UINT32_MAX);
		CHECK(h.hdr_end >= 0x268 && h.hdr_end <= 0x280);
		/* the loader copies [0x1f1, hdr_end) from the file into the zero page */
		CHECK(h.hdr_end <= h.setup_size);
	} else {
		CHECK(strlen(err) > 0);
	}
	free(img);
	return 0;
}
