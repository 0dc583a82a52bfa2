"""What `feedback` announces to the apps that compose it (cxhub's alerts).

`case_escalated` is sent after commit when a case passes its deadline and is
escalated (once per case). Argument: case_id.
"""

from django.dispatch import Signal

case_escalated = Signal()
