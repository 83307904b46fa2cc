#!/usr/bin/env bash
# pgbench throughput/latency/CPU of direct PostgreSQL vs PgBouncer 1.18 vs pgproxy, on a throwaway
# PostgreSQL 15 cluster, all on 127.0.0.1. Methodology of /work/shared/BASELINE-pgbouncer.md:
# pgbench -j 2, fixed duration per run after an unrecorded warm-up, targets interleaved and rotated
# each rep, median (min-max) over reps, ratio = median / direct median, CPU from /proc/<pid>/stat.
# See bench/README.md. Run as root (initdb and pgbouncer are run as user postgres).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/run.sh [options]          (every option can also be set by the env var in brackets)
  -t, --targets LIST   direct,pgbouncer-session,pgbouncer-tx,pgproxy,pgproxy-tx [TARGETS] (default: these five)
                       also odyssey-tx (Odyssey, transaction pool 20, workers 2), odyssey-tx-w1 (workers 1);
                       relay-vt, relay-epoll-vt, relay-epoll-reply, relay-epoll-loop, relay-selector:
                       bare byte relays of bench/relay-lab (one backend per client; BENCHMARKS.md §10);
                       pgproxy-tx@NAME, relay-<design>@NAME: with the java options of line NAME of
                       bench/levers.conf (LEVERS_CONF); pgproxy-tx-metrics (metrics endpoint on), pgproxy-tx-tracked (pool.session-isolation = tracked),
                       pgproxy-tx-replay (transaction-replay = true),
                       pgproxy-tx-prev (the launcher PGPROXY_PREV_BIN); pgbouncer-tx-tls, pgproxy-tx-tls:
                       clients must use TLS (self-signed certificate made by openssl; pgbench gets PGSSLMODE=require)
  -m, --modes LIST     S-simple,S-extended,N-simple,N-extended,S-prepared,S-connect [MODES]
                       (default: the first five; S-connect is -S -C, a login per transaction)
  -c, --clients LIST   client counts                                    [CLIENTS] (default: "1 10 50")
  -T, --duration S     measured seconds per run                          [DURATION] (default: 15)
  -r, --reps N         repetitions (target order rotated each rep)       [REPS] (default: 3)
  -w, --warmup S       unrecorded warm-up before every run; "auto" = 2 + clients/50 s
                                                                         [WARMUP] (default: auto)
      --initial-warmup S   one extra S-extended c=10 run per target at start, for JIT   [INITIAL_WARMUP] (default: 10)
  -s, --scale N        pgbench -i scale                                  [SCALE] (default: 10)
  -o, --out DIR        results directory                                 [OUT_DIR] (default: bench/out)
      --latency        per-transaction pgbench log (-l) of each measured run: p50/p90/p99/p99.9
                       latency columns in the CSV (logs in the temp dir, deleted)  [LATENCY=1]
Lists may be separated by commas or spaces. Env: PGPROXY_BIN (default <root>/bin/pgproxy),
PGPROXY_START_TIMEOUT (300), KEEP_WORK=1 keeps the temp dir with all logs, PGBOUNCER_BIN, ODYSSEY_BIN,
ODYSSEY_CONF_TEMPLATE, PROXY_CPUS / LOAD_CPUS (taskset -c lists: proxies / postgres and pgbench).
EOF
}

TARGETS="${TARGETS:-direct pgbouncer-session pgbouncer-tx pgproxy pgproxy-tx}"
MODES="${MODES:-S-simple S-extended N-simple N-extended S-prepared}"
CLIENTS="${CLIENTS:-1 10 50}"
DURATION="${DURATION:-15}"
REPS="${REPS:-3}"
WARMUP="${WARMUP:-auto}"
INITIAL_WARMUP="${INITIAL_WARMUP:-10}"
SCALE="${SCALE:-10}"
OUT_DIR="${OUT_DIR:-}"
LATENCY="${LATENCY:-0}"

