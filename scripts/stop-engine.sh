#!/usr/bin/env bash
# Stops the dockerd that serves /var/run/docker.sock (the one scripts/ensure-engine.sh
# started for a test run) and waits until it and its containerd are gone. Progress on stderr.
set -euo pipefail
pid="$(cat /var/run/docker.pid 2>/dev/null || true)"
if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then pid="$(pgrep -x dockerd | head -n1 || true)"; fi
[ -n "$pid" ] || exit 0
echo "stop-engine: stopping dockerd ($pid), which this run started..." >&2
kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 1 120); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.25
done
if kill -0 "$pid" 2>/dev/null; then
  echo "stop-engine: dockerd did not stop within 30 s; killing it." >&2
  kill -KILL "$pid" 2>/dev/null || true
fi
# dockerd's own containerd goes with it; wait for that too.
for _ in $(seq 1 40); do
  pgrep -f '^containerd --config /var/run/docker/containerd' >/dev/null 2>&1 || break
  sleep 0.25
done
