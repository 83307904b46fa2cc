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
Env: PGPROXY_BIN, PGPROXY_START_TIMEOUT, KEEP_WORK=1 (as bench/run.sh).
EOF
}

N=10000 TARGET=pgproxy STEPS="" REPS=1 PARALLEL=64 SETTLE=1 HOLD=0
while (($#)); do
  case "$1" in
    --target) TARGET="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    --reps) REPS="$2"; shift 2 ;;
    --parallel) PARALLEL="$2"; shift 2 ;;
    --settle) SETTLE="$2"; shift 2 ;;
    --hold) HOLD="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    [0-9]*) N="$1"; shift ;;
    *) usage >&2; exit 2 ;;
  esac
done
[[ "$TARGET" == pgbouncer ]] && TARGET=pgbouncer-tx
case "$TARGET" in pgproxy|pgbouncer-tx|pgbouncer-session) ;; *) usage >&2; exit 2 ;; esac
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
  echo "one client process (bench/idle_clients.py, SCRAM-SHA-256, $PARALLEL logins in flight), 127.0.0.1"
} | tee "$REPORT"
for ((rep = 1; rep <= REPS; rep++)); do
  start_target "$TARGET"
  pid="${PROXY_PID[$TARGET]}"
  echo -e "\n## rep $rep: $TARGET pid $pid ($(cat "/proc/$pid/comm"))\n" | tee -a "$REPORT"
  rc=0
  PGPASSWORD="$BENCH_PASSWORD" "$PYTHON" "$BENCH_DIR/idle_clients.py" --host 127.0.0.1 --port "${PORT[$TARGET]}" \
      --user "$BENCH_USER" --dbname "$BENCH_DB" --steps "${STEPS// /,}" --pid "$pid" \
      --parallel "$PARALLEL" --settle "$SETTLE" --hold "$HOLD" | tee -a "$REPORT" || rc=$?
  ((rc == 0)) || log "idle_clients.py exited $rc"
  # stop this proxy instance (a fresh one per rep)
  [[ "$TARGET" == pgproxy* ]] && kill -TERM -- "-${KILL_PID[$TARGET]}" 2>/dev/null || true
  stop_pid "${KILL_PID[$TARGET]}" 15
  unset "KILL_PID[$TARGET]" "PROXY_PID[$TARGET]"
done
log "report: $REPORT"
