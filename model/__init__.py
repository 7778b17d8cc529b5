"""The seed CIFAR-10 network: load the dataset, train, save and load the model, turn it into Predictions.

Importing this package is cheap; TensorFlow is imported only when a model is built, trained or loaded
(see :mod:`model.quiet`).
"""
