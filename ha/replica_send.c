/*
 * The primary side of HA replication (see replica.h): one session to one standby. The first
 * checkpoint is a full copy (all RAM sent while the guest runs, then what it dirtied meanwhile
 * with the vCPUs parked, plus all device and disk state); after that, every interval: park
 * the vCPUs, fetch the dirty pages and disk blocks, copy them and the vCPU and device state into
 * a staging buffer, let the guest run again, send the staged checkpoint, wait for the ack and
 * release the network output the checkpoint covers.
 */
#include "ha/replica.h"
#include "kernel/bitmap.h"
#include "kernel/endian.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/pmm.h"
#include "kernel/sched.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "migrate/channel.h"
#include "migrate/offer.h"
#include "net/host/ksock.h"
#include "vmm/dev/vdevs.h"
#include "vmm/dirty.h"
#include "vmm/state.h"
#include "vmm/stream.h"
#include "vmm/vm.h"

#define CHUNK           (256u * 1024) /* stream bytes per channel message and staging chunk */
#define STAGE_CHUNKS    512           /* a checkpoint of at most 128 MiB */
#define REC_BUF         (64u * 1024)
#define ACK_TIMEOUT_MS  3000
#define FULL_TIMEOUT_MS 60000

/* A checkpoint kept in host memory while the guest runs on. */
struct stage {
	uint8_t *chunk[STAGE_CHUNKS];
	size_t nalloc, len;
};

/* Where stream bytes go: straight to the channel (live full copy) or into the stage. */
struct rs_out {
	struct chan *ch;
	struct stage *st;
	bool staging;
	uint8_t *buf; /* CHUNK bytes: direct mode */
	size_t len;
};

/* Everything one session holds. */
struct session {
	struct ha_guest *g;
	struct vm *vm;
	struct chan ch;
	struct ksock *k;
	struct rs_out o;
	struct stage st;
	struct stream_out s;
	uint8_t *chbuf, *recbuf;
	uint64_t *bm;
	bool dirty_on;
};

/* stage_append: copy bytes into the stage, growing it; -1 if it would exceed the cap. */
static int stage_append(struct stage *st, const uint8_t *p, size_t len)
{
	while (len) {
		size_t c = st->len / CHUNK, off = st->len % CHUNK;
		if (c >= STAGE_CHUNKS)
			return -1;
		if (c >= st->nalloc) {
			if (!(st->chunk[c] = kmalloc(CHUNK)))
				return -1;
			st->nalloc++;
		}
		size_t n = MIN(len, CHUNK - off);
		memcpy(st->chunk[c] + off, p, n);
		st->len += n;
		p += n;
		len -= n;
	}
	return 0;
}

/* stage_free: release the stage's chunks. */
static void stage_free(struct stage *st)
{
	for (size_t i = 0; i < st->nalloc; i++)
		kfree(st->chunk[i]);
	st->nalloc = st->len = 0;
}

/* direct_flush: send what the direct buffer holds. */
static int direct_flush(struct rs_out *o)
{
	if (!o->len)
		return 0;
	int rc = chan_send1(o->ch, MSG_STREAM, o->buf, o->len);
	o->len = 0;
	return rc;
}

/* out_write: stream_out sink. */
static int out_write(void *ctx, const void *buf, size_t len)
{
	struct rs_out *o = ctx;
	const uint8_t *p = buf;
	if (o->staging)
		return stage_append(o->st, p, len);
	while (len) {
		size_t n = MIN(len, CHUNK - o->len);
		memcpy(o->buf + o->len, p, n);
		o->len += n;
		p += n;
		len -= n;
		if (o->len == CHUNK && direct_flush(o) < 0)
			return -1;
	}
	return 0;
}

/* stage_send: the staged checkpoint as channel messages. */
static int stage_send(struct session *x)
{
	for (size_t off = 0; off < x->st.len; off += CHUNK) {
		size_t n = MIN((size_t)CHUNK, x->st.len - off);
		if (chan_send1(&x->ch, MSG_STREAM, x->st.chunk[off / CHUNK], n) < 0)
			return -1;
	}
	return 0;
}

/* send_pages: every page set in bm as RAM records (runs of consecutive pages). */
static int send_pages(struct stream_out *s, struct vm *vm, const uint64_t *bm)
{
	uint64_t n = vm->mem.npages;
	for (uint64_t p = bitmap_next_set(bm, n, 0); p < n;) {
		uint64_t q = p;
		while (q + 1 < n && q + 1 - p < STATE_RAM_RUN && bitmap_test(bm, q + 1))
			q++;
		if (state_save_ram_run(s, vm, p, (uint32_t)(q - p + 1), NULL) < 0)
			return -1;
		p = bitmap_next_set(bm, n, q + 1);
	}
	return s->err;
}

/* vm_ok: the session's VM still exists, is ours, and runs. */
static bool vm_ok(struct session *x)
{
	struct vm *vm = vm_find(x->g->name);
	return vm == x->vm && vm->ha == x->g && !vm->migrating &&
	       (vm->state == VM_RUNNING || vm->state == VM_PAUSED);
}

