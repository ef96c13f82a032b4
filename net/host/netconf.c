/* Network configuration from tern.conf; see netconf.h and docs/config.md. */
#include "net/host/netconf.h"
#include "drivers/nic.h"
#include "kernel/args.h"
#include "kernel/config.h"
#include "kernel/log.h"
#include "kernel/string.h"
#include "net/host/netd.h"

static struct {
	bool set;
	uint32_t ip;
	unsigned prefix;
} g_addr[NETD_MAX_IFS];
static uint32_t g_gateway;
static unsigned g_services = NET_SVC_ECHO | NET_SVC_DISCARD | NET_SVC_CHARGEN;

/* set_ip_for: `ip` (eth0) or `ip.ethN`. */
static const char *set_ip_for(int idx, const char *v)
{
	uint32_t ip;
	unsigned prefix;
	if (!parse_ipv4_prefix(v, &ip, &prefix) || prefix == 0)
		return "expected ADDRESS/PREFIX, e.g. 169.254.77.1/24";
	g_addr[idx] = (typeof(g_addr[idx])){true, ip, prefix};
	return NULL;
}

static const char *key_ip(const char *v)
{
	return set_ip_for(0, v);
}
CONF_KEY(ip, "ip", key_ip);

#define IP_ETH(n)                                                                                  \
	static const char *key_ip_eth##n(const char *v)                                            \
	{                                                                                          \
		return set_ip_for(n, v);                                                           \
	}                                                                                          \
	CONF_KEY(ip_eth##n, "ip.eth" #n, key_ip_eth##n)
IP_ETH(1);
IP_ETH(2);
IP_ETH(3);

static uint32_t g_mtu_all, g_mtu[NETD_MAX_IFS]; /* `mtu`, `mtu.ethN`; 0 = not set */

/* set_mtu_for: `mtu` (idx -1: every interface without its own) or `mtu.ethN`. */
static const char *set_mtu_for(int idx, const char *v)
{
	uint64_t mtu;
	if (!parse_u64(v, &mtu) || mtu < 576 || mtu > NIC_MTU_JUMBO)
		return "expected an MTU from 576 to 9000 (1500 is standard Ethernet, 9000 jumbo "
		       "frames)";
	*(idx < 0 ? &g_mtu_all : &g_mtu[idx]) = (uint32_t)mtu;
	return NULL;
}

static const char *key_mtu(const char *v)
{
	return set_mtu_for(-1, v);
}
CONF_KEY(mtu, "mtu", key_mtu);

#define MTU_ETH(n)                                                                                 \
	static const char *key_mtu_eth##n(const char *v)                                           \
	{                                                                                          \
		return set_mtu_for(n, v);                                                          \
	}                                                                                          \
	CONF_KEY(mtu_eth##n, "mtu.eth" #n, key_mtu_eth##n)
MTU_ETH(0);
MTU_ETH(1);
MTU_ETH(2);
MTU_ETH(3);

uint32_t netconf_mtu(int i, uint32_t max_mtu)
{
	uint32_t want = i < NETD_MAX_IFS && g_mtu[i] ? g_mtu[i] : g_mtu_all;
	if (!want)
		want = NIC_MTU_DEFAULT;
	if (want <= max_mtu)
		return want;
	klog("net: eth%d: MTU %u asked for, but the NIC carries at most %u: using %u", i, want,
	     max_mtu, max_mtu);
	return max_mtu;
}

static const char *key_gateway(const char *v)
{
	if (!parse_ipv4(v, &g_gateway))
		return "expected an IPv4 address";
	return NULL;
}
CONF_KEY(gateway, "gateway", key_gateway);

/* key_services: "echo,discard,chargen" in any combination, or "none". */
static const char *key_services(const char *v)
{
	unsigned mask = 0;
	char buf[64];
	if (tern_strlcpy(buf, v, sizeof(buf)) >= sizeof(buf))
		return "too long";
	if (strcmp(buf, "none") != 0) {
		for (char *w = buf, *end; *w; w = end) {
			end = strchr(w, ',');
			if (end)
				*end++ = 0;
			else
				end = w + strlen(w);
			if (!strcmp(w, "echo"))
				mask |= NET_SVC_ECHO;
			else if (!strcmp(w, "discard"))
				mask |= NET_SVC_DISCARD;
			else if (!strcmp(w, "chargen"))
				mask |= NET_SVC_CHARGEN;
			else
				return "services are echo, discard, chargen (comma separated) or "
				       "none";
		}
	}
	g_services = mask;
	return NULL;
}
CONF_KEY(services, "services", key_services);

const char *netconf_set_addr(int ifindex, uint32_t ip, unsigned prefix, uint32_t gw)
{
	struct netif *nif = ifindex < netd.nifs ? &netd.nif[ifindex] : NULL;
	if (!nif)
		return "no such interface";
	spin_lock(&netd.lock);
	int rc = net_if_set_ipv4(nif, ip, prefix, gw, netd_now_us());
	spin_unlock(&netd.lock);
	return rc < 0 ? net_strerror(rc) : NULL;
}

void netconf_apply(void)
{
	spin_lock(&netd.lock);
	net_services_set(netd.stack, g_services);
	spin_unlock(&netd.lock);
	for (int i = 0; i < NETD_MAX_IFS; i++) {
		if (!g_addr[i].set)
			continue;
		char a[16];
		format_ipv4(g_addr[i].ip, a, sizeof(a));
		const char *err =
		    netconf_set_addr(i, g_addr[i].ip, g_addr[i].prefix, i == 0 ? g_gateway : 0);
		if (err)
			klog("net: eth%d: address %s/%u not set: %s", i, a, g_addr[i].prefix, err);
		else
			klog("net: eth%d: %s/%u", i, a, g_addr[i].prefix);
	}
}
