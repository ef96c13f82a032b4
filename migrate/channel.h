/*
 * A secure channel between Tern hosts over a reliable byte stream (a TCP connection), used by
 * live migration and the host control protocol. Pure: the byte stream is two callbacks.
 *
 * Handshake (clear text, 84 bytes each way):
 *   hello  := "TERNCHN1" u8 proto u8 status u16 0 | key-id[8] | nonce[32] | name[32]
 *   client -> server hello (status 0); server -> client hello (status 0 = go on, else refused)
 * Both derive per-direction session keys from the cluster key and both nonces
 * (keys_derive_pair, label "tern chan v1 <proto>"); then the client sends an AUTH message,
 * the server answers with one: a peer without the cluster key fails right there.
 * Messages:  le32 length | le64 seq | ciphertext[length] | tag[16]   (AAD = length | seq)
 *            plaintext = u8 type | payload
 * Sequence numbers must arrive in order; any failure makes the channel unusable (no resync):
 * the caller aborts what it was doing.
 */
#ifndef TERN_CHANNEL_H
#define TERN_CHANNEL_H

#include "kernel/compiler.h"
#include "migrate/keys.h"

#define CHAN_NAME_MAX   32
#define CHAN_HELLO_SIZE 84
#define CHAN_HDR_SIZE   12
#define CHAN_MSG_MAX    (1u << 20) /* payload bytes of one message */
#define CHAN_BUF_SIZE   (CHAN_MSG_MAX + 1 + AEAD_TAG_SIZE)

enum chan_proto { CHAN_PROTO_CONTROL = 1, CHAN_PROTO_MIGRATE = 2, CHAN_PROTO_REPLICA = 3 };
enum chan_status {
	CHAN_OK = 0,
	CHAN_REFUSED_KEY = 1,
	CHAN_REFUSED_BUSY = 2,
	CHAN_REFUSED_PROTO = 3
};

/* Message types (plaintext byte 0). */
enum chan_msg {
	MSG_AUTH = 1,
	MSG_ERROR = 2,   /* payload: a reason; the sender aborts */
	MSG_REQUEST = 3, /* control: a command line */
	MSG_REPLY = 4,   /* control: output, then status */
	MSG_OFFER = 10,  /* migrate: VM configuration */
	MSG_ACCEPT = 11,
	MSG_STREAM = 12,   /* migrate: bytes of the VM state stream */
	MSG_ROUND = 13,    /* migrate: end of a pre-copy round (statistics) */
	MSG_STATE_OK = 14, /* destination: complete state received and loaded */
	MSG_COMMIT = 15,   /* source: release, run it */
	MSG_RUNNING = 16,  /* destination: it runs */
	MSG_ABORT = 17,
	MSG_VERIFY = 18, /* source, optional: per-2 MiB-chunk sums of guest RAM (debugging) */
	MSG_SYNC = 19,   /* source: answer MSG_SYNCED once all stream bytes so far are loaded */
	MSG_SYNCED = 20, /* destination: caught up (only if its MSG_ACCEPT offered MIG_FEAT_SYNC) */
	/* HA replication (ha/replica.h) */
	MSG_REPL_HELLO = 30, /* primary: offer of the VM to replicate */
	MSG_REPL_PROBE = 31, /* a VM name: what do you have of it? */
	MSG_REPL_STATE = 32, /* answer to a probe or hello: u8 REPL_* */
	MSG_REPL_CKPT = 33,  /* end of a checkpoint: seq, stream bytes, uptime */
	MSG_REPL_ACK = 34,   /* standby: checkpoint seq applied */
	MSG_REPL_END = 35,   /* primary: replication ends, drop the replica */
};

/* MSG_ACCEPT payload byte 0 (absent from older destinations: no features). */
#define MIG_FEAT_SYNC 0x01 /* understands MSG_SYNC */

struct chan_io {
	int (*send)(void *ctx, const void *buf, size_t len); /* all of it, or -1 */
	int (*recv)(void *ctx, void *buf, size_t len);       /* exactly len, or -1 */
	void *ctx;
};

struct chan {
	struct chan_io io;
	uint8_t proto;
	struct crypto_stream tx, rx;
	char peer[CHAN_NAME_MAX];
	uint8_t *buf; /* CHAN_BUF_SIZE bytes, caller-provided */
	const char *error;
	uint64_t bytes_sent, bytes_received;
	/* optional profile: with clock set, nanoseconds spent sealing/opening messages and in
	 * io.send/io.recv (which includes waiting for the peer or the network) */
	uint64_t (*clock)(void);
	uint64_t crypt_ns, io_ns;
};

/* chan_client / chan_server: run the handshake; 0 or -1 with ch->error. */
int chan_client(struct chan *ch, const struct chan_io *io, uint8_t *buf, uint8_t proto,
                const uint8_t key[KEYS_CLUSTER_KEY_SIZE], const uint8_t nonce[KEYS_NONCE_SIZE],
                const char *name);
int chan_server(struct chan *ch, const struct chan_io *io, uint8_t *buf,
                const uint8_t key[KEYS_CLUSTER_KEY_SIZE], const uint8_t nonce[KEYS_NONCE_SIZE],
                const char *name, bool (*proto_ok)(uint8_t proto));
/* chan_send: one message of type made of n pieces (total <= CHAN_MSG_MAX). */
int chan_send(struct chan *ch, uint8_t type, const void *const *piece, const size_t *len,
              unsigned n);
/* chan_send1: one message with a single piece. */
int chan_send1(struct chan *ch, uint8_t type, const void *data, size_t len);
/* chan_recv: the next message; *data points into ch->buf (valid until the next call). */
int chan_recv(struct chan *ch, uint8_t *type, const uint8_t **data, size_t *len);
/* chan_close: wipe keys. */
void chan_close(struct chan *ch);

#endif
