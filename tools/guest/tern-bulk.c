/*
 * tern-bulk: bulk TCP throughput with the same test pattern as Tern's `tcp send`/`tcp recv`
 * console commands (byte i of a stream is i mod 251), for benchmarks between Tern hosts,
 * Linux guests and the Linux test network.
 *
 * usage: tern-bulk send ADDR PORT BYTES   connect, send BYTES, close after the peer has them
 *        tern-bulk recv PORT               accept one connection, read to EOF, check pattern
 * Each prints one line:
 *   TERN-BULK sent=N seconds=S mbps=M
 *   TERN-BULK received=N bad=B seconds=S mbps=M
 * (mbps: megabytes per second). Exit status: 0 ok, 1 on errors or pattern mismatch,
 * 2 on bad arguments.
 */
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define MOD 251

/* now_s: monotonic seconds. */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int do_send(const char *addr, int port, unsigned long long bytes)
{
	static unsigned char pat[MOD * 256];
	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (unsigned char)(i % MOD);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (fd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("tern-bulk: connect");
		return 1;
	}
	double t0 = now_s();
	unsigned long long sent = 0;
	while (sent < bytes) {
		size_t off = sent % MOD;
		size_t n = sizeof(pat) - MOD;
		if (n > bytes - sent)
			n = (size_t)(bytes - sent);
		ssize_t w = write(fd, pat + off, n);
		if (w <= 0) {
			perror("tern-bulk: write");
			return 1;
		}
		sent += (unsigned long long)w;
	}
	shutdown(fd, SHUT_WR);
	char c;
	while (read(fd, &c, 1) > 0) /* the peer closes once it has everything */
		;
	double dt = now_s() - t0;
	printf("TERN-BULK sent=%llu seconds=%.3f mbps=%.2f\n", sent, dt, sent / dt / 1e6);
	return 0;
}

static int do_recv(int port)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 1) < 0) {
		perror("tern-bulk: listen");
		return 1;
	}
	printf("TERN-BULK listening port=%d\n", port);
	fflush(stdout);
	int fd = accept(ls, NULL, NULL);
	if (fd < 0) {
		perror("tern-bulk: accept");
		return 1;
	}
	static unsigned char buf[1 << 16];
	unsigned long long got = 0, bad = 0;
	double t0 = now_s();
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			bad += buf[i] != (unsigned char)((got + (unsigned long long)i) % MOD);
		got += (unsigned long long)n;
	}
	double dt = now_s() - t0;
	close(fd);
	printf("TERN-BULK received=%llu bad=%llu seconds=%.3f mbps=%.2f\n", got, bad, dt,
	       got / (dt > 0 ? dt : 1e-9) / 1e6);
	return n < 0 || bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "send"))
		return do_send(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 0));
	if (argc == 3 && !strcmp(argv[1], "recv"))
		return do_recv(atoi(argv[2]));
	fprintf(stderr, "usage: tern-bulk send ADDR PORT BYTES | tern-bulk recv PORT\n");
	return 2;
}
