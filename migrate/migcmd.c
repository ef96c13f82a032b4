/* Console commands: migrate, status, remote. */
#include "kernel/args.h"
#include "kernel/config.h"
#include "kernel/fmt.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/percpu.h"
#include "kernel/pmm.h"
#include "kernel/shell.h"
#include "kernel/smp.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "migrate/control.h"
#include "migrate/migration.h"
#include "migrate/peers.h"
#include "net/host/netd.h"
#include "vmm/vm.h"

#define MIGRATE_USAGE "migrate NAME PEER [downtime=MS] [bandwidth=MBPS] [verify=on]"

static int mig_status(int argc, char **argv)
{
	(void)argc, (void)argv;
	kprintf("%-16s %-4s %-16s %-14s %6s %10s %8s %10s  %s\n", "VM", "DIR", "PEER", "PHASE",
	        "ROUND", "SENT-MIB", "THROTTLE", "DOWNTIME", "ERROR");
	for (int i = 0; i < MIG_MAX; i++) {
		struct migration *m = migrate_get(i);
		if (!m)
			continue;
		char dt[16] = "-";
		if (m->downtime_ms)
			fmt_snprintf(dt, sizeof(dt), "%llu ms", (unsigned long long)m->downtime_ms);
		kprintf("%-16s %-4s %-16s %-14s %6d %10llu %7d%% %10s  %s\n", m->vm_name,
		        m->incoming ? "in" : "out", m->peer, migrate_phase_name(m->phase), m->round,
		        (unsigned long long)(m->bytes_sent >> 20), m->throttle, dt, m->error);
	}
	return 0;
}

static int mig_cancel(int argc, char **argv)
{
	const char *err;
	if (argc != 2)
		return shell_usage("migrate cancel NAME");
	if (migrate_cancel(argv[1], &err) < 0)
		return shell_error("%s", err);
	kprintf("cancelling the migration of %s\n", argv[1]);
	return 0;
}

/* mig_pull: ask FROM to migrate NAME to this host (at eth0's address). */
static int mig_pull(int argc, char **argv)
{
	if (argc != 3)
		return shell_usage("migrate pull NAME FROM");
	if (!netd_ready() || !netd.nifs || !netd.nif[0].addr)
		return shell_error("this host has no address to receive at (ip addr ...)");
	char me[16], line[96];
	format_ipv4(netd.nif[0].addr, me, sizeof(me));
	fmt_snprintf(line, sizeof(line), "migrate %s %s", argv[1], me);
	char *out = kmalloc(4096);
	const char *err = NULL;
	if (!out)
		return shell_error("out of memory");
	int rc = control_request(argv[2], line, out, 4096, &err);
	if (rc < 0) {
		kfree(out);
		return shell_error("%s: %s", argv[2], err);
	}
	kprintf("%s", out);
	kfree(out);
	return rc;
}

/* mig_start: `migrate NAME PEER [downtime=MS] [bandwidth=MBPS]`. */
static int mig_start(int argc, char **argv)
{
	uint64_t downtime = 0, mbps = 0;
	bool verify = false;
	if (argc < 3)
		return shell_usage(MIGRATE_USAGE);
	for (int i = 3; i < argc; i++) {
		const char *v;
		if ((v = kv_match(argv[i], "downtime"))) {
			if (!parse_u64(v, &downtime) || downtime < 1 || downtime > 60000)
				return shell_error("downtime must be 1-60000 (milliseconds)");
		} else if ((v = kv_match(argv[i], "verify"))) {
			if (!parse_bool(v, &verify))
				return shell_error("verify must be on or off");
		} else if ((v = kv_match(argv[i], "bandwidth"))) {
			if (!parse_u64(v, &mbps) || mbps < 1 || mbps > 1000000)
				return shell_error("bandwidth must be 1-1000000 (Mbit/s)");
		} else {
			return shell_usage(MIGRATE_USAGE);
		}
	}
	const char *err;
	if (migrate_start(argv[1], argv[2], downtime, mbps, verify, &err) < 0)
		return shell_error("%s: %s", argv[1], err);
	kprintf("migrating %s to %s (progress follows; `migrate status`, `migrate cancel %s`)\n",
	        argv[1], argv[2], argv[1]);
	return 0;
}

static int cmd_migrate(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "status"))
		return mig_status(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "cancel"))
		return mig_cancel(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "pull"))
		return mig_pull(argc - 1, argv + 1);
	return mig_start(argc, argv);
}
SHELL_COMMAND(
    migrate, "migrate",
    "migrate NAME PEER [downtime=MS] [bandwidth=MBPS] | status | cancel NAME | pull NAME FROM",
    "live-migrate a VM to another Tern host", cmd_migrate);

/* cmd_status: one screen about this host. */
static int cmd_status(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return shell_usage("status");
	struct pmm_stats st;
	pmm_get_stats(&st);
	uint64_t s = time_ns() / 1000000000ULL;
	int running = 0;
	for (int i = 0; i < VM_MAX; i++)
		running += vm_get(i) && vm_get(i)->state == VM_RUNNING;
	kprintf("node %s: up %llu s, %d/%d CPUs, memory %llu/%llu MiB free, %d VM(s), %d running\n",
	        node_name(), (unsigned long long)s, cpus_online(), ncpus,
	        (unsigned long long)(st.free >> 20), (unsigned long long)(st.total >> 20),
	        vm_count(), running);
	return 0;
}
SHELL_COMMAND(status, "status", "status", "one-line summary of this host", cmd_status);

/* cmd_remote: run a command on a peer through the control protocol. */
static int cmd_remote(int argc, char **argv)
{
	if (argc < 3)
		return shell_usage("remote PEER COMMAND...");
	char line[512] = "";
	size_t n = 0;
	for (int i = 2; i < argc; i++) {
		size_t l = strlen(argv[i]);
		if (n + l + 2 >= sizeof(line))
			return shell_error("command too long");
		if (n)
			line[n++] = ' ';
		memcpy(line + n, argv[i], l);
		n += l;
		line[n] = 0;
	}
	char *out = kmalloc(64 * 1024);
	const char *err = NULL;
	if (!out)
		return shell_error("out of memory");
	int rc = control_request(argv[1], line, out, 64 * 1024, &err);
	if (rc < 0) {
		kfree(out);
		return shell_error("%s: %s", argv[1], err);
	}
	kprintf("%s", out);
	kfree(out);
	return rc;
}
SHELL_COMMAND(remote, "remote", "remote PEER COMMAND...", "run a command on another Tern host",
              cmd_remote);
