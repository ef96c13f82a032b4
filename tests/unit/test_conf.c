/* Unit tests for kernel/conf.c: the tern.conf parser, its callbacks and its error reports. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/conf.h"

/* The callbacks append to a log: "S(type,name)@line", "K(key=value)@line", "E", "!line:msg". */
struct rec {
	char log[16384];
	size_t len;
	int nerr;
};

static void logf_(struct rec *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (r->len)
		r->log[r->len++] = ' ';
	int n = vsnprintf(r->log + r->len, sizeof(r->log) - r->len, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(r->log) - r->len);
	r->len += (size_t)n;
}

/* on_section: sections of type "reject" are refused by the callback. */
static const char *on_section(void *c, const char *type, const char *name, int line)
{
	logf_(c, "S(%s,%s)@%d", type, name, line);
	return strcmp(type, "reject") ? NULL : "section rejected";
}

/* on_key: the key "bad" is refused by the callback. */
static const char *on_key(void *c, const char *key, const char *value, int line)
{
	logf_(c, "K(%s=%s)@%d", key, value, line);
	return strcmp(key, "bad") ? NULL : "bad value";
}

static void on_end(void *c)
{
	logf_(c, "E");
}

static void on_error(void *c, int line, const char *msg)
{
	struct rec *r = c;
	r->nerr++;
	logf_(c, "!%d:%s", line, msg);
}

static const struct conf_ops ops = {on_section, on_key, on_end, on_error};

/* parse: run conf_parse on text of len bytes; the error count must match the reports. */
static const char *parsen(const char *text, size_t len, int *errors)
{
	static struct rec r;
	memset(&r, 0, sizeof(r));
	int n = conf_parse(text, len, &ops, &r);
	assert_int_equal(n, r.nerr);
	if (errors)
		*errors = n;
	return r.log;
}

static const char *parse(const char *text, int *errors)
{
	return parsen(text, strlen(text), errors);
}

#define EXPECT(text, log, nerr)                                                                    \
	do {                                                                                       \
		int e_;                                                                            \
		assert_string_equal(parse(text, &e_), log);                                        \
		assert_int_equal(e_, nerr);                                                        \
	} while (0)

static void test_empty(void **state)
{
	EXPECT("", "S(,)@0 E", 0);
	EXPECT("\n\n   \n\t\n", "S(,)@0 E", 0);
	EXPECT("# only a comment", "S(,)@0 E", 0);
}

static void test_globals_and_sections(void **state)
{
	EXPECT("node = alpha\n"
	       "\n"
	       "[vm demo]\n"
	       "kernel = vmlinuz\n"
	       "memory=512M\n"
	       "[disk d0]\n"
	       "[net]\n"
	       "  mode\t=\tbridge  \n",
	       "S(,)@0 K(node=alpha)@1 E S(vm,demo)@3 K(kernel=vmlinuz)@4 K(memory=512M)@5 E "
	       "S(disk,d0)@6 E S(net,)@7 K(mode=bridge)@8 E",
	       0);
	/* blanks inside the brackets, dotted and dashed names */
	EXPECT("[ vm\t web-1.prod ]\nx.y-z_0 = 1", "S(,)@0 E S(vm,web-1.prod)@1 K(x.y-z_0=1)@2 E",
	       0);
	/* no newline at the end, CRLF line ends */
	EXPECT("a = 1\r\nb = 2\r\n[s n]\r\nc = 3", "S(,)@0 K(a=1)@1 K(b=2)@2 E S(s,n)@3 K(c=3)@4 E",
	       0);
	/* the value keeps inner blanks and '=' characters */
	EXPECT("cmdline = console=ttyS0  quiet\n", "S(,)@0 K(cmdline=console=ttyS0  quiet)@1 E", 0);
	/* empty value */
	EXPECT("k =\nk2=   \n", "S(,)@0 K(k=)@1 K(k2=)@2 E", 0);
	/* the same section twice is two sections */
	EXPECT("[a x]\n[a x]\n", "S(,)@0 E S(a,x)@1 E S(a,x)@2 E", 0);
}

