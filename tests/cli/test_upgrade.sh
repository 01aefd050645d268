#!/usr/bin/env bash
# igtcloud upgrade against a release feed served on 127.0.0.1, replacing a copy
# of the built program in a temporary folder (never the build's own binary).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
server_pid=""
cleanup_extra() { stop_process "$server_pid"; }
make_work igtcloud-upgrade
unset IGTCLOUD_UPGRADE_FEED   # never a developer's feed
chmod 755 "$work"
srv=$work/srv bin=$work/bin
mkdir -p "$srv" "$bin"

python3 -c '
import functools, http.server, sys
class Handler(http.server.SimpleHTTPRequestHandler):
    # /moved/NAME answers 302 to /NAME, as release hosts redirect to storage.
    def do_GET(self):
        if self.path.startswith("/moved/"):
            self.send_response(302)
            self.send_header("Location", self.path[len("/moved"):])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()
handler = functools.partial(Handler, directory=sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
print(server.server_address[1], flush=True)
server.serve_forever()' "$srv" >"$work/port" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do [[ -s "$work/port" ]] && break; sleep 0.05; done
port=$(head -n1 "$work/port")
[[ "$port" =~ ^[0-9]+$ ]] || fail "feed server did not start: $(cat "$work/server.log")"
base="http://127.0.0.1:$port"

current=$("$IGTCLOUD" version | awk '{print $2}')
platform=$("$IGTCLOUD" version --verbose | awk '$1 == "platform" {print $2}')
[[ -n "$platform" ]] || fail "version --verbose prints no platform"
# version --verbose names the libraries it runs with (Debian's -dev packages
# match the runtime libraries, so pkg-config knows their versions).
verbose=$("$IGTCLOUD" version --verbose)
[[ "$(head -n1 <<<"$verbose")" == "igtcloud $current" ]] || fail "version --verbose: '$verbose'"
for pair in libcurl:libcurl OpenSSL:openssl jansson:jansson expat:expat; do
  want="${pair%%:*} $(pkg-config --modversion "${pair#*:}")"
  grep -qx "$want" <<<"$verbose" || fail "version --verbose lacks '$want': $(echo $verbose)"
done
[[ "$("$IGTCLOUD" version)" == "igtcloud $current" ]] || fail "version without --verbose prints more"

# The "new release": a script that says which version it is.
printf '#!/bin/sh\necho "igtcloud 9.9.9 (test release)"\n' >"$srv/igtcloud-9.9.9"
printf '#!/bin/sh\necho "igtcloud 0.0.1 (test release)"\n' >"$srv/igtcloud-0.0.1"
sha_new=$(sha256sum "$srv/igtcloud-9.9.9" | awk '{print $1}')
sha_old=$(sha256sum "$srv/igtcloud-0.0.1" | awk '{print $1}')
sha_current=$(sha256sum "$IGTCLOUD" | awk '{print $1}')

fresh() { rm -rf "$bin"; mkdir -p "$bin"; chmod 755 "$bin"; cp "$IGTCLOUD" "$bin/igtcloud"; }
unchanged() { cmp -s "$IGTCLOUD" "$bin/igtcloud" || fail "$1: the program was changed"
  local left; left=$(ls -A "$bin")
  [[ "$left" == "igtcloud" ]] || fail "$1: files left beside the program: $left"; }
release() { # version url sha
  printf '{"version": "%s", "date": "2025-01-01", "platforms": {"%s": {"url": "%s", "sha256": "%s"}}}' \
    "$1" "$platform" "$2" "$3"; }
feed() { printf '{"releases": [%s]}\n' "$(IFS=,; echo "$*")" >"$srv/feed.json"; }
run() { # expected-rc args...; sets out, err
  local want=$1; shift
  set +e
  out=$("$bin/igtcloud" upgrade "$@" 2>"$work/err"); rc=$?
  set -e
  err=$(cat "$work/err")
  [[ $rc -eq $want ]] || fail "upgrade $* exited $rc, want $want (stdout '$out', stderr '$err')"
}
expect_err() { grep -qF -- "$1" <<<"$err" || fail "stderr lacks '$1': '$err'"; }

# Already at the latest: a pre-release or an older version is not an upgrade.
fresh
feed "$(release 0.0.1 igtcloud-0.0.1 "$sha_old")" "$(release "$current" "$base/igtcloud-current" "$sha_current")" \
     "$(release 99.0.0-rc.1 igtcloud-9.9.9 "$sha_new")"
run 0 --feed "$base/feed.json"
[[ "$out" == "igtcloud $current is already at the latest version" ]] || fail "up to date: '$out'"
unchanged "up to date"
run 0 --feed "$base/feed.json" "$current"
[[ "$out" == "igtcloud is already at version $current" ]] || fail "named current: '$out'"

# --check says what is available and changes nothing.
feed "$(release 0.0.1 igtcloud-0.0.1 "$sha_old")" "$(release 9.9.9 igtcloud-9.9.9 "$sha_new")"
run 0 --check --feed "$base/feed.json"
[[ "$out" == "igtcloud 9.9.9 is available (this is $current); 'igtcloud upgrade' installs it" ]] \
  || fail "--check: '$out'"
unchanged "--check"

# Which feed: --feed before $IGTCLOUD_UPGRADE_FEED before the one set at build time.
feed "$(release "$current" igtcloud-current "$sha_current")"
IGTCLOUD_UPGRADE_FEED=http://127.0.0.1:9/not-this-feed.json run 0 --check --feed "$base/feed.json"
[[ "$out" == "igtcloud $current is already at the latest version" ]] || fail "--feed over the environment: '$out'"
IGTCLOUD_UPGRADE_FEED="$base/feed.json" run 0 --check
[[ "$out" == "igtcloud $current is already at the latest version" ]] || fail "feed from the environment: '$out'"
build_feed=$(sed -n 's/^IGTCLOUD_UPGRADE_FEED_URL:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")
if [[ -z "$build_feed" ]]; then
  run 2 --check; expect_err "no upgrade feed is configured"
  IGTCLOUD_UPGRADE_FEED= run 2 --check; expect_err "no upgrade feed is configured"
else
  set +e; "$bin/igtcloud" upgrade --check >/dev/null 2>"$work/err"; rc=$?; set -e
  [[ $rc -eq 0 ]] || grep -qF -- "$build_feed" "$work/err" \
    || fail "upgrade without a feed did not use the build's $build_feed: $(cat "$work/err")"
fi
unchanged "feed sources"

# A feed nobody serves: a network error, nothing replaced.
closed_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run 5 --feed "http://127.0.0.1:$closed_port/feed.json"; expect_err "cannot reach http://127.0.0.1:$closed_port/feed.json"
unchanged "unreachable feed"

# Checksum mismatch: nothing replaced, no temporary file left.
feed "$(release 9.9.9 igtcloud-9.9.9 "$sha_old")"
run 8 --feed "$base/feed.json"
expect_err "checksum mismatch for $base/igtcloud-9.9.9"
expect_err "nothing was replaced"
[[ $(wc -l <<<"$err") -eq 1 ]] || fail "checksum error is not one line: $err"
unchanged "checksum mismatch"

# Bad feeds and unknown versions: clear errors, nothing replaced.
printf '{"releases": [' >"$srv/feed.json"
run 8 --feed "$base/feed.json"; expect_err "bad upgrade feed: malformed JSON at line"
printf '{"versions": []}' >"$srv/feed.json"
run 8 --feed "$base/feed.json"; expect_err 'bad upgrade feed: no "releases" array'
printf '{"releases": [{"version": "9.9.9", "platforms": {"%s": {"url": "x"}}}]}' "$platform" >"$srv/feed.json"
run 8 --feed "$base/feed.json"; expect_err "bad upgrade feed: version 9.9.9, platform '$platform' has no \"sha256\""
printf '{"releases": [{"platforms": {}}]}' >"$srv/feed.json"
run 8 --feed "$base/feed.json"; expect_err 'bad upgrade feed: release 1 has no "version"'
printf '{"releases": [{"version": "1.2", "platforms": {}}]}' >"$srv/feed.json"
run 8 --feed "$base/feed.json"; expect_err "bad upgrade feed: release 1: '1.2' is not a version"
feed "$(release 9.9.9 igtcloud-9.9.9 "$sha_new")" "$(release 9.9.9 igtcloud-9.9.9 "$sha_new")"
run 8 --feed "$base/feed.json"; expect_err "version 9.9.9 is listed twice"
feed "$(release 9.9.9 igtcloud-9.9.9 "$sha_new")"
run 4 --feed "$base/feed.json" 7.7.7; expect_err "the upgrade feed has no version 7.7.7"
run 2 --feed "$base/feed.json" banana; expect_err "'banana' is not a version"
printf '{"releases": [{"version": "9.9.9", "platforms": {"plan9-mips": {"url": "x", "sha256": "%s"}}}]}' \
  "$sha_new" >"$srv/feed.json"
run 4 --feed "$base/feed.json"; expect_err "the upgrade feed has no release with a build for $platform"
run 4 --feed "$base/feed.json" 9.9.9; expect_err "version 9.9.9 has no build for $platform"
run 4 --feed "$base/no-such-feed.json"; expect_err "upgrade feed $base/no-such-feed.json: HTTP 404"
feed "$(release 9.9.9 no-such-file "$sha_new")"
run 4 --feed "$base/feed.json"; expect_err "download $base/no-such-file: HTTP 404"
run 2 --feed; expect_err "option '--feed' needs a value"
unchanged "bad feeds"

# No permission to write beside the program: a clear error, nothing replaced.
feed "$(release 9.9.9 igtcloud-9.9.9 "$sha_new")"
if [[ $(id -u) -eq 0 ]]; then
  as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
else
  chmod 555 "$bin"; as_user=()
fi
set +e
err=$("${as_user[@]}" "$bin/igtcloud" upgrade --feed "$base/feed.json" 2>&1 >/dev/null); rc=$?
set -e
chmod 755 "$bin"
[[ $rc -eq 7 ]] || fail "no permission: exit $rc, want 7 ($err)"
expect_err "no permission to write in $bin/"
unchanged "no permission"

# The upgrade, with the feed from the environment and a URL relative to it.
feed "$(release "$current" igtcloud-current "$sha_current")" "$(release 9.9.9 igtcloud-9.9.9 "$sha_new")" \
     "$(release 10.0.0-beta.1 igtcloud-0.0.1 "$sha_old")" "$(release 0.0.1 igtcloud-0.0.1 "$sha_old")"
mode=$(stat -c %a "$bin/igtcloud")
set +e
out=$(IGTCLOUD_UPGRADE_FEED="$base/feed.json" "$bin/igtcloud" upgrade 2>"$work/err"); rc=$?
set -e
[[ $rc -eq 0 ]] || fail "upgrade exited $rc: $(cat "$work/err")"
grep -qx "Upgraded igtcloud from $current to 9.9.9" <<<"$out" || fail "upgrade said '$out'"
grep -qx "  program: $bin/igtcloud" <<<"$out" || fail "upgrade does not name the program: '$out'"
grep -qx "  backup:  $bin/igtcloud.bak (the previous version)" <<<"$out" || fail "no backup line: '$out'"
grep -qF "  source:  $base/igtcloud-9.9.9 (" <<<"$out" || fail "no source line: '$out'"
[[ "$("$bin/igtcloud")" == "igtcloud 9.9.9 (test release)" ]] || fail "the program was not replaced"
cmp -s "$IGTCLOUD" "$bin/igtcloud.bak" || fail "the backup is not the previous program"
[[ $(stat -c %a "$bin/igtcloud") == "$mode" ]] || fail "the new program lost the mode $mode"
[[ $(ls -A "$bin" | tr '\n' ' ') == "igtcloud igtcloud.bak " ]] || fail "stray files: $(ls -A "$bin")"

# A named, older version (with a leading v) is installed too; a second backup replaces the first.
fresh
echo stale >"$bin/igtcloud.bak"
run 0 --feed "$base/feed.json" v0.0.1
grep -qx "Upgraded igtcloud from $current to 0.0.1" <<<"$out" || fail "downgrade said '$out'"
[[ "$("$bin/igtcloud")" == "igtcloud 0.0.1 (test release)" ]] || fail "the program was not downgraded"
cmp -s "$IGTCLOUD" "$bin/igtcloud.bak" || fail "the old backup was not replaced"

# A download URL that redirects (release hosts do) is followed.
fresh
feed "$(release 9.9.9 "$base/moved/igtcloud-9.9.9" "$sha_new")"
run 0 --feed "$base/feed.json"
[[ "$("$bin/igtcloud")" == "igtcloud 9.9.9 (test release)" ]] || fail "redirected download not installed"

echo "ok: version --verbose, feed sources, upgrade, up to date, check, unreachable feed, checksum mismatch," \
  "bad feeds, permissions, redirects"
