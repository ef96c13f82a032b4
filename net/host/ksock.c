/*
 * Blocking sockets over the callback TCP API; see ksock.h. Connection state is under
 * netd.lock. Received data goes through a single-producer single-consumer ring: the network
 * daemon appends (cb_recv, under netd.lock) and the reading thread takes without netd.lock, so
 * a reader copying out never stalls the daemon and never waits for a whole poll round of it.
 * Only the reader's wait/wake-up uses the socket's own small rxlock (taken inside netd.lock,
 * never the other way round), and the window is reopened (tcp_recved, under netd.lock) per
 * RX_REPORT bytes and before the reader sleeps, not per read.
 */
#include "net/host/ksock.h"
#include "kernel/heap.h"
#include "kernel/pmm.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "net/host/netd.h"

#define RX_RING      (1u << 20) /* >= the receive window, so every delivery fits */
#define ACCEPT_QUEUE 8
/*
 * Low watermarks (like SO_RCVLOWAT/SO_SNDLOWAT): a blocked reader is woken when this much of
 * what it waits for has arrived, a blocked writer when this much send space is free, not on
 * every segment or ACK. Each wake-up is a cross-CPU hand-over; per segment, the reader and
 * the daemon spent more time passing netd.lock than moving data.
 */
#define RX_LOWAT_MAX (RX_RING / 4) /* < the window: the peer can always send this much */
#define RX_REPORT    (RX_RING / 2) /* taken bytes that reopen the window at once */

struct ksock {
	struct tcp_conn *c;
	struct waitq wq; /* connect, send, drain: under netd.lock */
	uint8_t *rx;
	size_t rx_len;        /* bytes in the ring (atomic: the producer adds, the reader takes) */
	size_t rx_tail;       /* producer only: where the next byte goes */
	size_t rx_head;       /* reader only: the next byte to take */
	size_t rx_unreported; /* reader only: taken bytes not yet passed to tcp_recved */
	struct spinlock rxlock;
	struct waitq rxwq; /* the reader; under rxlock */
	size_t rx_want; /* set under rxlock: the reader wakes when rx_len reaches this (0: none) */
	size_t tx_want; /* a blocked writer wakes when this much send space is free (0: any ACK) */
	bool established;
	bool eof; /* under rxlock (set by the producer) */
	int err;  /* set under netd.lock and rxlock */
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

/* rx_avail: bytes in the ring (either side). */
static size_t rx_avail(struct ksock *s)
{
	return __atomic_load_n(&s->rx_len, __ATOMIC_ACQUIRE);
}

/*
 * rx_wake: wake the reader if what it waits for is there. The common cases, no
 * reader waiting or not enough data yet, cost no lock: the producer's count update (a locked
 * add, a full barrier) comes before this load of rx_want, and the reader's store of rx_want
 * is fenced before its load of the count, so at least one side sees the other's store: either
 * the reader sees the data and does not sleep, or this sees its rx_want (recv_want).
 */
static void rx_wake(struct ksock *s)
{
	size_t want = __atomic_load_n(&s->rx_want, __ATOMIC_SEQ_CST);
	if (!want || rx_avail(s) < want)
		return;
	spin_lock(&s->rxlock);
	if (s->rx_want && rx_avail(s) >= s->rx_want)
		waitq_wake_all(&s->rxwq);
	spin_unlock(&s->rxlock);
}

/* rx_end: the stream ended (EOF, or err != 0): tell the reader, whatever it waits for. */
static void rx_end(struct ksock *s, int err)
{
	spin_lock(&s->rxlock);
	if (err)
		s->err = err;
	else
		s->eof = true;
	waitq_wake_all(&s->rxwq);
	spin_unlock(&s->rxlock);
}

/* cb_recv: append to the ring (the window guarantees room); FIN marks EOF. */
static void cb_recv(void *arg, struct tcp_conn *c, const void *data, size_t len)
{
	struct ksock *s = arg;
	(void)c;
	if (!data) {
		rx_end(s, 0);
		return;
	}
	for (size_t done = 0; done < len;) {
		size_t room = RX_RING - rx_avail(s);
		size_t n = MIN(len - done, MIN(RX_RING - s->rx_tail, room));
		if (!n)
			break; /* cannot happen with the window <= ring; drop defensively */
		memcpy(s->rx + s->rx_tail, (const uint8_t *)data + done, n);
		s->rx_tail = (s->rx_tail + n) % RX_RING;
		/* data, then count; a full barrier before rx_wake's load of rx_want */
		__atomic_add_fetch(&s->rx_len, n, __ATOMIC_SEQ_CST);
		done += n;
	}
	rx_wake(s);
}

/* cb_sent: data was acknowledged; wake a writer once its low watermark of space is free. */
static void cb_sent(void *arg, struct tcp_conn *c, size_t acked)
{
	struct ksock *s = arg;
	(void)acked;
	size_t space = tcp_sndbuf_space(c);
	if (s->tx_want && space && space < s->tx_want)
		return; /* no space at all: wake, so a connection that can no longer send says so */
	waitq_wake_all(&s->wq);
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
	rx_end(s, err);
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
	spin_init(&s->rxlock, "ksock-rx");
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
		netd_tx_hold(); /* the segments this write sends: one doorbell */
		long n = tcp_write(s->c, p, len, netd_now_us());
		netd_tx_flush();
		if (n < 0) {
			spin_unlock(&netd.lock);
			return (int)n;
		}
		p += n;
		len -= (size_t)n;
		if (!len)
			break;
		if (!s->c)
			continue; /* gone during the write: the loop's check says why */
		s->tx_want = MIN(len, tcp_sndbuf_size(s->c) / 4);
		bool ok = waitq_wait(&s->wq, &netd.lock, dl);
		s->tx_want = 0;
		if (!ok) {
			spin_unlock(&netd.lock);
			return NET_ETIMEDOUT;
		}
	}
	spin_unlock(&netd.lock);
	netd_kick(); /* timers may have moved */
	return 0;
}

