"""The `convscope` command: serve | trainer | web | train | models | summary | classify.

    convscope serve --data ~/cifar     # the live page at http://127.0.0.1:8000/
    convscope trainer --broker redis://HOST:6379/0 --store postgresql://...   # a split deployment:
    convscope web --broker redis://HOST:6379/0 --store postgresql://...       # ... one trainer, N web servers
    convscope train --model convnetjs --epochs 10 --data ~/cifar --json
    convscope models
    convscope summary vgg-mini          # or a SPEC.json file
    convscope classify --checkpoint run.pt cat.jpg dog.png [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import webbrowser
from collections.abc import Sequence
from pathlib import Path

from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import ValidationError
from tqdm import tqdm

from .data import DataError, load_dataset
from .security import is_loopback
from .models import PRESETS, SpecError, format_table, get_preset, layer_table, load_spec, totals
from .train import (CheckpointError, DeviceError, EvalMetrics, StepMetrics, TrainConfig, Trainer,
                    resolve_device, save_checkpoint)
from .settings import DEFAULT_MODEL, Settings, shown
from .train.config import field_types
from .train.device import DEVICES


class UsageError(Exception):
    """A mistake on the command line or in its inputs: printed without a traceback."""


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_option(parser: argparse.ArgumentParser, name: str, kind: Any, text: str) -> None:
    """One flag for a setting or hyperparameter of type `kind`; not given, it is left unset."""
    if get_origin(kind) in (Union, UnionType):  # X | None: the flag takes an X
        kind = next(k for k in get_args(kind) if k is not type(None))
    options: dict[str, Any] = {"default": argparse.SUPPRESS, "help": text.replace("%", "%%")}
    if kind is bool:
        options["action"] = argparse.BooleanOptionalAction
    elif get_origin(kind) is Literal:
        options["choices"] = get_args(kind)
    else:
        options["type"] = kind
    parser.add_argument(flag(name), **options)


def add_settings(parser: argparse.ArgumentParser) -> None:
    """serve's flags, one per Settings field: --probe-hz for probe_hz (else CONVSCOPE_PROBE_HZ)."""
    for name, info in Settings.model_fields.items():
        default = shown(info.get_default(call_default_factory=True))
        add_option(parser, name, info.annotation,
                   f"{info.description} (default: {default}; environment: CONVSCOPE_{name.upper()})")


def serve_settings(args: argparse.Namespace) -> Settings:
    """The flags given, over the CONVSCOPE_* variables, over the defaults."""
    try:
        return Settings(**{name: value for name, value in vars(args).items() if name in Settings.model_fields})
    except ValidationError as e:
        problems = [f"{flag(str(err['loc'][0]))} (or CONVSCOPE_{str(err['loc'][0]).upper()}): {err['msg']}"
                    for err in e.errors()]
        raise UsageError("; ".join(problems)) from None


def add_hyperparams(parser: argparse.ArgumentParser) -> None:
    """train's flags, one per TrainConfig field: --batch-size, --label-smoothing, --no-flip..."""
    for name, (kind, text) in field_types().items():
        add_option(parser, name, kind, f"{text} (default: the preset's, else {getattr(TrainConfig(), name)})")


def train_config(args: argparse.Namespace, recipe: dict) -> TrainConfig:
    """The preset's recipe with the command line's overrides on top."""
    overrides = {name: value for name, value in vars(args).items() if name in field_types()}
    return TrainConfig().replace(**{**recipe, **overrides})


