/*
 * The standby side of HA replication (see replica.h). The first checkpoint of a session is
 * loaded like an incoming migration into a VM that is held, not run (VM_INCOMING). Every later
 * checkpoint is received whole into host memory, every record checked (ha/ckpt.c), and only
 * then applied and acknowledged: the replica is always at its last complete checkpoint. A
 * checkpoint that fails the checks is dropped with the session (the primary starts again with
 * a full copy); one that fails while being applied marks the replica damaged, never promoted.
 */
#include "ha/replica.h"
#include "kernel/endian.h"
#include "kernel/fpu.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/mmu.h"
#include "kernel/pmm.h"
#include "kernel/sched.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "migrate/channel.h"
#include "migrate/offer.h"
#include "net/host/ksock.h"
#include "vmm/state.h"
#include "vmm/stream.h"
#include "vmm/vm.h"

#define REC_BUF_ORDER   10 /* 4 MiB: the largest state record */
#define CHUNK           (256u * 1024)
#define MAX_CHUNKS      1024 /* a checkpoint of at most 256 MiB (and guest RAM + 16 MiB) */
#define RECV_TIMEOUT_MS 5000
#define FULL_TIMEOUT_MS 10000 /* between two messages of the full copy */

enum { RS_LOADING, RS_READY, RS_DAMAGED, RS_PROMOTED };
static const char *const g_rs_name[] = {"loading", "ready", "damaged", "promoted"};

/* A replica held here for a guest another host runs. */
struct replica {
	bool used;
	char name[32], owner[32];
	volatile int state;
	volatile bool applying, session;
	uint64_t gen; /* bumps when a new session replaces the replica */
	uint64_t seq, uptime_ns, t_applied_ns, ckpts, bytes;
};

static struct replica g_rep[VM_MAX];
static struct spinlock g_lock = SPINLOCK_INIT("ha-replicas");
static uint64_t g_gen;

/* A received checkpoint in host memory. */
struct rbuf {
	uint8_t *chunk[MAX_CHUNKS];
	size_t nalloc, len, pos;
};

/* Reading a stream: from the channel (first checkpoint) or from an rbuf. */
struct rx_src {
	struct chan *ch;
	const uint8_t *p;
	size_t left;
	struct rbuf *rb;
};

/* find: the replica entry of name (g_lock held or single reader). */
static struct replica *find(const char *name)
{
	for (int i = 0; i < VM_MAX; i++)
		if (g_rep[i].used && !strcmp(g_rep[i].name, name))
			return &g_rep[i];
	return NULL;
}

/* ch_read: exactly len stream bytes from MSG_STREAM messages. */
static int ch_read(void *ctx, void *buf, size_t len)
{
	struct rx_src *s = ctx;
	uint8_t *out = buf;
	while (len) {
		if (!s->left) {
			uint8_t type;
			if (chan_recv(s->ch, &type, &s->p, &s->left) < 0 || type != MSG_STREAM)
				return -1;
			continue;
		}
		size_t n = MIN(len, s->left);
		memcpy(out, s->p, n);
		out += n, s->p += n, s->left -= n, len -= n;
	}
	return 0;
}

/* rb_read: exactly len bytes from the received checkpoint. */
static int rb_read(void *ctx, void *buf, size_t len)
{
	struct rbuf *rb = ((struct rx_src *)ctx)->rb;
	uint8_t *out = buf;
	if (len > rb->len - rb->pos)
		return -1;
	while (len) {
		size_t c = rb->pos / CHUNK, off = rb->pos % CHUNK, n = MIN(len, CHUNK - off);
		memcpy(out, rb->chunk[c] + off, n);
		out += n, rb->pos += n, len -= n;
	}
	return 0;
}

/* rb_append: a MSG_STREAM payload into the buffer; -1 over the cap. */
static int rb_append(struct rbuf *rb, const uint8_t *p, size_t len, size_t cap)
{
	if (len > cap || rb->len > cap - len)
		return -1;
	while (len) {
		size_t c = rb->len / CHUNK, off = rb->len % CHUNK, n = MIN(len, CHUNK - off);
		if (c >= rb->nalloc) {
			if (c >= MAX_CHUNKS || !(rb->chunk[c] = kmalloc(CHUNK)))
				return -1;
			rb->nalloc++;
		}
		memcpy(rb->chunk[c] + off, p, n);
		rb->len += n, p += n, len -= n;
	}
	return 0;
}

