"""What `feedback` announces to the apps that compose it (cxhub's alerts).

`case_escalated` is sent after commit when a case passes its deadline and is
escalated (once per case). Argument: case_id.

`case_closed` is sent by services.case_close inside the transaction that closes the
case, after the row is written (so a receiver's rows commit, or roll back, with the
close). Argument: case_id. Receivers must be cheap and must not raise (it is sent with
send_robust: an error is logged, never undoes the close); cxhub queues its
`case.closed` webhooks there.
"""

from django.dispatch import Signal

case_escalated = Signal()
case_closed = Signal()
