"""Credentials and endpoints belong to the operator, not to suites.

A suite file (or a run spec file) is data: it is shared, downloaded and reviewed as text, so it must
not be able to choose which secret a hosted component sends or where it sends it. This module is the
one rule every hosted component (the hosted pipelines, the judge scorer, any future one) follows:

- **Operator-only options.** A component marks the fields of its ``Options`` that name a credential or
  an endpoint with :func:`operator_only` (or :func:`operator_only_key_env` for a field holding the
  *name* of an environment variable with a key). Any option whose name reads like one (``base_url``,
  ``endpoint``, ``api_key_env``, ``token``, ... — :func:`looks_operator_only`) counts too, so a
  component that forgets a mark is still covered.
- **Files are checked** (:func:`check_file_options`): a suite or run spec file that sets such an option
  is refused with one sentence, unless the operator allows that very file (``--allow-endpoints FILE``
  or ``allow_endpoints:`` in the operator config). Even then a key variable must be the service's own
  (the field's default, e.g. ``OPENAI_API_KEY``) or one the operator declared (``--allow-key-env NAME``
  or ``key_envs:``).
- **The operator's side** (:class:`Operator`): the environment (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``
  read by the service's client), the operator config file (``--operator-config PATH`` or
  ``$EDITBENCH_OPERATOR_CONFIG``; never named by a suite) and CLI flags. :func:`with_operator_settings`
  puts the config's per-component settings (``pipelines: {gpt-image: {base_url: ...}}``) into a
  component's options after the file check.
- **At the component** (:func:`endpoint`): the endpoint and the key, read from the environment variable
  the validated options name; :func:`redact` scrubs the key from any text (the whole text, before any
  truncation) and from any stored header value.

Options written in Python code (the Python API, tests) are the operator's own and are not checked.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from pydantic import Field

from harness.core.errors import EditbenchError

OPERATOR_ONLY = "operator_only"          # json_schema_extra key of a marked field
KEY_ENV = "key_env"                      # ... whose value is the name of an environment variable with a key
CONFIG_ENV = "EDITBENCH_OPERATOR_CONFIG"  # operator config file used when --operator-config is not given
# Words that make an option name credential- or endpoint-bearing (name split at _ - .).
CREDENTIAL_WORDS = frozenset({
    "url", "uri", "urls", "endpoint", "endpoints", "host", "hostname", "port", "proxy", "server", "domain",
    "key", "keys", "token", "secret", "secrets", "password", "passwd", "credential", "credentials",
    "auth", "authorization", "bearer", "env", "header", "headers", "cookie", "cookies", "organization", "project",
})
MAX_DEPTH = 8                            # nesting of option mappings walked for names


def operator_only(default: Any = None, **kwargs: Any) -> Any:
    """A pydantic field only the operator may set (an endpoint, a credential)."""
    return Field(default, json_schema_extra={OPERATOR_ONLY: True}, **kwargs)


def operator_only_key_env(default: str, **kwargs: Any) -> Any:
    """A pydantic field holding the name of the environment variable with the key (its default: the
    service's own variable); only the operator may set it, to the default or an allowed name."""
    return Field(default, json_schema_extra={OPERATOR_ONLY: KEY_ENV}, **kwargs)


def _marks(model: Any) -> dict[str, Any]:
    fields = getattr(model, "model_fields", None) or {}
    out = {}
    for name, f in fields.items():
        extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
        if extra.get(OPERATOR_ONLY):
            out[name] = extra[OPERATOR_ONLY]
    return out


def operator_only_fields(model: Any) -> frozenset[str]:
    """Names of the fields of pydantic ``model`` marked :func:`operator_only` / :func:`operator_only_key_env`."""
    return frozenset(_marks(model))


def key_env_fields(model: Any) -> dict[str, str]:
    """Field name -> the service's own variable, for the fields marked :func:`operator_only_key_env`."""
    fields = getattr(model, "model_fields", None) or {}
    return {n: fields[n].default for n, m in _marks(model).items() if m == KEY_ENV}


def looks_operator_only(name: str) -> bool:
    """True when an option name reads as a credential or an endpoint (``base_url``, ``api_key_env``, ...)."""
    return any(part in CREDENTIAL_WORDS for part in re.split(r"[_\-.\s]+", str(name).lower()))


def _names(options: Any, prefix: str = "", depth: int = 0) -> list[str]:
    """Every option name in ``options``, nested mappings included (``client.base_url``)."""
    if not isinstance(options, Mapping) or depth > MAX_DEPTH:
        return []
    out = []
    for k, v in options.items():
        out.append(f"{prefix}{k}")
        out += _names(v, f"{prefix}{k}.", depth + 1)
    return out


@dataclass(frozen=True)
class Operator:
    """What the operator (not a suite) decides: which files may set endpoints, which extra key variables
    may be read, and per-component settings (pipeline or scorer name -> options)."""

    allow_endpoints: frozenset[Path] = frozenset()   # resolved suite / run spec files trusted with endpoints
    key_envs: frozenset[str] = frozenset()           # environment variable names allowed besides the services' own
    pipelines: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    scorers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def allows(self, source: str | Path | None) -> bool:
        return source is not None and Path(source).resolve() in self.allow_endpoints


def operator(*, config: Mapping[str, Any] | None = None, config_path: str | Path | None = None,
             allow_endpoints: Sequence[str | Path] = (), key_envs: Sequence[str] = ()) -> Operator:
    """The operator's decisions from the operator config (its mapping, read by the caller from
    ``config_path``) and the CLI flags. Paths in the config are relative to the config file."""
    config = dict(config or {})
    where = f"operator config {config_path}" if config_path else "operator config"
    unknown = sorted(set(config) - {"allow_endpoints", "key_envs", "pipelines", "scorers"})
    if unknown:
        raise EditbenchError(f"{where} has unknown keys {unknown}; it takes allow_endpoints, key_envs, "
                             "pipelines and scorers.")
    base = Path(config_path).resolve().parent if config_path else Path.cwd()
    files = []
    for value in [*_strings(config.get("allow_endpoints"), f"{where}: allow_endpoints"), *map(str, allow_endpoints)]:
        p = Path(value) if Path(value).is_absolute() else base / value
        files.append(p.resolve())
    names = [*_strings(config.get("key_envs"), f"{where}: key_envs"), *key_envs]
    for n in names:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", n):
            raise EditbenchError(f"{where}: {n!r} is not an environment variable name.")
    sections = {}
    for key in ("pipelines", "scorers"):
        section = config.get(key) or {}
        if not isinstance(section, Mapping) or not all(isinstance(v, Mapping) for v in section.values()):
            raise EditbenchError(f"{where}: {key} must map a {key[:-1]} name to its options.")
        sections[key] = {str(k): dict(v) for k, v in section.items()}
    return Operator(allow_endpoints=frozenset(files), key_envs=frozenset(names), **sections)


def _strings(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EditbenchError(f"{what} must be a list of strings.")
    return value


def check_file_options(options: Mapping[str, Any], *, model: Any, source: str | Path, what: str,
                       operator: Operator) -> None:
    """Refuse (one sentence, EditbenchError) options read from the file ``source`` that choose a
    credential or an endpoint, unless the operator allows that file; an allowed file may still name only
    the service's own key variable or one the operator declared. ``what`` names the component
    ("pipeline gpt-image"); ``model`` is its Options class."""
    marked = operator_only_fields(model)
    bad = [n for n in _names(options) if n in marked or looks_operator_only(n.rpartition(".")[2])]
    if not bad:
        return
    if not operator.allows(source):
        raise EditbenchError(
            f"{source}: {what} sets {', '.join(bad)}, which choose a credential or an endpoint; those come from "
            f"the operator (environment, operator config or command-line flags), never from a suite or run spec "
            f"file — remove them, or trust this file with --allow-endpoints {source}.")
    for name, own in key_env_fields(model).items():
        value = options.get(name)
        if value is not None and value != own and value not in operator.key_envs:
            raise EditbenchError(
                f"{source}: {what} reads its key from {value!r}; only {own} or a variable the operator allows "
                f"(--allow-key-env NAME) may be read.")


def with_operator_settings(options: Mapping[str, Any], *, names: list[str],
                           settings: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``options`` with the operator's settings for the component (the first of ``names``, e.g. label
    then registry name, found in ``settings``) laid over them."""
    for n in names:
        if n in settings:
            return {**options, **settings[n]}
    return dict(options)


@dataclass(frozen=True)
class Endpoint:
    """Where a hosted component sends its requests and the key it sends (never printed)."""

    base_url: str | None      # None: the client's default (its own environment, else the service)
    key: str = field(repr=False)


def endpoint(*, base_url: str | None, key_env: str, what: str) -> Endpoint:
    """The endpoint and key of a hosted component, from its validated options (``base_url``, the name
    ``key_env`` of the variable with the key) and this process's environment; a variable that is unset
    is one sentence."""
    key = os.environ.get(key_env, "").strip()
    if not key:
        raise EditbenchError(f"{what} reads its API key from the environment variable {key_env}, which is not set.")
    return Endpoint(base_url=base_url, key=key)


def redact(text: Any, *secrets: str | None) -> Any:
    """``text`` with every occurrence of each secret replaced by ``[redacted]``; a non-string is returned
    as is. Call it on the whole text before any truncation (a cut could keep part of a key)."""
    if not isinstance(text, str):
        return text
    for s in secrets:
        if s:
            text = text.replace(s, "[redacted]")
    return text


def operator_config_path(given: str | Path | None) -> Path | None:
    """The operator config file: ``given`` (--operator-config), else ``$EDITBENCH_OPERATOR_CONFIG``, else none."""
    value = given or os.environ.get(CONFIG_ENV)
    return Path(value) if value else None
