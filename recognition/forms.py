import uuid

from django import forms
from django.contrib.auth import get_user_model

from recognition.models import Value
from recognition.services import MESSAGE_MAX_LENGTH


class PostcardForm(forms.Form):
    recipient = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True),
        error_messages={
            "required": "Choose the colleague you want to thank.",
            "invalid_choice": "Choose a colleague from the search results.",
        },
    )
    value = forms.ModelChoiceField(
        queryset=Value.objects.filter(active=True),
        empty_label=None,
        error_messages={
            "required": "Choose a value.",
            "invalid_choice": "Choose one of the values offered.",
        },
    )
    message = forms.CharField(
        max_length=MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": MESSAGE_MAX_LENGTH}),
        error_messages={"required": "Write a message: what did they do for the customer?"},
    )
    response = forms.IntegerField(required=False, widget=forms.HiddenInput)
    idempotency_key = forms.CharField(max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)


class NicknameForm(forms.Form):
    nickname = forms.CharField(max_length=40, required=False)
