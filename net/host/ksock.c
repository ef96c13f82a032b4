/* Blocking sockets over the callback TCP API; see ksock.h. All state is under netd.lock. */
#include "net/host/ksock.h"
#include "kernel/heap.h"
#include "kernel/pmm.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "net/host/netd.h"

#define RX_RING      (1u << 20) /* >= the receive window, so every delivery fits */
#define ACCEPT_QUEUE 8

struct ksock {
	struct tcp_conn *c;
	struct waitq wq;
	uint8_t *rx;
	size_t rx_head, rx_len;
	bool established, eof;
	int err;
	net_ip4 peer_ip;
	uint16_t peer_port;
	uint64_t io_timeout_ms;
};

struct klistener {
	struct tcp_listener *l;
	struct waitq wq;
	struct ksock *queue[ACCEPT_QUEUE];
	int n;
};

static const struct tcp_opts g_opts = {RX_RING, 0, true};

/* deadline_of: a TSC deadline for a timeout in ms (0: none). */
static uint64_t deadline_of(uint64_t ms)
{
	return ms ? deadline_ms(ms) : 0;
}

/* cb_recv: copy into the ring (the window guarantees room); FIN marks EOF. */
static void cb_recv(void *arg, struct tcp_conn *c, const void *data, size_t len)
{
	struct ksock *s = arg;
	(void)c;
	if (!data) {
		s->eof = true;
	} else {
		for (size_t done = 0; done < len;) {
			size_t tail = (s->rx_head + s->rx_len) % RX_RING;
			size_t n = MIN(len - done, MIN(RX_RING - tail, RX_RING - s->rx_len));
			if (!n)
				break; /* cannot happen with the window <= ring; drop defensively */
			memcpy(s->rx + tail, (const uint8_t *)data + done, n);
			s->rx_len += n;
			done += n;
		}
	}
	waitq_wake_all(&s->wq);
}

static void cb_sent(void *arg, struct tcp_conn *c, size_t acked)
{
	(void)c, (void)acked;
	waitq_wake_all(&((struct ksock *)arg)->wq);
}

static void cb_connected(void *arg, struct tcp_conn *c)
{
	struct ksock *s = arg;
	(void)c;
	s->established = true;
	waitq_wake_all(&s->wq);
}

/* cb_err: the stack releases the handle after this returns. */
static void cb_err(void *arg, struct tcp_conn *c, int err)
{
	struct ksock *s = arg;
	(void)c;
	s->err = err;
	s->c = NULL;
	waitq_wake_all(&s->wq);
}

static const struct tcp_callbacks g_cb = {cb_recv, cb_sent, cb_connected, cb_err};

/* sock_new: an empty socket with its receive ring. */
static struct ksock *sock_new(void)
{
	struct ksock *s = kzalloc(sizeof(*s));
	if (!s)
		return NULL;
	s->rx = pmm_alloc_kva(RX_RING);
	if (!s->rx) {
		kfree(s);
		return NULL;
	}
	return s;
}

static void sock_free(struct ksock *s)
{
	pmm_free_kva(s->rx, RX_RING);
	kfree(s);
}

struct ksock *ksock_connect(net_ip4 ip, uint16_t port, uint64_t timeout_ms, int *err)
{
	struct ksock *s = sock_new();
	if (!s) {
		*err = NET_ENOMEM;
		return NULL;
	}
	uint64_t dl = deadline_of(timeout_ms);
	spin_lock(&netd.lock);
	s->c = tcp_connect(netd.stack, ip, port, &g_opts, &g_cb, s, netd_now_us(), err);
	while (s->c && !s->established && !s->err)
		if (!waitq_wait(&s->wq, &netd.lock, dl))
			break;
	if (!s->established) {
		if (s->c)
			tcp_abort(s->c, netd_now_us());
		*err = s->err ? s->err : s->c ? NET_ETIMEDOUT : *err;
		spin_unlock(&netd.lock);
		sock_free(s);
		return NULL;
	}
	s->peer_ip = ip;
	s->peer_port = port;
	spin_unlock(&netd.lock);
	netd_kick();
	return s;
}

/* cb_accept: queue the new connection for ksock_accept (refuse when the queue is full). */
static int cb_accept(void *arg, struct tcp_listener *tl, struct tcp_conn *c)
{
	struct klistener *l = arg;
	(void)tl;
	if (l->n >= ACCEPT_QUEUE)
		return -1;
	struct ksock *s = sock_new();
	if (!s)
		return -1;
	s->c = c;
	s->established = true;
	struct tcp_conn_info info;
	tcp_get_info(c, &info);
	s->peer_ip = info.remote_ip;
	s->peer_port = info.remote_port;
	tcp_set_callbacks(c, &g_cb, s);
	tcp_set_nodelay(c, true);
	l->queue[l->n++] = s;
	waitq_wake_all(&l->wq);
	return 0;
}

struct klistener *ksock_listen(uint16_t port, unsigned backlog, int *err)
{
	struct klistener *l = kzalloc(sizeof(*l));
	if (!l) {
		*err = NET_ENOMEM;
		return NULL;
	}
	spin_lock(&netd.lock);
	l->l = tcp_listen(netd.stack, 0, port, backlog, &g_opts, cb_accept, l, err);
	spin_unlock(&netd.lock);
	if (!l->l) {
		kfree(l);
		return NULL;
	}
	return l;
}

