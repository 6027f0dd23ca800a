"""Pull a snapshot from the live integrator.io API, atomically, resumably, politely.

Each resource is fetched page by page following the `Link: <...>; rel="next"` header (204 is an
empty list) and written as `<resource>/page-NNNNN.json` into a hidden work folder beside the
target (`.<name>.partial`). Only when every resource is complete is `manifest.json` written and
the folder renamed into place, so an interrupted pull never leaves a half snapshot where a
snapshot is expected; `--resume` continues from the last page written.

Transient trouble is retried with tenacity: 429 waits as `Retry-After` says; 5xx, dropped
connections and pages cut short back off exponentially with jitter, a bounded number of times.
401 and 403 stop at once. Credential fields of connections are masked before anything is
written, whatever the API sent. The token never leaves the Authorization header.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tqdm import tqdm

from auditor import __version__
from auditor.common.errors import AuditorError
from auditor.common.files import atomic
from auditor.common.paths import safe_id
from auditor.common.secrets import secret_field
from auditor.common.vocabulary import month_bounds, plural

RESOURCES = ("connections", "flows", "exports", "imports", "integrations", "licenses", "apis", "tools", "syncs")
# lists an account may not have (a feature it does not use): HTTP 404 is no records, not a failure
OPTIONAL = ("apis", "tools", "syncs")
# the audit log (`GET /v1/audit`): a token or a plan it is not served to (403, 404) is noted, not a failure
AUDIT = "audit"
# the plain flow list leaves out instance flows (of an abstract flow): they count as flows too
QUERIES = {"flows": "?includeInstances=true"}
# the vendor UI's own usage figures (not in the public /v1 reference: tried, and noted when not served)
USAGE = "licenseEntitlementUsage"
MASK = "******"
# keys whose values are credentials, wherever they sit in a connection
SECRET_KEY = re.compile(r"(?i)(pass(word|phrase)?|secret|token|private|credential|cookie|api[_-]?key|signature|"
                        r"authorization|bearer|^key$|access_?key$|session|otp|pin$)")
# keys that look like it but are identities the audit counts by (and are not secret)
NOT_SECRET = {"accessKeyId", "tokenId", "_tokenId", "keyId"}
MAX_RETRY_AFTER = 300.0


class PullError(AuditorError):
    """A pull that cannot go on; the message says why and what to do."""


class Stopped(PullError):
    """A job cancelled because another one failed: never the error to report."""


class NotServed(Exception):
    """An optional list (apis, tools, syncs) the API does not serve to this account: no records."""


class Retryable(Exception):
    """A response worth asking again for: 429, 5xx, or a body that is not a whole JSON list."""

    def __init__(self, what: str, retry_after: float | None = None):
        super().__init__(what)
        self.retry_after = retry_after


def mask(value: Any, key: str = "") -> Any:
    """A copy with every credential value replaced by MASK (HTTP headers by their name too)."""
    if isinstance(value, dict):
        if {"name", "value"} <= set(value) and isinstance(value.get("name"), str) \
                and SECRET_KEY.search(value["name"]) and value["name"] not in NOT_SECRET:
            return {**value, "value": MASK if value["value"] not in (None, "") else value["value"]}
        return {k: mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, key) for v in value]
    if isinstance(value, str) and value and key and key not in NOT_SECRET and SECRET_KEY.search(key):
        return MASK
    return value


def mask_audit(entries: list) -> list:
    """Audit-log entries with every credential masked: the old and new value of a field whose path
    names one (`http.auth.token.token`, `ftp.password`), and within any value, as `mask` does."""
    out = []
    for entry in entries:
        change = entry.get("fieldChange") if isinstance(entry, dict) else None
        if isinstance(change, dict):
            secret = secret_field(change.get("fieldPath"))  # a path that cannot be read: masked too
            change = {k: (MASK if secret and k in ("oldValue", "newValue") and v not in (None, "") else mask(v, k))
                      for k, v in change.items()}
            entry = {**entry, "fieldChange": change}
        out.append(entry)
    return out


def _retry_after(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return min(max(float(header), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), MAX_RETRY_AFTER)


class RateLimiter:
    """At most `rate` requests a second across all threads (evenly spaced)."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.lock = threading.Lock()
        self.next = 0.0

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next)
            self.next = start + self.interval
        if start > now:
            time.sleep(start - now)


