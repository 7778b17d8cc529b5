"""Processes that write to one history database at once (importable by spawned children)."""

from __future__ import annotations

import time
import traceback


def write_runs(url: str, worker: int, n_runs: int, barrier, results) -> None:
    """Record ``n_runs`` runs after every worker reached ``barrier``; put (worker, ids, errors) on ``results``."""
    from audit.history import HistoryStore
    from audit.result.write import dump_json
    from helpers.history_fixtures import result

    store = HistoryStore(url, create=True)
    ids, errors = [], []
    barrier.wait()
    for i in range(n_runs):
        r = result(f"model-{worker}", accuracy=round(0.5 + (worker * n_runs + i) / 1000, 6))
        try:
            ids.append(store.record_run(r, audit_json_text=dump_json(r)))
        except Exception:  # every failure is counted, none hidden
            errors.append(traceback.format_exc(limit=3))
    store.close()
    results.put((worker, ids, errors))


def write_forever(url: str, n_classes: int = 400) -> None:
    """Record large runs in a loop until killed."""
    from audit.history import HistoryStore
    from helpers.history_fixtures import result

    store = HistoryStore(url, create=True)
    r = result("killed")
    r["per_class"] = [dict(r["per_class"][0], **{"class": f"c{k}", "index": k}) for k in range(n_classes)]
    while True:
        store.record_run(r, audit_json_text=str(time.time()))
