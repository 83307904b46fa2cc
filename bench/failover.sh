#!/usr/bin/env bash
# Client stall through pgproxy when a cluster's primary moves (issue 14):
#   switchover:    SWITCHOVER on the admin console; while the gate holds new transactions, the old
#                  primary is stopped (fast shutdown) and the standby promoted; pgbench -N must
#                  see no error.
#   switchover-ro: the same, but the old primary is made read-only instead and the standby
#                  promoted once it has replayed all of its WAL; the old one is stopped afterwards.
#   failover:      the primary's postmaster SIGKILLed, the standby promoted at once; how long until
#                  transactions commit again, beyond the promotion itself.
# Each run gets a fresh PostgreSQL 15 streaming pair (pg_basebackup -R) and a fresh pgproxy, in its
# own process (this script with --one), bounded by RUN_TIMEOUT. See bench/README.md.
#
#   bench/failover.sh                      # the three scenarios, 2 reps each (about 5 min)
#   bench/failover.sh -s switchover -r 3 -T 30 --event-at 12
#   bench/failover.sh -s switchover-ro,failover --rate 300   # pgbench -R 300: below saturation
#   bench/failover.sh -s failover --replay                  # with transaction-replay = true
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SCENARIOS="${SCENARIOS:-switchover switchover-ro failover}"
REPS="${REPS:-2}"
DURATION="${DURATION:-20}"          # pgbench -T
CLIENTS="${CLIENTS:-50}"
EVENT_AT="${EVENT_AT:-8}"           # seconds after pgbench started
SCALE="${SCALE:-10}"
POOL_SIZE="${POOL_SIZE:-20}"
OUT_DIR="${OUT_DIR:-$BENCH_DIR/out}"
RUN_TIMEOUT="${RUN_TIMEOUT:-170}"   # seconds per scenario run, everything included
PROMOTE_DELAY="${PROMOTE_DELAY:-0}" # failover: seconds between the kill and pg_ctl promote
RATE="${RATE:-}"                    # pgbench -R (transactions/s over all clients); empty = as fast as it goes
REPLAY="${REPLAY:-0}"               # 1: the database has transaction-replay = true
FAILOVER_CONF="${FAILOVER_CONF:-check-interval = 100ms, check-timeout = 1s, fall-count = 2, rise-count = 1, primary-wait-timeout = 30s, switchover-timeout = 10s}"
WARMUP="${WARMUP:-3}"               # pgbench -S through the proxy before the measured run (JIT)

ONE="" RESULT=""
while (($#)); do
  case "$1" in
    -s|--scenarios) SCENARIOS="$2"; shift 2 ;;
    -r|--reps) REPS="$2"; shift 2 ;;
    -T|--duration) DURATION="$2"; shift 2 ;;
    -c|--clients) CLIENTS="$2"; shift 2 ;;
    --event-at) EVENT_AT="$2"; shift 2 ;;
    --rate) RATE="$2"; shift 2 ;;
    --replay) REPLAY=1; shift ;;
    -o|--out) OUT_DIR="$2"; shift 2 ;;
    --one) ONE="$2"; shift 2 ;;          # internal: one run of one scenario
    --result) RESULT="$2"; shift 2 ;;    # internal: where that run puts its figures
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see bench/README.md)" ;;
  esac
done
SCENARIOS="${SCENARIOS//,/ }"
((EVENT_AT + 3 < DURATION)) || die "--event-at ($EVENT_AT) must leave time for the run (-T $DURATION) to go on after it"
now() { echo "$EPOCHREALTIME"; }

# ======================================================================== one run (child process)
STANDBY_PORT="" STANDBY_PID="" KILLED_PG_CHILDREN="" KILLED_SHMID=""
PPORT="" MPORT="" PGB_PID=""

