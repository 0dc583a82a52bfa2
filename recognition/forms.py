import uuid

from django import forms
from django.contrib.auth import get_user_model

from recognition.models import MESSAGE_MAX_LENGTH, Value
from recognition.services import NICKNAME_MAX_LENGTH


class PostcardForm(forms.Form):
    """The postcard form. The hidden idempotency key is minted when the form is shown
    and travels with every resubmission of it, so a double submit sends one postcard."""

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
        widget=forms.Textarea(attrs={"rows": 5, "maxlength": MESSAGE_MAX_LENGTH}),
        error_messages={
            "required": "Write a message: what did they do for the customer?",
            "max_length": "The message is %(show_value)d characters long: at most %(limit_value)d.",
        },
    )
    response = forms.IntegerField(required=False, widget=forms.HiddenInput)
    idempotency_key = forms.CharField(
        max_length=64,
        widget=forms.HiddenInput,
        error_messages={"required": "The form expired: reload the page and try again."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)


class PostcardHideForm(forms.Form):
    """Why a CX admin hides a postcard, and the page to return to. Django's CharField
    refuses NUL characters, which PostgreSQL cannot store in text."""

    reason = forms.CharField(
        required=False,
        error_messages={
            "null_characters_not_allowed": "The reason holds a NUL character: remove it."
        },
    )
    next = forms.CharField(
        required=False,
        error_messages={"null_characters_not_allowed": "The return address holds a NUL character."},
    )


class NicknameForm(forms.Form):
    nickname = forms.CharField(
        max_length=NICKNAME_MAX_LENGTH,
        required=False,
        help_text="Leave empty to match your first and last name only.",
    )
