/*
 * Unit tests for linux_parse_header (vmm/linux_boot.c): the real guest kernel from
 * build/images/vmlinuz when it has been built (its fields read back independently from the
 * header bytes, Documentation/arch/x86/boot.rst), and crafted headers for every refusal: too
 * small, bad boot flag or magic, protocol older than 2.12, no 64-bit entry, not loaded high,
 * setup bigger than the file, bad kernel_alignment; plus the setup_sects = 0 rule, the
 * header-end bounds and the init_size fallback.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/linux_boot.h"

static uint32_t rd(const uint8_t *p, int n)
{
	uint32_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static void wr(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- the real kernel ---------------------------------------------------------------------- */
static void test_real_kernel(void **state)
{
	const char *path = getenv("TERN_VMLINUZ") ? getenv("TERN_VMLINUZ") : "build/images/vmlinuz";
	FILE *f = fopen(path, "rb");
	if (!f)
		skip(); /* no guest image built (make guest) */
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *img = malloc((size_t)size);
	assert_int_equal(fread(img, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	struct linux_header h;
	const char *err = linux_parse_header(img, (uint64_t)size, &h);
	if (err)
		fail_msg("%s: %s", path, err);
	/* the same fields read straight from the setup header */
	assert_int_equal(rd(img + 0x1fe, 2), 0xaa55);
	assert_memory_equal(img + 0x202, "HdrS", 4);
	assert_int_equal(h.version, rd(img + 0x206, 2));
	assert_true(h.version >= 0x020c);
	unsigned sects = img[0x1f1] ? img[0x1f1] : 4;
	assert_int_equal(h.setup_size, (sects + 1) * 512);
	assert_int_equal(h.kernel_size, (uint64_t)size - h.setup_size);
	assert_int_equal(h.loadflags, img[0x211]);
	assert_true(h.loadflags & 1);
	assert_int_equal(h.xloadflags, rd(img + 0x236, 2));
	assert_true(h.xloadflags & 1);
	assert_int_equal(h.initrd_addr_max, rd(img + 0x22c, 4));
	assert_int_equal(h.kernel_alignment, rd(img + 0x230, 4));
	assert_int_equal(h.relocatable, img[0x234] != 0);
	assert_int_equal(h.cmdline_size, rd(img + 0x238, 4));
	assert_int_equal(h.pref_address, rd(img + 0x258, 4) | (uint64_t)rd(img + 0x25c, 4) << 32);
	assert_int_equal(h.init_size, rd(img + 0x260, 4));
	assert_int_equal(h.hdr_end, 0x202 + img[0x201]);
	/* what any x86-64 distribution kernel of the last decade has */
	assert_true(h.relocatable);
	assert_int_equal(h.kernel_alignment & (h.kernel_alignment - 1), 0);
	assert_true(h.kernel_alignment >= 0x200000);
	assert_int_equal(h.pref_address, 0x1000000);
	assert_true(h.init_size >= h.kernel_size);
	assert_true(h.cmdline_size >= 255);
	/* the kernel version string (offset at 0x20e, relative to 0x200) is in the setup code */
	uint32_t ver = rd(img + 0x20e, 2) + 0x200;
	assert_true(ver < h.setup_size);
	assert_true(img[ver] >= '2' && img[ver] <= '9');
	free(img);
}

/* ---- crafted headers ---------------------------------------------------------------------- */
#define IMG_SIZE (64 * 1024)

/* good: a minimal bzImage header that linux_parse_header accepts (boot protocol 2.15). */
static uint8_t *good(void)
{
	uint8_t *img = calloc(1, IMG_SIZE);
	img[0x1f1] = 4;             /* setup_sects: 5 * 512 bytes of setup */
	wr(img + 0x1fe, 0xaa55, 2); /* boot_flag */
	img[0x200] = 0xeb;          /* jmp */
	img[0x201] = 0x6a;          /* header ends at 0x26c */
	memcpy(img + 0x202, "HdrS", 4);
	wr(img + 0x206, 0x020f, 2);     /* version */
	img[0x211] = 0x81;              /* loadflags: LOADED_HIGH | CAN_USE_HEAP */
	wr(img + 0x22c, 0x7fffffff, 4); /* initrd_addr_max */
	wr(img + 0x230, 0x200000, 4);   /* kernel_alignment */
	img[0x234] = 1;                 /* relocatable_kernel */
	wr(img + 0x236, 0x7f, 2);       /* xloadflags: XLF_KERNEL_64 and friends */
	wr(img + 0x238, 2047, 4);       /* cmdline_size */
	wr(img + 0x258, 0x1000000, 8);  /* pref_address */
	wr(img + 0x260, 0x400000, 4);   /* init_size */
	return img;
}

/* expect_err: the image is refused with a message containing msg, and h is zeroed up to
 * what was parsed. */
static void expect_err(const uint8_t *img, uint64_t size, const char *msg)
{
	struct linux_header h;
	const char *err = linux_parse_header(img, size, &h);
	if (!err)
		fail_msg("accepted; expected \"%s\"", msg);
	if (!strstr(err, msg))
		fail_msg("error \"%s\", expected \"%s\"", err, msg);
}

static void test_good(void **state)
{
	uint8_t *img = good();
	struct linux_header h;
	assert_null(linux_parse_header(img, IMG_SIZE, &h));
	assert_int_equal(h.version, 0x020f);
	assert_int_equal(h.setup_size, 5 * 512);
	assert_int_equal(h.kernel_size, IMG_SIZE - 5 * 512);
	assert_int_equal(h.loadflags, 0x81);
	assert_int_equal(h.xloadflags, 0x7f);
	assert_int_equal(h.initrd_addr_max, 0x7fffffff);
	assert_int_equal(h.kernel_alignment, 0x200000);
	assert_true(h.relocatable);
	assert_int_equal(h.cmdline_size, 2047);
	assert_int_equal(h.pref_address, 0x1000000);
	assert_int_equal(h.init_size, 0x400000);
	assert_int_equal(h.hdr_end, 0x26c);
	/* a 64-bit pref_address is read whole */
	wr(img + 0x258, 0x123456789000ULL, 8);
	assert_null(linux_parse_header(img, IMG_SIZE, &h));
	assert_int_equal(h.pref_address, 0x123456789000ULL);
	/* not relocatable */
	img[0x234] = 0;
	assert_null(linux_parse_header(img, IMG_SIZE, &h));
	assert_false(h.relocatable);
	free(img);
}

static void test_too_small(void **state)
{
	uint8_t *img = good();
	const uint64_t sizes[] = {0, 1, 0x1ff, 0x200, 0x26f};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		/* an exact-size copy: nothing past size may be read */
		uint8_t *c = malloc(sizes[i] ? sizes[i] : 1);
		memcpy(c, img, sizes[i]);
		expect_err(c, sizes[i], "too small");
		free(c);
	}
	/* 0x270 bytes hold the header, but not the 5 sectors of setup code it declares */
	uint8_t *c = malloc(0x270);
	memcpy(c, img, 0x270);
	expect_err(c, 0x270, "setup code larger than the file");
	free(c);
	free(img);
}

static void test_bad_magic(void **state)
{
	uint8_t *img = good();
	img[0x1fe] = 0xaa;
	img[0x1ff] = 0x55; /* byte-swapped boot flag (0xAA55 is stored 55 AA) */
	expect_err(img, IMG_SIZE, "no HdrS");
	free(img);
	for (int i = 0; i < 4; i++) {
		img = good();
		img[0x202 + i] ^= 0x20;
		expect_err(img, IMG_SIZE, "no HdrS");
		free(img);
	}
	img = good();
	memset(img, 0, IMG_SIZE); /* not a kernel at all */
	expect_err(img, IMG_SIZE, "no HdrS");
	free(img);
}

static void test_protocol(void **state)
{
	const uint16_t old[] = {0x0000, 0x0200, 0x0206, 0x020a, 0x020b};
	for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
		uint8_t *img = good();
		wr(img + 0x206, old[i], 2);
		expect_err(img, IMG_SIZE, "older than 2.12");
		free(img);
	}
	const uint16_t ok[] = {0x020c, 0x020d, 0x020f, 0x0300, 0xffff};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint8_t *img = good();
		struct linux_header h;
		wr(img + 0x206, ok[i], 2);
		assert_null(linux_parse_header(img, IMG_SIZE, &h));
		assert_int_equal(h.version, ok[i]);
		free(img);
	}
}

