/* Unit tests for migrate/channel.c: handshake, messages, wrong keys, tampering, replays. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "migrate/channel.h"

static int fd_send(void *ctx, const void *buf, size_t len)
{
	int fd = *(int *)ctx;
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
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
		ssize_t n = read(fd, p, len);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static bool any_proto(uint8_t p)
{
	return p == CHAN_PROTO_MIGRATE || p == CHAN_PROTO_CONTROL;
}

struct side {
	int fd;
	uint8_t key[32], nonce[32];
	const char *name;
	struct chan ch;
	uint8_t *buf;
	int rc;
	int mode; /* server behaviour: 0 echo messages back until MSG_ABORT */
};

/* server_main: handshake, then echo each message with the same type until MSG_ABORT. */
static void *server_main(void *arg)
{
	struct side *s = arg;
	struct chan_io io = {fd_send, fd_recv, &s->fd};
	s->rc = chan_server(&s->ch, &io, s->buf, s->key, s->nonce, s->name, any_proto);
	while (s->rc == 0) {
		uint8_t type;
		const uint8_t *d;
		size_t n;
		if (chan_recv(&s->ch, &type, &d, &n) < 0) {
			s->rc = -1;
			break;
		}
		if (type == MSG_ABORT)
			break;
		uint8_t *copy = malloc(n + 1);
		memcpy(copy, d, n);
		if (chan_send1(&s->ch, type, copy, n) < 0)
			s->rc = -1;
		free(copy);
	}
	close(s->fd);
	return NULL;
}

