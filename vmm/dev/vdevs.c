/* A VM's virtio devices: configuration, lifecycle, state records; see vdevs.h. */
#include "vmm/dev/vdevs.h"
#include "kernel/args.h"
#include "kernel/bitmap.h"
#include "kernel/bootfs.h"
#include "kernel/endian.h"
#include "kernel/fmt.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/mmu.h"
#include "kernel/pmm.h"
#include "kernel/shell.h"
#include "kernel/string.h"
#include "vmm/stream.h"
#include "vmm/vm.h"

#define VDEVS_MAX (VM_MAX_DISKS + 2)

/* Disk-record fields (after VDEV_F_KIND / VDEV_F_INDEX). */
#define DF_SIZE        3 /* disk header: size in bytes */
#define DF_FIRST       3 /* disk run: first 4 KiB block (extent aligned) */
#define DF_COUNT       4 /* blocks in the run (<= 512) */
#define DF_ZERO        5 /* bitmap of the run's all-zero blocks (64 bytes) */
#define DF_BLOCK       6 /* one non-zero block (4096 bytes), in order */
#define DF_MASK        7 /* disk delta: bitmap of the blocks it carries (64 bytes) */
#define ZERO_MAP_BYTES (VDISK_BLOCKS_PER_EXTENT / 8)

struct vm_vdevs {
	int ndisks;
	struct vdisk disk[VM_MAX_DISKS];
	bool restoring[VM_MAX_DISKS]; /* a restore zeroed the disk: its runs may follow */
	int ndev;
	struct vdev *dev[VDEVS_MAX];
	struct vdev *con;
};

/* ---- disk memory -------------------------------------------------------------------------- */

static void *disk_alloc(void *ctx, size_t size)
{
	(void)ctx;
	if (size == VDISK_EXTENT) {
		uint64_t pa = pmm_alloc_zeroed(VDISK_EXTENT_SHIFT - PAGE_SHIFT);
		return pa ? P2V(pa) : NULL;
	}
	return kzalloc(size);
}

static void disk_free(void *ctx, void *p, size_t size)
{
	(void)ctx;
	if (size == VDISK_EXTENT)
		pmm_free(V2P(p), VDISK_EXTENT_SHIFT - PAGE_SHIFT);
	else
		kfree(p);
}

static const struct vdisk_ops g_disk_ops = {disk_alloc, disk_free, NULL};

/* ---- lifecycle ---------------------------------------------------------------------------- */

int vdevs_create(struct vm *vm, const char **err)
{
	struct vm_vdevs *v = kzalloc(sizeof(*v));
	if (!v) {
		*err = "out of memory";
		return -1;
	}
	vm->vdevs = v;
	for (int i = 0; i < vm->cfg.ndisks; i++) {
		const struct vm_disk_config *dc = &vm->cfg.disk[i];
		const struct bootfs_file *f = bootfs_find(dc->name);
		const char *e = vdisk_init(&v->disk[i], dc->size, f ? f->data : NULL,
		                           f ? f->size : 0, &g_disk_ops);
		if (e) {
			*err = e;
			vdevs_destroy(vm);
			return -1;
		}
		v->ndisks = i + 1;
	}
	return 0;
}

void vdevs_destroy(struct vm *vm)
{
	struct vm_vdevs *v = vm->vdevs;
	if (!v)
		return;
	vdevs_detach(vm);
	for (int i = 0; i < v->ndisks; i++)
		vdisk_free(&v->disk[i]);
	kfree(v);
	vm->vdevs = NULL;
}

/* default_mac: 52:54:00 and three bytes of the FNV-1a hash of the VM's name. */
static void default_mac(const char *name, uint8_t *mac)
{
	uint32_t h = 2166136261u;
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	mac[0] = 0x52, mac[1] = 0x54, mac[2] = 0x00;
	mac[3] = (uint8_t)(h >> 16), mac[4] = (uint8_t)(h >> 8), mac[5] = (uint8_t)h;
}

/* add: keep a created device and put it on the bus. */
static bool add(struct vm_vdevs *v, struct vdev *d)
{
	if (!d)
		return false;
	v->dev[v->ndev++] = d;
	return vdev_plug(d);
}

