"""One command line over the same functions the library and the app use.

    playground library list --text melanoma --sort score
    playground sweep glide-replication-quick --out runs/quick
    playground report-card tiny-offline --quick --out cards/quick
    playground stats report --out report
    playground sweep subgroups-quick --out runs/subgroups && playground stats gaps runs/subgroups
    playground stats study runs/quick && playground stats calibrate runs/quick
    playground refine --subject melanoma --template photo-detailed --rounds 2 --out refined
    playground prefs export --format dpo --out prefs-dpo
    playground judge scans/ --subject cardiomegaly --template xray-short --out judged.csv

(`python -m playground ...` is the same.) Each command module is imported only when its command
runs, so `playground library list` loads no torch. A problem a person can fix is printed as one
sentence with exit status 1; a bad argument, with status 2; anything else as a short sentence with
an id, its traceback written to PLAYGROUND_HOME/logs/playground.log.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from .config import get_settings
from .errors import PlaygroundError, logger, unexpected
from .stores.library import EXPORT_FORMATS, SCORE, SORTS


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one sentence, not a usage dump
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def library_command(args: argparse.Namespace) -> str:
    from .stores.library import Library, pull_from_hub

    library = Library()
    if args.action == "list":
        listing = library.page(args.page, args.limit, args.sort, text=args.text, modality=args.modality,
                               template_id=args.template, model_id=args.model, tag=args.tag)
        if not listing.total:
            return "No records."
        columns = ["id", "votes", SCORE, "subject", "template_id", "model_id", "prompt"]
        return f"{listing.frame[columns].to_string(index=False)}\n{listing.where}"
    if args.action == "export":
        return f"Wrote {library.export(args.path, args.format)}"
    if args.action == "import":
        added, merged = library.import_jsonl(args.path)
        return f"Added {added} records, merged {merged} already known."
    added, merged = pull_from_hub()
    return f"Added {added} records from the Hub, merged {merged} already known."


def sweep_command(args: argparse.Namespace) -> str:
    from .research.sweep import load_study, sweep

    frame = sweep(load_study(args.study, args.reduced), args.out)
    if frame is None:  # another process of an `accelerate launch` merged the table
        return ""
    return f"{len(frame)} images; table: {args.out / 'results.parquet'} and results.csv"


def stats_command(args: argparse.Namespace) -> str:
    from . import stats

    path = args.path or get_settings().original_study
    ratings = stats.read_ratings(path, args.sheet)
    observers = stats.read_observers(path) if path.suffix == ".xlsx" else None
    files = stats.report(ratings, args.out, observers).files
    summary = stats.summarize(ratings).pivot(index="category", columns="aspect", values=["median", "iqr"])
    return f"{summary.to_string()}\n\nWrote {len(files)} files to {args.out}/ (open report.html)"


def refine_command(args: argparse.Namespace) -> str:
    from .catalog.templates import load_templates
    from .workflow.compare import Judges
    from .workflow.refine import Start, refine, why_stopped

    args.out.mkdir(parents=True, exist_ok=True)
    start = Start.drawn(args.subject, args.template, args.model or get_settings().model, load_templates(), args.seed)
    judges = Judges(args.scorer or get_settings().scorer, vlm_id=None if args.judge == "none" else args.judge)
    *_, trajectory = refine(start, judges, args.rounds, args.candidates, args.strength, folder=args.out)
    kept = trajectory[trajectory["kept"]].iloc[-1]
    return (f"{len(trajectory)} images in {trajectory['round'].max() + 1} rounds; kept checklist score "
            f"({kept['checklist_column']} by {kept['checklist_by']}) {trajectory['checklist_score'].iloc[0]:.3f} -> "
            f"{kept['checklist_score']:.3f} (round {kept['round']}). {why_stopped(trajectory, args.rounds)}\n"
            f"Trajectory: {args.out / 'trajectory.csv'}")


def prompt_search_command(args: argparse.Namespace) -> str:
    from .workflow.compare import Judges
    from .workflow.prompt_search import search

    args.out.mkdir(parents=True, exist_ok=True)
    judges = Judges(args.scorer or get_settings().scorer, vlm_id=None if args.judge == "none" else args.judge)
    found = search(args.subject, args.template, args.model or get_settings().model, judges, args.budget,
                   seed=args.seed, folder=args.out, log=not args.no_log)
    logged = f"; logged to the library as record #{found.record_id}" if found.record_id else ""
    return (f"Best prompt: {found.best_prompt}\nSearch seeds: {found.start_score:.3f} -> {found.best_score:.3f}; "
            f"held-out seeds: {found.held_out_start:.3f} -> {found.held_out_best:.3f} (gain {found.gain:+.3f}){logged}.\n"
            f"Every step: {args.out / 'search.csv'}")


def judge_command(args: argparse.Namespace) -> str:
    from tqdm.auto import tqdm

    from .workflow.compare import Judges
    from .workflow.judge_files import collect, judge_files

    off = lambda value: None if value == "none" else value
    judges = Judges(args.scorer or get_settings().scorer, off(args.medical_scorer), off(args.domain_scorer),
                    off(args.judge))
    files = collect(args.paths)
    with tqdm(total=len(files), unit="file", desc="Judging", delay=1) as bar:  # no bar before a quick refusal
        judged = judge_files(files, args.subject, judges, args.prompt, args.template, out=args.out,
                             batch_size=args.batch_size, progress=lambda done, _total, _what: bar.update(done - bar.n))
    skipped = "".join(f"\nSkipped: {reason}" for reason in judged.skipped)
    by = ", ".join(judge.id for judge in judges.judges)
    return f"Judged {len(judged.frame)} images ({by}); table: {judged.table}{skipped}"


def gaps_command(args: argparse.Namespace) -> str:
    from . import gaps

    frame, folder = gaps.read_results(args.run)
    table = gaps.gaps(frame)
    if table.empty:
        raise PlaygroundError(f"{args.run} has no images drawn for patient subgroups (no `subgroup` values): sweep a "
                              "study with `demographics: true`, or draw a Compare grid with Patient subgroups on.")
    out = args.out or folder / "gaps"
    files = gaps.write(table, out)
    return f"{gaps.gap_summary(table).to_string(index=False)}\n\nWrote {', '.join(f.name for f in files)} to {out}/"


def study_command(args: argparse.Namespace) -> str:
    from .research import calibration
    from .research.study import RatingSession

    session = RatingSession(args.run)
    written, checklist = session.report(), calibration.report(session)
    table = f"\n{checklist.table.round(3).to_string(index=False)}\n" if len(checklist.table) else ""
    return f"{written.note}\n\n{checklist.note}\n{table}\nWrote the report to {args.run / 'report'}/"


def calibrate_command(args: argparse.Namespace) -> str:
    from .research import calibration
    from .research.study import RatingSession

    stored = calibration.calibrate(RatingSession(args.run))
    if not stored:
        raise PlaygroundError(f"{args.run} has no checklist criterion that raters answered both yes and no beside a "
                              "judge's P(yes): nothing to calibrate yet (a study file's `checklist: true` asks them).")
    fitted = "\n".join(f"  {c.judge} ({c.model}) {c.criterion}: {c.n} answers" for c in stored)
    return f"Stored {len(stored)} calibration(s) in {get_settings().calibrations_path}:\n{fitted}"


def report_card_command(args: argparse.Namespace) -> str:
    from .research.report_card import write_report_cards

    page = write_report_cards(args.models, args.out, args.quick)
    return f"Wrote {page}" if page else ""  # another process of an `accelerate launch` drew its share


def prefs_command(args: argparse.Namespace) -> str:
    from .research.prefs import export

    folder, count = export(args.format, args.out)
    return f"Wrote {count} preference pairs ({args.format}) to {folder}"


def _library_parser(commands) -> None:
    library = commands.add_parser("library", help="the shared prompt library: list, export, import, pull")
    library.set_defaults(handler=library_command)
    actions = library.add_subparsers(dest="action", required=True, parser_class=_Parser)
    listing = actions.add_parser("list", help="print records as a table")
    listing.add_argument("--text", default="", help="substring of prompt, subject, note or tags")
    for name in ("--modality", "--template", "--model", "--tag"):
        listing.add_argument(name, default="")
    listing.add_argument("--sort", default="votes", choices=list(SORTS))
    listing.add_argument("--limit", type=int, default=20, help="records per page (at most 100)")
    listing.add_argument("--page", type=int, default=1, help="which page (1 = the first)")
    exporting = actions.add_parser("export", help="write every record to a file")
    exporting.add_argument("path", type=Path, help="output file; its suffix picks the format")
    exporting.add_argument("--format", choices=EXPORT_FORMATS, default=None)
    importing = actions.add_parser("import", help="merge a JSONL export")
    importing.add_argument("path", type=Path)
    actions.add_parser("pull", help="merge the records of LIBRARY_HUB_REPO")


def _drawing_arguments(parser: argparse.ArgumentParser, template_help: str, out_help: str) -> None:
    """What refine and prompt-search share: what to draw, on which model, judged by what, where to."""
    parser.add_argument("--subject", required=True, help="the medical subject, e.g. melanoma")
    parser.add_argument("--template", required=True, help=template_help)
    parser.add_argument("--model", default=None, help="a model id (default: PLAYGROUND_MODEL)")
    parser.add_argument("--judge", default=get_settings().judge,
                        help="the checklist judge (a vision-language model id), or 'none' for CLIP's checklist "
                        "(default: PLAYGROUND_JUDGE)")
    parser.add_argument("--scorer", default=None, help="the general CLIP (default: PLAYGROUND_SCORER)")
    parser.add_argument("--out", type=Path, required=True, help=out_help)


def _judge_parser(commands) -> None:
    judging = commands.add_parser("judge", help="judge any images (PNG, JPEG, WebP files or folders) as Compare does")
    judging.set_defaults(handler=judge_command)
    judging.add_argument("paths", nargs="+", type=Path, help="image files, or folders of them (not entered further)")
    judging.add_argument("--subject", required=True, help="the medical subject the images should show, e.g. melanoma")
    judging.add_argument("--prompt", default="", help="what to judge every image against (default: a PNG's own "
                         "prompt, else the template filled with the subject, else the subject)")
    judging.add_argument("--template", default="", help="the kind of image, e.g. xray-short: its modality picks the "
                         "checklist and the x-ray classifier; its prompt is the fallback")
    judging.add_argument("--scorer", default=None, help="the general CLIP (default: PLAYGROUND_SCORER)")
    judging.add_argument("--medical-scorer", default=get_settings().medical_scorer,
                         help="the medical CLIP, or 'none' (default: PLAYGROUND_MEDICAL_SCORER)")
    judging.add_argument("--domain-scorer", default="auto",
                         help="'auto' (the domain CLIP of each image's modality), a scorer id, or 'none'")
    judging.add_argument("--judge", default=get_settings().judge,
                         help="the checklist judge (a vision-language model id), or 'none' (default: PLAYGROUND_JUDGE)")
    judging.add_argument("--batch-size", type=int, default=16, help="images read and judged together")
    judging.add_argument("--out", type=Path, required=True, help="the results table: .csv or .parquet")


def _research_parsers(commands) -> None:
    sweep = commands.add_parser("sweep", help="generate and judge a study file's grid, resumably")
    sweep.set_defaults(handler=sweep_command)
    sweep.add_argument("study", help="a study file, or the name of a shipped one (e.g. glide-replication-quick)")
    sweep.add_argument("--out", type=Path, required=True, help="run folder (created; reused to resume)")
    sweep.add_argument("--reduced", action="store_true", help="2 subjects, 2 templates, 2 seeds, 2 steps")

    card = commands.add_parser("report-card", help="the original study's protocol through every judge, as one HTML "
                               "page (two models: side by side); resumable, and `accelerate launch` spreads it")
    card.set_defaults(handler=report_card_command)
    card.add_argument("models", nargs="+", metavar="MODEL", help="one model id, or two to compare side by side")
    card.add_argument("--quick", action="store_true", help="a cut for a CPU: 2 subject phrasings, 2 styles, 1 seed, "
                      "2 steps (4 with CLIP guidance)")
    card.add_argument("--out", type=Path, required=True, help="folder for index.html, its assets and the runs "
                      "(reused to resume)")

    prefs = commands.add_parser("prefs", help="preference pairs for fine-tuning (MAGIC, Diffusion-DPO)")
    prefs.set_defaults(handler=prefs_command)
    prefs_actions = prefs.add_subparsers(dest="action", required=True, parser_class=_Parser)
    prefs_export = prefs_actions.add_parser("export", help="write every pair from votes, ratings and judges")
    prefs_export.add_argument("--format", choices=["magic", "dpo"], required=True)
    prefs_export.add_argument("--out", type=Path, required=True, help="output folder")

    stats = commands.add_parser("stats", help="statistics of expert ratings")
    stats.set_defaults(handler=stats_command)
    reports = stats.add_subparsers(dest="action", required=True, parser_class=_Parser)
    report = reports.add_parser("report", help="medians, IQRs, tests and plots of a ratings table")
    report.add_argument("path", type=Path, nargs="?", default=None,
                        help="ratings: an XLSX in the original study's layout or a CSV (default: the original study)")
    report.add_argument("--sheet", default="matrix_nonsensical_as_zero", help="XLSX sheet to read")
    report.add_argument("--out", type=Path, default=Path("report"))
    gaps = reports.add_parser("gaps", help="every judge's mean per patient subgroup and the largest gap (CSV, PNG)")
    gaps.set_defaults(handler=gaps_command)
    gaps.add_argument("run", type=Path, help="a sweep's run folder, or a results table (.parquet or .csv)")
    gaps.add_argument("--out", type=Path, default=None, help="output folder (default: gaps/ beside the table)")
    study = reports.add_parser("study", help="a rated run's report: ratings, judge agreement, checklist calibration")
    study.set_defaults(handler=study_command)
    study.add_argument("run", type=Path, help="a sweep's run folder with its ratings")
    calibrate = reports.add_parser("calibrate", help="fit and store each checklist judge's calibration per criterion")
    calibrate.set_defaults(handler=calibrate_command)
    calibrate.add_argument("run", type=Path, help="a sweep's run folder whose raters answered the checklist")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="playground", description="Medical text-to-image prompt playground: the command line.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _library_parser(commands)

    refining = commands.add_parser("refine", help="MAGIC's loop: refine an image with its failed criteria as feedback")
    refining.set_defaults(handler=refine_command)
    _drawing_arguments(refining, "the template of the start image, e.g. photo-detailed",
                       "folder for the images and trajectory.csv")
    refining.add_argument("--rounds", type=int, default=3, help="rounds at most (stops early when all pass or none improves)")
    refining.add_argument("--candidates", type=int, default=4, help="image-to-image candidates per round")
    refining.add_argument("--strength", type=float, default=0.3, help="image-to-image strength (MAGIC: 0.3)")
    refining.add_argument("--seed", type=int, default=0, help="seed of the start image")

    searching = commands.add_parser("prompt-search", help="hill-climb a template's prompt on the checklist score")
    searching.set_defaults(handler=prompt_search_command)
    _drawing_arguments(searching, "the starting template, e.g. photo-detailed",
                       "folder for search.csv and the held-out images")
    searching.add_argument("--budget", type=int, default=16, help="images to draw in the search, at most")
    searching.add_argument("--seed", type=int, default=0, help="seeds the choice of mutations")
    searching.add_argument("--no-log", action="store_true", help="do not log the best prompt to the library")

    _judge_parser(commands)
    _research_parsers(commands)
    return parser


def _log_to_file() -> None:
    """Tracebacks of unexpected errors go to a file, not the terminal."""
    try:
        path = get_settings().log_path
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    logger.addHandler(handler)
    logger.propagate = False


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], str] = args.handler
    try:
        output = handler(args)
    except (PlaygroundError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: a short sentence here, the traceback in the log
        _log_to_file()
        print(f"error: {unexpected(exc)} See {get_settings().log_path}.", file=sys.stderr)
        return 1
    if output:
        print(output)
    return 0
