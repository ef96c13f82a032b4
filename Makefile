# Tern: `make` builds build/tern.img, `make run` boots it in QEMU, `make test` runs every test.
# Every target first runs tools/deps.sh, which installs missing Debian packages (apt only).

VERSION := 0.1.0
GIT     := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
SHELL   := /bin/bash
B       := build
PYTHON  := /usr/bin/python3

# ---- kernel (freestanding, linked at KERNEL_VBASE by linker.ld) ---------------------------
KDIRS   := kernel drivers vmm vmm/svm vmm/vmx vmm/dev net net/host migrate ha
KSRC_C  := $(foreach d,$(KDIRS),$(wildcard $(d)/*.c))
KSRC_S  := $(foreach d,$(KDIRS),$(wildcard $(d)/*.asm))
KOBJ    := $(KSRC_C:%.c=$(B)/k/%.o) $(KSRC_S:%.asm=$(B)/k/%.asm.o)
KCFLAGS := -std=gnu11 -O2 -g -ffreestanding -fno-stack-protector -fno-pic -fno-pie \
	-mno-red-zone -mcmodel=kernel -mgeneral-regs-only -fno-omit-frame-pointer \
	-fno-asynchronous-unwind-tables -fno-common -fno-strict-aliasing \
	-Wall -Wextra -Werror -Wno-unused-parameter -I. \
	-DTERN_VERSION='"$(VERSION)"' -DTERN_GIT='"$(GIT)"' -MMD -MP

# ---- UEFI loader (gnu-efi; flags per ../shared/PLATFORM.md) ------------------------------
LSRC    := boot/loader.c boot/files.c boot/paging.c boot/elf.c
LOBJ    := $(LSRC:%.c=$(B)/l/%.o)
EFIINC  := /usr/include/efi
LCFLAGS := -std=gnu11 -O2 -ffreestanding -fno-stack-protector -fno-stack-check -fpic \
	-fshort-wchar -mno-red-zone -maccumulate-outgoing-args -Wall -Wextra -Werror \
	-Wno-unused-parameter -I. -I$(EFIINC) -I$(EFIINC)/x86_64 -DEFI_FUNCTION_WRAPPER -MMD -MP

IMAGE   := $(B)/tern.img
CONF    ?= tools/tern.conf

.PHONY: all deps run test unit fuzz integration bench format format-check clean guest ternctl \
	tguest bochs ternwitness

all: deps $(IMAGE) $(B)/ternctl

deps:
	@tools/deps.sh

$(B)/k/%.o: %.c
	@mkdir -p $(dir $@)
	gcc $(KCFLAGS) -c $< -o $@

$(B)/k/%.asm.o: %.asm
	@mkdir -p $(dir $@)
	nasm -f elf64 -g -o $@ $<

$(B)/tern.elf: $(KOBJ) linker.ld
	ld -nostdlib -static -z max-page-size=4096 -z noexecstack -T linker.ld -o $@ $(KOBJ)

$(B)/l/%.o: %.c
	@mkdir -p $(dir $@)
	gcc $(LCFLAGS) -c $< -o $@

$(B)/loader.so: $(LOBJ)
	ld -nostdlib -znocombreloc -shared -Bsymbolic -T /usr/lib/elf_x86_64_efi.lds \
		/usr/lib/crt0-efi-x86_64.o $(LOBJ) -L/usr/lib -lefi -lgnuefi -o $@

$(B)/BOOTX64.EFI: $(B)/loader.so
	objcopy -j .text -j .sdata -j .data -j .rodata -j .dynamic -j .dynsym -j .rel \
		-j .rela -j .rel.* -j .rela.* -j .reloc --target efi-app-x86_64 \
		--subsystem=10 $< $@

# Guest images (tools/mkguest.sh, docs/guest.md); whatever is in build/images goes on the stick.
GUEST := $(B)/images/vmlinuz $(B)/images/initrd.img
$(B)/guest/stamp: tools/mkguest.sh $(shell find tools/guest -type f)
	tools/mkguest.sh $(B)
	@touch $@
$(GUEST): $(B)/guest/stamp ;
guest: deps $(GUEST)

# Tern's own test guest (tools/testguest, docs/testguest.md), also put on the stick.
TGUEST := $(B)/images/tguest
$(TGUEST): $(shell find tools/testguest -type f)
	$(MAKE) -C tools/testguest O=$(abspath $(B))
tguest: $(TGUEST)

$(IMAGE): $(B)/BOOTX64.EFI $(B)/tern.elf $(CONF) tools/mkimage.sh $(GUEST) $(TGUEST) $(wildcard $(B)/images/*)
	tools/mkimage.sh $@ $(B)/BOOTX64.EFI $(B)/tern.elf $(CONF) $(B)/images

# `make run`: the same stick with a demo guest that starts at boot (`vm console demo`).
DEMO_IMAGE := $(B)/tern-demo.img
$(B)/demo.conf: tools/demo.conf.in tools/guest/cmdline.default
	@mkdir -p $(B)
	sed "s|@CMDLINE@|$$(cat tools/guest/cmdline.default)|" tools/demo.conf.in > $@
$(DEMO_IMAGE): $(IMAGE) $(B)/demo.conf
	tools/mkimage.sh $@ $(B)/BOOTX64.EFI $(B)/tern.elf $(B)/demo.conf $(B)/images

# ternctl: the workstation client of the control protocol (Linux, same channel code).
TERNCTL_SRCS := tools/ternctl.c migrate/channel.c migrate/keys.c migrate/aead.c \
	migrate/chacha20.c migrate/poly1305.c migrate/blake2s.c migrate/crypto_util.c kernel/string.c
$(B)/ternctl: $(TERNCTL_SRCS)
	@mkdir -p $(B)
	gcc -std=gnu11 -O2 -DTERN_HOST -I. -Wall -Wextra -Werror -Wno-unused-parameter -o $@ \
		$(TERNCTL_SRCS)
ternctl: $(B)/ternctl

# ternwitness: the HA witness daemon for two-host clusters (Linux; docs/ha.md).
WITNESS_SRCS := tools/ternwitness.c ha/witness.c ha/hb_wire.c migrate/keys.c migrate/aead.c \
	migrate/chacha20.c migrate/poly1305.c migrate/blake2s.c migrate/crypto_util.c kernel/string.c
$(B)/ternwitness: $(WITNESS_SRCS) $(wildcard ha/*.h)
	@mkdir -p $(B)
	gcc -std=gnu11 -O2 -DTERN_HOST -I. -Wall -Wextra -Werror -Wno-unused-parameter -o $@ \
		$(WITNESS_SRCS)
ternwitness: $(B)/ternwitness

# fakepeer: a misbehaving peer for the migration fault tests.
$(B)/fakepeer: tools/fakepeer.c $(TERNCTL_SRCS)
	gcc -std=gnu11 -O2 -DTERN_HOST -I. -Wall -Wextra -Werror -Wno-unused-parameter -o $@ \
		tools/fakepeer.c $(filter-out tools/ternctl.c,$(TERNCTL_SRCS))

run: all $(DEMO_IMAGE)
	tools/run.sh $(DEMO_IMAGE)

# `make bochs`: the same stick under Bochs's Intel model (VMX + EPT), console on the terminal.
bochs: all
	tools/bochs.sh $(IMAGE)

# ---- tests -------------------------------------------------------------------------------
# Host unit tests: tests/unit/test_X.c with tests/unit/test_X.mk setting test_X_SRCS.
UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
-include $(wildcard tests/unit/*.mk)
HOSTCFLAGS := -std=gnu11 -g -O1 -DTERN_HOST -I. -Wall -Wextra -Werror -Wno-unused-parameter \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

define unit_rule
$(B)/unit/$(1): tests/unit/$(1).c $$($(1)_SRCS) tests/unit/host_stubs.c $(wildcard tests/unit/*.h)
	@mkdir -p $$(dir $$@)
	gcc $(HOSTCFLAGS) -o $$@ tests/unit/$(1).c $$($(1)_SRCS) tests/unit/host_stubs.c -lcmocka
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rule,$(t))))

unit: deps $(UNIT_TESTS:%=$(B)/unit/%)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $(B)/unit/$$t; done

# libFuzzer targets: tests/fuzz/fuzz_X.c with tests/fuzz/fuzz_X.mk setting fuzz_X_SRCS.
FUZZERS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
-include $(wildcard tests/fuzz/*.mk)
FUZZ_SECONDS ?= 15
FUZZCFLAGS := -std=gnu11 -g -O1 -DTERN_HOST -I. -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined

define fuzz_rule
$(B)/fuzz/$(1): tests/fuzz/$(1).c $$($(1)_SRCS) tests/unit/host_stubs.c \
		$(wildcard tests/fuzz/*.h tests/unit/*.h)
	@mkdir -p $$(dir $$@)
	clang $(FUZZCFLAGS) -o $$@ tests/fuzz/$(1).c $$($(1)_SRCS) tests/unit/host_stubs.c
endef
$(foreach t,$(FUZZERS),$(eval $(call fuzz_rule,$(t))))

fuzz: deps $(FUZZERS:%=$(B)/fuzz/%)
	@set -e; for f in $(FUZZERS); do \
		echo "== $$f ($(FUZZ_SECONDS) s)"; mkdir -p $(B)/corpus/$$f; \
		seeds=; [ -d tests/fuzz/seeds/$$f ] && seeds=tests/fuzz/seeds/$$f; \
		$(B)/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			$(B)/corpus/$$f $$seeds 2>&1 | tail -n 4; \
		test $${PIPESTATUS[0]:-0} -eq 0; done

integration: all $(DEMO_IMAGE) $(B)/fakepeer $(B)/ternwitness
	$(PYTHON) -m pytest -v tests/integration $(PYTEST_ARGS)

test: all unit fuzz integration
	@echo "make test: all passed"

bench: all
	tools/bench.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(B)/k $(B)/l $(B)/unit $(B)/fuzz $(B)/*.elf $(B)/*.so $(B)/*.EFI $(IMAGE) $(B)/guest $(B)/images \
		$(B)/testguest

-include $(shell find $(B)/k $(B)/l -name '*.d' 2>/dev/null)
