#!/bin/sh
# run.sh IMAGE: boot a Tern USB-stick image in QEMU (TCG, AMD EPYC-Rome with SVM+NPT, q35,
# OVMF), the serial console on this terminal. Quit QEMU with Ctrl-A X.
# Environment: TERN_SMP (default 2), TERN_MEM (default 2048 MiB), TERN_QEMU_ARGS (extra).
set -eu
img=$1
state=${XDG_RUNTIME_DIR:-/tmp}/tern-run-$$
mkdir -p "$state"
trap 'rm -rf "$state"' EXIT
cp /usr/share/OVMF/OVMF_VARS_4M.fd "$state/vars.fd"
echo "Booting $img in QEMU (Ctrl-A X quits)..."
exec qemu-system-x86_64 -machine q35,accel=tcg -cpu EPYC-Rome -smp "${TERN_SMP:-2}" \
	-m "${TERN_MEM:-2048}" \
	-drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
	-drive if=pflash,format=raw,file="$state/vars.fd" \
	-device qemu-xhci,id=xhci \
	-drive if=none,id=stick,format=raw,file="$img",snapshot=on \
	-device usb-storage,bus=xhci.0,drive=stick,bootindex=0 \
	-nic none -display none -serial mon:stdio -no-reboot ${TERN_QEMU_ARGS:-}
