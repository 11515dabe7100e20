"""ImportSolution: unpack a solution zip (`[Content_Types].xml`, `solution.xml` and
`customizations.xml` at its root, as Dataverse exports it; docs/sandbox.md "The integration
solution package"), create its roles and tables, record an importjobs row and a solutions row."""

from __future__ import annotations

import base64
import binascii
import io
import json
import uuid
import zipfile
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from sandbox import clock, seed
from sandbox.protocol import (
    CODE_DUPLICATE_JOB,
    CODE_INVALID_ARGUMENT,
    CODE_INVALID_FILE,
    ApiError,
    Request,
    Response,
    utcnow_iso,
)
from sandbox.tables import (
    BOOL,
    DATETIME,
    DECIMAL,
    GUID,
    INT,
    MEMO,
    MONEY,
    STRING,
    Column,
    Lookup,
    Table,
    build_solution_table,
)

if TYPE_CHECKING:
    from sandbox.base import ApiBase
    from sandbox.store import Store

TYPE_MAP = {
    "nvarchar": STRING, "string": STRING, "ntext": MEMO, "memo": MEMO, "int": INT,
    "integer": INT, "decimal": DECIMAL, "money": MONEY, "bit": BOOL, "boolean": BOOL,
    "datetime": DATETIME, "uniqueidentifier": GUID,
}  # fmt: skip
META_KEY = "solution_tables"
# Dataverse's own answer to a zip without one of its three root files.
MISSING_FILES_MESSAGE = (
    "The compressed file must contain the following files at its root: solution.xml, "
    "customizations.xml, and [Content_Types].xml"
)
ROOT_FILES = ("solution.xml", "customizations.xml", "[content_types].xml")
# Columns every user-owned table has; an exported customizations.xml lists them, the sandbox
# adds them to every imported table itself (sandbox/tables.py `build_solution_table`).
SYSTEM_ATTRIBUTES = {
    "createdby", "createdon", "createdonbehalfby", "importsequencenumber", "modifiedby",
    "modifiedon", "modifiedonbehalfby", "overriddencreatedon", "ownerid", "owningbusinessunit",
    "owningteam", "owninguser", "statecode", "statuscode", "timezoneruleversionnumber",
    "utcconversiontimezonecode", "versionnumber",
}  # fmt: skip
PRIVILEGE_LEVELS = {"None", "Basic", "Local", "Deep", "Global"}


class SolutionError(Exception):
    pass


def _text(element: ET.Element | None, path: str, default: str = "") -> str:
    if element is None:
        return default
    found = element.find(path)
    return (found.text or "").strip() if found is not None and found.text else default


