#!/usr/bin/env bash
# Makes sure a Docker engine answers for the demo and the tests: reuses one that answers,
# otherwise (as root on Debian/Ubuntu) installs docker.io and busybox-static from the
# distribution and starts dockerd in its own session. As root it also installs
# docker-registry (Debian's Docker Registry v2), which the cluster-images e2e test pushes to
# on loopback. Prints progress on stderr; when it
# started dockerd it prints `started` on stdout, so the caller knows to stop it afterwards
# (scripts/stop-engine.sh).
set -euo pipefail
# lok-offline-data: docker.io; a Debian package name, installed by apt-get
# lok-offline-data: docker-registry; a Debian package name, installed by apt-get

sock="${DOCKER_HOST:-unix:///var/run/docker.sock}"
sock="${sock#unix://}"

ping() { node "$(dirname "$0")/engine-ping.mjs" "$sock"; }

need_busybox() { ! [ -x /bin/busybox ] && ! [ -x /usr/bin/busybox ]; }

# The registry is for tests only: without it the push test falls back to an unreachable one.
if ! command -v docker-registry >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-engine: installing docker-registry (apt-get)..." >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry; } >/dev/null 2>&1 \
    || echo "ensure-engine: docker-registry did not install; the push test uses an unreachable registry instead." >&2
fi

if ping; then
  exit 0
fi
if [ "$sock" != /var/run/docker.sock ]; then
  echo "ensure-engine: no engine answers at $sock (DOCKER_HOST); start it and try again." >&2
  exit 1
fi
if ! command -v dockerd >/dev/null 2>&1 || need_busybox; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-engine: no Docker engine answers at $sock. Start Docker (or Podman's Docker-compatible service) and try again." >&2
    exit 1
  fi
  echo "ensure-engine: installing docker.io and busybox-static (apt-get)..." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io busybox-static >/dev/null
fi
echo "ensure-engine: starting dockerd (log: /tmp/mcp-lok-dockerd.log)..." >&2
setsid dockerd >/tmp/mcp-lok-dockerd.log 2>&1 < /dev/null &
for _ in $(seq 1 60); do
  if ping; then
    echo "ensure-engine: dockerd is up." >&2
    echo started
    exit 0
  fi
  sleep 0.5
done
echo "ensure-engine: dockerd did not answer within 30 s; see /tmp/mcp-lok-dockerd.log" >&2
exit 1