@dataclass
class Pull:
    out: Path
    base_url: str
    token: str
    resources: tuple[str, ...] = RESOURCES
    partner: bool = False
    resume: bool = False
    concurrency: int = 3
    rate: float = 5.0
    retries: int = 6
    backoff: float = 1.0  # first backoff in seconds; it doubles, with jitter, up to 60 s
    progress: bool | None = None  # None: a bar on a terminal, quiet otherwise
    transport: httpx.BaseTransport | None = None  # tests only
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    # the run history (flow jobs of the calendar month of `as_of`): True, False, or None for "when a
    # platform license is pulled" (the platform plan counts flows run)
    jobs: bool | None = None
    as_of: date | None = None
    usage: bool = True  # try the vendor's usage figures (usage.json)
    audit: bool = True  # pull the audit log (audit/), to attribute each change of a count to its cause
    since: date | None = None  # the first day of the audit log pulled (None: all the API keeps)
    not_served: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.out = Path(self.out)
        self.work = self.out.parent / f".{self.out.name}.partial"
        self.limiter = RateLimiter(self.rate)
        self.stop = threading.Event()
        self.state_lock = threading.Lock()

    # --- HTTP --------------------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        return httpx.Client(headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                                     "User-Agent": f"auditor/{__version__}"},
                            timeout=httpx.Timeout(60.0, connect=15.0), transport=self.transport,
                            follow_redirects=False)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Retryable) and exc.retry_after is not None:
            return exc.retry_after
        return wait_exponential_jitter(multiplier=self.backoff, max=60, jitter=self.backoff)(state)

    def _retrying(self, call):
        """`call()`, within the rate limit, asked again on a Retryable answer or a dropped
        connection, a bounded number of times."""
        for attempt in Retrying(retry=retry_if_exception_type((Retryable, httpx.TransportError)),
                                wait=self._wait, stop=stop_after_attempt(self.retries), reraise=True):
            with attempt:
                if self.stop.is_set():
                    raise Stopped("stopped")
                self.limiter.wait()
                return call()
        raise AssertionError("unreachable")  # pragma: no cover

    def _page(self, client: httpx.Client, url: str) -> tuple[list, str | None]:
        """One page: its records and the next page's URL (None at the end)."""
        return self._retrying(lambda: self._fetch(client, url))

    def _fetch(self, client: httpx.Client, url: str) -> tuple[list, str | None]:
        response = client.get(url)
        where = httpx.URL(url).copy_with(query=None)
        if response.status_code in (403, 404) and httpx.URL(url).path.rsplit("/", 1)[-1] == AUDIT:
            raise NotServed(f"{where}: HTTP {response.status_code}")  # the audit log, refused to this token
        if response.status_code in (401, 403):
            raise PullError(f"{where}: HTTP {response.status_code}: the token was refused. Check the token, and "
                            "that it belongs to this region (a US token does not work against --region eu).")
        _transient(response, where)
        if response.status_code == 204:
            return [], None
        if response.status_code == 404 and httpx.URL(url).path.rsplit("/", 1)[-1] in OPTIONAL:
            raise NotServed(f"{where}: HTTP 404")
        if response.status_code != 200:
            raise PullError(f"{where}: HTTP {response.status_code} where a list was expected")
        try:
            records = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise Retryable(f"{where}: the page is not whole JSON (cut short?)") from None
        if not isinstance(records, list):
            raise PullError(f"{where}: the API returned a {type(records).__name__}, not a list")
        following = response.links.get("next", {}).get("url")
        if not following:
            return records, None
        nxt = response.url.join(following)
        base = httpx.URL(self.base_url)
        if (nxt.scheme, nxt.host, nxt.port) != (base.scheme, base.host, base.port):
            # the token goes with every request: a next page elsewhere is never asked for
            raise PullError(f"{where}: the next-page link leads to another host ({nxt.scheme}://{nxt.host}); "
                            "not followed, as the token would go with it")
        return records, str(nxt)

    # --- state and files -------------------------------------------------------------------------

    def _state_path(self) -> Path:
        return self.work / "state.json"

    def _load_state(self) -> dict:
        path = self._state_path()
        if self.work.exists() and not self.resume:
            raise PullError(f"{self.work}: an interrupted pull is there; add --resume to continue it, or delete it")
        if self.resume and path.exists():
            state = orjson.loads(path.read_bytes())
            if state.get("base_url") != self.base_url:
                raise PullError(f"{self.work}: that pull was from {state.get('base_url')}, not {self.base_url}")
            return state
        self.work.mkdir(parents=True, exist_ok=True)
        return {"base_url": self.base_url, "resources": {}}

    def _save_state(self, state: dict) -> None:
        with self.state_lock:
            _write_atomic(self._state_path(), orjson.dumps(state, option=orjson.OPT_INDENT_2))

    def _resource(self, client: httpx.Client, name: str, folder: Path, state: dict, bar) -> None:
        """Every page of one list into folder/page-NNNNN.json, resuming where its state says."""
        mine = state["resources"][name]
        if mine["done"]:
            bar.update(mine["records"])
            return
        folder.mkdir(parents=True, exist_ok=True)
        bar.update(mine["records"])
        while mine["next"]:
            try:
                records, following = self._page(client, mine["next"])
            except NotServed:
                records, following = [], None  # an optional list the API does not serve to this account
                if name == AUDIT:
                    mine["not_served"] = True
            except PullError:
                self.stop.set()  # a refused token: the jobs still queued must not even ask
                raise
            if name == "connections" or name.startswith("connectors"):
                records = mask(records)
            elif name == AUDIT:
                records = mask_audit(records)
            mine["pages"] += 1
            _write_atomic(folder / f"page-{mine['pages']:05d}.json", orjson.dumps(records))
            mine["records"] += len(records)
            mine["next"] = following
            self._save_state(state)
            bar.update(len(records))
            bar.set_postfix(pages=mine["pages"])
        mine["done"] = True
        self._save_state(state)

    def audit_url(self) -> str:
        """The audit log, from `since` on when given (its entries' time, as GET /v1/audit filters it)."""
        if self.since is None:
            return f"{self.base_url}/{AUDIT}"
        return f"{self.base_url}/{AUDIT}?time_gte={self.since.isoformat()}T00:00:00.000Z"

    # --- the pull --------------------------------------------------------------------------------

    def run(self) -> dict:
        if self.out.exists():
            raise PullError(f"{self.out}: already exists; pull into a new folder (the snapshot is written whole)")
        state = self._load_state()
        jobs = [(name, f"{self.base_url}/{name}{QUERIES.get(name, '')}", self.work / name) for name in self.resources]
        if self.audit:
            jobs.append((AUDIT, self.audit_url(), self.work / AUDIT))
        if self.partner:
            jobs.append(("connectors", f"{self.base_url}/connectors", self.work / "_connectors"))
        self._plan(state, jobs)
        try:
            with self._client() as client, ThreadPoolExecutor(self.concurrency) as pool:
                bars = {name: tqdm(desc=name, unit=" records", position=i, disable=self._quiet(), leave=True)
                        for i, (name, _, _) in enumerate(jobs)}
                futures = [pool.submit(self._resource, client, name, folder, state, bars[name])
                           for name, _, folder in jobs]
                self._all(futures)
                if self._want_jobs():
                    self._jobs(client, state, bars)
                if self.usage:
                    self._usage(client, state)
                if self.partner:
                    self._connector_details(client, state, bars)
                for bar in bars.values():
                    bar.close()
        except PullError as exc:
            if "token was refused" in str(exc) and not any(r["pages"] for r in state["resources"].values()):
                shutil.rmtree(self.work, ignore_errors=True)  # refused before anything came: leave nothing
            raise
        except (Retryable, httpx.TransportError) as exc:
            raise PullError(f"{exc if isinstance(exc, Retryable) else type(exc).__name__}: gave up after "
                            f"{plural(self.retries, 'attempt')}. Nothing was written to {self.out}; "
                            "run the same command with --resume to continue.") from None
        except KeyboardInterrupt:
            raise PullError(f"interrupted. Nothing was written to {self.out}; run again with --resume to continue.") \
                from None
        return self._finish(state)

    def _all(self, futures: list) -> None:
        """Wait for every job; at the first failure stop the others and raise it: the real
        failure, never one of the cancellations it caused (which may finish first)."""
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        if any(f.exception() is not None for f in done):
            self.stop.set()
            wait(futures)
            errors = [f.exception() for f in futures if f.exception() is not None]
            raise next((e for e in errors if not isinstance(e, Stopped)), errors[0])

    def _plan(self, state: dict, jobs: list[tuple[str, str, Path]]) -> None:
        """A state entry for every job before any thread starts (threads then touch only their own)."""
        for name, url, _ in jobs:
            state["resources"].setdefault(name, {"done": False, "pages": 0, "records": 0, "next": url})
        self._save_state(state)

    def _quiet(self) -> bool | None:
        return None if self.progress is None else not self.progress

    def _want_jobs(self) -> bool:
        if self.jobs is not None:
            return self.jobs
        if "licenses" not in self.resources:
            return False
        return any(isinstance(lic, dict) and lic.get("type") == "platform" for lic in _read_pages(self.work / "licenses"))

    def as_of_day(self) -> date:
        return self.as_of or datetime.now(UTC).date()

    def jobs_url(self) -> str:
        """The flow jobs created in the calendar month of `as_of` (UTC), as GET /v1/jobs filters them."""
        start, end, _ = month_bounds(self.as_of_day())

        def stamp(t: datetime) -> str:
            return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")

        return (f"{self.base_url}/jobs?type=flow&createdAt_gte={stamp(start)}"
                f"&createdAt_lte={stamp(end - timedelta(milliseconds=1))}")

    def _jobs(self, client: httpx.Client, state: dict, bars: dict) -> None:
        self._plan(state, [("jobs", self.jobs_url(), self.work / "jobs")])
        bar = tqdm(desc="jobs", unit=" records", position=len(bars), disable=self._quiet())
        self._resource(client, "jobs", self.work / "jobs", state, bar)
        bar.close()

    def _usage(self, client: httpx.Client, state: dict) -> None:
        """The vendor's usage figures into usage.json, when the API serves them to this token; a
        refusal or a 404 here is noted, not an error (the call is not in the public reference)."""
        mine = state.setdefault("usage", {"done": False})
        if mine["done"]:
            if mine.get("served") is False:
                self.not_served.append(USAGE)
            return
        url = f"{self.base_url}/{USAGE}"

        def get() -> httpx.Response:
            response = client.get(url)
            _transient(response, url)
            return response

        response = self._retrying(get)
        body = None
        if response.status_code == 200:
            try:
                body = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                body = None
        if isinstance(body, dict):
            _write_atomic(self.work / "usage.json", orjson.dumps(mask(body), option=orjson.OPT_INDENT_2))
            mine.update(done=True, served=True)
        else:
            self.not_served.append(USAGE)
            mine.update(done=True, served=False)
        self._save_state(state)

    def _connector_details(self, client: httpx.Client, state: dict, bars: dict) -> None:
        """Per connector: its licenses and its install base, under connectors/<id>/."""
        connectors = _read_pages(self.work / "_connectors")
        jobs = []
        for c in connectors:
            cid = c.get("_id")
            if safe_id(cid) is None:
                raise PullError(f"connectors: a connector without a usable _id ({cid!r})")
            for part in ("licenses", "installBase"):
                jobs.append((f"connectors/{cid}/{part}", f"{self.base_url}/connectors/{cid}/{part}",
                             self.work / "_connectors.d" / cid / part))
        self._plan(state, jobs)
        bar = tqdm(desc="connector details", unit=" records", position=len(bars), disable=self._quiet())
        with ThreadPoolExecutor(self.concurrency) as pool:
            futures = [pool.submit(self._resource, client, name, folder, state, bar) for name, _, folder in jobs]
            self._all(futures)
        bar.close()

    def _finish(self, state: dict) -> dict:
        """Lay out the snapshot, write the manifest, and move it into place."""
        if self.partner:
            connectors = _read_pages(self.work / "_connectors")
            _write_atomic(self.work / "connectors.json", orjson.dumps(connectors, option=orjson.OPT_INDENT_2))
            for c in connectors:
                for part in ("licenses", "installBase"):
                    records = _read_pages(self.work / "_connectors.d" / c["_id"] / part)
                    target = self.work / "connectors" / c["_id"] / f"{part}.json"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    _write_atomic(target, orjson.dumps(records, option=orjson.OPT_INDENT_2))
            shutil.rmtree(self.work / "_connectors")
            shutil.rmtree(self.work / "_connectors.d", ignore_errors=True)
        self._state_path().unlink()
        if state["resources"].get(AUDIT, {}).get("not_served"):
            self.not_served.append(AUDIT)
        files = sorted(p for p in self.work.rglob("*") if p.is_file())
        manifest = {
            "tool": "auditor", "version": __version__,
            "pulled_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "base_url": self.base_url,
            "resources": {name: {"records": r["records"], "pages": r["pages"]}
                          for name, r in sorted(state["resources"].items())},
            **({"not_served": self.not_served} if self.not_served else {}),
            "files": [{"path": p.relative_to(self.work).as_posix(), "bytes": p.stat().st_size,
                       "sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for p in files],
        }
        _write_atomic(self.work / "manifest.json", orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
        os.replace(self.work, self.out)
        return manifest


def _transient(response: httpx.Response, where) -> None:
    """Raise Retryable for an answer worth asking again for: 429 (after its Retry-After), 5xx."""
    if response.status_code == 429:
        raise Retryable(f"{where}: HTTP 429 (rate limited)", _retry_after(response.headers.get("Retry-After")))
    if response.status_code >= 500:
        raise Retryable(f"{where}: HTTP {response.status_code}")


def _read_pages(folder: Path) -> list:
    out: list = []
    for page in sorted(folder.glob("page-*.json")):
        out += orjson.loads(page.read_bytes())
    return out


def _write_atomic(path: Path, data: bytes) -> None:
    with atomic(path) as tmp:
        tmp.write_bytes(data)


def read_token(env_name: str, token_file: Path | None) -> str:
    """The API token from a file or an environment variable; never from the command line."""
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise AuditorError(f"{token_file}: cannot read the token file ({exc.strerror})") from None
        if not token:
            raise AuditorError(f"{token_file}: the token file is empty")
        return token
    token = os.environ.get(env_name, "").strip()
    if not token:
        raise AuditorError(f"no API token: set the environment variable {env_name} (or use --token-file)")
    return token