static void test_quotes(void **state)
{
	EXPECT("cmdline = \"console=ttyS0 quiet\"\n", "S(,)@0 K(cmdline=console=ttyS0 quiet)@1 E",
	       0);
	EXPECT("v = \"\"\n", "S(,)@0 K(v=)@1 E", 0);
	EXPECT("v = \"  padded  \"\n", "S(,)@0 K(v=  padded  )@1 E", 0);
	/* escapes: \" and \\; any other backslash is literal */
	EXPECT("v = \"say \\\"hi\\\"\"\n", "S(,)@0 K(v=say \"hi\")@1 E", 0);
	EXPECT("v = \"a\\\\b\"\n", "S(,)@0 K(v=a\\b)@1 E", 0);
	EXPECT("v = \"a\\nb\"\n", "S(,)@0 K(v=a\\nb)@1 E", 0);
	EXPECT("v = \"ends in \\\\\"\n", "S(,)@0 K(v=ends in \\)@1 E", 0);
	/* a single escaped quote (an odd number of quote characters on the line) */
	EXPECT("v = \"a\\\"b\"\n", "S(,)@0 K(v=a\"b)@1 E", 0);
	EXPECT("v = \"5\\\" disk\" # size\n", "S(,)@0 K(v=5\" disk)@1 E", 0);
	/* single quotes mean nothing special */
	EXPECT("v = 'a b'\n", "S(,)@0 K(v='a b')@1 E", 0);
	/* quotes in a key are a bad key name */
	EXPECT("\"k\" = v\n", "S(,)@0 !1:bad key name E", 1);
}

static void test_comments(void **state)
{
	EXPECT("# top\n"
	       "   # indented\n"
	       "a = 1 # trailing\n"
	       "b = x#y\n"
	       "[vm a] # header comment\n"
	       "c = \"x # not a comment\"\n"
	       "d = \"#\" # but this is\n"
	       "e = \"a\\\"#b\" # escaped quote, then a '#' still inside\n"
	       "#[vm b]\n",
	       "S(,)@0 K(a=1)@3 K(b=x)@4 E S(vm,a)@5 K(c=x # not a comment)@6 K(d=#)@7 "
	       "K(e=a\"#b)@8 E",
	       0);
	/* a comment right after '=' leaves an empty value */
	EXPECT("k = # nothing\n", "S(,)@0 K(k=)@1 E", 0);
}

static void test_bad_headers(void **state)
{
	const char *bad[] = {
	    "[vm a",
	    "[vm a]x",
	    "[]",
	    "[ ]",
	    "[vm a b]",
	    "[v!m a]",
	    "[vm a/b]",
	    "[vm \"a\"]",
	    "[[vm a]]",
	    "[vm abcdefghijklmnopqrstuvwxyz012345]", /* name of 32 characters */
	    "[abcdefghijklmnopqrstuvwxyz012345 a]",  /* type of 32 characters */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "a = 1\n\n%s\n", bad[i]);
		int e;
		const char *log = parse(text, &e);
		assert_int_equal(e, 1);
		assert_non_null(strstr(log, "!3:"));
		assert_null(strstr(log, "S(vm"));
	}
	EXPECT("[vm a\n", "S(,)@0 E !1:section header must end with ']'", 1);
	EXPECT("[v!m a]\n", "S(,)@0 E !1:bad section header (expected [TYPE NAME])", 1);
	/* 31 characters are fine */
	EXPECT("[abcdefghijklmnopqrstuvwxyz01234 abcdefghijklmnopqrstuvwxyz01234]\n",
	       "S(,)@0 E S(abcdefghijklmnopqrstuvwxyz01234,abcdefghijklmnopqrstuvwxyz01234)@1 E",
	       0);
}

