/*
 * tern-vqattack: a hostile virtio driver in user space, for testing that a hypervisor's
 * virtio devices survive drivers that break the rules (descriptor loops, buffers outside
 * RAM, huge lengths, bad queue indexes, ...). It takes a virtio-pci device away from its
 * kernel driver (sysfs unbind), maps BAR 0 through sysfs, builds its rings in locked pages
 * whose physical addresses come from /proc/self/pagemap (root only), and drives the device
 * by hand. Interrupts are not used (MSI-X vectors are left at NO_VECTOR); the used ring and
 * the status register are polled.
 *
 * usage: tern-vqattack [-d BDF] [-r] CASE...
 *   -d BDF   PCI address (0000:00:01.0) of a modern virtio-blk or virtio-net device
 *            (default: the first virtio-blk, 1af4:1042)
 *   -r       give the device back to the kernel driver at the end (sysfs bind)
 *   CASE     ok         a valid request (blk: read sector 0; net: a broadcast frame)
 *            loop       descriptor chain 0 -> 1 -> 0
 *            range      a buffer in the PCI hole (0xc0000000)
 *            huge       a buffer of 0xffffffff bytes
 *            wrap       a buffer whose address + length wraps around 2^64
 *            headrange  an avail ring entry >= queue size
 *            nextrange  a next index >= queue size
 *            nested     an indirect table that points to another one
 *            indlen     an indirect table of 24 bytes
 *            availjump  avail->idx 1000 entries ahead
 *            order      a device-readable buffer after a writable one
 *            ringaddr   a descriptor table outside RAM, then queue_enable
 *            badq       select queue 77 (size must read 0, enable ignored), notify queue 77,
 *                       then a valid request must still complete
 *            pcicfg     read num_queues through the VIRTIO_PCI_CAP_PCI_CFG window
 *                       (result=window_ok if it matches the BAR)
 * Before every case the device is reset and set up again (queue size 8).
 * Output, one line per case:
 *   TERN-VQATTACK case=NAME result=needs_reset|completed|dropped|ignored status=0xSS used=N
 *     blk_status=B
 * then TERN-VQATTACK done cases=N. "needs_reset": the device set DEVICE_NEEDS_RESET (64) in
 * its status; "dropped": nothing came back within 300 ms; "completed": the used index moved
 * (blk_status is the request's status byte, net: -1).
 * Exit status: 0 all cases ran, 2 bad arguments, 3 system error (no device, not root, ...).
 */
#include "common.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define QSZ           8
#define PAGES         4
#define PG            4096
#define F_INDIRECT    28
#define F_EVENT       29
#define F_V1          32
#define S_ACK         1
#define S_DRIVER      2
#define S_DRV_OK      4
#define S_FEAT_OK     8
#define S_NEEDS_RESET 64
#define D_NEXT        1
#define D_WRITE       2
#define D_IND         4

static char g_bdf[256];
static int g_is_net;
static volatile uint8_t *g_bar, *g_common, *g_notify;
static uint32_t g_notify_mult;
static uint8_t *g_mem; /* PAGES locked pages */
static uint64_t g_pa[PAGES];
static uint16_t g_avail_idx;
static char g_cfg_path[600];
static unsigned g_pcicfg; /* offset of the VIRTIO_PCI_CAP_PCI_CFG capability, 0 if none */

/* page roles */
#define P_RING 0 /* desc @0, avail @0x400, used @0x800 */
#define P_IND  1 /* indirect tables @0, @0x400; request header @0x800 */
#define P_DATA 2 /* data buffer */
#define P_STAT 3 /* status byte @0 */

static volatile uint8_t *cc8(unsigned off)
{
	return g_common + off;
}
static volatile uint16_t *cc16(unsigned off)
{
	return (volatile uint16_t *)(g_common + off);
}
static volatile uint32_t *cc32(unsigned off)
{
	return (volatile uint32_t *)(g_common + off);
}

