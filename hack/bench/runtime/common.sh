# Shared by run.sh and rss.sh (sourced, after they have parsed their arguments and entered their
# private mount namespace): the one-benchmark-at-a-time lock, the output and work directories,
# the sweep of containers left behind, crun's hybrid-host workaround and the bundle.
# Expects: repo, state root prefix in $1 of bench_start, arrays names[] and cmds[] (the command
# that runs each runtime), rootfs, and a die function.

# bench_start DEFAULT_OUT PREFIX: takes the lock, makes $out, $work, $raw, $log, sweeps what an
# interrupted run left in the state roots $state/PREFIX<name>, and removes this run's on exit.
bench_start() {
    local default_out=$1
    bench_prefix=$2
    state=/run/csrt-bench
    mkdir -p "$state"
    exec 9>"$state/lock"
    flock -n 9 || die "another benchmark is running (lock $state/lock)"
    [[ -n $out ]] || out=$default_out
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    work=$(mktemp -d /tmp/csrt-bench.XXXXXX)
    raw="$out/raw.txt" log="$out/stderr.log"
    : >"$raw"
    : >"$log"
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
    bench_sweep
    bench_hide_controllers
}

# Deletes every container in the bench's state roots (this run's, or an interrupted run's).
bench_sweep() {
    local i root id
    for i in "${!names[@]}"; do
        root="$state/$bench_prefix${names[$i]}"
        [[ -d $root ]] || continue
        for id in $(ls "$root" 2>/dev/null); do
            [[ -d $root/$id ]] || continue
            ${cmds[$i]} --root "$root" delete -f "$id" >>"$log" 2>&1 || true
        done
    done
}

# Scripts may define bench_before_cleanup (e.g. to unmount what they mounted under $work).
bench_cleanup() {
    local rc=$? name
    trap - EXIT INT TERM
    bench_sweep
    if declare -F bench_before_cleanup >/dev/null; then bench_before_cleanup; fi
    rm -rf "$work"
    for name in "${names[@]}"; do rm -rf "${state:?}/$bench_prefix$name"; done
    exit "$rc"
}

# crun 1.8.1 refuses a cgroup2 mount that lists controllers on a hybrid host (cgroupfs files
# have no size: read it); hidden in the private mount namespace, for every runtime alike.
bench_hide_controllers() {
    local controllers=/sys/fs/cgroup/unified/cgroup.controllers
    if [[ -f $controllers && -n $(<"$controllers") ]]; then
        : >"$work/empty"
        mount --bind "$work/empty" "$controllers"
    fi
}

# bench_bundle ARGS: $work/bundle from runc's default spec over the busybox rootfs, without a
# terminal, its process.args ("sh") replaced by ARGS (JSON array items, e.g. '"/bin/true"').
bench_bundle() {
    bundle="$work/bundle"
    mkdir -p "$bundle"
    cp -a "$rootfs" "$bundle/rootfs"
    (cd "$bundle" && runc spec)
    local escaped=${1//\//\\/}
    sed -i "s/\"terminal\": true/\"terminal\": false/; s/^\(\s*\)\"sh\"$/\1$escaped/" "$bundle/config.json"
    grep -qF "$1" "$bundle/config.json" || die "could not set process.args in runc's default spec"
}
