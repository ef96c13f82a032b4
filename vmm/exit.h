/* Exit dispatch (vmm/exit.c). */
#ifndef TERN_EXIT_H
#define TERN_EXIT_H

#include "vmm/vcpu.h"

extern const char *const exit_reason_names[NR_EXIT_REASONS];
/* vcpu_handle_exit: count and handle one exit; -1 if the VM was stopped by a guest error. */
int vcpu_handle_exit(struct vcpu *v, struct vmexit *e);

#endif
