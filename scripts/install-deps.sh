#!/usr/bin/env bash
# Install the Debian packages igtcloud needs to build, test and demo.
# As root it runs apt-get; otherwise it prints the exact apt-get line to run.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates curl jq python3 groff-base
  clang libclang-rt-14-dev
  libcurl4-openssl-dev libssl-dev libjansson-dev libmicrohttpd-dev
  libsqlite3-dev libcmocka-dev libexpat1-dev
)
# Extra groups, asked for by name: scripts/install-deps.sh interop bench rgw
for group in "$@"; do
  case "$group" in
    interop) packages+=(awscli python3-boto3 python3-awscrt dcmtk) ;;
    bench) packages+=(awscli rclone hyperfine time) ;;
    rgw) packages+=(radosgw ceph-mon ceph-osd ceph-mgr ceph-common) ;;
    *) echo "install-deps: unknown group '$group' (known: interop, bench, rgw)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages; run as root:" >&2
  echo "  apt-get update && $line" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists; refresh them when the install fails.
if ! $line >/tmp/igtcloud-apt.log 2>&1; then
  apt-get update >>/tmp/igtcloud-apt.log 2>&1
  $line >>/tmp/igtcloud-apt.log 2>&1 || { tail -n 20 /tmp/igtcloud-apt.log >&2; exit 1; }
fi
