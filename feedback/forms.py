from django import forms
from django.core.exceptions import ValidationError

from feedback.models import ContactAttempt, FollowUpCase, ImprovementAction, RootCause


class ContactAttemptForm(forms.Form):
    channel = forms.ChoiceField(choices=ContactAttempt.Channel.choices, initial="phone")
    # No default: a manager who types "no answer" in the notes and taps Log must not
    # record a reach (first contact, and "reached within the deadline" on every page).
    outcome = forms.ChoiceField(
        choices=[("", "Choose what happened"), *ContactAttempt.Outcome.choices],
        error_messages={"required": "Choose what happened on this attempt."},
    )
    notes = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )


class CloseForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[
            (FollowUpCase.Outcome.RESOLVED, "Resolved"),
            (FollowUpCase.Outcome.UNREACHABLE, "Unreachable"),
        ]
    )
    root_causes = forms.ModelMultipleChoiceField(
        queryset=RootCause.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    resolution = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, root_causes=None, **kwargs):
        super().__init__(*args, **kwargs)
        if root_causes is not None:
            self.fields["root_causes"].queryset = root_causes


class NoteForm(forms.Form):
    text = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))


class ReassignForm(forms.Form):
    assignee = forms.ModelChoiceField(queryset=None, empty_label="Choose a manager")

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = candidates
        self.fields["assignee"].label_from_instance = lambda u: u.get_full_name() or u.username


class ImprovementActionForm(forms.ModelForm):
    publish = forms.BooleanField(
        required=False, help_text="Published actions show on every employee's dashboard."
    )

    class Meta:
        model = ImprovementAction
        fields = ["title", "summary", "touchpoint", "root_causes", "owner_team", "status"]
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 4}),
            "root_causes": forms.CheckboxSelectMultiple,
        }

    def __init__(self, *args, teams=None, **kwargs):
        super().__init__(*args, **kwargs)
        if teams is not None:
            self.fields["owner_team"].queryset = teams
            only = list(teams[:2])
            if len(only) == 1:  # a lead of one team: nothing to choose
                self.fields["owner_team"].empty_label = None
                self.fields["owner_team"].initial = only[0].pk
        self.fields["root_causes"].queryset = RootCause.objects.filter(active=True)
        if self.instance.pk:
            self.fields["publish"].initial = self.instance.published_at is not None

    # Query parameter → field. What may be preselected is what the form would accept.
    PRESELECT = {"root_cause": "root_causes", "team": "owner_team", "touchpoint": "touchpoint"}

    def preselect(self, query) -> None:
        """Initial choices from a link (?root_cause=<id>&team=<id>&touchpoint=<id>; the
        root cause may repeat), each validated by its field as a submitted value would
        be: an id the user may not choose (another lead's team, an inactive root cause,
        no such id, not a number) is ignored."""
        for param, name in self.PRESELECT.items():
            field = self.fields[name]
            values = query.getlist(param)[:10]
            if isinstance(field, forms.ModelMultipleChoiceField):
                chosen = [pk for pk in (self._valid(field, [v]) for v in values) if pk]
                if chosen:
                    self.initial[name] = [pk for group in chosen for pk in group]
            elif values:
                pk = self._valid(field, values[0])
                if pk:
                    self.initial[name] = pk

    @staticmethod
    def _valid(field, value):
        try:
            cleaned = field.clean(value)
        except ValidationError:
            return None
        if cleaned is None:
            return None
        if isinstance(field, forms.ModelMultipleChoiceField):
            return [obj.pk for obj in cleaned]
        return cleaned.pk
