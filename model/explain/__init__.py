"""Saliency maps for the gallery of confident mistakes, and the sanity checks that say whether to believe them.

:mod:`~audit.model.explain.gradcam` (Keras models with a convolutional layer), :mod:`~audit.model.explain.occlusion`
(any model), :mod:`~audit.model.explain.maps` (pooling, scaling, PNGs), :mod:`~audit.model.explain.sanity`
(randomisation and deletion checks) and :mod:`~audit.model.explain.section` (the ``explanations`` section of
audit.json). Nothing here imports TensorFlow at import time.
"""
