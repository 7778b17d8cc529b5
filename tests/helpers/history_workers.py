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


def open_new_databases(folder: str, n_databases: int, barrier, results) -> None:
    """Open ``n_databases`` new SQLite files in ``folder``, each at the same moment as the other workers (the
    first connections race to switch the file to WAL); put the failures on ``results``."""
    from audit.history.engine import make_engine

    errors = []
    for i in range(n_databases):
        barrier.wait()
        engine = make_engine(f"sqlite:///{folder}/h{i}.sqlite")
        try:
            with engine.connect() as conn:
                mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
                if mode != "wal":
                    errors.append(f"h{i}.sqlite: journal mode {mode}")
        except Exception as exc:  # every failure is counted, none hidden
            errors.append(f"h{i}.sqlite: {exc}")
        engine.dispose()
    results.put(errors)
