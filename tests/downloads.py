"""Download-shaped fixtures: what integrator.io's "Download integration" produces, written here
from its documented form (integration.json, and one object a file named `<Name>-<_id>.json` in
connections/, exports/, imports/, flows/, scripts/, ...). Flows name no integration and carry no
`disabled`; connections carry no identity fields for most types."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

SHOPIFY = {"_id": "5f1c0aa1b2c3d4e5f6a7b801", "name": "Shopify", "type": "http", "assistant": "shopify",
           "http": {"baseURI": "https://acme.myshopify.com/admin/api/2024-01", "formType": "assistant",
                    "auth": {"type": "token"}}}
NETSUITE = {"_id": "5f1c0aa1b2c3d4e5f6a7b802", "name": "NetSuite", "type": "netsuite",
            "netsuite": {"authType": "token-auto", "wsdlVersion": "2020.2"}}  # no account: stripped
SFTP = {"_id": "5f1c0aa1b2c3d4e5f6a7b803", "name": "Warehouse SFTP", "type": "ftp",
        "ftp": {"type": "sftp", "port": 22}}  # no host: stripped


def _name(record: dict) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", record.get("name") or "Untitled").strip("_")


def write_download(folder: Path, integration: dict, **resources: list[dict]) -> Path:
    """One downloaded integration, unzipped, at `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "integration.json").write_text(json.dumps(integration, indent=2))
    for kind, records in resources.items():
        (folder / kind).mkdir(exist_ok=True)
        for record in records:
            suffix = ".js" if kind == "scripts" else ".json"
            (folder / kind / f"{_name(record)}-{record['_id']}{suffix}").write_text(json.dumps(record, indent=2))
    return folder


def zip_download(folder: Path, target: Path) -> Path:
    """The folder's content zipped as integrator.io zips it: its files at the top of the archive."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return target


def flow(fid: str, export: str, imp: str) -> dict:
    return {"_id": fid, "name": f"Flow {fid}", "pageGenerators": [{"_exportId": export}],
            "pageProcessors": [{"type": "import", "_importId": imp}]}


def orders(folder: Path) -> Path:
    """Shopify orders into NetSuite: one flow, two connections, a script the audit does not read."""
    return write_download(
        folder, {"_id": "6a000000000000000000a001", "name": "Orders", "install": [], "installSteps": [],
                 "flowGroupings": []},
        connections=[SHOPIFY, NETSUITE],
        exports=[{"_id": "e-orders", "name": "Get orders", "_connectionId": SHOPIFY["_id"], "adaptorType": "HTTPExport"}],
        imports=[{"_id": "i-orders", "name": "Put orders", "_connectionId": NETSUITE["_id"],
                  "adaptorType": "NetSuiteDistributedImport"}],
        flows=[flow("f-orders", "e-orders", "i-orders")],
        scripts=[{"_id": "s-hook", "name": "preSave hook"}],
        filedefinitions=[{"_id": "fd-1", "name": "CSV layout"}],
    )


def items(folder: Path, shopify: dict = SHOPIFY) -> Path:
    """Items from SFTP into Shopify: shares the Shopify connection with `orders`."""
    return write_download(
        folder, {"_id": "6a000000000000000000a002", "name": "Items"},
        connections=[shopify, SFTP],
        exports=[{"_id": "e-items", "name": "Get items", "_connectionId": SFTP["_id"], "adaptorType": "FTPExport"}],
        imports=[{"_id": "i-items", "name": "Put items", "_connectionId": shopify["_id"], "adaptorType": "HTTPImport"}],
        flows=[flow("f-items", "e-items", "i-items")],
    )