failover_cleanup() {
  local rc=$? p
  set +e
  for p in "${SESS_PID[@]}" $PGB_PID; do kill -TERM "$p" 2>/dev/null; done
  if [[ -n "$STANDBY_PID" ]] && kill -0 "$STANDBY_PID" 2>/dev/null; then
    kill -INT "$STANDBY_PID" 2>/dev/null
    stop_pid_wait_only "$STANDBY_PID" 30 || { log "standby $STANDBY_PID still up, sending QUIT"; kill -QUIT "$STANDBY_PID"; sleep 1; }
  fi
  # backends of the SIGKILLed primary exit by themselves when they notice; any left are ours
  for p in $KILLED_PG_CHILDREN; do
    [[ "$(cat "/proc/$p/comm" 2>/dev/null)" == postgres ]] && kill -KILL "$p" 2>/dev/null
  done
  # the killed postmaster's SysV segment (PostgreSQL removes it only on a clean stop)
  if [[ -n "$KILLED_SHMID" ]]; then
    sleep 0.5
    [[ "$(ipcs -m -i "$KILLED_SHMID" 2>/dev/null | awk '/nattch/ {print $NF}')" == 0 ]] && ipcrm -m "$KILLED_SHMID" 2>/dev/null
  fi
  (exit "$rc")
  bench_cleanup
}

standby_setup() {
  STANDBY_PORT="$(free_port)"
  mkdir "$WORK/standby"; chown postgres:postgres "$WORK/standby"; chmod 700 "$WORK/standby"
  log "pg_basebackup -R into $WORK/standby (slot bench_standby), standby port $STANDBY_PORT"
  "${AS_PG[@]}" "$PG_BINDIR/pg_basebackup" -h "$WORK/sock" -p "$PG_PORT" -U postgres -D "$WORK/standby" \
      -R -X stream -c fast -C -S bench_standby >"$WORK/basebackup.log" 2>&1 \
    || { cat "$WORK/basebackup.log" >&2; die "pg_basebackup failed"; }
  # the copied postgresql.conf has the primary's lines; later lines win
  printf '# --- standby\nport = %s\n' "$STANDBY_PORT" >>"$WORK/standby/postgresql.conf"
  "${LOAD_TASKSET[@]}" "${AS_PG[@]}" "$PG_BINDIR/pg_ctl" -D "$WORK/standby" -l "$WORK/standby.log" -w -t 60 start >/dev/null \
    || { tail -20 "$WORK/standby.log" >&2; die "standby did not start"; }
  STANDBY_PID="$(head -1 "$WORK/standby/postmaster.pid")"
  local t0=$SECONDS
  until [[ "$(psql_su -Atc "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" == 1 ]]; do
    ((SECONDS - t0 < 60)) || die "the standby is not streaming after 60 s"
    sleep 0.2
  done
  [[ "$(psql_standby -Atc 'SELECT pg_is_in_recovery()')" == t ]] || die "the standby is not in recovery"
  log "standby up (postmaster pid $STANDBY_PID), streaming from the primary"
}

psql_standby() { psql -X -q -v ON_ERROR_STOP=1 -h "$WORK/sock" -p "$STANDBY_PORT" -U postgres -d postgres "$@"; }
psql_console() { PGPASSWORD="$BENCH_PASSWORD" psql -X -q -h 127.0.0.1 -p "$PPORT" -U "$BENCH_USER" -d pgproxy "$@"; }

# The primary pgproxy's health checks name, from SHOW HOSTS ("" while none)
proxy_primary_port() {
  psql_console -At -F '|' -c 'SHOW HOSTS' 2>/dev/null | awk -F'|' -v db="$BENCH_DB" '$1 == db && $6 == 1 {print $3}'
}

# ---- psql sessions opened before the event and fed through a FIFO, so that no step of the
# switchover or failover waits for a psql to start and log in on the loaded machine.
declare -A SESS_FD=() SESS_N=() SESS_PID=()
# session_open <name> <console|old|standby>: connected when it returns
session_open() {
  local n="$1" fd
  local -a c=(psql -X -q -At -F '|')
  case "$2" in
    console) c=(env PGPASSWORD="$BENCH_PASSWORD" "${c[@]}" -h 127.0.0.1 -p "$PPORT" -U "$BENCH_USER" -d pgproxy) ;;
    old) c+=(-v ON_ERROR_STOP=1 -h "$WORK/sock" -p "$PG_PORT" -U postgres -d postgres) ;;
    standby) c+=(-v ON_ERROR_STOP=1 -h "$WORK/sock" -p "$STANDBY_PORT" -U postgres -d postgres) ;;
  esac
  mkfifo "$WORK/$n.in"; : >"$WORK/$n.out"
  # exec: the pid we keep is psql's own
  (exec "${c[@]}" <"$WORK/$n.in" >"$WORK/$n.out" 2>&1) &
  SESS_PID[$n]=$!
  exec {fd}>"$WORK/$n.in"
  SESS_FD[$n]=$fd SESS_N[$n]=0
  if [[ "$2" == console ]]; then session_run "$n" "SHOW VERSION" _; else session_run "$n" "SELECT 1" _; fi
}
# session_send <name> <sql>: sends the command and a marker after it; the marker's number is left
# in SESS_K (not printed: a command substitution would lose the counter)
session_send() {
  local n="$1"
  SESS_K=$((SESS_N[$n] + 1)); SESS_N[$n]=$SESS_K
  # one ';' at the end: a command left unterminated would swallow the next one
  printf '%s;\n\\echo __done_%s__\n' "${2%;}" "$SESS_K" >&"${SESS_FD[$n]}"
}
# session_wait <name> <marker> [timeout s]: waits for the command's end; prints its output
session_wait() {
  local n="$1" k="$2" t="${3:-60}" t0=$SECONDS
  until grep -q "^__done_${k}__\$" "$WORK/$n.out"; do
    kill -0 "${SESS_PID[$n]}" 2>/dev/null || die "session $n ended: $(tail -3 "$WORK/$n.out")"
    ((SECONDS - t0 < t)) || die "session $n: no answer within ${t}s"
    sleep 0.002
  done
  awk -v a="__done_$((k - 1))__" -v b="__done_${k}__" '$0 == b {exit} on {print} $0 == a {on = 1}
    NR == 1 && a == "__done_0__" {on = 1; print}' "$WORK/$n.out"
}
# session_run <name> <sql> <var>: runs the command, its output into <var>
session_run() {
  local o
  session_send "$1" "$2"
  o="$(session_wait "$1" "$SESS_K" 60)" || exit 1
  printf -v "$3" '%s' "$o"
}
# session_close <name>: \q, since other children hold the FIFO's write end too (no EOF)
session_close() {
  local n="$1" fd="${SESS_FD[$1]}"
  printf '\\q\n' >&"$fd"
  exec {fd}>&-
  wait "${SESS_PID[$n]}" 2>/dev/null || true
}

