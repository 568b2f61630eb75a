#!/usr/bin/env bash
# Enable the addon in Apache Airflow 3's FAB auth manager and check that login works and the
# Renewals screens answer under /auth/. Run by hand from the repository root (it installs
# Airflow, several hundred MB):
#
#   bash tests/hosts/airflow_check.sh [WORKDIR]
#
# AIRFLOW_VENV=/path/to/venv reuses a virtual environment that already has Airflow.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="${1:-$(mktemp -d)}"
PORT="${PORT:-18080}"
mkdir -p "$WORK"
VENV="${AIRFLOW_VENV:-$WORK/venv}"

if [ ! -x "$VENV/bin/airflow" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "apache-airflow>=3,<4" apache-airflow-providers-fab
fi
rm -rf "$WORK/dist"
(cd "$WORK" && "$VENV/bin/pip" wheel -q --no-deps -w "$WORK/dist" "$ROOT")
(cd "$WORK" && "$VENV/bin/pip" install -q --force-reinstall --no-deps "$WORK"/dist/renewal_reminder-*.whl)
(cd "$WORK" && "$VENV/bin/pip" install -q "$WORK"/dist/renewal_reminder-*.whl)
"$VENV/bin/pip" list 2>/dev/null | grep -i -E "^apache-airflow |providers-fab|flask-appbuilder|^sqlalchemy |renewal"

export AIRFLOW_HOME="$WORK/home"
rm -rf "$AIRFLOW_HOME" && mkdir -p "$AIRFLOW_HOME"
export AIRFLOW__CORE__AUTH_MANAGER=airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__API__PORT="$PORT"
cat > "$AIRFLOW_HOME/webserver_config.py" <<PY
from flask_appbuilder.const import AUTH_DB

AUTH_TYPE = AUTH_DB
# The one line that enables the product, and where its emails link to.
ADDON_MANAGERS = ["renewal_reminder.addon.RenewalReminderManager"]
RENEWALS_BASE_URL = "http://127.0.0.1:$PORT/auth"
PY

cd "$WORK"
"$VENV/bin/airflow" db migrate > "$WORK/migrate.log" 2>&1
"$VENV/bin/airflow" users create --role Admin --username admin --password admin-password-1 \
  --email admin@example.com --firstname Ada --lastname Admin > "$WORK/users.log" 2>&1
"$VENV/bin/airflow" api-server --port "$PORT" > "$WORK/api-server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT

"$VENV/bin/python" - "$PORT" <<'PY'
import http.cookiejar
import re
import sys
import time
import urllib.parse
import urllib.request

base = f"http://127.0.0.1:{sys.argv[1]}"
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
deadline = time.monotonic() + 180
while True:
    try:
        page = opener.open(base + "/auth/login/", timeout=5).read().decode()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("the api-server did not answer in 180 s (see api-server.log)")
        time.sleep(2)
token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
form = {"username": "admin", "password": "admin-password-1"}
if token:
    form["csrf_token"] = token.group(1)
opener.open(base + "/auth/login/", data=urllib.parse.urlencode(form).encode(), timeout=30)
results = {}
for path in ("/domains/list/", "/relations/list/", "/renewals/", "/queue/", "/expirations/"):
    try:
        response = opener.open(base + "/auth/renewal-reminder" + path, timeout=30)
        body = response.read().decode()
        results[path] = (response.status, "/auth/login" in response.geturl())
    except urllib.error.HTTPError as error:
        results[path] = (error.code, False)
users = opener.open(base + "/auth/users/list/", timeout=30)
print("logged in, FAB users list:", users.status, "(login page: %s)" % ("/login" in users.geturl()))
for path, (status, sent_to_login) in results.items():
    print(f"/auth/renewal-reminder{path}: {status}{' (sent to login)' if sent_to_login else ''}")
ok = all(status == 200 and not sent_to_login for status, sent_to_login in results.values())
print("RESULT:", "the Renewals screens answer under /auth/" if ok else "FAILED")
sys.exit(0 if ok and "/login" not in users.geturl() else 1)
PY
