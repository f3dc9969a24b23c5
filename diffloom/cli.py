"""The `diffloom` command: dispatches to serve / run / convert, each in its own module, imported lazily."""

import argparse
import sys


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diffloom", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the HTTP + WebSocket server and the canvas")
    serve.add_argument("args", nargs=argparse.REMAINDER, help="server flags (see `diffloom serve --help`)")

    run = sub.add_parser("run", help="run a workflow (API or editor format) headless")
    run.add_argument("workflow", help="path to a workflow .json file")
    run.add_argument("--output-dir", default=None, help="where output nodes save files")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="NODE_ID.INPUT=VALUE",
                     help="override one input before running (repeatable)")
    run.add_argument("--cpu", action="store_true", help="run everything on the CPU")

    convert = sub.add_parser("convert", help="print the API-format prompt of an editor-format workflow")
    convert.add_argument("workflow", help="path to an editor-format workflow .json file")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:  # argparse's REMAINDER drops leading options, so serve parses its own flags
        from diffloom.serve_command import serve
        return serve(argv[1:])
    args = _build_parser().parse_args(argv)
    if args.command == "serve":
        from diffloom.serve_command import serve
        return serve(args.args)
    if args.command == "run":
        import runtime
        from diffloom.run_command import configure_runtime, run

        configure_runtime(cpu=args.cpu)
        try:
            return run(args.workflow, output_dir=args.output_dir, overrides=args.overrides)
        finally:
            runtime.release()
    from diffloom.run_command import convert
    return convert(args.workflow)
