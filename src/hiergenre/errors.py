"""Project exceptions: a user can cause these and fix them; the CLI shows the message, exit 2."""

from __future__ import annotations


class HiergenreError(Exception):
    """A problem the user can fix. The message is one line that says what to do."""


class TaxonomyError(HiergenreError):
    """A genre table is malformed (cycle, two parents, too deep, duplicate, missing column)."""


class UnknownGenreError(HiergenreError):
    """One or more genre names resolve to no taxonomy node."""

    def __init__(
        self,
        names: list[str],
        suggestions: dict[str, list[str]] | None = None,
        hint: str = "check the spelling, or add an alias to the taxonomy's aliases table",
    ):
        self.names = list(names)
        self.suggestions = suggestions or {}
        shown = []
        for name in self.names[:10]:
            alts = self.suggestions.get(name)  # not `hint`: that is the message's last part
            shown.append(
                f"{name!r} (did you mean {', '.join(map(repr, alts))}?)" if alts else repr(name)
            )
        more = f" and {len(self.names) - 10} more" if len(self.names) > 10 else ""
        super().__init__(
            f"unknown genre{'s' if len(self.names) > 1 else ''}: {'; '.join(shown)}{more}; {hint}"
        )


class DataError(HiergenreError):
    """A dataset, manifest or image cannot be used as given."""


class CheckpointError(HiergenreError):
    """A checkpoint is corrupt or was made for another taxonomy, label space or model."""


class ConfigError(HiergenreError):
    """An option or configuration value is out of range or inconsistent."""


def check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    """Raise ConfigError (one line naming the choices) unless `value` is one of `choices`."""
    if value not in choices:
        raise ConfigError(f"unknown {what} {value!r}: choose one of {', '.join(choices)}")