/* send_state: answer with one REPL_* byte. */
static void send_state(struct chan *ch, int st)
{
	uint8_t b = (uint8_t)st;
	chan_send1(ch, MSG_REPL_STATE, &b, 1);
}

int replica_probe_local(const char *name)
{
	struct vm *vm = vm_find(name);
	if (!vm)
		return REPL_NONE;
	if (vm->state == VM_RUNNING)
		return REPL_RUNNING;
	return vm->state == VM_INCOMING ? REPL_REPLICA : REPL_NONE;
}

/* drop: forget the replica and free its VM (unless promoted meanwhile). */
static void drop(struct replica *r, uint64_t gen, const char *why)
{
	for (;;) { /* a checkpoint being applied finishes first */
		spin_lock(&g_lock);
		bool mine = r->used && r->gen == gen && r->state != RS_PROMOTED;
		bool busy = mine && r->applying;
		if (mine && !busy)
			r->used = false;
		spin_unlock(&g_lock);
		if (!mine)
			return;
		if (!busy)
			break;
		thread_sleep_ns(1000000);
	}
	struct vm *vm = vm_find(r->name);
	const char *err;
	/* ours: check_hello refused any other VM of that name; CREATED if the full copy failed */
	if (vm && (vm->state == VM_INCOMING || vm->state == VM_CREATED))
		vm_destroy(vm, &err);
	klog("ha: replica of %s dropped: %s", r->name, why);
}

/* claim: an entry for a new session of name; replaces an older replica (not one still
 * loading its full copy). NULL if none. */
static struct replica *claim(const char *name, const char *owner, uint64_t *gen)
{
	struct replica *old, *r = NULL;
	spin_lock(&g_lock);
	old = find(name);
	uint64_t og = old ? old->gen : 0;
	bool loading = old && old->state == RS_LOADING && old->session;
	spin_unlock(&g_lock);
	if (loading)
		return NULL;
	if (old)
		drop(old, og, "a new replication session replaces it");
	spin_lock(&g_lock);
	for (int i = 0; i < VM_MAX && !r; i++)
		if (!g_rep[i].used)
			r = &g_rep[i];
	if (r) {
		memset(r, 0, sizeof(*r));
		r->used = r->session = true;
		r->gen = *gen = ++g_gen;
		tern_strlcpy(r->name, name, sizeof(r->name));
		tern_strlcpy(r->owner, owner, sizeof(r->owner));
	}
	spin_unlock(&g_lock);
	return r;
}

/* check_hello: the offer; false after answering the primary (refused, or it runs here). */
static bool check_hello(struct chan *ch, const uint8_t *d, size_t n, struct vm_config *c)
{
	uint64_t uptime;
	bool verify;
	const char *err = offer_parse(d, n, c, &uptime, &verify);
	if (!err && replica_probe_local(c->name) == REPL_RUNNING) {
		send_state(ch, REPL_RUNNING); /* it runs here: the sender must not */
		return false;
	}
	spin_lock(&g_lock);
	bool ours = !err && find(c->name);
	spin_unlock(&g_lock);
	struct vm *old = err ? NULL : vm_find(c->name);
	if (!err && old && !(old->state == VM_INCOMING && ours))
		err = "a VM with that name exists on the standby";
	struct pmm_stats st;
	pmm_get_stats(&st);
	if (!err && st.free < c->mem_bytes + (64ULL << 20) + (old ? c->mem_bytes : 0))
		err = "not enough free memory on the standby";
	if (err) {
		klog("ha: replica from %s refused: %s", ch->peer, err);
		chan_send1(ch, MSG_ERROR, err, strlen(err));
		return false;
	}
	c->autostart = false;
	c->ha = true; /* after a failover it is an HA guest here */
	return true;
}

/* ckpt_msg: MSG_REPL_CKPT payload: seq, stream bytes, uptime. */
static bool ckpt_msg(struct chan *ch, uint64_t *seq, uint64_t *bytes, uint64_t *uptime)
{
	uint8_t type;
	const uint8_t *d;
	size_t n;
	if (chan_recv(ch, &type, &d, &n) < 0 || type != MSG_REPL_CKPT || n != 24)
		return false;
	*seq = le64_load(d);
	*bytes = le64_load(d + 8);
	*uptime = le64_load(d + 16);
	return true;
}

