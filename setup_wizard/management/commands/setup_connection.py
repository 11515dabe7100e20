"""Set up the CRM connection without the browser: what the assisted setup does, same checks.

Secrets are read only from the environment (CRM_CLIENT_SECRET, CRM_ADMIN_PASSWORD,
ERP_AVAILABILITY_KEY) or from standard input (--client-secret-stdin, --admin-password-stdin;
with both, the client secret is the first line and the admin password the second), never from
arguments, which would show in the process list and the shell history.
"""

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from connection import selectors as connection_selectors
from connection.errors import ConnectionProblem
from connection.models import ConnectionChange, OwnerMode
from setup_wizard import deploy, services, validation
from setup_wizard.validation import SetupInput, SetupInvalid, VerifiedConnection
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
    # A problem with a setup input field is reported under the option that gave it.
    OPTIONS = {
        "environment_url": "--environment-url",
        "token_url": "--token-url",
        "client_id": "--client-id",
        "client_secret": "the client secret",
        "areas": "--areas",
        "owner_mode": "--owner",
        "default_owner_id": "--default-owner-id",
        "availability_user": "--availability-user",
        "availability_key": "ERP_AVAILABILITY_KEY",
        "availability_key_action": "--generate-availability-key",
        "order_processor_id": "--order-processor-id",
        "admin_password": "--admin-username / CRM_ADMIN_PASSWORD",
    }
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

    @sensitive_variables("client_secret", "admin_password", "data")
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
        data = self._input(options, client_secret=client_secret)
        try:
            verified = validation.connection_verify(data=data)
            if verified.notice:
                self.stdout.write(verified.notice)
            verified, imported = self._solution(options, verified, admin_password=admin_password)
            setup = validation.setup_validate(
                data=data,
                verified=verified,
                # Read once: the connection page shows them without asking the CRM again.
                crm_users=validation.crm_users_read(connection=verified),
                sections=[s for s in validation.ALL_SECTIONS if s != validation.CONNECTION],
                solution_imported=imported,
            )
            connection = services.setup_apply(
                setup=setup, actor=None, source=ConnectionChange.Source.COMMAND
            )
        except SetupInvalid as invalid:
            raise CommandError(self._problems_text(invalid)) from None
        except ConnectionProblem as problem:
            raise CommandError(problem.message) from None
        if not connection.crm_record_written_at:
            self.stdout.write(
                "The CRM has no ERP connection table yet (the integration solution is not "
                "imported): item availability inside the CRM starts working after a redeploy "
                "of the solution (connection page)."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Connection to {connection.environment_url} saved; "
                f"integration user {connection.integration_user_name}; "
                f"integration {'enabled' if connection.is_enabled else 'disabled'}."
            )
        )

    def _problems_text(self, invalid: SetupInvalid) -> str:
        lines: list[str] = []
        for name, messages in invalid.problems.items():
            option = self.OPTIONS.get(name, "")
            lines.extend(f"{option}: {m}" if option else m for m in messages)
        return "\n".join(lines)

    def _stdin_lines(self, options: dict[str, Any]) -> list[str]:
        wanted = int(options["client_secret_stdin"]) + int(options["admin_password_stdin"])
        if not wanted:
            return []
        stream = options.get("stdin") or sys.stdin
        lines = [stream.readline().rstrip("\r\n") for _i in range(wanted)]
        if any(not line for line in lines):
            raise CommandError(f"Expected {wanted} non-empty line(s) on standard input.")
        return lines

    @sensitive_variables("client_secret")
    def _input(self, options: dict[str, Any], *, client_secret: str) -> SetupInput:
        """Parse the options; whether they are acceptable is validation's business."""
        generate = bool(options["generate_availability_key"])
        return SetupInput(
            environment_url=options["environment_url"],
            token_url=options["token_url"],
            client_id=options["client_id"],
            client_secret=client_secret,
            areas=[a.strip() for a in options["areas"].split(",") if a.strip()],
            owner_mode=options["owner"],
            default_owner_id=options["default_owner_id"],
            availability_enabled=bool(options["availability_user"]),
            availability_username=options["availability_user"],
            availability_key_action=validation.KEY_GENERATE
            if generate
            else validation.KEY_EXISTING,
            availability_key="" if generate else os.environ.get("ERP_AVAILABILITY_KEY", ""),
            sales_order_integration=options["sales_orders"],
            order_processor_id=options["order_processor_id"],
            auto_create_sales_orders=options["auto_create_sales_orders"],
            enable=not options["disabled"],
        )

    @sensitive_variables("admin_password")
    def _solution(
        self, options: dict[str, Any], verified: VerifiedConnection, *, admin_password: str
    ) -> tuple[VerifiedConnection, bool]:
        """Import the solution and assign the roles when asked (or when roles that exist are
        missing). (verified connection with the user's roles now, solution imported?)"""
        wanted = not options["skip_solution_import"]
        user = verified.integration_user
        roles_to_assign = bool(user.missing_roles) and (
            wanted or connection_selectors.integration_roles_available(connection=verified.settings)
        )
        if not wanted and not roles_to_assign:
            if user.missing_roles:
                self.stdout.write(
                    "The integration solution is not imported: the integration user keeps its "
                    "own roles (the integration roles come with the solution)."
                )
            return verified, False
        if not options["admin_username"] or not admin_password:
            raise ConnectionProblem(
                _(
                    "Importing the integration solution and assigning the integration roles "
                    "needs a CRM administrator: pass --admin-username and the password in "
                    "CRM_ADMIN_PASSWORD or with --admin-password-stdin%(or_skip)s."
                )
                % {
                    "or_skip": ""
                    if roles_to_assign and not wanted
                    else _(" (or --skip-solution-import)")
                }
            )
        result = deploy.solution_deploy(
            connection=verified.settings,
            admin_username=options["admin_username"],
            admin_password=admin_password,
            integration_user_id=verified.check.user_id,
            import_solution=wanted,
        )
        self.stdout.write(
            f"Solution imported: {result.imported}; "
            f"roles assigned: {result.roles_assigned or 'none'}."
        )
        user = connection_selectors.integration_user_check(
            connection=verified.settings, user_id=verified.check.user_id
        )
        return verified.with_user(user), result.imported
