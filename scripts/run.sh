#!/usr/bin/env bash
# Starts kvmhubd in the foreground for a first look: SQLite store in DATA_DIR, demo host,
# and the admin login printed on the first start. Ctrl-C stops it.
set -euo pipefail
daemon=$1 listen=$2 data_dir=$3
mkdir -p "$data_dir"
password_file="$data_dir/admin-password"
if [ ! -s "$data_dir/kvmhub.db" ] && [ -z "${KVMHUB_ADMIN_PASSWORD:-}" ]; then
  # First start: pick the admin password here so it can be shown again on later runs.
  KVMHUB_ADMIN_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=' | head -c 20)
  export KVMHUB_ADMIN_PASSWORD
  (umask 077; printf '%s\n' "$KVMHUB_ADMIN_PASSWORD" > "$password_file")
fi
echo "kvmhub: http://$listen/  (data in $data_dir)"
if [ -s "$password_file" ]; then
  echo "kvmhub: admin login: user 'admin', password '$(cat "$password_file")' (kept in $password_file)"
fi
echo "kvmhub: try: curl -s -X POST http://$listen/api/login -d '{\"username\":\"admin\",\"password\":\"...\"}'"
exec "$daemon" --listen "$listen" --data-dir "$data_dir"
