/*
 * tern-tcpsrv: TCP server that streams a sequence-numbered byte stream to every client, for
 * proving that TCP connections survive a live migration (check the stream with tern-tcpcli).
 *
 * usage: tern-tcpsrv [-p PORT] [-r KIB_S] [-1]
 *   -p PORT   TCP port to listen on, all IPv4 addresses (default 7777)
 *   -r KIB_S  send at most KIB_S KiB/s per client (default 64, at most 1048576; 0 = as fast
 *             as possible)
 *   -1        serve one client, then exit (status 0 if the client closed or reset the
 *             connection, 1 on other errors)
 *
 * The stream is 16-byte records "TSQ1" + u64 sequence number + u32 check (see common.h),
 * numbered from 0 on every connection. Each client is served by its own process (fork);
 * whatever a client sends is read and discarded. Lines printed:
 *   TERN-TCPSRV listening port=P
 *   TERN-TCPSRV client A.B.C.D:P connected
 *   TERN-TCPSRV client A.B.C.D:P closed sent=BYTES reason=eof|reset|error:...
 * SIGINT/SIGTERM stop the server and its client processes.
 * Exit status: 0 normally, 2 on bad arguments, 3 on socket errors.
 */
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define MAX_CHILDREN 64

static volatile sig_atomic_t got_stop;
static pid_t children[MAX_CHILDREN];

/* Signal handler: asks the main loop to stop. */
static void on_stop(int sig)
{
	(void)sig;
	got_stop = 1;
}

static void usage(void)
{
	sayerr("usage: tern-tcpsrv [-p PORT] [-r KIB_S] [-1]");
	exit(2);
}

/* Streams records to one connected client until it goes away; returns 0 on a clean EOF. */
static int serve(int fd, const char *peer, uint64_t kib_s)
{
	unsigned char buf[TSQ_REC * 256];
	uint64_t seq = 0, sent = 0, last = mono_ns(), budget = 0;
	const char *reason = "stopped";
	int rc = 1;

	say("TERN-TCPSRV client %s connected", peer);
	while (!got_stop) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLOUT};
		size_t len = sizeof(buf);

		if (kib_s) {
			/*
			 * Token bucket in units of 1e-9 byte, holding at most 250 ms of data, so a
			 * stall (e.g. migration downtime) is not followed by a catch-up burst.
			 */
			uint64_t now = mono_ns(), dt = now - last, cap = kib_s * 1024 / 4;
			if (cap < 4096)
				cap = 4096;
			last = now;
			budget += (dt > 1000000000ull ? 1000000000ull : dt) * kib_s * 1024;
			if (budget > cap * 1000000000ull)
				budget = cap * 1000000000ull;
			uint64_t bytes = budget / 1000000000ull;
			if (bytes < len)
				len = (size_t)bytes;
			len -= len % TSQ_REC;
			if (len == 0)
				sleep_until_ns(now + 5000000ull);
		}
		if (poll(&pfd, 1, len ? 1000 : 0) < 0) {
			if (errno == EINTR)
				continue;
			reason = "error:poll";
			break;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			unsigned char junk[512];
			ssize_t r = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
			if (r == 0) {
				reason = "eof";
				rc = 0;
				break;
			}
			if (r < 0 && errno != EAGAIN && errno != EINTR) {
				if (errno == ECONNRESET) /* a client closing with unread data */
					rc = 0;
				reason = errno == ECONNRESET ? "reset" : strerror(errno);
				break;
			}
		}
		if (len == 0 || !(pfd.revents & POLLOUT))
			continue;
		/* Encode whole records; a partial send is finished before new ones are made. */
		size_t n = len / TSQ_REC;
		for (size_t i = 0; i < n; i++)
			tsq_encode(buf + i * TSQ_REC, seq + i);
		size_t off = 0;
		while (off < n * TSQ_REC && !got_stop) {
			ssize_t w = send(fd, buf + off, n * TSQ_REC - off, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && errno == EAGAIN)
				continue;
			if (w < 0) {
				if (errno == ECONNRESET || errno == EPIPE)
					rc = 0;
				reason = rc == 0 ? "reset" : strerror(errno);
				goto out;
			}
			off += (size_t)w;
		}
		seq += n;
		sent += off;
		if (kib_s)
			budget -= (uint64_t)off * 1000000000ull;
	}
out:
	say("TERN-TCPSRV client %s closed sent=%llu reason=%s", peer, (unsigned long long)sent,
	    reason);
	close(fd);
	return rc;
}

/* Reaps finished client processes and forgets them. */
static void reap(void)
{
	pid_t pid;

	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
		for (int i = 0; i < MAX_CHILDREN; i++)
			if (children[i] == pid)
				children[i] = 0;
}

int main(int argc, char **argv)
{
	uint64_t port = 7777, kib_s = 64;
	int once = 0, opt, one = 1;
	struct sigaction sa;

	while ((opt = getopt(argc, argv, "p:r:1h")) != -1) {
		switch (opt) {
		case 'p':
			if (parse_u64(optarg, 1, 65535, &port))
				usage();
			break;
		case 'r':
			if (parse_u64(optarg, 0, 1u << 20, &kib_s))
				usage();
			break;
		case '1':
			once = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET,
	                           .sin_port = htons((uint16_t)port),
	                           .sin_addr.s_addr = htonl(INADDR_ANY)};
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(ls, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(ls, 16) < 0) {
		sayerr("tern-tcpsrv: port %llu: %s", (unsigned long long)port, strerror(errno));
		return 3;
	}
	say("TERN-TCPSRV listening port=%llu rate_kib_s=%llu", (unsigned long long)port,
	    (unsigned long long)kib_s);

	int rc = 0;
	while (!got_stop) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		char name[64], ip[INET_ADDRSTRLEN];

		reap();
		int fd = accept4(ls, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			sayerr("tern-tcpsrv: accept: %s", strerror(errno));
			rc = 3;
			break;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof(ip));
		snprintf(name, sizeof(name), "%s:%u", ip, ntohs(peer.sin_port));
		if (once) {
			close(ls);
			return serve(fd, name, kib_s) ? 1 : 0;
		}
		int slot = -1;
		for (int i = 0; i < MAX_CHILDREN && slot < 0; i++)
			if (children[i] == 0)
				slot = i;
		if (slot < 0) {
			say("TERN-TCPSRV client %s refused: too many clients", name);
			close(fd);
			continue;
		}
		pid_t pid = fork();
		if (pid == 0) {
			close(ls);
			_exit(serve(fd, name, kib_s));
		}
		if (pid < 0)
			sayerr("tern-tcpsrv: fork: %s", strerror(errno));
		else
			children[slot] = pid;
		close(fd);
	}
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i] > 0)
			kill(children[i], SIGTERM);
	while (wait(NULL) > 0)
		;
	return rc;
}
