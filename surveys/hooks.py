"""The one announcement `surveys` makes to the apps that build on it (design §3).

`response_recorded` is sent inside the transaction that records a response, after
the row is written. Receivers run in that transaction: if one raises, the response
is not recorded either. This is how `feedback` opens a detractor's case atomically
while `surveys` knows nothing about cases.

Arguments: response (the saved Response), created (False when a customer answered
the same invitation again), previous_score (None when created).
"""

from django.dispatch import Signal

response_recorded = Signal()
