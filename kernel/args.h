/* Command-line splitting and argument parsing for the console and tern.conf (pure; host-tested). */
#ifndef TERN_ARGS_H
#define TERN_ARGS_H

#include "kernel/compiler.h"

#define ARGS_MAX 32

/*
 * args_split: split line in place into argv on blanks. Double or single quotes group blanks
 * into one word and may start mid-word (cmdline="a b" gives cmdline=a b); inside double quotes
 * \" and \\ are escapes. Returns argc, or -1 with *err set (unterminated quote, too many words).
 */
int args_split(char *line, char **argv, int max, const char **err);
/* parse_u64: decimal or 0x-prefixed hex, no sign, no overflow. */
bool parse_u64(const char *s, uint64_t *v);
/* parse_size: a byte count with an optional K/M/G/T suffix (powers of 1024), e.g. 256M. */
bool parse_size(const char *s, uint64_t *bytes);
/* parse_bool: on/off, yes/no, true/false, 1/0. */
bool parse_bool(const char *s, bool *v);
/* kv_match: if arg is "key=value", return value, else NULL. */
const char *kv_match(const char *arg, const char *key);
/* name_valid: 1-31 characters from [A-Za-z0-9_.-], starting alphanumeric. */
bool name_valid(const char *s);
/* parse_ipv4: dotted quad "a.b.c.d" into host byte order. */
bool parse_ipv4(const char *s, uint32_t *ip);
/* parse_ipv4_prefix: "a.b.c.d/n" (n 0-32); a missing "/n" is refused. */
bool parse_ipv4_prefix(const char *s, uint32_t *ip, unsigned *prefix);
/* format_ipv4: "a.b.c.d" into buf (16 bytes suffice). */
void format_ipv4(uint32_t ip, char *buf, size_t cap);
/* format_size: "512K", "1.5G" style rendering of a byte count into buf. */
void format_size(uint64_t bytes, char *buf, size_t cap);

#endif
