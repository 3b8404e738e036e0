"""The one registry of tasks: name -> ``Task``, in the order the command line lists them."""

from __future__ import annotations

from bptt.tasks import adding, addition, copy, mnist, text
from bptt.tasks.task import Task

TASKS: dict[str, Task] = {
    t.name: t for t in (addition.TASK, adding.TASK, copy.TASK, mnist.TASK, text.TASK)
}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"task: expected one of {sorted(TASKS)}, got {name!r}")
    return TASKS[name]
