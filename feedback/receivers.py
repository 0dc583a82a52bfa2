"""feedback's answer to the one announcement surveys makes (design §3)."""

from django.dispatch import receiver

from feedback import selectors, services
from surveys.hooks import (
    person_erased,
    response_links,
    response_notes,
    response_recorded,
    responses_imported,
    responses_recorded,
)


@receiver(response_recorded, dispatch_uid="feedback.case_follow_response")
def follow_response(sender, response, created, previous_score, previous_comment=None, **kwargs):
    # Runs inside the recording transaction: if this raises, the response is not saved
    # either, so a detractor never exists without its case.
    services.case_follow_response(
        response=response,
        created=created,
        previous_score=previous_score,
        previous_comment=previous_comment,
    )


@receiver(responses_recorded, dispatch_uid="feedback.cases_follow_new_responses")
def follow_new_responses(sender, responses, **kwargs):
    # The same guarantee for a batch of new responses, with one bulk insert of cases.
    services.cases_follow_new_responses(responses=responses)


@receiver(responses_imported, dispatch_uid="feedback.cases_open_imported")
def open_imported_cases(sender, responses, **kwargs):
    # Same guarantee for a batch of imported responses, with one bulk insert.
    services.cases_open_imported(responses=responses)


@receiver(person_erased, dispatch_uid="feedback.cases_erase_personal_notes")
def erase_personal_notes(sender, person, response_ids, **kwargs):
    # Inside the erasure's transaction: the notes go with the person, or nothing goes.
    services.cases_erase_personal_notes(response_ids=response_ids)


@receiver(response_notes, dispatch_uid="feedback.case_notes")
def case_notes(sender, response_ids, **kwargs):
    """The notes and call notes of the responses' cases, oldest first."""
    from feedback.models import CaseEvent

    events = (
        CaseEvent.objects.filter(
            case__response_id__in=response_ids,
            kind__in=[CaseEvent.Kind.NOTE, CaseEvent.Kind.ATTEMPT],
        )
        .order_by("at", "pk")
        .values("pk", "message", "at", "actor__email", "case__response_id")
    )
    notes: dict[int, list[dict]] = {}
    for e in events:
        notes.setdefault(e["case__response_id"], []).append(
            {"id": e["pk"], "text": e["message"], "user_email": e["actor__email"], "at": e["at"]}
        )
    return notes


@receiver(response_links, dispatch_uid="feedback.case_links")
def case_links(sender, user, response_ids, **kwargs):
    """'Case #N' for the responses whose case the user may open (design §6)."""
    return selectors.case_links_for_responses(user, response_ids)
