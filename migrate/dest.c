/* The receiving side of a live migration; see migration.h. */
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/mmu.h"
#include "kernel/pmm.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "migrate/migration.h"
#include "migrate/offer.h"
#include "vmm/pvclock.h"
#include "vmm/stream.h"
#include "vmm/vm.h"

#define REC_BUF_ORDER     10   /* 4 MiB: the largest state record */
#define TSC_RATE_WARN_PPM 1000 /* 0.1%: worth a warning (a guest clock off by 86 s a day) */

/* The stream arrives as MSG_STREAM messages; the loader pulls bytes from them. */
struct in_src {
	struct chan *ch;
	const uint8_t *p;
	size_t left;
	const char *error;
	bool aborted;
};

/* in_read: exactly len stream bytes, fetching messages as needed; any other message ends it. */
static int in_read(void *ctx, void *buf, size_t len)
{
	struct in_src *s = ctx;
	uint8_t *out = buf;
	while (len) {
		if (!s->left) {
			uint8_t type;
			if (chan_recv(s->ch, &type, &s->p, &s->left) < 0) {
				s->error = s->ch->error;
				return -1;
			}
			if (type == MSG_SYNC) { /* all earlier stream bytes are loaded by now */
				if (chan_send1(s->ch, MSG_SYNCED, NULL, 0) < 0) {
					s->error = s->ch->error;
					return -1;
				}
				s->left = 0; /* a payload, if any, means nothing */
				continue;
			}
			if (type != MSG_STREAM) {
				s->aborted = type == MSG_ABORT;
				s->error = s->aborted ? "the source aborted" : "unexpected message";
				return -1;
			}
			continue;
		}
		size_t n = MIN(len, s->left);
		memcpy(out, s->p, n);
		out += n;
		s->p += n;
		s->left -= n;
		len -= n;
	}
	return 0;
}

/* refuse: tell the source why, log it. */
static void refuse(struct chan *ch, const char *vm, const char *why)
{
	klog("migrate: incoming %s refused: %s", vm, why);
	chan_send1(ch, MSG_ERROR, why, strlen(why));
}

/* accept_offer: validate the offer and create the (not yet started) VM. */
static struct vm *accept_offer(struct chan *ch, struct vm_config *c, uint64_t *uptime, bool *verify)
{
	uint8_t type;
	const uint8_t *d;
	size_t n;
	if (chan_recv(ch, &type, &d, &n) < 0 || type != MSG_OFFER) {
		klog("migrate: incoming connection from %s: no offer (%s)", ch->peer,
		     ch->error ? ch->error : "wrong message");
		return NULL;
	}
	const char *err = offer_parse(d, n, c, uptime, verify);
	if (err) {
		refuse(ch, "?", err);
		return NULL;
	}
	uint64_t khz = offer_tsc_khz(d, n), ppm = pvclock_rate_ppm(khz, tsc_hz / 1000);
	if (ppm > TSC_RATE_WARN_PPM) /* calibrations of one CPU model differ by ~200 ppm */
		klog("migrate: %s: warning: the source's TSC runs at %llu kHz, this host's at %llu "
		     "kHz (%llu ppm apart): without TSC scaling the guest's TSC clock will be off "
		     "by as much",
		     c->name, (unsigned long long)khz, (unsigned long long)(tsc_hz / 1000),
		     (unsigned long long)ppm);
	if (vm_find(c->name)) {
		refuse(ch, c->name, "a VM with that name exists on the destination");
		return NULL;
	}
	struct pmm_stats st;
	pmm_get_stats(&st);
	if (st.free < c->mem_bytes + (64ULL << 20)) {
		refuse(ch, c->name, "not enough free memory on the destination");
		return NULL;
	}
	c->autostart = false;
	if (vm_create(c, &err) < 0) {
		refuse(ch, c->name, err);
		return NULL;
	}
	return vm_find(c->name);
}

/* check_verify: compare the source's per-chunk checksums with the loaded RAM. */
static const char *check_verify(struct chan *ch, struct vm *vm)
{
	uint8_t type;
	const uint8_t *d;
	size_t n, bad = 0;
	if (chan_recv(ch, &type, &d, &n) < 0 || type != MSG_VERIFY || n != vm->mem.nchunks * 8)
		return "expected the memory checksums";
	for (size_t i = 0; i < vm->mem.nchunks; i++) {
		uint64_t want;
		memcpy(&want, d + i * 8, 8);
		if (gmem_chunk_sum(&vm->mem, i) != want) {
			if (bad++ < 8)
				klog("migrate: %s: memory chunk %zu (gpa chunk) differs from the "
				     "source",
				     vm->cfg.name, i);
		}
	}
	if (bad) {
		klog("migrate: %s: %zu of %llu memory chunks differ", vm->cfg.name, bad,
		     (unsigned long long)vm->mem.nchunks);
		return "memory verification failed: the received RAM differs from the source";
	}
	klog("migrate: %s: memory verified (%llu chunks)", vm->cfg.name,
	     (unsigned long long)vm->mem.nchunks);
	return NULL;
}