int vdevs_attach(struct vm *vm, const char **err)
{
	struct vm_vdevs *v = vm->vdevs;
	if (!v)
		return 0;
	vdevs_detach(vm);
	memset(v->restoring, 0, sizeof(v->restoring));
	const struct vm_config *c = &vm->cfg;
	bool ok = true;
	*err = NULL;
	for (int i = 0; ok && i < v->ndisks; i++)
		ok = add(v, vblk_create(vm, &v->disk[i], &c->disk[i], v->ndev));
	if (ok && c->nic) {
		uint8_t mac[6];
		if (c->mac_set)
			memcpy(mac, c->mac, 6);
		else
			default_mac(c->name, mac);
		ok = add(v, vnet_create(vm, mac, v->ndev, err));
	}
	if (ok && c->hvc)
		ok = add(v, v->con = vcon_create(vm, v->ndev));
	if (!ok) {
		if (!*err)
			*err = "cannot create the VM's virtio devices (out of memory or PCI slots)";
		vdevs_detach(vm);
		return -1;
	}
	return 0;
}

void vdevs_detach(struct vm *vm)
{
	struct vm_vdevs *v = vm->vdevs;
	if (!v)
		return;
	for (int i = 0; i < v->ndev; i++) {
		struct vdev *d = v->dev[i];
		if (vnet_is(d))
			vnet_destroy(d);
		else if (vblk_is(d))
			vblk_destroy(d);
		else
			vdev_destroy(d);
	}
	v->ndev = 0;
	v->con = NULL;
}

void vdevs_kick(struct vm *vm)
{
	struct vm_vdevs *v = vm->vdevs;
	for (int i = 0; v && i < v->ndev; i++)
		vdev_kick_all(v->dev[i]);
}

void vdevs_announce(struct vm *vm)
{
	struct vm_vdevs *v = vm->vdevs;
	for (int i = 0; v && i < v->ndev; i++)
		if (vnet_is(v->dev[i]))
			vnet_announce(v->dev[i]);
}

bool vdevs_has_console(struct vm *vm)
{
	return vm->vdevs && vm->vdevs->con;
}

size_t vdevs_console_input(struct vm *vm, const char *s, size_t n)
{
	if (!vdevs_has_console(vm))
		return 0;
	return vcon_input(vm->vdevs->con, s, n);
}

/* ---- state -------------------------------------------------------------------------------- */

/* raw_field / raw_u64: a field of a record streamed with stream_raw_header. */
static void raw_field(struct stream_out *s, uint16_t id, const void *val, uint16_t len)
{
	uint8_t h[FIELD_HDR_SIZE];
	le16_store(h, id);
	le16_store(h + 2, len);
	stream_bytes(s, h, sizeof(h));
	stream_bytes(s, val, len);
}

static void raw_u64(struct stream_out *s, uint16_t id, uint64_t v)
{
	uint8_t b[8];
	le64_store(b, v);
	raw_field(s, id, b, 8);
}

/* save_disk: a header record, then one run record per extent that holds non-zero blocks
 * (zero blocks are only marked, as for RAM). */
static void save_disk(struct stream_out *s, struct vdisk *d, int index)
{
	stream_begin(s, REC_DEVICE, 1);
	stream_u64(s, VDEV_F_KIND, VDEV_KIND_DISK);
	stream_u64(s, VDEV_F_INDEX, (uint64_t)index);
	stream_u64(s, DF_SIZE, d->size);
	stream_end_record(s);
	for (uint64_t e = 0; e < d->nextents && !s->err; e++) {
		const uint8_t *data = vdisk_extent_data(d, e);
		if (!data)
			continue;
		uint64_t first = e * VDISK_BLOCKS_PER_EXTENT;
		uint32_t count =
		    (uint32_t)MIN((uint64_t)VDISK_BLOCKS_PER_EXTENT, d->nblocks - first);
		uint8_t zero[ZERO_MAP_BYTES];
		uint32_t nonzero = 0;
		memset(zero, 0, sizeof(zero));
		for (uint32_t b = 0; b < count; b++) {
			if (mem_is_zero(data + (uint64_t)b * VDISK_BLOCK, VDISK_BLOCK))
				zero[b / 8] |= (uint8_t)(1u << (b % 8));
			else
				nonzero++;
		}
		if (!nonzero)
			continue;
		size_t len = 4 * (FIELD_HDR_SIZE + 8) + FIELD_HDR_SIZE + ZERO_MAP_BYTES +
		             (size_t)nonzero * (FIELD_HDR_SIZE + VDISK_BLOCK);
		stream_raw_header(s, REC_DEVICE, 1, len);
		raw_u64(s, VDEV_F_KIND, VDEV_KIND_DISK_RUN);
		raw_u64(s, VDEV_F_INDEX, (uint64_t)index);
		raw_u64(s, DF_FIRST, first);
		raw_u64(s, DF_COUNT, count);
		raw_field(s, DF_ZERO, zero, ZERO_MAP_BYTES);
		for (uint32_t b = 0; b < count; b++)
			if (!(zero[b / 8] >> (b % 8) & 1))
				raw_field(s, DF_BLOCK, data + (uint64_t)b * VDISK_BLOCK,
				          VDISK_BLOCK);
	}
}

