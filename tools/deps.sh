#!/bin/sh
# Install the Debian packages Tern's build and tests need; only what is missing.
# Called by the Makefile (make deps); safe to run again. Nothing comes from outside apt.
set -e
PKGS="gcc libc6-dev binutils python3 gnu-efi nasm qemu-system-x86 qemu-utils ovmf mtools dosfstools gdisk
python3-pytest python3-pexpect libcmocka-dev clang libclang-rt-14-dev
bochs bochsbios bochs-x vgabios busybox-static cpio xz-utils zstd libsodium-dev
iproute2 iputils-ping iperf3 socat netcat-openbsd clang-format acpica-tools"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
