"""What every output says first when the counts of a run are upper bounds, from the results'
account blocks (so the terminal, the HTML page and the workbook say the same)."""

from __future__ import annotations

from auditor.common.vocabulary import plural


def download_caveat(accounts: list[dict]) -> str | None:
    """What every output puts first when counts are upper bounds, from the results' account blocks:
    accounts read from integration downloads, in the numbers of what the download left out (none
    left out, nothing said), and accounts on the platform plan (which counts flows run) without
    run history."""
    said = []
    for acct in accounts:
        b = acct.get("upper_bounds")
        if not b:
            continue
        why = []
        if b["flows_unstated"]:
            one = b["flows_unstated"] == 1
            why.append(f"{b['flows_unstated']} of {plural(b['flows'], 'flow')} {'says' if one else 'say'} nothing of "
                       f"whether {'it is' if one else 'they are'} enabled (counted as enabled)")
        if b["endpoints_unresolved"]:
            one = b["endpoints_unresolved"] == 1
            why.append(f"{b['endpoints_unresolved']} of {plural(b['endpoints'], 'endpoint')} "
                       f"{'is a connection' if one else 'are connections'} whose identity (NetSuite account, "
                       "Salesforce org, host) is not given, each counted as its own")
        if b["connections_missing"]:
            why.append(f"{plural(b['connections_missing'], 'connection')} the flows reach "
                       f"{'is' if b['connections_missing'] == 1 else 'are'} not in the download, each counted as "
                       "an endpoint of its own")
        if why:
            said.append(f"Counted from integration downloads ({acct['account']}): these counts are upper bounds: "
                        f"{'; '.join(why)}. Pull the account from the API (auditor pull) for exact ones.")
    no_runs = [a["account"] for a in accounts if a.get("flows_counted") == "enabled"]
    if no_runs:
        said.append(f"No run history for {', '.join(no_runs)}: the platform plan counts the flows run in a month, "
                    "so every enabled flow is counted and the flows figure is an upper bound; pull with --jobs "
                    "(or save GET /v1/jobs as jobs.json) for the exact one.")
    return " ".join(said) or None
