/* Guest console buffering and forwarding; see gconsole.h. */
#include "vmm/gconsole.h"
#include "kernel/console.h"
#include "kernel/string.h"
#include "vmm/vm.h"

void gconsole_output(struct vm *vm, const char *s, size_t n)
{
	struct console_sink *c = vm->console;
	if (!c)
		return;
	spin_lock(&c->lock);
	for (size_t i = 0; i < n; i++)
		c->ring[c->written++ % GCONSOLE_RING] = s[i];
	bool live = c->attached;
	spin_unlock(&c->lock);
	if (live)
		console_write(s, n);
}

size_t gconsole_tail(struct vm *vm, char *buf, size_t n)
{
	struct console_sink *c = vm->console;
	if (!c)
		return 0;
	spin_lock(&c->lock);
	uint64_t have = MIN(c->written, (uint64_t)GCONSOLE_RING);
	if (n > have)
		n = have;
	for (size_t i = 0; i < n; i++)
		buf[i] = c->ring[(c->written - n + i) % GCONSOLE_RING];
	spin_unlock(&c->lock);
	return n;
}

/* copy_from: up to n bytes kept from position *pos on (moved past what the ring lost); lock
 * held. */
static size_t copy_from(struct console_sink *c, uint64_t *pos, char *buf, size_t n)
{
	if (c->written - *pos > GCONSOLE_RING)
		*pos = c->written - GCONSOLE_RING;
	n = (size_t)MIN((uint64_t)n, c->written - *pos);
	for (size_t i = 0; i < n; i++)
		buf[i] = c->ring[(*pos + i) % GCONSOLE_RING];
	*pos += n;
	return n;
}

void gconsole_attach(struct vm *vm, size_t hist, const char *marker)
{
	struct console_sink *c = vm->console;
	char buf[256];
	spin_lock(&c->lock);
	uint64_t end = c->written, pos = end - MIN((uint64_t)hist, end);
	spin_unlock(&c->lock);
	for (bool marked = false;;) {
		if (!marked && pos >= end) {
			console_write(marker, strlen(marker));
			marked = true;
		}
		spin_lock(&c->lock);
		size_t n =
		    copy_from(c, &pos, buf, marked ? sizeof(buf) : MIN(sizeof(buf), end - pos));
		if (marked && !n)
			c->attached = true; /* caught up: gconsole_output forwards from here */
		spin_unlock(&c->lock);
		if (marked && !n)
			return;
		console_write(buf, n);
	}
}

bool gconsole_contains(struct vm *vm, const char *text)
{
	static char buf[GCONSOLE_RING + 1];
	static struct spinlock lock = SPINLOCK_INIT("gconsole-find");
	spin_lock(&lock);
	size_t n = gconsole_tail(vm, buf, GCONSOLE_RING);
	buf[n] = 0;
	size_t tl = strlen(text);
	bool found = false;
	for (size_t i = 0; !found && i + tl <= n; i++)
		found = memcmp(buf + i, text, tl) == 0;
	spin_unlock(&lock);
	return found;
}
