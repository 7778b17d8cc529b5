"""The seed notebook's training code ported to Keras 3 as a plain script (the benchmark baseline).

Only the data loading differs from the notebook (``model.data.load_cifar10`` reads the same files as
``audit train``); the network, compile and fit are the notebook's. Prints seconds per epoch; ``--json PATH``
writes them (``seconds_per_epoch``), the test loss and accuracy, the machine and the load average.

    .venv/bin/python bench/seed_keras3.py --data ../shared/datasets/cifar-10-binary.tar.gz --epochs 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Bench, add_options  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="CIFAR-10 binary folder or .tar.gz (default: $AUDIT_DATA)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--limit", type=int, default=None, help="use the first N training and test images")
    parser.add_argument("--probs", default=None, help="also save the test probabilities to this .npy file (untimed)")
    add_options(parser)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    bench = Bench("seed_keras3", args, argv)

    from audit.model.data import load_cifar10, resolve_data_path

    data = load_cifar10(resolve_data_path(args.data))

    # ---- the notebook, ported to Keras 3 (keras.utils.to_categorical, keras.layers.*) ----
    from keras.layers import Activation, Conv2D, Dense, Dropout, Flatten, MaxPooling2D
    from keras.models import Sequential
    from keras.optimizers import RMSprop
    from keras.utils import to_categorical
    import keras

    IMG_CHANNELS = 3
    IMG_ROWS = 32
    IMG_COLS = 32
    BATCH_SIZE = 128
    NB_EPOCH = args.epochs
    NB_CLASSES = 10
    VERBOSE = 1
    VALIDATION_SPLIT = 0.2
    OPTIM = RMSprop()

    (X_train, y_train), (X_test, y_test) = (data.x_train, data.y_train), (data.x_test, data.y_test)
    if args.limit:
        X_train, y_train = X_train[: args.limit], y_train[: args.limit]
        X_test, y_test = X_test[: args.limit], y_test[: args.limit]
    print("X_train shape:", X_train.shape)
    print(X_train.shape[0], "train samples")
    print(X_test.shape[0], "test samples")
    Y_train = to_categorical(y_train, NB_CLASSES)
    Y_test = to_categorical(y_test, NB_CLASSES)
    X_train = X_train.astype("float32")
    X_test = X_test.astype("float32")
    X_train /= 255
    X_test /= 255

    model = Sequential()
    model.add(Conv2D(32, (3, 3), padding="same", input_shape=(IMG_ROWS, IMG_COLS, IMG_CHANNELS)))
    model.add(Activation("relu"))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))
    model.add(Flatten())
    model.add(Dense(512))
    model.add(Activation("relu"))
    model.add(Dropout(0.5))
    model.add(Dense(NB_CLASSES))
    model.add(Activation("softmax"))
    model.summary()

    class EpochSeconds(keras.callbacks.Callback):  # timing only: epoch hooks, no per-batch work
        seconds: list = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    timer = EpochSeconds()
    bench.load("training", echo=False)
    model.compile(loss="categorical_crossentropy", optimizer=OPTIM, metrics=["accuracy"])
    model.fit(X_train, Y_train, batch_size=BATCH_SIZE, epochs=NB_EPOCH, validation_split=VALIDATION_SPLIT,
              verbose=VERBOSE, callbacks=[timer])
    score = model.evaluate(X_test, Y_test, batch_size=BATCH_SIZE, verbose=VERBOSE)
    print("Test score:", score[0])
    print("Test accuracy:", score[1])
    # ---- end of the notebook's code (it then saves the architecture and weights; not timed) ----

    result = {"seconds_per_epoch": timer.seconds, "test_loss": float(score[0]), "test_accuracy": float(score[1])}
    print("seconds per epoch:", ", ".join(f"{s:.2f}" for s in timer.seconds))
    if args.probs:
        import numpy as np

        np.save(args.probs, model.predict(X_test, batch_size=512, verbose=0).astype(np.float32))
    bench.data.update(result, epochs=args.epochs, limit=args.limit)
    bench.table([{"epochs": len(timer.seconds), "s/epoch": ", ".join(f"{s:.2f}" for s in timer.seconds),
                  "test accuracy": round(float(score[1]), 4)}])
    bench.finish()


if __name__ == "__main__":
    main()
