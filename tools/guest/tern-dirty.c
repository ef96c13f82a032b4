/*
 * tern-dirty: dirties guest memory at a chosen rate and proves that guest memory survived a
 * snapshot/restore or migration intact.
 *
 * usage:
 *   tern-dirty fill  SEED MB [FILE]      write MB MiB of the SEED pattern to FILE
 *   tern-dirty check SEED MB [FILE]      verify FILE holds exactly that pattern
 *   tern-dirty hold  SEED MB [SECS]      fill MB MiB of anonymous memory with the pattern, then
 *                                        re-verify it every SECS seconds (default 5) until killed
 *   tern-dirty dirty MB [RATE [SECS]]    keep rewriting MB MiB of anonymous memory at RATE MiB/s
 *                                        (0 = as fast as possible, the default) for SECS seconds
 *                                        (0 = until killed, the default)
 *
 * FILE defaults to /tmp/tern-dirty.SEED; in the Tern guest / and /tmp are in RAM (initramfs), so
 * the file's pages are guest memory. SEED is any 64-bit number, MB is 1..65536.
 * The pattern is word i (8 bytes) = mix64(SEED * 2^32 + i); every line printed also carries a
 * checksum ("sum=") of the pattern so runs can be compared.
 *
 * dirty: each pass writes a tag (pass number, page number) into every 64-byte line of every
 * 4 KiB page and, before overwriting a page, checks it still holds the previous pass's tag, so
 * a page whose last write was lost (e.g. missed by dirty tracking during migration) is
 * reported. Once a second it prints
 *   TERN-DIRTY dirty t=S pass=P mib_s=R errors=E
 * hold prints "TERN-DIRTY hold ok round=N" after each verification (SIGUSR1 verifies at once).
 * SIGINT/SIGTERM end dirty/hold with a summary line.
 *
 * Result lines start with "TERN-DIRTY" and contain " ok" or " FAIL".
 * Exit status: 0 intact, 1 corruption found, 2 bad arguments, 3 system error (I/O, memory).
 */
#include "common.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>

#define PAGE           4096u
#define WORDS_PER_PAGE (PAGE / 8u)
#define MIB            (1024u * 1024u)
#define CHUNK          (1u * MIB)

static volatile sig_atomic_t got_usr1, got_stop;

/* Signal handler: records which signal arrived. */
static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_stop = 1;
}

/* Installs the handlers (without SA_RESTART so sleeps end early). */
static void setup_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void usage(void)
{
	sayerr("usage: tern-dirty fill SEED MB [FILE] | check SEED MB [FILE] | "
	       "hold SEED MB [SECS] | dirty MB [RATE_MIB_S [SECS]]");
	exit(2);
}

/* Pattern word number i (counted from the start of the region) for seed. */
static inline uint64_t pattern(uint64_t seed, uint64_t i)
{
	return mix64((seed << 32) + i);
}

/* Order-dependent checksum of the pattern words [first, first+n), folded into *sum. */
static inline void sum_fold(uint64_t *sum, uint64_t w)
{
	*sum = ((*sum << 7) | (*sum >> 57)) ^ w;
}

/* Fills buf (n words) with the pattern starting at word index first; folds into *sum. */
static void fill_words(uint64_t *buf, size_t n, uint64_t seed, uint64_t first, uint64_t *sum)
{
	for (size_t i = 0; i < n; i++) {
		buf[i] = pattern(seed, first + i);
		sum_fold(sum, buf[i]);
	}
}

/* Verification state: counts of bad pages and the first bad byte offset. */
struct verdict {
	uint64_t bad_pages, first_bad, sum;
};

/* Checks buf (n words, n a multiple of a page) against the pattern at word index first. */
static void check_words(const uint64_t *buf, size_t n, uint64_t seed, uint64_t first,
                        struct verdict *v)
{
	for (size_t p = 0; p < n; p += WORDS_PER_PAGE) {
		int bad = 0;
		for (size_t i = p; i < p + WORDS_PER_PAGE && i < n; i++) {
			uint64_t want = pattern(seed, first + i);
			sum_fold(&v->sum, buf[i]);
			if (buf[i] != want && !bad) {
				bad = 1;
				if (v->bad_pages == 0)
					v->first_bad = (first + i) * 8;
			}
		}
		v->bad_pages += bad;
	}
}

/* Default file name for a seed. */
static void default_file(char *out, size_t len, uint64_t seed)
{
	snprintf(out, len, "/tmp/tern-dirty.%llu", (unsigned long long)seed);
}

