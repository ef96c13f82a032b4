/*
 * tern-counter: prints an incrementing counter with the guest's uptime, to prove that a guest
 * continued (snapshot/restore, live migration) rather than rebooted or restarted the program.
 *
 * usage: tern-counter [-i MS] [-n COUNT] [-o FILE] [-s]
 *   -i MS     interval between lines in milliseconds (default 1000, 10..3600000)
 *   -n COUNT  stop after COUNT lines (default 0: run until killed)
 *   -o FILE   append the lines to FILE instead of standard output
 *   -s        on demand only: no timer, print one line per line read on standard input
 *   SIGUSR1   prints an extra line at once ("on demand" while running in the background)
 *   SIGINT/SIGTERM print a last line marked "final" and exit 0
 *
 * Each line is:
 *   TERN-COUNTER seq=N up=SECONDS.mmm late_ms=L pid=P boot=XXXXXXXX [usr1|stdin|final]
 * seq counts lines from 0 with no holes; up is CLOCK_BOOTTIME; late_ms is how much later than
 * planned the line was printed (a frozen or descheduled guest shows up here unless the
 * hypervisor hides the pause from the guest clock); boot is the first 8 hex digits of
 * /proc/sys/kernel/random/boot_id, which changes on every guest boot. A test that sees seq go
 * on from where it was, with the same pid and boot, knows the guest continued.
 * Exit status: 0 normally, 2 on bad arguments, 1 if the output cannot be written.
 */
#include "common.h"

#include <fcntl.h>
#include <signal.h>

static volatile sig_atomic_t got_usr1, got_stop;

/* Signal handler: records which signal arrived. */
static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_stop = 1;
}

/* Reads the first 8 characters of the kernel's boot id ("????????" if unavailable). */
static void read_boot_id(char out[9])
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, out, 8) : -1;

	if (fd >= 0)
		close(fd);
	if (n != 8)
		memcpy(out, "????????", 8);
	out[8] = '\0';
}

static void usage(void)
{
	sayerr("usage: tern-counter [-i MS] [-n COUNT] [-o FILE] [-s]");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t interval_ms = 1000, count = 0, seq = 0;
	const char *outfile = NULL;
	int on_demand = 0, opt, out = STDOUT_FILENO;
	char boot[9];
	struct sigaction sa;

	while ((opt = getopt(argc, argv, "i:n:o:sh")) != -1) {
		switch (opt) {
		case 'i':
			if (parse_u64(optarg, 10, 3600000, &interval_ms))
				usage();
			break;
		case 'n':
			if (parse_u64(optarg, 0, UINT64_MAX, &count))
				usage();
			break;
		case 'o':
			outfile = optarg;
			break;
		case 's':
			on_demand = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (outfile) {
		out = open(outfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (out < 0) {
			sayerr("tern-counter: %s: %s", outfile, strerror(errno));
			return 1;
		}
	}
	read_boot_id(boot);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: signals cut the sleep short */
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	uint64_t period = interval_ms * 1000000ull, next = mono_ns(), pending = 0;
	char line[256];
	for (;;) {
		const char *tag = "";
		uint64_t now = mono_ns(), late = 0;

		if (got_stop) {
			tag = " final";
		} else if (got_usr1) {
			got_usr1 = 0;
			tag = " usr1";
		} else if (on_demand && pending) {
			pending--;
			tag = " stdin";
		} else if (on_demand) {
			ssize_t n = read(STDIN_FILENO, line, sizeof(line));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			for (ssize_t i = 0; i < n; i++) /* one line out per newline in */
				pending += line[i] == '\n';
			continue;
		} else if (now < next) {
			sleep_until_ns(next);
			continue;
		} else {
			late = (now - next) / 1000000ull;
			/* Missed several periods (guest frozen)? Restart the schedule from now. */
			next = now - next >= period ? now + period : next + period;
		}
		uint64_t up = clock_ns(CLOCK_BOOTTIME) / 1000000ull;
		if (fdprintf_line(
		        out, "TERN-COUNTER seq=%llu up=%llu.%03llu late_ms=%llu pid=%d boot=%s%s",
		        (unsigned long long)seq, (unsigned long long)(up / 1000),
		        (unsigned long long)(up % 1000), (unsigned long long)late, (int)getpid(),
		        boot, tag) < 0)
			return 1;
		seq++;
		if (got_stop || (count && seq >= count))
			break;
	}
	return 0;
}