/* resume_guest: end the parked window; a fence that came meanwhile keeps it paused. */
static void resume_guest(struct ha_guest *g, struct vm *vm, bool was_running)
{
	spin_lock(&g->lock);
	bool fenced = g->fenced;
	spin_unlock(&g->lock);
	if (!fenced && was_running)
		vm_unquiesce(vm);
	spin_lock(&g->lock);
	g->in_ckpt = false;
	bool fenced_now = g->fenced;
	spin_unlock(&g->lock);
	const char *err;
	if (fenced && was_running) { /* still parked: make it a proper pause */
		vm->run_ns = vm_uptime_ns(vm);
		vm->state = VM_PAUSED;
	} else if (fenced_now && !fenced && was_running) {
		vm_pause(vm, &err); /* fenced while we let it go: fence_one left it to us */
	}
}

/* take: park the vCPUs, stage dirty pages and machine state, let the guest go; seq/uptime. */
static const char *take(struct session *x, bool first, uint64_t *seq, uint64_t *uptime,
                        uint64_t *pause_ns)
{
	struct ha_guest *g = x->g;
	struct vm *vm = x->vm;
	spin_lock(&g->lock);
	bool fenced = g->fenced;
	g->in_ckpt = !fenced;
	spin_unlock(&g->lock);
	if (fenced)
		return "fenced";
	bool running = vm->state == VM_RUNNING;
	uint64_t t0 = time_ns();
	if (running && vm_quiesce(vm) < 0) {
		resume_guest(g, vm, false);
		return "the VM stopped";
	}
	if (!first)
		memset(x->bm, 0, BITMAP_WORDS(vm->mem.npages) * 8);
	vm_dirty_fetch(vm, x->bm);
	spin_lock(&g->lock);
	*seq = ckpt_close_epoch(&g->t);
	/* output waits for checkpoints from the first one on: frames sent before it are covered
	 * by it, and until it is acknowledged no replica exists that could contradict them */
	g->holding = true;
	spin_unlock(&g->lock);
	*uptime = vm_uptime_ns(vm);
	x->st.len = 0;
	if (!first) {
		stream_out_init(&x->s, out_write, &x->o, x->recbuf, REC_BUF, NULL);
		state_save_begin(vm, &x->s);
	}
	send_pages(&x->s, vm, x->bm);
	state_save_machine_ex(vm, &x->s, first); /* the first carries whole disks */
	if (!first)
		vdevs_save_disk_deltas(vm, &x->s);
	int rc = stream_finish(&x->s);
	resume_guest(g, vm, running);
	*pause_ns = time_ns() - t0;
	return rc < 0 ? "checkpoint too large for the staging buffer" : NULL;
}

/* wait_ack: the standby's acknowledgement of seq. */
static const char *wait_ack(struct session *x, uint64_t seq)
{
	uint8_t type;
	const uint8_t *d;
	size_t n;
	if (chan_recv(&x->ch, &type, &d, &n) < 0)
		return x->ch.error;
	if (type == MSG_ERROR)
		return "the standby refused the checkpoint";
	if (type != MSG_REPL_ACK || n != 8 || le64_load(d) != seq)
		return "unexpected answer from the standby";
	spin_lock(&x->g->lock);
	bool ok = ckpt_ack(&x->g->t, seq);
	spin_unlock(&x->g->lock);
	return ok ? NULL : "acknowledgement for a checkpoint not sent";
}

/* checkpoint: take, send and get one checkpoint acknowledged; output then leaves. */
static const char *checkpoint(struct session *x, bool first)
{
	uint64_t seq, uptime, pause;
	const char *why = take(x, first, &seq, &uptime, &pause);
	if (why)
		return why;
	uint8_t m[24];
	le64_store(m, seq);
	le64_store(m + 8, x->s.bytes);
	le64_store(m + 16, uptime);
	ksock_set_io_timeout(x->k, first ? FULL_TIMEOUT_MS : ACK_TIMEOUT_MS);
	if (stage_send(x) < 0 || chan_send1(&x->ch, MSG_REPL_CKPT, m, sizeof(m)) < 0)
		return x->ch.error ? x->ch.error : "connection lost";
	if ((why = wait_ack(x, seq)))
		return why;
	struct ha_guest *g = x->g;
	g->t_acked_ns = time_ns();
	g->ckpts++;
	g->pause_ns_total += pause;
	g->pause_ns_max = MAX(g->pause_ns_max, pause);
	g->last_bytes = x->s.bytes;
	g->bytes = x->ch.bytes_sent;
	g->state = HG_PROTECTED;
	ha_out_release(g, false);
	return NULL;
}