event() { echo "$1=${2:-$(now)}" >>"$WORK/events"; }

# Promotes the standby and returns once it is out of recovery, timed by the standby's own clock:
# pg_promote(false) is pg_ctl promote as SQL (the same signal to the postmaster), then a loop on
# pg_is_in_recovery() in the same session (every 2 ms).
PROMOTE_SQL="SELECT 'promote_cmd=' || extract(epoch FROM clock_timestamp()), pg_promote(false);
DO \$\$ BEGIN WHILE pg_is_in_recovery() LOOP PERFORM pg_sleep(0.002); END LOOP; END \$\$;
SELECT 'promoted=' || extract(epoch FROM clock_timestamp())"
promote_send() { session_send standby "$PROMOTE_SQL"; PROMOTE_K=$SESS_K; }
promote_wait() {
  local out
  out="$(session_wait standby "$PROMOTE_K" 60)"
  grep -oE '^(promote_cmd|promoted)=[0-9.]+' <<<"$out" >>"$WORK/events" || die "promotion: $out"
}

# switchover <stop|readonly>: SWITCHOVER bench <standby> on an open console session; once the pool
# has drained behind the closed gate, the old primary is stopped (stop: a fast shutdown, so the
# walsender hands every commit, the shutdown checkpoint included, to the standby first) or made
# read-only and the standby waited for until it has replayed all of the old primary's WAL
# (readonly; the old primary is stopped after SWITCHOVER returned); then the standby is promoted.
scenario_switchover() {
  local demote="$1" row f sw lsn out _
  # Operator's preparation, before the switchover: a checkpoint, so the old primary's shutdown
  # checkpoint has little to write while clients wait.
  event checkpoint_start
  psql_su -c CHECKPOINT; event checkpoint_done
  session_open console console
  session_open sw console
  session_open old old
  session_open standby standby
  event event_start
  session_send sw "SWITCHOVER $BENCH_DB 127.0.0.1:$STANDBY_PORT"; sw=$SESS_K
  # drained: the gate is closed and no backend of the pool is leased or logging in
  while :; do
    session_run console 'SHOW POOLS' out
    row="$(grep "^$BENCH_DB|" <<<"$out" || true)"
    IFS='|' read -r -a f <<<"$row"
    [[ "${f[18]:-}" == 1 && "${f[6]:-}" == 0 && "${f[12]:-}" == 0 ]] && break
    grep -q "^__done_${sw}__\$" "$WORK/sw.out" && { log "SWITCHOVER returned before the pool drained: $(cat "$WORK/sw.out")"; break; }
    sleep 0.005
  done
  event drained
  if [[ "$demote" == stop ]]; then
    "${AS_PG[@]}" "$PG_BINDIR/pg_ctl" -D "$WORK/data" -m fast -w -t 60 stop >/dev/null
    event old_stopped
  else
    # read-only for every new transaction (pooled backends read the reload before their next
    # command); a synchronously committed xid flushes the WAL of the asynchronous commits before it
    session_run old "ALTER SYSTEM SET default_transaction_read_only = on;
SELECT pg_reload_conf();
SET synchronous_commit = on;
SELECT txid_current();
SELECT pg_current_wal_insert_lsn();" out
    lsn="$(tail -1 <<<"$out")"
    event old_read_only
    session_run standby "DO \$\$ BEGIN WHILE pg_last_wal_replay_lsn() < '$lsn' LOOP PERFORM pg_sleep(0.001); END LOOP; END \$\$;" _
    event standby_caught_up
  fi
  promote_send
  promote_wait
  out="$(session_wait sw "$sw" 60)"
  event event_end
  if [[ "$demote" == readonly ]]; then
    session_close old
    "${AS_PG[@]}" "$PG_BINDIR/pg_ctl" -D "$WORK/data" -m fast -w -t 60 stop >/dev/null
    event old_stopped
  fi
  echo "switchover_reply=$(tr '\n' ' ' <<<"$out")" >>"$WORK/result"
  if [[ "$out" != *ERROR* && "$out" != *FATAL* ]]; then
    echo "switchover_ok=1" >>"$WORK/result"
  else
    echo "switchover_ok=0" >>"$WORK/result"
    log "SWITCHOVER failed: $out"
  fi
}

