/* tern.conf network keys (`ip`, `ip.ethN`, `mtu`, `mtu.ethN`, `gateway`, `services`) and
 * applying them. */
#ifndef TERN_NETCONF_H
#define TERN_NETCONF_H

#include "kernel/compiler.h"

/* netconf_mtu: interface i's MTU: tern.conf `mtu` / `mtu.ethN` (default 1500), capped at what
 * the NIC carries (max_mtu; logged when tern.conf asked for more). */
uint32_t netconf_mtu(int i, uint32_t max_mtu);
/* netconf_apply: give the interfaces the addresses tern.conf asked for (after NICs attach). */
void netconf_apply(void);
/* netconf_set_addr: address an interface now (console `ip addr`); error text or NULL. */
const char *netconf_set_addr(int ifindex, uint32_t ip, unsigned prefix, uint32_t gw);

#endif
