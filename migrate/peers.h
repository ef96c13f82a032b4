/*
 * Cluster configuration: the shared key (`cluster_key`), the port hosts talk on
 * (`peer_port`, default 7700) and the known peers (`[peer NAME]` with `address = IP`).
 */
#ifndef TERN_PEERS_H
#define TERN_PEERS_H

#include "kernel/compiler.h"
#include "migrate/keys.h"

#define PEER_PORT_DEFAULT 7700
#define PEERS_MAX         16

struct peer {
	char name[32];
	uint32_t ip;
};

/* peers_key: the cluster key; false if tern.conf has none. */
bool peers_key(uint8_t key[KEYS_CLUSTER_KEY_SIZE]);
uint16_t peers_port(void);
/* peer_resolve: a peer name from tern.conf or a dotted IPv4 address. */
bool peer_resolve(const char *name, uint32_t *ip);
int peers_count(void);
const struct peer *peers_get(int i);
/* peer_name_of: the configured name of ip, or NULL. */
const char *peer_name_of(uint32_t ip);

#endif
