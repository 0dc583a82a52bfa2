from django.contrib import admin, messages

from surveys import services
from surveys.models import Invitation, NpsDaily, Person, Response, Touchpoint


@admin.register(Touchpoint)
class TouchpointAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "owner_team", "nps_target", "followup_deadline_hours", "active"]
    list_filter = ["active", "owner_team"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["email", "phone", "name", "unsubscribed_at", "created_at"]
    search_fields = ["email", "phone", "name", "external_id"]
    list_filter = [("unsubscribed_at", admin.EmptyFieldListFilter)]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Creating an invitation here goes through the service: quiet period,
    unsubscribes and sending after commit all apply."""

    list_display = [
        "person",
        "touchpoint",
        "channel",
        "status",
        "skip_reason",
        "scheduled_for",
        "sent_at",
        "responded_at",
    ]
    list_filter = ["status", "skip_reason", "channel", "touchpoint"]
    search_fields = ["person__email", "person__phone", "person__name"]
    autocomplete_fields = ["person"]
    fields = ["person", "touchpoint", "channel", "locale", "scheduled_for"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [
            "person",
            "touchpoint",
            "channel",
            "locale",
            "scheduled_for",
            "status",
            "skip_reason",
            "sent_at",
            "responded_at",
            "expires_at",
            "send_attempts",
            "last_error",
        ]

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.fields
        return self.get_readonly_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return
        created = services.invitation_create(
            person=obj.person,
            touchpoint=obj.touchpoint,
            channel=obj.channel,
            locale=obj.locale,
            scheduled_for=obj.scheduled_for,
        )
        obj.pk, obj.token, obj.status, obj.skip_reason = (
            created.pk,
            created.token,
            created.status,
            created.skip_reason,
        )
        obj._state.adding = False
        if created.skip_reason:
            self.message_user(
                request, f"Not sent: {created.get_skip_reason_display()}.", level=messages.WARNING
            )


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ["touchpoint", "score", "category", "short_comment", "channel", "created_at"]
    list_filter = ["category", "touchpoint", "channel"]
    search_fields = ["comment", "person__email"]
    date_hierarchy = "created_at"
    raw_id_fields = ["person", "invitation"]
    readonly_fields = ["category", "created_at", "updated_at"]

    # Responses come from customers (survey pages, API, import) through the service
    # that opens cases and updates rollups: the admin only reads them.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="comment")
    def short_comment(self, obj):
        return obj.comment[:80]


@admin.register(NpsDaily)
class NpsDailyAdmin(admin.ModelAdmin):
    list_display = ["touchpoint", "date", "promoters", "passives", "detractors", "computed_at"]
    list_filter = ["touchpoint"]
    date_hierarchy = "date"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
