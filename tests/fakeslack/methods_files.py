"""The fake's external upload flow, which `files_upload_v2` drives.

1. files.getUploadURLExternal returns an upload URL on the fake itself.
2. The client POSTs the bytes there (see `FakeSlack._handle_upload`).
3. files.completeUploadExternal shares the files in a channel, which the
   bot must be a member of: chat:write.public does not cover uploads.
"""

from __future__ import annotations

from typing import Any

from tests.fakeslack.api import (
    ApiRequest,
    MethodFunction,
    SlackError,
    invalid_arguments,
)
from tests.fakeslack.workspace import Channel, Message, UploadedFile


def get_upload_url_external(request: ApiRequest) -> dict[str, Any]:
    filename = str(request.require("filename"))
    try:
        length = int(request.require("length"))
    except ValueError as exc:
        raise invalid_arguments(["length must be an integer"]) from exc
    if length <= 0:
        raise invalid_arguments(["length must be positive"])

    uploaded = UploadedFile(
        id=request.workspace.new_id("F"),
        filename=filename,
        length=length,
        alt_txt=request.get("alt_txt"),
    )
    request.workspace.files[uploaded.id] = uploaded

    return {
        "upload_url": f"{request.base_url}upload/{uploaded.id}",
        "file_id": uploaded.id,
    }


def _target_channels(request: ApiRequest) -> list[Channel]:
    keys: list[str] = []
    if request.get("channel_id") is not None:
        keys.append(str(request.get("channel_id")))
    if request.get("channels") is not None:
        keys += str(request.get("channels")).split(",")

    channels: list[Channel] = []
    for key in keys:
        channel = request.workspace.find_channel(key)
        if channel is None:
            raise SlackError("channel_not_found")
        request.check_member(channel)
        channels.append(channel)
    return channels


def _uploaded_files(request: ApiRequest) -> list[tuple[UploadedFile, Any]]:
    items = request.json_value("files")
    if not isinstance(items, list) or not items:
        raise invalid_arguments(["files must be a non-empty array"])

    found: list[tuple[UploadedFile, Any]] = []
    for item in items:
        file_id = item.get("id") if isinstance(item, dict) else None
        uploaded = request.workspace.files.get(str(file_id))
        if uploaded is None or uploaded.content is None or uploaded.completed:
            raise SlackError("file_not_found")
        found.append((uploaded, item.get("title")))
    return found


def complete_upload_external(request: ApiRequest) -> dict[str, Any]:
    files = _uploaded_files(request)
    channels = _target_channels(request)
    initial_comment = request.get("initial_comment")
    thread_ts = request.get("thread_ts")
    roots = [request.thread_root(channel, thread_ts) for channel in channels]

    for uploaded, title in files:
        uploaded.title = title or uploaded.filename
        uploaded.channels = [channel.id for channel in channels]
        uploaded.initial_comment = initial_comment
        uploaded.thread_ts = thread_ts
        uploaded.completed = True

    for channel, root in zip(channels, roots, strict=True):
        request.workspace.add_message(
            Message(
                channel=channel.id,
                ts=request.workspace.next_ts(),
                text=str(initial_comment or ""),
                thread_ts=root,
                files=[uploaded.id for uploaded, _ in files],
            )
        )

    return {"files": [uploaded.to_dict() for uploaded, _ in files]}


METHODS: dict[str, MethodFunction] = {
    "files.getUploadURLExternal": get_upload_url_external,
    "files.completeUploadExternal": complete_upload_external,
}
