/* Output commit for HA guests (Remus): see ha/outbuf.h and ha/replica.h. */
#include "ha/output.h"
#include "ha/replica.h"
#include "kernel/panic.h"
#include "vmm/dev/hostswitch.h"
#include "vmm/vm.h"

#define IOV_MAX 32 /* virtio-net's TX_IOV */

bool ha_out_hold(struct vm *vm, int port, const struct vsw_iov *iov, unsigned cnt, size_t len)
{
	struct ha_guest *g = vm->ha;
	const void *piece[IOV_MAX];
	size_t plen[IOV_MAX];
	if (!g || cnt > IOV_MAX)
		return false;
	for (unsigned i = 0; i < cnt; i++)
		piece[i] = iov[i].base, plen[i] = iov[i].len;
	spin_lock(&g->lock);
	bool hold = g->holding;
	if (hold)
		outbuf_push(&g->out, g->t.epoch, port, piece, plen, cnt, len);
	spin_unlock(&g->lock);
	return hold;
}

/* ha_out_release: frames whose checkpoint is acknowledged go to the switch, in order; only
 * the guest's replication thread calls this, so frames never overtake each other. */
void ha_out_release(struct ha_guest *g, bool all)
{
	struct outbuf_slot s;
	struct vm *vm = vm_find(g->name);
	for (;;) {
		spin_lock(&g->lock);
		bool got = outbuf_pop_ready(&g->out, all ? ~0ULL : g->t.acked, &s);
		spin_unlock(&g->lock);
		if (!got)
			return;
		if (!vm || vm->ha != g || (vm->state != VM_RUNNING && vm->state != VM_PAUSED))
			continue; /* the guest's switch port is gone: drop */
		struct vsw_iov v = {s.data, s.len};
		hostsw_input(s.port, &v, 1, s.len);
	}
}
