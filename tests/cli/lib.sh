# shellcheck shell=bash
# What the CLI tests share; each sources it (`. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"`).
# Not a test itself: tests/CMakeLists.txt registers only tests/cli/test_*.sh.
#
#   fail MESSAGE               say "FAIL: MESSAGE" on stderr and exit 1
#   matches GREP-ARGS          `grep -q` for the end of a pipe (see below)
#   check_file LOCAL OBJECT    LOCAL exists and equals OBJECT byte for byte
#   make_work NAME [SUBDIR]    $work: a fresh temporary folder, removed at exit
#                              (kept when KEEP is set); the sandbox's ready
#                              fifo, stderr and the token file go in
#                              $sb_dir ($work, or $work/SUBDIR); the
#                              developer's login is never used
#   start_sandbox DATA [ARGS]  start igtcloud-sandbox on a free port with
#                              --data DATA and ARGS, wait for its ready line;
#                              sets $api, $s3 and $sandbox_pid
#   stop_sandbox               stop it (nothing when none runs); fails the
#                              test when it exited with an error or its
#                              stderr holds a sanitizer report
#   stop_process PID           kill PID and wait for it (nothing when empty)
#
# A test with more to undo at exit defines cleanup_extra; it runs after the
# sandbox stopped and before $work is removed.

fail() { echo "FAIL: $*" >&2; exit 1; }

# grep -q stops reading at the first match; a writer still writing then dies
# of SIGPIPE and, under pipefail, fails the pipeline that matched. This reads
# all of its input.
matches() { grep "$@" >/dev/null; }

check_file() {
  [[ -f "$1" ]] || fail "missing $1"
  cmp -s "$1" "$2" || fail "$1 differs from object $2"
}

stop_process() {
  if [[ -n "$1" ]]; then
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}

sandbox_pid=
# A sanitizer's report from the sandbox (a leak found at exit, a UBSan error)
# would otherwise stay in a file no one reads: the test fails with it.
stop_sandbox() {
  [[ -n "$sandbox_pid" ]] || return 0
  local pid=$sandbox_pid status=0
  sandbox_pid=
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || status=$?
  if [[ -f "$sb_dir/sandbox.err" ]] && matches -E 'Sanitizer|runtime error:' "$sb_dir/sandbox.err"; then
    grep -E -A12 'Sanitizer|runtime error:' "$sb_dir/sandbox.err" | head -40 >&2
    fail "the sandbox's stderr holds a sanitizer report (above)"
  fi
  # SIGTERM shuts it down with 0; 143 is a sandbox killed before it set up its handler.
  [[ $status = 0 || $status = 143 ]] || fail "the sandbox exited with status $status"
}

cleanup() {
  stop_sandbox
  if declare -F cleanup_extra >/dev/null; then cleanup_extra; fi
  [[ -n "${KEEP:-}" ]] && return
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}

make_work() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  trap cleanup EXIT
  sb_dir=$work${2:+/$2}
  mkdir -p "$sb_dir"
  export CLOUD_TOKEN_MMAP="$sb_dir/token"   # never reuse a developer's login
  unset CLOUD_DOMAIN CLOUD_USERNAME CLOUD_JWT_TOKEN CLOUD_CSRF_TOKEN
}

start_sandbox() {
  local data=$1 line; shift
  rm -f "$sb_dir/ready"; mkfifo "$sb_dir/ready"
  "$IGTCLOUD_SANDBOX" --listen 127.0.0.1:0 --data "$data" "$@" \
    >"$sb_dir/ready" 2>>"$sb_dir/sandbox.err" &
  sandbox_pid=$!
  read -r line <"$sb_dir/ready" || fail "sandbox did not start: $(cat "$sb_dir/sandbox.err")"
  api=${line#ready api=}; api=${api%% *}
  s3=${line##* s3=}
}

# peak_rss OUT ERR PROGRAM ARGS...: run PROGRAM (stdin inherited, stdout to
# OUT, stderr to ERR) and print "<exit code> <peak RSS in KiB>" (peakrss.c,
# built into $work on first use with $CC). Measured from wait4() of a process
# of its own: the peak of a child of python3 would count python's pages too.
peak_rss() {
  if [[ ! -x $work/peakrss ]]; then
    "${CC:-cc}" -std=c11 -O1 -o "$work/peakrss" "$(dirname "${BASH_SOURCE[0]}")/peakrss.c" ||
      fail "cannot build peakrss"
  fi
  "$work/peakrss" "$@"
}
