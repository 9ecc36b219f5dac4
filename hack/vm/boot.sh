#!/usr/bin/env bash
# Boots and stops the VM lane's guest (the image of hack/vm/image.sh) under QEMU.
#
#   hack/vm/boot.sh up STATE_DIR      boot; returns once systemd reached multi-user.target and the
#                                     system bus answers, with the repository mounted read-only at
#                                     the same absolute path as on the host
#   hack/vm/boot.sh down STATE_DIR    power the guest off (bounded), then make sure QEMU is gone
#
# After `up`, `ssh -F STATE_DIR/ssh_config guest CMD` runs CMD in the guest as root. STATE_DIR also
# holds console.log (the guest's serial console) and share/, a writable directory mounted at the same
# path in the guest. Software emulation (TCG) on purpose: a KVM guest hangs before its kernel prints.
# Environment: CSRT_VM_IMAGE (an image directory; default: run hack/vm/image.sh), CSRT_VM_SHARE (the
# directory shared read-only; default the repository), CSRT_VM_MEMORY (default 4G), CSRT_VM_BOOT_TIMEOUT
# (seconds; default 600), CSRT_VM_OWNER_PID (power the guest off when this process ends).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

fail() { echo "boot.sh: $*" >&2; exit 1; }
(($# == 2)) || fail "usage: boot.sh up|down STATE_DIR"
cmd=$1
state=$(realpath -m "$2")

console_tail() {
    echo "--- the last lines of the guest's console ($state/console.log):"
    tail -n 40 "$state/console.log" 2>/dev/null | tr -d '\r'
}

qemu_alive() {
    local pid
    pid=$(cat "$state/qemu.pid" 2>/dev/null) || return 1
    # A zombie (QEMU daemonizes; its new parent may never reap it) counts as gone.
    [[ -n $pid && -r /proc/$pid/stat ]] && [[ $(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) != Z ]]
}

g() { ssh -F "$state/ssh_config" guest "$@"; }

down() {
    [[ -f $state/qemu.pid ]] || return 0
    local pid
    pid=$(cat "$state/qemu.pid")
    if qemu_alive; then
        timeout 20 ssh -F "$state/ssh_config" guest 'systemctl poweroff' >/dev/null 2>&1 || true
        for _ in $(seq 1 60); do
            qemu_alive || break
            sleep 1
        done
    fi
    ssh -F "$state/ssh_config" -O exit guest >/dev/null 2>&1 || true
    if qemu_alive; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 10); do
            qemu_alive || break
            sleep 1
        done
        qemu_alive && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$state/qemu.pid"
}

case $cmd in
down)
    down
    exit 0
    ;;
up) ;;
*) fail "unknown command '$cmd' (up or down)" ;;
esac

[[ $(id -u) -eq 0 ]] || fail "must run as root"
image=${CSRT_VM_IMAGE:-}
if [[ -z $image ]]; then
    image=$("$here/image.sh" | tail -n1) || fail "hack/vm/image.sh failed"
fi
[[ -f $image/ready ]] || fail "$image is not a finished guest image (no $image/ready)"
share=$(realpath "${CSRT_VM_SHARE:-$repo}")
memory=${CSRT_VM_MEMORY:-4G}
boot_timeout=${CSRT_VM_BOOT_TIMEOUT:-600}

mkdir -p "$state/share"
if qemu_alive; then
    fail "a guest of $state is still running (pid $(cat "$state/qemu.pid")); run boot.sh down $state first"
fi
rm -f "$state/console.log" "$state/ssh.ctl"

# A free port on 127.0.0.1 for sshd's forward; QEMU refusing it (taken meanwhile) is retried.
free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

