/* Unit tests for kernel/args.c: splitting, number/size/bool parsing, names, size rendering. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/args.h"

/* split: run args_split on a copy of s held in buf; returns argc. */
static int split(char *buf, size_t cap, const char *s, char **argv, int max, const char **err)
{
	assert_true(strlen(s) < cap);
	strcpy(buf, s);
	return args_split(buf, argv, max, err);
}

/* expect_split: s splits into exactly the NULL-terminated list of words. */
static void expect_split(const char *s, const char *const *words)
{
	char buf[512];
	char *argv[ARGS_MAX];
	const char *err = "unset";
	int n = 0;
	while (words[n])
		n++;
	int argc = split(buf, sizeof(buf), s, argv, ARGS_MAX, &err);
	assert_null(err);
	assert_int_equal(argc, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(argv[i], words[i]);
}

#define SPLIT(s, ...) expect_split(s, (const char *const[]){__VA_ARGS__, NULL})

static void test_split_blanks(void **state)
{
	SPLIT("a", "a");
	SPLIT("  vm   start\tdemo \r\n", "vm", "start", "demo");
	SPLIT("\t\tx\ty", "x", "y");
	SPLIT("one two three four", "one", "two", "three", "four");

	char buf[16];
	char *argv[4];
	const char *err = "unset";
	assert_int_equal(split(buf, sizeof(buf), "", argv, 4, &err), 0);
	assert_null(err);
	assert_int_equal(split(buf, sizeof(buf), " \t \r\n ", argv, 4, &err), 0);
	assert_null(err);
}

static void test_split_quotes(void **state)
{
	SPLIT("\"a b\" c", "a b", "c");
	SPLIT("'a b' 'c'", "a b", "c");
	SPLIT("cmdline=\"console=ttyS0 quiet\" x", "cmdline=console=ttyS0 quiet", "x");
	SPLIT("a\"b c\"d", "ab cd");         /* quote opened and closed mid-word */
	SPLIT("\"a\"'b'c", "abc");           /* adjacent quoted pieces join */
	SPLIT("\"\" x ''", "", "x", "");     /* empty quoted words are words */
	SPLIT("\"it's\"", "it's");           /* the other quote is literal */
	SPLIT("'say \"hi\"'", "say \"hi\""); /* no escapes in single quotes... */
	SPLIT("'a\\b'", "a\\b");             /* ...so a backslash stays */
	SPLIT("\"a\\\"b\"", "a\"b");         /* \" inside double quotes */
	SPLIT("\"a\\\\b\"", "a\\b");         /* \\ inside double quotes */
	SPLIT("\"a\\nb\"", "a\\nb");         /* other backslashes are literal */
	SPLIT("\"tab\there\"", "tab\there"); /* blanks inside quotes kept */
	SPLIT("\"x\\\\\" y", "x\\", "y");    /* escaped backslash before the closing quote */
}

static void test_split_unquoted_backslash(void **state)
{
	/* outside quotes a backslash is an ordinary character */
	SPLIT("a\\ b", "a\\", "b");
}

static void test_split_errors(void **state)
{
	char buf[256];
	char *argv[ARGS_MAX];
	const char *err = NULL;
	assert_int_equal(split(buf, sizeof(buf), "a \"b c", argv, ARGS_MAX, &err), -1);
	assert_string_equal(err, "unterminated quote");
	err = NULL;
	assert_int_equal(split(buf, sizeof(buf), "'abc", argv, ARGS_MAX, &err), -1);
	assert_string_equal(err, "unterminated quote");
	err = NULL;
	assert_int_equal(split(buf, sizeof(buf), "\"a\\\"", argv, ARGS_MAX, &err), -1);
	assert_string_equal(err, "unterminated quote"); /* the closing quote was escaped */
	err = NULL;
	assert_int_equal(split(buf, sizeof(buf), "x \"a'", argv, ARGS_MAX, &err), -1);
	assert_string_equal(err, "unterminated quote");

	/* exactly max words is fine, one more is not, trailing blanks do not count */
	err = "unset";
	assert_int_equal(split(buf, sizeof(buf), "a b c   ", argv, 3, &err), 3);
	assert_null(err);
	assert_int_equal(split(buf, sizeof(buf), "a b c d", argv, 3, &err), -1);
	assert_string_equal(err, "too many arguments");
	assert_int_equal(split(buf, sizeof(buf), "a", argv, 0, &err), -1);
	assert_string_equal(err, "too many arguments");

	/* ARGS_MAX words of one letter each */
	char line[2 * ARGS_MAX + 4];
	size_t n = 0;
	for (int i = 0; i < ARGS_MAX; i++) {
		line[n++] = (char)('a' + i % 26);
		line[n++] = ' ';
	}
	line[n] = 0;
	assert_int_equal(split(buf, sizeof(buf), line, argv, ARGS_MAX, &err), ARGS_MAX);
	line[n++] = 'z';
	line[n] = 0;
	assert_int_equal(split(buf, sizeof(buf), line, argv, ARGS_MAX, &err), -1);
}

static void test_split_in_place(void **state)
{
	/* the words live inside the original buffer and never run past its terminator */
	char buf[32];
	memset(buf, 'X', sizeof(buf));
	strcpy(buf, "\"a\" 'b'");
	char *argv[4];
	const char *err;
	assert_int_equal(args_split(buf, argv, 4, &err), 2);
	for (int i = 0; i < 2; i++)
		assert_true(argv[i] >= buf && argv[i] < buf + 8);
	assert_string_equal(argv[0], "a");
	assert_string_equal(argv[1], "b");
	assert_int_equal(buf[8], 'X');
}

static void test_parse_u64(void **state)
{
	uint64_t v = 0;
	assert_true(parse_u64("0", &v));
	assert_int_equal(v, 0);
	assert_true(parse_u64("42", &v));
	assert_int_equal(v, 42);
	assert_true(parse_u64("007", &v));
	assert_int_equal(v, 7);
	assert_true(parse_u64("18446744073709551615", &v));
	assert_true(v == UINT64_MAX);
	assert_true(parse_u64("0x0", &v));
	assert_int_equal(v, 0);
	assert_true(parse_u64("0xdeadBEEF", &v));
	assert_int_equal(v, 0xdeadbeef);
	assert_true(parse_u64("0XfF", &v));
	assert_int_equal(v, 255);
	assert_true(parse_u64("0xffffffffffffffff", &v));
	assert_true(v == UINT64_MAX);
	assert_true(parse_u64("0x0000000000000000000001", &v)); /* leading zeros are not overflow */
	assert_int_equal(v, 1);

	v = 1234;
	const char *bad[] = {"",
	                     "0x",
	                     "x1",
	                     "-1",
	                     "+1",
	                     " 1",
	                     "1 ",
	                     "12a",
	                     "0x1g",
	                     "1.5",
	                     "0b10",
	                     "abc",
	                     "0xx1",
	                     "1e3",
	                     "18446744073709551616",  /* UINT64_MAX + 1 */
	                     "99999999999999999999",  /* 20 digits, overflow */
	                     "184467440737095516150", /* x10 overflow */
	                     "0x10000000000000000",   /* 17 hex digits */
	                     "0x1ffffffffffffffff"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(parse_u64(bad[i], &v));
		assert_int_equal(v, 1234); /* untouched on failure */
	}
}

static void test_parse_size(void **state)
{
	uint64_t b = 0;
	struct {
		const char *s;
		uint64_t v;
	} ok[] = {
	    {"0", 0},
	    {"512", 512},
	    {"512B", 512},
	    {"512b", 512},
	    {"4K", 4096},
	    {"4k", 4096},
	    {"4KB", 4096},
	    {"4KiB", 4096},
	    {"256M", 256ULL << 20},
	    {"256MiB", 256ULL << 20},
	    {"3G", 3ULL << 30},
	    {"2T", 2ULL << 40},
	    {"1t", 1ULL << 40},
	    {"16777215T", 16777215ULL << 40},     /* largest that fits */
	    {"18446744073709551615", UINT64_MAX}, /* bytes, no suffix */
	    {"00000000000000000001K", 1024},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_true(parse_size(ok[i].s, &b));
		assert_true(b == ok[i].v);
	}
	b = 99;
	const char *bad[] = {"",
	                     "K",
	                     "M",
	                     "-1M",
	                     "1.5G",
	                     "1X",
	                     "1KK",
	                     "1KiBB",
	                     "1iB",
	                     "1Ki",
	                     "1 K",
	                     " 1K",
	                     "1K ",
	                     "0x10",
	                     "1MIB",
	                     "1kib",
	                     "16777216T",                /* 2^64: overflow after the shift */
	                     "17179869184G",             /* 2^64 too */
	                     "18446744073709551616",     /* over UINT64_MAX */
	                     "100000000000000000000000", /* longer than the digit buffer */
	                     "9999999999999999999999K"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(parse_size(bad[i], &b));
		assert_int_equal(b, 99);
	}
}

static void test_parse_bool(void **state)
{
	const char *yes[] = {"on", "yes", "true", "1"};
	const char *no[] = {"off", "no", "false", "0"};
	bool v;
	for (int i = 0; i < 4; i++) {
		v = false;
		assert_true(parse_bool(yes[i], &v));
		assert_true(v);
		assert_true(parse_bool(no[i], &v));
		assert_false(v);
	}
	v = true;
	const char *bad[] = {"", "ON", "Yes", "2", "y", "n", "onn", "of", "true ", " 1", "01"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(parse_bool(bad[i], &v));
		assert_true(v);
	}
}

static void test_kv_match(void **state)
{
	assert_string_equal(kv_match("mem=512M", "mem"), "512M");
	assert_string_equal(kv_match("mem=", "mem"), "");
	assert_string_equal(kv_match("mem==x", "mem"), "=x");
	assert_string_equal(kv_match("cmdline=a=b", "cmdline"), "a=b");
	assert_null(kv_match("mem", "mem"));
	assert_null(kv_match("memory=1G", "mem"));
	assert_null(kv_match("me=1", "mem"));
	assert_null(kv_match("=1", "mem"));
	assert_null(kv_match("MEM=1", "mem"));
	assert_string_equal(kv_match("=x", ""), "x");
}

static void test_name_valid(void **state)
{
	const char *good[] = {
	    "a",      "Z",         "0",       "vm1",
	    "web-01", "db_2.prod", "A.b-c_d", "abcdefghijklmnopqrstuvwxyz01234" /* 31 */};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(name_valid(good[i]));
	const char *bad[] = {
	    "",         "-a",   "_a",   "a b", "a/b", "a:b",
	    "\xc3\xa9", "a\tb", ".hid", "a=b", "x!",  "abcdefghijklmnopqrstuvwxyz012345" /* 32 */};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(name_valid(bad[i]));
}

static void test_format_size(void **state)
{
	struct {
		uint64_t v;
		const char *s;
	} cases[] = {
	    {0, "0B"},
	    {1, "1B"},
	    {1023, "1023B"},
	    {1024, "1K"},
	    {1025, "1K"}, /* truncated, not rounded */
	    {1536, "1.5K"},
	    {2047, "1.9K"},
	    {512 << 10, "512K"},
	    {(1 << 20) - 1, "1023.9K"},
	    {1 << 20, "1M"},
	    {3ULL << 29, "1.5G"},
	    {(1ULL << 30) + (1ULL << 30) / 10 + 1, "1.1G"},
	    {5ULL << 40, "5T"},
	    {1ULL << 50, "1024T"}, /* T is the largest unit */
	    {UINT64_MAX, "16777215.9T"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[32];
		format_size(cases[i].v, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].s);
	}
	/* a short buffer truncates and stays terminated */
	char small[4] = "zzz";
	format_size(3ULL << 29, small, sizeof(small));
	assert_string_equal(small, "1.5");
}

/* round trip: every rendering without a decimal parses back to the same size */
static void test_format_parse_roundtrip(void **state)
{
	for (unsigned shift = 0; shift <= 50; shift++) {
		for (uint64_t m = 1; m < 1024; m = m * 3 + 1) {
			uint64_t v = m << shift;
			char buf[32];
			uint64_t back;
			format_size(v, buf, sizeof(buf));
			if (strchr(buf, '.'))
				continue;
			assert_true(parse_size(buf, &back));
			if (shift % 10 == 0 || v < 1024)
				assert_true(back == v);
			else
				assert_true(back <= v);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split_blanks),
	    cmocka_unit_test(test_split_quotes),
	    cmocka_unit_test(test_split_unquoted_backslash),
	    cmocka_unit_test(test_split_errors),
	    cmocka_unit_test(test_split_in_place),
	    cmocka_unit_test(test_parse_u64),
	    cmocka_unit_test(test_parse_size),
	    cmocka_unit_test(test_parse_bool),
	    cmocka_unit_test(test_kv_match),
	    cmocka_unit_test(test_name_valid),
	    cmocka_unit_test(test_format_size),
	    cmocka_unit_test(test_format_parse_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
