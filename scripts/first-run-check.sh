#!/usr/bin/env bash
# The path a newcomer takes, end to end: a fresh clone in a private (0700) temporary directory,
# `npm install && npm start` with no DATABASE_URL (embedded PostgreSQL), a few of the README's
# calls, a `boxoffice import` beside the running platform, then SIGTERM and exit code 0.
#
#   scripts/first-run-check.sh [SOURCE]    SOURCE: a git repository to clone (default: this one)
#
# FIRST_RUN_WITH_WORKTREE=1 also copies this tree's uncommitted changes into the clone, to check
# work before committing it. Ports are the README's defaults unless taken (then free ones).
set -euo pipefail

source_repo="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
started=$SECONDS
step() { echo "first-run: [$((SECONDS - started))s] $*"; }
fail() {
  echo "first-run: FAILED: $*" >&2
  if [[ -n "${log:-}" && -f "$log" ]]; then
    echo "first-run: last lines of the platform's output ($log):" >&2
    tail -n 40 "$log" >&2 || true
  fi
  exit 1
}

work="$(mktemp -d -t boxoffice-first-run.XXXXXX)" # mktemp -d: 0700, like /root or a private tmp
clone="$work/boxoffice"
log="$work/start.log"
platform_pid=""

cleanup() {
  local status=$?
  # npm start runs in a session of its own: end all of it (npm, its shell, node).
  if [[ -n "$platform_pid" ]] && kill -0 -- "-$platform_pid" 2>/dev/null; then
    kill -TERM -- "-$platform_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 -- "-$platform_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$platform_pid" 2>/dev/null || true
  fi
  # A PostgreSQL that outlived the platform (only after a failure): stop it before removing its files.
  local pg="$clone/.data/pg"
  if [[ -f "$pg/postmaster.pid" ]]; then
    local pm
    pm="$(head -n 1 "$pg/postmaster.pid")"
    if [[ -n "$pm" ]] && kill -0 "$pm" 2>/dev/null; then
      kill -INT "$pm" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pm" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  # As root the cluster lives outside the private tree, linked from DATA_DIR/pg (see README).
  if [[ -L "$pg" ]]; then
    local target
    target="$(readlink -f "$pg" || true)"
    [[ -n "$target" ]] && rm -rf "$(dirname "$target")"
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port of the README if free, else any free one.
port_or_free() {
  node -e '
    const net = require("node:net");
    const tryListen = (port) => new Promise((resolve) => {
      const server = net.createServer().once("error", () => resolve(undefined));
      server.listen(port, "127.0.0.1", () => { const { port: got } = server.address(); server.close(() => resolve(got)); });
    });
    (async () => console.log((await tryListen(Number(process.argv[1]))) ?? (await tryListen(0))))();
  ' "$1"
}

# Expects status $1 from curl arguments $3…; $2 names the call. Prints the body.
call() {
  local want="$1" what="$2"
  shift 2
  local out status
  out="$(curl -sS -o "$work/body" -w '%{http_code}' "$@")" || fail "$what: curl failed"
  status="$out"
  [[ "$status" == "$want" ]] || fail "$what: expected HTTP $want, got $status: $(head -c 500 "$work/body")"
  cat "$work/body"
}

expect_body() {
  local what="$1" body="$2" pattern="$3"
  [[ "$body" =~ $pattern ]] || fail "$what: body does not match /$pattern/: ${body:0:500}"
  step "ok: $what"
}

step "cloning $source_repo into a private directory $work (mode $(stat -c %a "$work"))"
git clone --quiet "$source_repo" "$clone"
if [[ "${FIRST_RUN_WITH_WORKTREE:-}" == 1 ]]; then
  step "copying the uncommitted changes of $source_repo"
  git -C "$source_repo" diff HEAD --binary | (cd "$clone" && git apply --allow-empty)
  (cd "$source_repo" && git ls-files -z --others --exclude-standard -- . ':(exclude)node_modules') |
    (cd "$source_repo" && tar --null -T - -cf -) | tar -xf - -C "$clone"
fi

cd "$clone"
# The newcomer has no database configured: no DATABASE_URL, no REDIS_URL, default DATA_DIR.
unset DATABASE_URL REDIS_URL DATA_DIR PAYMENT_ENDPOINT
export PORT EMBEDDED_PG_PORT DROPS_CONTEST_PORT SIM_GATEWAY_PORT
PORT="$(port_or_free 8000)"
DROPS_CONTEST_PORT="$(port_or_free 8080)"
SIM_GATEWAY_PORT="$(port_or_free 8090)"
EMBEDDED_PG_PORT="$(port_or_free 54329)"
api="http://127.0.0.1:$PORT"
contest="http://127.0.0.1:$DROPS_CONTEST_PORT"

step "npm install"
npm install --no-audit --no-fund --loglevel=error >"$work/install.log" 2>&1 ||
  { tail -n 40 "$work/install.log" >&2; fail "npm install"; }

step "npm start (API $api, contest $contest, embedded PostgreSQL on $EMBEDDED_PG_PORT)"
# In a session of its own (as a terminal would run it), so cleanup can end npm and all it started.
setsid npm start >"$log" 2>&1 &
platform_pid=$!
for _ in $(seq 1 600); do
  kill -0 "$platform_pid" 2>/dev/null || fail "npm start exited before it was ready"
  curl -sf -o /dev/null "$api/health/ready" && break
  sleep 0.5
done
body="$(call 200 'GET /health/ready' "$api/health/ready")"
expect_body 'ready' "$body" '"status":"ready"'

AUTH='aysultan_talgat_1@fest.tix:/8eC$AD>'
body="$(call 200 'GET /api/events (search)' -u "$AUTH" -G "$api/api/events" --data-urlencode 'query=концерт' -d pageSize=3)"
expect_body 'the events catalog finds concerts' "$body" '"title"'
body="$(call 200 'GET /api/seats' -u "$AUTH" "$api/api/seats?event_id=1&status=FREE&pageSize=5")"
expect_body 'free seats of event 1' "$body" '"status":"FREE"'
body="$(call 201 'POST /api/bookings' -u "$AUTH" -X POST "$api/api/bookings" -H 'content-type: application/json' -d '{"event_id":1}')"
expect_body 'a booking is created' "$body" '"id":[0-9]+'
booking="$(sed -E 's/.*"id":([0-9]+).*/\1/' <<<"$body")"
seat="$(call 200 'GET /api/seats' -u "$AUTH" "$api/api/seats?event_id=1&status=FREE&pageSize=1" | sed -E 's/.*"id":([0-9]+).*/\1/')"
call 200 'PATCH /api/seats/select' -u "$AUTH" -X PATCH "$api/api/seats/select" -H 'content-type: application/json' \
  -d "{\"booking_id\":$booking,\"seat_id\":$seat}" >/dev/null
step "ok: seat $seat is held for booking $booking"
body="$(call 200 'POST /checkout (contest)' -X POST "$contest/checkout?user_id=42&id=7")"
expect_body 'the contest API answers a checkout' "$body" '.'
call 200 'GET /api/drops/current' "$api/api/drops/current" >/dev/null
step "ok: GET /api/drops/current"

step "boxoffice import of a users file while the platform runs"
release="$work/release"
mkdir -p "$release"
password='First-run:check/1'
hash="$(printf '%s' "$password" | sha256sum | cut -d' ' -f1)"
email='first_run_990001@check.local'
cat >"$release/users.csv" <<CSV
user_id,email,password_hash,password_plain,first_name,surname,birthday,registered_at,is_active,last_logged_in
990001,$email,$hash,$password,First,Run,,2024-01-01 00:00:00,true,
CSV
npx boxoffice import "$release" >"$work/import.log" 2>&1 || { cat "$work/import.log" >&2; fail "boxoffice import"; }
step "ok: boxoffice import exited 0"
kill -0 "$platform_pid" 2>/dev/null || fail "the platform exited during the import"
body="$(call 200 'GET /health/ready after the import' "$api/health/ready")"
expect_body 'still ready after the import' "$body" '"database":"up"'
call 200 'GET /api/bookings as the imported user' -u "$email:$password" "$api/api/bookings" >/dev/null
step "ok: the imported user signs in"
call 200 'GET /api/bookings as the README user' -u "$AUTH" "$api/api/bookings" >/dev/null
step "ok: the README user still signs in"

step "the first service account from the CLI, beside the running platform"
npx boxoffice service-accounts create --name first-run --role ADMIN --json >"$work/account.json" 2>"$work/account.log" ||
  { cat "$work/account.log" >&2; fail "boxoffice service-accounts create"; }
account="$(cat "$work/account.json")"
expect_body 'service-accounts create prints one JSON object' "$account" '^\{"id":"[0-9]+","client_id":"sa_[^"]+","client_secret":"bxs_[^"]+","role":"ADMIN"\}$'
client_id="$(node -p 'JSON.parse(process.argv[1]).client_id' "$account")"
client_secret="$(node -p 'JSON.parse(process.argv[1]).client_secret' "$account")"
body="$(call 200 'POST /api/auth/token (client credentials)' -u "$client_id:$client_secret" \
  -d grant_type=client_credentials "$api/api/auth/token")"
expect_body 'an access token' "$body" '"token_type":"Bearer"'
token="$(node -p 'JSON.parse(process.argv[1]).access_token' "$body")"
body="$(call 200 'GET /api/audit/verify with the token' -H "authorization: Bearer $token" "$api/api/audit/verify")"
expect_body 'the audit log verifies and records the account' "$body" '"valid":true'
call 401 'GET /api/audit without a token' "$api/api/audit" >/dev/null
step "ok: 401 without a token"

# The demo admin's password is printed once at the first start: a newcomer signs in with it.
admin_email="$(grep -m 1 -o 'email:    [^ ]*' "$log" | awk '{print $2}')"
admin_password="$(grep -m 1 -o 'password: [^ ]*' "$log" | awk '{print $2}')"
[[ -n "$admin_email" && -n "$admin_password" ]] || fail "the first start printed no demo admin"
body="$(call 200 'POST /api/admin/session as the demo admin' -c "$work/cookies" -H 'content-type: application/json' \
  -d "{\"email\":\"$admin_email\",\"password\":\"$admin_password\"}" "$api/api/admin/session")"
expect_body 'the demo admin signs in' "$body" '"role":"admin"'
body="$(call 200 'GET /api/admin/me with the session cookie' -b "$work/cookies" "$api/api/admin/me")"
expect_body 'the session cookie works' "$body" "\"email\":\"$admin_email\""
grep -q "\"admin\":\"$api/admin/\"" "$log" || fail "the start log names no admin panel URL"
page="$(call 200 'GET /admin/ (the admin panel)' "$api/admin/")"
asset="$(grep -o '/admin/assets/index-[^"]*\.js' <<<"$page" | head -n 1)"
[[ -n "$asset" ]] || fail "the admin panel's page names no script"
headers="$(curl -sS -D - -o /dev/null -H 'accept-encoding: br, gzip' "$api$asset")"
grep -qi 'cache-control: public, max-age=31536000, immutable' <<<"$headers" || fail "the panel's script is not cached as immutable"
grep -qi 'content-encoding: br' <<<"$headers" || fail "the panel's script is not served precompressed"
step "ok: the admin panel is served at $api/admin/ ($asset)"

# npm passes a SIGTERM to its shell, not to node: signal the platform process itself (its pid is
# in its log lines), as a supervisor would; npm then exits with the platform's code.
node_pid="$(grep -m 1 -o '"pid":[0-9]*' "$log" | cut -d: -f2)"
[[ -n "$node_pid" ]] || fail "no pid in the platform's log"
step "SIGTERM to the platform (pid $node_pid)"
kill -TERM "$node_pid"
code=0
wait "$platform_pid" || code=$?
[[ "$code" == 0 ]] || fail "npm start exited $code after SIGTERM, not 0"
kill -0 "$node_pid" 2>/dev/null && fail "the platform process $node_pid still runs after npm exited"
platform_pid=""
if [[ -f .data/pg/postmaster.pid ]] && kill -0 "$(head -n 1 .data/pg/postmaster.pid)" 2>/dev/null; then
  fail "the embedded PostgreSQL still runs after the platform stopped"
fi
step "ok: exit code 0, embedded PostgreSQL stopped"
step "passed"
