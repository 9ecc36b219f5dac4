#!/usr/bin/env bash
# Builds the local test images (there is no registry here):
#   out/images/busybox-rootfs/   busybox-static rootfs directory for OCI bundle tests
#   out/images/busybox.oci.tar   OCI image layout tarball, localhost/csrt/busybox:latest
#   out/images/pause.oci.tar     OCI image layout tarball, localhost/csrt/pause:3.9
#   out/images/pause             the static pause binary (hack/images/pause.c)
#   out/images/fn-annotate.oci.tar  OCI image layout tarball, localhost/csrt/fn-annotate:latest: the
#                                busybox rootfs plus hack/images/fn (a kpt ResourceList function for
#                                `csrt fn run`), Entrypoint /fn/annotate, User "user"
# Both tarballs import with `ctr images import` (containerd 1.6+): the OCI layout's index.json
# names each manifest with the `io.containerd.image.name` annotation, which ctr takes verbatim.
#
# Deterministic (fixed mtimes, sorted entries, numeric owners, gzip -n), idempotent and cached:
# nothing is rebuilt while the hash of the inputs (this script, pause.c, the busybox binary and
# the tool versions) is unchanged. Concurrent runs serialize on a lock. Needs root (the rootfs
# holds a uid 1000 home). Set CSRT_IMAGES_DIR to build elsewhere.
set -euo pipefail
umask 022
export LC_ALL=C

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${CSRT_IMAGES_DIR:-$repo/out/images}"

busybox_name="localhost/csrt/busybox:latest"
pause_name="localhost/csrt/pause:3.9"
fn_name="localhost/csrt/fn-annotate:latest"
# Kept in one place with the image names: the Env PATH of both images.
image_path_env="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

