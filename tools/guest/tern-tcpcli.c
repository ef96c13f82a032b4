/*
 * tern-tcpcli: connects to tern-tcpsrv, verifies its sequence-numbered stream and reports
 * gaps, corruption and stalls; used to prove that a TCP connection survived a live migration.
 *
 * usage: tern-tcpcli [-t SECS] [-b BYTES] [-w SECS] [-i MS] [-q] ADDR [PORT]
 *   ADDR      server IPv4 address in dotted form (no name lookup)
 *   PORT      server port (default 7777)
 *   -t SECS   stop with a verdict after SECS seconds (default 0: until -b, EOF or a signal)
 *   -b BYTES  stop with a verdict after BYTES bytes (default 0: no limit)
 *   -w SECS   fail if no data arrives for SECS seconds (default 60; 0 = wait forever)
 *   -i MS     print a progress line every MS milliseconds (default 1000; 0 = none)
 *   -q        print only the verdict
 *
 * Progress:  TERN-TCPCLI t=S bytes=B next_seq=N kib_s=R stall_ms=M gaps=G corrupt=C
 * Verdict:   TERN-TCPCLI PASS|FAIL bytes=B records=N max_stall_ms=M gaps=G corrupt=C reason=...
 * max_stall_ms is the longest time without any data arriving (e.g. migration downtime).
 * A gap is a jump forward in sequence numbers (records lost), corrupt counts records whose
 * magic, check or order is wrong (the client then resynchronises on the next valid record).
 * SIGINT/SIGTERM end the run with a verdict. A connection closed by the server before -t/-b is
 * reached is a FAIL (reason=eof), as is a reset.
 * Exit status: 0 PASS, 1 FAIL (data or connection), 2 bad arguments, 3 could not connect.
 */
#include "common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

static volatile sig_atomic_t got_stop;

/* Signal handler: asks the main loop to stop. */
static void on_stop(int sig)
{
	(void)sig;
	got_stop = 1;
}

static void usage(void)
{
	sayerr("usage: tern-tcpcli [-t SECS] [-b BYTES] [-w SECS] [-i MS] [-q] ADDR [PORT]");
	exit(2);
}

/* Stream checker state. */
struct checker {
	unsigned char part[TSQ_REC * 2];
	size_t have;
	uint64_t next, records, gaps, corrupt;
	int synced; /* 0 after corruption until a valid record is found */
};

/* Feeds received bytes to the checker. */
static void check_bytes(struct checker *c, const unsigned char *p, size_t n)
{
	while (n > 0) {
		size_t take = TSQ_REC - c->have;
		if (take > n)
			take = n;
		memcpy(c->part + c->have, p, take);
		c->have += take;
		p += take;
		n -= take;
		if (c->have < TSQ_REC)
			return;
		uint64_t seq;
		if (tsq_decode(c->part, &seq) == 0 && (c->synced || seq >= c->next)) {
			if (seq > c->next)
				c->gaps += seq - c->next;
			else if (seq < c->next)
				c->corrupt++; /* duplicate or going backwards */
			if (seq >= c->next)
				c->next = seq + 1;
			c->records++;
			c->synced = 1;
			c->have = 0;
			continue;
		}
		/* Bad record: count once per bad run, then slide one byte to resynchronise. */
		if (c->synced)
			c->corrupt++;
		c->synced = 0;
		memmove(c->part, c->part + 1, TSQ_REC - 1);
		c->have = TSQ_REC - 1;
	}
}

