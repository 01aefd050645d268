#!/usr/bin/env bash
# igtcloud upload's $file-upload-completed calls, which run beside the transfer:
# they overlap one another and the transfers, each comes only after its file's
# PUT succeeded, a refused one fails its file (one line, exit 6) and marks
# nothing, and the queue of calls stays bounded when the API is slow.
#
# The sandbox injects faults on its S3 endpoint only, so the API is reached
# through a small proxy (python3) that slows the completion calls down, refuses
# those of chosen files with a 500, and checks each call against the sandbox's
# request log as it arrives.
set -euo pipefail
command -v python3 >/dev/null || { echo "SKIP: python3 needed for the API proxy"; exit 0; }
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
make_work igtcloud-upload-complete
export XDG_STATE_HOME="$work/state"
unset IGTCLOUD_STATE_DIR
PX_PID=
cleanup_extra() { stop_process "$PX_PID"; }

LOG="$work/sandbox.log"
start_sandbox "$work/data" --seed demo --log-requests "$LOG"

cat >"$work/proxy.py" <<'PY'
# proxy.py UPSTREAM SANDBOX_LOG DELAY_S REFUSE_GLOB STATE_FILE
import fnmatch, http.client, http.server, json, sys, threading, time, urllib.parse
up = urllib.parse.urlsplit(sys.argv[1])
log_path, delay, refuse, state_path = sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]
lock = threading.Lock()
st = {"calls": 0, "inflight": 0, "max_inflight": 0, "max_backlog": 0, "not_put": [], "refused": [],
      "twice": []}
seen = set()

with open(log_path) as f:
    skip = sum(1 for _ in f)  # earlier runs' requests

def puts_done():
    """Keys whose PutObject succeeded in this run, per the sandbox's log."""
    keys = set()
    with open(log_path) as f:
        for i, line in enumerate(f):
            if i < skip:
                continue
            if '"operation":"PutObject"' in line and '"status":200' in line:
                try:
                    keys.add(json.loads(line)["key"])
                except ValueError:
                    pass  # the sandbox is still writing this line
    return keys

