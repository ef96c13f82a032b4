/* An in-memory byte source for the state-stream reader (vmm/stream.h stream_in), shared by
 * the host tests and fuzzers that feed it a buffer. */
#ifndef TERN_TEST_MEM_SOURCE_H
#define TERN_TEST_MEM_SOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct source {
	const uint8_t *p;
	size_t len, off;
};

/* source_read: exactly n bytes or -1 (nothing consumed), as a socket reader would. */
static inline int source_read(void *ctx, void *buf, size_t n)
{
	struct source *s = ctx;
	if (n > s->len - s->off)
		return -1;
	memcpy(buf, s->p + s->off, n);
	s->off += n;
	return 0;
}

#endif
