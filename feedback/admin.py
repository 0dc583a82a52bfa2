from django.contrib import admin

from cxhub.admin import ReadOnlyInline
from feedback.models import CaseEvent, ContactAttempt, FollowUpCase, ImprovementAction, RootCause


@admin.register(RootCause)
class RootCauseAdmin(admin.ModelAdmin):
    list_display = ["name", "touchpoint", "active"]
    list_filter = ["active", "touchpoint"]
    search_fields = ["name"]


class AttemptInline(ReadOnlyInline):
    model = ContactAttempt


class EventInline(ReadOnlyInline):
    model = CaseEvent


@admin.register(FollowUpCase)
class FollowUpCaseAdmin(admin.ModelAdmin):
    """Cases are worked in the queue, where every change goes on the timeline; the
    admin only reads them (nothing is deleted)."""

    list_display = [
        "__str__",
        "team",
        "assignee",
        "status",
        "outcome",
        "priority",
        "due_at",
        "escalated_at",
    ]
    list_filter = ["status", "outcome", "team", "priority"]
    date_hierarchy = "created_at"
    inlines = [AttemptInline, EventInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ImprovementAction)
class ImprovementActionAdmin(admin.ModelAdmin):
    list_display = ["title", "owner_team", "touchpoint", "status", "published_at"]
    list_filter = ["status", "owner_team", "touchpoint"]
    filter_horizontal = ["root_causes"]
