/* Serial-console line editor; see lineedit.h. */
#include "kernel/lineedit.h"
#include "kernel/fmt.h"
#include "kernel/string.h"

enum { ESC_NONE, ESC_START, ESC_CSI, ESC_SS3 };

/* append: bytes onto buf[*len..cap), silently cut when it is full. */
static void append(char *buf, size_t *len, size_t cap, const char *s, size_t n)
{
	for (size_t i = 0; i < n && *len < cap; i++)
		buf[(*len)++] = s[i];
}

/* out: append bytes to the terminal output buffer (silently truncated when full). */
static void out(struct lineedit *le, const char *s, size_t n)
{
	append(le->out, &le->out_len, LE_OUT_MAX, s, n);
}

static void outs(struct lineedit *le, const char *s)
{
	out(le, s, strlen(s));
}

/* cursor_back: the sequence that moves the cursor from the end of the line back to pos. */
static void cursor_back(const struct lineedit *le, char *seq, size_t cap)
{
	seq[0] = 0;
	if (le->len > le->pos)
		fmt_snprintf(seq, cap, "\x1b[%uD", (unsigned)(le->len - le->pos)); /* CUB */
}

/* le_redraw: prompt, line and cursor for a fresh, empty terminal line (after a log line
 * took the old one down); returns the length (at most cap). */
size_t le_redraw(const struct lineedit *le, char *buf, size_t cap)
{
	char seq[16];
	cursor_back(le, seq, sizeof(seq));
	size_t n = 0;
	append(buf, &n, cap, le->prompt, strlen(le->prompt));
	append(buf, &n, cap, le->buf, le->len);
	append(buf, &n, cap, seq, strlen(seq));
	return n;
}

/* refresh: redraw prompt and line over the current terminal line, clear what is left of
 * the old one (EL), put the cursor back at pos. */
static void refresh(struct lineedit *le)
{
	char seq[16];
	cursor_back(le, seq, sizeof(seq));
	outs(le, "\r");
	outs(le, le->prompt);
	out(le, le->buf, le->len);
	outs(le, "\x1b[K");
	outs(le, seq);
}

void le_init(struct lineedit *le, const char *prompt)
{
	memset(le, 0, sizeof(*le));
	le->prompt = prompt;
}

void le_prompt(struct lineedit *le)
{
	le->len = le->pos = 0;
	le->hist_browse = 0;
	le->esc = ESC_NONE;
	le->out_len = 0;
	outs(le, le->prompt);
}

/* set_line: replace the buffer (history recall) and redraw. */
static void set_line(struct lineedit *le, const char *s)
{
	le->len = le->pos = strnlen(s, LE_LINE_MAX - 1);
	memcpy(le->buf, s, le->len);
	refresh(le);
}

/* hist_entry: the k-th newest history line (k >= 1). */
static const char *hist_entry(struct lineedit *le, int k)
{
	int idx = (le->hist_newest - (k - 1) + LE_HISTORY) % LE_HISTORY;
	return le->hist[idx];
}

/* history_move: up (+1) / down (-1) through the history. */
static void history_move(struct lineedit *le, int dir)
{
	int k = le->hist_browse + dir;
	if (k < 0 || k > le->hist_count)
		return;
	if (le->hist_browse == 0) {
		memcpy(le->saved, le->buf, le->len);
		le->saved[le->len] = 0;
	}
	le->hist_browse = k;
	set_line(le, k == 0 ? le->saved : hist_entry(le, k));
}

/* history_add: remember a non-empty line unless it repeats the newest one. */
static void history_add(struct lineedit *le, const char *s)
{
	if (!*s || (le->hist_count && !strcmp(hist_entry(le, 1), s)))
		return;
	le->hist_newest = (le->hist_newest + 1) % LE_HISTORY;
	tern_strlcpy(le->hist[le->hist_newest], s, LE_LINE_MAX);
	if (le->hist_count < LE_HISTORY)
		le->hist_count++;
}

