/* The HA membership agent (kernel glue around ha/member.c; docs/ha.md). */
#ifndef TERN_HA_AGENT_H
#define TERN_HA_AGENT_H

#include "ha/member.h"

/* ha_agent_start: with a cluster key and peers or a witness, start heartbeats (boot). */
void ha_agent_start(void);

/* ha_agent_running: the agent was started. */
bool ha_agent_running(void);

/* ha_agent_snapshot: a consistent copy of the membership state (false if HA is off). */
bool ha_agent_snapshot(struct ha_cluster *out);

/* ha_agent_set_maintenance: this host's maintenance flag (carried in heartbeats). */
void ha_agent_set_maintenance(bool on);

/* ha_agent_freeze: test aid: the agent thread stops (no heartbeats, no watchdog pets). */
void ha_agent_freeze(void);

/* Configuration as read from tern.conf. */
struct ha_config {
	bool enabled, enabled_set;
	uint32_t interval_ms, misses, fence_timeout_ms;
	uint16_t port;
	bool witness;
	uint32_t witness_ip;
	uint16_t witness_port;
	bool watchdog;
	uint64_t max_skew_ms;
};
const struct ha_config *ha_agent_config(void);

/* ha_agent_fence_stats: how many times this host fenced, and the last fence's duration. */
void ha_agent_fence_stats(uint64_t *count, uint64_t *last_ms);
/* ha_agent_rx_overflow: received datagrams dropped because the agent's queue was full. */
uint64_t ha_agent_rx_overflow(void);

#endif
