#!/usr/bin/env python3
"""Markdown summary of a bench/run.sh CSV (stdlib only).

usage: python3 bench/summarize.py bench/out/run-YYYYmmdd-HHMMSS.csv

Cell = median (min-max) over the reps that completed (pgbench exit code 0); reps where pgbench
aborted (exit code != 0, e.g. clients aborted on an error) are counted apart as "aborted k/n".
Ratio = median TPS of the target / median TPS of direct. Proxy us/tx = proxy CPU seconds * 1e6 /
transactions processed, median over reps. Cores = CPU seconds / wall seconds of the run.
When pgbouncer-tx ran: a table of each target's median TPS / pgbouncer-tx's median TPS, with proxy
us/tx. When the run had --latency: a table of p50 and p99 transaction latency (ms, median over reps)
and, when direct ran, what each target adds to direct's p50 and p99 (difference of the medians).
"""
import csv
import statistics
import sys

ORDER = ["direct", "pgbouncer-session", "pgproxy", "pgbouncer-tx", "odyssey-tx", "odyssey-tx-w1", "pgproxy-tx",
         "pgbouncer-tx-tls", "pgproxy-tx-tls"]
SHORT = {"direct": "direct", "pgbouncer-tx": "PgB-tx", "pgbouncer-session": "PgB-session", "pgproxy": "pgproxy",
         "pgproxy-tx": "pgproxy-tx", "odyssey-tx": "Ody-tx", "odyssey-tx-w1": "Ody-tx-w1",
         "pgbouncer-tx-tls": "PgB-tx-tls", "pgproxy-tx-tls": "pgproxy-tx-tls"}
# The PgBouncer the versus table divides by: the plain one, else the one clients reach over TLS.
PGB_CHOICES = ["pgbouncer-tx", "pgbouncer-tx-tls"]
MODE_ORDER = ["S-simple", "S-extended", "N-simple", "N-extended", "S-prepared"]


def fmt(x, kind):
    if kind == "tps":
        return f"{x:,.0f}"
    if kind == "lat":
        return f"{x:.3g}" if x < 100 else f"{x:.1f}"
    if kind == "us":
        return f"{x:.1f}"
    return f"{x:.2f}"


def cell(values, kind):
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt(med, kind)
    return f"{fmt(med, kind)} ({fmt(min(values), kind)}-{fmt(max(values), kind)})"


