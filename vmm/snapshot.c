/* Placeholder until the state stream lands: snapshot/restore report "not implemented". */
#include "vmm/snapshot.h"
#include "vmm/vm.h"

int vm_snapshot(struct vm *vm, const char **err)
{
	(void)vm;
	*err = "snapshots are not implemented yet";
	return -1;
}

int vm_restore(struct vm *vm, const char **err)
{
	(void)vm;
	*err = "snapshots are not implemented yet";
	return -1;
}

const char *snapshot_describe(struct vm *vm)
{
	(void)vm;
	return "none";
}
