/*
 * virtio-console device model (virtio v1.2 section 5.3): one port, no multiport, no size: the
 * guest's hvc0. What the guest writes goes into the VM's console buffer (vmm/gconsole.c), the
 * same place as its serial port's output, so `vm console` shows both; input typed at
 * `vm console NAME hvc` goes into the receive queue (see vcon_input).
 */
#include "vmm/dev/vdevs.h"
#include "kernel/heap.h"
#include "kernel/string.h"
#include "vmm/gconsole.h"
#include "vmm/vm.h"

#define RXQ      0
#define TXQ      1
#define QSIZE    128
#define CFG_SIZE 12 /* cols, rows, max_nr_ports, emerg_wr */
#define BOUNCE   256

static void con_cfg(struct vdev *d, uint8_t *c)
{
	(void)d;
	memset(c, 0, CFG_SIZE);
}

/* con_tx: everything the chain carries goes to the VM console. */
static uint32_t con_tx(struct vdev *d, unsigned q, struct virtq_chain *c)
{
	struct gmem *m = &d->vm->mem;
	struct virtq_iter it;
	uint64_t gpa, n;
	(void)q;
	virtq_iter_init(&it, c, false, 0);
	while (virtq_iter_next(&it, BOUNCE, &gpa, &n)) {
		const char *p = gmem_hva(m, gpa, n);
		char buf[BOUNCE];
		if (!p) { /* crosses a chunk edge */
			if (!gmem_read(m, gpa, buf, n))
				break;
			p = buf;
		}
		gconsole_output(d->vm, p, n);
	}
	return 0;
}

static void con_notify(struct vdev *d, unsigned q)
{
	if (q == TXQ)
		vdev_process(d, TXQ, con_tx);
	/* receive buffers are taken when input arrives */
}

static const struct vdev_ops g_con_ops = {
    .name = "virtio-console",
    .type = VIRTIO_ID_CONSOLE,
    .class_rev = 0x07800001, /* simple communication / other, revision 1 */
    .nqueues = 2,
    .qsize = QSIZE,
    .cfg_size = CFG_SIZE,
    .cfg_read = con_cfg,
    .notify = con_notify,
};

struct vdev *vcon_create(struct vm *vm, int index)
{
	return vdev_create(vm, &g_con_ops, 0, NULL, index);
}

bool vcon_is(const struct vdev *d)
{
	return d->ops == &g_con_ops;
}

size_t vcon_input(struct vdev *d, const char *s, size_t n)
{
	size_t done = 0;
	spin_lock(&d->qlock[RXQ]);
	while (done < n && vdev_live(d) && d->vq[RXQ].ready && !vdev_stopping(d)) {
		struct virtq_chain *c = &d->chain[RXQ];
		int rc = virtq_pop(&d->vq[RXQ], c);
		if (rc < 0)
			vdev_fail(d, RXQ, rc);
		if (rc <= 0)
			break;
		size_t k = virtq_write(&d->vm->mem, c, 0, s + done, n - done);
		virtq_push(&d->vq[RXQ], c->head, (uint32_t)k);
		done += k;
		if (!k)
			break; /* a buffer without room: returned empty */
	}
	vdev_queue_done(d, RXQ);
	spin_unlock(&d->qlock[RXQ]);
	return done;
}
