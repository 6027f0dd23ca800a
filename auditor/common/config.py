"""The optional configuration file: settings a team keeps instead of repeating options.

Read from `--config FILE`, else `$AUDITOR_CONFIG`, else `auditor.yaml` in the current folder when
there is one. Options on the command line win over it.

    history:
      record: true                 # record every audit (as --record does)
      path: /srv/audits/history.sqlite
    defaults:                      # option defaults, for every command that has the option
      fail_on: medium              # --fail-on
      policy: community            # --policy
      profile: finance             # --profile
      mutes: accepted.yaml         # --mutes
      min_severity: low            # --min-severity
      prices: prices.yaml          # --prices (audit): the overage in money
    notify:                        # `audit --notify`: post the summary to a chat's incoming webhook
      url: https://hooks.slack.com/services/...   # a secret: never shown, logged or written
      always: false                # true: post after every audit (--notify-always), not only on alarms

Environment variables sit between the two: AUDITOR_FAIL_ON, AUDITOR_POLICY, AUDITOR_PROFILE,
AUDITOR_MUTES, AUDITOR_MIN_SEVERITY, AUDITOR_PRICES, AUDITOR_HISTORY and AUDITOR_NOTIFY_URL win over the file,
options over them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from auditor.common.paths import config_path
from auditor.common.vocabulary import Severity
from auditor.common.yamlfile import load_model


class HistoryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    record: bool = False
    path: Path | None = None


class Defaults(BaseModel):
    """Defaults of options (named as their parameters) for every command that has them."""

    model_config = ConfigDict(extra="forbid")
    fail_on: Literal[Severity, "never"] | None = None
    policy: str | None = None
    profile: str | None = None
    mutes: Path | None = None
    min_severity: Severity | None = None
    prices: Path | None = None


def webhook_problem(url: str) -> str | None:
    """What makes `url` no webhook to post to (an http:// or https:// URL with a host), or None.
    Never quotes it: a webhook URL is a secret, its path the key."""
    if any(c.isspace() or not c.isprintable() for c in url):
        return "a webhook URL holds no spaces or control characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - a port that is no number is refused here, not when posting
    except ValueError:
        return "not a URL that can be read (the value is not shown: a webhook URL is a secret)"
    if parts.scheme.lower() not in ("http", "https") or not host:
        return "not an http:// or https:// URL (the value is not shown: a webhook URL is a secret)"
    return None


class NotifyConfig(BaseModel):
    """Where `audit` posts its summary (a SecretStr: never in a repr or a message) and when."""

    model_config = ConfigDict(extra="forbid")
    url: SecretStr | None = None
    always: bool = False

    @field_validator("url")
    @classmethod
    def _webhook(cls, value: SecretStr | None) -> SecretStr | None:
        problem = None if value is None else webhook_problem(value.get_secret_value())
        if problem:
            raise ValueError(problem)
        return value


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    history: HistoryConfig = HistoryConfig()
    defaults: Defaults = Defaults()
    notify: NotifyConfig = NotifyConfig()

    def default_map(self, commands: dict[str, set[str]]) -> dict[str, dict]:
        """click's default_map: for each command, the defaults of the options it has."""
        given = self.defaults.model_dump(exclude_none=True)
        if self.history.path is not None:
            given["history_path"] = self.history.path
        return {name: {k: v for k, v in given.items() if k in params} for name, params in commands.items()}


def load_config(explicit: Path | None) -> Config:
    path = config_path(explicit)
    if path is None:
        return Config()
    return load_model(path, Config, "the configuration", unknown="unknown setting")
