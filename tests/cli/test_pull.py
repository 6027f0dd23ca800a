"""`auditor pull` against a real HTTP server on loopback (pytest-httpserver) serving the sample
account's resources in pages with Link headers, with faults injected: 429 with Retry-After,
500s, dropped connections, pages cut mid-body, a refused token. The snapshot must come out
complete and identical to a fault-free pull, or the run must stop with a clear error and leave
no snapshot behind."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from werkzeug import Request, Response

from auditor.common.paths import sample_dir
from auditor.pull import MASK, Pull, PullError, Stopped, mask

TOKEN = "tok-SECRET-4f2a9c"
CANARY = "CANARY-hunter2-77"
PAGE = 3


def resources() -> dict[str, list]:
    src = sample_dir() / "acme-retail"
    data = {name: json.loads((src / f"{name}.json").read_text())
            for name in ("connections", "flows", "exports", "imports", "integrations", "licenses")}
    data["audit"] = []  # the audit log (tests/history/test_auditlog.py serves entries)
    # a connection holding real credentials, as a proxy or a future API change might send
    data["connections"].append({"_id": "c-leaky", "name": "Leaky", "type": "http", "http": {
        "baseURI": "https://leaky.example.com", "auth": {"type": "token", "token": {"token": CANARY}},
        "headers": [{"name": "X-Api-Key", "value": CANARY}, {"name": "Accept", "value": "json"}],
        "encrypted": {"password": CANARY}, "accessKeyId": "AKIAEXAMPLE"}})
    return data


class FakeAPI:
    """Lists in pages of PAGE with Link headers; `faults[(resource, skip)]` is a list of what to do
    on successive requests for that page before serving it: an HTTP status, "drop", "cut", "half"."""

    def __init__(self, data: dict[str, list]):
        self.data = data
        self.faults: dict[tuple[str, int], list] = {}
        self.requests: list[str] = []
        self.auth: list[str] = []
        self.lock = threading.Lock()
        self.active = 0
        self.most = 0
        self.next_base: str | None = None  # where Link headers point, when not back here

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
        try:
            time.sleep(0.01)
            return self.respond(request)
        finally:
            with self.lock:
                self.active -= 1

    def respond(self, request: Request) -> Response:
        self.requests.append(request.full_path)
        self.auth.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return Response('{"errors":[{"code":"unauthorized","message":"Bad token"}]}', 401)
        name = urlparse(request.url).path.split("/v1/", 1)[1]
        skip = int(parse_qs(urlparse(request.url).query).get("skip", ["0"])[0])
        plan = self.faults.get((name, skip), [])
        if plan:
            fault = plan.pop(0)
            if fault == "drop":
                request.environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
                return Response("", 500)
            if isinstance(fault, int):
                headers = {"Retry-After": "0"} if fault == 429 else {}
                return Response('{"errors":[{"code":"rate_limited","message":"slow down"}]}', fault, headers)
            body = json.dumps(self.data[name][skip:skip + PAGE]).encode()
            if fault == "half":  # a whole response whose JSON is cut
                return Response(body[: len(body) // 2], 200, content_type="application/json")
            if fault == "cut":  # promises more bytes than it sends
                response = Response(body[: len(body) // 2], 200, content_type="application/json")
                response.headers["Content-Length"] = str(len(body))
                response.automatically_set_content_length = False
                return response
        items = self.data.get(name, [])
        if not items:
            return Response(status=204)
        page = items[skip:skip + PAGE]
        headers = {}
        if skip + PAGE < len(items):
            base = request.base_url if self.next_base is None else self.next_base + "/" + name
            headers["Link"] = f'<{base}?skip={skip + PAGE}&limit={PAGE}>; rel="next"'
        return Response(json.dumps(page), 200, headers, content_type="application/json")


@pytest.fixture
def api(httpserver):
    fake = FakeAPI(resources())
    httpserver.expect_request("/v1/connectors").respond_with_handler(fake)  # partner tests add data
    import re

    httpserver.expect_request(re.compile(r"^/v1/.*")).respond_with_handler(fake)
    fake.base = httpserver.url_for("/v1").rstrip("/")
    return fake


def pull(api, out: Path, **options) -> dict:
    options = {"rate": 1000.0, **options}  # the limiter spaces requests; tests need not wait
    return Pull(out, api.base, TOKEN, backoff=0.01, progress=False, **options).run()


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


def test_a_clean_pull_is_a_snapshot_the_audit_reads(api, tmp_path, run_cli):
    api.data["integrations"] = []  # served as 204 No Content
    manifest = pull(api, tmp_path / "acme")
    data = api.data
    assert manifest["resources"]["flows"] == {"records": len(data["flows"]), "pages": -(-len(data["flows"]) // PAGE)}
    assert manifest["resources"]["integrations"] == {"records": 0, "pages": 1}  # 204: an empty list
    for entry in manifest["files"]:
        import hashlib

        assert hashlib.sha256((tmp_path / "acme" / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
    assert not list(tmp_path.glob(".*partial"))
    assert all(a == f"Bearer {TOKEN}" for a in api.auth)

    # it audits to the same results as the files it served
    original = tmp_path / "orig" / "acme"
    original.mkdir(parents=True)
    for name, rows in api.data.items():
        (original / f"{name}.json").write_text(json.dumps(mask(rows) if name == "connections" else rows))
    pulled = run_cli("audit", tmp_path / "acme", "--as-of", "2026-11-30", "--fail-on", "never")
    served = run_cli("audit", original, "--as-of", "2026-11-30", "--fail-on", "never")
    assert pulled.exit_code == 0 and served.exit_code == 0, pulled.stderr + served.stderr
    a, b = pulled.results, served.results
    for key in ("accounts", "findings", "rule_counts", "load_issues"):
        assert a[key] == b[key], key


def test_credentials_are_masked_and_the_token_is_written_nowhere(api, tmp_path):
    pull(api, tmp_path / "acme")
    everything = b"".join(p.read_bytes() for p in (tmp_path / "acme").rglob("*") if p.is_file())
    assert CANARY.encode() not in everything and TOKEN.encode() not in everything
    conns = [c for p in sorted((tmp_path / "acme" / "connections").glob("*.json")) for c in json.loads(p.read_text())]
    leaky = next(c for c in conns if c["_id"] == "c-leaky")["http"]
    assert leaky["auth"]["token"]["token"] == MASK and leaky["encrypted"]["password"] == MASK
    assert leaky["headers"] == [{"name": "X-Api-Key", "value": MASK}, {"name": "Accept", "value": "json"}]
    assert leaky["accessKeyId"] == "AKIAEXAMPLE" and leaky["baseURI"] == "https://leaky.example.com"


@pytest.mark.parametrize("faults", [
    {("flows", 3): [429, 429]},
    {("connections", 0): [500, 503], ("exports", 3): [502]},
    {("flows", 0): ["drop"], ("imports", 0): ["drop", "drop"]},
    {("flows", 6): ["cut"], ("licenses", 0): ["half"]},
    {("flows", 3): [429, "drop", 500, "cut", "half"]},
], ids=["429", "5xx", "dropped", "cut-mid-body", "all-on-one-page"])
def test_faults_are_retried_and_the_snapshot_is_identical(api, tmp_path, faults):
    pull(api, tmp_path / "clean")
    api.faults = {k: list(v) for k, v in faults.items()}
    pull(api, tmp_path / "faulty")
    assert all(not plan for plan in api.faults.values())  # every fault was met
    assert tree(tmp_path / "faulty") == tree(tmp_path / "clean")


def test_retry_after_is_honoured(api, tmp_path):
    api.faults = {("flows", 0): [429]}
    original = api.respond

    def slow_down(request):
        response = original(request)
        if response.status_code == 429:
            response.headers["Retry-After"] = "1"
        return response

    api.respond = slow_down
    started = time.monotonic()
    pull(api, tmp_path / "acme", concurrency=1)
    assert time.monotonic() - started >= 1.0


def test_a_refused_token_stops_at_once_and_leaves_nothing(api, tmp_path, run_cli, monkeypatch):
    monkeypatch.setenv("INTEGRATOR_TOKEN", "wrong-token")
    run = run_cli("pull", "--out", tmp_path / "acme", "--base-url", api.base, "--rate", "100", output=False)
    assert run.exit_code == 2
    assert "HTTP 401: the token was refused" in run.stderr and "--region eu" in run.stderr
    assert "wrong-token" not in run.stderr + run.stdout and "Traceback" not in run.stderr
    assert list(tmp_path.iterdir()) == []  # no snapshot, no partial folder
    assert len(api.requests) <= 3  # no retrying a refused token


def test_giving_up_leaves_no_snapshot_and_resume_completes_it(api, tmp_path):
    pull(api, tmp_path / "clean")
    api.faults = {("flows", 6): [500] * 10}
    with pytest.raises(PullError, match=r"HTTP 500: gave up after 3 attempts\. Nothing was written to .*--resume"):
        pull(api, tmp_path / "acme", retries=3)
    assert not (tmp_path / "acme").exists()
    partial = tmp_path / ".acme.partial"
    assert (partial / "state.json").exists()
    with pytest.raises(PullError, match="add --resume"):
        pull(api, tmp_path / "acme")
    api.faults = {}
    state = json.loads((partial / "state.json").read_text())["resources"]
    written = {f"/v1/{name}?skip={k * PAGE}&limit={PAGE}" if k else f"/v1/{name}?"
               for name, r in state.items() for k in range(r["pages"])}
    before = len(api.requests)
    pull(api, tmp_path / "acme", resume=True)
    assert tree(tmp_path / "acme") == tree(tmp_path / "clean")
    assert not partial.exists()
    # the resumed pull asked only for what was missing, starting with the page that failed
    again = api.requests[before:]
    assert "/v1/flows?skip=6&limit=3" in again and not written & set(again), (written, again)


def test_concurrency_is_bounded(api, tmp_path):
    pull(api, tmp_path / "acme", concurrency=2)
    assert api.most <= 2


def test_the_cli_pull_then_audit(api, tmp_path, run_cli, monkeypatch):
    monkeypatch.setenv("MY_TOKEN", TOKEN)
    run = run_cli("pull", "--out", tmp_path / "acme", "--base-url", api.base, "--token-env", "MY_TOKEN", "--rate", "100",
                  output=False)
    assert run.exit_code == 0, run.stderr
    assert "14 connections, 12 exports, 14 flows" in run.stdout and run.stderr == ""  # no progress bar off a terminal
    assert TOKEN not in run.stdout
    again = run_cli("pull", "--out", tmp_path / "acme", "--base-url", api.base, "--token-env", "MY_TOKEN",
                    output=False)
    assert again.exit_code == 2 and "already exists" in again.stderr
    missing = run_cli("pull", "--out", tmp_path / "other", "--base-url", api.base, "--token-env", "NOT_SET",
                      output=False)
    assert missing.exit_code == 2 and "set the environment variable NOT_SET" in missing.stderr
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    by_file = run_cli("pull", "--out", tmp_path / "third", "--base-url", api.base, "--token-file", token_file,
                      "--rate", "100", output=False)
    assert by_file.exit_code == 0, by_file.stderr


def test_audit_pull_does_both(api, tmp_path, run_cli, monkeypatch):
    monkeypatch.setenv("INTEGRATOR_TOKEN", TOKEN)
    import auditor.cli

    monkeypatch.setitem(auditor.cli.account.REGIONS, "us", api.base)
    run = run_cli("audit", "--pull", tmp_path / "acme", "--as-of", "2026-11-30", "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    assert "Pulled" in run.stdout and run.results["accounts"][0]["account"] == "acme"


def test_partner_pull_lays_out_connectors(api, tmp_path):
    api.data["connectors"] = [{"_id": "conn-a", "name": "Shopify app"}, {"_id": "conn-b", "name": "EDI app"}]
    api.data["connectors/conn-a/licenses"] = [{"_id": f"l{i}", "email": f"u{i}@x.example"} for i in range(5)]
    api.data["connectors/conn-a/installBase"] = [{"_integrationId": "i1", "email": "u1@x.example"}]
    api.data["connectors/conn-b/licenses"] = []
    api.data["connectors/conn-b/installBase"] = []
    manifest = pull(api, tmp_path / "partner", partner=True)
    out = tmp_path / "partner"
    assert json.loads((out / "connectors.json").read_text()) == api.data["connectors"]
    assert json.loads((out / "connectors" / "conn-a" / "licenses.json").read_text()) == api.data["connectors/conn-a/licenses"]
    assert json.loads((out / "connectors" / "conn-b" / "installBase.json").read_text()) == []
    assert manifest["resources"]["connectors/conn-a/licenses"]["records"] == 5
    assert not (out / "_connectors").exists()
    shutil.rmtree(out)


def test_the_rate_limit_spaces_requests_across_threads():
    from concurrent.futures import ThreadPoolExecutor

    from auditor.pull import RateLimiter

    limiter = RateLimiter(20.0)  # one request every 50 ms at most
    started = time.monotonic()
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda _: limiter.wait(), range(7)))
    assert time.monotonic() - started >= 6 * 0.05 * 0.95  # a lower bound: a slow machine only adds to it


def test_the_real_failure_wins_over_the_cancellations_it_causes(tmp_path):
    """A job cancelled by the failure may finish before the failing job has raised: the error
    reported is still the real one (this ordering is forced here, not left to the scheduler)."""
    from concurrent.futures import ThreadPoolExecutor

    puller = Pull(tmp_path / "x", "http://127.0.0.1:9", "t")
    futures: list = []

    def failing():
        while not (len(futures) == 2 and futures[1].done()):  # the cancellation has finished
            time.sleep(0.001)
        raise PullError("HTTP 401: the token was refused")

    def cancelled():
        raise Stopped("stopped")

    with ThreadPoolExecutor(2) as pool:
        futures += [pool.submit(failing), pool.submit(cancelled)]
        with pytest.raises(PullError, match="token was refused"):
            puller._all(futures)


@pytest.mark.parametrize("elsewhere", ["http://evil.example/v1", "https://{host}/v1", "http://{host}:1/v1"])
def test_a_next_page_link_to_another_host_is_not_followed(api, tmp_path, elsewhere):
    """The token goes with every request: following a Link to another origin would hand it over."""
    host = urlparse(api.base).hostname
    api.next_base = elsewhere.format(host=host)
    with pytest.raises(PullError, match="next-page link leads to another host"):
        pull(api, tmp_path / "acme", resources=("flows",))
    assert not (tmp_path / "acme").exists()


def test_flows_are_pulled_with_their_instance_flows(api, tmp_path):
    pull(api, tmp_path / "acme", resources=("flows",))
    assert api.requests[0] == "/v1/flows?includeInstances=true"


def _not_found(api, resource: str) -> None:
    """The fake API answers 404 for one list, as the real one does for a feature an account lacks."""
    original = api.respond
    api.respond = lambda request: (Response('{"errors":[{"code":"not_found"}]}', 404)
                                   if request.path.endswith(f"/{resource}") else original(request))


def test_an_optional_list_the_api_does_not_serve_is_no_records(api, tmp_path):
    _not_found(api, "syncs")
    manifest = pull(api, tmp_path / "acme", resources=("flows", "syncs"))
    assert manifest["resources"]["syncs"]["records"] == 0


def test_a_required_list_not_served_stops_the_pull(api, tmp_path):
    _not_found(api, "exports")
    with pytest.raises(PullError, match="HTTP 404 where a list was expected"):
        pull(api, tmp_path / "acme", resources=("exports",))


def test_the_months_flow_jobs_are_pulled_for_a_platform_license(api, tmp_path, run_cli):
    """The platform plan counts flows run in a month: with a platform license the pull asks for that
    month's flow jobs (bounded by date, paged), and the audit counts the flows they ran."""
    api.data["licenses"][0]["type"] = "platform"
    api.data["jobs"] = [{"_id": f"j{i}", "type": "flow", "_flowId": "f-orders", "createdAt": "2026-11-0%dT00:00:00Z" % (i + 1)}
                        for i in range(4)]  # two pages
    from datetime import date
    manifest = pull(api, tmp_path / "acme", as_of=date(2026, 11, 29))
    asked = [r for r in api.requests if r.startswith("/v1/jobs")]
    assert asked[0] == ("/v1/jobs?type=flow&createdAt_gte=2026-11-01T00:00:00.000Z"
                        "&createdAt_lte=2026-11-30T23:59:59.999Z")
    assert manifest["resources"]["jobs"]["records"] == 4 and manifest["resources"]["jobs"]["pages"] == 2
    results = run_cli("audit", tmp_path / "acme", "--as-of", "2026-11-29", "--fail-on", "never").results
    acct = results["accounts"][0]
    assert acct["flows_counted"] == "run"
    billable = [f["id"] for f in acct["flows"] if f["billable"]]
    assert billable == ["f-orders"]


