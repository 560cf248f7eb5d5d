# bench/pg/processes.sh - shell functions of the PostgreSQL scenario of bench/run (sourced, not
# run): three cashd processes serving one PostgreSQL database, withdrawals spread over many
# accounts, one cashbench per process at once. They use what bench/run and bench/lib.sh set:
# BIN, work, pg_dir, pg_port, psql_bench, record, cashd_start, duration and warmup.

PG_CASHD_PROCESSES=3
PG_CASHD_CONNECTIONS=21 # per process: 63 in all, as the 64 of the SQLite figures

# pg_cashd_setup NAME ACCOUNTS FACTORS: a database NAME on the bench server with ACCOUNTS
# accounts ready to withdraw, PG_CASHD_PROCESSES cashd of $BIN on it (named NAME1, NAME2, ...),
# and FACTORS confirmed verifications per account, split with the keys between the processes.
# cashseed writes SQLite only: it seeds a SQLite database under the same data key, whose rows
# (the same schema versions, so the same columns in the same order) are copied with COPY.
pg_cashd_setup() {
  local name=$1 accounts=$2 factors=$3
  local dir="$work/$name" url table i
  url="postgresql://postgres@/$name?host=$pg_dir&port=$pg_port"
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
  for i in $(seq 1 "$PG_CASHD_PROCESSES"); do
    cashd_start "$name$i" "$url" "$dir/cashd.key" "$work"
  done
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
