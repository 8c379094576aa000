# Shared by the bench scripts (sourced): wait for a kvmhubd they started, then log in as admin.
# admin_token PORT PASSWORD LOG prints the token, or says why not (with the daemon's log) and fails.
admin_token() {
  local port=$1 password=$2 log=$3 token
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.1
  done
  token=$(curl -sf -X POST "http://127.0.0.1:$port/api/login" \
    -d "{\"username\":\"admin\",\"password\":\"$password\"}" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  [ -n "$token" ] || { echo "bench: login failed" >&2; cat "$log" >&2; return 1; }
  echo "$token"
}
