/* Unit tests for kernel/lineedit.c: editing keys, escape sequences, history, terminal output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/lineedit.h"

#define PROMPT "> "

/* Keys as the terminal sends them. */
#define BS     "\x7f"
#define CTRL_H "\x08"
#define CTRL_A "\x01"
#define CTRL_C "\x03"
#define CTRL_E "\x05"
#define CTRL_U "\x15"
#define UP     "\x1b[A"
#define DOWN   "\x1b[B"
#define RIGHT  "\x1b[C"
#define LEFT   "\x1b[D"
#define DELETE "\x1b[3~"
#define REDRAW "\r" PROMPT /* start of every redraw */
#define CLR    "\x1b[K"

struct term {
	struct lineedit le;
	char out[64 * LE_OUT_MAX]; /* every byte le_feed emitted since the last take() */
	size_t out_len;
	int last_ev;
	int ndone, ncancel;
	char lines[64][LE_LINE_MAX]; /* completed lines (the last 64) */
};

static struct term g_term;

/* new_term: a line editor after its first prompt (prompt output discarded). */
static struct term *new_term(void)
{
	struct term *t = &g_term;
	memset(t, 0, sizeof(*t));
	le_init(&t->le, PROMPT);
	le_prompt(&t->le);
	assert_int_equal(t->le.out_len, 2);
	assert_memory_equal(t->le.out, PROMPT, 2);
	return t;
}

/* feedn: send n bytes the way the shell does (re-prompting after DONE/CANCEL). */
static int feedn(struct term *t, const char *s, size_t n)
{
	int ev = LE_NONE;
	for (size_t i = 0; i < n; i++) {
		ev = le_feed(&t->le, s[i]);
		assert_true(t->le.out_len <= LE_OUT_MAX);
		assert_true(t->out_len + t->le.out_len <= sizeof(t->out));
		memcpy(t->out + t->out_len, t->le.out, t->le.out_len);
		t->out_len += t->le.out_len;
		assert_true(t->le.len <= LE_LINE_MAX - 1);
		assert_true(t->le.pos <= t->le.len);
		if (ev == LE_DONE)
			strcpy(t->lines[t->ndone++ % 64], t->le.line);
		if (ev == LE_CANCEL)
			t->ncancel++;
		if (ev != LE_NONE)
			le_prompt(&t->le); /* prompt output not collected */
	}
	t->last_ev = ev;
	return ev;
}

static int feed(struct term *t, const char *s)
{
	return feedn(t, s, strlen(s));
}

/* take: the terminal output so far as a string; clears it. */
static const char *take(struct term *t)
{
	static char s[sizeof(((struct term *)0)->out) + 1];
	memcpy(s, t->out, t->out_len);
	s[t->out_len] = 0;
	t->out_len = 0;
	return s;
}

/* cur: the line being edited, as a string. */
static const char *cur(struct term *t)
{
	static char s[LE_LINE_MAX + 1];
	memcpy(s, t->le.buf, t->le.len);
	s[t->le.len] = 0;
	return s;
}

/* le_redraw: what a log line that took the line down puts back on a fresh terminal line:
 * prompt, line, cursor (no CR or erase: those would split the line in the byte stream). */
static void test_redraw(void **state)
{
	struct term *t = new_term();
	char buf[LE_LINE_MAX + 64];
	size_t n = le_redraw(&t->le, buf, sizeof(buf));
	assert_int_equal(n, strlen(PROMPT));
	assert_memory_equal(buf, PROMPT, n); /* empty line: the prompt alone */
	feed(t, "vm start web" LEFT LEFT LEFT);
	n = le_redraw(&t->le, buf, sizeof(buf));
	buf[n] = 0;
	assert_string_equal(buf, PROMPT "vm start web"
	                                "\x1b[3D");
	/* a full line fits the documented bound; a short buffer is cut, never overrun */
	t = new_term();
	for (int i = 0; i < LE_LINE_MAX + 10; i++)
		feed(t, "x");
	n = le_redraw(&t->le, buf, sizeof(buf));
	assert_int_equal(n, strlen(PROMPT) + LE_LINE_MAX - 1);
	buf[5] = '!';
	assert_int_equal(le_redraw(&t->le, buf, 4), 4);
	assert_memory_equal(buf, PROMPT "xx", 4);
	assert_int_equal(buf[5], '!');
}

