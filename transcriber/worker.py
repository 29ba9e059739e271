"""A transcriber process: `python -m transcriber.worker --model base`.

It loads its model once, says so on stdout, then takes jobs one at a time. Each line on
stdin is a job, `{"id": ..., "path": ...}`; each line on stdout is its answer,
`{"id": ..., "ok": true, "transcript": {...}}` or `{"id": ..., "ok": false, "reason":
...}` for audio that cannot be read. The first line out is `{"ready": true, "model":
...}`, or `{"ready": false, "reason": ...}` when the model cannot be loaded. Logs go to
stderr. The process ends when stdin closes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from transcriber.engine import AudioError, WhisperTranscriber
from transcriber.models import ModelNotFound, resolve


def _say(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="transcriber.worker")
    parser.add_argument("--model", default="base")
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--chunk-seconds", type=float, default=600.0)
    parser.add_argument(
        "--nice", type=int, default=10, help="lower this process's priority by this much"
    )
    args = parser.parse_args(argv)
    if args.nice:
        # calls come first: a transcript may take a moment longer, a call may not stutter
        os.nice(args.nice)
    try:
        model_dir = resolve(args.model, args.cache_dir)
        engine = WhisperTranscriber(
            model_dir,
            threads=args.threads,
            beam_size=args.beam_size,
            batch_size=args.batch_size,
            chunk_seconds=args.chunk_seconds,
        )
    except (ModelNotFound, OSError, RuntimeError, ValueError) as error:
        _say({"ready": False, "reason": f"the speech model could not be loaded: {error}"})
        return 2
    _say({"ready": True, "model": args.model, "path": str(model_dir)})
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        started = time.process_time()
        try:
            transcript = engine.transcribe(Path(job["path"]))
        except AudioError as error:
            _say({"id": job["id"], "ok": False, "reason": str(error)})
            continue
        except FileNotFoundError:
            _say({"id": job["id"], "ok": False, "reason": "the audio file is gone"})
            continue
        _say(
            {
                "id": job["id"],
                "ok": True,
                "transcript": transcript.as_dict(),
                "cpu_seconds": round(time.process_time() - started, 3),
            }
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