while (($#)); do
  case "$1" in
    -t|--targets) TARGETS="$2"; shift 2 ;;
    -m|--modes) MODES="$2"; shift 2 ;;
    -c|--clients) CLIENTS="$2"; shift 2 ;;
    -T|--duration) DURATION="$2"; shift 2 ;;
    -r|--reps) REPS="$2"; shift 2 ;;
    -w|--warmup) WARMUP="$2"; shift 2 ;;
    --initial-warmup) INITIAL_WARMUP="$2"; shift 2 ;;
    -s|--scale) SCALE="$2"; shift 2 ;;
    -o|--out) OUT_DIR="$2"; shift 2 ;;
    --latency) LATENCY=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $EUID -eq 0 ]] || die "run as root (initdb and pgbouncer are started as user postgres)"
read -r -a TARGET_LIST <<<"${TARGETS//,/ }"
read -r -a MODE_LIST <<<"${MODES//,/ }"
read -r -a CLIENT_LIST <<<"${CLIENTS//,/ }"
[[ "$DURATION" =~ ^[0-9]+$ && "$REPS" =~ ^[0-9]+$ && "$INITIAL_WARMUP" =~ ^[0-9]+$ ]] || die "duration, reps, initial warm-up: integers"
[[ "$WARMUP" == auto || "$WARMUP" =~ ^[0-9]+$ ]] || die "warm-up: integer seconds or auto"
[[ "$LATENCY" == 0 || "$LATENCY" == 1 ]] || die "LATENCY: 0 or 1"
declare -A LEVER=()   # target -> java options of its levers.conf line
for t in "${TARGET_LIST[@]}"; do
  case "$t" in
    direct|pgbouncer-session|pgbouncer-tx|odyssey-tx|odyssey-tx-w1|pgproxy|pgproxy-tx|pgproxy-tx-metrics|pgproxy-tx-tracked|pgproxy-tx-replay|pgproxy-tx-prev) ;;
    pgbouncer-tx-tls|pgproxy-tx-tls) ;;
    relay-vt|relay-epoll-vt|relay-epoll-reply|relay-epoll-loop|relay-selector) ;;
    pgproxy-tx@*|relay-*@*)
      [[ "$t" != relay-* ]] || relay_design "$t" >/dev/null
      LEVER[$t]="$(lever_opts "${t#*@}")" ;;
    *) die "unknown target $t" ;;
  esac
done
for m in "${MODE_LIST[@]}"; do
  case "$m" in S-simple|S-extended|N-simple|N-extended|S-prepared|S-connect) ;; *) die "unknown mode $m" ;; esac
done
for c in "${CLIENT_LIST[@]}"; do
  [[ "$c" =~ ^[0-9]+$ ]] || die "bad client count $c"
  ((c <= 1000)) || log "WARNING: c=$c > 1000: direct needs more than max_connections 1100 - reserved"
done

OUT_DIR="${OUT_DIR:-$BENCH_DIR/out}"
mkdir -p "$OUT_DIR"
STAMP="$(date +%Y%m%d-%H%M%S)"
CSV="$OUT_DIR/run-$STAMP.csv"
SUMMARY="$OUT_DIR/run-$STAMP.md"

mode_args() { # pgbench arguments of a mode name
  case "$1" in
    S-simple) echo "-S -M simple" ;;
    S-extended) echo "-S -M extended" ;;
    S-prepared) echo "-S -M prepared" ;;
    S-connect) echo "-S -M simple -C" ;;  # a new connection (and SCRAM login; TLS handshake for *-tls) per transaction
    N-simple) echo "-N -M simple" ;;
    N-extended) echo "-N -M extended" ;;
  esac
}

warmup_secs() { if [[ "$WARMUP" == auto ]]; then echo $((2 + $1 / 50)); else echo "$WARMUP"; fi; }

