"""Static checks on a rendered project, stored per generation and shown on its page.

They read only the files (never the network, never importing the project), so they are
fast and safe to run on anything an LLM produced. Each check turns its own unexpected
errors into a failed result, so one broken file cannot hide the other findings.
"""

from __future__ import annotations

import ast
import functools
import logging
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import yaml

from crewbuilder.redaction import contains_secret
from generation.analysis import Analysis
from generation.design import PLACEHOLDER, CrewDesign, output_file_problem
from generation.fit import fit_report

logger = logging.getLogger("crewbuilder.generation.checks")
# libyaml's loader when available (~10x faster); same safe constructor either way.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ENTRY_POINTS = ("run", "train", "replay", "test", "run_with_trigger")
PROVIDER_KEY_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


class _Fail(Exception):  # noqa: N818 - internal control flow
    pass


def required_paths(design: CrewDesign) -> list[str]:
    pkg = f"src/{design.name}"
    return [
        "README.md",
        "pyproject.toml",
        ".env.example",
        ".gitignore",
        f"{pkg}/__init__.py",
        f"{pkg}/main.py",
        f"{pkg}/crew.py",
        f"{pkg}/config/agents.yaml",
        f"{pkg}/config/tasks.yaml",
        f"{pkg}/tools/__init__.py",
        f"{pkg}/tools/custom_tool.py",
        "data/README.md",
    ]


class _Project:
    def __init__(self, files: dict[str, str], design: CrewDesign):
        self.files = files
        self.design = design
        self.pkg = f"src/{design.name}"
        self._parsed: dict[tuple[str, str], Any] = {}

    def _memo(self, kind: str, path: str, parse: Callable[[], Any]) -> Any:
        """Parse each file once per run (several checks read the same YAML/AST); a parse
        failure is remembered and re-raised the same way for every check."""
        slot = (kind, path)
        if slot not in self._parsed:
            try:
                self._parsed[slot] = parse()
            except _Fail as exc:
                self._parsed[slot] = exc
        value = self._parsed[slot]
        if isinstance(value, _Fail):
            raise _Fail(str(value))
        return value

    def text(self, path: str) -> str:
        if path not in self.files:
            raise _Fail(f"{path} is missing")
        return self.files[path]

    def yaml_mapping(self, which: str) -> dict:
        path = f"{self.pkg}/config/{which}.yaml"
        return self._memo("yaml", path, lambda: self._yaml_mapping(path, which))

    def _yaml_mapping(self, path: str, which: str) -> dict:
        try:
            data = yaml.load(self.text(path), Loader=SafeLoader)  # noqa: S506 - a safe loader
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark else ""
            raise _Fail(f"{path} does not parse{where}") from None
        if not isinstance(data, dict) or not data:
            raise _Fail(f"{path} must be a non-empty mapping of {which}")
        for key, value in data.items():
            if not isinstance(value, dict):
                raise _Fail(f"{path}: entry {key!r} must be a mapping")
        return data

    def python(self, path: str) -> ast.Module:
        return self._memo("ast", path, lambda: self._python(path))

    def _python(self, path: str) -> ast.Module:
        try:
            return _parse_python(self.text(path), path)
        except SyntaxError as exc:
            raise _Fail(f"{path} does not compile (line {exc.lineno})") from None


@functools.lru_cache(maxsize=256)
def _parse_python(source: str, path: str) -> ast.Module:
    # Cached by content (tool modules repeat across projects); the tree is only read.
    return ast.parse(source, filename=path)


def check_required_files(p: _Project) -> str:
    missing = [path for path in required_paths(p.design) if path not in p.files]
    tests = [
        f for f in p.files if f.startswith("tests/") and f.rsplit("/", 1)[-1].startswith("test_")
    ]
    if not tests:
        missing.append("tests/test_*.py")
    if missing:
        raise _Fail("missing: " + ", ".join(missing))
    return f"all {len(required_paths(p.design)) + 1} required files present"