/* ack: tell the primary the replica is at seq. */
static int ack(struct chan *ch, uint64_t seq)
{
	uint8_t b[8];
	le64_store(b, seq);
	return chan_send1(ch, MSG_REPL_ACK, b, sizeof(b));
}

/* applied: bookkeeping after checkpoint seq is in the replica. */
static void applied(struct replica *r, uint64_t seq, uint64_t uptime, uint64_t bytes)
{
	r->seq = seq;
	r->uptime_ns = uptime;
	r->t_applied_ns = time_ns();
	r->ckpts++;
	r->bytes += bytes;
	r->state = RS_READY;
}

/* first: the full copy, loaded into a new held VM. */
static const char *first(struct chan *ch, struct replica *r, struct vm *vm, uint8_t *rec)
{
	struct rx_src src = {ch, NULL, 0, NULL};
	struct stream_in in;
	const char *err = NULL;
	uint64_t seq, bytes, uptime;
	stream_in_init(&in, ch_read, &src, rec, PAGE_SIZE << REC_BUF_ORDER, NULL);
	if (vm_load_incoming(vm, &in, 0, &err) < 0)
		return err ? err : "the full copy did not load";
	if (src.left || !ckpt_msg(ch, &seq, &bytes, &uptime) || !ckpt_next_seq_ok(0, seq))
		return "bad end of the full copy";
	applied(r, seq, uptime, in.bytes);
	return NULL;
}

/* receive_ckpt: the stream bytes of one checkpoint into rb, then its end message. */
static const char *receive_ckpt(struct chan *ch, struct rbuf *rb, size_t cap, uint64_t *seq,
                                uint64_t *uptime, bool *end)
{
	uint8_t type;
	const uint8_t *d;
	size_t n;
	rb->len = rb->pos = 0;
	for (;;) {
		if (chan_recv(ch, &type, &d, &n) < 0)
			return ch->error;
		if (type == MSG_REPL_END) {
			*end = true;
			return NULL;
		}
		if (type == MSG_REPL_CKPT)
			break;
		if (type != MSG_STREAM || rb_append(rb, d, n, cap) < 0)
			return "bad or oversized checkpoint";
	}
	if (n != 24 || le64_load(d + 8) != rb->len)
		return "checkpoint length mismatch";
	*seq = le64_load(d);
	*uptime = le64_load(d + 16);
	return NULL;
}

/* validate: every record of the buffered checkpoint is well-formed and fits the replica. */
static const char *validate(struct rbuf *rb, const struct ckpt_shape *sh, uint8_t *rec)
{
	struct rx_src src = {NULL, NULL, 0, rb};
	struct stream_in in;
	uint16_t type, ver;
	uint32_t len;
	rb->pos = 0;
	stream_in_init(&in, rb_read, &src, rec, PAGE_SIZE << REC_BUF_ORDER, NULL);
	if (!stream_read_header(&in))
		return in.error;
	for (bool seen_vm = false;; seen_vm = true) {
		if (!stream_next(&in, &type, &ver, &len))
			return in.error;
		if (type == REC_END)
			return rb->pos == rb->len ? NULL : "bytes after the end record";
		if (!seen_vm && type != REC_VM)
			return "checkpoint does not start with a VM record";
		const char *e = ckpt_check_record(sh, type, ver, in.rec, len);
		if (e)
			return e;
	}
}

/* apply: the validated checkpoint into the held VM. */
static const char *apply(struct rbuf *rb, struct vm *vm, uint8_t *rec)
{
	struct rx_src src = {NULL, NULL, 0, rb};
	struct stream_in in;
	uint16_t type, ver;
	uint32_t len;
	rb->pos = 0;
	stream_in_init(&in, rb_read, &src, rec, PAGE_SIZE << REC_BUF_ORDER, NULL);
	if (!stream_read_header(&in))
		return in.error;
	for (;;) {
		if (!stream_next(&in, &type, &ver, &len))
			return in.error;
		if (type == REC_END)
			return NULL;
		if (type == REC_VM)
			continue;
		const char *e = state_load_record(vm, type, ver, in.rec, len);
		if (e)
			return e;
	}
}

