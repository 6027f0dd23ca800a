"""An audit's one-paragraph summary, posted to a chat's incoming webhook (`auditor audit --notify URL`).

The body is `{"text": "..."}`, the one shape both Slack's incoming webhooks and Microsoft Teams'
(Office 365 connector) incoming webhooks take: Slack reads `text` as mrkdwn, Teams as a
message card's text (Markdown). Nothing but `text` is sent, so neither refuses a field it does
not know. Text from the data (account and environment names, rule titles, reasons, the change
headlines) is escaped for them: Slack's control characters `&`, `<` and `>` as the entities Slack
asks for (so no `<!channel>`, `<@U123>` or `<http://...|link>` can be made of a name), a Markdown
link (`[text](url)`) broken, `@channel`, `@here`, `@everyone` and `@all` broken by an invisible
word joiner, and control characters shown escaped on one line (no name forges a line).

The webhook URL is a secret: it goes into the request and nowhere else. No message names it (a
failed post says the HTTP status, or that the webhook could not be reached, and why in a word),
and httpx's own log lines, which name the URL, are held back while the post is made. One post,
no retries: a monthly audit's message is not worth a storm; a failure is a warning and changes
nothing else.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from auditor.common.terminal import printable
from auditor.common.vocabulary import SEVERITIES, SEVERITIES_DOWN, USED, change_counts, plural

TIMEOUT = 10.0  # seconds, for each of connecting, sending and reading the answer
TOP = 5  # environments, alarms and changes a message names; the rest are counted
NEAR = 0.9  # the share that is near a limit when the results do not say the near rules' own

_SAY = {"flows": "billable flows", "endpoints": "endpoints", "trading_partners": "trading partners",
        "agents": "agents"}
_MENTION = re.compile(r"@(?=(?:channel|here|everyone|all|group)\b)", re.IGNORECASE)
_JOINER = "\u2060"  # WORD JOINER: shows as nothing, and no chat reads "@\u2060channel" as a mention


def escape(text) -> str:
    """Text from the data as a chat shows it rather than acts on it."""
    text = printable(str(text), newlines=False)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("](", "]" + _JOINER + "(")  # no Markdown link
    return _MENTION.sub("@" + _JOINER, text)


def _text(finding: dict, field: str) -> str:
    """A finding's text field; "" for none (None in the results, NaN in the audit's frame)."""
    value = finding.get(field)
    return value if isinstance(value, str) else ""


def _at_or_above(severity: str, fail_on: str) -> bool:
    return fail_on != "never" and SEVERITIES.index(severity) >= SEVERITIES.index(fail_on)


def failing(findings: Iterable[dict], fail_on: str) -> list[dict]:
    """The unmuted alarms at or above `fail_on` (none for `never`): what the exit code is 1 for,
    and what a post is made for. Highest severity first, in the order given within one."""
    hits = [f for f in findings if f["status"] == "alarm" and not f["muted"] and _at_or_above(f["severity"], fail_on)]
    return sorted(hits, key=lambda f: SEVERITIES_DOWN.index(f["severity"]))


def due(findings: Iterable[dict], fail_on: str, always: bool = False) -> bool:
    """Whether to post: always, or when there is an unmuted alarm at or above `fail_on`."""
    return always or bool(failing(findings, fail_on))


def _near(results: dict) -> dict[str, float]:
    """Per metric, the share that is near its limit: the near rule's parameter as it ran."""
    out = {metric: NEAR for metric in USED}
    for rule in results.get("rules") or []:
        metric = rule["id"].removesuffix("-near-entitlement").replace("-", "_")
        if rule["id"].endswith("-near-entitlement") and metric in out:
            value = (rule.get("parameters") or {}).get("share")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[metric] = float(value)
    return out


def limits(results: dict) -> list[tuple[float, str]]:
    """(how far along, what to say) for each environment over, at or near a limit it is known to
    have, the furthest first: 'Globex / production: endpoints 6 of 3 (3 over)'."""
    near = _near(results)
    out = []
    for acct in results["accounts"]:
        for env in acct["environments"]:
            said, top = [], 0.0
            for metric in USED:
                usage = env.get(metric)
                entitled = (usage or {}).get("entitled")
                if entitled is None:
                    continue
                used = usage.get({"flows": "billable"}.get(metric, "used")) or 0
                # where it stands and the share used, as the results file says them (some used of
                # none entitled has no share: it is over, furthest of all)
                stands, share = usage.get("state"), usage.get("share")
                share = float("inf") if share is None else share
                if stands == "over" or (stands == "expired" and used > entitled):
                    state = f"{used - entitled:,} over"
                elif stands == "at limit" or (stands == "expired" and used == entitled and used):
                    state = "at the limit"
                elif share >= near[metric]:
                    state = f"near the limit, {share:.0%}"
                else:
                    continue
                said.append(f"{_SAY[metric]} {used:,} of {entitled:,} ({state})")
                top = max(top, share)
            if said:
                lapsed = env.get("license_expired")
                where = f"{escape(acct['account'])} / {escape(env['environment'])}"
                out.append((top, f"{where}: {', '.join(said)}"
                                 + (f"; its license expired {lapsed}" if lapsed else "")))
    return sorted(out, key=lambda item: -item[0])


