from django import forms
from django.contrib import admin, messages

from recognition import services
from recognition.models import Postcard, PraiseExclusion, Profile, ShoutOut, Value


@admin.register(Value)
class ValueAdmin(admin.ModelAdmin):
    """The values offered on postcards. Deactivate rather than delete: sent postcards keep theirs."""

    list_display = ["name", "position", "active"]
    list_editable = ["position", "active"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Postcard)
class PostcardAdmin(admin.ModelAdmin):
    """Postcards are sent from the Champions pages; here CX admins moderate them."""

    list_display = ["recipient", "sender", "value", "created_at", "from_customer", "hidden_at"]
    list_filter = ["value", "from_customer", ("hidden_at", admin.EmptyFieldListFilter)]
    search_fields = ["message", "recipient__username", "recipient__last_name", "sender__username"]
    list_select_related = ["recipient", "sender", "value"]
    date_hierarchy = "created_at"
    actions = ["hide"]
    readonly_fields = [f.name for f in Postcard._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Hide the selected postcards (they then count nowhere)")
    def hide(self, request, queryset):
        try:
            for postcard in queryset:
                services.postcard_hide(
                    postcard=postcard, by=request.user, reason="Hidden from the admin"
                )
        except services.RecognitionError as exc:
            messages.error(request, str(exc))
            return
        messages.success(request, f"Hid {queryset.count()} postcards.")


class ProfileForm(forms.ModelForm):
    def clean_nickname(self):
        try:
            return services.nickname_clean(self.cleaned_data["nickname"])
        except services.RecognitionError as error:
            raise forms.ValidationError(str(error)) from None


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    """Nicknames are checked as on /champions/me/ (services.nickname_clean)."""

    form = ProfileForm
    list_display = ["user", "nickname"]
    search_fields = ["user__username", "nickname"]


@admin.register(ShoutOut)
class ShoutOutAdmin(admin.ModelAdmin):
    list_display = ["matched_name", "lead", "status", "created_at", "decided_by", "decided_at"]
    list_select_related = ["lead", "decided_by"]
    list_filter = ["status"]
    raw_id_fields = ["response", "postcard", "candidates"]
    readonly_fields = ["decided_at", "decided_by"]


@admin.register(PraiseExclusion)
class PraiseExclusionAdmin(admin.ModelAdmin):
    list_display = ["response", "excluded_by", "excluded_at"]
    raw_id_fields = ["response"]
