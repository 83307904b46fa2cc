#!/usr/bin/env python3
"""Figures for bench/failover.sh (stdlib only).

  failover_stats.py analyze RUN_DIR   reads RUN_DIR/events (key=epoch seconds), the pgbench
                                      per-transaction logs RUN_DIR/tx.*, RUN_DIR/pgbench.out and
                                      RUN_DIR/pgbench.err; appends key=value lines to RUN_DIR/result
  failover_stats.py report OUT.md RESULT...   one markdown report from the result files (and
                                      the pgbench output kept beside each, parsed again)

pgbench 15's per-transaction log line (no -R): client_id transaction_no time script_no time_epoch
time_us, where time is the latency in µs ("failed" / "skipped" otherwise) and time_epoch.time_us
is when the transaction completed. Percentiles are nearest-rank.
"""
import glob
import math
import os
import re
import sys


def read_kv(path):
    d = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if "=" in line:
                    k, v = line.split("=", 1)
                    d[k] = v
    return d


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = max(1, math.ceil(p / 100.0 * len(sorted_vals)))
    return sorted_vals[k - 1]


def fmt(x, nd=1):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{x:.{nd}f}"


def load_tx(run_dir):
    ok = []      # (end_s, latency_s)
    failed = 0
    for path in glob.glob(os.path.join(run_dir, "tx.*")):
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) < 6:
                    continue
                end = int(p[4]) + int(p[5]) / 1e6
                if p[2] in ("failed", "skipped"):
                    failed += 1
                    continue
                ok.append((end, int(p[2]) / 1e6))
    ok.sort()
    return ok, failed


def gaps(ends, lo=None, hi=None):
    """Longest time between consecutive completions (all clients), optionally only gaps that
    overlap [lo, hi]. Returns (gap_s, gap_start_s)."""
    best, at = 0.0, None
    for a, b in zip(ends, ends[1:]):
        if lo is not None and (b < lo or a > hi):
            continue
        if b - a > best:
            best, at = b - a, a
    return best, at


def parse_pgbench(out_path, err_path):
    r = {}
    out = open(out_path).read() if os.path.exists(out_path) else ""
    err = open(err_path).read() if os.path.exists(err_path) else ""
    m = re.search(r"number of transactions actually processed: (\d+)", out)
    r["processed"] = m.group(1) if m else ""
    m = re.search(r"number of failed transactions: (\d+)", out)
    r["failed_tx"] = m.group(1) if m else "0"
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    r["tps"] = m.group(1) if m else ""
    # pgbench 15 words it two ways: "client 8 aborted in command 8 (SQL) of script 0; perhaps the
    # backend died while processing" and "client 34 script 0 aborted in command 5 query 0: FATAL: ..."
    aborted = re.findall(r"client (\d+) (?:script \d+ )?aborted in command (\d+)"
                         r"(?: \([^)]*\) of script \d+; | query \d+: )(.*)", err)
    r["aborted_clients"] = str(len(aborted))
    msgs = {}
    for _, _, msg in aborted:
        msg = re.sub(r"\s+", " ", msg).strip()[:160]
        msgs[msg] = msgs.get(msg, 0) + 1
    r["abort_messages"] = " | ".join(f"{n}x {m}" for m, n in sorted(msgs.items(), key=lambda x: -x[1]))
    # any other error line pgbench printed (connection failures at start, etc.)
    other = [l for l in err.splitlines() if ("error" in l.lower() or "fatal" in l.lower())
             and "aborted in command" not in l and "Run was aborted" not in l]
    r["other_errors"] = str(len(other))
    r["other_error_sample"] = re.sub(r"\s+", " ", other[0])[:160] if other else ""
    return r