def _more(items: list[str], n: int, word: str, words: str | None = None) -> str:
    shown = "; ".join(items[:TOP])
    return shown + (f"; and {plural(n - TOP, 'more ' + word, 'more ' + (words or word + 's'))}" if n > TOP else "")


def summary(results: dict, fail_on: str, report: str | None = None, findings: Iterable[dict] | None = None) -> str:
    """The run's summary for a chat: alarms against --fail-on, the environments over, at or near
    a limit, the alarms (those new since the last recorded audit when the history says which),
    the changes (their headlines when the results hold them, else how many), where the report is.
    `findings`: those the exit code was decided on, when the results file holds fewer."""
    findings = list(results["findings"] if findings is None else findings)
    live = [f for f in findings if f["status"] == "alarm" and not f["muted"]]
    hits = failing(findings, fail_on)
    accounts = results["accounts"]
    environments = sum(len(a["environments"]) for a in accounts)
    by = ", ".join(f"{n:,} {sev}" for sev in SEVERITIES_DOWN if (n := sum(f["severity"] == sev for f in live)))
    head = (f"auditor: the audit of {results['as_of']} ({plural(len(accounts), 'account')}, "
            f"{plural(environments, 'environment')}) has {plural(len(live), 'unmuted alarm')}"
            + (f" ({by})" if by else ""))
    head += (f"; {len(hits):,} at or above {fail_on}." if fail_on != "never" else ".")
    lines = [head]

    over = limits(results)
    if over:
        lines.append(f"Limits: {_more([text for _, text in over], len(over), 'environment')}.")

    changes = results.get("changes")
    new_ids = None
    if changes:
        new_ids = {r["id"] for r in changes["rows"] if r["kind"] == "finding" and r["change"] == "new"}
    shown = hits if fail_on != "never" else sorted(live, key=lambda f: SEVERITIES_DOWN.index(f["severity"]))
    if new_ids is not None:  # what is new first: the rest were there at the last audit
        shown = sorted(shown, key=lambda f: f["id"] not in new_ids)
    if shown:
        fresh = sum(f["id"] in new_ids for f in shown) if new_ids is not None else None
        label = "Alarms" + (f" at or above {fail_on}" if fail_on != "never" else "")
        label += f" ({fresh:,} new since the last recorded audit)" if fresh is not None else ""
        items = [f"{f['severity']}: {escape(_text(f, 'title'))} ({escape(f['account'])}"
                 + (f" / {escape(_text(f, 'environment'))}" if _text(f, "environment") else "")
                 + f"): {escape(_text(f, 'reason'))}"
                 + (" [new]" if new_ids is not None and f["id"] in new_ids else "")
                 for f in shown[:TOP]]
        lines.append(f"{label}: {_more(items, len(shown), 'alarm')}.")

    headlines = [h for h in (changes or {}).get("headline", []) if isinstance(h, str)]
    if headlines:
        lines.append(f"Changes: {_more([escape(h) for h in headlines], len(headlines), 'change')}.")
    elif changes:
        changed, _still = change_counts(changes["rows"])
        since = ", ".join(sorted(set(changes["since"].values())))
        lines.append(f"{plural(changed, 'change')} since the last recorded audit ({escape(since)}).")
    if report:
        lines.append(f"Report: {escape(report)}")
    return "\n".join(lines)


@contextmanager
def _unlogged() -> Iterator[None]:
    """httpx and httpcore log each request with its URL (at INFO and DEBUG): held back meanwhile."""
    loggers = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    before = [lg.disabled for lg in loggers]
    for lg in loggers:
        lg.disabled = True
    try:
        yield
    finally:
        for lg, was in zip(loggers, before):
            lg.disabled = was


def post(url: str, text: str, timeout: float = TIMEOUT) -> str | None:
    """Post `text` to the webhook at `url`, once. None when it took it (any 2xx); else the
    one-line warning to show, which never names the URL."""
    import httpx

    from auditor import __version__
    try:
        with _unlogged():
            answer = httpx.post(url, json={"text": text}, timeout=timeout, follow_redirects=False,
                                headers={"User-Agent": f"auditor/{__version__}"})
    except httpx.TimeoutException:
        return "notify: the webhook could not be reached (timed out); the audit's outcome is unchanged"
    except Exception as exc:  # noqa: BLE001 - its message may hold the URL: said by its kind only
        why = "connection failed" if isinstance(exc, httpx.TransportError) else "not a URL httpx can post to"
        return f"notify: the webhook could not be reached ({why}); the audit's outcome is unchanged"
    if not 200 <= answer.status_code < 300:
        return f"notify: the webhook refused the post (HTTP {answer.status_code}); the audit's outcome is unchanged"
    return None
