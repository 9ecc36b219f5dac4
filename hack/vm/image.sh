#!/usr/bin/env bash
# Builds the VM lane's guest: a Debian 12 root disk (systemd as PID 1, dbus, containerd, runc,
# sshd) plus the kernel and a tiny initramfs, under out/vm/<hash>/. The hash covers this script,
# the package list, the initramfs init and the kernel version, so the image is rebuilt only when
# one of them changes; a finished image is reused as is. Prints the image directory last.
# The guest kernel is the host's Debian linux-image-amd64: its vmlinuz boots the guest and its
# modules are copied into the disk (and the few the root disk needs into the initramfs).
# Usage: hack/vm/image.sh   (root; installs qemu-system-x86 linux-image-amd64 debootstrap if missing)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

fail() { echo "image.sh: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || fail "must run as root (debootstrap)"

host_packages=(qemu-system-x86 linux-image-amd64 debootstrap busybox-static cpio e2fsprogs openssh-client)
missing=()
for p in "${host_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "image.sh: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
        fail "apt-get install ${missing[*]} failed"
fi

# The newest Debian kernel linux-image-amd64 installed (sort -V: 6.1.0-10 after 6.1.0-9).
kver=$(ls /lib/modules | grep -E -- '-amd64$' | sort -V | tail -n1)
[[ -n $kver && -f /boot/vmlinuz-$kver ]] || fail "no Debian amd64 kernel in /lib/modules and /boot after installing linux-image-amd64"

packages=$(grep -v -e '^#' -e '^[[:space:]]*$' "$here/packages" | paste -sd, -)
hash=$( { cat "$here/image.sh" "$here/packages" "$here/init"; echo "$kver"; } | sha256sum | cut -c1-16)
vmdir="$repo/out/vm/$hash"
if [[ -f $vmdir/ready ]]; then
    echo "$vmdir"
    exit 0
fi

# The mirror apt already uses for bookworm/main (deb822 or one-line sources alike).
mirror=$(apt-cache policy | awk '$3 == "bookworm/main" && $2 ~ /^https?:/ { print $2; exit }')
mirror=${mirror:-http://deb.debian.org/debian}

work="$repo/out/vm/$hash.tmp"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
root="$work/root"

echo "image.sh: debootstrap bookworm from $mirror into $root" >&2
debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    fail "debootstrap failed; the end of its log:
$(tail -n 30 "$work/debootstrap.log"; tail -n 30 "$root/debootstrap/debootstrap.log" 2>/dev/null)"

# Kernel modules: the guest loads overlay, veth, bridge, 9p, virtio_net … from its own disk.
mkdir -p "$root/lib/modules"
cp -a "/lib/modules/$kver" "$root/lib/modules/"

# Root login over ssh with a key made for this image only (the guest is reachable on 127.0.0.1 only).
ssh-keygen -q -t ed25519 -N '' -C csrt-vm -f "$work/id_ed25519"
install -d -m 700 "$root/root/.ssh"
install -m 600 "$work/id_ed25519.pub" "$root/root/.ssh/authorized_keys"

echo csrt-vm >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 csrt-vm\n' >"$root/etc/hosts"
echo '/dev/vda / ext4 rw,noatime 0 0' >"$root/etc/fstab"
# QEMU's user-mode network hands out an address over DHCP; systemd-networkd takes it.
mkdir -p "$root/etc/systemd/network"
printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\n' >"$root/etc/systemd/network/10-qemu.network"
# sshd: no DNS lookups of the client (there is no resolver), keys only.
printf 'UseDNS no\nPasswordAuthentication no\n' >"$root/etc/ssh/sshd_config.d/csrt-vm.conf"
chroot "$root" systemctl enable systemd-networkd.service ssh.service >/dev/null 2>&1 ||
    fail "systemctl enable systemd-networkd ssh in the guest root failed"
# The tests start their own containerd with their own config; periodic jobs only slow a TCG guest down.
chroot "$root" systemctl disable containerd.service >/dev/null 2>&1 || true
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
    systemd-tmpfiles-clean.timer >/dev/null 2>&1 || true
rm -f "$root"/var/cache/apt/archives/*.deb

# The root disk, made from the directory without loop devices; sparse, so the size is a ceiling.
mkfs.ext4 -q -F -L csrt-vm -d "$root" "$work/root.img" 3G || fail "mkfs.ext4 -d $root failed"

# The initramfs: busybox plus the modules that mount /dev/vda, in load order.
initrd="$work/initrd"
mkdir -p "$initrd"/{bin,dev,proc,sys,newroot}
cp /bin/busybox "$initrd/bin/busybox"
install -m 755 "$here/init" "$initrd/init"
: >"$initrd/modules"
while read -r verb path _; do
    [[ $verb == insmod ]] || continue
    grep -qxF "$path" "$initrd/modules" && continue
    mkdir -p "$initrd$(dirname "$path")"
    cp "$path" "$initrd$path"
    echo "$path" >>"$initrd/modules"
done < <(modprobe -S "$kver" -a --show-depends virtio_pci virtio_blk ext4 2>&1 ||
    fail "modprobe --show-depends for $kver failed")
grep -q virtio_blk "$initrd/modules" || fail "modprobe -S $kver --show-depends found no virtio_blk module"
(cd "$initrd" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.img"

cp "/boot/vmlinuz-$kver" "$work/vmlinuz"
echo "$kver" >"$work/kernel-version"
rm -rf "$root" "$initrd"
trap - EXIT
rm -rf "$vmdir"
mv "$work" "$vmdir"
date -u +%FT%TZ >"$vmdir/ready"
echo "$vmdir"