def check_pyproject(p: _Project) -> str:
    try:
        data = tomllib.loads(p.text("pyproject.toml"))
    except tomllib.TOMLDecodeError as exc:
        raise _Fail(f"pyproject.toml does not parse: {exc}") from None
    crewai_type = data.get("tool", {}).get("crewai", {}).get("type")
    if crewai_type != "crew":
        raise _Fail(f'[tool.crewai] type must be "crew", found {crewai_type!r}')
    project = data.get("project", {})
    deps = project.get("dependencies", [])
    if not any(isinstance(d, str) and d.lower().startswith("crewai") for d in deps):
        raise _Fail("[project] dependencies must include crewai")
    if project.get("name") != p.design.name:
        raise _Fail(f"[project] name must be {p.design.name!r}")
    scripts = project.get("scripts", {})
    if scripts.get("run_crew") != f"{p.design.name}.main:run":
        raise _Fail(f'[project.scripts] run_crew must be "{p.design.name}.main:run"')
    if scripts.get("run_with_trigger") != f"{p.design.name}.main:run_with_trigger":
        raise _Fail(
            f'[project.scripts] run_with_trigger must be "{p.design.name}.main:run_with_trigger"'
        )
    return 'parses; [tool.crewai] type = "crew"; depends on crewai'


def check_yaml(p: _Project) -> str:
    agents = p.yaml_mapping("agents")
    tasks = p.yaml_mapping("tasks")
    for key, value in agents.items():
        for field in ("role", "goal", "backstory"):
            if not isinstance(value.get(field), str) or not value[field].strip():
                raise _Fail(f"agents.yaml: {key} needs a non-empty {field}")
    for key, value in tasks.items():
        for field in ("description", "expected_output"):
            if not isinstance(value.get(field), str) or not value[field].strip():
                raise _Fail(f"tasks.yaml: {key} needs a non-empty {field}")
    return f"agents.yaml ({len(agents)} agents) and tasks.yaml ({len(tasks)} tasks) parse"


def check_task_agents(p: _Project) -> str:
    agents = p.yaml_mapping("agents")
    tasks = p.yaml_mapping("tasks")
    bad = [f"{k} → {v.get('agent')!r}" for k, v in tasks.items() if v.get("agent") not in agents]
    if bad:
        raise _Fail("tasks with an unknown agent: " + ", ".join(bad))
    return "every task's agent is defined in agents.yaml"


def check_task_context(p: _Project) -> str:
    tasks = p.yaml_mapping("tasks")
    seen: list[str] = []
    problems = []
    for key, value in tasks.items():
        context = value.get("context") or []
        if not isinstance(context, list):
            problems.append(f"{key}: context must be a list")
            context = []
        for ref in context:
            if ref == key:
                problems.append(f"{key} depends on itself")
            elif ref not in tasks:
                problems.append(f"{key} → unknown task {ref!r}")
            elif ref not in seen:
                problems.append(f"{key} → {ref} (a later task: cycle or forward reference)")
        seen.append(key)
    if problems:
        raise _Fail("; ".join(problems))
    return "context refers only to earlier tasks (no cycles)"


def _decorator_names(node: ast.FunctionDef | ast.ClassDef) -> set[str]:
    names = set()
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Attribute):
            names.add(target.attr)
    return names


def check_crew_methods(p: _Project) -> str:
    tree = p.python(f"{p.pkg}/crew.py")
    classes = [
        n for n in tree.body if isinstance(n, ast.ClassDef) and "CrewBase" in _decorator_names(n)
    ]
    if len(classes) != 1:
        raise _Fail(f"crew.py must define exactly one @CrewBase class, found {len(classes)}")
    cls = classes[0]
    methods: dict[str, list[str]] = {"agent": [], "task": [], "crew": []}
    for node in cls.body:
        if isinstance(node, ast.FunctionDef):
            for kind in methods.keys() & _decorator_names(node):
                methods[kind].append(node.name)
    problems = []
    for kind, yaml_name in (("agent", "agents"), ("task", "tasks")):
        yaml_keys = list(p.yaml_mapping(yaml_name))
        if sorted(methods[kind]) != sorted(yaml_keys):
            only_code = sorted(set(methods[kind]) - set(yaml_keys))
            only_yaml = sorted(set(yaml_keys) - set(methods[kind]))
            problems.append(
                f"@{kind} methods and {yaml_name}.yaml keys differ"
                + (f"; only in crew.py: {', '.join(only_code)}" if only_code else "")
                + (f"; only in YAML: {', '.join(only_yaml)}" if only_yaml else "")
            )
    if len(methods["crew"]) != 1:
        problems.append("crew.py needs exactly one @crew method")
    if cls.name != p.design.class_name:
        problems.append(f"crew class is {cls.name}, expected {p.design.class_name}")
    if problems:
        raise _Fail("; ".join(problems))
    return (
        f"{cls.name}: {len(methods['agent'])} @agent and {len(methods['task'])} @task methods "
        "match the YAML keys"
    )


