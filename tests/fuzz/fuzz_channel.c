/* libFuzzer: arbitrary bytes as a client talking to a channel server (migrate/channel.c). The
 * server must never crash, read out of bounds, or accept a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/channel.h"

struct feed {
	const uint8_t *p;
	size_t left;
};

static int feed_recv(void *ctx, void *buf, size_t len)
{
	struct feed *f = ctx;
	if (len > f->left)
		return -1;
	memcpy(buf, f->p, len);
	f->p += len;
	f->left -= len;
	return 0;
}

static int sink_send(void *ctx, const void *buf, size_t len)
{
	(void)ctx, (void)buf, (void)len;
	return 0;
}

static bool any(uint8_t p)
{
	return p == 1 || p == 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *buf;
	if (!buf)
		buf = malloc(CHAN_BUF_SIZE);
	uint8_t key[32], nonce[32];
	memset(key, 0x5a, sizeof(key));
	memset(nonce, 0x33, sizeof(nonce));
	struct feed f = {data, size};
	struct chan_io io = {sink_send, feed_recv, &f};
	struct chan ch;
	if (chan_server(&ch, &io, buf, key, nonce, "fuzz", any) == 0)
		abort(); /* accepting needs the cluster key: impossible from random bytes */
	return 0;
}