/* wait_commit: after STATE_OK, only a COMMIT lets the VM run; anything else discards it. */
static bool wait_commit(struct chan *ch)
{
	uint8_t type;
	const uint8_t *d;
	size_t n;
	return chan_recv(ch, &type, &d, &n) == 0 && type == MSG_COMMIT;
}

void migrate_receive(struct chan *ch)
{
	struct vm_config c;
	uint64_t uptime;
	bool verify;
	struct vm *vm = accept_offer(ch, &c, &uptime, &verify);
	uint64_t t_offer = time_ns();
	if (!vm)
		return;
	struct migration *m = migrate_slot(c.name, true);
	if (m) {
		tern_strlcpy(m->peer, ch->peer, sizeof(m->peer));
		m->phase = MIG_INCOMING;
		m->ram_bytes = c.mem_bytes;
	}
	const char *err = NULL;
	uint64_t rec_pa = pmm_alloc(REC_BUF_ORDER);
	static const uint8_t features = MIG_FEAT_SYNC;
	if (!rec_pa || chan_send1(ch, MSG_ACCEPT, &features, 1) < 0) {
		err = rec_pa ? ch->error : "out of memory";
		goto discard;
	}
	klog("migrate: receiving %s from %s", c.name, ch->peer);
	ch->clock = time_ns; /* profile: where the time goes (the `migrate:` log line) */
	uint64_t t_recv = time_ns();
	struct in_src src = {ch, NULL, 0, NULL, false};
	struct stream_in in;
	stream_in_init(&in, in_read, &src, P2V(rec_pa), PAGE_SIZE << REC_BUF_ORDER, NULL);
	if (vm_load_incoming(vm, &in, uptime, &err) < 0) {
		if (src.error)
			err = src.error;
		if (!src.aborted && !ch->error)
			chan_send1(ch, MSG_ERROR, err, strlen(err));
		goto discard;
	}
	uint64_t t_loaded = time_ns(); /* the downtime profile below */
	if (m)
		m->bytes_sent = ch->bytes_received;
	uint64_t t_all = t_loaded - t_recv;
	klog("migrate: %s: %llu MiB in %llu ms: waiting for data %llu ms, decrypting %llu ms, "
	     "loading %llu ms",
	     c.name, (unsigned long long)(ch->bytes_received >> 20),
	     (unsigned long long)(t_all / 1000000), (unsigned long long)(ch->io_ns / 1000000),
	     (unsigned long long)(ch->crypt_ns / 1000000),
	     (unsigned long long)((t_all - MIN(t_all, ch->io_ns + ch->crypt_ns)) / 1000000));
	if (verify && (err = check_verify(ch, vm))) {
		chan_send1(ch, MSG_ERROR, err, strlen(err));
		goto discard;
	}
	uint64_t t_checked = time_ns();
	if (chan_send1(ch, MSG_STATE_OK, NULL, 0) < 0 || !wait_commit(ch)) {
		err = "the source did not commit";
		goto discard;
	}
	uint64_t t_commit = time_ns();
	vm->run_ns = uptime + (time_ns() - t_offer); /* it ran on the source meanwhile */
	if (vm_commit_incoming(vm, &err) < 0)
		goto discard;
	uint64_t t_started = time_ns();
	chan_send1(ch, MSG_RUNNING, NULL, 0);
	klog(
	    "migrate: %s: handover here: checks %llu us, state OK to commit %llu us, start %llu us",
	    c.name, (unsigned long long)((t_checked - t_loaded) / 1000),
	    (unsigned long long)((t_commit - t_checked) / 1000),
	    (unsigned long long)((t_started - t_commit) / 1000));
	pmm_free(rec_pa, REC_BUF_ORDER);
	if (m) {
		m->phase = MIG_DONE;
		m->t_end = time_ns();
	}
	kprintf("migrate: %s now runs here (from %s)\n", c.name, ch->peer);
	return;
discard:
	if (rec_pa)
		pmm_free(rec_pa, REC_BUF_ORDER);
	const char *derr;
	vm_destroy(vm, &derr); /* nothing of the half-received VM stays */
	if (m) {
		m->phase = MIG_FAILED;
		m->t_end = time_ns();
		tern_strlcpy(m->error, err ? err : "failed", sizeof(m->error));
	}
	klog("migrate: incoming %s discarded: %s", c.name, m ? m->error : "failed");
}
