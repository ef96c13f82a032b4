/* Control protocol; see control.h. */
#include "migrate/control.h"
#include "kernel/config.h"
#include "kernel/console.h"
#include "kernel/endian.h"
#include "kernel/fmt.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/pmm.h"
#include "kernel/random.h"
#include "kernel/shell.h"
#include "kernel/string.h"
#include "migrate/crypto_util.h"
#include "migrate/peers.h"
#include "net/host/ksock.h"

#define REPLY_MAX (64 * 1024)
#define REQ_MAX   1000

/* Commands a peer may run: read-only views and migrations. */
static const char *const g_allowed[] = {
    "status", "version", "uptime", "mem", "cpus", "vm list", "vm info ", "migrate ",
};

bool control_allowed(const char *line)
{
	while (*line == ' ')
		line++;
	for (size_t i = 0; i < ARRAY_SIZE(g_allowed); i++) {
		size_t n = strlen(g_allowed[i]);
		if (!strncmp(line, g_allowed[i], n) &&
		    (g_allowed[i][n - 1] == ' ' || line[n] == 0 || line[n] == ' '))
			return true;
	}
	return false;
}

/* run_captured: execute one line with the thread's console output collected. */
static int run_captured(const char *line, char *out, size_t cap, size_t *len)
{
	char buf[REQ_MAX + 1];
	struct console_capture c;
	tern_strlcpy(buf, line, sizeof(buf));
	console_capture_begin(&c, out, cap);
	int rc = shell_run_line(buf);
	console_capture_end();
	*len = c.len;
	return rc;
}

void control_serve(struct chan *ch)
{
	char *out = kmalloc(REPLY_MAX);
	if (!out)
		return;
	for (;;) {
		uint8_t type;
		const uint8_t *d;
		size_t n, olen = 0;
		if (chan_recv(ch, &type, &d, &n) < 0 || type != MSG_REQUEST || n > REQ_MAX)
			break;
		char line[REQ_MAX + 1];
		for (size_t i = 0; i < n; i++)
			line[i] = d[i] >= 0x20 && d[i] < 0x7f ? (char)d[i] : ' ';
		line[n] = 0;
		int rc;
		if (control_allowed(line)) {
			klog_quiet("control: %s runs '%s'", ch->peer, line);
			rc = run_captured(line, out, REPLY_MAX, &olen);
		} else {
			olen = (size_t)fmt_snprintf(out, REPLY_MAX,
			                            "error: '%s' may not be run remotely\n", line);
			rc = 1;
		}
		uint8_t status[4];
		le32_store(status, (uint32_t)rc);
		const void *pieces[2] = {status, out};
		size_t lens[2] = {4, MIN(olen, (size_t)CHAN_MSG_MAX - 4)};
		if (chan_send(ch, MSG_REPLY, pieces, lens, 2) < 0)
			break;
	}
	kfree(out);
}

int control_request(const char *peer, const char *cmdline, char *out, size_t cap, const char **err)
{
	uint8_t key[KEYS_CLUSTER_KEY_SIZE], nonce[KEYS_NONCE_SIZE];
	uint32_t ip;
	int nerr = 0;
	if (!peer_resolve(peer, &ip)) {
		*err = "unknown peer";
		return -1;
	}
	if (!peers_key(key)) {
		*err = "no cluster_key in tern.conf";
		return -1;
	}
	struct ksock *k = ksock_connect(ip, peers_port(), 5000, &nerr);
	if (!k) {
		*err = net_strerror(nerr);
		return -1;
	}
	uint8_t *buf = pmm_alloc_kva(CHAN_BUF_SIZE);
	struct chan ch;
	int rc = -1;
	ksock_set_io_timeout(k, 120000);
	random_bytes(nonce, sizeof(nonce));
	struct chan_io io = {ksock_io_send, ksock_io_recv, k};
	if (!buf || chan_client(&ch, &io, buf, CHAN_PROTO_CONTROL, key, nonce, node_name()) < 0 ||
	    chan_send1(&ch, MSG_REQUEST, cmdline, strlen(cmdline)) < 0) {
		*err = buf ? ch.error : "out of memory";
	} else {
		uint8_t type;
		const uint8_t *d;
		size_t n;
		if (chan_recv(&ch, &type, &d, &n) < 0 || type != MSG_REPLY || n < 4) {
			*err = ch.error ? ch.error : "bad reply";
		} else {
			rc = (int)le32_load(d);
			size_t m = MIN(n - 4, cap - 1);
			memcpy(out, d + 4, m);
			out[m] = 0;
		}
	}
	crypto_wipe(key, sizeof(key));
	chan_close(&ch);
	pmm_free_kva(buf, CHAN_BUF_SIZE);
	ksock_close(k);
	return rc;
}