static void test_echo_and_enter(void **state)
{
	struct term *t = new_term();
	assert_int_equal(feed(t, "ls -l"), LE_NONE);
	assert_string_equal(take(t), "ls -l"); /* plain echo at the end of the line */
	assert_int_equal(feed(t, "\r"), LE_DONE);
	assert_string_equal(take(t), "\r\n");
	assert_int_equal(t->ndone, 1);
	assert_string_equal(t->lines[0], "ls -l");
	/* an empty line is a line too */
	assert_int_equal(feed(t, "\r"), LE_DONE);
	assert_string_equal(t->lines[1], "");
	/* LF alone also completes */
	assert_int_equal(feed(t, "x\n"), LE_DONE);
	assert_string_equal(t->lines[2], "x");
}

static void test_crlf_once(void **state)
{
	struct term *t = new_term();
	feed(t, "a\r\nb\r\n");
	assert_int_equal(t->ndone, 2);
	assert_string_equal(t->lines[0], "a");
	assert_string_equal(t->lines[1], "b");
	take(t);
	/* the LF right after a CR makes no output and no event */
	feed(t, "c\r");
	take(t);
	assert_int_equal(le_feed(&t->le, '\n'), LE_NONE);
	assert_int_equal(t->le.out_len, 0);
	/* but CR CR, LF LF and LF CR are two lines each */
	t->ndone = 0;
	feed(t, "\r\r\n\n\n\r");
	assert_int_equal(t->ndone, 5); /* CR, CR(+LF), LF, LF, CR */
}

static void test_backspace(void **state)
{
	struct term *t = new_term();
	/* at the start of an empty line: nothing happens */
	assert_int_equal(feed(t, BS CTRL_H), LE_NONE);
	assert_string_equal(take(t), "");
	/* at the end */
	feed(t, "abc");
	take(t);
	feed(t, BS);
	assert_string_equal(cur(t), "ab");
	assert_string_equal(take(t), REDRAW "ab" CLR);
	/* in the middle: "abcd" with the cursor after 'b' */
	feed(t, "cd" LEFT LEFT);
	take(t);
	feed(t, CTRL_H);
	assert_string_equal(cur(t), "acd");
	assert_int_equal(t->le.pos, 1);
	assert_string_equal(take(t), REDRAW "acd" CLR "\x1b[2D");
	/* at the start of a non-empty line */
	feed(t, CTRL_A);
	take(t);
	feed(t, BS);
	assert_string_equal(cur(t), "acd");
	assert_string_equal(take(t), "");
	feed(t, "\r");
	assert_string_equal(t->lines[0], "acd");
}

static void test_insert_middle(void **state)
{
	struct term *t = new_term();
	feed(t, "ac" LEFT);
	assert_string_equal(take(t), "ac\x1b[D");
	feed(t, "b");
	assert_string_equal(take(t), REDRAW "abc" CLR "\x1b[1D");
	assert_int_equal(t->le.pos, 2);
	feed(t, CTRL_A "_");
	assert_string_equal(cur(t), "_abc");
	feed(t, "\r");
	assert_string_equal(t->lines[0], "_abc");
}

static void test_cursor_keys(void **state)
{
	struct term *t = new_term();
	feed(t, "hello");
	take(t);
	/* right at the end and left at the start make no output */
	feed(t, RIGHT);
	assert_string_equal(take(t), "");
	feed(t, LEFT LEFT);
	assert_string_equal(take(t), "\x1b[D\x1b[D");
	assert_int_equal(t->le.pos, 3);
	feed(t, RIGHT);
	assert_string_equal(take(t), "\x1b[C");
	assert_int_equal(t->le.pos, 4);
	feed(t, CTRL_A);
	assert_int_equal(t->le.pos, 0);
	assert_string_equal(take(t), REDRAW "hello" CLR "\x1b[5D");
	feed(t, LEFT);
	assert_string_equal(take(t), "");
	feed(t, CTRL_E);
	assert_int_equal(t->le.pos, 5);
	assert_string_equal(take(t), REDRAW "hello" CLR);
	/* the SS3 (application cursor mode) forms move the same way */
	feed(t, "\x1bOD\x1bOD");
	assert_int_equal(t->le.pos, 3);
	feed(t, "\x1bOC");
	assert_int_equal(t->le.pos, 4);
	assert_string_equal(take(t), "\x1b[D\x1b[D\x1b[C");
	/* Home/End: ESC [ H/F, ESC O H/F, ESC [ 1/7 ~ and ESC [ 4/8 ~ */
	const char *home[] = {"\x1b[H", "\x1bOH", "\x1b[1~", "\x1b[7~"};
	const char *end[] = {"\x1b[F", "\x1bOF", "\x1b[4~", "\x1b[8~"};
	for (int i = 0; i < 4; i++) {
		feed(t, home[i]);
		assert_int_equal(t->le.pos, 0);
		assert_string_equal(take(t), REDRAW "hello" CLR "\x1b[5D");
		feed(t, end[i]);
		assert_int_equal(t->le.pos, 5);
		assert_string_equal(take(t), REDRAW "hello" CLR);
	}
	assert_string_equal(cur(t), "hello");
}

