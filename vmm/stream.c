/* VM state stream framing; see stream.h. */
#include "vmm/stream.h"
#include "kernel/endian.h"
#include "kernel/string.h"
#include "migrate/blake2s.h"

/* The END record's header is not covered by the hash it carries, so its version is fixed and
 * checked: no byte of a hashed stream can change unnoticed. */
#define END_VERSION 1

/* emit: raw bytes to the sink, hashed. */
static void emit(struct stream_out *s, const void *buf, size_t len)
{
	if (s->err || !len)
		return;
	if (s->hash)
		blake2s_update(s->hash, buf, len);
	if (s->write(s->ctx, buf, len) < 0)
		s->err = -1;
	s->bytes += len;
}

void stream_out_init(struct stream_out *s, int (*write)(void *, const void *, size_t), void *ctx,
                     uint8_t *rec_buf, size_t rec_cap, void *hash_ctx)
{
	memset(s, 0, sizeof(*s));
	s->write = write;
	s->ctx = ctx;
	s->rec = rec_buf;
	s->rec_cap = rec_cap;
	s->hash = hash_ctx;
	if (hash_ctx)
		blake2s_init(hash_ctx, 32, NULL, 0);
}

void stream_header(struct stream_out *s)
{
	uint8_t h[STREAM_HDR_SIZE];
	memcpy(h, STREAM_MAGIC, 8);
	le32_store(h + 8, STREAM_VERSION);
	le32_store(h + 12, 0);
	emit(s, h, sizeof(h));
}

void stream_begin(struct stream_out *s, uint16_t type, uint16_t version)
{
	s->rec_type = type;
	s->rec_version = version;
	s->rec_len = 0;
}

void stream_field(struct stream_out *s, uint16_t id, const void *val, uint16_t len)
{
	if (s->rec_len + FIELD_HDR_SIZE + len > s->rec_cap) {
		s->err = -1;
		return;
	}
	le16_store(s->rec + s->rec_len, id);
	le16_store(s->rec + s->rec_len + 2, len);
	memcpy(s->rec + s->rec_len + FIELD_HDR_SIZE, val, len);
	s->rec_len += FIELD_HDR_SIZE + len;
}

void stream_u64(struct stream_out *s, uint16_t id, uint64_t v)
{
	uint8_t b[8];
	le64_store(b, v);
	stream_field(s, id, b, 8);
}

void stream_raw_header(struct stream_out *s, uint16_t type, uint16_t version, size_t len)
{
	if (len > REC_MAX_PAYLOAD) {
		s->err = -1;
		return;
	}
	uint8_t h[REC_HDR_SIZE];
	le16_store(h, type);
	le16_store(h + 2, version);
	le32_store(h + 4, (uint32_t)len);
	emit(s, h, sizeof(h));
}

void stream_bytes(struct stream_out *s, const void *buf, size_t len)
{
	emit(s, buf, len);
}

void stream_raw_record(struct stream_out *s, uint16_t type, uint16_t version, const void *a,
                       size_t alen, const void *b, size_t blen)
{
	stream_raw_header(s, type, version, alen + blen);
	emit(s, a, alen);
	emit(s, b, blen);
}

void stream_end_record(struct stream_out *s)
{
	stream_raw_record(s, s->rec_type, s->rec_version, s->rec, s->rec_len, NULL, 0);
}

int stream_finish(struct stream_out *s)
{
	uint8_t digest[32];
	size_t n = 0;
	if (s->hash) {
		struct blake2s_ctx copy;
		memcpy(&copy, s->hash, sizeof(copy));
		blake2s_final(&copy, digest);
		n = sizeof(digest);
	}
	uint8_t h[REC_HDR_SIZE];
	le16_store(h, REC_END);
	le16_store(h + 2, END_VERSION);
	le32_store(h + 4, (uint32_t)n);
	emit(s, h, sizeof(h));
	emit(s, digest, n);
	return s->err;
}

void stream_in_init(struct stream_in *s, int (*read)(void *, void *, size_t), void *ctx,
                    uint8_t *rec_buf, size_t rec_cap, void *hash_ctx)
{
	memset(s, 0, sizeof(*s));
	s->read = read;
	s->ctx = ctx;
	s->rec = rec_buf;
	s->rec_cap = rec_cap;
	s->hash = hash_ctx;
	if (hash_ctx)
		blake2s_init(hash_ctx, 32, NULL, 0);
}

/* take: exactly len bytes from the source, hashed. */
static bool take(struct stream_in *s, void *buf, size_t len, bool hash)
{
	if (s->read(s->ctx, buf, len) < 0) {
		s->error = "stream ended early or could not be read";
		return false;
	}
	if (hash && s->hash)
		blake2s_update(s->hash, buf, len);
	s->bytes += len;
	return true;
}

bool stream_read_header(struct stream_in *s)
{
	uint8_t h[STREAM_HDR_SIZE];
	if (!take(s, h, sizeof(h), true))
		return false;
	if (memcmp(h, STREAM_MAGIC, 8) != 0) {
		s->error = "not a Tern VM state stream";
		return false;
	}
	if (le32_load(h + 8) != STREAM_VERSION) {
		s->error = "unsupported state stream version";
		return false;
	}
	return true;
}

bool stream_next(struct stream_in *s, uint16_t *type, uint16_t *version, uint32_t *len)
{
	uint8_t h[REC_HDR_SIZE];
	struct blake2s_ctx before;
	if (s->hash)
		memcpy(&before, s->hash, sizeof(before));
	if (!take(s, h, sizeof(h), true))
		return false;
	*type = le16_load(h);
	*version = le16_load(h + 2);
	*len = le32_load(h + 4);
	if (*type >= REC_TYPE_MAX) {
		s->error = "unknown record type";
		return false;
	}
	if (*len > s->rec_cap || *len > REC_MAX_PAYLOAD) {
		s->error = "record too large";
		return false;
	}
	if (*type == REC_END) {
		uint8_t want[32];
		if (*version != END_VERSION) {
			s->error = "bad end record";
			return false;
		}
		if (!s->hash) {
			if (*len != 0)
				s->error = "unexpected hash in the end record";
			return *len == 0;
		}
		if (*len != 32 || !take(s, s->rec, 32, false)) {
			s->error = s->error ? s->error : "bad end record";
			return false;
		}
		blake2s_final(&before, want);
		if (memcmp(want, s->rec, 32) != 0) {
			s->error = "stream integrity check failed";
			return false;
		}
		return true;
	}
	return take(s, s->rec, *len, true);
}

void field_iter_init(struct field_iter *it, const uint8_t *payload, size_t len)
{
	it->p = payload;
	it->left = len;
	it->bad = false;
}

bool field_next(struct field_iter *it, uint16_t *id, const uint8_t **val, uint16_t *len)
{
	if (it->left == 0)
		return false;
	if (it->left < FIELD_HDR_SIZE) {
		it->bad = true;
		return false;
	}
	*id = le16_load(it->p);
	*len = le16_load(it->p + 2);
	if (*len > it->left - FIELD_HDR_SIZE) {
		it->bad = true;
		return false;
	}
	*val = it->p + FIELD_HDR_SIZE;
	it->p += FIELD_HDR_SIZE + *len;
	it->left -= FIELD_HDR_SIZE + (size_t)*len;
	return true;
}

bool field_u64(const uint8_t *val, uint16_t len, uint64_t *out)
{
	if (len != 1 && len != 2 && len != 4 && len != 8)
		return false;
	uint64_t v = 0;
	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)val[i] << (8 * i);
	*out = v;
	return true;
}
