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
from tiny_runs import MUSIC_RUN, TEXT_RUN, write_tunes

from seqgen.generate import DEFAULT_BARS, DEFAULT_LENGTH

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
#: Set to a folder (e.g. docs) to keep the screenshots the browser tests take.
SCREENSHOTS = Path(os.environ["SEQGEN_SCREENSHOTS"]).resolve() if os.environ.get("SEQGEN_SCREENSHOTS") else None


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


needs_chromium = pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                                   "(apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (in the test extra)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any, server: str):
    """The playground in a fresh page; its console errors and page errors are in ``page.problems``."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page.problems = []
    page.on("pageerror", lambda err: page.problems.append(f"page error: {err}"))
    page.on("console", lambda msg: page.problems.append(msg.text) if msg.type == "error" else None)
    # Record how the newest result's first sample grows, to see it arrive in pieces.
    page.add_init_script("""
        window.seen = [];
        new MutationObserver(() => {
          const pre = document.querySelector('#results .result pre.sample-text');
          if (pre) window.seen.push(pre.textContent.length);
        }).observe(document, {subtree: true, childList: true, characterData: true});
    """)
    page.goto(server + "/")
    yield page
    page.close()


def shot(page: Any, name: str, tmp_path: Path) -> None:
    """Screenshot the page into $SEQGEN_SCREENSHOTS (a folder, e.g. docs/) if set, else tmp_path."""
    path = (SCREENSHOTS or tmp_path) / name
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000


def texts_of(result: Any) -> list[str]:
    return result.locator("pre.sample-text").all_text_contents()


@needs_chromium
def test_text_studio_in_headless_chromium(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#generate")).to_be_enabled()
    options = page.locator("#checkpoint option").all_inner_texts()
    assert options == [f"{MUSIC_RUN} (music)", f"{TEXT_RUN} (text)"]  # newest first
    # The form starts from the library's defaults, sent with the listing.
    expect(page.locator("#length")).to_have_value(str(DEFAULT_LENGTH))
    expect(page.locator("#bars")).to_have_value(str(DEFAULT_BARS))

    # Text: pick the run, type a seed, generate; the text streams in starting with the seed.
    page.select_option("#checkpoint", TEXT_RUN)
    expect(page.locator("#facts")).to_contain_text("lstm, 1 × 16")
    expect(page.locator("#facts")).to_contain_text("bits/char")
    expect(page.locator("#cue")).to_contain_text("Barely trained: 6 steps")
    expect(page.locator("#loss-caption")).to_contain_text("Only 2 points so far")
    curve = page.locator("#loss-curve")
    expect(curve).to_be_visible()
    # The chart loads after it is shown: wait for it (times out if the PNG never decodes).
    page.wait_for_function("() => { const img = document.querySelector('#loss-curve');"
                           " return img.complete && img.naturalWidth > 0; }", timeout=30_000)
    generate(page, expect, 120_000, seed="JULIET:", length="2000", num_samples="2", random_seed="")
    first = page.locator("#results .result").first
    texts = texts_of(first)
    assert len(texts) == 2 and all(t.startswith("JULIET:") and len(t) == 2007 for t in texts)
    seen = page.evaluate("window.seen")
    assert len({n for n in seen if 0 < n < 2007}) >= 2, seen  # shown while it was being generated
    # The seed is set apart; every piece is shaded; the random seed that made it is shown.
    assert first.locator("pre .seed").all_text_contents() == ["JULIET:"] * 2
    expect(first.locator("pre.shaded")).to_have_count(2)
    assert first.locator("pre").first.locator(".tok").count() == 2007
    assert re.search(r"random seed \d+", first.locator(".settings-line").inner_text())

    # Continue from here: a new result on top that starts with the whole sample.
    first.get_by_role("button", name="Continue from here").first.click()
    expect(page.locator("#status")).to_have_text(re.compile("^done"), timeout=120_000)
    expect(page.locator("#results .result")).to_have_count(2)  # the first result stays
    newest = page.locator("#results .result").first
    (continued,) = texts_of(newest)
    assert continued.startswith(texts[0]) and len(continued) == 2007 + 2000  # the settings it was made with

    # Click a character: the text before it stays, the rest is sampled again.
    before = texts_of(newest)[0]
    at = next(i for i in range(3000, len(before)) if not before[i].isspace())  # a newline's span has no box
    newest.locator("pre .tok").nth(at).click()
    expect(page.locator("#status")).to_have_text(re.compile("^re-rolled"), timeout=120_000)
    expect(newest.locator("pre.shaded")).to_have_count(1)
    after = texts_of(newest)[0]
    assert after[:at] == before[:at] and len(after) == len(before) and after != before
    with page.expect_download() as download_info:
        newest.get_by_role("button", name="Download .txt").click()
    assert Path(download_info.value.path()).read_text(encoding="utf-8") == after

    # Honest inputs: an empty number is an error at its field, not 0; no card, no stale error.
    page.fill("#temperature", "")
    page.click("#generate")
    expect(page.locator("#temperature")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#temperature-error")).to_contain_text("Temperature")
    expect(page.locator("#results .result")).to_have_count(2)
    page.fill("#temperature", "1")
    expect(page.locator("#temperature-error")).to_have_count(0)
    page.fill("#seed", "ROMEO☺")
    page.click("#generate")
    expect(page.locator("#error")).to_contain_text("vocabulary lacks")
    expect(page.locator("#results .result")).to_have_count(2)  # the failed request left no empty card
    page.fill("#seed", "NURSE:")
    page.fill("#length", "")
    page.click("#generate")
    expect(page.locator("#error")).to_be_hidden()  # the old error went with the new attempt
    page.fill("#length", "30")
    page.focus("#seed")
    page.keyboard.press("Control+Enter")  # generates, as the button does
    expect(page.locator("#results .result")).to_have_count(3)
    expect(page.locator("#status")).to_have_text(re.compile("^done"), timeout=120_000)

    # History: pin the first result beside the others; regenerate it with its random seed.
    oldest = page.locator("#results .result").last
    oldest.get_by_role("button", name="Pin").click()
    expect(page.locator("#pinned .result")).to_have_count(1)
    expect(page.locator("#results .result")).to_have_count(2)
    page.locator("#pinned .result").get_by_role("button", name="Regenerate").click()
    expect(page.locator("#status")).to_have_text(re.compile("^done"), timeout=120_000)
    assert texts_of(page.locator("#results .result").first) == texts  # same random seed, same text
    page.click("#clear")
    expect(page.locator("#results .result")).to_have_count(0)
    expect(page.locator("#pinned .result")).to_have_count(1)  # pinned results stay
    page.locator(".history-bar").evaluate("bar => bar.scrollIntoView()")
    shot(page, "studio-text.png", tmp_path)
    assert all("status of 400" in p for p in page.problems), page.problems


@needs_chromium
def test_music_studio_in_headless_chromium(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.select_option("#checkpoint", MUSIC_RUN)
    expect(page.locator("#seed")).to_have_value("C4 E4 G4")
    # A control shows when the server lists its field for music (other work adds fields).
    with urllib.request.urlopen(page.url.rstrip("/") + "/api/checkpoints", timeout=30) as response:
        listed = json.loads(response.read())["fields"]["music"]
    labels = page.locator("label[data-field]").evaluate_all(
        "labels => labels.map(l => [l.dataset.field, l.dataset.domain || 'music', l.checkVisibility()])")
    assert {"tempo", "primer", "only_new"} <= {field for field, _, shown in labels if shown}
    for field, domain, shown in labels:
        assert shown == (field in listed and domain == "music"), (field, shown)
    generate(page, expect, 90_000, seed="C2 C4 E4 G4", bars="4", num_samples="2", random_seed="11", tempo="100")
    cards = page.locator("#results .result").first.locator("article.card")
    expect(cards).to_have_count(2)
    card = cards.first
    expect(card.locator(".facts")).to_contain_text("2 tracks")
    expect(card.locator(".facts")).to_contain_text("100 BPM")
    notes = int(re.search(r"(\d+) notes", card.locator(".facts").inner_text()).group(1))

    # The MIDI link: downloads, holds the notes the card counts, and carries drag data for a DAW.
    with page.expect_download() as download_info:
        card.get_by_role("link", name="Download MIDI").click()
    download = download_info.value
    assert download.suggested_filename.endswith("-1.mid")
    midi = pretty_midi.PrettyMIDI(str(download.path()))
    assert sum(len(inst.notes) for inst in midi.instruments) == notes
    drag = card.get_by_role("link", name="Download MIDI").evaluate("""link => {
        const data = new DataTransfer();
        link.dispatchEvent(new DragEvent('dragstart', {dataTransfer: data, bubbles: true}));
        return data.getData('DownloadURL');
    }""")
    assert re.fullmatch(rf"audio/midi:{MUSIC_RUN}-sample-1\.mid:http://127\.0\.0\.1:\d+/api/files/\w+/sample-1\.mid", drag)
    wav = card.get_by_role("link", name="WAV").get_attribute("href")
    with urllib.request.urlopen(page.url.rstrip("/") + wav, timeout=30) as response:
        assert response.headers["Content-Type"] == "audio/wav" and response.read(4) == b"RIFF"

    # Mute a voice: its notes fade in the roll; play moves the playhead; loop keeps it going.
    card.get_by_role("button", name=re.compile("^Mute ")).first.click()
    expect(card.get_by_role("button", name=re.compile("^Mute ")).first).to_have_attribute("aria-pressed", "true")
    expect(card.locator("svg.roll .voice.silent")).to_have_count(1)
    card.locator("input.loop").check()
    play = card.get_by_role("button", name="Play sample 1")
    play.click()
    expect(play).to_have_text("Pause")
    expect(card.locator("svg.roll .playhead")).not_to_have_attribute("x1", "0", timeout=10_000)

    # The roll opens full size, much larger than the card's.
    small = card.locator("svg.roll").bounding_box()
    card.get_by_role("button", name="Open full size").click()
    dialog = page.locator("#roll-dialog")
    expect(dialog).to_be_visible()
    large = dialog.locator("svg.roll.large").bounding_box()
    assert large["width"] > 1.5 * small["width"] and large["height"] > 1.5 * small["height"]
    expect(dialog.get_by_role("button", name=re.compile("^Mute ")).first).to_have_attribute("aria-pressed", "true")
    expect(dialog.locator("svg.roll.large .voice.silent")).to_have_count(1)  # the muted voice fades there too
    shot(page, "studio-music-roll.png", tmp_path)
    dialog.get_by_role("button", name="Close").click()
    expect(card.get_by_role("button", name=re.compile("^Mute "))).to_have_count(2)  # controls back in the card
    play.click()
    shot(page, "studio-music.png", tmp_path)

    # Keep the best 2 of 3: only they show, best first, each with its score.
    generate(page, expect, 90_000, bars="2", num_samples="3", keep="2", random_seed="5")
    ranks = page.locator("#results .result").first.locator("article.card .rank")
    expect(ranks).to_have_count(2)
    assert re.match(r"best · \d+\.\d+ nats/token", ranks.first.inner_text()), ranks.all_inner_texts()
    page.fill("#keep", "")

    # A primer clip: uploaded when chosen, then continued with only the new bars.
    clip = write_tunes(tmp_path / "clips") / "tune1.mid"
    page.set_input_files("#primer", str(clip))
    expect(page.locator("#primer-info")).to_contain_text("tune1.mid: 60 notes in 2 track(s)")
    expect(page.locator("#only_new")).to_be_enabled()
    page.check("#only_new")
    generate(page, expect, 90_000, bars="1", num_samples="1")
    expect(page.locator("#results .result").first.locator(".settings-line")).to_contain_text("only new true")
    page.set_input_files("#primer", [])  # no primer: the seed counts again
    expect(page.locator("#only_new")).to_be_disabled()

    # At phone width the page does not scroll sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    assert not page.problems, page.problems
    # A bad request shows the server's message on the page (the browser logs the 400).
    page.fill("#seed", "C4 H9")
    page.click("#generate")
    expect(page.locator("#error")).to_contain_text("'H9' in the seed is not a note name")
    assert all("status of 400" in p for p in page.problems), page.problems
