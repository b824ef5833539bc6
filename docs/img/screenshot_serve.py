"""Make docs/img/serve.png: `hiergenre serve` in headless Debian chromium, two covers uploaded and
a misspelled genre searched. Needs the apt packages chromium and chromium-driver.

    .venv/bin/python docs/img/screenshot_serve.py --run RUN_DIR COVER [COVER ...] [--search Q]
"""

from __future__ import annotations

import argparse
import io
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

OUT = Path(__file__).resolve().parent / "serve.png"


def start_server(run: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "hiergenre.cli.main", "serve", "--run", run, "--port", str(port)]
    proc = subprocess.Popen(cmd)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/health", timeout=1)
            return proc, base
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    sys.exit("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("covers", nargs="+")
    parser.add_argument("--search", default="indie lo fi")
    args = parser.parse_args()
    proc, base = start_server(args.run)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000",
                "--hide-scrollbars"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        wait = WebDriverWait(driver, 60)
        driver.get(base + "/")
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".crumbs")))
        for cover in reversed(args.covers):
            driver.find_element(By.ID, "file-input").send_keys(str(Path(cover).resolve()))
            time.sleep(0.5)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".top-path")) == len(args.covers))
        query = driver.find_element(By.ID, "query")
        query.clear()
        query.send_keys(args.search + "\n")
        time.sleep(1.5)
        driver.execute_script("window.scrollTo(0, 0)")
        time.sleep(0.3)
        png = driver.get_screenshot_as_png()
    finally:
        driver.quit()
        proc.terminate()
        proc.wait()
    image = (
        Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=128, dither=Image.Dither.NONE)
    )
    image.save(OUT, optimize=True)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