def command_train(args: argparse.Namespace) -> int:
    name, spec = load_spec(args.model)
    recipe = get_preset(name).recipe if name in PRESETS else {}
    config = train_config(args, recipe)
    dataset = load_dataset(args.data)
    trainer = Trainer(spec, dataset, config, device=args.device)
    print(f"training {name} on {dataset.source} ({trainer.device}, "
          f"{trainer.precision}): {config.epochs:g} epochs, "
          f"batch {config.batch_size}, {config.optimizer} lr {config.lr:g}", file=sys.stderr)
    bar = tqdm(total=round(config.epochs * len(trainer.batches)), unit="img", unit_scale=True,
               file=sys.stderr, dynamic_ncols=True)

    def on_step(trainer: Trainer, m: StepMetrics) -> None:
        bar.update(m.batch_size)
        if m.step % 10 == 0:
            bar.set_postfix(loss=f"{m.loss:.3f}", acc=f"{m.accuracy:.1%}",
                            img_s=f"{trainer.images_seen / trainer.train_seconds:,.0f}")

    def on_eval(trainer: Trainer, m: EvalMetrics) -> None:
        bar.write(f"epoch {m.epoch:5.2f}  test loss {m.loss:.4f}  test accuracy {m.accuracy:.2%}  "
                  f"({m.seconds:.1f} s of training)", file=sys.stderr)
        if args.json:
            print(json.dumps({"epoch": round(m.epoch, 3), "test_accuracy": m.accuracy,
                              "test_loss": m.loss, "seconds": round(m.seconds, 2)}), flush=True)

    final = trainer.fit(on_step=on_step, on_eval=on_eval)
    bar.close()
    if args.checkpoint:
        print(f"checkpoint written to {save_checkpoint(trainer, args.checkpoint)}", file=sys.stderr)
    result = {
        "model": name, "epochs": config.epochs, "test_accuracy": final.accuracy,
        "test_loss": final.loss, "per_class_accuracy": dict(zip(trainer.classes, final.per_class)),
        "images_per_second": trainer.images_seen / trainer.train_seconds,
        "seconds": trainer.train_seconds, "steps": trainer.step_count,
        "device": str(trainer.device), "precision": trainer.precision,
    }
    if args.json:
        print(json.dumps(result), flush=True)
    else:
        print(f"test accuracy {final.accuracy:.2%} after {trainer.train_seconds:.1f} s "
              f"({result['images_per_second']:,.0f} images/s)")
    return 0


def command_models(args: argparse.Namespace) -> int:
    rows = []
    for name, preset in PRESETS.items():
        params, macs = totals(layer_table(preset.spec))
        rows.append((name, f"{params:,}", f"{macs / 1e6:,.2f}M", preset.title))
    widths = [max(len(r[i]) for r in rows + [("model", "params", "MACs", "")]) for i in range(3)]
    print(f"{'model':<{widths[0]}}  {'params':>{widths[1]}}  {'MACs':>{widths[2]}}  about")
    for r in rows:
        print(f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}")
    return 0


def command_summary(args: argparse.Namespace) -> int:
    name, spec = load_spec(args.model)
    print(f"{name}\n{format_table(layer_table(spec))}")
    return 0


