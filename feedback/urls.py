from django.urls import path

from feedback import views

app_name = "feedback"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("claim-next/", views.case_claim_next, name="claim-next"),
    path("<int:pk>/", views.case_detail, name="case-detail"),
    path("<int:pk>/claim/", views.case_claim, name="case-claim"),
    path("<int:pk>/attempts/", views.case_attempt, name="case-attempt"),
    path("<int:pk>/close/", views.case_close, name="case-close"),
    path("<int:pk>/notes/", views.case_note, name="case-note"),
    path("<int:pk>/assign/", views.case_reassign, name="case-reassign"),
    path("actions/", views.actions, name="actions"),
    path("actions/new/", views.action_edit, name="action-create"),
    path("actions/<int:pk>/edit/", views.action_edit, name="action-edit"),
]
