/*
 * HA guests owned by this host: the table, the supervisor that notices guests to protect
 * (`ha=on`, `ha add`, guests that arrive by migration or failover), one replication thread
 * per guest (choose a standby, run sessions, fall back to unprotected), and fencing.
 */
#include "ha/replica.h"
#include "kernel/config.h"
#include "kernel/fmt.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/args.h"
#include "kernel/percpu.h"
#include "kernel/sched.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "vmm/vm.h"

static struct ha_guest g_guest[HA_GUESTS_MAX];
static struct spinlock g_table_lock = SPINLOCK_INIT("ha-guests");
static uint64_t g_interval_ms = HA_CKPT_DEFAULT_MS;
static uint64_t g_delay_ms;
static bool g_delay_set;
static volatile bool g_supervisor;

uint64_t ha_ckpt_interval_ms(void)
{
	return g_interval_ms;
}

/* ha_failover_delay_ms: `ha_failover_delay_ms`, else the membership's fencing bound: by then
 * an owner that lost quorum has paused its guests or been reset by its watchdog. */
uint64_t ha_failover_delay_ms(void)
{
	return g_delay_set ? g_delay_ms : ha_fence_timeout_ms();
}

/* conf_interval: tern.conf `ha_checkpoint_ms` (10-10000). */
static const char *conf_interval(const char *v)
{
	uint64_t n;
	if (!parse_u64(v, &n) || n < 10 || n > 10000)
		return "ha_checkpoint_ms must be 10-10000";
	g_interval_ms = n;
	return NULL;
}
CONF_KEY(ha_ckpt, "ha_checkpoint_ms", conf_interval);

/* conf_delay: tern.conf `ha_failover_delay_ms` (0-60000). */
static const char *conf_delay(const char *v)
{
	uint64_t n;
	if (!parse_u64(v, &n) || n > 60000)
		return "ha_failover_delay_ms must be 0-60000";
	g_delay_ms = n;
	g_delay_set = true;
	return NULL;
}
CONF_KEY(ha_delay, "ha_failover_delay_ms", conf_delay);

struct ha_guest *ha_guest_get(int i)
{
	return i >= 0 && i < HA_GUESTS_MAX && g_guest[i].used ? &g_guest[i] : NULL;
}

struct ha_guest *ha_guest_find(const char *name)
{
	for (int i = 0; i < HA_GUESTS_MAX; i++)
		if (g_guest[i].used && !strcmp(g_guest[i].name, name))
			return &g_guest[i];
	return NULL;
}

/* slot_new: a table entry for name with its output buffer; NULL if full. */
static struct ha_guest *slot_new(const char *name)
{
	struct outbuf_slot *slots = NULL;
	struct ha_guest *g = NULL;
	spin_lock(&g_table_lock);
	for (int i = 0; i < HA_GUESTS_MAX && !g; i++)
		if (!g_guest[i].used && !g_guest[i].running_thread)
			g = &g_guest[i];
	if (g) {
		slots = g->out.slot; /* kept from an earlier guest of this slot */
		memset(g, 0, sizeof(*g));
		g->used = true;
		tern_strlcpy(g->name, name, sizeof(g->name));
		spin_init(&g->lock, "ha-guest");
		ckpt_track_init(&g->t);
	}
	spin_unlock(&g_table_lock);
	if (!g)
		return NULL;
	if (!slots && !(slots = kmalloc(sizeof(*slots) * HA_OUT_SLOTS))) {
		g->used = false;
		return NULL;
	}
	outbuf_init(&g->out, slots, HA_OUT_SLOTS);
	return g;
}

/* sleep_ms: a short sleep of the replication threads. */
static void sleep_ms(uint64_t ms)
{
	thread_sleep_ns(ms * 1000000ULL);
}

/* pick: a standby for g now, avoiding the one that failed last if there is another. */
static bool pick(struct ha_guest *g, char *out)
{
	struct ha_member_info m[16];
	int n = MIN(ha_member_count(), 16);
	for (int i = 0; i < n; i++)
		if (ha_member_get(i, &m[i]) < 0)
			m[i].alive = false;
	const char *avoid[1] = {g->avoid};
	int k = ha_pick_standby(m, n, g->name, avoid, g->avoid[0] ? 1 : 0);
	if (k < 0)
		k = ha_pick_standby(m, n, g->name, NULL, 0);
	if (k < 0)
		return false;
	tern_strlcpy(out, m[k].name, 32);
	return true;
}

