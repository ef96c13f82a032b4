/* NIC registry and probing; see nic.h. */
#include "drivers/nic.h"
#include "drivers/pci.h"
#include "kernel/fmt.h"
#include "kernel/log.h"

#define MAX_NICS 8

extern const struct nic_driver __nic_drivers_start[], __nic_drivers_end[];

static struct nic *g_nics[MAX_NICS];
static int g_count;

void nic_register(struct nic *n)
{
	if (g_count >= MAX_NICS) {
		klog("nic: too many NICs, %s ignored", n->model);
		return;
	}
	if (!n->max_mtu)
		n->max_mtu = NIC_MTU_DEFAULT;
	fmt_snprintf(n->name, sizeof(n->name), "eth%d", g_count);
	g_nics[g_count++] = n;
	klog("nic: %s: %s at %02x:%02x.%x, MAC %02x:%02x:%02x:%02x:%02x:%02x, %s, MTU up to %u",
	     n->name, n->model, n->pci->bus, n->pci->dev, n->pci->fn, n->mac[0], n->mac[1],
	     n->mac[2], n->mac[3], n->mac[4], n->mac[5], n->has_irq ? "MSI-X interrupts" : "polled",
	     n->max_mtu);
}

void nic_probe_all(void)
{
	for (int i = 0; i < pci_count(); i++) {
		struct pci_dev *d = pci_get(i);
		for (const struct nic_driver *drv = __nic_drivers_start; drv < __nic_drivers_end;
		     drv++)
			if (drv->probe(d))
				break;
	}
}

int nic_count(void)
{
	return g_count;
}

struct nic *nic_get(int i)
{
	return i >= 0 && i < g_count ? g_nics[i] : NULL;
}

void nic_kick(struct nic *n)
{
	n->stats.irqs++;
	if (n->kick)
		n->kick(n->owner);
}
