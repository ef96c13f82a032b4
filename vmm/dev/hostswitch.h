/*
 * The host's virtual switch: one vswitch (vmm/vswitch.h) shared by every VM on this host,
 * behind one spinlock, plus the `vswitch` console command.
 *
 * Attaching something to the switch (a guest NIC, and later the host NIC uplink and the host's
 * own IP stack):
 *
 *     static bool my_rx(void *priv, const struct vsw_iov *iov, unsigned n, size_t len)
 *     {   copy the frame out (or queue it) and return true; false counts a drop   }
 *     static const struct vsw_port_ops my_ops = {my_rx};
 *     int port = hostsw_port_add("uplink", &my_ops, me, VSW_PORT_UPLINK, NULL);
 *     ...
 *     hostsw_input(port, iov, n, len);   a frame from me into the switch (any thread)
 *     ...
 *     hostsw_port_del(port);             after this returns, my_rx is never called again
 *
 * my_rx runs with the switch lock held (interrupts off), on whatever thread sent the frame:
 * it must not call hostsw_* (deadlock), must not sleep, and must not take a lock that is held
 * by anyone who calls hostsw_input. Copy the frame into your own queue and wake your thread
 * (the host IP stack, for example, must not answer an ARP request from inside my_rx: it queues
 * the frame and processes it on its own thread). Frames are Ethernet without FCS, 14 to
 * VSW_MAX_FRAME bytes, passed as a gather list that is only valid during the call.
 */
#ifndef TERN_HOSTSWITCH_H
#define TERN_HOSTSWITCH_H

#include "kernel/compiler.h"
#include "vmm/vswitch.h"

/* hostsw_port_add: a new port (flags VSW_PORT_*, mac required with VSW_PORT_LOCK_MAC);
 * returns its number, or -1 if the switch is full. */
int hostsw_port_add(const char *name, const struct vsw_port_ops *ops, void *priv, uint32_t flags,
                    const uint8_t mac[6]);
void hostsw_port_del(int port);
/* hostsw_input: switch a frame sent by port's owner. */
void hostsw_input(int port, const struct vsw_iov *iov, unsigned iovcnt, size_t len);
/* hostsw_is_local_mac: mac is a locked port's (a guest NIC's on this host); takes only a
 * leaf lock, so any context may ask. */
bool hostsw_is_local_mac(const uint8_t mac[6]);

#endif
