/* VM state <-> stream (vmm/state.c); the format is in vmm/stream.h. */
#ifndef TERN_STATE_H
#define TERN_STATE_H

#include "kernel/compiler.h"

struct vm;
struct stream_out;
struct stream_in;
struct ram_enc;

#define STATE_RAM_RUN 512 /* pages per RAM run (2 MiB; RAMREC_MAX_PAGES) */

/* state_save: header, VM, vCPUs, devices and all of RAM (compressed with enc; see
 * state_save_ram_run); no END record. The VM must be quiesced. Returns 0 or -1 if the sink
 * failed. */
int state_save(struct vm *vm, struct stream_out *s, struct ram_enc *enc);
/* state_save_begin: header and VM record (the start of every stream). */
void state_save_begin(struct vm *vm, struct stream_out *s);
/* state_save_machine: every vCPU, LAPIC, FPU area and device (the VM must be quiesced). */
void state_save_machine(struct vm *vm, struct stream_out *s);
/* state_save_machine_ex: as state_save_machine, with (disks) or without the disk contents
 * (migration sends those as deltas before). */
void state_save_machine_ex(struct vm *vm, struct stream_out *s, bool disks);
/* state_save_ram_run: RAM records (vmm/ramrec.h) for pages [first, first + count), count <=
 * 512: version 2 through enc (compressed; enc->st counts the pages), or with enc NULL one
 * version-1 record (zero pages marked, the rest raw; what HA checkpoints carry). */
int state_save_ram_run(struct stream_out *s, struct vm *vm, uint64_t first, uint32_t count,
                       struct ram_enc *enc);
/* state_load: read a whole stream into a VM whose memory and vCPUs exist but do not run. */
int state_load(struct vm *vm, struct stream_in *in, const char **err);
/* state_check_vm / state_load_record: the pieces of state_load, for the migration receiver. */
const char *state_check_vm(struct vm *vm, const uint8_t *rec, uint32_t len);
const char *state_load_record(struct vm *vm, uint16_t type, uint16_t version, const uint8_t *rec,
                              uint32_t len);

#endif
