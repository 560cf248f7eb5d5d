# bench/pg/processes.sh - shell functions of the PostgreSQL scenario of bench/run and bench/pool
# (sourced, not run): a throwaway PostgreSQL server with the reference database, the reference
# (pgbench), and three cashd processes serving one database, withdrawals spread over many
# accounts, one cashbench per process at once. They use what the script and bench/lib.sh set:
# here, BIN, work, record, cashd_start, duration and warmup.

PG_CASHD_PROCESSES=3
PG_CASHD_CONNECTIONS=21 # per process: 63 in all, as the 64 of the SQLite figures
PG_ACCOUNTS=10000       # accounts of the reference database
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
pg_dir="" pg_port="" pg_user=""

# pg_server_start: a throwaway server in a new directory (pg_dir, pg_port), listening on its Unix
# socket only, with the reference database "bench" (pg/schema.sql); psql_bench runs psql on it.
pg_server_start() {
  bench_log "starting a throwaway PostgreSQL ($PGBIN)"
  pg_dir=$(mktemp -d /tmp/cashbench-pg.XXXXXX)
  pg_port=$(bench_free_port)
  if [ "$(id -u)" -eq 0 ]; then
    # PostgreSQL refuses to run as root: its own system user (the package's, else a new one).
    pg_user=postgres
    if ! id -u "$pg_user" >/dev/null 2>&1; then
      pg_user=cashbench-pg
      id -u "$pg_user" >/dev/null 2>&1 ||
        useradd --system --no-create-home --shell /usr/sbin/nologin "$pg_user"
    fi
  else
    pg_user=$(id -un)
  fi
  chown "$pg_user" "$pg_dir"
  pg_as_user "$PGBIN/initdb" -D "$pg_dir/data" -A trust -U postgres -E UTF8 >/dev/null
  pg_as_user "$PGBIN/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w -o \
    "-p $pg_port -k $pg_dir -c listen_addresses='' -c shared_buffers=256MB -c max_connections=128" \
    start >/dev/null
  psql_bench -d postgres -c "CREATE DATABASE bench"
  psql_bench -d bench -v ON_ERROR_STOP=1 -v accounts=$PG_ACCOUNTS -f "$here/bench/pg/schema.sql"
}

pg_as_user() {
  if [ "$pg_user" = "$(id -un)" ]; then "$@"; else runuser -u "$pg_user" -- "$@"; fi
}

psql_bench() { psql -X -q -h "$pg_dir" -p "$pg_port" -U postgres "$@"; }

# pg_url NAME: cashd's URL of the database NAME on the server.
pg_url() { printf 'postgresql://postgres@/%s?host=%s&port=%s' "$1" "$pg_dir" "$pg_port"; }

# pg_server_stop: stops the server of pg_server_start and removes its directory.
pg_server_stop() {
  [ -n "$pg_dir" ] || return 0
  pg_as_user "$PGBIN/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1
  rm -rf "$pg_dir"
  pg_dir=""
}

