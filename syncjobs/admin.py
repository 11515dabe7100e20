"""Django admin for the integration table mappings: the same rules as the synchronization page
and the REST API (`validation.mapping_validate`), and the same schedule update afterwards."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from . import services
from .forms import FIELD_MAPPING_FIELDS, MAPPING_FIELDS
from .models import IntegrationFieldMapping, IntegrationTableMapping, JobQueueEntry, JobRun
from .validation import mapping_validate


class FieldMappingInlineFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        rows = [
            form
            for form in self.forms
            if (form.instance.pk or form.has_changed()) and not self._should_delete_form(form)  # type: ignore[attr-defined]
        ]
        problems = mapping_validate(
            mapping=self.instance, field_mappings=[form.instance for form in rows]
        )
        for index, by_field in problems.field_errors.items():
            for name, msgs in by_field.items():
                for message in msgs:
                    rows[index].add_error(name if name in rows[index].fields else None, message)
        if problems.errors:
            raise ValidationError([m for msgs in problems.errors.values() for m in msgs])


class FieldMappingInline(admin.TabularInline):
    model = IntegrationFieldMapping
    formset = FieldMappingInlineFormSet
    fields = FIELD_MAPPING_FIELDS
    extra = 0


@admin.register(IntegrationTableMapping)
class IntegrationTableMappingAdmin(admin.ModelAdmin):
    list_display = ("name", "erp_table", "direction", "crm_entity", "enabled", "priority")
    list_filter = ("direction", "enabled")
    readonly_fields = ("name", "erp_table", "crm_entity", "crm_uid_type", "periodic_task")
    fields = (*readonly_fields, *MAPPING_FIELDS)
    inlines = (FieldMappingInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # mappings come from the default setup

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # "Use default synchronization setup" on /sync/ instead

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        mapping = form.instance
        services.mapping_schedule_apply(mapping=mapping)
        fields = list(mapping.field_mappings.all())
        for warning in mapping_validate(mapping=mapping, field_mappings=fields).warnings:
            self.message_user(request, warning, level=messages.WARNING)


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ("job_name", "started_at", "status", "inserted", "modified", "failed")
    list_filter = ("status", "kind", "direction")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(JobQueueEntry)
class JobQueueEntryAdmin(admin.ModelAdmin):
    """Read only: the entries are paused, held and resumed on /sync/jobs/, which keeps their
    scheduled jobs in step (syncjobs.jobqueue)."""

    list_display = ("description", "job", "recurring", "status", "attempts", "next_run_at")
    list_filter = ("status", "job", "recurring")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