/* fill SEED MB [FILE]: writes the pattern to a file. */
static int cmd_fill(uint64_t seed, uint64_t mb, const char *file)
{
	static uint64_t buf[CHUNK / 8];
	uint64_t sum = 0;
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0) {
		sayerr("tern-dirty: %s: %s", file, strerror(errno));
		return 3;
	}
	for (uint64_t c = 0; c < mb; c++) {
		fill_words(buf, CHUNK / 8, seed, c * (CHUNK / 8), &sum);
		for (size_t off = 0; off < CHUNK;) {
			ssize_t w = write(fd, (char *)buf + off, CHUNK - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				sayerr("tern-dirty: write %s: %s", file,
				       w < 0 ? strerror(errno) : "short");
				close(fd);
				return 3;
			}
			off += (size_t)w;
		}
	}
	if (close(fd) < 0) {
		sayerr("tern-dirty: close %s: %s", file, strerror(errno));
		return 3;
	}
	say("TERN-DIRTY fill ok seed=%llu mib=%llu file=%s sum=%016llx", (unsigned long long)seed,
	    (unsigned long long)mb, file, (unsigned long long)sum);
	return 0;
}

/* check SEED MB [FILE]: verifies a file written by fill. */
static int cmd_check(uint64_t seed, uint64_t mb, const char *file)
{
	static uint64_t buf[CHUNK / 8];
	struct verdict v = {0, 0, 0};
	uint64_t total = 0;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		say("TERN-DIRTY check FAIL seed=%llu mib=%llu file=%s error=%s",
		    (unsigned long long)seed, (unsigned long long)mb, file, strerror(errno));
		return 1;
	}
	for (;;) {
		size_t got = 0;
		while (got < CHUNK) {
			ssize_t r = read(fd, (char *)buf + got, CHUNK - got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				sayerr("tern-dirty: read %s: %s", file, strerror(errno));
				close(fd);
				return 3;
			}
			if (r == 0)
				break;
			got += (size_t)r;
		}
		if (got == 0)
			break;
		if (total + got <= mb * MIB) {
			/* A short tail (not a whole word) is caught by the size check below. */
			check_words(buf, got / 8, seed, total / 8, &v);
		}
		total += got;
		if (got < CHUNK)
			break;
	}
	close(fd);
	if (total != mb * MIB || v.bad_pages) {
		say("TERN-DIRTY check FAIL seed=%llu mib=%llu file=%s bytes=%llu bad_pages=%llu "
		    "first_bad=0x%llx",
		    (unsigned long long)seed, (unsigned long long)mb, file,
		    (unsigned long long)total, (unsigned long long)v.bad_pages,
		    (unsigned long long)v.first_bad);
		return 1;
	}
	say("TERN-DIRTY check ok seed=%llu mib=%llu file=%s sum=%016llx", (unsigned long long)seed,
	    (unsigned long long)mb, file, (unsigned long long)v.sum);
	return 0;
}

/* Maps len bytes of anonymous memory (locked in RAM when allowed). */
static uint64_t *map_anon(uint64_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		sayerr("tern-dirty: mmap %llu MiB: %s", (unsigned long long)(len / MIB),
		       strerror(errno));
		return NULL;
	}
	mlock(p, len); /* best effort: there is no swap in the guest anyway */
	return p;
}

/* hold SEED MB [SECS]: fills anonymous memory and re-verifies it periodically. */
static int cmd_hold(uint64_t seed, uint64_t mb, uint64_t secs)
{
	uint64_t len = mb * MIB, sum = 0, round = 0;
	uint64_t *mem = map_anon(len);

	if (mem == NULL)
		return 3;
	setup_signals();
	fill_words(mem, len / 8, seed, 0, &sum);
	say("TERN-DIRTY hold ready seed=%llu mib=%llu sum=%016llx", (unsigned long long)seed,
	    (unsigned long long)mb, (unsigned long long)sum);
	for (;;) {
		uint64_t until = mono_ns() + secs * 1000000000ull;
		while (!got_stop && !got_usr1 && mono_ns() < until)
			sleep_until_ns(until);
		got_usr1 = 0;
		struct verdict v = {0, 0, 0};
		check_words(mem, len / 8, seed, 0, &v);
		round++;
		if (v.bad_pages) {
			say("TERN-DIRTY hold FAIL round=%llu bad_pages=%llu first_bad=0x%llx",
			    (unsigned long long)round, (unsigned long long)v.bad_pages,
			    (unsigned long long)v.first_bad);
			return 1;
		}
		say("TERN-DIRTY hold ok round=%llu sum=%016llx%s", (unsigned long long)round,
		    (unsigned long long)v.sum, got_stop ? " final" : "");
		if (got_stop)
			return 0;
	}
}

/* Tag written into page pg during pass (never 0, so untouched memory fails the check). */
static inline uint64_t dirty_tag(uint64_t pass, uint64_t pg)
{
	return 0x7465726e00000000ull ^ (pass << 40) ^ pg ^ 0x5a5a;
}

