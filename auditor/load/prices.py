"""The prices file (`--prices prices.yaml`, or `defaults.prices` in the configuration): what an
add-on unit of each metric costs, per plan and environment pool, so that the overage can be said
in money.

    currency: USD            # the currency of every price that names none (ISO 4217)
    per: month               # what a price is for: month (the default) or year
    prices:
      endpoint:              # the plan: endpoint, integrator, platform, or '*' (any plan)
        production: {endpoints: 125, flows: 40, trading_partners: 60, agents: 50}
        sandbox: {endpoints: 60, currency: EUR}     # the pool: production, sandbox, or '*'
      '*':
        '*': {endpoints: 150}

A metric's price for an environment is the first entry that prices it among (plan, pool),
(plan, '*'), ('*', pool), ('*', '*'); its currency is that entry's, else the file's. An
environment draws on a pool (production or sandbox; a further environment on production's unless
account.json says otherwise), so prices are given per pool, not per environment name.

Read like every human-written input (`auditor.common.yamlfile`): a wrong value stops the run with
one line naming the file, the line and the entry (negative, not a number, NaN or infinite, an
unknown currency, plan, pool or metric). Amounts are worked out in decimal and rounded to the
currency's minor unit (ISO 4217: 2 for USD, 0 for JPY, 3 for BHD); amounts in different currencies
are never added together.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import yaml
from iso4217 import Currency

from auditor.common.errors import AuditorError
from auditor.common.yamlfile import read_yaml

PLANS = ("endpoint", "integrator", "platform")  # the plan licenses (auditor.count.entitlements.PLAN_TYPES)
POOLS = ("production", "sandbox")
METRICS = ("flows", "endpoints", "trading_partners", "agents")  # as the results file names them
PERIODS = ("month", "year")
ANY = "*"
MOST = Decimal(10) ** 12  # no add-on costs a trillion: a larger number is a typing slip


@dataclass(frozen=True)
class Price:
    """What one add-on unit of a metric costs, and the entry of the prices file that says so."""

    amount: Decimal
    currency: str
    entry: str  # 'endpoint.production' (plan.pool as the file has them)
    line: int


def minor_unit(currency: str) -> int:
    """The currency's decimal places (ISO 4217's minor unit)."""
    return Currency(currency).exponent


def money_text(money: dict) -> str:
    """A `Money` as people read it, in the currency's own decimals: '1,234.50 USD', '5,000 JPY'."""
    return f"{money['amount']:,.{minor_unit(money['currency'])}f} {money['currency']}"


def rounded(amount: Decimal, currency: str) -> Decimal:
    """An amount rounded half up to the currency's minor unit."""
    return amount.quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=ROUND_HALF_UP)


def money(amount: Decimal, currency: str) -> dict:
    """A `Money` of the results file: the amount rounded to the currency's minor unit."""
    return {"currency": currency, "amount": float(rounded(amount, currency))}


def totals(amounts: list[tuple[Decimal, str]]) -> list[dict]:
    """Amounts added up per currency, never across currencies: one `Money` per currency, by code."""
    out: dict[str, Decimal] = {}
    for amount, currency in amounts:
        out[currency] = out.get(currency, Decimal(0)) + rounded(amount, currency)
    return [money(out[c], c) for c in sorted(out)]


