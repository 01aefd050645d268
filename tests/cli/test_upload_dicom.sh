#!/usr/bin/env bash
# igtcloud upload --dicom against a real sandbox: DICOM files made with Debian's
# dcmtk (dump2dcm, img2dcm) in explicit and implicit VR little endian, two
# patients, three studies, several series; the sandbox files them into studies
# from their headers; the API shows them as study `dicom` files with the right
# patients, studies and dates; `igtcloud download --category dicom` brings them
# back byte-identical; non-DICOM, truncated and big-endian files are reported,
# not fatal.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 needed for JSON checks"; exit 0; }
command -v dump2dcm >/dev/null && command -v img2dcm >/dev/null \
  || { echo "SKIP: dcmtk (dump2dcm, img2dcm) needed: scripts/install-deps.sh interop"; exit 0; }

make_work igtcloud-dicom-test
T=$work
start_sandbox "$T/sb.data" --seed demo --log-requests "$T/sb.log"
API=$api
HA=6f1c2b1e-0000-4000-8000-0000000000a1

up() { # up USER args...
  local u=$1; shift
  printf '%s\n' "$u" | "$IGTCLOUD" upload -d "$API" -u "$u" --password-stdin "$@"
}
api_get() {
  python3 - "$API" "$1" <<'PY'
import json,sys,urllib.request
api,path=sys.argv[1:3]
req=urllib.request.Request(api+"/api/auth/login",data=json.dumps({"grantType":"password","username":"demo","password":"demo"}).encode(),headers={"Content-Type":"application/json"})
r=urllib.request.urlopen(req); body=json.load(r)
ck={}
for h in r.headers.get_all("Set-Cookie"):
    k,v=h.split(";")[0].split("=",1); ck[k]=v
jwt=ck["jwt_header_payload"]+"."+ck["jwt_signature"]
req=urllib.request.Request(api+path,headers={"X-JWT":jwt,"X-CSRF-TOKEN":body["CSRFToken"],"Accept":"application/json"})
print(urllib.request.urlopen(req).read().decode())
PY
}

