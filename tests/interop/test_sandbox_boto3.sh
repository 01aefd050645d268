#!/usr/bin/env bash
# Debian's python3-boto3 against the sandbox's S3 endpoint (sandbox_boto3.py),
# with credentials from the sandbox's API, including expired ones.
source "$(dirname "$0")/sandbox_env.sh"

start_sandbox main
start_sandbox short --credential-lifetime 2
export PREFIX=projects/demo-project/boto3/ WORK=$work

creds "$short_API" PUT "$PREFIX"
export EXPIRED_ACCESS_KEY=$AWS_ACCESS_KEY_ID EXPIRED_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
  EXPIRED_SESSION_TOKEN=$AWS_SESSION_TOKEN EXPIRED_ENDPOINT=$S3_ENDPOINT
expired_at=$((SECONDS + 3))
creds "$main_API" GET "$PREFIX"
export GET_ACCESS_KEY=$AWS_ACCESS_KEY_ID GET_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
  GET_SESSION_TOKEN=$AWS_SESSION_TOKEN
creds "$main_API" PUT "$PREFIX"
export PUT_ACCESS_KEY=$AWS_ACCESS_KEY_ID PUT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
  PUT_SESSION_TOKEN=$AWS_SESSION_TOKEN
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
while (( SECONDS < expired_at )); do sleep 0.2; done
"$PY" "$here/sandbox_boto3.py"