@dataclass
class Prices:
    file: str  # the file's name, as reports say it
    sha256: str
    per: str  # month | year
    currency: str | None  # the file's default currency
    entries: dict[tuple[str, str], dict[str, Price]] = field(default_factory=dict)  # (plan, pool) -> metric -> price

    def price(self, plan: str, pool: str | None, metric: str) -> Price | None:
        """The price of one add-on unit of `metric` in an environment of `plan` drawing on `pool`
        (production when none is said), or None when the file gives none."""
        pool = pool or "production"
        for key in ((plan, pool), (plan, ANY), (ANY, pool), (ANY, ANY)):
            found = self.entries.get(key, {}).get(metric)
            if found is not None:
                return found
        return None

    def cost(self, plan: str, pool: str | None, metric: str, units: int) -> dict | None:
        """What `units` add-ons of `metric` cost there, as a `Money`; None when it is not priced."""
        found = self.price(plan, pool, metric)
        return None if found is None else money(found.amount * units, found.currency)

    def pricer(self, plan: str):
        """`price(metric, pool, n)` for an account on `plan`: what n add-ons cost, as a list of one
        `Money` (None when not priced), the callable advice prices its options with."""
        def price(metric: str, pool: str | None, n: int) -> list[dict] | None:
            found = self.cost(plan, pool, metric, n)
            return None if found is None else [found]
        return price

    def overage(self, plan: str, pool: str | None, over: dict[str, int | None]) -> dict:
        """An environment's `cost` in the results file: per metric over its entitlement
        (`over`: metric -> over by, None where the entitlement is unknown) what the overage costs,
        the totals per currency, and the metrics over that the file does not price."""
        metrics, unpriced, amounts = [], [], []
        for metric in METRICS:
            n = over.get(metric)
            if not n:
                continue
            found = self.price(plan, pool, metric)
            if found is None:
                unpriced.append(metric)
                continue
            amounts.append((found.amount * n, found.currency))
            metrics.append({"metric": metric, "over": n, "unit_price": money(found.amount, found.currency),
                            "cost": money(found.amount * n, found.currency),
                            "priced_by": f"{self.file}:{found.line} ({found.entry})"})
        return {"per": self.per, "metrics": metrics, "total": totals(amounts), "unpriced": unpriced}

    def section(self) -> dict:
        """The results file's `prices`: where the prices came from, and every price given."""
        rows = [{"plan": plan, "pool": pool, "metric": metric, "price": money(p.amount, p.currency)}
                for (plan, pool), given in sorted(self.entries.items()) for metric, p in given.items()]
        return {"file": self.file, "sha256": self.sha256, "per": self.per, "currency": self.currency, "prices": rows}


def _kind(value) -> str:
    return {"bool": "true or false", "str": "text", "list": "a list", "dict": "a mapping", "NoneType": "empty",
            "date": "a date", "datetime": "a date"}.get(type(value).__name__, type(value).__name__)


def currency_problem(value) -> str | None:
    """What makes `value` no ISO 4217 currency of money, or None."""
    if not isinstance(value, str):
        return f"a currency is an ISO 4217 code such as USD, not {_kind(value)}"
    try:
        code = Currency(value)
    except ValueError:
        shown = value if value.isprintable() and len(value) <= 20 else value[:20].encode("unicode_escape").decode()
        return f"{shown!r} is not an ISO 4217 currency code (USD, EUR, GBP, ...)"
    if code.exponent is None or code.code != value:
        return f"{value!r} is not a currency of money (ISO 4217 gives it no minor unit: funds, metals, test codes)"
    return None


