#!/bin/sh
# bochs.sh IMAGE [SERIAL]: boot a Tern USB-stick image under Bochs 2.7 on an Intel CPU model
# with VT-x + EPT (the only Intel VMX test bed we have: QEMU's TCG has no VMX). See
# ../shared/PLATFORM.md ("Intel VT-x + EPT under Bochs 2.7") and docs/vmx.md.
#
# SERIAL (COM1, Tern's console):
#   term            this terminal (default; Bochs switches it to raw mode)
#   socket:PORT     a TCP server on 127.0.0.1:PORT; Bochs waits for a client before it runs
#   file:PATH       output only
# Environment:
#   BOCHS_CPU   CPU model (default corei7_skylake_x: VMX, EPT, A/D bits, PML, VPID,
#               unrestricted guest); corei7_haswell_4770 has EPT A/D but no PML
#   BOCHS_MEM   guest RAM in MiB (default 1024)   BOCHS_CPUS  processors (default 1)
#   BOCHS_IPS   emulated instructions per second (default 50000000; clock: sync=none, so
#               this sets how fast emulated time passes, not how fast Bochs runs)
#   BOCHS_DIR   where the run's files go (default a fresh temporary directory, removed after)
#   BOCHS_LOG   Bochs's own log file (default BOCHS_DIR/bochs.log)
# The firmware is Debian's 2 MiB OVMF (OVMF_VARS.fd + OVMF_CODE.fd concatenated: the 4 MiB
# build is too large for Bochs's ROM window); the image is attached as an ATA disk (a private
# copy, so runs never share writes or Bochs's lock file). It has no ACPI tables under Bochs,
# so Tern runs on one CPU with the IOAPIC at its PC default address.
set -eu
img=${1:?usage: bochs.sh IMAGE [term|socket:PORT|file:PATH]}
serial=${2:-term}
dir=${BOCHS_DIR:-}
own_dir=
if [ -z "$dir" ]; then
	dir=$(mktemp -d "${TMPDIR:-/tmp}/tern-bochs-XXXXXX")
	own_dir=1
	trap 'rm -rf "$dir"' EXIT INT TERM
fi
mkdir -p "$dir"
for f in /usr/share/OVMF/OVMF_VARS.fd /usr/share/OVMF/OVMF_CODE.fd /usr/share/vgabios/vgabios.bin; do
	[ -r "$f" ] || { echo "bochs.sh: $f missing (run tools/deps.sh)" >&2; exit 2; }
done
cat /usr/share/OVMF/OVMF_VARS.fd /usr/share/OVMF/OVMF_CODE.fd >"$dir/ovmf2m.fd"
[ "$(stat -c %s "$dir/ovmf2m.fd")" -eq 2097152 ] || { echo "bochs.sh: OVMF is not 2 MiB" >&2; exit 2; }
cp "$img" "$dir/disk.img"

case $serial in
term) com1="mode=term, dev=$(tty)" ;;
socket:*) com1="mode=socket-server, dev=127.0.0.1:${serial#socket:}" ;;
file:*) com1="mode=file, dev=${serial#file:}" ;;
*) echo "bochs.sh: bad serial '$serial'" >&2; exit 2 ;;
esac

cat >"$dir/tern.bochsrc" <<EOF
megs: ${BOCHS_MEM:-1024}
romimage: file=$dir/ovmf2m.fd, address=0xffe00000
vgaromimage: file=/usr/share/vgabios/vgabios.bin
cpu: model=${BOCHS_CPU:-corei7_skylake_x}, count=${BOCHS_CPUS:-1}, ips=${BOCHS_IPS:-50000000}, reset_on_triple_fault=0
pci: enabled=1, chipset=i440fx
ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14
ata0-master: type=disk, path=$dir/disk.img, mode=flat
boot: disk
display_library: rfb, options="timeout=0"
com1: enabled=1, $com1
sound: driver=dummy
speaker: enabled=0
clock: sync=none, time0=local
magic_break: enabled=1
log: ${BOCHS_LOG:-$dir/bochs.log}
panic: action=fatal
error: action=report
info: action=ignore
debug: action=ignore
EOF
# Debian's bochs-bin has the debugger built in and stops at t=0: continue, and quit after.
printf 'c\nquit\n' >"$dir/cont.rc"
[ "$serial" = term ] && echo "Booting $img under Bochs (${BOCHS_CPU:-corei7_skylake_x}); kill with Ctrl-\\ or from another terminal..."
# With a caller-owned BOCHS_DIR, become bochs-bin (the caller's kill reaches it directly).
[ -z "$own_dir" ] && exec bochs-bin -q -f "$dir/tern.bochsrc" -rc "$dir/cont.rc"
bochs-bin -q -f "$dir/tern.bochsrc" -rc "$dir/cont.rc"