static void setup_pair(struct side *c, struct side *sv, pthread_t *t, bool same_key)
{
	int fds[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	memset(c, 0, sizeof(*c));
	memset(sv, 0, sizeof(*sv));
	c->fd = fds[0];
	sv->fd = fds[1];
	for (int i = 0; i < 32; i++) {
		c->key[i] = (uint8_t)(i * 7 + 1);
		sv->key[i] = same_key ? c->key[i] : (uint8_t)(i * 7 + 2);
		c->nonce[i] = (uint8_t)(0xa0 + i);
		sv->nonce[i] = (uint8_t)(0x10 + i);
	}
	c->name = "alpha";
	sv->name = "beta";
	c->buf = malloc(CHAN_BUF_SIZE);
	sv->buf = malloc(CHAN_BUF_SIZE);
	pthread_create(t, NULL, server_main, sv);
}

static int client_hs(struct side *c)
{
	struct chan_io io = {fd_send, fd_recv, &c->fd};
	return chan_client(&c->ch, &io, c->buf, CHAN_PROTO_MIGRATE, c->key, c->nonce, c->name);
}

static void teardown_pair(struct side *c, struct side *sv, pthread_t t)
{
	close(c->fd);
	pthread_join(t, NULL);
	free(c->buf);
	free(sv->buf);
}

static void test_handshake_and_echo(void **state)
{
	struct side c, sv;
	pthread_t t;
	setup_pair(&c, &sv, &t, true);
	assert_int_equal(client_hs(&c), 0);
	assert_string_equal(c.ch.peer, "beta");
	/* small, gathered, and maximum-size messages round-trip intact */
	const char *parts[3] = {"head-", "middle-", "tail"};
	size_t lens[3] = {5, 7, 4};
	assert_int_equal(chan_send(&c.ch, MSG_STREAM, (const void *const *)parts, lens, 3), 0);
	uint8_t type;
	const uint8_t *d;
	size_t n;
	assert_int_equal(chan_recv(&c.ch, &type, &d, &n), 0);
	assert_int_equal(type, MSG_STREAM);
	assert_int_equal(n, 16);
	assert_memory_equal(d, "head-middle-tail", 16);
	uint8_t *big = malloc(CHAN_MSG_MAX);
	for (size_t i = 0; i < CHAN_MSG_MAX; i++)
		big[i] = (uint8_t)(i * 31);
	assert_int_equal(chan_send1(&c.ch, MSG_STREAM, big, CHAN_MSG_MAX), 0);
	assert_int_equal(chan_recv(&c.ch, &type, &d, &n), 0);
	assert_int_equal(n, CHAN_MSG_MAX);
	assert_memory_equal(d, big, CHAN_MSG_MAX);
	assert_int_equal(chan_send1(&c.ch, MSG_STREAM, big, CHAN_MSG_MAX + 1), -1); /* too big */
	free(big);
	teardown_pair(&c, &sv, t);
	assert_int_equal(sv.rc, -1); /* the connection ended under it */
}

static void test_wrong_key_is_refused(void **state)
{
	struct side c, sv;
	pthread_t t;
	setup_pair(&c, &sv, &t, false);
	assert_int_equal(client_hs(&c), -1);
	assert_string_equal(c.ch.error, "peer uses a different cluster key");
	teardown_pair(&c, &sv, t);
	assert_int_equal(sv.rc, -1);
	assert_string_equal(sv.ch.error, "client uses a different cluster key");
}

/* A man in the middle between the client and the server. */
struct mitm {
	int a, b;   /* client side, server side */
	int action; /* 1 flip a ciphertext byte of the 2nd message, 2 replay the 2nd message */
};

static ssize_t relay_exact(int from, int to, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(from, (char *)buf + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return write(to, buf, len);
}

static void *mitm_main(void *arg)
{
	struct mitm *m = arg;
	static uint8_t buf[CHAN_BUF_SIZE + 64];
	/* hello both ways untouched */
	if (relay_exact(m->a, m->b, buf, CHAN_HELLO_SIZE) < 0 ||
	    relay_exact(m->b, m->a, buf, CHAN_HELLO_SIZE) < 0)
		return NULL;
	for (int msg = 0;; msg++) {
		uint8_t hdr[CHAN_HDR_SIZE];
		size_t got = 0;
		while (got < sizeof(hdr)) {
			ssize_t n = read(m->a, hdr + got, sizeof(hdr) - got);
			if (n <= 0)
				goto out;
			got += (size_t)n;
		}
		uint32_t len = hdr[0] | hdr[1] << 8 | hdr[2] << 16 | (uint32_t)hdr[3] << 24;
		size_t body = len + 16;
		got = 0;
		while (got < body) {
			ssize_t n = read(m->a, buf + got, body - got);
			if (n <= 0)
				goto out;
			got += (size_t)n;
		}
		if (msg == 1 && m->action == 1)
			buf[0] ^= 0x40;
		if (write(m->b, hdr, sizeof(hdr)) < 0 || write(m->b, buf, body) < 0)
			goto out;
		if (msg == 1 && m->action == 2 &&
		    (write(m->b, hdr, sizeof(hdr)) < 0 || write(m->b, buf, body) < 0))
			goto out;
		/* server replies (AUTH, echoes) pass straight back */
		if (msg == 0) {
			uint8_t rh[CHAN_HDR_SIZE];
			if (relay_exact(m->b, m->a, rh, sizeof(rh)) < 0)
				goto out;
			uint32_t rl = rh[0] | rh[1] << 8 | rh[2] << 16 | (uint32_t)rh[3] << 24;
			if (relay_exact(m->b, m->a, buf, rl + 16) < 0)
				goto out;
		}
	}
out:
	/* let the server finish (it may still answer) before hanging up on it */
	while (read(m->b, buf, sizeof(buf)) > 0)
		;
	close(m->a);
	close(m->b);
	return NULL;
}

static void run_mitm(int action, const char *server_error)
{
	int cs[2], ss[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, cs), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, ss), 0);
	struct side c, sv;
	pthread_t ts, tm;
	memset(&c, 0, sizeof(c));
	memset(&sv, 0, sizeof(sv));
	for (int i = 0; i < 32; i++) {
		c.key[i] = sv.key[i] = (uint8_t)(i + 3);
		c.nonce[i] = (uint8_t)i;
		sv.nonce[i] = (uint8_t)(i + 100);
	}
	c.name = "a";
	sv.name = "b";
	c.buf = malloc(CHAN_BUF_SIZE);
	sv.buf = malloc(CHAN_BUF_SIZE);
	c.fd = cs[0];
	sv.fd = ss[1];
	struct mitm m = {cs[1], ss[0], action};
	pthread_create(&ts, NULL, server_main, &sv);
	pthread_create(&tm, NULL, mitm_main, &m);
	assert_int_equal(client_hs(&c), 0);
	assert_int_equal(chan_send1(&c.ch, MSG_STREAM, "guest memory page", 17), 0);
	close(c.fd);
	pthread_join(ts, NULL);
	pthread_join(tm, NULL);
	assert_int_equal(sv.rc, -1);
	assert_string_equal(sv.ch.error, server_error);
	free(c.buf);
	free(sv.buf);
}

static void test_tampered_message_is_rejected(void **state)
{
	run_mitm(1, "message failed authentication (wrong key or corrupted)");
}

static void test_replayed_message_is_rejected(void **state)
{
	run_mitm(2, "message failed authentication (wrong key or corrupted)");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* a closed peer is an error return, not a signal */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake_and_echo),
	    cmocka_unit_test(test_wrong_key_is_refused),
	    cmocka_unit_test(test_tampered_message_is_rejected),
	    cmocka_unit_test(test_replayed_message_is_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
