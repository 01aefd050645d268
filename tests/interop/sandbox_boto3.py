#!/usr/bin/python3
"""python3-boto3 against the sandbox's S3 endpoint (run by test_sandbox_boto3.sh).

Credentials come from the environment, as the sandbox's API issued them:
PUT_*, GET_* and EXPIRED_* (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN; EXPIRED_ENDPOINT
names the sandbox that issued the expired ones), with
S3_ENDPOINT, S3_BUCKET, PREFIX and WORK (a scratch folder).
"""
import base64
import hashlib
import os
import struct
import sys
import urllib.request

import boto3
from awscrt.checksums import crc32c
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["S3_ENDPOINT"]
BUCKET = os.environ["S3_BUCKET"]
PREFIX = os.environ["PREFIX"]
WORK = os.environ["WORK"]
MIB = 1024 * 1024


def client(kind, secret=None):
    return boto3.client(
        "s3", endpoint_url=os.environ.get(kind + "_ENDPOINT", ENDPOINT),
        region_name="us-east-1",
        aws_access_key_id=os.environ[kind + "_ACCESS_KEY"],
        aws_secret_access_key=secret or os.environ[kind + "_SECRET_KEY"],
        aws_session_token=os.environ[kind + "_SESSION_TOKEN"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"max_attempts": 1}))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MIB), b""):
            h.update(chunk)
    return h.hexdigest()


def ok(what):
    print("ok - " + what, flush=True)


def expect_error(code, what, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        if got != code:
            sys.exit("FAIL: %s: expected %s, got %s" % (what, code, got))
        ok("%s -> %s" % (what, code))
        return
    sys.exit("FAIL: %s: succeeded, expected %s" % (what, code))


def main():
    put, get = client("PUT"), client("GET")
    big, small = os.path.join(WORK, "big.bin"), os.path.join(WORK, "small.bin")
    with open(big, "wb") as f:
        f.write(os.urandom(40 * MIB + 12345))
    with open(small, "wb") as f:
        f.write(os.urandom(4096))
    transfer = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB,
                              max_concurrency=4)

    put.upload_file(big, BUCKET, PREFIX + "big.bin", Config=transfer,
                    ExtraArgs={"ServerSideEncryption": "AES256"})
    put.upload_file(small, BUCKET, PREFIX + "small.bin", Config=transfer)
    ok("upload_file (multipart and single)")

    head = get.head_object(Bucket=BUCKET, Key=PREFIX + "big.bin")
    assert head["ContentLength"] == 40 * MIB + 12345, head
    assert head["ETag"].endswith('-6"'), head["ETag"]
    assert head["ServerSideEncryption"] == "AES256", head
    head = get.head_object(Bucket=BUCKET, Key=PREFIX + "small.bin")
    md5 = hashlib.md5(open(small, "rb").read()).hexdigest()
    assert head["ETag"] == '"%s"' % md5, head
    ok("head_object (multipart ETag -6, single ETag = MD5, SSE echoed)")

    for name, path in (("big.bin", big), ("small.bin", small)):
        out = os.path.join(WORK, "down-" + name)
        get.download_file(BUCKET, PREFIX + name, out, Config=transfer)
        assert sha256(out) == sha256(path), name
    ok("download_file (ranged multipart and single), byte-identical")

    part = get.get_object(Bucket=BUCKET, Key=PREFIX + "big.bin",
                          Range="bytes=%d-%d" % (9 * MIB - 5, 9 * MIB + 4))
    with open(big, "rb") as f:
        f.seek(9 * MIB - 5)
        assert part["Body"].read() == f.read(10)
    assert part["ContentRange"] == "bytes %d-%d/%d" % (9 * MIB - 5, 9 * MIB + 4, 40 * MIB + 12345)
    ok("get_object with Range")

    keys = []
    for page in get.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix=PREFIX, PaginationConfig={"PageSize": 1}):
        keys += [o["Key"] for o in page.get("Contents", [])]
    assert keys == [PREFIX + "big.bin", PREFIX + "small.bin"], keys
    ok("list_objects_v2 paginated one key per page")

    # A CRC32C multipart upload: boto3 computes each part's CRC32C (awscrt)
    # and the object carries S3's composite checksum, the CRC32C of the part
    # CRCs plus "-N", which botocore knows not to check a body against.
    crc_file = os.path.join(WORK, "crc.bin")
    with open(crc_file, "wb") as f:
        f.write(os.urandom(17 * MIB + 321))
    put.upload_file(crc_file, BUCKET, PREFIX + "crc/crc.bin", Config=transfer,
                    ExtraArgs={"ChecksumAlgorithm": "CRC32C"})
    part_crcs = b""
    with open(crc_file, "rb") as f:
        for chunk in iter(lambda: f.read(8 * MIB), b""):
            part_crcs += struct.pack(">I", crc32c(chunk))
    composite = base64.b64encode(struct.pack(">I", crc32c(part_crcs))).decode() + "-3"
    head = get.head_object(Bucket=BUCKET, Key=PREFIX + "crc/crc.bin", ChecksumMode="ENABLED")
    assert head.get("ChecksumCRC32C") == composite, (head, composite)
    body = get.get_object(Bucket=BUCKET, Key=PREFIX + "crc/crc.bin", ChecksumMode="ENABLED")
    assert body["ChecksumCRC32C"] == composite, body
    assert hashlib.sha256(body["Body"].read()).hexdigest() == sha256(crc_file)
    ok("upload_file with ChecksumAlgorithm CRC32C: composite checksum %s" % composite)

    url = get.generate_presigned_url("get_object", ExpiresIn=60,
                                     Params={"Bucket": BUCKET, "Key": PREFIX + "small.bin"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url) as res:
        assert res.read() == open(small, "rb").read()
    ok("presigned GET URL")

    expect_error("BadDigest", "wrong Content-MD5", put.put_object, Bucket=BUCKET,
                 Key=PREFIX + "bad.bin", Body=b"abc", ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==")
    expect_error("SignatureDoesNotMatch", "wrong secret",
                 client("GET", secret="x" * 40).get_object, Bucket=BUCKET,
                 Key=PREFIX + "small.bin")
    expect_error("AccessDenied", "GET credentials cannot PUT", get.put_object,
                 Bucket=BUCKET, Key=PREFIX + "new.bin", Body=b"x")
    expect_error("AccessDenied", "key outside the prefix", put.put_object,
                 Bucket=BUCKET, Key="projects/demo-project/elsewhere.bin", Body=b"x")
    expect_error("AccessDenied", "GET outside the prefix", get.get_object,
                 Bucket=BUCKET, Key="projects/demo-project/README.txt")
    expect_error("NoSuchKey", "missing key", get.get_object, Bucket=BUCKET,
                 Key=PREFIX + "missing.bin")
    expect_error("ExpiredToken", "expired credentials", client("EXPIRED").put_object,
                 Bucket=BUCKET, Key=PREFIX + "late.bin", Body=b"x")
    print("boto3 interop: all passed")


if __name__ == "__main__":
    main()