static void test_delete_key(void **state)
{
	struct term *t = new_term();
	feed(t, "abc");
	/* at the end of the line: nothing to delete */
	take(t);
	feed(t, DELETE);
	assert_string_equal(take(t), "");
	assert_string_equal(cur(t), "abc");
	/* under the cursor: the cursor stays */
	feed(t, LEFT LEFT);
	take(t);
	feed(t, DELETE);
	assert_string_equal(cur(t), "ac");
	assert_int_equal(t->le.pos, 1);
	assert_string_equal(take(t), REDRAW "ac" CLR "\x1b[1D");
	feed(t, CTRL_A DELETE DELETE);
	assert_string_equal(cur(t), "");
	feed(t, DELETE);
	assert_string_equal(cur(t), "");
}

static void test_ctrl_u(void **state)
{
	struct term *t = new_term();
	/* cursor in the middle: what is left of it goes, the rest stays */
	feed(t, "abcdef" LEFT LEFT);
	take(t);
	feed(t, CTRL_U);
	assert_string_equal(cur(t), "ef");
	assert_int_equal(t->le.pos, 0);
	assert_string_equal(take(t), REDRAW "ef" CLR "\x1b[2D");
	/* at the end: the whole line */
	feed(t, CTRL_E CTRL_U);
	assert_string_equal(cur(t), "");
	assert_string_equal(take(t), REDRAW "ef" CLR REDRAW CLR);
	/* at the start: nothing goes */
	feed(t, "xy" CTRL_A CTRL_U);
	assert_string_equal(cur(t), "xy");
	feed(t, "\r");
	assert_string_equal(t->lines[0], "xy");
}

static void test_ctrl_c(void **state)
{
	struct term *t = new_term();
	feed(t, "reboot");
	take(t);
	assert_int_equal(feed(t, CTRL_C), LE_CANCEL);
	assert_string_equal(take(t), "^C\r\n");
	assert_int_equal(t->ncancel, 1);
	assert_int_equal(t->ndone, 0);
	/* the new line starts empty and the cancelled one is not in the history */
	assert_string_equal(cur(t), "");
	feed(t, UP);
	assert_string_equal(cur(t), "");
	assert_string_equal(take(t), "");
	/* Ctrl-C while browsing the history */
	feed(t, "one\r" UP);
	assert_string_equal(cur(t), "one");
	assert_int_equal(feed(t, CTRL_C), LE_CANCEL);
	assert_int_equal(t->le.hist_browse, 0);
	assert_string_equal(cur(t), "");
}

static void test_nonprintable_ignored(void **state)
{
	struct term *t = new_term();
	feed(t, "a");
	take(t);
	const char junk[] = {0x00,       0x02,       0x04,       0x06,      0x07, 0x09,
	                     0x0b,       0x0c,       0x0e,       0x10,      0x11, 0x13,
	                     0x16,       0x17,       0x1a,       0x1c,      0x1f, (char)0x80,
	                     (char)0x9b, (char)0xc3, (char)0xa9, (char)0xff};
	for (size_t i = 0; i < sizeof(junk); i++)
		assert_int_equal(feedn(t, &junk[i], 1), LE_NONE);
	assert_string_equal(take(t), "");
	assert_string_equal(cur(t), "a");
	/* every printable ASCII character is taken */
	for (int c = 0x20; c < 0x7f; c++) {
		char ch = (char)c;
		feedn(t, &ch, 1);
	}
	assert_int_equal(t->le.len, 1 + 95);
	assert_int_equal(t->le.buf[1], ' ');
	assert_int_equal(t->le.buf[95], '~');
}

