from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.utils.text import format_lazy

from cxhub.admin import ReadOnlyInline
from surveys import services
from surveys.models import (
    TRANSLATED_TEXTS,
    Invitation,
    NpsDaily,
    Person,
    Response,
    Suppression,
    TargetChange,
    Touchpoint,
    translation_languages,
    validate_touchpoint_translations,
)

TOUCHPOINT_FIELDS = [
    "name",
    "slug",
    "owner_team",
    "question",
    "nps_target",
    "followup_deadline_hours",
    "resurvey_after_days",
    "quiet_period_days",
    "active",
    "created_at",
]


def _translation_field(key: str, code: str) -> str:
    return f"{key}_{code.replace('-', '_')}"


def _translation_form_fields() -> dict[str, forms.Field]:
    """One name and one question field per language the survey pages speak besides the
    default: a CX admin fills in boxes, never JSON."""
    fields = {}
    for code, label in translation_languages():
        fields[_translation_field("name", code)] = forms.CharField(
            label=format_lazy("Customer-facing name ({})", label),
            max_length=TRANSLATED_TEXTS["name"],
            required=False,
            help_text=format_lazy(
                "Shown above the question on {} survey pages and in the survey email. "
                "Blank: customers see the name above.",
                label,
            ),
        )
        fields[_translation_field("question", code)] = forms.CharField(
            label=format_lazy("Customer-facing question ({})", label),
            max_length=TRANSLATED_TEXTS["question"],
            required=False,
            widget=forms.TextInput(attrs={"class": "vLargeTextField"}),
            help_text="Blank: the question above, or the standard question in this "
            "language when that is blank too.",
        )
    return fields


class TouchpointAdminFormBase(forms.ModelForm):
    """Touchpoint.translations edited as plain text boxes, one pair per language."""

    class Meta:
        model = Touchpoint
        fields = TOUCHPOINT_FIELDS  # translations: through the boxes below

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = self.instance.translations if isinstance(self.instance.translations, dict) else {}
        for code, _label in translation_languages():
            texts = stored.get(code) if isinstance(stored.get(code), dict) else {}
            for key in TRANSLATED_TEXTS:
                name = _translation_field(key, code)
                if name in self.fields:
                    self.initial.setdefault(name, texts.get(key, ""))

    def clean(self):
        cleaned = super().clean()
        stored = self.instance.translations if isinstance(self.instance.translations, dict) else {}
        languages = dict(translation_languages())
        # Languages no longer in settings.LANGUAGES keep what they had.
        translations = {code: texts for code, texts in stored.items() if code not in languages}
        for code in languages:
            texts = {
                key: cleaned.get(_translation_field(key, code), "").strip()
                for key in TRANSLATED_TEXTS
            }
            texts = {key: text for key, text in texts.items() if text}
            if texts:
                translations[code] = texts
        try:
            validate_touchpoint_translations(
                {code: texts for code, texts in translations.items() if code in languages}
            )
        except ValidationError as error:
            self.add_error(None, error)
        self.translations = translations
        return cleaned

    def save(self, commit=True):
        self.instance.translations = self.translations
        return super().save(commit=commit)


TouchpointAdminForm = type(TouchpointAdminFormBase)(
    "TouchpointAdminForm", (TouchpointAdminFormBase,), _translation_form_fields()
)


class TargetChangeInline(ReadOnlyInline):
    """The touchpoint's past targets (what past scorecards are judged against): written
    when the target changes (services.touchpoint_target_changed)."""

    model = TargetChange
    verbose_name_plural = "Target history"
    fields = readonly_fields = ["applies", "nps_target", "changed_by", "changed_at"]

    @admin.display(description="Applies from")
    def applies(self, obj):
        return "the start" if obj.applies_from == TargetChange.SINCE_THE_START else obj.applies_from

    def has_view_permission(self, request, obj=None):  # whoever may see the touchpoint
        return request.user.has_perm("surveys.view_touchpoint") or request.user.has_perm(
            "surveys.change_touchpoint"
        )