/* block_data: block b of extent data (NULL: zeros) if it holds anything but zeros. */
static const uint8_t *block_data(const uint8_t *data, uint32_t b)
{
	const uint8_t *p = data ? data + (uint64_t)b * VDISK_BLOCK : NULL;
	return p && !mem_is_zero(p, VDISK_BLOCK) ? p : NULL;
}

/* save_disk_delta: one DISK_DELTA record per extent with blocks written since the last
 * fetch: DF_MASK (the blocks carried), DF_ZERO (those of them that are zero), then the data
 * of the others in order. Returns the data bytes sent. */
static uint64_t save_disk_delta(struct stream_out *s, struct vdisk *d, int index)
{
	uint64_t sent = 0;
	for (uint64_t e = 0; e < d->nextents && !s->err; e++) {
		uint64_t words[VDISK_BLOCKS_PER_EXTENT / 64] = {0};
		if (!vdisk_dirty_fetch_extent(d, e, words))
			continue;
		const uint8_t *data = vdisk_extent_data(d, e);
		uint64_t first = e * VDISK_BLOCKS_PER_EXTENT;
		uint32_t count =
		    (uint32_t)MIN((uint64_t)VDISK_BLOCKS_PER_EXTENT, d->nblocks - first);
		uint8_t mask[ZERO_MAP_BYTES] = {0}, zero[ZERO_MAP_BYTES] = {0};
		uint32_t ndata = 0;
		for (uint32_t b = 0; b < count; b++) {
			if (!(words[b / 64] >> (b % 64) & 1))
				continue;
			mask[b / 8] |= (uint8_t)(1u << (b % 8));
			if (block_data(data, b))
				ndata++;
			else
				zero[b / 8] |= (uint8_t)(1u << (b % 8));
		}
		size_t len = 4 * (FIELD_HDR_SIZE + 8) + 2 * (FIELD_HDR_SIZE + ZERO_MAP_BYTES) +
		             (size_t)ndata * (FIELD_HDR_SIZE + VDISK_BLOCK);
		stream_raw_header(s, REC_DEVICE, 1, len);
		raw_u64(s, VDEV_F_KIND, VDEV_KIND_DISK_DELTA);
		raw_u64(s, VDEV_F_INDEX, (uint64_t)index);
		raw_u64(s, DF_FIRST, first);
		raw_u64(s, DF_COUNT, count);
		raw_field(s, DF_MASK, mask, ZERO_MAP_BYTES);
		raw_field(s, DF_ZERO, zero, ZERO_MAP_BYTES);
		for (uint32_t b = 0; b < count; b++)
			if ((mask[b / 8] & ~zero[b / 8]) >> (b % 8) & 1)
				raw_field(s, DF_BLOCK, data + (uint64_t)b * VDISK_BLOCK,
				          VDISK_BLOCK);
		sent += (uint64_t)ndata * VDISK_BLOCK;
	}
	return sent;
}

void vdevs_save_devices(struct vm *vm, struct stream_out *s)
{
	struct vm_vdevs *v = vm->vdevs;
	for (int i = 0; v && i < v->ndev; i++)
		vdev_save(v->dev[i], s);
}

void vdevs_save_disks(struct vm *vm, struct stream_out *s)
{
	struct vm_vdevs *v = vm->vdevs;
	for (int i = 0; v && i < v->ndisks; i++)
		save_disk(s, &v->disk[i], i);
}

void vdevs_disks_dirty_clear(struct vm *vm)
{
	struct vm_vdevs *v = vm->vdevs;
	for (int i = 0; v && i < v->ndisks; i++) {
		for (uint64_t e = 0; e < v->disk[i].nextents; e++) {
			uint64_t scratch[BITMAP_WORDS(VDISK_BLOCKS_PER_EXTENT)];
			vdisk_dirty_fetch_extent(&v->disk[i], e, scratch);
		}
	}
}

