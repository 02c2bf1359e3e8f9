"""How long the code map (agent/codemap) takes per attempt on a large repository.

Builds a throw-away git repository of --files Python and TypeScript files (a few hundred import
the files to modify, the rest is noise, some of it naming the same functions), then times
build_context_map for one Python and one TypeScript file to modify. The floor is one bare
`git grep --cached -l` for the same names in the same files (the map searches git's index as
well, and the files the agent wrote as they are now): the map cannot cost less than that.

    .venv/bin/python bench/context_map.py [--files 20000] [--runs 7]
"""
import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.core.codemap import build_context_map, javascript, python  # noqa: E402

# Per attempt, both languages, beyond the unavoidable grep (which moves with the machine's load);
# the model itself takes tens of seconds per answer.
TARGET_OVER_FLOOR_S = 0.5


def make_repo(root: Path, *, files: int) -> None:
    (root / "core").mkdir()
    (root / "core/calc.py").write_text("".join(f"def op_{n}(a: int, b: int) -> int:\n    return a + b\n\n"
                                               for n in range(30)))
    (root / "web").mkdir()
    (root / "web/calc.ts").write_text("".join(f"export function op{n}(a: number): number {{ return a; }}\n"
                                              for n in range(30)))
    for number in range(files):
        folder = root / f"pkg{number % 100:02}"
        folder.mkdir(exist_ok=True)
        if number % 50 == 0:
            text = f"from core.calc import op_{number % 30}\n\n\ndef use():\n    return op_{number % 30}(1, 2)\n"
        elif number % 10 == 0:
            text = f"def op_{number % 30}():\n    return 'a same-named function elsewhere'\n"
        else:
            text = f"VALUE_{number} = {number}\n\n\ndef helper_{number}(x):\n    return x + {number}\n"
        suffix = ".ts" if number % 7 == 0 else ".py"
        if suffix == ".ts":
            text = (f"import {{ op{number % 30} }} from '../web/calc';\nexport const v = op{number % 30}(1);\n"
                    if number % 49 == 0 else f"export const value{number} = {number};\n")
        (folder / f"mod_{number}{suffix}").write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "base"], cwd=root, check=True)


def timed(action, runs: int) -> list[float]:
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        durations.append(time.perf_counter() - started)
    return durations


def figures(name: str, durations: list[float]) -> str:
    ordered = sorted(durations)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{name:<44} p50 {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        started = time.perf_counter()
        make_repo(root, files=options.files)
        print(f"repository: {options.files} files, built in {time.perf_counter() - started:.1f} s")
        # The names both files define, searched in both languages' files: finding the candidates at all.
        words = [arg for n in range(30) for arg in ("-e", f"op_{n}", "-e", f"op{n}")]
        globs = [*python.GLOBS, *javascript.GLOBS]
        floor = timed(lambda: subprocess.run(["git", "grep", "--cached", "-l", "-w", "-F", *words, "--", *globs],
                                             cwd=root, capture_output=True, check=False), options.runs)
        paths = ["core/calc.py", "web/calc.ts"]
        both = timed(lambda: build_context_map(root=root, paths=paths), options.runs)
        text = build_context_map(root=root, paths=paths)
        print(figures("floor: one git grep --cached -l for the 60 names", floor))
        print(figures("build_context_map(core/calc.py, web/calc.ts)", both))
        print(f"map: {len(text)} characters, {text.count(chr(10)) + 1} lines")
        over = statistics.median(both) - statistics.median(floor)
        met = over <= TARGET_OVER_FLOOR_S
        print(f"map p50 - floor p50 = {over * 1000:.0f} ms; target <= {TARGET_OVER_FLOOR_S * 1000:.0f} ms: "
              f"{'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