scenario_failover() {
  session_open standby standby
  KILLED_PG_CHILDREN="$(pgrep -P "$PG_PID" | tr '\n' ' ')"
  KILLED_SHMID="$(sed -n 7p "$WORK/data/postmaster.pid" | awk '{print $2}')"
  event event_start
  event kill
  kill -KILL "$PG_PID"
  [[ "$PROMOTE_DELAY" != 0 ]] && sleep "$PROMOTE_DELAY"
  promote_send
  promote_wait
  event event_end
}

run_one() {
  local scen="$1" pgb_pid rc t0 i m
  bench_init
  trap failover_cleanup EXIT
  trap '' PIPE   # a session whose psql died: the write fails (and errexit cleans up) instead
  : >"$WORK/events"; : >"$WORK/result"
  pg_setup "$SCALE"
  standby_setup
  PGPROXY_DB_HOSTS="127.0.0.1,127.0.0.1" PGPROXY_DB_PORTS="$PG_PORT,$STANDBY_PORT"
  MPORT="$(free_port)"
  REPLAY_CONF=""
  if ((REPLAY)); then REPLAY_CONF="databases { $BENCH_DB { transaction-replay = true } }"; fi
  pgproxy_start pgproxy-tx transaction "$POOL_SIZE" "$PGPROXY_BIN" \
    "admin-users = [$BENCH_USER]
  metrics { listen-port = $MPORT }
  failover { $FAILOVER_CONF }
  $REPLAY_CONF"
  PPORT="${PORT[pgproxy-tx]}"
  t0=$SECONDS
  until [[ "$(proxy_primary_port)" == "$PG_PORT" ]]; do
    ((SECONDS - t0 < 30)) || die "pgproxy does not see $PG_PORT as the primary after 30 s: $(psql_console -c 'SHOW HOSTS' 2>&1)"
    sleep 0.2
  done
  log "pgproxy sees the primary on $PG_PORT; warm-up ${WARMUP}s"
  if ((WARMUP > 0)); then
    PGPASSWORD="$BENCH_PASSWORD" pgbench -n -S -c 10 -j 2 -T "$WARMUP" -h 127.0.0.1 -p "$PPORT" -U "$BENCH_USER" \
      "$BENCH_DB" >"$WORK/warmup.log" 2>&1 || { cat "$WORK/warmup.log" >&2; die "warm-up pgbench failed"; }
  fi
  log "$scen: pgbench -n -N -c $CLIENTS -j 2 -T $DURATION -P 1 -l through pgproxy; event at ${EVENT_AT}s"
  event run_start
  (cd "$WORK" && PGPASSWORD="$BENCH_PASSWORD" exec "${LOAD_TASKSET[@]}" pgbench -n -N -c "$CLIENTS" -j 2 \
      -T "$DURATION" ${RATE:+-R "$RATE"} -P 1 -l --log-prefix="$WORK/tx" -h 127.0.0.1 -p "$PPORT" -U "$BENCH_USER" "$BENCH_DB" \
      >"$WORK/pgbench.out" 2>"$WORK/pgbench.err") &
  pgb_pid=$!
  PGB_PID=$pgb_pid
  sleep 2
  # what a console login costs under this load (the SWITCHOVER session is opened before the event)
  i="$(now)"; psql_console -c 'SHOW VERSION' >/dev/null
  echo "console_login_ms=$(awk -v a="$i" -v b="$(now)" 'BEGIN {printf "%.1f", (b - a) * 1000}')" >>"$WORK/result"
  sleep "$(awk -v a="$EVENT_AT" -v t="$(now)" -v s="$(grep '^run_start=' "$WORK/events" | cut -d= -f2)" \
    'BEGIN {d = a - (t - s); print (d > 0 ? d : 0)}')"
  kill -0 "$pgb_pid" 2>/dev/null || { cat "$WORK/pgbench.err" >&2; die "pgbench ended before the event"; }
  log "$scen: event"
  case "$scen" in
    switchover) scenario_switchover stop ;;
    switchover-ro) scenario_switchover readonly ;;
    failover) scenario_failover ;;
  esac
  log "$scen: event done; waiting for pgbench"
  rc=0; wait "$pgb_pid" || rc=$?
  PGB_PID=""
  log "pgbench exit code $rc"
  {
    echo "pgbench_rc=$rc"
    echo "history_rows=$(psql_standby -d "$BENCH_DB" -Atc 'SELECT count(*) FROM pgbench_history')"
    m="$(curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" | grep -E '^pgproxy_(failovers_total|switchovers_total|switchover_stall_seconds_total|switchover_aborted_transactions_total|transactions_aborted_by_lost_backend_total|sessions_lost_with_backend_total|transaction_replays_total|transaction_replays_matched_total|transaction_replays_refused_total)' \
      | awk '{n=$1; sub(/\{.*\}/, "", n); s[n] += $2} END {for (k in s) printf "%s=%s ", k, s[k]}' || true)"
    echo "metrics=$m"
    i="$(grep -oE 'pgproxy_switchover_stall_seconds_total=[0-9.eE+-]+' <<<"$m" | cut -d= -f2 || true)"
    [[ -n "$i" ]] && echo "metric_stall_ms=$(awk -v s="$i" 'BEGIN {printf "%.1f", s * 1000}')"
    echo "hosts_after=$(psql_console -At -F ' ' -c 'SHOW HOSTS' 2>&1 | awk '{printf "%s:%s %s %s primary=%s; ", $2, $3, $4, $5, $6}' || true)"
    echo "proxy_log_failover=$(grep -E 'switchover|primary moved|no primary|is down|is up' "$WORK/pgproxy-tx.log" | sed -E 's/^.*(database ")/\1/' | head -8 | tr '\n' ' ' | tr -d '`' | cut -c1-600 || true)"
  } >>"$WORK/result"
  "$PYTHON" "$BENCH_DIR/failover_stats.py" analyze "$WORK"
  echo "status=ok" >>"$WORK/result"
  cp "$WORK/result" "$RESULT"
  cp "$WORK/pgbench.err" "${RESULT%.result}.pgbench.err"
  cp "$WORK/pgbench.out" "${RESULT%.result}.pgbench.out"
  cp "$WORK/pgproxy-tx.log" "${RESULT%.result}.pgproxy.log"
  cp "$WORK/events" "${RESULT%.result}.events"
}

if [[ -n "$ONE" ]]; then
  [[ -n "$RESULT" ]] || die "--one needs --result"
  run_one "$ONE"
  exit 0
fi

# ======================================================================== driver
[[ $EUID -eq 0 ]] || die "run as root (PostgreSQL runs as user postgres)"
pgproxy_available || die "pgproxy launcher needed"
for s in $SCENARIOS; do [[ "$s" == switchover || "$s" == switchover-ro || "$s" == failover ]] || die "unknown scenario '$s'"; done
stamp="$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT_DIR/failover-$stamp"
runs_dir="$OUT_DIR/failover-$stamp"
commit="$(git -C "$ROOT_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -z "$(git -C "$ROOT_DIR" status --porcelain -- src pom.xml 2>/dev/null)" ]] || commit="$commit+dirty"
versions="PostgreSQL $("$PG_BINDIR/postgres" --version | awk '{print $3}'), $(pgbench --version | awk '{print $1, $3}')"
cmd="bench/failover.sh -s ${SCENARIOS// /,} -r $REPS -T $DURATION -c $CLIENTS --event-at $EVENT_AT${RATE:+ --rate $RATE}"
if ((REPLAY)); then cmd="$cmd --replay"; fi
results=()
for ((rep = 1; rep <= REPS; rep++)); do
  for s in $SCENARIOS; do
    res="$runs_dir/$s-$rep.result"
    log "=== $s, rep $rep/$REPS (bounded to ${RUN_TIMEOUT}s)"
    rc=0
    # timeout sends TERM to the child, whose EXIT trap stops what it started; KILL 20 s later
    SCENARIOS="$s" REPLAY="$REPLAY" timeout -k 20 "$RUN_TIMEOUT" "$BENCH_DIR/failover.sh" --one "$s" --result "$res" -T "$DURATION" -c "$CLIENTS" \
      --event-at "$EVENT_AT" ${RATE:+--rate "$RATE"} || rc=$?
    if [[ ! -s "$res" ]]; then
      printf 'status=failed (exit %s)\n' "$rc" >"$res"
    elif ((rc != 0)); then
      echo "status=failed (exit $rc)" >>"$res"
    fi
    {
      echo "scenario=$s"; echo "rep=$rep"; echo "stamp=$stamp"; echo "commit=$commit"; echo "versions=$versions"
      echo "command=$cmd"; echo "replay=$REPLAY"; echo "pool_size=$POOL_SIZE"; echo "event_at=$EVENT_AT"; echo "failover_conf=$FAILOVER_CONF"
      echo "load=pgbench -n -N -c $CLIENTS -j 2 -T $DURATION${RATE:+ -R $RATE} -P 1 -l (scale $SCALE)"
      if [[ "$s" == failover ]]; then echo "note=promote delay ${PROMOTE_DELAY}s"; fi
    } >>"$res"
    results+=("$res")
  done
done
"$PYTHON" "$BENCH_DIR/failover_stats.py" report "$OUT_DIR/failover-$stamp.md" "${results[@]}"
log "report: $OUT_DIR/failover-$stamp.md (per-run files in $runs_dir)"