/* apply_locked: apply unless the replica was promoted or replaced meanwhile. */
static const char *apply_locked(struct replica *r, uint64_t gen, struct rbuf *rb, struct vm *vm,
                                uint8_t *rec)
{
	spin_lock(&g_lock);
	bool go = r->used && r->gen == gen && r->state == RS_READY;
	r->applying = go;
	spin_unlock(&g_lock);
	if (!go)
		return "the replica was promoted or replaced";
	const char *e = apply(rb, vm, rec);
	spin_lock(&g_lock);
	r->applying = false;
	if (e)
		r->state = RS_DAMAGED; /* half applied: never run it */
	spin_unlock(&g_lock);
	return e;
}

/* owner_alive: does the membership view say the replica's owner is alive? */
static bool owner_alive(const char *owner)
{
	struct ha_member_info m;
	for (int i = 0; i < ha_member_count(); i++)
		if (ha_member_get(i, &m) == 0 && !strcmp(m.name, owner))
			return m.alive;
	return false;
}

/*
 * owner_wait_ms: how long a dead owner's replica must still wait before it may run: the
 * failover delay counts from when the owner was declared dead (ha_detect_ms() after its last
 * heartbeat), whatever view change woke us. 0: promote now.
 */
static uint64_t owner_wait_ms(const char *owner)
{
	struct ha_member_info m;
	for (int i = 0; i < ha_member_count(); i++) {
		if (ha_member_get(i, &m) < 0 || strcmp(m.name, owner))
			continue;
		uint64_t now = time_ns() / 1000000;
		uint64_t at = m.last_heard_ms + ha_detect_ms() + ha_failover_delay_ms();
		return m.last_heard_ms && at > now ? at - now : 0;
	}
	return 0;
}

/* serve: a replication session after the hello. */
static const char *serve(struct chan *ch, struct ksock *k, struct replica *r, uint64_t gen,
                         struct vm *vm, uint8_t *rec, struct rbuf *rb)
{
	const char *why;
	ksock_set_io_timeout(k, FULL_TIMEOUT_MS);
	if (chan_send1(ch, MSG_ACCEPT, NULL, 0) < 0)
		return ch->error;
	if ((why = first(ch, r, vm, rec)) || ack(ch, r->seq) < 0)
		return why ? why : ch->error;
	klog("ha: holding a replica of %s for %s (checkpoint %llu)", r->name, r->owner,
	     (unsigned long long)r->seq);
	ksock_set_io_timeout(k, RECV_TIMEOUT_MS);
	/* the VM's shape now, while this session owns it (a new session may replace it later) */
	struct ckpt_shape sh = {vm->cfg.mem_bytes, vm->mem.npages, (uint32_t)vm->nvcpus,
	                        (uint32_t)fpu_area_size()};
	size_t cap = (size_t)MIN(vm->cfg.mem_bytes + (16ULL << 20), (uint64_t)MAX_CHUNKS * CHUNK);
	for (;;) {
		uint64_t seq = 0, uptime = 0;
		bool end = false;
		if ((why = receive_ckpt(ch, rb, cap, &seq, &uptime, &end)))
			return why;
		if (end)
			return "replication ended by the primary";
		if (!ckpt_next_seq_ok(r->seq, seq))
			return "checkpoint out of sequence";
		if ((why = validate(rb, &sh, rec)) || (why = apply_locked(r, gen, rb, vm, rec)))
			return why; /* dropped: the replica stays at r->seq (or is damaged) */
		applied(r, seq, uptime, rb->len);
		if (ack(ch, seq) < 0)
			return ch->error;
	}
}

/* session: create the held VM and serve; decide what stays when the session ends. */
static void session(struct chan *ch, struct ksock *k, struct vm_config *c)
{
	uint64_t gen;
	struct replica *r = claim(c->name, ch->peer, &gen);
	const char *err = "too many replicas", *why;
	if (!r)
		err = "a replica of that VM is still loading here";
	if (!r || vm_create(c, &err) < 0) {
		chan_send1(ch, MSG_ERROR, err, strlen(err));
		if (r)
			r->used = false;
		return;
	}
	ha_supervisor_start();
	struct vm *vm = vm_find(c->name);
	uint64_t rec_pa = pmm_alloc(REC_BUF_ORDER);
	struct rbuf *rb = kzalloc(sizeof(*rb));
	why = rec_pa && rb ? serve(ch, k, r, gen, vm, P2V(rec_pa), rb) : "out of memory";
	if (rec_pa)
		pmm_free(rec_pa, REC_BUF_ORDER);
	for (size_t i = 0; rb && i < rb->nalloc; i++)
		kfree(rb->chunk[i]);
	kfree(rb);
	spin_lock(&g_lock);
	bool replaced = r->gen != gen, promoted = !replaced && r->state == RS_PROMOTED;
	if (!replaced)
		r->session = false;
	if (promoted)
		r->used = false; /* it runs here now */
	spin_unlock(&g_lock);
	if (replaced || promoted)
		return;
	klog("ha: replication of %s from %s stopped: %s", c->name, ch->peer, why);
	bool ended = !strcmp(why, "replication ended by the primary");
	if (ended || r->state != RS_READY || owner_alive(r->owner))
		drop(r, gen, ended ? "the primary ended replication" : why);
	else if (ha_quorate())
		replica_promote_dead_owners(); /* the owner died while we waited for it */
}

