#!/usr/bin/env bash
# A throw-away Ceph cluster (one mon, one OSD on memstore) with a RADOS Gateway
# on 127.0.0.1, for interop tests of the transfer engine against an S3 server
# nobody here wrote. No systemd, no root-owned state: everything lives in DIR.
#
#   ceph-rgw.sh start PORT DIR   prints "READY endpoint=URL access_key=AK
#                                secret_key=SK role_arn=ARN" once S3 answers
#   ceph-rgw.sh stop DIR         stops what start started and removes DIR
#
# Needs: radosgw ceph-mon ceph-osd ceph-common (scripts/install-deps.sh rgw).
# Environment: CEPH_OBJECTSTORE (memstore; bluestore also works),
# RGW_ACCESS_KEY / RGW_SECRET_KEY, CEPH_START_TIMEOUT (seconds, default 120).
set -euo pipefail

usage() { echo "usage: ceph-rgw.sh start PORT DIR | stop DIR" >&2; exit 2; }

stop_cluster() {
  local d=$1
  [ -d "$d" ] || return 0
  for pidfile in "$d"/run/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile" 2>/dev/null || true)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  # Give the daemons a moment, then make sure.
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    alive=0
    for pidfile in "$d"/run/*.pid; do
      [ -e "$pidfile" ] || continue
      pid=$(cat "$pidfile" 2>/dev/null || true)
      [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1
    done
    [ $alive = 0 ] && break
    sleep 0.3
  done
  for pidfile in "$d"/run/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile" 2>/dev/null || true)
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$d"
}

cmd=${1:-}
case "$cmd" in
  stop) [ $# -eq 2 ] || usage; stop_cluster "$2"; exit 0 ;;
  start) [ $# -eq 3 ] || usage ;;
  *) usage ;;
esac

PORT=$2
D=$3
MONPORT=$((PORT + 1))
STORE=${CEPH_OBJECTSTORE:-memstore}
AK=${RGW_ACCESS_KEY:-IGTCLOUDINTEROP00000}
SK=${RGW_SECRET_KEY:-igtcloudinteropsecret000000000000000000000}
TIMEOUT=${CEPH_START_TIMEOUT:-120}

for b in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool ceph-authtool curl; do
  command -v "$b" >/dev/null || { echo "ceph-rgw.sh: missing $b (scripts/install-deps.sh rgw)" >&2; exit 3; }
done

mkdir -p "$D"
D=$(cd "$D" && pwd)
[ -e "$D/ceph.conf" ] && { echo "ceph-rgw.sh: $D already holds a cluster" >&2; exit 2; }
mkdir -p "$D/run" "$D/log" "$D/mon.a" "$D/osd.0" "$D/rgw"
CONF=$D/ceph.conf
export CEPH_CONF=$CONF
FSID=$(cat /proc/sys/kernel/random/uuid)

cat > "$CONF" <<CONF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MONPORT]
mon initial members = a
public network = 127.0.0.1/32
ms bind ipv6 = false
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
keyring = $D/keyring
run dir = $D/run
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
log file = $D/log/\$name.log
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
osd max object name len = 460
osd max object namespace len = 64
# Quiet messenger and RGW logs and no fsck at mount, as in the reference setup
# (its 1 GiB memory target and fixed 256 MiB bluestore cache made small uploads
# 20-30% slower here: the default, autotuned cache is kept).
debug ms = 0

[mon]
mon data = $D/mon.\$id

[osd]
osd data = $D/osd.\$id
osd objectstore = $STORE
memstore device bytes = 8589934592
bluestore block create = true
bluestore block size = 21474836480
bluestore fsck on mount = false

[client]
log file = $D/log/\$name.log
admin socket = $D/run/\$name.\$pid.asok

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT
# With auth off, the monitor client must not insist on secure mode.
ms mon client mode = crc
rgw data = $D/rgw
rgw dns name = localhost
rgw thread pool size = 64
rgw crypt require ssl = false
rgw enable usage log = false
debug rgw = 1
rgw s3 auth use sts = true
rgw sts key = igtcloudstskey01
CONF

fail() { echo "ceph-rgw.sh: $*" >&2; tail -n 15 "$D"/log/*.log >&2 2>/dev/null || true; stop_cluster "$D"; exit 1; }
wait_for() {
  local n=$1 what=$2; shift 2
  local end=$(( $(date +%s) + n ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || fail "timeout waiting for $what"
    sleep 0.3
  done
}

ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MONPORT]" "$D/monmap" >/dev/null
ceph-mon --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring" >/dev/null 2>&1 || fail "ceph-mon --mkfs"
ceph-mon -i a || fail "ceph-mon"
wait_for 60 mon timeout 10 ceph -s
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
[ "$(timeout 30 ceph osd new "$OSD_UUID")" = 0 ] || fail "ceph osd new"
ceph-osd -i 0 --mkfs --osd-uuid "$OSD_UUID" >"$D/log/osd-mkfs.out" 2>&1 || fail "ceph-osd --mkfs"
ceph-osd -i 0 || fail "ceph-osd"
osd_up() { timeout 10 ceph osd dump 2>/dev/null | grep -q '^osd.0 up'; }
wait_for 90 "osd.0 up" osd_up
timeout "$TIMEOUT" radosgw -n client.rgw.a || fail "radosgw"
# Only RGW's own answer counts: another server that took the port must not pass.
rgw_up() { curl -s "http://127.0.0.1:$PORT/" | grep -q ListAllMyBucketsResult; }
wait_for "$TIMEOUT" "radosgw on port $PORT" rgw_up

radosgw-admin user create --uid=tester --display-name=tester \
  --access-key="$AK" --secret-key="$SK" >"$D/log/user.json" 2>&1 || fail "user create"
radosgw-admin caps add --uid=tester --caps="roles=*" >/dev/null 2>&1 || fail "caps add"
radosgw-admin role create --role-name=tester-role --path=/ \
  --assume-role-policy-doc='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam:::user/tester"]},"Action":["sts:AssumeRole"]}]}' \
  >"$D/log/role.json" 2>&1 || fail "role create"
radosgw-admin role-policy put --role-name=tester-role --policy-name=s3all \
  --policy-doc='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":"arn:aws:s3:::*"}]}' \
  >/dev/null 2>&1 || fail "role policy"
echo "READY endpoint=http://127.0.0.1:$PORT access_key=$AK secret_key=$SK role_arn=arn:aws:iam:::role/tester-role"
