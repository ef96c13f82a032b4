/*
 * fakepeer: a misbehaving Tern peer for the migration fault tests (Linux, test network).
 *
 *   fakepeer serve-wrongkey PORT KEY       accept one channel with KEY (the wrong one)
 *   fakepeer serve-corrupt PORT KEY        accept an offer, then send a tampered message
 *   fakepeer send-bad-stream ADDR PORT KEY MODE
 *        pose as a source: offer a VM named "intruder", then a stream that is invalid in
 *        MODE: "page" (a RAM record beyond guest memory), "lz" (a compressed page whose
 *        match reaches before the page's start), "garbage" (random bytes in a valid
 *        message), "truncated" (the connection ends mid-stream)
 * Prints "FAKEPEER ..." lines; exit 0 when the scenario ran as intended.
 */
#include <arpa/inet.h>
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
#include "vmm/stream.h"

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

static bool any(uint8_t p)
{
	return p == 1 || p == 2;
}

static int listen_one(int port)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 1) < 0)
		exit(2);
	printf("FAKEPEER listening\n");
	fflush(stdout);
	return accept(ls, NULL, NULL);
}

static void key_of(const char *text, uint8_t key[32])
{
	if (keys_parse_cluster_key(key, text, strlen(text)) != CRYPTO_OK)
		exit(2);
}

/* offer: a minimal valid offer for a 64 MiB VM. */
static size_t offer(uint8_t *buf)
{
	size_t n = 0;
	const char *name = "intruder";
	le16_store(buf + n, 1), le16_store(buf + n + 2, (uint16_t)strlen(name));
	memcpy(buf + n + 4, name, strlen(name));
	n += 4 + strlen(name);
	le16_store(buf + n, 2), le16_store(buf + n + 2, 8), le64_store(buf + n + 4, 64ULL << 20);
	n += 12;
	le16_store(buf + n, 3), le16_store(buf + n + 2, 8), le64_store(buf + n + 4, 1);
	n += 12;
	return n;
}

int main(int argc, char **argv)
{
	uint8_t key[32], nonce[32];
	getrandom(nonce, sizeof(nonce), 0);
	uint8_t *buf = malloc(CHAN_BUF_SIZE);
	struct chan ch;
	if (argc == 4 && !strcmp(argv[1], "serve-wrongkey")) {
		int fd = listen_one(atoi(argv[2]));
		key_of(argv[3], key);
		struct chan_io io = {fd_send, fd_recv, &fd};
		int rc = chan_server(&ch, &io, buf, key, nonce, "fake", any);
		printf("FAKEPEER handshake %s: %s\n", rc ? "failed" : "ok", rc ? ch.error : "");
		return rc ? 0 : 1;
	}
	if (argc == 4 && !strcmp(argv[1], "serve-corrupt")) {
		int fd = listen_one(atoi(argv[2]));
		key_of(argv[3], key);
		struct chan_io io = {fd_send, fd_recv, &fd};
		if (chan_server(&ch, &io, buf, key, nonce, "fake", any) < 0)
			return 1;
		uint8_t type;
		const uint8_t *d;
		size_t n;
		if (chan_recv(&ch, &type, &d, &n) < 0 || type != MSG_OFFER)
			return 1;
		/* a sealed ACCEPT with one ciphertext byte flipped on the way out */
		uint8_t hdr[CHAN_HDR_SIZE];
		le32_store(hdr, 1), le64_store(hdr + 4, 1);
		uint8_t bogus[1 + 16] = {MSG_ACCEPT ^ 0x55};
		fd_send(&fd, hdr, sizeof(hdr));
		fd_send(&fd, bogus, sizeof(bogus));
		printf("FAKEPEER sent a tampered ACCEPT\n");
		char c;
		while (recv(fd, &c, 1, 0) > 0) /* until the source gives up */
			;
		return 0;
	}
	if (argc == 6 && !strcmp(argv[1], "send-bad-stream")) {
		key_of(argv[4], key);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
		inet_pton(AF_INET, argv[2], &sa.sin_addr);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return 1;
		struct chan_io io = {fd_send, fd_recv, &fd};
		if (chan_client(&ch, &io, buf, CHAN_PROTO_MIGRATE, key, nonce, "fake") < 0) {
			printf("FAKEPEER handshake failed: %s\n", ch.error);
			return 1;
		}
		uint8_t ob[256], type;
		const uint8_t *d;
		size_t n = offer(ob);
		if (chan_send1(&ch, MSG_OFFER, ob, n) < 0 || chan_recv(&ch, &type, &d, &n) < 0 ||
		    type != MSG_ACCEPT) {
			printf("FAKEPEER offer refused\n");
			return 1;
		}
		uint8_t s[4096];
		size_t k = 0;
		memcpy(s, STREAM_MAGIC, 8), le32_store(s + 8, STREAM_VERSION),
		    le32_store(s + 12, 0);
		k = 16;
		/* VM record: mem 64 MiB, 1 vCPU */
		uint8_t vmrec[24];
		le16_store(vmrec, 1), le16_store(vmrec + 2, 8), le64_store(vmrec + 4, 64ULL << 20);
		le16_store(vmrec + 12, 2), le16_store(vmrec + 14, 8), le64_store(vmrec + 16, 1);
		le16_store(s + k, REC_VM), le16_store(s + k + 2, 1), le32_store(s + k + 4, 24);
		memcpy(s + k + 8, vmrec, 24);
		k += 32;
		const char *mode = argv[5];
		if (!strcmp(mode, "page")) { /* RAM run starting far beyond 64 MiB, all zero */
			le16_store(s + k, REC_RAM), le16_store(s + k + 2, 1),
			    le32_store(s + k + 4, 24);
			le64_store(s + k + 8, 1ULL << 30), le32_store(s + k + 16, 1);
			le32_store(s + k + 20, 0), le64_store(s + k + 24, 1);
			k += 32;
		} else if (!strcmp(mode, "lz")) { /* page 0 as LZ: 'a', then a match 5 back */
			static const uint8_t blk[] = {0x10, 'a', 5, 0, 0x00};
			le16_store(s + k, REC_RAM), le16_store(s + k + 2, 2),
			    le32_store(s + k + 4, 24);
			memset(s + k + 8, 0, 16), le32_store(s + k + 16, 1);
			s[k + 24] = 2, le16_store(s + k + 25, sizeof(blk));
			memcpy(s + k + 27, blk, sizeof(blk));
			k += 32;
		} else if (!strcmp(mode, "garbage")) {
			getrandom(s + k, 512, 0);
			k += 512;
		}
		if (chan_send1(&ch, MSG_STREAM, s, k) < 0)
			return 1;
		if (!strcmp(mode, "truncated")) {
			close(fd);
			printf("FAKEPEER hung up mid-stream\n");
			return 0;
		}
		if (chan_recv(&ch, &type, &d, &n) == 0 && type == MSG_ERROR) {
			printf("FAKEPEER destination refused: %.*s\n", (int)n, (const char *)d);
			return 0;
		}
		printf("FAKEPEER no refusal\n");
		return 1;
	}
	fprintf(stderr, "usage: see the comment in tools/fakepeer.c\n");
	return 2;
}
