"""``audit train``: train the seed CIFAR-10 network as the notebook does and save every artefact."""

from __future__ import annotations

from pathlib import Path

import click

from audit.commands.options import batch_size_option, data_option, out_option

EPILOG = """\b
Examples:
  audit train --data ../shared/datasets/cifar-10-binary.tar.gz
  AUDIT_DATA=~/data/cifar-10-batches-bin audit train --epochs 5 --out models/try5
  audit train --data cifar-10-binary.tar.gz --epochs 1 --limit 500 --out /tmp/quick
  audit train --data cifar-10-binary.tar.gz --fast --out models/fast

\b
Without --data and AUDIT_DATA the images are downloaded by keras.datasets.cifar10 (needs internet).
Archives are extracted once into the cache ($AUDIT_CACHE, else $XDG_CACHE_HOME/audit, else ~/.cache/audit).
Writes cifar10_architecture.json, cifar10.weights.h5, cifar10.keras, history.json,
validation_indices.npy and manifest.json (sha256 of every file, settings, versions, timings, scores).
--fast trains the same network with the same hyper-parameters in mixed bfloat16 (float32 weights and
output probabilities), from a one-thread tf.data pipeline, with RMSprop's update in TensorFlow's fused
kernel: about half the seed's time per epoch on 2 cores with AVX-512 BF16 (see BENCHMARKS.md).
When stdout is not a terminal, progress is one line per epoch instead of an animated bar.
"""


@click.command("train", epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@data_option(param="data_path", help="CIFAR-10 binary folder or .tar.gz [default: $AUDIT_DATA, else download via Keras]")
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True, help="Training epochs.")
@batch_size_option(default=128, help="Batch size.")
@click.option("--seed", type=click.IntRange(min=0), default=42, show_default=True,
              help="Seed for the shuffle, the weights and dropout.")
@click.option("--limit", type=click.IntRange(min=1), default=None, metavar="N",
              help="Train on a random N of the training images (20% of them held out for validation) "
                   "and test on the first min(N, 10000) test images: for quick runs.")
@out_option(param="out_dir", help="Model folder [default: models/cifar10-seed in the repository]")
@click.option("--fast", is_flag=True, default=False,
              help="Mixed bfloat16, a one-thread tf.data pipeline and a fused RMSprop update: faster, "
                   "most on CPUs with bfloat16 support; recorded in the manifest.")
def train(data_path: str | None, epochs: int, batch_size: int, seed: int, limit: int | None,
          out_dir: Path | None, fast: bool) -> None:
    """Train and save the seed CIFAR-10 network, exactly as the seed notebook trains it.

    Prints the model summary, a progress bar per epoch and the test loss and accuracy as the
    notebook does.
    """
    from audit.extras import require

    require("tensorflow", "keras", what="`audit train`")
    from audit.model.artifacts import check_out_dir, default_model_dir
    from audit.model.data import load_cifar10, resolve_data_path
    from audit.model.train import train as run_training

    out_dir = check_out_dir(out_dir or default_model_dir())
    data = load_cifar10(resolve_data_path(data_path))
    result = run_training(data, epochs=epochs, batch_size=batch_size, seed=seed, limit=limit, out_dir=out_dir,
                          fast=fast)
    click.echo(f"Saved model to {result.out_dir}")