static uint64_t pa(int page, unsigned off)
{
	return g_pa[page] + off;
}

static uint8_t *va(int page, unsigned off)
{
	return g_mem + page * PG + off;
}

/* sysfs_write: write a string to a sysfs file; 0 or -1. */
static int sysfs_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

static int sysfs_hex(const char *bdf, const char *file, unsigned *v)
{
	char path[600], buf[32];
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, file);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	*v = (unsigned)strtoul(buf, NULL, 16);
	return 0;
}

/* find_device: the first virtio-blk if no BDF was given. */
static int find_device(void)
{
	if (g_bdf[0])
		return 0;
	DIR *d = opendir("/sys/bus/pci/devices");
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d))) {
		unsigned ven, dev;
		if (e->d_name[0] == '.' || sysfs_hex(e->d_name, "vendor", &ven) ||
		    sysfs_hex(e->d_name, "device", &dev))
			continue;
		if (ven == 0x1af4 && dev == 0x1042) {
			snprintf(g_bdf, sizeof(g_bdf), "%s", e->d_name);
			break;
		}
	}
	closedir(d);
	return g_bdf[0] ? 0 : -1;
}

/* take_device: unbind the kernel driver, enable memory and bus mastering, map BAR 0 and find
 * the common and notify structures from the vendor capabilities. */
static int take_device(void)
{
	char path[600];
	unsigned ven, dev;
	if (sysfs_hex(g_bdf, "vendor", &ven) || sysfs_hex(g_bdf, "device", &dev) || ven != 0x1af4 ||
	    (dev != 0x1042 && dev != 0x1041)) {
		sayerr("tern-vqattack: %s is not a modern virtio-blk/net device", g_bdf);
		return -1;
	}
	g_is_net = dev == 0x1041;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", g_bdf);
	if (access(path, F_OK) == 0 && sysfs_write(path, g_bdf) < 0)
		return sayerr("tern-vqattack: unbind failed: %s", strerror(errno)), -1;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/enable", g_bdf);
	sysfs_write(path, "1");
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", g_bdf);
	snprintf(g_cfg_path, sizeof(g_cfg_path), "%s", path);
	int fd = open(path, O_RDWR);
	uint8_t cfg[256];
	if (fd < 0 || pread(fd, cfg, sizeof(cfg), 0) != (ssize_t)sizeof(cfg))
		return sayerr("tern-vqattack: %s: %s", path, strerror(errno)), -1;
	uint16_t cmd = (uint16_t)(cfg[4] | cfg[5] << 8) | 6; /* memory space, bus master */
	if (pwrite(fd, &cmd, 2, 4) != 2)
		return sayerr("tern-vqattack: cannot enable bus mastering"), -1;
	close(fd);
	uint32_t common_off = ~0u, notify_off = ~0u;
	for (unsigned c = cfg[0x34]; c && c < 0xfc; c = cfg[c + 1]) {
		if (cfg[c] != 0x09 || cfg[c + 4] != 0)
			continue;
		uint32_t off;
		memcpy(&off, cfg + c + 8, 4);
		if (cfg[c + 3] == 1)
			common_off = off;
		if (cfg[c + 3] == 2) {
			notify_off = off;
			memcpy(&g_notify_mult, cfg + c + 16, 4);
		}
		if (cfg[c + 3] == 5)
			g_pcicfg = c;
	}
	if (common_off == ~0u || notify_off == ~0u)
		return sayerr("tern-vqattack: no common/notify capability in BAR 0"), -1;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", g_bdf);
	fd = open(path, O_RDWR | O_SYNC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return sayerr("tern-vqattack: %s: %s", path, strerror(errno)), -1;
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return sayerr("tern-vqattack: mmap BAR 0: %s", strerror(errno)), -1;
	g_bar = p;
	g_common = g_bar + common_off;
	g_notify = g_bar + notify_off;
	return 0;
}

/* dma_pages: locked pages and their physical addresses. */
static int dma_pages(void)
{
	g_mem = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE,
	             MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_LOCKED, -1, 0);
	if (g_mem == MAP_FAILED || mlock(g_mem, PAGES * PG) < 0)
		return sayerr("tern-vqattack: cannot lock memory"), -1;
	memset(g_mem, 0, PAGES * PG);
	int fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		return sayerr("tern-vqattack: pagemap: %s", strerror(errno)), -1;
	for (int i = 0; i < PAGES; i++) {
		uint64_t e;
		off_t at = (off_t)(((uintptr_t)g_mem / PG + (uintptr_t)i) * 8);
		if (pread(fd, &e, 8, at) != 8 || !(e >> 63) || !(e & ((1ULL << 55) - 1)))
			return sayerr("tern-vqattack: no physical address (not root?)"), -1;
		g_pa[i] = (e & ((1ULL << 55) - 1)) * PG;
	}
	close(fd);
	return 0;
}