def main(path):
    with open(path, newline="") as f:
        header = [l for l in f if l.startswith("#")]
        f.seek(0)
        rows = list(csv.DictReader(l for l in f if not l.startswith("#")))
    if not rows:
        sys.exit(f"{path}: no rows")
    targets = [t for t in ORDER if any(r["target"] == t for r in rows)]
    targets += sorted({r["target"] for r in rows} - set(targets))
    modes = [m for m in MODE_ORDER if any(r["mode"] == m for r in rows)]
    modes += sorted({r["mode"] for r in rows} - set(modes))
    clients = sorted({int(r["clients"]) for r in rows})
    proxies = [t for t in targets if t != "direct"]

    def runs(mode, c, t):
        return [r for r in rows if r["mode"] == mode and int(r["clients"]) == c and r["target"] == t]

    def ok(rs):
        return [r for r in rs if r["rc"] == "0" and r["tps"]]

    def table_head(cols):
        print("|" + "|".join(cols) + "|")
        print("|" + "|".join(["---", "--:"] + ["--:"] * (len(cols) - 2)) + "|")

    for h in header:
        print(h.strip().lstrip("# ").rstrip())
        print()
    print("## Throughput (TPS), ratio to direct, proxy CPU per transaction\n")
    cols = ["mode", "c"]
    for t in targets:
        cols.append(f"{SHORT.get(t, t)} TPS")
        if t != "direct":
            cols += [f"{SHORT.get(t, t)}/d", f"{SHORT.get(t, t)} µs/tx"]
    table_head(cols)
    failures = []
    for mode in modes:
        for c in clients:
            if not any(runs(mode, c, t) for t in targets):
                continue
            direct_ok = ok(runs(mode, c, "direct"))
            dmed = statistics.median(float(r["tps"]) for r in direct_ok) if direct_ok else None
            line = [mode, str(c)]
            for t in targets:
                rs = runs(mode, c, t)
                good = ok(rs)
                tps = [float(r["tps"]) for r in good]
                aborted = len(rs) - len(good)
                failed = sum(int(r["failed"] or 0) for r in rs)
                ab_clients = sum(int(r["aborted_clients"] or 0) for r in rs)
                txt = cell(tps, "tps") if tps else ("-" if not rs else "")
                if aborted:
                    txt = (txt + " " if txt else "") + f"**aborted {aborted}/{len(rs)}**"
                line.append(txt)
                if aborted or failed:
                    failures.append(f"{mode} c={c} {t}: {aborted}/{len(rs)} runs aborted "
                                    f"({ab_clients} clients aborted), {failed} failed transactions")
                if t != "direct":
                    if tps and dmed:
                        line.append(f"**{statistics.median(tps) / dmed:.2f}**")
                    else:
                        line.append("-")
                    us = [float(r["proxy_cpu_s"]) * 1e6 / int(r["transactions"])
                          for r in good if int(r["transactions"] or 0) > 0]
                    line.append(cell(us, "us"))
            print("|" + "|".join(line) + "|")
    if failures:
        print("\nFailures:")
        for f_ in failures:
            print(f"- {f_}")

    print("\n## Mean latency (ms) and CPU cores used (pg/proxy/pgbench, medians)\n")
    cols = ["mode", "c"]
    for t in targets:
        cols += [f"{SHORT.get(t, t)} lat ms", f"{SHORT.get(t, t)} cores"]
    table_head(cols)
    for mode in modes:
        for c in clients:
            if not any(runs(mode, c, t) for t in targets):
                continue
            line = [mode, str(c)]
            for t in targets:
                good = ok(runs(mode, c, t))
                line.append(cell([float(r["latency_ms"]) for r in good if r["latency_ms"]], "lat"))
                if good:
                    def cores(k):
                        return statistics.median(float(r[k]) / float(r["elapsed_s"]) for r in good)
                    line.append(f"{cores('pg_cpu_s'):.2f}/{cores('proxy_cpu_s'):.2f}/{cores('pgbench_cpu_s'):.2f}")
                else:
                    line.append("-")
            print("|" + "|".join(line) + "|")

    def present(mode, c):
        return any(runs(mode, c, t) for t in targets)

    def us_tx(good):
        return [float(r["proxy_cpu_s"]) * 1e6 / int(r["transactions"])
                for r in good if int(r["transactions"] or 0) > 0]

    def tps_med(mode, c, t):
        tps = [float(r["tps"]) for r in ok(runs(mode, c, t))]
        return statistics.median(tps) if tps else None

    PGB = next((t for t in PGB_CHOICES if t in targets), None)
    if PGB and len(targets) > 1:
        others = [t for t in targets if t != PGB]
        print(f"\n## Versus PgBouncer: median TPS / {SHORT.get(PGB, PGB)} median TPS, proxy µs of CPU per transaction\n")
        cols = ["mode", "c", f"{SHORT.get(PGB, PGB)} TPS", f"{SHORT.get(PGB, PGB)} µs/tx"]
        for t in others:
            cols.append(f"{SHORT.get(t, t)}/{SHORT.get(PGB, PGB)}")
            if t != "direct":
                cols.append(f"{SHORT.get(t, t)} µs/tx")
        table_head(cols)
        for mode in modes:
            for c in clients:
                if not present(mode, c):
                    continue
                pmed = tps_med(mode, c, PGB)
                line = [mode, str(c), fmt(pmed, "tps") if pmed else "-", cell(us_tx(ok(runs(mode, c, PGB))), "us")]
                for t in others:
                    tmed = tps_med(mode, c, t)
                    line.append(f"**{tmed / pmed:.2f}**" if tmed and pmed else "-")
                    if t != "direct":
                        line.append(cell(us_tx(ok(runs(mode, c, t))), "us"))
                print("|" + "|".join(line) + "|")

    def pct(good, k):
        return [float(r[k]) for r in good if r.get(k)]

    if any(r.get("p50_ms") for r in rows):
        has_direct = "direct" in targets
        print("\n## Transaction latency percentiles (ms; median over reps" +
              ("; +p50/+p99 = added to direct's" if has_direct else "") + ")\n")
        cols = ["mode", "c"]
        for t in targets:
            cols += [f"{SHORT.get(t, t)} p50", f"{SHORT.get(t, t)} p99"]
            if has_direct and t != "direct":
                cols += [f"{SHORT.get(t, t)} +p50", f"{SHORT.get(t, t)} +p99"]
        table_head(cols)
        for mode in modes:
            for c in clients:
                if not present(mode, c):
                    continue
                dgood = ok(runs(mode, c, "direct"))
                d50, d99 = pct(dgood, "p50_ms"), pct(dgood, "p99_ms")
                line = [mode, str(c)]
                for t in targets:
                    good = ok(runs(mode, c, t))
                    p50, p99 = pct(good, "p50_ms"), pct(good, "p99_ms")
                    line += [cell(p50, "lat"), cell(p99, "lat")]
                    if has_direct and t != "direct":
                        for v, d in ((p50, d50), (p99, d99)):
                            line.append(f"{statistics.median(v) - statistics.median(d):+.3f}" if v and d else "-")
                print("|" + "|".join(line) + "|")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
