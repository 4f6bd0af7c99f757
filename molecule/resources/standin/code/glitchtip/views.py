from django.http import HttpResponse


def health(request):
    """Liveness only: touches neither the database nor Redis."""
    return HttpResponse("ok", content_type="text/plain")
