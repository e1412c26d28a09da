"""API of deployments under ``/api/v1/deployments/``."""

from django.urls import path

from trading.live import api

api_urlpatterns: list = [
    path("deployments/", api.DeploymentListApi.as_view(), name="deployment_list"),
    path("deployments/<int:pk>/", api.DeploymentDetailApi.as_view(), name="deployment_detail"),
    path("deployments/<int:pk>/start/", api.DeploymentStartApi.as_view(), name="deployment_start"),
    path("deployments/<int:pk>/pause/", api.DeploymentPauseApi.as_view(), name="deployment_pause"),
    path("deployments/<int:pk>/resume/", api.DeploymentResumeApi.as_view(), name="deployment_resume"),
    path("deployments/<int:pk>/stop/", api.DeploymentStopApi.as_view(), name="deployment_stop"),
    path("deployments/<int:pk>/signals/", api.DeploymentSignalListApi.as_view(), name="deployment_signals"),
    path("deployments/<int:pk>/days/", api.DeploymentDayListApi.as_view(), name="deployment_days"),
]
