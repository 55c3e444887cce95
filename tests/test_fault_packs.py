"""Fault and abuse suite, packs: files that attack the loader are refused with a clear error
(its code and file:line), and nothing in a pack reaches a Python object or a file outside it.

- YAML: alias bombs, merge keys, tags that name Python objects, nesting 1,000 levels deep, a
  10 MB value, too many nodes, a file over the size limit;
- includes: an embedded test's ``reference: {use: PATH}`` that is absolute, climbs out with
  ``..`` or leads out through a symbolic link (``include-outside``);
- expressions and templates that try to reach Python objects (``__class__``, ``__globals__``,
  ``getattr``, ``type``, ``eval``, ``open``, method calls, format-string tricks), refused when
  the pack loads, before any event.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fourin_rules.cli import app
from fourin_rules.engine import Engine
from fourin_rules.errors import FourinError, FourinErrors
from fourin_rules.packs import loader, yamlpos
from fourin_rules.packs.loader import load_packs
from fourin_rules.packs.testing import iter_cases, run_pack_tests

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "rules" / "fixtures" / "small-county.yaml"

HEAD = """pack: {id: evil, version: 1.0.0, title: {zh: 恶意, en: evil}}
rules:
  - id: E1
    clause: 不准公款娱乐
    kind: match
    title: {zh: 一, en: one}
    on: card_txn
"""


def _errors(exc: BaseException) -> list[FourinError]:
    if isinstance(exc, FourinErrors):
        return exc.errors
    assert isinstance(exc, FourinError), exc
    return [exc]


def _refused(path: Path) -> FourinError:
    """The one error loading ``path`` raises."""
    with pytest.raises((FourinError, FourinErrors)) as info:
        load_packs([path])
    (error,) = _errors(info.value)
    return error


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# ------------------------------------------------------------------------------------ YAML

LAUGHS = "\n".join(
    [
        'lol: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
        *(
            f"l{i}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]"  # 9**9 lols
            for i in range(8)
        ),
        "pack: {id: bomb, version: 1.0.0, title: {zh: 炸, en: bomb}}",
    ]
)


@pytest.mark.parametrize(
    ("name", "text", "line", "message"),
    [
        ("billion-laughs", LAUGHS, 1, "YAML anchors (&name) are not allowed"),
        ("alias-only", "pack: {}\nx: &x 1\ny: *x\n", 2, "YAML anchors (&name) are not allowed"),
        ("merge-key", "pack:\n  <<: {id: x}\n", 2, "YAML merge keys (<<) are not allowed"),
        (
            "python-object",
            "pack: !!python/object/apply:os.system ['touch {marker}']\n",
            1,
            "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed",
        ),
        (
            "python-name",
            "pack:\n  id: !!python/name:os.system ''\n",
            2,
            "YAML tag 'tag:yaml.org,2002:python/name:os.system' is not allowed",
        ),
        ("custom-tag", "pack: {id: !custom x}\n", 1, "YAML tag '!custom' is not allowed"),
        ("binary", "pack: {id: !!binary aGVsbG8=}\n", 1, "YAML tag 'tag:yaml.org,2002:binary'"),
        ("set", "pack: !!set {a, b}\n", 1, "YAML tag 'tag:yaml.org,2002:set' is not allowed"),
        (
            "deep-flow",
            "pack: " + "[" * 1000 + "]" * 1000 + "\n",
            1,
            "nesting deeper than 64 levels",
        ),
        (
            "deep-block",
            "pack:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(1000)) + "  x\n",
            65,
            "nesting deeper than 64 levels",
        ),
        (
            "deep-mapping",
            "pack: " + "{a: " * 1000 + "1" + "}" * 1000 + "\n",
            1,
            "nesting deeper than 64 levels",
        ),
    ],
)
def test_yaml_that_attacks_the_loader_is_refused_with_its_place(
    tmp_path: Path, name: str, text: str, line: int, message: str
) -> None:
    marker = tmp_path / "executed"
    path = tmp_path / f"{name}.yaml"
    path.write_text(text.replace("{marker}", str(marker)), encoding="utf-8")
    started = time.monotonic()
    error = _refused(path)
    assert time.monotonic() - started < 10
    assert error.code == "yaml-too-complex"
    assert message in error.message
    assert (error.span.path, error.span.line) == (str(path), line)
    assert error.render().startswith(f"{path}:{line}:")
    assert not marker.exists()


def test_nesting_that_would_exhaust_python_recursion_is_not_dropped_silently(
    tmp_path: Path,
) -> None:
    # It used to raise RecursionError inside PyYAML, which load_packs swallowed: the pack
    # vanished without an error and load_packs returned [].
    deep = tmp_path / "deep.yaml"
    deep.write_text("pack: " + "[" * 1000 + "]" * 1000 + "\n", encoding="utf-8")
    good = ROOT / "rules" / "duty-presence.yaml"
    with pytest.raises(FourinError) as info:
        load_packs([good, deep])
    assert info.value.code == "yaml-too-complex"


def test_an_unexpected_loader_failure_is_raised_not_swallowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(HEAD, encoding="utf-8")

    def broken(_path: object) -> None:
        raise RuntimeError("a bug in the loader")

    monkeypatch.setattr(loader, "load_pack_file", broken)
    with pytest.raises(RuntimeError, match="a bug in the loader"):
        load_packs([path])


def test_a_ten_megabyte_value_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big-value.yaml"
    path.write_text(
        "pack: {id: big, version: 1.0.0, title: {zh: 大, en: big}}\n"
        "lists:\n  words: ['" + "x" * 10_000_000 + "']\n",
        encoding="utf-8",
    )
    error = _refused(path)
    assert error.code == "yaml-too-complex"
    assert error.message == "a value longer than 1000000 characters"
    assert (error.span.path, error.span.line) == (str(path), 3)


def test_a_file_over_the_size_limit_is_refused_without_being_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as f:  # sparse: 21 MB of nothing, written in no time
        f.write(b"pack: {}\n")
        f.truncate(yamlpos.MAX_FILE_BYTES + 1024)
    started = time.monotonic()
    error = _refused(path)
    assert time.monotonic() - started < 5
    assert error.code == "yaml-too-complex"
    assert error.message == f"file is larger than {yamlpos.MAX_FILE_BYTES} bytes"
    assert (error.span.path, error.span.line) == (str(path), 1)


def test_too_many_nodes_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlpos, "MAX_NODES", 500)  # the limit is 200,000; the check is the same
    path = tmp_path / "wide.yaml"
    path.write_text("pack: {}\nlists:\n  many: [" + ", ".join(["1"] * 600) + "]\n", "utf-8")
    error = _refused(path)
    assert error.code == "yaml-too-complex" and error.message == "more than 500 YAML nodes"
    assert (error.span.path, error.span.line) == (str(path), 3)


# -------------------------------------------------------------------------------- includes

INCLUDING = """pack: {id: incl, version: 1.0.0, title: {zh: 包含, en: include}}
rules:
  - id: I1
    clause: 不准公款娱乐
    kind: match
    title: {zh: 一, en: one}
    message: {zh: "{id}", en: "{id}"}
    on: card_txn
    when: mcc == "7911"
    tests:
      - name: uses a reference file
        reference: {use: USE}
        events:
          - {type: card_txn, id: x1, time: "2026-03-12T21:30:00+08:00", cadre_id: K01,
             amount_cny: 1, merchant_name: KTV, mcc: "7911"}
        expect: [{rule: I1, subject: K01}]
