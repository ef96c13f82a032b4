/* The sending side of a live migration; see migration.h. */
#include "migrate/migration.h"
#include "kernel/bitmap.h"
#include "kernel/config.h"
#include "kernel/fmt.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/percpu.h"
#include "kernel/pmm.h"
#include "migrate/crypto_util.h"
#include "kernel/random.h"
#include "kernel/sched.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "migrate/offer.h"
#include "migrate/peers.h"
#include "net/host/ksock.h"
#include "net/host/netd.h"
#include "vmm/dirty.h"
#include "vmm/dev/vdevs.h"
#include "vmm/state.h"
#include "vmm/stream.h"
#include "vmm/vm.h"

#define OUT_CHUNK         (256u * 1024) /* stream bytes per channel message */
#define IO_TIMEOUT_MS     30000
#define COMMIT_TIMEOUT_MS 15000

static struct migration g_mig[MIG_MAX];
static struct spinlock g_lock = SPINLOCK_INIT("migrations");

static const char *const g_phase[] = {"connecting", "pre-copy", "stop-and-copy", "committing",
                                      "done",       "failed",   "in doubt",      "incoming"};

const char *migrate_phase_name(int p)
{
	return p >= 0 && p <= MIG_INCOMING ? g_phase[p] : "?";
}

struct migration *migrate_get(int i)
{
	return i >= 0 && i < MIG_MAX && g_mig[i].used ? &g_mig[i] : NULL;
}

/* migrate_slot: a fresh entry (the oldest finished one is reused); NULL if all are busy. */
struct migration *migrate_slot(const char *vm_name, bool incoming)
{
	struct migration *m = NULL;
	spin_lock(&g_lock);
	for (int i = 0; i < MIG_MAX && !m; i++) {
		bool active =
		    g_mig[i].used && g_mig[i].phase != MIG_DONE && g_mig[i].phase != MIG_FAILED;
		if (active && !strcmp(g_mig[i].vm_name, vm_name)) {
			spin_unlock(&g_lock);
			return NULL; /* that VM is already migrating */
		}
	}
	for (int i = 0; i < MIG_MAX && !m; i++)
		if (!g_mig[i].used || g_mig[i].phase == MIG_DONE || g_mig[i].phase == MIG_FAILED)
			m = &g_mig[i];
	if (m) {
		memset(m, 0, sizeof(*m));
		m->used = true;
		m->incoming = incoming;
		tern_strlcpy(m->vm_name, vm_name, sizeof(m->vm_name));
		m->t_start = time_ns();
	}
	spin_unlock(&g_lock);
	return m;
}

void migrate_release(struct migration *m)
{
	(void)m; /* entries stay for `migrate status` until reused */
}

/* Stream output buffered into channel messages. */
struct mig_out {
	struct chan *ch;
	struct migration *m;
	uint8_t *buf;
	size_t len;
	uint64_t window_start, window_bytes; /* for the bandwidth limit */
	struct ram_enc *enc;                 /* compresses the RAM pages going out */
};

/* flush: send the buffered stream bytes as one message, pacing to the bandwidth limit. */
static int flush(struct mig_out *o)
{
	if (!o->len)
		return 0;
	if (o->m->cancel)
		return -1;
	if (chan_send1(o->ch, MSG_STREAM, o->buf, o->len) < 0)
		return -1;
	o->m->bytes_sent = o->ch->bytes_sent;
	o->window_bytes += o->len;
	o->len = 0;
	if (o->m->bandwidth) {
		uint64_t el = time_ns() - o->window_start;
		uint64_t want = o->window_bytes * 1000000000ULL / o->m->bandwidth;
		if (want > el)
			thread_sleep_ns(want - el);
	}
	return 0;
}

/* out_write: stream_out sink. */
static int out_write(void *ctx, const void *buf, size_t len)
{
	struct mig_out *o = ctx;
	const uint8_t *p = buf;
	while (len) {
		size_t n = MIN(len, OUT_CHUNK - o->len);
		memcpy(o->buf + o->len, p, n);
		o->len += n;
		p += n;
		len -= n;
		if (o->len == OUT_CHUNK && flush(o) < 0)
			return -1;
	}
	return 0;
}

