"""The status page: its shell and assets over HTTP, and a real headless Chromium showing a
running pipeline (agents table updating, a dead letter, the live tail, the graph)."""

from __future__ import annotations

import io
import os
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image
from playwright.async_api import ConsoleMessage, async_playwright, expect

from reagents import AgentEvent, Pipeline
from tests.server.live import live_server
from tests.server.test_app import ADMIN, READER, _settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
SCREENSHOT_ENV = "REAGENTS_SCREENSHOT"  # a path to keep the screenshot at, for a look


def _pipeline() -> Pipeline:
    pipeline = Pipeline("shop")

    @pipeline.agent(id="worker", subscription="type = work", no_retry=ValueError)
    def worker(event: AgentEvent) -> AgentEvent:
        if event.payload.get("fail"):
            raise ValueError(f"order {event.payload['n']} has no items")
        return AgentEvent(event_type="worked", payload=event.payload, causation_id=event.event_id)

    @pipeline.agent(id="audit", subscription="type = worked")
    def audit(event: AgentEvent) -> None:
        return None

    return pipeline


async def test_the_page_shell_needs_no_token_and_forbids_everything_foreign() -> None:
    async with live_server(_pipeline(), _settings()) as live:
        page = await live.client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "connect-src 'self'" in policy
        assert page.headers["referrer-policy"] == "no-referrer"
        assert 'src="static/page.js"' in page.text
        script = await live.client.get("/static/page.js")
        assert script.headers["content-type"].startswith("text/javascript")
        assert "Authorization" in script.text
        assert (await live.client.get("/static/index.html")).status_code == 404
        assert (await live.client.get("/static/..%2Fpage.py")).status_code == 404
        assert (await live.client.get("/graph.svg")).status_code == 401
        graph = await live.client.get("/graph.svg", headers=live.authed(READER))
        assert graph.headers["content-type"] == "image/svg+xml"
        assert graph.text.startswith("<svg")
        assert "worker" in graph.text


def _chromium() -> Path:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: run `make browser` (installs Debian's chromium with "
            "apt-get) to run the browser tests"
        )
    return CHROMIUM


@pytest.mark.browser
async def test_status_page_in_a_real_browser(tmp_path: Path) -> None:
    chromium = _chromium()
    pipeline = _pipeline()
    async with live_server(pipeline, _settings()) as live:
        for n in range(5):
            pipeline.publish(AgentEvent(event_type="work", payload={"n": n}))
        await pipeline.wait_idle()
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                str(tmp_path / "profile"),
                executable_path=str(chromium),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport=VIEWPORT,  # type: ignore[arg-type]
            )
            try:
                page = await context.new_page()
                problems: list[str] = []
                page.on("pageerror", lambda error: problems.append(str(error)))

                def on_console(message: ConsoleMessage) -> None:
                    if message.type == "error":
                        problems.append(message.text)

                page.on("console", on_console)
                page.on(
                    "response",
                    lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
                )
                await page.goto(f"{live.url}/#token={READER}")
                assert "token" not in page.url  # taken out of the address bar at once

                processed = page.locator('tr[data-agent="worker"] td[data-field="processed"]')
                await expect(processed).to_have_text("5")
                await expect(page.locator("#pipeline")).to_have_text("shop")
                await expect(page.locator("#status")).to_have_text("ready")
                await page.wait_for_function("document.getElementById('graph').naturalWidth > 0")

                for n in range(5, 12):  # the table follows the stats stream
                    pipeline.publish(AgentEvent(event_type="work", payload={"n": n}))
                await expect(processed).to_have_text("12")
                rate = page.locator('tr[data-agent="worker"] td[data-field="rate"]')
                await expect(rate).not_to_have_text(re.compile("^(\u2013|0\\.0)$"))  # events/s > 0
                audit = page.locator('tr[data-agent="audit"] td[data-field="processed"]')
                await expect(audit).to_have_text("12")
                await expect(page.locator('#tail tbody tr[data-type="work"]')).to_have_count(7)

                pipeline.publish(AgentEvent(event_type="work", payload={"n": 99, "fail": True}))
                letters = page.locator("#dead-letters tbody tr[data-id]")
                await expect(letters).to_have_count(1)
                await expect(letters.first).to_contain_text("order 99 has no items")
                dead = page.locator('tr[data-agent="worker"] td[data-field="dead_lettered"]')
                await expect(dead).to_have_text("1")
                png = await page.screenshot()
                assert problems == []
            finally:
                await context.close()
        # replaying needs the admin scope: the page only reads
        assert (
            await live.client.post("/dead-letters/x/replay", headers=live.authed(ADMIN))
        ).status_code == 404
    _check_screenshot(png, tmp_path)


def _check_screenshot(png: bytes, tmp_path: Path) -> None:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (VIEWPORT["width"], VIEWPORT["height"])
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None
    assert len(colours) > 50, f"a nearly blank page: {len(colours)} colours"
    most = max(count for count, _ in colours)
    assert most < 0.9 * image.size[0] * image.size[1], "one colour covers 90% of the page"
    path = tmp_path / "status.png"
    path.write_bytes(png)
    if keep := os.environ.get(SCREENSHOT_ENV):
        shutil.copy(path, keep)
