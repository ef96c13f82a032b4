/* Cluster configuration from tern.conf; see peers.h and docs/config.md. */
#include "migrate/peers.h"
#include "kernel/args.h"
#include "kernel/config.h"
#include "kernel/log.h"
#include "kernel/string.h"
#include "migrate/crypto_util.h"

static uint8_t g_key[KEYS_CLUSTER_KEY_SIZE];
static bool g_have_key;
static uint16_t g_port = PEER_PORT_DEFAULT;
static struct peer g_peers[PEERS_MAX];
static int g_npeers;

/* key_cluster: `cluster_key = hex:...` (64 hex digits) or a passphrase (docs/crypto.md). */
static const char *key_cluster(const char *v)
{
	int rc = keys_parse_cluster_key(g_key, v, strlen(v));
	if (rc != CRYPTO_OK)
		return crypto_strerror(rc);
	g_have_key = true;
	return NULL;
}
CONF_KEY(cluster_key, "cluster_key", key_cluster);

static const char *key_port(const char *v)
{
	uint64_t p;
	if (!parse_u64(v, &p) || p < 1 || p > 65535)
		return "peer_port must be 1-65535";
	g_port = (uint16_t)p;
	return NULL;
}
CONF_KEY(peer_port, "peer_port", key_port);

static struct peer g_new;
static bool g_new_ok;

static void *peer_begin(const char *name, const char **err)
{
	if (g_npeers >= PEERS_MAX) {
		*err = "too many peers";
		return NULL;
	}
	memset(&g_new, 0, sizeof(g_new));
	tern_strlcpy(g_new.name, name, sizeof(g_new.name));
	g_new_ok = false;
	return &g_new;
}

static const char *peer_key(void *st, const char *key, const char *value)
{
	struct peer *p = st;
	if (strcmp(key, "address") != 0)
		return "unknown peer setting (expected address = IPv4)";
	if (!parse_ipv4(value, &p->ip))
		return "address must be an IPv4 address";
	g_new_ok = true;
	return NULL;
}

static void peer_end(void *st)
{
	struct peer *p = st;
	if (!g_new_ok) {
		klog("tern.conf: peer %s has no address, ignored", p->name);
		return;
	}
	g_peers[g_npeers++] = *p;
}
CONF_SECTION(peer, "peer", peer_begin, peer_key, peer_end);

bool peers_key(uint8_t key[KEYS_CLUSTER_KEY_SIZE])
{
	if (g_have_key)
		memcpy(key, g_key, KEYS_CLUSTER_KEY_SIZE);
	return g_have_key;
}

uint16_t peers_port(void)
{
	return g_port;
}

bool peer_resolve(const char *name, uint32_t *ip)
{
	for (int i = 0; i < g_npeers; i++)
		if (!strcmp(g_peers[i].name, name)) {
			*ip = g_peers[i].ip;
			return true;
		}
	return parse_ipv4(name, ip);
}

int peers_count(void)
{
	return g_npeers;
}

const struct peer *peers_get(int i)
{
	return i >= 0 && i < g_npeers ? &g_peers[i] : NULL;
}

const char *peer_name_of(uint32_t ip)
{
	for (int i = 0; i < g_npeers; i++)
		if (g_peers[i].ip == ip)
			return g_peers[i].name;
	return NULL;
}
