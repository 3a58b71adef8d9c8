"""``python -m spark_edu.bench NAME [options]``: run one benchmark (``attention`` or ``moe``)."""

import importlib
import sys

BENCHMARKS = ("attention", "moe")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in BENCHMARKS:
        print(f"usage: python -m spark_edu.bench {{{'|'.join(BENCHMARKS)}}} [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(f"spark_edu.bench.{argv[0]}")
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