def parse_package(data: bytes) -> dict[str, Any]:
    """-> {"uniquename", "version", "friendlyname", "roles": [(id, name)],
    "privileges": {role id: {privilege: level}}, "tables": [spec]}"""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise SolutionError(f"The solution file is not a valid zip file: {exc}.") from exc
    # at the root only: a file in a folder does not count (names compared case-insensitively)
    names = {n.lower(): n for n in archive.namelist() if "/" not in n.strip("/")}
    if any(name not in names for name in ROOT_FILES):
        raise SolutionError(MISSING_FILES_MESSAGE)
    solution_xml = archive.read(names["solution.xml"])
    customizations_xml = archive.read(names["customizations.xml"])
    content_types_xml = archive.read(names["[content_types].xml"])
    try:
        manifest_root = ET.fromstring(solution_xml)  # noqa: S314
        custom_root = ET.fromstring(customizations_xml)  # noqa: S314
        types_root = ET.fromstring(content_types_xml)  # noqa: S314
    except ET.ParseError as exc:
        raise SolutionError(f"The solution file is invalid: {exc}.") from exc
    if not types_root.tag.endswith("Types"):
        raise SolutionError("[Content_Types].xml must be an Open Packaging <Types> list.")
    manifest = manifest_root.find(".//SolutionManifest")
    unique = _text(manifest, "UniqueName")
    version = _text(manifest, "Version")
    if not unique or not version:
        raise SolutionError("The solution manifest needs <UniqueName> and <Version>.")
    friendly = unique
    label = manifest.find("LocalizedNames/LocalizedName") if manifest is not None else None
    if label is not None and label.get("description"):
        friendly = label.get("description") or unique
    roles = []
    privileges: dict[str, dict[str, str]] = {}
    for role in custom_root.iter("Role"):
        role_id = (role.get("id") or "").strip("{}").lower()
        name = role.get("name") or ""
        try:
            uuid.UUID(role_id)
        except ValueError as exc:
            raise SolutionError(f"Role '{name}' has an invalid id '{role_id}'.") from exc
        # a malformed privilege would make Dataverse's import fail, so it fails here too; the
        # valid ones are kept for the privilege checks (ApiBase.require_privilege)
        granted = privileges.setdefault(role_id, {})
        for privilege in role.iter("RolePrivilege"):
            privilege_name = privilege.get("name") or ""
            if not privilege_name.startswith("prv") or privilege.get("level") not in (
                PRIVILEGE_LEVELS
            ):
                raise SolutionError(
                    f"Role '{name}' has an invalid privilege '{privilege_name}' "
                    f"(level '{privilege.get('level')}')."
                )
            granted[privilege_name] = str(privilege.get("level"))
        roles.append((role_id, name))
    # Lookup columns point where the package's one-to-many relationships say (Dataverse keeps
    # a lookup's target in <EntityRelationships>, not on the attribute).
    targets: dict[tuple[str, str], str] = {}
    for relationship in custom_root.iter("EntityRelationship"):
        referencing = _text(relationship, "ReferencingEntityName").lower()
        attribute_name = _text(relationship, "ReferencingAttributeName").lower()
        referenced = _text(relationship, "ReferencedEntityName").lower()
        if referencing and attribute_name and referenced:
            targets[(referencing, attribute_name)] = referenced
    tables = []
    for entity in custom_root.iter("entity"):
        logical = (entity.get("Name") or "").lower()
        if not logical:
            raise SolutionError("An <entity> needs a Name attribute.")
        entity_set = _text(entity, "EntitySetName") or f"{logical}s"
        pk = f"{logical}id"
        primary_name = ""
        columns: list[dict[str, Any]] = []
        lookups: list[dict[str, Any]] = []
        for attribute in entity.iter("attribute"):
            name = (attribute.get("PhysicalName") or _text(attribute, "LogicalName")).lower()
            kind = _text(attribute, "Type", "nvarchar").lower()
            if kind == "primarykey":
                pk = name
                continue
            if name in SYSTEM_ATTRIBUTES:
                continue
            if kind == "lookup":
                target = targets.get((logical, name))
                if not target:
                    raise SolutionError(
                        f"Lookup attribute '{name}' of '{logical}' has no relationship naming "
                        "the table it points to."
                    )
                lookups.append(
                    {
                        "name": name,
                        "target": target,
                        "required": _text(attribute, "RequiredLevel") == "systemrequired",
                    }
                )
                continue
            if kind not in TYPE_MAP:
                raise SolutionError(f"Attribute '{name}' has an unsupported type '{kind}'.")
            max_length = _text(attribute, "MaxLength")
            if "PrimaryName" in _text(attribute, "DisplayMask"):
                primary_name = name
            columns.append(
                {
                    "name": name,
                    "type": TYPE_MAP[kind],
                    "max_length": int(max_length) if max_length.isdigit() else None,
                    "required": _text(attribute, "RequiredLevel") == "systemrequired",
                }
            )
        if not columns:
            raise SolutionError(f"Entity '{logical}' has no attributes.")
        tables.append(
            {
                "logical": logical,
                "entity_set": entity_set,
                "pk": pk,
                "primary_name": primary_name or columns[0]["name"],
                "columns": columns,
                "lookups": lookups,
                "change_tracking": _text(entity, "ChangeTrackingEnabled", "1") in ("1", "true"),
            }
        )
    return {
        "uniquename": unique,
        "version": version,
        "friendlyname": friendly,
        "roles": roles,
        "privileges": privileges,
        "tables": tables,
    }


def table_from_spec(spec: dict[str, Any]) -> Table:
    return build_solution_table(
        logical=spec["logical"],
        entity_set=spec["entity_set"],
        pk=spec["pk"],
        primary_name=spec["primary_name"],
        columns=[Column(**c) for c in spec["columns"]],
        change_tracking=spec["change_tracking"],
        # A lookup's navigation property is the column's own name (its schema name, which the
        # package keeps in lower case).
        lookups=[
            Lookup(lk["name"], {lk["name"]: lk["target"]}, required=lk.get("required", False))
            for lk in spec.get("lookups", [])
        ],
    )