@functools.lru_cache(maxsize=512)
def _compile_error(source: str, path: str) -> str | None:
    # Cached by content: tool modules and tests repeat across projects, and compiling is
    # the most expensive check.
    try:
        compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"{path} (line {exc.lineno}: {exc.msg})"
    except ValueError:
        return f"{path} (contains NUL bytes)"
    return None


def check_python_compiles(p: _Project) -> str:
    py = sorted(f for f in p.files if f.endswith(".py"))
    failures = [err for path in py if (err := _compile_error(p.files[path], path))]
    if failures:
        raise _Fail("does not compile: " + ", ".join(failures))
    return f"{len(py)} Python files compile"


def _main_inputs(p: _Project) -> set[str]:
    tree = p.python(f"{p.pkg}/main.py")
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    missing = [f for f in ENTRY_POINTS if f not in functions]
    if missing:
        raise _Fail("main.py lacks entry points: " + ", ".join(missing))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "INPUTS" for t in node.targets)
            and isinstance(node.value, ast.Dict)
        ):
            keys = set()
            for key in node.value.keys:
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    raise _Fail("main.py INPUTS keys must be string literals")
                keys.add(key.value)
            return keys
    raise _Fail("main.py has no INPUTS = {...} dict")


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def check_placeholders(p: _Project) -> str:
    supplied = _main_inputs(p)
    used: set[str] = set()
    for which in ("agents", "tasks"):
        for text in _strings(p.yaml_mapping(which)):
            used.update(PLACEHOLDER.findall(text))
    missing = sorted(used - supplied)
    if missing:
        raise _Fail("not supplied by main.py INPUTS: " + ", ".join("{" + m + "}" for m in missing))
    return f"all {len(used)} placeholders are supplied by main.py INPUTS"


def _env_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            names.add(line.split("=", 1)[0].strip())
    return names


def check_env_example(p: _Project) -> str:
    text = p.text(".env.example")
    names = _env_names(text)
    problems = []
    if "MODEL" not in names:
        problems.append("MODEL")
    if not names & set(PROVIDER_KEY_VARS):
        problems.append("a provider key (OPENAI_API_KEY or ANTHROPIC_API_KEY)")
    problems += [var for var, _ in p.design.env_vars() if var not in names]
    if problems:
        raise _Fail(".env.example does not list: " + ", ".join(problems))
    for line in text.splitlines():
        if not line.lstrip().startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            if name.strip() != "MODEL" and value.strip():
                raise _Fail(f".env.example must leave {name.strip()} empty")
    return f".env.example lists {', '.join(sorted(names))}"


