"""Bundles: a target and the drafters that fit it, tied together by `bundle.json`.

    python -m convert.bundle --target T --drafter D [--vp-drafter V] --out B [--force]

writes B/bundle.json (paths relative to B, and a compatibility record) with
`d2sd_mlx.manifest.write_manifest`, after checking that each drafter fits the target.
"""

from __future__ import annotations

import argparse
import sys

from d2sd_mlx.errors import D2SDError
from d2sd_mlx.manifest import write_manifest


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m convert.bundle", description="Tie a target to its drafters (bundle.json).")
    p.add_argument("--target", required=True, help="MLX target folder (mlx-lm layout)")
    p.add_argument("--drafter", help="DFlash drafter folder")
    p.add_argument("--vp-drafter", help="VP drafter folder")
    p.add_argument("--out", required=True, help="bundle folder (bundle.json is written there)")
    p.add_argument("--force", action="store_true", help="overwrite an existing bundle.json")
    a = p.parse_args(argv)
    if not a.drafter and not a.vp_drafter:
        p.error("give --drafter and/or --vp-drafter")
    try:
        f = write_manifest(a.out, a.target, a.drafter, a.vp_drafter, force=a.force)
    except D2SDError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
