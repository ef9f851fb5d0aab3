"""``python -m fer export MODEL --format tflite|onnx [--quantize ...] [--compare DATA]``: calls :mod:`fer.export`."""

from __future__ import annotations

import argparse
import json

from fer.cli.handler import handled
from fer.export import FORMATS, QUANTIZE, compare_on, default_out, export_onnx, export_tflite
from fer.inference.runtimes import load_keras_model, read_metadata


def register(sub: argparse._SubParsersAction) -> None:
    add_export_parser(sub)


def add_export_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``export``: ``python -m fer export MODEL --format tflite [--quantize ...]``."""
    p = subparsers.add_parser(
        "export", help="export a .keras model to TFLite or ONNX",
        description="Export a trained .keras model to TFLite (optionally quantized) or ONNX. The class names "
                    "are embedded in the exported file; `python -m fer predict --model FILE` loads it.",
    )
    p.add_argument("model", help="the .keras model file")
    p.add_argument("--format", choices=FORMATS, default="tflite", help="output format (default: tflite)")
    p.add_argument("--quantize", choices=[q for q in QUANTIZE if q], default=None,
                   help="TFLite quantization (int8 needs --calibration)")
    p.add_argument("--calibration", metavar="DATA", default=None,
                   help="int8 calibration faces: a fer2013.csv(.gz), an image-folder tree or 'synthetic'")
    p.add_argument("--calibration-samples", type=int, default=300, metavar="N",
                   help="calibration faces to draw (default: 300)")
    p.add_argument("--compare", metavar="DATA", default=None,
                   help="after exporting, compare accuracy of the export and the Keras model on DATA's test "
                        "(else val, else all) faces")
    p.add_argument("--compare-samples", type=int, default=2000, metavar="N",
                   help="faces used by --compare (default: 2000)")
    p.add_argument("--compare-out", metavar="JSON", default=None,
                   help="also write the --compare result as JSON (with command and date), e.g. into results/")
    p.add_argument("--out", "-o", default=None, help="output file (default: next to MODEL)")
    p.set_defaults(func=run_export)
    return p


@handled("export")
def run_export(args: argparse.Namespace) -> int:
    """The ``export`` command: :func:`fer.export.export_tflite` / :func:`~fer.export.export_onnx`, then
    :func:`~fer.export.compare_on` with ``--compare``."""
    if args.format == "onnx" and args.quantize:
        raise ValueError("--quantize applies to --format tflite only")
    if args.quantize == "int8" and not args.calibration:
        raise ValueError("--quantize int8 needs --calibration DATA (a fer2013.csv(.gz), an image-folder "
                         "tree or 'synthetic')")
    model = load_keras_model(args.model)
    if args.format == "tflite":
        out = export_tflite(model, args.out or default_out(args.model, ".tflite", args.quantize),
                            args.quantize, args.calibration, calibration_samples=args.calibration_samples)
    else:
        out = export_onnx(model, args.out or default_out(args.model, ".onnx", None))
    meta = read_metadata(out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, classes {meta.get('classes')})")
    if args.compare:
        report = compare_on(args.model, out, args.compare, args.compare_samples)
        print(json.dumps(report, indent=2))
        if args.compare_out:
            from fer.evaluate import write_metrics

            report.update(model=str(args.model), exported=str(out), format=args.format,
                          quantize=args.quantize, exported_mb=out.stat().st_size / 1e6)
            write_metrics(report, args.compare_out)
    return 0
