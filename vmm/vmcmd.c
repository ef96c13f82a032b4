/* The `vm` console commands and [vm NAME] sections of tern.conf. */
#include "vmm/vmcmd.h"
#include "kernel/args.h"
#include "kernel/bootfs.h"
#include "kernel/config.h"
#include "kernel/console.h"
#include "kernel/fmt.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/pmm.h"
#include "kernel/sched.h"
#include "kernel/shell.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "vmm/dev/vdevs.h"
#include "vmm/exit.h"
#include "vmm/gconsole.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"

#define MIN_MEM            (16ULL << 20)
#define CTRL_RIGHT_BRACKET 0x1d

static const char *const g_state_names[] = {"created", "running", "paused", "stopped", "incoming"};

/* vm_config_set: one key of a VM configuration (console `vm create` and tern.conf share it). */
const char *vm_config_set(struct vm_config *c, const char *key, const char *value)
{
	uint64_t n;
	if (!strcmp(key, "mem")) {
		if (!parse_size(value, &n) || n < MIN_MEM)
			return "mem must be a size of at least 16M (e.g. 256M, 1G)";
		if (!IS_ALIGNED(n, 2ULL << 20))
			return "mem must be a multiple of 2M";
		c->mem_bytes = n;
	} else if (!strcmp(key, "vcpus")) {
		if (!parse_u64(value, &n) || n < 1 || n > VM_MAX_VCPUS)
			return "vcpus must be 1-16";
		c->vcpus = (int)n;
	} else if (!strcmp(key, "kernel") || !strcmp(key, "initrd")) {
		char *dst = key[0] == 'k' ? c->kernel : c->initrd;
		if (strlen(value) >= VM_FILE_MAX)
			return "file name too long";
		if (*value && !bootfs_find(value))
			return "no such file on the boot stick (see `files`)";
		tern_strlcpy(dst, value, VM_FILE_MAX);
	} else if (!strcmp(key, "cmdline")) {
		if (strlen(value) >= VM_CMDLINE_MAX)
			return "cmdline too long (max 511 characters)";
		tern_strlcpy(c->cmdline, value, VM_CMDLINE_MAX);
	} else if (!strcmp(key, "autostart")) {
		bool b;
		if (!parse_bool(value, &b))
			return "autostart must be on or off";
		c->autostart = b;
	} else if (!strcmp(key, "ha")) {
		bool b;
		if (!parse_bool(value, &b))
			return "ha must be on or off";
		c->ha = b; /* replicated to a standby (ha/replica.h) */
	} else if (vdevs_config_key(key)) {
		return vdevs_config_set(c, key, value); /* disk=, nic=, mac=, hvc= */
	} else {
		return "unknown VM setting";
	}
	return NULL;
}

/* config_defaults: 256 MiB, one vCPU. */
static void config_defaults(struct vm_config *c, const char *name)
{
	memset(c, 0, sizeof(*c));
	tern_strlcpy(c->name, name, sizeof(c->name));
	c->mem_bytes = 256ULL << 20;
	c->vcpus = 1;
}

/* lookup: the VM named by argv[1], or an error printed. */
static struct vm *lookup(int argc, char **argv, const char *usage)
{
	if (argc != 2) {
		shell_usage(usage);
		return NULL;
	}
	struct vm *vm = vm_find(argv[1]);
	if (!vm)
		shell_error("no VM named '%s' (see `vm list`)", argv[1]);
	return vm;
}

