import json

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from cxhub import outbound, roles, services, webhooks
from cxhub.models import (
    AlertDelivery,
    ApiKey,
    DigestDelivery,
    DigestPreference,
    Membership,
    NpsBreach,
    Team,
    TeamAlert,
    WebhookDelivery,
    WebhookEndpoint,
)


class ReadOnlyInline(admin.TabularInline):
    """A history shown on its parent's page, written by the services, never by hand."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "lead"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role"]
    list_filter = ["team", "role"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]


def clean_outbound_url(form: forms.ModelForm, name: str) -> str:
    """A URL CX Hub will POST to: http(s), and allowed by cxhub.outbound now (a host
    that resolves to a private address, or does not resolve, is a form error). A saved
    URL left as it is passes, so a refused one can still be deactivated; its deliveries
    are refused anyway."""
    url = form.cleaned_data[name]
    if not url.startswith(("https://", "http://")):
        raise forms.ValidationError("Use an http:// or https:// URL.")
    if form.instance.pk is not None and name not in form.changed_data:
        return url
    try:
        outbound.destination_check(url)
    except outbound.OutboundError as exc:
        raise forms.ValidationError(str(exc)) from exc
    return url


class TeamAlertForm(forms.ModelForm):
    webhook_url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        help_text="The incoming-webhook URL (Slack or compatible) the team's alerts go to.",
    )

    class Meta:
        model = TeamAlert
        fields = ["team", "webhook_url", "new_detractors", "escalations", "active"]

    def clean_webhook_url(self):
        return clean_outbound_url(self, "webhook_url")


@admin.register(TeamAlert)
class TeamAlertAdmin(admin.ModelAdmin):
    form = TeamAlertForm
    list_display = ["team", "webhook_url", "new_detractors", "escalations", "active"]

    # A change applies to this process at once, to the others within 30 s (team_alert).
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.team_alerts_forget()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        services.team_alerts_forget()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        services.team_alerts_forget()


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(admin.ModelAdmin):
    list_display = ["team", "kind", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "kind", "team"]
    readonly_fields = [
        "team",
        "kind",
        "text",
        "response",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "sent_at",
    ]

    def has_add_permission(self, request):
        return False


@admin.register(DigestDelivery)
class DigestDeliveryAdmin(admin.ModelAdmin):
    list_display = ["user", "week", "status", "sent_at"]
    list_filter = ["status", "week"]

    def has_add_permission(self, request):
        return False


@admin.register(NpsBreach)
class NpsBreachAdmin(admin.ModelAdmin):
    list_display = ["touchpoint", "started_at", "ended_at", "nps", "target", "margin_of_error"]


admin.site.register(DigestPreference)


class CxAdminOnly:
    """Pages only CX admins see (API keys, endpoint secrets, the delivery log's payloads);
    nothing there is deleted (revoke a key, deactivate an endpoint)."""

    def _allowed(self, request) -> bool:
        return roles.is_cx_admin(request.user)

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request)

    def has_add_permission(self, request):
        return self._allowed(request)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(CxAdminOnly, admin.ModelAdmin):
    """CX admins create, name and revoke API keys. The full key is shown once, in the
    message after creation; only its hash is stored. Keys are revoked, never deleted,
    so the list stays an audit of what had access."""

    list_display = [
        "name",
        "prefix",
        "scope",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        # A key's scope is fixed: to change what an integration may do, issue a new key.
        return [*self.readonly_fields, "scope"] if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        key, raw = services.api_key_create(
            name=form.cleaned_data["name"],
            scope=form.cleaned_data["scope"],
            created_by=request.user,
        )
        obj.pk, obj.prefix, obj.hashed_key, obj.created_by = (
            key.pk,
            key.prefix,
            key.hashed_key,
            key.created_by,
        )
        obj.created_at = key.created_at
        obj._state.adding = False
        self.message_user(
            request,
            f"API key “{key.name}” created. Copy it now, it will not be shown again: {raw}",
            messages.WARNING,
        )

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request, queryset):
        n = 0
        for key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(api_key=key)
            n += 1
        self.message_user(request, f"{n} API key(s) revoked.", messages.SUCCESS)


# --- outgoing webhooks --------------------------------------------------------------------


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(
        max_length=500, assume_scheme="https", help_text="http(s) URL that receives the POSTs."
    )
    events = forms.MultipleChoiceField(
        choices=WebhookEndpoint.Event.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="The events posted to this URL.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "events", "active"]

    def clean_url(self):
        return clean_outbound_url(self, "url")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(CxAdminOnly, admin.ModelAdmin):
    """Endpoints are deactivated, never deleted: the delivery log keeps pointing at them.
    The secret is generated and shown here so the receiver can verify signatures."""

    form = WebhookEndpointForm
    list_display = ["url", "description", "event_list", "active", "created_at"]
    list_filter = ["active"]
    readonly_fields = ["secret", "created_at"]

    @admin.display(description="events")
    def event_list(self, obj):
        return ", ".join(obj.events)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        webhooks.webhook_endpoints_forget()  # this process at once, the others within 30 s


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(CxAdminOnly, admin.ModelAdmin):
    """The delivery log: read-only; "redeliver" sends an event again (same event id)."""

    list_display = [
        "event",
        "endpoint",
        "status",
        "attempts",
        "response_status_code",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status", "event", "endpoint"]
    list_select_related = ["endpoint"]
    fields = [
        "endpoint",
        "event",
        "event_id",
        "status",
        "attempts",
        "response_status_code",
        "last_error",
        "created_at",
        "sent_at",
        "next_attempt_at",
        "payload_json",
    ]
    readonly_fields = fields
    actions = ["redeliver"]

    @admin.display(description="payload")
    def payload_json(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Redeliver selected deliveries")
    def redeliver(self, request, queryset):
        again = [webhooks.webhook_delivery_redeliver(delivery=d) for d in queryset]
        sent = sum(1 for d in again if d is not None)
        self.message_user(
            request,
            f"{sent} deliver{'y' if sent == 1 else 'ies'} queued again"
            + (f"; {len(again) - sent} still pending left alone." if sent < len(again) else "."),
            messages.SUCCESS,
        )