started=0
for _ in 1 2 3; do
    port=$(free_port) || fail "no free port on 127.0.0.1"
    # -snapshot: the guest writes to a temporary overlay, so the cached image stays as built.
    # -cpu max: the NativeAOT binaries use instructions (SSE4.2, POPCNT …) TCG's default CPU lacks.
    if qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m "$memory" \
        -display none -monitor none -serial "file:$state/console.log" -no-reboot \
        -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
        -append "console=ttyS0 root=/dev/vda rw panic=-1 net.ifnames=0 systemd.unified_cgroup_hierarchy=1" \
        -drive "file=$image/root.img,format=raw,if=virtio,snapshot=on" \
        -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-pci,netdev=net0 \
        -fsdev "local,id=repo,path=$share,security_model=none,readonly=on" \
        -device virtio-9p-pci,fsdev=repo,mount_tag=csrtrepo \
        -fsdev "local,id=results,path=$state/share,security_model=none" \
        -device virtio-9p-pci,fsdev=results,mount_tag=csrtshare \
        -daemonize -pidfile "$state/qemu.pid" 2>"$state/qemu.err"; then
        started=1
        break
    fi
    grep -q -i 'hostfwd\|address already in use' "$state/qemu.err" || break
done
((started)) || fail "qemu-system-x86_64 failed to start: $(cat "$state/qemu.err")"

cat >"$state/ssh_config" <<EOF
Host guest
  HostName 127.0.0.1
  Port $port
  User root
  IdentityFile $image/id_ed25519
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
  BatchMode yes
  ConnectTimeout 10
  ServerAliveInterval 5
  ServerAliveCountMax 6
  ControlPath $state/ssh.ctl
EOF

deadline=$((SECONDS + boot_timeout))
booted() {
    # sshd answering is the first sign of life; a connection refused or reset is retried.
    until timeout 30 ssh -F "$state/ssh_config" guest true >/dev/null 2>&1; do
        qemu_alive || { echo "boot.sh: QEMU exited while the guest booted" >&2; return 1; }
        ((SECONDS < deadline)) || { echo "boot.sh: sshd in the guest did not answer within ${boot_timeout}s" >&2; return 1; }
        sleep 2
    done
    # One multiplexed connection for every later command: a TCG guest's key exchange is slow.
    ssh -F "$state/ssh_config" -o ControlMaster=yes -o ControlPersist=yes -fN guest </dev/null >/dev/null 2>&1 || true
    local left=$((deadline - SECONDS))
    ((left > 0)) || left=1
    local status
    status=$(timeout "$left" ssh -F "$state/ssh_config" guest 'systemctl is-system-running --wait' 2>&1) || true
    case $status in
    running) ;;
    degraded) echo "boot.sh: the guest is degraded: $(g 'systemctl --failed --no-legend --plain' 2>&1 | tr '\n' ';')" >&2 ;;
    *) echo "boot.sh: systemd did not finish starting within ${boot_timeout}s: $status" >&2; return 1 ;;
    esac
    g 'systemctl is-active --quiet multi-user.target' ||
        { echo "boot.sh: multi-user.target is not active" >&2; return 1; }
    g 'busctl --system --no-pager status >/dev/null' ||
        { echo "boot.sh: the guest's system bus does not answer" >&2; return 1; }
    g "modprobe -a 9p 9pnet_virtio &&
       mkdir -p '$share' '$state/share' &&
       mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose csrtrepo '$share' &&
       mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 csrtshare '$state/share'" ||
        { echo "boot.sh: mounting the 9p shares ($share, $state/share) in the guest failed" >&2; return 1; }
}
if ! booted; then
    console_tail >&2
    down
    exit 1
fi
# With CSRT_VM_OWNER_PID set (the test process), a watchdog powers the guest off once that process is
# gone, so a test run that is killed leaves no QEMU behind.
if [[ -n ${CSRT_VM_OWNER_PID:-} ]]; then
    setsid bash -c 'while kill -0 "$1" 2>/dev/null && [[ -f $2/qemu.pid ]]; do sleep 2; done; [[ -f $2/qemu.pid ]] && "$3" down "$2"' \
        watchdog "$CSRT_VM_OWNER_PID" "$state" "$here/boot.sh" </dev/null >/dev/null 2>&1 &
fi
echo "boot.sh: guest up ($(g uname -r), systemd $(g 'systemctl --version | head -n1 | cut -d" " -f2'), ssh -F $state/ssh_config guest)" >&2
