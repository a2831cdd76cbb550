"""The fake's views.* methods: modals and the App Home tab."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.fakeslack.api import (
    ApiRequest,
    MethodFunction,
    SlackError,
    invalid_arguments,
)
from tests.fakeslack.limits import view_errors
from tests.fakeslack.workspace import View


def _new_hash() -> str:
    return f"{time.time():.6f}.{uuid.uuid4().hex[:8]}"


def _checked_view(request: ApiRequest, view_type: str | None = None) -> dict[str, Any]:
    view = request.json_value("view")
    if view is None:
        raise invalid_arguments(["missing view"])
    errors = view_errors(view)
    if view_type is not None and isinstance(view, dict):
        if view.get("type") != view_type:
            errors.append(f"must be {view_type} [json-pointer:/view/type]")
    if errors:
        raise invalid_arguments(errors)
    return dict(view)


def _check_trigger(request: ApiRequest) -> None:
    trigger_id = request.get("trigger_id")
    if trigger_id is None:
        raise invalid_arguments(["missing trigger_id"])
    if request.workspace.trigger_expired(str(trigger_id)):
        raise SlackError("expired_trigger_id")


def _check_hash(request: ApiRequest, current: View | None) -> None:
    expected = request.get("hash")
    if expected is not None and current is not None and expected != current.hash:
        raise SlackError("hash_conflict")


def _store(request: ApiRequest, view: dict[str, Any], **fields: Any) -> View:
    stored = View(
        id=request.workspace.new_id("V"), view=view, hash=_new_hash(), **fields
    )
    request.workspace.views[stored.id] = stored
    return stored


def views_open(request: ApiRequest) -> dict[str, Any]:
    _check_trigger(request)
    view = _checked_view(request, "modal")
    stored = _store(request, view, external_id=view.get("external_id"))
    return {"view": stored.to_dict()}


def views_push(request: ApiRequest) -> dict[str, Any]:
    _check_trigger(request)
    view = _checked_view(request, "modal")
    stored = _store(request, view, external_id=view.get("external_id"))
    return {"view": stored.to_dict()}


def views_publish(request: ApiRequest) -> dict[str, Any]:
    user_id = str(request.require("user_id"))
    if user_id not in request.workspace.users:
        raise SlackError("user_not_found")
    view = _checked_view(request, "home")
    current = request.workspace.home_views.get(user_id)
    _check_hash(request, current)

    if current is None:
        current = _store(request, view, user_id=user_id)
        request.workspace.home_views[user_id] = current
    else:
        current.view = view
        current.hash = _new_hash()

    return {"view": current.to_dict()}


def views_update(request: ApiRequest) -> dict[str, Any]:
    view_id = request.get("view_id")
    external_id = request.get("external_id")
    if view_id is None and external_id is None:
        raise invalid_arguments(["missing view_id or external_id"])
    current = _find_view(request, view_id, external_id)
    _check_hash(request, current)
    view = _checked_view(request, current.view.get("type"))

    current.view = view
    current.hash = _new_hash()

    return {"view": current.to_dict()}


def _find_view(request: ApiRequest, view_id: Any, external_id: Any) -> View:
    for view in request.workspace.views.values():
        if view.id == view_id or (external_id and view.external_id == external_id):
            return view
    raise SlackError("not_found")


METHODS: dict[str, MethodFunction] = {
    "views.open": views_open,
    "views.push": views_push,
    "views.publish": views_publish,
    "views.update": views_update,
}
