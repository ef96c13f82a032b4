/*
 * Intel 6300ESB watchdog timer, PCI 8086:25ab (Intel 6300ESB I/O Controller Hub datasheet,
 * section 13 "Watchdog Timer"; as emulated by QEMU's hw/watchdog/wdt_i6300esb.c).
 *
 * Two 20-bit down-counters run one after the other at about 1 kHz (PCI clock / 2^15): when
 * timer 1 expires (optionally an interrupt, disabled here) timer 2 starts; when timer 2
 * expires the chip asserts WDT_OUTPUT, which resets the machine. Each stage gets half the
 * timeout. Writes to the preload and reload registers need the unlock sequence 0x80, 0x86
 * written to the reload register first.
 */
#include "drivers/i6300esb.h"
#include "drivers/pci.h"
#include "kernel/log.h"
#include "kernel/spinlock.h"

#define ESB_VENDOR 0x8086
#define ESB_DEVICE 0x25ab

/* PCI configuration registers (datasheet 13.1). */
#define ESB_CONFIG_REG  0x60      /* WDT configuration, 16 bit */
#define ESB_LOCK_REG    0x68      /* WDT lock, 8 bit: needs a byte write */
#define ESB_WDT_REBOOT  (1u << 5) /* config: 1 = WDT_OUTPUT disabled */
#define ESB_WDT_FREQ    (1u << 2) /* config: 1 = 1 MHz, 0 = 1 kHz */
#define ESB_WDT_INTTYPE (3u << 0) /* config: 11 = no interrupt at timer 1 */
#define ESB_WDT_FUNC    (1u << 2) /* lock: 1 = free-running, 0 = watchdog mode */
#define ESB_WDT_ENABLE  (1u << 1) /* lock: timer enabled */
#define ESB_WDT_LOCK    (1u << 0) /* lock: settings locked until reset */

/* Memory-mapped registers in BAR 0 (datasheet 13.2). */
#define ESB_TIMER1_REG  0x00
#define ESB_TIMER2_REG  0x04
#define ESB_RELOAD_REG  0x0c
#define ESB_WDT_TIMEOUT (1u << 9) /* reload: the watchdog fired before this reset */
#define ESB_WDT_RELOAD  (1u << 8) /* reload: restart the count */
#define ESB_UNLOCK1     0x80
#define ESB_UNLOCK2     0x86
#define ESB_PRELOAD_MAX 0xfffffu

static struct pci_dev *g_dev;
static volatile uint8_t *g_regs;
static struct spinlock g_lock = SPINLOCK_INIT("i6300esb");
static bool g_armed, g_fired_before;
static uint32_t g_timeout_ms;

/* unlock: the two-write sequence that opens the next register write. */
static void unlock(void)
{
	*(volatile uint16_t *)(g_regs + ESB_RELOAD_REG) = ESB_UNLOCK1;
	*(volatile uint16_t *)(g_regs + ESB_RELOAD_REG) = ESB_UNLOCK2;
}

/* reload: restart the count (and clear the timeout flag with clear). */
static void reload(bool clear)
{
	unlock();
	*(volatile uint16_t *)(g_regs + ESB_RELOAD_REG) =
	    ESB_WDT_RELOAD | (clear ? ESB_WDT_TIMEOUT : 0);
}

/* esb_wdt_init: find the device, 1 kHz, no interrupt, output on, stopped. */
bool esb_wdt_init(void)
{
	g_dev = pci_find(ESB_VENDOR, ESB_DEVICE, 0);
	if (!g_dev)
		return false;
	pci_enable(g_dev);
	g_regs = pci_bar_map(g_dev, 0);
	if (!g_regs) {
		g_dev = NULL;
		return false;
	}
	pci_write16(g_dev, ESB_CONFIG_REG, ESB_WDT_INTTYPE);
	if (pci_read8(g_dev, ESB_LOCK_REG) & ESB_WDT_LOCK)
		klog("i6300esb: watchdog already locked by firmware");
	pci_write8(g_dev, ESB_LOCK_REG, 0); /* watchdog mode, disabled */
	unlock();
	g_fired_before = *(volatile uint16_t *)(g_regs + ESB_RELOAD_REG) & ESB_WDT_TIMEOUT;
	reload(true);
	klog("i6300esb: watchdog at %02x:%02x.%x%s", g_dev->bus, g_dev->dev, g_dev->fn,
	     g_fired_before ? " (the last reset was the watchdog's)" : "");
	return true;
}

/* esb_wdt_present: the device was found. */
bool esb_wdt_present(void)
{
	return g_dev != NULL;
}

/* esb_wdt_start: half the timeout in each stage, in ~1 ms ticks; then enable. */
void esb_wdt_start(uint32_t timeout_ms)
{
	if (!g_dev)
		return;
	uint32_t ticks = timeout_ms / 2;
	if (ticks < 1)
		ticks = 1;
	if (ticks > ESB_PRELOAD_MAX)
		ticks = ESB_PRELOAD_MAX;
	spin_lock(&g_lock);
	unlock();
	*(volatile uint32_t *)(g_regs + ESB_TIMER1_REG) = ticks;
	unlock();
	*(volatile uint32_t *)(g_regs + ESB_TIMER2_REG) = ticks;
	reload(false);
	pci_write8(g_dev, ESB_LOCK_REG, ESB_WDT_ENABLE);
	g_armed = true;
	g_timeout_ms = ticks * 2;
	spin_unlock(&g_lock);
}

/* esb_wdt_pet: reload the timer. */
void esb_wdt_pet(void)
{
	if (!g_dev || !g_armed)
		return;
	spin_lock(&g_lock);
	reload(false);
	spin_unlock(&g_lock);
}

/* esb_wdt_stop: disarm it. */
void esb_wdt_stop(void)
{
	if (!g_dev)
		return;
	spin_lock(&g_lock);
	pci_write8(g_dev, ESB_LOCK_REG, 0);
	g_armed = false;
	spin_unlock(&g_lock);
}

bool esb_wdt_armed(void)
{
	return g_armed;
}

uint32_t esb_wdt_timeout_ms(void)
{
	return g_timeout_ms;
}

bool esb_wdt_fired_before(void)
{
	return g_fired_before;
}
