"""Build hook: the installed package carries the course files its pages read.

The results page and the instructor guide read ``_toc.yml``, ``benchmarks/*.json`` and the
chapters. In a checkout they read them in place; installed elsewhere (Colab, a rehearsal)
they read the copies this hook puts into ``pneumo_helpers/_course`` of the built package
(see ``pneumo_helpers.course.repository_file``). Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
COURSE_FILES = ("_toc.yml", "_config.yml", "benchmarks/*.json", "chapters/*.ipynb")


class build_py_with_course_files(build_py):  # noqa: N801 - setuptools' naming
    def run(self):
        super().run()
        target = Path(self.build_lib) / "pneumo_helpers" / "_course"
        for pattern in COURSE_FILES:
            for source in sorted(ROOT.glob(pattern)):
                destination = target / source.relative_to(ROOT)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, destination)


setup(cmdclass={"build_py": build_py_with_course_files})
