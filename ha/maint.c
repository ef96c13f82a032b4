/*
 * Maintenance mode, the guests' half: `node maintenance on` live-migrates every guest that
 * runs here to other members (alive, not in maintenance), one at a time, in the background.
 * An HA guest's replication is suspended first (its dirty logging belongs to the migration
 * then) and it stays an HA guest on the destination (the offer carries `ha`).
 */
#include "ha/replica.h"
#include "kernel/log.h"
#include "kernel/sched.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "migrate/migration.h"
#include "vmm/vm.h"

#define MIGRATE_WAIT_MS (10ULL * 60 * 1000)

static volatile bool g_evacuating;

/* target: a member to take vm, not avoid (its standby) unless nothing else is left. */
static bool target(const char *vm, const char *avoid, char *out)
{
	struct ha_member_info m[16];
	int n = MIN(ha_member_count(), 16);
	for (int i = 0; i < n; i++)
		if (ha_member_get(i, &m[i]) < 0)
			m[i].alive = false;
	const char *av[1] = {avoid};
	int k = ha_pick_standby(m, n, vm, av, avoid && avoid[0] ? 1 : 0);
	if (k < 0)
		k = ha_pick_standby(m, n, vm, NULL, 0);
	if (k < 0)
		return false;
	tern_strlcpy(out, m[k].name, 32);
	return true;
}

/* wait_migration: until the outgoing migration of name has finished; true if it moved. */
static bool wait_migration(const char *name)
{
	uint64_t end = time_ns() + MIGRATE_WAIT_MS * 1000000ULL;
	while (time_ns() < end) {
		bool active = false;
		for (int i = 0; i < MIG_MAX; i++) {
			struct migration *m = migrate_get(i);
			if (!m || m->incoming || strcmp(m->vm_name, name))
				continue;
			if (m->phase == MIG_DONE)
				return true;
			active |= m->phase != MIG_FAILED && m->phase != MIG_INDOUBT;
		}
		if (!active && vm_find(name) && !vm_find(name)->migrating)
			return false;
		thread_sleep_ns(200000000ULL);
	}
	return false;
}

/* quiet: wait until g's replication session has let go of the VM (dirty logging off). */
static void quiet(struct vm *vm)
{
	for (int i = 0; i < 100 && vm_find(vm->cfg.name) == vm && vm->mem.dirty; i++)
		thread_sleep_ns(100000000ULL);
}

/* evacuate_one: move one running guest away; false if it stays. */
static bool evacuate_one(struct vm *vm)
{
	char name[32], to[32];
	const char *err = NULL;
	tern_strlcpy(name, vm->cfg.name, sizeof(name));
	struct ha_guest *g = ha_guest_find(name);
	if (!target(name, g ? g->standby : NULL, to)) {
		kprintf("maintenance: no host can take %s; it stays here\n", name);
		return false;
	}
	if (g) {
		g->suspend = true;
		quiet(vm);
		thread_sleep_ns(2000000000ULL); /* the standby drops its replica of the same name */
	}
	bool moved = migrate_start(name, to, 0, 0, false, &err) == 0 && wait_migration(name);
	kprintf("maintenance: %s %s %s%s%s\n", name, moved ? "moved to" : "could not move to", to,
	        err ? ": " : "", err ? err : "");
	if (!moved && g)
		g->suspend = false;
	return moved;
}

/* evac_thread: every guest that runs here, one after another. */
static void evac_thread(void *arg)
{
	(void)arg;
	int moved = 0, left = 0;
	for (int i = 0; i < VM_MAX; i++) {
		struct vm *vm = vm_get(i);
		if (!vm || vm->state != VM_RUNNING || vm->migrating)
			continue;
		if (evacuate_one(vm))
			moved++;
		else
			left++;
	}
	kprintf("maintenance: evacuation done: %d guests moved, %d left here\n", moved, left);
	g_evacuating = false;
}

int ha_maintenance_evacuate(bool on)
{
	if (!on) {
		kprintf("maintenance off: this host takes guests and replicas again\n");
		return 0;
	}
	if (g_evacuating) {
		kprintf("maintenance: an evacuation is already running\n");
		return -1;
	}
	g_evacuating = true;
	if (!thread_create("ha-evacuate", evac_thread, NULL, 0)) { /* not netd's CPU */
		g_evacuating = false;
		return -1;
	}
	kprintf("maintenance: evacuating the guests that run here\n");
	return 0;
}