/* the keys under a header that failed to parse go nowhere, not into the previous section */
static void test_bad_header_skips_keys(void **state)
{
	EXPECT("[vm a]\n"
	       "memory = 1G\n"
	       "[vm bad name]\n"
	       "memory = 64G\n"
	       "bogus line\n"
	       "[vm b]\n"
	       "memory = 2G\n",
	       "S(,)@0 E S(vm,a)@1 K(memory=1G)@2 E !3:bad section header (expected [TYPE NAME]) "
	       "!5:expected 'key = value' S(vm,b)@6 K(memory=2G)@7 E",
	       2);
	/* a bad header right after the global keys: the global section still ends once */
	EXPECT("node = x\n[oops\nnode = y\n",
	       "S(,)@0 K(node=x)@1 E !2:section header must end with ']'", 1);
	/* two bad headers in a row */
	EXPECT("[a\n[b\nk=v\n[c d]\nk=w\n",
	       "S(,)@0 E !1:section header must end with ']' !2:section header must end with ']' "
	       "S(c,d)@4 K(k=w)@5 E",
	       2);
}

static void test_key_errors(void **state)
{
	EXPECT("justtext\n", "S(,)@0 !1:expected 'key = value' E", 1);
	EXPECT("= value\n", "S(,)@0 !1:bad key name E", 1);
	EXPECT("bad key = 1\n", "S(,)@0 !1:bad key name E", 1);
	EXPECT("k!=1\n", "S(,)@0 !1:bad key name E", 1);
	EXPECT("k\xc3\xa9=1\n", "S(,)@0 !1:bad key name E", 1);
	EXPECT("v = \"open\n", "S(,)@0 !1:unterminated quote E", 1);
	EXPECT("v = \"a\"b\"\n", "S(,)@0 !1:unterminated quote E", 1);
	EXPECT("v = \"a\" b\n", "S(,)@0 !1:unterminated quote E", 1);
	EXPECT("v = \"a\"b\"c\"\n", "S(,)@0 !1:stray quote inside a value E", 1);
	EXPECT("v = \"a\\\"\n", "S(,)@0 !1:unterminated quote E", 1); /* closing quote escaped */
	EXPECT("v = x\"y\n", "S(,)@0 !1:unterminated quote E", 1);
	/* parsing goes on after errors, and line numbers stay right */
	EXPECT("a = 1\n"
	       "oops\n"
	       "# c\n"
	       "\n"
	       "b c = 2\n"
	       "[vm x]\n"
	       "d = \"e\n"
	       "f = 3\n",
	       "S(,)@0 K(a=1)@1 !2:expected 'key = value' !5:bad key name E S(vm,x)@6 "
	       "!7:unterminated quote K(f=3)@8 E",
	       3);
}

static void test_callback_errors(void **state)
{
	EXPECT("bad = 1\nok = 2\n[reject r]\nbad = 3\n[s t]\n",
	       "S(,)@0 K(bad=1)@1 !1:bad value K(ok=2)@2 E S(reject,r)@3 !3:section rejected "
	       "K(bad=3)@4 !4:bad value E S(s,t)@5 E",
	       3);
}

static void test_long_lines(void **state)
{
	/* CONF_LINE_MAX - 1 characters fit, CONF_LINE_MAX do not */
	static char text[4 * CONF_LINE_MAX];
	static char expect[4 * CONF_LINE_MAX];
	for (int extra = 0; extra < 3; extra++) {
		size_t len = CONF_LINE_MAX - 1 + extra;
		memset(text, 0, sizeof(text));
		strcpy(text, "k = ");
		memset(text + 4, 'v', len - 4);
		strcpy(text + len, "\nnext = 1\n");
		int e;
		const char *log = parse(text, &e);
		if (extra == 0) {
			snprintf(expect, sizeof(expect), "S(,)@0 K(k=%.*s)@1 K(next=1)@2 E",
			         (int)(len - 4), text + 4);
			assert_string_equal(log, expect);
			assert_int_equal(e, 0);
		} else {
			assert_string_equal(log, "S(,)@0 !1:line too long K(next=1)@2 E");
			assert_int_equal(e, 1);
		}
	}
	/* a very long line without a newline at the end of the file */
	memset(text, '#', sizeof(text));
	int e;
	assert_string_equal(parsen(text, sizeof(text), &e), "S(,)@0 !1:line too long E");
	/* a long comment counts too */
	memset(text, 0, sizeof(text));
	text[0] = '#';
	memset(text + 1, 'c', CONF_LINE_MAX);
	strcat(text, "\n[a b]\n");
	assert_string_equal(parse(text, &e), "S(,)@0 !1:line too long E S(a,b)@2 E");
}

