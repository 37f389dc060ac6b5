"""Helpers shared by the relation-library tests (test_relations_*.py); not a test module."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import ops
import pytest
import yaml
from hypothesis import strategies as st
from kfcharm.relations import RelationError
from ops import testing

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
SHARED_SCHEMAS = SHARED / "schemas"

R = TypeVar("R")
E = TypeVar("E", bound=Exception)


def shared_file(*parts: str) -> Path:
    """A file under the shared/ directory beside the checkout, or skip the test."""
    path = SHARED_SCHEMAS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared schemas not available ({path} missing: no ../shared checkout)")
    return path


def shared_sdi_schema(interface: str) -> dict[str, Any]:
    """The shared SDI schema file of an interface, decoded."""
    return yaml.safe_load(shared_file("sdi", f"{interface}.yaml").read_text())


def assert_sdi_data_valid(databag: dict[str, str], interface: str, version: str, role: str):
    """Validate a sender's SDI databag against the shared schema with jsonschema."""
    schema = shared_sdi_schema(interface)[version][role]
    assert yaml.safe_load(databag["_supported_versions"])
    jsonschema.validate(yaml.safe_load(databag["data"]), schema)


def assert_json_schema_valid(instance: Any, schema_file: str) -> None:
    """Validate `instance` against a shared interface JSON schema."""
    schema = json.loads(shared_file("interfaces", schema_file).read_text())
    jsonschema.validate(instance, schema)


def versions(*names: str) -> str:
    """The `_supported_versions` value a remote would write."""
    return yaml.safe_dump(list(names))


def call(
    ctx: testing.Context,
    state: testing.State,
    fn: Callable[[Any], R],
    event: Any = None,
) -> tuple[R, testing.State]:
    """Run `fn(charm)` inside a hook (update-status by default); return its result and state."""
    with ctx(event if event is not None else ctx.on.update_status(), state) as mgr:
        result = fn(mgr.charm)
        out = mgr.run()
    return result, out


def raises_in_hook(
    ctx: testing.Context, state: testing.State, fn: Callable[[Any], Any], error: type[E]
) -> E:
    """Run `fn(charm)` in a hook and return the exception of type `error` it raised."""
    with ctx(ctx.on.update_status(), state) as mgr:
        with pytest.raises(error) as info:
            fn(mgr.charm)
        mgr.run()
    return info.value


def only_relation_errors(ctx: testing.Context, state: testing.State, fn: Callable[[Any], Any]):
    """Run `fn(charm)` in a hook; anything but a RelationError escaping fails the test."""
    message = "no error"
    with ctx(ctx.on.update_status(), state) as mgr:
        try:
            fn(mgr.charm)
        except RelationError as err:
            message = str(err)
        mgr.run()
    assert message  # every error names what is wrong


class WriteSpy:
    """Records every write to an application databag (RelationDataContent.update calls)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.writes: list[dict[str, str]] = []
        original = ops.model.RelationDataContent.update
        spy = self

        def update(self: ops.model.RelationDataContent, data: Any = (), /, **kwargs: str) -> None:
            if self._is_app:
                spy.writes.append(dict(data, **kwargs))
            original(self, data, **kwargs)

        monkeypatch.setattr(ops.model.RelationDataContent, "update", update)


def yaml_texts() -> st.SearchStrategy[str]:
    """Strings that are often YAML/JSON-ish, sometimes valid, sometimes not."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True),
        st.text(max_size=20),
    )
    values = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
        ),
        max_leaves=10,
    )
    return st.one_of(
        st.text(max_size=60),
        values.map(lambda v: yaml.safe_dump(v)),
        values.map(json.dumps),
        st.sampled_from(
            [
                "- v1\n",
                "- v1\n- v2\n",
                "[v9]",
                "v1",
                "{",
                "a: 2001-13-45",
                "!!binary aGVsbG8=",
                "&a [*a]",
                "[]",
                "{}",
                "- 1\n",
                "- true\n",
                "- [v1]\n",
            ]
        ),
    )


def databags(keys: list[str]) -> st.SearchStrategy[dict[str, str]]:
    """Random remote app databags, biased towards the interface's own keys."""
    key = st.one_of(st.sampled_from(keys), st.text(min_size=1, max_size=10))
    return st.dictionaries(key, yaml_texts(), max_size=len(keys) + 2)


def iter_files(path: Path, suffix: str) -> Iterator[Path]:
    """Files with `suffix` in `path`, sorted."""
    yield from sorted(p for p in path.iterdir() if p.name.endswith(suffix))


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12))
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=6,
    )


def sdi_databags(fields: list[str], good: dict[str, Any]) -> st.SearchStrategy[dict[str, str]]:
    """Remote SDI databags: mostly valid versions, `data` near `good` with random fields."""
    payload = st.fixed_dictionaries(
        {},
        optional={name: st.one_of(st.just(good.get(name)), _json_values()) for name in fields},
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "_supported_versions": st.one_of(
                st.sampled_from(["- v1\n", "- v1\n- v2\n", "- v2\n", "- v3\n"]), yaml_texts()
            ),
            "data": st.one_of(payload.map(yaml.safe_dump), yaml_texts()),
        },
    )
