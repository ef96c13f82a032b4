#!/usr/bin/env python3
"""checkimage.py IMAGE ELF: validate the test guest as a Linux 64-bit boot-protocol image.

Checks what Tern's loader (vmm/linux_boot.c) and the boot protocol require: boot flag, HdrS,
protocol >= 2.12, LOADED_HIGH, XLF_KERNEL_64, relocatable with 2 MiB alignment, syssize and
init_size covering the image and its .bss (from the ELF's symbols), and the 64-bit entry at
+0x200 of the protected-mode part. Exit status 1 with a message on any failure."""
import struct
import subprocess
import sys


def main():
    img_path, elf = sys.argv[1], sys.argv[2]
    img = open(img_path, "rb").read()
    syms = {}
    for line in subprocess.run(["nm", elf], capture_output=True, text=True, check=True).stdout.split("\n"):
        parts = line.split()
        if len(parts) == 3:
            syms[parts[2]] = int(parts[0], 16)
    errors = []

    def need(cond, what):
        if not cond:
            errors.append(what)

    u8 = lambda o: img[o]
    u16 = lambda o: struct.unpack_from("<H", img, o)[0]
    u32 = lambda o: struct.unpack_from("<I", img, o)[0]
    u64 = lambda o: struct.unpack_from("<Q", img, o)[0]
    need(len(img) > 0x600, "file too small")
    setup = ((u8(0x1F1) or 4) + 1) * 512
    kernel = len(img) - setup
    need(u16(0x1FE) == 0xAA55, "boot flag 0xAA55 missing at 0x1FE")
    need(img[0x202:0x206] == b"HdrS", "HdrS magic missing")
    need(u16(0x206) >= 0x020C, f"protocol {u16(0x206):#x} < 2.12")
    need(0x202 + u8(0x201) == 0x268, f"header end {0x202 + u8(0x201):#x} != 0x268")
    need(u8(0x211) & 0x01, "loadflags: LOADED_HIGH not set")
    need(u16(0x236) & 0x01, "xloadflags: XLF_KERNEL_64 not set")
    need(u8(0x234) == 1, "not relocatable")
    need(u32(0x230) == 0x200000, f"kernel_alignment {u32(0x230):#x} != 2 MiB")
    need(u64(0x258) == 0x1000000, f"pref_address {u64(0x258):#x} != 16 MiB")
    need(u32(0x1F4) * 16 >= kernel, "syssize smaller than the protected-mode part")
    need(u32(0x238) >= 255, "cmdline_size too small")
    span = syms.get("_end", 0) - syms.get("_start", 0)
    need(span > 0, "no _start/_end symbols")
    need(u32(0x260) >= span and u32(0x260) >= kernel, f"init_size {u32(0x260):#x} < image+bss {span:#x}")
    entry = syms.get("startup_64", 0) - syms.get("_start", 0)
    need(entry == 0x200, f"startup_64 at +{entry:#x}, not +0x200")
    need(img[setup + 0x200:setup + 0x202] == b"\xfa\xfc", "no cli; cld at the 64-bit entry")
    if errors:
        print("checkimage: " + img_path + ": " + "; ".join(errors), file=sys.stderr)
        sys.exit(1)
    print(f"checkimage: ok: protocol {u16(0x206):#x}, {kernel} bytes to load, "
          f"init_size {u32(0x260):#x} ({u32(0x260) // 1024} KiB), entry +0x200")


if __name__ == "__main__":
    main()