def _amount(value) -> Decimal | str:
    """The price as a Decimal, or what is wrong with it."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"a price must be a number, not {_kind(value)}" + (f" ({value!r})" if isinstance(value, str) else "")
    if isinstance(value, float) and not math.isfinite(value):
        return f"a price must be a finite number, not {value}"
    amount = Decimal(str(value))  # 0.1 as written, not as the float holds it
    if amount < 0:
        return f"a price cannot be negative ({value})"
    if amount >= MOST:
        return f"a price of {value} is past any add-on's (at most {MOST:,.0f})"
    return amount


def _pairs(node: yaml.Node, data: dict) -> list[tuple[object, object, int]]:
    """(key, value, line) of a mapping, its lines from the node tree (keys are in the same order)."""
    lines = [k.start_mark.line + 1 for k, _ in node.value] if isinstance(node, yaml.MappingNode) else []
    return [(k, v, lines[i] if i < len(lines) else 0) for i, (k, v) in enumerate(data.items())]


def _value_node(node: yaml.Node, index: int) -> yaml.Node | None:
    return node.value[index][1] if isinstance(node, yaml.MappingNode) and index < len(node.value) else None


def load_prices(path: Path) -> Prices:
    """The prices file at `path`, every value checked; a wrong one stops the run (AuditorError)."""
    data, root = read_yaml(path, "the prices file")
    start = root.start_mark.line + 1 if root is not None else 1

    def fail(line: int, where: str, message: str):
        raise AuditorError(f"{path}:{line}: {where}: {message}" if where else f"{path}:{line}: {message}")

    if not isinstance(data, dict):
        fail(start, "", "a prices file is a mapping with prices: {PLAN: {POOL: {METRIC: PRICE}}} "
                        "(and currency:, per:); see 'Prices' in the README")
    top = _pairs(root, data)
    known = {"currency", "per", "prices"}
    for key, _, line in top:
        if key not in known:
            fail(line, str(key), "unknown key (a prices file has currency, per and prices)")
    lines = {k: line for k, _, line in top}
    currency = data.get("currency")
    if "currency" in data:
        problem = currency_problem(currency)
        if problem:
            fail(lines["currency"], "currency", problem)
    per = data.get("per", "month")
    if per not in PERIODS:
        fail(lines.get("per", start), "per", f"what a price is for: month or year, not {per!r}")
    if not isinstance(data.get("prices"), dict) or not data["prices"]:
        fail(lines.get("prices", start), "prices",
             "give prices: {PLAN: {POOL: {METRIC: PRICE}}}, e.g. prices: {endpoint: {production: {endpoints: 125}}}")
    index = list(data).index("prices")
    plans_node = _value_node(root, index)
    entries: dict[tuple[str, str], dict[str, Price]] = {}
    for i, (plan, pools, line) in enumerate(_pairs(plans_node, data["prices"])):
        where = f"prices.{plan}"
        if plan not in (*PLANS, ANY):
            fail(line, where, f"unknown plan (one of {', '.join(PLANS)}, or '*' for any)")
        if not isinstance(pools, dict) or not pools:
            fail(line, where, "give the prices of a plan per pool: {production: {...}, sandbox: {...}} ('*': any)")
        pools_node = _value_node(plans_node, i)
        for j, (pool, given, pool_line) in enumerate(_pairs(pools_node, pools)):
            where = f"prices.{plan}.{pool}"
            if pool not in (*POOLS, ANY):
                fail(pool_line, where, f"unknown pool (one of {', '.join(POOLS)}, or '*' for any)")
            if not isinstance(given, dict) or not given:
                fail(pool_line, where, f"give the prices of the pool: {{{', '.join(METRICS)}: PRICE, currency: CODE}}")
            items = _pairs(_value_node(pools_node, j), given)
            own = given.get("currency")
            if "currency" in given:
                problem = currency_problem(own)
                if problem:
                    fail(next(ln for k, _, ln in items if k == "currency"), f"{where}.currency", problem)
            cur = own if "currency" in given else currency
            if cur is None:
                fail(pool_line, where, "no currency: give currency: at the top of the file or in this entry")
            priced: dict[str, Price] = {}
            for metric, value, metric_line in items:
                if metric == "currency":
                    continue
                if metric not in METRICS:
                    fail(metric_line, f"{where}.{metric}", f"unknown metric (one of {', '.join(METRICS)}, currency)")
                amount = _amount(value)
                if isinstance(amount, str):
                    fail(metric_line, f"{where}.{metric}", amount)
                if -amount.normalize().as_tuple().exponent > minor_unit(cur):  # 0.4 JPY: costs that do not add up
                    fail(metric_line, f"{where}.{metric}", f"{value} has more decimals than {cur} has "
                                                           f"({minor_unit(cur)}); give the price in whole {cur}"
                         if minor_unit(cur) == 0 else f"{value} has more decimals than {cur} has ({minor_unit(cur)})")
                priced[metric] = Price(amount, cur, f"{plan}.{pool}", metric_line)
            if not priced:
                fail(pool_line, where, f"no price given (give one of {', '.join(METRICS)})")
            entries[(plan, pool)] = priced
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Prices(path.name, digest, per, currency, entries)