/* unprotected: no standby: output flows again (a failure now loses the guest anyway). */
static void unprotected(struct ha_guest *g)
{
	spin_lock(&g->lock);
	g->holding = false;
	spin_unlock(&g->lock);
	ha_out_release(g, true);
	g->standby[0] = 0;
	g->state = HG_UNPROTECTED;
}

/* guest_thread: keep g replicated while it runs here. */
static void guest_thread(void *arg)
{
	struct ha_guest *g = arg;
	while (!g->stop) {
		struct vm *vm = vm_find(g->name);
		if (!vm || vm->ha != g)
			break;
		if (g->fenced) {
			if (ha_quorate())
				ha_guest_unfence(g);
			sleep_ms(100);
			continue;
		}
		if (g->suspend || vm->state != VM_RUNNING || vm->migrating) {
			if (g->state != HG_UNPROTECTED)
				unprotected(g);
			sleep_ms(100);
			continue;
		}
		char sb[32];
		if (!ha_quorate() || !pick(g, sb)) {
			if (g->state != HG_UNPROTECTED)
				unprotected(g);
			sleep_ms(500);
			continue;
		}
		const char *why = replica_session(g, sb);
		if (why && !g->stop && !g->fenced) {
			klog("ha: %s: replication to %s ended: %s", g->name, sb, why);
			tern_strlcpy(g->error, why, sizeof(g->error));
			tern_strlcpy(g->avoid, sb, sizeof(g->avoid));
			g->state = HG_UNPROTECTED;
			sleep_ms(300);
		}
	}
	struct vm *vm = vm_find(g->name);
	if (vm && vm->ha == g)
		vm->ha = NULL;
	ha_out_release(g, true); /* dropped if the guest is gone */
	g->state = HG_GONE;
	g->used = false;
	g->running_thread = false;
}

/* start_thread: the replication thread of g. */
static void start_thread(struct ha_guest *g)
{
	int cpu = 0; /* not the network daemon's CPU: checkpoints encrypt and copy */
	g->running_thread = true;
	if (!thread_create("ha-repl", guest_thread, g, cpu))
		g->running_thread = false;
}

/* adopt: make vm an HA guest here (it runs here with cfg.ha). */
static struct ha_guest *adopt(struct vm *vm)
{
	struct ha_guest *g = slot_new(vm->cfg.name);
	if (!g)
		return NULL;
	vm->ha = g;
	start_thread(g);
	klog("ha: %s is an HA guest", vm->cfg.name);
	return g;
}

int ha_guest_add(const char *name, const char **err)
{
	struct vm *vm = vm_find(name);
	if (!vm) {
		*err = "no such VM";
		return -1;
	}
	if (vm->state == VM_INCOMING) {
		*err = "that is a replica (or an incoming migration), not a guest running here";
		return -1;
	}
	vm->cfg.ha = true;
	ha_supervisor_start();
	if (vm->state == VM_RUNNING && !vm->ha && !adopt(vm)) {
		*err = "too many HA guests";
		return -1;
	}
	return 0;
}

int ha_guest_remove(const char *name, const char **err)
{
	struct vm *vm = vm_find(name);
	struct ha_guest *g = ha_guest_find(name);
	if (!vm && !g) {
		*err = "no such VM";
		return -1;
	}
	if (vm)
		vm->cfg.ha = false;
	if (g)
		g->stop = true; /* its thread ends the session (the standby drops the replica) */
	/* until replication has let go of the VM (vm stop/destroy wait for that) */
	for (int i = 0; i < 100 && vm && vm_find(name) == vm && vm->ha; i++)
		thread_sleep_ns(50000000ULL);
	return 0;
}

