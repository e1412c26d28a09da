"""Pages of deployments, in the ``trading`` namespace under ``/trading/deployments/``."""

from django.urls import path

from trading.live import views

urlpatterns: list = [
    path("deployments/", views.deployment_list, name="deployment_list"),
    path("deployments/new/", views.deployment_new, name="deployment_new"),
    path("deployments/<int:pk>/", views.deployment_detail, name="deployment_detail"),
    path("deployments/<int:pk>/edit/", views.deployment_edit, name="deployment_edit"),
    path("deployments/<int:pk>/start/", views.deployment_start, name="deployment_start"),
    path("deployments/<int:pk>/pause/", views.deployment_pause, name="deployment_pause"),
    path("deployments/<int:pk>/resume/", views.deployment_resume, name="deployment_resume"),
    path("deployments/<int:pk>/stop/", views.deployment_stop, name="deployment_stop"),
]
