"""The page in a real browser: Debian's chromium + chromium-driver, driven by Selenium, against
`hiergenre serve` started on 127.0.0.1. `.ci/run` installs the browser; without it the test skips
and says so loudly (a warning in the summary as well as the skip reason)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import pytest

from hiergenre.predictor import load_predictor

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
REPO = Path(__file__).resolve().parents[1]


def _browser() -> tuple[str, str]:
    """Paths of the browser and its driver; skips loudly when either is missing."""
    binary = next((shutil.which(b) for b in CHROMIUM if shutil.which(b)), None)
    driver = shutil.which("chromedriver")
    problem = None
    try:
        import selenium  # noqa: F401
    except ImportError:
        problem = "selenium is not installed (pip install -e '.[test]')"
    if problem is None and (binary is None or driver is None):
        problem = "chromium/chromedriver not found (apt-get install -y chromium chromium-driver)"
    if problem:
        message = f"BROWSER TEST NOT RUN: {problem}; the page at / is untested in a browser"
        warnings.warn(message, stacklevel=2)
        pytest.skip(message)
    return binary, driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/health", timeout=2) as res:
            return res.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tiny_run):
    """`hiergenre serve` in a subprocess on a free loopback port; yields its base URL."""
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "hiergenre.cli.main", "serve", "--run", str(tiny_run / "run"),
           "--port", str(port), "--device", "cpu"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240  # torch + the model load; slow on a busy 2-core machine
        while not _healthy(base):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                out = proc.communicate()[0].decode(errors="replace")
                pytest.fail(f"hiergenre serve did not start: {out[-2000:]}")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser():
    binary, driver_path = _browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    yield driver
    driver.quit()


@pytest.mark.slow
def test_page_predicts_an_uploaded_cover_and_suggests_genres(browser, server, tiny_run, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 30)
    browser.get(server + "/")
    wait.until(ec.text_to_be_present_in_element((By.ID, "model"), "hierarchical"))

    cover = sorted((tiny_run / "data" / "images").glob("*.jpg"))[5]
    browser.find_element(By.ID, "file-input").send_keys(str(cover))
    shown = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".card .top-path")))
    expected = load_predictor(tiny_run / "run", device="cpu").predict(cover)[0].top
    assert shown.get_attribute("data-path") == " > ".join(expected.names)
    assert shown.text == " \u203a ".join(expected.names)
    bars = browser.find_elements(By.CSS_SELECTOR, ".card .tree .best .prob")
    assert bars[0].text == f"{100 * expected.probs[0]:.{1 if expected.probs[0] < 0.1 else 0}f}%"

    broken = tmp_path / "broken.jpg"  # a broken file gets its own reason on its own card
    broken.write_bytes(b"<html>not a cover</html>")
    browser.find_element(By.ID, "file-input").send_keys(str(broken))
    failed = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".card.failed .error")))
    assert failed.text.startswith("cannot read the image: not-an-image")
    assert len(browser.find_elements(By.CSS_SELECTOR, ".card .top-path")) == 1

    query = browser.find_element(By.ID, "query")
    query.clear()
    query.send_keys("Rokc\n")
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, ".did-you-mean .suggestion")))
    assert "Rock" in [s.text for s in browser.find_elements(By.CSS_SELECTOR, ".suggestion")]
    assert "Rokc" in browser.find_element(By.CSS_SELECTOR, "#genre .error").text
    next(
        s for s in browser.find_elements(By.CSS_SELECTOR, ".suggestion") if s.text == "Rock"
    ).click()
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".crumbs .here"), "Rock"))
    assert browser.find_element(By.CSS_SELECTOR, ".crumbs .here").text == "Rock"

    broken = tmp_path / "broken.jpg"  # a broken file gets its own reason on its own card
    broken.write_bytes(b"<html>not a cover</html>")
    browser.find_element(By.ID, "file-input").send_keys(str(broken))
    failed = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".card.failed .error")))
    assert failed.text.startswith("cannot read the image: not-an-image")
    assert len(browser.find_elements(By.CSS_SELECTOR, ".card .top-path")) == 1

    query = browser.find_element(By.ID, "query")
    query.clear()
    query.send_keys("hip hop\n")  # an alias resolves to its node
    wait.until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".crumbs .here"), "Rap & Hip-Hop")
    )
