#!/usr/bin/env bash
# csrt by hand (no containerd): builds what is needed and runs containers with the csrt CLI, showing their output and an
# exec, then cleans up. Touches nothing outside its own temporary directories and /run/csrt-main.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
[[ $(id -u) -eq 0 ]] || { echo "main.sh: run as root (containers need namespaces, mounts and cgroups)" >&2; exit 1; }
hack/install-deps.sh
hack/images/build.sh >/dev/null
hack/publish.sh >/dev/null
csrt="$repo/out/bin/csrt"
root=/run/csrt-main
work=$(mktemp -d /tmp/csrt-main.XXXXXX)
id="main-$$"
cleanup() {
    "$csrt" --root "$root" delete --force "$id" 2>/dev/null || true
    umount "$work/bundle/rootfs" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
mkdir -p "$work/bundle/rootfs" "$work/upper" "$work/work"
mount -t overlay overlay -o "lowerdir=$repo/out/images/busybox-rootfs,upperdir=$work/upper,workdir=$work/work" "$work/bundle/rootfs"
cd "$work/bundle"
"$csrt" spec
# A long-running container: not a terminal, a shell loop that prints a line per second.
sed -i 's/"terminal": true/"terminal": false/; s/^\(\t*\)"sh"$/\1"sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done"/' config.json

say "csrt run (foreground): a one-shot container, its exit status passed through"
cp config.json loop.json
sed -i 's/"sh", "-c", "i=0.*"$/"sh", "-c", "echo hello from $(hostname); exit 3"/' config.json
"$csrt" --root "$root" run --bundle . "$id-once" </dev/null && status=0 || status=$?
echo "exit status: $status"
mv loop.json config.json

say "csrt create + start: a detached container"
"$csrt" --root "$root" create --bundle . "$id" >"$work/out.log" 2>&1
"$csrt" --root "$root" state "$id"
"$csrt" --root "$root" start "$id"
sleep 2
say "its output"
cat "$work/out.log"
say "csrt exec into it"
"$csrt" --root "$root" exec "$id" sh -c 'echo "hello from exec: pid $$, hostname $(hostname)"; ps'
say "csrt ps / pause / resume / stats"
"$csrt" --root "$root" ps "$id"
"$csrt" --root "$root" pause "$id"; "$csrt" --root "$root" list
"$csrt" --root "$root" resume "$id"
"$csrt" --root "$root" events --stats "$id" | head -c 200; echo
say "csrt kill + delete"
"$csrt" --root "$root" kill "$id" KILL
sleep 0.2
"$csrt" --root "$root" delete "$id"
"$csrt" --root "$root" list
