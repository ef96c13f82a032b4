/* HA output commit hook for the virtio-net transmit path (ha/output.c; see ha/replica.h). */
#ifndef TERN_HA_OUTPUT_H
#define TERN_HA_OUTPUT_H

#include "kernel/compiler.h"

struct vm;
struct vsw_iov;

/* ha_out_hold: called for every frame an HA guest transmits (vm->ha set): true if the frame
 * was taken (held until its checkpoint is acknowledged, or dropped because the buffer is
 * full), false if it should go to the switch now (the guest is not replicated). */
bool ha_out_hold(struct vm *vm, int port, const struct vsw_iov *iov, unsigned cnt, size_t len);

#endif
