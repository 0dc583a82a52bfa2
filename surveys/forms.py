from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from surveys import services


class ResponseForm(forms.Form):
    score = forms.CharField(error_messages={"required": _("Please choose a score from 0 to 10.")})
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def clean_score(self):
        try:
            return services.clean_score(self.cleaned_data["score"])
        except ValidationError:
            raise ValidationError(_("The score must be a whole number from 0 to 10.")) from None

    def clean_comment(self):
        comment = self.cleaned_data.get("comment", "")
        limit = settings.SURVEY_COMMENT_MAX_LENGTH
        if len(comment) > limit:
            raise ValidationError(
                _("Your comment is %(n)s characters long; please keep it under %(limit)s.")
                % {"n": len(comment), "limit": limit}
            )
        return comment
