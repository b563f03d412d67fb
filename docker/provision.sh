#!/bin/sh
# One-shot (compose.yml's `provision`): make an operator token and pre-provision the simulated
# homes' VENs over REST. Idempotent: a VEN that exists already is left as it is (409).
set -eu
: "${FLEXVPP_DB_URL:?}" "${VTN_URL:?}" "${HOMES:=3}"
until python3 -c "import urllib.request; urllib.request.urlopen('$VTN_URL/api/v1/health')" 2>/dev/null; do
  sleep 1
done
TOKEN=$(flexvpp token create --role operator --name compose-provision | tail -n1)
i=1
while [ "$i" -le "$HOMES" ]; do
  python3 - "$VTN_URL" "$TOKEN" "$(printf 'home-%03d' "$i")" <<'PY'
import json, sys, urllib.request, urllib.error
url, token, site = sys.argv[1:]
req = urllib.request.Request(f"{url}/api/v1/vens", method="POST",
    data=json.dumps({"ven_name": site, "site_id": site}).encode(),
    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
try:
    urllib.request.urlopen(req)
    print("provisioned", site)
except urllib.error.HTTPError as exc:
    if exc.code != 409:
        sys.exit(f"{site}: {exc.code} {exc.read().decode()}")
    print(site, "was provisioned before")
PY
  i=$((i + 1))
done