uint64_t vdevs_save_disk_deltas(struct vm *vm, struct stream_out *s)
{
	struct vm_vdevs *v = vm->vdevs;
	uint64_t sent = 0;
	for (int i = 0; v && i < v->ndisks; i++)
		sent += save_disk_delta(s, &v->disk[i], i);
	return sent;
}

void vdevs_save(struct vm *vm, struct stream_out *s)
{
	vdevs_save_devices(vm, s);
	vdevs_save_disks(vm, s);
}

/* load_disk: a disk header: same size, contents zeroed until its runs arrive. */
static const char *load_disk(struct vm_vdevs *v, uint64_t index, const uint8_t *rec, uint32_t len)
{
	struct field_iter it;
	uint16_t id, fl;
	const uint8_t *val;
	uint64_t size = 0;
	if (index >= (uint64_t)v->ndisks)
		return "saved state has a disk this VM does not have";
	field_iter_init(&it, rec, len);
	while (field_next(&it, &id, &val, &fl))
		if (id == DF_SIZE && !field_u64(val, fl, &size))
			return "malformed disk record";
	if (it.bad)
		return "malformed disk record";
	struct vdisk *d = &v->disk[index];
	if (size != d->size)
		return "saved disk has a different size";
	vdisk_zero_all(d);
	v->restoring[index] = true;
	return NULL;
}

/* load_run: the non-zero blocks of one extent. */
static const char *load_run(struct vm_vdevs *v, uint64_t index, const uint8_t *rec, uint32_t len)
{
	struct field_iter it;
	uint16_t id, fl;
	const uint8_t *val;
	uint64_t first = ~0ULL, count = 0;
	const uint8_t *zero = NULL;
	uint32_t next =
	    0; /* the block the next data field fills is the first non-zero one >= next */
	if (index >= (uint64_t)v->ndisks || !v->restoring[index])
		return "disk data without its disk record";
	struct vdisk *d = &v->disk[index];
	field_iter_init(&it, rec, len);
	while (field_next(&it, &id, &val, &fl)) {
		if (id == DF_FIRST && !field_u64(val, fl, &first))
			return "malformed disk run";
		if (id == DF_COUNT && !field_u64(val, fl, &count))
			return "malformed disk run";
		if (id == DF_ZERO) {
			if (fl != ZERO_MAP_BYTES || first % VDISK_BLOCKS_PER_EXTENT ||
			    first >= d->nblocks || count == 0 || count > VDISK_BLOCKS_PER_EXTENT ||
			    count > d->nblocks - first)
				return "disk run outside the disk";
			zero = val;
		}
		if (id != DF_BLOCK)
			continue;
		while (zero && next < count && (zero[next / 8] >> (next % 8) & 1))
			next++;
		if (!zero || next >= count || fl != VDISK_BLOCK)
			return "disk run with more data than its map";
		uint64_t off = (first + next) * VDISK_BLOCK;
		if (!vdisk_write(d, off, val, MIN((uint64_t)VDISK_BLOCK, d->size - off)))
			return "out of memory for the restored disk";
		next++;
	}
	while (zero && next < count && (zero[next / 8] >> (next % 8) & 1))
		next++;
	if (it.bad || !zero || next != count)
		return "malformed disk run";
	vdisk_settle_extent(d, first / VDISK_BLOCKS_PER_EXTENT);
	return NULL;
}

/* delta_skip: from block *next of a delta, write the carried zero blocks and pass the ones
 * not carried, up to the next carried data block (or count). */
static const char *delta_skip(struct vdisk *d, uint64_t first, const uint8_t *mask,
                              const uint8_t *zero, uint32_t *next, uint64_t count)
{
	static const uint8_t zeros[VDISK_BLOCK];
	for (; *next < count; (*next)++) {
		uint32_t b = *next;
		bool carried = mask[b / 8] >> (b % 8) & 1, is_zero = zero[b / 8] >> (b % 8) & 1;
		if (carried && !is_zero)
			return NULL;
		uint64_t off = (first + b) * VDISK_BLOCK;
		if (is_zero &&
		    !vdisk_write(d, off, zeros, MIN((uint64_t)VDISK_BLOCK, d->size - off)))
			return "out of memory for the incoming disk";
	}
	return NULL;
}

