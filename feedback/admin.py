from django import forms
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


class ImprovementActionForm(forms.ModelForm):
    publish = forms.BooleanField(
        required=False,
        label="Published",
        help_text="Shown to everyone on the dashboard's “You said, we did” from now; "
        "untick to take it back to a draft.",
    )

    class Meta:
        model = ImprovementAction
        fields = ["title", "summary", "owner_team", "touchpoint", "root_causes", "status"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["publish"].initial = self.instance.published_at is not None


@admin.register(ImprovementAction)
class ImprovementActionAdmin(admin.ModelAdmin):
    """Publishing is a tick box; who created it and when are recorded, not typed."""

    form = ImprovementActionForm
    list_display = ["title", "owner_team", "touchpoint", "status", "published_at"]
    list_filter = ["status", "owner_team", "touchpoint"]
    filter_horizontal = ["root_causes"]
    fields = ["title", "summary", "owner_team", "touchpoint", "root_causes", "status", "publish"]
    readonly_fields = ["published_at", "created_by", "created_at"]

    def get_fields(self, request, obj=None):
        return self.fields + (self.readonly_fields if obj else [])

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        obj.set_published(form.cleaned_data["publish"])
        super().save_model(request, obj, form, change)
