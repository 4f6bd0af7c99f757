# GlitchTip 6.x has no Celery app to load: tasks are django.tasks run by django-vtasks.