/* load_delta: blocks written on the source since its last pass (see save_disk_delta). */
static const char *load_delta(struct vm_vdevs *v, uint64_t index, const uint8_t *rec, uint32_t len)
{
	struct field_iter it;
	uint16_t id, fl;
	const uint8_t *val, *mask = NULL, *zero = NULL;
	uint64_t first = ~0ULL, count = 0;
	uint32_t next = 0; /* the block the next data field fills is the first carried one >= */
	const char *err;
	if (index >= (uint64_t)v->ndisks || !v->restoring[index])
		return "disk data without its disk record";
	struct vdisk *d = &v->disk[index];
	field_iter_init(&it, rec, len);
	while (field_next(&it, &id, &val, &fl)) {
		if ((id == DF_FIRST && !field_u64(val, fl, &first)) ||
		    (id == DF_COUNT && !field_u64(val, fl, &count)))
			return "malformed disk delta";
		if (id == DF_MASK || (id == DF_ZERO && mask && !zero)) {
			if (fl != ZERO_MAP_BYTES || first % VDISK_BLOCKS_PER_EXTENT ||
			    first >= d->nblocks || count == 0 || count > VDISK_BLOCKS_PER_EXTENT ||
			    count > d->nblocks - first || (id == DF_MASK && mask))
				return "disk delta outside the disk";
			if (id == DF_MASK) {
				mask = val;
				continue;
			}
			for (unsigned i = 0; i < ZERO_MAP_BYTES; i++)
				if (val[i] & ~mask[i])
					return "malformed disk delta"; /* zero blocks not carried */
			zero = val;
			if ((err = delta_skip(d, first, mask, zero, &next, count)))
				return err;
			continue;
		}
		if (id != DF_BLOCK)
			continue;
		if (!zero || next >= count || fl != VDISK_BLOCK)
			return "disk delta with more data than its map";
		uint64_t off = (first + next) * VDISK_BLOCK;
		if (!vdisk_write(d, off, val, MIN((uint64_t)VDISK_BLOCK, d->size - off)))
			return "out of memory for the incoming disk";
		next++;
		if ((err = delta_skip(d, first, mask, zero, &next, count)))
			return err;
	}
	if (it.bad || !zero || next != count)
		return "malformed disk delta";
	vdisk_settle_extent(d, first / VDISK_BLOCKS_PER_EXTENT);
	return NULL;
}

const char *vdevs_load(struct vm *vm, const uint8_t *rec, uint32_t len)
{
	struct vm_vdevs *v = vm->vdevs;
	struct field_iter it;
	uint16_t id, fl;
	const uint8_t *val;
	uint64_t kind = 0, index = ~0ULL;
	field_iter_init(&it, rec, len);
	while (field_next(&it, &id, &val, &fl) && (!kind || index == ~0ULL)) {
		if (id == VDEV_F_KIND && !field_u64(val, fl, &kind))
			return "malformed device record";
		if (id == VDEV_F_INDEX && !field_u64(val, fl, &index))
			return "malformed device record";
	}
	if (it.bad || !v)
		return it.bad ? "malformed device record"
		              : "saved state has virtio devices this VM has not";
	if (kind == VDEV_KIND_DISK)
		return load_disk(v, index, rec, len);
	if (kind == VDEV_KIND_DISK_RUN)
		return load_run(v, index, rec, len);
	if (kind == VDEV_KIND_DISK_DELTA)
		return load_delta(v, index, rec, len);
	if (kind != VDEV_KIND_TRANSPORT)
		return "unknown device record";
	for (int i = 0; i < v->ndev; i++)
		if ((uint64_t)v->dev[i]->index == index)
			return vdev_load(v->dev[i], rec, len);
	return "saved state has a virtio device this VM has not (disk/nic/hvc settings differ)";
}

/* ---- configuration ----------------------------------------------------------------------- */

bool vdevs_config_key(const char *key)
{
	return !strcmp(key, "disk") || !strcmp(key, "nic") || !strcmp(key, "mac") ||
	       !strcmp(key, "hvc");
}

/* file_name_ok: a boot-stick file name or disk label: [A-Za-z0-9_.-]+ */
static bool file_name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