_Static_assert(STATE_RAM_RUN <= DIRTY_PEEK_MAX, "a run is peeked at once");

/* send_run: pages [p, p + count) as RAM records, leaving out those set in skip. */
static int send_run(struct stream_out *s, struct mig_out *o, struct vm *vm, uint64_t p,
                    uint32_t count, const uint64_t *skip)
{
	for (uint32_t i = 0; i < count;) {
		if (bitmap_test(skip, i)) {
			i++;
			continue;
		}
		uint32_t j = i;
		while (j + 1 < count && !bitmap_test(skip, j + 1))
			j++;
		if (state_save_ram_run(s, vm, p + i, j - i + 1, o->enc) < 0)
			return -1;
		i = j + 1;
	}
	return 0;
}

/*
 * send_pages: every page set in bm as RAM records (runs of consecutive pages). In pre-copy
 * (peek) a page the guest has written again since the round began is left out: the next
 * round's fetch reports it and sends its newer contents, so sending it now would be bytes
 * for nothing (Xen's migration skips such pages the same way). A guest rewriting a buffer
 * loses about a third of its resends this way.
 */
static int send_pages(struct stream_out *s, struct mig_out *o, struct vm *vm, const uint64_t *bm,
                      bool peek)
{
	uint64_t n = vm->mem.npages, again[BITMAP_WORDS(STATE_RAM_RUN)];
	memset(again, 0, sizeof(again));
	for (uint64_t p = bitmap_next_set(bm, n, 0); p < n;) {
		uint64_t q = p;
		while (q + 1 < n && q + 1 - p < STATE_RAM_RUN && bitmap_test(bm, q + 1))
			q++;
		uint32_t count = (uint32_t)(q - p + 1);
		if (peek)
			o->m->skipped += vm_dirty_peek(vm, p, count, again);
		if (send_run(s, o, vm, p, count, again) < 0)
			return -1;
		o->m->ram = o->enc->st;
		p = bitmap_next_set(bm, n, q + 1);
	}
	return s->err;
}

/* progress: one console line per round. */
static void progress(struct migration *m)
{
	kprintf(
	    "migrate %s: round %d, %llu/%llu MiB sent, dirty %llu MiB/s, throughput %llu MiB/s, "
	    "pages compressed to %llu%%, estimated downtime %llu ms%s",
	    m->vm_name, m->round, (unsigned long long)(m->bytes_sent >> 20),
	    (unsigned long long)(m->ram_bytes >> 20), (unsigned long long)(m->dirty_rate >> 20),
	    (unsigned long long)(m->throughput >> 20), (unsigned long long)(m->ratio / 10),
	    (unsigned long long)m->est_downtime_ms, m->throttle ? "" : "\n");
	if (m->throttle)
		kprintf(", vCPUs throttled %d%%\n", m->throttle);
}

/* precopy: round 0 = all of RAM, then dirty rounds until the policy says stop. */
static int precopy(struct stream_out *s, struct mig_out *o, struct vm *vm, struct migration *m,
                   uint64_t *bm)
{
	size_t words = BITMAP_WORDS(vm->mem.npages);
	struct mig_policy pol;
	mig_policy_init(&pol, m->downtime_limit_ms);
	memset(bm, 0xff, words * 8);
	for (uint64_t p = vm->mem.npages; p < words * 64; p++)
		bitmap_clear(bm, p);
	for (m->round = 0;; m->round++) {
		uint64_t t0 = time_ns(), b0 = m->bytes_sent;
		struct ram_stats r0 = m->ram;
		o->window_start = t0, o->window_bytes = 0;
		if (send_pages(s, o, vm, bm, true) < 0)
			return -1;
		if (m->round == 0) { /* disks: whole, then what the guest writes meanwhile */
			vdevs_disks_dirty_clear(vm);
			vdevs_save_disks(vm, s);
		} else {
			m->disk_bytes = vdevs_save_disk_deltas(vm, s);
		}
		if (s->err || flush(o) < 0)
			return -1;
		uint64_t dt = MAX(time_ns() - t0, 1000000ULL);
		m->throughput = (m->bytes_sent - b0) * 1000000000ULL / dt;
		if (m->round <= MIG_MAX_ROUNDS)
			m->rounds_bytes[m->round] = m->bytes_sent - b0;
		memset(bm, 0, words * 8);
		vm_dirty_fetch(vm, bm);
		/* the dirty pages will compress as this round's did; a disk's next delta is
		 * guessed as large as its last one (bytes on the wire, as the throughput) */
		m->ratio = ramrec_ratio(&r0, &m->ram);
		uint64_t dirty_bytes =
		    bitmap_count(bm, vm->mem.npages) * 4096 * m->ratio / 1000 + m->disk_bytes;
		m->dirty_rate = dirty_bytes * 1000000000ULL / dt;
		m->est_downtime_ms = dirty_bytes * 1000 / MAX(m->throughput, 1ULL << 20);
		struct mig_round r = {m->est_downtime_ms, dirty_bytes, m->dirty_rate,
		                      m->throughput};
		bool stop = mig_policy_round(&pol, &r);
		m->throttle = pol.throttle;
		vm->throttle_pct = pol.throttle;
		progress(m);
		if (stop)
			return 0;
	}
}

