/* fmt_vsnprintf: freestanding formatted printing used by the kernel log and console. */
#include "kernel/fmt.h"

struct outbuf {
	char *buf;
	size_t size;
	size_t len; /* length the output would have */
};

/* put: append one character, dropping it past the end of the buffer. */
static void put(struct outbuf *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

struct spec {
	bool left, zero, space, plus, alt;
	int width, prec;
};

/* pad: emit n copies of c. */
static void pad(struct outbuf *o, char c, int n)
{
	while (n-- > 0)
		put(o, c);
}

/* put_str: emit s honouring width, precision and left alignment. */
static void put_str(struct outbuf *o, const char *s, const struct spec *sp)
{
	int n = 0;
	if (!s)
		s = "(null)";
	while (s[n] && (sp->prec < 0 || n < sp->prec))
		n++;
	if (!sp->left)
		pad(o, ' ', sp->width - n);
	for (int i = 0; i < n; i++)
		put(o, s[i]);
	if (sp->left)
		pad(o, ' ', sp->width - n);
}

/* put_num: emit an integer in the given base with sign, padding and case. */
static void put_num(struct outbuf *o, uint64_t v, bool neg, unsigned base, bool upper,
                    const struct spec *sp)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0;
	char sign = neg ? '-' : sp->plus ? '+' : sp->space ? ' ' : 0;
	const char *prefix = sp->alt && base == 16 && v ? (upper ? "0X" : "0x") : "";
	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	int len = n + (sign ? 1 : 0) + (prefix[0] ? 2 : 0);
	if (!sp->left && !sp->zero)
		pad(o, ' ', sp->width - len);
	if (sign)
		put(o, sign);
	for (; *prefix; prefix++)
		put(o, *prefix);
	if (!sp->left && sp->zero)
		pad(o, '0', sp->width - len);
	while (n)
		put(o, tmp[--n]);
	if (sp->left)
		pad(o, ' ', sp->width - len);
}

/* parse_spec: read flags, width and precision after '%'; returns the advanced pointer. */
static const char *parse_spec(const char *f, struct spec *sp, va_list *ap)
{
	*sp = (struct spec){.prec = -1};
	for (;; f++) {
		if (*f == '-')
			sp->left = true;
		else if (*f == '0')
			sp->zero = true;
		else if (*f == ' ')
			sp->space = true;
		else if (*f == '+')
			sp->plus = true;
		else if (*f == '#')
			sp->alt = true;
		else
			break;
	}
	if (*f == '*') {
		sp->width = va_arg(*ap, int);
		if (sp->width < 0) {
			sp->left = true;
			sp->width = -sp->width;
		}
		f++;
	}
	while (*f >= '0' && *f <= '9')
		sp->width = sp->width * 10 + (*f++ - '0');
	if (*f == '.') {
		f++;
		sp->prec = 0;
		if (*f == '*') {
			sp->prec = va_arg(*ap, int);
			f++;
		}
		while (*f >= '0' && *f <= '9')
			sp->prec = sp->prec * 10 + (*f++ - '0');
	}
	return f;
}

/* fetch_int: read an integer argument of the given length modifier (0 int, 1 long, -1 short...). */
static uint64_t fetch_int(va_list *ap, int lng, bool is_signed, bool *neg)
{
	*neg = false;
	if (is_signed) {
		int64_t v;
		if (lng >= 1)
			v = va_arg(*ap, long long);
		else
			v = va_arg(*ap, int);
		if (lng == -1)
			v = (short)v;
		else if (lng == -2)
			v = (signed char)v;
		if (v < 0) {
			*neg = true;
			return (uint64_t)0 - (uint64_t)v;
		}
		return (uint64_t)v;
	}
	uint64_t v = lng >= 1 ? va_arg(*ap, unsigned long long) : va_arg(*ap, unsigned int);
	if (lng == -1)
		v = (unsigned short)v;
	else if (lng == -2)
		v = (unsigned char)v;
	return v;
}

/* fmt_vsnprintf: format into buf; see fmt.h for what is supported. */
int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap_in)
{
	struct outbuf o = {buf, size, 0};
	va_list ap;
	va_copy(ap, ap_in);
	for (const char *f = fmt; *f; f++) {
		if (*f != '%') {
			put(&o, *f);
			continue;
		}
		struct spec sp;
		f = parse_spec(f + 1, &sp, &ap);
		int lng = 0;
		if (*f == 'h') {
			lng = -1;
			if (*++f == 'h') {
				lng = -2;
				f++;
			}
		} else if (*f == 'l' || *f == 'z' || *f == 't' || *f == 'j') {
			lng = 1;
			if (*f == 'l' && f[1] == 'l')
				f++;
			f++;
		}
		bool neg;
		switch (*f) {
		case 'd':
		case 'i': {
			uint64_t v = fetch_int(&ap, lng, true, &neg);
			put_num(&o, v, neg, 10, false, &sp);
			break;
		}
		case 'u':
			put_num(&o, fetch_int(&ap, lng, false, &neg), false, 10, false, &sp);
			break;
		case 'x':
		case 'X':
			put_num(&o, fetch_int(&ap, lng, false, &neg), false, 16, *f == 'X', &sp);
			break;
		case 'o':
			put_num(&o, fetch_int(&ap, lng, false, &neg), false, 8, false, &sp);
			break;
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			sp.width = 16;
			sp.zero = true;
			put_num(&o, (uintptr_t)va_arg(ap, void *), false, 16, false, &sp);
			break;
		case 's':
			put_str(&o, va_arg(ap, const char *), &sp);
			break;
		case 'c': {
			char c[2] = {(char)va_arg(ap, int), 0};
			sp.prec = 1;
			put_str(&o, c, &sp);
			break;
		}
		case '%':
			put(&o, '%');
			break;
		case 0:
			f--;
			break;
		default:
			put(&o, '%');
			put(&o, *f);
			break;
		}
	}
	va_end(ap);
	if (size)
		buf[o.len < size ? o.len : size - 1] = 0;
	return (int)o.len;
}

/* fmt_snprintf: varargs front end of fmt_vsnprintf. */
int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = fmt_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
