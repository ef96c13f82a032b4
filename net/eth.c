/* Ethernet II framing (IEEE 802.3 clause 3): receive demux and transmit through the driver. */
#include "net/net_internal.h"

static const uint8_t bcast_mac[NET_ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t zero_pad[NET_ETH_MINLEN];

/* eth_is_bcast: ff:ff:ff:ff:ff:ff. */
bool eth_is_bcast(const uint8_t *mac)
{
	return memcmp(mac, bcast_mac, NET_ETH_ALEN) == 0;
}

/* net_rx: hand one received Ethernet frame (no FCS) to the stack. */
void net_rx(struct netif *nif, const void *frame, size_t len, uint64_t now_us)
{
	struct net_stack *s = nif ? nif->stack : NULL;
	if (!s || (!frame && len))
		return;
	net_enter(s, now_us);
	const uint8_t *p = frame;
	nif->stats.rx_packets++;
	nif->stats.rx_bytes += len;
	net_count(&s->stats.eth, false, len);
	if (len < NET_ETH_HLEN) {
		net_drop(s, nif, NET_DROP_TRUNCATED);
		goto out;
	}
	bool bcast = eth_is_bcast(p);
	if (bcast)
		nif->stats.rx_broadcast++;
	else if (memcmp(p, nif->mac, NET_ETH_ALEN) != 0) {
		net_drop(s, nif, NET_DROP_NOT_FOR_US); /* other station or multicast */
		goto out;
	}
	if (p[6] & 1) {
		net_drop(s, nif, NET_DROP_MARTIAN); /* group address as source */
		goto out;
	}
	uint16_t type = get_be16(p + 12);
	if (type == ETH_P_IP)
		ip_input(s, nif, p + NET_ETH_HLEN, len - NET_ETH_HLEN);
	else if (type == ETH_P_ARP)
		arp_input(s, nif, p + NET_ETH_HLEN, len - NET_ETH_HLEN);
	else
		net_drop(s, nif, NET_DROP_UNSUPPORTED); /* VLAN, IPv6, LLC... */
out:
	net_leave(s);
}

/* driver_send: hand a gather list to the driver, padding to the Ethernet minimum. */
static int driver_send(struct net_stack *s, struct netif *nif, struct net_iov *iov, unsigned n,
                       size_t len)
{
	if (!nif->link_up) {
		nif->stats.tx_dropped++;
		net_drop(s, NULL, NET_DROP_LINK_DOWN);
		return NET_ENETUNREACH;
	}
	if (len < NET_ETH_MINLEN) {
		ASSERT(n < TX_IOV + 1);
		iov[n].base = zero_pad;
		iov[n].len = NET_ETH_MINLEN - len;
		n++;
		len = NET_ETH_MINLEN;
	}
	int r = nif->ops->send(nif, iov, n, len);
	if (r < 0) {
		nif->stats.tx_errors++;
		net_drop(s, NULL, NET_DROP_TX_ERROR);
		return r;
	}
	nif->stats.tx_packets++;
	nif->stats.tx_bytes += len;
	net_count(&s->stats.eth, true, len);
	return NET_OK;
}

/* eth_output: fill the Ethernet header of tx and hand the frame to the driver. */
int eth_output(struct net_stack *s, struct netif *nif, const uint8_t *dst, const uint8_t *src_mac,
               uint16_t type, struct net_tx *tx, size_t hdr_len)
{
	struct net_iov iov[TX_IOV + 1];
	memcpy(tx->hdr + TX_ETH, dst, NET_ETH_ALEN);
	memcpy(tx->hdr + TX_ETH + 6, src_mac ? src_mac : nif->mac, NET_ETH_ALEN);
	put_be16(tx->hdr + TX_ETH + 12, type);
	tx->iov[0].base = tx->hdr;
	tx->iov[0].len = hdr_len;
	memcpy(iov, tx->iov, tx->niov * sizeof(iov[0]));
	return driver_send(s, nif, iov, tx->niov, hdr_len + tx->payload_len);
}

/* eth_send_linear: send an already complete frame (queued ARP frames). */
int eth_send_linear(struct net_stack *s, struct netif *nif, const uint8_t *frame, size_t len)
{
	struct net_iov iov[2] = {{frame, len}};
	return driver_send(s, nif, iov, 1, len);
}
