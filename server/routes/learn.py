"""/learn/*: the teaching pages (convolution and pooling explorers, cost lab, sliding over a photo),
one template each.

Their arithmetic runs in the page (static/js/teach/conv.js); the cost lab asks POST /api/cost, the
sliding lesson POST /api/slide.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from .pages import templates

router = APIRouter(prefix="/learn", tags=["pages"])

PAGES = {"conv": "learn_conv.html", "pool": "learn_pool.html", "cost": "learn_cost.html", "slide": "learn_slide.html"}


@router.get("/{topic}", response_class=HTMLResponse, include_in_schema=False)
def learn(topic: str, request: Request) -> HTMLResponse:
    if topic not in PAGES:
        return HTMLResponse(f"No page /learn/{topic}: try {', '.join(f'/learn/{t}' for t in PAGES)}.",
                            status_code=404)
    return templates().TemplateResponse(request, PAGES[topic], {"topic": topic})