static void test_unknown_escapes(void **state)
{
	struct term *t = new_term();
	feed(t, "abc" LEFT);
	take(t);
	/* ESC + other byte (Alt-x), SS3 function keys, CSI keys Tern does not use */
	feed(t, "\x1bx"
	        "\x1bOP"
	        "\x1b[2~"
	        "\x1b[5~"
	        "\x1b[6~"
	        "\x1b[Z");
	assert_string_equal(cur(t), "abc");
	assert_int_equal(t->le.pos, 2);
	assert_string_equal(take(t), "");
	/* multi-digit parameters are not the one-digit keys: F6 is not Home, F11 not Delete */
	feed(t, "\x1b[17~"
	        "\x1b[18~"
	        "\x1b[23~"
	        "\x1b[24~"
	        "\x1b[34~"
	        "\x1b[200~");
	assert_string_equal(cur(t), "abc");
	assert_int_equal(t->le.pos, 2);
	assert_string_equal(take(t), "");
	/* parameters with ';' (modified keys) are swallowed whole, nothing gets inserted */
	feed(t, "\x1b[1;5D");
	assert_string_equal(cur(t), "abc");
	assert_int_equal(t->le.pos, 1); /* Ctrl-Left moves like Left */
	feed(t, "\x1b[3;5~");
	assert_string_equal(cur(t), "abc");
	/* after all that, ordinary keys work again */
	feed(t, CTRL_E "d\r");
	assert_string_equal(t->lines[0], "abcd");
}

static void test_length_limit(void **state)
{
	struct term *t = new_term();
	char line[LE_LINE_MAX + 8];
	memset(line, 'x', sizeof(line));
	feedn(t, line, LE_LINE_MAX - 1);
	assert_int_equal(t->le.len, LE_LINE_MAX - 1);
	take(t);
	/* the next character rings the bell and is dropped, at the end or in the middle */
	feed(t, "y");
	assert_string_equal(take(t), "\a");
	feed(t, LEFT "y");
	assert_string_equal(take(t), "\x1b[D\a");
	assert_int_equal(t->le.len, LE_LINE_MAX - 1);
	/* after a backspace there is room for one more */
	feed(t, BS "z");
	assert_int_equal(t->le.len, LE_LINE_MAX - 1);
	assert_int_equal(t->le.buf[LE_LINE_MAX - 3], 'z');
	feed(t, "\r");
	assert_int_equal(strlen(t->lines[0]), LE_LINE_MAX - 1);
	/* the full-length line comes back from the history intact */
	feed(t, UP);
	assert_int_equal(t->le.len, LE_LINE_MAX - 1);
	assert_string_equal(cur(t), t->lines[0]);
}

static void test_history_basic(void **state)
{
	struct term *t = new_term();
	/* empty history: up and down do nothing */
	feed(t, UP DOWN);
	assert_string_equal(take(t), "");
	feed(t, "one\rtwo\rthree\r");
	take(t);
	feed(t, UP);
	assert_string_equal(cur(t), "three");
	assert_int_equal(t->le.pos, 5);
	assert_string_equal(take(t), REDRAW "three" CLR);
	feed(t, UP);
	assert_string_equal(cur(t), "two");
	feed(t, "\x1bOA"); /* SS3 up */
	assert_string_equal(cur(t), "one");
	take(t);
	feed(t, UP); /* past the oldest: stays */
	assert_string_equal(cur(t), "one");
	assert_string_equal(take(t), "");
	feed(t, DOWN "\x1bOB");
	assert_string_equal(cur(t), "three");
	feed(t, DOWN);
	assert_string_equal(cur(t), "");
	take(t);
	feed(t, DOWN); /* below the new line: stays */
	assert_string_equal(take(t), "");
	/* recalled and edited lines are new entries */
	feed(t, UP UP "!\r");
	assert_string_equal(t->lines[3], "two!");
	feed(t, UP);
	assert_string_equal(cur(t), "two!");
}

static void test_history_restores_new_line(void **state)
{
	struct term *t = new_term();
	feed(t, "first\rsecond\r");
	feed(t, "half-typed" LEFT LEFT);
	feed(t, UP UP);
	assert_string_equal(cur(t), "first");
	feed(t, DOWN DOWN);
	assert_string_equal(cur(t), "half-typed");
	assert_int_equal(t->le.pos, 10); /* cursor at the end after a recall */
	/* an edit to a recalled line is dropped when browsing on; the new line is not */
	feed(t, UP "XX" UP DOWN);
	assert_string_equal(cur(t), "second");
	feed(t, DOWN);
	assert_string_equal(cur(t), "half-typed");
	/* an empty new line comes back empty */
	feed(t, CTRL_E CTRL_U);
	assert_string_equal(cur(t), "");
	feed(t, UP DOWN);
	assert_string_equal(cur(t), "");
	feed(t, "\r");
	assert_string_equal(t->lines[2], "");
}

