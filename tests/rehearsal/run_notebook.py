"""Execute one notebook top to bottom and write what happened as JSON.

Usage: python run_notebook.py NOTEBOOK REPORT.json TIMEOUT. Run by the rehearsals with the
rehearsed environment's own Python, so that the kernel is that environment's. It imports
only nbclient and nbformat (both on Colab), never the course's package.
"""

import json
import os
import re
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def text_of(outputs) -> str:
    parts = []
    for output in outputs:
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif output.get("output_type") == "error":
            parts.append("\n".join(output.get("traceback", [])))
        elif "text/plain" in output.get("data", {}):
            parts.append(output["data"]["text/plain"])
    return ANSI.sub("", "".join(parts))


def use_this_python_as_kernel(folder: str) -> None:
    """Make kernel "python3" this interpreter, whatever kernels the machine has elsewhere."""
    spec = os.path.join(folder, "kernels", "python3")
    os.makedirs(spec, exist_ok=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    with open(os.path.join(spec, "kernel.json"), "w") as handle:
        json.dump({"argv": argv, "display_name": "rehearsal", "language": "python"}, handle)
    os.environ["JUPYTER_PATH"] = folder


def main(path: str, report: str, timeout: str) -> int:
    use_this_python_as_kernel(os.path.join(os.path.dirname(os.path.abspath(report)), "jupyter"))
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=int(timeout), kernel_name="python3", allow_errors=False
    )
    start = time.perf_counter()
    outcome = {"ok": True, "cell": None, "source": "", "error": "", "outputs": ""}
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as error:
        code = [c for c in notebook.cells if c.cell_type == "code"]
        failed = next(
            (
                i
                for i, c in enumerate(code)
                if any(o.get("output_type") == "error" for o in c.outputs)
            ),
            None,
        )
        if failed is None:  # a timeout leaves no error output: the last cell that started
            failed = max(
                (i for i, c in enumerate(code) if c.get("outputs") or c.get("execution_count")),
                default=0,
            )
        cell = code[failed]
        name = getattr(error, "ename", type(error).__name__)
        outcome = {
            "ok": False,
            "cell": failed,
            "source": "\n".join(cell.source.splitlines()[:8]),
            "error": f"{name}: {getattr(error, 'evalue', error)}"[:2000],
            "outputs": text_of(cell.outputs)[-4000:],
        }
    outcome["seconds"] = time.perf_counter() - start
    code = [c for c in notebook.cells if c.cell_type == "code"]
    outcome["setup_output"] = text_of(code[0].outputs) if code else ""
    first = next((c for c in code[1:] if c.get("outputs")), None)
    outcome["first_output"] = text_of(first.outputs) if first is not None else ""
    nbformat.write(notebook, path)  # the executed copy, for a look after a failure
    with open(report, "w") as handle:
        json.dump(outcome, handle)
    return 0 if outcome["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