# --- DICOM files ----------------------------------------------------------------
DUID=1.2.826.0.1.3680043.9.7777
PIXELS=$(python3 -c "print('\\\\'.join('%02x' % (i % 256) for i in range(256)))")
# mkdcm OUT XFER(+te|+ti|+tb) PATIENT_ID PATIENT_NAME STUDY DATE TIME SERIES MODALITY SOP STUDY_ID
mkdcm() {
  mkdir -p "$(dirname "$1")"
  cat >"$T/in.dump" <<EOF
(0002,0010) UI =LittleEndianExplicit
(0008,0016) UI =SecondaryCaptureImageStorage
(0008,0018) UI [${10}]
(0008,0020) DA [$6]
(0008,0030) TM [$7]
(0008,0060) CS [$9]
(0008,1140) SQ (Sequence with undefined length #=1)
  (fffe,e000) na (Item with undefined length #=2)
    (0008,1150) UI =SecondaryCaptureImageStorage
    (0008,1155) UI [$DUID.999]
  (fffe,e00d) na (ItemDelimitationItem)
(fffe,e0dd) na (SequenceDelimitationItem)
(0010,0010) PN [$4]
(0010,0020) LO [$3]
(0020,000d) UI [$5]
(0020,000e) UI [$8]
(0020,0010) SH [${11}]
(0028,0002) US 1
(0028,0004) CS [MONOCHROME2]
(0028,0010) US 16
(0028,0011) US 16
(0028,0100) US 8
(0028,0101) US 8
(0028,0102) US 7
(0028,0103) US 0
(7fe0,0010) OB $PIXELS
EOF
  dump2dcm -q -e "$2" "$T/in.dump" "$1" || fail "dump2dcm $1"
}
D="$T/dicom"
S1=$DUID.1 S2=$DUID.2 S3=$DUID.3
mkdcm "$D/alpha/st1/ser1/a.dcm" +te PAT-DA 'Alpha^Ann' $S1 20210304 101530 $S1.1 CT $S1.1.1 ST-1
mkdcm "$D/alpha/st1/ser1/b.dcm" +te PAT-DA 'Alpha^Ann' $S1 20210304 101530 $S1.1 CT $S1.1.2 ST-1
mkdcm "$D/alpha/st1/ser2/c.dcm" +ti PAT-DA 'Alpha^Ann' $S1 20210304 101530 $S1.2 CT $S1.2.1 ST-1
mkdcm "$D/alpha/st2/d.dcm" +ti PAT-DA 'Alpha^Ann' $S2 20220515 0800 $S2.1 MR $S2.1.1 ST-2
mkdcm "$D/alpha/st2/e.dcm" +ti PAT-DA 'Alpha^Ann' $S2 20220515 0800 $S2.1 MR $S2.1.2 ST-2
python3 - "$T/img.bmp" <<'PY'
import struct,sys
w=h=8; row=w*3
rows=b''.join(bytes([(x*30)%256,(y*30)%256,128]) for y in range(h) for x in range(w))
bmp=b'BM'+struct.pack('<IHHI',54+len(rows),0,0,54)+struct.pack('<IiiHHIIiiII',40,w,h,1,24,0,len(rows),2835,2835,0,0)+rows
open(sys.argv[1],'wb').write(bmp)
PY
img2dcm -q -i BMP "$T/img.bmp" "$D/alpha/st2/f.dcm" -k "PatientID=PAT-DA" -k "PatientName=Alpha^Ann" \
  -k "StudyInstanceUID=$S2" -k "SeriesInstanceUID=$S2.9" -k "SOPInstanceUID=$S2.9.1" \
  -k "StudyDate=20220515" -k "StudyID=ST-2" -k "Modality=OT" || fail "img2dcm"
mkdcm "$D/beta/g.dcm" +te PAT-DB 'Beta^Bob' $S3 20230101 120000 $S3.1 XA $S3.1.1 ST-3
mkdcm "$D/beta/h.dcm" +te PAT-DB 'Beta^Bob' $S3 20230101 120000 $S3.1 XA $S3.1.2 ST-3
echo "not a DICOM file" >"$D/notes.txt"
mkdcm "$T/whole.dcm" +te PAT-DB 'Beta^Bob' $S3 20230101 120000 $S3.1 XA $S3.1.99 ST-3
mkdir -p "$D/bad"
# Cut inside the pixel data: the header reads fine, the file is still short.
head -c $(( $(stat -c %s "$T/whole.dcm") - 100 )) "$T/whole.dcm" >"$D/bad/truncated.dcm"
mkdcm "$D/bad/bigendian.dcm" +tb PAT-DB 'Beta^Bob' $S3 20230101 120000 $S3.1 XA $S3.1.98 ST-3
GOOD=8

# --- usage ------------------------------------------------------------------------
set +e
"$IGTCLOUD" upload --dicom "$D" "Demo Project" >/dev/null 2>&1; r1=$?
"$IGTCLOUD" upload --dicom "$D" "Demo Project" '*' >/dev/null 2>&1; r2=$?
"$IGTCLOUD" upload --dicom --submit "$D" "Demo Project" "Hospital A" >/dev/null 2>&1; r3=$?
set -e
[[ "$r1$r2$r3" == 222 ]] || fail "usage exit codes $r1 $r2 $r3"
"$IGTCLOUD" upload --help | matches -- '--dicom' || fail "--help lacks --dicom"
echo "ok: usage"

# --- dry run sends nothing ---------------------------------------------------------
m=$(wc -l <"$T/sb.log")
up demo --dicom "$D" "Demo Project" "Hospital A" --dry-run >"$T/o0" 2>"$T/e0" || fail "dry run: $(cat "$T/e0")"
[[ $(grep -c '^would upload ' "$T/o0") -eq $(( GOOD + 2 )) ]] || fail "dry run: $(cat "$T/o0")"
tail -n +"$(( m + 1 ))" "$T/sb.log" | grep -Eq '"method": *"(PUT|POST)", *"path": *"/(api/action|igtcloud)' \
  && fail "dry run wrote"
echo "ok: dry run"

# --- import: good files filed, bad ones reported, exit 6 ------------------------------
set +e
up demo --dicom "$D" "Demo Project" "Hospital A" >"$T/o1" 2>"$T/e1"; rc=$?
set -e
[[ $rc -eq 6 ]] || fail "import exit $rc (want 6: two files not filed): $(cat "$T/e1")"
grep -q "ignored $D/notes.txt: not a DICOM Part-10 file" "$T/e1" || fail "notes.txt not reported: $(cat "$T/e1")"
grep -q "not filed $D/bad/truncated.dcm: truncated" "$T/e1" || fail "truncated not reported: $(cat "$T/e1")"
grep -q "not filed $D/bad/bigendian.dcm: unsupported transfer syntax" "$T/e1" \
  || fail "big endian not reported: $(cat "$T/e1")"
grep -q "Imported $(( GOOD + 2 )) DICOM file(s).*as Import/[0-9a-f-]\{36\}/, 0 failed, 1 other file(s) skipped; the cloud filed $GOOD into 3 studies (3 new), 2 not filed" "$T/e1" \
  || fail "summary: $(cat "$T/e1")"
grep -q "^Hospital A/PAT-DA/ST-1: 3 file(s), created study " "$T/o1" || fail "report: $(cat "$T/o1")"
grep -q "^Hospital A/PAT-DA/ST-2: 3 file(s), created study " "$T/o1" || fail "report: $(cat "$T/o1")"
grep -q "^Hospital A/PAT-DB/ST-3: 2 file(s), created study " "$T/o1" || fail "report: $(cat "$T/o1")"
python3 - "$T/sb.log" <<'PY' || fail "request log"
import json,re,sys
puts=[];post=[]
for l in open(sys.argv[1]):
    r=json.loads(l)
    if r["method"]=="PUT" and "/Import/" in r["path"]: puts.append(r)
    if r["path"]=="/api/action/update-database": post.append(r)
prefixes={re.match(r"(.*/Import/[0-9a-f-]{36}/)",p["path"]).group(1) for p in puts}
assert len(puts)==10 and all(p["status"]==200 for p in puts), puts
assert len(prefixes)==1 and next(iter(prefixes)).startswith("/igtcloud-sandbox/institutes/hospital-a/Import/"), prefixes
assert len(post)==1 and post[0]["status"]==200, post
PY
echo "ok: import"

# --- the API shows patients, studies, dates and dicom files ----------------------------
api_get "/api/data/hospitals/$HA/studies" >"$T/studies.json"
for sid in 1 2 3; do
  api_get "/api/data/hospitals/$HA/studies/$(python3 -c '
import json,sys
for s in json.load(open(sys.argv[1])):
    if s.get("instanceUid")==sys.argv[2]: print(s["studyDatabaseId"])' "$T/studies.json" "$DUID.$sid")/files?auxiliary=True" \
    >"$T/files$sid.json"
done
python3 - "$T" "$DUID" <<'PY' || fail "API check"
import json,os,sys
t,uid=sys.argv[1:3]
studies={s.get("instanceUid"):s for s in json.load(open(t+"/studies.json"))}
want={uid+".1":("PAT-DA","Alpha^Ann","2021-03-04T10:15:30","PAT-DA/ST-1",3),
      uid+".2":("PAT-DA","Alpha^Ann","2022-05-15T08:00:00","PAT-DA/ST-2",3),
      uid+".3":("PAT-DB","Beta^Bob","2023-01-01T12:00:00","PAT-DB/ST-3",2)}
for i,(u,(pid,pname,date,human,n)) in enumerate(sorted(want.items()),1):
    s=studies[u]
    assert s["studyType"]=="Study" and s["patient"]["patientId"]==pid and s["patient"]["patientName"]==pname, s
    assert s["studyDate"]==date and s["studyIdHumanReadable"]==human, s
    d=json.load(open("%s/files%d.json"%(t,i)))["dicom"]
    assert len(d)==n and all(f["isCompleted"] and f["type"]==".dcm" for f in d), d
    for f in d:
        assert f["key"]==s["s3Prefix"]+"0/"+f["fileName"], f
        series,sop=f["fileName"].split("/")
        assert sop.startswith(series+".") and sop.endswith(".dcm"), f
assert studies[uid+".1"]["patientDatabaseId"]==studies[uid+".2"]["patientDatabaseId"]
assert studies[uid+".1"]["patientDatabaseId"]!=studies[uid+".3"]["patientDatabaseId"]
PY
# Filed objects left Import/; the ones not filed are still there.
left=$(cd "$T/sb.data/objects/institutes/hospital-a/Import" && find . -type f | sort | sed 's|^\./[^/]*/||' | tr '\n' ' ')
[[ "$left" == "bad/bigendian.dcm bad/truncated.dcm " ]] || fail "left in Import/: $left"
echo "ok: API"

# --- download --category dicom gives the same bytes ---------------------------------------
printf 'demo\n' | "$IGTCLOUD" download -d "$API" -u demo --password-stdin -q --category dicom \
  "$T/dl" "Demo Project" "Hospital A" || fail "download"
n=0
while IFS= read -r f; do
  sop=$(dcmdump +P 0008,0018 "$f" | sed 's/.*\[\(.*\)\].*/\1/')
  got=$(find "$T/dl" -name "$sop.dcm")
  [[ -n "$got" ]] || fail "no download of $f ($sop)"
  cmp -s "$f" "$got" || fail "$got differs from $f"
  n=$((n + 1))
done < <(find "$D" -name '*.dcm' ! -path '*/bad/*')
[[ $n -eq $GOOD ]] || fail "compared $n files"
echo "ok: download round trip"

# --- a second import of the same files goes to the same studies ------------------------------
up demo --dicom "$D/alpha" "Demo Project" "Hospital A" >"$T/o2" 2>"$T/e2" || fail "re-import: $(cat "$T/e2")"
grep -q "^Hospital A/PAT-DA/ST-1: 3 file(s), existing study " "$T/o2" || fail "re-import: $(cat "$T/o2")"
grep -q "into 2 studies (0 new), 0 not filed" "$T/e2" || fail "re-import summary: $(cat "$T/e2")"
[[ $(api_get "/api/data/hospitals/$HA/studies" | python3 -c '
import json,sys; print(sum(1 for s in json.load(sys.stdin) if s.get("instanceUid")))') -eq 3 ]] \
  || fail "re-import created studies"
echo "ok: re-import"

# --- who may import ---------------------------------------------------------------------
set +e
up other --dicom "$D/beta" "Demo Project" "Hospital A" >/dev/null 2>"$T/e3"; rc=$?
up demo --dicom "$D/beta" "Demo Project" "Hospital Z" >/dev/null 2>"$T/e4"; rc2=$?
up demo --dicom "$T/nowhere" "Demo Project" "Hospital A" >/dev/null 2>"$T/e5"; rc3=$?
set -e
[[ $rc -eq 4 ]] || fail "non-member exit $rc: $(cat "$T/e3")"
[[ $rc2 -eq 4 ]] || fail "unknown institute exit $rc2: $(cat "$T/e4")"
[[ $rc3 -eq 7 ]] || fail "missing folder exit $rc3: $(cat "$T/e5")"
echo "ok: access and local errors"
echo "PASS"
