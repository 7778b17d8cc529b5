"""Milliseconds per training step of the seed network, one lever of ``audit train --fast`` at a time.

Each configuration runs in a fresh process on the same random uint8 images (batch 128, ``--steps``
steps per epoch, ``--epochs`` epochs; the first epoch, which traces the graph, is left out) and
prints every epoch's ms/step, so a bimodal run shows itself:

- ``seed``: float32, ``fit`` on numpy arrays (Keras's own autotuned ``tf.data`` pipeline), as the notebook;
- ``f32-pipeline``: float32 from ``model.train.image_dataset`` (one private thread, no autotuning);
- ``bf16-autotuned``: ``mixed_bfloat16`` from the same pipeline with tf.data's defaults (autotuning, one
  thread per core) — the fast mode before the pipeline fix;
- ``bf16-pipeline``: ``mixed_bfloat16`` from ``image_dataset``;
- ``fast``: ``bf16-pipeline`` plus RMSprop through TensorFlow's fused kernel — what ``--fast`` runs.

With ``--parts``, one process per precision also times the pieces of a step on fixed tensors (a
``tf.function`` each): forward, forward + backward, the optimizer update (Keras's and fused) and the
whole step.

    .venv/bin/python bench/train_steps.py                 # about 4 minutes on 2 cores
    .venv/bin/python bench/train_steps.py --parts

``--json PATH`` writes every epoch's ms/step per configuration (``configs``; or the parts' ms, ``parts``)
with the load average before each configuration's process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from common import Bench, add_options  # noqa: E402

CONFIGS = ("seed", "f32-pipeline", "bf16-autotuned", "bf16-pipeline", "fast")
BATCH = 128


def child(config: str, steps: int, epochs: int) -> None:
    import numpy as np

    from audit.model.optimizer import fuse_rmsprop, make_optimizer
    from audit.model.quiet import import_keras, quiet_stderr
    from audit.model.train import LOSS, POLICY_DEFAULT, POLICY_FAST, epoch_timer, image_dataset, precision_policy

    keras = import_keras()
    import tensorflow as tf

    from audit.model.network import make_model

    rng = np.random.default_rng(0)
    n = BATCH * steps
    x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, n)
    timer = epoch_timer(keras)  # the callback audit train times its epochs with

    keras.utils.set_random_seed(0)
    with precision_policy(POLICY_DEFAULT if config.startswith(("seed", "f32")) else POLICY_FAST), quiet_stderr():
        model = make_model()
        optimizer = make_optimizer(keras)
        model.compile(loss=LOSS, optimizer=optimizer, metrics=["accuracy"])
        if config == "fast":
            fuse_rmsprop(optimizer, model.trainable_variables)
        if config == "seed":
            model.fit(x.astype("float32") / 255, keras.utils.to_categorical(y, 10), batch_size=BATCH,
                      epochs=epochs, verbose=0, callbacks=[timer])
        else:
            if config == "bf16-autotuned":  # tf.data's defaults: autotuning, one thread per core
                ds = (tf.data.Dataset.from_tensor_slices((x, y.astype("int32"))).shuffle(n, seed=0)
                      .batch(BATCH)
                      .map(lambda a, b: (tf.cast(a, tf.float32) / 255.0, tf.one_hot(b, 10)),
                           num_parallel_calls=tf.data.AUTOTUNE)
                      .prefetch(tf.data.AUTOTUNE))
            else:
                ds = image_dataset(x, y, batch_size=BATCH, shuffle_seed=0)
            model.fit(ds, epochs=epochs, verbose=0, callbacks=[timer])
    print(json.dumps({"config": config, "ms_per_step": [1000 * s / steps for s in timer.seconds]}))


def parts_child(policy: str) -> None:
    from audit.model.optimizer import fuse_rmsprop, make_optimizer
    from audit.model.quiet import import_keras
    from audit.model.train import precision_policy

    keras = import_keras()
    import tensorflow as tf

    from audit.model.network import make_model

    def best_ms(fn, *args, n=30, rounds=5):
        fn(*args)
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(n):
                out = fn(*args)
            tf.nest.map_structure(lambda t: t.numpy(), out)
            times.append((time.perf_counter() - start) / n * 1000)
        return min(times)

    out = {"policy": policy}
    with precision_policy(policy):
        x = tf.random.uniform((BATCH, 32, 32, 3), seed=1)
        y = tf.one_hot(tf.random.uniform((BATCH,), 0, 10, tf.int32, seed=2), 10)
        loss = keras.losses.CategoricalCrossentropy()
        for fused in (False, True):
            model = make_model()
            model.build((None, 32, 32, 3))
            optimizer = make_optimizer(keras)
            if fused:
                fuse_rmsprop(optimizer, model.trainable_variables)
            else:
                optimizer.build(model.trainable_variables)

            @tf.function
            def forward(x):
                return model(x, training=True)

            @tf.function
            def gradients(x, y):
                with tf.GradientTape() as tape:
                    value = loss(y, model(x, training=True))
                return tape.gradient(value, model.trainable_variables)

            @tf.function
            def update(grads):
                optimizer.apply_gradients(zip(grads, model.trainable_variables))
                return tf.constant(0)

            @tf.function
            def step(x, y):
                with tf.GradientTape() as tape:
                    value = loss(y, model(x, training=True))
                optimizer.apply_gradients(zip(tape.gradient(value, model.trainable_variables),
                                              model.trainable_variables))
                return value

            kind = "fused" if fused else "keras"
            if not fused:
                out["forward"] = best_ms(forward, x)
                out["forward_backward"] = best_ms(gradients, x, y)
            out[f"update_{kind}"] = best_ms(update, gradients(x, y))
            out[f"step_{kind}"] = best_ms(step, x, y)
    print(json.dumps(out))


def run_child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    parser.add_argument("--parts", action="store_true", help="time the pieces of one step instead")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--parts-child", help=argparse.SUPPRESS)
    add_options(parser)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.steps, args.epochs)
    if args.parts_child:
        return parts_child(args.parts_child)
    bench = Bench("train_steps", args, argv)
    bench.data.update(steps=args.steps, epochs=args.epochs, batch=BATCH)

    print(f"{os.cpu_count()} cores, load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if args.parts:
        print("| precision | forward | forward + backward | update, Keras | update, fused | step, Keras "
              "| step, fused |\n|---|---:|---:|---:|---:|---:|---:|")
        parts = bench.setdefault("parts", [])
        for policy in ("float32", "mixed_bfloat16"):
            bench.load(policy, echo=False)
            r = run_child(["--parts-child", policy])
            parts.append(r)
            print(f"| {policy} | {r['forward']:.1f} | {r['forward_backward']:.1f} | {r['update_keras']:.1f} "
                  f"| {r['update_fused']:.1f} | {r['step_keras']:.1f} | {r['step_fused']:.1f} |")
        print("(ms per call, best of 5 rounds of 30; batch 128)" + bench.marked())
        bench.table([{"precision": r["policy"], **{k: round(v, 2) for k, v in r.items() if k != "policy"}}
                     for r in parts])
        bench.finish()
        return
    print(f"| configuration | ms/step, epochs 2..{args.epochs} | mean | ratio vs seed |\n|---|---|---:|---:|")
    seed_mean = None
    rows = bench.setdefault("configs", [])
    for config in args.configs:
        bench.load(config, echo=False)
        ms = run_child(["--child", config, "--steps", str(args.steps), "--epochs", str(args.epochs)])["ms_per_step"][1:]
        mean = statistics.fmean(ms)
        seed_mean = mean if config == "seed" else seed_mean
        ratio = f"{mean / seed_mean:.2f}" if seed_mean else "n/a"
        print(f"| {config} | {' '.join(f'{v:.1f}' for v in ms)} | {mean:.1f} | {ratio} |", flush=True)
        rows.append({"config": config, "ms_per_step": ms, "mean_ms": mean,
                     "ratio_vs_seed": mean / seed_mean if seed_mean else None})
    if bench.marked():
        print(bench.marked().strip())
    bench.table([{"configuration": r["config"], "ms/step, epochs 2..N": " ".join(f"{v:.1f}" for v in r["ms_per_step"]),
                  "mean": round(r["mean_ms"], 2),
                  "ratio vs seed": round(r["ratio_vs_seed"], 3) if r["ratio_vs_seed"] else "n/a"} for r in rows])
    bench.finish()


if __name__ == "__main__":
    main()
