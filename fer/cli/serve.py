"""``python -m fer serve``: run the web app with uvicorn (parsing and start-up only; the app is fer.serve.app)."""

from __future__ import annotations

import argparse
import ipaddress
import sys

from fer.cli.handler import handled

LOOPBACK = "127.0.0.1"


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``serve`` on the ``python -m fer`` sub-parsers."""
    p = sub.add_parser("serve", help="a web page and REST API (webcam or upload) on 127.0.0.1:8000",
                       description="Serve the page at / (webcam or upload, live boxes and probability bars), "
                                   "POST /v1/predict, GET /v1/models, GET /healthz, WS /v1/stream and the OpenAPI "
                                   "docs at /docs. Needs the serve extra: pip install -e .[serve]")
    p.add_argument("--model", "-m", action="append", metavar="FILE",
                   help="a .keras, .tflite or .onnx model; repeat to serve several (the first is the default; "
                        "default: the shipped models/fer2013_default.keras)")
    p.add_argument("--host", default=LOOPBACK,
                   help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--max-upload-mb", type=float, default=10.0, help="largest upload in MB (default 10)")
    p.add_argument("--max-megapixels", type=float, default=40.0, help="largest image in megapixels (default 40)")
    p.add_argument("--max-concurrency", type=int, default=16,
                   help="requests worked on at once; more get 503 (default 16)")
    p.add_argument("--workers", type=int, default=None, help="inference threads (default: 2 to 4 by CPU count)")
    p.add_argument("--detect-size", type=int, default=400, metavar="PX",
                   help="longer side of the photo the face detector sees in /v1/predict (default 400; the camera "
                        "stream uses 320); smaller is faster and misses small faces")
    p.add_argument("--detector", choices=("yunet", "haar"), default="yunet",
                   help="face detector: yunet (default; aligned, FER2013-framed crops) or haar (OpenCV's cascade)")
    p.add_argument("--scale-factor", type=float, default=1.1, metavar="F",
                   help="haar: detector scale step for /v1/predict (default 1.1; 1.2 is about twice as fast)")
    p.add_argument("--ssl-certfile", help="serve HTTPS with this certificate (phones need HTTPS for the camera)")
    p.add_argument("--ssl-keyfile", help="the certificate's private key")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    p.set_defaults(func=run_serve)
    return p


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@handled("serve")
def run_serve(args: argparse.Namespace) -> int:
    """Load the models once, then serve until interrupted; one-line errors, exit code 1."""
    try:
        import fastapi  # noqa: F401
        import python_multipart  # noqa: F401
        import uvicorn
    except ImportError as err:
        raise ImportError(f"the web app needs the serve extra ({err.name} is missing): pip install -e .[serve]",
                          name=err.name) from None
    from fer.serve.app import ServeConfig, create_app
    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be in 1..65535, got {args.port}")
    if args.max_upload_mb <= 0 or args.max_megapixels <= 0:
        raise ValueError("--max-upload-mb and --max-megapixels must be > 0")
    if bool(args.ssl_certfile) != bool(args.ssl_keyfile):
        raise ValueError("--ssl-certfile and --ssl-keyfile go together")
    if args.detect_size < 48 or args.scale_factor <= 1.0:
        raise ValueError("--detect-size must be >= 48 and --scale-factor > 1")
    extra = {"workers": args.workers} if args.workers is not None else {}
    config = ServeConfig(max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
                         max_pixels=int(args.max_megapixels * 1_000_000), max_in_flight=args.max_concurrency,
                         detector_name=args.detector,
                         detector={"max_side": args.detect_size, "scale_factor": args.scale_factor}, **extra)
    app = create_app(args.model, config=config)
    if not _is_loopback(args.host):
        print(f"fer serve: warning: binding {args.host} makes the app reachable from other machines",
              file=sys.stderr)
    scheme = "https" if args.ssl_certfile else "http"
    print(f"fer serve: models {', '.join(app.state.registry)} on {scheme}://{args.host}:{args.port}/ "
          "(docs at /docs; Ctrl+C to stop)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, ws_max_size=config.max_upload_bytes,
                ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile)
    return 0
