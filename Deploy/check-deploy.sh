#!/usr/bin/env bash
# Checks the deployment files as far as this machine can: systemd units with systemd-analyze,
# the RabbitMQ definitions by loading them (into a throw-away vhost) on the local broker, the
# compose file's structure. Prints one line per check; exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")"
ADMIN="${YIZHAN_TEST_BROKER_ADMIN:-http://guest:guest@127.0.0.1:15672}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# systemd: every unit verifies; a missing /usr/local/bin/yizhan (not installed here) is the only allowed complaint.
cp systemd/yizhan-registry.service systemd/yizhan-monitor.service "$tmp/"
cp "systemd/yizhan-gateway@.service" "$tmp/yizhan-gateway@11420100MB12345671.service"
for u in "$tmp"/*.service; do
  out=$(systemd-analyze verify "$u" 2>&1 | grep -v "Command /usr/local/bin/yizhan is not executable" || true)
  if [ -n "$out" ]; then echo "check-deploy: $(basename "$u"): $out" >&2; exit 1; fi
  echo "check-deploy: systemd unit $(basename "$u") verifies"
done

# RabbitMQ definitions: loaded for real under another vhost name, then the policies read back.
vhost="yizhan-deploycheck-$$"
python3 - "$vhost" rabbitmq/definitions.json > "$tmp/defs.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[2]))
for key in ("vhosts", "exchanges", "policies", "queues", "bindings", "permissions"):
    for item in d.get(key, []):
        if key == "vhosts": item["name"] = sys.argv[1]
        elif "vhost" in item: item["vhost"] = sys.argv[1]
print(json.dumps(d))
PY
base="$(python3 -c "import sys,urllib.parse as u;p=u.urlparse(sys.argv[1]);print(f'{p.scheme}://{p.hostname}:{p.port}')" "$ADMIN")"
cred="$(python3 -c "import sys,urllib.parse as u;p=u.urlparse(sys.argv[1]);print(f'{p.username}:{p.password}')" "$ADMIN")"
cleanup() { curl -s -u "$cred" -X DELETE "$base/api/vhosts/$vhost" >/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
code=$(curl -s -o "$tmp/resp" -w '%{http_code}' -u "$cred" -H 'content-type: application/json' -X POST --data @"$tmp/defs.json" "$base/api/definitions")
if [ "$code" != "204" ] && [ "$code" != "201" ] && [ "$code" != "200" ]; then echo "check-deploy: definitions refused by RabbitMQ (HTTP $code): $(cat "$tmp/resp")" >&2; exit 1; fi
policies=$(curl -s -u "$cred" "$base/api/policies/$vhost" | python3 -c "import json,sys;print(len(json.load(sys.stdin)))")
exchanges=$(curl -s -u "$cred" "$base/api/exchanges/$vhost" | python3 -c "import json,sys;print(len([e for e in json.load(sys.stdin) if e['name'].startswith('yizhan.')]))")
[ "$policies" = "3" ] && [ "$exchanges" = "3" ] || { echo "check-deploy: expected 3 policies and 3 exchanges, got $policies and $exchanges" >&2; exit 1; }
echo "check-deploy: RabbitMQ accepted definitions.json ($policies policies, $exchanges exchanges)"

# rabbitmq.conf: every line is a comment, blank, or key = value.
python3 - rabbitmq/rabbitmq.conf <<'PY'
import re, sys
for n, line in enumerate(open(sys.argv[1]), 1):
    s = line.strip()
    if s and not s.startswith("#") and not re.match(r"^[a-z0-9_.]+\s*=\s*\S", s):
        sys.exit(f"check-deploy: rabbitmq.conf line {n} is not key = value: {s}")
print("check-deploy: rabbitmq.conf is key = value throughout")
PY

# compose: parses, has the cluster, the registry, two gateways and the monitor, and its files exist.
python3 - compose.yaml <<'PY'
import os, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
services = c["services"]
need = {"mq1", "mq2", "mq3", "registry", "gateway-a", "gateway-b", "monitor"}
missing = need - set(services)
if missing: sys.exit(f"check-deploy: compose.yaml lacks {sorted(missing)}")
for name, s in services.items():
    for v in s.get("volumes", []):
        src = v.split(":")[0]
        if src.startswith("./") and not os.path.exists(src): sys.exit(f"check-deploy: {name} mounts missing {src}")
        if not src.startswith("./") and src not in (c.get("volumes") or {}): sys.exit(f"check-deploy: {name} uses undeclared volume {src}")
    b = s.get("build")
    if b and not os.path.exists(os.path.join(b["context"], b["dockerfile"])): sys.exit(f"check-deploy: {name} builds from a missing Dockerfile")
print(f"check-deploy: compose.yaml has {len(services)} services and consistent volumes")
PY
echo "check-deploy: all checks passed"