/* Checks one page against the previous pass's tag and writes this pass's; 1 if it was bad. */
static inline int dirty_page(uint64_t *page, uint64_t pass, uint64_t pg)
{
	uint64_t want = dirty_tag(pass - 1, pg), tag = dirty_tag(pass, pg);
	int bad = 0;

	for (unsigned i = 0; i < WORDS_PER_PAGE; i += 8) { /* one word per 64-byte line */
		bad |= page[i] != want;
		page[i] = tag;
	}
	return bad;
}

/* dirty MB [RATE [SECS]]: rewrites memory at a given rate, checking the previous writes. */
static int cmd_dirty(uint64_t mb, uint64_t rate, uint64_t secs)
{
	uint64_t pages = mb * MIB / PAGE, errors = 0, pass = 1, pg = 0, done = 0, done_mark = 0;
	uint64_t *mem = map_anon(mb * MIB);
	const uint64_t slice = 10000000ull; /* 10 ms pacing slices */
	uint64_t per_slice = rate ? rate * (MIB / PAGE) / 100 : 0;

	if (mem == NULL)
		return 3;
	if (rate && per_slice == 0)
		per_slice = 1;
	setup_signals();
	for (uint64_t i = 0; i < pages; i++) /* pass 0: initial tags */
		for (unsigned w = 0; w < WORDS_PER_PAGE; w += 8)
			mem[i * WORDS_PER_PAGE + w] = dirty_tag(0, i);

	uint64_t start = mono_ns(), next_slice = start + slice, next_report = start + 1000000000ull;
	uint64_t end = secs ? start + secs * 1000000000ull : 0, mark = start;
	say("TERN-DIRTY dirty start mib=%llu rate_mib_s=%llu secs=%llu", (unsigned long long)mb,
	    (unsigned long long)rate, (unsigned long long)secs);
	while (!got_stop) {
		uint64_t n = per_slice ? per_slice : 256; /* unpaced: check the clock every 1 MiB */
		for (uint64_t k = 0; k < n; k++) {
			if (dirty_page(mem + pg * WORDS_PER_PAGE, pass, pg)) {
				if (errors < 5)
					say("TERN-DIRTY dirty FAIL page=%llu pass=%llu",
					    (unsigned long long)pg, (unsigned long long)pass);
				errors++;
			}
			done++;
			if (++pg == pages) {
				pg = 0;
				pass++;
			}
		}
		uint64_t now = mono_ns();
		if (now >= next_report) {
			uint64_t ms = (now - mark) / 1000000ull;
			uint64_t kib_s = ms ? (done - done_mark) * (PAGE / 1024) * 1000 / ms : 0;
			say("TERN-DIRTY dirty t=%llu pass=%llu mib_s=%llu.%01llu errors=%llu",
			    (unsigned long long)((now - start) / 1000000000ull),
			    (unsigned long long)pass, (unsigned long long)(kib_s / 1024),
			    (unsigned long long)(kib_s % 1024 * 10 / 1024),
			    (unsigned long long)errors);
			mark = now;
			done_mark = done;
			next_report += 1000000000ull;
			if (next_report <= now) /* frozen for a while: do not print a burst */
				next_report = now + 1000000000ull;
		}
		if (end && now >= end)
			break;
		if (per_slice) {
			if (now < next_slice)
				sleep_until_ns(next_slice);
			next_slice += slice;
			if (next_slice + 10 * slice <
			    mono_ns()) /* fell far behind: no catch-up burst */
				next_slice = mono_ns() + slice;
		}
	}
	say("TERN-DIRTY dirty %s passes=%llu mib_written=%llu errors=%llu", errors ? "FAIL" : "ok",
	    (unsigned long long)pass, (unsigned long long)(done * PAGE / MIB),
	    (unsigned long long)errors);
	return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	uint64_t seed, mb, x = 0, y = 0;
	char file[64];

	if (argc < 3)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(argv[1], "dirty") == 0) {
		if (argc > 5 || parse_u64(argv[2], 1, 65536, &mb) ||
		    (argc > 3 && parse_u64(argv[3], 0, 1u << 20, &x)) ||
		    (argc > 4 && parse_u64(argv[4], 0, 1u << 30, &y)))
			usage();
		return cmd_dirty(mb, x, y);
	}
	if (argc < 4 || argc > 5 || parse_u64(argv[2], 0, UINT64_MAX, &seed) ||
	    parse_u64(argv[3], 1, 65536, &mb))
		usage();
	default_file(file, sizeof(file), seed);
	if (strcmp(argv[1], "fill") == 0)
		return cmd_fill(seed, mb, argc > 4 ? argv[4] : file);
	if (strcmp(argv[1], "check") == 0)
		return cmd_check(seed, mb, argc > 4 ? argv[4] : file);
	if (strcmp(argv[1], "hold") == 0) {
		if (argc > 4 && parse_u64(argv[4], 1, 86400, &x))
			usage();
		return cmd_hold(seed, mb, argc > 4 ? x : 5);
	}
	usage();
	return 2;
}
