"""End to end: ``seqgen serve`` in a subprocess, driven over real HTTP and by headless Chromium
(Debian's /usr/bin/chromium through Playwright; no browser is downloaded)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pretty_midi
import pytest
from tiny_runs import MUSIC_RUN, TEXT_RUN

from seqgen.generate import DEFAULT_BARS, DEFAULT_LENGTH

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
#: Set to a path (e.g. docs/playground.png) to keep the screenshot the browser test takes.
SCREENSHOT = os.environ.get("SEQGEN_SCREENSHOT")


@pytest.fixture(scope="module")
def server(runs: Path):
    """Base URL of ``seqgen serve --port 0`` on the tiny runs; stopped with Ctrl+C (SIGINT) after."""
    root = runs.parent
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "seqgen", "serve", "--port", "0", "--checkpoints", str(runs)],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(60)
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", line[0] if line else "")
    if not match:
        proc.kill()
        pytest.fail(f"seqgen serve did not start: {line} {proc.stdout.read() if proc.poll() is not None else ''}")
    assert "2 runs" in line[0]
    yield f"http://127.0.0.1:{match.group(1)}"
    proc.send_signal(signal.SIGINT)
    try:
        rest = proc.communicate(timeout=20)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("seqgen serve did not stop on Ctrl+C")
    assert "Traceback" not in rest, rest


def post(url: str, body: dict) -> tuple[int, bytes]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_real_server_serves_concurrent_text_and_music(server: str) -> None:
    """Text streams and a music request at the same time over real sockets; nothing mixes."""
    names = ["ROMEO", "JULIET", "NURSE"]
    got: dict[str, object] = {}

    def text(name: str) -> None:
        got[name] = post(f"{server}/api/generate/text", {"checkpoint": TEXT_RUN, "seed": f"{name}:", "length": 400,
                                                         "num_samples": 2})

    def music() -> None:
        got["music"] = post(f"{server}/api/generate/music", {"checkpoint": MUSIC_RUN, "bars": 2, "random_seed": 5})

    threads = [threading.Thread(target=text, args=(n,)) for n in names] + [threading.Thread(target=music)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    for name in names:
        status, body = got[name]
        assert status == 200, body
        texts = [""] * 2
        for block in body.decode().split("\n\n"):
            if block.startswith("event: text"):
                data = json.loads(block.split("data: ", 1)[1])
                texts[data["sample"]] += data["text"]
        assert all(t.startswith(f"{name}:") and len(t) == len(name) + 1 + 400 for t in texts), texts
    status, body = got["music"]
    assert status == 200 and len(json.loads(body)["samples"]) == 1, body
    status, body = post(f"{server}/api/generate/text", {"checkpoint": "../" + TEXT_RUN, "seed": "R"})
    assert status == 400 and "invalid checkpoint name" in json.loads(body)["error"]


def generate(page: Any, expect: Any, timeout: int, **fields: str) -> None:
    """Fill the form's fields (by element id), press Generate and wait until it is done."""
    for name, value in fields.items():
        page.fill(f"#{name}", value)
    page.click("#generate")
    expect(page.locator("#status")).to_have_text(re.compile("^done"), timeout=timeout)


@pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install "
                                                   "chromium)")
def test_playground_in_headless_chromium(server: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (in the test extra)")
    expect = sync_api.expect
    problems: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
            page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
            page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            # Record how the first sample's text grows, to see it arrive in pieces.
            page.add_init_script("""
                window.seen = [];
                new MutationObserver(() => {
                  const pre = document.getElementById('sample-0');
                  if (pre) window.seen.push(pre.textContent.length);
                }).observe(document, {subtree: true, childList: true, characterData: true});
            """)
            page.goto(server + "/")
            expect(page.locator("#generate")).to_be_enabled()
            options = page.locator("#checkpoint option").all_inner_texts()
            assert options == [f"{MUSIC_RUN} (music)", f"{TEXT_RUN} (text)"]  # newest first

            # The form starts from the library's defaults, sent with the listing.
            expect(page.locator("#length")).to_have_value(str(DEFAULT_LENGTH))
            expect(page.locator("#bars")).to_have_value(str(DEFAULT_BARS))

            # Text: pick the run, type a seed, generate; the text streams in starting with the seed.
            page.select_option("#checkpoint", TEXT_RUN)
            expect(page.locator("#facts")).to_contain_text("lstm, 1 × 16")
            expect(page.locator("#facts")).to_contain_text("play")
            generate(page, expect, 60_000, seed="JULIET:", length="5000", num_samples="2")
            texts = page.locator("pre.sample-text").all_text_contents()
            assert len(texts) == 2 and all(t.startswith("JULIET:") and len(t) == 5007 for t in texts)
            seen = page.evaluate("window.seen")
            assert len({n for n in seen if 0 < n < 5007}) >= 2, seen  # shown while it was being generated
            curve = page.locator("#loss-curve")
            expect(curve).to_be_visible()
            assert curve.evaluate("img => img.naturalWidth") > 0

            # Music: piano roll, an audio player with a WAV, MIDI and MusicXML downloads.
            page.select_option("#checkpoint", MUSIC_RUN)
            expect(page.locator("#seed")).to_have_value("C4 E4 G4")
            generate(page, expect, 90_000, bars="4", num_samples="2", random_seed="11")
            rolls = page.locator("img.roll")
            expect(rolls).to_have_count(2)
            for i in range(2):
                expect(rolls.nth(i)).to_have_js_property("complete", True)
                assert rolls.nth(i).evaluate("img => img.naturalWidth") > 0
            audio = page.locator("audio").first
            expect(audio).to_have_js_property("readyState", 4, timeout=30_000)
            assert audio.evaluate("a => a.duration") > 0
            src = audio.evaluate("a => a.currentSrc")
            with urllib.request.urlopen(src, timeout=30) as response:
                assert response.headers["Content-Type"] == "audio/wav"
                head = response.read(12)
            assert head[:4] == b"RIFF" and head[8:] == b"WAVE"
            with page.expect_download() as download_info:
                page.get_by_role("link", name="Download MIDI").first.click()
            download = download_info.value
            assert download.suggested_filename.endswith("-1.mid")
            midi = pretty_midi.PrettyMIDI(str(download.path()))
            assert sum(len(inst.notes) for inst in midi.instruments) > 0
            assert page.get_by_role("link", name="Download MusicXML").count() == 2

            shot = Path(SCREENSHOT) if SCREENSHOT else tmp_path / "playground.png"
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 10_000

            assert not problems, problems
            # A bad request shows the server's message on the page (the browser logs the 400).
            page.fill("#seed", "C4 H9")
            page.click("#generate")
            expect(page.locator("#error")).to_contain_text("'H9' in the seed is not a note name")
        finally:
            browser.close()
    assert all("status of 400" in p for p in problems), problems
