"""Download benchmark: tallyfy-files against curl and Tallyfy's Python sample.

Started by bench/run.sh, which installs the tools and builds the clients.
This script makes a temporary folder with the files, a CA and a server
certificate made with openssl. It starts nginx on 127.0.0.1 over HTTP and
HTTPS with its own pid, log and temp paths, and runs every client on every
case several times in interleaved order. Then it prints Markdown tables of
medians and deletes the folder.

Every client times itself, from just before its first request to just after
its last body is saved: the Rust and C clients with a monotonic clock, the
Python client with time.perf_counter() after its imports, curl with its own
--write-out %{time_total}, summed over the files of one process. Peak RSS and
CPU time (user + system) come from GNU time (/usr/bin/time -f "%M %U %S") on
each client process, start-up included. Python's own wait4() cannot measure it: a child forked from this
interpreter inherits the interpreter's peak as its starting ru_maxrss.
"""

import argparse
import filecmp
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

ORG_ID = "0123456789abcdef0123456789abcdef"
TOKEN = "bench-token-0123456789"
HERE = os.path.dirname(os.path.abspath(__file__))
TIME = "/usr/bin/time"


def full_cases():
    """Return the cases of a full run: (key, title, size, count, threads)."""
    return [
        ("1gib", "one 1 GiB file", GIB, 1, 1),
        ("100mib", "one 100 MiB file", 100 * MIB, 1, 1),
        ("4kib", "1,000 sequential 4 KiB files", 4 * KIB, 1000, 1),
        ("1mib-x8", "8 threads x 100 x 1 MiB files", MIB, 800, 8),
    ]


def quick_cases():
    """Return small versions of the cases, for a smoke run."""
    return [
        ("1gib", "one 64 MiB file (quick stand-in for 1 GiB)", 64 * MIB, 1, 1),
        ("100mib", "one 8 MiB file (quick stand-in for 100 MiB)", 8 * MIB, 1, 1),
        ("4kib", "50 sequential 4 KiB files", 4 * KIB, 50, 1),
        ("1mib-x8", "8 threads x 4 x 1 MiB files", MIB, 32, 8),
    ]


def file_id(case_key, index):
    """Return a 32-hex-digit file ID, unique per case and file."""
    case_number = {"1gib": 1, "100mib": 2, "4kib": 3, "1mib-x8": 4}[case_key]
    return f"{case_number:08x}{index:024x}"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clean_env():
    """Return the environment without proxy settings, so that every client
    talks to 127.0.0.1 directly."""
    return {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


def measured(argv, usage_path):
    """Wrap argv in GNU time, which writes its peak RSS and CPU times to usage_path."""
    return [TIME, "-f", "%M %U %S", "-o", usage_path, *argv]


def read_usage(usage_path):
    """Return (peak RSS in KiB, user + system CPU seconds) that GNU time wrote."""
    rss, user, system = read_text(usage_path).split()[-3:]
    return int(rss), float(user) + float(system)


def run_process(argv, stdout_path, env):
    """Run argv to completion under GNU time; return (peak RSS KiB, CPU seconds)."""
    usage_path = stdout_path + ".usage"
    with open(stdout_path, "wb") as stdout:
        result = subprocess.run(measured(argv, usage_path), stdout=stdout, stderr=subprocess.PIPE, env=env)
    if result.returncode != 0:
        error = result.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"{' '.join(argv[:2])} failed ({result.returncode}): {error}")
    return read_usage(usage_path)


def parse_tally(path):
    """Read the `elapsed=… bytes=… files=…` line that the clients print."""
    with open(path, encoding="ascii") as output:
        fields = dict(item.split("=", 1) for item in output.read().split())
    return float(fields["elapsed"]), int(fields["bytes"]), int(fields["files"])


