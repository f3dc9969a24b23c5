"""Running a validated prompt: schedule, reuse cached results, call node functions, emit events (spec §6)."""

from __future__ import annotations

import asyncio
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from executor import progress
from executor.blocker import ExecutionBlocker
from executor.cache import CacheSettings, OutputCache
from executor.calls import blocker_in, call_arguments, gather_inputs, map_awaiting, run_sync
from executor.dynprompt import DynamicPrompt
from executor.graph_builder import is_link, set_default_prefix
from executor.progress_state import NodeStates
from executor.protocol import ClassInfo, full_type_name, output_is_list
from executor.results import CallResults, collect, merge_outputs
from executor.scheduler import ExecutionList
from executor.signature import Signatures

Emit = Callable[[str, dict], None]


class NodeInputError(Exception):
    """A node asked (through check_lazy_status) for an input it does not have or that is not a link."""


class DuplicateNodeError(Exception):
    """A node expansion used an id that is already in the prompt."""


class DependencyCycleError(Exception):
    """Raised (and reported as `graph.DependencyCycleError`) when expanded nodes wait on each other."""


DependencyCycleError.__module__ = "graph"  # the exception_type ComfyUI reports


@dataclass
class ExecutionResult:
    success: bool
    outputs: dict = field(default_factory=dict)  # node id -> UI dict
    meta: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)  # [event, data] as in ComfyUI's history status
    ran: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    cache_stats: dict = field(default_factory=dict)
    error: dict | None = None
    interrupted: bool = False


def _now_ms() -> int:
    return int(time.time() * 1000)


def _no_events(event: str, data: dict) -> None:
    pass


def _expansion_root(node_id: str, class_type: str) -> str:
    """What keeps the results of a node's expansion: the prompt node's id and class, not its signature, as ComfyUI
    keys its per-parent sub-caches, so they outlive a change to that node's own inputs (classic policy)."""
    return f"expanded-by:{class_type}:{node_id}"


class Executor:
    """Runs prompts one at a time; keeps node instances and the output cache between them."""

    def __init__(self, classes: Mapping[str, type], cache: CacheSettings | None = None, emit: Emit = _no_events):
        self.classes = classes
        self.cache = OutputCache(cache or CacheSettings())
        self.emit = emit
        self._interrupt = threading.Event()
        # node id -> (class, instance, id of the prompt node it belongs to)
        self.instances: dict[str, tuple[type, Any, str]] = {}

    def interrupt(self) -> None:
        """Stop the running prompt before its next node or at the next progress report (thread-safe)."""
        self._interrupt.set()

    def execute(self, prompt: dict, prompt_id: str, extra_data: dict | None = None,
                execute_outputs: list[str] | None = None) -> ExecutionResult:
        return run_sync(self.execute_async(prompt, prompt_id, extra_data, execute_outputs))

    async def execute_async(self, prompt: dict, prompt_id: str, extra_data: dict | None = None,
                            execute_outputs: list[str] | None = None) -> ExecutionResult:
        self._interrupt.clear()
        run = _PromptRun(self, prompt, prompt_id, extra_data or {})
        return await run.execute(execute_outputs)

    def plan(self, prompt: dict, execute_outputs: list[str] | None = None) -> list[str]:
        """The nodes a run of `prompt` would execute now (before lazy inputs and expansion add more); no events."""
        run = _PromptRun(self, prompt, "plan", {})
        run.executor = _Silent(self)
        return run_sync(run.plan(execute_outputs))

    def instance_for(self, node_id: str, cls: type, root: str) -> Any:
        known = self.instances.get(node_id)
        if known is None or known[0] is not cls:
            known = self.instances[node_id] = (cls, cls(), root)
        return known[1]

    def forget_instances(self, keep_roots: set[str]) -> None:
        if self.cache.settings.mode == "none":
            self.instances.clear()
            return
        self.instances = {k: v for k, v in self.instances.items() if v[2] in keep_roots}


class _Silent:
    """An executor seen through a planning run: same cache and classes, events go nowhere."""

    def __init__(self, executor: Executor):
        self.classes, self.cache, self._interrupt = executor.classes, executor.cache, executor._interrupt

    @staticmethod
    def emit(event: str, data: dict) -> None:
        pass


class _Stop(Exception):
    """Ends a prompt: the events are already sent."""


