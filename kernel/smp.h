/* Multiprocessor start-up: bring every CPU the MADT lists online (INIT-SIPI-SIPI). */
#ifndef TERN_SMP_H
#define TERN_SMP_H

#include "boot/bootinfo.h"

/* smp_init: start the application processors; returns how many CPUs are online. */
int smp_init(const struct boot_info *bi);
/* cpus_online: count of online CPUs. */
int cpus_online(void);

#endif
