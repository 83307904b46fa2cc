#!/usr/bin/env bash
# RSS of a proxy holding N idle authenticated (SCRAM) clients, all from ONE client process
# (bench/idle_clients.py) on 127.0.0.1, on a throwaway PostgreSQL 15 cluster. See bench/README.md.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/idle-clients.sh [N] [options]          (N default 10000, at most ~19000: fd limit 20000)
  --target T     pgproxy (default) | pgbouncer (= pgbouncer-tx, pool 20) | pgbouncer-session (pool 1000)
  --steps LIST   cumulative counts to report at (default "1000 5000 N", those below N)
  --reps R       fresh proxy start per rep, same cluster (default 1)
  --parallel P   logins in flight at once (default 64)
  --settle S     seconds to wait before reading RSS (default 1)
  --hold S       seconds to keep all N open at the end (default 0)
  --active C     while all N are open, run pgbench -S with C more clients (needs pgbench -i, done here)
  --active-seconds T   length of that pgbench run (default 15)
  --tls          clients use TLS (SSLRequest, sslmode=require): targets pgproxy-tx-tls, pgbouncer-tx-tls
Env: PGPROXY_BIN, PGPROXY_START_TIMEOUT, KEEP_WORK=1 (as bench/run.sh).
EOF
}

N=10000 TARGET=pgproxy TLS=0 STEPS="" REPS=1 PARALLEL=64 SETTLE=1 HOLD=0 ACTIVE=0 ACTIVE_SECONDS=15
while (($#)); do
  case "$1" in
    --target) TARGET="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    --reps) REPS="$2"; shift 2 ;;
    --parallel) PARALLEL="$2"; shift 2 ;;
    --settle) SETTLE="$2"; shift 2 ;;
    --hold) HOLD="$2"; shift 2 ;;
    --active) ACTIVE="$2"; shift 2 ;;
    --active-seconds) ACTIVE_SECONDS="$2"; shift 2 ;;
    --tls) TLS=1; shift ;;
    -h|--help) usage; exit 0 ;;
    [0-9]*) N="$1"; shift ;;
    *) usage >&2; exit 2 ;;
  esac
done
[[ "$TARGET" == pgbouncer ]] && TARGET=pgbouncer-tx
case "$TARGET" in pgproxy|pgproxy-tx|pgbouncer-tx|pgbouncer-session|pgproxy-tx-tls|pgbouncer-tx-tls) ;; *) usage >&2; exit 2 ;; esac
TLS_ARG=(); ((TLS)) && TLS_ARG=(--tls)
((ACTIVE == 0 || HOLD >= ACTIVE_SECONDS + 5)) || HOLD=$((ACTIVE_SECONDS + 30))
[[ "$N" =~ ^[0-9]+$ ]] && ((N > 0)) || { usage >&2; exit 2; }
LIMIT=$(ulimit -n)
((N + 100 <= LIMIT)) || { echo "N=$N needs N + ~100 fds in the client, but ulimit -n is $LIMIT" >&2; exit 2; }
if [[ -z "$STEPS" ]]; then
  STEPS=""; for s in 1000 5000; do ((s < N)) && STEPS+="$s "; done; STEPS+="$N"
fi

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ $EUID -eq 0 ]] || die "run as root (initdb and pgbouncer are started as user postgres)"
if [[ "$TARGET" == pgproxy* ]]; then pgproxy_available || exit 0; fi

OUT_DIR="${OUT_DIR:-$BENCH_DIR/out}"
mkdir -p "$OUT_DIR"
REPORT="$OUT_DIR/idle-$TARGET-$N-$(date +%Y%m%d-%H%M%S).md"

bench_init
pg_setup 1
{
  echo "# Idle authenticated clients: $TARGET, N=$N, steps ${STEPS// /,}, $(date -Is)"
  echo "one client process (bench/idle_clients.py, SCRAM-SHA-256, $PARALLEL logins in flight$( ((TLS)) && echo ", TLS")), 127.0.0.1"
} | tee "$REPORT"
for ((rep = 1; rep <= REPS; rep++)); do
  start_target "$TARGET"
  pid="${PROXY_PID[$TARGET]}"
  echo -e "\n## rep $rep: $TARGET pid $pid ($(cat "/proc/$pid/comm"))\n" | tee -a "$REPORT"
  rc=0
  if ((ACTIVE > 0)); then
    idle_out="$WORK/idle-$rep.out"
    PGPASSWORD="$BENCH_PASSWORD" "$PYTHON" "$BENCH_DIR/idle_clients.py" --host 127.0.0.1 --port "${PORT[$TARGET]}" \
        --user "$BENCH_USER" --dbname "$BENCH_DB" --steps "${STEPS// /,}" --pid "$pid" \
        --parallel "$PARALLEL" --settle "$SETTLE" --hold "$HOLD" "${TLS_ARG[@]}" >"$idle_out" 2>&1 &
    idle_pid=$!
    for ((w = 0; w < 600; w++)); do
      grep -q "^|$N|" "$idle_out" && break
      kill -0 "$idle_pid" 2>/dev/null || break
      sleep 1
    done
    cat "$idle_out" | tee -a "$REPORT"
    rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    t0=$(pid_ticks "$pid")
    PGPASSWORD="$BENCH_PASSWORD" pgbench -h 127.0.0.1 -p "${PORT[$TARGET]}" -U "$BENCH_USER" -n -S -j 2 \
        -c "$ACTIVE" -T "$ACTIVE_SECONDS" "$BENCH_DB" >"$WORK/active-$rep.out" 2>&1 || rc=$?
    t1=$(pid_ticks "$pid")
    rss_after=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    tps=$(sed -nE 's/^tps = ([0-9.]+).*/\1/p' "$WORK/active-$rep.out" | head -1)
    failed=$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' "$WORK/active-$rep.out" | head -1)
    {
      echo
      echo "active: pgbench -S -c $ACTIVE -T $ACTIVE_SECONDS beside the $N idle clients: tps $tps, failed ${failed:-?}, proxy CPU $(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" 'BEGIN{printf "%.2f", (b-a)/hz}') s"
      echo "proxy RSS: $rss_before KB before, $rss_after KB after; $(awk -v r="$rss_after" -v n="$N" -v a="$ACTIVE" 'BEGIN{printf "%.2f", r/(n+a)}') KB per connected client overall"
      grep -h "stats: pool" "$WORK/$TARGET.log" 2>/dev/null | tail -1 | sed 's/^/proxy /'
    } | tee -a "$REPORT"
    wait "$idle_pid" || true
  else
    PGPASSWORD="$BENCH_PASSWORD" "$PYTHON" "$BENCH_DIR/idle_clients.py" --host 127.0.0.1 --port "${PORT[$TARGET]}" \
        --user "$BENCH_USER" --dbname "$BENCH_DB" --steps "${STEPS// /,}" --pid "$pid" \
        --parallel "$PARALLEL" --settle "$SETTLE" --hold "$HOLD" "${TLS_ARG[@]}" | tee -a "$REPORT" || rc=$?
  fi
  ((rc == 0)) || log "client run exited $rc"
  # stop this proxy instance (a fresh one per rep)
  [[ "$TARGET" == pgproxy* ]] && kill -TERM -- "-${KILL_PID[$TARGET]}" 2>/dev/null || true
  stop_pid "${KILL_PID[$TARGET]}" 15
  unset "KILL_PID[$TARGET]" "PROXY_PID[$TARGET]"
done
log "report: $REPORT"
