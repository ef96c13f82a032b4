#!/bin/sh
# mkimage.sh OUT LOADER KERNEL CONF IMAGES_DIR
# Builds a GPT disk image with one FAT32 EFI system partition:
#   \EFI\BOOT\BOOTX64.EFI  \tern\tern.elf  \tern\tern.conf  \tern\images\*
# The result can be written to a USB stick with dd and booted by any x86-64 UEFI machine.
set -eu
out=$1 loader=$2 kernel=$3 conf=$4 images=$5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Size: contents plus 25% and 16 MiB of slack, at least 64 MiB (FAT32 needs 65525 clusters).
bytes=$(du -cb "$loader" "$kernel" "$conf" 2>/dev/null | tail -n1 | cut -f1)
if [ -d "$images" ]; then
	bytes=$((bytes + $(du -sb "$images" | cut -f1)))
fi
mib=$(( (bytes * 5 / 4) / 1048576 + 16 ))
[ $mib -lt 64 ] && mib=64
esp_sectors=$((mib * 2048))

esp=$tmp/esp.fat
truncate -s $((esp_sectors * 512)) "$esp"
mkfs.fat -F 32 -S 512 -s 1 -n TERN "$esp" >/dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/tern ::/tern/images
mcopy -i "$esp" "$loader" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$esp" "$kernel" ::/tern/tern.elf
mcopy -i "$esp" "$conf" ::/tern/tern.conf
if [ -d "$images" ]; then
	for f in "$images"/*; do
		[ -f "$f" ] && mcopy -i "$esp" "$f" "::/tern/images/$(basename "$f")"
	done
fi

# GPT: 1 MiB alignment before the ESP, 1 MiB after it for the backup table.
total_sectors=$((esp_sectors + 4096))
rm -f "$out.tmp"
truncate -s $((total_sectors * 512)) "$out.tmp"
sgdisk -o -n 1:2048:$((2048 + esp_sectors - 1)) -t 1:EF00 -c 1:"Tern ESP" "$out.tmp" >/dev/null
dd if="$esp" of="$out.tmp" bs=1M seek=1 conv=notrunc status=none
mv "$out.tmp" "$out"
echo "mkimage: $out ($mib MiB ESP)"
