/* Console commands for the host network: ip, ping, arp, net stats, tcp. */
#include "drivers/nic.h"
#include "kernel/args.h"
#include "kernel/console.h"
#include "kernel/fmt.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/shell.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "net/host/netconf.h"
#include "net/host/ksock.h"
#include "net/host/bridge.h"
#include "net/host/netd.h"

/* need_stack: commands need the stack and at least one interface. */
static bool need_stack(void)
{
	if (netd_ready() && netd.nifs)
		return true;
	shell_error("no network interface (see `pci` and `log`)");
	return false;
}

/* show_ifs: one block per interface. */
static void show_ifs(void)
{
	for (int i = 0; i < netd.nifs; i++) {
		struct netif *n = &netd.nif[i];
		struct nic *nic = netd.nic[i];
		char a[16], g[16];
		format_ipv4(n->addr, a, sizeof(a));
		format_ipv4(n->gw, g, sizeof(g));
		kprintf("%s: %s, link %s, mtu %u, mac %02x:%02x:%02x:%02x:%02x:%02x\n", n->name,
		        nic->model, n->link_up ? "up" : "down", n->mtu, n->mac[0], n->mac[1],
		        n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
		if (n->addr)
			kprintf("    inet %s/%u%s%s\n", a, n->prefix_len, n->gw ? " gateway " : "",
			        n->gw ? g : "");
		else
			kprintf("    no address (ip addr ADDR/PREFIX)\n");
	}
}

/* cmd_ip: `ip` shows interfaces; `ip addr [IF] ADDR/PREFIX [gw GW]` sets an address. */
static int cmd_ip(int argc, char **argv)
{
	const char *usage = "ip [addr [ethN] ADDR/PREFIX [gw GATEWAY]]";
	if (!need_stack())
		return 1;
	if (argc == 1) {
		show_ifs();
		return 0;
	}
	if (strcmp(argv[1], "addr") != 0 || argc < 3)
		return shell_usage(usage);
	int a = 2, idx = 0;
	if (!strncmp(argv[a], "eth", 3)) {
		uint64_t n;
		if (!parse_u64(argv[a] + 3, &n) || n >= (uint64_t)netd.nifs)
			return shell_error("no interface %s", argv[a]);
		idx = (int)n;
		a++;
	}
	uint32_t ip, gw = 0;
	unsigned prefix;
	if (a >= argc || !parse_ipv4_prefix(argv[a], &ip, &prefix) || prefix == 0)
		return shell_error("expected ADDRESS/PREFIX, e.g. 169.254.77.1/24");
	a++;
	if (a < argc) {
		if (strcmp(argv[a], "gw") != 0 || a + 2 != argc || !parse_ipv4(argv[a + 1], &gw))
			return shell_usage(usage);
	}
	const char *err = netconf_set_addr(idx, ip, prefix, gw);
	if (err)
		return shell_error("%s", err);
	show_ifs();
	return 0;
}
SHELL_COMMAND(ip, "ip", "ip [addr [ethN] ADDR/PREFIX [gw GATEWAY]]",
              "show interfaces, or set an address", cmd_ip);

/* Ping state shared with the reply handler (netd.lock). */
static struct {
	struct waitq wq;
	uint16_t id, seq;
	bool got;
	struct net_ping_reply r;
} g_ping;

static void ping_reply(void *arg, const struct net_ping_reply *r)
{
	(void)arg;
	if (r->id != g_ping.id || r->seq != g_ping.seq)
		return;
	g_ping.r = *r;
	g_ping.got = true;
	waitq_wake_all(&g_ping.wq);
}

/* print_ms: microseconds as milliseconds with three decimals. */
static void print_ms(uint64_t us)
{
	kprintf("%llu.%03llu", (unsigned long long)(us / 1000), (unsigned long long)(us % 1000));
}

/* cmd_ping: COUNT echo requests one second apart, RTTs and a summary; Ctrl-C stops. */
static int cmd_ping(int argc, char **argv)
{
	uint32_t dst;
	uint64_t count = 4;
	if (argc < 2 || argc > 3)
		return shell_usage("ping ADDR [COUNT]");
	if (!parse_ipv4(argv[1], &dst))
		return shell_error("'%s' is not an IPv4 address", argv[1]);
	if (argc == 3 && (!parse_u64(argv[2], &count) || count < 1 || count > 1000000))
		return shell_error("COUNT must be 1-1000000");
	if (!need_stack())
		return 1;
	uint64_t sent = 0, rcvd = 0, min = ~0ULL, max = 0, sum = 0;
	spin_lock(&netd.lock);
	net_ping_set_handler(netd.stack, ping_reply, NULL);
	g_ping.id = (uint16_t)(rdtsc() & 0xffff);
	spin_unlock(&netd.lock);
	kprintf("PING %s: 56 data bytes\n", argv[1]);
	for (uint64_t i = 0; i < count; i++) {
		uint64_t start = rdtsc();
		spin_lock(&netd.lock);
		g_ping.seq = (uint16_t)(i + 1);
		g_ping.got = false;
		int rc = net_ping_send(netd.stack, dst, g_ping.id, g_ping.seq, 56, netd_now_us());
		sent++;
		while (rc == 0 && !g_ping.got)
			if (!waitq_wait(&g_ping.wq, &netd.lock, start + ns_to_tsc(1000000000ULL)))
				break;
		bool got = g_ping.got;
		struct net_ping_reply r = g_ping.r;
		spin_unlock(&netd.lock);
		netd_kick();
		if (rc < 0) {
			kprintf("icmp_seq=%llu: %s\n", (unsigned long long)(i + 1),
			        net_strerror(rc));
		} else if (got) {
			char from[16];
			format_ipv4(r.from, from, sizeof(from));
			kprintf("%u bytes from %s: icmp_seq=%u ttl=%u time=", r.len + 8, from,
			        r.seq, r.ttl);
			print_ms(r.rtt_us);
			kprintf(" ms\n");
			rcvd++;
			sum += r.rtt_us;
			min = MIN(min, r.rtt_us);
			max = MAX(max, r.rtt_us);
		} else {
			kprintf("icmp_seq=%llu: no reply\n", (unsigned long long)(i + 1));
		}
		if (shell_interrupted())
			break;
		uint64_t next = start + ns_to_tsc(1000000000ULL);
		if (i + 1 < count && rdtsc() < next)
			thread_sleep_ns(tsc_to_ns(next - rdtsc()));
	}
	kprintf(
	    "--- %s ping statistics ---\n%llu packets transmitted, %llu received, %llu%% packet "
	    "loss\n",
	    argv[1], (unsigned long long)sent, (unsigned long long)rcvd,
	    (unsigned long long)((sent - rcvd) * 100 / sent));
	if (rcvd) {
		kprintf("rtt min/avg/max = ");
		print_ms(min);
		kprintf("/");
		print_ms(sum / rcvd);
		kprintf("/");
		print_ms(max);
		kprintf(" ms\n");
	}
	return rcvd ? 0 : 1;
}
SHELL_COMMAND(ping, "ping", "ping ADDR [COUNT]", "send ICMP echo requests, show round trips",
              cmd_ping);

static const char *const g_arp_state[] = {"free", "incomplete", "reachable", "probe", "static"};

static int cmd_arp(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return shell_usage("arp");
	if (!need_stack())
		return 1;
	struct net_arp_info *t = kmalloc(64 * sizeof(*t));
	if (!t)
		return shell_error("out of memory");
	spin_lock(&netd.lock);
	size_t n = net_arp_snapshot(netd.stack, t, 64, netd_now_us());
	spin_unlock(&netd.lock);
	kprintf("%-16s %-18s %-11s %-5s %8s\n", "ADDRESS", "MAC", "STATE", "IF", "AGE-S");
	for (size_t i = 0; i < n; i++) {
		char a[16];
		format_ipv4(t[i].ip, a, sizeof(a));
		kprintf("%-16s %02x:%02x:%02x:%02x:%02x:%02x  %-11s eth%-2u %8llu\n", a,
		        t[i].mac[0], t[i].mac[1], t[i].mac[2], t[i].mac[3], t[i].mac[4],
		        t[i].mac[5], t[i].state <= NET_ARP_STATIC ? g_arp_state[t[i].state] : "?",
		        t[i].ifindex, (unsigned long long)(t[i].age_us / 1000000));
	}
	kfree(t);
	return 0;
}
SHELL_COMMAND(arp, "arp", "arp", "show the ARP cache", cmd_arp);

/* proto_row: one protocol line of `net stats`. */
static void proto_row(const char *name, const struct net_proto_stats *p)
{
	kprintf("  %-5s rx %10llu pkts %14llu bytes   tx %10llu pkts %14llu bytes\n", name,
	        (unsigned long long)p->rx_packets, (unsigned long long)p->rx_bytes,
	        (unsigned long long)p->tx_packets, (unsigned long long)p->tx_bytes);
}

static int cmd_net(int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[1], "stats") != 0)
		return shell_usage("net stats");
	if (!need_stack())
		return 1;
	struct net_stats *st = kmalloc(sizeof(*st));
	if (!st)
		return shell_error("out of memory");
	spin_lock(&netd.lock);
	net_get_stats(netd.stack, st);
	spin_unlock(&netd.lock);
	kprintf("interfaces:\n");
	for (int i = 0; i < netd.nifs; i++) {
		struct nic_stats *n = &netd.nic[i]->stats;
		struct netif_stats *f = &netd.nif[i].stats;
		kprintf("  %-5s rx %10llu pkts %14llu bytes %6llu dropped   tx %10llu pkts %14llu "
		        "bytes %6llu dropped, %llu interrupts\n",
		        netd.nif[i].name, (unsigned long long)n->rx_packets,
		        (unsigned long long)n->rx_bytes,
		        (unsigned long long)(n->rx_dropped + f->rx_dropped),
		        (unsigned long long)n->tx_packets, (unsigned long long)n->tx_bytes,
		        (unsigned long long)(n->tx_dropped + f->tx_dropped),
		        (unsigned long long)n->irqs);
		kprintf("        %llu frames waited for room in the transmit ring, %llu transmit "
		        "doorbells\n",
		        (unsigned long long)netd.txq[i].queued,
		        (unsigned long long)n->tx_doorbells);
	}
	bridge_print();
	kprintf("protocols:\n");
	proto_row("eth", &st->eth);
	proto_row("arp", &st->arp);
	proto_row("ip", &st->ip);
	proto_row("icmp", &st->icmp);
	proto_row("udp", &st->udp);
	proto_row("tcp", &st->tcp);
	kprintf("tcp: %llu active opens, %llu passive, %llu now, %llu retransmitted segments, "
	        "%llu timeouts, %llu fast retransmits, %llu resets sent, %llu received\n",
	        (unsigned long long)st->tcpx.active_opens,
	        (unsigned long long)st->tcpx.passive_opens, (unsigned long long)st->tcpx.conns_now,
	        (unsigned long long)st->tcpx.retrans_segs,
	        (unsigned long long)st->tcpx.rto_timeouts,
	        (unsigned long long)st->tcpx.fast_retransmits,
	        (unsigned long long)st->tcpx.rst_sent, (unsigned long long)st->tcpx.rst_rcvd);
	kprintf("drops:\n");
	for (int r = 0; r < NET_DROP__COUNT; r++)
		if (st->drops[r])
			kprintf("  %-16s %12llu\n", net_drop_name((enum net_drop_reason)r),
			        (unsigned long long)st->drops[r]);
	kprintf("memory: %llu KiB in use, peak %llu KiB\n",
	        (unsigned long long)(st->mem_used >> 10), (unsigned long long)(st->mem_peak >> 10));
	kfree(st);
	return 0;
}
SHELL_COMMAND(net, "net", "net stats", "per-interface and per-protocol counters, drops by reason",
              cmd_net);