static void wr64(unsigned off, uint64_t v)
{
	*cc32(off) = (uint32_t)v;
	*cc32(off + 4) = (uint32_t)(v >> 32);
}

static uint16_t queue(void)
{
	return g_is_net ? 1 : 0; /* net: the transmit queue */
}

/* setup: reset, negotiate, queue of QSZ at our pages (desc at desc_pa), DRIVER_OK. */
static int setup(uint64_t desc_pa)
{
	*cc8(0x14) = 0;
	for (int i = 0; i < 1000 && *cc8(0x14); i++)
		usleep(1000);
	memset(g_mem, 0, PAGES * PG);
	g_avail_idx = 0;
	*cc8(0x14) = S_ACK;
	*cc8(0x14) = S_ACK | S_DRIVER;
	*cc32(0x00) = 1;
	uint32_t hi = *cc32(0x04);
	*cc32(0x00) = 0;
	uint32_t lo = *cc32(0x04);
	uint64_t want = (1ULL << F_V1) | (1ULL << F_INDIRECT) | (1ULL << F_EVENT);
	want &= ((uint64_t)hi << 32) | lo;
	*cc32(0x08) = 0;
	*cc32(0x0c) = (uint32_t)want;
	*cc32(0x08) = 1;
	*cc32(0x0c) = (uint32_t)(want >> 32);
	*cc8(0x14) = S_ACK | S_DRIVER | S_FEAT_OK;
	if (!(*cc8(0x14) & S_FEAT_OK))
		return -1;
	*cc16(0x16) = queue();
	*cc16(0x18) = QSZ;
	*cc16(0x1a) = 0xffff;
	wr64(0x20, desc_pa);
	wr64(0x28, pa(P_RING, 0x400));
	wr64(0x30, pa(P_RING, 0x800));
	*cc16(0x1c) = 1;
	*cc8(0x14) = S_ACK | S_DRIVER | S_FEAT_OK | S_DRV_OK;
	return 0;
}

