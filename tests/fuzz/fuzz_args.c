/*
 * libFuzzer target for kernel/args.c: the input (up to its first NUL) goes through
 * args_split, parse_u64, parse_size, parse_bool, kv_match and name_valid; the first 8 bytes
 * also go through format_size. Checks: args_split never writes past the string, gives at most
 * max words, each inside the buffer, without unquoted blanks; parse_u64 agrees with a
 * reference computed here; parse_size agrees with parse_u64 and its suffix; format_size
 * terminates within its buffer and its whole-number renderings parse back.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/args.h"
#include "tests/fuzz/fuzz_check.h"

/* ref_u64: parse_u64's contract, done the slow way with 128-bit arithmetic. */
static bool ref_u64(const char *s, uint64_t *v)
{
	unsigned base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, s += 2;
	if (!*s)
		return false;
	unsigned __int128 x = 0;
	for (; *s; s++) {
		int d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return false;
		x = x * base + (unsigned)d;
		if (x > UINT64_MAX)
			return false;
	}
	*v = (uint64_t)x;
	return true;
}

static void check_split(const char *s, size_t len, int max)
{
	char *buf = malloc(len + 1); /* exactly the string: ASan catches a write past it */
	memcpy(buf, s, len + 1);
	char *argv[ARGS_MAX + 1];
	const char *err = "unset";
	int argc = args_split(buf, argv, max, &err);
	if (argc < 0) {
		CHECK(argc == -1 && err && *err);
	} else {
		CHECK(err == NULL && argc <= max);
		for (int i = 0; i < argc; i++) {
			CHECK(argv[i] >= buf && argv[i] <= buf + len);
			size_t n = strlen(argv[i]);
			CHECK(argv[i] + n <= buf + len);
			if (i)
				CHECK(argv[i] > argv[i - 1]);
			/* a word has no blank unless the input had quotes */
			if (!strchr(s, '"') && !strchr(s, '\''))
				CHECK(!strpbrk(argv[i], " \t\r\n") && n > 0);
		}
		/* without quotes, splitting is what strtok would do */
		if (!strchr(s, '"') && !strchr(s, '\'')) {
			char *copy = strdup(s);
			int k = 0;
			for (char *w = strtok(copy, " \t\r\n"); w; w = strtok(NULL, " \t\r\n"), k++)
				CHECK(k < argc && !strcmp(w, argv[k]));
			CHECK(k == argc);
			free(copy);
		}
	}
	free(buf);
}

static void check_numbers(const char *s)
{
	uint64_t v = 7, r = 9;
	bool ok = parse_u64(s, &v);
	CHECK(ok == ref_u64(s, &r));
	if (ok)
		CHECK(v == r);

	uint64_t b = 0;
	if (parse_size(s, &b)) {
		size_t n = strspn(s, "0123456789");
		CHECK(n > 0);
		char num[32];
		CHECK(n < sizeof(num));
		memcpy(num, s, n);
		num[n] = 0;
		CHECK(ref_u64(num, &r));
		unsigned shift = 0;
		switch (s[n]) {
		case 'k':
		case 'K':
			shift = 10;
			break;
		case 'm':
		case 'M':
			shift = 20;
			break;
		case 'g':
		case 'G':
			shift = 30;
			break;
		case 't':
		case 'T':
			shift = 40;
			break;
		default:
			break;
		}
		CHECK(r <= (UINT64_MAX >> shift) && b == r << shift);
	}

	bool bv;
	if (parse_bool(s, &bv))
		CHECK(strlen(s) <= 5);
	if (name_valid(s))
		CHECK(strlen(s) >= 1 && strlen(s) <= 31 &&
		      strspn(s, "abcdefghijklmnopqrstuvwxyz"
		                "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                "0123456789_.-") == strlen(s));
	const char *eq = strchr(s, '=');
	if (eq && eq > s) {
		char key[64];
		size_t kn = (size_t)(eq - s);
		if (kn < sizeof(key)) {
			memcpy(key, s, kn);
			key[kn] = 0;
			CHECK(kv_match(s, key) == eq + 1);
		}
	}
}

static void check_format(uint64_t v)
{
	char buf[32];
	memset(buf, 'Z', sizeof(buf));
	format_size(v, buf, sizeof(buf));
	size_t n = strnlen(buf, sizeof(buf));
	CHECK(n < sizeof(buf) && n >= 2);
	uint64_t back;
	if (!strchr(buf, '.')) {
		CHECK(parse_size(buf, &back));
		CHECK(back <= v && (v - back) < (v >> 3) + 1); /* truncated by less than 1/8 */
	}
	char small[4];
	format_size(v, small, sizeof(small)); /* truncates, stays terminated */
	CHECK(strnlen(small, sizeof(small)) < sizeof(small));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	size_t len = strlen(s);
	int max = size ? data[0] % (ARGS_MAX + 1) : ARGS_MAX;
	check_split(s, len, max);
	check_split(s, len, ARGS_MAX);
	check_numbers(s);
	uint64_t v = 0;
	memcpy(&v, data, size < 8 ? size : 8);
	check_format(v);
	check_format(v >> (v & 63));
	free(s);
	return 0;
}