@admin.register(Touchpoint)
class TouchpointAdmin(admin.ModelAdmin):
    form = TouchpointAdminForm
    inlines = [TargetChangeInline]
    list_display = [
        "name",
        "slug",
        "owner_team",
        "nps_target",
        "followup_deadline_hours",
        "active",
        "translated_into",
    ]
    list_filter = ["active", "owner_team"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": TOUCHPOINT_FIELDS}),
        *[
            (
                format_lazy("What customers see in {}", label),
                {
                    "description": format_lazy(
                        "Used on the survey pages and in the survey email when the survey is "
                        "in {}. Staff pages, reports and the API keep the name above.",
                        label,
                    ),
                    "fields": [_translation_field(key, code) for key in TRANSLATED_TEXTS],
                },
            )
            for code, label in translation_languages()
        ],
    ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "nps_target" in form.changed_data:  # past periods keep the old one
            services.touchpoint_target_changed(
                touchpoint=obj, old=form.initial["nps_target"], by=request.user
            )

    @admin.display(description="Translated into")
    def translated_into(self, obj):
        translations = obj.translations if isinstance(obj.translations, dict) else {}
        labels = [str(label) for code, label in translation_languages() if translations.get(code)]
        return ", ".join(labels) or "—"


class PersonForm(forms.ModelForm):
    """The rules every other way in applies (services.person_upsert): an email stored
    lowercased, a phone number in E.164 (the case page dials it, SMS go to it), and at
    least one of the two. (PersonAdmin gives it its model and fields.)"""

    def clean_email(self):
        return services.clean_email(self.cleaned_data.get("email"))

    def clean_phone(self):
        try:
            return services.clean_phone(self.cleaned_data.get("phone") or "")
        except ValidationError as error:
            raise ValidationError(error.messages) from None

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("email") and not cleaned.get("phone") and not self.errors:
            raise ValidationError("Give an email address or a phone number.")
        return cleaned


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    """Deleting a person here erases them (GDPR), as DELETE /v1/people/… and the
    erase_person command do: a plain delete would leave their comments, case notes
    and quotes behind, on responses that merely lose the link to them."""

    form = PersonForm
    list_display = ["email", "phone", "name", "unsubscribed_at", "created_at"]
    search_fields = ["email", "phone", "name", "external_id"]
    list_filter = [("unsubscribed_at", admin.EmptyFieldListFilter)]

    def save_model(self, request, obj, form, change):
        # Unsubscribed by hand: through the service, which cancels what is scheduled
        # for them and announces it (the unsubscribe.created webhook).
        unsubscribing = (
            obj.unsubscribed_at is not None and form.initial.get("unsubscribed_at") is None
        )
        if unsubscribing:
            obj.unsubscribed_at = None
        # A new email address has not bounced (the old one had, perhaps).
        if change and "email" in form.changed_data and "bounced_at" not in form.changed_data:
            obj.bounced_at = None
        # An unsubscribe or bounce cleared by hand: the customer opted back in, so the
        # suppression list (an erased person's) no longer holds their address either.
        for field, kind in (
            ("unsubscribed_at", Suppression.Kind.UNSUBSCRIBED),
            ("bounced_at", Suppression.Kind.BOUNCED),
        ):
            if change and field in form.changed_data and getattr(obj, field) is None:
                services.suppressions_lift(email=obj.email, phone=obj.phone, kind=kind)
        # A person added here, or given a new address, that an erased person had
        # unsubscribed or bounced is marked so, as with every other way in.
        new_address = not change or {"email", "phone"} & set(form.changed_data)
        applied = services.person_suppressions_apply(person=obj) if new_address else []
        super().save_model(request, obj, form, change)
        if unsubscribing and obj.unsubscribed_at is None:
            services.person_unsubscribe(person=obj)
        if applied:
            self.message_user(
                request,
                "This address was on the suppression list (an erased person had "
                f"{' and '.join(applied)}): the person is marked so.",
                level=messages.WARNING,
            )

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except services.SurveyError as error:  # rolled back, its history entry too
            self.message_user(request, error.message, level=messages.ERROR)
            return HttpResponseRedirect(request.path)

    def delete_model(self, request, obj):
        services.person_erase(person=obj)

    def delete_queryset(self, request, queryset):
        for person in queryset:
            services.person_erase(person=person)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:  # Django's confirmation page, then erasures
            actions["delete_selected"] = (
                PersonAdmin.erase_selected,
                "delete_selected",
                actions["delete_selected"][2],
            )
        return actions

    def erase_selected(self, request, queryset):
        """Django's "Delete selected" with its confirmation page, then each person erased
        in their own transaction with their history entry: one that is refused (an
        import naming them is running) stays, with no entry, and is reported as not
        deleted; the success message counts only the people erased."""
        if not request.POST.get("post"):
            return delete_selected(self, request, queryset)
        if not self.has_delete_permission(request):
            raise PermissionDenied
        erased = 0
        for person in queryset:
            try:
                with transaction.atomic():
                    self.log_deletions(request, Person.objects.filter(pk=person.pk))
                    services.person_erase(person=person)
                erased += 1
            except services.SurveyError as error:
                self.message_user(
                    request, f"Not deleted: {person}. {error.message}", level=messages.ERROR
                )
        if erased:
            self.message_user(
                request,
                f"Erased {erased} {'person' if erased == 1 else 'people'}.",
                level=messages.SUCCESS,
            )
        return None


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

    # Deleting (spam from a public link, say) goes through the service, which gets the
    # rollups recomputed: a plain delete left the dashboards counting the answers.
    def delete_model(self, request, obj):
        services.responses_delete(responses=Response.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        services.responses_delete(responses=queryset)

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


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    """What erasure keeps of an unsubscribe or a bounce: a keyed digest, no address, so
    nothing here can be searched or edited. A superuser lifts a suppression (the
    customer asks to be surveyed again) by deleting it; a person already re-created
    keeps their unsubscribed_at / bounced_at."""

    list_display = ["kind", "short_digest", "created_at"]
    list_filter = ["kind"]
    date_hierarchy = "created_at"
    fields = ["kind", "short_digest", "created_at"]
    readonly_fields = fields

    @admin.display(description="digest")
    def short_digest(self, obj):
        return f"{obj.digest[:12]}…"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser
