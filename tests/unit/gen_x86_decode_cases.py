#!/usr/bin/env python3
"""Generate tests/unit/x86_decode_cases.h: instruction encodings with their lengths as decoded
by binutils objdump, for tests/unit/test_x86_decode.c.

Two sources, for 16-bit (objdump -m i8086), 32-bit (i386) and 64-bit (i386:x86-64) code:
  1. byte patterns: every opcode of the one-byte, 0F, 0F38 and 0F3A maps, plus VEX, EVEX and
     XOP prefixes, each followed by a pseudo-random ModRM/SIB/displacement/immediate tail and
     preceded by random legacy/REX prefix combinations. Each candidate sits in a 32-byte slot
     padded with NOPs so that objdump resynchronises at every slot; the length of the first
     instruction objdump decodes in a slot is the expected length.
  2. assembler output: a list of real instructions (every addressing form, string ops, moffs,
     far pointers, system instructions, SSE/AVX/AVX-512) assembled with `as` and split with
     objdump.
Cases objdump cannot decode ("(bad)", ".byte") and cases where objdump prints a prefix as an
instruction of its own (a REX before a legacy prefix, "data16" alone, ...) are dropped, as are
encodings objdump prints but current CPUs (and Tern) treat as undefined (tern_undefined():
3DNow!, CR1/CR5-7, DR8-15, test registers, segment register 6/7, MOV to CS, VIA PadLock). FWAIT
(9B) is not used as a first byte because objdump merges it with a following x87 instruction.
Byte patterns carry no LOCK prefix (test_x86_decode.c checks LOCK rules explicitly).
Deterministic (fixed seed): rerunning gives the same file.

Usage: tests/unit/gen_x86_decode_cases.py > tests/unit/x86_decode_cases.h
"""
import os
import random
import re
import subprocess
import sys
import tempfile

MODES = [(1, "i8086", ".code16"), (2, "i386", ".code32"), (3, "i386:x86-64", ".code64")]
SLOT = 32
PREFIX_WORDS = {"data16", "data32", "addr16", "addr32", "lock", "rep", "repz", "repnz", "repe",
                "repne", "cs", "ds", "es", "ss", "fs", "gs", "bnd", "notrack", "xacquire",
                "xrelease"}
LINE = re.compile(r"^\s*([0-9a-f]+):\t((?:[0-9a-f]{2} )+)\s*\t?(.*)$")


def objdump_lines(path, machine, extra=()):
    """Yield (address, bytes, text) for each instruction objdump prints."""
    out = subprocess.run(["objdump", "-D", "-b", "binary", "-m", machine, "--insn-width=16",
                          *extra, path], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            yield int(m.group(1), 16), bytes.fromhex(m.group(2).replace(" ", "")), m.group(3)


def usable(text):
    """objdump decoded a whole instruction (not garbage, not a lone prefix)."""
    if not text or "(bad)" in text or text.startswith(".byte"):
        return False
    words = text.split()
    if all(w in PREFIX_WORDS or w.startswith("rex") or w.startswith("{") for w in words):
        return False
    if words[0].startswith("rex"):  # REX before another prefix: objdump splits it off
        return False
    return True


def tern_undefined(text):
    """Encodings objdump prints that current CPUs (and Tern) treat as undefined (#UD): CR1,
    CR5-CR7, CR9-CR15, DR8-DR15, test registers, segment register 6/7, MOV to CS, VIA PadLock."""
    return bool(re.search(r"%cr([15679]|1[0-5])\b|%db(8|9|1[0-5])\b|%tr\d|%\?|,%cs$|"
                          r"\b(xcrypt|xstore|montmul|xsha)", text))


def decode_slots(cands, machine, extra=()):
    """Lengths objdump gives the first instruction of each 32-byte slot (None if unusable)."""
    with tempfile.NamedTemporaryFile(suffix=".bin", delete=False) as f:
        for c in cands:
            f.write(c + b"\x90" * (SLOT - len(c)))
        path = f.name
    try:
        res = [None] * len(cands)
        for addr, raw, text in objdump_lines(path, machine, extra):
            if addr % SLOT == 0 and usable(text) and not tern_undefined(text):
                res[addr // SLOT] = raw
        return res
    finally:
        os.unlink(path)


def tail(rng, mode):
    """A ModRM/SIB/displacement/immediate tail biased towards the special addressing forms."""
    special = [0x04, 0x05, 0x06, 0x44, 0x84, 0x0c, 0x45, 0x85, 0x46, 0x86, 0x00, 0x40, 0x80]
    modrm = rng.choice(special) if rng.random() < 0.5 else rng.randrange(256)
    sib = rng.randrange(256)
    if rng.random() < 0.4:
        sib = (sib & 0xf8) | 5  # base = 5: disp32 without base when mod = 0
    return bytes([modrm, sib]) + bytes(rng.randrange(256) for _ in range(12))


def prefixes(rng, mode):
    """A random combination of legacy prefixes and (64-bit) a REX right before the opcode."""
    legacy = [0x66, 0x67, 0xf2, 0xf3, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65]
    p = []
    r = rng.random()
    if r < 0.35:
        pass
    elif r < 0.8:
        p = [rng.choice(legacy)]
    else:
        p = [rng.choice(legacy) for _ in range(rng.randrange(2, 5))]
    if mode == 3 and rng.random() < 0.4:
        p.append(rng.choice([0x48, 0x40, 0x41, 0x44, 0x4c, 0x4f, 0x42, 0x49]))
    return bytes(p)


def byte_pattern_candidates(rng, mode):
    """Candidate encodings for one mode (15 bytes each; objdump finds the real length)."""
    # 9B (FWAIT) is a separate instruction; objdump merges it with a following x87 one.
    skip1 = {0x9b, 0x0f, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3,
             0xc4, 0xc5, 0x62, 0x8f}
    if mode == 3:
        skip1 |= set(range(0x40, 0x50))
    out = []

    def add(pfx, body, n):
        for _ in range(n):
            c = prefixes(rng, mode) if pfx else b""
            out.append((c + body + tail(rng, mode))[:15])

    for op in range(256):
        if op not in skip1:
            add(True, bytes([op]), 5)
        if op not in (0x38, 0x3a, 0x0e, 0x0f):  # escapes; 3DNow! is treated as undefined
            add(True, bytes([0x0f, op]), 5)
        add(True, bytes([0x0f, 0x38, op]), 1)
        add(True, bytes([0x0f, 0x3a, op]), 1)
    # VEX / EVEX / XOP: legal prefix fields (mod = 3 in byte 1 outside 64-bit mode).
    for op in range(256):
        for _ in range(3):
            r = rng.randrange(256) | (0xc0 if mode != 3 else 0)
            out.append((bytes([0xc5, r, op]) + tail(rng, mode))[:15])
            m = rng.choice([1, 2, 3])
            b1 = (rng.randrange(8) << 5) | m
            if mode != 3:
                b1 |= 0xc0
            out.append((bytes([0xc4, b1, rng.randrange(256), op]) + tail(rng, mode))[:15])
            m = rng.choice([1, 2, 3, 5, 6])
            p0 = (rng.randrange(16) << 4) | m
            if mode != 3:
                p0 |= 0xc0
            p1 = rng.randrange(256) | 0x04
            seg = bytes([rng.choice([0x2e, 0x64, 0x67])]) if rng.random() < 0.2 else b""
            out.append((seg + bytes([0x62, p0, p1, rng.randrange(256), op]) +
                        tail(rng, mode))[:15])
        m = rng.choice([8, 9, 10])
        x1 = (rng.randrange(8) << 5) | m
        if mode != 3:
            x1 |= 0xc0
        out.append((bytes([0x8f, x1, rng.randrange(256), op]) + tail(rng, mode))[:15])
    return out


ADDRS32 = ["(%eax)", "(%esp)", "(%ebp)", "0x12(%ebp)", "0x12345678", "-0x80(%esp,%eax,1)",
           "0x7f(%ebx,%ecx,4)", "0x12345(%edi,%esi,8)", "(,%edx,2)", "0x10(,%ebp,4)",
           "%fs:0x40", "%es:(%edi)", "%ss:0x1(%eax)"]
ADDRS64 = ["(%rax)", "(%rsp)", "(%rbp)", "(%r12)", "(%r13)", "0x12(%r13)", "0x12345678(%rip)",
           "-4(%rip)", "0x7f(%rbx,%r12,4)", "(%r8,%r9,8)", "0x12345(%rsp,%rbp,1)",
           "(,%r15,2)", "0x10(,%rbp,4)", "0x12345678", "%gs:0x28", "%fs:(%rdi)",
           "(%eax)", "0x10(%r8d,%ecx,2)", "0x12(%eip)"]
ADDRS16 = ["(%bx,%si)", "(%bx,%di)", "(%bp,%si)", "(%bp,%di)", "(%si)", "(%di)", "0x1234",
           "(%bx)", "0x12(%bp)", "-0x12(%bx,%si)", "0x1234(%bp,%di)", "%es:(%di)",
           "(%eax)", "0x12(%esp,%ecx,4)", "0x12345678(%ebp)"]


def asm_source(mode):
    """Assembler input for one mode (AT&T syntax)."""
    addrs = {1: ADDRS16, 2: ADDRS32, 3: ADDRS64}[mode]
    lines = []
    for a in addrs:
        for op in ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp", "test", "mov", "xchg"]:
            lines += [f"{op}b %dl, {a}", f"{op}w %dx, {a}", f"{op}l %edx, {a}"]
            if op not in ("test", "xchg"):
                lines += [f"{op}b {a}, %dh", f"{op}l {a}, %esi"]
            if op != "xchg":
                lines += [f"{op}b $0x5a, {a}", f"{op}w $0x5a5a, {a}", f"{op}l $0x5a5a5a5a, {a}",
                          f"{op}w $-3, {a}"]
        for op in ["not", "neg", "inc", "dec", "mul", "imul", "div", "idiv"]:
            lines += [f"{op}b {a}", f"{op}w {a}", f"{op}l {a}"]
        for op in ["bt", "bts", "btr", "btc"]:
            lines += [f"{op}w %ax, {a}", f"{op}l %eax, {a}", f"{op}l $17, {a}",
                      f"{op}w $3, {a}"]
        for op in ["rol", "ror", "rcl", "rcr", "shl", "shr", "sar"]:
            lines += [f"{op}b {a}", f"{op}l $5, {a}", f"{op}w %cl, {a}"]
        lines += [f"movzbl {a}, %eax", f"movzwl {a}, %ecx", f"movsbw {a}, %dx",
                  f"movswl {a}, %ebx", f"movzbw {a}, %si", f"cmpxchgl %ecx, {a}",
                  f"cmpxchgb %cl, {a}", f"lock cmpxchgw %cx, {a}", f"xaddl %eax, {a}",
                  f"lock xaddb %al, {a}", f"movnti %eax, {a}", f"lock addl $1, {a}",
                  f"lock orb %al, {a}", f"lock btsl $3, {a}", f"lock decl {a}",
                  f"lock notw {a}", f"lock xchgl %eax, {a}", f"lock cmpxchg8b {a}",
                  f"lea {a}, %eax", f"pushl {a}" if mode != 3 else f"pushq {a}",
                  f"popl {a}" if mode != 3 else f"popq {a}", f"call *{a}", f"jmp *{a}",
                  f"lcall *{a}", f"ljmp *{a}", f"sgdt {a}", f"lidt {a}", f"invlpg {a}",
                  f"clflush {a}", f"prefetchnta {a}", f"nopw {a}", f"fldl {a}", f"fistps {a}",
                  f"fxsave {a}", f"movd %xmm1, {a}", f"movdqu {a}, %xmm2",
                  f"movaps %xmm3, {a}", f"pshufd $0x1b, {a}, %xmm4", f"pinsrw $2, {a}, %xmm0",
                  f"vmovdqu {a}, %ymm1", f"vpshufd $3, {a}, %ymm2", f"vbroadcastss {a}, %xmm3",
                  f"vmovdqu32 {a}, %zmm1", f"vmovdqu64 %zmm2, {a}{{%k1}}",
                  f"vaddps 0x40{a if a.startswith('(') else ''}, %zmm1, %zmm2",
                  f"vpternlogd $0x55, {a}, %zmm3, %zmm4", f"andn {a}, %eax, %ebx",
                  f"rorx $3, {a}, %ecx", f"crc32b {a}, %eax", f"movbe {a}, %ecx",
                  f"popcnt {a}, %edx", f"tzcnt {a}, %eax", f"lzcnt {a}, %eax",
                  f"aesenc {a}, %xmm1", f"sha1rnds4 $1, {a}, %xmm2", f"pextrb $1, %xmm0, {a}",
                  f"insertps $0x10, {a}, %xmm1", f"shldl $3, %eax, {a}",
                  f"shrdw %cl, %ax, {a}", f"setne {a}", f"cmovz {a}, %eax", f"bswap %eax",
                  f"vmptrld {a}", f"vmclear {a}", f"xsave {a}", f"rdrand %eax",
                  f"vfmadd231ps {a}, %xmm1, %xmm2", f"vpgatherdd %xmm0, (%{'e' if mode != 3 else 'r'}ax,%xmm1,4), %xmm2",
                  f"cmpps $3, {a}, %xmm1", f"vcmpps $5, {a}, %ymm1, %ymm2",
                  f"vpinsrw $1, {a}, %xmm1, %xmm2", f"extractps $1, %xmm0, {a}",
                  f"mov %ds, {a}", f"mov {a}, %es", f"imul $0x1234, {a}, %eax",
                  f"imul $3, {a}, %ecx", f"enter $0x100, $3", f"bound %eax, {a}"
                  if mode != 3 else "nop", f"les {a}, %eax" if mode != 3 else "nop"]
    lines += ["movsb", "movsw", "movsl", "rep movsb", "rep movsl", "rep stosw", "rep lodsb",
              "repne scasb", "repe cmpsl", "stosb", "stosl", "lodsl", "insb", "outsw",
              "cs rep movsb", "addr32 rep stosb" if mode != 2 else "addr16 rep stosb",
              "fs lodsl", "rep stosq" if mode == 3 else "rep stosl",
              "movsq" if mode == 3 else "movsl",
              "mov 0x12345678, %al", "mov 0x12345678, %eax", "mov %al, 0x1234",
              "mov %ax, 0x1234", "mov %es:0x12, %eax",
              "in $0x60, %al", "out %al, $0x80", "in (%dx), %eax", "outw %ax, (%dx)",
              "cpuid", "rdmsr", "wrmsr", "rdtsc", "rdtscp", "rdpmc", "hlt", "invd", "wbinvd",
              "vmcall", "vmmcall", "vmlaunch", "vmresume", "vmrun", "vmload", "vmsave",
              "stgi", "clgi", "skinit", "invlpga", "xgetbv", "xsetbv", "monitor", "mwait",
              "pause", "int3", "int $0x80", "int1", "iret", "ret", "ret $8", "lret",
              "lret $4", "leave", "cli", "sti", "clc", "stc", "cld", "std", "cmc", "sahf",
              "lahf", "pushf", "popf", "cwtl", "cltd", "xlat", "ud2", "nop", "fninit",
              "fwait", "syscall", "sysret" if mode == 3 else "sysenter", "swapgs"
              if mode == 3 else "sysexit", "lfence", "mfence", "sfence", "endbr64",
              "endbr32", "rdpid %eax" if mode != 3 else "rdpid %rax", "clac", "stac",
              "mov %cr0, %eax" if mode != 3 else "mov %cr0, %rax",
              "mov %eax, %cr3" if mode != 3 else "mov %rax, %cr3",
              "mov %cr8, %rax" if mode == 3 else "mov %cr4, %eax",
              "mov %dr7, %eax" if mode != 3 else "mov %dr7, %rax",
              "vzeroupper", "vzeroall", "emms", "xbegin .+0x100", "xend", "xabort $3",
              "jmp .+0x10", "jmp .+0x1000", "je .+0x10", "jne .+0x1000", "call .+0x1000",
              "loop .+0x10", "jecxz .+0x10" if mode != 1 else "jcxz .+0x10",
              "push $0x12", "push $0x12345", "pushw $0x1234", "mov $0x12, %cl",
              "mov $0x1234, %bx", "mov $0x12345678, %esi", "movw $0x1234, %ax"]
    if mode == 3:
        lines += ["movabs 0x1122334455667788, %al", "movabs 0x1122334455667788, %rax",
                  "movabs %eax, 0x1122334455667788", "movabs $0x1122334455667788, %r11",
                  "movslq (%rax), %rcx", "movslq %eax, %r9", "movslq 0x12(%rip), %rdx",
                  "mov %r8b, (%r9)", "mov %sil, (%rax)", "mov (%rax), %dil", "xchg %r12, (%r13)",
                  "cmpxchg16b (%rax)", "lock cmpxchg16b 0x12(%r15)", "movq %rax, %xmm1",
                  "rdfsbase %rax", "wrgsbase %r9", "add $0x12345678, %r10",
                  "addq $-1, 0x12345678(%r8,%r9,8)", "mov %fs:0x28, %rax",
                  "mov %gs:(%rax), %r15d", "addr32 mov (%eax), %ecx", "jmp *%rax",
                  "call *0x12(%rip)", "push %r12", "pop %r13", "pushw %ax", "incq (%rax)",
                  "movnti %rax, (%rdi)", "btq $63, (%rax)", "btsq %rcx, 0x8(%rbx)",
                  "movq $-1, (%rax)", "movzbq (%rax), %r8", "movsbq (%rsi), %rdx"]
    else:
        lines += ["ljmp $0x10, $0x1000", "lcall $0x8, $0x12345", "aam", "aad $3", "daa",
                  "into", "pusha", "popa", "push %es", "pop %ds", "arpl %ax, (%ebx)"
                  if mode == 2 else "arpl %ax, (%bx)", "lds (%eax), %ecx", "inc %eax",
                  "dec %cx"]
    return lines


def asm_cases(mode, machine, directive):
    """Assemble asm_source(mode) (dropping lines `as` rejects) and split it with objdump."""
    lines = asm_source(mode)
    with tempfile.TemporaryDirectory() as d:
        s, o, b = (os.path.join(d, n) for n in ("a.s", "a.o", "a.bin"))
        for _ in range(20):
            with open(s, "w") as f:
                f.write(directive + "\n" + "\n".join(lines) + "\n")
            r = subprocess.run(["as", "--64" if mode == 3 else "--32", "-o", o, s],
                               capture_output=True, text=True)
            bad = {int(m.group(1)) - 2 for m in re.finditer(r":(\d+): Error", r.stderr)}
            if r.returncode == 0 and not bad:
                break
            lines = [ln for i, ln in enumerate(lines) if i not in bad]
        else:
            raise SystemExit("as keeps failing:\n" + r.stderr)
        subprocess.run(["objcopy", "-O", "binary", "-j", ".text", o, b], check=True)
        return [raw for _, raw, text in objdump_lines(b, machine)
                if usable(text) and not tern_undefined(text)]


def main():
    rng = random.Random(20240611)
    cases = []
    for mode, machine, directive in MODES:
        seen = set()
        got = asm_cases(mode, machine, directive)
        cands = byte_pattern_candidates(rng, mode)
        got += [r for r in decode_slots(cands, machine) if r is not None]
        for raw in got:
            if raw not in seen:
                seen.add(raw)
                cases.append((mode, 0, raw))
    # Intel 64 near branches with 66: objdump -M intel64 (rel32 kept).
    intel = [bytes([0x66, 0xe8, 1, 2, 3, 4]), bytes([0x66, 0xe9, 1, 2, 3, 4]),
             bytes([0x66, 0x0f, 0x84, 1, 2, 3, 4]), bytes([0x66, 0x48, 0xe8, 1, 2, 3, 4])]
    for raw in decode_slots(intel, "i386:x86-64", ["-M", "intel64"]):
        if raw is not None:
            cases.append((3, 1, raw))
    out = sys.stdout
    out.write("/* Generated by tests/unit/gen_x86_decode_cases.py with binutils objdump: do not "
              "edit. */\n")
    out.write("/* {mode (1 = 16-bit, 2 = 32-bit, 3 = 64-bit), intel64, instruction bytes} */\n")
    out.write("static const struct x86_case x86_cases[] = {\n")
    for mode, intel, raw in cases:
        out.write(f'\t{{{mode}, {intel}, "{raw.hex()}"}},\n')
    out.write("};\n")
    print(f"{len(cases)} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
