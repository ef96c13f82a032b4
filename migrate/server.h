/* The peer service (migrate/server.c): control and migration connections from other hosts. */
#ifndef TERN_SERVER_H
#define TERN_SERVER_H

/* peer_service_start: listen on the cluster port if tern.conf has a cluster key. */
void peer_service_start(void);

#endif
