#!/usr/bin/python3
"""Log in to a sandbox's API and print shell exports of S3 credentials.

usage: sandbox_creds.py API_URL ACTION PREFIX [USER PASSWORD]
Prints AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and
S3_ENDPOINT as `export` lines for eval. The interop tests use it so that
every S3 client runs with credentials the sandbox itself issued.
"""
import json
import shlex
import sys
import urllib.parse
import urllib.request


def main():
    api, action, prefix = sys.argv[1:4]
    user = sys.argv[4] if len(sys.argv) > 4 else "demo"
    password = sys.argv[5] if len(sys.argv) > 5 else "demo"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    body = json.dumps({"grantType": "password", "username": user, "password": password})
    req = urllib.request.Request(api + "/api/auth/login", data=body.encode(),
                                 headers={"Content-Type": "application/json",
                                          "Accept": "application/json"})
    with opener.open(req) as res:
        csrf = json.load(res)["CSRFToken"]
        cookies = {}
        for line in res.headers.get_all("Set-Cookie"):
            name, _, rest = line.partition("=")
            cookies[name] = rest.split(";", 1)[0]
    jwt = cookies["jwt_header_payload"] + "." + cookies["jwt_signature"]
    query = urllib.parse.urlencode({"action": action, "prefix": prefix})
    req = urllib.request.Request(api + "/api/auth/s3credentials?" + query,
                                 headers={"X-JWT": jwt, "X-CSRF-TOKEN": csrf,
                                          "Accept": "application/json"})
    with opener.open(req) as res:
        creds = json.load(res)["policyCredentials"][0]["credentials"]
    for var, field in (("AWS_ACCESS_KEY_ID", "accessKey"),
                       ("AWS_SECRET_ACCESS_KEY", "secretKey"),
                       ("AWS_SESSION_TOKEN", "sessionToken"),
                       ("S3_ENDPOINT", "endpoint"),
                       ("S3_BUCKET", "bucket"),
                       ("AWS_DEFAULT_REGION", "region")):
        print("export %s=%s" % (var, shlex.quote(creds[field])))


if __name__ == "__main__":
    main()
