# bench/lib.sh - shell functions shared by bench/run and bench/smoke (sourced, not run).
# They start and stop only the processes they started, by the ids they recorded.

BENCH_FACTOR_USES=${BENCH_FACTOR_USES:-100}   # CASHD_VERIFICATION_MAX_USES of the bench servers

declare -A CASHD_PIDS=() CASHD_URLS=() CASHD_LOGS=()

bench_log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
bench_die() { bench_log "bench: $*"; exit 1; }

# A free TCP port on 127.0.0.1 (the kernel's choice; a tiny race is acceptable here).
bench_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# cashd_start NAME DB KEY_FILE LOG_DIR: starts cashd on a free port with the benchmark
# settings (console mail, verifications usable BENCH_FACTOR_USES times for a day, creation limits
# and the daily limit out of the way: a benchmark is one heavy user), waits for its
# "listening on" line, and records pid, url and log under NAME. DB is a SQLite file or a
# postgresql:// URL. Settings that a cashd does not know are ignored by it.
cashd_start() {
  local name=$1 db=$2 key=$3 dir=$4
  local log="$dir/cashd-$name.log" url="sqlite:$db"
  case $db in postgresql:*) url=$db ;; esac
  : >"$log"
  env $(env | sed -n 's/^\(CASHD_[A-Z_]*\)=.*/-u \1/p') \
    CASHD_DB="$url" CASHD_DATA_KEY_FILE="$key" CASHD_LISTEN=127.0.0.1:0 \
    CASHD_MAIL=console CASHD_VERIFICATION_MAX_USES="$BENCH_FACTOR_USES" \
    CASHD_VERIFICATION_WINDOW_SECONDS=86400 CASHD_DAILY_LIMIT=1000000000000 \
    CASHD_VERIFICATION_MEMBER_LIMIT=100000 CASHD_VERIFICATION_ACCOUNT_LIMIT=1000000 \
    ${BENCH_CASHD_THREADS:+CASHD_THREADS=$BENCH_CASHD_THREADS} \
    ${BENCH_CASHD_DB_POOL:+CASHD_DB_POOL=$BENCH_CASHD_DB_POOL} \
    "$BIN/cashd" >>"$log" 2>&1 &
  local pid=$!
  local url=""
  for _ in $(seq 1 600); do
    url=$(sed -n 's/.*cashd listening on \([^ ]*\).*/\1/p' "$log" | head -n1)
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$url" ]; then
    cat "$log" >&2
    bench_die "cashd $name did not start"
  fi
  CASHD_PIDS[$name]=$pid
  CASHD_URLS[$name]=$url
  CASHD_LOGS[$name]=$log
}

cashd_stop() {
  local name=$1
  local pid=${CASHD_PIDS[$name]:-}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "CASHD_PIDS[$name]"
}

cashd_stop_all() {
  local name
  for name in "${!CASHD_PIDS[@]}"; do
    cashd_stop "$name"
  done
}

# data_seed DB KEYS_DIR ACCOUNTS SMALL_ROWS: a fresh database (cashctl init) with ACCOUNTS
# accounts (keys.txt), one hot account (hot.txt) and one with SMALL_ROWS withdrawals (small.txt).
data_seed() {
  local db=$1 dir=$2 accounts=$3 rows=$4
  "$BIN/cashctl" --db "sqlite:$db" --data-key-file "$dir/cashd.key" init >/dev/null
  "$BIN/cashseed" --db "$db" --data-key-file "$dir/cashd.key" --accounts "$accounts" \
    --keys-out "$dir/keys.txt" --hot-out "$dir/hot.txt" --big-rows "$rows" \
    --big-out "$dir/small.txt"
}

# record TAG LINE: keeps a line of figures (with its tag) in $RESULTS and shows its main ones.
record() {
  printf 'tag=%s %s\n' "$1" "$2" >>"$RESULTS"
  printf '  %-22s %s\n' "$1" "$(printf '%s' "$2" | tr ' ' '\n' |
    grep -E '^(label|build|cashd_threads|connections|throughput|p50_ms|p90_ms|errors|rss_kib|seconds)=' |
    tr '\n' ' ')" >&2
}

# bench_header LINE...: the run's date, commit and machine, then the given lines, into
# $out/machine.txt and on stderr.
bench_header() {
  {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "machine: $(nproc) CPUs, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%s\n' "$@"
  } | tee "$out/machine.txt" >&2
}

# bench_kv LINE KEY: the value of KEY=... in a line of figures.
bench_kv() {
  printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1
}
