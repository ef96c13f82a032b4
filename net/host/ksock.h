/*
 * Blocking TCP sockets for kernel threads (migration, the control service, HA): a thin layer
 * over the stack's callback API. All calls may sleep; timeouts are in milliseconds (0 =
 * wait forever). Errors are NET_E* codes (negative).
 */
#ifndef TERN_KSOCK_H
#define TERN_KSOCK_H

#include "kernel/compiler.h"
#include "net/net.h"

struct ksock;
struct klistener;

struct ksock *ksock_connect(net_ip4 ip, uint16_t port, uint64_t timeout_ms, int *err);
struct klistener *ksock_listen(uint16_t port, unsigned backlog, int *err);
/* ksock_accept: the next established connection; NULL and *err on timeout. */
struct ksock *ksock_accept(struct klistener *l, uint64_t timeout_ms, int *err);
void ksock_listen_close(struct klistener *l);
/* ksock_send: all of buf (copied into the stack); 0 or an error. */
int ksock_send(struct ksock *s, const void *buf, size_t len, uint64_t timeout_ms);
/* ksock_recv_exact: exactly len bytes; 0, or an error (NET_ECONNRESET also on early EOF). */
int ksock_recv_exact(struct ksock *s, void *buf, size_t len, uint64_t timeout_ms);
/* ksock_recv_some: at least one byte, at most len; returns bytes, 0 on EOF, or an error. */
long ksock_recv_some(struct ksock *s, void *buf, size_t len, uint64_t timeout_ms);
/* ksock_drain: wait until the peer acknowledged everything sent. */
int ksock_drain(struct ksock *s, uint64_t timeout_ms);
/* ksock_close: graceful close and free; ksock_abort: reset and free. */
void ksock_close(struct ksock *s);
void ksock_abort(struct ksock *s);
/* ksock_peer: the remote address. */
void ksock_peer(struct ksock *s, net_ip4 *ip, uint16_t *port);
/* ksock_set_timeout_all: a default timeout for the channel adapter's calls. */
void ksock_set_io_timeout(struct ksock *s, uint64_t timeout_ms);
/* ksock_io_send / ksock_io_recv: struct chan_io callbacks (ctx = struct ksock *). */
int ksock_io_send(void *ctx, const void *buf, size_t len);
int ksock_io_recv(void *ctx, void *buf, size_t len);

#endif
