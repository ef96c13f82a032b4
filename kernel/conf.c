/* tern.conf parser; see conf.h. */
#include "kernel/conf.h"
#include "kernel/string.h"

struct parser {
	const struct conf_ops *ops;
	void *ctx;
	int errors;
	bool open; /* a section callback was made and its end callback is still due */
	bool skip; /* under a malformed header: keys are checked but go to no section */
};

/* report: one error with its line number. */
static void report(struct parser *p, int line, const char *msg)
{
	p->errors++;
	p->ops->error(p->ctx, line, msg);
}

/* trim: strip blanks at both ends in place. */
static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

/* ident_ok: keys and section words: letters, digits, '_', '-', '.'. */
static bool ident_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* strip_comment: cut at a '#' that is not inside double quotes. */
static const char *strip_comment(char *s)
{
	bool q = false;
	for (char *c = s; *c; c++) {
		if (q && *c == '\\' && (c[1] == '"' || c[1] == '\\'))
			c++; /* an escape inside quotes (see unquote) */
		else if (*c == '"')
			q = !q;
		else if (*c == '#' && !q) {
			*c = 0;
			break;
		}
	}
	return q ? "unterminated quote" : NULL;
}

/* unquote: a value in double quotes loses them (\" and \\ escapes); else taken as is. */
static const char *unquote(char *v)
{
	size_t n = strlen(v);
	if (n == 0 || v[0] != '"')
		return NULL;
	if (n < 2 || v[n - 1] != '"')
		return "unterminated quote";
	char *w = v;
	for (size_t i = 1; i < n - 1; i++) {
		if (v[i] == '\\' && i + 1 < n - 1 && (v[i + 1] == '"' || v[i + 1] == '\\'))
			i++;
		else if (v[i] == '"')
			return "stray quote inside a value";
		*w++ = v[i];
	}
	*w = 0;
	return NULL;
}

/* close_section: the end callback for the open section, if any. */
static void close_section(struct parser *p)
{
	if (p->open)
		p->ops->end(p->ctx);
	p->open = false;
}

/* bad_header: report it and drop the keys up to the next good header. */
static void bad_header(struct parser *p, int line, const char *msg)
{
	close_section(p);
	p->skip = true;
	report(p, line, msg);
}

/* section_line: "[type name]". */
static void section_line(struct parser *p, char *s, int line)
{
	size_t n = strlen(s);
	if (s[n - 1] != ']') {
		bad_header(p, line, "section header must end with ']'");
		return;
	}
	s[n - 1] = 0;
	char *type = trim(s + 1), *name = type;
	while (*name && *name != ' ' && *name != '\t')
		name++;
	if (*name)
		*name++ = 0;
	name = trim(name);
	if (!ident_ok(type) || (*name && !ident_ok(name)) || strlen(type) >= CONF_NAME_MAX ||
	    strlen(name) >= CONF_NAME_MAX) {
		bad_header(p, line, "bad section header (expected [TYPE NAME])");
		return;
	}
	close_section(p);
	p->open = true;
	p->skip = false;
	const char *err = p->ops->section(p->ctx, type, name, line);
	if (err)
		report(p, line, err);
}

/* key_line: "key = value". */
static void key_line(struct parser *p, char *s, int line)
{
	char *eq = strchr(s, '=');
	if (!eq) {
		report(p, line, "expected 'key = value'");
		return;
	}
	*eq = 0;
	char *key = trim(s), *value = trim(eq + 1);
	if (!ident_ok(key)) {
		report(p, line, "bad key name");
		return;
	}
	const char *err = unquote(value);
	if (!err && !p->skip)
		err = p->ops->key(p->ctx, key, value, line);
	if (err)
		report(p, line, err);
}

/* conf_parse: line by line; over-long lines and NUL bytes are errors, not crashes. */
int conf_parse(const char *text, size_t len, const struct conf_ops *ops, void *ctx)
{
	struct parser p = {ops, ctx, 0, true, false};
	char buf[CONF_LINE_MAX];
	const char *err = ops->section(ctx, "", "", 0);
	if (err)
		report(&p, 0, err);
	size_t i = 0;
	for (int line = 1; i < len; line++) {
		size_t n = 0;
		bool bad = false;
		for (; i < len && text[i] != '\n'; i++) {
			if (text[i] == 0)
				bad = true;
			if (n < sizeof(buf) - 1)
				buf[n] = text[i];
			n++;
		}
		i++; /* the newline */
		if (n >= sizeof(buf)) {
			report(&p, line, "line too long");
			continue;
		}
		if (bad) {
			report(&p, line, "line contains a NUL byte");
			continue;
		}
		buf[n] = 0;
		if ((err = strip_comment(buf))) {
			report(&p, line, err);
			continue;
		}
		char *s = trim(buf);
		if (!*s)
			continue;
		if (*s == '[')
			section_line(&p, s, line);
		else
			key_line(&p, s, line);
	}
	close_section(&p);
	return p.errors;
}