def command_classify(args: argparse.Namespace) -> int:
    """The top classes of each image under a checkpoint's network; exit code 1 if any image failed."""
    import torch

    from .inference import ImageError, decode_image
    from .train import load_checkpoint

    checkpoint = load_checkpoint(args.checkpoint)
    model, classes = checkpoint.build_model(), checkpoint.classes
    print(f"{args.checkpoint}: step {checkpoint.step}, {len(classes)} classes", file=sys.stderr)
    failed = 0
    for path in args.images:
        try:
            decoded = decode_image(Path(path).read_bytes(), checkpoint.input_format)
        except (OSError, ImageError) as e:
            failed += 1
            reason = e.strerror or str(e) if isinstance(e, OSError) else str(e)
            if args.json:
                print(json.dumps({"file": path, "error": reason}), flush=True)
            else:
                print(f"{path}: error: {reason}", file=sys.stderr)
            continue
        with torch.no_grad():
            probabilities = model(checkpoint.input_format.to_tensor(decoded.pixels)).float().softmax(1)[0]
        p, c = probabilities.topk(min(args.top, len(classes)))
        top = [{"class": classes[i], "p": round(q, 6)} for q, i in zip(p.tolist(), c.tolist())]
        if args.json:
            print(json.dumps({"file": path, "top": top, "crop": vars(decoded.crop), "notes": decoded.notes}),
                  flush=True)
        else:
            print(path)
            for guess in top:
                print(f"  {guess['p']:7.2%}  {guess['class']}")
    return 1 if failed else 0


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy options: X-Forwarded-For (and -Proto) believed from settings.forwarded_allow_ips
    alone, so that request.client (the rate limits' key) is the real client only behind a trusted
    proxy; none: ignored from everyone (uvicorn's own default believes 127.0.0.1)."""
    if settings.forwarded_allow_ips is None:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": settings.forwarded_allow_ips}


def command_serve(args: argparse.Namespace) -> int:
    from .app import create_app  # the web stack loads only to serve

    settings = serve_settings(args)
    if settings.broker:
        raise UsageError("serve trains in a process of its own; with a broker, run `convscope trainer` and "
                         "`convscope web` (docs/deploy.md)")
    resolve_device(settings.device)  # --device cuda without a GPU: say so now, not on the page
    if not is_loopback(settings.host) and settings.token is None:
        print(f"convscope: warning: listening on {settings.host}, reachable from other machines, with a "
              "random token: anyone with the address below (with its ?token=) controls the run; share "
              "it without ?token=, or choose one with --token", file=sys.stderr, flush=True)
    return run_server(create_app(settings), settings)


def command_web(args: argparse.Namespace) -> int:
    from .app import create_app

    settings = serve_settings(args)
    if not settings.broker:
        raise UsageError("a web server needs the trainer's broker: --broker redis://HOST:6379/0")
    return run_server(create_app(settings, role="web"), settings)


def command_trainer(args: argparse.Namespace) -> int:
    from .trainer import run_trainer

    settings = serve_settings(args)
    if not settings.broker:
        raise UsageError("a trainer needs a broker for its web servers: --broker redis://HOST:6379/0")
    resolve_device(settings.device)
    run_trainer(settings)
    print("convscope: trainer stopped", file=sys.stderr)
    return 0


def run_server(app: Any, settings: Settings) -> int:
    """Serve `app` with uvicorn until Ctrl-C; print the addresses once it listens."""
    import uvicorn

    host, port = settings.host, settings.port
    # No per-message deflate: each message is encoded once for every viewer, and compressing it
    # again per viewer cost the server ten times the CPU of all the rest (benchmarks/streaming.py).
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           ws_per_message_deflate=False, **proxy_options(settings)))
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.1)
        if server.started:
            owner_url = f"{url}?token={app.state.settings.token}"  # a web server's comes from the broker
            print(f"convscope: serving on {url} (Ctrl-C to stop)\n"
                  f"convscope: the owner's address (it lets whoever opens it control the run): {owner_url}",
                  file=sys.stderr, flush=True)
            if settings.browser:
                webbrowser.open(owner_url)

    threading.Thread(target=announce, daemon=True).start()
    try:
        server.run()  # returns after Ctrl-C, once the worker has stopped
    except KeyboardInterrupt:  # uvicorn raises the signal again once it has shut down
        pass
    print("convscope: stopped", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="convscope", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="train live and watch it in the browser",
                           description="Every option is also a CONVSCOPE_* environment variable; a flag "
                                       "given overrides it.")
    add_settings(serve)
    serve.set_defaults(run=command_serve)

    split = "Every option is also a CONVSCOPE_* environment variable; see docs/deploy.md."
    trainer = sub.add_parser("trainer", help="train for the web servers of a split deployment (--broker)",
                             description=f"The training half: data, model, checkpoints; it records the run in "
                                         f"--store. {split}")
    add_settings(trainer)
    trainer.set_defaults(run=command_trainer)
    web = sub.add_parser("web", help="serve the page of a trainer elsewhere (--broker); run any number",
                         description=f"The serving half: page, websocket, classify. {split}")
    add_settings(web)
    web.set_defaults(run=command_web)

    train = sub.add_parser("train", help="train a model headless, with a progress bar",
                           description="Each preset has its own schedule; the flags override it.")
    train.add_argument("--model", default=DEFAULT_MODEL, help=f"preset name or SPEC.json (default: {DEFAULT_MODEL})")
    train.add_argument("--data", help=Settings.model_fields["data"].description)
    train.add_argument("--device", choices=DEVICES, default="auto")
    train.add_argument("--checkpoint", help="write a checkpoint file here at the end")
    train.add_argument("--json", action="store_true",
                       help="print JSON lines; the last is the run's result")
    add_hyperparams(train)
    train.set_defaults(run=command_train)

    models = sub.add_parser("models", help="list the preset networks")
    models.set_defaults(run=command_models)

    summary = sub.add_parser("summary", help="layer table of a preset or a SPEC.json")
    summary.add_argument("model", help="preset name or path to a SPEC.json")
    summary.set_defaults(run=command_summary)

    classify = sub.add_parser("classify", help="classify images with a checkpoint's network")
    classify.add_argument("--checkpoint", required=True, help="a checkpoint file (train --checkpoint, "
                          "or the page's download)")
    classify.add_argument("images", nargs="+", metavar="IMAGE", help="JPEG, PNG, WebP, GIF or BMP files")
    classify.add_argument("--top", type=int, default=5, help="how many classes to list (default 5)")
    classify.add_argument("--json", action="store_true", help="one JSON object per image, one per line")
    classify.set_defaults(run=command_classify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (DataError, SpecError, CheckpointError, DeviceError, UsageError, ValueError) as e:
        print(f"convscope: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("convscope: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
