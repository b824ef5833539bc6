"""Write docs/index.md from README.md: the documentation's home page is the README, with its
links into docs/ made relative to docs/ (tests/test_docs.py checks the two agree).

    python docs/readme_to_index.py      # run by `make docs`
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = "<!-- generated from README.md by docs/readme_to_index.py: edit the README -->\n"


def index_text(readme: str) -> str:
    """The README as docs/index.md: `](docs/x.md)` -> `](x.md)`, and the title says it is the
    documentation."""
    text = readme.replace("# hiergenre\n", "# hiergenre documentation\n", 1)
    text = text.replace(" (`docs/`, built with `mkdocs build --strict`):", ":", 1)
    text = re.sub(r"\]\(docs/", "](", text)
    return HEADER + text


def main() -> None:
    (ROOT / "docs" / "index.md").write_text(index_text((ROOT / "README.md").read_text()))


if __name__ == "__main__":
    main()