static void test_flags(void **state)
{
	uint8_t *img = good();
	img[0x211] = 0x80; /* CAN_USE_HEAP but not LOADED_HIGH: a zImage */
	expect_err(img, IMG_SIZE, "zImage");
	img[0x211] = 0x01;
	wr(img + 0x236, 0x7e, 2); /* everything but XLF_KERNEL_64 */
	expect_err(img, IMG_SIZE, "no 64-bit entry");
	wr(img + 0x236, 0, 2);
	expect_err(img, IMG_SIZE, "no 64-bit entry");
	wr(img + 0x236, 1, 2);
	struct linux_header h;
	assert_null(linux_parse_header(img, IMG_SIZE, &h));
	free(img);
}

static void test_setup_size(void **state)
{
	struct linux_header h;
	uint8_t *img = good();
	/* setup_sects = 0 means 4 (boot.rst) */
	img[0x1f1] = 0;
	assert_null(linux_parse_header(img, IMG_SIZE, &h));
	assert_int_equal(h.setup_size, 5 * 512);
	/* the file must hold the setup code and at least one byte of kernel */
	expect_err(img, 5 * 512, "setup code larger than the file");
	assert_null(linux_parse_header(img, 5 * 512 + 1, &h));
	assert_int_equal(h.kernel_size, 1);
	/* the largest setup: 255 sectors + the boot sector */
	img[0x1f1] = 255;
	expect_err(img, IMG_SIZE, "setup code larger than the file");
	uint8_t *big = calloc(1, 256 * 512 + 4096);
	memcpy(big, img, 0x280);
	assert_null(linux_parse_header(big, 256 * 512 + 4096, &h));
	assert_int_equal(h.setup_size, 256 * 512);
	assert_int_equal(h.kernel_size, 4096);
	free(big);
	free(img);
}

