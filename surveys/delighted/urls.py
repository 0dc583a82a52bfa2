app_name = "delighted"

urlpatterns = []
