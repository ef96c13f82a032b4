/* CHECK: a fuzzer's invariant; a broken one traps, so libFuzzer keeps the input as a crash. */
#ifndef TERN_FUZZ_CHECK_H
#define TERN_FUZZ_CHECK_H

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

#endif
