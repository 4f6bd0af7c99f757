from django.urls import path

from events import views as event_views
from users import views as user_views

from .views import health

urlpatterns = [
    path("_health/", health, name="health"),
    path("api/<int:project_id>/store/", event_views.store, name="store"),
    path("api/0/events/<str:event_id>/", event_views.event_detail, name="event-detail"),
    path("_allauth/browser/v1/auth/login", user_views.login, name="login"),
]
