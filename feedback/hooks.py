"""What `feedback` announces to the apps that compose it (cxhub's alerts).

Both are sent inside the transaction that made the change, after its rows are
written, so a receiver's rows (a delivery log that a sweeper retries) commit, or roll
back, with it. Argument: case_id. Receivers must be cheap and must not raise (they are
sent with send_robust: an error is logged, never undoes the change); a receiver that
writes does so in its own savepoint.

`case_escalated`: by services.cases_escalate_overdue when a case passes its deadline
and is escalated (once per case); cxhub logs the team's escalation alert there.

`case_closed`: by services.case_close; cxhub queues its `case.closed` webhooks there.
"""

from django.dispatch import Signal

case_escalated = Signal()
case_closed = Signal()
