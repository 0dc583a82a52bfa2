"""The one announcement `surveys` makes to the apps that build on it (design §3).

`response_recorded` is sent inside the transaction that records a response, after
the row is written. Receivers run in that transaction: if one raises, the response
is not recorded either. This is how `feedback` opens a detractor's case atomically
while `surveys` knows nothing about cases.

Arguments: response (the saved Response), created (False when a customer answered
the same invitation again), previous_score and previous_comment (what the response
held before this change; None when created).

`responses_recorded` is its bulk form for new responses, sent by
services.responses_record_batch (the API's batch create) inside its transaction, after
the rows are written. Argument: responses (the saved Responses, all new). Receivers do
for each what they do on response_recorded(created=True), with bulk writes.

`responses_imported` is the bulk form, sent by the CSV import (surveys.imports) inside
the transaction that inserts a batch of historical responses, after the rows are
written. Argument: responses (a list of the Response rows just inserted, pk set; new
rows only, never updates). Receivers work on the whole batch at once (feedback opens
the detractors' cases with one bulk insert) and, as for response_recorded, a receiver
that raises rolls the batch back.

`person_erased` is sent by services.person_erase (GDPR), inside its transaction and
before anything is deleted. Arguments: person (still in the database), response_ids
(their responses, which keep their scores). Receivers erase the personal data they
hold about them (feedback: the free-text notes of the follow-up cases; recognition:
the quotes on shout-out postcards and pending shout-outs; cxhub: the webhook and
team-alert delivery logs); one that raises cancels the erasure.

`response_notes` is a question, not an announcement: the Delighted-compatible API
asks it for `expand[]=notes`. Argument: response_ids. A receiver returns
{response_id: [{"id", "text", "user_email", "at"}, ...]} (feedback: case notes).

`response_links` is a question too: the responses list asks it, for the user viewing
the page, what other apps link from the responses shown. Arguments: user,
response_ids. A receiver returns {response_id: [{"label", "url"}, ...]} with only what
that user may open, in one query whatever the number of ids (feedback: "Case #N",
for the cases the user may see).

`person_unsubscribed` is sent by services.person_unsubscribe inside its transaction,
only when the person was not unsubscribed already (once per unsubscription).
Argument: person (saved, unsubscribed_at set). Receivers must be cheap and must not
raise (it is sent with send_robust: a receiver's error is logged, never undoes the
unsubscription); cxhub queues its `unsubscribe.created` webhooks there.
"""

from django.dispatch import Signal

# Sent on every survey POST: its receivers are looked up once, not on every send.
response_recorded = Signal(use_caching=True)
responses_recorded = Signal()
responses_imported = Signal()
person_erased = Signal()
response_notes = Signal()
response_links = Signal()
person_unsubscribed = Signal()
