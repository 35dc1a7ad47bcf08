"""File viewer open time on a 50 MB file (issue 20 §2): it must not read the file whole.

    python tests/bench/bench_viewer.py               # 50 MB, 9 repetitions
    python tests/bench/bench_viewer.py --mb 200 --reps 5

Prints min / median for, in the same run:

- ``bare read``: ``open`` + one ``read`` of 64 KB (the floor for any viewer);
- ``whole read``: ``Path.read_bytes()`` of the file (what a naive viewer pays);
- ``peek``: :func:`parkbench.core.peek.peek` (resolve by the contract rules, stat, read);
- ``viewer``: the review app's viewer screen pushed on the file until its text is painted
  (Textual headless, 120x40), next to the same screen on a 1 KB file.

and the bytes the process read during one ``peek`` (``rchar`` in /proc/self/io), which
must stay near 64 KB whatever the file's size. Exit status 1 when it does not.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "tui"))

from parkbench.core.peek import LIMIT, peek  # noqa: E402


def timed(body: Callable[[], object], reps: int) -> list[float]:
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        body()
        samples.append(time.perf_counter() - start)
    return samples


def line(name: str, samples: list[float]) -> str:
    return (
        f"{name:<28} min {min(samples) * 1000:9.3f} ms   "
        f"median {statistics.median(samples) * 1000:9.3f} ms"
    )


def bytes_read_by(body: Callable[[], object]) -> int | None:
    """What the process read (rchar) while ``body`` ran; None off Linux."""
    io = Path("/proc/self/io")
    if not io.exists():
        return None

    def rchar() -> int:
        for entry in io.read_text().splitlines():
            if entry.startswith("rchar:"):
                return int(entry.split()[1])
        raise RuntimeError("no rchar in /proc/self/io")

    before = rchar()
    body()
    return rchar() - before - len(io.read_text())  # (the second read of io itself)


async def viewer_samples(root: Path, relatives: list[str], reps: int) -> dict[str, list[float]]:
    from tuitest_support import make_app, park, settle

    from parkbench.core.store import Store
    from parkbench.tui.screens.file_viewer import FileViewer

    samples: dict[str, list[float]] = {relative: [] for relative in relatives}
    with Store.open(f"sqlite:///{root.parent / 'bench.db'}") as store:
        run_id = park(store, root, "Bench", "viewer bench", required=relatives)
        app = make_app(store)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            for _ in range(reps):
                for relative in relatives:  # alternating, so load drifts hit both alike
                    viewer = FileViewer(run_id, str(root), relative)
                    start = time.perf_counter()
                    await app.push_screen(viewer)
                    while viewer.seen is None:
                        await asyncio.sleep(0)  # the worker's answer, then its paint
                    await viewer.wait_for_refresh()
                    samples[relative].append(time.perf_counter() - start)
                    app.pop_screen()
                    await pilot.pause()
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--reps", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="parkbench-viewer-bench-") as tmp:
        root = Path(tmp) / "workspace"
        (root / "out").mkdir(parents=True)
        big, small = root / "out" / "big.log", root / "out" / "small.txt"
        chunk = ("agent log line with some words in it, number 0123456789\n" * 1000).encode()
        with big.open("wb") as handle:
            for _ in range(args.mb * 1024 * 1024 // len(chunk) + 1):
                handle.write(chunk)
            handle.truncate(args.mb * 1024 * 1024)
        small.write_bytes(chunk[:1024])
        size = big.stat().st_size
        print(f"file: {size:,} bytes; viewer reads at most {LIMIT:,}; reps {args.reps}")

        def bare() -> None:
            with big.open("rb") as handle:
                handle.read(LIMIT)

        print(line("baseline: bare read 64 KB", timed(bare, args.reps)))
        print(line("baseline: whole read", timed(big.read_bytes, args.reps)))
        print(line("peek (50 MB file)", timed(lambda: peek(str(root), "out/big.log"), args.reps)))
        read = bytes_read_by(lambda: peek(str(root), "out/big.log"))
        samples = asyncio.run(viewer_samples(root, ["out/small.txt", "out/big.log"], args.reps))
        print(line("baseline: viewer on 1 KB", samples["out/small.txt"]))
        print(line(f"viewer on {args.mb} MB", samples["out/big.log"]))
        if read is None:
            print("bytes read by one peek: unknown (no /proc/self/io)")
            return 0
        verdict = "ok" if read <= 2 * LIMIT else "READ TOO MUCH"
        print(f"bytes read by one peek: {read:,} of {size:,} ({verdict})")
        return 0 if read <= 2 * LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
