"""`hiergenre data fetch`: download covers (Cover Art Archive, then given URLs) into a folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TimeRemainingColumn,
)
from rich.text import Text

from hiergenre.cli.common import console
from hiergenre.data.fetch import FetchConfig, FetchPlan, FetchSummary, fetch_covers, plan_fetch
from hiergenre.data.http import HttpPolicy

_CFG = FetchConfig()
_HTTP = HttpPolicy(user_agent="")


class _RateColumn(ProgressColumn):
    """Albums per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} albums/s" if speed else "-- albums/s", style="progress.data")


@contextmanager
def _bar() -> Iterator[Callable[[int, int], None]]:
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               _RateColumn(), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("fetching covers", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def fetch_cmd(
    source: Annotated[
        Path,
        typer.Argument(
            help="MuMu metadata JSON, MuMu CSV, or a CSV with album_id and url and/or mbid."
        ),
    ],  # fmt: skip
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Folder for <album_id>.jpg and the ledger.")
    ],
    sources: Annotated[
        str, typer.Option(metavar="LIST", help="Sources to try, in order: caa,url.")
    ] = ",".join(_CFG.sources),
    size: Annotated[
        int, typer.Option(metavar="PX", help="Cover Art Archive size: 250|500|1200.")
    ] = _CFG.size,
    caa_base_url: Annotated[
        str, typer.Option(metavar="URL", help="Cover Art Archive base URL (a mirror).")
    ] = (_CFG.caa_base_url),
    mbid_kind: Annotated[
        str, typer.Option(metavar="KIND", help="What the mbid names: release-group|release.")
    ] = (_CFG.mbid_kind),
    workers: Annotated[int, typer.Option(metavar="N", help="Downloads at once.")] = _CFG.workers,
    rate: Annotated[
        float, typer.Option(metavar="PER_S", help="Requests per second to one host.")
    ] = (_HTTP.rate_per_host),
    timeout: Annotated[
        float, typer.Option(metavar="SECONDS", help="Read timeout in seconds.")
    ] = _HTTP.read_timeout,
    retries: Annotated[
        int, typer.Option(metavar="N", help="Retries on 429/5xx/timeouts.")
    ] = _HTTP.retries,
    max_mb: Annotated[
        float, typer.Option(metavar="MIB", help="Largest cover to accept, in MiB.")
    ] = (_HTTP.max_bytes / 2**20),
    contact: Annotated[
        str, typer.Option(metavar="ADDRESS", help="Your e-mail or URL, sent in the User-Agent.")
    ] = _CFG.contact,
    retry_failed: Annotated[bool, typer.Option(help="Try earlier failures again.")] = (
        _CFG.retry_failed
    ),
    dry_run: Annotated[bool, typer.Option(help="Print the plan; fetch nothing.")] = False,
) -> None:
    """Download covers into OUT (resumable: a ledger records every album's outcome)."""
    http = HttpPolicy(user_agent="", rate_per_host=rate, read_timeout=timeout, retries=retries,
                      max_bytes=int(max_mb * 2**20))  # fmt: skip
    config = FetchConfig(sources=tuple(s.strip() for s in sources.split(",") if s.strip()),
                         size=size, caa_base_url=caa_base_url, mbid_kind=mbid_kind,
                         workers=workers, contact=contact, retry_failed=retry_failed,
                         http=http)  # fmt: skip
    if dry_run:
        _print_plan(plan_fetch(source, out, config), config)
        return
    with _bar() as update:
        summary = fetch_covers(source, out, config, progress=update)
    _print_summary(summary, out)
    if summary.interrupted:
        raise typer.Exit(130)


def _print_plan(plan: FetchPlan, config: FetchConfig) -> None:
    console.print(
        f"{plan.albums} albums; {plan.already_done} already fetched, {plan.skipped_failures} "
        f"earlier failures skipped (--retry-failed retries them), {plan.to_fetch} to fetch; "
        f"{len(plan.skipped_input)} input rows unusable"
    )
    for shape, count in sorted(plan.by_sources.items()):
        console.print(f"  {count:>7}  sources {shape}")
    for album, source, url in plan.examples:
        console.print(f"  e.g. {album}: {source} {url}")
    console.print(f"User-Agent: {config.user_agent()}; {config.workers} workers, "
                  f"{config.http.rate_per_host:g} requests/s per host")  # fmt: skip


def _print_summary(summary: FetchSummary, out: Path) -> None:
    state = "interrupted (run again to resume)" if summary.interrupted else "done"
    console.print(f"{state}: {summary.albums} albums, {summary.already_done} already there, "
                  f"{summary.skipped_failures} earlier failures skipped, "
                  f"{summary.requests} requests, {summary.bytes / 2**20:.1f} MiB "
                  f"in {summary.seconds:.0f} s")  # fmt: skip
    for outcome, count in sorted(summary.outcomes.items()):
        console.print(f"  {count:>7}  {outcome}")
    for source, count in summary.sources.items():
        console.print(f"  {count:>7}  covers from {source}")
    if summary.skipped_input:
        unusable = len(summary.skipped_input)
        console.print(f"  {unusable:>7}  input rows unusable (no, bad or duplicate id)")
    console.print(f"covers in {out}; ledger {out / 'fetch-ledger.jsonl'}")