static void test_nul_bytes(void **state)
{
	static const char t1[] = "a = 1\nb = x\0y\nc = 3\n";
	int e;
	assert_string_equal(parsen(t1, sizeof(t1) - 1, &e),
	                    "S(,)@0 K(a=1)@1 !2:line contains a NUL byte K(c=3)@3 E");
	assert_int_equal(e, 1);
	static const char t2[] = "\0\0\0";
	assert_string_equal(parsen(t2, 3, &e), "S(,)@0 !1:line contains a NUL byte E");
	static const char t3[] = "# comment \0 with nul\n";
	assert_string_equal(parsen(t3, sizeof(t3) - 1, &e), "S(,)@0 !1:line contains a NUL byte E");
	/* len is respected: bytes after it are never read */
	static const char t4[] = "a = 1\nb = 2";
	assert_string_equal(parsen(t4, 6, &e), "S(,)@0 K(a=1)@1 E");
	assert_string_equal(parsen(t4, 8, &e), "S(,)@0 K(a=1)@1 !2:expected 'key = value' E");
}

static void test_line_numbers(void **state)
{
	/* errors on many lines: each reported with its own number */
	static char text[64 * 16];
	size_t n = 0;
	for (int i = 1; i <= 60; i++)
		n += (size_t)(i % 3 ? snprintf(text + n, sizeof(text) - n, "k%d = %d\n", i, i)
		                    : snprintf(text + n, sizeof(text) - n, "oops%d\n", i));
	int e;
	const char *log = parse(text, &e);
	assert_int_equal(e, 20);
	for (int i = 3; i <= 60; i += 3) {
		char want[32];
		snprintf(want, sizeof(want), "!%d:expected", i);
		assert_non_null(strstr(log, want));
	}
	assert_non_null(strstr(log, "K(k59=59)@59"));
}

/* the values handed to the callbacks are NUL-terminated copies, never into the caller's text */
static const char *g_first_value;
static const char *keep_key(void *c, const char *key, const char *value, int line)
{
	(void)c;
	(void)key;
	(void)line;
	if (!g_first_value)
		g_first_value = value;
	return NULL;
}
static const char *noop_section(void *c, const char *t, const char *n, int l)
{
	return NULL;
}
static void noop_end(void *c)
{
}
static void noop_error(void *c, int l, const char *m)
{
}

static void test_text_not_modified(void **state)
{
	char text[] = "k = \"v\" # c\n[a b]\n";
	char copy[sizeof(text)];
	memcpy(copy, text, sizeof(text));
	const struct conf_ops o = {noop_section, keep_key, noop_end, noop_error};
	g_first_value = NULL;
	assert_int_equal(conf_parse(text, strlen(text), &o, NULL), 0);
	assert_memory_equal(text, copy, sizeof(text));
	assert_true(g_first_value < text || g_first_value >= text + sizeof(text));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),        cmocka_unit_test(test_globals_and_sections),
	    cmocka_unit_test(test_quotes),       cmocka_unit_test(test_comments),
	    cmocka_unit_test(test_bad_headers),  cmocka_unit_test(test_bad_header_skips_keys),
	    cmocka_unit_test(test_key_errors),   cmocka_unit_test(test_callback_errors),
	    cmocka_unit_test(test_long_lines),   cmocka_unit_test(test_nul_bytes),
	    cmocka_unit_test(test_line_numbers), cmocka_unit_test(test_text_not_modified),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