/* parse_disk: NAME[,size=SIZE][,ro][,serial=ID] */
static const char *parse_disk(struct vm_config *c, const char *value)
{
	char buf[160];
	if (c->ndisks >= VM_MAX_DISKS)
		return "at most 4 disks";
	if (strlen(value) >= sizeof(buf))
		return "disk setting too long";
	tern_strlcpy(buf, value, sizeof(buf));
	struct vm_disk_config dc;
	memset(&dc, 0, sizeof(dc));
	char *opt = strchr(buf, ',');
	if (opt)
		*opt++ = 0;
	if (!file_name_ok(buf) || strlen(buf) >= VM_FILE_MAX)
		return "disk=NAME[,size=SIZE][,ro][,serial=ID]: NAME is a file from `files` or a "
		       "label";
	tern_strlcpy(dc.name, buf, sizeof(dc.name));
	tern_strlcpy(dc.serial, buf, sizeof(dc.serial));
	while (opt && *opt) {
		char *next = strchr(opt, ',');
		if (next)
			*next++ = 0;
		const char *v;
		if (!strcmp(opt, "ro")) {
			dc.ro = true;
		} else if ((v = kv_match(opt, "size"))) {
			if (!parse_size(v, &dc.size) || !dc.size || dc.size % VDISK_SECTOR ||
			    dc.size > VDISK_MAX_SIZE)
				return "disk size must be a multiple of 512 bytes, at most 64G "
				       "(e.g. 1G)";
		} else if ((v = kv_match(opt, "serial"))) {
			if (!*v || strlen(v) > 20)
				return "disk serial must be 1-20 characters";
			memset(dc.serial, 0, sizeof(dc.serial));
			tern_strlcpy(dc.serial, v, sizeof(dc.serial));
		} else {
			return "unknown disk option (size=, ro, serial=)";
		}
		opt = next;
	}
	const struct bootfs_file *f = bootfs_find(dc.name);
	if (!f && !dc.size)
		return "no such file on the boot stick (see `files`); add size= for an empty disk";
	if (f && dc.size && dc.size < f->size)
		return "disk size is smaller than the file";
	if (!f && dc.ro)
		return "a read-only empty disk is useless";
	c->disk[c->ndisks++] = dc;
	return NULL;
}

/* parse_mac: xx:xx:xx:xx:xx:xx, unicast, not all zero. */
static bool parse_mac(const char *s, uint8_t *mac)
{
	for (int i = 0; i < 6; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++, s++) {
			char ch = *s;
			int d = ch >= '0' && ch <= '9'   ? ch - '0'
			        : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			        : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
			                                 : -1;
			if (d < 0)
				return false;
			v = v * 16 + (unsigned)d;
		}
		mac[i] = (uint8_t)v;
		if (*s != (i == 5 ? 0 : ':'))
			return false;
		s += i < 5;
	}
	return !(mac[0] & 1) && !mem_is_zero(mac, 6);
}

const char *vdevs_config_set(struct vm_config *c, const char *key, const char *value)
{
	bool b;
	if (!strcmp(key, "disk"))
		return parse_disk(c, value);
	if (!strcmp(key, "mac")) {
		if (!parse_mac(value, c->mac))
			return "mac must be a unicast address like 52:54:00:12:34:56";
		c->mac_set = c->nic = true;
		return NULL;
	}
	if (!parse_bool(value, &b))
		return "must be on or off";
	if (!strcmp(key, "nic"))
		c->nic = b;
	else
		c->hvc = b;
	return NULL;
}

int vdevs_config_lines(struct vm *vm, char (*lines)[VDEVS_LINE], int max)
{
	const struct vm_config *c = &vm->cfg;
	int n = 0;
	for (int i = 0; i < c->ndisks && n < max; i++) {
		uint64_t size = vm->vdevs ? vm->vdevs->disk[i].size : c->disk[i].size;
		fmt_snprintf(lines[n++], VDEVS_LINE, "disk=%s,size=%llu%s,serial=%s",
		             c->disk[i].name, (unsigned long long)size, c->disk[i].ro ? ",ro" : "",
		             c->disk[i].serial);
	}
	if (c->nic && n < max) {
		uint8_t m[6];
		if (c->mac_set)
			memcpy(m, c->mac, 6);
		else
			default_mac(c->name, m);
		fmt_snprintf(lines[n++], VDEVS_LINE, "mac=%02x:%02x:%02x:%02x:%02x:%02x", m[0],
		             m[1], m[2], m[3], m[4], m[5]);
	}
	if (c->hvc && n < max)
		fmt_snprintf(lines[n++], VDEVS_LINE, "hvc=on");
	return n;
}

