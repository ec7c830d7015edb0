"""``python -m pneumo_helpers.service --model FILE --info INFO.json --port N``: serve a model."""

from __future__ import annotations

import argparse
import json
import logging


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run uvicorn with the app of :func:`.app.create_app`."""
    import uvicorn

    from .app import ModelInfo, create_app

    parser = argparse.ArgumentParser(prog="python -m pneumo_helpers.service")
    parser.add_argument("--model", required=True, help=".keras, .tflite, .onnx or SavedModel")
    parser.add_argument("--info", required=True, help="JSON of the ModelInfo fields")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--batching", action="store_true")
    args = parser.parse_args(argv)
    with open(args.info) as stream:
        info = ModelInfo(**json.load(stream))
    app = create_app(args.model, info, batching=args.batching)
    logging.getLogger("uvicorn.access").disabled = True  # one line a request would slow it
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
