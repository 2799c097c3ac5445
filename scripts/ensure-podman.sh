#!/usr/bin/env bash
# Starts Podman's Docker-compatible service for the Podman end-to-end tests and prints the
# socket's address on stdout, then `started PID` when it started the service (the caller
# stops it afterwards; a service that already answered is left alone). As root on Debian/Ubuntu it installs podman and catatonit (the
# init Podman runs as PID 1) first. On this project's CI machines crun cannot run containers
# (hybrid cgroups), so the service uses runc. Progress goes to stderr.
set -euo pipefail
sock=/run/mcp-lok-test-podman.sock

ping() { node "$(dirname "$0")/engine-ping.mjs" "$sock"; }

if ping; then echo "unix://$sock"; exit 0; fi
if ! command -v podman >/dev/null 2>&1 || ! command -v catatonit >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-podman: podman is not installed; install podman and catatonit." >&2
    exit 1
  fi
  echo "ensure-podman: installing podman and catatonit (apt-get)..." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman catatonit >/dev/null
fi
runtime=()
if command -v runc >/dev/null 2>&1; then runtime=(--runtime runc); fi
setsid podman "${runtime[@]}" system service --time=0 "unix://$sock" >/tmp/mcp-lok-podman.log 2>&1 < /dev/null &
service=$!
for _ in $(seq 1 40); do
  if ping; then echo "unix://$sock"; echo "started $service"; exit 0; fi
  sleep 0.5
done
kill "$service" 2>/dev/null || true
echo "ensure-podman: the Podman service did not answer; see /tmp/mcp-lok-podman.log" >&2
exit 1
