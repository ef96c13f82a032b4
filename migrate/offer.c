/* Migration offers; see offer.h. Every field from the wire is checked before use. */
#include "migrate/offer.h"
#include "kernel/args.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "vmm/dev/vdevs.h"
#include "vmm/stream.h"
#include "vmm/vm.h"

enum {
	F_NAME = 1,
	F_MEM,
	F_VCPUS,
	F_KERNEL,
	F_INITRD,
	F_CMDLINE,
	F_UPTIME,
	F_VERIFY,
	F_VDEV,
	F_HA,
	F_TSC_KHZ /* the source host's TSC rate: the guest's TSC runs at it */
};
/* F_VDEV (repeated): one `key=value` virtio setting (disk/mac/hvc, see vdevs_config_lines) */

static int null_write(void *ctx, const void *b, size_t n)
{
	(void)ctx, (void)b, (void)n;
	return 0;
}

size_t offer_build(struct vm *vm, bool verify, uint8_t *buf, size_t cap)
{
	struct stream_out s;
	stream_out_init(&s, null_write, NULL, buf, cap, NULL);
	stream_begin(&s, 0, 1);
	struct vm_config *c = &vm->cfg;
	stream_field(&s, F_NAME, c->name, (uint16_t)strlen(c->name));
	stream_u64(&s, F_MEM, c->mem_bytes);
	stream_u64(&s, F_VCPUS, (uint64_t)c->vcpus);
	stream_field(&s, F_KERNEL, c->kernel, (uint16_t)strlen(c->kernel));
	stream_field(&s, F_INITRD, c->initrd, (uint16_t)strlen(c->initrd));
	stream_field(&s, F_CMDLINE, c->cmdline, (uint16_t)strlen(c->cmdline));
	stream_u64(&s, F_UPTIME, vm_uptime_ns(vm));
	stream_u64(&s, F_VERIFY, verify);
	if (c->ha)
		stream_u64(&s, F_HA, 1); /* an HA guest stays one on the destination */
	stream_u64(&s, F_TSC_KHZ, tsc_hz / 1000);
	char lines[VM_MAX_DISKS + 2][VDEVS_LINE];
	int nl = vdevs_config_lines(vm, lines, VM_MAX_DISKS + 2);
	for (int i = 0; i < nl; i++)
		stream_field(&s, F_VDEV, lines[i], (uint16_t)strlen(lines[i]));
	return s.err ? 0 : s.rec_len;
}

/* copy_str: a string field into dst (cap bytes incl. the terminator), printable only. */
static bool copy_str(char *dst, size_t cap, const uint8_t *v, uint16_t len)
{
	if (len >= cap)
		return false;
	for (uint16_t i = 0; i < len; i++)
		if (v[i] < 0x20 || v[i] > 0x7e)
			return false;
	memcpy(dst, v, len);
	dst[len] = 0;
	return true;
}

const char *offer_parse(const uint8_t *buf, size_t len, struct vm_config *c, uint64_t *uptime,
                        bool *verify)
{
	struct field_iter it;
	uint16_t id, fl;
	const uint8_t *v;
	uint64_t n;
	memset(c, 0, sizeof(*c));
	*uptime = 0;
	*verify = false;
	field_iter_init(&it, buf, len);
	while (field_next(&it, &id, &v, &fl)) {
		bool ok = true;
		switch (id) {
		case F_NAME:
			ok = copy_str(c->name, sizeof(c->name), v, fl);
			break;
		case F_KERNEL:
			ok = copy_str(c->kernel, sizeof(c->kernel), v, fl);
			break;
		case F_INITRD:
			ok = copy_str(c->initrd, sizeof(c->initrd), v, fl);
			break;
		case F_CMDLINE:
			ok = copy_str(c->cmdline, sizeof(c->cmdline), v, fl);
			break;
		case F_MEM:
			ok = field_u64(v, fl, &c->mem_bytes);
			break;
		case F_VCPUS:
			ok = field_u64(v, fl, &n) && n >= 1 && n <= VM_MAX_VCPUS;
			c->vcpus = (int)n;
			break;
		case F_UPTIME:
			ok = field_u64(v, fl, uptime);
			break;
		case F_VERIFY:
			ok = field_u64(v, fl, &n);
			*verify = n != 0;
			break;
		case F_HA:
			ok = field_u64(v, fl, &n);
			c->ha = n != 0;
			break;
		case F_VDEV: {
			char line[VDEVS_LINE], *eq;
			ok =
			    copy_str(line, sizeof(line), v, fl) && (eq = strchr(line, '=')) != NULL;
			if (ok) {
				*eq = 0;
				ok = vdevs_config_key(line) && !vdevs_config_set(c, line, eq + 1);
			}
			break;
		}
		default:
			break; /* newer fields: ignored */
		}
		if (!ok)
			return "malformed offer";
	}
	if (it.bad)
		return "malformed offer";
	if (!name_valid(c->name))
		return "offer has a bad VM name";
	if (c->mem_bytes < (16ULL << 20) || !IS_ALIGNED(c->mem_bytes, 2ULL << 20) ||
	    c->mem_bytes > (1ULL << 40))
		return "offer has a bad memory size";
	if (c->vcpus < 1)
		return "offer has a bad vCPU count";
	return NULL;
}

uint64_t offer_tsc_khz(const uint8_t *buf, size_t len)
{
	struct field_iter it;
	uint16_t id, fl;
	const uint8_t *v;
	uint64_t khz = 0;
	field_iter_init(&it, buf, len);
	while (field_next(&it, &id, &v, &fl))
		if (id == F_TSC_KHZ && !field_u64(v, fl, &khz))
			return 0;
	return it.bad ? 0 : khz;
}