/* tcp_table: the connection table. */
static int tcp_table(int argc, char **argv)
{
	(void)argc, (void)argv;
	struct tcp_conn_info *t = kmalloc(128 * sizeof(*t));
	if (!t)
		return shell_error("out of memory");
	spin_lock(&netd.lock);
	size_t n = tcp_snapshot(netd.stack, t, 128);
	spin_unlock(&netd.lock);
	kprintf("%-21s %-21s %-12s %8s %8s %8s %8s\n", "LOCAL", "REMOTE", "STATE", "SEND-Q",
	        "RECV-Q", "RTT-MS", "CWND");
	for (size_t i = 0; i < n; i++) {
		char l[16], r[16], la[24], ra[24];
		format_ipv4(t[i].local_ip, l, sizeof(l));
		format_ipv4(t[i].remote_ip, r, sizeof(r));
		fmt_snprintf(la, sizeof(la), "%s:%u", l, t[i].local_port);
		fmt_snprintf(ra, sizeof(ra), "%s:%u", r, t[i].remote_port);
		kprintf("%-21s %-21s %-12s %8u %8u %4u.%03u %8u\n", la, ra,
		        tcp_state_name(t[i].state), t[i].snd_queue, t[i].rcv_queue,
		        t[i].srtt_us / 1000, t[i].srtt_us % 1000, t[i].cwnd);
	}
	kfree(t);
	return 0;
}

