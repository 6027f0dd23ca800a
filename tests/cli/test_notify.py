"""`--notify URL`: the audit's summary posted to a chat's incoming webhook (a loopback server here),
only when an unmuted alarm is at or above --fail-on (or always, by option); the URL a secret no
output holds; a refused post a warning that changes no exit code. And `--metrics FILE` from the
command line."""

from __future__ import annotations

import json
import logging
import socket
import threading

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from werkzeug import Response

from auditor.common.paths import sample_dir
from auditor.report import notify
from tests.conftest import account, audited

SECRET = "T0KEN-b7Xq9SecretPart"
HOSTILE = "<!channel> @here & [click](https://evil.example) *Evil*\nsecond line"


@pytest.fixture(scope="module")
def sample() -> dict:
    return audited(sample_dir())


def hook(httpserver, status: int = 200) -> str:
    """A webhook on the loopback server that answers `status` (the only one); its URL, holding the secret."""
    httpserver.clear_all_handlers()
    httpserver.expect_request(f"/services/{SECRET}", method="POST").respond_with_data("ok", status=status)
    return httpserver.url_for(f"/services/{SECRET}")


def our_log(caplog) -> str:
    """What was logged on our side (the loopback server's own log names the paths it serves)."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug"))


def posted(httpserver) -> list[dict]:
    return [json.loads(request.get_data()) for request, _ in httpserver.log]


def unmuted(results: dict, at_least: str) -> list[dict]:
    order = ["info", "low", "medium", "high", "critical"]
    return [f for f in results["findings"] if f["status"] == "alarm" and not f["muted"]
            and order.index(f["severity"]) >= order.index(at_least)]


# --- what is said ---------------------------------------------------------------------------


def test_summary_of_the_sample(sample):
    text = notify.summary(sample, "high", "/srv/audits/report.html")
    lines = text.splitlines()
    high = unmuted(sample, "high")
    every = unmuted(sample, "info")
    assert lines[0] == (f"auditor: the audit of 2026-11-30 (5 accounts, 11 environments) has {len(every)} unmuted "
                        f"alarms ({sum(f['severity'] == 'high' for f in every)} high, "
                        f"{sum(f['severity'] == 'medium' for f in every)} medium, "
                        f"{sum(f['severity'] == 'low' for f in every)} low); {len(high)} at or above high.")
    limits = next(line for line in lines if line.startswith("Limits: "))
    assert "Globex Corporation / production: billable flows 4 of 3 (1 over), endpoints 6 of 3 (3 over)" in limits
    assert "Acme Retail / production: endpoints 5 of 5 (at the limit), trading partners 1 of 0 (1 over)" in limits
    assert "Hooli" not in limits  # within its limits
    alarms = next(line for line in lines if line.startswith("Alarms at or above high: "))
    assert "high: More endpoints in use than licensed (Globex Corporation / production): production: 6 endpoints" \
        in alarms
    assert alarms.endswith(f"; and {len(high) - notify.TOP} more alarm.")
    assert lines[-1] == "Report: /srv/audits/report.html"
    assert not any(line.startswith("Changes") for line in lines)  # no history, no changes


def test_near_a_limit_by_the_near_rules_share(sample):
    doc = json.loads(json.dumps(sample))
    doc["accounts"] = doc["accounts"][:1]  # Acme Retail alone: the others are further along
    env = doc["accounts"][0]["environments"][0]  # its production
    # (a results file says where each stands and the share used: the summary takes them from it)
    env["flows"].update(billable=9, entitled=10, state="within", share=0.9)
    env["endpoints"].update(used=4, entitled=5, state="within", share=0.8)
    env["trading_partners"].update(used=0, state="within", share=0.0)
    text = notify.summary(doc, "high")
    assert "Acme Retail / production: billable flows 9 of 10 (near the limit, 90%)" in text
    assert "endpoints 4 of 5" not in text  # 80%: not near by the rule's 0.9
    for rule in doc["rules"]:
        if rule["id"] == "endpoints-near-entitlement":
            rule["parameters"]["share"] = 0.8
    assert "endpoints 4 of 5 (near the limit, 80%)" in notify.summary(doc, "high")


def test_changes_by_their_headlines_or_counted(sample):
    doc = json.loads(json.dumps(sample))
    alarm = unmuted(doc, "high")[2]
    rows = [{"account": "Acme Retail", "environment": "production", "kind": "endpoint", "change": "added",
             "id": "x", "name": None, "detail": "d"},
            {"account": alarm["account"], "environment": alarm["environment"], "kind": "finding", "change": "new",
             "id": alarm["id"], "name": None, "detail": "d"}]
    doc["changes"] = {"since": {"Acme Retail": "2026-10-31"}, "rows": rows}
    text = notify.summary(doc, "high")
    assert "2 changes since the last recorded audit (2026-10-31)." in text
    alarms = next(line for line in text.splitlines() if line.startswith("Alarms"))
    assert alarms.startswith("Alarms at or above high (1 new since the last recorded audit): high: ")
    assert alarms.split("; ")[0].endswith("[new]")  # what is new comes first
    doc["changes"]["headline"] = ["endpoints 5 -> 7: +shopify-eu (connection created by jo@acme.com, UI)",
                                  "billable flows 6 -> 7: <b>Orders EU</b> enabled"]
    text = notify.summary(doc, "high")
    assert ("Changes: endpoints 5 -&gt; 7: +shopify-eu (connection created by jo@acme.com, UI); "
            "billable flows 6 -&gt; 7: &lt;b&gt;Orders EU&lt;/b&gt; enabled.") in text
    assert "changes since the last recorded audit" not in text


def test_data_cannot_mention_link_or_forge_a_line():
    shown = notify.escape(HOSTILE)
    assert "<" not in shown and ">" not in shown
    assert "&lt;!channel&gt;" in shown and " &amp; " in shown
    assert "@here" not in shown and "@\u2060here" in shown
    assert "](" not in shown  # no Markdown link
    assert "\n" not in shown and "\\n" in shown
    assert notify.escape("jo@acme.com") == "jo@acme.com"  # an address stays as it is


def test_hostile_account_name_in_the_posted_text(tmp_path, httpserver):
    root = account(tmp_path, [{"_id": f"c{i}", "type": "http", "http": {"baseURI": f"https://api{i}.example.com"}}
                              for i in range(3)],
                   [{"_id": "f1", "pageGenerators": [{"_exportId": "e-c0"}],
                     "pageProcessors": [{"type": "import", "_importId": "i-c1"}, {"type": "import", "_importId": "i-c2"}]}],
                   licenses=[{"_id": "l1", "type": "endpoint", "numEndpoints": 1, "numFlows": 1}], name="hostile")
    (root / "account.json").write_text(json.dumps({"name": HOSTILE}))
    doc = audited(root)
    assert notify.due(doc["findings"], "high")
    assert notify.post(hook(httpserver), notify.summary(doc, "high")) is None
    [body] = posted(httpserver)
    assert list(body) == ["text"]
    assert "<" not in body["text"] and "@here" not in body["text"] and "](" not in body["text"]
    assert "&lt;!channel&gt; @\u2060here &amp; [click]\u2060(https://evil.example) *Evil*\\nsecond line / production: " \
           "billable flows 1 of 1 (at the limit), endpoints 3 of 1 (2 over)" in body["text"]


# --- when a post is made ------------------------------------------------------------------------


def test_due_only_on_alarms_at_or_above_fail_on_or_always(sample):
    findings = sample["findings"]
    assert notify.due(findings, "high")
    assert not notify.due(findings, "critical")
    assert notify.due(findings, "critical", always=True)
    assert not notify.due(findings, "never")
    muted = [{**f, "muted": True} for f in findings]
    assert not notify.due(muted, "info")
    assert notify.failing(findings, "high") == sorted(unmuted(sample, "high"), key=lambda f: f["severity"] != "critical")


# --- the post -----------------------------------------------------------------------------------


def test_post_sends_the_text_as_json(httpserver, caplog):
    caplog.set_level(logging.DEBUG)
    assert notify.post(hook(httpserver), "hello") is None
    [(request, _)] = httpserver.log
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.get_data()) == {"text": "hello"}
    assert SECRET not in our_log(caplog)  # httpx logs the URL of each request: held back


@pytest.mark.parametrize("status", [403, 404, 500, 302])
def test_a_refused_post_is_a_warning_without_the_url(httpserver, status):
    warning = notify.post(hook(httpserver, status), "hello")
    assert warning == f"notify: the webhook refused the post (HTTP {status}); the audit's outcome is unchanged"
    assert len(httpserver.log) == 1  # one post, no retries


def test_a_webhook_that_does_not_answer_in_time(httpserver):
    released = threading.Event()

    def late(request):
        released.wait(30)  # holds the answer until the client has given up (released below)
        return Response("ok")

    httpserver.expect_request(f"/services/{SECRET}").respond_with_handler(late)
    try:
        warning = notify.post(httpserver.url_for(f"/services/{SECRET}"), "hello", timeout=0.2)
    finally:
        released.set()
    assert warning == "notify: the webhook could not be reached (timed out); the audit's outcome is unchanged"


def test_a_webhook_that_cannot_be_reached(caplog):
    caplog.set_level(logging.DEBUG)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    warning = notify.post(f"http://127.0.0.1:{port}/services/{SECRET}", "hello")
    assert warning == ("notify: the webhook could not be reached (connection failed); the audit's outcome is "
                       "unchanged")
    assert SECRET not in our_log(caplog)


# --- the command line ---------------------------------------------------------------------------


def everything_written(run, tmp_path) -> str:
    return run.stdout + run.stderr + "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*")
                                             if p.is_file())


def test_audit_posts_on_alarms_and_keeps_its_exit_code(run_cli, httpserver, tmp_path):
    report = tmp_path / "report.html"
    run = run_cli("audit", "--sample", "--notify", hook(httpserver), "--html", report, "--csv", tmp_path / "csv",
                  "--xlsx", tmp_path / "r.xlsx")
    assert run.exit_code == 1  # alarms at or above high, as without --notify
    [body] = posted(httpserver)
    assert body["text"].startswith("auditor: the audit of 2026-11-30 (5 accounts, 11 environments)")
    assert body["text"].endswith(f"Report: {report.resolve()}")
    assert "notify: the summary was posted to the webhook" in run.stderr + run.stdout
    assert SECRET not in everything_written(run, tmp_path)


def test_a_refused_post_changes_no_exit_code(run_cli, httpserver, tmp_path):
    run = run_cli("audit", "--sample", "--notify", hook(httpserver, 500))
    assert run.exit_code == 1
    assert "notify: the webhook refused the post (HTTP 500); the audit's outcome is unchanged" in run.stderr
    assert SECRET not in everything_written(run, tmp_path)
    quiet = run_cli("audit", "--sample", "--fail-on", "never", "--notify-always", "--notify", hook(httpserver, 403),
                    "-q")
    assert quiet.exit_code == 0
    assert quiet.stderr == "notify: the webhook refused the post (HTTP 403); the audit's outcome is unchanged\n"


def test_nothing_posted_without_alarms_unless_always(run_cli, httpserver):
    url = hook(httpserver)
    run = run_cli("audit", "--sample", "--fail-on", "critical", "--notify", url)
    assert run.exit_code == 0
    assert posted(httpserver) == []
    assert "notify: nothing posted (no unmuted alarm at or above critical; --notify-always posts anyway)" \
        in run.stdout + run.stderr
    run = run_cli("audit", "--sample", "--fail-on", "critical", "--notify", url, "--notify-always")
    assert run.exit_code == 0
    [body] = posted(httpserver)
    assert "; 0 at or above critical." in body["text"].splitlines()[0]


def test_the_url_from_the_environment_and_the_configuration(run_cli, httpserver, tmp_path, monkeypatch):
    url = hook(httpserver)
    monkeypatch.setenv("AUDITOR_NOTIFY_URL", url)
    assert run_cli("audit", "--sample").exit_code == 1
    assert len(posted(httpserver)) == 1
    monkeypatch.delenv("AUDITOR_NOTIFY_URL")
    config = tmp_path / "auditor.yaml"
    config.write_text(f"notify:\n  url: {url}\n  always: true\n")
    run = run_cli("--config", config, "audit", "--sample", "--fail-on", "never")
    assert run.exit_code == 0
    assert len(posted(httpserver)) == 2  # always, by the configuration
    assert SECRET not in run.stdout + run.stderr


def test_the_option_wins_over_the_environment(run_cli, httpserver, monkeypatch):
    monkeypatch.setenv("AUDITOR_NOTIFY_URL", httpserver.url_for("/services/from-the-environment"))
    run_cli("audit", "--sample", "--notify", hook(httpserver))
    assert [r.path for r, _ in httpserver.log] == [f"/services/{SECRET}"]


@pytest.mark.parametrize("url", [f"ftp://user:{SECRET}@hooks.example/x", f"hooks.example/services/{SECRET}",
                                 f"https://hooks.example:{SECRET}/x", f"https://hooks.example/{SECRET} x",
                                 f"javascript:{SECRET}"])
def test_a_url_that_is_no_webhook_is_a_usage_error_that_does_not_show_it(run_cli, url, tmp_path, monkeypatch):
    run = run_cli("audit", "--sample", "--notify", url)
    assert run.exit_code == 2
    assert "Invalid value for '--notify' (or $AUDITOR_NOTIFY_URL): " in run.stderr
    assert SECRET not in run.stdout + run.stderr
    assert not list(tmp_path.glob("results-*"))  # refused before anything is audited
    config = tmp_path / "auditor.yaml"
    config.write_text(json.dumps({"notify": {"url": url}}))
    run = run_cli("--config", config, "audit", "--sample")
    assert run.exit_code == 2
    assert f"{config}: notify.url: " in run.stderr
    assert SECRET not in run.stdout + run.stderr


def test_metrics_from_the_command_line(run_cli, tmp_path):
    path = tmp_path / "auditor.prom"
    run = run_cli("audit", "--sample", "--fail-on", "never", "--min-severity", "high", "--metrics", path)
    assert run.exit_code == 0
    assert f"Metrics written to {path}" in run.stdout
    found = {(s.name, tuple(sorted(s.labels.items()))): s.value
             for f in openmetrics(path.read_text()) for s in f.samples}
    assert found[("auditor_endpoints_used", (("account", "Globex Corporation"), ("environment", "production")))] == 6
    # --min-severity high keeps the medium findings out of the results file, not out of the monitor's count
    assert all(f["severity"] == "high" for f in run.results["findings"])
    medium = sum(v for (name, labels), v in found.items() if name == "auditor_alarms" and ("severity", "medium") in labels)
    assert medium > 0


def test_metrics_over_an_input_is_refused(run_cli, tmp_path):
    out = tmp_path / "r.json"
    run = run_cli("audit", "--sample", "-o", out, "--metrics", out)
    assert run.exit_code == 2
    assert "--metrics" in run.stderr and "name another file" in run.stderr
    inside = run_cli("audit", sample_dir(), "--metrics", sample_dir() / "auditor.prom")
    assert inside.exit_code == 2 and "which this run reads" in inside.stderr
