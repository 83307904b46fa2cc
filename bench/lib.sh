# shellcheck shell=bash
# shellcheck disable=SC2034  # variables used by the scripts that source this file
# Shared helpers for bench/run.sh and bench/idle-clients.sh: a throwaway PostgreSQL 15 cluster,
# PgBouncer and Odyssey instances, pgproxy and the relay-lab relays, all on 127.0.0.1, all stopped
# by pid on exit.
# Sourced, not executed. Callers must `set -euo pipefail` and call `bench_init` first.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(cd "$BENCH_DIR/.." && pwd)"
PG_BINDIR="${PG_BINDIR:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}"
PGBOUNCER_BIN="${PGBOUNCER_BIN:-$(command -v pgbouncer || echo /usr/sbin/pgbouncer)}"
PGPROXY_BIN="${PGPROXY_BIN:-$ROOT_DIR/bin/pgproxy}"
PGPROXY_START_TIMEOUT="${PGPROXY_START_TIMEOUT:-300}"   # bin/pgproxy may build the jar first
ODYSSEY_BIN="${ODYSSEY_BIN:-$(command -v odyssey || echo /work/shared/anchors/odyssey-1.5.1/bin/odyssey)}"
# shell-style $VARS: WORK target workers port PG_PORT BENCH_DB BENCH_USER SCRAM_VERIFIER BENCH_PASSWORD
ODYSSEY_CONF_TEMPLATE="${ODYSSEY_CONF_TEMPLATE:-$(dirname "$(dirname "$ODYSSEY_BIN")")/odyssey-tx.conf.template}"
LEVERS_CONF="${LEVERS_CONF:-$BENCH_DIR/levers.conf}"
# CPU pinning (taskset -c lists, e.g. PROXY_CPUS=1 LOAD_CPUS=0): every proxy target runs on
# PROXY_CPUS; the postmaster (so every backend) and pgbench on LOAD_CPUS. Empty = no pinning.
PROXY_CPUS="${PROXY_CPUS:-}"
LOAD_CPUS="${LOAD_CPUS:-}"
PROXY_TASKSET=() LOAD_TASKSET=()
[[ -n "$PROXY_CPUS" ]] && PROXY_TASKSET=(taskset -c "$PROXY_CPUS")
[[ -n "$LOAD_CPUS" ]] && LOAD_TASKSET=(taskset -c "$LOAD_CPUS")
CLK_TCK="$(getconf CLK_TCK)"
PYTHON="${PYTHON:-python3}"