def save():
    with open(state_path + ".tmp", "w") as f:
        json.dump(st, f)
    import os
    os.replace(state_path + ".tmp", state_path)

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def answer(self, status, headers, data):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def forward(self, body):
        c = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        c.request(self.command, self.path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        self.answer(r.status, r.getheaders(), data)
        c.close()
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        if not self.path.endswith(("/files/$file-upload-completed", "/files/%24file-upload-completed")):
            return self.forward(body)
        rel = json.loads(body)["uploadedPath"]
        with lock:
            if rel in seen:
                st["twice"].append(rel)
            seen.add(rel)
            st["calls"] += 1
            calls = st["calls"]
            st["inflight"] += 1
            st["max_inflight"] = max(st["max_inflight"], st["inflight"])
        try:
            done = puts_done()
            # Files stored but whose completion call has not arrived yet: what the
            # client holds in its queue (plus the transfers still in flight).
            backlog = len([k for k in done if "/files/" in k]) - calls
            # The sandbox logs a PUT just after answering it: allow it 30 ms to do so.
            for _ in range(3):
                if any(k.endswith("/files/" + rel) for k in done):
                    break
                time.sleep(0.01)
                done = puts_done()
            with lock:
                st["max_backlog"] = max(st["max_backlog"], backlog)
                if not any(k.endswith("/files/" + rel) for k in done):
                    st["not_put"].append(rel)
            time.sleep(delay)
            if refuse and fnmatch.fnmatch(rel, refuse):
                with lock:
                    st["refused"].append(rel)
                return self.answer(500, [("Content-Type", "application/json")],
                                   b'{"message": "injected: completion refused"}')
            return self.forward(body)
        finally:
            with lock:
                st["inflight"] -= 1
                save()
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
print("port %d" % srv.server_address[1], flush=True)
srv.serve_forever()
PY

start_proxy() { # start_proxy DELAY REFUSE_GLOB
  [[ -n "$PX_PID" ]] && { kill "$PX_PID"; wait "$PX_PID" 2>/dev/null || true; }
  rm -f "$work/state.json" "$work/proxy.out"
  python3 "$work/proxy.py" "$api" "$LOG" "$1" "$2" "$work/state.json" >"$work/proxy.out" 2>"$work/proxy.err" &
  PX_PID=$!
  for _ in $(seq 100); do grep -q '^port' "$work/proxy.out" 2>/dev/null && break; sleep 0.1; done
  PX="http://127.0.0.1:$(sed -n 's/^port //p' "$work/proxy.out")"
  [[ "$PX" != "http://127.0.0.1:" ]] || fail "proxy did not start: $(cat "$work/proxy.err")"
}
state() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/state.json" "$1"; }
up() { printf 'demo\n' | "$IGTCLOUD" upload -d "$PX" -u demo --password-stdin "$@"; }
api_get() {
  python3 - "$api" "$1" <<'PY'
import json,sys,urllib.request
api,path=sys.argv[1:3]
req=urllib.request.Request(api+"/api/auth/login",data=json.dumps({"grantType":"password","username":"demo","password":"demo"}).encode(),headers={"Content-Type":"application/json"})
r=urllib.request.urlopen(req); body=json.load(r); ck={}
for h in r.headers.get_all("Set-Cookie"):
    k,v=h.split(";")[0].split("=",1); ck[k]=v
req=urllib.request.Request(api+path,headers={"X-JWT":ck["jwt_header_payload"]+"."+ck["jwt_signature"],"X-CSRF-TOKEN":body["CSRFToken"],"Accept":"application/json"})
print(urllib.request.urlopen(req).read().decode())
PY
}
HA=6f1c2b1e-0000-4000-8000-0000000000a1
study_files() { # study_files PATIENT: "name size completed" lines of that study in Hospital A
  local sid
  sid=$(api_get "/api/data/hospitals/$HA/studies" | python3 -c '
import json,sys
for s in json.load(sys.stdin):
    if (s.get("patient") or {}).get("patientName")==sys.argv[1]: print(s["studyDatabaseId"]); break' "$1")
  [[ -n "$sid" ]] || fail "study $1 not created"
  api_get "/api/data/hospitals/$HA/studies/$sid/files" | python3 -c '
import json,sys
for f in json.load(sys.stdin)["files"]: print(f["fileName"], f["fileSize"], f["isCompleted"])'
}

# --- a refused completion fails its file (and only it); calls overlap; order kept ---
start_proxy 0.15 '*refused*'
C="$work/c"; mkdir -p "$C/Hospital A/Complete---Study"
for i in $(seq -w 1 24); do head -c $((1000 + 10#$i)) /dev/urandom >"$C/Hospital A/Complete---Study/f$i.bin"; done
echo "refused" >"$C/Hospital A/Complete---Study/refused.txt"
set +e
up "$C" "Demo Project" "Hospital A" >"$work/o1" 2>"$work/e1"; rc=$?
set -e
[[ $rc -eq 6 ]] || fail "refused completion: exit $rc, want 6 ($(cat "$work/e1"))"
grep -q 'refused.txt: uploaded but not marked complete (\$file-upload-completed: injected: completion refused)' "$work/e1" \
  || fail "refused completion not reported on its file's line: $(cat "$work/e1")"
[[ $(grep -c 'refused.txt' "$work/e1") -eq 1 ]] || fail "refused file reported more than once: $(cat "$work/e1")"
grep -q 'Uploaded 24 file(s)' "$work/e1" || fail "summary: $(tail -2 "$work/e1")"
F=$(study_files Complete---Study)
grep -q '^refused.txt .* True$' <<<"$F" && fail "refused file marked complete: $F"
# Completed after the PUT: the server takes the size from the stored object.
for i in $(seq -w 1 24); do
  grep -q "^f$i.bin $((1000 + 10#$i)) True$" <<<"$F" || fail "f$i.bin not complete with its size: $F"
done
[[ $(state calls) -eq 25 ]] || fail "expected 25 completion calls, saw $(state calls)"
[[ "$(state not_put)" == "[]" ]] || fail "completion sent before the file's PUT succeeded: $(state not_put)"
# The serial call in the engine's callback never had two in flight.
[[ $(state max_inflight) -ge 2 ]] || fail "completion calls did not overlap (max in flight $(state max_inflight))"
echo "ok: refused completion fails its file; calls overlap; each after its PUT"

# --- the re-run sends the refused file again and completes it ------------------------
start_proxy 0 ''
up "$C" "Demo Project" "Hospital A" >"$work/o2" 2>"$work/e2" || fail "re-run: $(cat "$work/e2")"
grep -q 'skipped 24 already complete' "$work/e2" || fail "re-run summary: $(tail -2 "$work/e2")"
grep -q '^refused.txt 8 True$' <<<"$(study_files Complete---Study)" || fail "refused file not complete after re-run"
echo "ok: re-run completes it"

# --- backpressure: a slow API holds the transfers back instead of queueing everything -
# 300 small files PUT in well under a second, while the proxy answers completion
# calls slowly: an unbounded queue would hold ~250 of them; the client's is 64
# (plus the 16 transfers in flight and a few being reported).
start_proxy 0.02 ''
mkdir -p "$C/Hospital A/Slow---Study"
for i in $(seq -w 1 300); do printf '%s\n' "$i" >"$C/Hospital A/Slow---Study/s$i.txt"; done
up "$C" "Demo Project" "Hospital A" -q >"$work/o3" 2>"$work/e3" || fail "slow API upload: $(cat "$work/e3")"
[[ $(state calls) -eq 300 ]] || fail "expected 300 completion calls, saw $(state calls) (twice: $(state twice))"
[[ $(grep -c ' True$' <<<"$(study_files Slow---Study)") -eq 300 ]] || fail "not every slow-API file complete"
backlog=$(state max_backlog)
[[ $backlog -le 96 ]] || fail "completion backlog grew to $backlog files (bound: 64 queued + 16 in flight)"
[[ "$(state not_put)" == "[]" ]] || fail "completion before PUT: $(state not_put)"
echo "ok: backpressure (largest backlog $backlog files)"

# --- SIGINT while completion calls are slow: prompt exit, nothing half-marked --------
start_proxy 1 ''
mkdir -p "$C/Hospital A/Int---Study"
for i in $(seq -w 1 40); do printf '%s\n' "$i" >"$C/Hospital A/Int---Study/i$i.txt"; done
m=$(wc -l <"$LOG")
printf 'demo\n' | "$IGTCLOUD" upload -d "$PX" -u demo --password-stdin "$C" "Demo Project" "Hospital A" \
  -q >"$work/o4" 2>"$work/e4" &
UP=$!   # igtcloud itself (the last command of the pipeline)
# Interrupt once the first completion calls are being answered and the PUTs are done.
for _ in $(seq 200); do
  [[ $(tail -n +"$((m + 1))" "$LOG" | grep '"operation":"PutObject"' | grep -c '"status":200') -ge 40 ]] && break
  sleep 0.05
done
sleep 1.2
t0=$(date +%s%N)
kill -INT $UP
set +e; wait $UP; rc=$?; set -e
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[[ $rc -eq 130 ]] || fail "SIGINT: exit $rc ($(cat "$work/e4"))"
[[ $ms -lt 5000 ]] || fail "SIGINT took $ms ms with slow completion calls in flight"
start_proxy 0 ''
up "$C" "Demo Project" "Hospital A" -q >"$work/o5" 2>"$work/e5" || fail "re-run after SIGINT: $(cat "$work/e5")"
[[ $(grep -c ' True$' <<<"$(study_files Int---Study)") -eq 40 ]] || fail "not every file complete after SIGINT and re-run"
echo "ok: SIGINT with completion calls in flight (exit $rc after $ms ms), re-run completes"
echo "all completion tests passed"