static void desc(uint8_t *table, int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = table + 16 * i;
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static uint8_t *ring(void)
{
	return va(P_RING, 0);
}

/* post: put head on the avail ring (idx optionally forced) and notify. */
static void post(uint16_t head, int force_idx)
{
	volatile uint16_t *avail = (volatile uint16_t *)va(P_RING, 0x400);
	avail[2 + g_avail_idx % QSZ] = head;
	__sync_synchronize();
	g_avail_idx++;
	avail[1] = force_idx >= 0 ? (uint16_t)force_idx : g_avail_idx;
	__sync_synchronize();
	*(volatile uint16_t *)(g_notify + (uint32_t)queue() * g_notify_mult) = queue();
}

/* request: a valid request in the standard layout, as descriptors 0..2 (or 0..1 for net). */
static void request(uint8_t *table)
{
	if (g_is_net) { /* virtio_net_hdr (12 bytes) + a broadcast ARP-sized frame */
		uint8_t *f = va(P_DATA, 0);
		memset(f, 0, 12 + 60);
		memset(f + 12, 0xff, 6);
		f[12 + 6] = 0x02; /* some locally administered source (the switch drops spoofs) */
		f[12 + 12] = 0x08;
		f[12 + 13] = 0x06;
		desc(table, 0, pa(P_DATA, 0), 12 + 60, 0, 0);
		return;
	}
	uint8_t *h = va(P_IND, 0x800);
	memset(h, 0, 16); /* type IN, sector 0 */
	*va(P_STAT, 0) = 0xee;
	desc(table, 0, pa(P_IND, 0x800), 16, D_NEXT, 1);
	desc(table, 1, pa(P_DATA, 0), 512, D_NEXT | D_WRITE, 2);
	desc(table, 2, pa(P_STAT, 0), 1, D_WRITE, 0);
}

struct outcome {
	const char *result;
	uint8_t status;
	uint16_t used;
	int blk_status;
};

/* wait_outcome: poll up to 300 ms for the used index or NEEDS_RESET. */
static struct outcome wait_outcome(void)
{
	volatile uint16_t *used = (volatile uint16_t *)va(P_RING, 0x800);
	struct outcome o = {"dropped", 0, 0, -1};
	uint64_t end = mono_ns() + 300000000ull;
	do {
		o.status = *cc8(0x14);
		o.used = used[1];
		if (o.status & S_NEEDS_RESET) {
			o.result = "needs_reset";
			break;
		}
		if (o.used) {
			o.result = "completed";
			o.blk_status = g_is_net ? -1 : *va(P_STAT, 0);
			break;
		}
		usleep(2000);
	} while (mono_ns() < end);
	return o;
}

/* run_case: set up, attack, report. */
static int run_case(const char *name)
{
	uint8_t *t = ring();
	uint64_t desc_pa = pa(P_RING, 0);
	if (!strcmp(name, "ringaddr"))
		desc_pa = 0xfff0000000ULL; /* 1 TiB: no guest has that much RAM */
	if (setup(desc_pa) < 0) {
		sayerr("tern-vqattack: feature negotiation failed");
		return -1;
	}
	request(t);
	if (!strcmp(name, "ok")) {
		post(0, -1);
	} else if (!strcmp(name, "loop")) {
		desc(t, 0, pa(P_IND, 0x800), 16, D_NEXT, 1);
		desc(t, 1, pa(P_DATA, 0), 16, D_NEXT, 0);
		post(0, -1);
	} else if (!strcmp(name, "range")) {
		desc(t, 0, 0xc0000000ULL, g_is_net ? 72 : 16, g_is_net ? 0 : D_NEXT, 1);
		post(0, -1);
	} else if (!strcmp(name, "huge")) {
		desc(t, 0, pa(P_DATA, 0), 0xffffffffu, g_is_net ? 0 : D_NEXT, 1);
		post(0, -1);
	} else if (!strcmp(name, "wrap")) {
		desc(t, 0, 0xfffffffffffff000ULL, 0x2000, g_is_net ? 0 : D_NEXT, 1);
		post(0, -1);
	} else if (!strcmp(name, "headrange")) {
		post(QSZ + 3, -1);
	} else if (!strcmp(name, "nextrange")) {
		desc(t, 0, pa(P_IND, 0x800), 16, D_NEXT, 200);
		post(0, -1);
	} else if (!strcmp(name, "nested")) {
		uint8_t *it = va(P_IND, 0);
		desc(it, 0, pa(P_IND, 0x400), 16, D_IND, 0);
		desc(va(P_IND, 0x400), 0, pa(P_DATA, 0), 64, 0, 0);
		desc(t, 3, pa(P_IND, 0), 16, D_IND, 0);
		post(3, -1);
	} else if (!strcmp(name, "indlen")) {
		desc(t, 3, pa(P_IND, 0), 24, D_IND, 0);
		post(3, -1);
	} else if (!strcmp(name, "availjump")) {
		post(0, 1000);
	} else if (!strcmp(name, "order")) {
		desc(t, 0, pa(P_DATA, 0), 64, D_NEXT | D_WRITE, 1);
		desc(t, 1, pa(P_IND, 0x800), 16, 0, 0);
		post(0, -1);
	} else if (!strcmp(name, "ringaddr")) {
		post(0, -1);
	} else if (!strcmp(name, "pcicfg")) {
		/* read num_queues through the configuration-space window into BAR 0 (4.1.4.9) */
		int fd = open(g_cfg_path, O_RDWR);
		uint8_t bar = 0;
		uint32_t off = 0x12, len = 2, data = 0;
		int ok = fd >= 0 && g_pcicfg && pwrite(fd, &bar, 1, g_pcicfg + 4) == 1 &&
		         pwrite(fd, &off, 4, g_pcicfg + 8) == 4 &&
		         pwrite(fd, &len, 4, g_pcicfg + 12) == 4 &&
		         pread(fd, &data, 4, g_pcicfg + 16) == 4;
		if (fd >= 0)
			close(fd);
		uint16_t direct = *cc16(0x12);
		say("TERN-VQATTACK case=%s result=%s status=0x%02x window=%u bar=%u", name,
		    ok && (data & 0xffff) == direct && direct ? "window_ok" : "window_bad",
		    *cc8(0x14), data & 0xffff, direct);
		return 0;
	} else if (!strcmp(name, "badq")) {
		*cc16(0x16) = 77;
		uint16_t sz = *cc16(0x18);
		*cc16(0x18) = 8;
		*cc16(0x1c) = 1;
		*(volatile uint16_t *)(g_notify + (uint32_t)queue() * g_notify_mult) = 77;
		*cc16(0x16) = queue();
		post(0, -1); /* and a valid request must still work */
		struct outcome o = wait_outcome();
		int fine = sz == 0 && !(o.status & S_NEEDS_RESET) && !strcmp(o.result, "completed");
		say("TERN-VQATTACK case=%s result=%s status=0x%02x used=%u blk_status=%d size77=%u",
		    name, fine ? "ignored" : o.result, o.status, o.used, o.blk_status, sz);
		return 0;
	} else {
		sayerr("tern-vqattack: unknown case %s", name);
		return -2;
	}
	struct outcome o = wait_outcome();
	say("TERN-VQATTACK case=%s result=%s status=0x%02x used=%u blk_status=%d", name, o.result,
	    o.status, o.used, o.blk_status);
	return 0;
}

int main(int argc, char **argv)
{
	int opt, rebind = 0;
	while ((opt = getopt(argc, argv, "d:r")) != -1) {
		if (opt == 'd')
			snprintf(g_bdf, sizeof(g_bdf), "%s", optarg);
		else if (opt == 'r')
			rebind = 1;
		else
			goto usage;
	}
	if (optind >= argc)
		goto usage;
	if (find_device() < 0) {
		sayerr("tern-vqattack: no virtio-blk device found");
		return 3;
	}
	if (take_device() < 0 || dma_pages() < 0)
		return 3;
	say("TERN-VQATTACK device=%s kind=%s", g_bdf, g_is_net ? "net" : "blk");
	int n = 0;
	for (int i = optind; i < argc; i++, n++) {
		int rc = run_case(argv[i]);
		if (rc == -2)
			goto usage;
		if (rc < 0)
			return 3;
	}
	*cc8(0x14) = 0; /* leave the device reset */
	if (rebind && sysfs_write("/sys/bus/pci/drivers/virtio-pci/bind", g_bdf) < 0) {
		sayerr("tern-vqattack: bind failed: %s", strerror(errno));
		return 3;
	}
	say("TERN-VQATTACK done cases=%d%s", n, rebind ? " rebound" : "");
	return 0;
usage:
	sayerr("usage: tern-vqattack [-d BDF] [-r] ok|loop|range|huge|wrap|headrange|nextrange|"
	       "nested|indlen|availjump|order|ringaddr|badq|pcicfg...");
	return 2;
}
