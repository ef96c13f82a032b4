/* Argument splitting and parsing; see args.h. */
#include "kernel/args.h"
#include "kernel/fmt.h"
#include "kernel/string.h"

/* is_blank: word separators. */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* args_split: see args.h; copies characters down over removed quotes and escapes. */
int args_split(char *line, char **argv, int max, const char **err)
{
	int argc = 0;
	char *r = line, *w = line;
	*err = NULL;
	for (;;) {
		while (is_blank(*r))
			r++;
		if (!*r)
			break;
		if (argc >= max) {
			*err = "too many arguments";
			return -1;
		}
		argv[argc++] = w;
		char quote = 0;
		while (*r && (quote || !is_blank(*r))) {
			char c = *r++;
			if (quote) {
				if (c == quote) {
					quote = 0;
					continue;
				}
				if (quote == '"' && c == '\\' && (*r == '"' || *r == '\\'))
					c = *r++;
			} else if (c == '"' || c == '\'') {
				quote = c;
				continue;
			}
			*w++ = c;
		}
		if (quote) {
			*err = "unterminated quote";
			return -1;
		}
		bool end = !*r;
		if (!end)
			r++;
		*w++ = 0;
		if (end)
			break;
	}
	return argc;
}

/* parse_u64: digits only, checked against overflow. */
bool parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;
	unsigned base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return false;
		if (x > (UINT64_MAX - d) / base)
			return false;
		x = x * base + d;
	}
	*v = x;
	return true;
}

/* parse_size: number, then optional K/M/G/T, then optional "B" or "iB". */
bool parse_size(const char *s, uint64_t *bytes)
{
	char num[24];
	size_t n = 0;
	while (s[n] >= '0' && s[n] <= '9') {
		if (n + 1 >= sizeof(num))
			return false;
		num[n] = s[n];
		n++;
	}
	num[n] = 0;
	uint64_t v;
	if (!n || !parse_u64(num, &v))
		return false;
	const char *u = s + n;
	unsigned shift = 0;
	switch (*u) {
	case 'k':
	case 'K':
		shift = 10;
		u++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		u++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		u++;
		break;
	case 't':
	case 'T':
		shift = 40;
		u++;
		break;
	default:
		break;
	}
	if (shift && u[0] == 'i' && u[1] == 'B')
		u += 2;
	else if (*u == 'B' || *u == 'b')
		u++;
	if (*u)
		return false;
	if (shift && v > (UINT64_MAX >> shift))
		return false;
	*bytes = v << shift;
	return true;
}

/* parse_bool: the usual spellings. */
bool parse_bool(const char *s, bool *v)
{
	static const char *const yes[] = {"on", "yes", "true", "1"};
	static const char *const no[] = {"off", "no", "false", "0"};
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcmp(s, yes[i])) {
			*v = true;
			return true;
		}
		if (!strcmp(s, no[i])) {
			*v = false;
			return true;
		}
	}
	return false;
}

/* kv_match: "key=value" -> value. */
const char *kv_match(const char *arg, const char *key)
{
	size_t n = strlen(key);
	if (strncmp(arg, key, n) == 0 && arg[n] == '=')
		return arg + n + 1;
	return NULL;
}

/* name_valid: names for VMs, disks, peers: short, printable, no separators. */
bool name_valid(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char c = s[n];
		bool alnum =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (n == 0 || (c != '-' && c != '_' && c != '.')))
			return false;
		if (n >= 31)
			return false;
	}
	return n > 0;
}

/* format_size: largest unit that keeps the value at least 1, one truncated decimal. */
void format_size(uint64_t bytes, char *buf, size_t cap)
{
	static const char units[] = "BKMGT";
	int u = 0;
	while (u < 4 && bytes >= (1ULL << (10 * (u + 1))))
		u++;
	uint64_t whole = bytes >> (10 * u);
	uint64_t frac = u ? ((bytes - (whole << (10 * u))) * 10) >> (10 * u) : 0;
	if (frac)
		fmt_snprintf(buf, cap, "%llu.%llu%c", (unsigned long long)whole,
		             (unsigned long long)frac, units[u]);
	else
		fmt_snprintf(buf, cap, "%llu%c", (unsigned long long)whole, units[u]);
}

/* parse_ipv4: four decimal parts 0-255, no leading junk, no missing parts. */
bool parse_ipv4(const char *s, uint32_t *ip)
{
	uint32_t v = 0;
	for (int part = 0; part < 4; part++) {
		unsigned n = 0, digits = 0;
		while (*s >= '0' && *s <= '9') {
			n = n * 10 + (unsigned)(*s++ - '0');
			if (++digits > 3 || n > 255)
				return false;
		}
		if (!digits || (part < 3 && *s++ != '.'))
			return false;
		v = (v << 8) | n;
	}
	if (*s)
		return false;
	*ip = v;
	return true;
}

bool parse_ipv4_prefix(const char *s, uint32_t *ip, unsigned *prefix)
{
	char buf[20];
	const char *slash = strchr(s, '/');
	uint64_t p;
	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return false;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = 0;
	if (!parse_ipv4(buf, ip) || !parse_u64(slash + 1, &p) || p > 32)
		return false;
	*prefix = (unsigned)p;
	return true;
}

void format_ipv4(uint32_t ip, char *buf, size_t cap)
{
	fmt_snprintf(buf, cap, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
	             ip & 255);
}
