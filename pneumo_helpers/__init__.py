"""Tested helper code for the Pneumo Course.

One module per idea: ``config`` (profiles, paths, seeds), ``data`` (download, verify,
load, tf.data pipelines), ``models``, ``training``, ``evaluation`` and ``plots``.
TensorFlow is imported only by the modules that need it, so ``config`` and ``data``
stay quick to import.
"""

__version__ = "0.2.0"

#: The course's repository. The single source of truth is ``repository.url`` in
#: ``_config.yml``; a test checks that this value and every notebook's setup cell agree.
REPOSITORY_URL = "https://github.com/pneumo-course/pneumo-course"
