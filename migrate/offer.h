/* The MSG_OFFER payload: the VM's configuration, as stream fields (vmm/stream.h). */
#ifndef TERN_OFFER_H
#define TERN_OFFER_H

#include "kernel/compiler.h"

struct vm;
struct vm_config;

/* offer_build: encode vm's configuration, uptime and whether the source will send memory
 * checksums (MSG_VERIFY) into buf; bytes used or 0. */
size_t offer_build(struct vm *vm, bool verify, uint8_t *buf, size_t cap);
/* offer_tsc_khz: the source host's TSC rate in kHz, 0 if the offer does not say (older
 * sources) or is malformed. */
uint64_t offer_tsc_khz(const uint8_t *buf, size_t len);
/* offer_parse: decode and validate (names, sizes, counts); NULL or an error message. */
const char *offer_parse(const uint8_t *buf, size_t len, struct vm_config *cfg, uint64_t *uptime_ns,
                        bool *verify);

#endif