/* send_verify: checksums of every RAM chunk as the VM stands now (paused). */
static int send_verify(struct chan *ch, struct vm *vm)
{
	size_t n = vm->mem.nchunks;
	uint64_t *sums = kmalloc(n * 8);
	if (!sums)
		return -1;
	for (size_t i = 0; i < n; i++)
		sums[i] = gmem_chunk_sum(&vm->mem, i);
	int rc = chan_send1(ch, MSG_VERIFY, sums, n * 8);
	kfree(sums);
	return rc;
}

/* expect: wait for one control message of type; false (with m->error) otherwise. */
static bool expect_msg(struct chan *ch, struct migration *m, uint8_t want, const char *what,
                       const uint8_t **payload, size_t *len)
{
	uint8_t type;
	const uint8_t *d;
	size_t n;
	if (chan_recv(ch, &type, &d, &n) < 0) {
		fmt_snprintf(m->error, sizeof(m->error), "%s: %s", what, ch->error);
		return false;
	}
	if (type == MSG_ERROR) {
		fmt_snprintf(m->error, sizeof(m->error), "destination refused: %.*s",
		             (int)MIN(n, 100UL), (const char *)d);
		return false;
	}
	if (type != want) {
		fmt_snprintf(m->error, sizeof(m->error), "%s: unexpected message %u", what, type);
		return false;
	}
	if (payload)
		*payload = d, *len = n;
	return true;
}

/* expect: the next message must be of type want (its payload unused). */
static bool expect(struct chan *ch, struct migration *m, uint8_t want, const char *what)
{
	return expect_msg(ch, m, want, what, NULL, NULL);
}

/* catch_up: wait until the destination has loaded everything sent so far, while the VM still
 * runs. Up to a receive window of pre-copy data (and the send buffer) can be in flight or
 * queued there; loading it after the pause would count as downtime. */
static int catch_up(struct chan *ch, struct migration *m)
{
	uint64_t t0 = time_ns();
	if (chan_send1(ch, MSG_SYNC, NULL, 0) < 0 || !expect(ch, m, MSG_SYNCED, "sync"))
		return -1;
	m->catchup_ns = time_ns() - t0;
	return 0;
}

/* connect_peer: TCP connection and channel handshake. */
static struct ksock *connect_peer(struct migration *m, struct chan *ch, uint8_t *chbuf)
{
	uint8_t key[KEYS_CLUSTER_KEY_SIZE], nonce[KEYS_NONCE_SIZE];
	int err = 0;
	if (!peers_key(key)) {
		tern_strlcpy(m->error, "no cluster_key in tern.conf", sizeof(m->error));
		return NULL;
	}
	struct ksock *k = ksock_connect(m->ip, peers_port(), 5000, &err);
	if (!k) {
		fmt_snprintf(m->error, sizeof(m->error), "cannot connect to %s: %s", m->peer,
		             net_strerror(err));
		return NULL;
	}
	ksock_set_io_timeout(k, IO_TIMEOUT_MS);
	random_bytes(nonce, sizeof(nonce));
	struct chan_io io = {ksock_io_send, ksock_io_recv, k};
	if (chan_client(ch, &io, chbuf, CHAN_PROTO_MIGRATE, key, nonce, node_name()) < 0) {
		fmt_snprintf(m->error, sizeof(m->error), "%s: %s", m->peer, ch->error);
		ksock_abort(k);
		return NULL;
	}
	crypto_wipe(key, sizeof(key));
	return k;
}