/* Connects to addr:port, giving up after timeout_ms; returns the socket or -1. */
static int connect_to(const struct sockaddr_in *addr, int timeout_ms)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct pollfd pfd;
	int err = 0;
	socklen_t elen = sizeof(err);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0 && errno != EINPROGRESS)
		goto fail;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	int r;
	while ((r = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR && !got_stop)
		;
	if (r <= 0) {
		errno = r == 0 ? ETIMEDOUT : errno;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err) {
		errno = err ? err : errno;
		goto fail;
	}
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

int main(int argc, char **argv)
{
	uint64_t secs = 0, limit = 0, wait_s = 60, every_ms = 1000, port = 7777;
	int quiet = 0, opt;
	struct sockaddr_in addr = {.sin_family = AF_INET};
	struct sigaction sa;

	while ((opt = getopt(argc, argv, "t:b:w:i:qh")) != -1) {
		switch (opt) {
		case 't':
			if (parse_u64(optarg, 0, 1u << 30, &secs))
				usage();
			break;
		case 'b':
			if (parse_u64(optarg, 0, UINT64_MAX, &limit))
				usage();
			break;
		case 'w':
			if (parse_u64(optarg, 0, 1u << 30, &wait_s))
				usage();
			break;
		case 'i':
			if (parse_u64(optarg, 0, 3600000, &every_ms))
				usage();
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			usage();
		}
	}
	if (argc - optind < 1 || argc - optind > 2 ||
	    inet_pton(AF_INET, argv[optind], &addr.sin_addr) != 1 ||
	    (argc - optind == 2 && parse_u64(argv[optind + 1], 1, 65535, &port)))
		usage();
	addr.sin_port = htons((uint16_t)port);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int fd = connect_to(&addr, 10000);
	if (fd < 0) {
		say("TERN-TCPCLI FAIL bytes=0 records=0 reason=connect:%s", strerror(errno));
		return 3;
	}

	static struct checker c;
	static unsigned char buf[65536];
	uint64_t start = mono_ns(), last_data = start, max_stall = 0, bytes = 0;
	uint64_t next_report = start + every_ms * 1000000ull, mark_bytes = 0, mark = start;
	const char *reason = "done";
	int conn_failed = 0;

	if (!quiet)
		say("TERN-TCPCLI connected %s:%llu", argv[optind], (unsigned long long)port);
	while (!got_stop) {
		uint64_t now = mono_ns();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};

		if (now - last_data > max_stall)
			max_stall = now - last_data;
		if (secs && now - start >= secs * 1000000000ull)
			break;
		if (wait_s && now - last_data >= wait_s * 1000000000ull) {
			reason = "stalled";
			conn_failed = 1;
			break;
		}
		if (every_ms && !quiet && now >= next_report) {
			uint64_t ms = (now - mark) / 1000000ull;
			say("TERN-TCPCLI t=%llu bytes=%llu next_seq=%llu kib_s=%llu stall_ms=%llu "
			    "gaps=%llu "
			    "corrupt=%llu",
			    (unsigned long long)((now - start) / 1000000000ull),
			    (unsigned long long)bytes, (unsigned long long)c.next,
			    (unsigned long long)(ms ? (bytes - mark_bytes) * 1000 / 1024 / ms : 0),
			    (unsigned long long)((now - last_data) / 1000000ull),
			    (unsigned long long)c.gaps, (unsigned long long)c.corrupt);
			mark = now;
			mark_bytes = bytes;
			next_report += every_ms * 1000000ull;
			if (next_report <= now)
				next_report = now + every_ms * 1000000ull;
		}
		if (poll(&pfd, 1, 100) < 0) {
			if (errno == EINTR)
				continue;
			reason = "poll";
			conn_failed = 1;
			break;
		}
		if (!pfd.revents)
			continue;
		size_t want = sizeof(buf);
		if (limit && limit - bytes < want)
			want = (size_t)(limit - bytes);
		ssize_t r = recv(fd, buf, want, 0);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			reason = r == 0 ? "eof" : errno == ECONNRESET ? "reset" : strerror(errno);
			conn_failed = 1;
			break;
		}
		now = mono_ns();
		if (now - last_data > max_stall)
			max_stall = now - last_data;
		last_data = now;
		check_bytes(&c, buf, (size_t)r);
		bytes += (uint64_t)r;
		if (limit && bytes >= limit)
			break;
	}
	if (got_stop)
		reason = "signal";
	close(fd);
	int fail = conn_failed || c.gaps || c.corrupt;
	say("TERN-TCPCLI %s bytes=%llu records=%llu max_stall_ms=%llu gaps=%llu corrupt=%llu "
	    "reason=%s",
	    fail ? "FAIL" : "PASS", (unsigned long long)bytes, (unsigned long long)c.records,
	    (unsigned long long)(max_stall / 1000000ull), (unsigned long long)c.gaps,
	    (unsigned long long)c.corrupt, reason);
	return fail ? 1 : 0;
}
