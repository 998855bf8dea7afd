"""Mutation testing of the modules that hold the record's invariants (`make mutation`).

For each module, one at a time: a snapshot of the project is copied to mutants/<module>/ (so
edits made meanwhile in the work tree neither disturb the run nor get mutated), mutmut 3 mutates
the module's functions and runs, for each mutant, only the tests of the module's list that reach
the mutated function. mutmut leaves module-level code alone (limits, tables, the digest's list of
entry tables, prebuilt statements), so a second pass changes each number there by one, drops
each call of a chain and removes each element of each table, one at a time, and runs the
module's tests against it.

A mutant is killed when a test fails (a timeout counts as killed); the score is killed / total.
Survivors are written with their diff to mutants/<module>/survivors.txt.

    .venv/bin/python tools/mutation.py                 # every module
    .venv/bin/python tools/mutation.py passwords guards --jobs 1
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "mutants"
BIN = Path(sys.executable).parent
SNAPSHOT = ("clinic", "tests", "templates", "migrations", "pyproject.toml")


@dataclass(frozen=True)
class Target:
    path: str
    tests: tuple[str, ...]


# The tests relevant to each module; a file that does not exist (yet) is left out.
MODULES: dict[str, Target] = {
    "passwords": Target(
        "clinic/auth/passwords.py",
        ("tests/test_password_rules.py", "tests/test_auth.py", "tests/test_staff.py"),
    ),
    "guards": Target(
        "clinic/sessions/guards.py",
        ("tests/test_guards.py", "tests/test_signoff.py"),
    ),
    "vitals": Target(
        "clinic/sessions/vitals.py",
        (
            "tests/test_vital_limits.py",
            "tests/test_flag_directions.py",
            "tests/test_service_rules.py",
            "tests/test_monitoring.py",
            "tests/test_patient_history_flags.py",
        ),
    ),
    "scoring": Target(
        "clinic/instruments/definitions.py",
        ("tests/test_scores.py", "tests/test_instruments.py", "tests/test_service_rules.py"),
    ),
    "digest": Target(
        "clinic/sessions/digest.py",
        ("tests/test_signature_digest.py", "tests/test_signoff.py"),
    ),
    "audit": Target(
        "clinic/audit/services.py",
        ("tests/test_audit_tamper.py", "tests/test_audit.py"),
    ),
}

KILLED = {"killed", "timeout", "segfault", "caught by type check"}


@dataclass
class Outcome:
    statuses: Counter = field(default_factory=Counter)
    survivors: list[str] = field(default_factory=list)  # a heading and a diff each

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    @property
    def killed(self) -> int:
        return sum(n for status, n in self.statuses.items() if status in KILLED)


def snapshot(name: str, target: Target) -> tuple[Path, list[str]]:
    workdir = WORK / name
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache")
    for item in SNAPSHOT:
        source = ROOT / item
        if source.is_dir():
            shutil.copytree(source, workdir / item, ignore=ignore)
        else:
            shutil.copy2(source, workdir / item)
    tests = [test for test in target.tests if (ROOT / test).exists()]
    lines = "\n    ".join(tests)
    (workdir / "setup.cfg").write_text(
        "[mutmut]\n"
        "source_paths = clinic\n"
        "also_copy =\n    templates\n    migrations\n"
        f"only_mutate = {target.path}\n"
        f"pytest_add_cli_args_test_selection =\n    {lines}\n"
        "pytest_add_cli_args = -pno:cacheprovider\n"
    )
    return workdir, tests


def run_mutmut(workdir: Path, jobs: int) -> Outcome:
    mutmut = str(BIN / "mutmut")
    log = workdir / "mutmut.log"
    with log.open("w") as out:
        completed = subprocess.run(  # noqa: S603 (our own venv's mutmut, fixed arguments)
            [mutmut, "run", "--max-children", str(jobs)],
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if completed.returncode != 0:
        sys.exit(f"mutmut failed in {workdir}: see {log}")
    results = subprocess.run(  # noqa: S603
        [mutmut, "results", "--all", "true"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    outcome = Outcome()
    for line in results.stdout.splitlines():
        match = re.fullmatch(r"\s*(\S+): (.+)", line)
        if not match:
            continue
        mutant, status = match.groups()
        outcome.statuses[status] += 1
        if status not in KILLED:
            diff = subprocess.run(  # noqa: S603
                [mutmut, "show", mutant], cwd=workdir, capture_output=True, text=True, check=True
            ).stdout
            outcome.survivors.append(f"{mutant} ({status})\n{diff.strip()}")
    return outcome


# --- module-level constants --------------------------------------------------------------------


def _offsets(source: str) -> list[int]:
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


def constant_mutants(source: str) -> list[tuple[str, str]]:
    """(description, mutated source) for each number +1 and -1 in a module-level assignment,
    each call left out of a chain there (a prebuilt statement's `.with_for_update()`), and each
    element left out of a module-level tuple, list, set or dict."""
    starts = _offsets(source)

    def start(node: ast.AST) -> int:
        return starts[node.lineno - 1] + node.col_offset

    def end(node: ast.AST) -> int:
        return starts[node.end_lineno - 1] + node.end_col_offset

    def line_of(node: ast.AST) -> int:
        return node.lineno

    mutants: list[tuple[str, str]] = []

    def add(description: str, begin: int, finish: int, text: str) -> None:
        mutated = source[:begin] + text + source[finish:]
        try:
            ast.parse(mutated)
        except SyntaxError:
            return
        mutants.append((description, mutated))

    for statement in ast.parse(source).body:
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets = [statement.target]
        else:
            continue
        value = statement.value
        name = ", ".join(ast.unparse(target) for target in targets)
        for node in ast.walk(value):
            if isinstance(node, ast.Constant) and type(node.value) in (int, float):
                for delta in (1, -1):
                    new = node.value + delta
                    add(
                        f"line {line_of(node)} {name}: {node.value} -> {new}",
                        start(node),
                        end(node),
                        repr(new),
                    )
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Call)
            ):  # a prebuilt statement: select(...).where(...).with_for_update()
                add(
                    f"line {node.func.end_lineno} {name}: without .{node.func.attr}(...)",
                    end(node.func.value),
                    end(node),
                    "",
                )
        if any(isinstance(target, ast.Tuple) for target in targets):
            continue  # a, b = 1, 2: leaving one out only breaks the unpacking
        container = value
        if isinstance(value, ast.Call) and len(value.args) == 1 and not value.keywords:
            container = value.args[0]  # frozenset({...}), tuple([...])
        if isinstance(container, ast.Dict):
            elements = [
                (key if key is not None else item, item)
                for key, item in zip(container.keys, container.values, strict=True)
            ]
        elif isinstance(container, ast.Tuple | ast.List | ast.Set):
            elements = [(item, item) for item in container.elts]
        else:
            continue
        if len(elements) < 2:
            continue
        for index, (first, last) in enumerate(elements):
            if index + 1 < len(elements):
                begin, finish = start(first), start(elements[index + 1][0])
            else:
                begin, finish = end(elements[index - 1][1]), end(last)
            shown = " ".join(source[start(first) : end(last)].split())
            shown = shown if len(shown) <= 50 else shown[:47] + "..."
            add(f"line {line_of(first)} {name}: without {shown}", begin, finish, "")
    return mutants


def pytest_command(tests: list[str]) -> list[str]:
    return [str(BIN / "python"), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]


def run_constants(workdir: Path, target: Target, tests: list[str]) -> Outcome:
    env = {**os.environ, "PYTHONPATH": str(workdir)}
    where = subprocess.run(  # noqa: S603
        [str(BIN / "python"), "-c", "import clinic; print(clinic.__file__)"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(where).is_relative_to(workdir):
        sys.exit(f"the snapshot's clinic is not the one imported ({where})")
    began = time.monotonic()
    clean = subprocess.run(  # noqa: S603
        pytest_command(tests), cwd=workdir, env=env, capture_output=True, check=False
    )
    if clean.returncode != 0:
        sys.exit(f"the tests fail without any mutation: {' '.join(tests)}")
    limit = (time.monotonic() - began) * 3 + 30
    path = workdir / target.path
    source = path.read_text()
    outcome = Outcome()
    try:
        for description, mutated in constant_mutants(source):
            path.write_text(mutated)
            try:
                status = subprocess.run(  # noqa: S603
                    pytest_command(tests),
                    cwd=workdir,
                    env=env,
                    capture_output=True,
                    timeout=limit,
                    check=False,
                ).returncode
            except subprocess.TimeoutExpired:
                result = "timeout"
            else:
                result = "survived" if status == 0 else "killed"
            outcome.statuses[result] += 1
            if result not in KILLED:
                outcome.survivors.append(f"{target.path} {description} ({result})")
    finally:
        path.write_text(source)
    return outcome


# --- report ------------------------------------------------------------------------------------


def figure(outcome: Outcome | None) -> str:
    if outcome is None or outcome.total == 0:
        return "-"
    return f"{outcome.killed}/{outcome.total} {100 * outcome.killed / outcome.total:.0f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"some of: {', '.join(MODULES)} (default all)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (mutmut)")
    parser.add_argument("--no-constants", action="store_true", help="skip module-level constants")
    arguments = parser.parse_args()
    names = arguments.modules or list(MODULES)
    unknown = set(names) - set(MODULES)
    if unknown:
        parser.error(f"unknown {', '.join(sorted(unknown))}; choose from {', '.join(MODULES)}")

    rows = []
    for name in names:
        target = MODULES[name]
        began = time.monotonic()
        workdir, tests = snapshot(name, target)
        print(f"{name}: {target.path} against {' '.join(tests)}", flush=True)
        functions = run_mutmut(workdir, arguments.jobs)
        constants = None if arguments.no_constants else run_constants(workdir, target, tests)
        survivors = functions.survivors + (constants.survivors if constants else [])
        (workdir / "survivors.txt").write_text("\n\n".join(survivors) + "\n")
        both = Outcome(functions.statuses + (constants.statuses if constants else Counter()))
        minutes = (time.monotonic() - began) / 60
        rows.append((name, figure(functions), figure(constants), figure(both), minutes))
        print(
            f"  functions {figure(functions)}, constants {figure(constants)}, "
            f"{len(survivors)} survivors in {workdir / 'survivors.txt'}, {minutes:.1f} min",
            flush=True,
        )

    print()
    header = ("module", "functions (mutmut)", "module constants", "score", "minutes")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(4)] + [7]
    print("  ".join(title.ljust(width) for title, width in zip(header, widths, strict=True)))
    for name, functions, constants, both, minutes in rows:
        cells = (name, functions, constants, both, f"{minutes:.1f}")
        print("  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)))


if __name__ == "__main__":
    main()