/* finish_source: after RUNNING, the VM is gone from here. */
static void hand_over(struct vm *vm, struct migration *m)
{
	const char *err;
	vm->migrating = false;
	vm_stop(vm, &err);
	vm_destroy(vm, &err);
	m->phase = MIG_DONE;
}

/* summary: the console lines of a finished migration: what was sent, where the time went. */
static void summary(struct migration *m, struct chan *ch)
{
	const struct ram_stats *r = &m->ram;
	kprintf("migrate %s: done in %llu ms, downtime %llu ms, %llu MiB sent in %d rounds, "
	        "%llu pages (%llu zero), %llu compressed (%llu MiB to %llu MiB), %llu raw, %llu "
	        "left for a later round (written again before their turn)\n",
	        m->vm_name, (unsigned long long)((m->t_end - m->t_start) / 1000000),
	        (unsigned long long)m->downtime_ms, (unsigned long long)(m->bytes_sent >> 20),
	        m->round + 1, (unsigned long long)r->pages, (unsigned long long)r->zero,
	        (unsigned long long)r->lz, (unsigned long long)((r->lz * 4096) >> 20),
	        (unsigned long long)(r->lz_bytes >> 20), (unsigned long long)r->raw,
	        (unsigned long long)m->skipped);
	uint64_t t_all = m->t_end - m->t_start, known = ch->io_ns + ch->crypt_ns + r->lz_ns;
	uint64_t lz_kib = (r->raw + r->lz) * 4,
	         lz_rate = lz_kib * 1000000000ULL / MAX(r->lz_ns, 1ULL);
	kprintf("migrate %s: time: sending (network and peer) %llu ms, encrypting %llu ms, "
	        "compressing %llu ms (%llu MiB/s), reading guest memory and the rest %llu ms\n",
	        m->vm_name, (unsigned long long)(ch->io_ns / 1000000),
	        (unsigned long long)(ch->crypt_ns / 1000000),
	        (unsigned long long)(r->lz_ns / 1000000), (unsigned long long)(lz_rate >> 10),
	        (unsigned long long)((t_all - MIN(t_all, known)) / 1000000));
	kprintf("migrate %s: downtime: parking vCPUs %llu ms, last pages and state %llu ms "
	        "(%llu KiB), destination loading and checking %llu ms, commit %llu ms (before "
	        "it: %llu ms for the destination to catch up)\n",
	        m->vm_name, (unsigned long long)((m->t_parked - m->t_pause) / 1000000),
	        (unsigned long long)((m->t_sent - m->t_parked) / 1000000),
	        (unsigned long long)(m->final_bytes >> 10),
	        (unsigned long long)((m->t_state_ok - m->t_sent) / 1000000),
	        (unsigned long long)((m->t_end - m->t_state_ok) / 1000000),
	        (unsigned long long)(m->catchup_ns / 1000000));
}

