/* Checkpoint bookkeeping, validation and standby choice; see ckpt.h. */
#include "ha/ckpt.h"
#include "kernel/panic.h"
#include "kernel/string.h"
#include "vmm/stream.h"

#define RAM_RUN_MAX    512 /* STATE_RAM_RUN */
#define VDEV_F_KIND    1   /* vmm/dev/virtio_pci.h */
#define VDEV_KIND_DISK 2
#define VDEV_KIND_RUN  3
#define FIELD_VCPU_ID  100 /* vCPU id field of REC_VCPU and REC_LAPIC (vmm/state.c) */
#define FIELD_VM_MEM   1
#define FIELD_VM_VCPUS 2

void ckpt_track_init(struct ckpt_track *t)
{
	t->epoch = 1;
	t->sent = 0;
	t->acked = 0;
}

uint64_t ckpt_close_epoch(struct ckpt_track *t)
{
	ASSERT(t->sent == 0); /* one checkpoint in flight at a time */
	t->sent = t->epoch++;
	return t->sent;
}

bool ckpt_ack(struct ckpt_track *t, uint64_t seq)
{
	if (!t->sent || seq != t->sent)
		return false;
	t->acked = seq;
	t->sent = 0;
	return true;
}

void ckpt_abandon(struct ckpt_track *t)
{
	t->sent = 0;
}

bool ckpt_next_seq_ok(uint64_t last_applied, uint64_t seq)
{
	return seq != 0 && seq != ~0ULL && seq > last_applied;
}

/* fields_ok: the payload is a well-formed field list; *id_val gets field want_id if present. */
static bool fields_ok(const uint8_t *rec, uint32_t len, uint16_t want_id, uint64_t *id_val)
{
	struct field_iter it;
	uint16_t id, fl;
	const uint8_t *val;
	field_iter_init(&it, rec, len);
	while (field_next(&it, &id, &val, &fl))
		if (id == want_id && id_val && !field_u64(val, fl, id_val))
			return false;
	return !it.bad;
}

/* check_ram: a RAM run inside guest memory whose length matches its zero map. */
static const char *check_ram(const struct ckpt_shape *sh, const uint8_t *rec, uint32_t len)
{
	uint64_t first;
	uint32_t count;
	if (len < 16)
		return "RAM record too short";
	memcpy(&first, rec, 8);
	memcpy(&count, rec + 8, 4);
	if (count == 0 || count > RAM_RUN_MAX || first >= sh->npages || count > sh->npages - first)
		return "RAM record outside guest memory";
	size_t hl = 16 + ((size_t)(count + 63) / 64) * 8;
	if (len < hl)
		return "RAM record too short";
	size_t nonzero = 0;
	for (uint32_t i = 0; i < count; i++) {
		uint64_t w;
		memcpy(&w, rec + 16 + (i / 64) * 8, 8);
		nonzero += !((w >> (i % 64)) & 1);
	}
	if ((uint64_t)len != hl + (uint64_t)nonzero * 4096)
		return "RAM record length does not match its pages";
	return NULL;
}

/* check_vm: the VM record names this replica's shape. */
static const char *check_vm(const struct ckpt_shape *sh, const uint8_t *rec, uint32_t len)
{
	uint64_t mem = 0, n = 0;
	if (!fields_ok(rec, len, FIELD_VM_MEM, &mem) || !fields_ok(rec, len, FIELD_VM_VCPUS, &n))
		return "malformed VM record";
	if (mem != sh->mem_bytes || n != sh->nvcpus)
		return "checkpoint of a VM of another shape";
	return NULL;
}

/* check_device: transport records only; disk records would replace a whole disk. */
static const char *check_device(const uint8_t *rec, uint32_t len)
{
	uint64_t kind = 0;
	if (!fields_ok(rec, len, VDEV_F_KIND, &kind))
		return "malformed device record";
	if (kind == VDEV_KIND_DISK || kind == VDEV_KIND_RUN)
		return "disk contents in an incremental checkpoint";
	return NULL;
}

const char *ckpt_check_record(const struct ckpt_shape *sh, uint16_t type, uint16_t version,
                              const uint8_t *rec, uint32_t len)
{
	uint64_t id = ~0ULL;
	if (version != 1)
		return "unsupported record version";
	switch (type) {
	case REC_VM:
		return check_vm(sh, rec, len);
	case REC_RAM:
		return check_ram(sh, rec, len);
	case REC_FPU:
		if (len != 8 + (uint64_t)sh->fpu_size)
			return "FPU record of another size";
		memcpy(&id, rec, 8);
		return id < sh->nvcpus ? NULL : "FPU record for a vCPU the VM has not";
	case REC_VCPU:
	case REC_LAPIC:
		if (!fields_ok(rec, len, FIELD_VCPU_ID, &id))
			return "malformed vCPU record";
		return id < sh->nvcpus ? NULL : "vCPU record for a vCPU the VM has not";
	case REC_DEVICE:
		return check_device(rec, len);
	case REC_IOAPIC:
	case REC_PIC:
	case REC_PIT:
	case REC_RTC:
	case REC_UART:
	case REC_ACPI_PM:
	case REC_PCI:
		return fields_ok(rec, len, 0xffff, NULL) ? NULL : "malformed device record";
	default:
		return "unexpected record in a checkpoint";
	}
}

/* name_hash: FNV-1a of a NUL-terminated name. */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* eligible: may member i hold a replica? */
static bool eligible(const struct ha_member_info *m, const char *const *avoid, int navoid)
{
	if (m->self || !m->alive || m->maintenance || !m->name[0])
		return false;
	for (int i = 0; i < navoid; i++)
		if (avoid[i] && !strcmp(avoid[i], m->name))
			return false;
	return true;
}

int ha_pick_standby(const struct ha_member_info *m, int n, const char *vm, const char *const *avoid,
                    int navoid)
{
	int cand = 0;
	for (int i = 0; i < n; i++)
		cand += eligible(&m[i], avoid, navoid);
	if (!cand)
		return -1;
	/* the k-th candidate in name order, k from the VM's name: stable and spread out */
	uint32_t k = name_hash(vm) % (uint32_t)cand;
	const char *prev = "";
	for (uint32_t rank = 0;; rank++) {
		int best = -1;
		for (int i = 0; i < n; i++) {
			if (!eligible(&m[i], avoid, navoid) || strcmp(m[i].name, prev) <= 0)
				continue;
			if (best < 0 || strcmp(m[i].name, m[best].name) < 0)
				best = i;
		}
		if (best < 0)
			return -1; /* duplicate names: fewer distinct candidates than counted */
		if (rank == k)
			return best;
		prev = m[best].name;
	}
}
