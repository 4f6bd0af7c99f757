import json

from django.contrib.auth import authenticate
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@require_POST
def login(request):
    """Stands in for allauth's headless browser login: checks the password only."""
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"status": 400, "errors": [{"message": "invalid JSON"}]}, status=400)
    if not isinstance(data, dict):
        data = {}
    user = authenticate(request, email=data.get("email"), password=data.get("password"))
    if user is None or not user.is_active:
        return JsonResponse(
            {"status": 400, "errors": [{"code": "email_password_mismatch"}]}, status=400
        )
    return JsonResponse({"status": 200})