struct ksock *ksock_accept(struct klistener *l, uint64_t timeout_ms, int *err)
{
	uint64_t dl = deadline_of(timeout_ms);
	spin_lock(&netd.lock);
	while (l->n == 0)
		if (!waitq_wait(&l->wq, &netd.lock, dl)) {
			spin_unlock(&netd.lock);
			*err = NET_ETIMEDOUT;
			return NULL;
		}
	struct ksock *s = l->queue[0];
	memmove(l->queue, l->queue + 1, sizeof(l->queue[0]) * (size_t)--l->n);
	spin_unlock(&netd.lock);
	return s;
}

void ksock_listen_close(struct klistener *l)
{
	spin_lock(&netd.lock);
	tcp_listen_close(l->l);
	for (int i = 0; i < l->n; i++) {
		tcp_abort(l->queue[i]->c, netd_now_us());
		sock_free(l->queue[i]);
	}
	spin_unlock(&netd.lock);
	kfree(l);
}

int ksock_send(struct ksock *s, const void *buf, size_t len, uint64_t timeout_ms)
{
	uint64_t dl = deadline_of(timeout_ms);
	const uint8_t *p = buf;
	spin_lock(&netd.lock);
	while (len) {
		if (s->err || !s->c) {
			int e = s->err ? s->err : NET_ENOTCONN;
			spin_unlock(&netd.lock);
			return e;
		}
		long n = tcp_write(s->c, p, len, netd_now_us());
		if (n < 0) {
			spin_unlock(&netd.lock);
			return (int)n;
		}
		p += n;
		len -= (size_t)n;
		if (len && !waitq_wait(&s->wq, &netd.lock, dl)) {
			spin_unlock(&netd.lock);
			return NET_ETIMEDOUT;
		}
	}
	spin_unlock(&netd.lock);
	netd_kick(); /* timers may have moved */
	return 0;
}

/* take: copy up to len buffered bytes out and reopen the window by as much (lock held). */
static size_t take(struct ksock *s, uint8_t *buf, size_t len)
{
	size_t n = 0;
	while (n < len && s->rx_len) {
		size_t k = MIN(len - n, MIN(s->rx_len, RX_RING - s->rx_head));
		memcpy(buf + n, s->rx + s->rx_head, k);
		s->rx_head = (s->rx_head + k) % RX_RING;
		s->rx_len -= k;
		n += k;
	}
	if (n && s->c)
		tcp_recved(s->c, n, netd_now_us());
	return n;
}

long ksock_recv_some(struct ksock *s, void *buf, size_t len, uint64_t timeout_ms)
{
	uint64_t dl = deadline_of(timeout_ms);
	spin_lock(&netd.lock);
	while (!s->rx_len && !s->eof && !s->err)
		if (!waitq_wait(&s->wq, &netd.lock, dl)) {
			spin_unlock(&netd.lock);
			return NET_ETIMEDOUT;
		}
	long r = s->rx_len ? (long)take(s, buf, len) : s->eof ? 0 : s->err;
	spin_unlock(&netd.lock);
	return r;
}

int ksock_recv_exact(struct ksock *s, void *buf, size_t len, uint64_t timeout_ms)
{
	uint8_t *p = buf;
	while (len) {
		long n = ksock_recv_some(s, p, len, timeout_ms);
		if (n <= 0)
			return n == 0 ? NET_ECONNRESET : (int)n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ksock_drain(struct ksock *s, uint64_t timeout_ms)
{
	uint64_t dl = deadline_of(timeout_ms);
	spin_lock(&netd.lock);
	for (;;) {
		if (s->err || !s->c) {
			int e = s->err ? s->err : NET_ENOTCONN;
			spin_unlock(&netd.lock);
			return e;
		}
		struct tcp_conn_info i;
		tcp_get_info(s->c, &i);
		if (i.snd_queue == 0)
			break;
		if (!waitq_wait(&s->wq, &netd.lock, dl)) {
			spin_unlock(&netd.lock);
			return NET_ETIMEDOUT;
		}
	}
	spin_unlock(&netd.lock);
	return 0;
}

void ksock_close(struct ksock *s)
{
	spin_lock(&netd.lock);
	if (s->c)
		tcp_close(s->c, netd_now_us());
	spin_unlock(&netd.lock);
	netd_kick();
	sock_free(s);
}

void ksock_abort(struct ksock *s)
{
	spin_lock(&netd.lock);
	if (s->c)
		tcp_abort(s->c, netd_now_us());
	spin_unlock(&netd.lock);
	sock_free(s);
}

void ksock_peer(struct ksock *s, net_ip4 *ip, uint16_t *port)
{
	*ip = s->peer_ip;
	*port = s->peer_port;
}

void ksock_set_io_timeout(struct ksock *s, uint64_t timeout_ms)
{
	s->io_timeout_ms = timeout_ms;
}

int ksock_io_send(void *ctx, const void *buf, size_t len)
{
	struct ksock *s = ctx;
	return ksock_send(s, buf, len, s->io_timeout_ms) == 0 ? 0 : -1;
}

int ksock_io_recv(void *ctx, void *buf, size_t len)
{
	struct ksock *s = ctx;
	return ksock_recv_exact(s, buf, len, s->io_timeout_ms) == 0 ? 0 : -1;
}
