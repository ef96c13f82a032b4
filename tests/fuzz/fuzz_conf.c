/*
 * libFuzzer target for the tern.conf parser: arbitrary text through conf_parse with callbacks
 * that record what they get. Checks: every section callback is closed by exactly one end
 * callback before the next section and at the end; section types/names and keys are
 * identifiers of at most CONF_NAME_MAX - 1 characters; values hold no newline and fit a line;
 * line numbers only grow and never pass the number of lines; the returned count equals the
 * errors reported. Callbacks refuse some input so the error paths run too.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernel/conf.h"
#include "tests/fuzz/fuzz_check.h"

struct rec {
	int open; /* a section is open (section seen, end not yet) */
	int sections, ends, keys, errors;
	int last_line; /* line numbers of callbacks and errors never go back */
	int max_line;  /* lines in the input */
};

static int ident(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return 0;
	}
	return (int)n;
}

static void at_line(struct rec *r, int line)
{
	CHECK(line >= r->last_line && line <= r->max_line);
	r->last_line = line;
}

static const char *on_section(void *c, const char *type, const char *name, int line)
{
	struct rec *r = c;
	CHECK(!r->open);
	r->open = 1;
	r->sections++;
	at_line(r, line);
	if (r->sections == 1) {
		CHECK(line == 0 && !*type && !*name);
		return NULL;
	}
	int nt = ident(type), nn = ident(name);
	CHECK(nt > 0 && nt < CONF_NAME_MAX);
	CHECK(nn >= 0 && nn < CONF_NAME_MAX && (nn > 0 || !*name));
	return type[0] == 'x' ? "rejected" : NULL;
}

static const char *on_key(void *c, const char *key, const char *value, int line)
{
	struct rec *r = c;
	CHECK(r->open);
	r->keys++;
	at_line(r, line);
	CHECK(ident(key) > 0);
	size_t n = strlen(value);
	CHECK(n < CONF_LINE_MAX && !memchr(value, '\n', n));
	return key[0] == 'x' ? "bad value" : NULL;
}

static void on_end(void *c)
{
	struct rec *r = c;
	CHECK(r->open);
	r->open = 0;
	r->ends++;
}

static void on_error(void *c, int line, const char *msg)
{
	struct rec *r = c;
	CHECK(msg && *msg);
	at_line(r, line);
	r->errors++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct conf_ops ops = {on_section, on_key, on_end, on_error};
	struct rec r = {0};
	r.max_line = 1;
	for (size_t i = 0; i < size; i++)
		r.max_line += data[i] == '\n';
	int n = conf_parse((const char *)data, size, &ops, &r);
	CHECK(n == r.errors);
	CHECK(!r.open && r.sections == r.ends);
	return 0;
}