/* supervise: adopt running HA guests that have no entry (config, migration, failover). */
static void supervise(void)
{
	for (int i = 0; i < VM_MAX; i++) {
		struct vm *vm = vm_get(i);
		if (vm && vm->cfg.ha && vm->state == VM_RUNNING && !vm->ha && !vm->migrating &&
		    !ha_guest_find(vm->cfg.name))
			adopt(vm);
	}
	if (!ha_quorate())
		ha_fence(); /* e.g. guests autostarted before this host joined a quorum */
}

/* supervisor: every 100 ms. */
static void supervisor(void *arg)
{
	(void)arg;
	for (;;) {
		supervise();
		sleep_ms(100);
	}
}

void ha_supervisor_start(void)
{
	spin_lock(&g_table_lock);
	bool start = !g_supervisor;
	g_supervisor = true;
	spin_unlock(&g_table_lock);
	if (start && !thread_create("ha-super", supervisor, NULL, 0))
		g_supervisor = false;
}

/* ha_fence_guest: pause g now unless its thread is inside a checkpoint (it pauses it then). */
void ha_fence_guest(struct ha_guest *g)
{
	spin_lock(&g->lock);
	bool was = g->fenced, busy = g->in_ckpt;
	g->fenced = true;
	spin_unlock(&g->lock);
	struct vm *vm = vm_find(g->name);
	const char *err;
	if (!busy && vm && vm->state == VM_RUNNING)
		vm_pause(vm, &err);
	g->state = HG_FENCED;
	if (!was)
		klog("ha: %s fenced: this host lost quorum, the guest is paused", g->name);
}

void ha_fence(void)
{
	for (int i = 0; i < HA_GUESTS_MAX; i++)
		if (g_guest[i].used && !g_guest[i].fenced)
			ha_fence_guest(&g_guest[i]);
}

void ha_guest_unfence(struct ha_guest *g)
{
	int r = ha_probe_peers(g->name);
	struct vm *vm = vm_find(g->name);
	const char *err;
	if (r < 0 || !vm)
		return; /* some member did not answer: stay paused, ask again */
	if (r == REPL_RUNNING) {
		klog("ha: %s runs on another host now: dropping the fenced copy here", g->name);
		vm->ha = NULL;
		vm_destroy(vm, &err);
		g->stop = true;
		return;
	}
	spin_lock(&g->lock);
	g->fenced = false;
	spin_unlock(&g->lock);
	if (vm->state == VM_PAUSED)
		vm_resume(vm, &err);
	g->state = HG_UNPROTECTED;
	klog("ha: %s resumed: quorum is back and no other host runs it", g->name);
}

/* age: "N ms" since t (ns), or "never". */
static void age(char *buf, size_t n, uint64_t t)
{
	if (!t)
		tern_strlcpy(buf, "never", n);
	else
		fmt_snprintf(buf, n, "%llu ms ago",
		             (unsigned long long)((time_ns() - t) / 1000000));
}

static const char *const g_state_name[] = {"unprotected", "syncing", "protected", "fenced", "gone"};

void ha_guest_status_print(void)
{
	ha_guest_lines();
}

/* ha_guest_lines: one line per HA guest here and per replica held here; how many. */
int ha_guest_lines(void)
{
	int n = 0;
	for (int i = 0; i < HA_GUESTS_MAX; i++) {
		struct ha_guest *g = ha_guest_get(i);
		if (!g)
			continue;
		n++;
		char a[32];
		age(a, sizeof(a), g->t_acked_ns);
		uint64_t avg = g->ckpts ? g->pause_ns_total / g->ckpts / 1000 : 0;
		kprintf(
		    "guest %s: owner %s, standby %s, %s, checkpoint %llu acked %s, pause avg %llu "
		    "us max %llu us, %llu checkpoints, %llu KiB sent, %u frames held%s%s\n",
		    g->name, ha_self_name(), g->standby[0] ? g->standby : "-",
		    g_state_name[g->state], (unsigned long long)g->t.acked, a,
		    (unsigned long long)avg, (unsigned long long)(g->pause_ns_max / 1000),
		    (unsigned long long)g->ckpts, (unsigned long long)(g->bytes >> 10),
		    outbuf_waiting(&g->out), g->error[0] ? ", last error: " : "", g->error);
	}
	return n + replica_status_print();
}