@pytest.mark.parametrize("option,asked", [(None, False), (True, True), (False, False)])
def test_jobs_are_pulled_when_asked_and_not_on_other_plans(api, tmp_path, option, asked):
    pull(api, tmp_path / "acme", jobs=option)
    assert any(r.startswith("/v1/jobs") for r in api.requests) == asked


def test_a_december_month_ends_with_the_year(api, tmp_path):
    from datetime import date
    puller = Pull(tmp_path / "x", "https://api.example", TOKEN, as_of=date(2026, 12, 5))
    assert puller.jobs_url().endswith("createdAt_gte=2026-12-01T00:00:00.000Z&createdAt_lte=2026-12-31T23:59:59.999Z")


def test_the_vendors_usage_figures_are_saved_when_served_and_noted_when_not(api, tmp_path, run_cli, monkeypatch):
    manifest = pull(api, tmp_path / "a")  # the fake API has none: 204
    assert manifest["not_served"] == ["licenseEntitlementUsage"] and not (tmp_path / "a" / "usage.json").exists()
    original = api.respond
    body = {"production": {"flowUsage": {"numEnabled": 3}}}
    api.respond = lambda request: (Response(json.dumps(body), 200, content_type="application/json")
                                   if request.path.endswith("/licenseEntitlementUsage") else original(request))
    manifest = pull(api, tmp_path / "b")
    assert "not_served" not in manifest
    assert json.loads((tmp_path / "b" / "usage.json").read_text()) == body
    # and the command says when the figures were not served
    api.respond = original
    monkeypatch.setenv("INTEGRATOR_TOKEN", TOKEN)
    run = run_cli("pull", "--out", tmp_path / "c", "--base-url", api.base, "--rate", "100")
    assert run.exit_code == 0, run.stderr
    assert "did not serve the vendor's usage figures" in run.stdout
