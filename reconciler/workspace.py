"""The workspace: a folder with ``authctl.yaml`` (settings) and manifest files.

Settings say where the live platform is (``backend``), where the reconciler keeps its
memory (``state``), which variables each environment renders the manifests with
(``environments.<env>.vars``), extra provider folders and policy knobs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reconciler.errors import WorkspaceError
from reconciler.suggestions import did_you_mean
from reconciler.yaml_with_lines import NESTED_TOO_DEEPLY, StrictLoader, line_of, nesting_line, yaml_error_line

SETTINGS_FILE = "authctl.yaml"
DATA_DIR = ".authctl"
SKIPPED_DIRS = frozenset({".venv", "venv", "__pycache__", "node_modules"})
MANIFEST_SUFFIXES = (".yaml", ".yml")

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnvironmentSettings(_Strict):
    """One environment (``--env NAME``): variables for Jinja2 rendering."""

    vars: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


class BackendSettings(_Strict):
    """Where live state is: the embedded platform (default) or a Lytics-shaped API."""

    kind: Literal["local", "lytics"] = "local"
    path: str = f"{DATA_DIR}/platform.db"  # local: file path or SQLAlchemy URL
    url: str | None = None  # lytics: base URL, e.g. http://127.0.0.1:8765
    token_env: str = "LYTICS_API_TOKEN"  # lytics: env var holding the API token
    account_id: str | None = None
    mode: Literal["guarded", "cascade"] = "guarded"  # local: how deletes behave


class StateSettings(_Strict):
    """The reconciler's memory: a SQLite file by default, or a SQLAlchemy URL."""

    url: str = f"{DATA_DIR}/state.db"


class PolicySettings(_Strict):
    """Knobs for warnings and guards."""

    expiry_warning_days: int = Field(default=14, ge=0)


class Settings(_Strict):
    """The whole of ``authctl.yaml``."""

    version: Literal[1] = 1
    name: str | None = None
    default_environment: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    environments: dict[str, EnvironmentSettings] = Field(default_factory=dict)
    providers: list[str] = Field(default_factory=list)
    backend: BackendSettings = Field(default_factory=BackendSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)


@dataclass(frozen=True)
class Workspace:
    """A loaded workspace: its root, settings and the chosen environment."""

    root: Path
    settings: Settings
    environment: str | None

    @property
    def settings_path(self) -> Path:
        return self.root / SETTINGS_FILE

    @property
    def data_dir(self) -> Path:
        return self.root / DATA_DIR

    def template_vars(self) -> dict[str, Any]:
        """Variables for Jinja2: shared ``vars`` overlaid by the environment's, plus ``env``."""
        values = dict(self.settings.vars)
        if self.environment is not None:
            values.update(self.settings.environments[self.environment].vars)
        values["env"] = self.environment
        return values

    def provider_dirs(self) -> list[Path]:
        return [self.resolve_path(p) for p in self.settings.providers]

    def resolve_path(self, value: str) -> Path:
        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else self.root / path

    def resolve_url(self, value: str) -> str:
        """A SQLAlchemy URL as is, or a file path made absolute under the workspace."""
        if "://" in value:
            return value
        path = self.resolve_path(value)
        return f"sqlite:///{path}"

    def manifest_files(self) -> list[Path]:
        """Every ``*.yaml``/``*.yml`` below the root, skipping dot-folders, .venv and the
        workspace's own provider folders (``providers:`` in authctl.yaml hold catalog files).

        Sorted by relative path so that every command sees the same order.
        """
        found: list[Path] = []
        provider_dirs = {os.path.normpath(p) for p in self.provider_dirs()}
        for directory, subdirs, files in os.walk(self.root):
            subdirs[:] = sorted(
                d for d in subdirs
                if not d.startswith(".") and d not in SKIPPED_DIRS
                and os.path.normpath(os.path.join(directory, d)) not in provider_dirs
            )
            base = Path(directory)
            for name in files:
                if name.endswith(MANIFEST_SUFFIXES) and not name.startswith("."):
                    path = base / name
                    if path == self.settings_path:
                        continue
                    found.append(path)
        found.sort(key=lambda p: p.relative_to(self.root).as_posix())
        return found

    def display_path(self, path: Path) -> str:
        """The path as users should read it: relative to the root when inside it."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def load_workspace(root: Path | str, environment: str | None = None) -> Workspace:
    """Read ``authctl.yaml`` under ``root`` and pick the environment.

    Raises WorkspaceError naming the file, line and field for anything wrong.
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise WorkspaceError(f"{root}: workspace folder not found")
    settings_path = root / SETTINGS_FILE
    if not settings_path.is_file():
        raise WorkspaceError(
            f"{root} is not an authctl workspace: {SETTINGS_FILE} not found",
            hint="create authctl.yaml (it may be empty) or pass --workspace DIR",
        )
    settings = _read_settings(settings_path)
    env = environment or settings.default_environment
    if env is not None and env not in settings.environments:
        known = ", ".join(sorted(settings.environments)) or "none defined"
        raise WorkspaceError(f"{SETTINGS_FILE}: unknown environment {env!r} (environments: {known})")
    return Workspace(root=root, settings=settings, environment=env)


def _read_settings(path: Path) -> Settings:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        raise WorkspaceError(f"{path.name}:{line}: not UTF-8 text (invalid byte 0x{exc.object[exc.start]:02x}); "
                             "save the file as UTF-8") from None
    except OSError as exc:
        raise WorkspaceError(f"{path.name}: cannot read: {exc.strerror}") from None
    try:
        node = yaml.compose(text, Loader=_SafeLoader)
        data = yaml.load(text, Loader=StrictLoader) if node is not None else {}
    except yaml.YAMLError as exc:
        line, problem = yaml_error_line(exc, text)
        raise WorkspaceError(f"{path.name}:{line}: invalid YAML: {problem}") from None
    except RecursionError:
        raise WorkspaceError(f"{path.name}:{nesting_line(text)}: invalid YAML: {NESTED_TOO_DEEPLY}") from None
    except ValueError as exc:  # e.g. an integer longer than Python's 4300-digit limit
        raise WorkspaceError(f"{path.name}: invalid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise WorkspaceError(f"{path.name}:1: expected a mapping of settings")
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        lines: list[tuple[int, str]] = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            message = err["msg"]
            if err["type"] == "extra_forbidden" and loc:
                message = f'unknown field "{loc[-1]}"' + did_you_mean(str(loc[-1]), _settings_fields(loc[:-1]))
            line = line_of(node, loc) or 1
            lines.append((line, f"{path.name}:{line}: {'.'.join(map(str, loc))}: {message}"))
        raise WorkspaceError("\n".join(text for _, text in sorted(lines))) from None



def _settings_fields(loc: tuple[Any, ...]) -> list[str]:
    """Field names the settings accept at ``loc``, for did-you-mean on unknown fields."""
    models: dict[tuple[str, ...], type[BaseModel]] = {
        (): Settings, ("backend",): BackendSettings, ("state",): StateSettings,
        ("policy",): PolicySettings,
    }
    if len(loc) == 2 and loc[0] == "environments":
        return list(EnvironmentSettings.model_fields)
    model = models.get(tuple(str(p) for p in loc))
    return list(model.model_fields) if model else []