def proxy_events(run_dir, ev):
    """Times from pgproxy's log (ms precision, same clock): the gate of a switchover (closed = the
    'done' line's time minus the wait it reports), and what the proxy saw at a failover."""
    import datetime
    path = os.path.join(run_dir, "pgproxy-tx.log")
    if not os.path.exists(path):
        return
    start = ev.get("event_start", 0)
    with open(path) as f:
        for line in f:
            m = re.match(r"^(\d{4}-\d\d-\d\dT[\d:.]+)Z ", line)
            if not m:
                continue
            t = datetime.datetime.fromisoformat(m.group(1)).replace(tzinfo=datetime.timezone.utc).timestamp()
            if t < start - 1:
                continue
            m = re.search(r"switchover from \S+ to \S+ done, new transactions waited (\d+) ms", line)
            if m and "gate_open" not in ev:
                ev["gate_open"] = t
                ev["gate_closed"] = t - int(m.group(1)) / 1000.0
            if "kill" in ev and t >= ev["kill"] - 0.01:
                if "no primary (" in line and "proxy_no_primary" not in ev:
                    ev["proxy_no_primary"] = t
                if ("primary moved from" in line or "primary is " in line) and "proxy_new_primary" not in ev:
                    ev["proxy_new_primary"] = t


def analyze(run_dir):
    ev = {k: float(v) for k, v in read_kv(os.path.join(run_dir, "events")).items() if re.match(r"^[\d.]+$", v)}
    proxy_events(run_dir, ev)
    res = parse_pgbench(os.path.join(run_dir, "pgbench.out"), os.path.join(run_dir, "pgbench.err"))
    ok, failed_logged = load_tx(run_dir)
    res["tx_logged"] = str(len(ok))
    res["tx_failed_logged"] = str(failed_logged)
    lat = sorted(l for _, l in ok)
    res["p50_ms"] = fmt(pct(lat, 50) * 1e3, 2)
    res["p99_ms"] = fmt(pct(lat, 99) * 1e3, 2)
    res["max_ms"] = fmt(lat[-1] * 1e3 if lat else float("nan"), 1)
    ends = [e for e, _ in ok]
    g, gat = gaps(ends)
    t0 = ev.get("event_start")
    res["gap_max_ms"] = fmt(g * 1e3, 1)
    res["gap_max_at_s"] = fmt(gat - t0, 2) if (gat is not None and t0) else ""
    if t0:
        t1 = ev.get("event_end", t0)
        lo, hi = t0 - 1.0, t1 + 1.0
        # transactions that were running at some point in [lo, hi]
        win = sorted(l for e, l in ok if e >= lo and e - l <= hi)
        res["win_s"] = fmt(hi - lo, 2)
        res["win_n"] = str(len(win))
        res["win_p50_ms"] = fmt(pct(win, 50) * 1e3, 2)
        res["win_p99_ms"] = fmt(pct(win, 99) * 1e3, 2)
        res["win_max_ms"] = fmt(win[-1] * 1e3 if win else float("nan"), 1)
        wg, wgat = gaps(ends, lo, hi)
        res["win_gap_ms"] = fmt(wg * 1e3, 1)
        res["win_gap_at_s"] = fmt(wgat - t0, 3) if wgat is not None else ""
        # transactions that took longer than 100 ms, anywhere
        res["over_100ms"] = str(sum(1 for l in lat if l > 0.1))
        for k, v in ev.items():
            if k not in ("event_start", "run_start"):
                res["t_" + k] = fmt((v - t0) * 1e3, 1)
    if "promote_cmd" in ev and "promoted" in ev:
        res["promotion_ms"] = fmt((ev["promoted"] - ev["promote_cmd"]) * 1e3, 1)
    if "kill" in ev:
        kill = ev["kill"]
        after_kill = [e for e in ends if e > kill]
        # nothing can commit on the standby before it is out of recovery, and what completes after
        # the kill before that is the old primary's orphaned backends finishing (then they exit):
        # the first completion after the promotion is the first commit on the new primary
        promoted = ev.get("promoted", ev.get("promote_cmd", kill))
        first_new = next((e for e in ends if e > promoted), None)
        res["done_after_kill_before_promoted"] = str(sum(1 for e in after_kill if e <= promoted))
        if first_new is not None:
            res["kill_to_first_commit_ms"] = fmt((first_new - kill) * 1e3, 1)
            if "promoted" in ev:
                res["promoted_to_first_commit_ms"] = fmt((first_new - ev["promoted"]) * 1e3, 1)
                res["kill_to_first_minus_promotion_ms"] = fmt(
                    (first_new - kill - (ev["promoted"] - ev["promote_cmd"])) * 1e3, 1)
    with open(os.path.join(run_dir, "result"), "a") as f:
        for k, v in res.items():
            f.write(f"{k}={v}\n")