/* ---- reports ------------------------------------------------------------------------------- */

static const char *dev_state(const struct vdev *d)
{
	if (d->broken)
		return "broken (needs reset)";
	if (vdev_live(d))
		return "driver ready";
	return d->status ? "driver initialising" : "no driver";
}

void vdevs_info(struct vm *vm)
{
	struct vm_vdevs *v = vm->vdevs;
	if (!v)
		return;
	for (int i = 0; i < v->ndisks; i++) {
		const struct vm_disk_config *dc = &vm->cfg.disk[i];
		char sz[16], priv[16];
		format_size(v->disk[i].size, sz, sizeof(sz));
		format_size(v->disk[i].priv_extents * VDISK_EXTENT, priv, sizeof(priv));
		kprintf("disk vd%c:  %s, %s, %s, serial %s, %s in host memory\n", 'a' + i, dc->name,
		        sz, dc->ro ? "read-only" : "read-write", dc->serial, priv);
	}
	if (vm->cfg.nic)
		kprintf("nic:      virtio-net on the host switch\n");
	if (vm->cfg.hvc)
		kprintf("hvc:      virtio-console (input: vm console %s hvc)\n", vm->cfg.name);
	for (int i = 0; i < v->ndev; i++) {
		const struct vdev *d = v->dev[i];
		kprintf("virtio %d: %s at 00:%02x.0, %s, %llu notifies, %llu interrupts", i,
		        d->ops->name, d->pci.slot, dev_state(d), (unsigned long long)d->st.notifies,
		        (unsigned long long)d->st.irqs);
		if (vblk_is(d)) {
			const struct vblk_stats *s = vblk_stats(d);
			kprintf("; %llu reads (%llu KiB), %llu writes (%llu KiB), %llu flushes, "
			        "%llu errors",
			        (unsigned long long)s->reads,
			        (unsigned long long)(s->bytes_read >> 10),
			        (unsigned long long)s->writes,
			        (unsigned long long)(s->bytes_written >> 10),
			        (unsigned long long)s->flushes,
			        (unsigned long long)(s->errors + s->malformed));
		} else if (vnet_is(d)) {
			int port;
			const uint8_t *m;
			const struct vnet_stats *s = vnet_stats(d, &port, &m);
			kprintf(
			    "; mac %02x:%02x:%02x:%02x:%02x:%02x, switch port %d, rx %llu, tx "
			    "%llu, "
			    "dropped %llu",
			    m[0], m[1], m[2], m[3], m[4], m[5], port,
			    (unsigned long long)s->rx_packets, (unsigned long long)s->tx_packets,
			    (unsigned long long)(s->rx_dropped + s->rx_small_buffer + s->tx_bad));
		}
		kprintf("\n");
	}
}

/* cmd_vmdisk: `vm-disk NAME [dirty]`: the VM's disks, or fetch-and-clear their dirty blocks. */
static int cmd_vmdisk(int argc, char **argv)
{
	const char *usage = "vm-disk NAME [dirty]";
	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "dirty")))
		return shell_usage(usage);
	struct vm *vm = vm_find(argv[1]);
	if (!vm)
		return shell_error("no VM named '%s'", argv[1]);
	struct vm_vdevs *v = vm->vdevs;
	if (!v || !v->ndisks)
		return shell_error("%s has no disks", argv[1]);
	for (int i = 0; i < v->ndisks; i++) {
		struct vdisk *d = &v->disk[i];
		char sz[16];
		format_size(d->size, sz, sizeof(sz));
		if (argc == 2) {
			kprintf("vd%c %s %s, %llu of %llu extents private\n", 'a' + i,
			        vm->cfg.disk[i].name, sz, (unsigned long long)d->priv_extents,
			        (unsigned long long)d->nextents);
			continue;
		}
		uint64_t *bm = kzalloc(BITMAP_WORDS(d->nblocks) * 8);
		if (!bm)
			return shell_error("out of memory");
		uint64_t n = vdisk_dirty_fetch(d, bm);
		kfree(bm);
		kprintf("vd%c: %llu dirty blocks (%llu KiB) since the last fetch\n", 'a' + i,
		        (unsigned long long)n, (unsigned long long)(n * 4));
	}
	return 0;
}
SHELL_COMMAND(vmdisk, "vm-disk", "vm-disk NAME [dirty]",
              "a VM's disks; `dirty` fetches and clears their written 4 KiB blocks", cmd_vmdisk);
