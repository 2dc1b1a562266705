"""The page as a viewer (no token) and as the owner (opened the address with ?token=)."""

from __future__ import annotations


def test_a_viewer_sees_the_run_but_not_the_controls(new_page, live_server):
    context, page = new_page(live_server, owner=False)
    try:
        tab = page.page
        tab.wait_for_selector("#access:not([hidden])")
        assert tab.text_content("#access") == "view only: the owner controls this run"
        assert not tab.is_visible("#btn-pause") and not tab.is_visible("#panel-models")
        assert tab.is_disabled("#hp-lr")
        assert tab.is_visible("#chart-loss") and tab.is_visible("#classify-drop")
        assert page.errors == []
    finally:
        context.close()


def test_the_owner_sees_the_controls_and_the_token_leaves_the_address_bar(page):
    tab = page.page
    tab.wait_for_selector("#access:not([hidden])")
    assert tab.url == page.server.url + "/"
    assert tab.text_content("#access").startswith("you own this run")
    assert tab.is_visible("#btn-pause") and tab.is_visible("#panel-models") and not tab.is_disabled("#hp-lr")
    cookies = tab.context.cookies()
    assert [c for c in cookies if c["name"] == "convscope_token" and c["httpOnly"] and c["sameSite"] == "Strict"]
    assert page.errors == []
