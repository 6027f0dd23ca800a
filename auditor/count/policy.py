"""Endpoint-counting policies: which connections are one endpoint, written as data.

A policy (YAML under rules/policies/) is an ordered list of key rules over the identity columns
that `auditor.count.endpoints` computes for every connection; the first rule whose condition
holds and whose key fields are all known gives the connection its endpoint key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from auditor.common.conditions import ConditionError, columns_of, template_fields
from auditor.common.errors import AuditorError
from auditor.common.paths import data_dir
from auditor.common.yamlfile import read_yaml

# The vocabulary a policy may use: one column per identity fact of a connection.
IDENTITY_COLUMNS = {
    "id": "the connection's _id",
    "name": "the connection's name",
    "type": "connection type (netsuite, salesforce, http, rest, ftp, as2, rdbms, ...)",
    "assistant": "the application an HTTP connection was made for (shopify, integratorio, ...), lower case",
    "application": "assistant, else the HTTP connector id, else the type",
    "netsuite_account": "NetSuite account id, upper case, `_` where NetSuite's host names write `-` (1234567-sb1 is 1234567_SB1)",
    "netsuite_sandbox": "true for a NetSuite sandbox or release preview (_SB<n>, _RP, -sb<n>, -rp, environment "
                        "sandbox/sandbox2.0/beta)",
    "uri": "normalised base URI of http, rest and mcp connections (host in IDNA form, default port, RFC 3986 path; "
               "segments not a word, a version or a date masked by a fingerprint)",
    "uri_host": "host of that URI",
    "uri_templated": "true when the URI holds handlebars ({{...}}) that the connection's own fields cannot fill",
    "uri_resolved_from": "the connection's own fields its URI's handlebars were filled from (settings.storeName, ...)",
    "uri_unreadable": "true when the URI cannot be parsed (a bad port, a broken bracket): `uri` is then a fingerprint",
    "salesforce_org": "salesforce.info.organization_id",
    "salesforce_host": "host of salesforce.baseURI",
    "ftp_host": "FTP host, lower case",
    "ftp_port": "FTP port (default by ftp.type: 21, 22 for sftp, 990 for ftps)",
    "as2_partner": "as2.partnerId",
    "db_type": "rdbms.type or jdbc.type, lower case (postgres is postgresql, sqlserver mssql)",
    "db_host": "database host, normalised as URI hosts are (its port when it differs from db_port)",
    "db_port": "database port, else the host's; the type's default when none is given (mssql 1433, mysql 3306, postgresql 5432, "
               "oracle 1521, snowflake 443, redshift 5439)",
    "db_database": "database name",
    "db_project": "BigQuery project id",
    "db_cluster": "Redshift cluster identifier",
    "db_region": "Redshift region",
    "mongo_hosts": "MongoDB hosts with their port (the default 27017 left out), sorted, comma-separated",
    "mongo_database": "MongoDB database",
    "aws_key": "S3/DynamoDB access key id, shown masked with a fingerprint",
    "stack_id": "wrapper._stackId",
    "agent_id": "_agentId (filesystem and on-premise agents)",
    "van_mailbox": "van.mailboxId, else van.as2Id",
    "trading_partner": "true for FTP/AS2 connections marked as trading partners",
    "tp_host": "a trading partner's server name or IP",
    "tp_port": "a trading partner's port",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_condition(cond: dict) -> dict:
    try:
        unknown = columns_of(cond) - set(IDENTITY_COLUMNS)
    except ConditionError as exc:
        raise ValueError(str(exc)) from None
    if unknown:
        raise ValueError(f"unknown identity column {sorted(unknown)[0]!r}")
    return cond


def _check_template(template: str) -> str:
    unknown = set(template_fields(template)) - set(IDENTITY_COLUMNS)
    if unknown:
        raise ValueError(f"template field {{{sorted(unknown)[0]}}} is not an identity column")
    return template


class KeyRule(_Strict):
    when: dict = Field(default_factory=dict)
    key: str
    application: str
    category: Literal["application", "database", "universal"]
    explain: str
    resolved: bool = True

    @model_validator(mode="after")
    def _valid(self):
        _check_condition(self.when)
        for template in (self.key, self.application, self.explain):
            _check_template(template)
        return self


class Exclusion(_Strict):
    when: dict
    reason: str

    @model_validator(mode="after")
    def _valid(self):
        _check_condition(self.when)
        return self


class TradingPartnerRule(_Strict):
    when: dict
    key: str

    @model_validator(mode="after")
    def _valid(self):
        _check_condition(self.when)
        _check_template(self.key)
        return self


class Policy(_Strict):
    name: str
    description: str
    default_plan: Literal["endpoint", "integrator", "platform"] = "endpoint"
    app_flows_billable_on: list[Literal["endpoint", "integrator", "platform"]] = ["platform"]
    trading_partner_flows_billable: bool = False
    not_endpoints: list[Exclusion] = []
    trading_partners: TradingPartnerRule
    endpoints: list[KeyRule]
    fallback: KeyRule


def available() -> list[str]:
    return sorted(p.stem for p in (data_dir("rules") / "policies").glob("*.yaml"))


def load_policy(name_or_file: str) -> Policy:
    path = Path(name_or_file)
    if not path.is_file():
        path = data_dir("rules") / "policies" / f"{name_or_file}.yaml"
        if not path.is_file():
            raise AuditorError(f"--policy: no policy file or built-in policy named {name_or_file!r} (built in: {', '.join(available())})")
    data, _ = read_yaml(path, "the policy")
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "top level"
        raise AuditorError(f"{path}: {where}: {err['msg']}") from None