def report(out_md, files):
    runs = []
    for p in files:
        r = read_kv(p)
        # pgbench's own output, kept beside the result, is parsed again (the report can be redone)
        base = p[:-len(".result")] if p.endswith(".result") else p
        if os.path.exists(base + ".pgbench.err"):
            r.update(parse_pgbench(base + ".pgbench.out", base + ".pgbench.err"))
        runs.append(r)
    L = []
    hdr = runs[0] if runs else {}
    L.append(f"# pgproxy: client stall at switchover and failover ({hdr.get('stamp', '')})\n")
    L.append(f"Command: `{hdr.get('command', '')}`  ")
    L.append(f"Commit: {hdr.get('commit', '')}; {hdr.get('versions', '')}  ")
    L.append(f"Load: `{hdr.get('load', '')}` through pgproxy (transaction mode, pool {hdr.get('pool_size', '')}); "
             f"event at {hdr.get('event_at', '')} s; failover config `{hdr.get('failover_conf', '')}`\n")
    L.append("Latency and gaps from pgbench's per-transaction log (`-l`): whole run, and the window = "
             "transactions running at any time from 1 s before the event started to 1 s after it ended. "
             "Gap = longest time between two consecutive completed transactions (all clients).\n")

    sw = [r for r in runs if r.get("scenario", "").startswith("switchover")]
    fo = [r for r in runs if r.get("scenario") == "failover"]

    def status(r):
        return "ok" if r.get("status") == "ok" else f"**{r.get('status', 'missing')}**"

    if sw:
        L.append("## Planned switchover\n")
        L.append("`switchover`: the old primary is stopped (`pg_ctl stop -m fast`) once the pool has drained, "
                 "then the standby promoted. `switchover-ro`: the old primary is made read-only "
                 "(`default_transaction_read_only`, reload), the standby waited for until it has replayed "
                 "the old primary's WAL, then promoted; the old primary is stopped after SWITCHOVER returned.\n")
        L.append("| scenario | rep | run | tps | tx ok | failed tx | aborted clients | pgbench rc "
                 "| p50 / p99 / max ms (run) | p50 / p99 / max ms (window) | >100 ms tx | longest gap ms | rows = tx |")
        L.append("|" + "---|" * 13)
        for r in sw:
            L.append(f"| {r.get('scenario')} | {r.get('rep')} | {status(r)} | {r.get('tps', '')} | {r.get('processed', '')} "
                     f"| {r.get('failed_tx', '')} | {r.get('aborted_clients', '')} | {r.get('pgbench_rc', '')} "
                     f"| {r.get('p50_ms', '')} / {r.get('p99_ms', '')} / {r.get('max_ms', '')} "
                     f"| {r.get('win_p50_ms', '')} / {r.get('win_p99_ms', '')} / {r.get('win_max_ms', '')} "
                     f"| {r.get('over_100ms', '')} | {r.get('win_gap_ms', '')} "
                     f"| {r.get('history_rows', '')} = {r.get('processed', '')} |")
        L.append("")
        L.append("Timeline, ms from the moment `SWITCHOVER` was sent on an open console session: gate closed "
                 "and gate open (from pgproxy's log: the `switchover ... done` line's time minus the wait it reports), pool drained (seen by polling SHOW POOLS "
                 "every 5 ms), old primary stopped / read-only (+ standby caught up), promote command, standby out "
                 "of recovery, SWITCHOVER returned; and the stall pgproxy measured "
                 "(`pgproxy_switchover_stall_seconds_total`: gate closed to gate open).\n")
        L.append("| scenario | rep | gate closed | drained | old stopped | old read-only | standby caught up "
                 "| promote cmd | promoted | gate open | SWITCHOVER returned | stall (metric) ms |")
        L.append("|" + "---|" * 12)
        for r in sw:
            gate = r.get("t_gate_closed", "")
            L.append(f"| {r.get('scenario')} | {r.get('rep')} | {gate} | {r.get('t_drained', '')} | {r.get('t_old_stopped', '')} "
                     f"| {r.get('t_old_read_only', '')} | {r.get('t_standby_caught_up', '')} | {r.get('t_promote_cmd', '')} "
                     f"| {r.get('t_promoted', '')} | {r.get('t_gate_open', '')} | {r.get('t_event_end', '')} | {r.get('metric_stall_ms', '')} |")
        L.append("")
        L.append("Target (issue 14): switchover stall p99 < 100 ms with 0 failed transactions.\n")
        for r in sw:
            clean = (r.get("status") == "ok" and r.get("failed_tx") == "0" and r.get("aborted_clients") == "0"
                     and r.get("pgbench_rc") == "0" and r.get("switchover_ok") == "1")
            L.append(f"- {r.get('scenario')} rep {r.get('rep')}: {'0 failed, 0 aborted' if clean else '**errors or failed switchover**'}; "
                     f"p99 {r.get('p99_ms')} ms over the run, {r.get('win_p99_ms')} ms in the window; "
                     f"gate closed {r.get('metric_stall_ms')} ms")
        L.append("")
    if fo:
        L.append("## Unplanned failover (primary postmaster SIGKILLed, standby promoted)\n")
        L.append("| rep | run | tps | tx ok | failed tx | aborted clients | pgbench rc | p50 / p99 / max ms (run) "
                 "| longest gap ms | promotion ms | kill → first commit ms | that − promotion ms "
                 "| promoted → first commit ms | tx done after kill, before promoted | rows / tx |")
        L.append("|" + "---|" * 15)
        for r in fo:
            L.append(f"| {r.get('rep')} | {status(r)} | {r.get('tps', '')} | {r.get('processed', '')} | {r.get('failed_tx', '')} "
                     f"| {r.get('aborted_clients', '')} | {r.get('pgbench_rc', '')} "
                     f"| {r.get('p50_ms', '')} / {r.get('p99_ms', '')} / {r.get('max_ms', '')} "
                     f"| {r.get('gap_max_ms', '')} | {r.get('promotion_ms', '')} | {r.get('kill_to_first_commit_ms', '')} "
                     f"| {r.get('kill_to_first_minus_promotion_ms', '')} | {r.get('promoted_to_first_commit_ms', '')} "
                     f"| {r.get('done_after_kill_before_promoted', '')} | {r.get('history_rows', '')} / {r.get('processed', '')} |")
        L.append("")
        L.append("Target (issue 14): primary death to first committed transaction on the new primary < 2 s + "
                 "the promotion time, i.e. `kill → first commit − promotion` < 2000 ms. Clients whose "
                 "transaction was in flight at the kill get an error and pgbench 15 aborts them (no retry of "
                 "such errors): expected.\n")
        for r in fo:
            v = r.get("kill_to_first_minus_promotion_ms")
            met = r.get("status") == "ok" and v not in (None, "") and float(v) < 2000
            L.append(f"- rep {r.get('rep')}: {v} ms: {'target met' if met else 'target NOT met'}")
        L.append("")
    L.append("## Details per run\n")
    for r in runs:
        L.append(f"### {r.get('scenario')} rep {r.get('rep')} ({status(r)})\n")
        tl = sorted(((k[2:], float(v)) for k, v in r.items() if k.startswith("t_") and v), key=lambda x: x[1])
        if tl:
            L.append("Timeline (ms from event start): " + ", ".join(f"{k} {v:.1f}" for k, v in tl) + "  ")
        for k in ("console_login_ms", "abort_messages", "other_error_sample", "switchover_reply", "metrics", "hosts_after",
                  "proxy_log_failover", "note"):
            if r.get(k):
                L.append(f"{k.replace('_', ' ')}: `{r[k]}`  ")
        L.append(f"over 100 ms: {r.get('over_100ms', '')} transactions; longest gap in the run "
                 f"{r.get('gap_max_ms', '')} ms at {r.get('gap_max_at_s', '')} s from the event; "
                 f"window {r.get('win_s', '')} s, {r.get('win_n', '')} transactions\n")
    with open(out_md, "w") as f:
        f.write("\n".join(L) + "\n")
    print("\n".join(L))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "analyze":
        analyze(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)
