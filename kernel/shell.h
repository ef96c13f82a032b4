/*
 * The serial console shell. Commands live in a table built by the linker: any file declares
 * one with SHELL_COMMAND and the shell core never changes. A handler returns 0 on success;
 * on bad arguments it calls shell_usage()/shell_error() and returns non-zero.
 */
#ifndef TERN_SHELL_H
#define TERN_SHELL_H

#include "kernel/compiler.h"

#define SHELL_PROMPT "tern> "

struct shell_cmd {
	const char *name;
	const char *usage; /* one line: "vm start NAME" */
	const char *help;  /* one line of description */
	int (*fn)(int argc, char **argv);
	bool hidden; /* debug commands left out of `help` */
};

#define SHELL_COMMAND(id, nm, us, hl, f)                                                           \
	static const struct shell_cmd shell_cmd_##id                                               \
	    __attribute__((used, section(".shell_cmds"), aligned(8))) = {nm, us, hl, f, false}
#define SHELL_DEBUG_COMMAND(id, nm, us, hl, f)                                                     \
	static const struct shell_cmd shell_cmd_##id                                               \
	    __attribute__((used, section(".shell_cmds"), aligned(8))) = {nm, us, hl, f, true}

/* A sub-command of a command family ("vm start"). */
struct shell_sub {
	const char *name;
	const char *usage;
	const char *help;
	int (*fn)(int argc, char **argv); /* argv[0] is the sub-command */
};

/* shell_main: the shell thread. */
void shell_main(void *arg);
/* shell_run_line: parse and execute one command line (also used by tests and autostart). */
int shell_run_line(char *line);
/* shell_error: "error: ..." on the console; returns 1 for `return shell_error(...)`. */
int shell_error(const char *fmt, ...) __printf(1, 2);
/* shell_usage: "usage: ..." for a command or sub-command; returns 2. */
int shell_usage(const char *usage);
/* shell_dispatch_sub: run argv[1] from a sub-command table; prints the family usage if none. */
int shell_dispatch_sub(const char *family, const struct shell_sub *subs, size_t n, int argc,
                       char **argv);
/* shell_interrupted: true if the operator pressed Ctrl-C while a command runs (polls input). */
bool shell_interrupted(void);

#endif