static void test_history_duplicates(void **state)
{
	struct term *t = new_term();
	feed(t, "ls\rls\r\rls\rpwd\rls\r");
	/* stored: ls, pwd, ls (repeats of the newest and empty lines are not kept) */
	feed(t, UP);
	assert_string_equal(cur(t), "ls");
	feed(t, UP);
	assert_string_equal(cur(t), "pwd");
	feed(t, UP);
	assert_string_equal(cur(t), "ls");
	take(t);
	feed(t, UP);
	assert_string_equal(take(t), "");
	assert_int_equal(t->le.hist_count, 3);
}

static void test_history_wraps(void **state)
{
	struct term *t = new_term();
	int total = LE_HISTORY + 9;
	char cmd[32];
	for (int i = 0; i < total; i++) {
		snprintf(cmd, sizeof(cmd), "cmd%d\r", i);
		feed(t, cmd);
	}
	assert_int_equal(t->le.hist_count, LE_HISTORY);
	/* walk up through all kept entries: newest first, the oldest LE_HISTORY - total dropped */
	for (int k = 1; k <= LE_HISTORY; k++) {
		feed(t, UP);
		snprintf(cmd, sizeof(cmd), "cmd%d", total - k);
		assert_string_equal(cur(t), cmd);
	}
	take(t);
	feed(t, UP);
	assert_string_equal(take(t), "");
	snprintf(cmd, sizeof(cmd), "cmd%d", total - LE_HISTORY);
	assert_string_equal(cur(t), cmd);
	/* and back down */
	for (int k = LE_HISTORY - 1; k >= 1; k--) {
		feed(t, DOWN);
		snprintf(cmd, sizeof(cmd), "cmd%d", total - k);
		assert_string_equal(cur(t), cmd);
	}
	feed(t, DOWN);
	assert_string_equal(cur(t), "");
	/* a few more rounds of wrapping keep the ring consistent */
	for (int i = 0; i < 3 * LE_HISTORY + 5; i++) {
		snprintf(cmd, sizeof(cmd), "x%d\r", i);
		feed(t, cmd);
	}
	for (int k = 0; k < LE_HISTORY; k++)
		feed(t, UP);
	snprintf(cmd, sizeof(cmd), "x%d", 3 * LE_HISTORY + 5 - LE_HISTORY);
	assert_string_equal(cur(t), cmd);
}

static void test_prompt_resets(void **state)
{
	static struct lineedit lev;
	struct lineedit *le = &lev;
	le_init(le, "tern> ");
	le_prompt(le);
	assert_int_equal(le->out_len, 6);
	assert_memory_equal(le->out, "tern> ", 6);
	le_feed(le, 'a');
	le_feed(le, 0x1b); /* an escape sequence cut short by a new prompt */
	le_prompt(le);
	assert_int_equal(le->len, 0);
	assert_int_equal(le_feed(le, 'A'), LE_NONE);
	assert_int_equal(le->len, 1); /* a plain 'A', not "up" */
	assert_int_equal(le->out_len, 1);
}

/* random keys: invariants hold and the output never overflows its buffer */
static void test_random_keys(void **state)
{
	struct term *t = new_term();
	const char *keys[] = {
	    "a",      "b",       " ",
	    BS,       CTRL_A,    CTRL_E,
	    CTRL_U,   LEFT,      RIGHT,
	    UP,       DOWN,      DELETE,
	    "\r",     "\x1b[1~", "\x1b[4~",
	    "\x1bOH", "\x1b",    "[",
	    "3",      "~",       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
	uint32_t seed = 12345;
	for (int i = 0; i < 20000; i++) {
		seed = seed * 1103515245 + 12345;
		feed(t, keys[(seed >> 16) % (sizeof(keys) / sizeof(keys[0]))]);
		t->out_len = 0;
		t->ndone = 0;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_echo_and_enter),
	    cmocka_unit_test(test_crlf_once),
	    cmocka_unit_test(test_backspace),
	    cmocka_unit_test(test_insert_middle),
	    cmocka_unit_test(test_cursor_keys),
	    cmocka_unit_test(test_delete_key),
	    cmocka_unit_test(test_ctrl_u),
	    cmocka_unit_test(test_ctrl_c),
	    cmocka_unit_test(test_nonprintable_ignored),
	    cmocka_unit_test(test_unknown_escapes),
	    cmocka_unit_test(test_length_limit),
	    cmocka_unit_test(test_history_basic),
	    cmocka_unit_test(test_history_restores_new_line),
	    cmocka_unit_test(test_history_duplicates),
	    cmocka_unit_test(test_history_wraps),
	    cmocka_unit_test(test_prompt_resets),
	    cmocka_unit_test(test_random_keys),
	    cmocka_unit_test(test_redraw),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