def check_tools(p: _Project) -> str:
    """Every tool the design names is wired: crewai_tools classes imported from
    ``crewai_tools``, the project's own ones defined in ``tools/custom_tool.py`` as
    ``BaseTool`` subclasses with an args schema and ``_run``."""
    crew_tree = p.python(f"{p.pkg}/crew.py")
    tool_tree = p.python(f"{p.pkg}/tools/custom_tool.py")
    defined = {}
    for node in tool_tree.body:
        if isinstance(node, ast.ClassDef):
            bases = {
                b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
            }
            fields = {
                t.target.id
                for t in node.body
                if isinstance(t, ast.AnnAssign) and isinstance(t.target, ast.Name)
            }
            methods = {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
            defined[node.name] = (bases, fields, methods)
    imported_custom: set[str] = set()
    imported_library: set[str] = set()
    for node in crew_tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("tools.custom_tool"):
            imported_custom |= {alias.name for alias in node.names}
        if isinstance(node, ast.ImportFrom) and node.module == "crewai_tools":
            imported_library |= {alias.name for alias in node.names}
    problems = []
    tool_classes = {name for name, (bases, _, _) in defined.items() if "BaseTool" in bases}
    if not tool_classes:
        problems.append("custom_tool.py defines no BaseTool subclass")
    for name in sorted(tool_classes):
        _, fields, methods = defined[name]
        if not {"name", "description", "args_schema"} <= fields or "_run" not in methods:
            problems.append(f"{name} needs name, description, args_schema and _run")
    for name in sorted(imported_custom - tool_classes):
        problems.append(f"crew.py imports {name}, which is not a BaseTool in custom_tool.py")
    for spec in p.design.tools_used():
        where = imported_library if spec.source == "crewai_tools" else imported_custom
        if spec.class_name not in where:
            origin = "crewai_tools" if spec.source == "crewai_tools" else "tools.custom_tool"
            problems.append(f"crew.py does not import {spec.class_name} from {origin}")
    if problems:
        raise _Fail("; ".join(problems))
    return (
        f"{len(imported_library)} crewai_tools and {len(imported_custom)} custom tool classes "
        f"used in crew.py; {len(tool_classes)} BaseTool classes with args schemas"
    )


def check_output_files(p: _Project) -> str:
    """CrewAI writes each task's output_file with LLM text on every run: one that names the
    project's own code (main.py, conftest.py, pyproject.toml) would be executed next run.
    Every output_file, in tasks.yaml and as an ``output_file=`` argument in crew.py, must
    pass the same allow-list as the design (a file under output/)."""
    found: list[tuple[str, object]] = []
    for key, value in p.yaml_mapping("tasks").items():
        if "output_file" in value:
            found.append((f"tasks.yaml {key}", value["output_file"]))
    for node in ast.walk(p.python(f"{p.pkg}/crew.py")):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "output_file":
                    value = kw.value.value if isinstance(kw.value, ast.Constant) else None
                    found.append(("crew.py", value))
    problems = []
    for where, path in found:
        problem = output_file_problem(path) if isinstance(path, str) else "must be a literal string"
        if problem:
            problems.append(f"{where}: output_file {path!r} {problem}")
    if problems:
        raise _Fail("; ".join(problems))
    return f"{len(found)} output file(s), all under output/"


def check_no_secrets(p: _Project) -> str:
    leaking = sorted(path for path, text in p.files.items() if contains_secret(text))
    if ".env" in p.files:
        leaking.append(".env (must not be shipped)")
    if leaking:
        raise _Fail("secret-looking values in: " + ", ".join(leaking))
    return f"no secret-looking values in {len(p.files)} files"


CHECKS: tuple[tuple[str, Callable[[_Project], str]], ...] = (
    ("required_files", check_required_files),
    ("pyproject", check_pyproject),
    ("yaml_parses", check_yaml),
    ("task_agents_exist", check_task_agents),
    ("task_context_order", check_task_context),
    ("crew_methods_match_yaml", check_crew_methods),
    ("python_compiles", check_python_compiles),
    ("placeholders_supplied", check_placeholders),
    ("env_example", check_env_example),
    ("tools_are_classes", check_tools),
    ("no_secrets", check_no_secrets),
    ("output_files_confined", check_output_files),
)


FIT_CHECK = "requirement_fit"


def check_fit(design: CrewDesign, analysis: Analysis) -> CheckResult:
    """Does the design honour every input, service, output, schedule and language the
    requirement named (or declare what it cannot do)? See ``generation/fit.py``."""
    report = fit_report(analysis, design)
    return CheckResult(FIT_CHECK, report.passed, report.summary()[:1000])


def run_checks(
    *, files: dict[str, str], design: CrewDesign, analysis: Analysis | None = None
) -> list[CheckResult]:
    """Every static check, plus the fit check when the requirement's analysis is given."""
    project = _Project(files, design)
    results = []
    for name, fn in CHECKS:
        try:
            results.append(CheckResult(name, True, fn(project)))
        except _Fail as exc:
            results.append(CheckResult(name, False, str(exc)))
        except Exception as exc:  # a malformed project must produce a result, not a crash
            logger.exception("check %s crashed", name)
            results.append(CheckResult(name, False, f"could not run: {type(exc).__name__}"))
    if analysis is not None:
        try:
            results.append(check_fit(design, analysis))
        except Exception as exc:  # same rule: a result, never a crash
            logger.exception("fit check crashed")
            results.append(CheckResult(FIT_CHECK, False, f"could not run: {type(exc).__name__}"))
    return results


def failures(results: list[CheckResult]) -> list[str]:
    """Failed checks as short lines, e.g. to feed back to the designer for a retry."""
    return [f"{r.name}: {r.message}" for r in results if not r.passed]
