/* The console shell core: line editing, splitting, dispatch, help; see shell.h. */
#include "kernel/shell.h"
#include "kernel/args.h"
#include "kernel/console.h"
#include "kernel/fmt.h"
#include "kernel/lineedit.h"
#include "kernel/log.h"
#include "kernel/string.h"

extern const struct shell_cmd __shell_cmds_start[], __shell_cmds_end[];

static struct lineedit g_le;

/* find_cmd: the table entry for name. */
static const struct shell_cmd *find_cmd(const char *name)
{
	for (const struct shell_cmd *c = __shell_cmds_start; c < __shell_cmds_end; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

int shell_error(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	kprintf("error: %s\n", buf);
	return 1;
}

int shell_usage(const char *usage)
{
	kprintf("usage: %s\n", usage);
	return 2;
}

/* shell_dispatch_sub: "FAMILY SUB args..." through a sub-command table. */
int shell_dispatch_sub(const char *family, const struct shell_sub *subs, size_t n, int argc,
                       char **argv)
{
	if (argc >= 2) {
		for (size_t i = 0; i < n; i++)
			if (!strcmp(subs[i].name, argv[1]))
				return subs[i].fn(argc - 1, argv + 1);
		shell_error("%s: unknown sub-command '%s'", family, argv[1]);
	}
	kprintf("usage:\n");
	for (size_t i = 0; i < n; i++)
		kprintf("  %-44s %s\n", subs[i].usage, subs[i].help);
	return 2;
}

/* shell_run_line: split and run one line; unknown commands get a clear error. */
int shell_run_line(char *line)
{
	char *argv[ARGS_MAX];
	const char *err;
	int argc = args_split(line, argv, ARGS_MAX, &err);
	if (argc < 0)
		return shell_error("%s", err);
	if (argc == 0)
		return 0;
	const struct shell_cmd *c = find_cmd(argv[0]);
	if (!c)
		return shell_error("unknown command '%s' (type 'help' for the list)", argv[0]);
	return c->fn(argc, argv);
}

/* shell_interrupted: consume pending input; true if it held a Ctrl-C. */
bool shell_interrupted(void)
{
	int ch;
	while ((ch = console_getc_timeout(1)) >= 0)
		if (ch == 0x03)
			return true;
	return false;
}

/* echo: send the editor's output; while a line is being edited, tell the console how to
 * redraw it (so that log lines from other threads do not split it). */
static void echo(bool editing)
{
	static char redraw[CONSOLE_EDIT_MAX];
	_Static_assert(LE_LINE_MAX + 64 <= CONSOLE_EDIT_MAX, "redraw buffer");
	size_t rn = editing ? le_redraw(&g_le, redraw, sizeof(redraw)) : 0;
	console_edit_write(g_le.out, g_le.out_len, redraw, rn);
}

/* shell_main: prompt, edit, run, forever. */
void shell_main(void *arg)
{
	(void)arg;
	le_init(&g_le, SHELL_PROMPT);
	le_prompt(&g_le);
	echo(true);
	for (;;) {
		int ev = le_feed(&g_le, (char)console_getc());
		echo(ev == LE_NONE);
		if (ev == LE_NONE)
			continue;
		if (ev == LE_DONE)
			shell_run_line(g_le.line);
		le_prompt(&g_le);
		echo(true);
	}
}

/* cmd_help: every command with its usage, or the usage of one. */
static int cmd_help(int argc, char **argv)
{
	if (argc > 2)
		return shell_usage("help [COMMAND]");
	if (argc == 2) {
		const struct shell_cmd *c = find_cmd(argv[1]);
		if (!c)
			return shell_error("unknown command '%s'", argv[1]);
		kprintf("usage: %s\n  %s\n", c->usage, c->help);
		return 0;
	}
	kprintf("Commands:\n");
	const char *last = "";
	for (;;) { /* alphabetical: the next name after `last` each round */
		const struct shell_cmd *next = NULL;
		for (const struct shell_cmd *c = __shell_cmds_start; c < __shell_cmds_end; c++)
			if (!c->hidden && strcmp(c->name, last) > 0 &&
			    (!next || strcmp(c->name, next->name) < 0))
				next = c;
		if (!next)
			return 0;
		kprintf("  %-30s %s\n", next->usage, next->help);
		last = next->name;
	}
}
SHELL_COMMAND(help, "help", "help [COMMAND]", "list commands, or show one command's usage",
              cmd_help);
