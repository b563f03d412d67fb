#!/bin/sh
# One-shot: make an operator token and pre-provision the simulated homes' VENs over REST.
set -eu
: "${FLEXVPP_DB_URL:?}" "${VTN_URL:?}" "${HOMES:=3}"
until python -c "import urllib.request,sys; urllib.request.urlopen('$VTN_URL/api/v1/health')" 2>/dev/null; do sleep 1; done
TOKEN=$(flexvpp token create --role operator --name compose-provision | tail -n1)
i=1
while [ "$i" -le "$HOMES" ]; do
  id=$(printf 'home-%03d' "$i")
  python - "$VTN_URL" "$TOKEN" "$id" <<'PY'
import json, sys, urllib.request, urllib.error
url, token, site = sys.argv[1:]
req = urllib.request.Request(f"{url}/api/v1/vens", method="POST",
    data=json.dumps({"ven_name": site, "site_id": site}).encode(),
    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
try:
    urllib.request.urlopen(req)
    print("provisioned", site)
except urllib.error.HTTPError as exc:
    print(site, exc.code, exc.read().decode())  # 409: already provisioned
PY
  i=$((i + 1))
done
