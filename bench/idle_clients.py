#!/usr/bin/env python3
"""Open N idle, authenticated PostgreSQL connections from one process and report a server's RSS.

Stdlib only: asyncio (one Protocol per connection) + a SCRAM-SHA-256 client (RFC 5802/7677, no channel binding, as libpq without
TLS). The salted password (PBKDF2, 4096 rounds) is computed once per (salt, iterations) and cached,
so the client's own login cost stays small and the login times measure the server side. Also speaks
cleartext and MD5 password auth.

usage: idle_clients.py --port P --user U --password PW --dbname D --steps 1000,5000,10000
                       [--host 127.0.0.1] [--pid PID] [--parallel 64] [--settle 1] [--hold 0]

Opens connections step by step up to each cumulative count; after each step waits --settle seconds
and reads VmRSS (and Threads, open fds) of --pid from /proc. Prints one table row per step,
including the RSS at 0 connections. All connections are then checked (still open, nothing received),
held --hold seconds, and closed with Terminate.
"""
import argparse
import asyncio
import base64
import hashlib
import hmac
import os
import ssl
import struct
import sys
import time

_salted_cache = {}


class PgError(Exception):
    pass


def _msg(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!I", len(payload) + 4) + payload


def _error_text(payload: bytes) -> str:
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode(errors="replace")
    return f"{fields.get('S', 'ERROR')} {fields.get('C', '')}: {fields.get('M', '')}"


class Login(asyncio.Protocol):
    """One connection: startup + authentication driven from data_received (no task per message),
    then idle. `ready` resolves at ReadyForQuery; afterwards we only note data or a close."""

    def __init__(self, user, password, dbname, ready):
        self.user, self.pw, self.dbname, self.ready = user, password.encode(), dbname, ready
        self.buf = bytearray()
        self.transport = None
        self.logged_in = self.closed = False
        self.unread = 0
        self.nonce = self.client_first_bare = self.auth_message = self.salted = None

    def connection_made(self, transport):
        self.transport = transport
        params = b"user\0" + self.user.encode() + b"\0database\0" + self.dbname.encode() + b"\0" \
                 b"application_name\0idle_clients\0\0"
        body = struct.pack("!I", 196608) + params
        transport.write(struct.pack("!I", len(body) + 4) + body)

    def connection_lost(self, exc):
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(PgError(f"connection closed during login: {exc}"))

    def data_received(self, data):
        if self.logged_in:
            self.unread += len(data)
            return
        self.buf += data
        try:
            while len(self.buf) >= 5:
                length = struct.unpack_from("!I", self.buf, 1)[0]
                if len(self.buf) < 1 + length:
                    break
                kind, payload = bytes(self.buf[:1]), bytes(self.buf[5:1 + length])
                del self.buf[:1 + length]
                if self.on_message(kind, payload):
                    self.logged_in = True
                    self.unread = len(self.buf)
                    self.ready.set_result(self)
                    return
        except Exception as e:  # noqa: BLE001
            self.transport.close()
            if not self.ready.done():
                self.ready.set_exception(e)

    def send(self, kind, payload):
        self.transport.write(_msg(kind, payload))

    def on_message(self, kind, payload):
        if kind == b"E":
            raise PgError(_error_text(payload))
        if kind == b"Z":                 # ReadyForQuery: logged in, idle
            return True
        if kind != b"R":                 # S (ParameterStatus), K (BackendKeyData), N (notice)
            return False
        code = struct.unpack_from("!I", payload)[0]
        data = payload[4:]
        if code == 0:                    # AuthenticationOk
            pass
        elif code == 3:                  # cleartext
            self.send(b"p", self.pw + b"\0")
        elif code == 5:                  # MD5
            inner = hashlib.md5(self.pw + self.user.encode()).hexdigest().encode()
            self.send(b"p", b"md5" + hashlib.md5(inner + data[:4]).hexdigest().encode() + b"\0")
        elif code == 10:                 # SASL: mechanism list
            mechs = [m.decode() for m in data.split(b"\0") if m]
            if "SCRAM-SHA-256" not in mechs:
                raise PgError(f"no SCRAM-SHA-256 among {mechs}")
            self.nonce = base64.b64encode(os.urandom(18)).decode()
            self.client_first_bare = f"n=,r={self.nonce}"
            first = ("n,," + self.client_first_bare).encode()
            self.send(b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first)
        elif code == 11:                 # SASLContinue: server-first-message
            server_first = data.decode()
            attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
            if not attrs["r"].startswith(self.nonce):
                raise PgError("server nonce does not extend ours")
            salt, iters = base64.b64decode(attrs["s"]), int(attrs["i"])
            key = (self.pw, salt, iters)
            salted = _salted_cache.get(key)
            if salted is None:
                salted = _salted_cache[key] = hashlib.pbkdf2_hmac("sha256", self.pw, salt, iters)
            self.salted = salted
            client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
            stored_key = hashlib.sha256(client_key).digest()
            final_wo_proof = f"c=biws,r={attrs['r']}"
            self.auth_message = f"{self.client_first_bare},{server_first},{final_wo_proof}".encode()
            sig = hmac.new(stored_key, self.auth_message, hashlib.sha256).digest()
            proof = (int.from_bytes(client_key, "big") ^ int.from_bytes(sig, "big")).to_bytes(32, "big")
            self.send(b"p", f"{final_wo_proof},p={base64.b64encode(proof).decode()}".encode())
        elif code == 12:                 # SASLFinal: check the server's signature
            attrs = dict(kv.split("=", 1) for kv in data.decode().split(","))
            server_key = hmac.new(self.salted, b"Server Key", hashlib.sha256).digest()
            expect = hmac.new(server_key, self.auth_message, hashlib.sha256).digest()
            if base64.b64decode(attrs.get("v", "")) != expect:
                raise PgError("bad server signature")
        else:
            raise PgError(f"unsupported authentication request {code}")
        return False


class SslRequest(asyncio.Protocol):
    """Sends SSLRequest and waits for the one-byte answer, before the TLS handshake (libpq's sslmode=require)."""

    def __init__(self, answered):
        self.answered = answered

    def connection_made(self, transport):
        transport.write(struct.pack("!II", 8, 80877103))

    def data_received(self, data):
        if not self.answered.done():
            self.answered.set_result(data[:1])

    def connection_lost(self, exc):
        if not self.answered.done():
            self.answered.set_exception(PgError(f"closed before answering SSLRequest: {exc}"))


_TLS = ssl.create_default_context()
_TLS.check_hostname = False
_TLS.verify_mode = ssl.CERT_NONE   # sslmode=require: encrypted, not verified


async def connect(host, port, user, password, dbname, timeout, tls=False):
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    async with asyncio.timeout(timeout):
        login = Login(user, password, dbname, ready)
        if tls:
            answered = loop.create_future()
            transport, _ = await loop.create_connection(lambda: SslRequest(answered), host, port)
            if await answered != b"S":
                transport.close()
                raise PgError("server refused TLS")
            transport = await loop.start_tls(transport, login, _TLS)
            login.connection_made(transport)
        else:
            transport, _ = await loop.create_connection(lambda: login, host, port)
        try:
            return await ready
        except BaseException:
            transport.close()
            raise


def proc_status(pid):
    out = {}
    if not pid:
        return out
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "Threads"):
                    out[k] = int(v.split()[0])
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError as e:
        out["error"] = str(e)
    return out


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", default=os.environ.get("PGPASSWORD", ""))
    ap.add_argument("--dbname", required=True)
    ap.add_argument("--steps", required=True, help="cumulative counts, e.g. 1000,5000,10000")
    ap.add_argument("--pid", type=int, default=0, help="server process whose RSS to report")
    ap.add_argument("--parallel", type=int, default=64, help="logins in flight at once")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds to wait before reading RSS")
    ap.add_argument("--hold", type=float, default=0.0, help="seconds to hold all connections at the end")
    ap.add_argument("--timeout", type=float, default=60.0, help="per-login timeout, seconds")
    ap.add_argument("--tls", action="store_true", help="SSLRequest then TLS, as sslmode=require")
    a = ap.parse_args()
    steps = sorted({int(s) for s in a.steps.replace(",", " ").split()})

    conns = []
    sem = asyncio.Semaphore(a.parallel)
    errors = []

    async def one():
        async with sem:
            try:
                conns.append(await connect(a.host, a.port, a.user, a.password, a.dbname, a.timeout, a.tls))
            except Exception as e:  # noqa: BLE001 - report, don't crash the other logins
                errors.append(f"{type(e).__name__}: {e}")

    await asyncio.sleep(a.settle)
    st = proc_status(a.pid)
    print("|connections|VmRSS KB|KB/client (margin)|login time of step s|logins/s|client CPU s|threads|fds|", flush=True)
    print("|--:|--:|--:|--:|--:|--:|--:|--:|", flush=True)
    print(f"|0|{st.get('VmRSS', '-')}|-|-|-|-|{st.get('Threads', '-')}|{st.get('fds', '-')}|", flush=True)
    prev_n, prev_rss, t_all = 0, st.get("VmRSS"), 0.0
    failed = False
    for target in steps:
        todo = target - len(conns)
        t0, c0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one() for _ in range(todo)))
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        t_all += dt
        if errors:
            print(f"\n{len(errors)} logins failed in step to {target}; first: {errors[0]}", file=sys.stderr)
            failed = True
        await asyncio.sleep(a.settle)
        st = proc_status(a.pid)
        rss = st.get("VmRSS")
        n = len(conns)
        margin = f"{(rss - prev_rss) / (n - prev_n):.2f}" if rss and prev_rss and n > prev_n else "-"
        rate = f"{todo / dt:,.0f}" if dt > 0 else "-"
        print(f"|{n}|{rss if rss else '-'}|{margin}|{dt:.2f}|{rate}|{cpu:.2f}|{st.get('Threads', '-')}|{st.get('fds', '-')}|",
              flush=True)
        prev_n, prev_rss = n, rss
        if failed:
            break

    if a.hold > 0:
        await asyncio.sleep(a.hold)
    # every connection should still be open and silent
    await asyncio.sleep(0.2)
    closed = sum(1 for c in conns if c.closed)
    noisy = sum(1 for c in conns if not c.closed and c.unread)
    print(f"\nlogins: {len(conns)} ok, {len(errors)} failed, {t_all:.2f} s in total; "
          f"at the end: {len(conns) - closed} still open, {closed} closed by the server, {noisy} with unread data",
          flush=True)
    for c in conns:
        try:
            c.transport.write(_msg(b"X", b""))
            c.transport.close()
        except Exception:  # noqa: BLE001
            pass
    await asyncio.sleep(0.5)
    return 1 if (errors or closed) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