def load_tables(store: Store) -> dict[str, Table]:
    raw = store.get_meta(META_KEY)
    specs = json.loads(raw) if raw else []
    return {spec["logical"]: table_from_spec(spec) for spec in specs}


def import_solution(api: ApiBase, req: Request) -> Response:
    body = req.json_body()
    if not isinstance(body, dict) or not isinstance(body.get("CustomizationFile"), str):
        raise ApiError(400, CODE_INVALID_ARGUMENT, "The parameter 'CustomizationFile' is missing.")
    api.require_admin(req)
    job_id = body.get("ImportJobId") or str(uuid.uuid4())
    job_id = str(job_id).lower()
    if api.store.get("importjobs", job_id) is not None:
        raise ApiError(400, CODE_DUPLICATE_JOB, "Parameter ImportJobId must be unique.")
    started = utcnow_iso()
    try:
        data = base64.b64decode(body["CustomizationFile"], validate=True)
        package = parse_package(data)
    except (binascii.Error, ValueError, SolutionError) as exc:
        message = str(exc) if isinstance(exc, SolutionError) else "CustomizationFile is not base64."
        raise ApiError(400, CODE_INVALID_FILE, message) from exc

    existing = load_tables(api.store)
    specs = {t.logical: spec for t, spec in zip(existing.values(), _specs(api.store), strict=True)}
    for spec in package["tables"]:
        if spec["logical"] in api.tables and spec["logical"] not in existing:
            raise ApiError(
                400,
                CODE_INVALID_FILE,
                f"The table '{spec['logical']}' clashes with a system table.",
            )
        specs[spec["logical"]] = spec
    api.store.set_meta(META_KEY, json.dumps(list(specs.values())))

    admin_req = Request("POST", "", "", {}, b"", req.base, req.version, req.user_id)
    for role_id, name in package["roles"]:
        role = api.store.get("roles", role_id)
        if role is None:
            api.create_row(
                admin_req,
                api.table("role"),
                {
                    "roleid": role_id,
                    "name": name,
                    "businessunitid@odata.bind": f"/businessunits({seed.ROOT_BUSINESS_UNIT_ID})",
                },
            )
        elif role.get("name") != name:
            api.update_row(admin_req, api.table("role"), role, {"name": name})
        # a re-import replaces the role's privileges, as Dataverse's import of the role does
        api.store.set_role_privileges(role_id, package["privileges"].get(role_id, {}))
    solution_id = seed.stable_id("solution", package["uniquename"].lower())
    current = api.store.get("solutions", solution_id)
    values = {
        "uniquename": package["uniquename"],
        "friendlyname": package["friendlyname"],
        "version": package["version"],
        "ismanaged": False,
        "installedon": utcnow_iso(),
    }
    if current is None:
        api.create_row(admin_req, api.table("solution"), {"solutionid": solution_id, **values})
    else:
        api.update_row(admin_req, api.table("solution"), current, values)
    completed = utcnow_iso()
    result_xml = (
        '<importexportxml start="{s}" stop="{c}" progress="100" processed="true">'
        '<solutionManifests><solutionManifest languagecode="1033" id="{u}" '
        'LocalizedName="{f}" processed="true"><UniqueName>{u}</UniqueName>'
        '<Version>{v}</Version><result result="success" errorcode="0" errortext="" '
        'datetime="{c}" /></solutionManifest></solutionManifests>'
        "<entities>{e}</entities><roles>{r}</roles></importexportxml>"
    ).format(
        s=started,
        c=completed,
        u=package["uniquename"],
        f=package["friendlyname"],
        v=package["version"],
        e="".join(f'<entity id="{t["logical"]}" processed="true" />' for t in package["tables"]),
        r="".join(
            f'<role id="{rid}" name="{n}" processed="true" />' for rid, n in package["roles"]
        ),
    )
    api.create_row(
        admin_req,
        api.table("importjob"),
        {
            "importjobid": job_id,
            "name": f"Import of {package['uniquename']} {package['version']}",
            "solutionname": package["uniquename"],
            "progress": 100.0,
            "startedon": started,
            "completedon": clock.utcnow_iso(),
            "data": result_xml,
        },
    )
    # the new tables become visible once everything above succeeded
    api.solution_tables = {k: table_from_spec(v) for k, v in specs.items()}
    return Response(204, [("OData-Version", "4.0")])


def _specs(store: Store) -> list[dict[str, Any]]:
    raw = store.get_meta(META_KEY)
    return json.loads(raw) if raw else []
