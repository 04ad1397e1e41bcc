#!/usr/bin/env python3
"""Keeps the documentation and the code in step. One check per subcommand, each a ctest:

  rule-examples   every ```yaml block of docs/rules.md through `replywatch check`; blocks marked
                  ```yaml fails must fail with exactly the ```text block that follows them
  event-examples  every event example of docs/events.md posted to a real daemon, with the status
                  of its info string (```json expect=200) and the ```json answer that follows;
                  the signing examples run against a daemon with a secret
  metrics         every metric of a real scrape is in docs/metrics.md and the other way round;
                  every ```promql block there parses (promtool)
  config-keys     every key of the config table in daemon/server/daemon_config.cc is in the
                  configuration reference of docs/operations.md and the other way round
  man-flags       every flag each command's --help prints is in man/replywatch.1, and back
  man-pages       the man pages render without warnings, and `cmake --install` installs them
  links           every relative link of every Markdown file resolves inside the repository

Failure messages list exactly the missing names, so a new metric, key or flag is easy to add.
"""

import argparse
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)


def fenced_blocks(path):
    """(info string, body, line number) of every fenced block, in order."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    blocks = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        blocks.append((match.group(1).strip(), match.group(2), line))
    return blocks


def info_words(info):
    words = info.split()
    language = words[0] if words else ""
    attributes = {}
    flags = set()
    for word in words[1:]:
        if "=" in word:
            key, value = word.split("=", 1)
            attributes[key] = value
        else:
            flags.add(word)
    return language, attributes, flags


class Failures:
    def __init__(self):
        self.messages = []

    def add(self, message):
        self.messages.append(message)

    def exit(self, what):
        if self.messages:
            for message in self.messages:
                print("FAIL: " + message, file=sys.stderr)
            print(f"{what}: {len(self.messages)} problem(s)", file=sys.stderr)
            sys.exit(1)
        print(f"{what}: OK")


# --- the daemon ------------------------------------------------------------------------------

class Daemon:
    """`replywatch run` on free loopback ports, in a scratch directory."""

    def __init__(self, binary, rules, extra_config="", work=None):
        self.work = work or tempfile.mkdtemp(prefix="rw-docs-")
        config = os.path.join(self.work, "replywatch.yaml")
        with open(config, "w") as f:
            f.write(f"rules: {rules}\ndata: {self.work}/data\n"
                    "ingest_listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\n" + extra_config)
        self.log_path = os.path.join(self.work, "daemon.log")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([binary, "run", "--config", config],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self.ports = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with open(self.log_path) as f:
                text = f.read()
            self.ports = dict(re.findall(r"(ingest|admin) listening on 127\.0\.0\.1:(\d+)", text))
            if len(self.ports) == 2 and self.get("/-/ready")[0] == 200:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("the daemon did not become ready:\n" + open(self.log_path).read())

    def url(self, listener, path):
        return f"http://127.0.0.1:{self.ports[listener]}{path}"

    def get(self, path):
        if "admin" not in self.ports:
            return 0, b""
        try:
            with urllib.request.urlopen(self.url("admin", path), timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            return 0, b""

    def post(self, body, content_type, headers=None):
        request = urllib.request.Request(self.url("ingest", "/v1/events"), data=body,
                                         method="POST",
                                         headers={"Content-Type": content_type, **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.work, ignore_errors=True)


# --- rule-examples ---------------------------------------------------------------------------

def rule_examples(args):
    failures = Failures()
    blocks = fenced_blocks(os.path.join(args.source, "docs/rules.md"))
    checked = 0
    for i, (info, body, line) in enumerate(blocks):
        language, _, flags = info_words(info)
        if language != "yaml":
            continue
        checked += 1
        must_fail = "fails" in flags
        with tempfile.TemporaryDirectory(prefix="rw-rules-") as directory:
            with open(os.path.join(directory, "example.yaml"), "w") as f:
                f.write(body)
            result = subprocess.run([args.binary, "check", directory], capture_output=True,
                                    text=True, timeout=60)
        printed = [l.replace(directory + "/", "") for l in result.stdout.splitlines()]
        where = f"docs/rules.md:{line}"
        if not must_fail:
            if result.returncode != 0:
                failures.add(f"{where}: the example should pass `replywatch check` but got:\n  "
                             + "\n  ".join(printed))
            continue
        if result.returncode != 1:
            failures.add(f"{where}: the example marked `fails` passed `replywatch check`")
            continue
        following = blocks[i + 1] if i + 1 < len(blocks) else None
        if following is None or info_words(following[0])[0] != "text":
            failures.add(f"{where}: a `yaml fails` example must be followed by a ```text block "
                         "with the expected messages")
            continue
        expected = [l for l in following[1].splitlines() if l.strip()]
        if printed != expected:
            failures.add(f"{where}: `replywatch check` printed\n  " + "\n  ".join(printed) +
                         "\nbut the page says\n  " + "\n  ".join(expected))
    if checked == 0:
        failures.add("docs/rules.md has no ```yaml example")
    failures.exit(f"rule examples ({checked} checked)")


# --- event-examples --------------------------------------------------------------------------

CONTENT_TYPES = {"json": "application/json", "ndjson": "application/x-ndjson",
                 "text": "text/plain"}
RELAXED = "dedup_retention: 36500d\nmax_future_skew: 36500d\n"


def event_examples(args):
    failures = Failures()
    path = os.path.join(args.source, "docs/events.md")
    blocks = fenced_blocks(path)
    rules = os.path.join(args.source, "rules")
    daemons = {}
    posted = 0
    try:
        for i, (info, body, line) in enumerate(blocks):
            language, attributes, _ = info_words(info)
            where = f"docs/events.md:{line}"
            if "expect" not in attributes:
                continue
            kind = attributes.get("daemon", "relaxed")
            if kind not in daemons:
                daemons[kind] = Daemon(args.binary, rules, RELAXED if kind == "relaxed" else "")
            content_type = CONTENT_TYPES.get(language)
            if content_type is None:
                failures.add(f"{where}: no content type for an example in ```{language}")
                continue
            status, answer = daemons[kind].post(body.encode(), content_type)
            posted += 1
            if str(status) != attributes["expect"]:
                failures.add(f"{where}: the page says {attributes['expect']}, the daemon answered "
                             f"{status} {answer.decode(errors='replace').strip()}")
                continue
            following = blocks[i + 1] if i + 1 < len(blocks) else None
            if following is not None and following[0].split() == ["json", "answer"]:
                try:
                    got = json.loads(answer)
                except ValueError:
                    got = answer.decode(errors="replace")
                if got != json.loads(following[1]):
                    failures.add(f"{where}: the daemon answered {json.dumps(got)}, the page says "
                                 f"{json.dumps(json.loads(following[1]))}")
        if posted == 0:
            failures.add("docs/events.md has no example marked expect=STATUS")
        signed_examples(args, blocks, failures)
        signature_worked_example(path, failures)
    finally:
        for daemon in daemons.values():
            daemon.stop()
    failures.exit(f"event examples ({posted} posted)")


def signed_examples(args, blocks, failures):
    examples = [(info_words(info)[0], body, line) for info, body, line in blocks
                if "signed-example" in info_words(info)[2]]
    if {language for language, _, _ in examples} != {"sh", "python"}:
        failures.add("docs/events.md must have a ```sh signed-example and a ```python "
                     "signed-example")
    work = tempfile.mkdtemp(prefix="rw-signed-")
    secret_path = os.path.join(work, "secret")
    with open(secret_path, "w") as f:
        f.write("a-test-secret-" + hashlib.sha256(work.encode()).hexdigest()[:16] + "\n")
    daemon = Daemon(args.binary, os.path.join(args.source, "rules"),
                    f"ingest_secret_file: {secret_path}\n")
    try:
        for language, body, line in examples:
            script = body.replace("127.0.0.1:9870", "127.0.0.1:" + daemon.ports["ingest"])
            command = ["bash", "-c", script] if language == "sh" else [sys.executable, "-c", script]
            result = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=60)
            output = result.stdout + result.stderr
            if result.returncode != 0 or '"accepted":1' not in output.replace(" ", "").replace(
                    "'accepted':1", '"accepted":1'):
                failures.add(f"docs/events.md:{line}: the signed {language} example was not "
                             f"accepted:\n  {output.strip()}")
        unsigned = daemon.post(b'{"id":"u1"}', "application/json")[0]
        if unsigned != 401:
            failures.add(f"an unsigned request to a daemon with a secret got {unsigned}, not 401")
    finally:
        daemon.stop()
        shutil.rmtree(work, ignore_errors=True)


def signature_worked_example(path, failures):
    """The worked example's secret, timestamp, body and digest must agree."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    match = re.search(r"printf '%s\.%s' (\d+) '([^']*)' \\\n\s*\| openssl dgst -sha256 -hmac "
                      r"(\S+) -r \| cut -d' ' -f1\n# ([0-9a-f]{64})", text)
    if not match:
        failures.add("docs/events.md: the signature worked example (printf ... | openssl dgst) "
                     "was not found")
        return
    timestamp, body, secret, shown = match.groups()
    digest = hmac.new(secret.encode(), (timestamp + "." + body).encode(),
                      hashlib.sha256).hexdigest()
    if digest != shown:
        failures.add(f"docs/events.md: the worked example's signature is {digest}, not {shown}")
    for where in re.findall(r"[0-9a-f]{64}", text):
        if where != digest:
            failures.add(f"docs/events.md: {where} is not the worked example's signature")


# --- metrics ---------------------------------------------------------------------------------

METRIC_ROW = re.compile(r"^\|\s*`([a-z_][a-z0-9_]*)`\s*\|", re.M)


def scraped_families(text):
    families = set(re.findall(r"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ", text, re.M))
    for name in re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", text, re.M):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        families.add(base if base in families else name)
    return families


def jetstream_scrape(args, body):
    """The families a daemon with log.kind jetstream serves after taking `body`."""
    work = tempfile.mkdtemp(prefix="rw-metrics-js-")
    log = open(os.path.join(work, "nats.log"), "w+")
    nats = subprocess.Popen(["nats-server", "-js", "-a", "127.0.0.1", "-p", "-1", "-sd",
                             os.path.join(work, "nats")], stdout=log, stderr=subprocess.STDOUT)
    daemon = None
    try:
        port = None
        deadline = time.monotonic() + 20
        while port is None and time.monotonic() < deadline and nats.poll() is None:
            log.seek(0)
            text = log.read()
            found = re.search(r"Listening for client connections on [0-9.]+:(\d+)", text)
            port = found.group(1) if found and "Server is ready" in text else None
            time.sleep(0.05)
        if port is None:
            raise RuntimeError("nats-server did not start")
        os.makedirs(os.path.join(work, "daemon"))
        daemon = Daemon(args.binary, os.path.join(args.source, "rules"),
                        f"log:\n  kind: jetstream\n  servers: [nats://127.0.0.1:{port}]\n",
                        work=os.path.join(work, "daemon"))
        daemon.post(body, "application/x-ndjson")
        return scraped_families(daemon.get("/metrics")[1].decode())
    finally:
        if daemon:
            daemon.stop()
        nats.terminate()
        nats.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def metrics(args):
    failures = Failures()
    path = os.path.join(args.source, "docs/metrics.md")
    with open(path, encoding="utf-8") as f:
        page = f.read()
    documented = {name for name in METRIC_ROW.findall(page)
                  if name.startswith(("replywatch_", "process_"))}
    work = tempfile.mkdtemp(prefix="rw-metrics-")
    daemon = Daemon(args.binary, os.path.join(args.source, "rules"),
                    "alertmanager:\n  urls: [http://127.0.0.1:9]\n"
                    "adapters:\n  - {name: support, kind: chatwoot, platform: chatwoot, "
                    "insecure: true}\n", work=work)
    try:
        now = int(time.time() * 1000)
        events = []
        for platform, shop in [("tmall", "tm-a"), ("douyin", "dy-a"), ("amazon", "amz-a"),
                               ("ebay", "eb-a"), ("xiaohongshu", "xhs-a")]:
            events += [
                {"id": f"{shop}-1", "platform": platform, "shop": shop, "type": "buyer_message",
                 "conversation": "c1", "ts": now - 60_000},
                {"id": f"{shop}-2", "platform": platform, "shop": shop, "type": "agent_message",
                 "conversation": "c1", "agent": "a1", "ts": now - 50_000},
                {"id": f"{shop}-3", "platform": platform, "shop": shop, "type": "agent_status",
                 "agent": "a1", "status": "online", "ts": now - 40_000},
            ]
        body = "".join(json.dumps(e) + "\n" for e in events)
        body += '{"id": "bad"}\n'
        daemon.post(body.encode(), "application/x-ndjson")
        status, scrape = daemon.get("/metrics")
        if status != 200:
            failures.add(f"/metrics answered {status}")
        scraped = scraped_families(scrape.decode())
    finally:
        daemon.stop()
    # The metrics of log.kind jetstream come from a daemon publishing to a real nats-server.
    scraped |= jetstream_scrape(args, body.encode())
    for name in sorted(scraped - documented):
        failures.add(f"metric {name} is served but not in docs/metrics.md")
    for name in sorted(documented - scraped):
        failures.add(f"metric {name} is in docs/metrics.md but not served")
    if args.promtool:
        queries = [(body, line) for info, body, line in fenced_blocks(path)
                   if info_words(info)[0] == "promql"]
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
            f.write("groups:\n  - name: docs\n    rules:\n")
            for n, (query, _) in enumerate(queries):
                f.write(f"      - record: docs:query{n}\n        expr: {json.dumps(query)}\n")
            rule_file = f.name
        result = subprocess.run([args.promtool, "check", "rules", rule_file], capture_output=True,
                                text=True)
        os.unlink(rule_file)
        if result.returncode != 0:
            failures.add("a ```promql query of docs/metrics.md does not parse:\n" + result.stdout +
                         result.stderr)
    failures.exit(f"metrics ({len(scraped)} served, {len(documented)} documented)")


# --- config-keys -----------------------------------------------------------------------------

def code_table(path, name):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    match = re.search(name + r"\s*=\s*\{(.*?)\};", text, re.S)
    if not match:
        raise SystemExit(f"{path}: no table {name}")
    return re.findall(r'"([a-z_]+)"', match.group(1))


def config_keys(args):
    failures = Failures()
    source = os.path.join(args.source, "daemon/server/daemon_config.cc")
    keys = set(code_table(source, "kConfigKeys"))
    keys |= {"alertmanager." + k for k in code_table(source, "kAlertmanagerKeys")}
    factory = os.path.join(args.source, "daemon/adapters/adapter_factory.h")
    keys |= {"adapters." + k for k in code_table(factory, "kCommonAdapterKeys")}
    log_source = os.path.join(args.source, "daemon/jetstream/log_config.cc")
    keys |= {"log." + k for k in code_table(log_source, "kLogKeys")}
    with open(os.path.join(args.source, "docs/operations.md"), encoding="utf-8") as f:
        page = f.read()
    match = re.search(r"^## Configuration reference\n(.*?)(?=^## )", page, re.M | re.S)
    if not match:
        failures.add("docs/operations.md has no '## Configuration reference' section")
        failures.exit("config keys")
    documented = set(re.findall(r"^\|\s*`([a-z_.]+)`", match.group(1), re.M))
    for key in sorted(keys - documented):
        failures.add(f"config key {key} is accepted by the daemon but not in the configuration "
                     "reference of docs/operations.md")
    for key in sorted(documented - keys):
        failures.add(f"config key {key} is in docs/operations.md but the daemon does not accept "
                     "it")
    failures.exit(f"config keys ({len(keys)})")


# --- man-flags -------------------------------------------------------------------------------

def help_flags(binary, command):
    argv = [binary] + ([command] if command else []) + ["--help"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", result.stdout))


def man_sections(path):
    """Flags described per command: the tag lines of .TP paragraphs, under .SS replywatch
    COMMAND in COMMANDS, or (the top level) under DESCRIPTION."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().replace("\\-", "-").splitlines()
    sections = {}
    current = None
    for i, line in enumerate(lines):
        if line.startswith(".SH"):
            current = "" if line.split()[1:2] == ["DESCRIPTION"] else None
            continue
        heading = re.match(r'^\.SS\s+"?replywatch\s+([a-z]+)', line)
        if heading:
            current = heading.group(1)
            continue
        if current is None or i == 0 or not lines[i - 1].startswith(".TP"):
            continue
        for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", line):
            sections.setdefault(current, set()).add(flag)
    return sections


def man_flags(args):
    failures = Failures()
    page = os.path.join(args.source, "man/replywatch.1")
    sections = man_sections(page)
    for command in ["", "check", "replay", "run", "adapt"]:
        shown = help_flags(args.binary, command)
        documented = sections.get(command, set())
        name = f"replywatch {command}".strip()
        for flag in sorted(shown - documented):
            failures.add(f"{name} --help prints {flag}, which man/replywatch.1 does not describe "
                         f"under {name}")
        for flag in sorted(documented - shown):
            failures.add(f"man/replywatch.1 describes {flag} under {name}, which `{name} --help` "
                         "does not print")
    failures.exit("man page flags")


def man_pages(args):
    failures = Failures()
    pages = ["man/replywatch.1", "man/replywatch-rules.5"]
    for page in pages:
        result = subprocess.run([args.groff, "-man", "-Tutf8", "-ww", "-z",
                                 os.path.join(args.source, page)], capture_output=True, text=True)
        if result.returncode != 0 or result.stderr.strip():
            failures.add(f"{page} does not render cleanly:\n{result.stderr}")
    with tempfile.TemporaryDirectory(prefix="rw-install-") as prefix:
        result = subprocess.run([args.cmake, "--install", args.build_dir, "--prefix", prefix],
                                capture_output=True, text=True)
        if result.returncode != 0:
            failures.add("cmake --install failed:\n" + result.stdout + result.stderr)
        installed = set()
        for directory, _, names in os.walk(prefix):
            installed |= {os.path.relpath(os.path.join(directory, n), prefix) for n in names}
        for wanted in ["bin/replywatch", "share/man/man1/replywatch.1",
                       "share/man/man5/replywatch-rules.5"]:
            if wanted not in installed:
                failures.add(f"cmake --install did not install {wanted} (installed: "
                             f"{sorted(installed)})")
    failures.exit("man pages")


# --- links -----------------------------------------------------------------------------------

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading):
    text = re.sub(r"[`*_]", lambda m: "_" if m.group(0) == "_" else "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    found = set()
    counts = {}
    in_fence = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("```"):
                in_fence = not in_fence
            if in_fence:
                continue
            match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if match:
                base = slug(match.group(1))
                n = counts.get(base, 0)
                counts[base] = n + 1
                found.add(base if n == 0 else f"{base}-{n}")
    return found


def markdown_files(root):
    tracked = subprocess.run(["git", "ls-files", "*.md", "**/*.md"], cwd=root,
                             capture_output=True, text=True)
    files = set(tracked.stdout.split()) if tracked.returncode == 0 else set()
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = [d for d in subdirectories
                             if not d.startswith(".") and not d.startswith("build")]
        for name in names:
            if name.endswith(".md"):
                files.add(os.path.relpath(os.path.join(directory, name), root))
    return sorted(f for f in files if os.path.exists(os.path.join(root, f)))


def links(args):
    failures = Failures()
    root = os.path.realpath(args.source)
    count = 0
    for relative in markdown_files(root):
        path = os.path.join(root, relative)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        text_outside_code = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
        text_outside_code = re.sub(r"`[^`\n]*`", "", text_outside_code)
        for match in LINK.finditer(text_outside_code):
            target = match.group(1) or match.group(2)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue  # http:, https:, mailto:
            count += 1
            file_part, _, anchor = target.partition("#")
            resolved = path if not file_part else os.path.realpath(
                os.path.join(os.path.dirname(path), file_part))
            if not (resolved == root or resolved.startswith(root + os.sep)):
                failures.add(f"{relative}: link {target} points outside the repository")
                continue
            if not os.path.exists(resolved):
                failures.add(f"{relative}: link {target}: no such file")
                continue
            if anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
                failures.add(f"{relative}: link {target}: no heading #{anchor} in "
                             f"{os.path.relpath(resolved, root)}")
    failures.exit(f"links ({count} checked)")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("check", choices=["rule-examples", "event-examples", "metrics",
                                          "config-keys", "man-flags", "man-pages", "links"])
    parser.add_argument("--source", required=True, help="the repository's top directory")
    parser.add_argument("--binary", help="the replywatch binary")
    parser.add_argument("--promtool", help="promtool, to parse the ```promql queries")
    parser.add_argument("--groff", default="groff")
    parser.add_argument("--cmake", default="cmake")
    parser.add_argument("--build-dir", help="the build tree, for cmake --install")
    args = parser.parse_args()
    {"rule-examples": rule_examples, "event-examples": event_examples, "metrics": metrics,
     "config-keys": config_keys, "man-flags": man_flags, "man-pages": man_pages,
     "links": links}[args.check](args)


if __name__ == "__main__":
    main()