void replica_receive(struct chan *ch, struct ksock *k)
{
	uint8_t type;
	const uint8_t *d;
	size_t n;
	if (chan_recv(ch, &type, &d, &n) < 0)
		return;
	if (type == MSG_REPL_PROBE) {
		char name[32];
		if (n == 0 || n >= sizeof(name))
			return;
		memcpy(name, d, n);
		name[n] = 0;
		send_state(ch, replica_probe_local(name));
		return;
	}
	struct vm_config *c = kmalloc(sizeof(*c));
	if (type == MSG_REPL_HELLO && c && check_hello(ch, d, n, c))
		session(ch, k, c);
	kfree(c);
}

/* release: a promoted entry is free once its session thread has left. */
static void release(struct replica *r)
{
	spin_lock(&g_lock);
	if (!r->session)
		r->used = false;
	spin_unlock(&g_lock);
}

/* promote: run the replica r from its last complete checkpoint. */
static void promote(struct replica *r)
{
	for (;;) {
		spin_lock(&g_lock);
		bool busy = r->applying;
		if (!busy && r->state == RS_READY)
			r->state = RS_PROMOTED;
		int st = r->state;
		spin_unlock(&g_lock);
		if (!busy && st != RS_PROMOTED)
			return; /* damaged or loading: nothing consistent to run */
		if (!busy)
			break;
		thread_sleep_ns(1000000);
	}
	struct vm *vm = vm_find(r->name);
	const char *err = "the replica is gone";
	uint64_t t0 = time_ns();
	if (vm && vm->state == VM_INCOMING) {
		vm->run_ns = r->uptime_ns;
		vm->cfg.ha = true;
		if (vm_commit_incoming(vm, &err) == 0) {
			kprintf("ha: %s failed over to this host from %s: checkpoint %llu (%llu ms "
			        "old), running after %llu ms\n",
			        r->name, r->owner, (unsigned long long)r->seq,
			        (unsigned long long)((t0 - r->t_applied_ns) / 1000000),
			        (unsigned long long)((time_ns() - t0) / 1000000));
			release(r);
			return;
		}
	}
	klog("ha: failover of %s FAILED: %s", r->name, err);
	release(r);
}

uint64_t replica_promote_dead_owners(void)
{
	uint64_t wait = 0;
	for (int i = 0; i < VM_MAX; i++) {
		struct replica *r = &g_rep[i];
		if (!r->used || r->state != RS_READY || !ha_quorate() || owner_alive(r->owner))
			continue;
		uint64_t w = owner_wait_ms(r->owner);
		if (w)
			wait = wait ? MIN(wait, w) : w;
		else
			promote(r);
	}
	return wait;
}

int replica_status_print(void)
{
	int n = 0;
	for (int i = 0; i < VM_MAX; i++) {
		struct replica *r = &g_rep[i];
		if (!r->used)
			continue;
		n++;
		uint64_t age = r->t_applied_ns ? (time_ns() - r->t_applied_ns) / 1000000 : 0;
		kprintf(
		    "replica %s: owner %s, standby %s (here), %s, checkpoint %llu applied %llu ms "
		    "ago, %llu checkpoints, %llu KiB%s\n",
		    r->name, r->owner, ha_self_name(), g_rs_name[r->state],
		    (unsigned long long)r->seq, (unsigned long long)age,
		    (unsigned long long)r->ckpts, (unsigned long long)(r->bytes >> 10),
		    r->session ? "" : ", session closed");
	}
	return n;
}
