"""The `newswatch` command line. Command names and flags are a contract (issue 2): keep them."""

from __future__ import annotations

import json
import logging
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from flows.cli.feeds import feeds
from flows.cli.freshness import freshness
from flows.cli.migrate import index_migrate
from flows.cli.search import search
from flows.cli.stats import stats
from flows.endpoints import endpoints_of
from infra.embedded_stack import stack_down, stack_status, stack_up
from ingest.common.log_setup import configure_logging
from ingest.common.settings import Settings
from ingest.common.yaml_config import ConfigError


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"NEWSWATCH_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise click.ClickException(f"invalid settings: {problems}") from exc


class _Group(click.Group):
    """Expected failures (invalid config, a server down, a port taken) become one line on
    stderr and a non-zero exit instead of a traceback; `--debug` shows the traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from flows.cli.errors import explain

        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            if ctx.params.get("debug"):
                raise
            click.echo(f"error: invalid config {exc.path}:", err=True)
            for problem in exc.problems:
                click.echo(f"  {problem}", err=True)
            ctx.exit(2)
        except Exception as exc:
            settings = ctx.obj if isinstance(ctx.obj, Settings) else None
            message = explain(exc, settings)
            if message is None or ctx.params.get("debug"):
                raise
            click.echo(f"error: {message}", err=True)
            ctx.exit(1)


# Long-running services log JSON for machines; every other command is typed by a person, who
# wants its output, with only warnings and errors as text on stderr.
_SERVICES = {"run", "serve", "worker"}


@click.group(cls=_Group)
@click.option("--log-level", default=None,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="Override NEWSWATCH_LOG_LEVEL (commands other than run/serve/worker: "
              "WARNING unless set).")
@click.option("--debug", is_flag=True, help="Show the traceback of an error.")
@click.pass_context
def cli(ctx: click.Context, log_level: str | None, debug: bool) -> None:
    """newswatch: feeds -> trafilatura -> Kafka -> enrichment -> Elasticsearch."""
    settings = _settings()
    level, fmt = settings.log_level, settings.log_format
    if ctx.invoked_subcommand not in _SERVICES:
        if "log_level" not in settings.model_fields_set:
            level = "WARNING"
        if "log_format" not in settings.model_fields_set:
            fmt = "text"
    configure_logging(log_level or level, fmt)
    if ctx.invoked_subcommand not in _SERVICES and not debug:
        # The clients' own retry warnings (with tracebacks) say what the one error line says.
        for client in ("elastic_transport", "kafka"):
            logging.getLogger(client).setLevel(logging.CRITICAL)
    ctx.obj = settings


# --- stack -------------------------------------------------------------------------------
@cli.group()
def stack() -> None:
    """The embedded Kafka + Elasticsearch (noida-db) on the configured ports."""


@stack.command("up")
@click.pass_obj
def stack_up_cmd(settings: Settings) -> None:
    endpoints = endpoints_of(settings)
    started = stack_up(endpoints)
    state = "started" if started else "already running"
    click.echo(f"stack {state}: kafka {endpoints.kafka_bootstrap}, elasticsearch "
               f"{endpoints.es_url}, data {endpoints.data_dir}")


@stack.command("down")
@click.pass_obj
def stack_down_cmd(settings: Settings) -> None:
    stopped = stack_down(endpoints_of(settings))
    click.echo("stack stopped (data kept)" if stopped else "stack was not running")


@stack.command("status")
@click.pass_obj
def stack_status_cmd(settings: Settings) -> None:
    for name, value in stack_status(endpoints_of(settings)).items():
        click.echo(f"{name:14} {value}")


# --- ingest ------------------------------------------------------------------------------
@cli.command()
@click.option("--once", is_flag=True, required=True, help="Poll every configured feed once.")
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON.")
@click.pass_obj
def poll(settings: Settings, once: bool, as_json: bool) -> None:
    """Poll feeds, fetch and extract new entries, produce them to Kafka (exit 0 when feeds
    fail: failures are reported, not fatal)."""
    from flows.cli.errors import require_kafka
    from ingest.poll.poll_run import poll_once

    require_kafka(settings)
    report = poll_once(settings)
    if as_json:
        click.echo(json.dumps({"summary": report.summary(),
                               "feeds": [vars(o) for o in report.outcomes]}, default=str))
        return
    for outcome in report.outcomes:
        line = f"{outcome.feed:30} {outcome.result:13}"
        if outcome.result == "error":
            line += f" {outcome.error_kind}: {outcome.error}"
        else:
            line += f" entries={outcome.entries} new={outcome.new_entries} " \
                    f"produced={outcome.produced}"
        click.echo(line)
    summary = report.summary()
    click.echo(f"{summary['feeds']} feeds, {summary['articles_produced']} articles produced, "
               f"{len(report.failed_feeds)} feeds failed, {summary['seconds']}s")


@cli.command()
@click.pass_obj
def serve(settings: Settings) -> None:
    """Register the poll-feeds deployment with the Prefect server and run it on its interval."""
    if settings.metrics_port is not None:  # before anything counts (it may re-execute)
        from ingest.common.metrics_server import in_multiprocess_mode

        in_multiprocess_mode(settings.data_dir / "metrics" / f"poll-runner-{settings.metrics_port}")
    from flows.poll_feeds import serve_poll_feeds
    from ingest.feeds.feeds_config import load_feeds
    from ingest.poll.poll_run import prepare_ingest

    load_feeds(settings.feeds_file)  # refuse to start on an invalid feeds file
    prepare_ingest(settings)
    if settings.metrics_port is not None:
        from ingest.common.es_client import make_es
        from ingest.common.metrics_server import serve_multiprocess_metrics
        from ingest.feeds.feed_metrics import FeedStateCollector

        serve_multiprocess_metrics(
            settings.metrics_port,
            FeedStateCollector(make_es(settings), settings.feeds_index, settings.drift_index,
                               settings.websub_index))
    from ingest.websub.websub_service import websub_running

    with websub_running(settings):  # the WebSub callback, on its own port
        serve_poll_feeds(settings)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False,
                                                                   path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def extract(files: tuple[Path, ...], as_json: bool) -> None:
    """Extract article text from saved HTML files (in the pipeline's supervised process pool,
    so a hostile file ends in a timeout or a memory error, not a hung command)."""
    import gzip

    from ingest.extract.extraction import ExtractionFailed, ExtractorPool

    def read(path: Path) -> bytes:
        raw = path.read_bytes()
        return gzip.decompress(raw) if path.suffix == ".gz" else raw

    failed = 0
    with ExtractorPool(1, warm=False) as pool:  # a few files: no start-up warm-up
        results = pool.map((None, read(path)) for path in files)
        rows = []
        for path, result in zip(files, results, strict=True):
            if isinstance(result, ExtractionFailed):
                failed += 1
                rows.append({"path": str(path), "title": None, "text": "",
                             "error": str(result)})
            else:
                rows.append({"path": str(path), "title": result.title, "text": result.text,
                             "author": result.author, "date": result.date,
                             "language": result.language})
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            click.echo(f"== {row['path']}: {row.get('title') or ''}")
            click.echo(row.get("text") or f"(no text: {row.get('error')})")
    if failed == len(files):
        sys.exit(1)


# --- enrich ------------------------------------------------------------------------------
@cli.command()
@click.option("--until-idle", type=float, default=None, metavar="SECONDS",
              help="Exit 0 after this many seconds without new messages, all committed.")
@click.option("--index", "instance_index", type=int, default=0, show_default=True,
              help="Worker number on this host: part of its stable group instance id.")
@click.option("--keep-membership", is_flag=True,
              help="On a clean stop, keep the partitions reserved for this instance id (a "
              "rolling restart) instead of handing them to the group.")
@click.pass_obj
def worker(settings: Settings, until_idle: float | None, instance_index: int,
           keep_membership: bool) -> None:
    """Run one enrichment worker of the consumer group."""
    from enrich.worker.loop import run_worker

    stats = run_worker(settings, until_idle_s=until_idle, instance_index=instance_index,
                       keep_membership=keep_membership)
    click.echo(f"worker stopped: consumed={stats.consumed} indexed={stats.indexed} "
               f"dead_lettered={stats.dead_lettered}", err=True)


@cli.group()
def dlq() -> None:
    """Dead letters: records the workers could not process."""


@dlq.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--kind", "kinds", multiple=True, help="Only these error kinds.")
@click.option("--all", "show_all", is_flag=True, help="Also the letters already replayed.")
@click.pass_obj
def dlq_list(settings: Settings, as_json: bool, kinds: tuple[str, ...], show_all: bool) -> None:
    """Dead letters waiting for a replay (with --all: the replayed ones too, marked)."""
    from enrich.dlq.dead_letter_admin import read_dead_letters
    from flows.cli.errors import require_kafka

    require_kafka(settings)
    letters = [s for s in read_dead_letters(settings) if not kinds or s.letter.error_kind in kinds]
    shown = [s for s in letters if show_all or s.replay is None]
    for stored in shown:
        letter, replay = stored.letter, stored.replay
        if as_json:
            click.echo(json.dumps({
                "dlq_partition": stored.dlq_partition, "dlq_offset": stored.dlq_offset,
                **letter.model_dump(mode="json", exclude={"value_b64"}),
                "replayed_at": replay.replayed_at.isoformat() if replay else None,
                "replayed_to": replay.to_topic if replay else None,
            }, ensure_ascii=False))
        else:
            mark = (f"  [replayed {replay.replayed_at:%Y-%m-%d %H:%M} to {replay.to_topic}]"
                    if replay else "")
            cause = (f"  {letter.exception} at {letter.raised_at or '?'}"
                     if letter.exception else "")
            click.echo(f"#{stored.dlq_offset} {letter.failed_at:%Y-%m-%d %H:%M:%S} "
                       f"{letter.error_kind:24} {letter.topic}/{letter.partition}@{letter.offset}"
                       f"{cause}  {letter.error[:120]}{mark}")
    if not as_json:
        waiting = sum(1 for s in letters if s.replay is None)
        replayed = len(letters) - waiting
        hint = f", {replayed} replayed" + ("" if show_all else " (--all shows them)")
        click.echo(f"{waiting} dead letters waiting in {settings.dlq_topic}"
                   + (hint if replayed else ""))


@dlq.command("replay")
@click.option("--kind", "kinds", multiple=True, help="Only these error kinds.")
@click.option("--offset", "offsets", type=int, multiple=True, help="Only these DLQ offsets.")
@click.option("--to-topic", default=None, help="Produce here instead of the origin topic.")
@click.option("--again", is_flag=True, help="Also letters that were replayed before.")
@click.pass_obj
def dlq_replay(settings: Settings, kinds: tuple[str, ...], offsets: tuple[int, ...],
               to_topic: str | None, again: bool) -> None:
    """Put dead letters back into their origin topic (their original key and bytes)."""
    from enrich.dlq.dead_letter_admin import read_dead_letters, replay_dead_letters
    from flows.cli.errors import require_kafka

    require_kafka(settings)
    matching = [s for s in read_dead_letters(settings)
                if (not kinds or s.letter.error_kind in kinds)
                and (not offsets or s.dlq_offset in offsets)]
    chosen = [s for s in matching if again or s.replay is None]
    count = replay_dead_letters(settings, chosen, to_topic=to_topic)
    skipped = len(matching) - len(chosen)
    click.echo(f"replayed {count} dead letters"
               + (f", skipped {skipped} replayed before (--again replays them too)"
                  if skipped else ""))
    if count < len(chosen):
        raise click.ClickException(f"{len(chosen) - count} dead letters could not be "
                                   "replayed (see the log); they stay waiting")


@cli.group("index")
def index_group() -> None:
    """The articles index behind its alias."""


@index_group.command("rollover")
@click.option("--now", is_flag=True, help="Roll over whatever the conditions say.")
@click.option("--dry-run", is_flag=True, help="Only say whether a rollover is due.")
@click.pass_obj
def index_rollover(settings: Settings, now: bool, dry_run: bool) -> None:
    """Start a new backing index when the current one is old or large enough (the workers
    also check every NEWSWATCH_ARTICLES_ROLLOVER_CHECK_S)."""
    from enrich.index.index_rollover import RolloverConditions, roll_over
    from ingest.common.es_client import make_es

    conditions = RolloverConditions() if now else RolloverConditions.from_settings(settings)
    if not now and not conditions.enabled:
        raise click.ClickException("every rollover condition is off "
                                   "(NEWSWATCH_ARTICLES_ROLLOVER_*); --now rolls over anyway")
    with make_es(settings) as es:
        result = roll_over(es, settings.articles_alias, conditions, dry_run=dry_run)
        if dry_run and result.old_index:
            import time

            from enrich.index.index_rollover import index_facts

            now_ms = int(time.time() * 1000)
            for line in index_facts(es, result.old_index, now_ms).describe(conditions):
                click.echo(line)
    for condition, met in sorted(result.met.items()):
        click.echo(f"{condition}: {'met' if met else 'not met'}")
    if result.rolled_over:
        click.echo(f"rolled over: {settings.articles_alias} now writes to {result.new_index} "
                   f"(was {result.old_index})")
    elif dry_run and any(result.met.values()):
        click.echo(f"due: a rollover would start {result.new_index}")
    else:
        click.echo(f"not rolled over: {settings.articles_alias} still writes to "
                   f"{result.old_index or 'its current index'}")


@cli.command()
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Only articles published since this date.")
@click.option("--topic", default=None, help="Only articles currently tagged with this topic.")
@click.option("--batch-size", type=int, default=200, show_default=True)
@click.pass_obj
def reprocess(settings: Settings, since: Any, topic: str | None, batch_size: int) -> None:
    """Re-enrich stored articles whose taxonomy version is not the current one (resumable)."""
    from enrich.index.article_index import ArticleIndex
    from enrich.index.reprocess import count_selected
    from enrich.index.reprocess import reprocess as run_reprocess
    from enrich.worker.enricher import Enricher
    from ingest.common.es_client import make_es

    enricher = Enricher.from_settings(settings)
    version = enricher.version
    day = since.date() if since else None
    es = make_es(settings)
    try:
        index = ArticleIndex(es, settings.articles_alias)
        index.ensure()
        selected = count_selected(es, settings.articles_alias, version, since=day, topic=topic)
        with click.progressbar(length=max(1, selected), label="reprocessing", show_pos=True,
                               file=sys.stderr) as bar:
            stats = run_reprocess(es, index, enricher, since=day, topic=topic,
                                  batch_size=batch_size, on_progress=bar.update)
    finally:
        es.close()
    click.echo(f"re-enriched {stats.rewritten} of {stats.selected} articles with taxonomy "
               f"{version.taxonomy}, gazetteer {version.gazetteer}; {len(stats.failed)} failed")
    if stats.failed:
        sys.exit(1)


@cli.group("eval")
def eval_group() -> None:
    """Quality evaluations on the real-world corpora in ../shared/corpora."""


@eval_group.command("tagging")
@click.option("--items", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=Path("../shared/corpora/tagging/items.jsonl"), show_default=True)
@click.option("--refit", is_flag=True,
              help="Refit the topic model on all items and write $NEWSWATCH_CONFIG_DIR/"
                   "topic_model.yaml (the cross-validated scores are printed first).")
@click.option("--l2", type=float, default=None,
              help="L2 penalty of the fits (default: the shipped model's).")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
@click.pass_obj
def eval_tagging(settings: Settings, items: Path, refit: bool, l2: float | None,
                 as_json: bool) -> None:
    """Precision, recall and F1 of the topic tagger per topic and per language: cross-validated
    with folds by source, and the whole-set fit."""
    from enrich.tagging.tagging_eval import (
        cross_validate,
        format_cross_validation,
        run_tagging_eval,
    )
    from enrich.tagging.topic_model import fitted_on_now, write_topic_model
    from enrich.worker.enricher import load_tagger

    tagger = load_tagger(settings.config_dir)
    cv = cross_validate(items, tagger, l2=l2)
    if refit:
        refitted = cv.refit.model_copy(update={"fitted_on": fitted_on_now(
            cv.report.items, cv.rows, items, tagger.taxonomy.version, cv.l2)})
        path = settings.config_dir / "topic_model.yaml"
        write_topic_model(refitted, path)
        click.echo(f"wrote {path} (model {refitted.version})", err=True)
        tagger = load_tagger(settings.config_dir)
    fit = run_tagging_eval(items, tagger)
    if as_json:
        click.echo(json.dumps({"cross_validated": cv.report.summary(), "folds": cv.folds,
                               "fit": fit.summary()}, ensure_ascii=False, indent=2))
    else:
        click.echo(format_cross_validation(cv, fit))


@eval_group.command("extraction")
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=Path("../shared/corpora/pages/trafilatura-eval"), show_default=True)
@click.option("--processes", type=int, default=1, show_default=True)
@click.option("--limit", type=int, default=None, help="Only the first N pages.")
def eval_extraction(corpus: Path, processes: int, limit: int | None) -> None:
    """Precision, recall, F1 and ms/page of the extract stage on the trafilatura corpus."""
    from ingest.extract.extraction_eval import format_extraction_report, run_extraction_eval

    report = run_extraction_eval(corpus, processes=processes, limit=limit)
    click.echo(format_extraction_report(report))


@cli.group()
def alerts() -> None:
    """Alert rules ($NEWSWATCH_CONFIG_DIR/alerts.yaml), and the alerts they fired."""


def _finish(result: Any) -> None:
    if result.output:
        click.echo(result.output)
    sys.exit(result.exit_code)


@alerts.command("validate")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Another rules file than the configured one.")
@click.pass_obj
def alerts_validate(settings: Settings, path: Path | None) -> None:
    """Check the rules file; errors name file, line and field (exit 1)."""
    from enrich.alerts.cli_commands import alerts_validate as validate

    _finish(validate(settings, path))


@alerts.command("list")
@click.pass_obj
def alerts_list(settings: Settings) -> None:
    """Rules, channels, and when each rule last fired."""
    from enrich.alerts.cli_commands import alerts_list as list_rules

    _finish(list_rules(settings))


@alerts.command("test")
@click.argument("rule")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", default=None, help="Fetch and extract this page first.")
@click.option("--text", default=None)
@click.pass_obj
def alerts_test(settings: Settings, rule: str, file: Path | None, url: str | None,
                text: str | None) -> None:
    """Would RULE fire on this input, and on which terms? (exit 0 yes, 1 no, 2 cannot tell)"""
    from enrich.alerts.cli_commands import alerts_test as test_rule
    from enrich.tagging.language import detect_language
    from enrich.worker.enricher import Enricher

    enricher = Enricher.from_settings(settings)

    def enrich(doc: dict[str, Any]) -> dict[str, Any]:
        title, body = doc.get("title") or "", doc.get("text") or ""
        language = doc.get("language") or detect_language(f"{title}\n{body[:2000]}")
        return {**doc, "language": language,
                "topics": enricher.tagger.tag(title, body, language).topics}

    _finish(test_rule(settings, rule, file=file, url=url, text=text,
                      fetch_page=_fetch_page(settings), enrich=enrich))


def _fetch_page(settings: Settings) -> Any:
    def fetch(url: str) -> dict[str, Any]:
        from ingest.extract.extraction import extract_html
        from ingest.fetch.http_fetch import Fetcher, FetchPolicy

        with Fetcher(FetchPolicy.from_settings(settings)) as fetcher:
            page = fetcher.get(url, expect="html")
        extracted = extract_html(page.body, page.url)
        return {"title": extracted.title or "", "text": extracted.text, "url": page.url,
                "language": extracted.language}

    return fetch


@alerts.command("tail")
@click.option("--from-beginning", is_flag=True)
@click.pass_obj
def alerts_tail(settings: Settings, from_beginning: bool) -> None:
    """Follow news.alerts, one line per alert (Ctrl-C stops)."""
    from enrich.alerts.cli_commands import alerts_tail as tail
    from flows.cli.errors import require_kafka

    require_kafka(settings)
    sys.exit(tail(settings, out=click.echo, from_beginning=from_beginning))


@alerts.command("history")
@click.option("--rule", default=None)
@click.option("--limit", type=int, default=20, show_default=True)
@click.pass_obj
def alerts_history(settings: Settings, rule: str | None, limit: int) -> None:
    """Recent alerts with their delivery outcome per channel."""
    from enrich.alerts.cli_commands import alerts_history as history
    from flows.cli.errors import require_elasticsearch

    require_elasticsearch(settings)
    _finish(history(settings, rule=rule, limit=limit))


# --- service -----------------------------------------------------------------------------
@cli.command()
@click.option("--workers", type=int, default=2, show_default=True)
@click.pass_obj
def run(settings: Settings, workers: int) -> None:
    """Start everything (stack, Prefect server, poll deployment, workers); Ctrl-C stops it."""
    from flows.service import run_service

    sys.exit(run_service(settings, workers=workers))


@cli.command()
@click.pass_obj
def status(settings: Settings) -> None:
    """Is the service of this data folder running: its supervisor, children, stack, Prefect
    (exit 0 running, 3 not running, 1 processes left by a killed run)."""
    from flows.service_control import service_status

    report = service_status(settings)
    for line in report.lines:
        click.echo(line)
    sys.exit(report.exit_code)


@cli.command()
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=1), default=180,
              show_default=True, metavar="SECONDS",
              help="How long to wait for a clean stop before killing.")
@click.pass_obj
def stop(settings: Settings, timeout_s: float) -> None:
    """Stop the whole service of this data folder (what `newswatch run` started, or what a
    killed run left behind)."""
    from flows.service_control import stop_running_service

    for line in stop_running_service(settings, timeout_s).lines:
        click.echo(line)


@cli.command()
@click.pass_obj
def demo(settings: Settings) -> None:
    """Offline demo: a local fixture site through the whole pipeline, then search "Idlib"."""
    from flows.demo import run_demo

    sys.exit(run_demo(settings))


def parse_date(value: str) -> date:
    return date.fromisoformat(value)


cli.add_command(feeds)
cli.add_command(freshness)
cli.add_command(search)
index_group.add_command(index_migrate)
cli.add_command(stats)


def main() -> None:
    cli(prog_name="newswatch")


if __name__ == "__main__":
    main()