/* insert: printable character at the cursor. */
static void insert(struct lineedit *le, char c)
{
	if (le->len >= LE_LINE_MAX - 1) {
		outs(le, "\a");
		return;
	}
	memmove(le->buf + le->pos + 1, le->buf + le->pos, le->len - le->pos);
	le->buf[le->pos++] = c;
	le->len++;
	if (le->pos == le->len)
		out(le, &c, 1); /* plain echo at the end of the line */
	else
		refresh(le);
}

/* delete_at: remove the character at index i and redraw. */
static void delete_at(struct lineedit *le, size_t i)
{
	if (i >= le->len)
		return;
	memmove(le->buf + i, le->buf + i + 1, le->len - i - 1);
	le->len--;
	if (le->pos > i)
		le->pos--;
	refresh(le);
}

/* finish: complete the line. */
static int finish(struct lineedit *le)
{
	le->buf[le->len] = 0;
	memcpy(le->line, le->buf, le->len + 1);
	history_add(le, le->line);
	outs(le, "\r\n");
	return LE_DONE;
}

/* escape: one byte of an ESC [ x / ESC O x sequence. */
static void escape(struct lineedit *le, char c)
{
	if (le->esc == ESC_START) {
		le->esc = c == '[' ? ESC_CSI : c == 'O' ? ESC_SS3 : ESC_NONE;
		le->esc_arg = 0;
		return;
	}
	if (le->esc == ESC_CSI && c >= '0' && c <= '?') {
		/* parameter bytes (ECMA-48 5.4): keep a lone digit, e.g. ESC [ 3 ~; anything
		 * longer (ESC [ 2 3 ~ is F11, ESC [ 1 ; 5 C is Ctrl-Right) is no one-digit key */
		le->esc_arg = le->esc_arg ? -1 : c;
		return;
	}
	le->esc = ESC_NONE;
	switch (c) {
	case 'A':
		history_move(le, +1);
		break;
	case 'B':
		history_move(le, -1);
		break;
	case 'C':
		if (le->pos < le->len) {
			le->pos++;
			outs(le, "\x1b[C");
		}
		break;
	case 'D':
		if (le->pos > 0) {
			le->pos--;
			outs(le, "\x1b[D");
		}
		break;
	case 'H':
		le->pos = 0;
		refresh(le);
		break;
	case 'F':
		le->pos = le->len;
		refresh(le);
		break;
	case '~':
		if (le->esc_arg == '3')
			delete_at(le, le->pos);
		else if (le->esc_arg == '1' || le->esc_arg == '7')
			le->pos = 0, refresh(le);
		else if (le->esc_arg == '4' || le->esc_arg == '8')
			le->pos = le->len, refresh(le);
		break;
	default:
		break;
	}
}

/* le_feed: see lineedit.h. */
int le_feed(struct lineedit *le, char c)
{
	le->out_len = 0;
	bool after_cr = le->last_cr;
	le->last_cr = c == '\r';
	if (le->esc != ESC_NONE) {
		escape(le, c);
		return LE_NONE;
	}
	switch (c) {
	case '\r':
		return finish(le);
	case '\n':
		return after_cr ? LE_NONE : finish(le); /* CRLF counts once */
	case 0x1b:
		le->esc = ESC_START;
		return LE_NONE;
	case 0x7f:
	case 0x08:
		if (le->pos > 0)
			delete_at(le, le->pos - 1);
		return LE_NONE;
	case 0x15: /* Ctrl-U */
		memmove(le->buf, le->buf + le->pos, le->len - le->pos);
		le->len -= le->pos;
		le->pos = 0;
		refresh(le);
		return LE_NONE;
	case 0x03: /* Ctrl-C */
		outs(le, "^C\r\n");
		le->len = le->pos = 0;
		return LE_CANCEL;
	case 0x01: /* Ctrl-A */
		le->pos = 0;
		refresh(le);
		return LE_NONE;
	case 0x05: /* Ctrl-E */
		le->pos = le->len;
		refresh(le);
		return LE_NONE;
	default:
		if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
			insert(le, c);
		return LE_NONE;
	}
}