/* run: the whole sending side; returns with the VM running here or gone. */
static void run(struct migration *m, uint8_t *chbuf, uint8_t *outbuf, uint8_t *recbuf,
                struct ram_enc *enc)
{
	struct vm *vm = vm_find(m->vm_name);
	struct chan ch;
	struct ksock *k = connect_peer(m, &ch, chbuf);
	if (!k)
		goto failed_early;
	ch.clock = time_ns;  /* profile for the summary */
	uint8_t offer[2048]; /* config, cmdline and virtio lines (vdevs_config_lines) */
	size_t olen = offer_build(vm, m->verify, offer, sizeof(offer));
	const uint8_t *acc = NULL;
	size_t alen = 0;
	if (!olen || chan_send1(&ch, MSG_OFFER, offer, olen) < 0 ||
	    !expect_msg(&ch, m, MSG_ACCEPT, "offer", &acc, &alen)) {
		if (!m->error[0])
			tern_strlcpy(m->error, ch.error ? ch.error : "offer failed",
			             sizeof(m->error));
		goto failed_conn;
	}
	bool peer_syncs = alen >= 1 && (acc[0] & MIG_FEAT_SYNC); /* older peers: no payload */
	const char *err = NULL;
	if (vm_dirty_start(vm, &err) < 0) {
		tern_strlcpy(m->error, err, sizeof(m->error));
		goto failed_conn;
	}
	uint64_t *bm = kmalloc(BITMAP_WORDS(vm->mem.npages) * 8);
	struct mig_out o = {&ch, m, outbuf, 0, time_ns(), 0, enc};
	struct stream_out s;
	stream_out_init(&s, out_write, &o, recbuf, 64 * 1024, NULL);
	m->phase = MIG_PRECOPY;
	state_save_begin(vm, &s);
	if (!bm || precopy(&s, &o, vm, m, bm) < 0 || (peer_syncs && catch_up(&ch, m) < 0))
		goto failed_running;
	/* stop and copy */
	m->phase = MIG_STOPCOPY;
	m->t_pause = time_ns();
	if (vm_quiesce(vm) < 0) {
		tern_strlcpy(m->error, "the VM stopped during the migration", sizeof(m->error));
		goto failed_running;
	}
	/* bm still holds the pages the last pre-copy round found dirty (not sent yet): add
	 * what was written since, with every vCPU parked */
	m->t_parked = time_ns();
	uint64_t sent_before = ch.bytes_sent;
	vm_dirty_fetch(vm, bm);
	m->round++;
	if (send_pages(&s, &o, vm, bm, false) < 0)
		goto failed_paused;
	vdevs_save_disk_deltas(vm, &s); /* the disks' last writes */
	state_save_machine_ex(vm, &s, false);
	if (stream_finish(&s) < 0 || flush(&o) < 0 || (m->verify && send_verify(&ch, vm) < 0))
		goto failed_paused;
	m->bytes_sent = ch.bytes_sent;
	m->final_bytes = ch.bytes_sent - sent_before;
	m->t_sent = time_ns();
	if (m->verify)
		ksock_set_io_timeout(k, 300000); /* the destination checksums all of RAM first */
	if (!expect(&ch, m, MSG_STATE_OK, "final state"))
		goto failed_paused;
	m->t_state_ok = time_ns();
	/* the destination holds the complete VM: release it */
	m->phase = MIG_COMMITTING;
	ksock_set_io_timeout(k, COMMIT_TIMEOUT_MS);
	if (chan_send1(&ch, MSG_COMMIT, NULL, 0) < 0 || !expect(&ch, m, MSG_RUNNING, "commit")) {
		m->phase = MIG_INDOUBT; /* it may run there: never resume here on our own */
		m->t_end = time_ns();
		kprintf("migrate %s: IN DOUBT: committed but %s; the VM stays paused here "
		        "(check %s, then `vm resume` or `vm destroy`)\n",
		        m->vm_name, m->error, m->peer);
		vm->migrating = false;
		vm->state = VM_PAUSED;
		kfree(bm);
		ksock_abort(k);
		return;
	}
	m->t_end = time_ns();
	m->downtime_ms = (m->t_end - m->t_pause) / 1000000;
	kfree(bm);
	ksock_close(k);
	hand_over(vm, m);
	summary(m, &ch);
	return;
failed_paused:
	vm_unquiesce(vm);
failed_running:
	kfree(bm);
	vm->throttle_pct = 0;
	vm_dirty_stop(vm);
failed_conn:
	if (!m->error[0])
		tern_strlcpy(m->error,
		             m->cancel  ? "cancelled"
		             : ch.error ? ch.error
		                        : "failed",
		             sizeof(m->error));
	chan_send1(&ch, MSG_ABORT, m->error, strlen(m->error));
	ksock_abort(k);
failed_early:
	vm->throttle_pct = 0;
	vm->migrating = false;
	m->phase = MIG_FAILED;
	m->t_end = time_ns();
	kprintf("migrate %s: FAILED: %s; the VM keeps running here\n", m->vm_name, m->error);
}

