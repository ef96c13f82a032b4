/*
 * ternwitness: the HA witness, a tiny Linux daemon that gives two-host Tern clusters their
 * third vote (like a corosync QDevice; docs/ha.md).
 *
 *   build/ternwitness [-k KEY] [-p PORT] [-b ADDR] [-l LEASE_MS] [-q]
 *
 *   KEY    the cluster key as in tern.conf (hex:... or a passphrase); default: the
 *          TERN_CLUSTER_KEY environment variable
 *   PORT   UDP port to listen on (default 7701); hosts name it with `witness = IP[:PORT]`
 *   ADDR   address to bind (default all)
 *   LEASE  how long a vote lasts (default 400 ms; keep it under half of the hosts'
 *          ha_misses x ha_interval)
 *
 * It answers every authenticated heartbeat with its vote (ha/witness.c) and logs hosts heard
 * and every change of the vote on stdout. Datagrams that do not authenticate are counted and
 * dropped; SIGUSR1 prints the counters.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ha/witness.h"
#include "migrate/crypto_util.h"

static struct witness g_w;
static volatile sig_atomic_t g_dump;

/* now_ms: monotonic milliseconds. */
static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* wall_ms: wall clock milliseconds. */
static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* klog: the pure modules' log lines, timestamped, on stdout. */
void klog(const char *fmt, ...)
{
	va_list ap;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	printf("[%lld.%03ld] ", (long long)ts.tv_sec, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* panic: a bug in the witness itself. */
void panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "ternwitness: PANIC: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

static void on_usr1(int sig)
{
	(void)sig;
	g_dump = 1;
}

/* dump: counters and hosts. */
static void dump(void)
{
	uint64_t now = now_ms();
	klog("witness: holder %s; %llu received, %llu sent, dropped: %llu forged, %llu replayed, "
	     "%llu malformed, %llu stale, %llu table full",
	     g_w.holder ? witness_host_name(&g_w, g_w.holder) : "none",
	     (unsigned long long)g_w.received, (unsigned long long)g_w.sent,
	     (unsigned long long)g_w.forged, (unsigned long long)g_w.replayed,
	     (unsigned long long)g_w.malformed, (unsigned long long)g_w.stale,
	     (unsigned long long)g_w.full);
	for (int i = 0; i < WIT_MAX_HOSTS; i++)
		if (g_w.host[i].used)
			klog("witness:   %s heard %llu ms ago, %llu heartbeats", g_w.host[i].name,
			     (unsigned long long)(now - g_w.host[i].last_heard_ms),
			     (unsigned long long)g_w.host[i].received);
}

/* usage: print the command line and exit. */
static void usage(void)
{
	fprintf(stderr, "usage: ternwitness [-k KEY] [-p PORT] [-b ADDR] [-l LEASE_MS]\n");
	exit(2);
}

/* open_socket: a UDP socket bound to addr:port. */
static int open_socket(const char *addr, int port)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (fd < 0 || (addr && inet_pton(AF_INET, addr, &sa.sin_addr) != 1)) {
		fprintf(stderr, "ternwitness: bad address or no socket\n");
		exit(1);
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "ternwitness: bind port %d: %s\n", port, strerror(errno));
		exit(1);
	}
	return fd;
}

/* serve_one: receive one datagram, let the witness judge it, answer if it authenticated. */
static void serve_one(int fd)
{
	uint8_t pkt[2048], out[HB_PKT_MAX];
	struct sockaddr_in src;
	socklen_t sl = sizeof(src);
	ssize_t n = recvfrom(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&src, &sl);
	if (n <= 0 || sl != sizeof(src))
		return;
	int idx;
	uint64_t t = now_ms();
	if (witness_receive(&g_w, ntohl(src.sin_addr.s_addr), ntohs(src.sin_port), pkt, (size_t)n,
	                    t, wall_ms(), &idx) != HB_OK)
		return;
	witness_tick(&g_w, t);
	int len = witness_reply(&g_w, idx, t, wall_ms(), out, sizeof(out));
	if (len > 0)
		sendto(fd, out, (size_t)len, 0, (struct sockaddr *)&src, sizeof(src));
}

int main(int argc, char **argv)
{
	const char *key_text = getenv("TERN_CLUSTER_KEY"), *addr = NULL;
	int port = HB_PORT_DEFAULT, lease = WIT_LEASE_DEFAULT, opt;
	while ((opt = getopt(argc, argv, "k:p:b:l:")) != -1) {
		if (opt == 'k')
			key_text = optarg;
		else if (opt == 'p')
			port = atoi(optarg);
		else if (opt == 'b')
			addr = optarg;
		else if (opt == 'l')
			lease = atoi(optarg);
		else
			usage();
	}
	if (!key_text || port < 1 || port > 65535 || lease < 10 || lease > 600000)
		usage();
	uint8_t key[KEYS_CLUSTER_KEY_SIZE];
	int rc = keys_parse_cluster_key(key, key_text, strlen(key_text));
	if (rc != CRYPTO_OK) {
		fprintf(stderr, "ternwitness: cluster key: %s\n", crypto_strerror(rc));
		return 1;
	}
	uint16_t rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint16_t)getpid();
	witness_init(&g_w, key, (wall_ms() << 16) | rnd, (uint32_t)lease, now_ms());
	crypto_wipe(key, sizeof(key));
	int fd = open_socket(addr, port);
	signal(SIGUSR1, on_usr1);
	klog("witness: listening on UDP port %d, lease %d ms", port, lease);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 20) > 0)
			serve_one(fd);
		witness_tick(&g_w, now_ms());
		if (g_dump) {
			g_dump = 0;
			dump();
		}
	}
}