static void test_alignment(void **state)
{
	const uint32_t bad[] = {3, 0x300000, 0x1fffff, 0x80000000, (1u << 30) + 1};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *img = good();
		wr(img + 0x230, bad[i], 4);
		expect_err(img, IMG_SIZE, "bad kernel_alignment");
		free(img);
	}
	const uint32_t ok[] = {0, 1, 0x1000, 0x200000, 0x1000000, 1u << 30};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint8_t *img = good();
		struct linux_header h;
		wr(img + 0x230, ok[i], 4);
		assert_null(linux_parse_header(img, IMG_SIZE, &h));
		assert_int_equal(h.kernel_alignment, ok[i]);
		free(img);
	}
}

/* test_hdr_end: the jump at 0x200 gives the header's end; ends a 2.12+ header cannot have
 * (before 0x268, past 0x280) fall back to 0x268, so the loader copies whole fields only. */
static void test_hdr_end(void **state)
{
	const struct {
		uint8_t jump;
		uint32_t end;
	} cases[] = {{0x6a, 0x26c}, {0x66, 0x268}, {0x7e, 0x280}, {0x7f, 0x268}, {0xff, 0x268},
	             {0x00, 0x268}, {0x5e, 0x268}, {0x5f, 0x268}, {0x65, 0x268}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *img = good();
		struct linux_header h;
		img[0x201] = cases[i].jump;
		assert_null(linux_parse_header(img, IMG_SIZE, &h));
		assert_int_equal(h.hdr_end, cases[i].end);
		assert_true(h.hdr_end <= h.setup_size);
		free(img);
	}
}

/* test_init_size: an init_size smaller than the file's kernel is replaced by 4x the kernel,
 * capped at 4 GiB - 1. */
static void test_init_size(void **state)
{
	struct linux_header h;
	uint8_t *img = good();
	wr(img + 0x260, 0, 4);
	assert_null(linux_parse_header(img, IMG_SIZE, &h));
	assert_int_equal(h.init_size, (IMG_SIZE - 5 * 512) * 4);
	wr(img + 0x260, IMG_SIZE - 5 * 512, 4); /* exactly the kernel: kept */
	assert_null(linux_parse_header(img, IMG_SIZE, &h));
	assert_int_equal(h.init_size, IMG_SIZE - 5 * 512);
	/* a (claimed) 3 GiB file: only the header is read, so a small buffer is enough */
	wr(img + 0x260, 0, 4);
	assert_null(linux_parse_header(img, 3ULL << 30, &h));
	assert_int_equal(h.kernel_size, (3ULL << 30) - 5 * 512);
	assert_int_equal(h.init_size, UINT32_MAX);
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_real_kernel), cmocka_unit_test(test_good),
	    cmocka_unit_test(test_too_small),   cmocka_unit_test(test_bad_magic),
	    cmocka_unit_test(test_protocol),    cmocka_unit_test(test_flags),
	    cmocka_unit_test(test_setup_size),  cmocka_unit_test(test_alignment),
	    cmocka_unit_test(test_hdr_end),     cmocka_unit_test(test_init_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