# pg_reference_run TAG: the database limit, the one-statement withdrawal driven by pgbench with
# 16 clients on the reference database.
pg_reference_run() {
  local output tps latency
  output=$("$PGBIN/pgbench" -h "$pg_dir" -p "$pg_port" -U postgres -n -M prepared -c 16 -j 2 \
    -T "$duration" -D accounts=$PG_ACCOUNTS -f "$here/bench/pg/withdraw.sql" bench 2>&1) || true
  tps=$(printf '%s\n' "$output" | sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p')
  latency=$(printf '%s\n' "$output" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
  if [ -z "$tps" ]; then
    printf '%s\n' "$output" >&2
    bench_log "pgbench failed"
    return
  fi
  record "$1" "label=pg-one-statement connections=16 throughput=$tps mean_ms=$latency"
}

# pg_cashd_setup NAME ACCOUNTS FACTORS: a database NAME on the bench server with ACCOUNTS
# accounts ready to withdraw, PG_CASHD_PROCESSES cashd of $BIN on it (named NAME1, NAME2, ...),
# and FACTORS confirmed verifications per account, split with the keys between the processes.
# cashseed writes SQLite only: it seeds a SQLite database under the same data key, whose rows
# (the same schema versions, so the same columns in the same order) are copied with COPY.
pg_cashd_setup() {
  local name=$1 accounts=$2 factors=$3
  local dir="$work/$name" url table i
  url=$(pg_url "$name")
  mkdir -p "$dir"
  psql_bench -d postgres -c "CREATE DATABASE $name"
  "$BIN/cashctl" --db "$url" --data-key-file "$dir/cashd.key" init >/dev/null
  "$BIN/cashctl" --db "sqlite:$dir/seed.db" --data-key-file "$dir/cashd.key" init >/dev/null
  "$BIN/cashseed" --db "$dir/seed.db" --data-key-file "$dir/cashd.key" --accounts "$accounts" \
    --keys-out "$dir/keys.txt" >/dev/null
  for table in accounts members api_keys bank_accounts balance_history; do
    sqlite3 -csv "$dir/seed.db" "SELECT * FROM $table" |
      psql_bench -d "$name" -v ON_ERROR_STOP=1 -c "\\copy $table FROM STDIN WITH (FORMAT csv)"
  done
  psql_bench -d "$name" -c "VACUUM ANALYZE"
  pg_cashd_start "$name"
  "$BIN/cashbench" setup --url "${CASHD_URLS[${name}1]}" --keys "$dir/keys.txt" \
    --cashd-log "${CASHD_LOGS[${name}1]}" --out "$dir/factors.txt" --verifications "$factors" >&2
  # Process i serves the keys of lines i, i + 3, ...; each its own factors file (cashbench
  # rewrites it with the uses left).
  for i in $(seq 1 "$PG_CASHD_PROCESSES"); do
    awk -v n="$PG_CASHD_PROCESSES" -v i="$i" '(NR - 1) % n == i - 1' "$dir/keys.txt" \
      >"$dir/keys$i.txt"
    awk 'NR == FNR { mine[$3] = 1; next } $1 in mine' "$dir/keys$i.txt" "$dir/factors.txt" \
      >"$dir/factors$i.txt"
  done
}

# pg_cashd_start NAME: the PG_CASHD_PROCESSES cashd of NAME, with the environment of now (e.g.
# BENCH_CASHD_DB_POOL); pg_cashd_stop NAME stops them.
pg_cashd_start() {
  local name=$1 i
  for i in $(seq 1 "$PG_CASHD_PROCESSES"); do
    cashd_start "$name$i" "$(pg_url "$name")" "$work/$name/cashd.key" "$work"
  done
}

pg_cashd_stop() {
  local name=$1 i
  for i in $(seq 1 "$PG_CASHD_PROCESSES"); do
    cashd_stop "$name$i"
  done
}

# pg_cashd_run TAG NAME [LABEL]: one figure: a cashbench per process of NAME at once, each on
# its share of the keys; throughput is their sum, p50_ms the slowest of their medians.
pg_cashd_run() {
  local tag=$1 name=$2 label=${3:-cashd-pg-3-processes}
  local dir="$work/$name" i line throughput=0 p50=0 errors=0 value
  local pids=()
  for i in $(seq 1 "$PG_CASHD_PROCESSES"); do
    "$BIN/cashbench" run --url "${CASHD_URLS[$name$i]}" --scenario withdraw \
      --keys "$dir/keys$i.txt" --factors "$dir/factors$i.txt" --factor-uses "$BENCH_FACTOR_USES" \
      --connections "$PG_CASHD_CONNECTIONS" --threads 1 --duration "$duration" \
      --warmup "$warmup" --label "$label-$i" >"$dir/run$i.txt" 2>"$dir/run$i.err" &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || true
  done
  for i in $(seq 1 "$PG_CASHD_PROCESSES"); do
    line=$(cat "$dir/run$i.txt")
    if [ -z "$line" ]; then
      cat "$dir/run$i.err" >&2
      bench_log "cashbench failed on $name$i"
      return
    fi
    throughput=$(awk -v a="$throughput" -v b="$(bench_kv "$line" throughput)" 'BEGIN { print a + b }')
    value=$(bench_kv "$line" p50_ms)
    p50=$(awk -v a="$p50" -v b="${value:-0}" 'BEGIN { print (b > a) ? b : a }')
    value=$(bench_kv "$line" errors)
    errors=$((errors + ${value:-0}))
  done
  record "$tag" "label=$label processes=$PG_CASHD_PROCESSES connections=$((PG_CASHD_PROCESSES * PG_CASHD_CONNECTIONS)) throughput=$throughput p50_ms=$p50 errors=$errors"
}
