#!/usr/bin/env python3
"""Fault-injection run of the reference service in production shape (see scripts/faults.sh for usage).

Starts a private PostgreSQL cluster, a private RabbitMQ node and an aiosmtpd sink that records Message-IDs, then the
service as separate processes (api, relay, two workers). Sends mails through the API at a steady rate while it injects,
one after another: kill -9 of the relay (10 times), kill -9 of a worker, a RabbitMQ restart, a PostgreSQL restart (10 s
down) and an SMTP outage (15 s). After each fault it measures the time to recover: from the end of the fault until the
relay publishes again and mails reach the SMTP server again (not until the backlog is drained). Then it waits for the drain and prints one table. Exit status 1
on any lost, duplicated or stuck mail."""
import argparse
import collections
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def log(text):
    print(f"faults: {text}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def port_problems(args, rabbit_env):
    """Why the private servers' ports cannot be used (empty: they can). A port held by something else (another engineer's
    cluster or node, the shared servers) must fail the run at once: the run would otherwise wait for a server that never
    becomes ours, or worse, restart and reconfigure someone else's."""
    problems = []
    clusters = [line.split() for line in subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout.splitlines()]
    on_port = next((c[1] for c in clusters if len(c) > 2 and c[2] == str(args.pg_port)), None)
    ours = next((c[2] for c in clusters if len(c) > 2 and c[1] == args.name), None)
    if on_port is not None and on_port != args.name:
        problems.append(f"PostgreSQL port {args.pg_port} belongs to the cluster '{on_port}'")
    elif ours is not None and ours != str(args.pg_port):
        problems.append(f"the cluster '{args.name}' exists on port {ours}, not {args.pg_port} (pass --pg-port {ours}, or another --name)")
    elif on_port is None and port_open(args.pg_port):
        problems.append(f"port {args.pg_port} (PostgreSQL) is in use by another program")
    taken = [p for p in (args.rabbit_port, args.rabbit_port + 20000) if port_open(p)]
    if taken and subprocess.run(["rabbitmqctl", "-q", "status"], env=rabbit_env, capture_output=True, timeout=60).returncode != 0:
        problems.append(f"port(s) {', '.join(map(str, taken))} (RabbitMQ node port / its distribution port) in use, not by the node {args.name}@localhost")
    return problems


class Servers:
    """The private PostgreSQL cluster and RabbitMQ node, and the SMTP sink."""

    def __init__(self, args, folder):
        self.args, self.folder = args, folder
        self.pg_port, self.rabbit_port = args.pg_port, args.rabbit_port
        self.rabbit_env = dict(os.environ, RABBITMQ_NODENAME=f"{args.name}@localhost")
        base = f"/var/lib/rabbitmq/private-{args.name}"
        self.rabbit_start_env = dict(self.rabbit_env, RABBITMQ_NODE_PORT=str(self.rabbit_port), RABBITMQ_DIST_PORT=str(self.rabbit_port + 20000),
                                     RABBITMQ_NODE_IP_ADDRESS="127.0.0.1", ERL_EPMD_ADDRESS="127.0.0.1", RABBITMQ_MNESIA_BASE=f"{base}/mnesia",
                                     RABBITMQ_LOG_BASE=f"{base}/log", RABBITMQ_PID_FILE=f"{base}/pid",
                                     RABBITMQ_ENABLED_PLUGINS_FILE=f"{base}/enabled_plugins", RABBITMQ_ENABLED_PLUGINS="")
        self.rabbit_base = base
        self.sink_port = free_port()
        self.sink_log = os.path.join(folder, "sink.log")
        self.sink = None

    @property
    def postgres(self):
        return (f"Host=127.0.0.1;Port={self.pg_port};Username=postgres;Password=postgres;Database={self.args.name};"
                "Timeout=60;Command Timeout=120")

    @property
    def rabbitmq(self):
        return f"amqp://guest:guest@127.0.0.1:{self.rabbit_port}/"

    def psql(self, sql, database=None):
        out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "-d", database or self.args.name,
                              "-tAqc", sql], env=dict(os.environ, PGPASSWORD="postgres"), capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr.strip()}")
        return out.stdout.strip()

    def start_postgres(self):
        subprocess.run(["bash", os.path.join(ROOT, "scripts", "private-postgres.sh"), self.args.name, str(self.pg_port)], check=True)

    def stop_postgres(self):
        subprocess.run(["pg_ctlcluster", "15", self.args.name, "stop", "-m", "fast"], check=True)

    def restart_postgres_start(self):
        subprocess.run(["pg_ctlcluster", "15", self.args.name, "start"], check=True)

    def start_rabbitmq(self):
        os.makedirs(self.rabbit_base, exist_ok=True)
        shutil.chown(self.rabbit_base, "rabbitmq", "rabbitmq")
        if subprocess.run(["rabbitmqctl", "-q", "status"], env=self.rabbit_env, capture_output=True).returncode != 0:
            subprocess.run(["rabbitmq-server", "-detached"], env=self.rabbit_start_env, capture_output=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            if subprocess.run(["rabbitmqctl", "-q", "await_startup", "--timeout", "30"], env=self.rabbit_env, capture_output=True).returncode == 0:
                return
            time.sleep(0.5)
        raise RuntimeError("private RabbitMQ did not start within 120 s")

    def stop_rabbitmq(self):
        subprocess.run(["rabbitmqctl", "-q", "stop"], env=self.rabbit_env, capture_output=True)

    def start_sink(self):
        env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.abspath(__file__)), PYTHONUNBUFFERED="1", FAULTS_SINK_LOG=self.sink_log)
        out = open(os.path.join(self.folder, "smtp.log"), "ab")
        self.sink = subprocess.Popen(["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.sink_port}", "-c", "faults_sink.Handler"],
                                     env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.time() + 60  # Python's start-up alone takes seconds on a loaded machine
        while time.time() < deadline:
            if self.sink.poll() is not None:
                raise RuntimeError(f"SMTP sink exited ({self.sink.returncode}); see smtp.log")
            try:
                socket.create_connection(("127.0.0.1", self.sink_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("SMTP sink did not start within 60 s")

    def stop_sink(self):
        if self.sink:
            self.sink.kill()
            self.sink.wait()
            self.sink = None


class Service:
    """The service's processes, each with a log file."""

    def __init__(self, args, servers, folder):
        self.args, self.servers, self.folder = args, servers, folder
        # A copy of the build in the run folder: a build started meanwhile (the machine is shared) must not swap the
        # service's files under the processes this run starts and restarts.
        built = args.dll or os.path.join(ROOT, "artifacts", "bin", "Postbox.Service", "release", "Postbox.Service.dll")
        if not os.path.exists(built):
            raise RuntimeError(f"{built} not found: build apps/Postbox.Service -c Release first (or drop --no-build)")
        shutil.copytree(os.path.dirname(built), os.path.join(folder, "service"))
        self.dll = os.path.join(folder, "service", os.path.basename(built))
        self.api_port = free_port()
        self.processes = {}

    def common(self):
        return ["--postgres", self.servers.postgres, "--schema", "postbox", "--rabbitmq", self.servers.rabbitmq, "--exchange", "postbox-faults",
                "--Transport:QueuePrefix=faults.", "--Logging:Console:TimestampFormat=HH:mm:ss.fff "]

    def arguments(self, role):
        if role == "api":
            return ["--no-migrate", "--urls", f"http://127.0.0.1:{self.api_port}"]
        if role == "relay":
            return ["--no-migrate"]
        return ["--no-migrate", "--smtp-host", "127.0.0.1", "--smtp-port", str(self.servers.sink_port), "--max-attempts", "26",
                "--retry-delay", self.args.retry_delay, "--Postbox:Consumers:HandleSignals=false"]

    def run(self, role, *extra):
        name = role
        out = open(os.path.join(self.folder, f"{name}.log"), "ab")
        # The recovery time reads delivered_at of delivered rows, so the run keeps the delivered history (the default
        # deletes a message on confirm).
        env = dict(os.environ, DOTNET_ENVIRONMENT="Production", ASPNETCORE_ENVIRONMENT="Production", Postbox__Relay__DeliveredRetention="01:00:00")
        return subprocess.Popen(["dotnet", self.dll, role.split("-")[0], *self.common(), *extra], stdout=out, stderr=subprocess.STDOUT, env=env)

    def migrate(self):
        process = self.run("migrate")
        if process.wait(timeout=120) != 0:
            raise RuntimeError("migrate failed; see migrate.log")

    def start(self, name):
        self.processes[name] = self.run(name, *self.arguments(name.split("-")[0]))

    def kill9(self, name):
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait()

    def wait_api(self):
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=5)
                connection.request("GET", "/health")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError("api did not answer")

    def stop_all(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


class Sender:
    """Sends mails through the API at a steady rate from several threads; remembers when each was accepted."""

    def __init__(self, port, rate, threads=8):
        self.port, self.rate, self.threads = port, rate, threads
        self.accepted = {}  # Message-ID -> accept time
        self.refused = collections.Counter()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.next_at = time.time()
        self.workers = []

    def start(self):
        for _ in range(self.threads):
            thread = threading.Thread(target=self.loop, daemon=True)
            thread.start()
            self.workers.append(thread)

    def join(self):
        self.stop.set()
        for thread in self.workers:
            thread.join()

    def loop(self):
        connection = None
        body = json.dumps({"from": "from@example.com", "to": ["to@example.com"], "subject": "Fault run", "content": "some content"})
        while not self.stop.is_set():
            with self.lock:
                at = self.next_at
                self.next_at = max(self.next_at + 1 / self.rate, time.time() - 1)
            if at > time.time():
                time.sleep(at - time.time())
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                connection.request("POST", "/api/mail/send", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                data = response.read()
                if response.status == 202:
                    delivery = json.loads(data)["id"].replace("-", "")
                    with self.lock:
                        self.accepted[f"<mail.{delivery}@postbox.local>"] = time.time()
                else:
                    with self.lock:
                        self.refused[str(response.status)] += 1
            except (OSError, http.client.HTTPException, ValueError, KeyError) as error:
                with self.lock:
                    self.refused[type(error).__name__] += 1
                connection = None
                time.sleep(0.2)

    def count(self):
        with self.lock:
            return len(self.accepted)

    def accepted_after(self, at):
        with self.lock:
            return [m for m, t in self.accepted.items() if t >= at]


class Sink:
    """Reads the sink's log: Message-ID -> arrival times."""

    def __init__(self, path):
        self.path, self.offset = path, 0
        self.arrivals = collections.defaultdict(list)

    def poll(self):
        if not os.path.exists(self.path):
            return
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].splitlines():
            at, message_id = line.split(b" ", 1)
            self.arrivals[message_id.decode()].append(float(at))


def wait_recovered(servers, sink, healed_at, timeout):
    """Seconds from healed_at until the system works again end to end: the relay has published a message (the outbox
    records its delivery after healed_at) and the SMTP server has received a mail after healed_at (None: not within
    timeout). Not "until a mail accepted after the fault arrives": that waits for the backlog the fault left to drain
    first, which measures the machine's spare capacity (on a loaded machine, minutes), not the recovery."""
    deadline = time.time() + timeout
    published = None
    while time.time() < deadline:
        if published is None:
            try:
                value = servers.psql(f"SELECT extract(epoch FROM min(delivered_at)) FROM postbox.outbox WHERE delivered_at >= to_timestamp({healed_at})")
                published = float(value) if value else None
            except (RuntimeError, subprocess.TimeoutExpired):
                pass  # the database itself may still be coming back
        sink.poll()
        arrived = min((t for times in sink.arrivals.values() for t in times if t >= healed_at), default=None)
        if published is not None and arrived is not None:
            return max(published, arrived) - healed_at
        time.sleep(0.5)
    return None


def main():
    # SIGTERM (e.g. from timeout) cleans up like Ctrl+C: processes stopped, private servers stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mails", type=int, default=50000, help="mails to send at least (default 50,000)")
    parser.add_argument("--rate", type=float, default=200, help="mails per second offered to the API (default 200)")
    parser.add_argument("--relay-kills", type=int, default=10, help="kill -9 of the relay (default 10)")
    parser.add_argument("--retry-delay", default="00:00:02", help="workers' fixed retry delay (default 2 s)")
    parser.add_argument("--idle-seconds", type=float, default=30, help="idle measurement before sending (default 30 s)")
    parser.add_argument("--settle-seconds", type=float, default=30, help="wait after start-up before the idle measurement (default 30 s)")
    parser.add_argument("--drain-timeout", type=float, default=600, help="longest wait for the drain without progress (default 600 s)")
    parser.add_argument("--recover-timeout", type=float, default=120,
                        help="longest wait after a fault for a mail accepted after it to arrive; longer counts as not recovered and fails the run (default 120 s)")
    parser.add_argument("--name", default=os.environ.get("FAULTS_NAME", "postbox_faults"), help="private cluster/node/database name")
    parser.add_argument("--pg-port", type=int, default=int(os.environ.get("FAULTS_PG_PORT", "5448")))
    parser.add_argument("--rabbit-port", type=int, default=int(os.environ.get("FAULTS_RABBIT_PORT", "5697")))
    parser.add_argument("--idle-only", action="store_true", help="only measure the idle system's transactions/s")
    parser.add_argument("--check-ports", action="store_true", help="only check that the private servers' ports are free or ours (exit 2 if not)")
    parser.add_argument("--dll", help="another build of Postbox.Service.dll (e.g. to measure before/after)")
    parser.add_argument("--keep", action="store_true", help="keep the private servers running and the run folder afterwards")
    args = parser.parse_args()

    rabbit_env = dict(os.environ, RABBITMQ_NODENAME=f"{args.name}@localhost")
    problems = port_problems(args, rabbit_env)
    if problems:
        for problem in problems:
            log(f"ERROR: {problem}")
        log("choose free ports with --pg-port/--rabbit-port (or FAULTS_PG_PORT/FAULTS_RABBIT_PORT) and another --name (FAULTS_NAME)")
        return 2
    if args.check_ports:
        return 0
    folder = tempfile.mkdtemp(prefix="postbox-faults-")
    log(f"run folder {folder}")
    servers = Servers(args, folder)
    service = Service(args, servers, folder)
    results, status = [], 0
    try:
        servers.start_postgres()
        servers.start_rabbitmq()
        subprocess.run(["rabbitmqctl", "-q", "delete_queue", "faults.mail.send"], env=servers.rabbit_env, capture_output=True)
        servers.psql(f"DROP DATABASE IF EXISTS {args.name} WITH (FORCE)", "postgres")
        servers.psql(f"CREATE DATABASE {args.name}", "postgres")
        servers.start_sink()
        service.migrate()
        for name in ("api", "relay", "worker-1", "worker-2"):
            service.start(name)
        service.wait_api()
        time.sleep(args.settle_seconds)  # workers subscribe, pools fill, idle polls slow down to their idle interval

        before = int(servers.psql(f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{args.name}'"))
        time.sleep(args.idle_seconds)
        after = int(servers.psql(f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{args.name}'"))
        idle = (after - before - 1) / args.idle_seconds  # minus our own second query
        log(f"idle api + relay + 2 workers: {idle:.2f} transactions/s")
        if args.idle_only:
            return 0

        sink = Sink(servers.sink_log)
        sender = Sender(service.api_port, args.rate)
        sender.start()
        time.sleep(5)

        def fault(name, inject, heal, down=0.0):
            started = time.time()
            inject()
            if down:
                time.sleep(down)
            heal()
            healed = time.time()
            recovered = wait_recovered(servers, sink, healed, args.recover_timeout)
            results.append((name, time.strftime("%H:%M:%S", time.localtime(started)), healed - started, recovered))
            log(f"{name}: down {healed - started:.1f} s, recovered in " + (f"{recovered:.1f} s" if recovered is not None else f"NOT within {args.recover_timeout:.0f} s"))

        for i in range(args.relay_kills):
            fault(f"kill -9 relay ({i + 1}/{args.relay_kills})", lambda: service.kill9("relay"), lambda: service.start("relay"))
        fault("kill -9 worker", lambda: service.kill9("worker-2"), lambda: service.start("worker-2"))
        fault("restart RabbitMQ", servers.stop_rabbitmq, servers.start_rabbitmq)
        fault("restart PostgreSQL (10 s)", servers.stop_postgres, servers.restart_postgres_start, down=10)
        smtp_from = sum(os.path.getsize(os.path.join(folder, f"{n}.log")) for n in ("worker-1", "worker-2"))
        smtp_lines_from = {n: sum(1 for _ in open(os.path.join(folder, f"{n}.log"), "rb")) for n in ("worker-1", "worker-2")}
        fault("stop SMTP server (15 s)", servers.stop_sink, servers.start_sink, down=15)
        smtp_lines = sum(sum(1 for _ in open(os.path.join(folder, f"{n}.log"), "rb")) - smtp_lines_from[n] for n in ("worker-1", "worker-2"))
        del smtp_from

        while sender.count() < args.mails:
            time.sleep(0.5)
        sender.join()
        accepted = dict(sender.accepted)
        log(f"{len(accepted)} mails accepted; draining")

        # Drain: until every accepted delivery is final, or no progress for drain-timeout.
        last, last_change = None, time.time()
        while True:
            pending = int(servers.psql("SELECT count(*) FROM postbox.mail_deliveries WHERE status NOT IN ('sent', 'failed')"))
            if pending == 0 or time.time() - last_change > args.drain_timeout:
                break
            if pending != last:
                last, last_change = pending, time.time()
            time.sleep(1)
        time.sleep(2)
        sink.poll()

        statuses = dict(line.split("|") for line in servers.psql(
            "SELECT CASE WHEN status = 'failed' AND end_of_data_at IS NOT NULL THEN 'unconfirmed' ELSE status END, count(*) "
            "FROM postbox.mail_deliveries GROUP BY 1").splitlines() if line)
        # Held as unconfirmed: the server may have it (Mail:UnconfirmedSends=Hold). Final, and checked against the sink below.
        unconfirmed = [row for row in servers.psql(
            "SELECT id FROM postbox.mail_deliveries WHERE status = 'failed' AND end_of_data_at IS NOT NULL").splitlines() if row]
        unconfirmed_at_sink = sum(1 for i in unconfirmed if f"<mail.{i.replace('-', '')}@postbox.local>" in sink.arrivals)
        # The operator's documented step for a held mail the server does not have (a kill between the end-of-data
        # record and the final "." reaching the server): POST /api/mail/{id}/resend. It must then arrive exactly once.
        resent = [i for i in unconfirmed if f"<mail.{i.replace('-', '')}@postbox.local>" not in sink.arrivals]
        for i in resent:
            connection = http.client.HTTPConnection("127.0.0.1", service.api_port, timeout=10)
            connection.request("POST", f"/api/mail/{i}/resend")
            answer = connection.getresponse().status
            log(f"held mail {i} is not at the sink: resent by the operator ({answer})")
        if resent:
            deadline = time.time() + args.drain_timeout
            ids = ", ".join(f"'{i}'" for i in resent)
            while time.time() < deadline and int(servers.psql(f"SELECT count(*) FROM postbox.mail_deliveries WHERE id IN ({ids}) AND status <> 'sent'")):
                time.sleep(1)
            time.sleep(2)
            sink.poll()
            statuses = dict(line.split("|") for line in servers.psql(
                "SELECT CASE WHEN status = 'failed' AND end_of_data_at IS NOT NULL THEN 'unconfirmed' ELSE status END, count(*) "
                "FROM postbox.mail_deliveries GROUP BY 1").splitlines() if line)
        delivered = sum(1 for m in accepted if m in sink.arrivals)
        lost = len(accepted) - delivered
        duplicated = sum(1 for m, times in sink.arrivals.items() if len(times) > 1)
        stuck = sum(int(v) for k, v in statuses.items() if k not in ("sent", "failed", "unconfirmed"))
        lines = {n: sum(1 for _ in open(os.path.join(folder, f"{n}.log"), "rb")) for n in ("api", "relay", "worker-1", "worker-2")}
        traces = sum(sum(1 for line in open(os.path.join(folder, f"{n}.log"), "rb") if line.lstrip().startswith(b"at ")) for n in lines)

        print()
        print("| fault | at | down (s) | recovered in (s) |")
        print("|---|---|---:|---:|")
        for name, at, down, recovered in results:
            print(f"| {name} | {at} | {down:.1f} | {recovered:.1f} |" if recovered is not None else f"| {name} | {at} | {down:.1f} | not recovered |")
        print()
        print("| accepted | delivered | lost | duplicated | stuck | failed | unconfirmed (at the sink; resent by the operator) | refused by the API |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        print(f"| {len(accepted)} | {delivered} | {lost} | {duplicated} | {stuck} | {statuses.get('failed', 0)} | {len(unconfirmed)} ({unconfirmed_at_sink}; {len(resent)}) | "
              f"{sum(sender.refused.values())} {dict(sender.refused) if sender.refused else ''} |")
        print()
        print(f"idle transactions/s (api + relay + 2 workers): {idle:.2f}")
        print(f"log lines: {lines}; stack-trace lines: {traces}; worker lines during the 15 s SMTP outage: {smtp_lines}")
        if duplicated:
            print("duplicated Message-IDs: " + ", ".join(m for m, t in sink.arrivals.items() if len(t) > 1))
        if lost or duplicated or stuck or any(r[3] is None for r in results):
            status = 1
    finally:
        try:
            service.stop_all()
        finally:
            servers.stop_sink()
            if not args.keep:
                servers.stop_rabbitmq()
                subprocess.run(["pg_ctlcluster", "15", args.name, "stop", "-m", "fast"], capture_output=True)
                log(f"logs kept in {folder}")
    return status


if __name__ == "__main__":
    sys.exit(main())
