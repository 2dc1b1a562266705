"""/ws: the live stream. Each client gets hello, then messages and probe frames (docs/protocol.md)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, WebSocket

from ..deps import HubDep, SettingsDep
from ..protocol import Error
from ..security import same_origin

router = APIRouter(tags=["live"])


@router.websocket("/ws")
async def live(websocket: WebSocket, hub: HubDep, settings: SettingsDep) -> None:
    if not same_origin(websocket.headers.get("origin"), websocket.headers.get("host")):
        # a page of another site (cross-site websocket hijacking): closing before accepting
        # answers the handshake with 403
        await websocket.close(code=1008, reason="foreign origin")
        return
    await websocket.accept()
    if hub.viewers >= settings.max_viewers:  # no await between this check and connect()
        full = f"the server is full: {settings.max_viewers} viewers are watching already; try again later"
        await websocket.send_text(Error(message=full).to_json())
        await websocket.close(code=1013, reason="server full")  # 1013: try again later
        return

    async def send(item: str | bytes) -> None:
        if isinstance(item, bytes):
            await websocket.send_bytes(item)
        else:
            await websocket.send_text(item)

    async def until_closed() -> None:  # clients send nothing we need; this notices them leave
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass

    client = hub.connect(send)
    # the first to end ends the connection: sending failed, the client left, or it stopped reading
    tasks = {asyncio.create_task(client.run()), asyncio.create_task(until_closed()),
             asyncio.create_task(client.stalled())}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.disconnect(client)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
