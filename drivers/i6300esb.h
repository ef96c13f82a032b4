/* Intel 6300ESB watchdog timer (QEMU `-device i6300esb`); used by the HA agent (docs/ha.md). */
#ifndef TERN_I6300ESB_H
#define TERN_I6300ESB_H

#include "kernel/compiler.h"

/* esb_wdt_init: find and set up the device (stopped); false if there is none. */
bool esb_wdt_init(void);
/* esb_wdt_present: the device was found. */
bool esb_wdt_present(void);
/* esb_wdt_start: arm it to reset the machine after timeout_ms without a pet (1 ms .. ~17 min). */
void esb_wdt_start(uint32_t timeout_ms);
/* esb_wdt_pet: reload the timer. */
void esb_wdt_pet(void);
/* esb_wdt_stop: disarm it. */
void esb_wdt_stop(void);
/* esb_wdt_armed / esb_wdt_timeout_ms / esb_wdt_fired_before: state for `ha status`. */
bool esb_wdt_armed(void);
uint32_t esb_wdt_timeout_ms(void);
bool esb_wdt_fired_before(void);

#endif