die() { echo "hack/images/build.sh: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (the rootfs holds files owned by uid 1000)"
for tool in gcc tar gzip sha256sum flock; do
    command -v "$tool" >/dev/null || die "'$tool' not found; run hack/install-deps.sh"
done
busybox=/bin/busybox
[[ -x $busybox ]] && "$busybox" --list-full >/dev/null 2>&1 \
    || die "$busybox (Debian package busybox-static) missing or not a multi-call busybox; run hack/install-deps.sh"

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9

print_outputs() {
    echo "rootfs:  $out/busybox-rootfs"
    echo "busybox: $out/busybox.oci.tar ($busybox_name)"
    echo "pause:   $out/pause.oci.tar ($pause_name)"
    echo "fn:      $out/fn-annotate.oci.tar ($fn_name)"
}

inputs_hash=$(
    {
        sha256sum "$here/build.sh" "$here/pause.c" "$here/fn/annotate" "$here/fn/annotate.awk" "$busybox"
        gcc -dumpfullversion -dumpversion
        tar --version | head -n1
        gzip --version | head -n1
    } | sha256sum | cut -d' ' -f1
)
stamp="$out/.inputs.sha256"
if [[ -f $stamp && $(<"$stamp") == "$inputs_hash" && -x $out/busybox-rootfs/bin/sh \
      && -s $out/busybox.oci.tar && -s $out/pause.oci.tar && -s $out/fn-annotate.oci.tar && -x $out/pause ]]; then
    print_outputs
    exit 0
fi

work="$out/.build"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

# --- busybox rootfs --------------------------------------------------------------------------
rootfs="$work/busybox-rootfs"
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,home/user}
install -m 0755 "$busybox" "$rootfs/bin/busybox"
# Hard links, not symlinks: Debian's busybox-static runs applets without a PATH search, so an
# applet must be reachable as a real file at every path a shell may exec.
while IFS= read -r applet; do
    name="${applet##*/}"
    [[ -e $rootfs/bin/$name ]] || ln "$rootfs/bin/busybox" "$rootfs/bin/$name"
    if [[ $applet == */* && ! -e $rootfs/$applet ]]; then
        ln "$rootfs/bin/busybox" "$rootfs/$applet"
    fi
done < <("$busybox" --list-full | sort)
[[ -x $rootfs/bin/sh ]] || die "busybox --list-full did not list sh"

cat >"$rootfs/etc/passwd" <<'EOT'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:test user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOT
cat >"$rootfs/etc/group" <<'EOT'
root:x:0:
user:x:1000:
nobody:x:65534:
EOT
cat >"$rootfs/etc/hosts" <<'EOT'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
EOT
cat >"$rootfs/etc/resolv.conf" <<'EOT'
# placeholder: the container engine bind-mounts the real resolv.conf here
EOT
chmod 0644 "$rootfs"/etc/*
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/root"
chown 1000:1000 "$rootfs/home/user"

# --- pause ---------------------------------------------------------------------------------------
gcc -static -Os -s -Wall -Wextra -Werror -o "$work/pause" "$here/pause.c" \
    || die "gcc -static failed for $here/pause.c (is libc6-dev installed?)"
pause_root="$work/pause-rootfs"
mkdir -p "$pause_root"
install -m 0755 "$work/pause" "$pause_root/pause"

# --- the ResourceList function: the busybox rootfs plus hack/images/fn --------------------------
fn_root="$work/fn-rootfs"
cp -a "$rootfs" "$fn_root"
mkdir -p "$fn_root/fn"
install -m 0755 "$here/fn/annotate" "$fn_root/fn/annotate"
install -m 0644 "$here/fn/annotate.awk" "$fn_root/fn/annotate.awk"

# --- OCI layouts ---------------------------------------------------------------------------------
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# Writes a reproducible tar of the directory $1's contents to $2: names sorted, mtimes 0,
# numeric owners as on disk, ustar (no pax headers carrying atime/ctime).
det_tar() {
    local dir=$1 dest=$2
    local -a entries
    mapfile -t entries < <(cd "$dir" && ls -A | sort)
    tar -C "$dir" --sort=name --mtime=@0 --numeric-owner --format=ustar -cf "$dest" "${entries[@]}"
}

# make_image <rootfs dir> <image name> <config "config" object JSON> <output tarball>
make_image() {
    local root=$1 name=$2 runconfig=$3 dest=$4
    local lay="$work/layout-${dest##*/}"
    mkdir -p "$lay/blobs/sha256"

    det_tar "$root" "$lay/layer.tar"
    local diff_id; diff_id=$(sha "$lay/layer.tar")
    gzip -n -9 <"$lay/layer.tar" >"$lay/layer.tar.gz"
    rm "$lay/layer.tar"
    local layer; layer=$(sha "$lay/layer.tar.gz")
    local layer_size; layer_size=$(size "$lay/layer.tar.gz")
    mv "$lay/layer.tar.gz" "$lay/blobs/sha256/$layer"

    printf '%s' "{\"created\":\"1970-01-01T00:00:00Z\",\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":$runconfig,\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$diff_id\"]},\"history\":[{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"hack/images/build.sh\"}]}" >"$lay/config.json"
    local config; config=$(sha "$lay/config.json")
    local config_size; config_size=$(size "$lay/config.json")
    mv "$lay/config.json" "$lay/blobs/sha256/$config"

    printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$config\",\"size\":$config_size},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$layer\",\"size\":$layer_size}]}" >"$lay/manifest.json"
    local manifest; manifest=$(sha "$lay/manifest.json")
    local manifest_size; manifest_size=$(size "$lay/manifest.json")
    mv "$lay/manifest.json" "$lay/blobs/sha256/$manifest"

    # io.containerd.image.name is the full name ctr import uses as is; ref.name is the OCI
    # layout's own tag annotation for other tools (umoci, skopeo).
    printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$manifest\",\"size\":$manifest_size,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},\"annotations\":{\"io.containerd.image.name\":\"$name\",\"org.opencontainers.image.ref.name\":\"${name##*:}\"}}]}" >"$lay/index.json"
    printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$lay/oci-layout"

    find "$lay" -type d -exec chmod 0755 {} +
    find "$lay" -type f -exec chmod 0644 {} +
    tar -C "$lay" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=ustar \
        -cf "$dest" oci-layout index.json blobs
    rm -rf "$lay"
}

make_image "$rootfs" "$busybox_name" \
    "{\"Env\":[\"$image_path_env\"],\"Cmd\":[\"sh\"],\"WorkingDir\":\"/\"}" "$work/busybox.oci.tar"
make_image "$pause_root" "$pause_name" \
    "{\"Env\":[\"$image_path_env\"],\"Entrypoint\":[\"/pause\"],\"WorkingDir\":\"/\"}" "$work/pause.oci.tar"

make_image "$fn_root" "$fn_name" \
    "{\"Env\":[\"$image_path_env\"],\"Entrypoint\":[\"/fn/annotate\"],\"WorkingDir\":\"/\",\"User\":\"user\"}" "$work/fn-annotate.oci.tar"

# --- publish -------------------------------------------------------------------------------------
# The stamp goes first (removed) and last (written) so an interrupted swap is rebuilt next time.
rm -f "$stamp"
rm -rf "$out/busybox-rootfs"
mv "$rootfs" "$out/busybox-rootfs"
mv -f "$work/busybox.oci.tar" "$work/pause.oci.tar" "$work/fn-annotate.oci.tar" "$work/pause" "$out/"
echo "$inputs_hash" >"$stamp"
print_outputs
