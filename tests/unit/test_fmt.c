/* Unit tests for kernel/fmt.c (vsnprintf) against the C library's printf. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <cmocka.h>

#include "kernel/fmt.h"

/* check: our output equals glibc's for the same format and arguments. */
#define check(...)                                                                                 \
	do {                                                                                       \
		char a[128], b[128];                                                               \
		int na = fmt_snprintf(a, sizeof(a), __VA_ARGS__);                                  \
		int nb = snprintf(b, sizeof(b), __VA_ARGS__);                                      \
		assert_string_equal(a, b);                                                         \
		assert_int_equal(na, nb);                                                          \
	} while (0)

static void test_integers(void **state)
{
	check("%d %i %u", -42, 17, 4000000000u);
	check("%lld %llu", -9223372036854775807LL - 1, 18446744073709551615ULL);
	check("%x %X %#x %#X %#x", 0xbeef, 0xbeef, 255, 255, 0);
	check("%5d|%-5d|%05d|%+d|% d", 42, 42, 42, 42, 42);
	check("%hhu %hu %zu %lx", (unsigned char)300, (unsigned short)70000, (size_t)12345,
	      0xffffffffffUL);
	check("%o %08x %-8x|", 8, 0x1234, 0x1234);
	check("%#010x", 0x1234);
}

static void test_strings(void **state)
{
	check("%s|%10s|%-10s|%.3s|%c%c", "abc", "right", "left", "truncate", 'x', 'y');
	check("%%|%5.2s|", "abcdef");
	check("%*d|%-*d|", 6, 1, 6, 2);
}

static void test_truncation(void **state)
{
	char buf[8];
	int n = fmt_snprintf(buf, sizeof(buf), "%s", "0123456789");
	assert_int_equal(n, 10);
	assert_string_equal(buf, "0123456");
	n = fmt_snprintf(buf, 1, "abc");
	assert_int_equal(n, 3);
	assert_string_equal(buf, "");
	assert_int_equal(fmt_snprintf(NULL, 0, "%d", 12345), 5);
}

static void test_pointer(void **state)
{
	char buf[32];
	fmt_snprintf(buf, sizeof(buf), "%p", (void *)0x1234);
	assert_string_equal(buf, "0x0000000000001234");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_integers),
	    cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_pointer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
