#!/usr/bin/env bash
# Installs the Debian packages that building csrt, its test images and its tests need.
# Idempotent and fast: dpkg-query decides what is missing, and apt-get (update included) only
# runs when something is. Quiet on success; apt's output is shown only when it fails.
set -euo pipefail

packages=(
    containerd                   # the private containerd the integration tests start (ctr too)
    runc                         # the stock runc shim's runtime, the reference in tests and bench
    crun                         # a second reference OCI runtime
    busybox-static               # the busybox test image and rootfs
    umoci                        # OCI layout inspection/unpacking when debugging images
    libseccomp-dev               # seccomp filters (headers for the C side, libseccomp for tests)
    containernetworking-plugins  # CNI bridge/loopback/host-local in /usr/lib/cni for CRI pods
    iproute2                     # ip: bridge and netns inspection and clean-up
    iptables                     # the CNI bridge plugin calls it for its firewall rules
    util-linux                   # unshare, nsenter, flock, mount, umount
    time                         # /usr/bin/time -v for startup time and RSS figures
    strace                       # which files a process opens at start-up (StartupTests)
    gcc                          # the C child path and the pause program (static)
    libc6-dev                    # static libc for gcc -static
    make
    tar                          # deterministic layer tarballs (--sort, --mtime, --owner)
    gzip
    coreutils
    libcap2-bin                  # setcap: file capabilities in the capability attack tests
    uidmap                       # newuidmap/newgidmap: multi-range maps of rootless containers
    podman                       # rootless podman driving csrt (and runc) in the rootless tests
    slirp4netns                  # rootless podman's network
    passwd                       # useradd: the rootless tests' unprivileged user
)

if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps.sh: must run as root (apt-get install); run it with sudo" >&2
    exit 1
fi

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

log=$(mktemp /tmp/install-deps.XXXXXX.log)
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-deps.sh: apt-get failed to install: ${missing[*]} (log above, kept in $log)" >&2
    exit 1
fi
rm -f "$log"
