/* Console commands of HA replication: `ha add|remove NAME`, `ha guests` (the `ha` command of
 * ha/hacmd.c passes every sub-command it does not know to ha_replica_command). */
#include "ha/ha.h"
#include "kernel/shell.h"
#include "ha/replica.h"
#include "kernel/log.h"
#include "kernel/string.h"
#include "vmm/vm.h"

/* cmd_add: `ha add NAME`: replicate a VM to a standby from now on. */
static int cmd_add(int argc, char **argv)
{
	const char *err;
	if (argc != 2)
		return shell_usage("ha add NAME");
	if (ha_guest_add(argv[1], &err) < 0)
		return shell_error("%s", err);
	kprintf("%s is an HA guest: it is replicated to a standby while it runs\n", argv[1]);
	return 0;
}

/* cmd_remove: `ha remove NAME`: stop replicating (the standby drops its replica). */
static int cmd_remove(int argc, char **argv)
{
	const char *err;
	if (argc != 2)
		return shell_usage("ha remove NAME");
	if (ha_guest_remove(argv[1], &err) < 0)
		return shell_error("%s", err);
	kprintf("%s is no longer an HA guest\n", argv[1]);
	return 0;
}

/* cmd_list: the HA guest and replica lines of `ha status`. */
static int cmd_list(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (ha_guest_lines() == 0)
		kprintf("no HA guests or replicas on this host\n");
	return 0;
}

static const struct shell_sub g_subs[] = {
    {"add", "ha add NAME", "replicate a running VM to a standby host (HA guest)", cmd_add},
    {"remove", "ha remove NAME", "stop replicating a VM", cmd_remove},
    {"guests", "ha guests", "HA guests and replicas on this host", cmd_list},
};

int ha_replica_command(int argc, char **argv)
{
	for (size_t i = 0; argc >= 2 && i < ARRAY_SIZE(g_subs); i++)
		if (!strcmp(argv[1], g_subs[i].name))
			return g_subs[i].fn(argc - 1, argv + 1);
	return HA_CMD_UNKNOWN;
}

void ha_replica_usage(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(g_subs); i++)
		kprintf("  %-44s %s\n", g_subs[i].usage, g_subs[i].help);
}
