#!/usr/bin/env bash
# CI's Docker check (issue 17): build the images with no image registry (docker/build.sh on a
# Debian bookworm made by debootstrap, PostgreSQL and Mosquitto from Debian's packages on it),
# bring up docker/compose.yml with docker/compose.ci.yml (PostgreSQL, Mosquitto, the VTN, one
# simulated home: its devices and its agent), check over REST that the VEN registered, its
# telemetry arrived and a plan was dispatched to it (.ci/docker_smoke.py), then take it down.
# Starts the engine when none answers (and stops it after): without iptables rules (the stack's
# own bridge network, the VTN published on a free loopback port, nothing else reachable).
# Prints its wall time and CPU seconds (this script and its children, the engine, the containers).
# .ci/run runs it in the background under `nice`, which the engine and containers inherit.
set -euo pipefail
cd "$(dirname "$0")/.."
export FLEXVPP_TAG=ci FLEXVPP_PUBLISH=127.0.0.1:  # the VTN on a free port of 127.0.0.1
project=flexvpp-ci
compose=(docker-compose -p "$project" -f docker/compose.yml -f docker/compose.ci.yml)
say() { printf '[docker %ss] %s\n' "$SECONDS" "$*"; }

dockerd_pid=""
start_engine() {
  docker info >/dev/null 2>&1 && return
  say "starting dockerd"
  # No iptables rules on the host: containers reach each other on the stack's bridge, the host
  # reaches the VTN through the published port (docker-proxy), and nothing reaches further.
  dockerd --iptables=false >/tmp/flexvpp-ci-dockerd.log 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && return; sleep 1; done
  tail -n 20 /tmp/flexvpp-ci-dockerd.log
  return 1
}

# engine_cpu_s: CPU seconds of the engine (dockerd, containerd and what they reaped) and of every
# container, build steps included (the cgroup v1 parent of theirs, or cgroup v2's system.slice).
engine_cpu_s() {
  local pid ticks=0 usage_ns=0 f
  for pid in $(pgrep -x dockerd) $(pgrep -x containerd) $(pgrep -f containerd-shim); do
    # utime stime cutime cstime: fields 14-17 of /proc/PID/stat (the command, field 2, has no space)
    ticks=$((ticks + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  f=/sys/fs/cgroup/cpuacct/docker/cpuacct.usage
  [[ -r $f ]] && usage_ns=$(cat "$f")
  f=/sys/fs/cgroup/system.slice/cpu.stat
  [[ ! -r /sys/fs/cgroup/cpuacct/docker/cpuacct.usage && -r $f ]] &&
    usage_ns=$(($(awk '$1 == "usage_usec" {print $2}' "$f") * 1000))
  echo $((ticks * 1000 / $(getconf CLK_TCK) + usage_ns / 1000000))  # milliseconds
}

finish() {
  local status=$?
  if ((status)) && docker info >/dev/null 2>&1; then
    say "FAILED; the stack's state and logs:"
    "${compose[@]}" ps || true
    "${compose[@]}" logs --no-color --tail 40 || true
  fi
  "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  local engine_ms
  engine_ms=$(($(engine_cpu_s) - engine_ms_at_start))
  if [[ -n $dockerd_pid ]]; then
    kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null || true
  fi
  # `times` in this shell (not in a pipe's subshell): its second line is this script's children.
  local children times_out
  times_out=$(mktemp)
  times >"$times_out"
  children=$(tail -n1 "$times_out" | awk '{
    split($1, u, "m"); split($2, s, "m"); printf "%.0f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }')
  rm -f "$times_out"
  say "wall $SECONDS s; CPU $((children + engine_ms / 1000)) s (this script's processes ${children} s," \
    "the engine and containers $((engine_ms / 1000)) s)"
  exit "$status"
}

# One such check at a time on a machine (the engine, the project name and the tag are shared).
exec 9>/tmp/flexvpp-docker-stack.lock
flock -n 9 || { say "waiting for another Docker check on this machine"; flock 9; }
start_engine
engine_ms_at_start=$(engine_cpu_s)
trap finish EXIT
"${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true  # a stack an earlier run left up

say "docker/build.sh --base debootstrap --services --tag $FLEXVPP_TAG"
docker/build.sh --base debootstrap --services --tag "$FLEXVPP_TAG" 2>&1 | sed 's/^/  /'
built=$SECONDS

say "compose up: PostgreSQL, Mosquitto, the VTN, provisioning, home-001's devices and agent"
"${compose[@]}" config -q
# up returns when the VTN is healthy, the provisioning has completed and the home has started.
"${compose[@]}" up -d --no-build home-001-devices home-001-agent 2>&1 | { grep -v -E '\.\.\. *$' || true; } |
  sed 's/^/  /'
vtn_url="http://$("${compose[@]}" port vtn 8080)"
token=$("${compose[@]}" exec -T vtn flexvpp token create --role operator --name ci-smoke | tail -n1)
say "the stack is up ($vtn_url); smoke test"
python3 .ci/docker_smoke.py "$vtn_url" "$token" | sed 's/^/  /'
"${compose[@]}" ps | sed 's/^/  /'
unhealthy=$("${compose[@]}" ps | grep -c -E 'unhealthy|Exit [1-9]|Restarting' || true)
((unhealthy == 0)) || { say "FAILED: $unhealthy services unhealthy, failed or restarting"; exit 1; }
say "passed: images built in $built s, the stack ran $((SECONDS - built)) s"
