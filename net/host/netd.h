/*
 * The host's network daemon: one TCP/IP stack (net/) for Tern itself, fed by the NIC drivers
 * (drivers/nic.h) from one kernel thread. Everything that touches the stack holds netd.lock;
 * stack callbacks run under it and must not sleep. Blocking users (sockets, commands) wait on
 * a waitq with that lock (kernel/sched.h condition-variable style).
 */
#ifndef TERN_NETD_H
#define TERN_NETD_H

#include "kernel/sched.h"
#include "kernel/spinlock.h"
#include "net/net.h"

#define NETD_MAX_IFS 8
/* frames waiting per NIC while its transmit ring is full: 1024 of a 1500 MTU, as many bytes'
 * worth of larger ones */
#define NETD_TXQ_BYTES (1024 * 1536)

struct nic;

/* Frames a NIC could not take yet (its ring was full), sent in order as it drains. */
struct netd_txq {
	uint8_t *frame; /* cap slots of slot bytes */
	uint16_t *len;
	unsigned slot, cap;
	unsigned head, tail; /* free-running */
	uint64_t queued, dropped;
};

struct netd {
	struct spinlock lock;
	struct net_stack *stack;
	struct thread *thread; /* the daemon; netd_kick posts it an event (no lock) */
	int nifs;
	struct netif nif[NETD_MAX_IFS];
	struct nic *nic[NETD_MAX_IFS];
	bool link[NETD_MAX_IFS];
	struct netd_txq txq[NETD_MAX_IFS];
};

extern struct netd netd;

/* netd_start: create the stack, attach every NIC, apply tern.conf addresses, run the thread. */
void netd_start(void);
/* netd_now_us: the stack's clock. */
uint64_t netd_now_us(void);
/* netd_tx_hold / netd_tx_flush (netd.lock held): frames the holder transmits in between ring
 * each NIC's doorbell once, at the flush (drivers/nic.h, doorbell batching). Flush before the
 * lock is released. */
void netd_tx_hold(void);
void netd_tx_flush(void);
/* netd_kick: the daemon has work (a NIC interrupt, a new deadline); any context. */
void netd_kick(void);
/* netd_xmit: send a frame on NIC i (netd.lock held): at once, or after the frames already
 * waiting for room in its ring; 0, or NET_EAGAIN if it had to be dropped. */
int netd_xmit(int i, const struct net_iov *iov, unsigned n, size_t len);
/* netd_ready: a stack exists. */
bool netd_ready(void);

#endif
