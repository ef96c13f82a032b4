/*
 * Line editing for the serial console (pure; host-tested). Bytes typed go in with le_feed();
 * the echo and redraw bytes for the terminal come out in a small buffer the caller sends.
 * Keys: printable insert; Backspace/DEL, Ctrl-H; Ctrl-U kill line; Ctrl-C cancel; Ctrl-A/E
 * home/end; arrows left/right move, up/down walk the history (VT100/ANSI escape sequences);
 * Home/End/Delete keys; Enter (CR, LF or CRLF) completes the line.
 */
#ifndef TERN_LINEEDIT_H
#define TERN_LINEEDIT_H

#include "kernel/compiler.h"

#define LE_LINE_MAX 1024
#define LE_HISTORY  32
#define LE_OUT_MAX  (3 * LE_LINE_MAX + 64)

enum le_event {
	LE_NONE = 0,   /* keep typing */
	LE_DONE = 1,   /* a line is complete: le.line holds it */
	LE_CANCEL = 2, /* Ctrl-C: the line was dropped */
};

struct lineedit {
	const char *prompt;
	char buf[LE_LINE_MAX];
	size_t len, pos;
	char line[LE_LINE_MAX]; /* the completed line after LE_DONE */
	char hist[LE_HISTORY][LE_LINE_MAX];
	int hist_count;          /* entries stored (<= LE_HISTORY) */
	int hist_newest;         /* index of the newest entry */
	int hist_browse;         /* 0 = editing a new line, k = k-th newest entry shown */
	char saved[LE_LINE_MAX]; /* the new line while browsing history */
	int esc;                 /* escape-sequence parser state */
	char esc_arg;
	bool last_cr;
	char out[LE_OUT_MAX]; /* bytes to send to the terminal after each le_feed */
	size_t out_len;
};

void le_init(struct lineedit *le, const char *prompt);
/* le_feed: process one input byte; returns an le_event. le->out/out_len hold the echo. */
int le_feed(struct lineedit *le, char c);
/* le_prompt: reset for a new line and emit the prompt into le->out. */
void le_prompt(struct lineedit *le);
/* le_redraw: prompt, line and cursor position drawn on a fresh, empty terminal line, for
 * output that had to take the line being edited down; returns n. */
size_t le_redraw(const struct lineedit *le, char *buf, size_t cap);

#endif
