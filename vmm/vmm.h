/* VMM start-up: choose the backend for this CPU vendor and initialise it on every CPU. */
#ifndef TERN_VMM_H
#define TERN_VMM_H

#include "vmm/vcpu.h"

/* vmm_init: detect, enable on all online CPUs; vmm stays NULL if there is no usable backend. */
void vmm_init(void);

#endif
