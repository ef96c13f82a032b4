#!/usr/bin/python3
"""mkcpio.py ROOT OUT [--node PATH:c|b:MAJOR:MINOR:MODE]...

Writes ROOT as a newc ("070701") cpio archive for a Linux initramfs, without needing root:
every entry is owned by 0:0, timestamps are 0 and entries are sorted, so the same tree always
gives the same bytes. --node adds a device node that need not exist in ROOT (e.g.
dev/console:c:5:1:600, which the kernel opens for /init's stdio before devtmpfs is mounted).
Regular files keep their permission bits; directories, files and symlinks are supported.
"""
import os
import stat
import sys


def header(ino, mode, nlink, size, rdev_major, rdev_minor, name):
    """Returns one newc header plus the NUL-terminated, 4-byte padded name."""
    namez = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev_major, rdev_minor, len(namez), 0]
    h = b"070701" + b"".join(b"%08X" % f for f in fields) + namez
    return h + b"\0" * (-len(h) % 4)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    root, out = argv[1], argv[2]
    nodes = []
    args = argv[3:]
    while args:
        if args[0] != "--node" or len(args) < 2:
            sys.exit(__doc__)
        path, kind, major, minor, mode = args[1].split(":")
        nodes.append((path.strip("/"), kind, int(major), int(minor), int(mode, 8)))
        args = args[2:]

    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        for n in sorted(dirnames + filenames):
            entries.append(os.path.normpath(os.path.join(rel, n)))
    entries.sort()
    ino = 1
    with open(out + ".tmp", "wb") as f:
        for rel in entries:
            st = os.lstat(os.path.join(root, rel))
            perm = stat.S_IMODE(st.st_mode)
            if stat.S_ISDIR(st.st_mode):
                f.write(header(ino, stat.S_IFDIR | perm, 2, 0, 0, 0, rel))
            elif stat.S_ISLNK(st.st_mode):
                target = os.readlink(os.path.join(root, rel)).encode()
                f.write(header(ino, stat.S_IFLNK | 0o777, 1, len(target), 0, 0, rel))
                f.write(target + b"\0" * (-len(target) % 4))
            elif stat.S_ISREG(st.st_mode):
                with open(os.path.join(root, rel), "rb") as src:
                    data = src.read()
                f.write(header(ino, stat.S_IFREG | perm, 1, len(data), 0, 0, rel))
                f.write(data + b"\0" * (-len(data) % 4))
            else:
                sys.exit("mkcpio: unsupported file type: " + rel)
            ino += 1
        for path, kind, major, minor, mode in nodes:
            fmt = stat.S_IFCHR if kind == "c" else stat.S_IFBLK
            f.write(header(ino, fmt | mode, 1, 0, major, minor, path))
            ino += 1
        f.write(header(0, 0, 1, 0, 0, 0, "TRAILER!!!"))
        f.write(b"\0" * (-f.tell() % 512))
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main(sys.argv)
