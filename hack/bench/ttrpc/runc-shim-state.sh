#!/bin/bash
# Benchmarks our ttrpc client against the Go runc shim's containerd.task.v2.Task/State.
# Starts a throw-away containerd (own root/state/sockets under /run/ttrpc-bench.*), runs one
# busybox task with io.containerd.runc.v2, points ttrpc-bench shim-state at the shim's address
# file, then removes everything. Needs root and the test images (hack/images/build.sh).
#   hack/bench/ttrpc/runc-shim-state.sh [--seconds N]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
images=${CSRT_IMAGES_DIR:-$repo/out/images}
out="$repo/out/bench/ttrpc"
[ -f "$images/busybox.oci.tar" ] || CSRT_IMAGES_DIR="$images" bash "$repo/hack/images/build.sh"
dotnet publish "$here/TtrpcBench.csproj" -c Release -o "$out" >/dev/null

dir=$(mktemp -d /run/ttrpc-bench.XXXXXX)
id=ttrpc-bench-$$
ctr=(ctr --address "$dir/c.sock")
cleanup() {
  "${ctr[@]}" tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
  sleep 0.5
  "${ctr[@]}" tasks delete -f "$id" >/dev/null 2>&1 || true
  "${ctr[@]}" containers delete "$id" >/dev/null 2>&1 || true
  [ -n "${ctd_pid:-}" ] && kill "$ctd_pid" 2>/dev/null && wait "$ctd_pid" 2>/dev/null || true
  umount -R "$dir" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

cat >"$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$dir/c.sock"
[ttrpc]
  address = "$dir/c.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
TOML
containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
ctd_pid=$!
for _ in $(seq 100); do "${ctr[@]}" version >/dev/null 2>&1 && break; sleep 0.1; done
"${ctr[@]}" images import "$images/busybox.oci.tar" >/dev/null
"${ctr[@]}" run -d --runtime io.containerd.runc.v2 localhost/csrt/busybox:latest "$id" sleep 3600 >/dev/null
address=$(cat "$dir/state/io.containerd.runtime.v2.task/default/$id/address")
shim_pid=$(pgrep -f -- "-id $id" | head -1 || true)
"$out/ttrpc-bench" shim-state --address "$address" --id "$id" "$@"
if [ -n "$shim_pid" ]; then
  echo "runc shim pid $shim_pid after load: $(awk '/^VmRSS|^VmHWM|^Threads/ {printf "%s %s %s  ", $1, $2, $3}' "/proc/$shim_pid/status")"
fi