class _PromptRun:
    """The state of one prompt's execution."""

    def __init__(self, executor: Executor, prompt: dict, prompt_id: str, extra_data: dict):
        self.executor = executor
        self.classes = executor.classes
        self.cache = executor.cache
        self.prompt_id = prompt_id
        self.extra_data = extra_data
        self.dynprompt = DynamicPrompt(prompt)
        self.signatures = Signatures(self.dynprompt, self.classes)
        self.values: dict[str, list] = {}  # node id -> one list of items per output
        self.uis: dict[str, dict] = {}
        self.ran: list[str] = []
        self.from_cache: list[str] = []
        self.messages: list = []
        self.blocked_reported = False
        self.pending_expansions: dict[str, list[tuple[dict | None, tuple]]] = {}
        self.pending_tasks: dict[str, list] = {}
        self.wake = asyncio.Event()
        self.node_info: dict[str, ClassInfo] = {}
        self.schedule = ExecutionList(self._is_output, self._is_async)
        self.states = NodeStates(prompt_id, self.dynprompt, lambda event, data: self.executor.emit(event, data))

    # ---- events ---------------------------------------------------------------------------------------------
    def _message(self, event: str, data: dict) -> None:
        """An event that is also kept in the history's status messages (with a timestamp)."""
        data = {**data, "timestamp": _now_ms()}
        self.messages.append([event, data])
        self.executor.emit(event, data)

    def _display(self, node_id: str) -> str:
        return self.dynprompt.get_display_node_id(node_id)

    # ---- classification used by the scheduler ---------------------------------------------------------------
    def _class_type(self, node_id: str) -> str | None:
        return self.dynprompt.get_node(node_id).get("class_type") if self.dynprompt.has_node(node_id) else None

    def _info(self, node_id: str) -> ClassInfo:
        info = self.node_info.get(node_id)
        if info is None:
            info = self.node_info[node_id] = \
                self.signatures.info[self.classes[self.dynprompt.get_node(node_id)["class_type"]]]
        return info

    def _is_output(self, node_id: str) -> bool:
        return self._info(node_id).is_output

    def _is_async(self, node_id: str) -> bool:
        return self._info(node_id).is_async

    # ---- the run ----------------------------------------------------------------------------------------------
    async def plan(self, execute_outputs: list[str] | None) -> list[str]:
        await self.signatures.prepare(list(self.dynprompt.original_prompt), self.extra_data)
        for node_id in self._outputs(execute_outputs):
            self._stage(node_id)
        return list(self.schedule.staged)

    def _outputs(self, execute_outputs: list[str] | None) -> list[str]:
        if execute_outputs is not None:
            return execute_outputs
        return [node_id for node_id, node in self.dynprompt.original_prompt.items()
                if node.get("class_type") in self.classes and self._is_output(node_id)]

    async def execute(self, execute_outputs: list[str] | None) -> ExecutionResult:
        prompt = self.dynprompt.original_prompt
        self._message("execution_start", {"prompt_id": self.prompt_id})
        await self.signatures.prepare(list(prompt), self.extra_data)
        signatures = {node_id: self.signatures.get(node_id) for node_id in prompt}
        roots = {_expansion_root(node_id, node.get("class_type")) for node_id, node in prompt.items()}
        self.cache.begin_prompt(set(signatures.values()) | roots)
        self.executor.forget_instances(set(prompt))
        cached_at_start = [node_id for node_id, s in signatures.items() if s in self.cache]
        self._message("execution_cached", {"nodes": cached_at_start, "prompt_id": self.prompt_id})
        success, error, interrupted = True, None, False
        try:
            for node_id in self._outputs(execute_outputs):
                self._stage_output(node_id)
            await self._loop()
        except _Stop as stop:
            success = False
            error, interrupted = stop.args
            for results in self.pending_tasks.values():  # async nodes still running belong to this prompt
                for task in results:
                    if isinstance(task, asyncio.Task):
                        task.cancel()
        if success:
            self._message("execution_success", {"prompt_id": self.prompt_id})
        self.cache.end_prompt()
        return self._result(success, error, interrupted)

    def _result(self, success: bool, error: dict | None, interrupted: bool) -> ExecutionResult:
        meta = {node_id: {"node_id": node_id, "display_node": self._display(node_id),
                          "parent_node": self.dynprompt.get_parent_node_id(node_id),
                          "real_node_id": self.dynprompt.get_real_node_id(node_id)} for node_id in self.uis}
        stats = {**self.cache.stats(), "ran": len(self.ran), "cached": len(self.from_cache)}
        return ExecutionResult(success, dict(self.uis), meta, self.messages, list(self.ran), list(self.from_cache),
                               stats, error, interrupted)

    async def _loop(self) -> None:
        while self.schedule:
            node_id = self.schedule.next()
            if node_id is None:
                if self.schedule.parked:
                    self.wake.clear()
                    await self.wake.wait()
                    continue
                self._fail_cycle()
            await self._run_node(node_id)

    def _fail_cycle(self) -> None:
        cycle = self.schedule.cycle()
        blamed = next((n for n in cycle if self._display(n) != n), cycle[0])
        try:
            raise DependencyCycleError("Dependency cycle detected")
        except DependencyCycleError as error:
            self._fail(blamed, error, {})

    # ---- staging --------------------------------------------------------------------------------------------
    def _from_cache(self, node_id: str) -> bool:
        """Use a cached result for a node if there is one (True); results are snapshotted for this prompt."""
        if node_id in self.values:
            return True
        entry = self.cache.get(self.signatures.get(node_id))
        if entry is None:
            return False
        self.values[node_id] = entry.outputs
        if entry.ui:
            self.uis[node_id] = entry.ui
        self.from_cache.append(node_id)
        return True

    def _stage(self, node_id: str) -> None:
        """Stage a node and, depth-first, every producer of its non-lazy linked inputs that has no result yet."""
        stack = [node_id]
        while stack:
            current = stack.pop()
            if not self.schedule.stage(current):
                continue
            lazy = self._info(current).lazy
            for name, value in self.dynprompt.get_node(current).get("inputs", {}).items():
                if name not in lazy and is_link(value):
                    self._depend(value[0], current, stack)

    def _stage_output(self, node_id: str) -> None:
        """Stage an output; a prompt that was not validated may name classes or nodes that do not exist."""
        try:
            self._stage(node_id)
        except KeyError as error:
            self._fail(node_id, LookupError(f"cannot plan node {node_id}: {error} is not a registered class or a "
                                            "node of the prompt (was the prompt validated?)"), {})

    def _depend(self, producer: str, consumer: str, stack: list[str]) -> None:
        if producer in self.values or (not self.schedule.is_staged(producer) and self._from_cache(producer)):
            return
        self.schedule.add_dependency(producer, consumer)
        if not self.schedule.is_staged(producer):
            stack.append(producer)

    def _lookup(self, producer: str, index: int) -> list | None:
        outputs = self.values.get(producer)
        if outputs is None or index >= len(outputs):
            return None
        return outputs[index]

    # ---- one node -------------------------------------------------------------------------------------------
    async def _run_node(self, node_id: str) -> None:
        node = self.dynprompt.get_node(node_id)
        inputs: dict = {}
        try:
            cls = self.classes[node["class_type"]]
            if node_id in self.pending_expansions:
                self._finish_expansion(node_id, cls)
                return
            if node_id in self.pending_tasks:
                results = self._task_results(node_id)
            else:
                if self._served_from_cache(node_id):
                    return
                self.states.start(node_id)
                inputs, missing = gather_inputs(node_id, node, cls, self._lookup, self.dynprompt, self.extra_data,
                                                self.signatures.info[cls].declared)
                self.executor.emit("executing", {"node": node_id, "display_node": self._display(node_id),
                                                 "prompt_id": self.prompt_id})
                instance = self.executor.instance_for(node_id, cls, self.dynprompt.get_real_node_id(node_id))
                if await self._needs_lazy_inputs(node_id, node, instance, inputs, missing):
                    return
                results = await self._call(node_id, cls, instance, inputs)
                if any(isinstance(r, asyncio.Task) for r in results):
                    self._park(node_id, results)
                    return
            where = f"node {node_id} ({node['class_type']}).{cls.FUNCTION}"
            await self._store(node_id, collect(cls, results, where))
        except _Stop:
            raise
        except progress.InterruptProcessing:
            self._interrupted(node_id)
        except Exception as error:  # noqa: BLE001 - any node failure ends the prompt with an error event
            self._fail(node_id, error, inputs)

    def _served_from_cache(self, node_id: str) -> bool:
        """A staged node whose result appeared in the cache (an identical branch ran, or a cached output)."""
        if not self._from_cache(node_id):
            return False
        self.executor.emit("executed", {"node": node_id, "display_node": self._display(node_id),
                                        "output": self.uis.get(node_id) or None, "prompt_id": self.prompt_id})
        self.states.finish(node_id)
        self.schedule.complete(node_id)
        return True

    async def _needs_lazy_inputs(self, node_id: str, node: dict, instance: Any, inputs: dict,
                                 missing: set[str]) -> bool:
        """Ask check_lazy_status which lazy inputs it needs; stage their producers and report True if any."""
        if not hasattr(instance, "check_lazy_status"):
            return False
        with progress.installed(self._hook(node_id)):
            self._check_interrupt()
            answers = await map_awaiting(instance.check_lazy_status, inputs,
                                         getattr(type(instance), "INPUT_IS_LIST", False))
        wanted = {name for answer in answers if isinstance(answer, list) for name in answer if isinstance(name, str)}
        wanted = [name for name in wanted if name not in inputs or name in missing]
        if not wanted:
            return False
        stack: list[str] = []
        for name in sorted(wanted):
            value = node.get("inputs", {}).get(name)
            if name not in node.get("inputs", {}):
                raise NodeInputError(f"Node {node_id} says it needs input {name}, but there is no input to that "
                                     "node at all")
            if not is_link(value):
                raise NodeInputError(f"Node {node_id} says it needs input {name}, but that value is a constant")
            self._depend(value[0], node_id, stack)
        for producer in stack:
            self._stage(producer)
        if not self.schedule.waiting.get(node_id):
            return False  # everything asked for is already computed (it may hold no value): run with what is there
        return True

    def _hook(self, node_id: str) -> progress.ProgressHook:
        return progress.ProgressHook(self.prompt_id, node_id, self._display(node_id), self._hook_emit,
                                     self.executor._interrupt, self.dynprompt.get_parent_node_id(node_id),
                                     self.dynprompt.get_real_node_id(node_id))

    def _hook_emit(self, event: str, data: dict) -> None:
        """Events from node code: a step also updates the node's progress state (sent first, as ComfyUI does)."""
        if event == "progress":
            self.states.update(data["node"], data["value"], data["max"])
        self.executor.emit(event, data)

    def _check_interrupt(self) -> None:
        if self.executor._interrupt.is_set():
            self.executor._interrupt.clear()
            raise progress.InterruptProcessing()

    async def _call(self, node_id: str, cls: type, instance: Any, inputs: dict) -> list:
        """Call FUNCTION once per list item with the progress hook installed; coroutines become tasks."""
        function = getattr(instance, cls.FUNCTION)
        input_is_list = getattr(cls, "INPUT_IS_LIST", False)
        hook = self._hook(node_id)
        results: list = []
        for index, arguments in enumerate(call_arguments(inputs, input_is_list)):
            self._check_interrupt()
            blocker = blocker_in(arguments, input_is_list)
            if blocker is not None:
                results.append(self._blocked(node_id, blocker))
                continue
            with progress.installed(hook):
                set_default_prefix(node_id, index, 0)
                value = function(**arguments)
                if asyncio.iscoroutine(value):
                    value = asyncio.ensure_future(value)  # the task keeps this context: hook and id prefix
            if isinstance(value, asyncio.Task):
                await asyncio.sleep(0)  # let it start; a task that finishes at once needs no parking
                if value.done():
                    value = value.result()
            results.append(value)
        return results

    def _blocked(self, node_id: str, blocker: ExecutionBlocker) -> ExecutionBlocker:
        """A blocker with a message is reported once (at its first consumer) and travels on without it."""
        if blocker.message is None:
            return blocker
        self.executor.emit("execution_error", {
            "prompt_id": self.prompt_id, "node_id": node_id, "node_type": self._class_type(node_id),
            "executed": list(self.ran), "exception_message": f"Execution Blocked: {blocker.message}",
            "exception_type": "ExecutionBlocked", "traceback": [], "current_inputs": [], "current_outputs": []})
        return ExecutionBlocker(None)

    def _park(self, node_id: str, results: list) -> None:
        self.pending_tasks[node_id] = results
        self.schedule.park(node_id)
        tasks = [r for r in results if isinstance(r, asyncio.Task)]

        def done(_: asyncio.Task) -> None:
            if all(t.done() for t in tasks):
                self.schedule.unpark(node_id)
                self.wake.set()

        for task in tasks:
            task.add_done_callback(done)

    def _task_results(self, node_id: str) -> list:
        results = self.pending_tasks.pop(node_id)
        return [r.result() if isinstance(r, asyncio.Task) else r for r in results]

    # ---- results --------------------------------------------------------------------------------------------
    async def _store(self, node_id: str, results: CallResults) -> None:
        if results.expansions:
            await self._expand(node_id, results.expansions)
            return
        self._complete(node_id, results.outputs, results.ui)

    def _complete(self, node_id: str, outputs: list, ui: dict) -> None:
        self.values[node_id] = outputs
        signature = self.signatures.get(node_id)
        real = self.dynprompt.get_real_node_id(node_id)
        root = None if real == node_id else _expansion_root(real, self.dynprompt.get_node(real)["class_type"])
        self.cache.set(signature, outputs, ui or None, root)
        self.ran.append(node_id)
        if ui:
            self.uis[node_id] = ui
            self.executor.emit("executed", {"node": node_id, "display_node": self._display(node_id),
                                            "output": ui, "prompt_id": self.prompt_id})
        self.states.finish(node_id)
        self.schedule.complete(node_id)

    async def _expand(self, node_id: str, expansions: list[tuple[dict | None, tuple]]) -> None:
        """Add the returned graphs as ephemeral nodes; the node completes once its result links resolve."""
        added: list[str] = []
        for graph, _ in expansions:
            for new_id, new_node in (graph or {}).items():
                if self.dynprompt.has_node(new_id):
                    raise DuplicateNodeError(f"Attempt to add duplicate node {new_id}. Ensure node ids are unique "
                                             "and deterministic or use graph_utils.GraphBuilder.")
                if new_node.get("class_type") not in self.classes:
                    raise KeyError(f"expanded node {new_id} has unknown class_type {new_node.get('class_type')!r}")
                display = new_node.get("override_display_id", node_id)
                self.dynprompt.add_ephemeral_node(new_id, new_node, node_id, display)
                added.append(new_id)
        await self.signatures.prepare(added, self.extra_data)
        self.pending_expansions[node_id] = expansions
        stack: list[str] = []
        for new_id in added:
            if self._is_output(new_id):
                stack.append(new_id)
        for _, result in expansions:
            for value in result:
                if is_link(value):
                    self._depend(value[0], node_id, stack)
        for new_id in stack:
            self._stage(new_id)
        self.schedule.requeue(node_id)

    def _finish_expansion(self, node_id: str, cls: type) -> None:
        """Complete an expanded node with its result links resolved to the items they now hold."""
        flags = output_is_list(cls)
        calls = []
        for graph, result in self.pending_expansions.pop(node_id):
            if graph is None:
                calls.append(result)
                continue
            resolved = []
            for index, value in enumerate(result):
                if not is_link(value):
                    resolved.append(value)
                    continue
                items = self.values[value[0]][int(value[1])]
                resolved.append(items if (index < len(flags) and flags[index]) or len(items) != 1 else items[0])
            calls.append(tuple(resolved))
        self._complete(node_id, merge_outputs(cls, calls), {})

    # ---- failures ---------------------------------------------------------------------------------------------
    def _interrupted(self, node_id: str) -> None:
        data = {"prompt_id": self.prompt_id, "node_id": node_id, "node_type": self._class_type(node_id),
                "executed": list(self.ran)}
        self._message("execution_interrupted", data)
        raise _Stop(None, True)

    def _fail(self, node_id: str, error: Exception, inputs: dict) -> None:
        data = {"prompt_id": self.prompt_id, "node_id": node_id,
                "node_type": self._class_type(node_id), "executed": list(self.ran),
                "exception_message": str(error), "exception_type": full_type_name(type(error)),
                "traceback": traceback.format_tb(error.__traceback__),
                "current_inputs": {name: [_formatted(v) for v in values] for name, values in inputs.items()},
                "current_outputs": list(self.values)}
        self._message("execution_error", data)
        raise _Stop(data, False)


def _formatted(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)
