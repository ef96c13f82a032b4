#!/bin/bash
# mkguest.sh [BUILD_DIR]: builds the Tern test guest (see docs/guest.md).
#   BUILD_DIR/images/vmlinuz     Debian's cloud kernel (linux-image-cloud-amd64), unmodified
#   BUILD_DIR/images/initrd.img  newc initramfs (uncompressed by default: it boots fastest under
#                                emulation): busybox-static, the virtio modules, the test
#                                programs (tools/guest/tern-*.c), /init (tools/guest/init)
#                                and whatever is in tools/guest/rootfs/
# Packages come from apt only (apt-get download, unpacked with dpkg-deb into the build tree)
# and are cached in BUILD_DIR/guest-cache with their SHA-256 sums: when the cache is valid no
# network is used. Set TERN_GUEST_REFRESH=1 to resolve and download the packages again (e.g.
# after a Debian kernel update), TERN_GUEST_KERNEL=META to use another kernel meta-package
# (default linux-image-cloud-amd64), TERN_GUEST_COMPRESS=none|gzip|zstd for the initramfs
# (default none).
# Scratch files go to BUILD_DIR/guest. The output is byte-for-byte reproducible.
set -euo pipefail

B=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
src=$here/guest
cache=$B/guest-cache
work=$B/guest
out=$B/images
meta=${TERN_GUEST_KERNEL:-linux-image-cloud-amd64}
compress=${TERN_GUEST_COMPRESS:-none}
# Modules for later virtio work, loaded by /init with tern.modules=1 (their dependencies are
# added and everything is put in dependency order automatically).
MODULES="virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover
net_failover virtio_net virtio_blk virtio_console"

log() { echo "mkguest: $*"; }
die() { echo "mkguest: error: $*" >&2; exit 1; }

mkdir -p "$cache" "$work" "$out"
cache=$(cd "$cache" && pwd)
work=$(cd "$work" && pwd)

# ---- 1. packages (cached) -------------------------------------------------------------------
# The manifest lists "ROLE FILE SHA256" for the kernel and busybox packages.
cache_valid() {
	[ -s "$cache/manifest" ] || return 1
	[ "$(awk '{print $1}' "$cache/manifest" | sort | tr '\n' ' ')" = "busybox kernel " ] ||
		return 1
	[ "$(head -c 1000 "$cache/meta" 2>/dev/null)" = "$meta" ] || return 1
	(cd "$cache" && awk '{print $3 "  " $2}' manifest | sha256sum --quiet -c - >/dev/null 2>&1)
}

