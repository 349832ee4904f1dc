"""`newswatch index migrate`: move stored articles onto the current articles mapping.

Registered under `newswatch index` (flows/cli/main.py). What it does and why it is safe while the
service runs is in enrich/index/mapping_migration.py; here: progress for people, and a rerun after
an interruption continues where it stopped.
"""

from __future__ import annotations

import sys

import click

from flows.cli.search import elasticsearch_for
from ingest.common.settings import Settings


@click.command("migrate")
@click.option("--batch-size", type=click.IntRange(1, 5000), default=500, show_default=True)
@click.option("--dry-run", is_flag=True, help="Only say how many articles wait to be moved.")
@click.pass_obj
def index_migrate(settings: Settings, batch_size: int, dry_run: bool) -> None:
    """Reindex articles stored under an older mapping into the current write index, behind
    the alias (searches keep answering; resumable)."""
    from enrich.index.article_index import ArticleIndex, articles_template
    from enrich.index.mapping_migration import migrate, pending, template_version

    template = articles_template(settings.articles_alias, 1, 0)
    with elasticsearch_for(settings) as es:
        if not es.indices.exists_alias(name=settings.articles_alias):
            click.echo(f"nothing to migrate: no {settings.articles_alias} yet")
            return
        ArticleIndex(es, settings.articles_alias).ensure()  # installs the template, rolls over
        waiting = pending(es, settings.articles_alias, template)
        total = sum(waiting.values())
        version = template_version(template)
        if not waiting:
            click.echo(f"nothing to migrate: every index is on mapping v{version}")
            return
        for name, count in waiting.items():
            click.echo(f"{name}: {count} articles on an older mapping")
        if dry_run:
            return
        with click.progressbar(length=total, label=f"migrating to mapping v{version}",
                               show_pos=True, file=sys.stderr) as bar:
            stats = migrate(es, settings.articles_alias, template, batch_size=batch_size,
                            progress=bar.update)
    click.echo(f"migrated {stats.deleted} articles (copied {stats.copied}, a newer copy kept "
               f"for {stats.kept_newer}); dropped {', '.join(stats.dropped_indices or []) or '-'}")
