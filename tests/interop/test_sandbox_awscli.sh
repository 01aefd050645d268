#!/usr/bin/env bash
# Debian's awscli against the sandbox's S3 endpoint with credentials the
# sandbox's API issued: cp up and down (small files and a 100 MiB multipart
# object), ls, get-object --range, head-object, byte-identical results; and
# the refusals: wrong secret, expired credentials, keys outside the prefix,
# GET credentials that try to PUT.
source "$(dirname "$0")/sandbox_env.sh"

start_sandbox main
start_sandbox short --credential-lifetime 2
prefix=projects/demo-project/interop/
aws_s3() { "$AWS" --endpoint-url "$S3_ENDPOINT" s3 "$@"; }
aws_cp() { "$AWS" --endpoint-url "$S3_ENDPOINT" s3 cp --only-show-errors "$@"; }

# awscli starts slowly (about a second), so few invocations do much each.
mkdir -p "$work/up/dir" "$work/down"
: > "$work/up/dir/empty.bin"
head -c 1000 /dev/urandom > "$work/up/dir/small.bin"
head -c 300000 /dev/urandom > "$work/up/dir/medium.bin"
printf 'hello from awscli\n' > "$work/up/dir/hello.txt"
head -c $((100 * 1024 * 1024)) /dev/urandom > "$work/up/big.bin"

creds "$main_API" PUT "$prefix"
put_key=$AWS_ACCESS_KEY_ID put_secret=$AWS_SECRET_ACCESS_KEY put_token=$AWS_SESSION_TOKEN
[[ $S3_ENDPOINT == "$main_S3" ]] || fail "credentials name $S3_ENDPOINT, sandbox says $main_S3"
aws_cp "$work/up/big.bin" "s3://$S3_BUCKET/${prefix}big.bin"
aws_cp --recursive "$work/up/dir" "s3://$S3_BUCKET/${prefix}dir/"
grep -q '"operation":"UploadPart"' "$work/main/requests.log" || fail "big.bin was not a multipart upload"
grep -q '"operation":"CompleteMultipartUpload"' "$work/main/requests.log" || fail "no CompleteMultipartUpload"
ok "aws s3 cp up (small files, 100 MiB multipart)"

creds "$main_API" GET "$prefix"
listing=$(aws_s3 ls "s3://$S3_BUCKET/$prefix")
for name in 'big.bin' 'PRE dir/'; do
  grep -q "$name" <<<"$listing" || fail "aws s3 ls misses $name: $listing"
done
grep -q '104857600 big.bin' <<<"$listing" || fail "aws s3 ls size of big.bin: $listing"
recursive=$(aws_s3 ls --recursive "s3://$S3_BUCKET/$prefix")
[[ $(wc -l <<<"$recursive") -eq 5 ]] || fail "aws s3 ls --recursive: $recursive"
grep -q ' 300000 projects/demo-project/interop/dir/medium.bin' <<<"$recursive" ||
  fail "aws s3 ls --recursive: $recursive"
ok "aws s3 ls (with and without --recursive)"

aws_cp --recursive "s3://$S3_BUCKET/$prefix" "$work/down"
same "$work/up/big.bin" "$work/down/big.bin" "aws s3 cp down 100 MiB"
for f in empty.bin small.bin medium.bin hello.txt; do
  same "$work/up/dir/$f" "$work/down/dir/$f" "aws s3 cp down $f"
done

"$AWS" --endpoint-url "$S3_ENDPOINT" s3api get-object --bucket "$S3_BUCKET" \
  --key "${prefix}big.bin" --range bytes=5000000-5999999 "$work/down/range.bin" > "$work/range.json"
dd if="$work/up/big.bin" of="$work/want-range.bin" bs=1000000 skip=5 count=1 status=none
same "$work/want-range.bin" "$work/down/range.bin" "aws s3api get-object --range"
grep -q '"ContentRange": "bytes 5000000-5999999/104857600"' "$work/range.json" ||
  fail "get-object --range: $(cat "$work/range.json")"

"$AWS" --endpoint-url "$S3_ENDPOINT" s3api head-object --bucket "$S3_BUCKET" \
  --key "${prefix}dir/small.bin" > "$work/head.json"
md5=$(md5sum "$work/up/dir/small.bin" | cut -d' ' -f1)
grep -q "\"ContentLength\": 1000" "$work/head.json" || fail "head-object: $(cat "$work/head.json")"
grep -q "$md5" "$work/head.json" || fail "head-object ETag is not the MD5: $(cat "$work/head.json")"
"$AWS" --endpoint-url "$S3_ENDPOINT" s3api head-object --bucket "$S3_BUCKET" \
  --key "${prefix}big.bin" > "$work/head-big.json"
grep -q '"ETag": "\\"[0-9a-f]\{32\}-13\\""' "$work/head-big.json" ||
  fail "multipart ETag: $(cat "$work/head-big.json")"
ok "aws s3api head-object (ETag = MD5; multipart ETag = MD5-13)"

# Refusals.
good_secret=$AWS_SECRET_ACCESS_KEY
AWS_SECRET_ACCESS_KEY=wrong-secret-wrong-secret-wrong-secret00 \
  expect_error SignatureDoesNotMatch "wrong secret" aws_s3 ls "s3://$S3_BUCKET/$prefix"
AWS_SECRET_ACCESS_KEY=$good_secret
expect_error AccessDenied "GET credentials cannot PUT" \
  "$AWS" --endpoint-url "$S3_ENDPOINT" s3api put-object --bucket "$S3_BUCKET" \
  --key "${prefix}new.bin" --body "$work/up/dir/small.bin"
expect_error AccessDenied "listing outside the prefix" \
  aws_s3 ls "s3://$S3_BUCKET/projects/demo-project/"
expect_error AccessDenied "reading outside the prefix" \
  "$AWS" --endpoint-url "$S3_ENDPOINT" s3api get-object --bucket "$S3_BUCKET" \
  --key projects/demo-project/README.txt "$work/down/readme.txt"
AWS_ACCESS_KEY_ID=$put_key AWS_SECRET_ACCESS_KEY=$put_secret AWS_SESSION_TOKEN=$put_token \
  expect_error AccessDenied "PUT outside the prefix" \
  "$AWS" --endpoint-url "$S3_ENDPOINT" s3api put-object --bucket "$S3_BUCKET" \
  --key projects/demo-project/elsewhere.bin --body "$work/up/dir/small.bin"

creds "$short_API" PUT "$prefix"
sleep 3
expect_error ExpiredToken "expired credentials" \
  "$AWS" --endpoint-url "$S3_ENDPOINT" s3api put-object --bucket "$S3_BUCKET" \
  --key "${prefix}small.bin" --body "$work/up/dir/small.bin"
echo "awscli interop: all passed"