/* hello: offer the VM; the standby accepts, refuses, or says it runs the guest itself. */
static const char *hello(struct session *x)
{
	uint8_t offer[2048], type;
	const uint8_t *d;
	size_t n, olen = offer_build(x->vm, false, offer, sizeof(offer));
	if (!olen || chan_send1(&x->ch, MSG_REPL_HELLO, offer, olen) < 0 ||
	    chan_recv(&x->ch, &type, &d, &n) < 0)
		return x->ch.error ? x->ch.error : "cannot describe the VM";
	if (type == MSG_ACCEPT)
		return NULL;
	if (type == MSG_REPL_STATE && n == 1 && d[0] == REPL_RUNNING) {
		/* it runs there: we were declared dead; never run two: stop here */
		klog("ha: %s: %s runs this guest already: fencing the copy here", x->g->name,
		     x->ch.peer);
		ha_fence_guest(x->g);
		return "the standby runs the guest (taken over)";
	}
	return "the standby refused the replica";
}

/* full_copy: all RAM while the guest runs, then the first (consistent) checkpoint. */
static const char *full_copy(struct session *x)
{
	struct vm *vm = x->vm;
	const char *err;
	uint64_t t0 = time_ns();
	if (vm_dirty_start(vm, &err) < 0)
		return err;
	x->dirty_on = true;
	stream_out_init(&x->s, out_write, &x->o, x->recbuf, REC_BUF, NULL);
	state_save_begin(vm, &x->s);
	for (uint64_t p = 0; p < vm->mem.npages && !x->s.err; p += STATE_RAM_RUN)
		state_save_ram_run(
		    &x->s, vm, p, (uint32_t)MIN((uint64_t)STATE_RAM_RUN, vm->mem.npages - p), NULL);
	if (x->s.err || direct_flush(&x->o) < 0)
		return x->ch.error ? x->ch.error : "connection lost";
	x->o.staging = true;
	memset(x->bm, 0, BITMAP_WORDS(vm->mem.npages) * 8);
	const char *why = checkpoint(x, true);
	x->g->full_copy_ms = (time_ns() - t0) / 1000000;
	return why;
}

/* standby_ok: the standby is still alive and not in maintenance (membership view). */
static bool standby_ok(const char *standby)
{
	struct ha_member_info m;
	for (int i = 0; i < ha_member_count(); i++)
		if (ha_member_get(i, &m) == 0 && !strcmp(m.name, standby))
			return m.alive && !m.maintenance;
	return ha_member_count() == 0; /* no membership: trust the channel alone */
}

/* run: hello, full copy, then a checkpoint every interval until something ends it. */
static const char *run(struct session *x, const char *standby)
{
	const char *err = NULL, *why;
	x->k = ha_connect(standby, &x->ch, x->chbuf, &err);
	if (!x->k)
		return err;
	if ((why = hello(x)))
		return why;
	tern_strlcpy(x->g->standby, standby, sizeof(x->g->standby));
	x->g->state = HG_SYNCING;
	if ((why = full_copy(x)))
		return why;
	klog("ha: %s replicated to %s (full copy %llu ms)", x->g->name, standby,
	     (unsigned long long)x->g->full_copy_ms);
	for (;;) {
		uint64_t next = x->g->t_acked_ns + ha_ckpt_interval_ms() * 1000000ULL;
		while (time_ns() < next && !x->g->stop && !x->g->fenced && !x->g->suspend)
			thread_sleep_ns(MIN(next - time_ns(), 20000000ULL));
		if (x->g->stop || x->g->suspend || !vm_ok(x)) {
			chan_send1(&x->ch, MSG_REPL_END, NULL, 0);
			return x->g->stop ? NULL : "replication suspended";
		}
		if (x->g->fenced)
			return "fenced";
		if (!standby_ok(standby))
			return "the standby left the cluster or entered maintenance";
		if ((why = checkpoint(x, false)))
			return why;
	}
}

const char *replica_session(struct ha_guest *g, const char *standby)
{
	struct session *x = kzalloc(sizeof(*x));
	struct vm *vm = vm_find(g->name);
	if (!x || !vm) {
		kfree(x);
		return "out of memory";
	}
	x->g = g;
	x->vm = vm;
	x->chbuf = pmm_alloc_kva(CHAN_BUF_SIZE);
	x->recbuf = kmalloc(REC_BUF);
	x->o = (struct rs_out){&x->ch, &x->st, false, kmalloc(CHUNK), 0};
	x->bm = kmalloc(BITMAP_WORDS(vm->mem.npages) * 8);
	const char *why = "out of memory";
	if (x->chbuf && x->recbuf && x->o.buf && x->bm)
		why = run(x, standby);
	spin_lock(&g->lock);
	ckpt_abandon(&g->t);
	spin_unlock(&g->lock);
	if (x->dirty_on && vm_find(g->name) == vm)
		vm_dirty_stop(vm);
	if (x->k) {
		chan_close(&x->ch);
		if (why)
			ksock_abort(x->k);
		else
			ksock_close(x->k); /* MSG_REPL_END must arrive */
	}
	stage_free(&x->st);
	pmm_free_kva(x->chbuf, CHAN_BUF_SIZE);
	kfree(x->recbuf);
	kfree(x->o.buf);
	kfree(x->bm);
	kfree(x);
	return why;
}
