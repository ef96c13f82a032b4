/* Random bytes for nonces and keys: RDRAND/RDSEED where the CPU has them, mixed with timing
 * jitter and boot state through a BLAKE2s-based generator. */
#ifndef TERN_RANDOM_H
#define TERN_RANDOM_H

#include "kernel/compiler.h"

/* random_init: seed the generator (boot, after time_init). */
void random_init(void);
/* random_bytes: fill buf with len unpredictable bytes. */
void random_bytes(void *buf, size_t len);

#endif