BENCH_USER=bench
BENCH_DB=bench
BENCH_PASSWORD=""       # random, set by pg_setup
SCRAM_VERIFIER=""       # from pg_authid, set by pg_setup
WORK=""                 # temp dir, set by bench_init
PG_PORT="" PG_PID=""
# pgproxy_start's backend for $BENCH_DB: empty = the one server pg_setup made. A cluster is libpq
# style, e.g. PGPROXY_DB_HOSTS="127.0.0.1,127.0.0.1" PGPROXY_DB_PORTS="$PG_PORT,$STANDBY_PORT".
PGPROXY_DB_HOSTS="" PGPROXY_DB_PORTS=""
declare -A PORT=()      # target -> port
declare -A PROXY_PID=() # target -> pid whose CPU/RSS we account (pgbouncer, or the JVM)
declare -A KILL_PID=()  # target -> pid we started (kill it and, for pgproxy, its process group)
USED_PORTS=" "

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Run a command as postgres without PAM (runuser's PAM session resets the fd soft limit to 1024;
# setpriv keeps ours, 20000), exec'ing, so $! of a backgrounded command is its own pid.
# An array, not a function: `"${AS_PG[@]}" cmd &` must fork once and exec, with no shell in between.
AS_PG=(env HOME=/var/lib/postgresql setpriv --reuid=postgres --regid=postgres --init-groups --)

bench_init() {
  local v
  for v in PROXY_CPUS LOAD_CPUS; do
    if [[ -n "${!v}" ]] && ! taskset -c "${!v}" true 2>/dev/null; then
      die "$v='${!v}' is not a CPU list taskset accepts on this machine ($(nproc) CPUs)"
    fi
  done
  WORK="$(mktemp -d /tmp/pgproxy-bench.XXXXXX)"
  chmod 755 "$WORK"
  mkdir -p "$WORK/sock"
  chown postgres:postgres "$WORK" "$WORK/sock"
  trap bench_cleanup EXIT
  trap 'log "interrupted"; exit 130' INT TERM HUP
  log "work dir $WORK"
}

# Stop one pid: TERM, wait up to $2 s, then KILL. Only pids we started are ever passed here.
stop_pid() {
  local pid="$1" wait_s="${2:-15}" i
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < wait_s * 10; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  log "pid $pid did not stop after ${wait_s}s, sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
}

bench_cleanup() {
  local rc=$? t
  trap - EXIT INT TERM HUP
  set +e
  for t in "${!KILL_PID[@]}"; do
    if [[ "$t" == pgproxy* ]]; then
      # started with setsid: its process group is ours alone (covers a jar build still running)
      kill -TERM -- "-${KILL_PID[$t]}" 2>/dev/null
    fi
    stop_pid "${KILL_PID[$t]}" 15
    if [[ "$t" == pgproxy* ]]; then kill -KILL -- "-${KILL_PID[$t]}" 2>/dev/null; fi
  done
  if [[ -n "$PG_PID" ]] && kill -0 "$PG_PID" 2>/dev/null; then
    kill -INT "$PG_PID" 2>/dev/null   # fast shutdown
    stop_pid_wait_only "$PG_PID" 30 || { log "postmaster $PG_PID still up, sending QUIT"; kill -QUIT "$PG_PID" 2>/dev/null; sleep 1; }
  fi
  if [[ -n "$WORK" && -d "$WORK" ]]; then
    if [[ "${KEEP_WORK:-0}" == 1 || $rc -ne 0 ]]; then
      log "logs kept in $WORK (rm -rf it when done)"
      rm -rf "$WORK/data" 2>/dev/null
    else
      rm -rf "$WORK"
    fi
  fi
  exit "$rc"
}

stop_pid_wait_only() {
  local pid="$1" wait_s="$2" i
  for ((i = 0; i < wait_s * 10; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}

# A free TCP port on 127.0.0.1 outside the ephemeral range, not handed out before in this run.
free_port() {
  local p
  p="$("$PYTHON" - "$USED_PORTS" <<'EOF'
import random, socket, sys
used = set(int(x) for x in sys.argv[1].split())
for _ in range(1000):
    p = random.randint(20000, 32000)
    if p in used:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
else:
    sys.exit("no free port")
EOF
)"
  USED_PORTS+="$p "
  echo "$p"
}

wait_ready() { # port timeout_s pid-that-must-stay-alive label
  local port="$1" timeout="$2" pid="$3" label="$4" t0=$SECONDS
  until pg_isready -q -h 127.0.0.1 -p "$port" -t 1 >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || die "$label (pid $pid) exited before accepting connections"
    ((SECONDS - t0 < timeout)) || die "$label not accepting connections on port $port after ${timeout}s"
    sleep 0.2
  done
}

# ---------------------------------------------------------------- PostgreSQL
pg_setup() {
  local scale="${1:-10}"
  PG_PORT="$(free_port)"
  BENCH_PASSWORD="$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(18))')"
  log "initdb (PostgreSQL $("$PG_BINDIR/postgres" --version | awk '{print $3}')) port $PG_PORT"
  runuser -u postgres -- "$PG_BINDIR/initdb" -D "$WORK/data" -U postgres -E UTF8 --locale=C \
      --auth-local=trust --auth-host=scram-sha-256 >"$WORK/initdb.log" 2>&1 \
    || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
  cat >>"$WORK/data/postgresql.conf" <<EOF
# --- pgproxy bench
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$WORK/sock'
max_connections = 1100
shared_buffers = 256MB
synchronous_commit = off
password_encryption = 'scram-sha-256'
logging_collector = off
log_min_messages = warning
EOF
  # pg_ctl under LOAD_TASKSET: the postmaster, and so every backend, inherits the affinity
  "${LOAD_TASKSET[@]}" "${AS_PG[@]}" "$PG_BINDIR/pg_ctl" -D "$WORK/data" -l "$WORK/postgres.log" -w -t 60 start >/dev/null \
    || { tail -20 "$WORK/postgres.log" >&2; die "postgres did not start"; }
  PG_PID="$(head -1 "$WORK/data/postmaster.pid")"
  log "postgres up, postmaster pid $PG_PID"
  psql_su -c "CREATE ROLE $BENCH_USER LOGIN PASSWORD '$BENCH_PASSWORD'" >/dev/null
  psql_su -c "CREATE DATABASE $BENCH_DB OWNER $BENCH_USER" >/dev/null
  SCRAM_VERIFIER="$(psql_su -Atc "SELECT rolpassword FROM pg_authid WHERE rolname = '$BENCH_USER'")"
  [[ "$SCRAM_VERIFIER" == SCRAM-SHA-256\$* ]] || die "unexpected verifier: $SCRAM_VERIFIER"
  log "pgbench -i -s $scale"
  PGPASSWORD="$BENCH_PASSWORD" pgbench -i -s "$scale" -q -h 127.0.0.1 -p "$PG_PORT" -U "$BENCH_USER" "$BENCH_DB" \
    >"$WORK/pgbench-init.log" 2>&1 || { cat "$WORK/pgbench-init.log" >&2; die "pgbench -i failed"; }
  PORT[direct]="$PG_PORT"
}

psql_su() { psql -X -q -v ON_ERROR_STOP=1 -h "$WORK/sock" -p "$PG_PORT" -U postgres -d postgres "$@"; }

# ---------------------------------------------------------------- PgBouncer
# PgBouncer 1.21+ tracks protocol-level prepared statements in transaction mode (pgbench -M
# prepared) when max_prepared_statements is set; 1.18 has no such key.
pgbouncer_prepared_line() {
  local v
  v="$("$PGBOUNCER_BIN" --version 2>/dev/null | head -1 | grep -oE '[0-9]+\.[0-9]+' | head -1)"
  if [[ -n "$v" ]] && (( ${v%%.*} > 1 || ${v#*.} >= 21 )); then echo "max_prepared_statements = 200"; fi
}

# peer_start <target> <port> <comm> <binary> <config>: a peer proxy run as postgres (it refuses
# root), ready on <port>, checked to be <comm>, its pid recorded to account and to stop.
peer_start() {
  local target="$1" port="$2" comm="$3" bin="$4" cfg="$5" pid
  "${PROXY_TASKSET[@]}" "${AS_PG[@]}" "$bin" "$cfg" >>"$WORK/$target.stderr" 2>&1 &
  pid=$!
  KILL_PID[$target]=$pid
  wait_ready "$port" 30 "$pid" "$target"
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$comm" ]] || die "pid $pid is not $comm"
  PORT[$target]=$port
  PROXY_PID[$target]=$pid
}

# tls_material: a self-signed certificate for localhost in $WORK (tls.crt, tls.key), once, readable by
# the postgres user PgBouncer runs as. Prints the two paths.
tls_material() {
  if [[ ! -f "$WORK/tls.crt" ]]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null \
      || die "openssl could not make the bench certificate"
    chown postgres "$WORK/tls.key" "$WORK/tls.crt"; chmod 600 "$WORK/tls.key"
  fi
  echo "$WORK/tls.crt $WORK/tls.key"
}

# pgbouncer_start <target> <pool_mode> <pool_size> [extra [pgbouncer] lines]
pgbouncer_start() {
  local target="$1" mode="$2" size="$3" extra="${4:-}" port ini
  [[ -x "$PGBOUNCER_BIN" ]] || die "pgbouncer not found (apt-get install -y pgbouncer)"
  port="$(free_port)"
  ini="$WORK/$target.ini"
  if [[ ! -f "$WORK/userlist.txt" ]]; then
    printf '"%s" "%s"\n' "$BENCH_USER" "$SCRAM_VERIFIER" >"$WORK/userlist.txt"
    chown postgres "$WORK/userlist.txt"; chmod 600 "$WORK/userlist.txt"
  fi
  cat >"$ini" <<EOF
[databases]
$BENCH_DB = host=127.0.0.1 port=$PG_PORT dbname=$BENCH_DB

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $WORK/userlist.txt
pool_mode = $mode
default_pool_size = $size
max_client_conn = 20000
server_idle_timeout = 10
; pgjdbc (not pgbench) sends extra_float_digits in the startup packet
ignore_startup_parameters = extra_float_digits
$(pgbouncer_prepared_line)
logfile = $WORK/$target.log
pidfile = $WORK/$target.pid
log_connections = 0
log_disconnections = 0
stats_period = 60
$extra
EOF
  chown postgres "$ini"
  peer_start "$target" "$port" pgbouncer "$PGBOUNCER_BIN" "$ini"
  log "$target ($mode, pool $size) up on port $port, pid ${PROXY_PID[$target]}"
}

# ---------------------------------------------------------------- pgproxy
pgproxy_available() {
  if [[ ! -x "$PGPROXY_BIN" ]]; then
    log "SKIP pgproxy: $PGPROXY_BIN does not exist (yet) or is not executable; set PGPROXY_BIN to override"
    return 1
  fi
}

# pgproxy_start <target> <mode> <pool size> [launcher] [extra config] [java options]
# java options, when given, go to the launcher as PGPROXY_JAVA_OPTS (they replace its defaults).
pgproxy_start() {
  local target="$1" mode="$2" size="$3" bin="${4:-$PGPROXY_BIN}" extra="${5:-}" jopts="${6:-}" port cfg pid jpid c t0
  port="$(free_port)"
  cfg="$WORK/$target.conf"
  cat >"$cfg" <<EOF
pgproxy {
  $extra
  stats-period = 5s
  listen { host = "127.0.0.1", port = $port }
  limits { max-clients = 20000 }
  pool { mode = $mode, size = $size }
  users { $BENCH_USER { password = "$SCRAM_VERIFIER" } }
  databases { $BENCH_DB { host = "${PGPROXY_DB_HOSTS:-127.0.0.1}", port = "${PGPROXY_DB_PORTS:-$PG_PORT}", dbname = "$BENCH_DB", user = "$BENCH_USER", password = "$BENCH_PASSWORD" } }
}
EOF
  chmod 600 "$cfg"
  log "starting $target: $bin $cfg${jopts:+ with PGPROXY_JAVA_OPTS=\"$jopts\"} (stderr -> $WORK/$target.log; waiting up to ${PGPROXY_START_TIMEOUT}s)"
  # setsid: own process group, so cleanup also reaches a jar build still in progress.
  # taskset and setsid both exec, so $! is the launcher, which execs java.
  (cd "$ROOT_DIR" && if [[ -n "$jopts" ]]; then export PGPROXY_JAVA_OPTS="$jopts"; fi \
    && exec "${PROXY_TASKSET[@]}" setsid "$bin" "$cfg" >>"$WORK/$target.log" 2>&1) &
  pid=$!
  KILL_PID[$target]=$pid
  wait_ready "$port" "$PGPROXY_START_TIMEOUT" "$pid" "$target"
  # bin/pgproxy is expected to exec java, so $pid is the JVM. If it forked instead, find the child JVM.
  jpid="$pid"
  c="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
  if [[ "$c" != java ]]; then
    t0=$(pgrep -P "$pid" -x java | head -1 || true)
    if [[ -n "$t0" ]]; then
      log "WARNING: $bin did not exec java (pid $pid is '$c'); accounting JVM child pid $t0"
      jpid="$t0"
    else
      log "WARNING: pid $pid is '$c', not java; accounting it anyway"
    fi
  fi
  if [[ -n "$jopts" ]] && ! tr '\0' ' ' <"/proc/$jpid/cmdline" | grep -qF -- " $jopts "; then
    die "$target: the JVM (pid $jpid) was not started with '$jopts' (does $bin honour PGPROXY_JAVA_OPTS?)"
  fi
  PORT[$target]=$port
  PROXY_PID[$target]=$jpid
  log "$target ($mode, pool $size${jopts:+, java $jopts}) up on port $port, pid $jpid"
}

# relay_start <target> <mode> [java options]: bench/relay-lab/RelayLab.java, a bare byte relay in one
# threading design (BENCHMARKS.md §10). Run from source with the JDK bin/pgproxy uses; one backend
# per client. java options (a levers.conf line) replace the default GC and heap options.
relay_start() {
  local target="$1" mode="$2" jopts="${3:--XX:+UseSerialGC -Xms64m -Xmx256m}" port pid
  local -a jo
  read -r -a jo <<<"$jopts"
  port="$(free_port)"
  # shellcheck source=bin/jdk.sh
  (source "$ROOT_DIR/bin/jdk.sh" && exec "${PROXY_TASKSET[@]}" setsid "$JAVA_HOME/bin/java" "${jo[@]}" \
      --enable-native-access=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
      "$BENCH_DIR/relay-lab/RelayLab.java" "$port" "$PG_PORT" "$mode" >>"$WORK/$target.log" 2>&1) &
  pid=$!
  KILL_PID[$target]=$pid
  wait_ready "$port" 120 "$pid" "$target"
  PORT[$target]=$port
  PROXY_PID[$target]=$pid
  log "$target (relay-lab $mode${3:+, java $jopts}) up on port $port, pid $pid"
}

# ---------------------------------------------------------------- Odyssey
# odyssey_start <target> <workers>: transaction pool 20 (like pgbouncer-tx), config from
# ODYSSEY_CONF_TEMPLATE with its $VARS filled in. Odyssey refuses root: run as postgres like PgBouncer.
odyssey_start() {
  local target="$1" workers="$2" port cfg
  [[ -x "$ODYSSEY_BIN" ]] || die "odyssey not found at $ODYSSEY_BIN (set ODYSSEY_BIN)"
  [[ -f "$ODYSSEY_CONF_TEMPLATE" ]] || die "odyssey config template not found: $ODYSSEY_CONF_TEMPLATE (set ODYSSEY_CONF_TEMPLATE)"
  port="$(free_port)"
  cfg="$WORK/$target.conf"
  mkdir -p "$WORK/$target-locks"
  chown postgres "$WORK/$target-locks"
  # The template is written for an unquoted shell here-document: $VAR and ${VAR} expand, \\ is \.
  WORK="$WORK" target="$target" workers="$workers" port="$port" PG_PORT="$PG_PORT" BENCH_DB="$BENCH_DB" \
  BENCH_USER="$BENCH_USER" SCRAM_VERIFIER="$SCRAM_VERIFIER" BENCH_PASSWORD="$BENCH_PASSWORD" \
    "$PYTHON" - "$ODYSSEY_CONF_TEMPLATE" >"$cfg" <<'PYEOF' || die "cannot fill $ODYSSEY_CONF_TEMPLATE"
import os, re, sys
names = "WORK target workers port PG_PORT BENCH_DB BENCH_USER SCRAM_VERIFIER BENCH_PASSWORD".split()
def sub(m):
    if m.group(1):
        return m.group(1)[1]
    name = m.group(2) or m.group(3)
    if name not in names:
        sys.exit(f"unknown variable ${name} in the template")
    return os.environ[name]
text = open(sys.argv[1]).read()
sys.stdout.write(re.sub(r"(\\[\\$`])|\$\{(\w+)\}|\$(\w+)", sub, text))
PYEOF
  chown postgres "$cfg"; chmod 600 "$cfg"
  peer_start "$target" "$port" odyssey "$ODYSSEY_BIN" "$cfg"
  log "$target (transaction, pool 20, workers $workers) up on port $port, pid ${PROXY_PID[$target]}"
}

# ---------------------------------------------------------------- JDK lever variants
# lever_opts <name>: the java options of variant <name> in LEVERS_CONF (dies if there is none).
lever_opts() {
  local name="$1" n rest
  [[ -f "$LEVERS_CONF" ]] || die "$LEVERS_CONF not found"
  while read -r n rest; do
    [[ -z "$n" || "$n" == \#* ]] && continue
    if [[ "$n" == "$name" ]]; then
      [[ -n "$rest" ]] || die "lever $name has no options in $LEVERS_CONF"
      echo "$rest"; return 0
    fi
  done <"$LEVERS_CONF"
  die "no lever '$name' in $LEVERS_CONF"
}

# relay_design relay-<design>[@lever]: the RelayLab mode, or dies
relay_design() {
  local d="${1%@*}"
  d="${d#relay-}"
  case "$d" in vt|epoll-vt|epoll-reply|epoll-loop|selector) echo "$d" ;; *) die "unknown relay design in '$1'" ;; esac
}

# start_target <target> (check pgproxy_available first: don't call this in an `if`, errexit is off there)
start_target() {
  local o d crt key
  case "$1" in
    direct) ;;
    pgbouncer-tx) pgbouncer_start pgbouncer-tx transaction 20 ;;
    pgbouncer-session) pgbouncer_start pgbouncer-session session 1000 ;;
    # Clients must use TLS (pgbench gets PGSSLMODE=require for every *-tls target).
    pgbouncer-tx-tls) read -r crt key <<<"$(tls_material)"
      pgbouncer_start pgbouncer-tx-tls transaction 20 "client_tls_sslmode = require
client_tls_cert_file = $crt
client_tls_key_file = $key" ;;
    pgproxy-tx-tls) read -r crt key <<<"$(tls_material)"
      pgproxy_start pgproxy-tx-tls transaction 20 "$PGPROXY_BIN" \
        "client-tls { mode = require, cert-file = \"$crt\", key-file = \"$key\" }" ;;
    pgproxy) pgproxy_start pgproxy session 1000 ;;
    pgproxy-tx) pgproxy_start pgproxy-tx transaction 20 ;;
    # The same build with the Prometheus endpoint on: what metrics cost per transaction.
    pgproxy-tx-metrics) pgproxy_start pgproxy-tx-metrics transaction 20 "$PGPROXY_BIN" \
        "metrics { listen-port = $(free_port) }" ;;
    # Session isolation as PgBouncer has it: no reset statements between clients.
    pgproxy-tx-tracked) pgproxy_start pgproxy-tx-tracked transaction 20 "$PGPROXY_BIN" \
        "pool { session-isolation = tracked }" ;;
    # Transaction replay on: what its journal (a copy of each request, a CRC of each reply) costs.
    pgproxy-tx-replay) pgproxy_start pgproxy-tx-replay transaction 20 "$PGPROXY_BIN" \
        "databases { $BENCH_DB { transaction-replay = true } }" ;;
    # Another build (PGPROXY_PREV_BIN, say the previous main) in the same interleaved run.
    pgproxy-tx-prev) pgproxy_start pgproxy-tx-prev transaction 20 "$PGPROXY_PREV_BIN" ;;
    # pgproxy-tx with the java options of a levers.conf line
    pgproxy-tx@*) o="$(lever_opts "${1#*@}")"; pgproxy_start "$1" transaction 20 "$PGPROXY_BIN" "" "$o" ;;
    odyssey-tx) odyssey_start odyssey-tx 2 ;;
    odyssey-tx-w1) odyssey_start odyssey-tx-w1 1 ;;
    relay-vt|relay-epoll-vt|relay-epoll-reply|relay-epoll-loop|relay-selector) relay_start "$1" "${1#relay-}" ;;
    relay-*@*) d="$(relay_design "$1")"; o="$(lever_opts "${1#*@}")"; relay_start "$1" "$d" "$o" ;;
    *) die "unknown target '$1' (direct, pgbouncer-session, pgbouncer-tx, odyssey-tx, odyssey-tx-w1, pgproxy, pgproxy-tx, pgproxy-tx@LEVER, relay-*, relay-*@LEVER)" ;;
  esac
}

# ---------------------------------------------------------------- CPU accounting (clock ticks)
# utime+stime of one pid (fields 14,15 of /proc/pid/stat; comm may hold spaces, so cut at the last ')').
pid_ticks() {
  local s
  s="$(cat "/proc/$1/stat" 2>/dev/null)" || { echo 0; return; }
  s="${s##*) }"
  # after "comm) ": field 3 is index 0, so utime(14)=11, stime(15)=12, cutime(16)=13, cstime(17)=14
  awk '{print $12 + $13}' <<<"$s"
}

# All CPU the cluster used: the postmaster itself, its live children, and (cutime+cstime) the children
# it has reaped. Deltas of this are exact even when backends come and go during the run.
pg_ticks() {
  "$PYTHON" - "$PG_PID" <<'EOF'
import os, sys
pm = sys.argv[1]
def fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()
total = 0
f = fields(pm)
total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
for p in os.listdir("/proc"):
    if not p.isdigit() or p == pm:
        continue
    try:
        f = fields(p)
    except OSError:
        continue
    if f[1] == pm:  # ppid
        total += int(f[11]) + int(f[12])
print(total)
EOF
}