class Bench:
    """One benchmark session: its folder, its server and its results."""

    def __init__(self, args):
        self.args = args
        self.env = clean_env()
        self.nginx = None
        self.results = []
        parent = args.dir or default_parent(args)
        self.root = tempfile.mkdtemp(prefix="tallyfy-bench.", dir=parent)
        # nginx workers run as an unprivileged user when started as root.
        os.chmod(self.root, 0o755)
        self.files = os.path.join(self.root, "files")
        self.out = os.path.join(self.root, "out")
        os.makedirs(self.files)
        os.makedirs(self.out)

    # -- setup ---------------------------------------------------------------

    def generate(self, cases):
        for key, _, size, count, _ in cases:
            ids = [file_id(key, index) for index in range(count)]
            for identifier in ids:
                with open(os.path.join(self.files, identifier), "wb") as output:
                    remaining = size
                    while remaining:
                        block = min(remaining, 4 * MIB)
                        output.write(os.urandom(block))
                        remaining -= block
            with open(os.path.join(self.root, f"ids-{key}"), "w", encoding="ascii") as listing:
                listing.write("\n".join(ids) + "\n")

    def make_certificates(self):
        """Create a CA and a server certificate for 127.0.0.1 signed by it.

        rustls accepts only an end-entity certificate for the server, so the
        self-signed certificate is the CA's and the server's is signed by it."""
        tls = os.path.join(self.root, "tls")
        os.makedirs(tls)
        self.ca = os.path.join(tls, "ca.pem")
        self.cert = os.path.join(tls, "server.pem")
        self.key = os.path.join(tls, "server.key")
        ca_key = os.path.join(tls, "ca.key")
        csr = os.path.join(tls, "server.csr")
        extensions = os.path.join(tls, "server.ext")
        with open(extensions, "w", encoding="ascii") as ext:
            ext.write(
                "basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
            )
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": True}
        subprocess.run(
            ["openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", self.ca, "-days", "2",
             "-subj", "/CN=tallyfy-files benchmark CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign"],
            **quiet,
        )
        subprocess.run(
            ["openssl", "req", *ec, "-keyout", self.key, "-out", csr, "-subj", "/CN=127.0.0.1"],
            **quiet,
        )
        subprocess.run(
            ["openssl", "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", ca_key,
             "-CAcreateserial", "-out", self.cert, "-days", "2", "-extfile", extensions],
            **quiet,
        )
        for path in (self.ca, self.cert, self.key):
            os.chmod(path, 0o644)

    def start_nginx(self):
        self.http_port = free_port()
        self.https_port = free_port()
        temp = os.path.join(self.root, "nginx-temp")
        os.makedirs(temp)
        conf = os.path.join(self.root, "nginx.conf")
        with open(os.path.join(HERE, "nginx.conf.in"), encoding="ascii") as template:
            text = template.read()
        for name, value in {
            "ROOT": self.root,
            "FILES": self.files,
            "TEMP": temp,
            "HTTP_PORT": str(self.http_port),
            "HTTPS_PORT": str(self.https_port),
            "CERT": self.cert,
            "KEY": self.key,
            "ORG_ID": ORG_ID,
        }.items():
            text = text.replace("@" + name + "@", value)
        with open(conf, "w", encoding="ascii") as output:
            output.write(text)

        error_log = os.path.join(self.root, "nginx-error.log")
        self.nginx = subprocess.Popen(
            [self.args.nginx, "-c", conf, "-p", self.root + "/", "-e", error_log],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.nginx.poll() is not None:
                raise RuntimeError(f"nginx exited at start; see {error_log}:\n" + read_text(error_log))
            try:
                for port in (self.http_port, self.https_port):
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start listening within 10 seconds")

    def base_url(self, scheme):
        port = self.http_port if scheme == "http" else self.https_port
        return f"{scheme}://127.0.0.1:{port}/api"

    def check_server(self, scheme, some_id):
        """Check that nginx serves the Tallyfy layout and enforces both headers."""
        url = f"{self.base_url(scheme)}/organizations/{ORG_ID}/file/{some_id}/dl"
        auth = ["-H", f"Authorization: Bearer {TOKEN}"]
        client = ["-H", "X-Tallyfy-Client: APIClient"]
        for headers, expected in ((auth + client, "200"), (auth, "401"), (client, "401"), ([], "401")):
            result = subprocess.run(
                [self.args.curl, "-sS", "--noproxy", "*", "--cacert", self.ca, "-o", "/dev/null",
                 "-D", "-", "-w", "%{http_code}", *headers, url],
                capture_output=True, text=True, env=self.env, check=True,
            )
            status = result.stdout.rsplit("\n", 1)[-1]
            if status != expected:
                raise RuntimeError(f"{url} with {len(headers) // 2} auth headers: status {status}, expected {expected}")
            if expected == "200":
                head = result.stdout.lower()
                if "content-type: application/octet-stream" not in head or "content-disposition: attachment" not in head:
                    raise RuntimeError(f"{url} lacks the Tallyfy download headers:\n{result.stdout}")

    def stop_nginx(self):
        if self.nginx and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)
            try:
                self.nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait()

    def cleanup(self):
        self.stop_nginx()
        if self.args.keep:
            print(f"kept {self.root}", file=sys.stderr)
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- clients -------------------------------------------------------------

    def clients(self, case, scheme):
        """Return the clients of one case and scheme as (name, kind, run)."""
        key, _, size, count, threads = case
        ids = os.path.join(self.root, f"ids-{key}")
        base = self.base_url(scheme)
        common = ["--base", base, "--org", ORG_ID, "--token", TOKEN, "--ids", ids,
                  "--threads", str(threads)]
        if scheme == "https":
            common += ["--ca", self.ca]

        def rust(binary, mode, extra=()):
            return lambda: self.run_self_timed([binary, mode, *common, *extra])

        clients = []
        for label, binary in [("tallyfy-files", self.args.rust_bin)] + self.args.extra:
            clients.append((f"{label} Rust -> path", "path", rust(binary, "path", ["--out", self.out])))
            clients.append((f"{label} Rust -> path, no fsync", "path",
                            rust(binary, "path-nosync", ["--out", self.out])))
            clients.append((f"{label} Rust -> buffer", "buffer", rust(binary, "buffer", ["--size", str(size)])))
        if self.args.c_bin:
            clients.append(("tallyfy-files C API -> path", "path",
                            rust(self.args.c_bin, "c-path", ["--out", self.out])))
        clients.append(("curl -> file", "curl-file", lambda: self.run_curl(case, scheme, to_null=False)))
        clients.append(("curl -> /dev/null", "curl-null", lambda: self.run_curl(case, scheme, to_null=True)))
        clients.append(("Python requests (Tallyfy sample) -> file", "path",
                        lambda: self.run_self_timed([self.args.python, os.path.join(HERE, "py_client.py"),
                                                     *common, "--out", self.out])))
        if count == 1 and scheme == "http" and not self.args.only:
            path = os.path.join(self.files, file_id(key, 0))
            clients.append(("ceiling: cat file > /dev/null", "ceiling", lambda: self.run_cat(path)))
            clients.append(("ceiling: raw loopback TCP copy", "ceiling",
                            lambda: self.run_self_timed([self.args.rust_bin, "socket", "--file", path])))
        if threads == 1 and scheme == "http" and not self.args.only:
            clients.append(("ceiling: hand-written GET on a raw socket", "ceiling",
                            rust(self.args.rust_bin, "raw-http", ["--size", str(size)])))
        if self.args.only:
            wanted = self.args.only.split(",")
            clients = [client for client in clients if any(part in client[0] for part in wanted)]
        return clients

    def run_self_timed(self, argv):
        stdout = os.path.join(self.root, "client.out")
        rss, cpu = run_process(argv, stdout, self.env)
        elapsed, size, files = parse_tally(stdout)
        return elapsed, rss, cpu, size, files

    def run_cat(self, path):
        """Time `cat` from outside, process start included: it has no clock of its own."""
        started = time.perf_counter()
        with open(os.devnull, "wb") as null:
            subprocess.run(["cat", path], stdout=null, check=True)
        return time.perf_counter() - started, 0, 0.0, os.path.getsize(path), 1

    def run_curl(self, case, scheme, to_null):
        """Run curl on the case: one process with a config file of URLs, or
        one such process per thread, started together."""
        key, _, size, count, threads = case
        ids = [file_id(key, index) for index in range(count)]
        base = self.base_url(scheme)
        argv = [self.args.curl, "-sS", "--fail", "--noproxy", "*",
                "-H", f"Authorization: Bearer {TOKEN}", "-H", "X-Tallyfy-Client: APIClient",
                "-H", "Accept: */*", "-w", "%{time_total} %{size_download}\\n"]
        if scheme == "https":
            argv += ["--cacert", self.ca]

        processes = []
        for thread in range(threads):
            config = os.path.join(self.root, f"curl-{thread}.conf")
            with open(config, "w", encoding="ascii") as output:
                for identifier in ids[thread::threads]:
                    target = "/dev/null" if to_null else os.path.join(self.out, identifier)
                    output.write(f'url = "{base}/organizations/{ORG_ID}/file/{identifier}/dl"\n')
                    output.write(f'output = "{target}"\n')
            stdout_path = os.path.join(self.root, f"curl-{thread}.out")
            stdout = open(stdout_path, "wb")
            process = subprocess.Popen(measured(argv + ["-K", config], stdout_path + ".usage"),
                                       stdout=stdout, stderr=subprocess.PIPE, env=self.env)
            processes.append((process, stdout, stdout_path))

        # Each process runs its files one after another, so its busy time is
        # the sum of its transfers. The job takes as long as the slowest one.
        elapsed, peak, cpu, total, files = 0.0, 0, 0.0, 0, 0
        for process, stdout, stdout_path in processes:
            error = process.communicate()[1].decode(errors="replace")
            stdout.close()
            if process.returncode != 0:
                raise RuntimeError(f"curl failed ({process.returncode}): {error.strip()}")
            with open(stdout_path, encoding="ascii") as output:
                lines = [line.split() for line in output.read().splitlines() if line.strip()]
            elapsed = max(elapsed, sum(float(line[0]) for line in lines))
            total += sum(int(float(line[1])) for line in lines)
            files += len(lines)
            rss, seconds = read_usage(stdout_path + ".usage")
            peak = max(peak, rss)
            cpu += seconds
        return elapsed, peak, cpu, total, files

    # -- running -------------------------------------------------------------

    def verify(self, case, name, kind, size_seen, files_seen, first_run):
        """Check the byte and file counts, and the saved bytes on the first run."""
        key, _, size, count, _ = case
        if kind == "ceiling":
            return
        if size_seen != size * count or files_seen != count:
            raise RuntimeError(f"{name}: got {files_seen} files and {size_seen} bytes, "
                               f"expected {count} and {size * count}")
        if kind not in ("path", "curl-file"):
            return
        for index in range(count):
            identifier = file_id(key, index)
            saved = os.path.join(self.out, identifier)
            if not os.path.exists(saved):
                saved += ".bin"
            if os.path.getsize(saved) != size:
                raise RuntimeError(f"{name}: {saved} has {os.path.getsize(saved)} bytes, expected {size}")
            if first_run and index % max(1, count // 4) == 0:
                if not filecmp.cmp(saved, os.path.join(self.files, identifier), shallow=False):
                    raise RuntimeError(f"{name}: {saved} differs from the served file")

    def empty_out(self):
        for entry in os.listdir(self.out):
            os.unlink(os.path.join(self.out, entry))

    def run_case(self, case, scheme):
        key, title, size, count, threads = case
        clients = self.clients(case, scheme)
        samples = {name: [] for name, _, _ in clients}
        kinds = {name: kind for name, kind, _ in clients}
        runs = self.args.runs
        print(f"running {title} over {scheme.upper()}: {len(clients)} clients x {runs} runs",
              file=sys.stderr, flush=True)
        for run in range(runs):
            # Rotate the order each run so that no client always goes first.
            shift = run % len(clients)
            for name, kind, start in clients[shift:] + clients[:shift]:
                self.empty_out()
                elapsed, rss, cpu, size_seen, files_seen = start()
                self.verify(case, name, kind, size_seen, files_seen, run == 0)
                samples[name].append({"seconds": elapsed, "rss_kib": rss, "cpu_seconds": cpu})
            self.empty_out()
        self.results.append({"case": key, "title": title, "scheme": scheme, "size": size,
                             "count": count, "threads": threads, "kinds": kinds, "samples": samples})


def default_parent(args):
    """Prefer a RAM-backed folder, so that the disk does not time the clients."""
    if os.path.isdir("/dev/shm") and shutil.disk_usage("/dev/shm").free > args.needed * 1.2:
        return "/dev/shm"
    return None


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as source:
            return source.read()
    except OSError:
        return ""


# -- report ------------------------------------------------------------------


def throughput(result, seconds):
    """Return the rate of one case as text: MB/s, and files/s for many files."""
    total = result["size"] * result["count"]
    rate = f"{total / seconds / 1e6:,.0f} MB/s"
    if result["count"] > 1:
        rate += f", {result['count'] / seconds:,.0f} files/s"
    return rate


def report(results, runs):
    lines = []
    for result in results:
        samples, kinds = result["samples"], result["kinds"]
        medians = {name: statistics.median(s["seconds"] for s in runs_) for name, runs_ in samples.items()}
        curl_file = medians.get("curl -> file")
        curl_null = medians.get("curl -> /dev/null")
        lines.append(f"### {result['title']}, {result['scheme'].upper()} ({runs} runs)")
        lines.append("")
        lines.append("| client | median s | min s | max s | throughput | x curl->file | x curl->null "
                     "| client CPU s | peak RSS MiB (median, max) |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, runs_ in samples.items():
            seconds = [s["seconds"] for s in runs_]
            rss = [s["rss_kib"] / 1024 for s in runs_]
            median = medians[name]
            ratio_file = f"{curl_file / median:.2f}" if curl_file else "-"
            ratio_null = f"{curl_null / median:.2f}" if curl_null else "-"
            ceiling = kinds[name] == "ceiling"
            rss_text = "-" if ceiling else f"{statistics.median(rss):.1f}, {max(rss):.1f}"
            cpu_text = "-" if ceiling else f"{statistics.median(s['cpu_seconds'] for s in runs_):.3f}"
            lines.append(f"| {name} | {median:.4f} | {min(seconds):.4f} | {max(seconds):.4f} | "
                         f"{throughput(result, median)} | {ratio_file} | {ratio_null} | {cpu_text} | {rss_text} |")
        lines.append("")
    return "\n".join(lines)


def versions(args):
    def first_line(argv):
        try:
            result = subprocess.run(argv, capture_output=True, text=True, check=False)
            return (result.stdout or result.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "not found"

    model = "unknown"
    for line in read_text("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return [
        f"- cores: {os.cpu_count()}, CPU: {model}, kernel: {platform.release()}",
        f"- {first_line(['rustc', '--version'])}",
        f"- {first_line([args.curl, '--version'])}",
        f"- {first_line([args.nginx, '-v'])}",
        f"- {first_line([args.python, '--version'])}, requests "
        + first_line([args.python, "-c", "import requests; print(requests.__version__)"]),
    ]


def parse_args():
    parser = argparse.ArgumentParser(description="Run the download benchmark (use bench/run.sh).")
    parser.add_argument("--quick", action="store_true", help="small files and 2 runs, for a smoke test")
    parser.add_argument("--runs", type=int, help="runs per client (default 7, or 2 with --quick)")
    parser.add_argument("--cases", help="comma-separated cases to run: 1gib,100mib,4kib,1mib-x8")
    parser.add_argument("--schemes", default="http,https", help="comma-separated: http,https")
    parser.add_argument("--dir", help="parent folder for the temporary files (default /dev/shm when it has room)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--json", help="also write every sample to this JSON file")
    parser.add_argument("--rust-bin", required=True, help="the benchmark's Rust client binary")
    parser.add_argument("--c-bin", help="binary that runs the C API client (c-path mode)")
    parser.add_argument("--extra", action="append", default=[], metavar="LABEL=BINARY",
                        help="another build of the Rust client to compare in the same run")
    parser.add_argument("--only", help="comma-separated parts of client names: run only the clients that "
                        "contain one, such as 'Rust,curl' (also drops the ceilings)")
    parser.add_argument("--curl", default="curl")
    parser.add_argument("--nginx", default="nginx")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    args.extra = [tuple(item.split("=", 1)) for item in args.extra]
    if args.runs is None:
        args.runs = 2 if args.quick else 7
    return args


def main():
    args = parse_args()
    cases = quick_cases() if args.quick else full_cases()
    if args.cases:
        wanted = args.cases.split(",")
        cases = [case for case in cases if case[0] in wanted]
    schemes = args.schemes.split(",")

    # The served files, plus the largest set of files that one run saves.
    args.needed = 2 * sum(size * count for _, _, size, count, _ in cases) + 64 * MIB
    bench = Bench(args)
    free = shutil.disk_usage(bench.root).free
    if free < args.needed:
        bench.cleanup()
        sys.exit(f"bench: {bench.root} has {free // MIB} MiB free; the benchmark needs {args.needed // MIB} MiB")

    started = time.monotonic()
    load_before = read_text("/proc/loadavg").split()[:3]
    try:
        print(f"generating files in {bench.root}", file=sys.stderr, flush=True)
        bench.generate(cases)
        bench.make_certificates()
        bench.start_nginx()
        for scheme in schemes:
            bench.check_server(scheme, file_id(cases[0][0], 0))
        for case in cases:
            for scheme in schemes:
                bench.run_case(case, scheme)
    finally:
        bench.cleanup()

    print("## Machine and versions\n")
    print("\n".join(versions(args)))
    print(f"- files served from and saved to: {os.path.dirname(bench.root)}")
    print(f"- wall time of the whole benchmark: {time.monotonic() - started:.0f} s")
    print(f"- load average (1, 5, 15 min) before: {' '.join(load_before)}, "
          f"after: {' '.join(read_text('/proc/loadavg').split()[:3])}\n")
    print("## Results\n")
    print(report(bench.results, args.runs))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as output:
            json.dump(bench.results, output, indent=1)


if __name__ == "__main__":
    main()
