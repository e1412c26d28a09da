"""The migrations to run to bring the schema back to the state a backup manifest recorded (a rollback).

Every step goes backwards: the recorded state was applied together once, so none of its migrations
depends on what came after; unapplying an app's later migrations also unapplies, in other apps, what
depends on them, which the recorded state cannot hold either.
"""

from __future__ import annotations


def rollback_plan(*, wanted: dict[str, list[str]], current: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(app, migration or "zero") pairs for ``manage.py migrate <app> <migration>``, in app order.

    ``wanted`` is a manifest's "migrations" (applied leaves per app), ``current`` the database's.
    Apps the manifest does not know (new since) go to "zero". An app with several recorded leaves
    (an unmerged state) is listed once per leaf.
    """
    plan: list[tuple[str, str]] = []
    for app in sorted(current):
        if sorted(current[app]) == sorted(wanted.get(app, [])):
            continue
        plan += [(app, leaf) for leaf in sorted(wanted.get(app, []))] or [(app, "zero")]
    return plan
