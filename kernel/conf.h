/*
 * The tern.conf parser (pure; host-tested and fuzzed).
 *
 *   # comment                 blank lines and comments are ignored
 *   node = alpha              key = value in the global section
 *   [vm demo]                 a section: TYPE NAME
 *   kernel = vmlinuz          key = value in that section
 *   cmdline = "console=ttyS0 quiet"   values may be double-quoted
 *
 * conf_parse calls the callbacks for every section start, key and section end; a callback
 * returning an error string gets it reported with the line number, and parsing goes on. The
 * keys under a malformed header are checked but passed to no callback (they belong to no
 * section); every section callback is followed by exactly one end callback.
 */
#ifndef TERN_CONF_H
#define TERN_CONF_H

#include "kernel/compiler.h"

#define CONF_LINE_MAX 1024
#define CONF_NAME_MAX 32

struct conf_ops {
	/* section: a "[type name]" header (type "" name "" for the implicit global section). */
	const char *(*section)(void *ctx, const char *type, const char *name, int line);
	/* key: key = value inside the current section. */
	const char *(*key)(void *ctx, const char *key, const char *value, int line);
	/* end: the current section is complete (before the next header and at the end). */
	void (*end)(void *ctx);
	/* error: report "line N: message" (parse errors and callback errors). */
	void (*error)(void *ctx, int line, const char *msg);
};

/* conf_parse: parse len bytes of text; returns the number of errors reported. */
int conf_parse(const char *text, size_t len, const struct conf_ops *ops, void *ctx);

#endif