/* The test pattern of `tcp send` / `tcp recv`: byte i of a stream is i mod 251. */
#define PATTERN_MOD 251

/* connect_arg: ADDR PORT from argv, connected; NULL after printing an error. */
static struct ksock *connect_arg(const char *addr, const char *port_s)
{
	uint32_t ip;
	uint64_t port;
	int err = 0;
	if (!parse_ipv4(addr, &ip)) {
		shell_error("'%s' is not an IPv4 address", addr);
		return NULL;
	}
	if (!parse_u64(port_s, &port) || port < 1 || port > 65535) {
		shell_error("PORT must be 1-65535");
		return NULL;
	}
	struct ksock *s = ksock_connect(ip, (uint16_t)port, 5000, &err);
	if (!s)
		shell_error("connect to %s:%llu: %s", addr, (unsigned long long)port,
		            net_strerror(err));
	return s;
}

/* report: "N bytes in T s (R MB/s)". */
static void report(const char *what, uint64_t bytes, uint64_t ns)
{
	uint64_t ms = ns / 1000000 ? ns / 1000000 : 1;
	uint64_t kbps = bytes * 1000 / ms / 1000; /* kB/s */
	kprintf("%s %llu bytes in %llu.%03llu s (%llu.%03llu MB/s)\n", what,
	        (unsigned long long)bytes, (unsigned long long)(ms / 1000),
	        (unsigned long long)(ms % 1000), (unsigned long long)(kbps / 1000),
	        (unsigned long long)(kbps % 1000));
}