# pgbench_run <target> <clients> <seconds> <out-prefix> <mode args...>
# Writes <prefix>.out/.err and <prefix>.ticks (pgbench's own CPU: the wrapper shell's cutime+cstime,
# i.e. exactly the waited-for pgbench). Returns pgbench's exit code.
# The wrapper shell runs under LOAD_TASKSET, so pgbench inherits the affinity.
pgbench_run() {
  local target="$1" clients="$2" secs="$3" prefix="$4" sslmode=prefer; shift 4
  [[ "$target" == *-tls ]] && sslmode=require
  # shellcheck disable=SC2016  # the script is for the inner bash
  PGSSLMODE="$sslmode" PGPASSWORD="$BENCH_PASSWORD" PGCONNECT_TIMEOUT=30 "${LOAD_TASKSET[@]}" bash -c '
    prefix=$1; shift
    pgbench "$@" >"$prefix.out" 2>"$prefix.err"; rc=$?
    read -r s </proc/$$/stat; s=${s##*) }; read -r -a f <<<"$s"
    echo $(( f[13] + f[14] )) >"$prefix.ticks"
    exit $rc' _ "$prefix" \
    -h 127.0.0.1 -p "${PORT[$target]}" -U "$BENCH_USER" -n -j 2 -c "$clients" -T "$secs" "$@" "$BENCH_DB"
}

cpus_allowed() { sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null; }

cpu() { awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" 'BEGIN{printf "%.2f", (b-a)/hz}'; }

grab() { # grab <regex with one group> <file>  -> first match or empty
  sed -nE "s/$1/\1/p" "$2" | head -1
}

# latency_pcts <log prefix>: "p50,p90,p99,p99.9" in ms over every transaction of pgbench's
# per-transaction logs <prefix>.<pid>[.<thread>] (3rd field: latency in µs; failed transactions,
# which have a word there, are left out), then deletes the logs. Nearest-rank percentiles.
latency_pcts() {
  "$PYTHON" - "$1" <<'PYEOF'
import glob, math, os, sys
files = glob.glob(glob.escape(sys.argv[1]) + ".*")
lat = []
for fn in files:
    with open(fn) as f:
        for line in f:
            p = line.split(None, 3)
            if len(p) >= 3 and p[2].isdigit():
                lat.append(int(p[2]))
    os.unlink(fn)
lat.sort()
def pct(q):
    return f"{lat[max(0, math.ceil(q * len(lat)) - 1)] / 1000:.3f}" if lat else ""
print(",".join(pct(q) for q in (0.50, 0.90, 0.99, 0.999)))
PYEOF
}

# ------------------------------------------------------------------------------------------ setup
bench_init
pg_setup "$SCALE"
ACTIVE=()
for t in "${TARGET_LIST[@]}"; do
  if [[ "$t" == pgproxy* ]] && ! pgproxy_available; then continue; fi
  start_target "$t"
  ACTIVE+=("$t")
done
((${#ACTIVE[@]})) || die "no target left to run"
if [[ -n "$PROXY_CPUS$LOAD_CPUS" ]]; then
  aff="postmaster $(cpus_allowed "$PG_PID")"
  for t in "${ACTIVE[@]}"; do
    if [[ -n "${PROXY_PID[$t]:-}" ]]; then aff+=", $t $(cpus_allowed "${PROXY_PID[$t]}")"; fi
  done
  log "CPU affinity (PROXY_CPUS=${PROXY_CPUS:-all} LOAD_CPUS=${LOAD_CPUS:-all}): $aff"
fi
log "targets: ${ACTIVE[*]}; modes: ${MODE_LIST[*]}; clients: ${CLIENT_LIST[*]}; ${DURATION}s x $REPS reps; warm-up $WARMUP"

ody_version=""
for t in "${ACTIVE[@]}"; do
  if [[ "$t" == odyssey-* ]]; then ody_version=", $("$ODYSSEY_BIN" --version 2>/dev/null | head -1 | cut -d' ' -f1-2)"; break; fi
done
{
  echo "# pgproxy bench $STAMP: $(nproc) cores, $(uname -r), $(pgbench --version), $("$PGBOUNCER_BIN" --version 2>/dev/null | head -1)$ody_version"
  echo "# duration=$DURATION reps=$REPS warmup=$WARMUP scale=$SCALE latency=$LATENCY proxy_cpus=${PROXY_CPUS:-all} load_cpus=${LOAD_CPUS:-all} targets=${ACTIVE[*]}"
  for t in "${ACTIVE[@]}"; do
    if [[ -n "${LEVER[$t]:-}" ]]; then echo "# java options of $t: ${LEVER[$t]}"; fi
  done
} >"$CSV"
echo "rep,mode,clients,target,position,rc,tps,latency_ms,transactions,failed,aborted_clients,elapsed_s,pg_cpu_s,proxy_cpu_s,pgbench_cpu_s,proxy_pid,started,p50_ms,p90_ms,p99_ms,p999_ms" >>"$CSV"
mkdir -p "$WORK/txlog"

if ((INITIAL_WARMUP > 0)); then
  for t in "${ACTIVE[@]}"; do
    log "initial warm-up: $t S-extended c=10 ${INITIAL_WARMUP}s"
    pgbench_run "$t" 10 "$INITIAL_WARMUP" "$WORK/initial-$t" -S -M extended || log "  initial warm-up of $t exited $? (see $WORK/initial-$t.err)"
  done
fi

ntargets=${#ACTIVE[@]}
total=$((REPS * ${#MODE_LIST[@]} * ${#CLIENT_LIST[@]} * ntargets)); n=0
for ((rep = 1; rep <= REPS; rep++)); do
  order=()
  for ((i = 0; i < ntargets; i++)); do order+=("${ACTIVE[$(((i + rep - 1) % ntargets))]}"); done
  for mode in "${MODE_LIST[@]}"; do
    read -r -a margs <<<"$(mode_args "$mode")"
    for c in "${CLIENT_LIST[@]}"; do
      pos=0
      for t in "${order[@]}"; do
        pos=$((pos + 1)); n=$((n + 1))
        prefix="$WORK/r$rep-$mode-c$c-$t"
        w=$(warmup_secs "$c")
        if ((w > 0)); then pgbench_run "$t" "$c" "$w" "$prefix.warm" "${margs[@]}" || true; fi
        ppid_="${PROXY_PID[$t]:-}"
        pg0=$(pg_ticks); px0=0; [[ -n "$ppid_" ]] && px0=$(pid_ticks "$ppid_")
        started=$(date -Is); t0=$(date +%s.%N)
        largs=()
        if ((LATENCY)); then
          txlog="$WORK/txlog/r$rep-$mode-c$c-$t"
          largs=(-l "--log-prefix=$txlog")
        fi
        rc=0; pgbench_run "$t" "$c" "$DURATION" "$prefix" "${margs[@]}" "${largs[@]}" || rc=$?
        t1=$(date +%s.%N)
        sleep 0.5   # let the backends of the closed connections exit and be reaped (cutime)
        pg1=$(pg_ticks); px1=0; [[ -n "$ppid_" ]] && px1=$(pid_ticks "$ppid_")
        [[ -n "$ppid_" ]] && ! kill -0 "$ppid_" 2>/dev/null && die "$t (pid $ppid_) died; see $WORK"
        tps=$(grab '^tps = ([0-9.]+) .*' "$prefix.out")
        lat=$(grab '^latency average = ([0-9.]+) ms.*' "$prefix.out")
        txn=$(grab '^number of transactions actually processed: ([0-9]+).*' "$prefix.out")
        failed=$(grab '^number of failed transactions: ([0-9]+).*' "$prefix.out")
        aborted=$(grep -c 'aborted in command' "$prefix.err" || true)
        pgb=$(cat "$prefix.ticks" 2>/dev/null || echo 0)
        elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')
        pgcpu=$(cpu "$pg0" "$pg1"); pxcpu=$(cpu "$px0" "$px1"); pbcpu=$(cpu 0 "$pgb")
        pcts=",,,"; ((LATENCY)) && pcts=$(latency_pcts "$txlog")
        echo "$rep,$mode,$c,$t,$pos,$rc,${tps:-},${lat:-},${txn:-0},${failed:-0},$aborted,$elapsed,$pgcpu,$pxcpu,$pbcpu,${ppid_:-},$started,$pcts" >>"$CSV"
        note=""; ((rc == 0)) || note="  rc=$rc aborted_clients=$aborted: $(grep -m1 -E 'aborted|error|FATAL' "$prefix.err" | cut -c1-150)"
        pnote=""; ((LATENCY)) && pnote=" p50/p99=$(cut -d, -f1 <<<"$pcts")/$(cut -d, -f3 <<<"$pcts")ms"
        log "[$n/$total] rep $rep $mode c=$c $t: tps=${tps:-?} lat=${lat:-?}ms$pnote failed=${failed:-0} cpu pg/proxy/pgbench=$pgcpu/$pxcpu/${pbcpu}s$note"
      done
    done
  done
done

log "raw results: $CSV"
"$PYTHON" "$BENCH_DIR/summarize.py" "$CSV" | tee "$SUMMARY"
log "summary: $SUMMARY"