# Prints the versioned kernel package the meta-package depends on (from apt's local lists).
resolve_kernel() {
	apt-cache depends "$meta" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

fetch() {
	local sudo="" kpkg tmp f
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	kpkg=$(resolve_kernel || true)
	if [ -z "$kpkg" ]; then
		log "no apt lists for $meta, running apt-get update"
		$sudo apt-get update -qq || die "apt-get update failed"
		kpkg=$(resolve_kernel || true)
	fi
	[ -n "$kpkg" ] || die "cannot resolve the kernel package of $meta (apt-cache depends)"
	log "downloading $kpkg busybox-static"
	tmp=$(mktemp -d "$cache/dl.XXXXXX")
	# As root, apt would try to drop to the _apt user, who cannot write here.
	(cd "$tmp" && apt-get download -q -o APT::Sandbox::User="$(id -un)" "$kpkg" busybox-static) ||
		{ rm -rf "$tmp"; die "apt-get download failed"; }
	rm -f "$cache"/*.deb "$cache/manifest"
	for f in "$tmp"/*.deb; do
		case "$(basename "$f")" in
		linux-image-*) echo "kernel $(basename "$f")" ;;
		busybox-static_*) echo "busybox $(basename "$f")" ;;
		*) continue ;;
		esac >>"$tmp/manifest.new"
		mv "$f" "$cache/"
	done
	(cd "$cache" && while read -r role file; do
		echo "$role $file $(sha256sum "$file" | cut -d' ' -f1)"
	done <"$tmp/manifest.new") >"$cache/manifest.tmp"
	rm -rf "$tmp"
	echo "$meta" >"$cache/meta"
	mv "$cache/manifest.tmp" "$cache/manifest"
	cache_valid || die "downloaded packages do not form a valid cache"
}

if [ "${TERN_GUEST_REFRESH:-0}" = 1 ] || ! cache_valid; then
	fetch
fi
kdeb=$cache/$(awk '$1 == "kernel" {print $2}' "$cache/manifest")
bdeb=$cache/$(awk '$1 == "busybox" {print $2}' "$cache/manifest")

# ---- 2. unpack (again only when the packages changed) ----------------------------------------
if ! cmp -s "$cache/manifest" "$work/unpacked.manifest" 2>/dev/null; then
	log "unpacking $(basename "$kdeb") $(basename "$bdeb")"
	rm -rf "$work/pkg" "$work/unpacked.manifest"
	mkdir -p "$work/pkg"
	dpkg-deb -x "$kdeb" "$work/pkg"
	dpkg-deb -x "$bdeb" "$work/pkg"
	cp "$cache/manifest" "$work/unpacked.manifest"
fi
vmlinuz=$(find "$work/pkg/boot" -maxdepth 1 -name 'vmlinuz-*' 2>/dev/null | sort | head -n1)
[ -f "$vmlinuz" ] || die "no /boot/vmlinuz-* in $(basename "$kdeb")"
kver=${vmlinuz##*/vmlinuz-}
moddir=
for d in "$work/pkg/lib/modules/$kver" "$work/pkg/usr/lib/modules/$kver"; do
	[ -d "$d" ] && moddir=$d
done
[ -n "$moddir" ] || die "no modules directory for $kver"
busybox=
for f in "$work/pkg/bin/busybox" "$work/pkg/usr/bin/busybox"; do
	[ -x "$f" ] && busybox=$f
done
[ -n "$busybox" ] || die "no busybox in $(basename "$bdeb")"

# ---- 3. test programs: one static multi-call binary, tern-tools ------------------------------
# Every tools/guest/tern-NAME.c is a complete program; compiled with -Dmain=tern_NAME_main they
# share one copy of the static C library, and tern-tools runs the one named by argv[0].
progs=()
for c in "$src"/tern-*.c; do
	progs+=("$(basename "$c" .c)")
done
[ ${#progs[@]} -gt 0 ] || die "no tools/guest/tern-*.c"
mkdir -p "$work/obj" "$work/bin"
{
	echo '/* Generated by tools/mkguest.sh: runs the tool named by argv[0] (or argv[1]). */'
	echo '#include <stdio.h>'
	echo '#include <string.h>'
	for p in "${progs[@]}"; do echo "int ${p//-/_}_main(int argc, char **argv);"; done
	echo 'static const struct { const char *name; int (*fn)(int, char **); } tools[] = {'
	for p in "${progs[@]}"; do echo "	{ \"$p\", ${p//-/_}_main },"; done
	echo '};'
	cat <<'EOF'
int main(int argc, char **argv)
{
	const char *name = argc > 0 ? strrchr(argv[0], '/') : NULL;
	name = name ? name + 1 : argc > 0 ? argv[0] : "";
	if (strcmp(name, "tern-tools") == 0 && argc > 1) {
		argc--;
		argv++;
		name = argv[0];
	}
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
		if (strcmp(name, tools[i].name) == 0)
			return tools[i].fn(argc, argv);
	fprintf(stderr, "usage: tern-tools TOOL [ARGS] (or run it as TOOL); tools:");
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
		fprintf(stderr, " %s", tools[i].name);
	fprintf(stderr, "\n");
	return 2;
}
EOF
} >"$work/obj/tern-tools.c.new"
cmp -s "$work/obj/tern-tools.c.new" "$work/obj/tern-tools.c" ||
	mv "$work/obj/tern-tools.c.new" "$work/obj/tern-tools.c"
rm -f "$work/obj/tern-tools.c.new"
CFLAGS=(-std=gnu11 -O2 -Wall -Wextra -Werror -ffunction-sections -fdata-sections)
objs=("$work/obj/tern-tools.o")
for p in "${progs[@]}"; do
	o=$work/obj/$p.o
	if [ ! -f "$o" ] || [ "$src/$p.c" -nt "$o" ] || [ "$src/common.h" -nt "$o" ]; then
		gcc "${CFLAGS[@]}" -I"$src" -Dmain="${p//-/_}_main" -c "$src/$p.c" -o "$o"
	fi
	objs+=("$o")
done
gcc "${CFLAGS[@]}" -c "$work/obj/tern-tools.c" -o "$work/obj/tern-tools.o"
gcc -static -s -Wl,--gc-sections -o "$work/bin/tern-tools" "${objs[@]}"
for p in "${progs[@]}"; do ln -sf tern-tools "$work/bin/$p"; done

# ---- 4. initramfs tree ------------------------------------------------------------------------
root=$work/root
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,run,mnt,lib/modules}
chmod 1777 "$root/tmp"
chmod 700 "$root/root"
cp "$busybox" "$root/bin/busybox"
for a in $("$busybox" --list-full); do
	case "$a" in
	bin/busybox | linuxrc) continue ;;
	esac
	[ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"
done
cp "$work/bin/tern-tools" "$root/bin/tern-tools"
for p in "${progs[@]}"; do ln -s tern-tools "$root/bin/$p"; done
install -m 755 "$src/init" "$root/init"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\ntty:x:5:\n' >"$root/etc/group"
echo tern-guest >"$root/etc/hostname"
ln -s /proc/mounts "$root/etc/mtab"
# Extra files: tools/guest/rootfs/ is copied over the tree as it is (modes kept).
if [ -d "$src/rootfs" ]; then
	cp -R --no-preserve=ownership "$src/rootfs/." "$root/"
fi

# Modules: dependency closure of $MODULES, decompressed, in load order.
declare -A modfile=() state=()
while IFS= read -r -d '' f; do
	n=$(basename "$f")
	n=${n%%.ko*}
	modfile[${n//-/_}]=$f
done < <(find "$moddir" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz' |
	tr '\n' '\0')
# Prints module file f decompressed.
modcat() {
	case "$1" in
	*.ko.xz) xz -dc "$1" ;;
	*.ko.zst) zstd -qdc "$1" ;;
	*.ko.gz) gzip -dc "$1" ;;
	*) cat "$1" ;;
	esac
}
order=()
# Depth-first visit: a module's dependencies are appended before the module.
visit() {
	local m=$1 deps d
	[ "${state[$m]:-}" = "done" ] && return 0
	[ "${state[$m]:-}" = "busy" ] && die "module dependency cycle at $m"
	[ -n "${modfile[$m]:-}" ] || die "module $m not found in $(basename "$kdeb")"
	state[$m]="busy"
	modcat "${modfile[$m]}" >"$root/lib/modules/$m.ko"
	deps=$(tr '\0' '\n' <"$root/lib/modules/$m.ko" | sed -n 's/^depends=//p' | head -n1)
	for d in ${deps//,/ }; do visit "${d//-/_}"; done
	state[$m]="done"
	order+=("$m")
}
for m in $MODULES; do visit "$m"; done
printf '%s\n' "${order[@]}" >"$root/lib/modules/load-order"

kpkgver="$(dpkg-deb -f "$kdeb" Package) $(dpkg-deb -f "$kdeb" Version)"
bbver=$(dpkg-deb -f "$bdeb" Version)
{
	echo "kernel: $kpkgver"
	echo "busybox-static: $bbver"
	echo "modules: ${order[*]}"
	echo "programs: ${progs[*]}"
} >"$root/etc/tern-guest-release"

# Reproducible archive: fixed order, owners and timestamps (see mkcpio.py).
/usr/bin/python3 "$src/mkcpio.py" "$root" "$work/initrd.cpio" --node dev/console:c:5:1:600 \
	--node dev/null:c:1:3:666
case "$compress" in
none) cp "$work/initrd.cpio" "$work/initrd.img" ;;
gzip) gzip -9 -n -c "$work/initrd.cpio" >"$work/initrd.img" ;;
zstd) zstd -q -19 -f -c "$work/initrd.cpio" >"$work/initrd.img" ;;
*) die "TERN_GUEST_COMPRESS must be none, gzip or zstd" ;;
esac

# ---- 5. outputs: replaced only when their contents change (keeps make from redoing tern.img) --
install_if_changed() {
	if ! cmp -s "$1" "$2"; then
		cp "$1" "$2.tmp"
		mv "$2.tmp" "$2"
	fi
}
install_if_changed "$vmlinuz" "$out/vmlinuz"
install_if_changed "$work/initrd.img" "$out/initrd.img"
log "$out/vmlinuz $(stat -c %s "$out/vmlinuz") bytes ($kver)"
log "$out/initrd.img $(stat -c %s "$out/initrd.img") bytes ($compress;" \
	"$(stat -c %s "$work/initrd.cpio") uncompressed)"