/* fmt_uptime: "1d 02:03:04" or "00:01:23". */
static void fmt_uptime(uint64_t ns, char *buf, size_t cap)
{
	uint64_t s = ns / 1000000000ULL;
	if (s >= 86400)
		fmt_snprintf(buf, cap, "%llud %02llu:%02llu:%02llu",
		             (unsigned long long)(s / 86400), (unsigned long long)(s / 3600 % 24),
		             (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
	else
		fmt_snprintf(buf, cap, "%02llu:%02llu:%02llu", (unsigned long long)(s / 3600),
		             (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
}

static int vm_list(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return shell_usage("vm list");
	kprintf("%-16s %-8s %5s %8s %12s\n", "NAME", "STATE", "VCPUS", "MEMORY", "UPTIME");
	for (int i = 0; i < VM_MAX; i++) {
		struct vm *vm = vm_get(i);
		if (!vm)
			continue;
		char mem[16], up[24];
		format_size(vm->cfg.mem_bytes, mem, sizeof(mem));
		fmt_uptime(vm_uptime_ns(vm), up, sizeof(up));
		kprintf("%-16s %-8s %5d %8s %12s\n", vm->cfg.name, g_state_names[vm->state],
		        vm->cfg.vcpus, mem, up);
	}
	return 0;
}

#define CREATE_USAGE                                                                               \
	"vm create NAME mem=SIZE vcpus=N kernel=FILE [initrd=FILE] [cmdline=\"...\"] "             \
	"[autostart=on] [disk=NAME[,size=SIZE][,ro][,serial=ID]]... [nic=on] [mac=MAC] [hvc=on]"

static int vm_create_cmd(int argc, char **argv)
{
	if (argc < 2)
		return shell_usage(CREATE_USAGE);
	if (!name_valid(argv[1]))
		return shell_error("VM name must be 1-31 of [A-Za-z0-9_.-]");
	struct vm_config c;
	config_defaults(&c, argv[1]);
	for (int i = 2; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq)
			return shell_error("expected key=value, got '%s'", argv[i]);
		*eq = 0;
		const char *err = vm_config_set(&c, argv[i], eq + 1);
		if (err)
			return shell_error("%s: %s", argv[i], err);
	}
	if (!c.kernel[0])
		return shell_error("kernel=FILE is required (see `files`)");
	const char *err;
	if (vm_create(&c, &err) < 0)
		return shell_error("%s", err);
	kprintf("created VM %s\n", c.name);
	return 0;
}

/* lifecycle: start/stop/pause/resume/destroy share their shape. */
static int lifecycle(int argc, char **argv, const char *usage,
                     int (*op)(struct vm *, const char **), const char *done)
{
	struct vm *vm = lookup(argc, argv, usage);
	if (!vm)
		return 1;
	if (vm->migrating)
		return shell_error("%s is being migrated (see `migrate status`)", argv[1]);
	if (vm->ha && (op == vm_stop || op == vm_destroy)) /* its replication reads guest memory */
		return shell_error("%s is an HA guest: `ha remove %s` first", argv[1], argv[1]);
	const char *err = NULL;
	if (op(vm, &err) < 0)
		return shell_error("%s: %s", argv[1], err ? err : "failed");
	kprintf("%s %s\n", argv[1], done);
	return 0;
}

static int vm_start_cmd(int argc, char **argv)
{
	return lifecycle(argc, argv, "vm start NAME", vm_start, "started");
}

static int vm_stop_cmd(int argc, char **argv)
{
	return lifecycle(argc, argv, "vm stop NAME", vm_stop, "stopped");
}

static int vm_pause_cmd(int argc, char **argv)
{
	return lifecycle(argc, argv, "vm pause NAME", vm_pause, "paused");
}

static int vm_resume_cmd(int argc, char **argv)
{
	return lifecycle(argc, argv, "vm resume NAME", vm_resume, "resumed");
}

static int vm_destroy_cmd(int argc, char **argv)
{
	return lifecycle(argc, argv, "vm destroy NAME", vm_destroy, "destroyed");
}

static int vm_snapshot_cmd(int argc, char **argv)
{
	return lifecycle(argc, argv, "vm snapshot NAME", vm_snapshot, "snapshot taken");
}

static int vm_restore_cmd(int argc, char **argv)
{
	return lifecycle(argc, argv, "vm restore NAME", vm_restore, "restored from snapshot");
}

static const char *const g_vcpu_states[] = {"wait-sipi", "running", "halted", "stopped"};

static int vm_info_cmd(int argc, char **argv)
{
	struct vm *vm = lookup(argc, argv, "vm info NAME");
	if (!vm)
		return 1;
	char mem[16], up[24];
	format_size(vm->cfg.mem_bytes, mem, sizeof(mem));
	fmt_uptime(vm_uptime_ns(vm), up, sizeof(up));
	kprintf("name:     %s\nstate:    %s\nuptime:   %s\nmemory:   %s\nvcpus:    %d\n",
	        vm->cfg.name, g_state_names[vm->state], up, mem, vm->cfg.vcpus);
	kprintf("kernel:   %s\ninitrd:   %s\ncmdline:  ", vm->cfg.kernel,
	        vm->cfg.initrd[0] ? vm->cfg.initrd : "-");
	console_write_text(vm->cfg.cmdline, strlen(vm->cfg.cmdline));
	if (vm->stop_reason[0])
		kprintf("last stop: %s\n", vm->stop_reason);
	if (vm->snapshot)
		kprintf("snapshot: %s\n", snapshot_describe(vm));
	vdevs_info(vm);
	uint64_t exits[NR_EXIT_REASONS] = {0}, total = 0;
	for (int i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = vm->vcpu[i];
		kprintf("vcpu %d:   %s, %llu exits\n", i, g_vcpu_states[v->run_state],
		        (unsigned long long)v->exits_total);
		for (int r = 0; r < NR_EXIT_REASONS; r++)
			exits[r] += v->exits[r];
		total += v->exits_total;
	}
	kprintf("exits by reason (%llu total):\n", (unsigned long long)total);
	for (int r = 0; r < NR_EXIT_REASONS; r++)
		if (exits[r])
			kprintf("  %-14s %12llu\n", exit_reason_names[r],
			        (unsigned long long)exits[r]);
	return 0;
}

/* vm_console_cmd: attach the operator console to the guest until Ctrl-]: its output (UART and
 * virtio console), and input to the UART or, with `hvc`, to the virtio console. */
static int vm_console_cmd(int argc, char **argv)
{
	const char *usage = "vm console NAME [hvc]";
	bool hvc = argc == 3 && !strcmp(argv[2], "hvc");
	if (argc == 3 && !hvc)
		return shell_usage(usage);
	struct vm *vm = lookup(hvc ? 2 : argc, argv, usage);
	if (!vm)
		return 1;
	if (!vm->console)
		return shell_error("%s has never run", argv[1]);
	if (hvc && !vdevs_has_console(vm))
		return shell_error("%s has no virtio console running (hvc=on)", argv[1]);
	char marker[96];
	fmt_snprintf(marker, sizeof(marker), "\n[attached to %s%s; Ctrl-] detaches]\n",
	             vm->cfg.name, hvc ? " (hvc)" : "");
	/* recent output (8 KiB: a test guest's whole basic run, both copies), then live */
	gconsole_attach(vm, 8192, marker);
	for (;;) {
		int c = console_getc_timeout(100);
		if (c == CTRL_RIGHT_BRACKET)
			break;
		if (vm->state != VM_RUNNING && vm->state != VM_PAUSED) {
			kprintf("\n[%s is %s]\n", vm->cfg.name, g_state_names[vm->state]);
			break;
		}
		if (c < 0)
			continue;
		char ch = (char)c;
		for (int tries = 0; tries < 200; tries++) {
			size_t took = hvc ? vdevs_console_input(vm, &ch, 1)
			                  : vuart_receive(&vm->plat.uart, &ch, 1);
			if (took)
				break;
			thread_sleep_ns(
			    1000000); /* FIFO full / no buffer: the guest has not read yet */
		}
	}
	vm->console->attached = false;
	kprintf("\n[detached from %s]\n", vm->cfg.name);
	return 0;
}

static const struct shell_sub g_subs[] = {
    {"list", "vm list", "table of VMs", vm_list},
    {"create", CREATE_USAGE, "define a VM (images from `files`)", vm_create_cmd},
    {"start", "vm start NAME", "boot a VM", vm_start_cmd},
    {"stop", "vm stop NAME", "power a VM off (memory is freed)", vm_stop_cmd},
    {"pause", "vm pause NAME", "freeze a running VM", vm_pause_cmd},
    {"resume", "vm resume NAME", "continue a paused VM", vm_resume_cmd},
    {"destroy", "vm destroy NAME", "stop and forget a VM", vm_destroy_cmd},
    {"info", "vm info NAME", "state, vCPUs and exit counts", vm_info_cmd},
    {"console", "vm console NAME [hvc]",
     "attach to the VM's console (Ctrl-] detaches); hvc: type into its virtio console",
     vm_console_cmd},
    {"snapshot", "vm snapshot NAME", "save the VM's complete state in host memory",
     vm_snapshot_cmd},
    {"restore", "vm restore NAME", "return the VM to its last snapshot", vm_restore_cmd},
};

static int cmd_vm(int argc, char **argv)
{
	return shell_dispatch_sub("vm", g_subs, ARRAY_SIZE(g_subs), argc, argv);
}
SHELL_COMMAND(vm, "vm",
              "vm list|create|start|stop|pause|resume|destroy|info|console|snapshot|restore",
              "manage virtual machines", cmd_vm);

/* ---- tern.conf [vm NAME] sections ------------------------------------------------------ */

static struct vm_config g_conf;
static bool g_conf_bad;

static void *conf_begin(const char *name, const char **err)
{
	(void)err;
	config_defaults(&g_conf, name);
	g_conf_bad = false;
	return &g_conf;
}

static const char *conf_key(void *state, const char *key, const char *value)
{
	const char *err = vm_config_set(state, key, value);
	if (err)
		g_conf_bad = true;
	return err;
}

static void conf_end(void *state)
{
	struct vm_config *c = state;
	const char *err;
	if (g_conf_bad)
		klog("tern.conf: VM %s not created: fix the lines above", c->name);
	else if (!c->kernel[0])
		klog("tern.conf: VM %s not created: no kernel", c->name);
	else if (vm_create(c, &err) < 0)
		klog("tern.conf: VM %s not created: %s", c->name, err);
}
CONF_SECTION(vm, "vm", conf_begin, conf_key, conf_end);

void vm_autostart(void)
{
	for (int i = 0; i < VM_MAX; i++) {
		struct vm *vm = vm_get(i);
		const char *err;
		if (!vm || !vm->cfg.autostart)
			continue;
		if (vm_start(vm, &err) < 0)
			klog("vm %s: autostart failed: %s", vm->cfg.name, err);
		else
			klog("vm %s: autostarted; `vm console %s` attaches to it", vm->cfg.name,
			     vm->cfg.name);
	}
}
