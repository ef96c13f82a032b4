/*
 * ternctl: control a Tern host from a Linux workstation over the same authenticated channel
 * hosts use between themselves (migrate/channel.c, built here for Linux).
 *
 * usage: ternctl [-k KEY] [-p PORT] HOST COMMAND...
 *   KEY   the cluster key as in tern.conf (hex:... or a passphrase); default: the
 *         TERN_CLUSTER_KEY environment variable
 *   PORT  the cluster port (default 7700)
 * Examples: ternctl 169.254.77.1 status
 *           ternctl 169.254.77.1 vm list
 *           ternctl 169.254.77.1 migrate web 169.254.77.2
 * Prints the host's answer; exit status is the command's (0 ok), 255 on connection or key
 * problems.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kernel/endian.h"
#include "migrate/channel.h"
#include "migrate/crypto_util.h"

static int fd_send(void *ctx, const void *buf, size_t len)
{
	int fd = *(int *)ctx;
	const char *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fd_recv(void *ctx, void *buf, size_t len)
{
	int fd = *(int *)ctx;
	char *p = buf;
	while (len) {
		ssize_t n = recv(fd, p, len, 0);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: ternctl [-k KEY] [-p PORT] HOST COMMAND...\n");
	return 255;
}

int main(int argc, char **argv)
{
	const char *keytext = getenv("TERN_CLUSTER_KEY");
	int port = 7700, opt;
	while ((opt = getopt(argc, argv, "+k:p:")) != -1) {
		if (opt == 'k')
			keytext = optarg;
		else if (opt == 'p')
			port = atoi(optarg);
		else
			return usage();
	}
	if (argc - optind < 2 || !keytext || port < 1 || port > 65535)
		return usage();
	uint8_t key[KEYS_CLUSTER_KEY_SIZE], nonce[KEYS_NONCE_SIZE];
	int rc = keys_parse_cluster_key(key, keytext, strlen(keytext));
	if (rc != CRYPTO_OK) {
		fprintf(stderr, "ternctl: bad key: %s\n", crypto_strerror(rc));
		return 255;
	}
	char line[1000] = "";
	for (int i = optind + 1; i < argc; i++) {
		if (strlen(line) + strlen(argv[i]) + 2 > sizeof(line))
			return usage();
		if (line[0])
			strcat(line, " ");
		strcat(line, argv[i]);
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (inet_pton(AF_INET, argv[optind], &sa.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "ternctl: cannot connect to %s:%d: %s\n", argv[optind], port,
		        strerror(errno));
		return 255;
	}
	if (getrandom(nonce, sizeof(nonce), 0) != sizeof(nonce))
		return 255;
	uint8_t *buf = malloc(CHAN_BUF_SIZE);
	struct chan ch;
	struct chan_io io = {fd_send, fd_recv, &fd};
	if (!buf || chan_client(&ch, &io, buf, CHAN_PROTO_CONTROL, key, nonce, "ternctl") < 0 ||
	    chan_send1(&ch, MSG_REQUEST, line, strlen(line)) < 0) {
		fprintf(stderr, "ternctl: %s\n", buf ? ch.error : "out of memory");
		return 255;
	}
	crypto_wipe(key, sizeof(key));
	uint8_t type;
	const uint8_t *d;
	size_t n;
	if (chan_recv(&ch, &type, &d, &n) < 0 || type != MSG_REPLY || n < 4) {
		fprintf(stderr, "ternctl: %s\n", ch.error ? ch.error : "bad reply");
		return 255;
	}
	fwrite(d + 4, 1, n - 4, stdout);
	chan_close(&ch);
	close(fd);
	return (int)le32_load(d) & 0xff;
}