/* source_thread: buffers, then run. */
static void source_thread(void *arg)
{
	struct migration *m = arg;
	uint8_t *chbuf = pmm_alloc_kva(CHAN_BUF_SIZE);
	uint8_t *outbuf = kmalloc(OUT_CHUNK);
	uint8_t *recbuf = kmalloc(64 * 1024);
	struct ram_enc *enc = kmalloc(sizeof(*enc));
	if (chbuf && outbuf && recbuf && enc) {
		ramrec_enc_init(enc, time_ns);
		run(m, chbuf, outbuf, recbuf, enc);
	} else {
		struct vm *vm = vm_find(m->vm_name);
		if (vm)
			vm->migrating = false;
		tern_strlcpy(m->error, "out of memory", sizeof(m->error));
		m->phase = MIG_FAILED;
	}
	pmm_free_kva(chbuf, CHAN_BUF_SIZE);
	kfree(outbuf);
	kfree(recbuf);
	kfree(enc);
}

/*
 * pick_cpu: where the migration thread runs. It compresses and encrypts all along, so it goes
 * to the CPU with the fewest of the other threads the migration keeps busy: the VM's vCPUs
 * (a busy guest would take half of a shared CPU; its share is the auto-converge's business)
 * and the network daemon, which carries the stream. Ties go to the lowest CPU: on a 2-CPU
 * host with the daemon on CPU 1, CPU 0 unless the guest is there and not on CPU 1.
 */
static int pick_cpu(struct vm *vm)
{
	int best = 0, best_load = 1 << 30;
	struct thread *net = __atomic_load_n(&netd.thread, __ATOMIC_ACQUIRE);
	for (int c = 0; c < ncpus; c++) {
		if (!cpus[c].online)
			continue;
		int load = net && net->cpu == c ? 1 : 0;
		for (int i = 0; i < vm->nvcpus; i++)
			load += vm->vcpu[i]->host_cpu == c;
		if (load < best_load)
			best = c, best_load = load;
	}
	return best;
}

int migrate_start(const char *name, const char *peer, uint64_t downtime_ms, uint64_t mbps,
                  bool verify, const char **err)
{
	struct vm *vm = vm_find(name);
	uint32_t ip;
	if (!vm) {
		*err = "no such VM";
		return -1;
	}
	if (vm->state != VM_RUNNING) {
		*err = "only a running VM can be migrated";
		return -1;
	}
	if (!peer_resolve(peer, &ip)) {
		*err = "unknown peer (a [peer NAME] of tern.conf or an IPv4 address)";
		return -1;
	}
	uint8_t key[KEYS_CLUSTER_KEY_SIZE];
	if (!peers_key(key)) {
		*err = "no cluster_key in tern.conf: hosts cannot authenticate each other";
		return -1;
	}
	crypto_wipe(key, sizeof(key));
	struct migration *m = migrate_slot(name, false);
	if (!m || vm->migrating) {
		*err = "this VM is already migrating (or too many migrations)";
		return -1;
	}
	tern_strlcpy(m->peer, peer, sizeof(m->peer));
	m->ip = ip;
	m->downtime_limit_ms = downtime_ms ? downtime_ms : MIG_DEFAULT_DOWNTIME;
	m->bandwidth = mbps * 1000000ULL / 8;
	m->ram_bytes = vm->cfg.mem_bytes;
	m->verify = verify;
	m->phase = MIG_CONNECTING;
	vm->migrating = true;
	if (!thread_create("migrate", source_thread, m, pick_cpu(vm))) {
		vm->migrating = false;
		m->phase = MIG_FAILED;
		*err = "cannot start the migration thread";
		return -1;
	}
	return 0;
}

int migrate_cancel(const char *name, const char **err)
{
	for (int i = 0; i < MIG_MAX; i++) {
		struct migration *m = &g_mig[i];
		if (m->used && !m->incoming && !strcmp(m->vm_name, name) &&
		    (m->phase == MIG_CONNECTING || m->phase == MIG_PRECOPY)) {
			m->cancel = true;
			return 0;
		}
	}
	*err = "no migration of that VM that can still be cancelled";
	return -1;
}
