"""Bulk operation messages (CreateMultiple, UpdateMultiple, UpsertMultiple)."""

from __future__ import annotations

from sandbox import odata
from sandbox.base import ApiBase
from sandbox.protocol import (
    CODE_INVALID_ARGUMENT,
    CODE_NOT_SUPPORTED,
    ApiError,
    Request,
    Response,
    json_response,
)
from sandbox.tables import Table


class BulkMixin(ApiBase):
    """CreateMultiple, UpdateMultiple and UpsertMultiple bound to a table."""

    def bulk(self, req: Request, table: Table, message: str) -> Response:
        if not table.bulk:
            raise ApiError(
                400,
                CODE_NOT_SUPPORTED,
                f"The '{message}' message is not supported on the '{table.logical}' table. "
                "Send the operations one by one or in a $batch.",
            )
        body = req.json_body()
        targets = body.get("Targets") if isinstance(body, dict) else None
        if not isinstance(targets, list):
            raise ApiError(400, CODE_INVALID_ARGUMENT, "The parameter 'Targets' is missing.")
        expected = f"Microsoft.Dynamics.CRM.{table.logical}"
        ids: list[str] = []
        for index, target in enumerate(targets):
            if not isinstance(target, dict) or target.get("@odata.type") != expected:
                raise ApiError(
                    400,
                    CODE_INVALID_ARGUMENT,
                    f'Target {index}: every target needs "@odata.type": "{expected}".',
                )
            try:
                if message == "CreateMultiple":
                    ids.append(self.create_row(req, table, target)[table.pk])
                elif message == "UpdateMultiple":
                    row_id = target.get(table.pk)
                    if not isinstance(row_id, str):
                        raise ApiError(
                            400, CODE_INVALID_ARGUMENT, f"Target {index} has no {table.pk}."
                        )
                    row = self.find_row(table, row_id)
                    assert row is not None
                    self.update_row(req, table, row, target)
                else:
                    ref = target.get("@odata.id")
                    if isinstance(ref, str):
                        key = odata.split_name_and_key(ref.rsplit("/", 1)[-1])[1] or ""
                    elif isinstance(target.get(table.pk), str):
                        key = target[table.pk]
                    else:
                        raise ApiError(
                            400,
                            CODE_INVALID_ARGUMENT,
                            f"Target {index} names no record ({table.pk} or @odata.id).",
                        )
                    row = self.find_row(table, key, must_exist=False)
                    data = {k: v for k, v in target.items() if k != "@odata.id"}
                    if row is None:
                        parsed = odata.parse_key(key)
                        extra = {table.pk: parsed} if isinstance(parsed, str) else parsed
                        self.create_row(req, table, {**extra, **data})
                    else:
                        self.update_row(req, table, row, data)
            except ApiError as exc:
                exc.message = f"{exc.message} (target {index})"
                raise
        if message == "CreateMultiple":
            return json_response(
                200,
                {
                    "@odata.context": f"{req.root}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse",  # noqa: E501
                    "Ids": ids,
                },
            )
        return Response(204, [("OData-Version", "4.0")])