/* take: copy up to len bytes out of the ring (reader side, no lock). */
static size_t take(struct ksock *s, uint8_t *buf, size_t len)
{
	size_t avail = rx_avail(s), n = 0;
	while (n < len && n < avail) {
		size_t k = MIN(len - n, MIN(avail - n, RX_RING - s->rx_head));
		memcpy(buf + n, s->rx + s->rx_head, k);
		s->rx_head = (s->rx_head + k) % RX_RING;
		n += k;
	}
	__atomic_sub_fetch(&s->rx_len, n, __ATOMIC_RELEASE); /* the room after the copy */
	s->rx_unreported += n;
	return n;
}

/* report: reopen the receive window by the bytes taken since the last report. */
static void report(struct ksock *s)
{
	spin_lock(&netd.lock);
	if (s->c)
		tcp_recved(s->c, s->rx_unreported, netd_now_us());
	spin_unlock(&netd.lock);
	s->rx_unreported = 0;
}

/* recv_want: wait until want bytes are buffered (or EOF, an error, the deadline), then take up
 * to len; returns bytes, 0 on EOF, or an error. The window is reopened before any sleep, so
 * the peer can always send what the reader waits for. */
static long recv_want(struct ksock *s, void *buf, size_t len, size_t want, uint64_t dl)
{
	spin_lock(&s->rxlock);
	while (rx_avail(s) < want && !s->eof && !s->err) {
		if (s->rx_unreported) {
			spin_unlock(&s->rxlock);
			report(s);
			spin_lock(&s->rxlock);
			continue;
		}
		__atomic_store_n(&s->rx_want, want,
		                 __ATOMIC_SEQ_CST); /* before the count (rx_wake) */
		if (rx_avail(s) >= want)
			break;
		bool ok = waitq_wait(&s->rxwq, &s->rxlock, dl);
		s->rx_want = 0;
		if (!ok) {
			spin_unlock(&s->rxlock);
			return NET_ETIMEDOUT;
		}
	}
	s->rx_want = 0;
	long r = s->eof ? 0 : s->err;
	spin_unlock(&s->rxlock);
	size_t n = take(s, buf, len);
	if (s->rx_unreported >= RX_REPORT)
		report(s);
	return n ? (long)n : r;
}

long ksock_recv_some(struct ksock *s, void *buf, size_t len, uint64_t timeout_ms)
{
	return recv_want(s, buf, len, 1, deadline_of(timeout_ms));
}

int ksock_recv_exact(struct ksock *s, void *buf, size_t len, uint64_t timeout_ms)
{
	uint8_t *p = buf;
	while (len) {
		size_t want = MIN(len, (size_t)RX_LOWAT_MAX);
		long n = recv_want(s, p, len, want, deadline_of(timeout_ms));
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
