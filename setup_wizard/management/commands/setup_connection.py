"""Set up the CRM connection without the browser: what the assisted setup does, same checks.

Secrets are read only from the environment (CRM_CLIENT_SECRET, CRM_ADMIN_PASSWORD,
ERP_AVAILABILITY_KEY) or from standard input (--client-secret-stdin, --admin-password-stdin;
with both, the client secret is the first line and the admin password the second), never from
arguments, which would show in the process list and the shell history.
"""

import os
import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from accounts import selectors as account_selectors
from setup_wizard import selectors, services
from setup_wizard.errors import SetupProblem
from setup_wizard.models import ConnectionChange, OwnerMode
from syncjobs.defaults import ALL_AREAS

REFUSED = (
    "Secrets are never accepted as command-line arguments (they would show in the process list and "
    "the shell history). Use the {env} environment variable or {stdin}."
)


class Command(BaseCommand):
    help = (
        "Set up (or change) the CRM connection non-interactively, with the checks of the "
        "assisted setup."
    )
    # call_command(..., stdin=StringIO(...)) in tests; the shell passes real standard input.
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--environment-url", required=True)
        parser.add_argument("--token-url", required=True)
        parser.add_argument("--client-id", required=True)
        parser.add_argument(
            "--client-secret-stdin", action="store_true", help="read the client secret from stdin"
        )
        parser.add_argument(
            "--client-secret",
            dest="refused_client_secret",
            help="refused: see --client-secret-stdin",
        )
        parser.add_argument("--admin-username", default="", help="CRM administrator, used once")
        parser.add_argument("--admin-password-stdin", action="store_true")
        parser.add_argument(
            "--admin-password",
            dest="refused_admin_password",
            help="refused: see --admin-password-stdin",
        )
        parser.add_argument("--skip-solution-import", action="store_true")
        parser.add_argument(
            "--areas", default=",".join(ALL_AREAS), help="comma-separated: " + ",".join(ALL_AREAS)
        )
        parser.add_argument(
            "--owner", choices=[c for c, _l in OwnerMode.choices], default=OwnerMode.SALESPERSON
        )
        parser.add_argument("--default-owner-id", default="")
        parser.add_argument(
            "--availability-user", default="", help="ERP user name; publishes the service"
        )
        parser.add_argument("--generate-availability-key", action="store_true")
        parser.add_argument(
            "--sales-orders", action="store_true", help="enable sales order integration"
        )
        parser.add_argument(
            "--order-processor-id", default="", help="CRM user id (default: the integration user)"
        )
        parser.add_argument("--auto-create-sales-orders", action="store_true")
        parser.add_argument(
            "--disabled", action="store_true", help="save without enabling the integration"
        )

    @sensitive_variables("client_secret", "admin_password", "key", "data")
    def handle(self, *args: Any, **options: Any) -> None:
        if options["refused_client_secret"] is not None:
            raise CommandError(
                REFUSED.format(env="CRM_CLIENT_SECRET", stdin="--client-secret-stdin")
            )
        if options["refused_admin_password"] is not None:
            raise CommandError(
                REFUSED.format(env="CRM_ADMIN_PASSWORD", stdin="--admin-password-stdin")
            )
        stdin_lines = self._stdin_lines(options)
        client_secret = (
            stdin_lines.pop(0)
            if options["client_secret_stdin"]
            else os.environ.get("CRM_CLIENT_SECRET", "")
        )
        admin_password = (
            stdin_lines.pop(0)
            if options["admin_password_stdin"]
            else os.environ.get("CRM_ADMIN_PASSWORD", "")
        )
        if not client_secret:
            raise CommandError(
                "No client secret: set CRM_CLIENT_SECRET or pass --client-secret-stdin."
            )
        try:
            data = self._collect(
                options, client_secret=client_secret, admin_password=admin_password
            )
            connection = services.setup_apply(
                data=data, actor=None, source=ConnectionChange.Source.COMMAND
            )
        except SetupProblem as problem:
            raise CommandError(problem.message) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Connection to {connection.environment_url} saved; "
                f"integration user {connection.integration_user_name}; "
                f"integration {'enabled' if connection.is_enabled else 'disabled'}."
            )
        )

    def _stdin_lines(self, options: dict[str, Any]) -> list[str]:
        wanted = int(options["client_secret_stdin"]) + int(options["admin_password_stdin"])
        if not wanted:
            return []
        stream = options.get("stdin") or sys.stdin
        lines = [stream.readline().rstrip("\r\n") for _i in range(wanted)]
        if any(not line for line in lines):
            raise CommandError(f"Expected {wanted} non-empty line(s) on standard input.")
        return lines

    @sensitive_variables("client_secret", "admin_password", "key")
    def _collect(
        self, options: dict[str, Any], *, client_secret: str, admin_password: str
    ) -> services.SetupData:
        environment_url, notice = services.environment_url_normalize(url=options["environment_url"])
        if notice:
            self.stdout.write(notice)
        token_url = services.token_url_normalize(url=options["token_url"])
        connection = services.connection_settings_build(
            environment_url=environment_url,
            token_url=token_url,
            client_id=options["client_id"].strip(),
            client_secret=client_secret,
        )
        check = selectors.crm_connection_check(connection=connection)
        user = selectors.integration_user_check(connection=connection, user_id=check.user_id)
        imported = False
        if not options["skip_solution_import"] or user.missing_roles:
            if not options["admin_username"] or not admin_password:
                raise SetupProblem(
                    _(
                        "Importing the integration solution and assigning the integration roles "
                        "needs a CRM administrator: pass --admin-username and the password in "
                        "CRM_ADMIN_PASSWORD or with --admin-password-stdin%(or_skip)s."
                    )
                    % {"or_skip": "" if user.missing_roles else _(" (or --skip-solution-import)")}
                )
            result = services.solution_deploy(
                connection=connection,
                admin_username=options["admin_username"],
                admin_password=admin_password,
                integration_user_id=check.user_id,
                import_solution=not options["skip_solution_import"],
            )
            imported = result.imported
            self.stdout.write(
                f"Solution imported: {result.imported}; "
                f"roles assigned: {result.roles_assigned or 'none'}."
            )
            user = selectors.integration_user_check(connection=connection, user_id=check.user_id)
        areas = [a.strip() for a in options["areas"].split(",") if a.strip()]
        unknown = sorted(set(areas) - set(ALL_AREAS))
        if unknown or not areas:
            raise SetupProblem(
                _("Unknown areas %(unknown)s; choose from %(areas)s.")
                % {"unknown": ", ".join(unknown) or "-", "areas": ",".join(ALL_AREAS)}
            )
        default_owner_id, default_owner_name = None, ""
        users = {str(u.id): u for u in selectors.crm_user_list(connection=connection)}
        if options["owner"] == OwnerMode.DEFAULT_OWNER:
            owner = users.get(options["default_owner_id"].lower())
            if owner is None:
                raise SetupProblem(
                    _(
                        "--owner default needs --default-owner-id with the id of an enabled "
                        "CRM user."
                    )
                )
            default_owner_id, default_owner_name = owner.id, owner.name
        processor_id, processor_name = user.id, user.name
        if options["order_processor_id"]:
            processor = users.get(options["order_processor_id"].lower())
            if processor is None:
                raise SetupProblem(_("--order-processor-id is not the id of an enabled CRM user."))
            processor_id, processor_name = processor.id, processor.name
        availability_user, key = None, ""
        if options["availability_user"]:
            availability_user = (
                account_selectors.availability_users()
                .filter(username=options["availability_user"])
                .first()
            )
            if availability_user is None:
                exists = (
                    get_user_model().objects.filter(username=options["availability_user"]).exists()
                )
                message = (
                    _("ERP user %(user)s may not use the item availability service.")
                    if exists
                    else _("ERP user %(user)s does not exist.")
                )
                raise SetupProblem(message % {"user": options["availability_user"]})
            if not options["generate_availability_key"]:
                key = os.environ.get("ERP_AVAILABILITY_KEY", "")
                if not key or not account_selectors.webservice_key_check(
                    user=availability_user, key=key
                ):
                    raise SetupProblem(
                        _(
                            "Pass --generate-availability-key, or put the user's current web "
                            "service access key in ERP_AVAILABILITY_KEY."
                        )
                    )
        return services.SetupData(
            environment_url=environment_url,
            token_url=token_url,
            client_id=options["client_id"].strip(),
            client_secret=client_secret,
            check=check,
            integration_user=user,
            solution_imported=imported,
            roles_assigned=not user.missing_roles,
            areas=areas,
            owner_mode=options["owner"],
            default_owner_id=default_owner_id,
            default_owner_name=default_owner_name,
            availability_enabled=availability_user is not None,
            availability_user=availability_user,
            availability_key=key,
            availability_generate_key=bool(options["generate_availability_key"]),
            sales_order_integration=options["sales_orders"],
            order_processor_id=processor_id if options["sales_orders"] else None,
            order_processor_name=processor_name if options["sales_orders"] else "",
            auto_create_sales_orders=options["auto_create_sales_orders"],
            enable=not options["disabled"],
        )
