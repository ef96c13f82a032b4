/*
 * Host-to-host control protocol: on an authenticated channel (CHAN_PROTO_CONTROL) a peer or
 * `ternctl` sends command lines; Tern runs those on an allow-list (status, VM listing and
 * information, migrations) and returns their console output. A migration can so be
 * triggered from the destination (`migrate pull`) or from a workstation.
 */
#ifndef TERN_CONTROL_H
#define TERN_CONTROL_H

#include "kernel/compiler.h"
#include "migrate/channel.h"

/* control_serve: answer requests until the peer hangs up. */
void control_serve(struct chan *ch);
/* control_request: run cmdline on peer; output (NUL-terminated) into out. 0 on success, the
 * remote command's status (> 0), or -1 with *err for a transport failure. */
int control_request(const char *peer, const char *cmdline, char *out, size_t cap, const char **err);
/* control_allowed: whether a remote peer may run this command line. */
bool control_allowed(const char *cmdline);

#endif
