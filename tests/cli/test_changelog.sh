#!/usr/bin/env bash
# CHANGELOG.md is in Keep a Changelog form (keepachangelog.com 1.1.0) and agrees
# with the project's semantic version: "## [Unreleased]" first, then released
# versions "## [X.Y.Z] - YYYY-MM-DD", newest first; sections only Added, Changed,
# Deprecated, Removed, Fixed, Security, each once per version and not empty; the
# version in CMakeLists.txt (which igtcloud prints) is not older than the newest
# release.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
log=$SOURCE_DIR/CHANGELOG.md
[[ -f "$log" ]] || fail "no CHANGELOG.md"

[[ "$(head -n1 "$log")" == "# Changelog" ]] || fail "CHANGELOG.md does not start with '# Changelog'"
grep -q 'keepachangelog\.com/en/1\.1\.0' "$log" || fail "CHANGELOG.md does not name Keep a Changelog 1.1.0"
grep -q 'semver\.org/spec/v2\.0\.0' "$log" || fail "CHANGELOG.md does not name Semantic Versioning 2.0.0"

semver='(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?'
project_version=$(sed -n 's/^project(igtcloud VERSION \([^ )]*\).*/\1/p' "$SOURCE_DIR/CMakeLists.txt")
[[ "$project_version" =~ ^$semver$ ]] || fail "CMakeLists.txt version '$project_version' is not MAJOR.MINOR.PATCH"
[[ "$("$IGTCLOUD" version)" == "igtcloud $project_version" ]] \
  || fail "igtcloud version says '$("$IGTCLOUD" version)', CMakeLists.txt $project_version"

# One pass over the headings: awk prints "version date" per release, or FAIL lines.
checked=$(awk -v semver="^$semver\$" '
  function flush() {
    if (section != "" && items == 0) print "FAIL: ## " version ": ### " section " is empty"
    section = ""; items = 0
  }
  /^# / { if (NR > 1) print "FAIL: a second title at line " NR; next }
  /^## / {
    flush()
    count++
    if (count == 1) {
      if ($0 != "## [Unreleased]") print "FAIL: the first version heading is \"" $0 "\", not \"## [Unreleased]\""
      version = "Unreleased"
    } else if (match($0, /^## \[[^]]+\] - [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$/)) {
      version = substr($0, 5, index($0, "]") - 5)
      if (version !~ semver) print "FAIL: \"" $0 "\": " version " is not a semantic version"
      else print version, substr($0, length($0) - 9)
    } else {
      print "FAIL: \"" $0 "\" is not \"## [Unreleased]\" or \"## [X.Y.Z] - YYYY-MM-DD\""
    }
    delete seen
    next
  }
  /^### / {
    flush()
    section = substr($0, 5)
    if (count == 0) print "FAIL: ### " section " before ## [Unreleased]"
    if (section !~ /^(Added|Changed|Deprecated|Removed|Fixed|Security)$/)
      print "FAIL: ## " version ": \"### " section "\" is not a Keep a Changelog section"
    if (seen[section]++) print "FAIL: ## " version ": ### " section " twice"
    next
  }
  /^#/ { print "FAIL: unexpected heading \"" $0 "\" at line " NR; next }
  /^- / { if (section == "" && count > 0) print "FAIL: ## " version ": an entry outside a ### section at line " NR
          items++ }
  END { flush(); if (count == 0) print "FAIL: no ## [Unreleased]" }
' "$log")
failures=$(grep '^FAIL: ' <<<"$checked" || true)
[[ -z "$failures" ]] || fail "CHANGELOG.md: ${failures#FAIL: }"
releases=$(grep -v '^FAIL: ' <<<"$checked" || true)

# Releases newest first (semver precedence, dates not increasing); the project's
# version is the newest release or the one being prepared.
python3 - "$project_version" "$releases" <<'PY' || fail "CHANGELOG.md: release order or version (above)"
import re, sys
def key(v):
    core, _, pre = v.partition("-")
    nums = tuple(int(x) for x in core.split("."))
    if not pre:
        return nums + ((1,),)
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return nums + ((0,) + ids,)
project, lines = sys.argv[1], [l.split() for l in sys.argv[2].splitlines() if l.strip()]
for (v1, d1), (v2, d2) in zip(lines, lines[1:]):
    if not key(v1) > key(v2):
        sys.exit(f"FAIL: ## [{v1}] is listed above ## [{v2}] but is not newer")
    if d1 < d2:
        sys.exit(f"FAIL: ## [{v1}] - {d1} is dated before ## [{v2}] - {d2}")
if lines and key(project) < key(lines[0][0]):
    sys.exit(f"FAIL: CMakeLists.txt says {project}, older than the newest release {lines[0][0]}")
PY
echo "ok: CHANGELOG.md in Keep a Changelog form; version $project_version${releases:+ (newest release $(head -n1 <<<"$releases" | cut -d' ' -f1))}"
