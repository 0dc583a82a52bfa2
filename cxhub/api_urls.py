"""The native REST API under /api/, composed from each app's apis.py."""

urlpatterns = []