/* tcp_send: connect, send SIZE bytes of the test pattern, wait for the acks, close. */
static int tcp_send(int argc, char **argv)
{
	uint64_t size;
	if (argc != 4 || !parse_size(argv[3], &size) || size == 0)
		return shell_usage("tcp send ADDR PORT SIZE");
	struct ksock *s = connect_arg(argv[1], argv[2]);
	if (!s)
		return 1;
	static uint8_t pat[PATTERN_MOD * 256];
	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i % PATTERN_MOD);
	uint64_t t0 = time_ns(), sent = 0;
	int rc = 0;
	while (sent < size && rc == 0) {
		size_t off = sent % PATTERN_MOD;
		size_t n = (size_t)MIN(size - sent, (uint64_t)(sizeof(pat) - PATTERN_MOD));
		rc = ksock_send(s, pat + off, n, 30000);
		if (rc == 0)
			sent += n;
	}
	if (rc == 0)
		rc = ksock_drain(s, 60000);
	uint64_t ns = time_ns() - t0;
	if (rc) {
		ksock_abort(s);
		return shell_error("send failed after %llu bytes: %s", (unsigned long long)sent,
		                   net_strerror(rc));
	}
	ksock_close(s);
	report("sent", sent, ns);
	return 0;
}

/* tcp_recv: connect, read until the peer closes, check the pattern. */
static int tcp_recv(int argc, char **argv)
{
	if (argc != 3)
		return shell_usage("tcp recv ADDR PORT");
	struct ksock *s = connect_arg(argv[1], argv[2]);
	if (!s)
		return 1;
	static uint8_t buf[64 * 1024];
	uint64_t t0 = time_ns(), got = 0, bad = 0;
	long n;
	while ((n = ksock_recv_some(s, buf, sizeof(buf), 30000)) > 0) {
		for (long i = 0; i < n; i++)
			bad += buf[i] != (uint8_t)((got + (uint64_t)i) % PATTERN_MOD);
		got += (uint64_t)n;
	}
	uint64_t ns = time_ns() - t0;
	ksock_close(s);
	if (n < 0)
		return shell_error("receive failed after %llu bytes: %s", (unsigned long long)got,
		                   net_strerror((int)n));
	report("received", got, ns);
	kprintf("pattern %s (%llu bad bytes)\n", bad ? "BAD" : "ok", (unsigned long long)bad);
	return bad ? 1 : 0;
}

static const struct shell_sub g_tcp_subs[] = {
    {"list", "tcp [list]", "connection table", tcp_table},
    {"send", "tcp send ADDR PORT SIZE", "send SIZE bytes of the test pattern, report MB/s",
     tcp_send},
    {"recv", "tcp recv ADDR PORT", "read until EOF, check the test pattern, report MB/s", tcp_recv},
};

static int cmd_tcp(int argc, char **argv)
{
	if (!need_stack())
		return 1;
	if (argc == 1)
		return tcp_table(argc, argv);
	return shell_dispatch_sub("tcp", g_tcp_subs, ARRAY_SIZE(g_tcp_subs), argc, argv);
}
SHELL_COMMAND(tcp, "tcp", "tcp [list|send ADDR PORT SIZE|recv ADDR PORT]",
              "TCP connections; a test client for throughput", cmd_tcp);