"""


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A pack folder with a fixture, and outside it a perfectly valid reference file: if an
    include were followed out, the embedded test would pass."""
    pack_dir = tmp_path / "county" / "packs"
    (pack_dir / "fixtures").mkdir(parents=True)
    (pack_dir / "fixtures" / "county.yaml").write_bytes(REFERENCE.read_bytes())
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_bytes(REFERENCE.read_bytes())
    return {"pack_dir": pack_dir, "outside": outside}


def _pack_using(layout: dict[str, Path], use: str) -> Path:
    path = layout["pack_dir"] / "pack.yaml"
    path.write_text(INCLUDING.replace("USE", use), encoding="utf-8")
    return path


def _symlink(link: Path, target: Path) -> None:
    try:
        link.symlink_to(target)
    except OSError:  # pragma: no cover - e.g. Windows without the privilege
        pytest.skip("symbolic links are not available here")


@pytest.mark.parametrize(
    "use",
    [
        "../../etc/passwd",
        "../../outside/secret.yaml",
        "fixtures/../../../outside/secret.yaml",
        "/etc/passwd",
        "ABSOLUTE",
        "LINK",
        "LINKED_DIR",
    ],
)
def test_an_include_outside_the_pack_folder_is_refused(
    layout: dict[str, Path], use: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if use == "ABSOLUTE":
        use = str(layout["outside"] / "secret.yaml")
    elif use == "LINK":  # a file in the pack's folder that leads out
        _symlink(layout["pack_dir"] / "fixtures" / "link.yaml", layout["outside"] / "secret.yaml")
        use = "fixtures/link.yaml"
    elif use == "LINKED_DIR":  # a folder in the pack's folder that leads out
        _symlink(layout["pack_dir"] / "shared", layout["outside"])
        use = "shared/secret.yaml"
    path = _pack_using(layout, use)
    read: list[object] = []
    import fourin_rules.model.reference as reference_module

    real = reference_module.load_reference
    monkeypatch.setattr(reference_module, "load_reference", lambda p: read.append(p) or real(p))
    (outcome,) = run_pack_tests(load_packs([path]), backend="python")
    assert not outcome.passed
    line = _line_of(INCLUDING, "reference: {use:")
    (problem,) = outcome.problems
    assert problem.startswith(f"{path}:{line}:")
    assert "error[include-outside]" in problem
    assert "hint: copy the file into the pack's folder" in problem
    assert read == []  # refused before anything was opened


def test_the_include_error_names_code_and_place(layout: dict[str, Path]) -> None:
    from fourin_rules.packs.testing import include_path

    path = _pack_using(layout, "../../outside/secret.yaml")
    (case,) = iter_cases(load_packs([path]))
    with pytest.raises(FourinError) as info:
        include_path(case, "../../outside/secret.yaml")
    error = info.value
    assert error.code == "include-outside"
    assert (error.span.path, error.span.line) == (str(path), _line_of(INCLUDING, "{use:"))
    assert "outside the pack's folder" in error.message


@pytest.mark.parametrize("use", ["fixtures/county.yaml", "./fixtures/county.yaml", "INNER_LINK"])
def test_an_include_inside_the_pack_folder_still_works(layout: dict[str, Path], use: str) -> None:
    if use == "INNER_LINK":  # a link that stays inside is fine
        _symlink(layout["pack_dir"] / "alias.yaml", layout["pack_dir"] / "fixtures" / "county.yaml")
        use = "alias.yaml"
    (outcome,) = run_pack_tests(load_packs([_pack_using(layout, use)]), backend="python")
    assert outcome.passed, outcome.render()


def test_the_cli_reports_a_refused_include_as_a_failed_test(layout: dict[str, Path]) -> None:
    path = _pack_using(layout, "/etc/passwd")
    result = CliRunner().invoke(app, ["test", str(path), "--backend", "python"])
    assert result.exit_code == 1
    assert "error[include-outside]" in result.output
    assert result.output.rstrip().endswith("0 passed, 1 failed")


def test_bundled_and_example_packs_include_only_their_own_files() -> None:
    packs = [ROOT / "rules"]
    if (ROOT / "examples" / "custom-rules").is_dir():
        packs.append(ROOT / "examples" / "custom-rules")
    for case in iter_cases(load_packs(packs)):
        ref = case.test.reference
        if ref and set(ref) == {"use"}:
            from fourin_rules.packs.testing import include_path

            assert include_path(case, str(ref["use"])).is_file()


# ----------------------------------------------------------------------------- expressions


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _rule(tmp_path: Path, when: str, zh: str = "x") -> tuple[Path, str]:
    text = HEAD + f"    when: {_quote(when)}\n    message: {{zh: {_quote(zh)}, en: x}}\n"
    path = tmp_path / "evil.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text


@pytest.mark.parametrize(
    ("when", "code"),
    [
        ('merchant_name.__class__ == "x"', "expr-forbidden"),
        ("contains_any.__globals__ == null", "expr-forbidden"),
        ("().__class__.__mro__ == null", "expr-forbidden"),
        ("cadre(cadre_id).__dict__ == null", "expr-forbidden"),
        ('getattr(merchant_name, "upper") == null', "unknown-function"),
        ('type(merchant_name) == "str"', "unknown-function"),
        ("eval('1') == 1", "unknown-function"),
        ("open('x') == null", "unknown-function"),
        ("__import__('os') == null", "unknown-function"),
        ("globals() == null", "unknown-function"),
        ('merchant_name.upper() == "X"', "expr-forbidden"),
        ('merchant_name.format(0) == "X"', "expr-forbidden"),
        ("(lambda: 1)() == 1", "expr-forbidden"),
        ('f"{merchant_name}" == "x"', "expr-forbidden"),
        ('merchant_name[0] == "x"', "expr-forbidden"),
        ("[x for x in [1]] == [1]", "expr-forbidden"),
        ("(x := 1) == 1", "expr-forbidden"),
        ("10 ** 10 ** 10 > 1", "expr-forbidden"),
        ('"%s" % merchant_name == "x"', "expr-forbidden"),
        ('"a" * 1000000000 == "x"', "expr-type"),
        ("__builtins__ == null", "expr-forbidden"),
        ("_ == null", "expr-forbidden"),
    ],
)
def test_expressions_that_reach_for_python_are_refused_at_load_time(
    tmp_path: Path, when: str, code: str
) -> None:
    path, text = _rule(tmp_path, when)
    with pytest.raises((FourinError, FourinErrors)) as info:
        Engine([path], REFERENCE)
    (error,) = _errors(info.value)
    assert error.code == code, error.render()
    assert (error.span.path, error.span.line) == (str(path), _line_of(text, "when:"))


@pytest.mark.parametrize(
    ("template", "code"),
    [
        ("{time.__class__}", "expr-forbidden"),
        ("{0.__class__}", "expr-syntax"),
        ("{merchant_name.__class__.__init__.__globals__}", "expr-forbidden"),
        ("{amount_cny:{0.__class__}}", "template"),
        ("{merchant_name!r}", "expr-syntax"),
        ("{__builtins__}", "expr-forbidden"),
        ("{cadre(cadre_id).__dict__}", "expr-forbidden"),
        ("{getattr(time, 'tzinfo')}", "unknown-function"),
        ("{merchant_name.format(time)}", "expr-forbidden"),
        # a width or precision that would build a string of a billion characters
        ("{amount_cny:999999999}", "template"),
        ("{amount_cny:.999999999f}", "template"),
        ("{merchant_name:>2000000}", "template"),
    ],
)
def test_template_tricks_are_refused_at_load_time(tmp_path: Path, template: str, code: str) -> None:
    path, text = _rule(tmp_path, 'mcc == "7911"', zh=template)
    started = time.monotonic()
    with pytest.raises((FourinError, FourinErrors)) as info:
        Engine([path], REFERENCE)
    assert time.monotonic() - started < 5
    (error,) = _errors(info.value)
    assert error.code == code, error.render()
    assert (error.span.path, error.span.line) == (str(path), _line_of(text, "message:"))


def test_escaped_braces_and_field_values_are_only_ever_text(tmp_path: Path) -> None:
    zh = "{{0.__class__}} {{time.__class__}} {merchant_name} {amount_cny:>8}"
    path, _ = _rule(tmp_path, 'mcc == "7911"', zh=zh)
    card = {"type": "card_txn", "id": "x1", "time": "2026-03-12T21:30:00+08:00", "mcc": "7911"}
    card |= {"cadre_id": "K01", "amount_cny": 12, "merchant_name": "{time.__class__}{0}%s"}
    (finding,) = Engine([path], REFERENCE, backend="python").run([card]).findings
    literal = "{0.__class__} {time.__class__} {time.__class__}{0}%s"
    assert finding.message.zh == f"{literal} {12.0:>8}"


def test_the_format_width_limit_leaves_ordinary_widths_alone(tmp_path: Path) -> None:
    path, _ = _rule(tmp_path, 'mcc == "7911"', zh="[{amount_cny:>1000}]")
    card = {"type": "card_txn", "id": "x1", "time": "2026-03-12T21:30:00+08:00", "mcc": "7911"}
    card |= {"cadre_id": "K01", "amount_cny": 12}
    (finding,) = Engine([path], REFERENCE, backend="python").run([card]).findings
    assert finding.message.zh == f"[{12.0:>1000}]"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_pack_that_is_a_link_to_an_endless_device_is_refused_at_the_size_limit(
    tmp_path: Path,
) -> None:
    """Reading it whole would never end: the loader reads no more than the limit. Run in a
    child process with a memory cap and a timeout, so that a regression fails, not hangs."""
    link = tmp_path / "zero.yaml"
    _symlink(link, Path("/dev/zero"))
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "from fourin_rules.packs.loader import load_packs\n"
        "from fourin_rules.errors import FourinError\n"
        "try:\n"
        "    load_packs([sys.argv[1]])\n"
        "except FourinError as exc:\n"
        "    print(exc.code, exc.message)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(link)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (
        done.stdout.strip()
        == f"yaml-too-complex file is larger than {yamlpos.MAX_FILE_BYTES} bytes"
    )
